/*
 * pool.c: the executor actor: queue, concurrency, budgets, pauses, and
 * every write of task state (design in executor_int.h).
 *
 * State: entries (queued, starting or running tasks) in arrival order;
 * pending store requests by correlation id (a start waiting for its
 * ready -> running acknowledgement, or an outcome EVENT to forward to the
 * sink once acknowledged); the day's ledger; the usage-limit pause; the
 * earliest armed wake-up (retry backoff, end of a pause).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/executor/executor_int.h"
#include "actors/executor/stream.h"
#include "actors/executor/worktree.h"
#include "runtime/io.h"
#include "runtime/timer.h"
#include "store/store_actor.h"

#define ACTOR "executor"
#define DAY_MS INT64_C(86400000)
#define STORE_TIMEOUT_MS 120000u
#define DEFAULT_CONCURRENCY 2u
#define DEFAULT_BACKOFF_MS 30000u
#define DEFAULT_PAUSE_MS 900000u
#define MAX_BACKOFF_MS (6u * 3600u * 1000u)

/* ------------------------------------------------------- shared helpers */

const char *exec_strerror(int rc)
{
  switch (rc) {
#define EXEC_ERR_CASE(name, code, text) \
  case EXEC_##name:                     \
    return "EXEC_" #name ": " text;
    EXEC_ERRNO_MAP(EXEC_ERR_CASE)
#undef EXEC_ERR_CASE
  default:
    break;
  }
  if (rc <= -33000 && rc > -34000)
    return store_strerror(rc);
  if (rc <= -32000 && rc > -33000)
    return proto_strerror(rc);
  if (rc <= -30800 && rc > -31000)
    return store_strerror(rc); /* LMDB's own codes */
  return rt_strerror(rc);       /* its own codes and -errno */
}

bool exec__id_ok(const char *id)
{
  size_t n = id ? strlen(id) : 0;
  return n > 0 && n < EXEC_ID_MAX && id[0] != '.' &&
         strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789._-") == n &&
         !strstr(id, "..");
}

int exec__paths(const char *data_dir, const char *task_id, char *wt,
                size_t wtlen, char *branch, size_t blen, char *runs,
                size_t rlen)
{
  if (!data_dir || !exec__id_ok(task_id))
    return EXEC_EINVAL;
  int a = snprintf(wt, wtlen, "%s/worktrees/%s", data_dir, task_id);
  int b = snprintf(branch, blen, "ccm/%s", task_id);
  int c = snprintf(runs, rlen, "%s/runs/%s", data_dir, task_id);
  if (a < 0 || b < 0 || c < 0 || (size_t)a >= wtlen || (size_t)b >= blen ||
      (size_t)c >= rlen)
    return EXEC_EINVAL;
  return 0;
}

int64_t exec__wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int exec__send_proto(rt_actor_t *to, const proto_msg_t *m)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  int rc = proto_msgpack_encode(m, &sb);
  if (rc) {
    msgpack_sbuffer_destroy(&sb);
    return rc;
  }
  size_t len = sb.size;
  rt_msg_t *msg = NULL;
  rc = rt_msg_new_take((uint32_t)m->type, msgpack_sbuffer_release(&sb), len,
                       &msg);
  return rc ? rc : rt_send(to, &msg);
}

void exec__run_spec_free(exec__run_spec_t *spec)
{
  if (!spec)
    return;
  store_task_free(&spec->task);
  rt_actor_release(spec->pool);
  rt_actor_release(spec->sink);
  rt_actor_release(spec->github);
  free(spec);
}

void exec_config_defaults(exec_config_t *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->concurrency = DEFAULT_CONCURRENCY;
  cfg->budget.max_turns = 30;
  cfg->budget.max_wall_s = 1800;
  cfg->idle_timeout_ms = 600000;
  cfg->kill_grace_ms = 5000;
  cfg->test_timeout_ms = 600000;
  cfg->retry_backoff_ms = DEFAULT_BACKOFF_MS;
  cfg->usage_pause_ms = DEFAULT_PAUSE_MS;
}

/* ------------------------------------------------------------------ state */

typedef enum entry_state { E_QUEUED, E_STARTING, E_RUNNING } entry_state_t;

typedef struct entry {
  char id[EXEC_ID_MAX];
  const exec_repo_t *repo;
  entry_state_t st;
  unsigned retries;   /* transient failures retried so far */
  int64_t not_before; /* wall ms: a retry's backoff */
  proto_task_t task;  /* while starting: the record read at the start */
  rt_actor_t *run;    /* while running */
  bool cancel;        /* cancelled while starting */
} entry_t;

typedef enum pend_kind { P_START, P_NOTIFY, P_PLAIN } pend_kind_t;

typedef struct pending {
  uint64_t corr;
  pend_kind_t kind;
  char id[EXEC_ID_MAX];
  json_t *event; /* P_NOTIFY: the event's data, sent on with its seq */
  int64_t ts;
} pending_t;

