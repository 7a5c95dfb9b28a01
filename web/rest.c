/*
 * rest.c: the routes of SPEC §3 and their answers. Service thread only.
 *
 *   GET  /api/v1/health                 {"status","checks"}   200 | 503
 *   GET  /api/v1/tasks?state&repo&kind&limit&cursor
 *                                       {"tasks":[...],"next_cursor"}
 *   GET  /api/v1/tasks/{id}             task + "history"
 *   POST /api/v1/tasks/{id}/actions     {"action":...,"args":{...}}
 *   GET  /api/v1/repos                  {"repos":[...]}
 *   POST /api/v1/repos/{id}/scan        202 {"repo","status":"queued"}
 *   GET  /api/v1/actors                 {"actors":[...]}
 *   GET  /api/v1/metrics/summary
 *   GET  /metrics                       Prometheus text format
 *   POST /webhooks/github               202 | 400 | 401 | 413 (webhook.c)
 *   GET  /api/v1/audit?limit&cursor&who&what   (rest_audit.c)
 *   GET  /api/v1/dora, /api/v1/monitor  (rest_monitor.c: the monitor's
 *                                       hooks; its checks join /health)
 *   GET  /api/v1/queue, POST /api/v1/queue/{id}   (rest_queue.c)
 *
 * Reads go straight to the store (a read transaction per call); writes
 * go through actions.c and the bridge. Task lists come in the store's
 * order (state, then score, best first; by id when only repo or kind is
 * given); the cursor is the hex of the last task's sort key, so a page
 * starts right after it even when tasks were added meanwhile. Finding the
 * start walks the tasks before it (fine for the sizes ccm keeps; a keyed
 * seek needs a store API). Encoded task pages are cached by (arguments,
 * store_last_txnid) in a small bounded LRU (page_cache.h): a repeat while
 * nothing was written costs no store read.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/rest_monitor.h"
#include "web/web_int.h"

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 1000
/* Sort key: mode byte, state byte, 8 score bytes, id. */
#define SORTKEY_MAX (10 + WEB__ID_MAX)

#define M_GET (1u << LWSHUMETH_GET)
#define M_POST (1u << LWSHUMETH_POST)
#define M_OPTIONS (1u << LWSHUMETH_OPTIONS)

/* ---------------------------------------------------------------- routes */

typedef struct route {
  const char *pattern; /* "*" matches one id segment */
  web_route_t id;
  unsigned methods;
} route_t;

static const route_t routes[] = {
    {"/api/v1/health", WEB_R_HEALTH, M_GET},
    {"/api/v1/tasks", WEB_R_TASKS, M_GET},
    {"/api/v1/tasks/*", WEB_R_TASK, M_GET},
    {"/api/v1/tasks/*/actions", WEB_R_TASK_ACTIONS, M_POST},
    {"/api/v1/repos", WEB_R_REPOS, M_GET},
    {"/api/v1/repos/*/scan", WEB_R_REPO_SCAN, M_POST},
    {"/api/v1/actors", WEB_R_ACTORS, M_GET},
    {"/api/v1/metrics/summary", WEB_R_SUMMARY, M_GET},
    {"/metrics", WEB_R_METRICS, M_GET},
    {"/ws", WEB_R_WS, M_GET},
    {"/webhooks/github", WEB_R_WEBHOOK, M_POST},
    {"/api/v1/audit", WEB_R_AUDIT, M_GET},
    {"/api/v1/dora", WEB_R_DORA, M_GET},
    {"/api/v1/monitor", WEB_R_MONITOR, M_GET},
    {"/api/v1/queue", WEB_R_QUEUE, M_GET},      /* rest_queue.c */
    {"/api/v1/queue/*", WEB_R_QUEUE, M_POST},
};

static bool id_char(int c)
{
  return isalnum(c) || c == '.' || c == '_' || c == '-';
}

