/*
 * store.c: the LMDB data layer behind store.h: the environment, the schema
 * check (migrations in store_migrate.c), transactions, map growth, events,
 * stats and the GitHub cache. Tasks live in store_task.c.
 *
 * Design: every record is a protocol message in msgpack (one format for
 * actors, disk and clients). Secondary indexes are keys with empty values,
 * maintained in the same write transaction as the record, so they are
 * never out of step after a crash. Events are append-only, keyed by a
 * big-endian sequence number (sequential keys are ~20x cheaper to write in
 * LMDB than random ones, see FACTS.md).
 *
 * Schema versions: 1 had tasks, idx_state, idx_repo, history, events and
 * meta; 2 added idx_kind, findings, repos, audit and gh_cache; 3 keys tasks
 * by a sequential row id (store_task.c); 4 added files, gh_deliveries and
 * kv; 5 packs fingerprint ids in task_ids and stores creations compactly.
 * Opening an older store read-write migrates it in one transaction.
 *
 * Durability: LMDB runs without syncs and every commit goes through the
 * write-ahead journal (store_journal.c), which also recovers the store
 * after a crash, before anything else reads it.
 *
 * Reads: a read transaction, once ended, is reset into a small pool and
 * renewed by the next read (read_txn_take): an LMDB begin allocates and
 * takes the reader-table mutex, a renew does neither (95 against 17 ns
 * here). task_rows and task_ids compare keys with store__key_cmp: LMDB's
 * default order, by 8-byte words instead of a memcmp call per probe.
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

#include "store/store_int.h"

/* Each database: its name, and the schema versions that have it. */
static const struct {
  const char *name;
  unsigned since, until; /* until 0: still there */
} dbi_table[DB_COUNT] = {
    [DB_META] = {"meta", 1, 0},
    [DB_REPOS] = {"repos", 2, 0},
    [DB_FINDINGS] = {"findings", 2, 0},
    [DB_EVENTS] = {"events", 1, 0},
    [DB_AUDIT] = {"audit", 2, 0},
    [DB_GH_CACHE] = {"gh_cache", 2, 0},
    [DB_TASK_IDS] = {"task_ids", 3, 0},
    [DB_TASK_ROWS] = {"task_rows", 3, 0},
    [DB_TASK_INDEX] = {"task_index", 3, 0},
    [DB_FILES] = {"files", 4, 0},
    [DB_DELIVERIES] = {"gh_deliveries", 4, 0},
    [DB_KV] = {"kv", 4, 0},
    [DB_V2_TASKS] = {"tasks", 1, 2},
    [DB_V2_IDX_STATE] = {"idx_state", 1, 2},
    [DB_V2_IDX_REPO] = {"idx_repo", 1, 2},
    [DB_V2_IDX_KIND] = {"idx_kind", 2, 2},
    [DB_V2_HISTORY] = {"history", 1, 2},
};

const char *store__db_name(enum store__db db) { return dbi_table[db].name; }

#define STORE_MAGIC "ccm-store"
#define KEY_VERSION "schema_version"
#define KEY_MAGIC "magic"
#define DEFAULT_MAP (64u << 20)
#define DEFAULT_RETENTION 100000u
#define LMDB_MAGIC 0xBEEFC0DEu

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
  if (s->opt.no_sync || s->journal)
    flags |= MDB_NOSYNC; /* the journal makes commits durable */
  rc = mdb_env_open(s->env, path, flags, 0640);
  if (rc == 0 && !s->opt.read_only) {
    /* Reader slots of a killed process (its pooled reads, the journal's
     * pin) would keep LMDB from reusing pages until every opener left. */
    int dead = 0;
    (void)mdb_reader_check(s->env, &dead);
  }
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

/* A reset read transaction from the pool, renewed (NULL when the pool is
 * empty or the renewal failed: the caller begins one instead). Renewing
 * keeps the transaction's allocation and reader slot (MDB_NOTLS: the slot
 * belongs to the transaction, whichever thread renews it). */
