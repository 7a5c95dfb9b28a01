/*
 * codec_msgpack.c: the msgpack encoding, {"v": 1, "t": "<type>", "d": {...}}.
 *
 * Design note: this file only adapts msgpack-c to the generic walker in
 * codec.c (field tables, checks). Encoding packs straight into the
 * caller's msgpack_sbuffer and rolls the buffer back on any failure.
 *
 * Decoding trusts nothing, in three steps:
 *   1. prescan() walks the bytes once without allocating: every header
 *      must be a valid msgpack format, every length must fit in what is
 *      left of the buffer, an array or map may not announce more elements
 *      than there are bytes left (each element takes at least one),
 *      containers may nest at most 32 deep (MP_MAX_NEST), and the message
 *      must end exactly at the end of the buffer. This bounds what
 *      msgpack-c allocates next (its unpacker reserves memory for the
 *      announced element count up front, so five hostile bytes could
 *      otherwise ask for gigabytes) and keeps its parser within its own
 *      fixed 32-level stack.
 *   2. msgpack_unpack_next() builds the object tree in a zone; the tree's
 *      strings point into the caller's buffer.
 *   3. The envelope is checked here, and the "d" map goes to proto__decode
 *      through the reader below, which copies everything it keeps.
 * JSON members (event/reply "data", command "args") travel as plain
 * msgpack maps/arrays/scalars and are converted to and from json_t here.
 */
#include <math.h>
#include <string.h>

#include "protocol/proto_int.h"

/* Deepest container nesting the pre-scan lets through: the stack of
 * msgpack-c's parser (MSGPACK_EMBED_STACK_SIZE; one more level and it
 * fails as if out of memory). A valid message nests at most
 * PROTO_MAX_DEPTH + 2 (envelope, "d", then a JSON member); the converter
 * checks that tighter bound and names the field. */
#define MP_MAX_NEST 32

/* ---- step 1: structural pre-scan ---- */

typedef struct scan {
  const uint8_t *p;
  size_t len;
  size_t pos;
  proto__err_t *e;
} scan_t;

static uint64_t read_be(const uint8_t *p, size_t n)
{
  uint64_t v = 0;

  for (size_t i = 0; i < n; i++)
    v = (v << 8) | p[i];
  return v;
}

static int truncated(scan_t *s)
{
  return proto__fail(s->e, PROTO_EMALFORMED, "msgpack",
                     "truncated input (%zu bytes)", s->len);
}

/* Read the header at s->pos: advance past the header, and set *payload to
 * the bytes that follow it (strings, bin, ext, numbers) or *count to the
 * elements it announces (arrays, maps). */
