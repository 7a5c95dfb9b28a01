/*
 * test_prioritizer.c: the prioritizer actor end to end with a real store
 * and a stand-in executor (actors/prioritizer/prioritizer.h), and the
 * store's score write (store.h store_task_set_score).
 *
 * Contract: at start every task gets its WSJF score and why written
 * through the store actor; a task created or changed later (a "tasks"
 * event in the log) is rescored; kinds in auto_approve go new -> triaged
 * -> ready with their history; the best ready tasks are handed to the
 * executor, as many as it has free slots, best first, once (a task that
 * ran before only when the executor requeued it at start-up, whether the
 * start-up cycle or the event log shows it first); overrides set
 * "prio:" labels that win over the formula and can be cleared; a score
 * write never undoes a transition committed after the caller's read.
 * Waiting uses PRIO_MSG_SYNC and ports, never sleeps.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/executor/executor.h"
#include "actors/prioritizer/prioritizer.h"
#include "store/store_actor.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"

#define WAIT_MS 20000

/* ---- a stand-in executor: answers status, records run requests ---- */

typedef struct fake_exec {
  rt_actor_t *notify; /* a port: one message per run request */
  unsigned running;   /* reported as busy slots */
} fake_exec_t;

static fake_exec_t fake_cfg;

static void fake_msg(rt_ctx_t *ctx, void *st, rt_msg_t *m)
{
  rt_msg_t *r = NULL;
  if (rt_msg_type(m) == EXEC_MSG_STATUS) {
    char text[256];
    static const char *const busy[] = {"", "\"b0\"", "\"b0\",\"b1\""};
    snprintf(text, sizeof text,
             "{\"running\":[%s],\"queued\":[],\"paused_until\":0,"
             "\"day\":{\"tasks\":0,\"usd\":0}}",
             busy[fake_cfg.running < 3 ? fake_cfg.running : 2]);
    if (rt_msg_new(EXEC_MSG_STATUS, text, strlen(text), &r) == 0)
      rt_reply(m, &r);
  } else if (rt_msg_type(m) == EXEC_MSG_RUN) {
    size_t len = 0;
    const void *d = rt_msg_data(m, &len);
    rt_msg_t *n = NULL;
    if (rt_msg_new(EXEC_MSG_RUN, d, len, &n) == 0)
      rt_send(fake_cfg.notify, &n);
    int32_t rc = 0;
    if (rt_msg_new(EXEC_MSG_REPLY, &rc, sizeof rc, &r) == 0)
      rt_reply(m, &r);
  }
}

static const rt_actor_type_t fake_type = {.name = "fake-executor",
                                          .on_msg = fake_msg};

/* ---- fixture ---- */

typedef struct fx {
  char *dir;
  store_t *store;
  rt_runtime_t *rt;
  rt_actor_t *store_actor, *exec, *prio;
  rt_port_t *runs;
  prio_board_t *board;
  prio_config_t cfg;
  prio_repo_t repo;
  const char *autos[1];
} fx_t;

static void put_task(fx_t *f, const char *id, const char *kind,
                     proto_state_t st)
{
  proto_task_t t;
  tst_task_init(&t, id, "r", kind, st, 1);
  tst_put(f->store, &t);
  store_task_free(&t);
}

static void fx_start(fx_t *f, unsigned busy)
{
  memset(f, 0, sizeof *f);
  f->dir = tst_tmpdir();
  store_options_t o = {.no_sync = true};
  f->store = tst_store_open(f->dir, &o);
  f->rt = tst_runtime(2);
  TST_OK(store_actor_spawn(f->rt, f->store, "store", &f->store_actor));
  f->runs = tst_port(f->rt, 64);
  fake_cfg = (fake_exec_t){rt_port_actor(f->runs), busy};
  TST_OK(rt_actor_spawn(f->rt, &fake_type, NULL, NULL, &f->exec));
}

/* Spawn the prioritizer; its start-up cycle may still be running. */
static void fx_spawn_nowait(fx_t *f)
{
  prio_config_defaults(&f->cfg);
  f->repo = (prio_repo_t){.id = "r", .path = f->dir, .churn_days = -1};
  prio_rules_defaults(&f->repo.rules);
  f->cfg.repos = &f->repo;
  f->cfg.nrepos = 1;
  f->autos[0] = "hack";
  f->cfg.auto_approve = f->autos;
  f->cfg.nauto_approve = 1;
  f->cfg.executor = f->exec;
  f->cfg.poll_ms = 20;
  f->cfg.concurrency = 2;
  TST_OK(prio_spawn(f->rt, &f->cfg, f->store, f->store_actor, "prioritizer",
                    &f->prio, &f->board));
}

