/*
 * monitor.h: the monitor actor (SPEC §1.5): runtime and task metrics,
 * health checks, alert rules, outgoing webhooks and DORA metrics.
 *
 * monitor_start() spawns one actor (registered as "monitor") and returns a
 * handle, monitor_t, that other threads read: the control plane's health
 * check, /metrics and /api/v1/dora read the snapshot the actor publishes
 * after every sample (a short mutex, no store walk, no I/O). Everything
 * slow runs off the workers: store reads and git on runtime blocking jobs,
 * webhook POSTs (libcurl) one attempt per blocking job, retries on timers.
 * docs/monitor.md has the metrics, the rules and the formats.
 *
 * Threading: monitor_start/monitor_stop/monitor_release from a thread that
 * is not a worker; the readers (monitor_health, monitor_metrics_text,
 * monitor_dora_json, monitor_summary_json) from any thread while the
 * handle is held.
 */
#ifndef CCM_MONITOR_MONITOR_H
#define CCM_MONITOR_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/config.h"
#include "runtime/actor.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: 0 ok; rt_/store_ codes pass through; ours sit below -38000. */
#define MON_ERRNO_MAP(XX)                                                    \
  XX(EINVAL, -38001, "invalid argument")                                     \
  XX(EGIT, -38002, "git failed or printed something unexpected")             \
  XX(ENOMEM, -38003, "out of memory")

enum mon_errno {
#define MON_ERR_ENUM(name, code, text) MON_##name = (code),
  MON_ERRNO_MAP(MON_ERR_ENUM)
#undef MON_ERR_ENUM
};
/** "MON_EGIT: ...", or the rt_/store_ text. Never NULL. */
const char *monitor_strerror(int rc);

/* An outgoing webhook (cfg_webhook_t with its secret resolved). */
typedef struct monitor_hook {
  const char *url;
  const char *secret; /* HMAC-SHA256 key; NULL or "": unsigned. Never logged */
  unsigned events;    /* CFG_EVENT() bits */
} monitor_hook_t;

/* Delivery of one POST: attempts with exponential backoff and jitter. */
typedef struct monitor_retry {
  unsigned attempts;   /* tries in all, first included: 5 */
  unsigned base_ms;    /* delay before the 2nd try: 500; doubles */
  unsigned max_ms;     /* cap of one delay: 60,000 */
  unsigned timeout_ms; /* one attempt, connect included: 10,000 */
} monitor_retry_t;

/* What counts as a deployment. */
typedef enum monitor_deploy {
  MON_DEPLOY_MERGES = 0, /* merge commits on the default branch's
                            first-parent line */
  MON_DEPLOY_TAGS        /* tags matching tag_pattern */
} monitor_deploy_t;

/* Failure signals (bits). */
#define MON_FAIL_REVERT 0x1u   /* a later commit says "This reverts commit X" */
#define MON_FAIL_HOTFIX 0x2u   /* a hotfix deployment within hotfix_window */
#define MON_FAIL_INCIDENT 0x4u /* the deployment's pull request has the label */

typedef struct monitor_dora_config {
  monitor_deploy_t deployments;
  const char *branch;          /* default branch; NULL: HEAD */
  const char *tag_pattern;     /* tags mode: "v*" when NULL */
  unsigned failures;           /* MON_FAIL_* bits; 0: revert|hotfix|incident */
  uint64_t hotfix_window_ms;   /* 0: 24 h */
  const char *hotfix_pattern;  /* subject/branch word; NULL: "hotfix" */
  const char *agent_branch_prefix; /* NULL: "ccm/" */
  const char *incident_label;  /* GitHub label of incidents; NULL:
                                  "incident" */
  const char *const *agent_authors; /* names or e-mails of ccm's agents */
  size_t n_agent_authors;
  uint64_t window_ms;          /* 0: 30 days */
} monitor_dora_config_t;

/* A repository whose history feeds the DORA metrics. */
typedef struct monitor_repo {
  const char *id;
  const char *path;            /* local git repository */
  const char *github;          /* "owner/name": incident labels of its pull
                                  requests (needs monitor_config_t.github);
                                  NULL: none */
} monitor_repo_t;

