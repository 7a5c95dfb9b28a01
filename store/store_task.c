/*
 * store_task.c: tasks, their indexes and their history (schema v3).
 *
 * Design: a task lives under a row id, a u64 handed out in sequence (the
 * last row + 1), and its fingerprint id maps to that row. Keys that are
 * written at every upsert are then sequential wherever the query allows:
 * a new task's record and its first history entry go to the end of
 * task_rows (MDB_APPEND), side by side in one leaf, and the repo/kind
 * index keys end in the row, so they append within their prefix. Only the
 * id map and the rank key are random per new task, and both are small
 * (40 + 8 and 18 bytes), so a commit of many new tasks dirties a few
 * hundred small leaves instead of one 4 KiB leaf of the big record tree
 * per task. Three databases, not six: LMDB copies the root-to-leaf path of
 * every tree a transaction changes, so each tree touched is pages written
 * at commit (LMDB writes every dirty page at commit: the page count is
 * what a commit costs; store/README.md has the measurements).
 *
 *   task_ids    task id -> row(8); since schema 5 an id of 40 lower-case
 *               hex digits (a fingerprint) is keyed 0 | its 20 bytes
 *               (key_id): 38 bytes an entry instead of 58, so a batch of
 *               new tasks dirties fewer of this tree's random leaves
 *   task_rows   row(8) -> msgpack TASK
 *               row(8) | seq(8) -> history entry: msgpack TASK_UPDATE, or
 *               the creation (a compact entry since schema 5, an EVENT
 *               "task.created" before: see created_encode); seq counts
 *               from 1
 *   task_index  'r' | state(1) | ~score(8) | row(8) -> ""  (ranked lists)
 *               'p' | repo | 0 | row(8) -> ""
 *               'k' | kind | 0 | row(8) -> ""
 *
 * An upsert writes only what changed: the id is entered with
 * MDB_NOOVERWRITE, which in the same descent hands back the row of a task
 * that exists (and then writes nothing); an identical record is not
 * rewritten, and an index key is moved only when its fields changed (a
 * rescan that re-upserts unchanged tasks dirties no page). Every entry is
 * encoded (and so validated) before anything is written: a write that
 * fails validation changes nothing, also inside a shared transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* ------------------------------------------------------------ keys */

typedef struct keybuf {
  unsigned char b[PROTO_MAX_STR + 16];
  size_t len;
} keybuf_t;

static MDB_val key_val(const keybuf_t *k) { return store__val(k->b, k->len); }

/* Map a double to a u64 whose unsigned order is the number order. */
static uint64_t score_order(double d)
{
  uint64_t bits;
  memcpy(&bits, &d, sizeof(bits));
  return (bits & 0x8000000000000000ull) ? ~bits : bits | 0x8000000000000000ull;
}

static void key_row(keybuf_t *k, uint64_t row)
{
  store__put_be64(k->b, row);
  k->len = 8;
}

/* The three kinds of task_index keys, by their first byte. */
#define IDX_RANK 'r'
#define IDX_REPO 'p'
#define IDX_KIND 'k'

static void key_rank(keybuf_t *k, const proto_task_t *t, uint64_t row)
{
  k->b[0] = IDX_RANK;
  k->b[1] = (unsigned char)t->state;
  store__put_be64(k->b + 2, ~score_order(t->score.total));
  store__put_be64(k->b + 10, row);
  k->len = 18;
}

/* tag | prefix | 0 | row */
static int key_pair(keybuf_t *k, char tag, const char *prefix, uint64_t row)
{
  size_t n = strlen(prefix);
  if (n > PROTO_MAX_STR)
    return STORE_EINVAL;
  k->b[0] = (unsigned char)tag;
  memcpy(k->b + 1, prefix, n);
  k->b[n + 1] = 0;
  store__put_be64(k->b + n + 2, row);
  k->len = n + 10;
  return 0;
}

static void key_history(keybuf_t *k, uint64_t row, uint64_t seq)
{
  store__put_be64(k->b, row);
  store__put_be64(k->b + 8, seq);
  k->len = 16;
}

/* The task_ids key of @p id: a 40-digit lower-case hex id (a
 * fingerprint, what ccm's ids are) packed into 0 | 20 bytes, so the id
 * map, the one tree every new task writes at a random place, holds 38
 * bytes per task instead of 58; any other id as its own bytes (never
 * starting with 0, so the two kinds cannot meet). */
static void key_id(keybuf_t *k, const char *id)
{
  static const signed char hex[256] = {
      ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
      ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12,
      ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16};
  size_t n = strlen(id);
  if (n == 2 * STORE__ID_BYTES) {
    const unsigned char *p = (const unsigned char *)id;
    k->b[0] = 0;
    for (size_t i = 0; i < STORE__ID_BYTES; i++) {
      int hi = hex[p[2 * i]], lo = hex[p[2 * i + 1]];
      if (!hi || !lo)
        goto raw;
      k->b[1 + i] = (unsigned char)((hi - 1) << 4 | (lo - 1));
    }
    k->len = 1 + STORE__ID_BYTES;
    return;
  }
raw:
  memcpy(k->b, id, n); /* n <= STORE__KEY_MAX: checked by the callers */
  k->len = n;
}

/* ------------------------------------------------------------ lookups */

int store__task_decode(const MDB_val *v, proto_task_t *out)
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

/* The row that id key @p kb maps to in task_ids. */
static int row_of_key(MDB_txn *txn, const store_t *s, const keybuf_t *kb,
                      uint64_t *row)
{
  MDB_val k = key_val(kb), v;
  int rc = mdb_get(txn, s->dbi[DB_TASK_IDS], &k, &v);
  if (rc == MDB_NOTFOUND)
    return STORE_ENOTFOUND;
  if (rc)
    return rc;
  if (v.mv_size != 8)
    return STORE_ECORRUPT;
  *row = store__get_be64(v.mv_data);
  return 0;
}

int store__row_of(MDB_txn *txn, const store_t *s, const char *id,
                  uint64_t *row)
{
  keybuf_t kb;
  key_id(&kb, id);
  return row_of_key(txn, s, &kb, row);
}

static int record_of(MDB_txn *txn, const store_t *s, uint64_t row,
                     MDB_val *rec)
{
  keybuf_t k;
  key_row(&k, row);
  MDB_val kv = key_val(&k);
  int rc = mdb_get(txn, s->dbi[DB_TASK_ROWS], &kv, rec);
  if (rc == 0) { /* the decode walks it from the start: load it all now */
    const char *b = rec->mv_data;
    for (size_t o = 0; o < rec->mv_size; o += 64)
      __builtin_prefetch(b + o);
  }
  return rc == MDB_NOTFOUND ? STORE_ECORRUPT : rc; /* the id map said so */
}

/* Find task @p id: its row, its record bytes (valid in @p txn until the
 * next write) and, decoded, the task (zeroed unless 0 is returned; free
 * it with store_task_free). */
static int task_find(MDB_txn *txn, const store_t *s, const char *id,
                     uint64_t *row, MDB_val *rec, proto_task_t *out)
{
  memset(out, 0, sizeof(*out));
  if (strlen(id) > STORE__KEY_MAX)
    return STORE_ENOTFOUND; /* longer than any stored id */
  int rc = store__row_of(txn, s, id, row);
  if (!rc)
    rc = record_of(txn, s, *row, rec);
  return rc ? rc : store__task_decode(rec, out);
}

int store__task_read(store_txn_t *t, const char *id, proto_task_t *out)
{
  uint64_t row;
  MDB_val rec;
  return task_find(t->txn, t->s, id, &row, &rec, out);
}

