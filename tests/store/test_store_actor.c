/*
 * test_store_actor.c: the store's single writer (store/store_actor.h).
 *
 * These tests assert the actor's contract: writes sent at once from many
 * threads are all acknowledged (rc 0) only after their durable commit, and
 * they share commits (acks report batches larger than one); everything
 * acknowledged is readable afterwards. A payload that is not a protocol
 * message, a message of a type the store does not take, a refused
 * transition and a transition of an unknown task are each acknowledged
 * with an error and change nothing, also when they share a transaction
 * with good writes. Event writes get consecutive seqs in their acks.
 * Consecutive upserts of a batch, applied as one run, write byte for byte
 * what the same upserts write one by one.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_actor.h"
#include "store/store_int.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"

TestSuite(store_actor, .timeout = 120);

static char *g_dir;
static store_t *g_store;
static rt_runtime_t *g_rt;
static rt_actor_t *g_actor;

static void start(const store_options_t *o) {
  g_dir = tst_tmpdir();
  g_store = tst_store_open(g_dir, o);
  g_rt = tst_runtime(2);
  TST_OK(store_actor_spawn(g_rt, g_store, "store", &g_actor));
}

static void setup_durable(void) {
  store_options_t o = {0};
  start(&o);
}

static void setup_fast(void) {
  store_options_t o = {.no_sync = true};
  start(&o);
}

static void teardown(void) {
  rt_actor_release(g_actor);
  tst_quiesce(g_rt);
  store_close(g_store);
  tst_runtime_free(g_rt);
  tst_rmrf(g_dir);
  free(g_dir);
  tst_check_leaks();
}

/* ------------------------------------------------------------ group commit */

enum { C_THREADS = 8, C_PER_THREAD = 150 };

typedef struct writer {
  int thread;
  int failures;
  uint32_t max_batch;
  uint64_t batch_sum;
  tst_gate_t *gate;
} writer_t;

static void *concurrent_writer(void *p) {
  writer_t *w = p;
  tst_gate_wait(w->gate);
  for (int i = 0; i < C_PER_THREAD; i++) {
    char id[32];
    snprintf(id, sizeof id, "c%d-%04d", w->thread, i);
    proto_msg_t m;
    tst_task_msg(&m, id, "acme", i % 2 ? "todo" : "fixme", PROTO_STATE_NEW,
                 (double)i);
    store_ack_t ack;
    int rc = store_write_sync(g_rt, g_actor, &m, TST_WAIT_MS, &ack);
    proto_msg_fini(&m);
    if (rc || ack.rc) {
      fprintf(stderr, "write %s: %s\n", id, store_strerror(rc));
      w->failures++;
    }
    w->batch_sum += ack.batch;
    if (ack.batch > w->max_batch) w->max_batch = ack.batch;
  }
  return NULL;
}

Test(store_actor, concurrent_writes_share_commits, .init = setup_durable,
     .fini = teardown) {
  pthread_t th[C_THREADS];
  writer_t w[C_THREADS];
  tst_gate_t gate;
  tst_gate_init(&gate);
  for (int t = 0; t < C_THREADS; t++) {
    w[t] = (writer_t){.thread = t, .gate = &gate};
    cr_assert_eq(pthread_create(&th[t], NULL, concurrent_writer, &w[t]), 0);
  }
  tst_gate_await_entered(&gate, C_THREADS);
  tst_gate_open(&gate);
  uint32_t max_batch = 0;
  uint64_t sum = 0;
  for (int t = 0; t < C_THREADS; t++) {
    pthread_join(th[t], NULL);
    cr_assert_eq(w[t].failures, 0, "thread %d: %d failed writes", t, w[t].failures);
    if (w[t].max_batch > max_batch) max_batch = w[t].max_batch;
    sum += w[t].batch_sum;
  }
  tst_gate_destroy(&gate);
  cr_log_info("largest batch %u, mean batch seen by a write %.2f", max_batch,
              (double)sum / (C_THREADS * C_PER_THREAD));
  cr_assert_gt(max_batch, 1u, "no group commit happened under concurrency");
  cr_assert_leq(max_batch, (uint32_t)C_THREADS,
                "a batch holds at most one write per waiting thread");
  /* Everything acknowledged is readable now, from this thread. */
  for (int t = 0; t < C_THREADS; t++)
    for (int i = 0; i < C_PER_THREAD; i++) {
      char id[32];
      snprintf(id, sizeof id, "c%d-%04d", t, i);
      proto_task_t got;
      TST_SOK(store_task_get(g_store, id, &got));
      cr_assert_eq(got.score.total, (double)i);
      store_task_free(&got);
    }
  store_stats_t st;
  TST_SOK(store_stats(g_store, &st));
  cr_assert_eq(st.tasks, (uint64_t)(C_THREADS * C_PER_THREAD));
}

