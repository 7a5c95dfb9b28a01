/*
 * store_int.h: internals shared by the store/ sources only.
 *
 *   store.c          environment, schema check, transactions, map growth,
 *                    events, stats, GitHub cache
 *   store_task.c     tasks, their indexes and history (schema v3 layout,
 *                    v5 id keys and creation entries)
 *   store_migrate.c  v1 -> v2 -> v3 -> v4 -> v5, in the opening write
 *                    transaction
 *
 * Databases by schema version (store.h has the layouts): a v3 store has
 * the "since 3" and "since 1/2, until -" ones; the v1/v2 task databases
 * are read only by the migration, which drops them.
 */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "store/journal_ops.h"
#include "store/store.h"

enum store__db {
  DB_META, DB_REPOS, DB_FINDINGS, DB_EVENTS, DB_AUDIT, DB_GH_CACHE,
  /* v3 tasks */
  DB_TASK_IDS, DB_TASK_ROWS, DB_TASK_INDEX,
  /* v4: incremental scans, webhook deliveries, small named values */
  DB_FILES, DB_DELIVERIES, DB_KV,
  /* v1/v2 tasks: read and dropped by the migration */
  DB_V2_TASKS, DB_V2_IDX_STATE, DB_V2_IDX_REPO, DB_V2_IDX_KIND,
  DB_V2_HISTORY,
  DB_COUNT
};

/* Reset read transactions kept per store (a few more than the threads
 * that read at once: REST handlers, the store actor, the CLI). */
#define STORE__READ_POOL 16

/* Slots of the row hints (a power of two; 32 bytes each, zero pages until
 * reads fill them), in buckets of STORE__HINT_WAYS slots: one cache line. */
#define STORE__ROW_HINTS (1u << 16)
#define STORE__HINT_WAYS 2u
/* Slots of the row write stamps (a power of two; 8 bytes each). */
#define STORE__ROW_STAMPS (1u << 16)

/* One row hint (store_task.c "row hints" and "direct reads"): three words
 * under a sequence count, so a reader takes them whole or not at all. */
typedef struct store__row_hint {
  _Atomic uint64_t seq;   /* even: the words agree; odd: being rewritten */
  _Atomic uint64_t row;   /* 32 bits of the id key's hash | the row; 0 empty */
  _Atomic uint64_t where; /* where the record was last read in the map
                             (48 bits) | its size << 48 (0: over 64 KiB) */
  _Atomic uint64_t seen;  /* the snapshot it was read in (txn id) << 24 |
                             the direct-read epoch then; 0: prefetch only */
} store__row_hint_t;

struct store {
  void *alloc_base; /* what store_open allocated (this struct, aligned in it) */
  MDB_env *env;
  /* Growing the map remaps it: no transaction of this process may be open
   * then (LMDB's rule). Every transaction holds this lock shared and
   * store_grow() (or adopting another process's larger map) holds it
   * exclusive, so readers on other threads (the daemon's REST handlers)
   * never see the map move under them. The lock prefers the grower (a
   * stream of overlapping readers must not starve the writer); a thread
   * that already holds it shared (a read inside a foreach callback) does
   * not take it again (store.c: map_lock_shared), so nesting cannot
   * deadlock. */
  pthread_rwlock_t map_lock;
  /* Read transactions kept reset for reuse (store.c: read_txn_take):
   * renewing one skips the allocation and the reader-table lock that
   * beginning one costs. */
  pthread_mutex_t read_pool_lock;
  MDB_txn *read_pool[STORE__READ_POOL];
  unsigned read_pool_n;
  MDB_dbi dbi[DB_COUNT];
  store_options_t opt;
  unsigned schema_found;
  /* The write-ahead journal (store_journal.c); NULL when the store does
   * not journal (read-only, no_sync, no_journal). */
  struct store__journal *journal;
  store_recovery_t recovery; /* what opening did with the journal */
  /* Task ids read lately -> their rows, for store_task_get (store_task.c:
   * "row hints"). */
  _Alignas(64) store__row_hint_t row_hints[STORE__ROW_HINTS];
  /* Direct reads (store_task.c): 0 off; else even while the journal's pin
   * stays where it is, odd while it moves; +2 per pin move or map move. */
  _Atomic uint64_t direct_epoch;
  /* Per row & (STORE__ROW_STAMPS - 1): the last write transaction that
   * put or deleted a record in task_rows (set before it commits). */
  _Atomic uint64_t row_stamps[STORE__ROW_STAMPS];
};