/* ------------------------------------------------------------ indexes */

static int index_put(store_txn_t *t, const keybuf_t *k)
{
  MDB_val kv = key_val(k), empty = store__val("", 0);
  return store__put(t, DB_TASK_INDEX, &kv, &empty, 0);
}

static int index_del(store_txn_t *t, const keybuf_t *k)
{
  MDB_val kv = key_val(k);
  int rc = store__del(t, DB_TASK_INDEX, &kv);
  return rc == MDB_NOTFOUND ? 0 : rc; /* already gone is what we wanted */
}

/* Move the rank key of @p row from @p old (NULL: none) to @p nt, unless
 * state and score are unchanged. */
static int rank_update(store_txn_t *t, uint64_t row, const proto_task_t *old,
                       const proto_task_t *nt)
{
  keybuf_t k;
  if (old && old->state == nt->state &&
      score_order(old->score.total) == score_order(nt->score.total))
    return 0;
  int rc = 0;
  if (old) {
    key_rank(&k, old, row);
    rc = index_del(t, &k);
  }
  key_rank(&k, nt, row);
  return rc ? rc : index_put(t, &k);
}

/* The same for a tag | prefix | 0 | row key (repo, kind). */
static int pair_update(store_txn_t *t, char tag, uint64_t row,
                       const char *old, const char *now)
{
  keybuf_t k;
  if (old && strcmp(old, now) == 0)
    return 0;
  int rc = 0;
  if (old && (rc = key_pair(&k, tag, old, row)) == 0)
    rc = index_del(t, &k);
  if (!rc)
    rc = key_pair(&k, tag, now, row);
  return rc ? rc : index_put(t, &k);
}

static int indexes_update(store_txn_t *t, uint64_t row,
                          const proto_task_t *old, const proto_task_t *nt)
{
  int rc = rank_update(t, row, old, nt);
  if (!rc)
    rc = pair_update(t, IDX_REPO, row, old ? old->repo : NULL, nt->repo);
  if (!rc)
    rc = pair_update(t, IDX_KIND, row, old ? old->kind : NULL, nt->kind);
  return rc;
}

/* ------------------------------------------------------------ records */

/* The next row id: one more than the last row (read once per txn). */
static int next_row(store_txn_t *t, uint64_t *row)
{
  if (!t->next_row) {
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_TASK_ROWS], &c);
    if (rc)
      return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND)
      return rc;
    /* The last key is the last row's record or history entry. */
    t->next_row = (!rc && k.mv_size >= 8) ? store__get_be64(k.mv_data) + 1 : 1;
  }
  *row = t->next_row;
  return 0;
}

int store__id_claim(store_txn_t *t, const char *id, uint64_t *row,
                    bool *existed)
{
  unsigned char rb[8];
  int rc = next_row(t, row);
  if (rc)
    return rc;
  store__put_be64(rb, *row);
  keybuf_t kb;
  key_id(&kb, id);
  MDB_val k = key_val(&kb), v = store__val(rb, 8);
  /* One descent both ways: a new id is entered, an existing one is
   * returned in v (and nothing is written). */
  rc = store__put(t, DB_TASK_IDS, &k, &v, MDB_NOOVERWRITE);
  *existed = rc == MDB_KEYEXIST;
  if (rc == 0)
    t->next_row++;
  if (!*existed)
    return rc;
  if (v.mv_size != 8)
    return STORE_ECORRUPT;
  *row = store__get_be64(v.mv_data);
  return 0;
}

int store__ids_pack(store_txn_t *t)
{
  typedef struct { char id[2 * STORE__ID_BYTES + 1]; unsigned char row[8]; }
      packable_t;
  packable_t *todo = NULL;
  size_t n = 0, cap = 0;
  MDB_cursor *c;
  MDB_val k, v;
  int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_TASK_IDS], &c);
  if (rc)
    return rc;
  for (int op = MDB_FIRST; !rc; op = MDB_NEXT) {
    if ((rc = mdb_cursor_get(c, &k, &v, (MDB_cursor_op)op)) != 0)
      break;
    keybuf_t kb;
    char id[2 * STORE__ID_BYTES + 1];
    if (k.mv_size != 2 * STORE__ID_BYTES || v.mv_size != 8)
      continue; /* not a hex id: its key stays as it is */
    memcpy(id, k.mv_data, k.mv_size);
    id[k.mv_size] = 0;
    key_id(&kb, id);
    if (kb.len == k.mv_size)
      continue;
    if (n == cap) {
      packable_t *p = realloc(todo, (cap = cap ? 2 * cap : 256) * sizeof(*p));
      if (!p) {
        rc = STORE_ENOMEM;
        break;
      }
      todo = p;
    }
    memcpy(todo[n].id, id, sizeof(id));
    memcpy(todo[n++].row, v.mv_data, 8);
  }
  mdb_cursor_close(c);
  rc = rc == MDB_NOTFOUND ? 0 : rc;
  for (size_t i = 0; !rc && i < n; i++) { /* moved once all were listed */
    keybuf_t kb;
    MDB_val old = store__str_val(todo[i].id), row = store__val(todo[i].row, 8);
    key_id(&kb, todo[i].id);
    MDB_val packed = key_val(&kb);
    rc = store__del(t, DB_TASK_IDS, &old);
    if (!rc)
      rc = store__put(t, DB_TASK_IDS, &packed, &row, MDB_NOOVERWRITE);
  }
  free(todo);
  return rc == MDB_KEYEXIST ? STORE_ECORRUPT : rc;
}

int store__task_insert(store_txn_t *t, const proto_task_t *task,
                       const MDB_val *record, uint64_t row)
{
  keybuf_t k;
  key_row(&k, row);
  MDB_val kv = key_val(&k), rec = *record;
  /* The largest row so far: appended at the end. Nothing below fails but
   * LMDB (the task was validated), which breaks the transaction anyway. */
  int rc = store__put(t, DB_TASK_ROWS, &kv, &rec, MDB_APPEND);
  return rc ? rc : indexes_update(t, row, NULL, task);
}

static int record_replace(store_txn_t *t, uint64_t row, const MDB_val *rec)
{
  keybuf_t k;
  key_row(&k, row);
  MDB_val kv = key_val(&k), v = *rec;
  return store__put(t, DB_TASK_ROWS, &kv, &v, 0);
}

/* Encode a task into @p buf (cleared first). */
static int task_encode(msgpack_sbuffer *buf, const proto_task_t *task,
                       MDB_val *out)
{
  proto_msg_t m = {.type = PROTO_TASK};
  m.u.task = *task;
  msgpack_sbuffer_clear(buf);
  int rc = proto_msgpack_encode(&m, buf);
  if (!rc)
    *out = store__val(buf->data, buf->size);
  return rc;
}

/* ------------------------------------------------------------ history */

/*
 * A transition is a TASK_UPDATE. A task's creation is not a transition
 * (the protocol refuses an update from a state to itself, and a task may
 * be created in a state that "new" cannot reach); store_history_foreach()
 * reports it as an update from "new" to the initial state. Since schema 5
 * a creation is stored in a compact form of the store's own (a new task
 * writes one, so its size and its cost are per task written):
 *   0xc1 | state(1) | at(8) | has(1) | actor | 0 | reason | 0
 * where 0xc1 is the one byte msgpack never uses (no protocol message
 * starts with it) and has says which of actor (1) and reason (2) were
 * given (absent ones are stored as ""). Schemas 3 and 4 wrote an EVENT
 * with topic HIST_CREATED and data {"task_id", "state", "actor",
 * "reason", "at"}, still read.
 */
