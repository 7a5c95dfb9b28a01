/*
 * codec_msgpack.c: the msgpack encoding, {"v": 1, "t": "<type>", "d": {...}}.
 *
 * Design note: this file only adapts msgpack to the generic walkers
 * (codec.c, codec_walk.h: field tables, checks); msgpack-c provides the
 * caller's msgpack_sbuffer type and nothing else here. Encoding writes
 * straight into that buffer and rolls it back on any failure.
 *
 * Decoding trusts nothing. A well-formed message is one that the
 * structural pre-scan (prescan()) accepts: every header is a valid msgpack
 * format, every length fits in what is left of the buffer, no array or
 * map announces more elements than there are bytes left (each takes at
 * least one), containers nest at most 32 deep (MP_MAX_NEST), and the
 * message ends exactly at the end of the buffer. A message that is not is
 * refused with the pre-scan's error, whatever else is wrong with it.
 *
 * The decoder reads the bytes once: the envelope here, the "d" map by the
 * walker of codec_walk.h through the reader below, which reads each header
 * within the buffer's bounds and checks whatever the walker does not read
 * itself (an unknown key's value, a JSON member, a list) with the
 * pre-scan's own code (scan_value) before reading it, and the message's
 * end last. So every message it decodes is one the pre-scan accepts; when
 * reading fails, for whatever reason, the pre-scan runs over the whole
 * message, and its error, if it finds one, is the answer (it used to run
 * before every decode: protocol/README.md "Speed", fourth round).
 * Views point straight into the bytes (no object tree, no zone:
 * msgpack-c's unpacker allocated an 8 KiB zone and built a tree per
 * message, a third of a decode); the walker copies out what it keeps.
 * JSON members (event/reply "data", command "args") travel as plain
 * msgpack maps/arrays/scalars and are converted to and from json_t here.
 */
#include <math.h>
#include <string.h>

#include "protocol/proto_int.h"

/* Deepest container nesting the pre-scan lets through: the stack depth
 * of msgpack-c's parser (MSGPACK_EMBED_STACK_SIZE), which decoded these
 * bytes before the reader below did, kept so that the same inputs are
 * refused with the same error. A valid message nests at most
 * PROTO_MAX_DEPTH + 2 (envelope, "d", then a JSON member); the converter
 * checks that tighter bound and names the field. */
#define MP_MAX_NEST 32

/* ---- the structural pre-scan ---- */

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static uint16_t be16(uint16_t v) { return __builtin_bswap16(v); }
static uint32_t be32(uint32_t v) { return __builtin_bswap32(v); }
static uint64_t be64(uint64_t v) { return __builtin_bswap64(v); }
#else
static uint16_t be16(uint16_t v) { return v; }
static uint32_t be32(uint32_t v) { return v; }
static uint64_t be64(uint64_t v) { return v; }
#endif

/* A position in the message being scanned; @p depth counts the containers
 * open around the value at @p pos (the pre-scan's nesting level there). */
typedef struct scan {
  const uint8_t *p;
  size_t len;
  size_t pos;
  int depth;
  proto__err_t *e;
} scan_t;

/* The big-endian number of @p n bytes (0, 1, 2, 4 or 8: msgpack's
 * widths) at @p p: one load each, not a loop per byte (numbers are most
 * of a task record's values: timestamps and scores). */
