/*
 * test_config_values.c: the scalar syntax of ccm.yaml (config/values.c,
 * through config_int.h).
 *
 * Contract checked: durations are one or more <digits><unit> with units
 * ms, s, m, h, d and nothing else; sizes are digits with an optional
 * unit (B, KiB, MiB, GiB, kB, KB, MB, GB), one space allowed; listen
 * addresses are IPv4, [IPv6] or localhost with a port 0-65535; loopback
 * is 127/8, ::1 and localhost; GitHub names follow GitHub's rules and
 * refuse URLs and .git; variable names are C identifiers and never a
 * token; URLs are http(s) with a host and no credentials; the secret
 * heuristics flag token-like values and secret-like names word by word;
 * numbers are decimal only.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "tests/scan/leaks.h"

TestSuite(config_values, .timeout = 30, .fini = scan_test_check_leaks);

typedef const char *(*problem_fn)(const char *s);
typedef struct bad_case {
  const char *s, *why; /* input, and a part of the problem's text */
} bad_case_t;

/* @p fn finds no problem in each of @p ok, and in each of @p bad one
 * whose text holds its why. */
static void assert_problems(problem_fn fn, const char *const *ok, size_t nok,
                            const bad_case_t *bad, size_t nbad)
{
  for (size_t i = 0; i < nok; i++)
    cr_assert_null(fn(ok[i]), "%s", ok[i]);
  for (size_t i = 0; i < nbad; i++) {
    const char *p = fn(bad[i].s);
    cr_assert_not_null(p, "'%s'", bad[i].s);
    cr_assert(strstr(p, bad[i].why), "%s: %s", bad[i].s, p);
  }
}

#define COUNT(a) (sizeof(a) / sizeof *(a))

/* @p fn holds for each of @p yes and for none of @p no. */
static void assert_predicate(bool (*fn)(const char *), const char *const *yes,
                             size_t nyes, const char *const *no, size_t nno)
{
  for (size_t i = 0; i < nyes; i++)
    cr_assert(fn(yes[i]), "%s", yes[i]);
  for (size_t i = 0; i < nno; i++)
    cr_assert_not(fn(no[i]), "%s", no[i] ? no[i] : "NULL");
}

Test(config_values, durations)
{
  static const struct {
    const char *s;
    uint64_t ms;
  } ok[] = {{"10m", 600000},  {"1h30m", 5400000}, {"500ms", 500},
            {"2d", 172800000}, {"30s", 30000},    {"1h0m", 3600000},
            {"0s", 0},         {"1m30s", 90000}};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    uint64_t ms = 1;
    cr_assert_eq(cfg__parse_duration(ok[i].s, &ms), 0, "%s", ok[i].s);
    cr_assert_eq(ms, ok[i].ms, "%s", ok[i].s);
  }
  static const char *const bad[] = {"",     "10",     "m",      "10x",
                                    "1.5h", "-1s",    "10 m",   "1h 30m",
                                    "10M",  "10mins", "1234567890123s"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    uint64_t ms = 7;
    cr_assert_eq(cfg__parse_duration(bad[i], &ms), -1, "'%s'", bad[i]);
    cr_assert_eq(ms, 7, "untouched on failure");
  }
}

Test(config_values, sizes)
{
  static const struct {
    const char *s;
    uint64_t b;
  } ok[] = {{"1MiB", 1048576}, {"512KiB", 524288}, {"1000", 1000},
            {"1000B", 1000},   {"1 MiB", 1048576}, {"2GB", 2000000000},
            {"1kB", 1000},     {"1KB", 1000},      {"3GiB", 3ull << 30}};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    uint64_t b = 0;
    cr_assert_eq(cfg__parse_size(ok[i].s, &b), 0, "%s", ok[i].s);
    cr_assert_eq(b, ok[i].b, "%s", ok[i].s);
  }
  static const char *const bad[] = {"1.5MiB", "MiB", "1 ",  "1mib", "-1",
                                    "1  MiB", "1Mi", "",    "1 MiB ",
                                    "9999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    uint64_t b = 0;
    cr_assert_eq(cfg__parse_size(bad[i], &b), -1, "'%s'", bad[i]);
  }
}

Test(config_values, listen_addresses)
{
  static const struct {
    const char *s, *host;
    uint16_t port;
  } ok[] = {{"127.0.0.1:8080", "127.0.0.1", 8080},
            {"[::1]:0", "::1", 0},
            {"0.0.0.0:65535", "0.0.0.0", 65535},
            {"localhost:1", "localhost", 1},
            {"[2001:db8::1]:443", "2001:db8::1", 443}};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    char *host = NULL;
    uint16_t port = 1;
    cr_assert_eq(cfg__parse_listen(ok[i].s, &host, &port), 0, "%s", ok[i].s);
    cr_assert_str_eq(host, ok[i].host);
    cr_assert_eq(port, ok[i].port);
    free(host);
  }
  static const char *const bad[] = {
      "127.0.0.1", ":80",         "127.0.0.1:",      "::1:80",
      "[::1]80",   "1.2.3:80",    "127.0.0.1:65536", "127.0.0.1:+80",
      "[localhost]:80", "example.com:80", "[::1]:",   "127.0.0.1:080000"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char *host = NULL;
    uint16_t port;
    cr_assert_eq(cfg__parse_listen(bad[i], &host, &port), -1, "'%s'", bad[i]);
    cr_assert_null(host);
  }
}

