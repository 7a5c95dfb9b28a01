/*
 * bench_store.c: task writes and reads on ccm's store beside SQLite.
 *
 *   bench_store SYSTEM FIGURE [--n N] [--dir DIR]
 *   SYSTEM: ccm | sqlite
 *   FIGURE: single  one durable transaction per write (N, default 2,000)
 *           batch   1,000 writes per durable transaction (N, default 20,000)
 *           group   8 threads, each write waits for its own durable
 *                   acknowledgement (N in all, default 8,000): ccm through
 *                   the store actor (group commit), SQLite with one
 *                   connection per thread and autocommit writes
 *           stream  (ccm only) 8 writer actors, each keeping 128 writes in
 *                   flight with rt_request (N in all, default 20,000)
 *           read    point reads of random ids after N batched writes
 *                   (default 200,000 reads of 20,000 tasks)
 *           io      (either system) what a durable commit costs on this
 *                   disk, without a database: INFO lines with the median
 *                   microseconds of one 4 KiB append + fdatasync (the shape
 *                   of a WAL commit), and of K 4 KiB pages written at
 *                   random places + fdatasync + a 120-byte O_DSYNC write
 *                   (the shape of an LMDB commit), for K = 1 and 10
 *
 * Output: `RESULT <figure> <system> <value> ops/s` (plus `INFO` lines).
 *
 * The same records on both sides: a realistic task (~430 bytes of msgpack,
 * proto_msgpack_encode) with a distinct 40-hex-digit id (a fingerprint, so
 * random key order). The same logical work per task write, the same
 * durability:
 *   ccm (store/, schema 3, see store/README.md): encode the task; in an
 *     LMDB write transaction: enter the id in task_ids (id -> row; a new
 *     task gets the next row id), put the record under its row in
 *     task_rows (appended), the three index keys in task_index (state +
 *     score rank, repo, kind) and the creation history entry (beside the
 *     record). Commit (store/README.md, "Durable commits"): the writes go
 *     to the write-ahead journal, fdatasync (one flush), then LMDB commits
 *     without a sync; every 256 commits, and for a transaction over 256
 *     KiB (so each `batch` commit), a checkpoint instead: LMDB's sync
 *     (fdatasync) and its meta pages saved in the journal (fdatasync).
 *   SQLite 3 (journal_mode=WAL, synchronous=FULL, 64 MiB page cache):
 *     encode the task; one INSERT ... ON CONFLICT(id) DO UPDATE into a
 *     rowid table whose TEXT PRIMARY KEY id has SQLite's automatic index
 *     (id -> rowid, as task_ids), with indexes on (state, score DESC), repo
 *     and kind; a trigger inserts the history row (a rowid table with an
 *     index on (task_id, seq)). Commit: the pages go to the WAL, one fsync.
 * In `stream`, ccm's writers encode and the store actor decodes (so
 * validates) each write and stores the bytes it received as the record;
 * SQLite's figure to compare is `batch`, whose writer encodes once too.
 * A read returns the decoded task on both sides, decoded by the same
 * function, proto_msgpack_decode (protocol/: pre-scan, then every check,
 * one malloc'd copy per string; freed by proto_msg_fini/store_task_free):
 *   ccm: store_task_get: a pooled read transaction renewed; the id's row
 *     from the store's row hints (an id read before, its row remembered
 *     in memory: store_task.c "row hints"), else from task_ids (id -> row,
 *     a B-tree lookup); the record under the row in task_rows (a B-tree
 *     lookup, zero-copy from the map; for a hinted id the head of the
 *     leaf page and the record are prefetched first from where that
 *     record was last read, the lookup done in full all the same);
 *     decode; a hinted record is used only when its id is the one asked
 *     for.
 *   SQLite: one prepared SELECT blob FROM tasks WHERE id = ? (id -> rowid
 *     in the id index, rowid -> row in the table: two lookups, its 64 MiB
 *     page cache warm), then proto_msgpack_decode of the column's bytes.
 * Each id is read ~10 times (200,000 reads of 20,000 tasks, the same
 * random sequence on both sides). The `read` figure also reports the
 * decode alone (INFO decode_ns, the part of a read both sides share), the
 * CPU time per read (INFO read_cpu_ns: less disturbed than the rate by
 * other work on a shared machine), and for ccm the first read of every id
 * through a newly opened store, so without hints (INFO cold_read_ns).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store_actor.h"

#define GROUP_THREADS 8
#define BATCH 1000

static uint64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, const char *why)
{
  fprintf(stderr, "bench_store: %s: %s\n", what, why);
  exit(1);
}

static void check_store(const char *what, int rc)
{
  if (rc)
    die(what, store_strerror(rc));
}

/* ---------------------------------------------------------------- records */

