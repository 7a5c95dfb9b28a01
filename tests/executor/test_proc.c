/*
 * test_proc.c: the contract of actors/executor/proc.h (one child process,
 * supervised without actors).
 *
 *  - output arrives line by line on the right stream; the exit status is
 *    reported; stdin comes from the given file; cwd is the given directory;
 *  - the environment is minimal: PATH HOME LANG TERM, the names in
 *    pass_env, the given pairs, and nothing else of ccm's (no secrets);
 *  - argv[0] is looked up in the child's PATH; a missing program is
 *    -ENOENT and leaves nothing open;
 *  - an idle child is SIGTERMed, then SIGKILLed after the grace, with its
 *    whole group: a leader and grandchildren that all ignore SIGTERM die;
 *  - the wall-clock limit holds against a chatty child;
 *  - when the leader exits, grandchildren still in its group are killed at
 *    once (the run does not wait for an idle timeout);
 *  - a process that left the group keeps the pipe open: the run ends
 *    anyway, the grace after the leader's exit.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/executor/proc.h"
#include "tests/executor/exec_test.h"
#include "tests/support/store_test.h"

TestSuite(proc, .timeout = 60, .fini = ext_leak_check);

static const exec_limits_t relaxed = {.idle_ms = 20000, .wall_ms = 40000,
                                      .grace_ms = 2000};

Test(proc, lines_exit_status_and_streams)
{
  const char *argv[] = {"sh", "-c",
                        "echo one; echo two >&2; printf 'three'; exit 3",
                        NULL};
  exec_spawn_spec_t spec = {.argv = argv};
  exec_proc_t p;
  ext_lines_t got = {0};
  cr_assert_eq(exec_proc_run(&spec, &relaxed, 0, ext_collect, &got, &p, NULL,
                             0), 0);
  cr_assert(p.exited);
  cr_assert_eq(exec_proc_exit_code(&p), 3);
  cr_assert_eq(p.killed, EXEC_KILL_NONE);
  cr_assert_eq(got.n, 3);
  cr_assert_geq(ext_lines_find(&got, EXEC_STDOUT, "one"), 0);
  cr_assert_geq(ext_lines_find(&got, EXEC_STDERR, "two"), 0);
  /* the last line had no newline: handed over at EOF */
  cr_assert_geq(ext_lines_find(&got, EXEC_STDOUT, "three"), 0);
  ext_lines_free(&got);
}

Test(proc, stdin_file_and_cwd)
{
  char *dir = tst_tmpdir();
  char prompt[4096];
  snprintf(prompt, sizeof prompt, "%s/prompt.md", dir);
  ext_write_file(prompt, "fix the TODO\nplease\n");
  const char *argv[] = {"sh", "-c", "pwd; cat", NULL};
  exec_spawn_spec_t spec = {.argv = argv, .cwd = dir, .stdin_path = prompt};
  exec_proc_t p;
  ext_lines_t got = {0};
  cr_assert_eq(exec_proc_run(&spec, &relaxed, 0, ext_collect, &got, &p, NULL,
                             0), 0);
  cr_assert_eq(exec_proc_exit_code(&p), 0);
  cr_assert_eq(got.n, 3);
  char *real = realpath(dir, NULL);
  cr_assert_str_eq(got.text[0], real);
  cr_assert_str_eq(got.text[1], "fix the TODO");
  cr_assert_str_eq(got.text[2], "please");
  free(real);
  ext_lines_free(&got);
  tst_rmrf(dir);
  free(dir);
}

Test(proc, environment_is_minimal)
{
  setenv("CCM_TEST_SECRET", "hunter2", 1);
  setenv("CCM_TEST_PASSED", "yes", 1);
  const char *argv[] = {"env", NULL};
  const char *env[] = {"ANTHROPIC_BASE_URL=http://127.0.0.1:9", "LANG=C",
                       NULL};
  const char *pass[] = {"CCM_TEST_PASSED", "CCM_TEST_UNSET_NAME", NULL};
  exec_spawn_spec_t spec = {.argv = argv, .env = env, .pass_env = pass};
  exec_proc_t p;
  ext_lines_t got = {0};
  cr_assert_eq(exec_proc_run(&spec, &relaxed, 0, ext_collect, &got, &p, NULL,
                             0), 0);
  cr_assert_eq(exec_proc_exit_code(&p), 0);
  const char *allowed[] = {"PATH=", "HOME=", "LANG=", "TERM=",
                           "ANTHROPIC_BASE_URL=", "CCM_TEST_PASSED="};
  for (size_t i = 0; i < got.n; i++) {
    bool ok = false;
    for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++)
      ok = ok || strncmp(got.text[i], allowed[k], strlen(allowed[k])) == 0;
    cr_assert(ok, "unexpected variable in the child: %s", got.text[i]);
  }
  cr_assert_eq(got.n, 6);
  cr_assert_geq(ext_lines_find(&got, EXEC_STDOUT, "LANG=C"), 0,
                "explicit pairs override the base");
  cr_assert_geq(ext_lines_find(&got, EXEC_STDOUT, "CCM_TEST_PASSED=yes"), 0);
  cr_assert_geq(ext_lines_find(&got, EXEC_STDOUT,
                               "ANTHROPIC_BASE_URL=http://127.0.0.1:9"), 0);
  ext_lines_free(&got);
}

