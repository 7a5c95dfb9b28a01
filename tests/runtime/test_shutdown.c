/*
 * test_shutdown.c: the runtime's life cycle end (runtime/rt.h).
 *
 * rt_runtime_shutdown(DRAIN) lets every actor handle what was queued before
 * it stops; DROP stops each actor after its current message and frees the
 * rest (LeakSanitizer checks the freeing); on_stop runs once for every actor,
 * on a worker; afterwards spawns and external sends fail (RT_ESHUTDOWN or
 * another error, never a crash), as do timers, jobs, watches and ports;
 * shutdown is idempotent in either order of modes; rt_runtime_free drains
 * when not shut down and accepts NULL; shutdown from a handler asserts.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "tests/support/rt_test.h"

TestSuite(shutdown, .timeout = 60);

enum { T_BLOCK = TST_MSG_BASE + 1, T_WORK, T_SHUTDOWN, T_PROBE };

static tst_gate_t g_gate;
static atomic_long g_handled;
static atomic_long g_stops;
static atomic_long g_stops_on_main;
static pthread_t g_main;

static void worker_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  if (rt_msg_type(msg) == T_BLOCK) tst_gate_wait(&g_gate);
  if (rt_msg_type(msg) == T_SHUTDOWN)
    rt_runtime_shutdown(rt_ctx_runtime(ctx), RT_SHUTDOWN_DRAIN);
  if (rt_msg_type(msg) != T_PROBE) atomic_fetch_add(&g_handled, 1);
}

static void worker_stop(rt_ctx_t *ctx, void *state) {
  atomic_fetch_add(&g_stops, 1);
  if (pthread_equal(pthread_self(), g_main)) atomic_fetch_add(&g_stops_on_main, 1);
}

static const rt_actor_type_t worker_type = {
    .name = "worker", .on_msg = worker_msg, .on_stop = worker_stop};

static void init_globals(void) {
  tst_gate_init(&g_gate);
  atomic_store(&g_handled, 0);
  atomic_store(&g_stops, 0);
  atomic_store(&g_stops_on_main, 0);
  g_main = pthread_self();
}

static rt_actor_t *spawn_worker(rt_runtime_t *rt, uint32_t capacity) {
  rt_spawn_opts_t opts = {.mailbox_capacity = capacity};
  rt_actor_t *a = NULL;
  int rc = rt_actor_spawn(rt, &worker_type, NULL, &opts, &a);
  cr_assert_eq(rc, 0, "spawn: %s", rt_strerror(rc));
  return a;
}

struct shutdown_arg {
  rt_runtime_t *rt;
  rt_shutdown_mode_t mode;
};

static void *shutdown_thread(void *arg) {
  struct shutdown_arg *s = arg;
  rt_runtime_shutdown(s->rt, s->mode);
  return NULL;
}

/* Hold one actor busy with N messages queued behind it, start a shutdown in
 * another thread, wait until the runtime refuses external sends (the
 * shutdown has begun), then let the actor go. Returns the messages handled. */
static long shutdown_with_backlog(rt_shutdown_mode_t mode, long n) {
  init_globals();
  rt_runtime_t *rt = tst_runtime(2);
  rt_actor_t *a = spawn_worker(rt, (uint32_t)n + 8);
  rt_actor_t *probe = spawn_worker(rt, 0);
  TST_OK(tst_send(a, T_BLOCK, NULL, 0));
  tst_gate_await_entered(&g_gate, 1);
  for (long i = 0; i < n; i++) cr_assert_eq(tst_send(a, T_WORK, NULL, 0), 0);
  struct shutdown_arg s = {rt, mode};
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, shutdown_thread, &s), 0);
  int rc;
  cr_assert(TST_EVENTUALLY((rc = tst_send(probe, T_PROBE, NULL, 0)) != 0 && rc != RT_EAGAIN,
                           TST_WAIT_MS),
            "external sends are refused once shutdown begins");
  cr_assert(rc == RT_ESHUTDOWN || rc == RT_ESTOPPED, "%s", rt_strerror(rc));
  tst_gate_open(&g_gate);
  pthread_join(th, NULL);
  long handled = atomic_load(&g_handled);
  cr_assert_eq(atomic_load(&g_stops), 2, "on_stop for both actors");
  rt_actor_release(a);
  rt_actor_release(probe);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&g_stops), 2, "on_stop ran once each");
  return handled;
}

Test(shutdown, drain_handles_every_queued_message) {
  long n = 5000;
  long handled = shutdown_with_backlog(RT_SHUTDOWN_DRAIN, n);
  cr_assert_eq(handled, n + 1, "handled %ld of %ld queued", handled, n + 1);
}

Test(shutdown, drop_stops_after_the_current_message) {
  long n = 5000;
  long handled = shutdown_with_backlog(RT_SHUTDOWN_DROP, n);
  cr_assert_lt(handled, n + 1, "DROP handled all %ld messages", handled);
}

Test(shutdown, drain_counts_exactly_with_plain_sends) {
  init_globals();
  rt_runtime_t *rt = tst_runtime(2);
  enum { ACTORS = 8, PER = 2000 };
  rt_actor_t *a[ACTORS];
  for (int i = 0; i < ACTORS; i++) a[i] = spawn_worker(rt, PER);
  for (int k = 0; k < PER; k++)
    for (int i = 0; i < ACTORS; i++) cr_assert_eq(tst_send(a[i], T_WORK, NULL, 0), 0);
  for (int i = 0; i < ACTORS; i++) rt_actor_release(a[i]);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  cr_assert_eq(atomic_load(&g_handled), ACTORS * PER);
  cr_assert_eq(atomic_load(&g_stops), ACTORS);
  tst_runtime_free(rt);
}