/* ------------------------------------------------------------ bad payloads */

/* Send raw bytes as a STORE_MSG_WRITE and return the ack. */
static store_ack_t send_raw(const void *bytes, size_t len) {
  rt_msg_t *req = tst_msg(STORE_MSG_WRITE, bytes, len), *reply = NULL;
  TST_OK(rt_call(g_rt, g_actor, &req, TST_WAIT_MS, &reply));
  cr_assert_eq(rt_msg_type(reply), STORE_MSG_ACK);
  store_ack_t ack;
  tst_payload(reply, &ack, sizeof ack);
  rt_msg_free(reply);
  return ack;
}

static store_ack_t send_msg(const proto_msg_t *m) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  int rc = proto_msgpack_encode(m, &sb);
  cr_assert_eq(rc, 0, "encode: %s", proto_strerror(rc));
  store_ack_t ack = send_raw(sb.data, sb.size);
  msgpack_sbuffer_destroy(&sb);
  return ack;
}

static void write_ok(const proto_msg_t *m) {
  store_ack_t ack;
  TST_SOK(store_write_sync(g_rt, g_actor, m, TST_WAIT_MS, &ack));
  cr_assert_eq(ack.rc, 0);
  cr_assert_geq(ack.batch, 1u);
}

/* A snapshot of what the store holds, to prove that nothing changed. */
typedef struct snap {
  store_stats_t st;
  size_t history;
} snap_t;

static snap_t snapshot(void) {
  snap_t s;
  TST_SOK(store_stats(g_store, &s.st));
  proto_task_update_t *h;
  s.history = tst_history(g_store, "good", &h);
  tst_history_free(h, s.history);
  return s;
}

static void expect_same(const snap_t *a) {
  snap_t b = snapshot();
  cr_assert_eq(b.st.tasks, a->st.tasks);
  cr_assert_eq(b.st.events, a->st.events);
  cr_assert_eq(b.st.last_seq, a->st.last_seq);
  cr_assert_arr_eq(b.st.by_state, a->st.by_state, sizeof a->st.by_state);
  cr_assert_eq(b.history, a->history);
}

Test(store_actor, bad_payloads_acknowledged_with_error, .init = setup_fast,
     .fini = teardown) {
  proto_msg_t m;
  tst_task_msg(&m, "good", "acme", "todo", PROTO_STATE_NEW, 1);
  write_ok(&m);
  proto_msg_fini(&m);
  snap_t before = snapshot();

  /* garbage bytes */
  static const unsigned char garbage[] = {0xc1, 0xff, 0x00, 0x13, 0x37, 0x42};
  store_ack_t ack = send_raw(garbage, sizeof garbage);
  cr_assert_lt(ack.rc, 0, "garbage accepted");
  cr_log_info("garbage: %s", proto_strerror(ack.rc));
  expect_same(&before);
  unsigned char big[3000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7 + 3);
  ack = send_raw(big, sizeof big);
  cr_assert_lt(ack.rc, 0);
  ack = send_raw(NULL, 0);
  cr_assert_lt(ack.rc, 0, "an empty payload accepted");
  /* valid msgpack, not a protocol message */
  static const unsigned char map[] = {0x81, 0xa1, 'x', 0x01};
  ack = send_raw(map, sizeof map);
  cr_assert_lt(ack.rc, 0);
  expect_same(&before);

  /* a well-formed message of a type the store does not take */
  proto_msg_t other = {.type = PROTO_SCAN_REQUEST};
  other.u.scan_request.repo = "acme";
  ack = send_msg(&other);
  cr_assert_eq(ack.rc, STORE_EINVAL, "got %s", store_strerror(ack.rc));
  expect_same(&before);

  /* an update whose from -> to is legal, but not from the stored state
   * (the protocol itself refuses to encode an illegal pair) */
  proto_state_t mid = PROTO_STATE_COUNT, bad = PROTO_STATE_COUNT;
  for (int a = 0; a < PROTO_STATE_COUNT && bad == PROTO_STATE_COUNT; a++)
    for (int b = 0; b < PROTO_STATE_COUNT && bad == PROTO_STATE_COUNT; b++)
      if (proto_state_transition_ok((proto_state_t)a, (proto_state_t)b) &&
          !proto_state_transition_ok(PROTO_STATE_NEW, (proto_state_t)b) &&
          b != PROTO_STATE_NEW) {
        mid = (proto_state_t)a;
        bad = (proto_state_t)b;
      }
  cr_assert_neq(bad, PROTO_STATE_COUNT, "some state is not reachable from new");
  proto_msg_t u;
  tst_update_msg(&u, "good", mid, bad, "t", "illegal", 5);
  ack = send_msg(&u);
  cr_assert_eq(ack.rc, STORE_ETRANSITION, "got %s", store_strerror(ack.rc));
  proto_msg_fini(&u);
  tst_update_msg(&u, "ghost", PROTO_STATE_NEW, PROTO_STATE_TRIAGED, "t", "x", 5);
  ack = send_msg(&u);
  cr_assert_eq(ack.rc, STORE_ENOTFOUND, "got %s", store_strerror(ack.rc));
  proto_msg_fini(&u);
  expect_same(&before);
  proto_task_t got;
  TST_SOK(store_task_get(g_store, "good", &got));
  cr_assert_eq(got.state, PROTO_STATE_NEW);
  store_task_free(&got);
  TST_SRC(store_task_get(g_store, "ghost", &got), STORE_ENOTFOUND);
}

