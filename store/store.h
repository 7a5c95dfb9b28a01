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
 *                 in sequence, so new tasks append (store_task.c); (v5) an
 *                 id of 40 lower-case hex digits is keyed 0 | its 20 bytes
 *   task_rows     row(8) -> msgpack TASK, and its history beside it:
 *                 row(8) | seq(8) -> msgpack TASK_UPDATE (append-only, seq
 *                 counts per task from 1; a creation, which is no
 *                 transition, is (v5) a compact entry of the store's own,
 *                 before an EVENT "task.created", reported as an update
 *                 from "new")
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

#define STORE_SCHEMA_VERSION 5
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
  XX(ENOMEM, -33009, "out of memory")                                         \
  XX(EBUSY, -33010, "store open for writing by another process")              \
  XX(ERECOVER, -33011, "store needs recovery after a system crash; open it "  \
                       "read-write first (ccm serve)")

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
  bool no_sync;          /* tests and benches only: MDB_NOSYNC, no journal */
  bool no_journal;       /* LMDB's own two-flush commits instead of the
                          * journal's one (store/README.md, "Durable
                          * commits") */
  size_t map_size;       /* initial map size; 0 = 64 MiB (it grows) */
  uint64_t event_retention; /* events kept; 0 = 100,000 */
  unsigned journal_every;   /* commits between checkpoints; 0 = 256 */
  size_t journal_big;       /* a transaction whose journal record is over
                             * this is made durable by a checkpoint
                             * instead; 0 = 4 MiB */
  const char *boot_id;      /* tests only: this boot's id (NULL: the
                             * kernel's), to act out a system crash */
  void (*checkpoint_hook)(void *arg); /* tests only: called after each */
  void *checkpoint_hook_arg;          /* journal checkpoint, writer lock held */
} store_options_t;

/* What opening a store read-write did with its journal (store/README.md,
 * "Durable commits"), for the daemon's start-up log. */
typedef struct store_recovery {
  bool unclean;         /* the last writer did not close it */
  bool restored;        /* ... and the system went down: LMDB's meta pages
                         * were put back to the last checkpoint */
  unsigned replayed;    /* journal records applied after that */
  bool dropped_foreign; /* the journal was another store's: not used */
} store_recovery_t;
/** What store_open did with the journal (all zero for read-only opens). */
store_recovery_t store_recovery(const store_t *s);

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

/* ---- what the scanner saw of each file, for incremental rescans
 * (the files database; store_files.c) ---- */

#define STORE_FILE_SKIPPED 1u /* not scanned: binary, too big, not regular */
#define STORE_FILE_DIRTY 2u   /* git: differed from HEAD, or untracked */

/** One file as the last scan that read it saw it. */
typedef struct store_file {
  uint64_t size;
  int64_t mtime_ns;   /* 0: not to be trusted (read it again) */
  int64_t scanned_at; /* the scan that read it: its start, unix ms */
  uint32_t flags;     /* STORE_FILE_* */
  char blob[41];      /* git blob id of the bytes read (hex), "" unknown */
  json_t *blame;      /* blame cache for that blob: [[line, author, time],
                         ...] or NULL; owned by a store_file_get() result,
                         borrowed in puts, never loaded by foreach/reader */
} store_file_t;

/** A repository's scan state: what the last complete scan started from. */
typedef struct store_scan_state {
  char commit[41];   /* git HEAD then, "" outside git */
  char settings[65]; /* digest of the scan settings it used */
  int64_t at;        /* its start, unix ms */
} store_scan_state_t;

/** Put the record of @p path (relative, non-empty) of @p repo.
 * @return 0, STORE_EINVAL (empty or too long a key), LMDB errors. */
int store_file_put(store_txn_t *t, const char *repo, const char *path,
                   const store_file_t *f);
/** Delete the record of @p path (absent: 0). */
int store_file_delete(store_txn_t *t, const char *repo, const char *path);
/** Put the scan state of @p repo. */
int store_scan_state_put(store_txn_t *t, const char *repo,
                         const store_scan_state_t *st);
