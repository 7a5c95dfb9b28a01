/*
 * bench_prio.c: what one task update costs the prioritizer with N tasks
 * ranked, beside peers doing the same work in the same process.
 *
 * CLI:  bench_prio [--n TASKS] [--updates U] [--top K] [--seed S]
 *       defaults: --n 100000 --updates 20000 --top 50 --seed 42
 * Output: one JSON object per line on stdout, the rows of
 * bench/results/SUITE.json: {"name", "ccm", "peer", "peer_value", "ratio",
 * "unit", "higher_is_better"}, ratio = ccm / peer_value (microseconds per
 * update: lower is better). bench/run_executor.py runs it with no
 * arguments and adds its rows to the executor suite.
 *
 * Rows (each side does the same work per update, U updates of a random
 * task to a random score, the mean per update):
 *   1. "task update + top K": ccm = prio_board_put (lock, hash lookup,
 *      treap remove + insert in the task's state) then prio_board_top K;
 *      peer = SQLite 3 in memory (:memory:, one table with an index on
 *      (state, pinned DESC, score DESC, seq, id)): UPDATE one row by its
 *      primary key, then SELECT the top K ids of that state with the
 *      index (prepared statements, no transaction per update needed).
 *   2. "task update, re-rank": ccm = prio_board_put alone; peer = the
 *      naive way, a full qsort of the N keys after each update (run for
 *      U / 100 updates: it is that slow; still the mean per update).
 * The data: N ready tasks, 1 in 50 pinned, scores 0..40 with two
 * decimals, seq = creation order.
 *
 * Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID): both sides are
 * single-threaded and in memory, and on a shared 2-vCPU machine wall time
 * mostly measures the other processes. Each figure is the median of 3
 * rounds, the two sides interleaved.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/prioritizer/board.h"
#include "actors/prioritizer/rank.h"
#include "bench/bench_util.h"

#define ROUNDS 3

#define PROG "bench_prio"

typedef struct opts {
  size_t n, updates, top;
  uint64_t seed;
} opts_t;

static uint64_t rng;
static uint64_t rnd(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static uint64_t cpu_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double median3(double *v)
{
  double a = v[0], b = v[1], c = v[2];
  return a > b ? (b > c ? b : a > c ? c : a) : (a > c ? a : b > c ? c : b);
}

static double rnd_score(void)
{
  return (double)(rnd() % 4001) / 100;
}

static void parse(int argc, char **argv, opts_t *o)
{
  *o = (opts_t){100000, 20000, 50, 42};
  for (int i = 1; i + 1 < argc; i += 2) {
    unsigned long long v = strtoull(argv[i + 1], NULL, 10);
    if (!strcmp(argv[i], "--n"))
      o->n = v;
    else if (!strcmp(argv[i], "--updates"))
      o->updates = v;
    else if (!strcmp(argv[i], "--top"))
      o->top = v;
    else if (!strcmp(argv[i], "--seed"))
      o->seed = v;
    else
      bench_die(PROG, "unknown option", argv[i]);
  }
  if (!o->n || !o->updates || !o->top)
    bench_die(PROG, "options", "--n, --updates and --top must be > 0");
}

static void row(const char *name, double ccm, const char *peer, double pv)
{
  printf("{\"name\": \"%s\", \"ccm\": %.3f, \"peer\": \"%s\", "
         "\"peer_value\": %.3f, \"ratio\": %.4f, \"unit\": \"us\", "
         "\"higher_is_better\": false}\n",
         name, ccm, peer, pv, pv > 0 ? ccm / pv : 0);
  fflush(stdout);
}

/* ---------------------------------------------------------------- ccm */

static char (*ids)[24];

static prio_board_t *board_fill(const opts_t *o)
{
  static const char *const local[] = {"r"};
  prio_board_config_t c = {.concurrency = 2, .local_repos = local,
                           .nlocal_repos = 1};
  prio_board_t *b = NULL;
  if (prio_board_new(&c, &b))
    bench_die(PROG, "board", "out of memory");
  for (size_t i = 0; i < o->n; i++) {
    proto_task_t t = {.id = ids[i], .repo = "r", .kind = "todo",
                      .state = PROTO_STATE_READY, .pinned = i % 50 == 0,
                      .first_seen = (int64_t)i};
    proto_score_t s = {.total = rnd_score()};
    prio_board_put(b, &t, &s);
  }
  return b;
}

static double ccm_update(prio_board_t *b, const opts_t *o, bool with_top)
{
  char **top = calloc(o->top, sizeof *top);
  uint64_t t0 = cpu_ns();
  for (size_t u = 0; u < o->updates; u++) {
    size_t i = rnd() % o->n;
    proto_task_t t = {.id = ids[i], .repo = "r", .kind = "todo",
                      .state = PROTO_STATE_READY, .pinned = i % 50 == 0,
                      .first_seen = (int64_t)i};
    proto_score_t s = {.total = rnd_score()};
    prio_board_put(b, &t, &s);
    if (with_top) {
      size_t k = prio_board_top(b, PROTO_STATE_READY, top, o->top);
      for (size_t j = 0; j < k; j++)
        free(top[j]);
    }
  }
  double us = (double)(cpu_ns() - t0) / 1000 / (double)o->updates;
  free(top);
  return us;
}

/* ------------------------------------------------------------- SQLite */

