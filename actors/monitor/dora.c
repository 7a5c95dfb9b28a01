/*
 * dora.c: the four DORA metrics from a repository's git history.
 *
 * Deployments are the merge commits on the first-parent line of the
 * default branch (a merged pull request or `git merge --no-ff`), or the
 * tags matching a pattern, inside the window before "now". A
 * deployment's changes are the commits it brought: M^1..M^2 for a merge,
 * previous-tag..tag for a tag. From them:
 *   - deployment frequency: deployments / window days;
 *   - lead time for changes: deployment time minus each change's author
 *     time, median over the changes;
 *   - change failure rate: failed deployments / deployments, where a
 *     deployment failed when a later commit reverts it or one of its
 *     changes ("This reverts commit <sha>"), when a hotfix deployment (its
 *     branch or subject names hotfix_pattern) follows it within
 *     hotfix_window, or when its pull request carries the incident label
 *     (GitHub data, passed in as PR numbers);
 *   - time to restore: from a failed deployment to the deployment that
 *     carried its revert, its hotfix, or (incident) the next one; median.
 * Each figure is given for every deployment, for those made by ccm's
 * agents (the merged branch starts with agent_branch_prefix, or every
 * change was authored by a configured agent author) and for the rest
 * (people), with the tier of docs/monitor.md. Medians are nearest rank.
 *
 * Blocking: runs git (scan/gitcmd.h). Bounds: MAX_DEPLOYS deployments per
 * window and MAX_CHANGES changes per deployment are read (a report says
 * when it was cut).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actors/monitor/monitor_int.h"
#include "scan/gitcmd.h"

#define MAX_DEPLOYS 2000
#define MAX_CHANGES 2000
#define DAY_S 86400.0
/* Fields and records in git's output: unit and record separators. */
#define FS "%x1f"
#define RS "%x1e"

typedef struct change {
  char sha[41];
  int64_t at; /* author time, unix s */
  bool agent;
} change_t;

typedef struct deploy {
  char sha[41];
  int64_t t;           /* committer time of the merge, or the tag's date */
  char subject[256];   /* merge subject, or the tag name */
  char branch[256];    /* merged branch, "" when unknown */
  uint32_t pr;         /* "Merge pull request #N", 0 none */
  change_t *changes;
  size_t n, cap;
  bool cut;            /* more than MAX_CHANGES */
  bool agent, failed;
  int64_t restored_at; /* 0: not restored (or not failed) */
} deploy_t;

typedef struct dora {
  const monitor_dora_config_t *c;
  const char *dir;
  deploy_t *d;
  size_t n, cap;
  bool cut;
  char *err;
  size_t errlen;
} dora_t;

/* ------------------------------------------------------------ git output */

/* Run git in the repository; *out gets its stdout (free it). */
static int git(dora_t *g, const char *const *args, char **out)
{
  int rc = gitcmd_capture(g->dir, args, 0, 0, out, NULL, g->err, g->errlen);
  if (rc) {
    free(*out);
    *out = NULL;
    return MON_EGIT;
  }
  return 0;
}

/* Split @p rec at unit separators into at most @p max fields. */
static size_t fields(char *rec, char **f, size_t max)
{
  size_t n = 0;
  while (rec && n < max) {
    f[n++] = rec;
    rec = strchr(rec, '\x1f');
    if (rec)
      *rec++ = '\0';
  }
  return n;
}

/* The next record of @p *cursor (leading newlines skipped), or NULL. */
static char *next_record(char **cursor)
{
  char *s = *cursor;
  while (s && (*s == '\n' || *s == '\r'))
    s++;
  if (!s || !*s)
    return NULL;
  char *end = strchr(s, '\x1e');
  if (end)
    *end++ = '\0';
  *cursor = end;
  return s;
}

static bool is_sha(const char *s)
{
  size_t n = 0;
  while (isxdigit((unsigned char)s[n]))
    n++;
  return n == 40;
}

/* ------------------------------------------------------------ deployments */

static bool is_agent_author(const monitor_dora_config_t *c, const char *name,
                            const char *email)
{
  for (size_t i = 0; i < c->n_agent_authors; i++)
    if (!strcasecmp(c->agent_authors[i], name) ||
        !strcasecmp(c->agent_authors[i], email))
      return true;
  return false;
}

/* The merged branch and PR number from a merge subject:
 * "Merge pull request #12 from owner/branch", "Merge branch 'name'". */
