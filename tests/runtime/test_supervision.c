/*
 * test_supervision.c: failure and restart (one-for-one) in runtime/actor.h.
 *
 * An actor that calls rt_actor_fail is torn down (on_stop) and restarted in
 * place: same id, same mailbox (messages queued behind the failing one are
 * still handled), fresh zeroed state, on_start called again. Its supervisor
 * (a port or an actor) gets RT_MSG_CHILD_RESTARTED with an rt_child_event_t
 * (child id, restart count, reason). Past max_restarts within the window,
 * or when on_start fails on restart, the actor stops for good and the
 * supervisor gets RT_MSG_CHILD_DOWN. The process survives all of it.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tests/support/rt_test.h"

TestSuite(supervision, .timeout = 60);

enum {
  T_INC = TST_MSG_BASE + 1, /* state->count++, report it to the out port */
  T_FAIL,                   /* rt_actor_fail(ctx, payload as reason) */
  T_BLOCK,                  /* wait at the gate */
  T_REPORT,                 /* reports carry the count */
  T_EVENT,                  /* a supervisor actor forwards events as this */
};

typedef struct child_state {
  unsigned char dirt[64];
  uint64_t count;
} child_state_t;

/* Shared with the hooks through the spawn arg. */
typedef struct probe {
  atomic_int starts;
  atomic_int stops;
  atomic_int start_zero_failures; /* on_start saw non-zero state */
  atomic_int fail_restart;        /* on_start fails after the first start */
  char log[64];                   /* 'S' on_start, 'T' on_stop, in order */
  atomic_int log_len;
  rt_actor_t *out;                /* T_REPORT goes here */
  tst_gate_t gate;
} probe_t;

static void log_event(probe_t *p, char c) {
  int i = atomic_fetch_add(&p->log_len, 1);
  if (i < (int)sizeof p->log - 1) p->log[i] = c;
}

static int child_start(rt_ctx_t *ctx, void *state, const void *arg) {
  probe_t *p = (probe_t *)arg;
  const unsigned char *s = state;
  for (size_t i = 0; i < sizeof(child_state_t); i++)
    if (s[i]) {
      atomic_fetch_add(&p->start_zero_failures, 1);
      break;
    }
  int n = atomic_fetch_add(&p->starts, 1);
  log_event(p, 'S');
  memset(state, 0x5A, sizeof(child_state_t)); /* dirty it for the next life */
  ((child_state_t *)state)->count = 0;
  ((child_state_t *)state)->dirt[0] = 0;
  /* Remember the probe for on_msg/on_stop. */
  memcpy(((child_state_t *)state)->dirt + 8, &p, sizeof p);
  return (n > 0 && atomic_load(&p->fail_restart)) ? -1 : 0;
}

static probe_t *probe_of(void *state) {
  probe_t *p;
  memcpy(&p, ((child_state_t *)state)->dirt + 8, sizeof p);
  return p;
}

static void child_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  child_state_t *st = state;
  probe_t *p = probe_of(state);
  switch (rt_msg_type(msg)) {
  case T_INC: {
    st->count++;
    rt_msg_t *r = NULL;
    if (rt_msg_new(T_REPORT, &st->count, sizeof st->count, &r) == 0)
      rt_send(p->out, &r);
    break;
  }
  case T_FAIL: {
    size_t n;
    const char *why = rt_msg_data(msg, &n);
    char reason[256] = "";
    if (n && n < sizeof reason) memcpy(reason, why, n);
    rt_actor_fail(ctx, n ? reason : NULL);
    break;
  }
  case T_BLOCK:
    tst_gate_wait(&p->gate);
    break;
  default:
    break;
  }
}

static void child_stop(rt_ctx_t *ctx, void *state) {
  probe_t *p = probe_of(state);
  atomic_fetch_add(&p->stops, 1);
  log_event(p, 'T');
}

static const rt_actor_type_t child_type = {
    .name = "child",
    .state_size = sizeof(child_state_t),
    .on_start = child_start,
    .on_msg = child_msg,
    .on_stop = child_stop,
};

