/*
 * prio_int.h: internals of the prioritizer actor (this folder only).
 *
 * Design note
 * -----------
 * Files: wsjf.c (the formula, pure), rank.c (the treap), board.c (the
 * ranked queue and its reasons, shared with the web thread under a lock),
 * churn.c (git log), cycle.c (the blocking job: churn, read and score every
 * task), prioritizer.c (the actor: events, writes, approvals, overrides,
 * sync), feed.c (the executor: status, hand-over).
 *
 * State lives in prio_t, touched by the actor's handlers only; the board is
 * the one thing another thread reads. The blocking job gets a copy of what
 * it needs (the config's pointers are immutable while the actor runs, the
 * store is thread-safe for reads) and hands its result back as a pointer
 * in a message; nothing it owns is touched by the actor until then.
 *
 * Stopping mid-cycle: the job and the actor's on_stop race for the cycle
 * through prio__cycle_t.phase (one compare-and-swap each). The job, done,
 * moves RUNNING -> POSTED and no longer touches the cycle; on_stop moves
 * RUNNING -> ABANDONED. Whoever loses frees nothing: an abandoned job
 * frees its own cycle (and stops reading the store early); a stopped actor
 * whose job already posted frees the cycle, since the result message is
 * dropped unread (the runtime frees only the message, a pointer's bytes).
 *
 * Flow control: at most WRITE_WINDOW store writes are in flight; a cycle's
 * result is applied APPLY_CHUNK tasks per turn, and the next chunk waits
 * while the window is full (the store actor's mailbox is bounded, and a
 * worker turn should stay short). The event tail reads at most TAIL_BATCH
 * events per turn and continues in the next one.
 *
 * Invariants: a task's score is written only when it differs from the
 * stored one (total, inputs or why), so a quiet store stays quiet; the
 * board holds the score the task has (or is about to have) in the store.
 */
#ifndef CCM_PRIO_INT_H
#define CCM_PRIO_INT_H

#include <stdatomic.h>

#include "actors/executor/executor.h"
#include "actors/prioritizer/churn.h"
#include "actors/prioritizer/prioritizer.h"
#include "runtime/actor.h"

#define PRIO__MSG_TICK (PRIO_MSG__FIRST_INTERNAL + 1)
#define PRIO__MSG_CYCLE_DONE (PRIO_MSG__FIRST_INTERNAL + 2)
#define PRIO__MSG_APPLY (PRIO_MSG__FIRST_INTERNAL + 3)

#define PRIO__WRITE_WINDOW 2048 /* store writes in flight (mailbox 65,536) */
#define PRIO__APPLY_CHUNK 4096  /* cycle items applied per turn */
#define PRIO__TAIL_BATCH 2048   /* events read per turn */
#define PRIO__WRITE_TIMEOUT_MS 60000u
#define PRIO__EXEC_TIMEOUT_MS 30000u
#define PRIO__MAX_RUNS 64       /* hand-overs per status */
#define PRIO__WHY_MAX 480
/* The history reason of the executor's start-up requeue (running ->
 * ready, actors/executor/pool.c requeue_one), matched as a prefix. */
#define PRIO__REQUEUE_REASON "requeued at start-up"

/* One task as a cycle scored it. */
typedef struct prio__item {
  char *id, *repo, *kind;
  proto_state_t state;
  bool pinned;
  uint32_t attempts;
  int64_t first_seen;
  proto_score_t score; /* why owned */
  bool changed;        /* differs from the stored score */
} prio__item_t;

/* A cycle: set up by the actor, filled on a blocking thread. */
typedef struct prio__cycle {
  /* inputs */
  prio_config_t cfg_copy;
  const prio_config_t *cfg; /* &cfg_copy */
  store_t *store;
  int64_t now_ms;
  /* outputs */
  prio_churn_t **churn;  /* one per cfg->repos (NULL: none) */
  uint64_t seq_before;   /* the event log's last seq before the read */
  prio__item_t *items;
  size_t n, cap;
  int rc;                /* a store error, or 0 */
  atomic_int phase;      /* PRIO__CYCLE_RUNNING, _POSTED, _ABANDONED */
} prio__cycle_t;

enum { PRIO__CYCLE_RUNNING = 0, PRIO__CYCLE_POSTED, PRIO__CYCLE_ABANDONED };