static void parse_merge_subject(deploy_t *d)
{
  const char *s = d->subject;
  unsigned pr = 0;
  int used = 0;
  if (sscanf(s, "Merge pull request #%u from %n", &pr, &used) == 1 && used) {
    d->pr = pr;
    const char *slash = strchr(s + used, '/');
    const char *b = slash ? slash + 1 : s + used;
    size_t n = strcspn(b, " ");
    snprintf(d->branch, sizeof d->branch, "%.*s", (int)n, b);
  } else if (!strncmp(s, "Merge branch '", 14)) {
    const char *b = s + 14;
    size_t n = strcspn(b, "'");
    snprintf(d->branch, sizeof d->branch, "%.*s", (int)n, b);
  }
}

static deploy_t *deploy_add(dora_t *g)
{
  if (g->n == MAX_DEPLOYS) {
    g->cut = true;
    return NULL;
  }
  if (!mon__grow(&g->d, &g->cap, g->n, sizeof(*g->d)))
    return NULL;
  deploy_t *d = &g->d[g->n++];
  memset(d, 0, sizeof(*d));
  return d;
}

/* One record of git's output split into fields: 0 goes on, 1 stops,
 * a negative code fails. */
typedef int (*record_fn)(dora_t *g, char **f, size_t n, void *arg);

/* Run git and hand each record (at most four fields) to @p fn. */
static int git_records(dora_t *g, const char *const *args, record_fn fn,
                       void *arg)
{
  char *out, *cur;
  int rc = git(g, args, &out);
  cur = out;
  for (char *rec; !rc && (rec = next_record(&cur));) {
    char *f[4];
    rc = fn(g, f, fields(rec, f, 4), arg);
  }
  free(out);
  return rc > 0 ? 0 : rc;
}

/* sha, author time, author name, author e-mail */
static int on_change(dora_t *g, char **f, size_t n, void *arg)
{
  deploy_t *d = arg;
  if (n != 4 || !is_sha(f[0]))
    return 0;
  if (d->n == MAX_CHANGES) {
    d->cut = true;
    return 1;
  }
  if (!mon__grow(&d->changes, &d->cap, d->n, sizeof(*d->changes)))
    return MON_ENOMEM;
  change_t *ch = &d->changes[d->n++];
  snprintf(ch->sha, sizeof ch->sha, "%s", f[0]);
  ch->at = strtoll(f[1], NULL, 10);
  ch->agent = is_agent_author(g->c, f[2], f[3]);
  return 0;
}

/* Read the changes of @p d: `git log RANGE`. */
static int read_changes(dora_t *g, deploy_t *d, const char *range)
{
  const char *args[] = {"log", "--no-color", "--max-count=2001",
                        "--format=%H" FS "%at" FS "%an" FS "%ae" RS, range,
                        "--", NULL};
  return git_records(g, args, on_change, d);
}

/* sha, committer time, subject of a merge on the first-parent line */
static int on_merge(dora_t *g, char **f, size_t n, void *arg)
{
  (void)arg;
  if (n != 3 || !is_sha(f[0]))
    return 0;
  deploy_t *d = deploy_add(g);
  if (!d)
    return 1;
  snprintf(d->sha, sizeof d->sha, "%s", f[0]);
  d->t = strtoll(f[1], NULL, 10);
  snprintf(d->subject, sizeof d->subject, "%s", f[2]);
  parse_merge_subject(d);
  char range[100];
  snprintf(range, sizeof range, "%s^1..%s^2", d->sha, d->sha);
  return read_changes(g, d, range);
}

/* `git log --since=@S EXTRA... FORMAT BRANCH --` (at most two extra
 * arguments, NULL-terminated). */
static int git_log_since(dora_t *g, int64_t since, const char *const *extra,
                         const char *format, const char *branch,
                         record_fn fn)
{
  char since_arg[48];
  snprintf(since_arg, sizeof since_arg, "--since=@%lld", (long long)since);
  const char *args[9] = {"log", "--no-color", since_arg};
  size_t n = 3;
  for (size_t i = 0; extra[i] && i < 2; i++)
    args[n++] = extra[i];
  args[n++] = format;
  args[n++] = branch;
  args[n++] = "--";
  args[n] = NULL;
  return git_records(g, args, fn, NULL);
}

static int read_merges(dora_t *g, const char *branch, int64_t since)
{
  static const char *const extra[] = {"--first-parent", "--merges", NULL};
  return git_log_since(g, since, extra, "--format=%H" FS "%ct" FS "%s" RS,
                       branch, on_merge);
}

typedef struct tag_walk {
  int64_t since, until;
  char prev[300];
} tag_walk_t;

