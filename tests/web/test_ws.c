/*
 * test_ws.c: the WebSocket endpoint /ws with a real client (npm `ws`
 * through wsdrive.js) on loopback (web/ws.c, web/wire.c, web/bridge.c).
 *
 * Contract: subscribe answers `subscribed` with the last seq and replays
 * nothing unless asked; events carry increasing seqs and reach only their
 * topics' subscribers; resume_from replays every missed event in order
 * before live ones, also far more than the queue holds, so a reconnecting
 * client loses nothing; a client that stops reading is told
 * slow_consumer and dropped while the others get every event, and it can
 * resume; ccm.v1.msgpack carries the same maps as ccm.v1.json; commands
 * are answered by a reply with their id; malformed, mistyped and
 * oversized messages get an error and a close code, well-formed bad
 * requests only an error; upgrades are filtered by path, subprotocol,
 * token, Origin and the client limit; idle clients are pinged.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_actor.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"
#include "tests/web/web_test.h"

TestSuite(ws, .timeout = 180);

static wt_server_t srv;
static wt_ws_t drv;

static void start(const web_config_t *cfg)
{
  wt_start(&srv, cfg);
  wt_ws_start(&drv);
}

static void stop(void)
{
  wt_ws_stop(&drv);
  wt_stop(&srv);
}

static const char *str_at(const json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

static json_int_t int_at(const json_t *o, const char *key)
{
  return json_integer_value(json_object_get(o, key));
}

/* Send a message built with json_pack's format. */
static void send_pack(const char *name, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  json_t *msg = json_vpack_ex(NULL, 0, fmt, ap);
  va_end(ap);
  cr_assert_not_null(msg, "bad pack format %s", fmt);
  wt_ws_send(&drv, name, msg);
  json_decref(msg);
}

/* The next message of @p name, which must be of @p type. Waiting for a
 * reply skips events: a change made by an earlier command may be
 * published after that command's reply (events come from the store's log). */
static json_t *expect_type(const char *name, const char *type)
{
  json_t *m = wt_ws_msg(&drv, name);
  while (!strcmp(type, "reply") && !strcmp(str_at(m, "type"), "event")) {
    json_decref(m);
    m = wt_ws_msg(&drv, name);
  }
  char *dump = json_dumps(m, JSON_COMPACT);
  cr_assert_str_eq(str_at(m, "type"), type, "%s got %.300s", name, dump);
  free(dump);
  return m;
}

/* Subscribe and return the reported seq. @p resume < 0: none. */
static json_int_t subscribe(const char *name, const char *topic,
                            long long resume)
{
  if (resume < 0)
    send_pack(name, "{s:s,s:[s]}", "type", "subscribe", "topics", topic);
  else
    send_pack(name, "{s:s,s:[s],s:I}", "type", "subscribe", "topics", topic,
              "resume_from", (json_int_t)resume);
  json_t *m = expect_type(name, "subscribed");
  json_int_t seq = int_at(m, "seq");
  json_decref(m);
  return seq;
}

/* An event appended durably through the store actor (no web_publish, so
 * no live fan-out: clients see it by subscribing or resuming). */
static void log_event(const char *topic, json_int_t i)
{
  json_t *data = json_pack("{s:I}", "i", i);
  proto_msg_t m = {.type = PROTO_EVENT};
  m.u.event = (proto_event_t){.seq = 1, .topic = (char *)topic,
                              .ts = 1795510800123, .data = data};
  store_ack_t ack;
  cr_assert_eq(store_write_sync(srv.rt, srv.store_actor, &m, WT_WAIT_MS,
                                &ack), 0);
  json_decref(data);
}

static void publish_i(const char *topic, json_int_t i)
{
  json_t *data = json_pack("{s:I}", "i", i);
  int rc;
  while ((rc = web_publish(srv.web, topic, data)) == RT_EAGAIN)
    sched_yield();
  cr_assert_eq(rc, 0, "web_publish: %s", web_strerror(rc));
  json_decref(data);
}

/* The next message of @p name: an event of @p topic with @p seq whose
 * data.i is @p i. */
static void expect_event(const char *name, const char *topic, json_int_t seq,
                         json_int_t i)
{
  json_t *m = expect_type(name, "event");
  char *dump = json_dumps(m, JSON_COMPACT);
  cr_assert_str_eq(str_at(m, "topic"), topic, "%s", dump);
  cr_assert_eq(int_at(m, "seq"), seq, "%s", dump);
  cr_assert_eq(int_at(json_object_get(m, "data"), "i"), i, "%s", dump);
  free(dump);
  json_decref(m);
}

