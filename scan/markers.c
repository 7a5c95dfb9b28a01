/*
 * markers.c: see markers.h.
 *
 * Three stages per file:
 *   1. prefilter (find_candidate): whole-word tag occurrences in the raw
 *      bytes, 32 at a time (AVX2 where the CPU has it, else two SSE2
 *      halves; scan/simd_int.h): first and last byte of each tag at their
 *      distance, as in Mula's "SIMD-friendly algorithms for substring
 *      searching", then memcmp and the word boundaries. No candidate:
 *      done, no lexing.
 *   2. lexing (scan/lexer.c); a comment is parsed only if the next
 *      candidate lies inside its body. The candidate cursor only moves
 *      forward, so the prefilter covers the buffer once in all. Lexing
 *      stops at the first comment after the last candidate.
 *   3. parsing: comment lines, tags with the full rules, "(...)" fields,
 *      body lines; a marker of a line comment stays pending until the next
 *      comment shows whether it continues (lexing goes on meanwhile).
 */
#include "scan/markers.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "scan/lexer.h"
#include "scan/simd_int.h"



#define NO_POS ((size_t)-1)
#define PAREN_MAX 128 /* TODO(...) longer than this is text, not fields */
#define URL_LOOKBACK 512 /* "://" further back in a word is not looked for */
#define ELLIPSIS "\xE2\x80\xA6"
#define REPLACEMENT "\xEF\xBF\xBD"

static const char *default_tags[] = {"TODO", "FIXME", "HACK",
                                     "XXX",  "BUG",   "OPTIMIZE"};

const char *const *scan_marker_default_tags(size_t *count)
{
  if (count)
    *count = sizeof default_tags / sizeof default_tags[0];
  return default_tags;
}

/* ---- bytes ---- */

static inline bool is_word(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

static inline bool is_space(unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
         c == '\f';
}

static inline bool is_letter(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
  unsigned char c = s[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    len = 2;
  else if (c >= 0xE0 && c <= 0xEF)
    len = 3;
  else if (c >= 0xF0 && c <= 0xF4)
    len = 4;
  else
    return 0;
  if (c == 0xE0)
    lo = 0xA0;
  else if (c == 0xED)
    hi = 0x9F;
  else if (c == 0xF0)
    lo = 0x90;
  else if (c == 0xF4)
    hi = 0x8F;
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < len; i++) {
    if (s[i] < 0x80 || s[i] > 0xBF)
      return 0;
  }
  return len;
}

/* ---- the compiled tag set ---- */

typedef struct mtag {
  const char *s;
  size_t len;
  unsigned char first, last;    /* upper case when folding */
  unsigned char fold_first, fold_last; /* 0x20 where case is ignored */
} mtag_t;

typedef struct matcher {
  const char **tags;
  mtag_t t[SCAN_MARKER_TAGS_MAX];
  size_t n, maxlen;
  bool icase;
  uint8_t firstset[256];
} matcher_t;

static int matcher_init(matcher_t *m, const scan_marker_cfg_t *cfg)
{
  const char **tags = (cfg && cfg->tags) ? cfg->tags : default_tags;
  size_t n = (cfg && cfg->tags)
                 ? cfg->ntags
                 : sizeof default_tags / sizeof default_tags[0];
  if (n == 0 || n > SCAN_MARKER_TAGS_MAX)
    return -1;
  m->tags = tags;
  m->n = n;
  m->maxlen = 0;
  m->icase = cfg && (cfg->flags & SCAN_MARKER_ANY_CASE);
  memset(m->firstset, 0, sizeof m->firstset);
  for (size_t i = 0; i < n; i++) {
    const char *s = tags[i];
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > SCAN_MARKER_TAG_MAX)
      return -1;
    for (size_t k = 0; k < len; k++) {
      if (is_space((unsigned char)s[k]))
        return -1;
    }
    mtag_t *t = &m->t[i];
    t->s = s;
    t->len = len;
    t->first = (unsigned char)s[0];
    t->last = (unsigned char)s[len - 1];
    t->fold_first = (m->icase && is_letter(t->first)) ? 0x20 : 0;
    t->fold_last = (m->icase && is_letter(t->last)) ? 0x20 : 0;
    t->first |= t->fold_first;
    t->last |= t->fold_last;
    m->firstset[t->first] = 1;
    if (t->fold_first)
      m->firstset[t->first & ~0x20] = 1;
    if (len > m->maxlen)
      m->maxlen = len;
  }
  return 0;
}

