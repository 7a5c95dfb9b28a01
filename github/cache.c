/*
 * cache.c: the memory and store-backed response caches (gh_cache.h).
 *
 * Both keep entries in the same small list type: a singly linked list,
 * newest first. The memory cache bounds it (the oldest entry goes); the
 * store cache uses it as its write-behind queue, emptied by one blocking
 * job at a time (`in_flight`), which commits the batch in one transaction
 * (growing the map when LMDB says it is full). A lookup checks the queue
 * and the batch being written before LMDB, so a put is visible at once.
 */
#include <lmdb.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "github/gh_cache.h"
#include "runtime/io.h"

typedef struct node {
  struct node *next;
  char *key;
  gh_cache_entry_t e;
} node_t;

typedef struct cache_impl {
  gh_cache_t base; /* first: the public part */
  pthread_mutex_t mu;
  pthread_cond_t idle;
  node_t *list;        /* memory: entries; store: the write queue */
  size_t n, max;
  /* store only */
  rt_runtime_t *rt;
  store_t *store;
  node_t *writing;     /* the batch a job is committing */
  bool in_flight;
  uint64_t committed;
} cache_impl_t;

void gh_cache_key(const char *url, char *out)
{
  size_t n = strlen(url);
  if (n <= STORE_GH_KEY_MAX) {
    memcpy(out, url, n + 1);
    return;
  }
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)url, n, d);
  int w = snprintf(out, STORE_GH_KEY_MAX + 1, "sha256:");
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
    w += snprintf(out + w, (size_t)(STORE_GH_KEY_MAX + 1 - w), "%02x", d[i]);
}

/* ------------------------------------------------------------- entries */

static char *dup_opt(const char *s)
{
  return s ? strdup(s) : NULL;
}

static int entry_copy(const gh_cache_entry_t *src, gh_cache_entry_t *dst)
{
  memset(dst, 0, sizeof(*dst));
  dst->etag = dup_opt(src->etag);
  dst->last_modified = dup_opt(src->last_modified);
  dst->link = dup_opt(src->link);
  dst->body = malloc(src->len + 1);
  if ((src->etag && !dst->etag) || (src->last_modified && !dst->last_modified) ||
      (src->link && !dst->link) || !dst->body) {
    gh_cache_entry_fini(dst);
    return GH_ENOMEM;
  }
  if (src->len)
    memcpy(dst->body, src->body, src->len);
  dst->body[src->len] = 0;
  dst->len = src->len;
  return 0;
}

static node_t *node_new(const char *key, const gh_cache_entry_t *e)
{
  node_t *n = calloc(1, sizeof(*n));
  if (!n)
    return NULL;
  n->key = strdup(key);
  if (!n->key || entry_copy(e, &n->e)) {
    free(n->key);
    free(n);
    return NULL;
  }
  return n;
}

static void node_free(node_t *n)
{
  while (n) {
    node_t *next = n->next;
    free(n->key);
    gh_cache_entry_fini(&n->e);
    free(n);
    n = next;
  }
}

static const node_t *list_find(const node_t *n, const char *key)
{
  for (; n; n = n->next)
    if (strcmp(n->key, key) == 0)
      return n;
  return NULL;
}

/* Drop the entry for @p key from the list, if any. */
static void list_remove(cache_impl_t *c, node_t **list, const char *key)
{
  for (node_t **pp = list; *pp; pp = &(*pp)->next)
    if (strcmp((*pp)->key, key) == 0) {
      node_t *n = *pp;
      *pp = n->next;
      n->next = NULL;
      node_free(n);
      c->n--;
      return;
    }
}

/* Keep the newest @p max entries. */
static void list_trim(cache_impl_t *c)
{
  if (c->n <= c->max)
    return;
  node_t **pp = &c->list;
  for (size_t i = 0; *pp && i < c->max; i++)
    pp = &(*pp)->next;
  node_free(*pp);
  *pp = NULL;
  c->n = c->max;
}

/* -------------------------------------------------------------- memory */

static int mem_get(gh_cache_t *base, const char *url, gh_cache_entry_t *out)
{
  cache_impl_t *c = (cache_impl_t *)base;
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&c->mu);
  const node_t *n = list_find(c->list, url);
  int rc = n ? entry_copy(&n->e, out) : GH_ENOTFOUND;
  pthread_mutex_unlock(&c->mu);
  return rc;
}

/* Put a copy of @p e at the head of the list (replacing the entry for
 * @p url), with c->mu held; false when out of memory (a cache may forget). */
static bool list_put_locked(cache_impl_t *c, const char *url,
                            const gh_cache_entry_t *e)
{
  node_t *n = node_new(url, e);
  if (!n)
    return false;
  list_remove(c, &c->list, url);
  n->next = c->list;
  c->list = n;
  c->n++;
  return true;
}

static void mem_put(gh_cache_t *base, const char *url,
                    const gh_cache_entry_t *e)
{
  cache_impl_t *c = (cache_impl_t *)base;
  pthread_mutex_lock(&c->mu);
  if (list_put_locked(c, url, e))
    list_trim(c);
  pthread_mutex_unlock(&c->mu);
}

static void impl_free(gh_cache_t *base);

static cache_impl_t *impl_new(void)
{
  cache_impl_t *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->idle, NULL);
  c->base.free = impl_free;
  return c;
}

