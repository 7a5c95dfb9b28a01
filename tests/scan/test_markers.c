/*
 * test_markers.c: TODO/FIXME/... markers (scan/markers.h).
 *
 * Contract checked: each default tag is found in line, block, trailing and
 * nested comments of each language family, at the tag's line and column;
 * never in any kind of string, heredoc or URL, but in Python docstrings;
 * whole words
 * only, upper case unless SCAN_MARKER_ANY_CASE, with the rules on what may
 * follow; TODO(owner) / (#123) / (date) / (owner, date) and "TODO: #123"
 * are parsed; bodies continue over line comments in the same column and
 * over block comment lines up to a blank line or a tag; CRLF; the 512-byte
 * cap on a character boundary with an ellipsis; sanitised UTF-8 text; the
 * raw-byte prefilter at every offset; stopping; bad arguments.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/markers.h"
#include "tests/scan/leaks.h"
#include "tests/scan/scan_test.h"

TestSuite(markers, .timeout = 60, .fini = scan_test_check_leaks);

typedef struct {
  const char *lang;
  const char *src;
  const char *want; /* stst_markers format */
} mk_case_t;

static void run_cases(const mk_case_t *cases, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    char *got = stst_markers(cases[i].lang, cases[i].src);
    cr_expect_str_eq(got, cases[i].want, "[%s] %s\n got: %s\nwant: %s",
                     cases[i].lang, cases[i].src, got, cases[i].want);
    free(got);
  }
}

#define RUN(cases) run_cases(cases, sizeof cases / sizeof cases[0])

Test(markers, default_tags)
{
  size_t n;
  const char *const *tags = scan_marker_default_tags(&n);
  cr_assert_eq(n, 6);
  static const char *const want[] = {"TODO", "FIXME", "HACK",
                                     "XXX",  "BUG",   "OPTIMIZE"};
  for (size_t i = 0; i < n; i++) {
    cr_assert_str_eq(tags[i], want[i]);
    char src[64];
    snprintf(src, sizeof src, "x(); // %s: fix it\n", want[i]);
    char *got = stst_markers("c", src);
    char exp[64];
    snprintf(exp, sizeof exp, "1:9 %s fix it", want[i]);
    cr_assert_str_eq(got, exp);
    free(got);
  }
}

Test(markers, configured_tags_replace_the_defaults)
{
  const char *tags[] = {"NOTE", "TODO"};
  scan_marker_cfg_t cfg = {tags, 2, 0};
  const char *src = "// NOTE: a\n// TODO b\nx;\n// FIXME c\n";
  char *got = stst_markers_cfg(&cfg, "c", src, strlen(src));
  cr_assert_str_eq(got, "1:4 NOTE a|2:4 TODO b");
  free(got);
}

static int keep_tag(void *ud, const scan_marker_t *m)
{
  const char **out = ud;
  *out = m->tag;
  return 0;
}

Test(markers, tag_pointer_is_the_configured_string)
{
  const char *tags[] = {"TODO"};
  scan_marker_cfg_t cfg = {tags, 1, 0};
  const char *seen = NULL;
  int n = scan_markers(&cfg, stst_lang("c"), "// TODO x", 9, keep_tag, &seen);
  cr_assert_eq(n, 1);
  cr_assert_eq(seen, tags[0]);
}

/* ---- per family: line, block, trailing, nested ---- */

