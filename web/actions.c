/*
 * actions.c: task actions (run, cancel, skip, requeue, pin) and scans,
 * shared by REST (POST /tasks/{id}/actions, POST /repos/{id}/scan) and
 * WebSocket commands. Service thread only.
 *
 * An action reads the task, plans the state transitions it needs through
 * the task state machine (protocol/proto.h), and hands them to the bridge
 * as one job; the store actor checks each transition again when it
 * applies it, so a task that moved meanwhile makes the job fail with
 * STORE_ETRANSITION (409) rather than jump states. When the job is done
 * the owner (HTTP request or WebSocket command) gets the task as it is
 * now, the change is published on the "tasks" topic, and the executor is
 * told about run and cancel when one is registered.
 *
 *   run      -> ready (approved), through triaged when needed;
 *               409 when running, done or resolved
 *   cancel   running -> ready -> triaged; ready -> triaged; else 409
 *   skip     -> skipped where the machine allows it; no-op when skipped
 *   requeue  -> ready where allowed, else -> triaged; no-op when queued
 *   pin      pinned = args.pinned (default true), set by the store actor
 *            on the task as it reads it in its write transaction, so a
 *            state change committed meanwhile is kept
 *
 * A store write that is slow: the owner waits at most store_timeout_ms
 * (10 s). Then it is answered 202 {"status":"pending","task":<as stored
 * now>} (a WebSocket command: ok with that data), because the write may
 * still commit: the bridge keeps waiting for it (WEB__STORE_WAIT_MS), and
 * when it commits the task is published on "tasks" (and the executor
 * told) as for any action; a client learns the outcome there or from
 * GET /tasks/{id}. Answering 503 instead would report a failure that may
 * not be one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web_int.h"

static const char *const action_names[WEB_ACT_COUNT] = {
    "run", "cancel", "skip", "requeue", "pin", "scan"};

int web__action_from_name(const char *name)
{
  for (int i = 0; name && i < WEB_ACT_COUNT; i++)
    if (strcmp(name, action_names[i]) == 0)
      return i;
  return -1;
}

const char *web__action_name(web_action_t a) { return action_names[a]; }

/* ------------------------------------------------------------- pending */

web_pending_t *web__pending_add(web_t *w, web_owner_kind_t kind, void *owner)
{
  if (w->n_pending == w->cap_pending) {
    size_t cap = w->cap_pending ? w->cap_pending * 2 : 16;
    web_pending_t *p = realloc(w->pending, cap * sizeof(*p));
    if (!p)
      return NULL;
    w->pending = p;
    w->cap_pending = cap;
  }
  web_pending_t *p = &w->pending[w->n_pending++];
  memset(p, 0, sizeof(*p));
  p->token = ++w->next_token;
  p->kind = kind;
  p->owner = owner;
  return p;
}

web_pending_t *web__pending_find(web_t *w, uint64_t token)
{
  for (size_t i = 0; i < w->n_pending; i++)
    if (w->pending[i].token == token)
      return &w->pending[i];
  return NULL;
}

static void pending_remove_at(web_t *w, size_t i)
{
  free(w->pending[i].cmd_id);
  w->pending[i] = w->pending[--w->n_pending];
}

void web__pending_remove(web_t *w, uint64_t token)
{
  for (size_t i = 0; i < w->n_pending; i++)
    if (w->pending[i].token == token) {
      pending_remove_at(w, i);
      return;
    }
}

void web__pending_drop_owner(web_t *w, const void *owner)
{
  for (size_t i = 0; i < w->n_pending;)
    if (w->pending[i].owner == owner)
      pending_remove_at(w, i);
    else
      i++;
}

/* ------------------------------------------------------------ planning */

json_t *web__task_json(const proto_task_t *t)
{
  proto_msg_t m = {.type = PROTO_TASK};
  m.u.task = *t;
  return proto_json_encode(&m);
}

