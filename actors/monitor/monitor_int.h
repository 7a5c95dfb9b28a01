/*
 * monitor_int.h: internals of actors/monitor/ (this folder only).
 *
 * Design note.
 *
 *   stats.c    fixed-size rings of samples and their percentiles
 *              (nearest rank), quantiles of the runtime's log2 handler-
 *              time histograms. Pure.
 *   alerts.c   one alert rule against one value: pending -> firing after
 *              `for`, firing -> resolved when it stops holding. Pure.
 *   events.c   what an event of the store's log means for the monitor:
 *              task.created / task.completed / task.failed, durations.
 *              Pure.
 *   hooks.c    outgoing webhook bodies, HMAC-SHA256 signatures, the
 *              backoff schedule, and one POST with libcurl (blocking: only
 *              ever called from a runtime blocking job).
 *   dora.c     DORA metrics from git history (blocking: runs git).
 *   monitor.c  the shared handle (monitor_t) and the snapshot readers.
 *   actor.c, deliver.c, snapshot.c   the actor (actor_int.h says which
 *              file does what).
 *   web_hooks.c  the adapters behind web/rest_monitor.h (a library of its
 *              own, ccmmonitorweb, so the monitor does not link web/).
 *
 * The actor owns all mutable state; other threads see only the snapshot
 * in monitor_t (mutex, replaced whole after each sample). Per actor it
 * keeps MON_WINDOW samples of messages/s and mailbox depth, and the
 * handler-time histogram as it was MON_WINDOW samples ago, so the latency
 * percentiles cover the same window. Task durations and outcomes keep the
 * last MON_OUTCOMES runs. Every size is fixed: the monitor's memory does
 * not grow with uptime.
 *
 * Work off the workers: each tick the actor samples the runtime (atomics
 * only) and, when none is in flight, submits one collect job that reads
 * the store (stats, new log events, running tasks) and comes back as a
 * message. Webhook deliveries go one at a time through a bounded queue:
 * one POST per blocking job, the next try after a one-shot timer.
 */
#ifndef CCM_MONITOR_MONITOR_INT_H
#define CCM_MONITOR_MONITOR_INT_H

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/monitor/monitor.h"

/* Samples kept per series: one minute at the default 1 s period, enough
 * for p99 to mean something (60 values) at 8 bytes each. */
#define MON_WINDOW 60
/* Task outcomes and durations kept: the last 256 runs. */
#define MON_OUTCOMES 256

/* ---- stats.c ---- */

typedef struct mon_ring {
  double v[MON_OUTCOMES];
  uint32_t cap;  /* <= MON_OUTCOMES; set by mon__ring_init */
  uint32_t n;    /* values held */
  uint32_t next; /* slot of the next push */
} mon_ring_t;

void mon__ring_init(mon_ring_t *r, uint32_t cap);
void mon__ring_push(mon_ring_t *r, double v);
/** Newest value, NAN when empty. */
double mon__ring_last(const mon_ring_t *r);
/** Mean of the values, NAN when empty. */
double mon__ring_mean(const mon_ring_t *r);
/** p50, p95, p99 (nearest rank) into out[0..2]; NAN when empty. */
void mon__ring_pcts(const mon_ring_t *r, double out[3]);
/** Nearest-rank percentile @p p (0 < p <= 100) of @p n sorted values. */
double mon__pct_sorted(const double *v, size_t n, double p);
/** Quantile @p q (0..1] of a log2 histogram (bucket i: [2^i, 2^(i+1)) ns),
 * as the geometric middle of the bucket that holds it, in seconds; NAN
 * when the histogram is empty. */
double mon__hist_quantile(const uint64_t *hist, size_t buckets, double q);

/** Room for element @p n of the array *@p vp (elements of @p size bytes,
 * *cap allocated; grows by doubling from 8). @return false when out of
 * memory (the array is left as it was). */
bool mon__grow(void *vp, size_t *cap, size_t n, size_t size);

/* ---- alerts.c ---- */

typedef struct mon_alert_state {
  bool holding;   /* the condition held at the last evaluation */
  bool firing;
  int64_t since;  /* when it started holding (unix ms) */
  double value;   /* last value evaluated */
} mon_alert_state_t;

typedef enum mon_transition {
  MON_ALERT_NONE = 0,
  MON_ALERT_FIRED,
  MON_ALERT_RESOLVED
} mon_transition_t;

