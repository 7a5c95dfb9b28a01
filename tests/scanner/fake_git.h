/*
 * fake_git.h: put tests/data/fake_git/git first on PATH (test_gitcmd.c,
 * tests/daemon/test_daemon.c). Its `ls-files` hangs on a helper that
 * blocks opening the fifo of a fresh state directory; a test that opens
 * that fifo for writing returns only once git hangs. Header-only: the two
 * suites link different support libraries. Needs CCM_SOURCE_ROOT.
 */
#ifndef TESTS_SCANNER_FAKE_GIT_H
#define TESTS_SCANNER_FAKE_GIT_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/support/store_test.h"

/* The state dir (malloc'd; tst_rmrf it); @p fifo gets the fifo's path. */
static inline char *fake_git_on(char *fifo, size_t cap)
{
  char *state = tst_tmpdir();
  snprintf(fifo, cap, "%s/fifo", state);
  cr_assert_eq(mkfifo(fifo, 0600), 0, "%s", strerror(errno));
  setenv("CCM_FAKE_GIT_STATE", state, 1);
  char path[8192];
  snprintf(path, sizeof path, "%s/tests/data/fake_git:%s", CCM_SOURCE_ROOT,
           getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
  setenv("PATH", path, 1);
  return state;
}

#endif /* TESTS_SCANNER_FAKE_GIT_H */
