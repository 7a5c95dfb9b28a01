/*
 * test_publish.c: what the executor does on GitHub (actors/executor/,
 * issue #6), end to end with the fixture of exec_fx.h, a real local bare
 * repository as the git remote, the GitHub client actor (github/gh.h)
 * talking to fake_github.py on 127.0.0.1, and fake_agent.py as the agent.
 *
 *  - publishing (per repository, off by default): a run that passed the
 *    gate goes to review with its branch pushed to the remote and a pull
 *    request opened against the base branch (title, body with the diff
 *    stat, "Closes #N", the task marker; the token sent); the task carries
 *    pr_url and branch; a repository without `publish` pushes nothing;
 *    a push that fails or a pull request GitHub refuses leaves the task in
 *    review with the reason, and no pr_url;
 *  - the github-mention preset comments on the task's issue, addressed to
 *    the mention, and the task waits in review saying for whom and where;
 *    no worktree, no agent; a task without an issue fails with a reason;
 *    a repository known only by its GitHub name works; the GitHub client
 *    is found by its registered name, as in ccm serve; a dry run records
 *    the comment it would post and posts nothing;
 *  - the claude-flow preset is judged by its exit status, and its
 *    stream-json lines, when it prints some, are read as events;
 *  - the texts of publish.h (titles, bodies, the comment parser).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "actors/executor/agent.h"
#include "actors/executor/publish.h"
#include "github/gh.h"
#include "tests/executor/exec_fx.h"
#include "tests/executor/exec_test.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"

TestSuite(publish, .timeout = 240);

#define TOKEN_ENV "CCM_EXEC_TEST_GH_TOKEN"
#define TOKEN "gh-test-token-0001"
#define WEB "https://github.example/ccm-test/hello"

typedef struct gfx {
  fx_t f;
  ght_server_t gh_server;
  rt_actor_t *gh;
  char log[4096], bare[4096];
} gfx_t;

/* The executor fixture plus the GitHub stand-in, a client actor on it, and
 * a bare repository registered as the working copy's "origin". The client
 * is given to the executor (cfg.github), or, @p by_name, only registered
 * as "github" for the executor to look up (cfg.github_name), as ccm serve
 * does. */
static void gfx_init(gfx_t *g, bool by_name)
{
  memset(g, 0, sizeof *g);
  fx_init(&g->f);
  snprintf(g->log, sizeof g->log, "%s/github.jsonl", g->f.data);
  snprintf(g->bare, sizeof g->bare, "%s/remote.git", g->f.data);
  ext_sh("git init -q --bare '%s' && git -C '%s' remote add origin '%s'",
         g->bare, g->f.repo, g->bare);
  ext_fake_github_start(&g->gh_server, g->log);
  setenv(TOKEN_ENV, TOKEN, 1);
  gh_config_t c;
  gh_config_defaults(&c);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", g->gh_server.port);
  c.api_url = url;
  c.token_env = TOKEN_ENV;
  c.max_retries = 0;
  TST_OK(gh_client_spawn(g->f.rt, &c, NULL, by_name ? "github" : NULL,
                         &g->gh));
  if (by_name)
    g->f.cfg.github_name = "github";
  else
    g->f.cfg.github = g->gh;
}

static void gfx_fini(gfx_t *g)
{
  tst_quiesce(g->f.rt);
  rt_actor_release(g->gh);
  fx_fini(&g->f);
  ght_server_stop(&g->gh_server);
}

/* The logged request to @p path whose JSON body has @p key == @p value
 * (any body when key is NULL); a new reference, or NULL. */
static json_t *logged(gfx_t *g, const char *path, const char *key,
                      const char *value)
{
  char *text = ext_read_file(g->log);
  json_t *found = NULL;
  for (char *line = text ? strtok(text, "\n") : NULL; line && !found;
       line = strtok(NULL, "\n")) {
    json_t *e = json_loads(line, 0, NULL);
    cr_assert_not_null(e, "a log line that is not JSON: %s", line);
    const char *p = json_string_value(json_object_get(e, "path"));
    const char *v = key ? json_string_value(json_object_get(
                              json_object_get(e, "body"), key))
                        : NULL;
    if (p && !strcmp(p, path) && (!key || (v && !strcmp(v, value))))
      found = json_incref(e);
    json_decref(e);
  }
  free(text);
  return found;
}

