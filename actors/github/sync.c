/*
 * sync.c: the periodic GitHub sweep (sync.h).
 *
 * A cycle is a loop, advance(), that makes progress until it has to wait:
 * for a GitHub response (one request in flight), for the analyzer's
 * acknowledgement of a page of findings, or for nothing because the
 * cycle ended (sweep complete, budget spent, or an error). Each answer
 * comes back as a message and calls advance() again. The cursor (which
 * repository, which phase, which page URL, which issue of the page) is
 * the whole position: it is what goes to the kv database when the budget
 * runs out, and what a new cycle starts from.
 *
 * Store writes (task links, kv values, the report event) go to the store
 * actor without waiting; their acknowledgements are only counted. The
 * marker in each proposal issue's body, read back from GitHub before any
 * issue is created, is what makes a duplicate impossible even when a kv
 * write was lost in a crash.
 */
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/github/discovery.h"
#include "actors/github/events.h"
#include "actors/github/sync.h"
#include "actors/scanner/scanner.h"
#include "github/gh_ops.h"
#include "runtime/timer.h"
#include "store/store_actor.h"

#define MARKER "<!-- ccm:fingerprint="
#define ACTOR "github"

static const char *const default_kinds[] = {"todo", "fixme", "bug", "hack",
                                            "secret"};

typedef enum phase { PH_ISSUES = 0, PH_PROPOSE } phase_t;
typedef enum wait {
  W_NONE = 0, W_PAGE, W_COMMENTS, W_ANALYZER, W_PROPOSALS, W_CREATE, W_CLOSE,
  W_REOPEN
} wait_t;

typedef struct cursor {
  size_t repo;
  phase_t phase;
  char *page; /* URL of the page being read; NULL: the first */
  size_t pos; /* issue index in that page */
} cursor_t;

typedef struct strv {
  char **v;
  size_t n, cap, i; /* i: the next to handle */
} strv_t;

typedef struct ghs {
  const ghs_config_t *cfg;
  rt_ctx_t *ctx;
  uint64_t timer;
  cursor_t cur;
  bool running, cursor_loaded;
  wait_t wait;
  uint64_t corr;
  /* the page of issues being read */
  gh_issue_t *issues;
  size_t n_issues;
  char *next;
  bool page_loaded;
  strv_t batch; /* encoded FINDING messages for the analyzer */
  size_t *batch_len;
  json_t *fixups; /* "gh_task" args of the page's issue tasks */
  /* The listing of the current repository's open issues: read from its
   * first page in this cycle (only then can it prove an issue closed),
   * since when, and the issue numbers it showed (number -> true). */
  bool listing_whole;
  int64_t listing_started;
  json_t *listed;
  /* proposals of the current repository */
  json_t *markers; /* fingerprint -> issue number, from GitHub */
  bool proposals_listed, cands_loaded;
  strv_t cands, closes, reopens;
  ghs_report_t rep;
} ghs_t;

void ghs_config_defaults(ghs_config_t *c)
{
  memset(c, 0, sizeof(*c));
  c->stale_days = 30;
  c->budget = 100;
  c->per_page = 100;
  c->interval_ms = 10 * 60 * 1000;
  c->request_timeout_ms = 120000;
  c->proposal_label = "ccm:proposal";
  c->approve_label = "ccm:approved";
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ helpers */

static int strv_add(strv_t *s, const char *v, size_t len)
{
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    char **nv = realloc(s->v, cap * sizeof(*nv));
    if (!nv)
      return RT_ENOMEM;
    s->v = nv;
    s->cap = cap;
  }
  char *c = malloc(len + 1);
  if (!c)
    return RT_ENOMEM;
  memcpy(c, v, len);
  c[len] = '\0';
  s->v[s->n++] = c;
  return 0;
}

static void strv_clear(strv_t *s)
{
  for (size_t i = 0; i < s->n; i++)
    free(s->v[i]);
  free(s->v);
  memset(s, 0, sizeof(*s));
}

static bool in_list(const char *s, const char *const *v, size_t n)
{
  for (size_t i = 0; s && i < n; i++)
    if (v[i] && strcmp(v[i], s) == 0)
      return true;
  return false;
}

static bool proposed_kind(const ghs_repo_t *r, const char *kind)
{
  return r->n_propose_kinds
             ? in_list(kind, r->propose_kinds, r->n_propose_kinds)
             : in_list(kind, default_kinds,
                       sizeof(default_kinds) / sizeof(default_kinds[0]));
}

/* One write through the store actor; the acknowledgement is not awaited
 * (a failure shows in the report's rc when it comes back). */
static void store_write(ghs_t *g, const proto_msg_t *m)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  rt_msg_t *msg = NULL;
  uint64_t corr;
  if (proto_msgpack_encode(m, &sb) == 0) {
    size_t len = sb.size;
    if (rt_msg_new_take(STORE_MSG_WRITE, msgpack_sbuffer_release(&sb), len,
                        &msg) == 0)
      rt_request(g->ctx, g->cfg->store_actor, &msg, 30000, &corr);
  } else {
    msgpack_sbuffer_destroy(&sb);
  }
}