static int read_header(scan_t *s, size_t *payload, uint64_t *count)
{
  uint8_t b = s->p[s->pos];
  size_t ext = 0; /* ext formats carry a type byte after the length */
  size_t lenbytes = 0;

  *payload = 0;
  *count = 0;
  s->pos++;
  if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
    return 0; /* fixint, nil, bool */
  if (b >= 0x80 && b <= 0x8f) {
    *count = 2u * (b & 0x0fu);
    return 0;
  }
  if (b >= 0x90 && b <= 0x9f) {
    *count = b & 0x0fu;
    return 0;
  }
  if (b >= 0xa0 && b <= 0xbf) {
    *payload = b & 0x1fu;
    return 0;
  }
  switch (b) {
  case 0xc4: case 0xd9: lenbytes = 1; break; /* bin8, str8 */
  case 0xc5: case 0xda: lenbytes = 2; break;
  case 0xc6: case 0xdb: lenbytes = 4; break;
  case 0xc7: lenbytes = 1; ext = 1; break; /* ext8/16/32 */
  case 0xc8: lenbytes = 2; ext = 1; break;
  case 0xc9: lenbytes = 4; ext = 1; break;
  case 0xca: *payload = 4; return 0; /* float32 */
  case 0xcb: *payload = 8; return 0; /* float64 */
  case 0xcc: case 0xd0: *payload = 1; return 0; /* (u)int8 */
  case 0xcd: case 0xd1: *payload = 2; return 0;
  case 0xce: case 0xd2: *payload = 4; return 0;
  case 0xcf: case 0xd3: *payload = 8; return 0;
  case 0xd4: *payload = 2; return 0; /* fixext 1, 2, 4, 8, 16 + type */
  case 0xd5: *payload = 3; return 0;
  case 0xd6: *payload = 5; return 0;
  case 0xd7: *payload = 9; return 0;
  case 0xd8: *payload = 17; return 0;
  case 0xdc: case 0xde: lenbytes = 2; break; /* array16, map16 */
  case 0xdd: case 0xdf: lenbytes = 4; break;
  default: /* 0xc1 is never used */
    return proto__fail(s->e, PROTO_EMALFORMED, "msgpack",
                       "invalid format byte 0x%02x at offset %zu", b,
                       s->pos - 1);
  }
  if (s->len - s->pos < lenbytes)
    return truncated(s);
  uint64_t n = read_be(s->p + s->pos, lenbytes);
  s->pos += lenbytes;
  if (b >= 0xdc)
    *count = b >= 0xde ? 2 * n : n;
  else
    *payload = (size_t)n + ext;
  return 0;
}

static int prescan(const uint8_t *p, size_t len, proto__err_t *e)
{
  scan_t s = {.p = p, .len = len, .pos = 0, .e = e};
  uint64_t stack[MP_MAX_NEST];
  int depth = 0;
  uint64_t pending = 1; /* objects still to read at the current level */

  for (;;) {
    if (pending == 0) {
      if (depth == 0)
        break;
      pending = stack[--depth];
      continue;
    }
    if (s.pos >= len)
      return truncated(&s);
    size_t payload;
    uint64_t count;
    int rc = read_header(&s, &payload, &count);
    if (rc != 0)
      return rc;
    pending--;
    if (payload > len - s.pos || count > len - s.pos)
      return truncated(&s);
    s.pos += payload;
    if (count == 0)
      continue;
    if (depth == MP_MAX_NEST)
      return proto__fail(e, PROTO_EDEPTH, "msgpack",
                         "nesting deeper than %d levels", MP_MAX_NEST);
    stack[depth++] = pending;
    pending = count;
  }
  if (s.pos != len)
    return proto__fail(e, PROTO_EMALFORMED, "msgpack",
                       "%zu trailing bytes after the message", len - s.pos);
  return 0;
}

/* ---- reader: msgpack_object views for the walker ---- */

static void mp_view(const msgpack_object *o, proto__val_t *v)
{
  memset(v, 0, sizeof *v);
  v->node = o;
  switch (o->type) {
  case MSGPACK_OBJECT_NIL:
    v->kind = PROTO__V_NIL;
    break;
  case MSGPACK_OBJECT_BOOLEAN:
    v->kind = PROTO__V_BOOL;
    v->as.b = o->via.boolean;
    break;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    v->kind = PROTO__V_UINT;
    v->as.u = o->via.u64;
    break;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    v->kind = PROTO__V_INT;
    v->as.i = o->via.i64;
    break;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
    v->kind = PROTO__V_DOUBLE;
    v->as.d = o->via.f64;
    break;
  case MSGPACK_OBJECT_STR:
    v->kind = PROTO__V_STR;
    v->as.s.p = o->via.str.ptr;
    v->as.s.len = o->via.str.size;
    break;
  case MSGPACK_OBJECT_ARRAY:
    v->kind = PROTO__V_ARRAY;
    v->as.n = o->via.array.size;
    break;
  case MSGPACK_OBJECT_MAP:
    v->kind = PROTO__V_MAP;
    v->as.n = o->via.map.size;
    break;
  default:
    v->kind = PROTO__V_OTHER;
    break;
  }
}

