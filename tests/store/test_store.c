/*
 * test_store.c: the LMDB data layer in store/store.h.
 *
 * These tests assert the store's contract: a store is created where asked
 * and reopened as it was; version-1 and version-2 stores are migrated on
 * a read-write open (tasks, indexes, history in order, events and the
 * rest kept; new history follows the old) and refused read-only with
 * STORE_EMIGRATE, and a migration that fails leaves the file untouched;
 * an upsert that changes nothing commits nothing; ids, repos and kinds too
 * long for an LMDB key fail alone (STORE_EINVAL); a newer schema
 * (STORE_ENEWER), a file that is not LMDB and an LMDB file that is not a
 * ccm store (STORE_ENOTSTORE) are refused without a byte of them changing; a read-only open of a missing directory
 * fails clearly and creates nothing. Through the store, the task state
 * machine refuses every illegal transition (STORE_ETRANSITION, nothing
 * changed) and records every legal one in history, in order, with its
 * actor, reason and time. The indexes agree with a brute-force filter of
 * the tasks after many random upserts, transitions and aborted
 * transactions, and rank by score within a state. Events get seq 1, 2, ...
 * never reused, retention trims the oldest, and a replay from a seq returns
 * exactly the later ones. A store opened with a tiny map accepts writes
 * through the store actor far beyond it (grown and replayed), losing none.
 * Reads by id return the task asked for, also when a remembered row (a
 * row hint) is wrong, and on several threads beside a writer.
 */
#include <criterion/criterion.h>
#include <lmdb.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_actor.h"
#include "store/store_int.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"

TestSuite(store, .timeout = 120);

static char *g_dir;

static void setup(void) { g_dir = tst_tmpdir(); }
static void teardown(void) {
  tst_rmrf(g_dir);
  free(g_dir);
  tst_check_leaks();
}

static const store_options_t fast = {.no_sync = true};

/* ------------------------------------------------------------ open */

Test(store, create_open_close, .init = setup, .fini = teardown) {
  char sub[4096], file[4096];
  snprintf(sub, sizeof sub, "%s/data", g_dir);
  store_t *s = tst_store_open(sub, &fast);
  cr_assert(tst_exists(tst_store_file(sub, file, sizeof file)));
  cr_assert_eq(store_schema_found(s), 0u, "a new store has no schema yet");
  store_stats_t st;
  TST_SOK(store_stats(s, &st));
  cr_assert_eq(st.tasks, 0u);
  cr_assert_eq(st.events, 0u);
  proto_task_t t;
  tst_task_init(&t, "abc123", "acme", "todo", PROTO_STATE_NEW, 3.5);
  tst_put(s, &t);
  store_task_free(&t);
  store_close(s);
  store_close(NULL);

  s = tst_store_open(sub, &fast);
  cr_assert_eq(store_schema_found(s), (unsigned)STORE_SCHEMA_VERSION);
  proto_task_t got;
  TST_SOK(store_task_get(s, "abc123", &got));
  cr_assert_str_eq(got.repo, "acme");
  cr_assert_str_eq(got.title, "Handle the todo in abc123");
  cr_assert_eq(got.score.total, 3.5);
  store_task_free(&got);
  TST_SRC(store_task_get(s, "nope", &got), STORE_ENOTFOUND);
  store_close(s);

  store_options_t ro = {.read_only = true};
  s = tst_store_open(sub, &ro);
  TST_SOK(store_task_get(s, "abc123", &got));
  store_task_free(&got);
  store_txn_t *x = (store_txn_t *)1;
  TST_SRC(store_write_begin(s, &x), STORE_EREADONLY);
  cr_assert_null(x);
  store_close(s);
}

Test(store, read_only_open_of_missing_dir_fails_and_creates_nothing,
     .init = setup, .fini = teardown) {
  char sub[4096];
  snprintf(sub, sizeof sub, "%s/missing/deeper", g_dir);
  store_options_t ro = {.read_only = true};
  store_t *s = (store_t *)1;
  char err[512] = "";
  int rc = store_open(sub, &ro, &s, err, sizeof err);
  cr_assert_neq(rc, 0);
  cr_assert_null(s);
  cr_assert(strstr(err, sub) != NULL, "the error names the path: '%s'", err);
  cr_log_info("read-only open of a missing dir: %s (%s)", err,
              store_strerror(rc));
  cr_assert_eq(tst_dir_entries(g_dir), 0, "nothing created under %s", g_dir);

  /* An existing directory without a store: same, still nothing created. */
  rc = store_open(g_dir, &ro, &s, err, sizeof err);
  cr_assert_neq(rc, 0);
  cr_assert_null(s);
  cr_assert(strstr(err, STORE_FILE) != NULL, "the error names the file: '%s'",
            err);
  cr_assert_eq(tst_dir_entries(g_dir), 0, "nothing created in %s", g_dir);
}

/* A refused open leaves the file's bytes alone and creates nothing more
 * than LMDB's lock file (only for a real LMDB file). */
static void expect_refused(const char *dir, int want, bool lmdb) {
  char file[4096];
  tst_store_file(dir, file, sizeof file);
  size_t size0, size1;
  uint64_t h0 = tst_file_hash(file, &size0);
  int entries0 = tst_dir_entries(dir);
  for (int ro = 0; ro < 2; ro++) {
    store_options_t o = {.read_only = ro};
    store_t *s = (store_t *)1;
    char err[512] = "";
    int rc = store_open(dir, &o, &s, err, sizeof err);
    cr_assert_eq(rc, want, "%s open: got %d (%s), want %s: %s",
                 ro ? "read-only" : "read-write", rc, store_strerror(rc),
                 store_strerror(want), err);
    cr_assert_null(s);
    cr_assert_neq(err[0], '\0', "a refusal explains itself");
    cr_log_info("refused (%s): %s", ro ? "ro" : "rw", err);
  }
  uint64_t h1 = tst_file_hash(file, &size1);
  cr_assert_eq(size1, size0, "file size changed: %zu -> %zu", size0, size1);
  cr_assert_eq(h1, h0, "file bytes changed");
  if (!lmdb)
    cr_assert_eq(tst_dir_entries(dir), entries0, "no lock file for a non-LMDB file");
}

Test(store, newer_schema_refused_untouched, .init = setup, .fini = teardown) {
  store_t *s = tst_store_open(g_dir, NULL);
  proto_task_t t;
  tst_task_init(&t, "t1", "acme", "todo", PROTO_STATE_NEW, 1);
  tst_put(s, &t);
  store_task_free(&t);
  store_close(s);
  tst_set_schema_version(g_dir, 99);
  expect_refused(g_dir, STORE_ENEWER, true);
}

Test(store, foreign_file_refused_untouched, .init = setup, .fini = teardown) {
  char file[4096];
  tst_store_file(g_dir, file, sizeof file);
  static const size_t sizes[] = {7, 4096, 65536};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    FILE *f = fopen(file, "wb");
    cr_assert_not_null(f);
    srand(42 + (unsigned)i);
    for (size_t j = 0; j < sizes[i]; j++) fputc(rand() & 0xff, f);
    fclose(f);
    expect_refused(g_dir, STORE_ENOTSTORE, false);
  }
  /* A text file too. */
  FILE *f = fopen(file, "w");
  cr_assert_not_null(f);
  for (int j = 0; j < 200; j++) fputs("this is not a database\n", f);
  fclose(f);
  expect_refused(g_dir, STORE_ENOTSTORE, false);
}

Test(store, foreign_lmdb_refused_untouched, .init = setup, .fini = teardown) {
  tst_build_foreign_lmdb(g_dir);
  expect_refused(g_dir, STORE_ENOTSTORE, true);
}

/* ------------------------------------------------------------ migration */

typedef struct ids {
  char **v;
  size_t n;
} ids_t;

static void v1_expect_kind(store_t *s, const char *kind, int n, int rem) {
  tst_task_list_t l = {0};
  store_filter_t f = {.state = -1, .kind = kind};
  TST_SOK(tst_collect(s, &f, &l));
  size_t want = 0;
  for (int i = 0; i < n; i++)
    if (i % 3 == rem) want++;
  cr_assert_eq(l.n, want, "kind %s: %zu tasks, want %zu", kind, l.n, want);
  for (size_t i = 0; i < l.n; i++) {
    cr_assert_str_eq(l.rows[i].kind, kind);
    int idx = atoi(l.rows[i].id + 3);
    cr_assert_eq(idx % 3, rem, "task %s listed under %s", l.rows[i].id, kind);
  }
  tst_task_list_free(&l);
}

/* An older store opened read-only: refused with STORE_EMIGRATE and a
 * sentence, and not a byte of it changed. */
static void expect_migration_refused_read_only(const char *dir) {
  char file[4096];
  tst_store_file(dir, file, sizeof file);
  size_t size0, size1;
  uint64_t h0 = tst_file_hash(file, &size0);
  store_options_t ro = {.read_only = true};
  store_t *s = (store_t *)1;
  char err[512] = "";
  TST_SRC(store_open(dir, &ro, &s, err, sizeof err), STORE_EMIGRATE);
  cr_assert_null(s);
  cr_assert_neq(err[0], '\0');
  cr_assert_eq(tst_file_hash(file, &size1), h0, "read-only open changed the file");
}

