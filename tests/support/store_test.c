/*
 * store_test.c: helpers shared by the store suites. See store_test.h.
 */
#include "tests/support/store_test.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
    size_t kl = key_pair(kb, id, "");
    put_be64(kb + kl, (uint64_t)i + 1);
    raw_put_msg(txn, hist, kb, kl + 8, &u);
    proto_msg_fini(&u);
    proto_msg_fini(&m);
  }
  proto_msg_t e = {.type = PROTO_EVENT};
  e.u.event.seq = 1;
  e.u.event.topic = "tasks";
  e.u.event.ts = 1600000000000;
  unsigned char sk[8];
  put_be64(sk, 1);
  raw_put_msg(txn, ev, sk, 8, &e);
  RAW_OK(mdb_txn_commit(txn));
  mdb_env_close(env);
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

/* The index keys a task must have: compare against the task. */
static void raw_check_index_entry(MDB_txn *txn, MDB_dbi tasks, int which,
                                  const MDB_val *k) {
  const unsigned char *b = k->mv_data;
  char id[PROTO_MAX_STR + 1], pre[PROTO_MAX_STR + 1];
  size_t off;
  if (which == 0) {
    cr_assert_gt(k->mv_size, 9u, "idx_state key too short");
    off = 9;
  } else {
    const unsigned char *z = memchr(b, 0, k->mv_size);
    cr_assert_not_null(z, "index key without separator");
    off = (size_t)(z - b) + 1;
    memcpy(pre, b, off - 1);
    pre[off - 1] = 0;
  }
  size_t n = k->mv_size - off;
  cr_assert_leq(n, (size_t)PROTO_MAX_STR);
  memcpy(id, b + off, n);
  id[n] = 0;
  MDB_val kv = {.mv_size = n, .mv_data = id}, v;
  int rc = mdb_get(txn, tasks, &kv, &v);
  cr_assert_eq(rc, 0, "index %d points to missing task '%s'", which, id);
  proto_msg_t m;
  raw_task(&v, &m);
  const proto_task_t *t = &m.u.task;
  if (which == 0) {
    unsigned char want[PROTO_MAX_STR + 16];
    size_t wl = key_state(want, t);
    cr_assert(wl == k->mv_size && !memcmp(want, b, wl),
              "stale idx_state key for '%s' (state %d, score %g)", id,
              (int)b[0], t->score.total);
  } else if (which == 1) {
    cr_assert_str_eq(pre, t->repo, "stale idx_repo key for '%s'", id);
  } else {
    cr_assert_str_eq(pre, t->kind, "stale idx_kind key for '%s'", id);
  }
  proto_msg_fini(&m);
}

