/*
 * test_rest.c: the REST API and /metrics over HTTP on loopback
 * (web/http.c, web/rest.c, web/actions.c, web/metrics.c).
 *
 * Contract: every route of SPEC §3 answers with its envelope; lists are
 * filtered, ranked and paged by an opaque cursor without loss or repeats;
 * actions change the task only through the store's state machine (409
 * otherwise) and publish the task on "tasks"; scans and runs reach the
 * "scanner"/"executor" actors when registered (503 for a scan without
 * one); every error is {"error":{"code","message"}} with its status (400,
 * 401, 404, 405, 409, 413, 415, 503); the bearer token, when set, guards
 * every route and is compared whole; security headers are on every
 * answer; CORS headers appear only for the configured origin; /metrics
 * passes `promtool check metrics`.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_actor.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"
#include "tests/web/web_test.h"

TestSuite(rest, .timeout = 120);

static wt_server_t srv;

static void get(const char *path, wt_resp_t *r)
{
  wt_http(&srv, "GET", path, NULL, NULL, r);
}

static void post(const char *path, const char *body, wt_resp_t *r)
{
  wt_http(&srv, "POST", path, body, NULL, r);
}

/* POST {"action": @p action} to task @p id; returns the status. */
static long act(const char *id, const char *body, wt_resp_t *r)
{
  char path[256];
  snprintf(path, sizeof(path), "/api/v1/tasks/%s/actions", id);
  post(path, body, r);
  return r->status;
}

