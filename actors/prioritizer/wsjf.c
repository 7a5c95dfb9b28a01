/* wsjf.c: see wsjf.h. */
#include "actors/prioritizer/wsjf.h"

#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DAY_MS 86400000LL
#define OVERRIDE_PREFIX "prio:"
#define BUMP_MAX 100.0
#define LONG_TEXT 240 /* bytes: a marker this long describes a bigger job */

const char *const prio_input_names[PRIO_NINPUTS] = {
    "value", "time_criticality", "risk_reduction", "job_size"};

/* Base inputs per kind: value, time criticality, risk reduction, size.
 * Secrets are urgent, risky and small; refactors are big; plain TODOs are
 * wishes. Anything else gets the last row. */
static const prio_map_t builtin_kinds[] = {
    {"secret", {6, 9, 10, 2}},   {"bug", {8, 6, 7, 4}},
    {"fixme", {6, 5, 6, 3}},     {"hack", {4, 3, 6, 4}},
    {"xxx", {5, 4, 5, 3}},       {"todo", {4, 2, 2, 3}},
    {"optimize", {4, 2, 2, 5}},  {"refactor", {4, 2, 5, 6}},
    {"issue", {6, 4, 3, 5}},     {"stale-issue", {3, 2, 2, 4}},
    {NULL, {4, 3, 3, 4}},
};

#define U NAN
static const prio_map_t builtin_labels[] = {
    {"security", {U, 2, 3, U}}, {"bug", {2, U, U, U}},
    {"critical", {2, 3, U, U}}, {"urgent", {U, 3, U, U}},
    {"good first issue", {U, U, U, -2}},
};
#undef U

void prio_rules_defaults(prio_rules_t *r)
{
  memset(r, 0, sizeof *r);
  for (int i = 0; i < PRIO_NINPUTS; i++)
    r->weight[i] = 1;
}

/* ---------------------------------------------------------------- why */

typedef struct why_buf {
  char *p;
  size_t cap, len;
} why_buf_t;