static void kv_put(ghs_t *g, const char *name, const char *value)
{
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = (char *)"kv";
  m.u.command.args = json_pack("{s:s,s:s?}", "name", name, "value", value);
  if (m.u.command.args) {
    if (!value)
      json_object_set_new(m.u.command.args, "value", json_null());
    store_write(g, &m);
  }
  json_decref(m.u.command.args);
}

/* An audit entry (COMMAND "audit", store.h store_audit_apply) for an
 * issue ccm changed: who "github", @p what, subject "owner/name#N", the
 * task's id as the input. */
static void audit_issue(ghs_t *g, const char *what, const char *repo,
                        uint32_t number, const char *task_id)
{
  char subject[256];
  snprintf(subject, sizeof(subject), "%s#%u", repo, number);
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = (char *)"audit";
  m.u.command.args = json_pack("{s:s,s:s,s:s,s:s}", "who", ACTOR, "what",
                               what, "subject", subject, "input", task_id);
  if (m.u.command.args)
    store_write(g, &m);
  json_decref(m.u.command.args);
}

static void kv_name(char *out, size_t cap, const char *what, const char *id)
{
  snprintf(out, cap, "github/%s/%s", what, id);
}

/* The issue number the kv database remembers for task @p id, or 0. */
static uint32_t kv_issue(ghs_t *g, const char *id)
{
  char name[STORE_KV_NAME_MAX + 1];
  kv_name(name, sizeof(name), "issue", id);
  void *v = NULL;
  size_t len = 0;
  uint32_t n = 0;
  if (store_kv_get(g->cfg->store, name, &v, &len) == 0)
    n = (uint32_t)strtoul(v, NULL, 10);
  free(v);
  return n;
}

static bool kv_has(ghs_t *g, const char *what, const char *id)
{
  char name[STORE_KV_NAME_MAX + 1];
  kv_name(name, sizeof(name), what, id);
  void *v = NULL;
  size_t len = 0;
  bool has = store_kv_get(g->cfg->store, name, &v, &len) == 0;
  free(v);
  return has;
}

/* ------------------------------------------------------------- cursor */

static json_t *cursor_json(const ghs_t *g)
{
  const cursor_t *c = &g->cur;
  const char *id = c->repo < g->cfg->n_repos ? g->cfg->repos[c->repo].id : "";
  return json_pack("{s:s,s:I,s:s,s:s?,s:I}", "repo", id, "index",
                   (json_int_t)c->repo, "phase",
                   c->phase == PH_ISSUES ? "issues" : "proposals", "page",
                   c->page, "pos", (json_int_t)c->pos);
}

static void cursor_reset(cursor_t *c)
{
  free(c->page);
  memset(c, 0, sizeof(*c));
}

/* The cursor the last cycle left, if it still names a configured
 * repository at the same place. */
static void cursor_load(ghs_t *g)
{
  void *v = NULL;
  size_t len = 0;
  g->cursor_loaded = true;
  if (store_kv_get(g->cfg->store, GHS_CURSOR_KEY, &v, &len) != 0)
    return;
  json_t *o = json_loadb(v, len, 0, NULL);
  free(v);
  json_int_t i = json_integer_value(json_object_get(o, "index"));
  const char *id = json_string_value(json_object_get(o, "repo"));
  const char *page = json_string_value(json_object_get(o, "page"));
  const char *phase = json_string_value(json_object_get(o, "phase"));
  if (i >= 0 && (size_t)i < g->cfg->n_repos && id &&
      strcmp(g->cfg->repos[i].id, id) == 0) {
    g->cur.repo = (size_t)i;
    g->cur.phase = phase && !strcmp(phase, "proposals") ? PH_PROPOSE
                                                         : PH_ISSUES;
    g->cur.page = page ? strdup(page) : NULL;
    g->cur.pos = (size_t)json_integer_value(json_object_get(o, "pos"));
  }
  json_decref(o);
}

static void cursor_save(ghs_t *g, bool at_start)
{
  json_t *c = at_start ? NULL : cursor_json(g);
  char *text = c ? json_dumps(c, JSON_COMPACT) : NULL;
  kv_put(g, GHS_CURSOR_KEY, text);
  snprintf(g->rep.resume, sizeof(g->rep.resume), "%s", text ? text : "");
  free(text);
  json_decref(c);
}

/* ------------------------------------------------------ page and batch */

static void page_drop(ghs_t *g)
{
  gh_issues_free(g->issues, g->n_issues);
  g->issues = NULL;
  g->n_issues = 0;
  free(g->next);
  g->next = NULL;
  g->page_loaded = false;
}

static void batch_clear(ghs_t *g)
{
  strv_clear(&g->batch);
  free(g->batch_len);
  g->batch_len = NULL;
}

