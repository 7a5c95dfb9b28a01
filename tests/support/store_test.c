/*
 * store_test.c: helpers shared by the store suites. See store_test.h.
 */
#include "tests/support/store_test.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ files */

char *tst_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  if (!base || !base[0]) base = "/tmp";
  char *p = malloc(strlen(base) + 32);
  cr_assert_not_null(p);
  sprintf(p, "%s/ccm-store-XXXXXX", base);
  cr_assert_not_null(mkdtemp(p), "mkdtemp: %s", strerror(errno));
  return p;
}

void tst_rmrf(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (d) {
      struct dirent *e;
      while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *sub = malloc(strlen(path) + strlen(e->d_name) + 2);
        if (!sub) break;
        sprintf(sub, "%s/%s", path, e->d_name);
        tst_rmrf(sub);
        free(sub);
      }
      closedir(d);
    }
    rmdir(path);
  } else {
    unlink(path);
  }
}

const char *tst_store_file(const char *dir, char *buf, size_t len) {
  snprintf(buf, len, "%s/%s", dir, STORE_FILE);
  return buf;
}

uint64_t tst_file_hash(const char *path, size_t *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
  uint64_t h = 1469598103934665603ull;
  size_t total = 0;
  unsigned char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i++) {
      h ^= buf[i];
      h *= 1099511628211ull;
    }
    total += (size_t)n;
  }
  close(fd);
  if (size) *size = total;
  return h;
}

bool tst_exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

