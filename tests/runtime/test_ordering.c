/*
 * test_ordering.c: per-sender FIFO in runtime/actor.h, under stress.
 *
 * "Messages from one sender to one actor arrive in the order sent." Four
 * plain threads and four producer actors each send sequence-numbered
 * messages to one consumer whose mailbox is small enough that RT_EAGAIN
 * happens; producers retry a refused message (threads spin with
 * sched_yield, actors re-send on their next turn). The consumer checks that
 * each producer's sequence arrives exactly in order (next = last + 1: no
 * loss, no duplicate, no reordering) and the total count. Also checked:
 * an actor that receives from two actors in turn sees each stream in order.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/rt_test.h"

TestSuite(ordering, .timeout = 300);

enum { T_SEQ = TST_MSG_BASE + 1, T_KICK, T_DONE };
enum { THREADS = 4, ACTORS = 4, PRODUCERS = THREADS + ACTORS };

static long per_producer(void) { return TST_SANITIZED ? 20000 : 100000; }

typedef struct item {
  uint32_t producer;
  uint32_t pad;
  uint64_t seq;
  uint64_t actor_id; /* the producer actor's id, 0 for threads */
} item_t;

typedef struct verdict {
  uint64_t total;
  uint64_t errors;          /* out-of-order, lost or duplicated */
  uint64_t bad_sender;      /* rt_msg_sender disagrees with the payload */
  uint64_t first_bad_producer, first_bad_expected, first_bad_got;
  uint64_t last[PRODUCERS]; /* next expected seq per producer */
} verdict_t;

/* ---- consumer ---- */
static rt_actor_t *g_report;
static long g_expect_total;

static void consumer_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  verdict_t *v = state;
  if (rt_msg_type(msg) != T_SEQ) return;
  item_t it;
  size_t n;
  const void *d = rt_msg_data(msg, &n);
  if (n != sizeof it || ((const item_t *)d)->producer >= PRODUCERS) {
    v->errors++;
    return;
  }
  memcpy(&it, d, sizeof it);
  if (it.seq != v->last[it.producer]) {
    if (!v->errors) {
      v->first_bad_producer = it.producer;
      v->first_bad_expected = v->last[it.producer];
      v->first_bad_got = it.seq;
    }
    v->errors++;
  }
  v->last[it.producer] = it.seq + 1;
  if (rt_msg_sender(msg) != it.actor_id) v->bad_sender++;
  if (++v->total == (uint64_t)g_expect_total) {
    rt_msg_t *m = NULL;
    if (rt_msg_new(T_DONE, v, sizeof *v, &m) == 0) rt_send(g_report, &m);
  }
}
static const rt_actor_type_t consumer_type = {
    .name = "consumer", .state_size = sizeof(verdict_t), .on_msg = consumer_msg};

/* ---- producer actors ---- */
typedef struct producer_state {
  uint32_t index;
  uint64_t next;
  uint64_t eagain;
  rt_actor_t *to;
} producer_state_t;

typedef struct producer_arg {
  uint32_t index;
  rt_actor_t *to;
} producer_arg_t;

static atomic_long g_actor_eagain;

static int producer_start(rt_ctx_t *ctx, void *state, const void *arg) {
  const producer_arg_t *a = arg;
  producer_state_t *s = state;
  s->index = a->index;
  s->to = a->to;
  return 0;
}

static void producer_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  producer_state_t *s = state;
  const long total = per_producer();
  /* Send a burst; stop at the first refusal and retry that same sequence
   * number on the next turn (a self-sent kick). */
  for (int burst = 0; burst < 256 && (long)s->next < total; burst++) {
    item_t it = {s->index, 0, s->next, rt_actor_id(rt_self(ctx))};
    rt_msg_t *m = NULL;
    if (rt_msg_new(T_SEQ, &it, sizeof it, &m) != 0) abort();
    int rc = rt_send(s->to, &m);
    if (rc == RT_EAGAIN) {
      s->eagain++;
      atomic_fetch_add(&g_actor_eagain, 1);
      break;
    }
    if (rc != 0) abort();
    s->next++;
  }
  if ((long)s->next < total) {
    rt_msg_t *k = NULL;
    if (rt_msg_new(T_KICK, NULL, 0, &k) != 0) abort();
    if (rt_send(rt_self(ctx), &k) != 0) abort();
  }
}
static const rt_actor_type_t producer_type = {
    .name = "producer",
    .state_size = sizeof(producer_state_t),
    .on_start = producer_start,
    .on_msg = producer_msg};