static int key_not_str(const char *path, proto__err_t *e)
{
  return proto__fail(e, PROTO_EFIELD, path, "map key is not a string");
}

static int mp_map_each(const proto__val_t *map, proto__entry_fn fn,
                       void *ctx, const char *path, proto__err_t *e)
{
  const msgpack_object *o = map->node;

  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object_kv *kv = &o->via.map.ptr[i];
    proto__val_t v;

    if (kv->key.type != MSGPACK_OBJECT_STR)
      return key_not_str(path, e);
    mp_view(&kv->val, &v);
    int rc = fn(ctx, kv->key.via.str.ptr, kv->key.via.str.size, &v);
    if (rc != 0)
      return rc;
  }
  return 0;
}

static void mp_array_at(const proto__val_t *arr, size_t i, proto__val_t *out)
{
  const msgpack_object *o = arr->node;

  mp_view(&o->via.array.ptr[i], out);
}

static int mp_to_json_at(const msgpack_object *o, int depth, json_t **out,
                         const char *path, proto__err_t *e);

static int oom(const char *path, proto__err_t *e)
{
  return proto__fail(e, PROTO_ENOMEM, path, "out of memory");
}

static int mp_array_to_json(const msgpack_object *o, int depth, json_t *arr,
                            const char *path, proto__err_t *e)
{
  for (uint32_t i = 0; i < o->via.array.size; i++) {
    json_t *item = NULL;
    int rc = mp_to_json_at(&o->via.array.ptr[i], depth + 1, &item, path, e);
    if (rc != 0)
      return rc;
    if (json_array_append_new(arr, item) != 0)
      return oom(path, e);
  }
  return 0;
}

static int mp_map_to_json(const msgpack_object *o, int depth, json_t *obj,
                          const char *path, proto__err_t *e)
{
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object_kv *kv = &o->via.map.ptr[i];
    json_t *val = NULL;

    if (kv->key.type != MSGPACK_OBJECT_STR)
      return key_not_str(path, e);
    const char *k = kv->key.via.str.ptr;
    size_t klen = kv->key.via.str.size;
    int rc = proto__check_str(k, klen, PROTO_MAX_STR, path, e);
    if (rc != 0)
      return rc;
    if (json_object_getn(obj, k, klen) != NULL)
      return proto__fail(e, PROTO_EMALFORMED, path, "duplicate key");
    rc = mp_to_json_at(&kv->val, depth + 1, &val, path, e);
    if (rc != 0)
      return rc;
    if (json_object_setn_new_nocheck(obj, k, klen, val) != 0)
      return oom(path, e);
  }
  return 0;
}

/* Convert a container @p o that sits @p depth containers deep. */
static int mp_container_to_json(const msgpack_object *o, int depth,
                                json_t **out, const char *path,
                                proto__err_t *e)
{
  bool is_map = o->type == MSGPACK_OBJECT_MAP;
  int rc;

  if (depth >= PROTO_MAX_DEPTH)
    return proto__fail(e, PROTO_EDEPTH, path, "nesting deeper than %d levels",
                       PROTO_MAX_DEPTH);
  *out = is_map ? json_object() : json_array();
  if (*out == NULL)
    return oom(path, e);
  if (is_map)
    rc = mp_map_to_json(o, depth, *out, path, e);
  else
    rc = mp_array_to_json(o, depth, *out, path, e);
  if (rc != 0) {
    json_decref(*out);
    *out = NULL;
  }
  return rc;
}

