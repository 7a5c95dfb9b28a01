/*
 * msg.c: message headers, their pool, and shared payloads.
 *
 * Pool: each thread keeps a free list of headers; a list that grows past
 * 2 * RT_POOL_BATCH hands a batch of RT_POOL_BATCH to a global stack of
 * batches, and an empty list takes one batch back before calling malloc.
 * Messages are usually freed on the receiver's thread and made on the
 * sender's, so without the exchange one side would only allocate and the
 * other only free. Sanitizer builds skip the pool (RT_NO_POOL) so that a
 * use after free is reported, not recycled.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime/rt_int.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RT_NO_POOL 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RT_NO_POOL 1
#endif
#endif

static atomic_size_t max_payload = 16u << 20;

void rt_msg_set_max_payload(size_t max)
{
  atomic_store_explicit(&max_payload, max, memory_order_relaxed);
}

static bool payload_too_big(size_t len)
{
  return len > atomic_load_explicit(&max_payload, memory_order_relaxed);
}

#ifndef RT_NO_POOL
/* A batch of free headers as an array of pointers, not a list threaded
 * through the headers: freeing then never writes into a header, and taking
 * one reads only this array. A header freed on another core is thus not
 * pulled back by a load (which stalls) but only by the stores that
 * re-initialise it (which the store buffer absorbs). */
typedef struct pool_batch {
  struct pool_batch *next;
  rt_msg_t *msgs[RT_POOL_BATCH];
} pool_batch_t;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pool_batch_t *pool_full;  /* batches of RT_POOL_BATCH free headers */
static pool_batch_t *pool_spare; /* empty batch structs, for reuse */
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

typedef struct pool_tls {
  rt_msg_t *slots[2 * RT_POOL_BATCH];
  unsigned count;
  bool registered;
} pool_tls_t;
static _Thread_local pool_tls_t pool_tl;

static pool_batch_t *batch_pop(pool_batch_t **stack)
{
  pool_batch_t *b = *stack;
  if (b)
    *stack = b->next;
  return b;
}

/* Move the top RT_POOL_BATCH slots to the global stack. */
static void pool_give_batch(void)
{
  pthread_mutex_lock(&pool_lock);
  pool_batch_t *b = batch_pop(&pool_spare);
  pthread_mutex_unlock(&pool_lock);
  if (!b && !(b = malloc(sizeof(*b))))
    return; /* keep them local; the cache simply stays larger */
  pool_tl.count -= RT_POOL_BATCH;
  memcpy(b->msgs, pool_tl.slots + pool_tl.count, sizeof(b->msgs));
  pthread_mutex_lock(&pool_lock);
  b->next = pool_full;
  pool_full = b;
  pthread_mutex_unlock(&pool_lock);
}

static void pool_take_batch(void)
{
  pthread_mutex_lock(&pool_lock);
  pool_batch_t *b = batch_pop(&pool_full);
  pthread_mutex_unlock(&pool_lock);
  if (!b)
    return;
  memcpy(pool_tl.slots, b->msgs, sizeof(b->msgs));
  pool_tl.count = RT_POOL_BATCH;
  pthread_mutex_lock(&pool_lock);
  b->next = pool_spare;
  pool_spare = b;
  pthread_mutex_unlock(&pool_lock);
}

/* Called at thread exit: hand back everything the thread holds. */
static void pool_flush(void *unused)
{
  (void)unused;
  while (pool_tl.count >= RT_POOL_BATCH) {
    unsigned before = pool_tl.count;
    pool_give_batch();
    if (pool_tl.count == before)
      break;
  }
  for (unsigned i = 0; i < pool_tl.count; i++)
    free(pool_tl.slots[i]); /* fewer than a batch: back to malloc */
  pool_tl.count = 0;
}

static void pool_make_key(void)
{
  (void)pthread_key_create(&pool_key, pool_flush);
}

static void pool_register(void)
{
  pthread_once(&pool_once, pool_make_key);
  (void)pthread_setspecific(pool_key, &pool_tl);
  pool_tl.registered = true;
}
#endif /* RT_NO_POOL */

