/*
 * test_sched.c: the scheduler's guarantees (runtime/rt.h, runtime/actor.h).
 *
 * The configuration defaults are as documented and the runtime runs the
 * requested number of workers; with 1 and with 2 workers, every message to
 * every one of many actors is handled; an actor that floods itself does not
 * starve another actor (the batch bound); one actor's hooks never run on two
 * workers at once, and its state is seen consistently across workers; an
 * idle worker's spin shrinks when work arrives sparsely from outside and
 * grows back when it arrives in a stream.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/rt_test.h"

TestSuite(sched, .timeout = 120);

enum { T_WORK = TST_MSG_BASE + 1, T_FLOOD, T_PING, T_PONG, T_BALL };

Test(sched, config_defaults_are_documented) {
  rt_config_t cfg;
  memset(&cfg, 0xFF, sizeof cfg);
  rt_config_defaults(&cfg);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  cr_assert(cfg.workers == 0 || cfg.workers == (unsigned)cpus,
            "workers = CPUs (or 0 meaning that): %u", cfg.workers);
  cr_assert_eq(cfg.batch, 100u);
  cr_assert_eq(cfg.mailbox_capacity, 65536u);
  cr_assert_eq(cfg.max_payload, (size_t)16 << 20);
  cr_assert_eq(cfg.blocking_threads, 2u);
  cr_assert_eq(cfg.spin_us, 200u);
}

Test(sched, runtime_runs_the_requested_workers) {
  for (unsigned w = 1; w <= 3; w++) {
    rt_runtime_t *rt = tst_runtime(w);
    cr_assert_eq(rt_runtime_workers(rt), w);
    tst_runtime_free(rt);
  }
  rt_runtime_t *rt = tst_runtime(0);
  cr_assert_eq(rt_runtime_workers(rt), (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
               "0 workers means one per online CPU");
  tst_runtime_free(rt);
  rt = NULL;
  cr_assert_eq(rt_runtime_new(NULL, &rt), 0, "NULL config means defaults");
  cr_assert_not_null(rt);
  tst_runtime_free(rt);
}

/* ---- many actors ---- */
enum { MANY = 1000, PER_ACTOR = 20 };
static atomic_int g_per_actor[MANY];
static atomic_long g_total;
static rt_actor_t *g_done; /* port told when all are handled */

static void many_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  uint64_t idx;
  memcpy(&idx, rt_msg_data(msg, &(size_t){0}), sizeof idx);
  atomic_fetch_add(&g_per_actor[idx], 1);
  if (atomic_fetch_add(&g_total, 1) + 1 == (long)MANY * PER_ACTOR) {
    rt_msg_t *m = NULL;
    if (rt_msg_new(T_PONG, NULL, 0, &m) == 0) rt_send(g_done, &m);
  }
}
static const rt_actor_type_t many_type = {.name = "many", .on_msg = many_msg};

static void many_actors_all_processed(unsigned workers) {
  rt_runtime_t *rt = tst_runtime(workers);
  rt_port_t *done = tst_port(rt, 4);
  g_done = rt_port_actor(done);
  static rt_actor_t *a[MANY];
  for (int i = 0; i < MANY; i++)
    TST_OK(rt_actor_spawn(rt, &many_type, NULL, NULL, &a[i]));
  for (int k = 0; k < PER_ACTOR; k++)
    for (uint64_t i = 0; i < MANY; i++)
      TST_OK(tst_send_u64(a[i], T_WORK, i));
  rt_msg_free(tst_recv_type(done, T_PONG));
  for (int i = 0; i < MANY; i++)
    cr_assert_eq(atomic_load(&g_per_actor[i]), PER_ACTOR, "actor %d", i);
  for (int i = 0; i < MANY; i++) rt_actor_release(a[i]);
  tst_quiesce(rt);
  rt_port_free(done);
  tst_runtime_free(rt);
}

Test(sched, many_actors_all_processed_1_worker) { many_actors_all_processed(1); }
Test(sched, many_actors_all_processed_2_workers) { many_actors_all_processed(2); }

/* ---- fairness ---- */
static atomic_int g_flooding;
static atomic_long g_floods;

static void flood_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  atomic_fetch_add(&g_floods, 1);
  if (!atomic_load(&g_flooding)) return;
  /* Two more for each one handled: the mailbox stays full. */
  for (int i = 0; i < 2; i++) {
    rt_msg_t *m = NULL;
    if (rt_msg_new(T_FLOOD, NULL, 0, &m) == 0) rt_send(rt_self(ctx), &m);
  }
}
static const rt_actor_type_t flood_type = {.name = "flood", .on_msg = flood_msg};

static void victim_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  rt_msg_t *m = NULL;
  if (rt_msg_new(T_PONG, NULL, 0, &m) == 0) rt_reply(msg, &m);
}
static const rt_actor_type_t victim_type = {.name = "victim",
                                            .on_msg = victim_msg};