static void expect_close(const char *name, int code)
{
  json_t *ev = wt_ws_expect(&drv, "close", name);
  cr_assert_eq(int_at(ev, "code"), code, "close code %lld, want %d",
               (long long)int_at(ev, "code"), code);
  json_decref(ev);
}

/* Clients dropped as slow consumers, from the summary. */
static json_int_t slow_consumers(void)
{
  wt_resp_t r;
  wt_http(&srv, "GET", "/api/v1/metrics/summary", NULL, NULL, &r);
  json_int_t n = int_at(json_object_get(r.json, "websocket"),
                        "slow_consumers");
  wt_resp_free(&r);
  return n;
}

/* An open that the server refuses (at or before the handshake). */
static void expect_refused(const char *name)
{
  json_decref(wt_ws_expect(&drv, "rejected", name));
}

/* ---------------------------------------------------------- subscribing */

Test(ws, subscribe_reports_the_last_seq_and_replays_nothing)
{
  start(NULL);
  for (int i = 1; i <= 3; i++)
    log_event("logs", i);
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  cr_assert_eq(subscribe("a", "logs", -1), 3);
  publish_i("logs", 4);
  expect_event("a", "logs", 4, 4); /* nothing old came first */
  stop();
}

Test(ws, events_reach_only_their_topics_with_their_fields)
{
  start(NULL);
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  cr_assert_eq(subscribe("a", "tasks", -1), 0);
  publish_i("logs", 1);
  json_t *data = json_pack("{s:s,s:s}", "id", "t1", "state", "ready");
  cr_assert_eq(web_publish(srv.web, "tasks", data), 0);
  json_t *m = expect_type("a", "event");
  cr_assert_str_eq(str_at(m, "topic"), "tasks");
  cr_assert_eq(int_at(m, "seq"), 2, "the logs event took seq 1");
  const char *ts = str_at(m, "ts");
  cr_assert(ts && strlen(ts) == 24 && ts[10] == 'T' && ts[23] == 'Z',
            "ts is ISO-8601 with ms: %s", ts ? ts : "(none)");
  cr_assert(json_equal(json_object_get(m, "data"), data));
  json_decref(m);
  json_decref(data);
  stop();
}

Test(ws, unsubscribe_stops_a_topic)
{
  start(NULL);
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  send_pack("a", "{s:s,s:[s,s]}", "type", "subscribe", "topics", "tasks",
            "logs");
  json_t *m = expect_type("a", "subscribed");
  cr_assert_eq(json_array_size(json_object_get(m, "topics")), 2);
  json_decref(m);
  send_pack("a", "{s:s,s:[s]}", "type", "unsubscribe", "topics", "logs");
  m = expect_type("a", "subscribed");
  json_t *topics = json_object_get(m, "topics");
  cr_assert_eq(json_array_size(topics), 1);
  cr_assert_str_eq(json_string_value(json_array_get(topics, 0)), "tasks");
  json_decref(m);
  publish_i("logs", 1);
  publish_i("tasks", 2);
  expect_event("a", "tasks", 2, 2);
  stop();
}

Test(ws, msgpack_carries_the_same_maps)
{
  start(NULL);
  wt_ws_open(&drv, &srv, "j", "ccm.v1.json");
  wt_ws_open(&drv, &srv, "m", "ccm.v1.msgpack");
  subscribe("j", "alerts", -1);
  json_t *sub = json_pack("{s:s,s:[s]}", "type", "subscribe", "topics",
                          "alerts");
  char *hex = wt_msgpack_hex(sub);
  wt_ws_cmd(&drv, "{\"op\":\"send\",\"name\":\"m\",\"hex\":\"%s\"}", hex);
  free(hex);
  json_decref(sub);
  json_t *subscribed = wt_ws_msg(&drv, "m");
  cr_assert_str_eq(str_at(subscribed, "type"), "subscribed");
  json_decref(subscribed);
  json_t *data = json_pack("{s:i,s:[b,n,s],s:f,s:{s:s}}", "a", -7, "b", 1,
                           "x", "c", 1.5, "d", "e", "\xc3\xa9");
  cr_assert_eq(web_publish(srv.web, "alerts", data), 0);
  json_t *from_json = NULL, *from_msgpack = NULL;
  for (int k = 0; k < 2; k++) { /* the two clients' frames, in any order */
    json_t *ev = wt_ws_next(&drv, WT_WAIT_MS);
    cr_assert_not_null(ev);
    cr_assert_str_eq(str_at(ev, "ev"), "msg");
    json_t *text = json_object_get(ev, "text");
    if (text) {
      cr_assert_str_eq(str_at(ev, "name"), "j");
      from_json = json_loads(json_string_value(text), 0, NULL);
    } else {
      cr_assert_str_eq(str_at(ev, "name"), "m");
      from_msgpack = wt_msgpack_hex_decode(str_at(ev, "hex"));
    }
    json_decref(ev);
  }
  cr_assert(from_json && from_msgpack);
  cr_assert_str_eq(str_at(from_json, "type"), "event");
  char *a = json_dumps(from_json, JSON_SORT_KEYS),
       *b = json_dumps(from_msgpack, JSON_SORT_KEYS);
  cr_assert(json_equal(from_json, from_msgpack), "json %s\nmsgpack %s", a, b);
  cr_assert(json_equal(json_object_get(from_msgpack, "data"), data));
  free(a);
  free(b);
  json_decref(from_json);
  json_decref(from_msgpack);
  json_decref(data);
  stop();
}

