/*
 * metrics.c: GET /metrics (Prometheus text format 0.0.4), GET
 * /api/v1/metrics/summary and GET /api/v1/actors. Service thread only.
 *
 * Every family has HELP and TYPE lines; counters end in _total; times are
 * in seconds. Per-actor figures come from rt_runtime_foreach_actor(), a
 * snapshot readable from any thread; the handler-time histogram is the
 * runtime's log2 histogram (one message in RT_STATS_SAMPLE timed), turned
 * into cumulative buckets with upper bounds of 2^(i+1) ns in seconds.
 * Actors are labelled with their name (or type) and their id, since
 * several unnamed actors can share a type.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/rest_monitor.h"
#include "web/web_int.h"

static const int statuses[] = {
#define WEB_STATUS_INT(code) code,
    WEB__STATUSES(WEB_STATUS_INT)
#undef WEB_STATUS_INT
};
_Static_assert(sizeof statuses / sizeof statuses[0] + 1 == WEB__N_STATUS,
               "WEB__N_STATUS counts the statuses plus \"other\"");

static const char *const route_names[WEB_R_COUNT] = {
    [WEB_R_HEALTH] = "/api/v1/health",
    [WEB_R_TASKS] = "/api/v1/tasks",
    [WEB_R_TASK] = "/api/v1/tasks/{id}",
    [WEB_R_TASK_ACTIONS] = "/api/v1/tasks/{id}/actions",
    [WEB_R_REPOS] = "/api/v1/repos",
    [WEB_R_REPO_SCAN] = "/api/v1/repos/{id}/scan",
    [WEB_R_ACTORS] = "/api/v1/actors",
    [WEB_R_SUMMARY] = "/api/v1/metrics/summary",
    [WEB_R_METRICS] = "/metrics",
    [WEB_R_WS] = "/ws",
    [WEB_R_PANEL] = "/",
    [WEB_R_WEBHOOK] = "/webhooks/github",
    [WEB_R_AUDIT] = "/api/v1/audit",
    [WEB_R_DORA] = "/api/v1/dora",
    [WEB_R_MONITOR] = "/api/v1/monitor",
    [WEB_R_QUEUE] = "/api/v1/queue",
    [WEB_R_OTHER] = "other",
};

void web__count_http(web_t *w, web_route_t route, int status)
{
  size_t i = 0;
  while (i < WEB__N_STATUS - 1 && statuses[i] != status)
    i++;
  w->http_count[route][i]++;
}

/* ------------------------------------------------------------ exposition */

/* A label value with \, " and newline escaped. */
static void label_escape(const char *s, char *out, size_t cap)
{
  size_t n = 0;
  for (; *s && n + 3 < cap; s++) {
    if (*s == '\\' || *s == '"') {
      out[n++] = '\\';
      out[n++] = *s;
    } else if (*s == '\n') {
      out[n++] = '\\';
      out[n++] = 'n';
    } else {
      out[n++] = *s;
    }
  }
  out[n] = '\0';
}

static int family(web_buf_t *b, const char *name, const char *type,
                  const char *help)
{
  return web__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                         type);
}

typedef struct actor_list {
  rt_actor_stats_t *s;
  size_t n, cap;
  int err;
} actor_list_t;

static void collect_actor(const rt_actor_stats_t *s, void *arg)
{
  actor_list_t *l = arg;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 32;
    rt_actor_stats_t *p = realloc(l->s, cap * sizeof(*p));
    if (!p) {
      l->err = -1;
      return;
    }
    l->s = p;
    l->cap = cap;
  }
  l->s[l->n++] = *s;
}

static const char *actor_label(const rt_actor_stats_t *s)
{
  return s->name[0] ? s->name : (s->type_name ? s->type_name : "actor");
}