/* name, creator date, object, peeled object (annotated tags) */
static int on_tag(dora_t *g, char **f, size_t n, void *arg)
{
  tag_walk_t *w = arg;
  if (n < 3)
    return 0;
  int64_t t = strtoll(f[1], NULL, 10);
  char name[256];
  snprintf(name, sizeof name, "%s", f[0]);
  int rc = 0;
  if (t >= w->since && t <= w->until) {
    deploy_t *d = deploy_add(g);
    if (!d)
      return 1;
    const char *commit = n == 4 && is_sha(f[3]) ? f[3] : f[2];
    snprintf(d->sha, sizeof d->sha, "%.40s", commit);
    d->t = t;
    snprintf(d->subject, sizeof d->subject, "%s", name);
    snprintf(d->branch, sizeof d->branch, "%s", name);
    char range[600];
    if (w->prev[0])
      snprintf(range, sizeof range, "%s..%s", w->prev, name);
    else
      snprintf(range, sizeof range, "%s", name);
    rc = read_changes(g, d, range);
  }
  snprintf(w->prev, sizeof w->prev, "%s", name);
  return rc;
}

static int read_tags(dora_t *g, int64_t since, int64_t until)
{
  char pattern[300];
  snprintf(pattern, sizeof pattern, "refs/tags/%s",
           g->c->tag_pattern ? g->c->tag_pattern : "v*");
  const char *args[] = {"for-each-ref", "--sort=creatordate",
                        "--format=%(refname:short)%1f%(creatordate:unix)"
                        "%1f%(objectname)%1f%(*objectname)%1e",
                        pattern, NULL};
  tag_walk_t w = {.since = since, .until = until};
  return git_records(g, args, on_tag, &w);
}

/* ------------------------------------------------------------- failures */

static long deploy_of(const dora_t *g, const char *sha)
{
  for (size_t i = 0; i < g->n; i++) {
    if (!strcmp(g->d[i].sha, sha))
      return (long)i;
    for (size_t j = 0; j < g->d[i].n; j++)
      if (!strcmp(g->d[i].changes[j].sha, sha))
        return (long)i;
  }
  return -1;
}

static void mark_failed(deploy_t *d, int64_t restored_at)
{
  d->failed = true;
  if (restored_at > 0 && restored_at >= d->t &&
      (!d->restored_at || restored_at < d->restored_at))
    d->restored_at = restored_at;
}

/* sha, committer time, message of a commit that reverts something */
static int on_revert(dora_t *g, char **f, size_t n, void *arg)
{
  (void)arg;
  const char *m = n == 3 ? strstr(f[2], "This reverts commit ") : NULL;
  char target[41];
  if (!m || sscanf(m + 20, "%40[0-9a-f]", target) != 1 || !is_sha(target))
    return 0;
  long victim = deploy_of(g, target);
  if (victim < 0)
    return 0;
  long carrier = deploy_of(g, f[0]);
  int64_t restored = carrier >= 0 ? g->d[carrier].t
                                  : strtoll(f[1], NULL, 10);
  mark_failed(&g->d[victim], restored);
  return 0;
}

/* Reverts: "This reverts commit <sha>" in a later commit's message. */
static int find_reverts(dora_t *g, const char *branch, int64_t since)
{
  static const char *const extra[] = {"--grep=This reverts commit", NULL};
  return git_log_since(g, since, extra, "--format=%H" FS "%ct" FS "%B" RS,
                       branch, on_revert);
}

static bool names_hotfix(const deploy_t *d, const char *word)
{
  return strcasestr(d->branch, word) || strcasestr(d->subject, word);
}

static int by_time(const void *a, const void *b)
{
  const deploy_t *x = a, *y = b;
  return (x->t > y->t) - (x->t < y->t);
}

/* Hotfixes and incidents, over the deployments in time order. */
static void find_hotfixes_and_incidents(dora_t *g, const uint32_t *inc,
                                        size_t ninc, unsigned fails)
{
  const char *word = g->c->hotfix_pattern ? g->c->hotfix_pattern : "hotfix";
  int64_t window = (int64_t)(g->c->hotfix_window_ms ? g->c->hotfix_window_ms
                                                    : 24 * 3600 * 1000ull) /
                   1000;
  for (size_t i = 0; i < g->n; i++) {
    deploy_t *d = &g->d[i];
    if ((fails & MON_FAIL_HOTFIX) && i > 0 && names_hotfix(d, word) &&
        d->t - g->d[i - 1].t <= window)
      mark_failed(&g->d[i - 1], d->t);
    for (size_t k = 0; (fails & MON_FAIL_INCIDENT) && d->pr && k < ninc; k++)
      if (inc[k] == d->pr)
        mark_failed(d, i + 1 < g->n ? g->d[i + 1].t : 0);
  }
}

