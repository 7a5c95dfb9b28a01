/*
 * test_client.c: the client actor against recorded GitHub traffic.
 *
 * Each test starts npm @octokit/fixtures-server on 127.0.0.1 (through its
 * middleware), loads one scenario and talks to it through a client actor.
 * A recording answers only when method, path, Accept, Authorization and
 * the compact JSON body (with its Content-Type) match, so a passing test
 * also proves the request bytes. Contract checked: pagination through
 * Link (pages joined, truncation reported with the resume URL), redirects
 * 301/307 followed with method and body, 4xx reported with GitHub's
 * message and never retried, 5xx retried, 401 as GH_EAUTH without the
 * token in the error, 304 answered from the cache over a kept-alive
 * connection, primary rate limit exhausted -> later requests refused
 * without being sent, secondary limit -> waited for Retry-After, and the
 * operations: issues, comments, timeline, labels, comment, close, pulls.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "github/gh_cache.h"
#include "github/gh_ops.h"
#include "tests/github/gh_test.h"

static ght_server_t server;
static rt_runtime_t *rt;

static void setup(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
  ght_server_start(&server);
  rt = tst_runtime(2);
}

static void finish(void)
{
  ght_runtime_finish(&rt);
}

static void teardown(void)
{
  ght_runtime_abandon(&rt);
  ght_server_stop(&server);
  curl_global_cleanup();
}

TestSuite(client, .init = setup, .fini = teardown, .timeout = 120);

/* A client on a freshly loaded scenario. */
static rt_actor_t *client_for(const char *scenario, gh_cache_t *cache)
{
  char *url = ght_scenario(&server, scenario);
  gh_config_t c;
  ght_config(&c, url);
  rt_actor_t *a = ght_client(rt, &c, cache);
  free(url);
  return a;
}

static void expect_ok(const gh_response_t *r)
{
  cr_assert_eq(r->rc, 0, "rc %s, status %d: %s", gh_strerror(r->rc),
               r->status, r->error ? r->error : "");
}

static void run_op(rt_actor_t *a, const gh_op_t *op, gh_response_t *r)
{
  ght_call(rt, a, &op->req, r);
}

/* Run @p op, expect success, release the op. */
static void run_ok(rt_actor_t *a, gh_op_t *op, gh_response_t *r)
{
  run_op(a, op, r);
  gh_op_fini(op);
  expect_ok(r);
}

/* ---- recorded scenarios ---- */

Test(client, paginate_issues_joins_every_page)
{
  rt_actor_t *a = client_for("paginate-issues", NULL);
  gh_issue_query_t q = {.per_page = 3};
  gh_op_t op;
  TST_OK(gh_op_list_issues(&op, "octokit-fixture-org/paginate-issues", &q));
  gh_response_t r;
  run_ok(a, &op, &r);
  cr_expect_eq(r.pages, 5, "five pages through Link rel=next");
  cr_expect(!r.truncated && !r.next);
  cr_expect_eq(r.rl_remaining, 4999);
  cr_expect_str_eq(r.rl_resource, "core");
  gh_issue_t *v = NULL;
  size_t n = 0;
  TST_OK(gh_issues_parse(r.body, r.len, &v, &n));
  cr_assert_eq(n, 13, "13 issues over 5 pages");
  for (size_t i = 0; i < n; i++)
    cr_expect_eq(v[i].number, 13 - i, "in order, newest first");
  cr_expect_str_eq(v[0].author, "octokit-fixture-user-a");
  cr_expect_str_eq(v[0].author_association, "MEMBER");
  cr_expect_str_eq(v[0].state, "open");
  cr_expect_eq(v[0].updated_at, 1507651200, "2017-10-10T16:00:00Z");
  gh_issues_free(v, n);
  gh_response_fini(&r);
  rt_actor_release(a);
  finish();
}

Test(client, pagination_stops_at_max_pages_and_says_where_to_resume)
{
  rt_actor_t *a = client_for("paginate-issues", NULL);
  gh_issue_query_t q = {.per_page = 3, .max_pages = 2};
  gh_op_t op;
  TST_OK(gh_op_list_issues(&op, "octokit-fixture-org/paginate-issues", &q));
  gh_response_t r;
  run_ok(a, &op, &r);
  cr_expect_eq(r.pages, 2);
  cr_expect(r.truncated, "never a silent truncation");
  cr_assert(r.next && strstr(r.next, "page=3"), "resume URL: %s",
            r.next ? r.next : "(none)");
  gh_issue_t *v = NULL;
  size_t n = 0;
  TST_OK(gh_issues_parse(r.body, r.len, &v, &n));
  cr_expect_eq(n, 6);
  gh_issues_free(v, n);
  /* resuming from the returned URL continues with page 3 */
  gh_request_t next = {.method = GH_GET, .path = r.next,
                       .flags = GH_REQ_PAGINATE};
  gh_response_t r2;
  ght_call(rt, a, &next, &r2);
  expect_ok(&r2);
  cr_expect_eq(r2.pages, 3, "pages 3, 4 and 5");
  TST_OK(gh_issues_parse(r2.body, r2.len, &v, &n));
  cr_expect_eq(n, 7);
  cr_expect_eq(v[0].number, 7);
  gh_issues_free(v, n);
  gh_response_fini(&r2);
  gh_response_fini(&r);
  rt_actor_release(a);
  finish();
}