struct store_txn {
  store_t *s;
  MDB_txn *txn;
  uint64_t next_row;    /* next task row id; 0 = not read yet */
  msgpack_sbuffer buf;  /* the record being written */
  msgpack_sbuffer hbuf; /* the history entry that goes with it */
  /* The journal's copy of this transaction's puts and deletes
   * (store_journal.c), kept while `journaling`: the record that makes
   * the commit durable. */
  bool journaling;
  bool jfail;           /* a copy failed (no memory): commit with a sync */
  uint32_t jnops;
  size_t jlen, jcap;
  unsigned char *jbuf;
};

/* Longest LMDB key: 0.9's compile-time MDB_MAXKEYSIZE (Debian's build
 * keeps the default; mdb_env_get_maxkeysize() says 511). */
#define STORE__KEY_MAX 511
/* A task id that is 40 hex digits is kept in task_ids as these many
 * bytes (store_task.c: key_id). */
#define STORE__ID_BYTES 20

/* ---- small codecs ---- */

static inline void store__put_be64(unsigned char *p, uint64_t v)
{
  for (int i = 7; i >= 0; i--) {
    p[i] = (unsigned char)(v & 0xff);
    v >>= 8;
  }
}

static inline uint64_t store__get_be64(const void *p)
{
  const unsigned char *b = p;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | b[i];
  return v;
}

static inline MDB_val store__val(const void *p, size_t n)
{
  MDB_val v = {.mv_size = n, .mv_data = (void *)p};
  return v;
}

static inline MDB_val store__str_val(const char *s)
{
  return store__val(s, strlen(s));
}

/* A key made of 1..@p max printable ASCII bytes (0x21..0x7e): delivery
 * ids (store_deliveries.c) and kv names (store_kv.c). */
static inline bool store__printable_key(const char *s, size_t max)
{
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > max)
    return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] <= ' ' || s[i] > '~')
      return false;
  return true;
}

/* ---- store.c ---- */

/** Begin a read transaction (map lock held shared until store__read_end). */
int store__read_begin(store_t *s, MDB_txn **txn);
void store__read_end(store_t *s, MDB_txn *txn);
/** Hold / release the map in place (shared; nests like store__read_begin)
 * without a transaction: for reads of the map that need no snapshot
 * (store_task.c "direct reads"). */
void store__map_hold(store_t *s);
void store__map_release(store_t *s);
/** The direct reads' epoch moves (store_task.c "direct reads"): before
 * and after the journal's pin moves; store__direct_off for good. */
void store__direct_pin_moving(store_t *s);
void store__direct_pin_moved(store_t *s);
void store__direct_off(store_t *s);
/** The map moved (its lock held exclusive): every place read before is
 * void. */
void store__direct_map_moved(store_t *s);
/** Open the databases of schema @p version (creating them if @p create). */
int store__open_dbis(store_t *s, MDB_txn *txn, unsigned version, bool create);

/* ---- store_task.c ---- */

/* A task upsert prepared outside the write transaction (the store actor
 * does it while the previous commit runs): the task's record and the
 * history entry of its creation, encoded and so validated. */
typedef struct store__task_prep {
  const proto_task_t *task; /* borrowed */
  MDB_val record;           /* the encoding of *task */
  MDB_val created;          /* its creation entry, used if it is new */
} store__task_prep_t;

/** Prepare an upsert of @p task by @p actor, encoding into @p rec and
 * @p created (cleared first; *out points into them). @p encoded, when not
 * NULL, is the record: the bytes @p task was just decoded (and so
 * validated) from, stored as they came instead of encoded again. */
