/*
 * codec_walk.h: the decoding walker, compiled into each encoding's file.
 * Include it only from codec_msgpack.c and codec_json.c (protocol/ only).
 *
 * Design note
 * -----------
 * Decoding is one walk over the "d" map against the message's field table
 * (schema.c): each entry's key is matched to its row, the value is parsed
 * and checked into the struct as it is read (wire types, integer ranges,
 * caps, UTF-8, enumerations; strings are copied out), a nested map is
 * walked the same way, and once a map is read its required rows and its
 * rule across fields are checked. A key that appears twice in one map is
 * malformed, an unknown key is skipped, a nil value is "absent". So a
 * message with several faults reports the first in wire order, and a
 * missing required field after them.
 *
 * The walker is written once, here, and read through a small reader that
 * the including file defines before it includes this file:
 *
 *   walk_rd_t    the reader's state for one decode (msgpack: the cursor
 *                over the bytes; JSON: whether json_t members are shared);
 *   walk_iter_t  a position among the entries of one map;
 *   walk_map_open(rd, map, it)   start reading the entries of @p map;
 *   walk_map_next(rd, it, &key, &klen, &v, path, e)
 *                1 and the next entry, 0 after the last, or an error code
 *                (a key that is not a string: PROTO_EFIELD naming @p path);
 *                the value of an entry is either parsed before the next
 *                call or left unread (the reader steps over it);
 *   walk_array_items(rd, arr, out, path, e)  views of the as.n elements;
 *   walk_to_json(rd, v, &json, path, e)      a JSON member, checked;
 *   walk_ts(v, &ms, path, e)                 an F_TS value.
 *
 * Each encoding thus gets its own compiled copy of the same walker with
 * its reader inlined. The walker used to reach the reader through a table
 * of function pointers and took each entry through a callback; inlined,
 * the msgpack cursor stays in a register while a map is read, which was
 * most of the gain of protocol/README.md "Speed", fourth round. The
 * checks themselves (strings, numbers, timestamps) are codec.c's and
 * proto_int.h's, shared with the validator and the encoders.
 */
#ifndef PROTO_CODEC_WALK_H
#define PROTO_CODEC_WALK_H

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proto_int.h"

static void walk_map_open(walk_rd_t *rd, const proto__val_t *map,
                          walk_iter_t *it);
static int walk_map_next(walk_rd_t *rd, walk_iter_t *it, const char **key,
                         size_t *klen, proto__val_t *v,
                         const proto__path_t *path, proto__err_t *e);
static int walk_array_items(walk_rd_t *rd, const proto__val_t *arr,
                            proto__val_t *out, const proto__path_t *path,
                            proto__err_t *e);
static int walk_to_json(walk_rd_t *rd, const proto__val_t *v, json_t **out,
                        const proto__path_t *path, proto__err_t *e);
static int walk_ts(const proto__val_t *v, int64_t *ms,
                   const proto__path_t *path, proto__err_t *e);

_Static_assert(PROTO__MAX_FIELDS <= 32, "the walker's masks hold 32 rows");

/* @p n bytes at @p a and @p b equal? Short names in a few overlapping
 * fixed-size loads (no call, no loop per byte); both ranges are readable
 * for @p n bytes. */
static bool walk_short_eq(const char *a, const char *b, size_t n)
{
  uint64_t a0, a1, b0, b1;
  uint32_t c0, c1, d0, d1;

  if (n > 16)
    return memcmp(a, b, n) == 0;
  if (n >= 8) {
    memcpy(&a0, a, 8), memcpy(&a1, a + n - 8, 8);
    memcpy(&b0, b, 8), memcpy(&b1, b + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  if (n >= 4) {
    memcpy(&c0, a, 4), memcpy(&c1, a + n - 4, 4);
    memcpy(&d0, b, 4), memcpy(&d1, b + n - 4, 4);
    return ((c0 ^ d0) | (c1 ^ d1)) == 0;
  }
  return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] &&
                    a[n - 1] == b[n - 1]);
}

static bool walk_key_is(const proto__field_t *f, const char *key, size_t klen)
{
  /* Length, then the bytes (not strncmp: a key may hold NUL bytes). */
  return f->namelen == klen && walk_short_eq(f->name, key, klen);
}

/* The row of @p t named @p key, or -1. Keys come in table order, minus
 * the absent ones: row @p next first, then the rows after it, then all. */
static int walk_row(const proto__table_t *t, size_t next, const char *key,
                    size_t klen)
{
  for (size_t k = next; k < t->n; k++)
    if (walk_key_is(&t->fields[k], key, klen))
      return (int)k;
  return proto__field_index(t, key, klen);
}

