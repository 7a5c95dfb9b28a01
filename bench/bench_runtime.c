/*
 * bench_runtime.c: the Savina-style workloads of bench/peers/README.md on
 * ccm's runtime, plus two floors: a bare MPSC queue hand-off between two
 * threads, and the same hand-off through the runtime (a plain thread
 * sending to an actor).
 *
 *   bench_runtime WORKLOAD WORKERS [PARAM...]
 *   WORKLOAD: pingpong counting fanout threadring big handoff
 *
 * Output: `RESULT <workload> <metric> <value> <unit>` lines, the contract
 * shared with the peers. Timing starts just before the kick-off send and
 * ends in the actor that first knows the result (spawning excluded).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

#include "runtime/actor.h"
#include "runtime/rt.h"

static uint64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int rc)
{
  fprintf(stderr, "bench_runtime: %s: %s\n", what, rt_strerror(rc));
  exit(1);
}

static rt_msg_t *msg_u64(uint32_t type, uint64_t v)
{
  rt_msg_t *m = NULL;
  int rc = rt_msg_new(type, &v, sizeof(v), &m);
  if (rc)
    die("rt_msg_new", rc);
  return m;
}

static uint64_t msg_get_u64(const rt_msg_t *m)
{
  uint64_t v = 0;
  size_t len = 0;
  const void *d = rt_msg_data(m, &len);
  if (len >= sizeof(v))
    memcpy(&v, d, sizeof(v));
  return v;
}

/* Send from a handler; a full mailbox is a benchmark design error. */
static void send_or_die(rt_actor_t *to, rt_msg_t *m)
{
  int rc = rt_send(to, &m);
  if (rc)
    die("rt_send", rc);
}

/* Every workload reports its end time (ns) to the main thread's port. */
static rt_actor_t *g_main;

static void report_done(uint64_t value)
{
  uint64_t v[2] = {now_ns(), value};
  rt_msg_t *m = NULL;
  if (rt_msg_new(1, v, sizeof(v), &m) == 0)
    send_or_die(g_main, m);
}

static uint64_t wait_done(rt_port_t *port, uint64_t *value)
{
  rt_msg_t *m = NULL;
  int rc = rt_port_recv(port, 600000, &m);
  if (rc)
    die("waiting for the result", rc);
  uint64_t v[2];
  memcpy(v, rt_msg_data(m, NULL), sizeof(v));
  rt_msg_free(m);
  if (value)
    *value = v[1];
  return v[0];
}

static rt_actor_t *spawn(rt_runtime_t *rt, const rt_actor_type_t *t,
                         const void *arg, uint32_t cap)
{
  rt_actor_t *a = NULL;
  rt_spawn_opts_t o = {.mailbox_capacity = cap};
  int rc = rt_actor_spawn(rt, t, arg, &o, &a);
  if (rc)
    die("spawn", rc);
  return a;
}

static void result(const char *w, const char *metric, double v,
                   const char *unit)
{
  printf("RESULT %s %s %.1f %s\n", w, metric, v, unit);
}

/* Wiring: a WIRE message carries an actor id that the receiver looks up
 * and keeps a reference to (released in its stop hook). */
enum { MSG_DONE = 1, MSG_START = 2, MSG_WIRE = 3, MSG_PING = 4, MSG_PONG = 5,
       MSG_INC = 6, MSG_GET = 7, MSG_GO = 8, MSG_TOKEN = 9 };

static rt_actor_t *wire_lookup(rt_ctx_t *ctx, const rt_msg_t *m)
{
  rt_actor_t *a = NULL;
  int rc = rt_actor_lookup_id(rt_ctx_runtime(ctx), msg_get_u64(m), &a);
  if (rc)
    die("wire lookup", rc);
  return a;
}

static void wire(rt_actor_t *to, rt_actor_t *peer)
{
  send_or_die(to, msg_u64(MSG_WIRE, rt_actor_id(peer)));
}

/* ------------------------------------------------------------- pingpong */
typedef struct pp {
  rt_actor_t *peer;
  uint64_t left;
} pp_t;

static void pp_stop(rt_ctx_t *ctx, void *st)
{
  (void)ctx;
  rt_actor_release(((pp_t *)st)->peer);
}