/** The store actor's COMMAND "scan_files": args {"repo", "put": [[path,
 * size, mtime_ns, scanned_at, flags, blob, blame|null], ...], "del":
 * [path, ...], "state": {"commit", "settings", "at"}}, applied in that
 * order (a path too long for a key is left unrecorded). check validates
 * the shape only. @return 0, STORE_EINVAL, LMDB errors. */
int store_files_apply(store_txn_t *t, const json_t *args);
int store_files_check(const json_t *args);

/** Read one record (blame cache included; release with store_file_fini).
 * @return 0, STORE_ENOTFOUND, STORE_EINVAL, STORE_ECORRUPT. */
int store_file_get(store_t *s, const char *repo, const char *path,
                   store_file_t *out);
void store_file_fini(store_file_t *f);
/** Read the scan state of @p repo. @return 0, STORE_ENOTFOUND, ... */
int store_scan_state_get(store_t *s, const char *repo,
                         store_scan_state_t *out);

typedef int (*store_file_fn)(const char *path, size_t len,
                             const store_file_t *f, void *arg);
/** Call @p fn for each file record of @p repo in path order (blame not
 * loaded; the record is borrowed). @p fn returns non-zero to stop and
 * must not wait for a store write (one read transaction is open).
 * @return 0, or STORE_ECORRUPT after the others were listed. */
int store_files_foreach(store_t *s, const char *repo, store_file_fn fn,
                        void *arg);

/** Many lookups in one read transaction (the scanner's walker, a chunk
 * of paths at a time). While it is open the owner must not wait for a
 * store write (a map growth waits for it). */
typedef struct store_files_reader store_files_reader_t;
int store_files_reader_open(store_t *s, const char *repo,
                            store_files_reader_t **out);
/** @return 0, STORE_ENOTFOUND, STORE_EINVAL, STORE_ECORRUPT (no blame). */
int store_files_reader_get(store_files_reader_t *r, const char *path,
                           store_file_t *out);
void store_files_reader_close(store_files_reader_t *r);

/* ---- audit log (store_audit.c): one entry per automated action ---- */

/**
 * Append an audit entry inside write transaction @p t: {"seq", "at" (ISO
 * UTC), "at_ms", "who", "what", "subject", "input_sha256", "input_bytes"}.
 * Only the SHA-256 and length of @p input are stored, never the bytes.
 * @param who      the actor or user ("executor", "sighup", "web"); 1..63
 *                 printable bytes
 * @param what     the action ("agent.run", "pr.open", "issue.comment",
 *                 "task.approve", "config.reload"); 1..63 printable bytes
 * @param subject  what it acted on, an identifier ("task/ID",
 *                 "owner/name#12", a file name) or NULL; < 512 bytes
 * @param input    what the action was taken on (prompt, diff, body,
 *                 file), or NULL (no digest; @p input_len must be 0)
 * @return 0, STORE_EINVAL (a bad argument), STORE_ENOMEM, LMDB errors.
 */
int store_audit_append(store_txn_t *t, const char *who, const char *what,
                       const char *subject, const void *input,
                       size_t input_len);

/**
 * store_audit_append() in a transaction of its own, committed durably,
 * for a thread outside the store actor (the daemon's main thread on a
 * config reload): LMDB serialises it with the store actor's writes. A
 * full map is grown and the write retried. Not for an actor's worker
 * thread (it waits for the store's write lock and an fsync).
 * @return as store_audit_append(), or STORE_EREADONLY.
 */
int store_audit_record(store_t *s, const char *who, const char *what,
                       const char *subject, const void *input,
                       size_t input_len);

/**
 * Call @p fn for each audit entry with seq < @p before (0: all), newest
 * first; @p fn gets the entry (borrowed for the call) and returns
 * non-zero to stop. Any thread, any process.
 * @return 0, or the first error (an entry that does not parse is skipped
 *         and reported as STORE_ECORRUPT after the others were listed).
 */
int store_audit_foreach(store_t *s, uint64_t before,
                        int (*fn)(const json_t *entry, void *arg), void *arg);

