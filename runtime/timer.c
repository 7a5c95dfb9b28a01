/*
 * timer.c: one timer thread over a binary min-heap of (deadline, seq).
 *
 * Entries know their heap index, so cancel removes in O(log n) instead of
 * leaving tombstones behind (request timeouts are cancelled far more often
 * than they fire). Ticks are sent outside the lock, forced past the mailbox
 * bound: a one-shot timer sends one; a periodic timer has a token whose
 * `queued` flag is set while its tick is queued or being handled, and it
 * skips a tick while the flag is set. So no timer ever has more than one
 * tick outstanding, however busy its target.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/rt_int.h"

typedef struct tentry {
  uint64_t id;
  uint64_t due_ns;
  uint64_t seq;
  uint64_t period_ns;
  uint64_t corr;
  rt_actor_t *target; /* a reference */
  rt_tick_token_t *token; /* periodic timers only (a reference) */
  uint32_t type;
  uint32_t flags;
  size_t idx;
} tentry_t;

struct rt_timers {
  rt_runtime_t *rt;
  pthread_t thread;
  bool thread_started;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  tentry_t **heap;
  size_t n, cap;
  rt_map_t by_id;
  uint64_t seq;
  uint64_t next_id;
  bool stop;
};

static bool earlier(const tentry_t *a, const tentry_t *b)
{
  return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void heap_set(rt_timers_t *t, size_t i, tentry_t *e)
{
  t->heap[i] = e;
  e->idx = i;
}

static void sift_up(rt_timers_t *t, size_t i)
{
  tentry_t *e = t->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!earlier(e, t->heap[p]))
      break;
    heap_set(t, i, t->heap[p]);
    i = p;
  }
  heap_set(t, i, e);
}

static void sift_down(rt_timers_t *t, size_t i)
{
  tentry_t *e = t->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= t->n)
      break;
    if (c + 1 < t->n && earlier(t->heap[c + 1], t->heap[c]))
      c++;
    if (!earlier(t->heap[c], e))
      break;
    heap_set(t, i, t->heap[c]);
    i = c;
  }
  heap_set(t, i, e);
}

static int heap_insert(rt_timers_t *t, tentry_t *e)
{
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    tentry_t **h = realloc(t->heap, cap * sizeof(*h));
    if (!h)
      return RT_ENOMEM;
    t->heap = h;
    t->cap = cap;
  }
  heap_set(t, t->n++, e);
  sift_up(t, t->n - 1);
  return 0;
}

static void heap_remove(rt_timers_t *t, tentry_t *e)
{
  size_t i = e->idx;
  tentry_t *last = t->heap[--t->n];
  if (i == t->n)
    return;
  heap_set(t, i, last);
  sift_down(t, i);
  sift_up(t, last->idx);
}

void rt__tick_token_release(rt_tick_token_t *t)
{
  /* acq_rel: the last holder sees every other holder's use first. */
  if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
    free(t);
}

static void entry_free(tentry_t *e)
{
  rt_actor_release(e->target);
  rt__tick_token_release(e->token);
  free(e);
}

static void deadline_ts(uint64_t ns, struct timespec *ts)
{
  ts->tv_sec = (time_t)(ns / 1000000000ull);
  ts->tv_nsec = (long)(ns % 1000000000ull);
}

/* Send one tick. For a periodic timer the tick carries a token reference
 * and is skipped while the previous tick is still outstanding. */
static void send_tick(const tentry_t *e)
{
  rt_tick_token_t *tok = e->token;
  /* acquire: pairs with the release store when the last tick was done. */
  if (tok && atomic_exchange_explicit(&tok->queued, true, memory_order_acquire))
    return;
  rt_msg_t *m = NULL;
  if (rt__msg_new_system(e->type, NULL, 0, &m) != 0) {
    if (tok)
      atomic_store_explicit(&tok->queued, false, memory_order_relaxed);
    return;
  }
  m->corr = e->corr;
  m->flags |= e->flags;
  if (tok) {
    atomic_fetch_add_explicit(&tok->refs, 1, memory_order_relaxed);
    m->flags |= RT_MF_TICK;
    m->reply_to = (uint64_t)(uintptr_t)tok;
  }
  rt__send(e->target, &m, true); /* on failure the free clears `queued` */
}

/* Pop every due entry; called with the lock held, returns with it held. */
static void fire_due(rt_timers_t *t, uint64_t now)
{
  while (t->n && t->heap[0]->due_ns <= now) {
    tentry_t *e = t->heap[0];
    heap_remove(t, e);
    if (e->period_ns) {
      while (e->due_ns <= now)
        e->due_ns += e->period_ns;
      e->seq = ++t->seq;
      heap_insert(t, e); /* cannot fail: the slot was just freed */
      /* The entry may be cancelled once unlocked: send from a copy that
       * holds its own references. */
      tentry_t copy = *e;
      copy.target = rt_actor_retain(e->target);
      atomic_fetch_add_explicit(&copy.token->refs, 1, memory_order_relaxed);
      pthread_mutex_unlock(&t->lock);
      send_tick(&copy);
      rt_actor_release(copy.target);
      rt__tick_token_release(copy.token);
    } else {
      rt__map_del(&t->by_id, e->id);
      pthread_mutex_unlock(&t->lock);
      send_tick(e);
      entry_free(e);
    }
    pthread_mutex_lock(&t->lock);
    now = rt__now_ns();
  }
}

