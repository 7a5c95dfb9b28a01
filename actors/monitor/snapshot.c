/*
 * snapshot.c: what other threads read, and what survives a restart
 * (design note: actor_int.h).
 *
 * After each sample the actor renders the /metrics families, the summary
 * and the health checks and hands them to the handle whole
 * (mon__snapshot_set); readers copy from there. The aggregates (counters
 * and the log cursor) go to the store's kv database through the store
 * actor and are read back when the actor starts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/monitor/actor_int.h"

/* -------------------------------------------------------------- snapshot */

typedef struct text {
  char *p;
  size_t len, cap;
  bool oom;
} text_t;

static void tprintf(text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void tprintf(text_t *t, const char *fmt, ...)
{
  for (int pass = 0; pass < 2 && !t->oom; pass++) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0,
                      fmt, ap);
    va_end(ap);
    if (n < 0)
      return;
    if (t->p && t->len + (size_t)n < t->cap) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = (t->cap + (size_t)n + 1) * 2;
    char *p = realloc(t->p, cap);
    if (!p) {
      t->oom = true;
      return;
    }
    t->p = p;
    t->cap = cap;
  }
}

static void family(text_t *t, const char *name, const char *type,
                   const char *help)
{
  tprintf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *const pct_names[3] = {"50", "95", "99"};

/* Label values: actor names are [A-Za-z0-9/._#-] in ccm; anything else
 * is replaced so the exposition stays valid. */
static void label_safe(const char *in, char *out, size_t cap)
{
  size_t n = 0;
  for (; in[n] && n + 1 < cap; n++)
    out[n] = (in[n] == '"' || in[n] == '\\' || in[n] == '\n') ? '_' : in[n];
  out[n] = '\0';
}

static void actor_families(text_t *t, const mon_state_t *s)
{
  static const struct {
    const char *name, *help;
  } fam[3] = {
      {"ccm_monitor_actor_messages_per_second",
       "Messages an actor handled per second, percentiles over the window."},
      {"ccm_monitor_actor_mailbox_depth",
       "Messages queued for an actor, percentiles over the window."},
      {"ccm_monitor_actor_handler_seconds",
       "Handler time of an actor, percentiles over the window."},
  };
  for (int f = 0; f < 3; f++) {
    family(t, fam[f].name, "gauge", fam[f].help);
    for (size_t i = 0; i < s->nactors; i++) {
      const mon_actor_rec_t *r = s->actors[i];
      double v[3];
      if (f == 0)
        mon__ring_pcts(&r->rate, v);
      else if (f == 1)
        mon__ring_pcts(&r->depth_r, v);
      else
        memcpy(v, r->lat, sizeof v);
      char name[sizeof r->name];
      label_safe(r->name, name, sizeof name);
      for (int p = 0; p < 3; p++)
        if (!isnan(v[p]))
          tprintf(t, "%s{actor=\"%s\",percentile=\"%s\"} %.9g\n",
                  fam[f].name, name, pct_names[p], v[p]);
    }
  }
}

static void value_line(text_t *t, const char *name, const char *type,
                       const char *help, double v)
{
  family(t, name, type, help);
  if (!isnan(v))
    tprintf(t, "%s %.9g\n", name, v);
}

static void task_families(text_t *t, const mon_state_t *s)
{
  double d[3];
  mon__ring_pcts(&s->durations, d);
  value_line(t, "ccm_monitor_tasks_discovered_total", "counter",
             "Tasks ever discovered (in the store).",
             s->have_stats ? (double)s->st.tasks : NAN);
  value_line(t, "ccm_monitor_tasks_queued", "gauge",
             "Tasks approved and waiting for an agent (ready).",
             s->have_stats ? (double)s->st.by_state[PROTO_STATE_READY] : NAN);
  value_line(t, "ccm_monitor_tasks_running", "gauge",
             "Tasks an agent is working on.",
             s->have_stats ? (double)s->st.by_state[PROTO_STATE_RUNNING]
                           : NAN);
  value_line(t, "ccm_monitor_tasks_started_total", "counter",
             "Agent runs seen starting.", (double)s->started);
  value_line(t, "ccm_monitor_tasks_succeeded_total", "counter",
             "Agent runs that ended in review or done.",
             (double)s->succeeded);
  value_line(t, "ccm_monitor_tasks_failed_total", "counter",
             "Agent runs that ended failed.", (double)s->failed);
  value_line(t, "ccm_monitor_task_failure_ratio", "gauge",
             "Failed share of the last 256 agent runs.",
             mon__ring_mean(&s->outcomes));
  family(t, "ccm_monitor_task_duration_seconds", "gauge",
         "Agent run duration, percentiles over the last 256 runs.");
  for (int p = 0; p < 3; p++)
    if (!isnan(d[p]))
      tprintf(t, "ccm_monitor_task_duration_seconds{percentile=\"%s\"} "
                 "%.9g\n", pct_names[p], d[p] / 1000);
}

static void other_families(text_t *t, const mon_state_t *s)
{
  const monitor_config_t *cfg = &s->m->cfg;
  double stuck = mon__alert_value(s, CFG_METRIC_STUCK_ACTORS);
  value_line(t, "ccm_monitor_stuck_actors", "gauge",
             "Actors whose mailbox grows without progress.", stuck);
  value_line(t, "ccm_monitor_github_rate_limit_remaining", "gauge",
             "GitHub API requests left in the current window.",
             s->rl_remaining);
  family(t, "ccm_monitor_alert_firing", "gauge",
         "1 while an alert rule fires.");
  for (size_t i = 0; i < cfg->nalerts; i++) {
    char name[128];
    label_safe(cfg->alerts[i].name, name, sizeof name);
    tprintf(t, "ccm_monitor_alert_firing{rule=\"%s\"} %d\n", name,
            s->alerts[i].firing);
  }
  family(t, "ccm_monitor_webhook_deliveries_total", "counter",
         "Outgoing webhook and alert deliveries by result.");
  tprintf(t, "ccm_monitor_webhook_deliveries_total{result=\"ok\"} %llu\n"
             "ccm_monitor_webhook_deliveries_total{result=\"failed\"} %llu\n"
             "ccm_monitor_webhook_deliveries_total{result=\"dropped\"} "
             "%llu\n",
          (unsigned long long)s->sent_ok, (unsigned long long)s->sent_failed,
          (unsigned long long)s->dropped);
}

/* DORA gauges from the last report (a deep copy read by the actor). */
static void dora_families(text_t *t, monitor_t *m)
{
  static const struct {
    const char *name, *key, *help;
  } fam[] = {
      {"ccm_dora_deployments_per_day", "deployment_frequency_per_day",
       "DORA deployment frequency over the window."},
      {"ccm_dora_lead_time_seconds", "lead_time_s",
       "DORA lead time for changes (median)."},
      {"ccm_dora_change_failure_ratio", "change_failure_rate",
       "DORA change failure rate."},
      {"ccm_dora_time_to_restore_seconds", "time_to_restore_s",
       "DORA time to restore (median)."},
  };
  static const char *const groups[] = {"all", "agents", "people"};
  json_t *dora = monitor_dora_json(m);
  json_t *repos = json_object_get(dora, "repos");
  for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
    family(t, fam[f].name, "gauge", fam[f].help);
    size_t i;
    json_t *r;
    json_array_foreach(repos, i, r) {
      const char *id = json_string_value(json_object_get(r, "repo"));
      char rid[128];
      label_safe(id ? id : "?", rid, sizeof rid);
      for (int g = 0; g < 3; g++) {
        json_t *v = json_object_get(json_object_get(r, groups[g]),
                                    fam[f].key);
        if (json_is_number(v))
          tprintf(t, "%s{repo=\"%s\",group=\"%s\"} %.9g\n", fam[f].name, rid,
                  groups[g], json_number_value(v));
      }
    }
  }
  json_decref(dora);
}