rt_msg_t *rt__msg_alloc(void)
{
  rt_msg_t *m;
#ifndef RT_NO_POOL
  if (pool_tl.count == 0) {
    if (!pool_tl.registered)
      pool_register();
    pool_take_batch();
  }
  if (pool_tl.count) {
    m = pool_tl.slots[--pool_tl.count];
    /* Ask for the next header's lines for writing now: it was most likely
     * freed on another core, and the atomic exchange of the send that
     * follows would otherwise wait for that transfer with nothing else
     * to do. */
    if (pool_tl.count) {
      rt_msg_t *next = pool_tl.slots[pool_tl.count - 1];
      __builtin_prefetch(next, 1);
      __builtin_prefetch((char *)next + 64, 1);
    }
  } else {
    m = malloc(sizeof(*m));
    if (!m)
      return NULL;
  }
#else
  m = malloc(sizeof(*m));
  if (!m)
    return NULL;
#endif
  atomic_store_explicit(&m->next, NULL, memory_order_relaxed);
  m->type = 0;
  m->flags = 0;
  m->sender = 0;
  m->corr = 0;
  m->reply_to = 0;
  m->rt = NULL;
  m->len = 0;
  m->data = m->inl;
  m->shared = NULL;
  return m;
}

void rt__msg_release_payload(rt_msg_t *m)
{
  if (m->flags & RT_MF_TICK) {
    rt_tick_token_t *t = (rt_tick_token_t *)(uintptr_t)m->reply_to;
    /* release: the handler's work on this tick happens before the timer
     * thread may queue the next one (pairs with its acquire exchange). */
    atomic_store_explicit(&t->queued, false, memory_order_release);
    rt__tick_token_release(t);
    m->flags &= ~(uint32_t)RT_MF_TICK;
    m->reply_to = 0;
  }
  if (m->flags & RT_MF_HEAP)
    free(m->data);
  else if (m->flags & RT_MF_SHARED)
    rt_payload_release(m->shared);
  m->flags &= ~(uint32_t)(RT_MF_HEAP | RT_MF_SHARED);
  m->shared = NULL;
  m->data = m->inl;
  m->len = 0;
}

void rt__msg_dealloc(rt_msg_t *m)
{
  rt__msg_release_payload(m);
#ifndef NDEBUG
  m->type = RT_MSG_POISON; /* a pooled header sent again trips an assert */
#endif
#ifndef RT_NO_POOL
  if (!pool_tl.registered)
    pool_register();
  pool_tl.slots[pool_tl.count++] = m;
  if (pool_tl.count == 2 * RT_POOL_BATCH) {
    pool_give_batch();
    if (pool_tl.count == 2 * RT_POOL_BATCH) /* no memory for a batch */
      free(pool_tl.slots[--pool_tl.count]);
  }
#else
  free(m);
#endif
}

static int msg_fill(rt_msg_t *m, const void *data, size_t len)
{
  if (len <= RT_MSG_INLINE) {
    if (len)
      memcpy(m->inl, data, len);
    m->data = m->inl;
  } else {
    void *copy = malloc(len);
    if (!copy)
      return RT_ENOMEM;
    memcpy(copy, data, len);
    m->data = copy;
    m->flags |= RT_MF_HEAP;
  }
  m->len = len;
  return 0;
}

int rt__msg_new_system(uint32_t type, const void *data, size_t len,
                       rt_msg_t **out)
{
  *out = NULL;
  rt_msg_t *m = rt__msg_alloc();
  if (!m)
    return RT_ENOMEM;
  m->type = type;
  int rc = msg_fill(m, data, len);
  if (rc) {
    rt__msg_dealloc(m);
    return rc;
  }
  *out = m;
  return 0;
}

