/*
 * scan_test.c: see scan_test.h.
 */
#include "tests/scan/scan_test.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct strbuf {
  char *s;
  size_t len, cap;
} strbuf_t;

static void sb_add(strbuf_t *b, const char *p, size_t n)
{
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->s = realloc(b->s, b->cap);
    cr_assert_not_null(b->s);
  }
  memcpy(b->s + b->len, p, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void sb_printf(strbuf_t *b, const char *fmt, ...)
{
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  cr_assert(n >= 0 && (size_t)n < sizeof tmp);
  sb_add(b, tmp, (size_t)n);
}

static char *sb_take(strbuf_t *b)
{
  if (!b->s)
    sb_add(b, "", 0);
  return b->s;
}

const struct scan_lang *stst_lang(const char *name)
{
  const struct scan_lang *l = scan_lang_by_name(name);
  cr_assert_not_null(l, "no language %s", name);
  return l;
}

static int add_comment(void *ud, const scan_comment_t *c)
{
  strbuf_t *b = ud;
  if (b->len)
    sb_add(b, "|", 1);
  sb_printf(b, "%u:%u[", c->line, c->col);
  sb_add(b, c->text, c->len);
  sb_add(b, "]", 1);
  cr_assert(c->text >= c->start && c->text + c->len <= c->start + c->span,
            "body inside the comment");
  return 0;
}

char *stst_comments_n(const char *lang, const char *src, size_t len)
{
  strbuf_t b = {0};
  int rc = scan_lex_comments(stst_lang(lang), src, len, add_comment, &b);
  cr_assert_eq(rc, 0);
  return sb_take(&b);
}

char *stst_comments(const char *lang, const char *src)
{
  return stst_comments_n(lang, src, strlen(src));
}

static int add_flags(void *ud, const scan_comment_t *c)
{
  strbuf_t *b = ud;
  if (b->len)
    sb_add(b, "|", 1);
  sb_add(b, (c->flags & SCAN_COMMENT_LINE) ? "L" : "B", 1);
  if (c->flags & SCAN_COMMENT_DOC)
    sb_add(b, "D", 1);
  if (c->flags & SCAN_COMMENT_DOCSTRING)
    sb_add(b, "S", 1);
  if (c->flags & SCAN_COMMENT_UNTERMINATED)
    sb_add(b, "U", 1);
  return 0;
}

char *stst_comment_flags(const char *lang, const char *src)
{
  strbuf_t b = {0};
  scan_lex_comments(stst_lang(lang), src, strlen(src), add_flags, &b);
  return sb_take(&b);
}

char *stst_blank(const char *lang, const char *src)
{
  size_t n = strlen(src);
  char *out = malloc(n + 1);
  cr_assert_not_null(out);
  scan_lex_blank(stst_lang(lang), src, n, out);
  out[n] = '\0';
  return out;
}

typedef struct mark_acc {
  strbuf_t b;
  int count;
} mark_acc_t;

static int add_marker(void *ud, const scan_marker_t *m)
{
  mark_acc_t *acc = ud;
  strbuf_t *b = &acc->b;
  acc->count++;
  cr_assert(m->text_len <= SCAN_MARKER_TEXT_MAX);
  cr_assert(stst_utf8_ok(m->text, m->text_len), "text is UTF-8");
  if (b->len)
    sb_add(b, "|", 1);
  sb_printf(b, "%u:%u %s", m->line, m->col, m->tag);
  if (m->text_len) {
    sb_add(b, " ", 1);
    sb_add(b, m->text, m->text_len);
  }
  if (m->owner) {
    sb_add(b, " @", 2);
    sb_add(b, m->owner, m->owner_len);
  }
  if (m->issue)
    sb_printf(b, " #%u", m->issue);
  if (m->due_days >= 0)
    sb_printf(b, " due=%d", m->due_days);
  return 0;
}

char *stst_markers_cfg(const scan_marker_cfg_t *cfg, const char *lang,
                       const char *src, size_t len)
{
  mark_acc_t acc = {{0}, 0};
  int n = scan_markers(cfg, stst_lang(lang), src, len, add_marker, &acc);
  cr_assert_eq(n, acc.count, "returns the number of markers reported");
  return sb_take(&acc.b);
}

char *stst_markers(const char *lang, const char *src)
{
  return stst_markers_cfg(NULL, lang, src, strlen(src));
}

int stst_utf8_ok(const char *s, size_t n)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3
               : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > n || (len == 2 && c < 0xC2))
      return 0;
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xC0) != 0x80)
        return 0;
    }
    i += len;
  }
  return 1;
}
