/*
 * test_sync.c: the periodic GitHub sweep (actors/github/sync.c) with a
 * real store, store actor and analyzer, and a stand-in GitHub client
 * actor: it answers the client's GH_MSG_REQUEST messages from a small
 * in-memory GitHub (open issues in pages, comments, proposal issues
 * created, listed and closed) and records every request. (The real
 * client's wire behaviour is test_client's, against
 * @octokit/fixtures-server.)
 *
 * Contract (issue #5, sync.h): every request counts against the budget;
 * a cycle that runs out of budget reports partial coverage and where it
 * stopped, and the next cycle, even in a new actor (a restart), resumes
 * there from the kv cursor instead of starting over; open issues become
 * tasks of kind "issue"; findings of proposed kinds get exactly one
 * issue labelled ccm:proposal with the fingerprint marker, an issue that
 * already carries a task's marker is linked instead of duplicated, a
 * moved finding keeps its issue, an auto-approved kind's issue carries
 * the approval label and its task becomes ready; a resolved finding's
 * issue is closed once. The same against the real client and recorded
 * traffic (@octokit/fixtures-server, tests/data/github/ccm-sync-sweep.json).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/analyzer.h"
#include "actors/github/sync.h"
#include "github/gh_int.h"
#include "store/store_actor.h"
#include "tests/github/gh_test.h"
#include "tests/support/store_test.h"

TestSuite(sync, .timeout = 120);

#define REPO "acme/demo"
#define API "https://api.test"

/* ------------------------------------------------ the in-memory GitHub */

typedef struct fake_gh {
  pthread_mutex_t mu;
  int open_issues;     /* issues 1..n are open */
  json_t *proposals;   /* issues created through the API (and seeded) */
  json_t *requests;    /* ["GET /repos/...", ...] */
} fake_gh_t;

static fake_gh_t gh = {.mu = PTHREAD_MUTEX_INITIALIZER};

static json_t *issue_json(int n)
{
  return json_pack("{s:i,s:s,s:s,s:{s:s,s:s},s:s,s:s,s:[]}", "number", n,
                   "title", "An open issue", "state", "open", "user",
                   "login", "alice", "type", "User", "created_at",
                   "2024-01-01T00:00:00Z", "updated_at",
                   "2024-01-02T00:00:00Z", "labels");
}

static int query_int(const char *path, const char *key, int dflt)
{
  const char *p = strstr(path, key);
  return p ? atoi(p + strlen(key)) : dflt;
}

/* GET /repos/acme/demo/issues?per_page=P[&page=N]: issues in pages. */
static void list_open(const char *path, gh_response_t *r)
{
  int per = query_int(path, "per_page=", 100);
  int page = query_int(path, "&page=", 1);
  json_t *arr = json_array();
  for (int n = (page - 1) * per + 1; n <= page * per && n <= gh.open_issues;
       n++)
    json_array_append_new(arr, issue_json(n));
  if (page * per < gh.open_issues) {
    r->truncated = true;
    if (asprintf(&r->next, API "/repos/" REPO "/issues?per_page=%d&page=%d",
                 per, page + 1) < 0)
      r->next = NULL;
  }
  r->body = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
}

static void create_issue(const char *body, gh_response_t *r)
{
  json_t *in = json_loads(body, 0, NULL);
  int n = 100 + (int)json_array_size(gh.proposals);
  json_t *labels = json_array();
  json_t *names = json_object_get(in, "labels");
  for (size_t i = 0; i < json_array_size(names); i++)
    json_array_append_new(labels, json_pack("{s:O}", "name",
                                            json_array_get(names, i)));
  json_t *is = json_pack("{s:i,s:O,s:O,s:s,s:o}", "number", n, "title",
                         json_object_get(in, "title"), "body",
                         json_object_get(in, "body"), "state", "open",
                         "labels", labels);
  json_array_append(gh.proposals, is);
  r->body = json_dumps(is, JSON_COMPACT);
  r->status = 201;
  json_decref(is);
  json_decref(in);
}

static void close_issue(int n, gh_response_t *r)
{
  for (size_t i = 0; i < json_array_size(gh.proposals); i++) {
    json_t *is = json_array_get(gh.proposals, i);
    if (json_integer_value(json_object_get(is, "number")) == n)
      json_object_set_new(is, "state", json_string("closed"));
  }
  r->body = strdup("{}");
}

