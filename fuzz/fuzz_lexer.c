/*
 * fuzz_lexer.c: libFuzzer target for scan/lexer.h and scan/markers.h.
 *
 * Input: the first byte picks a language (modulo scan_lang_count()), the
 * rest is a file's bytes (copied into a buffer of exactly that size, so
 * AddressSanitizer sees any read past the end). Properties checked:
 *   - comments come in order, do not overlap, lie inside the buffer, their
 *     body lies inside them, and their line/column are those of their
 *     first byte (recounted here);
 *   - scan_lex_blank keeps the length and every '\n' / '\r', changes bytes
 *     only to spaces, and blanks every byte of every reported comment;
 *   - each marker's text is valid UTF-8 without control characters, at
 *     most SCAN_MARKER_TEXT_MAX bytes; its line/column point at its tag in
 *     the buffer; the count returned equals the callbacks made, and a
 *     callback that stops is the last one;
 *   - scan_lang_detect on a path and head taken from the input returns a
 *     language of the table or NULL.
 * Build and run: fuzz/run.sh lexer SECONDS.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz/fuzz_check.h"
#include "scan/lang.h"
#include "scan/lexer.h"
#include "scan/markers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct ctx {
  const char *buf;
  size_t len;
  size_t prev_end;
  char *blank; /* NULL in the first pass */
  int markers;
  int stop_after;
  int icase;
} ctx_t;

/* Line and column of offset off, counted from the start. */
static void recount(const char *buf, size_t off, uint32_t *line,
                    uint32_t *col)
{
  uint32_t l = 1;
  size_t bol = 0;
  for (size_t i = 0; i < off; i++) {
    if (buf[i] == '\n') {
      l++;
      bol = i + 1;
    }
  }
  *line = l;
  *col = (uint32_t)(off - bol + 1);
}

static int on_comment(void *ud, const scan_comment_t *c)
{
  ctx_t *x = ud;
  FUZZ_CHECK(c->start >= x->buf && c->span <= x->len &&
                 (size_t)(c->start - x->buf) <= x->len - c->span,
             "comment outside the buffer");
  size_t off = (size_t)(c->start - x->buf);
  FUZZ_CHECK(off >= x->prev_end, "comments overlap or go back");
  FUZZ_CHECK(c->text >= c->start && c->text + c->len <= c->start + c->span,
             "body outside its comment");
  FUZZ_CHECK(c->flags & (SCAN_COMMENT_LINE | SCAN_COMMENT_BLOCK),
             "kind missing");
  uint32_t line, col;
  recount(x->buf, off, &line, &col);
  FUZZ_CHECK(line == c->line && col == c->col, "at %u:%u, said %u:%u", line,
             col, c->line, c->col);
  x->prev_end = off + c->span;
  if (x->blank) {
    for (size_t i = off; i < off + c->span; i++)
      FUZZ_CHECK(x->blank[i] == ' ' || x->blank[i] == '\n' ||
                     x->blank[i] == '\r',
                 "comment byte %zu not blanked", i);
  }
  return 0;
}

static void check_blank(const ctx_t *x)
{
  for (size_t i = 0; i < x->len; i++) {
    char b = x->buf[i], o = x->blank[i];
    if (b == '\n' || b == '\r')
      FUZZ_CHECK(o == b, "line end %zu changed", i);
    else
      FUZZ_CHECK(o == b || o == ' ', "byte %zu changed to %02x", i,
                 (unsigned char)o);
  }
}

static int text_ok(const char *s, size_t n)
{
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2
               : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || i + len > n || (len == 1 && (c < 0x20 || c == 0x7F)))
      return 0;
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xC0) != 0x80)
        return 0;
    }
    i += len;
  }
  return 1;
}

/* Offset of line:col in buf, or (size_t)-1. */
static size_t offset_of(const char *buf, size_t len, uint32_t line,
                        uint32_t col)
{
  size_t i = 0;
  for (uint32_t l = 1; l < line; l++) {
    const char *nl = memchr(buf + i, '\n', len - i);
    if (!nl)
      return (size_t)-1;
    i = (size_t)(nl - buf) + 1;
  }
  return col >= 1 && i + col - 1 < len ? i + col - 1 : (size_t)-1;
}

static int on_marker(void *ud, const scan_marker_t *m)
{
  ctx_t *x = ud;
  x->markers++;
  FUZZ_CHECK(m->text_len <= SCAN_MARKER_TEXT_MAX, "text %zu bytes",
             m->text_len);
  FUZZ_CHECK(text_ok(m->text, m->text_len), "text not clean UTF-8");
  FUZZ_CHECK(!m->owner || (m->owner_len <= SCAN_MARKER_OWNER_MAX &&
                           text_ok(m->owner, m->owner_len)),
             "owner not clean");
  size_t off = offset_of(x->buf, x->len, m->line, m->col);
  size_t tl = strlen(m->tag);
  FUZZ_CHECK(off != (size_t)-1 && off + tl <= x->len &&
                 (x->icase ? strncasecmp(x->buf + off, m->tag, tl)
                           : memcmp(x->buf + off, m->tag, tl)) == 0,
             "%s not at %u:%u", m->tag, m->line, m->col);
  FUZZ_CHECK(m->due_days >= -1, "due %d", m->due_days);
  return x->stop_after && x->markers >= x->stop_after;
}

static void check_detect(const uint8_t *data, size_t size)
{
  char path[33];
  size_t n = size < 32 ? size : 32;
  memcpy(path, data, n);
  path[n] = '\0';
  const struct scan_lang *l = scan_lang_detect(path, (const char *)data,
                                               size);
  FUZZ_CHECK(!l || scan_lang_by_name(l->name) == l, "detect gave a stray");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  check_detect(data, size);
  const struct scan_lang *lang = scan_lang_at(data[0] % scan_lang_count());
  size_t len = size - 1;
  char *buf = malloc(len ? len : 1);
  char *blank = malloc(len ? len : 1);
  FUZZ_CHECK(buf && blank, "out of memory");
  memcpy(buf, data + 1, len);

  ctx_t x = {buf, len, 0, NULL, 0, 0, 0};
  FUZZ_CHECK(scan_lex_comments(lang, buf, len, on_comment, &x) == 0,
             "lexing stopped by itself");
  scan_lex_blank(lang, buf, len, blank);
  x.blank = blank;
  check_blank(&x);
  x.prev_end = 0;
  scan_lex_comments(lang, buf, len, on_comment, &x);

  x.markers = 0;
  int n = scan_markers(NULL, lang, buf, len, on_marker, &x);
  FUZZ_CHECK(n == x.markers, "returned %d, reported %d", n, x.markers);
  if (n > 1) {
    x.markers = 0;
    x.stop_after = 1;
    int m = scan_markers(NULL, lang, buf, len, on_marker, &x);
    FUZZ_CHECK(m == 1 && x.markers == 1, "did not stop: %d", m);
  }
  FUZZ_CHECK(scan_markers_maybe(NULL, buf, len) == 1 || n == 0,
             "markers without a candidate");

  /* any case, a one-letter tag and a long one */
  static const char *tags[] = {"X", "todo", "OPTIMIZE_LATER"};
  scan_marker_cfg_t cfg = {tags, 3, SCAN_MARKER_ANY_CASE};
  x.markers = 0;
  x.stop_after = 0;
  x.icase = 1;
  n = scan_markers(&cfg, lang, buf, len, on_marker, &x);
  FUZZ_CHECK(n == x.markers, "any case: returned %d, reported %d", n,
             x.markers);
  free(blank);
  free(buf);
  return 0;
}
