/*
 * gh_cache.h: response caches for the client's conditional requests.
 *
 *  - memory: a bounded map, for tests and for runs without a data dir;
 *  - store: the store's gh_cache database (store/store.h), written behind:
 *    put() queues a copy and a blocking job commits every queued entry in
 *    one transaction, so the client actor never waits for an fsync; get()
 *    sees queued entries before they reach LMDB.
 * Both are safe to share between client actors (a mutex inside).
 */
#ifndef GH_GH_CACHE_H
#define GH_GH_CACHE_H

#include "github/gh.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An in-memory cache of at most @p max_entries responses (the oldest
 * goes first). @return 0 or GH_ENOMEM; *out always written. */
int gh_cache_memory_new(size_t max_entries, gh_cache_t **out);

/**
 * A cache in @p store (borrowed: close it after gh_cache_free). Writes run
 * as blocking jobs of @p rt; gh_cache_free waits for the one in flight and
 * writes what is still queued.
 * @return 0 or GH_ENOMEM; *out always written.
 */
int gh_cache_store_new(rt_runtime_t *rt, store_t *store, gh_cache_t **out);

/** Number of entries the store cache has committed so far (tests). */
uint64_t gh_cache_store_committed(gh_cache_t *c);

/** Free a cache (any kind). NULL is a no-op. */
void gh_cache_free(gh_cache_t *c);

/** The key a URL is stored under: the URL itself, or "sha256:<hex>" when
 * it is longer than STORE_GH_KEY_MAX. @p out needs STORE_GH_KEY_MAX + 1. */
void gh_cache_key(const char *url, char *out);

#ifdef __cplusplus
}
#endif
#endif /* GH_GH_CACHE_H */
