/*
 * codec_json.c: the JSON mapping (REST and ccm.v1.json WebSocket clients).
 *
 * Design note: a message's JSON form is its "d" map alone; the type comes
 * from the route or the WebSocket "type" key, which the decoder skips as an
 * unknown field. Like codec_msgpack.c this file only adapts jansson to the
 * generic walker (codec.c): a writer that builds a json_t tree through a
 * small stack of open containers, and a reader over json_t nodes. The one
 * difference from msgpack is the event's "ts": an ISO-8601 UTC string with
 * milliseconds ("2026-11-24T09:00:00.123Z") instead of unix ms.
 *
 * Text input is parsed by jansson with duplicate keys refused (msgpack
 * refuses them too) and at most PROTO_MAX_MSG bytes; jansson caps its own
 * recursion (2048 levels), and the walker then applies PROTO_MAX_DEPTH.
 * JSON members are deep-copied out of a caller's tree, but taken by
 * reference out of a tree this file parsed itself (nobody else holds it).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proto_int.h"

/* ---- ISO-8601 timestamps ---- */

#define MS_PER_DAY INT64_C(86400000)

/* Days since 1970-01-01 of a proleptic Gregorian date (y >= 1). Counts
 * whole 400-year eras (146097 days each) from 0000-03-01, with March as
 * the first month so that the leap day ends the year. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
  y -= m <= 2;
  int64_t era = y / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse of days_from_civil for days >= 0. */
static void civil_from_days(int64_t days, int *y, unsigned *m, unsigned *d)
{
  int64_t z = days + 719468;
  int64_t era = z / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;

  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Format @p ms (0..PROTO__TS_MAX, checked by validation) into @p out. */
static void iso_format(int64_t ms, char out[64])
{
  int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY;
  int y;
  unsigned mo, d;

  civil_from_days(days, &y, &mo, &d);
  /* "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ" by hand (y is 1970..9999):
   * task lists format three of these per task. */
  const unsigned parts[] = {(unsigned)y, mo, d,
                            (unsigned)(rem / 3600000),
                            (unsigned)(rem / 60000 % 60),
                            (unsigned)(rem / 1000 % 60),
                            (unsigned)(rem % 1000)};
  static const char width[] = {4, 2, 2, 2, 2, 2, 3};
  static const char after[] = "--T::.Z";
  char *p = out;
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    unsigned v = parts[i];
    for (int k = width[i] - 1; k >= 0; k--, v /= 10)
      p[k] = (char)('0' + v % 10);
    p += width[i];
    *p++ = after[i];
  }
  *p = '\0';
}

/* @p n decimal digits at @p p, or -1. */
static int digits(const char *p, size_t n)
{
  int v = 0;

  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9')
      return -1;
    v = v * 10 + (p[i] - '0');
  }
  return v;
}

static bool leap(int y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Milliseconds of the fraction and zone after the seconds ("", ".1",
 * ".123456", then "Z" or "+00:00"); -1 when malformed. Digits beyond the
 * millisecond are dropped. */
static int parse_frac_zone(const char *p, size_t len)
{
  size_t i = 0;
  int ms = 0, scale = 100;

  if (len > 0 && p[0] == '.') {
    for (i = 1; i < len && i <= 9 && p[i] >= '0' && p[i] <= '9'; i++) {
      ms += (p[i] - '0') * scale;
      scale /= 10;
    }
    if (i == 1)
      return -1;
  }
  if (len - i == 1 && p[i] == 'Z')
    return ms;
  if (len - i == 6 && memcmp(p + i, "+00:00", 6) == 0)
    return ms;
  return -1;
}

/* "YYYY-MM-DDTHH:MM:SS[.fff]Z" in UTC, 1970..9999, to unix ms. */
static bool iso_parse(const char *s, size_t len, int64_t *ms)
{
  static const unsigned mdays[] = {31, 28, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31};
  int y, mo, d, h, mi, sec, frac;

  if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
      s[13] != ':' || s[16] != ':')
    return false;
  y = digits(s, 4);
  mo = digits(s + 5, 2);
  d = digits(s + 8, 2);
  h = digits(s + 11, 2);
  mi = digits(s + 14, 2);
  sec = digits(s + 17, 2);
  frac = parse_frac_zone(s + 19, len - 19);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 ||
      mi > 59 || sec < 0 || sec > 59 || frac < 0)
    return false;
  if ((unsigned)d > mdays[mo - 1] + (mo == 2 && leap(y)))
    return false;
  *ms = days_from_civil(y, (unsigned)mo, (unsigned)d) * MS_PER_DAY +
        ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + frac;
  return true;
}

