/*
 * codec.c: the walkers over the field tables (schema.c) that validate,
 * free and encode every message type, whatever the encoding, and the
 * checks of strings and JSON members. Decoding walks the same tables in
 * codec_walk.h, with the same checks.
 *
 * Design note: the encodings plug in through proto__writer_ops_t
 * (proto_int.h) and the reader that codec_walk.h describes; what decides
 * what a valid message is lives here and there, once:
 *   - strings: at most the field's cap in bytes, valid UTF-8, no NUL byte
 *     (struct strings are C strings, so a NUL could not round-trip);
 *   - integers fit their C type. uint64_t fields are limited to
 *     0..INT64_MAX because JSON integers (jansson's json_int_t) are signed
 *     64-bit: every valid message then has a JSON form, and the msgpack and
 *     JSON decoders accept the same set;
 *   - doubles are finite (JSON has no NaN or infinity) and accept integers;
 *   - lists hold at most PROTO_MAX_LIST strings;
 *   - JSON members nest at most PROTO_MAX_DEPTH containers deep;
 *   - a key that appears twice in one map is malformed input, an unknown
 *     key is skipped (forward compatibility), and nil/null is "absent".
 * Decoding parses into the struct (copying strings as it goes, so a failure
 * half-way is undone by proto_msg_fini), and encoding writes from it; both
 * check each field as they go with the same string, number and timestamp
 * checks (proto__check_str here, proto__check_double and proto__check_ts
 * in proto_int.h), so both sides agree by construction and neither walks
 * a message twice. Error paths ("task.score.why") are rendered only when
 * an error is reported into a caller's buffer (proto__path_t).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proto_int.h"

/* ---- errors ---- */

static bool err_wanted(const proto__err_t *e)
{
  return e != NULL && e->buf != NULL && e->len > 0;
}

static void vfail(proto__err_t *e, const char *path, const char *fmt,
                  va_list ap) __attribute__((format(printf, 3, 0)));
static void vfail(proto__err_t *e, const char *path, const char *fmt,
                  va_list ap)
{
  size_t off = 0;

  e->buf[0] = '\0';
  if (path != NULL && path[0] != '\0') {
    int n = snprintf(e->buf, e->len, "%s: ", path);
    if (n < 0 || (size_t)n >= e->len)
      return;
    off = (size_t)n;
  }
  vsnprintf(e->buf + off, e->len - off, fmt, ap);
}

int proto__fail(proto__err_t *e, int rc, const char *path, const char *fmt,
                ...)
{
  va_list ap;

  if (!err_wanted(e))
    return rc;
  va_start(ap, fmt);
  vfail(e, path, fmt, ap);
  va_end(ap);
  return rc;
}

int proto__decode_begin(proto__err_t *e, proto_msg_t *m, const void *in,
                        size_t len, const char *codec, const char *noun)
{
  if (e->buf != NULL && e->len > 0)
    e->buf[0] = '\0';
  if (m == NULL)
    return proto__fail(e, PROTO_EFIELD, NULL, "no output message");
  proto__msg_zero(m);
  if (len > PROTO_MAX_MSG)
    return proto__fail(e, PROTO_ETOOBIG, codec,
                       "%s of %zu bytes is over the %u-byte cap", noun, len,
                       PROTO_MAX_MSG);
  if (in == NULL && len > 0)
    return proto__fail(e, PROTO_EMALFORMED, codec, "no input %s", noun);
  return 0;
}

/* Render @p p ("task", "task.score.why", "task.labels[2]") at out + *off,
 * truncating at PROTO__PATH_MAX like the paths always were. */
static void path_render(const proto__path_t *p, char *out, size_t *off)
{
  if (p == NULL)
    return;
  path_render(p->up, out, off);
  size_t room = PROTO__PATH_MAX - *off;
  int n;
  if (p->name == NULL)
    n = snprintf(out + *off, room, "[%zu]", p->index);
  else
    n = snprintf(out + *off, room, "%s%s", p->up != NULL ? "." : "",
                 p->name);
  *off = n < 0 ? *off : (size_t)n >= room ? PROTO__PATH_MAX - 1
                                           : *off + (size_t)n;
}