static MDB_txn *read_txn_take(store_t *s)
{
  MDB_txn *txn = NULL;
  pthread_mutex_lock(&s->read_pool_lock);
  if (s->read_pool_n)
    txn = s->read_pool[--s->read_pool_n];
  pthread_mutex_unlock(&s->read_pool_lock);
  if (txn && mdb_txn_renew(txn) != 0) {
    mdb_txn_abort(txn); /* e.g. MDB_MAP_RESIZED: the slow path sorts it */
    txn = NULL;
  }
  return txn;
}

/* Reset a finished read transaction into the pool (or end it). */
static void read_txn_give(store_t *s, MDB_txn *txn)
{
  mdb_txn_reset(txn);
  pthread_mutex_lock(&s->read_pool_lock);
  bool kept = s->read_pool_n < STORE__READ_POOL;
  if (kept)
    s->read_pool[s->read_pool_n++] = txn;
  pthread_mutex_unlock(&s->read_pool_lock);
  if (!kept)
    mdb_txn_abort(txn);
}

void store__map_hold(store_t *s) { map_lock_shared(s); }

void store__map_release(store_t *s) { map_unlock_shared(s); }

int store__read_begin(store_t *s, MDB_txn **txn)
{
  map_lock_shared(s);
  if ((*txn = read_txn_take(s)) != NULL)
    return 0;
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
  if (rc == MDB_MAP_RESIZED && lock_slot(s) && lock_slot(s)->depth == 1) {
    /* Another process grew the map: adopt its size (alone) and retry.
     * (Not from a nested read: the outer transaction pins the map.) */
    map_unlock_shared(s);
    pthread_rwlock_wrlock(&s->map_lock);
    rc = mdb_env_set_mapsize(s->env, 0);
    store__direct_map_moved(s);
    pthread_rwlock_unlock(&s->map_lock);
    map_lock_shared(s);
    if (!rc)
      rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
  }
  if (rc)
    map_unlock_shared(s);
  return rc;
}

void store__read_end(store_t *s, MDB_txn *txn)
{
  read_txn_give(s, txn);
  map_unlock_shared(s);
}

static int meta_get_u32(MDB_txn *txn, MDB_dbi meta, const char *key,
                        uint32_t *out)
{
  MDB_val k = store__str_val(key), v;
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
  int rc = store__read_begin(s, &txn);
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
      MDB_val k = store__str_val(KEY_MAGIC), v;
      uint32_t ver = 0;
      if (mdb_get(txn, meta, &k, &v) || v.mv_size != strlen(STORE_MAGIC) ||
          memcmp(v.mv_data, STORE_MAGIC, v.mv_size))
        rc = STORE_ENOTSTORE;
      else if (meta_get_u32(txn, meta, KEY_VERSION, &ver))
        rc = STORE_ENOTSTORE;
      *version = ver;
    }
  }
  store__read_end(s, txn);
  return rc;
}

static uint64_t load_be64(const unsigned char *p)
{
  uint64_t v;
  memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

/* LMDB's default key order (bytes compared as unsigned, then the shorter
 * key first), by 8-byte big-endian words instead of a memcmp call per
 * probe: the row keys of task_rows (8 and 16 bytes) and the id keys of
 * task_ids (21) take one to three loads. Point reads are mostly these
 * comparisons and their cache misses; the call to memcmp was ~6% of a
 * read. The order is byte for byte the default one, so any other LMDB
 * program (mdb_dump, mdb_stat, an older ccm) reads and writes these trees
 * as before (test_store: key_order_is_lmdbs_default). */
int store__key_cmp(const MDB_val *a, const MDB_val *b)
{
  const unsigned char *p = a->mv_data, *q = b->mv_data;
  size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size, i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x = load_be64(p + i), y = load_be64(q + i);
    if (x != y)
      return x < y ? -1 : 1;
  }
  for (; i < n; i++)
    if (p[i] != q[i])
      return p[i] < q[i] ? -1 : 1;
  return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size;
}