void tst_raw_check(const char *dir, tst_raw_report_t *out) {
  tst_raw_report_t rep;
  memset(&rep, 0, sizeof rep);
  MDB_env *env = raw_env(dir, true, 0);
  MDB_txn *txn;
  RAW_OK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
  MDB_dbi tasks, idx[3], hist;
  static const char *const names[3] = {"idx_state", "idx_repo", "idx_kind"};
  RAW_OK(mdb_dbi_open(txn, "tasks", 0, &tasks));
  RAW_OK(mdb_dbi_open(txn, "history", 0, &hist));
  for (int i = 0; i < 3; i++) RAW_OK(mdb_dbi_open(txn, names[i], 0, &idx[i]));

  /* Every task: its three index keys exist; history ends in its state. */
  MDB_cursor *c, *hc;
  RAW_OK(mdb_cursor_open(txn, tasks, &c));
  RAW_OK(mdb_cursor_open(txn, hist, &hc));
  MDB_val k, v;
  unsigned char kb[PROTO_MAX_STR * 2 + 16];
  int rc;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    proto_msg_t m;
    raw_task(&v, &m);
    const proto_task_t *t = &m.u.task;
    cr_assert(k.mv_size == strlen(t->id) && !memcmp(k.mv_data, t->id, k.mv_size),
              "task key and id differ for '%s'", t->id);
    cr_assert(raw_has(txn, idx[0], kb, key_state(kb, t)),
              "task '%s' missing from idx_state", t->id);
    cr_assert(raw_has(txn, idx[1], kb, key_pair(kb, t->repo, t->id)),
              "task '%s' missing from idx_repo", t->id);
    cr_assert(raw_has(txn, idx[2], kb, key_pair(kb, t->kind, t->id)),
              "task '%s' missing from idx_kind", t->id);
    size_t pl = key_pair(kb, t->id, "");
    MDB_val hk = {.mv_size = pl, .mv_data = kb}, hv;
    int hrc = mdb_cursor_get(hc, &hk, &hv, MDB_SET_RANGE);
    int last_to = -1;
    uint64_t last_seq = 0;
    size_t entries = 0;
    while (hrc == 0 && hk.mv_size == pl + 8 && !memcmp(hk.mv_data, kb, pl)) {
      uint64_t seq = get_be64((const unsigned char *)hk.mv_data + pl);
      cr_assert_gt(seq, last_seq, "history of '%s' out of order", t->id);
      last_seq = seq;
      proto_msg_t u;
      char err[256] = "";
      int drc = proto_msgpack_decode(hv.mv_data, hv.mv_size, &u, err, sizeof err);
      cr_assert_eq(drc, 0, "history entry of '%s' does not decode: %s", t->id, err);
      if (u.type == PROTO_EVENT) { /* a creation (store.c: history_encode) */
        cr_assert_eq(entries, 0u, "'%s': creation entry not first", t->id);
        cr_assert_str_eq(u.u.event.topic, "task.created");
        json_t *d = u.u.event.data;
        cr_assert_str_eq(json_string_value(json_object_get(d, "task_id")), t->id);
        const char *sn = json_string_value(json_object_get(d, "state"));
        cr_assert_not_null(sn);
        last_to = proto_state_from_name(sn);
      } else {
        cr_assert_eq(u.type, PROTO_TASK_UPDATE);
        cr_assert_str_eq(u.u.task_update.task_id, t->id);
        if (last_to >= 0)
          cr_assert_eq((int)u.u.task_update.from, last_to,
                       "'%s': history does not chain", t->id);
        last_to = (int)u.u.task_update.to;
      }
      proto_msg_fini(&u);
      entries++;
      hrc = mdb_cursor_get(hc, &hk, &hv, MDB_NEXT);
    }
    cr_assert_gt(entries, 0u, "task '%s' has no history", t->id);
    cr_assert_eq(last_to, (int)t->state,
                 "task '%s': last history entry to %d, state %d", t->id,
                 last_to, (int)t->state);
    rep.tasks++;
    rep.by_state[t->state]++;
    proto_msg_fini(&m);
  }
  cr_assert_eq(rc, MDB_NOTFOUND, "tasks cursor: %s", mdb_strerror(rc));

  /* Every index key: points to a task whose fields make that key. */
  for (int i = 0; i < 3; i++) {
    MDB_cursor *ic;
    MDB_stat st;
    RAW_OK(mdb_stat(txn, idx[i], &st));
    cr_assert_eq(st.ms_entries, rep.tasks, "%s has %zu keys for %zu tasks",
                 names[i], (size_t)st.ms_entries, rep.tasks);
    RAW_OK(mdb_cursor_open(txn, idx[i], &ic));
    for (rc = mdb_cursor_get(ic, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(ic, &k, &v, MDB_NEXT))
      raw_check_index_entry(txn, tasks, i, &k);
    cr_assert_eq(rc, MDB_NOTFOUND);
    mdb_cursor_close(ic);
  }
  MDB_stat hs;
  RAW_OK(mdb_stat(txn, hist, &hs));
  rep.history = hs.ms_entries;
  mdb_cursor_close(hc);
  mdb_cursor_close(c);
  mdb_txn_abort(txn);
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
