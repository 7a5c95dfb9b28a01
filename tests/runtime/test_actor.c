/*
 * test_actor.c: the actor life-cycle contract of runtime/actor.h.
 *
 * rt_actor_spawn runs on_start (in the spawning thread) before it returns;
 * a failing on_start gives RT_ESTART and no on_stop; names register, clash
 * with RT_EEXIST and are freed when the actor stops; rt_actor_lookup_id
 * finds live actors only; sends to a stopped actor give RT_ESTOPPED and
 * sends by unknown id RT_ENOTFOUND, always consuming the message; on_stop
 * runs exactly once however the actor stops; rt_actor_stop lets earlier
 * messages be handled first; the sender id and handler context are right.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/rt_test.h"

TestSuite(actor, .timeout = 60);

enum {
  T_PING = TST_MSG_BASE + 1, /* reply to the probe's port with T_PONG */
  T_PONG,
  T_COUNT,    /* count it */
  T_BLOCK,    /* wait at the probe's gate */
  T_STOPSELF, /* rt_stop_self */
  T_CTX,      /* report rt_self / rt_ctx_runtime checks to the port */
  T_FORWARD,  /* send a T_PONG to the port (sender id = this actor) */
};

/* Shared between the test thread and the actor's hooks (the spawn arg). */
typedef struct probe {
  atomic_int starts;
  atomic_int stops;
  atomic_long handled;
  atomic_int fail_start; /* on_start returns -1 while set */
  pthread_t start_thread;
  int start_saw_zeroed_state;
  const void *start_arg;
  long handled_at_stop;
  rt_actor_t *port;      /* where T_PING / T_CTX / T_FORWARD answer */
  rt_runtime_t *rt;
  tst_gate_t gate;
  tst_latch_t stopped;   /* counted down by on_stop */
} probe_t;

typedef struct state {
  unsigned char bytes[200];
  long count;
  probe_t *probe; /* set by on_start, for on_stop */
} state_t;

static void probe_init(probe_t *p, rt_runtime_t *rt, rt_port_t *port) {
  memset(p, 0, sizeof *p);
  p->rt = rt;
  p->port = port ? rt_port_actor(port) : NULL;
  tst_gate_init(&p->gate);
  tst_latch_init(&p->stopped, 1);
}

static int probe_start(rt_ctx_t *ctx, void *state, const void *arg) {
  probe_t *p = (probe_t *)arg;
  const unsigned char *s = state;
  int zero = 1;
  for (size_t i = 0; i < sizeof(state_t); i++) zero &= s[i] == 0;
  p->start_thread = pthread_self();
  p->start_saw_zeroed_state = zero;
  p->start_arg = arg;
  atomic_fetch_add(&p->starts, 1);
  memset(state, 0xAB, sizeof(state_t)); /* dirty it */
  ((state_t *)state)->count = 0;
  ((state_t *)state)->probe = p;
  return atomic_load(&p->fail_start) ? -1 : 0;
}

static void probe_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  probe_t *p = NULL;
  state_t *st = state;
  size_t n;
  const void *d = rt_msg_data(msg, &n);
  if (n == sizeof p) memcpy(&p, d, sizeof p);
  st->count++;
  switch (rt_msg_type(msg)) {
  case T_PING: {
    rt_msg_t *r = NULL;
    if (rt_msg_new(T_PONG, &st->count, sizeof st->count, &r) == 0)
      rt_send(p->port, &r);
    break;
  }
  case T_BLOCK:
    tst_gate_wait(&p->gate);
    break;
  case T_STOPSELF:
    rt_stop_self(ctx);
    break;
  case T_CTX: {
    uint64_t ok = rt_self(ctx) != NULL && rt_ctx_runtime(ctx) == p->rt;
    uint64_t vals[2] = {ok, rt_self(ctx) ? rt_actor_id(rt_self(ctx)) : 0};
    rt_msg_t *r = NULL;
    if (rt_msg_new(T_PONG, vals, sizeof vals, &r) == 0) rt_send(p->port, &r);
    break;
  }
  case T_FORWARD: {
    rt_msg_t *r = NULL;
    if (rt_msg_new(T_PONG, NULL, 0, &r) == 0) rt_send(p->port, &r);
    break;
  }
  default:
    break;
  }
  if (p) atomic_fetch_add(&p->handled, 1);
}