/* Match @p path against @p pattern; the "*" segment goes to @p param. */
static bool match(const char *pattern, const char *path, char *param)
{
  while (*pattern) {
    if (*pattern == '*') {
      size_t n = 0;
      while (path[n] && path[n] != '/' && id_char((unsigned char)path[n]))
        n++;
      if (n == 0 || n > WEB__ID_MAX || (path[n] && path[n] != '/'))
        return false;
      memcpy(param, path, n);
      param[n] = '\0';
      path += n;
      pattern++;
      continue;
    }
    if (*pattern++ != *path++)
      return false;
  }
  return *path == '\0' || (path[0] == '/' && path[1] == '\0');
}

unsigned web__route(http_req_t *r)
{
  if (web__panel_has(r->path)) {
    r->route = WEB_R_PANEL;
    return M_GET | M_OPTIONS;
  }
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
    if (match(routes[i].pattern, r->path, r->param)) {
      r->route = routes[i].id;
      return routes[i].methods | M_OPTIONS;
    }
  return 0;
}

/* ----------------------------------------------------------- arguments */

/* The value of URL argument @p name into @p out: 1 found, 0 absent, -1
 * too long or repeated. */
static int query_arg(struct lws *wsi, const char *name, char *out,
                     size_t cap)
{
  char frag[WEB__PATH_MAX];
  size_t nlen = strlen(name);
  int found = 0;
  for (int i = 0;; i++) {
    int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag),
                                  WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0)
      break;
    if (strncmp(frag, name, nlen) != 0 || frag[nlen] != '=')
      continue;
    if (found || strlen(frag + nlen + 1) >= cap)
      return -1;
    strcpy(out, frag + nlen + 1);
    found = 1;
  }
  return found;
}

static bool printable(const char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return false;
  return true;
}

/* ------------------------------------------------------------- health */

static int no_event(const proto_event_t *e, void *arg)
{
  (void)e;
  (void)arg;
  return 1;
}

/* Can the store be read right now? One read transaction and one B-tree
 * seek (past the last possible seq, so nothing is decoded): it fails as
 * the task lists would (reader table full, map unusable, ...), at a cost
 * that does not grow with the store. Counting tasks (store_stats walks
 * the rank index) is /metrics/summary's job, not a health check's. */
static int store_readable(web_t *w)
{
  return store_event_foreach(w->store, UINT64_MAX - 1, no_event, NULL);
}

static const char health_ok[] =
    "{\"status\":\"ok\",\"checks\":{\"store\":\"ok\",\"store_writer\":"
    "\"ok\",\"runtime\":\"ok\"}}";

static void get_health(web_t *w, http_req_t *r)
{
  int src = store_readable(w);
  bool writer = !rt_actor_stopped(w->store_actor) &&
                !rt_actor_stopped(w->bridge);
  bool runtime = !rt_actor_stopped(w->bridge);
  bool monitored = web__monitor_active(); /* its checks: rest_monitor.c */
  /* the common answer, without jansson */
  if (!src && writer && runtime && !monitored) {
    char *text = strdup(health_ok);
    web__http_text(r, text ? 200 : 500, "application/json", text,
                   text ? sizeof(health_ok) - 1 : 0);
    return;
  }
  const char *status = src ? "unavailable" : writer ? "ok" : "degraded";
  json_t *body = json_pack(
      "{s:s,s:{s:s,s:s,s:s}}", "status", status, "checks", "store",
      src ? store_strerror(src) : "ok", "store_writer",
      writer ? "ok" : "stopped", "runtime", runtime ? "ok" : "stopping");
  if (body && monitored &&
      web__monitor_health(json_object_get(body, "checks")) && !src)
    json_object_set_new(body, "status", json_string("degraded"));
  web__http_json(r, src ? 503 : 200, body);
}

/* -------------------------------------------------------------- tasks */

typedef struct list_ctx {
  msgpack_sbuffer *out; /* the answer's text: tasks written as they come */
  size_t limit, n;
  bool by_id;
  unsigned char after[SORTKEY_MAX];
  size_t after_len; /* 0: from the start */
  /* The cursor's task still has the cursor's key: the page starts right
   * after it in the store's own order (ties in the key's prefix are in
   * insertion order there, not by id). */
  bool anchored, passed;
  unsigned char last[SORTKEY_MAX];
  size_t last_len;
  bool more;
  int err;
} list_ctx_t;

