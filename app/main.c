/*
 * main.c: the `ccm` command line.
 *
 * Only this folder knows every module: it parses argv, blocks the signals
 * the daemon waits for (SIGINT, SIGTERM: stop; SIGHUP: reload the
 * configuration, app_reload.c) before any thread starts (so every thread
 * inherits the mask and one sigtimedwait() here receives them), starts
 * the runtime, and stops it in order. The same loop tells systemd where
 * the daemon is (READY, RELOADING, STOPPING, watchdog pings:
 * app_systemd.c). `ccm serve` logs through app/log.h (logfmt or JSON
 * lines on stderr, registered secrets redacted).
 *
 * Commands in this build: serve, tasks, show, status, scan, config,
 * version, help. The others of SPEC §3 (run) are listed by `ccm help` as
 * coming, and exit 2 with a clear message until the modules behind them
 * exist.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "app/app_monitor.h"
#include "app/app_audit.h"
#include "app/app_reload.h"
#include "app/app_systemd.h"
#include "app/app_web.h"
#include "app/log.h"
#include "runtime/actor.h"
#include "runtime/rt.h"
#include "store/store.h"
#include "store/store_actor.h"

#define CCM_VERSION "0.1.0"

enum { EXIT_OK = APP_EXIT_OK, EXIT_FAIL = APP_EXIT_FAIL,
       EXIT_USAGE = APP_EXIT_USAGE };

typedef struct serve_opts {
  const char *config;
  const char *listen;
  const char *data;
  const char *log_level;
} serve_opts_t;

static const char *const usage_text =
    "usage: ccm <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [--config FILE] [--listen ADDR:PORT] [--data DIR]\n"
    "        [--log-level LEVEL]\n"
    "                 run the daemon (default: this repository, state in\n"
    "                 ./.ccm/, 127.0.0.1:8080, dry-run executor)\n"
    "  tasks [--state S] [--repo R] [--kind K] [--json] [--data DIR]\n"
    "                 list stored tasks, best first (read-only)\n"
    "  show TASK [--json] [--data DIR]\n"
    "                 one task with its score and history\n"
    "  status [--data DIR]\n"
    "                 store counts by state\n"
    "  run TASK [--listen ADDR:PORT] [--config FILE] [--json]\n"
    "                 ask the running daemon to run a task now\n"
    "  scan [PATH...] [--json] [options]\n"
    "                 scan once and print the ranked tasks (no state)\n"
    "  config check [FILE] [--env]\n"
    "                 validate a config file (default ./ccm.yaml)\n"
    "  version        print the version\n"
    "  help [COMMAND] print this help, or a command's\n"
    "\n"
    "exit codes: 0 ok, 1 failure, 2 usage\n";

static const char *const serve_help =
    "usage: ccm serve [--config FILE] [--listen ADDR:PORT] [--data DIR]\n"
    "                 [--log-level debug|info|warn|error]\n"
    "\n"
    "Runs the daemon until SIGINT or SIGTERM, then stops cleanly; SIGHUP\n"
    "re-reads the configuration (an invalid one is refused and the running\n"
    "one kept).\n"
    "  --config FILE       configuration (default ./ccm.yaml if present)\n"
    "  --listen ADDR:PORT  control plane address (default 127.0.0.1:8080)\n"
    "  --data DIR          state directory (default ./.ccm)\n"
    "  --log-level LEVEL   log records at LEVEL and above (default: the\n"
    "                      config's log.level, else info)\n"
    "The log goes to stderr, one record per line (logfmt, or JSON lines\n"
    "with log.format: json). Under systemd (Type=notify) it reports\n"
    "READY, RELOADING, STOPPING and watchdog pings; see\n"
    "docs/operations.md and packaging/ccm.service.\n";

int app_usage_error(const char *what, const char *arg)
{
  fprintf(stderr, "ccm: %s '%s'\nTry 'ccm help'.\n", what, arg);
  return EXIT_USAGE;
}

static const app_opt_t *opt_named(const app_opt_t *opts, const char *a)
{
  for (; opts->name; opts++)
    if (!strcmp(opts->name, a))
      return opts;
  return NULL;
}

int app_parse_opts(int argc, char **argv, int first, const app_opt_t *opts,
                   const char **positional)
{
  for (int i = first; i < argc; i++) {
    const app_opt_t *o = opt_named(opts, argv[i]);
    if (!o && positional && !*positional && argv[i][0] != '-') {
      *positional = argv[i];
      continue;
    }
    if (!o)
      return app_usage_error("unknown option", argv[i]);
    if (o->flag) {
      *o->flag = true;
      continue;
    }
    if (i + 1 >= argc)
      return app_usage_error("this option needs a value:", argv[i]);
    i++;
    if (o->value)
      *o->value = argv[i];
  }
  return 0;
}

/* Take the value of an option like --listen; NULL when it is missing. */
static const char *option_value(int argc, char **argv, int *i)
{
  if (*i + 1 >= argc)
    return NULL;
  return argv[++*i];
}

