/*
 * test_wsjf.c: the score of one task (actors/prioritizer/wsjf.h).
 *
 * Contract: total = (wv*V + wt*T + wr*R) / (1 + wj*(J-1)) + bump, each
 * input 1-10 derived from kind, labels, path globs, due date, age, churn,
 * size and a linked issue; configured mappings win over the built-ins;
 * "prio:" labels (set an input, bump) win over the formula; the why
 * names what contributed.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "actors/prioritizer/wsjf.h"

#define DAY_MS 86400000LL
#define NOW_MS (20000LL * DAY_MS + 3600000) /* 2024-10-04 01:00 UTC */

static prio_facts_t facts(const char *kind)
{
  prio_facts_t f = {.kind = kind, .due_days = -1, .churn = -1,
                    .now_ms = NOW_MS};
  return f;
}

static proto_score_t score(const prio_rules_t *r, const prio_facts_t *f,
                           char *why, size_t n)
{
  proto_score_t s = {0};
  prio_score(r, f, &s, why, n);
  return s;
}

enum { KINDS, LABELS, PATHS };

/* Default rules with one mapping table of @p which. */
static prio_rules_t rules_with(int which, const prio_map_t *v, size_t n)
{
  prio_rules_t r;
  prio_rules_defaults(&r);
  const prio_map_t **table = which == KINDS    ? &r.kinds
                            : which == LABELS ? &r.labels : &r.paths;
  size_t *count = which == KINDS    ? &r.nkinds
                  : which == LABELS ? &r.nlabels : &r.npaths;
  *table = v;
  *count = n;
  return r;
}

Test(wsjf, formula_from_kind_base)
{
  prio_facts_t f = facts("fixme"); /* 6, 5, 6, 3 */
  char why[300];
  proto_score_t s = score(NULL, &f, why, sizeof why);
  cr_assert_eq(s.value, 6);
  cr_assert_eq(s.time_criticality, 5);
  cr_assert_eq(s.risk_reduction, 6);
  cr_assert_eq(s.job_size, 3);
  cr_assert_float_eq(s.total, round((6 + 5 + 6) / 3.0 * 100) / 100, 1e-9);
  cr_assert(strstr(why, "WSJF (6+5+6)/3"), "%s", why);
  cr_assert(strstr(why, "fixme"), "%s", why);
}

Test(wsjf, secret_outranks_todo)
{
  prio_facts_t a = facts("secret"), b = facts("todo");
  cr_assert_gt(score(NULL, &a, NULL, 0).total, score(NULL, &b, NULL, 0).total);
}

Test(wsjf, weights_scale_inputs_and_size_weight_zero_ignores_size)
{
  prio_rules_t r;
  prio_rules_defaults(&r);
  r.weight[PRIO_VALUE] = 2;
  r.weight[PRIO_SIZE] = 0;
  prio_facts_t f = facts("fixme");
  proto_score_t s = score(&r, &f, NULL, 0);
  cr_assert_float_eq(s.total, 2 * 6 + 5 + 6, 1e-9);
}

Test(wsjf, configured_kind_overrides_builtin_per_input)
{
  prio_map_t kinds[] = {{"todo", {9, NAN, NAN, 1}}};
  prio_rules_t r = rules_with(KINDS, kinds, 1);
  prio_facts_t f = facts("todo"); /* built-in 4, 2, 2, 3 */
  char why[300];
  proto_score_t s = score(&r, &f, why, sizeof why);
  cr_assert_eq(s.value, 9);
  cr_assert_eq(s.time_criticality, 2);
  cr_assert_eq(s.job_size, 1);
  cr_assert_float_eq(s.total, 9 + 2 + 2, 1e-9);
  cr_assert(strstr(why, "configured"), "%s", why);
}

Test(wsjf, kind_mapping_found_by_tag_too)
{
  prio_map_t kinds[] = {{"SECURITY", {10, 10, 10, 1}}};
  prio_rules_t r = rules_with(KINDS, kinds, 1);
  prio_facts_t f = facts("custom");
  f.tag = "SECURITY";
  cr_assert_float_eq(score(&r, &f, NULL, 0).total, 30, 1e-9);
}

