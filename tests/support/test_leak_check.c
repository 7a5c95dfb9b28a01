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
#include <stdlib.h>
#include <string.h>

#include "tests/support/store_test.h" /* tst_prog, tst_run */

TestSuite(leak_check, .timeout = 120);

typedef struct probe_run {
  int exit_code; /* tst_run's: -1 when it had to kill the probe */
  char *output;  /* the probe's stderr (criterion writes there) */
} probe_run_t;

/* Run the probe's test @p name ("suite/test"), keep its verdict and stderr. */
static probe_run_t run_probe(const char *name)
{
  /* Without boxfort's variable of our own worker: with it, the probe's
   * criterion would take itself for one of our workers. */
  unsetenv("BXFI_MAP");
  char *argv[] = {(char *)tst_prog("LEAK_PROBE"), "--ascii", "-j1",
                  "--filter", (char *)name, NULL};
  probe_run_t run = {0};
  run.exit_code = tst_run(argv, 60000, NULL, &run.output);
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

/* Failed with @p message, its .fini hook run exactly once. */
static void assert_failed_fini_once(probe_run_t run, const char *message)
{
  assert_failed(run);
  cr_assert(strstr(run.output, message), SHOWN(run));
  cr_assert_eq(count(run.output, "probe: fini ran"), 1, SHOWN(run));
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

/* Run @p name: it must pass, having printed @p line once. */
static void expect_pass(const char *name, const char *line)
{
  probe_run_t run = run_probe(name);
  assert_passed(run);
  cr_assert_eq(count(run.output, line), 1, SHOWN(run));
  free(run.output);
}

/* Run @p name (ASan builds): it must fail for a leak of @p summary,
 * reported once, naming @p frame. */
static void expect_leak_failure(const char *name, const char *summary,
                                const char *frame)
{
  require_asan();
  probe_run_t run = run_probe(name);
  assert_leak_failed(run, summary, frame);
  free(run.output);
}

/* ---- leaks (ASan builds) ---- */

Test(leak_check, clean_test_passes_without_report)
{
  expect_pass("probe/clean", "probe: clean body");
}

Test(leak_check, leak_in_body_fails_test)
{
  expect_leak_failure("probe/leak_77_bytes",
                      "77 byte(s) leaked in 1 allocation(s)",
                      "probe_leak_77_bytes");
}

Test(leak_check, thousand_leaked_blocks_fail_test)
{
  expect_leak_failure("probe/leak_1000_blocks",
                      "16000 byte(s) leaked in 1000 allocation(s)",
                      "probe_leak_1000_blocks");
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
  expect_leak_failure("probe_suite/leak_77_bytes",
                      "77 byte(s) leaked in 1 allocation(s)",
                      "probe_leak_77_bytes");
}

Test(leak_check, leak_in_parameterized_test_fails_test)
{
  expect_leak_failure("probe/param_leak",
                      "21 byte(s) leaked in 1 allocation(s)",
                      "probe_param_leak");
}

/* ---- hooks (every build) ---- */

Test(leak_check, fixture_freed_in_fini_passes)
{
  expect_pass("probe/fixture_freed", "probe: fini ran");
}

Test(leak_check, failed_assertion_in_fini_fails_test)
{
  probe_run_t run = run_probe("probe/fini_assert_fails");
  assert_failed_fini_once(run, "a .fini hook failed on purpose");
  free(run.output);
}

Test(leak_check, failed_body_still_runs_fini_once)
{
  probe_run_t run = run_probe("probe/body_fails");
  assert_failed_fini_once(run, "the body failed on purpose");
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