int rt_msg_new(uint32_t type, const void *data, size_t len, rt_msg_t **out)
{
  *out = NULL;
  if (type >= RT_MSG_SYSTEM || (len && !data))
    return RT_EINVAL;
  if (payload_too_big(len))
    return RT_E2BIG;
  return rt__msg_new_system(type, data, len, out);
}

int rt_msg_new_take(uint32_t type, void *data, size_t len, rt_msg_t **out)
{
  *out = NULL;
  int rc = 0;
  if (type >= RT_MSG_SYSTEM || (len && !data))
    rc = RT_EINVAL;
  else if (payload_too_big(len))
    rc = RT_E2BIG;
  rt_msg_t *m = rc ? NULL : rt__msg_alloc();
  if (!rc && !m)
    rc = RT_ENOMEM;
  if (rc) {
    free(data);
    return rc;
  }
  m->type = type;
  if (data) {
    m->data = data;
    m->flags |= RT_MF_HEAP;
  }
  m->len = len;
  *out = m;
  return 0;
}

void rt_msg_free(rt_msg_t *msg)
{
  if (msg)
    rt__msg_dealloc(msg);
}

uint32_t rt_msg_type(const rt_msg_t *msg) { return msg->type; }
uint64_t rt_msg_sender(const rt_msg_t *msg) { return msg->sender; }
uint64_t rt_msg_corr(const rt_msg_t *msg) { return msg->corr; }

const void *rt_msg_data(const rt_msg_t *msg, size_t *len)
{
  if (len)
    *len = msg->len;
  return msg->data;
}

void *rt_msg_take_payload(rt_msg_t *msg, size_t *len)
{
  void *out = NULL;
  size_t n = msg->len;
  if (n == 0) {
    rt__msg_release_payload(msg);
  } else if (msg->flags & RT_MF_HEAP) {
    out = msg->data;
    msg->flags &= ~(uint32_t)RT_MF_HEAP;
    msg->data = msg->inl;
    msg->len = 0;
  } else {
    out = malloc(n);
    if (!out)
      n = 0;
    else
      memcpy(out, msg->data, n);
    rt__msg_release_payload(msg);
  }
  if (len)
    *len = out ? n : 0;
  return out;
}

int rt_payload_new(const void *data, size_t len, size_t headroom,
                   rt_payload_t **out)
{
  *out = NULL;
  if (len && !data)
    return RT_EINVAL;
  if (payload_too_big(len) || headroom > (1u << 20))
    return RT_E2BIG;
  rt_payload_t *p = malloc(sizeof(*p) + headroom + len);
  if (!p)
    return RT_ENOMEM;
  atomic_init(&p->refs, 1);
  p->len = len;
  p->headroom = headroom;
  if (len)
    memcpy(p->bytes + headroom, data, len);
  *out = p;
  return 0;
}

rt_payload_t *rt_payload_retain(rt_payload_t *p)
{
  atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
  return p;
}

void rt_payload_release(rt_payload_t *p)
{
  if (!p)
    return;
  /* acq_rel: release orders this holder's reads of the bytes before the
   * decrement; acquire makes the last holder see all of them before free. */
  if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
    free(p);
}

const void *rt_payload_data(const rt_payload_t *p, size_t *len)
{
  if (len)
    *len = p->len;
  return p->bytes + p->headroom;
}

void *rt_payload_headroom(rt_payload_t *p) { return p->bytes; }

int rt_msg_new_shared(uint32_t type, rt_payload_t *p, rt_msg_t **out)
{
  *out = NULL;
  if (type >= RT_MSG_SYSTEM || !p)
    return RT_EINVAL;
  rt_msg_t *m = rt__msg_alloc();
  if (!m)
    return RT_ENOMEM;
  m->type = type;
  m->shared = rt_payload_retain(p);
  m->flags |= RT_MF_SHARED;
  m->data = p->bytes + p->headroom;
  m->len = p->len;
  *out = m;
  return 0;
}

rt_payload_t *rt_msg_payload_ref(const rt_msg_t *msg)
{
  return (msg->flags & RT_MF_SHARED) ? rt_payload_retain(msg->shared) : NULL;
}
