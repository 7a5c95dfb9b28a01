/*
 * page_cache.c: a small bounded LRU of encoded pages keyed by (arguments,
 * store snapshot id). Design note: page_cache.h.
 */
#include <stdlib.h>
#include <string.h>

#include "web/page_cache.h"

static web_page_t *find(web_page_cache_t *c, const char *key, size_t key_len)
{
  for (size_t i = 0; i < WEB__PAGES_MAX; i++) {
    web_page_t *p = &c->page[i];
    if (p->key && p->key_len == key_len && !memcmp(p->key, key, key_len))
      return p;
  }
  return NULL;
}

static void drop(web_page_cache_t *c, web_page_t *p)
{
  c->bytes -= p->key_len + p->len;
  free(p->key);
  web__page_body_unref(p->body);
  *p = (web_page_t){0};
}

/* The least recently used page (NULL: none held). */
static web_page_t *lru(web_page_cache_t *c)
{
  web_page_t *oldest = NULL;
  for (size_t i = 0; i < WEB__PAGES_MAX; i++) {
    web_page_t *p = &c->page[i];
    if (p->key && (!oldest || p->used < oldest->used))
      oldest = p;
  }
  return oldest;
}

/* A free slot, emptying the least recently used one when none is. */
static web_page_t *free_slot(web_page_cache_t *c)
{
  for (size_t i = 0; i < WEB__PAGES_MAX; i++)
    if (!c->page[i].key)
      return &c->page[i];
  web_page_t *p = lru(c);
  drop(c, p);
  return p;
}

web_page_body_t *web__page_body_ref(web_page_body_t *b)
{
  b->refs++;
  return b;
}

void web__page_body_unref(web_page_body_t *b)
{
  if (b && --b->refs == 0)
    free(b);
}

/* A body holding a copy of @p data, one reference (NULL: out of memory). */
static web_page_body_t *body_new(const char *data, size_t len)
{
  web_page_body_t *b = malloc(sizeof(*b) + WEB__PAGE_ROOM + len);
  if (!b)
    return NULL;
  b->refs = 1;
  b->len = len;
  if (len)
    memcpy(web__page_data(b), data, len);
  return b;
}

web_page_body_t *web__page_get(web_page_cache_t *c, const char *key,
                               size_t key_len, uint64_t txnid)
{
  web_page_t *p = txnid ? find(c, key, key_len) : NULL;
  if (!p || p->txnid != txnid) {
    c->misses++;
    return NULL;
  }
  p->used = ++c->tick;
  c->hits++;
  return p->body;
}

void web__page_put(web_page_cache_t *c, const char *key, size_t key_len,
                   uint64_t txnid, const char *body, size_t len)
{
  web_page_t *old = find(c, key, key_len);
  if (old)
    drop(c, old); /* an older snapshot's page is of no more use */
  size_t need = key_len + len;
  if (!txnid || len > WEB__PAGE_MAX_BYTES || need > WEB__PAGES_BYTES)
    return;
  while (c->bytes + need > WEB__PAGES_BYTES)
    drop(c, lru(c)); /* need <= the bound: ends before the cache is empty */
  web_page_t *p = free_slot(c);
  p->key = malloc(key_len ? key_len : 1);
  p->body = body_new(body, len);
  if (!p->key || !p->body) {
    free(p->key);
    web__page_body_unref(p->body);
    *p = (web_page_t){0};
    return;
  }
  memcpy(p->key, key, key_len);
  p->key_len = key_len;
  p->len = len;
  p->txnid = txnid;
  p->used = ++c->tick;
  c->bytes += need;
}

void web__page_cache_free(web_page_cache_t *c)
{
  for (size_t i = 0; i < WEB__PAGES_MAX; i++)
    if (c->page[i].key)
      drop(c, &c->page[i]);
  c->bytes = 0;
}
