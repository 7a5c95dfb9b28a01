/*
 * prioritizer.h: the prioritizer actor (SPEC §1.3, issue #6).
 *
 * One actor keeps every task's WSJF score (wsjf.h) current and the queue
 * ranked (board.h), and hands the best approved tasks to the executor.
 *
 *   - Start-up and every cycle (cycle_ms): on a runtime blocking thread,
 *     `git log` churn per repository (churn.h), then every task read from
 *     the store and scored; the actor takes the result, fills the board,
 *     and writes each score that differs from the stored one.
 *   - Between cycles it follows the store's event log (every poll_ms, and
 *     at once on PRIO_MSG_TOUCH): each task named by a "tasks" event (the
 *     analyzer's creations and changes, the control plane's actions) or an
 *     "executor" event (run outcomes) is read again, scored, moved on the
 *     board in O(log n), and its score written when it changed. Nothing is
 *     re-sorted.
 *   - Scores are written through the store actor with the COMMAND "prio"
 *     (store.h store_task_set_score): the task is read inside the write
 *     transaction, so a transition committed meanwhile is never undone.
 *   - agents.auto_approve: a `new` task of a listed kind is moved new ->
 *     triaged -> ready (actor "prioritizer", reason "auto-approve"), and a
 *     "tasks" event with the task is appended.
 *   - Feeding: when ready tasks may start, it asks the executor for its
 *     status (EXEC_MSG_STATUS) and sends EXEC_MSG_RUN for the best ready
 *     tasks that fit the free slots (concurrency minus running and queued),
 *     unless a usage pause or the day's budget holds. A task is handed over
 *     automatically once (attempts 0); one that ran before waits for a
 *     human `run`, except a run ccm cut short: a task the executor
 *     requeued at start-up (it was running when ccm stopped) is handed
 *     over again by itself. The executor still enforces every budget.
 *   - Overrides: PRIO_MSG_COMMAND sets "prio:" labels (wsjf.h): bump, or
 *     one input set by hand; pin and skip are the task's own (actions).
 *
 * Messages: see the enum. Error codes: -36601.. (executor.h leaves the
 * rest of -36xxx to the prioritizer).
 */
#ifndef CCM_PRIO_PRIORITIZER_H
#define CCM_PRIO_PRIORITIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "actors/prioritizer/board.h"
#include "actors/prioritizer/wsjf.h"
#include "runtime/actor.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PRIO_ERRNO_MAP(XX)                                                   \
  XX(EINVAL, -36601, "invalid override (want bump -100..100, inputs 1-10)")  \
  XX(ENOTFOUND, -36602, "no such task")

enum prio_errno {
#define PRIO_ERR_ENUM(name, code, text) PRIO_##name = (code),
  PRIO_ERRNO_MAP(PRIO_ERR_ENUM)
#undef PRIO_ERR_ENUM
};
/** "PRIO_EINVAL: ...", or the store_/rt_ text. Never NULL. */
const char *prio_strerror(int rc);

/* Runtime message types (0x5F00xxxx). */
enum {
  /* Rescore one task now: payload = its id (bytes). */
  PRIO_MSG_TOUCH = 0x5F000001u,
  /* An override (request or plain send): payload = JSON text {"task": id,
   * "bump": n | null, "value": n | null, "time_criticality": ...,
   * "risk_reduction": ..., "job_size": ..., "clear": bool}; a number sets,
   * null removes, "clear" removes every override first. Reply
   * PRIO_MSG_REPLY once the store has it: 0, PRIO_EINVAL, PRIO_ENOTFOUND,
   * a store code. */
  PRIO_MSG_COMMAND,
  /* A request answered (PRIO_MSG_REPLY, 0) once everything the actor had
   * to do when it arrived is done: the start-up or a running cycle, the
   * events logged until then, and the store's acknowledgement of every
   * write that followed. Tests and tools wait with it. */
  PRIO_MSG_SYNC,
  /* Run a cycle now (churn and every task rescored). */
  PRIO_MSG_CYCLE,
  /* Reply payload: int32_t rc. */
  PRIO_MSG_REPLY,
  /* Take new settings (a SIGHUP reload) and rescore every task (a
   * cycle): payload = a `const prio_config_t *` (the pointer's bytes)
   * that, with everything it points to, stays valid while the actor
   * runs. Taken: rules, the repositories' rules (when the list has as
   * many repositories), churn window, auto_approve, concurrency, dry_run,
   * the day's caps; kept: poll_ms, cycle_ms, feeding, the executor.
   * Reply (when a request): PRIO_MSG_REPLY 0. */
  PRIO_MSG_RECONFIGURE,
  PRIO_MSG__FIRST_INTERNAL = 0x5F000100u,
};

/* One repository: its local path (churn; tasks of repositories without
 * one are never handed to the executor) and its rules. */
typedef struct prio_repo {
  const char *id;
  const char *path;       /* NULL: no local working copy */
  prio_rules_t rules;
  int churn_days;         /* churn window; -1: the config's; 0: none */
} prio_repo_t;

/* Configuration: plain values; pointers must outlive the actor. */
typedef struct prio_config {
  prio_rules_t rules;           /* tasks of repositories not listed */
  const prio_repo_t *repos;
  size_t nrepos;
  unsigned churn_window_days;   /* 0: no churn */
  unsigned poll_ms;             /* event log poll; 0: 1000 */
  unsigned cycle_ms;            /* churn + full rescore; 0: 10 min */
  const char *const *auto_approve; /* task kinds */
  size_t nauto_approve;
  /* the executor, for reasons and feeding */
  bool feed_executor;           /* hand ready tasks over */
  rt_actor_t *executor;         /* NULL: the actor named "executor" */
  unsigned concurrency;         /* agents.concurrency; 0: 2 */
  bool dry_run;
  unsigned max_tasks_per_day;   /* 0: no cap */
  double max_usd_per_day;       /* 0: no cap */
} prio_config_t;

/** Defaults: default rules, 30-day churn window, poll 1 s, cycle 10 min,
 * feeding on, concurrency 2, dry run. */
void prio_config_defaults(prio_config_t *cfg);

/**
 * Spawn the prioritizer. It reads @p store (borrowed: close it after the
 * actor stopped) and writes through @p store_actor (a reference is kept).
 * @param board  receives a reference to its queue board (release it);
 *               may be NULL.
 * @return 0 or an rt_actor_spawn() code; *out always written.
 */
int prio_spawn(rt_runtime_t *rt, const prio_config_t *cfg, store_t *store,
               rt_actor_t *store_actor, const char *name, rt_actor_t **out,
               prio_board_t **board);

/** The queue view (board.h) with each listed task's title and the why of
 * its stored score, read from @p store. Any thread. New object or NULL. */
json_t *prio_queue_json(prio_board_t *b, store_t *store,
                        const prio_view_query_t *q, int64_t now_ms);

/** Send PRIO_MSG_RECONFIGURE with @p cfg (which must outlive the actor)
 * without waiting. @return 0 or an rt_send() code. */
int prio_reconfigure(rt_actor_t *prio, const prio_config_t *cfg);

/** From a thread that is not a worker: PRIO_MSG_SYNC and wait.
 * @return 0 or an rt_call() error. */
int prio_sync(rt_runtime_t *rt, rt_actor_t *prio, uint32_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* CCM_PRIO_PRIORITIZER_H */