static const mk_case_t family_cases[] = {
    {"c", "// TODO: line\n", "1:4 TODO line"},
    {"c", "/* FIXME: block */", "1:4 FIXME block"},
    {"c", "f(); /* HACK trailing */", "1:9 HACK trailing"},
    {"c", "int x; // XXX: trailing\n", "1:11 XXX trailing"},
    {"cpp", "auto s = R\"(// TODO: no)\"; // TODO: yes", "1:31 TODO yes"},
    {"rust", "/* a /* TODO: nested */ b */", "1:9 TODO nested"},
    {"rust", "/// TODO: doc\nfn f() {}", "1:5 TODO doc"},
    {"go", "s := `// TODO: no`\n// TODO: yes", "2:4 TODO yes"},
    {"javascript", "x = `${y} // TODO: no` // TODO: yes", "1:27 TODO yes"},
    {"python", "x = 1  # TODO: py\n", "1:10 TODO py"},
    {"python", "def f():\n    \"\"\"TODO: in a docstring\"\"\"\n",
     "2:8 TODO in a docstring"},
    {"python", "\"\"\"\nModule.\n\nFIXME: a\nb\n\"\"\"", "4:1 FIXME a b"},
    {"python", "x = \"\"\"TODO: a string\"\"\"", ""},
    {"python", "s = '# TODO: no'  # BUG: yes", "1:21 BUG yes"},
    {"shell", "echo '# TODO no' # TODO: yes", "1:20 TODO yes"},
    {"shell", "cat <<EOF\n# TODO: heredoc\nEOF\n# FIXME: after", "4:3 FIXME after"},
    {"ruby", "=begin\nTODO: ruby block\n=end", "2:1 TODO ruby block"},
    {"ruby", "s = <<~EOS\n  # TODO: no\nEOS\n", ""},
    {"perl", "print \"# TODO no\"; # TODO: perl", "1:22 TODO perl"},
    {"yaml", "key: v # TODO: yaml\ns: \"# TODO: no\"", "1:10 TODO yaml"},
    {"make", "all: # TODO: make", "1:8 TODO make"},
    {"dockerfile", "# TODO: docker\nRUN x", "1:3 TODO docker"},
    {"cmake", "#[[ TODO: bracket ]]\nset(x \"# TODO no\")", "1:5 TODO bracket"},
    {"sql", "SELECT '-- TODO no' -- TODO: sql", "1:24 TODO sql"},
    {"lua", "--[[ TODO: lua block ]]\ns = [[-- TODO no]]", "1:6 TODO lua block"},
    {"haskell", "{- a {- TODO: hs -} -}", "1:9 TODO hs"},
    {"ada", "X := 1; -- FIXME: ada", "1:12 FIXME ada"},
    {"html", "<p>TODO: no</p><!-- TODO: html -->", "1:21 TODO html"},
    {"markdown", "TODO: prose is not a comment\n<!-- XXX: md -->", "2:6 XXX md"},
    {"lisp", "(f \"; TODO no\") ; TODO: lisp\n#| #| FIXME: n |# |#",
     "1:19 TODO lisp|2:7 FIXME n"},
    {"clojure", "(str \\; \"TODO: no\") ; HACK: clj", "1:23 HACK clj"},
    {"erlang", "X = \"% TODO no\", % TODO: erl", "1:20 TODO erl"},
    {"tex", "50\\% TODO no % TODO: tex", "1:16 TODO tex"},
    {"matlab", "s = 'TODO: no'; % TODO: m\n%{\nFIXME: blk\n%}",
     "1:19 TODO m|3:1 FIXME blk"},
    {"visual-basic", "x = \"' TODO no\" ' TODO: vb\nREM FIXME: rem",
     "1:19 TODO vb|2:5 FIXME rem"},
    {"batch", ":: TODO: bat\nREM FIXME: rem", "1:4 TODO bat|2:5 FIXME rem"},
    {"fortran", "print *, '! TODO no' ! TODO: f", "1:24 TODO f"},
    {"php", "$s = <<<EOT\n// TODO: no\nEOT;\n# TODO: php", "4:3 TODO php"},
    {"css", "a { content: \"/* TODO no */\"; } /* TODO: css */", "1:36 TODO css"},
    {"powershell", "<# TODO: ps #>\n\"# TODO no\"", "1:4 TODO ps"},
    {"vim", "\" TODO: vim\nlet s = \"TODO: no\"", "1:3 TODO vim"},
    {"ocaml", "(* (* TODO: ml *) *)", "1:7 TODO ml"},
    {"csharp", "var p = @\"// TODO: no\"; // TODO: cs", "1:28 TODO cs"},
    {"swift", "/* /* TODO: nested */ */", "1:7 TODO nested"},
    {"julia", "#= #= TODO: jl =# =#", "1:7 TODO jl"},
    {"toml", "s = '''\n# TODO: no\n''' # TODO: toml", "3:7 TODO toml"},
    {"kotlin", "val s = \"\"\"// TODO: no\"\"\" // TODO: kt", "1:30 TODO kt"},
};

Test(markers, families_line_block_trailing_nested)
{
  RUN(family_cases);
}