/* The probe pointer travels in each message so handlers find it without
 * depending on state; on_stop gets it from the state on_start filled. */
static void probe_stop(rt_ctx_t *ctx, void *state);

static const rt_actor_type_t probe_type = {
    .name = "probe",
    .state_size = sizeof(state_t),
    .on_start = probe_start,
    .on_msg = probe_msg,
    .on_stop = probe_stop,
};

static void probe_stop(rt_ctx_t *ctx, void *state) {
  probe_t *p = ((state_t *)state)->probe;
  p->handled_at_stop = atomic_load(&p->handled);
  atomic_fetch_add(&p->stops, 1);
  tst_latch_count_down(&p->stopped);
}

static int send_probe(rt_actor_t *to, uint32_t type, probe_t *p) {
  return tst_send(to, type, &p, sizeof p);
}

static rt_actor_t *spawn_probe(rt_runtime_t *rt, probe_t *p,
                               const rt_spawn_opts_t *opts) {
  rt_actor_t *a = (rt_actor_t *)1;
  int rc = rt_actor_spawn(rt, &probe_type, p, opts, &a);
  cr_assert_eq(rc, 0, "rt_actor_spawn: %s", rt_strerror(rc));
  cr_assert_not_null(a);
  return a;
}

/* Round trip through the actor: every message sent before has been handled
 * once the pong is back (per-sender FIFO). */
static void sync_with(rt_actor_t *a, probe_t *p, rt_port_t *port) {
  cr_assert_eq(send_probe(a, T_PING, p), 0);
  rt_msg_free(tst_recv_type(port, T_PONG));
}

Test(actor, spawn_runs_on_start_before_returning) {
  rt_runtime_t *rt = tst_runtime(2);
  probe_t p;
  probe_init(&p, rt, NULL);
  rt_actor_t *a = spawn_probe(rt, &p, NULL);
  cr_assert_eq(atomic_load(&p.starts), 1, "on_start ran before spawn returned");
  cr_assert(pthread_equal(p.start_thread, pthread_self()),
            "on_start runs in the spawning thread");
  cr_assert(p.start_saw_zeroed_state, "state starts zeroed");
  cr_assert_eq(p.start_arg, (const void *)&p, "on_start gets the arg");
  cr_assert_geq(rt_actor_id(a), 1u);
  TST_OK(rt_actor_stopped(a));
  cr_assert_null(rt_actor_name(a), "unnamed");
  rt_actor_release(a);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&p.stops), 1);
}

Test(actor, ids_are_unique_and_positive) {
  rt_runtime_t *rt = tst_runtime(1);
  probe_t p;
  probe_init(&p, rt, NULL);
  enum { N = 64 };
  uint64_t ids[N];
  for (int i = 0; i < N; i++) {
    rt_actor_t *a = spawn_probe(rt, &p, NULL);
    ids[i] = rt_actor_id(a);
    cr_assert_geq(ids[i], 1u);
    for (int j = 0; j < i; j++) cr_assert_neq(ids[i], ids[j]);
    if (i % 2) rt_actor_stop(a); /* ids of stopped actors are not reused */
    rt_actor_release(a);
  }
  tst_runtime_free(rt);
}

