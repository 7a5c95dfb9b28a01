/*
 * test_cache.c: the response caches (github/cache.c) and the store's
 * gh_cache database (store_gh_cache_*).
 *
 * Contract: get returns copies of what put stored (validators, Link and
 * body, binary-safe) and GH_ENOTFOUND otherwise; a newer put replaces; the
 * memory cache keeps only the newest max_entries; the store cache makes a
 * put visible at once, commits it behind in a blocking job, survives
 * closing and reopening the store, and stores over-long URLs under a
 * hashed key; gh_cache_free writes what is still queued.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "github/gh_cache.h"
#include "tests/github/gh_test.h"
#include "tests/support/store_test.h"

TestSuite(cache, .timeout = 60);

static gh_cache_entry_t entry(const char *etag, const char *body)
{
  return (gh_cache_entry_t){.etag = (char *)etag,
                            .last_modified = NULL,
                            .link = "<http://x/?page=2>; rel=\"next\"",
                            .body = (char *)body,
                            .len = strlen(body)};
}

static void expect_entry(gh_cache_t *c, const char *url, const char *etag,
                         const char *body)
{
  gh_cache_entry_t got;
  int rc = c->get(c, url, &got);
  cr_assert_eq(rc, 0, "%s: %s", url, gh_strerror(rc));
  cr_assert_str_eq(got.etag, etag);
  cr_assert_str_eq(got.link, "<http://x/?page=2>; rel=\"next\"");
  cr_assert_eq(got.len, strlen(body));
  cr_assert(memcmp(got.body, body, got.len) == 0);
  gh_cache_entry_fini(&got);
}

Test(cache, memory_stores_replaces_and_evicts_the_oldest)
{
  gh_cache_t *c = NULL;
  TST_OK(gh_cache_memory_new(2, &c));
  gh_cache_entry_t got;
  cr_assert_eq(c->get(c, "http://h/a", &got), GH_ENOTFOUND);
  gh_cache_entry_t a = entry("\"a1\"", "[1]"), b = entry("\"b\"", "[2]");
  c->put(c, "http://h/a", &a);
  c->put(c, "http://h/b", &b);
  expect_entry(c, "http://h/a", "\"a1\"", "[1]");
  a = entry("\"a2\"", "[1,1]");
  c->put(c, "http://h/a", &a); /* replaces, and is now the newest */
  expect_entry(c, "http://h/a", "\"a2\"", "[1,1]");
  gh_cache_entry_t d = entry("\"c\"", "[3]");
  c->put(c, "http://h/c", &d);
  cr_assert_eq(c->get(c, "http://h/b", &got), GH_ENOTFOUND, "oldest evicted");
  expect_entry(c, "http://h/a", "\"a2\"", "[1,1]");
  expect_entry(c, "http://h/c", "\"c\"", "[3]");
  gh_cache_free(c);
  tst_check_leaks();
}

Test(cache, store_entries_are_binary_safe)
{
  char *dir = tst_tmpdir();
  store_t *s = tst_store_open(dir, NULL);
  store_txn_t *t = NULL;
  TST_SOK(store_write_begin(s, &t));
  const char body[] = {'a', 0, 'b', 0};
  store_gh_entry_t e = {.etag = "W/\"x\"", .body = (void *)body,
                        .len = sizeof(body)};
  TST_SOK(store_gh_cache_put(t, "https://api.github.com/x", &e));
  TST_SOK(store_write_commit(t));
  store_gh_entry_t got;
  TST_SOK(store_gh_cache_get(s, "https://api.github.com/x", &got));
  cr_assert_str_eq(got.etag, "W/\"x\"");
  cr_assert_str_eq(got.last_modified, "");
  cr_assert_str_eq(got.link, "");
  cr_assert_eq(got.len, sizeof(body));
  cr_assert(memcmp(got.body, body, sizeof(body)) == 0);
  store_gh_entry_fini(&got);
  TST_SRC(store_gh_cache_get(s, "https://api.github.com/y", &got),
          STORE_ENOTFOUND);
  char key[STORE_GH_KEY_MAX + 2];
  memset(key, 'k', sizeof(key) - 1);
  key[sizeof(key) - 1] = 0;
  TST_SRC(store_gh_cache_get(s, key, &got), STORE_EINVAL);
  store_close(s);
  tst_rmrf(dir);
  free(dir);
  tst_check_leaks();
}

Test(cache, store_cache_writes_behind_and_persists)
{
  char *dir = tst_tmpdir();
  store_t *s = tst_store_open(dir, NULL);
  rt_runtime_t *rt = tst_runtime(1);
  gh_cache_t *c = NULL;
  TST_OK(gh_cache_store_new(rt, s, &c));
  char long_url[2048];
  int n = snprintf(long_url, sizeof(long_url), "https://api.github.com/");
  memset(long_url + n, 'q', sizeof(long_url) - (size_t)n - 1);
  long_url[sizeof(long_url) - 1] = 0;
  gh_cache_entry_t a = entry("\"a\"", "[\"a\"]"), b = entry("\"b\"", "[]");
  c->put(c, "https://api.github.com/a", &a);
  c->put(c, long_url, &b);
  expect_entry(c, "https://api.github.com/a", "\"a\"", "[\"a\"]");
  expect_entry(c, long_url, "\"b\"", "[]");
  cr_assert(TST_EVENTUALLY(gh_cache_store_committed(c) == 2, TST_WAIT_MS),
            "both entries committed behind");
  expect_entry(c, long_url, "\"b\"", "[]");
  gh_cache_free(c);
  tst_runtime_free(rt);
  store_close(s);

  s = tst_store_open(dir, NULL);
  store_gh_entry_t got;
  TST_SOK(store_gh_cache_get(s, "https://api.github.com/a", &got));
  cr_assert_str_eq(got.etag, "\"a\"");
  cr_assert_str_eq(got.link, "<http://x/?page=2>; rel=\"next\"");
  store_gh_entry_fini(&got);
  char key[STORE_GH_KEY_MAX + 1];
  gh_cache_key(long_url, key);
  cr_assert(strncmp(key, "sha256:", 7) == 0 && strlen(key) == 7 + 64);
  TST_SOK(store_gh_cache_get(s, key, &got));
  cr_assert_str_eq(got.etag, "\"b\"");
  store_gh_entry_fini(&got);
  store_close(s);
  tst_rmrf(dir);
  free(dir);
  tst_check_leaks();
}

Test(cache, free_writes_what_is_still_queued)
{
  char *dir = tst_tmpdir();
  store_t *s = tst_store_open(dir, NULL);
  rt_runtime_t *rt = tst_runtime(1);
  tst_quiesce(rt); /* no blocking thread takes jobs any more */
  gh_cache_t *c = NULL;
  TST_OK(gh_cache_store_new(rt, s, &c));
  gh_cache_entry_t a = entry("\"late\"", "{}");
  c->put(c, "https://api.github.com/late", &a);
  expect_entry(c, "https://api.github.com/late", "\"late\"", "{}");
  gh_cache_free(c);
  store_gh_entry_t got;
  TST_SOK(store_gh_cache_get(s, "https://api.github.com/late", &got));
  cr_assert_str_eq(got.etag, "\"late\"");
  store_gh_entry_fini(&got);
  tst_runtime_free(rt);
  store_close(s);
  tst_rmrf(dir);
  free(dir);
  tst_check_leaks();
}
