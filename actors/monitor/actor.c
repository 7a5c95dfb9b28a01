/*
 * actor.c: the monitor actor (design notes: monitor_int.h, actor_int.h).
 *
 * Each tick: sample every actor's counters (atomics, no locks), then ask
 * one collect job for the store's view (task counts, new log events since
 * the cursor, the running tasks); when it answers, turn events into task
 * metrics and outgoing webhooks, evaluate the alert rules and publish the
 * snapshot. Timers drive the probes (executor status, GitHub rate limit),
 * the persisted aggregates (kv "monitor/aggregates": counters and the log
 * cursor, so a restart neither loses counts nor re-sends webhooks) and
 * the DORA report.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/executor/executor.h"
#include "actors/monitor/actor_int.h"
#include "github/gh.h"
#include "runtime/io.h"
#include "runtime/timer.h"
#include "store/store_actor.h"

/* ------------------------------------------------------------- helpers */

uint64_t mon__rand(mon_state_t *s)
{
  uint64_t x = s->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return s->rng = x;
}

int64_t mon__wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A blocking job hands its result back by sending it itself: when the
 * actor has stopped the send fails and the job frees what it made. */
bool mon__send_ptr(rt_actor_t *to, uint32_t type, void *p)
{
  rt_msg_t *msg = NULL;
  return rt_msg_new(type, &p, sizeof(p), &msg) == 0 && rt_send(to, &msg) == 0;
}

static void *ptr_of(const rt_msg_t *msg)
{
  size_t len = 0;
  const void *d = rt_msg_data(msg, &len);
  void *p = NULL;
  if (len == sizeof(p))
    memcpy(&p, d, sizeof(p));
  return p;
}

/* Write @p m through the store actor: a request (its ack comes back and
 * is ignored) when @p corr is given, else a plain send. */
void mon__store_write(rt_ctx_t *ctx, mon_state_t *s, const proto_msg_t *m,
                      uint64_t *corr)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  rt_msg_t *msg = NULL;
  if (proto_msgpack_encode(m, &sb) == 0) {
    size_t len = sb.size;
    if (rt_msg_new_take(STORE_MSG_WRITE, msgpack_sbuffer_release(&sb), len,
                        &msg) == 0) {
      if (corr)
        rt_request(ctx, s->m->store_actor, &msg, 60000, corr);
      else
        rt_send(s->m->store_actor, &msg);
    }
  }
  msgpack_sbuffer_destroy(&sb);
}

/* ------------------------------------------------------- runtime sample */

static mon_actor_rec_t *actor_rec(mon_state_t *s, const rt_actor_stats_t *a)
{
  for (size_t i = 0; i < s->nactors; i++)
    if (s->actors[i]->id == a->id)
      return s->actors[i];
  if (!mon__grow(&s->actors, &s->acap, s->nactors, sizeof(*s->actors)))
    return NULL;
  mon_actor_rec_t *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  r->id = a->id;
  if (a->name[0])
    snprintf(r->name, sizeof r->name, "%s", a->name);
  else
    snprintf(r->name, sizeof r->name, "%s#%llu", a->type_name,
             (unsigned long long)a->id);
  r->processed = a->processed;
  mon__ring_init(&r->rate, MON_WINDOW);
  mon__ring_init(&r->depth_r, MON_WINDOW);
  s->actors[s->nactors++] = r;
  return r;
}

/* Stuck: no message handled for stuck_samples samples in a row while the
 * mailbox held messages and grew over that run. */
static void track_progress(mon_state_t *s, mon_actor_rec_t *r,
                           const rt_actor_stats_t *a)
{
  bool progress = a->processed != r->processed;
  if (progress || a->depth == 0) {
    r->still = 0;
    r->stuck = false;
    return;
  }
  if (r->still++ == 0)
    r->still_depth = r->depth;
  r->stuck = r->still >= s->m->cfg.stuck_samples && a->depth > r->still_depth;
}

static void latency(mon_actor_rec_t *r, const rt_actor_stats_t *a)
{
  uint32_t oldest = r->hist_n < MON_WINDOW ? 0 : r->hist_next;
  uint64_t delta[RT_HIST_BUCKETS];
  for (int i = 0; i < RT_HIST_BUCKETS; i++)
    delta[i] = a->handler_ns_hist[i] -
               (r->hist_n ? r->hist[oldest][i] : 0);
  memcpy(r->hist[r->hist_next], a->handler_ns_hist, sizeof(r->hist[0]));
  r->hist_next = (r->hist_next + 1) % MON_WINDOW;
  if (r->hist_n < MON_WINDOW)
    r->hist_n++;
  r->lat[0] = mon__hist_quantile(delta, RT_HIST_BUCKETS, 0.50);
  r->lat[1] = mon__hist_quantile(delta, RT_HIST_BUCKETS, 0.95);
  r->lat[2] = mon__hist_quantile(delta, RT_HIST_BUCKETS, 0.99);
}