static bool tag_at(const matcher_t *m, const mtag_t *t, const unsigned char *p)
{
  return m->icase ? strncasecmp((const char *)p, t->s, t->len) == 0
                  : memcmp(p, t->s, t->len) == 0;
}

/* Index of a tag at q, whole word within [0, n), or -1. */
static int verify_candidate(const matcher_t *m, const unsigned char *b,
                            size_t q, size_t n)
{
  if (q > 0 && is_word(b[q - 1]))
    return -1;
  for (size_t k = 0; k < m->n; k++) {
    const mtag_t *t = &m->t[k];
    if (n - q < t->len || !tag_at(m, t, b + q))
      continue;
    if (q + t->len < n && is_word(b[q + t->len]))
      continue;
    return (int)k;
  }
  return -1;
}

static size_t find_scalar(const matcher_t *m, const unsigned char *b,
                          size_t i, size_t n)
{
  for (; i < n; i++) {
    if (m->firstset[b[i]] && verify_candidate(m, b, i, n) >= 0)
      return i;
  }
  return NO_POS;
}

/* The block loop: a tag's first and last bytes compared at 32 offsets at
 * once. icase is a constant at each call site, so the OR masks vanish from
 * the case-sensitive loop. Every load stays inside b[0, n): the loop ends
 * maxlen + 31 bytes before n, and the scalar loop does the rest. *from
 * gets where the block search stopped. */
static inline __attribute__((always_inline)) size_t
find_blocks_body(const matcher_t *m, const unsigned char *b, size_t *from,
                 size_t n, const bool icase)
{
  scan_v32 vf[SCAN_MARKER_TAGS_MAX], vl[SCAN_MARKER_TAGS_MAX];
  scan_v32 mf[SCAN_MARKER_TAGS_MAX], ml[SCAN_MARKER_TAGS_MAX];
  size_t i = *from;
  if (n < m->maxlen + 32 || i > n - m->maxlen - 31)
    return NO_POS;
  size_t lim = n - m->maxlen - 31;
  for (size_t k = 0; k < m->n; k++) {
    scan_v32_splat(&vf[k], m->t[k].first);
    scan_v32_splat(&vl[k], m->t[k].last);
    scan_v32_splat(&mf[k], m->t[k].fold_first);
    scan_v32_splat(&ml[k], m->t[k].fold_last);
  }
  for (; i <= lim; i += 32) {
    scan_v32 x, y, acc = {0};
    scan_v32_load(&x, b + i);
    for (size_t k = 0; k < m->n; k++) {
      scan_v32_load(&y, b + i + m->t[k].len - 1);
      scan_v32 xf = icase ? (x | mf[k]) : x;
      scan_v32 yl = icase ? (y | ml[k]) : y;
      acc |= (scan_v32)(xf == vf[k]) & (scan_v32)(yl == vl[k]);
    }
    uint64_t w[4];
    scan_v32_lanes(&acc, w);
    if (!(w[0] | w[1] | w[2] | w[3]))
      continue;
    for (size_t h = 0; h < 4; h++) {
      for (uint64_t word = w[h]; word; word = scan_lane_drop(word)) {
        size_t q = i + 8 * h + scan_lane_first(word);
        if (verify_candidate(m, b, q, n) >= 0) {
          *from = i;
          return q;
        }
      }
    }
  }
  *from = i;
  return NO_POS;
}