#define HIST_CREATED "task.created"
#define HIST_CREATED_TAG 0xc1
#define HIST_CREATED_HEAD 11 /* tag, state, at, has */

static int created_encode(msgpack_sbuffer *buf, proto_state_t state,
                          const char *actor, const char *reason, int64_t at)
{
  unsigned char head[HIST_CREATED_HEAD];
  head[0] = HIST_CREATED_TAG;
  head[1] = (unsigned char)state;
  store__put_be64(head + 2, (uint64_t)at);
  head[10] = (unsigned char)((actor ? 1 : 0) | (reason ? 2 : 0));
  const char *a = actor ? actor : "", *r = reason ? reason : "";
  msgpack_sbuffer_clear(buf);
  if (msgpack_sbuffer_write(buf, (const char *)head, sizeof(head)) ||
      msgpack_sbuffer_write(buf, a, strlen(a) + 1) ||
      msgpack_sbuffer_write(buf, r, strlen(r) + 1))
    return STORE_ENOMEM;
  return 0;
}

/* A compact creation entry as an update (strings borrowed from @p v). */
static int created_decode(const MDB_val *v, const char *id,
                          proto_task_update_t *u)
{
  const char *p = v->mv_data, *end = p + v->mv_size;
  if (v->mv_size < HIST_CREATED_HEAD + 2 ||
      (unsigned char)p[1] >= PROTO_STATE_COUNT)
    return STORE_ECORRUPT;
  unsigned has = (unsigned char)p[10];
  const char *actor = p + HIST_CREATED_HEAD;
  const char *nul = memchr(actor, 0, (size_t)(end - actor));
  const char *reason = nul ? nul + 1 : end;
  nul = reason < end ? memchr(reason, 0, (size_t)(end - reason)) : NULL;
  if (!nul || nul + 1 != end)
    return STORE_ECORRUPT;
  *u = (proto_task_update_t){
      .task_id = (char *)id,
      .from = PROTO_STATE_NEW,
      .to = (proto_state_t)(unsigned char)p[1],
      .actor = (has & 1) ? (char *)actor : NULL,
      .reason = (has & 2) ? (char *)reason : NULL,
      .at = (int64_t)store__get_be64(p + 2)};
  return 0;
}

/* Encode a transition's history entry into @p buf (cleared first). */
static int history_encode(msgpack_sbuffer *buf, const char *id,
                          proto_state_t from, proto_state_t to,
                          const char *actor, const char *reason, int64_t at)
{
  proto_msg_t m = {.type = PROTO_TASK_UPDATE};
  m.u.task_update = (proto_task_update_t){
      .task_id = (char *)id, .from = from, .to = to,
      .reason = (char *)reason, .actor = (char *)actor, .at = at};
  msgpack_sbuffer_clear(buf);
  return proto_msgpack_encode(&m, buf);
}

/* The last seq of @p row's history (0 when it has none). */
static int history_last_seq(store_txn_t *t, uint64_t row, uint64_t *seq)
{
  keybuf_t k;
  key_row(&k, row + 1); /* just past this row's record and entries */
  MDB_val kv = key_val(&k), v;
  MDB_cursor *c;
  int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_TASK_ROWS], &c);
  if (rc)
    return rc;
  rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE);
  if (rc == 0 || rc == MDB_NOTFOUND) /* the entry before, or the last one */
    rc = mdb_cursor_get(c, &kv, &v, rc == 0 ? MDB_PREV : MDB_LAST);
  *seq = 0;
  if (!rc && kv.mv_size == 16 && store__get_be64(kv.mv_data) == row)
    *seq = store__get_be64((const unsigned char *)kv.mv_data + 8);
  mdb_cursor_close(c);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

static int history_put(store_txn_t *t, uint64_t row, uint64_t seq,
                       const MDB_val *entry, unsigned flags)
{
  keybuf_t k;
  key_history(&k, row, seq);
  MDB_val kv = key_val(&k), v = *entry;
  return store__put(t, DB_TASK_ROWS, &kv, &v, flags);
}

int store__history_put_at(store_txn_t *t, uint64_t row, uint64_t seq,
                          const MDB_val *entry)
{
  return history_put(t, row, seq, entry, 0);
}

/* Append @p entry to @p row's history. */
static int history_append(store_txn_t *t, uint64_t row, bool new_row,
                          const MDB_val *entry)
{
  if (new_row) /* its record was just appended: the entry sorts next */
    return history_put(t, row, 1, entry, MDB_APPEND);
  uint64_t seq;
  int rc = history_last_seq(t, row, &seq);
  return rc ? rc : history_put(t, row, seq + 1, entry, 0);
}

/* ------------------------------------------------------------ writes */

static bool same_bytes(const MDB_val *a, const MDB_val *b)
{
  return a->mv_size == b->mv_size &&
         memcmp(a->mv_data, b->mv_data, a->mv_size) == 0;
}

/* Ids, repos and kinds are parts of LMDB keys, which hold at most
 * STORE__KEY_MAX bytes: longer ones are refused here, as a bad write,
 * rather than by LMDB, which would break the whole transaction. */
static bool task_valid(const proto_task_t *task)
{
  return task && task->id && task->repo && task->kind && task->id[0] &&
         strlen(task->id) <= STORE__KEY_MAX &&
         strlen(task->repo) <= STORE__KEY_MAX - 10 &&
         strlen(task->kind) <= STORE__KEY_MAX - 10;
}

int store__task_prepare(const proto_task_t *task, const char *actor,
                        const MDB_val *encoded, msgpack_sbuffer *rec,
                        msgpack_sbuffer *created, store__task_prep_t *out)
{
  if (!task_valid(task))
    return STORE_EINVAL;
  out->task = task;
  int rc = 0;
  if (encoded)
    out->record = *encoded;
  else
    rc = task_encode(rec, task, &out->record);
  if (!rc)
    rc = created_encode(created, task->state, actor, "created",
                        task->updated_at);
  if (!rc)
    out->created = store__val(created->data, created->size);
  return rc;
}

/* Update existing task @p old (at @p row, stored as @p oldrec) to @p p. */
static int task_update(store_txn_t *t, const store__task_prep_t *p,
                       uint64_t row, const proto_task_t *old,
                       const MDB_val *oldrec, const char *actor,
                       const char *reason)
{
  const proto_task_t *task = p->task;
  bool moved = old->state != task->state;
  if (moved && !proto_state_transition_ok(old->state, task->state))
    return STORE_ETRANSITION;
  proto_task_t nt = *task; /* shallow: only scalar fields change */
  nt.first_seen = old->first_seen ? old->first_seen : task->first_seen;
  MDB_val rec = p->record, entry;
  int rc = 0;
  if (nt.first_seen != task->first_seen) /* (p may point into t->buf) */
    rc = task_encode(&t->buf, &nt, &rec);
  if (!rc && moved)
    rc = history_encode(&t->hbuf, task->id, old->state, task->state,
                        actor, reason, task->updated_at);
  entry = store__val(t->hbuf.data, t->hbuf.size);
  if (!rc && !same_bytes(&rec, oldrec)) { /* else: nothing changed */
    rc = record_replace(t, row, &rec);
    if (!rc)
      rc = indexes_update(t, row, old, &nt);
  }
  if (!rc && moved)
    rc = history_append(t, row, false, &entry);
  return rc;
}

