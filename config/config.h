/*
 * config.h: ccm's configuration file (`ccm.yaml`, SPEC §3 "Config").
 *
 * cfg_load_file() reads a YAML file into one plain struct, cfg_t, that
 * holds every setting with its type already checked: durations in
 * milliseconds, sizes in bytes, names split, enums for closed sets. A
 * key left out keeps its default; cfg_defaults() alone is the embedded
 * default of SPEC §3 (the git repository in the current directory, state
 * in ./.ccm, 127.0.0.1:8080, executor in dry-run). docs/config.md lists
 * every key.
 *
 * Errors: the loader keeps going after an error and reports each one
 * (up to CFG_ERRORS_MAX) as FILE:LINE:COLUMN: message, sorted by
 * position; a file with any error loads nothing. Unknown keys, wrong
 * types, values out of range, duplicate keys, YAML syntax errors, odd
 * anchors and aliases, a second document, and keys that look like they
 * hold a secret are all errors.
 *
 * Secrets never live in the file: it names environment variables
 * (auth_token_env, github.token_env, ...). cfg_secrets_resolve() reads
 * them, separately; no function of this module ever prints a value.
 *
 * Ownership: a cfg_t owns every string and array it points to (malloc'd);
 * cfg_fini() frees them. Nothing here keeps global state, so every
 * function may run on any thread. Depends on libyaml only.
 */
#ifndef CCM_CONFIG_CONFIG_H
#define CCM_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: 0 ok, negative on failure (range below -37000). */
#define CFG_ERRNO_MAP(XX)                                                   \
  XX(EINVALID, -37001, "the configuration has errors")                      \
  XX(EIO, -37002, "the configuration file cannot be read")                  \
  XX(ETOOBIG, -37003, "the configuration file is larger than 1 MiB")        \
  XX(ESECRET, -37004, "an environment variable the configuration needs is not set")

enum cfg_errno {
#define CFG_ERR_ENUM(name, code, text) CFG_##name = (code),
  CFG_ERRNO_MAP(CFG_ERR_ENUM)
#undef CFG_ERR_ENUM
};
/** "CFG_EINVALID: ...", or strerror() for other codes. Never NULL. */
const char *cfg_strerror(int rc);

/* A config file is a page of settings, not data: 1 MiB bounds what the
 * parser may allocate for hostile input. */
#define CFG_FILE_MAX (1u << 20)
/* Fifty errors fill a screen; past that the file is probably not YAML
 * for ccm at all. */
#define CFG_ERRORS_MAX 50

/* ---- errors ---- */

/* One error. line and column are 1-based; 0 when the error has no place
 * in the file (an unreadable file, an environment variable). */
typedef struct cfg_error {
  unsigned line, column;
  char *message; /* "repos[0].scan_interval: bad duration ..." */
} cfg_error_t;

typedef struct cfg_errors {
  char *file;         /* the name errors are printed with */
  cfg_error_t *v;     /* sorted by line, then column */
  size_t n;           /* at most CFG_ERRORS_MAX, + 1 when the check had
                         to stop early (the last word on why) */
  size_t dropped;     /* errors found beyond the cap */
} cfg_errors_t;

/** Free the list's strings; leaves @p e empty (may be reused). */
void cfg_errors_fini(cfg_errors_t *e);

/**
 * Print one line per error, "FILE:LINE:COLUMN: message" ("FILE: message"
 * without a place), then "FILE: N more errors not shown" when some were
 * dropped. @return the number of lines printed.
 */
size_t cfg_errors_print(const cfg_errors_t *e, FILE *out);

/* ---- the configuration ---- */

typedef struct cfg_strv {
  char **v;
  size_t n;
} cfg_strv_t;

typedef struct cfg_kv {
  char *key;
  char *value;
} cfg_kv_t;

/* A map of strings, in file order. */
typedef struct cfg_kvv {
  cfg_kv_t *v;
  size_t n;
} cfg_kvv_t;

