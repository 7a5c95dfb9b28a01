/*
 * metrics.c: the frame stack shared by the family scanners
 * (metrics_brace.c, metrics_indent.c, metrics_keyword.c), scan_functions()
 * and the threshold checks. Design notes: metrics.h (what is measured)
 * and metrics_int.h (the stack's invariants).
 */
#include "scan/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/metrics_int.h"

/* ---- thresholds ---- */

scan_thresholds_t scan_thresholds_default(void)
{
  /* 80 lines: a screen and a half; nesting 4 and complexity 15 are the
   * usual "hard to follow" marks (McCabe's 10 is strict for C with its
   * error checks); 6 parameters: past that, callers pass a struct. */
  return (scan_thresholds_t){
    .max_function_lines = 80,
    .max_nesting = 4,
    .max_complexity = 15,
    .max_params = 6,
    .max_file_lines = 1000,
  };
}

/* Append "; "-separated text to why (always NUL-terminated). */
static void why_add(char *why, size_t whylen, size_t *used, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static void why_add(char *why, size_t whylen, size_t *used, const char *fmt,
                    ...)
{
  va_list ap;
  if (!why || *used + 1 >= whylen)
    return;
  if (*used > 0)
    *used += (size_t)snprintf(why + *used, whylen - *used, "; ");
  if (*used + 1 >= whylen) {
    *used = whylen - 1;
    return;
  }
  va_start(ap, fmt);
  int n = vsnprintf(why + *used, whylen - *used, fmt, ap);
  va_end(ap);
  *used += n > 0 ? (size_t)n : 0;
  if (*used >= whylen)
    *used = whylen - 1;
}

static bool over(uint32_t value, uint32_t limit)
{
  return limit != 0 && value > limit;
}

unsigned scan_function_breaks(const scan_thresholds_t *t,
                              const scan_function_t *f, char *why,
                              size_t whylen)
{
  unsigned mask = 0;
  size_t used = 0;
  if (why && whylen)
    why[0] = '\0';
  if (over(f->lines, t->max_function_lines)) {
    mask |= SCAN_BREAKS_LINES;
    why_add(why, whylen, &used, "%u lines > %u", f->lines, t->max_function_lines);
  }
  if (over(f->complexity, t->max_complexity)) {
    mask |= SCAN_BREAKS_COMPLEXITY;
    why_add(why, whylen, &used, "complexity %u > %u", f->complexity,
            t->max_complexity);
  }
  if (over(f->nesting, t->max_nesting)) {
    mask |= SCAN_BREAKS_NESTING;
    why_add(why, whylen, &used, "nesting %u > %u", f->nesting, t->max_nesting);
  }
  if (over(f->params, t->max_params)) {
    mask |= SCAN_BREAKS_PARAMS;
    why_add(why, whylen, &used, "%u params > %u", f->params, t->max_params);
  }
  return mask;
}

unsigned scan_file_breaks(const scan_thresholds_t *t, uint32_t lines,
                          char *why, size_t whylen)
{
  size_t used = 0;
  if (why && whylen)
    why[0] = '\0';
  if (!over(lines, t->max_file_lines))
    return 0;
  why_add(why, whylen, &used, "%u lines > %u", lines, t->max_file_lines);
  return SCAN_BREAKS_FILE_LINES;
}

uint32_t scan_count_lines(const char *buf, size_t len)
{
  uint32_t lines = 0;
  const char *p = buf, *end = buf + len, *nl;
  while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
    lines++;
    p = nl + 1;
  }
  return lines + (p < end);
}

/* ---- the frame stack ---- */

metrics_frame_t *metrics__top(metrics_ctx_t *m)
{
  return m->nframes ? &m->frames[m->nframes - 1] : NULL;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
  if (need <= *cap)
    return 0;
  size_t ncap = *cap ? *cap * 2 : 64;
  void *p = realloc(*arr, ncap * elem);
  if (!p)
    return -1;
  *arr = p;
  *cap = ncap;
  return 0;
}

int metrics__push(metrics_ctx_t *m, uint8_t kind, const metrics_fn_t *fn,
                  uint32_t line)
{
  if (grow((void **)&m->frames, &m->frames_cap, m->nframes + 1,
           sizeof *m->frames) != 0 ||
      (fn && grow((void **)&m->fns, &m->fns_cap, m->nfns + 1, sizeof *m->fns) != 0)) {
    m->oom = true;
    return -1;
  }
  metrics_frame_t *top = metrics__top(m);
  metrics_frame_t *f = &m->frames[m->nframes];
  memset(f, 0, sizeof *f);
  f->kind = fn ? MF_FUNC : kind;
  /* an initialiser's braces are data, not nesting */
  f->depth = top ? top->depth + (f->kind != MF_LITERAL) : 0;
  f->max_depth = f->depth;
  f->fn = top ? top->fn : -1;
  f->line = line;
  if (fn) {
    m->fns[m->nfns] = *fn;
    m->fns[m->nfns].complexity = 1;
    f->fn = (int32_t)m->nfns++;
  }
  m->nframes++;
  return 0;
}