/* The upsert of a task that exists, under @p row. */
static int task_put_existing(store_txn_t *t, const store__task_prep_t *p,
                             uint64_t row, const char *actor,
                             const char *reason)
{
  MDB_val oldrec;
  proto_task_t old = {0};
  int rc = record_of(t->txn, t->s, row, &oldrec);
  if (!rc)
    rc = store__task_decode(&oldrec, &old);
  if (!rc)
    rc = task_update(t, p, row, &old, &oldrec, actor, reason);
  store_task_free(&old);
  return rc;
}

int store__task_put_prepared(store_txn_t *t, const store__task_prep_t *p,
                             const char *actor, const char *reason)
{
  uint64_t row = 0;
  bool existed = false;
  int rc = store__id_claim(t, p->task->id, &row, &existed);
  if (!rc && !existed) { /* new: record and creation as prepared */
    rc = store__task_insert(t, p->task, &p->record, row);
    return rc ? rc : history_append(t, row, true, &p->created);
  }
  return rc ? rc : task_put_existing(t, p, row, actor, reason);
}

/* ------------------------------------------------------------ runs */

/* A run of upserts in one transaction (the store actor's batches): the
 * same writes as store__task_put_prepared one by one, with fewer descents.
 * mdb_put descends from the root for every key, and a random key finds a
 * cold path; a cursor moved in key order stays on its leaf while the keys
 * fall inside it. So the ids are looked up in key order, each upsert is
 * then applied in arrival order (a new task takes the next row, so rows
 * keep the order the writes came in, and its record and creation entry
 * are appended through one cursor), and the new tasks' id entries and
 * index keys are put last, in key order. The trees hold the entries the
 * upserts would have made one by one, byte for byte (which keys a tree
 * holds does not depend on the order they were put in). A repeated id in
 * the run is applied after the rest, in arrival order, by
 * store__task_put_prepared: upserts of different tasks touch disjoint
 * keys, so only the order among the upserts of one task matters. Nothing
 * is allocated once writing began. */

typedef enum { RUN_NEW, RUN_EXISTS, RUN_REPEAT } run_kind_t;

typedef struct run_key {
  uint64_t head; /* the key's first 8 bytes, big-endian: its order */
  MDB_val k;     /* bytes in the run's arena */
  size_t item;   /* the upsert's place in the run */
} run_key_t;

typedef struct run {
  run_key_t *ids;   /* one per upsert, sorted */
  run_key_t *index; /* the new tasks' index keys */
  size_t nindex;
  run_key_t *tmp;   /* for sorting: room for the index keys */
  run_kind_t *kind;
  uint64_t *row;
  unsigned char *bytes; /* the keys' bytes, sized by run_alloc */
  size_t used;
} run_t;

/* LMDB's default key order (bytes, then length); ties by arrival. */
static int run_key_cmp(const void *a, const void *b)
{
  const run_key_t *x = a, *y = b;
  size_t n = x->k.mv_size < y->k.mv_size ? x->k.mv_size : y->k.mv_size;
  int d = memcmp(x->k.mv_data, y->k.mv_data, n);
  if (d == 0 && x->k.mv_size != y->k.mv_size)
    d = x->k.mv_size < y->k.mv_size ? -1 : 1;
  if (d == 0)
    d = x->item < y->item ? -1 : x->item > y->item;
  return d;
}

static run_key_t run_keep(run_t *r, const keybuf_t *k, size_t item)
{
  unsigned char *p = r->bytes + r->used, head[8] = {0};
  memcpy(p, k->b, k->len);
  memcpy(head, k->b, k->len < 8 ? k->len : 8);
  r->used += k->len;
  return (run_key_t){.head = store__get_be64(head),
                     .k = store__val(p, k->len), .item = item};
}

/* Sort @p n keys of @p r as run_key_cmp does, in linear time: the keys
 * are in arrival order, so a stable radix sort on their first 8 bytes
 * leaves only keys with the same first 8 bytes to order by the rest
 * (index keys of one prefix already are: their rows rise). */
static void run_sort(run_t *r, run_key_t *a, size_t n)
{
  for (unsigned shift = 0; shift < 64; shift += 8) {
    size_t at[257] = {0};
    for (size_t i = 0; i < n; i++)
      at[((a[i].head >> shift) & 0xff) + 1]++;
    if (n == 0 || at[((a[0].head >> shift) & 0xff) + 1] == n)
      continue; /* one byte value: this pass would change nothing */
    for (size_t b = 1; b < 257; b++)
      at[b] += at[b - 1];
    for (size_t i = 0; i < n; i++)
      r->tmp[at[(a[i].head >> shift) & 0xff]++] = a[i];
    memcpy(a, r->tmp, n * sizeof(*a));
  }
  for (size_t i = 0, j; i < n; i = j) {
    bool sorted = true;
    for (j = i + 1; j < n && a[j].head == a[i].head; j++)
      sorted = sorted && run_key_cmp(&a[j - 1], &a[j]) < 0;
    if (!sorted)
      qsort(a + i, j - i, sizeof(*a), run_key_cmp);
  }
}

/* One block for the run: its key arrays, rows, kinds and key bytes. */
static int run_alloc(run_t *r, const store__task_prep_t *const *p, size_t n)
{
  size_t bytes = 0;
  for (size_t i = 0; i < n; i++) /* id, rank, repo and kind keys */
    bytes += strlen(p[i]->task->id) + strlen(p[i]->task->repo) +
             strlen(p[i]->task->kind) + 18 + 2 * 10;
  size_t keys = 7 * n; /* ids n, index keys 3n, sorting room 3n */
  unsigned char *b = malloc(keys * sizeof(run_key_t) +
                            n * (sizeof(uint64_t) + sizeof(run_kind_t)) +
                            bytes);
  if (!b)
    return STORE_ENOMEM;
  r->ids = (run_key_t *)b;
  r->index = r->ids + n;
  r->tmp = r->index + 3 * n;
  r->row = (uint64_t *)(r->tmp + 3 * n);
  r->kind = (run_kind_t *)(r->row + n);
  r->bytes = (unsigned char *)(r->kind + n);
  return 0;
}

/* Key every id, sort, and look each up through one cursor. */
static int run_lookup(store_txn_t *t, run_t *r,
                      const store__task_prep_t *const *p, size_t n)
{
  keybuf_t kb;
  for (size_t i = 0; i < n; i++) {
    key_id(&kb, p[i]->task->id);
    r->ids[i] = run_keep(r, &kb, i);
  }
  run_sort(r, r->ids, n);
  MDB_cursor *c;
  int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_TASK_IDS], &c);
  if (rc)
    return rc;
  for (size_t i = 0; !rc && i < n; i++) {
    size_t it = r->ids[i].item;
    MDB_val k = r->ids[i].k, v;
    if (i > 0 && same_bytes(&r->ids[i - 1].k, &k)) {
      r->kind[it] = RUN_REPEAT; /* after its first (the sort is stable) */
      continue;
    }
    rc = mdb_cursor_get(c, &k, &v, MDB_SET);
    r->kind[it] = rc == 0 ? RUN_EXISTS : RUN_NEW;
    if (rc == 0 && v.mv_size != 8)
      rc = STORE_ECORRUPT;
    else if (rc == 0)
      r->row[it] = store__get_be64(v.mv_data);
    else if (rc == MDB_NOTFOUND)
      rc = 0;
  }
  mdb_cursor_close(c);
  return rc;
}

static void run_index_key(run_t *r, const keybuf_t *k, size_t item)
{
  r->index[r->nindex++] = run_keep(r, k, item);
}

/* A new task: the next row, its record and creation entry appended; its
 * index keys kept for run_enter. */
