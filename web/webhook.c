/*
 * webhook.c: POST /webhooks/github on the control plane. Service thread
 * only (gh_webhook_handle itself is thread-safe).
 *
 * No bearer token: the HMAC of the raw body replaces it. http.c refuses a
 * request without a well-formed X-Hub-Signature-256 (401) before looking
 * at its size (413, webhook_max_body), and reads the body raw whatever
 * its media type. Then github/gh_webhook.h decides: 401 bad signature,
 * 413, 400 malformed, 202 accepted, 202 duplicate (a redelivery, not
 * processed again). No secret configured: every delivery is a 401.
 *
 * The answer is queued first; the event is then handed on without
 * waiting for anyone:
 *   push                 -> a SCAN_REQUEST (WEB_MSG_SCAN) to the actor
 *                           "scanner" for the configured repository whose
 *                           github "owner/name" is the event's repository;
 *   issues labeled with  -> the task of that repository linked to the
 *   "ccm:approved"          issue (task.issue_number) goes to ready, as
 *                           the "run" action does (through the bridge and
 *                           the store actor, which checks the transition);
 *   anything else, or no matching repository, task or scanner: ignored.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "github/gh_webhook.h"
#include "web/web_int.h"

/* The label a human adds to approve a proposal (issue #5). */
#define APPROVED_LABEL "ccm:approved"
/* "sha256=" and 64 hex digits, plus room to notice a longer value. */
#define SIGNATURE_MAX 80
/* GitHub's delivery ids are GUIDs (36); gh_webhook refuses over 96. */
#define DELIVERY_MAX 128
#define EVENT_MAX 64

int web__webhook_init(web_t *w, const char *secret)
{
  gh_webhook_config_t c;
  gh_webhook_config_defaults(&c);
  c.secret = secret;
  c.max_body = w->cfg.webhook_max_body;
  return gh_webhook_new(&c, &w->webhook) ? RT_ENOMEM : 0;
}

void web__webhook_fini(web_t *w)
{
  gh_webhook_free(w->webhook);
  w->webhook = NULL;
}

/* Custom header @p name ("x-...:", lower case) into @p buf; NULL when
 * absent or too long. */
static const char *custom_header(struct lws *wsi, const char *name,
                                 char *buf, size_t cap)
{
  int nlen = (int)strlen(name);
  int len = lws_hdr_custom_length(wsi, name, nlen);
  if (len < 0 || (size_t)len >= cap)
    return NULL;
  if (lws_hdr_custom_copy(wsi, buf, (int)cap, name, nlen) < 0)
    return NULL;
  return buf;
}

bool web__webhook_signed(struct lws *wsi)
{
  char sig[SIGNATURE_MAX];
  const char *s = custom_header(wsi, "x-hub-signature-256:", sig, sizeof sig);
  if (!s || strncmp(s, "sha256=", 7) != 0 || strlen(s) != 7 + 64)
    return false;
  for (const char *p = s + 7; *p; p++)
    if (!isxdigit((unsigned char)*p))
      return false;
  return true;
}

/* ------------------------------------------------------------- answer */

static void answer_error(http_req_t *r, int status)
{
  web_err_t e;
  if (status == 401)
    web__err(&e, 401, "unauthorized", "missing or bad X-Hub-Signature-256");
  else if (status == 413)
    web__err(&e, 413, "too_large", "webhook body too large");
  else
    web__err(&e, 400, "bad_request",
             "X-GitHub-Event missing or the body is not a JSON object");
  web__http_error(r, &e);
}

static void answer_accepted(http_req_t *r, const gh_event_t *ev)
{
  const char *status = ev->duplicate                   ? "duplicate"
                       : ev->kind == GH_EVENT_IGNORED ? "ignored"
                                                       : "accepted";
  web__http_json(r, 202,
                 json_pack("{s:s,s:s}", "status", status, "event",
                           gh_event_kind_name(ev->kind)));
}

/* ------------------------------------------------------ handing it on */

/* The configured repository whose github is @p full_name (GitHub treats
 * owner and name case-insensitively). */
static const web_repo_t *repo_by_github(const web_t *w, const char *full_name)
{
  for (size_t i = 0; full_name && i < w->cfg.n_repos; i++)
    if (w->repos[i].github && strcasecmp(w->repos[i].github, full_name) == 0)
      return &w->repos[i];
  return NULL;
}

static void on_push(web_t *w, const web_repo_t *repo)
{
  json_t *args = json_pack("{s:s}", "repo", repo->id);
  json_t *result = NULL;
  web_err_t e;
  /* No scanner, or a full mailbox: the next periodic scan catches up. */
  if (args)
    web__action_start(w, WEB_ACT_SCAN, NULL, args, WEB_OWNER_HOOK, NULL,
                      NULL, &result, &e);
  json_decref(result);
  json_decref(args);
}

typedef struct issue_lookup {
  uint32_t number;
  char id[WEB__ID_MAX + 1];
} issue_lookup_t;

static int match_issue(const proto_task_t *t, void *arg)
{
  issue_lookup_t *q = arg;
  if (t->issue_number != q->number || !t->id || strlen(t->id) > WEB__ID_MAX)
    return 0;
  strcpy(q->id, t->id);
  return 1;
}

static void on_approved(web_t *w, const web_repo_t *repo, uint32_t number)
{
  issue_lookup_t q = {.number = number};
  store_filter_t f = {.state = -1, .repo = repo->id};
  store_task_foreach(w->store, &f, match_issue, &q);
  if (!q.id[0])
    return; /* no task is linked to that issue */
  json_t *result = NULL;
  web_err_t e;
  /* A task that cannot become ready (running, done, ...) stays as is. */
  web__action_start(w, WEB_ACT_RUN, q.id, NULL, WEB_OWNER_HOOK, NULL, NULL,
                    &result, &e);
  json_decref(result);
}

static void hand_on(web_t *w, const gh_event_t *ev)
{
  if (ev->duplicate)
    return;
  const web_repo_t *repo = repo_by_github(w, ev->repo);
  if (!repo)
    return;
  if (ev->kind == GH_EVENT_PUSH)
    on_push(w, repo);
  else if (ev->kind == GH_EVENT_ISSUES && ev->action && ev->label &&
           ev->number && strcmp(ev->action, "labeled") == 0 &&
           strcmp(ev->label, APPROVED_LABEL) == 0)
    on_approved(w, repo, ev->number);
}

void web__webhook_post(web_t *w, http_req_t *r)
{
  char event[EVENT_MAX], delivery[DELIVERY_MAX], sig[SIGNATURE_MAX];
  gh_webhook_delivery_t d = {
      .event = custom_header(r->wsi, "x-github-event:", event, sizeof event),
      .delivery = custom_header(r->wsi, "x-github-delivery:", delivery,
                                sizeof delivery),
      .signature = custom_header(r->wsi, "x-hub-signature-256:", sig,
                                 sizeof sig),
      .body = r->body.p,
      .len = r->body.len};
  gh_event_t ev;
  int status = gh_webhook_handle(w->webhook, &d, &ev);
  if (status != 202) {
    answer_error(r, status);
    return;
  }
  answer_accepted(r, &ev); /* queued: written once this turn returns */
  hand_on(w, &ev);
  gh_event_fini(&ev);
}