/* Printable ASCII of untrusted @p s, cut to 40 bytes, for messages. */
static const char *quoted(const char *s, char out[48])
{
  size_t n = 0;
  for (; s && s[n] && n < 40; n++)
    out[n] = (s[n] >= 0x20 && s[n] < 0x7f && s[n] != '"') ? s[n] : '?';
  out[n] = '\0';
  return out;
}

typedef struct plan {
  proto_state_t path[WEB__JOB_MAX];
  size_t n;
  bool noop;
} plan_t;

static bool step(plan_t *p, proto_state_t from, proto_state_t to)
{
  if (!proto_state_transition_ok(from, to) || p->n >= WEB__JOB_MAX)
    return false;
  p->path[p->n++] = to;
  return true;
}

/* A path from @p s to READY (through TRIAGED when there is no direct
 * transition); false when there is none. */
static bool path_to_ready(plan_t *p, proto_state_t s)
{
  if (s == PROTO_STATE_READY) {
    p->noop = true;
    return true;
  }
  if (step(p, s, PROTO_STATE_READY))
    return true;
  return s == PROTO_STATE_TRIAGED ? false
         : step(p, s, PROTO_STATE_TRIAGED) &&
               step(p, PROTO_STATE_TRIAGED, PROTO_STATE_READY);
}

static int plan_action(web_action_t a, proto_state_t s, plan_t *p,
                       web_err_t *e)
{
  const char *name = proto_state_name(s);
  memset(p, 0, sizeof(*p));
  switch (a) {
  case WEB_ACT_RUN:
    if (s == PROTO_STATE_RUNNING)
      return web__err(e, 409, "conflict", "task is already running");
    if (s == PROTO_STATE_DONE || s == PROTO_STATE_RESOLVED ||
        !path_to_ready(p, s))
      return web__err(e, 409, "conflict", "a %s task cannot run", name);
    return 0;
  case WEB_ACT_CANCEL:
    if (s == PROTO_STATE_RUNNING) {
      step(p, s, PROTO_STATE_READY);
      step(p, PROTO_STATE_READY, PROTO_STATE_TRIAGED);
      return 0;
    }
    if (s == PROTO_STATE_READY && step(p, s, PROTO_STATE_TRIAGED))
      return 0;
    return web__err(e, 409, "conflict",
                    "only a running or approved task can be cancelled "
                    "(task is %s)", name);
  case WEB_ACT_SKIP:
    if (s == PROTO_STATE_SKIPPED)
      p->noop = true;
    else if (!step(p, s, PROTO_STATE_SKIPPED))
      return web__err(e, 409, "conflict", "a %s task cannot be skipped%s",
                      name, s == PROTO_STATE_RUNNING ? " (cancel it first)"
                                                     : "");
    return 0;
  case WEB_ACT_REQUEUE:
    if (s == PROTO_STATE_READY || s == PROTO_STATE_TRIAGED)
      p->noop = true;
    else if (!step(p, s, PROTO_STATE_READY) &&
             !step(p, s, PROTO_STATE_TRIAGED))
      return web__err(e, 409, "conflict", "a %s task cannot be requeued",
                      name);
    return 0;
  default:
    return web__err(e, 400, "bad_request", "not a task action");
  }
}

static int encode_into(web_job_t *job, const proto_msg_t *m)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  int rc = proto_msgpack_encode(m, &sb);
  if (rc) {
    msgpack_sbuffer_destroy(&sb);
    return rc;
  }
  job->writes[job->n].len = sb.size;
  job->writes[job->n].bytes = msgpack_sbuffer_release(&sb);
  job->n++;
  return 0;
}

static int build_transitions(web_job_t *job, const proto_task_t *t,
                             const plan_t *p, web_action_t a)
{
  char reason[64];
  snprintf(reason, sizeof(reason), "%s requested through the control plane",
           action_names[a]);
  proto_state_t from = t->state;
  int64_t now = web__now_ms();
  for (size_t i = 0; i < p->n; i++) {
    proto_msg_t m = {.type = PROTO_TASK_UPDATE};
    m.u.task_update = (proto_task_update_t){
        .task_id = t->id, .from = from, .to = p->path[i], .reason = reason,
        .actor = "user", .at = now};
    int rc = encode_into(job, &m);
    if (rc)
      return rc;
    from = p->path[i];
  }
  return 0;
}

