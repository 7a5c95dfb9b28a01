/*
 * actor.c: mailboxes, spawning, sending, the per-turn dispatch loop,
 * supervision (restart in place), request/reply and per-actor stats.
 *
 * Threading: everything under "consumer side" runs on the one worker that
 * currently owns the actor (or, for on_start at spawn, on the spawning
 * thread before the actor can be scheduled). Senders touch only head,
 * depth, life and counters. See rt_int.h for the design note.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/rt_int.h"

_Thread_local rt_tls_t rt__tls;

uint64_t rt__now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t rt__now_ms(void) { return rt__now_ns() / 1000000ull; }

/* ---------------------------------------------------------------- mailbox */

void rt__mbox_init(rt_actor_t *a, rt_msg_t *stub)
{
  atomic_store_explicit(&stub->next, NULL, memory_order_relaxed);
  a->tail = stub;
  /* Untagged: "scheduled". The spawner owns the actor until on_start has
   * run; a send meanwhile queues without scheduling it. */
  atomic_store_explicit(&a->head, (uintptr_t)stub, memory_order_relaxed);
}

bool rt__mbox_push(rt_actor_t *a, rt_msg_t *m)
{
  atomic_store_explicit(&m->next, NULL, memory_order_relaxed);
  /* acq_rel: the release half publishes m's fields to whoever reads them
   * through prev->next; the acquire half pairs with the release CAS in
   * rt__mbox_mark_empty so the tag bit we may see is up to date. */
  uintptr_t prev = atomic_exchange_explicit(&a->head, (uintptr_t)m,
                                            memory_order_acq_rel);
  rt_msg_t *p = (rt_msg_t *)(prev & ~(uintptr_t)1);
  /* release: pairs with the acquire load of tail->next in rt__mbox_pop. */
  atomic_store_explicit(&p->next, m, memory_order_release);
  return (prev & 1) != 0;
}

rt_msg_t *rt__mbox_pop(rt_actor_t *a)
{
  rt_msg_t *tail = a->tail;
  rt_msg_t *next = atomic_load_explicit(&tail->next, memory_order_acquire);
  if (next) {
    /* The popped message becomes the stub; the old stub is done. */
    a->tail = next;
    rt__msg_dealloc(tail);
  }
  return next;
}

bool rt__mbox_mark_empty(rt_actor_t *a)
{
  uintptr_t tail = (uintptr_t)a->tail;
  uintptr_t head = atomic_load_explicit(&a->head, memory_order_relaxed);
  if (head & 1)
    return true;
  if (head != tail)
    return false;
  /* release: orders this turn's work before a sender that sees the tag
   * and schedules the actor elsewhere (pairs with the exchange's acquire). */
  return atomic_compare_exchange_strong_explicit(
      &a->head, &tail, tail | 1, memory_order_release, memory_order_relaxed);
}

void rt__mbox_drain_free(rt_actor_t *a)
{
  rt_msg_t *m;
  while ((m = rt__mbox_pop(a)) != NULL)
    rt__msg_release_payload(m);
  rt__msg_dealloc(a->tail);
  a->tail = NULL;
}

/* -------------------------------------------------------------- lifetime */

int rt__actor_alloc(rt_runtime_t *rt, rt_actor_t **out)
{
  *out = NULL;
  /* sizeof is a multiple of the alignment: the struct is _Alignas(64). */
  rt_actor_t *a = aligned_alloc(RT_CACHELINE, sizeof(*a));
  rt_msg_t *stub = rt__msg_alloc();
  if (!a || !stub) {
    free(a);
    rt_msg_free(stub);
    return RT_ENOMEM;
  }
  memset(a, 0, sizeof(*a));
  atomic_init(&a->refs, 1);
  atomic_init(&a->life, RT_LIVE);
  a->rt = a->srt = rt;
  a->yield_depth = RT_YIELD_BATCHES * rt->cfg.batch;
  a->capacity = rt->cfg.mailbox_capacity;
  a->id = atomic_fetch_add_explicit(&rt->next_id, 1, memory_order_relaxed) + 1;
  rt__map_init(&a->pending);
  rt__mbox_init(a, stub);
  *out = a;
  return 0;
}

void rt__actor_free(rt_actor_t *a)
{
  rt__mbox_drain_free(a);
  rt__map_fini(&a->pending);
  free(a->state);
  free(a->restart_times_ms);
  if (a->port)
    rt__port_state_free(a->port);
  free(a);
}

