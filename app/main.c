/*
 * main.c: the `ccm` command line.
 *
 * Only this folder knows every module: it parses argv, blocks the signals
 * that end the daemon before any thread starts (so every thread inherits
 * the mask and one sigwait() here receives them), starts the runtime, and
 * stops it in order.
 *
 * Commands in this build: serve, version, help. The others of SPEC §3
 * (scan, tasks, show, run, status) are listed by `ccm help` as coming, and
 * exit 2 with a clear message until the modules behind them exist.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/actor.h"
#include "runtime/rt.h"

#define CCM_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

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
    "  version        print the version\n"
    "  help [COMMAND] print this help, or a command's\n"
    "\n"
    "coming with the next issues: scan, tasks, show, run, status\n"
    "exit codes: 0 ok, 1 failure, 2 usage\n";

static const char *const serve_help =
    "usage: ccm serve [--config FILE] [--listen ADDR:PORT] [--data DIR]\n"
    "\n"
    "Runs the daemon until SIGINT or SIGTERM, then stops cleanly.\n"
    "  --config FILE       configuration (default ./ccm.yaml if present)\n"
    "  --listen ADDR:PORT  control plane address (default 127.0.0.1:8080)\n"
    "  --data DIR          state directory (default ./.ccm)\n"
    "In this build the daemon runs the actor runtime only; the scanners,\n"
    "the store and the control plane arrive with their issues.\n";

/* Print "ccm: <what> '<arg>'" and the hint; returns the usage exit code. */
static int usage_error(const char *what, const char *arg)
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
  memset(o, 0, sizeof(*o));
  o->listen = "127.0.0.1:8080";
  o->data = "./.ccm";
  for (int i = 2; i < argc; i++) {
    const char **slot = NULL;
    if (!strcmp(argv[i], "--config"))
      slot = &o->config;
    else if (!strcmp(argv[i], "--listen"))
      slot = &o->listen;
    else if (!strcmp(argv[i], "--data"))
      slot = &o->data;
    else
      return usage_error("serve: unknown option", argv[i]);
    const char *v = option_value(argc, argv, &i);
    if (!v)
      return usage_error("serve: this option needs a value:", argv[i]);
    *slot = v;
  }
  return EXIT_OK;
}

/* Block the stop signals in this thread before any other thread exists. */
static void block_stop_signals(sigset_t *set)
{
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
  sigset_t set;
  block_stop_signals(&set);

  rt_runtime_t *rt = NULL;
  rc = rt_runtime_new(NULL, &rt);
  if (rc) {
    fprintf(stderr, "ccm: cannot start the runtime: %s\n", rt_strerror(rc));
    return EXIT_FAIL;
  }
  char cwd[4096];
  if (!getcwd(cwd, sizeof(cwd)))
    snprintf(cwd, sizeof(cwd), ".");
  fprintf(stderr,
          "ccm: up: runtime with %u workers; repository %s; data %s; "
          "dry-run executor\n"
          "ccm: press Ctrl-C (SIGINT) or send SIGTERM to stop\n",
          rt_runtime_workers(rt), cwd, o.data);
  int sig = wait_stop_signal(&set);
  fprintf(stderr, "ccm: %s received, stopping\n", strsignal(sig));
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  rt_runtime_free(rt);
  fprintf(stderr, "ccm: stopped cleanly\n");
  return EXIT_OK;
}

static int cmd_help(int argc, char **argv)
{
  if (argc > 2 && !strcmp(argv[2], "serve")) {
    fputs(serve_help, stdout);
    return EXIT_OK;
  }
  if (argc > 2 && strcmp(argv[2], "version") && strcmp(argv[2], "help"))
    return usage_error("help: unknown command", argv[2]);
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
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("ccm %s\n", CCM_VERSION);
    return EXIT_OK;
  }
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
    return cmd_help(argc, argv);
  return usage_error("unknown command", cmd);
}