/**
 * The store actor's COMMAND "audit" (any actor, no blocking): args
 * {"who", "what", "subject": string | null, "input": string | null}, as
 * store_audit_append() (the input is hashed, never stored). check
 * validates the shape only. @return 0, STORE_EINVAL, as append.
 */
int store_audit_apply(store_txn_t *t, const json_t *args);
int store_audit_check(const json_t *args);

/* ---- GitHub webhook deliveries already accepted (the gh_deliveries
 * database; store_deliveries.c) ---- */

/* Retention: at most this many ids, none older than this before the
 * newest (GitHub redelivers for a few days at most). */
#define STORE_DELIVERIES_KEEP 100000u
#define STORE_DELIVERIES_MAX_AGE_MS (14LL * 24 * 3600 * 1000)

/** Record delivery @p id (printable ASCII, 1-96 bytes) accepted at
 * @p at_ms; a known id keeps its first time. @return 0, STORE_EINVAL,
 * LMDB errors. */
int store_delivery_put(store_txn_t *t, const char *id, int64_t at_ms);
/** Forget the oldest ids beyond @p keep and those older than @p max_age_ms
 * before the newest (0: no age bound); *removed (may be NULL) counts them. */
int store_deliveries_trim(store_txn_t *t, uint64_t keep, int64_t max_age_ms,
                          uint64_t *removed);
/** Was @p id accepted? *at_ms (may be NULL) gets when. Any thread.
 * @return 0, STORE_ENOTFOUND, STORE_EINVAL, STORE_ECORRUPT. */
int store_delivery_get(store_t *s, const char *id, int64_t *at_ms);
/** How many ids are remembered. */
int store_deliveries_count(store_t *s, uint64_t *out);
/** The store actor's COMMAND "gh_deliveries": args {"ids": [[id, at_ms],
 * ...], "keep": n, "max_age_ms": n} (the last two optional, defaults
 * above): puts, then one trim. check validates the shape only. */
int store_deliveries_apply(store_txn_t *t, const json_t *args);
int store_deliveries_check(const json_t *args);

/* ---- small persisted values (the kv database; store_kv.c) ---- */

#define STORE_KV_NAME_MAX 200        /* "<owner>/<what>", printable ASCII */
#define STORE_KV_VALUE_MAX (1u << 20)

/** Put (replace) value @p name. @return 0, STORE_EINVAL, LMDB errors. */
int store_kv_put(store_txn_t *t, const char *name, const void *value,
                 size_t len);
/** Delete @p name (absent: 0). */
int store_kv_delete(store_txn_t *t, const char *name);
/** Read @p name: *value a malloc'd copy with a NUL after its *len bytes
 * (free it). Any thread. @return 0, STORE_ENOTFOUND, STORE_EINVAL,
 * STORE_ENOMEM. */
int store_kv_get(store_t *s, const char *name, void **value, size_t *len);
/** The store actor's COMMAND "kv": args {"name": ..., "value": string |
 * null} (null deletes). check validates the shape only. */
int store_kv_apply(store_txn_t *t, const json_t *args);
int store_kv_check(const json_t *args);

/* ---- the prioritizer's scores (store_prio.c) ---- */

/** Set task @p id's score (copied) and, when @p labels is not NULL, its
 * "prio:" labels (the stored task's other labels are kept as they are now,
 * the "prio:" ones in @p labels replace its "prio:" ones; then updated_at
 * = @p at), reading the task inside
 * this transaction so that changes committed since the caller read it are
 * kept; the ranked index moves with the score; no history entry.
 * @return 0, STORE_ENOTFOUND, STORE_EINVAL, STORE_ENOMEM, LMDB errors. */
int store_task_set_score(store_txn_t *t, const char *id,
                         const proto_score_t *score,
                         const proto_string_list_t *labels, int64_t at);
/** The store actor's COMMAND "prio": args {"task": id, "score": {"total",
 * "value", "time_criticality", "risk_reduction", "job_size", "why"},
 * "labels": [...] (optional), "at": unix ms (optional)}. check validates
 * the shape only. */
