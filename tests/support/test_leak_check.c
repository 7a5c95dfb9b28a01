/*
 * test_leak_check.c: the per-test leak check (tests/support/leak_check.c)
 * judged from the outside. Each test runs one test of leak_probe (a criterion
 * executable built like every suite's) in a child process and reads its
 * verdict and its stderr:
 *   - ASan builds: a leak in a body, in a parameterized body, in a suite
 *     with hooks, or left by a .fini hook fails that test, once, with
 *     LeakSanitizer's report naming the allocating function; a clean test
 *     passes and prints no report (so criterion's runner leak is silent);
 *     what a failed test leaves behind is not reported.
 *   - every build: a failed assertion in a .fini hook fails the test; hooks
 *     run exactly once and in criterion's order (test .fini, then suite
 *     .fini), also when the body fails.
 * The probe's path comes from LEAK_PROBE (tests/meson.build).
 */
#include "tests/support/leak_check.h"

#include <criterion/criterion.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

TestSuite(leak_check, .timeout = 120);

typedef struct probe_run {
  int exit_code; /* -1 when the probe died of a signal */
  char *output;  /* its stdout and stderr, NUL-terminated */
} probe_run_t;

/* The environment minus boxfort's worker variables (BXFI_*): with them, the
 * probe's criterion would take itself for one of our workers. */
static char **probe_environment(void)
{
  size_t n = 0;
  while (environ[n])
    n++;
  char **env = calloc(n + 1, sizeof *env);
  cr_assert_not_null(env);
  size_t kept = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "BXFI_", 5) != 0)
      env[kept++] = environ[i];
  return env;
}

static char *slurp(FILE *f)
{
  cr_assert_eq(fseek(f, 0, SEEK_END), 0);
  long len = ftell(f);
  cr_assert_geq(len, 0);
  rewind(f);
  char *text = malloc((size_t)len + 1);
  cr_assert_not_null(text);
  size_t got = fread(text, 1, (size_t)len, f);
  text[got] = '\0';
  return text;
}

/* Run the probe's test @p name ("suite/test"), wait for it, keep its output. */
static probe_run_t run_probe(const char *name)
{
  const char *probe = getenv("LEAK_PROBE");
  cr_assert(probe && *probe, "LEAK_PROBE is not set (tests/meson.build)");
  FILE *out = tmpfile();
  cr_assert_not_null(out);

  posix_spawn_file_actions_t fa;
  cr_assert_eq(posix_spawn_file_actions_init(&fa), 0);
  posix_spawn_file_actions_adddup2(&fa, fileno(out), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, fileno(out), STDERR_FILENO);
  char *argv[] = {(char *)probe, "--ascii", "-j1", "--filter", (char *)name,
                  NULL};
  char **env = probe_environment();
  pid_t pid;
  int rc = posix_spawn(&pid, probe, &fa, NULL, argv, env);
  posix_spawn_file_actions_destroy(&fa);
  free(env);
  cr_assert_eq(rc, 0, "posix_spawn %s: %s", probe, strerror(rc));

  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  probe_run_t run = {
      .exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1,
      .output = slurp(out),
  };
  fclose(out);
  return run;
}