typedef struct prio__wait {
  uint64_t corr;         /* our request to the store or the executor */
  int kind;              /* W_STORE_REPLY, W_EXEC_STATUS, W_EXEC_RUN */
  rt_reply_to_t to;      /* W_STORE_REPLY: who asked (corr 0: nobody) */
  char id[80];           /* W_EXEC_RUN: the task */
} prio__wait_t;

enum { W_STORE_REPLY = 1, W_EXEC_STATUS, W_EXEC_RUN };

typedef struct prio {
  prio_config_t cfg;
  store_t *store;
  rt_actor_t *store_actor;
  prio_board_t *board;
  rt_runtime_t *rt;
  rt_actor_t *self;
  prio_churn_t **churn;     /* one per cfg.repos */
  uint64_t last_seq;        /* events read up to here */
  bool loaded;              /* the first cycle is applied */
  bool cycle_running;       /* a job is out */
  prio__cycle_t *running;   /* its cycle (the job owns it until posted) */
  bool cycle_again;         /* PRIO_MSG_CYCLE while one ran */
  prio__cycle_t *applying;  /* a result being applied */
  size_t apply_next;
  uint64_t writes_out;      /* store writes not acknowledged */
  prio__wait_t *waits;      /* requests whose answer matters */
  size_t nwaits, capwaits;
  rt_reply_to_t *syncs;     /* PRIO_MSG_SYNC waiting */
  size_t nsyncs, capsyncs;
  bool exec_busy;           /* a status or runs are out */
  size_t exec_runs_out;
  int64_t last_status_ms;   /* when the last status was asked */
  uint64_t tick_timer, cycle_timer;
  uint64_t scored, written, approved, handed; /* counters */
  uint64_t write_errors;    /* store writes refused or timed out */
} prio_t;

/* cycle.c */
/** The rules and the churn table for a task of @p repo. */
const prio_rules_t *prio__rules_for(const prio_config_t *cfg,
                                    prio_churn_t *const *churn,
                                    const char *repo,
                                    const prio_churn_t **churn_out);
/** Score @p t now; @p why gets the sentence. */
void prio__score_task(const prio_config_t *cfg, prio_churn_t *const *churn,
                      const proto_task_t *t, int64_t now_ms,
                      proto_score_t *out, char *why, size_t whylen);
/** Does @p s differ from the stored score @p old? */
bool prio__score_differs(const proto_score_t *s, const proto_score_t *old);
/** The blocking job (rt_blocking_fn); its result is PRIO__MSG_CYCLE_DONE
 * carrying the prio__cycle_t pointer. */
void prio__cycle_job(void *arg, rt_msg_t **result);
void prio__cycle_free(prio__cycle_t *c, size_t nrepos);
/** on_stop with a job out: free its cycle if the job already posted it,
 * else leave it to the job (see the note above). */
void prio__cycle_abandon(prio__cycle_t *c, size_t nrepos);
int64_t prio__now_ms(void);

/* prioritizer.c */
/** Remember a request (store or executor) by its corr. */
prio__wait_t *prio__wait_add(prio_t *p, uint64_t corr, int kind);
/** Take the request @p corr out of the table into *out; false if unknown. */
bool prio__wait_take(prio_t *p, uint64_t corr, prio__wait_t *out);
/** Read task @p id again, score it, move it on the board, write what
 * changed. */
void prio__rescore(rt_ctx_t *ctx, prio_t *p, const char *id);

/* feed.c */
/** Ask the executor for its status when a ready task may start. */
void prio__feed_maybe(rt_ctx_t *ctx, prio_t *p);
/** Task @p id was just put on the board in @p state after @p attempts
 * runs: if its last move was the executor's start-up requeue, mark it to
 * be handed over again (a store history read, only for ready tasks that
 * ran). */
void prio__feed_note_requeue(prio_t *p, const char *id, proto_state_t state,
                             uint32_t attempts);
/** EXEC_MSG_STATUS arrived: update the board and hand tasks over. */
void prio__feed_status(rt_ctx_t *ctx, prio_t *p, const rt_msg_t *m);
/** EXEC_MSG_REPLY (or a timeout) for a hand-over of @p w->id. */
void prio__feed_reply(rt_ctx_t *ctx, prio_t *p, const prio__wait_t *w,
                      int rc);

#endif /* CCM_PRIO_INT_H */
