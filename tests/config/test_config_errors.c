/*
 * test_config_errors.c: the table of broken configs.
 *
 * Contract checked: every file in tests/data/config/broken/ fails to load
 * with CFG_EINVALID, and its errors are exactly the lines listed for it
 * in broken/expected.txt ("FILE:LINE:COLUMN: message", in order): the
 * right message at the right line and column, and no other error. The
 * table and the directory must match (no file without expectations, no
 * expectation without a file), and the table covers at least 80 cases:
 * unknown keys, wrong types, bad durations, sizes, listen addresses and
 * GitHub names, negative counts, duplicate keys, YAML syntax errors,
 * odd anchors and aliases, a second document, secrets in the file.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/config/cfg_test.h"
#include "tests/scan/leaks.h"

TestSuite(config_errors, .timeout = 60, .fini = scan_test_check_leaks);

typedef struct expectation {
  char file[128];
  char *lines; /* "LINE:COLUMN: message\n"... */
  size_t len;
  bool seen;
} expectation_t;

typedef struct table {
  expectation_t *v;
  size_t n;
} table_t;

static expectation_t *table_entry(table_t *t, const char *file)
{
  for (size_t i = 0; i < t->n; i++)
    if (!strcmp(t->v[i].file, file))
      return &t->v[i];
  t->v = realloc(t->v, (t->n + 1) * sizeof(*t->v));
  expectation_t *e = &t->v[t->n++];
  memset(e, 0, sizeof(*e));
  snprintf(e->file, sizeof e->file, "%s", file);
  e->lines = calloc(1, 1);
  return e;
}

/* Split "name.yaml:3:1: message" at the first ':' into the table. */
static void table_load(table_t *t)
{
  FILE *f = fopen(cfg_test_path("broken/expected.txt"), "r");
  cr_assert_not_null(f, "broken/expected.txt");
  char line[2048];
  while (fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    cr_assert_not_null(colon, "malformed expectation: %s", line);
    *colon = '\0';
    expectation_t *e = table_entry(t, line);
    size_t add = strlen(colon + 1);
    e->lines = realloc(e->lines, e->len + add + 1);
    memcpy(e->lines + e->len, colon + 1, add + 1);
    e->len += add;
  }
  fclose(f);
}

static void table_free(table_t *t)
{
  for (size_t i = 0; i < t->n; i++)
    free(t->v[i].lines);
  free(t->v);
}

/* Load broken/@p name; NULL when its errors are as expected, else a
 * description of the difference (malloc'd). */
static char *check_case(const char *name, expectation_t *want)
{
  char rel[256];
  snprintf(rel, sizeof rel, "broken/%s", name);
  cfg_t c;
  cfg_errors_t e;
  int rc = cfg_load_file(cfg_test_path(rel), &c, &e);
  char *got = cfg_test_error_lines(&e);
  char *diff = NULL;
  if (rc != CFG_EINVALID || e.dropped || strcmp(got, want->lines)) {
    size_t cap = strlen(got) + want->len + 256;
    diff = malloc(cap);
    snprintf(diff, cap, "%s (%s):\n want:\n%s got:\n%s", name,
             cfg_strerror(rc), want->lines, got);
  }
  free(got);
  cfg_fini(&c);
  cfg_errors_fini(&e);
  return diff;
}

Test(config_errors, every_broken_config_gives_its_expected_errors)
{
  table_t t = {0};
  table_load(&t);
  DIR *d = opendir(cfg_test_path("broken"));
  cr_assert_not_null(d);
  size_t cases = 0, failed = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t n = strlen(de->d_name);
    if (n < 6 || strcmp(de->d_name + n - 5, ".yaml"))
      continue;
    cases++;
    expectation_t *want = table_entry(&t, de->d_name);
    cr_expect(want->len > 0, "%s has no line in expected.txt", de->d_name);
    want->seen = true;
    char *diff = check_case(de->d_name, want);
    if (diff) {
      failed++;
      cr_log_error("%s", diff);
      free(diff);
    }
  }
  closedir(d);
  for (size_t i = 0; i < t.n; i++)
    cr_expect(t.v[i].seen, "expected.txt names %s, which does not exist",
              t.v[i].file);
  table_free(&t);
  cr_assert_geq(cases, 80, "the table holds %zu cases", cases);
  cr_assert_eq(failed, 0, "%zu of %zu cases differ (see above)", failed,
               cases);
}
