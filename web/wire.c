/*
 * wire.c: JSON values to msgpack and back, for the ccm.v1.msgpack
 * subprotocol, whose frames carry the same maps as ccm.v1.json.
 *
 * Encoding uses msgpack-c's packer. Decoding is a small bounds-checked
 * parser of its own instead of msgpack_unpack: a hostile frame of a few
 * bytes can announce a map of four billion entries, which msgpack-c would
 * try to allocate up front. Here every container is checked against the
 * bytes left (each element takes at least one byte) and nesting is capped
 * at PROTO_MAX_DEPTH. Map keys must be strings; bin, ext and the reserved
 * byte 0xc1 are refused; strings must be valid UTF-8 for JSON (jansson
 * checks). Integers beyond int64 are refused (JSON has no uint64).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "web/web_int.h"

/* ------------------------------------------------------------- encoding */

static int pack(msgpack_packer *pk, const json_t *v, int depth)
{
  if (depth > PROTO_MAX_DEPTH)
    return -1;
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    const char *k;
    json_t *x;
    if (msgpack_pack_map(pk, json_object_size(v)))
      return -1;
    json_object_foreach((json_t *)v, k, x) {
      size_t n = strlen(k);
      if (msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, k, n) ||
          pack(pk, x, depth + 1))
        return -1;
    }
    return 0;
  }
  case JSON_ARRAY: {
    size_t i;
    json_t *x;
    if (msgpack_pack_array(pk, json_array_size(v)))
      return -1;
    json_array_foreach(v, i, x) if (pack(pk, x, depth + 1)) return -1;
    return 0;
  }
  case JSON_STRING: {
    size_t n = json_string_length(v);
    return msgpack_pack_str(pk, n) ||
                   msgpack_pack_str_body(pk, json_string_value(v), n)
               ? -1
               : 0;
  }
  case JSON_INTEGER:
    return msgpack_pack_int64(pk, json_integer_value(v)) ? -1 : 0;
  case JSON_REAL:
    return msgpack_pack_double(pk, json_real_value(v)) ? -1 : 0;
  case JSON_TRUE:
    return msgpack_pack_true(pk) ? -1 : 0;
  case JSON_FALSE:
    return msgpack_pack_false(pk) ? -1 : 0;
  default:
    return msgpack_pack_nil(pk) ? -1 : 0;
  }
}

int web__json_to_msgpack(const json_t *v, msgpack_sbuffer *sb)
{
  msgpack_packer pk;
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  return pack(&pk, v, 0);
}

/* ------------------------------------------------------------- decoding */

typedef struct rd {
  const unsigned char *start, *p, *end;
  char *err;
  size_t errlen;
} rd_t;

static json_t *fail(rd_t *r, const char *what)
{
  if (r->err && r->errlen)
    snprintf(r->err, r->errlen, "msgpack: %s at byte %td", what,
             r->p - r->start);
  return NULL;
}

static bool take(rd_t *r, size_t n, const unsigned char **out)
{
  if ((size_t)(r->end - r->p) < n)
    return false;
  *out = r->p;
  r->p += n;
  return true;
}

static bool take_uint(rd_t *r, size_t n, uint64_t *v)
{
  const unsigned char *b;
  if (!take(r, n, &b))
    return false;
  *v = 0;
  for (size_t i = 0; i < n; i++)
    *v = (*v << 8) | b[i];
  return true;
}

static json_t *value(rd_t *r, int depth);

static json_t *str_of(rd_t *r, uint64_t n)
{
  const unsigned char *b;
  if (!take(r, n, &b))
    return fail(r, "string past the end");
  json_t *s = json_stringn((const char *)b, n);
  return s ? s : fail(r, "string is not UTF-8");
}

