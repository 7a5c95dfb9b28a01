/*
 * sched.c: worker threads, run queues, idle spinning and parking, and the
 * runtime's life cycle (new, shutdown, free).
 *
 * Each worker owns a FIFO run queue that no other thread touches. Actors
 * made runnable from outside the workers go to the injection queue (one
 * mutex, also guarding the list of parked workers). Balancing is by
 * sharing: after a turn, a worker with two or more queued actors moves one
 * to the injection queue when some worker is idle, and wakes a parked one
 * only if nobody is spinning. The reasons are in rt_int.h and README.md.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/rt_int.h"

#define RT_INJECT_EVERY 61

typedef struct rt_worker {
  rt_runtime_t *rt;
  unsigned index;
  pthread_t thread;
  /* Owner-only run queue. */
  rt_actor_t *lq_head, *lq_tail;
  unsigned lq_len;
  /* Idle spin budget (owner only, read by stats): see spin_adapt(). */
  _Atomic uint64_t spin_ns;
  /* Parking, guarded by sched->lock. */
  pthread_cond_t cond;
  bool woken;
  struct rt_worker *next_parked;
  atomic_uint_fast64_t messages;
} rt_worker_t;

struct rt_sched {
  pthread_mutex_t lock;
  rt_actor_t *inj_head, *inj_tail;
  atomic_uint inj_len;
  atomic_uint spinning;
  atomic_uint parked;
  rt_worker_t *parked_list;
  atomic_bool exit;
  unsigned n;
  unsigned started;
  rt_worker_t *w;
};


static void lq_push(rt_worker_t *w, rt_actor_t *a)
{
  a->next_run = NULL;
  if (w->lq_tail)
    w->lq_tail->next_run = a;
  else
    w->lq_head = a;
  w->lq_tail = a;
  w->lq_len++;
}

static rt_actor_t *lq_pop(rt_worker_t *w)
{
  rt_actor_t *a = w->lq_head;
  if (!a)
    return NULL;
  w->lq_head = a->next_run;
  if (!w->lq_head)
    w->lq_tail = NULL;
  w->lq_len--;
  return a;
}

static rt_actor_t *inject_pop_locked(struct rt_sched *s)
{
  rt_actor_t *a = s->inj_head;
  if (!a)
    return NULL;
  s->inj_head = a->next_run;
  if (!s->inj_head)
    s->inj_tail = NULL;
  atomic_fetch_sub_explicit(&s->inj_len, 1, memory_order_relaxed);
  return a;
}

static rt_actor_t *inject_pop(struct rt_sched *s)
{
  if (atomic_load_explicit(&s->inj_len, memory_order_relaxed) == 0)
    return NULL;
  pthread_mutex_lock(&s->lock);
  rt_actor_t *a = inject_pop_locked(s);
  pthread_mutex_unlock(&s->lock);
  return a;
}

static void inject_push(struct rt_sched *s, rt_actor_t *a)
{
  rt_worker_t *wake = NULL;
  a->next_run = NULL;
  pthread_mutex_lock(&s->lock);
  if (s->inj_tail)
    s->inj_tail->next_run = a;
  else
    s->inj_head = a;
  s->inj_tail = a;
  atomic_fetch_add_explicit(&s->inj_len, 1, memory_order_relaxed);
  /* A spinning worker will find it; wake a parked one only otherwise. */
  if (atomic_load_explicit(&s->spinning, memory_order_relaxed) == 0 &&
      s->parked_list) {
    wake = s->parked_list;
    s->parked_list = wake->next_parked;
    atomic_fetch_sub_explicit(&s->parked, 1, memory_order_relaxed);
    wake->woken = true;
  }
  pthread_mutex_unlock(&s->lock);
  if (wake)
    pthread_cond_signal(&wake->cond);
}

bool rt__sched_may_linger(void)
{
  rt_worker_t *w = rt__tls.worker;
  return w && w->lq_len == 0 &&
         atomic_load_explicit(&w->rt->sched->inj_len, memory_order_relaxed) == 0 &&
         !atomic_load_explicit(&w->rt->sched->exit, memory_order_relaxed);
}

void rt__schedule(rt_actor_t *a)
{
  rt_worker_t *w = rt__tls.worker;
  if (w && w->rt == a->rt)
    lq_push(w, a);
  else
    inject_push(a->rt->sched, a);
}