int store__task_prepare(const proto_task_t *task, const char *actor,
                        const MDB_val *encoded, msgpack_sbuffer *rec,
                        msgpack_sbuffer *created, store__task_prep_t *out);
/** store_task_put() of a prepared upsert (a new task is stored as
 * prepared; an existing one as store_task_put() does it). */
int store__task_put_prepared(store_txn_t *t, const store__task_prep_t *p,
                             const char *actor, const char *reason);
/** store__task_put_prepared() of @p n upserts in arrival order, with
 * fewer B-tree descents (store_task.c: "runs"); @p rcs[i] gets upsert i's
 * own result (a refused transition, ...). @return 0, or the error that
 * broke the transaction (LMDB's, STORE_ENOMEM, STORE_ECORRUPT): abort it. */
int store__task_put_run(store_txn_t *t, const store__task_prep_t *const *p,
                        size_t n, const char *actor, const char *reason,
                        int *rcs);
/** Whether @p rc, from a write inside a transaction, leaves the
 * transaction unusable: LMDB's errors do; the store's and the protocol's
 * own (a refused transition, a bad record) fail only that write. */
static inline bool store__txn_broken(int rc)
{
  return rc != 0 && !(rc <= -32000 && rc > -34000);
}
/** Decode a task record (STORE_ECORRUPT if it is not one; *out zeroed). */
int store__task_decode(const MDB_val *v, proto_task_t *out);
/** Read task @p id inside write transaction @p t (owned copy, zeroed
 * unless 0; store_task.c). @return 0, STORE_ENOTFOUND, STORE_ECORRUPT. */
int store__task_read(store_txn_t *t, const char *id, proto_task_t *out);
/** The row task @p id (at most STORE__KEY_MAX bytes) lives under.
 * @return 0, STORE_ENOTFOUND, STORE_ECORRUPT, LMDB errors. */
int store__row_of(MDB_txn *txn, const store_t *s, const char *id,
                  uint64_t *row);
/** Hint that task @p id is under @p row (store_task.c: "row hints"); for
 * tests, which check that a wrong hint is never believed. */
void store__row_hint_set(store_t *s, const char *id, uint64_t row);
/** Where the hint of task @p id says its record was last read (an
 * address in the map; 0 when none), and setting it: for tests, which
 * check that the address is kept and that a wrong one changes nothing. */
uintptr_t store__row_hint_where(store_t *s, const char *id);
void store__row_hint_where_set(store_t *s, const char *id, uintptr_t where);
/** Task @p id only if it can be read in place now (store_task.c "direct
 * reads"): 0, else STORE_ENOTFOUND with *out zeroed; for tests. */
int store__task_get_direct(store_t *s, const char *id, proto_task_t *out);
/** The key order of task_rows and task_ids: LMDB's default one (bytes as
 * unsigned, then the shorter first), compared by 8-byte words (store.c). */
int store__key_cmp(const MDB_val *a, const MDB_val *b);
/** Schema 3/4 -> 5: re-key the hex ids of task_ids packed (key_id). */
int store__ids_pack(store_txn_t *t);
/** Map task @p id to the next row unless it has a row: *row gets the
 * row, *existed whether it was there already (then nothing changed). */
int store__id_claim(store_txn_t *t, const char *id, uint64_t *row,
                    bool *existed);
/** Store the record and index keys of new task @p task under @p row (just
 * claimed with store__id_claim). */
int store__task_insert(store_txn_t *t, const proto_task_t *task,
                       const MDB_val *record, uint64_t row);
/** Fill the task counts of @p out (tasks, by_state). */
int store__task_stats(store_t *s, MDB_txn *txn, store_stats_t *out);
/** Put a history entry (encoded) under @p row with sequence @p seq. */
int store__history_put_at(store_txn_t *t, uint64_t row, uint64_t seq,
                          const MDB_val *entry);

/* ---- store_journal.c: the write-ahead journal ---- */

typedef struct store__journal store__journal_t;

/** Before LMDB's environment opens: a read-only open refuses a store
 * that needs recovery from a system crash (STORE_ERECOVER); a read-write
 * one takes the journal (STORE_EBUSY if another process has it) and,
 * after a system crash, puts LMDB's meta pages of the last checkpoint
 * back. Sets s->journal for a read-write open that journals. */
