/*
 * test_board.c: the ranked queue and its reasons
 * (actors/prioritizer/board.h).
 *
 * Contract: tasks are ranked per state, pinned first, then by score; a
 * terminal state removes a task; the view gives every non-running task of
 * the queue a reason: waiting_for_approval, blocked, next,
 * concurrency_limit, budget_spent, usage_limit, policy; the hand-over
 * list respects free slots, pauses, budgets and eligibility (a task that
 * ran only when marked requeued at start-up, once, while it stays ready).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "actors/prioritizer/board.h"

#define NOW 1700000000000LL

static const char *const local[] = {"r"};
static const char *const autos[] = {"secret"};

static prio_board_t *board(unsigned concurrency, unsigned max_day)
{
  prio_board_config_t c = {.concurrency = concurrency,
                           .max_tasks_per_day = max_day,
                           .local_repos = local, .nlocal_repos = 1,
                           .auto_approve = autos, .nauto_approve = 1};
  prio_board_t *b = NULL;
  cr_assert_eq(prio_board_new(&c, &b), 0);
  return b;
}

static void put(prio_board_t *b, const char *id, const char *repo,
                const char *kind, proto_state_t st, double total,
                bool pinned, uint32_t attempts)
{
  proto_task_t t = {.id = (char *)id, .repo = (char *)repo,
                    .kind = (char *)kind, .state = st, .pinned = pinned,
                    .attempts = attempts, .first_seen = 1};
  proto_score_t s = {.total = total, .value = 1, .time_criticality = 1,
                     .risk_reduction = 1, .job_size = 1};
  cr_assert_geq(prio_board_put(b, &t, &s), 0);
}

/* Unpinned tasks, as a table. */
typedef struct fixture {
  const char *id, *repo, *kind;
  proto_state_t state;
  double total;
  uint32_t attempts;
} fixture_t;

static void put_all(prio_board_t *b, const fixture_t *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    put(b, v[i].id, v[i].repo, v[i].kind, v[i].state, v[i].total, false,
        v[i].attempts);
}

static json_t *view(prio_board_t *b, const prio_view_query_t *q)
{
  prio_view_query_t all = {.state = -1};
  json_t *v = prio_board_view(b, q ? q : &all, NOW);
  cr_assert_not_null(v);
  return v;
}

static const char *reason_of(json_t *v, const char *id)
{
  json_t *list = json_object_get(v, "queue");
  for (size_t i = 0; i < json_array_size(list); i++) {
    json_t *e = json_array_get(list, i);
    if (!strcmp(json_string_value(json_object_get(e, "id")), id))
      return json_string_value(json_object_get(e, "reason"));
  }
  return NULL;
}

static void set_exec(prio_board_t *b, size_t running, int64_t paused,
                     unsigned day_tasks)
{
  prio_exec_view_t x = {.known = true, .running = running,
                        .paused_until_ms = paused, .day_tasks = day_tasks};
  prio_board_set_exec(b, &x);
}

Test(board, ranked_per_state_pinned_first_and_updates_move)
{
  prio_board_t *b = board(2, 0);
  put(b, "a", "r", "todo", PROTO_STATE_READY, 5, false, 0);
  put(b, "b", "r", "todo", PROTO_STATE_READY, 9, false, 0);
  put(b, "c", "r", "todo", PROTO_STATE_READY, 1, true, 0);
  put(b, "d", "r", "todo", PROTO_STATE_NEW, 99, false, 0);
  char *ids[4];
  cr_assert_eq(prio_board_top(b, PROTO_STATE_READY, ids, 4), 3);
  cr_assert_str_eq(ids[0], "c");
  cr_assert_str_eq(ids[1], "b");
  cr_assert_str_eq(ids[2], "a");
  for (int i = 0; i < 3; i++)
    free(ids[i]);
  put(b, "a", "r", "todo", PROTO_STATE_READY, 10, false, 0); /* rescored */
  cr_assert_eq(prio_board_top(b, PROTO_STATE_READY, ids, 2), 2);
  cr_assert_str_eq(ids[1], "a");
  free(ids[0]), free(ids[1]);
  put(b, "b", "r", "todo", PROTO_STATE_DONE, 9, false, 0); /* terminal */
  cr_assert_eq(prio_board_count(b), 3);
  cr_assert_eq(prio_board_count_state(b, PROTO_STATE_READY), 2);
  bool found;
  cr_assert_eq(prio_board_score(b, "a", &found), 10);
  cr_assert(found);
  prio_board_score(b, "b", &found);
  cr_assert_not(found);
  prio_board_release(b);
}

