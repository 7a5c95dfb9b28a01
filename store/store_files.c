/*
 * store_files.c: what the scanner saw of each file of a repository, for
 * incremental rescans (store.h: the `files` database, schema v4).
 *
 * Keys: repo id | 0 | path -> a file record; repo id | 0 (empty path) ->
 * the repository's scan state (last scanned commit, settings digest). So
 * one repository's records are one contiguous key range that starts with
 * its state, and a prefix walk lists them in path order.
 *
 * Values (msgpack):
 *   file   [size u64, mtime_ns i64, scanned_at i64, flags u32, blob str,
 *           blame str (compact JSON text) or nil]
 *   state  [commit str, settings str, at i64]
 * The blame cache is kept as JSON text: it is small (the marker lines of
 * one file), rare (files with findings, when blame is on) and read back
 * only when that file is read again.
 *
 * Writes come from the store actor (COMMAND "scan_files", whose JSON args
 * store_files_apply() takes) inside its transaction; reads are short read
 * transactions on any thread. The reader handle keeps one read transaction
 * for a batch of lookups: its owner must not wait on a store write while
 * it is open (map growth waits for every open transaction).
 */
#include <jansson.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define FILE_FIELDS 6
#define STATE_FIELDS 3

struct store_files_reader {
  store_t *s;
  MDB_txn *txn;
  char key[STORE__KEY_MAX + 1];
  size_t prefix; /* repo id | 0 */
};

/* repo | 0 | path into @p key; its length, or 0 when too long or bad. */
static size_t file_key(char *key, const char *repo, const char *path)
{
  size_t rl = repo ? strlen(repo) : 0, pl = path ? strlen(path) : 0;
  if (rl == 0 || rl + 1 + pl > STORE__KEY_MAX)
    return 0;
  memcpy(key, repo, rl);
  key[rl] = '\0';
  if (pl)
    memcpy(key + rl + 1, path, pl);
  return rl + 1 + pl;
}

/* ---- records ---- */

static void pack_str(msgpack_packer *pk, const char *s)
{
  size_t n = s ? strlen(s) : 0;
  msgpack_pack_str_with_body(pk, s ? s : "", n);
}

static int put_packed(store_txn_t *t, const char *key, size_t klen)
{
  MDB_val k = store__val(key, klen);
  MDB_val v = store__val(t->buf.data, t->buf.size);
  return store__put(t, DB_FILES, &k, &v, 0);
}

int store_file_put(store_txn_t *t, const char *repo, const char *path,
                   const store_file_t *f)
{
  char key[STORE__KEY_MAX + 1];
  size_t klen = path && *path ? file_key(key, repo, path) : 0;
  if (!t || !f || klen == 0)
    return STORE_EINVAL;
  char *blame = f->blame ? json_dumps(f->blame, JSON_COMPACT) : NULL;
  msgpack_packer pk;
  t->buf.size = 0;
  msgpack_packer_init(&pk, &t->buf, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, FILE_FIELDS);
  msgpack_pack_uint64(&pk, f->size);
  msgpack_pack_int64(&pk, f->mtime_ns);
  msgpack_pack_int64(&pk, f->scanned_at);
  msgpack_pack_uint32(&pk, f->flags);
  pack_str(&pk, f->blob);
  if (blame)
    pack_str(&pk, blame);
  else
    msgpack_pack_nil(&pk);
  free(blame);
  return put_packed(t, key, klen);
}

