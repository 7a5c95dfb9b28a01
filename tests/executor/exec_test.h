/*
 * exec_test.h: helpers shared by the executor suites (tests/executor/).
 *
 * The fake agent (fake_agent.py beside this file), recorded transcripts
 * (tests/data/agent/), throwaway git repositories, a line collector for
 * exec_line_fn callbacks, and process checks (is a pid gone, including
 * grandchildren that were reparented and became zombies). Everything
 * asserts with criterion on failure.
 */
#ifndef TESTS_EXECUTOR_EXEC_TEST_H
#define TESTS_EXECUTOR_EXEC_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tests/github/gh_test.h"

#ifndef EXT_FAKE_AGENT
#error "tests/executor/meson.build defines EXT_FAKE_AGENT"
#endif
#ifndef EXT_DATA_DIR
#error "tests/executor/meson.build defines EXT_DATA_DIR"
#endif
#ifndef EXT_FAKE_GITHUB
#error "tests/executor/meson.build defines EXT_FAKE_GITHUB"
#endif

/* Collected lines (owned copies, NUL-terminated). */
typedef struct ext_lines {
  char **text;
  size_t *len;
  int *stream;
  unsigned *flags;
  size_t n, cap;
} ext_lines_t;

/** An exec_line_fn that appends to the ext_lines_t passed as @p ud. */
void ext_collect(void *ud, int stream, const char *line, size_t len,
                 unsigned flags);
void ext_lines_free(ext_lines_t *l);
/** Index of the first collected line on @p stream equal to @p s, or -1. */
long ext_lines_find(const ext_lines_t *l, int stream, const char *s);

/** True when @p pid no longer runs (gone, or a zombie nobody reaped). */
bool ext_pid_dead(pid_t pid);
/** Wait (bounded, polling) until every pid listed in @p pidfile is dead;
 * returns how many pids the file listed. Asserts. */
size_t ext_expect_pids_dead(const char *pidfile, int timeout_ms);
/** Read the pids listed in @p pidfile (one per line). */
size_t ext_read_pids(const char *pidfile, pid_t *out, size_t max);

/** Run a shell command line made with printf-style @p fmt; asserts exit 0. */
void ext_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Run a shell command line; returns its output (malloc'd, trailing
 * newline removed); asserts exit 0. */
char *ext_sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Whole file (malloc'd, NUL-terminated) or NULL when absent. */
char *ext_read_file(const char *path);
/** Write @p text to @p path (creating parent directories). */
void ext_write_file(const char *path, const char *text);

/** A new git repository in a fresh temporary directory, with README.md,
 * src/main.c and .github/workflows/ci.yml committed on branch "main" by a
 * fixed author. Returns the directory (free() it; tst_rmrf() it). */
char *ext_git_repo(void);

/** A criterion .fini hook: in AddressSanitizer builds, run LeakSanitizer
 * and abort the test process (the test then counts as crashed) on any
 * leak. (An assertion in .fini would not fail the test; criterion's
 * workers leave with _exit, so the exit-time check never runs.) */
void ext_leak_check(void);

/** Start fake_github.py (EXT_FAKE_GITHUB: a GitHub stand-in on
 * 127.0.0.1 that prints its port, then serves until its stdin closes or
 * SIGTERM) logging requests to @p log, and wait (bounded) for its port.
 * Stop it with ght_server_stop() (tests/github/gh_test.h). Asserts. */
void ext_fake_github_start(ght_server_t *s, const char *log);

/** "<EXT_DATA_DIR>/<name>.jsonl" in a static buffer. */
const char *ext_transcript(const char *name);

#endif /* TESTS_EXECUTOR_EXEC_TEST_H */