Test(board, reasons_for_approval_blocked_and_slots)
{
  prio_board_t *b = board(2, 0);
  static const fixture_t tasks[] = {
      {"n", "r", "todo", PROTO_STATE_NEW, 3, 0},
      {"s", "r", "secret", PROTO_STATE_TRIAGED, 3, 0},
      {"k", "r", "todo", PROTO_STATE_BLOCKED, 3, 0},
      {"r1", "r", "todo", PROTO_STATE_READY, 9, 0},
      {"r2", "r", "todo", PROTO_STATE_READY, 8, 0},
      {"r3", "r", "todo", PROTO_STATE_READY, 7, 0},
      {"run", "r", "todo", PROTO_STATE_RUNNING, 7, 1}};
  put_all(b, tasks, sizeof tasks / sizeof *tasks);
  set_exec(b, 1, 0, 0); /* one slot of two is taken */
  json_t *v = view(b, NULL);
  cr_assert_str_eq(reason_of(v, "n"), "waiting_for_approval");
  cr_assert_str_eq(reason_of(v, "s"), "waiting_for_approval");
  cr_assert_str_eq(reason_of(v, "k"), "blocked");
  cr_assert_str_eq(reason_of(v, "r1"), "next");
  cr_assert_str_eq(reason_of(v, "r2"), "concurrency_limit");
  cr_assert_str_eq(reason_of(v, "r3"), "concurrency_limit");
  cr_assert_null(reason_of(v, "run"), "running tasks are not queued");
  cr_assert_eq(json_integer_value(json_object_get(v, "total")), 6);
  json_t *counts = json_object_get(v, "counts");
  cr_assert_eq(json_integer_value(json_object_get(counts, "concurrency_limit")), 2);
  /* ready first, in rank order */
  json_t *first = json_array_get(json_object_get(v, "queue"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(first, "id")), "r1");
  json_decref(v);
  prio_board_release(b);
}

Test(board, reasons_for_usage_limit_budget_and_policy)
{
  prio_board_t *b = board(4, 3);
  put(b, "a", "r", "todo", PROTO_STATE_READY, 9, false, 0);
  put(b, "remote", "gh-only", "todo", PROTO_STATE_READY, 8, false, 0);
  put(b, "again", "r", "todo", PROTO_STATE_READY, 7, false, 1);
  set_exec(b, 0, NOW + 60000, 0);
  json_t *v = view(b, NULL);
  cr_assert_str_eq(reason_of(v, "a"), "usage_limit");
  json_t *e = json_array_get(json_object_get(v, "queue"), 0);
  cr_assert_eq(json_integer_value(json_object_get(e, "until")), NOW + 60000);
  cr_assert_str_eq(reason_of(v, "remote"), "policy");
  cr_assert_str_eq(reason_of(v, "again"), "policy");
  json_decref(v);
  set_exec(b, 0, 0, 3); /* 3 of 3 tasks today */
  v = view(b, NULL);
  cr_assert_str_eq(reason_of(v, "a"), "budget_spent");
  json_decref(v);
  set_exec(b, 0, 0, 0);
  prio_board_budget_refused(b);
  v = view(b, NULL);
  cr_assert_str_eq(reason_of(v, "a"), "budget_spent");
  json_decref(v);
  prio_board_release(b);
}

Test(board, dry_run_ignores_budgets)
{
  prio_board_config_t c = {.concurrency = 1, .dry_run = true,
                           .max_tasks_per_day = 1, .local_repos = local,
                           .nlocal_repos = 1};
  prio_board_t *b = NULL;
  cr_assert_eq(prio_board_new(&c, &b), 0);
  put(b, "a", "r", "todo", PROTO_STATE_READY, 9, false, 0);
  set_exec(b, 0, 0, 5);
  json_t *v = view(b, NULL);
  cr_assert_str_eq(reason_of(v, "a"), "next");
  json_decref(v);
  prio_board_release(b);
}