int store_file_delete(store_txn_t *t, const char *repo, const char *path)
{
  char key[STORE__KEY_MAX + 1];
  size_t klen = path && *path ? file_key(key, repo, path) : 0;
  if (!t || klen == 0)
    return STORE_EINVAL;
  MDB_val k = store__val(key, klen);
  int rc = store__del(t, DB_FILES, &k);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_scan_state_put(store_txn_t *t, const char *repo,
                         const store_scan_state_t *st)
{
  char key[STORE__KEY_MAX + 1];
  size_t klen = file_key(key, repo, NULL);
  if (!t || !st || klen == 0)
    return STORE_EINVAL;
  msgpack_packer pk;
  t->buf.size = 0;
  msgpack_packer_init(&pk, &t->buf, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, STATE_FIELDS);
  pack_str(&pk, st->commit);
  pack_str(&pk, st->settings);
  msgpack_pack_int64(&pk, st->at);
  return put_packed(t, key, klen);
}

/* ---- decoding ---- */

static bool is_int(const msgpack_object *o)
{
  return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
         o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}

static int64_t as_i64(const msgpack_object *o)
{
  return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)o->via.u64
                                                    : o->via.i64;
}

static void copy_str(char *out, size_t cap, const msgpack_object *o)
{
  size_t n = o->via.str.size < cap - 1 ? o->via.str.size : cap - 1;
  if (n) /* an empty str may have a NULL ptr */
    memcpy(out, o->via.str.ptr, n);
  out[n] = '\0';
}

/* Decode a file record; the blame cache only when @p with_blame. */
static int file_decode(const MDB_val *v, store_file_t *out, bool with_blame)
{
  msgpack_unpacked u;
  int rc = STORE_ECORRUPT;
  memset(out, 0, sizeof(*out));
  msgpack_unpacked_init(&u);
  if (msgpack_unpack_next(&u, v->mv_data, v->mv_size, NULL) !=
      MSGPACK_UNPACK_SUCCESS)
    goto out;
  const msgpack_object *a = u.data.via.array.ptr;
  if (u.data.type != MSGPACK_OBJECT_ARRAY ||
      u.data.via.array.size != FILE_FIELDS || !is_int(&a[0]) ||
      !is_int(&a[1]) || !is_int(&a[2]) || !is_int(&a[3]) ||
      a[4].type != MSGPACK_OBJECT_STR ||
      (a[5].type != MSGPACK_OBJECT_STR && a[5].type != MSGPACK_OBJECT_NIL))
    goto out;
  out->size = (uint64_t)as_i64(&a[0]);
  out->mtime_ns = as_i64(&a[1]);
  out->scanned_at = as_i64(&a[2]);
  out->flags = (uint32_t)as_i64(&a[3]);
  copy_str(out->blob, sizeof(out->blob), &a[4]);
  if (with_blame && a[5].type == MSGPACK_OBJECT_STR)
    out->blame = json_loadb(a[5].via.str.ptr, a[5].via.str.size, 0, NULL);
  rc = 0;
out:
  msgpack_unpacked_destroy(&u);
  return rc;
}

static int state_decode(const MDB_val *v, store_scan_state_t *out)
{
  msgpack_unpacked u;
  int rc = STORE_ECORRUPT;
  memset(out, 0, sizeof(*out));
  msgpack_unpacked_init(&u);
  if (msgpack_unpack_next(&u, v->mv_data, v->mv_size, NULL) ==
      MSGPACK_UNPACK_SUCCESS) {
    const msgpack_object *a = u.data.via.array.ptr;
    if (u.data.type == MSGPACK_OBJECT_ARRAY &&
        u.data.via.array.size == STATE_FIELDS &&
        a[0].type == MSGPACK_OBJECT_STR && a[1].type == MSGPACK_OBJECT_STR &&
        is_int(&a[2])) {
      copy_str(out->commit, sizeof(out->commit), &a[0]);
      copy_str(out->settings, sizeof(out->settings), &a[1]);
      out->at = as_i64(&a[2]);
      rc = 0;
    }
  }
  msgpack_unpacked_destroy(&u);
  return rc;
}

/* ---- reads ---- */

static int file_decode_all(const MDB_val *v, void *out)
{
  return file_decode(v, out, true);
}

static int state_decode_any(const MDB_val *v, void *out)
{
  return state_decode(v, out);
}

