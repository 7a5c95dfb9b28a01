/* prioritizer.c: the actor (see prioritizer.h and the note in prio_int.h). */
#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/prioritizer/prio_int.h"
#include "runtime/io.h"
#include "runtime/msg.h"
#include "runtime/timer.h"
#include "store/store_actor.h"

#define ACTOR "prioritizer"
#define DEFAULT_POLL_MS 1000u
#define DEFAULT_CYCLE_MS (10u * 60u * 1000u)

const char *prio_strerror(int rc)
{
  switch (rc) {
#define PRIO_ERR_STR(name, code, text)                                       \
  case code:                                                                 \
    return "PRIO_" #name ": " text;
    PRIO_ERRNO_MAP(PRIO_ERR_STR)
#undef PRIO_ERR_STR
  default:
    return rc <= -33000 && rc > -34000 ? store_strerror(rc) : rt_strerror(rc);
  }
}

void prio_config_defaults(prio_config_t *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  prio_rules_defaults(&cfg->rules);
  cfg->churn_window_days = 30;
  cfg->poll_ms = DEFAULT_POLL_MS;
  cfg->cycle_ms = DEFAULT_CYCLE_MS;
  cfg->feed_executor = true;
  cfg->concurrency = 2;
  cfg->dry_run = true;
}

/* --------------------------------------------------------- bookkeeping */

prio__wait_t *prio__wait_add(prio_t *p, uint64_t corr, int kind)
{
  if (p->nwaits == p->capwaits) {
    size_t cap = p->capwaits ? p->capwaits * 2 : 16;
    prio__wait_t *v = realloc(p->waits, cap * sizeof *v);
    if (!v)
      return NULL;
    p->waits = v;
    p->capwaits = cap;
  }
  prio__wait_t *w = &p->waits[p->nwaits++];
  memset(w, 0, sizeof *w);
  w->corr = corr;
  w->kind = kind;
  return w;
}

bool prio__wait_take(prio_t *p, uint64_t corr, prio__wait_t *out)
{
  for (size_t i = 0; i < p->nwaits; i++)
    if (p->waits[i].corr == corr) {
      *out = p->waits[i];
      p->waits[i] = p->waits[--p->nwaits];
      return true;
    }
  return false;
}

static void reply_rc(const rt_reply_to_t *to, int32_t rc)
{
  rt_msg_t *r = NULL;
  if (to->corr && rt_msg_new(PRIO_MSG_REPLY, &rc, sizeof rc, &r) == 0)
    rt_reply_later(to, &r);
}

static bool quiet(const prio_t *p)
{
  return p->loaded && !p->cycle_running && !p->applying &&
         p->writes_out == 0 && !p->exec_busy;
}

/* Answer every PRIO_MSG_SYNC once nothing is outstanding. */
static void syncs_check(prio_t *p)
{
  if (!quiet(p))
    return;
  for (size_t i = 0; i < p->nsyncs; i++)
    reply_rc(&p->syncs[i], 0);
  p->nsyncs = 0;
}

/* -------------------------------------------------------------- writes */

/* Send @p m to the store actor; @p w_kind W_STORE_REPLY records the
 * request so that @p to (may be NULL) is answered with the ack. */
static int store_send(rt_ctx_t *ctx, prio_t *p, const proto_msg_t *m,
                      const rt_reply_to_t *to)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  rt_msg_t *req = NULL;
  uint64_t corr = 0;
  int rc = proto_msgpack_encode(m, &sb);
  if (rc) {
    msgpack_sbuffer_destroy(&sb);
    return rc;
  }
  rc = rt_msg_new_take(STORE_MSG_WRITE, sb.data, sb.size, &req);
  if (!rc)
    rc = rt_request(ctx, p->store_actor, &req, PRIO__WRITE_TIMEOUT_MS, &corr);
  if (rc)
    return rc;
  p->writes_out++;
  if (to) {
    prio__wait_t *w = prio__wait_add(p, corr, W_STORE_REPLY);
    if (w)
      w->to = *to;
  }
  return 0;
}

static json_t *score_json(const proto_score_t *s)
{
  return json_pack("{s:f s:f s:f s:f s:f s:s?}", "total", s->total, "value",
                   s->value, "time_criticality", s->time_criticality,
                   "risk_reduction", s->risk_reduction, "job_size",
                   s->job_size, "why", s->why);
}