/* ---- reader: json_t views for the walker ---- */

static void json_view(const json_t *j, proto__val_t *v)
{
  memset(v, 0, sizeof *v);
  v->node = j;
  switch (json_typeof(j)) {
  case JSON_OBJECT:
    v->kind = PROTO__V_MAP;
    v->as.n = json_object_size(j);
    break;
  case JSON_ARRAY:
    v->kind = PROTO__V_ARRAY;
    v->as.n = json_array_size(j);
    break;
  case JSON_STRING:
    v->kind = PROTO__V_STR;
    v->as.s.p = json_string_value(j);
    v->as.s.len = json_string_length(j);
    break;
  case JSON_INTEGER:
    v->kind = PROTO__V_INT;
    v->as.i = json_integer_value(j);
    break;
  case JSON_REAL:
    v->kind = PROTO__V_DOUBLE;
    v->as.d = json_real_value(j);
    break;
  case JSON_TRUE:
  case JSON_FALSE:
    v->kind = PROTO__V_BOOL;
    v->as.b = json_is_true(j);
    break;
  default:
    v->kind = PROTO__V_NIL;
    break;
  }
}

/* The walker's reader (codec_walk.h): whether a JSON member may share the
 * caller's node (a tree parsed here and dropped after decoding) or must
 * be deep-copied (the caller keeps its own tree). */
typedef struct walk_rd {
  bool take;
} walk_rd_t;

typedef struct walk_iter {
  json_t *obj;
  void *iter;
} walk_iter_t;

static void walk_map_open(walk_rd_t *rd, const proto__val_t *map,
                          walk_iter_t *it)
{
  it->obj = (json_t *)map->node; /* jansson's iterators take json_t * */
  it->iter = json_object_iter(it->obj);
}

static int walk_map_next(walk_rd_t *rd, walk_iter_t *it, const char **key,
                         size_t *klen, proto__val_t *v,
                         const proto__path_t *path, proto__err_t *e)
{
  if (it->iter == NULL)
    return 0;
  *key = json_object_iter_key(it->iter);
  *klen = json_object_iter_key_len(it->iter);
  json_view(json_object_iter_value(it->iter), v);
  it->iter = json_object_iter_next(it->obj, it->iter);
  return 1;
}

static int walk_array_items(walk_rd_t *rd, const proto__val_t *arr,
                            proto__val_t *out, const proto__path_t *path,
                            proto__err_t *e)
{
  for (size_t i = 0; i < arr->as.n; i++)
    json_view(json_array_get(arr->node, i), &out[i]);
  return 0;
}

static int walk_to_json(walk_rd_t *rd, const proto__val_t *v, json_t **out,
                        const proto__path_t *path, proto__err_t *e)
{
  int rc = proto__check_json(v->node, path, e);

  if (rc != 0)
    return rc;
  /* The const cast: jansson's json_incref takes json_t *, not const. */
  *out = rd->take ? json_incref((json_t *)v->node) : json_deep_copy(v->node);
  return *out != NULL ? 0
                      : proto__failp(e, PROTO_ENOMEM, path, "out of memory");
}

static int walk_ts(const proto__val_t *v, int64_t *ms,
                   const proto__path_t *path, proto__err_t *e)
{
  char q[68];

  if (v->kind != PROTO__V_STR)
    return proto__failp(e, PROTO_EFIELD, path,
                        "expected an ISO-8601 UTC time string");
  if (!iso_parse(v->as.s.p, v->as.s.len, ms)) {
    proto__quote(q, v->as.s.p, v->as.s.len);
    return proto__failp(e, PROTO_EVALUE, path,
                        "\"%s\" is not a time like 2026-11-24T09:00:00.123Z",
                        q);
  }
  return 0;
}

#include "protocol/codec_walk.h"

/* ---- writer: a json_t tree builder ---- */

/* Open containers: the "d" object, then a score/error map or a list. */
#define JW_STACK 4

typedef struct jw {
  json_t *root;
  json_t *stack[JW_STACK];
  int top;         /* index of the innermost open container, -1 none */
  const char *key; /* key for the next value inside an object */
} jw_t;