typedef struct pool {
  exec_config_t cfg;
  const exec_preset_t *preset;
  rt_runtime_t *rt;
  rt_actor_t *self, *store_actor, *sink, *github;
  store_t *store;
  entry_t **e;
  size_t n, cap;
  unsigned active; /* starting + running */
  pending_t *p;
  size_t np, pcap;
  int64_t day;
  unsigned day_tasks;
  double day_usd;
  int64_t paused_until; /* wall ms */
  int64_t wake_at;      /* the earliest armed wake-up, 0 none */
  bool ready;           /* start-up clean-up done */
  uint64_t write_errors;
} pool_t;

static entry_t *find(pool_t *p, const char *id, size_t *idx)
{
  for (size_t i = 0; i < p->n; i++) {
    if (strcmp(p->e[i]->id, id) == 0) {
      if (idx)
        *idx = i;
      return p->e[i];
    }
  }
  return NULL;
}

static void entry_free(entry_t *e)
{
  store_task_free(&e->task);
  rt_actor_release(e->run);
  free(e);
}

static void drop(pool_t *p, entry_t *e)
{
  size_t i;
  if (!find(p, e->id, &i))
    return;
  memmove(&p->e[i], &p->e[i + 1], (p->n - i - 1) * sizeof *p->e);
  p->n--;
  entry_free(e);
}

static entry_t *add_entry(pool_t *p, const char *id, const exec_repo_t *repo)
{
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    entry_t **v = realloc(p->e, cap * sizeof *v);
    if (!v)
      return NULL;
    p->e = v;
    p->cap = cap;
  }
  entry_t *e = calloc(1, sizeof *e);
  if (!e)
    return NULL;
  snprintf(e->id, sizeof e->id, "%s", id);
  e->repo = repo;
  p->e[p->n++] = e;
  return e;
}

/* The repository a task of @p id runs in: one with a local path (the
 * github-mention preset needs none: it only comments on GitHub). */
static const exec_repo_t *find_repo(const pool_t *p, const char *id)
{
  bool remote_only = p->preset->kind == EXEC_AGENT_GITHUB_MENTION;
  for (size_t i = 0; id && i < p->cfg.nrepos; i++)
    if (p->cfg.repos[i].id && strcmp(p->cfg.repos[i].id, id) == 0 &&
        (p->cfg.repos[i].path || remote_only))
      return &p->cfg.repos[i];
  return NULL;
}

/* ------------------------------------------------------------ the store */

static pending_t *add_pending(pool_t *p)
{
  if (p->np == p->pcap) {
    size_t cap = p->pcap ? p->pcap * 2 : 16;
    pending_t *v = realloc(p->p, cap * sizeof *v);
    if (!v)
      return NULL;
    p->p = v;
    p->pcap = cap;
  }
  pending_t *pd = &p->p[p->np++];
  memset(pd, 0, sizeof *pd);
  return pd;
}

/* Send one write as a request; remember it as @p kind for @p id. */
static int store_write(rt_ctx_t *ctx, pool_t *p, const proto_msg_t *m,
                       pend_kind_t kind, const char *id, json_t *event)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  int rc = proto_msgpack_encode(m, &sb);
  size_t len = sb.size;
  rt_msg_t *msg = NULL;
  uint64_t corr = 0;
  if (!rc)
    rc = rt_msg_new_take(STORE_MSG_WRITE, msgpack_sbuffer_release(&sb), len,
                         &msg);
  else
    msgpack_sbuffer_destroy(&sb);
  if (!rc)
    rc = rt_request(ctx, p->store_actor, &msg, STORE_TIMEOUT_MS, &corr);
  pending_t *pd = rc ? NULL : add_pending(p);
  if (!pd) {
    p->write_errors++;
    json_decref(event);
    return rc ? rc : RT_ENOMEM;
  }
  pd->corr = corr;
  pd->kind = kind;
  snprintf(pd->id, sizeof pd->id, "%s", id);
  pd->event = event;
  pd->ts = m->type == PROTO_EVENT ? m->u.event.ts : 0;
  return 0;
}

/* What a step sets beside the state (store.h "task steps"). */
typedef struct step_fields {
  bool attempt;       /* one more attempt (a start) */
  const char *branch; /* the run's branch (a start) */
  const char *pr_url; /* the pull request (an outcome) */
} step_fields_t;

/* Move task @p id to @p to and publish it on "tasks" in one store write:
 * the event is appended in the transaction that commits the transition,
 * so it is never lost to a crash between two commits nor published for a
 * transition the store refused (store_step.c). The step holds only while
 * the task is still in @p from: a task someone moved meanwhile is theirs. */