typedef uint64_t (*actor_field_fn)(const rt_actor_stats_t *s);
static uint64_t f_processed(const rt_actor_stats_t *s) { return s->processed; }
static uint64_t f_depth(const rt_actor_stats_t *s) { return s->depth; }
static uint64_t f_hwm(const rt_actor_stats_t *s) { return s->depth_hwm; }
static uint64_t f_capacity(const rt_actor_stats_t *s) { return s->capacity; }
static uint64_t f_restarts(const rt_actor_stats_t *s) { return s->restarts; }
static uint64_t f_rejected(const rt_actor_stats_t *s) { return s->rejected; }

static const struct {
  const char *name, *type, *help;
  actor_field_fn get;
} actor_families[] = {
    {"ccm_actor_messages_total", "counter", "Messages handled by the actor.",
     f_processed},
    {"ccm_actor_mailbox_depth", "gauge", "Messages queued in the mailbox.",
     f_depth},
    {"ccm_actor_mailbox_high_water", "gauge",
     "Highest mailbox depth seen.", f_hwm},
    {"ccm_actor_mailbox_capacity", "gauge", "Mailbox bound in messages.",
     f_capacity},
    {"ccm_actor_restarts_total", "counter",
     "In-place restarts after failures.", f_restarts},
    {"ccm_actor_rejected_total", "counter",
     "Sends refused because the mailbox was full.", f_rejected},
};

static int actor_histogram(web_buf_t *b, const rt_actor_stats_t *s,
                           const char *label)
{
  uint64_t cum = 0;
  double sum = 0;
  int rc = 0;
  for (int i = 0; i < RT_HIST_BUCKETS && !rc; i++) {
    cum += s->handler_ns_hist[i];
    double upper = (double)(2ull << i) / 1e9;
    /* Estimate of the sum: each sample at its bucket's midpoint. */
    sum += (double)s->handler_ns_hist[i] * 1.5 * (double)(1ull << i) / 1e9;
    rc = web__buf_printf(b,
                         "ccm_actor_handler_seconds_bucket{actor=\"%s\","
                         "id=\"%llu\",le=\"%.9g\"} %llu\n",
                         label, (unsigned long long)s->id, upper,
                         (unsigned long long)cum);
  }
  if (!rc)
    rc = web__buf_printf(
        b,
        "ccm_actor_handler_seconds_bucket{actor=\"%s\",id=\"%llu\","
        "le=\"+Inf\"} %llu\n"
        "ccm_actor_handler_seconds_sum{actor=\"%s\",id=\"%llu\"} %.9g\n"
        "ccm_actor_handler_seconds_count{actor=\"%s\",id=\"%llu\"} %llu\n",
        label, (unsigned long long)s->id, (unsigned long long)cum, label,
        (unsigned long long)s->id, sum, label, (unsigned long long)s->id,
        (unsigned long long)cum);
  return rc;
}

static int actor_metrics(web_t *w, web_buf_t *b)
{
  actor_list_t l = {0};
  rt_runtime_foreach_actor(w->rt, collect_actor, &l);
  int rc = l.err;
  char label[2 * RT_NAME_MAX + 8];
  for (size_t f = 0; !rc && f < sizeof actor_families / sizeof
                                 actor_families[0]; f++) {
    rc = family(b, actor_families[f].name, actor_families[f].type,
                actor_families[f].help);
    for (size_t i = 0; !rc && i < l.n; i++) {
      label_escape(actor_label(&l.s[i]), label, sizeof(label));
      rc = web__buf_printf(b, "%s{actor=\"%s\",id=\"%llu\"} %llu\n",
                           actor_families[f].name, label,
                           (unsigned long long)l.s[i].id,
                           (unsigned long long)actor_families[f].get(&l.s[i]));
    }
  }
  if (!rc)
    rc = family(b, "ccm_actor_handler_seconds", "histogram",
                "Handler time per message (one message in 16 is timed).");
  for (size_t i = 0; !rc && i < l.n; i++) {
    label_escape(actor_label(&l.s[i]), label, sizeof(label));
    rc = actor_histogram(b, &l.s[i], label);
  }
  free(l.s);
  return rc;
}

