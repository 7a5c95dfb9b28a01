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
 */
#ifndef CCM_SCAN_GITCMD_H
#define CCM_SCAN_GITCMD_H

#include <stddef.h>

/* Receives stdout in chunks; non-zero stops reading (git is killed). */
typedef int (*gitcmd_out_fn)(void *ud, const char *data, size_t len);

/**
 * Run `git -C dir args...` (args NULL-terminated).
 * @return git's exit status (0 ok), 127 when git cannot be started, -1 on
 *         a system error, or the callback's non-zero value when it stopped
 *         the run. On a non-zero result @p err (when not NULL) holds a
 *         one-line reason: git's first stderr line or the system error.
 */
int gitcmd_run(const char *dir, const char *const args[], gitcmd_out_fn out,
               void *ud, char *err, size_t errlen);

#endif /* CCM_SCAN_GITCMD_H */