static void proposals_drop(ghs_t *g)
{
  json_decref(g->markers);
  g->markers = NULL;
  g->proposals_listed = g->cands_loaded = false;
  strv_clear(&g->cands);
  strv_clear(&g->closes);
  strv_clear(&g->reopens);
}

static void batch_add(ghs_t *g, const proto_finding_t *f)
{
  proto_msg_t m = {.type = PROTO_FINDING};
  m.u.finding = *f; /* borrowed */
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  if (proto_msgpack_encode(&m, &sb) == 0) {
    size_t *lens = realloc(g->batch_len, (g->batch.n + 1) * sizeof(*lens));
    if (lens) {
      g->batch_len = lens;
      if (strv_add(&g->batch, sb.data, sb.size) == 0)
        lens[g->batch.n - 1] = sb.size;
    }
  }
  msgpack_sbuffer_destroy(&sb);
}

/* The page's findings to the analyzer; true when an ack is awaited. */
static bool batch_send(ghs_t *g, bool await)
{
  rt_actor_t *an = NULL;
  bool sent = false;
  if (g->batch.n && rt_actor_lookup(rt_ctx_runtime(g->ctx), "analyzer",
                                    &an) == 0) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, g->batch.n);
    for (size_t i = 0; i < g->batch.n; i++) {
      msgpack_pack_bin(&pk, g->batch_len[i]);
      msgpack_pack_bin_body(&pk, g->batch.v[i], g->batch_len[i]);
    }
    size_t len = sb.size;
    rt_msg_t *m = NULL;
    /* the analyzer answers SCANNER_MSG_ACK to the sender (not a reply) */
    if (rt_msg_new_take(SCANNER_MSG_FINDINGS, msgpack_sbuffer_release(&sb),
                        len, &m) == 0)
      sent = rt_send(an, &m) == 0;
    rt_actor_release(an);
  }
  batch_clear(g);
  return sent && await;
}

/* ------------------------------------------- GitHub's fields of tasks */

static bool issue_kind(const char *kind)
{
  return kind && (!strcmp(kind, "issue") || !strcmp(kind, "stale-issue"));
}

/* A store COMMAND "gh_task" (store.h): fields applied to the task as it is
 * when the store writes them, so nothing committed meanwhile is lost. */
static void write_fields(ghs_t *g, const json_t *args)
{
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = (char *)"gh_task";
  m.u.command.args = (json_t *)args;
  store_write(g, &m);
}

static json_t *issue_labels(const gh_issue_t *is)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < is->n_labels; i++)
    json_array_append_new(a, json_string(is->labels[i]));
  return a;
}

/* What the task of issue @p is must carry beyond what the analyzer writes:
 * its kind (issue or stale-issue), its `stale:` label, GitHub's labels. */
static void fixup_add(ghs_t *g, const proto_finding_t *f, const gh_issue_t *is,
                      const ghd_staleness_t *s)
{
  json_t *a = json_pack("{s:s,s:s,s:o,s:o}", "task", f->fingerprint, "kind",
                        f->kind, "labels", issue_labels(is), "stale",
                        s->stale ? json_string(s->stale_why) : json_null());
  if (!g->fixups)
    g->fixups = json_array();
  if (a && g->fixups)
    json_array_append(g->fixups, a);
  json_decref(a);
}

static bool same_labels(const proto_string_list_t *a,
                        const proto_string_list_t *b)
{
  if (a->len != b->len)
    return false;
  for (uint32_t i = 0; i < a->len; i++)
    if (strcmp(a->items[i] ? a->items[i] : "", b->items[i] ? b->items[i] : ""))
      return false;
  return true;
}

/* Move task @p id from @p from to @p to along the allowed path, one store
 * COMMAND "task_step" a step (store.h), the last one appending the task as
 * committed on "tasks"; a step from a state the task has left meanwhile is
 * refused, and the ones after it. @return false when there is no path. */
static bool move_along(ghs_t *g, const char *id, proto_state_t from,
                       proto_state_t to, const char *reason)
{
  proto_state_t path[PROTO_STATE_COUNT];
  size_t n = ghev_path(from, to, path);
  int64_t at = now_ms();
  for (size_t k = 0; k < n; k++) {
    json_t *args = ghev_step_args(id, from, path[k], reason, at, k + 1 == n);
    proto_msg_t m = {.type = PROTO_COMMAND};
    m.u.command = (proto_command_t){.action = (char *)"task_step",
                                    .args = args};
    if (args)
      store_write(g, &m);
    json_decref(args);
    from = path[k];
  }
  return n > 0;
}

static bool has_label(const json_t *labels, const char *name)
{
  for (size_t i = 0; name && i < json_array_size(labels); i++)
  {
    const char *l = json_string_value(json_array_get(labels, i));
    if (l && strcmp(l, name) == 0)
      return true;
  }
  return false;
}

/* An issue that carries the approval label when the sweep finds it (no
 * webhook told ccm, or it was labelled before ccm watched): its task,
 * still waiting for approval, is approved as the label's webhook would. */
