/*
 * test_dora.c: DORA metrics from a real git history
 * (actors/monitor/dora.c, monitor_dora_compute).
 *
 * Contract: on the repository that make_dora_repo.sh builds (every date
 * fixed, the table in that script), "now" = T0 + 30 days and a 30-day
 * window, the report gives exactly: merges to main as deployments
 * (6; the one after now and the initial commit are outside), the lead
 * time as the median of every change's deploy-minus-author time, failures
 * from reverts (of a change, of a merge) and from a hotfix within 24 h,
 * time to restore to the revert or the hotfix, the split between ccm's
 * agents (a ccm/ branch, or a configured agent author) and people, and
 * the tiers of docs/monitor.md. Tags mode counts the v* tags instead.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "actors/monitor/monitor.h"
#include "tests/monitor/mon_test.h"

#define T0_MS 1793491200000LL
#define DAY_MS 86400000LL
#define HOUR_S 3600.0

static char *repo;

static void make_repo(void)
{
  repo = tst_tmpdir();
  char path[600];
  snprintf(path, sizeof path, "%s/r", repo);
  mt_make_dora_repo(path);
}

static void drop_repo(void)
{
  tst_rmrf(repo);
  free(repo);
}

TestSuite(dora, .init = make_repo, .fini = drop_repo, .timeout = 60);

static json_t *report(monitor_dora_config_t *c)
{
  char dir[600], err[256] = "";
  snprintf(dir, sizeof dir, "%s/r", repo);
  json_t *r = NULL;
  int rc = monitor_dora_compute(dir, c, T0_MS + 30 * DAY_MS, NULL, 0, &r,
                                err, sizeof err);
  cr_assert_eq(rc, 0, "monitor_dora_compute: %s (%s)", monitor_strerror(rc),
               err);
  cr_assert_not_null(r);
  return r;
}

static double num(json_t *r, const char *group, const char *key)
{
  json_t *v = json_object_get(json_object_get(r, group), key);
  cr_assert(json_is_number(v), "%s.%s is not a number", group, key);
  return json_number_value(v);
}

static const char *tier(json_t *r, const char *group, const char *key)
{
  json_t *t = json_object_get(json_object_get(r, group), "tiers");
  const char *s = json_string_value(json_object_get(t, key));
  cr_assert_not_null(s, "%s.tiers.%s missing", group, key);
  return s;
}

static const char *const agents[] = {"agent@ccm"};

static monitor_dora_config_t merges_config(void)
{
  return (monitor_dora_config_t){.branch = "main",
                                 .agent_authors = agents,
                                 .n_agent_authors = 1};
}

Test(dora, merges_all_figures_exact)
{
  monitor_dora_config_t c = merges_config();
  json_t *r = report(&c);
  cr_assert_str_eq(json_string_value(json_object_get(r, "deployments_by")),
                   "merges");
  cr_assert_eq(num(r, "all", "deployments"), 6);
  cr_assert_float_eq(num(r, "all", "deployment_frequency_per_day"), 0.2,
                     1e-9);
  cr_assert_eq(num(r, "all", "changes"), 7);
  /* 3, 6, 12, 12, 24, 24, 48 h: the 4th of 7 */
  cr_assert_eq(num(r, "all", "lead_time_s"), 12 * HOUR_S);
  cr_assert_eq(num(r, "all", "failed_deployments"), 3);
  cr_assert_float_eq(num(r, "all", "change_failure_rate"), 0.5, 1e-9);
  /* restores 2 h (revert of b1), 4 h (hotfix), 3 h (revert of M6) */
  cr_assert_eq(num(r, "all", "time_to_restore_s"), 3 * HOUR_S);
  cr_assert_str_eq(tier(r, "all", "deployment_frequency"), "high");
  cr_assert_str_eq(tier(r, "all", "lead_time"), "elite");
  cr_assert_str_eq(tier(r, "all", "change_failure_rate"), "low");
  cr_assert_str_eq(tier(r, "all", "time_to_restore"), "high");
  cr_assert_str_eq(tier(r, "all", "overall"), "low");
  json_decref(r);
}

Test(dora, agents_and_people_split)
{
  monitor_dora_config_t c = merges_config();
  json_t *r = report(&c);
  /* agents: M2 (author agent@ccm), M6 (branch ccm/task2) */
  cr_assert_eq(num(r, "agents", "deployments"), 2);
  cr_assert_eq(num(r, "agents", "lead_time_s"), 6 * HOUR_S);
  cr_assert_eq(num(r, "agents", "failed_deployments"), 1);
  cr_assert_eq(num(r, "agents", "time_to_restore_s"), 3 * HOUR_S);
  cr_assert_str_eq(tier(r, "agents", "deployment_frequency"), "medium");
  /* people: M1, M3, M4, M5 */
  cr_assert_eq(num(r, "people", "deployments"), 4);
  cr_assert_eq(num(r, "people", "lead_time_s"), 12 * HOUR_S);
  cr_assert_eq(num(r, "people", "failed_deployments"), 2);
  cr_assert_eq(num(r, "people", "time_to_restore_s"), 2 * HOUR_S);
  json_decref(r);
}