int tst_dir_entries(const char *path) {
  DIR *d = opendir(path);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

/* ------------------------------------------------------------ tasks */

static char *dupstr(const char *s) {
  if (!s) return NULL;
  char *p = strdup(s);
  cr_assert_not_null(p);
  return p;
}

void tst_task_init(proto_task_t *t, const char *id, const char *repo,
                   const char *kind, proto_state_t state, double score) {
  memset(t, 0, sizeof *t);
  char buf[256];
  t->id = dupstr(id);
  t->repo = dupstr(repo);
  t->kind = dupstr(kind);
  snprintf(buf, sizeof buf, "Handle the %s in %s", kind, id);
  t->title = dupstr(buf);
  t->loc.path = dupstr("src/net/http_client.c");
  t->loc.line = 120;
  t->loc.column = 5;
  t->loc.symbol = dupstr("http_client_retry");
  t->text = dupstr("retry with backoff instead of failing on the first 503");
  t->author = dupstr("Jane Doe <jane@example.com>");
  t->authored_at = 1700000000;
  t->first_seen = 1700000000000;
  t->last_seen = 1700000000000;
  t->labels.items = calloc(2, sizeof(char *));
  cr_assert_not_null(t->labels.items);
  t->labels.items[0] = dupstr("backend");
  t->labels.items[1] = dupstr("p2");
  t->labels.len = 2;
  t->score.total = score;
  t->score.value = 6;
  t->score.time_criticality = 4;
  t->score.risk_reduction = 3;
  t->score.job_size = 2;
  t->score.why = dupstr("WSJF (6+4+3)/2");
  t->state = state;
  t->updated_at = 1700000000000;
}

void tst_task_msg(proto_msg_t *m, const char *id, const char *repo,
                  const char *kind, proto_state_t state, double score) {
  memset(m, 0, sizeof *m);
  m->type = PROTO_TASK;
  tst_task_init(&m->u.task, id, repo, kind, state, score);
}

void tst_update_msg(proto_msg_t *m, const char *id, proto_state_t from,
                    proto_state_t to, const char *actor, const char *reason,
                    int64_t at) {
  memset(m, 0, sizeof *m);
  m->type = PROTO_TASK_UPDATE;
  m->u.task_update.task_id = dupstr(id);
  m->u.task_update.from = from;
  m->u.task_update.to = to;
  m->u.task_update.actor = dupstr(actor);
  m->u.task_update.reason = dupstr(reason);
  m->u.task_update.at = at;
}

/* ------------------------------------------------------------ stores */

store_t *tst_store_open(const char *dir, const store_options_t *opt) {
  store_t *s = (store_t *)1;
  char err[512];
  int rc = store_open(dir, opt, &s, err, sizeof err);
  cr_assert_eq(rc, 0, "store_open(%s): %s: %s", dir, store_strerror(rc), err);
  cr_assert_not_null(s);
  return s;
}

void tst_put(store_t *s, const proto_task_t *t) {
  store_txn_t *x = NULL;
  TST_SOK(store_write_begin(s, &x));
  TST_SOK(store_task_put(x, t, "test", "put"));
  TST_SOK(store_write_commit(x));
}

int tst_state_chain(proto_state_t *out, int max) {
  bool seen[PROTO_STATE_COUNT] = {false};
  int n = 0;
  proto_state_t cur = PROTO_STATE_NEW;
  out[n++] = cur;
  seen[cur] = true;
  while (n < max) {
    int next = -1;
    for (int s = 0; s < PROTO_STATE_COUNT && next < 0; s++)
      if (!seen[s] && proto_state_transition_ok(cur, (proto_state_t)s))
        next = s;
    if (next < 0) break;
    cur = (proto_state_t)next;
    seen[cur] = true;
    out[n++] = cur;
  }
  return n;
}

/* ------------------------------------------------------------ raw LMDB */

#define RAW_OK(expr)                                                         \
  do {                                                                       \
    int raw_rc_ = (expr);                                                    \
    cr_assert_eq(raw_rc_, 0, "%s: %s", #expr, mdb_strerror(raw_rc_));        \
  } while (0)

static void put_be64(unsigned char *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (unsigned char)(v & 0xff);
    v >>= 8;
  }
}

static uint64_t get_be64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

/* store.h: idx_state sorts by ~score, score mapped to an order-preserving
 * unsigned integer. */
static uint64_t score_order(double d) {
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  return (bits & 0x8000000000000000ull) ? ~bits : bits | 0x8000000000000000ull;
}

static size_t key_state(unsigned char *b, const proto_task_t *t) {
  size_t n = strlen(t->id);
  b[0] = (unsigned char)t->state;
  put_be64(b + 1, ~score_order(t->score.total));
  memcpy(b + 9, t->id, n);
  return 9 + n;
}

static size_t key_pair(unsigned char *b, const char *a, const char *id) {
  size_t x = strlen(a), y = strlen(id);
  memcpy(b, a, x);
  b[x] = 0;
  memcpy(b + x + 1, id, y);
  return x + 1 + y;
}

static MDB_env *raw_env(const char *dir, bool rdonly, size_t mapsize) {
  char path[4096];
  tst_store_file(dir, path, sizeof path);
  MDB_env *env;
  RAW_OK(mdb_env_create(&env));
  RAW_OK(mdb_env_set_maxdbs(env, 32));
  if (mapsize) RAW_OK(mdb_env_set_mapsize(env, mapsize));
  unsigned flags = MDB_NOSUBDIR | (rdonly ? MDB_RDONLY : 0);
  RAW_OK(mdb_env_open(env, path, flags, 0640));
  return env;
}

static void raw_put(MDB_txn *txn, MDB_dbi db, const void *k, size_t kl,
                    const void *v, size_t vl) {
  MDB_val kv = {.mv_size = kl, .mv_data = (void *)k};
  MDB_val dv = {.mv_size = vl, .mv_data = (void *)v};
  RAW_OK(mdb_put(txn, db, &kv, &dv, 0));
}

static void raw_put_msg(MDB_txn *txn, MDB_dbi db, const void *k, size_t kl,
                        const proto_msg_t *m) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  int rc = proto_msgpack_encode(m, &sb);
  cr_assert_eq(rc, 0, "proto_msgpack_encode: %s", proto_strerror(rc));
  raw_put(txn, db, k, kl, sb.data, sb.size);
  msgpack_sbuffer_destroy(&sb);
}

/* v1/v2 history key: id | 0 | seq. */
static void raw_put_history(MDB_txn *txn, MDB_dbi hist, const char *id,
                            uint64_t seq, const proto_msg_t *entry) {
  unsigned char kb[PROTO_MAX_STR + 16];
  size_t kl = key_pair(kb, id, "");
  put_be64(kb + kl, seq);
  raw_put_msg(txn, hist, kb, kl + 8, entry);
}

static void raw_put_event(MDB_txn *txn, MDB_dbi ev, uint64_t seq,
                          int64_t ts) {
  proto_msg_t e = {.type = PROTO_EVENT};
  e.u.event.seq = seq;
  e.u.event.topic = "tasks";
  e.u.event.ts = ts;
  unsigned char sk[8];
  put_be64(sk, seq);
  raw_put_msg(txn, ev, sk, 8, &e);
}