static json_t *pcts_json(const double v[3])
{
  json_t *o = json_object();
  for (int p = 0; o && p < 3; p++) {
    char k[8];
    snprintf(k, sizeof k, "p%s", pct_names[p]);
    json_object_set_new(o, k, isnan(v[p]) ? json_null() : json_real(v[p]));
  }
  return o;
}

static json_t *summary_json(const mon_state_t *s, int64_t now)
{
  json_t *actors = json_array();
  for (size_t i = 0; actors && i < s->nactors; i++) {
    const mon_actor_rec_t *r = s->actors[i];
    double rate[3], depth[3];
    mon__ring_pcts(&r->rate, rate);
    mon__ring_pcts(&r->depth_r, depth);
    json_array_append_new(
        actors, json_pack("{s:s,s:I,s:I,s:o,s:o,s:o,s:b}", "name", r->name,
                          "id", (json_int_t)r->id, "mailbox_depth",
                          (json_int_t)r->depth, "messages_per_second",
                          pcts_json(rate), "mailbox", pcts_json(depth),
                          "handler_seconds", pcts_json(r->lat), "stuck",
                          r->stuck));
  }
  double d[3];
  mon__ring_pcts(&s->durations, d);
  double fr = mon__ring_mean(&s->outcomes);
  json_t *alerts = json_array();
  for (size_t i = 0; alerts && i < s->m->cfg.nalerts; i++)
    json_array_append_new(
        alerts, json_pack("{s:s,s:b,s:o}", "rule", s->m->cfg.alerts[i].name,
                          "firing", s->alerts[i].firing, "value",
                          s->alerts[i].holding || s->alerts[i].value
                              ? json_real(s->alerts[i].value)
                              : json_null()));
  return json_pack(
      "{s:I,s:I,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o},s:o,"
      "s:{s:I,s:I,s:I,s:I}}",
      "sampled_at", (json_int_t)now, "sample_ms",
      (json_int_t)s->m->cfg.sample_ms, "actors", actors, "tasks",
      "discovered", (json_int_t)s->st.tasks, "queued",
      (json_int_t)s->st.by_state[PROTO_STATE_READY], "running",
      (json_int_t)s->st.by_state[PROTO_STATE_RUNNING], "created",
      (json_int_t)s->created, "started", (json_int_t)s->started,
      "succeeded", (json_int_t)s->succeeded, "failed", (json_int_t)s->failed,
      "failure_rate", isnan(fr) ? json_null() : json_real(fr), "duration_ms",
      pcts_json(d), "alerts", alerts, "webhooks", "ok",
      (json_int_t)s->sent_ok, "failed", (json_int_t)s->sent_failed,
      "dropped", (json_int_t)s->dropped, "queued", (json_int_t)s->qlen);
}

