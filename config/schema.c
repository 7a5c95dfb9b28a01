/*
 * schema.c: the keys of ccm.yaml, one field table per section, and the
 * walk that applies a node tree to a cfg_t (design note: config_int.h).
 *
 * A field is {key, parser, offset of its member in the section's struct,
 * bounds, aux, flags}. Parsers check one value and write one member, or
 * report an error and leave the member as it was; the walk goes on
 * either way. Every message starts with the key path of the value
 * ("agents.budget.max_turns: ...") and is placed at the value's line and
 * column (at the key's for unknown keys).
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_int.h"

typedef struct walk {
  cfg_errors_t *errs;
  cfg_t *cfg;
  char path[512];
  size_t plen;
  unsigned long visits;
  bool stop;
} walk_t;

typedef struct field field_t;
typedef void (*parse_fn)(walk_t *w, const cfg_node_t *n, void *slot,
                         const field_t *f);
typedef const char *(*check_fn)(const char *s);

enum {
  F_NULL_OK = 1u << 0,  /* null sets NULL / keeps an empty list */
  F_EMPTY_OK = 1u << 1, /* "" is a value */
  F_UNIQUE = 1u << 2,   /* list items may not repeat */
  F_OFF_OK = 1u << 3,   /* duration: "off" means 0 */
  F_NONEMPTY = 1u << 4, /* list: at least one item */
};

struct field {
  const char *key;
  parse_fn parse;
  size_t off;
  double lo, hi;   /* numbers, durations (ms), sizes (bytes), list length */
  const void *aux; /* a section_t for maps, names for enums */
  check_fn check;  /* strings, list items, map keys: why not, or NULL */
  unsigned flags;
};

typedef struct section {
  const field_t *fields;
  size_t n;
} section_t;

/* ---- messages and paths ---- */