Test(wsjf, labels_add_configured_and_builtin)
{
  prio_map_t labels[] = {{"customer", {3, NAN, NAN, NAN}}};
  prio_rules_t r = rules_with(LABELS, labels, 1);
  const char *ls[] = {"customer", "security", "unmapped"};
  prio_facts_t f = facts("todo"); /* 4, 2, 2, 3 */
  f.labels = ls;
  f.nlabels = 3;
  char why[300];
  proto_score_t s = score(&r, &f, why, sizeof why);
  cr_assert_eq(s.value, 7);
  cr_assert_eq(s.time_criticality, 4); /* security: +2 */
  cr_assert_eq(s.risk_reduction, 5);   /* security: +3 */
  cr_assert(strstr(why, "label customer") && strstr(why, "label security"),
            "%s", why);
  cr_assert_null(strstr(why, "unmapped"), "%s", why);
}

Test(wsjf, first_matching_path_glob_adds)
{
  prio_map_t paths[] = {{"src/core/", {3, NAN, NAN, NAN}},
                        {"*.c", {1, NAN, NAN, NAN}},
                        {"docs/**", {-3, NAN, NAN, NAN}}};
  prio_rules_t r = rules_with(PATHS, paths, 3);
  prio_facts_t f = facts("todo"); /* value 4 */
  f.path = "src/core/x.c";
  cr_assert_eq(score(&r, &f, NULL, 0).value, 7); /* first glob only */
  f.path = "lib/y.c";
  cr_assert_eq(score(&r, &f, NULL, 0).value, 5);
  f.path = "docs/a/b.md";
  cr_assert_eq(score(&r, &f, NULL, 0).value, 1);
  f.path = "other.h";
  cr_assert_eq(score(&r, &f, NULL, 0).value, 4);
}

Test(wsjf, globs)
{
  cr_assert(prio_glob_match("src/", "src/a/b.c"));
  cr_assert_not(prio_glob_match("src/", "srcx/a.c"));
  cr_assert(prio_glob_match("*.c", "a/b/c.c"));
  cr_assert(prio_glob_match("src/*.c", "src/a/b.c")); /* '*' crosses '/' */
  cr_assert_not(prio_glob_match("src/*.c", "lib/a.c"));
  cr_assert_not(prio_glob_match("", "a"));
}

Test(wsjf, overdue_raises_time_criticality_with_lateness)
{
  prio_facts_t f = facts("todo"); /* T 2 */
  f.due_days = (int32_t)(NOW_MS / DAY_MS) - 10;
  char why[300];
  proto_score_t s = score(NULL, &f, why, sizeof why);
  cr_assert_eq(s.time_criticality, 8);
  cr_assert(strstr(why, "overdue 10 d (due 2024-09-24)"), "%s", why);
  f.due_days = (int32_t)(NOW_MS / DAY_MS) - 75;
  cr_assert_eq(score(NULL, &f, NULL, 0).time_criticality, 10);
  f.due_days = (int32_t)(NOW_MS / DAY_MS) + 5;
  cr_assert_eq(score(NULL, &f, NULL, 0).time_criticality, 6);
  f.due_days = (int32_t)(NOW_MS / DAY_MS) + 60;
  cr_assert_eq(score(NULL, &f, NULL, 0).time_criticality, 2);
}

Test(wsjf, age_and_churn_raise_risk)
{
  prio_facts_t f = facts("todo"); /* R 2 */
  f.authored_at = NOW_MS / 1000 - 200 * 86400;
  cr_assert_eq(score(NULL, &f, NULL, 0).risk_reduction, 3);
  f.authored_at = NOW_MS / 1000 - 800 * 86400;
  cr_assert_eq(score(NULL, &f, NULL, 0).risk_reduction, 4);
  f.authored_at = 0;
  int32_t churn[] = {0, 1, 5, 20};
  double want[] = {2, 3, 4, 5};
  for (int i = 0; i < 4; i++) {
    f.churn = churn[i];
    char why[300];
    cr_assert_eq(score(NULL, &f, why, sizeof why).risk_reduction, want[i],
                 "churn %d", churn[i]);
    if (churn[i])
      cr_assert(strstr(why, "churn"), "%s", why);
  }
}

Test(wsjf, refactor_size_from_its_lines_and_issue_adds_value)
{
  prio_facts_t f = facts("refactor");
  f.text = "parse: 300 lines > 80; complexity 20 > 15";
  char why[300];
  proto_score_t s = score(NULL, &f, why, sizeof why);
  cr_assert_eq(s.job_size, 7); /* 2 + 300/60 */
  cr_assert(strstr(why, "300 lines"), "%s", why);
  f.text = "file: 5000 lines > 1000";
  cr_assert_eq(score(NULL, &f, NULL, 0).job_size, 10); /* clamped */
  prio_facts_t t = facts("todo");
  t.has_issue = true;
  cr_assert_eq(score(NULL, &t, NULL, 0).value, 5);
}