int store_prio_apply(store_txn_t *t, const json_t *args);
int store_prio_check(const json_t *args);

/* ---- the analyzer's sightings of findings (store_seen.c) ---- */

/** Apply a sighting @p seen (the COMMAND "seen" args below) to @p task:
 * location, text, author (when it has none), authored_at and
 * issue_number (when given), last_seen = updated_at = "at", a resolved
 * task back to new, the default score when the task has none (total 0,
 * not pinned) and, when "due" is present, its `due:` label (null: none;
 * other labels are kept). Nothing else changes. @return 0, STORE_ENOMEM. */
int store_task_merge_seen(proto_task_t *task, const json_t *seen);
/** The store actor's COMMAND "seen": args {"task": id, "at": unix ms,
 * "path", "symbol", "text", "author" (string or null), "line", "column",
 * "authored_at", "issue_number" (integers), "score": {"total", "why"}
 * (optional), "due": "YYYY-MM-DD" | null (optional)}: the task is read
 * inside the transaction and merged (store_task_merge_seen), so a score,
 * labels or a state committed since the analyzer read it are kept.
 * check validates the shape only. @return 0, STORE_ENOTFOUND,
 * STORE_EINVAL, STORE_ENOMEM, LMDB errors. */
int store_seen_apply(store_txn_t *t, const json_t *args);
int store_seen_check(const json_t *args);

/* ---- the GitHub actors' task fields (store_ghtask.c) ---- */

/** Apply the COMMAND "gh_task" args below to @p task: title, text, the
 * issue link, GitHub's labels (they replace every label but ccm's own
 * prefixes prio:, due:, stale:), and for a task of kind issue or
 * stale-issue its kind and `stale: <why>` label; updated_at = "at".
 * Nothing else changes. @return 0, STORE_ENOMEM. */
int store_task_merge_ghtask(proto_task_t *task, const json_t *args);
/** The store actor's COMMAND "gh_task": args {"task": id, "at": unix ms,
 * "reason" (the history reason of a creation or state change), "title",
 * "text", "labels": [...], "issue_number", "kind": "issue" |
 * "stale-issue", "stale": why | null, "new": a task as JSON (created as
 * is when the task does not exist), "event": a topic (the task as
 * committed is appended to the event log on it, in the same write)},
 * every one but task and at optional:
 * the task is read inside the transaction, so whatever was committed since
 * the caller read it is kept. check validates the shape only. @return 0,
 * STORE_ENOTFOUND (no task and no "new"), STORE_EINVAL, STORE_ENOMEM,
 * LMDB errors. */
int store_ghtask_apply(store_txn_t *t, const json_t *args);
int store_ghtask_check(const json_t *args);

/* ---- task steps: a transition and its event in one write (store_step.c) */

/** The store actor's COMMAND "task_step": args {"task": id, "to": state
 * name, "from": state name (refused unless the task is in it), "actor",
 * "reason", "at": unix ms, "attempt": true (one more attempt), "branch",
 * "pr_url", "event": topic}, all but task and to optional. The
 * transition (checked, in history), then the fields given,
 * then, with "event", the task as it now is (JSON, as REST shows it)
 * appended on that topic: all in the caller's transaction, and nothing
 * when the transition is refused. @return 0, STORE_ENOTFOUND,
 * STORE_ETRANSITION, STORE_EINVAL (check: the shape only), or -errno /
 * LMDB errors (the transaction must be given up). */
int store_step_apply(store_txn_t *t, const json_t *args);
int store_step_check(const json_t *args);

/* ---- has the store changed? (store_info.c) ---- */

/** The id of the snapshot a read begun now sees (the last write committed
 * by any process): it changes whenever anything is written, so an
 * unchanged id means nothing was (conservative: an event append counts
 * too). Read it BEFORE reading the data derived from it; 0 when the store
 * cannot be read (treat as "changed"). Thread-safe; one pooled read
 * transaction renewed and reset, no allocation. */
uint64_t store_last_txnid(store_t *s);

#ifdef __cplusplus
}
#endif
#endif /* STORE_STORE_H */