static void fx_spawn(fx_t *f)
{
  fx_spawn_nowait(f);
  TST_OK(prio_sync(f->rt, f->prio, WAIT_MS));
}

static void fx_stop(fx_t *f)
{
  tst_quiesce(f->rt);
  rt_actor_release(f->prio);
  rt_actor_release(f->exec);
  rt_actor_release(f->store_actor);
  prio_board_release(f->board);
  rt_port_free(f->runs);
  tst_runtime_free(f->rt);
  store_close(f->store);
  tst_rmrf(f->dir);
  free(f->dir);
}

static proto_task_t get(fx_t *f, const char *id)
{
  proto_task_t t;
  TST_SOK(store_task_get(f->store, id, &t));
  return t;
}

/* The score the formula gives the stored task now. */
static double expected_total(fx_t *f, const char *id)
{
  proto_task_t t = get(f, id);
  prio_facts_t facts;
  prio_facts_of_task(&t, (int64_t)time(NULL) * 1000, &facts);
  proto_score_t s = {0};
  prio_score(&f->repo.rules, &facts, &s, NULL, 0);
  store_task_free(&t);
  return s.total;
}

static int override(fx_t *f, const char *json)
{
  rt_msg_t *m = NULL, *r = NULL;
  TST_OK(rt_msg_new(PRIO_MSG_COMMAND, json, strlen(json), &m));
  TST_OK(rt_call(f->rt, f->prio, &m, WAIT_MS, &r));
  int32_t rc;
  tst_payload(r, &rc, sizeof rc);
  rt_msg_free(r);
  return rc;
}

static bool has_label(const proto_task_t *t, const char *l)
{
  for (uint32_t i = 0; i < t->labels.len; i++)
    if (!strcmp(t->labels.items[i], l))
      return true;
  return false;
}

/* ---- tests ---- */

Test(prioritizer, start_scores_every_task_in_the_store, .timeout = 60)
{
  fx_t f;
  fx_start(&f, 2); /* executor full: nothing handed over */
  put_task(&f, "a-secret", "secret", PROTO_STATE_TRIAGED);
  put_task(&f, "b-todo", "todo", PROTO_STATE_NEW);
  put_task(&f, "c-fixme", "fixme", PROTO_STATE_READY);
  fx_spawn(&f);
  const char *ids[] = {"a-secret", "b-todo", "c-fixme"};
  for (int i = 0; i < 3; i++) {
    proto_task_t t = get(&f, ids[i]);
    cr_assert(t.score.why && !strncmp(t.score.why, "WSJF (", 6), "%s: %s",
              ids[i], t.score.why);
    cr_assert_float_eq(t.score.total, expected_total(&f, ids[i]), 1e-9);
    cr_assert_eq(t.state, i == 0 ? PROTO_STATE_TRIAGED
                         : i == 1 ? PROTO_STATE_NEW : PROTO_STATE_READY);
    store_task_free(&t);
  }
  cr_assert_eq(prio_board_count(f.board), 3);
  proto_task_t s = get(&f, "a-secret"), d = get(&f, "b-todo");
  cr_assert_gt(s.score.total, d.score.total);
  store_task_free(&s);
  store_task_free(&d);
  /* the queue view names the reason and carries title and why */
  prio_view_query_t q = {.state = -1};
  json_t *v = prio_queue_json(f.board, f.store, &q, (int64_t)time(NULL) * 1000);
  json_t *first = json_array_get(json_object_get(v, "queue"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(first, "id")), "c-fixme");
  cr_assert_str_eq(json_string_value(json_object_get(first, "reason")),
                   "concurrency_limit");
  cr_assert_not_null(json_object_get(first, "title"));
  cr_assert_not_null(json_object_get(json_object_get(first, "score"), "why"));
  json_decref(v);
  fx_stop(&f);
}

