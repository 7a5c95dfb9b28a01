/*
 * gitcmd.h: run git in a directory and stream what it prints.
 *
 * The scanner asks git for the files it tracks (ls-files -z) and for blame
 * lines; both can be large, so stdout is handed to a callback in chunks as
 * it arrives and never held whole. stderr is kept (first 512 bytes) for
 * the error message. stdin is /dev/null, the environment is the caller's
 * with GIT_TERMINAL_PROMPT=0 and LC_ALL=C, so git never asks anything and
 * its messages are stable. Blocking: call it from a blocking job or a CLI
 * thread, never from an actor handler.
 *
 * Bounded: every run has a deadline (a hung git, waiting on a lock, a
 * credential helper or a huge repository, must not hang a scan nor the
 * daemon's shutdown). git runs in its own process group; at the deadline,
 * or when gitcmd_cancel_all() was called (the daemon stopping), the whole
 * group is killed (hooks and helpers with it) and the run fails with
 * GITCMD_ETIMEDOUT ("git ls-files timed out after 5 min") or
 * GITCMD_ECANCELLED. Two deadlines, process-wide: one for commands whose
 * work grows with the repository (gitcmd_run: ls-files, blame, log,
 * worktree add, push), one for small queries (gitcmd_query: rev-parse,
 * config); gitcmd_set_timeouts() changes them (the daemon: scan.git_timeout).
 */
#ifndef CCM_SCAN_GITCMD_H
#define CCM_SCAN_GITCMD_H

#include <stddef.h>
#include <stdint.h>

/* Results besides git's exit status (all negative, below -1). */
#define GITCMD_ETIMEDOUT (-4000)
#define GITCMD_ECANCELLED (-4001)

/* The default deadlines, in milliseconds. */
#define GITCMD_RUN_TIMEOUT_MS (5u * 60u * 1000u)
#define GITCMD_QUERY_TIMEOUT_MS (30u * 1000u)

/* Receives stdout in chunks; non-zero stops reading (git is killed). */
typedef int (*gitcmd_out_fn)(void *ud, const char *data, size_t len);

/**
 * Run `git -C dir args...` (args NULL-terminated) within the run deadline.
 * @return git's exit status (0 ok), 127 when git cannot be started, -1 on
 *         a system error, GITCMD_ETIMEDOUT, GITCMD_ECANCELLED, or the
 *         callback's non-zero value when it stopped the run. On a non-zero
 *         result @p err (when not NULL) holds a one-line reason: git's
 *         first stderr line, the deadline, or the system error.
 */
int gitcmd_run(const char *dir, const char *const args[], gitcmd_out_fn out,
               void *ud, char *err, size_t errlen);

/** The same within the (shorter) query deadline. */
int gitcmd_query(const char *dir, const char *const args[], gitcmd_out_fn out,
                 void *ud, char *err, size_t errlen);

/** The same within @p timeout_ms (0: the run deadline). */
int gitcmd_run_within(const char *dir, const char *const args[],
                      uint64_t timeout_ms, gitcmd_out_fn out, void *ud,
                      char *err, size_t errlen);

/**
 * Run git and collect its stdout, NUL-terminated, into *@p out (malloc'd:
 * the caller frees it, also after a failure, when it holds what git printed
 * before; NULL only when nothing could be allocated). More than @p max
 * bytes (0: no cap) stops git: GITCMD_ETOOBIG, *out holds the first ones.
 * @return as gitcmd_run_within() (-1 when out of memory).
 */
#define GITCMD_ETOOBIG (-4002)
int gitcmd_capture(const char *dir, const char *const args[],
                   uint64_t timeout_ms, size_t max, char **out, size_t *len,
                   char *err, size_t errlen);

/** Set the run and query deadlines (0 keeps that one). Any thread; runs
 * already started keep theirs. */
void gitcmd_set_timeouts(uint64_t run_ms, uint64_t query_ms);
/** The current run and query deadlines. */
uint64_t gitcmd_run_timeout_ms(void);
uint64_t gitcmd_query_timeout_ms(void);

/** Shutdown: kill every running git now and fail every later run at once
 * (GITCMD_ECANCELLED) until gitcmd_cancel_reset(). Any thread. */
void gitcmd_cancel_all(void);
void gitcmd_cancel_reset(void);

#endif /* CCM_SCAN_GITCMD_H */
