/*
 * test_parts.c: the monitor's pure parts (monitor_int.h): rings and
 * percentiles, handler-time quantiles, alert rules, what log events mean,
 * webhook bodies, signatures and the retry schedule.
 *
 * Contract: percentiles are nearest rank over the newest values only;
 * a rule fires once after holding for `for`, resolves once, and ignores
 * unknown values; task.created is a task seen new for the first time and
 * executor outcomes are completed/failed (dry runs are neither); the
 * signature is RFC 4231's HMAC-SHA256; retries back off exponentially
 * with jitter between half and all of the delay, capped.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "actors/monitor/monitor_int.h"

TestSuite(monitor_parts, .timeout = 30);

Test(monitor_parts, ring_percentiles_nearest_rank)
{
  mon_ring_t r;
  mon__ring_init(&r, 100);
  for (int i = 100; i >= 1; i--)
    mon__ring_push(&r, i);
  double p[3];
  mon__ring_pcts(&r, p);
  cr_assert_eq(p[0], 50);
  cr_assert_eq(p[1], 95);
  cr_assert_eq(p[2], 99);
  cr_assert_eq(mon__ring_last(&r), 1);
  cr_assert_float_eq(mon__ring_mean(&r), 50.5, 1e-9);
}

Test(monitor_parts, ring_keeps_only_the_newest)
{
  mon_ring_t r;
  mon__ring_init(&r, 4);
  for (int i = 1; i <= 10; i++)
    mon__ring_push(&r, i * 10);
  double p[3];
  mon__ring_pcts(&r, p); /* holds 70 80 90 100 */
  cr_assert_eq(p[0], 80);
  cr_assert_eq(p[2], 100);
  cr_assert_float_eq(mon__ring_mean(&r), 85, 1e-9);
  mon_ring_t e;
  mon__ring_init(&e, 4);
  mon__ring_pcts(&e, p);
  cr_assert(isnan(p[0]) && isnan(mon__ring_last(&e)));
}

Test(monitor_parts, handler_quantiles_from_log2_buckets)
{
  uint64_t h[32] = {0};
  h[10] = 90; /* ~1 us */
  h[20] = 10; /* ~1 ms */
  double p50 = mon__hist_quantile(h, 32, 0.50);
  double p99 = mon__hist_quantile(h, 32, 0.99);
  cr_assert(p50 >= 1024e-9 && p50 < 2048e-9, "p50 %g", p50);
  cr_assert(p99 >= 1048576e-9 && p99 < 2097152e-9, "p99 %g", p99);
  uint64_t z[32] = {0};
  cr_assert(isnan(mon__hist_quantile(z, 32, 0.5)));
}

static cfg_alert_t rule(cfg_op_t op, double threshold, uint64_t for_ms)
{
  return (cfg_alert_t){.name = "r", .metric = CFG_METRIC_QUEUE_DEPTH,
                       .op = op, .threshold = threshold, .for_ms = for_ms};
}

Test(monitor_parts, alert_fires_after_for_then_resolves_once)
{
  cfg_alert_t a = rule(CFG_OP_GT, 10, 5000);
  mon_alert_state_t st = {0};
  cr_assert_eq(mon__alert_eval(&a, &st, 11, 1000), MON_ALERT_NONE);
  cr_assert_eq(mon__alert_eval(&a, &st, 12, 5999), MON_ALERT_NONE);
  cr_assert_eq(mon__alert_eval(&a, &st, 12, 6000), MON_ALERT_FIRED);
  cr_assert_eq(mon__alert_eval(&a, &st, 13, 7000), MON_ALERT_NONE);
  cr_assert_eq(mon__alert_eval(&a, &st, NAN, 8000), MON_ALERT_NONE);
  cr_assert(st.firing);
  cr_assert_eq(mon__alert_eval(&a, &st, 10, 9000), MON_ALERT_RESOLVED);
  cr_assert_eq(mon__alert_eval(&a, &st, 9, 10000), MON_ALERT_NONE);
}

Test(monitor_parts, alert_pending_interrupted_starts_over)
{
  cfg_alert_t a = rule(CFG_OP_LT, 100, 1000);
  mon_alert_state_t st = {0};
  cr_assert_eq(mon__alert_eval(&a, &st, 50, 0), MON_ALERT_NONE);
  cr_assert_eq(mon__alert_eval(&a, &st, 150, 500), MON_ALERT_NONE);
  cr_assert_eq(mon__alert_eval(&a, &st, 50, 900), MON_ALERT_NONE);
  cr_assert_eq(mon__alert_eval(&a, &st, 50, 1800), MON_ALERT_NONE);
  cr_assert_eq(mon__alert_eval(&a, &st, 50, 1900), MON_ALERT_FIRED);
  cfg_alert_t now = rule(CFG_OP_GE, 1, 0);
  mon_alert_state_t s2 = {0};
  cr_assert_eq(mon__alert_eval(&now, &s2, 1, 5), MON_ALERT_FIRED);
}

Test(monitor_parts, alert_event_fields)
{
  cfg_alert_t a = rule(CFG_OP_GT, 10, 0);
  json_t *j = mon__alert_json(&a, MON_ALERT_FIRED, 12, 42);
  cr_assert_not_null(j);
  cr_assert_str_eq(json_string_value(json_object_get(j, "rule")), "r");
  cr_assert_str_eq(json_string_value(json_object_get(j, "state")), "firing");
  cr_assert_str_eq(json_string_value(json_object_get(j, "metric")),
                   "queue_depth");
  cr_assert_str_eq(json_string_value(json_object_get(j, "severity")),
                   "warning");
  cr_assert_eq(json_number_value(json_object_get(j, "value")), 12);
  cr_assert_eq(json_number_value(json_object_get(j, "threshold")), 10);
  cr_assert_eq(json_integer_value(json_object_get(j, "ts")), 42);
  json_decref(j);
  j = mon__alert_json(&a, MON_ALERT_RESOLVED, 3, 43);
  cr_assert_str_eq(json_string_value(json_object_get(j, "state")),
                   "resolved");
  json_decref(j);
}