/* -------------------------------------------------------------- commands */

Test(ws, commands_are_answered_with_their_id)
{
  start(NULL);
  wt_put_task(&srv, "t1", "demo", "todo", PROTO_STATE_TRIAGED, 3);
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  subscribe("a", "tasks", -1);
  send_pack("a", "{s:s,s:s,s:s,s:{s:s}}", "type", "command", "id", "c1",
            "action", "run", "args", "task", "t1");
  bool got_reply = false, got_event = false;
  for (int k = 0; k < 2; k++) { /* reply and event, in either order */
    json_t *m = wt_ws_msg(&drv, "a");
    const char *type = str_at(m, "type");
    json_t *task = json_object_get(m, "data");
    cr_assert_str_eq(str_at(task, "id"), "t1");
    cr_assert_str_eq(str_at(task, "state"), "ready");
    if (!strcmp(type, "reply")) {
      cr_assert_str_eq(str_at(m, "id"), "c1");
      cr_assert(json_is_true(json_object_get(m, "ok")));
      got_reply = true;
    } else {
      cr_assert_str_eq(type, "event");
      cr_assert_str_eq(str_at(m, "topic"), "tasks");
      got_event = true;
    }
    json_decref(m);
  }
  cr_assert(got_reply && got_event);
  cr_assert_eq(wt_task_state(&srv, "t1"), PROTO_STATE_READY);

  static const struct {
    const char *id, *action, *task, *code;
  } bad[] = {
      {"c2", "run", "missing", "not_found"},
      {"c3", "explode", "t1", "bad_request"},
      {"c4", "scan", NULL, "bad_request"},
      {"c5", "cancel", "t1", NULL}, /* ready -> triaged: ok */
      {"c6", "cancel", "t1", "conflict"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (bad[i].task)
      send_pack("a", "{s:s,s:s,s:s,s:{s:s}}", "type", "command", "id",
                bad[i].id, "action", bad[i].action, "args", "task",
                bad[i].task);
    else
      send_pack("a", "{s:s,s:s,s:s}", "type", "command", "id", bad[i].id,
                "action", bad[i].action);
    json_t *m = wt_ws_msg(&drv, "a");
    while (!strcmp(str_at(m, "type"), "event")) { /* c5's change */
      json_decref(m);
      m = wt_ws_msg(&drv, "a");
    }
    cr_assert_str_eq(str_at(m, "type"), "reply");
    cr_assert_str_eq(str_at(m, "id"), bad[i].id);
    if (bad[i].code) {
      cr_assert(json_is_false(json_object_get(m, "ok")));
      cr_assert_str_eq(str_at(json_object_get(m, "error"), "code"),
                       bad[i].code, "%s", bad[i].id);
    } else {
      cr_assert(json_is_true(json_object_get(m, "ok")));
    }
    json_decref(m);
  }
  send_pack("a", "{s:s,s:{s:s},s:s}", "type", "command", "args", "repo",
            "demo", "action", "scan");
  json_t *m = expect_type("a", "reply");
  cr_assert_str_eq(str_at(json_object_get(m, "error"), "code"),
                   "unavailable", "no scanner in this daemon");
  json_decref(m);
  send_pack("a", "{s:s,s:s}", "type", "command", "id", "c7");
  m = expect_type("a", "reply");
  cr_assert_str_eq(str_at(m, "id"), "c7");
  cr_assert_str_eq(str_at(json_object_get(m, "error"), "code"),
                   "bad_request", "action is required");
  json_decref(m);
  stop();
}

/* ------------------------------------ writes the store is slow to take */

/* The server writes through a gate that holds every write until opened
 * (web_test.h): a store that is slow to commit, made deterministic. */
static void start_gated(const web_config_t *cfg)
{
  wt_start_gated(&srv, cfg);
  wt_ws_start(&drv);
}

/* pin sets the flag on the task as the store reads it in its own write
 * transaction: a transition committed after the server read the task is
 * kept (an upsert of the task as read would have moved it back). */
Test(ws, pin_keeps_a_transition_committed_meanwhile)
{
  start_gated(NULL);
  wt_put_task(&srv, "t1", "demo", "todo", PROTO_STATE_TRIAGED, 3);
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  send_pack("a", "{s:s,s:s,s:s,s:{s:s}}", "type", "command", "id", "p1",
            "action", "pin", "args", "task", "t1");
  wt_gate_await_held(&srv, 1); /* read as triaged; its write waits */
  wt_move(&srv, "t1", PROTO_STATE_TRIAGED, PROTO_STATE_READY);
  wt_gate_open(&srv);
  json_t *m = expect_type("a", "reply");
  json_t *task = json_object_get(m, "data");
  cr_assert(json_is_true(json_object_get(m, "ok")));
  cr_assert(json_is_true(json_object_get(task, "pinned")));
  cr_assert_str_eq(str_at(task, "state"), "ready");
  json_decref(m);
  proto_task_t t;
  TST_SOK(store_task_get(srv.store, "t1", &t));
  cr_assert(t.pinned);
  cr_assert_eq(t.state, PROTO_STATE_READY, "the transition was undone");
  store_task_free(&t);
  stop();
}

/* A command whose write the store has not confirmed by store_timeout_ms
 * is answered ok with {"status":"pending","task":<as stored>}; the write
 * goes on, and once it commits the task is published on "tasks". */
Test(ws, slow_store_write_replies_pending_then_publishes)
{
  web_config_t cfg;
  web_config_defaults(&cfg);
  cfg.store_timeout_ms = 200;
  start_gated(&cfg);
  wt_put_task(&srv, "t1", "demo", "todo", PROTO_STATE_TRIAGED, 3);
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  subscribe("a", "tasks", -1);
  send_pack("a", "{s:s,s:s,s:s,s:{s:s}}", "type", "command", "id", "s1",
            "action", "skip", "args", "task", "t1");
  json_t *m = expect_type("a", "reply");
  json_t *data = json_object_get(m, "data");
  cr_assert_str_eq(str_at(m, "id"), "s1");
  cr_assert(json_is_true(json_object_get(m, "ok")));
  cr_assert_str_eq(str_at(data, "status"), "pending");
  cr_assert_str_eq(str_at(json_object_get(data, "task"), "state"),
                   "triaged", "the task as stored when answered");
  json_decref(m);
  wt_gate_open(&srv);
  m = expect_type("a", "event");
  cr_assert_str_eq(str_at(m, "topic"), "tasks");
  cr_assert_str_eq(str_at(json_object_get(m, "data"), "state"), "skipped");
  json_decref(m);
  cr_assert_eq(wt_task_state(&srv, "t1"), PROTO_STATE_SKIPPED);
  stop();
}

/* ---------------------------------------------------------------- resume */

Test(ws, resume_after_a_disconnect_loses_nothing)
{
  start(NULL);
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  subscribe("a", "logs", 0);
  for (int i = 1; i <= 5; i++)
    publish_i("logs", i);
  for (int i = 1; i <= 5; i++)
    expect_event("a", "logs", i, i);
  wt_ws_cmd(&drv, "{\"op\":\"close\",\"name\":\"a\"}");
  expect_close("a", 1000);
  for (int i = 6; i <= 10; i++) /* missed while away */
    publish_i("logs", i);
  wt_ws_open(&drv, &srv, "b", "ccm.v1.json");
  subscribe("b", "logs", 5);
  for (int i = 11; i <= 15; i++) /* live, maybe during the replay */
    publish_i("logs", i);
  for (int i = 6; i <= 15; i++)
    expect_event("b", "logs", i, i);
  publish_i("logs", 16);
  expect_event("b", "logs", 16, 16); /* and nothing twice */
  stop();
}

Test(ws, resume_replays_more_than_the_queue_holds)
{
  web_config_t c;
  web_config_defaults(&c);
  c.ws_queue_max = 8;
  start(&c);
  for (int i = 1; i <= 100; i++)
    log_event(i % 2 ? "logs" : "metrics", i);
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  /* The reported seq is where the live fan-out stands (it reads the log
   * half a queue per loop turn); the resume covers all before and after. */
  cr_assert_leq(subscribe("a", "logs", 0), 100);
  for (int i = 1; i <= 100; i += 2)
    expect_event("a", "logs", i, i);
  publish_i("logs", 101);
  expect_event("a", "logs", 101, 101);
  cr_assert_eq(slow_consumers(), 0);
  stop();
}

/* A counter from /metrics. */
static double metric(const char *name)
{
  wt_resp_t r;
  wt_http(&srv, "GET", "/metrics", NULL, NULL, &r);
  char key[128];
  snprintf(key, sizeof(key), "\n%s ", name);
  const char *at = strstr(r.body, key);
  cr_assert_not_null(at, "no %s in /metrics", name);
  double v = strtod(at + strlen(key), NULL);
  wt_resp_free(&r);
  return v;
}

/* A replay queues WEB__CATCHUP_BATCH events at a time, and a client's
 * queued frames leave in batches (one raw write of several complete
 * frames): far fewer writes than frames, and the client (npm ws, strict
 * about framing) still reads every event, in order, in both subprotocols. */
static void replay_in_batches(const char *subprotocol)
{
  start(NULL);
  for (int i = 1; i <= 300; i++)
    log_event("logs", i);
  wt_ws_open(&drv, &srv, "a", subprotocol);
  if (strstr(subprotocol, "msgpack")) {
    json_t *sub = json_pack("{s:s,s:[s],s:i}", "type", "subscribe", "topics",
                            "logs", "resume_from", 0);
    char *hex = wt_msgpack_hex(sub);
    wt_ws_cmd(&drv, "{\"op\":\"send\",\"name\":\"a\",\"hex\":\"%s\"}", hex);
    free(hex);
    json_decref(sub);
    json_decref(expect_type("a", "subscribed"));
  } else {
    subscribe("a", "logs", 0);
  }
  for (int i = 1; i <= 300; i++)
    expect_event("a", "logs", i, i);
  double frames = metric("ccm_ws_frames_sent_total");
  double writes = metric("ccm_ws_writes_total");
  cr_assert_geq(frames, 301);
  cr_assert_leq(writes * 8, frames, "%.0f writes for %.0f frames", writes,
                frames);
  stop();
}

Test(ws, a_replay_goes_out_in_batches_json)
{
  replay_in_batches("ccm.v1.json");
}

Test(ws, a_replay_goes_out_in_batches_msgpack)
{
  replay_in_batches("ccm.v1.msgpack");
}

/* Frame headers carry 7-bit, 16-bit and 64-bit lengths (payloads under
 * 126 bytes, under 64 KiB, above); each arrives whole, also when several
 * share one write. The data is an array of strings of at most PART bytes
 * (a string's cap is PROTO_MAX_TEXT). */
#define PART 50000

static json_t *data_of(size_t size, char c)
{
  json_t *parts = json_array();
  char *text = malloc(PART + 1);
  for (size_t left = size; left; ) {
    size_t n = left < PART ? left : PART;
    memset(text, c, n);
    text[n] = '\0';
    json_array_append_new(parts, json_string(text));
    left -= n;
  }
  free(text);
  return json_pack("{s:o}", "parts", parts);
}

Test(ws, frames_of_every_length_form_arrive_whole)
{
  start(NULL);
  static const size_t sizes[] = {10, 200, 70000, 5, 65535, 126, 100000};
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  subscribe("a", "logs", -1);
  size_t n = sizeof(sizes) / sizeof(sizes[0]);
  for (size_t i = 0; i < n; i++) {
    json_t *data = data_of(sizes[i], (char)('a' + i));
    int rc;
    while ((rc = web_publish(srv.web, "logs", data)) == RT_EAGAIN)
      sched_yield();
    cr_assert_eq(rc, 0, "web_publish: %s", web_strerror(rc));
    json_decref(data);
  }
  for (size_t i = 0; i < n; i++) {
    json_t *m = expect_type("a", "event");
    json_t *want = data_of(sizes[i], (char)('a' + i));
    cr_assert(json_equal(json_object_get(m, "data"), want),
              "event %zu (%zu bytes of data) differs", i, sizes[i]);
    json_decref(want);
    json_decref(m);
  }
  stop();
}

Test(ws, resume_past_retention_says_so_and_goes_on)
{
  web_config_t c;
  web_config_defaults(&c);
  store_options_t opt = {.no_sync = true, .event_retention = 10};
  wt_start_store(&srv, &c, &opt);
  wt_ws_start(&drv);
  for (int i = 1; i <= 30; i++) /* only 21..30 are kept */
    log_event("logs", i);
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  cr_assert_eq(subscribe("a", "logs", 5), 30);
  json_t *m = expect_type("a", "error");
  cr_assert_str_eq(str_at(json_object_get(m, "error"), "code"), "resume_gap");
  json_decref(m);
  for (int i = 21; i <= 30; i++)
    expect_event("a", "logs", i, i);
  stop();
}

Test(ws, resume_from_beyond_the_end_is_live)
{
  start(NULL);
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  log_event("logs", 1);
  cr_assert_eq(subscribe("a", "logs", 50), 1);
  publish_i("logs", 2);
  expect_event("a", "logs", 2, 2);
  stop();
}

/* ---------------------------------------------------------- slow clients */

Test(ws, slow_client_is_dropped_without_slowing_the_others)
{
  web_config_t c;
  web_config_defaults(&c);
  c.ws_queue_max = 32;
  start(&c);
  wt_ws_open(&drv, &srv, "fast", "ccm.v1.json");
  wt_ws_open(&drv, &srv, "slow", "ccm.v1.json");
  subscribe("fast", "logs", -1);
  subscribe("slow", "logs", -1);
  wt_ws_cmd(&drv, "{\"op\":\"pause\",\"name\":\"slow\"}");
  wt_ws_cmd(&drv, "{\"op\":\"quiet\",\"name\":\"fast\",\"on\":true}");
  /* The driver takes commands in order: once it answers this one, the
   * slow client is paused, before any event is published. */
  wt_ws_cmd(&drv, "{\"op\":\"count\",\"name\":\"fast\"}");
  json_decref(wt_ws_expect(&drv, "count", "fast"));
  /* 600 events of 32 KiB: more than the loopback socket buffers of the
   * stalled client plus its queue can hold. They go out in rounds of 8,
   * each seen by the fast client before the next: it never lags, and it
   * gets every round while the slow one reads nothing. */
  enum { N = 600, ROUND = 8 };
  char *pad = malloc(32 * 1024 + 1);
  memset(pad, 'p', 32 * 1024);
  pad[32 * 1024] = '\0';
  for (int i = 1; i <= N; i++) {
    json_t *data = json_pack("{s:i,s:s}", "i", i, "pad", pad);
    int rc;
    while ((rc = web_publish(srv.web, "logs", data)) == RT_EAGAIN)
      sched_yield();
    cr_assert_eq(rc, 0);
    json_decref(data);
    if (i % ROUND && i != N)
      continue;
    wt_ws_cmd(&drv, "{\"op\":\"waitseq\",\"name\":\"fast\",\"seq\":%d}",
              i);
    json_decref(wt_ws_expect(&drv, "seq", "fast"));
  }
  free(pad);
  wt_ws_cmd(&drv, "{\"op\":\"count\",\"name\":\"fast\"}");
  json_t *cnt = wt_ws_expect(&drv, "count", "fast");
  cr_assert_eq(int_at(cnt, "n"), N + 1, "subscribed + every event");
  json_decref(cnt);

  /* The slow one reads what was in flight, then the reason, then 1008. */
  wt_ws_cmd(&drv, "{\"op\":\"quiet\",\"name\":\"slow\",\"on\":true}");
  wt_ws_cmd(&drv, "{\"op\":\"resume\",\"name\":\"slow\"}");
  wt_ws_cmd(&drv, "{\"op\":\"quiet\",\"name\":\"slow\",\"on\":false}");
  json_t *ev;
  bool told = false;
  json_int_t last = 0;
  while ((ev = wt_ws_next(&drv, WT_WAIT_MS))) {
    const char *kind = str_at(ev, "ev");
    if (!strcmp(kind, "close")) {
      cr_assert_eq(int_at(ev, "code"), 1008);
      json_decref(ev);
      break;
    }
    if (!strcmp(kind, "msg")) {
      json_t *m = json_loads(str_at(ev, "text"), 0, NULL);
      if (!strcmp(str_at(m, "type"), "error")) {
        cr_assert_str_eq(str_at(json_object_get(m, "error"), "code"),
                         "slow_consumer");
        told = true;
      }
      json_decref(m);
    }
    json_decref(ev);
  }
  cr_assert(told, "the slow client was told why");
  wt_ws_cmd(&drv, "{\"op\":\"last\",\"name\":\"slow\"}");
  ev = wt_ws_expect(&drv, "last", "slow");
  last = int_at(ev, "seq");
  json_decref(ev);
  cr_assert_lt(last, N, "it was dropped before the end");

  /* It resumes from the last seq it got and misses nothing. */
  wt_ws_open(&drv, &srv, "again", "ccm.v1.json");
  wt_ws_cmd(&drv, "{\"op\":\"quiet\",\"name\":\"again\",\"on\":true}");
  send_pack("again", "{s:s,s:[s],s:I}", "type", "subscribe", "topics",
            "logs", "resume_from", last);
  wt_ws_cmd(&drv, "{\"op\":\"waitseq\",\"name\":\"again\",\"seq\":%d}", N);
  json_decref(wt_ws_expect(&drv, "seq", "again"));
  wt_ws_cmd(&drv, "{\"op\":\"count\",\"name\":\"again\"}");
  cnt = wt_ws_expect(&drv, "count", "again");
  cr_assert_eq(int_at(cnt, "n"), 1 + N - last, "subscribed + the rest");
  json_decref(cnt);
  cr_assert_eq(slow_consumers(), 1);
  stop();
}

/* --------------------------------------------------------- bad messages */

Test(ws, malformed_and_oversized_messages_close_with_a_reason)
{
  web_config_t c;
  web_config_defaults(&c);
  c.ws_max_message = 1024;
  start(&c);
  static const struct {
    const char *proto, *op_args, *code;
    int close;
  } cases[] = {
      {"ccm.v1.json", "\"text\":\"not json\"", "bad_frame", 1007},
      {"ccm.v1.json", "\"text\":\"[1,2]\"", "bad_frame", 1007},
      {"ccm.v1.json", "\"text\":\"{\\\"topics\\\":[]}\"", "bad_frame", 1007},
      {"ccm.v1.json", "\"hex\":\"80\"", "bad_frame", 1003},
      {"ccm.v1.msgpack", "\"text\":\"{}\"", "bad_frame", 1003},
      {"ccm.v1.msgpack", "\"hex\":\"dfffffffff\"", "bad_frame", 1007},
      {"ccm.v1.msgpack", "\"hex\":\"81a474797065c4027375\"", "bad_frame",
       1007},
      {"ccm.v1.msgpack", "\"hex\":\"80c0\"", "bad_frame", 1007},
      {"ccm.v1.msgpack",
       "\"hex\":\"919191919191919191919191919191919191919191\"",
       "bad_frame", 1007},
  };
  char name[16];
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    snprintf(name, sizeof(name), "c%zu", i);
    wt_ws_open(&drv, &srv, name, cases[i].proto);
    wt_ws_cmd(&drv, "{\"op\":\"send\",\"name\":\"%s\",%s}", name,
              cases[i].op_args);
    json_t *m = expect_type(name, "error");
    cr_assert_str_eq(str_at(json_object_get(m, "error"), "code"),
                     cases[i].code, "case %zu", i);
    json_decref(m);
    expect_close(name, cases[i].close);
  }
  /* Over the cap, in one frame. */
  char *big = malloc(2001);
  memset(big, 'x', 2000);
  big[2000] = '\0';
  wt_ws_open(&drv, &srv, "big", "ccm.v1.json");
  wt_ws_cmd(&drv, "{\"op\":\"send\",\"name\":\"big\",\"text\":\"%s\"}", big);
  free(big);
  json_t *m = expect_type("big", "error");
  cr_assert_str_eq(str_at(json_object_get(m, "error"), "code"), "too_large");
  json_decref(m);
  expect_close("big", 1009);
  /* The server is none the worse. */
  wt_resp_t r;
  wt_http(&srv, "GET", "/api/v1/health", NULL, NULL, &r);
  cr_assert_eq(r.status, 200);
  wt_resp_free(&r);
  wt_ws_open(&drv, &srv, "ok", "ccm.v1.json");
  subscribe("ok", "logs", -1);
  stop();
}

