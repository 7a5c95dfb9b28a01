/*
 * discovery.c: issues -> findings with activity-typed staleness
 * (discovery.h). One pass over the activities keeps the latest human one;
 * the sentence is built from it. The fingerprint is scan/'s formula with
 * path "owner/name#N" and key "issue", so an issue keeps one task for
 * ever (its title may change, its number does not, and its kind moves
 * between issue and stale-issue).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/github/discovery.h"
#include "scan/fingerprint.h"

#define DAY 86400

/* Events that are not someone doing something on the issue. */
static const char *const passive_kinds[] = {
    "subscribed", "unsubscribed", "mentioned", "comment_deleted",
    "automatic_base_change_succeeded", "automatic_base_change_failed",
};

static bool in_list(const char *s, const char *const *v, size_t n)
{
  for (size_t i = 0; s && i < n; i++)
    if (v[i] && strcmp(s, v[i]) == 0)
      return true;
  return false;
}

/* Is @p login (flagged a bot or not by GitHub) a human other than ccm? */
static bool human(const char *login, bool bot, const ghd_policy_t *p)
{
  if (!login || !*login || bot || gh_user_is_bot(login, NULL))
    return false;
  if (p->self_login && strcmp(login, p->self_login) == 0)
    return false;
  return !in_list(login, p->ignore_logins, p->n_ignore);
}

static void note(ghd_staleness_t *o, const char *who, const char *kind,
                 int64_t at)
{
  if (at <= o->last_human_at)
    return;
  o->last_human_at = at;
  snprintf(o->last_human, sizeof(o->last_human), "%s", who);
  snprintf(o->last_kind, sizeof(o->last_kind), "%s", kind ? kind : "acted");
}

static void date_of(int64_t t, char *buf, size_t cap)
{
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(buf, cap, "%Y-%m-%d", &tm);
}

void ghd_staleness_eval(const gh_issue_t *issue, const gh_activity_t *acts,
                        size_t n, const ghd_policy_t *p, int64_t now,
                        ghd_staleness_t *out)
{
  memset(out, 0, sizeof(*out));
  unsigned days = p->stale_days ? p->stale_days : 30;
  if (human(issue->author, issue->author_bot, p))
    note(out, issue->author, "opened", issue->created_at);
  for (size_t i = 0; i < n; i++) {
    const gh_activity_t *a = &acts[i];
    if (a->at && human(a->actor, a->actor_bot, p) &&
        !in_list(a->kind, passive_kinds,
                 sizeof(passive_kinds) / sizeof(passive_kinds[0])))
      note(out, a->actor, a->kind, a->at);
  }
  for (size_t i = 0; i < issue->n_labels; i++)
    if (in_list(issue->labels[i], p->exempt_labels, p->n_exempt)) {
      out->exempt = true;
      snprintf(out->why, sizeof(out->why), "exempt from staleness (label %s)",
               issue->labels[i]);
      break;
    }
  /* no human ever acted: idle since the issue exists */
  int64_t since = out->last_human_at ? out->last_human_at : issue->created_at;
  out->idle_days = since && now > since ? (now - since) / DAY : 0;
  out->stale = !out->exempt && since && now - since >= (int64_t)days * DAY;
  if (out->exempt)
    return;
  char date[16] = "";
  date_of(since, date, sizeof(date));
  if (out->stale && out->last_human_at)
    snprintf(out->stale_why, sizeof(out->stale_why),
             "no human activity since %s (%s by %s)", date, out->last_kind,
             out->last_human);
  else if (out->stale)
    snprintf(out->stale_why, sizeof(out->stale_why),
             "no human activity since it was opened on %s", date);
  if (out->last_human_at) {
    snprintf(out->why, sizeof(out->why),
             "%s: last human activity %s by %s on %s (%lld days ago, "
             "threshold %u)",
             out->stale ? "stale" : "active", out->last_kind,
             out->last_human, date, (long long)out->idle_days, days);
  } else {
    snprintf(out->why, sizeof(out->why),
             "%s: no human activity since it was opened %lld days ago "
             "(threshold %u)",
             out->stale ? "stale" : "active", (long long)out->idle_days, days);
  }
}

static json_t *strings(char *const *v, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

static json_t *details(const gh_issue_t *i, const ghd_staleness_t *s)
{
  json_t *d = json_pack("{s:b,s:b,s:I,s:I,s:s,s:o,s:o}", "stale", s->stale,
                        "exempt", s->exempt, "last_human_at",
                        (json_int_t)s->last_human_at, "idle_days",
                        (json_int_t)s->idle_days, "why", s->why, "labels",
                        strings(i->labels, i->n_labels), "assignees",
                        strings(i->assignees, i->n_assignees));
  if (d && s->last_human[0]) {
    json_object_set_new(d, "last_human", json_string(s->last_human));
    json_object_set_new(d, "last_kind", json_string(s->last_kind));
  }
  if (d && i->author_association)
    json_object_set_new(d, "author_association",
                        json_string(i->author_association));
  if (d && i->html_url)
    json_object_set_new(d, "html_url", json_string(i->html_url));
  if (d && i->updated_at)
    json_object_set_new(d, "updated_at", json_integer(i->updated_at));
  return d;
}

static char *dup(const char *s)
{
  return s ? strdup(s) : NULL;
}

int ghd_issue_finding(const char *repo_id, const char *gh_repo,
                      const gh_issue_t *issue, const ghd_staleness_t *s,
                      proto_finding_t *out)
{
  memset(out, 0, sizeof(*out));
  if (!repo_id || !gh_repo_valid(gh_repo) || !issue->number ||
      issue->is_pull_request)
    return GH_EINVAL;
  char path[160], fp[SCAN_FP_HEX + 1];
  snprintf(path, sizeof(path), "%s#%u", gh_repo, issue->number);
  scan_fingerprint(fp, repo_id, "issue", path, "issue", 5, 0);
  out->repo = strdup(repo_id);
  out->kind = strdup(s->stale ? "stale-issue" : "issue");
  out->tag = strdup("ISSUE");
  out->loc.path = strdup(path);
  out->text = dup(issue->title ? issue->title : "");
  out->author = dup(issue->author);
  out->authored_at = issue->created_at;
  out->issue_ref = issue->number;
  out->fingerprint = strdup(fp);
  out->details = details(issue, s);
  if (!out->repo || !out->kind || !out->tag || !out->loc.path || !out->text ||
      (issue->author && !out->author) || !out->fingerprint || !out->details) {
    ghd_finding_fini(out);
    return GH_ENOMEM;
  }
  return 0;
}

void ghd_finding_fini(proto_finding_t *f)
{
  proto_msg_t m = {.type = PROTO_FINDING};
  m.u.finding = *f;
  proto_msg_fini(&m);
  memset(f, 0, sizeof(*f));
}
