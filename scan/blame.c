/*
 * blame.c: see blame.h.
 *
 * Porcelain output: for each group of lines a header "<sha> <orig> <final>
 * [<count>]", then, the first time a commit appears, its fields ("author
 * NAME", "author-time SECONDS", ...), then the line itself after a TAB.
 * Commits seen are remembered (sha -> author, time) in a small table, so
 * later groups of the same commit resolve without fields.
 */
#include "scan/blame.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/gitcmd.h"

#define FEW_LINES 20   /* up to this many: one -L per line */
#define MAX_COMMITS 256

typedef struct commit {
  char sha[41];
  char author[96];
  int64_t time;
} commit_t;

typedef struct parse {
  scan_blame_line_t *lines;
  size_t n;
  commit_t commits[MAX_COMMITS];
  size_t ncommits;
  commit_t *cur;      /* commit of the group being read */
  uint32_t cur_line;  /* final line of the group's first line */
  char buf[8192];     /* a line split across two reads */
  size_t len;
} parse_t;

static commit_t *commit_of(parse_t *p, const char *sha)
{
  for (size_t i = 0; i < p->ncommits; i++) {
    if (!memcmp(p->commits[i].sha, sha, 40))
      return &p->commits[i];
  }
  commit_t *c = &p->commits[p->ncommits < MAX_COMMITS ? p->ncommits++
                                                       : MAX_COMMITS - 1];
  memset(c, 0, sizeof *c);
  memcpy(c->sha, sha, 40);
  return c;
}

static void record(parse_t *p, uint32_t line, const commit_t *c)
{
  bool zero = strspn(c->sha, "0") == 40;
  for (size_t i = 0; i < p->n; i++) {
    if (p->lines[i].line != line)
      continue;
    if (!zero) {
      snprintf(p->lines[i].author, sizeof p->lines[i].author, "%s", c->author);
      p->lines[i].time = c->time;
    }
  }
}

static bool is_header(const char *l, size_t n)
{
  return n > 41 && l[40] == ' ' && strspn(l, "0123456789abcdef") == 40;
}

static void take_line(parse_t *p, const char *l, size_t n)
{
  if (n > 0 && l[0] == '\t') {
    if (p->cur)
      record(p, p->cur_line, p->cur);
    return;
  }
  if (is_header(l, n)) {
    unsigned orig = 0, final = 0;
    p->cur = commit_of(p, l);
    if (sscanf(l + 41, "%u %u", &orig, &final) == 2)
      p->cur_line = final;
    return;
  }
  if (!p->cur)
    return;
  if (n > 7 && !memcmp(l, "author ", 7))
    snprintf(p->cur->author, sizeof p->cur->author, "%.*s", (int)(n - 7), l + 7);
  else if (n > 12 && !memcmp(l, "author-time ", 12))
    p->cur->time = strtoll(l + 12, NULL, 10);
}

static int on_output(void *ud, const char *data, size_t len)
{
  parse_t *p = ud;
  for (size_t i = 0; i < len; i++) {
    if (data[i] != '\n') {
      if (p->len + 1 < sizeof p->buf)
        p->buf[p->len++] = data[i];
      continue;
    }
    p->buf[p->len] = '\0';
    take_line(p, p->buf, p->len);
    p->len = 0;
  }
  return 0;
}

int scan_blame(const char *root, const char *path, scan_blame_line_t *lines,
               size_t n, char *err, size_t errlen)
{
  const char *args[8 + 2 * FEW_LINES];
  char ranges[FEW_LINES][24];
  size_t k = 0;
  parse_t *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  p->lines = lines;
  p->n = n;
  for (size_t i = 0; i < n; i++) {
    lines[i].author[0] = '\0';
    lines[i].time = 0;
  }
  args[k++] = "blame";
  args[k++] = "--porcelain";
  for (size_t i = 0; n <= FEW_LINES && i < n; i++) {
    snprintf(ranges[i], sizeof ranges[i], "%u,%u", lines[i].line, lines[i].line);
    args[k++] = "-L";
    args[k++] = ranges[i];
  }
  args[k++] = "--";
  args[k++] = path;
  args[k] = NULL;
  int rc = gitcmd_run(root, args, on_output, p, err, errlen);
  free(p);
  return rc;
}