Test(ws, well_formed_bad_requests_keep_the_connection)
{
  start(NULL);
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  static const char *const bad[] = {
      "{\"type\":\"dance\"}",
      "{\"type\":\"subscribe\",\"topics\":[\"weather\"]}",
      "{\"type\":\"subscribe\",\"topics\":[]}",
      "{\"type\":\"subscribe\",\"topics\":\"tasks\"}",
      "{\"type\":\"subscribe\",\"topics\":[\"tasks\"],\"resume_from\":-1}",
      "{\"type\":\"subscribe\",\"topics\":[\"tasks\"],\"resume_from\":\"x\"}",
      "{\"type\":\"unsubscribe\",\"topics\":[7]}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    json_t *msg = json_loads(bad[i], 0, NULL);
    wt_ws_send(&drv, "a", msg);
    json_decref(msg);
    json_t *m = expect_type("a", "error");
    cr_assert_str_eq(str_at(json_object_get(m, "error"), "code"),
                     "bad_request", "%s", bad[i]);
    json_decref(m);
  }
  subscribe("a", "tasks", -1);
  stop();
}

/* -------------------------------------------------------------- upgrades */

static void open_with(const char *name, const char *path,
                      const char *protocol, const char *headers)
{
  wt_ws_cmd(&drv,
            "{\"op\":\"open\",\"name\":\"%s\",\"url\":\"ws://127.0.0.1:%d%s\""
            ",\"protocol\":\"%s\",\"headers\":{%s}}",
            name, srv.port, path, protocol, headers ? headers : "");
}

