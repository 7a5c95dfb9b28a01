/*
 * app_reload.h: `ccm serve` re-reads its configuration on SIGHUP (app/
 * only; docs/operations.md has the operator's view).
 *
 * A reload parses the file again (the one the daemon started with: its
 * --config, else ./ccm.yaml when it exists, else the embedded default).
 * An invalid file is refused: each error is logged (FILE:LINE:COLUMN:
 * message, level error), the running configuration stays, and the
 * refusal is audit-logged. A valid one is compared with the running one
 * section by section, each against the values in effect (a change that
 * needed a restart is reported again by every later reload until the
 * restart; a file put back to what runs reports nothing); each changed
 * section is either applied live, by the
 * hooks registered for it (the log level and format are applied here;
 * agents and priority by the executor's and the prioritizer's hooks,
 * alerts and webhooks by the monitor's, github's stale_days, budget,
 * labels and login by the GitHub actors': app_exec.c, app_prio.c,
 * app_monitor.c, app_github.c, registered in cmd_serve), or reported as
 * needing a restart (listen, data_dir, auth_token_env, github's API,
 * secret variables and interval, monitor, dora: the control plane's
 * socket, the store and the secrets are opened once, and the monitor's
 * periods and DORA settings have no reconfigure path). The reload is audit-logged
 * (who "sighup", what "config.reload", subject the file, input digest the
 * file's SHA-256).
 *
 * Configurations are never freed while the daemon runs: the actors keep
 * pointers into the one they were started with (app_scan.c, app_exec.c),
 * so each loaded cfg_t lives until app_daemon_fini().
 *
 * Main thread only (the signal loop); hooks run there too.
 */
#ifndef APP_APP_RELOAD_H
#define APP_APP_RELOAD_H

#include <stdbool.h>

#include "app/log.h"
#include "config/config.h"
#include "runtime/rt.h"
#include "store/store.h"

/* The sections a reload compares. */
#define APP_SECTION_MAP(XX)                                                 \
  XX(LOG, "log", true)                                                      \
  XX(REPOS, "repos", true)                                                  \
  XX(SCAN, "scan", true)                                                    \
  XX(PRIORITY, "priority", true)                                            \
  XX(AGENTS, "agents", true)                                                \
  XX(LISTEN, "listen", false)                                               \
  XX(DATA_DIR, "data_dir", false)                                           \
  XX(AUTH, "auth_token_env", false)                                         \
  XX(GITHUB, "github", true)                                                \
  XX(ALERTS, "alerts", true)                                                \
  XX(WEBHOOKS, "webhooks", true)                                            \
  XX(MONITOR, "monitor", false)                                             \
  XX(DORA, "dora", false)

typedef enum app_section {
#define APP_SECTION_ENUM(name, key, live) APP_SECTION_##name,
  APP_SECTION_MAP(APP_SECTION_ENUM)
#undef APP_SECTION_ENUM
  APP_SECTION__COUNT
} app_section_t;

/** The config key of @p s ("agents"); "?" when out of range. */
const char *app_section_name(app_section_t s);
/** Can @p s change without a restart (given a hook, or built in)? */
bool app_section_live(app_section_t s);

/**
 * Apply section @p s of @p now (the running one was @p old). @return 0,
 * or non-zero when it could not be applied (then it is logged as needing
 * a restart). @p now outlives the daemon's run.
 */
typedef int (*app_reload_fn)(const cfg_t *old, const cfg_t *now, void *arg);

#define APP_RELOAD_HOOKS_MAX 16

/* What the daemon runs with, and what a reload needs. */
typedef struct app_daemon {
  /* public: set by cmd_serve before the first reload */
  const char *config_arg;    /* --config, or NULL */
  const char *listen_arg;    /* --listen, or NULL */
  const char *data_arg;      /* --data, or NULL */
  const char *log_level_arg; /* --log-level, or NULL */
  store_t *store;            /* for the audit log; borrowed */
  /* read-only */
  cfg_t *cfg;                /* the running configuration */
  unsigned reloads, refused;
  /* private */
  /* per section, the loaded configuration whose values are in effect: a
   * section that needs a restart keeps the one the daemon started with,
   * so the next reload compares against what runs, not what was read */
  const cfg_t *running[APP_SECTION__COUNT];
  cfg_t **loaded;            /* every configuration loaded (owned) */
  size_t nloaded;
  struct {
    app_section_t section;
    app_reload_fn fn;
    void *arg;
  } hooks[APP_RELOAD_HOOKS_MAX];
  size_t nhooks;
} app_daemon_t;

/**
 * Take @p cfg (heap, loaded at start; freed by app_daemon_fini) as the
 * running configuration, register its secrets with the log and apply its
 * log settings (--log-level wins).
 */
void app_daemon_init(app_daemon_t *d, cfg_t *cfg);
/** Free every configuration loaded; @p d is zeroed. */
void app_daemon_fini(app_daemon_t *d);

/** Run @p fn on each reload that changes section @p s. @return 0, or -1
 * when APP_RELOAD_HOOKS_MAX hooks are registered. */
int app_reload_hook(app_daemon_t *d, app_section_t s, app_reload_fn fn,
                    void *arg);

/** The set of sections (bit 1 << section) in which @p a and @p b differ. */
unsigned app_config_diff(const cfg_t *a, const cfg_t *b);

/** Register with the log (app_log_secret_add) the values of the
 * environment variables @p c names as secrets: tokens, webhook keys. */
void app_log_register_secrets(const cfg_t *c);

/** Log each of @p errs (FILE:LINE:COLUMN: message, level error, event
 * config.error), or @p path with cfg_strerror(@p rc) when there is none. */
void app_log_config_errors(const char *path, int rc, const cfg_errors_t *errs);

/** Apply the log settings of @p c, @p level_arg (--log-level) winning. */
void app_log_configure(const cfg_t *c, const char *level_arg);

/**
 * Reload (design note above). @return 0 when the new configuration was
 * taken (some sections may still need a restart: logged), -1 when it was
 * refused (nothing changed).
 */
int app_reload(app_daemon_t *d);

#endif /* APP_APP_RELOAD_H */
