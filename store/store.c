/*
 * store.c: the LMDB data layer behind store.h.
 *
 * Design: every record is a protocol message in msgpack (one format for
 * actors, disk and clients). Secondary indexes are keys with empty values,
 * maintained in the same write transaction as the record, so they are
 * never out of step after a crash. The ranked index sorts by state, then by
 * score descending (the score is mapped to an order-preserving u64 and
 * inverted), then by id. History and events are append-only, keyed by a
 * big-endian sequence number (sequential keys are ~20x cheaper to write in
 * LMDB than random ones, see FACTS.md).
 *
 * Schema versions: 1 had tasks, idx_state, idx_repo, history, events and
 * meta; 2 adds idx_kind, findings, repos, audit and gh_cache. Opening a
 * version-1 store read-write migrates it in one transaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

enum dbi_index {
  DB_META, DB_REPOS, DB_FINDINGS, DB_TASKS, DB_IDX_STATE, DB_IDX_REPO,
  DB_IDX_KIND, DB_HISTORY, DB_EVENTS, DB_AUDIT, DB_GH_CACHE, DB_COUNT
};

static const char *const dbi_names[DB_COUNT] = {
    "meta", "repos", "findings", "tasks", "idx_state", "idx_repo",
    "idx_kind", "history", "events", "audit", "gh_cache"};

/* Which schema version introduced each database. */
static const unsigned dbi_since[DB_COUNT] = {1, 2, 2, 1, 1, 1, 2, 1, 1, 2, 2};

#define STORE_MAGIC "ccm-store"
#define KEY_VERSION "schema_version"
#define KEY_MAGIC "magic"
#define KEY_HIST_SEQ "history_seq"
#define DEFAULT_MAP (64u << 20)
#define DEFAULT_RETENTION 100000u
#define LMDB_MAGIC 0xBEEFC0DEu

struct store {
  MDB_env *env;
  /* Growing the map remaps it: no transaction of this process may be open
   * then (LMDB's rule). Every transaction holds this lock shared and
   * store_grow() (or adopting another process's larger map) holds it
   * exclusive, so readers on other threads (the daemon's REST handlers)
   * never see the map move under them. The lock prefers the grower (a
   * stream of overlapping readers must not starve the writer); a thread
   * that already holds it shared (a read inside a foreach callback) does
   * not take it again (map_lock_shared), so nesting cannot deadlock. */
  pthread_rwlock_t map_lock;
  MDB_dbi dbi[DB_COUNT];
  store_options_t opt;
  unsigned schema_found;
};

struct store_txn {
  store_t *s;
  MDB_txn *txn;
  msgpack_sbuffer buf;  /* the record being written */
  msgpack_sbuffer hbuf; /* the history entry that goes with it */
};

const char *store_strerror(int rc)
{
  switch (rc) {
#define STORE_ERR_CASE(name, code, text) \
  case STORE_##name:                     \
    return "STORE_" #name ": " text;
    STORE_ERRNO_MAP(STORE_ERR_CASE)
#undef STORE_ERR_CASE
  default:
    return mdb_strerror(rc < 0 && rc > -4096 ? -rc : rc);
  }
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
}

/* ------------------------------------------------------------ key codecs */

static void put_be64(unsigned char *p, uint64_t v)
{
  for (int i = 7; i >= 0; i--) {
    p[i] = (unsigned char)(v & 0xff);
    v >>= 8;
  }
}

static uint64_t get_be64(const unsigned char *p)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  return v;
}

/* Map a double to a u64 whose unsigned order is the number order. */
static uint64_t score_order(double d)
{
  uint64_t bits;
  memcpy(&bits, &d, sizeof(bits));
  return (bits & 0x8000000000000000ull) ? ~bits : bits | 0x8000000000000000ull;
}

typedef struct keybuf {
  unsigned char b[PROTO_MAX_STR * 2 + 16];
  size_t len;
} keybuf_t;

static int key_state(keybuf_t *k, const proto_task_t *t)
{
  size_t idlen = strlen(t->id);
  if (idlen > PROTO_MAX_STR)
    return STORE_EINVAL;
  k->b[0] = (unsigned char)t->state;
  put_be64(k->b + 1, ~score_order(t->score.total));
  memcpy(k->b + 9, t->id, idlen);
  k->len = 9 + idlen;
  return 0;
}

/* prefix | 0 | id */
static int key_pair(keybuf_t *k, const char *prefix, const char *id)
{
  size_t a = strlen(prefix), b = strlen(id);
  if (a > PROTO_MAX_STR || b > PROTO_MAX_STR)
    return STORE_EINVAL;
  memcpy(k->b, prefix, a);
  k->b[a] = 0;
  memcpy(k->b + a + 1, id, b);
  k->len = a + 1 + b;
  return 0;
}

