/*
 * rt_test.c: helpers shared by the runtime test suites. See rt_test.h.
 */
#include "tests/support/rt_test.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

rt_runtime_t *tst_runtime(unsigned workers) {
  rt_config_t cfg;
  rt_config_defaults(&cfg);
  cfg.workers = workers;
  return tst_runtime_cfg(&cfg);
}

rt_runtime_t *tst_runtime_cfg(const rt_config_t *cfg) {
  rt_runtime_t *rt = (rt_runtime_t *)1;
  int rc = rt_runtime_new(cfg, &rt);
  cr_assert_eq(rc, 0, "rt_runtime_new: %s", rt_strerror(rc));
  cr_assert_not_null(rt);
  return rt;
}

void tst_quiesce(rt_runtime_t *rt) { rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN); }

void tst_runtime_free(rt_runtime_t *rt) {
  rt_runtime_free(rt);
  tst_check_leaks();
}

void tst_check_leaks(void) {
#if TST_ASAN /* TSan builds link the criterion stand-in, without the check */
  tst_leak_check();
#endif
}

rt_port_t *tst_port(rt_runtime_t *rt, uint32_t capacity) {
  rt_port_t *p = NULL;
  int rc = rt_port_new(rt, capacity, &p);
  cr_assert_eq(rc, 0, "rt_port_new: %s", rt_strerror(rc));
  cr_assert_not_null(p);
  return p;
}

rt_msg_t *tst_recv(rt_port_t *p) {
  rt_msg_t *m = NULL;
  int rc = rt_port_recv(p, TST_WAIT_MS, &m);
  cr_assert_eq(rc, 0, "rt_port_recv: %s (nothing arrived in %d ms)",
               rt_strerror(rc), TST_WAIT_MS);
  cr_assert_not_null(m);
  return m;
}

rt_msg_t *tst_recv_type(rt_port_t *p, uint32_t type) {
  rt_msg_t *m = tst_recv(p);
  cr_assert_eq(rt_msg_type(m), type, "expected message type %#x, got %#x",
               type, rt_msg_type(m));
  return m;
}

void tst_expect_silence(rt_port_t *p, int window_ms) {
  rt_msg_t *m = NULL;
  int rc = rt_port_recv(p, window_ms, &m);
  cr_assert_eq(rc, RT_ETIMEDOUT, "unexpected message type %#x corr %llu",
               m ? rt_msg_type(m) : 0u,
               m ? (unsigned long long)rt_msg_corr(m) : 0ull);
  cr_assert_null(m);
}

unsigned tst_drain(rt_port_t *p) {
  unsigned n = 0;
  rt_msg_t *m = NULL;
  while (rt_port_recv(p, 0, &m) == 0) {
    rt_msg_free(m);
    m = NULL;
    n++;
  }
  return n;
}

rt_msg_t *tst_msg(uint32_t type, const void *data, size_t len) {
  rt_msg_t *m = NULL;
  int rc = rt_msg_new(type, data, len, &m);
  cr_assert_eq(rc, 0, "rt_msg_new: %s", rt_strerror(rc));
  cr_assert_not_null(m);
  return m;
}

rt_msg_t *tst_msg_u64(uint32_t type, uint64_t v) {
  return tst_msg(type, &v, sizeof v);
}

int tst_send(rt_actor_t *to, uint32_t type, const void *data, size_t len) {
  rt_msg_t *m = tst_msg(type, data, len);
  int rc = rt_send(to, &m);
  cr_assert_null(m, "rt_send must consume the message (rc %d)", rc);
  return rc;
}

int tst_send_u64(rt_actor_t *to, uint32_t type, uint64_t v) {
  return tst_send(to, type, &v, sizeof v);
}

int tst_send_retry(rt_actor_t *to, uint32_t type, const void *data,
                   size_t len) {
  for (;;) {
    int rc = tst_send(to, type, data, len);
    if (rc != RT_EAGAIN) return rc;
    sched_yield();
  }
}

uint64_t tst_u64(const rt_msg_t *m) {
  uint64_t v;
  tst_payload(m, &v, sizeof v);
  return v;
}

void tst_payload(const rt_msg_t *m, void *dst, size_t len) {
  size_t n = 0;
  const void *d = rt_msg_data(m, &n);
  cr_assert_eq(n, len, "payload of %zu bytes, expected %zu", n, len);
  if (len) memcpy(dst, d, len);
}

uint64_t tst_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tst_sleep_ms(unsigned ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void tst_pause_(void) {
  struct timespec ts = {.tv_sec = 0, .tv_nsec = 200000};
  nanosleep(&ts, NULL);
}

/* Absolute CLOCK_REALTIME deadline @p ms from now, for pthread_cond_timedwait. */
static struct timespec deadline_in(int ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}

void tst_gate_init(tst_gate_t *g) {
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->open = 0;
  g->entered = 0;
}

void tst_gate_wait(tst_gate_t *g) {
  pthread_mutex_lock(&g->mu);
  g->entered++;
  pthread_cond_broadcast(&g->cv);
  while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}

void tst_gate_await_entered(tst_gate_t *g, int n) {
  struct timespec dl = deadline_in(TST_WAIT_MS);
  int rc = 0;
  pthread_mutex_lock(&g->mu);
  while (g->entered < n && rc != ETIMEDOUT)
    rc = pthread_cond_timedwait(&g->cv, &g->mu, &dl);
  int entered = g->entered;
  pthread_mutex_unlock(&g->mu);
  cr_assert_geq(entered, n, "only %d of %d threads reached the gate", entered, n);
}

void tst_gate_open(tst_gate_t *g) {
  pthread_mutex_lock(&g->mu);
  g->open = 1;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

void tst_gate_destroy(tst_gate_t *g) {
  pthread_cond_destroy(&g->cv);
  pthread_mutex_destroy(&g->mu);
}

void tst_latch_init(tst_latch_t *l, long count) {
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  l->count = count;
}

void tst_latch_count_down(tst_latch_t *l) {
  pthread_mutex_lock(&l->mu);
  if (l->count > 0 && --l->count == 0) pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

bool tst_latch_wait(tst_latch_t *l, int ms) {
  struct timespec dl = deadline_in(ms);
  int rc = 0;
  pthread_mutex_lock(&l->mu);
  while (l->count > 0 && rc != ETIMEDOUT)
    rc = pthread_cond_timedwait(&l->cv, &l->mu, &dl);
  bool done = l->count == 0;
  pthread_mutex_unlock(&l->mu);
  return done;
}

void tst_latch_destroy(tst_latch_t *l) {
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
}