static const char *jstr(const json_t *o, const char *key)
{
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

static bool on_remote(gfx_t *g, const char *branch)
{
  char *out = ext_sh_out("git --git-dir='%s' branch --list '%s'", g->bare,
                         branch);
  bool yes = out[0] != '\0';
  free(out);
  return yes;
}

static void expect_no_pr_url(fx_t *f, const char *id)
{
  proto_task_t t;
  fx_state(f, id, &t);
  cr_assert_null(t.pr_url, "%s: pr_url %s", id, t.pr_url);
  store_task_free(&t);
}

Test(publish, published_run_pushes_the_branch_and_opens_a_pull_request)
{
  gfx_t g;
  gfx_init(&g, false);
  fx_t *f = &g.f;
  f->repos[0] = (exec_repo_t){.id = "r1", .path = f->repo,
                              .github = "ccm-test/hello", .publish = true};
  f->cfg.nrepos = 1;
  fx_start(f);
  outcome_t o;
  fx_add_issue_task(f, "t-pub", "r1", 7, "--transcript success --edit "
                    "'src/main.c=int main(int argc, char **argv) { return 0; "
                    "}\\n'");
  fx_run(f, "t-pub");
  fx_await(f, "t-pub", &o);

  cr_assert_str_eq(fx_ev_str(&o, "class"), "success", "%s",
                   fx_ev_str(&o, "reason"));
  cr_assert_str_eq(fx_ev_str(&o, "state"), "review");
  json_t *pub = json_object_get(o.ev, "publish");
  cr_assert(json_is_true(json_object_get(pub, "pushed")), "%s",
            jstr(pub, "error"));
  cr_assert_str_eq(jstr(pub, "remote"), "origin");
  cr_assert_str_eq(jstr(pub, "base"), "main");
  cr_assert_str_eq(jstr(pub, "pr_url"), WEB "/pull/42");
  cr_assert_eq(json_integer_value(json_object_get(pub, "pr_number")), 42);
  cr_assert_str_eq(fx_ev_str(&o, "pr_url"), WEB "/pull/42");

  /* the task carries what the webhooks match on */
  proto_task_t t;
  cr_assert_eq(fx_state(f, "t-pub", &t), PROTO_STATE_REVIEW);
  cr_assert_str_eq(t.pr_url ? t.pr_url : "", WEB "/pull/42");
  cr_assert_str_eq(t.branch, "ccm/t-pub");
  cr_assert_eq(t.issue_number, 7, "the rest of the record is kept");
  store_task_free(&t);
  char *reason = fx_last_reason(f, "t-pub");
  cr_assert(strstr(reason, "pushed ccm/t-pub to origin") &&
            strstr(reason, "pull request " WEB "/pull/42"), "%s", reason);
  free(reason);

  /* the remote has the branch, at the commit with the change */
  char *remote = ext_sh_out("git --git-dir='%s' rev-parse ccm/t-pub", g.bare);
  char *local = ext_sh_out("git -C '%s' rev-parse ccm/t-pub", f->repo);
  cr_assert_str_eq(remote, local);
  cr_assert_str_eq(remote, fx_ev_str(&o, "head"));
  free(remote);
  free(local);

  /* the pull request GitHub was asked for */
  json_t *req = logged(&g, "/repos/ccm-test/hello/pulls", "head", "ccm/t-pub");
  cr_assert_not_null(req, "no pull request was asked for");
  cr_assert_str_eq(jstr(req, "method"), "POST");
  cr_assert_str_eq(jstr(req, "authorization"), "token " TOKEN);
  json_t *body = json_object_get(req, "body");
  cr_assert_str_eq(jstr(body, "base"), "main");
  cr_assert_str_eq(jstr(body, "title"), "ccm: Handle the todo in t-pub");
  const char *text = jstr(body, "body");
  cr_assert(strstr(text, "Closes #7."), "%s", text);
  cr_assert(strstr(text, "| `src/main.c` | 1 | 1 |"), "%s", text);
  cr_assert(strstr(text, "<!-- ccm:task=t-pub -->"), "%s", text);
  cr_assert_not(json_is_true(json_object_get(body, "draft")), "not a draft");
  json_decref(req);
  json_decref(o.ev);
  gfx_fini(&g);
}

Test(publish, off_by_default_and_failures_keep_the_change_in_review)
{
  gfx_t g;
  gfx_init(&g, false);
  fx_t *f = &g.f;
  /* one working copy, three configurations of it */
  f->repos[0] = (exec_repo_t){.id = "r1", .path = f->repo,
                              .github = "ccm-test/hello"};
  f->repos[1] = (exec_repo_t){.id = "r-bad", .path = f->repo,
                              .github = "ccm-test/hello", .publish = true,
                              .remote = "nowhere"};
  f->repos[2] = (exec_repo_t){.id = "r-pub", .path = f->repo,
                              .github = "ccm-test/hello", .publish = true};
  f->cfg.nrepos = 3;
  f->cfg.concurrency = 3;
  fx_start(f);
  const char *edit = "--transcript success --edit notes.txt=done";
  fx_add_issue_task(f, "t-off", "r1", 0, edit);
  fx_add_issue_task(f, "t-bad", "r-bad", 0, edit);
  fx_add_issue_task(f, "t-pr-dup", "r-pub", 0, edit); /* GitHub says 422 */
  fx_run(f, "t-off");
  fx_run(f, "t-bad");
  fx_run(f, "t-pr-dup");
  outcome_t off, bad, dup;
  fx_await(f, "t-off", &off);
  fx_await(f, "t-bad", &bad);
  fx_await(f, "t-pr-dup", &dup);

  /* not configured: nothing leaves the machine */
  cr_assert_str_eq(fx_ev_str(&off, "state"), "review");
  cr_assert_null(json_object_get(off.ev, "publish"));
  cr_assert_not(on_remote(&g, "ccm/t-off"));
  cr_assert(fx_branch_exists(f, "ccm/t-off"), "the change stays local");
  expect_no_pr_url(f, "t-off");

  /* a push that fails */
  json_t *pub = json_object_get(bad.ev, "publish");
  cr_assert_str_eq(fx_ev_str(&bad, "state"), "review");
  cr_assert(json_is_false(json_object_get(pub, "pushed")));
  cr_assert(strstr(jstr(pub, "error"), "git push nowhere ccm/t-bad failed"),
            "%s", jstr(pub, "error"));
  char *reason = fx_last_reason(f, "t-bad");
  cr_assert(strstr(reason, "not published: git push nowhere"), "%s", reason);
  free(reason);
  expect_no_pr_url(f, "t-bad");
  cr_assert(fx_branch_exists(f, "ccm/t-bad"));

  /* pushed, but GitHub refused the pull request */
  pub = json_object_get(dup.ev, "publish");
  cr_assert_str_eq(fx_ev_str(&dup, "state"), "review");
  cr_assert(json_is_true(json_object_get(pub, "pushed")));
  cr_assert(on_remote(&g, "ccm/t-pr-dup"));
  cr_assert(strstr(jstr(pub, "error"), "the pull request was not opened"),
            "%s", jstr(pub, "error"));
  cr_assert(strstr(jstr(pub, "error"), "Validation Failed"), "%s",
            jstr(pub, "error"));
  expect_no_pr_url(f, "t-pr-dup");

  /* exactly one pull request was asked for, none for the others */
  json_t *req = logged(&g, "/repos/ccm-test/hello/pulls", NULL, NULL);
  cr_assert_not_null(req);
  cr_assert_str_eq(jstr(json_object_get(req, "body"), "head"),
                   "ccm/t-pr-dup");
  json_decref(req);
  cr_assert_null(logged(&g, "/repos/ccm-test/hello/pulls", "head",
                        "ccm/t-off"));
  cr_assert_null(logged(&g, "/repos/ccm-test/hello/pulls", "head",
                        "ccm/t-bad"));
  json_decref(off.ev);
  json_decref(bad.ev);
  json_decref(dup.ev);
  gfx_fini(&g);
}

/* The github-mention preset (mention NULL: the default) on repository r1
 * of ccm-test/hello, the client found by its name. */
static fx_t *mention_init(gfx_t *g, const char *mention)
{
  gfx_init(g, true);
  fx_t *f = &g->f;
  f->preset = (exec_preset_t){.name = "github-mention",
                              .kind = EXEC_AGENT_GITHUB_MENTION,
                              .mention = mention};
  f->repos[0] = (exec_repo_t){.id = "r1", .path = f->repo,
                              .github = "ccm-test/hello"};
  return f;
}

Test(publish, github_mention_comments_on_the_issue_and_waits)
{
  gfx_t g;
  fx_t *f = mention_init(&g, "@claude");
  f->repos[1] = (exec_repo_t){.id = "gh-only", .github = "ccm-test/other"};
  f->cfg.nrepos = 2;
  fx_start(f);
  fx_add_issue_task(f, "t-mention", "r1", 12, "--pidfile /dev/null");
  fx_add_issue_task(f, "t-noissue", "r1", 0, "");
  fx_add_issue_task(f, "t-remote", "gh-only", 3, "");
  fx_run(f, "t-mention");
  fx_run(f, "t-noissue");
  fx_run(f, "t-remote");
  outcome_t o, none, remote;
  fx_await(f, "t-mention", &o);
  fx_await(f, "t-noissue", &none);
  fx_await(f, "t-remote", &remote);

  cr_assert_str_eq(fx_ev_str(&o, "class"), "delegated", "%s",
                   fx_ev_str(&o, "reason"));
  cr_assert_str_eq(fx_ev_str(&o, "state"), "review");
  cr_assert_eq(o.lines, 0, "no agent ran here");
  json_t *comment = json_object_get(o.ev, "comment");
  cr_assert_str_eq(jstr(comment, "url"), WEB "/issues/12#issuecomment-9001");
  cr_assert_eq(json_integer_value(json_object_get(comment, "id")), 9001);
  proto_task_t t;
  cr_assert_eq(fx_state(f, "t-mention", &t), PROTO_STATE_REVIEW);
  cr_assert_str_eq(t.branch, "ccm/t-mention");
  store_task_free(&t);
  char *reason = fx_last_reason(f, "t-mention");
  cr_assert(strstr(reason, "waiting for @claude: delegated on "
                           "ccm-test/hello#12 (" WEB
                           "/issues/12#issuecomment-9001)"), "%s", reason);
  free(reason);
  struct stat st;
  cr_assert_neq(stat(fx_path(f, "worktrees/t-mention"), &st), 0);
  cr_assert_not(fx_branch_exists(f, "ccm/t-mention"));

  json_t *req = logged(&g, "/repos/ccm-test/hello/issues/12/comments", NULL,
                       NULL);
  cr_assert_not_null(req, "no comment was posted");
  cr_assert_str_eq(jstr(req, "authorization"), "token " TOKEN);
  const char *body = jstr(json_object_get(req, "body"), "body");
  cr_assert_eq(strncmp(body, "@claude ", 8), 0, "%s", body);
  cr_assert(strstr(body, "make main take its arguments") &&
            strstr(body, "`ccm/t-mention`") && strstr(body, "Closes #12"),
            "%s", body);
  json_decref(req);

  cr_assert_str_eq(fx_ev_str(&none, "state"), "failed");
  cr_assert(strstr(fx_ev_str(&none, "reason"), "has no issue number"), "%s",
            fx_ev_str(&none, "reason"));
  cr_assert(json_is_false(json_object_get(none.ev, "transient")),
            "never retried: a retry could comment twice");

  cr_assert_str_eq(fx_ev_str(&remote, "class"), "delegated", "%s",
                   fx_ev_str(&remote, "reason"));
  req = logged(&g, "/repos/ccm-test/other/issues/3/comments", NULL, NULL);
  cr_assert_not_null(req, "a repository known only by its GitHub name");
  json_decref(req);
  json_decref(o.ev);
  json_decref(none.ev);
  json_decref(remote.ev);
  gfx_fini(&g);
}

Test(publish, github_mention_dry_run_records_the_comment_only)
{
  gfx_t g;
  fx_t *f = mention_init(&g, NULL);
  f->cfg.dry_run = true;
  fx_start(f);
  fx_add_issue_task(f, "t-dry-mention", "r1", 4, "");
  fx_run(f, "t-dry-mention");
  outcome_t o;
  fx_await(f, "t-dry-mention", &o);
  cr_assert_str_eq(fx_ev_str(&o, "class"), "dry_run");
  cr_assert_str_eq(fx_ev_str(&o, "state"), "ready");
  char *reason = fx_last_reason(f, "t-dry-mention");
  cr_assert(strstr(reason, "dry run: would comment on ccm-test/hello#4: "
                           "@claude "), "the default mention: %s", reason);
  free(reason);
  cr_assert_null(logged(&g, "/repos/ccm-test/hello/issues/4/comments", NULL,
                        NULL), "nothing was posted");
  json_decref(o.ev);
  gfx_fini(&g);
}

Test(publish, claude_flow_judged_by_exit_status_with_optional_events)
{
  fx_t f;
  fx_init(&f);
  const char *cmd[] = {"python3", EXT_FAKE_AGENT, "--prompt-from",
                       "{prompt_file}", NULL};
  memcpy(f.cmd, cmd, sizeof cmd);
  f.preset = (exec_preset_t){.name = "claude-flow",
                             .kind = EXEC_AGENT_CLAUDE_FLOW,
                             .command = f.cmd};
  f.cfg.concurrency = 3;
  fx_start(&f);
  fx_add_task(&f, "t-flow-ok", "--edit notes.txt=done --stderr 'swarm done'");
  fx_add_task(&f, "t-flow-fail", "--exit 3 --stderr 'swarm failed'");
  fx_add_task(&f, "t-flow-events", "--transcript success --edit x.txt=y");
  fx_run(&f, "t-flow-ok");
  fx_run(&f, "t-flow-fail");
  fx_run(&f, "t-flow-events");
  outcome_t ok, fail, ev;
  fx_await(&f, "t-flow-ok", &ok);
  fx_await(&f, "t-flow-fail", &fail);
  fx_await(&f, "t-flow-events", &ev);

  cr_assert_str_eq(fx_ev_str(&ok, "class"), "success", "%s",
                   fx_ev_str(&ok, "reason"));
  cr_assert_str_eq(fx_ev_str(&ok, "state"), "review");
  json_t *cmdv = json_object_get(ok.ev, "command");
  cr_assert_eq(json_array_size(cmdv), 4, "no Claude Code flags added");
  cr_assert(strstr(json_string_value(json_array_get(cmdv, 3)),
                   "runs/t-flow-ok/1.prompt.md"));
  cr_assert_eq(json_integer_value(json_object_get(
                   json_object_get(ok.ev, "output"), "events")), 0);

  cr_assert_str_eq(fx_ev_str(&fail, "class"), "error");
  cr_assert_str_eq(fx_ev_str(&fail, "state"), "failed");
  cr_assert_eq(json_integer_value(json_object_get(fail.ev, "exit_code")), 3);

  cr_assert_str_eq(fx_ev_str(&ev, "class"), "success");
  cr_assert_eq(json_integer_value(json_object_get(
                   json_object_get(ev.ev, "output"), "events")), 8,
               "its JSON lines are read as events");
  cr_assert_float_eq(json_number_value(json_object_get(ev.ev, "cost_usd")),
                     0.0421, 1e-9);
  json_decref(ok.ev);
  json_decref(fail.ev);
  json_decref(ev.ev);
  fx_fini(&f);
}

/* ------------------------------------------------------ publish.h texts */

TestSuite(publish_text, .timeout = 30);

static proto_task_t text_task(void)
{
  return (proto_task_t){.id = "abc123", .kind = "fixme",
                        .text = "FIXME: leaks the buffer\nsecond line",
                        .loc = {.path = "src/io.c", .line = 42},
                        .issue_number = 5};
}

Test(publish_text, titles_name_the_task_on_one_line)
{
  proto_task_t t = text_task();
  char *title = exec_pr_title(&t);
  cr_assert_str_eq(title, "ccm: fixme in src/io.c:42");
  free(title);
  t.title = "Free the buffer\nin io.c";
  title = exec_pr_title(&t);
  cr_assert_str_eq(title, "ccm: Free the buffer");
  free(title);
}

Test(publish_text, pull_request_body_links_the_issue_and_lists_changes)
{
  proto_task_t t = text_task();
  json_t *o = json_pack(
      "{ss sI ss sf sI sI sI s[{ss sI sI}]}", "preset", "claude-code",
      "attempt", (json_int_t)2, "reason", "success: done", "cost_usd", 0.5,
      "files_changed", (json_int_t)1, "lines_added", (json_int_t)3,
      "lines_deleted", (json_int_t)1, "files", "path", "src/io.c", "added",
      (json_int_t)3, "deleted", (json_int_t)1);
  char *body = exec_pr_body(&t, o);
  cr_assert(strstr(body, "task `abc123` (fixme, `src/io.c:42`)"), "%s", body);
  cr_assert(strstr(body, "> FIXME: leaks the buffer\n"), "first line only");
  cr_assert(strstr(body, "Closes #5."), "%s", body);
  cr_assert(strstr(body, "claude-code, attempt 2, success: done ($0.5000)"),
            "%s", body);
  cr_assert(strstr(body, "1 files, +3 -1"), "%s", body);
  cr_assert(strstr(body, "| `src/io.c` | 3 | 1 |"), "%s", body);
  cr_assert(strstr(body, "<!-- ccm:task=abc123 -->"), "%s", body);
  free(body);
  t.issue_number = 0;
  body = exec_pr_body(&t, o);
  cr_assert_null(strstr(body, "Closes"), "no issue, no link");
  free(body);
  json_decref(o);
}

Test(publish_text, mention_body_and_comment_answers)
{
  proto_task_t t = text_task();
  char *body = exec_mention_body("@claude", "Fix the leak.", &t, "ccm/abc123");
  cr_assert_eq(strncmp(body, "@claude Fix the leak.\n", 22), 0, "%s", body);
  cr_assert(strstr(body, "branch `ccm/abc123`") &&
            strstr(body, "\"Closes #5\""), "%s", body);
  free(body);
  char url[64];
  int64_t id;
  const char *ans = "{\"id\": 77, \"html_url\": \"https://x/1#c77\"}";
  cr_assert_eq(exec_comment_parse(ans, strlen(ans), url, sizeof url, &id), 0);
  cr_assert_str_eq(url, "https://x/1#c77");
  cr_assert_eq(id, 77);
  cr_assert_eq(exec_comment_parse("[1]", 3, url, sizeof url, &id), -1);
  cr_assert_eq(exec_comment_parse("{}", 2, url, sizeof url, &id), 0);
  cr_assert_str_eq(url, "");
}

Test(publish_text, claude_flow_default_command_names_the_prompt_file)
{
  exec_preset_t p = {.name = "claude-flow", .kind = EXEC_AGENT_CLAUDE_FLOW};
  exec_budget_t b = {.max_turns = 30};
  proto_task_t t = text_task();
  exec_vars_t v = {.prompt_file = "/d/runs/abc123/1.prompt.md",
                   .session_id = "s"};
  char **argv = exec_argv_build(&p, &b, &t, &v);
  cr_assert_not_null(argv);
  cr_assert_str_eq(argv[0], "npx");
  cr_assert_str_eq(argv[2], "claude-flow@alpha");
  bool named = false, claude_flags = false;
  for (size_t i = 0; argv[i]; i++) {
    named |= strstr(argv[i], "/d/runs/abc123/1.prompt.md") != NULL;
    claude_flags |= !strcmp(argv[i], "--session-id") ||
                    !strcmp(argv[i], "--max-turns");
  }
  cr_assert(named && !claude_flags);
  exec_argv_free(argv);
}