void tst_build_v1(const char *dir, int n) {
  mkdir(dir, 0750);
  MDB_env *env = raw_env(dir, false, 64u << 20);
  MDB_txn *txn;
  RAW_OK(mdb_txn_begin(env, NULL, 0, &txn));
  MDB_dbi meta, tasks, ist, irepo, hist, ev;
  RAW_OK(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta));
  RAW_OK(mdb_dbi_open(txn, "tasks", MDB_CREATE, &tasks));
  RAW_OK(mdb_dbi_open(txn, "idx_state", MDB_CREATE, &ist));
  RAW_OK(mdb_dbi_open(txn, "idx_repo", MDB_CREATE, &irepo));
  RAW_OK(mdb_dbi_open(txn, "history", MDB_CREATE, &hist));
  RAW_OK(mdb_dbi_open(txn, "events", MDB_CREATE, &ev));
  raw_put(txn, meta, "magic", 5, "ccm-store", 9);
  uint32_t ver = 1;
  raw_put(txn, meta, "schema_version", 14, &ver, sizeof ver);
  static const char *const kinds[] = {"todo", "fixme", "hack"};
  unsigned char kb[PROTO_MAX_STR * 2 + 16];
  for (int i = 0; i < n; i++) {
    char id[32], repo[8];
    snprintf(id, sizeof id, "v1-%04d", i);
    snprintf(repo, sizeof repo, "r%d", i % 2);
    proto_msg_t m;
    static const proto_state_t states[4] = {
        PROTO_STATE_TRIAGED, PROTO_STATE_SKIPPED, PROTO_STATE_BLOCKED,
        PROTO_STATE_TRIAGED};
    proto_state_t st = states[i % 4];
    cr_assert(proto_state_transition_ok(PROTO_STATE_NEW, st));
    tst_task_msg(&m, id, repo, kinds[i % 3], st, (double)(i % 7) + 0.5);
    raw_put_msg(txn, tasks, id, strlen(id), &m);
    raw_put(txn, ist, kb, key_state(kb, &m.u.task), "", 0);
    raw_put(txn, irepo, kb, key_pair(kb, repo, id), "", 0);
    proto_msg_t u;
    tst_update_msg(&u, id, PROTO_STATE_NEW, st, "v1", "created",
                   1600000000000 + i);
    raw_put_history(txn, hist, id, (uint64_t)i + 1, &u);
    proto_msg_fini(&u);
    proto_msg_fini(&m);
  }
  raw_put_event(txn, ev, 1, 1600000000000);
  RAW_OK(mdb_txn_commit(txn));
  mdb_env_close(env);
}

/* A v2 creation entry: EVENT "task.created" (store_task.c). */
static void raw_put_created(MDB_txn *txn, MDB_dbi hist, const char *id,
                            proto_state_t st, int64_t at, uint64_t seq) {
  proto_msg_t e = {.type = PROTO_EVENT};
  e.u.event.seq = 1;
  e.u.event.topic = "task.created";
  e.u.event.data = json_pack("{s:s, s:s, s:I, s:s, s:s}", "task_id", id,
                             "state", proto_state_name(st), "at",
                             (json_int_t)at, "actor", "v2", "reason",
                             "created");
  cr_assert_not_null(e.u.event.data);
  raw_put_history(txn, hist, id, seq, &e);
  json_decref(e.u.event.data);
}

void tst_build_v2(const char *dir, int n) {
  mkdir(dir, 0750);
  MDB_env *env = raw_env(dir, false, 64u << 20);
  MDB_txn *txn;
  RAW_OK(mdb_txn_begin(env, NULL, 0, &txn));
  static const char *const names[] = {"meta", "repos", "findings", "tasks",
                                      "idx_state", "idx_repo", "idx_kind",
                                      "history", "events", "audit",
                                      "gh_cache"};
  MDB_dbi db[11];
  for (int i = 0; i < 11; i++)
    RAW_OK(mdb_dbi_open(txn, names[i], MDB_CREATE, &db[i]));
  MDB_dbi meta = db[0], repos = db[1], tasks = db[3], ist = db[4],
          irepo = db[5], ikind = db[6], hist = db[7], ev = db[8],
          gh = db[10];
  raw_put(txn, meta, "magic", 5, "ccm-store", 9);
  uint32_t ver = 2;
  raw_put(txn, meta, "schema_version", 14, &ver, sizeof ver);
  unsigned char kb[PROTO_MAX_STR * 2 + 16];
  uint64_t seq = 0;
  for (int pass = 0; pass < 3; pass++) {
    for (int i = 0; i < n; i++) {
      char id[32], repo[8];
      snprintf(id, sizeof id, "v2-%04d", i);
      snprintf(repo, sizeof repo, "r%d", i % 3);
      int moves = i % 6 == 0 ? 2 : i % 3 == 0 ? 1 : 0;
      int64_t at = 1650000000000 + i + pass * 1000;
      if (pass == 0) { /* created triaged, then the record in its end state */
        static const proto_state_t end[3] = {
            PROTO_STATE_TRIAGED, PROTO_STATE_READY, PROTO_STATE_RUNNING};
        raw_put_created(txn, hist, id, PROTO_STATE_TRIAGED, at, ++seq);
        proto_msg_t m;
        tst_task_msg(&m, id, repo, i % 2 ? "fixme" : "todo", end[moves],
                     (double)(i % 5) + 0.25);
        raw_put_msg(txn, tasks, id, strlen(id), &m);
        raw_put(txn, ist, kb, key_state(kb, &m.u.task), "", 0);
        raw_put(txn, irepo, kb, key_pair(kb, repo, id), "", 0);
        raw_put(txn, ikind, kb, key_pair(kb, m.u.task.kind, id), "", 0);
        proto_msg_fini(&m);
      } else if (moves >= pass) { /* triaged -> ready, ready -> running */
        proto_state_t from = pass == 1 ? PROTO_STATE_TRIAGED
                                       : PROTO_STATE_READY;
        proto_msg_t u;
        tst_update_msg(&u, id, from, (proto_state_t)(from + 1), "v2",
                       "moved", at);
        raw_put_history(txn, hist, id, ++seq, &u);
        proto_msg_fini(&u);
      }
    }
  }
  raw_put(txn, meta, "history_seq", 11, &seq, sizeof seq);
  raw_put_event(txn, ev, 7, 1650000000000);
  raw_put(txn, repos, "r0", 2, "{\"path\":\"/src/r0\"}", 18);
  raw_put(txn, gh, "https://api.github.com/repos/o/r/issues", 39,
          TST_V2_GH_VALUE, sizeof TST_V2_GH_VALUE - 1);
  RAW_OK(mdb_txn_commit(txn));
  mdb_env_close(env);
}

