/*
 * feed.c: handing the best ready tasks to the executor (prioritizer.h).
 *
 * One round at a time: EXEC_MSG_STATUS, then EXEC_MSG_RUN for as many of
 * the best startable ready tasks as there are free slots, then the next
 * round only after every RUN was answered, so a status always counts the
 * tasks handed over before it (no slot is given twice).
 *
 * A task runs by itself once (attempts 0); a later run is a user's `run`
 * action. The exception is a run ccm itself cut short: the executor
 * requeues a task left `running` at start-up (running -> ready, reason
 * PRIO__REQUEUE_REASON), and such a task is marked on the board to be
 * handed over again, as soon as the prioritizer reads it (a cycle or its
 * event), until it moves on. Other running -> ready moves (a dry run, a
 * cancel, a retry the executor keeps queued itself) are not marked.
 */
#include <stdlib.h>
#include <string.h>

#include "actors/prioritizer/prio_int.h"

#define STATUS_REFRESH_MS 10000 /* status for the reasons, nothing to start */

static rt_actor_t *executor_of(prio_t *p)
{
  rt_actor_t *x = NULL;
  if (p->cfg.executor)
    return rt_actor_retain(p->cfg.executor);
  return rt_actor_lookup(p->rt, "executor", &x) == 0 ? x : NULL;
}

void prio__feed_maybe(rt_ctx_t *ctx, prio_t *p)
{
  if (!p->cfg.feed_executor || p->exec_busy ||
      prio_board_count_state(p->board, PROTO_STATE_READY) == 0)
    return;
  int64_t now = prio__now_ms();
  if (!prio_board_startable(p->board) && now - p->last_status_ms < STATUS_REFRESH_MS)
    return;
  rt_actor_t *x = executor_of(p);
  rt_msg_t *m = NULL;
  uint64_t corr = 0;
  if (!x)
    return;
  if (rt_msg_new(EXEC_MSG_STATUS, NULL, 0, &m) == 0 &&
      rt_request(ctx, x, &m, PRIO__EXEC_TIMEOUT_MS, &corr) == 0 &&
      prio__wait_add(p, corr, W_EXEC_STATUS)) {
    p->exec_busy = true;
    p->last_status_ms = now;
  }
  rt_actor_release(x);
}

typedef struct last_move {
  proto_state_t from, to;
  bool requeue; /* its reason is the start-up requeue's */
} last_move_t;

static int last_move_of(const proto_task_update_t *u, void *arg)
{
  last_move_t *m = arg;
  m->from = u->from;
  m->to = u->to;
  m->requeue = u->reason && !strncmp(u->reason, PRIO__REQUEUE_REASON,
                                     strlen(PRIO__REQUEUE_REASON));
  return 0;
}

void prio__feed_note_requeue(prio_t *p, const char *id, proto_state_t state,
                             uint32_t attempts)
{
  if (state != PROTO_STATE_READY || attempts == 0)
    return; /* only a task that ran and is ready again can be one */
  last_move_t m = {0};
  if (store_history_foreach(p->store, id, last_move_of, &m) == 0 &&
      m.requeue && m.from == PROTO_STATE_RUNNING &&
      m.to == PROTO_STATE_READY)
    prio_board_mark_requeued(p->board, id);
}

/* The executor's status JSON into @p v; its running ids rescored later. */
static json_t *status_parse(const rt_msg_t *m, prio_exec_view_t *v)
{
  size_t len = 0;
  const char *d = rt_msg_data(m, &len);
  json_t *o = json_loadb(d, len, 0, NULL);
  memset(v, 0, sizeof *v);
  if (!json_is_object(o)) {
    json_decref(o);
    return NULL;
  }
  const json_t *day = json_object_get(o, "day");
  v->known = true;
  v->running = json_array_size(json_object_get(o, "running"));
  v->queued = json_array_size(json_object_get(o, "queued"));
  v->paused_until_ms = json_integer_value(json_object_get(o, "paused_until"));
  v->day_tasks = (unsigned)json_integer_value(json_object_get(day, "tasks"));
  v->day_usd = json_number_value(json_object_get(day, "usd"));
  return o;
}

static void hand_over(rt_ctx_t *ctx, prio_t *p, rt_actor_t *x,
                      const char *id)
{
  rt_msg_t *m = NULL;
  uint64_t corr = 0;
  prio__wait_t *w = NULL;
  if (rt_msg_new(EXEC_MSG_RUN, id, strlen(id), &m) != 0 ||
      rt_request(ctx, x, &m, PRIO__EXEC_TIMEOUT_MS, &corr) != 0 ||
      !(w = prio__wait_add(p, corr, W_EXEC_RUN)))
    return;
  snprintf(w->id, sizeof w->id, "%s", id);
  prio_board_mark_fed(p->board, id, true, 0);
  p->exec_runs_out++;
}

void prio__feed_status(rt_ctx_t *ctx, prio_t *p, const rt_msg_t *m)
{
  prio__wait_t w;
  if (!prio__wait_take(p, rt_msg_corr(m), &w))
    return;
  p->exec_busy = false;
  prio_exec_view_t v;
  json_t *o = status_parse(m, &v);
  if (!o)
    return;
  prio_board_set_exec(p->board, &v);
  json_decref(o);
  char *ids[PRIO__MAX_RUNS];
  size_t n = prio_board_next_runs(p->board, prio__now_ms(), ids,
                                  PRIO__MAX_RUNS);
  rt_actor_t *x = n ? executor_of(p) : NULL;
  for (size_t i = 0; i < n; i++) {
    if (x)
      hand_over(ctx, p, x, ids[i]);
    free(ids[i]);
  }
  rt_actor_release(x);
  p->exec_busy = p->exec_runs_out > 0;
}

void prio__feed_reply(rt_ctx_t *ctx, prio_t *p, const prio__wait_t *w,
                      int rc)
{
  if (w->kind == W_EXEC_STATUS) {
    p->exec_busy = false;
    return;
  }
  if (p->exec_runs_out)
    p->exec_runs_out--;
  p->exec_busy = p->exec_runs_out > 0;
  if (rc == 0 || rc == EXEC_EBUSY) {
    p->handed += rc == 0;
    return;
  }
  if (rc == EXEC_EBUDGET || rc == RT_ETIMEDOUT) {
    prio_board_mark_fed(p->board, w->id, false, 0); /* again later */
    if (rc == EXEC_EBUDGET)
      prio_board_budget_refused(p->board);
    return;
  }
  if (rc == EXEC_ESTATE || rc == EXEC_ENOTFOUND) {
    /* not ready (yet): an approval still in flight, or moved meanwhile */
    prio_board_mark_fed(p->board, w->id, false, 0);
    prio__rescore(ctx, p, w->id);
    return;
  }
  prio_board_mark_fed(p->board, w->id, false, rc);
}