Test(prioritizer, new_task_event_is_rescored_incrementally, .timeout = 60)
{
  fx_t f;
  fx_start(&f, 2);
  fx_spawn(&f);
  cr_assert_eq(prio_board_count(f.board), 0);
  proto_msg_t m;
  tst_task_msg(&m, "late", "r", "secret", PROTO_STATE_NEW, 0.5);
  store_ack_t ack;
  TST_OK(store_write_sync(f.rt, f.store_actor, &m, WAIT_MS, &ack));
  proto_msg_t e = {.type = PROTO_EVENT};
  e.u.event = (proto_event_t){.seq = 1, .topic = "tasks", .ts = 1,
                              .data = json_pack("{s:s}", "id", "late")};
  TST_OK(store_write_sync(f.rt, f.store_actor, &e, WAIT_MS, &ack));
  json_decref(e.u.event.data);
  proto_msg_fini(&m);
  TST_OK(prio_sync(f.rt, f.prio, WAIT_MS));
  proto_task_t t = get(&f, "late");
  cr_assert(!strncmp(t.score.why, "WSJF", 4), "%s", t.score.why);
  cr_assert_float_eq(t.score.total, expected_total(&f, "late"), 1e-9);
  store_task_free(&t);
  bool found;
  cr_assert_gt(prio_board_score(f.board, "late", &found), 0.5);
  cr_assert(found);
  fx_stop(&f);
}

static bool history_has(const proto_task_update_t *u, void *arg)
{
  return false;
}

typedef struct hist {
  int auto_steps;
} hist_t;

static int count_auto(const proto_task_update_t *u, void *arg)
{
  hist_t *h = arg;
  if (u->actor && !strcmp(u->actor, "prioritizer") && u->reason &&
      strstr(u->reason, "auto-approve"))
    h->auto_steps++;
  (void)history_has;
  return 0;
}

Test(prioritizer, auto_approve_and_hand_over_best_first, .timeout = 60)
{
  fx_t f;
  fx_start(&f, 0); /* two free slots */
  put_task(&f, "h1", "hack", PROTO_STATE_NEW);      /* auto-approved */
  put_task(&f, "s1", "secret", PROTO_STATE_READY);  /* best */
  put_task(&f, "t1", "todo", PROTO_STATE_READY);    /* third: no slot */
  put_task(&f, "n1", "todo", PROTO_STATE_NEW);      /* waits */
  fx_spawn(&f);
  proto_task_t h = get(&f, "h1");
  cr_assert_eq(h.state, PROTO_STATE_READY);
  store_task_free(&h);
  hist_t hs = {0};
  TST_SOK(store_history_foreach(f.store, "h1", count_auto, &hs));
  cr_assert_eq(hs.auto_steps, 2, "new -> triaged -> ready");
  proto_task_t n = get(&f, "n1");
  cr_assert_eq(n.state, PROTO_STATE_NEW);
  store_task_free(&n);
  /* the ticks hand over the two best ready tasks, best first */
  char *top[3];
  cr_assert_eq(prio_board_top(f.board, PROTO_STATE_READY, top, 3), 3);
  for (int i = 0; i < 2; i++) {
    rt_msg_t *r = tst_recv_type(f.runs, EXEC_MSG_RUN);
    size_t len = 0;
    const char *d = rt_msg_data(r, &len);
    cr_assert_eq(len, strlen(top[i]));
    cr_assert(!memcmp(d, top[i], len), "hand-over %d: want %s", i, top[i]);
    rt_msg_free(r);
  }
  cr_assert_str_eq(top[0], "s1");
  for (int i = 0; i < 3; i++)
    free(top[i]);
  TST_OK(prio_sync(f.rt, f.prio, WAIT_MS));
  fx_stop(&f);
}

/* ---- a task the executor requeued at start-up runs again by itself ---- */

#define REQUEUE_WHY "requeued at start-up: ccm stopped during the run"

/* Task @p id as the executor leaves it: it ran once (attempts 1) and was
 * left `running`. */
static void put_running(fx_t *f, const char *id, const char *kind)
{
  proto_task_t t;
  tst_task_init(&t, id, "r", kind, PROTO_STATE_RUNNING, 1);
  t.attempts = 1;
  tst_put(f->store, &t);
  store_task_free(&t);
}

