/*
 * test_ops.c: operation builders and answer parsers (github/ops.c).
 *
 * Contract: each builder produces the method, path and compact JSON body
 * GitHub documents (byte for byte: the recordings compare them), escapes
 * query values, and refuses bad repositories (path injection), issue
 * number 0 and empty texts, leaving the op empty. Parsers read the
 * recorded issues of @octokit/fixtures, tolerate missing and null fields,
 * recognise bots and pull requests, and refuse what is not JSON of the
 * right shape.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "github/gh_ops.h"
#include "tests/github/gh_test.h"

TestSuite(ops, .timeout = 60);

#define REPO "octo-org/hello.world_x"

static void expect_op(const gh_op_t *op, gh_method_t m, const char *path,
                      const char *body)
{
  cr_assert_eq(op->req.method, m);
  cr_assert_str_eq(op->req.path, path);
  if (body)
    cr_assert_str_eq(op->req.body, body);
  else
    cr_assert_null(op->req.body);
}

Test(ops, repositories_are_checked)
{
  cr_assert(gh_repo_valid("octokit/rest.js"));
  cr_assert(gh_repo_valid(REPO));
  const char *bad[] = {NULL, "", "noslash", "/name", "owner/", "o/../x",
                       "o/..", "o/n/extra", "o/n?x=1", "o w/n", "o/n#f",
                       "own_er/n"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert(!gh_repo_valid(bad[i]), "'%s' must be refused",
              bad[i] ? bad[i] : "(null)");
  gh_op_t op;
  cr_assert_eq(gh_op_get_pull(&op, "o/../../admin", 1), GH_EINVAL);
  cr_assert_null(op.req.path, "nothing left behind");
  tst_check_leaks();
}

Test(ops, list_issues_paths)
{
  gh_op_t op;
  TST_OK(gh_op_list_issues(&op, REPO, NULL));
  expect_op(&op, GH_GET, "/repos/" REPO "/issues?per_page=100", NULL);
  cr_assert_eq(op.req.flags, GH_REQ_PAGINATE);
  gh_op_fini(&op);
  gh_issue_query_t q = {.per_page = 3, .labels = "good first issue,bug",
                        .since = "2024-01-01T00:00:00Z", .state = "all",
                        .max_pages = 7};
  TST_OK(gh_op_list_issues(&op, REPO, &q));
  expect_op(&op, GH_GET,
            "/repos/" REPO "/issues?per_page=3&state=all"
            "&labels=good%20first%20issue%2Cbug&since=2024-01-01T00%3A00%3A00Z",
            NULL);
  cr_assert_eq(op.req.max_pages, 7);
  gh_op_fini(&op);
  q = (gh_issue_query_t){.per_page = 500, .state = "open"};
  TST_OK(gh_op_list_issues(&op, REPO, &q));
  expect_op(&op, GH_GET, "/repos/" REPO "/issues?per_page=100", NULL);
  gh_op_fini(&op);
  tst_check_leaks();
}

Test(ops, issue_sub_lists)
{
  gh_op_t op;
  TST_OK(gh_op_issue_comments(&op, REPO, 42));
  expect_op(&op, GH_GET, "/repos/" REPO "/issues/42/comments?per_page=100",
            NULL);
  cr_assert_eq(op.req.flags, GH_REQ_PAGINATE);
  gh_op_fini(&op);
  TST_OK(gh_op_issue_timeline(&op, REPO, 42));
  expect_op(&op, GH_GET, "/repos/" REPO "/issues/42/timeline?per_page=100",
            NULL);
  gh_op_fini(&op);
  cr_assert_eq(gh_op_issue_comments(&op, REPO, 0), GH_EINVAL);
  tst_check_leaks();
}

Test(ops, write_bodies_are_compact_json)
{
  gh_op_t op;
  const char *labels[] = {"ccm:proposal", "todo"};
  TST_OK(gh_op_create_issue(&op, REPO, "Fix \"x\" \xc3\xa9", "Body\nline",
                            labels, 2));
  expect_op(&op, GH_POST, "/repos/" REPO "/issues",
            "{\"title\":\"Fix \\\"x\\\" \xc3\xa9\",\"body\":\"Body\\nline\","
            "\"labels\":[\"ccm:proposal\",\"todo\"]}");
  gh_op_fini(&op);
  TST_OK(gh_op_create_issue(&op, REPO, "Issue without a label", NULL, NULL,
                            0));
  expect_op(&op, GH_POST, "/repos/" REPO "/issues",
            "{\"title\":\"Issue without a label\"}");
  gh_op_fini(&op);
  TST_OK(gh_op_comment(&op, REPO, 5, "hi"));
  expect_op(&op, GH_POST, "/repos/" REPO "/issues/5/comments",
            "{\"body\":\"hi\"}");
  gh_op_fini(&op);
  TST_OK(gh_op_add_labels(&op, REPO, 5, labels, 2));
  expect_op(&op, GH_POST, "/repos/" REPO "/issues/5/labels",
            "{\"labels\":[\"ccm:proposal\",\"todo\"]}");
  gh_op_fini(&op);
  TST_OK(gh_op_close_issue(&op, REPO, 5, NULL));
  expect_op(&op, GH_PATCH, "/repos/" REPO "/issues/5",
            "{\"state\":\"closed\"}");
  gh_op_fini(&op);
  TST_OK(gh_op_close_issue(&op, REPO, 5, "not_planned"));
  expect_op(&op, GH_PATCH, "/repos/" REPO "/issues/5",
            "{\"state\":\"closed\",\"state_reason\":\"not_planned\"}");
  gh_op_fini(&op);
  TST_OK(gh_op_create_pull(&op, REPO, "t", "ccm/abc", "main", NULL, true));
  expect_op(&op, GH_POST, "/repos/" REPO "/pulls",
            "{\"title\":\"t\",\"head\":\"ccm/abc\",\"base\":\"main\","
            "\"draft\":true}");
  gh_op_fini(&op);
  TST_OK(gh_op_get_pull(&op, REPO, 9));
  expect_op(&op, GH_GET, "/repos/" REPO "/pulls/9", NULL);
  gh_op_fini(&op);
  tst_check_leaks();
}

Test(ops, builders_refuse_bad_input)
{
  gh_op_t op;
  cr_assert_eq(gh_op_create_issue(&op, REPO, "", NULL, NULL, 0), GH_EINVAL);
  cr_assert_eq(gh_op_create_issue(&op, REPO, NULL, NULL, NULL, 0), GH_EINVAL);
  const char *holes[] = {"a", NULL};
  cr_assert_eq(gh_op_create_issue(&op, REPO, "t", NULL, holes, 2), GH_EINVAL);
  cr_assert_eq(gh_op_comment(&op, REPO, 1, ""), GH_EINVAL);
  cr_assert_eq(gh_op_add_labels(&op, REPO, 1, holes, 0), GH_EINVAL);
  cr_assert_eq(gh_op_close_issue(&op, REPO, 0, NULL), GH_EINVAL);
  cr_assert_eq(gh_op_create_pull(&op, REPO, "t", "", "main", NULL, false),
               GH_EINVAL);
  cr_assert_eq(gh_op_create_pull(&op, "bad", "t", "h", "b", NULL, false),
               GH_EINVAL);
  cr_assert_null(op.req.path);
  cr_assert_null(op.req.body);
  tst_check_leaks();
}

Test(ops, parses_recorded_issues)
{
  json_t *fx = ght_json_file(GHT_OCTOKIT_SCENARIOS
                             "/paginate-issues/normalized-fixture.json");
  char *page = json_dumps(json_object_get(json_array_get(fx, 0), "response"),
                          JSON_COMPACT);
  gh_issue_t *v = NULL;
  size_t n = 0;
  TST_OK(gh_issues_parse(page, strlen(page), &v, &n));
  cr_assert_eq(n, 3);
  cr_assert_eq(v[0].number, 13);
  cr_assert_str_eq(v[0].title, "Test issue 13");
  cr_assert_str_eq(v[0].author, "octokit-fixture-user-a");
  cr_assert(!v[0].author_bot);
  cr_assert_str_eq(v[0].author_association, "MEMBER");
  cr_assert_eq(v[0].comments, 42);
  cr_assert_eq(v[0].created_at, 1507651200);
  cr_assert_eq(v[0].closed_at, 0, "null closed_at");
  cr_assert(!v[0].is_pull_request);
  cr_assert_eq(v[0].n_labels, 0);
  gh_issues_free(v, n);
  free(page);
  json_decref(fx);
  tst_check_leaks();
}

Test(ops, parsers_tolerate_missing_fields)
{
  const char *j = "[{\"number\":4,\"user\":null,\"labels\":[\"plain\","
                  "{\"name\":\"named\"},{\"id\":3}],\"pull_request\":{},"
                  "\"assignees\":[{\"login\":\"ann\"}]},"
                  "17, {}, {\"user\":{\"login\":\"app[bot]\"}}]";
  gh_issue_t *v = NULL;
  size_t n = 0;
  TST_OK(gh_issues_parse(j, strlen(j), &v, &n));
  cr_assert_eq(n, 3, "the non-object item is skipped");
  cr_assert_eq(v[0].number, 4);
  cr_assert_null(v[0].author);
  cr_assert_null(v[0].title);
  cr_assert_eq(v[0].n_labels, 2);
  cr_assert_str_eq(v[0].labels[0], "plain");
  cr_assert_str_eq(v[0].labels[1], "named");
  cr_assert_str_eq(v[0].assignees[0], "ann");
  cr_assert(v[0].is_pull_request, "pull requests are flagged");
  cr_assert_eq(v[1].number, 0);
  cr_assert(v[2].author_bot, "a [bot] login without a type");
  gh_issues_free(v, n);

  gh_pull_t p;
  const char *pj = "{\"merged_at\":\"2024-01-01T00:00:00Z\"}";
  TST_OK(gh_pull_parse(pj, strlen(pj), &p));
  cr_assert(p.merged, "merged_at implies merged");
  cr_assert_null(p.state);
  gh_pull_fini(&p);
  tst_check_leaks();
}

Test(ops, parsers_refuse_wrong_shapes)
{
  gh_issue_t *v = NULL;
  size_t n = 9;
  cr_assert_eq(gh_issues_parse("{\"message\":\"x\"}", 15, &v, &n),
               GH_EMALFORMED);
  cr_assert_eq(n, 0);
  cr_assert_eq(gh_issues_parse("[1,", 3, &v, &n), GH_EMALFORMED);
  cr_assert_eq(gh_issues_parse(NULL, 0, &v, &n), GH_EMALFORMED);
  gh_issue_t one;
  cr_assert_eq(gh_issue_parse("[]", 2, &one), GH_EMALFORMED);
  gh_pull_t p;
  cr_assert_eq(gh_pull_parse("nope", 4, &p), GH_EMALFORMED);
  gh_activity_t *a = NULL;
  cr_assert_eq(gh_comments_parse("{}", 2, &a, &n), GH_EMALFORMED);
  cr_assert_eq(gh_timeline_parse("\"x\"", 3, &a, &n), GH_EMALFORMED);
  tst_check_leaks();
}

Test(ops, times)
{
  cr_assert_eq(gh_time_parse("1970-01-01T00:00:00Z"), 0);
  cr_assert_eq(gh_time_parse("2017-10-10T16:00:00Z"), 1507651200);
  cr_assert_eq(gh_time_parse("2017-10-10T16:00:00.123Z"), 1507651200);
  cr_assert_eq(gh_time_parse("2017-10-10T18:00:00+02:00"), 1507651200);
  cr_assert_eq(gh_time_parse("2017-10-10T12:00:00-04:00"), 1507651200);
  cr_assert_eq(gh_time_parse("yesterday"), 0);
  cr_assert_eq(gh_time_parse(NULL), 0);
  tst_check_leaks();
}
