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
 *
 * A body is refcounted (web_page_body_t) so an answer sends it straight
 * from the cache: the answer takes a reference (the page may be evicted,
 * replaced or the cache freed while the answer is still going out in
 * chunks), and the WEB__PAGE_ROOM bytes before the body are scratch room
 * where the answer writes its status line and headers, so headers and
 * body leave in one write with no copy of the body. The room is rewritten
 * by every answer: the writer fills it and hands it to the socket layer
 * (which sends or copies what it cannot send) before any other answer
 * runs, which one thread guarantees.
 */
#ifndef WEB_PAGE_CACHE_H
#define WEB_PAGE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define WEB__PAGES_MAX 32
#define WEB__PAGES_BYTES (4u << 20)
#define WEB__PAGE_MAX_BYTES (1u << 20)
/* Room before a body for the transport's headroom and an answer's headers
 * (LWS_PRE + the status line and headers; an answer whose headers do not
 * fit copies instead). */
#define WEB__PAGE_ROOM 2048

/* A cached body and its room, freed with its last reference. */
typedef struct web_page_body {
  unsigned refs;
  size_t len;
  /* WEB__PAGE_ROOM bytes of room, then the len bytes of the body */
  unsigned char buf[];
} web_page_body_t;

/* The body's first byte (the room ends there). */
static inline unsigned char *web__page_data(web_page_body_t *b)
{
  return b->buf + WEB__PAGE_ROOM;
}

typedef struct web_page {
  char *key; /* NULL: free slot */
  size_t key_len;
  uint64_t txnid;
  web_page_body_t *body; /* the cache's reference */
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
 * Borrowed: valid until the next put or free unless the caller takes a
 * reference (web__page_body_ref). */
web_page_body_t *web__page_get(web_page_cache_t *c, const char *key,
                               size_t key_len, uint64_t txnid);
/** Take a reference to @p b; returns @p b. */
web_page_body_t *web__page_body_ref(web_page_body_t *b);
/** Drop a reference (NULL: nothing); the last one frees the body. */
void web__page_body_unref(web_page_body_t *b);
/** File a copy of @p body under (@p key, @p txnid), replacing the key's
 * older page and evicting the least recently used ones to stay within
 * the bounds. Out of memory or too big: nothing is kept (0 either way:
 * the cache is an optimisation). */
void web__page_put(web_page_cache_t *c, const char *key, size_t key_len,
                   uint64_t txnid, const char *body, size_t len);
/** Drop every page. */
void web__page_cache_free(web_page_cache_t *c);

#endif /* WEB_PAGE_CACHE_H */
