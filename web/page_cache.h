/*
 * page_cache.h: encoded GET /api/v1/tasks answers, kept while the store
 * is unchanged.
 *
 * Design note
 * -----------
 * A page is filed under its normalised arguments (the key rest.c builds
 * from state, repo, kind, limit and cursor) and the store's snapshot id
 * (store_last_txnid) read BEFORE the page was built; a lookup hits only
 * when both match, so any write (a task update, or merely an event
 * appended to the log) makes every page miss and be rebuilt: never a
 * stale answer, at worst a needless rebuild. Id 0 ("cannot tell") never
 * hits and is never stored. Memory is bounded twice: at most
 * WEB__PAGES_MAX pages and WEB__PAGES_BYTES bytes of keys and bodies (a
 * page bigger than WEB__PAGE_MAX_BYTES is not kept); the least recently
 * used page goes first. Only the body is cached: status, headers,
 * authentication and CORS are decided per request as before. Service
 * thread only (no lock); not web-specific beyond its name.
 */
#ifndef WEB_PAGE_CACHE_H
#define WEB_PAGE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define WEB__PAGES_MAX 32
#define WEB__PAGES_BYTES (4u << 20)
#define WEB__PAGE_MAX_BYTES (1u << 20)

typedef struct web_page {
  char *key; /* NULL: free slot */
  size_t key_len;
  uint64_t txnid;
  char *body;
  size_t len;
  uint64_t used; /* the cache's tick at the last hit or store */
} web_page_t;

typedef struct web_page_cache {
  web_page_t page[WEB__PAGES_MAX];
  size_t bytes; /* keys + bodies held */
  uint64_t tick;
  uint64_t hits, misses;
} web_page_cache_t;

/** The body filed under (@p key, @p txnid), or NULL (a miss, counted).
 * The pointer stays valid until the next put or free. */
const char *web__page_get(web_page_cache_t *c, const char *key,
                          size_t key_len, uint64_t txnid, size_t *len);
/** File a copy of @p body under (@p key, @p txnid), replacing the key's
 * older page and evicting the least recently used ones to stay within
 * the bounds. Out of memory or too big: nothing is kept (0 either way:
 * the cache is an optimisation). */
void web__page_put(web_page_cache_t *c, const char *key, size_t key_len,
                   uint64_t txnid, const char *body, size_t len);
/** Drop every page. */
void web__page_cache_free(web_page_cache_t *c);

#endif /* WEB_PAGE_CACHE_H */