Test(dora, recent_lists_failures_and_restores)
{
  monitor_dora_config_t c = merges_config();
  json_t *r = report(&c);
  json_t *recent = json_object_get(r, "recent");
  cr_assert_eq(json_array_size(recent), 6);
  json_t *newest = json_array_get(recent, 0); /* M6 */
  cr_assert_str_eq(json_string_value(json_object_get(newest, "branch")),
                   "ccm/task2");
  cr_assert(json_is_true(json_object_get(newest, "agent")));
  cr_assert(json_is_true(json_object_get(newest, "failed")));
  cr_assert_eq(json_integer_value(json_object_get(newest, "restored_at")),
               T0_MS + 12 * DAY_MS + 3 * 3600000LL);
  json_t *hotfix = json_array_get(recent, 1); /* M5: not failed itself */
  cr_assert_str_eq(json_string_value(json_object_get(hotfix, "branch")),
                   "hotfix/crash");
  cr_assert(json_is_false(json_object_get(hotfix, "failed")));
  json_decref(r);
}

Test(dora, failure_signals_are_configurable)
{
  monitor_dora_config_t c = merges_config();
  c.failures = MON_FAIL_HOTFIX; /* reverts do not count */
  json_t *r = report(&c);
  cr_assert_eq(num(r, "all", "failed_deployments"), 1);
  cr_assert_eq(num(r, "all", "time_to_restore_s"), 4 * HOUR_S);
  json_decref(r);
  c.failures = MON_FAIL_REVERT;
  c.hotfix_window_ms = 3 * 3600000ull; /* irrelevant without hotfix */
  r = report(&c);
  cr_assert_eq(num(r, "all", "failed_deployments"), 2);
  json_decref(r);
  c.failures = MON_FAIL_HOTFIX;
  c.hotfix_window_ms = 3 * 3600000ull; /* M5 came 4 h after M4 */
  r = report(&c);
  cr_assert_eq(num(r, "all", "failed_deployments"), 0);
  cr_assert(json_is_null(json_object_get(json_object_get(r, "all"),
                                         "time_to_restore_s")));
  json_decref(r);
}

Test(dora, incident_pull_requests_fail_their_deployment)
{
  monitor_dora_config_t c = merges_config();
  c.failures = MON_FAIL_INCIDENT;
  json_t *r = report(&c);
  cr_assert_eq(num(r, "all", "failed_deployments"), 0); /* no GitHub data */
  json_decref(r);
  /* PR #11 (M1) labelled incident: restored by the next deployment, M2,
   * 30 h later; #99 matches no merge. */
  static const uint32_t incidents[] = {99, 11};
  char dir[600], err[256] = "";
  snprintf(dir, sizeof dir, "%s/r", repo);
  cr_assert_eq(monitor_dora_compute(dir, &c, T0_MS + 30 * DAY_MS, incidents,
                                    2, &r, err, sizeof err),
               0, "%s", err);
  cr_assert_eq(num(r, "all", "failed_deployments"), 1);
  cr_assert_eq(num(r, "all", "time_to_restore_s"), 30 * HOUR_S);
  cr_assert_eq(num(r, "people", "failed_deployments"), 1);
  json_t *m1 = json_array_get(json_object_get(r, "recent"), 5);
  cr_assert_eq(json_integer_value(json_object_get(m1, "pr")), 11);
  cr_assert_str_eq(json_string_value(json_object_get(m1, "branch")),
                   "feature/a");
  json_decref(r);
}

Test(dora, tags_mode_counts_matching_tags)
{
  monitor_dora_config_t c = merges_config();
  c.deployments = MON_DEPLOY_TAGS;
  json_t *r = report(&c);
  cr_assert_str_eq(json_string_value(json_object_get(r, "deployments_by")),
                   "tags");
  /* v1.0 v1.1 v1.2 v2.0 (v0.9 is outside the window, other-1 no match) */
  cr_assert_eq(num(r, "all", "deployments"), 4);
  /* v1.1 carries b1 (reverted in v1.2's range), v2.0 carries M6 */
  cr_assert_eq(num(r, "all", "failed_deployments"), 2);
  cr_assert_eq(num(r, "all", "time_to_restore_s"), 2 * HOUR_S);
  json_decref(r);
}

Test(dora, window_excludes_old_deployments)
{
  monitor_dora_config_t c = merges_config();
  c.window_ms = 20 * (uint64_t)DAY_MS; /* from T0+10d: only M6 */
  json_t *r = report(&c);
  cr_assert_eq(num(r, "all", "deployments"), 1);
  cr_assert_float_eq(num(r, "all", "deployment_frequency_per_day"), 0.05,
                     1e-9);
  json_decref(r);
}

Test(dora, not_a_repository_is_an_error)
{
  monitor_dora_config_t c = merges_config();
  json_t *r = NULL;
  char err[256] = "";
  int rc = monitor_dora_compute(repo, &c, T0_MS, NULL, 0, &r, err,
                                sizeof err);
  cr_assert_eq(rc, MON_EGIT);
  cr_assert_null(r);
  cr_assert_neq(err[0], '\0');
}
