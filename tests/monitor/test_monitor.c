/*
 * test_monitor.c: the monitor actor on a real runtime and store.
 *
 * Contract: it samples every actor (rates, mailbox depth, handler time
 * percentiles) and the store's task counts; an actor whose mailbox grows
 * while it handles nothing for stuck_samples samples is reported stuck
 * in the health checks (degraded) and by a stuck_actors alert, which
 * fires once and resolves once it makes progress again; /metrics
 * families and the summary show the figures; the executor probe reports
 * a missing executor; DORA runs for configured repositories, with the
 * incident labels of their pull requests read from GitHub.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "github/gh.h"
#include "tests/monitor/mon_test.h"

static mt_env_t env;

static void setup(void) { mt_env_init(&env); }
static void teardown(void) { mt_env_fini(&env); }

TestSuite(monitor, .init = setup, .fini = teardown, .timeout = 120);

static monitor_config_t quick_config(void)
{
  monitor_config_t c = mt_config(&env);
  c.stuck_samples = 3;
  return c;
}

/* ---- an actor that blocks in its handler until the gate opens ---- */
static tst_gate_t gate;

static void blocker_msg(rt_ctx_t *ctx, void *st, rt_msg_t *m)
{
  (void)ctx;
  (void)st;
  if (rt_msg_type(m) == 1)
    tst_gate_wait(&gate);
}

static const rt_actor_type_t blocker_type = {.name = "blocker",
                                             .on_msg = blocker_msg};

static bool health_says_stuck(void *arg)
{
  json_t *checks = json_object();
  bool degraded = monitor_health(arg, checks);
  const char *a = json_string_value(json_object_get(checks, "actors"));
  bool stuck = degraded && a && strstr(a, "stuck: blocker");
  json_decref(checks);
  return stuck;
}

static bool health_ok(void *arg)
{
  json_t *checks = json_object();
  bool degraded = monitor_health(arg, checks);
  const char *a = json_string_value(json_object_get(checks, "actors"));
  bool ok = !degraded && a && !strcmp(a, "ok");
  json_decref(checks);
  return ok;
}

static json_t *next_alert(void)
{
  for (;;) {
    json_t *e = mt_next_event(&env);
    if (!strcmp(json_string_value(json_object_get(e, "topic")), "alerts"))
      return e;
    json_decref(e);
  }
}

Test(monitor, stuck_actor_degrades_health_and_fires_then_resolves)
{
  tst_gate_init(&gate);
  cfg_alert_t rule = {.name = "stuck", .metric = CFG_METRIC_STUCK_ACTORS,
                      .op = CFG_OP_GT, .threshold = 0};
  monitor_config_t c = quick_config();
  c.alerts = &rule;
  c.nalerts = 1;
  monitor_t *m = NULL;
  TST_OK(monitor_start(env.rt, env.store, env.store_actor, &c, &m));
  rt_spawn_opts_t o = {.name = "blocker"};
  rt_actor_t *b = NULL;
  TST_OK(rt_actor_spawn(env.rt, &blocker_type, NULL, &o, &b));
  TST_OK(tst_send(b, 1, NULL, 0));
  tst_gate_await_entered(&gate, 1);
  for (int i = 0; i < 10; i++) /* the mailbox grows, nothing is handled */
    TST_OK(tst_send(b, 2, NULL, 0));
  mt_wait(health_says_stuck, m, "the blocker reported stuck");
  json_t *a = next_alert();
  json_t *d = json_object_get(a, "data");
  cr_assert_str_eq(json_string_value(json_object_get(d, "rule")), "stuck");
  cr_assert_str_eq(json_string_value(json_object_get(d, "state")), "firing");
  cr_assert_eq(json_number_value(json_object_get(d, "value")), 1);
  json_decref(a);
  size_t len = 0;
  char *text = monitor_metrics_text(m, &len);
  cr_assert(strstr(text, "ccm_monitor_stuck_actors 1\n"), "%s", text);
  cr_assert(strstr(text, "ccm_monitor_alert_firing{rule=\"stuck\"} 1\n"));
  free(text);
  tst_gate_open(&gate);
  mt_wait(health_ok, m, "the blocker no longer stuck");
  a = next_alert();
  d = json_object_get(a, "data");
  cr_assert_str_eq(json_string_value(json_object_get(d, "state")),
                   "resolved");
  json_decref(a);
  monitor_stop(m);
  monitor_release(m);
  rt_actor_release(b);
  tst_gate_destroy(&gate);
}

/* ---- figures ---- */

static bool summary_has_store_rates(void *arg)
{
  json_t *s = monitor_summary_json(arg);
  json_t *actors = json_object_get(s, "actors");
  bool found = false;
  size_t i;
  json_t *a;
  json_array_foreach(actors, i, a) {
    const char *name = json_string_value(json_object_get(a, "name"));
    json_t *p99 = json_object_get(json_object_get(a, "handler_seconds"),
                                  "p99");
    json_t *r50 = json_object_get(json_object_get(a, "messages_per_second"),
                                  "p50");
    if (name && !strcmp(name, "store") && json_is_number(p99) &&
        json_is_number(r50))
      found = true;
  }
  bool tasks = json_integer_value(json_object_get(
                   json_object_get(s, "tasks"), "discovered")) == 3;
  json_decref(s);
  return found && tasks;
}