/* Compiled for AVX2 and for the baseline; the loader picks one. */
static SCAN_SIMD_CLONES size_t find_blocks(const matcher_t *m,
                                           const unsigned char *b,
                                           size_t *from, size_t n)
{
  return m->icase ? find_blocks_body(m, b, from, n, true)
                  : find_blocks_body(m, b, from, n, false);
}

/* First whole-word tag occurrence at or after from, or NO_POS. */
static size_t find_candidate(const matcher_t *m, const unsigned char *b,
                             size_t from, size_t n)
{
  if (from >= n)
    return NO_POS;
  size_t i = from;
  size_t q = find_blocks(m, b, &i, n);
  return q != NO_POS ? q : find_scalar(m, b, i, n);
}

int scan_markers_maybe(const scan_marker_cfg_t *cfg, const char *buf,
                       size_t len)
{
  matcher_t m;
  if ((!buf && len) || matcher_init(&m, cfg) != 0)
    return -1;
  return find_candidate(&m, (const unsigned char *)buf, 0, len) != NO_POS;
}

/* ---- building one marker ---- */

typedef struct build {
  bool active;
  bool pending;   /* of a line comment: may continue on the next line */
  bool truncated;
  int tag;
  uint32_t line, col;
  uint32_t last_line, open_col; /* for the continuation of line comments */
  char text[SCAN_MARKER_TEXT_MAX + 8];
  size_t text_len;
  char owner[SCAN_MARKER_OWNER_MAX + 8];
  size_t owner_len;
  bool has_owner;
  uint32_t issue;
  int32_t due;
} build_t;

/* Appends s[0, n) sanitised to dst (len *dlen, cap) ; false when full. */
static bool put_clean(char *dst, size_t *dlen, size_t cap,
                      const unsigned char *s, size_t n)
{
  size_t i = 0;
  while (i < n) {
    size_t k = utf8_valid(s + i, n - i);
    const char *src = (const char *)s + i;
    size_t w = k;
    if (k == 0) {
      src = REPLACEMENT;
      w = 3;
      k = 1;
    } else if (k == 1 && (s[i] < 0x20 || s[i] == 0x7F)) {
      src = " ";
    }
    if (*dlen + w > cap)
      return false;
    memcpy(dst + *dlen, src, w);
    *dlen += w;
    i += k;
  }
  return true;
}

static void trim(const unsigned char **s, const unsigned char **e)
{
  while (*s < *e && is_space(**s))
    (*s)++;
  while (*e > *s && is_space((*e)[-1]))
    (*e)--;
}

static void text_add(build_t *bd, const unsigned char *s,
                     const unsigned char *e)
{
  trim(&s, &e);
  if (s == e || bd->truncated)
    return;
  if (bd->text_len > 0 &&
      !put_clean(bd->text, &bd->text_len, SCAN_MARKER_TEXT_MAX,
                 (const unsigned char *)" ", 1)) {
    bd->truncated = true;
    return;
  }
  if (!put_clean(bd->text, &bd->text_len, SCAN_MARKER_TEXT_MAX, s,
                 (size_t)(e - s)))
    bd->truncated = true;
}