Test(proc, program_looked_up_in_child_path)
{
  char *dir = tst_tmpdir();
  char tool[4096];
  snprintf(tool, sizeof tool, "%s/only-here", dir);
  ext_write_file(tool, "#!/bin/sh\necho found me\n");
  chmod(tool, 0755);
  char path_pair[4200];
  snprintf(path_pair, sizeof path_pair, "PATH=%s:/usr/bin:/bin", dir);
  const char *argv[] = {"only-here", NULL};
  const char *env[] = {path_pair, NULL};
  exec_spawn_spec_t spec = {.argv = argv, .env = env};
  exec_proc_t p;
  ext_lines_t got = {0};
  cr_assert_eq(exec_proc_run(&spec, &relaxed, 0, ext_collect, &got, &p, NULL,
                             0), 0);
  cr_assert_geq(ext_lines_find(&got, EXEC_STDOUT, "found me"), 0);
  ext_lines_free(&got);

  /* without that PATH entry the same name is not found */
  char err[256] = "";
  exec_spawn_spec_t bare = {.argv = argv};
  cr_assert_eq(exec_proc_spawn(&bare, &relaxed, 0, &p, err, sizeof err),
               -ENOENT);
  cr_assert(strstr(err, "only-here"), "error names the program: %s", err);
  cr_assert_eq(p.fd[0], -1);
  cr_assert_eq(p.fd[1], -1);
  tst_rmrf(dir);
  free(dir);
}

Test(proc, bad_directory_fails_cleanly)
{
  const char *argv[] = {"true", NULL};
  exec_spawn_spec_t spec = {.argv = argv, .cwd = "/nonexistent/ccm/dir"};
  exec_proc_t p;
  char err[256] = "";
  int rc = exec_proc_spawn(&spec, &relaxed, 0, &p, err, sizeof err);
  cr_assert_eq(rc, -ENOENT, "rc %d (%s)", rc, err);
  cr_assert_eq(p.fd[0], -1);
}

static const char *fake_argv_with(const char *pidfile, const char *extra1,
                                  const char *extra2, const char *extra3,
                                  const char **argv)
{
  size_t n = 0;
  argv[n++] = "python3";
  argv[n++] = EXT_FAKE_AGENT;
  argv[n++] = "--pidfile";
  argv[n++] = pidfile;
  if (extra1)
    argv[n++] = extra1;
  if (extra2)
    argv[n++] = extra2;
  if (extra3)
    argv[n++] = extra3;
  argv[n] = NULL;
  return argv[0];
}

Test(proc, idle_child_and_grandchildren_killed_as_a_group)
{
  char *dir = tst_tmpdir();
  char pidfile[4096];
  snprintf(pidfile, sizeof pidfile, "%s/pids", dir);
  const char *argv[16];
  fake_argv_with(pidfile, "--ignore-term", "--stall", "--grandchildren=2",
                 argv);
  exec_spawn_spec_t spec = {.argv = argv};
  /* The idle limit must outlast python's start-up on a loaded machine:
   * a SIGTERM that comes before the agent ignores it would end it early
   * (seen at 400 ms under a parallel ASan run). */
  exec_limits_t lim = {.idle_ms = 2500, .wall_ms = 30000, .grace_ms = 300};
  exec_proc_t p;
  uint64_t t0 = exec_now_ms();
  cr_assert_eq(exec_proc_run(&spec, &lim, 0, NULL, NULL, &p, NULL, 0), 0);
  uint64_t took = exec_now_ms() - t0;
  cr_assert_eq(p.killed, EXEC_KILL_IDLE);
  cr_assert(p.killed_hard, "SIGTERM was ignored: SIGKILL must follow");
  cr_assert_eq(exec_proc_term_signal(&p), SIGKILL);
  cr_assert_geq(took, lim.idle_ms + lim.grace_ms);
  cr_assert_eq(ext_expect_pids_dead(pidfile, 10000), 3,
               "leader and two grandchildren recorded");
  tst_rmrf(dir);
  free(dir);
}

