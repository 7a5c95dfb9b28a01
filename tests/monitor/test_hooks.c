/*
 * test_hooks.c: outgoing webhooks and alert POSTs, end to end, against a
 * plain HTTP receiver on 127.0.0.1 (mon_test.c).
 *
 * Contract: task.created / task.started / task.completed / task.failed /
 * repository.scanned are POSTed to the hooks that asked for them, as JSON
 * {"event","delivery","ts","data"}, signed X-Ccm-Signature-256:
 * sha256=<HMAC-SHA256 of the body> with the hook's secret; a 500 is
 * retried (same delivery id, same body) and the delivery ends at the
 * first 2xx; a receiver that keeps failing gets exactly `attempts` tries;
 * an alert rule with a webhook_url POSTs its firing unsigned; counters
 * and the log cursor survive a restart (kv "monitor/aggregates"), so
 * nothing is sent twice.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/monitor/monitor_int.h"
#include "tests/monitor/mon_test.h"

#define SECRET "s3cr3t-for-tests"

static mt_env_t env;
static mt_receiver_t rcv;

static void setup(void)
{
  mt_env_init(&env);
  memset(&rcv, 0, sizeof rcv);
}

static void teardown(void)
{
  mt_env_fini(&env);
  mt_receiver_stop(&rcv);
}

TestSuite(monitor_hooks, .init = setup, .fini = teardown, .timeout = 120);

static monitor_hook_t hook;

static monitor_config_t hook_config(unsigned events)
{
  monitor_config_t c = mt_config(&env);
  c.retry = (monitor_retry_t){.attempts = 3, .base_ms = 20, .max_ms = 100,
                              .timeout_ms = 5000};
  hook = (monitor_hook_t){.url = rcv.url, .secret = SECRET,
                          .events = events};
  c.hooks = &hook;
  c.nhooks = 1;
  return c;
}

/* The first look at the store has been taken (the running-task set and
 * the log cursor are known). */
static bool first_collect(void *arg)
{
  json_t *s = monitor_summary_json(arg);
  bool ok = json_object_get(s, "tasks") != NULL;
  json_decref(s);
  return ok;
}

static monitor_t *start(monitor_config_t *c)
{
  monitor_t *m = NULL;
  TST_OK(monitor_start(env.rt, env.store, env.store_actor, c, &m));
  mt_wait(first_collect, m, "the first sample");
  return m;
}

static void stop(monitor_t *m)
{
  monitor_stop(m);
  monitor_release(m);
}

static json_t *new_task_json(const char *id)
{
  return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "id", id, "repo", "r",
                   "kind", "todo", "state", "new", "first_seen",
                   (json_int_t)1000, "last_seen", (json_int_t)1000);
}

static void assert_signed(const mt_request_t *q)
{
  char hex[65], want[80];
  mon__hmac_hex(SECRET, q->body, strlen(q->body), hex);
  snprintf(want, sizeof want, "sha256=%s", hex);
  cr_assert_str_eq(q->signature, want);
  cr_assert_null(strstr(q->body, SECRET));
}

Test(monitor_hooks, created_is_signed_and_retried_after_500)
{
  rcv.script[0] = 500;
  mt_receiver_start(&rcv);
  monitor_config_t c = hook_config(CFG_EVENT(TASK_CREATED));
  monitor_t *m = start(&c);
  json_t *t = new_task_json("task-1");
  mt_log_event(&env, "tasks", t);
  json_decref(t);
  mt_receiver_wait(&rcv, 2);
  const mt_request_t *a = &rcv.req[0], *b = &rcv.req[1];
  cr_assert_str_eq(a->path, "/hook");
  cr_assert_str_eq(a->event, "task.created");
  cr_assert_str_eq(a->delivery, b->delivery);
  cr_assert_eq(strlen(a->delivery), 32);
  cr_assert_str_eq(a->body, b->body);
  assert_signed(a);
  assert_signed(b);
  json_t *body = json_loads(b->body, 0, NULL);
  cr_assert_str_eq(json_string_value(json_object_get(body, "event")),
                   "task.created");
  cr_assert_str_eq(json_string_value(json_object_get(
                       json_object_get(body, "data"), "id")),
                   "task-1");
  json_decref(body);
  stop(m);
  /* The monitor stopped after the 200: nothing else was sent. */
  cr_assert_eq(mt_receiver_count(&rcv), 2);
}

static bool deliveries(void *arg, const char *key, json_int_t want)
{
  json_t *s = monitor_summary_json(arg);
  json_int_t n = json_integer_value(json_object_get(
      json_object_get(s, "webhooks"), key));
  json_decref(s);
  return n == want;
}