/* COMMAND "prio" for task @p id: its score, and labels when not NULL. */
static int write_score(rt_ctx_t *ctx, prio_t *p, const char *id,
                       const proto_score_t *s, json_t *labels,
                       const rt_reply_to_t *to)
{
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = (char *)"prio";
  m.u.command.args = json_pack("{s:s s:o s:I}", "task", id, "score",
                               score_json(s), "at",
                               (json_int_t)prio__now_ms());
  if (!m.u.command.args) {
    json_decref(labels);
    return -ENOMEM;
  }
  if (labels)
    json_object_set_new(m.u.command.args, "labels", labels);
  int rc = store_send(ctx, p, &m, to);
  json_decref(m.u.command.args);
  if (!rc)
    p->written++;
  return rc;
}

static bool kind_auto(const prio_t *p, const char *kind)
{
  for (size_t i = 0; kind && i < p->cfg.nauto_approve; i++)
    if (!strcmp(p->cfg.auto_approve[i], kind))
      return true;
  return false;
}

static void transition(rt_ctx_t *ctx, prio_t *p, const char *id,
                       proto_state_t from, proto_state_t to, int64_t now)
{
  proto_msg_t m = {.type = PROTO_TASK_UPDATE};
  m.u.task_update = (proto_task_update_t){
      .task_id = (char *)id, .from = from, .to = to,
      .reason = (char *)"auto-approve (agents.auto_approve)",
      .actor = (char *)ACTOR, .at = now};
  store_send(ctx, p, &m, NULL);
}

/* new -> triaged -> ready, then a "tasks" event with the task as it is
 * now (the store applies the three in order). */
static void auto_approve(rt_ctx_t *ctx, prio_t *p, proto_task_t *t)
{
  int64_t now = prio__now_ms();
  transition(ctx, p, t->id, PROTO_STATE_NEW, PROTO_STATE_TRIAGED, now);
  transition(ctx, p, t->id, PROTO_STATE_TRIAGED, PROTO_STATE_READY, now);
  t->state = PROTO_STATE_READY;
  t->updated_at = now;
  proto_msg_t tm = {.type = PROTO_TASK, .u.task = *t};
  proto_msg_t e = {.type = PROTO_EVENT};
  e.u.event = (proto_event_t){.seq = 1, .topic = (char *)"tasks", .ts = now,
                              .data = proto_json_encode(&tm)};
  if (e.u.event.data)
    store_send(ctx, p, &e, NULL);
  json_decref(e.u.event.data);
  p->approved++;
}

/* ------------------------------------------------------------- rescore */

void prio__rescore(rt_ctx_t *ctx, prio_t *p, const char *id)
{
  proto_task_t t;
  int rc = store_task_get(p->store, id, &t);
  if (rc == STORE_ENOTFOUND)
    prio_board_remove(p->board, id);
  if (rc)
    return;
  char why[PRIO__WHY_MAX];
  proto_score_t s;
  prio__score_task(&p->cfg, p->churn, &t, prio__now_ms(), &s, why,
                   sizeof why);
  s.why = why;
  p->scored++;
  if (prio__score_differs(&s, &t.score))
    write_score(ctx, p, t.id, &s, NULL, NULL);
  bool approving = t.state == PROTO_STATE_NEW && kind_auto(p, t.kind);
  if (approving && prio_board_state(p->board, t.id) == PROTO_STATE_READY) {
    store_task_free(&t); /* approved already; the store has not said so */
    return;
  }
  if (approving)
    auto_approve(ctx, p, &t);
  prio_board_put(p->board, &t, &s);
  prio__feed_note_requeue(p, t.id, t.state, t.attempts);
  store_task_free(&t);
}

/* The ids a logged event names: "tasks" (the task) and "executor" (its
 * "task_id"). */
typedef struct tail_ctx {
  char **ids;
  size_t n, cap;
  size_t seen; /* events read, of any topic */
  uint64_t last;
} tail_ctx_t;

