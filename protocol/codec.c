/*
 * codec.c: the one walker over the field tables (schema.c) that validates,
 * frees, encodes and decodes every message type, whatever the encoding.
 *
 * Design note: the encodings plug in through proto__writer_ops_t and
 * proto__reader_ops_t (proto_int.h); everything that decides what a valid
 * message is lives here, once:
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
 * check each field with the same functions (check_field and what it calls)
 * as they go, so both sides agree by construction and neither walks a
 * message twice. Error paths ("task.score.why") are rendered only when an
 * error is reported into a caller's buffer (proto__path_t).
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
  memset(m, 0, sizeof *m);
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

size_t proto__text_scan(const char *s, size_t len)
{
  const uint64_t ones = UINT64_C(0x0101010101010101);
  const uint64_t highs = UINT64_C(0x8080808080808080);
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;

  while (i < len) {
    uint64_t word;
    uint32_t cp;

    /* Eight ASCII bytes at a time (most text is ASCII), none of them 0:
     * with every high bit clear, (word - ones) & highs is non-zero
     * exactly when a byte is 0. */
    if (len - i >= 8 && (memcpy(&word, p + i, 8), (word & highs) == 0) &&
        ((word - ones) & highs) == 0) {
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
  size_t stop = proto__text_scan(p, len);
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

static int check_double(double d, const proto__path_t *path, proto__err_t *e)
{
  if (!isfinite(d))
    return proto__failp(e, PROTO_EVALUE, path, "not a finite number");
  return 0;
}

static int check_ts(int64_t ms, const proto__path_t *path, proto__err_t *e)
{
  if (ms < 0 || ms > PROTO__TS_MAX)
    return proto__failp(e, PROTO_EVALUE, path,
                        "timestamp %" PRId64 " ms is outside 1970..9999", ms);
  return 0;
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
    return check_double(*(const double *)p, path, e);
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
    return check_ts(*(const int64_t *)p, path, e);
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

void proto__fields_free(const proto__table_t *t, char *base)
{
  for (size_t i = 0; i < t->n; i++) {
    const proto__field_t *f = &t->fields[i];
    char *p = base + f->offset;

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

/* ---- decoding ----
 *
 * One pass: each field is parsed and checked as its map entry is read,
 * as proto__validate would check it (so a decoded message is valid
 * without walking it again); required fields are checked once the map is
 * read, and each table's rule across fields runs once its fields are in.
 * So a message with several faults reports the first in wire order, and
 * a missing required field after them. (Entries used to be collected
 * into a table of views first and parsed in a second loop over it: ~5%
 * more time per task decode, protocol/README.md "Speed".) */

_Static_assert(PROTO__MAX_FIELDS <= 32, "slots_t masks hold 32 rows");

typedef struct parse_ctx {
  const proto__reader_ops_t *ops;
  proto__err_t *e;
} parse_ctx_t;

/* The entries of one map, matched to the rows of its table and parsed
 * as they come (bit i of a mask is row i: PROTO__MAX_FIELDS <= 32). */
typedef struct slots {
  const proto__table_t *t;
  char *base; /* the struct the rows' offsets are in */
  const proto__path_t *prefix;
  parse_ctx_t *c;
  size_t next;      /* the row expected next: keys usually come in order */
  uint32_t seen;    /* rows whose key was met (a second one is a duplicate) */
  uint32_t present; /* rows parsed (a nil value counts as absent) */
} slots_t;

static int parse_table(const proto__table_t *t, const proto__val_t *map,
                       char *base, const proto__path_t *prefix,
                       parse_ctx_t *c);

/* @p n bytes at @p a and @p b equal? Short names in a few overlapping
 * fixed-size loads (no call, no loop per byte); both ranges are readable
 * for @p n bytes. */
static bool short_eq(const char *a, const char *b, size_t n)
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

static bool key_is(const proto__field_t *f, const char *key, size_t klen)
{
  /* Length, then the bytes (not strncmp: a key may hold NUL bytes). */
  return f->namelen == klen && short_eq(f->name, key, klen);
}

static int parse_field(const proto__field_t *f, const proto__val_t *v,
                       char *base, const proto__path_t *path, parse_ctx_t *c);

/* One map entry: find its row, refuse a second key of that row, parse
 * and check the value into the struct (a nil is left absent). */
static int collect(void *ctx, const char *key, size_t klen,
                   const proto__val_t *v)
{
  slots_t *s = ctx;
  int i = -1;

  /* Keys come in table order, minus the absent ones: look ahead first. */
  for (size_t k = s->next; i < 0 && k < s->t->n; k++)
    if (key_is(&s->t->fields[k], key, klen))
      i = (int)k;
  if (i < 0)
    i = proto__field_index(s->t, key, klen);

  if (i < 0)
    return 0; /* unknown key: skipped */
  const proto__field_t *f = &s->t->fields[i];
  uint32_t bit = UINT32_C(1) << i;
  proto__path_t path = PROTO__PATH_FIELD(s->prefix, f->name);
  if (s->seen & bit)
    return proto__failp(s->c->e, PROTO_EMALFORMED, &path, "duplicate key");
  s->seen |= bit;
  s->next = (size_t)i + 1;
  if (v->kind == PROTO__V_NIL)
    return 0;
  int rc = parse_field(f, v, s->base, &path, s->c);
  if (rc == 0)
    s->present |= bit;
  return rc;
}

static int get_int(const proto__val_t *v, int64_t lo, int64_t hi,
                   int64_t *out, const proto__path_t *path, proto__err_t *e)
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

static int get_double(const proto__val_t *v, double *out,
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
  return check_double(*out, path, e);
}

/* A checked, NUL-terminated copy of string value @p v. */
static int get_str(const proto__val_t *v, size_t cap, char **out,
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

static int get_state(const proto__val_t *v, proto_state_t *out,
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

static int get_list(const proto__val_t *v, proto_string_list_t *l,
                    const proto__path_t *path, parse_ctx_t *c)
{
  proto__val_t iv;

  if (v->kind != PROTO__V_ARRAY)
    return proto__failp(c->e, PROTO_EFIELD, path, "expected an array");
  if (v->as.n > PROTO_MAX_LIST)
    return proto__failp(c->e, PROTO_ETOOBIG, path,
                        "%zu items, over the cap of %d", v->as.n,
                        PROTO_MAX_LIST);
  if (v->as.n == 0)
    return 0;
  l->items = calloc(v->as.n, sizeof *l->items);
  if (l->items == NULL)
    return proto__failp(c->e, PROTO_ENOMEM, path, "out of memory");
  for (size_t i = 0; i < v->as.n; i++) {
    proto__path_t item = PROTO__PATH_ITEM(path, i);
    c->ops->array_at(v, i, &iv);
    int rc = get_str(&iv, PROTO_MAX_STR, &l->items[i], &item, c->e);
    if (rc != 0)
      return rc;
    l->len++; /* counts what proto_msg_fini must free */
  }
  return 0;
}

static int get_int_field(const proto__field_t *f, const proto__val_t *v,
                         char *p, const proto__path_t *path, proto__err_t *e)
{
  int64_t x = 0;
  int rc;

  switch (f->kind) {
  case PROTO__F_U32:
    rc = get_int(v, 0, UINT32_MAX, &x, path, e);
    *(uint32_t *)p = (uint32_t)x;
    return rc;
  case PROTO__F_U64:
    rc = get_int(v, 0, INT64_MAX, &x, path, e);
    *(uint64_t *)p = (uint64_t)x;
    return rc;
  default: /* PROTO__F_I64 */
    return get_int(v, INT64_MIN, INT64_MAX, (int64_t *)p, path, e);
  }
}

static int get_json(const proto__field_t *f, const proto__val_t *v,
                    json_t **out, const proto__path_t *path, parse_ctx_t *c)
{
  int rc = c->ops->to_json(v, out, path, c->e);

  if (rc == 0 && (f->flags & PROTO__OBJECT) && !json_is_object(*out))
    rc = proto__failp(c->e, PROTO_EFIELD, path, "expected an object");
  return rc;
}

static int get_ts(const proto__val_t *v, int64_t *out,
                  const proto__path_t *path, parse_ctx_t *c)
{
  int rc = c->ops->ts(v, out, path, c->e);

  return rc != 0 ? rc : check_ts(*out, path, c->e);
}

static int parse_field(const proto__field_t *f, const proto__val_t *v,
                       char *base, const proto__path_t *path, parse_ctx_t *c)
{
  char *p = base + f->offset;

  switch (f->kind) {
  case PROTO__F_STR:
    return get_str(v, f->cap, (char **)p, path, c->e);
  case PROTO__F_BOOL:
    if (v->kind != PROTO__V_BOOL)
      return proto__failp(c->e, PROTO_EFIELD, path, "expected a boolean");
    *(bool *)p = v->as.b;
    return 0;
  case PROTO__F_U32:
  case PROTO__F_U64:
  case PROTO__F_I64:
    return get_int_field(f, v, p, path, c->e);
  case PROTO__F_DOUBLE:
    return get_double(v, (double *)p, path, c->e);
  case PROTO__F_STATE:
    return get_state(v, (proto_state_t *)p, path, c->e);
  case PROTO__F_STRLIST:
    return get_list(v, (proto_string_list_t *)p, path, c);
  case PROTO__F_JSON:
    return get_json(f, v, (json_t **)p, path, c);
  case PROTO__F_TS:
    return get_ts(v, (int64_t *)p, path, c);
  case PROTO__F_MAP:
    return parse_table(f->sub, v, p, path, c);
  }
  return PROTO_EFIELD; /* not reached: every kind is handled above */
}

static int parse_table(const proto__table_t *t, const proto__val_t *map,
                       char *base, const proto__path_t *prefix,
                       parse_ctx_t *c)
{
  if (map->kind != PROTO__V_MAP)
    return proto__failp(c->e, PROTO_EFIELD, prefix, "expected a map");
  slots_t s = {.t = t, .base = base, .prefix = prefix, .c = c};
  int rc = c->ops->map_each(map, collect, &s, prefix, c->e);
  for (size_t i = 0; rc == 0 && i < t->n; i++) {
    const proto__field_t *f = &t->fields[i];
    if ((f->flags & PROTO__REQUIRED) && !(s.present & UINT32_C(1) << i)) {
      proto__path_t path = PROTO__PATH_FIELD(prefix, f->name);
      rc = proto__failp(c->e, PROTO_EFIELD, &path, "missing required field");
    }
  }
  if (rc == 0 && t->check != NULL)
    rc = t->check(base, c->e);
  return rc;
}

int proto__decode(proto_type_t t, const proto__val_t *d,
                  const proto__reader_ops_t *ops, proto_msg_t *m,
                  proto__err_t *e)
{
  const proto__table_t *tab = proto__table(t);
  parse_ctx_t c = {.ops = ops, .e = e};
  int rc;

  memset(m, 0, sizeof *m);
  if (tab == NULL)
    return proto__fail(e, PROTO_ETYPE, NULL, "unknown message type %d",
                       (int)t);
  m->type = t;
  proto__path_t root = PROTO__PATH_ROOT(proto_type_name(t));
  rc = parse_table(tab, d, (char *)&m->u, &root, &c);
  if (rc != 0)
    proto_msg_fini(m);
  return rc;
}
