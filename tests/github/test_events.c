/*
 * test_events.c: webhook events into rescans and task updates
 * (actors/github/events.c), with payloads of npm @octokit/webhooks-examples
 * verified and parsed by gh_webhook as the control plane does, a real
 * store and store actor, and forwarders registered as "scanner" and
 * "executor".
 *
 * Contract (issue #5, events.h): the delivery id is persisted; push ->
 * one scan request (not for a deleted branch or an agent's ccm/ branch);
 * the approval label (names configurable) -> linked tasks ready and the
 * executor asked to run them, a running task untouched, removing it ->
 * triaged; opened -> the issue's own task (discovery's id), edited -> new
 * title, closed -> resolved (a proposal not started: skipped), reopened ->
 * back; a human comment -> a "github" event naming the linked tasks, a
 * bot's nothing; a pull request closed merged -> done, unmerged ->
 * rejected (found by branch ccm/<id> or by pr_url), a task not in review
 * left as is; a redelivery (duplicate) is not processed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/github/discovery.h"
#include "actors/github/events.h"
#include "github/gh_webhook.h"
#include "store/store_actor.h"
#include "tests/github/gh_test.h"
#include "tests/support/store_test.h"

TestSuite(events, .timeout = 120);

#define SECRET "events-test"

static char *dir;
static store_t *store;
static rt_runtime_t *rt;
static rt_actor_t *writer, *handler, *scanner, *executor;
static rt_port_t *handled, *scans, *runs;
static gh_webhook_t *hook;
static json_t *examples;
static ghev_config_t cfg;
static const ghev_repo_t repos[] = {
    {.id = "hello", .github = "Codertocat/Hello-World"},
    {.id = "second", .github = "Codertocat/Second"},
};
static const ghev_repo_t *const hello = &repos[0];

/* ---- a forwarder registered under a name: what it gets goes to a port */

static void fwd_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  (void)ctx;
  rt_port_t *to = *(rt_port_t **)state;
  size_t len = 0;
  const void *d = rt_msg_data(msg, &len);
  rt_msg_t *copy = NULL;
  if (rt_msg_new(rt_msg_type(msg), d, len, &copy) == 0)
    rt_send(rt_port_actor(to), &copy);
}

static int fwd_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  (void)ctx;
  *(const void **)state = arg;
  return 0;
}

static const rt_actor_type_t fwd_type = {.name = "fwd",
                                         .state_size = sizeof(void *),
                                         .on_start = fwd_start,
                                         .on_msg = fwd_msg};

static rt_actor_t *forwarder(const char *name, rt_port_t *to)
{
  rt_spawn_opts_t o = {.name = name};
  rt_actor_t *a = NULL;
  TST_OK(rt_actor_spawn(rt, &fwd_type, to, &o, &a));
  return a;
}

/* ---- set-up ---- */

static void start(const char *const *approve, size_t n_approve)
{
  dir = tst_tmpdir();
  store_options_t opt = {.no_sync = true};
  store = tst_store_open(dir, &opt);
  rt = tst_runtime(2);
  TST_OK(store_actor_spawn(rt, store, "store", &writer));
  handled = tst_port(rt, 0);
  scans = tst_port(rt, 0);
  runs = tst_port(rt, 0);
  scanner = forwarder("scanner", scans);
  executor = forwarder("executor", runs);
  cfg = (ghev_config_t){.store = store, .store_actor = writer,
                        .repos = repos, .n_repos = 2,
                        .approve_labels = approve, .n_approve = n_approve,
                        .self_login = "ccm-bot",
                        .observer = rt_port_actor(handled)};
  TST_OK(ghev_spawn(rt, &cfg, &handler));
  gh_webhook_config_t wc;
  gh_webhook_config_defaults(&wc);
  wc.secret = SECRET;
  cr_assert_eq(gh_webhook_new(&wc, &hook), 0);
  if (!examples)
    examples = ght_json_file(GHT_WEBHOOK_EXAMPLES);
}