typedef struct fixture {
  rt_runtime_t *rt;
  rt_port_t *sup; /* supervisor events */
  rt_port_t *out; /* T_REPORT */
  probe_t probe;
  rt_actor_t *child;
} fixture_t;

static void setup(fixture_t *f, unsigned max_restarts, unsigned window_ms,
                  rt_actor_t *supervisor) {
  memset(f, 0, sizeof *f);
  f->rt = tst_runtime(2);
  f->sup = tst_port(f->rt, 64);
  f->out = tst_port(f->rt, 1024);
  f->probe.out = rt_port_actor(f->out);
  tst_gate_init(&f->probe.gate);
  rt_spawn_opts_t opts = {
      .supervisor = supervisor ? supervisor : rt_port_actor(f->sup),
      .max_restarts = max_restarts,
      .restart_window_ms = window_ms,
  };
  int rc = rt_actor_spawn(f->rt, &child_type, &f->probe, &opts, &f->child);
  cr_assert_eq(rc, 0, "spawn: %s", rt_strerror(rc));
}

static void teardown(fixture_t *f) {
  rt_actor_release(f->child);
  tst_quiesce(f->rt);
  rt_port_free(f->sup);
  rt_port_free(f->out);
  tst_runtime_free(f->rt);
}

static int send_fail(rt_actor_t *a, const char *why) {
  return tst_send(a, T_FAIL, why, why ? strlen(why) : 0);
}

static uint64_t recv_count(rt_port_t *out) {
  rt_msg_t *m = tst_recv_type(out, T_REPORT);
  uint64_t v = tst_u64(m);
  rt_msg_free(m);
  return v;
}

static rt_child_event_t recv_event(rt_port_t *sup, uint32_t type,
                                   uint64_t child_id) {
  rt_msg_t *m = tst_recv(sup);
  cr_assert_eq(rt_msg_type(m), type, "event %#x, expected %#x",
               rt_msg_type(m), type);
  cr_assert_eq(rt_msg_sender(m), child_id, "sender is the child");
  rt_child_event_t ev;
  tst_payload(m, &ev, sizeof ev);
  cr_assert_eq(ev.child_id, child_id);
  cr_assert_eq(ev.reason[sizeof ev.reason - 1], '\0', "reason terminated");
  rt_msg_free(m);
  return ev;
}

Test(supervision, failed_actor_is_restarted_in_place_with_fresh_state) {
  fixture_t f;
  setup(&f, 3, 60000, NULL);
  uint64_t id = rt_actor_id(f.child);
  TST_OK(tst_send(f.child, T_INC, NULL, 0));
  TST_OK(tst_send(f.child, T_INC, NULL, 0));
  cr_assert_eq(recv_count(f.out), 1u);
  cr_assert_eq(recv_count(f.out), 2u);
  cr_assert_eq(send_fail(f.child, "boom"), 0);
  rt_child_event_t ev = recv_event(f.sup, RT_MSG_CHILD_RESTARTED, id);
  cr_assert_eq(ev.restarts, 1u);
  cr_assert_str_eq(ev.reason, "boom");
  /* Same reference, same id, still running, state reset. */
  TST_OK(rt_actor_stopped(f.child));
  TST_OK(tst_send(f.child, T_INC, NULL, 0));
  cr_assert_eq(recv_count(f.out), 1u, "the count restarted from zeroed state");
  cr_assert_eq(atomic_load(&f.probe.starts), 2, "on_start ran again");
  cr_assert_eq(atomic_load(&f.probe.stops), 1, "on_stop ran before restart");
  cr_assert_eq(atomic_load(&f.probe.start_zero_failures), 0,
               "each start saw zeroed state");
  cr_assert_eq(strncmp(f.probe.log, "STS", 3), 0, "hook order %s", f.probe.log);
  rt_actor_t *found = NULL;
  cr_assert_eq(rt_actor_lookup_id(f.rt, id, &found), 0, "found by the same id");
  cr_assert_eq(found, f.child, "the same actor");
  rt_actor_release(found);
  tst_expect_silence(f.sup, 0);
  teardown(&f);
}