static void classify(dora_t *g)
{
  const char *prefix = g->c->agent_branch_prefix ? g->c->agent_branch_prefix
                                                 : "ccm/";
  for (size_t i = 0; i < g->n; i++) {
    deploy_t *d = &g->d[i];
    bool all_agents = d->n > 0;
    for (size_t j = 0; j < d->n; j++)
      all_agents = all_agents && d->changes[j].agent;
    d->agent = (prefix[0] && !strncmp(d->branch, prefix, strlen(prefix))) ||
               all_agents;
  }
}

/* ---------------------------------------------------------------- report */

/* Tiers after the 2023 Accelerate State of DevOps report (docs/monitor.md
 * closes the gaps between its ranges). */
static const char *tier_frequency(double per_day)
{
  return per_day >= 1 ? "elite" : per_day >= 1 / 7.0 ? "high"
       : per_day >= 1 / 30.0 ? "medium" : "low";
}

static const char *tier_lead_time(double s)
{
  return s < DAY_S ? "elite" : s <= 7 * DAY_S ? "high"
       : s <= 30 * DAY_S ? "medium" : "low";
}

static const char *tier_failure_rate(double r)
{
  return r <= 0.05 ? "elite" : r <= 0.10 ? "high" : r <= 0.15 ? "medium"
                                                              : "low";
}

static const char *tier_restore(double s)
{
  return s < 3600 ? "elite" : s < DAY_S ? "high" : s <= 7 * DAY_S ? "medium"
                                                                  : "low";
}

static int tier_rank(const char *t)
{
  static const char *const order[] = {"low", "medium", "high", "elite"};
  for (int i = 0; i < 4; i++)
    if (t && !strcmp(t, order[i]))
      return i;
  return 4; /* unknown: does not lower the overall tier */
}

static json_t *num_or_null(double v)
{
  return isnan(v) ? json_null() : json_real(v);
}

static json_t *tier_or_null(const char *t)
{
  return t ? json_string(t) : json_null();
}

typedef struct group_acc {
  size_t deploys, failed, changes;
  double *lead, *restore;
  size_t nlead, nrestore;
} group_acc_t;

