/*
 * test_backpressure.c: the mailbox bound of runtime/actor.h.
 *
 * A send to a full mailbox returns RT_EAGAIN (consuming the message), the
 * queued depth never exceeds the capacity (rt_actor_stats depth and
 * depth_hwm), every refusal is counted in 'rejected', the runtime default
 * (rt_config_t.mailbox_capacity) applies when an actor sets none, and the
 * mailbox accepts again once the consumer catches up. The consumer is held
 * busy at a gate, so nothing depends on timing.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "tests/support/rt_test.h"

TestSuite(backpressure, .timeout = 60);

enum { T_BLOCK = TST_MSG_BASE + 1, T_WORK };

typedef struct consumer {
  tst_gate_t gate;
  atomic_long handled;
} consumer_t;

static consumer_t g_consumer; /* one per test process */

static void consumer_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  if (rt_msg_type(msg) == T_BLOCK) tst_gate_wait(&g_consumer.gate);
  atomic_fetch_add(&g_consumer.handled, 1);
}
static const rt_actor_type_t consumer_type = {.name = "consumer",
                                              .on_msg = consumer_msg};

static rt_actor_t *spawn_consumer(rt_runtime_t *rt, uint32_t capacity) {
  tst_gate_init(&g_consumer.gate);
  atomic_store(&g_consumer.handled, 0);
  rt_spawn_opts_t opts = {.mailbox_capacity = capacity};
  rt_actor_t *a = NULL;
  TST_OK(rt_actor_spawn(rt, &consumer_type, NULL, &opts, &a));
  return a;
}

/* Park the consumer inside a handler so that later sends only queue. */
static void hold_consumer(rt_actor_t *a) {
  TST_OK(tst_send(a, T_BLOCK, NULL, 0));
  tst_gate_await_entered(&g_consumer.gate, 1);
}

/* How many sends the held consumer accepts before the first RT_EAGAIN.
 * The message being handled may still count against the bound until its
 * turn ends (the runtime subtracts a turn's messages from depth at the end
 * of the turn), so a held consumer accepts capacity or capacity - 1. */
static int fill(rt_actor_t *a, int cap) {
  int accepted = 0;
  int rc;
  while ((rc = tst_send(a, T_WORK, NULL, 0)) == 0) {
    accepted++;
    cr_assert_leq(accepted, cap, "more than the capacity (%d) accepted", cap);
  }
  cr_assert_eq(rc, RT_EAGAIN, "%s", rt_strerror(rc));
  cr_assert_geq(accepted, cap - 1, "only %d of %d accepted", accepted, cap);
  return accepted;
}

Test(backpressure, send_beyond_capacity_gives_eagain) {
  rt_runtime_t *rt = tst_runtime(2);
  enum { CAP = 8 };
  rt_actor_t *a = spawn_consumer(rt, CAP);
  hold_consumer(a);
  int accepted = fill(a, CAP); /* one RT_EAGAIN so far */
  for (int i = 0; i < 4; i++) {
    rt_msg_t *m = tst_msg(T_WORK, "payload", 7);
    cr_assert_eq(rt_send(a, &m), RT_EAGAIN, "mailbox of %d is full", CAP);
    cr_assert_null(m, "a refused message is consumed");
  }
  rt_actor_stats_t st;
  rt_actor_stats(a, &st);
  cr_assert_eq(st.capacity, (uint32_t)CAP);
  cr_assert_geq(st.depth, (uint32_t)accepted, "the accepted messages wait");
  cr_assert_leq(st.depth, (uint32_t)CAP, "depth %u over capacity", st.depth);
  cr_assert_leq(st.depth_hwm, (uint32_t)CAP, "depth never exceeded capacity");
  cr_assert_eq(st.rejected, 5u, "every refusal counted");

  tst_gate_open(&g_consumer.gate);
  cr_assert(TST_EVENTUALLY(atomic_load(&g_consumer.handled) == accepted + 1,
                           TST_WAIT_MS),
            "the accepted messages are all handled (%ld)",
            atomic_load(&g_consumer.handled));
  cr_assert(TST_EVENTUALLY((rt_actor_stats(a, &st), st.depth == 0), TST_WAIT_MS));
  /* Idle again: a full capacity's worth is accepted. */
  for (int i = 0; i < CAP; i++)
    cr_assert_eq(tst_send(a, T_WORK, NULL, 0), 0, "accepts again (%d)", i);
  cr_assert(TST_EVENTUALLY(atomic_load(&g_consumer.handled) == accepted + 1 + CAP,
                           TST_WAIT_MS));
  rt_actor_stats(a, &st);
  cr_assert_eq(st.rejected, 5u);
  cr_assert_leq(st.depth_hwm, (uint32_t)CAP);
  rt_actor_release(a);
  tst_runtime_free(rt);
}