Test(supervision, messages_queued_behind_the_failure_are_handled) {
  fixture_t f;
  setup(&f, 3, 60000, NULL);
  TST_OK(tst_send(f.child, T_BLOCK, NULL, 0));
  tst_gate_await_entered(&f.probe.gate, 1);
  cr_assert_eq(send_fail(f.child, "queued"), 0);
  enum { N = 100 };
  for (int i = 0; i < N; i++) cr_assert_eq(tst_send(f.child, T_INC, NULL, 0), 0);
  tst_gate_open(&f.probe.gate);
  rt_child_event_t ev =
      recv_event(f.sup, RT_MSG_CHILD_RESTARTED, rt_actor_id(f.child));
  cr_assert_eq(ev.restarts, 1u);
  for (uint64_t i = 1; i <= N; i++)
    cr_assert_eq(recv_count(f.out), i, "message %llu after the restart",
                 (unsigned long long)i);
  teardown(&f);
}

Test(supervision, restart_budget_spent_stops_the_actor) {
  fixture_t f;
  setup(&f, 2, 60000, NULL);
  uint64_t id = rt_actor_id(f.child);
  cr_assert_eq(send_fail(f.child, "one"), 0);
  rt_child_event_t ev = recv_event(f.sup, RT_MSG_CHILD_RESTARTED, id);
  cr_assert_eq(ev.restarts, 1u);
  cr_assert_str_eq(ev.reason, "one");
  cr_assert_eq(send_fail(f.child, "two"), 0);
  ev = recv_event(f.sup, RT_MSG_CHILD_RESTARTED, id);
  cr_assert_eq(ev.restarts, 2u);
  cr_assert_str_eq(ev.reason, "two");
  cr_assert_eq(send_fail(f.child, "three"), 0);
  ev = recv_event(f.sup, RT_MSG_CHILD_DOWN, id);
  cr_assert_eq(ev.restarts, 2u, "no restart this time");
  cr_assert_str_eq(ev.reason, "three");
  cr_assert(TST_EVENTUALLY(rt_actor_stopped(f.child) != 0, TST_WAIT_MS));
  cr_assert(TST_EVENTUALLY(atomic_load(&f.probe.stops) == 3, TST_WAIT_MS),
            "on_stop before each restart and at the end (%d)",
            atomic_load(&f.probe.stops));
  cr_assert_eq(atomic_load(&f.probe.starts), 3);
  TST_RC(tst_send(f.child, T_INC, NULL, 0), RT_ESTOPPED);
  rt_actor_t *found = NULL;
  cr_assert(TST_EVENTUALLY(rt_actor_lookup_id(f.rt, id, &found) == RT_ENOTFOUND,
                           TST_WAIT_MS));
  tst_expect_silence(f.sup, 0);
  teardown(&f);
  cr_assert_eq(atomic_load(&f.probe.stops), 3, "no extra on_stop at shutdown");
}

Test(supervision, zero_max_restarts_stops_on_first_failure) {
  fixture_t f;
  setup(&f, 0, 0, NULL);
  uint64_t id = rt_actor_id(f.child);
  cr_assert_eq(send_fail(f.child, NULL), 0);
  rt_child_event_t ev = recv_event(f.sup, RT_MSG_CHILD_DOWN, id);
  cr_assert_eq(ev.restarts, 0u);
  cr_assert_str_eq(ev.reason, "", "no reason given");
  cr_assert(TST_EVENTUALLY(atomic_load(&f.probe.stops) == 1, TST_WAIT_MS));
  cr_assert_eq(atomic_load(&f.probe.starts), 1);
  teardown(&f);
  cr_assert_eq(atomic_load(&f.probe.stops), 1);
}