static void answer(const gh_request_t *q, gh_response_t *r)
{
  const char *p = q->path;
  const char *base = "/repos/" REPO "/issues";
  if (!strncmp(p, API, strlen(API)))
    p += strlen(API);
  r->status = 200;
  int num = 0;
  if (q->method == GH_POST && !strcmp(p, base))
    create_issue(q->body, r);
  else if (q->method == GH_PATCH && sscanf(p, "/repos/acme/demo/issues/%d",
                                           &num) == 1)
    close_issue(num, r);
  else if (strstr(p, "labels=ccm"))
    r->body = json_dumps(gh.proposals, JSON_COMPACT);
  else if (strstr(p, "/comments"))
    r->body = strdup("[]");
  else if (!strncmp(p, base, strlen(base)))
    list_open(p, r);
  else {
    r->rc = GH_ENOTFOUND;
    r->status = 404;
    r->body = strdup("{}");
  }
  r->len = r->body ? strlen(r->body) : 0;
  r->pages = 1;
}

static void fake_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  (void)ctx;
  (void)state;
  if (rt_msg_type(msg) != GH_MSG_REQUEST)
    return;
  size_t len = 0;
  const void *d = rt_msg_data(msg, &len);
  gh_request_t q;
  gh_response_t r;
  memset(&r, 0, sizeof(r));
  if (gh__request_decode(d, len, &q) != 0)
    return;
  static const char *const methods[] = {"GET", "POST", "PATCH", "PUT",
                                        "DELETE"};
  char line[600];
  snprintf(line, sizeof(line), "%s %s", methods[q.method], q.path);
  pthread_mutex_lock(&gh.mu);
  json_array_append_new(gh.requests, json_string(line));
  answer(&q, &r);
  pthread_mutex_unlock(&gh.mu);
  rt_msg_t *reply = NULL;
  if (gh__response_msg(&r, &reply) == 0)
    rt_reply(msg, &reply);
  gh_response_fini(&r);
  gh__request_fini(&q);
}

static const rt_actor_type_t fake_type = {.name = "fake-github",
                                          .on_msg = fake_msg};

/* ---------------------------------------------------------- set-up */

static char *dir;
static store_t *store;
static rt_runtime_t *rt;
static rt_actor_t *writer, *analyzer, *client, *sweep;
static rt_port_t *reports;
static analyzer_opts_t an_opts;
static ghs_config_t cfg;

static void start(void)
{
  dir = tst_tmpdir();
  store_options_t opt = {.no_sync = true};
  store = tst_store_open(dir, &opt);
  rt = tst_runtime(2);
  TST_OK(store_actor_spawn(rt, store, "store", &writer));
  an_opts = (analyzer_opts_t){.store = store, .store_actor = writer};
  TST_OK(analyzer_spawn(rt, &an_opts, &analyzer));
  TST_OK(rt_actor_spawn(rt, &fake_type, NULL, NULL, &client));
  reports = tst_port(rt, 0);
  gh.proposals = json_array();
  gh.requests = json_array();
  gh.open_issues = 0;
}

static int restarts;

static void start_sweep(const ghs_repo_t *repos, size_t n, uint32_t budget,
                        uint32_t per_page)
{
  static char name[32];
  snprintf(name, sizeof name, "sweep-%d", restarts++);
  ghs_config_defaults(&cfg);
  cfg.name = name; /* the stopped one's name may not be free yet */
  cfg.store = store;
  cfg.store_actor = writer;
  cfg.client = client;
  cfg.repos = repos;
  cfg.n_repos = n;
  cfg.budget = budget;
  cfg.per_page = per_page;
  cfg.interval_ms = 0; /* cycles on request only */
  cfg.observer = rt_port_actor(reports);
  TST_OK(ghs_spawn(rt, &cfg, &sweep));
}

/* A restart of the sweep: the next one is a new actor, nothing kept but
 * the store (this one got no request it has not answered). */
static void stop_sweep(void)
{
  rt_actor_stop(sweep);
  rt_actor_release(sweep);
  sweep = NULL;
}

static void stop(void)
{
  if (sweep)
    stop_sweep();
  rt_actor_release(client);
  rt_actor_release(analyzer);
  rt_actor_release(writer);
  tst_quiesce(rt);
  rt_port_free(reports);
  tst_runtime_free(rt);
  store_close(store);
  tst_rmrf(dir);
  free(dir);
  json_decref(gh.proposals);
  json_decref(gh.requests);
}

