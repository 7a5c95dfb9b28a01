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
 * The answer is queued first (the payload is checked to be a JSON
 * object, not parsed: gh_webhook_check); the raw delivery then goes, as a
 * GH_MSG_DELIVERY message, to the actor registered as GHEV_NAME
 * (actors/github/events.h), which persists the delivery id and turns
 * pushes into rescans and issue / pull request events into task updates.
 * A redelivery is found in memory or, after a restart, in the store's
 * gh_deliveries database (one read, on a miss of the memory set).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "actors/github/events.h"
#include "github/gh_webhook.h"
#include "web/web_int.h"

/* "sha256=" and 64 hex digits, plus room to notice a longer value. */
#define SIGNATURE_MAX 80
/* GitHub's delivery ids are GUIDs (36); gh_webhook refuses over 96. */
#define DELIVERY_MAX 128
#define EVENT_MAX 64

_Static_assert(GHEV_MSG_SCAN == WEB_MSG_SCAN &&
                   GHEV_MSG_COMMAND == WEB_MSG_COMMAND,
               "the webhook handler sends what the control plane sends");

/* Was @p id accepted before this process started? (the store's
 * gh_deliveries; a store that cannot answer says no) */
static bool accepted_before(void *arg, const char *id)
{
  return store_delivery_get(arg, id, NULL) == 0;
}

int web__webhook_init(web_t *w, const char *secret)
{
  gh_webhook_config_t c;
  gh_webhook_config_defaults(&c);
  c.secret = secret;
  c.was_accepted = w->store ? accepted_before : NULL;
  c.was_accepted_arg = w->store;
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

static void answer_accepted(http_req_t *r, const gh_webhook_verdict_t *v)
{
  const char *status = v->duplicate                   ? "duplicate"
                       : v->kind == GH_EVENT_IGNORED ? "ignored"
                                                      : "accepted";
  web__http_json(r, 202,
                 json_pack("{s:s,s:s}", "status", status, "event",
                           gh_event_kind_name(v->kind)));
}

/* ------------------------------------------------------ handing it on */

/* The raw delivery to the handler (actors/github/events.h), without
 * waiting: it parses the payload there (off this thread), turns pushes
 * into rescans and issue / pull request events into task updates, and
 * persists the delivery id. No handler running, or a full mailbox: the
 * delivery stays acknowledged, unprocessed (counted). */
static void hand_on(web_t *w, const gh_webhook_delivery_t *d,
                    const gh_webhook_verdict_t *v)
{
  if (v->duplicate)
    return;
  rt_actor_t *handler = NULL;
  rt_msg_t *m = NULL;
  if (rt_actor_lookup(w->rt, GHEV_NAME, &handler) != 0 ||
      gh_delivery_msg(d, v->kind != GH_EVENT_IGNORED, &m) != 0 ||
      rt_send(handler, &m) != 0)
    w->webhook_unhandled++;
  rt_msg_free(m);
  rt_actor_release(handler);
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
  gh_webhook_verdict_t v;
  int status = gh_webhook_check(w->webhook, &d, &v);
  if (status != 202) {
    answer_error(r, status);
    return;
  }
  answer_accepted(r, &v); /* queued: written once this turn returns */
  hand_on(w, &d, &v);
}