/* running -> ready with @p why, through the store actor. */
static void move_to_ready(fx_t *f, const char *id, const char *why)
{
  proto_msg_t m;
  tst_update_msg(&m, id, PROTO_STATE_RUNNING, PROTO_STATE_READY, "executor",
                 why, 2);
  store_ack_t ack;
  TST_OK(store_write_sync(f->rt, f->store_actor, &m, WAIT_MS, &ack));
  TST_SOK(ack.rc);
  proto_msg_fini(&m);
}

/* The next hand-over is of @p id. */
static void expect_run_of(fx_t *f, const char *id)
{
  rt_msg_t *r = tst_recv_type(f->runs, EXEC_MSG_RUN);
  size_t len = 0;
  const char *d = rt_msg_data(r, &len);
  cr_assert(len == strlen(id) && !memcmp(d, id, len), "handed %.*s, want %s",
            (int)len, d, id);
  rt_msg_free(r);
}

static const char *queue_reason(fx_t *f, const char *id)
{
  static char reason[64];
  prio_view_query_t q = {.state = -1};
  json_t *v = prio_board_view(f->board, &q, (int64_t)time(NULL) * 1000);
  json_t *e;
  size_t i;
  reason[0] = '\0';
  json_array_foreach(json_object_get(v, "queue"), i, e)
    if (!strcmp(json_string_value(json_object_get(e, "id")), id))
      snprintf(reason, sizeof reason, "%s",
               json_string_value(json_object_get(e, "reason")));
  json_decref(v);
  return reason;
}

/* Found by the start-up cycle: the requeued task is handed over; one that
 * went running -> ready for another reason (a dry run) waits for a human,
 * although a slot is free for it. */
Test(prioritizer, start_up_requeue_is_handed_over_again, .timeout = 60)
{
  fx_t f;
  fx_start(&f, 0); /* two free slots */
  put_running(&f, "rq", "todo");
  move_to_ready(&f, "rq", REQUEUE_WHY);
  put_running(&f, "dry", "secret"); /* ranks first */
  move_to_ready(&f, "dry", "dry run: no change");
  fx_spawn(&f);
  expect_run_of(&f, "rq");
  TST_OK(prio_sync(f.rt, f.prio, WAIT_MS));
  tst_expect_silence(f.runs, 300); /* "dry" is never handed over */
  cr_assert_str_eq(queue_reason(&f, "dry"), "policy");
  cr_assert_str_eq(queue_reason(&f, "rq"), "next");
  fx_stop(&f);
}

/* Requeued after the prioritizer read it as running (the executor's
 * requeue and the "tasks" event it logs come later): handed over once. */
Test(prioritizer, requeue_seen_in_the_event_log_is_handed_over, .timeout = 60)
{
  fx_t f;
  fx_start(&f, 0);
  put_running(&f, "rq", "todo");
  fx_spawn(&f);
  cr_assert_eq(prio_board_state(f.board, "rq"), PROTO_STATE_RUNNING);
  move_to_ready(&f, "rq", REQUEUE_WHY);
  proto_msg_t e = {.type = PROTO_EVENT};
  e.u.event = (proto_event_t){.seq = 1, .topic = "tasks", .ts = 3,
                              .data = json_pack("{s:s}", "id", "rq")};
  store_ack_t ack;
  TST_OK(store_write_sync(f.rt, f.store_actor, &e, WAIT_MS, &ack));
  json_decref(e.u.event.data);
  TST_OK(prio_sync(f.rt, f.prio, WAIT_MS));
  expect_run_of(&f, "rq");
  TST_OK(prio_sync(f.rt, f.prio, WAIT_MS));
  tst_expect_silence(f.runs, 300); /* once, not at every status */
  fx_stop(&f);
}

#define OID "fedcba9876543210fedcba9876543210fedcba98" /* a real id: 40 hex digits */

