/*
 * proc.h: supervise one child process (an agent, or a project's tests).
 *
 * The child runs in a process group of its own, in a directory of the
 * caller's choosing, with a minimal environment (PATH, HOME, LANG, TERM
 * from ccm's own, then the variables named in pass_env copied from ccm's
 * environment, then the given NAME=value pairs), a file (the prompt) or
 * /dev/null on stdin, and stdout/stderr on two pipes whose read ends are
 * non-blocking. No other descriptor of ccm reaches it.
 *
 * Limits: an idle timeout (no byte on either pipe for idle_ms) and a wall
 * clock timeout send SIGTERM to the whole group, and SIGKILL follows
 * grace_ms later if the leader has not exited. When the leader exits, the
 * rest of its group is SIGKILLed at once (grandchildren never outlive a
 * run), and pipes that stay open after that (a process that left the
 * group) are abandoned grace_ms later.
 *
 * Two drivers share this state machine:
 *  - exec_proc_run(): synchronous, poll()-based; for tests and tools.
 *  - the executor's run actor: rt_fd_watch on the pipes and on a pidfd
 *    (readable when the child exits; waitpid is then WNOHANG and never
 *    blocks a worker) and a one-shot timer at the next deadline returned
 *    by exec_proc_tick().
 *
 * Threading: an exec_proc_t belongs to one thread (or actor) at a time.
 */
#ifndef CCM_EXEC_PROC_H
#define CCM_EXEC_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "actors/executor/lines.h"

/* Stream numbers passed to line callbacks and exec_proc_pump(). */
enum { EXEC_STDOUT = 0, EXEC_STDERR = 1 };

typedef struct exec_spawn_spec {
  const char *const *argv;     /* NULL-terminated; argv[0] is looked up in
                                  the child's PATH unless it has a '/' */
  const char *cwd;             /* NULL: ccm's own */
  const char *stdin_path;      /* NULL: /dev/null */
  const char *const *env;      /* "NAME=value", NULL-terminated; may be NULL */
  const char *const *pass_env; /* names, NULL-terminated; may be NULL */
} exec_spawn_spec_t;

typedef struct exec_limits {
  uint64_t idle_ms;  /* no output this long: SIGTERM; 0 = no limit */
  uint64_t wall_ms;  /* running this long: SIGTERM; 0 = no limit */
  uint64_t grace_ms; /* SIGTERM -> SIGKILL; 0 = 5000 */
} exec_limits_t;

typedef enum exec_kill_reason {
  EXEC_KILL_NONE = 0,
  EXEC_KILL_IDLE,   /* idle timeout: a stall */
  EXEC_KILL_WALL,   /* wall-clock timeout */
  EXEC_KILL_CANCEL, /* exec_proc_cancel() */
} exec_kill_reason_t;

typedef struct exec_proc {
  /* read-only */
  pid_t pid;                 /* also the process group id */
  int fd[3];                 /* stdout, stderr (read ends), pidfd; -1 closed */
  bool exited;               /* the leader was reaped */
  int status;                /* its wait status once exited */
  exec_kill_reason_t killed; /* why SIGTERM was sent, if it was */
  bool killed_hard;          /* SIGKILL was needed */
  bool abandon;              /* pipes outlived the group: close them now */
  uint64_t started_ms, last_output_ms, exited_ms;
  uint64_t bytes[2];         /* read from stdout, stderr */
  exec_lines_t lines[2];
  /* private */
  exec_limits_t lim;
  uint64_t term_ms;
} exec_proc_t;

/** Monotonic milliseconds. */
uint64_t exec_now_ms(void);

/**
 * Start a child. On success @p p is live: drive it, then exec_proc_close().
 * @param line_cap  longest line handed to callbacks (0: 1 MiB).
 * @return 0; -ENOENT when argv[0] is not found in the child's PATH; another
 *         -errno when a pipe, the prompt file, the directory or the spawn
 *         fails. On failure @p err gets a sentence and nothing is left
 *         open. Never blocks beyond the spawn itself.
 */
int exec_proc_spawn(const exec_spawn_spec_t *spec, const exec_limits_t *lim,
                    size_t line_cap, exec_proc_t *p, char *err,
                    size_t errlen);

/**
 * Read what is ready on stdout (EXEC_STDOUT) or stderr and hand complete
 * lines to @p fn. Reads at most @p budget bytes (0: 256 KiB) so one chatty
 * child cannot hog a worker. The pipe stays open at EOF: the caller
 * unwatches it (rt_fd_unwatch) and then calls exec_proc_close_pipe(), which
 * hands over the last partial line.
 * @return 1 at EOF, 0 when more may come, -errno on a read error (to be
 *         treated as EOF).
 */
int exec_proc_pump(exec_proc_t *p, int stream, size_t budget,
                   exec_line_fn fn, void *ud);

/** Reap the leader without blocking; once it has exited, SIGKILL what is
 * left of its group. @return true when the leader has exited. */
bool exec_proc_reap(exec_proc_t *p);

/**
 * Enforce the limits at time @p now_ms: SIGTERM on idle or wall timeout,
 * SIGKILL after the grace, set p->abandon when pipes outlive the group.
 * @return the next time (exec_now_ms scale) this must be called, or 0 when
 *         no deadline is pending.
 */
uint64_t exec_proc_tick(exec_proc_t *p, uint64_t now_ms);

/** Ask the group to stop now (SIGTERM, SIGKILL after the grace through
 * exec_proc_tick). A no-op once the leader has exited. */
void exec_proc_cancel(exec_proc_t *p, uint64_t now_ms);

/** Close a pipe (EXEC_STDOUT/EXEC_STDERR), handing over its partial line. */
void exec_proc_close_pipe(exec_proc_t *p, int stream, exec_line_fn fn,
                          void *ud);

/** True once the leader exited and both pipes are closed. */
bool exec_proc_finished(const exec_proc_t *p);

/**
 * Release everything: SIGKILL the group if the leader still runs and reap
 * it (this one wait may block briefly, for a process already killed),
 * close every descriptor, free the line buffers. The read-only result
 * fields stay valid. Safe to call twice.
 */
void exec_proc_close(exec_proc_t *p);

/**
 * Run a child to completion (synchronous driver): spawn, pump both pipes
 * with poll(), enforce the limits, reap, close. The result stays in @p p
 * (exited, status, killed, killed_hard, bytes).
 * @return as exec_proc_spawn(); 0 once the child has been reaped.
 */
int exec_proc_run(const exec_spawn_spec_t *spec, const exec_limits_t *lim,
                  size_t line_cap, exec_line_fn fn, void *ud, exec_proc_t *p,
                  char *err, size_t errlen);

/**
 * Record a live child's group in @p path ("<pid> <start time>\n", the
 * start time in clock ticks since boot from /proc/<pid>/stat), so that a
 * ccm killed with SIGKILL can stop the group after its restart: the agent
 * runs in its own process group and outlives ccm. @return 0 or -errno.
 */
int exec_proc_record(const exec_proc_t *p, const char *path);

/**
 * The restart side: SIGKILL the process group recorded in @p path when its
 * leader still runs and is the same process (its start time matches: a
 * pid reused since is left alone), then delete the file.
 * @return true when a group was killed.
 */
bool exec_proc_kill_recorded(const char *path);

/** Exit code of a reaped child, or -1 when a signal ended it. */
int exec_proc_exit_code(const exec_proc_t *p);
/** The signal that ended a reaped child, or 0. */
int exec_proc_term_signal(const exec_proc_t *p);

#endif /* CCM_EXEC_PROC_H */