typedef struct sample_ctx {
  mon_state_t *s;
  double secs;
} sample_ctx_t;

static void sample_one(const rt_actor_stats_t *a, void *arg)
{
  sample_ctx_t *c = arg;
  mon_actor_rec_t *r = actor_rec(c->s, a);
  if (!r)
    return;
  r->seen = true;
  double rate = c->secs > 0 ? (double)(a->processed - r->processed) / c->secs
                            : 0;
  track_progress(c->s, r, a);
  mon__ring_push(&r->rate, rate);
  mon__ring_push(&r->depth_r, a->depth);
  latency(r, a);
  r->processed = a->processed;
  r->depth = a->depth;
}

static void sample_runtime(mon_state_t *s, int64_t now)
{
  for (size_t i = 0; i < s->nactors; i++)
    s->actors[i]->seen = false;
  sample_ctx_t c = {s, s->last_tick ? (double)(now - s->last_tick) / 1000
                                    : 0};
  rt_runtime_foreach_actor(s->rt, sample_one, &c);
  s->last_tick = now;
  size_t keep = 0; /* forget actors that stopped */
  for (size_t i = 0; i < s->nactors; i++) {
    if (s->actors[i]->seen)
      s->actors[keep++] = s->actors[i];
    else
      free(s->actors[i]);
  }
  s->nactors = keep;
}

/* -------------------------------------------------------------- collect */

static int collect_event(const proto_event_t *e, void *arg)
{
  mon_collect_t *c = arg;
  int kind = mon__event_kind(e->topic, e->data);
  if (kind >= 0) {
    if (!mon__grow(&c->ev, &c->cap, c->nev, sizeof(*c->ev)))
      return 1; /* this one again at the next tick */
    bool outcome = !strcmp(e->topic, "executor");
    c->ev[c->nev++] = (mon_event_t){kind, outcome, json_deep_copy(e->data)};
  }
  c->last_seq = e->seq;
  return c->nev >= COLLECT_EVENTS_MAX;
}

static int collect_running(const proto_task_t *t, void *arg)
{
  mon_collect_t *c = arg;
  if (!mon__grow(&c->run, &c->runcap, c->nrun, sizeof(*c->run)))
    return 1;
  proto_msg_t m = {.type = PROTO_TASK};
  m.u.task = *t;
  c->run[c->nrun++] = (mon_running_t){strdup(t->id), proto_json_encode(&m)};
  return c->nrun >= COLLECT_RUNNING_MAX;
}

static void collect_free(mon_collect_t *c)
{
  for (size_t i = 0; i < c->nev; i++)
    json_decref(c->ev[i].data);
  for (size_t i = 0; i < c->nrun; i++) {
    free(c->run[i].id);
    json_decref(c->run[i].task);
  }
  free(c->ev);
  free(c->run);
  rt_actor_release(c->reply_to);
  free(c);
}

static void collect_job(void *arg, rt_msg_t **result)
{
  (void)result;
  mon_collect_t *c = arg;
  c->last_seq = c->after;
  /* A record that does not decode is skipped (STORE_ECORRUPT comes after
   * the others were listed): it must not hold the cursor back forever. */
  c->rc = store_stats(c->store, &c->st);
  if (!c->rc)
    c->rc = store_event_foreach(c->store, c->after, collect_event, c);
  store_filter_t f = {.state = PROTO_STATE_RUNNING};
  if (!c->rc || c->rc == STORE_ECORRUPT)
    c->rc = store_task_foreach(c->store, &f, collect_running, c);
  if (c->rc == STORE_ECORRUPT)
    c->rc = 0;
  if (!mon__send_ptr(c->reply_to, MON_MSG_COLLECTED, c))
    collect_free(c);
}

static void collect_start(rt_ctx_t *ctx, mon_state_t *s)
{
  mon_collect_t *c = calloc(1, sizeof(*c));
  if (!c)
    return;
  c->store = s->m->store;
  c->reply_to = rt_actor_retain(rt_self(ctx));
  c->after = s->cursor;
  if (rt_blocking_submit(s->rt, collect_job, c, NULL) == 0)
    s->collecting = true;
  else
    collect_free(c);
}

