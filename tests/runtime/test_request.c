/*
 * test_request.c: request/reply in runtime/actor.h.
 *
 * rt_request from a handler delivers either the reply (an ordinary message
 * whose corr equals the request's) or, after the timeout, exactly one
 * RT_MSG_TIMEOUT with that corr, never both: a reply arriving after the
 * timeout is dropped. A failed rt_request delivers no timeout. rt_reply
 * works from a handler or a plain thread and refuses a non-request with
 * RT_EINVAL. rt_call from a plain thread returns the reply or RT_ETIMEDOUT,
 * and returns RT_EWRONGTHREAD on a worker.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/rt_test.h"

TestSuite(request, .timeout = 60);

enum {
  T_REQ = TST_MSG_BASE + 1,
  T_REPLY,
  T_GO,      /* client: send one request (payload: go_t) */
  T_FLUSH,   /* client: report KIND_FLUSH */
  T_REPORT,  /* to the port: report_t */
  T_CALL,    /* caller: try rt_call inside a handler */
  T_PLAIN,   /* echo: rt_reply on a non-request */
};

enum { KIND_SENT = 1, KIND_REPLY, KIND_TIMEOUT, KIND_FLUSH, KIND_RC };

typedef struct report {
  uint64_t kind, corr, a, b;
} report_t;

typedef struct go {
  rt_actor_t *target;
  uint32_t timeout_ms;
  uint32_t count;
} go_t;

static rt_actor_t *g_out; /* the test's port address */
static tst_gate_t g_gate; /* the slow actor waits here */

static void report(uint64_t kind, uint64_t corr, uint64_t a, uint64_t b) {
  report_t r = {kind, corr, a, b};
  rt_msg_t *m = NULL;
  if (rt_msg_new(T_REPORT, &r, sizeof r, &m) == 0) rt_send(g_out, &m);
}

static report_t recv_report(rt_port_t *p) {
  rt_msg_t *m = tst_recv_type(p, T_REPORT);
  report_t r;
  tst_payload(m, &r, sizeof r);
  rt_msg_free(m);
  return r;
}

/* echo: replies to requests with the request's payload; on T_PLAIN, checks
 * that rt_reply refuses a message that is not a request. */
static void echo_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  size_t n;
  const void *d = rt_msg_data(msg, &n);
  rt_msg_t *r = NULL;
  if (rt_msg_new(T_REPLY, d, n, &r) != 0) return;
  int rc = rt_reply(msg, &r);
  if (rt_msg_type(msg) == T_PLAIN) report(KIND_RC, 0, (uint64_t)(int64_t)rc, r == NULL);
  else rt_msg_free(r); /* NULL after rt_reply */
}
static const rt_actor_type_t echo_type = {.name = "echo", .on_msg = echo_msg};

static void silent_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {}
static const rt_actor_type_t silent_type = {.name = "silent",
                                            .on_msg = silent_msg};

/* slow: replies only once the test opens the gate, then sends T_FLUSH to
 * the requester (same sender, so it arrives after any reply). */
static void slow_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  tst_gate_wait(&g_gate);
  rt_msg_t *r = NULL;
  if (rt_msg_new(T_REPLY, "late", 4, &r) != 0) return;
  int rc = rt_reply(msg, &r);
  uint64_t requester = rt_msg_sender(msg);
  if (requester) {
    rt_msg_t *f = NULL;
    if (rt_msg_new(T_FLUSH, NULL, 0, &f) == 0)
      rt_send_id(rt_ctx_runtime(ctx), requester, &f);
  }
  report(KIND_RC, rt_msg_corr(msg), (uint64_t)(int64_t)rc, r == NULL);
}
static const rt_actor_type_t slow_type = {.name = "slow", .on_msg = slow_msg};

static void client_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  switch (rt_msg_type(msg)) {
  case T_GO: {
    go_t g;
    memcpy(&g, rt_msg_data(msg, &(size_t){0}), sizeof g);
    for (uint32_t i = 0; i < (g.count ? g.count : 1); i++) {
      rt_msg_t *q = NULL;
      if (rt_msg_new(T_REQ, "question", 8, &q) != 0) return;
      uint64_t corr = 0;
      int rc = rt_request(ctx, g.target, &q, g.timeout_ms, &corr);
      report(KIND_SENT, corr, (uint64_t)(int64_t)rc, q == NULL);
    }
    break;
  }
  case T_REPLY:
    report(KIND_REPLY, rt_msg_corr(msg), rt_msg_sender(msg), 0);
    break;
  case RT_MSG_TIMEOUT:
    report(KIND_TIMEOUT, rt_msg_corr(msg), rt_msg_sender(msg), 0);
    break;
  case T_FLUSH:
    report(KIND_FLUSH, 0, 0, 0);
    break;
  case T_CALL: {
    rt_actor_t *target = NULL;
    memcpy(&target, rt_msg_data(msg, &(size_t){0}), sizeof target);
    rt_msg_t *q = NULL, *reply = (rt_msg_t *)1;
    if (rt_msg_new(T_REQ, "x", 1, &q) != 0) return;
    int rc = rt_call(rt_ctx_runtime(ctx), target, &q, 100, &reply);
    report(KIND_RC, 0, (uint64_t)(int64_t)rc, q == NULL);
    if (rc == 0) rt_msg_free(reply);
    break;
  }
  }
}
static const rt_actor_type_t client_type = {.name = "client",
                                            .on_msg = client_msg};