static json_t *array_of(rd_t *r, uint64_t n, int depth)
{
  if (n > (uint64_t)(r->end - r->p))
    return fail(r, "array longer than the input");
  json_t *a = json_array();
  for (uint64_t i = 0; a && i < n; i++) {
    json_t *x = value(r, depth + 1);
    if (!x || json_array_append_new(a, x)) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

static json_t *map_of(rd_t *r, uint64_t n, int depth)
{
  if (n > (uint64_t)(r->end - r->p) / 2)
    return fail(r, "map longer than the input");
  json_t *m = json_object();
  for (uint64_t i = 0; m && i < n; i++) {
    json_t *k = value(r, depth + 1);
    if (!json_is_string(k) ||
        strlen(json_string_value(k)) != json_string_length(k) ||
        json_object_get(m, json_string_value(k))) {
      json_decref(k);
      json_decref(m);
      return k ? fail(r, "map key not a string, or repeated") : NULL;
    }
    json_t *x = value(r, depth + 1);
    if (!x || json_object_set_new(m, json_string_value(k), x)) {
      json_decref(k);
      json_decref(m);
      return NULL;
    }
    json_decref(k);
  }
  return m;
}

static json_t *number(rd_t *r, unsigned char t)
{
  uint64_t u;
  size_t n = (size_t)1 << (t & 3); /* cc..cf, d0..d3: 1, 2, 4, 8 bytes */
  if (!take_uint(r, n, &u))
    return fail(r, "number past the end");
  if (t <= 0xcf) /* unsigned */
    return u > INT64_MAX ? fail(r, "integer over 2^63-1")
                         : json_integer((json_int_t)u);
  int64_t s = n == 1   ? (int8_t)u
              : n == 2 ? (int16_t)u
              : n == 4 ? (int32_t)u
                       : (int64_t)u;
  return json_integer(s);
}

static json_t *real(rd_t *r, unsigned char t)
{
  uint64_t u;
  double d;
  if (!take_uint(r, t == 0xca ? 4 : 8, &u))
    return fail(r, "float past the end");
  if (t == 0xca) {
    uint32_t u32 = (uint32_t)u;
    float f;
    memcpy(&f, &u32, sizeof(f));
    d = f;
  } else {
    memcpy(&d, &u, sizeof(d));
  }
  return isfinite(d) ? json_real(d) : fail(r, "float not finite");
}

static json_t *sized(rd_t *r, unsigned char t, int depth)
{
  uint64_t n;
  switch (t) {
  case 0xd9: case 0xda: case 0xdb:
    return take_uint(r, (size_t)1 << (t - 0xd9), &n) ? str_of(r, n)
                                                     : fail(r, "truncated");
  case 0xdc: case 0xdd:
    return take_uint(r, t == 0xdc ? 2 : 4, &n) ? array_of(r, n, depth)
                                               : fail(r, "truncated");
  case 0xde: case 0xdf:
    return take_uint(r, t == 0xde ? 2 : 4, &n) ? map_of(r, n, depth)
                                               : fail(r, "truncated");
  default:
    return fail(r, "bin, ext or reserved type");
  }
}

static json_t *value(rd_t *r, int depth)
{
  const unsigned char *b;
  if (depth > PROTO_MAX_DEPTH)
    return fail(r, "nesting too deep");
  if (!take(r, 1, &b))
    return fail(r, "truncated");
  unsigned char t = *b;
  if (t <= 0x7f)
    return json_integer(t);
  if (t >= 0xe0)
    return json_integer((int8_t)t);
  if ((t & 0xe0) == 0xa0)
    return str_of(r, t & 0x1f);
  if ((t & 0xf0) == 0x90)
    return array_of(r, t & 0x0f, depth);
  if ((t & 0xf0) == 0x80)
    return map_of(r, t & 0x0f, depth);
  switch (t) {
  case 0xc0: return json_null();
  case 0xc2: return json_false();
  case 0xc3: return json_true();
  case 0xca: case 0xcb: return real(r, t);
  case 0xcc: case 0xcd: case 0xce: case 0xcf:
  case 0xd0: case 0xd1: case 0xd2: case 0xd3:
    return number(r, t);
  default:
    return sized(r, t, depth);
  }
}

json_t *web__msgpack_to_json(const void *buf, size_t len, char *err,
                             size_t errlen)
{
  rd_t r = {.start = buf, .p = buf, .end = (const unsigned char *)buf + len, .err = err,
            .errlen = errlen};
  if (err && errlen)
    err[0] = '\0';
  json_t *v = len ? value(&r, 0) : fail(&r, "empty");
  if (v && r.p != r.end) {
    json_decref(v);
    return fail(&r, "trailing bytes");
  }
  return v;
}
