/*
 * test_timer.c: the timer contract of runtime/timer.h.
 *
 * A one-shot timer sends one message of the chosen type with corr = its id
 * and an empty payload, never before its delay; a periodic one repeats until
 * cancelled; rt_timer_cancel returns RT_ENOTFOUND for a fired one-shot or a
 * second cancel; timers fire in deadline order, and timers due at the same
 * moment fire in creation order; a tick bypasses the mailbox bound, and a
 * periodic timer never has more than one undelivered tick queued. No
 * assertion depends on how late a timer fires, only that it is not early.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tests/support/rt_test.h"

TestSuite(timer, .timeout = 60);

enum { T_TICK = TST_MSG_BASE + 1, T_TOCK, T_BLOCK, T_CANCEL };

typedef struct fixture {
  rt_runtime_t *rt;
  rt_port_t *port;
  rt_actor_t *to;
} fixture_t;

static void setup(fixture_t *f, uint32_t capacity) {
  f->rt = tst_runtime(2);
  f->port = tst_port(f->rt, capacity);
  f->to = rt_port_actor(f->port);
}

static void teardown(fixture_t *f) {
  tst_quiesce(f->rt);
  rt_port_free(f->port);
  tst_runtime_free(f->rt);
}

static uint64_t start_timer(fixture_t *f, uint32_t type, uint64_t delay,
                            uint64_t period) {
  uint64_t id = 0;
  int rc = rt_timer_start(f->rt, f->to, type, delay, period, &id);
  cr_assert_eq(rc, 0, "rt_timer_start: %s", rt_strerror(rc));
  cr_assert_geq(id, 1u);
  return id;
}

static void check_tick(rt_msg_t *m, uint32_t type, uint64_t id) {
  cr_assert_eq(rt_msg_type(m), type);
  cr_assert_eq(rt_msg_corr(m), id, "corr %llu, timer %llu",
               (unsigned long long)rt_msg_corr(m), (unsigned long long)id);
  size_t n = 99;
  rt_msg_data(m, &n);
  cr_assert_eq(n, 0u, "a tick has an empty payload");
}

Test(timer, one_shot_fires_once_with_corr_equal_to_the_id) {
  fixture_t f;
  setup(&f, 16);
  uint64_t id = start_timer(&f, T_TICK, 10, 0);
  rt_msg_t *m = tst_recv(f.port);
  check_tick(m, T_TICK, id);
  rt_msg_free(m);
  tst_expect_silence(f.port, 100);
  cr_assert_eq(rt_timer_cancel(f.rt, id), RT_ENOTFOUND, "it already fired");
  teardown(&f);
}

Test(timer, one_shot_never_fires_early) {
  fixture_t f;
  setup(&f, 16);
  for (int i = 0; i < 3; i++) {
    uint64_t t0 = tst_now_ns();
    uint64_t id = start_timer(&f, T_TICK, 50, 0);
    rt_msg_t *m = tst_recv(f.port);
    uint64_t elapsed = tst_now_ns() - t0;
    check_tick(m, T_TICK, id);
    rt_msg_free(m);
    cr_assert_geq(elapsed, 50000000ull, "fired after %.3f ms", elapsed / 1e6);
  }
  teardown(&f);
}

Test(timer, zero_delay_fires) {
  fixture_t f;
  setup(&f, 16);
  uint64_t id = start_timer(&f, T_TICK, 0, 0);
  rt_msg_t *m = tst_recv(f.port);
  check_tick(m, T_TICK, id);
  rt_msg_free(m);
  teardown(&f);
}

Test(timer, periodic_repeats_until_cancelled) {
  fixture_t f;
  setup(&f, 64);
  uint64_t t0 = tst_now_ns();
  uint64_t id = start_timer(&f, T_TICK, 5, 5);
  for (int i = 0; i < 10; i++) {
    rt_msg_t *m = tst_recv(f.port);
    check_tick(m, T_TICK, id);
    rt_msg_free(m);
  }
  cr_assert_geq(tst_now_ns() - t0, 5000000ull * 10,
                "ten ticks of 5 ms take at least 50 ms");
  TST_OK(rt_timer_cancel(f.rt, id));
  cr_assert_eq(rt_timer_cancel(f.rt, id), RT_ENOTFOUND, "second cancel");
  /* A tick already queued may still arrive, but at most one. */
  unsigned queued = tst_drain(f.port);
  cr_assert_leq(queued, 1u);
  tst_expect_silence(f.port, 100);
  teardown(&f);
}

