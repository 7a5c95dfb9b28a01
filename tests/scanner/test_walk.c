/*
 * test_walk.c: which files the scanner reads (scan/walk.h) and how it
 * opens them (scan/file.h): git listing with .gitignore, default and
 * custom excludes, tree walks that never follow links, reads that never
 * leave the root, binaries, size limit.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan/file.h"
#include "scan/walk.h"
#include "tests/scanner/scan_fixture.h"
#include "tests/support/store_test.h"

static int collect(void *ud, const char *path, size_t len)
{
  cr_assert_eq(strlen(path), len);
  fx_list_add(ud, path, len);
  return 0;
}

static void walk(const char *root, bool no_git, fx_list_t *out,
                 scan_walk_stats_t *st)
{
  scan_walk_cfg_t cfg = {.root = root, .no_git = no_git};
  char err[256];
  int rc = scan_walk(&cfg, collect, out, st, err, sizeof err);
  cr_assert_eq(rc, 0, "scan_walk: %s", err);
  fx_list_sort(out);
}

static char *sample_tree(void)
{
  char *d = tst_tmpdir();
  fx_write(d, "src/a.c", "int a;\n");
  fx_write(d, "vendor/lib.c", "int v;\n");
  fx_write(d, "lib/node_modules/m/index.js", "x\n");
  fx_write(d, "web/app.min.js", "x\n");
  fx_write(d, ".hidden.sh", "# TODO: x\n");
  fx_write(d, "ignored.log", "x\n");
  fx_write(d, ".gitignore", "*.log\n");
  return d;
}

Test(walk, git_lists_tracked_and_new_files_honouring_gitignore)
{
  char *d = sample_tree();
  fx_git_init(d);
  fx_write(d, "new.c", "int n;\n"); /* untracked, not ignored */
  fx_write(d, "also.log", "x\n");  /* untracked, ignored */
  fx_list_t l = {0};
  scan_walk_stats_t st;
  walk(d, false, &l, &st);
  cr_assert(st.used_git);
  const char *want[] = {".gitignore", ".hidden.sh", "new.c", "src/a.c"};
  cr_assert_eq(l.n, 4, "got %zu paths", l.n);
  for (size_t i = 0; i < 4; i++)
    cr_assert_str_eq(l.v[i], want[i]);
  cr_assert_eq(st.excluded, 3, "vendor/, node_modules/, *.min.js");
  fx_list_free(&l);
  tst_rmrf(d);
  free(d);
}

Test(walk, tree_walk_outside_git_skips_links_and_excluded_dirs)
{
  char *d = sample_tree();
  char link[4096];
  fx_write(d, "build/gen.c", "x\n");
  snprintf(link, sizeof link, "%s/etc-link", d);
  cr_assert_eq(symlink("/etc", link), 0);
  snprintf(link, sizeof link, "%s/src/passwd.c", d);
  cr_assert_eq(symlink("/etc/passwd", link), 0);
  fx_list_t l = {0};
  scan_walk_stats_t st;
  walk(d, true, &l, &st);
  cr_assert_not(st.used_git);
  const char *want[] = {".gitignore", ".hidden.sh", "ignored.log", "src/a.c"};
  cr_assert_eq(l.n, 4, "got %zu paths", l.n);
  for (size_t i = 0; i < 4; i++)
    cr_assert_str_eq(l.v[i], want[i]);
  fx_list_free(&l);
  tst_rmrf(d);
  free(d);
}

Test(walk, custom_rules_replace_the_defaults)
{
  char *d = sample_tree();
  fx_write(d, "docs/gen/x.c", "x\n");
  fx_write(d, "docs/x.c", "x\n");
  fx_write(d, "src/gen/a.pb.c", "x\n");
  static const char *const rules[] = {"docs/gen/", "*.pb.c"};
  scan_walk_cfg_t cfg = {.root = d, .excludes = rules, .nexcludes = 2,
                         .no_git = true};
  fx_list_t l = {0};
  cr_assert_eq(scan_walk(&cfg, collect, &l, NULL, NULL, 0), 0);
  cr_assert(fx_list_has(&l, "docs/x.c"));
  cr_assert(fx_list_has(&l, "vendor/lib.c"), "defaults replaced");
  cr_assert_not(fx_list_has(&l, "docs/gen/x.c"));
  cr_assert_not(fx_list_has(&l, "src/gen/a.pb.c"));
  fx_list_free(&l);
  tst_rmrf(d);
  free(d);
}