int proto__failp(proto__err_t *e, int rc, const proto__path_t *path,
                 const char *fmt, ...)
{
  char text[PROTO__PATH_MAX];
  size_t off = 0;
  va_list ap;

  if (!err_wanted(e))
    return rc;
  text[0] = '\0';
  path_render(path, text, &off);
  va_start(ap, fmt);
  vfail(e, text, fmt, ap);
  va_end(ap);
  return rc;
}

void proto__quote(char *out, const char *p, size_t len)
{
  size_t o = 0;

  for (size_t i = 0; i < len && i < 32; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '"' || c == '\\')
      out[o++] = '\\';
    out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  if (len > 32) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = '\0';
}

/* ---- strings and JSON members ---- */

/* How long a multi-byte UTF-8 sequence that starts with @p c is (bytes
 * after the lead), and the lead's payload bits; 0 for a byte that cannot
 * lead one (continuation byte, overlong lead, beyond U+10FFFF). */
static size_t utf8_lead(unsigned c, uint32_t *cp)
{
  if (c >= 0xc2 && c <= 0xdf) {
    *cp = c & 0x1f;
    return 1;
  }
  if (c >= 0xe0 && c <= 0xef) {
    *cp = c & 0x0f;
    return 2;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    *cp = c & 0x07;
    return 3;
  }
  return 0;
}

/* Is the sequence of @p n continuation bytes after the lead at @p p (with
 * the lead's bits @p cp) complete, and neither overlong, a UTF-16
 * surrogate nor beyond U+10FFFF? @p left bytes follow the lead. */