/* Bad and good writes interleaved from several threads share transactions:
 * the good ones commit, the bad ones fail alone. */
enum { MIX_THREADS = 6, MIX_PER_THREAD = 100 };

static void *mixed_writer(void *p) {
  writer_t *w = p;
  tst_gate_wait(w->gate);
  static const unsigned char garbage[] = {0x92, 0xc1, 0xc1};
  for (int i = 0; i < MIX_PER_THREAD; i++) {
    store_ack_t ack;
    int rc;
    if (i % 3 == 1) {
      rt_msg_t *req = NULL, *reply = NULL;
      rc = rt_msg_new(STORE_MSG_WRITE, garbage, sizeof garbage, &req);
      if (!rc) rc = rt_call(g_rt, g_actor, &req, TST_WAIT_MS, &reply);
      if (!rc) {
        memcpy(&ack, rt_msg_data(reply, NULL), sizeof ack);
        rt_msg_free(reply);
        if (ack.rc >= 0) w->failures++;
        if (ack.batch > w->max_batch) w->max_batch = ack.batch;
      } else {
        w->failures++;
      }
      continue;
    }
    char id[32];
    snprintf(id, sizeof id, "x%d-%04d", w->thread, i);
    proto_msg_t m;
    if (i % 3 == 2) /* a transition of a task that does not exist */
      tst_update_msg(&m, id, PROTO_STATE_NEW, PROTO_STATE_TRIAGED, "t", "x", 1);
    else
      tst_task_msg(&m, id, "acme", "todo", PROTO_STATE_NEW, 1);
    rc = store_write_sync(g_rt, g_actor, &m, TST_WAIT_MS, &ack);
    proto_msg_fini(&m);
    if (i % 3 == 2 ? rc != STORE_ENOTFOUND : rc != 0) w->failures++;
    if (ack.batch > w->max_batch) w->max_batch = ack.batch;
  }
  return NULL;
}

Test(store_actor, bad_writes_fail_alone_in_shared_commits,
     .init = setup_durable, .fini = teardown) {
  pthread_t th[MIX_THREADS];
  writer_t w[MIX_THREADS];
  tst_gate_t gate;
  tst_gate_init(&gate);
  for (int t = 0; t < MIX_THREADS; t++) {
    w[t] = (writer_t){.thread = t, .gate = &gate};
    cr_assert_eq(pthread_create(&th[t], NULL, mixed_writer, &w[t]), 0);
  }
  tst_gate_await_entered(&gate, MIX_THREADS);
  tst_gate_open(&gate);
  uint32_t max_batch = 0;
  for (int t = 0; t < MIX_THREADS; t++) {
    pthread_join(th[t], NULL);
    cr_assert_eq(w[t].failures, 0, "thread %d: %d unexpected acks", t,
                 w[t].failures);
    if (w[t].max_batch > max_batch) max_batch = w[t].max_batch;
  }
  tst_gate_destroy(&gate);
  cr_assert_gt(max_batch, 1u);
  int good = 0;
  for (int t = 0; t < MIX_THREADS; t++)
    for (int i = 0; i < MIX_PER_THREAD; i++) {
      char id[32];
      snprintf(id, sizeof id, "x%d-%04d", t, i);
      proto_task_t got;
      int rc = store_task_get(g_store, id, &got);
      if (i % 3 == 0) {
        TST_SOK(rc);
        good++;
        store_task_free(&got);
      } else {
        TST_SRC(rc, STORE_ENOTFOUND);
      }
    }
  store_stats_t st;
  TST_SOK(store_stats(g_store, &st));
  cr_assert_eq(st.tasks, (uint64_t)good);
}

