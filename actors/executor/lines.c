/*
 * lines.c: see lines.h. A line that arrives whole within one read is
 * handed over straight from the read buffer; only a line split across
 * reads is copied into the splitter's buffer.
 */
#include "actors/executor/lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LINES_DEFAULT_CAP ((size_t)1 << 20)

void exec_lines_init(exec_lines_t *l, size_t cap)
{
  memset(l, 0, sizeof *l);
  l->cap = cap ? cap : LINES_DEFAULT_CAP;
}

void exec_lines_fini(exec_lines_t *l)
{
  free(l->buf);
  l->buf = NULL;
  l->len = l->alloc = 0;
  l->skipping = false;
}

static void emit(exec_lines_t *l, int stream, const char *p, size_t n,
                 unsigned flags, exec_line_fn fn, void *ud)
{
  l->lines++;
  if (flags & EXEC_LINE_TRUNCATED)
    l->truncated++;
  fn(ud, stream, p, n, flags);
}

/* Append to the buffer, growing it geometrically up to the cap (callers
 * never append past the cap). */
static int append(exec_lines_t *l, const char *p, size_t n)
{
  size_t want = l->len + n;
  if (want > l->alloc) {
    size_t size = l->alloc ? l->alloc : 4096;
    while (size < want)
      size *= 2;
    if (size > l->cap)
      size = l->cap;
    char *b = realloc(l->buf, size);
    if (!b)
      return -ENOMEM;
    l->buf = b;
    l->alloc = size;
  }
  memcpy(l->buf + l->len, p, n);
  l->len += n;
  return 0;
}

/* One segment: the bytes up to a newline (has_nl) or to the end of the
 * read. Returns 0 or -ENOMEM. */
static int segment(exec_lines_t *l, const char *p, size_t n, bool has_nl,
                   int stream, exec_line_fn fn, void *ud)
{
  if (l->skipping) {
    if (has_nl)
      l->skipping = false;
    return 0;
  }
  size_t total = l->len + n;
  if (total > l->cap) { /* over-long: hand over the first cap bytes */
    if (l->len == 0) {
      emit(l, stream, p, l->cap, EXEC_LINE_TRUNCATED, fn, ud);
    } else {
      if (append(l, p, l->cap - l->len) == 0)
        emit(l, stream, l->buf, l->cap, EXEC_LINE_TRUNCATED, fn, ud);
    }
    l->len = 0;
    l->skipping = !has_nl;
    return 0;
  }
  if (has_nl && l->len == 0) { /* whole line in this read: no copy */
    emit(l, stream, p, n, 0, fn, ud);
    return 0;
  }
  int rc = append(l, p, n);
  if (rc) {
    l->len = 0;
    l->skipping = !has_nl;
    return rc;
  }
  if (has_nl) {
    emit(l, stream, l->buf, l->len, 0, fn, ud);
    l->len = 0;
  }
  return 0;
}

int exec_lines_feed(exec_lines_t *l, const char *data, size_t n, int stream,
                    exec_line_fn fn, void *ud)
{
  int rc = 0;
  while (n > 0) {
    const char *nl = memchr(data, '\n', n);
    size_t seg = nl ? (size_t)(nl - data) : n;
    int r = segment(l, data, seg, nl != NULL, stream, fn, ud);
    if (r && !rc)
      rc = r;
    if (!nl)
      break;
    data += seg + 1;
    n -= seg + 1;
  }
  return rc;
}

void exec_lines_finish(exec_lines_t *l, int stream, exec_line_fn fn,
                       void *ud)
{
  if (l->len > 0 && !l->skipping)
    emit(l, stream, l->buf, l->len, 0, fn, ud);
  l->len = 0;
  l->skipping = false;
}
