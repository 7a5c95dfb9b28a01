/*
 * test_churn.c: recent commits per file (actors/prioritizer/churn.h).
 *
 * Contract: each path git prints counts one commit; lookups by exact
 * path; a real repository with commits gives the counts git log gives;
 * a directory that is not a repository is an error; a git that hangs is
 * killed when the daemon stops (gitcmd_cancel_all), so it holds neither
 * the prioritizer's cycle nor the shutdown.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/prioritizer/churn.h"
#include "scan/gitcmd.h"
#include "tests/scanner/fake_git.h"
#include "tests/support/store_test.h"

Test(churn, parse_counts_paths)
{
  const char *text = "a.c\nb/c.h\n\na.c\nd\na.c\n";
  prio_churn_t *c = NULL;
  cr_assert_eq(prio_churn_parse(text, strlen(text), &c), 0);
  cr_assert_eq(prio_churn_of(c, "a.c"), 3);
  cr_assert_eq(prio_churn_of(c, "b/c.h"), 1);
  cr_assert_eq(prio_churn_of(c, "d"), 1);
  cr_assert_eq(prio_churn_of(c, "b"), 0);
  cr_assert_eq(prio_churn_files(c), 3);
  cr_assert_eq(prio_churn_of(NULL, "a.c"), 0);
  prio_churn_free(c);
}

static void sh(const char *dir, const char *cmd)
{
  char line[1024];
  snprintf(line, sizeof line,
           "cd '%s' && GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t "
           "GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t %s >/dev/null 2>&1",
           dir, cmd);
  cr_assert_eq(system(line), 0, "%s", cmd);
}

Test(churn, reads_a_real_repository, .timeout = 60)
{
  char *dir = tst_tmpdir();
  sh(dir, "git init -q .");
  sh(dir, "echo 1 > hot.c && echo 1 > cold.c && git add . && "
          "git commit -qm one");
  for (int i = 2; i <= 4; i++) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "echo %d > hot.c && git commit -qam c%d", i, i);
    sh(dir, cmd);
  }
  prio_churn_t *c = NULL;
  cr_assert_eq(prio_churn_read(dir, 30, &c), 0);
  cr_assert_eq(prio_churn_of(c, "hot.c"), 4);
  cr_assert_eq(prio_churn_of(c, "cold.c"), 1);
  prio_churn_free(c);
  tst_rmrf(dir);
  free(dir);
}

Test(churn, not_a_repository_is_an_error, .timeout = 60)
{
  char *dir = tst_tmpdir();
  prio_churn_t *c = (prio_churn_t *)1;
  cr_assert_eq(prio_churn_read(dir, 30, &c), -EIO);
  cr_assert_null(c);
  tst_rmrf(dir);
  free(dir);
}

static char fifo_path[600];

static void *cancel_when_hung(void *arg)
{
  (void)arg;
  int fd = open(fifo_path, O_WRONLY); /* returns once git hangs */
  gitcmd_cancel_all();
  return (void *)(intptr_t)fd;
}

Test(churn, a_hung_git_is_killed_when_the_daemon_stops, .timeout = 60)
{
  char *state = fake_git_on(fifo_path, sizeof fifo_path);
  setenv("CCM_FAKE_GIT_HANG", "log", 1);
  gitcmd_cancel_reset();
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, cancel_when_hung, NULL), 0);
  prio_churn_t *c = (prio_churn_t *)1;
  int rc = prio_churn_read(state, 30, &c);
  void *fd;
  pthread_join(th, &fd);
  close((int)(intptr_t)fd);
  cr_assert_eq(rc, -EIO);
  cr_assert_null(c);
  gitcmd_cancel_reset();
  unsetenv("CCM_FAKE_GIT_HANG");
  tst_rmrf(state);
  free(state);
}