/* ---- producer threads ---- */
struct thread_arg {
  uint32_t index;
  rt_actor_t *to;
  tst_gate_t *start;
  long eagain;
};

static void *producer_thread(void *p) {
  struct thread_arg *a = p;
  const long total = per_producer();
  tst_gate_wait(a->start);
  for (long i = 0; i < total; i++) {
    item_t it = {a->index, 0, (uint64_t)i, 0};
    for (;;) {
      rt_msg_t *m = NULL;
      if (rt_msg_new(T_SEQ, &it, sizeof it, &m) != 0) abort();
      int rc = rt_send(a->to, &m);
      if (rc == 0) break;
      if (rc != RT_EAGAIN) abort();
      a->eagain++;
      sched_yield();
    }
  }
  return NULL;
}

static void run_fifo_stress(unsigned workers, uint32_t capacity) {
  rt_runtime_t *rt = tst_runtime(workers);
  rt_port_t *report = tst_port(rt, 4);
  g_report = rt_port_actor(report);
  g_expect_total = per_producer() * PRODUCERS;
  rt_spawn_opts_t copts = {.mailbox_capacity = capacity};
  rt_actor_t *consumer = NULL;
  TST_OK(rt_actor_spawn(rt, &consumer_type, NULL, &copts, &consumer));

  tst_gate_t start;
  tst_gate_init(&start);
  struct thread_arg targs[THREADS];
  pthread_t th[THREADS];
  for (uint32_t i = 0; i < THREADS; i++) {
    targs[i] = (struct thread_arg){.index = i, .to = consumer, .start = &start};
    cr_assert_eq(pthread_create(&th[i], NULL, producer_thread, &targs[i]), 0);
  }
  producer_arg_t pargs[ACTORS];
  rt_actor_t *producers[ACTORS];
  for (uint32_t i = 0; i < ACTORS; i++) {
    pargs[i] = (producer_arg_t){.index = THREADS + i, .to = consumer};
    TST_OK(rt_actor_spawn(rt, &producer_type, &pargs[i], NULL, &producers[i]));
  }
  tst_gate_await_entered(&start, THREADS);
  tst_gate_open(&start);
  for (uint32_t i = 0; i < ACTORS; i++)
    TST_OK(tst_send(producers[i], T_KICK, NULL, 0));

  long thread_eagain = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    thread_eagain += targs[i].eagain;
  }
  rt_msg_t *m = NULL;
  cr_assert_eq(rt_port_recv(report, 120000, &m), 0,
               "the consumer never saw all %ld messages", g_expect_total);
  verdict_t v;
  tst_payload(m, &v, sizeof v);
  rt_msg_free(m);
  cr_assert_eq(v.errors, 0u,
               "%llu sequence errors; first: producer %llu expected %llu got %llu",
               (unsigned long long)v.errors,
               (unsigned long long)v.first_bad_producer,
               (unsigned long long)v.first_bad_expected,
               (unsigned long long)v.first_bad_got);
  cr_assert_eq(v.bad_sender, 0u, "sender ids disagree with the producers");
  cr_assert_eq(v.total, (uint64_t)g_expect_total);
  for (int i = 0; i < PRODUCERS; i++)
    cr_assert_eq(v.last[i], (uint64_t)per_producer(), "producer %d", i);

  rt_actor_stats_t st;
  rt_actor_stats(consumer, &st);
  if (capacity) cr_assert_eq(st.capacity, capacity);
  cr_assert_leq(st.depth_hwm, st.capacity);
  cr_assert_eq(st.rejected, (uint64_t)thread_eagain + (uint64_t)atomic_load(&g_actor_eagain),
               "every RT_EAGAIN counted as rejected");
  cr_log_info("workers %u capacity %u: %ld EAGAIN from threads, %ld from actors",
              workers, capacity, thread_eagain, atomic_load(&g_actor_eagain));

  tst_gate_destroy(&start);
  for (int i = 0; i < ACTORS; i++) rt_actor_release(producers[i]);
  rt_actor_release(consumer);
  tst_quiesce(rt);
  rt_port_free(report);
  tst_runtime_free(rt);
}