static int write_step(rt_ctx_t *ctx, pool_t *p, const char *id,
                      proto_state_t from, proto_state_t to,
                      const char *reason, pend_kind_t kind,
                      const step_fields_t *f)
{
  char clean[PROTO_MAX_STR];
  exec_text_clean(reason, strlen(reason), clean, sizeof clean);
  json_t *args = json_pack("{ss ss ss ss ss sI ss}", "task", id, "from",
                           proto_state_name(from), "to",
                           proto_state_name(to), "actor", ACTOR, "reason",
                           clean, "at", (json_int_t)exec__wall_ms(), "event",
                           "tasks");
  if (!args)
    return RT_ENOMEM;
  if (f && f->attempt)
    json_object_set_new(args, "attempt", json_true());
  if (f && f->branch)
    json_object_set_new(args, "branch", json_string(f->branch));
  if (f && f->pr_url)
    json_object_set_new(args, "pr_url", json_string(f->pr_url));
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command = (proto_command_t){.action = (char *)"task_step",
                                  .args = args};
  int rc = store_write(ctx, p, &m, kind, id, NULL);
  json_decref(args);
  return rc;
}

/* Record an EVENT (topic "executor"); the sink gets it once stored. */
static void write_event(rt_ctx_t *ctx, pool_t *p, const char *id, json_t *data)
{
  proto_msg_t m = {.type = PROTO_EVENT};
  m.u.event = (proto_event_t){.seq = 1, .topic = (char *)EXEC_EVENT_TOPIC,
                              .ts = exec__wall_ms(), .data = data};
  store_write(ctx, p, &m, P_NOTIFY, id, data); /* takes data */
}

static void notify_sink(pool_t *p, const pending_t *pd, uint64_t seq)
{
  if (!p->sink || !pd->event)
    return;
  proto_msg_t m = {.type = PROTO_EVENT};
  m.u.event = (proto_event_t){.seq = seq ? seq : 1,
                              .topic = (char *)EXEC_EVENT_TOPIC, .ts = pd->ts,
                              .data = pd->event};
  exec__send_proto(p->sink, &m);
}

/* ---------------------------------------------------------- budgets, time */

static void roll_day(pool_t *p, int64_t now)
{
  int64_t day = now / DAY_MS;
  if (day != p->day) {
    p->day = day;
    p->day_tasks = 0;
    p->day_usd = 0;
  }
}

/* Would one more start break the day's budget? */
static bool budget_spent(pool_t *p, char *why, size_t wlen)
{
  const exec_budget_t *b = &p->cfg.budget;
  roll_day(p, exec__wall_ms());
  if (b->max_tasks_per_day && p->day_tasks >= b->max_tasks_per_day) {
    snprintf(why, wlen, "budget: %u of %u tasks started today", p->day_tasks,
             b->max_tasks_per_day);
    return true;
  }
  /* Runs in flight may each still spend their per-task cap. */
  double inflight = (double)p->active * b->max_usd_per_task;
  if (b->max_usd_per_day > 0 &&
      (p->day_usd >= b->max_usd_per_day ||
       p->day_usd + inflight + b->max_usd_per_task > b->max_usd_per_day)) {
    snprintf(why, wlen, "budget: $%.2f spent today and $%.2f in flight; "
             "$%.2f more per task would pass the $%.2f a day", p->day_usd,
             inflight, b->max_usd_per_task, b->max_usd_per_day);
    return true;
  }
  return false;
}

static void arm_wake(pool_t *p, int64_t at)
{
  int64_t now = exec__wall_ms();
  if (p->wake_at && p->wake_at <= at && p->wake_at > now)
    return; /* an earlier wake-up is armed */
  uint64_t delay = at > now ? (uint64_t)(at - now) : 0;
  if (rt_timer_start(p->rt, p->self, EXEC__MSG_WAKE, delay, 0, NULL) == 0)
    p->wake_at = at;
}

static unsigned repo_active(const pool_t *p, const exec_repo_t *repo)
{
  unsigned n = 0;
  for (size_t i = 0; i < p->n; i++)
    n += p->e[i]->repo == repo && p->e[i]->st != E_QUEUED;
  return n;
}

/* ------------------------------------------------------------- dispatch */

/* A queued task that cannot start: leave it where it is in the store and
 * say why in an event. */
static void refuse(rt_ctx_t *ctx, pool_t *p, entry_t *e, const char *why)
{
  json_t *d = json_pack("{ss ss ss sb}", "task_id", e->id, "class", "refused",
                        "reason", why, "counted", 0);
  write_event(ctx, p, e->id, d);
  drop(p, e);
}