Test(shutdown, on_stop_runs_for_every_actor_on_a_worker) {
  init_globals();
  rt_runtime_t *rt = tst_runtime(2);
  enum { N = 200 };
  for (int i = 0; i < N; i++) {
    rt_actor_t *a = spawn_worker(rt, 0);
    if (i % 3 == 0) cr_assert_eq(tst_send(a, T_WORK, NULL, 0), 0);
    rt_actor_release(a);
  }
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DROP);
  cr_assert_eq(atomic_load(&g_stops), N);
  cr_assert_eq(atomic_load(&g_stops_on_main), 0, "on_stop runs on a worker");
  rt_runtime_stats_t st;
  rt_runtime_stats(rt, &st);
  cr_assert_eq(st.actors_live, 0u);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&g_stops), N);
}

Test(shutdown, everything_fails_cleanly_after_shutdown) {
  init_globals();
  rt_runtime_t *rt = tst_runtime(2);
  rt_actor_t *a = spawn_worker(rt, 0);
  uint64_t id = rt_actor_id(a);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);

  rt_actor_t *b = (rt_actor_t *)1;
  TST_RC(rt_actor_spawn(rt, &worker_type, NULL, NULL, &b), RT_ESHUTDOWN);
  cr_assert_null(b);
  int rc = tst_send(a, T_WORK, NULL, 0);
  cr_assert(rc == RT_ESHUTDOWN || rc == RT_ESTOPPED, "rt_send: %s",
            rt_strerror(rc));
  rt_msg_t *m = tst_msg(T_WORK, NULL, 0);
  rc = rt_send_id(rt, id, &m);
  cr_assert_lt(rc, 0, "rt_send_id after shutdown");
  cr_assert_null(m);
  m = tst_msg(T_WORK, NULL, 0);
  rt_msg_t *reply = (rt_msg_t *)1;
  rc = rt_call(rt, a, &m, 100, &reply);
  cr_assert_lt(rc, 0, "rt_call after shutdown");
  cr_assert_neq(rc, RT_ETIMEDOUT, "fails at once, no wait for a reply");
  cr_assert_null(m);
  cr_assert_null(reply);
  TST_RC(rt_actor_stop(a), RT_ESTOPPED);
  cr_assert_neq(rt_actor_stopped(a), 0);
  rt_actor_t *found = (rt_actor_t *)1;
  TST_RC(rt_actor_lookup_id(rt, id, &found), RT_ENOTFOUND);
  cr_assert_null(found);
  rt_port_t *p = (rt_port_t *)1;
  TST_RC(rt_port_new(rt, 4, &p), RT_ESHUTDOWN);
  cr_assert_null(p);
  TST_RC(rt_timer_start(rt, a, T_WORK, 1, 0, NULL), RT_ESHUTDOWN);
  rt_actor_release(a);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&g_stops), 1);
}

Test(shutdown, shutdown_twice_is_harmless) {
  init_globals();
  rt_runtime_t *rt = tst_runtime(2);
  rt_actor_t *a = spawn_worker(rt, 0);
  rt_actor_release(a);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DROP);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&g_stops), 1);

  init_globals();
  rt = tst_runtime(1);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DROP);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  tst_runtime_free(rt);
}

Test(shutdown, free_without_shutdown_drains) {
  init_globals();
  rt_runtime_t *rt = tst_runtime(2);
  rt_actor_t *a = spawn_worker(rt, 4000);
  for (int i = 0; i < 3000; i++) cr_assert_eq(tst_send(a, T_WORK, NULL, 0), 0);
  rt_actor_release(a);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&g_handled), 3000);
  cr_assert_eq(atomic_load(&g_stops), 1);
}

Test(shutdown, free_null_is_a_noop) { rt_runtime_free(NULL); }

Test(shutdown, idle_runtime_starts_and_stops_quickly) {
  /* Create and tear down repeatedly: no thread, fd or memory leaks (ASan,
   * and the fd count stays put). */
  long fds_before = 0, fds_after = 0;
  for (int fd = 0; fd < 1024; fd++) fds_before += fcntl(fd, F_GETFD) != -1;
  for (int i = 0; i < 20; i++) {
    rt_runtime_t *rt = tst_runtime(2);
    tst_runtime_free(rt);
  }
  for (int fd = 0; fd < 1024; fd++) fds_after += fcntl(fd, F_GETFD) != -1;
  cr_assert_eq(fds_after, fds_before, "descriptors leaked: %ld -> %ld",
               fds_before, fds_after);
}

#ifndef NDEBUG
Test(shutdown, shutdown_from_a_handler_asserts, .signal = SIGABRT) {
  init_globals();
  rt_runtime_t *rt = tst_runtime(1);
  rt_actor_t *a = spawn_worker(rt, 0);
  TST_OK(tst_send(a, T_SHUTDOWN, NULL, 0));
  /* The assertion aborts the process from the worker. */
  for (;;) pause();
}
#endif
