/*
 * test_stats.c: introspection in runtime/actor.h and runtime/rt.h.
 *
 * rt_actor_stats reports id, name, type name, processed count, depth,
 * capacity, restarts, the sampled handler-time histogram and the stopped
 * flag; rt_runtime_foreach_actor visits every live actor once (and not
 * stopped ones); rt_runtime_stats counts live actors and handled messages.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/rt_test.h"

TestSuite(stats, .timeout = 60);

enum { T_WORK = TST_MSG_BASE + 1, T_FAIL };

static void work_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  if (rt_msg_type(msg) == T_FAIL) rt_actor_fail(ctx, "asked to");
}
static const rt_actor_type_t work_type = {.name = "worker-type",
                                          .on_msg = work_msg};

static rt_actor_t *spawn(rt_runtime_t *rt, const char *name) {
  rt_spawn_opts_t opts = {.name = name, .max_restarts = 100,
                          .restart_window_ms = 60000};
  rt_actor_t *a = NULL;
  int rc = rt_actor_spawn(rt, &work_type, NULL, &opts, &a);
  cr_assert_eq(rc, 0, "spawn: %s", rt_strerror(rc));
  return a;
}

static uint64_t processed(const rt_actor_t *a) {
  rt_actor_stats_t st;
  rt_actor_stats(a, &st);
  return st.processed;
}

Test(stats, fresh_actor_snapshot) {
  rt_runtime_t *rt = tst_runtime(1);
  rt_actor_t *a = spawn(rt, "fresh");
  rt_actor_t *b = spawn(rt, NULL);
  rt_actor_stats_t st;
  memset(&st, 0xFF, sizeof st);
  rt_actor_stats(a, &st);
  cr_assert_eq(st.id, rt_actor_id(a));
  cr_assert_str_eq(st.name, "fresh");
  cr_assert_str_eq(st.type_name, "worker-type");
  cr_assert_eq(st.processed, 0u);
  cr_assert_eq(st.depth, 0u);
  cr_assert_eq(st.restarts, 0u);
  cr_assert_eq(st.rejected, 0u);
  cr_assert_eq(st.stopped, 0);
  cr_assert_eq(st.capacity, 65536u, "the default capacity");
  for (int i = 0; i < RT_HIST_BUCKETS; i++) cr_assert_eq(st.handler_ns_hist[i], 0u);
  rt_actor_stats(b, &st);
  cr_assert_str_eq(st.name, "", "unnamed");
  rt_actor_release(a);
  rt_actor_release(b);
  tst_runtime_free(rt);
}

Test(stats, processed_counts_handled_messages) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_actor_t *a = spawn(rt, NULL);
  enum { N = 1000 };
  for (int i = 0; i < N; i++) cr_assert_eq(tst_send(a, T_WORK, NULL, 0), 0);
  cr_assert(TST_EVENTUALLY(processed(a) == N, TST_WAIT_MS), "processed %llu",
            (unsigned long long)processed(a));
  tst_sleep_ms(20); /* an absence check: nothing more gets counted */
  cr_assert_eq(processed(a), (uint64_t)N);
  rt_actor_stats_t st;
  rt_actor_stats(a, &st);
  cr_assert_eq(st.depth, 0u);
  cr_assert_geq(st.depth_hwm, 1u);
  uint64_t sampled = 0;
  for (int i = 0; i < RT_HIST_BUCKETS; i++) sampled += st.handler_ns_hist[i];
  cr_assert_geq(sampled, 1u, "some handler calls were timed");
  cr_assert_leq(sampled, (uint64_t)N);
  cr_assert_geq(sampled, (uint64_t)N / RT_STATS_SAMPLE / 2,
                "about one in %d timed: %llu of %d", RT_STATS_SAMPLE,
                (unsigned long long)sampled, N);
  rt_actor_release(a);
  tst_runtime_free(rt);
}