/* ---- words, case, what may follow, URLs ---- */

static const mk_case_t word_cases[] = {
    {"c", "// TODOS later", ""},
    {"c", "// XTODO later", ""},
    {"c", "// todo_list", ""},
    {"c", "// TODO_X later", ""},
    {"c", "/* BUG_ON(x) */", ""},
    {"c", "// todo: lower case", ""},
    {"c", "// Todo: mixed case", ""},
    {"c", "// TODO.", ""},
    {"c", "// TODO-x", ""},
    {"c", "// TODO", "1:4 TODO"},
    {"c", "/*TODO*/", "1:3 TODO"},
    {"c", "//TODO:x", "1:3 TODO x"},
    {"c", "// TODO\tx", "1:4 TODO x"},
    {"c", "// TODO(x)", "1:4 TODO @x"},
    {"c", "// see http://x/TODO", ""},
    {"c", "// see https://example.com/TODO: x", ""},
    {"c", "// see http://x/y TODO: z", "1:19 TODO z"},
    {"c", "// a BUG message in dmesg", ""},
    {"c", "/* where XXX is the name */", ""},
    {"c", "/* Done. XXX this should change */", "1:10 XXX this should change"},
    {"c", "/* data (XXX determine this) */", "1:10 XXX determine this)"},
    {"c", "// TODO!", ""},
    {"c", "/* if BUG() is a NOP */", ""},
    {"c", "// see BUG: x", "1:8 BUG x"},
    {"c", "// ask HACK(bob) y", "1:8 HACK y @bob"},
    {"c", "/* 5.2.4 - Big TODO */", "1:16 TODO"},
    {"c", "x = 1; /* XXX */", "1:11 XXX"},
    {"c", "// \xc3\xa9TODO: after a letter", ""},
    {"c", "// TODO: a FIXME: b", "1:4 TODO a FIXME: b"},
    {"c", "TODO: in code; char *s = \"TODO: in string\";", ""},
    {"c", "#define TODO(x) x", ""},
};

Test(markers, whole_words_case_and_urls)
{
  RUN(word_cases);
}

Test(markers, any_case_flag)
{
  scan_marker_cfg_t cfg = {NULL, 0, SCAN_MARKER_ANY_CASE};
  const char *src = "// todo: a\n// Fixme b\nx;\n// todos no\n";
  char *got = stst_markers_cfg(&cfg, "c", src, strlen(src));
  cr_assert_str_eq(got, "1:4 TODO a|2:4 FIXME b");
  free(got);
}

/* ---- fields ---- */

static const mk_case_t field_cases[] = {
    {"c", "// TODO(alice): text", "1:4 TODO text @alice"},
    {"c", "// TODO(#123)", "1:4 TODO #123"},
    {"c", "// TODO(#123): fix", "1:4 TODO fix #123"},
    {"c", "// TODO: #123 text", "1:4 TODO text #123"},
    {"c", "// TODO #45: text", "1:4 TODO text #45"},
    {"c", "// TODO: #12abc text", "1:4 TODO #12abc text"},
    {"c", "// TODO(2025-03-30)", "1:4 TODO due=20177"},
    {"c", "// TODO(1970-01-01): epoch", "1:4 TODO epoch due=0"},
    {"c", "// TODO(alice, 2025-03-30): both", "1:4 TODO both @alice due=20177"},
    {"c", "// TODO(2024-02-29, bob, #7)", "1:4 TODO @bob #7 due=19782"},
    {"c", "// TODO(2025-02-30) bad date", "1:4 TODO bad date"},
    {"c", "// TODO(2023-02-29) not leap", "1:4 TODO not leap"},
    {"c", "// TODO( spaced name ): x", "1:4 TODO x @spaced name"},
    {"c", "// TODO(unclosed text", "1:4 TODO (unclosed text"},
    {"c", "// TODO(#99999999999) big", "1:4 TODO big @#99999999999"},
    {"c", "// TODO(): a call", ""},
    {"php", "/**\n * @TODO fix this\n */", "2:5 TODO fix this"},
    {"c", "/* siblings. BUG() if they differ */", ""},
};

Test(markers, owner_issue_and_due_date)
{
  RUN(field_cases);
}

