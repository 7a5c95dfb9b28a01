/*
 * test_policy.c: the client's pure rules (github/policy.c), with explicit
 * clocks.
 *
 * Contract: Link rel="next" is found wherever it sits (quoted or not,
 * among several relations) and absent on the last page; the backoff
 * doubles up to its cap and its jitter stays within [step/2, step];
 * Retry-After parses seconds and HTTP-dates and refuses garbage; a bucket
 * with requests left never holds, an empty one holds until its reset (plus
 * a second of slack), a pause holds every resource, and a stale reset
 * holds nothing; paths map to GitHub's resources; origins compare scheme,
 * host and port; pages join into one array.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "github/gh_int.h"
#include "tests/support/rt_test.h"

TestSuite(policy, .timeout = 30);

Test(policy, link_next_is_found_among_relations)
{
  char *n = gh__link_next(
      "<https://api.github.com/repositories/1/issues?page=2>; rel=\"next\", "
      "<https://api.github.com/repositories/1/issues?page=5>; rel=\"last\"");
  cr_assert_str_eq(n, "https://api.github.com/repositories/1/issues?page=2");
  free(n);
  n = gh__link_next("<https://x/a?page=1>; rel=\"prev\", <https://x/a?page=3>;"
                    " rel=next, <https://x/a?page=9>; rel=\"last\"");
  cr_assert_str_eq(n, "https://x/a?page=3", "unquoted rel, not the first");
  free(n);
  n = gh__link_next("<https://x/a?page=2>; rel=\"next last\"");
  cr_assert_str_eq(n, "https://x/a?page=2", "one of several relations");
  free(n);
  tst_check_leaks();
}

Test(policy, no_next_on_the_last_page_or_garbage)
{
  cr_assert_null(gh__link_next("<https://x/a?page=4>; rel=\"prev\", "
                               "<https://x/a?page=1>; rel=\"first\""));
  cr_assert_null(gh__link_next(NULL));
  cr_assert_null(gh__link_next(""));
  cr_assert_null(gh__link_next("<unterminated; rel=\"next\""));
  cr_assert_null(gh__link_next("<https://x/a>; rel=\"nextish\""));
  tst_check_leaks();
}

Test(policy, backoff_doubles_with_bounded_jitter)
{
  for (uint64_t rnd = 0; rnd < 2000; rnd += 7) {
    for (unsigned n = 0; n < 12; n++) {
      uint64_t step = 100ull << n;
      if (step > 5000)
        step = 5000;
      uint64_t d = gh__backoff_ms(n, 100, 5000, rnd);
      cr_assert(d >= step / 2 && d <= step, "retry %u: %llu not in [%llu, %llu]",
                n, (unsigned long long)d, (unsigned long long)step / 2,
                (unsigned long long)step);
    }
  }
  cr_assert_neq(gh__backoff_ms(3, 100, 5000, 1), gh__backoff_ms(3, 100, 5000, 2),
                "jitter varies with the random draw");
  tst_check_leaks();
}

Test(policy, retry_after_seconds_and_dates)
{
  cr_assert_eq(gh__retry_after_ms("1", 0), 1000);
  cr_assert_eq(gh__retry_after_ms(" 120 ", 0), 120000);
  /* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
  cr_assert_eq(gh__retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470),
               10000);
  cr_assert_eq(gh__retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490),
               0, "a date in the past: go now");
  cr_assert_eq(gh__retry_after_ms("soon", 0), -1);
  cr_assert_eq(gh__retry_after_ms("-5", 0), -1);
  cr_assert_eq(gh__retry_after_ms("12abc", 0), -1);
  cr_assert_eq(gh__retry_after_ms(NULL, 0), -1);
  tst_check_leaks();
}

Test(policy, empty_bucket_holds_until_reset)
{
  gh__ratelimit_t rl;
  memset(&rl, 0, sizeof(rl));
  int64_t now = 1700000000000;
  cr_assert_eq(gh__rl_ready_at(&rl, "core", now), now, "unknown: go");
  gh__rl_update(&rl, "core", 10, 1700000100);
  cr_assert_eq(gh__rl_ready_at(&rl, "core", now), now, "requests left: go");
  gh__rl_update(&rl, "core", 0, 1700000100);
  cr_assert_eq(gh__rl_ready_at(&rl, "core", now), (1700000100 + 1) * INT64_C(1000),
               "held until the reset plus a second");
  cr_assert_eq(gh__rl_ready_at(&rl, "search", now), now,
               "another resource is not held");
  cr_assert_eq(gh__rl_ready_at(&rl, "core", 1700000200000), 1700000200000,
               "a reset in the past holds nothing");
  gh__rl_update(&rl, "core", 4999, 1700003600);
  cr_assert_eq(gh__rl_ready_at(&rl, "core", now), now, "refilled");
  tst_check_leaks();
}

Test(policy, pause_holds_every_resource)
{
  gh__ratelimit_t rl;
  memset(&rl, 0, sizeof(rl));
  int64_t now = 5000;
  gh__rl_pause(&rl, now + 60000);
  gh__rl_pause(&rl, now + 1000); /* the later pause wins */
  cr_assert_eq(gh__rl_ready_at(&rl, "core", now), now + 60000);
  cr_assert_eq(gh__rl_ready_at(&rl, "search", now), now + 60000);
  cr_assert_eq(gh__rl_ready_at(&rl, "core", now + 70000), now + 70000);
  tst_check_leaks();
}