Test(stats, restarts_are_counted) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_actor_t *a = spawn(rt, NULL);
  for (int i = 0; i < 4; i++) cr_assert_eq(tst_send(a, T_FAIL, NULL, 0), 0);
  TST_OK(tst_send(a, T_WORK, NULL, 0));
  rt_actor_stats_t st;
  cr_assert(TST_EVENTUALLY((rt_actor_stats(a, &st), st.restarts == 4), TST_WAIT_MS),
            "restarts %u", st.restarts);
  cr_assert(TST_EVENTUALLY(processed(a) == 5, TST_WAIT_MS),
            "the counters survive restarts (%llu)",
            (unsigned long long)processed(a));
  rt_actor_release(a);
  tst_runtime_free(rt);
}

Test(stats, stopped_flag_is_reported) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_actor_t *a = spawn(rt, "stopper");
  TST_OK(rt_actor_stop(a));
  rt_actor_stats_t st;
  cr_assert(TST_EVENTUALLY((rt_actor_stats(a, &st), st.stopped != 0), TST_WAIT_MS));
  rt_actor_release(a);
  tst_runtime_free(rt);
}

struct seen {
  uint64_t ids[256];
  int n;
  int bad_type;
};

static void collect(const rt_actor_stats_t *s, void *arg) {
  struct seen *v = arg;
  if (v->n < 256) v->ids[v->n] = s->id;
  v->n++;
  if (!s->type_name || strcmp(s->type_name, "worker-type") != 0) v->bad_type++;
}

static int count_live(rt_runtime_t *rt) {
  struct seen v = {0};
  rt_runtime_foreach_actor(rt, collect, &v);
  return v.n;
}

Test(stats, foreach_visits_every_live_actor_once) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_port_t *port = tst_port(rt, 4);
  enum { N = 100, STOPPED = 30 };
  rt_actor_t *a[N];
  for (int i = 0; i < N; i++) {
    char name[16];
    snprintf(name, sizeof name, "a%d", i);
    a[i] = spawn(rt, (i % 2) ? name : NULL);
  }
  struct seen v = {0};
  rt_runtime_foreach_actor(rt, collect, &v);
  cr_assert_eq(v.n, N, "visited %d of %d (ports excluded)", v.n, N);
  cr_assert_eq(v.bad_type, 0);
  for (int i = 0; i < N; i++) {
    int hits = 0;
    for (int k = 0; k < v.n; k++) hits += v.ids[k] == rt_actor_id(a[i]);
    cr_assert_eq(hits, 1, "actor %d visited %d times", i, hits);
  }
  rt_runtime_stats_t rs;
  rt_runtime_stats(rt, &rs);
  cr_assert_eq(rs.actors_live, (uint64_t)N);

  for (int i = 0; i < STOPPED; i++) cr_assert_eq(rt_actor_stop(a[i]), 0);
  cr_assert(TST_EVENTUALLY(count_live(rt) == N - STOPPED, TST_WAIT_MS),
            "stopped actors are not visited (%d)", count_live(rt));
  cr_assert(TST_EVENTUALLY((rt_runtime_stats(rt, &rs),
                            rs.actors_live == (uint64_t)(N - STOPPED)),
                           TST_WAIT_MS),
            "actors_live %llu", (unsigned long long)rs.actors_live);
  for (int i = 0; i < N; i++) rt_actor_release(a[i]);
  tst_quiesce(rt);
  rt_port_free(port);
  tst_runtime_free(rt);
}

Test(stats, runtime_stats_count_messages) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_runtime_stats_t rs;
  rt_runtime_stats(rt, &rs);
  cr_assert_eq(rs.actors_live, 0u);
  cr_assert_eq(rs.messages, 0u);
  enum { ACTORS = 10, PER = 300 };
  rt_actor_t *a[ACTORS];
  for (int i = 0; i < ACTORS; i++) a[i] = spawn(rt, NULL);
  for (int k = 0; k < PER; k++)
    for (int i = 0; i < ACTORS; i++) cr_assert_eq(tst_send(a[i], T_WORK, NULL, 0), 0);
  cr_assert(TST_EVENTUALLY((rt_runtime_stats(rt, &rs),
                            rs.messages == (uint64_t)ACTORS * PER),
                           TST_WAIT_MS),
            "messages %llu", (unsigned long long)rs.messages);
  cr_assert_eq(rs.actors_live, (uint64_t)ACTORS);
  for (int i = 0; i < ACTORS; i++) rt_actor_release(a[i]);
  tst_runtime_free(rt);
}
