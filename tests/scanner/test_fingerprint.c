/*
 * test_fingerprint.c: task ids that survive line moves and tell identical
 * markers apart (scan/fingerprint.h).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "scan/fingerprint.h"

static void fp(char out[SCAN_FP_HEX + 1], const char *path, const char *key,
               uint32_t occ)
{
  scan_fingerprint(out, "repo", "todo", path, key, strlen(key), occ);
}

Test(fingerprint, stable_hex_and_sensitive_to_each_part)
{
  char a[41], b[41];
  fp(a, "src/a.c", "fix this", 0);
  fp(b, "src/a.c", "fix this", 0);
  cr_assert_str_eq(a, b);
  cr_assert_eq(strlen(a), 40);
  cr_assert_eq(strspn(a, "0123456789abcdef"), 40);
  fp(b, "src/b.c", "fix this", 0);
  cr_assert_str_neq(a, b);
  fp(b, "src/a.c", "fix that", 0);
  cr_assert_str_neq(a, b);
  fp(b, "src/a.c", "fix this", 1);
  cr_assert_str_neq(a, b);
  scan_fingerprint(b, "repo", "fixme", "src/a.c", "fix this", 8, 0);
  cr_assert_str_neq(a, b);
  scan_fingerprint(b, "rep", "otodo", "src/a.c", "fix this", 8, 0);
  cr_assert_str_neq(a, b, "parts are delimited");
}

Test(fingerprint, normalised_text_ignores_case_spacing_and_final_punctuation)
{
  char a[64], b[64];
  size_t na = scan_normalize_text("  Fix   the\tBug. ", 17, a, sizeof a);
  size_t nb = scan_normalize_text("fix the bug", 11, b, sizeof b);
  cr_assert_str_eq(a, "fix the bug");
  cr_assert_eq(na, nb);
  cr_assert_str_eq(a, b);
  cr_assert_eq(scan_normalize_text("...", 3, a, sizeof a), 0);
  cr_assert_eq(scan_normalize_text("abcdef", 6, a, 4), 3, "capped");
  cr_assert_str_eq(a, "abc");
}

Test(fingerprint, occurrences_count_per_key_and_reset_per_file)
{
  scan_occurrences_t o = {0};
  cr_assert_eq(scan_occurrence_next(&o, "todo", "x", 1), 0);
  cr_assert_eq(scan_occurrence_next(&o, "todo", "y", 1), 0);
  cr_assert_eq(scan_occurrence_next(&o, "todo", "x", 1), 1);
  cr_assert_eq(scan_occurrence_next(&o, "fixme", "x", 1), 0);
  cr_assert_eq(scan_occurrence_next(&o, "todo", "x", 1), 2);
  scan_occurrences_reset(&o);
  cr_assert_eq(scan_occurrence_next(&o, "todo", "x", 1), 0);
  for (int i = 0; i < 100; i++) {
    char k[8];
    snprintf(k, sizeof k, "k%d", i);
    scan_occurrence_next(&o, "todo", k, strlen(k));
  }
  cr_assert_eq(scan_occurrence_next(&o, "todo", "k99", 3), 1);
  scan_occurrences_free(&o);
}
