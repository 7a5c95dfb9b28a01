/*
 * cmd_config.c: `ccm config check [FILE] [--env]`: validate a
 * configuration without starting anything.
 *
 * Exit 0 with one summary line on stdout when FILE loads; 1 with every
 * error on stderr (FILE:LINE:COLUMN: message) and a count when it does
 * not; 2 on usage errors. Without FILE it checks ./ccm.yaml. With --env
 * it also reads the environment variables the file names (config/
 * secrets.c) and reports missing ones by name; values are never printed.
 */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "config/config.h"

#define DEFAULT_CONFIG "ccm.yaml"

static const char *const config_help =
    "usage: ccm config check [FILE] [--env]\n"
    "\n"
    "Validates a configuration file (default ./" DEFAULT_CONFIG ") without\n"
    "starting anything: every error is printed as FILE:LINE:COLUMN:\n"
    "message. --env also checks the environment variables the file names\n"
    "(their values are never printed). Keys: docs/config.md.\n"
    "Exit codes: 0 valid, 1 invalid, 2 usage.\n";

typedef struct check_opts {
  const char *file;
  bool env;
  bool help;
} check_opts_t;

static int parse_check(int argc, char **argv, check_opts_t *o)
{
  memset(o, 0, sizeof(*o));
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--env"))
      o->env = true;
    else if (!strcmp(a, "--help") || !strcmp(a, "-h"))
      o->help = true;
    else if (a[0] == '-' && a[1])
      return app_usage_error("config check: unknown option", a);
    else if (o->file)
      return app_usage_error("config check: one file at a time; extra", a);
    else
      o->file = a;
  }
  if (!o->file)
    o->file = DEFAULT_CONFIG;
  return APP_EXIT_OK;
}

static int report_errors(const cfg_errors_t *errs, const char *what)
{
  cfg_errors_print(errs, stderr);
  size_t n = errs->n + errs->dropped;
  fprintf(stderr, "%s: %zu error%s%s\n", errs->file, n, n == 1 ? "" : "s",
          what);
  return APP_EXIT_FAIL;
}

static int check_env(const cfg_t *c)
{
  cfg_secrets_t s;
  cfg_errors_t errs;
  int rc = cfg_secrets_resolve(c, &s, &errs);
  if (rc)
    report_errors(&errs, " in the environment");
  else
    printf("%s: environment ok: auth token %s, GitHub token %s, webhook "
           "secret %s\n", c->source, s.auth_token ? "set" : "unset",
           s.github_token ? "set" : "unset",
           s.webhook_secret ? "set" : "unset");
  cfg_secrets_fini(&s);
  cfg_errors_fini(&errs);
  return rc ? APP_EXIT_FAIL : APP_EXIT_OK;
}

static int config_check(const check_opts_t *o)
{
  cfg_t c;
  cfg_errors_t errs;
  int rc = cfg_load_file(o->file, &c, &errs);
  if (rc) {
    if (rc == CFG_EIO && !strcmp(o->file, DEFAULT_CONFIG))
      fprintf(stderr, "ccm: no ./%s here (without a config file ccm uses "
                      "its embedded default)\n", DEFAULT_CONFIG);
    report_errors(&errs, "");
    cfg_errors_fini(&errs);
    return APP_EXIT_FAIL;
  }
  cfg_errors_fini(&errs);
  char line[512];
  cfg_describe(&c, line, sizeof line);
  printf("%s: ok: %s\n", o->file, line);
  int exit_code = o->env ? check_env(&c) : APP_EXIT_OK;
  cfg_fini(&c);
  return exit_code;
}

int app_cmd_config(int argc, char **argv)
{
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
      !strcmp(argv[1], "help")) {
    fputs(config_help, argc < 2 ? stderr : stdout);
    return argc < 2 ? APP_EXIT_USAGE : APP_EXIT_OK;
  }
  if (strcmp(argv[1], "check"))
    return app_usage_error("config: unknown subcommand", argv[1]);
  check_opts_t o;
  int rc = parse_check(argc, argv, &o);
  if (rc)
    return rc;
  if (o.help) {
    fputs(config_help, stdout);
    return APP_EXIT_OK;
  }
  return config_check(&o);
}