static int task_metrics(web_t *w, web_buf_t *b)
{
  store_stats_t st;
  if (store_stats(w->store, &st) != 0)
    return 0; /* health reports the store; the rest still shows */
  int rc = family(b, "ccm_tasks", "gauge", "Tasks in the store by state.");
  for (int i = 0; !rc && i < PROTO_STATE_COUNT; i++)
    rc = web__buf_printf(b, "ccm_tasks{state=\"%s\"} %llu\n",
                         proto_state_name((proto_state_t)i),
                         (unsigned long long)st.by_state[i]);
  if (!rc)
    rc = family(b, "ccm_events_last_seq", "gauge",
                "Seq of the newest event in the log.") ||
         web__buf_printf(b, "ccm_events_last_seq %llu\n",
                         (unsigned long long)st.last_seq) ||
         family(b, "ccm_events_retained", "gauge",
                "Events kept in the log for resuming clients.") ||
         web__buf_printf(b, "ccm_events_retained %llu\n",
                         (unsigned long long)st.events);
  return rc;
}

static int one_value(web_buf_t *b, const char *name, const char *type,
                   const char *help, uint64_t v)
{
  return family(b, name, type, help) ||
         web__buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static int ws_and_event_metrics(web_t *w, web_buf_t *b)
{
  return one_value(b, "ccm_ws_clients", "gauge",
                 "WebSocket clients connected.", w->n_clients) ||
         one_value(b, "ccm_ws_connections_total", "counter",
                 "WebSocket connections accepted.", w->ws_accepted) ||
         one_value(b, "ccm_ws_rejected_total", "counter",
                 "WebSocket upgrades refused (auth, origin, limit, path).",
                 w->ws_rejected) ||
         one_value(b, "ccm_ws_slow_consumers_total", "counter",
                 "Clients dropped because their queue overflowed.",
                 w->ws_slow) ||
         one_value(b, "ccm_ws_bad_frames_total", "counter",
                 "Malformed or oversized client messages.",
                 w->ws_bad_frames) ||
         one_value(b, "ccm_ws_frames_sent_total", "counter",
                 "WebSocket frames written.", w->ws_frames_sent) ||
         one_value(b, "ccm_ws_events_sent_total", "counter",
                 "Event messages written to WebSocket clients.",
                 w->ws_events_sent) ||
         one_value(b, "ccm_ws_writes_total", "counter",
                 "Socket writes to WebSocket clients (each carries one or "
                 "more frames).", w->ws_writes) ||
         one_value(b, "ccm_http_task_pages_cached_total", "counter",
                 "GET /api/v1/tasks answers served from the page cache.",
                 w->task_pages.hits) ||
         one_value(b, "ccm_http_writes_total", "counter",
                 "Writes of HTTP answers (headers and body).",
                 w->http_writes) ||
         one_value(b, "ccm_http_writes_buffered_total", "counter",
                 "HTTP answer writes not sent whole at once (the rest "
                 "was kept for later loop turns).",
                 w->http_writes_buffered) ||
         one_value(b, "ccm_events_published_total", "counter",
                 "Events appended to the log through the server.",
                 atomic_load(&w->events_published)) ||
         one_value(b, "ccm_events_publish_failed_total", "counter",
                 "Events the store refused or did not acknowledge.",
                 atomic_load(&w->events_failed));
}

static int http_metrics(web_t *w, web_buf_t *b)
{
  int rc = family(b, "ccm_http_requests_total", "counter",
                  "HTTP requests answered, by route and status.");
  for (int r = 0; !rc && r < WEB_R_COUNT; r++)
    for (int s = 0; !rc && s < WEB__N_STATUS; s++) {
      if (!w->http_count[r][s])
        continue;
      char code[8];
      if (s < WEB__N_STATUS - 1)
        snprintf(code, sizeof(code), "%d", statuses[s]);
      else
        strcpy(code, "other");
      rc = web__buf_printf(b,
                           "ccm_http_requests_total{route=\"%s\",status=\"%s\"}"
                           " %llu\n",
                           route_names[r], code,
                           (unsigned long long)w->http_count[r][s]);
    }
  return rc;
}

int web__metrics_text(web_t *w, web_buf_t *b)
{
  rt_runtime_stats_t rs;
  rt_runtime_stats(w->rt, &rs);
  if (one_value(b, "ccm_up", "gauge", "1 while the daemon serves.", 1) ||
      one_value(b, "ccm_runtime_actors", "gauge", "Actors alive.",
              rs.actors_live) ||
      one_value(b, "ccm_runtime_messages_total", "counter",
              "Messages handled by all actors.", rs.messages) ||
      one_value(b, "ccm_runtime_worker_parks_total", "counter",
              "Times a worker thread went to sleep.", rs.parks) ||
      actor_metrics(w, b) || task_metrics(w, b) ||
      ws_and_event_metrics(w, b) || http_metrics(w, b) ||
      web__monitor_metrics(b))
    return -1;
  return 0;
}

/* ------------------------------------------------------------------ JSON */

/* The sampled handler time below which half the samples fall, in ns. */
static uint64_t hist_p50_ns(const rt_actor_stats_t *s)
{
  uint64_t total = 0, seen = 0;
  for (int i = 0; i < RT_HIST_BUCKETS; i++)
    total += s->handler_ns_hist[i];
  for (int i = 0; i < RT_HIST_BUCKETS && total; i++) {
    seen += s->handler_ns_hist[i];
    if (2 * seen >= total)
      return 2ull << i;
  }
  return 0;
}

json_t *web__actors_json(web_t *w)
{
  actor_list_t l = {0};
  rt_runtime_foreach_actor(w->rt, collect_actor, &l);
  json_t *list = json_array();
  for (size_t i = 0; list && i < l.n; i++) {
    const rt_actor_stats_t *s = &l.s[i];
    json_t *o = json_pack(
        "{s:I,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "id",
        (json_int_t)s->id, "name", s->name, "type",
        s->type_name ? s->type_name : "", "processed",
        (json_int_t)s->processed, "mailbox_depth", (json_int_t)s->depth,
        "mailbox_high_water", (json_int_t)s->depth_hwm, "mailbox_capacity",
        (json_int_t)s->capacity, "restarts", (json_int_t)s->restarts,
        "rejected", (json_int_t)s->rejected, "handler_p50_ns",
        (json_int_t)hist_p50_ns(s), "stopped", s->stopped);
    if (o)
      json_array_append_new(list, o);
  }
  free(l.s);
  return list ? json_pack("{s:o}", "actors", list) : NULL;
}

json_t *web__metrics_summary(web_t *w)
{
  rt_runtime_stats_t rs;
  rt_runtime_stats(w->rt, &rs);
  store_stats_t st;
  int src = store_stats(w->store, &st);
  json_t *by_state = json_object();
  for (int i = 0; by_state && !src && i < PROTO_STATE_COUNT; i++)
    json_object_set_new(by_state, proto_state_name((proto_state_t)i),
                        json_integer((json_int_t)st.by_state[i]));
  uint64_t http_total = 0;
  for (int r = 0; r < WEB_R_COUNT; r++)
    for (int s = 0; s < WEB__N_STATUS; s++)
      http_total += w->http_count[r][s];
  return json_pack(
      "{s:{s:I,s:o},s:{s:I,s:I},s:{s:I,s:I,s:i},s:{s:i,s:I,s:I},s:{s:I}}",
      "tasks", "total", (json_int_t)(src ? 0 : st.tasks), "by_state",
      by_state ? by_state : json_object(), "events", "last_seq",
      (json_int_t)(src ? 0 : st.last_seq), "retained",
      (json_int_t)(src ? 0 : st.events), "runtime", "actors",
      (json_int_t)rs.actors_live, "messages", (json_int_t)rs.messages,
      "workers", (int)rt_runtime_workers(w->rt), "websocket", "clients",
      (int)w->n_clients, "events_sent", (json_int_t)w->ws_events_sent,
      "slow_consumers", (json_int_t)w->ws_slow, "http", "requests",
      (json_int_t)http_total);
}
