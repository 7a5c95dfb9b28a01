/*
 * json_check.c: is a buffer one JSON object (RFC 8259)? Without building
 * anything (gh_int.h: gh__json_object_ok).
 *
 * The webhook route answers before the payload is parsed (the parse, a
 * jansson DOM of a few KiB, is most of a delivery's cost and runs later
 * in the event handler), yet a signed body that is not a JSON object must
 * still be a 400. This is that check: one pass, no allocation, strict
 * grammar (no trailing commas, no leading zeros, no control characters or
 * invalid UTF-8 in strings, a \u escape of four hex digits with its
 * surrogates paired and not \u0000, as jansson wants, nothing but
 * whitespace after the object), nesting bounded by GH__JSON_DEPTH. Only
 * an integer past int64 passes here and fails jansson's parse later.
 */
#include <stdbool.h>
#include <stddef.h>

#include "github/gh_int.h"

typedef struct scan {
  const unsigned char *p, *end;
  unsigned depth;
} scan_t;

static bool value(scan_t *s);

static void skip_ws(scan_t *s)
{
  while (s->p < s->end &&
         (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static bool take(scan_t *s, unsigned char c)
{
  skip_ws(s);
  if (s->p < s->end && *s->p == c) {
    s->p++;
    return true;
  }
  return false;
}

static bool hex(unsigned char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

/* One UTF-8 sequence of 2-4 bytes starting at s->p (lead byte >= 0x80):
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8(scan_t *s)
{
  unsigned char c = *s->p;
  size_t n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 ? 1 : 0;
  if (n == 0 || c > 0xF4 || (size_t)(s->end - s->p) <= n)
    return false;
  unsigned char c1 = s->p[1];
  if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) ||
      (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F))
    return false;
  for (size_t i = 1; i <= n; i++)
    if ((s->p[i] & 0xC0) != 0x80)
      return false;
  s->p += n + 1;
  return true;
}

/* Four hex digits into *cp. */
static bool hex4(scan_t *s, unsigned *cp)
{
  *cp = 0;
  for (int i = 0; i < 4; i++, s->p++) {
    if (s->p >= s->end || !hex(*s->p))
      return false;
    unsigned char c = *s->p;
    *cp = *cp << 4 | (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return true;
}

/* After "\u": a code point other than U+0000 (jansson refuses it), a
 * high surrogate only with its low one as the next escape. */
static bool unicode_escape(scan_t *s)
{
  unsigned cp, lo;
  if (!hex4(s, &cp) || cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
    return false;
  if (cp < 0xD800 || cp > 0xDBFF)
    return true;
  if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
    return false;
  s->p += 2;
  return hex4(s, &lo) && lo >= 0xDC00 && lo <= 0xDFFF;
}

static bool string(scan_t *s)
{
  if (!take(s, '"'))
    return false;
  while (s->p < s->end) {
    unsigned char c = *s->p;
    if (c == '"') {
      s->p++;
      return true;
    }
    if (c < 0x20)
      return false;
    if (c >= 0x80) {
      if (!utf8(s))
        return false;
      continue;
    }
    s->p++;
    if (c != '\\')
      continue;
    if (s->p >= s->end)
      return false;
    c = *s->p++;
    if (c == 'u') {
      if (!unicode_escape(s))
        return false;
    } else if (!(c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' ||
                 c == 'n' || c == 'r' || c == 't')) {
      return false;
    }
  }
  return false;
}

static size_t digits(scan_t *s)
{
  size_t n = 0;
  while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
    s->p++;
    n++;
  }
  return n;
}

static bool number(scan_t *s)
{
  if (s->p < s->end && *s->p == '-')
    s->p++;
  const unsigned char *start = s->p;
  size_t n = digits(s);
  if (n == 0 || (n > 1 && *start == '0'))
    return false;
  if (s->p < s->end && *s->p == '.') {
    s->p++;
    if (digits(s) == 0)
      return false;
  }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
    s->p++;
    if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
      s->p++;
    if (digits(s) == 0)
      return false;
  }
  return true;
}

static bool literal(scan_t *s, const char *word)
{
  for (; *word; word++, s->p++)
    if (s->p >= s->end || *s->p != (unsigned char)*word)
      return false;
  return true;
}

/* The members or elements after the opening bracket, and the closing one. */
static bool container(scan_t *s, unsigned char close, bool object)
{
  if (++s->depth > GH__JSON_DEPTH)
    return false;
  if (take(s, close)) {
    s->depth--;
    return true;
  }
  do {
    if (object && (!string(s) || !take(s, ':')))
      return false;
    if (!value(s))
      return false;
  } while (take(s, ','));
  s->depth--;
  return take(s, close);
}

static bool value(scan_t *s)
{
  skip_ws(s);
  if (s->p >= s->end)
    return false;
  switch (*s->p) {
  case '{':
    s->p++;
    return container(s, '}', true);
  case '[':
    s->p++;
    return container(s, ']', false);
  case '"':
    return string(s);
  case 't':
    return literal(s, "true");
  case 'f':
    return literal(s, "false");
  case 'n':
    return literal(s, "null");
  default:
    return number(s);
  }
}

bool gh__json_object_ok(const void *buf, size_t len)
{
  scan_t s = {.p = buf, .end = (const unsigned char *)buf + len};
  if (!buf || !take(&s, '{'))
    return false;
  if (!container(&s, '}', true))
    return false;
  skip_ws(&s);
  return s.p == s.end;
}