static void approve_labelled(ghs_t *g, const proto_task_t *t,
                             const json_t *fixup)
{
  if ((t->state != PROTO_STATE_NEW && t->state != PROTO_STATE_TRIAGED) ||
      !has_label(json_object_get(fixup, "labels"), g->cfg->approve_label))
    return;
  if (move_along(g, t->id, t->state, PROTO_STATE_READY,
                 "approved on GitHub (label)"))
    ghev_ask_run(rt_ctx_runtime(g->ctx), t->id);
}

/* Send the fixups whose task differs (after the analyzer wrote the page:
 * a task it has not created yet is left to the next sweep), and approve
 * the tasks of issues that carry the approval label. */
static void fixups_send(ghs_t *g)
{
  for (size_t i = 0; i < json_array_size(g->fixups); i++) {
    json_t *a = json_array_get(g->fixups, i);
    const char *id = json_string_value(json_object_get(a, "task"));
    proto_task_t before, after;
    if (store_task_get(g->cfg->store, id, &before) != 0)
      continue;
    if (store_task_get(g->cfg->store, id, &after) == 0) {
      json_object_set_new(a, "at", json_integer(now_ms()));
      if (store_task_merge_ghtask(&after, a) == 0 &&
          (strcmp(before.kind, after.kind) != 0 ||
           !same_labels(&before.labels, &after.labels))) {
        /* the store appends the task as committed on "tasks" */
        json_object_set_new(a, "event", json_string("tasks"));
        write_fields(g, a);
      }
      approve_labelled(g, &after, a);
      store_task_free(&after);
    }
    store_task_free(&before);
  }
  json_decref(g->fixups);
  g->fixups = NULL;
}

/* ------------------------------------------ issues closed meanwhile */

typedef struct closed_scan {
  ghs_t *g;
  strv_t ids;
} closed_scan_t;

/* An issue task whose issue the whole listing did not show, and that
 * nothing touched since the listing began (a webhook may have opened or
 * reopened it after its page was read). */
static int collect_closed(const proto_task_t *t, void *arg)
{
  closed_scan_t *c = arg;
  char key[16];
  snprintf(key, sizeof(key), "%u", t->issue_number);
  if (issue_kind(t->kind) && t->issue_number &&
      t->state != PROTO_STATE_RESOLVED && t->state != PROTO_STATE_RUNNING &&
      t->last_seen < c->g->listing_started &&
      t->updated_at < c->g->listing_started &&
      !json_object_get(c->g->listed, key))
    strv_add(&c->ids, t->id, strlen(t->id));
  return 0;
}

/* After a whole listing of @p r's open issues: the issue tasks it did not
 * show are `resolved` (their issue was closed, deleted or transferred
 * while no webhook told ccm). */
static void resolve_closed(ghs_t *g, const ghs_repo_t *r)
{
  closed_scan_t c = {.g = g};
  store_filter_t f = {.state = -1, .repo = r->id};
  store_task_foreach(g->cfg->store, &f, collect_closed, &c);
  for (size_t i = 0; i < c.ids.n; i++) {
    proto_task_t t;
    if (store_task_get(g->cfg->store, c.ids.v[i], &t) != 0)
      continue;
    if (move_along(g, t.id, t.state, PROTO_STATE_RESOLVED,
                   "closed on GitHub (no longer open)"))
      g->rep.resolved++;
    store_task_free(&t);
  }
  strv_clear(&c.ids);
}

static void listing_drop(ghs_t *g)
{
  g->listing_whole = false;
  json_decref(g->listed);
  g->listed = NULL;
}

/* ------------------------------------------------------------- cycles */

static void report(ghs_t *g)
{
  proto_msg_t e = {.type = PROTO_EVENT};
  e.u.event.seq = 1;
  e.u.event.topic = (char *)"github";
  e.u.event.ts = now_ms();
  e.u.event.data = json_pack(
      "{s:s,s:b,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:s}", "type", "sweep",
      "complete", g->rep.complete, "ops", (int)g->rep.ops, "budget",
      (int)g->cfg->budget, "issues", (int)g->rep.issues, "created",
      (int)g->rep.created, "closed", (int)g->rep.closed, "reopened",
      (int)g->rep.reopened, "resolved", (int)g->rep.resolved, "rc",
      g->rep.rc, "resume", g->rep.resume);
  if (e.u.event.data)
    store_write(g, &e);
  json_decref(e.u.event.data);
  if (g->cfg->on_report)
    g->cfg->on_report(g->cfg->on_report_ud, &g->rep);
  rt_msg_t *m = NULL;
  if (g->cfg->observer &&
      rt_msg_new(GHS_MSG_REPORT, &g->rep, sizeof(g->rep), &m) == 0)
    rt_send(g->cfg->observer, &m);
}

/* End the cycle: complete (the sweep starts over next time) or stopped
 * here (the cursor is kept for the next cycle). */