/** Evaluate @p rule on @p value at @p now_ms. A NAN value (unknown, e.g.
 * no GitHub configured) changes nothing. */
mon_transition_t mon__alert_eval(const cfg_alert_t *rule,
                                 mon_alert_state_t *st, double value,
                                 int64_t now_ms);

/** The event of a transition, as published on "alerts" and POSTed:
 * the protocol's ALERT fields plus "state" ("firing" | "resolved") and
 * "metric", "op". New reference, NULL when out of memory. */
json_t *mon__alert_json(const cfg_alert_t *rule, mon_transition_t t,
                        double value, int64_t now_ms);

/* ---- events.c ---- */

/** The outgoing-webhook event (a CFG_EVENT_BIT_*) that a log event stands
 * for, or -1: a "tasks" event of a task seen for the first time
 * (state new, first_seen == last_seen) is task.created; an "executor"
 * outcome whose state is review or done is task.completed, failed is
 * task.failed. */
int mon__event_kind(const char *topic, const json_t *data);

/** The outcome's duration in ms from an executor event; -1 if none. */
double mon__event_duration_ms(const json_t *data);

/* ---- hooks.c ---- */

/** The JSON body of an outgoing webhook: {"event","delivery","ts",
 * "data"}. malloc'd, *len its length; NULL when out of memory. */
char *mon__hook_body(const char *event, const char *delivery, int64_t ts_ms,
                     const json_t *data, size_t *len);
/** Lower-case hex HMAC-SHA256 of @p body under @p key into out[65]. */
void mon__hmac_hex(const char *key, const void *body, size_t len,
                   char out[65]);
/** Delay in ms before try number @p next (2, 3, ...): base * 2^(next-2)
 * capped at max, then a uniform jitter from half of it to all of it,
 * drawn from @p rnd. */
unsigned mon__backoff_ms(const monitor_retry_t *r, unsigned next,
                         uint64_t rnd);

typedef struct mon_post {
  char *url;
  char *event;          /* X-Ccm-Event; NULL for none */
  char delivery[33];    /* X-Ccm-Delivery: hex id, the same on retries */
  char *signature;      /* "sha256=<hex>" or NULL (unsigned) */
  char *body;
  size_t len;
} mon_post_t;

/** POST @p p once (libcurl easy, no signals, @p timeout_ms overall).
 * Blocking. @return the HTTP status (>= 100), or -1 with a reason in
 * @p err when no answer came. */
int mon__post_once(const mon_post_t *p, unsigned timeout_ms, char *err,
                   size_t errlen);
void mon__post_free(mon_post_t *p);


/* ---- the shared handle (monitor.c) ---- */

/* Runtime message types of the monitor (0x4D00xxxx, 'M'). */
enum {
  MON_MSG_TICK = 0x4D000001u, /* sample timer */
  MON_MSG_PERSIST,            /* aggregates timer */
  MON_MSG_PROBE,              /* executor / GitHub probe timer */
  MON_MSG_DORA,               /* DORA timer */
  MON_MSG_RETRY,              /* one-shot: retry the queued delivery */
  MON_MSG_COLLECTED,          /* collect job result: mon_collect_t * */
  MON_MSG_POSTED,             /* delivery job result: mon_delivery_t * */
  MON_MSG_DORA_DONE,          /* DORA job result: json_t * */
  MON_MSG_RECONFIGURE,        /* monitor_reconfigure: monitor_config_t * */
};

struct monitor {
  atomic_int refs;
  rt_runtime_t *rt;
  store_t *store;
  rt_actor_t *store_actor;
  rt_actor_t *actor;
  monitor_config_t cfg;
  /* The snapshot: replaced whole by the actor, read by any thread. */
  pthread_mutex_t mu;
  char *metrics_text;
  size_t metrics_len;
  json_t *summary;
  json_t *dora;
  json_t *checks;   /* the monitor's health checks */
  bool degraded;
};

/** Replace the snapshot (the actor only): takes the three references and
 * the text. */
void mon__snapshot_set(monitor_t *m, char *metrics, size_t len,
                       json_t *summary, json_t *checks, bool degraded);
/** Replace the DORA report (takes the reference). */
void mon__dora_set(monitor_t *m, json_t *dora);
monitor_t *mon__retain(monitor_t *m);

/** Spawn the actor over @p m (which it retains). */
int mon__actor_spawn(monitor_t *m, rt_actor_t **out);

#endif /* CCM_MONITOR_MONITOR_INT_H */