static int run_insert(store_txn_t *t, run_t *r, MDB_cursor *rows,
                      const store__task_prep_t *p, size_t item)
{
  uint64_t row;
  keybuf_t k;
  int rc = next_row(t, &row);
  if (rc)
    return rc;
  t->next_row++;
  r->row[item] = row;
  key_row(&k, row);
  MDB_val kv = key_val(&k), v = p->record;
  rc = store__cursor_put(t, DB_TASK_ROWS, rows, &kv, &v, MDB_APPEND);
  key_history(&k, row, 1);
  kv = key_val(&k);
  v = p->created;
  if (!rc)
    rc = store__cursor_put(t, DB_TASK_ROWS, rows, &kv, &v, MDB_APPEND);
  key_rank(&k, p->task, row);
  run_index_key(r, &k, item);
  if (!rc && (rc = key_pair(&k, IDX_REPO, p->task->repo, row)) == 0)
    run_index_key(r, &k, item);
  if (!rc && (rc = key_pair(&k, IDX_KIND, p->task->kind, row)) == 0)
    run_index_key(r, &k, item);
  return rc;
}

/* Every upsert but the repeats, in arrival order; @p rcs gets each one's
 * own result (a refused transition fails only its write). */
static int run_apply(store_txn_t *t, run_t *r,
                     const store__task_prep_t *const *p, size_t n,
                     const char *actor, const char *reason, int *rcs)
{
  MDB_cursor *rows = NULL;
  int rc = 0;
  for (size_t i = 0; !rc && i < n; i++) {
    rcs[i] = 0;
    if (r->kind[i] == RUN_EXISTS) {
      if (rows) /* it writes task_rows too: appends start afresh after */
        mdb_cursor_close(rows);
      rows = NULL;
      int e = task_put_existing(t, p[i], r->row[i], actor, reason);
      if (store__txn_broken(e))
        rc = e;
      else
        rcs[i] = e;
    } else if (r->kind[i] == RUN_NEW) {
      if (!rows)
        rc = mdb_cursor_open(t->txn, t->s->dbi[DB_TASK_ROWS], &rows);
      if (!rc)
        rc = run_insert(t, r, rows, p[i], i);
    }
  }
  if (rows)
    mdb_cursor_close(rows);
  return rc;
}

/* The new tasks' index keys, then their id entries, each in key order. */
static int run_enter(store_txn_t *t, run_t *r, size_t n)
{
  MDB_cursor *c;
  run_sort(r, r->index, r->nindex);
  int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_TASK_INDEX], &c);
  if (rc)
    return rc;
  for (size_t i = 0; !rc && i < r->nindex; i++) {
    MDB_val empty = store__val("", 0);
    rc = store__cursor_put(t, DB_TASK_INDEX, c, &r->index[i].k, &empty, 0);
  }
  mdb_cursor_close(c);
  if (!rc)
    rc = mdb_cursor_open(t->txn, t->s->dbi[DB_TASK_IDS], &c);
  if (rc)
    return rc;
  for (size_t i = 0; !rc && i < n; i++) {
    size_t it = r->ids[i].item;
    unsigned char rb[8];
    store__put_be64(rb, r->row[it]);
    MDB_val v = store__val(rb, 8);
    if (r->kind[it] == RUN_NEW)
      rc = store__cursor_put(t, DB_TASK_IDS, c, &r->ids[i].k, &v,
                             MDB_NOOVERWRITE);
  }
  mdb_cursor_close(c);
  return rc == MDB_KEYEXIST ? STORE_ECORRUPT : rc; /* looked up above */
}

int store__task_put_run(store_txn_t *t, const store__task_prep_t *const *p,
                        size_t n, const char *actor, const char *reason,
                        int *rcs)
{
  run_t r = {0};
  if (n == 0)
    return 0;
  int rc = run_alloc(&r, p, n);
  if (!rc)
    rc = run_lookup(t, &r, p, n);
  if (!rc)
    rc = run_apply(t, &r, p, n, actor, reason, rcs);
  if (!rc)
    rc = run_enter(t, &r, n);
  for (size_t i = 0; !rc && i < n; i++) {
    if (r.kind[i] != RUN_REPEAT)
      continue;
    int e = store__task_put_prepared(t, p[i], actor, reason);
    if (store__txn_broken(e))
      rc = e;
    else
      rcs[i] = e;
  }
  free(r.ids); /* the run's one block */
  return rc;
}

int store_task_put(store_txn_t *t, const proto_task_t *task,
                   const char *actor, const char *reason)
{
  store__task_prep_t p;
  int rc = store__task_prepare(task, actor, NULL, &t->buf, &t->hbuf, &p);
  return rc ? rc : store__task_put_prepared(t, &p, actor, reason);
}

int store_task_transition(store_txn_t *t, const char *id, proto_state_t to,
                          const char *actor, const char *reason, int64_t at)
{
  if (!id)
    return STORE_EINVAL;
  uint64_t row;
  MDB_val oldrec, rec;
  proto_task_t old;
  int rc = task_find(t->txn, t->s, id, &row, &oldrec, &old);
  if (!rc && !proto_state_transition_ok(old.state, to))
    rc = STORE_ETRANSITION;
  proto_task_t nt = old;
  nt.state = to;
  nt.updated_at = at;
  if (!rc)
    rc = history_encode(&t->hbuf, id, old.state, to, actor, reason,
                        at);
  if (!rc)
    rc = task_encode(&t->buf, &nt, &rec);
  if (!rc)
    rc = record_replace(t, row, &rec);
  if (!rc)
    rc = indexes_update(t, row, &old, &nt);
  MDB_val entry = store__val(t->hbuf.data, t->hbuf.size);
  if (!rc)
    rc = history_append(t, row, false, &entry);
  store_task_free(&old);
  return rc;
}

int store_task_set_pinned(store_txn_t *t, const char *id, bool pinned,
                          int64_t at)
{
  if (!t || !id)
    return STORE_EINVAL;
  uint64_t row;
  MDB_val oldrec, rec;
  proto_task_t task;
  int rc = task_find(t->txn, t->s, id, &row, &oldrec, &task);
  if (!rc && task.pinned != pinned) {
    task.pinned = pinned; /* no index holds it: the record alone changes */
    task.updated_at = at;
    rc = task_encode(&t->buf, &task, &rec);
    if (!rc)
      rc = record_replace(t, row, &rec);
  }
  store_task_free(&task);
  return rc;
}

/* ------------------------------------------------------------ reads */