/* One point read of @p key (klen 0: a bad key), decoded in its own read
 * transaction. */
static int get_one(store_t *s, const char *key, size_t klen,
                   int (*decode)(const MDB_val *v, void *out), void *out)
{
  MDB_txn *txn;
  MDB_val v;
  if (!s || klen == 0)
    return STORE_EINVAL;
  int rc = store__read_begin(s, &txn);
  if (rc)
    return rc;
  MDB_val k = store__val(key, klen);
  rc = mdb_get(txn, s->dbi[DB_FILES], &k, &v);
  if (rc == MDB_NOTFOUND)
    rc = STORE_ENOTFOUND;
  else if (!rc)
    rc = decode(&v, out);
  store__read_end(s, txn);
  return rc;
}

int store_file_get(store_t *s, const char *repo, const char *path,
                   store_file_t *out)
{
  char key[STORE__KEY_MAX + 1];
  size_t klen = path && *path ? file_key(key, repo, path) : 0;
  memset(out, 0, sizeof(*out));
  return get_one(s, key, klen, file_decode_all, out);
}

void store_file_fini(store_file_t *f)
{
  if (!f)
    return;
  json_decref(f->blame);
  memset(f, 0, sizeof(*f));
}

int store_scan_state_get(store_t *s, const char *repo,
                         store_scan_state_t *out)
{
  char key[STORE__KEY_MAX + 1];
  size_t klen = file_key(key, repo, NULL);
  memset(out, 0, sizeof(*out));
  return get_one(s, key, klen, state_decode_any, out);
}

int store_files_foreach(store_t *s, const char *repo, store_file_fn fn,
                        void *arg)
{
  char key[STORE__KEY_MAX + 1];
  size_t prefix = file_key(key, repo, NULL);
  MDB_txn *txn;
  MDB_cursor *c = NULL;
  if (!s || !fn || prefix == 0)
    return STORE_EINVAL;
  int rc = store__read_begin(s, &txn);
  if (rc)
    return rc;
  int bad = 0;
  rc = mdb_cursor_open(txn, s->dbi[DB_FILES], &c);
  MDB_val k = store__val(key, prefix), v;
  if (!rc)
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  for (; !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (k.mv_size < prefix || memcmp(k.mv_data, key, prefix) != 0)
      break; /* past this repository's range */
    if (k.mv_size == prefix)
      continue; /* the scan state */
    store_file_t f;
    char path[STORE__KEY_MAX + 1];
    size_t plen = k.mv_size - prefix;
    memcpy(path, (const char *)k.mv_data + prefix, plen);
    path[plen] = '\0';
    if (file_decode(&v, &f, false) != 0) {
      bad = STORE_ECORRUPT;
      continue;
    }
    if (fn(path, plen, &f, arg) != 0)
      break;
  }
  mdb_cursor_close(c);
  store__read_end(s, txn);
  return rc && rc != MDB_NOTFOUND ? rc : bad;
}

int store_files_reader_open(store_t *s, const char *repo,
                            store_files_reader_t **out)
{
  *out = NULL;
  store_files_reader_t *r = calloc(1, sizeof(*r));
  if (!r)
    return STORE_ENOMEM;
  r->s = s;
  r->prefix = s ? file_key(r->key, repo, NULL) : 0;
  int rc = r->prefix ? store__read_begin(s, &r->txn) : STORE_EINVAL;
  if (rc) {
    free(r);
    return rc;
  }
  *out = r;
  return 0;
}

int store_files_reader_get(store_files_reader_t *r, const char *path,
                           store_file_t *out)
{
  size_t pl = path ? strlen(path) : 0;
  memset(out, 0, sizeof(*out));
  if (pl == 0 || r->prefix + pl > STORE__KEY_MAX)
    return STORE_EINVAL;
  memcpy(r->key + r->prefix, path, pl);
  MDB_val k = store__val(r->key, r->prefix + pl), v;
  int rc = mdb_get(r->txn, r->s->dbi[DB_FILES], &k, &v);
  if (rc)
    return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
  return file_decode(&v, out, false);
}

