/*
 * proto_int.h: internals shared by the protocol/ sources only.
 *
 * Design note
 * -----------
 * Each message type is described once, by a field table (schema.c): for
 * every struct member its wire name, its kind, whether it is required, its
 * offset in the struct and its size cap. Generic walkers use these
 * tables to validate a struct, to free it and to encode it through a
 * writer (codec.c), and to decode it through a reader (codec_walk.h,
 * compiled into each encoding's file with that encoding's reader). The
 * two encodings only supply those small back ends:
 *
 *   codec_msgpack.c  writer = stores straight into the caller's sbuffer;
 *                    reader = a cursor over the bytes that checks each
 *                    header within their bounds (see there);
 *   codec_json.c     writer = a jansson tree builder; reader = a view over
 *                    json_t nodes.
 *
 * So a field's name, cap and checks exist in exactly one place, and both
 * encodings accept and refuse the same messages. Decoding is two steps:
 * parse and check each field as it is read (wire types, integer ranges,
 * lengths, required presence, caps, UTF-8, enumerations; the strings are
 * copied out), then the per-type rules. Encoding runs the same checks on
 * each field just before writing it, and the public encoders discard a
 * partial output: nothing is written for an invalid message.
 *
 * Invariants: a decoded struct owns every string, list and json_t it points
 * to; after any failure the output message is zeroed (PROTO_NONE). Nothing
 * here keeps state between calls, so all functions are thread-safe.
 */
#ifndef PROTO_PROTO_INT_H
#define PROTO_PROTO_INT_H

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "protocol/proto.h"

/* Latest timestamp a message may carry: 9999-12-31T23:59:59.999Z in unix
 * ms. The JSON form of an event's "ts" has a four-digit year, so anything
 * later (or before 1970) has no JSON form and is refused in both encodings. */
#define PROTO__TS_MAX INT64_C(253402300799999)

/* Most fields in one table (task has 22 with its flattened location);
 * schema.c checks every table against it at compile time. */
#define PROTO__MAX_FIELDS 32

/* Longest field path in an error message ("task.score.time_criticality"). */
#define PROTO__PATH_MAX 96

/* Where a field sits in a message ("task.score.why", "task.labels[2]"), as a
 * chain of stack frames from the field up to the root. The walker builds one
 * frame per field it visits, which costs two stores; the text is rendered
 * only when an error is reported into a caller's buffer (formatting every
 * path eagerly was ~45% of a decode). */
typedef struct proto__path {
  const struct proto__path *up; /* NULL at the root */
  const char *name;             /* field name; NULL: list item .index */
  size_t index;
} proto__path_t;

#define PROTO__PATH_ROOT(n) {NULL, (n), 0}
#define PROTO__PATH_FIELD(parent, n) {(parent), (n), 0}
#define PROTO__PATH_ITEM(parent, i) {(parent), NULL, (i)}

/* Zero a message: memset in 32-byte pieces. One memset of the whole
 * proto_msg_t (216 bytes) compiles to `rep stos` on x86-64, which costs
 * ~13 ns there against ~3.5 ns for the pieces (plain vector stores); a
 * decode and its proto_msg_fini zero the message twice. */
static inline void proto__msg_zero(proto_msg_t *m)
{
  char *c = (char *)m;
  size_t i = 0;

  for (; i + 32 <= sizeof *m; i += 32)
    memset(c + i, 0, 32);
  memset(c + i, 0, sizeof *m - i);
}

/* ---- errors ---- */

/* Where a failure's text goes: err/errlen as given to the public API. */
typedef struct proto__err {
  char *buf;
  size_t len;
} proto__err_t;

/* Write "PATH: <fmt...>" into @p e (when it has a buffer) and return @p rc.
 * @p path may be NULL or "" for messages about the whole input. */