/* Cut to a character boundary leaving room for the ellipsis. */
static void text_finish(build_t *bd)
{
  if (!bd->truncated)
    return;
  size_t cut = bd->text_len;
  if (cut > SCAN_MARKER_TEXT_MAX - 3)
    cut = SCAN_MARKER_TEXT_MAX - 3;
  /* the text is valid UTF-8: back up to the start of a character */
  while (cut > 0 && cut < bd->text_len &&
         ((unsigned char)bd->text[cut] & 0xC0) == 0x80)
    cut--;
  while (cut > 0 && bd->text[cut - 1] == ' ')
    cut--;
  memcpy(bd->text + cut, ELLIPSIS, 3);
  bd->text_len = cut + 3;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int32_t days_from_civil(int y, unsigned mo, unsigned d)
{
  y -= mo <= 2;
  int era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (mo + (mo > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (int32_t)(era * 146097 + (int)doe - 719468);
}

static bool digits(const unsigned char *s, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
  }
  return true;
}

static unsigned num(const unsigned char *s, size_t n)
{
  unsigned v = 0;
  for (size_t i = 0; i < n; i++)
    v = v * 10 + (unsigned)(s[i] - '0');
  return v;
}

/* YYYY-MM-DD (1970..9999) as days since the epoch, or -1. */
static int32_t parse_date(const unsigned char *s, size_t n)
{
  static const unsigned mdays[] = {31, 29, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31};
  if (n != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4) ||
      !digits(s + 5, 2) || !digits(s + 8, 2))
    return -1;
  unsigned y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
    return -1;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap)
    return -1;
  return days_from_civil((int)y, mo, d);
}

/* "#123" (1..9 digits) as an issue number, or 0. */
static uint32_t parse_issue(const unsigned char *s, size_t n)
{
  if (n < 2 || n > 10 || s[0] != '#' || !digits(s + 1, n - 1))
    return 0;
  return (uint32_t)num(s + 1, n - 1);
}

static void owner_set(build_t *bd, const unsigned char *s, size_t n)
{
  bd->owner_len = 0;
  size_t i = 0;
  while (i < n) { /* whole characters only, up to the cap */
    size_t k = utf8_valid(s + i, n - i);
    size_t w = k ? k : 3;
    if (bd->owner_len + w > SCAN_MARKER_OWNER_MAX)
      break;
    put_clean(bd->owner, &bd->owner_len, SCAN_MARKER_OWNER_MAX, s + i,
              k ? k : 1);
    i += k ? k : 1;
  }
  bd->has_owner = true;
}

/* The fields of "(...)": [s, e) without the parentheses. */
static void parse_fields(build_t *bd, const unsigned char *s,
                         const unsigned char *e)
{
  while (s <= e) {
    const unsigned char *comma = memchr(s, ',', (size_t)(e - s));
    const unsigned char *fe = comma ? comma : e;
    const unsigned char *fs = s;
    trim(&fs, &fe);
    size_t n = (size_t)(fe - fs);
    uint32_t issue = parse_issue(fs, n);
    int32_t due = parse_date(fs, n);
    bool date_shaped = n == 10 && fs[4] == '-' && fs[7] == '-';
    if (issue && !bd->issue)
      bd->issue = issue;
    else if (due >= 0 && bd->due < 0)
      bd->due = due;
    else if (n > 0 && !issue && !date_shaped && !bd->has_owner)
      owner_set(bd, fs, n); /* an impossible date is no owner either */
    if (!comma)
      break;
    s = comma + 1;
  }
}

/* ---- the scan ---- */

typedef struct mscan {
  matcher_t m;
  const struct scan_lang *lang;
  const char *closer; /* of the nested comment being parsed, or NULL */
  const unsigned char *b;
  size_t n;
  scan_marker_fn fn;
  void *ud;
  int count;
  bool stopped;
  size_t next_cand; /* first candidate at or after the last comment seen */
  build_t cur;
  /* position cursor inside the current comment (pos_in_comment) */
  const char *pc_comment;
  const unsigned char *pc_pos, *pc_last_nl;
  uint32_t pc_line;
} mscan_t;

/* Is [p, e) blank or decoration ('*') only? */
static bool only_decoration(const unsigned char *p, const unsigned char *e)
{
  for (; p < e; p++) {
    if (!is_space(*p) && *p != '*')
      return false;
  }
  return true;
}

/* Does the tag at q start a sentence of the line starting at s: first
 * word, or after ". ; ! ? ( [ - :" and blanks? */