static const char *str_at(const json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

/* --------------------------------------------------------------- health */

Test(rest, health_answers_ok_with_checks)
{
  wt_start(&srv, NULL);
  wt_resp_t r;
  get("/api/v1/health", &r);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(str_at(r.json, "status"), "ok");
  json_t *checks = json_object_get(r.json, "checks");
  cr_assert_str_eq(str_at(checks, "store"), "ok");
  cr_assert_str_eq(wt_header(&r, "content-type"), "application/json");
  wt_resp_free(&r);
  wt_stop(&srv);
}

/* Reader-table exhaustion: each level of hold_deeper() keeps one more read
 * transaction of the store open (a nested store_task_foreach), until the
 * store refuses one. Then every slot is held and nothing else in the
 * process can read the store, the server included: /health must say so.
 * A slot another thread released meanwhile is taken by going deeper. */
typedef struct hold {
  int tries;
  bool done;
  long status;    /* /health while every slot is held */
  char store[128]; /* its checks.store */
} hold_t;

static void hold_deeper(hold_t *h);

static int hold_level(const proto_task_t *t, void *arg)
{
  (void)t;
  hold_deeper(arg);
  return 1;
}

static void hold_deeper(hold_t *h)
{
  store_filter_t all = {.state = -1};
  while (!h->done && h->tries++ < 1000) {
    if (store_task_foreach(srv.store, &all, hold_level, h) == 0)
      continue; /* it went deeper (and is done), or the list was empty */
    wt_resp_t r;
    get("/api/v1/health", &r);
    if (r.status != 200) {
      h->status = r.status;
      snprintf(h->store, sizeof(h->store), "%s",
               str_at(json_object_get(r.json, "checks"), "store"));
      cr_assert_str_eq(str_at(r.json, "status"), "unavailable");
      h->done = true;
    }
    wt_resp_free(&r);
  }
}

Test(rest, health_reports_a_store_it_cannot_read)
{
  wt_start(&srv, NULL);
  wt_put_task(&srv, "t1", "demo", "todo", PROTO_STATE_NEW, 1.0);
  hold_t h = {0};
  hold_deeper(&h);
  cr_assert(h.done, "the store never refused a read (%d tries)", h.tries);
  cr_assert_eq(h.status, 503);
  cr_assert(strlen(h.store) > 0 && strcmp(h.store, "ok") != 0,
            "checks.store: %s", h.store);
  wt_resp_t r; /* every transaction ended: readable again */
  get("/api/v1/health", &r);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(str_at(r.json, "status"), "ok");
  wt_resp_free(&r);
  wt_stop(&srv);
}

Test(rest, security_headers_on_every_answer)
{
  wt_start(&srv, NULL);
  static const char *const paths[] = {"/api/v1/health", "/nope", "/metrics",
                                      "/api/v1/tasks/x"};
  for (size_t i = 0; i < 4; i++) {
    wt_resp_t r;
    get(paths[i], &r);
    cr_assert_str_eq(wt_header(&r, "x-content-type-options"), "nosniff");
    cr_assert_str_eq(wt_header(&r, "x-frame-options"), "DENY");
    cr_assert_str_eq(wt_header(&r, "referrer-policy"), "no-referrer");
    const char *csp = wt_header(&r, "content-security-policy");
    cr_assert(csp && strstr(csp, "default-src 'self'") &&
                  strstr(csp, "frame-ancestors 'none'"),
              "CSP on %s: %s", paths[i], csp ? csp : "(none)");
    cr_assert_null(wt_header(&r, "access-control-allow-origin"));
    wt_resp_free(&r);
  }
  wt_stop(&srv);
}

/* ---------------------------------------------------------------- tasks */

static void seed(void)
{
  /* id, repo, kind, state, score */
  wt_put_task(&srv, "t1", "demo", "todo", PROTO_STATE_TRIAGED, 5);
  wt_put_task(&srv, "t2", "demo", "fixme", PROTO_STATE_TRIAGED, 9);
  wt_put_task(&srv, "t3", "other", "todo", PROTO_STATE_READY, 1);
  wt_put_task(&srv, "t4", "demo", "todo", PROTO_STATE_NEW, 7);
  wt_put_task(&srv, "t5", "other", "hack", PROTO_STATE_TRIAGED, 9);
}

static char *ids_of(const wt_resp_t *r)
{
  static char buf[512];
  buf[0] = '\0';
  json_t *tasks = json_object_get(r->json, "tasks");
  cr_assert(json_is_array(tasks), "%s", r->body);
  size_t i;
  json_t *t;
  json_array_foreach(tasks, i, t) {
    strcat(buf, i ? "," : "");
    strcat(buf, str_at(t, "id"));
  }
  return buf;
}

Test(rest, tasks_are_listed_ranked_and_filtered)
{
  wt_start(&srv, NULL);
  seed();
  wt_resp_t r;
  get("/api/v1/tasks", &r);
  cr_assert_eq(r.status, 200, "%s", r.body);
  /* states in table order (new, triaged, ready), best score first */
  cr_assert_str_eq(ids_of(&r), "t4,t2,t5,t1,t3");
  cr_assert(json_is_null(json_object_get(r.json, "next_cursor")));
  json_t *t4 = json_array_get(json_object_get(r.json, "tasks"), 0);
  cr_assert_str_eq(str_at(t4, "state"), "new");
  cr_assert_str_eq(str_at(t4, "kind"), "todo");
  cr_assert(json_is_object(json_object_get(t4, "score")));
  wt_resp_free(&r);

  get("/api/v1/tasks?state=triaged", &r);
  cr_assert_str_eq(ids_of(&r), "t2,t5,t1");
  wt_resp_free(&r);
  get("/api/v1/tasks?repo=other", &r);
  cr_assert_str_eq(ids_of(&r), "t3,t5");
  wt_resp_free(&r);
  get("/api/v1/tasks?kind=todo&state=triaged", &r);
  cr_assert_str_eq(ids_of(&r), "t1");
  wt_resp_free(&r);
  get("/api/v1/tasks?kind=nothing", &r);
  cr_assert_str_eq(ids_of(&r), "");
  wt_resp_free(&r);
  wt_stop(&srv);
}

/* Page through @p query with @p limit; the ids joined, pages counted. */
static char *page_all(const char *query, int limit, int *pages)
{
  static char all[4096];
  char cursor[512] = "";
  all[0] = '\0';
  *pages = 0;
  for (;;) {
    char path[1024];
    snprintf(path, sizeof(path), "/api/v1/tasks?%s%slimit=%d%s%s", query,
             *query ? "&" : "", limit, *cursor ? "&cursor=" : "", cursor);
    wt_resp_t r;
    get(path, &r);
    cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
    cr_assert_leq(json_array_size(json_object_get(r.json, "tasks")),
                  (size_t)limit);
    const char *ids = ids_of(&r);
    if (*ids)
      strcat(strcat(all, *all ? "," : ""), ids);
    (*pages)++;
    json_t *next = json_object_get(r.json, "next_cursor");
    if (json_is_null(next)) {
      wt_resp_free(&r);
      return all;
    }
    snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
    wt_resp_free(&r);
    cr_assert_lt(*pages, 50, "paging does not end");
  }
}

Test(rest, cursor_pages_through_everything_once)
{
  wt_start(&srv, NULL);
  seed();
  int pages;
  cr_assert_str_eq(page_all("", 2, &pages), "t4,t2,t5,t1,t3");
  cr_assert_eq(pages, 3);
  cr_assert_str_eq(page_all("", 1, &pages), "t4,t2,t5,t1,t3");
  cr_assert_eq(pages, 5);
  cr_assert_str_eq(page_all("repo=demo", 2, &pages), "t1,t2,t4");
  cr_assert_str_eq(page_all("state=triaged", 2, &pages), "t2,t5,t1");

  /* A task added before the cursor's position does not shift the pages. */
  wt_resp_t r;
  get("/api/v1/tasks?limit=2", &r);
  char cursor[512];
  snprintf(cursor, sizeof(cursor), "%s",
           json_string_value(json_object_get(r.json, "next_cursor")));
  wt_resp_free(&r);
  wt_put_task(&srv, "t0", "demo", "todo", PROTO_STATE_NEW, 9.5);
  char path[700];
  snprintf(path, sizeof(path), "/api/v1/tasks?limit=10&cursor=%s", cursor);
  get(path, &r);
  cr_assert_str_eq(ids_of(&r), "t5,t1,t3");
  wt_resp_free(&r);
  wt_stop(&srv);
}

/* The store orders equal scores (and the repo/kind lists) by insertion,
 * not by id: pages still follow that order without a skip or a repeat. */
Test(rest, cursor_follows_ties_in_the_store_order)
{
  wt_start(&srv, NULL);
  static const char *const ids[] = {"t9", "t1", "t5", "t3", "t7"};
  for (size_t i = 0; i < 5; i++)
    wt_put_task(&srv, ids[i], "demo", "todo", PROTO_STATE_NEW, 2.0);
  wt_put_task(&srv, "t0", "demo", "todo", PROTO_STATE_NEW, 1.0);
  int pages;
  for (int limit = 1; limit <= 3; limit++) {
    cr_assert_str_eq(page_all("", limit, &pages), "t9,t1,t5,t3,t7,t0");
    cr_assert_str_eq(page_all("repo=demo", limit, &pages),
                     "t9,t1,t5,t3,t7,t0");
  }
  wt_stop(&srv);
}

/* The value of the unlabelled metric @p name in /metrics (with @p hdrs). */
static long metric(const char *const *hdrs, const char *name)
{
  wt_resp_t r;
  wt_http(&srv, "GET", "/metrics", NULL, hdrs, &r);
  cr_assert_eq(r.status, 200, "%s", r.body);
  char line[128];
  snprintf(line, sizeof(line), "\n%s ", name);
  const char *p = strstr(r.body, line);
  cr_assert(p, "%s: %s", name, r.body);
  long n = strtol(p + strlen(line), NULL, 10);
  wt_resp_free(&r);
  return n;
}

/* ccm_http_task_pages_cached_total from /metrics (with @p hdrs). */
static long pages_cached(const char *const *hdrs)
{
  return metric(hdrs, "ccm_http_task_pages_cached_total");
}

static const char *state_of(const wt_resp_t *r, const char *id)
{
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(r->json, "tasks"), i, t)
    if (!strcmp(str_at(t, "id"), id))
      return str_at(t, "state");
  return NULL;
}