/* Attach @p v (a new reference, stolen) where the writer stands. */
static int jw_add(jw_t *w, json_t *v)
{
  json_t *parent;

  if (v == NULL)
    return PROTO_ENOMEM;
  if (w->top < 0) {
    json_decref(w->root); /* only one root: never happens */
    w->root = v;
    return 0;
  }
  parent = w->stack[w->top];
  if (json_is_object(parent))
    return json_object_set_new_nocheck(parent, w->key, v) == 0 ? 0
                                                               : PROTO_ENOMEM;
  return json_array_append_new(parent, v) == 0 ? 0 : PROTO_ENOMEM;
}

static int jw_open(jw_t *w, json_t *c)
{
  if (w->top + 1 >= JW_STACK) {
    json_decref(c);
    return PROTO_EDEPTH; /* the tables never nest this deep */
  }
  int rc = jw_add(w, c);
  if (rc == 0)
    w->stack[++w->top] = c; /* borrowed: the parent or root owns it */
  return rc;
}

static int jw_map_begin(void *w, size_t n)
{
  return jw_open(w, json_object());
}

static int jw_array_begin(void *w, size_t n)
{
  return jw_open(w, json_array());
}

static int jw_end(void *w)
{
  ((jw_t *)w)->top--;
  return 0;
}

static int jw_key(void *w, const char *k)
{
  ((jw_t *)w)->key = k; /* field names are static strings */
  return 0;
}

static int jw_str(void *w, const char *s, size_t len)
{
  return jw_add(w, json_stringn_nocheck(s, len)); /* checked UTF-8 */
}

static int jw_i64(void *w, int64_t v)
{
  return jw_add(w, json_integer((json_int_t)v));
}

static int jw_u64(void *w, uint64_t v)
{
  return jw_add(w, json_integer((json_int_t)v)); /* <= INT64_MAX */
}

static int jw_dbl(void *w, double v)
{
  return jw_add(w, json_real(v));
}

static int jw_bool(void *w, bool v)
{
  return jw_add(w, json_boolean(v));
}

static int jw_ts(void *w, int64_t ms)
{
  char buf[64];

  iso_format(ms, buf);
  return jw_add(w, json_string_nocheck(buf));
}

static int jw_json(void *w, const json_t *v)
{
  return jw_add(w, json_deep_copy(v));
}

static const proto__writer_ops_t json_writer = {
    .map_begin = jw_map_begin,
    .map_end = jw_end,
    .array_begin = jw_array_begin,
    .array_end = jw_end,
    .key = jw_key,
    .str = jw_str,
    .i64 = jw_i64,
    .u64 = jw_u64,
    .dbl = jw_dbl,
    .boolean = jw_bool,
    .ts = jw_ts,
    .json = jw_json,
};

/* ---- public API ---- */

json_t *proto_json_encode(const proto_msg_t *m)
{
  jw_t w = {.root = NULL, .top = -1, .key = NULL};

  if (m == NULL)
    return NULL;
  if (proto__encode(m, &json_writer, &w, NULL) != 0) {
    json_decref(w.root);
    return NULL;
  }
  return w.root;
}

/* ---- JSON text writer: the same bytes, without a tree ----
 *
 * proto_json_write() feeds the walker's output straight into text: no
 * json_t per field, no second pass to dump it. It must produce exactly
 * what json_dumps(proto_json_encode(m), JSON_COMPACT) does (tests compare
 * the two), so it follows jansson 2.14's dump rules: keys in insertion
 * order, '"' '\\' and control characters escaped (\b \f \n \r \t, else
 * \u00XX in upper-case hex), other bytes as they are (the walker checked
 * the UTF-8), reals as "%.17g" with ".0" added when neither '.' nor 'e'
 * appears and the exponent's '+' and leading zeros removed. */

#define TW_STACK (PROTO_MAX_DEPTH + 4)

typedef struct tw {
  msgpack_sbuffer *out;
  int top;                 /* open containers - 1 */
  bool more[TW_STACK];     /* the container at that level has a member */
  bool after_key;          /* the next value follows its key */
} tw_t;

static int tw_put(tw_t *w, const void *p, size_t n)
{
  return msgpack_sbuffer_write(w->out, p, n) == 0 ? 0 : PROTO_ENOMEM;
}

/* The separator before a value (none right after its key). */
static int tw_value(tw_t *w)
{
  if (w->after_key) {
    w->after_key = false;
    return 0;
  }
  if (w->top < 0)
    return 0;
  if (w->more[w->top])
    return tw_put(w, ",", 1);
  w->more[w->top] = true;
  return 0;
}

