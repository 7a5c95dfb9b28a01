/*
 * store_test.h: helpers shared by the store suites (tests/store/).
 *
 * Temporary store directories, task builders with owned strings, a file
 * fingerprint (to prove a refused file was not touched), a version-1 store
 * built with plain LMDB calls (the migration fixture), and an independent
 * consistency check that reads ccm.lmdb with plain LMDB calls: every task
 * record has exactly its index keys and every index key points to a task
 * with matching fields. Everything asserts with criterion on failure.
 */
#ifndef TESTS_SUPPORT_STORE_TEST_H
#define TESTS_SUPPORT_STORE_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/proto.h"
#include "store/store.h"

/* Assert that @p expr (a store_ call) returned @p want, naming both codes. */
#define TST_SRC(expr, want)                                                  \
  do {                                                                       \
    int tst_src_ = (expr);                                                   \
    cr_assert_eq(tst_src_, (want), "%s\n  returned %d (%s), expected %s",    \
                 #expr, tst_src_, store_strerror(tst_src_),                  \
                 store_strerror(want));                                      \
  } while (0)
#define TST_SOK(expr) TST_SRC(expr, 0)

/* ---- directories and files ---- */
/** A fresh empty directory under $TMPDIR (or /tmp); free() the path. */
char *tst_tmpdir(void);
/** Remove @p path and everything below it (no-op when absent). */
void tst_rmrf(const char *path);
/** "<dir>/ccm.lmdb" in a static buffer per call site (copy it if kept). */
const char *tst_store_file(const char *dir, char *buf, size_t len);
/** FNV-1a 64 of a file's bytes; *size gets its length. Asserts it exists. */
uint64_t tst_file_hash(const char *path, size_t *size);
bool tst_exists(const char *path);
/** Number of entries (besides . and ..) in a directory; -1 if absent. */
int tst_dir_entries(const char *path);

/* ---- tasks ---- */
/** Fill @p t (zeroed first) with a realistic task whose strings are
 * malloc'd (store_task_free releases them). */
void tst_task_init(proto_task_t *t, const char *id, const char *repo,
                   const char *kind, proto_state_t state, double score);
/** The same wrapped in a TASK message (proto_msg_fini frees it). */
void tst_task_msg(proto_msg_t *m, const char *id, const char *repo,
                  const char *kind, proto_state_t state, double score);
/** A TASK_UPDATE message (owned strings). */
void tst_update_msg(proto_msg_t *m, const char *id, proto_state_t from,
                    proto_state_t to, const char *actor, const char *reason,
                    int64_t at);

/* ---- stores ---- */
store_t *tst_store_open(const char *dir, const store_options_t *opt);
/** Upsert one task in its own (no_sync-friendly) transaction. */
void tst_put(store_t *s, const proto_task_t *t);

/* A sequence of legal states from NEW (per proto_state_transition_ok),
 * each different from the previous one; returns its length (<= COUNT). */
int tst_state_chain(proto_state_t *out, int max);

/* ---- raw LMDB views (the store must be closed in this process) ---- */
/** Build a schema-1 store in @p dir with plain LMDB calls: meta {magic,
 * schema_version 1}, tasks, idx_state, idx_repo, history, events; @p n
 * tasks "v1-<i>" (kinds cycling todo/fixme/hack, repos r0/r1, states
 * cycling triaged/skipped/blocked/triaged), each with a history entry
 * new -> its state keyed id|0|seq (seq 1..n, no counter in meta), and one
 * event. */
void tst_build_v1(const char *dir, int n);
/** Build a schema-2 store in @p dir with plain LMDB calls: all eleven v2
 * databases; @p n tasks "v2-<i>" (repos r0/r1/r2 by i % 3, kinds
 * todo/fixme by i % 2, score i % 5 + 0.25). Every task was created
 * triaged (an EVENT "task.created" by actor "v2", at 1650000000000 + i);
 * tasks with i % 3 == 0 then moved to ready and those with i % 6 == 0 on
 * to running (TASK_UPDATEs by "v2", reason "moved"), the record in its
 * end state. History keys are id | 0 | seq with one counter for all tasks,
 * handed out pass by pass (creations 1..n first, so one task's seqs are
 * far apart), and meta "history_seq" holds the last. Also: event seq 7,
 * repos "r0" -> {"path":"/src/r0"}, and gh_cache
 * "https://api.github.com/repos/o/r/issues" -> TST_V2_GH_VALUE. */
