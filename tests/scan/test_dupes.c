/*
 * test_dupes.c: duplicated blocks across files (scan/dupes.h).
 *
 * Contract checked: a block copied between two files is one group with
 * both line ranges; re-indented or re-spaced copies, copies whose comments
 * differ (blanked buffers) and copies with extra blank or brace-only lines
 * still match; a copy one line shorter than min_lines is not reported, one
 * of min_lines is; lines that carry nothing (braces, `return;`, `break;`,
 * blank lines, #include) never make a duplicate on their own, nor does a
 * run of one repeated line; three copies are one group of three; two
 * copies in one file; paths are copied at add(); the table cap samples
 * windows yet still finds a long copy; groups come in path order; the
 * callback can stop; bad configurations are refused; files prepared apart
 * (scan_dupes_prepare, one scratch per thread) and then added give the
 * same groups as scan_dupes_add, and a scratch made for another
 * min_lines is refused; a block with more places than max_group keeps
 * the same ones (the smallest paths) whatever order the files came in.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/dupes.h"
#include "tests/scan/leaks.h"
#include "tests/scan/scan_test.h"

TestSuite(dupes, .timeout = 30, .fini = scan_test_check_leaks);

/* Every group as "path:a-b,path:c-d (N)" joined with " | ". */
typedef struct {
  char text[4096];
  int n;
  int stop_after;
} groups_t;

static int collect(void *ud, const scan_dup_t *d)
{
  groups_t *g = ud;
  size_t len = strlen(g->text);
  if (g->n++)
    len += (size_t)snprintf(g->text + len, sizeof g->text - len, " | ");
  for (size_t i = 0; i < d->nlocs; i++)
    len += (size_t)snprintf(g->text + len, sizeof g->text - len, "%s%s:%u-%u",
                            i ? "," : "", d->locs[i].path,
                            d->locs[i].start_line, d->locs[i].end_line);
  snprintf(g->text + len, sizeof g->text - len, " (%u)", d->lines);
  return g->stop_after && g->n >= g->stop_after;
}

static void add(scan_dupes_t *d, const char *path, const char *code)
{
  cr_assert_eq(scan_dupes_add(d, path, code, strlen(code)), 0);
}

static groups_t finish(scan_dupes_t *d)
{
  groups_t g;
  memset(&g, 0, sizeof g);
  int n = scan_dupes_finish(d, collect, &g);
  cr_assert_eq(n, g.n);
  return g;
}

static scan_dupes_t *dupes_with(uint32_t min_lines)
{
  scan_dupes_cfg_t cfg = scan_dupes_cfg_default();
  cfg.min_lines = min_lines;
  scan_dupes_t *d = scan_dupes_new(&cfg);
  cr_assert_not_null(d);
  return d;
}

/* Six distinct lines of code, a block worth copying. */
#define BLOCK6                            \
  "total = price * quantity;\n"           \
  "if (total > limit) total = limit;\n"   \
  "tax = total * rate / 100;\n"           \
  "sum += total + tax;\n"                 \
  "count++;\n"                            \
  "log_line(count, sum);\n"

#define BLOCK6_OTHER                      \
  "open_session(user);\n"                 \
  "check_rights(user, FILE_READ);\n"      \
  "buf = read_all(fd, &len);\n"           \
  "parse(buf, len, &doc);\n"              \
  "close_session(user);\n"                \
  "release(buf);\n"

Test(dupes, a_block_copied_between_two_files_is_found_with_both_ranges)
{
  scan_dupes_t *d = dupes_with(6);
  add(d, "a.c", "int a;\nvoid f(void) {\n" BLOCK6 "}\n");       /* 3-8 */
  add(d, "b.c", "\n\n\nint b;\nvoid g(void) {\n" BLOCK6 "}\n"); /* 6-11 */
  add(d, "c.c", "int unrelated(void) { return 1; }\n");
  groups_t g = finish(d);
  cr_assert_str_eq(g.text, "a.c:3-8,b.c:6-11 (6)");
  scan_dupes_free(d);
}