/* A page asked again while the store is unchanged is served from the
 * page cache (same bytes); any write makes the next one show the store
 * as it is now; each query (and cursor) has its own page. */
Test(rest, task_pages_are_cached_until_the_store_changes)
{
  wt_start(&srv, NULL);
  seed();
  wt_resp_t a, b;
  get("/api/v1/tasks?limit=3", &a);
  cr_assert_eq(a.status, 200, "%s", a.body);
  cr_assert_eq(pages_cached(NULL), 0);
  get("/api/v1/tasks?limit=3", &b);
  cr_assert_eq(pages_cached(NULL), 1);
  cr_assert_str_eq(b.body, a.body);
  cr_assert_str_eq(state_of(&b, "t4"), "new");
  wt_resp_free(&b);

  /* Another query, and the next page, are other pages. */
  get("/api/v1/tasks?limit=3&state=triaged", &b);
  cr_assert_str_eq(ids_of(&b), "t2,t5,t1");
  wt_resp_free(&b);
  char path[700];
  snprintf(path, sizeof(path), "/api/v1/tasks?limit=3&cursor=%s",
           json_string_value(json_object_get(a.json, "next_cursor")));
  get(path, &b);
  cr_assert_str_eq(ids_of(&b), "t1,t3");
  wt_resp_free(&b);
  cr_assert_eq(pages_cached(NULL), 1);

  /* A task update: the page shows it at once, then is cached again. */
  wt_move(&srv, "t4", PROTO_STATE_NEW, PROTO_STATE_TRIAGED);
  get("/api/v1/tasks?limit=3", &b);
  cr_assert_str_eq(state_of(&b, "t4"), "triaged", "%s", b.body);
  cr_assert_str_eq(ids_of(&b), "t2,t5,t4");
  cr_assert_eq(pages_cached(NULL), 1);
  wt_resp_free(&b);
  get("/api/v1/tasks?limit=3", &b);
  cr_assert_str_eq(ids_of(&b), "t2,t5,t4");
  cr_assert_eq(pages_cached(NULL), 2);
  wt_resp_free(&b);

  /* A new task too, written straight to the store (not via the server). */
  wt_put_task(&srv, "t6", "demo", "todo", PROTO_STATE_NEW, 1);
  get("/api/v1/tasks?limit=3", &b);
  cr_assert_str_eq(ids_of(&b), "t6,t2,t5");
  cr_assert_eq(pages_cached(NULL), 2);
  wt_resp_free(&b);
  wt_resp_free(&a);
  wt_stop(&srv);
}

/* The server with the bearer token "s3cret-token". */
static void start_with_token(void)
{
  web_config_t c;
  web_config_defaults(&c);
  c.auth_token = "s3cret-token";
  wt_start(&srv, &c);
}

/* A cached page is still behind the bearer token, and its answer carries
 * the same headers as a fresh one. */
