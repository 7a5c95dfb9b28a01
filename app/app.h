/*
 * app.h: shared bits of the ccm command (app/ only).
 */
#ifndef APP_APP_H
#define APP_APP_H

#include <stdbool.h>
#include <stddef.h>

enum { APP_EXIT_OK = 0, APP_EXIT_FAIL = 1, APP_EXIT_USAGE = 2 };

/* Print "ccm: <what> '<arg>'" and a hint; returns APP_EXIT_USAGE. */
int app_usage_error(const char *what, const char *arg);

/* One option of a command: "--name VALUE" into *value, or, with value
 * NULL, the flag "--name" into *flag. value and flag both NULL: the
 * option is accepted and its value ignored. */
typedef struct app_opt {
  const char *name;
  const char **value;
  bool *flag;
} app_opt_t;

/* Parse argv[first..] against @p opts (ended by a NULL name); the first
 * word that is not an option goes to *positional when it is not NULL.
 * 0, or APP_EXIT_USAGE after saying what is wrong. */
int app_parse_opts(int argc, char **argv, int first, const app_opt_t *opts,
                   const char **positional);

int app_cmd_tasks(int argc, char **argv);
int app_cmd_show(int argc, char **argv);
int app_cmd_status(int argc, char **argv);
int app_cmd_scan(int argc, char **argv);
/* `ccm run TASK`: the running daemon runs it (cmd_run.c, through REST). */
int app_cmd_run(int argc, char **argv);

/* Where a running daemon serves (app_url.c): `ccm serve` publishes its
 * URL in <data dir>/serve.url once it answers and withdraws it when it
 * stops; app_url_read gives it as --listen takes it (HOST:PORT). 0 or
 * -errno. */
int app_url_publish(const char *data_dir, const char *url);
void app_url_withdraw(const char *data_dir);
int app_url_read(const char *data_dir, char *listen, size_t cap);
/* `ccm config check [FILE]` (cmd_config.c); argv[0] is "config". */
int app_cmd_config(int argc, char **argv);

#include <stddef.h>

#include "runtime/actor.h"
#include "config/config.h"
#include "store/store.h"

/* The id of the repository at @p dir: its directory name, lower case,
 * anything outside [a-z0-9._-] turned into '-' ("repo" when empty). */
void app_repo_id_of(const char *dir, char *id, size_t cap);
/* ccm serve: load the configuration (app_config.c); prints its errors.
 * NULL: ./ccm.yaml when present, else the embedded default. */
int app_config_load(const char *path, cfg_t *out);
/* The same for a command that is not the daemon (scan, run): its errors
 * do not say "not starting". */
int app_config_read(const char *path, cfg_t *out);
/* ccm serve: scan the configured repositories at start, every
 * scan_interval and on request (app_scan.c). */
int app_scan_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
                   const cfg_t *cfg);
void app_scan_release(void);
/* After the runtime stopped: free what the scans read to the end (the
 * secrets allowlist). */
void app_scan_fini(void);
/* ccm serve: the executor, dry run by default (app_exec.c). */
int app_exec_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
                   const cfg_t *cfg);
void app_exec_release(void);
/* ccm serve: a SIGHUP reload's new agents section to the executor
 * (an app_reload_fn: 0 when handed over). */
int app_exec_reload(const cfg_t *old, const cfg_t *now, void *arg);
/* ccm serve: the GitHub webhook handler and, with a token, the periodic
 * sync (app_github.c); the actors live until the runtime stops. */
int app_github_start(rt_runtime_t *rt, store_t *store,
                     rt_actor_t *store_actor, const cfg_t *cfg);
/* ccm serve: a reload's github section (an app_reload_fn): stale_days,
 * budget, the labels and login to the sync and webhook actors; -1 (a
 * restart) when the API, the secrets' variables or the interval changed. */
int app_github_reload(const cfg_t *old, const cfg_t *now, void *arg);
/* ccm serve: the prioritizer and GET /api/v1/queue (app_prio.c); after
 * the control plane started. */
int app_prio_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
                   const cfg_t *cfg);
void app_prio_release(void);
/* ccm serve: a reload's new priority or agents section to the
 * prioritizer, which rescores every task (an app_reload_fn). */
int app_prio_reload(const cfg_t *old, const cfg_t *now, void *arg);

#endif /* APP_APP_H */