Test(actor, failing_on_start_gives_estart_without_on_stop) {
  rt_runtime_t *rt = tst_runtime(1);
  probe_t p;
  probe_init(&p, rt, NULL);
  atomic_store(&p.fail_start, 1);
  rt_actor_t *a = (rt_actor_t *)1;
  rt_spawn_opts_t opts = {.name = "doomed"};
  TST_RC(rt_actor_spawn(rt, &probe_type, &p, &opts, &a), RT_ESTART);
  cr_assert_null(a, "*out is NULL on failure");
  cr_assert_eq(atomic_load(&p.starts), 1);
  rt_actor_t *found = (rt_actor_t *)1;
  cr_assert_eq(rt_actor_lookup(rt, "doomed", &found), RT_ENOTFOUND,
               "a failed spawn leaves no name behind");
  cr_assert_null(found);
  /* The name is free for the next spawn. */
  atomic_store(&p.fail_start, 0);
  a = spawn_probe(rt, &p, &opts);
  rt_actor_release(a);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&p.stops), 1, "only the actor that started stops");
}

Test(actor, spawn_rejects_invalid_arguments) {
  rt_runtime_t *rt = tst_runtime(1);
  rt_actor_t *a = (rt_actor_t *)1;
  TST_RC(rt_actor_spawn(rt, NULL, NULL, NULL, &a), RT_EINVAL);
  cr_assert_null(a);
  tst_runtime_free(rt);
}

Test(actor, lookup_by_name_finds_the_actor) {
  rt_runtime_t *rt = tst_runtime(1);
  probe_t p;
  probe_init(&p, rt, NULL);
  char name[32];
  snprintf(name, sizeof name, "alpha");
  rt_spawn_opts_t opts = {.name = name};
  rt_actor_t *a = spawn_probe(rt, &p, &opts);
  name[0] = 'X'; /* the runtime copied the name */
  cr_assert_str_eq(rt_actor_name(a), "alpha");
  rt_actor_t *found = NULL;
  TST_OK(rt_actor_lookup(rt, "alpha", &found));
  cr_assert_eq(rt_actor_id(found), rt_actor_id(a));
  rt_actor_release(found);
  TST_RC(rt_actor_lookup(rt, "Xlpha", &found), RT_ENOTFOUND);
  cr_assert_null(found);
  TST_RC(rt_actor_lookup(rt, "alph", &found), RT_ENOTFOUND);
  rt_actor_release(a);
  tst_runtime_free(rt);
}

Test(actor, duplicate_name_gives_eexist) {
  rt_runtime_t *rt = tst_runtime(1);
  probe_t p;
  probe_init(&p, rt, NULL);
  rt_spawn_opts_t opts = {.name = "twin"};
  rt_actor_t *a = spawn_probe(rt, &p, &opts);
  rt_actor_t *b = (rt_actor_t *)1;
  TST_RC(rt_actor_spawn(rt, &probe_type, &p, &opts, &b), RT_EEXIST);
  cr_assert_null(b);
  rt_actor_t *found = NULL;
  TST_OK(rt_actor_lookup(rt, "twin", &found));
  cr_assert_eq(rt_actor_id(found), rt_actor_id(a), "the first keeps the name");
  rt_actor_release(found);
  rt_actor_release(a);
  tst_runtime_free(rt);
}

Test(actor, name_is_freed_when_the_actor_stops) {
  rt_runtime_t *rt = tst_runtime(2);
  probe_t p;
  probe_init(&p, rt, NULL);
  rt_spawn_opts_t opts = {.name = "beta"};
  rt_actor_t *a = spawn_probe(rt, &p, &opts);
  TST_OK(rt_actor_stop(a));
  cr_assert(tst_latch_wait(&p.stopped, TST_WAIT_MS), "on_stop ran");
  rt_actor_t *found = NULL;
  cr_assert(TST_EVENTUALLY(rt_actor_lookup(rt, "beta", &found) == RT_ENOTFOUND,
                           TST_WAIT_MS),
            "the name is unregistered once the actor stopped");
  cr_assert_null(found);
  /* The name is unregistered just after on_stop returns: retry briefly. */
  rt_actor_t *b = NULL;
  int rc;
  cr_assert(TST_EVENTUALLY((rc = rt_actor_spawn(rt, &probe_type, &p, &opts, &b)) !=
                               RT_EEXIST,
                           TST_WAIT_MS),
            "the name stays taken after the actor stopped");
  TST_OK(rc);
  cr_assert_neq(rt_actor_id(b), rt_actor_id(a), "a new actor, a new id");
  TST_OK(rt_actor_lookup(rt, "beta", &found));
  cr_assert_eq(rt_actor_id(found), rt_actor_id(b));
  rt_actor_release(found);
  rt_actor_release(a);
  rt_actor_release(b);
  tst_runtime_free(rt);
}