static uint64_t read_be(const uint8_t *p, size_t n)
{
  uint16_t v16;
  uint32_t v32;
  uint64_t v64;

  switch (n) {
  case 1:
    return p[0];
  case 2:
    memcpy(&v16, p, 2);
    return be16(v16);
  case 4:
    memcpy(&v32, p, 4);
    return be32(v32);
  case 8:
    memcpy(&v64, p, 8);
    return be64(v64);
  default:
    return 0;
  }
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
  /* The common forms first: fixstr (every key), fixint, fixmap/array. */
  if ((b & 0xe0) == 0xa0) {
    *payload = b & 0x1fu;
    return 0;
  }
  if (b <= 0x7f || b >= 0xe0)
    return 0;
  if (b <= 0x8f) {
    *count = 2u * (b & 0x0fu);
    return 0;
  }
  if (b <= 0x9f) {
    *count = b & 0x0fu;
    return 0;
  }
  switch (b) {
  case 0xc0: case 0xc2: case 0xc3: return 0; /* nil, bool */
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

/* Check the value at s->pos as the pre-scan does (formats, lengths within
 * the buffer, counts no larger than the bytes left, nesting counted from
 * s->depth) and move past it; the error texts are the pre-scan's. */
static int scan_value(scan_t *s)
{
  uint64_t stack[MP_MAX_NEST];
  const int base = s->depth;
  int depth = base;
  uint64_t pending = 1; /* objects still to read at the current level */

  for (;;) {
    if (pending == 0) {
      if (depth == base)
        return 0;
      pending = stack[--depth];
      continue;
    }
    if (s->pos >= s->len)
      return truncated(s);
    uint8_t b = s->p[s->pos];
    pending--;
    /* fixints and fixstrs (keys) first, without read_header's out-values */
    if (b <= 0x7f || b >= 0xe0) {
      s->pos++;
      continue;
    }
    if ((b & 0xe0) == 0xa0) {
      if ((b & 0x1fu) >= s->len - s->pos)
        return truncated(s);
      s->pos += 1 + (b & 0x1fu);
      continue;
    }
    size_t payload;
    uint64_t count;
    int rc = read_header(s, &payload, &count);
    if (rc != 0)
      return rc;
    if (payload > s->len - s->pos || count > s->len - s->pos)
      return truncated(s);
    s->pos += payload;
    if (count == 0)
      continue;
    if (depth == MP_MAX_NEST)
      return proto__fail(s->e, PROTO_EDEPTH, "msgpack",
                         "nesting deeper than %d levels", MP_MAX_NEST);
    stack[depth++] = pending;
    pending = count;
  }
}

static int trailing(const scan_t *s)
{
  return proto__fail(s->e, PROTO_EMALFORMED, "msgpack",
                     "%zu trailing bytes after the message", s->len - s->pos);
}

/* The whole message: one value that ends exactly at the end of the bytes. */
static int prescan(const uint8_t *p, size_t len, proto__err_t *e)
{
  scan_t s = {.p = p, .len = len, .pos = 0, .depth = 0, .e = e};
  int rc = scan_value(&s);

  if (rc == 0 && s.pos != len)
    rc = trailing(&s);
  return rc;
}

/* ---- views straight over the bytes ----
 *
 * A view's node is the address of the value's first (header) byte. The
 * functions below read without bounds: the bytes they are given were
 * checked by mp_read or scan_value first. The views give the same kinds
 * msgpack-c's unpacker would: signed formats holding a value >= 0 are
 * PROTO__V_UINT, float32 widens to a double, bin and ext are
 * PROTO__V_OTHER. */

/* The address just past the value at @p p. */
static const uint8_t *mp_skip(const uint8_t *p)
{
  scan_t s = {.p = p, .len = SIZE_MAX, .pos = 0, .e = NULL};
  uint64_t pending = 1;

  while (pending > 0) {
    uint8_t b = p[s.pos];
    size_t payload;
    uint64_t count;
    if (b <= 0x7f || b >= 0xe0) { /* fixints, fixstrs: no read_header */
      s.pos++;
      pending--;
      continue;
    }
    if ((b & 0xe0) == 0xa0) {
      s.pos += 1 + (b & 0x1fu);
      pending--;
      continue;
    }
    (void)read_header(&s, &payload, &count); /* checked by scan_value */
    s.pos += payload;
    pending = pending - 1 + count;
  }
  return p + s.pos;
}

/* The first element of the array or map whose header is at @p p. */
static const uint8_t *mp_body(const uint8_t *p)
{
  if (p[0] == 0xdc || p[0] == 0xde)
    return p + 3;
  if (p[0] == 0xdd || p[0] == 0xdf)
    return p + 5;
  return p + 1; /* fixarray, fixmap */
}

static void mp_view_str(const uint8_t *p, size_t lenbytes, proto__val_t *v)
{
  v->kind = PROTO__V_STR;
  v->as.s.len = (size_t)read_be(p + 1, lenbytes);
  v->as.s.p = (const char *)p + 1 + lenbytes;
}

static void mp_view_int(int64_t x, proto__val_t *v)
{
  if (x >= 0) {
    v->kind = PROTO__V_UINT;
    v->as.u = (uint64_t)x;
  } else {
    v->kind = PROTO__V_INT;
    v->as.i = x;
  }
}

static void mp_view_uint(uint64_t x, proto__val_t *v)
{
  v->kind = PROTO__V_UINT;
  v->as.u = x;
}

static void mp_view_float(const uint8_t *p, proto__val_t *v)
{
  v->kind = PROTO__V_DOUBLE;
  if (p[0] == 0xca) {
    uint32_t bits = (uint32_t)read_be(p + 1, 4);
    float f;
    memcpy(&f, &bits, sizeof f);
    v->as.d = f;
  } else {
    uint64_t bits = read_be(p + 1, 8);
    memcpy(&v->as.d, &bits, sizeof v->as.d);
  }
}

static size_t mp_view_container(const uint8_t *p, size_t lenbytes,
                                proto__vkind_t kind, proto__val_t *v)
{
  v->kind = kind;
  v->as.n = (size_t)read_be(p + 1, lenbytes);
  return 1 + lenbytes;
}

/* Formats 0xc0..0xdf; the value's size as for mp_view. */
static size_t mp_view_typed(const uint8_t *p, proto__val_t *v)
{
  uint8_t b = p[0];

  switch (b) {
  case 0xc0: v->kind = PROTO__V_NIL; return 1;
  case 0xc2: case 0xc3:
    v->kind = PROTO__V_BOOL;
    v->as.b = b == 0xc3;
    return 1;
  case 0xca: mp_view_float(p, v); return 5;
  case 0xcb: mp_view_float(p, v); return 9;
  case 0xcc: mp_view_uint(p[1], v); return 2;
  case 0xcd: mp_view_uint(read_be(p + 1, 2), v); return 3;
  case 0xce: mp_view_uint(read_be(p + 1, 4), v); return 5;
  case 0xcf: mp_view_uint(read_be(p + 1, 8), v); return 9;
  case 0xd0: mp_view_int((int8_t)p[1], v); return 2;
  case 0xd1: mp_view_int((int16_t)read_be(p + 1, 2), v); return 3;
  case 0xd2: mp_view_int((int32_t)read_be(p + 1, 4), v); return 5;
  case 0xd3: mp_view_int((int64_t)read_be(p + 1, 8), v); return 9;
  case 0xd9: mp_view_str(p, 1, v); return 2 + v->as.s.len;
  case 0xda: mp_view_str(p, 2, v); return 3 + v->as.s.len;
  case 0xdb: mp_view_str(p, 4, v); return 5 + v->as.s.len;
  case 0xdc: return mp_view_container(p, 2, PROTO__V_ARRAY, v);
  case 0xdd: return mp_view_container(p, 4, PROTO__V_ARRAY, v);
  case 0xde: return mp_view_container(p, 2, PROTO__V_MAP, v);
  case 0xdf: return mp_view_container(p, 4, PROTO__V_MAP, v);
  default: /* bin, ext (0xc1 is refused before a view is made) */
    v->kind = PROTO__V_OTHER;
    return 0;
  }
}

/* View the value at @p p, reading at most its first 9 bytes; return its
 * size in bytes (a container's header only), or 0 for bin and ext. */
static size_t mp_view(const uint8_t *p, proto__val_t *v)
{
  uint8_t b = p[0];

  v->node = p;
  if ((b & 0xe0) == 0xa0) { /* fixstr: every key, most strings */
    v->kind = PROTO__V_STR;
    v->as.s.len = b & 0x1fu;
    v->as.s.p = (const char *)p + 1;
    return 1 + v->as.s.len;
  }
  if (b <= 0x7f) {
    mp_view_uint(b, v);
    return 1;
  }
  if (b >= 0xe0) {
    v->kind = PROTO__V_INT;
    v->as.i = (int8_t)b;
    return 1;
  }
  if (b <= 0x9f) {
    v->kind = b <= 0x8f ? PROTO__V_MAP : PROTO__V_ARRAY;
    v->as.n = b & 0x0fu;
    return 1;
  }
  return mp_view_typed(p, v);
}

/* Past the value whose view is @p v (read before, so without bounds). */
static const uint8_t *mp_after(const proto__val_t *v)
{
  const uint8_t *p = v->node;
  proto__val_t again;

  switch (v->kind) {
  case PROTO__V_STR:
    return (const uint8_t *)v->as.s.p + v->as.s.len;
  case PROTO__V_ARRAY:
  case PROTO__V_MAP:
  case PROTO__V_OTHER:
    return mp_skip(p);
  default:
    return p + mp_view(p, &again);
  }
}

static int key_not_str(const proto__path_t *path, proto__err_t *e)
{
  return proto__failp(e, PROTO_EFIELD, path, "map key is not a string");
}

/* ---- the walker's reader (codec_walk.h) ---- */

/* One decode. The walker reads entries through walk_iter_t, whose cursor
 * stays in a register while a map is read: reading msgpack is one long
 * chain of "the next header is after this one", and a cursor kept in
 * memory (behind a pointer the walker passes around) added a store and
 * a reload to each link. */
typedef struct walk_rd {
  const uint8_t *buf; /* the message */
  const uint8_t *end; /* past its last byte */
  int depth;          /* the pre-scan's level of the entries being read */
  /* The last container read to its end by a nested walk, a JSON member
   * or a list: its header, and the address past it. */
  const uint8_t *done, *done_end;
  proto__err_t *e;
} walk_rd_t;

/* A position among the entries of a map. */
typedef struct walk_iter {
  const uint8_t *q;    /* the next entry */
  const uint8_t *map;  /* the map's header */
  const uint8_t *last; /* the last value read: its header ... */
  const uint8_t *body; /* ... and its elements when a container, or NULL */
  size_t left;         /* entries not read yet */
} walk_iter_t;

/* Check the value at @p p as the pre-scan would (nesting counted from the
 * level of the entries being read) and set *after past it. */
static int mp_scan_at(const walk_rd_t *rd, const uint8_t *p,
                      const uint8_t **after)
{
  scan_t s = {.p = rd->buf, .len = (size_t)(rd->end - rd->buf),
              .pos = (size_t)(p - rd->buf), .depth = rd->depth, .e = rd->e};
  int rc = scan_value(&s);

  *after = rd->buf + s.pos;
  return rc;
}

/* mp_read near the end of the message, and for bin and ext: the header
 * read by read_header, which checks each byte it reads. */
static int mp_read_checked(const walk_rd_t *rd, const uint8_t **qp,
                           proto__val_t *v)
{
  const uint8_t *q = *qp;
  scan_t s = {.p = rd->buf, .len = (size_t)(rd->end - rd->buf),
              .pos = (size_t)(q - rd->buf), .depth = rd->depth, .e = rd->e};
  size_t payload;
  uint64_t count;

  if (q == rd->end)
    return truncated(&s);
  int rc = read_header(&s, &payload, &count);
  if (rc != 0)
    return rc;
  if (payload > s.len - s.pos || count > s.len - s.pos)
    return truncated(&s);
  mp_view(q, v);
  *qp = rd->buf + s.pos + payload;
  return 0;
}

/* Read the value at *qp into @p v within the message's bounds and move
 * *qp past it: past only the header of an array or map (its elements are
 * read next, or stepped over). Element counts are not compared with the
 * bytes left here: each element is read within bounds in its turn. */
static inline int mp_read(const walk_rd_t *rd, const uint8_t **qp,
                          proto__val_t *v)
{
  const uint8_t *q = *qp;
  size_t left = (size_t)(rd->end - q);

  if (left >= 9) { /* any header, and a number's payload, is readable */
    /* The commonest forms inline (fixstr: every key; fixint; 64-bit
     * timestamps and scores), the others by mp_view. */
    v->node = q;
    if ((q[0] & 0xe0) == 0xa0 && (q[0] & 0x1fu) < left) {
      v->kind = PROTO__V_STR;
      v->as.s.len = q[0] & 0x1fu;
      v->as.s.p = (const char *)q + 1;
      *qp = q + 1 + v->as.s.len;
      return 0;
    }
    if (q[0] <= 0x7f) {
      mp_view_uint(q[0], v);
      *qp = q + 1;
      return 0;
    }
    if (q[0] == 0xcb || q[0] == 0xcf) {
      if (q[0] == 0xcb)
        mp_view_float(q, v);
      else
        mp_view_uint(read_be(q + 1, 8), v);
      *qp = q + 9;
      return 0;
    }
    size_t size = mp_view(q, v);
    if (size - 1 < left) { /* not bin/ext (0), not past the end */
      *qp = q + size;
      return 0;
    }
  }
  return mp_read_checked(rd, qp, v);
}

/* Check the value at *qp as the pre-scan would and move *qp past it. */
static int mp_step(const walk_rd_t *rd, const uint8_t **qp)
{
  const uint8_t *q = *qp;
  proto__val_t v;
  int rc = mp_read(rd, qp, &v);

  if (rc == 0 && (v.kind == PROTO__V_MAP || v.kind == PROTO__V_ARRAY))
    rc = mp_scan_at(rd, q, qp);
  return rc;
}

/* A walker call read the container whose header is at @p head to its
 * end, @p after. */
static void mp_done(walk_rd_t *rd, const void *head, const uint8_t *after)
{
  rd->done = head;
  rd->done_end = after;
}

static void walk_map_open(walk_rd_t *rd, const proto__val_t *map,
                          walk_iter_t *it)
{
  it->q = mp_body(map->node);
  it->map = map->node;
  it->last = NULL;
  it->body = NULL;
  it->left = map->as.n;
  rd->depth++;
}

/* After the walker had the last value: a container that no call read to
 * its end (an unknown key's value, a value of the wrong kind) is checked
 * as the pre-scan would and stepped over. */
static int mp_past_last(walk_rd_t *rd, walk_iter_t *it)
{
  if (rd->done == it->last) {
    it->q = rd->done_end;
    return 0;
  }
  return mp_scan_at(rd, it->last, &it->q);
}

static inline int walk_map_next(walk_rd_t *rd, walk_iter_t *it,
                                const char **key, size_t *klen,
                                proto__val_t *v, const proto__path_t *path,
                                proto__err_t *e)
{
  proto__val_t k;
  int rc;

  if (it->body != NULL) {
    it->body = NULL;
    rc = mp_past_last(rd, it);
    if (rc != 0)
      return rc;
  }
  if (it->left == 0) {
    rd->depth--;
    mp_done(rd, it->map, it->q);
    return 0;
  }
  it->left--;
  rc = mp_read(rd, &it->q, &k);
  if (rc != 0)
    return rc;
  if (k.kind != PROTO__V_STR)
    return key_not_str(path, e);
  rc = mp_read(rd, &it->q, v);
  if (rc != 0)
    return rc;
  *key = k.as.s.p;
  *klen = k.as.s.len;
  if ((v->kind == PROTO__V_MAP || v->kind == PROTO__V_ARRAY) &&
      v->as.n > 0) { /* an empty one ends at its header */
    it->last = v->node;
    it->body = it->q;
  }
  return 1;
}

static int walk_array_items(walk_rd_t *rd, const proto__val_t *arr,
                            proto__val_t *out, const proto__path_t *path,
                            proto__err_t *e)
{
  const uint8_t *after;
  int rc = mp_scan_at(rd, arr->node, &after);
  const uint8_t *q = mp_body(arr->node);

  if (rc != 0)
    return rc;
  mp_done(rd, arr->node, after);
  for (size_t i = 0; i < arr->as.n; i++) { /* checked: without bounds */
    mp_view(q, &out[i]);
    q = mp_after(&out[i]);
  }
  return 0;
}

static int mp_to_json_at(const uint8_t **pp, int depth, json_t **out,
                         const proto__path_t *path, proto__err_t *e);

static int oom(const proto__path_t *path, proto__err_t *e)
{
  return proto__failp(e, PROTO_ENOMEM, path, "out of memory");
}

static int mp_array_to_json(const uint8_t **pp, size_t n, int depth,
                            json_t *arr, const proto__path_t *path,
                            proto__err_t *e)
{
  for (size_t i = 0; i < n; i++) {
    json_t *item = NULL;
    int rc = mp_to_json_at(pp, depth + 1, &item, path, e);
    if (rc != 0)
      return rc;
    if (json_array_append_new(arr, item) != 0)
      return oom(path, e);
  }
  return 0;
}

static int mp_map_to_json(const uint8_t **pp, size_t n, int depth,
                          json_t *obj, const proto__path_t *path,
                          proto__err_t *e)
{
  for (size_t i = 0; i < n; i++) {
    proto__val_t k;
    json_t *val = NULL;

    mp_view(*pp, &k);
    if (k.kind != PROTO__V_STR)
      return key_not_str(path, e);
    *pp = mp_after(&k);
    int rc = proto__check_str(k.as.s.p, k.as.s.len, PROTO_MAX_STR, path, e);
    if (rc != 0)
      return rc;
    if (json_object_getn(obj, k.as.s.p, k.as.s.len) != NULL)
      return proto__failp(e, PROTO_EMALFORMED, path, "duplicate key");
    rc = mp_to_json_at(pp, depth + 1, &val, path, e);
    if (rc != 0)
      return rc;
    if (json_object_setn_new_nocheck(obj, k.as.s.p, k.as.s.len, val) != 0)
      return oom(path, e);
  }
  return 0;
}

/* Convert the container @p v that sits @p depth containers deep; *pp ends
 * past it. */
static int mp_container_to_json(const proto__val_t *v, const uint8_t **pp,
                                int depth, json_t **out,
                                const proto__path_t *path, proto__err_t *e)
{
  bool is_map = v->kind == PROTO__V_MAP;
  int rc;

  if (depth >= PROTO_MAX_DEPTH)
    return proto__failp(e, PROTO_EDEPTH, path,
                        "nesting deeper than %d levels", PROTO_MAX_DEPTH);
  *out = is_map ? json_object() : json_array();
  if (*out == NULL)
    return oom(path, e);
  *pp = mp_body(v->node);
  if (is_map)
    rc = mp_map_to_json(pp, v->as.n, depth, *out, path, e);
  else
    rc = mp_array_to_json(pp, v->as.n, depth, *out, path, e);
  if (rc != 0) {
    json_decref(*out);
    *out = NULL;
  }
  return rc;
}

/* Convert the value at *pp and move *pp past it. */
static int mp_to_json_at(const uint8_t **pp, int depth, json_t **out,
                         const proto__path_t *path, proto__err_t *e)
{
  proto__val_t v;
  int rc;

  *out = NULL;
  mp_view(*pp, &v);
  switch (v.kind) {
  case PROTO__V_NIL:
    *out = json_null();
    break;
  case PROTO__V_BOOL:
    *out = json_boolean(v.as.b);
    break;
  case PROTO__V_UINT:
    if (v.as.u > (uint64_t)INT64_MAX)
      return proto__failp(e, PROTO_EVALUE, path,
                          "integer out of range (JSON has 64-bit signed)");
    *out = json_integer((json_int_t)v.as.u);
    break;
  case PROTO__V_INT:
    *out = json_integer((json_int_t)v.as.i);
    break;
  case PROTO__V_DOUBLE:
    if (!isfinite(v.as.d))
      return proto__failp(e, PROTO_EVALUE, path, "not a finite number");
    *out = json_real(v.as.d);
    break;
  case PROTO__V_STR:
    rc = proto__check_str(v.as.s.p, v.as.s.len, PROTO_MAX_TEXT, path, e);
    if (rc != 0)
      return rc;
    *out = json_stringn_nocheck(v.as.s.p, v.as.s.len);
    break;
  case PROTO__V_ARRAY:
  case PROTO__V_MAP:
    return mp_container_to_json(&v, pp, depth, out, path, e);
  default:
    return proto__failp(e, PROTO_EFIELD, path,
                        "binary and extension values have no JSON form");
  }
  *pp = mp_after(&v);
  return *out != NULL ? 0 : oom(path, e);
}

static int walk_to_json(walk_rd_t *rd, const proto__val_t *v, json_t **out,
                        const proto__path_t *path, proto__err_t *e)
{
  const uint8_t *p = v->node, *after;

  if (v->kind == PROTO__V_MAP || v->kind == PROTO__V_ARRAY) {
    int rc = mp_scan_at(rd, p, &after); /* then read without bounds */
    if (rc != 0)
      return rc;
    mp_done(rd, v->node, after);
  }
  return mp_to_json_at(&p, 0, out, path, e);
}

static int walk_ts(const proto__val_t *v, int64_t *ms,
                   const proto__path_t *path, proto__err_t *e)
{
  if (v->kind == PROTO__V_INT) {
    *ms = v->as.i; /* negative: refused by the check that follows */
    return 0;
  }
  if (v->kind != PROTO__V_UINT)
    return proto__failp(e, PROTO_EFIELD, path,
                        "expected an integer (unix ms)");
  if (v->as.u > (uint64_t)PROTO__TS_MAX)
    return proto__failp(e, PROTO_EVALUE, path,
                        "timestamp %llu ms is outside 1970..9999",
                        (unsigned long long)v->as.u);
  *ms = (int64_t)v->as.u;
  return 0;
}

#include "protocol/codec_walk.h"

/* ---- writer: msgpack straight into the caller's sbuffer ----
 *
 * Each value is one reserve (header and body together) and plain stores,
 * instead of msgpack_packer's one callback per piece. The forms are the
 * ones msgpack-c's packer chooses (the golden fixtures pin them): integers
 * in their smallest form, non-negative ones in the unsigned formats;
 * doubles as float64; strings as fixstr/str8/str16/str32. The buffer grows
 * like msgpack_sbuffer_write (doubling, 8 KiB first), so the caller's
 * sbuffer stays an ordinary one. */

#define MP_SBUFFER_FIRST 8192

/* Room for @p n more bytes; the address to write them at, or NULL. */
static uint8_t *mp_reserve(msgpack_sbuffer *sb, size_t n)
{
  if (sb->alloc - sb->size < n) {
    size_t cap = sb->alloc ? sb->alloc * 2 : MP_SBUFFER_FIRST;
    while (cap - sb->size < n)
      cap *= 2;
    char *p = realloc(sb->data, cap);
    if (p == NULL)
      return NULL;
    sb->data = p;
    sb->alloc = cap;
  }
  return (uint8_t *)sb->data + sb->size;
}

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
  for (size_t i = n; i > 0; i--) {
    p[i - 1] = (uint8_t)v;
    v >>= 8;
  }
}

/* A header: one format byte, then @p n big-endian bytes of @p v. */
static int mp_head(msgpack_sbuffer *sb, uint8_t fmt, uint64_t v, size_t n)
{
  uint8_t *p = mp_reserve(sb, 1 + n);

  if (p == NULL)
    return PROTO_ENOMEM;
  p[0] = fmt;
  put_be(p + 1, v, n);
  sb->size += 1 + n;
  return 0;
}

/* A container header: fix form below 16, then 16 or 32 bits. */
static int mp_container(msgpack_sbuffer *sb, uint8_t fix, uint8_t f16,
                        size_t n)
{
  if (n < 16)
    return mp_head(sb, (uint8_t)(fix | n), 0, 0);
  if (n < 65536)
    return mp_head(sb, f16, n, 2);
  return mp_head(sb, (uint8_t)(f16 + 1), n, 4);
}

static int mp_uint(msgpack_sbuffer *sb, uint64_t v)
{
  if (v < 128)
    return mp_head(sb, (uint8_t)v, 0, 0);
  if (v < 256)
    return mp_head(sb, 0xcc, v, 1);
  if (v < 65536)
    return mp_head(sb, 0xcd, v, 2);
  if (v <= UINT32_MAX)
    return mp_head(sb, 0xce, v, 4);
  return mp_head(sb, 0xcf, v, 8);
}

static int mp_int(msgpack_sbuffer *sb, int64_t v)
{
  if (v >= -32)
    return v >= 0 ? mp_uint(sb, (uint64_t)v)
                  : mp_head(sb, (uint8_t)(int8_t)v, 0, 0);
  if (v >= INT8_MIN)
    return mp_head(sb, 0xd0, (uint64_t)v, 1);
  if (v >= INT16_MIN)
    return mp_head(sb, 0xd1, (uint64_t)v, 2);
  if (v >= INT32_MIN)
    return mp_head(sb, 0xd2, (uint64_t)v, 4);
  return mp_head(sb, 0xd3, (uint64_t)v, 8);
}

static int mp_double(msgpack_sbuffer *sb, double d)
{
  uint64_t bits;

  memcpy(&bits, &d, sizeof bits);
  return mp_head(sb, 0xcb, bits, 8);
}

static int mp_str(msgpack_sbuffer *sb, const char *s, size_t len)
{
  size_t hl = len < 32 ? 1 : len < 256 ? 2 : len < 65536 ? 3 : 5;
  uint8_t *p = mp_reserve(sb, hl + len);

  if (p == NULL)
    return PROTO_ENOMEM;
  if (hl == 1)
    p[0] = (uint8_t)(0xa0 | len);
  else
    p[0] = hl == 2 ? 0xd9 : hl == 3 ? 0xda : 0xdb;
  put_be(p + 1, len, hl - 1);
  memcpy(p + hl, s, len);
  sb->size += hl + len;
  return 0;
}

static int w_map_begin(void *w, size_t n)
{
  return mp_container(w, 0x80, 0xde, n);
}

static int w_array_begin(void *w, size_t n)
{
  return mp_container(w, 0x90, 0xdc, n);
}

static int w_end(void *w)
{
  return 0; /* msgpack containers carry their count up front */
}

static int w_key(void *w, const char *k)
{
  return mp_str(w, k, strlen(k));
}

static int w_str(void *w, const char *s, size_t len)
{
  return mp_str(w, s, len);
}

static int w_i64(void *w, int64_t v)
{
  return mp_int(w, v);
}

static int w_u64(void *w, uint64_t v)
{
  return mp_uint(w, v);
}

static int w_dbl(void *w, double v)
{
  return mp_double(w, v);
}

static int w_bool(void *w, bool v)
{
  return mp_head(w, v ? 0xc3 : 0xc2, 0, 0);
}

static int pack_json(msgpack_sbuffer *sb, const json_t *v, int depth);

static int pack_json_object(msgpack_sbuffer *sb, const json_t *v, int depth)
{
  const char *key;
  size_t klen;
  json_t *item;
  int rc = w_map_begin(sb, json_object_size(v));

  json_object_keylen_foreach((json_t *)v, key, klen, item) {
    if (rc == 0)
      rc = mp_str(sb, key, klen);
    if (rc == 0)
      rc = pack_json(sb, item, depth + 1);
  }
  return rc;
}

static int pack_json_array(msgpack_sbuffer *sb, const json_t *v, int depth)
{
  size_t i;
  json_t *item;
  int rc = w_array_begin(sb, json_array_size(v));

  json_array_foreach(v, i, item) {
    if (rc == 0)
      rc = pack_json(sb, item, depth + 1);
  }
  return rc;
}

/* @p v was checked (proto__check_json); the depth test only guards the
 * recursion should a caller bypass that. */
static int pack_json(msgpack_sbuffer *sb, const json_t *v, int depth)
{
  if (depth > PROTO_MAX_DEPTH)
    return PROTO_EDEPTH;
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return pack_json_object(sb, v, depth);
  case JSON_ARRAY:
    return pack_json_array(sb, v, depth);
  case JSON_STRING:
    return mp_str(sb, json_string_value(v), json_string_length(v));
  case JSON_INTEGER:
    return mp_int(sb, json_integer_value(v));
  case JSON_REAL:
    return mp_double(sb, json_real_value(v));
  case JSON_TRUE:
    return mp_head(sb, 0xc3, 0, 0);
  case JSON_FALSE:
    return mp_head(sb, 0xc2, 0, 0);
  default:
    return mp_head(sb, 0xc0, 0, 0);
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
    .key = w_key,
    .str = w_str,
    .i64 = w_i64,
    .u64 = w_u64,
    .dbl = w_dbl,
    .boolean = w_bool,
    .ts = w_i64, /* unix ms as an integer */
    .json = w_json,
};

/* ---- public API ---- */

static int pack_envelope(const proto_msg_t *m, msgpack_sbuffer *sb)
{
  const char *type = proto_type_name(m->type);
  int rc;

  if (type == NULL)
    return PROTO_ETYPE;
  rc = w_map_begin(sb, 3);
  if (rc == 0)
    rc = w_key(sb, "v");
  if (rc == 0)
    rc = w_u64(sb, PROTO_VERSION);
  if (rc == 0)
    rc = w_key(sb, "t");
  if (rc == 0)
    rc = w_key(sb, type);
  if (rc == 0)
    rc = w_key(sb, "d");
  if (rc == 0)
    rc = proto__encode(m, &mp_writer, sb, NULL);
  return rc;
}

int proto_msgpack_encode(const proto_msg_t *m, msgpack_sbuffer *out)
{
  size_t start;
  int rc;

  if (m == NULL || out == NULL)
    return PROTO_EFIELD;
  start = out->size;
  rc = pack_envelope(m, out);
  if (rc == 0 && out->size - start > PROTO_MAX_MSG)
    rc = PROTO_ETOOBIG;
  if (rc != 0)
    out->size = start; /* leave the caller's buffer as it was */
  return rc;
}

/* The envelope's three entries (their values' addresses, NULL when
 * absent), whether "d" is the last value (the walker then reads it to the
 * message's end), and otherwise where the last value ends. */
typedef struct envelope {
  const uint8_t *v, *t, *d;
  bool d_last;
  const uint8_t *end;
} envelope_t;

static int envelope_entries(walk_rd_t *rd, envelope_t *env, proto__err_t *e)
{
  static const char names[] = {'v', 't', 'd'};
  const uint8_t **slots[] = {&env->v, &env->t, &env->d};
  const proto__path_t where = PROTO__PATH_ROOT("msgpack");
  const uint8_t *q = rd->buf;
  proto__val_t map, k;
  int rc = mp_read(rd, &q, &map);

  if (rc != 0)
    return rc;
  if (map.kind != PROTO__V_MAP)
    return proto__fail(e, PROTO_EMALFORMED, "msgpack",
                       "a message is a map {v, t, d}");
  rd->depth = 1;
  for (size_t i = 0; i < map.as.n; i++) {
    rc = mp_read(rd, &q, &k);
    if (rc != 0)
      return rc;
    if (k.kind != PROTO__V_STR)
      return key_not_str(&where, e);
    for (int n = 0; n < 3; n++) {
      if (k.as.s.len != 1 || k.as.s.p[0] != names[n])
        continue;
      if (*slots[n] != NULL)
        return proto__fail(e, PROTO_EMALFORMED, n == 0 ? "v" : n == 1 ? "t"
                                                                       : "d",
                           "duplicate key");
      *slots[n] = q;
    }
    /* Check and step over each value, but a last "d": the walker reads
     * that one (nearly every message). */
    env->d_last = i + 1 == map.as.n && q == env->d;
    if (!env->d_last) {
      rc = mp_step(rd, &q);
      if (rc != 0)
        return rc;
    }
  }
  env->end = q;
  return 0;
}

static int envelope_type(const uint8_t *p, proto_type_t *type,
                         proto__err_t *e)
{
  char q[68];
  proto__val_t t;

  if (p == NULL)
    return proto__fail(e, PROTO_EFIELD, "t", "missing required field");
  mp_view(p, &t);
  if (t.kind != PROTO__V_STR)
    return proto__fail(e, PROTO_EFIELD, "t", "expected a string");
  *type = proto__type_find(t.as.s.p, t.as.s.len);
  if (*type == PROTO_NONE) {
    proto__quote(q, t.as.s.p, t.as.s.len);
    return proto__fail(e, PROTO_ETYPE, "t", "unknown message type \"%s\"", q);
  }
  return 0;
}

static int decode_envelope(walk_rd_t *rd, proto_msg_t *m, proto__err_t *e)
{
  envelope_t env = {NULL, NULL, NULL, false, NULL};
  proto_type_t type = PROTO_NONE;
  proto__val_t v, d;
  int rc = envelope_entries(rd, &env, e);

  if (rc != 0)
    return rc;
  /* The version comes first: a later version may change "t" and "d". */
  if (env.v == NULL)
    return proto__fail(e, PROTO_EVERSION, "v", "missing protocol version");
  mp_view(env.v, &v); /* "v" and "t" were checked by mp_scan_at */
  if (v.kind != PROTO__V_UINT || v.as.u != PROTO_VERSION)
    return proto__fail(e, PROTO_EVERSION, "v",
                       "unsupported protocol version (this is %d)",
                       PROTO_VERSION);
  rc = envelope_type(env.t, &type, e);
  if (rc != 0)
    return rc;
  if (env.d == NULL)
    return proto__fail(e, PROTO_EFIELD, "d", "missing required field");
  const uint8_t *q = env.d;
  rc = mp_read(rd, &q, &d);
  if (rc != 0)
    return rc;
  if (d.kind != PROTO__V_MAP)
    return proto__fail(e, PROTO_EFIELD, "d", "expected a map");
  rc = walk_decode(rd, type, &d, m, e);
  if (rc != 0)
    return rc;
  const uint8_t *end = env.d_last ? rd->done_end : env.end;
  if (end != rd->end) {
    scan_t s = {.p = rd->buf, .len = (size_t)(rd->end - rd->buf),
                .pos = (size_t)(end - rd->buf), .depth = 0, .e = e};
    proto_msg_fini(m);
    return trailing(&s);
  }
  return 0;
}

int proto_msgpack_decode(const void *buf, size_t len, proto_msg_t *m,
                         char *err, size_t errlen)
{
  proto__err_t e = {err, errlen};
  int rc;

  rc = proto__decode_begin(&e, m, buf, len, "msgpack", "message");
  if (rc != 0)
    return rc;
  rc = PROTO_EMALFORMED; /* no bytes: the pre-scan says so */
  if (len > 0) {
    walk_rd_t rd = {.buf = buf, .end = (const uint8_t *)buf + len,
                    .depth = 0, .done = NULL, .done_end = NULL, .e = &e};
    rc = decode_envelope(&rd, m, &e);
  }
  /* A message that is not well-formed msgpack is refused for that, as the
   * pre-scan did when it ran first: it looks at the whole message again
   * only when reading it failed (see the design note). */
  if (rc != 0) {
    int malformed = prescan(buf, len, &e);
    if (malformed != 0)
      rc = malformed;
  }
  return rc;
}