static uint64_t mix64(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static void task_id(uint64_t i, char out[41])
{
  snprintf(out, 41, "%016llx%016llx%08llx", (unsigned long long)mix64(i),
           (unsigned long long)mix64(i + (1ull << 40)),
           (unsigned long long)(mix64(i + (2ull << 40)) & 0xffffffffull));
}

static const char *const kinds[] = {"todo", "fixme", "hack", "refactor",
                                    "secret"};
static const char *const repos[] = {"acme-widgets", "acme-api",
                                    "acme-web"};

/* Ids and titles are made before any timing starts (snprintf would
 * otherwise be a visible share of a read). */
static char (*g_ids)[41];
static char (*g_titles)[64];
static uint64_t g_nrec;

static void recs_prepare(uint64_t n)
{
  g_ids = malloc(n * sizeof(*g_ids));
  g_titles = malloc(n * sizeof(*g_titles));
  if (!g_ids || !g_titles)
    die("malloc", "records");
  for (uint64_t i = 0; i < n; i++) {
    task_id(i, g_ids[i]);
    snprintf(g_titles[i], sizeof(g_titles[i]),
             "Retry the upload with backoff (#%llu)", (unsigned long long)i);
  }
  g_nrec = n;
}

typedef struct rec {
  proto_msg_t m; /* borrows the prepared strings and static ones */
} rec_t;

static void rec_make(rec_t *r, uint64_t i)
{
  memset(&r->m, 0, sizeof(r->m));
  r->m.type = PROTO_TASK;
  proto_task_t *t = &r->m.u.task;
  t->id = g_ids[i];
  t->repo = (char *)repos[i % 3];
  t->kind = (char *)kinds[i % 5];
  t->title = g_titles[i];
  t->loc.path = "src/net/http_client.c";
  t->loc.line = (uint32_t)(i % 4000) + 1;
  t->loc.column = 5;
  t->text = "retry with backoff on 503";
  t->first_seen = t->last_seen = 1700000000000ll + (int64_t)i;
  t->score.value = (double)(i % 10) + 1;
  t->score.time_criticality = 4;
  t->score.risk_reduction = 3;
  t->score.job_size = (double)(i % 5) + 1;
  t->score.total = (t->score.value + 7) / t->score.job_size;
  t->state = PROTO_STATE_NEW;
  t->updated_at = t->first_seen;
}

/* ---------------------------------------------------------------- ccm */

static store_t *ccm_open(const char *dir)
{
  store_t *s = NULL;
  char err[512];
  store_options_t o = {.map_size = 1u << 30};
  int rc = store_open(dir, &o, &s, err, sizeof(err));
  if (rc)
    die("store_open", err);
  return s;
}

static double ccm_single(const char *dir, uint64_t n)
{
  store_t *s = ccm_open(dir);
  rec_t r;
  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < n; i++) {
    rec_make(&r, i);
    store_txn_t *x;
    check_store("begin", store_write_begin(s, &x));
    check_store("put", store_task_put(x, &r.m.u.task, "bench", "upsert"));
    check_store("commit", store_write_commit(x));
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  store_close(s);
  return (double)n / secs;
}

static double ccm_batch(const char *dir, uint64_t n)
{
  store_t *s = ccm_open(dir);
  rec_t r;
  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < n;) {
    store_txn_t *x;
    check_store("begin", store_write_begin(s, &x));
    for (int k = 0; k < BATCH && i < n; k++, i++) {
      rec_make(&r, i);
      check_store("put", store_task_put(x, &r.m.u.task, "bench", "upsert"));
    }
    check_store("commit", store_write_commit(x));
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  store_close(s);
  return (double)n / secs;
}

typedef struct group_arg {
  rt_runtime_t *rt;
  rt_actor_t *actor;
  uint64_t from, to;
  uint64_t batch_sum;
  atomic_int *go;
} group_arg_t;

static void *ccm_group_thread(void *p)
{
  group_arg_t *a = p;
  rec_t r;
  while (!atomic_load(a->go))
    ;
  for (uint64_t i = a->from; i < a->to; i++) {
    rec_make(&r, i);
    store_ack_t ack;
    check_store("write", store_write_sync(a->rt, a->actor, &r.m, 60000, &ack));
    a->batch_sum += ack.batch;
  }
  return NULL;
}

static double ccm_group(const char *dir, uint64_t n)
{
  store_t *s = ccm_open(dir);
  rt_runtime_t *rt = NULL;
  rt_actor_t *actor = NULL;
  rt_config_t cfg;
  rt_config_defaults(&cfg);
  int rc = rt_runtime_new(&cfg, &rt);
  if (!rc)
    rc = store_actor_spawn(rt, s, "store", &actor);
  if (rc)
    die("runtime", rt_strerror(rc));
  pthread_t th[GROUP_THREADS];
  group_arg_t args[GROUP_THREADS];
  atomic_int go = 0;
  for (int t = 0; t < GROUP_THREADS; t++) {
    args[t] = (group_arg_t){.rt = rt, .actor = actor,
                            .from = n * (uint64_t)t / GROUP_THREADS,
                            .to = n * (uint64_t)(t + 1) / GROUP_THREADS,
                            .go = &go};
    pthread_create(&th[t], NULL, ccm_group_thread, &args[t]);
  }
  uint64_t t0 = now_ns();
  atomic_store(&go, 1);
  uint64_t sum = 0;
  for (int t = 0; t < GROUP_THREADS; t++) {
    pthread_join(th[t], NULL);
    sum += args[t].batch_sum;
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  printf("INFO group ccm mean_batch %.2f commits_per_s %.0f\n",
         (double)sum / (double)n, (double)n / secs / ((double)sum / (double)n));
  rt_actor_release(actor);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  store_close(s);
  rt_runtime_free(rt);
  return (double)n / secs;
}

/* stream: writer actors, each keeping WINDOW writes in flight with
 * rt_request (how ccm's scanner and analyzer actors write); every write is
 * still acknowledged only after its durable commit. */
#define STREAM_ACTORS 8
#define STREAM_WINDOW 128
#define MSG_GO 0x7001u
#define MSG_DONE 0x7002u

typedef struct stream_job {
  store_t *store;
  rt_actor_t *store_actor, *done_to;
  uint64_t from, to;
} stream_job_t;

typedef struct stream_state {
  stream_job_t job;
  uint64_t next, acked, failed, batch_sum;
  msgpack_sbuffer sb;
} stream_state_t;

static void stream_send_one(rt_ctx_t *ctx, stream_state_t *st)
{
  rec_t r;
  rec_make(&r, st->next++);
  msgpack_sbuffer_clear(&st->sb);
  int rc = proto_msgpack_encode(&r.m, &st->sb);
  rt_msg_t *m = NULL;
  if (!rc)
    rc = rt_msg_new(STORE_MSG_WRITE, st->sb.data, st->sb.size, &m);
  uint64_t corr;
  if (!rc)
    rc = rt_request(ctx, st->job.store_actor, &m, 60000, &corr);
  if (rc)
    st->failed++;
}

static void stream_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  stream_state_t *st = state;
  uint32_t type = rt_msg_type(msg);
  if (type == MSG_GO) {
    memcpy(&st->job, rt_msg_data(msg, NULL), sizeof(st->job));
    msgpack_sbuffer_init(&st->sb);
    st->next = st->job.from;
    for (int i = 0; i < STREAM_WINDOW && st->next < st->job.to; i++)
      stream_send_one(ctx, st);
    return;
  }
  if (type == STORE_MSG_ACK) {
    store_ack_t ack;
    memcpy(&ack, rt_msg_data(msg, NULL), sizeof(ack));
    if (ack.rc)
      st->failed++;
    st->batch_sum += ack.batch;
  } else if (type == RT_MSG_TIMEOUT) {
    st->failed++;
  } else {
    return;
  }
  st->acked++;
  if (st->next < st->job.to)
    stream_send_one(ctx, st);
  if (st->acked == st->job.to - st->job.from) {
    uint64_t r[2] = {st->failed, st->batch_sum};
    rt_msg_t *d = NULL;
    if (rt_msg_new(MSG_DONE, r, sizeof(r), &d) == 0)
      rt_send(st->job.done_to, &d);
    msgpack_sbuffer_destroy(&st->sb);
  }
}

static const rt_actor_type_t stream_type = {
    .name = "bench-writer",
    .state_size = sizeof(stream_state_t),
    .on_msg = stream_msg,
};

static double ccm_stream(const char *dir, uint64_t n)
{
  store_t *s = ccm_open(dir);
  rt_runtime_t *rt = NULL;
  rt_actor_t *actor = NULL;
  rt_port_t *port = NULL;
  rt_config_t cfg;
  rt_config_defaults(&cfg);
  int rc = rt_runtime_new(&cfg, &rt);
  if (!rc)
    rc = store_actor_spawn(rt, s, "store", &actor);
  if (!rc)
    rc = rt_port_new(rt, 0, &port);
  if (rc)
    die("runtime", rt_strerror(rc));
  rt_actor_t *w[STREAM_ACTORS];
  for (int i = 0; i < STREAM_ACTORS; i++) {
    rc = rt_actor_spawn(rt, &stream_type, NULL, NULL, &w[i]);
    if (rc)
      die("spawn", rt_strerror(rc));
  }
  uint64_t t0 = now_ns();
  for (int i = 0; i < STREAM_ACTORS; i++) {
    stream_job_t job = {.store = s, .store_actor = actor,
                        .done_to = rt_port_actor(port),
                        .from = n * (uint64_t)i / STREAM_ACTORS,
                        .to = n * (uint64_t)(i + 1) / STREAM_ACTORS};
    rt_msg_t *m = NULL;
    rc = rt_msg_new(MSG_GO, &job, sizeof(job), &m);
    if (!rc)
      rc = rt_send(w[i], &m);
    if (rc)
      die("go", rt_strerror(rc));
  }
  uint64_t failed = 0, batch_sum = 0;
  for (int i = 0; i < STREAM_ACTORS; i++) {
    rt_msg_t *m = NULL;
    rc = rt_port_recv(port, 600000, &m);
    if (rc)
      die("waiting for the writers", rt_strerror(rc));
    uint64_t r[2];
    memcpy(r, rt_msg_data(m, NULL), sizeof(r));
    failed += r[0];
    batch_sum += r[1];
    rt_msg_free(m);
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  if (failed)
    die("stream", "some writes failed");
  printf("INFO stream ccm mean_batch %.1f commits_per_s %.0f\n",
         (double)batch_sum / (double)n,
         (double)n / secs / ((double)batch_sum / (double)n));
  for (int i = 0; i < STREAM_ACTORS; i++)
    rt_actor_release(w[i]);
  rt_actor_release(actor);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  rt_port_free(port);
  store_close(s);
  rt_runtime_free(rt);
  return (double)n / secs;
}

static uint64_t cpu_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The first read of every task (in a scattered order) through a newly
 * opened store: no row hints yet, so the id map is read every time. */
static void ccm_cold_reads(const char *dir, uint64_t tasks)
{
  store_t *s = ccm_open(dir);
  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < tasks; i++) {
    proto_task_t t;
    if (store_task_get(s, g_ids[i * 7919 % tasks], &t) != 0)
      die("read", "a task is missing");
    store_task_free(&t);
  }
  printf("INFO cold_read_ns %.0f\n", (double)(now_ns() - t0) / (double)tasks);
  store_close(s);
}

static double ccm_read(const char *dir, uint64_t n, uint64_t tasks)
{
  ccm_batch(dir, tasks);
  store_t *s = ccm_open(dir);
  uint64_t x = 88172645463325252ull, found = 0;
  uint64_t c0 = cpu_ns(), t0 = now_ns();
  for (uint64_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    proto_task_t t;
    if (store_task_get(s, g_ids[x % tasks], &t) == 0) {
      found++;
      store_task_free(&t);
    }
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  printf("INFO read_cpu_ns %.0f\n", (double)(cpu_ns() - c0) / (double)n);
  if (found != n)
    die("read", "a task is missing");
  store_close(s);
  ccm_cold_reads(dir, tasks);
  return (double)n / secs;
}

/* The shared part of a read: decoding one record (nanoseconds, median of
 * 5 rounds of 20,000). */
static double decode_ns(void)
{
  rec_t r;
  rec_make(&r, 1);
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  if (proto_msgpack_encode(&r.m, &sb))
    die("encode", "record");
  double best[5];
  for (int round = 0; round < 5; round++) {
    uint64_t t0 = now_ns();
    for (int i = 0; i < 20000; i++) {
      proto_msg_t m;
      if (proto_msgpack_decode(sb.data, sb.size, &m, NULL, 0))
        die("decode", "record");
      proto_msg_fini(&m);
    }
    best[round] = (double)(now_ns() - t0) / 20000;
  }
  msgpack_sbuffer_destroy(&sb);
  for (int i = 1; i < 5; i++) /* insertion sort, then the median */
    for (int j = i; j > 0 && best[j] < best[j - 1]; j--) {
      double x = best[j];
      best[j] = best[j - 1];
      best[j - 1] = x;
    }
  return best[2];
}

/* ---------------------------------------------------------------- sqlite */

static const char *const sql_schema =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS tasks(id TEXT PRIMARY KEY, state INTEGER NOT "
    "NULL, score REAL NOT NULL, repo TEXT NOT NULL, kind TEXT NOT NULL, "
    "updated_at INTEGER, blob BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS tasks_rank ON tasks(state, score DESC);"
    "CREATE INDEX IF NOT EXISTS tasks_repo ON tasks(repo);"
    "CREATE INDEX IF NOT EXISTS tasks_kind ON tasks(kind);"
    "CREATE TABLE IF NOT EXISTS history(seq INTEGER PRIMARY KEY, task_id "
    "TEXT NOT NULL, from_state INTEGER, to_state INTEGER NOT NULL, actor "
    "TEXT, reason TEXT, at INTEGER);"
    "CREATE INDEX IF NOT EXISTS history_task ON history(task_id, seq);"
    "CREATE TRIGGER IF NOT EXISTS tasks_created AFTER INSERT ON tasks BEGIN "
    "INSERT INTO history(task_id, from_state, to_state, actor, reason, at) "
    "VALUES (NEW.id, 0, NEW.state, 'store', 'created', NEW.updated_at); END;"
    "CREATE TRIGGER IF NOT EXISTS tasks_moved AFTER UPDATE OF state ON tasks "
    "WHEN OLD.state != NEW.state BEGIN "
    "INSERT INTO history(task_id, from_state, to_state, actor, reason, at) "
    "VALUES (NEW.id, OLD.state, NEW.state, 'store', 'upsert', "
    "NEW.updated_at); END;";

static const char *const sql_upsert =
    "INSERT INTO tasks(id, state, score, repo, kind, updated_at, blob) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO UPDATE SET "
    "state=excluded.state, score=excluded.score, repo=excluded.repo, "
    "kind=excluded.kind, updated_at=excluded.updated_at, blob=excluded.blob";

static void sql_ok(sqlite3 *db, int rc, const char *what)
{
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    die(what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static sqlite3 *sql_open(const char *dir)
{
  char path[4096];
  snprintf(path, sizeof(path), "%s/bench.sqlite", dir);
  sqlite3 *db = NULL;
  sql_ok(db, sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL),
         "sqlite3_open");
  sqlite3_busy_timeout(db, 60000);
  char *err = NULL;
  if (sqlite3_exec(db, "PRAGMA cache_size=-65536;", NULL, NULL, &err))
    die("pragma", err);
  if (sqlite3_exec(db, sql_schema, NULL, NULL, &err))
    die("schema", err);
  return db;
}

typedef struct sql_writer {
  sqlite3 *db;
  sqlite3_stmt *st;
  msgpack_sbuffer sb;
} sql_writer_t;

static void sqlw_init(sql_writer_t *w, const char *dir)
{
  w->db = sql_open(dir);
  sql_ok(w->db, sqlite3_prepare_v2(w->db, sql_upsert, -1, &w->st, NULL),
         "prepare");
  msgpack_sbuffer_init(&w->sb);
}

static void sqlw_fini(sql_writer_t *w)
{
  sqlite3_finalize(w->st);
  sqlite3_close(w->db);
  msgpack_sbuffer_destroy(&w->sb);
}

/* One upsert (its trigger adds the history row). */
static void sqlw_put(sql_writer_t *w, const rec_t *r)
{
  const proto_task_t *t = &r->m.u.task;
  msgpack_sbuffer_clear(&w->sb);
  int rc = proto_msgpack_encode(&r->m, &w->sb);
  if (rc)
    die("encode", proto_strerror(rc));
  sqlite3_stmt *st = w->st;
  sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, (int)t->state);
  sqlite3_bind_double(st, 3, t->score.total);
  sqlite3_bind_text(st, 4, t->repo, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, t->kind, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, t->updated_at);
  sqlite3_bind_blob(st, 7, w->sb.data, (int)w->sb.size, SQLITE_STATIC);
  for (;;) {
    rc = sqlite3_step(st);
    if (rc != SQLITE_BUSY)
      break;
    sqlite3_reset(st); /* the busy handler gave up: try again */
  }
  sql_ok(w->db, rc, "insert");
  sqlite3_reset(st);
}

static void sql_exec(sqlite3 *db, const char *sql)
{
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err))
    die(sql, err);
}

static double sql_single(const char *dir, uint64_t n)
{
  sql_writer_t w;
  sqlw_init(&w, dir);
  rec_t r;
  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < n; i++) {
    rec_make(&r, i);
    sqlw_put(&w, &r);
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  sqlw_fini(&w);
  return (double)n / secs;
}

static double sql_batch(const char *dir, uint64_t n)
{
  sql_writer_t w;
  sqlw_init(&w, dir);
  rec_t r;
  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < n;) {
    sql_exec(w.db, "BEGIN");
    for (int k = 0; k < BATCH && i < n; k++, i++) {
      rec_make(&r, i);
      sqlw_put(&w, &r);
    }
    sql_exec(w.db, "COMMIT");
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  sqlw_fini(&w);
  return (double)n / secs;
}

typedef struct sql_group_arg {
  const char *dir;
  uint64_t from, to;
  atomic_int *go, *ready;
} sql_group_arg_t;

static void *sql_group_thread(void *p)
{
  sql_group_arg_t *a = p;
  sql_writer_t w;
  sqlw_init(&w, a->dir);
  rec_t r;
  atomic_fetch_add(a->ready, 1);
  while (!atomic_load(a->go))
    ;
  for (uint64_t i = a->from; i < a->to; i++) {
    rec_make(&r, i);
    sqlw_put(&w, &r);
  }
  sqlw_fini(&w);
  return NULL;
}

static double sql_group(const char *dir, uint64_t n)
{
  sqlite3 *db = sql_open(dir); /* schema first, once */
  sqlite3_close(db);
  pthread_t th[GROUP_THREADS];
  sql_group_arg_t args[GROUP_THREADS];
  atomic_int go = 0, ready = 0;
  for (int t = 0; t < GROUP_THREADS; t++) {
    args[t] = (sql_group_arg_t){.dir = dir,
                                .from = n * (uint64_t)t / GROUP_THREADS,
                                .to = n * (uint64_t)(t + 1) / GROUP_THREADS,
                                .go = &go, .ready = &ready};
    pthread_create(&th[t], NULL, sql_group_thread, &args[t]);
  }
  while (atomic_load(&ready) < GROUP_THREADS)
    ;
  uint64_t t0 = now_ns();
  atomic_store(&go, 1);
  for (int t = 0; t < GROUP_THREADS; t++)
    pthread_join(th[t], NULL);
  double secs = (double)(now_ns() - t0) / 1e9;
  return (double)n / secs;
}

static double sql_read(const char *dir, uint64_t n, uint64_t tasks)
{
  sql_batch(dir, tasks);
  sqlite3 *db = sql_open(dir);
  sqlite3_stmt *st;
  sql_ok(db, sqlite3_prepare_v2(db, "SELECT blob FROM tasks WHERE id = ?1",
                                -1, &st, NULL), "prepare");
  uint64_t x = 88172645463325252ull, found = 0;
  uint64_t c0 = cpu_ns(), t0 = now_ns();
  for (uint64_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sqlite3_bind_text(st, 1, g_ids[x % tasks], 40, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
      proto_msg_t m;
      if (proto_msgpack_decode(sqlite3_column_blob(st, 0),
                               (size_t)sqlite3_column_bytes(st, 0), &m, NULL,
                               0) == 0) {
        found++;
        proto_msg_fini(&m);
      }
    }
    sqlite3_reset(st);
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  printf("INFO read_cpu_ns %.0f\n", (double)(cpu_ns() - c0) / (double)n);
  if (found != n)
    die("read", "a task is missing");
  sqlite3_finalize(st);
  sqlite3_close(db);
  return (double)n / secs;
}

/* ---------------------------------------------------------------- main */

/* ---------------------------------------------------------------- io */

#define IO_FILE_PAGES 2048 /* 8 MiB */
#define IO_ROUNDS 400

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median microseconds of IO_ROUNDS commits shaped like: @p pages pages at
 * random places (0: one appended page), fdatasync, then (if @p meta) a
 * 120-byte write through an O_DSYNC descriptor. */
static double io_commit_us(int fd, int dsync_fd, int pages, bool meta)
{
  static double us[IO_ROUNDS];
  unsigned char page[4096];
  memset(page, 0x5a, sizeof(page));
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int r = 0; r < IO_ROUNDS; r++) {
    uint64_t t0 = now_ns();
    for (int p = 0; p < (pages ? pages : 1); p++) {
      x = mix64(x);
      off_t at = pages ? (off_t)(2 + x % (IO_FILE_PAGES - 2)) * 4096
                       : (off_t)(2 + r % (IO_FILE_PAGES - 2)) * 4096;
      if (pwrite(fd, page, sizeof(page), at) != (ssize_t)sizeof(page))
        die("io", "pwrite");
    }
    if (fdatasync(fd) != 0)
      die("io", "fdatasync");
    if (meta && pwrite(dsync_fd, page, 120, (r & 1) * 4096) != 120)
      die("io", "pwrite meta");
    us[r] = (double)(now_ns() - t0) / 1e3;
  }
  qsort(us, IO_ROUNDS, sizeof(us[0]), cmp_double);
  return us[IO_ROUNDS / 2];
}

static double io_figures(const char *dir)
{
  char path[4200];
  snprintf(path, sizeof(path), "%s/io.bin", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  int dfd = fd < 0 ? -1 : open(path, O_RDWR | O_DSYNC | O_CLOEXEC);
  if (fd < 0 || dfd < 0)
    die("io", path);
  unsigned char page[4096] = {0};
  for (int i = 0; i < IO_FILE_PAGES; i++)
    if (pwrite(fd, page, sizeof(page), (off_t)i * 4096) != 4096)
      die("io", "preallocate");
  if (fsync(fd) != 0)
    die("io", "fsync");
  double wal = io_commit_us(fd, dfd, 0, false);
  double one = io_commit_us(fd, dfd, 1, true);
  double ten = io_commit_us(fd, dfd, 10, true);
  printf("INFO io_us append+fdatasync %.0f\n", wal);
  printf("INFO io_us 1page+fdatasync+dsync_meta %.0f\n", one);
  printf("INFO io_us 10pages+fdatasync+dsync_meta %.0f\n", ten);
  close(dfd);
  close(fd);
  unlink(path);
  return 1e6 / wal; /* single-flush commits per second */
}

static void rm_dir(const char *dir)
{
  static const char *const files[] = {"ccm.lmdb", "ccm.lmdb-lock",
                                      "ccm.journal",
                                      "bench.sqlite", "bench.sqlite-wal",
                                      "bench.sqlite-shm", "io.bin"};
  char path[4200];
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
    unlink(path);
  }
  rmdir(dir);
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: bench_store ccm|sqlite "
                    "single|batch|group|stream|read|io [--n N] [--dir DIR]\n");
    return 2;
  }
  const char *sys = argv[1], *fig = argv[2];
  uint64_t n = 0;
  const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--n"))
      n = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--dir"))
      base = argv[i + 1];
  }
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s/ccm-bench-store-XXXXXX", base);
  if (!mkdtemp(dir))
    die("mkdtemp", dir);
  bool ccm = !strcmp(sys, "ccm");
  if (!ccm && strcmp(sys, "sqlite"))
    die("unknown system", sys);
  double v;
  recs_prepare(!strcmp(fig, "read") || n < 20000 ? 20000 : n);
  if (!strcmp(fig, "single")) {
    n = n ? n : 2000;
    v = ccm ? ccm_single(dir, n) : sql_single(dir, n);
  } else if (!strcmp(fig, "batch")) {
    n = n ? n : 20000;
    v = ccm ? ccm_batch(dir, n) : sql_batch(dir, n);
  } else if (!strcmp(fig, "group")) {
    n = n ? n : 8000;
    v = ccm ? ccm_group(dir, n) : sql_group(dir, n);
  } else if (!strcmp(fig, "stream")) {
    n = n ? n : 20000;
    if (!ccm)
      die("stream", "a ccm figure (compare with SQLite's batch)");
    v = ccm_stream(dir, n);
  } else if (!strcmp(fig, "read")) {
    n = n ? n : 200000;
    v = ccm ? ccm_read(dir, n, 20000) : sql_read(dir, n, 20000);
    printf("INFO decode_ns %.0f\n", decode_ns());
  } else if (!strcmp(fig, "io")) {
    v = io_figures(dir);
  } else {
    die("unknown figure", fig);
  }
  if (!strcmp(fig, "single")) {
    rec_t r;
    rec_make(&r, 1);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    proto_msgpack_encode(&r.m, &sb);
    printf("INFO record_bytes %zu\n", sb.size);
    msgpack_sbuffer_destroy(&sb);
  }
  if (!ccm)
    printf("INFO sqlite_version %s\n", sqlite3_libversion());
  printf("RESULT %s %s %.1f ops/s\n", fig, sys, v);
  rm_dir(dir);
  free(g_ids);
  free(g_titles);
  return 0;
}