static int tw_open(tw_t *w, char c)
{
  int rc = tw_value(w);
  if (rc == 0 && w->top + 1 >= TW_STACK)
    rc = PROTO_EDEPTH;
  if (rc == 0 && (rc = tw_put(w, &c, 1)) == 0)
    w->more[++w->top] = false;
  return rc;
}

static int tw_close(tw_t *w, char c)
{
  w->top--;
  return tw_put(w, &c, 1);
}

static int tw_map_begin(void *w, size_t n)
{
  (void)n;
  return tw_open(w, '{');
}

static int tw_map_end(void *w)
{
  return tw_close(w, '}');
}

static int tw_array_begin(void *w, size_t n)
{
  (void)n;
  return tw_open(w, '[');
}

static int tw_array_end(void *w)
{
  return tw_close(w, ']');
}

/* Bytes JSON strings escape: control characters, '"' and '\\'. */
static const bool needs_escape[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1,
    [0x06] = 1, [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1,
    [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1,
    [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
    [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1,
    [0x1e] = 1, [0x1f] = 1, ['"'] = 1, ['\\'] = 1};

/* A JSON string: runs of plain bytes copied at once. */
static int tw_string(tw_t *w, const char *s, size_t len)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t run = 0;
  int rc = tw_put(w, "\"", 1);

  for (size_t i = 0; rc == 0 && i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t n = 2;

    if (!needs_escape[c]) /* most bytes */
      continue;
    if (i > run)
      rc = tw_put(w, s + run, i - run);
    run = i + 1;
    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default:
      memcpy(esc + 1, "u00", 3);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 0xf];
      n = 6;
    }
    if (rc == 0)
      rc = tw_put(w, esc, n);
  }
  if (rc == 0 && len > run)
    rc = tw_put(w, s + run, len - run);
  return rc == 0 ? tw_put(w, "\"", 1) : rc;
}

/* Field names are the schema's plain identifiers: "name": in one piece. */
static int tw_key(void *wp, const char *k)
{
  tw_t *w = wp;
  char buf[64];
  size_t n = strlen(k);
  int rc = tw_value(w);
  w->after_key = true;
  if (rc != 0)
    return rc;
  if (n + 3 > sizeof buf) {
    rc = tw_string(w, k, n);
    return rc != 0 ? rc : tw_put(w, ":", 1);
  }
  buf[0] = '"';
  memcpy(buf + 1, k, n);
  buf[n + 1] = '"';
  buf[n + 2] = ':';
  return tw_put(w, buf, n + 3);
}

static int tw_str(void *w, const char *s, size_t len)
{
  int rc = tw_value(w);
  return rc == 0 ? tw_string(w, s, len) : rc;
}

/* Decimal digits of @p v, ending at @p end; returns where they start. */
static char *decimal(char *end, int64_t v)
{
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  char *p = end;
  do
    *--p = (char)('0' + u % 10);
  while ((u /= 10) != 0);
  if (v < 0)
    *--p = '-';
  return p;
}

static int tw_i64(void *w, int64_t v)
{
  char buf[24], *end = buf + sizeof buf, *p = decimal(end, v);
  int rc = tw_value(w);
  return rc == 0 ? tw_put(w, p, (size_t)(end - p)) : rc;
}

static int tw_u64(void *w, uint64_t v)
{
  return tw_i64(w, (int64_t)v); /* <= INT64_MAX, as jw_u64 */
}

/* jansson's jsonp_dtostr with precision 17, in the "C" locale. Whole
 * numbers below 2^53 print without snprintf (the common case for
 * scores): %.17g shows all their digits and no point, so ".0" follows. */
static size_t real_text(double v, char out[40])
{
  if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v &&
      !(v == 0 && signbit(v))) {
    char digits[24], *end = digits + sizeof digits;
    char *p = decimal(end, (int64_t)v);
    size_t n = (size_t)(end - p);
    memcpy(out, p, n);
    memcpy(out + n, ".0", 3);
    return n + 2;
  }
  int n = snprintf(out, 40, "%.17g", v);
  if (n < 0 || n >= 40)
    return 0;
  if (!strchr(out, '.') && !strchr(out, 'e')) {
    memcpy(out + n, ".0", 3);
    n += 2;
  }
  char *e = strchr(out, 'e');
  if (e) { /* "e+05" -> "e5", "e-05" -> "e-5" */
    char *start = e + 1, *end = e + 2;
    if (*start == '-')
      start++;
    while (*end == '0')
      end++;
    if (end != start)
      memmove(start, end, strlen(end) + 1);
    n = (int)strlen(out);
  }
  return (size_t)n;
}