static bool utf8_seq_ok(const unsigned char *p, size_t n, size_t left,
                        uint32_t cp)
{
  if (left < n)
    return false;
  for (size_t k = 1; k <= n; k++) {
    if ((p[k] & 0xc0) != 0x80)
      return false;
    cp = (cp << 6) | (p[k] & 0x3f);
  }
  if (n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
    return false;
  return n != 3 || (cp >= 0x10000 && cp <= 0x10ffff);
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Bytes of @p w that are not ASCII or are 0, as high bits: with every high
 * bit clear, w - ONES borrows into a byte's high bit exactly where the
 * byte is 0. */
static uint64_t non_ascii_or_nul(uint64_t w)
{
  return (w | (w - ONES)) & HIGHS;
}

/* Are the @p len bytes at @p p all ASCII, none of them 0 (most strings)?
 * Eight at a time, the last ones in one load that overlaps the one
 * before; no loop per byte, no load outside the @p len bytes. */
static bool all_ascii(const unsigned char *p, size_t len)
{
  uint64_t w, bad = 0;
  uint32_t a, b;

  if (len >= 8) {
    for (size_t i = 0; i + 8 < len; i += 8) {
      memcpy(&w, p + i, 8);
      bad |= non_ascii_or_nul(w);
    }
    memcpy(&w, p + len - 8, 8);
    return (bad | non_ascii_or_nul(w)) == 0;
  }
  if (len >= 4) {
    memcpy(&a, p, 4), memcpy(&b, p + len - 4, 4);
    w = (uint64_t)a << 32 | b;
  } else if (len > 0) { /* bytes 0, len/2 and len-1 cover all three */
    w = UINT64_C(0x0101010101000000) | (uint64_t)p[0] |
        (uint64_t)p[len / 2] << 8 | (uint64_t)p[len - 1] << 16;
  } else {
    return true;
  }
  return non_ascii_or_nul(w) == 0;
}

/* Where the first NUL byte or invalid UTF-8 (overlong form, surrogate,
 * beyond U+10FFFF, truncated sequence) of @p p starts; @p len when there
 * is neither. A character at a time, or eight ASCII bytes at a time. */
static size_t text_scan(const unsigned char *p, size_t len)
{
  size_t i = 0;

  while (i < len) {
    uint64_t word;
    uint32_t cp;

    if (len - i >= 8 && (memcpy(&word, p + i, 8),
                         non_ascii_or_nul(word) == 0)) {
      i += 8;
      continue;
    }
    unsigned c = p[i];
    if (c == 0)
      return i;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n = utf8_lead(c, &cp);
    if (n == 0 || !utf8_seq_ok(p + i, n, len - i - 1, cp))
      return i;
    i += n + 1;
  }
  return len;
}

int proto__check_str(const char *p, size_t len, size_t cap,
                     const proto__path_t *path, proto__err_t *e)
{
  if (len > cap)
    return proto__failp(e, PROTO_ETOOBIG, path,
                        "string of %zu bytes is over the %zu-byte cap", len,
                        cap);
  if (all_ascii((const unsigned char *)p, len))
    return 0; /* most strings: no loop per character */
  size_t stop = text_scan((const unsigned char *)p, len);
  if (stop == len)
    return 0;
  /* A NUL byte anywhere is reported before invalid UTF-8. */
  if (p[stop] == '\0' || memchr(p + stop, '\0', len - stop) != NULL)
    return proto__failp(e, PROTO_EVALUE, path, "string contains a NUL byte");
  return proto__failp(e, PROTO_EVALUE, path, "string is not valid UTF-8");
}

static int check_json_at(const json_t *v, int depth,
                         const proto__path_t *path, proto__err_t *e)
{
  const char *key;
  size_t klen, i;
  json_t *item;
  int rc = 0;

  switch (json_typeof(v)) {
  case JSON_OBJECT:
  case JSON_ARRAY:
    if (depth >= PROTO_MAX_DEPTH)
      return proto__failp(e, PROTO_EDEPTH, path,
                          "nesting deeper than %d levels", PROTO_MAX_DEPTH);
    break;
  case JSON_STRING:
    return proto__check_str(json_string_value(v), json_string_length(v),
                            PROTO_MAX_TEXT, path, e);
  case JSON_REAL:
    if (!isfinite(json_real_value(v)))
      return proto__failp(e, PROTO_EVALUE, path, "not a finite number");
    return 0;
  default:
    return 0;
  }
  if (json_is_array(v)) {
    json_array_foreach(v, i, item) {
      rc = check_json_at(item, depth + 1, path, e);
      if (rc != 0)
        return rc;
    }
    return 0;
  }
  /* The const cast: jansson's iteration macros take json_t *, not const. */
  json_object_keylen_foreach((json_t *)v, key, klen, item) {
    rc = proto__check_str(key, klen, PROTO_MAX_STR, path, e);
    if (rc == 0)
      rc = check_json_at(item, depth + 1, path, e);
    if (rc != 0)
      return rc;
  }
  return 0;
}

int proto__check_json(const json_t *v, const proto__path_t *path,
                      proto__err_t *e)
{
  return check_json_at(v, 0, path, e);
}

/* ---- validation of a struct ---- */

static int check_table(const proto__table_t *t, const char *base,
                       const proto__path_t *prefix, proto__err_t *e);

static int check_list(const proto_string_list_t *l, const proto__path_t *path,
                      proto__err_t *e)
{
  if (l->len > PROTO_MAX_LIST)
    return proto__failp(e, PROTO_ETOOBIG, path,
                        "%" PRIu32 " items, over the cap of %d", l->len,
                        PROTO_MAX_LIST);
  for (uint32_t i = 0; i < l->len; i++) {
    proto__path_t item = PROTO__PATH_ITEM(path, i);
    if (l->items == NULL || l->items[i] == NULL)
      return proto__failp(e, PROTO_EFIELD, &item, "NULL item");
    int rc = proto__check_str(l->items[i], strlen(l->items[i]),
                              PROTO_MAX_STR, &item, e);
    if (rc != 0)
      return rc;
  }
  return 0;
}

static int check_str_field(const proto__field_t *f, const char *s,
                           const proto__path_t *path, proto__err_t *e)
{
  if (s == NULL) {
    if (f->flags & PROTO__REQUIRED)
      return proto__failp(e, PROTO_EFIELD, path, "missing required field");
    return 0;
  }
  return proto__check_str(s, strlen(s), f->cap, path, e);
}

static int check_json_field(const proto__field_t *f, const json_t *j,
                            const proto__path_t *path, proto__err_t *e)
{
  if (j == NULL)
    return 0;
  if ((f->flags & PROTO__OBJECT) && !json_is_object(j))
    return proto__failp(e, PROTO_EFIELD, path, "expected an object");
  return proto__check_json(j, path, e);
}

static int check_field(const proto__field_t *f, const char *base,
                       const proto__path_t *path, proto__err_t *e)
{
  const char *p = base + f->offset;

  switch (f->kind) {
  case PROTO__F_STR:
    return check_str_field(f, *(char *const *)p, path, e);
  case PROTO__F_U64:
    if (*(const uint64_t *)p > (uint64_t)INT64_MAX)
      return proto__failp(e, PROTO_EVALUE, path,
                          "%" PRIu64 " is out of range (0..2^63-1)",
                          *(const uint64_t *)p);
    return 0;
  case PROTO__F_DOUBLE:
    return proto__check_double(*(const double *)p, path, e);
  case PROTO__F_STATE:
    if ((unsigned)*(const proto_state_t *)p >= PROTO_STATE_COUNT)
      return proto__failp(e, PROTO_EVALUE, path, "unknown state %d",
                          (int)*(const proto_state_t *)p);
    return 0;
  case PROTO__F_STRLIST:
    return check_list((const proto_string_list_t *)p, path, e);
  case PROTO__F_JSON:
    return check_json_field(f, *(json_t *const *)p, path, e);
  case PROTO__F_TS:
    return proto__check_ts(*(const int64_t *)p, path, e);
  case PROTO__F_MAP:
    return check_table(f->sub, p, path, e);
  default: /* bool, uint32_t, int64_t: every value is valid */
    return 0;
  }
}

static int check_table(const proto__table_t *t, const char *base,
                       const proto__path_t *prefix, proto__err_t *e)
{
  for (size_t i = 0; i < t->n; i++) {
    proto__path_t path = PROTO__PATH_FIELD(prefix, t->fields[i].name);
    int rc = check_field(&t->fields[i], base, &path, e);
    if (rc != 0)
      return rc;
  }
  return t->check != NULL ? t->check(base, e) : 0;
}

/* ---- freeing ---- */

static void list_free(proto_string_list_t *l)
{
  if (l->items == NULL)
    return;
  for (uint32_t i = 0; i < l->len; i++)
    free(l->items[i]);
  free(l->items);
}

/* The kinds of member that own memory. */
#define OWNING                                                          \
  (1u << PROTO__F_STR | 1u << PROTO__F_STRLIST | 1u << PROTO__F_JSON |  \
   1u << PROTO__F_MAP)

void proto__fields_free(const proto__table_t *t, char *base)
{
  for (size_t i = 0; i < t->n; i++) {
    const proto__field_t *f = &t->fields[i];
    char *p = base + f->offset;

    if (!(OWNING >> f->kind & 1u))
      continue; /* numbers, booleans, states: one test */
    /* Absent members are NULL: no call for them (most optional strings
     * of a task are absent, and free(NULL) is a call all the same). */
    if (f->kind == PROTO__F_STR) {
      if (*(char **)p != NULL)
        free(*(char **)p);
    } else if (f->kind == PROTO__F_STRLIST)
      list_free((proto_string_list_t *)p);
    else if (f->kind == PROTO__F_JSON)
      json_decref(*(json_t **)p);
    else if (f->kind == PROTO__F_MAP)
      proto__fields_free(f->sub, p);
  }
}

/* ---- encoding ---- */

static size_t count_entries(const proto__table_t *t, const char *base);

/* Is field @p f written? NULL strings and JSON members are left out, and
 * so is a nested map that would be empty; everything else always is. */
static bool field_present(const proto__field_t *f, const char *base)
{
  const char *p = base + f->offset;

  switch (f->kind) {
  case PROTO__F_STR:
    return *(char *const *)p != NULL;
  case PROTO__F_JSON:
    return *(json_t *const *)p != NULL;
  case PROTO__F_MAP:
    return count_entries(f->sub, p) > 0;
  default:
    return true;
  }
}

static size_t count_entries(const proto__table_t *t, const char *base)
{
  size_t n = 0;

  for (size_t i = 0; i < t->n; i++)
    n += field_present(&t->fields[i], base);
  return n;
}

/* The writer and where its errors go, for one encoding walk. */
typedef struct write_ctx {
  const proto__writer_ops_t *ops;
  void *w;
  proto__err_t *e;
} write_ctx_t;

static int write_table(const proto__table_t *t, const char *base,
                       const proto__path_t *prefix, write_ctx_t *c);

static int write_list(const proto_string_list_t *l, write_ctx_t *c)
{
  int rc = c->ops->array_begin(c->w, l->len);

  for (uint32_t i = 0; rc == 0 && i < l->len; i++)
    rc = c->ops->str(c->w, l->items[i], strlen(l->items[i]));
  return rc != 0 ? rc : c->ops->array_end(c->w);
}

static int write_str(const proto__field_t *f, const char *s,
                     const proto__path_t *path, write_ctx_t *c)
{
  size_t len = strlen(s);
  int rc = proto__check_str(s, len, f->cap, path, c->e);

  return rc != 0 ? rc : c->ops->str(c->w, s, len);
}

/* Write a present field's value (checked first, as proto__validate
 * would: nothing invalid reaches the writer). */
static int write_value(const proto__field_t *f, const char *base,
                       const proto__path_t *path, write_ctx_t *c)
{
  const char *p = base + f->offset;
  const char *name;
  int rc;

  if (f->kind == PROTO__F_STR)
    return write_str(f, *(char *const *)p, path, c);
  if (f->kind == PROTO__F_MAP)
    return write_table(f->sub, p, path, c);
  rc = check_field(f, base, path, c->e);
  if (rc != 0)
    return rc;
  switch (f->kind) {
  case PROTO__F_BOOL:
    return c->ops->boolean(c->w, *(const bool *)p);
  case PROTO__F_U32:
    return c->ops->u64(c->w, *(const uint32_t *)p);
  case PROTO__F_U64:
    return c->ops->u64(c->w, *(const uint64_t *)p);
  case PROTO__F_I64:
    return c->ops->i64(c->w, *(const int64_t *)p);
  case PROTO__F_DOUBLE:
    return c->ops->dbl(c->w, *(const double *)p);
  case PROTO__F_STATE:
    name = proto_state_name(*(const proto_state_t *)p);
    return c->ops->str(c->w, name, strlen(name));
  case PROTO__F_STRLIST:
    return write_list((const proto_string_list_t *)p, c);
  case PROTO__F_JSON:
    return c->ops->json(c->w, *(json_t *const *)p);
  case PROTO__F_TS:
    return c->ops->ts(c->w, *(const int64_t *)p);
  default:
    return PROTO_EFIELD; /* not reached: every kind is handled */
  }
}

static int write_table(const proto__table_t *t, const char *base,
                       const proto__path_t *prefix, write_ctx_t *c)
{
  int rc = c->ops->map_begin(c->w, count_entries(t, base));

  for (size_t i = 0; rc == 0 && i < t->n; i++) {
    const proto__field_t *f = &t->fields[i];
    proto__path_t path = PROTO__PATH_FIELD(prefix, f->name);
    if (!field_present(f, base)) {
      rc = check_field(f, base, &path, c->e); /* a required one missing? */
      continue;
    }
    rc = c->ops->key(c->w, f->name);
    if (rc == 0)
      rc = write_value(f, base, &path, c);
  }
  if (rc == 0 && t->check != NULL)
    rc = t->check(base, c->e);
  return rc != 0 ? rc : c->ops->map_end(c->w);
}

int proto__encode(const proto_msg_t *m, const proto__writer_ops_t *ops,
                  void *w, proto__err_t *e)
{
  const proto__table_t *t = m != NULL ? proto__table(m->type) : NULL;
  write_ctx_t c = {.ops = ops, .w = w, .e = e};

  if (t == NULL)
    return proto__fail(e, PROTO_ETYPE, NULL, "unknown message type %d",
                       m != NULL ? (int)m->type : 0);
  proto__path_t root = PROTO__PATH_ROOT(proto_type_name(m->type));
  return write_table(t, (const char *)&m->u, &root, &c);
}