rt_actor_t *rt_actor_retain(rt_actor_t *a)
{
  atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
  return a;
}

void rt_actor_release(rt_actor_t *a)
{
  if (!a)
    return;
  /* acq_rel: the last holder must see every other holder's writes. */
  if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1)
    rt__actor_free(a);
}

uint64_t rt_actor_id(const rt_actor_t *a) { return a->id; }

const char *rt_actor_name(const rt_actor_t *a)
{
  return a->name[0] ? a->name : NULL;
}

int rt_actor_stopped(const rt_actor_t *a)
{
  return atomic_load_explicit(&a->life, memory_order_acquire) != RT_LIVE;
}

/* -------------------------------------------------------------- registry */

/* Names: hash -> chain of actors whose names share that hash (linked
 * through name_next), so two names that collide never shadow each other. */
static rt_actor_t *name_find(rt_runtime_t *rt, const char *name)
{
  rt_actor_t *a = rt__map_get(&rt->names, rt__hash_str(name));
  while (a && strcmp(a->name, name) != 0)
    a = a->name_next;
  return a;
}

static int name_put(rt_runtime_t *rt, rt_actor_t *a)
{
  uint64_t h = rt__hash_str(a->name);
  pthread_mutex_lock(&rt->names_lock);
  int rc = RT_EEXIST;
  if (!name_find(rt, a->name)) {
    a->name_next = rt__map_get(&rt->names, h);
    rc = rt__map_put(&rt->names, h, a);
    if (rc)
      a->name_next = NULL;
  }
  if (!rc)
    a->name_registered = true;
  pthread_mutex_unlock(&rt->names_lock);
  return rc;
}

void rt__actor_unregister_name(rt_actor_t *a)
{
  rt_runtime_t *rt = a->rt;
  if (!a->name_registered)
    return;
  uint64_t h = rt__hash_str(a->name);
  pthread_mutex_lock(&rt->names_lock);
  rt_actor_t *first = rt__map_get(&rt->names, h), **link = &first;
  while (*link && *link != a)
    link = &(*link)->name_next;
  if (*link)
    *link = a->name_next;
  if (first)
    rt__map_put(&rt->names, h, first); /* the key exists: cannot fail */
  else
    rt__map_del(&rt->names, h);
  a->name_next = NULL;
  a->name_registered = false;
  pthread_mutex_unlock(&rt->names_lock);
}

/* The table holds one reference while the actor is registered. */
int rt__actor_register(rt_actor_t *a)
{
  rt_runtime_t *rt = a->rt;
  if (a->name[0]) {
    int rc = name_put(rt, a);
    if (rc)
      return rc;
  }
  unsigned s = (unsigned)(a->id % RT_SHARDS);
  pthread_mutex_lock(&rt->shard[s].lock);
  int rc = rt__map_put(&rt->shard[s].ids, a->id, a);
  pthread_mutex_unlock(&rt->shard[s].lock);
  if (rc) {
    rt__actor_unregister_name(a);
    return rc;
  }
  rt_actor_retain(a);
  return 0;
}

void rt__actor_unregister(rt_actor_t *a)
{
  rt_runtime_t *rt = a->rt;
  rt__actor_unregister_name(a);
  unsigned s = (unsigned)(a->id % RT_SHARDS);
  pthread_mutex_lock(&rt->shard[s].lock);
  rt_actor_t *was = rt__map_del(&rt->shard[s].ids, a->id);
  pthread_mutex_unlock(&rt->shard[s].lock);
  if (was)
    rt_actor_release(a);
}

int rt_actor_lookup_id(rt_runtime_t *rt, uint64_t id, rt_actor_t **out)
{
  *out = NULL;
  unsigned s = (unsigned)(id % RT_SHARDS);
  pthread_mutex_lock(&rt->shard[s].lock);
  rt_actor_t *a = rt__map_get(&rt->shard[s].ids, id);
  if (a && atomic_load_explicit(&a->life, memory_order_acquire) != RT_STOPPED)
    *out = rt_actor_retain(a);
  pthread_mutex_unlock(&rt->shard[s].lock);
  return *out ? 0 : RT_ENOTFOUND;
}