static int tw_dbl(void *w, double v)
{
  char buf[40];
  int rc = tw_value(w);
  size_t n = isfinite(v) ? real_text(v, buf) : 0;
  if (rc == 0 && n == 0)
    rc = PROTO_EVALUE; /* jansson has no NaN or infinity either */
  return rc == 0 ? tw_put(w, buf, n) : rc;
}

static int tw_bool(void *w, bool v)
{
  int rc = tw_value(w);
  return rc == 0 ? tw_put(w, v ? "true" : "false", v ? 4 : 5) : rc;
}

static int tw_ts(void *w, int64_t ms)
{
  char buf[64];
  iso_format(ms, buf);
  return tw_str(w, buf, strlen(buf));
}

/* A free-form JSON member: jansson dumps it (same flags, same bytes). */
static int tw_json(void *w, const json_t *v)
{
  int rc = tw_value(w);
  char *text = rc == 0 ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)
                       : NULL;
  if (rc == 0)
    rc = text ? tw_put(w, text, strlen(text)) : PROTO_ENOMEM;
  free(text);
  return rc;
}

static const proto__writer_ops_t text_writer = {
    .map_begin = tw_map_begin,
    .map_end = tw_map_end,
    .array_begin = tw_array_begin,
    .array_end = tw_array_end,
    .key = tw_key,
    .str = tw_str,
    .i64 = tw_i64,
    .u64 = tw_u64,
    .dbl = tw_dbl,
    .boolean = tw_bool,
    .ts = tw_ts,
    .json = tw_json,
};

int proto_json_write(const proto_msg_t *m, msgpack_sbuffer *out)
{
  tw_t w = {.out = out, .top = -1, .after_key = false};
  size_t before = out != NULL ? out->size : 0;
  int rc;

  if (m == NULL || out == NULL)
    return PROTO_EFIELD;
  rc = proto__encode(m, &text_writer, &w, NULL);
  if (rc != 0)
    out->size = before; /* nothing half-written stays */
  return rc;
}

static int decode_obj(proto_type_t type, const json_t *obj, bool take,
                      proto_msg_t *m, proto__err_t *e)
{
  walk_rd_t rd = {.take = take};
  proto__val_t d;

  proto__msg_zero(m);
  if (proto__table(type) == NULL)
    return proto__fail(e, PROTO_ETYPE, NULL, "unknown message type %d",
                       (int)type);
  if (obj == NULL || !json_is_object(obj))
    return proto__fail(e, PROTO_EMALFORMED, proto_type_name(type),
                       "expected a JSON object");
  json_view(obj, &d);
  return walk_decode(&rd, type, &d, m, e);
}

int proto_json_decode(proto_type_t type, const json_t *obj, proto_msg_t *m,
                      char *err, size_t errlen)
{
  proto__err_t e = {err, errlen};

  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (m == NULL)
    return proto__fail(&e, PROTO_EFIELD, NULL, "no output message");
  return decode_obj(type, obj, false, m, &e);
}

/* jansson's parse error as a PROTO_E* code and an ASCII-only message. */
static int parse_failed(const json_error_t *je, proto__err_t *e)
{
  char text[JSON_ERROR_TEXT_LENGTH];
  size_t i;

  if (json_error_code(je) == json_error_out_of_memory)
    return proto__fail(e, PROTO_ENOMEM, "json", "out of memory");
  for (i = 0; je->text[i] != '\0' && i + 1 < sizeof text; i++) {
    unsigned char c = (unsigned char)je->text[i];
    text[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  text[i] = '\0';
  return proto__fail(e, PROTO_EMALFORMED, "json", "%s (line %d, column %d)",
                     text, je->line, je->column);
}

int proto_json_decode_text(proto_type_t type, const char *text, size_t len,
                           proto_msg_t *m, char *err, size_t errlen)
{
  proto__err_t e = {err, errlen};
  json_error_t je;
  json_t *root;
  int rc;

  rc = proto__decode_begin(&e, m, text, len, "json", "body");
  if (rc != 0)
    return rc;
  root = json_loadb(text != NULL ? text : "", len, JSON_REJECT_DUPLICATES,
                    &je);
  if (root == NULL)
    return parse_failed(&je, &e);
  rc = decode_obj(type, root, true, m, &e);
  json_decref(root);
  return rc;
}
