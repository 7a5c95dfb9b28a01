/*
 * errors.c: the error list of a load, allocation helpers, string lists.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

static const char *const err_names[] = {
#define CFG_ERR_NAME(name, code, text) "CFG_" #name ": " text,
    CFG_ERRNO_MAP(CFG_ERR_NAME)
#undef CFG_ERR_NAME
};

const char *cfg_strerror(int rc)
{
  if (rc == 0)
    return "ok";
  int first = CFG_EINVALID;
  int idx = first - rc;
  if (idx >= 0 && (size_t)idx < sizeof err_names / sizeof *err_names)
    return err_names[idx];
  return strerror(rc < 0 ? -rc : rc);
}

static void out_of_memory(size_t n)
{
  fprintf(stderr, "ccm: config: out of memory (%zu bytes)\n", n);
  abort();
}

void *cfg__xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (!p)
    out_of_memory(n);
  return p;
}

void *cfg__xcalloc(size_t n, size_t size)
{
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p)
    out_of_memory(n * size);
  return p;
}

void *cfg__xrealloc(void *p, size_t n)
{
  void *q = realloc(p, n ? n : 1);
  if (!q)
    out_of_memory(n);
  return q;
}

char *cfg__xstrndup(const char *s, size_t n)
{
  char *d = cfg__xmalloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *cfg__xstrdup(const char *s)
{
  return s ? cfg__xstrndup(s, strlen(s)) : NULL;
}

void cfg__grow(void *v, size_t *cap, size_t need, size_t size)
{
  void **vp = v;
  if (need <= *cap)
    return;
  size_t c = *cap ? *cap * 2 : 4;
  while (c < need)
    c *= 2;
  *vp = cfg__xrealloc(*vp, c * size);
  *cap = c;
}

void cfg__strv_fini(cfg_strv_t *v)
{
  for (size_t i = 0; i < v->n; i++)
    free(v->v[i]);
  free(v->v);
  v->v = NULL;
  v->n = 0;
}

void cfg__strv_push(cfg_strv_t *v, const char *s)
{
  /* Lists are built once; growing one by one keeps no capacity field. */
  v->v = cfg__xrealloc(v->v, (v->n + 1) * sizeof(*v->v));
  v->v[v->n++] = cfg__xstrdup(s);
}

void cfg__kvv_fini(cfg_kvv_t *v)
{
  for (size_t i = 0; i < v->n; i++) {
    free(v->v[i].key);
    free(v->v[i].value);
  }
  free(v->v);
  v->v = NULL;
  v->n = 0;
}

void cfg__errors_init(cfg_errors_t *e, const char *file)
{
  memset(e, 0, sizeof(*e));
  e->file = cfg__xstrdup(file ? file : "ccm.yaml");
}

void cfg_errors_fini(cfg_errors_t *e)
{
  if (!e)
    return;
  for (size_t i = 0; i < e->n; i++)
    free(e->v[i].message);
  free(e->v);
  free(e->file);
  memset(e, 0, sizeof(*e));
}

/* Length of the valid UTF-8 sequence at @p s (1-4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
{
  size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
           : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
           : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
  for (size_t i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80)
      return 0;
  return n;
}

/* Messages quote keys and values from the file: make them safe to print
 * on a terminal or in a log line (no control characters, valid UTF-8:
 * "%.64s" may have cut a character in two). */
static void sanitize(char *m)
{
  unsigned char *s = (unsigned char *)m;
  while (*s) {
    size_t n = utf8_len(s);
    if (n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7F))) {
      *s++ = '?';
      continue;
    }
    s += n;
  }
}

void cfg__error_vadd(cfg_errors_t *e, unsigned line, unsigned column,
                     const char *fmt, va_list ap)
{
  if (e->n >= CFG_ERRORS_MAX) {
    e->dropped++;
    return;
  }
  char buf[512];
  vsnprintf(buf, sizeof buf, fmt, ap);
  sanitize(buf);
  e->v = cfg__xrealloc(e->v, (e->n + 1) * sizeof(*e->v));
  e->v[e->n++] = (cfg_error_t){line, column, cfg__xstrdup(buf)};
}

void cfg__error_add(cfg_errors_t *e, unsigned line, unsigned column,
                    const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  cfg__error_vadd(e, line, column, fmt, ap);
  va_end(ap);
}

void cfg__error_fatal(cfg_errors_t *e, unsigned line, unsigned column,
                      const char *message)
{
  char *m = cfg__xstrdup(message);
  sanitize(m);
  e->v = cfg__xrealloc(e->v, (e->n + 1) * sizeof(*e->v));
  e->v[e->n++] = (cfg_error_t){line, column, m};
}

size_t cfg__errors_count(const cfg_errors_t *e)
{
  return e->n + e->dropped;
}

static int by_place(const void *a, const void *b)
{
  const cfg_error_t *x = a, *y = b;
  if (x->line != y->line)
    return x->line < y->line ? -1 : 1;
  if (x->column != y->column)
    return x->column < y->column ? -1 : 1;
  return 0;
}

void cfg__errors_sort(cfg_errors_t *e)
{
  /* Insertion sort: stable (errors at one place keep the order they were
   * found in), and n <= CFG_ERRORS_MAX. */
  for (size_t i = 1; i < e->n; i++) {
    cfg_error_t cur = e->v[i];
    size_t j = i;
    while (j > 0 && by_place(&e->v[j - 1], &cur) > 0) {
      e->v[j] = e->v[j - 1];
      j--;
    }
    e->v[j] = cur;
  }
}

size_t cfg_errors_print(const cfg_errors_t *e, FILE *out)
{
  size_t lines = 0;
  const char *file = e->file ? e->file : "ccm.yaml";
  for (size_t i = 0; i < e->n; i++, lines++) {
    const cfg_error_t *x = &e->v[i];
    if (x->line)
      fprintf(out, "%s:%u:%u: %s\n", file, x->line, x->column, x->message);
    else
      fprintf(out, "%s: %s\n", file, x->message);
  }
  if (e->dropped) {
    fprintf(out, "%s: %zu more error%s not shown\n", file, e->dropped,
            e->dropped == 1 ? "" : "s");
    lines++;
  }
  return lines;
}