Test(rest, cached_task_pages_keep_auth_and_headers)
{
  start_with_token();
  seed();
  static const char *const right[] = {"Authorization: Bearer s3cret-token",
                                      NULL};
  wt_resp_t a, b;
  wt_http(&srv, "GET", "/api/v1/tasks", NULL, right, &a);
  cr_assert_eq(a.status, 200, "%s", a.body);
  wt_http(&srv, "GET", "/api/v1/tasks", NULL, right, &b);
  cr_assert_eq(pages_cached(right), 1);
  cr_assert_str_eq(b.body, a.body);
  static const char *const names[] = {
      "content-type", "content-security-policy", "x-content-type-options",
      "x-frame-options", "referrer-policy", "cache-control"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    char first[512];
    const char *h = wt_header(&a, names[i]);
    cr_assert(h, "%s missing", names[i]);
    snprintf(first, sizeof(first), "%s", h);
    cr_assert_str_eq(wt_header(&b, names[i]), first, "%s", names[i]);
  }
  wt_resp_free(&b);
  wt_http(&srv, "GET", "/api/v1/tasks", NULL, NULL, &b);
  wt_assert_error(&b, 401, "unauthorized");
  wt_resp_free(&b);
  cr_assert_eq(pages_cached(right), 1);
  wt_resp_free(&a);
  wt_stop(&srv);
}

/* Big pages, fresh and cached: each answer is whole (same bytes, its
 * Content-Length), and one that fits a write (32 KiB) leaves in one
 * send(): lws sends 4 KiB per send() and keeps the rest for later loop
 * turns unless the HTTP protocol's tx_packet_size says otherwise, which
 * ccm_http_writes_buffered_total shows. The 32 KiB+ page goes in chunks
 * from the cache, the cached page under the headers is never changed. */
Test(rest, big_task_pages_leave_whole_in_one_write)
{
  wt_start(&srv, NULL);
  enum { TASKS = 150 };
  for (int i = 0; i < TASKS; i++) {
    char id[16];
    snprintf(id, sizeof(id), "big%03d", i);
    wt_put_task(&srv, id, "demo", "todo", PROTO_STATE_TRIAGED, i % 13);
  }
  long writes0 = metric(NULL, "ccm_http_writes_total");
  long buffered0 = metric(NULL, "ccm_http_writes_buffered_total");
  wt_resp_t first, big, r;
  get("/api/v1/tasks?limit=40", &first);
  cr_assert_eq(first.status, 200, "%s", first.body);
  cr_assert_gt(first.body_len, 8192, "a page of several 4 KiB sends");
  cr_assert_lt(first.body_len, 30000, "a page that fits one write");
  for (int i = 0; i < 6; i++) {
    get("/api/v1/tasks?limit=40", &r);
    cr_assert_eq(r.body_len, first.body_len);
    cr_assert_str_eq(r.body, first.body);
    char clen[32];
    snprintf(clen, sizeof(clen), "%zu", r.body_len);
    cr_assert_str_eq(wt_header(&r, "content-length"), clen);
    wt_resp_free(&r);
  }
  get("/api/v1/tasks?limit=1000", &big);
  cr_assert_gt(big.body_len, 40000, "a page of several writes");
  cr_assert_eq(json_array_size(json_object_get(big.json, "tasks")), TASKS);
  for (int i = 0; i < 2; i++) {
    get("/api/v1/tasks?limit=1000", &r);
    cr_assert_str_eq(r.body, big.body);
    wt_resp_free(&r);
  }
  cr_assert_eq(pages_cached(NULL), 8);
  long writes = metric(NULL, "ccm_http_writes_total") - writes0;
  long buffered = metric(NULL, "ccm_http_writes_buffered_total") - buffered0;
  /* 7 one-write answers, 3 of at least 2 writes, the /metrics reads. */
  cr_assert_geq(writes, 7 + 3 * 2);
  cr_assert_lt(buffered, 3, "%ld of %ld writes were not sent whole",
               buffered, writes);
  wt_resp_free(&big);
  wt_resp_free(&first);
  wt_stop(&srv);
}

Test(rest, bad_list_arguments_are_400)
{
  wt_start(&srv, NULL);
  static const char *const bad[] = {
      "state=open", "limit=0", "limit=1001", "limit=ten", "limit=",
      "cursor=zz", "cursor=abc", "cursor=", "state=new&state=ready",
      /* a cursor of the id order used with the ranked order */
      "cursor=6974",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/tasks?%s", bad[i]);
    wt_resp_t r;
    get(path, &r);
    wt_assert_error(&r, 400, "bad_request");
    wt_resp_free(&r);
  }
  wt_stop(&srv);
}

Test(rest, task_detail_has_history_and_score)
{
  wt_start(&srv, NULL);
  seed();
  wt_resp_t r;
  get("/api/v1/tasks/t2", &r);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(str_at(r.json, "id"), "t2");
  json_t *score = json_object_get(r.json, "score");
  cr_assert_float_eq(json_number_value(json_object_get(score, "total")), 9.0,
                     1e-9);
  json_t *hist = json_object_get(r.json, "history");
  cr_assert_eq(json_array_size(hist), 1, "%s", r.body);
  cr_assert_str_eq(str_at(json_array_get(hist, 0), "from"), "new");
  cr_assert_str_eq(str_at(json_array_get(hist, 0), "to"), "triaged");
  wt_resp_free(&r);

  get("/api/v1/tasks/missing", &r);
  wt_assert_error(&r, 404, "not_found");
  wt_resp_free(&r);
  get("/api/v1/tasks/bad%20id", &r);
  wt_assert_error(&r, 404, "not_found");
  wt_resp_free(&r);
  /* lws decodes the path into a C string: a NUL inside would cut it to
   * another resource (here the panel's index at "/") */
  get("/%00api/v1/tasks/t2", &r);
  wt_assert_error(&r, 400, "bad_request");
  wt_resp_free(&r);
  wt_stop(&srv);
}