/* ------------------------------------------------------- collect results */

static bool was_running(const mon_state_t *s, const char *id)
{
  for (size_t i = 0; i < s->nrunning; i++)
    if (!strcmp(s->running[i].id, id))
      return true;
  return false;
}

static void running_free(mon_running_t *r, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(r[i].id);
    json_decref(r[i].task);
  }
  free(r);
}

/* Log events: counters, outcome ring and durations, webhooks. */
static void apply_events(rt_ctx_t *ctx, mon_state_t *s,
                         const mon_collect_t *c)
{
  for (size_t i = 0; i < c->nev; i++) {
    const mon_event_t *e = &c->ev[i];
    if (e->outcome) {
      bool failed = e->kind == CFG_EVENT_BIT_TASK_FAILED;
      s->succeeded += !failed;
      s->failed += failed;
      mon__ring_push(&s->outcomes, failed ? 1 : 0);
      double ms = mon__event_duration_ms(e->data);
      if (ms >= 0)
        mon__ring_push(&s->durations, ms);
    } else if (e->kind == CFG_EVENT_BIT_TASK_CREATED) {
      s->created++;
    }
    mon__emit_event(ctx, s, e->kind, e->data);
  }
}

/* task.started: running now, not at the last look. The first look after
 * start only learns the set (those started before we ran). Takes the
 * collect's list. */
static void apply_running(rt_ctx_t *ctx, mon_state_t *s, mon_collect_t *c)
{
  for (size_t i = 0; s->running_known && i < c->nrun; i++)
    if (c->run[i].id && !was_running(s, c->run[i].id)) {
      s->started++;
      mon__emit_event(ctx, s, CFG_EVENT_BIT_TASK_STARTED, c->run[i].task);
    }
  running_free(s->running, s->nrunning);
  s->running = c->run;
  s->nrunning = c->nrun;
  c->run = NULL;
  c->nrun = 0;
  s->running_known = true;
}

static void on_collected(rt_ctx_t *ctx, mon_state_t *s, mon_collect_t *c)
{
  s->collecting = false;
  if (c->rc == 0) {
    s->st = c->st;
    s->have_stats = true;
    s->cursor = c->last_seq;
    apply_events(ctx, s, c);
    apply_running(ctx, s, c);
  }
  collect_free(c);
  int64_t now = mon__wall_ms();
  mon__eval_alerts(ctx, s, now);
  mon__snapshot(s, now);
}

static void on_tick(rt_ctx_t *ctx, mon_state_t *s)
{
  int64_t now = mon__wall_ms();
  sample_runtime(s, now);
  if (!s->collecting) {
    collect_start(ctx, s);
    if (s->collecting)
      return; /* alerts and snapshot when the store's view is back */
  }
  mon__eval_alerts(ctx, s, now);
  mon__snapshot(s, now);
}

/* ----------------------------------------------------------------- probes */

static void probe(rt_ctx_t *ctx, mon_state_t *s)
{
  const monitor_config_t *cfg = &s->m->cfg;
  if (cfg->executor_name) {
    rt_actor_t *ex = NULL;
    rt_msg_t *q = NULL;
    if (rt_actor_lookup(s->rt, cfg->executor_name, &ex) != 0) {
      snprintf(s->exec_text, sizeof s->exec_text, "not running");
      s->exec_ok = false;
    } else if (rt_msg_new(EXEC_MSG_STATUS, NULL, 0, &q) != 0 ||
               rt_request(ctx, ex, &q, PROBE_TIMEOUT_MS, &s->exec_corr) !=
                   0) {
      snprintf(s->exec_text, sizeof s->exec_text, "not answering");
      s->exec_ok = false;
    }
    rt_actor_release(ex);
  }
  if (cfg->github) {
    gh_request_t req = {.method = GH_GET, .path = "/rate_limit",
                        .flags = GH_REQ_NO_CACHE};
    rt_msg_t *q = NULL;
    if (gh_request_msg(&req, &q) != 0 ||
        rt_request(ctx, cfg->github, &q, PROBE_TIMEOUT_MS, &s->gh_corr) != 0) {
      snprintf(s->gh_text, sizeof s->gh_text, "client not running");
      s->gh_ok = false;
    }
  }
}