/* ------------------------------------------------------------ events */

Test(store_actor, event_writes_get_consecutive_seqs, .init = setup_fast,
     .fini = teardown) {
  for (uint64_t i = 1; i <= 20; i++) {
    proto_msg_t e = {.type = PROTO_EVENT};
    e.u.event.seq = 1; /* ignored: the store assigns it */
    e.u.event.topic = "tasks";
    e.u.event.ts = 1700000000000;
    e.u.event.data = json_pack("{s:s}", "id", "abc");
    store_ack_t ack;
    TST_SOK(store_write_sync(g_rt, g_actor, &e, TST_WAIT_MS, &ack));
    json_decref(e.u.event.data);
    cr_assert_eq(ack.seq, i);
  }
  /* transitions through the actor carry their actor, reason and time */
  proto_msg_t m;
  tst_task_msg(&m, "walk", "acme", "todo", PROTO_STATE_NEW, 1);
  write_ok(&m);
  proto_msg_fini(&m);
  proto_state_t chain[PROTO_STATE_COUNT];
  int len = tst_state_chain(chain, PROTO_STATE_COUNT);
  for (int i = 1; i < len; i++) {
    proto_msg_t u;
    tst_update_msg(&u, "walk", chain[i - 1], chain[i], "executor", "step",
                   2000 + i);
    write_ok(&u);
    proto_msg_fini(&u);
  }
  proto_task_update_t *h;
  size_t n = tst_history(g_store, "walk", &h);
  cr_assert_eq(n, (size_t)len);
  for (int i = 1; i < len; i++) {
    cr_assert_eq(h[i].to, chain[i]);
    cr_assert_str_eq(h[i].actor, "executor");
    cr_assert_eq(h[i].at, 2000 + i);
  }
  tst_history_free(h, n);
}

/* ------------------------------------------------------------ shutdown */

/* Threads keep writing while the runtime shuts down. Every write the store
 * accepted is answered before the shutdown returns (none waits into its
 * timeout: what was queued is committed by the stopping actor or by the
 * committer still running), every write answered rc 0 is in the store,
 * and nothing leaks (teardown checks). */
enum { SD_THREADS = 4, SD_MAX = 100000 };

typedef struct sd_writer {
  int thread, acked, timeouts;
  tst_latch_t *started;
} sd_writer_t;

static void *shutdown_writer(void *p) {
  sd_writer_t *w = p;
  for (int i = 0; i < SD_MAX; i++) {
    char id[32];
    snprintf(id, sizeof id, "s%d-%05d", w->thread, i);
    proto_msg_t m;
    tst_task_msg(&m, id, "acme", "todo", PROTO_STATE_NEW, 1);
    store_ack_t ack;
    int rc = store_write_sync(g_rt, g_actor, &m, TST_WAIT_MS, &ack);
    proto_msg_fini(&m);
    if (rc != 0) { /* refused: the runtime is going away */
      w->timeouts += rc == RT_ETIMEDOUT;
      break;
    }
    w->acked = i + 1; /* writes are in order: a prefix is acknowledged */
    if (i == 20) tst_latch_count_down(w->started);
  }
  return NULL;
}

Test(store_actor, shutdown_answers_every_accepted_write,
     .init = setup_durable, .fini = teardown) {
  pthread_t th[SD_THREADS];
  sd_writer_t w[SD_THREADS];
  tst_latch_t started;
  tst_latch_init(&started, SD_THREADS);
  for (int t = 0; t < SD_THREADS; t++) {
    w[t] = (sd_writer_t){.thread = t, .started = &started};
    cr_assert_eq(pthread_create(&th[t], NULL, shutdown_writer, &w[t]), 0);
  }
  cr_assert(tst_latch_wait(&started, TST_WAIT_MS), "writers did not start");
  rt_runtime_shutdown(g_rt, RT_SHUTDOWN_DRAIN); /* while they write */
  int acked = 0;
  for (int t = 0; t < SD_THREADS; t++) {
    pthread_join(th[t], NULL);
    cr_assert_eq(w[t].timeouts, 0, "thread %d: a write was never answered", t);
    cr_assert_lt(w[t].acked, SD_MAX, "thread %d outran the shutdown", t);
    acked += w[t].acked;
  }
  tst_latch_destroy(&started);
  for (int t = 0; t < SD_THREADS; t++)
    for (int i = 0; i < w[t].acked; i++) {
      char id[32];
      snprintf(id, sizeof id, "s%d-%05d", t, i);
      proto_task_t got;
      TST_SOK(store_task_get(g_store, id, &got));
      store_task_free(&got);
    }
  store_stats_t st;
  TST_SOK(store_stats(g_store, &st));
  cr_assert_geq(st.tasks, (uint64_t)acked);
  cr_log_info("%d writes acknowledged before the shutdown", acked);
}