static void fail(walk_t *w, const cfg_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(walk_t *w, const cfg_node_t *n, const char *fmt, ...)
{
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (w->plen)
    cfg__error_add(w->errs, n->line, n->column, "%s: %s", w->path, msg);
  else
    cfg__error_add(w->errs, n->line, n->column, "%s", msg);
}

static size_t path_key(walk_t *w, const char *key)
{
  size_t mark = w->plen;
  int k = snprintf(w->path + w->plen, sizeof w->path - w->plen, "%s%.64s",
                   w->plen ? "." : "", key);
  if (k > 0)
    w->plen += (size_t)k < sizeof w->path - w->plen
                   ? (size_t)k
                   : sizeof w->path - w->plen - 1;
  return mark;
}

static size_t path_index(walk_t *w, size_t i)
{
  size_t mark = w->plen;
  int k = snprintf(w->path + w->plen, sizeof w->path - w->plen, "[%zu]", i);
  if (k > 0)
    w->plen += (size_t)k < sizeof w->path - w->plen
                   ? (size_t)k
                   : sizeof w->path - w->plen - 1;
  return mark;
}

static void path_pop(walk_t *w, size_t mark)
{
  w->plen = mark;
  w->path[mark] = '\0';
}

/* Count one node visit; false (once reported) past CFG_VISITS_MAX. */
static bool visit(walk_t *w, const cfg_node_t *n)
{
  if (w->stop)
    return false;
  if (++w->visits <= CFG_VISITS_MAX)
    return true;
  char msg[128];
  snprintf(msg, sizeof msg, "more than %u values to check (aliases repeat "
                            "too much); checking stopped here",
           CFG_VISITS_MAX);
  cfg__error_fatal(w->errs, n->line, n->column, msg);
  w->stop = true;
  return false;
}

static void fmt_ms(uint64_t ms, char *buf, size_t cap)
{
  static const struct {
    uint64_t ms;
    const char *unit;
  } u[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
  for (size_t i = 0; i < sizeof u / sizeof *u; i++)
    if (ms && ms % u[i].ms == 0) {
      snprintf(buf, cap, "%llu%s", (unsigned long long)(ms / u[i].ms),
               u[i].unit);
      return;
    }
  snprintf(buf, cap, "%llums", (unsigned long long)ms);
}

static void fmt_bytes(uint64_t b, char *buf, size_t cap)
{
  if (b && b % (1u << 30) == 0)
    snprintf(buf, cap, "%lluGiB", (unsigned long long)(b >> 30));
  else if (b && b % (1u << 20) == 0)
    snprintf(buf, cap, "%lluMiB", (unsigned long long)(b >> 20));
  else if (b && b % 1024 == 0)
    snprintf(buf, cap, "%lluKiB", (unsigned long long)(b >> 10));
  else
    snprintf(buf, cap, "%llu", (unsigned long long)b);
}

/* ---- scalars ---- */

static bool is_bool_text(const char *s, bool *v)
{
  static const char *const t[] = {"true", "True", "TRUE"};
  static const char *const f[] = {"false", "False", "FALSE"};
  for (size_t i = 0; i < 3; i++) {
    if (!strcmp(s, t[i]) || !strcmp(s, f[i])) {
      *v = !strcmp(s, t[i]);
      return true;
    }
  }
  return false;
}

/* Why a string value is unusable (control characters, NUL, length), or
 * NULL. Newlines and tabs are fine (prompt templates). */
static const char *string_problem(const cfg_node_t *n)
{
  if (n->len > CFG_STRING_MAX)
    return "a value is at most 65536 bytes";
  for (size_t i = 0; i < n->len; i++) {
    unsigned char ch = (unsigned char)n->text[i];
    if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7F)
      return "a value cannot hold control characters";
  }
  if (cfg__looks_like_token(n->text))
    return "this looks like a secret value: secrets never go in the "
           "config file; put it in an environment variable and name the "
           "variable in a *_env key";
  return NULL;
}

/* The text of a string value, or NULL after reporting why there is none
 * (*is_null set for an accepted null). */
static const char *take_string(walk_t *w, const cfg_node_t *n,
                               unsigned flags, bool *is_null)
{
  bool b;
  *is_null = false;
  if (cfg__is_null(n) && (flags & F_NULL_OK)) {
    *is_null = true;
    return NULL;
  }
  if (n->kind != CFG_NODE_SCALAR || cfg__is_null(n) ||
      (n->plain && is_bool_text(n->text, &b))) {
    fail(w, n, "want a string, got %s", cfg__node_what(n));
    return NULL;
  }
  const char *problem = string_problem(n);
  if (!problem && n->len == 0 && !(flags & F_EMPTY_OK))
    problem = "cannot be empty";
  if (problem) {
    fail(w, n, "%s", problem);
    return NULL;
  }
  return n->text;
}

static void set_string(char **slot, const char *s)
{
  free(*slot);
  *slot = s ? cfg__xstrdup(s) : NULL;
}

static void p_string(walk_t *w, const cfg_node_t *n, void *slot,
                     const field_t *f)
{
  bool is_null;
  const char *s = take_string(w, n, f->flags, &is_null);
  if (!s && !is_null)
    return;
  check_fn check = f->check;
  const char *problem = s && check ? check(s) : NULL;
  if (problem) {
    fail(w, n, "%s", problem);
    return;
  }
  set_string(slot, s);
}

static const char *check_env(const char *s) { return cfg__env_name_problem(s); }
static const char *check_url(const char *s) { return cfg__url_problem(s); }

static const char *check_github(const char *s)
{
  return cfg__github_name_problem(s);
}

static const char *check_marker(const char *s)
{
  size_t n = strlen(s);
  if (n > 32)
    return "a marker is at most 32 characters";
  for (size_t i = 0; i < n; i++)
    if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') ||
          (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
      return "a marker is letters, digits and '_'";
  return NULL;
}

/* Task kinds and preset names: lower-case words with '-', '_', '.'. */
static const char *check_word(const char *s)
{
  size_t n = strlen(s);
  if (n > 64)
    return "a name is at most 64 characters";
  for (size_t i = 0; i < n; i++)
    if (!(s[i] == '-' || s[i] == '_' || s[i] == '.' ||
          (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
      return "a name is lower-case letters, digits, '-', '_' and '.'";
  return NULL;
}

static const char *check_kind_or_any(const char *s)
{
  return strcmp(s, "*") ? check_word(s) : NULL;
}

/* A number written plain into *v, or false after reporting why not. */
static bool take_number(walk_t *w, const cfg_node_t *n, double *v)
{
  char ex[64];
  cfg__excerpt(n, ex, sizeof ex);
  if (n->kind == CFG_NODE_SCALAR && !n->plain) {
    fail(w, n, "want a number, got a quoted string (\"%s\"): write it "
               "without quotes", ex);
    return false;
  }
  if (n->kind != CFG_NODE_SCALAR || cfg__is_null(n)) {
    fail(w, n, "want a number, got %s", cfg__node_what(n));
    return false;
  }
  if (cfg__parse_double(n->text, v)) {
    fail(w, n, "want a number, got %s '%s'", cfg__node_what(n), ex);
    return false;
  }
  return true;
}

/* A number within [f->lo, f->hi] (and whole when @p whole) into *d, or
 * false after reporting why not. */
static bool number_in_range(walk_t *w, const cfg_node_t *n, const field_t *f,
                            bool whole, double *d)
{
  if (!take_number(w, n, d))
    return false;
  /* floor(), not a cast to an integer: that is undefined out of range. */
  if (whole && *d != floor(*d))
    fail(w, n, "want a whole number, got %g", *d);
  else if (*d < 0 && f->lo >= 0)
    fail(w, n, "must not be negative (got %g)", *d);
  else if (*d < f->lo || *d > f->hi)
    fail(w, n, "must be between %g and %g (got %g)", f->lo, f->hi, *d);
  else
    return true;
  return false;
}

static void p_uint32(walk_t *w, const cfg_node_t *n, void *slot,
                     const field_t *f)
{
  double d;
  if (number_in_range(w, n, f, true, &d))
    *(uint32_t *)slot = (uint32_t)d;
}

static void p_double(walk_t *w, const cfg_node_t *n, void *slot,
                     const field_t *f)
{
  double d;
  if (number_in_range(w, n, f, false, &d))
    *(double *)slot = d;
}

static void p_bool(walk_t *w, const cfg_node_t *n, void *slot,
                   const field_t *f)
{
  bool v;
  if (n->kind == CFG_NODE_SCALAR && n->plain && is_bool_text(n->text, &v)) {
    *(bool *)slot = v;
    return;
  }
  char ex[64];
  cfg__excerpt(n, ex, sizeof ex);
  if (n->kind == CFG_NODE_SCALAR && !cfg__is_null(n))
    fail(w, n, "want true or false, got %s '%s'", cfg__node_what(n), ex);
  else
    fail(w, n, "want true or false, got %s", cfg__node_what(n));
}

static void p_duration(walk_t *w, const cfg_node_t *n, void *slot,
                       const field_t *f)
{
  bool is_null;
  int64_t iv;
  const char *s = take_string(w, n, 0, &is_null);
  if (!s)
    return;
  char ex[64], lo[32], hi[32];
  cfg__excerpt(n, ex, sizeof ex);
  uint64_t ms;
  if ((f->flags & F_OFF_OK) && !strcmp(s, "off")) {
    *(uint64_t *)slot = 0;
    return;
  }
  if (n->plain && cfg__parse_int(s, &iv) == 0) {
    fail(w, n, "a duration needs a unit (ms, s, m, h, d): '%s' is "
               "ambiguous; write e.g. %ss", ex, ex);
    return;
  }
  if (cfg__parse_duration(s, &ms)) {
    fail(w, n, "bad duration '%s': want a number and a unit (ms, s, m, h, "
               "d), e.g. 30s, 10m, 1h30m%s", ex,
         (f->flags & F_OFF_OK) ? ", or off" : "");
    return;
  }
  if ((double)ms < f->lo || (double)ms > f->hi) {
    fmt_ms((uint64_t)f->lo, lo, sizeof lo);
    fmt_ms((uint64_t)f->hi, hi, sizeof hi);
    fail(w, n, "must be between %s and %s (got %s)", lo, hi, ex);
    return;
  }
  *(uint64_t *)slot = ms;
}

static void p_size(walk_t *w, const cfg_node_t *n, void *slot,
                   const field_t *f)
{
  bool is_null;
  const char *s = take_string(w, n, 0, &is_null);
  if (!s)
    return;
  char ex[64], lo[32], hi[32];
  cfg__excerpt(n, ex, sizeof ex);
  uint64_t b;
  if (s[0] == '-') {
    fail(w, n, "must not be negative (got %s)", ex);
    return;
  }
  if (cfg__parse_size(s, &b)) {
    fail(w, n, "bad size '%s': want a number of bytes with an optional "
               "unit (B, KiB, MiB, GiB, kB, MB, GB), e.g. 1MiB", ex);
    return;
  }
  if ((double)b < f->lo || (double)b > f->hi) {
    fmt_bytes((uint64_t)f->lo, lo, sizeof lo);
    fmt_bytes((uint64_t)f->hi, hi, sizeof hi);
    fail(w, n, "must be between %s and %s (got %s)", lo, hi, ex);
    return;
  }
  *(uint64_t *)slot = b;
}

/* Look @p s up in @p names (NULL-terminated); -1 when absent. */
static int name_index(const char *s, const char *const *names)
{
  for (int i = 0; names[i]; i++)
    if (!strcmp(s, names[i]))
      return i;
  return -1;
}

static void join_names(const char *const *names, char *buf, size_t cap)
{
  size_t o = 0;
  buf[0] = '\0';
  for (size_t i = 0; names[i] && o < cap; i++) {
    int k = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", names[i]);
    if (k < 0)
      break;
    o += (size_t)k;
  }
}

/* The enums p_enum writes through an int pointer. */
_Static_assert(sizeof(cfg_auth_scheme_t) == sizeof(int) &&
                   sizeof(cfg_metric_t) == sizeof(int) &&
                   sizeof(cfg_op_t) == sizeof(int),
               "config enums are int-sized");

/* A scalar from a closed set; writes its index as an int-sized enum. */
static void p_enum(walk_t *w, const cfg_node_t *n, void *slot,
                   const field_t *f)
{
  const char *const *names = f->aux;
  bool is_null;
  const char *s = take_string(w, n, 0, &is_null);
  if (!s)
    return;
  int i = name_index(s, names);
  if (i >= 0) {
    *(int *)slot = i;
    return;
  }
  char ex[64], known[256];
  cfg__excerpt(n, ex, sizeof ex);
  join_names(names, known, sizeof known);
  fail(w, n, "unknown value '%s' (one of: %s)", ex, known);
}

static void p_listen(walk_t *w, const cfg_node_t *n, void *slot,
                     const field_t *f)
{
  cfg_listen_t *l = slot;
  bool is_null;
  const char *s = take_string(w, n, 0, &is_null);
  if (!s)
    return;
  char *host = NULL;
  uint16_t port = 0;
  if (cfg__parse_listen(s, &host, &port)) {
    char ex[64];
    cfg__excerpt(n, ex, sizeof ex);
    fail(w, n, "bad listen address '%s': want ADDR:PORT with an IP "
               "address, e.g. 127.0.0.1:8080 or [::1]:8080", ex);
    return;
  }
  set_string(&l->text, s);
  free(l->host);
  l->host = host;
  l->port = port;
}

/* ---- lists and maps ---- */

static bool want_kind(walk_t *w, const cfg_node_t *n, cfg_node_kind_t kind)
{
  if (n->kind == kind)
    return true;
  fail(w, n, "want %s, got %s", kind == CFG_NODE_SEQ ? "a list" : "a map",
       cfg__node_what(n));
  return false;
}

static bool repeats_earlier(const cfg_strv_t *v, const char *s)
{
  for (size_t i = 0; i < v->n; i++)
    if (!strcmp(v->v[i], s))
      return true;
  return false;
}

static void strv_item(walk_t *w, const cfg_node_t *it, cfg_strv_t *v,
                      const field_t *f)
{
  bool is_null;
  const char *s = take_string(w, it, 0, &is_null);
  if (!s)
    return;
  check_fn check = f->check;
  const char *problem = check ? check(s) : NULL;
  if (problem) {
    fail(w, it, "%s", problem);
    return;
  }
  if ((f->flags & F_UNIQUE) && repeats_earlier(v, s)) {
    char ex[64];
    cfg__excerpt(it, ex, sizeof ex);
    fail(w, it, "'%s' is listed twice", ex);
    return;
  }
  cfg__strv_push(v, s);
}

static void p_strv(walk_t *w, const cfg_node_t *n, void *slot,
                   const field_t *f)
{
  cfg_strv_t *v = slot;
  if ((f->flags & F_NULL_OK) && cfg__is_null(n)) {
    cfg__strv_fini(v);
    return;
  }
  if (!want_kind(w, n, CFG_NODE_SEQ))
    return;
  if ((f->flags & F_NONEMPTY) && n->n == 0) {
    fail(w, n, "the list cannot be empty");
    return;
  }
  if ((double)n->n > f->hi) {
    fail(w, n, "at most %.0f items (got %zu)", f->hi, n->n);
    return;
  }
  cfg__strv_fini(v);
  for (size_t i = 0; i < n->n && visit(w, n->items[i]); i++) {
    size_t mark = path_index(w, i);
    strv_item(w, n->items[i], v, f);
    path_pop(w, mark);
  }
}

/* The key text of a pair, or NULL for keys the tree already reported. */
static const char *key_text(const cfg_node_t *k)
{
  if (k->kind != CFG_NODE_SCALAR || k->bad_key)
    return NULL;
  return k->text;
}

static void p_kvv(walk_t *w, const cfg_node_t *n, void *slot,
                  const field_t *f)
{
  cfg_kvv_t *v = slot;
  if (cfg__is_null(n)) {
    cfg__kvv_fini(v);
    return;
  }
  if (!want_kind(w, n, CFG_NODE_MAP))
    return;
  cfg__kvv_fini(v);
  v->v = cfg__xcalloc(n->n / 2 + 1, sizeof(*v->v));
  check_fn check = f->check;
  for (size_t i = 0; i + 1 < n->n && visit(w, n->items[i]); i += 2) {
    const cfg_node_t *k = n->items[i], *val = n->items[i + 1];
    const char *key = key_text(k);
    if (!key)
      continue;
    size_t mark = path_key(w, key);
    const char *problem = check ? check(key) : NULL;
    bool is_null;
    const char *s = NULL;
    if (problem)
      fail(w, k, "%s", problem);
    else if (check == check_env && cfg__name_is_secret(key))
      fail(w, k, "looks like a secret: secrets never go in the config "
                 "file; list the variable in pass_env and set it in ccm's "
                 "environment");
    else
      s = take_string(w, val, f->flags, &is_null);
    if (s)
      v->v[v->n++] = (cfg_kv_t){cfg__xstrdup(key), cfg__xstrdup(s)};
    path_pop(w, mark);
  }
}

static const field_t *field_find(const section_t *sec, const char *key)
{
  for (size_t i = 0; i < sec->n; i++)
    if (!strcmp(sec->fields[i].key, key))
      return &sec->fields[i];
  return NULL;
}

static void unknown_secret_key(walk_t *w, const cfg_node_t *k,
                               const section_t *sec, const char *ex)
{
  char env_key[80];
  snprintf(env_key, sizeof env_key, "%s_env", k->text);
  if (field_find(sec, env_key))
    fail(w, k, "'%s' looks like a secret: secrets never go in the config "
               "file; put the value in an environment variable and write "
               "its name as %s", ex, env_key);
  else
    fail(w, k, "'%s' looks like a secret: secrets never go in the config "
               "file; put the value in an environment variable and name "
               "it in a *_env key", ex);
}

static void unknown_key(walk_t *w, const cfg_node_t *k, const section_t *sec)
{
  char ex[64];
  cfg__excerpt(k, ex, sizeof ex);
  if (!strcmp(k->text, "<<")) {
    fail(w, k, "merge keys (<<) are not supported: write the keys out");
    return;
  }
  if (cfg__name_is_secret(k->text)) {
    unknown_secret_key(w, k, sec, ex);
    return;
  }
  const char *best = NULL;
  unsigned best_d = 3;
  for (size_t i = 0; i < sec->n; i++) {
    unsigned d = cfg__edit_distance(k->text, sec->fields[i].key);
    if (d < best_d && d < strlen(sec->fields[i].key)) {
      best_d = d;
      best = sec->fields[i].key;
    }
  }
  if (best) {
    fail(w, k, "unknown key '%s' (did you mean '%s'?)", ex, best);
    return;
  }
  char known[300];
  size_t o = 0;
  known[0] = '\0';
  for (size_t i = 0; i < sec->n && o + 1 < sizeof known; i++) {
    int c = snprintf(known + o, sizeof known - o, "%s%s", i ? ", " : "",
                     sec->fields[i].key);
    if (c > 0)
      o += (size_t)c;
  }
  fail(w, k, "unknown key '%s' (known here: %s)", ex, known);
}

/* Apply map @p n to the struct at @p base through @p sec. */
static void walk_map(walk_t *w, const cfg_node_t *n, const section_t *sec,
                     void *base)
{
  for (size_t i = 0; i + 1 < n->n && visit(w, n->items[i]); i += 2) {
    const cfg_node_t *k = n->items[i];
    const char *key = key_text(k);
    if (!key)
      continue;
    const field_t *f = field_find(sec, key);
    if (!f) {
      unknown_key(w, k, sec);
      continue;
    }
    size_t mark = path_key(w, key);
    f->parse(w, n->items[i + 1], (char *)base + f->off, f);
    path_pop(w, mark);
  }
}

static void p_section(walk_t *w, const cfg_node_t *n, void *slot,
                      const field_t *f)
{
  if (cfg__is_null(n))
    return; /* "scan:" with nothing under it: the defaults */
  if (want_kind(w, n, CFG_NODE_MAP))
    walk_map(w, n, f->aux, slot);
}

/* Report each key of @p keys that map @p n lacks. */
static void require_keys(walk_t *w, const cfg_node_t *n,
                         const char *const *keys)
{
  for (; *keys; keys++)
    if (!cfg__map_get(n, *keys))
      fail(w, n, "missing key '%s'", *keys);
}

#define FIELD(T, key, fn, member, lo, hi, aux, flags)                       \
  {key, fn, offsetof(T, member), lo, hi, aux, NULL, flags}
#define FIELDC(T, key, fn, member, lo, hi, check, flags)                    \
  {key, fn, offsetof(T, member), lo, hi, NULL, check, flags}
#define SECTION(table) {table, sizeof table / sizeof *table}

#define MS_SECOND 1000.0
#define MS_DAY 86400000.0

/* Fills one element of a list of maps; @p index is its position. */
typedef void (*item_fn)(walk_t *w, const cfg_node_t *it, void *elem,
                        size_t index);

/* Replace the array *@p arr of *@p count elements of @p size with one
 * element per item of list @p n (zeroed, then filled by @p item). The
 * count grows after each item, so an item sees only those before it. */
static void replace_list(walk_t *w, const cfg_node_t *n, void **arr,
                         size_t *count, size_t size, void (*fini)(void *),
                         item_fn item)
{
  for (size_t i = 0; i < *count; i++)
    fini((char *)*arr + i * size);
  free(*arr);
  *arr = cfg__xcalloc(n->n, size);
  *count = 0;
  for (size_t i = 0; i < n->n && visit(w, n->items[i]); i++) {
    size_t mark = path_index(w, i);
    item(w, n->items[i], (char *)*arr + i * size, i);
    (*count)++;
    path_pop(w, mark);
  }
}

/* ---- repos ---- */

/* repos[i].priority, defined with the priority section below. */
static void p_repo_priority(walk_t *w, const cfg_node_t *n, void *slot,
                            const field_t *f);

static const field_t repo_fields[] = {
    FIELD(cfg_repo_t, "path", p_string, path, 0, 0, NULL, 0),
    FIELDC(cfg_repo_t, "github", p_string, github, 0, 0, check_github, 0),
    FIELD(cfg_repo_t, "scan_interval", p_duration, scan_interval_ms,
          MS_SECOND, 30 * MS_DAY, NULL, F_OFF_OK),
    FIELD(cfg_repo_t, "base", p_string, base, 0, 0, NULL, 0),
    FIELD(cfg_repo_t, "test_command", p_strv, test_command, 0, 256, NULL,
          F_NULL_OK),
    FIELD(cfg_repo_t, "publish", p_bool, publish, 0, 0, NULL, 0),
    FIELD(cfg_repo_t, "remote", p_string, remote, 0, 0, NULL, 0),
    FIELD(cfg_repo_t, "draft", p_bool, draft, 0, 0, NULL, 0),
    FIELD(cfg_repo_t, "propose_issues", p_bool, propose_issues, 0, 0, NULL,
          0),
    FIELD(cfg_repo_t, "propose_kinds", p_strv, propose_kinds, 0, 64, NULL,
          F_UNIQUE),
    FIELD(cfg_repo_t, "close_resolved_issues", p_bool, close_resolved_issues,
          0, 0, NULL, 0),
    FIELD(cfg_repo_t, "priority", p_repo_priority, priority, 0, 0, NULL, 0),
};
static const section_t repo_section = SECTION(repo_fields);

static void repo_split_github(cfg_repo_t *r)
{
  if (!r->github)
    return;
  const char *slash = strchr(r->github, '/');
  r->github_owner = cfg__xstrndup(r->github, (size_t)(slash - r->github));
  r->github_name = cfg__xstrdup(slash + 1);
}

/* Which earlier repository @p r repeats (same path or same GitHub name,
 * in any case), or -1. */
static long repo_repeats(const cfg_t *c, const cfg_repo_t *r, bool *by_path)
{
  for (size_t i = 0; i < c->nrepos; i++) {
    const cfg_repo_t *o = &c->repos[i];
    *by_path = r->path && o->path && !strcmp(r->path, o->path);
    if (*by_path ||
        (r->github && o->github && !strcasecmp(r->github, o->github)))
      return (long)i;
  }
  return -1;
}

static void repo_fini_any(void *r) { cfg__repo_fini(r); }

static void repo_item(walk_t *w, const cfg_node_t *it, void *elem,
                      size_t index)
{
  cfg_repo_t *r = elem;
  r->scan_interval_ms = 10 * 60 * 1000;
  r->close_resolved_issues = true;
  if (!want_kind(w, it, CFG_NODE_MAP))
    return;
  walk_map(w, it, &repo_section, r);
  repo_split_github(r);
  if (!r->path && !r->github && !cfg__map_get(it, "path") &&
      !cfg__map_get(it, "github"))
    fail(w, it, "a repository needs a path, a github: owner/name, or both");
  bool by_path;
  long dup = repo_repeats(w->cfg, r, &by_path);
  if (dup >= 0)
    fail(w, it, "the same %s as repos[%ld]", by_path ? "path" : "github",
         dup);
}

static void p_repos(walk_t *w, const cfg_node_t *n, void *slot,
                    const field_t *f)
{
  cfg_t *c = w->cfg;
  if (!want_kind(w, n, CFG_NODE_SEQ))
    return;
  if (n->n == 0) {
    fail(w, n, "list at least one repository");
    return;
  }
  replace_list(w, n, (void **)&c->repos, &c->nrepos, sizeof(*c->repos),
               repo_fini_any, repo_item);
}

/* ---- github ---- */

static const char *const auth_schemes[] = {"token", "bearer", NULL};

static const field_t github_fields[] = {
    FIELDC(cfg_github_t, "api_url", p_string, api_url, 0, 0, check_url, 0),
    FIELDC(cfg_github_t, "token_env", p_string, token_env, 0, 0, check_env,
          F_NULL_OK),
    FIELDC(cfg_github_t, "webhook_secret_env", p_string, webhook_secret_env,
          0, 0, check_env, F_NULL_OK),
    FIELD(cfg_github_t, "stale_days", p_uint32, stale_days, 1, 3650, NULL,
          0),
    FIELD(cfg_github_t, "accept", p_string, accept, 0, 0, NULL, 0),
    FIELD(cfg_github_t, "auth_scheme", p_enum, auth_scheme, 0, 0,
          auth_schemes, 0),
    FIELD(cfg_github_t, "user_agent", p_string, user_agent, 0, 0, NULL, 0),
    FIELD(cfg_github_t, "api_version", p_string, api_version, 0, 0, NULL,
          F_EMPTY_OK),
    FIELD(cfg_github_t, "approve_labels", p_strv, approve_labels, 0, 16, NULL,
          F_UNIQUE | F_NONEMPTY),
    FIELD(cfg_github_t, "proposal_label", p_string, proposal_label, 0, 0,
          NULL, 0),
    FIELD(cfg_github_t, "budget", p_uint32, budget, 1, 100000, NULL, 0),
    FIELD(cfg_github_t, "sync_interval", p_duration, sync_interval_ms,
          MS_SECOND, 30 * MS_DAY, NULL, F_OFF_OK),
    FIELD(cfg_github_t, "login", p_string, login, 0, 0, NULL, 0),
    FIELD(cfg_github_t, "stale_exempt_labels", p_strv, stale_exempt_labels, 0,
          64, NULL, F_UNIQUE),
};

/* ---- scan ---- */

static const field_t threshold_fields[] = {
    FIELD(cfg_thresholds_t, "max_function_lines", p_uint32,
          max_function_lines, 1, 1000000, NULL, 0),
    FIELD(cfg_thresholds_t, "max_nesting", p_uint32, max_nesting, 1, 1000,
          NULL, 0),
    FIELD(cfg_thresholds_t, "max_complexity", p_uint32, max_complexity, 1,
          100000, NULL, 0),
    FIELD(cfg_thresholds_t, "max_params", p_uint32, max_params, 1, 1000,
          NULL, 0),
    FIELD(cfg_thresholds_t, "max_file_lines", p_uint32, max_file_lines, 1,
          10000000, NULL, 0),
};
static const section_t threshold_section = SECTION(threshold_fields);

static const field_t scan_fields[] = {
    /* 64 tags and 32 bytes each: scan/markers.h SCAN_MARKER_TAGS_MAX and
     * SCAN_MARKER_TAG_MAX. */
    FIELDC(cfg_scan_t, "markers", p_strv, markers, 0, 64, check_marker,
          F_UNIQUE),
    FIELD(cfg_scan_t, "markers_any_case", p_bool, markers_any_case, 0, 0,
          NULL, 0),
    /* Files are read whole into memory: 1 GiB is the most worth it. */
    FIELD(cfg_scan_t, "max_file_size", p_size, max_file_size, 1,
          1024.0 * 1024 * 1024, NULL, 0),
    FIELD(cfg_scan_t, "exclude", p_strv, exclude, 0, 1024, NULL, F_UNIQUE),
    FIELD(cfg_scan_t, "use_git", p_bool, use_git, 0, 0, NULL, 0),
    FIELD(cfg_scan_t, "thresholds", p_section, thresholds, 0, 0,
          &threshold_section, 0),
    FIELD(cfg_scan_t, "refactor", p_bool, refactor, 0, 0, NULL, 0),
    FIELD(cfg_scan_t, "secrets", p_bool, secrets, 0, 0, NULL, 0),
    FIELD(cfg_scan_t, "secrets_allowlist", p_string, secrets_allowlist, 0,
          0, NULL, F_NULL_OK),
    /* a hung git (a lock, a credential prompt) fails the scan after it */
    FIELD(cfg_scan_t, "git_timeout", p_duration, git_timeout_ms, MS_SECOND,
          MS_DAY, NULL, 0),
};

/* ---- priority ---- */

static const field_t weight_fields[] = {
    FIELD(cfg_weights_t, "value", p_double, value, 0, 1000, NULL, 0),
    FIELD(cfg_weights_t, "time_criticality", p_double, time_criticality, 0,
          1000, NULL, 0),
    FIELD(cfg_weights_t, "risk_reduction", p_double, risk_reduction, 0, 1000,
          NULL, 0),
    FIELD(cfg_weights_t, "job_size", p_double, job_size, 0, 1000, NULL, 0),
};
static const section_t weight_section = SECTION(weight_fields);

/* Mappings: kinds set inputs (1-10), labels and paths add to them. */
static const field_t prio_base_fields[] = {
    FIELD(cfg_prio_map_t, "value", p_double, value, 1, 10, NULL, 0),
    FIELD(cfg_prio_map_t, "time_criticality", p_double, time_criticality, 1,
          10, NULL, 0),
    FIELD(cfg_prio_map_t, "risk_reduction", p_double, risk_reduction, 1, 10,
          NULL, 0),
    FIELD(cfg_prio_map_t, "job_size", p_double, job_size, 1, 10, NULL, 0),
};
static const section_t prio_base_section = SECTION(prio_base_fields);

static const field_t prio_adjust_fields[] = {
    FIELD(cfg_prio_map_t, "value", p_double, value, -9, 9, NULL, 0),
    FIELD(cfg_prio_map_t, "time_criticality", p_double, time_criticality, -9,
          9, NULL, 0),
    FIELD(cfg_prio_map_t, "risk_reduction", p_double, risk_reduction, -9, 9,
          NULL, 0),
    FIELD(cfg_prio_map_t, "job_size", p_double, job_size, -9, 9, NULL, 0),
};
static const section_t prio_adjust_section = SECTION(prio_adjust_fields);

static void prio_maps_fini(cfg_prio_maps_t *m)
{
  for (size_t i = 0; i < m->n; i++)
    free(m->v[i].key);
  free(m->v);
  m->v = NULL;
  m->n = 0;
}

void cfg__priority_fini(cfg_priority_t *p)
{
  if (!p)
    return;
  prio_maps_fini(&p->kinds);
  prio_maps_fini(&p->labels);
  prio_maps_fini(&p->paths);
}

/* Labels and path globs: any text up to 256 bytes. */
static const char *check_prio_key(const char *s)
{
  return strlen(s) > 256 ? "at most 256 characters" : NULL;
}

/* One entry "key: {value: ..., ...}" of a mapping table. */
static void prio_map_entry(walk_t *w, const cfg_node_t *k,
                           const cfg_node_t *val, const field_t *f,
                           cfg_prio_maps_t *m)
{
  const char *key = key_text(k);
  if (!key)
    return;
  size_t mark = path_key(w, key);
  check_fn check = f->check;
  const char *problem = !*key ? "cannot be empty" : check(key);
  if (problem) {
    fail(w, k, "%s", problem);
  } else if (want_kind(w, val, CFG_NODE_MAP)) {
    cfg_prio_map_t *e = &m->v[m->n++];
    *e = (cfg_prio_map_t){cfg__xstrdup(key), NAN, NAN, NAN, NAN};
    walk_map(w, val, f->aux, e);
  }
  path_pop(w, mark);
}

/* A map of key -> {value, time_criticality, risk_reduction, job_size}
 * (f->aux: which bounds; f->check: the keys); null empties it. */
static void p_prio_maps(walk_t *w, const cfg_node_t *n, void *slot,
                        const field_t *f)
{
  cfg_prio_maps_t *m = slot;
  bool is_map = !cfg__is_null(n) && want_kind(w, n, CFG_NODE_MAP);
  if (!is_map && !cfg__is_null(n))
    return;
  prio_maps_fini(m);
  if (!is_map)
    return;
  m->v = cfg__xcalloc(n->n / 2 + 1, sizeof(*m->v));
  for (size_t i = 0; i + 1 < n->n && visit(w, n->items[i]); i += 2)
    prio_map_entry(w, n->items[i], n->items[i + 1], f, m);
}

static const field_t priority_fields[] = {
    FIELD(cfg_priority_t, "weights", p_section, weights, 0, 0,
          &weight_section, 0),
    FIELD(cfg_priority_t, "churn_window", p_duration, churn_window_ms, 0,
          3650 * MS_DAY, NULL, F_OFF_OK),
    {"kinds", p_prio_maps, offsetof(cfg_priority_t, kinds), 0, 0,
     &prio_base_section, check_word, 0},
    {"labels", p_prio_maps, offsetof(cfg_priority_t, labels), 0, 0,
     &prio_adjust_section, check_prio_key, 0},
    {"paths", p_prio_maps, offsetof(cfg_priority_t, paths), 0, 0,
     &prio_adjust_section, check_prio_key, 0},
};
static const section_t priority_fields_section = SECTION(priority_fields);

/* repos[i].priority: weights and the window "not given" until set. */
static void p_repo_priority(walk_t *w, const cfg_node_t *n, void *slot,
                            const field_t *f)
{
  cfg_priority_t **pp = slot;
  if (cfg__is_null(n) || !want_kind(w, n, CFG_NODE_MAP))
    return;
  if (!*pp) {
    *pp = cfg__xcalloc(1, sizeof(**pp));
    (*pp)->weights = (cfg_weights_t){NAN, NAN, NAN, NAN};
    (*pp)->churn_window_ms = UINT64_MAX;
  }
  walk_map(w, n, &priority_fields_section, *pp);
}

/* ---- agents ---- */

static const field_t budget_fields[] = {
    FIELD(cfg_budget_t, "max_turns", p_uint32, max_turns, 1, 10000, NULL, 0),
    FIELD(cfg_budget_t, "max_usd_per_task", p_double, max_usd_per_task, 0,
          10000, NULL, 0),
    FIELD(cfg_budget_t, "max_tasks_per_day", p_uint32, max_tasks_per_day, 0,
          100000, NULL, 0),
    FIELD(cfg_budget_t, "max_usd_per_day", p_double, max_usd_per_day, 0,
          1000000, NULL, 0),
};
static const section_t budget_section = SECTION(budget_fields);

static const field_t preset_fields[] = {
    FIELD(cfg_preset_t, "command", p_strv, command, 0, 256, NULL,
          F_NONEMPTY),
    FIELDC(cfg_preset_t, "env", p_kvv, env, 0, 0, check_env, F_EMPTY_OK),
    FIELDC(cfg_preset_t, "pass_env", p_strv, pass_env, 0, 256, check_env,
          F_UNIQUE | F_NULL_OK),
    FIELD(cfg_preset_t, "model", p_string, model, 0, 0, NULL, F_NULL_OK),
    FIELD(cfg_preset_t, "permission_mode", p_string, permission_mode, 0, 0,
          NULL, F_NULL_OK),
    FIELD(cfg_preset_t, "append_system_prompt", p_string,
          append_system_prompt, 0, 0, NULL, F_NULL_OK),
    FIELD(cfg_preset_t, "allowed_tools", p_strv, allowed_tools, 0, 256, NULL,
          F_UNIQUE | F_NULL_OK),
    FIELD(cfg_preset_t, "disallowed_tools", p_strv, disallowed_tools, 0, 256,
          NULL, F_UNIQUE | F_NULL_OK),
    FIELD(cfg_preset_t, "mention", p_string, mention, 0, 0, NULL, 0),
};
static const section_t preset_section = SECTION(preset_fields);

static cfg_preset_t *preset_find_or_add(cfg_agents_t *a, const char *name)
{
  for (size_t i = 0; i < a->npresets; i++)
    if (!strcmp(a->presets[i].name, name))
      return &a->presets[i];
  a->presets = cfg__xrealloc(a->presets,
                             (a->npresets + 1) * sizeof(*a->presets));
  cfg_preset_t *p = &a->presets[a->npresets++];
  memset(p, 0, sizeof(*p));
  p->name = cfg__xstrdup(name);
  return p;
}

static void preset_item(walk_t *w, const cfg_node_t *k, const cfg_node_t *v,
                        cfg_agents_t *a)
{
  const char *problem = check_word(k->text);
  if (problem || k->len == 0) {
    fail(w, k, "bad preset name: %s", problem ? problem : "empty");
    return;
  }
  if (!want_kind(w, v, CFG_NODE_MAP))
    return;
  /* A preset named like a built-in one starts from it: the file may
   * change one key (pass_env, model) and keep the command. */
  cfg_preset_t *p = preset_find_or_add(a, k->text);
  walk_map(w, v, &preset_section, p);
  if (p->command.n == 0 && !cfg__map_get(v, "command") && !p->mention)
    fail(w, v, "missing key 'command' (the program and its arguments, "
               "as a list)");
}

static void p_presets(walk_t *w, const cfg_node_t *n, void *slot,
                      const field_t *f)
{
  cfg_agents_t *a = &w->cfg->agents;
  if (cfg__is_null(n) || !want_kind(w, n, CFG_NODE_MAP))
    return;
  for (size_t i = 0; i + 1 < n->n && visit(w, n->items[i]); i += 2) {
    const char *key = key_text(n->items[i]);
    if (!key)
      continue;
    size_t mark = path_key(w, key);
    preset_item(w, n->items[i], n->items[i + 1], a);
    path_pop(w, mark);
  }
}

static const field_t agents_fields[] = {
    FIELDC(cfg_agents_t, "default", p_string, default_preset, 0, 0,
          check_word, 0),
    FIELD(cfg_agents_t, "concurrency", p_uint32, concurrency, 1, 64, NULL,
          0),
    FIELD(cfg_agents_t, "dry_run", p_bool, dry_run, 0, 0, NULL, 0),
    FIELDC(cfg_agents_t, "auto_approve", p_strv, auto_approve, 0, 64,
          check_word, F_UNIQUE | F_NULL_OK),
    FIELD(cfg_agents_t, "timeout", p_duration, timeout_ms, MS_SECOND,
          7 * MS_DAY, NULL, 0),
    FIELD(cfg_agents_t, "idle_timeout", p_duration, idle_timeout_ms,
          MS_SECOND, MS_DAY, NULL, 0),
    FIELD(cfg_agents_t, "budget", p_section, budget, 0, 0, &budget_section,
          0),
    FIELD(cfg_agents_t, "presets", p_presets, presets, 0, 0, NULL, 0),
    FIELDC(cfg_agents_t, "prompts", p_kvv, prompts, 0, 0, check_kind_or_any,
          0),
};

/* ---- alerts and webhooks ---- */

static const char *const metric_names[] = {
#define CFG_METRIC_NAME(name, text) text,
    CFG_METRIC_MAP(CFG_METRIC_NAME)
#undef CFG_METRIC_NAME
    NULL};
static const char *const op_names[] = {">", ">=", "<", "<=", "==", "!=",
                                       NULL};
static const char *const event_names[] = {
#define CFG_EVENT_NAME(name, text) text,
    CFG_EVENT_MAP(CFG_EVENT_NAME)
#undef CFG_EVENT_NAME
    NULL};

const char *cfg_metric_name(cfg_metric_t m)
{
  return (unsigned)m < CFG_METRIC__COUNT ? metric_names[m] : "?";
}

const char *cfg_op_name(cfg_op_t op)
{
  return (unsigned)op <= CFG_OP_NE ? op_names[op] : "?";
}

const char *cfg_event_name(unsigned bit)
{
  return bit < CFG_EVENT__COUNT ? event_names[bit] : "?";
}

static void p_events(walk_t *w, const cfg_node_t *n, void *slot,
                     const field_t *f)
{
  if (!want_kind(w, n, CFG_NODE_SEQ))
    return;
  if (n->n == 0) {
    fail(w, n, "list at least one event (or leave the key out for all)");
    return;
  }
  unsigned bits = 0;
  for (size_t i = 0; i < n->n && visit(w, n->items[i]); i++) {
    size_t mark = path_index(w, i);
    field_t one = {.aux = event_names};
    int idx = -1;
    p_enum(w, n->items[i], &idx, &one);
    if (idx >= 0)
      bits |= 1u << idx;
    path_pop(w, mark);
  }
  *(unsigned *)slot = bits;
}

static const field_t alert_fields[] = {
    FIELD(cfg_alert_t, "name", p_string, name, 0, 0, NULL, 0),
    FIELD(cfg_alert_t, "metric", p_enum, metric, 0, 0, metric_names, 0),
    FIELD(cfg_alert_t, "op", p_enum, op, 0, 0, op_names, 0),
    FIELD(cfg_alert_t, "threshold", p_double, threshold, -1e12, 1e12, NULL,
          0),
    FIELD(cfg_alert_t, "for", p_duration, for_ms, 0, MS_DAY, NULL, 0),
    FIELDC(cfg_alert_t, "webhook_url", p_string, webhook_url, 0, 0,
          check_url, F_NULL_OK),
};
static const section_t alert_section = SECTION(alert_fields);

static void alert_fini_any(void *a) { cfg__alert_fini(a); }

static void alert_item(walk_t *w, const cfg_node_t *it, void *elem,
                       size_t index)
{
  cfg_alert_t *a = elem;
  static const char *const required[] = {"name", "metric", "op",
                                         "threshold", NULL};
  if (!want_kind(w, it, CFG_NODE_MAP))
    return;
  walk_map(w, it, &alert_section, a);
  require_keys(w, it, required);
  for (size_t i = 0; a->name && i < index; i++)
    if (w->cfg->alerts[i].name && !strcmp(w->cfg->alerts[i].name, a->name))
      fail(w, it, "the name '%.64s' is taken by alerts[%zu]", a->name, i);
}

static void p_alerts(walk_t *w, const cfg_node_t *n, void *slot,
                     const field_t *f)
{
  cfg_t *c = w->cfg;
  if (cfg__is_null(n) || !want_kind(w, n, CFG_NODE_SEQ))
    return;
  replace_list(w, n, (void **)&c->alerts, &c->nalerts, sizeof(*c->alerts),
               alert_fini_any, alert_item);
}

static const field_t webhook_fields[] = {
    FIELDC(cfg_webhook_t, "url", p_string, url, 0, 0, check_url, 0),
    FIELDC(cfg_webhook_t, "secret_env", p_string, secret_env, 0, 0, check_env,
          F_NULL_OK),
    FIELD(cfg_webhook_t, "events", p_events, events, 0, 0, NULL, 0),
};
static const section_t webhook_section = SECTION(webhook_fields);

static void webhook_fini_any(void *h) { cfg__webhook_fini(h); }

static void webhook_item(walk_t *w, const cfg_node_t *it, void *elem,
                         size_t index)
{
  static const char *const required[] = {"url", NULL};
  cfg_webhook_t *h = elem;
  h->events = CFG_EVENTS_ALL;
  if (!want_kind(w, it, CFG_NODE_MAP))
    return;
  walk_map(w, it, &webhook_section, h);
  require_keys(w, it, required);
}

static void p_webhooks(walk_t *w, const cfg_node_t *n, void *slot,
                       const field_t *f)
{
  cfg_t *c = w->cfg;
  if (cfg__is_null(n) || !want_kind(w, n, CFG_NODE_SEQ))
    return;
  replace_list(w, n, (void **)&c->webhooks, &c->nwebhooks,
               sizeof(*c->webhooks), webhook_fini_any, webhook_item);
}

/* ---- log (cfg_log_t: the names follow the enums' orders) ---- */

static const char *const log_level_names[] = {"info", "debug", "warn",
                                              "error", NULL};
static const char *const log_format_names[] = {"logfmt", "json", NULL};
static const field_t log_fields[] = {
    FIELD(cfg_log_t, "level", p_enum, level, 0, 0, log_level_names, 0),
    FIELD(cfg_log_t, "format", p_enum, format, 0, 0, log_format_names, 0),
};
static const section_t log_section = SECTION(log_fields);

/* ---- monitor and dora (zeroed structs are the defaults) ---- */

static const field_t monitor_fields[] = {
    FIELD(cfg_monitor_t, "sample_interval", p_duration, sample_interval_ms,
          10, MS_DAY, NULL, 0),
    FIELD(cfg_monitor_t, "persist_interval", p_duration, persist_interval_ms,
          MS_SECOND, MS_DAY, NULL, 0),
    FIELD(cfg_monitor_t, "stuck_samples", p_uint32, stuck_samples, 1, 59,
          NULL, 0),
};
static const section_t monitor_section = SECTION(monitor_fields);

static const char *check_dora_failure(const char *s)
{
  static const char *const known[] = {"revert", "hotfix", "incident", NULL};
  return name_index(s, known) >= 0
             ? NULL
             : "a failure signal is revert, hotfix or incident";
}

static const char *const deploy_names[] = {"merges", "tags", NULL};
static const field_t dora_fields[] = {
    FIELD(cfg_dora_t, "deployments", p_enum, deployments, 0, 0, deploy_names,
          0),
    FIELD(cfg_dora_t, "branch", p_string, branch, 0, 0, NULL, 0),
    FIELD(cfg_dora_t, "tag_pattern", p_string, tag_pattern, 0, 0, NULL, 0),
    FIELDC(cfg_dora_t, "failures", p_strv, failures, 0, 3, check_dora_failure,
          F_UNIQUE | F_NONEMPTY),
    FIELD(cfg_dora_t, "hotfix_window", p_duration, hotfix_window_ms,
          MS_SECOND, 365 * MS_DAY, NULL, 0),
    FIELD(cfg_dora_t, "hotfix_pattern", p_string, hotfix_pattern, 0, 0, NULL,
          0),
    FIELD(cfg_dora_t, "incident_label", p_string, incident_label, 0, 0, NULL,
          0),
    FIELD(cfg_dora_t, "agent_branch_prefix", p_string, agent_branch_prefix, 0,
          0, NULL, F_EMPTY_OK),
    FIELD(cfg_dora_t, "agent_authors", p_strv, agent_authors, 0, 64, NULL,
          F_NULL_OK),
    FIELD(cfg_dora_t, "window", p_duration, window_ms, MS_DAY, 3650 * MS_DAY,
          NULL, 0),
};
static const section_t dora_section = SECTION(dora_fields);

/* ---- the top level ---- */

static const section_t github_section = SECTION(github_fields);
static const section_t scan_section = SECTION(scan_fields);
static const section_t priority_section = SECTION(priority_fields);
static const section_t agents_section = SECTION(agents_fields);

static const field_t root_fields[] = {
    FIELD(cfg_t, "listen", p_listen, listen, 0, 0, NULL, 0),
    FIELD(cfg_t, "data_dir", p_string, data_dir, 0, 0, NULL, 0),
    FIELDC(cfg_t, "auth_token_env", p_string, auth_token_env, 0, 0, check_env,
          F_NULL_OK),
    FIELD(cfg_t, "repos", p_repos, repos, 0, 0, NULL, 0),
    FIELD(cfg_t, "github", p_section, github, 0, 0, &github_section, 0),
    FIELD(cfg_t, "scan", p_section, scan, 0, 0, &scan_section, 0),
    FIELD(cfg_t, "priority", p_section, priority, 0, 0, &priority_section,
          0),
    FIELD(cfg_t, "agents", p_section, agents, 0, 0, &agents_section, 0),
    FIELD(cfg_t, "alerts", p_alerts, alerts, 0, 0, NULL, 0),
    FIELD(cfg_t, "webhooks", p_webhooks, webhooks, 0, 0, NULL, 0),
    FIELD(cfg_t, "log", p_section, log, 0, 0, &log_section, 0),
    FIELD(cfg_t, "monitor", p_section, monitor, 0, 0, &monitor_section, 0),
    FIELD(cfg_t, "dora", p_section, dora, 0, 0, &dora_section, 0),
};
static const section_t root_section = SECTION(root_fields);

/* ---- rules across keys ---- */

/* Is @p kind a task kind ccm makes: a configured marker in lower case,
 * or one of the other finders' kinds? */
static bool kind_known(const cfg_t *c, const char *kind)
{
  static const char *const others[] = {"refactor", "secret", "issue",
                                       "stale-issue", NULL};
  if (name_index(kind, others) >= 0)
    return true;
  for (size_t i = 0; i < c->scan.markers.n; i++)
    if (!strcasecmp(c->scan.markers.v[i], kind))
      return true;
  return false;
}

static void check_kind_list(walk_t *w, const cfg_node_t *list,
                            const char *what)
{
  for (size_t i = 0; list && list->kind == CFG_NODE_SEQ && i < list->n;
       i++) {
    const cfg_node_t *it = list->items[i];
    if (it->kind == CFG_NODE_SCALAR && !check_word(it->text) &&
        it->len && !kind_known(w->cfg, it->text))
      fail(w, it, "%s[%zu]: no task has the kind '%.64s' (kinds: the "
                  "markers in lower case, refactor, secret, issue, "
                  "stale-issue)", what, i, it->text);
  }
}

static void check_prompt_kinds(walk_t *w, const cfg_node_t *prompts)
{
  for (size_t i = 0; prompts && prompts->kind == CFG_NODE_MAP &&
                     i + 1 < prompts->n; i += 2) {
    const cfg_node_t *k = prompts->items[i];
    if (k->kind == CFG_NODE_SCALAR && !k->bad_key &&
        !check_kind_or_any(k->text) && strcmp(k->text, "*") && k->len &&
        !kind_known(w->cfg, k->text))
      fail(w, k, "agents.prompts: no task has the kind '%.64s'", k->text);
  }
}

static void check_default_preset(walk_t *w, const cfg_node_t *agents)
{
  const cfg_node_t *d = cfg__map_get(agents, "default");
  if (cfg_default_preset(w->cfg))
    return;
  char known[256] = "";
  size_t o = 0;
  for (size_t i = 0; i < w->cfg->agents.npresets && o < sizeof known; i++) {
    int k = snprintf(known + o, sizeof known - o, "%s%s", i ? ", " : "",
                     w->cfg->agents.presets[i].name);
    if (k > 0)
      o += (size_t)k;
  }
  fail(w, d ? d : agents, "agents.default: no preset is named '%.64s' "
                          "(presets: %s)", w->cfg->agents.default_preset,
       known);
}

static void check_across(walk_t *w, const cfg_node_t *root)
{
  const cfg_node_t *agents = cfg__map_get(root, "agents");
  if (!agents || agents->kind != CFG_NODE_MAP)
    return;
  check_default_preset(w, agents);
  check_kind_list(w, cfg__map_get(agents, "auto_approve"),
                  "agents.auto_approve");
  check_prompt_kinds(w, cfg__map_get(agents, "prompts"));
}

void cfg__apply_tree(cfg_t *c, const cfg_node_t *root, cfg_errors_t *errs)
{
  walk_t w = {.errs = errs, .cfg = c};
  if (!root || cfg__is_null(root))
    return; /* an empty file: the defaults */
  if (root->kind != CFG_NODE_MAP) {
    fail(&w, root, "the top level must be a map of keys (listen, data_dir, "
                   "repos, github, scan, ...), not %s",
         cfg__node_what(root));
    return;
  }
  walk_map(&w, root, &root_section, c);
  if (!w.stop)
    check_across(&w, root);
}