static void try_start(rt_ctx_t *ctx, pool_t *p, entry_t *e)
{
  char why[512];
  proto_task_t t;
  int rc = store_task_get(p->store, e->id, &t);
  if (rc) {
    snprintf(why, sizeof why, "cannot read the task: %s", store_strerror(rc));
    refuse(ctx, p, e, why);
    return;
  }
  if (t.state != PROTO_STATE_READY) {
    snprintf(why, sizeof why, "the task is %s, not ready",
             proto_state_name(t.state));
    store_task_free(&t);
    refuse(ctx, p, e, why);
    return;
  }
  if (!p->cfg.dry_run && budget_spent(p, why, sizeof why)) {
    store_task_free(&t);
    refuse(ctx, p, e, why);
    return;
  }
  snprintf(why, sizeof why, "%s attempt %u with %s", p->cfg.dry_run
           ? "dry run," : "run,", t.attempts + 1,
           p->preset->name ? p->preset->name : "the agent");
  char branch[EXEC_ID_MAX + 8];
  snprintf(branch, sizeof branch, "ccm/%s", e->id);
  step_fields_t f = {.attempt = true, .branch = branch};
  if (write_step(ctx, p, e->id, PROTO_STATE_READY, PROTO_STATE_RUNNING, why,
                 P_START, &f) != 0) {
    store_task_free(&t);
    return; /* stays queued; tried again at the next dispatch */
  }
  e->task = t;
  e->st = E_STARTING;
  p->active++;
  if (!p->cfg.dry_run)
    p->day_tasks++; /* reserved now, so two starts in flight cannot both
                       take the day's last slot */
}

static void dispatch(rt_ctx_t *ctx, pool_t *p)
{
  unsigned limit = p->cfg.concurrency ? p->cfg.concurrency
                                      : DEFAULT_CONCURRENCY;
  int64_t now = exec__wall_ms();
  if (!p->ready)
    return;
  for (size_t i = 0; i < p->n && p->active < limit;) {
    entry_t *e = p->e[i];
    size_t n_before = p->n;
    if (e->st != E_QUEUED) {
      i++;
      continue;
    }
    if (p->paused_until > now) {
      arm_wake(p, p->paused_until);
      return;
    }
    if (e->not_before > now) {
      arm_wake(p, e->not_before);
      i++;
      continue;
    }
    if (e->repo->concurrency && repo_active(p, e->repo) >= e->repo->concurrency) {
      i++;
      continue;
    }
    try_start(ctx, p, e);
    if (p->n == n_before) /* still there (starting, or to retry) */
      i++;
  }
}

/* -------------------------------------------------------- start and end */

static void fail_start(rt_ctx_t *ctx, pool_t *p, entry_t *e, const char *why)
{
  write_step(ctx, p, e->id, PROTO_STATE_RUNNING, PROTO_STATE_FAILED, why,
             P_PLAIN, NULL);
  p->active--;
  drop(p, e);
}

static void start_run(rt_ctx_t *ctx, pool_t *p, entry_t *e)
{
  /* The start's step committed the state, the attempt and the branch
   * (and published the task): the run's copy follows it (the run makes
   * its branch name itself: exec__paths). */
  e->task.attempts++;
  e->task.state = PROTO_STATE_RUNNING;
  e->task.updated_at = exec__wall_ms();

  exec__run_spec_t *spec = calloc(1, sizeof *spec);
  if (!spec) {
    fail_start(ctx, p, e, "out of memory starting the run");
    return;
  }
  spec->cfg = p->cfg;
  spec->repo = e->repo;
  spec->preset = p->preset;
  spec->task = e->task;
  memset(&e->task, 0, sizeof e->task);
  spec->attempt = spec->task.attempts;
  spec->pool = rt_actor_retain(p->self);
  spec->sink = p->sink ? rt_actor_retain(p->sink) : NULL;
  spec->github = p->github ? rt_actor_retain(p->github) : NULL;
  int rc = exec__run_spawn(p->rt, spec, &e->run);
  if (rc) {
    char why[256];
    snprintf(why, sizeof why, "cannot start the run: %s", exec_strerror(rc));
    fail_start(ctx, p, e, why);
    return;
  }
  e->st = E_RUNNING;
}

static void on_start_ack(rt_ctx_t *ctx, pool_t *p, const pending_t *pd,
                         int rc)
{
  entry_t *e = find(p, pd->id, NULL);
  if (!e || e->st != E_STARTING)
    return;
  if ((rc || e->cancel) && !p->cfg.dry_run && p->day_tasks > 0)
    p->day_tasks--; /* the reserved start did not happen */
  if (rc) { /* the store said no: someone moved the task meanwhile */
    char why[256];
    snprintf(why, sizeof why, "the task could not be started: %s",
             store_strerror(rc));
    p->active--;
    refuse(ctx, p, e, why);
  } else if (e->cancel) {
    write_step(ctx, p, e->id, PROTO_STATE_RUNNING, PROTO_STATE_READY,
               "cancelled before the agent started", P_PLAIN, NULL);
    p->active--;
    drop(p, e);
  } else {
    start_run(ctx, p, e);
  }
  dispatch(ctx, p);
}

static void on_ack(rt_ctx_t *ctx, pool_t *p, uint64_t corr, int rc,
                   uint64_t seq)
{
  size_t i = 0;
  while (i < p->np && p->p[i].corr != corr)
    i++;
  if (i == p->np)
    return;
  pending_t pd = p->p[i];
  p->p[i] = p->p[--p->np];
  if (rc)
    p->write_errors++;
  if (pd.kind == P_START)
    on_start_ack(ctx, p, &pd, rc);
  else if (pd.kind == P_NOTIFY && !rc)
    notify_sink(p, &pd, seq);
  json_decref(pd.event);
}