void store_task_free(proto_task_t *t)
{
  proto_msg_t m = {.type = PROTO_TASK};
  m.u.task = *t;
  proto_msg_fini(&m);
  memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------------------ row hints
 *
 * A read is two lookups, id -> row in task_ids, then row -> record in
 * task_rows: two descents through trees read at random (at 20,000 tasks
 * ~1 MB and ~10 MB, mostly cache misses). A task keeps its row for good
 * (rows are handed out once; tasks are neither deleted nor moved), so the
 * row of an id read before is kept in the store's row_hints, one slot
 * per hash of the id key: 32 bits of the hash | the row (rows from 2^32 on
 * are not hinted; 0 is an empty slot). A hinted read is one lookup. A
 * hint is only a guess: the record found under it is returned only when
 * its id is the one asked for; otherwise (two ids in one slot) the read
 * falls back to the id map. A slot's words are written under a sequence
 * count (a reader that meets one being rewritten takes no hint), so a
 * slot needs no lock and no invalidation, a stale slot costs one wasted
 * lookup, and nothing is written to the file.
 *
 * What is left of a hinted read is mostly waiting for memory: the slot
 * (2 MiB of slots in all), the leaf page of task_rows and the record are
 * each a likely cache miss, one after the other. So the slot is
 * prefetched before anything else, and each slot also keeps where the
 * record was when it was last read (its address in the map) and its
 * size: the head of its leaf page and the record are prefetched before
 * LMDB descends to them, so those misses overlap the descent through the
 * upper levels instead of following it. A prefetch of a stale address
 * (the task rewritten since, the map grown) costs a few wasted loads
 * (prefetches do not fault).
 *
 * ------------------------------------------------------------ direct reads
 *
 * The place a hint keeps can also be read straight away, with no
 * transaction and no descent at all, when two things are known:
 *  1. The bytes there were not overwritten since. LMDB writes a committed
 *     page again only once it is free and no reader may still see it; the
 *     journal's pin (store_journal.c) keeps the last checkpoint's
 *     snapshot open, so every page that a snapshot taken after the pin
 *     could see stays as it is until the pin moves. s->direct_epoch counts
 *     the pin's moves and the map's (store_grow remaps it); a hint keeps
 *     the epoch read before its snapshot was taken, and is read in place
 *     only while that epoch lasts. The epoch is odd while the pin moves,
 *     and a reader loads it again after decoding: a sequence lock, so a
 *     decode that raced a move is thrown away.
 *  2. The task was not rewritten since that snapshot. Every write to a
 *     record of task_rows first stamps its row (row_stamps, by row modulo
 *     its size) with the id of its transaction, before that commits; a
 *     hint keeps the id of its snapshot, and is read in place only while
 *     the stamp is not newer.
 * The record is then decoded from the map under the map lock alone (which
 * keeps the map from moving), validated as any other, and returned only
 * if its id is the one asked for. It is the task as last committed when
 * the stamp was loaded. Direct reads are off (epoch 0) without a journal
 * (no pin) and so in a read-only store (there another process writes,
 * and its stamps are not ours), and for good once the epoch or a snapshot
 * id outgrows the bits a hint keeps (2^24 epochs, 2^40 transactions).
 */

#define HINT_SEEN_EPOCH_BITS 24
#define HINT_SEEN_EPOCH_MASK ((UINT64_C(1) << HINT_SEEN_EPOCH_BITS) - 1)
#define HINT_SEEN_SNAP_MAX (UINT64_C(1) << 40)

typedef struct hint {
  uint64_t row, where, seen;
} hint_t;

static uint64_t key_hash(const keybuf_t *k)
{
  uint64_t h = k->len * 0x9e3779b97f4a7c15ull, w;
  size_t i = 0;
  for (; i + 8 <= k->len; i += 8) {
    memcpy(&w, k->b + i, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  w = 0;
  memcpy(&w, k->b + i, k->len - i);
  h = (h ^ w) * 0x94d049bb133111ebull; /* then a full finaliser: the */
  h ^= h >> 32;                        /* bucket is the low bits */
  h *= 0xd6e8feb86659fd93ull;
  return h ^ (h >> 32);
}

/* The bucket of the id of @p hash: STORE__HINT_WAYS slots in one cache
 * line, so a read looks at both for one miss. */
static store__row_hint_t *hint_bucket(store_t *s, uint64_t hash)
{
  size_t buckets = STORE__ROW_HINTS / STORE__HINT_WAYS;
  return &s->row_hints[(hash & (buckets - 1)) * STORE__HINT_WAYS];
}

/* Whether slot @p h is the id of @p hash's (its row word says so). */
static bool slot_is(store__row_hint_t *h, uint64_t hash)
{
  uint64_t v = atomic_load_explicit(&h->row, memory_order_relaxed);
  return v >> 32 == hash >> 32 && (v & 0xffffffffu) != 0;
}

/* The hint in slot @p h for the id of @p hash, whole: false when the
 * slot is empty, another id's, or being rewritten. */
static bool slot_load(store__row_hint_t *h, uint64_t hash, hint_t *out)
{
  /* Acquire loads throughout (no fence, which TSan cannot check): a word
   * a rewriter stored makes its odd count visible to the last load. */
  uint64_t seq = atomic_load_explicit(&h->seq, memory_order_acquire);
  out->row = atomic_load_explicit(&h->row, memory_order_acquire);
  out->where = atomic_load_explicit(&h->where, memory_order_acquire);
  out->seen = atomic_load_explicit(&h->seen, memory_order_acquire);
  if ((seq & 1) || atomic_load_explicit(&h->seq, memory_order_relaxed) != seq)
    return false;
  if (out->row >> 32 != hash >> 32 || !(out->row & 0xffffffffu))
    return false;
  out->row &= 0xffffffffu;
  return true;
}

/* The hint for the id of @p hash from its bucket @p b. */
static bool hint_load(store__row_hint_t *b, uint64_t hash, hint_t *out)
{
  for (unsigned w = 0; w < STORE__HINT_WAYS; w++)
    if (slot_is(&b[w], hash))
      return slot_load(&b[w], hash, out);
  return false;
}

/* The slot of bucket @p b to (re)write for the id of @p hash: its own,
 * else an empty one, else one holding a place to prefetch only, else the
 * one @p pick (any bits) falls on. */
static store__row_hint_t *slot_for(store__row_hint_t *b, uint64_t hash,
                                   uint64_t pick)
{
  for (unsigned w = 0; w < STORE__HINT_WAYS; w++)
    if (slot_is(&b[w], hash))
      return &b[w];
  for (unsigned w = 0; w < STORE__HINT_WAYS; w++)
    if (!atomic_load_explicit(&b[w].row, memory_order_relaxed))
      return &b[w];
  for (unsigned w = 0; w < STORE__HINT_WAYS; w++)
    if (!atomic_load_explicit(&b[w].seen, memory_order_relaxed))
      return &b[w];
  return &b[pick % STORE__HINT_WAYS];
}

/* Hint @p row for the id of @p hash, its record last read at @p where
 * (where_pack, or 0) in the snapshot @p seen says (seen_pack, or 0). A
 * slot another thread is rewriting is left to it. */
static void hint_put(store_t *s, uint64_t hash, uint64_t row, uint64_t where,
                     uint64_t seen)
{
  if (row == 0 || row > 0xffffffffu)
    return;
  store__row_hint_t *h = slot_for(hint_bucket(s, hash), hash, seen ^ where);
  uint64_t seq = atomic_load_explicit(&h->seq, memory_order_relaxed);
  if ((seq & 1) ||
      !atomic_compare_exchange_strong_explicit(
          &h->seq, &seq, seq + 1, memory_order_acquire, memory_order_relaxed))
    return;
  atomic_store_explicit(&h->row, (hash >> 32) << 32 | row,
                        memory_order_release);
  atomic_store_explicit(&h->where, where, memory_order_release);
  atomic_store_explicit(&h->seen, seen, memory_order_release);
  atomic_store_explicit(&h->seq, seq + 2, memory_order_release);
}

void store__row_hint_set(store_t *s, const char *id, uint64_t row)
{
  keybuf_t kb;
  key_id(&kb, id);
  hint_put(s, key_hash(&kb), row, 0, 0);
}

/* Where a hinted record was read: its address in the map (below 2^48 on
 * the 64-bit systems we run on; anything else is not kept) | its size
 * << 48 (0 when over 64 KiB: such a record is prefetched in part and
 * never read in place). */
#define WHERE_ADDR_MASK ((UINT64_C(1) << 48) - 1)
#define WHERE_MAX_LINES 32u

static uint64_t where_pack(const MDB_val *rec)
{
  uint64_t addr = (uint64_t)(uintptr_t)rec->mv_data;
  if (addr & ~WHERE_ADDR_MASK)
    return 0;
  uint64_t size = rec->mv_size <= 0xffff ? rec->mv_size : 0;
  return addr | size << 48;
}

/* The snapshot of read transaction @p txn, taken in direct-read epoch
 * @p epoch (loaded before the transaction was renewed), as a hint keeps
 * it; 0 when it cannot be kept (direct reads off, or out of bits). */
static uint64_t seen_pack(MDB_txn *txn, uint64_t epoch)
{
  uint64_t snap = (uint64_t)mdb_txn_id(txn);
  if (epoch == 0 || (epoch & 1) || epoch > HINT_SEEN_EPOCH_MASK ||
      snap >= HINT_SEEN_SNAP_MAX)
    return 0;
  return snap << HINT_SEEN_EPOCH_BITS | epoch;
}

/* Start loading what the lookup of a hinted record will touch: the head
 * of its leaf page (LMDB's page header and node offsets: the leaf's binary
 * search starts there; LMDB's page is the OS page, 4 KiB here, and on a
 * larger one this only misses the header) and the record. A stale
 * address (the task rewritten since, the map moved) costs only the wasted
 * loads, as prefetches never fault. (Prefetching the whole 4 KiB leaf,
 * where the binary search's other probes land, measured no better: 64
 * prefetches per read.) */
static void where_prefetch(uint64_t where, bool page_too)
{
  const char *p = (const char *)(uintptr_t)(where & WHERE_ADDR_MASK);
  if (!p)
    return;
  const char *page = (const char *)((uintptr_t)p & ~(uintptr_t)4095);
  if (page_too) { /* not for a read in place: no descent comes */
    __builtin_prefetch(page);
    __builtin_prefetch(page + 64);
  }
  uint64_t size = where >> 48;
  unsigned n = size ? (unsigned)((size + 63) / 64 + 1) : WHERE_MAX_LINES;
  if (n > WHERE_MAX_LINES)
    n = WHERE_MAX_LINES;
  for (unsigned i = 0; i < n; i++)
    __builtin_prefetch(p + 64 * i);
}

uintptr_t store__row_hint_where(store_t *s, const char *id)
{
  keybuf_t kb;
  key_id(&kb, id);
  uint64_t hash = key_hash(&kb);
  hint_t hv;
  if (!hint_load(hint_bucket(s, hash), hash, &hv))
    return 0;
  return (uintptr_t)(hv.where & WHERE_ADDR_MASK);
}

void store__row_hint_where_set(store_t *s, const char *id, uintptr_t where)
{
  keybuf_t kb;
  key_id(&kb, id);
  uint64_t hash = key_hash(&kb);
  hint_t hv;
  MDB_val rec = {.mv_size = 512, .mv_data = (void *)where};
  if (hint_load(hint_bucket(s, hash), hash, &hv)) /* a place to prefetch only */
    hint_put(s, hash, hv.row, where_pack(&rec), 0);
}

void store__row_stamp(store_txn_t *t, const MDB_val *k)
{
  if (k->mv_size != 8) /* a history entry: the record stays as it is */
    return;
  uint64_t row = store__get_be64(k->mv_data);
  atomic_store_explicit(&t->s->row_stamps[row & (STORE__ROW_STAMPS - 1)],
                        (uint64_t)mdb_txn_id(t->txn), memory_order_release);
}

/* An acquire fence. TSan checks no fence (gcc refuses them under it) and
 * does not see the map's bytes anyway (the kernel writes them), so there
 * it is a compiler barrier, which is all the fence is on x86. */
static inline void load_fence(void)
{
#if defined(__SANITIZE_THREAD__)
  atomic_signal_fence(memory_order_acquire);
#else
  atomic_thread_fence(memory_order_acquire);
#endif
}

static void epoch_set(store_t *s, uint64_t e)
{
  atomic_store_explicit(&s->direct_epoch, e > HINT_SEEN_EPOCH_MASK ? 0 : e,
                        memory_order_seq_cst);
}

/* Only the writer moves the epoch (a checkpoint holds the writer lock,
 * store_grow the map lock exclusive, and neither runs beside the other:
 * a write transaction holds the map lock shared). */
static void epoch_step(store_t *s, uint64_t by)
{
  uint64_t e = atomic_load_explicit(&s->direct_epoch, memory_order_relaxed);
  if (e)
    epoch_set(s, e + by);
}

void store__direct_pin_moving(store_t *s) { epoch_step(s, 1); }

void store__direct_pin_moved(store_t *s) { epoch_step(s, 1); }

void store__direct_map_moved(store_t *s) { epoch_step(s, 2); }

void store__direct_off(store_t *s) { epoch_set(s, 0); }

/* Task @p id read in place from where hint @p hv says, in direct-read
 * epoch @p epoch: 0, or STORE_ENOTFOUND (*out zeroed) when the hint
 * cannot be trusted now or the record there is not @p id's. The caller
 * holds the map. */
static int direct_read(store_t *s, const hint_t *hv, uint64_t epoch,
                       const char *id, proto_task_t *out)
{
  MDB_val rec = {.mv_size = (size_t)(hv->where >> 48),
                 .mv_data = (void *)(uintptr_t)(hv->where & WHERE_ADDR_MASK)};
  if (!hv->seen || (hv->seen & HINT_SEEN_EPOCH_MASK) != epoch || !rec.mv_size)
    return STORE_ENOTFOUND;
  uint64_t stamp = atomic_load_explicit(
      &s->row_stamps[hv->row & (STORE__ROW_STAMPS - 1)], memory_order_acquire);
  if (stamp > hv->seen >> HINT_SEEN_EPOCH_BITS)
    return STORE_ENOTFOUND; /* rewritten since */
  if (store__task_decode(&rec, out))
    return STORE_ENOTFOUND;
  load_fence(); /* the record's bytes were read before the epoch again */
  if (atomic_load_explicit(&s->direct_epoch, memory_order_relaxed) != epoch ||
      strcmp(out->id, id) != 0) {
    store_task_free(out); /* raced a pin move, or another task's record */
    return STORE_ENOTFOUND;
  }
  return 0;
}

/* Task @p id from the row hinted in @p hv: 0, or STORE_ENOTFOUND (*out
 * zeroed) when the record there is missing, unreadable or another
 * task's. */
static int hinted_read(MDB_txn *txn, store_t *s, uint64_t hash,
                       const hint_t *hv, uint64_t epoch, const char *id,
                       proto_task_t *out)
{
  MDB_val rec;
  if (record_of(txn, s, hv->row, &rec) || store__task_decode(&rec, out))
    return STORE_ENOTFOUND;
  if (strcmp(out->id, id) != 0) {
    store_task_free(out);
    return STORE_ENOTFOUND;
  }
  uint64_t where = where_pack(&rec), seen = seen_pack(txn, epoch);
  if (hv->where != where || hv->seen != seen)
    hint_put(s, hash, hv->row, where, seen);
  return 0;
}

/* Task @p id through the id map (and hint its row and place). */
static int mapped_read(MDB_txn *txn, store_t *s, const keybuf_t *kb,
                       uint64_t hash, uint64_t epoch, proto_task_t *out)
{
  uint64_t row;
  MDB_val rec;
  int rc = row_of_key(txn, s, kb, &row);
  if (!rc)
    rc = record_of(txn, s, row, &rec);
  if (!rc)
    rc = store__task_decode(&rec, out);
  if (!rc)
    hint_put(s, hash, row, where_pack(&rec), seen_pack(txn, epoch));
  return rc;
}

/* Task @p id under a read transaction: through its hint, else the id map.
 * @p epoch is the direct-read epoch loaded before the transaction began. */
static int snapshot_read(store_t *s, const keybuf_t *kb, uint64_t hash,
                         const hint_t *hv, uint64_t epoch, const char *id,
                         proto_task_t *out)
{
  MDB_txn *txn;
  int rc = store__read_begin(s, &txn);
  if (rc)
    return rc;
  if (!hv || hinted_read(txn, s, hash, hv, epoch, id, out))
    rc = mapped_read(txn, s, kb, hash, epoch, out);
  store__read_end(s, txn);
  return rc;
}

/* Task @p id: read in place when its hint allows (@p direct_only: only
 * so, else STORE_ENOTFOUND), else under a read transaction. */
static int task_get(store_t *s, const char *id, bool direct_only,
                    proto_task_t *out)
{
  memset(out, 0, sizeof(*out));
  if (!id)
    return STORE_EINVAL;
  if (strlen(id) > STORE__KEY_MAX)
    return STORE_ENOTFOUND; /* longer than any stored id */
  keybuf_t kb;
  key_id(&kb, id);
  uint64_t hash = key_hash(&kb);
  /* The slot is a likely cache miss: start loading it, then take the map
   * while it arrives. */
  store__row_hint_t *h = hint_bucket(s, hash);
  __builtin_prefetch(h);
  store__map_hold(s);
  uint64_t epoch = atomic_load_explicit(&s->direct_epoch, memory_order_acquire);
  hint_t hv;
  bool hinted = hint_load(h, hash, &hv);
  if (hinted)
    where_prefetch(hv.where, !hv.seen || (hv.seen & HINT_SEEN_EPOCH_MASK) !=
                                             epoch);
  int rc = 0;
  if (!hinted || direct_read(s, &hv, epoch, id, out))
    rc = direct_only ? STORE_ENOTFOUND
                     : snapshot_read(s, &kb, hash, hinted ? &hv : NULL, epoch,
                                     id, out);
  store__map_release(s);
  return rc;
}

int store_task_get(store_t *s, const char *id, proto_task_t *out)
{
  return task_get(s, id, false, out);
}

int store__task_get_direct(store_t *s, const char *id, proto_task_t *out)
{
  return task_get(s, id, true, out);
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
  int corrupt;
} scan_ctx_t;

/* The task whose row ends index key @p k: to the callback if it matches. */
static int scan_visit(scan_ctx_t *sc, const MDB_val *k)
{
  MDB_val rec;
  proto_task_t t;
  uint64_t row = store__get_be64((const unsigned char *)k->mv_data +
                                 k->mv_size - 8);
  int stop = 0;
  int rc = record_of(sc->txn, sc->s, row, &rec);
  if (!rc)
    rc = store__task_decode(&rec, &t);
  if (rc)
    sc->corrupt = STORE_ECORRUPT;
  else if (task_matches(&t, sc->f))
    stop = sc->fn(&t, sc->arg);
  if (!rc)
    store_task_free(&t);
  return stop;
}

/* Walk the task_index keys that are @p prefix + @p tail bytes; returns
 * non-zero when stopped. */
static int scan_prefix(scan_ctx_t *sc, const void *prefix, size_t plen,
                       size_t tail)
{
  MDB_cursor *c;
  int rc = mdb_cursor_open(sc->txn, sc->s->dbi[DB_TASK_INDEX], &c);
  MDB_val k = store__val(prefix, plen), v;
  int stop = 0;
  if (!rc)
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  while (!rc && !stop && k.mv_size >= plen &&
         memcmp(k.mv_data, prefix, plen) == 0) {
    if (k.mv_size == plen + tail)
      stop = scan_visit(sc, &k);
    else
      sc->corrupt = STORE_ECORRUPT;
    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(c);
  return stop ? 1 : (rc == MDB_NOTFOUND ? 0 : rc);
}

static int scan_states(scan_ctx_t *sc)
{
  for (int st = 0; st < PROTO_STATE_COUNT; st++) {
    if (sc->f->state >= 0 && st != sc->f->state)
      continue;
    unsigned char p[2] = {IDX_RANK, (unsigned char)st};
    int rc = scan_prefix(sc, p, 2, 16);
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
  int rc = store__read_begin(s, &sc.txn);
  if (rc)
    return rc;
  keybuf_t k;
  if (sc.f->state < 0 && (sc.f->repo || sc.f->kind)) {
    /* No state given: walk the smaller, exact index instead of all. */
    rc = key_pair(&k, sc.f->repo ? IDX_REPO : IDX_KIND,
                  sc.f->repo ? sc.f->repo : sc.f->kind, 0);
    if (!rc)
      rc = scan_prefix(&sc, k.b, k.len - 8, 8);
  } else {
    rc = scan_states(&sc);
  }
  store__read_end(s, sc.txn);
  if (rc == 1)
    rc = 0; /* stopped by the callback */
  return rc ? rc : sc.corrupt;
}

int store__task_stats(store_t *s, MDB_txn *txn, store_stats_t *out)
{
  MDB_stat st;
  int rc = mdb_stat(txn, s->dbi[DB_TASK_IDS], &st);
  if (rc)
    return rc;
  out->tasks = st.ms_entries;
  MDB_cursor *c;
  unsigned char rank = IDX_RANK;
  MDB_val k = store__val(&rank, 1), v;
  rc = mdb_cursor_open(txn, s->dbi[DB_TASK_INDEX], &c);
  if (!rc)
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  while (!rc && k.mv_size == 18 && ((unsigned char *)k.mv_data)[0] == rank) {
    unsigned st_i = ((unsigned char *)k.mv_data)[1];
    if (st_i < PROTO_STATE_COUNT)
      out->by_state[st_i]++;
    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(c);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

/* A history entry as an update (see history_encode): *u borrows from *m
 * or from @p v. */
static int history_decode(const MDB_val *v, const char *id, proto_msg_t *m,
                          proto_task_update_t *u)
{
  *m = (proto_msg_t){.type = PROTO_NONE};
  if (v->mv_size && *(const unsigned char *)v->mv_data == HIST_CREATED_TAG)
    return created_decode(v, id, u);
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

/* Call @p fn on each entry of @p row's history, oldest first. */
static int history_walk(MDB_txn *txn, const store_t *s, uint64_t row,
                        const char *id,
                        int (*fn)(const proto_task_update_t *u, void *arg),
                        void *arg)
{
  keybuf_t k;
  key_history(&k, row, 1);
  MDB_cursor *c;
  MDB_val kv = key_val(&k), v;
  int rc = mdb_cursor_open(txn, s->dbi[DB_TASK_ROWS], &c);
  if (!rc)
    rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE);
  int stop = 0, corrupt = 0;
  while (!rc && !stop && kv.mv_size == 16 &&
         store__get_be64(kv.mv_data) == row) {
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
  return (rc && rc != MDB_NOTFOUND) ? rc : corrupt;
}

int store_history_foreach(store_t *s, const char *id,
                          int (*fn)(const proto_task_update_t *u, void *arg),
                          void *arg)
{
  MDB_txn *txn;
  if (!id)
    return STORE_EINVAL;
  int rc = store__read_begin(s, &txn);
  if (rc)
    return rc;
  uint64_t row;
  rc = strlen(id) > STORE__KEY_MAX ? STORE_ENOTFOUND
                                    : store__row_of(txn, s, id, &row);
  if (!rc)
    rc = history_walk(txn, s, row, id, fn, arg);
  else if (rc == STORE_ENOTFOUND)
    rc = 0; /* no such task: no history */
  store__read_end(s, txn);
  return rc;
}