static int walk_get_int(const proto__val_t *v, int64_t lo, int64_t hi,
                        int64_t *out, const proto__path_t *path,
                        proto__err_t *e)
{
  int64_t x;

  if (v->kind == PROTO__V_INT) {
    x = v->as.i;
  } else if (v->kind == PROTO__V_UINT) {
    if (v->as.u > (uint64_t)INT64_MAX)
      return proto__failp(e, PROTO_EVALUE, path,
                          "%" PRIu64 " is out of range", v->as.u);
    x = (int64_t)v->as.u;
  } else {
    return proto__failp(e, PROTO_EFIELD, path, "expected an integer");
  }
  if (x < lo || x > hi)
    return proto__failp(e, PROTO_EVALUE, path,
                        "%" PRId64 " is out of range (%" PRId64 "..%" PRId64
                        ")",
                        x, lo, hi);
  *out = x;
  return 0;
}

static int walk_get_double(const proto__val_t *v, double *out,
                           const proto__path_t *path, proto__err_t *e)
{
  if (v->kind == PROTO__V_DOUBLE)
    *out = v->as.d;
  else if (v->kind == PROTO__V_INT)
    *out = (double)v->as.i;
  else if (v->kind == PROTO__V_UINT)
    *out = (double)v->as.u;
  else
    return proto__failp(e, PROTO_EFIELD, path, "expected a number");
  return proto__check_double(*out, path, e);
}

/* A checked, NUL-terminated copy of string value @p v. */
static int walk_get_str(const proto__val_t *v, size_t cap, char **out,
                        const proto__path_t *path, proto__err_t *e)
{
  if (v->kind != PROTO__V_STR)
    return proto__failp(e, PROTO_EFIELD, path, "expected a string");
  int rc = proto__check_str(v->as.s.p, v->as.s.len, cap, path, e);
  if (rc != 0)
    return rc;
  *out = malloc(v->as.s.len + 1);
  if (*out == NULL)
    return proto__failp(e, PROTO_ENOMEM, path, "out of memory");
  memcpy(*out, v->as.s.p, v->as.s.len);
  (*out)[v->as.s.len] = '\0';
  return 0;
}

static int walk_get_state(const proto__val_t *v, proto_state_t *out,
                          const proto__path_t *path, proto__err_t *e)
{
  char q[68];

  if (v->kind != PROTO__V_STR)
    return proto__failp(e, PROTO_EFIELD, path, "expected a state name");
  int s = proto__state_find(v->as.s.p, v->as.s.len);
  if (s < 0) {
    proto__quote(q, v->as.s.p, v->as.s.len);
    return proto__failp(e, PROTO_EVALUE, path, "unknown state \"%s\"", q);
  }
  *out = (proto_state_t)s;
  return 0;
}

static int walk_get_list(walk_rd_t *rd, const proto__val_t *v,
                         proto_string_list_t *l, const proto__path_t *path,
                         proto__err_t *e)
{
  proto__val_t items[PROTO_MAX_LIST];

  if (v->kind != PROTO__V_ARRAY)
    return proto__failp(e, PROTO_EFIELD, path, "expected an array");
  if (v->as.n > PROTO_MAX_LIST)
    return proto__failp(e, PROTO_ETOOBIG, path,
                        "%zu items, over the cap of %d", v->as.n,
                        PROTO_MAX_LIST);
  if (v->as.n == 0)
    return 0;
  int rc = walk_array_items(rd, v, items, path, e);
  if (rc != 0)
    return rc;
  l->items = calloc(v->as.n, sizeof *l->items);
  if (l->items == NULL)
    return proto__failp(e, PROTO_ENOMEM, path, "out of memory");
  for (size_t i = 0; i < v->as.n; i++) {
    proto__path_t item = PROTO__PATH_ITEM(path, i);
    rc = walk_get_str(&items[i], PROTO_MAX_STR, &l->items[i], &item, e);
    if (rc != 0)
      return rc;
    l->len++; /* counts what proto_msg_fini must free */
  }
  return 0;
}

static int walk_get_int_field(const proto__field_t *f, const proto__val_t *v,
                              char *p, const proto__path_t *path,
                              proto__err_t *e)
{
  int64_t x = 0;
  int rc;

  switch (f->kind) {
  case PROTO__F_U32:
    rc = walk_get_int(v, 0, UINT32_MAX, &x, path, e);
    *(uint32_t *)p = (uint32_t)x;
    return rc;
  case PROTO__F_U64:
    rc = walk_get_int(v, 0, INT64_MAX, &x, path, e);
    *(uint64_t *)p = (uint64_t)x;
    return rc;
  default: /* PROTO__F_I64 */
    return walk_get_int(v, INT64_MIN, INT64_MAX, (int64_t *)p, path, e);
  }
}

static int walk_get_json(walk_rd_t *rd, const proto__field_t *f,
                         const proto__val_t *v, json_t **out,
                         const proto__path_t *path, proto__err_t *e)
{
  int rc = walk_to_json(rd, v, out, path, e);

  if (rc == 0 && (f->flags & PROTO__OBJECT) && !json_is_object(*out))
    rc = proto__failp(e, PROTO_EFIELD, path, "expected an object");
  return rc;
}

static int walk_get_ts(const proto__val_t *v, int64_t *out,
                       const proto__path_t *path, proto__err_t *e)
{
  int rc = walk_ts(v, out, path, e);

  return rc != 0 ? rc : proto__check_ts(*out, path, e);
}