static void finish(ghs_t *g, bool complete, int rc)
{
  if (!g->rep.rc)
    g->rep.rc = rc;
  g->rep.complete = complete;
  if (g->batch.n)
    batch_send(g, false); /* what was read before the stop */
  fixups_send(g);
  listing_drop(g); /* a stopped listing proves nothing closed */
  if (complete)
    cursor_reset(&g->cur);
  cursor_save(g, complete);
  page_drop(g);
  proposals_drop(g);
  g->running = false;
  g->wait = W_NONE;
  report(g);
}

static bool budget_left(const ghs_t *g)
{
  return g->rep.ops < g->cfg->budget;
}

/* Send @p req to the client; the answer resumes advance() as @p w. */
static bool ask(ghs_t *g, const gh_request_t *req, wait_t w)
{
  rt_msg_t *m = NULL;
  int rc = gh_request_msg(req, &m);
  if (!rc)
    rc = rt_request(g->ctx, g->cfg->client, &m, g->cfg->request_timeout_ms,
                    &g->corr);
  if (rc) {
    finish(g, false, rc);
    return false;
  }
  g->rep.ops++;
  g->wait = w;
  return true;
}

/* ask() with the request an op builder made (@p rc its result). */
static void ask_op(ghs_t *g, int rc, gh_op_t *op, wait_t w)
{
  if (rc)
    return finish(g, false, rc);
  ask(g, &op->req, w);
  gh_op_fini(op);
}

static void next_repo(ghs_t *g)
{
  free(g->cur.page);
  g->cur.page = NULL;
  g->cur.pos = 0;
  g->cur.phase = PH_ISSUES;
  g->cur.repo++;
  page_drop(g);
  proposals_drop(g);
  listing_drop(g);
}

/* ------------------------------------------------------ phase: issues */

static void ask_page(ghs_t *g, const ghs_repo_t *r)
{
  if (g->cur.page) {
    gh_request_t req = {.method = GH_GET, .path = g->cur.page,
                        .flags = GH_REQ_PAGINATE, .max_pages = 1};
    ask(g, &req, W_PAGE);
    return;
  }
  if (g->cur.pos == 0) { /* the listing starts from its beginning */
    listing_drop(g);
    g->listed = json_object();
    g->listing_whole = g->listed != NULL;
    g->listing_started = now_ms();
  }
  gh_issue_query_t q = {.per_page = g->cfg->per_page, .max_pages = 1};
  gh_op_t op;
  ask_op(g, gh_op_list_issues(&op, r->github, &q), &op, W_PAGE);
}

static void step_issues(ghs_t *g, const ghs_repo_t *r)
{
  if (!g->page_loaded) {
    if (!budget_left(g))
      return finish(g, false, 0);
    return ask_page(g, r);
  }
  if (g->cur.pos < g->n_issues) {
    const gh_issue_t *is = &g->issues[g->cur.pos];
    /* ccm's own proposals mirror a finding's task: no issue task of
     * their own (and no activity to read) */
    if (is->is_pull_request || !is->number ||
        in_list(g->cfg->proposal_label, (const char *const *)is->labels,
                is->n_labels)) {
      g->cur.pos++;
      return;
    }
    if (!budget_left(g))
      return finish(g, false, 0);
    gh_op_t op;
    ask_op(g, gh_op_issue_comments(&op, r->github, is->number), &op,
           W_COMMENTS);
    return;
  }
  if (g->batch.n && batch_send(g, true)) {
    g->wait = W_ANALYZER;
    return;
  }
  fixups_send(g);
  if (!g->next && g->listing_whole)
    resolve_closed(g, r);
  if (g->next) { /* the next page, from its first issue */
    free(g->cur.page);
    g->cur.page = g->next;
    g->next = NULL;
    g->cur.pos = 0;
    page_drop(g);
  } else if (r->propose) {
    g->cur.phase = PH_PROPOSE;
    page_drop(g);
  } else {
    next_repo(g);
  }
}

static void on_page(ghs_t *g, const gh_response_t *res)
{
  if (res->pages > 1)
    g->rep.ops += res->pages - 1;
  int rc = res->rc ? res->rc
                   : gh_issues_parse(res->body, res->len, &g->issues,
                                     &g->n_issues);
  if (rc)
    return finish(g, false, rc);
  g->next = res->truncated && res->next ? strdup(res->next) : NULL;
  g->page_loaded = true;
  for (size_t i = 0; g->listing_whole && i < g->n_issues; i++) {
    char key[16];
    snprintf(key, sizeof(key), "%u", g->issues[i].number);
    if (!g->issues[i].is_pull_request && g->issues[i].number)
      json_object_set_new(g->listed, key, json_true());
  }
  if (g->cur.pos > g->n_issues)
    g->cur.pos = g->n_issues; /* the page shrank since the cursor was kept */
}