static void *timer_main(void *arg)
{
  rt_timers_t *t = arg;
  pthread_mutex_lock(&t->lock);
  while (!t->stop) {
    if (t->n == 0) {
      pthread_cond_wait(&t->cond, &t->lock);
      continue;
    }
    uint64_t now = rt__now_ns();
    if (t->heap[0]->due_ns > now) {
      struct timespec ts;
      deadline_ts(t->heap[0]->due_ns, &ts);
      pthread_cond_timedwait(&t->cond, &t->lock, &ts);
      continue;
    }
    fire_due(t, now);
  }
  pthread_mutex_unlock(&t->lock);
  return NULL;
}

int rt__timers_start(rt_runtime_t *rt, rt_timers_t **out)
{
  *out = NULL;
  rt_timers_t *t = calloc(1, sizeof(*t));
  if (!t)
    return RT_ENOMEM;
  t->rt = rt;
  rt__map_init(&t->by_id);
  pthread_mutex_init(&t->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&t->cond, &ca);
  pthread_condattr_destroy(&ca);
  int rc = pthread_create(&t->thread, NULL, timer_main, t);
  if (rc) {
    rt__timers_free(t);
    return -rc;
  }
  t->thread_started = true;
  *out = t;
  return 0;
}

/* Stop the thread: no tick is sent after this returns. The heap stays,
 * so actors still draining can cancel their timers. */
void rt__timers_halt(rt_timers_t *t)
{
  if (!t)
    return;
  pthread_mutex_lock(&t->lock);
  t->stop = true;
  pthread_cond_signal(&t->cond);
  pthread_mutex_unlock(&t->lock);
  if (t->thread_started)
    pthread_join(t->thread, NULL);
  t->thread_started = false;
}

void rt__timers_free(rt_timers_t *t)
{
  if (!t)
    return;
  rt__timers_halt(t);
  for (size_t i = 0; i < t->n; i++)
    entry_free(t->heap[i]);
  free(t->heap);
  rt__map_fini(&t->by_id);
  pthread_mutex_destroy(&t->lock);
  pthread_cond_destroy(&t->cond);
  free(t);
}

static int timer_add(rt_runtime_t *rt, rt_actor_t *target, uint32_t type,
                     uint32_t flags, uint64_t corr, uint64_t delay_ms,
                     uint64_t period_ms, uint64_t *id_out)
{
  rt_timers_t *t = rt->timers;
  if (id_out)
    *id_out = 0;
  if (!t || atomic_load_explicit(&rt->shutting_down, memory_order_acquire))
    return RT_ESHUTDOWN;
  tentry_t *e = calloc(1, sizeof(*e));
  if (!e)
    return RT_ENOMEM;
  e->due_ns = rt__now_ns() + delay_ms * 1000000ull;
  e->period_ns = period_ms * 1000000ull;
  e->type = type;
  e->flags = flags;
  if (period_ms) {
    e->token = calloc(1, sizeof(*e->token));
    if (!e->token) {
      free(e);
      return RT_ENOMEM;
    }
    atomic_init(&e->token->refs, 1);
  }
  e->target = rt_actor_retain(target);
  pthread_mutex_lock(&t->lock);
  if (t->stop) {
    pthread_mutex_unlock(&t->lock);
    entry_free(e);
    return RT_ESHUTDOWN;
  }
  e->id = ++t->next_id;
  e->corr = corr ? corr : e->id;
  e->seq = ++t->seq;
  int rc = rt__map_put(&t->by_id, e->id, e);
  if (!rc) {
    rc = heap_insert(t, e);
    if (rc)
      rt__map_del(&t->by_id, e->id);
  }
  if (!rc && t->heap[0] == e)
    pthread_cond_signal(&t->cond);
  uint64_t id = e->id; /* a due timer may fire and be freed once unlocked */
  pthread_mutex_unlock(&t->lock);
  if (rc) {
    entry_free(e);
    return rc;
  }
  if (id_out)
    *id_out = id;
  return 0;
}

int rt__timer_start_forced(rt_runtime_t *rt, rt_actor_t *target,
                           uint32_t type, uint32_t flags, uint64_t corr,
                           uint64_t delay_ms, uint64_t *id_out)
{
  return timer_add(rt, target, type, flags, corr, delay_ms, 0, id_out);
}

int rt_timer_start(rt_runtime_t *rt, rt_actor_t *target, uint32_t msg_type,
                   uint64_t delay_ms, uint64_t period_ms, uint64_t *id_out)
{
  if (id_out)
    *id_out = 0;
  if (!rt || !target || msg_type >= RT_MSG_SYSTEM)
    return RT_EINVAL;
  /* Bound the arithmetic: a delay beyond ~100 years is a caller bug. */
  if (delay_ms > (1ull << 41) || period_ms > (1ull << 41))
    return RT_EINVAL;
  return timer_add(rt, target, msg_type, 0, 0, delay_ms, period_ms, id_out);
}

int rt_timer_cancel(rt_runtime_t *rt, uint64_t id)
{
  rt_timers_t *t = rt->timers;
  if (!t)
    return RT_ENOTFOUND;
  pthread_mutex_lock(&t->lock);
  tentry_t *e = rt__map_del(&t->by_id, id);
  if (e)
    heap_remove(t, e);
  pthread_mutex_unlock(&t->lock);
  if (!e)
    return RT_ENOTFOUND;
  entry_free(e);
  return 0;
}
