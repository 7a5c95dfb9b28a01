/*
 * test_port.c: the port contract of runtime/actor.h.
 *
 * A port is an address that a plain thread reads: rt_port_recv polls
 * (timeout 0 gives RT_ETIMEDOUT at once when empty), waits with a bound, or
 * forever; messages keep the senders' order; the capacity bounds it like a
 * mailbox; the notify hook is called from the sending thread when a message
 * lands in an empty port; rt_port_free closes it (later sends through a
 * retained address get RT_ESTOPPED) and frees what was queued; ports are not
 * actors for rt_runtime_foreach_actor.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "tests/support/rt_test.h"

TestSuite(port, .timeout = 60);

#define T_A (TST_MSG_BASE + 1)

Test(port, recv_poll_on_empty_port_times_out) {
  rt_runtime_t *rt = tst_runtime(1);
  rt_port_t *p = tst_port(rt, 8);
  cr_assert_not_null(rt_port_actor(p));
  rt_msg_t *m = (rt_msg_t *)1;
  uint64_t t0 = tst_now_ns();
  TST_RC(rt_port_recv(p, 0, &m), RT_ETIMEDOUT);
  cr_assert_null(m);
  cr_assert_lt(tst_now_ns() - t0, 5000000000ull, "timeout 0 does not block");
  tst_quiesce(rt);
  rt_port_free(p);
  tst_runtime_free(rt);
}

Test(port, recv_with_timeout_waits_at_least_that_long) {
  rt_runtime_t *rt = tst_runtime(1);
  rt_port_t *p = tst_port(rt, 8);
  rt_msg_t *m = NULL;
  uint64_t t0 = tst_now_ns();
  TST_RC(rt_port_recv(p, 50, &m), RT_ETIMEDOUT);
  cr_assert_geq(tst_now_ns() - t0, 50000000ull, "returned before 50 ms");
  cr_assert_null(m);
  tst_quiesce(rt);
  rt_port_free(p);
  tst_runtime_free(rt);
}

Test(port, recv_returns_messages_in_order) {
  rt_runtime_t *rt = tst_runtime(1);
  rt_port_t *p = tst_port(rt, 256);
  for (uint64_t i = 0; i < 200; i++)
    TST_OK(tst_send_u64(rt_port_actor(p), T_A, i));
  for (uint64_t i = 0; i < 200; i++) {
    rt_msg_t *m = NULL;
    cr_assert_eq(rt_port_recv(p, 0, &m), 0, "message %llu queued",
                 (unsigned long long)i);
    cr_assert_eq(rt_msg_type(m), T_A);
    cr_assert_eq(tst_u64(m), i);
    rt_msg_free(m);
  }
  tst_expect_silence(p, 0);
  tst_quiesce(rt);
  rt_port_free(p);
  tst_runtime_free(rt);
}

struct sender_arg {
  rt_port_t *port;
  tst_gate_t *go;
};

static void *late_sender(void *arg) {
  struct sender_arg *s = arg;
  tst_gate_wait(s->go);
  rt_msg_t *m = NULL;
  uint64_t v = 42;
  if (rt_msg_new(T_A, &v, sizeof v, &m) == 0) rt_send(rt_port_actor(s->port), &m);
  return NULL;
}

Test(port, recv_forever_wakes_on_send) {
  rt_runtime_t *rt = tst_runtime(1);
  rt_port_t *p = tst_port(rt, 8);
  tst_gate_t go;
  tst_gate_init(&go);
  struct sender_arg s = {p, &go};
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, late_sender, &s), 0);
  tst_gate_await_entered(&go, 1);
  tst_gate_open(&go);
  rt_msg_t *m = NULL;
  TST_OK(rt_port_recv(p, -1, &m));
  cr_assert_eq(tst_u64(m), 42u);
  rt_msg_free(m);
  pthread_join(th, NULL);
  tst_gate_destroy(&go);
  tst_quiesce(rt);
  rt_port_free(p);
  tst_runtime_free(rt);
}

Test(port, capacity_bounds_the_port) {
  rt_runtime_t *rt = tst_runtime(1);
  rt_port_t *p = tst_port(rt, 3);
  for (int i = 0; i < 3; i++)
    TST_OK(tst_send_u64(rt_port_actor(p), T_A, (uint64_t)i));
  TST_RC(tst_send_u64(rt_port_actor(p), T_A, 3), RT_EAGAIN);
  TST_RC(tst_send_u64(rt_port_actor(p), T_A, 4), RT_EAGAIN);
  rt_msg_t *m = tst_recv(p);
  cr_assert_eq(tst_u64(m), 0u);
  rt_msg_free(m);
  cr_assert_eq(tst_send_u64(rt_port_actor(p), T_A, 5), 0, "room again");
  cr_assert_eq(tst_drain(p), 3u);
  tst_quiesce(rt);
  rt_port_free(p);
  tst_runtime_free(rt);
}

struct notify_rec {
  atomic_int calls;
  pthread_t thread;
  void *arg_seen;
};

static void on_notify(void *arg) {
  struct notify_rec *r = arg;
  r->thread = pthread_self();
  r->arg_seen = arg;
  atomic_fetch_add(&r->calls, 1);
}

Test(port, notify_is_called_when_a_message_lands_in_an_empty_port) {
  rt_runtime_t *rt = tst_runtime(1);
  rt_port_t *p = tst_port(rt, 8);
  struct notify_rec r = {0};
  rt_port_set_notify(p, on_notify, &r);
  cr_assert_eq(atomic_load(&r.calls), 0);
  TST_OK(tst_send_u64(rt_port_actor(p), T_A, 1));
  cr_assert_eq(atomic_load(&r.calls), 1, "called by the send itself");
  cr_assert(pthread_equal(r.thread, pthread_self()), "from the sending thread");
  cr_assert_eq(r.arg_seen, (void *)&r);
  TST_OK(tst_send_u64(rt_port_actor(p), T_A, 2));
  cr_assert_eq(atomic_load(&r.calls), 1, "the port was not empty");
  /* The messages are still received with rt_port_recv. */
  cr_assert_eq(tst_drain(p), 2u);
  TST_OK(tst_send_u64(rt_port_actor(p), T_A, 3));
  cr_assert_eq(atomic_load(&r.calls), 2, "empty again, so notified again");
  cr_assert_eq(tst_drain(p), 1u);
  tst_quiesce(rt);
  rt_port_free(p);
  tst_runtime_free(rt);
}

