/*
 * test_json_check.c: the one-pass JSON object check of the webhook route
 * (github/json_check.c), which decides the 400 before the payload is
 * parsed.
 *
 * Contract: every payload of @octokit/webhooks-examples is an object; the
 * grammar's corners are refused (trailing commas, leading zeros, bad
 * escapes, control characters, invalid UTF-8, lone surrogates and
 * \u0000 (as jansson), literals
 * cut short, anything after the object, arrays and scalars at the top,
 * nesting past the bound); and on thousands of one-byte mutations and
 * truncations of real payloads it agrees with jansson: it never refuses
 * what jansson takes as an object, and whatever it takes, jansson takes.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "github/gh_int.h"
#include "tests/github/gh_test.h"

TestSuite(json_check, .timeout = 60);

static bool ok(const char *s)
{
  return gh__json_object_ok(s, strlen(s));
}

static bool jansson_object(const char *buf, size_t len)
{
  json_t *j = json_loadb(buf, len, 0, NULL);
  bool is = json_is_object(j);
  json_decref(j);
  return is;
}

Test(json_check, grammar)
{
  const char *good[] = {
      "{}", " {\"a\":1} ", "{\"a\":[1,-2.5e+3,true,false,null,{}]}",
      "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}",
      "{\"u\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", "{\"z\":0}",
      "{\"pair\":\"\\ud83d\\ude00\"}",
      "{\"n\":-0.0E-1}", "{\"a\":{\"b\":{\"c\":[[[]]]}}}"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    cr_assert(ok(good[i]), "refused %s", good[i]);
  const char *bad[] = {
      "", "[]", "1", "\"s\"", "{", "}", "{}x", "{} {}", "{\"a\":}",
      "{\"a\":1,}", "{,}", "{\"a\" 1}", "{a:1}", "{\"a\":01}",
      "{\"a\":1.}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":.5}", "{\"a\":tru}",
      "{\"a\":nul}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
      "{\"a\":\"\x01\"}", "{\"a\":\"\xc0\x80\"}", "{\"a\":\"\xed\xa0\x80\"}",
      "{\"a\":\"\xf5\x80\x80\x80\"}", "{\"a\":\"\xe2\x82\"}",
      "{\"a\":\"open}", "{\"a\":[1 2]}", "{\"a\":[1,]}",
      "{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ude00\"}",
      "{\"a\":\"\\ud83d\\u0041\"}", "{\"a\":\"\\u0000\"}"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert(!ok(bad[i]), "took %s", bad[i]);
}

Test(json_check, nesting_is_bounded)
{
  size_t n = GH__JSON_DEPTH;
  char *s = malloc(2 * n + 16);
  size_t k = 0;
  s[k++] = '{';
  s[k++] = '"';
  s[k++] = 'a';
  s[k++] = '"';
  s[k++] = ':';
  for (size_t i = 0; i < n - 1; i++)
    s[k++] = '[';
  for (size_t i = 0; i < n - 1; i++)
    s[k++] = ']';
  s[k++] = '}';
  cr_assert(gh__json_object_ok(s, k), "depth %zu refused", n);
  memmove(s + 6, s + 5, k - 5); /* one more [ ... ] level */
  s[5] = '[';
  s[k + 1] = '}';
  s[k] = ']';
  cr_assert(!gh__json_object_ok(s, k + 2), "depth %zu taken", n + 1);
  free(s);
}

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* jansson refuses integers past int64 and reals past a double; the check
 * leaves that to the parse. */
static bool jansson_only_refusal(const char *buf, size_t len)
{
  json_error_t err;
  json_t *j = json_loadb(buf, len, 0, &err);
  json_decref(j);
  return !j && (strstr(err.text, "too big") != NULL ||
                strstr(err.text, "real number overflow") != NULL);
}

Test(json_check, agrees_with_jansson_on_real_payloads_and_their_mutations)
{
  json_t *index = ght_json_file(GHT_WEBHOOK_EXAMPLES);
  size_t payloads = 0, mutations = 0;
  for (size_t i = 0; i < json_array_size(index); i++) {
    json_t *ex = json_object_get(json_array_get(index, i), "examples");
    for (size_t k = 0; k < json_array_size(ex); k++) {
      char *body = json_dumps(json_array_get(ex, k), JSON_COMPACT);
      size_t len = strlen(body);
      cr_assert(gh__json_object_ok(body, len), "example %zu/%zu", i, k);
      payloads++;
      for (int m = 0; m < 12; m++, mutations++) {
        char *mut = malloc(len);
        memcpy(mut, body, len);
        size_t at = next_rand() % len, mlen = len;
        if (m % 3 == 0)
          mlen = at; /* truncated */
        else
          mut[at] = (char)(next_rand() % 256);
        bool mine = gh__json_object_ok(mut, mlen);
        bool theirs = jansson_object(mut, mlen);
        if (theirs && !memchr(mut, 0, mlen)) /* jansson skips a NUL */
          cr_assert(mine, "refused what jansson took (example %zu/%zu)", i,
                    k);
        if (mine && !jansson_only_refusal(mut, mlen))
          cr_assert(theirs, "took what jansson refused (example %zu/%zu, "
                    "byte %zu)", i, k, at);
        free(mut);
      }
      free(body);
    }
  }
  cr_assert_eq(payloads, 329);
  cr_assert_gt(mutations, 3000);
  json_decref(index);
}