static MDB_val val_of(const void *p, size_t n)
{
  MDB_val v = {.mv_size = n, .mv_data = (void *)p};
  return v;
}

static MDB_val key_val(const keybuf_t *k) { return val_of(k->b, k->len); }
static MDB_val str_val(const char *s) { return val_of(s, strlen(s)); }

/* ------------------------------------------------------------------ open */

/* Refuse a file that exists and is not LMDB, without touching it. */
static int check_foreign_file(const char *path)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : -errno;
  unsigned char head[32];
  ssize_t n = read(fd, head, sizeof(head));
  close(fd);
  if (n == 0)
    return 0;
  uint32_t magic = 0;
  if (n >= 20)
    memcpy(&magic, head + 16, sizeof(magic)); /* page header, then mm_magic */
  return magic == LMDB_MAGIC ? 0 : STORE_ENOTSTORE;
}

static int env_create(store_t *s, const char *path)
{
  int rc = mdb_env_create(&s->env);
  if (!rc)
    rc = mdb_env_set_maxdbs(s->env, DB_COUNT + 4);
  if (!rc)
    rc = mdb_env_set_mapsize(s->env, s->opt.map_size);
  if (rc)
    return rc;
  unsigned flags = MDB_NOSUBDIR | MDB_NOTLS;
  if (s->opt.read_only)
    flags |= MDB_RDONLY;
  if (s->opt.no_sync)
    flags |= MDB_NOSYNC;
  rc = mdb_env_open(s->env, path, flags, 0640);
  return rc == MDB_INVALID ? STORE_ENOTSTORE : rc;
}

/* Which stores this thread holds shared, and how deeply (a few suffice:
 * a thread rarely reads more than one store at once; beyond four, nesting
 * is not detected and a nested read could wait for a pending grow). */
typedef struct lock_slot {
  const store_t *s;
  unsigned depth;
} lock_slot_t;
static _Thread_local lock_slot_t tl_slots[4];

static lock_slot_t *lock_slot(const store_t *s)
{
  for (size_t i = 0; i < sizeof(tl_slots) / sizeof(tl_slots[0]); i++)
    if (tl_slots[i].s == s)
      return &tl_slots[i];
  return NULL;
}

static bool map_held(const store_t *s)
{
  lock_slot_t *sl = lock_slot(s);
  return sl && sl->depth;
}

static void map_lock_shared(store_t *s)
{
  lock_slot_t *sl = lock_slot(s);
  if (sl && sl->depth) {
    sl->depth++;
    return;
  }
  pthread_rwlock_rdlock(&s->map_lock);
  if (!sl)
    sl = lock_slot(NULL);
  if (sl)
    *sl = (lock_slot_t){.s = s, .depth = 1};
}

static void map_unlock_shared(store_t *s)
{
  lock_slot_t *sl = lock_slot(s);
  if (sl && --sl->depth)
    return;
  if (sl)
    sl->s = NULL;
  pthread_rwlock_unlock(&s->map_lock);
}

static int read_begin(store_t *s, MDB_txn **txn)
{
  map_lock_shared(s);
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
  if (rc == MDB_MAP_RESIZED && lock_slot(s) && lock_slot(s)->depth == 1) {
    /* Another process grew the map: adopt its size (alone) and retry.
     * (Not from a nested read: the outer transaction pins the map.) */
    map_unlock_shared(s);
    pthread_rwlock_wrlock(&s->map_lock);
    rc = mdb_env_set_mapsize(s->env, 0);
    pthread_rwlock_unlock(&s->map_lock);
    map_lock_shared(s);
    if (!rc)
      rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
  }
  if (rc)
    map_unlock_shared(s);
  return rc;
}

static void read_end(store_t *s, MDB_txn *txn)
{
  mdb_txn_abort(txn);
  map_unlock_shared(s);
}

static int meta_get_u32(MDB_txn *txn, MDB_dbi meta, const char *key,
                        uint32_t *out)
{
  MDB_val k = str_val(key), v;
  int rc = mdb_get(txn, meta, &k, &v);
  if (rc)
    return rc;
  if (v.mv_size != sizeof(*out))
    return STORE_ENOTSTORE;
  memcpy(out, v.mv_data, sizeof(*out));
  return 0;
}

/* Which schema is on disk: 0 = empty environment (new store). */
static int probe_schema(store_t *s, unsigned *version)
{
  MDB_txn *txn;
  int rc = read_begin(s, &txn);
  if (rc)
    return rc;
  *version = 0;
  MDB_dbi main_db, meta;
  MDB_stat st;
  rc = mdb_dbi_open(txn, NULL, 0, &main_db);
  if (!rc)
    rc = mdb_stat(txn, main_db, &st);
  if (!rc && st.ms_entries > 0) {
    rc = mdb_dbi_open(txn, "meta", 0, &meta);
    if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
      rc = STORE_ENOTSTORE;
    } else if (!rc) {
      MDB_val k = str_val(KEY_MAGIC), v;
      uint32_t ver = 0;
      if (mdb_get(txn, meta, &k, &v) || v.mv_size != strlen(STORE_MAGIC) ||
          memcmp(v.mv_data, STORE_MAGIC, v.mv_size))
        rc = STORE_ENOTSTORE;
      else if (meta_get_u32(txn, meta, KEY_VERSION, &ver))
        rc = STORE_ENOTSTORE;
      *version = ver;
    }
  }
  read_end(s, txn);
  return rc;
}