static void on_exec_status(mon_state_t *s, const rt_msg_t *msg)
{
  size_t len = 0;
  const char *d = rt_msg_data(msg, &len);
  json_t *st = json_loadb(d, len, 0, NULL);
  json_int_t paused = json_integer_value(json_object_get(st, "paused_until"));
  json_t *day = json_object_get(json_object_get(st, "day"), "tasks");
  s->day_tasks = json_is_integer(day) ? (double)json_integer_value(day) : NAN;
  uint32_t max = s->m->cfg.max_tasks_per_day;
  if (!st) {
    snprintf(s->exec_text, sizeof s->exec_text, "bad status reply");
    s->exec_ok = false;
  } else if (paused > mon__wall_ms()) {
    snprintf(s->exec_text, sizeof s->exec_text,
             "paused (usage limit) until %lld", (long long)paused);
    s->exec_ok = false;
  } else if (max && s->day_tasks >= max) {
    snprintf(s->exec_text, sizeof s->exec_text,
             "daily budget spent (%u tasks)", max);
    s->exec_ok = false;
  } else {
    snprintf(s->exec_text, sizeof s->exec_text, "ok");
    s->exec_ok = true;
  }
  json_decref(st);
}

static void on_gh_response(mon_state_t *s, const rt_msg_t *msg)
{
  gh_response_t r;
  if (gh_response_decode(msg, &r) != 0) {
    snprintf(s->gh_text, sizeof s->gh_text, "bad response");
    s->gh_ok = false;
    return;
  }
  s->gh_ok = r.rc == 0;
  if (r.rl_remaining >= 0)
    s->rl_remaining = (double)r.rl_remaining;
  if (s->gh_ok)
    snprintf(s->gh_text, sizeof s->gh_text, "ok (%lld requests left)",
             (long long)r.rl_remaining);
  else
    snprintf(s->gh_text, sizeof s->gh_text, "unreachable: %.120s",
             r.error ? r.error : "no answer");
  gh_response_fini(&r);
}

static void on_timeout(mon_state_t *s, uint64_t corr)
{
  if (corr && corr == s->exec_corr) {
    snprintf(s->exec_text, sizeof s->exec_text, "not answering");
    s->exec_ok = false;
  } else if (corr && corr == s->gh_corr) {
    snprintf(s->gh_text, sizeof s->gh_text, "unreachable: timed out");
    s->gh_ok = false;
  }
}

/* ------------------------------------------------------------------ DORA */

/* A label as a URL query value: unreserved characters as they are, the
 * rest percent-encoded. */
static void query_escape(const char *in, char *out, size_t cap)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0;
  for (; *in && n + 4 < cap; in++) {
    unsigned char c = (unsigned char)*in;
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out[n++] = (char)c;
    } else {
      out[n++] = '%';
      out[n++] = hex[c >> 4];
      out[n++] = hex[c & 15];
    }
  }
  out[n] = '\0';
}

/* Numbers of the pull requests of @p repo ("owner/name") carrying the
 * incident label, from GitHub (blocking: the DORA job's thread). NULL
 * with *n = 0 when GitHub does not answer. */
static uint32_t *incident_prs(const monitor_config_t *cfg, rt_runtime_t *rt,
                              const char *repo, size_t *n)
{
  char label[192], path[512];
  *n = 0;
  query_escape(cfg->dora.incident_label ? cfg->dora.incident_label
                                        : "incident", label, sizeof label);
  snprintf(path, sizeof path,
           "/repos/%s/issues?state=all&per_page=100&labels=%s", repo, label);
  gh_request_t req = {.method = GH_GET, .path = path,
                      .flags = GH_REQ_PAGINATE, .max_pages = 10};
  gh_response_t r;
  json_t *items = NULL;
  if (gh_call(rt, cfg->github, &req, 60000, &r) == 0)
    items = json_loadb(r.body, r.len, 0, NULL);
  gh_response_fini(&r);
  uint32_t *prs = json_array_size(items)
                      ? calloc(json_array_size(items), sizeof(*prs)) : NULL;
  size_t i;
  json_t *it;
  json_array_foreach(items, i, it) /* issues and pull requests: keep PRs */
    if (prs && json_object_get(it, "pull_request"))
      prs[(*n)++] = (uint32_t)json_integer_value(json_object_get(it, "number"));
  json_decref(items);
  return prs;
}