/* -------------------------------------------------------------- actions */

static int count_events(const proto_event_t *e, void *arg)
{
  if (!strcmp(e->topic, "tasks"))
    ++*(int *)arg;
  return 0;
}

/* The tasks events in the log, waited for (publishing is asynchronous). */
static bool tasks_events_reach(int n)
{
  int got = 0;
  return TST_EVENTUALLY((got = 0, store_event_foreach(srv.store, 0,
                                                      count_events, &got),
                         got >= n),
                        WT_WAIT_MS);
}

/* Move task @p id from @p from to @p to through the store actor. */
static void move(const char *id, proto_state_t from, proto_state_t to)
{
  wt_move(&srv, id, from, to);
}

Test(rest, run_approves_through_the_state_machine)
{
  wt_start(&srv, NULL);
  seed();
  wt_resp_t r;
  cr_assert_eq(act("t4", "{\"action\":\"run\"}", &r), 202, "%s", r.body);
  cr_assert_str_eq(str_at(r.json, "state"), "ready");
  wt_resp_free(&r);
  cr_assert_eq(wt_task_state(&srv, "t4"), PROTO_STATE_READY);
  proto_task_update_t *h = NULL;
  size_t n = tst_history(srv.store, "t4", &h);
  cr_assert_eq(n, 3, "new->new(created), new->triaged, triaged->ready");
  cr_assert_eq(h[1].to, PROTO_STATE_TRIAGED);
  cr_assert_eq(h[2].to, PROTO_STATE_READY);
  cr_assert_str_eq(h[2].actor, "user");
  tst_history_free(h, n);
  cr_assert(tasks_events_reach(1), "the change is published on \"tasks\"");

  /* Already approved: accepted again, nothing written. */
  cr_assert_eq(act("t4", "{\"action\":\"run\"}", &r), 202);
  wt_resp_free(&r);
  wt_put_task(&srv, "t9", "demo", "todo", PROTO_STATE_NEW, 1);
  move("t9", PROTO_STATE_NEW, PROTO_STATE_TRIAGED);
  move("t9", PROTO_STATE_TRIAGED, PROTO_STATE_READY);
  move("t9", PROTO_STATE_READY, PROTO_STATE_RUNNING);
  act("t9", "{\"action\":\"run\"}", &r);
  wt_assert_error(&r, 409, "conflict");
  wt_resp_free(&r);
  wt_stop(&srv);
}

/* An action whose store write is not confirmed by store_timeout_ms is
 * answered 202 {"status":"pending","task":<as stored now>} rather than an
 * error, since the write may still commit; it does once the store takes
 * it, and the task is then published on "tasks". */
Test(rest, slow_store_write_answers_pending_then_publishes)
{
  web_config_t cfg;
  web_config_defaults(&cfg);
  cfg.store_timeout_ms = 200;
  wt_start_gated(&srv, &cfg); /* holds every write until opened */
  wt_put_task(&srv, "t1", "demo", "todo", PROTO_STATE_TRIAGED, 5);
  wt_resp_t r;
  cr_assert_eq(act("t1", "{\"action\":\"run\"}", &r), 202, "%s", r.body);
  cr_assert_str_eq(str_at(r.json, "status"), "pending", "%s", r.body);
  cr_assert_str_eq(str_at(json_object_get(r.json, "task"), "state"),
                   "triaged", "%s", r.body);
  wt_resp_free(&r);
  cr_assert_eq(wt_task_state(&srv, "t1"), PROTO_STATE_TRIAGED);
  wt_gate_open(&srv);
  cr_assert(tasks_events_reach(1), "the late commit is published");
  cr_assert_eq(wt_task_state(&srv, "t1"), PROTO_STATE_READY);
  wt_stop(&srv);
}

