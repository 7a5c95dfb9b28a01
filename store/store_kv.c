/*
 * store_kv.c: small named values that must survive a restart (store.h:
 * the `kv` database, schema v4): the GitHub sweep cursor, monitor
 * aggregates. Names are "<owner>/<what>" (printable ASCII, at most
 * STORE_KV_NAME_MAX bytes); values are bytes, at most STORE_KV_VALUE_MAX.
 *
 * Writes come from the store actor (COMMAND "kv", whose JSON args
 * store_kv_apply() takes: a string value is stored as its bytes, null
 * deletes) inside its transaction; reads are one short read transaction
 * on any thread and return a copy.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

static bool name_ok(const char *name)
{
  return store__printable_key(name, STORE_KV_NAME_MAX);
}

int store_kv_put(store_txn_t *t, const char *name, const void *value,
                 size_t len)
{
  if (!name_ok(name) || len > STORE_KV_VALUE_MAX || (len && !value))
    return STORE_EINVAL;
  MDB_val k = store__str_val(name), v = store__val(len ? value : "", len);
  return store__put(t, DB_KV, &k, &v, 0);
}

int store_kv_delete(store_txn_t *t, const char *name)
{
  if (!name_ok(name))
    return STORE_EINVAL;
  MDB_val k = store__str_val(name);
  int rc = store__del(t, DB_KV, &k);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_kv_get(store_t *s, const char *name, void **value, size_t *len)
{
  *value = NULL;
  *len = 0;
  if (!name_ok(name))
    return STORE_EINVAL;
  MDB_txn *txn;
  int rc = store__read_begin(s, &txn);
  if (rc)
    return rc;
  MDB_val k = store__str_val(name), v;
  rc = mdb_get(txn, s->dbi[DB_KV], &k, &v);
  if (rc == MDB_NOTFOUND)
    rc = STORE_ENOTFOUND;
  if (!rc) {
    /* one byte more, a NUL, so text values can be used as strings */
    char *copy = malloc(v.mv_size + 1);
    if (copy) {
      memcpy(copy, v.mv_data, v.mv_size);
      copy[v.mv_size] = '\0';
      *value = copy;
      *len = v.mv_size;
    } else {
      rc = STORE_ENOMEM;
    }
  }
  store__read_end(s, txn);
  return rc;
}

/* ---- the store actor's COMMAND "kv" ---- */

int store_kv_check(const json_t *args)
{
  const json_t *v = json_object_get(args, "value");
  if (!json_is_object(args) ||
      !name_ok(json_string_value(json_object_get(args, "name"))) ||
      !(json_is_null(v) || json_is_string(v)) ||
      (json_is_string(v) && json_string_length(v) > STORE_KV_VALUE_MAX))
    return STORE_EINVAL;
  return 0;
}

int store_kv_apply(store_txn_t *t, const json_t *args)
{
  int rc = store_kv_check(args);
  if (rc)
    return rc;
  const char *name = json_string_value(json_object_get(args, "name"));
  const json_t *v = json_object_get(args, "value");
  if (json_is_null(v))
    return store_kv_delete(t, name);
  return store_kv_put(t, name, json_string_value(v), json_string_length(v));
}