static bool starts_sentence(const unsigned char *s, const unsigned char *q)
{
  const unsigned char *p = q;
  if (p > s && p[-1] == '@') /* @TODO, as in doc comments */
    p--;
  while (p > s && is_space(p[-1]))
    p--;
  return p == s || strchr(".;!?([-:", p[-1]) != NULL;
}

/* May the tag at q, ending at after, be a marker? Starting a sentence of
 * the line [s, e): when followed by ':', '(', a blank or the line's end.
 * Inside a sentence (prose: "a BUG message", "if BUG() is a NOP"): only as
 * "TAG:", "TAG(x)" or as the last word of the comment (cend). */
static bool tag_follows_ok(const unsigned char *q, const unsigned char *after,
                           const unsigned char *s, const unsigned char *e,
                           const unsigned char *cend)
{
  if (after + 1 < e && after[0] == '(' && after[1] == ')')
    return false; /* BUG(): a call, not a marker */
  if (starts_sentence(s, q))
    return after == e || *after == ':' || *after == '(' || is_space(*after);
  if (after < e && *after == ':')
    return true;
  if (after < e && *after == '(')
    return true;
  return only_decoration(after, cend);
}

/* Is the tag at q inside a URL (a word holding "://" before it)? The
 * look-back is bounded (URL_LOOKBACK) so that a huge word full of tags
 * stays linear. */
static bool in_url(const unsigned char *s, const unsigned char *q)
{
  const unsigned char *w = q;
  while (w > s && !is_space(w[-1]) && q - w < URL_LOOKBACK)
    w--;
  return q - w >= 3 && memmem(w, (size_t)(q - w), "://", 3) != NULL;
}

/* The first tag with the full rules in the line [s, e) of a comment whose
 * body ends at cend, or NULL; *tag gets its index. */
static const unsigned char *find_tag(const mscan_t *ms, const unsigned char *s,
                                     const unsigned char *e,
                                     const unsigned char *cend, int *tag)
{
  const matcher_t *m = &ms->m;
  for (const unsigned char *q = s; q < e; q++) {
    if (!m->firstset[*q] || (q > ms->b && is_word(q[-1])))
      continue;
    for (size_t k = 0; k < m->n; k++) {
      const mtag_t *t = &m->t[k];
      if ((size_t)(e - q) < t->len || !tag_at(m, t, q))
        continue;
      const unsigned char *after = q + t->len;
      if (after < e && is_word(*after))
        continue;
      if (!tag_follows_ok(q, after, s, e, cend) || in_url(s, q))
        break;
      *tag = (int)k;
      return q;
    }
  }
  return NULL;
}

static int flush(mscan_t *ms)
{
  build_t *bd = &ms->cur;
  if (!bd->active)
    return 0;
  bd->active = bd->pending = false;
  text_finish(bd);
  scan_marker_t mk;
  mk.tag = ms->m.tags[bd->tag];
  mk.line = bd->line;
  mk.col = bd->col;
  mk.text = bd->text;
  mk.text_len = bd->text_len;
  mk.owner = bd->has_owner ? bd->owner : NULL;
  mk.owner_len = bd->has_owner ? bd->owner_len : 0;
  mk.issue = bd->issue;
  mk.due_days = bd->due;
  ms->count++;
  if (ms->fn && ms->fn(ms->ud, &mk) != 0)
    ms->stopped = true;
  return ms->stopped;
}

/* Line and column of q inside comment c. Positions asked for within one
 * comment only move forward: the count goes on from the previous one
 * (ms->pc_*), so a huge comment full of tags stays linear. */