/* The store actor sets the flag on the task as it reads it inside its
 * write transaction (store_actor.h, COMMAND "pin"): a transition that
 * committed after our read is kept. */
static int build_pin(web_job_t *job, const proto_task_t *t, bool pinned)
{
  json_t *args = json_pack("{s:s,s:b,s:I}", "task", t->id, "pinned", pinned,
                           "at", (json_int_t)web__now_ms());
  if (!args)
    return RT_ENOMEM;
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command = (proto_command_t){.action = "pin", .args = args};
  int rc = encode_into(job, &m);
  json_decref(args);
  return rc;
}

static int arg_pinned(const json_t *args, bool *pinned, web_err_t *e)
{
  const json_t *v = args ? json_object_get(args, "pinned") : NULL;
  *pinned = true;
  if (!v)
    return 0;
  if (!json_is_boolean(v))
    return web__err(e, 400, "bad_request", "args.pinned must be a boolean");
  *pinned = json_is_true(v);
  return 0;
}

/* --------------------------------------------------------------- scans */

static const web_repo_t *find_repo(web_t *w, const char *id)
{
  for (size_t i = 0; id && i < w->cfg.n_repos; i++)
    if (strcmp(w->repos[i].id, id) == 0)
      return &w->repos[i];
  return NULL;
}

static int start_scan(web_t *w, const json_t *args, json_t **result,
                      web_err_t *e)
{
  char q[48];
  const char *repo = json_string_value(json_object_get(args, "repo"));
  if (!repo)
    return web__err(e, 400, "bad_request", "args.repo is required");
  if (!find_repo(w, repo))
    return web__err(e, 404, "not_found", "no repository \"%s\"",
                    quoted(repo, q));
  const json_t *full = json_object_get(args, "full");
  if (full && !json_is_boolean(full))
    return web__err(e, 400, "bad_request", "args.full must be a boolean");
  rt_actor_t *scanner = NULL;
  if (rt_actor_lookup(w->rt, "scanner", &scanner) != 0)
    return web__err(e, 503, "unavailable",
                    "no scanner is running in this daemon");
  proto_msg_t m = {.type = PROTO_SCAN_REQUEST};
  m.u.scan_request = (proto_scan_request_t){.repo = (char *)repo,
                                            .full = json_is_true(full)};
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  int rc = proto_msgpack_encode(&m, &sb);
  rt_msg_t *msg = NULL;
  if (!rc) {
    size_t len = sb.size;
    rc = rt_msg_new_take(WEB_MSG_SCAN, msgpack_sbuffer_release(&sb), len,
                         &msg);
  } else {
    msgpack_sbuffer_destroy(&sb);
  }
  if (!rc)
    rc = rt_send(scanner, &msg);
  rt_actor_release(scanner);
  if (rc)
    return web__err(e, 503, "unavailable", "the scanner refused the request "
                    "(%s)", web_strerror(rc));
  *result = json_pack("{s:s,s:s}", "repo", repo, "status", "queued");
  return 0;
}

/* ------------------------------------------------------------- actions */

static void notify_executor(web_t *w, web_action_t a, const char *task_id)
{
  if (a != WEB_ACT_RUN && a != WEB_ACT_CANCEL)
    return;
  rt_actor_t *ex = NULL;
  if (rt_actor_lookup(w->rt, "executor", &ex) != 0)
    return; /* none yet: the task waits in "ready" */
  json_t *args = json_pack("{s:s}", "task", task_id);
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command = (proto_command_t){.action = (char *)action_names[a],
                                  .args = args};
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  rt_msg_t *msg = NULL;
  if (args && proto_msgpack_encode(&m, &sb) == 0) {
    size_t len = sb.size;
    if (rt_msg_new_take(WEB_MSG_COMMAND, msgpack_sbuffer_release(&sb), len,
                        &msg) == 0)
      rt_send(ex, &msg);
  } else {
    msgpack_sbuffer_destroy(&sb);
  }
  json_decref(args);
  rt_actor_release(ex);
}