Test(supervision, long_reason_is_truncated) {
  fixture_t f;
  setup(&f, 1, 60000, NULL);
  char why[200];
  memset(why, 'r', sizeof why - 1);
  why[sizeof why - 1] = '\0';
  cr_assert_eq(send_fail(f.child, why), 0);
  rt_child_event_t ev =
      recv_event(f.sup, RT_MSG_CHILD_RESTARTED, rt_actor_id(f.child));
  size_t n = strlen(ev.reason);
  cr_assert_eq(n, sizeof ev.reason - 1, "truncated to fit, got %zu", n);
  cr_assert_eq(strncmp(ev.reason, why, n), 0);
  teardown(&f);
}

Test(supervision, failing_on_start_at_restart_stops_the_actor) {
  fixture_t f;
  setup(&f, 5, 60000, NULL);
  atomic_store(&f.probe.fail_restart, 1);
  uint64_t id = rt_actor_id(f.child);
  cr_assert_eq(send_fail(f.child, "again"), 0);
  rt_child_event_t ev = recv_event(f.sup, RT_MSG_CHILD_DOWN, id);
  (void)ev;
  cr_assert(TST_EVENTUALLY(rt_actor_stopped(f.child) != 0, TST_WAIT_MS));
  cr_assert_eq(atomic_load(&f.probe.starts), 2, "the restart was attempted");
  TST_RC(tst_send(f.child, T_INC, NULL, 0), RT_ESTOPPED);
  tst_expect_silence(f.sup, 0);
  teardown(&f);
  /* on_stop ran for the life that started, not for the failed start. */
  cr_assert_eq(atomic_load(&f.probe.stops), 1);
}

Test(supervision, window_expiry_renews_the_budget) {
  fixture_t f;
  setup(&f, 1, 100, NULL);
  uint64_t id = rt_actor_id(f.child);
  cr_assert_eq(send_fail(f.child, "first"), 0);
  rt_child_event_t ev = recv_event(f.sup, RT_MSG_CHILD_RESTARTED, id);
  cr_assert_eq(ev.restarts, 1u);
  /* Let the window pass (a lower bound: longer only helps). */
  tst_sleep_ms(250);
  cr_assert_eq(send_fail(f.child, "second"), 0);
  ev = recv_event(f.sup, RT_MSG_CHILD_RESTARTED, id);
  cr_assert_eq(ev.restarts, 2u, "restarts so far, this one included");
  teardown(&f);
}

/* A supervisor that is an actor: forwards each event to a port. */
static void sup_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  rt_actor_t *out = *(rt_actor_t **)state;
  uint32_t t = rt_msg_type(msg);
  if (t == T_EVENT) { /* first message: where to forward */
    size_t n;
    const void *d = rt_msg_data(msg, &n);
    if (n == sizeof out) memcpy(state, d, sizeof out);
    return;
  }
  uint64_t rec[2] = {t, rt_msg_sender(msg)};
  rt_msg_t *m = NULL;
  if (out && rt_msg_new(T_EVENT, rec, sizeof rec, &m) == 0) rt_send(out, &m);
}
static const rt_actor_type_t sup_type = {
    .name = "sup", .state_size = sizeof(rt_actor_t *), .on_msg = sup_msg};

Test(supervision, supervisor_actor_gets_the_events) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_port_t *events = tst_port(rt, 16);
  rt_actor_t *sup = NULL;
  TST_OK(rt_actor_spawn(rt, &sup_type, NULL, NULL, &sup));
  rt_actor_t *evaddr = rt_port_actor(events);
  TST_OK(tst_send(sup, T_EVENT, &evaddr, sizeof evaddr));

  fixture_t f;
  memset(&f, 0, sizeof f);
  f.rt = rt;
  f.out = tst_port(rt, 16);
  f.probe.out = rt_port_actor(f.out);
  tst_gate_init(&f.probe.gate);
  rt_spawn_opts_t opts = {.supervisor = sup, .max_restarts = 1,
                          .restart_window_ms = 60000};
  TST_OK(rt_actor_spawn(rt, &child_type, &f.probe, &opts, &f.child));
  rt_actor_release(sup); /* the runtime keeps its own reference */
  uint64_t id = rt_actor_id(f.child);

  cr_assert_eq(send_fail(f.child, "x"), 0);
  uint64_t rec[2];
  rt_msg_t *m = tst_recv_type(events, T_EVENT);
  tst_payload(m, rec, sizeof rec);
  rt_msg_free(m);
  cr_assert_eq(rec[0], RT_MSG_CHILD_RESTARTED);
  cr_assert_eq(rec[1], id);
  cr_assert_eq(send_fail(f.child, "y"), 0);
  m = tst_recv_type(events, T_EVENT);
  tst_payload(m, rec, sizeof rec);
  rt_msg_free(m);
  cr_assert_eq(rec[0], RT_MSG_CHILD_DOWN);
  cr_assert_eq(rec[1], id);

  rt_actor_release(f.child);
  tst_quiesce(rt);
  rt_port_free(f.out);
  rt_port_free(events);
  tst_runtime_free(rt);
}

