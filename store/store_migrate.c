/*
 * store_migrate.c: bring a schema-1 to -4 store to schema 5, inside
 * the write transaction store_open() runs it in (all or nothing: on any
 * error the transaction is aborted and the old store is untouched).
 *
 * Versions: 1 had tasks, idx_state, idx_repo, history, events and meta;
 * 2 added idx_kind, findings, repos, audit and gh_cache (and a history
 * counter in meta); 3 keys tasks by row id (store_task.c). Both older
 * versions keep tasks the same way (id -> msgpack TASK, history under
 * id | 0 | seq), so one conversion serves both:
 *   1. every task record, in id order, gets the next row, its id map
 *      entry and its index keys (the record bytes are copied unchanged);
 *   2. every history entry moves to row | seq, keeping its seq, so each
 *      task's history keeps its order and new entries follow it;
 *   3. the old task databases are dropped and the history counter, which
 *      v3 does not need (seqs count per task), is deleted.
 * The databases v1 lacked (repos, findings, audit, gh_cache) are created.
 * 4 only adds databases (files, gh_deliveries, kv), created empty; 5
 * keys fingerprint ids packed in task_ids, so a v3 or v4 store has its
 * 40-hex-digit ids re-keyed (store__ids_pack) and nothing else: its
 * creation entries keep their older form, which is still read. A v1/v2
 * conversion enters the ids packed already.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define KEY_HIST_SEQ "history_seq" /* v2 only */

/* Step 1: the task records. */
static int convert_tasks(store_txn_t *t)
{
  MDB_cursor *c;
  MDB_val k, v;
  int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_V2_TASKS], &c);
  int op = MDB_FIRST;
  while (!rc && (rc = mdb_cursor_get(c, &k, &v, (MDB_cursor_op)op)) == 0) {
    op = MDB_NEXT;
    proto_task_t task;
    uint64_t row;
    bool existed = false;
    rc = store__task_decode(&v, &task);
    if (!rc && (k.mv_size != strlen(task.id) ||
                memcmp(k.mv_data, task.id, k.mv_size) != 0))
      rc = STORE_ECORRUPT; /* a record under another task's id */
    if (!rc)
      rc = store__id_claim(t, task.id, &row, &existed);
    if (!rc && existed)
      rc = STORE_ECORRUPT; /* not reached: the old keys were the ids */
    if (!rc)
      rc = store__task_insert(t, &task, &v, row);
    store_task_free(&task);
  }
  mdb_cursor_close(c);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The row of the task whose id starts history key @p k (id | 0 | seq). */
static int history_row(store_txn_t *t, const MDB_val *k, uint64_t *row)
{
  const char *id = k->mv_data;
  const char *nul = k->mv_size > 9 ? memchr(id, 0, k->mv_size - 8) : NULL;
  if (!nul || (size_t)(nul - id) != k->mv_size - 9)
    return STORE_ECORRUPT;
  char idz[STORE__KEY_MAX + 1];
  memcpy(idz, id, (size_t)(nul - id) + 1); /* the key's NUL included */
  int rc = store__row_of(t->txn, t->s, idz, row);
  return rc == STORE_ENOTFOUND ? STORE_ECORRUPT : rc; /* no such task */
}

/* Step 2: the history entries. */
static int convert_history(store_txn_t *t)
{
  MDB_cursor *c;
  MDB_val k, v;
  int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_V2_HISTORY], &c);
  int op = MDB_FIRST;
  while (!rc && (rc = mdb_cursor_get(c, &k, &v, (MDB_cursor_op)op)) == 0) {
    op = MDB_NEXT;
    uint64_t row = 0;
    rc = history_row(t, &k, &row);
    if (!rc)
      rc = store__history_put_at(
          t, row, store__get_be64((const char *)k.mv_data + k.mv_size - 8),
          &v);
  }
  mdb_cursor_close(c);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Step 3: drop what schema 3 does not have. */
static int drop_old(store_txn_t *t, unsigned from)
{
  static const int old_dbs[] = {DB_V2_TASKS, DB_V2_IDX_STATE, DB_V2_IDX_REPO,
                                DB_V2_IDX_KIND, DB_V2_HISTORY};
  int rc = 0;
  for (size_t i = 0; !rc && i < sizeof(old_dbs) / sizeof(old_dbs[0]); i++) {
    if (old_dbs[i] == DB_V2_IDX_KIND && from < 2)
      continue; /* v1 had none */
    rc = mdb_drop(t->txn, t->s->dbi[old_dbs[i]], 1);
  }
  MDB_val mk = store__str_val(KEY_HIST_SEQ);
  if (!rc)
    rc = store__del(t, DB_META, &mk);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

int store__migrate(store_txn_t *t, unsigned from)
{
  int rc = store__open_dbis(t->s, t->txn, from, false);
  if (!rc)
    rc = store__open_dbis(t->s, t->txn, STORE_SCHEMA_VERSION, true);
  if (rc)
    return rc;
  if (from >= 3) /* 3 -> 4 only added (empty) databases; -> 5 packs ids */
    return store__ids_pack(t);
  rc = convert_tasks(t);
  if (!rc)
    rc = convert_history(t);
  if (!rc)
    rc = drop_old(t, from);
  return rc;
}