static size_t sort_key(const proto_task_t *t, bool by_id, unsigned char *k)
{
  size_t idlen = strlen(t->id);
  if (idlen > WEB__ID_MAX)
    idlen = WEB__ID_MAX;
  size_t n = 0;
  k[n++] = by_id ? 'i' : 's';
  if (!by_id) {
    uint64_t bits;
    memcpy(&bits, &t->score.total, sizeof(bits));
    /* The store's index order: higher scores first (see store.c). */
    uint64_t ord = (bits & 0x8000000000000000ull)
                       ? ~bits
                       : bits | 0x8000000000000000ull;
    ord = ~ord;
    k[n++] = (unsigned char)t->state;
    for (int i = 7; i >= 0; i--)
      k[n++] = (unsigned char)(ord >> (8 * i));
  }
  memcpy(k + n, t->id, idlen);
  return n + idlen;
}

/* LMDB's default key order: bytes, then the shorter first. */
static int key_cmp(const unsigned char *a, size_t alen,
                   const unsigned char *b, size_t blen)
{
  int c = memcmp(a, b, alen < blen ? alen : blen);
  return c ? c : (alen > blen) - (alen < blen);
}

/* Bytes of a sort key before the id: what the store orders by; tasks
 * equal there come in insertion order. */
static size_t key_prefix(bool by_id)
{
  return by_id ? 1 : 10;
}

/* Is @p k (of the list's order) before the page's start? */
static bool before_start(list_ctx_t *c, const unsigned char *k, size_t klen)
{
  if (!c->after_len)
    return false;
  if (!c->anchored) /* the cursor's task moved: the id decides ties */
    return key_cmp(k, klen, c->after, c->after_len) <= 0;
  int pc = memcmp(k, c->after, key_prefix(c->by_id));
  if (pc || c->passed)
    return pc < 0;
  /* In the cursor task's group: skip up to the task itself. */
  c->passed = key_cmp(k, klen, c->after, c->after_len) == 0;
  return true;
}

static int list_one(const proto_task_t *t, void *arg)
{
  list_ctx_t *c = arg;
  unsigned char k[SORTKEY_MAX];
  size_t klen = sort_key(t, c->by_id, k);
  if (before_start(c, k, klen))
    return 0;
  if (c->n == c->limit) {
    c->more = true;
    return 1;
  }
  proto_msg_t m = {.type = PROTO_TASK};
  m.u.task = *t;
  if ((c->n && msgpack_sbuffer_write(c->out, ",", 1)) ||
      proto_json_write(&m, c->out)) {
    c->err = -1;
    return 1;
  }
  memcpy(c->last, k, klen);
  c->last_len = klen;
  c->n++;
  return 0;
}

/* ],"next_cursor":null} or the hex of the last sort key. */
static int end_list(const list_ctx_t *c)
{
  char tail[32 + 2 * SORTKEY_MAX];
  size_t n = 0;
  static const char hex[] = "0123456789abcdef";
  n += (size_t)snprintf(tail, sizeof(tail), "],\"next_cursor\":%s",
                        c->more ? "\"" : "null}");
  if (c->more) {
    for (size_t i = 0; i < c->last_len; i++) {
      tail[n++] = hex[c->last[i] >> 4];
      tail[n++] = hex[c->last[i] & 0xf];
    }
    tail[n++] = '"';
    tail[n++] = '}';
  }
  return msgpack_sbuffer_write(c->out, tail, n);
}

static int parse_cursor(const char *s, list_ctx_t *c)
{
  size_t n = strlen(s);
  if (n == 0 || n % 2 || n / 2 > SORTKEY_MAX)
    return -1;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned v;
    if (!isxdigit((unsigned char)s[2 * i]) ||
        !isxdigit((unsigned char)s[2 * i + 1]) ||
        sscanf(s + 2 * i, "%2x", &v) != 1)
      return -1;
    c->after[i] = (unsigned char)v;
  }
  c->after_len = n / 2;
  /* The cursor must come from a list in the same order. */
  return c->after[0] == (c->by_id ? 'i' : 's') ? 0 : -1;
}