typedef struct fixture {
  rt_runtime_t *rt;
  rt_port_t *port;
  rt_actor_t *client;
} fixture_t;

static rt_actor_t *spawn(rt_runtime_t *rt, const rt_actor_type_t *t) {
  rt_actor_t *a = NULL;
  int rc = rt_actor_spawn(rt, t, NULL, NULL, &a);
  cr_assert_eq(rc, 0, "spawn %s: %s", t->name, rt_strerror(rc));
  return a;
}

static void setup(fixture_t *f) {
  f->rt = tst_runtime(2);
  f->port = tst_port(f->rt, 4096);
  g_out = rt_port_actor(f->port);
  tst_gate_init(&g_gate);
  f->client = spawn(f->rt, &client_type);
}

static void teardown(fixture_t *f) {
  rt_actor_release(f->client);
  tst_quiesce(f->rt);
  rt_port_free(f->port);
  tst_runtime_free(f->rt);
}

static report_t go(fixture_t *f, rt_actor_t *target, uint32_t timeout_ms) {
  go_t g = {target, timeout_ms, 1};
  TST_OK(tst_send(f->client, T_GO, &g, sizeof g));
  report_t r = recv_report(f->port);
  cr_assert_eq(r.kind, KIND_SENT);
  cr_assert_eq(r.b, 1u, "rt_request consumed the message");
  return r;
}

Test(request, reply_arrives_with_matching_corr) {
  fixture_t f;
  setup(&f);
  rt_actor_t *echo = spawn(f.rt, &echo_type);
  report_t sent = go(&f, echo, 10000);
  cr_assert_eq((int64_t)sent.a, 0, "rt_request: %s", rt_strerror((int)sent.a));
  cr_assert_neq(sent.corr, 0u, "a request has a correlation id");
  report_t r = recv_report(f.port);
  cr_assert_eq(r.kind, KIND_REPLY);
  cr_assert_eq(r.corr, sent.corr);
  cr_assert_eq(r.a, rt_actor_id(echo), "the reply comes from the target");
  /* Exactly one outcome: no timeout follows (well past 10 s would be needed
   * for it, so check nothing else is pending now). */
  tst_expect_silence(f.port, 50);
  rt_actor_release(echo);
  teardown(&f);
}

Test(request, correlation_ids_are_distinct) {
  fixture_t f;
  setup(&f);
  rt_actor_t *echo = spawn(f.rt, &echo_type);
  go_t g = {echo, 10000, 50};
  TST_OK(tst_send(f.client, T_GO, &g, sizeof g));
  uint64_t sent[50], got = 0;
  int ns = 0;
  for (int i = 0; i < 100; i++) {
    report_t r = recv_report(f.port);
    if (r.kind == KIND_SENT) {
      for (int k = 0; k < ns; k++) cr_assert_neq(sent[k], r.corr);
      sent[ns++] = r.corr;
    } else {
      cr_assert_eq(r.kind, KIND_REPLY);
      got++;
    }
  }
  cr_assert_eq(ns, 50);
  cr_assert_eq(got, 50u);
  rt_actor_release(echo);
  teardown(&f);
}

Test(request, silent_target_yields_exactly_one_timeout) {
  fixture_t f;
  setup(&f);
  rt_actor_t *silent = spawn(f.rt, &silent_type);
  uint64_t t0 = tst_now_ns();
  report_t sent = go(&f, silent, 30);
  cr_assert_eq((int64_t)sent.a, 0);
  report_t r = recv_report(f.port);
  cr_assert_eq(r.kind, KIND_TIMEOUT);
  cr_assert_eq(r.corr, sent.corr);
  cr_assert_geq(tst_now_ns() - t0, 30000000ull, "not before 30 ms");
  tst_expect_silence(f.port, 200);
  rt_actor_release(silent);
  teardown(&f);
}

