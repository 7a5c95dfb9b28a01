/*
 * board.h: the ranked queue the prioritizer keeps in memory, and why each
 * task in it is not running.
 *
 * One entry per known task that is not terminal (new, triaged, ready,
 * blocked, running, review, failed, skipped: everything but done,
 * resolved, rejected), found by id in a hash table, and linked into the
 * ranked set (rank.h) of its state. A task update is a lookup and, when its
 * state, pin or score changed, a remove and an insert: O(log n), nothing
 * re-sorted. The best ready task is the first of the ready set.
 *
 * The queue view (prio_board_view) walks, in this order, the ready,
 * triaged, new and blocked sets and gives each task its position and its
 * reason:
 *   next                  ready and will be handed to the executor now
 *   concurrency_limit     ready, every agent slot is taken
 *   budget_spent          ready, the day's task or dollar budget is spent
 *   usage_limit           ready, the agent's usage limit holds until "until"
 *   policy                ready, but not started automatically (its
 *                         repository has no local path; it ran before, e.g.
 *                         a dry run or a cancel; the executor refused it)
 *   waiting_for_approval  new or triaged (auto-approve is pending for the
 *                         kinds in agents.auto_approve)
 *   blocked               blocked
 * Running tasks are the executor's, listed under "executor".
 *
 * Threading: the prioritizer actor writes, the web service thread reads
 * (GET /api/v1/queue); one mutex guards everything, held for one update or
 * one view. The board is reference counted: the actor and whoever serves
 * the view each hold one.
 */
#ifndef CCM_PRIO_BOARD_H
#define CCM_PRIO_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "protocol/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct prio_board prio_board_t;

/* What the board must know to give reasons (plain values, copied). */
typedef struct prio_board_config {
  unsigned concurrency;        /* agent slots; 0: 2 */
  bool dry_run;                /* budgets do not apply to dry runs */
  unsigned max_tasks_per_day;  /* 0: no cap */
  double max_usd_per_day;      /* 0: no cap */
  const char *const *local_repos; /* repository ids with a local path */
  size_t nlocal_repos;
  const char *const *auto_approve; /* task kinds approved automatically */
  size_t nauto_approve;
} prio_board_config_t;

/** @return 0 or -ENOMEM; *out always written. Starts with one reference. */
int prio_board_new(const prio_board_config_t *cfg, prio_board_t **out);
/** Take the limits and lists of @p cfg (a reload); entries stay. */
int prio_board_configure(prio_board_t *b, const prio_board_config_t *cfg);
prio_board_t *prio_board_retain(prio_board_t *b);
/** Drop a reference; the last frees. NULL is a no-op. */
void prio_board_release(prio_board_t *b);

/** Enter or update the task (its id, repo, kind, state, pin, attempts,
 * first_seen) with @p score; a terminal state removes it.
 * @return 1 when its place in the ranking changed, 0 when not, -ENOMEM. */
int prio_board_put(prio_board_t *b, const proto_task_t *t,
                   const proto_score_t *score);
/** Forget a task. */
void prio_board_remove(prio_board_t *b, const char *id);
/** Tasks on the board, and in one state. */
size_t prio_board_count(prio_board_t *b);
size_t prio_board_count_state(prio_board_t *b, proto_state_t s);
/** The stored total of a task the board knows: 0 and *found false
 * otherwise. */
double prio_board_score(prio_board_t *b, const char *id, bool *found);
/** The state the board holds for @p id, or -1 when it does not know it. */
int prio_board_state(prio_board_t *b, const char *id);
/** Ids of the first @p max tasks of state @p s, best first, into @p ids
 * (each a malloc'd copy for the caller to free). @return how many. */
size_t prio_board_top(prio_board_t *b, proto_state_t s, char **ids,
                      size_t max);

/* The executor as last seen (EXEC_MSG_STATUS). */
typedef struct prio_exec_view {
  bool known;                 /* a status has arrived */
  size_t running, queued;     /* entries in its pool */
  int64_t paused_until_ms;    /* usage limit; 0 none */
  unsigned day_tasks;
  double day_usd;
  bool budget_refused;        /* it answered EXEC_EBUDGET since */
} prio_exec_view_t;
void prio_board_set_exec(prio_board_t *b, const prio_exec_view_t *v);
/** Mark a task handed to the executor (or not, when it refused: then
 * @p refused_rc, non-zero, is remembered and the task is not handed
 * again until it changes). */
void prio_board_mark_fed(prio_board_t *b, const char *id, bool fed,
                         int refused_rc);

/** Task @p id, ready, was requeued at start-up (it was running when ccm
 * stopped): it may be handed over again although it ran before, once,
 * until it moves on (any change of state or attempts clears the mark). */
void prio_board_mark_requeued(prio_board_t *b, const char *id);

/** The executor refused a hand-over for the day's budget: reasons say
 * budget_spent until the next status. */
void prio_board_budget_refused(prio_board_t *b);
/** Is any ready task startable (see prio_board_next_runs, slots aside)? */
bool prio_board_startable(prio_board_t *b);

/**
 * The ready tasks to hand to the executor now, best first: free slots
 * (concurrency minus the executor's running and queued), no usage pause,
 * budget left (unless dry run); each never started (attempts 0, or
 * requeued at start-up: prio_board_mark_requeued), of a
 * repository with a local path, not handed or refused before. Ids are
 * malloc'd copies. @return how many (at most @p max).
 */
size_t prio_board_next_runs(prio_board_t *b, int64_t now_ms, char **ids,
                            size_t max);

/* A query of the queue view. */
typedef struct prio_view_query {
  size_t limit;       /* 1..1000; 0: 100 */
  size_t offset;      /* entries skipped */
  int state;          /* -1: the queue's states; else only this one */
  const char *repo;   /* NULL: any */
  const char *reason; /* NULL: any */
} prio_view_query_t;

/**
 * The queue view as JSON: {"queue": [{"id", "repo", "kind", "state",
 * "pinned", "position", "score": {...}, "reason", "detail", ["until"]}],
 * "total": n, "counts": {reason: n}, "executor": {...}, "next_offset":
 * n | null}. @return a new object, NULL when out of memory.
 */
json_t *prio_board_view(prio_board_t *b, const prio_view_query_t *q,
                        int64_t now_ms);

#ifdef __cplusplus
}
#endif
#endif /* CCM_PRIO_BOARD_H */