/* Publishes an event on a topic ("alerts", "metrics"); borrowed data. */
typedef int (*monitor_publish_fn)(void *arg, const char *topic,
                                  const json_t *data);

/* Configuration: plain values; pointers must outlive the monitor. */
typedef struct monitor_config {
  uint32_t sample_ms;          /* sampling period: 1,000 */
  uint32_t persist_ms;         /* aggregates to the store: 60,000 */
  uint32_t probe_ms;           /* executor / GitHub probes: 30,000 */
  uint32_t dora_ms;            /* DORA recomputed: 600,000 */
  uint32_t stuck_samples;      /* samples without progress: 5 */
  const cfg_alert_t *alerts;
  size_t nalerts;
  const monitor_hook_t *hooks;
  size_t nhooks;
  monitor_retry_t retry;
  uint32_t max_tasks_per_day;  /* budget_used = started today / this */
  const char *executor_name;   /* probed actor: "executor" */
  rt_actor_t *github;          /* GitHub client (github/gh.h) or NULL */
  monitor_publish_fn publish;  /* NULL: events are written to the store's
                                  log (the web fan-out reads it) */
  void *publish_arg;
  monitor_dora_config_t dora;
  const monitor_repo_t *repos;
  size_t nrepos;
} monitor_config_t;

/** Fill @p c with the defaults above (no rules, hooks or repos). */
void monitor_config_defaults(monitor_config_t *c);

typedef struct monitor monitor_t;

/**
 * Spawn the monitor actor. It reads @p store (borrowed: close it after the
 * runtime shut down) and writes events and aggregates through
 * @p store_actor (a reference is kept).
 * @param cfg  copied (not the strings and arrays it points to).
 * @param out  receives a handle (monitor_release), NULL on failure.
 * @return 0, MON_EINVAL, or an rt_actor_spawn() code.
 */
int monitor_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
                  const monitor_config_t *cfg, monitor_t **out);

/** Ask the actor to stop (its pending deliveries are dropped). The handle
 * stays readable. Any non-worker thread. NULL is a no-op. */
void monitor_stop(monitor_t *m);

/** Take the alert rules, the outgoing webhooks and max_tasks_per_day of
 * @p cfg (a SIGHUP reload; @p cfg and what it points to must outlive the
 * monitor): sent to the actor, which keeps the state of each rule whose
 * name it knew (firing, since when). The rest of @p cfg is ignored. Any
 * thread. @return 0 or an rt_send() code. */
int monitor_reconfigure(monitor_t *m, const monitor_config_t *cfg);

/** Drop the caller's reference; the last one frees. NULL is a no-op. */
void monitor_release(monitor_t *m);

/**
 * Add the monitor's checks to @p checks (a JSON object): "actors" ("ok" or
 * "stuck: a, b"), "executor", "github" (when configured), "monitor". Reads
 * the last snapshot only.
 * @return true when a check is degraded.
 */
bool monitor_health(monitor_t *m, json_t *checks);

/** The monitor's Prometheus families (text format 0.0.4, HELP and TYPE
 * lines) into a new malloc'd string (*len its length); NULL when out of
 * memory. */
char *monitor_metrics_text(monitor_t *m, size_t *len);

/** The last DORA report: {"repos":[...],"computed_at":ms} (a new
 * reference), or NULL when out of memory. */
json_t *monitor_dora_json(monitor_t *m);

/** Runtime and task metrics with percentiles, alerts (a new reference). */
json_t *monitor_summary_json(monitor_t *m);

/**
 * Compute the DORA report of the git repository at @p dir, as of
 * @p now_ms (unix ms), over the window before it. @p incident_prs lists
 * pull request numbers labelled as incidents (GitHub data; may be NULL).
 * Blocking (runs git): call it from a blocking job or a plain thread.
 * @return 0, MON_EGIT (message in @p err), MON_ENOMEM; *out always
 *         written.
 */
int monitor_dora_compute(const char *dir, const monitor_dora_config_t *c,
                         int64_t now_ms, const uint32_t *incident_prs,
                         size_t n_incident, json_t **out, char *err,
                         size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* CCM_MONITOR_MONITOR_H */