Test(config_values, loopback_hosts)
{
  static const char *const yes[] = {"127.0.0.1", "127.1.2.3", "::1",
                                    "localhost"};
  static const char *const no[] = {"0.0.0.0", "::", "10.0.0.1",
                                   "192.168.1.1", "2001:db8::1", "", NULL};
  assert_predicate(cfg_host_is_loopback, yes, COUNT(yes), no, COUNT(no));
}

Test(config_values, github_names)
{
  static const char *const ok[] = {"a/b", "octo-cat/hello.world_", "A1/x-y",
                                   "o/.github", "x/...."};
  static const bad_case_t bad[] = {{"https://github.com/a/b", "not a URL"},
             {"github.com/a/b", "not a URL"},
             {"git@github.com:a/b", "not a URL"},
             {"ab", "one '/'"},
             {"a/b/c", "one '/'"},
             {"/b", "owner"},
             {"-a/b", "owner"},
             {"a-/b", "owner"},
             {"a_b/c", "owner"},
             {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/b", "owner"},
             {"a/", "repository name"},
             {"a/..", "repository name"},
             {"a/b c", "repository name"},
             {"a/b.git", "without .git"}};
  assert_problems(cfg__github_name_problem, ok, COUNT(ok), bad, COUNT(bad));
}

Test(config_values, variable_names)
{
  static const char *const ok[] = {"GITHUB_TOKEN", "_X", "a1", "ghp_short"};
  static const bad_case_t bad[] = {
      {"", "empty"},           {"1A", "not starting with a digit"},
      {"A-B", "letters"},      {"A B", "letters"},
      {"A=B", "letters"},      {"ghp_0123456789abcdef", "looks like a token"}};
  assert_problems(cfg__env_name_problem, ok, COUNT(ok), bad, COUNT(bad));
}

Test(config_values, urls)
{
  static const char *const ok[] = {"https://api.github.com",
                                   "http://127.0.0.1:3000/api/v3",
                                   "HTTPS://h/x?y=1#z"};
  static const bad_case_t bad[] = {
      {"ftp://h/", "http"},          {"api.github.com", "http"},
      {"https://", "no host"},       {"https:///x", "no host"},
      {"https://u:p@h/", "credentials"}, {"https://t@h", "credentials"},
      {"https://h/a b", "spaces"}};
  assert_problems(cfg__url_problem, ok, COUNT(ok), bad, COUNT(bad));
}

Test(config_values, token_like_values)
{
  static const char *const yes[] = {
      "gh" "p_0123456789abcdefghij", "github_pat_11ABCDEFG0123456789",
      "sk-" "ant-api03-abcdefgh", "xox" "b-123456789012", "AKI" "AABCDEFGHIJKLMNOP",
      "-----BEGIN OPENSSH " "PRIVATE KEY-----"};
  static const char *const no[] = {"ghp_short", "GITHUB_TOKEN", "sk-1",
                                   "AKIAabcdefghijklmnop", "claude",
                                   "https://api.github.com"};
  assert_predicate(cfg__looks_like_token, yes, COUNT(yes), no, COUNT(no));
}

Test(config_values, secret_like_names)
{
  static const char *const yes[] = {
      "token",       "auth_token",     "GITHUB_TOKEN", "ANTHROPIC_API_KEY",
      "db_password", "secret",         "private_key",  "webhook-secret",
      "apikey",      "AWS_SECRET_ACCESS_KEY", "credentials"};
  static const char *const no[] = {
      "token_env", "max_tokens", "CLAUDE_CODE_MAX_OUTPUT_TOKENS", "keyboard",
      "monkey",    "ANTHROPIC_BASE_URL", "api_url", "key", "sort_key",
      "secret_env"};
  assert_predicate(cfg__name_is_secret, yes, COUNT(yes), no, COUNT(no));
}

Test(config_values, numbers_are_decimal_only)
{
  int64_t i = 0;
  double d = 0;
  cr_assert_eq(cfg__parse_int("-42", &i), 0);
  cr_assert_eq(i, -42);
  cr_assert_eq(cfg__parse_int("+7", &i), 0);
  cr_assert_eq(i, 7);
  static const char *const not_int[] = {"", "-", "1.0", "0x10", "1e3",
                                        "99999999999999999999", " 1"};
  for (size_t k = 0; k < sizeof not_int / sizeof *not_int; k++)
    cr_assert_eq(cfg__parse_int(not_int[k], &i), -1, "'%s'", not_int[k]);
  cr_assert_eq(cfg__parse_double("1e3", &d), 0);
  cr_assert_eq(d, 1000.0);
  cr_assert_eq(cfg__parse_double(".5", &d), 0);
  cr_assert_eq(d, 0.5);
  static const char *const not_num[] = {"", "inf", "nan", "0x1p3", "1e999",
                                        ".inf", "1,5", "1..2"};
  for (size_t k = 0; k < sizeof not_num / sizeof *not_num; k++)
    cr_assert_eq(cfg__parse_double(not_num[k], &d), -1, "'%s'", not_num[k]);
}

Test(config_values, edit_distance_is_capped_at_three)
{
  cr_assert_eq(cfg__edit_distance("lisen", "listen"), 1);
  cr_assert_eq(cfg__edit_distance("tokn_env", "token_env"), 1);
  cr_assert_eq(cfg__edit_distance("scan_intervall", "scan_interval"), 1);
  cr_assert_eq(cfg__edit_distance("abc", "abc"), 0);
  cr_assert_eq(cfg__edit_distance("frobnicate", "listen"), 3);
}