void tst_raw_put(const char *dir, const char *db, const void *k, size_t kl,
                 const void *v, size_t vl) {
  MDB_env *env = raw_env(dir, false, 0);
  MDB_txn *txn;
  MDB_dbi d;
  RAW_OK(mdb_txn_begin(env, NULL, 0, &txn));
  RAW_OK(mdb_dbi_open(txn, db, 0, &d));
  raw_put(txn, d, k, kl, v, vl);
  RAW_OK(mdb_txn_commit(txn));
  mdb_env_close(env);
}

bool tst_raw_equals(const char *dir, const char *db, const void *k,
                    size_t kl, const void *v, size_t vl) {
  MDB_env *env = raw_env(dir, true, 0);
  MDB_txn *txn;
  MDB_dbi d;
  RAW_OK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
  RAW_OK(mdb_dbi_open(txn, db, 0, &d));
  MDB_val kv = {.mv_size = kl, .mv_data = (void *)k}, got;
  int rc = mdb_get(txn, d, &kv, &got);
  bool same = rc == 0 && got.mv_size == vl && !memcmp(got.mv_data, v, vl);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return same;
}

uint64_t tst_last_txnid(const char *dir) {
  MDB_env *env = raw_env(dir, true, 0);
  MDB_envinfo info;
  RAW_OK(mdb_env_info(env, &info));
  mdb_env_close(env);
  return (uint64_t)info.me_last_txnid;
}

void tst_set_schema_version(const char *dir, uint32_t v) {
  MDB_env *env = raw_env(dir, false, 0);
  MDB_txn *txn;
  MDB_dbi meta;
  RAW_OK(mdb_txn_begin(env, NULL, 0, &txn));
  RAW_OK(mdb_dbi_open(txn, "meta", 0, &meta));
  raw_put(txn, meta, "schema_version", 14, &v, sizeof v);
  RAW_OK(mdb_txn_commit(txn));
  mdb_env_close(env);
}

void tst_drop_db(const char *dir, const char *db) {
  MDB_env *env = raw_env(dir, false, 0);
  MDB_txn *txn;
  MDB_dbi d;
  RAW_OK(mdb_txn_begin(env, NULL, 0, &txn));
  RAW_OK(mdb_dbi_open(txn, db, 0, &d));
  RAW_OK(mdb_drop(txn, d, 1));
  RAW_OK(mdb_txn_commit(txn));
  mdb_env_close(env);
}

bool tst_db_exists(const char *dir, const char *db) {
  MDB_env *env = raw_env(dir, true, 0);
  MDB_txn *txn;
  MDB_dbi d;
  RAW_OK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
  int rc = mdb_dbi_open(txn, db, 0, &d);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return rc == 0;
}