int rt_actor_lookup(rt_runtime_t *rt, const char *name, rt_actor_t **out)
{
  *out = NULL;
  if (!name || !*name)
    return RT_ENOTFOUND;
  pthread_mutex_lock(&rt->names_lock);
  rt_actor_t *a = name_find(rt, name);
  if (a && atomic_load_explicit(&a->life, memory_order_acquire) != RT_STOPPED)
    *out = rt_actor_retain(a);
  pthread_mutex_unlock(&rt->names_lock);
  return *out ? 0 : RT_ENOTFOUND;
}

size_t rt__actors_snapshot(rt_runtime_t *rt, rt_actor_t ***out)
{
  size_t n = 0, cap = 64;
  rt_actor_t **v = malloc(cap * sizeof(*v));
  for (unsigned s = 0; v && s < RT_SHARDS; s++) {
    pthread_mutex_lock(&rt->shard[s].lock);
    rt_map_t *m = &rt->shard[s].ids;
    for (size_t i = 0; i < m->cap; i++) {
      rt_actor_t *a = m->vals[i];
      if (!a || a->is_port)
        continue;
      if (n == cap) {
        rt_actor_t **nv = realloc(v, 2 * cap * sizeof(*v));
        if (!nv)
          break;
        v = nv;
        cap *= 2;
      }
      v[n++] = rt_actor_retain(a);
    }
    pthread_mutex_unlock(&rt->shard[s].lock);
  }
  *out = v;
  return v ? n : 0;
}

/* ------------------------------------------------------------------ send */

static void note_depth(rt_actor_t *a, unsigned d)
{
  unsigned hwm = atomic_load_explicit(&a->depth_hwm, memory_order_relaxed);
  while (d > hwm && !atomic_compare_exchange_weak_explicit(
                        &a->depth_hwm, &hwm, d, memory_order_relaxed,
                        memory_order_relaxed)) {
  }
}

/* Queue without the life check (stop requests need that). */
static int enqueue(rt_actor_t *to, rt_msg_t *m, bool forced)
{
  unsigned d =
      atomic_fetch_add_explicit(&to->depth, 1, memory_order_relaxed) + 1;
  if (!forced && d > to->capacity) {
    atomic_fetch_sub_explicit(&to->depth, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&to->rejected, 1, memory_order_relaxed);
    rt__msg_dealloc(m);
    return RT_EAGAIN;
  }
  note_depth(to, d);
  if (d > to->yield_depth)
    rt__tls.yield = true;
  m->rt = to->srt;
  if (to->port) {
    /* Once pushed, the message can be received and the port freed by its
     * reader before we wake it: keep the port alive across the wake-up. */
    rt_actor_retain(to);
    if (rt__mbox_push(to, m))
      rt__port_wake(to);
    rt_actor_release(to);
    return 0;
  }
  if (rt__mbox_push(to, m)) {
    rt_actor_retain(to); /* the scheduled state's reference */
    rt__schedule(to);
  }
  return 0;
}

int rt__send(rt_actor_t *to, rt_msg_t **msg, bool forced)
{
  rt_msg_t *m = *msg;
  *msg = NULL;
  if (!to || !m) {
    rt_msg_free(m);
    return RT_EINVAL;
  }
  assert(m->type != RT_MSG_POISON && "message used after it was freed");
  if (atomic_load_explicit(&to->life, memory_order_acquire) != RT_LIVE) {
    rt__msg_dealloc(m);
    return RT_ESTOPPED;
  }
  rt_actor_t *cur = rt__tls.current;
  if (cur) {
    m->sender = cur->id;
  } else if (!forced && !to->port &&
             atomic_load_explicit(&to->srt->shutting_down,
                                  memory_order_relaxed)) {
    rt__msg_dealloc(m);
    return RT_ESHUTDOWN;
  }
  return enqueue(to, m, forced);
}

int rt_send(rt_actor_t *to, rt_msg_t **msg) { return rt__send(to, msg, false); }

int rt__send_id(rt_runtime_t *rt, uint64_t to, rt_msg_t **msg, bool forced)
{
  rt_actor_t *a = NULL;
  if (rt_actor_lookup_id(rt, to, &a) != 0) {
    rt_msg_free(*msg);
    *msg = NULL;
    return RT_ENOTFOUND;
  }
  int rc = rt__send(a, msg, forced);
  rt_actor_release(a);
  return rc;
}

int rt_send_id(rt_runtime_t *rt, uint64_t to, rt_msg_t **msg)
{
  return rt__send_id(rt, to, msg, false);
}