/* Every store write sent before now is durable when this returns: the
 * store actor takes writes in arrival order. */
static void store_barrier(void)
{
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = (char *)"kv";
  m.u.command.args = json_pack("{s:s,s:s}", "name", "test/barrier", "value",
                               "1");
  store_ack_t ack;
  TST_OK(store_write_sync(rt, writer, &m, 10000, &ack));
  json_decref(m.u.command.args);
}

static ghs_report_t cycle(void)
{
  rt_msg_t *m = NULL;
  TST_OK(rt_msg_new(GHS_MSG_CYCLE, NULL, 0, &m));
  TST_OK(rt_send(sweep, &m));
  m = tst_recv_type(reports, GHS_MSG_REPORT);
  ghs_report_t r;
  size_t len = 0;
  memcpy(&r, rt_msg_data(m, &len), sizeof(r));
  rt_msg_free(m);
  store_barrier();
  return r;
}

static size_t count_requests(const char *prefix)
{
  size_t n = 0;
  pthread_mutex_lock(&gh.mu);
  for (size_t i = 0; i < json_array_size(gh.requests); i++)
    n += !strncmp(json_string_value(json_array_get(gh.requests, i)), prefix,
                  strlen(prefix));
  pthread_mutex_unlock(&gh.mu);
  return n;
}

static size_t tasks_of_kind(const char *kind)
{
  tst_task_list_t l = {0};
  store_filter_t f = {.state = -1, .kind = kind};
  TST_OK(tst_collect(store, &f, &l));
  size_t n = l.n;
  tst_task_list_free(&l);
  return n;
}

/* ------------------------------------------------------------- tests */

Test(sync, a_budget_stops_the_sweep_and_the_next_cycle_resumes_there)
{
  start();
  gh.open_issues = 5;
  static const ghs_repo_t repos[] = {{.id = "demo", .github = REPO}};
  start_sweep(repos, 1, 4, 2);

  /* page 1 (1) + 2 comments (2) + page 2 (1): the budget is spent */
  ghs_report_t r = cycle();
  cr_assert_eq(r.rc, 0);
  cr_assert(!r.complete);
  cr_assert_eq(r.ops, 4);
  cr_assert_eq(r.issues, 2);
  cr_assert(strstr(r.resume, "page=2"), "resume: %s", r.resume);
  cr_assert_eq(tasks_of_kind("issue"), 2);
  void *v;
  size_t len;
  TST_OK(store_kv_get(store, GHS_CURSOR_KEY, &v, &len));
  cr_assert(strstr(v, "\"pos\":0"), "%s", (char *)v);
  free(v);

  /* a restart: the new sweep reads the cursor and goes on from page 2 */
  stop_sweep();
  start_sweep(repos, 1, 4, 2);
  r = cycle();
  cr_assert(!r.complete);
  cr_assert_eq(r.issues, 2);
  cr_assert(strstr(r.resume, "page=3"), "resume: %s", r.resume);
  r = cycle();
  cr_assert(r.complete, "resume: %s", r.resume);
  cr_assert_eq(r.issues, 1);
  cr_assert_str_eq(r.resume, "");
  cr_assert_eq(tasks_of_kind("issue"), 5);
  /* page 1 was read once: nothing was read twice but the page resumed */
  cr_assert_eq(count_requests("GET /repos/acme/demo/issues?per_page=2"), 1);
  cr_assert_eq(count_requests("GET /repos/acme/demo/issues/"), 5);
  cr_assert_eq(store_kv_get(store, GHS_CURSOR_KEY, &v, &len),
               STORE_ENOTFOUND);
  stop();
}

Test(sync, reconfigure_takes_a_new_budget_for_the_next_cycle)
{
  start();
  gh.open_issues = 5;
  static const ghs_repo_t repos[] = {{.id = "demo", .github = REPO}};
  start_sweep(repos, 1, 4, 2);
  ghs_report_t r = cycle();
  cr_assert(!r.complete);
  cr_assert_eq(r.ops, 4);

  static ghs_config_t now; /* outlives the actor, as required */
  now = cfg;
  now.budget = 100;
  const ghs_config_t *p = &now;
  rt_msg_t *m = NULL;
  TST_OK(rt_msg_new(GHS_MSG_RECONFIGURE, &p, sizeof p, &m));
  TST_OK(rt_send(sweep, &m)); /* taken before the cycle asked next */
  r = cycle();
  cr_assert(r.complete, "resume: %s", r.resume);
  cr_assert_eq(r.issues, 3);
  cr_assert_eq(tasks_of_kind("issue"), 5);
  stop();
}