static int tail_one(const proto_event_t *e, void *arg)
{
  tail_ctx_t *c = arg;
  c->last = e->seq;
  const char *id = NULL;
  if (e->topic && !strcmp(e->topic, "tasks"))
    id = json_string_value(json_object_get(e->data, "id"));
  else if (e->topic && !strcmp(e->topic, "executor"))
    id = json_string_value(json_object_get(e->data, "task_id"));
  if (id && c->n < c->cap)
    c->ids[c->n++] = strdup(id);
  /* a full batch (or a long run of other topics): the rest next turn */
  return c->n >= c->cap || ++c->seen >= 4 * PRIO__TAIL_BATCH;
}

static int by_str(const void *a, const void *b)
{
  const char *x = *(char *const *)a, *y = *(char *const *)b;
  return strcmp(x ? x : "", y ? y : "");
}

/* Read up to one batch of new events; true when more may be waiting. */
static bool tail(rt_ctx_t *ctx, prio_t *p)
{
  char *ids[PRIO__TAIL_BATCH];
  tail_ctx_t c = {ids, 0, PRIO__TAIL_BATCH, 0, p->last_seq};
  store_event_foreach(p->store, p->last_seq, tail_one, &c);
  p->last_seq = c.last;
  qsort(ids, c.n, sizeof *ids, by_str);
  for (size_t i = 0; i < c.n; i++) {
    if (ids[i] && (i == 0 || by_str(&ids[i - 1], &ids[i]) != 0))
      prio__rescore(ctx, p, ids[i]);
  }
  for (size_t i = 0; i < c.n; i++)
    free(ids[i]);
  return c.n >= PRIO__TAIL_BATCH || c.seen >= 4 * PRIO__TAIL_BATCH;
}

static void self_send(prio_t *p, uint32_t type)
{
  rt_msg_t *m = NULL;
  if (rt_msg_new(type, NULL, 0, &m) == 0)
    rt_send(p->self, &m);
}

static void on_tick(rt_ctx_t *ctx, prio_t *p)
{
  if (!p->loaded || p->applying)
    return;
  if (tail(ctx, p))
    self_send(p, PRIO__MSG_TICK); /* the next batch after other mail */
  else
    prio__feed_maybe(ctx, p);
  syncs_check(p);
}

/* -------------------------------------------------------------- cycles */

static void cycle_start(prio_t *p)
{
  if (p->cycle_running || p->applying) {
    p->cycle_again = true;
    return;
  }
  prio__cycle_t *c = calloc(1, sizeof *c);
  if (c)
    c->churn = calloc(p->cfg.nrepos + 1, sizeof *c->churn);
  if (!c || !c->churn) {
    prio__cycle_free(c, 0);
    return;
  }
  c->cfg_copy = p->cfg; /* the job may outlive this actor's state */
  c->cfg = &c->cfg_copy;
  c->store = p->store;
  c->now_ms = prio__now_ms();
  atomic_init(&c->phase, PRIO__CYCLE_RUNNING);
  if (rt_blocking_submit(p->rt, prio__cycle_job, c, p->self) != 0) {
    prio__cycle_free(c, p->cfg.nrepos);
    return;
  }
  p->cycle_running = true;
  p->running = c;
}

static void on_cycle_done(prio_t *p, const rt_msg_t *m)
{
  size_t len = 0;
  const void *d = rt_msg_data(m, &len);
  prio__cycle_t *c = NULL;
  if (len != sizeof c)
    return;
  memcpy(&c, d, sizeof c);
  p->cycle_running = false;
  p->running = NULL;
  for (size_t i = 0; i < p->cfg.nrepos; i++) { /* the new churn */
    prio_churn_free(p->churn[i]);
    p->churn[i] = c->churn[i];
    c->churn[i] = NULL;
  }
  if (!p->loaded || c->seq_before < p->last_seq)
    p->last_seq = c->seq_before; /* events since then: read again */
  p->applying = c;
  p->apply_next = 0;
  self_send(p, PRIO__MSG_APPLY);
}