Test(proc, wall_clock_limit_against_chatty_child)
{
  const char *argv[] = {"sh", "-c", "while :; do echo tick; sleep 0.02; done",
                        NULL};
  exec_spawn_spec_t spec = {.argv = argv};
  exec_limits_t lim = {.idle_ms = 20000, .wall_ms = 300, .grace_ms = 2000};
  exec_proc_t p;
  ext_lines_t got = {0};
  uint64_t t0 = exec_now_ms();
  cr_assert_eq(exec_proc_run(&spec, &lim, 0, ext_collect, &got, &p, NULL, 0),
               0);
  cr_assert_eq(p.killed, EXEC_KILL_WALL);
  cr_assert_eq(exec_proc_term_signal(&p), SIGTERM);
  cr_assert_geq(exec_now_ms() - t0, lim.wall_ms);
  cr_assert_gt(got.n, 1);
  ext_lines_free(&got);
}

Test(proc, leader_exit_kills_lingering_grandchildren)
{
  char *dir = tst_tmpdir();
  char pidfile[4096];
  snprintf(pidfile, sizeof pidfile, "%s/pids", dir);
  const char *argv[16];
  fake_argv_with(pidfile, "--grandchildren=2", "--exit=0", NULL, argv);
  exec_spawn_spec_t spec = {.argv = argv};
  exec_proc_t p;
  uint64_t t0 = exec_now_ms();
  cr_assert_eq(exec_proc_run(&spec, &relaxed, 0, NULL, NULL, &p, NULL, 0), 0);
  cr_assert_eq(p.killed, EXEC_KILL_NONE, "no timeout was needed");
  cr_assert_eq(exec_proc_exit_code(&p), 0);
  cr_assert_lt(exec_now_ms() - t0, relaxed.idle_ms);
  cr_assert_eq(ext_expect_pids_dead(pidfile, 10000), 3);
  tst_rmrf(dir);
  free(dir);
}

Test(proc, pipes_held_outside_the_group_are_abandoned)
{
  char *dir = tst_tmpdir();
  char pidfile[4096];
  snprintf(pidfile, sizeof pidfile, "%s/pids", dir);
  const char *argv[16];
  fake_argv_with(pidfile, "--grandchildren=1", "--escape", NULL, argv);
  exec_spawn_spec_t spec = {.argv = argv};
  exec_limits_t lim = {.idle_ms = 20000, .wall_ms = 40000, .grace_ms = 300};
  exec_proc_t p;
  cr_assert_eq(exec_proc_run(&spec, &lim, 0, NULL, NULL, &p, NULL, 0), 0);
  cr_assert_eq(exec_proc_exit_code(&p), 0);
  cr_assert_eq(p.killed, EXEC_KILL_NONE);
  cr_assert(p.abandon, "the escaped process still held stdout");
  pid_t pids[4];
  cr_assert_eq(ext_read_pids(pidfile, pids, 4), 2);
  kill(pids[1], SIGKILL); /* the test stops what it started */
  cr_assert_eq(ext_expect_pids_dead(pidfile, 10000), 2);
  tst_rmrf(dir);
  free(dir);
}

Test(proc, oversized_line_is_cut_and_the_rest_survives)
{
  char *dir = tst_tmpdir();
  char pidfile[4096];
  snprintf(pidfile, sizeof pidfile, "%s/pids", dir);
  const char *argv[16];
  fake_argv_with(pidfile, "--oversize=3000000", "--transcript=success", NULL,
                 argv);
  exec_spawn_spec_t spec = {.argv = argv};
  exec_proc_t p;
  ext_lines_t got = {0};
  cr_assert_eq(exec_proc_run(&spec, &relaxed, 65536, ext_collect, &got, &p,
                             NULL, 0), 0);
  cr_assert_gt(got.n, 2);
  cr_assert_eq(got.flags[0], EXEC_LINE_TRUNCATED);
  cr_assert_eq(got.len[0], 65536);
  for (size_t i = 1; i < got.n; i++) {
    cr_assert_eq(got.flags[i], 0);
    cr_assert_eq(got.text[i][0], '{', "line %zu intact: %.40s", i,
                 got.text[i]);
  }
  cr_assert_eq(p.bytes[EXEC_STDOUT] > 3000000, true);
  ext_lines_free(&got);
  tst_rmrf(dir);
  free(dir);
}