/* listen: ADDR:PORT. host is an IPv4 or IPv6 literal (no brackets) or
 * "localhost"; port 0 lets the system pick one. */
typedef struct cfg_listen {
  char *text; /* as written: "127.0.0.1:8080", "[::1]:9000" */
  char *host;
  uint16_t port;
} cfg_listen_t;

/* One repository: a local working copy, a GitHub repository, or both. */
typedef struct cfg_repo {
  char *path;             /* local working copy; NULL: GitHub only */
  char *github;           /* "owner/name"; NULL: none */
  char *github_owner;     /* the two halves of github, or NULL */
  char *github_name;
  uint64_t scan_interval_ms; /* 10 min; 0 ("off"): on request/webhook only */
  char *base;             /* branch agents start from; NULL: HEAD */
  cfg_strv_t test_command; /* argv run in a worktree after an agent; empty:
                              none */
  bool publish;           /* push ccm/<task> and open a pull request after
                             an accepted run: false */
  char *remote;           /* git remote to push to; NULL: origin */
  bool draft;             /* pull requests as drafts: false */
  /* priority: this repository's rules over the global ones (weights NAN
   * and churn_window_ms UINT64_MAX where not given; its mappings come
   * before the global ones); NULL: the global ones */
  struct cfg_priority *priority;
  /* GitHub proposals (actors/github/sync.h): one issue per finding of
   * these kinds: false; empty kinds: todo, fixme, bug, hack, secret; the
   * issue of a resolved finding is closed: true */
  bool propose_issues;
  cfg_strv_t propose_kinds;
  bool close_resolved_issues;
} cfg_repo_t;

typedef enum cfg_auth_scheme {
  CFG_AUTH_TOKEN = 0, /* Authorization: token <t> */
  CFG_AUTH_BEARER     /* Authorization: Bearer <t> */
} cfg_auth_scheme_t;

typedef struct cfg_github {
  char *api_url;            /* https://api.github.com */
  char *token_env;          /* GITHUB_TOKEN */
  char *webhook_secret_env; /* CCM_WEBHOOK_SECRET */
  uint32_t stale_days;      /* 30: an issue idle this long is stale */
  char *accept;             /* application/vnd.github.v3+json */
  cfg_auth_scheme_t auth_scheme; /* token */
  char *user_agent;         /* ccm/0.1 */
  char *api_version;        /* 2022-11-28; "": no X-GitHub-Api-Version */
  cfg_strv_t approve_labels; /* [ccm:approved]: a human approves a task */
  char *proposal_label;     /* ccm:proposal: on the issues ccm opens */
  uint32_t budget;          /* GitHub requests per sync cycle: 100 */
  uint64_t sync_interval_ms; /* 10 min; 0 ("off"): webhooks only */
  char *login;              /* ccm's own account (not human activity) */
  cfg_strv_t stale_exempt_labels; /* []: issues with one are never stale */
} cfg_github_t;

/* Refactoring thresholds (scan/metrics.h scan_thresholds_t, same
 * defaults: 80, 4, 15, 6, 1000). */
typedef struct cfg_thresholds {
  uint32_t max_function_lines;
  uint32_t max_nesting;
  uint32_t max_complexity;
  uint32_t max_params;
  uint32_t max_file_lines;
} cfg_thresholds_t;

typedef struct cfg_scan {
  cfg_strv_t markers;       /* TODO FIXME HACK XXX BUG OPTIMIZE; empty: no
                               marker scanning */
  bool markers_any_case;    /* false: upper case only */
  uint64_t max_file_size;   /* bytes, 1 MiB */
  cfg_strv_t exclude;       /* the scanner's defaults (scan/walk.h) */
  bool use_git;             /* true: list files with git where possible */
  cfg_thresholds_t thresholds;
  bool refactor;            /* true: report refactoring candidates */
  bool secrets;             /* true: report committed secrets */
  char *secrets_allowlist;  /* allowlist file (scan/secrets.h); NULL: none */
  uint64_t git_timeout_ms;  /* each git command's deadline (scan/gitcmd.h),
                               5 min; small queries: at most 30 s */
} cfg_scan_t;