Test(client, get_repository)
{
  rt_actor_t *a = client_for("get-repository", NULL);
  gh_request_t req = {.method = GH_GET,
                      .path = "/repos/octokit-fixture-org/hello-world"};
  gh_response_t r;
  ght_call(rt, a, &req, &r);
  expect_ok(&r);
  cr_expect_eq(r.status, 200);
  cr_expect_eq(r.attempts, 1);
  cr_expect_str_eq(r.etag, "\"00000000000000000000000000000000\"");
  json_t *j = json_loadb(r.body, r.len, 0, NULL);
  cr_expect_str_eq(json_string_value(json_object_get(j, "full_name")),
                   "octokit-fixture-org/hello-world");
  json_decref(j);
  gh_response_fini(&r);
  rt_actor_release(a);
  finish();
}

Test(client, create_issue_then_add_labels)
{
  rt_actor_t *a = client_for("add-labels-to-issue", NULL);
  const char *repo = "octokit-fixture-org/add-labels-to-issue";
  gh_op_t op;
  TST_OK(gh_op_create_issue(&op, repo, "Issue without a label", NULL, NULL,
                            0));
  gh_response_t r;
  run_ok(a, &op, &r);
  cr_expect_eq(r.status, 201);
  gh_issue_t is;
  TST_OK(gh_issue_parse(r.body, r.len, &is));
  cr_expect_eq(is.number, 1);
  cr_expect_eq(is.n_labels, 0);
  gh_issue_fini(&is);
  gh_response_fini(&r);

  const char *labels[] = {"Foo", "bAr", "baZ"};
  TST_OK(gh_op_add_labels(&op, repo, 1, labels, 3));
  run_ok(a, &op, &r);
  json_t *j = json_loadb(r.body, r.len, 0, NULL);
  cr_assert_eq(json_array_size(j), 3);
  cr_expect_str_eq(json_string_value(
                       json_object_get(json_array_get(j, 1), "name")),
                   "bAr");
  json_decref(j);
  gh_response_fini(&r);
  rt_actor_release(a);
  finish();
}

Test(client, validation_error_is_reported_not_retried)
{
  rt_actor_t *a = client_for("errors", NULL);
  gh_request_t req = {.method = GH_POST,
                      .path = "/repos/octokit-fixture-org/errors/labels",
                      .body = "{\"name\":\"foo\",\"color\":\"invalid\"}"};
  gh_response_t r;
  ght_call(rt, a, &req, &r);
  cr_expect_eq(r.rc, GH_EHTTP, "%s", gh_strerror(r.rc));
  cr_expect_eq(r.status, 422);
  cr_expect_eq(r.attempts, 1, "a 4xx is not retried");
  cr_assert(r.error && strstr(r.error, "Validation Failed"), "error: %s",
            r.error ? r.error : "(none)");
  cr_assert(r.body && strstr(r.body, "\"invalid\""), "body kept for callers");
  gh_response_fini(&r);
  rt_actor_release(a);
  finish();
}

Test(client, renamed_repository_redirects_are_followed)
{
  rt_actor_t *a = client_for("rename-repository", NULL);
  const char *path = "/repos/octokit-fixture-org/rename-repository";
  gh_request_t rename = {.method = GH_PATCH, .path = path,
                         .body = "{\"name\":\"rename-repository-newname\"}"};
  gh_response_t r;
  ght_call(rt, a, &rename, &r);
  expect_ok(&r);
  gh_response_fini(&r);

  gh_request_t get = {.method = GH_GET, .path = path};
  ght_call(rt, a, &get, &r);
  expect_ok(&r); /* 301 -> GET /repositories/1000 */
  cr_expect_eq(r.status, 200);
  cr_expect(strstr(r.body, "rename-repository-newname"));
  gh_response_fini(&r);

  gh_request_t edit = {.method = GH_PATCH, .path = path,
                       .body = "{\"name\":\"rename-repository-newname\","
                               "\"description\":\"test description\"}"};
  ght_call(rt, a, &edit, &r);
  expect_ok(&r); /* 307 -> PATCH /repositories/1000, same body */
  cr_expect_eq(r.status, 200);
  cr_expect_eq(r.attempts, 1, "the redirect is part of one attempt");
  gh_response_fini(&r);
  rt_actor_release(a);
  finish();
}