/* ------------------------------------------------------------ runs */

/* The committer applies consecutive upserts as one run
 * (store__task_put_run: ids looked up and entered in key order, index keys
 * put in key order). The result must be exactly what the same upserts make
 * one by one: same per-write results, and byte for byte the same id map,
 * records, history and indexes. The run mixes new tasks (hex ids, and
 * non-hex ids sharing their first 8 bytes in falling order), updates of
 * stored tasks, repeats of an id earlier in the run, refused transitions
 * and unchanged re-upserts, with few distinct scores (rank ties). */

enum { RUN_STORED = 40, RUN_LEN = 300 };

typedef struct run_case {
  proto_task_t task[RUN_LEN];
  store__task_prep_t prep[RUN_LEN];
  msgpack_sbuffer rec[RUN_LEN], created[RUN_LEN];
} run_case_t;

static void run_hex_id(char out[41], uint64_t *x) {
  for (int i = 0; i < 40; i++) {
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    out[i] = "0123456789abcdef"[(*x >> 60) & 15];
  }
  out[40] = 0;
}

static const char *run_repo(int i) {
  static const char *const r[] = {"acme-widgets", "acme-api", "tools"};
  return r[i % 3];
}

static const char *run_kind(int i) {
  static const char *const k[] = {"todo", "fixme", "hack", "issue"};
  return k[i % 4];
}

/* A state that is not a legal next one from NEW. */
static proto_state_t run_illegal_from_new(void) {
  for (int s = 0; s < PROTO_STATE_COUNT; s++)
    if (s != PROTO_STATE_NEW &&
        !proto_state_transition_ok(PROTO_STATE_NEW, (proto_state_t)s))
      return (proto_state_t)s;
  cr_assert_fail("every state follows NEW");
  return PROTO_STATE_NEW;
}

static void run_case_build(run_case_t *c, char stored[RUN_STORED][41]) {
  proto_state_t chain[8];
  cr_assert_geq(tst_state_chain(chain, 8), 2);
  proto_state_t illegal = run_illegal_from_new();
  uint64_t x = 7;
  char id[64];
  for (int i = 0; i < RUN_LEN; i++) {
    proto_state_t st = PROTO_STATE_NEW;
    double score = (double)(i % 4);
    switch (i % 6) {
    case 0: /* a stored task moves on, rescored */
      snprintf(id, sizeof id, "%s", stored[i % RUN_STORED]);
      st = chain[1];
      break;
    case 1: /* new, fingerprint id */
    case 4:
      run_hex_id(id, &x);
      break;
    case 2: /* new, ids alike in their first 8 bytes, falling */
      snprintf(id, sizeof id, "gh:acme/widgets#%d", 9000 - i);
      break;
    case 3: /* the new task of the previous write, again: moves on */
      snprintf(id, sizeof id, "gh:acme/widgets#%d", 9000 - (i - 1));
      st = chain[1];
      score = 9;
      break;
    default: /* a stored task: refused transition, or unchanged */
      snprintf(id, sizeof id, "%s", stored[(i * 7) % RUN_STORED]);
      st = i % 12 == 5 ? illegal : PROTO_STATE_NEW;
      score = 1;
      break;
    }
    tst_task_init(&c->task[i], id, run_repo(i), run_kind(i), st, score);
    c->task[i].updated_at += i;
    msgpack_sbuffer_init(&c->rec[i]);
    msgpack_sbuffer_init(&c->created[i]);
    TST_SOK(store__task_prepare(&c->task[i], "store", NULL, &c->rec[i],
                                &c->created[i], &c->prep[i]));
  }
}

