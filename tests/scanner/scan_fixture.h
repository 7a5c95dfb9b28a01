/*
 * scan_fixture.h: small repositories on disk for the scanner's tests.
 */
#ifndef TESTS_SCANNER_SCAN_FIXTURE_H
#define TESTS_SCANNER_SCAN_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

/* Write @p text to dir/rel, creating parent directories. */
void fx_write(const char *dir, const char *rel, const char *text);
/* Run a shell command line in @p dir; asserts exit status 0. */
void fx_sh(const char *dir, const char *cmd);
/* `git init` + identity + one commit of everything in @p dir. */
void fx_git_init(const char *dir);

/* A sorted, NUL-separated list of strings. */
typedef struct fx_list {
  char **v;
  size_t n, cap;
} fx_list_t;
void fx_list_add(fx_list_t *l, const char *s, size_t n);
void fx_list_sort(fx_list_t *l);
bool fx_list_has(const fx_list_t *l, const char *s);
void fx_list_free(fx_list_t *l);

#endif