static int cmp_dbl(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median_of(double *v, size_t n)
{
  qsort(v, n, sizeof(double), cmp_dbl);
  return mon__pct_sorted(v, n, 50);
}

/* One group's figures (-1: all; 0 people; 1 agents). */
static json_t *group_json(const dora_t *g, int which, double days)
{
  size_t nch = 0;
  for (size_t i = 0; i < g->n; i++)
    nch += g->d[i].n;
  group_acc_t a = {0};
  a.lead = malloc((nch + 1) * sizeof(double));
  a.restore = malloc((g->n + 1) * sizeof(double));
  if (!a.lead || !a.restore) {
    free(a.lead);
    free(a.restore);
    return NULL;
  }
  for (size_t i = 0; i < g->n; i++) {
    const deploy_t *d = &g->d[i];
    if (which >= 0 && d->agent != (which == 1))
      continue;
    a.deploys++;
    for (size_t j = 0; j < d->n; j++) {
      double lt = (double)(d->t - d->changes[j].at);
      a.lead[a.nlead++] = lt < 0 ? 0 : lt;
    }
    if (d->failed) {
      a.failed++;
      if (d->restored_at)
        a.restore[a.nrestore++] = (double)(d->restored_at - d->t);
    }
  }
  double freq = a.deploys / days;
  double lead = median_of(a.lead, a.nlead);
  double cfr = a.deploys ? (double)a.failed / (double)a.deploys : NAN;
  double ttr = median_of(a.restore, a.nrestore);
  const char *tf = a.deploys ? tier_frequency(freq) : NULL;
  const char *tl = a.nlead ? tier_lead_time(lead) : NULL;
  const char *tc = a.deploys ? tier_failure_rate(cfr) : NULL;
  const char *tr = a.nrestore ? tier_restore(ttr) : NULL;
  /* Overall: the weakest of the known tiers (none known: null). */
  const char *ts[] = {tf, tl, tc, tr};
  const char *overall = NULL;
  for (int i = 0; i < 4; i++)
    if (ts[i] && (!overall || tier_rank(ts[i]) < tier_rank(overall)))
      overall = ts[i];
  json_t *o = json_pack(
      "{s:I,s:I,s:o,s:o,s:I,s:o,s:o,s:{s:o,s:o,s:o,s:o,s:o}}", "deployments",
      (json_int_t)a.deploys, "changes", (json_int_t)a.nlead,
      "deployment_frequency_per_day", json_real(freq), "lead_time_s",
      num_or_null(lead), "failed_deployments", (json_int_t)a.failed,
      "change_failure_rate", num_or_null(cfr), "time_to_restore_s",
      num_or_null(ttr), "tiers", "deployment_frequency", tier_or_null(tf),
      "lead_time", tier_or_null(tl), "change_failure_rate", tier_or_null(tc),
      "time_to_restore", tier_or_null(tr), "overall", tier_or_null(overall));
  free(a.lead);
  free(a.restore);
  return o;
}

static json_t *deploys_json(const dora_t *g)
{
  json_t *list = json_array();
  /* The newest 100, newest first. */
  for (size_t k = 0; list && k < g->n && k < 100; k++) {
    const deploy_t *d = &g->d[g->n - 1 - k];
    json_t *o = json_pack("{s:s,s:I,s:s,s:b,s:b,s:I}", "sha", d->sha, "at",
                          (json_int_t)d->t * 1000, "subject", d->subject,
                          "agent", d->agent, "failed", d->failed, "changes",
                          (json_int_t)d->n);
    if (o && d->branch[0])
      json_object_set_new(o, "branch", json_string(d->branch));
    if (o && d->pr)
      json_object_set_new(o, "pr", json_integer(d->pr));
    if (o && d->restored_at)
      json_object_set_new(o, "restored_at",
                          json_integer((json_int_t)d->restored_at * 1000));
    if (o)
      json_array_append_new(list, o);
  }
  return list;
}

static json_t *report_json(const dora_t *g, int64_t now_ms, double days,
                           const char *branch)
{
  bool cut = g->cut;
  for (size_t i = 0; i < g->n; i++)
    cut = cut || g->d[i].cut;
  json_t *all = group_json(g, -1, days), *agents = group_json(g, 1, days);
  json_t *people = group_json(g, 0, days);
  json_t *list = deploys_json(g);
  if (!all || !agents || !people || !list) {
    json_decref(all);
    json_decref(agents);
    json_decref(people);
    json_decref(list);
    return NULL;
  }
  return json_pack("{s:I,s:f,s:s,s:s,s:b,s:o,s:o,s:o,s:o}", "as_of",
                   (json_int_t)now_ms, "window_days", days, "deployments_by",
                   g->c->deployments == MON_DEPLOY_TAGS ? "tags" : "merges",
                   "branch", branch, "truncated", cut, "all", all, "agents",
                   agents, "people", people, "recent", list);
}

static void dora_free(dora_t *g)
{
  for (size_t i = 0; i < g->n; i++)
    free(g->d[i].changes);
  free(g->d);
}

int monitor_dora_compute(const char *dir, const monitor_dora_config_t *c,
                         int64_t now_ms, const uint32_t *incident_prs,
                         size_t n_incident, json_t **out, char *err,
                         size_t errlen)
{
  *out = NULL;
  if (!dir || !c)
    return MON_EINVAL;
  char scratch[8];
  dora_t g = {.c = c, .dir = dir, .err = err ? err : scratch,
              .errlen = err ? errlen : sizeof scratch};
  g.err[0] = '\0';
  uint64_t window_ms = c->window_ms ? c->window_ms : 30 * 86400000ull;
  int64_t until = now_ms / 1000;
  int64_t since = until - (int64_t)(window_ms / 1000);
  const char *branch = c->branch ? c->branch : "HEAD";
  unsigned fails = c->failures ? c->failures
                               : MON_FAIL_REVERT | MON_FAIL_HOTFIX |
                                     MON_FAIL_INCIDENT;
  int rc = c->deployments == MON_DEPLOY_TAGS ? read_tags(&g, since, until)
                                             : read_merges(&g, branch, since);
  /* git log --since has no upper bound: drop what is newer than now. */
  size_t keep = 0;
  for (size_t i = 0; i < g.n; i++) {
    if (g.d[i].t <= until)
      g.d[keep++] = g.d[i];
    else
      free(g.d[i].changes);
  }
  g.n = keep;
  if (g.n) /* no deployments: g.d may be NULL */
    qsort(g.d, g.n, sizeof(*g.d), by_time);
  if (!rc && (fails & MON_FAIL_REVERT))
    rc = find_reverts(&g, branch, since);
  if (!rc) {
    find_hotfixes_and_incidents(&g, incident_prs, n_incident, fails);
    classify(&g);
    *out = report_json(&g, now_ms, (double)window_ms / 86400000.0, branch);
    if (!*out)
      rc = MON_ENOMEM;
  }
  dora_free(&g);
  return rc;
}