Test(store, v1_migrates_on_read_write_open, .init = setup, .fini = teardown) {
  enum { N = 30 };
  tst_build_v1(g_dir, N);
  expect_migration_refused_read_only(g_dir);

  /* Read-write: migrated, everything kept. */
  store_options_t ro = {.read_only = true};
  store_t *s = tst_store_open(g_dir, NULL);
  cr_assert_eq(store_schema_found(s), 1u);
  store_stats_t st;
  TST_SOK(store_stats(s, &st));
  cr_assert_eq(st.tasks, (uint64_t)N);
  cr_assert_eq(st.last_seq, 1u, "the v1 event is kept");
  v1_expect_kind(s, "todo", N, 0);
  v1_expect_kind(s, "fixme", N, 1);
  v1_expect_kind(s, "hack", N, 2);

  /* History written by v1 stays, and what comes after follows it (v1-0000
   * has seq 1 on disk: a counter restarted at 0 would overwrite it). */
  static const int moved[] = {0, 4, 29};
  store_txn_t *x;
  TST_SOK(store_write_begin(s, &x));
  for (size_t j = 0; j < 3; j++) {
    char id[32];
    snprintf(id, sizeof id, "v1-%04d", moved[j]);
    TST_SOK(store_task_transition(x, id, PROTO_STATE_RESOLVED, "tester",
                                  "after migration", 1800000000000));
  }
  proto_task_t nt;
  tst_task_init(&nt, "v1-0004x", "r0", "todo", PROTO_STATE_NEW, 1);
  TST_SOK(store_task_put(x, &nt, "tester", "new"));
  store_task_free(&nt);
  TST_SOK(store_write_commit(x));
  for (int i = 0; i < N; i++) {
    char id[32];
    snprintf(id, sizeof id, "v1-%04d", i);
    proto_task_update_t *h;
    size_t n = tst_history(s, id, &h);
    bool was_moved = i == 0 || i == 4 || i == 29;
    size_t want = was_moved ? 2 : 1;
    cr_assert_eq(n, want, "%s: %zu history entries after migration, want %zu",
                 id, n, want);
    cr_assert_str_eq(h[0].actor, "v1", "%s: v1 history entry lost", id);
    cr_assert_eq(h[0].at, 1600000000000 + i);
    if (was_moved) {
      cr_assert_str_eq(h[1].actor, "tester", "%s: new entry not last", id);
      cr_assert_eq(h[1].to, PROTO_STATE_RESOLVED);
    }
    tst_history_free(h, n);
  }
  store_close(s);

  /* Reopened: already the current version; raw view consistent. */
  s = tst_store_open(g_dir, &ro);
  cr_assert_eq(store_schema_found(s), (unsigned)STORE_SCHEMA_VERSION);
  v1_expect_kind(s, "fixme", N, 1);
  store_close(s);
  tst_raw_check(g_dir, NULL);
}

/* v2 fixture (tst_build_v2): where task i ended up. */
static proto_state_t v2_state(int i) {
  return i % 6 == 0   ? PROTO_STATE_RUNNING
         : i % 3 == 0 ? PROTO_STATE_READY
                      : PROTO_STATE_TRIAGED;
}

static void v2_expect_history(store_t *s, int i) {
  char id[32];
  snprintf(id, sizeof id, "v2-%04d", i);
  proto_task_update_t *h;
  size_t n = tst_history(s, id, &h);
  size_t want = i % 6 == 0 ? 3 : i % 3 == 0 ? 2 : 1;
  cr_assert_eq(n, want, "%s: %zu history entries, want %zu", id, n, want);
  cr_assert_eq(h[0].from, PROTO_STATE_NEW);
  cr_assert_eq(h[0].to, PROTO_STATE_TRIAGED);
  cr_assert_str_eq(h[0].actor, "v2");
  cr_assert_eq(h[0].at, 1650000000000 + i);
  for (size_t j = 1; j < n; j++) {
    cr_assert_eq(h[j].from, h[j - 1].to, "%s: history out of order", id);
    cr_assert_str_eq(h[j].reason, "moved");
    cr_assert_eq(h[j].at, 1650000000000 + i + (int64_t)j * 1000);
  }
  cr_assert_eq(h[n - 1].to, v2_state(i));
  tst_history_free(h, n);
}

Test(store, v2_migrates_to_v3_keeping_everything, .init = setup,
     .fini = teardown) {
  enum { N = 40 };
  tst_build_v2(g_dir, N);
  expect_migration_refused_read_only(g_dir);

  store_options_t ro = {.read_only = true};
  store_t *s = tst_store_open(g_dir, NULL);
  cr_assert_eq(store_schema_found(s), 2u);
  store_stats_t st;
  TST_SOK(store_stats(s, &st));
  cr_assert_eq(st.tasks, (uint64_t)N);
  size_t want[PROTO_STATE_COUNT] = {0};
  for (int i = 0; i < N; i++) want[v2_state(i)]++;
  for (int k = 0; k < PROTO_STATE_COUNT; k++)
    cr_assert_eq(st.by_state[k], want[k], "state %d: %" PRIu64 " tasks",
                 k, st.by_state[k]);
  cr_assert_eq(st.last_seq, 7u, "the v2 event is kept");
  for (int i = 0; i < N; i++) v2_expect_history(s, i);

  /* Indexes: by repo, by kind, and ranked by score within a state. */
  tst_task_list_t l = {0};
  store_filter_t by_repo = {.state = -1, .repo = "r1"};
  TST_SOK(tst_collect(s, &by_repo, &l));
  cr_assert_eq(l.n, (size_t)(N / 3 + (N % 3 > 1)));
  tst_task_list_free(&l);
  store_filter_t fixme = {.state = -1, .kind = "fixme"};
  TST_SOK(tst_collect(s, &fixme, &l));
  cr_assert_eq(l.n, (size_t)N / 2);
  tst_task_list_free(&l);
  store_filter_t triaged = {.state = PROTO_STATE_TRIAGED};
  TST_SOK(tst_collect(s, &triaged, &l));
  cr_assert_eq(l.n, want[PROTO_STATE_TRIAGED]);
  for (size_t i = 1; i < l.n; i++)
    cr_assert_geq(l.rows[i - 1].score, l.rows[i].score, "rank order lost");
  tst_task_list_free(&l);

  /* New history follows the migrated one; new tasks get new rows. */
  store_txn_t *x;
  TST_SOK(store_write_begin(s, &x));
  TST_SOK(store_task_transition(x, "v2-0000", PROTO_STATE_REVIEW, "tester",
                                "after migration", 1800000000000));
  proto_task_t nt;
  tst_task_init(&nt, "v2-new", "r0", "todo", PROTO_STATE_NEW, 9);
  TST_SOK(store_task_put(x, &nt, "tester", "new"));
  store_task_free(&nt);
  TST_SOK(store_write_commit(x));
  proto_task_update_t *h;
  size_t n = tst_history(s, "v2-0000", &h);
  cr_assert_eq(n, 4u);
  cr_assert_eq(h[2].to, PROTO_STATE_RUNNING);
  cr_assert_eq(h[3].to, PROTO_STATE_REVIEW);
  cr_assert_str_eq(h[3].actor, "tester");
  tst_history_free(h, n);
  store_close(s);

  s = tst_store_open(g_dir, &ro);
  cr_assert_eq(store_schema_found(s), (unsigned)STORE_SCHEMA_VERSION);
  store_close(s);
  tst_raw_report_t rep;
  tst_raw_check(g_dir, &rep);
  cr_assert_eq(rep.tasks, (size_t)N + 1);
  /* The databases v3 did not change are as they were. */
  static const char gh_key[] = "https://api.github.com/repos/o/r/issues";
  cr_assert(tst_raw_equals(g_dir, "gh_cache", gh_key, sizeof gh_key - 1,
                           TST_V2_GH_VALUE, sizeof TST_V2_GH_VALUE - 1));
  cr_assert(tst_raw_equals(g_dir, "repos", "r0", 2, "{\"path\":\"/src/r0\"}",
                           18));
}

/* v3 -> v4 adds the files, gh_deliveries and kv databases and changes
 * nothing else: a v3 store (a current one with those dropped and the
 * version set back) keeps its tasks, history and indexes. */
