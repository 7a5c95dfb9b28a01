/*
 * store.h: ccm's state in LMDB (<data dir>/ccm.lmdb).
 *
 * A thin, synchronous data layer: open (with schema checks and
 * migrations), write transactions made of task upserts, state transitions
 * and event appends, and read-only queries. Records are protocol messages
 * in their msgpack encoding (protocol/proto.h), so the store, the actors
 * and the clients share one format.
 *
 * Threading: one writer at a time (the store actor runs every write
 * transaction on one blocking thread, see store_actor.h); readers may be on
 * any thread or in another process (`ccm tasks` beside a running daemon):
 * the environment is opened with MDB_NOTLS and each read uses its own
 * short read transaction.
 *
 * Named databases (schema version STORE_SCHEMA_VERSION; integers are big
 * endian, so keys sort by number):
 *   meta          "schema_version" -> u32, "magic" -> "ccm-store"
 *   repos         repo id -> JSON object (config snapshot)
 *   findings      fingerprint -> msgpack FINDING
 *   task_ids      task id -> row(8): tasks live under a row id handed out
 *                 in sequence, so new tasks append (store_task.c)
 *   task_rows     row(8) -> msgpack TASK, and its history beside it:
 *                 row(8) | seq(8) -> msgpack TASK_UPDATE (append-only, seq
 *                 counts per task from 1; a creation, which is no
 *                 transition, is an EVENT with topic "task.created",
 *                 reported as an update from "new")
 *   task_index    'r' | state(1) | ~score(8) | row(8) -> ""  (ranked lists)
 *                 'p' | repo id | 0 | row(8) -> ""
 *                 'k' | kind | 0 | row(8) -> ""
 *   events        seq(8) -> msgpack EVENT (bounded retention)
 *   audit         seq(8) -> JSON object
 *   gh_cache      URL -> etag | 0 | last_modified | 0 | link | 0 | body
 *                 (store_gh_cache_*)
 *   files         (v4) repo id | 0 | path -> what the last scan saw of the
 *                 file (size, mtime, blob id; store_files.c); repo id | 0
 *                 (empty path) -> the repository's last scanned commit
 *   gh_deliveries (v4) X-GitHub-Delivery id -> time(8) accepted; bounded
 *                 retention, so a redelivery after a restart is recognised
 *   kv            (v4) name -> bytes: small persisted values (sweep cursors,
 *                 monitor aggregates); names are "<owner>/<what>"
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STORE_SCHEMA_VERSION 4
#define STORE_FILE "ccm.lmdb"

/* Error codes: 0 ok; LMDB's own codes (-30799..-30780) and -errno pass
 * through; the store's own sit below -33000. */
#define STORE_ERRNO_MAP(XX)                                                   \
  XX(ENOTSTORE, -33001, "not a ccm store (foreign LMDB file)")                \
  XX(ENEWER, -33002, "store written by a newer ccm (schema too new)")         \
  XX(ENOTFOUND, -33003, "no such record")                                     \
  XX(ETRANSITION, -33004, "state transition not allowed")                     \
  XX(ECORRUPT, -33005, "a stored record does not decode")                     \
  XX(EINVAL, -33006, "invalid argument")                                      \
  XX(EREADONLY, -33007, "store opened read-only")                             \
  XX(EMIGRATE, -33008, "store needs a migration; open it read-write first")   \
  XX(ENOMEM, -33009, "out of memory")

enum store_errno {
#define STORE_ERR_ENUM(name, code, text) STORE_##name = (code),
  STORE_ERRNO_MAP(STORE_ERR_ENUM)
#undef STORE_ERR_ENUM
};
/** "STORE_ENOTSTORE: ...", LMDB's message, or strerror. Never NULL. */
const char *store_strerror(int rc);

typedef struct store store_t;
typedef struct store_txn store_txn_t;

typedef struct store_options {
  bool read_only;        /* readers: never writes, never migrates */
  bool no_sync;          /* tests and benches only: MDB_NOSYNC */
  size_t map_size;       /* initial map size; 0 = 64 MiB (it grows) */
  uint64_t event_retention; /* events kept; 0 = 100,000 */
} store_options_t;

/**
 * Open (creating when read-write and absent) the store in @p dir.
 * Checks the schema: a foreign LMDB file is refused (STORE_ENOTSTORE), a
 * newer schema is refused (STORE_ENEWER), both without writing anything;
 * an older schema is migrated in one write transaction (read-only opens
 * get STORE_EMIGRATE instead).
 * @param err  receives a sentence for the user (may be NULL).
 * @return 0 or an error; *out always written (NULL on failure).
 */
int store_open(const char *dir, const store_options_t *opt, store_t **out,
               char *err, size_t errlen);
/** Close; NULL is a no-op. No transaction may be open. */
void store_close(store_t *s);
/** The schema version found on disk when opened (before any migration). */
unsigned store_schema_found(const store_t *s);

/* ---- writes: one writer thread at a time ---- */