static int open_dbis(store_t *s, MDB_txn *txn, unsigned version, bool create)
{
  for (int i = 0; i < DB_COUNT; i++) {
    if (dbi_since[i] > version)
      continue;
    int rc = mdb_dbi_open(txn, dbi_names[i], create ? MDB_CREATE : 0,
                          &s->dbi[i]);
    if (rc)
      return rc;
  }
  return 0;
}

static int meta_put_u32(MDB_txn *txn, MDB_dbi meta, const char *key,
                        uint32_t v)
{
  MDB_val k = str_val(key), d = val_of(&v, sizeof(v));
  return mdb_put(txn, meta, &k, &d, 0);
}

static int create_schema(store_t *s)
{
  MDB_txn *txn;
  int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (rc)
    return rc;
  rc = open_dbis(s, txn, STORE_SCHEMA_VERSION, true);
  MDB_val k = str_val(KEY_MAGIC), v = str_val(STORE_MAGIC);
  if (!rc)
    rc = mdb_put(txn, s->dbi[DB_META], &k, &v, 0);
  if (!rc)
    rc = meta_put_u32(txn, s->dbi[DB_META], KEY_VERSION, STORE_SCHEMA_VERSION);
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return mdb_txn_commit(txn);
}

static int decode_task(const MDB_val *v, proto_task_t *out)
{
  proto_msg_t m;
  if (proto_msgpack_decode(v->mv_data, v->mv_size, &m, NULL, 0) != 0 ||
      m.type != PROTO_TASK) {
    proto_msg_fini(&m);
    memset(out, 0, sizeof(*out));
    return STORE_ECORRUPT;
  }
  *out = m.u.task;
  return 0;
}

static int put_kind_index(MDB_txn *txn, MDB_dbi dbi, const proto_task_t *t)
{
  keybuf_t k;
  int rc = key_pair(&k, t->kind, t->id);
  MDB_val kv = key_val(&k), empty = val_of("", 0);
  return rc ? rc : mdb_put(txn, dbi, &kv, &empty, 0);
}

/* Version 1 kept no history counter in meta: continue after the largest
 * seq on disk, so new entries neither overwrite old ones nor sort before
 * them. */
static int restore_history_seq(store_t *s, MDB_txn *txn)
{
  MDB_val mk = str_val(KEY_HIST_SEQ), mv, k, v;
  int rc = mdb_get(txn, s->dbi[DB_META], &mk, &mv);
  if (rc != MDB_NOTFOUND)
    return rc;
  uint64_t max = 0;
  MDB_cursor *c;
  rc = mdb_cursor_open(txn, s->dbi[DB_HISTORY], &c);
  int op = MDB_FIRST;
  while (!rc && (rc = mdb_cursor_get(c, &k, &v, (MDB_cursor_op)op)) == 0) {
    op = MDB_NEXT;
    if (k.mv_size > 8) {
      uint64_t seq = get_be64((const unsigned char *)k.mv_data + k.mv_size - 8);
      if (seq > max)
        max = seq;
    }
  }
  if (rc == MDB_NOTFOUND)
    rc = 0;
  mdb_cursor_close(c);
  mv = val_of(&max, sizeof(max));
  return rc ? rc : mdb_put(txn, s->dbi[DB_META], &mk, &mv, 0);
}

/* Version 1 -> 2: new databases, idx_kind built from every task, and the
 * history counter restored. */
static int migrate_1_to_2(store_t *s, MDB_txn *txn)
{
  int rc = open_dbis(s, txn, 2, true);
  MDB_cursor *c = NULL;
  if (!rc)
    rc = mdb_cursor_open(txn, s->dbi[DB_TASKS], &c);
  MDB_val k, v;
  int op = MDB_FIRST;
  while (!rc && (rc = mdb_cursor_get(c, &k, &v, (MDB_cursor_op)op)) == 0) {
    op = MDB_NEXT;
    proto_task_t t;
    rc = decode_task(&v, &t);
    if (!rc)
      rc = put_kind_index(txn, s->dbi[DB_IDX_KIND], &t);
    store_task_free(&t);
  }
  if (rc == MDB_NOTFOUND)
    rc = 0;
  mdb_cursor_close(c);
  if (!rc)
    rc = restore_history_seq(s, txn);
  return rc;
}