static void on_comments(ghs_t *g, const ghs_repo_t *r,
                        const gh_response_t *res)
{
  if (res->pages > 1)
    g->rep.ops += res->pages - 1;
  gh_activity_t *acts = NULL;
  size_t n = 0;
  int rc = res->rc ? res->rc
                   : gh_comments_parse(res->body, res->len, &acts, &n);
  if (rc)
    return finish(g, false, rc); /* this issue is retried next cycle */
  const gh_issue_t *is = &g->issues[g->cur.pos];
  ghd_policy_t p = {.stale_days = g->cfg->stale_days,
                    .self_login = g->cfg->self_login,
                    .exempt_labels = g->cfg->exempt_labels,
                    .n_exempt = g->cfg->n_exempt};
  ghd_staleness_t s;
  ghd_staleness_eval(is, acts, n, &p, now_ms() / 1000, &s);
  gh_activities_free(acts, n);
  proto_finding_t f;
  if (ghd_issue_finding(r->id, r->github, is, &s, &f) == 0) {
    batch_add(g, &f);
    fixup_add(g, &f, is, &s);
    ghd_finding_fini(&f);
  }
  g->rep.issues++;
  g->cur.pos++;
}

/* --------------------------------------------------- phase: proposals */

/* The task id in @p body's marker into @p out; false when none. */
static bool marker_of(const char *body, char *out, size_t cap)
{
  const char *m = body ? strstr(body, MARKER) : NULL;
  if (!m)
    return false;
  m += strlen(MARKER);
  size_t n = strspn(m, "0123456789abcdefABCDEF");
  if (n == 0 || n >= cap)
    return false;
  memcpy(out, m, n);
  out[n] = '\0';
  return true;
}

static void on_proposals(ghs_t *g, const gh_response_t *res)
{
  if (res->pages > 1)
    g->rep.ops += res->pages - 1;
  gh_issue_t *v = NULL;
  size_t n = 0;
  int rc = res->rc ? res->rc : gh_issues_parse(res->body, res->len, &v, &n);
  if (rc)
    return finish(g, false, rc);
  if (res->truncated) /* more proposals than pages read: never guess */
    rc = GH_ETOOBIG;
  g->markers = json_object();
  char fp[128];
  for (size_t i = 0; g->markers && i < n; i++)
    if (!v[i].is_pull_request && marker_of(v[i].body, fp, sizeof(fp)))
      json_object_set_new(g->markers, fp, json_integer(v[i].number));
  gh_issues_free(v, n);
  g->proposals_listed = true;
  if (rc || !g->markers)
    finish(g, false, rc ? rc : RT_ENOMEM);
}

typedef struct cand_scan {
  ghs_t *g;
  const ghs_repo_t *r;
} cand_scan_t;

static int collect_cand(const proto_task_t *t, void *arg)
{
  cand_scan_t *c = arg;
  if (!proposed_kind(c->r, t->kind))
    return 0;
  size_t len = strlen(t->id);
  if (!t->issue_number &&
      (t->state == PROTO_STATE_NEW || t->state == PROTO_STATE_TRIAGED))
    strv_add(&c->g->cands, t->id, len);
  else if (c->r->close_resolved && t->issue_number &&
           t->state == PROTO_STATE_RESOLVED &&
           kv_issue(c->g, t->id) == t->issue_number &&
           !kv_has(c->g, "closed", t->id))
    strv_add(&c->g->closes, t->id, len);
  else if (t->issue_number &&
           (t->state == PROTO_STATE_NEW || t->state == PROTO_STATE_TRIAGED) &&
           kv_has(c->g, "closed", t->id) &&
           kv_issue(c->g, t->id) == t->issue_number)
    strv_add(&c->g->reopens, t->id, len); /* ccm closed it; it is back */
  return 0;
}

static void load_cands(ghs_t *g, const ghs_repo_t *r)
{
  cand_scan_t c = {.g = g, .r = r};
  store_filter_t f = {.state = -1, .repo = r->id};
  store_task_foreach(g->cfg->store, &f, collect_cand, &c);
  g->cands_loaded = true;
}

static bool auto_approved(const ghs_repo_t *r, const char *kind)
{
  return in_list(kind, r->auto_approve, r->n_auto_approve);
}

/* Record that task @p t's proposal is issue @p number: the kv database,
 * the task's issue_number (a field write: whatever the task became since
 * it was read is kept), and for an auto-approved kind still new or
 * triaged, `ready`. */