static void sql(sqlite3 *db, const char *s)
{
  char *err = NULL;
  if (sqlite3_exec(db, s, NULL, NULL, &err) != SQLITE_OK)
    bench_die(PROG, s, err ? err : "?");
}

static sqlite3_stmt *prep(sqlite3 *db, const char *s)
{
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, s, -1, &st, NULL) != SQLITE_OK)
    bench_die(PROG, s, sqlite3_errmsg(db));
  return st;
}

static sqlite3 *sqlite_fill(const opts_t *o)
{
  sqlite3 *db = NULL;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK)
    bench_die(PROG, "sqlite", "cannot open :memory:");
  sql(db, "CREATE TABLE tasks(id TEXT PRIMARY KEY, state INTEGER, pinned "
          "INTEGER, score REAL, seq INTEGER)");
  sql(db, "BEGIN");
  sqlite3_stmt *ins = prep(db, "INSERT INTO tasks VALUES(?,?,?,?,?)");
  for (size_t i = 0; i < o->n; i++) {
    sqlite3_bind_text(ins, 1, ids[i], -1, SQLITE_STATIC);
    sqlite3_bind_int(ins, 2, PROTO_STATE_READY);
    sqlite3_bind_int(ins, 3, i % 50 == 0);
    sqlite3_bind_double(ins, 4, rnd_score());
    sqlite3_bind_int64(ins, 5, (sqlite3_int64)i);
    if (sqlite3_step(ins) != SQLITE_DONE)
      bench_die(PROG, "insert", sqlite3_errmsg(db));
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  sql(db, "COMMIT");
  sql(db, "CREATE INDEX ranked ON tasks(state, pinned DESC, score DESC, seq, "
          "id)");
  return db;
}

static double sqlite_update(sqlite3 *db, const opts_t *o)
{
  sqlite3_stmt *up = prep(db, "UPDATE tasks SET score = ? WHERE id = ?");
  sqlite3_stmt *top = prep(db, "SELECT id FROM tasks WHERE state = ? ORDER "
                               "BY pinned DESC, score DESC, seq, id LIMIT ?");
  size_t got = 0;
  uint64_t t0 = cpu_ns();
  for (size_t u = 0; u < o->updates; u++) {
    size_t i = rnd() % o->n;
    sqlite3_bind_double(up, 1, rnd_score());
    sqlite3_bind_text(up, 2, ids[i], -1, SQLITE_STATIC);
    if (sqlite3_step(up) != SQLITE_DONE)
      bench_die(PROG, "update", sqlite3_errmsg(db));
    sqlite3_reset(up);
    sqlite3_bind_int(top, 1, PROTO_STATE_READY);
    sqlite3_bind_int64(top, 2, (sqlite3_int64)o->top);
    while (sqlite3_step(top) == SQLITE_ROW)
      got += sqlite3_column_bytes(top, 0) > 0;
    sqlite3_reset(top);
  }
  double us = (double)(cpu_ns() - t0) / 1000 / (double)o->updates;
  if (got != o->updates * (o->top < o->n ? o->top : o->n))
    bench_die(PROG, "sqlite", "the top query returned too few rows");
  sqlite3_finalize(up);
  sqlite3_finalize(top);
  return us;
}

/* --------------------------------------------------------- full sort */

static int cmp_keys(const void *a, const void *b)
{
  return prio_rkey_cmp(a, b);
}

static double qsort_update(const opts_t *o)
{
  prio_rkey_t *k = malloc(o->n * sizeof *k);
  for (size_t i = 0; i < o->n; i++)
    k[i] = (prio_rkey_t){i % 50 == 0, rnd_score(), (int64_t)i, ids[i]};
  size_t rounds = o->updates / 100 ? o->updates / 100 : 1;
  uint64_t t0 = cpu_ns();
  for (size_t u = 0; u < rounds; u++) {
    k[rnd() % o->n].score = rnd_score();
    qsort(k, o->n, sizeof *k, cmp_keys);
  }
  double us = (double)(cpu_ns() - t0) / 1000 / (double)rounds;
  free(k);
  return us;
}

int main(int argc, char **argv)
{
  opts_t o;
  parse(argc, argv, &o);
  rng = o.seed ? o.seed : 42;
  ids = malloc(o.n * sizeof *ids);
  for (size_t i = 0; i < o.n; i++)
    snprintf(ids[i], sizeof ids[i], "t%010zu", i);
  char name[160];

  prio_board_t *b = board_fill(&o);
  sqlite3 *db = sqlite_fill(&o);
  double c1[ROUNDS], p1[ROUNDS], c2[ROUNDS], p2[ROUNDS];
  for (int r = 0; r < ROUNDS; r++) {
    c1[r] = ccm_update(b, &o, true);
    p1[r] = sqlite_update(db, &o);
    c2[r] = ccm_update(b, &o, false);
    p2[r] = qsort_update(&o);
  }
  sqlite3_close(db);
  snprintf(name, sizeof name, "prioritizer: task update + top %zu, %zu tasks",
           o.top, o.n);
  row(name, median3(c1), "sqlite-memory", median3(p1));
  snprintf(name, sizeof name, "prioritizer: task update, %zu tasks ranked",
           o.n);
  row(name, median3(c2), "qsort-rerank", median3(p2));
  prio_board_release(b);
  free(ids);
  return 0;
}
