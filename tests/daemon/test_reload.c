/*
 * test_reload.c: the reload logic of `ccm serve` (app/app_reload.c),
 * without a daemon: the section diff, the hooks, refusals.
 *
 * Contract checked: app_config_diff() names exactly the sections that
 * differ; a reload runs the hooks of the changed sections only, with the
 * running and the new configuration, then takes the new one; a hook that
 * fails leaves its section "needing a restart" but the reload still
 * applies the rest; an invalid file changes nothing (the running cfg_t,
 * its counters and hooks untouched); --listen and --data from the
 * command line keep winning; every reload (applied or refused) adds an
 * audit entry when a store is attached; each section is compared with the
 * values in effect, so a change that needs a restart is reported by every
 * reload until then while live changes beside it apply.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app_reload.h"
#include "tests/support/store_test.h"

TestSuite(reload, .timeout = 60);

static cfg_t *load_text(const char *text)
{
  cfg_t *c = calloc(1, sizeof *c);
  cfg_errors_t e;
  int rc = cfg_load_buffer("t.yaml", text, strlen(text), c, &e);
  cr_assert_eq(rc, 0, "%s", e.n ? e.v[0].message : "?");
  cfg_errors_fini(&e);
  return c;
}

#define BASE                                                                 \
  "listen: 127.0.0.1:8080\n"                                                 \
  "repos:\n  - path: /srv/a\n"                                               \
  "agents:\n  dry_run: true\n"                                               \
  "priority:\n  weights: {value: 1, time_criticality: 1, risk_reduction: 1, " \
  "job_size: 1}\n"

Test(reload, the_diff_names_exactly_the_sections_that_differ)
{
  cfg_t *a = load_text(BASE);
  cfg_t *same = load_text(BASE);
  cfg_t *b = load_text(
      "listen: 127.0.0.1:9090\n"
      "repos:\n  - path: /srv/a\n    scan_interval: 1m\n"
      "agents:\n  dry_run: false\n"
      "priority:\n  weights: {value: 2, time_criticality: 1, "
      "risk_reduction: 1, job_size: 1}\n"
      "log:\n  level: debug\n");
  cr_assert_eq(app_config_diff(a, same), 0u);
  unsigned want = 1u << APP_SECTION_LISTEN | 1u << APP_SECTION_REPOS |
                  1u << APP_SECTION_AGENTS | 1u << APP_SECTION_PRIORITY |
                  1u << APP_SECTION_LOG;
  cr_assert_eq(app_config_diff(a, b), want, "got %#x", app_config_diff(a, b));
  cr_assert_str_eq(app_section_name(APP_SECTION_AGENTS), "agents");
  cr_assert(app_section_live(APP_SECTION_SCAN));
  cr_assert_not(app_section_live(APP_SECTION_LISTEN));
  cfg_t *v[] = {a, same, b};
  for (size_t i = 0; i < 3; i++) {
    cfg_fini(v[i]);
    free(v[i]);
  }
}

typedef struct calls {
  int n;
  int rc;
  bool old_dry, new_dry;
} calls_t;

static int agents_hook(const cfg_t *old, const cfg_t *now, void *arg)
{
  calls_t *c = arg;
  c->n++;
  c->old_dry = old->agents.dry_run;
  c->new_dry = now->agents.dry_run;
  return c->rc;
}

static char cfg_path[256];

static void write_cfg(const char *text)
{
  FILE *f = fopen(cfg_path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

static void quiet_log(void)
{
  int fd = open("/dev/null", O_WRONLY);
  app_log_set_fd(fd); /* closed at exit: the log may write until then */
}