static void link_task(ghs_t *g, const ghs_repo_t *r, proto_task_t *t,
                      uint32_t number)
{
  char name[STORE_KV_NAME_MAX + 1], num[16];
  kv_name(name, sizeof(name), "issue", t->id);
  snprintf(num, sizeof(num), "%u", number);
  kv_put(g, name, num);
  json_t *args = json_pack("{s:s,s:I,s:I}", "task", t->id, "at",
                           (json_int_t)now_ms(), "issue_number",
                           (json_int_t)number);
  if (args)
    write_fields(g, args);
  json_decref(args);
  if (t->state != PROTO_STATE_NEW && t->state != PROTO_STATE_TRIAGED)
    return; /* moved on meanwhile: leave it to its new owner */
  proto_state_t path[PROTO_STATE_COUNT];
  size_t n = auto_approved(r, t->kind)
                 ? ghev_path(t->state, PROTO_STATE_READY, path)
                 : 0;
  for (size_t i = 0; i < n; i++) {
    proto_msg_t u = {.type = PROTO_TASK_UPDATE};
    u.u.task_update = (proto_task_update_t){
        .task_id = t->id, .from = t->state, .to = path[i],
        .reason = (char *)"auto-approved kind (github proposal)",
        .actor = (char *)ACTOR, .at = now_ms()};
    store_write(g, &u);
    t->state = path[i];
  }
}

static char *proposal_body(const proto_task_t *t)
{
  char *out = NULL;
  if (asprintf(&out,
               "%s\n\nFound by ccm in `%s` (%s, line %u). Add the approval "
               "label to let an agent fix it.\n\n" MARKER "%s -->\n",
               t->text ? t->text : "", t->loc.path ? t->loc.path : "",
               t->kind, t->loc.line, t->id) < 0)
    return NULL;
  return out;
}

static void ask_create(ghs_t *g, const ghs_repo_t *r, const proto_task_t *t)
{
  const char *labels[2] = {g->cfg->proposal_label, g->cfg->approve_label};
  size_t n_labels = auto_approved(r, t->kind) ? 2 : 1;
  char title[201];
  snprintf(title, sizeof(title), "%s", t->title ? t->title : t->kind);
  char *body = proposal_body(t);
  gh_op_t op;
  int rc = body ? gh_op_create_issue(&op, r->github, title, body, labels,
                                     n_labels)
                : RT_ENOMEM;
  free(body);
  ask_op(g, rc, &op, W_CREATE);
}

static void step_propose(ghs_t *g, const ghs_repo_t *r)
{
  if (!g->proposals_listed) {
    if (!budget_left(g))
      return finish(g, false, 0);
    gh_issue_query_t q = {.labels = g->cfg->proposal_label, .state = "all"};
    gh_op_t op;
    ask_op(g, gh_op_list_issues(&op, r->github, &q), &op, W_PROPOSALS);
    return;
  }
  if (!g->cands_loaded)
    return load_cands(g, r);
  if (g->cands.i < g->cands.n) {
    proto_task_t t;
    const char *id = g->cands.v[g->cands.i];
    if (store_task_get(g->cfg->store, id, &t) != 0) {
      g->cands.i++;
      return;
    }
    json_int_t known = json_integer_value(json_object_get(g->markers, id));
    uint32_t number = known > 0 ? (uint32_t)known : kv_issue(g, id);
    if (number) {
      link_task(g, r, &t, number);
      g->rep.linked++;
      g->cands.i++;
    } else if (!budget_left(g)) {
      finish(g, false, 0);
    } else {
      ask_create(g, r, &t);
    }
    store_task_free(&t);
    return;
  }
  if (g->reopens.i < g->reopens.n) {
    if (!budget_left(g))
      return finish(g, false, 0);
    const char *id = g->reopens.v[g->reopens.i];
    gh_op_t op;
    ask_op(g, gh_op_reopen_issue(&op, r->github, kv_issue(g, id)), &op,
           W_REOPEN);
    return;
  }
  if (g->closes.i < g->closes.n) {
    if (!budget_left(g))
      return finish(g, false, 0);
    const char *id = g->closes.v[g->closes.i];
    gh_op_t op;
    ask_op(g, gh_op_close_issue(&op, r->github, kv_issue(g, id), "completed"),
           &op, W_CLOSE);
    return;
  }
  next_repo(g);
}

static void on_created(ghs_t *g, const ghs_repo_t *r,
                       const gh_response_t *res)
{
  gh_issue_t is;
  int rc = res->rc ? res->rc : gh_issue_parse(res->body, res->len, &is);
  if (rc)
    return finish(g, false, rc);
  proto_task_t t;
  if (is.number)
    audit_issue(g, "issue.create", r->github, is.number,
                g->cands.v[g->cands.i]);
  if (is.number &&
      store_task_get(g->cfg->store, g->cands.v[g->cands.i], &t) == 0) {
    link_task(g, r, &t, is.number);
    store_task_free(&t);
  }
  gh_issue_fini(&is);
  g->rep.created++;
  g->cands.i++;
}

/* A proposal issue's state was set (closed: its finding is resolved; or
 * reopened: it is back): audit it, remember it in kv "github/closed/<id>",
 * next. A 404 or 410 (deleted, transferred) leaves nothing to change. */