Test(prioritizer, overrides_win_and_clear, .timeout = 60)
{
  fx_t f;
  fx_start(&f, 2);
  put_task(&f, OID, "todo", PROTO_STATE_NEW);
  fx_spawn(&f);
  proto_task_t t = get(&f, OID);
  double base = t.score.total, value = t.score.value;
  store_task_free(&t);
  cr_assert_eq(override(&f, "{\"task\":\"" OID "\",\"bump\":5}"), 0);
  t = get(&f, OID);
  cr_assert(has_label(&t, "prio:bump=5"));
  cr_assert(has_label(&t, "backend"), "other labels are kept");
  cr_assert_float_eq(t.score.total, base + 5, 1e-9);
  cr_assert(strstr(t.score.why, "bump +5"), "%s", t.score.why);
  store_task_free(&t);
  cr_assert_eq(override(&f, "{\"task\":\"" OID "\",\"value\":10}"), 0);
  t = get(&f, OID);
  cr_assert_eq(t.score.value, 10);
  cr_assert(has_label(&t, "prio:bump=5"));
  cr_assert_gt(t.score.total, base + 5);
  store_task_free(&t);
  cr_assert_eq(override(&f, "{\"task\":\"" OID "\",\"bump\":null}"), 0);
  t = get(&f, OID);
  cr_assert_not(has_label(&t, "prio:bump=5"));
  cr_assert(has_label(&t, "prio:value=10"));
  store_task_free(&t);
  cr_assert_eq(override(&f, "{\"task\":\"" OID "\",\"clear\":true}"), 0);
  t = get(&f, OID);
  cr_assert_eq(t.score.value, value);
  cr_assert_float_eq(t.score.total, base, 1e-9);
  cr_assert_eq(t.labels.len, 2);
  store_task_free(&t);
  bool found;
  cr_assert_float_eq(prio_board_score(f.board, OID, &found), base, 1e-9);
  cr_assert_eq(override(&f, "{\"task\":\"" OID "\",\"value\":42}"), PRIO_EINVAL);
  cr_assert_eq(override(&f, "{\"task\":\"nope\",\"bump\":1}"), PRIO_ENOTFOUND);
  cr_assert_eq(override(&f, "not json"), PRIO_EINVAL);
  fx_stop(&f);
}

Test(prioritizer, score_write_keeps_a_later_transition)
{
  char *dir = tst_tmpdir();
  store_options_t o = {.no_sync = true};
  store_t *s = tst_store_open(dir, &o);
  proto_task_t t;
  /* a real task id: 40 hex digits, which the store keys packed */
  const char *id = "0123456789abcdef0123456789abcdef01234567";
  tst_task_init(&t, id, "r", "todo", PROTO_STATE_NEW, 1);
  tst_put(s, &t);
  /* the prioritizer read it as new; then it was triaged */
  store_txn_t *txn;
  TST_SOK(store_write_begin(s, &txn));
  TST_SOK(store_task_transition(txn, id, PROTO_STATE_TRIAGED, "user", "ok",
                                2));
  TST_SOK(store_write_commit(txn));
  proto_score_t sc = {.total = 7.5, .value = 5, .time_criticality = 5,
                      .risk_reduction = 5, .job_size = 2, .why = "WSJF x"};
  TST_SOK(store_write_begin(s, &txn));
  TST_SOK(store_task_set_score(txn, id, &sc, NULL, 3));
  TST_RC(store_task_set_score(txn, "missing", &sc, NULL, 3), STORE_ENOTFOUND);
  TST_SOK(store_write_commit(txn));
  proto_task_t got;
  TST_SOK(store_task_get(s, id, &got));
  cr_assert_eq(got.state, PROTO_STATE_TRIAGED);
  cr_assert_eq(got.score.total, 7.5);
  cr_assert_str_eq(got.score.why, "WSJF x");
  cr_assert_eq(got.labels.len, 2);
  store_task_free(&got);
  /* the ranked index moved: the triaged list finds it by its new score */
  store_task_free(&t);
  store_close(s);
  tst_rmrf(dir);
  free(dir);
}

/* Override labels come from the prioritizer's earlier read: only its
 * "prio:" labels replace the stored ones; labels others added since (the
 * analyzer's due:, GitHub's) are kept. */