/* The spin budget adapts to how work arrives (spin_us is the most):
 * a spin that found work within half its budget doubles it (work comes
 * in quick succession: message passing between workers), a spin that
 * timed out halves it, down to 1/RT_SPIN_FLOOR_DIV of spin_us. Work that
 * arrives a millisecond apart (events from outside the runtime) so stops
 * costing a spin per arrival within a few arrivals: the worker parks
 * after a few microseconds and leaves the CPU to other threads, which on
 * a machine with few cores is worth more than the 20-200 us a wake-up
 * costs that work. */
static uint64_t spin_max_ns(const rt_worker_t *w)
{
  return (uint64_t)w->rt->cfg.spin_us * 1000u;
}

static void spin_adapt(rt_worker_t *w, uint64_t budget, bool found,
                       uint64_t spent)
{
  uint64_t max = spin_max_ns(w), floor = max / RT_SPIN_FLOOR_DIV, next = budget;
  if (found && spent <= budget / 2)
    next = budget * 2 > max ? max : budget * 2;
  else if (!found)
    next = budget / 2 < floor ? floor : budget / 2;
  atomic_store_explicit(&w->spin_ns, next, memory_order_relaxed);
}

/* Spin on the injection queue for the worker's budget. NULL: nothing
 * found, or the runtime is exiting (*exiting set). */
static rt_actor_t *idle_spin(rt_worker_t *w, bool *exiting)
{
  struct rt_sched *s = w->rt->sched;
  uint64_t budget = atomic_load_explicit(&w->spin_ns, memory_order_relaxed);
  uint64_t start = rt__now_ns(), now = start;
  rt_actor_t *a = NULL;
  atomic_fetch_add_explicit(&s->spinning, 1, memory_order_relaxed);
  for (unsigned i = 1;; i++) {
    a = inject_pop(s);
    if (a || atomic_load_explicit(&s->exit, memory_order_acquire)) {
      *exiting = !a;
      break;
    }
    rt__cpu_relax();
    if ((i & 63) == 0 && (now = rt__now_ns()) - start >= budget)
      break;
  }
  atomic_fetch_sub_explicit(&s->spinning, 1, memory_order_relaxed);
  if (a)
    now = rt__now_ns();
  if (!*exiting)
    spin_adapt(w, budget, a != NULL, now - start);
  if (!a && !*exiting)
    atomic_fetch_add_explicit(&w->rt->spin_timeouts, 1, memory_order_relaxed);
  return a;
}

/* Spin, then park once. NULL: nothing found (the caller looks again) or
 * the runtime is exiting (*exiting set). */
static rt_actor_t *idle_wait(rt_worker_t *w, bool *exiting)
{
  struct rt_sched *s = w->rt->sched;
  rt_actor_t *a = idle_spin(w, exiting);
  if (a || *exiting)
    return a;

  pthread_mutex_lock(&s->lock);
  a = inject_pop_locked(s);
  if (!a && !atomic_load_explicit(&s->exit, memory_order_acquire)) {
    w->woken = false;
    w->next_parked = s->parked_list;
    s->parked_list = w;
    atomic_fetch_add_explicit(&s->parked, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->rt->parks, 1, memory_order_relaxed);
    while (!w->woken)
      pthread_cond_wait(&w->cond, &s->lock);
    a = inject_pop_locked(s);
  }
  *exiting = !a && atomic_load_explicit(&s->exit, memory_order_acquire);
  pthread_mutex_unlock(&s->lock);
  return a;
}

/* After a turn: give one actor away if we have spare work and someone
 * is idle. */
static void maybe_share(rt_worker_t *w)
{
  struct rt_sched *s = w->rt->sched;
  if (w->lq_len < 2)
    return;
  if (atomic_load_explicit(&s->spinning, memory_order_relaxed) +
          atomic_load_explicit(&s->parked, memory_order_relaxed) ==
      0)
    return;
  inject_push(s, lq_pop(w));
  atomic_fetch_add_explicit(&w->rt->shares, 1, memory_order_relaxed);
}

static void *worker_main(void *arg)
{
  rt_worker_t *w = arg;
  rt_runtime_t *rt = w->rt;
  unsigned batch = rt->cfg.batch;
  rt__tls.worker = w;
  unsigned turns = 0;
  for (;;) {
    /* Every RT_INJECT_EVERY turns look at the shared queue first, so an
     * actor that keeps itself runnable here cannot starve the actors made
     * runnable from outside (Go checks its global queue every 61 ticks). */
    rt_actor_t *a = (++turns % RT_INJECT_EVERY == 0) ? inject_pop(rt->sched)
                                                     : NULL;
    if (!a)
      a = lq_pop(w);
    if (!a)
      a = inject_pop(rt->sched);
    if (!a) {
      bool exiting = false;
      a = idle_wait(w, &exiting);
      if (exiting)
        break;
      if (!a)
        continue;
    }
    unsigned handled = 0;
    if (rt__actor_run(a, batch, RT_LINGER_SPINS, &handled))
      lq_push(w, a);
    atomic_store_explicit(
        &w->messages,
        atomic_load_explicit(&w->messages, memory_order_relaxed) + handled,
        memory_order_relaxed);
    maybe_share(w);
  }
  rt__tls.worker = NULL;
  return NULL;
}