Test(reload, hooks_of_changed_sections_run_and_the_new_config_is_taken)
{
  quiet_log();
  snprintf(cfg_path, sizeof cfg_path, "/tmp/ccm-reload-%d.yaml", getpid());
  write_cfg(BASE);
  app_daemon_t d = {.config_arg = cfg_path};
  app_daemon_init(&d, load_text(BASE));
  calls_t agents = {0}, scan = {0};
  cr_assert_eq(app_reload_hook(&d, APP_SECTION_AGENTS, agents_hook, &agents),
               0);
  cr_assert_eq(app_reload_hook(&d, APP_SECTION_SCAN, agents_hook, &scan), 0);
  const cfg_t *before = d.cfg;

  write_cfg("repos:\n  - path: /srv/a\nagents:\n  dry_run: false\n");
  cr_assert_eq(app_reload(&d), 0);
  cr_assert_eq(agents.n, 1);
  cr_assert(agents.old_dry && !agents.new_dry, "old then new");
  cr_assert_eq(scan.n, 0, "scan did not change: its hook does not run");
  cr_assert_neq(d.cfg, before);
  cr_assert_not(d.cfg->agents.dry_run);
  cr_assert_eq(d.reloads, 1);

  /* Invalid: nothing changes, no hook runs. */
  const cfg_t *running = d.cfg;
  write_cfg("agents:\n  dry_run: maybe\n");
  cr_assert_eq(app_reload(&d), -1);
  cr_assert_eq(d.cfg, running);
  cr_assert_eq(agents.n, 1);
  cr_assert_eq(d.refused, 1);

  /* A failing hook: the reload still takes the file. */
  agents.rc = -1;
  write_cfg("repos:\n  - path: /srv/a\nagents:\n  dry_run: true\n");
  cr_assert_eq(app_reload(&d), 0);
  cr_assert_eq(agents.n, 2);
  cr_assert(d.cfg->agents.dry_run);
  cr_assert_eq(d.reloads, 2);
  app_daemon_fini(&d);
  unlink(cfg_path);
}

/* The log records of the reloads run since the last call. */
static char *reload_log(int fd)
{
  static char buf[16384];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  cr_assert_geq(n, 0);
  buf[n] = '\0';
  cr_assert_eq(ftruncate(fd, 0), 0);
  lseek(fd, 0, SEEK_SET);
  return buf;
}

/* A restart-only change stays "needs restart" on every reload until the
 * restart (the comparison is with what runs, not with the file read last
 * time); live changes beside it still apply; a file put back to what runs
 * changes nothing. */
Test(reload, a_change_needing_a_restart_is_reported_until_the_restart)
{
  char logp[] = "/tmp/ccm-reload-log-XXXXXX";
  int fd = mkstemp(logp);
  cr_assert_geq(fd, 0);
  unlink(logp);
  app_log_set_fd(fd);
  snprintf(cfg_path, sizeof cfg_path, "/tmp/ccm-reload-r-%d.yaml", getpid());
  write_cfg(BASE);
  app_daemon_t d = {.config_arg = cfg_path};
  app_daemon_init(&d, load_text(BASE));
  calls_t agents = {.rc = -1}; /* the executor cannot take this one live */
  cr_assert_eq(app_reload_hook(&d, APP_SECTION_AGENTS, agents_hook, &agents),
               0);
  const char *moved =
      "listen: 127.0.0.1:9090\n"
      "repos:\n  - path: /srv/a\n"
      "agents:\n  dry_run: false\n"
      "priority:\n  weights: {value: 1, time_criticality: 1, "
      "risk_reduction: 1, job_size: 1}\n";
  write_cfg(moved);
  cr_assert_eq(app_reload(&d), 0);
  char *log = reload_log(fd);
  cr_assert(strstr(log, "applied=- needs_restart=agents,listen"), "%s", log);

  /* The same file again: still not running, so said again; the hook is
   * asked again, with the values that run. */
  cr_assert_eq(app_reload(&d), 0);
  log = reload_log(fd);
  cr_assert(strstr(log, "applied=- needs_restart=agents,listen"), "%s", log);
  cr_assert_eq(agents.n, 2);
  cr_assert(agents.old_dry && !agents.new_dry, "compared with what runs");

  /* A live change beside them is applied. */
  char text[512];
  snprintf(text, sizeof text, "%slog:\n  level: debug\n", moved);
  write_cfg(text);
  cr_assert_eq(app_reload(&d), 0);
  log = reload_log(fd);
  cr_assert(strstr(log, "applied=log needs_restart=agents,listen"), "%s",
            log);
  cr_assert_eq(app_log_get_level(), APP_LOG_DEBUG);

  /* Back to what runs (the log level included): nothing to do. */
  cr_assert_eq(agents.n, 3);
  write_cfg(BASE "log:\n  level: debug\n");
  cr_assert_eq(app_reload(&d), 0);
  log = reload_log(fd);
  cr_assert(strstr(log, "applied=- needs_restart=-"), "%s", log);
  cr_assert_eq(agents.n, 3, "agents as they run: no hook");
  app_log_set_fd(-1);
  app_log_set_level(APP_LOG_INFO);
  close(fd);
  app_daemon_fini(&d);
  unlink(cfg_path);
}