/* WSJF weights (value, time criticality, risk reduction, job size). */
typedef struct cfg_weights {
  double value;
  double time_criticality;
  double risk_reduction;
  double job_size;
} cfg_weights_t;

/* A WSJF mapping (actors/prioritizer/wsjf.h): a kind, a label or a path
 * glob, and the inputs it sets (kinds: 1-10) or adds (labels, paths:
 * -9..9); NAN where it says nothing. */
typedef struct cfg_prio_map {
  char *key;
  double value, time_criticality, risk_reduction, job_size;
} cfg_prio_map_t;

typedef struct cfg_prio_maps {
  cfg_prio_map_t *v; /* in file order */
  size_t n;
} cfg_prio_maps_t;

typedef struct cfg_priority {
  cfg_weights_t weights; /* 1 each */
  uint64_t churn_window_ms; /* commits counted as churn: 30 days; 0: off */
  cfg_prio_maps_t kinds;    /* base inputs per task kind */
  cfg_prio_maps_t labels;   /* adjustments per label */
  cfg_prio_maps_t paths;    /* adjustments of the first matching glob */
} cfg_priority_t;

typedef struct cfg_budget {
  uint32_t max_turns;         /* per task: 30 */
  double max_usd_per_task;    /* 2; 0: no cap */
  uint32_t max_tasks_per_day; /* 20; 0: no cap */
  double max_usd_per_day;     /* 0: no cap */
} cfg_budget_t;

/* An agent preset: how to start one agent. */
typedef struct cfg_preset {
  char *name;
  cfg_strv_t command;   /* argv template (agent.h placeholders); not empty */
  cfg_kvv_t env;        /* added to the agent's environment as written */
  cfg_strv_t pass_env;  /* names copied from ccm's environment */
  char *model;          /* claude-code: --model; NULL: unset */
  char *permission_mode; /* claude-code: --permission-mode; NULL: unset */
  char *append_system_prompt; /* NULL: unset */
  cfg_strv_t allowed_tools;
  cfg_strv_t disallowed_tools;
  char *mention;        /* github-mention: "@claude"; set: no command */
} cfg_preset_t;

typedef struct cfg_agents {
  char *default_preset;      /* "claude-code" (key: default) */
  uint32_t concurrency;      /* agent runs at once: 2 */
  bool dry_run;              /* true: record the command, start nothing */
  cfg_strv_t auto_approve;   /* task kinds approved without a human: none */
  uint64_t timeout_ms;       /* wall clock per run: 30 min */
  uint64_t idle_timeout_ms;  /* no output this long is a stall: 10 min */
  cfg_budget_t budget;
  cfg_preset_t *presets;     /* the built-in claude-code, then the file's */
  size_t npresets;
  cfg_kvv_t prompts;         /* task kind (or "*") -> prompt template */
} cfg_agents_t;

/* Alert metrics and comparisons. */
#define CFG_METRIC_MAP(XX)                                                  \
  XX(FAILURE_RATE, "failure_rate")                                          \
  XX(QUEUE_DEPTH, "queue_depth")                                            \
  XX(MAILBOX_DEPTH, "mailbox_depth")                                        \
  XX(RATE_LIMIT_LEFT, "rate_limit_left")                                    \
  XX(STUCK_ACTORS, "stuck_actors")                                          \
  XX(BUDGET_USED, "budget_used")

typedef enum cfg_metric {
#define CFG_METRIC_ENUM(name, text) CFG_METRIC_##name,
  CFG_METRIC_MAP(CFG_METRIC_ENUM)
#undef CFG_METRIC_ENUM
  CFG_METRIC__COUNT
} cfg_metric_t;
/** The config name of @p m ("queue_depth"); "?" when out of range. */
const char *cfg_metric_name(cfg_metric_t m);