static void pinger_msg(rt_ctx_t *ctx, void *st, rt_msg_t *m)
{
  pp_t *s = st;
  switch (rt_msg_type(m)) {
  case MSG_WIRE:
    s->peer = wire_lookup(ctx, m);
    return;
  case MSG_START:
    s->left = msg_get_u64(m);
    break;
  default:
    if (--s->left == 0) {
      report_done(0);
      return;
    }
  }
  send_or_die(s->peer, msg_u64(MSG_PING, s->left));
}

static void ponger_msg(rt_ctx_t *ctx, void *st, rt_msg_t *m)
{
  pp_t *s = st;
  if (rt_msg_type(m) == MSG_WIRE)
    s->peer = wire_lookup(ctx, m);
  else
    send_or_die(s->peer, msg_u64(MSG_PONG, msg_get_u64(m)));
}

static const rt_actor_type_t pinger_t = {"pinger", sizeof(pp_t), NULL,
                                         pinger_msg, pp_stop};
static const rt_actor_type_t ponger_t = {"ponger", sizeof(pp_t), NULL,
                                         ponger_msg, pp_stop};

static void stop_release(rt_actor_t *a)
{
  rt_actor_stop(a);
  rt_actor_release(a);
}

static void run_pingpong(rt_runtime_t *rt, rt_port_t *port, uint64_t n)
{
  rt_actor_t *ping = spawn(rt, &pinger_t, NULL, 0);
  rt_actor_t *pong = spawn(rt, &ponger_t, NULL, 0);
  wire(ping, pong);
  wire(pong, ping);
  uint64_t t0 = now_ns();
  send_or_die(ping, msg_u64(MSG_START, n));
  uint64_t t1 = wait_done(port, NULL);
  double secs = (double)(t1 - t0) / 1e9;
  result("pingpong", "rate", (double)n / secs, "roundtrips/s");
  result("pingpong", "latency", (double)(t1 - t0) / (double)n, "ns");
  stop_release(ping);
  stop_release(pong);
}

/* ------------------------------------------------------------- counting */
typedef struct counting {
  rt_actor_t *peer;
  uint64_t n, sent, count;
} counting_t;

#define COUNT_CHUNK 1000

static void counting_stop(rt_ctx_t *ctx, void *st)
{
  (void)ctx;
  rt_actor_release(((counting_t *)st)->peer);
}

/* The producer sends in chunks and re-queues itself: a full mailbox
 * (RT_EAGAIN) just ends the chunk early. This is the backpressure
 * contract: the producer never outruns the bound. */
static void producer_msg(rt_ctx_t *ctx, void *st, rt_msg_t *m)
{
  counting_t *s = st;
  if (rt_msg_type(m) == MSG_WIRE) {
    s->peer = wire_lookup(ctx, m);
    return;
  }
  if (rt_msg_type(m) == MSG_START)
    s->n = msg_get_u64(m);
  for (unsigned i = 0; i < COUNT_CHUNK && s->sent < s->n; i++) {
    rt_msg_t *inc = msg_u64(MSG_INC, 1);
    if (rt_send(s->peer, &inc) != 0)
      break;
    s->sent++;
  }
  if (s->sent < s->n)
    send_or_die(rt_self(ctx), msg_u64(MSG_GO, 0));
  else
    send_or_die(s->peer, msg_u64(MSG_GET, 0));
}

static void counter_msg(rt_ctx_t *ctx, void *st, rt_msg_t *m)
{
  counting_t *s = st;
  (void)ctx;
  if (rt_msg_type(m) == MSG_INC)
    s->count += msg_get_u64(m);
  else if (rt_msg_type(m) == MSG_GET)
    report_done(s->count);
}

static const rt_actor_type_t producer_t = {"producer", sizeof(counting_t),
                                           NULL, producer_msg, counting_stop};
static const rt_actor_type_t counter_t = {"counter", sizeof(counting_t), NULL,
                                          counter_msg, counting_stop};

static void run_counting(rt_runtime_t *rt, rt_port_t *port, uint64_t n)
{
  rt_actor_t *prod = spawn(rt, &producer_t, NULL, 0);
  rt_actor_t *cnt = spawn(rt, &counter_t, NULL, 0);
  wire(prod, cnt);
  uint64_t t0 = now_ns(), count = 0;
  send_or_die(prod, msg_u64(MSG_START, n));
  uint64_t t1 = wait_done(port, &count);
  if (count != n) {
    fprintf(stderr, "counting: got %llu, want %llu\n",
            (unsigned long long)count, (unsigned long long)n);
    exit(1);
  }
  result("counting", "rate", (double)n / ((double)(t1 - t0) / 1e9), "msgs/s");
  stop_release(prod);
  stop_release(cnt);
}