static void on_state_set(ghs_t *g, const ghs_repo_t *r,
                         const gh_response_t *res, bool closed)
{
  if (res->rc && res->status != 404 && res->status != 410)
    return finish(g, false, res->rc);
  strv_t *list = closed ? &g->closes : &g->reopens;
  const char *id = list->v[list->i];
  if (!res->rc)
    audit_issue(g, closed ? "issue.close" : "issue.reopen", r->github,
                kv_issue(g, id), id);
  char name[STORE_KV_NAME_MAX + 1];
  kv_name(name, sizeof(name), "closed", id);
  kv_put(g, name, closed ? "1" : NULL);
  if (closed)
    g->rep.closed++;
  else
    g->rep.reopened++; /* the task kept its issue_number: no second one */
  list->i++;
}

/* ------------------------------------------------------------ driving */

static void advance(ghs_t *g)
{
  while (g->running && g->wait == W_NONE) {
    if (g->cur.repo >= g->cfg->n_repos) {
      finish(g, true, 0);
      return;
    }
    const ghs_repo_t *r = &g->cfg->repos[g->cur.repo];
    if (g->cur.phase == PH_ISSUES)
      step_issues(g, r);
    else
      step_propose(g, r);
  }
}

static void start_cycle(ghs_t *g)
{
  if (g->running)
    return; /* one at a time: a tick during a long cycle is dropped */
  if (!g->cursor_loaded)
    cursor_load(g);
  memset(&g->rep, 0, sizeof(g->rep));
  g->running = true;
  advance(g);
}

static void on_analyzer_ack(ghs_t *g)
{
  if (!g->running || g->wait != W_ANALYZER)
    return;
  g->wait = W_NONE;
  advance(g);
}

static void on_response(ghs_t *g, const rt_msg_t *msg, bool timed_out)
{
  if (!g->running || rt_msg_corr(msg) != g->corr || g->wait == W_NONE ||
      g->wait == W_ANALYZER)
    return;
  wait_t w = g->wait;
  g->wait = W_NONE;
  gh_response_t res;
  int rc = timed_out ? RT_ETIMEDOUT : gh_response_decode(msg, &res);
  if (rc)
    return finish(g, false, rc);
  const ghs_repo_t *r = &g->cfg->repos[g->cur.repo];
  switch (w) {
  case W_PAGE: on_page(g, &res); break;
  case W_COMMENTS: on_comments(g, r, &res); break;
  case W_PROPOSALS: on_proposals(g, &res); break;
  case W_CREATE: on_created(g, r, &res); break;
  case W_CLOSE: on_state_set(g, r, &res, true); break;
  case W_REOPEN: on_state_set(g, r, &res, false); break;
  default: break;
  }
  gh_response_fini(&res);
  advance(g);
}

static int sync_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  ghs_t *g = state;
  g->cfg = arg;
  g->ctx = ctx;
  if (!g->cfg || !g->cfg->store || !g->cfg->store_actor || !g->cfg->client)
    return RT_EINVAL;
  if (g->cfg->interval_ms)
    return rt_timer_start(rt_ctx_runtime(ctx), rt_self(ctx), GHS_MSG_CYCLE,
                          0, g->cfg->interval_ms, &g->timer);
  return 0;
}

static void sync_stop(rt_ctx_t *ctx, void *state)
{
  ghs_t *g = state;
  if (g->timer)
    rt_timer_cancel(rt_ctx_runtime(ctx), g->timer);
  cursor_reset(&g->cur);
  page_drop(g);
  batch_clear(g);
  proposals_drop(g);
  listing_drop(g);
  json_decref(g->fixups);
  g->fixups = NULL;
}

/* GHS_MSG_RECONFIGURE: the new configuration, by pointer (sync.h). */
static void take_config(ghs_t *g, const rt_msg_t *msg)
{
  size_t len = 0;
  const void *d = rt_msg_data(msg, &len);
  const ghs_config_t *now = NULL;
  if (len == sizeof(now))
    memcpy(&now, d, sizeof(now));
  if (now && now->store == g->cfg->store && now->n_repos == g->cfg->n_repos)
    g->cfg = now;
}

static void sync_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  ghs_t *g = state;
  g->ctx = ctx;
  switch (rt_msg_type(msg)) {
  case GHS_MSG_CYCLE:
    start_cycle(g);
    break;
  case GHS_MSG_RECONFIGURE:
    take_config(g, msg);
    break;
  case GH_MSG_RESPONSE:
    on_response(g, msg, false);
    break;
  case SCANNER_MSG_ACK:
    on_analyzer_ack(g);
    break;
  case RT_MSG_TIMEOUT:
    on_response(g, msg, true);
    break;
  default: /* store acks: fire and forget */
    break;
  }
}

static const rt_actor_type_t sync_type = {
    .name = GHS_NAME,
    .state_size = sizeof(ghs_t),
    .on_start = sync_start,
    .on_msg = sync_msg,
    .on_stop = sync_stop,
};

int ghs_spawn(rt_runtime_t *rt, const ghs_config_t *cfg, rt_actor_t **out)
{
  rt_spawn_opts_t o = {.name = cfg && cfg->name ? cfg->name : GHS_NAME};
  return rt_actor_spawn(rt, &sync_type, cfg, &o, out);
}
