/*
 * test_prio_config.c: the priority keys of ccm.yaml (config/schema.c):
 * priority.weights, churn_window, kinds, labels, paths, and a
 * repository's own priority section.
 *
 * Contract: mappings load in file order with NAN for inputs they leave
 * out; kinds take inputs 1-10, labels and paths -9..9; a repository's
 * section keeps NAN weights and an unset window where it says nothing;
 * bad values are errors with their key path.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"

static int load(const char *text, cfg_t *c, cfg_errors_t *e)
{
  return cfg_load_buffer("ccm.yaml", text, strlen(text), c, e);
}

static bool has_error(const cfg_errors_t *e, const char *needle)
{
  for (size_t i = 0; i < e->n; i++)
    if (strstr(e->v[i].message, needle))
      return true;
  return false;
}

Test(prio_config, defaults)
{
  cfg_t c;
  cfg_defaults(&c);
  cr_assert_eq(c.priority.weights.value, 1);
  cr_assert_eq(c.priority.churn_window_ms, 30ull * 86400000);
  cr_assert_eq(c.priority.kinds.n, 0);
  cr_assert_null(c.repos[0].priority);
  cfg_fini(&c);
}

Test(prio_config, mappings_and_repo_section_load)
{
  const char *y =
      "priority:\n"
      "  weights: {value: 2, job_size: 0.5}\n"
      "  churn_window: 14d\n"
      "  kinds:\n"
      "    todo: {value: 3, job_size: 2}\n"
      "    secret: {risk_reduction: 10}\n"
      "  labels:\n"
      "    customer: {value: 2, time_criticality: -1}\n"
      "  paths:\n"
      "    'src/core/': {value: 3}\n"
      "    '*.md': {value: -2}\n"
      "repos:\n"
      "  - path: /tmp\n"
      "    priority:\n"
      "      weights: {risk_reduction: 3}\n"
      "      paths: {'vendor/': {value: -5}}\n"
      "  - path: /srv\n";
  cfg_t c;
  cfg_errors_t e;
  int rc = load(y, &c, &e);
  cr_assert_eq(rc, 0, "%s", e.n ? e.v[0].message : "");
  cr_assert_eq(c.priority.weights.value, 2);
  cr_assert_eq(c.priority.weights.job_size, 0.5);
  cr_assert_eq(c.priority.churn_window_ms, 14ull * 86400000);
  cr_assert_eq(c.priority.kinds.n, 2);
  cr_assert_str_eq(c.priority.kinds.v[0].key, "todo");
  cr_assert_eq(c.priority.kinds.v[0].value, 3);
  cr_assert(isnan(c.priority.kinds.v[0].time_criticality));
  cr_assert_eq(c.priority.kinds.v[0].job_size, 2);
  cr_assert_eq(c.priority.labels.v[0].time_criticality, -1);
  cr_assert_eq(c.priority.paths.n, 2);
  cr_assert_str_eq(c.priority.paths.v[1].key, "*.md");
  const cfg_priority_t *rp = c.repos[0].priority;
  cr_assert_not_null(rp);
  cr_assert_eq(rp->weights.risk_reduction, 3);
  cr_assert(isnan(rp->weights.value));
  cr_assert_eq(rp->churn_window_ms, UINT64_MAX);
  cr_assert_eq(rp->paths.n, 1);
  cr_assert_eq(rp->paths.v[0].value, -5);
  cr_assert_null(c.repos[1].priority);
  cfg_fini(&c);
  cfg_errors_fini(&e);
}

Test(prio_config, churn_window_off)
{
  cfg_t c;
  cfg_errors_t e;
  cr_assert_eq(load("priority: {churn_window: off}\n", &c, &e), 0);
  cr_assert_eq(c.priority.churn_window_ms, 0);
  cfg_fini(&c);
  cfg_errors_fini(&e);
}

Test(prio_config, bad_values_are_errors_with_their_path)
{
  const char *y =
      "priority:\n"
      "  kinds:\n"
      "    todo: {value: 11}\n"
      "    Bad Kind: {value: 2}\n"
      "  labels:\n"
      "    x: {value: 10}\n"
      "    y: {speed: 1}\n"
      "  paths: [a, b]\n"
      "  churn_window: 5\n";
  cfg_t c;
  cfg_errors_t e;
  cr_assert_eq(load(y, &c, &e), CFG_EINVALID);
  cr_assert(has_error(&e, "priority.kinds.todo.value: must be between 1 and 10"));
  cr_assert(has_error(&e, "priority.kinds.Bad Kind"));
  cr_assert(has_error(&e, "priority.labels.x.value: must be between -9 and 9"));
  cr_assert(has_error(&e, "unknown key 'speed'"));
  cr_assert(has_error(&e, "priority.paths: want a map"));
  cr_assert(has_error(&e, "priority.churn_window: a duration needs a unit"));
  cfg_errors_fini(&e);
}