/** Begin a write transaction. @return 0, STORE_EREADONLY, LMDB errors. */
int store_write_begin(store_t *s, store_txn_t **out);
/**
 * Insert or update a task. A new task is stored as given (its state is
 * recorded as the first history entry from "new"); for an existing task
 * the state change, if any, must be allowed (STORE_ETRANSITION otherwise)
 * and is recorded in history with @p actor and @p reason; first_seen is
 * kept from the stored record. Indexes are updated.
 */
int store_task_put(store_txn_t *t, const proto_task_t *task,
                   const char *actor, const char *reason);
/** Move a task to @p to (checked, recorded in history, indexes updated). */
int store_task_transition(store_txn_t *t, const char *id, proto_state_t to,
                          const char *actor, const char *reason, int64_t at);
/** Set a task's `pinned` flag (and updated_at = @p at when it changes),
 * read and written inside this transaction, so a state change committed
 * meanwhile is kept (an upsert of a task read earlier would undo it). No
 * history entry: pinning is not a transition. @return 0,
 * STORE_ENOTFOUND, STORE_EINVAL, LMDB errors. */
int store_task_set_pinned(store_txn_t *t, const char *id, bool pinned,
                          int64_t at);
/** Append an event; its seq is assigned (*seq_out) as last seq + 1. Old
 * events beyond the retention are trimmed in the same transaction. */
int store_event_append(store_txn_t *t, const char *topic, const json_t *data,
                       int64_t ts, uint64_t *seq_out);
/** Commit durably (unless no_sync). MDB_MAP_FULL is handled by the caller:
 * abort, store_grow(), and replay. @return 0 or an LMDB error. */
int store_write_commit(store_txn_t *t);
void store_write_abort(store_txn_t *t);
/** Double the map size. Waits until the transactions other threads of this
 * process hold have ended (readers keep reading safely meanwhile); the
 * calling thread must hold none. */
int store_grow(store_t *s);

/* ---- reads: any thread, any process ---- */

/** Read one task into *out (owned; proto_msg_fini on the wrapper or
 * store_task_free). @return 0, STORE_ENOTFOUND, STORE_ECORRUPT. */
int store_task_get(store_t *s, const char *id, proto_task_t *out);
void store_task_free(proto_task_t *t);

typedef struct store_filter {
  int state;        /* -1 = any */
  const char *repo; /* NULL = any */
  const char *kind; /* NULL = any */
} store_filter_t;

/**
 * Call @p fn for each matching task, highest score first within a state
 * (states in table order when state is -1; equal scores: the oldest task
 * first). With only repo or kind given: the oldest task first. @p fn
 * returns non-zero to stop. The task passed is borrowed for the call.
 * @p fn may read the store (nested reads are fine) but must not wait for
 * a store write: a pending map growth waits for this read to end.
 * @return 0, or the first error (a record that does not decode is reported
 *         as STORE_ECORRUPT after the others were listed).
 */
int store_task_foreach(store_t *s, const store_filter_t *f,
                       int (*fn)(const proto_task_t *t, void *arg), void *arg);

/** Call @p fn for each history entry of a task, oldest first. */
int store_history_foreach(store_t *s, const char *id,
                          int (*fn)(const proto_task_update_t *u, void *arg),
                          void *arg);

/** Call @p fn for every event with seq > @p after, in order. */
int store_event_foreach(store_t *s, uint64_t after,
                        int (*fn)(const proto_event_t *e, void *arg),
                        void *arg);

/** Counts for status lines. */
typedef struct store_stats {
  uint64_t tasks;
  uint64_t by_state[PROTO_STATE_COUNT];
  uint64_t events;
  uint64_t last_seq;
  size_t map_size;
} store_stats_t;
int store_stats(store_t *s, store_stats_t *out);

/* ---- GitHub response cache (github/ keeps conditional-request
 * validators here; see github/README.md) ---- */

/** A cached response: validators and body, each owned (malloc'd). */
typedef struct store_gh_entry {
  char *etag;          /* "" when the response had none */
  char *last_modified; /* "" when the response had none */
  char *link;          /* the Link header, "" when none */
  void *body;          /* NULL when len is 0 */
  size_t len;
} store_gh_entry_t;

/** Longest cache key (LMDB's key limit); callers hash longer URLs. */
#define STORE_GH_KEY_MAX 511

/**
 * Insert or replace the cached response for @p key (a URL, at most
 * STORE_GH_KEY_MAX bytes). The strings of @p e may be NULL (stored as "").
 * @return 0, STORE_EINVAL (key empty or too long), LMDB errors.
 */
int store_gh_cache_put(store_txn_t *t, const char *key,
                       const store_gh_entry_t *e);

/**
 * Read the cached response for @p key into *out (owned copies; release
 * with store_gh_entry_fini). Any thread.
 * @return 0, STORE_ENOTFOUND, STORE_EINVAL, STORE_ECORRUPT, STORE_ENOMEM.
 */
int store_gh_cache_get(store_t *s, const char *key, store_gh_entry_t *out);

/** Free what an entry owns and zero it. NULL is a no-op. */
void store_gh_entry_fini(store_gh_entry_t *e);

#ifdef __cplusplus
}
#endif
#endif /* STORE_STORE_H */