int store__open_dbis(store_t *s, MDB_txn *txn, unsigned version, bool create)
{
  for (int i = 0; i < DB_COUNT; i++) {
    if (dbi_table[i].since > version ||
        (dbi_table[i].until && dbi_table[i].until < version))
      continue;
    int rc = mdb_dbi_open(txn, dbi_table[i].name, create ? MDB_CREATE : 0,
                          &s->dbi[i]);
    if (!rc && (i == DB_TASK_ROWS || i == DB_TASK_IDS))
      rc = mdb_set_compare(txn, s->dbi[i], store__key_cmp);
    if (rc)
      return rc;
  }
  return 0;
}

static int meta_put_u32(MDB_txn *txn, MDB_dbi meta, const char *key,
                        uint32_t v)
{
  MDB_val k = store__str_val(key), d = store__val(&v, sizeof(v));
  return mdb_put(txn, meta, &k, &d, 0);
}

static int create_schema(store_t *s)
{
  MDB_txn *txn;
  int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (rc)
    return rc;
  rc = store__open_dbis(s, txn, STORE_SCHEMA_VERSION, true);
  MDB_val k = store__str_val(KEY_MAGIC), v = store__str_val(STORE_MAGIC);
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

/* Migrate an older schema in one write transaction (store_migrate.c). */
static int migrate(store_t *s, unsigned from)
{
  store_txn_t t = {.s = s};
  int rc = mdb_txn_begin(s->env, NULL, 0, &t.txn);
  if (rc)
    return rc;
  msgpack_sbuffer_init(&t.buf);
  msgpack_sbuffer_init(&t.hbuf);
  rc = store__migrate(&t, from);
  if (!rc)
    rc = meta_put_u32(t.txn, s->dbi[DB_META], KEY_VERSION,
                      STORE_SCHEMA_VERSION);
  if (rc)
    mdb_txn_abort(t.txn); /* all or nothing: the old store is untouched */
  else
    rc = mdb_txn_commit(t.txn);
  msgpack_sbuffer_destroy(&t.buf);
  msgpack_sbuffer_destroy(&t.hbuf);
  return rc;
}

static int open_existing(store_t *s)
{
  MDB_txn *txn;
  int rc = store__read_begin(s, &txn);
  if (rc)
    return rc;
  rc = store__open_dbis(s, txn, STORE_SCHEMA_VERSION, false);
  if (rc) {
    store__read_end(s, txn);
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
    set_err(err, errlen, "schema version %s is newer than this ccm's (%d); "
            "upgrade ccm", found, STORE_SCHEMA_VERSION);
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
  /* calloc: the row hints and stamps (2.5 MiB) stay zero pages until
   * used; aligned by hand for the hints' buckets (a cache line each). */
  void *base = calloc(1, sizeof(store_t) + 64);
  if (!base)
    return STORE_ENOMEM;
  store_t *s = (store_t *)(((uintptr_t)base + 63) & ~(uintptr_t)63);
  s->alloc_base = base;
  pthread_rwlockattr_t la;
  pthread_rwlockattr_init(&la);
  pthread_rwlockattr_setkind_np(&la,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  int lrc = pthread_rwlock_init(&s->map_lock, &la);
  pthread_rwlockattr_destroy(&la);
  if (lrc == 0 && pthread_mutex_init(&s->read_pool_lock, NULL) != 0) {
    pthread_rwlock_destroy(&s->map_lock);
    lrc = -1;
  }
  if (lrc != 0) {
    free(s->alloc_base);
    return STORE_ENOMEM;
  }
  if (opt)
    s->opt = *opt;
  if (!s->opt.map_size)
    s->opt.map_size = DEFAULT_MAP;
  if (!s->opt.event_retention)
    s->opt.event_retention = DEFAULT_RETENTION;
  /* The journal first: after a system crash it puts LMDB's meta pages
   * back, and only then is the file LMDB's again. */
  int rc = store__journal_open(s, dir, err, errlen);
  if (!rc)
    rc = check_foreign_file(path);
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
    rc = store__journal_recover(s, err, errlen);
  if (!rc)
    rc = check_and_prepare(s, err, errlen);
  if (!rc)
    rc = store__journal_start(s);
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
  store__journal_close(s); /* a clean checkpoint first */
  while (s->read_pool_n) /* reset, so not pinning anything: end them */
    mdb_txn_abort(s->read_pool[--s->read_pool_n]);
  if (s->env)
    mdb_env_close(s->env);
  pthread_mutex_destroy(&s->read_pool_lock);
  pthread_rwlock_destroy(&s->map_lock);
  free(s->alloc_base);
}

unsigned store_schema_found(const store_t *s) { return s->schema_found; }

store_recovery_t store_recovery(const store_t *s) { return s->recovery; }

int store_grow(store_t *s)
{
  MDB_envinfo info;
  if (map_held(s))
    return STORE_EINVAL; /* our own transaction pins the map */
  pthread_rwlock_wrlock(&s->map_lock); /* waits for this process's txns */
  int rc = mdb_env_info(s->env, &info);
  if (!rc)
    rc = mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
  store__direct_map_moved(s);
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
  t->journaling = store__journal_lock(s); /* held until commit or abort */
  map_lock_shared(s);                     /* likewise */
  int rc = mdb_txn_begin(s->env, NULL, 0, &t->txn);
  if (rc) {
    map_unlock_shared(s);
    if (t->journaling)
      store__journal_unlock(s);
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
  if (t->journaling)
    store__journal_unlock(t->s);
  msgpack_sbuffer_destroy(&t->buf);
  msgpack_sbuffer_destroy(&t->hbuf);
  free(t->jbuf);
  free(t);
}

int store_write_commit(store_txn_t *t)
{
  int rc = t->journaling ? store__journal_commit(t) : mdb_txn_commit(t->txn);
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
  *out = store__val(t->buf.data, t->buf.size);
  return 0;
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
    *seq = store__get_be64(k.mv_data);
  mdb_cursor_close(c);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

static int trim_events(store_txn_t *t, uint64_t keep_after)
{
  MDB_cursor *c;
  MDB_val k, v;
  int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_EVENTS], &c);
  while (!rc && (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0 &&
         k.mv_size == 8 && store__get_be64(k.mv_data) <= keep_after)
    rc = store__cursor_del(t, DB_EVENTS, c);
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
  store__put_be64(kb, seq);
  MDB_val k = store__val(kb, 8), v;
  rc = encode(t, &m, &v);
  if (!rc)
    rc = store__put(t, DB_EVENTS, &k, &v, MDB_APPEND);
  if (!rc && seq > t->s->opt.event_retention)
    rc = trim_events(t, seq - t->s->opt.event_retention);
  if (!rc && seq_out)
    *seq_out = seq;
  return rc;
}

/* ----------------------------------------------------------------- reads */

int store_event_foreach(store_t *s, uint64_t after,
                        int (*fn)(const proto_event_t *e, void *arg), void *arg)
{
  MDB_txn *txn;
  if (after == UINT64_MAX)
    return 0; /* nothing can come after the last seq */
  int rc = store__read_begin(s, &txn);
  if (rc)
    return rc;
  unsigned char kb[8];
  store__put_be64(kb, after + 1);
  MDB_cursor *c;
  MDB_val k = store__val(kb, 8), v;
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
  store__read_end(s, txn);
  return (rc && rc != MDB_NOTFOUND) ? rc : corrupt;
}

int store_stats(store_t *s, store_stats_t *out)
{
  memset(out, 0, sizeof(*out));
  MDB_txn *txn;
  int rc = store__read_begin(s, &txn);
  if (rc)
    return rc;
  MDB_stat st;
  if (mdb_stat(txn, s->dbi[DB_EVENTS], &st) == 0)
    out->events = st.ms_entries;
  last_seq(txn, s->dbi[DB_EVENTS], &out->last_seq);
  rc = store__task_stats(s, txn, out);
  MDB_envinfo info;
  if (mdb_env_info(s->env, &info) == 0)
    out->map_size = info.me_mapsize;
  store__read_end(s, txn);
  return rc;
}

/* ------------------------------------------------------- GitHub cache */
/* Value layout: etag | 0 | last_modified | 0 | link | 0 | body (the body
 * may hold any bytes; the three header values are NUL-free). */

#define GH_FIELDS 3

int store_gh_cache_put(store_txn_t *t, const char *key,
                       const store_gh_entry_t *e)
{
  size_t klen = key ? strlen(key) : 0;
  if (!t || !e || klen == 0 || klen > STORE_GH_KEY_MAX || (e->len && !e->body))
    return STORE_EINVAL;
  const char *f[GH_FIELDS] = {e->etag, e->last_modified, e->link};
  size_t fl[GH_FIELDS], total = e->len;
  for (int i = 0; i < GH_FIELDS; i++) {
    fl[i] = f[i] ? strlen(f[i]) : 0;
    total += fl[i] + 1;
  }
  MDB_val k = store__val(key, klen);
  MDB_val v = {.mv_size = total, .mv_data = NULL};
  int rc = mdb_put(t->txn, t->s->dbi[DB_GH_CACHE], &k, &v, MDB_RESERVE);
  if (rc)
    return rc;
  unsigned char *p = v.mv_data;
  for (int i = 0; i < GH_FIELDS; i++) {
    if (fl[i])
      memcpy(p, f[i], fl[i]);
    p[fl[i]] = 0;
    p += fl[i] + 1;
  }
  if (e->len)
    memcpy(p, e->body, e->len);
  if (t->journaling)
    store__journal_note(t, JOURNAL_OP_PUT, DB_GH_CACHE, &k, &v);
  return 0;
}

static int gh_entry_decode(const MDB_val *v, store_gh_entry_t *out)
{
  const char *p = v->mv_data;
  const char *end = p + v->mv_size;
  char **dst[GH_FIELDS] = {&out->etag, &out->last_modified, &out->link};
  for (int i = 0; i < GH_FIELDS; i++) {
    const char *z = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
    if (!z) {
      store_gh_entry_fini(out);
      return STORE_ECORRUPT;
    }
    if (!(*dst[i] = strdup(p))) {
      store_gh_entry_fini(out);
      return STORE_ENOMEM;
    }
    p = z + 1;
  }
  out->len = (size_t)(end - p);
  out->body = out->len ? malloc(out->len) : NULL;
  if (out->len && !out->body) {
    store_gh_entry_fini(out);
    return STORE_ENOMEM;
  }
  if (out->len)
    memcpy(out->body, p, out->len);
  return 0;
}

int store_gh_cache_get(store_t *s, const char *key, store_gh_entry_t *out)
{
  memset(out, 0, sizeof(*out));
  size_t klen = key ? strlen(key) : 0;
  if (!s || klen == 0 || klen > STORE_GH_KEY_MAX)
    return STORE_EINVAL;
  MDB_txn *txn;
  int rc = store__read_begin(s, &txn);
  if (rc)
    return rc;
  MDB_val k = store__val(key, klen), v;
  rc = mdb_get(txn, s->dbi[DB_GH_CACHE], &k, &v);
  if (rc == MDB_NOTFOUND)
    rc = STORE_ENOTFOUND;
  else if (!rc)
    rc = gh_entry_decode(&v, out);
  store__read_end(s, txn);
  return rc;
}

void store_gh_entry_fini(store_gh_entry_t *e)
{
  if (!e)
    return;
  free(e->etag);
  free(e->last_modified);
  free(e->link);
  free(e->body);
  memset(e, 0, sizeof(*e));
}