static void pos_in_comment(mscan_t *ms, const scan_comment_t *c,
                           const unsigned char *q, uint32_t *line,
                           uint32_t *col)
{
  const unsigned char *s = (const unsigned char *)c->start;
  if (ms->pc_comment != c->start || q < ms->pc_pos) {
    ms->pc_comment = c->start;
    ms->pc_pos = s;
    ms->pc_line = c->line;
    ms->pc_last_nl = NULL;
  }
  for (const unsigned char *p = ms->pc_pos; p < q; p++) {
    if (*p == '\n') {
      ms->pc_line++;
      ms->pc_last_nl = p;
    }
  }
  ms->pc_pos = q;
  *line = ms->pc_line;
  *col = ms->pc_last_nl ? (uint32_t)(q - ms->pc_last_nl)
                        : c->col + (uint32_t)(q - s);
}

/* The closer of c when it is a nesting block comment ("a /+ TODO: x +/
 * b" ends the text at the inner closer), else NULL. */
static const char *nested_closer(const struct scan_lang *lang,
                                 const scan_comment_t *c)
{
  if (!(c->flags & SCAN_COMMENT_BLOCK))
    return NULL;
  for (const scan_tok_t *t = lang->toks; t->kind != SCAN_TK_END; t++) {
    size_t olen = strlen(t->open);
    if (t->kind == SCAN_TK_BLOCK && (t->flags & SCAN_TF_NEST) &&
        c->span >= olen && memcmp(c->start, t->open, olen) == 0)
      return t->close;
  }
  return NULL;
}

/* [s, e) up to the first inner closer of a nested comment. */
static const unsigned char *cut_at_closer(const mscan_t *ms,
                                          const unsigned char *s,
                                          const unsigned char *e)
{
  if (!ms->closer || s >= e)
    return e;
  const unsigned char *q = memmem(s, (size_t)(e - s), ms->closer,
                                  strlen(ms->closer));
  return q ? q : e;
}

/* Starts a marker at tag q (index k) of the line ending at e. */
static void start_marker(mscan_t *ms, const scan_comment_t *c,
                         const unsigned char *q, int k, const unsigned char *e)
{
  build_t *bd = &ms->cur;
  bd->active = true;
  bd->pending = bd->truncated = bd->has_owner = false;
  bd->tag = k;
  bd->text_len = bd->owner_len = 0;
  bd->issue = 0;
  bd->due = -1;
  pos_in_comment(ms, c, q, &bd->line, &bd->col);
  const unsigned char *p = q + ms->m.t[k].len;
  e = cut_at_closer(ms, p, e);
  if (p < e && *p == '(') {
    size_t room = (size_t)(e - p - 1);
    const unsigned char *close =
        memchr(p + 1, ')', room < PAREN_MAX ? room : PAREN_MAX);
    if (close) {
      parse_fields(bd, p + 1, close);
      p = close + 1;
    }
  }
  while (p < e && is_space(*p))
    p++;
  if (p < e && *p == ':')
    p++;
  while (p < e && is_space(*p))
    p++;
  const unsigned char *d = p;
  if (d < e && *d == '#') {
    d++;
    while (d < e && *d >= '0' && *d <= '9')
      d++;
    uint32_t issue = parse_issue(p, (size_t)(d - p));
    if (issue && (d == e || !is_word(*d))) {
      if (!bd->issue)
        bd->issue = issue;
      p = d;
      while (p < e && (is_space(*p) || *p == ':'))
        p++;
    }
  }
  text_add(bd, p, e);
}

/* One line [s, e) of a comment body, decoration removed. */
static void strip_decoration(const scan_comment_t *c, const unsigned char **s,
                             const unsigned char **e, bool last)
{
  bool block = (c->flags & SCAN_COMMENT_BLOCK) != 0;
  if (!block && *s == (const unsigned char *)c->text) {
    unsigned char o = (unsigned char)c->start[0]; /* ## more, /// more */
    while (*s < *e && **s == o && !is_word(o))
      (*s)++;
  }
  trim(s, e);
  if (block) {
    while (*s < *e && **s == '*')
      (*s)++;
    if (last) {
      while (*e > *s && (*e)[-1] == '*')
        (*e)--;
    }
    trim(s, e);
  }
}