/* The next state and the history sentence for an outcome. Requeues the
 * entry (retry, usage limit) or drops it. */
static proto_state_t decide(pool_t *p, entry_t *e, json_t *o, char *why,
                            size_t wlen)
{
  const char *cls = json_string_value(json_object_get(o, "class"));
  const char *reason = json_string_value(json_object_get(o, "reason"));
  int c = exec_class_from_name(cls);
  int64_t now = exec__wall_ms();
  snprintf(why, wlen, "%s", reason ? reason : cls ? cls : "no outcome");
  if (json_is_true(json_object_get(o, "dry_run")))
    return PROTO_STATE_READY;
  if (json_is_true(json_object_get(o, "ok")))
    return PROTO_STATE_REVIEW;
  if (c == EXEC_CLASS_USAGE_LIMIT) {
    json_int_t at = json_integer_value(json_object_get(o, "resets_at"));
    p->paused_until = at > 0 ? (int64_t)at * 1000
                             : now + (int64_t)(p->cfg.usage_pause_ms
                                                   ? p->cfg.usage_pause_ms
                                                   : DEFAULT_PAUSE_MS);
    e->st = E_QUEUED; /* not a failure: it runs again after the pause */
    return PROTO_STATE_READY;
  }
  if (c == EXEC_CLASS_CANCELLED)
    return PROTO_STATE_READY;
  if (json_is_true(json_object_get(o, "transient")) &&
      e->retries < p->cfg.max_retries) {
    uint64_t base = p->cfg.retry_backoff_ms ? p->cfg.retry_backoff_ms
                                            : DEFAULT_BACKOFF_MS;
    uint64_t delay = base << (e->retries < 16 ? e->retries : 16);
    if (delay > MAX_BACKOFF_MS)
      delay = MAX_BACKOFF_MS;
    e->retries++;
    e->st = E_QUEUED;
    e->not_before = now + (int64_t)delay;
    size_t used = strlen(why);
    snprintf(why + used, wlen - used, "; retry %u of %u in %" PRIu64 " ms",
             e->retries, p->cfg.max_retries, delay);
    json_object_set_new(o, "retry_in_ms", json_integer((json_int_t)delay));
    return PROTO_STATE_READY;
  }
  return PROTO_STATE_FAILED;
}

static void on_run_done(rt_ctx_t *ctx, pool_t *p, const rt_msg_t *msg)
{
  size_t len = 0;
  const char *text = rt_msg_data(msg, &len);
  json_t *o = json_loadb(text, len, 0, NULL);
  const char *id = json_string_value(json_object_get(o, "task_id"));
  entry_t *e = id ? find(p, id, NULL) : NULL;
  if (!e || e->st != E_RUNNING) {
    json_decref(o);
    return;
  }
  char why[PROTO_MAX_STR];
  p->active--;
  rt_actor_release(e->run);
  e->run = NULL;
  bool counted = !json_is_true(json_object_get(o, "dry_run"));
  double cost = json_number_value(json_object_get(o, "cost_usd"));
  if (counted && isfinite(cost) && cost > 0) {
    roll_day(p, exec__wall_ms());
    p->day_usd += cost;
  }
  proto_state_t to = decide(p, e, o, why, sizeof why);
  json_object_set_new(o, "state", json_string(proto_state_name(to)));
  json_object_set_new(o, "counted", json_boolean(counted));
  /* A published run's pull request goes on the task in the same step, so
   * the webhooks can find the task by it (or by its branch ccm/<id>). */
  step_fields_t f = {.pr_url = json_string_value(json_object_get(o, "pr_url"))};
  write_step(ctx, p, e->id, PROTO_STATE_RUNNING, to, why, P_PLAIN, &f);
  write_event(ctx, p, e->id, o);
  if (e->st != E_QUEUED)
    drop(p, e);
  dispatch(ctx, p);
}

/* ------------------------------------------------------------- requests */

static void reply_rc(const rt_msg_t *req, int32_t rc)
{
  rt_msg_t *r = NULL;
  if (rt_msg_new(EXEC_MSG_REPLY, &rc, sizeof rc, &r) == 0)
    rt_reply(req, &r); /* not a request: nobody waits, dropped */
}

/* The task id a request carries, NUL-terminated into @p id. */
static bool request_id(const rt_msg_t *m, char id[EXEC_ID_MAX])
{
  size_t len = 0;
  const char *d = rt_msg_data(m, &len);
  while (len > 0 && d[len - 1] == '\0')
    len--;
  if (len == 0 || len >= EXEC_ID_MAX)
    return false;
  memcpy(id, d, len);
  id[len] = '\0';
  return exec__id_ok(id);
}