static void apply_item(rt_ctx_t *ctx, prio_t *p, prio__item_t *it)
{
  proto_task_t t = {.id = it->id, .repo = it->repo, .kind = it->kind,
                    .state = it->state, .pinned = it->pinned,
                    .attempts = it->attempts, .first_seen = it->first_seen};
  p->scored++;
  if (it->changed)
    write_score(ctx, p, it->id, &it->score, NULL, NULL);
  if (it->state == PROTO_STATE_NEW && kind_auto(p, it->kind)) {
    proto_task_t full;
    if (store_task_get(p->store, it->id, &full) == 0) {
      if (full.state == PROTO_STATE_NEW) {
        auto_approve(ctx, p, &full);
        t.state = PROTO_STATE_READY;
      }
      store_task_free(&full);
    }
  }
  prio_board_put(p->board, &t, &it->score);
  prio__feed_note_requeue(p, it->id, t.state, it->attempts);
}

/* Apply one chunk of the cycle's result (or wait for the write window). */
static void on_apply(rt_ctx_t *ctx, prio_t *p)
{
  prio__cycle_t *c = p->applying;
  if (!c)
    return;
  size_t end = p->apply_next + PRIO__APPLY_CHUNK;
  while (p->apply_next < c->n && p->apply_next < end &&
         p->writes_out < PRIO__WRITE_WINDOW)
    apply_item(ctx, p, &c->items[p->apply_next++]);
  if (p->apply_next < c->n) {
    if (p->writes_out < PRIO__WRITE_WINDOW)
      self_send(p, PRIO__MSG_APPLY); /* else the acks resume it */
    return;
  }
  prio__cycle_free(c, p->cfg.nrepos);
  p->applying = NULL;
  p->loaded = true;
  if (p->cycle_again) {
    p->cycle_again = false;
    cycle_start(p);
  }
  on_tick(ctx, p);
}

/* ----------------------------------------------------------- overrides */

/* The task's labels without "prio:" ones that @p cmd replaces. */
static json_t *labels_after(const proto_task_t *t, const json_t *cmd)
{
  bool clear = json_is_true(json_object_get(cmd, "clear"));
  json_t *out = json_array();
  for (uint32_t i = 0; out && i < t->labels.len; i++) {
    const char *l = t->labels.items[i];
    if (!l)
      continue;
    bool ours = !strncmp(l, "prio:", 5);
    const char *eq = strchr(l, '=');
    char name[64] = "";
    if (ours && eq && (size_t)(eq - l - 5) < sizeof name)
      snprintf(name, sizeof name, "%.*s", (int)(eq - l - 5), l + 5);
    if (ours && (clear || json_object_get(cmd, name)))
      continue;
    json_array_append_new(out, json_string(l));
  }
  return out;
}

/* Append "prio:NAME=N" for each number of @p cmd; PRIO_EINVAL if one is
 * out of range. */
static int labels_add(json_t *labels, const json_t *cmd)
{
  static const char *const keys[] = {"bump", "value", "time_criticality",
                                     "risk_reduction", "job_size"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    const json_t *v = json_object_get(cmd, keys[i]);
    if (!v || json_is_null(v))
      continue;
    double d = json_number_value(v);
    bool bump = i == 0;
    if (!json_is_number(v) || !isfinite(d) || (bump && fabs(d) > 100) ||
        (!bump && (d < 1 || d > 10)))
      return PRIO_EINVAL;
    char l[80];
    snprintf(l, sizeof l, "prio:%s=%g", keys[i], d);
    json_array_append_new(labels, json_string(l));
  }
  return json_array_size(labels) > PROTO_MAX_LIST ? PRIO_EINVAL : 0;
}

static int override_apply(rt_ctx_t *ctx, prio_t *p, const json_t *cmd,
                          const rt_reply_to_t *to)
{
  const char *id = json_string_value(json_object_get(cmd, "task"));
  proto_task_t t;
  if (!id || store_task_get(p->store, id, &t) != 0)
    return id ? PRIO_ENOTFOUND : PRIO_EINVAL;
  json_t *labels = labels_after(&t, cmd);
  int rc = labels ? labels_add(labels, cmd) : -ENOMEM;
  proto_string_list_t old = t.labels;
  char *items[PROTO_MAX_LIST + 8];
  if (!rc) { /* score with the new labels */
    t.labels = (proto_string_list_t){items, 0};
    for (size_t i = 0; i < json_array_size(labels); i++)
      items[t.labels.len++] = (char *)json_string_value(json_array_get(labels, i));
    char why[PRIO__WHY_MAX];
    proto_score_t s;
    prio__score_task(&p->cfg, p->churn, &t, prio__now_ms(), &s, why,
                     sizeof why);
    s.why = why;
    t.labels = old;
    rc = write_score(ctx, p, id, &s, json_incref(labels), to);
    if (!rc)
      prio_board_put(p->board, &t, &s);
  }
  json_decref(labels);
  store_task_free(&t);
  return rc;
}