Test(dupes, reindented_respaced_and_recommented_copies_still_match)
{
  scan_dupes_t *d = dupes_with(6);
  add(d, "a.c", BLOCK6);
  add(d, "b.c",
      "        total   =   price*quantity ;\n"
      "\tif(total>limit)total=limit;\n"
      "    tax = total * rate / 100;   \n"
      "  sum += total + tax;\n"
      "count++;\r\n"
      "         log_line( count , sum );\n");
  /* a blanked buffer: the comments of the original are spaces */
  char *blank = stst_blank("c",
      "total = price * quantity; /* the gross */\n"
      "if (total > limit) total = limit; // capped\n"
      "tax = total * rate / 100;\n"
      "/* a whole comment line */\n"
      "sum += total + tax;\n"
      "count++;\n"
      "log_line(count, sum); /* done */\n");
  add(d, "c.c", blank);
  free(blank);
  groups_t g = finish(d);
  cr_assert_str_eq(g.text, "a.c:1-6,b.c:1-6,c.c:1-7 (6)");
  scan_dupes_free(d);
}

Test(dupes, blank_and_brace_lines_inside_a_copy_do_not_break_it)
{
  scan_dupes_t *d = dupes_with(6);
  add(d, "a.c", BLOCK6);
  add(d, "b.c",
      "total = price * quantity;\n"
      "\n"
      "if (total > limit) total = limit;\n"
      "{\n"
      "tax = total * rate / 100;\n"
      "}\n"
      "sum += total + tax;\n"
      "count++;\n"
      "log_line(count, sum);\n");
  groups_t g = finish(d);
  cr_assert_str_eq(g.text, "a.c:1-6,b.c:1-9 (6)");
  scan_dupes_free(d);
}

Test(dupes, a_copy_shorter_than_min_lines_is_not_reported)
{
  const char *five = "a = 1;\nb = 2;\nc = a + b;\nd = c * 2;\ne = d - a;\n";
  scan_dupes_t *six = dupes_with(6);
  add(six, "a.c", five);
  add(six, "b.c", five);
  cr_assert_eq(finish(six).n, 0);
  scan_dupes_free(six);
  scan_dupes_t *d5 = dupes_with(5);
  add(d5, "a.c", five);
  add(d5, "b.c", five);
  cr_assert_str_eq(finish(d5).text, "a.c:1-5,b.c:1-5 (5)");
  scan_dupes_free(d5);
}

Test(dupes, lines_that_carry_nothing_never_make_a_duplicate)
{
  char trivial[2048] = "";
  for (int i = 0; i < 10; i++)
    strcat(trivial, "}\n  return;\n\nbreak;\n});\n#include <stdio.h>\nelse\nend\n");
  scan_dupes_t *d = dupes_with(6);
  add(d, "a.c", trivial);
  add(d, "b.c", trivial);
  char run[512] = "";
  for (int i = 0; i < 20; i++)
    strcat(run, "x++;\n");
  add(d, "c.c", run);
  groups_t g = finish(d);
  cr_assert_eq(g.n, 0, "no group: %s", g.text);
  scan_dupes_free(d);
}

Test(dupes, three_copies_are_one_group_of_three)
{
  scan_dupes_t *d = dupes_with(6);
  add(d, "src/one.c", "void a(void) {\n" BLOCK6 "}\n");
  add(d, "src/two.c", "void b(void) {\n" BLOCK6 "}\n");
  add(d, "lib/three.c", "// x\n// y\nvoid c(void) {\n" BLOCK6 "}\n");
  groups_t g = finish(d);
  cr_assert_eq(g.n, 1);
  cr_assert_str_eq(g.text, "lib/three.c:4-9,src/one.c:2-7,src/two.c:2-7 (6)");
  scan_dupes_free(d);
}