#define TST_V2_GH_VALUE "W/\"e1\"\0\0[]"
void tst_build_v2(const char *dir, int n);
/** Put one record into database @p db of the store in @p dir. */
void tst_raw_put(const char *dir, const char *db, const void *k, size_t kl,
                 const void *v, size_t vl);
/** Does database @p db of the store in @p dir hold exactly @p v at @p k? */
bool tst_raw_equals(const char *dir, const char *db, const void *k,
                    size_t kl, const void *v, size_t vl);
/** The id of the last committed write transaction (LMDB's txnid). */
uint64_t tst_last_txnid(const char *dir);
/** Rewrite meta schema_version of the store in @p dir (plain LMDB). */
void tst_set_schema_version(const char *dir, uint32_t v);
/** Delete database @p db (plain LMDB), as an older schema would lack it. */
void tst_drop_db(const char *dir, const char *db);
/** Does the store in @p dir have a named database @p db? */
bool tst_db_exists(const char *dir, const char *db);
/** An LMDB environment at <dir>/ccm.lmdb with named databases that are not
 * ccm's (no meta). */
void tst_build_foreign_lmdb(const char *dir);

typedef struct tst_raw_report {
  size_t tasks;           /* records in the tasks database */
  size_t by_state[PROTO_STATE_COUNT];
  size_t history;         /* history entries of all tasks */
} tst_raw_report_t;
/** Check with plain LMDB (schema-3 layout, store/store_task.c) that the
 * id map and the indexes match the task records exactly (both directions),
 * that every task has history, in seq order and chained, whose last
 * entry's "to" is its state, that no history belongs to a missing row,
 * and that no database of an older schema is left. Asserts; fills @p out
 * when non-NULL. */
void tst_raw_check(const char *dir, tst_raw_report_t *out);

/* ---- collecting store_task_foreach results ---- */
typedef struct tst_task_row {
  char *id, *repo, *kind;
  proto_state_t state;
  double score;
} tst_task_row_t;
typedef struct tst_task_list {
  tst_task_row_t *rows;
  size_t n, cap;
} tst_task_list_t;
/** store_task_foreach into @p out (appended); returns its rc. */
int tst_collect(store_t *s, const store_filter_t *f, tst_task_list_t *out);
void tst_task_list_free(tst_task_list_t *l);
/** History of @p id as an array of updates (owned); returns the count. */
size_t tst_history(store_t *s, const char *id, proto_task_update_t **out);
void tst_history_free(proto_task_update_t *h, size_t n);

/* ---- processes ---- */
/** Path of a built program from the environment variable @p var (set by
 * tests/meson.build); asserts it is set and executable. */
const char *tst_prog(const char *var);
/** Run argv to completion (bounded by @p timeout_ms; killed beyond),
 * capturing stdout and stderr (NUL-terminated, malloc'd). Returns the exit
 * status, or -1 when killed by the time limit. */
int tst_run(char *const argv[], int timeout_ms, char **out, char **err);

/* A child whose stdout is read line by line (stderr is inherited). */
typedef struct tst_child {
  int pid;
  int fd;            /* read end of the child's stdout; -1 at EOF */
  char buf[8192];
  size_t len;
} tst_child_t;
/** Start argv[0] with argv; asserts. */
void tst_child_start(tst_child_t *c, char *const argv[]);
/** Next line (without the newline) into @p line: 1 a line, 0 EOF, -1 no
 * line within @p timeout_ms. */
int tst_child_line(tst_child_t *c, char *line, size_t cap, int timeout_ms);
/** SIGKILL (if still running) and reap; returns the wait status. */
int tst_child_kill(tst_child_t *c);
/** Close the pipe (after reading to EOF or giving up). */
void tst_child_close(tst_child_t *c);

#endif /* TESTS_SUPPORT_STORE_TEST_H */