static int walk_table(walk_rd_t *rd, const proto__table_t *t,
                      const proto__val_t *map, char *base,
                      const proto__path_t *prefix, proto__err_t *e);

/* Parse and check value @p v (not nil) into the member of row @p f. */
static int walk_field(walk_rd_t *rd, const proto__field_t *f,
                      const proto__val_t *v, char *base,
                      const proto__path_t *path, proto__err_t *e)
{
  char *p = base + f->offset;

  switch (f->kind) {
  case PROTO__F_STR:
    return walk_get_str(v, f->cap, (char **)p, path, e);
  case PROTO__F_BOOL:
    if (v->kind != PROTO__V_BOOL)
      return proto__failp(e, PROTO_EFIELD, path, "expected a boolean");
    *(bool *)p = v->as.b;
    return 0;
  case PROTO__F_U32:
  case PROTO__F_U64:
  case PROTO__F_I64:
    return walk_get_int_field(f, v, p, path, e);
  case PROTO__F_DOUBLE:
    return walk_get_double(v, (double *)p, path, e);
  case PROTO__F_STATE:
    return walk_get_state(v, (proto_state_t *)p, path, e);
  case PROTO__F_STRLIST:
    return walk_get_list(rd, v, (proto_string_list_t *)p, path, e);
  case PROTO__F_JSON:
    return walk_get_json(rd, f, v, (json_t **)p, path, e);
  case PROTO__F_TS:
    return walk_get_ts(v, (int64_t *)p, path, e);
  case PROTO__F_MAP:
    return walk_table(rd, f->sub, v, p, path, e);
  }
  return PROTO_EFIELD; /* not reached: every kind is handled above */
}

/* After the entries of a map: its required rows, then its rule. */
static int walk_table_done(const proto__table_t *t, const char *base,
                           uint32_t present, const proto__path_t *prefix,
                           proto__err_t *e)
{
  /* The absent rows only, in table order (bit i is row i). */
  uint32_t absent = ~present & (uint32_t)((UINT64_C(1) << t->n) - 1);

  for (; absent != 0; absent &= absent - 1) {
    const proto__field_t *f = &t->fields[__builtin_ctz(absent)];
    if (f->flags & PROTO__REQUIRED) {
      proto__path_t path = PROTO__PATH_FIELD(prefix, f->name);
      return proto__failp(e, PROTO_EFIELD, &path, "missing required field");
    }
  }
  return t->check != NULL ? t->check(base, e) : 0;
}

/* Decode map @p map into @p base as table @p t describes (bit i of the
 * masks is row i: PROTO__MAX_FIELDS <= 32). */
static int walk_table(walk_rd_t *rd, const proto__table_t *t,
                      const proto__val_t *map, char *base,
                      const proto__path_t *prefix, proto__err_t *e)
{
  uint32_t seen = 0;    /* rows whose key was met: a second is a duplicate */
  uint32_t present = 0; /* rows parsed (a nil value counts as absent) */
  size_t next = 0;      /* the row expected next */
  walk_iter_t it;
  const char *key = NULL;
  size_t klen = 0;
  proto__val_t v;
  int rc;

  if (map->kind != PROTO__V_MAP)
    return proto__failp(e, PROTO_EFIELD, prefix, "expected a map");
  walk_map_open(rd, map, &it);
  while ((rc = walk_map_next(rd, &it, &key, &klen, &v, prefix, e)) > 0) {
    int i = walk_row(t, next, key, klen);
    if (i < 0)
      continue; /* unknown key: skipped */
    const proto__field_t *f = &t->fields[i];
    uint32_t bit = UINT32_C(1) << i;
    proto__path_t path = PROTO__PATH_FIELD(prefix, f->name);
    if (seen & bit)
      return proto__failp(e, PROTO_EMALFORMED, &path, "duplicate key");
    seen |= bit;
    next = (size_t)i + 1;
    if (v.kind == PROTO__V_NIL)
      continue;
    rc = walk_field(rd, f, &v, base, &path, e);
    if (rc != 0)
      return rc;
    present |= bit;
  }
  return rc != 0 ? rc : walk_table_done(t, base, present, prefix, e);
}

/* Decode the "d" map @p d as a message of type @p t into @p m, which the
 * caller zeroed (proto__decode_begin). On failure @p m is freed and
 * zeroed. */
static int walk_decode(walk_rd_t *rd, proto_type_t t, const proto__val_t *d,
                       proto_msg_t *m, proto__err_t *e)
{
  const proto__table_t *tab = proto__table(t);
  int rc;

  if (tab == NULL)
    return proto__fail(e, PROTO_ETYPE, NULL, "unknown message type %d",
                       (int)t);
  m->type = t;
  proto__path_t root = PROTO__PATH_ROOT(proto_type_name(t));
  rc = walk_table(rd, tab, d, (char *)&m->u, &root, e);
  if (rc != 0)
    proto_msg_fini(m);
  return rc;
}

#endif /* PROTO_CODEC_WALK_H */