void rt__actor_request_stop(rt_actor_t *a)
{
  int live = RT_LIVE;
  if (!atomic_compare_exchange_strong_explicit(&a->life, &live, RT_STOPPING,
                                               memory_order_acq_rel,
                                               memory_order_acquire))
    return;
  rt_msg_t *m = rt__msg_alloc();
  if (!m)
    abort(); /* a small internal allocation: out of memory is fatal */
  m->flags = RT_MF_STOP | RT_MF_FORCED;
  enqueue(a, m, true);
}

int rt_actor_stop(rt_actor_t *a)
{
  if (!a || a->port)
    return RT_EINVAL;
  if (atomic_load_explicit(&a->life, memory_order_acquire) != RT_LIVE)
    return RT_ESTOPPED;
  rt__actor_request_stop(a);
  return 0;
}

/* ------------------------------------------------------ hooks and turns */

static void with_ctx(rt_actor_t *a, rt_ctx_t *ctx, rt_tls_t *saved)
{
  *saved = rt__tls;
  ctx->self = a;
  ctx->failed = false;
  ctx->stop = false;
  ctx->reason[0] = '\0';
  rt__tls.current = a;
  rt__tls.ctx = ctx;
}

static void restore_ctx(const rt_tls_t *saved)
{
  rt__tls.current = saved->current;
  rt__tls.ctx = saved->ctx;
}

static void call_on_stop(rt_actor_t *a)
{
  if (!a->type->on_stop)
    return;
  rt_ctx_t ctx;
  rt_tls_t saved;
  with_ctx(a, &ctx, &saved);
  a->type->on_stop(&ctx, a->state);
  restore_ctx(&saved);
}

static int call_on_start(rt_actor_t *a, rt_ctx_t *ctx)
{
  ctx->self = a;
  ctx->failed = ctx->stop = false;
  ctx->reason[0] = '\0';
  if (!a->type->on_start)
    return 0;
  rt_tls_t saved;
  with_ctx(a, ctx, &saved);
  int rc = a->type->on_start(ctx, a->state, a->arg);
  restore_ctx(&saved);
  return rc;
}

static void live_add(rt_runtime_t *rt, int delta)
{
  pthread_mutex_lock(&rt->live_lock);
  rt->live = (uint64_t)((int64_t)rt->live + delta);
  if (rt->live == 0)
    pthread_cond_broadcast(&rt->live_cond);
  pthread_mutex_unlock(&rt->live_lock);
}

static void cancel_pending(rt_actor_t *a)
{
  for (size_t i = 0; i < a->pending.cap; i++) {
    uint64_t k = a->pending.keys[i];
    if (k && k != UINT64_MAX)
      rt_timer_cancel(a->rt, (uint64_t)(uintptr_t)a->pending.vals[i] - 1);
  }
  rt__map_fini(&a->pending);
}

static void notify_supervisor(rt_actor_t *a, uint32_t type,
                              const char *reason)
{
  if (!a->supervisor)
    return;
  rt_child_event_t ev;
  memset(&ev, 0, sizeof(ev));
  ev.child_id = a->id;
  ev.restarts = atomic_load_explicit(&a->restarts, memory_order_relaxed);
  snprintf(ev.reason, sizeof(ev.reason), "%s", reason ? reason : "");
  rt_msg_t *m = NULL;
  if (rt__msg_new_system(type, &ev, sizeof(ev), &m) != 0)
    return;
  m->sender = a->id;
  rt__send(a->supervisor, &m, true);
}

/* Stop for good: hide the name, run on_stop (unless already run), tell
 * the supervisor when @p down_reason is set, unregister, drop links. The
 * name goes first so that a lookup that fails means the name is free. */
static void actor_finish(rt_actor_t *a, bool run_on_stop,
                         const char *down_reason)
{
  a->finished = true;
  atomic_store_explicit(&a->life, RT_STOPPED, memory_order_release);
  rt__actor_unregister_name(a);
  if (run_on_stop)
    call_on_stop(a);
  cancel_pending(a);
  free(a->state);
  a->state = NULL;
  if (down_reason)
    notify_supervisor(a, RT_MSG_CHILD_DOWN, down_reason);
  rt_actor_t *sup = a->supervisor;
  a->supervisor = NULL;
  rt_actor_release(sup);
  rt__actor_unregister(a);
  live_add(a->rt, -1);
}

