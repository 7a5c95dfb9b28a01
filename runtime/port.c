/*
 * port.c: ports (mailboxes read by plain threads) and rt_call().
 *
 * A port is an rt_actor_t with no type whose "scheduling" is a wake-up:
 * the sender whose push finds the mailbox empty-tagged signals the port's
 * condition variable (or calls its notify hook). The reader pops; when it
 * finds nothing it tags the mailbox empty under the port lock and waits,
 * so a sender that sees the tag cannot signal before the reader waits.
 * Ports are registered by id (replies find them) but are not "live"
 * actors: shutdown does not stop them; rt_port_free does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/rt_int.h"

struct rt_port_state {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool woken;
  void (*notify)(void *arg);
  void *notify_arg;
};

struct rt_port {
  rt_actor_t *a;
};

void rt__port_state_free(rt_port_state_t *ps)
{
  pthread_mutex_destroy(&ps->lock);
  pthread_cond_destroy(&ps->cond);
  free(ps);
}

void rt__port_wake(rt_actor_t *a)
{
  rt_port_state_t *ps = a->port;
  if (ps->notify) {
    ps->notify(ps->notify_arg);
    return;
  }
  pthread_mutex_lock(&ps->lock);
  ps->woken = true;
  pthread_cond_signal(&ps->cond);
  pthread_mutex_unlock(&ps->lock);
}

static rt_port_state_t *port_state_new(void)
{
  rt_port_state_t *ps = calloc(1, sizeof(*ps));
  if (!ps)
    return NULL;
  pthread_mutex_init(&ps->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&ps->cond, &ca);
  pthread_condattr_destroy(&ca);
  return ps;
}

int rt_port_new(rt_runtime_t *rt, uint32_t capacity, rt_port_t **out)
{
  *out = NULL;
  if (!rt)
    return RT_EINVAL;
  if (atomic_load_explicit(&rt->shutting_down, memory_order_acquire))
    return RT_ESHUTDOWN;
  rt_port_t *p = calloc(1, sizeof(*p));
  rt_actor_t *a = NULL;
  int rc = p ? rt__actor_alloc(rt, &a) : RT_ENOMEM;
  if (!rc && !(a->port = port_state_new()))
    rc = RT_ENOMEM;
  if (!rc) {
    a->is_port = true;
    if (capacity)
      a->capacity = capacity;
    /* Ports start empty-tagged: the first push wakes the reader. */
    rt__mbox_mark_empty(a);
    rc = rt__actor_register(a);
  }
  if (rc) {
    rt_actor_release(a);
    free(p);
    return rc;
  }
  p->a = a;
  *out = p;
  return 0;
}

rt_actor_t *rt_port_actor(rt_port_t *p) { return p->a; }

void rt_port_set_notify(rt_port_t *p, void (*fn)(void *arg), void *arg)
{
  rt_port_state_t *ps = p->a->port;
  pthread_mutex_lock(&ps->lock);
  ps->notify = fn;
  ps->notify_arg = arg;
  pthread_mutex_unlock(&ps->lock);
}

/* The popped header stays in the queue as its stub: hand the reader a
 * fresh header that takes over the payload. */
static rt_msg_t *detach(rt_msg_t *m)
{
  rt_msg_t *c = rt__msg_alloc();
  if (!c)
    abort(); /* small internal allocation */
  c->type = m->type;
  c->flags = m->flags;
  c->sender = m->sender;
  c->corr = m->corr;
  c->reply_to = m->reply_to;
  c->rt = m->rt;
  c->len = m->len;
  c->shared = m->shared;
  if (m->data == m->inl) {
    memcpy(c->inl, m->inl, m->len);
    c->data = c->inl;
  } else {
    c->data = m->data;
  }
  /* The copy now owns the payload and any tick token. */
  m->flags &= ~(uint32_t)(RT_MF_HEAP | RT_MF_SHARED | RT_MF_TICK);
  m->reply_to = 0;
  m->shared = NULL;
  m->data = m->inl;
  m->len = 0;
  return c;
}