Test(dupes, two_copies_in_one_file_and_a_longer_copy_elsewhere)
{
  scan_dupes_t *d = dupes_with(6);
  add(d, "same.c",
      BLOCK6                          /* 1-6 */
      "other(1);\nother(2);\n"        /* 7-8 */
      BLOCK6);                        /* 9-14 */
  groups_t g = finish(d);
  cr_assert_str_eq(g.text, "same.c:1-6,same.c:9-14 (6)");
  scan_dupes_free(d);

  d = dupes_with(6);
  add(d, "a.c", BLOCK6 "extra_one();\nextra_two();\n" BLOCK6_OTHER);
  add(d, "b.c", BLOCK6 "extra_one();\nextra_two();\n" BLOCK6_OTHER);
  g = finish(d);
  cr_assert_str_eq(g.text, "a.c:1-14,b.c:1-14 (14)",
                   "maximal runs are merged, not one report per window: %s",
                   g.text);
  scan_dupes_free(d);
}

Test(dupes, paths_are_copied)
{
  scan_dupes_t *d = dupes_with(6);
  char path[32];
  strcpy(path, "first.c");
  add(d, path, BLOCK6);
  strcpy(path, "second.c");
  add(d, path, BLOCK6);
  strcpy(path, "overwritten");
  cr_assert_str_eq(finish(d).text, "first.c:1-6,second.c:1-6 (6)");
  scan_dupes_free(d);
}

/* 60 distinct lines, the same for the same seed. */
static char *long_block(int seed)
{
  char *s = calloc(1, 60 * 40);
  for (int i = 0; i < 60; i++) {
    char line[40];
    snprintf(line, sizeof line, "v%d = v%d * %d + %d;\n", i, i + seed, seed, i);
    strcat(s, line);
  }
  return s;
}

Test(dupes, the_table_cap_samples_windows_and_still_finds_a_long_copy)
{
  scan_dupes_cfg_t cfg = {.min_lines = 6, .max_windows = 64, .max_group = 8};
  scan_dupes_t *d = scan_dupes_new(&cfg);
  cr_assert_not_null(d);
  char *copy = long_block(7);
  add(d, "a.c", copy);
  for (int i = 0; i < 20; i++) {
    char name[16], *filler = long_block(100 + i);
    snprintf(name, sizeof name, "f%02d.c", i);
    add(d, name, filler);
    free(filler);
  }
  add(d, "z.c", copy);
  scan_dupes_stats_t st;
  scan_dupes_stats(d, &st);
  cr_assert_eq(st.files, 22);
  cr_assert_eq(st.lines, 22 * 60);
  cr_assert_eq(st.windows, 22 * 55);
  cr_assert_leq(st.kept, 64);
  cr_assert_geq(st.sample, 16, "1210 windows into 64 slots");
  groups_t g = finish(d);
  cr_assert_eq(g.n, 1, "%s", g.text);
  cr_assert(strstr(g.text, "a.c:") && strstr(g.text, "z.c:"), "%s", g.text);
  scan_dupes_free(d);
  free(copy);
}

Test(dupes, groups_come_in_path_order_and_the_callback_can_stop)
{
  scan_dupes_t *d = dupes_with(6);
  char *x = long_block(1), *y = long_block(2);
  add(d, "m.c", y);
  add(d, "b.c", x);
  add(d, "a.c", y);
  add(d, "c.c", x);
  groups_t g = finish(d);
  cr_assert_str_eq(g.text, "a.c:1-60,m.c:1-60 (60) | b.c:1-60,c.c:1-60 (60)");
  scan_dupes_free(d);

  d = dupes_with(6);
  add(d, "m.c", y);
  add(d, "b.c", x);
  add(d, "a.c", y);
  add(d, "c.c", x);
  memset(&g, 0, sizeof g);
  g.stop_after = 1;
  cr_assert_eq(scan_dupes_finish(d, collect, &g), 1);
  scan_dupes_free(d);
  free(x), free(y);
}