Test(wsjf, inputs_are_clamped)
{
  prio_map_t labels[] = {{"big", {9, 9, 9, -9}}};
  prio_rules_t r = rules_with(LABELS, labels, 1);
  const char *ls[] = {"big"};
  prio_facts_t f = facts("secret");
  f.labels = ls;
  f.nlabels = 1;
  proto_score_t s = score(&r, &f, NULL, 0);
  cr_assert_eq(s.value, 10);
  cr_assert_eq(s.job_size, 1);
  cr_assert_float_eq(s.total, 30, 1e-9);
}

Test(wsjf, overrides_win_over_formula)
{
  prio_map_t kinds[] = {{"todo", {9, 9, 9, 9}}};
  prio_rules_t r = rules_with(KINDS, kinds, 1);
  const char *ls[] = {"prio:value=2", "prio:job_size=1", "prio:bump=-1.5",
                      "prio:value=oops", "prio:risk_reduction=11"};
  prio_facts_t f = facts("todo");
  f.labels = ls;
  f.nlabels = 5;
  char why[300];
  proto_score_t s = score(&r, &f, why, sizeof why);
  cr_assert_eq(s.value, 2);
  cr_assert_eq(s.job_size, 1);
  cr_assert_eq(s.risk_reduction, 9); /* 11 is out of range: ignored */
  cr_assert_float_eq(s.total, 2 + 9 + 9 - 1.5, 1e-9);
  cr_assert(strstr(why, "value set to 2") && strstr(why, "bump -1.5"), "%s",
            why);
}

Test(wsjf, override_parse)
{
  const char *ls[] = {"bug", "prio:bump=3", "prio:time_criticality=7",
                      "prio:bump=500", "prio:nope=1", "prio:value="};
  prio_override_t o;
  cr_assert_eq(prio_override_parse(ls, 6, &o), 2);
  cr_assert_eq(o.bump, 3);
  cr_assert_eq(o.in[PRIO_TIME], 7);
  cr_assert(isnan(o.in[PRIO_VALUE]));
}

Test(wsjf, dates)
{
  cr_assert_eq(prio_days_of_date("1970-01-01"), 0);
  cr_assert_eq(prio_days_of_date("2024-10-04"), 20000);
  cr_assert_eq(prio_days_of_date("2000-03-01"), 11017);
  cr_assert_eq(prio_days_of_date("2024-13-01"), -1);
  cr_assert_eq(prio_days_of_date("2024-10-04x"), -1);
  cr_assert_eq(prio_days_of_date(NULL), -1);
}

Test(wsjf, task_facts_take_due_from_label_then_previous_why)
{
  proto_task_t t = {.id = "a", .repo = "r", .kind = "todo"};
  char *labels[] = {"due:2024-09-01"};
  t.labels = (proto_string_list_t){labels, 1};
  prio_facts_t f;
  prio_facts_of_task(&t, NOW_MS, &f);
  cr_assert_eq(f.due_days, prio_days_of_date("2024-09-01"));
  t.labels.len = 0;
  t.score.why = "WSJF (4+8+2)/3 = 4.67: todo; overdue 3 d (due 2024-10-01)";
  prio_facts_of_task(&t, NOW_MS, &f);
  cr_assert_eq(f.due_days, prio_days_of_date("2024-10-01"));
  t.score.why = "default rank: todo 5, overdue +2";
  prio_facts_of_task(&t, NOW_MS, &f);
  cr_assert_eq(f.due_days, PRIO_DUE_PAST);
  char why[300];
  proto_score_t s = score(NULL, &f, why, sizeof why);
  cr_assert_eq(s.time_criticality, 8);
  t.score.why = why; /* the verdict survives the next rescore */
  prio_facts_of_task(&t, NOW_MS, &f);
  cr_assert_eq(f.due_days, PRIO_DUE_PAST, "%s", why);
  t.score.why = "default rank: todo 5";
  prio_facts_of_task(&t, NOW_MS, &f);
  cr_assert_eq(f.due_days, -1);
}

Test(wsjf, finding_score_uses_its_due_date)
{
  proto_finding_t fd = {.repo = "r", .kind = "todo", .fingerprint = "x"};
  double plain = prio_score_finding(&fd, NOW_MS, NULL, 0);
  fd.details = json_pack("{s:s}", "due", "2024-01-01");
  char why[300];
  double late = prio_score_finding(&fd, NOW_MS, why, sizeof why);
  json_decref(fd.details);
  cr_assert_gt(late, plain);
  cr_assert(strstr(why, "overdue"), "%s", why);
}