/* The task as stored now, as JSON; publishes it on "tasks" when asked. */
static json_t *current_task(web_t *w, const char *id, bool publish)
{
  proto_task_t t;
  if (store_task_get(w->store, id, &t) != 0)
    return NULL;
  json_t *j = web__task_json(&t);
  store_task_free(&t);
  if (j && publish)
    web_publish(w, "tasks", j);
  return j;
}

/* ------------------------------------------------- slow store writes */

static json_t *pending_body(web_t *w, const char *task_id)
{
  json_t *task = current_task(w, task_id, false);
  return json_pack("{s:s,s:o,s:s}", "status", "pending", "task",
                   task ? task : json_null(), "message",
                   "the store has not confirmed the change yet; it may "
                   "still commit: watch the tasks topic or GET the task");
}

/* Answer @p p's owner "pending"; from now on its result is only
 * published (the entry stays until the job is done). */
static void answer_pending(web_t *w, web_pending_t *p)
{
  json_t *body = pending_body(w, p->task_id);
  if (p->kind == WEB_OWNER_HTTP) {
    http_req_t *r = p->owner;
    r->token = 0;
    web__http_action_done(r, 202, body);
  } else if (p->kind == WEB_OWNER_WS) {
    web_err_t e;
    web__err(&e, 500, "internal", "out of memory");
    web__ws_action_done(p->owner, p->cmd_id, body != NULL, body, &e);
    json_decref(body);
  }
  p->kind = WEB_OWNER_HOOK;
  p->owner = NULL;
  p->answered_pending = true;
}

static void pending_timer(lws_sorted_usec_list_t *sul);

/* Schedule the timer for the earliest deadline of an owner still waiting. */
static void pending_timer_arm(web_t *w)
{
  int64_t next = INT64_MAX;
  for (size_t i = 0; i < w->n_pending; i++)
    if (w->pending[i].kind != WEB_OWNER_HOOK &&
        w->pending[i].deadline_ms < next)
      next = w->pending[i].deadline_ms;
  if (next == INT64_MAX)
    return;
  int64_t wait_ms = next - web__now_ms();
  lws_sul_schedule(w->ctx, 0, &w->pending_sul, pending_timer,
                   (lws_usec_t)(wait_ms > 0 ? wait_ms : 0) * LWS_US_PER_MS +
                       1);
}

static void pending_timer(lws_sorted_usec_list_t *sul)
{
  web_t *w = lws_container_of(sul, web_t, pending_sul);
  int64_t now = web__now_ms();
  for (size_t i = 0; i < w->n_pending; i++)
    if (w->pending[i].kind != WEB_OWNER_HOOK &&
        w->pending[i].deadline_ms <= now)
      answer_pending(w, &w->pending[i]);
  pending_timer_arm(w);
}

static int send_job(web_t *w, web_job_t *job)
{
  rt_msg_t *m = NULL;
  int rc = rt_msg_new(WEB__MSG_JOB, &job, sizeof(job), &m);
  if (!rc)
    rc = rt_send(w->bridge, &m);
  return rc;
}

static int plan_job(web_action_t a, const proto_task_t *t,
                    const json_t *args, web_job_t *job, bool *noop,
                    web_err_t *e)
{
  int rc;
  *noop = false;
  if (a == WEB_ACT_PIN) {
    bool pinned;
    if (arg_pinned(args, &pinned, e))
      return -1;
    if (pinned == t->pinned) {
      *noop = true;
      return 0;
    }
    rc = build_pin(job, t, pinned);
  } else {
    plan_t p;
    if (plan_action(a, t->state, &p, e))
      return -1;
    *noop = p.noop;
    rc = p.noop ? 0 : build_transitions(job, t, &p, a);
  }
  if (rc)
    return web__err(e, 500, "internal", "cannot encode the change: %s",
                    web_strerror(rc));
  return 0;
}