static void why_add(why_buf_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void why_add(why_buf_t *w, const char *fmt, ...)
{
  if (!w->p || w->len + 1 >= w->cap)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(w->p + w->len, w->cap - w->len, fmt, ap);
  va_end(ap);
  if (n > 0)
    w->len += (size_t)n < w->cap - w->len ? (size_t)n : w->cap - w->len - 1;
}

/* ------------------------------------------------------------ helpers */

bool prio_glob_match(const char *g, const char *path)
{
  if (!g || !*g || !path)
    return false;
  size_t gl = strlen(g);
  if (g[gl - 1] == '/')
    return strncmp(path, g, gl) == 0;
  if (fnmatch(g, path, 0) == 0)
    return true;
  const char *base = strrchr(path, '/');
  return !strchr(g, '/') && base && fnmatch(g, base + 1, 0) == 0;
}

int32_t prio_days_of_date(const char *s)
{
  int y, m, d;
  char tail;
  if (!s || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 ||
      m > 12 || d < 1 || d > 31 || y < 1970 || y > 9999)
    return -1;
  /* days from civil (proleptic Gregorian), no time zone involved */
  y -= m <= 2;
  int era = y / 400;
  int yoe = y - era * 400;
  int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (int32_t)(era * 146097 + doe - 719468);
}

static const prio_map_t *map_find(const prio_map_t *v, size_t n,
                                  const char *key)
{
  for (size_t i = 0; key && i < n; i++)
    if (v[i].key && !strcasecmp(v[i].key, key))
      return &v[i];
  return NULL;
}

static const prio_map_t *builtin_kind(const char *kind)
{
  size_t i = 0;
  while (builtin_kinds[i].key && (!kind || strcmp(builtin_kinds[i].key, kind)))
    i++;
  return &builtin_kinds[i];
}

/* Add the set inputs of @p m to @p in; true when any was set. */
static bool add_map(double in[PRIO_NINPUTS], const prio_map_t *m)
{
  bool any = false;
  for (int i = 0; i < PRIO_NINPUTS; i++)
    if (!isnan(m->in[i])) {
      in[i] += m->in[i];
      any = true;
    }
  return any;
}

static double clamp10(double v)
{
  return v < 1 ? 1 : v > 10 ? 10 : v;
}

/* The first integer followed by " lines" in @p text, or 0. */
static unsigned lines_in(const char *text)
{
  for (const char *p = text ? text : ""; *p; p++) {
    if (!isdigit((unsigned char)*p) || (p > text && isdigit((unsigned char)p[-1])))
      continue;
    char *end;
    unsigned long n = strtoul(p, &end, 10);
    if (!strncmp(end, " lines", 6))
      return n > 100000 ? 100000 : (unsigned)n;
  }
  return 0;
}

/* ------------------------------------------------------------ overrides */

static int input_index(const char *name, size_t len)
{
  for (int i = 0; i < PRIO_NINPUTS; i++)
    if (strlen(prio_input_names[i]) == len &&
        !strncmp(prio_input_names[i], name, len))
      return i;
  return -1;
}

static bool override_one(const char *label, prio_override_t *o)
{
  size_t pl = strlen(OVERRIDE_PREFIX);
  if (!label || strncmp(label, OVERRIDE_PREFIX, pl) != 0)
    return false;
  const char *name = label + pl, *eq = strchr(name, '=');
  if (!eq || !eq[1])
    return false;
  char *end;
  double v = strtod(eq + 1, &end);
  if (*end || !isfinite(v))
    return false;
  size_t nl = (size_t)(eq - name);
  if (nl == 4 && !strncmp(name, "bump", 4)) {
    if (v < -BUMP_MAX || v > BUMP_MAX)
      return false;
    o->bump = v;
    return true;
  }
  int i = input_index(name, nl);
  if (i < 0 || v < 1 || v > 10)
    return false;
  o->in[i] = v;
  return true;
}

size_t prio_override_parse(const char *const *labels, size_t n,
                           prio_override_t *o)
{
  size_t found = 0;
  for (int i = 0; i < PRIO_NINPUTS; i++)
    o->in[i] = NAN;
  o->bump = 0;
  for (size_t i = 0; i < n; i++)
    found += override_one(labels[i], o);
  return found;
}

/* ---------------------------------------------------------- the score */

static void base_inputs(const prio_rules_t *r, const prio_facts_t *f,
                        double in[PRIO_NINPUTS], why_buf_t *w)
{
  const char *tag_kind = f->tag;
  const prio_map_t *m = map_find(r->kinds, r->nkinds, f->kind);
  if (!m)
    m = map_find(r->kinds, r->nkinds, tag_kind);
  const prio_map_t *b = builtin_kind(f->kind);
  for (int i = 0; i < PRIO_NINPUTS; i++)
    in[i] = m && !isnan(m->in[i]) ? m->in[i] : b->in[i];
  why_add(w, "%s%s", f->kind ? f->kind : "task", m ? " (configured)" : "");
}

static void label_inputs(const prio_rules_t *r, const prio_facts_t *f,
                         double in[PRIO_NINPUTS], why_buf_t *w)
{
  for (size_t i = 0; i < f->nlabels; i++) {
    const char *l = f->labels[i];
    const prio_map_t *m = map_find(r->labels, r->nlabels, l);
    if (!m)
      m = map_find(builtin_labels,
                   sizeof builtin_labels / sizeof *builtin_labels, l);
    if (m && add_map(in, m))
      why_add(w, "; label %s", l);
  }
}

static void path_inputs(const prio_rules_t *r, const prio_facts_t *f,
                        double in[PRIO_NINPUTS], why_buf_t *w)
{
  for (size_t i = 0; f->path && i < r->npaths; i++)
    if (prio_glob_match(r->paths[i].key, f->path)) {
      if (add_map(in, &r->paths[i]))
        why_add(w, "; path %s", r->paths[i].key);
      return;
    }
}

static void time_inputs(const prio_facts_t *f, double in[PRIO_NINPUTS],
                        why_buf_t *w)
{
  int64_t today = f->now_ms / DAY_MS;
  if (f->due_days == PRIO_DUE_PAST) {
    in[PRIO_TIME] = in[PRIO_TIME] > 8 ? in[PRIO_TIME] : 8;
    why_add(w, "; overdue (due date unknown)");
  } else if (f->due_days >= 0) {
    int64_t late = today - f->due_days;
    char date[16];
    time_t t = (time_t)f->due_days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    if (late > 0) {
      double tc = 8 + (double)(late / 30);
      in[PRIO_TIME] = in[PRIO_TIME] > tc ? in[PRIO_TIME] : tc;
      why_add(w, "; overdue %lld d (due %s)", (long long)late, date);
    } else if (late > -14) {
      in[PRIO_TIME] = in[PRIO_TIME] > 6 ? in[PRIO_TIME] : 6;
      why_add(w, "; due soon (due %s)", date);
    } else {
      why_add(w, "; due %s", date);
    }
  }
  if (f->authored_at > 0) {
    int64_t age_days = (f->now_ms / 1000 - f->authored_at) / 86400;
    int plus = age_days >= 730 ? 2 : age_days >= 180 ? 1 : 0;
    in[PRIO_RISK] += plus;
    if (plus)
      why_add(w, "; %lld days old", (long long)age_days);
  }
}

static void work_inputs(const prio_facts_t *f, double in[PRIO_NINPUTS],
                        why_buf_t *w)
{
  if (f->churn > 0) {
    int plus = f->churn >= 20 ? 3 : f->churn >= 5 ? 2 : 1;
    in[PRIO_RISK] += plus;
    why_add(w, "; churn %d commits", (int)f->churn);
  }
  unsigned lines = f->kind && !strcmp(f->kind, "refactor") ? lines_in(f->text)
                                                          : 0;
  if (lines) {
    in[PRIO_SIZE] = 2 + lines / 60.0;
    why_add(w, "; %u lines", lines);
  } else if (f->text && strlen(f->text) > LONG_TEXT) {
    in[PRIO_SIZE] += 1;
  }
  if (f->has_issue) {
    in[PRIO_VALUE] += 1;
    why_add(w, "; linked issue");
  }
}

static double round2(double v)
{
  return round(v * 100) / 100;
}

void prio_score(const prio_rules_t *r, const prio_facts_t *f,
                proto_score_t *out, char *why, size_t whylen)
{
  prio_rules_t defaults;
  if (!r) {
    prio_rules_defaults(&defaults);
    r = &defaults;
  }
  char detail[400];
  why_buf_t w = {detail, sizeof detail, 0};
  detail[0] = '\0';
  double in[PRIO_NINPUTS];
  base_inputs(r, f, in, &w);
  label_inputs(r, f, in, &w);
  path_inputs(r, f, in, &w);
  time_inputs(f, in, &w);
  work_inputs(f, in, &w);
  prio_override_t o;
  size_t n_over = prio_override_parse(f->labels, f->nlabels, &o);
  for (int i = 0; i < PRIO_NINPUTS; i++) {
    in[i] = round2(clamp10(in[i]));
    if (!isnan(o.in[i])) {
      in[i] = o.in[i];
      why_add(&w, "; %s set to %g", prio_input_names[i], o.in[i]);
    }
  }
  double num = r->weight[PRIO_VALUE] * in[PRIO_VALUE] +
               r->weight[PRIO_TIME] * in[PRIO_TIME] +
               r->weight[PRIO_RISK] * in[PRIO_RISK];
  double den = 1 + r->weight[PRIO_SIZE] * (in[PRIO_SIZE] - 1);
  double total = round2(num / (den > 0 ? den : 1) + o.bump);
  if (o.bump != 0)
    why_add(&w, "; bump %+g", o.bump);
  (void)n_over;
  out->value = in[PRIO_VALUE];
  out->time_criticality = in[PRIO_TIME];
  out->risk_reduction = in[PRIO_RISK];
  out->job_size = in[PRIO_SIZE];
  out->total = total;
  if (why && whylen)
    snprintf(why, whylen, "WSJF (%g+%g+%g)/%g = %g: %s", in[PRIO_VALUE],
             in[PRIO_TIME], in[PRIO_RISK], in[PRIO_SIZE], total, detail);
}

/* ------------------------------------------------------------- tasks */

static int32_t due_from_labels(const proto_task_t *t)
{
  for (uint32_t i = 0; i < t->labels.len; i++)
    if (t->labels.items[i] && !strncmp(t->labels.items[i], "due:", 4))
      return prio_days_of_date(t->labels.items[i] + 4);
  return -1;
}

static int32_t due_from_why(const proto_task_t *t)
{
  const char *why = t->score.why;
  if (why && strstr(why, "overdue (due date unknown)"))
    return PRIO_DUE_PAST;
  const char *d = why ? strstr(why, "(due ") : NULL;
  if (!d && why)
    d = strstr(why, "; due ");
  if (d) {
    char date[11];
    snprintf(date, sizeof date, "%.10s", strstr(d, "due ") + 4);
    return prio_days_of_date(date);
  }
  /* scan/rank.h's default rank knew the date but kept only the verdict */
  if (why && !strncmp(why, "default rank:", 13) && strstr(why, "overdue"))
    return PRIO_DUE_PAST;
  return -1;
}

void prio_facts_of_task(const proto_task_t *t, int64_t now_ms,
                        prio_facts_t *f)
{
  memset(f, 0, sizeof *f);
  f->kind = t->kind;
  f->path = t->loc.path;
  f->text = t->text;
  f->labels = (const char *const *)t->labels.items;
  f->nlabels = t->labels.len;
  f->authored_at = t->authored_at;
  f->due_days = due_from_labels(t);
  if (f->due_days < 0)
    f->due_days = due_from_why(t);
  f->churn = -1;
  f->has_issue = t->issue_number != 0;
  f->now_ms = now_ms;
}

double prio_score_finding(const proto_finding_t *fd, int64_t now_ms,
                          char *why, size_t whylen)
{
  prio_facts_t f = {
      .kind = fd->kind, .tag = fd->tag, .path = fd->loc.path,
      .text = fd->text, .authored_at = fd->authored_at, .due_days = -1,
      .churn = -1, .has_issue = fd->issue_ref != 0, .now_ms = now_ms};
  const json_t *due = fd->details ? json_object_get(fd->details, "due") : NULL;
  if (json_is_string(due))
    f.due_days = prio_days_of_date(json_string_value(due));
  proto_score_t s = {0};
  prio_score(NULL, &f, &s, why, whylen);
  return s.total;
}