static void expect_open(const char *name)
{
  json_decref(wt_ws_expect(&drv, "open", name));
}

Test(ws, upgrades_are_filtered_by_path_protocol_and_origin)
{
  web_config_t c;
  web_config_defaults(&c);
  static const char *const extra[] = {"http://panel.example"};
  c.ws_origins = extra;
  c.n_ws_origins = 1;
  start(&c);
  open_with("p", "/other", "ccm.v1.json", NULL);
  expect_refused("p");
  open_with("q", "/ws", "", NULL);
  expect_refused("q");
  open_with("r", "/ws", "ccm.v2.xml", NULL);
  expect_refused("r");
  open_with("o", "/ws", "ccm.v1.json", "\"Origin\":\"http://evil.example\"");
  expect_refused("o");
  char same[128];
  snprintf(same, sizeof(same), "\"Origin\":\"http://127.0.0.1:%d\"",
           srv.port);
  open_with("s", "/ws", "ccm.v1.json", same);
  expect_open("s");
  open_with("x", "/ws", "ccm.v1.json", "\"Origin\":\"http://panel.example\"");
  expect_open("x");
  stop();
}

Test(ws, token_is_required_when_configured)
{
  web_config_t c;
  web_config_defaults(&c);
  c.auth_token = "tok-123";
  start(&c);
  open_with("none", "/ws", "ccm.v1.json", NULL);
  expect_refused("none");
  open_with("wrong", "/ws", "ccm.v1.json",
            "\"Authorization\":\"Bearer tok-124\"");
  expect_refused("wrong");
  open_with("hdr", "/ws", "ccm.v1.json",
            "\"Authorization\":\"Bearer tok-123\"");
  expect_open("hdr");
  open_with("arg", "/ws?access_token=tok-123", "ccm.v1.json", NULL);
  expect_open("arg");
  stop();
}