static int parse_serve(int argc, char **argv, serve_opts_t *o)
{
  memset(o, 0, sizeof(*o)); /* NULLs: taken from the configuration */
  for (int i = 2; i < argc; i++) {
    const char **slot = NULL;
    if (!strcmp(argv[i], "--config"))
      slot = &o->config;
    else if (!strcmp(argv[i], "--listen"))
      slot = &o->listen;
    else if (!strcmp(argv[i], "--data"))
      slot = &o->data;
    else if (!strcmp(argv[i], "--log-level"))
      slot = &o->log_level;
    else
      return app_usage_error("serve: unknown option", argv[i]);
    const char *v = option_value(argc, argv, &i);
    if (!v)
      return app_usage_error("serve: this option needs a value:", argv[i]);
    *slot = v;
  }
  app_log_level_t lvl;
  if (o->log_level && app_log_level_parse(o->log_level, &lvl))
    return app_usage_error("serve: --log-level must be debug, info, warn or "
                           "error, not", o->log_level);
  return EXIT_OK;
}

/* Block the stop signals in this thread before any other thread exists. */
static void block_stop_signals(sigset_t *set)
{
  /* A shell starts background jobs with SIGINT ignored, and an ignored
   * signal is discarded even while blocked: take the default back so that
   * sigwait() sees it. */
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL); /* under nohup too: SIGHUP means reload here */
  sigemptyset(set);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* The next of the blocked signals, or 0 when @p timeout_ms (0: none)
 * passed first. */