static void run_case_free(run_case_t *c) {
  for (int i = 0; i < RUN_LEN; i++) {
    store_task_free(&c->task[i]);
    msgpack_sbuffer_destroy(&c->rec[i]);
    msgpack_sbuffer_destroy(&c->created[i]);
  }
}

static store_t *run_store(const char *dir, char stored[RUN_STORED][41]) {
  store_options_t o = {.no_sync = true};
  store_t *s = tst_store_open(dir, &o);
  for (int i = 0; i < RUN_STORED; i++) {
    proto_task_t t;
    tst_task_init(&t, stored[i], run_repo(i), run_kind(i), PROTO_STATE_NEW,
                  1);
    tst_put(s, &t);
    store_task_free(&t);
  }
  return s;
}

/* Every entry of database @p db of @p a equals @p b's, and as many. */
static void run_same_db(store_t *a, store_t *b, enum store__db db) {
  MDB_txn *ta, *tb;
  MDB_cursor *ca, *cb;
  TST_SOK(mdb_txn_begin(a->env, NULL, MDB_RDONLY, &ta));
  TST_SOK(mdb_txn_begin(b->env, NULL, MDB_RDONLY, &tb));
  TST_SOK(mdb_cursor_open(ta, a->dbi[db], &ca));
  TST_SOK(mdb_cursor_open(tb, b->dbi[db], &cb));
  MDB_val ka, va, kb, vb;
  size_t n = 0;
  int ra = mdb_cursor_get(ca, &ka, &va, MDB_FIRST);
  int rb = mdb_cursor_get(cb, &kb, &vb, MDB_FIRST);
  for (; ra == 0 && rb == 0; n++) {
    cr_assert(ka.mv_size == kb.mv_size &&
                  memcmp(ka.mv_data, kb.mv_data, ka.mv_size) == 0,
              "db %d: key %zu differs", (int)db, n);
    cr_assert(va.mv_size == vb.mv_size &&
                  memcmp(va.mv_data, vb.mv_data, va.mv_size) == 0,
              "db %d: value %zu differs", (int)db, n);
    ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
    rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
  }
  cr_assert(ra == MDB_NOTFOUND && rb == MDB_NOTFOUND,
            "db %d: %zu entries alike, then one store has more", (int)db, n);
  cr_assert_gt(n, (size_t)RUN_STORED);
  mdb_cursor_close(ca);
  mdb_cursor_close(cb);
  mdb_txn_abort(ta);
  mdb_txn_abort(tb);
}

Test(store_actor, run_writes_what_one_by_one_writes, .timeout = 60) {
  static char stored[RUN_STORED][41];
  uint64_t x = 1;
  for (int i = 0; i < RUN_STORED; i++)
    run_hex_id(stored[i], &x);
  char *dir_a = tst_tmpdir(), *dir_b = tst_tmpdir();
  store_t *a = run_store(dir_a, stored), *b = run_store(dir_b, stored);
  run_case_t *c = calloc(1, sizeof(*c));
  cr_assert_not_null(c);
  run_case_build(c, stored);

  const store__task_prep_t *p[RUN_LEN];
  int rc_run[RUN_LEN], rc_one[RUN_LEN];
  store_txn_t *t;
  TST_SOK(store_write_begin(a, &t));
  for (int i = 0; i < RUN_LEN; i++)
    p[i] = &c->prep[i];
  TST_SOK(store__task_put_run(t, p, RUN_LEN, "store", "upsert", rc_run));
  TST_SOK(store_write_commit(t));
  TST_SOK(store_write_begin(b, &t));
  for (int i = 0; i < RUN_LEN; i++)
    rc_one[i] = store__task_put_prepared(t, p[i], "store", "upsert");
  TST_SOK(store_write_commit(t));

  int refused = 0;
  for (int i = 0; i < RUN_LEN; i++) {
    cr_assert_eq(rc_run[i], rc_one[i], "write %d: %d in a run, %d alone", i,
                 rc_run[i], rc_one[i]);
    cr_assert(rc_one[i] == 0 || rc_one[i] == STORE_ETRANSITION);
    refused += rc_one[i] == STORE_ETRANSITION;
  }
  cr_assert_gt(refused, 0, "the case has no refused transition");
  run_same_db(a, b, DB_TASK_IDS);
  run_same_db(a, b, DB_TASK_ROWS);
  run_same_db(a, b, DB_TASK_INDEX);

  run_case_free(c);
  free(c);
  store_close(a);
  store_close(b);
  tst_rmrf(dir_a);
  tst_rmrf(dir_b);
  free(dir_a);
  free(dir_b);
  tst_check_leaks();
}
