/*
 * test_config_cli.c: `ccm config check` (app/cmd_config.c), run as the
 * real binary (CCM_BIN).
 *
 * Contract checked: a valid file exits 0 with one summary line on stdout
 * and nothing on stderr; a broken one exits 1 with every error as
 * FILE:LINE:COLUMN: message on stderr and a count; without FILE it checks
 * ./ccm.yaml (exit 1 with a hint when there is none); usage errors exit
 * 2; --env reports a missing variable by name and exits 1, and once the
 * variable is set exits 0 without printing its value.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/config/cfg_test.h"
#include "tests/support/store_test.h"

TestSuite(config_cli, .timeout = 120);

typedef struct run {
  int rc;
  char *out, *err;
} run_t;

/* ccm config ARGS... (NULL-terminated), bounded at 30 s. */
static run_t ccm_config(const char *a1, const char *a2, const char *a3)
{
  char *argv[] = {(char *)tst_prog("CCM_BIN"), "config", (char *)a1,
                  (char *)a2, (char *)a3, NULL};
  run_t r;
  r.rc = tst_run(argv, 30000, &r.out, &r.err);
  return r;
}

static void run_free(run_t *r)
{
  free(r->out);
  free(r->err);
}

static size_t count_lines(const char *s)
{
  size_t n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

Test(config_cli, a_valid_file_exits_0_with_one_line)
{
  const char *path = cfg_test_path("good/spec_example.yaml");
  run_t r = ccm_config("check", path, NULL);
  cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
  cr_assert_eq(count_lines(r.out), 1, "%s", r.out);
  cr_assert(strstr(r.out, ": ok: 1 repository (1 on GitHub), listen "
                          "127.0.0.1:8080"), "%s", r.out);
  cr_assert_str_eq(r.err, "");
  run_free(&r);
}

Test(config_cli, a_broken_file_exits_1_with_every_error)
{
  const char *path = cfg_test_path("broken/many_errors.yaml");
  run_t r = ccm_config("check", path, NULL);
  cr_assert_eq(r.rc, 1);
  cr_assert_str_eq(r.out, "");
  cr_assert_eq(count_lines(r.err), 10, "9 errors and a count: %s", r.err);
  char want[3000];
  snprintf(want, sizeof want, "%s:1:9: listen: bad listen address", path);
  cr_assert(strstr(r.err, want) == r.err, "%s", r.err);
  snprintf(want, sizeof want, "\n%s:14:16: agents.concurrency: must be "
                              "between 1 and 64 (got 0)\n%s: 9 errors\n",
           path, path);
  cr_assert(strstr(r.err, want), "%s", r.err);
  run_free(&r);
}

Test(config_cli, without_a_file_it_checks_ccm_yaml_here)
{
  char dir[] = "/tmp/ccm-config-cli-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  cr_assert_eq(chdir(dir), 0);
  run_t r = ccm_config("check", NULL, NULL);
  cr_assert_eq(r.rc, 1);
  cr_assert(strstr(r.err, "no ./ccm.yaml here"), "%s", r.err);
  cr_assert(strstr(r.err, "ccm.yaml: cannot read: No such file"));
  run_free(&r);
  FILE *f = fopen("ccm.yaml", "w");
  fputs("listen: 127.0.0.1:9999\n", f);
  fclose(f);
  r = ccm_config("check", NULL, NULL);
  cr_assert_eq(r.rc, 0, "%s", r.err);
  cr_assert(strstr(r.out, "ccm.yaml: ok: ") == r.out, "%s", r.out);
  cr_assert(strstr(r.out, "listen 127.0.0.1:9999"));
  run_free(&r);
  unlink("ccm.yaml");
  cr_assert_eq(rmdir(dir), 0);
}

Test(config_cli, usage_errors_exit_2)
{
  static const char *const cases[][3] = {
      {NULL, NULL, NULL},          {"frobnicate", NULL, NULL},
      {"check", "a.yaml", "b.yaml"}, {"check", "--bogus", NULL}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    run_t r = ccm_config(cases[i][0], cases[i][1], cases[i][2]);
    cr_assert_eq(r.rc, 2, "case %zu: %s", i, r.err);
    cr_assert_neq(r.err[0], '\0', "a usage message");
    run_free(&r);
  }
  run_t r = ccm_config("check", "--help", NULL);
  cr_assert_eq(r.rc, 0);
  cr_assert(strstr(r.out, "usage: ccm config check [FILE]"));
  run_free(&r);
}

Test(config_cli, env_checks_name_variables_and_never_print_values)
{
  char path[] = "/tmp/ccm-config-env-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  static const char text[] = "listen: 0.0.0.0:8080\n"
                             "auth_token_env: CCM_TEST_CONTROL_TOKEN\n";
  cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)sizeof text - 1);
  close(fd);
  unsetenv("CCM_TEST_CONTROL_TOKEN");
  run_t r = ccm_config("check", path, "--env");
  cr_assert_eq(r.rc, 1, "%s", r.err);
  cr_assert(strstr(r.err, "CCM_TEST_CONTROL_TOKEN (auth_token_env) is not "
                          "set"), "%s", r.err);
  run_free(&r);
  setenv("CCM_TEST_CONTROL_TOKEN", "value-that-must-not-show", 1);
  r = ccm_config("check", path, "--env");
  cr_assert_eq(r.rc, 0, "%s", r.err);
  cr_assert(strstr(r.out, "environment ok: auth token set"), "%s", r.out);
  cr_assert_null(strstr(r.out, "must-not-show"));
  cr_assert_null(strstr(r.err, "must-not-show"));
  run_free(&r);
  unlink(path);
}

Test(config_cli, serve_refuses_an_invalid_config_and_starts_nothing)
{
  const char *path = cfg_test_path("broken/many_errors.yaml");
  char *data = tst_tmpdir(), store_file[4096];
  char *argv[] = {(char *)tst_prog("CCM_BIN"), "serve", "--config",
                  (char *)path, "--data", data, NULL};
  run_t r;
  r.rc = tst_run(argv, 30000, &r.out, &r.err);
  cr_assert_eq(r.rc, 1, "serve must not start: %s", r.err);
  char want[3000];
  snprintf(want, sizeof want, "%s:1:9: listen: bad listen address", path);
  cr_assert(strstr(r.err, want), "%s", r.err);
  cr_assert(strstr(r.err, "not starting"), "%s", r.err);
  snprintf(store_file, sizeof store_file, "%s/ccm.lmdb", data);
  cr_assert_not(tst_exists(store_file), "no store created");
  run_free(&r);
  tst_rmrf(data);
  free(data);
}