int gh_cache_memory_new(size_t max_entries, gh_cache_t **out)
{
  *out = NULL;
  cache_impl_t *c = impl_new();
  if (!c)
    return GH_ENOMEM;
  c->max = max_entries ? max_entries : 1;
  c->base.get = mem_get;
  c->base.put = mem_put;
  *out = &c->base;
  return 0;
}

/* --------------------------------------------------------------- store */

static int write_batch(store_t *s, const node_t *batch)
{
  for (int attempt = 0; attempt < 8; attempt++) {
    store_txn_t *t = NULL;
    int rc = store_write_begin(s, &t);
    for (const node_t *n = batch; !rc && n; n = n->next) {
      char key[STORE_GH_KEY_MAX + 1];
      gh_cache_key(n->key, key);
      store_gh_entry_t e = {.etag = n->e.etag,
                            .last_modified = n->e.last_modified,
                            .link = n->e.link,
                            .body = n->e.body,
                            .len = n->e.len};
      rc = store_gh_cache_put(t, key, &e);
    }
    if (!rc)
      rc = store_write_commit(t);
    else
      store_write_abort(t);
    if (rc != MDB_MAP_FULL || store_grow(s) != 0)
      return rc;
  }
  return MDB_MAP_FULL;
}

static size_t list_len(const node_t *n)
{
  size_t k = 0;
  for (; n; n = n->next)
    k++;
  return k;
}

/* Runs on a blocking thread: commit the queue, batch after batch. */
static void flush_job(void *arg, rt_msg_t **result)
{
  cache_impl_t *c = arg;
  (void)result;
  pthread_mutex_lock(&c->mu);
  while (c->list) {
    c->writing = c->list;
    c->list = NULL;
    c->n = 0;
    pthread_mutex_unlock(&c->mu);
    /* a failed write only loses cache entries: the next GET refetches */
    int rc = write_batch(c->store, c->writing);
    pthread_mutex_lock(&c->mu);
    if (!rc)
      c->committed += list_len(c->writing);
    node_free(c->writing);
    c->writing = NULL;
  }
  c->in_flight = false;
  pthread_cond_broadcast(&c->idle);
  pthread_mutex_unlock(&c->mu);
}

static int store_get(gh_cache_t *base, const char *url, gh_cache_entry_t *out)
{
  cache_impl_t *c = (cache_impl_t *)base;
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&c->mu);
  const node_t *n = list_find(c->list, url);
  if (!n)
    n = list_find(c->writing, url);
  int rc = n ? entry_copy(&n->e, out) : GH_ENOTFOUND;
  pthread_mutex_unlock(&c->mu);
  if (n)
    return rc;
  char key[STORE_GH_KEY_MAX + 1];
  gh_cache_key(url, key);
  store_gh_entry_t e;
  rc = store_gh_cache_get(c->store, key, &e);
  if (rc)
    return rc == STORE_ENOMEM ? GH_ENOMEM : GH_ENOTFOUND;
  gh_cache_entry_t v = {.etag = e.etag,
                        .last_modified = e.last_modified,
                        .link = e.link,
                        .body = e.body,
                        .len = e.len};
  rc = entry_copy(&v, out);
  store_gh_entry_fini(&e);
  return rc;
}

static void store_put(gh_cache_t *base, const char *url,
                      const gh_cache_entry_t *e)
{
  cache_impl_t *c = (cache_impl_t *)base;
  pthread_mutex_lock(&c->mu);
  if (!list_put_locked(c, url, e)) {
    pthread_mutex_unlock(&c->mu);
    return;
  }
  bool submit = !c->in_flight;
  if (submit)
    c->in_flight = true;
  pthread_mutex_unlock(&c->mu);
  if (submit && rt_blocking_submit(c->rt, flush_job, c, NULL) != 0) {
    /* shutting down: gh_cache_free writes what is queued */
    pthread_mutex_lock(&c->mu);
    c->in_flight = false;
    pthread_mutex_unlock(&c->mu);
  }
}

int gh_cache_store_new(rt_runtime_t *rt, store_t *store, gh_cache_t **out)
{
  *out = NULL;
  if (!rt || !store)
    return GH_EINVAL;
  cache_impl_t *c = impl_new();
  if (!c)
    return GH_ENOMEM;
  c->rt = rt;
  c->store = store;
  c->base.get = store_get;
  c->base.put = store_put;
  *out = &c->base;
  return 0;
}

uint64_t gh_cache_store_committed(gh_cache_t *base)
{
  cache_impl_t *c = (cache_impl_t *)base;
  pthread_mutex_lock(&c->mu);
  uint64_t n = c->committed;
  pthread_mutex_unlock(&c->mu);
  return n;
}

static void impl_free(gh_cache_t *base)
{
  cache_impl_t *c = (cache_impl_t *)base;
  pthread_mutex_lock(&c->mu);
  while (c->in_flight)
    pthread_cond_wait(&c->idle, &c->mu);
  pthread_mutex_unlock(&c->mu);
  if (c->store && c->list)
    write_batch(c->store, c->list);
  node_free(c->list);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->idle);
  free(c);
}

void gh_cache_free(gh_cache_t *c)
{
  if (c)
    c->free(c);
}