/* --------------------------------------------------------------- fanout */
typedef struct fan {
  rt_actor_t **workers;
  unsigned nworkers;
  rt_actor_t *coord;
  uint64_t rounds, round, replies;
} fan_t;

static void fan_round(fan_t *s)
{
  for (unsigned i = 0; i < s->nworkers; i++)
    send_or_die(s->workers[i], msg_u64(MSG_PING, s->round));
}

static void coord_msg(rt_ctx_t *ctx, void *st, rt_msg_t *m)
{
  fan_t *s = st;
  (void)ctx;
  if (rt_msg_type(m) == MSG_START) {
    s->rounds = msg_get_u64(m);
    fan_round(s);
    return;
  }
  if (++s->replies < s->nworkers)
    return;
  s->replies = 0;
  if (++s->round == s->rounds)
    report_done(0);
  else
    fan_round(s);
}

static void fworker_msg(rt_ctx_t *ctx, void *st, rt_msg_t *m)
{
  fan_t *s = st;
  if (rt_msg_type(m) == MSG_WIRE)
    s->coord = wire_lookup(ctx, m);
  else
    send_or_die(s->coord, msg_u64(MSG_PONG, msg_get_u64(m)));
}

static void fworker_stop(rt_ctx_t *ctx, void *st)
{
  (void)ctx;
  rt_actor_release(((fan_t *)st)->coord);
}

static int coord_start(rt_ctx_t *ctx, void *st, const void *arg)
{
  (void)ctx;
  *(fan_t *)st = *(const fan_t *)arg;
  return 0;
}

static const rt_actor_type_t coord_t = {"coordinator", sizeof(fan_t),
                                        coord_start, coord_msg, NULL};
static const rt_actor_type_t fworker_t = {"fan-worker", sizeof(fan_t), NULL,
                                          fworker_msg, fworker_stop};

static void run_fanout(rt_runtime_t *rt, rt_port_t *port, uint64_t rounds,
                       unsigned nworkers)
{
  rt_actor_t **w = calloc(nworkers, sizeof(*w));
  for (unsigned i = 0; i < nworkers; i++)
    w[i] = spawn(rt, &fworker_t, NULL, 0);
  fan_t init = {.workers = w, .nworkers = nworkers};
  rt_actor_t *coord = spawn(rt, &coord_t, &init, 0);
  for (unsigned i = 0; i < nworkers; i++)
    wire(w[i], coord);
  uint64_t t0 = now_ns();
  send_or_die(coord, msg_u64(MSG_START, rounds));
  uint64_t t1 = wait_done(port, NULL);
  double msgs = 2.0 * (double)nworkers * (double)rounds;
  result("fanout", "rate", msgs / ((double)(t1 - t0) / 1e9), "msgs/s");
  stop_release(coord);
  for (unsigned i = 0; i < nworkers; i++)
    stop_release(w[i]);
  free(w);
}

/* ----------------------------------------------------------- threadring */
typedef struct ring {
  rt_actor_t *next;
} ring_t;

static void ring_msg(rt_ctx_t *ctx, void *st, rt_msg_t *m)
{
  ring_t *s = st;
  if (rt_msg_type(m) == MSG_WIRE) {
    s->next = wire_lookup(ctx, m);
    return;
  }
  uint64_t hops = msg_get_u64(m);
  if (hops == 0)
    report_done(0);
  else
    send_or_die(s->next, msg_u64(MSG_TOKEN, hops - 1));
}

static void ring_stop(rt_ctx_t *ctx, void *st)
{
  (void)ctx;
  rt_actor_release(((ring_t *)st)->next);
}

static const rt_actor_type_t ring_t_ = {"ring", sizeof(ring_t), NULL, ring_msg,
                                        ring_stop};

static void run_threadring(rt_runtime_t *rt, rt_port_t *port, uint64_t hops,
                           unsigned n)
{
  rt_actor_t **r = calloc(n, sizeof(*r));
  for (unsigned i = 0; i < n; i++)
    r[i] = spawn(rt, &ring_t_, NULL, 0);
  for (unsigned i = 0; i < n; i++)
    wire(r[i], r[(i + 1) % n]);
  uint64_t t0 = now_ns();
  /* The first message carries hops-1: exactly `hops` deliveries. */
  send_or_die(r[0], msg_u64(MSG_TOKEN, hops - 1));
  uint64_t t1 = wait_done(port, NULL);
  result("threadring", "rate", (double)hops / ((double)(t1 - t0) / 1e9),
         "msgs/s");
  for (unsigned i = 0; i < n; i++)
    stop_release(r[i]);
  free(r);
}