static void stop(void)
{
  rt_actor_release(handler);
  rt_actor_release(scanner);
  rt_actor_release(executor);
  rt_actor_release(writer);
  tst_quiesce(rt);
  rt_port_free(handled);
  rt_port_free(scans);
  rt_port_free(runs);
  tst_runtime_free(rt);
  store_close(store);
  gh_webhook_free(hook);
  tst_rmrf(dir);
  free(dir);
  json_decref(examples);
  examples = NULL;
}

/* A copy of the first example of @p name whose action is @p action (NULL:
 * the first). */
static json_t *example(const char *name, const char *action)
{
  for (size_t i = 0; i < json_array_size(examples); i++) {
    json_t *ev = json_array_get(examples, i);
    if (strcmp(json_string_value(json_object_get(ev, "name")), name) != 0)
      continue;
    json_t *ex = json_object_get(ev, "examples");
    for (size_t k = 0; k < json_array_size(ex); k++) {
      const char *a =
          json_string_value(json_object_get(json_array_get(ex, k), "action"));
      if (!action || (a && strcmp(a, action) == 0))
        return json_deep_copy(json_array_get(ex, k));
    }
  }
  cr_assert_fail("no %s example with action %s", name, action);
  return NULL;
}

static void set_str(json_t *o, const char *path1, const char *key,
                    const char *v)
{
  json_t *at = path1 ? json_object_get(o, path1) : o;
  json_object_set_new(at, key, json_string(v));
}

/* Verify, parse and hand @p payload (consumed) to the handler, as the
 * control plane does; returns what the handler reported. */
static ghev_handled_t deliver(const char *event, const char *id,
                             json_t *payload)
{
  char *body = json_dumps(payload, JSON_COMPACT);
  json_decref(payload);
  char sig[72];
  gh_webhook_sign(SECRET, body, strlen(body), sig);
  gh_webhook_delivery_t d = {.event = event, .delivery = id,
                             .signature = sig, .body = body,
                             .len = strlen(body)};
  gh_event_t ev;
  cr_assert_eq(gh_webhook_handle(hook, &d, &ev), 202);
  free(body);
  rt_msg_t *m = NULL;
  TST_OK(gh_event_msg(&ev, &m));
  gh_event_fini(&ev);
  TST_OK(rt_send(handler, &m));
  m = tst_recv_type(handled, GHEV_MSG_HANDLED);
  ghev_handled_t h;
  size_t len = 0;
  memcpy(&h, rt_msg_data(m, &len), sizeof h);
  rt_msg_free(m);
  cr_assert_str_eq(h.delivery, id);
  return h;
}

static void put_task_of(const char *id, const char *repo, const char *kind,
                        proto_state_t st, uint32_t issue, const char *pr_url)
{
  proto_msg_t m;
  tst_task_msg(&m, id, repo, kind, st, 1.0);
  m.u.task.issue_number = issue;
  if (pr_url)
    m.u.task.pr_url = strdup(pr_url);
  store_ack_t ack;
  TST_OK(store_write_sync(rt, writer, &m, 10000, &ack));
  TST_OK(ack.rc);
  proto_msg_fini(&m);
}

static void put_task(const char *id, const char *kind, proto_state_t st,
                     uint32_t issue, const char *pr_url)
{
  put_task_of(id, "hello", kind, st, issue, pr_url);
}

static void put_task_in(const char *id, const char *repo, uint32_t issue)
{
  put_task_of(id, repo, "todo", PROTO_STATE_TRIAGED, issue, NULL);
}

static proto_state_t state_of(const char *id)
{
  proto_task_t t;
  TST_OK(store_task_get(store, id, &t));
  proto_state_t s = t.state;
  store_task_free(&t);
  return s;
}

/* The next message of @p type on @p port, decoded. */
static proto_msg_t next_proto(rt_port_t *port, uint32_t type)
{
  rt_msg_t *m = tst_recv_type(port, type);
  size_t len = 0;
  const void *d = rt_msg_data(m, &len);
  proto_msg_t pm;
  TST_OK(proto_msgpack_decode(d, len, &pm, NULL, 0));
  rt_msg_free(m);
  return pm;
}