void tst_build_foreign_lmdb(const char *dir) {
  mkdir(dir, 0750);
  MDB_env *env = raw_env(dir, false, 1u << 20);
  MDB_txn *txn;
  MDB_dbi a, b;
  RAW_OK(mdb_txn_begin(env, NULL, 0, &txn));
  RAW_OK(mdb_dbi_open(txn, "users", MDB_CREATE, &a));
  RAW_OK(mdb_dbi_open(txn, "sessions", MDB_CREATE, &b));
  raw_put(txn, a, "alice", 5, "{\"admin\":true}", 14);
  raw_put(txn, b, "s1", 2, "alice", 5);
  RAW_OK(mdb_txn_commit(txn));
  mdb_env_close(env);
}

static bool raw_has(MDB_txn *txn, MDB_dbi db, const void *k, size_t kl) {
  MDB_val kv = {.mv_size = kl, .mv_data = (void *)k}, v;
  int rc = mdb_get(txn, db, &kv, &v);
  cr_assert(rc == 0 || rc == MDB_NOTFOUND, "mdb_get: %s", mdb_strerror(rc));
  return rc == 0;
}

/* Decode a task record, asserting it is one. */
static void raw_task(const MDB_val *v, proto_msg_t *m) {
  char err[256] = "";
  int rc = proto_msgpack_decode(v->mv_data, v->mv_size, m, err, sizeof err);
  cr_assert_eq(rc, 0, "task record does not decode: %s", err);
  cr_assert_eq(m->type, PROTO_TASK);
}

/* Schema-3 task_index keys (store/store_task.c), rebuilt here
 * independently: 'r' rank, 'p' repo, 'k' kind. */
static const char raw3_tags[3] = {'r', 'p', 'k'};
static const char *const raw3_idx_names[3] = {"rank", "repo", "kind"};

static size_t key3_rank(unsigned char *b, const proto_task_t *t,
                        uint64_t row) {
  b[0] = 'r';
  b[1] = (unsigned char)t->state;
  put_be64(b + 2, ~score_order(t->score.total));
  put_be64(b + 10, row);
  return 18;
}

static size_t key3_pair(unsigned char *b, char tag, const char *a,
                        uint64_t row) {
  size_t x = strlen(a);
  b[0] = (unsigned char)tag;
  memcpy(b + 1, a, x);
  b[x + 1] = 0;
  put_be64(b + x + 2, row);
  return x + 10;
}

/* The task_ids key of @p id: 40 lower-case hex digits are packed into
 * 0 | 20 bytes (schema 5), any other id is its own bytes. */
static MDB_val raw3_id_key(const char *id, unsigned char *b) {
  size_t n = strlen(id), i = 0;
  static const char digits[] = "0123456789abcdef";
  for (; n == 40 && i < n && id[i] && strchr(digits, id[i]); i++)
    ;
  if (n != 40 || i != n)
    return (MDB_val){.mv_size = n, .mv_data = (void *)id};
  b[0] = 0;
  for (i = 0; i < 20; i++)
    b[1 + i] = (unsigned char)((strchr(digits, id[2 * i]) - digits) << 4 |
                               (strchr(digits, id[2 * i + 1]) - digits));
  return (MDB_val){.mv_size = 21, .mv_data = b};
}

typedef struct raw3 {
  MDB_txn *txn;
  MDB_dbi ids, rows, index;
} raw3_t;

/* The task of @p row, decoded into @p m (asserts it exists). */
static void raw3_row_task(const raw3_t *r, uint64_t row, proto_msg_t *m) {
  unsigned char rk[8];
  put_be64(rk, row);
  MDB_val kv = {.mv_size = 8, .mv_data = rk}, v;
  int rc = mdb_get(r->txn, r->rows, &kv, &v);
  cr_assert_eq(rc, 0, "row %" PRIu64 " has no record", row);
  raw_task(&v, m);
}

/* An index key points to a row whose task makes exactly that key. */
static void raw3_check_index_entry(const raw3_t *r, const MDB_val *k) {
  const char *tag = k->mv_size ? memchr(raw3_tags, *(char *)k->mv_data, 3)
                               : NULL;
  cr_assert_not_null(tag, "task_index key with an unknown tag");
  int which = (int)(tag - raw3_tags);
  cr_assert_gt(k->mv_size, 9u, "%s key too short", raw3_idx_names[which]);
  uint64_t row = get_be64((const unsigned char *)k->mv_data + k->mv_size - 8);
  proto_msg_t m;
  raw3_row_task(r, row, &m);
  const proto_task_t *t = &m.u.task;
  unsigned char want[PROTO_MAX_STR + 16];
  size_t wl = which == 0   ? key3_rank(want, t, row)
              : which == 1 ? key3_pair(want, 'p', t->repo, row)
                           : key3_pair(want, 'k', t->kind, row);
  cr_assert(wl == k->mv_size && !memcmp(want, k->mv_data, wl),
            "stale %s key for '%s' (row %" PRIu64 ")", raw3_idx_names[which],
            t->id, row);
  proto_msg_fini(&m);
}