static int migrate(store_t *s, unsigned from)
{
  MDB_txn *txn;
  int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (rc)
    return rc;
  rc = open_dbis(s, txn, from, false);
  if (!rc && from < 2)
    rc = migrate_1_to_2(s, txn);
  if (!rc)
    rc = meta_put_u32(txn, s->dbi[DB_META], KEY_VERSION, STORE_SCHEMA_VERSION);
  if (rc) {
    mdb_txn_abort(txn); /* all or nothing: the old store is untouched */
    return rc;
  }
  return mdb_txn_commit(txn);
}

static int open_existing(store_t *s)
{
  MDB_txn *txn;
  int rc = read_begin(s, &txn);
  if (rc)
    return rc;
  rc = open_dbis(s, txn, STORE_SCHEMA_VERSION, false);
  if (rc) {
    read_end(s, txn);
    return rc;
  }
  /* Handles opened in a read transaction stay valid after its commit. */
  rc = mdb_txn_commit(txn);
  map_unlock_shared(s);
  return rc;
}

static int check_and_prepare(store_t *s, char *err, size_t errlen)
{
  unsigned v = 0;
  int rc = probe_schema(s, &v);
  s->schema_found = v;
  if (rc == STORE_ENOTSTORE)
    set_err(err, errlen, "%s%s: not a ccm store (foreign LMDB file); refusing "
            "to touch it", "", "");
  if (rc)
    return rc;
  if (v > STORE_SCHEMA_VERSION) {
    char found[32];
    snprintf(found, sizeof(found), "%u", v);
    set_err(err, errlen, "schema version %s is newer than this ccm's (%s); "
            "upgrade ccm", found, "2");
    return STORE_ENEWER;
  }
  if (v == 0)
    return s->opt.read_only ? STORE_ENOTFOUND : create_schema(s);
  if (v < STORE_SCHEMA_VERSION) {
    if (s->opt.read_only) {
      set_err(err, errlen, "%s%sstore needs a migration: run ccm serve once",
              "", "");
      return STORE_EMIGRATE;
    }
    rc = migrate(s, v);
    if (rc)
      return rc;
  }
  return open_existing(s);
}