/* An actor that forwards each message it gets to the port in its payload. */
static void fwd_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  rt_actor_t *to = NULL;
  size_t n;
  const void *d = rt_msg_data(msg, &n);
  if (n != sizeof to) return;
  memcpy(&to, d, sizeof to);
  rt_msg_t *m = NULL;
  if (rt_msg_new(T_A, NULL, 0, &m) == 0) rt_send(to, &m);
}
static const rt_actor_type_t fwd_type = {.name = "fwd", .on_msg = fwd_msg};

Test(port, notify_is_called_for_sends_from_actors) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_port_t *p = tst_port(rt, 8);
  struct notify_rec r = {0};
  rt_port_set_notify(p, on_notify, &r);
  rt_actor_t *a = NULL;
  TST_OK(rt_actor_spawn(rt, &fwd_type, NULL, NULL, &a));
  rt_actor_t *to = rt_port_actor(p);
  TST_OK(tst_send(a, T_A, &to, sizeof to));
  cr_assert(TST_EVENTUALLY(atomic_load(&r.calls) == 1, TST_WAIT_MS));
  cr_assert(!pthread_equal(r.thread, pthread_self()), "called on the worker");
  rt_msg_t *m = tst_recv_type(p, T_A);
  cr_assert_eq(rt_msg_sender(m), rt_actor_id(a));
  rt_msg_free(m);
  rt_actor_release(a);
  tst_quiesce(rt);
  rt_port_free(p);
  tst_runtime_free(rt);
}

Test(port, send_after_free_gives_estopped) {
  rt_runtime_t *rt = tst_runtime(1);
  rt_port_t *p = tst_port(rt, 8);
  rt_actor_t *addr = rt_actor_retain(rt_port_actor(p));
  for (int i = 0; i < 5; i++) cr_assert_eq(tst_send_u64(addr, T_A, (uint64_t)i), 0);
  rt_port_free(p); /* frees the 5 queued messages (LeakSanitizer checks) */
  TST_RC(tst_send_u64(addr, T_A, 9), RT_ESTOPPED);
  rt_actor_release(addr);
  rt_port_free(NULL);
  tst_runtime_free(rt);
}

static void count_actor(const rt_actor_stats_t *s, void *arg) {
  (void)s;
  (*(int *)arg)++;
}

Test(port, ports_are_not_listed_as_actors) {
  rt_runtime_t *rt = tst_runtime(1);
  rt_port_t *p = tst_port(rt, 8);
  rt_port_t *q = tst_port(rt, 8);
  int n = 0;
  rt_runtime_foreach_actor(rt, count_actor, &n);
  cr_assert_eq(n, 0);
  tst_quiesce(rt);
  rt_port_free(p);
  rt_port_free(q);
  tst_runtime_free(rt);
}

Test(port, new_port_after_shutdown_gives_eshutdown) {
  rt_runtime_t *rt = tst_runtime(1);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  rt_port_t *p = (rt_port_t *)1;
  TST_RC(rt_port_new(rt, 8, &p), RT_ESHUTDOWN);
  cr_assert_null(p);
  tst_runtime_free(rt);
}