Test(markers, long_owner_is_cut_on_a_character)
{
  char src[256] = "// TODO(";
  for (int i = 0; i < 40; i++)
    strcat(src, "\xc3\xa9"); /* 80 bytes of é */
  strcat(src, "): x");
  char *got = stst_markers("c", src);
  char want[128] = "1:4 TODO x @";
  for (int i = 0; i < 32; i++)
    strcat(want, "\xc3\xa9"); /* 64 bytes */
  cr_assert_str_eq(got, want);
  free(got);
}

/* ---- bodies ---- */

static const mk_case_t body_cases[] = {
    {"c", "// TODO: a\n// b\n// c\nint x;", "1:4 TODO a b c"},
    {"c", "// TODO: a\n   // b", "1:4 TODO a"},
    {"c", "// TODO: a\n//\n// b", "1:4 TODO a"},
    {"c", "// TODO: a\n\n// b", "1:4 TODO a"},
    {"c", "// TODO: a\n// FIXME: b", "1:4 TODO a|2:4 FIXME b"},
    {"c", "x(); // TODO: a\n     // b\ny();", "1:9 TODO a b"},
    {"c", "// TODO: a\n/* b */", "1:4 TODO a"},
    {"c", "/*\n * TODO: a\n * b\n *\n * c\n */", "2:4 TODO a b"},
    {"c", "/* TODO: a\n * FIXME: b */", "1:4 TODO a|2:4 FIXME b"},
    {"c", "/* TODO: a\n   b\n   c */", "1:4 TODO a b c"},
    {"c", "/*** TODO: stars ***/", "1:6 TODO stars"},
    {"c", "/* TODO:   spaced    out   */", "1:4 TODO spaced    out"},
    {"python", "# TODO: a\n#   more\nx = 1", "1:3 TODO a more"},
    {"python", "## TODO: a\n## b", "1:4 TODO a b"},
    {"rust", "/// TODO: a\n/// b\nfn f() {}", "1:5 TODO a b"},
    {"lua", "-- TODO: a\n-- b", "1:4 TODO a b"},
    {"c", "// TODO a\n// see http://x/TODO", "1:4 TODO a see http://x/TODO"},
};

Test(markers, continuation_lines)
{
  RUN(body_cases);
}

Test(markers, crlf)
{
  RUN(((const mk_case_t[]){
      {"c", "x;\r\n// TODO: a\r\n// b\r\n", "2:4 TODO a b"},
      {"c", "/*\r\n * FIXME: a\r\n * b\r\n */\r\n", "2:4 FIXME a b"},
      {"python", "x = 1 # XXX: c\r\n", "1:9 XXX c"},
  }));
}

/* ---- text: cap, UTF-8, control characters ---- */

Test(markers, long_text_is_cut_with_an_ellipsis)
{
  char src[2100] = "// TODO: ";
  size_t n = strlen(src);
  for (size_t i = 0; i < 1000; i++) /* 2000 bytes of é */
    memcpy(src + n + 2 * i, "\xc3\xa9", 2);
  n += 2000;
  char *got = stst_markers_cfg(NULL, "c", src, n);
  /* "1:4 TODO " + text */
  const char *text = got + 9;
  size_t tl = strlen(text);
  cr_assert_leq(tl, SCAN_MARKER_TEXT_MAX);
  cr_assert_geq(tl, SCAN_MARKER_TEXT_MAX - 4);
  cr_assert(stst_utf8_ok(text, tl));
  cr_assert_eq(memcmp(text + tl - 3, "\xE2\x80\xA6", 3), 0);
  free(got);
}

Test(markers, odd_lengths_cut_on_a_boundary)
{
  for (size_t pad = 0; pad < 4; pad++) {
    char src[1200] = "// TODO: ";
    size_t n = strlen(src);
    memset(src + n, 'a', pad);
    n += pad;
    for (size_t i = 0; i < 300; i++) { /* 3-byte characters */
      memcpy(src + n, "\xe2\x82\xac", 3);
      n += 3;
    }
    char *got = stst_markers_cfg(NULL, "c", src, n);
    cr_assert(stst_utf8_ok(got, strlen(got)), "pad %zu", pad);
    cr_assert_leq(strlen(got) - 9, SCAN_MARKER_TEXT_MAX);
    free(got);
  }
}