Test(timer, cancel_before_firing_prevents_the_tick) {
  fixture_t f;
  setup(&f, 16);
  uint64_t id = start_timer(&f, T_TICK, 200, 0);
  TST_OK(rt_timer_cancel(f.rt, id));
  TST_RC(rt_timer_cancel(f.rt, id), RT_ENOTFOUND);
  tst_expect_silence(f.port, 400);
  teardown(&f);
}

Test(timer, cancel_of_unknown_id_gives_enotfound) {
  fixture_t f;
  setup(&f, 16);
  TST_RC(rt_timer_cancel(f.rt, 0), RT_ENOTFOUND);
  TST_RC(rt_timer_cancel(f.rt, 123456789), RT_ENOTFOUND);
  teardown(&f);
}

Test(timer, timers_fire_in_deadline_order) {
  fixture_t f;
  setup(&f, 16);
  /* Started out of order, 40 ms apart. */
  static const uint64_t delays[] = {170, 10, 130, 50, 90};
  enum { N = sizeof delays / sizeof delays[0] };
  uint64_t ids[N];
  for (int i = 0; i < N; i++) ids[i] = start_timer(&f, T_TICK, delays[i], 0);
  static const int order[] = {1, 3, 4, 2, 0};
  for (int k = 0; k < N; k++) {
    rt_msg_t *m = tst_recv(f.port);
    check_tick(m, T_TICK, ids[order[k]]);
    rt_msg_free(m);
  }
  teardown(&f);
}

Test(timer, same_deadline_fires_in_creation_order) {
  fixture_t f;
  setup(&f, 256);
  enum { N = 100 };
  uint64_t ids[N];
  for (int i = 0; i < N; i++) ids[i] = start_timer(&f, T_TICK, 30, 0);
  for (int i = 0; i < N; i++) {
    rt_msg_t *m = tst_recv(f.port);
    check_tick(m, T_TICK, ids[i]);
    rt_msg_free(m);
  }
  teardown(&f);
}

Test(timer, ids_are_distinct) {
  fixture_t f;
  setup(&f, 16);
  uint64_t a = start_timer(&f, T_TICK, 100000, 0);
  uint64_t b = start_timer(&f, T_TICK, 100000, 0);
  cr_assert_neq(a, b);
  TST_OK(rt_timer_cancel(f.rt, a));
  uint64_t c = start_timer(&f, T_TICK, 100000, 0);
  cr_assert_neq(c, a, "ids are not reused");
  cr_assert_neq(c, b);
  teardown(&f); /* pending timers are dropped at shutdown */
}

Test(timer, reserved_type_is_refused) {
  fixture_t f;
  setup(&f, 16);
  uint64_t id = 77;
  TST_RC(rt_timer_start(f.rt, f.to, RT_MSG_TIMEOUT, 1, 0, &id), RT_EINVAL);
  cr_assert_eq(id, 0u, "id_out is 0 on failure");
  cr_assert_eq(rt_timer_start(f.rt, f.to, T_TICK, 1, 0, NULL), 0,
               "id_out may be NULL");
  rt_msg_free(tst_recv_type(f.port, T_TICK));
  teardown(&f);
}

Test(timer, start_after_shutdown_gives_eshutdown) {
  fixture_t f;
  setup(&f, 16);
  rt_runtime_shutdown(f.rt, RT_SHUTDOWN_DRAIN);
  uint64_t id = 77;
  TST_RC(rt_timer_start(f.rt, f.to, T_TICK, 1, 0, &id), RT_ESHUTDOWN);
  cr_assert_eq(id, 0u);
  teardown(&f);
}

Test(timer, tick_bypasses_the_mailbox_bound) {
  fixture_t f;
  setup(&f, 1);
  TST_OK(tst_send(f.to, T_TOCK, NULL, 0));
  cr_assert_eq(tst_send(f.to, T_TOCK, NULL, 0), RT_EAGAIN, "the port is full");
  uint64_t id = start_timer(&f, T_TICK, 1, 0);
  rt_msg_t *m = tst_recv_type(f.port, T_TOCK);
  rt_msg_free(m);
  m = tst_recv(f.port);
  check_tick(m, T_TICK, id);
  rt_msg_free(m);
  teardown(&f);
}