/* ---- our own recordings (tests/data/github/) ---- */

#define REPO "ccm-fixture-org/hello"

Test(client, comments_and_timeline)
{
  rt_actor_t *a = client_for("ccm-issue-comments", NULL);
  gh_op_t op;
  TST_OK(gh_op_issue_comments(&op, REPO, 1));
  gh_response_t r;
  run_ok(a, &op, &r);
  cr_expect_eq(r.pages, 2);
  gh_activity_t *v = NULL;
  size_t n = 0;
  TST_OK(gh_comments_parse(r.body, r.len, &v, &n));
  cr_assert_eq(n, 3);
  cr_expect_str_eq(v[0].actor, "alice");
  cr_expect(!v[0].actor_bot);
  cr_expect_str_eq(v[1].actor, "dependabot[bot]");
  cr_expect(v[1].actor_bot, "Bot accounts are recognised");
  cr_expect_str_eq(v[2].actor, "ccm-bot");
  cr_expect_eq(v[2].at, 1709460000, "2024-03-03T10:00:00Z");
  gh_activities_free(v, n);
  gh_response_fini(&r);

  TST_OK(gh_op_issue_timeline(&op, REPO, 1));
  run_ok(a, &op, &r);
  TST_OK(gh_timeline_parse(r.body, r.len, &v, &n));
  cr_assert_eq(n, 4);
  cr_expect_str_eq(v[0].kind, "labeled");
  cr_expect_str_eq(v[1].actor, "renovate[bot]");
  cr_expect(v[1].actor_bot);
  cr_expect_str_eq(v[2].kind, "cross-referenced");
  cr_expect_null(v[3].actor, "a commit has no account");
  cr_expect_eq(v[3].at, 1709715600, "committer date: 2024-03-06T09:00:00Z");
  gh_activities_free(v, n);
  gh_response_fini(&r);
  rt_actor_release(a);
  finish();
}

Test(client, comment_on_an_issue)
{
  rt_actor_t *a = client_for("ccm-comment", NULL);
  gh_op_t op;
  TST_OK(gh_op_comment(&op, REPO, 1, "ccm: working on it"));
  gh_response_t r;
  run_ok(a, &op, &r);
  cr_expect_eq(r.status, 201);
  cr_expect_eq(r.attempts, 1);
  gh_response_fini(&r);
  rt_actor_release(a);
  finish();
}

Test(client, close_an_issue)
{
  rt_actor_t *a = client_for("ccm-close-issue", NULL);
  gh_op_t op;
  TST_OK(gh_op_close_issue(&op, REPO, 3, "completed"));
  gh_response_t r;
  run_ok(a, &op, &r);
  gh_issue_t is;
  TST_OK(gh_issue_parse(r.body, r.len, &is));
  cr_expect_str_eq(is.state, "closed");
  cr_expect_eq(is.number, 3);
  gh_issue_fini(&is);
  gh_response_fini(&r);
  rt_actor_release(a);
  finish();
}

Test(client, create_a_pull_request_and_read_its_state)
{
  rt_actor_t *a = client_for("ccm-pulls", NULL);
  gh_op_t op;
  TST_OK(gh_op_create_pull(&op, REPO, "ccm: fix TODO", "ccm/abc123", "main",
                           "Automated change.", false));
  gh_response_t r;
  run_ok(a, &op, &r);
  cr_expect_eq(r.status, 201);
  gh_pull_t p;
  TST_OK(gh_pull_parse(r.body, r.len, &p));
  cr_expect_eq(p.number, 7);
  cr_expect_str_eq(p.state, "open");
  cr_expect(!p.merged);
  gh_pull_fini(&p);
  gh_response_fini(&r);

  TST_OK(gh_op_get_pull(&op, REPO, 7));
  run_ok(a, &op, &r);
  TST_OK(gh_pull_parse(r.body, r.len, &p));
  cr_expect_str_eq(p.state, "closed");
  cr_expect(p.merged, "closed and merged");
  cr_expect_str_eq(p.head_ref, "ccm/abc123");
  cr_expect_str_eq(p.base_ref, "main");
  gh_pull_fini(&p);
  gh_response_fini(&r);
  rt_actor_release(a);
  finish();
}