Test(markers, text_is_sanitised)
{
  static const char src[] = "// TODO: a\tb\x01" "c\xff" "d\0e\r\n";
  char *got = stst_markers_cfg(NULL, "c", src, sizeof src - 1);
  cr_assert_str_eq(got, "1:4 TODO a b c\xEF\xBF\xBD" "d e");
  free(got);
}

Test(markers, text_exactly_at_the_cap_is_kept_whole)
{
  char src[600] = "// TODO: ";
  size_t n = strlen(src);
  memset(src + n, 'x', SCAN_MARKER_TEXT_MAX);
  n += SCAN_MARKER_TEXT_MAX;
  char *got = stst_markers_cfg(NULL, "c", src, n);
  cr_assert_eq(strlen(got), 9 + SCAN_MARKER_TEXT_MAX);
  cr_assert_eq(got[strlen(got) - 1], 'x');
  free(got);
}

/* ---- unterminated constructs ---- */

static const mk_case_t open_cases[] = {
    {"c", "/* TODO: open at the end", "1:4 TODO open at the end"},
    {"c", "s = \"TODO: open\n// FIXME: next", "2:4 FIXME next"},
    {"python", "'''TODO: open docstring", "1:4 TODO open docstring"},
    {"shell", "cat <<EOF\n# TODO: never closed", ""},
    {"rust", "/* /* TODO: x */", "1:7 TODO x"},
    {"javascript", "`${ // TODO: in code of a template", "1:8 TODO in code of a template"},
};

Test(markers, unterminated_constructs)
{
  RUN(open_cases);
}

/* ---- prefilter and positions at every offset ---- */

Test(markers, found_at_every_offset_of_the_block_search)
{
  for (size_t pad = 0; pad < 70; pad++) {
    char src[160];
    memset(src, ' ', pad);
    memcpy(src + pad, "//FIXME", 7);
    size_t n = pad + 7;
    char *got = stst_markers_cfg(NULL, "c", src, n);
    char want[32];
    snprintf(want, sizeof want, "1:%zu FIXME", pad + 3);
    cr_assert_str_eq(got, want, "pad %zu", pad);
    free(got);
    /* and followed by more bytes */
    memcpy(src + n, ": x\n", 4);
    memset(src + n + 4, 'y', 40);
    got = stst_markers_cfg(NULL, "c", src, n + 44);
    snprintf(want, sizeof want, "1:%zu FIXME x", pad + 3);
    cr_assert_str_eq(got, want, "pad %zu", pad);
    free(got);
  }
}

Test(markers, prefilter_only)
{
  cr_assert_eq(scan_markers_maybe(NULL, "BUG_ON(x); XTODO", 16), 0);
  cr_assert_eq(scan_markers_maybe(NULL, "s = \"TODO\"", 10), 1);
  cr_assert_eq(scan_markers_maybe(NULL, "", 0), 0);
  cr_assert_eq(scan_markers_maybe(NULL, NULL, 0), 0);
  const char *bad[] = {""};
  scan_marker_cfg_t cfg = {bad, 1, 0};
  cr_assert_eq(scan_markers_maybe(&cfg, "x", 1), -1);
}

Test(markers, candidates_in_code_after_the_last_comment)
{
  /* the last candidate is in a string: lexing must still reach it and
   * report nothing there, and the marker before it stays */
  char *got = stst_markers("c", "// TODO: a\nint x;\nchar *s = \"FIXME: no\";");
  cr_assert_str_eq(got, "1:4 TODO a");
  free(got);
  /* a pending line comment marker continues past the last candidate */
  got = stst_markers("c", "// TODO: a\n// b\n// c\n");
  cr_assert_str_eq(got, "1:4 TODO a b c");
  free(got);
}

Test(markers, many_markers_in_one_file)
{
  size_t cap = 200 * 32;
  char *src = malloc(cap);
  size_t n = 0;
  for (int i = 0; i < 200; i++)
    n += (size_t)snprintf(src + n, cap - n, "x%d(); // TODO: t%d\n", i, i);
  char *got = stst_markers_cfg(NULL, "c", src, n);
  size_t count = 1;
  for (const char *p = got; *p; p++)
    count += *p == '|';
  cr_assert_eq(count, 200);
  cr_assert(strstr(got, "200:") != NULL);
  free(got);
  free(src);
}