/* Restarts allowed now? Counts the restarts inside the window. */
static bool restart_allowed(rt_actor_t *a, uint64_t now)
{
  if (a->max_restarts == 0)
    return false;
  unsigned recent = 0;
  for (unsigned i = 0; i < a->max_restarts; i++) {
    uint64_t t = a->restart_times_ms[i];
    if (t && (a->restart_window_ms == 0 || now - t < a->restart_window_ms))
      recent++;
  }
  return recent < a->max_restarts;
}

static void actor_failed(rt_actor_t *a, const char *reason)
{
  uint64_t now = rt__now_ms();
  if (!restart_allowed(a, now)) {
    actor_finish(a, true, reason);
    return;
  }
  a->restart_times_ms[a->restart_next] = now ? now : 1;
  a->restart_next = (a->restart_next + 1) % a->max_restarts;
  call_on_stop(a);
  cancel_pending(a);
  memset(a->state, 0, a->type->state_size);
  atomic_fetch_add_explicit(&a->restarts, 1, memory_order_relaxed);
  rt_ctx_t ctx;
  if (call_on_start(a, &ctx) != 0) {
    actor_finish(a, false, "on_start failed on restart");
    return;
  }
  notify_supervisor(a, RT_MSG_CHILD_RESTARTED, reason);
}

static void record_time(rt_actor_t *a, uint64_t ns)
{
  unsigned b = ns ? 63u - (unsigned)__builtin_clzll(ns) : 0;
  if (b >= RT_HIST_BUCKETS)
    b = RT_HIST_BUCKETS - 1;
  atomic_fetch_add_explicit(&a->hist[b], 1, memory_order_relaxed);
}

/* A reply or a request timeout is delivered only while its request is
 * pending: whichever comes first wins, the other is dropped. */
static bool settle_pending(rt_actor_t *a, rt_msg_t *m)
{
  void *v = rt__map_del(&a->pending, m->corr);
  if (!v)
    return false;
  if (m->flags & RT_MF_REPLY)
    rt_timer_cancel(a->rt, (uint64_t)(uintptr_t)v - 1);
  return true;
}

static void dispatch(rt_actor_t *a, rt_msg_t *m)
{
  if (m->flags & RT_MF_STOP) {
    actor_finish(a, true, NULL);
    return;
  }
  if ((m->flags & (RT_MF_REPLY | RT_MF_TIMEOUT)) && !settle_pending(a, m))
    return;
  if (!a->type->on_msg)
    return;
  rt_ctx_t ctx;
  rt_tls_t saved;
  uint64_t k = atomic_load_explicit(&a->processed, memory_order_relaxed);
  bool timed = (k & (RT_STATS_SAMPLE - 1)) == 0;
  uint64_t t0 = timed ? rt__now_ns() : 0;
  with_ctx(a, &ctx, &saved);
  a->type->on_msg(&ctx, a->state, m);
  restore_ctx(&saved);
  if (timed)
    record_time(a, rt__now_ns() - t0);
  atomic_store_explicit(&a->processed, k + 1, memory_order_relaxed);
  if (ctx.failed)
    actor_failed(a, ctx.reason);
  else if (ctx.stop)
    actor_finish(a, true, NULL);
}

bool rt__actor_run(rt_actor_t *a, unsigned batch, unsigned linger,
                   unsigned *handled)
{
  unsigned n = 0;
  rt_msg_t *m = NULL;
  while (n < batch) {
    m = rt__mbox_pop(a);
    if (!m) {
      /* Nothing else to run: wait a moment for the next message rather
       * than paying an unschedule + reschedule for a streaming sender. */
      if (linger == 0 || !rt__sched_may_linger())
        break;
      linger--;
      rt__cpu_relax();
      continue;
    }
    n++;
    bool drop =
        atomic_load_explicit(&a->rt->dropping, memory_order_relaxed) &&
        !(m->flags & RT_MF_STOP);
    if (!a->finished && !drop)
      dispatch(a, m);
    rt__msg_release_payload(m);
    if (rt__tls.yield) {
      rt__tls.yield = false;
      break;
    }
  }
  *handled = n;
  if (n)
    atomic_fetch_sub_explicit(&a->depth, n, memory_order_relaxed);
  if (m) /* turn ended early: batch used up, or yielding to a consumer */
    return true;
  if (rt__mbox_mark_empty(a)) {
    rt_actor_release(a); /* the scheduled state's reference */
    return false;
  }
  return true;
}

/* ------------------------------------------------------------------ spawn */