Test(timer, periodic_tick_bypasses_the_mailbox_bound) {
  fixture_t f;
  setup(&f, 1);
  TST_OK(tst_send(f.to, T_TOCK, NULL, 0));
  TST_RC(tst_send(f.to, T_TOCK, NULL, 0), RT_EAGAIN);
  uint64_t id = start_timer(&f, T_TICK, 1, 1);
  rt_actor_stats_t st;
  cr_assert(TST_EVENTUALLY((rt_actor_stats(f.to, &st), st.depth == 2), TST_WAIT_MS),
            "no tick got past the full port (depth %u)", st.depth);
  cr_assert_eq(st.rejected, 1u, "only the explicit send was refused");
  rt_msg_free(tst_recv_type(f.port, T_TOCK));
  rt_msg_t *m = tst_recv(f.port);
  check_tick(m, T_TICK, id);
  rt_msg_free(m);
  TST_OK(rt_timer_cancel(f.rt, id));
  teardown(&f);
}

/* An actor target: it blocks at a gate (so ticks pile up behind it), and
 * cancels its own timer from the handler when told to. */
typedef struct ticker {
  tst_gate_t gate;
  atomic_long ticks;
  atomic_int cancel_rc;
  rt_runtime_t *rt;
  rt_actor_t *out;
} ticker_t;
static ticker_t g_ticker;

static void ticker_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  switch (rt_msg_type(msg)) {
  case T_BLOCK:
    tst_gate_wait(&g_ticker.gate);
    break;
  case T_TICK:
    atomic_fetch_add(&g_ticker.ticks, 1);
    break;
  case T_CANCEL: {
    uint64_t id = 0;
    size_t n = 0;
    const void *d = rt_msg_data(msg, &n);
    if (n == sizeof id) memcpy(&id, d, sizeof id);
    atomic_store(&g_ticker.cancel_rc, rt_timer_cancel(rt_ctx_runtime(ctx), id));
    rt_msg_t *r = NULL;
    if (rt_msg_new(T_CANCEL, NULL, 0, &r) == 0) rt_send(g_ticker.out, &r);
    break;
  }
  }
}
static const rt_actor_type_t ticker_type = {.name = "ticker",
                                            .on_msg = ticker_msg};

Test(timer, periodic_timer_keeps_at_most_one_tick_queued) {
  fixture_t f;
  setup(&f, 16);
  tst_gate_init(&g_ticker.gate);
  g_ticker.out = f.to;
  rt_actor_t *a = NULL;
  TST_OK(rt_actor_spawn(f.rt, &ticker_type, NULL, NULL, &a));
  TST_OK(tst_send(a, T_BLOCK, NULL, 0));
  tst_gate_await_entered(&g_ticker.gate, 1);
  uint64_t id = 0;
  TST_OK(rt_timer_start(f.rt, a, T_TICK, 1, 1, &id));
  /* ~60 periods pass while the actor is busy (a lower bound). */
  tst_sleep_ms(60);
  rt_actor_stats_t st;
  rt_actor_stats(a, &st);
  /* depth counts the blocking message (taken in the running turn) plus
   * what is queued behind it: at most one tick. */
  cr_assert_leq(st.depth, 2u, "%u ticks queued behind a busy actor",
                st.depth - 1);
  tst_gate_open(&g_ticker.gate);
  cr_assert(TST_EVENTUALLY(atomic_load(&g_ticker.ticks) >= 3, TST_WAIT_MS),
            "the timer keeps ticking once the actor is free");
  /* Cancel from inside a handler. */
  TST_OK(tst_send_retry(a, T_CANCEL, &id, sizeof id));
  rt_msg_free(tst_recv_type(f.port, T_CANCEL));
  cr_assert_eq(atomic_load(&g_ticker.cancel_rc), 0);
  rt_actor_stats(a, &st);
  cr_assert_leq(st.depth_hwm, 3u, "hwm %u", st.depth_hwm);
  rt_actor_release(a);
  teardown(&f);
}