Test(supervision, restart_without_supervisor_is_counted) {
  rt_runtime_t *rt = tst_runtime(2);
  fixture_t f;
  memset(&f, 0, sizeof f);
  f.out = tst_port(rt, 16);
  f.probe.out = rt_port_actor(f.out);
  tst_gate_init(&f.probe.gate);
  rt_spawn_opts_t opts = {.max_restarts = 10, .restart_window_ms = 60000};
  TST_OK(rt_actor_spawn(rt, &child_type, &f.probe, &opts, &f.child));
  for (int i = 0; i < 3; i++) cr_assert_eq(send_fail(f.child, "z"), 0);
  TST_OK(tst_send(f.child, T_INC, NULL, 0));
  cr_assert_eq(recv_count(f.out), 1u, "alive after three restarts");
  rt_actor_stats_t st;
  rt_actor_stats(f.child, &st);
  cr_assert_eq(st.restarts, 3u);
  cr_assert_eq(st.stopped, 0);
  cr_assert_eq(atomic_load(&f.probe.starts), 4);
  rt_actor_release(f.child);
  tst_quiesce(rt);
  rt_port_free(f.out);
  tst_runtime_free(rt);
}

Test(supervision, failure_storm_keeps_the_process_alive, .timeout = 120) {
  /* Many actors failing at once, each restarted, then all stopped. */
  rt_runtime_t *rt = tst_runtime(2);
  rt_port_t *sup = tst_port(rt, 4096);
  rt_port_t *out = tst_port(rt, 4096);
  enum { N = 100, FAILS = 5 };
  static probe_t probes[N];
  rt_actor_t *kids[N];
  rt_spawn_opts_t opts = {.supervisor = rt_port_actor(sup),
                          .max_restarts = FAILS,
                          .restart_window_ms = 600000};
  for (int i = 0; i < N; i++) {
    memset(&probes[i], 0, sizeof probes[i]);
    probes[i].out = rt_port_actor(out);
    tst_gate_init(&probes[i].gate);
    TST_OK(rt_actor_spawn(rt, &child_type, &probes[i], &opts, &kids[i]));
  }
  for (int k = 0; k < FAILS; k++)
    for (int i = 0; i < N; i++) cr_assert_eq(send_fail(kids[i], "storm"), 0);
  int restarted = 0;
  for (int i = 0; i < N * FAILS; i++) {
    rt_msg_t *m = tst_recv_type(sup, RT_MSG_CHILD_RESTARTED);
    rt_msg_free(m);
    restarted++;
  }
  cr_assert_eq(restarted, N * FAILS);
  for (int i = 0; i < N; i++) {
    TST_OK(tst_send(kids[i], T_INC, NULL, 0));
    rt_msg_free(tst_recv_type(out, T_REPORT));
    rt_actor_release(kids[i]);
  }
  tst_quiesce(rt);
  rt_port_free(sup);
  rt_port_free(out);
  tst_runtime_free(rt);
  for (int i = 0; i < N; i++) {
    cr_assert_eq(atomic_load(&probes[i].starts), FAILS + 1);
    cr_assert_eq(atomic_load(&probes[i].stops), FAILS + 1);
  }
}