/* The next message the "executor" got: a run COMMAND; its task id. */
static char *next_run(void)
{
  proto_msg_t pm = next_proto(runs, GHEV_MSG_COMMAND);
  cr_assert_eq(pm.type, PROTO_COMMAND);
  cr_assert_str_eq(pm.u.command.action, "run");
  char *id = strdup(
      json_string_value(json_object_get(pm.u.command.args, "task")));
  proto_msg_fini(&pm);
  return id;
}

/* The repository of the next scan request the "scanner" got. */
static char *next_scan(void)
{
  proto_msg_t pm = next_proto(scans, GHEV_MSG_SCAN);
  cr_assert_eq(pm.type, PROTO_SCAN_REQUEST);
  char *repo = strdup(pm.u.scan_request.repo);
  proto_msg_fini(&pm);
  return repo;
}

static json_t *push_to_second(void)
{
  json_t *p = example("push", NULL);
  set_str(p, "repository", "full_name", "codertocat/second");
  return p;
}

/* ------------------------------------------------------------- tests */

Test(events, push_asks_for_one_rescan_and_the_delivery_is_persisted)
{
  start(NULL, 0);
  ghev_handled_t h = deliver("push", "push-1", example("push", NULL));
  cr_assert_str_eq(h.outcome, "scan hello");
  cr_assert_eq(h.rc, 0);
  char *repo = next_scan();
  cr_assert_str_eq(repo, "hello");
  free(repo);
  TST_OK(store_delivery_get(store, "push-1", NULL));

  /* a redelivery is neither processed nor recorded again */
  h = deliver("push", "push-1", example("push", NULL));
  cr_assert_str_eq(h.outcome, "ignored");
  /* deleted branches and the agents' branches are not scanned */
  json_t *del = example("push", NULL);
  json_object_set_new(del, "deleted", json_true());
  cr_assert_str_eq(deliver("push", "push-2", del).outcome,
                   "ignored: branch deleted or an agent's branch");
  json_t *agent = example("push", NULL);
  set_str(agent, NULL, "ref", "refs/heads/ccm/0123abcd");
  cr_assert_str_eq(deliver("push", "push-3", agent).outcome,
                   "ignored: branch deleted or an agent's branch");
  /* nothing came in between: the next scan is the second repository's */
  deliver("push", "push-4", push_to_second());
  repo = next_scan();
  cr_assert_str_eq(repo, "second");
  free(repo);
  uint64_t n;
  TST_OK(store_deliveries_count(store, &n));
  cr_assert_eq(n, 4);
  stop();
}

static json_t *labeled(const char *action, const char *label)
{
  json_t *p = example("issues", action);
  set_str(p, "label", "name", label);
  return p;
}

Test(events, the_approval_label_readies_linked_tasks_and_its_removal_undoes)
{
  start(NULL, 0);
  put_task("t-new", "todo", PROTO_STATE_NEW, 1, NULL);
  put_task("t-running", "todo", PROTO_STATE_RUNNING, 1, NULL);
  put_task("t-review", "todo", PROTO_STATE_REVIEW, 1, NULL);
  put_task("t-elsewhere", "todo", PROTO_STATE_NEW, 2, NULL);
  ghev_handled_t h = deliver("issues", "l-1", labeled("labeled", "bug"));
  cr_assert_eq(h.changed, 0);
  cr_assert_eq(state_of("t-new"), PROTO_STATE_NEW);

  h = deliver("issues", "l-2", labeled("labeled", "ccm:approved"));
  cr_assert_eq(h.rc, 0);
  cr_assert_eq(h.changed, 1);
  cr_assert_eq(state_of("t-new"), PROTO_STATE_READY);
  cr_assert_eq(state_of("t-running"), PROTO_STATE_RUNNING);
  /* a task in review is not sent back to run by the label */
  cr_assert_eq(state_of("t-review"), PROTO_STATE_REVIEW);
  cr_assert_eq(state_of("t-elsewhere"), PROTO_STATE_NEW);
  char *run = next_run();
  cr_assert_str_eq(run, "t-new");
  free(run);
  /* the history says who and why */
  proto_task_update_t *hist;
  size_t n = tst_history(store, "t-new", &hist);
  cr_assert_geq(n, 3); /* created, -> triaged, -> ready */
  cr_assert_str_eq(hist[n - 1].actor, "github");
  cr_assert_str_eq(hist[n - 1].reason, "approved on GitHub (label)");
  tst_history_free(hist, n);

  h = deliver("issues", "l-3", labeled("unlabeled", "ccm:approved"));
  cr_assert_eq(h.changed, 1);
  cr_assert_eq(state_of("t-new"), PROTO_STATE_TRIAGED);
  cr_assert_eq(state_of("t-running"), PROTO_STATE_RUNNING);
  stop();
}

