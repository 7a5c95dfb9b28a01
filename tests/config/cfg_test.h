/*
 * cfg_test.h: helpers of the config suites (tests/config/).
 *
 * CFG_TEST_DATA is tests/data/config (set by tests/config/meson.build).
 * cfg_test_load() loads a fixture and asserts the expected result code;
 * cfg_test_error_lines() renders an error list as "LINE:COLUMN: message"
 * lines, the form the expectation table uses.
 */
#ifndef TESTS_CONFIG_CFG_TEST_H
#define TESTS_CONFIG_CFG_TEST_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#ifndef CFG_TEST_DATA
#error "CFG_TEST_DATA must name tests/data/config"
#endif

/* The path of fixture @p rel under tests/data/config (static buffer). */
static inline const char *cfg_test_path(const char *rel)
{
  static char path[1024];
  snprintf(path, sizeof path, "%s/%s", CFG_TEST_DATA, rel);
  return path;
}

/* Load fixture @p rel into @p c; asserts the result is @p want_rc and,
 * when it is not, prints the errors to help. */
static inline void cfg_test_load(const char *rel, int want_rc, cfg_t *c,
                                 cfg_errors_t *errs)
{
  int rc = cfg_load_file(cfg_test_path(rel), c, errs);
  if (rc != want_rc)
    cfg_errors_print(errs, stderr);
  cr_assert_eq(rc, want_rc, "%s: %s, want %s", rel, cfg_strerror(rc),
               cfg_strerror(want_rc));
}

/* The errors as one string of "LINE:COLUMN: message\n" lines (malloc'd). */
static inline char *cfg_test_error_lines(const cfg_errors_t *e)
{
  size_t cap = 256, len = 0;
  char *out = malloc(cap);
  out[0] = '\0';
  for (size_t i = 0; i < e->n; i++) {
    char line[1024];
    int k = snprintf(line, sizeof line, "%u:%u: %s\n", e->v[i].line,
                     e->v[i].column, e->v[i].message);
    while (len + (size_t)k + 1 > cap)
      out = realloc(out, cap *= 2);
    memcpy(out + len, line, (size_t)k + 1);
    len += (size_t)k;
  }
  return out;
}

#endif /* TESTS_CONFIG_CFG_TEST_H */