Test(rest, skip_cancel_requeue_pin)
{
  wt_start(&srv, NULL);
  seed();
  wt_resp_t r;
  cr_assert_eq(act("t1", "{\"action\":\"skip\"}", &r), 200, "%s", r.body);
  cr_assert_str_eq(str_at(r.json, "state"), "skipped");
  wt_resp_free(&r);
  cr_assert_eq(act("t1", "{\"action\":\"skip\"}", &r), 200, "idempotent");
  wt_resp_free(&r);
  cr_assert_eq(act("t1", "{\"action\":\"requeue\"}", &r), 200, "%s", r.body);
  cr_assert_str_eq(str_at(r.json, "state"), "triaged");
  wt_resp_free(&r);

  cr_assert_eq(act("t3", "{\"action\":\"cancel\"}", &r), 200, "%s", r.body);
  cr_assert_str_eq(str_at(r.json, "state"), "triaged");
  wt_resp_free(&r);
  act("t4", "{\"action\":\"cancel\"}", &r); /* new: nothing to cancel */
  wt_assert_error(&r, 409, "conflict");
  wt_resp_free(&r);

  cr_assert_eq(act("t2", "{\"action\":\"pin\"}", &r), 200, "%s", r.body);
  cr_assert(json_is_true(json_object_get(r.json, "pinned")), "%s", r.body);
  cr_assert_str_eq(str_at(r.json, "state"), "triaged");
  wt_resp_free(&r);
  cr_assert_eq(act("t2", "{\"action\":\"pin\",\"args\":{\"pinned\":false}}",
                   &r), 200);
  cr_assert(json_is_false(json_object_get(r.json, "pinned")));
  wt_resp_free(&r);
  act("t2", "{\"action\":\"pin\",\"args\":{\"pinned\":1}}", &r);
  wt_assert_error(&r, 400, "bad_request");
  wt_resp_free(&r);
  cr_assert(tasks_events_reach(4), "skip, requeue, cancel, pin, unpin");
  wt_stop(&srv);
}

Test(rest, action_errors)
{
  wt_start(&srv, NULL);
  seed();
  wt_resp_t r;
  static const char *const bad400[] = {
      "{}", "{\"action\":7}", "{\"action\":\"explode\"}",
      "{\"action\":\"scan\"}", "{\"action\":\"run\",\"args\":[1]}",
      "[\"run\"]", "{\"action\":", "{\"action\":\"run\",\"action\":\"skip\"}",
  };
  for (size_t i = 0; i < sizeof(bad400) / sizeof(bad400[0]); i++) {
    act("t1", bad400[i], &r);
    wt_assert_error(&r, 400, "bad_request");
    wt_resp_free(&r);
  }
  act("nope", "{\"action\":\"run\"}", &r);
  wt_assert_error(&r, 404, "not_found");
  wt_resp_free(&r);

  static const char *const text_plain[] = {"Content-Type: text/plain", NULL};
  wt_http(&srv, "POST", "/api/v1/tasks/t1/actions", "{\"action\":\"run\"}",
          text_plain, &r);
  wt_assert_error(&r, 415, "unsupported_media_type");
  wt_resp_free(&r);

  size_t big = 70 * 1024;
  char *body = malloc(big + 1);
  memset(body, ' ', big);
  memcpy(body, "{\"action\":\"run\",\"x\":\"", 21);
  body[big - 2] = '"';
  body[big - 1] = '}';
  body[big] = '\0';
  wt_http(&srv, "POST", "/api/v1/tasks/t1/actions", body, NULL, &r);
  wt_assert_error(&r, 413, "too_large");
  wt_resp_free(&r);
  free(body);
  cr_assert_eq(wt_task_state(&srv, "t1"), PROTO_STATE_TRIAGED,
               "no error changed anything");

  wt_http(&srv, "GET", "/api/v1/tasks/t1/actions", NULL, NULL, &r);
  wt_assert_error(&r, 405, "method_not_allowed");
  cr_assert_str_eq(wt_header(&r, "allow"), "POST, OPTIONS");
  wt_resp_free(&r);
  wt_http(&srv, "POST", "/api/v1/tasks", "{}", NULL, &r);
  wt_assert_error(&r, 405, "method_not_allowed");
  cr_assert_str_eq(wt_header(&r, "allow"), "GET, OPTIONS");
  wt_resp_free(&r);
  wt_http(&srv, "GET", "/api/v1/nothing", NULL, NULL, &r);
  wt_assert_error(&r, 404, "not_found");
  wt_resp_free(&r);
  wt_http(&srv, "GET", "/ws", NULL, NULL, &r);
  wt_assert_error(&r, 400, "bad_request");
  wt_resp_free(&r);
  wt_stop(&srv);
}

Test(rest, keep_alive_connection_serves_several_requests)
{
  wt_start(&srv, NULL);
  seed();
  CURL *c = curl_easy_init();
  char url[128];
  struct curl_slist *h =
      curl_slist_append(NULL, "Content-Type: application/json");
  FILE *sink = fopen("/dev/null", "w");
  curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)WT_WAIT_MS);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  for (int i = 0; i < 6; i++) {
    bool is_post = i % 2;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/%s", srv.port,
             is_post ? "tasks/t1/actions" : "health");
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (is_post)
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"action\":\"pin\"}");
    else
      curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    long status = 0, conns = -1;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
    cr_assert_eq(status, 200);
    if (i > 0)
      cr_assert_eq(conns, 0, "request %d opened a new connection", i);
  }
  fclose(sink);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  wt_stop(&srv);
}

/* ------------------------------------------------- scanner and executor */

static proto_msg_t decode(rt_msg_t *m)
{
  size_t len = 0;
  const void *d = rt_msg_data(m, &len);
  proto_msg_t pm;
  char err[128];
  cr_assert_eq(proto_msgpack_decode(d, len, &pm, err, sizeof(err)), 0, "%s",
               err);
  return pm;
}