static int mp_to_json_at(const msgpack_object *o, int depth, json_t **out,
                         const char *path, proto__err_t *e)
{
  int rc;

  *out = NULL;
  switch (o->type) {
  case MSGPACK_OBJECT_NIL:
    *out = json_null();
    break;
  case MSGPACK_OBJECT_BOOLEAN:
    *out = json_boolean(o->via.boolean);
    break;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    if (o->via.u64 > (uint64_t)INT64_MAX)
      return proto__fail(e, PROTO_EVALUE, path,
                         "integer out of range (JSON has 64-bit signed)");
    *out = json_integer((json_int_t)o->via.u64);
    break;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    *out = json_integer((json_int_t)o->via.i64);
    break;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
    if (!isfinite(o->via.f64))
      return proto__fail(e, PROTO_EVALUE, path, "not a finite number");
    *out = json_real(o->via.f64);
    break;
  case MSGPACK_OBJECT_STR:
    rc = proto__check_str(o->via.str.ptr, o->via.str.size, PROTO_MAX_TEXT,
                          path, e);
    if (rc != 0)
      return rc;
    *out = json_stringn_nocheck(o->via.str.ptr, o->via.str.size);
    break;
  case MSGPACK_OBJECT_ARRAY:
  case MSGPACK_OBJECT_MAP:
    return mp_container_to_json(o, depth, out, path, e);
  default:
    return proto__fail(e, PROTO_EFIELD, path,
                       "binary and extension values have no JSON form");
  }
  return *out != NULL ? 0 : oom(path, e);
}

static int mp_to_json(const proto__val_t *v, json_t **out, const char *path,
                      proto__err_t *e)
{
  return mp_to_json_at(v->node, 0, out, path, e);
}

static int mp_ts(const proto__val_t *v, int64_t *ms, const char *path,
                 proto__err_t *e)
{
  if (v->kind == PROTO__V_INT) {
    *ms = v->as.i; /* negative: refused by the validation that follows */
    return 0;
  }
  if (v->kind != PROTO__V_UINT)
    return proto__fail(e, PROTO_EFIELD, path, "expected an integer (unix ms)");
  if (v->as.u > (uint64_t)PROTO__TS_MAX)
    return proto__fail(e, PROTO_EVALUE, path,
                       "timestamp %llu ms is outside 1970..9999",
                       (unsigned long long)v->as.u);
  *ms = (int64_t)v->as.u;
  return 0;
}

static const proto__reader_ops_t mp_reader = {
    .map_each = mp_map_each,
    .array_at = mp_array_at,
    .to_json = mp_to_json,
    .ts = mp_ts,
};

/* ---- writer: msgpack_packer calls for the walker ---- */

static int mp_rc(int r)
{
  return r == 0 ? 0 : PROTO_ENOMEM; /* sbuffer writes fail only on OOM */
}

static int w_map_begin(void *w, size_t n)
{
  return mp_rc(msgpack_pack_map(w, n));
}

static int w_array_begin(void *w, size_t n)
{
  return mp_rc(msgpack_pack_array(w, n));
}

static int w_end(void *w)
{
  return 0; /* msgpack containers carry their count up front */
}

static int w_str(void *w, const char *s)
{
  return mp_rc(msgpack_pack_str_with_body(w, s, strlen(s)));
}

static int w_i64(void *w, int64_t v)
{
  return mp_rc(msgpack_pack_int64(w, v));
}

static int w_u64(void *w, uint64_t v)
{
  return mp_rc(msgpack_pack_uint64(w, v));
}

static int w_dbl(void *w, double v)
{
  return mp_rc(msgpack_pack_double(w, v));
}

static int w_bool(void *w, bool v)
{
  return mp_rc(v ? msgpack_pack_true(w) : msgpack_pack_false(w));
}

static int pack_json(msgpack_packer *pk, const json_t *v, int depth);

static int pack_json_object(msgpack_packer *pk, const json_t *v, int depth)
{
  const char *key;
  size_t klen;
  json_t *item;
  int rc = mp_rc(msgpack_pack_map(pk, json_object_size(v)));

  json_object_keylen_foreach((json_t *)v, key, klen, item) {
    if (rc == 0)
      rc = mp_rc(msgpack_pack_str_with_body(pk, key, klen));
    if (rc == 0)
      rc = pack_json(pk, item, depth + 1);
  }
  return rc;
}

