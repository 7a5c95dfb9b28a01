/* churn.c: see churn.h. */
#include "actors/prioritizer/churn.h"

#include "scan/gitcmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct churn_entry {
  char *path;
  int32_t commits;
} churn_entry_t;

struct prio_churn {
  churn_entry_t *v;
  size_t n;
  char *text; /* the paths point into it */
};

static int by_path(const void *a, const void *b)
{
  return strcmp(((const churn_entry_t *)a)->path,
                ((const churn_entry_t *)b)->path);
}

/* Sort the entries and fold repeats into counts. */
static void fold(prio_churn_t *c)
{
  qsort(c->v, c->n, sizeof *c->v, by_path);
  size_t o = 0;
  for (size_t i = 0; i < c->n; i++) {
    if (o && !strcmp(c->v[o - 1].path, c->v[i].path))
      c->v[o - 1].commits++;
    else
      c->v[o++] = c->v[i];
  }
  c->n = o;
}

int prio_churn_parse(const char *text, size_t len, prio_churn_t **out)
{
  *out = NULL;
  prio_churn_t *c = calloc(1, sizeof *c);
  char *t = malloc(len + 1);
  size_t lines = 0;
  for (size_t i = 0; i < len; i++)
    lines += text[i] == '\n';
  churn_entry_t *v = malloc((lines + 1) * sizeof *v);
  if (!c || !t || !v) {
    free(c), free(t), free(v);
    return -ENOMEM;
  }
  memcpy(t, text, len);
  t[len] = '\0';
  c->text = t;
  c->v = v;
  char *save = NULL;
  for (char *line = strtok_r(t, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save))
    c->v[c->n++] = (churn_entry_t){line, 1};
  fold(c);
  *out = c;
  return 0;
}

int prio_churn_read(const char *repo_path, unsigned window_days,
                    prio_churn_t **out)
{
  *out = NULL;
  char since[64], max[64];
  snprintf(since, sizeof since, "--since=%u.days", window_days);
  snprintf(max, sizeof max, "--max-count=%d", PRIO_CHURN_MAX_COMMITS);
  const char *const args[] = {"log", since, max, "--name-only", "--format=",
                              "--no-renames", NULL};
  char *buf = NULL;
  size_t len = 0;
  int rc = gitcmd_capture(repo_path, args, 0, PRIO_CHURN_MAX_OUTPUT, &buf,
                          &len, NULL, 0);
  if (rc == GITCMD_ETOOBIG) { /* the cap: rank on what was read */
    while (len > 0 && buf[len - 1] != '\n')
      len--; /* a path cut by the cap is dropped */
    rc = 0;
  }
  rc = rc ? -EIO : prio_churn_parse(buf, len, out);
  free(buf);
  return rc;
}

int32_t prio_churn_of(const prio_churn_t *c, const char *path)
{
  if (!c || !path)
    return 0;
  churn_entry_t key = {(char *)path, 0};
  const churn_entry_t *e = bsearch(&key, c->v, c->n, sizeof *c->v, by_path);
  return e ? e->commits : 0;
}

size_t prio_churn_files(const prio_churn_t *c)
{
  return c ? c->n : 0;
}

void prio_churn_free(prio_churn_t *c)
{
  if (!c)
    return;
  free(c->v);
  free(c->text);
  free(c);
}