Test(monitor, samples_actors_and_task_counts)
{
  monitor_config_t c = quick_config();
  c.sample_ms = 50; /* a 3 s window: the writes stay in it meanwhile */
  monitor_t *m = NULL;
  TST_OK(monitor_start(env.rt, env.store, env.store_actor, &c, &m));
  mt_put_task(&env, "t1", PROTO_STATE_NEW);
  mt_put_task(&env, "t2", PROTO_STATE_READY);
  mt_put_task(&env, "t3", PROTO_STATE_READY);
  /* Enough store messages that handler time gets sampled (1 in 16). */
  for (int i = 0; i < 40; i++)
    mt_put_task(&env, "t3", PROTO_STATE_READY);
  mt_wait(summary_has_store_rates, m, "store figures and 3 tasks");
  json_t *s = monitor_summary_json(m);
  json_t *t = json_object_get(s, "tasks");
  cr_assert_eq(json_integer_value(json_object_get(t, "queued")), 2);
  cr_assert_eq(json_integer_value(json_object_get(t, "running")), 0);
  json_decref(s);
  size_t len = 0;
  char *text = monitor_metrics_text(m, &len);
  cr_assert_eq(strlen(text), len);
  cr_assert(strstr(text, "# TYPE ccm_monitor_actor_handler_seconds gauge\n"));
  cr_assert(strstr(text, "ccm_monitor_actor_messages_per_second{actor="
                         "\"store\",percentile=\"99\"}"), "%s", text);
  cr_assert(strstr(text, "ccm_monitor_tasks_queued 2\n"), "%s", text);
  cr_assert(strstr(text, "ccm_monitor_tasks_discovered_total 3\n"));
  free(text);
  monitor_stop(m);
  monitor_release(m);
}

Test(monitor, missing_executor_is_degraded)
{
  monitor_config_t c = quick_config();
  c.probe_ms = 20;
  c.executor_name = "executor";
  monitor_t *m = NULL;
  TST_OK(monitor_start(env.rt, env.store, env.store_actor, &c, &m));
  mt_wait(mt_no_executor, m, "the executor probe");
  monitor_stop(m);
  monitor_release(m);
}

static bool dora_failed_one(void *arg)
{
  json_t *d = monitor_dora_json(arg);
  json_t *all = json_object_get(json_array_get(json_object_get(d, "repos"),
                                               0), "all");
  bool ok = json_integer_value(json_object_get(all, "failed_deployments"))
            == 1;
  json_decref(d);
  return ok;
}

Test(monitor, dora_incidents_from_github)
{
  static mt_receiver_t gh_api; /* stands in for api.github.com */
  gh_api.bodies[0] = "[{\"number\":11,\"pull_request\":{}},"
                     "{\"number\":5}]"; /* #5 is an issue, not a PR */
  mt_receiver_start(&gh_api);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", gh_api.port);
  gh_config_t g;
  gh_config_defaults(&g);
  g.api_url = base;
  g.token_env = NULL;
  rt_actor_t *gh = NULL;
  TST_OK(gh_client_spawn(env.rt, &g, NULL, NULL, &gh));
  char path[600];
  snprintf(path, sizeof path, "%s/r", env.dir);
  mt_make_dora_repo(path);
  monitor_config_t c = quick_config();
  monitor_repo_t repo = {.id = "r", .path = path, .github = "acme/r"};
  c.repos = &repo;
  c.nrepos = 1;
  c.github = gh;
  c.dora.failures = MON_FAIL_INCIDENT;
  c.dora.incident_label = "sev 1";
  c.dora.window_ms = 3650 * 86400000ull;
  monitor_t *m = NULL;
  TST_OK(monitor_start(env.rt, env.store, env.store_actor, &c, &m));
  mt_wait(dora_failed_one, m, "PR #11's merge failed by its label");
  cr_assert_str_eq(gh_api.req[0].method, "GET");
  cr_assert_str_eq(gh_api.req[0].path, "/repos/acme/r/issues?state=all"
                                        "&per_page=100&labels=sev%201");
  monitor_stop(m);
  monitor_release(m);
  rt_actor_release(gh);
  tst_quiesce(env.rt); /* the client's curl before the receiver goes */
  mt_receiver_stop(&gh_api);
}

Test(monitor, refuses_bad_configuration)
{
  monitor_config_t c = quick_config();
  c.sample_ms = 0;
  monitor_t *m = (monitor_t *)1;
  cr_assert_eq(monitor_start(env.rt, env.store, env.store_actor, &c, &m),
               MON_EINVAL);
  cr_assert_null(m);
}