Test(request, late_reply_after_timeout_is_dropped) {
  fixture_t f;
  setup(&f);
  rt_actor_t *slow = spawn(f.rt, &slow_type);
  report_t sent = go(&f, slow, 20);
  report_t r = recv_report(f.port);
  cr_assert_eq(r.kind, KIND_TIMEOUT, "kind %llu", (unsigned long long)r.kind);
  cr_assert_eq(r.corr, sent.corr);
  tst_gate_open(&g_gate); /* now the slow actor replies, then flushes */
  r = recv_report(f.port);
  cr_assert_eq(r.kind, KIND_RC);
  cr_assert_eq(r.b, 1u, "rt_reply consumed the reply");
  /* The client sees the flush, and no reply before it. */
  r = recv_report(f.port);
  cr_assert_eq(r.kind, KIND_FLUSH, "a late reply was delivered (kind %llu)",
               (unsigned long long)r.kind);
  tst_expect_silence(f.port, 100);
  rt_actor_release(slow);
  teardown(&f);
}

Test(request, reply_or_timeout_never_both_under_races, .timeout = 120) {
  fixture_t f;
  setup(&f);
  rt_actor_t *echo = spawn(f.rt, &echo_type);
  enum { N = 500 };
  go_t g = {echo, 1, N};
  TST_OK(tst_send(f.client, T_GO, &g, sizeof g));
  static uint64_t corrs[N];
  static int outcomes[N];
  int ns = 0, done = 0;
  while (ns < N || done < N) {
    report_t r = recv_report(f.port);
    if (r.kind == KIND_SENT) {
      cr_assert_eq((int64_t)r.a, 0);
      corrs[ns++] = r.corr;
      continue;
    }
    cr_assert(r.kind == KIND_REPLY || r.kind == KIND_TIMEOUT);
    int k = 0;
    while (k < ns && corrs[k] != r.corr) k++;
    cr_assert_lt(k, ns, "outcome for an unknown corr %llu",
                 (unsigned long long)r.corr);
    outcomes[k]++;
    cr_assert_eq(outcomes[k], 1, "corr %llu got two outcomes",
                 (unsigned long long)r.corr);
    done++;
  }
  tst_expect_silence(f.port, 200);
  rt_actor_release(echo);
  teardown(&f);
}

Test(request, request_to_stopped_actor_fails_without_timeout) {
  fixture_t f;
  setup(&f);
  rt_actor_t *silent = spawn(f.rt, &silent_type);
  TST_OK(rt_actor_stop(silent));
  cr_assert(TST_EVENTUALLY(tst_send(silent, T_PLAIN, NULL, 0) == RT_ESTOPPED,
                           TST_WAIT_MS));
  report_t sent = go(&f, silent, 10);
  cr_assert_eq((int64_t)sent.a, RT_ESTOPPED);
  tst_expect_silence(f.port, 200);
  rt_actor_release(silent);
  teardown(&f);
}

Test(request, reply_from_a_plain_thread) {
  fixture_t f;
  setup(&f);
  rt_port_t *server = tst_port(f.rt, 16);
  report_t sent = go(&f, rt_port_actor(server), 10000);
  cr_assert_eq((int64_t)sent.a, 0);
  rt_msg_t *req = tst_recv_type(server, T_REQ);
  cr_assert_eq(rt_msg_corr(req), sent.corr);
  cr_assert_eq(rt_msg_sender(req), rt_actor_id(f.client));
  rt_msg_t *reply = tst_msg(T_REPLY, "answer", 6);
  TST_OK(rt_reply(req, &reply));
  cr_assert_null(reply);
  rt_msg_free(req);
  report_t r = recv_report(f.port);
  cr_assert_eq(r.kind, KIND_REPLY);
  cr_assert_eq(r.corr, sent.corr);
  rt_port_free(server);
  teardown(&f);
}

Test(request, reply_to_a_non_request_gives_einval) {
  fixture_t f;
  setup(&f);
  rt_msg_t *plain = tst_msg(T_PLAIN, NULL, 0);
  rt_msg_t *reply = tst_msg(T_REPLY, NULL, 0);
  TST_RC(rt_reply(plain, &reply), RT_EINVAL);
  cr_assert_null(reply, "consumed on failure");
  rt_msg_free(plain);
  /* And from a handler. */
  rt_actor_t *echo = spawn(f.rt, &echo_type);
  TST_OK(tst_send(echo, T_PLAIN, NULL, 0));
  report_t r = recv_report(f.port);
  cr_assert_eq(r.kind, KIND_RC);
  cr_assert_eq((int64_t)r.a, RT_EINVAL);
  cr_assert_eq(r.b, 1u);
  rt_actor_release(echo);
  teardown(&f);
}