static int spawn_setup(rt_actor_t *a, const rt_actor_type_t *type,
                       const void *arg, const rt_spawn_opts_t *opts)
{
  a->type = type;
  a->arg = arg;
  a->state = calloc(1, type->state_size ? type->state_size : 1);
  if (!a->state)
    return RT_ENOMEM;
  if (!opts)
    return 0;
  if (opts->name)
    snprintf(a->name, sizeof(a->name), "%s", opts->name);
  if (opts->mailbox_capacity)
    a->capacity = opts->mailbox_capacity;
  a->max_restarts = opts->max_restarts;
  a->restart_window_ms = opts->restart_window_ms;
  if (a->max_restarts) {
    a->restart_times_ms = calloc(a->max_restarts, sizeof(uint64_t));
    if (!a->restart_times_ms)
      return RT_ENOMEM;
  }
  if (opts->supervisor)
    a->supervisor = rt_actor_retain(opts->supervisor);
  return 0;
}

static int spawn_check(rt_runtime_t *rt, const rt_actor_type_t *type,
                       const rt_spawn_opts_t *opts)
{
  if (!rt || !type)
    return RT_EINVAL;
  if (opts && opts->name && (!*opts->name || strlen(opts->name) >= RT_NAME_MAX))
    return RT_EINVAL;
  if (atomic_load_explicit(&rt->shutting_down, memory_order_acquire))
    return RT_ESHUTDOWN;
  return 0;
}

/* Count the actor as live unless a shutdown began meanwhile. */
static bool live_enter(rt_runtime_t *rt)
{
  pthread_mutex_lock(&rt->live_lock);
  bool ok = !atomic_load_explicit(&rt->shutting_down, memory_order_acquire);
  if (ok)
    rt->live++;
  pthread_mutex_unlock(&rt->live_lock);
  return ok;
}

/* Undo a spawn that failed after registration. */
static void spawn_abort(rt_actor_t *a)
{
  atomic_store_explicit(&a->life, RT_STOPPED, memory_order_release);
  rt_actor_t *sup = a->supervisor;
  a->supervisor = NULL;
  rt_actor_release(sup);
  rt__actor_unregister(a);
  rt_actor_release(a);
}

int rt_actor_spawn(rt_runtime_t *rt, const rt_actor_type_t *type,
                   const void *arg, const rt_spawn_opts_t *opts,
                   rt_actor_t **out)
{
  *out = NULL;
  rt_actor_t *a = NULL;
  int rc = spawn_check(rt, type, opts);
  if (!rc)
    rc = rt__actor_alloc(rt, &a);
  if (!rc)
    rc = spawn_setup(a, type, arg, opts);
  if (!rc)
    rc = rt__actor_register(a);
  if (rc) {
    if (a)
      atomic_store_explicit(&a->life, RT_STOPPED, memory_order_relaxed);
    if (a && a->supervisor)
      rt_actor_release(a->supervisor);
    rt_actor_release(a);
    return rc;
  }
  rt_ctx_t ctx;
  if (call_on_start(a, &ctx) != 0) {
    spawn_abort(a);
    return RT_ESTART;
  }
  if (!live_enter(rt)) {
    call_on_stop(a);
    spawn_abort(a);
    return RT_ESHUTDOWN;
  }
  if (ctx.stop || ctx.failed)
    rt__actor_request_stop(a);
  /* Hand the actor to the scheduler: it may already have mail. */
  if (!rt__mbox_mark_empty(a)) {
    rt_actor_retain(a);
    rt__schedule(a);
  }
  *out = a;
  return 0;
}

/* ------------------------------------------------------ handler helpers */

/* A context is valid only inside its hook, on that hook's thread. */
#define ASSERT_LIVE_CTX(ctx) assert((ctx) && (ctx) == rt__tls.ctx)

rt_actor_t *rt_self(rt_ctx_t *ctx)
{
  ASSERT_LIVE_CTX(ctx);
  return ctx->self;
}

rt_runtime_t *rt_ctx_runtime(rt_ctx_t *ctx)
{
  ASSERT_LIVE_CTX(ctx);
  return ctx->self->rt;
}

void rt_stop_self(rt_ctx_t *ctx)
{
  ASSERT_LIVE_CTX(ctx);
  ctx->stop = true;
}

void rt_actor_fail(rt_ctx_t *ctx, const char *reason)
{
  ASSERT_LIVE_CTX(ctx);
  ctx->failed = true;
  snprintf(ctx->reason, sizeof(ctx->reason), "%s", reason ? reason : "");
}