int proto__fail(proto__err_t *e, int rc, const char *path, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));
/* The same with a lazily rendered @p path (may be NULL). */
int proto__failp(proto__err_t *e, int rc, const proto__path_t *path,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The checks every decoder makes before it reads a byte: clear @p e's
 * text, require @p m (then zero it), cap @p len at PROTO_MAX_MSG, refuse a
 * NULL @p in with a length. @p codec names the input ("json", "msgpack")
 * and @p noun what it is ("body", "message"). 0 or the error code. */
int proto__decode_begin(proto__err_t *e, proto_msg_t *m, const void *in,
                        size_t len, const char *codec, const char *noun);

/* Copy at most 32 bytes of untrusted @p p into @p out as printable ASCII
 * (anything else becomes '?', '"' and '\\' are escaped), so that error
 * texts are always valid UTF-8 and short. @p out needs 68 bytes. */
void proto__quote(char *out, const char *p, size_t len);

/* ---- field tables ---- */

typedef enum proto__kind {
  PROTO__F_STR,     /* char *; omitted when NULL */
  PROTO__F_BOOL,    /* bool */
  PROTO__F_U32,     /* uint32_t */
  PROTO__F_U64,     /* uint64_t, 0..INT64_MAX (see codec.c) */
  PROTO__F_I64,     /* int64_t */
  PROTO__F_DOUBLE,  /* double, finite */
  PROTO__F_STATE,   /* proto_state_t, carried as its name */
  PROTO__F_STRLIST, /* proto_string_list_t */
  PROTO__F_JSON,    /* json_t *, any JSON value; omitted when NULL */
  PROTO__F_TS,      /* int64_t unix ms; JSON: ISO-8601 UTC string */
  PROTO__F_MAP,     /* nested map described by .sub; omitted when empty */
} proto__kind_t;

#define PROTO__REQUIRED 1u /* must be present (and non-NULL) */
#define PROTO__OBJECT 2u   /* F_JSON: must be an object */

typedef struct proto__table proto__table_t;

typedef struct proto__field {
  const char *name;          /* wire name */
  size_t namelen;            /* strlen(name): keys are matched by length */
  proto__kind_t kind;
  unsigned flags;            /* PROTO__REQUIRED, PROTO__OBJECT */
  size_t offset;             /* in the message struct (F_MAP: its base) */
  size_t cap;                /* F_STR: longest accepted string in bytes */
  const proto__table_t *sub; /* F_MAP: the nested map's fields */
} proto__field_t;

struct proto__table {
  const proto__field_t *fields;
  size_t n;
  /* Rules across fields, run after the per-field checks; NULL if none. */
  int (*check)(const void *st, proto__err_t *e);
};

/* The table of a message type, or NULL for an unknown type. */
const proto__table_t *proto__table(proto_type_t t);

/* ---- generic walker (codec.c) ---- */

/* Free what the fields of @p t at @p base own (no zeroing). */
void proto__fields_free(const proto__table_t *t, char *base);

/* A string field's checks: at most @p cap bytes, no NUL byte, UTF-8. */
int proto__check_str(const char *p, size_t len, size_t cap,
                     const proto__path_t *path, proto__err_t *e);
/* A double field's check: finite (JSON has no NaN or infinity). */
static inline int proto__check_double(double d, const proto__path_t *path,
                                      proto__err_t *e)
{
  if (!isfinite(d))
    return proto__failp(e, PROTO_EVALUE, path, "not a finite number");
  return 0;
}

/* An F_TS field's check: 1970..9999 in unix ms (PROTO__TS_MAX). */
static inline int proto__check_ts(int64_t ms, const proto__path_t *path,
                                  proto__err_t *e)
{
  if (ms < 0 || ms > PROTO__TS_MAX)
    return proto__failp(e, PROTO_EVALUE, path,
                        "timestamp %" PRId64 " ms is outside 1970..9999", ms);
  return 0;
}

/* A JSON member's checks: nesting of at most PROTO_MAX_DEPTH containers,
 * strings as for text fields, keys as for plain string fields. */
int proto__check_json(const json_t *v, const proto__path_t *path,
                      proto__err_t *e);
/* Wire names matched by length and bytes (@p p need not be NUL-terminated
 * and may hold NUL bytes, which match no name): the state named by @p p
 * or -1; the message type or PROTO_NONE. */
int proto__state_find(const char *p, size_t len);
proto_type_t proto__type_find(const char *p, size_t len);

/* Writer: the encoding back ends. Every call returns 0 or PROTO_ENOMEM. */
typedef struct proto__writer_ops {
  int (*map_begin)(void *w, size_t n);
  int (*map_end)(void *w);
  int (*array_begin)(void *w, size_t n);
  int (*array_end)(void *w);
  int (*key)(void *w, const char *k);
  int (*str)(void *w, const char *s, size_t len);
  int (*i64)(void *w, int64_t v);
  int (*u64)(void *w, uint64_t v);
  int (*dbl)(void *w, double v);
  int (*boolean)(void *w, bool v);
  int (*ts)(void *w, int64_t ms);
  int (*json)(void *w, const json_t *v);
} proto__writer_ops_t;

/* Check @p m and write its "d" map, field by field: each field is checked
 * before it is written, so nothing invalid reaches @p w. On failure (a
 * PROTO_E* code) @p w holds a partial map that the caller discards. */
int proto__encode(const proto_msg_t *m, const proto__writer_ops_t *ops,
                  void *w, proto__err_t *e);

/* Reader: a view of one wire value, filled by the decoding back ends for
 * the walker (codec_walk.h). */
typedef enum proto__vkind {
  PROTO__V_NIL,
  PROTO__V_BOOL,
  PROTO__V_INT,  /* as.i */
  PROTO__V_UINT, /* as.u (msgpack positive integers) */
  PROTO__V_DOUBLE,
  PROTO__V_STR,
  PROTO__V_ARRAY, /* as.n elements */
  PROTO__V_MAP,   /* as.n entries */
  PROTO__V_OTHER, /* msgpack bin/ext: never valid in a message */
} proto__vkind_t;

typedef struct proto__val {
  proto__vkind_t kind;
  const void *node; /* back end node (msgpack header byte, json_t *) */
  union {
    bool b;
    int64_t i;
    uint64_t u;
    double d;
    struct {
      const char *p;
      size_t len;
    } s;
    size_t n;
  } as;
} proto__val_t;

/* Map key lookup by length-delimited name: -1 when @p key names no field
 * of @p t. */
int proto__field_index(const proto__table_t *t, const char *key, size_t klen);

#endif /* PROTO_PROTO_INT_H */