/* The health checks; *degraded when one is not ok. */
static json_t *checks_json(const mon_state_t *s, bool *degraded)
{
  char stuck[512] = "";
  size_t n = 0;
  for (size_t i = 0; i < s->nactors; i++)
    if (s->actors[i]->stuck && n + 2 < sizeof stuck) {
      int k = snprintf(stuck + n, sizeof stuck - n, "%s%s", n ? ", " : "",
                       s->actors[i]->name);
      n += k > 0 ? (size_t)k : 0;
    }
  if (n >= sizeof stuck)
    n = sizeof stuck - 1;
  char actors[600];
  snprintf(actors, sizeof actors, n ? "stuck: %s" : "ok", stuck);
  json_t *c = json_pack("{s:s}", "actors", actors);
  *degraded = n > 0;
  if (c && s->m->cfg.executor_name) {
    json_object_set_new(c, "executor", json_string(s->exec_text));
    *degraded = *degraded || !s->exec_ok;
  }
  if (c && s->m->cfg.github) {
    json_object_set_new(c, "github", json_string(s->gh_text));
    *degraded = *degraded || !s->gh_ok;
  }
  return c;
}

void mon__snapshot(mon_state_t *s, int64_t now)
{
  text_t t = {0};
  actor_families(&t, s);
  task_families(&t, s);
  other_families(&t, s);
  dora_families(&t, s->m);
  if (t.oom) {
    free(t.p);
    return;
  }
  bool degraded = false;
  json_t *checks = checks_json(s, &degraded);
  mon__snapshot_set(s->m, t.p, t.len, summary_json(s, now), checks,
                    degraded);
}

/* ------------------------------------------------------ persist, restore */

static json_t *aggregates_json(const mon_state_t *s)
{
  double d[3];
  mon__ring_pcts(&s->durations, d);
  return json_pack("{s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:I}",
                   "version", 1, "cursor", (json_int_t)s->cursor, "created",
                   (json_int_t)s->created, "started", (json_int_t)s->started,
                   "succeeded", (json_int_t)s->succeeded, "failed",
                   (json_int_t)s->failed, "deliveries_ok",
                   (json_int_t)s->sent_ok, "deliveries_failed",
                   (json_int_t)s->sent_failed, "deliveries_dropped",
                   (json_int_t)s->dropped, "duration_ms", pcts_json(d),
                   "saved_at", (json_int_t)mon__wall_ms());
}

/* Through the store actor (the one writer): COMMAND "kv". */
void mon__persist(rt_ctx_t *ctx, mon_state_t *s)
{
  json_t *agg = aggregates_json(s);
  char *text = agg ? json_dumps(agg, JSON_COMPACT) : NULL;
  json_decref(agg);
  if (!text)
    return;
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = (char *)"kv";
  m.u.command.args = json_pack("{s:s,s:s}", "name", KV_NAME, "value", text);
  free(text);
  if (m.u.command.args)
    mon__store_write(ctx, s, &m, &s->persist_corr);
  json_decref(m.u.command.args);
}

static uint64_t u64_of(const json_t *o, const char *key)
{
  json_int_t v = json_integer_value(json_object_get(o, key));
  return v > 0 ? (uint64_t)v : 0;
}

/* Counters and the log cursor from the last run; without them the cursor
 * starts at the log's end (old events are not re-sent as webhooks). */
void mon__restore(mon_state_t *s)
{
  void *v = NULL;
  size_t len = 0;
  json_t *agg = NULL;
  if (store_kv_get(s->m->store, KV_NAME, &v, &len) == 0)
    agg = json_loadb(v, len, 0, NULL);
  free(v);
  store_stats_t st;
  if (json_is_object(agg)) {
    s->cursor = u64_of(agg, "cursor");
    s->created = u64_of(agg, "created");
    s->started = u64_of(agg, "started");
    s->succeeded = u64_of(agg, "succeeded");
    s->failed = u64_of(agg, "failed");
    s->sent_ok = u64_of(agg, "deliveries_ok");
    s->sent_failed = u64_of(agg, "deliveries_failed");
    s->dropped = u64_of(agg, "deliveries_dropped");
  } else if (store_stats(s->m->store, &st) == 0) {
    s->cursor = st.last_seq;
  }
  json_decref(agg);
}