static void deadline_after(int timeout_ms, struct timespec *ts)
{
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += timeout_ms / 1000;
  ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

int rt_port_recv(rt_port_t *p, int timeout_ms, rt_msg_t **out)
{
  rt_actor_t *a = p->a;
  rt_port_state_t *ps = a->port;
  struct timespec deadline;
  if (timeout_ms > 0)
    deadline_after(timeout_ms, &deadline);
  *out = NULL;
  for (;;) {
    rt_msg_t *m = rt__mbox_pop(a);
    if (m) {
      atomic_fetch_sub_explicit(&a->depth, 1, memory_order_relaxed);
      atomic_fetch_add_explicit(&a->processed, 1, memory_order_relaxed);
      *out = detach(m);
      return 0;
    }
    pthread_mutex_lock(&ps->lock);
    if (!rt__mbox_mark_empty(a)) {
      /* A push is half done (head moved, link not yet stored). */
      pthread_mutex_unlock(&ps->lock);
      continue;
    }
    int rc = 0;
    if (timeout_ms == 0) {
      rc = ETIMEDOUT;
    } else {
      while (!ps->woken && rc == 0) {
        if (timeout_ms < 0)
          rc = pthread_cond_wait(&ps->cond, &ps->lock);
        else
          rc = pthread_cond_timedwait(&ps->cond, &ps->lock, &deadline);
      }
      ps->woken = false;
    }
    pthread_mutex_unlock(&ps->lock);
    if (rc == ETIMEDOUT) {
      /* One last look: a message may have landed as the wait expired. */
      m = rt__mbox_pop(a);
      if (!m)
        return RT_ETIMEDOUT;
      atomic_fetch_sub_explicit(&a->depth, 1, memory_order_relaxed);
      atomic_fetch_add_explicit(&a->processed, 1, memory_order_relaxed);
      *out = detach(m);
      return 0;
    }
  }
}

void rt_port_free(rt_port_t *p)
{
  if (!p)
    return;
  rt_actor_t *a = p->a;
  atomic_store_explicit(&a->life, RT_STOPPED, memory_order_release);
  rt__actor_unregister(a);
  rt_actor_release(a); /* queued messages are freed with the actor */
  free(p);
}

int rt_call(rt_runtime_t *rt, rt_actor_t *to, rt_msg_t **msg,
            uint32_t timeout_ms, rt_msg_t **reply_out)
{
  *reply_out = NULL;
  rt_msg_t *m = *msg;
  if (rt__tls.worker) {
    rt_msg_free(m);
    *msg = NULL;
    return RT_EWRONGTHREAD;
  }
  rt_port_t *p = NULL;
  int rc = m ? rt_port_new(rt, 0, &p) : RT_EINVAL;
  if (rc) {
    rt_msg_free(m);
    *msg = NULL;
    return rc;
  }
  uint64_t corr =
      atomic_fetch_add_explicit(&rt->next_corr, 1, memory_order_relaxed) + 1;
  m->flags |= RT_MF_REQUEST;
  m->corr = corr;
  m->reply_to = p->a->id;
  rc = rt_send(to, msg);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (!rc) {
    uint64_t waited = rt__now_ms() - ((uint64_t)start.tv_sec * 1000u +
                                      (uint64_t)start.tv_nsec / 1000000u);
    if (waited >= timeout_ms) {
      rc = RT_ETIMEDOUT;
      break;
    }
    rt_msg_t *r = NULL;
    rc = rt_port_recv(p, (int)(timeout_ms - waited), &r);
    if (!rc && (r->flags & RT_MF_REPLY) && r->corr == corr) {
      *reply_out = r;
      break;
    }
    rt_msg_free(r); /* anything else sent to this private port */
  }
  rt_port_free(p);
  return rc;
}
