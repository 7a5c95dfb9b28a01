/*
 * store_deliveries.c: the X-GitHub-Delivery ids already accepted, so a
 * redelivery is recognised after a restart too (store.h: the
 * `gh_deliveries` database, schema v4).
 *
 * Two kinds of key share the database:
 *   id                          -> be64(accepted at, unix ms)
 *   0x01 | be64(at) | id        -> ""   (the same entry in time order)
 * Delivery ids are printable ASCII (0x21..0x7e: gh_webhook refuses
 * anything else), so no id starts with 0x01 and the time index is one
 * contiguous key range that sorts oldest first. Retention is bounded two
 * ways, applied after each batch of puts: at most `keep` ids, and none
 * older than `max_age_ms` before the newest one. Trimming walks the time
 * index from its start and stops at the first entry it keeps, so it costs
 * only what it deletes.
 *
 * Writes come from the store actor (COMMAND "gh_deliveries", whose JSON
 * args store_deliveries_apply() takes) inside its transaction; the lookup
 * is one short read transaction on any thread (the webhook handler's).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define TIME_TAG 0x01
#define ID_MAX 96 /* gh_webhook's bound; GitHub's ids are GUIDs (36) */

static bool id_ok(const char *id)
{
  return store__printable_key(id, ID_MAX);
}

/* 0x01 | be64(at) | id into @p key; its length. */
static size_t time_key(unsigned char *key, int64_t at, const char *id,
                       size_t idlen)
{
  key[0] = TIME_TAG;
  store__put_be64(key + 1, (uint64_t)at);
  memcpy(key + 9, id, idlen);
  return 9 + idlen;
}

int store_delivery_put(store_txn_t *t, const char *id, int64_t at_ms)
{
  if (!id_ok(id) || at_ms < 0)
    return STORE_EINVAL;
  MDB_dbi db = t->s->dbi[DB_DELIVERIES];
  MDB_val k = store__str_val(id), old;
  int rc = mdb_get(t->txn, db, &k, &old);
  if (rc == 0)
    return 0; /* known already: keep its first time */
  if (rc != MDB_NOTFOUND)
    return rc;
  unsigned char be[8], tk[9 + ID_MAX];
  store__put_be64(be, (uint64_t)at_ms);
  MDB_val v = store__val(be, sizeof(be));
  rc = store__put(t, DB_DELIVERIES, &k, &v, 0);
  if (rc)
    return rc;
  MDB_val tkv = store__val(tk, time_key(tk, at_ms, id, strlen(id)));
  MDB_val empty = store__val("", 0);
  return store__put(t, DB_DELIVERIES, &tkv, &empty, 0);
}

/* The newest time in the index (0 when empty): the entry just before
 * the first key past the index range. */
static int newest_at(MDB_cursor *c, int64_t *at)
{
  *at = 0;
  unsigned char past[1] = {TIME_TAG + 1};
  MDB_val k = store__val(past, 1), v;
  int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  if (rc == 0)
    rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
  else if (rc == MDB_NOTFOUND)
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
  if (rc == MDB_NOTFOUND)
    return 0;
  if (rc == 0 && k.mv_size > 9 && ((unsigned char *)k.mv_data)[0] == TIME_TAG)
    *at = (int64_t)store__get_be64((unsigned char *)k.mv_data + 1);
  return rc;
}

#define TRIM_BATCH 256

typedef struct trim_batch {
  unsigned char keys[TRIM_BATCH][9 + ID_MAX];
  size_t lens[TRIM_BATCH];
  size_t n;
} trim_batch_t;

/* The oldest index entries that must go (at most TRIM_BATCH): while more
 * than @p keep ids remain, or older than @p cutoff. */