static int pack_json_array(msgpack_packer *pk, const json_t *v, int depth)
{
  size_t i;
  json_t *item;
  int rc = mp_rc(msgpack_pack_array(pk, json_array_size(v)));

  json_array_foreach(v, i, item) {
    if (rc == 0)
      rc = pack_json(pk, item, depth + 1);
  }
  return rc;
}

/* @p v was validated (proto__check_json); the depth test only guards the
 * recursion should a caller bypass that. */
static int pack_json(msgpack_packer *pk, const json_t *v, int depth)
{
  if (depth > PROTO_MAX_DEPTH)
    return PROTO_EDEPTH;
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return pack_json_object(pk, v, depth);
  case JSON_ARRAY:
    return pack_json_array(pk, v, depth);
  case JSON_STRING:
    return mp_rc(msgpack_pack_str_with_body(pk, json_string_value(v),
                                            json_string_length(v)));
  case JSON_INTEGER:
    return mp_rc(msgpack_pack_int64(pk, json_integer_value(v)));
  case JSON_REAL:
    return mp_rc(msgpack_pack_double(pk, json_real_value(v)));
  case JSON_TRUE:
    return mp_rc(msgpack_pack_true(pk));
  case JSON_FALSE:
    return mp_rc(msgpack_pack_false(pk));
  default:
    return mp_rc(msgpack_pack_nil(pk));
  }
}

static int w_json(void *w, const json_t *v)
{
  return pack_json(w, v, 0);
}

static const proto__writer_ops_t mp_writer = {
    .map_begin = w_map_begin,
    .map_end = w_end,
    .array_begin = w_array_begin,
    .array_end = w_end,
    .key = w_str,
    .str = w_str,
    .i64 = w_i64,
    .u64 = w_u64,
    .dbl = w_dbl,
    .boolean = w_bool,
    .ts = w_i64, /* unix ms as an integer */
    .json = w_json,
};

/* ---- public API ---- */

static int pack_envelope(const proto_msg_t *m, msgpack_packer *pk)
{
  int rc = w_map_begin(pk, 3);

  if (rc == 0)
    rc = w_str(pk, "v");
  if (rc == 0)
    rc = w_u64(pk, PROTO_VERSION);
  if (rc == 0)
    rc = w_str(pk, "t");
  if (rc == 0)
    rc = w_str(pk, proto_type_name(m->type));
  if (rc == 0)
    rc = w_str(pk, "d");
  if (rc == 0)
    rc = proto__encode(m, &mp_writer, pk);
  return rc;
}

int proto_msgpack_encode(const proto_msg_t *m, msgpack_sbuffer *out)
{
  msgpack_packer pk;
  size_t start;
  int rc;

  if (m == NULL || out == NULL)
    return PROTO_EFIELD;
  rc = proto__validate(m, NULL);
  if (rc != 0)
    return rc;
  start = out->size;
  msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
  rc = pack_envelope(m, &pk);
  if (rc == 0 && out->size - start > PROTO_MAX_MSG)
    rc = PROTO_ETOOBIG;
  if (rc != 0)
    out->size = start; /* leave the caller's buffer as it was */
  return rc;
}

/* The envelope's three entries, each NULL when absent. */
typedef struct envelope {
  const msgpack_object *v, *t, *d;
} envelope_t;

static int envelope_entries(const msgpack_object *o, envelope_t *env,
                            proto__err_t *e)
{
  static const char *const names[] = {"v", "t", "d"};
  const msgpack_object **slots[] = {&env->v, &env->t, &env->d};

  if (o->type != MSGPACK_OBJECT_MAP)
    return proto__fail(e, PROTO_EMALFORMED, "msgpack",
                       "a message is a map {v, t, d}");
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object_kv *kv = &o->via.map.ptr[i];
    if (kv->key.type != MSGPACK_OBJECT_STR)
      return key_not_str("msgpack", e);
    for (int k = 0; k < 3; k++) {
      if (kv->key.via.str.size != 1 || kv->key.via.str.ptr[0] != names[k][0])
        continue;
      if (*slots[k] != NULL)
        return proto__fail(e, PROTO_EMALFORMED, names[k], "duplicate key");
      *slots[k] = &kv->val;
    }
  }
  return 0;
}