/* A 1 MiB comment with a tag on every line, and a 1 MiB word of URLs
 * with tags: each must take linear time (the timeout catches a quadratic
 * position or URL search; under ASan that would take minutes). */
Test(markers, huge_inputs_stay_linear, .timeout = 30)
{
  size_t n = 1 << 20, lines = 0;
  char *src = malloc(n);
  memcpy(src, "/*", 2);
  size_t i = 2;
  while (i + 10 < n) {
    memcpy(src + i, "\nTODO: x ", 9);
    i += 9;
    lines++;
  }
  memcpy(src + i, "*/", 2);
  i += 2;
  int count = scan_markers(NULL, stst_lang("c"), src, i, NULL, NULL);
  cr_assert_eq(count, (int)lines);
  memcpy(src, "//", 2);
  for (i = 2; i + 15 < n; i += 14)
    memcpy(src + i, "http://x/TODO:", 14);
  count = scan_markers(NULL, stst_lang("c"), src, i, NULL, NULL);
  cr_assert_eq(count, 0);
  free(src);
}

/* ---- stopping and arguments ---- */

static int stop_first(void *ud, const scan_marker_t *m)
{
  (void)m;
  ++*(int *)ud;
  return 1;
}

Test(markers, callback_stops_the_scan)
{
  int calls = 0;
  int n = scan_markers(NULL, stst_lang("c"), "// TODO a\n// TODO b\n", 20,
                       stop_first, &calls);
  cr_assert_eq(n, 1);
  cr_assert_eq(calls, 1);
  calls = 0;
  n = scan_markers(NULL, stst_lang("c"), "// TODO: a\n// b\n// TODO c", 26,
                   stop_first, &calls);
  cr_assert_eq(n, 1);
  cr_assert_eq(calls, 1);
}

Test(markers, count_without_a_callback)
{
  cr_assert_eq(scan_markers(NULL, stst_lang("c"), "// TODO a\n/* BUG b */", 21,
                            NULL, NULL),
               2);
}

Test(markers, bad_arguments)
{
  const struct scan_lang *c = stst_lang("c");
  cr_assert_eq(scan_markers(NULL, NULL, "// TODO", 7, NULL, NULL), -1);
  cr_assert_eq(scan_markers(NULL, c, NULL, 7, NULL, NULL), -1);
  cr_assert_eq(scan_markers(NULL, c, NULL, 0, NULL, NULL), 0);
  const char *empty[] = {"TODO", ""};
  scan_marker_cfg_t cfg = {empty, 2, 0};
  cr_assert_eq(scan_markers(&cfg, c, "x", 1, NULL, NULL), -1);
  const char *blank[] = {"TO DO"};
  cfg = (scan_marker_cfg_t){blank, 1, 0};
  cr_assert_eq(scan_markers(&cfg, c, "x", 1, NULL, NULL), -1);
  const char *nul[] = {NULL};
  cfg = (scan_marker_cfg_t){nul, 1, 0};
  cr_assert_eq(scan_markers(&cfg, c, "x", 1, NULL, NULL), -1);
  cfg = (scan_marker_cfg_t){empty, 0, 0};
  cr_assert_eq(scan_markers(&cfg, c, "x", 1, NULL, NULL), -1);
  const char *longtag[] = {"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG"}; /* 33 */
  cfg = (scan_marker_cfg_t){longtag, 1, 0};
  cr_assert_eq(scan_markers(&cfg, c, "x", 1, NULL, NULL), -1);
}

Test(markers, sixty_four_tags)
{
  static char names[SCAN_MARKER_TAGS_MAX][8];
  const char *tags[SCAN_MARKER_TAGS_MAX];
  for (int i = 0; i < SCAN_MARKER_TAGS_MAX; i++) {
    snprintf(names[i], sizeof names[i], "T%02d", i);
    tags[i] = names[i];
  }
  scan_marker_cfg_t cfg = {tags, SCAN_MARKER_TAGS_MAX, 0};
  const char *src = "// T63: last\n// T00 first\n";
  char *got = stst_markers_cfg(&cfg, "c", src, strlen(src));
  cr_assert_str_eq(got, "1:4 T63 last|2:4 T00 first");
  free(got);
}