static void flooder_does_not_starve(unsigned workers) {
  rt_runtime_t *rt = tst_runtime(workers);
  rt_spawn_opts_t opts = {.mailbox_capacity = 1024};
  rt_actor_t *flood = NULL, *victim = NULL;
  atomic_store(&g_flooding, 1);
  TST_OK(rt_actor_spawn(rt, &flood_type, NULL, &opts, &flood));
  TST_OK(rt_actor_spawn(rt, &victim_type, NULL, NULL, &victim));
  TST_OK(tst_send(flood, T_FLOOD, NULL, 0));
  /* Wait until the flood is well under way. */
  cr_assert(TST_EVENTUALLY(atomic_load(&g_floods) > 10000, TST_WAIT_MS));
  for (int i = 0; i < 20; i++) {
    rt_msg_t *m = tst_msg(T_PING, NULL, 0), *reply = NULL;
    int rc = rt_call(rt, victim, &m, TST_WAIT_MS, &reply);
    cr_assert_eq(rc, 0, "the victim starved: %s", rt_strerror(rc));
    rt_msg_free(reply);
  }
  cr_assert_gt(atomic_load(&g_floods), 10000);
  atomic_store(&g_flooding, 0);
  TST_OK(rt_actor_stop(flood));
  TST_OK(rt_actor_stop(victim));
  rt_actor_release(flood);
  rt_actor_release(victim);
  tst_runtime_free(rt);
}

Test(sched, flooding_actor_does_not_starve_another_1_worker) {
  flooder_does_not_starve(1);
}
Test(sched, flooding_actor_does_not_starve_another_2_workers) {
  flooder_does_not_starve(2);
}

/* ---- one worker at a time per actor ---- */
static atomic_int g_inside;
static atomic_int g_overlaps;
static atomic_long g_handled_excl;

typedef struct excl_state {
  uint64_t plain_counter; /* not atomic: the runtime serialises hooks */
} excl_state_t;

static void excl_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  excl_state_t *st = state;
  if (atomic_fetch_add(&g_inside, 1) != 0) atomic_fetch_add(&g_overlaps, 1);
  uint64_t v = st->plain_counter;
  for (volatile int i = 0; i < 50; i++) {
  }
  st->plain_counter = v + 1;
  atomic_fetch_sub(&g_inside, 1);
  if (rt_msg_type(msg) == T_PING) {
    rt_msg_t *m = NULL;
    if (rt_msg_new(T_PONG, &st->plain_counter, sizeof st->plain_counter, &m) == 0)
      rt_reply(msg, &m);
  }
  atomic_fetch_add(&g_handled_excl, 1);
}
static const rt_actor_type_t excl_type = {
    .name = "excl", .state_size = sizeof(excl_state_t), .on_msg = excl_msg};

struct pusher {
  rt_actor_t *to;
  long n;
};

static void *pusher(void *arg) {
  struct pusher *p = arg;
  for (long i = 0; i < p->n; i++) {
    for (;;) {
      rt_msg_t *m = NULL;
      if (rt_msg_new(T_WORK, NULL, 0, &m) != 0) abort();
      int rc = rt_send(p->to, &m);
      if (rc == 0) break;
      if (rc != RT_EAGAIN) abort();
      sched_yield();
    }
  }
  return NULL;
}

Test(sched, hooks_of_one_actor_never_overlap) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_actor_t *a = NULL;
  TST_OK(rt_actor_spawn(rt, &excl_type, NULL, NULL, &a));
  enum { THREADS = 4 };
  const long per = TST_SANITIZED ? 5000 : 50000;
  pthread_t th[THREADS];
  struct pusher p = {a, per};
  for (int i = 0; i < THREADS; i++)
    cr_assert_eq(pthread_create(&th[i], NULL, pusher, &p), 0);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  rt_msg_t *m = tst_msg(T_PING, NULL, 0), *reply = NULL;
  TST_OK(rt_call(rt, a, &m, TST_WAIT_MS, &reply));
  cr_assert_eq(tst_u64(reply), (uint64_t)THREADS * per + 1,
               "every increment of the unlocked state is seen");
  rt_msg_free(reply);
  cr_assert_eq(atomic_load(&g_overlaps), 0, "a hook ran on two workers at once");
  rt_actor_release(a);
  tst_runtime_free(rt);
}

/* ---- ping-pong between actors ---- */
static rt_actor_t *g_pong_done;
static void ball_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  uint64_t v[2]; /* rounds left, peer id */
  memcpy(v, rt_msg_data(msg, &(size_t){0}), sizeof v);
  if (v[0] == 0) {
    rt_msg_t *m = NULL;
    if (rt_msg_new(T_PONG, NULL, 0, &m) == 0) rt_send(g_pong_done, &m);
    return;
  }
  uint64_t next[2] = {v[0] - 1, rt_actor_id(rt_self(ctx))};
  rt_msg_t *m = NULL;
  if (rt_msg_new(T_BALL, next, sizeof next, &m) == 0)
    rt_send_id(rt_ctx_runtime(ctx), v[1], &m);
}
static const rt_actor_type_t ball_type = {.name = "ball", .on_msg = ball_msg};