static int parse_limit(const char *s, size_t *out)
{
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < 1 || v > LIMIT_MAX)
    return -1;
  *out = (size_t)v;
  return 0;
}

/* Read the list arguments; -1 with @p e filled on a bad one. */
static int list_args(http_req_t *r, store_filter_t *f, list_ctx_t *c,
                     char *repo, char *kind, web_err_t *e)
{
  char state[32], limit[16], cursor[2 * SORTKEY_MAX + 2];
  int has;
  f->state = -1;
  if ((has = query_arg(r->wsi, "state", state, sizeof(state))) < 0 ||
      (has && (f->state = proto_state_from_name(state)) < 0))
    return web__err(e, 400, "bad_request", "unknown state");
  if ((has = query_arg(r->wsi, "repo", repo, WEB__ID_MAX + 1)) < 0 ||
      (has && (!*repo || !printable(repo))))
    return web__err(e, 400, "bad_request", "bad repo");
  f->repo = has ? repo : NULL;
  if ((has = query_arg(r->wsi, "kind", kind, WEB__ID_MAX + 1)) < 0 ||
      (has && (!*kind || !printable(kind))))
    return web__err(e, 400, "bad_request", "bad kind");
  f->kind = has ? kind : NULL;
  c->limit = LIMIT_DEFAULT;
  if ((has = query_arg(r->wsi, "limit", limit, sizeof(limit))) < 0 ||
      (has && parse_limit(limit, &c->limit)))
    return web__err(e, 400, "bad_request", "limit must be 1..%d", LIMIT_MAX);
  c->by_id = f->state < 0 && (f->repo || f->kind);
  if ((has = query_arg(r->wsi, "cursor", cursor, sizeof(cursor))) < 0 ||
      (has && parse_cursor(cursor, c)))
    return web__err(e, 400, "bad_request", "bad cursor");
  return 0;
}

/* Does the cursor's task still have the cursor's key? Then the page
 * starts right after it (c->anchored). */
static void anchor_cursor(web_t *w, list_ctx_t *c)
{
  size_t pre = key_prefix(c->by_id);
  if (c->after_len <= pre || c->after_len - pre > WEB__ID_MAX)
    return;
  char id[WEB__ID_MAX + 1];
  memcpy(id, c->after + pre, c->after_len - pre);
  id[c->after_len - pre] = '\0';
  proto_task_t t;
  if (strlen(id) != c->after_len - pre || store_task_get(w->store, id, &t))
    return;
  unsigned char k[SORTKEY_MAX];
  size_t klen = sort_key(&t, c->by_id, k);
  c->anchored = key_cmp(k, klen, c->after, c->after_len) == 0;
  store_task_free(&t);
}

/* The page's arguments, normalised: the cache's key. */
static size_t page_key(const store_filter_t *f, const list_ctx_t *c,
                       char *key, size_t size)
{
  static const char hex[] = "0123456789abcdef";
  int n = snprintf(key, size, "%d\n%s\n%s\n%zu\n", f->state,
                   f->repo ? f->repo : "", f->kind ? f->kind : "", c->limit);
  size_t len = n < 0 ? 0 : (size_t)n;
  for (size_t i = 0; i < c->after_len && len + 2 < size; i++) {
    key[len++] = hex[c->after[i] >> 4];
    key[len++] = hex[c->after[i] & 0xf];
  }
  return len;
}

/* The page as text, straight from the stored tasks (proto_json_write: the
 * same bytes as a jansson tree dumped, at a fraction of the cost). */
static int build_page(web_t *w, const store_filter_t *f, list_ctx_t *c,
                      msgpack_sbuffer *sb, web_err_t *e)
{
  anchor_cursor(w, c);
  c->out = sb;
  static const char head[] = "{\"tasks\":[";
  int rc = msgpack_sbuffer_write(sb, head, sizeof(head) - 1)
               ? -1 : store_task_foreach(w->store, f, list_one, c);
  if (rc == STORE_ECORRUPT)
    rc = 0; /* the rest was listed; one bad record must not hide them */
  if (rc || c->err || end_list(c))
    return web__err(e, 503, "unavailable", "cannot read the store: %s",
                    rc ? store_strerror(rc) : "out of memory");
  return 0;
}