int store__journal_open(store_t *s, const char *dir, char *err,
                        size_t errlen);
/** After the environment opened: pin the snapshot, replay the records
 * after the checkpoint (after a system crash), and checkpoint. */
int store__journal_recover(store_t *s, char *err, size_t errlen);
/** After the schema check: checkpoint, and journal every commit from
 * now on. */
int store__journal_start(store_t *s);
/** Commit @p t durably through the journal (store_write_commit). */
int store__journal_commit(store_txn_t *t);
/** Take / give the writer lock (held from store_write_begin to the end
 * of its commit or abort while the journal is live). */
bool store__journal_lock(store_t *s);
void store__journal_unlock(store_t *s);
/** Final checkpoint marked clean, then close (store_close). */
void store__journal_close(store_t *s);
/** The journal's copy of a put or delete just done in @p t. */
void store__journal_note(store_txn_t *t, int op, enum store__db db,
                         const MDB_val *k, const MDB_val *v);

/** The name of database @p db (store.c). */
const char *store__db_name(enum store__db db);

/** Stamp the row of task_rows key @p k with @p t's txn id (store_task.c
 * "direct reads"): before the write, so before its commit. */
void store__row_stamp(store_txn_t *t, const MDB_val *k);

/* Every write of a transaction goes through these, so the journal sees
 * it (an MDB_RESERVE put is noted by its caller once filled), and a
 * write to task_rows stamps its row. */
static inline int store__put(store_txn_t *t, enum store__db db, MDB_val *k,
                             MDB_val *v, unsigned flags)
{
  if (db == DB_TASK_ROWS)
    store__row_stamp(t, k);
  int rc = mdb_put(t->txn, t->s->dbi[db], k, v, flags);
  if (rc == 0 && t->journaling)
    store__journal_note(t, JOURNAL_OP_PUT, db, k, v);
  return rc;
}

static inline int store__del(store_txn_t *t, enum store__db db, MDB_val *k)
{
  if (db == DB_TASK_ROWS)
    store__row_stamp(t, k);
  if (t->journaling) {
    MDB_val v;
    int rc = mdb_get(t->txn, t->s->dbi[db], k, &v);
    if (rc)
      return rc; /* MDB_NOTFOUND, as mdb_del says it */
    store__journal_note(t, JOURNAL_OP_DEL, db, k, NULL);
  }
  return mdb_del(t->txn, t->s->dbi[db], k, NULL);
}

static inline int store__cursor_put(store_txn_t *t, enum store__db db,
                                    MDB_cursor *c, MDB_val *k, MDB_val *v,
                                    unsigned flags)
{
  if (db == DB_TASK_ROWS)
    store__row_stamp(t, k);
  int rc = mdb_cursor_put(c, k, v, flags);
  if (rc == 0 && t->journaling)
    store__journal_note(t, JOURNAL_OP_PUT, db, k, v);
  return rc;
}

/* Delete the cursor's current entry. */
static inline int store__cursor_del(store_txn_t *t, enum store__db db,
                                    MDB_cursor *c)
{
  if (t->journaling || db == DB_TASK_ROWS) {
    MDB_val k, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT);
    if (rc)
      return rc;
    if (db == DB_TASK_ROWS)
      store__row_stamp(t, &k);
    if (t->journaling)
      store__journal_note(t, JOURNAL_OP_DEL, db, &k, NULL);
  }
  return mdb_cursor_del(c, 0);
}

/* ---- store_migrate.c ---- */

/** Migrate schema @p from (1 or 2) to STORE_SCHEMA_VERSION inside @p t. */
int store__migrate(store_txn_t *t, unsigned from);

/* Append task @p id as it now is (read in @p t) to the event log on
 * @p topic: the event of a change carries what was committed
 * (store_step.c; also store_ghtask.c). */
int store__task_announce(store_txn_t *t, const char *id, const char *topic,
                         int64_t at);

#endif /* STORE_STORE_INT_H */