Test(store, v3_migrates_to_v4_adding_databases, .init = setup,
     .fini = teardown) {
  static const char *const added[] = {"files", "gh_deliveries", "kv"};
  store_t *s = tst_store_open(g_dir, NULL);
  store_txn_t *x;
  TST_SOK(store_write_begin(s, &x));
  for (int i = 0; i < 10; i++) {
    char id[16];
    snprintf(id, sizeof id, "v3-%02d", i);
    proto_task_t t;
    tst_task_init(&t, id, "r0", "todo", PROTO_STATE_NEW, i);
    TST_SOK(store_task_put(x, &t, "tester", "made at v3"));
    store_task_free(&t);
  }
  TST_SOK(store_write_commit(x));
  store_close(s);
  for (size_t i = 0; i < 3; i++) tst_drop_db(g_dir, added[i]);
  tst_set_schema_version(g_dir, 3);
  expect_migration_refused_read_only(g_dir);

  s = tst_store_open(g_dir, NULL);
  cr_assert_eq(store_schema_found(s), 3u);
  store_stats_t st;
  TST_SOK(store_stats(s, &st));
  cr_assert_eq(st.tasks, 10u);
  tst_task_list_t l = {0};
  store_filter_t all_new = {.state = PROTO_STATE_NEW};
  TST_SOK(tst_collect(s, &all_new, &l));
  cr_assert_eq(l.n, 10u);
  for (size_t i = 1; i < l.n; i++)
    cr_assert_geq(l.rows[i - 1].score, l.rows[i].score, "rank order lost");
  tst_task_list_free(&l);
  store_close(s);
  for (size_t i = 0; i < 3; i++)
    cr_assert(tst_db_exists(g_dir, added[i]), "%s not created", added[i]);
  store_options_t ro = {.read_only = true};
  s = tst_store_open(g_dir, &ro);
  cr_assert_eq(store_schema_found(s), (unsigned)STORE_SCHEMA_VERSION);
  store_close(s);
}

/* task_ids through plain LMDB (the store closed): the key sizes of its
 * entries, counted in @p sizes[0..63] (larger ones in sizes[63]). */
static void id_key_sizes(const char *dir, size_t sizes[64]) {
  char file[4096];
  tst_store_file(dir, file, sizeof file);
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi ids;
  MDB_cursor *c;
  MDB_val k, v;
  memset(sizes, 0, 64 * sizeof(size_t));
  cr_assert_eq(mdb_env_create(&env), 0);
  cr_assert_eq(mdb_env_set_maxdbs(env, 32), 0);
  cr_assert_eq(mdb_env_open(env, file, MDB_NOSUBDIR | MDB_RDONLY, 0600), 0);
  cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
  cr_assert_eq(mdb_dbi_open(txn, "task_ids", 0, &ids), 0);
  cr_assert_eq(mdb_cursor_open(txn, ids, &c), 0);
  for (int op = MDB_FIRST; mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT)
    sizes[k.mv_size < 63 ? k.mv_size : 63]++;
  mdb_cursor_close(c);
  mdb_txn_abort(txn);
  mdb_env_close(env);
}

/* A fingerprint id (40 lower-case hex digits) is kept in task_ids packed
 * into 0 | 20 bytes; any other id as its bytes. Every kind is found, an
 * upsert of a packed id finds its task, and ids differing only in case
 * are two tasks. */
Test(store, hex_ids_packed_others_kept, .init = setup, .fini = teardown) {
  static const char *const ids[] = {
      "0123456789abcdef0123456789abcdef01234567",  /* packed */
      "0123456789ABCDEF0123456789ABCDEF01234567",  /* upper case */
      "0123456789abcdef0123456789abcdef0123456",   /* 39 digits */
      "0123456789abcdef0123456789abcdef012345678", /* 41 digits */
      "0123456789abcdef0123456789abcdef0123456g",  /* not hex */
      "ffffffffffffffffffffffffffffffffffffffff",  /* packed */
      "short-id"};
  enum { N = sizeof ids / sizeof ids[0] };
  store_t *s = tst_store_open(g_dir, &fast);
  for (int round = 0; round < 2; round++) { /* the second: upserts */
    store_txn_t *x;
    TST_SOK(store_write_begin(s, &x));
    for (size_t i = 0; i < N; i++) {
      proto_task_t t;
      tst_task_init(&t, ids[i], "acme", "todo", PROTO_STATE_NEW, 1.0 + i);
      t.updated_at = 100 + round;
      TST_SOK(store_task_put(x, &t, "tester", "upsert"));
      store_task_free(&t);
    }
    TST_SOK(store_write_commit(x));
  }
  store_stats_t st;
  TST_SOK(store_stats(s, &st));
  cr_assert_eq(st.tasks, (uint64_t)N, "an upsert of a packed id added a task");
  for (size_t i = 0; i < N; i++) {
    proto_task_t t;
    TST_SOK(store_task_get(s, ids[i], &t));
    cr_assert_str_eq(t.id, ids[i]);
    cr_assert_eq(t.updated_at, 101, "'%s' not updated in place", ids[i]);
    store_task_free(&t);
  }
  proto_task_t none;
  TST_SRC(store_task_get(s, "0123456789abcdef0123456789abcdef01234568",
                         &none), STORE_ENOTFOUND);
  store_close(s);
  size_t sizes[64];
  id_key_sizes(g_dir, sizes);
  cr_assert_eq(sizes[21], 2u, "the two fingerprint ids packed");
  cr_assert_eq(sizes[40], 2u, "upper case and non-hex 40-byte ids as given");
  cr_assert_eq(sizes[39] + sizes[41] + sizes[8], 3u);
  tst_raw_report_t rep;
  tst_raw_check(g_dir, &rep);
  cr_assert_eq(rep.tasks, (size_t)N);
}

/* A creation is recorded as an update from "new" with its actor (or
 * none), the reason "created" and the task's updated_at. */
Test(store, creation_entry_kept_exactly, .init = setup, .fini = teardown) {
  store_t *s = tst_store_open(g_dir, &fast);
  const char *actors[] = {"scanner-7", NULL};
  for (int i = 0; i < 2; i++) {
    proto_task_t t;
    tst_task_init(&t, i ? "made-by-nobody" : "made-by-scanner", "acme",
                  "todo", PROTO_STATE_TRIAGED, 3.0);
    t.updated_at = 1234567890123 + i;
    store_txn_t *x;
    TST_SOK(store_write_begin(s, &x));
    TST_SOK(store_task_put(x, &t, actors[i], "ignored for a creation"));
    TST_SOK(store_write_commit(x));
    proto_task_update_t *h;
    size_t n = tst_history(s, t.id, &h);
    cr_assert_eq(n, 1u);
    cr_assert_str_eq(h[0].task_id, t.id);
    cr_assert_eq(h[0].from, PROTO_STATE_NEW);
    cr_assert_eq(h[0].to, PROTO_STATE_TRIAGED);
    cr_assert_eq(h[0].at, 1234567890123 + i);
    cr_assert_str_eq(h[0].reason, "created");
    if (actors[i])
      cr_assert_str_eq(h[0].actor, actors[i]);
    else
      cr_assert_null(h[0].actor);
    tst_history_free(h, n);
    store_task_free(&t);
  }
  store_close(s);
}