Test(actor, lookup_id_finds_live_actors_only) {
  rt_runtime_t *rt = tst_runtime(2);
  probe_t p;
  probe_init(&p, rt, NULL);
  rt_actor_t *a = spawn_probe(rt, &p, NULL);
  uint64_t id = rt_actor_id(a);
  rt_actor_t *found = NULL;
  TST_OK(rt_actor_lookup_id(rt, id, &found));
  cr_assert_eq(rt_actor_id(found), id);
  rt_actor_release(found);
  found = (rt_actor_t *)1;
  TST_RC(rt_actor_lookup_id(rt, id + 1000000, &found), RT_ENOTFOUND);
  cr_assert_null(found);
  TST_RC(rt_actor_lookup_id(rt, 0, &found), RT_ENOTFOUND);
  TST_OK(rt_actor_stop(a));
  cr_assert(tst_latch_wait(&p.stopped, TST_WAIT_MS));
  cr_assert(TST_EVENTUALLY(rt_actor_lookup_id(rt, id, &found) == RT_ENOTFOUND,
                           TST_WAIT_MS),
            "a stopped actor is not found by id");
  rt_actor_release(a);
  tst_runtime_free(rt);
}

Test(actor, send_to_stopped_actor_gives_estopped) {
  rt_runtime_t *rt = tst_runtime(2);
  probe_t p;
  probe_init(&p, rt, NULL);
  rt_actor_t *a = spawn_probe(rt, &p, NULL);
  uint64_t id = rt_actor_id(a);
  TST_OK(rt_actor_stop(a));
  cr_assert(tst_latch_wait(&p.stopped, TST_WAIT_MS));
  cr_assert_neq(rt_actor_stopped(a), 0);
  /* The reference stays valid memory after the stop. */
  cr_assert_eq(rt_actor_id(a), id);
  for (int i = 0; i < 100; i++) {
    rt_msg_t *m = tst_msg(T_COUNT, &p, sizeof(probe_t *));
    TST_RC(rt_send(a, &m), RT_ESTOPPED);
    cr_assert_null(m, "a refused message is freed");
  }
  cr_assert_eq(rt_actor_stop(a), RT_ESTOPPED, "already stopping");
  rt_msg_t *m = tst_msg(T_COUNT, NULL, 0);
  int rc = rt_send_id(rt, id, &m);
  cr_assert(rc == RT_ENOTFOUND || rc == RT_ESTOPPED, "rt_send_id: %s",
            rt_strerror(rc));
  cr_assert_null(m);
  cr_assert_eq(atomic_load(&p.handled), 0);
  rt_actor_release(a);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&p.stops), 1);
}

Test(actor, send_id_to_unknown_id_gives_enotfound) {
  rt_runtime_t *rt = tst_runtime(1);
  rt_msg_t *m = tst_msg(T_COUNT, "abc", 3);
  TST_RC(rt_send_id(rt, 987654321, &m), RT_ENOTFOUND);
  cr_assert_null(m, "consumed on failure");
  m = tst_msg(T_COUNT, NULL, 0);
  TST_RC(rt_send_id(rt, 0, &m), RT_ENOTFOUND);
  cr_assert_null(m);
  tst_runtime_free(rt);
}