Test(ws, client_limit_refuses_the_next_one)
{
  web_config_t c;
  web_config_defaults(&c);
  c.ws_max_clients = 2;
  start(&c);
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  wt_ws_open(&drv, &srv, "b", "ccm.v1.json");
  open_with("c", "/ws", "ccm.v1.json", NULL);
  expect_refused("c");
  subscribe("a", "logs", -1); /* the others are unaffected */
  stop();
}

Test(ws, idle_clients_are_pinged_and_pings_answered)
{
  web_config_t c;
  web_config_defaults(&c);
  c.ws_ping_s = 1;
  start(&c);
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  wt_ws_cmd(&drv, "{\"op\":\"ping\",\"name\":\"a\"}");
  json_decref(wt_ws_expect(&drv, "pong", "a"));
  json_decref(wt_ws_expect(&drv, "ping", "a")); /* after ~1 s idle */
  stop();
}

/* ------------------------------------------------------------ fan-in */

static void *publish_thread(void *arg)
{
  int base = *(int *)arg;
  for (int i = 0; i < 100; i++)
    publish_i("metrics", base + i);
  return NULL;
}

Test(ws, many_publishers_make_one_ordered_stream)
{
  start(NULL);
  wt_ws_open(&drv, &srv, "a", "ccm.v1.json");
  subscribe("a", "metrics", -1);
  pthread_t t[4];
  int base[4] = {1000, 2000, 3000, 4000};
  for (int i = 0; i < 4; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, publish_thread, &base[i]), 0);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  json_int_t next[4] = {1000, 2000, 3000, 4000};
  for (int k = 1; k <= 400; k++) {
    json_t *m = expect_type("a", "event");
    cr_assert_eq(int_at(m, "seq"), k, "seqs arrive in order, no gaps");
    json_int_t i = int_at(json_object_get(m, "data"), "i");
    int who = (int)(i / 1000) - 1;
    cr_assert_eq(i, next[who]++, "each publisher's events in its order");
    json_decref(m);
  }
  stop();
}