Test(prioritizer, score_write_replaces_only_prio_labels)
{
  char *dir = tst_tmpdir();
  store_options_t o = {.no_sync = true};
  store_t *s = tst_store_open(dir, &o);
  proto_task_t t;
  const char *id = "89abcdef0123456789abcdef0123456789abcdef";
  tst_task_init(&t, id, "r", "todo", PROTO_STATE_NEW, 1);
  static char *now[] = {"due:2026-12-01", "prio:bump=1", "customer"};
  proto_string_list_t stored = t.labels;
  t.labels = (proto_string_list_t){now, 3};
  tst_put(s, &t);
  t.labels = stored;
  static char *from_read[] = {"old-label", "prio:bump=3", "prio:value=9"};
  proto_string_list_t given = {from_read, 3};
  proto_score_t sc = {.total = 4, .value = 9, .time_criticality = 1,
                      .risk_reduction = 1, .job_size = 3, .why = "WSJF y"};
  store_txn_t *txn;
  TST_SOK(store_write_begin(s, &txn));
  TST_SOK(store_task_set_score(txn, id, &sc, &given, 5));
  TST_SOK(store_write_commit(txn));
  proto_task_t got;
  TST_SOK(store_task_get(s, id, &got));
  cr_assert_eq(got.labels.len, 4);
  cr_assert(has_label(&got, "due:2026-12-01"));
  cr_assert(has_label(&got, "customer"));
  cr_assert(has_label(&got, "prio:bump=3"));
  cr_assert(has_label(&got, "prio:value=9"));
  cr_assert(!has_label(&got, "prio:bump=1"));
  cr_assert(!has_label(&got, "old-label"));
  store_task_free(&got);
  store_task_free(&t);
  store_close(s);
  tst_rmrf(dir);
  free(dir);
}

Test(prioritizer, store_command_shape_is_checked)
{
  json_t *ok = json_pack("{s:s s:{s:f s:f s:f s:f s:f}}", "task", "x",
                         "score", "total", 1.0, "value", 1.0,
                         "time_criticality", 1.0, "risk_reduction", 1.0,
                         "job_size", 1.0);
  cr_assert_eq(store_prio_check(ok), 0);
  json_object_set_new(ok, "labels", json_pack("[i]", 3));
  cr_assert_eq(store_prio_check(ok), STORE_EINVAL);
  json_decref(ok);
  json_t *bad = json_pack("{s:s}", "task", "x");
  cr_assert_eq(store_prio_check(bad), STORE_EINVAL);
  json_decref(bad);
}

Test(prioritizer, reconfigure_rescores_with_new_weights_and_limits,
     .timeout = 60)
{
  fx_t f;
  fx_start(&f, 2);
  put_task(&f, "a-todo", "todo", PROTO_STATE_NEW);
  fx_spawn(&f);
  proto_task_t t = get(&f, "a-todo");
  double before = t.score.total;
  store_task_free(&t);

  static prio_repo_t repo; /* outlive the actor, as required */
  static prio_config_t now;
  repo = f.repo;
  repo.rules.weight[PRIO_VALUE] = 10;
  now = f.cfg;
  now.repos = &repo;
  now.concurrency = 5;
  now.dry_run = false;
  rt_msg_t *m = NULL, *r = NULL;
  const prio_config_t *p = &now;
  TST_OK(rt_msg_new(PRIO_MSG_RECONFIGURE, &p, sizeof p, &m));
  TST_OK(rt_call(f.rt, f.prio, &m, WAIT_MS, &r));
  int32_t rc;
  tst_payload(r, &rc, sizeof rc);
  rt_msg_free(r);
  cr_assert_eq(rc, 0);
  TST_OK(prio_sync(f.rt, f.prio, WAIT_MS));

  f.repo = repo; /* expected_total() scores with these rules */
  t = get(&f, "a-todo");
  cr_assert_gt(t.score.total, before);
  cr_assert_float_eq(t.score.total, expected_total(&f, "a-todo"), 1e-9);
  store_task_free(&t);
  bool found = false;
  cr_assert_float_eq(prio_board_score(f.board, "a-todo", &found),
                     expected_total(&f, "a-todo"), 1e-9);
  cr_assert(found);
  prio_view_query_t q = {.state = -1};
  json_t *v = prio_board_view(f.board, &q, (int64_t)time(NULL) * 1000);
  json_t *x = json_object_get(v, "executor");
  cr_assert_eq(json_integer_value(json_object_get(x, "concurrency")), 5);
  cr_assert(json_is_false(json_object_get(x, "dry_run")));
  json_decref(v);
  fx_stop(&f);
}

/* ---- stopping mid-cycle (the start-up cycle is a blocking job) ---- */

/* A stand-in "git" first on PATH: the cycle's churn read runs it. It says
 * "started" through one fifo, then waits for a line on another, then
 * prints one changed path. The test holds the cycle between the two. */
typedef struct gate_git {
  char *dir;
  char started[512], go[512];
  char *old_path;
} gate_git_t;