/* Checks for a run request; 0 when the task may be queued. */
static int admit(pool_t *p, const char *id, const exec_repo_t **repo)
{
  proto_task_t t;
  char why[256];
  if (find(p, id, NULL))
    return EXEC_EBUSY;
  if (store_task_get(p->store, id, &t) != 0)
    return EXEC_ENOTFOUND;
  int rc = t.state == PROTO_STATE_RUNNING ? EXEC_EBUSY
           : t.state != PROTO_STATE_READY ? EXEC_ESTATE : 0;
  if (!rc && !(*repo = find_repo(p, t.repo)))
    rc = EXEC_ENOREPO;
  if (!rc && !p->cfg.dry_run && budget_spent(p, why, sizeof why))
    rc = EXEC_EBUDGET;
  store_task_free(&t);
  return rc;
}

static void on_run(rt_ctx_t *ctx, pool_t *p, const rt_msg_t *m)
{
  char id[EXEC_ID_MAX];
  const exec_repo_t *repo = NULL;
  int rc = request_id(m, id) ? admit(p, id, &repo) : EXEC_EINVAL;
  if (!rc && !add_entry(p, id, repo))
    rc = RT_ENOMEM;
  reply_rc(m, rc);
  if (!rc)
    dispatch(ctx, p);
}

static void on_cancel(pool_t *p, const rt_msg_t *m)
{
  char id[EXEC_ID_MAX];
  entry_t *e = request_id(m, id) ? find(p, id, NULL) : NULL;
  if (!e) {
    reply_rc(m, EXEC_ENOTFOUND);
    return;
  }
  if (e->st == E_QUEUED) {
    drop(p, e);
  } else if (e->st == E_STARTING) {
    e->cancel = true;
  } else {
    rt_msg_t *c = NULL;
    if (rt_msg_new(EXEC__MSG_RUN_CANCEL, NULL, 0, &c) == 0)
      rt_send(e->run, &c);
  }
  reply_rc(m, 0);
}

static void on_status(pool_t *p, const rt_msg_t *m)
{
  json_t *running = json_array(), *queued = json_array();
  for (size_t i = 0; i < p->n; i++)
    json_array_append_new(p->e[i]->st == E_QUEUED ? queued : running,
                          json_string(p->e[i]->id));
  roll_day(p, exec__wall_ms());
  json_t *o = json_pack("{so so sI s{sI sf} sI}", "running", running,
                        "queued", queued, "paused_until",
                        (json_int_t)p->paused_until, "day", "tasks",
                        (json_int_t)p->day_tasks, "usd", p->day_usd,
                        "write_errors", (json_int_t)p->write_errors);
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  rt_msg_t *r = NULL;
  if (text && rt_msg_new(EXEC_MSG_STATUS, text, strlen(text), &r) == 0)
    rt_reply(m, &r);
  free(text);
  json_decref(o);
}

/* --------------------------------------------------------------- start-up */

typedef struct recovery {
  size_t n;
  struct {
    char *repo, *wt, *branch, *runs;
  } v[];
} recovery_t;

/* Stop the agents a killed ccm left running: every "<attempt>.pid" record
 * in @p runs (proc.h exec_proc_kill_recorded checks it is the same
 * process). */
static void kill_left_agents(const char *runs)
{
  DIR *d = runs ? opendir(runs) : NULL;
  struct dirent *e;
  char path[PATH_MAX];
  while (d && (e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len > 4 && !strcmp(e->d_name + len - 4, ".pid") &&
        snprintf(path, sizeof path, "%s/%s", runs, e->d_name) <
            (int)sizeof path)
      exec_proc_kill_recorded(path);
  }
  if (d)
    closedir(d);
}

/* Blocking job: stop the agents and remove the worktrees and branches of
 * requeued tasks. */
static void recovery_job(void *arg, rt_msg_t **result)
{
  recovery_t *r = arg;
  for (size_t i = 0; i < r->n; i++) {
    kill_left_agents(r->v[i].runs);
    exec_wt_remove(r->v[i].repo, r->v[i].wt, r->v[i].branch, NULL, 0);
    free(r->v[i].repo), free(r->v[i].wt), free(r->v[i].branch);
    free(r->v[i].runs);
  }
  free(r);
  rt_msg_new(EXEC__MSG_RECOVERED, NULL, 0, result);
}

typedef struct scan_running {
  pool_t *p;
  rt_ctx_t *ctx;
  recovery_t *rec;
  size_t cap;
} scan_running_t;

static int requeue_one(const proto_task_t *t, void *arg)
{
  scan_running_t *s = arg;
  char wt[PATH_MAX], branch[EXEC_ID_MAX + 8], runs[PATH_MAX];
  write_step(s->ctx, s->p, t->id, PROTO_STATE_RUNNING, PROTO_STATE_READY,
             "requeued at start-up: ccm stopped during the run", P_PLAIN,
             NULL);
  const exec_repo_t *repo = find_repo(s->p, t->repo);
  if (!repo || !repo->path || exec__paths(s->p->cfg.data_dir, t->id, wt, sizeof wt, branch,
                           sizeof branch, runs, sizeof runs) != 0)
    return 0;
  if (s->rec->n == s->cap) {
    size_t cap = s->cap * 2;
    recovery_t *r = realloc(s->rec, sizeof *r + cap * sizeof r->v[0]);
    if (!r)
      return 0;
    s->rec = r;
    s->cap = cap;
  }
  s->rec->v[s->rec->n].repo = strdup(repo->path);
  s->rec->v[s->rec->n].wt = strdup(wt);
  s->rec->v[s->rec->n].branch = strdup(branch);
  s->rec->v[s->rec->n].runs = strdup(runs);
  s->rec->n++;
  return 0;
}