Test(board, hand_over_list_respects_slots_and_eligibility)
{
  prio_board_t *b = board(3, 0);
  static const fixture_t tasks[] = {
      {"best", "r", "todo", PROTO_STATE_READY, 9, 0},
      {"remote", "x", "todo", PROTO_STATE_READY, 8, 0},
      {"ran", "r", "todo", PROTO_STATE_READY, 7, 2},
      {"second", "r", "todo", PROTO_STATE_READY, 6, 0},
      {"third", "r", "todo", PROTO_STATE_READY, 5, 0},
      {"new", "r", "todo", PROTO_STATE_NEW, 50, 0}};
  put_all(b, tasks, sizeof tasks / sizeof *tasks);
  set_exec(b, 1, 0, 0); /* two free slots */
  cr_assert(prio_board_startable(b));
  char *ids[8];
  size_t n = prio_board_next_runs(b, NOW, ids, 8);
  cr_assert_eq(n, 2);
  cr_assert_str_eq(ids[0], "best");
  cr_assert_str_eq(ids[1], "second");
  for (size_t i = 0; i < n; i++) {
    prio_board_mark_fed(b, ids[i], true, 0);
    free(ids[i]);
  }
  n = prio_board_next_runs(b, NOW, ids, 8);
  cr_assert_eq(n, 1, "handed tasks are not handed again");
  cr_assert_str_eq(ids[0], "third");
  free(ids[0]);
  prio_board_mark_fed(b, "third", false, -36503);
  set_exec(b, 0, NOW + 1000, 0);
  cr_assert_eq(prio_board_next_runs(b, NOW, ids, 8), 0, "paused");
  set_exec(b, 0, 0, 0);
  json_t *v = view(b, NULL);
  cr_assert_str_eq(reason_of(v, "third"), "policy", "refused");
  cr_assert_str_eq(reason_of(v, "best"), "next");
  json_decref(v);
  /* back to ready after a run: a new episode, but it ran: by hand only */
  put(b, "best", "r", "todo", PROTO_STATE_RUNNING, 9, false, 1);
  put(b, "best", "r", "todo", PROTO_STATE_READY, 9, false, 1);
  v = view(b, NULL);
  cr_assert_str_eq(reason_of(v, "best"), "policy");
  json_decref(v);
  prio_board_release(b);
}

/* A task requeued at start-up may be handed over although it ran; the
 * mark holds only while it stays ready, and only for a ready task. */
Test(board, requeued_task_is_handed_over_again_once)
{
  prio_board_t *b = board(2, 0);
  static const fixture_t tasks[] = {
      {"requeued", "r", "todo", PROTO_STATE_READY, 9, 1},
      {"ran", "r", "todo", PROTO_STATE_READY, 8, 1},
      {"running", "r", "todo", PROTO_STATE_RUNNING, 7, 1}};
  put_all(b, tasks, sizeof tasks / sizeof *tasks);
  set_exec(b, 0, 0, 0);
  char *ids[8];
  cr_assert_not(prio_board_startable(b), "both ran before");
  prio_board_mark_requeued(b, "requeued");
  prio_board_mark_requeued(b, "running"); /* not ready: no mark */
  size_t n = prio_board_next_runs(b, NOW, ids, 8);
  cr_assert_eq(n, 1);
  cr_assert_str_eq(ids[0], "requeued");
  free(ids[0]);
  json_t *v = view(b, NULL);
  cr_assert_str_eq(reason_of(v, "requeued"), "next");
  cr_assert_str_eq(reason_of(v, "ran"), "policy");
  json_decref(v);
  prio_board_mark_fed(b, "requeued", true, 0);
  cr_assert_eq(prio_board_next_runs(b, NOW, ids, 8), 0, "handed once");
  /* it ran and came back ready (a dry run, say): by hand only again */
  put(b, "requeued", "r", "todo", PROTO_STATE_RUNNING, 9, false, 2);
  put(b, "requeued", "r", "todo", PROTO_STATE_READY, 9, false, 2);
  put(b, "running", "r", "todo", PROTO_STATE_READY, 7, false, 1);
  cr_assert_eq(prio_board_next_runs(b, NOW, ids, 8), 0, "marks cleared");
  prio_board_release(b);
}

