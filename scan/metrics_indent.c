/*
 * metrics_indent.c: Python functions, on the blanked buffer.
 *
 * The buffer is read as logical lines: physical lines joined while a
 * bracket is open, after a trailing backslash, or inside a triple-quoted
 * string (whose delimiters survive blanking, contents do not). A blank
 * logical line (comments are blank after blanking) changes nothing. A
 * non-blank one first closes every open block whose header is indented as
 * much or more (a function ends on the last non-blank line before the
 * dedent), then counts its decisions for the innermost open function, then
 * opens a block when it ends with ':' (a compound statement header: def,
 * class, if, for, while, with, try, except, else, match, case ...), as a
 * function for `def` and `async def`. `def f(x): return x` is a function
 * of one line. Nesting: open compound statements inside the function, its
 * body being 0. Tabs advance to the next multiple of 8, as in CPython.
 */
#include <stddef.h>
#include <string.h>

#include "scan/metrics_int.h"

static const char *const decision_words[] = {
  "if", "elif", "for", "while", "except", "and", "or", NULL,
};

struct logical {
  size_t first, end;    /* first non-blank byte; the final '\n' (or len) */
  uint32_t first_line, last_line;
  uint32_t indent;
  bool blank;
  char last;            /* last non-blank byte */
};

static bool is_blank(char ch)
{
  return ch == ' ' || ch == '\t' || ch == '\f' || ch == '\r';
}

static bool triple_at(const char *c, size_t i, size_t len, char q)
{
  return i + 2 < len && c[i] == q && c[i + 1] == q && c[i + 2] == q;
}

/* Read the logical line at @p i; *line is the line number at @p i and is
 * advanced over joined lines. Returns the position of its final '\n'. */
static size_t read_logical(const char *c, size_t len, size_t i, uint32_t *line,
                           struct logical *L)
{
  uint32_t indent = 0;
  int depth = 0;
  char triple = 0;
  memset(L, 0, sizeof *L);
  for (; i < len && is_blank(c[i]); i++)
    indent = c[i] == '\t' ? (indent / 8 + 1) * 8 : indent + 1;
  L->first = i;
  L->indent = indent;
  L->first_line = *line;
  L->blank = true;
  for (; i < len; i++) {
    char ch = c[i];
    if (triple) {
      if (triple_at(c, i, len, triple)) {
        triple = 0;
        i += 2;
      } else if (ch == '\n') {
        (*line)++;
      }
      continue;
    }
    if (ch == '\n') {
      if (depth == 0 && L->last != '\\')
        break;
      (*line)++;
      continue;
    }
    if ((ch == '"' || ch == '\'') && triple_at(c, i, len, ch)) {
      triple = ch;
      i += 2;
    } else if (ch == '(' || ch == '[' || ch == '{') {
      depth++;
    } else if ((ch == ')' || ch == ']' || ch == '}') && depth > 0) {
      depth--;
    }
    if (!is_blank(ch)) {
      L->blank = false;
      L->last = ch;
      L->last_line = *line; /* not past an open bracket's final newline */
    }
  }
  L->end = i;
  if (L->blank)
    L->last_line = L->first_line;
  return i;
}

static size_t skip_blank(const char *c, size_t i, size_t end)
{
  while (i < end && (is_blank(c[i]) || c[i] == '\n' || c[i] == '\\'))
    i++;
  return i;
}

static size_t word_end(const char *c, size_t i, size_t end)
{
  while (i < end && metrics__word_char((unsigned char)c[i]))
    i++;
  return i;
}

static bool word_eq(const char *c, size_t s, size_t e, const char *w)
{
  return e - s == strlen(w) && memcmp(c + s, w, e - s) == 0;
}

/* Count the decisions of [i, end). */
static void decisions(metrics_ctx_t *m, size_t i, size_t end)
{
  const char *c = m->code;
  while (i < end) {
    if (!metrics__word_char((unsigned char)c[i])) {
      i++;
      continue;
    }
    size_t e = word_end(c, i, end);
    if (e - i <= 6 && metrics__word_in(c + i, e - i, decision_words))
      metrics__decision(m, 1);
    i = e;
  }
}

/* `def name(params)` / `async def ...`: fill @p fn. Returns the position
 * after the parameter list, or 0 when the line is no def. */
static size_t parse_def(const metrics_ctx_t *m, const struct logical *L,
                        metrics_fn_t *fn)
{
  const char *c = m->code;
  size_t s = L->first, e = word_end(c, s, L->end);
  if (word_eq(c, s, e, "async")) {
    s = skip_blank(c, e, L->end);
    e = word_end(c, s, L->end);
  }
  if (!word_eq(c, s, e, "def"))
    return 0;
  size_t n = skip_blank(c, e, L->end);
  size_t ne = word_end(c, n, L->end);
  size_t open = skip_blank(c, ne, L->end);
  memset(fn, 0, sizeof *fn);
  fn->name = c + n;
  fn->name_len = ne - n;
  fn->line = L->first_line;
  if (open >= L->end || c[open] != '(')
    return ne;
  size_t close = metrics__match_paren(c, open, L->end);
  if (close == (size_t)-1)
    return ne;
  fn->params = metrics__count_params(c, open, close, SCAN_FAMILY_INDENT);
  return close + 1;
}

/* The ':' that ends a def's header (after `-> T`), or L->end. */
static size_t header_colon(const char *c, size_t i, size_t end)
{
  int depth = 0;
  for (; i < end; i++) {
    if (c[i] == '(' || c[i] == '[' || c[i] == '{')
      depth++;
    else if (c[i] == ')' || c[i] == ']' || c[i] == '}')
      depth--;
    else if (c[i] == ':' && depth == 0)
      return i;
  }
  return end;
}

static void close_blocks(metrics_ctx_t *m, uint32_t indent, uint32_t end_line)
{
  metrics_frame_t *top;
  while ((top = metrics__top(m)) && top->indent >= indent && !m->stop)
    metrics__pop(m, end_line);
}

static void logical_line(metrics_ctx_t *m, const struct logical *L)
{
  metrics_fn_t fn;
  size_t after = parse_def(m, L, &fn);
  bool header = L->last == ':';
  if (after && !header) { /* def f(x): return x */
    size_t colon = header_colon(m->code, after, L->end);
    if (colon == L->end || metrics__push(m, MF_FUNC, &fn, L->first_line) != 0)
      return; /* no ':' at all: an unfinished def */
    decisions(m, colon, L->end);
    metrics__pop(m, L->last_line);
    return;
  }
  decisions(m, L->first, L->end);
  if (!header)
    return;
  if (metrics__push(m, after ? MF_FUNC : MF_BLOCK, after ? &fn : NULL,
                    L->first_line) == 0)
    metrics__top(m)->indent = L->indent;
}

void metrics__indent(metrics_ctx_t *m)
{
  const char *c = m->code;
  size_t len = m->len, i = 0;
  uint32_t line = 1, last_nonblank = 1;
  struct logical L;
  while (i < len && !m->stop && !m->oom) {
    i = read_logical(c, len, i, &line, &L);
    if (!L.blank) {
      close_blocks(m, L.indent, last_nonblank);
      logical_line(m, &L);
      last_nonblank = L.last_line;
    }
    if (i < len) { /* the '\n' */
      i++;
      line++;
    }
  }
  metrics__finish(m, last_nonblank);
}