Test(rest, scan_reaches_the_scanner_or_says_why_not)
{
  wt_start(&srv, NULL);
  wt_resp_t r;
  post("/api/v1/repos/demo/scan", NULL, &r);
  wt_assert_error(&r, 503, "unavailable");
  wt_resp_free(&r);
  post("/api/v1/repos/nope/scan", NULL, &r);
  wt_assert_error(&r, 404, "not_found");
  wt_resp_free(&r);

  rt_port_t *port = tst_port(srv.rt, 0);
  rt_actor_t *scanner = wt_forwarder(srv.rt, "scanner", port);
  post("/api/v1/repos/demo/scan", "{\"full\":true}", &r);
  cr_assert_eq(r.status, 202, "%s", r.body);
  cr_assert_str_eq(str_at(r.json, "status"), "queued");
  wt_resp_free(&r);
  rt_msg_t *m = tst_recv_type(port, WEB_MSG_SCAN);
  proto_msg_t pm = decode(m);
  cr_assert_eq(pm.type, PROTO_SCAN_REQUEST);
  cr_assert_str_eq(pm.u.scan_request.repo, "demo");
  cr_assert(pm.u.scan_request.full);
  proto_msg_fini(&pm);
  rt_msg_free(m);
  post("/api/v1/repos/demo/scan", "{\"full\":\"yes\"}", &r);
  wt_assert_error(&r, 400, "bad_request");
  wt_resp_free(&r);
  rt_actor_release(scanner);
  web_stop(srv.web);
  srv.web = NULL;
  tst_quiesce(srv.rt);
  rt_port_free(port);
  wt_stop(&srv);
}

Test(rest, run_tells_the_executor)
{
  wt_start(&srv, NULL);
  seed();
  rt_port_t *port = tst_port(srv.rt, 0);
  rt_actor_t *ex = wt_forwarder(srv.rt, "executor", port);
  wt_resp_t r;
  cr_assert_eq(act("t1", "{\"action\":\"run\"}", &r), 202, "%s", r.body);
  wt_resp_free(&r);
  rt_msg_t *m = tst_recv_type(port, WEB_MSG_COMMAND);
  proto_msg_t pm = decode(m);
  cr_assert_eq(pm.type, PROTO_COMMAND);
  cr_assert_str_eq(pm.u.command.action, "run");
  cr_assert_str_eq(str_at(pm.u.command.args, "task"), "t1");
  proto_msg_fini(&pm);
  rt_msg_free(m);
  rt_actor_release(ex);
  web_stop(srv.web);
  srv.web = NULL;
  tst_quiesce(srv.rt);
  rt_port_free(port);
  wt_stop(&srv);
}

/* --------------------------------------------------- repos, actors, ... */

Test(rest, repos_actors_and_summary)
{
  wt_start(&srv, NULL);
  seed();
  wt_resp_t r;
  get("/api/v1/repos", &r);
  cr_assert_eq(r.status, 200);
  json_t *repo = json_array_get(json_object_get(r.json, "repos"), 0);
  cr_assert_str_eq(str_at(repo, "id"), "demo");
  cr_assert_str_eq(str_at(repo, "github"), "acme/demo");
  wt_resp_free(&r);

  get("/api/v1/actors", &r);
  cr_assert_eq(r.status, 200);
  json_t *actors = json_object_get(r.json, "actors");
  bool store = false, web = false;
  size_t i;
  json_t *a;
  json_array_foreach(actors, i, a) {
    store |= !strcmp(str_at(a, "name"), "store");
    web |= !strcmp(str_at(a, "type"), "web");
    cr_assert(json_is_integer(json_object_get(a, "mailbox_depth")));
    cr_assert(json_is_integer(json_object_get(a, "processed")));
  }
  cr_assert(store && web, "%s", r.body);
  wt_resp_free(&r);

  get("/api/v1/metrics/summary", &r);
  cr_assert_eq(r.status, 200);
  json_t *tasks = json_object_get(r.json, "tasks");
  cr_assert_eq(json_integer_value(json_object_get(tasks, "total")), 5);
  cr_assert_eq(json_integer_value(json_object_get(
                   json_object_get(tasks, "by_state"), "triaged")),
               3);
  wt_resp_free(&r);
  wt_stop(&srv);
}

static bool has_line(const char *text, const char *line)
{
  size_t n = strlen(line);
  for (const char *p = text; (p = strstr(p, line)); p += n)
    if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == ' '))
      return true;
  return false;
}