Test(board, view_filters_and_pages)
{
  prio_board_t *b = board(1, 0);
  char id[16];
  for (int i = 0; i < 30; i++) {
    snprintf(id, sizeof id, "t%02d", i);
    put(b, id, i % 2 ? "r" : "q", "todo", PROTO_STATE_NEW, 100 - i, false, 0);
  }
  prio_view_query_t q = {.limit = 10, .offset = 2, .state = -1, .repo = "r"};
  json_t *v = view(b, &q);
  json_t *list = json_object_get(v, "queue");
  cr_assert_eq(json_array_size(list), 10);
  cr_assert_eq(json_integer_value(json_object_get(v, "total")), 15);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0),
                                                     "id")), "t05");
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(list, 0),
                                                  "position")), 2);
  cr_assert_eq(json_integer_value(json_object_get(v, "next_offset")), 12);
  json_decref(v);
  q.offset = 5; /* the last page */
  v = view(b, &q);
  cr_assert(json_is_null(json_object_get(v, "next_offset")));
  json_decref(v);
  q = (prio_view_query_t){.state = PROTO_STATE_READY};
  v = view(b, &q);
  cr_assert_eq(json_array_size(json_object_get(v, "queue")), 0);
  cr_assert(json_is_null(json_object_get(v, "next_offset")));
  json_decref(v);
  q = (prio_view_query_t){.state = -1, .reason = "blocked"};
  v = view(b, &q);
  cr_assert_eq(json_integer_value(json_object_get(v, "total")), 0);
  json_decref(v);
  prio_board_release(b);
}

/* Property: after random puts (new scores, pins, state changes, terminal
 * states), each state's ranking equals a full sort of what was put last. */
typedef struct model {
  char id[8];
  proto_state_t state;
  bool pinned, live;
  double total;
} model_t;

static int model_cmp(const void *a, const void *b)
{
  const model_t *x = *(const model_t *const *)a, *y = *(const model_t *const *)b;
  if (x->pinned != y->pinned)
    return x->pinned ? -1 : 1;
  if (x->total != y->total)
    return x->total > y->total ? -1 : 1;
  return strcmp(x->id, y->id); /* equal first_seen: by id */
}

Test(board, incremental_ranking_equals_full_sort_per_state)
{
  enum { M = 400, OPS = 6000 };
  static model_t m[M];
  static const proto_state_t states[] = {
      PROTO_STATE_NEW, PROTO_STATE_TRIAGED, PROTO_STATE_READY,
      PROTO_STATE_BLOCKED, PROTO_STATE_DONE};
  uint64_t x = 20261124; /* fixed seed */
  prio_board_t *b = board(2, 0);
  for (int i = 0; i < M; i++)
    snprintf(m[i].id, sizeof m[i].id, "m%03d", i);
  for (int op = 0; op < OPS; op++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    model_t *e = &m[x % M];
    e->state = states[(x >> 20) % 5];
    e->pinned = (x >> 30) % 13 == 0;
    e->total = (double)((x >> 35) % 20) / 2;
    e->live = e->state != PROTO_STATE_DONE;
    put(b, e->id, "r", "todo", e->state, e->total, e->pinned, 0);
  }
  for (size_t s = 0; s < 4; s++) {
    model_t *want[M];
    size_t n = 0;
    for (int i = 0; i < M; i++)
      if (m[i].live && m[i].state == states[s])
        want[n++] = &m[i];
    qsort(want, n, sizeof *want, model_cmp);
    char *got[M];
    cr_assert_eq(prio_board_top(b, states[s], got, M), n, "state %zu", s);
    for (size_t k = 0; k < n; k++) {
      cr_assert_str_eq(got[k], want[k]->id, "state %zu position %zu", s, k);
      free(got[k]);
    }
  }
  prio_board_release(b);
}