int rt_request(rt_ctx_t *ctx, rt_actor_t *to, rt_msg_t **msg,
               uint32_t timeout_ms, uint64_t *corr_out)
{
  ASSERT_LIVE_CTX(ctx);
  rt_actor_t *self = ctx->self;
  rt_runtime_t *rt = self->rt;
  rt_msg_t *m = *msg;
  if (corr_out)
    *corr_out = 0;
  if (!m || !to) {
    rt_msg_free(m);
    *msg = NULL;
    return RT_EINVAL;
  }
  uint64_t corr =
      atomic_fetch_add_explicit(&rt->next_corr, 1, memory_order_relaxed) + 1;
  m->flags |= RT_MF_REQUEST;
  m->corr = corr;
  m->reply_to = self->id;
  uint64_t tid = 0;
  int rc = rt__timer_start_forced(rt, self, RT_MSG_TIMEOUT, RT_MF_TIMEOUT,
                                  corr, timeout_ms, &tid);
  if (!rc)
    rc = rt__map_put(&self->pending, corr, (void *)(uintptr_t)(tid + 1));
  if (!rc)
    rc = rt_send(to, msg);
  else {
    rt_msg_free(m);
    *msg = NULL;
  }
  if (rc) {
    rt__map_del(&self->pending, corr);
    if (tid)
      rt_timer_cancel(rt, tid);
    return rc;
  }
  if (corr_out)
    *corr_out = corr;
  return 0;
}

int rt_msg_reply_to(const rt_msg_t *req, rt_reply_to_t *out)
{
  memset(out, 0, sizeof(*out));
  if (!req || !(req->flags & RT_MF_REQUEST) || !req->reply_to || !req->rt)
    return RT_EINVAL;
  out->rt = req->rt;
  out->actor = req->reply_to;
  out->corr = req->corr;
  return 0;
}

int rt_reply_later(const rt_reply_to_t *to, rt_msg_t **reply)
{
  rt_msg_t *r = *reply;
  if (!r || !to || !to->rt || !to->actor) {
    rt_msg_free(r);
    *reply = NULL;
    return RT_EINVAL;
  }
  r->corr = to->corr;
  r->flags |= RT_MF_REPLY;
  return rt__send_id(to->rt, to->actor, reply, true);
}

int rt_reply(const rt_msg_t *req, rt_msg_t **reply)
{
  rt_reply_to_t to;
  if (rt_msg_reply_to(req, &to) != 0) {
    rt_msg_free(*reply);
    *reply = NULL;
    return RT_EINVAL;
  }
  return rt_reply_later(&to, reply);
}

/* ------------------------------------------------------------------ stats */

void rt_actor_stats(const rt_actor_t *a, rt_actor_stats_t *out)
{
  rt_actor_t *m = (rt_actor_t *)a; /* atomics are read through non-const */
  memset(out, 0, sizeof(*out));
  out->id = a->id;
  snprintf(out->name, sizeof(out->name), "%s", a->name);
  out->type_name = a->type ? a->type->name : "port";
  out->processed = atomic_load_explicit(&m->processed, memory_order_relaxed);
  out->depth = atomic_load_explicit(&m->depth, memory_order_relaxed);
  out->depth_hwm = atomic_load_explicit(&m->depth_hwm, memory_order_relaxed);
  out->capacity = a->capacity;
  out->restarts = atomic_load_explicit(&m->restarts, memory_order_relaxed);
  out->rejected = atomic_load_explicit(&m->rejected, memory_order_relaxed);
  for (unsigned i = 0; i < RT_HIST_BUCKETS; i++)
    out->handler_ns_hist[i] =
        atomic_load_explicit(&m->hist[i], memory_order_relaxed);
  out->stopped = rt_actor_stopped(a);
}

void rt_runtime_foreach_actor(rt_runtime_t *rt,
                              void (*fn)(const rt_actor_stats_t *s, void *arg),
                              void *arg)
{
  rt_actor_t **v = NULL;
  size_t n = rt__actors_snapshot(rt, &v);
  for (size_t i = 0; i < n; i++) {
    rt_actor_stats_t s;
    rt_actor_stats(v[i], &s);
    if (!s.stopped)
      fn(&s, arg);
    rt_actor_release(v[i]);
  }
  free(v);
}