Test(events, approval_label_names_are_configurable)
{
  static const char *const mine[] = {"lgtm", "ship-it"};
  start(mine, 2);
  put_task("t-1", "todo", PROTO_STATE_TRIAGED, 1, NULL);
  deliver("issues", "c-1", labeled("labeled", "ccm:approved"));
  cr_assert_eq(state_of("t-1"), PROTO_STATE_TRIAGED);
  deliver("issues", "c-2", labeled("labeled", "ship-it"));
  cr_assert_eq(state_of("t-1"), PROTO_STATE_READY);
  stop();
}

/* The id discovery gives issue 1 of the repository. */
static void issue_task_id(char *out)
{
  gh_issue_t i;
  memset(&i, 0, sizeof i);
  i.number = 1;
  i.title = "x";
  ghd_staleness_t s;
  memset(&s, 0, sizeof s);
  proto_finding_t f;
  TST_OK(ghd_issue_finding("hello", hello->github, &i, &s, &f));
  strcpy(out, f.fingerprint);
  ghd_finding_fini(&f);
}

Test(events, issue_lifecycle_moves_its_own_task_and_proposals)
{
  start(NULL, 0);
  char id[64];
  issue_task_id(id);
  put_task("proposal", "todo", PROTO_STATE_TRIAGED, 1, NULL);

  json_t *opened = example("issues", "opened");
  set_str(opened, "issue", "title", "Crash on start");
  ghev_handled_t h = deliver("issues", "o-1", opened);
  cr_assert_eq(h.rc, 0);
  proto_task_t t;
  TST_OK(store_task_get(store, id, &t)); /* opened created it */
  cr_assert_str_eq(t.kind, "issue");
  cr_assert_str_eq(t.title, "ISSUE: Crash on start");
  cr_assert_eq(t.issue_number, 1);
  cr_assert_eq(t.state, PROTO_STATE_NEW);
  store_task_free(&t);

  json_t *edited = example("issues", "edited");
  set_str(edited, "issue", "title", "Crash on start (macOS)");
  deliver("issues", "o-2", edited);
  TST_OK(store_task_get(store, id, &t));
  cr_assert_str_eq(t.title, "ISSUE: Crash on start (macOS)");
  store_task_free(&t);

  json_t *closed = example("issues", "reopened");
  set_str(closed, NULL, "action", "closed");
  set_str(closed, "issue", "state", "closed");
  h = deliver("issues", "o-3", closed);
  cr_assert_eq(h.changed, 2);
  cr_assert_eq(state_of(id), PROTO_STATE_RESOLVED);
  cr_assert_eq(state_of("proposal"), PROTO_STATE_SKIPPED);

  h = deliver("issues", "o-4", example("issues", "reopened"));
  cr_assert_eq(h.changed, 2);
  cr_assert_eq(state_of(id), PROTO_STATE_NEW);
  cr_assert_eq(state_of("proposal"), PROTO_STATE_TRIAGED);
  stop();
}

/* ccm's own proposal issues mirror a finding's task: an `issues` event
 * about one makes no issue task (it would duplicate the finding's). */