/* Pages are cached by (arguments, store snapshot id): the id is read
 * before the page is built, so a page filed under it is at least as new
 * as that snapshot, and any write since makes it miss (page_cache.h). */
static void get_tasks(web_t *w, http_req_t *r)
{
  store_filter_t f;
  list_ctx_t c = {0};
  char repo[WEB__ID_MAX + 1], kind[WEB__ID_MAX + 1];
  char key[64 + 2 * WEB__ID_MAX + 2 * SORTKEY_MAX];
  web_err_t e;
  if (list_args(r, &f, &c, repo, kind, &e)) {
    web__http_error(r, &e);
    return;
  }
  size_t key_len = page_key(&f, &c, key, sizeof(key)), len;
  uint64_t txnid = store_last_txnid(w->store);
  web_page_body_t *hit = web__page_get(&w->task_pages, key, key_len, txnid);
  if (hit) {
    web__http_page(r, 200, "application/json", hit);
    return;
  }
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  if (build_page(w, &f, &c, &sb, &e)) {
    msgpack_sbuffer_destroy(&sb);
    web__http_error(r, &e);
    return;
  }
  len = sb.size;
  web__page_put(&w->task_pages, key, key_len, txnid, sb.data, len);
  web__http_text(r, 200, "application/json", msgpack_sbuffer_release(&sb),
                 len);
}

static int history_one(const proto_task_update_t *u, void *arg)
{
  proto_msg_t m = {.type = PROTO_TASK_UPDATE};
  m.u.task_update = *u;
  json_t *j = proto_json_encode(&m);
  if (j)
    json_array_append_new(arg, j);
  return 0;
}

static void get_task(web_t *w, http_req_t *r)
{
  proto_task_t t;
  web_err_t e;
  int rc = store_task_get(w->store, r->param, &t);
  if (rc) {
    if (rc == STORE_ENOTFOUND)
      web__err(&e, 404, "not_found", "no such task");
    else
      web__err(&e, 503, "unavailable", "cannot read the store: %s",
               store_strerror(rc));
    web__http_error(r, &e);
    return;
  }
  json_t *body = web__task_json(&t);
  store_task_free(&t);
  json_t *hist = json_array();
  if (body && hist)
    store_history_foreach(w->store, r->param, history_one, hist);
  if (body && hist && json_object_set_new(body, "history", hist) == 0)
    hist = NULL;
  json_decref(hist);
  web__http_json(r, 200, body);
}

/* --------------------------------------------------------------- POSTs */

/* The body as a JSON object (an empty body is {}); NULL with @p e set. */
static json_t *body_object(http_req_t *r, web_err_t *e)
{
  if (r->body.len == 0)
    return json_object();
  json_error_t je;
  json_t *j = json_loadb(r->body.p, r->body.len, JSON_REJECT_DUPLICATES,
                         &je);
  if (!j) {
    web__err(e, 400, "bad_request", "body is not valid JSON (line %d)",
             je.line);
    return NULL;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    web__err(e, 400, "bad_request", "body must be a JSON object");
    return NULL;
  }
  return j;
}

static void answer_action(http_req_t *r, web_action_t a, int rc,
                          json_t *result, const web_err_t *e)
{
  if (rc < 0)
    web__http_error(r, e);
  else if (rc == 0)
    web__http_json(r, a == WEB_ACT_RUN || a == WEB_ACT_SCAN ? 202 : 200,
                   result);
  /* rc 1: web__http_action_done answers later */
}