static void on_command(rt_ctx_t *ctx, prio_t *p, const rt_msg_t *m)
{
  size_t len = 0;
  const char *d = rt_msg_data(m, &len);
  json_t *cmd = json_loadb(d, len, 0, NULL);
  rt_reply_to_t to = {0};
  rt_msg_reply_to(m, &to);
  int rc = json_is_object(cmd) ? override_apply(ctx, p, cmd, &to)
                               : PRIO_EINVAL;
  json_decref(cmd);
  if (rc)
    reply_rc(&to, rc);
}

/* -------------------------------------------------------------- replies */

static void on_store_ack(prio_t *p, const rt_msg_t *m, bool timed_out)
{
  prio__wait_t w;
  int32_t rc = timed_out ? RT_ETIMEDOUT : 0;
  if (!timed_out) {
    size_t len = 0;
    const store_ack_t *a = rt_msg_data(m, &len);
    if (len == sizeof *a)
      rc = a->rc;
  }
  p->write_errors += rc != 0; /* a task resolved meanwhile, a full disk */
  if (p->writes_out)
    p->writes_out--;
  if (prio__wait_take(p, rt_msg_corr(m), &w))
    reply_rc(&w.to, rc);
  if (p->applying && p->writes_out == PRIO__WRITE_WINDOW / 2)
    self_send(p, PRIO__MSG_APPLY);
}

static void on_timeout(rt_ctx_t *ctx, prio_t *p, const rt_msg_t *m)
{
  prio__wait_t w;
  uint64_t corr = rt_msg_corr(m);
  for (size_t i = 0; i < p->nwaits; i++)
    if (p->waits[i].corr == corr && p->waits[i].kind != W_STORE_REPLY) {
      prio__wait_take(p, corr, &w);
      prio__feed_reply(ctx, p, &w, RT_ETIMEDOUT);
      return;
    }
  on_store_ack(p, m, true);
}

static void on_exec_reply(rt_ctx_t *ctx, prio_t *p, const rt_msg_t *m)
{
  prio__wait_t w;
  size_t len = 0;
  const int32_t *rc = rt_msg_data(m, &len);
  if (prio__wait_take(p, rt_msg_corr(m), &w))
    prio__feed_reply(ctx, p, &w, len == sizeof *rc ? *rc : RT_EINVAL);
}

/* ---------------------------------------------------------------- actor */

typedef struct spawn_arg {
  const prio_config_t *cfg;
  store_t *store;
  rt_actor_t *store_actor;
  prio_board_t *board;
} spawn_arg_t;

static int prio_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  prio_t *p = state;
  const spawn_arg_t *a = arg;
  p->cfg = *a->cfg;
  if (!p->cfg.poll_ms)
    p->cfg.poll_ms = DEFAULT_POLL_MS;
  if (!p->cfg.cycle_ms)
    p->cfg.cycle_ms = DEFAULT_CYCLE_MS;
  p->churn = calloc(p->cfg.nrepos + 1, sizeof *p->churn);
  if (!p->churn) /* on_stop does not run after a failed start */
    return -ENOMEM;
  p->store = a->store;
  p->store_actor = rt_actor_retain(a->store_actor);
  p->board = prio_board_retain(a->board);
  p->rt = rt_ctx_runtime(ctx);
  p->self = rt_self(ctx);
  rt_timer_start(p->rt, p->self, PRIO__MSG_TICK, p->cfg.poll_ms,
                 p->cfg.poll_ms, &p->tick_timer);
  rt_timer_start(p->rt, p->self, PRIO_MSG_CYCLE, p->cfg.cycle_ms,
                 p->cfg.cycle_ms, &p->cycle_timer);
  cycle_start(p);
  return 0;
}