Test(backpressure, runtime_default_capacity_applies) {
  rt_config_t cfg;
  rt_config_defaults(&cfg);
  cfg.workers = 2;
  cfg.mailbox_capacity = 16;
  rt_runtime_t *rt = tst_runtime_cfg(&cfg);
  rt_actor_t *a = spawn_consumer(rt, 0);
  hold_consumer(a);
  int accepted = fill(a, 16);
  rt_actor_stats_t st;
  rt_actor_stats(a, &st);
  cr_assert_eq(st.capacity, 16u);
  cr_assert_eq(st.rejected, 1u);
  tst_gate_open(&g_consumer.gate);
  rt_actor_release(a);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&g_consumer.handled), accepted + 1);
}

Test(backpressure, capacity_of_one) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_actor_t *a = spawn_consumer(rt, 1);
  hold_consumer(a);
  int accepted = fill(a, 1);
  rt_actor_stats_t st;
  rt_actor_stats(a, &st);
  cr_assert_eq(st.depth, 1u);
  cr_assert_eq(st.depth_hwm, 1u);
  tst_gate_open(&g_consumer.gate);
  cr_assert(TST_EVENTUALLY((rt_actor_stats(a, &st), st.depth == 0), TST_WAIT_MS));
  TST_OK(tst_send(a, T_WORK, NULL, 0));
  rt_actor_release(a);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&g_consumer.handled), accepted + 2);
}

/* Several threads flood a small mailbox while the consumer works; every
 * send is accounted for: accepted ones are handled, refused ones counted. */
struct flood {
  rt_actor_t *to;
  long per_thread;
  long accepted;
  long refused;
  tst_gate_t *start;
};

static void *flooder(void *arg) {
  struct flood *f = arg;
  tst_gate_wait(f->start);
  for (long i = 0; i < f->per_thread; i++) {
    rt_msg_t *m = NULL;
    if (rt_msg_new(T_WORK, &i, sizeof i, &m) != 0) abort();
    int rc = rt_send(f->to, &m);
    if (rc == 0)
      f->accepted++;
    else if (rc == RT_EAGAIN)
      f->refused++;
    else
      abort();
    if (m) abort(); /* consumed either way */
  }
  return NULL;
}

Test(backpressure, concurrent_flood_is_bounded_and_accounted, .timeout = 120) {
  rt_runtime_t *rt = tst_runtime(2);
  enum { CAP = 64, THREADS = 3 };
  const long per = TST_SANITIZED ? 20000 : 200000;
  rt_actor_t *a = spawn_consumer(rt, CAP);
  tst_gate_t start;
  tst_gate_init(&start);
  struct flood f[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    f[i] = (struct flood){.to = a, .per_thread = per, .start = &start};
    cr_assert_eq(pthread_create(&th[i], NULL, flooder, &f[i]), 0);
  }
  tst_gate_await_entered(&start, THREADS);
  tst_gate_open(&start);
  long accepted = 0, refused = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    accepted += f[i].accepted;
    refused += f[i].refused;
  }
  cr_assert_eq(accepted + refused, THREADS * per);
  cr_assert(TST_EVENTUALLY(atomic_load(&g_consumer.handled) == accepted,
                           TST_WAIT_MS),
            "handled %ld of %ld accepted", atomic_load(&g_consumer.handled),
            accepted);
  rt_actor_stats_t st;
  cr_assert(TST_EVENTUALLY((rt_actor_stats(a, &st), st.processed == (uint64_t)accepted),
                           TST_WAIT_MS),
            "processed %llu of %ld", (unsigned long long)st.processed, accepted);
  cr_assert_leq(st.depth_hwm, (uint32_t)CAP, "hwm %u > capacity %u",
                st.depth_hwm, CAP);
  cr_assert_eq(st.rejected, (uint64_t)refused, "rejected %llu, refused %ld",
               (unsigned long long)st.rejected, refused);
  cr_assert(TST_EVENTUALLY((rt_actor_stats(a, &st), st.depth == 0), TST_WAIT_MS),
            "depth %u once everything was handled", st.depth);
  tst_gate_destroy(&start);
  rt_actor_release(a);
  tst_runtime_free(rt);
}

/* A port is bounded the same way. */
Test(backpressure, port_capacity_gives_eagain) {
  rt_runtime_t *rt = tst_runtime(1);
  rt_port_t *p = tst_port(rt, 2);
  TST_OK(tst_send(rt_port_actor(p), T_WORK, NULL, 0));
  TST_OK(tst_send(rt_port_actor(p), T_WORK, NULL, 0));
  TST_RC(tst_send(rt_port_actor(p), T_WORK, NULL, 0), RT_EAGAIN);
  cr_assert_eq(tst_drain(p), 2u);
  tst_quiesce(rt);
  rt_port_free(p);
  tst_runtime_free(rt);
}