/* The day's ledger from the stored outcome events. */
static int ledger_one(const proto_event_t *ev, void *arg)
{
  pool_t *p = arg;
  if (!ev->topic || strcmp(ev->topic, EXEC_EVENT_TOPIC) != 0 ||
      ev->ts / DAY_MS != p->day ||
      !json_is_true(json_object_get(ev->data, "counted")))
    return 0;
  double cost = json_number_value(json_object_get(ev->data, "cost_usd"));
  p->day_tasks++;
  if (isfinite(cost) && cost > 0)
    p->day_usd += cost;
  return 0;
}

static void on_begin(rt_ctx_t *ctx, pool_t *p)
{
  store_filter_t f = {.state = PROTO_STATE_RUNNING};
  scan_running_t s = {.p = p, .ctx = ctx, .cap = 8};
  s.rec = calloc(1, sizeof *s.rec + s.cap * sizeof s.rec->v[0]);
  if (s.rec)
    store_task_foreach(p->store, &f, requeue_one, &s);
  roll_day(p, exec__wall_ms());
  store_event_foreach(p->store, 0, ledger_one, p);
  if (!s.rec || rt_blocking_submit(p->rt, recovery_job, s.rec, p->self) != 0) {
    rt_msg_t *ignored = NULL;
    if (s.rec)
      recovery_job(s.rec, &ignored); /* runs here, frees the list */
    rt_msg_free(ignored);
    p->ready = true;
    dispatch(ctx, p);
  }
}

/* ------------------------------------------------------------ the actor */

/* The control plane's COMMAND {"action": "run"|"cancel", "args": {"task":
 * id}} (web/web.h WEB_MSG_COMMAND), sent after it changed the task's state:
 * handled as EXEC_MSG_RUN / EXEC_MSG_CANCEL without a reply. */
#define WEB_MSG_COMMAND_TYPE 0x5702u

static void on_web_command(rt_ctx_t *ctx, pool_t *p, const rt_msg_t *msg)
{
  size_t len;
  const void *data = rt_msg_data(msg, &len);
  proto_msg_t m;
  if (proto_msgpack_decode(data, len, &m, NULL, 0) != 0)
    return;
  json_t *task = m.type == PROTO_COMMAND && m.u.command.args
                     ? json_object_get(m.u.command.args, "task") : NULL;
  const char *id = json_string_value(task);
  bool run = id && !strcmp(m.u.command.action, "run");
  bool cancel = id && !strcmp(m.u.command.action, "cancel");
  rt_msg_t *as = NULL;
  if ((run || cancel) &&
      rt_msg_new(run ? EXEC_MSG_RUN : EXEC_MSG_CANCEL, id, strlen(id), &as) == 0) {
    if (run)
      on_run(ctx, p, as);
    else
      on_cancel(p, as);
    rt_msg_free(as);
  }
  proto_msg_fini(&m);
}

static const exec_preset_t *pick_preset(const exec_config_t *cfg);

/* EXEC_MSG_RECONFIGURE: the settings a reload may change; where the
 * worktrees live, the repositories and the actors talked to stay. */
static void on_reconfigure(rt_ctx_t *ctx, pool_t *p, const rt_msg_t *m)
{
  size_t len = 0;
  const void *d = rt_msg_data(m, &len);
  const exec_config_t *now = NULL;
  if (len != sizeof now) {
    reply_rc(m, EXEC_EINVAL);
    return;
  }
  memcpy(&now, d, sizeof now);
  const exec_preset_t *preset = pick_preset(now);
  if (!preset) {
    reply_rc(m, EXEC_EPRESET);
    return;
  }
  exec_config_t keep = p->cfg;
  p->cfg = *now;
  p->cfg.data_dir = keep.data_dir;
  p->cfg.repos = keep.repos;
  p->cfg.nrepos = keep.nrepos;
  p->cfg.sink = keep.sink;
  p->cfg.github = keep.github;
  p->cfg.github_name = keep.github_name;
  p->preset = preset;
  reply_rc(m, 0);
  dispatch(ctx, p); /* more slots, or a budget that fits again */
}