Test(events, a_proposal_issue_gets_no_issue_task_of_its_own)
{
  start(NULL, 0);
  char id[64];
  issue_task_id(id);
  json_t *opened = example("issues", "opened");
  json_object_set_new(json_object_get(opened, "issue"), "labels",
                      json_pack("[{s:s}]", "name", "ccm:proposal"));
  ghev_handled_t h = deliver("issues", "p-1", opened);
  cr_assert_eq(h.rc, 0);
  proto_task_t t;
  cr_assert_eq(store_task_get(store, id, &t), STORE_ENOTFOUND);

  json_t *plain = example("issues", "opened");
  json_object_set_new(json_object_get(plain, "issue"), "labels",
                      json_array());
  deliver("issues", "p-2", plain);
  TST_OK(store_task_get(store, id, &t)); /* the control: one is made */
  store_task_free(&t);
  stop();
}

/* The last "tasks" event of task @p id in the store's log. */
typedef struct last_task_event {
  const char *id;
  char state[32];
} last_task_event_t;

static int note_task_event(const proto_event_t *e, void *arg)
{
  last_task_event_t *l = arg;
  const char *id = json_string_value(json_object_get(e->data, "id"));
  const char *st = json_string_value(json_object_get(e->data, "state"));
  if (strcmp(e->topic, "tasks") == 0 && id && st && strcmp(id, l->id) == 0)
    snprintf(l->state, sizeof l->state, "%s", st);
  return 0;
}

/* The approval label readies the issue's own task and refreshes its
 * labels: the event of that refresh carries the task as committed
 * (ready), not as read before the approval was written. */
Test(events, the_last_tasks_event_shows_the_committed_state)
{
  start(NULL, 0);
  char id[64];
  issue_task_id(id);
  deliver("issues", "c-1", example("issues", "opened"));
  cr_assert_eq(state_of(id), PROTO_STATE_NEW);
  ghev_handled_t h = deliver("issues", "c-2",
                             labeled("labeled", "ccm:approved"));
  cr_assert_eq(h.rc, 0);
  cr_assert_eq(state_of(id), PROTO_STATE_READY);
  last_task_event_t l = {.id = id};
  TST_OK(store_event_foreach(store, 0, note_task_event, &l));
  cr_assert_str_eq(l.state, "ready");
  stop();
}

/* Count "github" events naming task @p id in the store's log. */
typedef struct comment_count {
  const char *id;
  int n;
} comment_count_t;

static int count_comment(const proto_event_t *e, void *arg)
{
  comment_count_t *c = arg;
  if (strcmp(e->topic, "github") != 0)
    return 0;
  json_t *tasks = json_object_get(e->data, "tasks");
  for (size_t i = 0; i < json_array_size(tasks); i++)
    if (strcmp(json_string_value(json_array_get(tasks, i)), c->id) == 0)
      c->n++;
  return 0;
}

Test(events, human_comments_are_recorded_and_bot_comments_are_not)
{
  start(NULL, 0);
  put_task("linked", "todo", PROTO_STATE_NEW, 1, NULL);
  ghev_handled_t h = deliver("issue_comment", "m-1",
                             example("issue_comment", "created"));
  cr_assert_str_eq(h.outcome, "comment on 1 task(s)");
  json_t *bot = example("issue_comment", "created");
  set_str(json_object_get(bot, "comment"), "user", "login",
          "dependabot[bot]");
  set_str(bot, "sender", "login", "dependabot[bot]");
  h = deliver("issue_comment", "m-2", bot);
  cr_assert_str_eq(h.outcome, "ignored: not a human comment");
  json_t *self = example("issue_comment", "created");
  set_str(json_object_get(self, "comment"), "user", "login", "ccm-bot");
  h = deliver("issue_comment", "m-3", self);
  cr_assert_str_eq(h.outcome, "ignored: not a human comment");
  comment_count_t c = {.id = "linked"};
  TST_OK(store_event_foreach(store, 0, count_comment, &c));
  cr_assert_eq(c.n, 1);
  stop();
}