/* The "to" state of one history entry of task @p t (creation events
 * first only); asserts the entry decodes and chains from @p last_to. */
static int raw3_history_entry(const proto_task_t *t, const MDB_val *v,
                              size_t index, int last_to) {
  const unsigned char *b = v->mv_data;
  if (v->mv_size && b[0] == 0xc1) { /* schema 5 creation: 0xc1 | state |
                                       at(8) | has | actor 0 reason 0 */
    cr_assert_eq(index, 0u, "'%s': creation entry not first", t->id);
    cr_assert_geq(v->mv_size, 13u, "'%s': creation entry too short", t->id);
    cr_assert_eq(b[v->mv_size - 1], 0, "'%s': creation entry unterminated",
                 t->id);
    cr_assert_lt(b[1], PROTO_STATE_COUNT);
    return b[1];
  }
  proto_msg_t u;
  char err[256] = "";
  int rc = proto_msgpack_decode(v->mv_data, v->mv_size, &u, err, sizeof err);
  cr_assert_eq(rc, 0, "history entry of '%s' does not decode: %s", t->id, err);
  int to;
  if (u.type == PROTO_EVENT) { /* a creation (store_task.c: history_encode) */
    cr_assert_eq(index, 0u, "'%s': creation entry not first", t->id);
    cr_assert_str_eq(u.u.event.topic, "task.created");
    json_t *d = u.u.event.data;
    cr_assert_str_eq(json_string_value(json_object_get(d, "task_id")), t->id);
    const char *sn = json_string_value(json_object_get(d, "state"));
    cr_assert_not_null(sn);
    to = proto_state_from_name(sn);
  } else {
    cr_assert_eq(u.type, PROTO_TASK_UPDATE);
    cr_assert_str_eq(u.u.task_update.task_id, t->id);
    if (last_to >= 0)
      cr_assert_eq((int)u.u.task_update.from, last_to,
                   "'%s': history does not chain", t->id);
    to = (int)u.u.task_update.to;
  }
  proto_msg_fini(&u);
  return to;
}

/* History of @p row: in seq order, chained, ending in the task's state. */
static void raw3_check_history(MDB_cursor *hc, uint64_t row,
                               const proto_task_t *t) {
  unsigned char hk0[16];
  put_be64(hk0, row);
  put_be64(hk0 + 8, 1);
  MDB_val hk = {.mv_size = 16, .mv_data = hk0}, hv;
  int hrc = mdb_cursor_get(hc, &hk, &hv, MDB_SET_RANGE);
  int last_to = -1;
  uint64_t last_seq = 0;
  size_t entries = 0;
  while (hrc == 0 && hk.mv_size == 16 &&
         get_be64(hk.mv_data) == row) {
    uint64_t seq = get_be64((const unsigned char *)hk.mv_data + 8);
    cr_assert_gt(seq, last_seq, "history of '%s' out of order", t->id);
    last_seq = seq;
    last_to = raw3_history_entry(t, &hv, entries++, last_to);
    hrc = mdb_cursor_get(hc, &hk, &hv, MDB_NEXT);
  }
  cr_assert_gt(entries, 0u, "task '%s' has no history", t->id);
  cr_assert_eq(last_to, (int)t->state,
               "task '%s': last history entry to %d, state %d", t->id,
               last_to, (int)t->state);
}