static void pool_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  pool_t *p = state;
  size_t len = 0;
  const void *d;
  switch (rt_msg_type(msg)) {
  case EXEC_MSG_RUN:
    on_run(ctx, p, msg);
    break;
  case EXEC_MSG_CANCEL:
    on_cancel(p, msg);
    break;
  case EXEC_MSG_STATUS:
    on_status(p, msg);
    break;
  case EXEC_MSG_RECONFIGURE:
    on_reconfigure(ctx, p, msg);
    break;
  case WEB_MSG_COMMAND_TYPE:
    on_web_command(ctx, p, msg);
    break;
  case EXEC__MSG_BEGIN:
    on_begin(ctx, p);
    break;
  case EXEC__MSG_RECOVERED:
    p->ready = true;
    dispatch(ctx, p);
    break;
  case EXEC__MSG_WAKE:
    p->wake_at = 0;
    dispatch(ctx, p);
    break;
  case EXEC__MSG_RUN_DONE:
    on_run_done(ctx, p, msg);
    break;
  case STORE_MSG_ACK: {
    store_ack_t ack;
    d = rt_msg_data(msg, &len);
    if (len == sizeof ack) {
      memcpy(&ack, d, sizeof ack);
      on_ack(ctx, p, rt_msg_corr(msg), ack.rc, ack.seq);
    }
    break;
  }
  case RT_MSG_TIMEOUT:
    on_ack(ctx, p, rt_msg_corr(msg), RT_ETIMEDOUT, 0);
    break;
  default:
    break;
  }
}

static const exec_preset_t *pick_preset(const exec_config_t *cfg)
{
  for (size_t i = 0; cfg->presets && i < cfg->npresets; i++)
    if (!cfg->preset ||
        (cfg->presets[i].name && strcmp(cfg->presets[i].name, cfg->preset) == 0))
      return &cfg->presets[i];
  return NULL;
}

static int pool_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  pool_t *p = state;
  const pool_t *init = arg;
  *p = *init;
  p->rt = rt_ctx_runtime(ctx);
  p->self = rt_self(ctx);
  p->store_actor = rt_actor_retain(init->store_actor);
  p->sink = init->sink ? rt_actor_retain(init->sink) : NULL;
  p->github = init->github ? rt_actor_retain(init->github) : NULL;
  rt_msg_t *m = NULL;
  int rc = rt_msg_new(EXEC__MSG_BEGIN, NULL, 0, &m);
  if (!rc)
    rc = rt_send(p->self, &m);
  if (rc) {
    rt_actor_release(p->store_actor);
    rt_actor_release(p->sink);
    rt_actor_release(p->github);
  }
  return rc;
}

static void pool_stop(rt_ctx_t *ctx, void *state)
{
  pool_t *p = state;
  (void)ctx;
  for (size_t i = 0; i < p->n; i++) {
    if (p->e[i]->run)
      rt_actor_stop(p->e[i]->run); /* it kills its process group */
    entry_free(p->e[i]);
  }
  free(p->e);
  for (size_t i = 0; i < p->np; i++)
    json_decref(p->p[i].event);
  free(p->p);
  rt_actor_release(p->store_actor);
  rt_actor_release(p->sink);
  rt_actor_release(p->github);
  memset(p, 0, sizeof *p);
}

static const rt_actor_type_t pool_type = {
    .name = "executor",
    .state_size = sizeof(pool_t),
    .on_start = pool_start,
    .on_msg = pool_msg,
    .on_stop = pool_stop,
};

int exec_spawn(rt_runtime_t *rt, const exec_config_t *cfg, store_t *store,
               rt_actor_t *store_actor, const char *name, rt_actor_t **out)
{
  *out = NULL;
  if (!rt || !cfg || !cfg->data_dir || !store || !store_actor)
    return EXEC_EINVAL;
  pool_t init = {.cfg = *cfg, .store = store, .store_actor = store_actor,
                 .sink = cfg->sink, .github = cfg->github,
                 .preset = pick_preset(cfg)};
  if (!init.preset)
    return EXEC_EPRESET;
  rt_spawn_opts_t o = {.name = name};
  /* on_start copies init: the runtime keeps only the pointer, and the
   * executor is not restarted in place (max_restarts 0). */
  return rt_actor_spawn(rt, &pool_type, &init, &o, out);
}

int exec_request(rt_runtime_t *rt, rt_actor_t *executor, const char *task_id,
                 bool cancel, uint32_t timeout_ms)
{
  rt_msg_t *req = NULL, *rep = NULL;
  int rc = rt_msg_new(cancel ? EXEC_MSG_CANCEL : EXEC_MSG_RUN, task_id,
                      strlen(task_id), &req);
  if (!rc)
    rc = rt_call(rt, executor, &req, timeout_ms, &rep);
  if (rc)
    return rc;
  int32_t v = EXEC_EINVAL;
  size_t len = 0;
  const void *d = rt_msg_data(rep, &len);
  if (rt_msg_type(rep) == EXEC_MSG_REPLY && len == sizeof v)
    memcpy(&v, d, sizeof v);
  rt_msg_free(rep);
  return v;
}

int exec_reconfigure(rt_actor_t *executor, const exec_config_t *cfg)
{
  rt_msg_t *m = NULL;
  int rc = rt_msg_new(EXEC_MSG_RECONFIGURE, &cfg, sizeof cfg, &m);
  return rc ? rc : rt_send(executor, &m);
}