static void put_task(const char *id, const char *kind, proto_state_t st,
                     uint32_t line)
{
  proto_msg_t m;
  tst_task_msg(&m, id, "demo", kind, st, 1.0);
  m.u.task.loc.line = line;
  store_ack_t ack;
  TST_OK(store_write_sync(rt, writer, &m, 10000, &ack));
  TST_OK(ack.rc);
  proto_msg_fini(&m);
}

static proto_task_t task(const char *id)
{
  proto_task_t t;
  TST_OK(store_task_get(store, id, &t));
  return t;
}

static json_t *created(size_t i)
{
  return json_array_get(gh.proposals, i);
}

Test(sync, findings_get_one_proposal_issue_each_across_restarts)
{
  start();
  static const char *const approve[] = {"secret"};
  static const ghs_repo_t repos[] = {{.id = "demo", .github = REPO,
                                      .propose = true,
                                      .auto_approve = approve,
                                      .n_auto_approve = 1,
                                      .close_resolved = true}};
  put_task("aaaa01", "todo", PROTO_STATE_NEW, 10);
  put_task("aaaa02", "secret", PROTO_STATE_TRIAGED, 3);
  put_task("aaaa03", "refactor", PROTO_STATE_NEW, 1); /* not proposed */
  put_task("aaaa04", "todo", PROTO_STATE_NEW, 7);
  /* issue 7 carries task aaaa04's marker already (created by an earlier
   * run that crashed before it could remember it) */
  json_array_append_new(gh.proposals,
                        json_pack("{s:i,s:s,s:s}", "number", 7, "state",
                                  "open", "body",
                                  "old\n<!-- ccm:fingerprint=aaaa04 -->"));
  start_sweep(repos, 1, 100, 100);
  ghs_report_t r = cycle();
  cr_assert_eq(r.rc, 0);
  cr_assert(r.complete);
  cr_assert_eq(r.created, 2);
  cr_assert_eq(r.linked, 1);
  cr_assert_eq(count_requests("POST "), 2);
  cr_assert_eq(json_array_size(gh.proposals), 3);

  proto_task_t t = task("aaaa01");
  cr_assert_eq(t.issue_number, 101);
  cr_assert_eq(t.state, PROTO_STATE_NEW);
  store_task_free(&t);
  json_t *is = created(1);
  cr_assert(strstr(json_string_value(json_object_get(is, "body")),
                   "<!-- ccm:fingerprint=aaaa01 -->"));
  cr_assert_eq(json_array_size(json_object_get(is, "labels")), 1);
  t = task("aaaa02"); /* the auto-approved kind */
  cr_assert_eq(t.issue_number, 102);
  cr_assert_eq(t.state, PROTO_STATE_READY);
  store_task_free(&t);
  cr_assert_eq(json_array_size(json_object_get(created(2), "labels")), 2);
  t = task("aaaa04");
  cr_assert_eq(t.issue_number, 7);
  store_task_free(&t);
  t = task("aaaa03");
  cr_assert_eq(t.issue_number, 0);
  store_task_free(&t);

  /* the TODO moved (another line, same fingerprint), and a restart */
  put_task("aaaa01", "todo", PROTO_STATE_NEW, 42);
  stop_sweep();
  start_sweep(repos, 1, 100, 100);
  r = cycle();
  cr_assert_eq(r.created, 0);
  cr_assert_eq(count_requests("POST "), 2, "a duplicate issue was created");

  /* the finding is gone: its issue is closed, once */
  proto_msg_t u;
  tst_update_msg(&u, "aaaa01", PROTO_STATE_NEW, PROTO_STATE_RESOLVED,
                 "analyzer", "finding gone", 1);
  store_ack_t ack;
  TST_OK(store_write_sync(rt, writer, &u, 10000, &ack));
  TST_OK(ack.rc);
  proto_msg_fini(&u);
  r = cycle();
  cr_assert_eq(r.closed, 1);
  cr_assert_str_eq(json_string_value(json_object_get(created(1), "state")),
                   "closed");
  r = cycle();
  cr_assert_eq(r.closed, 0);
  cr_assert_eq(count_requests("PATCH "), 1);
  stop();
}

