/*
 * test_churn.c: recent commits per file (actors/prioritizer/churn.h).
 *
 * Contract: each path git prints counts one commit; lookups by exact
 * path; a real repository with commits gives the counts git log gives;
 * a directory that is not a repository is an error.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/prioritizer/churn.h"
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