Test(actor, send_id_delivers) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_port_t *port = tst_port(rt, 16);
  probe_t p;
  probe_init(&p, rt, port);
  rt_actor_t *a = spawn_probe(rt, &p, NULL);
  rt_msg_t *m = tst_msg(T_PING, &(probe_t *){&p}, sizeof(probe_t *));
  TST_OK(rt_send_id(rt, rt_actor_id(a), &m));
  cr_assert_null(m, "consumed on success");
  rt_msg_t *r = tst_recv_type(port, T_PONG);
  cr_assert_eq(rt_msg_sender(r), rt_actor_id(a), "sender id is the actor's");
  rt_msg_free(r);
  rt_actor_release(a);
  tst_quiesce(rt);
  rt_port_free(port);
  tst_runtime_free(rt);
}

Test(actor, sender_is_zero_from_outside_and_the_actor_inside) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_port_t *port = tst_port(rt, 16);
  probe_t p;
  probe_init(&p, rt, port);
  rt_actor_t *a = spawn_probe(rt, &p, NULL);
  TST_OK(tst_send(rt_port_actor(port), T_PONG, NULL, 0));
  rt_msg_t *r = tst_recv(port);
  cr_assert_eq(rt_msg_sender(r), 0u, "sent from the test thread");
  rt_msg_free(r);
  cr_assert_eq(send_probe(a, T_FORWARD, &p), 0);
  r = tst_recv_type(port, T_PONG);
  cr_assert_eq(rt_msg_sender(r), rt_actor_id(a));
  rt_msg_free(r);
  rt_actor_release(a);
  tst_quiesce(rt);
  rt_port_free(port);
  tst_runtime_free(rt);
}

Test(actor, handler_context_names_the_actor_and_runtime) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_port_t *port = tst_port(rt, 16);
  probe_t p;
  probe_init(&p, rt, port);
  rt_actor_t *a = spawn_probe(rt, &p, NULL);
  cr_assert_eq(send_probe(a, T_CTX, &p), 0);
  uint64_t vals[2];
  rt_msg_t *r = tst_recv_type(port, T_PONG);
  tst_payload(r, vals, sizeof vals);
  rt_msg_free(r);
  cr_assert_eq(vals[0], 1u, "rt_self and rt_ctx_runtime are set");
  cr_assert_eq(vals[1], rt_actor_id(a), "rt_self is the running actor");
  rt_actor_release(a);
  tst_quiesce(rt);
  rt_port_free(port);
  tst_runtime_free(rt);
}

Test(actor, on_stop_runs_once_after_stop_then_shutdown) {
  rt_runtime_t *rt = tst_runtime(2);
  probe_t p;
  probe_init(&p, rt, NULL);
  rt_actor_t *a = spawn_probe(rt, &p, NULL);
  TST_OK(rt_actor_stop(a));
  TST_RC(rt_actor_stop(a), RT_ESTOPPED);
  cr_assert(tst_latch_wait(&p.stopped, TST_WAIT_MS));
  TST_RC(rt_actor_stop(a), RT_ESTOPPED);
  rt_actor_release(a);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&p.stops), 1);
}

Test(actor, on_stop_runs_once_after_stop_self_then_shutdown) {
  rt_runtime_t *rt = tst_runtime(2);
  probe_t p;
  probe_init(&p, rt, NULL);
  rt_actor_t *a = spawn_probe(rt, &p, NULL);
  cr_assert_eq(send_probe(a, T_STOPSELF, &p), 0);
  cr_assert(tst_latch_wait(&p.stopped, TST_WAIT_MS));
  cr_assert_neq(rt_actor_stopped(a), 0);
  cr_assert_eq(send_probe(a, T_COUNT, &p), RT_ESTOPPED);
  rt_actor_release(a);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&p.stops), 1);
}

