/*
 * test_lines.c: the contract of actors/executor/lines.h.
 *
 *  - lines come out in order, without their newline, whatever the read
 *    boundaries (one read, byte by byte); empty lines are lines;
 *  - a line of exactly the cap is whole; one byte more and it is handed
 *    over once, cut at the cap and flagged, and everything up to its
 *    newline is skipped, also when that newline comes many reads later;
 *    the next line is intact;
 *  - at end of stream a partial last line is handed over, unless it is
 *    the skipped tail of an over-long line.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/executor/lines.h"
#include "tests/executor/exec_test.h"

TestSuite(lines, .timeout = 30, .fini = ext_leak_check);

static void feed_in_steps(exec_lines_t *l, const char *s, size_t step,
                          ext_lines_t *got)
{
  size_t n = strlen(s);
  for (size_t i = 0; i < n; i += step) {
    size_t k = n - i < step ? n - i : step;
    cr_assert_eq(exec_lines_feed(l, s + i, k, 0, ext_collect, got), 0);
  }
}

Test(lines, split_at_any_read_boundary)
{
  const char *text = "first\n\nthird line\r\nfourth";
  for (size_t step = 1; step <= strlen(text); step++) {
    exec_lines_t l;
    ext_lines_t got = {0};
    exec_lines_init(&l, 64);
    feed_in_steps(&l, text, step, &got);
    cr_assert_eq(got.n, 3, "step %zu", step);
    exec_lines_finish(&l, 0, ext_collect, &got);
    cr_assert_eq(got.n, 4);
    cr_assert_str_eq(got.text[0], "first");
    cr_assert_str_eq(got.text[1], "");
    cr_assert_str_eq(got.text[2], "third line\r");
    cr_assert_str_eq(got.text[3], "fourth");
    cr_assert_eq(l.lines, 4);
    cr_assert_eq(l.truncated, 0);
    exec_lines_fini(&l);
    ext_lines_free(&got);
  }
}

Test(lines, exactly_the_cap_is_whole)
{
  char line[17];
  memset(line, 'a', 16);
  line[16] = '\0';
  for (size_t step = 1; step <= 17; step += 4) {
    exec_lines_t l;
    ext_lines_t got = {0};
    exec_lines_init(&l, 16);
    char text[64];
    snprintf(text, sizeof text, "%s\nnext\n", line);
    feed_in_steps(&l, text, step, &got);
    cr_assert_eq(got.n, 2);
    cr_assert_eq(got.len[0], 16);
    cr_assert_eq(got.flags[0], 0);
    cr_assert_str_eq(got.text[1], "next");
    exec_lines_fini(&l);
    ext_lines_free(&got);
  }
}

Test(lines, over_long_line_cut_once_and_skipped_to_newline)
{
  size_t big = 5000;
  char *text = malloc(big + 64);
  memcpy(text, "ok\n", 3);
  memset(text + 3, 'x', big);
  strcpy(text + 3 + big, "\nafter\n");
  for (size_t step = 1; step <= big + 16; step = step * 3 + 1) {
    exec_lines_t l;
    ext_lines_t got = {0};
    exec_lines_init(&l, 100);
    feed_in_steps(&l, text, step, &got);
    exec_lines_finish(&l, 0, ext_collect, &got);
    cr_assert_eq(got.n, 3, "step %zu: %zu lines", step, got.n);
    cr_assert_str_eq(got.text[0], "ok");
    cr_assert_eq(got.len[1], 100);
    cr_assert_eq(got.flags[1], EXEC_LINE_TRUNCATED);
    cr_assert_eq(got.text[1][99], 'x');
    cr_assert_str_eq(got.text[2], "after");
    cr_assert_eq(l.truncated, 1);
    exec_lines_fini(&l);
    ext_lines_free(&got);
  }
  free(text);
}

Test(lines, skipped_tail_is_not_a_line_at_eof)
{
  exec_lines_t l;
  ext_lines_t got = {0};
  exec_lines_init(&l, 8);
  feed_in_steps(&l, "0123456789abcdef", 3, &got);
  exec_lines_finish(&l, 0, ext_collect, &got);
  cr_assert_eq(got.n, 1);
  cr_assert_eq(got.flags[0], EXEC_LINE_TRUNCATED);
  cr_assert_eq(got.len[0], 8);
  exec_lines_fini(&l);
  ext_lines_free(&got);
}