Test(policy, buckets_are_bounded)
{
  gh__ratelimit_t rl;
  memset(&rl, 0, sizeof(rl));
  char name[16];
  for (int i = 0; i < 3 * GH__RL_RESOURCES; i++) {
    snprintf(name, sizeof(name), "r%d", i);
    gh__rl_update(&rl, name, 0, 100);
  }
  cr_assert_eq(rl.n, GH__RL_RESOURCES);
  gh__rl_update(&rl, "a-resource-name-longer-than-the-slot", 0, 100);
  cr_assert_eq(rl.n, GH__RL_RESOURCES);
  tst_check_leaks();
}

Test(policy, resources_of_paths)
{
  cr_assert_str_eq(gh__resource_of("/repos/o/r/issues"), "core");
  cr_assert_str_eq(gh__resource_of("/search/issues?q=x"), "search");
  cr_assert_str_eq(gh__resource_of("https://h/api/v3/search/code"), "search");
  cr_assert_str_eq(gh__resource_of("https://h/api/graphql"), "graphql");
  cr_assert_str_eq(gh__resource_of("https://h/repos/search-tool/x"), "core");
  tst_check_leaks();
}

Test(policy, origins)
{
  char o[128];
  cr_assert_eq(gh__url_origin("https://API.github.com/repos/x?y", o,
                              sizeof(o)), 0);
  cr_assert_str_eq(o, "https://api.github.com");
  cr_assert_eq(gh__url_origin("http://127.0.0.1:8080", o, sizeof(o)), 0);
  cr_assert_str_eq(o, "http://127.0.0.1:8080");
  cr_assert_eq(gh__url_origin("http://127.0.0.1:8081/x", o, sizeof(o)), 0);
  cr_assert_str_neq(o, "http://127.0.0.1:8080", "another port");
  cr_assert_eq(gh__url_origin("/relative", o, sizeof(o)), GH_EINVAL);
  cr_assert_eq(gh__url_origin("https:///nohost", o, sizeof(o)), GH_EINVAL);
  cr_assert_eq(gh__url_origin("https://a-very-long-host.example", o, 8),
               GH_EINVAL);
  tst_check_leaks();
}

Test(policy, pages_join_into_one_array)
{
  gh__buf_t acc = {0};
  cr_assert_eq(gh__page_join(&acc, " [1,2] ", 7, 1000), 0);
  cr_assert_eq(gh__page_join(&acc, "[]", 2, 1000), 0);
  cr_assert_eq(gh__page_join(&acc, "[ {\"a\":[3]} ]\n", 14, 1000), 0);
  cr_assert_eq(gh__page_close(&acc, 1000), 0);
  cr_assert_str_eq(acc.p, "[1,2,{\"a\":[3]}]");
  gh__buf_fini(&acc);
  cr_assert_eq(gh__page_join(&acc, "{\"message\":1}", 13, 1000), GH_EPROTO);
  cr_assert_eq(gh__page_join(&acc, "[1,2,3,4,5]", 11, 4), GH_ETOOBIG);
  gh__buf_fini(&acc);
  cr_assert_eq(gh__page_close(&acc, 10), 0);
  cr_assert_str_eq(acc.p, "[]", "no page at all: an empty array");
  gh__buf_fini(&acc);
  tst_check_leaks();
}