/* The audit entries written so far, oldest first, as "what subject". */
static int audit_line(const json_t *e, void *arg)
{
  char line[300];
  snprintf(line, sizeof line, "%s %s %s",
           json_string_value(json_object_get(e, "who")),
           json_string_value(json_object_get(e, "what")),
           json_string_value(json_object_get(e, "subject")));
  json_array_insert_new(arg, 0, json_string(line));
  return 0;
}

static json_t *audit_lines(void)
{
  json_t *v = json_array();
  TST_OK(store_audit_foreach(store, 0, audit_line, v));
  return v;
}

Test(sync, issues_it_creates_and_closes_are_audit_logged)
{
  start();
  static const ghs_repo_t repos[] = {{.id = "demo", .github = REPO,
                                      .propose = true,
                                      .close_resolved = true}};
  put_task("aaaa01", "todo", PROTO_STATE_NEW, 10);
  start_sweep(repos, 1, 100, 100);
  ghs_report_t r = cycle();
  cr_assert_eq(r.created, 1);
  json_t *v = audit_lines();
  cr_assert_eq(json_array_size(v), 1);
  cr_assert_str_eq(json_string_value(json_array_get(v, 0)),
                   "github issue.create " REPO "#100");
  json_decref(v);

  proto_msg_t u;
  tst_update_msg(&u, "aaaa01", PROTO_STATE_NEW, PROTO_STATE_RESOLVED,
                 "analyzer", "finding gone", 1);
  store_ack_t ack;
  TST_OK(store_write_sync(rt, writer, &u, 10000, &ack));
  proto_msg_fini(&u);
  r = cycle();
  cr_assert_eq(r.closed, 1);
  r = cycle(); /* nothing more to close: nothing more audited */
  v = audit_lines();
  cr_assert_eq(json_array_size(v), 2);
  cr_assert_str_eq(json_string_value(json_array_get(v, 1)),
                   "github issue.close " REPO "#100");
  json_decref(v);
  stop();
}

/* ------------------------------------- the real client, recorded traffic */

/* The same sweep through the real client against
 * @octokit/fixtures-server and the recording tests/data/github/
 * ccm-sync-sweep.json: each recorded request is answered once, in order,
 * and anything else is a 404, so a resumed sweep that read a page twice,
 * or a proposal sent with other bytes, fails the cycle. */
Test(sync, resumes_and_proposes_against_recorded_github_traffic)
{
  start();
  ght_server_t server;
  ght_server_start(&server);
  char *url = ght_scenario(&server, "ccm-sync-sweep");
  gh_config_t cc;
  ght_config(&cc, url);
  rt_actor_release(client);
  client = ght_client(rt, &cc, NULL);
  proto_msg_t m;
  tst_task_msg(&m, "abc123", "hello", "todo", PROTO_STATE_NEW, 1.0);
  free(m.u.task.title);
  m.u.task.title = strdup("TODO: fix the parser");
  free(m.u.task.text);
  m.u.task.text = strdup("fix the parser");
  free(m.u.task.loc.path);
  m.u.task.loc.path = strdup("src/parse.c");
  m.u.task.loc.line = 12;
  store_ack_t ack;
  TST_OK(store_write_sync(rt, writer, &m, 10000, &ack));
  proto_msg_fini(&m);

  static const ghs_repo_t repos[] = {
      {.id = "hello", .github = "ccm-fixture-org/hello", .propose = true}};
  start_sweep(repos, 1, 3, 2); /* page 1 and its two issues' comments */
  ghs_report_t r = cycle();
  cr_assert_eq(r.rc, 0, "%s", gh_strerror(r.rc));
  cr_assert(!r.complete);
  cr_assert_eq(r.issues, 2);
  cr_assert(strstr(r.resume, "/repositories/42/issues?per_page=2&page=2"),
            "%s", r.resume);
  stop_sweep();
  start_sweep(repos, 1, 10, 2); /* a restart, with room for the rest */
  r = cycle();
  cr_assert_eq(r.rc, 0, "%s", gh_strerror(r.rc));
  cr_assert(r.complete);
  cr_assert_eq(r.issues, 1);
  cr_assert_eq(r.created, 1);
  cr_assert_eq(r.ops, 4);
  cr_assert_eq(tasks_of_kind("issue"), 3);
  proto_task_t t = task("abc123");
  cr_assert_eq(t.issue_number, 10);
  store_task_free(&t);
  free(url);
  ght_server_stop(&server);
  stop();
}