static bool one_failed(void *arg) { return deliveries(arg, "failed", 1); }

Test(monitor_hooks, gives_up_after_the_attempts)
{
  rcv.script[0] = rcv.script[1] = rcv.script[2] = rcv.script[3] = 503;
  mt_receiver_start(&rcv);
  monitor_config_t c = hook_config(CFG_EVENTS_ALL);
  monitor_t *m = start(&c);
  json_t *t = new_task_json("task-2");
  mt_log_event(&env, "tasks", t);
  json_decref(t);
  mt_wait(one_failed, m, "the delivery given up");
  cr_assert_eq(mt_receiver_count(&rcv), 3);
  stop(m);
}

Test(monitor_hooks, outcomes_started_and_scans)
{
  mt_receiver_start(&rcv);
  monitor_config_t c = hook_config(CFG_EVENTS_ALL & ~CFG_EVENT(TASK_CREATED));
  monitor_t *m = start(&c);
  /* task.started: a task now running that was not at the last look */
  mt_put_task(&env, "run-1", PROTO_STATE_RUNNING);
  mt_receiver_wait(&rcv, 1);
  cr_assert_str_eq(rcv.req[0].event, "task.started");
  cr_assert(strstr(rcv.req[0].body, "\"id\":\"run-1\""), "%s",
            rcv.req[0].body);
  json_t *ok = json_pack("{s:s,s:s,s:b,s:i}", "task_id", "run-1", "state",
                         "review", "ok", 1, "duration_ms", 4000);
  json_t *bad = json_pack("{s:s,s:s,s:b,s:i}", "task_id", "run-2", "state",
                          "failed", "ok", 0, "duration_ms", 2000);
  json_t *dry = json_pack("{s:s,s:s,s:b}", "task_id", "run-3", "state",
                          "ready", "dry_run", 1);
  mt_log_event(&env, "executor", dry);
  mt_log_event(&env, "executor", ok);
  mt_log_event(&env, "executor", bad);
  json_decref(ok);
  json_decref(bad);
  json_decref(dry);
  mt_receiver_wait(&rcv, 3);
  cr_assert_str_eq(rcv.req[1].event, "task.completed");
  cr_assert_str_eq(rcv.req[2].event, "task.failed");
  /* repository.scanned: a SCAN_DONE sent to the monitor */
  proto_msg_t d = {.type = PROTO_SCAN_DONE};
  d.u.scan_done = (proto_scan_done_t){.repo = "r", .files = 7,
                                      .findings = 2, .duration_ms = 30};
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  TST_OK(proto_msgpack_encode(&d, &sb));
  rt_actor_t *mon = NULL;
  TST_OK(rt_actor_lookup(env.rt, "monitor", &mon));
  TST_OK(tst_send(mon, PROTO_SCAN_DONE, sb.data, sb.size));
  msgpack_sbuffer_destroy(&sb);
  rt_actor_release(mon);
  mt_receiver_wait(&rcv, 4);
  cr_assert_str_eq(rcv.req[3].event, "repository.scanned");
  cr_assert(strstr(rcv.req[3].body, "\"files\":7"));
  json_t *s = monitor_summary_json(m);
  json_t *tk = json_object_get(s, "tasks");
  cr_assert_eq(json_integer_value(json_object_get(tk, "started")), 1);
  cr_assert_eq(json_integer_value(json_object_get(tk, "succeeded")), 1);
  cr_assert_eq(json_integer_value(json_object_get(tk, "failed")), 1);
  cr_assert_float_eq(json_number_value(json_object_get(tk, "failure_rate")),
                     0.5, 1e-9);
  cr_assert_eq(json_number_value(json_object_get(
                   json_object_get(tk, "duration_ms"), "p99")),
               4000);
  json_decref(s);
  stop(m);
}

Test(monitor_hooks, alert_posts_to_its_webhook_url)
{
  mt_receiver_start(&rcv);
  cfg_alert_t rule = {.name = "queue", .metric = CFG_METRIC_QUEUE_DEPTH,
                      .op = CFG_OP_GE, .threshold = 2,
                      .webhook_url = rcv.url};
  monitor_config_t c = hook_config(0);
  c.nhooks = 0;
  c.alerts = &rule;
  c.nalerts = 1;
  monitor_t *m = start(&c);
  mt_put_task(&env, "q1", PROTO_STATE_READY);
  mt_put_task(&env, "q2", PROTO_STATE_READY);
  mt_receiver_wait(&rcv, 1);
  cr_assert_str_eq(rcv.req[0].event, "alert");
  cr_assert_str_eq(rcv.req[0].signature, "");
  json_t *body = json_loads(rcv.req[0].body, 0, NULL);
  json_t *d = json_object_get(body, "data");
  cr_assert_str_eq(json_string_value(json_object_get(d, "rule")), "queue");
  cr_assert_str_eq(json_string_value(json_object_get(d, "state")), "firing");
  cr_assert_eq(json_number_value(json_object_get(d, "value")), 2);
  json_decref(body);
  stop(m);
}

