/*
 * scan_test.h: helpers shared by the scan/ suites (tests/scan/).
 *
 * They turn what the lexer and the marker scanner report into one string
 * each, so a table row can state the whole expected result:
 *   comments: "L:C[body]|L:C[body]" (flags via stst_comment_flags)
 *   markers:  "L:C TAG text|..." plus " @owner", " #issue", " due=N" when
 *             present.
 * Every helper asserts (criterion) that its language exists. Returned
 * strings are malloc'd; the caller frees them.
 */
#ifndef TESTS_SCAN_SCAN_TEST_H
#define TESTS_SCAN_SCAN_TEST_H

#include <stddef.h>

#include "scan/lang.h"
#include "scan/lexer.h"
#include "scan/markers.h"

/* The language called name; fails the test when there is none. */
const struct scan_lang *stst_lang(const char *name);

/* Comments of src (len = strlen) in language lang, as described above. */
char *stst_comments(const char *lang, const char *src);
/* Same over len bytes (NUL bytes allowed). */
char *stst_comments_n(const char *lang, const char *src, size_t len);

/* The flags of every comment: L or B, then D (doc), S (docstring), U
 * (unterminated); joined with '|'. */
char *stst_comment_flags(const char *lang, const char *src);

/* scan_lex_blank of src, NUL-terminated. */
char *stst_blank(const char *lang, const char *src);

/* Markers of src with cfg (NULL: defaults). */
char *stst_markers_cfg(const scan_marker_cfg_t *cfg, const char *lang,
                       const char *src, size_t len);
char *stst_markers(const char *lang, const char *src);

/* Is [s, s + n) valid UTF-8? */
int stst_utf8_ok(const char *s, size_t n);

#endif /* TESTS_SCAN_SCAN_TEST_H */