static void wake_all(struct rt_sched *s)
{
  pthread_mutex_lock(&s->lock);
  while (s->parked_list) {
    rt_worker_t *w = s->parked_list;
    s->parked_list = w->next_parked;
    atomic_fetch_sub_explicit(&s->parked, 1, memory_order_relaxed);
    w->woken = true;
    pthread_cond_signal(&w->cond);
  }
  pthread_mutex_unlock(&s->lock);
}

int rt__sched_start(rt_runtime_t *rt)
{
  struct rt_sched *s = calloc(1, sizeof(*s));
  if (!s)
    return RT_ENOMEM;
  s->n = rt->cfg.workers;
  s->w = calloc(s->n, sizeof(*s->w));
  if (!s->w) {
    free(s);
    return RT_ENOMEM;
  }
  pthread_mutex_init(&s->lock, NULL);
  rt->sched = s;
  for (unsigned i = 0; i < s->n; i++) {
    rt_worker_t *w = &s->w[i];
    w->rt = rt;
    w->index = i;
    atomic_init(&w->spin_ns, spin_max_ns(w));
    pthread_cond_init(&w->cond, NULL);
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc) {
      pthread_cond_destroy(&w->cond);
      return -rc;
    }
    s->started++;
  }
  return 0;
}

/* Stop the workers once every actor has stopped; queued work (messages to
 * dead actors) is drained first. Then free what is left. */
void rt__sched_stop(rt_runtime_t *rt)
{
  struct rt_sched *s = rt->sched;
  if (!s)
    return;
  atomic_store_explicit(&s->exit, true, memory_order_release);
  wake_all(s);
  for (unsigned i = 0; i < s->started; i++) {
    pthread_join(s->w[i].thread, NULL);
    pthread_cond_destroy(&s->w[i].cond);
    rt->messages_done += atomic_load(&s->w[i].messages);
  }
  /* Actors scheduled after the workers left: drop their turn. */
  rt_actor_t *a;
  while ((a = inject_pop_locked(s)) != NULL) {
    unsigned n;
    while (rt__actor_run(a, UINT32_MAX, 0, &n))
      ;
  }
  pthread_mutex_destroy(&s->lock);
  free(s->w);
  free(s);
  rt->sched = NULL;
}

static uint64_t sched_messages(rt_runtime_t *rt)
{
  uint64_t n = rt->messages_done;
  struct rt_sched *s = rt->sched;
  for (unsigned i = 0; s && i < s->started; i++)
    n += atomic_load_explicit(&s->w[i].messages, memory_order_relaxed);
  return n;
}

/* ------------------------------------------------------------ life cycle */

void rt_config_defaults(rt_config_t *cfg)
{
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  memset(cfg, 0, sizeof(*cfg));
  cfg->workers = cpus > 0 ? (unsigned)cpus : 1;
  cfg->batch = 100;
  cfg->mailbox_capacity = 65536;
  cfg->max_payload = 16u << 20;
  cfg->blocking_threads = 2;
  cfg->spin_us = 200;
}

static int config_check(rt_config_t *c)
{
  rt_config_t d;
  rt_config_defaults(&d);
  if (c->workers == 0)
    c->workers = d.workers;
  if (c->batch == 0)
    c->batch = d.batch;
  if (c->mailbox_capacity == 0)
    c->mailbox_capacity = d.mailbox_capacity;
  if (c->max_payload == 0)
    c->max_payload = d.max_payload;
  /* Limits with reasons: more workers than 1024 or a spin over a second
   * is a configuration mistake, not a tuning choice. */
  if (c->workers > 1024 || c->blocking_threads > 1024 ||
      c->spin_us > 1000000 || c->mailbox_capacity > (1u << 30))
    return RT_EINVAL;
  return 0;
}

static void runtime_init_locks(rt_runtime_t *rt)
{
  for (unsigned i = 0; i < RT_SHARDS; i++) {
    pthread_mutex_init(&rt->shard[i].lock, NULL);
    rt__map_init(&rt->shard[i].ids);
  }
  pthread_mutex_init(&rt->names_lock, NULL);
  rt__map_init(&rt->names);
  pthread_mutex_init(&rt->live_lock, NULL);
  pthread_cond_init(&rt->live_cond, NULL);
}