Test(monitor_parts, event_kinds)
{
  json_t *t = json_pack("{s:s,s:s,s:I,s:I}", "id", "x", "state", "new",
                        "first_seen", (json_int_t)5, "last_seen",
                        (json_int_t)5);
  cr_assert_eq(mon__event_kind("tasks", t), CFG_EVENT_BIT_TASK_CREATED);
  json_object_set_new(t, "last_seen", json_integer(9)); /* seen again */
  cr_assert_eq(mon__event_kind("tasks", t), -1);
  json_decref(t);
  json_t *o = json_pack("{s:s,s:b,s:i}", "state", "review", "ok", 1,
                        "duration_ms", 1500);
  cr_assert_eq(mon__event_kind("executor", o), CFG_EVENT_BIT_TASK_COMPLETED);
  cr_assert_eq(mon__event_duration_ms(o), 1500);
  json_object_set_new(o, "state", json_string("failed"));
  cr_assert_eq(mon__event_kind("executor", o), CFG_EVENT_BIT_TASK_FAILED);
  json_object_set_new(o, "dry_run", json_true());
  cr_assert_eq(mon__event_kind("executor", o), -1);
  cr_assert_eq(mon__event_kind("alerts", o), -1);
  cr_assert_eq(mon__event_kind("executor", NULL), -1);
  json_decref(o);
}

Test(monitor_parts, hmac_sha256_rfc4231_case_2)
{
  char hex[65];
  const char *data = "what do ya want for nothing?";
  mon__hmac_hex("Jefe", data, strlen(data), hex);
  cr_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c7"
                        "5a003f089d2739839dec58b964ec3843");
}

Test(monitor_parts, hook_body_shape)
{
  json_t *d = json_pack("{s:s}", "id", "t1");
  size_t len = 0;
  char *body = mon__hook_body("task.created", "abc", 7, d, &len);
  cr_assert_not_null(body);
  cr_assert_eq(len, strlen(body));
  cr_assert_str_eq(body, "{\"event\":\"task.created\",\"delivery\":\"abc\","
                         "\"ts\":7,\"data\":{\"id\":\"t1\"}}");
  free(body);
  json_decref(d);
}

Test(monitor_parts, backoff_doubles_with_jitter_and_cap)
{
  monitor_retry_t r = {.attempts = 8, .base_ms = 100, .max_ms = 1000};
  for (uint64_t rnd = 0; rnd < 200; rnd += 7) {
    unsigned d2 = mon__backoff_ms(&r, 2, rnd);
    unsigned d3 = mon__backoff_ms(&r, 3, rnd);
    unsigned d9 = mon__backoff_ms(&r, 9, rnd);
    cr_assert(d2 >= 50 && d2 <= 100, "d2 %u", d2);
    cr_assert(d3 >= 100 && d3 <= 200, "d3 %u", d3);
    cr_assert(d9 >= 500 && d9 <= 1000, "d9 %u", d9);
  }
  /* the jitter really varies */
  cr_assert_neq(mon__backoff_ms(&r, 3, 1), mon__backoff_ms(&r, 3, 77));
}

Test(monitor_parts, config_sections_parse)
{
  static const char yaml[] =
      "monitor:\n"
      "  sample_interval: 250ms\n"
      "  persist_interval: 2m\n"
      "  stuck_samples: 7\n"
      "dora:\n"
      "  deployments: tags\n"
      "  tag_pattern: \"release-*\"\n"
      "  failures: [revert, incident]\n"
      "  hotfix_window: 6h\n"
      "  agent_authors: [bot@example.com]\n"
      "  window: 90d\n";
  cfg_t c;
  cfg_errors_t errs;
  int rc = cfg_load_buffer("t.yaml", yaml, sizeof yaml - 1, &c, &errs);
  cr_assert_eq(rc, 0, "%s", errs.n ? errs.v[0].message : "");
  cr_assert_eq(c.monitor.sample_interval_ms, 250);
  cr_assert_eq(c.monitor.persist_interval_ms, 120000);
  cr_assert_eq(c.monitor.stuck_samples, 7);
  cr_assert_eq(c.dora.deployments, CFG_DEPLOY_TAGS);
  cr_assert_str_eq(c.dora.tag_pattern, "release-*");
  cr_assert_eq(c.dora.failures.n, 2);
  cr_assert_eq(c.dora.hotfix_window_ms, 6 * 3600000ull);
  cr_assert_str_eq(c.dora.agent_authors.v[0], "bot@example.com");
  cr_assert_eq(c.dora.window_ms, 90 * 86400000ull);
  cfg_fini(&c);
  cfg_errors_fini(&errs);
}

Test(monitor_parts, config_sections_refuse_bad_values)
{
  static const char yaml[] = "dora:\n"
                             "  failures: [revert, outage]\n"
                             "monitor:\n"
                             "  stuck_samples: 0\n";
  cfg_t c;
  cfg_errors_t errs;
  cr_assert_eq(cfg_load_buffer("t.yaml", yaml, sizeof yaml - 1, &c, &errs),
               CFG_EINVALID);
  cr_assert_eq(errs.n, 2);
  cr_assert(strstr(errs.v[0].message, "dora.failures[1]"), "%s",
            errs.v[0].message);
  cr_assert_eq(errs.v[0].line, 2);
  cr_assert(strstr(errs.v[1].message, "monitor.stuck_samples"), "%s",
            errs.v[1].message);
  cfg_errors_fini(&errs);
}