int web__action_start(web_t *w, web_action_t action, const char *task_id,
                      const json_t *args, web_owner_kind_t kind, void *owner,
                      const char *cmd_id, json_t **result, web_err_t *e)
{
  char q[48];
  *result = NULL;
  if (action == WEB_ACT_SCAN)
    return start_scan(w, args, result, e) ? -1 : 0;
  if (!task_id || strlen(task_id) > WEB__ID_MAX)
    return web__err(e, 404, "not_found", "no such task");
  proto_task_t t;
  int rc = store_task_get(w->store, task_id, &t);
  if (rc == STORE_ENOTFOUND)
    return web__err(e, 404, "not_found", "no task \"%s\"",
                    quoted(task_id, q));
  if (rc)
    return web__err(e, 503, "unavailable", "cannot read the store: %s",
                    store_strerror(rc));
  web_job_t *job = calloc(1, sizeof(*job));
  bool noop = false;
  rc = job ? plan_job(action, &t, args, job, &noop, e)
           : web__err(e, 500, "internal", "out of memory");
  store_task_free(&t);
  if (rc || noop) {
    web__job_free(job);
    if (!rc) {
      notify_executor(w, action, task_id); /* "run" on a ready task */
      *result = current_task(w, task_id, false);
    }
    return rc ? -1 : 0;
  }
  web_pending_t *p = web__pending_add(w, kind, owner);
  if (!p || (cmd_id && !(p->cmd_id = strdup(cmd_id)))) {
    if (p)
      web__pending_remove(w, p->token);
    web__job_free(job);
    return web__err(e, 500, "internal", "out of memory");
  }
  p->action = action;
  snprintf(p->task_id, sizeof(p->task_id), "%s", task_id);
  p->deadline_ms = web__now_ms() + (int64_t)w->cfg.store_timeout_ms;
  job->token = p->token;
  uint64_t token = p->token;
  if ((rc = send_job(w, job)) != 0) {
    web__pending_remove(w, token);
    return web__err(e, 503, "unavailable", "the store is not accepting "
                    "writes (%s)", web_strerror(rc));
  }
  if (kind == WEB_OWNER_HTTP)
    ((http_req_t *)owner)->token = token;
  pending_timer_arm(w);
  return 1;
}

static void job_error(const web_job_t *job, web_err_t *e)
{
  if (job->rc == STORE_ETRANSITION)
    web__err(e, 409, "conflict",
             "the task changed meanwhile; the transition is not allowed");
  else if (job->rc == STORE_ENOTFOUND)
    web__err(e, 404, "not_found", "the task is gone");
  else if (job->rc == RT_ETIMEDOUT)
    web__err(e, 503, "unavailable", "the store did not answer in time");
  else
    web__err(e, 503, "unavailable", "the store refused the write: %s",
             web_strerror(job->rc));
}

void web__action_job_done(web_t *w, web_job_t *job)
{
  web_pending_t *p = web__pending_find(w, job->token);
  if (!p) {
    web__job_free(job); /* its connection closed meanwhile */
    return;
  }
  web_pending_t done = *p;
  p->cmd_id = NULL; /* moved to done */
  web__pending_remove(w, job->token);
  web_err_t e = {0};
  json_t *task = NULL;
  if (job->rc == 0) {
    task = current_task(w, done.task_id, true);
    notify_executor(w, done.action, done.task_id);
    if (!task)
      web__err(&e, 404, "not_found", "the task is gone");
  } else {
    job_error(job, &e);
    if (done.answered_pending) /* its client watches "tasks": say so */
      json_decref(current_task(w, done.task_id, true));
  }
  web__job_free(job);
  if (done.kind == WEB_OWNER_HOOK) {
    json_decref(task); /* answered already; the task was published */
  } else if (done.kind == WEB_OWNER_HTTP) {
    http_req_t *r = done.owner;
    r->token = 0;
    if (task)
      web__http_action_done(r, done.action == WEB_ACT_RUN ? 202 : 200, task);
    else
      web__http_error(r, &e);
  } else {
    web__ws_action_done(done.owner, done.cmd_id, task != NULL, task, &e);
    json_decref(task);
  }
  free(done.cmd_id);
}