/* Put task_ids back the way schema 4 kept it (each id as its bytes). */
static void unpack_ids_as_v4(const char *dir) {
  char file[4096];
  tst_store_file(dir, file, sizeof file);
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi ids, rows;
  MDB_cursor *c;
  MDB_val k, v;
  cr_assert_eq(mdb_env_create(&env), 0);
  cr_assert_eq(mdb_env_set_maxdbs(env, 32), 0);
  cr_assert_eq(mdb_env_open(env, file, MDB_NOSUBDIR, 0600), 0);
  cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
  cr_assert_eq(mdb_dbi_open(txn, "task_ids", 0, &ids), 0);
  cr_assert_eq(mdb_dbi_open(txn, "task_rows", 0, &rows), 0);
  cr_assert_eq(mdb_drop(txn, ids, 0), 0);
  cr_assert_eq(mdb_cursor_open(txn, rows, &c), 0);
  for (int op = MDB_FIRST; mdb_cursor_get(c, &k, &v, op) == 0;
       op = MDB_NEXT) {
    if (k.mv_size != 8)
      continue; /* history */
    proto_msg_t m;
    cr_assert_eq(proto_msgpack_decode(v.mv_data, v.mv_size, &m, NULL, 0), 0);
    MDB_val idk = {.mv_size = strlen(m.u.task.id), .mv_data = m.u.task.id};
    MDB_val row = {.mv_size = 8, .mv_data = k.mv_data};
    cr_assert_eq(mdb_put(txn, ids, &idk, &row, MDB_NOOVERWRITE), 0);
    proto_msg_fini(&m);
  }
  mdb_cursor_close(c);
  cr_assert_eq(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

/* Schema 4 kept every id as its bytes: opening a v4 store read-write
 * packs the fingerprint ids; every task is found, upserts update in
 * place, history is kept. */
Test(store, v4_migrates_to_v5_packing_ids, .init = setup, .fini = teardown) {
  enum { HEX = 40, OTHER = 5 };
  char ids[HEX + OTHER][48];
  store_t *s = tst_store_open(g_dir, NULL);
  store_txn_t *x;
  TST_SOK(store_write_begin(s, &x));
  for (int i = 0; i < HEX + OTHER; i++) {
    if (i < HEX)
      snprintf(ids[i], sizeof ids[i], "%08x%032x", 0xabc00000u + (unsigned)i,
               (unsigned)i * 2654435761u);
    else
      snprintf(ids[i], sizeof ids[i], "task-%d", i);
    proto_task_t t;
    tst_task_init(&t, ids[i], "r0", "todo", PROTO_STATE_NEW, i);
    TST_SOK(store_task_put(x, &t, "tester", "made at v4"));
    store_task_free(&t);
  }
  TST_SOK(store_write_commit(x));
  proto_state_t chain[PROTO_STATE_COUNT];
  cr_assert_geq(tst_state_chain(chain, PROTO_STATE_COUNT), 2);
  TST_SOK(store_write_begin(s, &x));
  TST_SOK(store_task_transition(x, ids[7], chain[1], "tester", "moved", 99));
  TST_SOK(store_write_commit(x));
  store_close(s);
  unpack_ids_as_v4(g_dir);
  size_t sizes[64];
  id_key_sizes(g_dir, sizes);
  cr_assert_eq(sizes[40], (size_t)HEX, "the fixture keeps ids as v4 did");
  tst_set_schema_version(g_dir, 4);
  expect_migration_refused_read_only(g_dir);

  s = tst_store_open(g_dir, NULL);
  cr_assert_eq(store_schema_found(s), 4u);
  for (int i = 0; i < HEX + OTHER; i++) {
    proto_task_t t;
    TST_SOK(store_task_get(s, ids[i], &t));
    cr_assert_str_eq(t.id, ids[i]);
    store_task_free(&t);
  }
  proto_task_update_t *h;
  size_t n = tst_history(s, ids[7], &h);
  cr_assert_eq(n, 2u, "created + moved");
  cr_assert_eq(h[1].to, chain[1]);
  tst_history_free(h, n);
  proto_task_t again;
  tst_task_init(&again, ids[3], "r0", "todo", PROTO_STATE_NEW, 50);
  tst_put(s, &again);
  store_task_free(&again);
  store_stats_t st;
  TST_SOK(store_stats(s, &st));
  cr_assert_eq(st.tasks, (uint64_t)(HEX + OTHER), "an upsert added a task");
  store_close(s);
  id_key_sizes(g_dir, sizes);
  cr_assert_eq(sizes[21], (size_t)HEX, "fingerprint ids packed");
  tst_raw_report_t rep;
  tst_raw_check(g_dir, &rep);
  cr_assert_eq(rep.tasks, (size_t)(HEX + OTHER));
}

/* A v2 store whose history names a task that does not exist cannot be
 * converted: the open fails and the file is left exactly as it was. */
Test(store, failed_migration_changes_nothing, .init = setup,
     .fini = teardown) {
  tst_build_v2(g_dir, 12);
  unsigned char key[14] = "ghost"; /* "ghost" | 0 | seq 99 (8 bytes) */
  key[13] = 99;
  tst_raw_put(g_dir, "history", key, 14, "x", 1);
  char file[4096];
  tst_store_file(g_dir, file, sizeof file);
  size_t size0, size1;
  uint64_t h0 = tst_file_hash(file, &size0);
  store_t *s = (store_t *)1;
  char err[512] = "";
  TST_SRC(store_open(g_dir, NULL, &s, err, sizeof err), STORE_ECORRUPT);
  cr_assert_null(s);
  cr_assert_eq(tst_file_hash(file, &size1), h0, "a failed migration wrote");
  cr_assert_eq(size1, size0);
}

/* ------------------------------------------------------------ no-op writes */

/* Upserting a task exactly as stored writes nothing: the transaction has
 * no dirty page, so LMDB commits nothing (its txnid stays). A changed
 * field is written, and the indexes follow a changed score and state. */
Test(store, unchanged_upsert_writes_nothing, .init = setup,
     .fini = teardown) {
  proto_task_t t;
  tst_task_init(&t, "same1", "acme", "todo", PROTO_STATE_NEW, 2.0);
  store_t *s = tst_store_open(g_dir, &fast);
  tst_put(s, &t);
  store_close(s);
  uint64_t before = tst_last_txnid(g_dir);

  s = tst_store_open(g_dir, &fast);
  tst_put(s, &t);
  tst_put(s, &t);
  store_close(s);
  cr_assert_eq(tst_last_txnid(g_dir), before, "a no-op upsert committed");

  s = tst_store_open(g_dir, &fast);
  t.last_seen += 1000; /* a rescan saw it again: the record changes */
  tst_put(s, &t);
  t.score.total = 7.5; /* re-ranked, then triaged */
  t.state = PROTO_STATE_TRIAGED;
  tst_put(s, &t);
  proto_task_t got;
  TST_SOK(store_task_get(s, "same1", &got));
  cr_assert_eq(got.last_seen, t.last_seen);
  cr_assert_eq(got.score.total, 7.5);
  store_task_free(&got);
  store_close(s);
  cr_assert_eq(tst_last_txnid(g_dir), before + 2);
  tst_raw_report_t rep;
  tst_raw_check(g_dir, &rep);
  cr_assert_eq(rep.history, 2u, "created, then triaged");
  store_task_free(&t);
}

/* Keys longer than LMDB takes (511 bytes) are refused as bad writes: the
 * transaction goes on and its other writes commit. */
Test(store, oversized_keys_fail_alone, .init = setup, .fini = teardown) {
  store_t *s = tst_store_open(g_dir, &fast);
  char long_id[600], long_repo[505];
  memset(long_id, 'f', sizeof long_id - 1);
  long_id[sizeof long_id - 1] = '\0';
  memset(long_repo, 'r', sizeof long_repo - 1);
  long_repo[sizeof long_repo - 1] = '\0';
  proto_task_t ok, bad_id, bad_repo;
  tst_task_init(&ok, "fine", "acme", "todo", PROTO_STATE_NEW, 1);
  tst_task_init(&bad_id, long_id, "acme", "todo", PROTO_STATE_NEW, 1);
  tst_task_init(&bad_repo, "fine2", long_repo, "todo", PROTO_STATE_NEW, 1);
  store_txn_t *x;
  TST_SOK(store_write_begin(s, &x));
  TST_SRC(store_task_put(x, &bad_id, "t", "r"), STORE_EINVAL);
  TST_SOK(store_task_put(x, &ok, "t", "r"));
  TST_SRC(store_task_put(x, &bad_repo, "t", "r"), STORE_EINVAL);
  TST_SOK(store_write_commit(x));
  proto_task_t got;
  TST_SOK(store_task_get(s, "fine", &got));
  store_task_free(&got);
  TST_SRC(store_task_get(s, long_id, &got), STORE_ENOTFOUND);
  TST_SRC(store_task_get(s, "fine2", &got), STORE_ENOTFOUND);
  TST_SOK(store_write_begin(s, &x));
  TST_SRC(store_task_transition(x, long_id, PROTO_STATE_TRIAGED, "t", "r", 1),
          STORE_ENOTFOUND);
  store_write_abort(x);
  store_task_free(&ok);
  store_task_free(&bad_id);
  store_task_free(&bad_repo);
  store_close(s);
  tst_raw_report_t rep;
  tst_raw_check(g_dir, &rep);
  cr_assert_eq(rep.tasks, 1u);
}

/* ------------------------------------------------------------ transitions */

static void put_new(store_t *s, const char *id, proto_state_t st) {
  proto_task_t t;
  tst_task_init(&t, id, "acme", "todo", st, 2.0);
  tst_put(s, &t);
  store_task_free(&t);
}

Test(store, every_transition_checked, .init = setup, .fini = teardown) {
  store_t *s = tst_store_open(g_dir, &fast);
  int legal = 0, illegal = 0;
  for (int from = 0; from < PROTO_STATE_COUNT; from++) {
    for (int to = 0; to < PROTO_STATE_COUNT; to++) {
      char id[32];
      snprintf(id, sizeof id, "t-%d-%d", from, to);
      put_new(s, id, (proto_state_t)from);
      proto_task_update_t *h0;
      size_t n0 = tst_history(s, id, &h0);
      tst_history_free(h0, n0);
      bool ok = proto_state_transition_ok((proto_state_t)from, (proto_state_t)to);
      store_txn_t *x;
      int64_t at = 1700000000000 + from * 100 + to;
      /* via store_task_transition */
      TST_SOK(store_write_begin(s, &x));
      int rc = store_task_transition(x, id, (proto_state_t)to, "tester",
                                     "checking", at);
      TST_SOK(store_write_commit(x)); /* a refused write spoils nothing */
      proto_task_t got;
      TST_SOK(store_task_get(s, id, &got));
      proto_task_update_t *h;
      size_t n = tst_history(s, id, &h);
      if (ok) {
        legal++;
        cr_assert_eq(rc, 0, "%s -> %s refused: %s",
                     proto_state_name((proto_state_t)from),
                     proto_state_name((proto_state_t)to), store_strerror(rc));
        cr_assert_eq(got.state, (proto_state_t)to);
        cr_assert_eq(got.updated_at, at);
        cr_assert_eq(n, n0 + 1);
        cr_assert_eq(h[n - 1].from, (proto_state_t)from);
        cr_assert_eq(h[n - 1].to, (proto_state_t)to);
        cr_assert_str_eq(h[n - 1].actor, "tester");
        cr_assert_str_eq(h[n - 1].reason, "checking");
        cr_assert_eq(h[n - 1].at, at);
      } else {
        illegal++;
        cr_assert_eq(rc, STORE_ETRANSITION, "%s -> %s: got %s",
                     proto_state_name((proto_state_t)from),
                     proto_state_name((proto_state_t)to), store_strerror(rc));
        cr_assert_eq(got.state, (proto_state_t)from, "state changed anyway");
        cr_assert_eq(got.updated_at, 1700000000000, "record changed anyway");
        cr_assert_eq(n, n0, "history written for a refused transition");
      }
      tst_history_free(h, n);
      store_task_free(&got);

      /* via store_task_put with another state: the same rule */
      if (to != from) {
        char id2[40];
        snprintf(id2, sizeof id2, "p-%d-%d", from, to);
        put_new(s, id2, (proto_state_t)from);
        proto_task_t t;
        tst_task_init(&t, id2, "acme", "todo", (proto_state_t)to, 2.0);
        TST_SOK(store_write_begin(s, &x));
        rc = store_task_put(x, &t, "tester", "upsert");
        TST_SOK(store_write_commit(x));
        store_task_free(&t);
        TST_SOK(store_task_get(s, id2, &got));
        if (ok) {
          cr_assert_eq(rc, 0);
          cr_assert_eq(got.state, (proto_state_t)to);
        } else {
          cr_assert_eq(rc, STORE_ETRANSITION, "put %d -> %d: %s", from, to,
                       store_strerror(rc));
          cr_assert_eq(got.state, (proto_state_t)from);
        }
        store_task_free(&got);
      }
    }
  }
  cr_log_info("transitions: %d legal, %d illegal", legal, illegal);
  cr_assert_gt(legal, 0);
  cr_assert_gt(illegal, 0);

  /* Unknown task: not found, nothing created. */
  store_txn_t *x;
  TST_SOK(store_write_begin(s, &x));
  TST_SRC(store_task_transition(x, "ghost", PROTO_STATE_TRIAGED, "t", "r", 1),
          STORE_ENOTFOUND);
  TST_SOK(store_write_commit(x));
  proto_task_t got;
  TST_SRC(store_task_get(s, "ghost", &got), STORE_ENOTFOUND);
  store_close(s);
  tst_raw_check(g_dir, NULL);
}

Test(store, legal_path_recorded_in_order, .init = setup, .fini = teardown) {
  store_t *s = tst_store_open(g_dir, &fast);
  proto_state_t chain[PROTO_STATE_COUNT];
  int len = tst_state_chain(chain, PROTO_STATE_COUNT);
  cr_assert_geq(len, 3, "the state machine has a path of at least 3 states");
  put_new(s, "walker", PROTO_STATE_NEW);
  put_new(s, "other", PROTO_STATE_NEW); /* interleaved: own history */
  for (int i = 1; i < len; i++) {
    char actor[16], reason[32];
    snprintf(actor, sizeof actor, "actor%d", i);
    snprintf(reason, sizeof reason, "step %d", i);
    store_txn_t *x;
    TST_SOK(store_write_begin(s, &x));
    TST_SOK(store_task_transition(x, "walker", chain[i], actor, reason, 1000 + i));
    if (i == 1)
      TST_SOK(store_task_transition(x, "other", chain[1], "o", "o", 5));
    TST_SOK(store_write_commit(x));
  }
  proto_task_update_t *h;
  size_t n = tst_history(s, "walker", &h);
  cr_assert_eq(n, (size_t)len, "created + %d transitions", len - 1);
  cr_assert_eq(h[0].to, PROTO_STATE_NEW);
  cr_assert_str_eq(h[0].task_id, "walker");
  for (int i = 1; i < len; i++) {
    cr_assert_eq(h[i].from, chain[i - 1], "entry %d from", i);
    cr_assert_eq(h[i].to, chain[i], "entry %d to", i);
    char actor[16], reason[32];
    snprintf(actor, sizeof actor, "actor%d", i);
    snprintf(reason, sizeof reason, "step %d", i);
    cr_assert_str_eq(h[i].actor, actor);
    cr_assert_str_eq(h[i].reason, reason);
    cr_assert_eq(h[i].at, 1000 + i);
  }
  tst_history_free(h, n);
  n = tst_history(s, "other", &h);
  cr_assert_eq(n, 2u);
  tst_history_free(h, n);
  cr_assert_eq(tst_history(s, "nobody", &h), 0u);
  tst_history_free(h, 0);
  store_close(s);
}

/* ------------------------------------------------------------ indexes */

enum { M_TASKS = 300 };
static const char *const m_repos[] = {"alpha", "beta", "gamma"};
static const char *const m_kinds[] = {"todo", "fixme", "refactor", "secret"};

typedef struct model_task {
  bool exists;
  proto_state_t state;
  int repo, kind;
  double score;
  int created; /* creation order: ties in score rank the oldest first */
} model_task_t;

/* The model cmp_rank reads creation order from (qsort has no context). */
static const model_task_t *g_rank_model;

static double rnd_score(unsigned *seed) {
  /* ties on purpose: scores from a small set, some negative */
  return (double)(rand_r(seed) % 21) / 2.0 - 2.0;
}

static int cmp_rank(const void *a, const void *b) {
  const tst_task_row_t *x = a, *y = b;
  if (x->state != y->state) return (int)x->state - (int)y->state;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return g_rank_model[atoi(x->id + 1)].created -
         g_rank_model[atoi(y->id + 1)].created;
}

/* Expected rows for a filter from the model, in the store's order: by state
 * (table order), score descending, then creation order. With only repo or
 * kind given the store walks that index (creation order), so compare those
 * as sets. */
static void check_filter(store_t *s, const model_task_t *m, int state,
                         int repo, int kind) {
  store_filter_t f = {.state = state,
                      .repo = repo >= 0 ? m_repos[repo] : NULL,
                      .kind = kind >= 0 ? m_kinds[kind] : NULL};
  tst_task_list_t got = {0}, want = {0};
  g_rank_model = m;
  TST_SOK(tst_collect(s, &f, &got));
  for (int i = 0; i < M_TASKS; i++) {
    if (!m[i].exists) continue;
    if (state >= 0 && (int)m[i].state != state) continue;
    if (repo >= 0 && m[i].repo != repo) continue;
    if (kind >= 0 && m[i].kind != kind) continue;
    if (want.n == want.cap) {
      want.cap = want.cap ? want.cap * 2 : 64;
      want.rows = realloc(want.rows, want.cap * sizeof *want.rows);
    }
    char id[16];
    snprintf(id, sizeof id, "m%03d", i);
    want.rows[want.n++] = (tst_task_row_t){strdup(id), strdup(m_repos[m[i].repo]),
                                           strdup(m_kinds[m[i].kind]),
                                           m[i].state, m[i].score};
  }
  cr_assert_eq(got.n, want.n, "filter state %d repo %d kind %d: %zu tasks, want %zu",
               state, repo, kind, got.n, want.n);
  bool ranked = state >= 0 || (repo < 0 && kind < 0);
  if (want.n) qsort(want.rows, want.n, sizeof *want.rows, cmp_rank);
  if (!ranked && got.n) qsort(got.rows, got.n, sizeof *got.rows, cmp_rank);
  for (size_t i = 0; i < got.n; i++) {
    cr_assert_str_eq(got.rows[i].id, want.rows[i].id,
                     "filter state %d repo %d kind %d: row %zu is %s, want %s",
                     state, repo, kind, i, got.rows[i].id, want.rows[i].id);
    cr_assert_eq(got.rows[i].state, want.rows[i].state);
    cr_assert_eq(got.rows[i].score, want.rows[i].score);
    cr_assert_str_eq(got.rows[i].repo, want.rows[i].repo);
    cr_assert_str_eq(got.rows[i].kind, want.rows[i].kind);
    if (i > 0 && got.rows[i].state == got.rows[i - 1].state)
      cr_assert_leq(got.rows[i].score, got.rows[i - 1].score,
                    "not ranked by score within a state");
  }
  tst_task_list_free(&got);
  tst_task_list_free(&want);
}

static int stop_after_3(const proto_task_t *t, void *arg) {
  (void)t;
  return ++*(int *)arg >= 3;
}

Test(store, indexes_match_brute_force, .init = setup, .fini = teardown) {
  unsigned seed = (unsigned)time(NULL);
  const char *env = getenv("CCM_TEST_SEED");
  if (env) seed = (unsigned)strtoul(env, NULL, 10);
  fprintf(stderr, "store/indexes_match_brute_force: seed %u (CCM_TEST_SEED)\n", seed);
  store_t *s = tst_store_open(g_dir, &fast);
  model_task_t model[M_TASKS], staged[M_TASKS];
  memset(model, 0, sizeof model);
  int ops = 0, refused = 0, aborted = 0, created = 0, staged_created;
  while (ops < 3000) {
    memcpy(staged, model, sizeof model);
    staged_created = created;
    store_txn_t *x;
    TST_SOK(store_write_begin(s, &x));
    int batch = 1 + rand_r(&seed) % 20;
    for (int b = 0; b < batch; b++, ops++) {
      int i = rand_r(&seed) % M_TASKS;
      char id[16];
      snprintf(id, sizeof id, "m%03d", i);
      model_task_t *mt = &staged[i];
      int what = rand_r(&seed) % 3;
      if (!mt->exists || what == 0) {
        /* upsert: new, or change score/repo/kind and maybe state */
        proto_state_t st = mt->exists ? mt->state : PROTO_STATE_NEW;
        if (mt->exists && rand_r(&seed) % 2)
          st = (proto_state_t)(rand_r(&seed) % PROTO_STATE_COUNT);
        int repo = rand_r(&seed) % 3, kind = rand_r(&seed) % 4;
        double score = rnd_score(&seed);
        proto_task_t t;
        tst_task_init(&t, id, m_repos[repo], m_kinds[kind], st, score);
        int rc = store_task_put(x, &t, "rnd", "upsert");
        store_task_free(&t);
        bool ok = !mt->exists || st == mt->state ||
                  proto_state_transition_ok(mt->state, st);
        if (ok) {
          TST_SOK(rc);
          int when = mt->exists ? mt->created : ++staged_created;
          *mt = (model_task_t){true, st, repo, kind, score, when};
        } else {
          TST_SRC(rc, STORE_ETRANSITION);
          refused++;
        }
      } else {
        proto_state_t to = (proto_state_t)(rand_r(&seed) % PROTO_STATE_COUNT);
        int rc = store_task_transition(x, id, to, "rnd", "move", ops);
        if (proto_state_transition_ok(mt->state, to)) {
          TST_SOK(rc);
          mt->state = to;
        } else {
          TST_SRC(rc, STORE_ETRANSITION);
          refused++;
        }
      }
    }
    if (rand_r(&seed) % 8 == 0) {
      store_write_abort(x);
      aborted++;
    } else {
      TST_SOK(store_write_commit(x));
      memcpy(model, staged, sizeof model);
      created = staged_created;
    }
  }
  cr_log_info("%d ops, %d refused transitions, %d aborted transactions", ops,
              refused, aborted);
  for (int st = -1; st < PROTO_STATE_COUNT; st++) {
    check_filter(s, model, st, -1, -1);
    for (int r = 0; r < 3; r++) check_filter(s, model, st, r, -1);
    for (int k = 0; k < 4; k++) check_filter(s, model, st, -1, k);
    check_filter(s, model, st, (st + 3) % 3, (st + 4) % 4);
  }
  for (int r = 0; r < 3; r++)
    for (int k = 0; k < 4; k++) check_filter(s, model, -1, r, k);
  check_filter(s, model, -1, -1, -1);

  /* stats agree with the model */
  store_stats_t stt;
  TST_SOK(store_stats(s, &stt));
  uint64_t total = 0, by[PROTO_STATE_COUNT] = {0};
  for (int i = 0; i < M_TASKS; i++)
    if (model[i].exists) {
      total++;
      by[model[i].state]++;
    }
  cr_assert_eq(stt.tasks, total);
  for (int st = 0; st < PROTO_STATE_COUNT; st++)
    cr_assert_eq(stt.by_state[st], by[st], "state %d count", st);

  /* a callback that stops early stops the walk, and that is no error */
  int seen = 0;
  TST_SOK(store_task_foreach(s, NULL, stop_after_3, &seen));
  cr_assert_eq(seen, 3);
  store_close(s);
  tst_raw_report_t rep;
  tst_raw_check(g_dir, &rep);
  cr_assert_eq(rep.tasks, (size_t)total);
}

/* ------------------------------------------------------------ events */

typedef struct ev_acc {
  uint64_t seqs[256];
  int n;
} ev_acc_t;

static int ev_one(const proto_event_t *e, void *arg) {
  ev_acc_t *a = arg;
  cr_assert_lt(a->n, 256);
  a->seqs[a->n++] = e->seq;
  cr_assert_str_eq(e->topic, "tasks");
  cr_assert_not_null(e->data);
  json_t *n = json_object_get(e->data, "n");
  cr_assert(json_is_integer(n));
  cr_assert_eq((uint64_t)json_integer_value(n), e->seq, "payload follows its seq");
  cr_assert_eq(e->ts, (int64_t)(1700000000000 + e->seq));
  return 0;
}

static void expect_events(store_t *s, uint64_t after, uint64_t first,
                          uint64_t last) {
  ev_acc_t a = {.n = 0};
  TST_SOK(store_event_foreach(s, after, ev_one, &a));
  uint64_t want = last >= first ? last - first + 1 : 0;
  cr_assert_eq((uint64_t)a.n, want, "after %" PRIu64 ": %d events, want %" PRIu64,
               after, a.n, want);
  for (int i = 0; i < a.n; i++)
    cr_assert_eq(a.seqs[i], first + (uint64_t)i, "after %" PRIu64 ": #%d", after, i);
}

static uint64_t append_event(store_txn_t *x, uint64_t expect) {
  json_t *d = json_pack("{s:I}", "n", (json_int_t)expect);
  uint64_t seq = 0;
  TST_SOK(store_event_append(x, "tasks", d, 1700000000000 + (int64_t)expect, &seq));
  json_decref(d);
  cr_assert_eq(seq, expect);
  return seq;
}

Test(store, events_seq_and_retention, .init = setup, .fini = teardown) {
  store_options_t o = {.no_sync = true, .event_retention = 10};
  store_t *s = tst_store_open(g_dir, &o);
  expect_events(s, 0, 1, 0);
  store_txn_t *x;
  uint64_t next = 1;
  for (int i = 0; i < 5; i++) { /* one per transaction */
    TST_SOK(store_write_begin(s, &x));
    append_event(x, next++);
    TST_SOK(store_write_commit(x));
  }
  expect_events(s, 0, 1, 5);
  expect_events(s, 3, 4, 5);
  TST_SOK(store_write_begin(s, &x)); /* aborted: its seqs are not used */
  append_event(x, next);
  store_write_abort(x);
  TST_SOK(store_write_begin(s, &x)); /* many in one transaction */
  for (int i = 0; i < 20; i++) append_event(x, next++);
  TST_SOK(store_write_commit(x));
  store_stats_t st;
  TST_SOK(store_stats(s, &st));
  cr_assert_eq(st.last_seq, 25u);
  cr_assert_eq(st.events, 10u, "retention keeps the newest 10");
  expect_events(s, 0, 16, 25);
  expect_events(s, 15, 16, 25);
  expect_events(s, 20, 21, 25);
  expect_events(s, 24, 25, 25);
  expect_events(s, 25, 1, 0);
  expect_events(s, 1000, 1, 0);
  expect_events(s, UINT64_MAX, 1, 0);
  TST_SOK(store_write_begin(s, &x));
  cr_assert_neq(store_event_append(x, NULL, NULL, 0, NULL), 0, "a topic is required");
  store_write_abort(x);
  store_close(s);

  /* Reopened: numbering continues, never reuses a seq. */
  s = tst_store_open(g_dir, &o);
  TST_SOK(store_write_begin(s, &x));
  append_event(x, 26);
  TST_SOK(store_write_commit(x));
  expect_events(s, 0, 17, 26);
  store_close(s);
}

/* ------------------------------------------------------------ map growth */

enum { G_THREADS = 4, G_PER_THREAD = 1500 };

typedef struct grow_arg {
  rt_runtime_t *rt;
  rt_actor_t *actor;
  int thread;
  int failures;
  uint32_t max_batch;
} grow_arg_t;

static void *grow_writer(void *p) {
  grow_arg_t *a = p;
  for (int i = 0; i < G_PER_THREAD; i++) {
    char id[32];
    snprintf(id, sizeof id, "g%d-%05d", a->thread, i);
    proto_msg_t m;
    tst_task_msg(&m, id, m_repos[i % 3], m_kinds[i % 4], PROTO_STATE_NEW, i % 10);
    store_ack_t ack;
    int rc = store_write_sync(a->rt, a->actor, &m, TST_WAIT_MS, &ack);
    proto_msg_fini(&m);
    if (rc) {
      fprintf(stderr, "write %s: %s\n", id, store_strerror(rc));
      a->failures++;
    }
    if (ack.batch > a->max_batch) a->max_batch = ack.batch;
  }
  return NULL;
}

/* Writers through the store actor fill a tiny map, which grows. */
static void grow_through_the_actor(const store_options_t *o) {
  store_t *s = tst_store_open(g_dir, o);
  store_stats_t st;
  TST_SOK(store_stats(s, &st));
  size_t map0 = st.map_size;
  cr_assert_leq(map0, (size_t)(256u << 10));
  rt_runtime_t *rt = tst_runtime(2);
  rt_actor_t *actor = NULL;
  TST_OK(store_actor_spawn(rt, s, "store", &actor));
  pthread_t th[G_THREADS];
  grow_arg_t args[G_THREADS];
  for (int t = 0; t < G_THREADS; t++) {
    args[t] = (grow_arg_t){.rt = rt, .actor = actor, .thread = t};
    cr_assert_eq(pthread_create(&th[t], NULL, grow_writer, &args[t]), 0);
  }
  for (int t = 0; t < G_THREADS; t++) {
    pthread_join(th[t], NULL);
    cr_assert_eq(args[t].failures, 0, "thread %d: %d writes failed", t,
                 args[t].failures);
  }
  rt_actor_release(actor);
  tst_quiesce(rt);
  TST_SOK(store_stats(s, &st));
  cr_log_info("map %zu KiB -> %zu KiB for %" PRIu64 " tasks", map0 >> 10,
              st.map_size >> 10, st.tasks);
  cr_assert_eq(st.tasks, (uint64_t)(G_THREADS * G_PER_THREAD));
  cr_assert_geq(st.map_size, 4 * map0, "the map grew several times");
  for (int t = 0; t < G_THREADS; t++)
    for (int i = 0; i < G_PER_THREAD; i++) {
      char id[32];
      snprintf(id, sizeof id, "g%d-%05d", t, i);
      proto_task_t got;
      TST_SOK(store_task_get(s, id, &got));
      cr_assert_str_eq(got.kind, m_kinds[i % 4]);
      store_task_free(&got);
    }
  store_close(s);
  tst_runtime_free(rt);
  tst_raw_check(g_dir, NULL);
}

Test(store, tiny_map_grows_through_the_actor, .init = setup, .fini = teardown) {
  store_options_t o = {.no_sync = true, .map_size = 256u << 10};
  grow_through_the_actor(&o);
}

/* With the journal, whose pinned checkpoint keeps the pages written since
 * from being reused (a store fills faster), and checkpoints now and then. */
Test(store, tiny_map_grows_through_the_actor_with_the_journal,
     .init = setup, .fini = teardown) {
  store_options_t o = {.map_size = 256u << 10, .journal_every = 16};
  grow_through_the_actor(&o);
}

/* Readers in the writer's process (the daemon's REST handlers) keep reading,
 * also with reads nested in a walk, while the store actor grows the map
 * under them; the growth is not starved by them either. */
typedef struct reader_arg {
  store_t *s;
  atomic_bool *stop;
  uint64_t reads;
  int errors;
} reader_arg_t;

typedef struct nested {
  store_t *s;
  size_t n;
  int errors;
} nested_t;

/* Counts, and reads the same task again from inside the walk (a nested
 * read must neither deadlock against a pending growth nor fail). */
static int count_cb(const proto_task_t *t, void *arg) {
  nested_t *c = arg;
  if (c->n++ % 16 == 0) {
    proto_task_t again;
    if (store_task_get(c->s, t->id, &again) != 0) c->errors++;
    store_task_free(&again);
  }
  return 0;
}

static void *grow_reader(void *p) {
  reader_arg_t *r = p;
  while (!atomic_load(r->stop)) {
    proto_task_t got;
    int rc = store_task_get(r->s, "g0-00000", &got);
    if (rc == 0)
      store_task_free(&got);
    else if (rc != STORE_ENOTFOUND)
      r->errors++;
    nested_t c = {.s = r->s};
    store_filter_t f = {.state = -1, .kind = "todo"};
    if (store_task_foreach(r->s, &f, count_cb, &c) != 0) r->errors++;
    r->errors += c.errors;
    store_stats_t st;
    if (store_stats(r->s, &st) != 0) r->errors++;
    r->reads++;
  }
  return NULL;
}

Test(store, reads_continue_while_the_map_grows, .init = setup, .fini = teardown) {
  store_options_t o = {.no_sync = true, .map_size = 256u << 10};
  store_t *s = tst_store_open(g_dir, &o);
  rt_runtime_t *rt = tst_runtime(2);
  rt_actor_t *actor = NULL;
  TST_OK(store_actor_spawn(rt, s, "store", &actor));
  atomic_bool stop = false;
  pthread_t rth[2], wth[2];
  reader_arg_t rargs[2];
  grow_arg_t wargs[2];
  for (int t = 0; t < 2; t++) {
    rargs[t] = (reader_arg_t){.s = s, .stop = &stop};
    cr_assert_eq(pthread_create(&rth[t], NULL, grow_reader, &rargs[t]), 0);
  }
  for (int t = 0; t < 2; t++) {
    wargs[t] = (grow_arg_t){.rt = rt, .actor = actor, .thread = t};
    cr_assert_eq(pthread_create(&wth[t], NULL, grow_writer, &wargs[t]), 0);
  }
  for (int t = 0; t < 2; t++) {
    pthread_join(wth[t], NULL);
    cr_assert_eq(wargs[t].failures, 0);
  }
  atomic_store(&stop, true);
  for (int t = 0; t < 2; t++) {
    pthread_join(rth[t], NULL);
    cr_assert_eq(rargs[t].errors, 0, "reader %d: %d errors", t, rargs[t].errors);
    cr_assert_gt(rargs[t].reads, 0u);
  }
  rt_actor_release(actor);
  tst_quiesce(rt);
  store_stats_t st;
  TST_SOK(store_stats(s, &st));
  cr_assert_eq(st.tasks, (uint64_t)(2 * G_PER_THREAD));
  cr_log_info("map grew to %zu KiB with readers running", st.map_size >> 10);
  store_close(s);
  tst_runtime_free(rt);
}

/* ------------------------------------------------------------ reads by id
 *
 * A read remembers the row of the id it read (store_task.c: "row hints"),
 * so the next read of that id is one lookup instead of two. What makes
 * that safe: reads of hex (packed) and other ids return the task asked
 * for, again and again; a hint that points at another task's row, at a
 * row that does not exist, or that names an id the store does not hold is
 * never believed (the read falls back to the id map and returns the right
 * task or STORE_ENOTFOUND); readers on several threads, reading while a
 * writer adds and updates tasks, always get the task whose id they asked
 * for, with a title the writer wrote for it. */

/* Task @p i's id: 40 hex digits (a fingerprint, packed in task_ids) for
 * even @p i, a short id kept as its bytes for odd @p i. */
static void id_of(int i, char out[48])
{
  if (i % 2 == 0)
    snprintf(out, 48, "%08x%032x", (unsigned)i * 2654435761u, (unsigned)i);
  else
    snprintf(out, 48, "task-%d", i);
}

static void put_tasks(store_t *s, int n)
{
  for (int i = 0; i < n; i++) {
    char id[48];
    proto_task_t t;
    id_of(i, id);
    tst_task_init(&t, id, "acme", i % 3 ? "todo" : "fixme", PROTO_STATE_NEW,
                  (double)i);
    tst_put(s, &t);
    store_task_free(&t);
  }
}

/* Read @p id and assert it is the task tst_task_init made for it. */
static void expect_task(store_t *s, const char *id)
{
  proto_task_t got;
  char title[128];
  TST_SOK(store_task_get(s, id, &got));
  cr_assert_str_eq(got.id, id);
  snprintf(title, sizeof title, "Handle the %s in %s", got.kind, id);
  cr_assert_str_eq(got.title, title);
  store_task_free(&got);
}

static uint64_t row_of(store_t *s, const char *id)
{
  MDB_txn *txn;
  uint64_t row = 0;
  TST_SOK(store__read_begin(s, &txn));
  int rc = store__row_of(txn, s, id, &row);
  store__read_end(s, txn);
  TST_SOK(rc);
  return row;
}

Test(store, repeated_reads_return_the_task_asked_for, .init = setup,
     .fini = teardown) {
  store_t *s = tst_store_open(g_dir, &fast);
  put_tasks(s, 300);
  for (int round = 0; round < 3; round++) /* the first reads fill hints */
    for (int i = 0; i < 300; i++) {
      char id[48];
      id_of((i * 7 + round) % 300, id);
      expect_task(s, id);
    }
  proto_task_t got;
  TST_SRC(store_task_get(s, "task-300", &got), STORE_ENOTFOUND);
  TST_SRC(store_task_get(s, "task-300", &got), STORE_ENOTFOUND);
  store_close(s);
}

Test(store, wrong_row_hints_are_never_believed, .init = setup,
     .fini = teardown) {
  store_t *s = tst_store_open(g_dir, &fast);
  put_tasks(s, 40);
  char a[48], b[48];
  for (int i = 0; i + 1 < 40; i++) {
    id_of(i, a);
    id_of(i + 1, b);
    expect_task(s, a); /* a's own hint, then b's pointing at a's row */
    store__row_hint_set(s, b, row_of(s, a));
    expect_task(s, b);
    expect_task(s, b); /* the fallback put b's own row back */
  }
  id_of(0, a);
  store__row_hint_set(s, a, 1000000); /* no such row */
  expect_task(s, a);
  store__row_hint_set(s, a, (uint64_t)1 << 40); /* too big to hint */
  expect_task(s, a);

  proto_task_t got;
  store__row_hint_set(s, "task-999", row_of(s, a)); /* an id not stored */
  TST_SRC(store_task_get(s, "task-999", &got), STORE_ENOTFOUND);
  cr_assert_null(got.id, "a refused read leaves *out zeroed");
  store__row_hint_set(s, "ffffffffffffffffffffffffffffffffffffffff",
                      row_of(s, a));
  TST_SRC(store_task_get(s, "ffffffffffffffffffffffffffffffffffffffff",
                         &got),
          STORE_ENOTFOUND);
  store_close(s);
}

/* Where LMDB keeps the record of task @p id now (its address in the map;
 * the store is quiet, so it stays there while the test looks). */
static uintptr_t record_at(store_t *s, const char *id)
{
  MDB_txn *txn;
  uint64_t row = 0;
  unsigned char key[8];
  MDB_val k = {sizeof(key), key}, v;
  TST_SOK(store__read_begin(s, &txn));
  int rc = store__row_of(txn, s, id, &row);
  store__put_be64(key, row);
  if (!rc)
    rc = mdb_get(txn, s->dbi[DB_TASK_ROWS], &k, &v);
  store__read_end(s, txn);
  TST_SOK(rc);
  return (uintptr_t)v.mv_data;
}

Test(store, hints_keep_where_records_are_and_wrong_places_change_nothing,
     .init = setup, .fini = teardown) {
  store_t *s = tst_store_open(g_dir, &fast);
  put_tasks(s, 40);
  char a[48], b[48];
  id_of(0, a);
  id_of(1, b);
  for (int i = 0; i < 40; i++) {
    char id[48];
    id_of(i, id);
    expect_task(s, id); /* through the id map: row and place hinted */
    cr_assert_eq(store__row_hint_where(s, id), record_at(s, id), "%s", id);
    expect_task(s, id); /* through the hint */
    cr_assert_eq(store__row_hint_where(s, id), record_at(s, id), "%s", id);
  }
  uintptr_t at_a = record_at(s, a);
  cr_assert_neq(at_a, record_at(s, b));

  /* Wrong places are only ever prefetched: another task's record, a low
   * unmapped address, freed heap memory (ASan would report a load), an
   * address too high to keep. Each read still returns its own task and
   * puts the record's real place back. */
  void *heap = malloc(64);
  cr_assert_not_null(heap);
  uintptr_t freed = (uintptr_t)heap;
  free(heap);
  const uintptr_t wrong[] = {record_at(s, b), 64, freed,
                             UINTPTR_MAX - 4095};
  for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
    store__row_hint_where_set(s, a, wrong[i]);
    expect_task(s, a);
    cr_assert_eq(store__row_hint_where(s, a), at_a);
  }

  /* A rewritten task is read as rewritten, from wherever LMDB put it. */
  proto_task_t t;
  tst_task_init(&t, a, "acme", "fixme", PROTO_STATE_NEW, 0.0);
  free(t.title);
  t.title = strdup("rewritten");
  tst_put(s, &t);
  store_task_free(&t);
  proto_task_t got;
  TST_SOK(store_task_get(s, a, &got));
  cr_assert_str_eq(got.title, "rewritten");
  store_task_free(&got);
  cr_assert_eq(store__row_hint_where(s, a), record_at(s, a));
  store_close(s);
}

/* The reference order: LMDB's default for keys without MDB_INTEGERKEY or
 * a custom function (memcmp of the common length, then the shorter). */
static int lmdb_default_cmp(const MDB_val *a, const MDB_val *b)
{
  size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
  int c = n ? memcmp(a->mv_data, b->mv_data, n) : 0;
  if (c)
    return c;
  return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size;
}

static int sign(int x) { return (x > 0) - (x < 0); }

Test(store, key_order_is_lmdbs_default, .init = setup, .fini = teardown) {
  /* Keys of 0..24 bytes from bytes that sort at the edges (0, 0x7f, 0x80,
   * 0xff) or anywhere, so that words differ in every byte position, one
   * key is often a prefix of the other, and signed/unsigned mistakes
   * show. */
  static const unsigned char edge[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
  unsigned char ka[24], kb[24];
  uint64_t x = 0x2545f4914f6cdd1dull;
  for (int round = 0; round < 200000; round++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    size_t la = x % 25, lb = (x >> 8) % 25;
    for (size_t i = 0; i < 24; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      ka[i] = x & 1 ? edge[(x >> 1) % 6] : (unsigned char)(x >> 8);
      /* b mostly shares a's first bytes, so that later words decide. */
      kb[i] = (x >> 16) % 4 ? ka[i] : (unsigned char)(x >> 24);
    }
    MDB_val a = {la, ka}, b = {lb, kb};
    cr_assert_eq(sign(store__key_cmp(&a, &b)), sign(lmdb_default_cmp(&a, &b)),
                 "lengths %zu %zu", la, lb);
    cr_assert_eq(sign(store__key_cmp(&b, &a)), sign(lmdb_default_cmp(&b, &a)));
  }
  MDB_val e = {0, ka};
  cr_assert_eq(store__key_cmp(&e, &e), 0);

  /* The trees the store wrote, read by LMDB with its default order: keys
   * come out ascending, and each one is found by a plain lookup. */
  store_t *s = tst_store_open(g_dir, &fast);
  put_tasks(s, 300);
  store_close(s);
  char file[512];
  MDB_env *env;
  MDB_txn *txn;
  cr_assert_eq(mdb_env_create(&env), 0);
  cr_assert_eq(mdb_env_set_maxdbs(env, 32), 0);
  cr_assert_eq(mdb_env_open(env, tst_store_file(g_dir, file, sizeof file),
                            MDB_NOSUBDIR | MDB_RDONLY, 0640), 0);
  cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
  static const char *const trees[] = {"task_ids", "task_rows"};
  for (size_t t = 0; t < 2; t++) {
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v, prev = {0, NULL}, found;
    size_t n = 0;
    cr_assert_eq(mdb_dbi_open(txn, trees[t], 0, &dbi), 0);
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    while (mdb_cursor_get(c, &k, &v, n ? MDB_NEXT : MDB_FIRST) == 0) {
      if (n)
        cr_assert_lt(lmdb_default_cmp(&prev, &k), 0, "%s", trees[t]);
      cr_assert_eq(mdb_get(txn, dbi, &k, &found), 0, "%s", trees[t]);
      prev = k;
      n++;
    }
    cr_assert_geq(n, 300, "%s", trees[t]);
    mdb_cursor_close(c);
  }
  mdb_txn_abort(txn);
  mdb_env_close(env);
}

/* ---- readers beside a writer ---- */

#define RW_TASKS 400
#define RW_READERS 3

typedef struct rw {
  store_t *s;
  atomic_bool done;
  atomic_int written; /* tasks 0..written-1 exist */
  atomic_int bad;     /* reads that returned another task or failed */
  atomic_long reads;
} rw_t;

/* A title of task @p id, version @p v (the writer rewrites titles). */
static void title_of(const char *id, int v, char out[128])
{
  snprintf(out, 128, "v%d of %s", v, id);
}

static void *reader(void *p)
{
  rw_t *rw = p;
  uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&x;
  do {
    for (int k = 0; k < 64; k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      int have = atomic_load(&rw->written);
      int i = (int)(x % RW_TASKS);
      char id[48], v0[128], v1[128];
      proto_task_t got;
      id_of(i, id);
      int rc = store_task_get(rw->s, id, &got);
      atomic_fetch_add(&rw->reads, 1);
      if (rc == STORE_ENOTFOUND && i >= have)
        continue; /* not written yet (or just now) */
      title_of(id, 0, v0);
      title_of(id, 1, v1);
      if (rc != 0 || strcmp(got.id, id) != 0 ||
          (strcmp(got.title, v0) != 0 && strcmp(got.title, v1) != 0))
        atomic_fetch_add(&rw->bad, 1);
      store_task_free(&got);
    }
  } while (!atomic_load(&rw->done));
  return NULL;
}

static void put_titled(store_t *s, int i, int v)
{
  char id[48], title[128];
  proto_task_t t;
  id_of(i, id);
  tst_task_init(&t, id, "acme", "todo", PROTO_STATE_NEW, (double)i);
  free(t.title);
  title_of(id, v, title);
  t.title = strdup(title);
  cr_assert_not_null(t.title);
  tst_put(s, &t);
  store_task_free(&t);
}

Test(store, readers_beside_a_writer_get_their_own_task, .init = setup,
     .fini = teardown) {
  rw_t rw = {.s = tst_store_open(g_dir, &fast)};
  pthread_t th[RW_READERS];
  for (int i = 0; i < RW_READERS; i++)
    cr_assert_eq(pthread_create(&th[i], NULL, reader, &rw), 0);
  for (int i = 0; i < RW_TASKS; i++) {
    put_titled(rw.s, i, 0);
    atomic_store(&rw.written, i + 1);
  }
  for (int i = 0; i < RW_TASKS; i += 3)
    put_titled(rw.s, i, 1);
  atomic_store(&rw.done, true);
  for (int i = 0; i < RW_READERS; i++)
    pthread_join(th[i], NULL);
  cr_assert_gt(atomic_load(&rw.reads), 0);
  cr_assert_eq(atomic_load(&rw.bad), 0, "%d of %ld reads were wrong",
               atomic_load(&rw.bad), atomic_load(&rw.reads));
  for (int i = 0; i < RW_TASKS; i++) { /* every task, hinted or not */
    char id[48], want[128];
    proto_task_t got;
    id_of(i, id);
    title_of(id, i % 3 == 0, want);
    TST_SOK(store_task_get(rw.s, id, &got));
    cr_assert_str_eq(got.title, want);
    store_task_free(&got);
  }
  store_close(rw.s);
}