Test(dupes, configuration_and_arguments)
{
  scan_dupes_cfg_t def = scan_dupes_cfg_default();
  cr_assert_eq(def.min_lines, 6);
  cr_assert_eq(def.max_windows, (size_t)1 << 20);
  cr_assert_eq(def.max_group, 32);
  scan_dupes_cfg_t one = {.min_lines = 1};
  cr_assert_null(scan_dupes_new(&one));
  scan_dupes_t *d = scan_dupes_new(NULL);
  cr_assert_not_null(d);
  cr_assert_eq(scan_dupes_add(d, "x", NULL, 4), -1);
  cr_assert_eq(scan_dupes_add(d, "empty", "", 0), 0);
  cr_assert_eq(scan_dupes_finish(d, NULL, NULL), 0);
  scan_dupes_free(d);
  scan_dupes_free(NULL);
}

Test(dupes, prepared_files_give_the_same_groups_as_add)
{
  const char *a = "int a;\nvoid f(void) {\n" BLOCK6 "}\n";
  const char *b = "\n\nint b;\nvoid g(void) {\n" BLOCK6 BLOCK6_OTHER "}\n";
  const char *c = "void h(void) {\n" BLOCK6_OTHER "}\n";
  scan_dupes_t *one = dupes_with(6), *two = dupes_with(6);
  add(one, "a.c", a);
  add(one, "b.c", b);
  add(one, "c.c", c);
  scan_dupes_prep_t *p = scan_dupes_prep_new(NULL);
  cr_assert_not_null(p);
  const char *files[][2] = {{"a.c", a}, {"b.c", b}, {"c.c", c}};
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(scan_dupes_prepare(p, files[i][1], strlen(files[i][1])), 0);
    cr_assert_eq(scan_dupes_add_prepared(two, files[i][0], p), 0);
  }
  groups_t g1 = finish(one), g2 = finish(two);
  cr_assert_eq(g1.n, 2);
  cr_assert_str_eq(g2.text, g1.text);
  scan_dupes_stats_t s1, s2;
  scan_dupes_stats(one, &s1);
  scan_dupes_stats(two, &s2);
  cr_assert_eq(s2.files, s1.files);
  cr_assert_eq(s2.lines, s1.lines);
  cr_assert_eq(s2.windows, s1.windows);

  scan_dupes_t *seven = dupes_with(7);
  cr_assert_eq(scan_dupes_add_prepared(seven, "a.c", p), -1,
               "windows of 6 lines do not go into a table of 7");
  scan_dupes_free(seven);
  scan_dupes_prep_free(p);
  scan_dupes_free(one);
  scan_dupes_free(two);
}

/* The 40 copies' file names, added in the order @p order gives. */
static groups_t forty_copies_added_in_order(const int *order)
{
  scan_dupes_t *d = dupes_with(6);
  for (int i = 0; i < 40; i++) {
    char name[16];
    snprintf(name, sizeof name, "f%02d.c", order[i]);
    add(d, name, "void f(void) {\n" BLOCK6 "}\n");
  }
  groups_t g = finish(d);
  scan_dupes_free(d);
  return g;
}

Test(dupes, a_block_with_more_places_than_max_group_keeps_the_same_places_in_any_order)
{
  int forward[40], backward[40], shuffled[40];
  for (int i = 0; i < 40; i++)
    forward[i] = shuffled[i] = i, backward[i] = 39 - i;
  unsigned seed = 12345;
  for (int i = 39; i > 0; i--) { /* a fixed Fisher-Yates shuffle */
    seed = seed * 1103515245u + 12345u;
    int j = (int)((seed >> 16) % (unsigned)(i + 1)), t = shuffled[i];
    shuffled[i] = shuffled[j], shuffled[j] = t;
  }
  char want[4096] = "";
  for (int i = 0; i < 32; i++) /* max_group 32: the smallest paths */
    snprintf(want + strlen(want), sizeof want - strlen(want), "%sf%02d.c:1-7",
             i ? "," : "", i);
  strcat(want, " (7)");
  groups_t a = forty_copies_added_in_order(forward);
  groups_t b = forty_copies_added_in_order(backward);
  groups_t c = forty_copies_added_in_order(shuffled);
  cr_assert_str_eq(a.text, want);
  cr_assert_str_eq(b.text, want, "added last to first: %s", b.text);
  cr_assert_str_eq(c.text, want, "added shuffled: %s", c.text);
}
