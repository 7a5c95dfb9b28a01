/*
 * test_page_cache.c: the bounded LRU of encoded task pages
 * (web/page_cache.c).
 *
 * Contract: a page is returned only for its key and the snapshot id it
 * was filed under (id 0 is never kept); filing a key again replaces its
 * page; at most WEB__PAGES_MAX pages and WEB__PAGES_BYTES bytes are held,
 * the least recently used going first; a page over WEB__PAGE_MAX_BYTES is
 * not kept. A body an answer holds a reference to outlives its page
 * (replaced, evicted, the cache freed) and has WEB__PAGE_ROOM bytes of
 * writable room before it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/page_cache.h"

TestSuite(page_cache, .timeout = 30);

static web_page_cache_t cache;

static void fini(void)
{
  web__page_cache_free(&cache);
  cr_assert_eq(cache.bytes, 0);
}

static void put(const char *key, uint64_t txnid, const char *body)
{
  web__page_put(&cache, key, strlen(key), txnid, body, strlen(body));
}

static const char *get(const char *key, uint64_t txnid)
{
  web_page_body_t *p = web__page_get(&cache, key, strlen(key), txnid);
  static char out[64];
  if (!p)
    return NULL;
  cr_assert_lt(p->len, sizeof(out));
  memcpy(out, web__page_data(p), p->len);
  out[p->len] = '\0';
  return out;
}

static size_t held(void)
{
  size_t n = 0;
  for (size_t i = 0; i < WEB__PAGES_MAX; i++)
    n += cache.page[i].key != NULL;
  return n;
}

Test(page_cache, hits_only_the_same_key_and_snapshot, .fini = fini)
{
  put("limit=50", 7, "page-a");
  cr_assert_str_eq(get("limit=50", 7), "page-a");
  cr_assert_null(get("limit=50", 8)); /* the store changed */
  cr_assert_null(get("limit=5", 7));
  cr_assert_null(get("limit=500", 7));
  cr_assert_eq(cache.hits, 1);
  cr_assert_eq(cache.misses, 3);

  put("limit=50", 8, "page-b"); /* replaces the older snapshot's page */
  cr_assert_eq(held(), 1);
  cr_assert_eq(cache.bytes, strlen("limit=50") + strlen("page-b"));
  cr_assert_str_eq(get("limit=50", 8), "page-b");
  cr_assert_null(get("limit=50", 7));

  put("x", 0, "unknown snapshot"); /* 0: the store could not tell */
  cr_assert_null(get("x", 0));
  cr_assert_eq(held(), 1);
}

Test(page_cache, keeps_at_most_the_page_count_lru_first, .fini = fini)
{
  char key[32];
  for (int i = 0; i < WEB__PAGES_MAX; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    put(key, 1, "body");
  }
  cr_assert_eq(held(), WEB__PAGES_MAX);
  cr_assert_not_null(get("k0", 1)); /* k0 used: k1 is now the oldest */
  put("new", 1, "body");
  cr_assert_eq(held(), WEB__PAGES_MAX);
  cr_assert_null(get("k1", 1));
  cr_assert_not_null(get("k0", 1));
  cr_assert_not_null(get("new", 1));
  for (int i = 0; i < 10 * WEB__PAGES_MAX; i++) {
    snprintf(key, sizeof(key), "more%d", i);
    put(key, 2, "body");
    cr_assert_leq(held(), WEB__PAGES_MAX);
  }
}

Test(page_cache, keeps_at_most_the_byte_bound, .fini = fini)
{
  size_t big = WEB__PAGE_MAX_BYTES - 16;
  char *body = malloc(big + 1);
  cr_assert_not_null(body);
  memset(body, 'x', big);
  body[big] = '\0';
  char key[32];
  for (int i = 0; i < 12; i++) {
    snprintf(key, sizeof(key), "big%d", i);
    put(key, 1, body);
    cr_assert_leq(cache.bytes, WEB__PAGES_BYTES);
    web_page_body_t *p = web__page_get(&cache, key, strlen(key), 1);
    cr_assert_not_null(p);
    cr_assert_eq(p->len, big);
  }
  cr_assert_lt(held(), 12);
  cr_assert_null(get("big0", 1)); /* the oldest went first */

  /* Over the per-page bound: not kept, and the others stay. */
  size_t before = held();
  char *huge = malloc(WEB__PAGE_MAX_BYTES + 2);
  cr_assert_not_null(huge);
  memset(huge, 'y', WEB__PAGE_MAX_BYTES + 1);
  huge[WEB__PAGE_MAX_BYTES + 1] = '\0';
  put("huge", 1, huge);
  cr_assert_null(get("huge", 1));
  cr_assert_eq(held(), before);
  free(huge);
  free(body);
}

/* An answer's reference keeps the body (and its room) alive after the
 * page was replaced and after the cache was freed; the last unref frees
 * it (ASan: no use after free, no leak). */
Test(page_cache, a_referenced_body_outlives_its_page, .fini = fini)
{
  put("limit=50", 1, "first");
  web_page_body_t *held_body =
      web__page_body_ref(web__page_get(&cache, "limit=50", 8, 1));
  cr_assert_eq(held_body->refs, 2);
  put("limit=50", 2, "second"); /* the cache lets go of "first" */
  cr_assert_eq(held_body->refs, 1);
  web_page_body_t *other =
      web__page_body_ref(web__page_get(&cache, "limit=50", 8, 2));
  web__page_cache_free(&cache);
  cr_assert_eq(held_body->len, strlen("first"));
  cr_assert_eq(memcmp(web__page_data(held_body), "first", 5), 0);
  cr_assert_eq(memcmp(web__page_data(other), "second", 6), 0);
  /* The room before the body is the answer's to write (headers). */
  memset(held_body->buf, 'h', WEB__PAGE_ROOM);
  cr_assert_eq(memcmp(web__page_data(held_body), "first", 5), 0);
  web__page_body_unref(held_body);
  web__page_body_unref(other);
  web__page_body_unref(NULL);
}