Test(walk, missing_root_is_a_clear_error)
{
  scan_walk_cfg_t cfg = {.root = "/nonexistent/ccm-walk"};
  char err[256];
  fx_list_t l = {0};
  cr_assert_eq(scan_walk(&cfg, collect, &l, NULL, err, sizeof err), -1);
  cr_assert(strstr(err, "/nonexistent/ccm-walk") && strstr(err, "No such file"),
            "%s", err);
  cfg.root = "/etc/passwd";
  cr_assert_eq(scan_walk(&cfg, collect, &l, NULL, err, sizeof err), -1);
  cr_assert(strstr(err, "not a directory"), "%s", err);
}

Test(walk, exclude_rule_forms)
{
  static const char *const r[] = {"vendor/", "a/b/", "*.min.js"};
  cr_assert(scan_path_excluded("x/vendor/y.c", r, 3));
  cr_assert(scan_path_excluded("vendor/y.c", r, 3));
  cr_assert_not(scan_path_excluded("vendors/y.c", r, 3));
  cr_assert_not(scan_path_excluded("x/vendor", r, 3), "a file named vendor");
  cr_assert(scan_path_excluded("a/b/c.c", r, 3));
  cr_assert_not(scan_path_excluded("x/a/b/c.c", r, 3));
  cr_assert(scan_path_excluded("web/app.min.js", r, 3));
}

/* ---- scan_read_file ---- */

static scan_read_t read_rel(const char *root, const char *rel, size_t max,
                            scan_buf_t *b)
{
  scan_file_info_t info;
  int fd = open(root, O_RDONLY | O_DIRECTORY);
  cr_assert_geq(fd, 0);
  scan_read_t r = scan_read_file(fd, rel, max, b, &info);
  close(fd);
  return r;
}

Test(file, reads_regular_files_and_refuses_everything_else)
{
  char *d = tst_tmpdir();
  char p[4096];
  scan_buf_t b = {0};
  fx_write(d, "ok.c", "int x; // TODO\n");
  fx_write(d, "big.c", "0123456789\n");
  fx_write(d, "sub/inner.c", "x\n");
  snprintf(p, sizeof p, "%s/bin.dat", d);
  FILE *f = fopen(p, "wb");
  fwrite("ab\0cd", 1, 5, f);
  fclose(f);
  snprintf(p, sizeof p, "%s/out", d);
  cr_assert_eq(symlink("/etc/passwd", p), 0);
  snprintf(p, sizeof p, "%s/dirlink", d);
  cr_assert_eq(symlink("sub", p), 0);
  snprintf(p, sizeof p, "%s/fifo", d);
  cr_assert_eq(mkfifo(p, 0600), 0);

  cr_assert_eq(read_rel(d, "ok.c", 100, &b), SCAN_READ_OK);
  cr_assert_str_eq(b.data, "int x; // TODO\n");
  cr_assert_eq(b.len, 15);
  cr_assert_eq(read_rel(d, "big.c", 5, &b), SCAN_READ_TOO_BIG);
  cr_assert_eq(read_rel(d, "bin.dat", 100, &b), SCAN_READ_BINARY);
  cr_assert_eq(read_rel(d, "out", 100, &b), SCAN_READ_NOT_REGULAR);
  cr_assert_eq(read_rel(d, "dirlink/inner.c", 100, &b), SCAN_READ_NOT_REGULAR,
               "a link in the middle of the path");
  cr_assert_eq(read_rel(d, "../etc/passwd", 100, &b), SCAN_READ_NOT_REGULAR,
               "out of the root");
  cr_assert_eq(read_rel(d, "fifo", 100, &b), SCAN_READ_NOT_REGULAR);
  cr_assert_eq(read_rel(d, "sub", 100, &b), SCAN_READ_NOT_REGULAR);
  cr_assert_eq(read_rel(d, "gone.c", 100, &b), SCAN_READ_GONE);
  cr_assert_eq(read_rel(d, "sub/inner.c", 100, &b), SCAN_READ_OK);
  scan_buf_free(&b);
  tst_rmrf(d);
  free(d);
}