typedef enum cfg_op {
  CFG_OP_GT, /* > */
  CFG_OP_GE, /* >= */
  CFG_OP_LT, /* < */
  CFG_OP_LE, /* <= */
  CFG_OP_EQ, /* == */
  CFG_OP_NE, /* != */
} cfg_op_t;
/** ">", ">=", ...; "?" when out of range. */
const char *cfg_op_name(cfg_op_t op);
/** Does @p value @p op @p threshold hold? */
bool cfg_op_holds(cfg_op_t op, double value, double threshold);

typedef struct cfg_alert {
  char *name;          /* unique */
  cfg_metric_t metric;
  cfg_op_t op;
  double threshold;
  uint64_t for_ms;     /* how long it must hold before firing: 0 */
  char *webhook_url;   /* POSTed to when it fires; NULL: WebSocket only */
} cfg_alert_t;

/* Outgoing webhook events (bits). */
#define CFG_EVENT_MAP(XX)                                                   \
  XX(TASK_CREATED, "task.created")                                          \
  XX(TASK_STARTED, "task.started")                                          \
  XX(TASK_COMPLETED, "task.completed")                                      \
  XX(TASK_FAILED, "task.failed")                                            \
  XX(REPOSITORY_SCANNED, "repository.scanned")

enum cfg_event_bit {
#define CFG_EVENT_BIT(name, text) CFG_EVENT_BIT_##name,
  CFG_EVENT_MAP(CFG_EVENT_BIT)
#undef CFG_EVENT_BIT
  CFG_EVENT__COUNT
};
#define CFG_EVENT(name) (1u << CFG_EVENT_BIT_##name)
#define CFG_EVENTS_ALL ((1u << CFG_EVENT__COUNT) - 1u)
/** The name of event bit @p bit (0..CFG_EVENT__COUNT-1); "?" otherwise. */
const char *cfg_event_name(unsigned bit);

typedef struct cfg_webhook {
  char *url;
  char *secret_env;    /* HMAC key's variable; NULL: unsigned */
  unsigned events;     /* CFG_EVENT() bits; CFG_EVENTS_ALL by default */
} cfg_webhook_t;

/* log: the daemon's log on stderr (app/log.h). A zeroed cfg_log_t is the
 * default (info, logfmt): the names tables in schema.c follow these
 * orders. */
typedef enum cfg_log_level {
  CFG_LOG_INFO, CFG_LOG_DEBUG, CFG_LOG_WARN, CFG_LOG_ERROR
} cfg_log_level_t;
typedef enum cfg_log_format { CFG_LOG_LOGFMT, CFG_LOG_JSON } cfg_log_format_t;
typedef struct cfg_log {
  cfg_log_level_t level;
  cfg_log_format_t format;
} cfg_log_t;

/* monitor: the monitor actor's periods (actors/monitor/monitor.h). A
 * zeroed cfg_monitor_t is the default: 1 s samples, aggregates saved
 * every minute, an actor stuck after 5 samples without progress. */
typedef struct cfg_monitor {
  uint64_t sample_interval_ms;  /* 0: 1 s */
  uint64_t persist_interval_ms; /* 0: 1 min */
  uint32_t stuck_samples;       /* 0: 5 */
} cfg_monitor_t;

/* dora: what counts as a deployment and as a failure (docs/monitor.md).
 * A zeroed cfg_dora_t is the default: merges to HEAD's branch, every
 * failure signal, a 24 h hotfix window, ccm/ branches are the agents',
 * a 30-day window. */
typedef enum cfg_deploy { CFG_DEPLOY_MERGES, CFG_DEPLOY_TAGS } cfg_deploy_t;
typedef struct cfg_dora {
  cfg_deploy_t deployments;  /* merges | tags */
  char *branch;              /* default branch; NULL: HEAD */
  char *tag_pattern;         /* tags: NULL: v* */
  cfg_strv_t failures;       /* revert, hotfix, incident; empty: all */
  uint64_t hotfix_window_ms; /* 0: 24 h */
  char *hotfix_pattern;      /* NULL: hotfix */
  char *incident_label;      /* NULL: incident */
  char *agent_branch_prefix; /* NULL: ccm/ */
  cfg_strv_t agent_authors;  /* git author names or e-mails of the agents */
  uint64_t window_ms;        /* 0: 30 days */
} cfg_dora_t;