/* ------------------------------------------------------------------ big */
typedef struct big_shared {
  rt_actor_t **actors;
  unsigned n;
  uint64_t pings;
  rt_actor_t *sink;
} big_shared_t;

typedef struct big {
  const big_shared_t *g;
  unsigned self;
  uint64_t rng, pongs;
  uint64_t done; /* sink: actors finished */
} big_t;

static uint64_t xorshift(uint64_t *x)
{
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static void big_ping(big_t *s)
{
  unsigned to = (unsigned)(xorshift(&s->rng) % (s->g->n - 1));
  if (to >= s->self)
    to++;
  send_or_die(s->g->actors[to], msg_u64(MSG_PING, s->self));
}

static void big_msg(rt_ctx_t *ctx, void *st, rt_msg_t *m)
{
  big_t *s = st;
  (void)ctx;
  switch (rt_msg_type(m)) {
  case MSG_WIRE: /* payload: own index */
    s->self = (unsigned)msg_get_u64(m);
    s->rng = 0x9E3779B97F4A7C15ull ^ (s->self + 1) * 0xBF58476D1CE4E5B9ull;
    return;
  case MSG_START:
    big_ping(s);
    return;
  case MSG_PING:
    send_or_die(s->g->actors[msg_get_u64(m)], msg_u64(MSG_PONG, 0));
    return;
  default:
    if (++s->pongs == s->g->pings)
      send_or_die(s->g->sink, msg_u64(MSG_DONE, s->self));
    else
      big_ping(s);
  }
}

static void sink_msg(rt_ctx_t *ctx, void *st, rt_msg_t *m)
{
  big_t *s = st;
  (void)ctx;
  (void)m;
  if (++s->done == s->g->n)
    report_done(0);
}

static int big_start(rt_ctx_t *ctx, void *st, const void *arg)
{
  (void)ctx;
  ((big_t *)st)->g = arg;
  return 0;
}

static const rt_actor_type_t big_t_ = {"big", sizeof(big_t), big_start, big_msg,
                                       NULL};
static const rt_actor_type_t sink_t = {"big-sink", sizeof(big_t), big_start,
                                       sink_msg, NULL};

static void run_big(rt_runtime_t *rt, rt_port_t *port, uint64_t pings,
                    unsigned n)
{
  big_shared_t g = {.n = n, .pings = pings};
  g.actors = calloc(n, sizeof(*g.actors));
  g.sink = spawn(rt, &sink_t, &g, 0);
  for (unsigned i = 0; i < n; i++) {
    g.actors[i] = spawn(rt, &big_t_, &g, 0);
    send_or_die(g.actors[i], msg_u64(MSG_WIRE, i));
  }
  uint64_t t0 = now_ns();
  for (unsigned i = 0; i < n; i++)
    send_or_die(g.actors[i], msg_u64(MSG_START, 0));
  uint64_t t1 = wait_done(port, NULL);
  double msgs = 2.0 * (double)n * (double)pings;
  result("big", "rate", msgs / ((double)(t1 - t0) / 1e9), "msgs/s");
  for (unsigned i = 0; i < n; i++)
    stop_release(g.actors[i]);
  stop_release(g.sink);
  /* The actors read g until they stop: wait for the shutdown in main. */
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  free(g.actors);
}

/* -------------------------------------------------------------- handoff */
/* The floor: a bare Vyukov MPSC queue, one producer thread, one consumer
 * thread, preallocated nodes, both spinning. */
typedef struct node {
  _Atomic(struct node *) next;
  uint64_t v;
} node_t;

typedef struct bare_q {
  _Atomic(node_t *) head;
  char pad[64];
  node_t *tail;
  node_t stub;
} bare_q_t;

static void bare_push(bare_q_t *q, node_t *n)
{
  atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
  node_t *prev = atomic_exchange_explicit(&q->head, n, memory_order_acq_rel);
  atomic_store_explicit(&prev->next, n, memory_order_release);
}

static node_t *bare_pop(bare_q_t *q)
{
  node_t *next = atomic_load_explicit(&q->tail->next, memory_order_acquire);
  if (next)
    q->tail = next;
  return next;
}

typedef struct bare_arg {
  bare_q_t *q;
  node_t *nodes;
  uint64_t n;
} bare_arg_t;

static void *bare_producer(void *p)
{
  bare_arg_t *a = p;
  for (uint64_t i = 0; i < a->n; i++)
    bare_push(a->q, &a->nodes[i]);
  return NULL;
}

static double bare_handoff_ns(uint64_t n)
{
  static bare_q_t q;
  node_t *nodes = calloc(n, sizeof(*nodes));
  atomic_store(&q.stub.next, NULL);
  atomic_store(&q.head, &q.stub);
  q.tail = &q.stub;
  bare_arg_t a = {&q, nodes, n};
  pthread_t t;
  uint64_t t0 = now_ns(), got = 0;
  pthread_create(&t, NULL, bare_producer, &a);
  while (got < n)
    if (bare_pop(&q))
      got++;
  uint64_t t1 = now_ns();
  pthread_join(t, NULL);
  free(nodes);
  return (double)(t1 - t0) / (double)n;
}

/* The same hand-off through the runtime: a plain thread sends n messages
 * (retrying on RT_EAGAIN) to a counter actor on a worker. */
static double rt_handoff_ns(rt_runtime_t *rt, rt_port_t *port, uint64_t n)
{
  /* A short mailbox, as the bare queue's consumer keeps its queue short by
   * doing nothing: this measures the hand-off, not cache misses on a deep
   * backlog (a plain thread has no turn to yield, so the bound is what
   * paces it). */
  rt_actor_t *cnt = spawn(rt, &counter_t, NULL, 1024);
  uint64_t t0 = now_ns(), count = 0;
  for (uint64_t i = 0; i < n; i++) {
    rt_msg_t *m = msg_u64(MSG_INC, 1);
    int rc;
    while ((rc = rt_send(cnt, &m)) == RT_EAGAIN)
      m = msg_u64(MSG_INC, 1);
    if (rc)
      die("handoff send", rc);
  }
  send_or_die(cnt, msg_u64(MSG_GET, 0));
  uint64_t t1 = wait_done(port, &count);
  if (count != n)
    die("handoff count", RT_EINVAL);
  stop_release(cnt);
  return (double)(t1 - t0) / (double)n;
}

/* ----------------------------------------------------------------- main */
static uint64_t arg_u64(int argc, char **argv, int i, uint64_t def)
{
  return argc > i ? strtoull(argv[i], NULL, 10) : def;
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: %s pingpong|counting|fanout|threadring|big|handoff"
                    " WORKERS [PARAM...]\n", argv[0]);
    return 2;
  }
  const char *w = argv[1];
  rt_config_t cfg;
  rt_config_defaults(&cfg);
  cfg.workers = (unsigned)strtoul(argv[2], NULL, 10);
  rt_runtime_t *rt = NULL;
  int rc = rt_runtime_new(&cfg, &rt);
  if (rc)
    die("rt_runtime_new", rc);
  rt_port_t *port = NULL;
  rc = rt_port_new(rt, 0, &port);
  if (rc)
    die("rt_port_new", rc);
  g_main = rt_port_actor(port);

  if (!strcmp(w, "pingpong"))
    run_pingpong(rt, port, arg_u64(argc, argv, 3, 1000000));
  else if (!strcmp(w, "counting"))
    run_counting(rt, port, arg_u64(argc, argv, 3, 10000000));
  else if (!strcmp(w, "fanout"))
    run_fanout(rt, port, arg_u64(argc, argv, 3, 20000),
               (unsigned)arg_u64(argc, argv, 4, 64));
  else if (!strcmp(w, "threadring"))
    run_threadring(rt, port, arg_u64(argc, argv, 3, 10000000),
                   (unsigned)arg_u64(argc, argv, 4, 503));
  else if (!strcmp(w, "big"))
    run_big(rt, port, arg_u64(argc, argv, 3, 20000),
            (unsigned)arg_u64(argc, argv, 4, 120));
  else if (!strcmp(w, "handoff")) {
    uint64_t n = arg_u64(argc, argv, 3, 10000000);
    result("handoff", "bare", bare_handoff_ns(n), "ns");
    result("handoff", "runtime", rt_handoff_ns(rt, port, n), "ns");
  } else {
    fprintf(stderr, "unknown workload %s\n", w);
    return 2;
  }
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  rt_port_free(port);
  rt_runtime_free(rt);
  return 0;
}