static int trim_collect(MDB_cursor *c, uint64_t count, uint64_t keep,
                        int64_t cutoff, trim_batch_t *b)
{
  b->n = 0;
  unsigned char first[1] = {TIME_TAG};
  MDB_val k = store__val(first, 1), v;
  int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && b->n < TRIM_BATCH && k.mv_size > 9 &&
         k.mv_size <= 9 + ID_MAX &&
         ((unsigned char *)k.mv_data)[0] == TIME_TAG) {
    int64_t at = (int64_t)store__get_be64((unsigned char *)k.mv_data + 1);
    if (count - b->n <= keep && at >= cutoff)
      break;
    memcpy(b->keys[b->n], k.mv_data, k.mv_size);
    b->lens[b->n++] = k.mv_size;
    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Delete both keys of each collected entry. */
static int trim_apply(store_txn_t *t, const trim_batch_t *b)
{
  for (size_t i = 0; i < b->n; i++) {
    MDB_val tk = store__val(b->keys[i], b->lens[i]);
    MDB_val id = store__val(b->keys[i] + 9, b->lens[i] - 9);
    int rc = store__del(t, DB_DELIVERIES, &id);
    if (rc == 0 || rc == MDB_NOTFOUND)
      rc = store__del(t, DB_DELIVERIES, &tk);
    if (rc)
      return rc;
  }
  return 0;
}

int store_deliveries_trim(store_txn_t *t, uint64_t keep, int64_t max_age_ms,
                          uint64_t *removed)
{
  MDB_dbi db = t->s->dbi[DB_DELIVERIES];
  MDB_stat st;
  int rc = mdb_stat(t->txn, db, &st);
  uint64_t count = st.ms_entries / 2, gone = 0;
  trim_batch_t *b = rc ? NULL : malloc(sizeof(*b));
  if (!rc && !b)
    rc = STORE_ENOMEM;
  int64_t cutoff = 0;
  for (bool first = true; !rc; first = false) {
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t->txn, db, &c)))
      break;
    int64_t newest = 0;
    if (first)
      rc = newest_at(c, &newest);
    if (first && max_age_ms > 0 && newest > max_age_ms)
      cutoff = newest - max_age_ms;
    if (!rc)
      rc = trim_collect(c, count, keep, cutoff, b);
    mdb_cursor_close(c);
    if (!rc)
      rc = trim_apply(t, b);
    if (rc || b->n == 0)
      break;
    count -= b->n;
    gone += b->n;
  }
  free(b);
  if (removed)
    *removed = gone;
  return rc;
}

int store_delivery_get(store_t *s, const char *id, int64_t *at_ms)
{
  if (!id_ok(id))
    return STORE_EINVAL;
  MDB_txn *txn;
  int rc = store__read_begin(s, &txn);
  if (rc)
    return rc;
  MDB_val k = store__str_val(id), v;
  rc = mdb_get(txn, s->dbi[DB_DELIVERIES], &k, &v);
  if (rc == MDB_NOTFOUND)
    rc = STORE_ENOTFOUND;
  else if (rc == 0 && v.mv_size != 8)
    rc = STORE_ECORRUPT;
  else if (rc == 0 && at_ms)
    *at_ms = (int64_t)store__get_be64(v.mv_data);
  store__read_end(s, txn);
  return rc;
}

int store_deliveries_count(store_t *s, uint64_t *out)
{
  MDB_txn *txn;
  *out = 0;
  int rc = store__read_begin(s, &txn);
  if (rc)
    return rc;
  MDB_stat st;
  rc = mdb_stat(txn, s->dbi[DB_DELIVERIES], &st);
  if (!rc)
    *out = st.ms_entries / 2;
  store__read_end(s, txn);
  return rc;
}

/* ---- the store actor's COMMAND "gh_deliveries" ---- */

static bool entry_ok(const json_t *e)
{
  return json_is_array(e) && json_array_size(e) == 2 &&
         id_ok(json_string_value(json_array_get(e, 0))) &&
         json_is_integer(json_array_get(e, 1)) &&
         json_integer_value(json_array_get(e, 1)) >= 0;
}

static bool opt_count_ok(const json_t *args, const char *name)
{
  const json_t *v = json_object_get(args, name);
  return !v || (json_is_integer(v) && json_integer_value(v) >= 0);
}

int store_deliveries_check(const json_t *args)
{
  const json_t *ids = json_object_get(args, "ids");
  if (!json_is_object(args) || !json_is_array(ids) ||
      !opt_count_ok(args, "keep") || !opt_count_ok(args, "max_age_ms"))
    return STORE_EINVAL;
  for (size_t i = 0; i < json_array_size(ids); i++)
    if (!entry_ok(json_array_get(ids, i)))
      return STORE_EINVAL;
  return 0;
}

static uint64_t count_or(const json_t *args, const char *name, uint64_t dflt)
{
  const json_t *v = json_object_get(args, name);
  return v ? (uint64_t)json_integer_value(v) : dflt;
}

int store_deliveries_apply(store_txn_t *t, const json_t *args)
{
  int rc = store_deliveries_check(args);
  const json_t *ids = json_object_get(args, "ids");
  for (size_t i = 0; !rc && i < json_array_size(ids); i++) {
    const json_t *e = json_array_get(ids, i);
    rc = store_delivery_put(t, json_string_value(json_array_get(e, 0)),
                            json_integer_value(json_array_get(e, 1)));
  }
  if (!rc)
    rc = store_deliveries_trim(
        t, count_or(args, "keep", STORE_DELIVERIES_KEEP),
        (int64_t)count_or(args, "max_age_ms", STORE_DELIVERIES_MAX_AGE_MS),
        NULL);
  return rc;
}
