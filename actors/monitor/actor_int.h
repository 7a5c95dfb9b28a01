/*
 * actor_int.h: the monitor actor's state, shared by its files only.
 *
 *   actor.c     life cycle, the tick (runtime sample, collect job), the
 *               store's view turned into task metrics, probes, DORA jobs
 *   deliver.c   outgoing webhooks and alerts: the delivery queue, one POST
 *               per blocking job, retries on timers; alert rules
 *   snapshot.c  what other threads read (/metrics text, summary, health
 *               checks), and the aggregates saved to and read from kv
 *
 * Everything here is touched by the actor's handlers only (one worker at
 * a time), except the job structs, which belong to their blocking job
 * until it sends them back (mon__send_ptr).
 */
#ifndef CCM_MONITOR_ACTOR_INT_H
#define CCM_MONITOR_ACTOR_INT_H

#include "actors/monitor/monitor_int.h"
#include "protocol/proto.h"

#define KV_NAME "monitor/aggregates"
/* Deliveries waiting: a receiver that is down for long loses the oldest
 * beyond this (counted as dropped) instead of growing memory. */
#define QUEUE_MAX 1024
/* Events read per collect; the rest come with the next tick. */
#define COLLECT_EVENTS_MAX 4096
/* Running tasks listed per collect (far above any agent concurrency). */
#define COLLECT_RUNNING_MAX 1024
#define PROBE_TIMEOUT_MS 15000

/* ---- results of blocking jobs ---- */

typedef struct mon_event {
  int kind;      /* CFG_EVENT_BIT_* or -1 */
  bool outcome;  /* an executor outcome (counts, durations) */
  json_t *data;
} mon_event_t;

typedef struct mon_running {
  char *id;
  json_t *task;
} mon_running_t;

typedef struct mon_collect {
  store_t *store;
  rt_actor_t *reply_to;
  uint64_t after;        /* in: the cursor */
  int rc;
  store_stats_t st;
  uint64_t last_seq;     /* out: the new cursor */
  mon_event_t *ev;
  size_t nev, cap;
  mon_running_t *run;
  size_t nrun, runcap;
} mon_collect_t;

typedef struct mon_delivery {
  mon_post_t *post;
  rt_actor_t *reply_to;
  unsigned attempt;      /* tries made */
  unsigned timeout_ms;
  int status;            /* last answer, -1 none */
  char err[160];
} mon_delivery_t;

typedef struct mon_dora_job {
  monitor_t *m;
  rt_actor_t *reply_to;
  json_t *result;
} mon_dora_job_t;

/* ---- the actor's state ---- */

typedef struct mon_actor_rec {
  uint64_t id;
  char name[RT_NAME_MAX + 24];
  bool seen;
  uint64_t processed;
  uint32_t depth;
  mon_ring_t rate, depth_r;
  uint64_t hist[MON_WINDOW][RT_HIST_BUCKETS]; /* cumulative, per sample */
  uint32_t hist_n, hist_next;
  double lat[3];
  uint32_t still;        /* samples in a row without progress, depth > 0 */
  uint32_t still_depth;  /* depth when that run began */
  bool stuck;
} mon_actor_rec_t;

typedef struct mon_state {
  monitor_t *m;
  rt_runtime_t *rt;
  int64_t last_tick;
  mon_actor_rec_t **actors;
  size_t nactors, acap;
  /* task metrics */
  bool collecting, have_stats, running_known;
  uint64_t cursor;
  store_stats_t st;
  uint64_t created, started, succeeded, failed, scanned;
  mon_ring_t durations, outcomes;
  mon_running_t *running;
  size_t nrunning;
  /* probes */
  uint64_t exec_corr, gh_corr;
  char exec_text[160], gh_text[160];
  bool exec_ok, gh_ok;
  double day_tasks;      /* NAN unknown */
  double rl_remaining;   /* NAN unknown */
  /* alerts */
  mon_alert_state_t *alerts;
  /* deliveries */
  mon_delivery_t *queue[QUEUE_MAX];
  size_t qhead, qlen;
  bool posting;
  uint64_t retry_timer;
  uint64_t sent_ok, sent_failed, dropped, attempts;
  bool dora_running;
  uint64_t persist_corr;
  uint64_t timers[4];    /* periodic: tick, persist, probe, DORA */
  uint64_t rng;          /* xorshift64 state: delivery ids, jitter */
} mon_state_t;

/* ---- actor.c ---- */
int64_t mon__wall_ms(void);
/** xorshift64: delivery ids and jitter. */
uint64_t mon__rand(mon_state_t *s);
/** Send @p p (a pointer) as a message of @p type to @p to; false when the
 * actor is gone (the caller then frees what @p p owns). */
bool mon__send_ptr(rt_actor_t *to, uint32_t type, void *p);
void mon__store_write(rt_ctx_t *ctx, mon_state_t *s, const proto_msg_t *m,
                      uint64_t *corr);

/* ---- deliver.c ---- */
/** Queue the outgoing webhook event @p bit (CFG_EVENT_BIT_*) with @p data
 * for every hook that asked for it. */
void mon__emit_event(rt_ctx_t *ctx, mon_state_t *s, int bit,
                     const json_t *data);
void mon__post_next(rt_ctx_t *ctx, mon_state_t *s);
void mon__on_posted(rt_ctx_t *ctx, mon_state_t *s, mon_delivery_t *d);
void mon__delivery_free(mon_delivery_t *d);
/** The value of an alert metric now; NAN when unknown. */
double mon__alert_value(const mon_state_t *s, cfg_metric_t metric);
void mon__eval_alerts(rt_ctx_t *ctx, mon_state_t *s, int64_t now);

/* ---- snapshot.c ---- */
void mon__snapshot(mon_state_t *s, int64_t now);
void mon__persist(rt_ctx_t *ctx, mon_state_t *s);
void mon__restore(mon_state_t *s);

#endif /* CCM_MONITOR_ACTOR_INT_H */