void tst_raw_check(const char *dir, tst_raw_report_t *out) {
  tst_raw_report_t rep;
  memset(&rep, 0, sizeof rep);
  MDB_env *env = raw_env(dir, true, 0);
  raw3_t r;
  RAW_OK(mdb_txn_begin(env, NULL, MDB_RDONLY, &r.txn));
  RAW_OK(mdb_dbi_open(r.txn, "task_ids", 0, &r.ids));
  RAW_OK(mdb_dbi_open(r.txn, "task_rows", 0, &r.rows));
  RAW_OK(mdb_dbi_open(r.txn, "task_index", 0, &r.index));
  /* No database of an older schema is left over. */
  static const char *const gone[] = {"tasks", "idx_state", "idx_repo",
                                     "idx_kind", "history"};
  for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
    MDB_dbi d;
    cr_assert_eq(mdb_dbi_open(r.txn, gone[i], 0, &d), MDB_NOTFOUND,
                 "old database '%s' still there", gone[i]);
  }

  /* Every row: its id maps to it, its three index keys exist, its
   * history (the row | seq keys after it) ends in its state. */
  MDB_cursor *c, *hc;
  RAW_OK(mdb_cursor_open(r.txn, r.rows, &c));
  RAW_OK(mdb_cursor_open(r.txn, r.rows, &hc));
  MDB_val k, v;
  unsigned char kb[PROTO_MAX_STR + 16];
  int rc;
  uint64_t last_row = 0;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    cr_assert(k.mv_size == 8 || k.mv_size == 16,
              "task_rows key of %zu bytes", k.mv_size);
    uint64_t row = get_be64(k.mv_data);
    if (k.mv_size == 16) { /* history: after its own record */
      cr_assert_eq(row, last_row, "history of row %" PRIu64 " without a "
                   "record", row);
      rep.history++;
      continue;
    }
    last_row = row;
    proto_msg_t m;
    raw_task(&v, &m);
    const proto_task_t *t = &m.u.task;
    MDB_val idk = raw3_id_key(t->id, kb), idv;
    cr_assert_eq(mdb_get(r.txn, r.ids, &idk, &idv), 0,
                 "task '%s' missing from task_ids", t->id);
    cr_assert(idv.mv_size == 8 && get_be64(idv.mv_data) == row,
              "task_ids maps '%s' elsewhere than row %" PRIu64, t->id, row);
    cr_assert(raw_has(r.txn, r.index, kb, key3_rank(kb, t, row)),
              "task '%s' missing from the rank index", t->id);
    cr_assert(raw_has(r.txn, r.index, kb, key3_pair(kb, 'p', t->repo, row)),
              "task '%s' missing from the repo index", t->id);
    cr_assert(raw_has(r.txn, r.index, kb, key3_pair(kb, 'k', t->kind, row)),
              "task '%s' missing from the kind index", t->id);
    raw3_check_history(hc, row, t);
    rep.tasks++;
    rep.by_state[t->state]++;
    proto_msg_fini(&m);
  }
  cr_assert_eq(rc, MDB_NOTFOUND, "rows cursor: %s", mdb_strerror(rc));

  /* As many ids as rows (each id was checked to point at its row), and
   * every index key points to a row whose fields make that key. */
  MDB_stat st;
  RAW_OK(mdb_stat(r.txn, r.ids, &st));
  cr_assert_eq(st.ms_entries, rep.tasks, "task_ids has %zu ids for %zu tasks",
               (size_t)st.ms_entries, rep.tasks);
  MDB_cursor *ic;
  RAW_OK(mdb_stat(r.txn, r.index, &st));
  cr_assert_eq(st.ms_entries, 3 * rep.tasks,
               "task_index has %zu keys for %zu tasks",
               (size_t)st.ms_entries, rep.tasks);
  RAW_OK(mdb_cursor_open(r.txn, r.index, &ic));
  for (rc = mdb_cursor_get(ic, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(ic, &k, &v, MDB_NEXT))
    raw3_check_index_entry(&r, &k);
  cr_assert_eq(rc, MDB_NOTFOUND);
  mdb_cursor_close(ic);
  mdb_cursor_close(hc);
  mdb_cursor_close(c);
  mdb_txn_abort(r.txn);
  mdb_env_close(env);
  if (out) *out = rep;
}

/* ------------------------------------------------------------ collecting */

static int collect_one(const proto_task_t *t, void *arg) {
  tst_task_list_t *l = arg;
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 64;
    l->rows = realloc(l->rows, l->cap * sizeof *l->rows);
    cr_assert_not_null(l->rows);
  }
  tst_task_row_t *r = &l->rows[l->n++];
  r->id = dupstr(t->id);
  r->repo = dupstr(t->repo);
  r->kind = dupstr(t->kind);
  r->state = t->state;
  r->score = t->score.total;
  return 0;
}

int tst_collect(store_t *s, const store_filter_t *f, tst_task_list_t *out) {
  return store_task_foreach(s, f, collect_one, out);
}

void tst_task_list_free(tst_task_list_t *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->rows[i].id);
    free(l->rows[i].repo);
    free(l->rows[i].kind);
  }
  free(l->rows);
  memset(l, 0, sizeof *l);
}

typedef struct hist_acc {
  proto_task_update_t *h;
  size_t n, cap;
} hist_acc_t;

static int history_one(const proto_task_update_t *u, void *arg) {
  hist_acc_t *a = arg;
  if (a->n == a->cap) {
    a->cap = a->cap ? a->cap * 2 : 16;
    a->h = realloc(a->h, a->cap * sizeof *a->h);
    cr_assert_not_null(a->h);
  }
  proto_task_update_t *d = &a->h[a->n++];
  *d = *u;
  d->task_id = dupstr(u->task_id);
  d->actor = dupstr(u->actor);
  d->reason = dupstr(u->reason);
  return 0;
}