int store_open(const char *dir, const store_options_t *opt, store_t **out,
               char *err, size_t errlen)
{
  *out = NULL;
  if (err && errlen)
    err[0] = '\0';
  char path[4096];
  if (!dir || snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE) >=
                  (int)sizeof(path))
    return STORE_EINVAL;
  store_t *s = calloc(1, sizeof(*s));
  if (!s)
    return STORE_ENOMEM;
  pthread_rwlockattr_t la;
  pthread_rwlockattr_init(&la);
  pthread_rwlockattr_setkind_np(&la,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  int lrc = pthread_rwlock_init(&s->map_lock, &la);
  pthread_rwlockattr_destroy(&la);
  if (lrc != 0) {
    free(s);
    return STORE_ENOMEM;
  }
  if (opt)
    s->opt = *opt;
  if (!s->opt.map_size)
    s->opt.map_size = DEFAULT_MAP;
  if (!s->opt.event_retention)
    s->opt.event_retention = DEFAULT_RETENTION;
  int rc = check_foreign_file(path);
  if (rc == STORE_ENOTSTORE)
    set_err(err, errlen, "%s: not an LMDB file%s; refusing to touch it", path,
            "");
  if (!rc && !s->opt.read_only && mkdir(dir, 0750) < 0 && errno != EEXIST)
    rc = -errno;
  if (!rc) {
    struct stat st;
    if (s->opt.read_only && stat(path, &st) < 0) {
      set_err(err, errlen, "no store at %s (%s)", path, strerror(errno));
      rc = STORE_ENOTFOUND;
    }
  }
  if (!rc)
    rc = env_create(s, path);
  if (!rc)
    rc = check_and_prepare(s, err, errlen);
  if (rc) {
    if (err && errlen && !err[0])
      set_err(err, errlen, "%s: %s", path, store_strerror(rc));
    store_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

void store_close(store_t *s)
{
  if (!s)
    return;
  if (s->env)
    mdb_env_close(s->env);
  pthread_rwlock_destroy(&s->map_lock);
  free(s);
}

unsigned store_schema_found(const store_t *s) { return s->schema_found; }

int store_grow(store_t *s)
{
  MDB_envinfo info;
  if (map_held(s))
    return STORE_EINVAL; /* our own transaction pins the map */
  pthread_rwlock_wrlock(&s->map_lock); /* waits for this process's txns */
  int rc = mdb_env_info(s->env, &info);
  if (!rc)
    rc = mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
  pthread_rwlock_unlock(&s->map_lock);
  return rc;
}

/* ---------------------------------------------------------------- writes */

int store_write_begin(store_t *s, store_txn_t **out)
{
  *out = NULL;
  if (s->opt.read_only)
    return STORE_EREADONLY;
  store_txn_t *t = calloc(1, sizeof(*t));
  if (!t)
    return STORE_ENOMEM;
  map_lock_shared(s); /* held until commit or abort */
  int rc = mdb_txn_begin(s->env, NULL, 0, &t->txn);
  if (rc) {
    map_unlock_shared(s);
    free(t);
    return rc;
  }
  t->s = s;
  msgpack_sbuffer_init(&t->buf);
  msgpack_sbuffer_init(&t->hbuf);
  *out = t;
  return 0;
}

static void txn_free(store_txn_t *t)
{
  map_unlock_shared(t->s);
  msgpack_sbuffer_destroy(&t->buf);
  msgpack_sbuffer_destroy(&t->hbuf);
  free(t);
}

int store_write_commit(store_txn_t *t)
{
  int rc = mdb_txn_commit(t->txn);
  txn_free(t);
  return rc;
}

void store_write_abort(store_txn_t *t)
{
  if (!t)
    return;
  mdb_txn_abort(t->txn);
  txn_free(t);
}

/* Encode a message into the transaction's scratch buffer. */
static int encode(store_txn_t *t, const proto_msg_t *m, MDB_val *out)
{
  msgpack_sbuffer_clear(&t->buf);
  int rc = proto_msgpack_encode(m, &t->buf);
  if (rc)
    return rc;
  *out = val_of(t->buf.data, t->buf.size);
  return 0;
}

static int index_op(store_txn_t *t, const proto_task_t *task, bool add)
{
  keybuf_t k;
  MDB_val empty = val_of("", 0), kv;
  struct {
    int db;
    const char *prefix;
  } pairs[] = {{DB_IDX_REPO, task->repo}, {DB_IDX_KIND, task->kind}};
  int rc = key_state(&k, task);
  for (size_t i = 0; !rc && i <= 2; i++) {
    int db = DB_IDX_STATE;
    if (i > 0) {
      db = pairs[i - 1].db;
      rc = key_pair(&k, pairs[i - 1].prefix, task->id);
    }
    kv = key_val(&k);
    if (!rc)
      rc = add ? mdb_put(t->txn, t->s->dbi[db], &kv, &empty, 0)
               : mdb_del(t->txn, t->s->dbi[db], &kv, NULL);
    if (rc == MDB_NOTFOUND && !add)
      rc = 0; /* an index entry already gone is what we wanted */
  }
  return rc;
}

/*
 * History entries. A transition is a TASK_UPDATE. A task's creation is not
 * a transition (the protocol refuses an update from a state to itself, and
 * a task may be created in a state that "new" cannot reach), so it is an
 * EVENT with topic HIST_CREATED and data {"task_id", "state", "actor",
 * "reason", "at"}; store_history_foreach() reports it as an update from
 * "new" to the initial state. Each entry is encoded (and so validated)
 * before anything is written: a write that fails validation changes
 * nothing, also inside a shared transaction.
 */
#define HIST_CREATED "task.created"

static int history_encode(store_txn_t *t, const char *id, bool created,
                          proto_state_t from, proto_state_t to,
                          const char *actor, const char *reason, int64_t at)
{
  proto_msg_t m;
  json_t *data = NULL;
  if (created) {
    data = json_pack("{s:s, s:s, s:I}", "task_id", id, "state",
                     proto_state_name(to), "at", (json_int_t)at);
    if (data && actor)
      json_object_set_new(data, "actor", json_string(actor));
    if (data && reason)
      json_object_set_new(data, "reason", json_string(reason));
    if (!data)
      return STORE_ENOMEM;
    m = (proto_msg_t){.type = PROTO_EVENT};
    m.u.event = (proto_event_t){.seq = 1, .topic = HIST_CREATED, .data = data};
  } else {
    m = (proto_msg_t){.type = PROTO_TASK_UPDATE};
    m.u.task_update = (proto_task_update_t){
        .task_id = (char *)id, .from = from, .to = to,
        .reason = (char *)reason, .actor = (char *)actor, .at = at};
  }
  msgpack_sbuffer_clear(&t->hbuf);
  int rc = proto_msgpack_encode(&m, &t->hbuf);
  json_decref(data);
  return rc;
}

/* Append the entry history_encode() prepared, under the next seq (one
 * counter for all tasks, kept in meta). */
static int history_put(store_txn_t *t, const char *id)
{
  uint64_t seq = 0;
  MDB_val mk = str_val(KEY_HIST_SEQ), mv;
  if (mdb_get(t->txn, t->s->dbi[DB_META], &mk, &mv) == 0 &&
      mv.mv_size == sizeof(seq))
    memcpy(&seq, mv.mv_data, sizeof(seq));
  seq++;
  MDB_val sv = val_of(&seq, sizeof(seq));
  int rc = mdb_put(t->txn, t->s->dbi[DB_META], &mk, &sv, 0);
  keybuf_t k;
  if (!rc)
    rc = key_pair(&k, id, "");
  if (rc)
    return rc;
  put_be64(k.b + k.len, seq);
  k.len += 8;
  MDB_val kv = key_val(&k), v = val_of(t->hbuf.data, t->hbuf.size);
  return mdb_put(t->txn, t->s->dbi[DB_HISTORY], &kv, &v, 0);
}

/* Replace @p old (NULL when new) by @p nt: record and indexes. */
static int task_write(store_txn_t *t, const proto_task_t *old,
                      const proto_task_t *nt)
{
  proto_msg_t m = {.type = PROTO_TASK};
  m.u.task = *nt;
  MDB_val k = str_val(nt->id), v;
  /* Encode first: a task that does not validate changes nothing. */
  int rc = encode(t, &m, &v);
  if (!rc && old)
    rc = index_op(t, old, false);
  if (!rc)
    rc = mdb_put(t->txn, t->s->dbi[DB_TASKS], &k, &v, 0);
  if (!rc)
    rc = index_op(t, nt, true);
  return rc;
}

static int task_load(MDB_txn *txn, MDB_dbi dbi, const char *id,
                     proto_task_t *out)
{
  MDB_val k = str_val(id), v;
  memset(out, 0, sizeof(*out)); /* callers free it whatever happened */
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND)
    return STORE_ENOTFOUND;
  return rc ? rc : decode_task(&v, out);
}

int store_task_put(store_txn_t *t, const proto_task_t *task,
                   const char *actor, const char *reason)
{
  if (!task || !task->id || !task->repo || !task->kind || !task->id[0])
    return STORE_EINVAL;
  proto_task_t old;
  int rc = task_load(t->txn, t->s->dbi[DB_TASKS], task->id, &old);
  if (rc && rc != STORE_ENOTFOUND)
    return rc;
  bool exists = rc == 0;
  rc = 0;
  proto_task_t nt = *task; /* shallow: only scalar fields change */
  if (exists) {
    if (old.state != task->state &&
        !proto_state_transition_ok(old.state, task->state))
      rc = STORE_ETRANSITION;
    nt.first_seen = old.first_seen ? old.first_seen : task->first_seen;
  }
  bool record = !exists || old.state != task->state;
  if (!rc && record)
    rc = history_encode(t, task->id, !exists,
                        exists ? old.state : PROTO_STATE_NEW, task->state,
                        actor, exists ? reason : "created", task->updated_at);
  if (!rc)
    rc = task_write(t, exists ? &old : NULL, &nt);
  if (!rc && record)
    rc = history_put(t, task->id);
  if (exists)
    store_task_free(&old);
  return rc;
}

int store_task_transition(store_txn_t *t, const char *id, proto_state_t to,
                          const char *actor, const char *reason, int64_t at)
{
  if (!id)
    return STORE_EINVAL;
  proto_task_t old;
  int rc = task_load(t->txn, t->s->dbi[DB_TASKS], id, &old);
  if (rc)
    return rc;
  if (!proto_state_transition_ok(old.state, to))
    rc = STORE_ETRANSITION;
  proto_task_t nt = old;
  nt.state = to;
  nt.updated_at = at;
  if (!rc)
    rc = history_encode(t, id, false, old.state, to, actor, reason, at);
  if (!rc)
    rc = task_write(t, &old, &nt);
  if (!rc)
    rc = history_put(t, id);
  store_task_free(&old);
  return rc;
}

static int last_seq(MDB_txn *txn, MDB_dbi dbi, uint64_t *seq)
{
  MDB_cursor *c;
  MDB_val k, v;
  *seq = 0;
  int rc = mdb_cursor_open(txn, dbi, &c);
  if (rc)
    return rc;
  rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
  if (!rc && k.mv_size == 8)
    *seq = get_be64(k.mv_data);
  mdb_cursor_close(c);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

static int trim_events(store_txn_t *t, uint64_t keep_after)
{
  MDB_cursor *c;
  MDB_val k, v;
  int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_EVENTS], &c);
  while (!rc && (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0 &&
         k.mv_size == 8 && get_be64(k.mv_data) <= keep_after)
    rc = mdb_cursor_del(c, 0);
  if (!rc || rc == MDB_NOTFOUND)
    rc = 0;
  mdb_cursor_close(c);
  return rc;
}

int store_event_append(store_txn_t *t, const char *topic, const json_t *data,
                       int64_t ts, uint64_t *seq_out)
{
  uint64_t seq;
  if (seq_out)
    *seq_out = 0;
  if (!topic)
    return STORE_EINVAL;
  int rc = last_seq(t->txn, t->s->dbi[DB_EVENTS], &seq);
  if (rc)
    return rc;
  seq++;
  proto_msg_t m = {.type = PROTO_EVENT};
  m.u.event = (proto_event_t){.seq = seq, .topic = (char *)topic, .ts = ts,
                              .data = (json_t *)data};
  unsigned char kb[8];
  put_be64(kb, seq);
  MDB_val k = val_of(kb, 8), v;
  rc = encode(t, &m, &v);
  if (!rc)
    rc = mdb_put(t->txn, t->s->dbi[DB_EVENTS], &k, &v, MDB_APPEND);
  if (!rc && seq > t->s->opt.event_retention)
    rc = trim_events(t, seq - t->s->opt.event_retention);
  if (!rc && seq_out)
    *seq_out = seq;
  return rc;
}

/* ----------------------------------------------------------------- reads */

void store_task_free(proto_task_t *t)
{
  proto_msg_t m = {.type = PROTO_TASK};
  m.u.task = *t;
  proto_msg_fini(&m);
  memset(t, 0, sizeof(*t));
}

int store_task_get(store_t *s, const char *id, proto_task_t *out)
{
  memset(out, 0, sizeof(*out));
  if (!id)
    return STORE_EINVAL;
  MDB_txn *txn;
  int rc = read_begin(s, &txn);
  if (rc)
    return rc;
  rc = task_load(txn, s->dbi[DB_TASKS], id, out);
  read_end(s, txn);
  return rc;
}

static bool task_matches(const proto_task_t *t, const store_filter_t *f)
{
  if (f->state >= 0 && (int)t->state != f->state)
    return false;
  if (f->repo && strcmp(t->repo, f->repo) != 0)
    return false;
  return !f->kind || strcmp(t->kind, f->kind) == 0;
}

typedef struct scan_ctx {
  MDB_txn *txn;
  store_t *s;
  const store_filter_t *f;
  int (*fn)(const proto_task_t *, void *);
  void *arg;
  size_t id_offset; /* where the task id starts in an index key */
  int corrupt;
} scan_ctx_t;

/* Walk index keys starting with @p prefix; returns non-zero to stop. */
static int scan_prefix(scan_ctx_t *sc, int db, const void *prefix,
                       size_t plen)
{
  MDB_cursor *c;
  int rc = mdb_cursor_open(sc->txn, sc->s->dbi[db], &c);
  MDB_val k = val_of(prefix, plen), v;
  int stop = 0;
  if (!rc)
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  while (!rc && !stop && k.mv_size >= plen &&
         memcmp(k.mv_data, prefix, plen) == 0) {
    size_t off = sc->id_offset ? sc->id_offset : plen;
    char id[PROTO_MAX_STR + 1];
    size_t n = k.mv_size - off;
    if (n <= PROTO_MAX_STR) {
      memcpy(id, (char *)k.mv_data + off, n);
      id[n] = '\0';
      proto_task_t t;
      int r = task_load(sc->txn, sc->s->dbi[DB_TASKS], id, &t);
      if (r)
        sc->corrupt = STORE_ECORRUPT;
      else if (task_matches(&t, sc->f))
        stop = sc->fn(&t, sc->arg);
      store_task_free(&t);
    }
    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(c);
  return stop ? 1 : (rc == MDB_NOTFOUND ? 0 : rc);
}

static int scan_states(scan_ctx_t *sc)
{
  sc->id_offset = 9;
  for (int st = 0; st < PROTO_STATE_COUNT; st++) {
    if (sc->f->state >= 0 && st != sc->f->state)
      continue;
    unsigned char p = (unsigned char)st;
    int rc = scan_prefix(sc, DB_IDX_STATE, &p, 1);
    if (rc)
      return rc;
  }
  return 0;
}

int store_task_foreach(store_t *s, const store_filter_t *f,
                       int (*fn)(const proto_task_t *t, void *arg), void *arg)
{
  store_filter_t any = {.state = -1};
  scan_ctx_t sc = {.s = s, .f = f ? f : &any, .fn = fn, .arg = arg};
  int rc = read_begin(s, &sc.txn);
  if (rc)
    return rc;
  keybuf_t k;
  if (sc.f->state < 0 && (sc.f->repo || sc.f->kind)) {
    /* No state given: walk the smaller, exact index instead of all. */
    int db = sc.f->repo ? DB_IDX_REPO : DB_IDX_KIND;
    rc = key_pair(&k, sc.f->repo ? sc.f->repo : sc.f->kind, "");
    if (!rc)
      rc = scan_prefix(&sc, db, k.b, k.len);
  } else {
    rc = scan_states(&sc);
  }
  read_end(s, sc.txn);
  if (rc == 1)
    rc = 0; /* stopped by the callback */
  return rc ? rc : sc.corrupt;
}

/* A history entry as an update (see history_encode): *u borrows from *m. */
static int history_decode(const MDB_val *v, const char *id, proto_msg_t *m,
                          proto_task_update_t *u)
{
  if (proto_msgpack_decode(v->mv_data, v->mv_size, m, NULL, 0) != 0)
    return STORE_ECORRUPT;
  if (m->type == PROTO_TASK_UPDATE) {
    *u = m->u.task_update;
    return 0;
  }
  if (m->type != PROTO_EVENT || strcmp(m->u.event.topic, HIST_CREATED) != 0)
    return STORE_ECORRUPT;
  json_t *d = m->u.event.data;
  const char *state = json_string_value(json_object_get(d, "state"));
  int to = state ? proto_state_from_name(state) : -1;
  if (to < 0)
    return STORE_ECORRUPT;
  *u = (proto_task_update_t){
      .task_id = (char *)id,
      .from = PROTO_STATE_NEW,
      .to = (proto_state_t)to,
      .actor = (char *)json_string_value(json_object_get(d, "actor")),
      .reason = (char *)json_string_value(json_object_get(d, "reason")),
      .at = json_integer_value(json_object_get(d, "at"))};
  return 0;
}

int store_history_foreach(store_t *s, const char *id,
                          int (*fn)(const proto_task_update_t *u, void *arg),
                          void *arg)
{
  keybuf_t k;
  MDB_txn *txn;
  int rc = id ? key_pair(&k, id, "") : STORE_EINVAL;
  if (!rc)
    rc = read_begin(s, &txn);
  if (rc)
    return rc;
  MDB_cursor *c;
  MDB_val kv = key_val(&k), v;
  size_t plen = k.len;
  rc = mdb_cursor_open(txn, s->dbi[DB_HISTORY], &c);
  if (!rc)
    rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE);
  int stop = 0, corrupt = 0;
  while (!rc && !stop && kv.mv_size == plen + 8 &&
         memcmp(kv.mv_data, k.b, plen) == 0) {
    proto_msg_t m;
    proto_task_update_t u;
    if (history_decode(&v, id, &m, &u) == 0)
      stop = fn(&u, arg);
    else
      corrupt = STORE_ECORRUPT;
    proto_msg_fini(&m);
    rc = mdb_cursor_get(c, &kv, &v, MDB_NEXT);
  }
  mdb_cursor_close(c);
  read_end(s, txn);
  return (rc && rc != MDB_NOTFOUND) ? rc : corrupt;
}

int store_event_foreach(store_t *s, uint64_t after,
                        int (*fn)(const proto_event_t *e, void *arg), void *arg)
{
  MDB_txn *txn;
  if (after == UINT64_MAX)
    return 0; /* nothing can come after the last seq */
  int rc = read_begin(s, &txn);
  if (rc)
    return rc;
  unsigned char kb[8];
  put_be64(kb, after + 1);
  MDB_cursor *c;
  MDB_val k = val_of(kb, 8), v;
  rc = mdb_cursor_open(txn, s->dbi[DB_EVENTS], &c);
  if (!rc)
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  int stop = 0, corrupt = 0;
  while (!rc && !stop) {
    proto_msg_t m;
    if (proto_msgpack_decode(v.mv_data, v.mv_size, &m, NULL, 0) == 0 &&
        m.type == PROTO_EVENT)
      stop = fn(&m.u.event, arg);
    else
      corrupt = STORE_ECORRUPT;
    proto_msg_fini(&m);
    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(c);
  read_end(s, txn);
  return (rc && rc != MDB_NOTFOUND) ? rc : corrupt;
}

int store_stats(store_t *s, store_stats_t *out)
{
  memset(out, 0, sizeof(*out));
  MDB_txn *txn;
  int rc = read_begin(s, &txn);
  if (rc)
    return rc;
  MDB_stat st;
  if (mdb_stat(txn, s->dbi[DB_TASKS], &st) == 0)
    out->tasks = st.ms_entries;
  if (mdb_stat(txn, s->dbi[DB_EVENTS], &st) == 0)
    out->events = st.ms_entries;
  last_seq(txn, s->dbi[DB_EVENTS], &out->last_seq);
  MDB_cursor *c;
  MDB_val k, v;
  rc = mdb_cursor_open(txn, s->dbi[DB_IDX_STATE], &c);
  int op = MDB_FIRST;
  while (!rc && (rc = mdb_cursor_get(c, &k, &v, (MDB_cursor_op)op)) == 0) {
    op = MDB_NEXT;
    unsigned st_i = ((unsigned char *)k.mv_data)[0];
    if (st_i < PROTO_STATE_COUNT)
      out->by_state[st_i]++;
  }
  if (!rc || rc == MDB_NOTFOUND)
    rc = 0;
  mdb_cursor_close(c);
  MDB_envinfo info;
  if (mdb_env_info(s->env, &info) == 0)
    out->map_size = info.me_mapsize;
  read_end(s, txn);
  return rc;
}
