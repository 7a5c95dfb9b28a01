/*
 * test_gitcmd.c: git runs bounded in time (scan/gitcmd.h), with a fake
 * git first on PATH (tests/data/fake_git/git) whose `ls-files` hangs the
 * way a git waiting on a lock or a credential prompt does: it starts a
 * helper that keeps git's stdout open and blocks opening a fifo.
 *
 * Contract checked: a hung git fails at its deadline with
 * GITCMD_ETIMEDOUT and "git ls-files timed out after ...", and its whole
 * process group is gone (the helper too); gitcmd_cancel_all() ends a
 * running git at once (GITCMD_ECANCELLED, long before its deadline) and
 * fails later runs without starting git until gitcmd_cancel_reset(); git
 * gets stdin at EOF and GIT_TERMINAL_PROMPT=0; a scan of a repository
 * whose git hangs fails with that message within the deadline (the walk
 * does not fall back to listing the tree); gitcmd_capture() collects
 * output and stops at its cap.
 *
 * Synchronisation: the test opens the fifo for writing, which returns only
 * once the helper opened it: then git is known to hang. No sleeps.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "scan/gitcmd.h"
#include "scan/walk.h"
#include "tests/scanner/fake_git.h"
#include "tests/support/store_test.h"

TestSuite(gitcmd, .timeout = 60);

static char *state_dir;
static char fifo_path[600];

static void fake_git_start(void)
{
  state_dir = fake_git_on(fifo_path, sizeof fifo_path);
  gitcmd_cancel_reset();
}

static void fake_git_off(void)
{
  tst_rmrf(state_dir);
  free(state_dir);
}

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static char *state_file(const char *name)
{
  char path[700], *text = calloc(1, 256);
  snprintf(path, sizeof path, "%s/%s", state_dir, name);
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "%s missing", path);
  cr_assert_not_null(text);
  size_t n = fread(text, 1, 255, f);
  text[n] = '\0';
  fclose(f);
  return text;
}

/* Is process @p pid gone (or a zombie: killed, not yet reaped by init)? */
static bool gone(pid_t pid)
{
  char path[64], stat[512] = "";
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return true;
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  stat[n] = '\0';
  fclose(f);
  const char *paren = strrchr(stat, ')');
  return paren && (paren[2] == 'Z' || paren[2] == 'X');
}

/* The helper the fake git started: killed with its group (bounded). */
static void assert_helper_killed(void)
{
  char *pid_text = state_file("helper.pid");
  pid_t pid = (pid_t)atoi(pid_text);
  free(pid_text);
  cr_assert_gt(pid, 0);
  uint64_t t0 = now_ms();
  while (!gone(pid) && now_ms() - t0 < 10000) {
    struct timespec pause = {0, 10 * 1000000L};
    nanosleep(&pause, NULL); /* the kernel tears the process down */
  }
  cr_assert(gone(pid), "the helper git started (pid %d) still runs",
            (int)pid);
}

static const char *const ls_files[] = {"ls-files", "-z", NULL};

Test(gitcmd, a_hung_git_fails_at_its_deadline_with_its_group_killed)
{
  fake_git_start();
  char err[256] = "";
  uint64_t t0 = now_ms();
  int rc = gitcmd_run_within(state_dir, ls_files, 300, NULL, NULL, err,
                             sizeof err);
  uint64_t took = now_ms() - t0;
  cr_assert_eq(rc, GITCMD_ETIMEDOUT, "rc %d: %s", rc, err);
  cr_assert_str_eq(err, "git ls-files timed out after 300 ms");
  cr_assert_geq(took, 300);
  cr_assert_lt(took, 10000, "took %llu ms", (unsigned long long)took);
  char *hung = state_file("hung");
  cr_assert_str_eq(hung, "stdin=eof prompt=0\n", "git may not prompt");
  free(hung);
  assert_helper_killed();
  fake_git_off();
}

static void *cancel_when_hung(void *arg)
{
  (void)arg;
  int fd = open(fifo_path, O_WRONLY); /* returns once the helper hangs */
  gitcmd_cancel_all();
  return (void *)(intptr_t)fd;
}

Test(gitcmd, cancel_ends_a_running_git_at_once_and_refuses_new_ones)
{
  fake_git_start();
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, cancel_when_hung, NULL), 0);
  char err[256] = "";
  uint64_t t0 = now_ms();
  int rc = gitcmd_run(state_dir, ls_files, NULL, NULL, err, sizeof err);
  uint64_t took = now_ms() - t0;
  void *fd;
  pthread_join(th, &fd);
  close((int)(intptr_t)fd);
  cr_assert_eq(rc, GITCMD_ECANCELLED, "rc %d: %s", rc, err);
  cr_assert(strstr(err, "git ls-files cancelled"), "%s", err);
  cr_assert_lt(took, 60000, "long before the 5 min deadline");
  assert_helper_killed();

  /* Later runs fail without starting git, until reset. */
  static const char *const inside[] = {"rev-parse", "--is-inside-work-tree",
                                       NULL};
  char *out = NULL;
  rc = gitcmd_capture(state_dir, inside, 0, 0, &out, NULL, err, sizeof err);
  cr_assert_eq(rc, GITCMD_ECANCELLED);
  free(out);
  gitcmd_cancel_reset();
  rc = gitcmd_capture(state_dir, inside, 0, 0, &out, NULL, err, sizeof err);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert_str_eq(out, "true\n");
  free(out);
  fake_git_off();
}

static int count_path(void *ud, const char *path, size_t len)
{
  (void)path;
  (void)len;
  ++*(size_t *)ud;
  return 0;
}

Test(gitcmd, a_walk_over_a_hung_git_fails_with_the_deadline)
{
  fake_git_start();
  gitcmd_set_timeouts(400, 400);
  scan_walk_cfg_t cfg = {.root = state_dir};
  size_t listed = 0;
  char err[256] = "";
  uint64_t t0 = now_ms();
  int rc = scan_walk(&cfg, count_path, &listed, NULL, err, sizeof err);
  uint64_t took = now_ms() - t0;
  cr_assert_eq(rc, GITCMD_ETIMEDOUT, "rc %d: %s", rc, err);
  cr_assert_str_eq(err, "git ls-files timed out after 400 ms");
  cr_assert_eq(listed, 0, "no fallback to the tree");
  cr_assert_lt(took, 10000);
  assert_helper_killed();
  gitcmd_set_timeouts(GITCMD_RUN_TIMEOUT_MS, GITCMD_QUERY_TIMEOUT_MS);
  fake_git_off();
}

Test(gitcmd, capture_collects_output_and_stops_at_its_cap)
{
  char *dir = tst_tmpdir();
  static const char *const version[] = {"--version", NULL};
  char *out = NULL, err[256] = "";
  size_t len = 0;
  int rc = gitcmd_capture(dir, version, 0, 0, &out, &len, err, sizeof err);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert(!strncmp(out, "git version ", 12), "%s", out);
  cr_assert_eq(len, strlen(out));
  free(out);
  rc = gitcmd_capture(dir, version, 0, 4, &out, &len, err, sizeof err);
  cr_assert_eq(rc, GITCMD_ETOOBIG);
  cr_assert(strstr(err, "more than 4 bytes"), "%s", err);
  cr_assert_not_null(out);
  free(out);
  tst_rmrf(dir);
  free(dir);
}