static void ping_pong(unsigned workers) {
  rt_runtime_t *rt = tst_runtime(workers);
  rt_port_t *done = tst_port(rt, 4);
  g_pong_done = rt_port_actor(done);
  rt_actor_t *a = NULL, *b = NULL;
  TST_OK(rt_actor_spawn(rt, &ball_type, NULL, NULL, &a));
  TST_OK(rt_actor_spawn(rt, &ball_type, NULL, NULL, &b));
  uint64_t start[2] = {TST_SANITIZED ? 20000 : 200000, rt_actor_id(b)};
  TST_OK(tst_send(a, T_BALL, start, sizeof start));
  rt_msg_free(tst_recv_type(done, T_PONG));
  rt_actor_release(a);
  rt_actor_release(b);
  tst_quiesce(rt);
  rt_port_free(done);
  tst_runtime_free(rt);
}

Test(sched, ping_pong_completes_1_worker) { ping_pong(1); }
Test(sched, ping_pong_completes_2_workers) { ping_pong(2); }

/* ---- the idle spin adapts (sched.c spin_adapt) ---- */
/* An echo actor: every T_WORK is answered on the port it names. */
static rt_actor_t *g_echo_to;
static void echo_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  (void)ctx;
  (void)state;
  if (rt_msg_type(msg) == T_WORK) tst_send_u64(g_echo_to, T_PONG, tst_u64(msg));
}
static const rt_actor_type_t echo_type = {.name = "echo", .on_msg = echo_msg};

/* A long spin_us (20 ms, floor 625 us) keeps the timescales far above
 * thread wake-up noise, also in the sanitizer builds. */
enum { SPIN_US = 20000, SPARSE = 12, SPARSE_GAP_MS = 45, STREAM = 400,
       STREAM_GAP_US = 100 };

static void pause_us(unsigned us) {
  struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* Messages from outside the runtime far apart (the gaps are the load being
 * modelled, not waits for a result: each answer is received before the
 * next send): every spin in between times out, so the budget falls from
 * spin_us to its floor and the worker parks almost at once instead of
 * spinning spin_us per message. Then messages 100 us apart, which arrive
 * while the worker spins: the budget climbs back to spin_us. */
Test(sched, idle_spin_shrinks_for_sparse_work_and_grows_back_for_a_stream) {
  rt_config_t cfg;
  rt_config_defaults(&cfg);
  cfg.workers = 1;
  cfg.spin_us = SPIN_US;
  rt_runtime_t *rt = tst_runtime_cfg(&cfg);
  rt_port_t *port = tst_port(rt, 64);
  g_echo_to = rt_port_actor(port);
  rt_actor_t *echo = NULL;
  TST_OK(rt_actor_spawn(rt, &echo_type, NULL, NULL, &echo));
  rt_runtime_stats_t st;
  rt_runtime_stats(rt, &st);
  /* It starts at spin_us; an idle worker may have halved it already. */
  cr_assert_leq(st.spin_ns_max, SPIN_US * 1000ull, "never above spin_us");

  for (uint64_t i = 0; i < SPARSE; i++) {
    TST_OK(tst_send_u64(echo, T_WORK, i));
    rt_msg_t *m = tst_recv_type(port, T_PONG);
    cr_assert_eq(tst_u64(m), i);
    rt_msg_free(m);
    tst_sleep_ms(SPARSE_GAP_MS);
  }
  rt_runtime_stats(rt, &st);
  cr_assert_geq(st.spin_timeouts, SPARSE / 2, "spins that found nothing: %llu",
                (unsigned long long)st.spin_timeouts);
  cr_assert_leq(st.spin_ns_max, SPIN_US * 1000ull / 8,
                "sparse work shrinks the spin: %llu ns",
                (unsigned long long)st.spin_ns_max);
  cr_assert_geq(st.spin_ns_max, SPIN_US * 1000ull / 32, "never below the floor");

  bool grew = false;
  for (uint64_t i = 0; i < STREAM && !grew; i++) {
    TST_OK(tst_send_u64(echo, T_WORK, i));
    rt_msg_free(tst_recv_type(port, T_PONG));
    pause_us(STREAM_GAP_US);
    rt_runtime_stats(rt, &st);
    grew = st.spin_ns_max == SPIN_US * 1000ull;
  }
  cr_assert(grew, "work arriving while the worker spins restores spin_us "
                  "(last %llu ns)", (unsigned long long)st.spin_ns_max);
  tst_quiesce(rt);
  rt_actor_release(echo);
  rt_port_free(port);
  tst_runtime_free(rt);
}
