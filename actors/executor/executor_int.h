/*
 * executor_int.h: between the executor's two actors (actors/executor/ only).
 *
 * Design note.
 *
 *   EXEC_MSG_RUN --> pool actor ---- COMMAND task_step/EVENT ---> store actor
 *                    |   ^   ^                                        |
 *       spawn (spec) |   |   +------------- STORE_MSG_ACK ------------+
 *                    v   | EXEC__MSG_RUN_DONE (outcome JSON)
 *                  run actor (one per running task)
 *                    | blocking jobs: worktree add, commit + numstat,
 *                    |                worktree remove (git, files)
 *                    | rt_fd_watch: stdout, stderr, pidfd of the child
 *                    | one-shot timer at the child's next deadline
 *                    +--> sink: AGENT_OUTPUT per line; EVENT per outcome
 *                    +--> GitHub client (rt_request): create the pull
 *                         request after a push (a blocking job), or the
 *                         github-mention comment; answer or timeout back
 *
 * The pool actor (pool.c) owns the queue (FIFO of task ids with their
 * retry counts and not-before times), the count of starts in flight, the
 * day's ledger (starts and dollars per UTC day) and the usage-limit pause.
 * It is the only writer of task state, so all of one task's writes reach
 * the store actor from one sender, in order. Each state change is one
 * write, a "task_step" (store.h): the transition, the fields that go with
 * it (attempt and branch at a start, the pull request at the end) and the
 * "tasks" event with the task as committed, in one transaction: no crash
 * can separate the event from its transition, and a transition the store
 * refuses publishes nothing. A start is a request
 * (ready -> running); the run actor is spawned only once the store has
 * acknowledged it, so a task that someone else moved meanwhile never
 * runs. The outcome's EVENT is forwarded to the sink only after its own
 * acknowledgement: a sink that sees it can read the final state.
 *
 * The run actor (run.c) owns one run: its spec (a copy of the config and
 * of the task), the worktree paths, the child process (proc.h), the
 * stream reader (stream.h) and the changes. It never blocks: git and file
 * work go to blocking jobs, the child is watched by the I/O thread, and
 * waitpid runs with WNOHANG once the pidfd says the child exited. A job's
 * record is shared by the job and the actor (two references), so a run
 * actor that stops while a job runs never frees memory the job writes.
 *
 * Limits and why: task ids are at most EXEC_ID_MAX bytes of
 * [A-Za-z0-9._-] (they become a directory and a branch name); the outcome
 * EVENT lists at most EXEC_EVENT_FILES files (an event must fit the
 * protocol's 1 MiB cap); the last EXEC_TAIL_MAX bytes of stderr and of the
 * test output are kept for reasons.
 */
#ifndef CCM_EXEC_EXECUTOR_INT_H
#define CCM_EXEC_EXECUTOR_INT_H

#include <jansson.h>

#include "actors/executor/executor.h"
#include "protocol/proto.h"

#define EXEC_ID_MAX 128
#define EXEC_EVENT_FILES 200
#define EXEC_TAIL_MAX 2048
#define EXEC_EVENT_TOPIC "executor"

enum {
  EXEC__MSG_BEGIN = EXEC_MSG__FIRST_INTERNAL, /* pool: start-up work */
  EXEC__MSG_RECOVERED,  /* pool: restart clean-up job finished */
  EXEC__MSG_WAKE,       /* pool: timer (retry backoff, pause over) */
  EXEC__MSG_RUN_DONE,   /* run -> pool: outcome JSON text */
  EXEC__MSG_RUN_BEGIN,  /* run: first message */
  EXEC__MSG_RUN_JOB,    /* run: a blocking job finished (payload: pointer) */
  EXEC__MSG_RUN_TICK,   /* run: the child's deadline timer */
  EXEC__MSG_RUN_CANCEL, /* pool -> run */
};

/* What the pool hands a run actor (owned by the run actor afterwards). */
typedef struct exec__run_spec {
  exec_config_t cfg;            /* a copy; its pointers are the caller's */
  const exec_repo_t *repo;
  const exec_preset_t *preset;
  proto_task_t task;            /* owned copy */
  unsigned attempt;             /* 1 for the first run of this task */
  rt_actor_t *pool;             /* a reference */
  rt_actor_t *sink;             /* a reference, or NULL */
  rt_actor_t *github;           /* a reference, or NULL (cfg.github) */
} exec__run_spec_t;

/** Spawn a run actor; it takes @p spec (also on failure: freed).
 * @return as rt_actor_spawn(); *out gets a reference. */
int exec__run_spawn(rt_runtime_t *rt, exec__run_spec_t *spec,
                    rt_actor_t **out);

/** Free a spec and what it owns (references released). NULL is a no-op. */
void exec__run_spec_free(exec__run_spec_t *spec);

/** True when @p id is usable as a directory and branch name. */
bool exec__id_ok(const char *id);

/** Paths of a task's worktree, branch and run directory. @return 0 or
 * EXEC_EINVAL when they do not fit. */
int exec__paths(const char *data_dir, const char *task_id, char *wt,
                size_t wtlen, char *branch, size_t blen, char *runs,
                size_t rlen);

/** Wall-clock unix milliseconds. */
int64_t exec__wall_ms(void);

/** Send @p m encoded as msgpack to @p to with runtime type m->type (for
 * the sink). @return 0 or an rt_/proto_ error (the message is dropped). */
int exec__send_proto(rt_actor_t *to, const proto_msg_t *m);

#endif /* CCM_EXEC_EXECUTOR_INT_H */