static json_t *pr_closed(bool merged, const char *branch)
{
  json_t *p = example("pull_request", "closed");
  json_t *pr = json_object_get(p, "pull_request");
  json_object_set_new(pr, "merged", json_boolean(merged));
  if (merged)
    json_object_set_new(pr, "merged_at", json_string("2019-05-15T15:20:40Z"));
  else
    json_object_set_new(pr, "merged_at", json_null());
  set_str(pr, "head", "ref", branch);
  return p;
}

Test(events, a_merged_pull_request_is_done_and_a_closed_one_rejected)
{
  start(NULL, 0);
  put_task("fix-a", "todo", PROTO_STATE_REVIEW, 0, NULL);
  put_task("fix-b", "todo", PROTO_STATE_REVIEW, 0,
           "https://github.com/Codertocat/Hello-World/pull/2");
  put_task("fix-c", "todo", PROTO_STATE_READY, 0, NULL);

  ghev_handled_t h = deliver("pull_request", "pr-1",
                             pr_closed(true, "ccm/fix-a"));
  cr_assert_str_eq(h.outcome, "done");
  cr_assert_eq(state_of("fix-a"), PROTO_STATE_DONE);

  /* branch not ccm/: found by its pr_url (the example's html_url) */
  h = deliver("pull_request", "pr-2", pr_closed(false, "changes"));
  cr_assert_str_eq(h.outcome, "rejected");
  cr_assert_eq(state_of("fix-b"), PROTO_STATE_REJECTED);

  /* not in review: left as is */
  h = deliver("pull_request", "pr-3", pr_closed(true, "ccm/fix-c"));
  cr_assert_str_eq(h.outcome, "left as is: the task is ready");
  cr_assert_eq(state_of("fix-c"), PROTO_STATE_READY);

  /* another action, or no task */
  h = deliver("pull_request", "pr-4", example("pull_request", "opened"));
  cr_assert_str_eq(h.outcome, "ignored: pull request opened");
  json_t *unknown = pr_closed(false, "ccm/unknown");
  set_str(unknown, "pull_request", "html_url",
          "https://github.com/Codertocat/Hello-World/pull/99");
  h = deliver("pull_request", "pr-5", unknown);
  cr_assert_str_eq(h.outcome, "ignored: no task for this pull request");
  stop();
}

/* A github-mention delegation: the other agent's pull request is on its own
 * branch; it is found by ccm's task marker or by the issue it closes, and
 * only a task in review is moved. */
Test(events, a_delegated_pull_request_is_found_by_marker_or_closing_reference)
{
  start(NULL, 0);
  put_task("delegated", "todo", PROTO_STATE_REVIEW, 7, NULL);
  put_task("also-7-ready", "todo", PROTO_STATE_READY, 7, NULL);
  put_task("marked", "todo", PROTO_STATE_REVIEW, 0, NULL);

  json_t *p = pr_closed(true, "claude/issue-7-20261124");
  set_str(p, "pull_request", "html_url",
          "https://github.com/Codertocat/Hello-World/pull/55");
  json_object_set_new(json_object_get(p, "pull_request"), "body",
                      json_string("Done as asked.\n\nFixes: #7"));
  ghev_handled_t h = deliver("pull_request", "dl-1", p);
  cr_assert_str_eq(h.outcome, "done");
  cr_assert_eq(state_of("delegated"), PROTO_STATE_DONE);
  cr_assert_eq(state_of("also-7-ready"), PROTO_STATE_READY);

  p = pr_closed(false, "someone/else");
  set_str(p, "pull_request", "html_url",
          "https://github.com/Codertocat/Hello-World/pull/56");
  json_object_set_new(json_object_get(p, "pull_request"), "body",
                      json_string("<!-- ccm:task=marked -->\nprefixes #8"));
  h = deliver("pull_request", "dl-2", p);
  cr_assert_str_eq(h.outcome, "rejected");
  cr_assert_eq(state_of("marked"), PROTO_STATE_REJECTED);

  /* "prefixes #9" is no closing keyword; "fixes#9" has no space: still one */
  p = pr_closed(true, "x");
  set_str(p, "pull_request", "html_url",
          "https://github.com/Codertocat/Hello-World/pull/57");
  json_object_set_new(json_object_get(p, "pull_request"), "body",
                      json_string("prefixes #7, unfixed #7"));
  put_task("delegated-2", "todo", PROTO_STATE_REVIEW, 7, NULL);
  h = deliver("pull_request", "dl-3", p);
  cr_assert_str_eq(h.outcome, "ignored: no task for this pull request");
  cr_assert_eq(state_of("delegated-2"), PROTO_STATE_REVIEW);
  stop();
}