static int next_signal(const sigset_t *set, uint64_t timeout_ms)
{
  struct timespec ts = {.tv_sec = (time_t)(timeout_ms / 1000),
                        .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
  for (;;) {
    int sig = timeout_ms ? sigtimedwait(set, NULL, &ts) : sigwaitinfo(set, NULL);
    if (sig > 0)
      return sig;
    if (errno == EAGAIN)
      return 0;
    /* EINTR: a signal outside the set (e.g. SIGCHLD) interrupted; wait on. */
  }
}

typedef struct serve_run {
  app_daemon_t d;
  store_t *store;
  rt_runtime_t *rt;
  rt_actor_t *store_actor;
  web_t *web;
  char url[320];
  app_auditor_t audit;
} serve_run_t;

/* Blocking threads: git jobs (worktrees, commits, churn, scans), store
 * commits and GitHub requests share them, and each running agent's run
 * keeps git work in flight: agents.concurrency + 2, at least 4. Sized at
 * start; a reload that raises the concurrency shares these. */
static unsigned blocking_threads_for(const cfg_t *cfg)
{
  unsigned n = cfg->agents.concurrency + 2;
  return n < 4 ? 4 : n;
}

/* The sections the actors take live on SIGHUP (app_reload.h). */
static void register_reload_hooks(app_daemon_t *d)
{
  app_reload_hook(d, APP_SECTION_AGENTS, app_exec_reload, NULL);
  app_reload_hook(d, APP_SECTION_AGENTS, app_prio_reload, NULL);
  app_reload_hook(d, APP_SECTION_PRIORITY, app_prio_reload, NULL);
  app_reload_hook(d, APP_SECTION_ALERTS, app_monitor_reload, NULL);
  app_reload_hook(d, APP_SECTION_WEBHOOKS, app_monitor_reload, NULL);
  app_reload_hook(d, APP_SECTION_GITHUB, app_github_reload, NULL);
}

/* Say what opening the store did after an unclean stop (its journal:
 * store/README.md, "Durable commits"). */
static void log_store_recovery(const store_t *s)
{
  store_recovery_t rec = store_recovery(s);
  char n[32];
  snprintf(n, sizeof n, "%u", rec.replayed);
  if (rec.dropped_foreign)
    app_log_kv(APP_LOG_WARN, "store.journal_dropped",
               "the journal beside the store belongs to another copy of it; "
               "not used", NULL);
  else if (rec.restored)
    app_log_kv(APP_LOG_WARN, "store.recovered",
               "recovered the store after a system crash: back to its last "
               "checkpoint, then the journal replayed", "records", n, NULL);
  else if (rec.unclean)
    app_log_kv(APP_LOG_INFO, "store.recovered",
               "the last run did not stop cleanly; the store is whole",
               NULL);
}

/* Start the runtime and the actors; 0, or EXIT_FAIL with what started
 * stopped again (logged). */
static int serve_start(serve_run_t *r, const char *listen, const char *data)
{
  const cfg_t *cfg = r->d.cfg;
  char err[512];
  int rc = store_open(data, NULL, &r->store, err, sizeof(err));
  if (rc) {
    app_log_kv(APP_LOG_ERROR, "store.open_failed", "cannot open the store",
               "error", err, NULL);
    return EXIT_FAIL;
  }
  r->d.store = r->store;
  log_store_recovery(r->store);
  app_auditor_init(&r->audit, r->store); /* from the stored cursor */
  rt_config_t rtc;
  rt_config_defaults(&rtc);
  rtc.blocking_threads = blocking_threads_for(cfg);
  rc = rt_runtime_new(&rtc, &r->rt);
  if (!rc)
    rc = store_actor_spawn(r->rt, r->store, "store", &r->store_actor);
  if (rc) {
    app_log_kv(APP_LOG_ERROR, "runtime.start_failed",
               "cannot start the runtime", "error", rt_strerror(rc), NULL);
  } else if (app_scan_start(r->rt, r->store, r->store_actor, cfg) ||
             app_exec_start(r->rt, r->store, r->store_actor, cfg) ||
             app_github_start(r->rt, r->store, r->store_actor, cfg) ||
             app_web_start(r->rt, r->store, r->store_actor, listen, cfg,
                           &r->web, r->url, sizeof r->url) ||
             app_prio_start(r->rt, r->store, r->store_actor, cfg) ||
             app_monitor_start(r->rt, r->store, r->store_actor, cfg,
                               r->web)) {
    app_monitor_stop();
    app_scan_release();
    app_exec_release();
    app_prio_release();
    app_monitor_release();
    rc = EXIT_FAIL;
  }
  if (rc) {
    rt_actor_release(r->store_actor);
    rt_runtime_free(r->rt);
    app_scan_fini();
    store_close(r->store);
    return EXIT_FAIL;
  }
  return 0;
}

static void serve_stop(serve_run_t *r)
{
  app_monitor_stop(); /* before web_stop: it publishes there */
  web_stop(r->web); /* before the runtime: it closes clients, stops its actor */
  app_scan_release();
  app_exec_release();
  app_prio_release();
  rt_actor_release(r->store_actor);
  /* DRAIN: writes already queued are committed before the store closes. */
  rt_runtime_shutdown(r->rt, RT_SHUTDOWN_DRAIN);
  rt_runtime_free(r->rt);
  app_monitor_release();
  app_scan_fini();
  store_close(r->store);
}

/* How often the auditor reads the event log (app_audit.h): an action is
 * in the audit log about a second after its event. */
#define AUDIT_POLL_MS 1000

static uint64_t monotonic_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* WATCHDOG=1 while the store's writer lives: a daemon that cannot write
 * is restarted by systemd rather than kept half alive. */
static void watchdog_ping(serve_run_t *r)
{
  if (!rt_actor_stopped(r->store_actor))
    app_sd_watchdog();
  else
    app_log(APP_LOG_ERROR, "watchdog.unhealthy",
            "the store writer stopped: no watchdog ping");
}

static void reload(serve_run_t *r)
{
  char status[400];
  app_sd_reloading("reloading the configuration");
  int rc = app_reload(&r->d);
  snprintf(status, sizeof status, "serving on %s; reload %u %s", r->url,
           r->d.reloads + r->d.refused, rc ? "refused" : "applied");
  app_sd_ready(status);
}

/* Serve until a stop signal: reload on SIGHUP, ping the watchdog every
 * half WATCHDOG_USEC, audit the actors' actions every AUDIT_POLL_MS.
 * @return the stop signal. */
static int serve_loop(serve_run_t *r, const sigset_t *set)
{
  uint64_t wd_ms = app_sd_watchdog_interval_ms(), now = monotonic_ms();
  uint64_t next_ping = now + wd_ms, next_audit = now + AUDIT_POLL_MS;
  char status[400];
  snprintf(status, sizeof status, "serving on %s", r->url);
  app_sd_ready(status);
  for (;;) {
    now = monotonic_ms();
    if (wd_ms && now >= next_ping) {
      watchdog_ping(r);
      next_ping = now + wd_ms;
    }
    if (now >= next_audit) {
      app_auditor_poll(&r->audit);
      next_audit = now + AUDIT_POLL_MS;
    }
    uint64_t until = wd_ms && next_ping < next_audit ? next_ping : next_audit;
    int sig = next_signal(set, until > now ? until - now : 1);
    if (sig == SIGHUP) {
      reload(r);
    } else if (sig) {
      app_auditor_poll(&r->audit); /* the rest: at the next start */
      return sig;
    }
  }
}

static int cmd_serve(int argc, char **argv)
{
  serve_run_t r = {0};
  serve_opts_t o;
  int rc = parse_serve(argc, argv, &o);
  if (rc)
    return rc;
  cfg_t *cfg = calloc(1, sizeof *cfg);
  if (!cfg || app_config_load(o.config, cfg) != 0) {
    free(cfg);
    return EXIT_FAIL;
  }
  if (!o.listen)
    o.listen = cfg->listen.text;
  if (!o.data)
    o.data = cfg->data_dir;
  else {
    free(cfg->data_dir); /* --data wins; the executor's worktrees follow */
    cfg->data_dir = strdup(o.data);
  }
  r.d = (app_daemon_t){.config_arg = o.config, .log_level_arg = o.log_level};
  r.d.listen_arg = o.listen != cfg->listen.text ? o.listen : NULL;
  r.d.data_arg = o.data != cfg->data_dir ? o.data : NULL;
  app_daemon_init(&r.d, cfg); /* registers the secrets with the log */
  sigset_t set;
  block_stop_signals(&set);
  if (serve_start(&r, o.listen, o.data)) {
    app_daemon_fini(&r.d);
    return EXIT_FAIL;
  }
  register_reload_hooks(&r.d);
  int urc = app_url_publish(o.data, r.url); /* for ccm run */
  if (urc)
    app_log_kv(APP_LOG_WARN, "serve.url_unpublished",
               "cannot write serve.url in the data directory: ccm run will "
               "need --listen", "error", strerror(-urc), NULL);
  char cwd[4096];
  if (!getcwd(cwd, sizeof(cwd)))
    snprintf(cwd, sizeof(cwd), ".");
  char workers[16], schema[16];
  snprintf(workers, sizeof workers, "%u", rt_runtime_workers(r.rt));
  snprintf(schema, sizeof schema, "%u", STORE_SCHEMA_VERSION);
  app_log_kv(APP_LOG_INFO, "serve.up",
             "ccm is up: Ctrl-C (SIGINT) or SIGTERM stops it, SIGHUP "
             "reloads the configuration", "version", CCM_VERSION, "workers",
             workers, "cwd", cwd, "data", o.data, "schema", schema,
             "config", r.d.cfg->source, "dry_run",
             r.d.cfg->agents.dry_run ? "true" : "false", NULL);
  int sig = serve_loop(&r, &set);
  app_sd_stopping("stopping");
  app_log_kv(APP_LOG_INFO, "serve.stopping", "stop signal received",
             "signal", strsignal(sig), NULL);
  app_url_withdraw(o.data);
  serve_stop(&r);
  app_log(APP_LOG_INFO, "serve.stopped", "stopped cleanly");
  app_daemon_fini(&r.d);
  app_log_secrets_clear();
  return EXIT_OK;
}

static int cmd_help(int argc, char **argv)
{
  if (argc > 2 && !strcmp(argv[2], "serve")) {
    fputs(serve_help, stdout);
    return EXIT_OK;
  }
  if (argc > 2 && !strcmp(argv[2], "config")) {
    char *config_argv[] = {argv[2], (char *)"--help", NULL};
    return app_cmd_config(2, config_argv);
  }
  if (argc > 2 && !strcmp(argv[2], "run")) {
    char *run_argv[] = {argv[0], argv[2], (char *)"--help", NULL};
    return app_cmd_run(3, run_argv);
  }
  if (argc > 2 && !strcmp(argv[2], "scan")) {
    char *scan_argv[] = {argv[2], (char *)"--help", NULL};
    return app_cmd_scan(2, scan_argv);
  }
  static const char *const known[] = {"version", "help", "tasks", "show",
                                       "status"};
  bool found = argc <= 2;
  for (size_t i = 0; !found && i < sizeof(known) / sizeof(known[0]); i++)
    found = !strcmp(argv[2], known[i]);
  if (!found)
    return app_usage_error("help: unknown command", argv[2]);
  fputs(usage_text, stdout);
  return EXIT_OK;
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fputs(usage_text, stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "serve"))
    return cmd_serve(argc, argv);
  if (!strcmp(cmd, "tasks"))
    return app_cmd_tasks(argc, argv);
  if (!strcmp(cmd, "show"))
    return app_cmd_show(argc, argv);
  if (!strcmp(cmd, "status"))
    return app_cmd_status(argc, argv);
  if (!strcmp(cmd, "scan"))
    return app_cmd_scan(argc - 1, argv + 1);
  if (!strcmp(cmd, "run"))
    return app_cmd_run(argc, argv);
  if (!strcmp(cmd, "config"))
    return app_cmd_config(argc - 1, argv + 1);
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("ccm %s\n", CCM_VERSION);
    return EXIT_OK;
  }
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
    return cmd_help(argc, argv);
  return app_usage_error("unknown command", cmd);
}
