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
#include "actors/github/discovery.h"
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
  const char *even_label; /* a label on the even issues, or NULL */
} fake_gh_t;

static fake_gh_t gh = {.mu = PTHREAD_MUTEX_INITIALIZER};

static json_t *issue_json(int n)
{
  json_t *is = json_pack("{s:i,s:s,s:s,s:{s:s,s:s},s:s,s:s,s:[]}", "number",
                         n, "title", "An open issue", "state", "open", "user",
                         "login", "alice", "type", "User", "created_at",
                         "2024-01-01T00:00:00Z", "updated_at",
                         "2024-01-02T00:00:00Z", "labels");
  if (gh.even_label && n % 2 == 0)
    json_array_append_new(json_object_get(is, "labels"),
                          json_pack("{s:s}", "name", gh.even_label));
  return is;
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
  gh.even_label = NULL;
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
  cfg.self_login = "ccm-bot";
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

/* The tasks of GitHub issues: kind issue, or stale-issue while stale. */
static size_t issue_tasks(void)
{
  return tasks_of_kind("issue") + tasks_of_kind("stale-issue");
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
  cr_assert_eq(issue_tasks(), 2);
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
  cr_assert_eq(issue_tasks(), 5);
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
  cr_assert_eq(issue_tasks(), 5);
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

/* The fixtures server started with @p scenario and the real client on it
 * instead of the stand-in; the scenario's base URL (free it). */
static char *recorded(ght_server_t *server, const char *scenario)
{
  ght_server_start(server);
  char *url = ght_scenario(server, scenario);
  gh_config_t cc;
  ght_config(&cc, url);
  rt_actor_release(client);
  client = ght_client(rt, &cc, NULL);
  return url;
}

/* Task abc123 of the recordings: a TODO in src/parse.c, line 12, linked
 * to issue @p issue (0: none). */
static void put_parser_todo(uint32_t issue)
{
  proto_msg_t m;
  tst_task_msg(&m, "abc123", "hello", "todo", PROTO_STATE_NEW, 1.0);
  free(m.u.task.title);
  m.u.task.title = strdup("TODO: fix the parser");
  free(m.u.task.text);
  m.u.task.text = strdup("fix the parser");
  free(m.u.task.loc.path);
  m.u.task.loc.path = strdup("src/parse.c");
  m.u.task.loc.line = 12;
  m.u.task.issue_number = issue;
  store_ack_t ack;
  TST_OK(store_write_sync(rt, writer, &m, 10000, &ack));
  proto_msg_fini(&m);
}

/* The same sweep through the real client against
 * @octokit/fixtures-server and the recording tests/data/github/
 * ccm-sync-sweep.json: each recorded request is answered once, in order,
 * and anything else is a 404, so a resumed sweep that read a page twice,
 * or a proposal sent with other bytes, fails the cycle. */
Test(sync, resumes_and_proposes_against_recorded_github_traffic)
{
  start();
  ght_server_t server;
  char *url = recorded(&server, "ccm-sync-sweep");
  put_parser_todo(0);

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
  cr_assert_eq(issue_tasks(), 3);
  proto_task_t t = task("abc123");
  cr_assert_eq(t.issue_number, 10);
  store_task_free(&t);
  free(url);
  ght_server_stop(&server);
  stop();
}

/* ------------------------------- issues closed while no webhook came */

/* The id of the task of issue @p number of ccm-fixture-org/hello. */
static void hello_issue_id(uint32_t number, char *out, size_t cap)
{
  gh_issue_t i;
  memset(&i, 0, sizeof i);
  i.number = number;
  i.title = "x";
  ghd_staleness_t st;
  memset(&st, 0, sizeof st);
  proto_finding_t f;
  TST_OK(ghd_issue_finding("hello", "ccm-fixture-org/hello", &i, &st, &f));
  snprintf(out, cap, "%s", f.fingerprint);
  ghd_finding_fini(&f);
}

static void put_issue(uint32_t number, const char *kind, proto_state_t st,
                      const char *const *labels, size_t n_labels)
{
  char id[64];
  hello_issue_id(number, id, sizeof id);
  proto_msg_t m;
  tst_task_msg(&m, id, "hello", kind, st, 1.0);
  m.u.task.issue_number = number;
  for (uint32_t i = 0; i < m.u.task.labels.len; i++)
    free(m.u.task.labels.items[i]);
  free(m.u.task.labels.items);
  m.u.task.labels.len = 0;
  m.u.task.labels.items = n_labels ? calloc(n_labels, sizeof(char *)) : NULL;
  for (size_t i = 0; i < n_labels; i++)
    m.u.task.labels.items[m.u.task.labels.len++] = strdup(labels[i]);
  store_ack_t ack;
  TST_OK(store_write_sync(rt, writer, &m, 10000, &ack));
  TST_OK(ack.rc);
  proto_msg_fini(&m);
}

static proto_task_t issue_task(uint32_t number)
{
  char id[64];
  hello_issue_id(number, id, sizeof id);
  return task(id);
}

static bool labelled(const proto_task_t *t, const char *l)
{
  for (uint32_t i = 0; i < t->labels.len; i++)
    if (!strcmp(t->labels.items[i], l))
      return true;
  return false;
}

static proto_state_t issue_state(uint32_t number)
{
  proto_task_t t = issue_task(number);
  proto_state_t s = t.state;
  store_task_free(&t);
  return s;
}

#define STALE_1 "stale: no human activity since 2024-05-01 (commented by bob)"

/* Recorded traffic (tests/data/github/ccm-sync-closed.json): issues 1 and
 * 3 are open, one per page; issue 1's last human comment is bob's of
 * 2024-05-01 (a bot and ccm's own account commented since), issue 3 has a
 * human comment dated 2099 (active whatever day the test runs). The store
 * also holds tasks of issues 2 and 4, closed on GitHub with no webhook. */
Test(sync, only_a_whole_listing_resolves_the_issues_closed_meanwhile)
{
  start();
  ght_server_t server;
  char *url = recorded(&server, "ccm-sync-closed");
  static const char *const stale3[] = {"prio:high", "stale: since long ago"};
  put_issue(1, "issue", PROTO_STATE_NEW, NULL, 0);
  put_issue(2, "issue", PROTO_STATE_TRIAGED, NULL, 0);
  put_issue(3, "stale-issue", PROTO_STATE_NEW, stale3, 2);
  put_issue(4, "stale-issue", PROTO_STATE_NEW, NULL, 0);
  put_task("aaaa01", "todo", PROTO_STATE_NEW, 10);
  static const ghs_repo_t repos[] = {
      {.id = "hello", .github = "ccm-fixture-org/hello"}};

  /* a budget cut: page 1 and its issue's comments, then stop */
  start_sweep(repos, 1, 2, 1);
  ghs_report_t r = cycle();
  cr_assert_eq(r.rc, 0, "%s", gh_strerror(r.rc));
  cr_assert(!r.complete);
  cr_assert_eq(r.resolved, 0);
  cr_assert_eq(issue_state(2), PROTO_STATE_TRIAGED, "a partial sweep");
  proto_task_t t = issue_task(1); /* stale: bob's comment is the last */
  cr_assert_str_eq(t.kind, "stale-issue");
  cr_assert(labelled(&t, STALE_1));
  cr_assert(labelled(&t, "bug"), "GitHub's labels");
  store_task_free(&t);

  /* resumed from the cursor: complete, but not one whole listing */
  r = cycle();
  cr_assert_eq(r.rc, 0, "%s", gh_strerror(r.rc));
  cr_assert(r.complete);
  cr_assert_eq(r.resolved, 0);
  cr_assert_eq(issue_state(2), PROTO_STATE_TRIAGED);
  cr_assert_eq(issue_state(4), PROTO_STATE_NEW);
  t = issue_task(3); /* carol acted: a plain issue again */
  cr_assert_str_eq(t.kind, "issue");
  cr_assert(!labelled(&t, "stale: since long ago"));
  cr_assert(labelled(&t, "prio:high"), "ccm's own labels are kept");
  store_task_free(&t);

  /* a whole listing in one cycle: 2 and 4 were closed */
  stop_sweep();
  start_sweep(repos, 1, 10, 1);
  r = cycle();
  cr_assert_eq(r.rc, 0, "%s", gh_strerror(r.rc));
  cr_assert(r.complete);
  cr_assert_eq(r.ops, 4);
  cr_assert_eq(r.resolved, 2);
  cr_assert_eq(issue_state(2), PROTO_STATE_RESOLVED);
  cr_assert_eq(issue_state(4), PROTO_STATE_RESOLVED);
  cr_assert_eq(issue_state(1), PROTO_STATE_NEW);
  cr_assert_eq(issue_state(3), PROTO_STATE_NEW);
  t = task("aaaa01");
  cr_assert_eq(t.state, PROTO_STATE_NEW, "not an issue task");
  store_task_free(&t);
  cr_assert_eq(issue_tasks(), 4);
  free(url);
  ght_server_stop(&server);
  stop();
}

static void kv_set(const char *name, const char *value)
{
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = (char *)"kv";
  m.u.command.args = json_pack("{s:s,s:s}", "name", name, "value", value);
  store_ack_t ack;
  TST_OK(store_write_sync(rt, writer, &m, 10000, &ack));
  json_decref(m.u.command.args);
}

/* A finding whose proposal issue ccm closed (it was resolved) is back:
 * its issue is reopened, never a second one created (recorded traffic,
 * tests/data/github/ccm-sync-reopen.json: the listing, the proposals with
 * issue 10 closed, then PATCH {"state":"open"}; a POST would be a 404). */
Test(sync, a_finding_back_reopens_the_issue_ccm_closed)
{
  start();
  ght_server_t server;
  char *url = recorded(&server, "ccm-sync-reopen");
  put_parser_todo(10); /* back: resolved -> new, still linked */
  kv_set("github/issue/abc123", "10");
  kv_set("github/closed/abc123", "1");
  static const ghs_repo_t repos[] = {{.id = "hello",
                                      .github = "ccm-fixture-org/hello",
                                      .propose = true,
                                      .close_resolved = true}};
  start_sweep(repos, 1, 10, 100);
  ghs_report_t r = cycle();
  cr_assert_eq(r.rc, 0, "%s", gh_strerror(r.rc));
  cr_assert(r.complete);
  cr_assert_eq(r.reopened, 1);
  cr_assert_eq(r.created, 0);
  cr_assert_eq(r.ops, 3);
  void *v = NULL;
  size_t len = 0;
  cr_assert_eq(store_kv_get(store, "github/closed/abc123", &v, &len),
               STORE_ENOTFOUND, "closed again when resolved again");
  json_t *a = audit_lines();
  cr_assert_str_eq(json_string_value(json_array_get(a, 0)),
                   "github issue.reopen ccm-fixture-org/hello#10");
  json_decref(a);
  proto_task_t t = task("abc123");
  cr_assert_eq(t.issue_number, 10);
  store_task_free(&t);
  free(url);
  ght_server_stop(&server);
  stop();
}

/* A rejected fix is not proposed again while its finding is unchanged (a
 * rescan keeps the task's state); a changed finding is another task, and
 * that one is proposed. */
Test(sync, a_rejected_fix_is_not_proposed_again_unless_the_finding_changes)
{
  start();
  static const ghs_repo_t repos[] = {{.id = "demo", .github = REPO,
                                      .propose = true}};
  put_task("aaaa05", "todo", PROTO_STATE_REJECTED, 3);
  /* the rescan sees the same finding again */
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = (char *)"seen";
  m.u.command.args = json_pack("{s:s,s:I,s:s,s:I}", "task", "aaaa05", "at",
                               (json_int_t)5000, "path", "a.c", "line",
                               (json_int_t)4);
  store_ack_t ack;
  TST_OK(store_write_sync(rt, writer, &m, 10000, &ack));
  TST_OK(ack.rc);
  json_decref(m.u.command.args);
  start_sweep(repos, 1, 100, 100);
  ghs_report_t r = cycle();
  cr_assert_eq(r.created, 0);
  cr_assert_eq(count_requests("POST "), 0);
  proto_task_t t = task("aaaa05");
  cr_assert_eq(t.state, PROTO_STATE_REJECTED);
  store_task_free(&t);
  /* the finding changed: another fingerprint, another task */
  put_task("aaaa06", "todo", PROTO_STATE_NEW, 3);
  r = cycle();
  cr_assert_eq(r.created, 1);
  cr_assert_eq(count_requests("POST "), 1);
  stop();
}

/* cfg: one repository (REPO as "demo"), no timer, reports to the test. */
static void sweep_config(const char *name)
{
  static const ghs_repo_t repos[] = {{.id = "demo", .github = REPO}};
  ghs_config_defaults(&cfg);
  cfg.name = name;
  cfg.store = store;
  cfg.store_actor = writer;
  cfg.client = client;
  cfg.repos = repos;
  cfg.n_repos = 1;
  cfg.interval_ms = 0;
  cfg.observer = rt_port_actor(reports);
}

/* One sweep with sweep_config(@p name), which must list everything. */
static void sweep_whole(const char *name)
{
  sweep_config(name);
  TST_OK(ghs_spawn(rt, &cfg, &sweep));
  ghs_report_t r = cycle();
  cr_assert(r.complete);
}

/* Issues opened in 2024 with no comment are stale, unless an exempt
 * label (github.stale_exempt_labels) holds them. */
Test(sync, an_exempt_label_keeps_an_issue_from_going_stale)
{
  start();
  gh.open_issues = 2;
  gh.even_label = "pinned";
  static const char *const exempt[] = {"pinned"};
  sweep_config("sweep-exempt");
  cfg.exempt_labels = exempt;
  cfg.n_exempt = 1;
  TST_OK(ghs_spawn(rt, &cfg, &sweep));
  ghs_report_t r = cycle();
  cr_assert(r.complete);
  cr_assert_eq(tasks_of_kind("stale-issue"), 1, "issue 1");
  tst_task_list_t l = {0};
  store_filter_t f = {.state = -1, .kind = "issue"};
  TST_OK(tst_collect(store, &f, &l));
  cr_assert_eq(l.n, 1);
  proto_task_t t = task(l.rows[0].id);
  cr_assert_eq(t.issue_number, 2);
  cr_assert(labelled(&t, "pinned"));
  store_task_free(&t);
  tst_task_list_free(&l);
  stop();
}

/* Open issues labelled ccm:proposal are ccm's own proposals: they mirror
 * a finding's task, so the sweep makes no issue task of them and reads
 * none of their comments. */
Test(sync, proposal_issues_are_not_swept_into_issue_tasks)
{
  start();
  gh.open_issues = 4;
  gh.even_label = "ccm:proposal";
  sweep_whole("sweep-proposals");
  cr_assert_eq(tasks_of_kind("issue") + tasks_of_kind("stale-issue"), 2);
  cr_assert_eq(count_requests("GET /repos/acme/demo/issues/2/comments"), 0);
  cr_assert_eq(count_requests("GET /repos/acme/demo/issues/4/comments"), 0);
  cr_assert_eq(count_requests("GET /repos/acme/demo/issues/1/comments"), 1);
  stop();
}

/* An issue already labelled ccm:approved when the sweep first finds it (no
 * webhook came) has its task approved: `ready`, as the label's webhook
 * would have made it; the other issue's task waits in `new`. */
Test(sync, an_issue_found_with_the_approval_label_is_ready)
{
  start();
  gh.open_issues = 2;
  gh.even_label = "ccm:approved";
  sweep_whole("sweep-approved");
  tst_task_list_t l = {0};
  store_filter_t f = {.state = -1};
  TST_OK(tst_collect(store, &f, &l));
  size_t ready = 0, waiting = 0;
  for (size_t i = 0; i < l.n; i++) {
    proto_task_t t = task(l.rows[i].id);
    if (t.issue_number == 2) {
      cr_assert_eq(t.state, PROTO_STATE_READY, "issue 2: %s",
                   proto_state_name(t.state));
      ready++;
    } else if (t.issue_number == 1) {
      cr_assert_eq(t.state, PROTO_STATE_NEW);
      waiting++;
    }
    store_task_free(&t);
  }
  tst_task_list_free(&l);
  cr_assert_eq(ready, 1);
  cr_assert_eq(waiting, 1);
  stop();
}