static void post_action(web_t *w, http_req_t *r)
{
  web_err_t e;
  json_t *body = body_object(r, &e);
  if (!body) {
    web__http_error(r, &e);
    return;
  }
  const char *name = json_string_value(json_object_get(body, "action"));
  int a = web__action_from_name(name);
  const json_t *args = json_object_get(body, "args");
  json_t *result = NULL;
  int rc;
  if (!name)
    rc = web__err(&e, 400, "bad_request", "\"action\" (a string) is required");
  else if (a < 0 || a == WEB_ACT_SCAN)
    rc = web__err(&e, 400, "bad_request",
                  "action must be run, cancel, skip, requeue or pin");
  else if (args && !json_is_object(args))
    rc = web__err(&e, 400, "bad_request", "\"args\" must be an object");
  else
    rc = web__action_start(w, (web_action_t)a, r->param, args,
                           WEB_OWNER_HTTP, r, NULL, &result, &e);
  json_decref(body);
  answer_action(r, (web_action_t)a, rc, result, &e);
}

static void post_scan(web_t *w, http_req_t *r)
{
  web_err_t e;
  json_t *args = body_object(r, &e);
  if (!args) {
    web__http_error(r, &e);
    return;
  }
  json_t *result = NULL;
  int rc;
  if (json_object_set_new(args, "repo", json_string(r->param)))
    rc = web__err(&e, 500, "internal", "out of memory");
  else
    rc = web__action_start(w, WEB_ACT_SCAN, NULL, args, WEB_OWNER_HTTP, r,
                           NULL, &result, &e);
  json_decref(args);
  answer_action(r, WEB_ACT_SCAN, rc, result, &e);
}

/* -------------------------------------------------------- other routes */

static void get_repos(web_t *w, http_req_t *r)
{
  json_t *list = json_array();
  for (size_t i = 0; list && i < w->cfg.n_repos; i++) {
    const web_repo_t *p = &w->repos[i];
    json_t *o = json_pack("{s:s}", "id", p->id);
    if (o && p->path)
      json_object_set_new(o, "path", json_string(p->path));
    if (o && p->github)
      json_object_set_new(o, "github", json_string(p->github));
    if (o)
      json_array_append_new(list, o);
  }
  web__http_json(r, 200, list ? json_pack("{s:o}", "repos", list) : NULL);
}

static void get_metrics(web_t *w, http_req_t *r)
{
  web_buf_t b = {0};
  if (web__metrics_text(w, &b)) {
    web__buf_free(&b);
    web__http_json(r, 500, NULL);
    return;
  }
  web__http_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.p,
                 b.len);
}

static void get_ws_plain(http_req_t *r)
{
  web_err_t e;
  web__err(&e, 400, "bad_request",
           "/ws is a WebSocket: upgrade with subprotocol ccm.v1.json or "
           "ccm.v1.msgpack");
  web__http_error(r, &e);
}

void web__rest_dispatch(web_t *w, http_req_t *r)
{
  switch (r->route) {
  case WEB_R_HEALTH: get_health(w, r); break;
  case WEB_R_TASKS: get_tasks(w, r); break;
  case WEB_R_TASK: get_task(w, r); break;
  case WEB_R_TASK_ACTIONS: post_action(w, r); break;
  case WEB_R_REPOS: get_repos(w, r); break;
  case WEB_R_REPO_SCAN: post_scan(w, r); break;
  case WEB_R_ACTORS:
    web__http_json(r, 200, web__actors_json(w));
    break;
  case WEB_R_SUMMARY:
    web__http_json(r, 200, web__metrics_summary(w));
    break;
  case WEB_R_METRICS: get_metrics(w, r); break;
  case WEB_R_WS: get_ws_plain(r); break;
  case WEB_R_PANEL: web__panel_serve(w, r); break;
  case WEB_R_WEBHOOK: web__webhook_post(w, r); break;
  case WEB_R_AUDIT: web__rest_audit(w, r); break;
  case WEB_R_DORA: web__rest_dora(w, r); break;
  case WEB_R_MONITOR: web__rest_monitor(w, r); break;
  case WEB_R_QUEUE: web__rest_queue(w, r); break;
  default: {
    web_err_t e;
    web__err(&e, 404, "not_found", "no such path");
    web__http_error(r, &e);
  }
  }
}