static json_t *dora_of_repo(const monitor_config_t *cfg, rt_runtime_t *rt,
                            const monitor_repo_t *repo, int64_t now)
{
  unsigned fails = cfg->dora.failures;
  size_t ninc = 0;
  uint32_t *inc = NULL;
  if (cfg->github && repo->github && (!fails || (fails & MON_FAIL_INCIDENT)))
    inc = incident_prs(cfg, rt, repo->github, &ninc);
  json_t *r = NULL;
  char err[256] = "";
  int rc = monitor_dora_compute(repo->path, &cfg->dora, now, inc, ninc, &r,
                                err, sizeof err);
  free(inc);
  if (rc)
    r = json_pack("{s:s}", "error", err[0] ? err : monitor_strerror(rc));
  if (r)
    json_object_set_new(r, "repo", json_string(repo->id));
  return r;
}

static void dora_job(void *arg, rt_msg_t **result)
{
  (void)result;
  mon_dora_job_t *j = arg;
  const monitor_config_t *cfg = &j->m->cfg;
  int64_t now = mon__wall_ms();
  json_t *repos = json_array();
  for (size_t i = 0; repos && i < cfg->nrepos; i++) {
    json_t *r = dora_of_repo(cfg, j->m->rt, &cfg->repos[i], now);
    if (r)
      json_array_append_new(repos, r);
  }
  j->result = json_pack("{s:o,s:I}", "repos", repos ? repos : json_array(),
                        "computed_at", (json_int_t)now);
  if (!mon__send_ptr(j->reply_to, MON_MSG_DORA_DONE, j)) {
    json_decref(j->result);
    rt_actor_release(j->reply_to);
    monitor_release(j->m);
    free(j);
  }
}

static void dora_start(rt_ctx_t *ctx, mon_state_t *s)
{
  if (s->dora_running || !s->m->cfg.nrepos)
    return;
  mon_dora_job_t *j = calloc(1, sizeof(*j));
  if (!j)
    return;
  j->m = mon__retain(s->m);
  j->reply_to = rt_actor_retain(rt_self(ctx));
  if (rt_blocking_submit(s->rt, dora_job, j, NULL) == 0) {
    s->dora_running = true;
    return;
  }
  rt_actor_release(j->reply_to);
  monitor_release(j->m);
  free(j);
}

static void on_dora_done(mon_state_t *s, mon_dora_job_t *j)
{
  s->dora_running = false;
  mon__dora_set(s->m, j->result);
  rt_actor_release(j->reply_to);
  monitor_release(j->m);
  free(j);
  mon__snapshot(s, mon__wall_ms()); /* its gauges on /metrics now */
}

/* ----------------------------------------------------- repository.scanned */

static void on_scan_done(rt_ctx_t *ctx, mon_state_t *s, const rt_msg_t *msg)
{
  size_t len = 0;
  const void *d = rt_msg_data(msg, &len);
  proto_msg_t m;
  if (proto_msgpack_decode(d, len, &m, NULL, 0) != 0)
    return;
  if (m.type == PROTO_SCAN_DONE) {
    s->scanned++;
    json_t *j = proto_json_encode(&m);
    mon__emit_event(ctx, s, CFG_EVENT_BIT_REPOSITORY_SCANNED, j);
    json_decref(j);
  }
  proto_msg_fini(&m);
}

/* ------------------------------------------------------------ the actor */

/* MON_MSG_RECONFIGURE: new rules and webhooks; a rule keeps its state
 * when one of the same name was there (a changed threshold does not
 * re-fire an alert that already fires). Queued deliveries go out. */
static void on_reconfigure(mon_state_t *s, const monitor_config_t *now)
{
  monitor_config_t *cfg = &s->m->cfg;
  mon_alert_state_t *st = now ? calloc(now->nalerts + 1, sizeof(*st)) : NULL;
  if (!st)
    return;
  for (size_t i = 0; i < now->nalerts; i++)
    for (size_t j = 0; j < cfg->nalerts; j++)
      if (!strcmp(now->alerts[i].name, cfg->alerts[j].name))
        st[i] = s->alerts[j];
  free(s->alerts);
  s->alerts = st;
  cfg->alerts = now->alerts;
  cfg->nalerts = now->nalerts;
  cfg->hooks = now->hooks;
  cfg->nhooks = now->nhooks;
  cfg->max_tasks_per_day = now->max_tasks_per_day;
}