Test(actor, on_stop_runs_once_at_shutdown) {
  rt_runtime_t *rt = tst_runtime(2);
  probe_t p;
  probe_init(&p, rt, NULL);
  rt_actor_t *a = spawn_probe(rt, &p, NULL);
  rt_actor_release(a);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  cr_assert_eq(atomic_load(&p.stops), 1);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DROP);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&p.stops), 1);
}

Test(actor, stop_self_and_stop_together_run_on_stop_once) {
  rt_runtime_t *rt = tst_runtime(2);
  probe_t p;
  probe_init(&p, rt, NULL);
  rt_actor_t *a = spawn_probe(rt, &p, NULL);
  cr_assert_eq(send_probe(a, T_STOPSELF, &p), 0);
  int rc = rt_actor_stop(a); /* races with the stop_self */
  cr_assert(rc == 0 || rc == RT_ESTOPPED, "%s", rt_strerror(rc));
  cr_assert(tst_latch_wait(&p.stopped, TST_WAIT_MS));
  rt_actor_release(a);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&p.stops), 1);
}

Test(actor, stop_handles_earlier_messages_first) {
  rt_runtime_t *rt = tst_runtime(2);
  probe_t p;
  probe_init(&p, rt, NULL);
  rt_spawn_opts_t opts = {.mailbox_capacity = 2000};
  rt_actor_t *a = spawn_probe(rt, &p, &opts);
  cr_assert_eq(send_probe(a, T_BLOCK, &p), 0);
  tst_gate_await_entered(&p.gate, 1); /* the actor is busy: the rest queues */
  enum { N = 1000 };
  for (int i = 0; i < N; i++) cr_assert_eq(send_probe(a, T_COUNT, &p), 0);
  TST_OK(rt_actor_stop(a));
  cr_assert_neq(rt_actor_stopped(a), 0, "stopped once asked to");
  tst_gate_open(&p.gate);
  cr_assert(tst_latch_wait(&p.stopped, TST_WAIT_MS));
  cr_assert_eq(p.handled_at_stop, N + 1,
               "every message queued before the stop was handled before on_stop");
  cr_assert_eq(send_probe(a, T_COUNT, &p), RT_ESTOPPED);
  rt_actor_release(a);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&p.handled), N + 1, "nothing after the stop");
}

Test(actor, stop_bypasses_the_mailbox_bound) {
  rt_runtime_t *rt = tst_runtime(2);
  probe_t p;
  probe_init(&p, rt, NULL);
  rt_spawn_opts_t opts = {.mailbox_capacity = 4};
  rt_actor_t *a = spawn_probe(rt, &p, &opts);
  cr_assert_eq(send_probe(a, T_BLOCK, &p), 0);
  tst_gate_await_entered(&p.gate, 1);
  int sent = 0;
  while (send_probe(a, T_COUNT, &p) == 0) sent++;
  cr_assert_leq(sent, 4);
  cr_assert_eq(rt_actor_stop(a), 0, "the stop is accepted by a full mailbox");
  tst_gate_open(&p.gate);
  cr_assert(tst_latch_wait(&p.stopped, TST_WAIT_MS));
  cr_assert_eq(p.handled_at_stop, sent + 1);
  rt_actor_release(a);
  tst_runtime_free(rt);
}

Test(actor, references_are_counted) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_port_t *port = tst_port(rt, 16);
  probe_t p;
  probe_init(&p, rt, port);
  rt_actor_t *a = spawn_probe(rt, &p, NULL);
  cr_assert_eq(rt_actor_retain(a), a, "retain returns its argument");
  rt_actor_release(a);
  rt_actor_release(NULL);
  /* Two more holders; the actor keeps working while any remains. */
  rt_actor_t *b = rt_actor_retain(a);
  rt_actor_release(a);
  sync_with(b, &p, port);
  rt_actor_release(b);
  tst_quiesce(rt);
  rt_port_free(port);
  tst_runtime_free(rt);
}