static void prio_stop(rt_ctx_t *ctx, void *state)
{
  prio_t *p = state;
  rt_timer_cancel(p->rt, p->tick_timer);
  rt_timer_cancel(p->rt, p->cycle_timer);
  prio__cycle_abandon(p->running, p->cfg.nrepos); /* a job still out */
  p->running = NULL;
  prio__cycle_free(p->applying, p->cfg.nrepos);
  p->applying = NULL;
  for (size_t i = 0; p->churn && i < p->cfg.nrepos; i++)
    prio_churn_free(p->churn[i]);
  free(p->churn);
  for (size_t i = 0; i < p->nsyncs; i++)
    reply_rc(&p->syncs[i], RT_ESTOPPED);
  free(p->syncs);
  free(p->waits);
  rt_actor_release(p->store_actor);
  prio_board_release(p->board);
}

static void on_sync(rt_ctx_t *ctx, prio_t *p, const rt_msg_t *m)
{
  rt_reply_to_t to;
  if (rt_msg_reply_to(m, &to) != 0)
    return;
  if (p->nsyncs == p->capsyncs) {
    size_t cap = p->capsyncs ? p->capsyncs * 2 : 4;
    rt_reply_to_t *v = realloc(p->syncs, cap * sizeof *v);
    if (!v) {
      reply_rc(&to, RT_ENOMEM);
      return;
    }
    p->syncs = v;
    p->capsyncs = cap;
  }
  p->syncs[p->nsyncs++] = to;
  if (p->loaded && !p->applying) {
    while (tail(ctx, p)) /* everything logged before the sync */
      ;
    prio__feed_maybe(ctx, p); /* and the executor as it is now */
  }
  syncs_check(p);
}

static void on_touch(rt_ctx_t *ctx, prio_t *p, const rt_msg_t *m)
{
  size_t len = 0;
  const char *d = rt_msg_data(m, &len);
  char id[256];
  if (!p->loaded || len == 0 || len >= sizeof id)
    return;
  memcpy(id, d, len);
  id[len] = '\0';
  prio__rescore(ctx, p, id);
  prio__feed_maybe(ctx, p);
}

#define BOARD_LOCAL_MAX 64

/* What the board needs of @p cfg; @p local holds the repository ids. */
static void board_config_of(const prio_config_t *cfg, prio_board_config_t *bc,
                            const char *local[BOARD_LOCAL_MAX])
{
  *bc = (prio_board_config_t){
      .concurrency = cfg->concurrency, .dry_run = cfg->dry_run,
      .max_tasks_per_day = cfg->max_tasks_per_day,
      .max_usd_per_day = cfg->max_usd_per_day,
      .auto_approve = cfg->auto_approve, .nauto_approve = cfg->nauto_approve};
  for (size_t i = 0; i < cfg->nrepos && bc->nlocal_repos < BOARD_LOCAL_MAX;
       i++)
    if (cfg->repos[i].path)
      local[bc->nlocal_repos++] = cfg->repos[i].id;
  bc->local_repos = local;
}

/* PRIO_MSG_RECONFIGURE: new rules and limits, then every task rescored.
 * A running cycle keeps its copy of the old settings (still valid: the
 * caller never frees them) and a new cycle follows it. */
static void on_reconfigure(prio_t *p, const rt_msg_t *m)
{
  size_t len = 0;
  const void *d = rt_msg_data(m, &len);
  const prio_config_t *now = NULL;
  rt_reply_to_t to = {0};
  rt_msg_reply_to(m, &to);
  if (len != sizeof now) {
    reply_rc(&to, PRIO_EINVAL);
    return;
  }
  memcpy(&now, d, sizeof now);
  prio_config_t keep = p->cfg;
  p->cfg = *now;
  p->cfg.poll_ms = keep.poll_ms;
  p->cfg.cycle_ms = keep.cycle_ms;
  p->cfg.feed_executor = keep.feed_executor;
  p->cfg.executor = keep.executor;
  if (now->nrepos != keep.nrepos) { /* the churn table is per repository */
    p->cfg.repos = keep.repos;
    p->cfg.nrepos = keep.nrepos;
  }
  prio_board_config_t bc;
  const char *local[BOARD_LOCAL_MAX];
  board_config_of(&p->cfg, &bc, local);
  int rc = prio_board_configure(p->board, &bc);
  cycle_start(p);
  reply_rc(&to, rc ? RT_ENOMEM : 0);
}