Test(reload, command_line_overrides_keep_winning)
{
  quiet_log();
  snprintf(cfg_path, sizeof cfg_path, "/tmp/ccm-reload-o-%d.yaml", getpid());
  write_cfg(BASE);
  app_daemon_t d = {.config_arg = cfg_path, .listen_arg = "127.0.0.1:0",
                    .data_arg = "/var/lib/x"};
  cfg_t *first = load_text(BASE);
  free(first->data_dir);
  first->data_dir = strdup("/var/lib/x"); /* as cmd_serve does */
  app_daemon_init(&d, first);
  write_cfg("listen: 127.0.0.1:7070\ndata_dir: /elsewhere\n"
            "repos:\n  - path: /srv/a\n"
            "agents:\n  dry_run: true\n");
  cr_assert_eq(app_reload(&d), 0);
  cr_assert_str_eq(d.cfg->data_dir, "/var/lib/x", "--data wins");
  app_daemon_fini(&d);
  unlink(cfg_path);
}

static int collect(const json_t *e, void *arg)
{
  json_array_append(arg, (json_t *)e);
  return 0;
}

Test(reload, each_reload_is_audited)
{
  quiet_log();
  char *dir = tst_tmpdir();
  store_t *s = tst_store_open(dir, NULL);
  snprintf(cfg_path, sizeof cfg_path, "%s/ccm.yaml", dir);
  write_cfg(BASE);
  app_daemon_t d = {.config_arg = cfg_path, .store = s};
  app_daemon_init(&d, load_text(BASE));
  cr_assert_eq(app_reload(&d), 0);
  write_cfg("listen: [\n");
  cr_assert_eq(app_reload(&d), -1);
  json_t *seen = json_array();
  cr_assert_eq(store_audit_foreach(s, 0, collect, seen), 0);
  cr_assert_eq(json_array_size(seen), 2);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(seen, 0),
                                                     "what")),
                   "config.reload_refused");
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(seen, 1),
                                                     "what")),
                   "config.reload");
  json_decref(seen);
  app_daemon_fini(&d);
  store_close(s);
  tst_rmrf(dir);
  free(dir);
}

Test(reload, mappings_monitor_and_dora_changes_are_detected)
{
  cfg_t *a = load_text(BASE);
  cfg_t *b = load_text(BASE "  kinds:\n    todo: {value: 7}\n"
                       "monitor:\n  stuck_samples: 9\n"
                       "dora:\n  deployments: tags\n");
  unsigned want = 1u << APP_SECTION_PRIORITY | 1u << APP_SECTION_MONITOR |
                  1u << APP_SECTION_DORA;
  cr_assert_eq(app_config_diff(a, b), want, "got %#x", app_config_diff(a, b));
  cr_assert_str_eq(app_section_name(APP_SECTION_DORA), "dora");
  cr_assert_not(app_section_live(APP_SECTION_MONITOR), "restart only");
  cr_assert_not(app_section_live(APP_SECTION_DORA), "restart only");
  cr_assert(app_section_live(APP_SECTION_PRIORITY));
  cfg_fini(a), free(a), cfg_fini(b), free(b);
}