size_t tst_history(store_t *s, const char *id, proto_task_update_t **out) {
  hist_acc_t a = {0};
  TST_SOK(store_history_foreach(s, id, history_one, &a));
  *out = a.h;
  return a.n;
}

void tst_history_free(proto_task_update_t *h, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(h[i].task_id);
    free(h[i].actor);
    free(h[i].reason);
  }
  free(h);
}

/* ------------------------------------------------------------ processes */

const char *tst_prog(const char *var) {
  const char *p = getenv(var);
  cr_assert(p && p[0], "%s is not set (tests/meson.build passes it)", var);
  cr_assert_eq(access(p, X_OK), 0, "%s=%s is not executable", var, p);
  return p;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

typedef struct grow_buf {
  char *p;
  size_t n, cap;
} grow_buf_t;

static void gb_add(grow_buf_t *b, const char *d, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    cr_assert_not_null(b->p);
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
  b->p[b->n] = 0;
}

int tst_run(char *const argv[], int timeout_ms, char **out, char **err) {
  int po[2], pe[2];
  cr_assert_eq(pipe2(po, O_CLOEXEC), 0);
  cr_assert_eq(pipe2(pe, O_CLOEXEC), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    dup2(po[1], 1);
    dup2(pe[1], 2);
    execv(argv[0], argv);
    _exit(127);
  }
  close(po[1]);
  close(pe[1]);
  grow_buf_t bo = {0}, be = {0};
  gb_add(&bo, "", 0);
  gb_add(&be, "", 0);
  uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
  bool killed = false;
  int open_fds = 2;
  struct pollfd pf[2] = {{.fd = po[0], .events = POLLIN},
                         {.fd = pe[0], .events = POLLIN}};
  while (open_fds > 0) {
    uint64_t now = now_ms();
    if (now >= deadline) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    int r = poll(pf, 2, (int)(deadline - now));
    if (r < 0 && errno == EINTR) continue;
    cr_assert_geq(r, 0, "poll: %s", strerror(errno));
    for (int i = 0; i < 2; i++) {
      if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      char buf[65536];
      ssize_t n = read(pf[i].fd, buf, sizeof buf);
      if (n > 0) {
        gb_add(i ? &be : &bo, buf, (size_t)n);
      } else if (n == 0 || errno != EINTR) {
        close(pf[i].fd);
        pf[i].fd = -1;
        open_fds--;
      }
    }
  }
  for (int i = 0; i < 2; i++)
    if (pf[i].fd >= 0) close(pf[i].fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (out) *out = bo.p; else free(bo.p);
  if (err) *err = be.p; else free(be.p);
  if (killed) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ------------------------------------------------------------ children */

void tst_child_start(tst_child_t *c, char *const argv[]) {
  memset(c, 0, sizeof *c);
  int po[2];
  cr_assert_eq(pipe2(po, O_CLOEXEC), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    dup2(po[1], 1);
    execv(argv[0], argv);
    _exit(127);
  }
  close(po[1]);
  c->pid = pid;
  c->fd = po[0];
}

int tst_child_line(tst_child_t *c, char *line, size_t cap, int timeout_ms) {
  uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
  for (;;) {
    char *nl = memchr(c->buf, '\n', c->len);
    if (nl) {
      size_t n = (size_t)(nl - c->buf);
      size_t k = n < cap - 1 ? n : cap - 1;
      memcpy(line, c->buf, k);
      line[k] = 0;
      memmove(c->buf, nl + 1, c->len - n - 1);
      c->len -= n + 1;
      return 1;
    }
    cr_assert_lt(c->len, sizeof c->buf, "line longer than %zu bytes", sizeof c->buf);
    if (c->fd < 0) return 0;
    uint64_t now = now_ms();
    if (now >= deadline) return -1;
    struct pollfd pf = {.fd = c->fd, .events = POLLIN};
    int r = poll(&pf, 1, (int)(deadline - now));
    if (r < 0 && errno == EINTR) continue;
    cr_assert_geq(r, 0, "poll: %s", strerror(errno));
    if (r == 0) return -1;
    ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
    if (n > 0) {
      c->len += (size_t)n;
    } else if (n == 0 || errno != EINTR) {
      close(c->fd);
      c->fd = -1;
      if (c->len == 0) return 0;
      c->buf[c->len++] = '\n'; /* a last line without newline */
    }
  }
}

int tst_child_kill(tst_child_t *c) {
  int status = 0;
  if (c->pid > 0) {
    kill(c->pid, SIGKILL);
    while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR) {
    }
    c->pid = 0;
  }
  return status;
}

void tst_child_close(tst_child_t *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
}