static void gate_git_install(gate_git_t *g)
{
  memset(g, 0, sizeof *g);
  g->dir = tst_tmpdir();
  snprintf(g->started, sizeof g->started, "%s/started", g->dir);
  snprintf(g->go, sizeof g->go, "%s/go", g->dir);
  cr_assert_eq(mkfifo(g->started, 0600), 0);
  cr_assert_eq(mkfifo(g->go, 0600), 0);
  char script[600], body[1400];
  snprintf(script, sizeof script, "%s/git", g->dir);
  snprintf(body, sizeof body,
           "#!/bin/sh\necho started > '%s'\nread line < '%s'\n"
           "echo src/a.c\n",
           g->started, g->go);
  FILE *fp = fopen(script, "w");
  cr_assert_not_null(fp);
  fputs(body, fp);
  fclose(fp);
  cr_assert_eq(chmod(script, 0700), 0);
  const char *path = getenv("PATH");
  g->old_path = strdup(path ? path : "/usr/bin:/bin");
  size_t nlen = strlen(g->dir) + strlen(g->old_path) + 2;
  char *np = malloc(nlen);
  cr_assert_not_null(np);
  snprintf(np, nlen, "%s:%s", g->dir, g->old_path);
  setenv("PATH", np, 1); /* before the runtime's threads exist */
  free(np);
}

/* Block until the cycle is inside the stand-in git. */
static void gate_git_await_started(gate_git_t *g)
{
  int fd = open(g->started, O_RDONLY);
  cr_assert_geq(fd, 0);
  char buf[16];
  cr_assert_gt(read(fd, buf, sizeof buf), 0);
  close(fd);
}

/* Let the stand-in git finish. */
static void *gate_git_release(void *arg)
{
  gate_git_t *g = arg;
  int fd = open(g->go, O_WRONLY);
  if (fd >= 0) {
    ssize_t k = write(fd, "go\n", 3);
    (void)k;
    close(fd);
  }
  return NULL;
}

static void gate_git_remove(gate_git_t *g)
{
  setenv("PATH", g->old_path, 1);
  free(g->old_path);
  tst_rmrf(g->dir);
  free(g->dir);
}

/* The stopped actor applied nothing: every task keeps put_task's score. */
static void assert_unscored(fx_t *f, const char *const *ids, int n)
{
  for (int i = 0; i < n; i++) {
    proto_task_t t = get(f, ids[i]);
    cr_assert_str_eq(t.score.why, "WSJF (6+4+3)/2", "%s", ids[i]);
    cr_assert_float_eq(t.score.total, 1.0, 1e-9);
    store_task_free(&t);
  }
}

static const char *const mid_ids[] = {"a-todo", "b-fixme", "c-secret"};

/* Three tasks, the stand-in git, and a prioritizer held inside its
 * start-up cycle. */
static void fx_start_mid_cycle(fx_t *f, gate_git_t *g)
{
  gate_git_install(g);
  fx_start(f, 2);
  put_task(f, mid_ids[0], "todo", PROTO_STATE_NEW);
  put_task(f, mid_ids[1], "fixme", PROTO_STATE_READY);
  put_task(f, mid_ids[2], "secret", PROTO_STATE_TRIAGED);
  fx_spawn_nowait(f);
  gate_git_await_started(g);
}

/* The cycle's items, churn and the cycle itself are freed whichever of the
 * job and on_stop finishes first (ASan builds: the leak check at the end
 * of fx_stop). */
Test(prioritizer, stop_mid_cycle_frees_the_cycle, .timeout = 60)
{
  gate_git_t g;
  fx_t f;
  fx_start_mid_cycle(&f, &g);
  TST_OK(rt_actor_stop(f.prio));
  gate_git_release(&g); /* the job reads the store after the stop */
  tst_quiesce(f.rt);    /* waits for the job */
  assert_unscored(&f, mid_ids, 3);
  fx_stop(&f); /* then the leak check */
  gate_git_remove(&g);
}

Test(prioritizer, shutdown_mid_cycle_frees_the_cycle, .timeout = 60)
{
  gate_git_t g;
  fx_t f;
  fx_start_mid_cycle(&f, &g);
  pthread_t th; /* released while the runtime shuts down */
  cr_assert_eq(pthread_create(&th, NULL, gate_git_release, &g), 0);
  fx_stop(&f); /* waits for the job; then the leak check */
  pthread_join(th, NULL);
  gate_git_remove(&g);
}
