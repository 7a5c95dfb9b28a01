/*
 * leak_probe.c: criterion tests that leak or fail on purpose, for
 * test_leak_check.c to run one at a time (--filter) and judge from the
 * outside. Not a suite of its own: most of these tests must fail.
 *
 * Every test writes "probe: <what ran>" lines to stderr, so that the driver
 * can count how often a hook ran.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/leak_check.h"

/* Forgotten pointers go through here, so the compiler cannot prove them
 * unused and drop the allocation. */
static void *volatile last_block;

static void forget(void *p)
{
  last_block = p;
  last_block = NULL;
}

/* Named frames the driver looks for in LeakSanitizer's report. */
__attribute__((noinline)) static void probe_leak_77_bytes(void)
{
  char *p = malloc(77);
  cr_assert_not_null(p);
  memset(p, 0x5a, 77);
  forget(p);
}

__attribute__((noinline)) static void probe_leak_1000_blocks(void)
{
  for (int i = 0; i < 1000; i++) {
    char *p = malloc(16);
    cr_assert_not_null(p);
    memset(p, i, 16);
    forget(p);
  }
}

Test(probe, clean)
{
  char *p = malloc(100);
  cr_assert_not_null(p);
  free(p);
  fprintf(stderr, "probe: clean body\n");
}

Test(probe, leak_77_bytes) { probe_leak_77_bytes(); }

Test(probe, leak_1000_blocks) { probe_leak_1000_blocks(); }

/* A fixture whose .fini drops its block instead of freeing it. */
static char *fixture;

__attribute__((noinline)) static void probe_fixture_alloc(void)
{
  fixture = malloc(33);
  cr_assert_not_null(fixture);
  memset(fixture, 1, 33);
}

static void fixture_fini_frees(void)
{
  fprintf(stderr, "probe: fini ran\n");
  free(fixture);
  fixture = NULL;
}

static void fixture_fini_drops(void)
{
  fprintf(stderr, "probe: fini ran\n");
  forget(fixture);
  fixture = NULL;
}

static void fini_fails(void)
{
  fprintf(stderr, "probe: fini ran\n");
  cr_assert_fail("a .fini hook failed on purpose");
}

Test(probe, fixture_freed, .init = probe_fixture_alloc,
     .fini = fixture_fini_frees)
{
  cr_assert_not_null(fixture);
}

Test(probe, fixture_leaks_in_fini, .init = probe_fixture_alloc,
     .fini = fixture_fini_drops)
{
  cr_assert_not_null(fixture);
}

Test(probe, fini_assert_fails, .fini = fini_fails) {}

/* The body fails: criterion's teardown still runs .fini, exactly once. */
Test(probe, body_fails, .init = probe_fixture_alloc,
     .fini = fixture_fini_frees)
{
  cr_assert_fail("the body failed on purpose");
}

/* The body fails and leaves a block behind: the test has failed already,
 * so a leak check in its .fini hook stays quiet. */
Test(probe, body_fails_leaving_leak, .fini = tst_leak_check)
{
  probe_leak_77_bytes();
  cr_assert_fail("the body failed on purpose");
}

/* Suite-level hooks: the suite's .fini runs once, after the test's. */
static void suite_fini(void) { fprintf(stderr, "probe: suite fini ran\n"); }

TestSuite(probe_suite, .fini = suite_fini);

static void test_fini(void) { fprintf(stderr, "probe: test fini ran\n"); }

Test(probe_suite, hooks_in_order, .fini = test_fini)
{
  fprintf(stderr, "probe: body ran\n");
}

Test(probe_suite, leak_77_bytes) { probe_leak_77_bytes(); }

/* A parameterized test (criterion calls its body with an argument). */
ParameterizedTestParameters(probe, param_leak)
{
  static int sizes[] = {21};
  return cr_make_param_array(int, sizes, 1);
}

ParameterizedTest(int *size, probe, param_leak)
{
  char *p = malloc((size_t)*size);
  cr_assert_not_null(p);
  memset(p, 2, (size_t)*size);
  forget(p);
}