typedef struct cfg {
  char *source;            /* the file's name; "(embedded default)" */
  cfg_listen_t listen;     /* 127.0.0.1:8080 */
  char *data_dir;          /* ./.ccm */
  char *auth_token_env;    /* CCM_TOKEN */
  cfg_repo_t *repos;       /* default: one, path "." */
  size_t nrepos;
  cfg_github_t github;
  cfg_scan_t scan;
  cfg_priority_t priority;
  cfg_agents_t agents;
  cfg_alert_t *alerts;
  size_t nalerts;
  cfg_webhook_t *webhooks;
  size_t nwebhooks;
  cfg_log_t log;            /* info, logfmt */
  cfg_monitor_t monitor;    /* zeroed: the monitor's defaults */
  cfg_dora_t dora;          /* zeroed: the defaults above */
} cfg_t;

/**
 * Fill @p c with the embedded default. Free with cfg_fini().
 */
void cfg_defaults(cfg_t *c);

/** Free what @p c owns and zero it. A zeroed cfg_t is a no-op. */
void cfg_fini(cfg_t *c);

/**
 * Load the file at @p path over the defaults.
 * @param out   receives the configuration on success; zeroed on failure.
 * @param errs  receives every error (zeroed first; free with
 *              cfg_errors_fini() whatever the result).
 * @return 0; CFG_EIO (unreadable), CFG_ETOOBIG (over CFG_FILE_MAX), or
 *         CFG_EINVALID (errors listed in @p errs).
 */
int cfg_load_file(const char *path, cfg_t *out, cfg_errors_t *errs);

/**
 * Like cfg_load_file() for @p len bytes at @p text, reported as @p name.
 * @return 0, CFG_ETOOBIG or CFG_EINVALID.
 */
int cfg_load_buffer(const char *name, const char *text, size_t len,
                    cfg_t *out, cfg_errors_t *errs);

/** The preset named agents.default (never NULL in a loaded config). */
const cfg_preset_t *cfg_default_preset(const cfg_t *c);

/**
 * One line describing @p c for `ccm config check`: repositories, listen
 * address, data dir, agent preset and mode, alerts, webhooks. Never holds
 * a secret. @return snprintf's count.
 */
int cfg_describe(const cfg_t *c, char *buf, size_t cap);

/* ---- secrets, from the environment ---- */

/* Values of the variables the configuration names; NULL when the name is
 * empty or the variable unset or empty. Owned; cfg_secrets_fini() wipes
 * and frees them. */
typedef struct cfg_secrets {
  char *auth_token;      /* auth_token_env */
  char *github_token;    /* github.token_env */
  char *webhook_secret;  /* github.webhook_secret_env */
  char **webhook_keys;   /* webhooks[i].secret_env, one per webhook */
  size_t nwebhook_keys;
} cfg_secrets_t;

/**
 * Read the environment variables @p c names. Missing variables are errors
 * only where ccm cannot run safely without them: the auth token when
 * listen is not a loopback address (SPEC §5), and a webhook's secret_env
 * that is named but unset. Errors name variables, never values.
 * @param errs  receives the errors (zeroed first; free with
 *              cfg_errors_fini()).
 * @return 0 or CFG_ESECRET; @p out is filled either way (free it).
 */
int cfg_secrets_resolve(const cfg_t *c, cfg_secrets_t *out,
                        cfg_errors_t *errs);

/** Wipe and free the values; leaves @p s zeroed. */
void cfg_secrets_fini(cfg_secrets_t *s);

/** Is @p host a loopback address (127.0.0.0/8, ::1, localhost)? */
bool cfg_host_is_loopback(const char *host);

#ifdef __cplusplus
}
#endif
#endif /* CCM_CONFIG_CONFIG_H */