static int envelope_type(const msgpack_object *t, proto_type_t *type,
                         proto__err_t *e)
{
  char name[32], q[68];

  if (t == NULL)
    return proto__fail(e, PROTO_EFIELD, "t", "missing required field");
  if (t->type != MSGPACK_OBJECT_STR)
    return proto__fail(e, PROTO_EFIELD, "t", "expected a string");
  *type = PROTO_NONE;
  if (t->via.str.size < sizeof name) {
    memcpy(name, t->via.str.ptr, t->via.str.size);
    name[t->via.str.size] = '\0';
    if (strlen(name) == t->via.str.size)
      *type = proto_type_from_name(name);
  }
  if (*type == PROTO_NONE) {
    proto__quote(q, t->via.str.ptr, t->via.str.size);
    return proto__fail(e, PROTO_ETYPE, "t", "unknown message type \"%s\"", q);
  }
  return 0;
}

static int decode_envelope(const msgpack_object *o, proto_msg_t *m,
                           proto__err_t *e)
{
  envelope_t env = {NULL, NULL, NULL};
  proto_type_t type = PROTO_NONE;
  proto__val_t d;
  int rc = envelope_entries(o, &env, e);

  if (rc != 0)
    return rc;
  /* The version comes first: a later version may change "t" and "d". */
  if (env.v == NULL)
    return proto__fail(e, PROTO_EVERSION, "v", "missing protocol version");
  if (env.v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
      env.v->via.u64 != PROTO_VERSION)
    return proto__fail(e, PROTO_EVERSION, "v",
                       "unsupported protocol version (this is %d)",
                       PROTO_VERSION);
  rc = envelope_type(env.t, &type, e);
  if (rc != 0)
    return rc;
  if (env.d == NULL)
    return proto__fail(e, PROTO_EFIELD, "d", "missing required field");
  if (env.d->type != MSGPACK_OBJECT_MAP)
    return proto__fail(e, PROTO_EFIELD, "d", "expected a map");
  mp_view(env.d, &d);
  return proto__decode(type, &d, &mp_reader, m, e);
}

int proto_msgpack_decode(const void *buf, size_t len, proto_msg_t *m,
                         char *err, size_t errlen)
{
  proto__err_t e = {err, errlen};
  msgpack_unpacked u;
  size_t off = 0;
  int rc;

  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (m == NULL)
    return proto__fail(&e, PROTO_EFIELD, NULL, "no output message");
  memset(m, 0, sizeof *m);
  if (len > PROTO_MAX_MSG)
    return proto__fail(&e, PROTO_ETOOBIG, "msgpack",
                       "message of %zu bytes is over the %u-byte cap", len,
                       PROTO_MAX_MSG);
  if (buf == NULL && len > 0)
    return proto__fail(&e, PROTO_EMALFORMED, "msgpack", "no input buffer");
  rc = prescan(buf, len, &e);
  if (rc != 0)
    return rc;
  msgpack_unpacked_init(&u);
  switch (msgpack_unpack_next(&u, buf, len, &off)) {
  case MSGPACK_UNPACK_SUCCESS:
    rc = decode_envelope(&u.data, m, &e);
    break;
  case MSGPACK_UNPACK_NOMEM_ERROR:
    rc = oom("msgpack", &e);
    break;
  default: /* not reached after prescan(); kept as a defence */
    rc = proto__fail(&e, PROTO_EMALFORMED, "msgpack", "unpack failed");
    break;
  }
  msgpack_unpacked_destroy(&u);
  return rc;
}