static void mon_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  mon_state_t *s = state;
  switch (rt_msg_type(msg)) {
  case MON_MSG_TICK: on_tick(ctx, s); break;
  case MON_MSG_COLLECTED: on_collected(ctx, s, ptr_of(msg)); break;
  case MON_MSG_POSTED: mon__on_posted(ctx, s, ptr_of(msg)); break;
  case MON_MSG_RETRY:
    if (rt_msg_corr(msg) == s->retry_timer) {
      s->posting = false;
      mon__post_next(ctx, s);
    }
    break;
  case MON_MSG_PROBE: probe(ctx, s); break;
  case MON_MSG_PERSIST: mon__persist(ctx, s); break;
  case MON_MSG_DORA: dora_start(ctx, s); break;
  case MON_MSG_DORA_DONE: on_dora_done(s, ptr_of(msg)); break;
  case MON_MSG_RECONFIGURE: on_reconfigure(s, ptr_of(msg)); break;
  case EXEC_MSG_STATUS: on_exec_status(s, msg); break;
  case GH_MSG_RESPONSE: on_gh_response(s, msg); break;
  case RT_MSG_TIMEOUT: on_timeout(s, rt_msg_corr(msg)); break;
  case PROTO_SCAN_DONE: on_scan_done(ctx, s, msg); break;
  default: break; /* store acks of persisted aggregates, and the rest */
  }
}

/* Periodic timers hold the actor: cancel them when it stops. */
static void cancel_timers(mon_state_t *s)
{
  for (int i = 0; i < 4; i++)
    if (s->timers[i])
      rt_timer_cancel(s->rt, s->timers[i]);
  if (s->retry_timer)
    rt_timer_cancel(s->rt, s->retry_timer);
}

static int mon_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  mon_state_t *s = state;
  s->m = mon__retain((monitor_t *)arg);
  s->rt = rt_ctx_runtime(ctx);
  const monitor_config_t *cfg = &s->m->cfg;
  mon__ring_init(&s->durations, MON_OUTCOMES);
  mon__ring_init(&s->outcomes, MON_OUTCOMES);
  s->day_tasks = NAN;
  s->rl_remaining = NAN;
  snprintf(s->exec_text, sizeof s->exec_text, "not probed yet");
  snprintf(s->gh_text, sizeof s->gh_text, "not probed yet");
  s->exec_ok = s->gh_ok = true; /* until a probe says otherwise */
  s->alerts = calloc(cfg->nalerts + 1, sizeof(*s->alerts));
  if (!s->alerts)
    return -1;
  s->rng = (uint64_t)mon__wall_ms() * 0x9E3779B97F4A7C15ull | 1;
  mon__restore(s);
  rt_actor_t *self = rt_self(ctx);
  int rc = rt_timer_start(s->rt, self, MON_MSG_TICK, 0, cfg->sample_ms,
                          &s->timers[0]);
  if (!rc && cfg->persist_ms)
    rc = rt_timer_start(s->rt, self, MON_MSG_PERSIST, cfg->persist_ms,
                        cfg->persist_ms, &s->timers[1]);
  if (!rc && cfg->probe_ms)
    rc = rt_timer_start(s->rt, self, MON_MSG_PROBE, 0, cfg->probe_ms,
                        &s->timers[2]);
  if (!rc && cfg->dora_ms && cfg->nrepos)
    rc = rt_timer_start(s->rt, self, MON_MSG_DORA, 0, cfg->dora_ms,
                        &s->timers[3]);
  if (rc)
    cancel_timers(s);
  return rc;
}

static void mon_stop(rt_ctx_t *ctx, void *state)
{
  (void)ctx;
  mon_state_t *s = state;
  cancel_timers(s);
  for (size_t i = 0; i < s->nactors; i++)
    free(s->actors[i]);
  free(s->actors);
  running_free(s->running, s->nrunning);
  for (size_t i = 0; i < s->qlen; i++)
    mon__delivery_free(s->queue[(s->qhead + i) % QUEUE_MAX]);
  free(s->alerts);
  monitor_release(s->m);
  memset(s, 0, sizeof(*s));
}

static const rt_actor_type_t monitor_type = {
    .name = "monitor",
    .state_size = sizeof(mon_state_t),
    .on_start = mon_start,
    .on_msg = mon_msg,
    .on_stop = mon_stop,
};

int mon__actor_spawn(monitor_t *m, rt_actor_t **out)
{
  rt_spawn_opts_t o = {.name = "monitor"};
  return rt_actor_spawn(m->rt, &monitor_type, m, &o, out);
}
