/*
 * main.c: the `ccm` command line.
 *
 * Only this folder knows every module: it parses argv, blocks the signals
 * that end the daemon before any thread starts (so every thread inherits
 * the mask and one sigwait() here receives them), starts the runtime, and
 * stops it in order.
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
#include <unistd.h>

#include "app/app.h"
#include "app/app_web.h"
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
} serve_opts_t;

static const char *const usage_text =
    "usage: ccm <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [--config FILE] [--listen ADDR:PORT] [--data DIR]\n"
    "                 run the daemon (default: this repository, state in\n"
    "                 ./.ccm/, 127.0.0.1:8080, dry-run executor)\n"
    "  tasks [--state S] [--repo R] [--kind K] [--json] [--data DIR]\n"
    "                 list stored tasks, best first (read-only)\n"
    "  show TASK [--json] [--data DIR]\n"
    "                 one task with its score and history\n"
    "  status [--data DIR]\n"
    "                 store counts by state\n"
    "  scan [PATH...] [--json] [options]\n"
    "                 scan once and print the ranked tasks (no state)\n"
    "  config check [FILE] [--env]\n"
    "                 validate a config file (default ./ccm.yaml)\n"
    "  version        print the version\n"
    "  help [COMMAND] print this help, or a command's\n"
    "\n"
    "coming with the next issues: run\n"
    "exit codes: 0 ok, 1 failure, 2 usage\n";

static const char *const serve_help =
    "usage: ccm serve [--config FILE] [--listen ADDR:PORT] [--data DIR]\n"
    "\n"
    "Runs the daemon until SIGINT or SIGTERM, then stops cleanly.\n"
    "  --config FILE       configuration (default ./ccm.yaml if present)\n"
    "  --listen ADDR:PORT  control plane address (default 127.0.0.1:8080)\n"
    "  --data DIR          state directory (default ./.ccm)\n"
    "In this build the daemon runs the actor runtime, the store (it\n"
    "creates DIR/ccm.lmdb) and the control plane (REST, /metrics, /ws; a\n"
    "bearer token is required when CCM_TOKEN is set); scanners and the\n"
    "executor arrive with their issues.\n";

int app_usage_error(const char *what, const char *arg)
{
  fprintf(stderr, "ccm: %s '%s'\nTry 'ccm help'.\n", what, arg);
  return EXIT_USAGE;
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
    else
      return app_usage_error("serve: unknown option", argv[i]);
    const char *v = option_value(argc, argv, &i);
    if (!v)
      return app_usage_error("serve: this option needs a value:", argv[i]);
    *slot = v;
  }
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
  sigemptyset(set);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, set, NULL);
}

static int wait_stop_signal(const sigset_t *set)
{
  int sig = 0;
  while (sigwait(set, &sig) != 0)
    ;
  return sig;
}

static int cmd_serve(int argc, char **argv)
{
  serve_opts_t o;
  int rc = parse_serve(argc, argv, &o);
  if (rc)
    return rc;
  cfg_t cfg;
  if (app_config_load(o.config, &cfg) != 0)
    return EXIT_FAIL;
  if (!o.listen)
    o.listen = cfg.listen.text;
  if (!o.data)
    o.data = cfg.data_dir;
  else {
    free(cfg.data_dir); /* --data wins; the executor's worktrees follow */
    cfg.data_dir = strdup(o.data);
  }
  sigset_t set;
  block_stop_signals(&set);

  store_t *store = NULL;
  char err[512];
  rc = store_open(o.data, NULL, &store, err, sizeof(err));
  if (rc) {
    fprintf(stderr, "ccm: cannot open the store: %s\n", err);
    cfg_fini(&cfg);
    return EXIT_FAIL;
  }
  rt_runtime_t *rt = NULL;
  rt_actor_t *store_actor = NULL;
  rc = rt_runtime_new(NULL, &rt);
  if (!rc)
    rc = store_actor_spawn(rt, store, "store", &store_actor);
  if (rc) {
    fprintf(stderr, "ccm: cannot start the runtime: %s\n", rt_strerror(rc));
    rt_runtime_free(rt);
    store_close(store);
    cfg_fini(&cfg);
    return EXIT_FAIL;
  }
  web_t *web = NULL;
  if (app_scan_start(rt, store, store_actor, &cfg) ||
      app_exec_start(rt, store, store_actor, &cfg) ||
      app_web_start(rt, store, store_actor, o.listen, &cfg, &web)) {
    app_scan_release();
    app_exec_release();
    cfg_fini(&cfg);
    rt_actor_release(store_actor);
    rt_runtime_free(rt);
    store_close(store);
    return EXIT_FAIL;
  }
  char cwd[4096];
  if (!getcwd(cwd, sizeof(cwd)))
    snprintf(cwd, sizeof(cwd), ".");
  fprintf(stderr,
          "ccm: up: runtime with %u workers; repository %s; store %s/%s "
          "(schema %u); dry-run executor\n"
          "ccm: press Ctrl-C (SIGINT) or send SIGTERM to stop\n",
          rt_runtime_workers(rt), cwd, o.data, STORE_FILE,
          STORE_SCHEMA_VERSION);
  int sig = wait_stop_signal(&set);
  fprintf(stderr, "ccm: %s received, stopping\n", strsignal(sig));
  web_stop(web); /* before the runtime: it closes clients, stops its actor */
  app_scan_release();
  app_exec_release();
  rt_actor_release(store_actor);
  /* DRAIN: writes already queued are committed before the store closes. */
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  rt_runtime_free(rt);
  store_close(store);
  cfg_fini(&cfg);
  fprintf(stderr, "ccm: stopped cleanly\n");
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