static bool saved(void *arg)
{
  (void)arg;
  void *v = NULL;
  size_t len = 0;
  if (store_kv_get(env.store, "monitor/aggregates", &v, &len) != 0)
    return false;
  json_t *j = json_loadb(v, len, 0, NULL);
  free(v);
  bool ok = json_integer_value(json_object_get(j, "created")) == 1 &&
            json_integer_value(json_object_get(j, "deliveries_ok")) == 1;
  json_decref(j);
  return ok;
}

static bool restored(void *arg)
{
  json_t *s = monitor_summary_json(arg);
  bool ok = json_integer_value(json_object_get(
                json_object_get(s, "tasks"), "created")) == 1 &&
            json_integer_value(json_object_get(
                json_object_get(s, "webhooks"), "ok")) == 1;
  json_decref(s);
  return ok;
}

static bool created_twice(void *arg)
{
  json_t *s = monitor_summary_json(arg);
  bool ok = json_integer_value(json_object_get(
                json_object_get(s, "tasks"), "created")) == 2;
  json_decref(s);
  return ok;
}

/* Its name is free again once the first actor has stopped. */
static bool monitor_gone(void *arg)
{
  (void)arg;
  rt_actor_t *a = NULL;
  if (rt_actor_lookup(env.rt, "monitor", &a) != 0)
    return true;
  rt_actor_release(a);
  return false;
}

Test(monitor_hooks, aggregates_survive_a_restart)
{
  mt_receiver_start(&rcv);
  monitor_config_t c = hook_config(CFG_EVENT(TASK_CREATED));
  c.persist_ms = 30;
  monitor_t *m = start(&c);
  json_t *t = new_task_json("task-p");
  mt_log_event(&env, "tasks", t);
  json_decref(t);
  mt_receiver_wait(&rcv, 1);
  mt_wait(saved, NULL, "the aggregates in the kv store");
  stop(m);
  mt_wait(monitor_gone, NULL, "the first monitor stopped");
  m = start(&c);
  mt_wait(restored, m, "the counters restored");
  /* The cursor came back too: the old event is not sent again, a new one
   * is, and it is the second request in all. */
  t = new_task_json("task-q");
  mt_log_event(&env, "tasks", t);
  json_decref(t);
  mt_wait(created_twice, m, "the second creation");
  mt_receiver_wait(&rcv, 2);
  cr_assert(strstr(rcv.req[1].body, "task-q"), "%s", rcv.req[1].body);
  stop(m);
  cr_assert_eq(mt_receiver_count(&rcv), 2);
}

Test(monitor_hooks, reconfigure_adds_an_alert_rule_and_its_webhook)
{
  mt_receiver_start(&rcv);
  monitor_config_t c = hook_config(0);
  c.nhooks = 0; /* no rules, no hooks at start */
  monitor_t *m = start(&c);
  mt_put_task(&env, "q1", PROTO_STATE_READY);
  mt_put_task(&env, "q2", PROTO_STATE_READY);
  static cfg_alert_t rule; /* outlive the monitor, as required */
  static monitor_config_t now;
  rule = (cfg_alert_t){.name = "queue", .metric = CFG_METRIC_QUEUE_DEPTH,
                       .op = CFG_OP_GE, .threshold = 2,
                       .webhook_url = rcv.url};
  now = hook_config(CFG_EVENT(TASK_CREATED));
  now.alerts = &rule;
  now.nalerts = 1;
  TST_OK(monitor_reconfigure(m, &now));
  mt_receiver_wait(&rcv, 1);
  cr_assert_str_eq(rcv.req[0].event, "alert");
  json_t *body = json_loads(rcv.req[0].body, 0, NULL);
  json_t *d = json_object_get(body, "data");
  cr_assert_str_eq(json_string_value(json_object_get(d, "rule")), "queue");
  cr_assert_str_eq(json_string_value(json_object_get(d, "state")), "firing");
  json_decref(body);
  json_t *t = new_task_json("q3"); /* the new hook gets task.created */
  mt_log_event(&env, "tasks", t);
  json_decref(t);
  mt_receiver_wait(&rcv, 2);
  cr_assert_str_eq(rcv.req[1].event, "task.created");
  assert_signed(&rcv.req[1]);
  stop(m);
}