Test(rest, metrics_pass_promtool_and_count_requests)
{
  wt_start(&srv, NULL);
  seed();
  wt_resp_t r;
  get("/api/v1/health", &r);
  wt_resp_free(&r);
  get("/api/v1/tasks/none", &r);
  wt_resp_free(&r);
  get("/metrics", &r);
  cr_assert_eq(r.status, 200);
  cr_assert(strstr(wt_header(&r, "content-type"), "text/plain"));
  cr_assert(has_line(r.body, "ccm_tasks{state=\"triaged\"} 3"), "%s", r.body);
  cr_assert(has_line(r.body, "ccm_http_requests_total{route=\"/api/v1/"
                             "health\",status=\"200\"} 1"), "%s", r.body);
  cr_assert(has_line(r.body, "ccm_http_requests_total{route=\"/api/v1/"
                             "tasks/{id}\",status=\"404\"} 1"));
  cr_assert(strstr(r.body, "ccm_actor_messages_total{actor=\"store\""));
  cr_assert(strstr(r.body, "ccm_actor_handler_seconds_bucket{actor=\"store\""));
  cr_assert(has_line(r.body, "ccm_ws_clients 0"));

  char *dir = tst_tmpdir(), file[512], cmd[1200];
  snprintf(file, sizeof(file), "%s/metrics.txt", dir);
  FILE *f = fopen(file, "w");
  fwrite(r.body, 1, r.body_len, f);
  fclose(f);
  const char *promtool = tst_prog("PROMTOOL");
  snprintf(cmd, sizeof(cmd), "%s check metrics < %s", promtool, file);
  char *argv[] = {"/bin/sh", "-c", cmd, NULL};
  char *out = NULL, *err = NULL;
  int rc = tst_run(argv, WT_WAIT_MS, &out, &err);
  cr_assert_eq(rc, 0, "promtool: %s%s", out, err);
  cr_assert_str_eq(err, "", "promtool lint: %s", err);
  free(out);
  free(err);
  tst_rmrf(dir);
  free(dir);
  wt_resp_free(&r);
  wt_stop(&srv);
}

/* ------------------------------------------------------------ auth, CORS */

Test(rest, bearer_token_guards_every_route)
{
  start_with_token();
  static const char *const paths[] = {"/api/v1/health", "/api/v1/tasks",
                                      "/metrics", "/api/v1/actors"};
  static const char *const wrong[] = {"Authorization: Bearer s3cret-toke",
                                      NULL};
  static const char *const longer[] = {"Authorization: Bearer s3cret-token!",
                                       NULL};
  static const char *const basic[] = {"Authorization: Basic czNjcmV0LXRva2Vu",
                                      NULL};
  static const char *const right[] = {"Authorization: Bearer s3cret-token",
                                      NULL};
  static const char *const lower[] = {"Authorization: bearer s3cret-token",
                                      NULL};
  for (size_t i = 0; i < 4; i++) {
    wt_resp_t r;
    const char *const *bad[] = {NULL, wrong, longer, basic};
    for (size_t k = 0; k < 4; k++) {
      wt_http(&srv, "GET", paths[i], NULL, bad[k], &r);
      wt_assert_error(&r, 401, "unauthorized");
      cr_assert(strstr(wt_header(&r, "www-authenticate"), "Bearer"));
      wt_resp_free(&r);
    }
    wt_http(&srv, "GET", paths[i], NULL, right, &r);
    cr_assert_eq(r.status, 200, "%s: %s", paths[i], r.body);
    wt_resp_free(&r);
    wt_http(&srv, "GET", paths[i], NULL, lower, &r);
    cr_assert_eq(r.status, 200);
    wt_resp_free(&r);
  }
  wt_resp_t r;
  wt_http(&srv, "POST", "/api/v1/tasks/x/actions", "{\"action\":\"run\"}",
          NULL, &r);
  wt_assert_error(&r, 401, "unauthorized");
  wt_resp_free(&r);
  wt_stop(&srv);
}

Test(rest, cors_only_for_the_configured_origin)
{
  static const char *const good[] = {"Origin: http://panel.example:3000",
                                     NULL};
  static const char *const evil[] = {"Origin: http://evil.example", NULL};
  wt_resp_t r;

  wt_start(&srv, NULL); /* CORS off */
  wt_http(&srv, "GET", "/api/v1/health", NULL, good, &r);
  cr_assert_null(wt_header(&r, "access-control-allow-origin"));
  wt_resp_free(&r);
  wt_stop(&srv);

  web_config_t c;
  web_config_defaults(&c);
  c.cors_origin = "http://panel.example:3000";
  wt_start(&srv, &c);
  wt_http(&srv, "GET", "/api/v1/health", NULL, good, &r);
  cr_assert_str_eq(wt_header(&r, "access-control-allow-origin"),
                   "http://panel.example:3000");
  wt_resp_free(&r);
  wt_http(&srv, "GET", "/api/v1/health", NULL, evil, &r);
  cr_assert_null(wt_header(&r, "access-control-allow-origin"));
  wt_resp_free(&r);
  wt_http(&srv, "OPTIONS", "/api/v1/tasks/t1/actions", NULL, good, &r);
  cr_assert_eq(r.status, 204);
  cr_assert_str_eq(wt_header(&r, "access-control-allow-methods"),
                   "GET, POST");
  cr_assert(strstr(wt_header(&r, "access-control-allow-headers"),
                   "Authorization"));
  wt_resp_free(&r);
  wt_stop(&srv);
}