static int count(const char *text, const char *needle)
{
  int n = 0;
  for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

#define SHOWN(run) "probe output:\n%s", (run).output

static void assert_passed(probe_run_t run)
{
  cr_assert_eq(run.exit_code, 0, SHOWN(run));
  cr_assert(strstr(run.output, "Passing: 1 | Failing: 0 | Crashing: 0"),
            SHOWN(run));
  cr_assert_null(strstr(run.output, "LeakSanitizer"), SHOWN(run));
}

/* Failed as a test (not crashed, not a teardown warning). */
static void assert_failed(probe_run_t run)
{
  cr_assert_eq(run.exit_code, 1, SHOWN(run));
  cr_assert(strstr(run.output, "Passing: 0 | Failing: 1 | Crashing: 0"),
            SHOWN(run));
  cr_assert_null(strstr(run.output, "Warning!"), SHOWN(run));
}

/* Failed for a leak of @p summary ("77 byte(s) leaked in 1 allocation(s)"),
 * reported once, naming @p frame. */
static void assert_leak_failed(probe_run_t run, const char *summary,
                               const char *frame)
{
  assert_failed(run);
  cr_assert_eq(count(run.output, summary), 1, "want one \"%s\"; " SHOWN(run),
               summary);
  cr_assert(strstr(run.output, frame), SHOWN(run));
  cr_assert(strstr(run.output, "LeakSanitizer found leaks in this test"),
            SHOWN(run));
}

static void require_asan(void)
{
  if (!TST_ASAN)
    cr_skip_test("leaks are detected in AddressSanitizer builds only");
}

/* ---- leaks (ASan builds) ---- */

Test(leak_check, clean_test_passes_without_report)
{
  probe_run_t run = run_probe("probe/clean");
  assert_passed(run);
  cr_assert_eq(count(run.output, "probe: clean body"), 1, SHOWN(run));
  free(run.output);
}

Test(leak_check, leak_in_body_fails_test)
{
  require_asan();
  probe_run_t run = run_probe("probe/leak_77_bytes");
  assert_leak_failed(run, "77 byte(s) leaked in 1 allocation(s)",
                     "probe_leak_77_bytes");
  free(run.output);
}

Test(leak_check, thousand_leaked_blocks_fail_test)
{
  require_asan();
  probe_run_t run = run_probe("probe/leak_1000_blocks");
  assert_leak_failed(run, "16000 byte(s) leaked in 1000 allocation(s)",
                     "probe_leak_1000_blocks");
  free(run.output);
}

Test(leak_check, leak_left_by_fini_hook_fails_test)
{
  require_asan();
  probe_run_t run = run_probe("probe/fixture_leaks_in_fini");
  assert_leak_failed(run, "33 byte(s) leaked in 1 allocation(s)",
                     "probe_fixture_alloc");
  cr_assert_eq(count(run.output, "probe: fini ran"), 1, SHOWN(run));
  free(run.output);
}

Test(leak_check, failed_test_leftovers_are_not_reported)
{
  require_asan();
  probe_run_t run = run_probe("probe/body_fails_leaving_leak");
  assert_failed(run);
  cr_assert(strstr(run.output, "the body failed on purpose"), SHOWN(run));
  cr_assert_null(strstr(run.output, "LeakSanitizer"), SHOWN(run));
  free(run.output);
}

Test(leak_check, leak_in_suite_with_hooks_fails_test)
{
  require_asan();
  probe_run_t run = run_probe("probe_suite/leak_77_bytes");
  assert_leak_failed(run, "77 byte(s) leaked in 1 allocation(s)",
                     "probe_leak_77_bytes");
  free(run.output);
}

Test(leak_check, leak_in_parameterized_test_fails_test)
{
  require_asan();
  probe_run_t run = run_probe("probe/param_leak");
  assert_leak_failed(run, "21 byte(s) leaked in 1 allocation(s)",
                     "probe_param_leak");
  free(run.output);
}

/* ---- hooks (every build) ---- */

Test(leak_check, fixture_freed_in_fini_passes)
{
  probe_run_t run = run_probe("probe/fixture_freed");
  assert_passed(run);
  cr_assert_eq(count(run.output, "probe: fini ran"), 1, SHOWN(run));
  free(run.output);
}

Test(leak_check, failed_assertion_in_fini_fails_test)
{
  probe_run_t run = run_probe("probe/fini_assert_fails");
  assert_failed(run);
  cr_assert(strstr(run.output, "a .fini hook failed on purpose"), SHOWN(run));
  cr_assert_eq(count(run.output, "probe: fini ran"), 1, SHOWN(run));
  free(run.output);
}

Test(leak_check, failed_body_still_runs_fini_once)
{
  probe_run_t run = run_probe("probe/body_fails");
  assert_failed(run);
  cr_assert(strstr(run.output, "the body failed on purpose"), SHOWN(run));
  cr_assert_eq(count(run.output, "probe: fini ran"), 1, SHOWN(run));
  cr_assert_null(strstr(run.output, "LeakSanitizer"), SHOWN(run));
  free(run.output);
}

Test(leak_check, test_fini_then_suite_fini_once_each)
{
  probe_run_t run = run_probe("probe_suite/hooks_in_order");
  assert_passed(run);
  const char *body = strstr(run.output, "probe: body ran");
  const char *test_fini = strstr(run.output, "probe: test fini ran");
  const char *suite_fini = strstr(run.output, "probe: suite fini ran");
  cr_assert(body && test_fini && suite_fini, SHOWN(run));
  cr_assert(body < test_fini && test_fini < suite_fini, SHOWN(run));
  cr_assert_eq(count(run.output, "probe: test fini ran"), 1, SHOWN(run));
  cr_assert_eq(count(run.output, "probe: suite fini ran"), 1, SHOWN(run));
  free(run.output);
}