Test(ordering, per_sender_fifo_under_stress_2_workers_small_mailbox) {
  run_fifo_stress(2, 512);
}

Test(ordering, per_sender_fifo_under_stress_1_worker) {
  run_fifo_stress(1, 4096);
}

Test(ordering, per_sender_fifo_default_mailbox) {
  run_fifo_stress(2, 0); /* the runtime's default capacity */
}

/* A relay forwards what it gets to the consumer; two relays fed in
 * alternation: each relay's stream stays ordered at the consumer. */
typedef struct relay {
  rt_actor_t *to;
} relay_t;

static int relay_start(rt_ctx_t *ctx, void *state, const void *arg) {
  memcpy(state, arg, sizeof(relay_t));
  return 0;
}

static void relay_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  relay_t *r = state;
  size_t n;
  const item_t *in = rt_msg_data(msg, &n);
  item_t it = *in;
  it.actor_id = rt_actor_id(rt_self(ctx));
  rt_msg_t *m = NULL;
  if (rt_msg_new(T_SEQ, &it, sizeof it, &m) != 0) abort();
  while (rt_send(r->to, &m) == RT_EAGAIN) { /* consumer is big enough */
    if (rt_msg_new(T_SEQ, &it, sizeof it, &m) != 0) abort();
  }
}
static const rt_actor_type_t relay_type = {.name = "relay",
                                           .state_size = sizeof(relay_t),
                                           .on_start = relay_start,
                                           .on_msg = relay_msg};

Test(ordering, relayed_streams_stay_ordered) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_port_t *report = tst_port(rt, 4);
  g_report = rt_port_actor(report);
  enum { N = 20000 };
  g_expect_total = 2 * N;
  rt_spawn_opts_t big = {.mailbox_capacity = 2 * N + 16};
  rt_actor_t *consumer = NULL, *relays[2] = {NULL, NULL};
  TST_OK(rt_actor_spawn(rt, &consumer_type, NULL, &big, &consumer));
  relay_t init = {consumer};
  for (int i = 0; i < 2; i++)
    TST_OK(rt_actor_spawn(rt, &relay_type, &init, &big, &relays[i]));
  /* actor_id in the payload is rewritten by the relay, so the consumer's
   * sender check compares with the relay. */
  for (uint64_t s = 0; s < N; s++)
    for (uint32_t r = 0; r < 2; r++) {
      item_t it = {r, 0, s, 0};
      TST_OK(tst_send(relays[r], T_SEQ, &it, sizeof it));
    }
  rt_msg_t *m = NULL;
  TST_OK(rt_port_recv(report, 120000, &m));
  verdict_t v;
  tst_payload(m, &v, sizeof v);
  rt_msg_free(m);
  cr_assert_eq(v.errors, 0u, "producer %llu expected %llu got %llu",
               (unsigned long long)v.first_bad_producer,
               (unsigned long long)v.first_bad_expected,
               (unsigned long long)v.first_bad_got);
  cr_assert_eq(v.bad_sender, 0u);
  cr_assert_eq(v.total, 2u * N);
  for (int i = 0; i < 2; i++) rt_actor_release(relays[i]);
  rt_actor_release(consumer);
  tst_quiesce(rt);
  rt_port_free(report);
  tst_runtime_free(rt);
}