static void parse_comment(mscan_t *ms, const scan_comment_t *c)
{
  ms->closer = nested_closer(ms->lang, c);
  const unsigned char *p = (const unsigned char *)c->text;
  const unsigned char *end = p + c->len;
  for (;;) {
    const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
    const unsigned char *ls = p, *le = nl ? nl : end;
    strip_decoration(c, &ls, &le, nl == NULL);
    int k;
    const unsigned char *q = find_tag(ms, ls, le, end, &k);
    if (q) {
      if (flush(ms))
        return;
      start_marker(ms, c, q, k, le);
    } else if (ms->cur.active) {
      if (ls == le) {
        if (flush(ms))
          return;
      } else {
        text_add(&ms->cur, ls, cut_at_closer(ms, ls, le));
      }
    }
    if (!nl)
      break;
    p = nl + 1;
  }
  if (!ms->cur.active)
    return;
  if (c->flags & SCAN_COMMENT_BLOCK) {
    flush(ms);
    return;
  }
  uint32_t line, col;
  pos_in_comment(ms, c, (const unsigned char *)c->start + c->span, &line,
                 &col);
  ms->cur.pending = true;
  ms->cur.last_line = line;
  ms->cur.open_col = c->col;
}

/* Does line comment c continue the pending marker? */
static bool continues(const mscan_t *ms, const scan_comment_t *c)
{
  if (!(c->flags & SCAN_COMMENT_LINE) || c->line != ms->cur.last_line + 1 ||
      c->col != ms->cur.open_col || memchr(c->text, '\n', c->len))
    return false;
  const unsigned char *s = (const unsigned char *)c->text;
  const unsigned char *e = s + c->len;
  int k;
  strip_decoration(c, &s, &e, true);
  return s < e && find_tag(ms, s, e, e, &k) == NULL;
}

/* Per comment, in order. Lexing stops (non-zero) once no candidate is
 * left after this comment and no marker waits for a continuation line. */
static int on_comment(void *ud, const scan_comment_t *c)
{
  mscan_t *ms = ud;
  if (ms->cur.pending) {
    if (continues(ms, c)) {
      const unsigned char *s = (const unsigned char *)c->text;
      const unsigned char *e = s + c->len;
      strip_decoration(c, &s, &e, true);
      text_add(&ms->cur, s, e);
      ms->cur.last_line = c->line;
      return 0;
    }
    if (flush(ms))
      return 1;
  }
  size_t bs = (size_t)((const unsigned char *)c->text - ms->b);
  size_t be = bs + c->len;
  if (ms->next_cand < bs)
    ms->next_cand = find_candidate(&ms->m, ms->b, bs, ms->n);
  if (ms->next_cand < be) {
    parse_comment(ms, c);
    if (ms->next_cand < be) /* more candidates after this comment? */
      ms->next_cand = find_candidate(&ms->m, ms->b, be, ms->n);
  }
  if (ms->stopped)
    return 1;
  return ms->next_cand == NO_POS && !ms->cur.pending;
}

int scan_markers(const scan_marker_cfg_t *cfg, const struct scan_lang *lang,
                 const char *buf, size_t len, scan_marker_fn fn, void *ud)
{
  mscan_t ms;
  if (!lang || (!buf && len) || matcher_init(&ms.m, cfg) != 0)
    return -1;
  ms.lang = lang;
  ms.closer = NULL;
  ms.b = (const unsigned char *)buf;
  ms.n = len;
  ms.next_cand = find_candidate(&ms.m, ms.b, 0, len);
  if (ms.next_cand == NO_POS)
    return 0; /* most files end here, without lexing */
  ms.fn = fn;
  ms.ud = ud;
  ms.count = 0;
  ms.stopped = false;
  ms.cur.active = ms.cur.pending = false;
  ms.pc_comment = NULL;
  scan_lex_comments(lang, buf, len, on_comment, &ms);
  if (!ms.stopped)
    flush(&ms);
  return ms.count;
}