Test(request, call_from_a_plain_thread_gets_the_reply) {
  fixture_t f;
  setup(&f);
  rt_actor_t *echo = spawn(f.rt, &echo_type);
  for (int i = 0; i < 20; i++) {
    char q[16];
    int n = snprintf(q, sizeof q, "q%d", i);
    rt_msg_t *m = tst_msg(T_REQ, q, (size_t)n);
    rt_msg_t *reply = NULL;
    int rc = rt_call(f.rt, echo, &m, 10000, &reply);
    cr_assert_eq(rc, 0, "rt_call: %s", rt_strerror(rc));
    cr_assert_null(m, "consumed");
    cr_assert_not_null(reply);
    cr_assert_eq(rt_msg_type(reply), T_REPLY);
    size_t len;
    const char *d = rt_msg_data(reply, &len);
    cr_assert_eq(len, (size_t)n);
    cr_assert_arr_eq(d, q, len, "the reply to this call");
    cr_assert_eq(rt_msg_sender(reply), rt_actor_id(echo));
    rt_msg_free(reply);
  }
  rt_actor_release(echo);
  teardown(&f);
}

Test(request, call_times_out) {
  fixture_t f;
  setup(&f);
  rt_actor_t *silent = spawn(f.rt, &silent_type);
  rt_msg_t *m = tst_msg(T_REQ, "?", 1);
  rt_msg_t *reply = (rt_msg_t *)1;
  uint64_t t0 = tst_now_ns();
  TST_RC(rt_call(f.rt, silent, &m, 50, &reply), RT_ETIMEDOUT);
  cr_assert_geq(tst_now_ns() - t0, 50000000ull, "not before 50 ms");
  cr_assert_null(m);
  cr_assert_null(reply, "nothing to free after a timeout");
  rt_actor_release(silent);
  teardown(&f);
}

Test(request, late_reply_to_a_call_does_not_leak_into_the_next) {
  fixture_t f;
  setup(&f);
  rt_actor_t *slow = spawn(f.rt, &slow_type);
  rt_actor_t *echo = spawn(f.rt, &echo_type);
  rt_msg_t *m = tst_msg(T_REQ, "?", 1);
  rt_msg_t *reply = NULL;
  TST_RC(rt_call(f.rt, slow, &m, 20, &reply), RT_ETIMEDOUT);
  tst_gate_open(&g_gate);
  report_t r = recv_report(f.port); /* the slow actor replied (late) */
  cr_assert_eq(r.kind, KIND_RC);
  cr_assert_eq(r.b, 1u);
  m = tst_msg(T_REQ, "fresh", 5);
  TST_OK(rt_call(f.rt, echo, &m, 10000, &reply));
  size_t len;
  const char *d = rt_msg_data(reply, &len);
  cr_assert_eq(len, 5u);
  cr_assert_arr_eq(d, "fresh", 5, "got the late reply instead");
  rt_msg_free(reply);
  rt_actor_release(slow);
  rt_actor_release(echo);
  teardown(&f);
}

Test(request, call_to_stopped_actor_fails) {
  fixture_t f;
  setup(&f);
  rt_actor_t *silent = spawn(f.rt, &silent_type);
  TST_OK(rt_actor_stop(silent));
  cr_assert(TST_EVENTUALLY(tst_send(silent, T_PLAIN, NULL, 0) == RT_ESTOPPED,
                           TST_WAIT_MS));
  rt_msg_t *m = tst_msg(T_REQ, "?", 1);
  rt_msg_t *reply = (rt_msg_t *)1;
  TST_RC(rt_call(f.rt, silent, &m, 10000, &reply), RT_ESTOPPED);
  cr_assert_null(m);
  cr_assert_null(reply);
  rt_actor_release(silent);
  teardown(&f);
}

Test(request, call_inside_a_handler_gives_ewrongthread) {
  fixture_t f;
  setup(&f);
  rt_actor_t *echo = spawn(f.rt, &echo_type);
  TST_OK(tst_send(f.client, T_CALL, &echo, sizeof echo));
  report_t r = recv_report(f.port);
  cr_assert_eq(r.kind, KIND_RC);
  cr_assert_eq((int64_t)r.a, RT_EWRONGTHREAD, "rt_call on a worker: %s",
               rt_strerror((int)r.a));
  cr_assert_eq(r.b, 1u, "the message is consumed");
  tst_expect_silence(f.port, 50);
  rt_actor_release(echo);
  teardown(&f);
}