Test(events, other_repositories_and_events_change_nothing)
{
  start(NULL, 0);
  put_task("t", "todo", PROTO_STATE_NEW, 1, NULL);
  json_t *other = labeled("labeled", "ccm:approved");
  set_str(other, "repository", "full_name", "someone/else");
  ghev_handled_t h = deliver("issues", "x-1", other);
  cr_assert_str_eq(h.outcome, "ignored: repository not configured");
  h = deliver("star", "x-2", example("star", NULL));
  cr_assert_str_eq(h.outcome, "ignored");
  cr_assert_eq(state_of("t"), PROTO_STATE_NEW);
  /* nothing reached the scanner or the executor: the next messages are
   * those of a push and an approval for the second repository */
  deliver("push", "x-3", push_to_second());
  char *repo = next_scan();
  cr_assert_str_eq(repo, "second");
  free(repo);
  put_task_in("s", "second", 1);
  json_t *ok = labeled("labeled", "ccm:approved");
  set_str(ok, "repository", "full_name", "Codertocat/Second");
  deliver("issues", "x-4", ok);
  char *run = next_run();
  cr_assert_str_eq(run, "s");
  free(run);
  stop();
}

/* ---- field writes: nothing written meanwhile is lost (store "gh_task") */

static void write_sync(proto_msg_t *m)
{
  store_ack_t ack;
  TST_OK(store_write_sync(rt, writer, m, 10000, &ack));
  TST_OK(ack.rc);
  proto_msg_fini(m);
}

static void command(const char *action, json_t *args)
{
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = strdup(action);
  m.u.command.args = args;
  write_sync(&m);
}

static bool has_label(const proto_task_t *t, const char *l)
{
  for (uint32_t i = 0; i < t->labels.len; i++)
    if (!strcmp(t->labels.items[i], l))
      return true;
  return false;
}

/* An issue task with a human's override label, GitHub's label "old" and
 * the `stale:` label, in @p st. */
static void put_issue_task(const char *id, const char *kind, proto_state_t st)
{
  proto_msg_t m;
  tst_task_msg(&m, id, "hello", kind, st, 1.0);
  m.u.task.issue_number = 1;
  for (uint32_t i = 0; i < m.u.task.labels.len; i++)
    free(m.u.task.labels.items[i]);
  free(m.u.task.labels.items);
  m.u.task.labels.len = 0;
  m.u.task.labels.items = calloc(3, sizeof(char *));
  m.u.task.labels.items[0] = strdup("prio:high");
  m.u.task.labels.items[1] = strdup("old");
  m.u.task.labels.items[2] = strdup("stale: no human activity since then");
  m.u.task.labels.len = 3;
  write_sync(&m);
}

