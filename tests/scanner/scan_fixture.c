/* scan_fixture.c: see scan_fixture.h. */
#include "tests/scanner/scan_fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void mkdirs_for(const char *path)
{
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
      cr_assert(0, "mkdir %s: %s", tmp, strerror(errno));
    *p = '/';
  }
}

void fx_write(const char *dir, const char *rel, const char *text)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  mkdirs_for(path);
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
  fwrite(text, 1, strlen(text), f);
  cr_assert_eq(fclose(f), 0);
}

void fx_sh(const char *dir, const char *cmd)
{
  char line[8192];
  snprintf(line, sizeof line, "cd '%s' && (%s) >/dev/null 2>&1", dir, cmd);
  int rc = system(line);
  cr_assert_eq(rc, 0, "command failed (%d): %s", rc, cmd);
}

void fx_git_init(const char *dir)
{
  fx_sh(dir, "git init -q . && git config user.email t@example.com && "
             "git config user.name Tester && git config commit.gpgsign false "
             "&& git add -A && git commit -qm init");
}

void fx_list_add(fx_list_t *l, const char *s, size_t n)
{
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    cr_assert_not_null(l->v);
  }
  l->v[l->n++] = strndup(s, n);
}

static int cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void fx_list_sort(fx_list_t *l)
{
  qsort(l->v, l->n, sizeof *l->v, cmp);
}

bool fx_list_has(const fx_list_t *l, const char *s)
{
  for (size_t i = 0; i < l->n; i++) {
    if (!strcmp(l->v[i], s))
      return true;
  }
  return false;
}

void fx_list_free(fx_list_t *l)
{
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}