Test(client, not_modified_is_answered_from_the_cache_on_a_kept_connection)
{
  gh_cache_t *cache = NULL;
  TST_OK(gh_cache_memory_new(16, &cache));
  rt_actor_t *a = client_for("ccm-conditional", cache);
  gh_op_t op;
  TST_OK(gh_op_list_issues(&op, REPO, NULL));
  gh_response_t r1, r2;
  run_op(a, &op, &r1);
  expect_ok(&r1);
  cr_expect(!r1.from_cache);
  cr_expect_eq(r1.status, 200);
  run_op(a, &op, &r2); /* sent with If-None-Match, else no recording */
  expect_ok(&r2);
  cr_expect_eq(r2.status, 304);
  cr_expect(r2.from_cache);
  cr_assert_eq(r2.len, r1.len);
  cr_expect(memcmp(r1.body, r2.body, r1.len) == 0, "the cached body");
  cr_expect_eq(r1.connects + r2.connects, 1,
               "keep-alive: one connection for both requests (got %u+%u)",
               r1.connects, r2.connects);
  gh_response_fini(&r1);
  gh_response_fini(&r2);
  gh_op_fini(&op);
  rt_actor_release(a);
  tst_quiesce(rt);
  gh_cache_free(cache);
  finish();
}

Test(client, bad_credentials_are_gh_eauth_and_the_token_stays_secret)
{
  char *url = ght_scenario(&server, "ccm-unauthorized");
  gh_config_t c;
  ght_config(&c, url);
  setenv("CCM_TEST_WRONG_TOKEN", "ccm-wrong-token", 1);
  c.token_env = "CCM_TEST_WRONG_TOKEN";
  rt_actor_t *a = ght_client(rt, &c, NULL);
  gh_request_t req = {.method = GH_GET, .path = "/repos/" REPO};
  gh_response_t r;
  ght_call(rt, a, &req, &r);
  cr_expect_eq(r.rc, GH_EAUTH, "%s", gh_strerror(r.rc));
  cr_expect_eq(r.status, 401);
  cr_expect_eq(r.attempts, 1);
  cr_assert(r.error && strstr(r.error, "Bad credentials"));
  cr_expect(!strstr(r.error, "ccm-wrong-token"), "never the token");
  gh_response_fini(&r);
  rt_actor_release(a);
  free(url);
  finish();
}

Test(client, exhausted_rate_limit_holds_then_refuses_without_sending)
{
  char *url = ght_scenario(&server, "ccm-rate-limited");
  gh_config_t c;
  ght_config(&c, url);
  c.max_hold_s = 60; /* the recording resets in 2100 */
  rt_actor_t *a = ght_client(rt, &c, NULL);
  gh_op_t op;
  TST_OK(gh_op_list_issues(&op, REPO, NULL));
  gh_response_t r;
  run_op(a, &op, &r);
  cr_expect_eq(r.rc, GH_ERATELIMIT, "%s", gh_strerror(r.rc));
  cr_expect_eq(r.status, 403);
  cr_expect_eq(r.rl_remaining, 0);
  cr_expect_eq(r.rl_reset, 4102444800);
  cr_expect_eq(r.attempts, 1);
  gh_response_fini(&r);
  /* the core bucket is empty until 2100: the next request is not sent */
  gh_request_t req = {.method = GH_GET, .path = "/repos/" REPO};
  uint64_t t0 = ght_ms();
  ght_call(rt, a, &req, &r);
  cr_expect_eq(r.rc, GH_ERATELIMIT, "%s", gh_strerror(r.rc));
  cr_expect_eq(r.attempts, 0, "held locally, never sent");
  cr_expect_lt(ght_ms() - t0, 5000, "refused at once, not after waiting");
  gh_response_fini(&r);
  gh_op_fini(&op);
  rt_actor_release(a);
  free(url);
  finish();
}

Test(client, secondary_limit_waits_for_retry_after)
{
  rt_actor_t *a = client_for("ccm-secondary-limit", NULL);
  gh_request_t req = {.method = GH_GET, .path = "/repos/" REPO};
  gh_response_t r;
  uint64_t t0 = ght_ms();
  ght_call(rt, a, &req, &r);
  uint64_t took = ght_ms() - t0;
  expect_ok(&r);
  cr_expect_eq(r.attempts, 2);
  cr_expect_geq(took, 1000, "Retry-After: 1 honoured (took %llu ms)",
                (unsigned long long)took);
  gh_response_fini(&r);
  rt_actor_release(a);
  finish();
}

Test(client, server_error_is_retried)
{
  rt_actor_t *a = client_for("ccm-server-error", NULL);
  gh_request_t req = {.method = GH_GET, .path = "/repos/" REPO};
  gh_response_t r;
  ght_call(rt, a, &req, &r);
  expect_ok(&r);
  cr_expect_eq(r.attempts, 2, "502, then 200 after a backoff");
  gh_response_fini(&r);
  rt_actor_release(a);
  finish();
}