static void prio_msg(rt_ctx_t *ctx, void *state, rt_msg_t *m)
{
  prio_t *p = state;
  switch (rt_msg_type(m)) {
  case PRIO__MSG_TICK: on_tick(ctx, p); break;
  case PRIO_MSG_CYCLE: cycle_start(p); break;
  case PRIO__MSG_CYCLE_DONE: on_cycle_done(p, m); break;
  case PRIO__MSG_APPLY: on_apply(ctx, p); break;
  case PRIO_MSG_TOUCH: on_touch(ctx, p, m); break;
  case PRIO_MSG_COMMAND: on_command(ctx, p, m); break;
  case PRIO_MSG_SYNC: on_sync(ctx, p, m); break;
  case PRIO_MSG_RECONFIGURE: on_reconfigure(p, m); break;
  case STORE_MSG_ACK: on_store_ack(p, m, false); break;
  case RT_MSG_TIMEOUT: on_timeout(ctx, p, m); break;
  case EXEC_MSG_REPLY: on_exec_reply(ctx, p, m); break;
  case EXEC_MSG_STATUS: prio__feed_status(ctx, p, m); break;
  default: break;
  }
  syncs_check(p);
}

static const rt_actor_type_t prio_type = {
    .name = ACTOR,
    .state_size = sizeof(prio_t),
    .on_start = prio_start,
    .on_msg = prio_msg,
    .on_stop = prio_stop,
};

int prio_spawn(rt_runtime_t *rt, const prio_config_t *cfg, store_t *store,
               rt_actor_t *store_actor, const char *name, rt_actor_t **out,
               prio_board_t **board)
{
  *out = NULL;
  if (board)
    *board = NULL;
  prio_board_config_t bc;
  const char *local[BOARD_LOCAL_MAX];
  board_config_of(cfg, &bc, local);
  prio_board_t *b = NULL;
  int rc = prio_board_new(&bc, &b);
  if (rc)
    return RT_ENOMEM;
  spawn_arg_t *a = malloc(sizeof *a);
  if (!a) {
    prio_board_release(b);
    return RT_ENOMEM;
  }
  *a = (spawn_arg_t){cfg, store, store_actor, b};
  /* The runtime keeps @p arg for restarts; no restart policy here, so
   * the copy is needed only during the spawn. */
  rt_spawn_opts_t o = {.name = name};
  rc = rt_actor_spawn(rt, &prio_type, a, &o, out);
  free(a);
  if (!rc && board)
    *board = b;
  else
    prio_board_release(b);
  return rc;
}

int prio_reconfigure(rt_actor_t *prio, const prio_config_t *cfg)
{
  rt_msg_t *m = NULL;
  int rc = rt_msg_new(PRIO_MSG_RECONFIGURE, &cfg, sizeof cfg, &m);
  return rc ? rc : rt_send(prio, &m);
}

int prio_sync(rt_runtime_t *rt, rt_actor_t *prio, uint32_t timeout_ms)
{
  rt_msg_t *m = NULL, *r = NULL;
  int rc = rt_msg_new(PRIO_MSG_SYNC, NULL, 0, &m);
  if (!rc)
    rc = rt_call(rt, prio, &m, timeout_ms, &r);
  if (!rc) {
    size_t len = 0;
    const int32_t *v = rt_msg_data(r, &len);
    rc = len == sizeof *v ? *v : RT_EINVAL;
  }
  rt_msg_free(r);
  return rc;
}

/* ------------------------------------------------------------ the view */

json_t *prio_queue_json(prio_board_t *b, store_t *store,
                        const prio_view_query_t *q, int64_t now_ms)
{
  json_t *o = prio_board_view(b, q, now_ms);
  json_t *list = json_object_get(o, "queue");
  for (size_t i = 0; store && i < json_array_size(list); i++) {
    json_t *e = json_array_get(list, i);
    proto_task_t t;
    if (store_task_get(store, json_string_value(json_object_get(e, "id")),
                       &t) != 0)
      continue;
    if (t.title)
      json_object_set_new(e, "title", json_string(t.title));
    if (t.loc.path)
      json_object_set_new(e, "path", json_string(t.loc.path));
    if (t.score.why)
      json_object_set_new(json_object_get(e, "score"), "why",
                          json_string(t.score.why));
    store_task_free(&t);
  }
  return o;
}