Test(events, a_field_write_keeps_what_was_committed_after_its_read)
{
  start(NULL, 0);
  put_issue_task("t1", "issue", PROTO_STATE_NEW);
  /* the handler read the task (state new, score 1) and made its write... */
  json_t *late = json_pack("{s:s,s:I,s:s,s:[s,s]}", "task", "t1", "at",
                           (json_int_t)1000, "title", "ISSUE: renamed",
                           "labels", "bug", "prio:low");
  /* ...while the prioritizer and a human committed theirs */
  command("prio", json_pack("{s:s,s:{s:f,s:f,s:f,s:f,s:f,s:s}}", "task", "t1",
                            "score", "total", 7.5, "value", 5.0,
                            "time_criticality", 5.0, "risk_reduction", 5.0,
                            "job_size", 2.0, "why", "wsjf"));
  proto_msg_t u;
  tst_update_msg(&u, "t1", PROTO_STATE_NEW, PROTO_STATE_TRIAGED, "user",
                 "triaged", 2);
  write_sync(&u);
  command("gh_task", late);
  proto_task_t t;
  TST_OK(store_task_get(store, "t1", &t));
  cr_assert_str_eq(t.title, "ISSUE: renamed");
  cr_assert_eq(t.state, PROTO_STATE_TRIAGED, "the transition is kept");
  cr_assert_float_eq(t.score.total, 7.5, 1e-9, "the score is kept");
  cr_assert(has_label(&t, "bug"));
  cr_assert(!has_label(&t, "old"), "GitHub's labels are replaced");
  cr_assert(has_label(&t, "prio:high"), "ccm's own labels are not GitHub's");
  cr_assert(!has_label(&t, "prio:low"));
  cr_assert(has_label(&t, "stale: no human activity since then"));
  store_task_free(&t);

  /* an unknown task without "new" is refused */
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = strdup("gh_task");
  m.u.command.args = json_pack("{s:s,s:I}", "task", "t2", "at", 1);
  store_ack_t ack;
  cr_assert_eq(store_write_sync(rt, writer, &m, 10000, &ack),
               STORE_ENOTFOUND);
  proto_msg_fini(&m);
  /* a kind other than issue/stale-issue is never set, nor changed */
  put_task("t3", "todo", PROTO_STATE_NEW, 1, NULL);
  command("gh_task", json_pack("{s:s,s:I,s:s}", "task", "t3", "at", 5,
                               "kind", "stale-issue"));
  TST_OK(store_task_get(store, "t3", &t));
  cr_assert_str_eq(t.kind, "todo");
  store_task_free(&t);
  stop();
}

Test(events, a_label_event_updates_an_approved_issue_task_and_keeps_overrides)
{
  start(NULL, 0);
  char id[64];
  issue_task_id(id);
  put_issue_task(id, "issue", PROTO_STATE_READY); /* the old code left it */
  json_t *labeled = example("issues", "labeled");
  json_t *labels = json_object_get(json_object_get(labeled, "issue"),
                                   "labels");
  json_array_clear(labels);
  json_array_append_new(labels, json_pack("{s:s}", "name", "enhancement"));
  set_str(labeled, "label", "name", "enhancement");
  ghev_handled_t h = deliver("issues", "l-1", labeled);
  cr_assert_eq(h.rc, 0);
  proto_task_t t;
  TST_OK(store_task_get(store, id, &t));
  cr_assert_eq(t.state, PROTO_STATE_READY);
  cr_assert(has_label(&t, "enhancement"));
  cr_assert(!has_label(&t, "old"));
  cr_assert(has_label(&t, "prio:high"), "a human's override survives");
  store_task_free(&t);
  stop();
}

Test(events, a_human_comment_ends_staleness_and_a_bot_comment_does_not)
{
  start(NULL, 0);
  char id[64];
  issue_task_id(id);
  put_issue_task(id, "stale-issue", PROTO_STATE_TRIAGED);
  json_t *bot = example("issue_comment", "created");
  set_str(json_object_get(bot, "comment"), "user", "login",
          "dependabot[bot]");
  set_str(bot, "sender", "login", "dependabot[bot]");
  deliver("issue_comment", "s-1", bot);
  proto_task_t t;
  TST_OK(store_task_get(store, id, &t));
  cr_assert_str_eq(t.kind, "stale-issue", "a bot does not reset the clock");
  store_task_free(&t);

  ghev_handled_t h = deliver("issue_comment", "s-2",
                             example("issue_comment", "created"));
  cr_assert_eq(h.rc, 0);
  TST_OK(store_task_get(store, id, &t));
  cr_assert_str_eq(t.kind, "issue");
  cr_assert(!has_label(&t, "stale: no human activity since then"));
  cr_assert(has_label(&t, "prio:high"));
  cr_assert(has_label(&t, "old"));
  cr_assert_eq(t.state, PROTO_STATE_TRIAGED);
  store_task_free(&t);
  stop();
}