static void report(metrics_ctx_t *m, const metrics_fn_t *fn, uint32_t nesting,
                   uint32_t end_line)
{
  scan_function_t f = {
    .name = fn->name_len ? fn->name : NULL,
    .name_len = fn->name_len,
    .line = fn->line,
    .end_line = end_line < fn->line ? fn->line : end_line,
    .nesting = nesting,
    .complexity = fn->complexity,
    .params = fn->params,
  };
  f.lines = f.end_line - f.line + 1;
  m->count++;
  if (m->cb && m->cb(m->ud, &f) != 0)
    m->stop = true;
}

void metrics__pop(metrics_ctx_t *m, uint32_t end_line)
{
  if (!m->nframes)
    return;
  metrics_frame_t f = m->frames[--m->nframes];
  metrics_frame_t *parent = metrics__top(m);
  if (parent && f.max_depth > parent->max_depth)
    parent->max_depth = f.max_depth;
  if (f.kind != MF_FUNC)
    return;
  m->nfns--;
  if (!m->stop)
    report(m, &m->fns[m->nfns], f.max_depth - f.depth, end_line);
}

void metrics__finish(metrics_ctx_t *m, uint32_t end_line)
{
  while (m->nframes)
    metrics__pop(m, end_line);
}

void metrics__decision(metrics_ctx_t *m, uint32_t n)
{
  metrics_frame_t *top = metrics__top(m);
  if (top && top->fn >= 0)
    m->fns[top->fn].complexity += n;
}

/* ---- helpers ---- */

#define RANGE8(x) [x] = 1, [x + 1] = 1, [x + 2] = 1, [x + 3] = 1, \
                  [x + 4] = 1, [x + 5] = 1, [x + 6] = 1, [x + 7] = 1
#define RANGE32(x) RANGE8(x), RANGE8(x + 8), RANGE8(x + 16), RANGE8(x + 24)

const uint8_t metrics__word_table[256] = {
  RANGE8('0'), ['8'] = 1, ['9'] = 1, ['$'] = 1, ['_'] = 1,
  RANGE8('A'), RANGE8('I'), RANGE8('Q'), ['Y'] = 1, ['Z'] = 1,
  RANGE8('a'), RANGE8('i'), RANGE8('q'), ['y'] = 1, ['z'] = 1,
  RANGE32(0x80), RANGE32(0xa0), RANGE32(0xc0), RANGE32(0xe0),
};

bool metrics__word_in(const char *p, size_t n, const char *const *words)
{
  for (size_t i = 0; words[i]; i++)
    if (words[i][0] == p[0] && strlen(words[i]) == n && memcmp(words[i], p, n) == 0)
      return true;
  return false;
}

size_t metrics__match_paren(const char *code, size_t open, size_t limit)
{
  int depth = 0;
  for (size_t i = open; i < limit; i++) {
    if (code[i] == '(')
      depth++;
    else if (code[i] == ')' && --depth == 0)
      return i;
  }
  return (size_t)-1;
}

static bool blank(unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
         c == '\\';
}

/* Does the parameter [s, e) count? Empty ones, C's `void`, Python's
 * leading self/cls and the bare * and / markers do not. */
static bool param_counts(const char *s, const char *e, scan_family_t family,
                         bool first)
{
  while (s < e && blank((unsigned char)*s))
    s++;
  while (e > s && blank((unsigned char)e[-1]))
    e--;
  size_t n = (size_t)(e - s);
  if (n == 0)
    return false;
  if (family == SCAN_FAMILY_BRACE && n == 4 && memcmp(s, "void", 4) == 0)
    return false;
  if (family != SCAN_FAMILY_INDENT)
    return true;
  if (n == 1 && (*s == '*' || *s == '/'))
    return false;
  return !(first && ((n == 4 && memcmp(s, "self", 4) == 0) ||
                     (n == 3 && memcmp(s, "cls", 3) == 0)));
}

uint32_t metrics__count_params(const char *code, size_t open, size_t close,
                               scan_family_t family)
{
  uint32_t n = 0;
  int depth = 0, angle = 0;
  const char *seg = code + open + 1;
  bool first = true;
  for (size_t i = open + 1; i < close; i++) {
    char c = code[i];
    if (c == '(' || c == '[' || c == '{')
      depth++;
    else if (c == ')' || c == ']' || c == '}')
      depth--;
    else if (c == '<' && i > open + 1 && metrics__word_char((unsigned char)code[i - 1]))
      angle++; /* vector<int, int>: a template argument list */
    else if (c == '>' && angle > 0 && code[i - 1] != '-')
      angle--;
    else if (c == ',' && depth == 0 && angle == 0) {
      n += param_counts(seg, code + i, family, first);
      first = false;
      seg = code + i + 1;
    }
  }
  return n + param_counts(seg, code + close, family, first);
}

/* ---- entry point ---- */

int scan_functions(scan_family_t family, const char *code, size_t len,
                   scan_function_fn cb, void *ud)
{
  if (!code && len > 0)
    return -1;
  metrics_ctx_t m = {.code = code, .len = len, .cb = cb, .ud = ud};
  switch (family) {
  case SCAN_FAMILY_BRACE:
    metrics__brace(&m);
    break;
  case SCAN_FAMILY_INDENT:
    metrics__indent(&m);
    break;
  case SCAN_FAMILY_KEYWORD:
    metrics__keyword(&m);
    break;
  case SCAN_FAMILY_NONE:
    break;
  }
  free(m.frames);
  free(m.fns);
  return m.oom ? -1 : m.count;
}