static void runtime_destroy(rt_runtime_t *rt)
{
  for (unsigned i = 0; i < RT_SHARDS; i++) {
    pthread_mutex_destroy(&rt->shard[i].lock);
    rt__map_fini(&rt->shard[i].ids);
  }
  pthread_mutex_destroy(&rt->names_lock);
  rt__map_fini(&rt->names);
  pthread_mutex_destroy(&rt->live_lock);
  pthread_cond_destroy(&rt->live_cond);
  free(rt);
}

int rt_runtime_new(const rt_config_t *cfg, rt_runtime_t **out)
{
  *out = NULL;
  rt_runtime_t *rt = calloc(1, sizeof(*rt));
  if (!rt)
    return RT_ENOMEM;
  if (cfg)
    rt->cfg = *cfg;
  else
    rt_config_defaults(&rt->cfg);
  int rc = config_check(&rt->cfg);
  if (rc) {
    free(rt);
    return rc;
  }
  rt_msg_set_max_payload(rt->cfg.max_payload);
  runtime_init_locks(rt);
  rc = rt__sched_start(rt);
  if (!rc)
    rc = rt__timers_start(rt, &rt->timers);
  if (!rc)
    rc = rt__io_start(rt, &rt->io);
  if (!rc)
    rc = rt__blocking_start(rt, rt->cfg.blocking_threads, &rt->blocking);
  if (rc) {
    rt_runtime_shutdown(rt, RT_SHUTDOWN_DROP);
    runtime_destroy(rt);
    return rc;
  }
  *out = rt;
  return 0;
}

static void stop_all_actors(rt_runtime_t *rt)
{
  rt_actor_t **v = NULL;
  size_t n = rt__actors_snapshot(rt, &v);
  for (size_t i = 0; i < n; i++) {
    rt__actor_request_stop(v[i]);
    rt_actor_release(v[i]);
  }
  free(v);
  pthread_mutex_lock(&rt->live_lock);
  while (rt->live > 0)
    pthread_cond_wait(&rt->live_cond, &rt->live_lock);
  pthread_mutex_unlock(&rt->live_lock);
}

void rt_runtime_shutdown(rt_runtime_t *rt, rt_shutdown_mode_t mode)
{
  if (!rt)
    return;
  if (rt__tls.worker) {
    assert(!"rt_runtime_shutdown called from a worker thread");
    return;
  }
  pthread_mutex_lock(&rt->live_lock);
  bool already = atomic_exchange(&rt->shutting_down, true);
  pthread_mutex_unlock(&rt->live_lock);
  if (already)
    return;
  if (mode == RT_SHUTDOWN_DROP) /* from now on, handlers see no new work */
    atomic_store(&rt->dropping, true);
  /* Order matters: no new ticks or readiness events; then stop the actors
   * while blocking jobs can still run (a draining actor may hand work to
   * them, as the store does with its last commit); then let every queued
   * job finish; then stop the workers. */
  rt__timers_halt(rt->timers);
  rt__io_halt(rt->io);
  if (rt->sched)
    stop_all_actors(rt);
  rt__blocking_halt(rt->blocking);
  rt__sched_stop(rt);
  /* Freed only now: draining actors could still call into them. */
  rt__timers_free(rt->timers);
  rt->timers = NULL;
  rt__io_free(rt->io);
  rt->io = NULL;
  rt__blocking_free(rt->blocking);
  rt->blocking = NULL;
  atomic_store(&rt->shut_done, true);
}

void rt_runtime_free(rt_runtime_t *rt)
{
  if (!rt)
    return;
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  runtime_destroy(rt);
}

unsigned rt_runtime_workers(const rt_runtime_t *rt) { return rt->cfg.workers; }

void rt_runtime_stats(rt_runtime_t *rt, rt_runtime_stats_t *out)
{
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&rt->live_lock);
  out->actors_live = rt->live;
  pthread_mutex_unlock(&rt->live_lock);
  out->messages = sched_messages(rt);
  out->parks = atomic_load_explicit(&rt->parks, memory_order_relaxed);
  out->shares = atomic_load_explicit(&rt->shares, memory_order_relaxed);
  out->spin_timeouts =
      atomic_load_explicit(&rt->spin_timeouts, memory_order_relaxed);
  struct rt_sched *s = rt->sched;
  for (unsigned i = 0; s && i < s->started; i++) {
    uint64_t ns = atomic_load_explicit(&s->w[i].spin_ns, memory_order_relaxed);
    if (ns > out->spin_ns_max)
      out->spin_ns_max = ns;
  }
}