void store_files_reader_close(store_files_reader_t *r)
{
  if (!r)
    return;
  store__read_end(r->s, r->txn);
  free(r);
}

/* ---- the store actor's COMMAND "scan_files" ---- */

static const char *str_or(const json_t *o, const char *dflt)
{
  return json_is_string(o) ? json_string_value(o) : dflt;
}

/* [path, size, mtime_ns, scanned_at, flags, blob, blame|null] */
static bool put_entry_ok(const json_t *e)
{
  return json_is_array(e) && json_array_size(e) == 7 &&
         json_is_string(json_array_get(e, 0)) &&
         json_is_integer(json_array_get(e, 1)) &&
         json_is_integer(json_array_get(e, 2)) &&
         json_is_integer(json_array_get(e, 3)) &&
         json_is_integer(json_array_get(e, 4)) &&
         json_is_string(json_array_get(e, 5)) &&
         (json_is_null(json_array_get(e, 6)) ||
          json_is_array(json_array_get(e, 6)));
}

int store_files_check(const json_t *args)
{
  const json_t *put = json_object_get(args, "put");
  const json_t *del = json_object_get(args, "del");
  const json_t *state = json_object_get(args, "state");
  size_t i;
  const json_t *e;
  if (!json_is_string(json_object_get(args, "repo")) ||
      (put && !json_is_array(put)) || (del && !json_is_array(del)) ||
      (state && !json_is_object(state)))
    return STORE_EINVAL;
  json_array_foreach(put, i, e) {
    if (!put_entry_ok(e))
      return STORE_EINVAL;
  }
  json_array_foreach(del, i, e) {
    if (!json_is_string(e))
      return STORE_EINVAL;
  }
  return 0;
}

static int apply_put(store_txn_t *t, const char *repo, const json_t *e)
{
  store_file_t f = {
      .size = (uint64_t)json_integer_value(json_array_get(e, 1)),
      .mtime_ns = (int64_t)json_integer_value(json_array_get(e, 2)),
      .scanned_at = (int64_t)json_integer_value(json_array_get(e, 3)),
      .flags = (uint32_t)json_integer_value(json_array_get(e, 4)),
  };
  snprintf(f.blob, sizeof(f.blob), "%s", str_or(json_array_get(e, 5), ""));
  json_t *blame = json_array_get(e, 6);
  f.blame = json_is_array(blame) ? blame : NULL;
  return store_file_put(t, repo, json_string_value(json_array_get(e, 0)), &f);
}

static int apply_state(store_txn_t *t, const char *repo, const json_t *o)
{
  store_scan_state_t st;
  memset(&st, 0, sizeof(st));
  snprintf(st.commit, sizeof(st.commit), "%s",
           str_or(json_object_get(o, "commit"), ""));
  snprintf(st.settings, sizeof(st.settings), "%s",
           str_or(json_object_get(o, "settings"), ""));
  st.at = (int64_t)json_integer_value(json_object_get(o, "at"));
  return store_scan_state_put(t, repo, &st);
}

int store_files_apply(store_txn_t *t, const json_t *args)
{
  int rc = store_files_check(args);
  const char *repo = json_string_value(json_object_get(args, "repo"));
  const json_t *state = json_object_get(args, "state");
  size_t i;
  const json_t *e;
  if (rc)
    return rc;
  json_array_foreach(json_object_get(args, "put"), i, e) {
    rc = apply_put(t, repo, e);
    if (rc && rc != STORE_EINVAL) /* a path too long is left unrecorded */
      return rc;
  }
  json_array_foreach(json_object_get(args, "del"), i, e) {
    rc = store_file_delete(t, repo, json_string_value(e));
    if (rc && rc != STORE_EINVAL)
      return rc;
  }
  return state ? apply_state(t, repo, state) : 0;
}
