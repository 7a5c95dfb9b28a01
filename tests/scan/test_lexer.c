/*
 * test_lexer.c: comment-aware lexing (scan/lexer.h).
 *
 * Contract checked, per language family: line, block, trailing and nested
 * comments are reported with their body, position and flags; nothing
 * inside any kind of string (quoted, escaped, doubled, triple-quoted, raw,
 * verbatim, template, heredoc, long bracket, regex, char literal) is a
 * comment; constructs that look like openers but are not (Rust lifetimes,
 * Haskell -->, shell $#, PHP #[, YAML a#b, MATLAB transpose) stay code;
 * unterminated constructs end sensibly; CRLF keeps positions and leaves
 * no '\r' in bodies; arbitrary bytes are accepted; the callback can stop
 * the lexing; scan_lex_blank keeps the length, the newlines and the code
 * and blanks comments and string contents.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "scan/lexer.h"
#include "tests/scan/leaks.h"
#include "tests/scan/scan_test.h"

TestSuite(lexer, .timeout = 60, .fini = scan_test_check_leaks);

typedef struct {
  const char *lang;
  const char *src;
  const char *want; /* stst_comments format */
} lex_case_t;

static void run_cases(const lex_case_t *cases, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    char *got = stst_comments(cases[i].lang, cases[i].src);
    cr_expect_str_eq(got, cases[i].want, "[%s] %s\n got: %s\nwant: %s",
                     cases[i].lang, cases[i].src, got, cases[i].want);
    free(got);
  }
}

#define RUN(cases) run_cases(cases, sizeof cases / sizeof cases[0])

/* ---- C family ---- */

static const lex_case_t c_cases[] = {
    {"c", "int a; // hi\n", "1:8[ hi]"},
    {"c", "/* a */ b /* c\n d */", "1:1[ a ]|1:11[ c\n d ]"},
    {"c", "s = \"// not /* not */\"; /* x */", "1:25[ x ]"},
    {"c", "s = \"a\\\"// not\"; // y", "1:18[ y]"},
    {"c", "c = '\"'; // y", "1:10[ y]"},
    {"c", "c = '\\''; /* y */", "1:11[ y ]"},
    {"c", "c = '\\x41'; // y", "1:13[ y]"},
    {"c", "/* a /* b */ c */", "1:1[ a /* b ]"},
    {"c", "#error don't // x", "1:14[ x]"},
    {"c", "// splice \\\n continued\nint x; // z",
     "1:1[ splice \\\n continued]|3:8[ z]"},
    {"c", "/**/ //\n", "1:1[]|1:6[]"},
    {"c", "a = b / c; /* d */ e = f/g; // h", "1:12[ d ]|1:29[ h]"},
    {"c", "x = L'\"'; // y", "1:11[ y]"},
    {"cpp", "int x = 1'000'000; // c", "1:20[ c]"},
    {"cpp", "auto s = R\"x(// not )\" /* still */ )x\"; // real",
     "1:41[ real]"},
    {"cpp", "auto s = u8R\"(// not)\"; // real", "1:25[ real]"},
    {"cpp", "auto R = 1; char *s = \"x\"; // c", "1:28[ c]"},
    {"cpp", "x = FOOR\"(\"; // c", "1:14[ c]"},
    {"java", "String s = \"\"\"\n// not\n\"\"\"; // c", "3:6[ c]"},
    {"csharp", "var p = @\"C:\\\"; // c", "1:17[ c]"},
    {"csharp", "var p = @\"say \"\"//\"\" \"; // c", "1:25[ c]"},
    {"csharp", "var p = $@\"{x}\\\"; // c", "1:19[ c]"},
    {"go", "s := `// raw\n/* also */`; // c", "2:14[ c]"},
    {"go", "r := '\"' // c", "1:10[ c]"},
    {"php", "$a = '# no'; # c\n#[Attr]\n// d", "1:14[ c]|3:1[ d]"},
    {"php", "$s = <<<EOT\n// not\nEOT;\n/* e */", "4:1[ e ]"},
    {"php", "$s = <<<'EOT'\n  # not\n  EOT;\n# e", "4:1[ e]"},
    {"css", "a { b: url(\"//x\"); } /* c */", "1:22[ c ]"},
    {"scss", "$a: 1; // c\n/* d */", "1:8[ c]|2:1[ d ]"},
    {"json", "{\"a\": \"// no\"} // c", "1:16[ c]"},
    {"devicetree", "x = \"/* no */\"; /* y */", "1:17[ y ]"},
};

Test(lexer, c_family)
{
  RUN(c_cases);
}

/* ---- nested block comments ---- */

static const lex_case_t nested_cases[] = {
    {"rust", "/* a /* b */ c */ d // e", "1:1[ a /* b */ c ]|1:21[ e]"},
    {"rust", "let s = r##\"// \"# still\"##; // real", "1:29[ real]"},
    {"rust", "let s = r\"\\\"; // c", "1:15[ c]"},
    {"rust", "let s = br#\"//\"#; // c", "1:19[ c]"},
    {"rust", "fn f<'a>(x: &'a str) -> char { 'x' } // c", "1:38[ c]"},
    {"rust", "let q = b'\"'; // c", "1:15[ c]"},
    {"rust", "let q = '\\u{1F600}'; // c", "1:22[ c]"},
    {"rust", "let s = \"multi\n// not\n\"; // c", "3:4[ c]"},
    {"swift", "/* a /* b */ */ let s = #\"a \" // no\"#; // c",
     "1:1[ a /* b */ ]|1:40[ c]"},
    {"kotlin", "/* a /* b */ c */ val s = \"\"\"\\\"\"\"\" // d",
     "1:1[ a /* b */ c ]|1:36[ d]"},
    {"scala", "/* /* */ */ val c = 'x' // d", "1:1[ /* */ ]|1:25[ d]"},
    {"dart", "var s = '''// no'''; /* a /* b */ */", "1:22[ a /* b */ ]"},
    {"d", "/+ a /+ b +/ c +/ // d", "1:1[ a /+ b +/ c ]|1:19[ d]"},
    {"haskell", "x = y --> z -- c\n{- a {- b -} c -}",
     "1:13[ c]|2:1[ a {- b -} c ]"},
    {"haskell", "f x' = 'a' --- c", "1:12[- c]"},
    {"ocaml", "(* a (* b *) c *) let x = 'a' (* d *)",
     "1:1[ a (* b *) c ]|1:31[ d ]"},
    {"ocaml", "let f (x : 'a) = x (* c *)", "1:20[ c ]"},
    {"fsharp", "(* a (* b *) *) // c", "1:1[ a (* b *) ]|1:17[ c]"},
    {"lisp", "(a \"; not\") ; c\n#| x #| y |# z |#",
     "1:13[ c]|2:1[ x #| y |# z ]"},
    {"lisp", "(eq #\\; x) ; c", "1:12[ c]"},
    {"clojure", "(str \\; \"x\") ; c", "1:14[ c]"},
    {"julia", "#= a #= b =# c =# x = y' # d", "1:1[ a #= b =# c ]|1:26[ d]"},
    {"nim", "#[ a #[ b ]# c ]# x # d", "1:1[ a #[ b ]# c ]|1:21[ d]"},
};

Test(lexer, nested_and_raw)
{
  RUN(nested_cases);
}

/* ---- # languages, heredocs, long brackets ---- */

static const lex_case_t hash_cases[] = {
    {"python", "x = 1  # c\n", "1:8[ c]"},
    {"python", "s = '# not'  # c", "1:14[ c]"},
    {"python", "'''TODO in docstring'''\n# real",
     "1:1[TODO in docstring]|2:1[ real]"},
    {"python", "\"\"\"doc\n# not\n\"\"\" # c", "1:1[doc\n# not\n]|3:5[ c]"},
    {"python", "def f():\n    \"\"\"doc\"\"\"\n", "2:5[doc]"},
    {"python", "x = \"\"\"no # doc\"\"\"  # c", "1:21[ c]"},
    {"python", "f(\"\"\"a\n\"\"\", 1) # c", "2:9[ c]"},
    {"python", "\"\"\"unterminated\n# in it", "1:1[unterminated\n# in it]"},
    {"python", "s = 'a\\'b # no' # c", "1:17[ c]"},
    {"python", "s = 'unterminated\n# c", "2:1[ c]"},
    {"shell", "echo $# ${#x} a#b # c", "1:19[ c]"},
    {"shell", "echo it\\'s # c", "1:12[ c]"},
    {"shell", "echo 'a # b' \"c # d\" # e", "1:22[ e]"},
    {"shell", "echo \"a\\\" # b\" # c", "1:16[ c]"},
    {"shell", "cat <<EOF\n# not\nEOF\n# yes", "4:1[ yes]"},
    {"shell", "cat <<-'EOF'\n\t# not\n\tEOF\n# yes", "4:1[ yes]"},
    {"shell", "cat <<\"END\" | grep x # c1\n# body\nEND\n# c2",
     "1:22[ c1]|4:1[ c2]"},
    {"shell", "cat <<A <<B\n# a\nA\n# b\nB\n# c", "6:1[ c]"},
    {"shell", "cat <<< \"# no\" # c", "1:16[ c]"},
    {"shell", "x=$((1<<2)) # c", "1:13[ c]"},
    {"shell", "cat <<EOF\n# unterminated", ""},
    {"ruby", "=begin\nblock\n=end\nx = 1 # c", "1:1[\nblock\n]|4:7[ c]"},
    {"ruby", "s = <<~EOS\n  # not\n  EOS\n# c", "4:1[ c]"},
    {"ruby", "c = ?# # real", "1:8[ real]"},
    {"ruby", "class << self # c", "1:15[ c]"},
    {"perl", "my $n = $#a; # c", "1:14[ c]"},
    {"perl", "=pod\n\nTODO\n\n=cut\nprint 1; # c", "1:1[pod\n\nTODO\n\n]|6:10[ c]"},
    {"perl", "print <<EOF;\n# no\nEOF\n# c", "4:1[ c]"},
    {"elixir", "x = ?# # c", "1:8[ c]"},
    {"elixir", "s = \"\"\"\n# no\n\"\"\" # c", "3:5[ c]"},
    {"yaml", "key: value # c\nurl: http://x#frag\ns: \"# not\"\nt: it's # d",
     "1:12[ c]|4:9[ d]"},
    {"toml", "a = \"# no\" # c\nb = '''\n# no\n'''", "1:12[ c]"},
    {"make", "A = b \\# c # d", "1:12[ d]"},
    {"dockerfile", "RUN echo \"# no\" # c", "1:17[ c]"},
    {"cmake", "#[[ block ]] set(x \"# no\") # c\nx([=[ # not ]=])",
     "1:1[ block ]|1:28[ c]"},
    {"cmake", "#[[ unterminated", "1:1[ unterminated]"},
    {"r", "x <- '# no' # c", "1:13[ c]"},
    {"tcl", "set a b#c ; # d", "1:13[ d]"},
    {"hcl", "a = <<EOF\n# no\nEOF\n# c", "4:1[ c]"},
    {"nix", "s = ''\n # no\n''; # c", "3:5[ c]"},
    {"powershell", "$a = 1 # c\n<# block #>\n\"`\"# not\" # d",
     "1:8[ c]|2:1[ block ]|3:11[ d]"},
    {"coffeescript", "### block ###\nx = 1 # c", "1:1[ block ]|2:7[ c]"},
    {"kconfig", "prompt \"# no\" # c", "1:15[ c]"},
    {"ini", "; c\n# d\nkey = a ; not", "1:1[ c]|2:1[ d]"},
};

Test(lexer, hash_languages_and_heredocs)
{
  RUN(hash_cases);
}

/* ---- --, %, ;, ', REM, !, markup, ... ---- */

static const lex_case_t other_cases[] = {
    {"lua", "--[==[ block ]] still ]==] x = 1 -- c",
     "1:1[ block ]] still ]|1:34[ c]"},
    {"lua", "s = [[ -- not ]] -- c", "1:18[ c]"},
    {"lua", "s = [==[\n-- not\n]==] -- c", "3:6[ c]"},
    {"lua", "--[ not long\nx = a[b[1]] -- c", "1:1[[ not long]|2:13[ c]"},
    {"sql", "SELECT '-- not', 'it''s -- not' -- c\n/* b */",
     "1:33[ c]|2:1[ b ]"},
    {"ada", "X := Y'First; -- c\nC : Character := '-'; -- d",
     "1:15[ c]|2:23[ d]"},
    {"vhdl", "a <= \"--no\"; -- c", "1:14[ c]"},
    {"html", "<p>don't</p><!-- c --><!-- d\n e -->", "1:13[ c ]|1:23[ d\n e ]"},
    {"xml", "<a b=\"<!-- no\"/>", "1:7[ no\"/>]"},
    {"markdown", "# Title\n<!-- c -->", "2:1[ c ]"},
    {"erlang", "X = $%, % c", "1:9[ c]"},
    {"erlang", "S = \"% no\" % c", "1:12[ c]"},
    {"tex", "50\\% done % c", "1:11[ c]"},
    {"matlab", "a = b'; % c\ns = 'it''s % not'; % d\n%{\nblock\n%}",
     "1:9[ c]|2:20[ d]|3:1[\nblock\n]"},
    {"prolog", "a :- b. % c\n/* d */ 'x%y'", "1:9[ c]|2:1[ d ]"},
    {"visual-basic", "x = \"a ' b\" ' c\nREM d\nremark = 1\nrem = 2",
     "1:13[ c]|2:1[ d]|4:1[ = 2]"},
    {"batch", "@echo off\nREM c\n:: d\necho rem not\n@rem e",
     "2:1[ c]|3:1[ d]|5:1[ e]"},
    {"fortran", "print *, 'a ! b' ! c", "1:18[ c]"},
    {"fortran-fixed", "C comment\n      x = 1\n* star\n      y = 2 ! z",
     "1:1[ comment]|3:1[ star]|4:13[ z]"},
    {"vim", "\" comment\nlet s = \"str\"\nlet t = 'it''s'", "1:1[ comment]"},
    {"pascal", "{ a } (* b *) // c\ns := 'it''s { no }';",
     "1:1[ a ]|1:7[ b ]|1:15[ c]"},
    {"smalltalk", "x := 'it''s \"no\"'. \"c\"", "1:20[c]"},
    {"zig", "const s = \\\\ // not a comment\n; // c", "2:3[ c]"},
    {"verilog", "assign a = b; // c", "1:15[ c]"},
    {"assembly", "movl $1, %eax # c\n/* d */", "1:15[ c]|2:1[ d ]"},
    {"nasm", "mov eax, ';' ; c", "1:14[ c]"},
    {"cobol", "DISPLAY '*> no' *> c", "1:17[ c]"},
    {"m4", "dnl c\nAC_INIT # d", "1:1[ c]|2:9[ d]"},
};

Test(lexer, other_comment_syntaxes)
{
  RUN(other_cases);
}

/* ---- JavaScript / TypeScript ---- */

static const lex_case_t js_cases[] = {
    {"javascript", "const t = `a ${ b /* c */ } // d`; // e", "1:19[ c ]|1:36[ e]"},
    {"javascript", "`${ `${'x'}` }` // z", "1:17[ z]"},
    {"javascript", "`a ${ {b: 1}.b } // no` // c", "1:25[ c]"},
    {"javascript", "const r = /\\/\\/ not/; // c", "1:23[ c]"},
    {"javascript", "a = b / c; // d", "1:12[ d]"},
    {"javascript", "x = /[/*]/.test(s); // y", "1:21[ y]"},
    {"javascript", "return /'/.test(s) // c", "1:20[ c]"},
    {"javascript", "a = b\n/ c / d; // e", "2:10[ e]"},
    {"typescript", "let s: string = 'it\\'s'; // c", "1:26[ c]"},
    {"typescript", "`unterminated ${", ""},
    {"javascript", "}}} `x` // c", "1:9[ c]"},
};

Test(lexer, javascript_templates_and_regexes)
{
  RUN(js_cases);
}

/* ---- flags, positions, line endings, bytes ---- */

Test(lexer, doc_and_unterminated_flags)
{
  char *f = stst_comment_flags(
      "c", "/** d */ /**/ /*! e */ /// f\n//! g\n// h\n/* open");
  cr_assert_str_eq(f, "BD|B|BD|LD|LD|L|BU");
  free(f);
  f = stst_comment_flags("rust", "/* a /* b */");
  cr_assert_str_eq(f, "BU");
  free(f);
  f = stst_comment_flags("perl", "=head1 X\n");
  cr_assert_str_eq(f, "BDU");
  free(f);
  f = stst_comment_flags("haskell", "{-| doc -}");
  cr_assert_str_eq(f, "BD");
  free(f);
  f = stst_comment_flags("python", "\"\"\"doc\"\"\"\n'\'\'open");
  cr_assert_str_eq(f, "BDS|BDSU");
  free(f);
}

Test(lexer, doc_marker_is_not_in_the_body)
{
  char *got = stst_comments("c", "/// a\n/** b */");
  cr_assert_str_eq(got, "1:1[ a]|2:1[ b ]");
  free(got);
}

Test(lexer, crlf_keeps_positions_and_drops_cr)
{
  char *got = stst_comments("c", "a;\r\n  // b\r\n/* c\r\n d */ // e\r\n");
  cr_assert_str_eq(got, "2:3[ b]|3:1[ c\r\n d ]|4:7[ e]");
  free(got);
  got = stst_comments("python", "x = 1 # a\r\n# b\r\n");
  cr_assert_str_eq(got, "1:7[ a]|2:1[ b]");
  free(got);
  got = stst_comments("shell", "cat <<EOF\r\n# no\r\nEOF\r\n# c\r\n");
  cr_assert_str_eq(got, "4:1[ c]");
  free(got);
}

Test(lexer, nul_and_invalid_bytes_are_just_bytes)
{
  static const char src[] = "x = \"\0\xff\"; // a\0b\xc3\n/* \xfe\xff */";
  char *got = stst_comments_n("c", src, sizeof src - 1);
  char want[] = "1:11[ a\0b\xc3]|2:1[ \xfe\xff ]";
  cr_assert_eq(memcmp(got, want, sizeof want - 1), 0);
  free(got);
}

Test(lexer, unterminated_strings_end_at_their_line)
{
  char *got = stst_comments("c", "s = \"open\n// c\nt = 'x\n// d");
  cr_assert_str_eq(got, "2:1[ c]|4:1[ d]");
  free(got);
  got = stst_comments("cpp", "s = R\"x(open // no");
  cr_assert_str_eq(got, "");
  free(got);
  got = stst_comments("go", "s := `open\n// no");
  cr_assert_str_eq(got, "");
  free(got);
  got = stst_comments("lua", "s = [[open -- no");
  cr_assert_str_eq(got, "");
  free(got);
}

Test(lexer, empty_and_tiny_inputs)
{
  static const char *const inputs[] = {"", "/", "/*", "//", "\"", "'", "R\"",
                                       "`", "#", "-", "--[", "[", "<<",
                                       "<<EOF", "=", "\\", "$", "?", "{", "}"};
  for (size_t i = 0; i < scan_lang_count(); i++) {
    const struct scan_lang *l = scan_lang_at(i);
    for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
      char *got = stst_comments(l->name, inputs[k]);
      free(got);
      char *b = stst_blank(l->name, inputs[k]);
      cr_assert_eq(strlen(b), strlen(inputs[k]));
      free(b);
    }
  }
  cr_assert_eq(scan_lex_comments(stst_lang("c"), NULL, 0, NULL, NULL), -1);
  cr_assert_eq(scan_lex_comments(NULL, "x", 1, NULL, NULL), -1);
}

static int stop_at_second(void *ud, const scan_comment_t *c)
{
  (void)c;
  int *n = ud;
  return ++*n == 2 ? 7 : 0;
}

Test(lexer, callback_stops_the_lexing)
{
  int n = 0;
  int rc = scan_lex_comments(stst_lang("c"), "//a\n//b\n//c\n", 12,
                             stop_at_second, &n);
  cr_assert_eq(rc, 7);
  cr_assert_eq(n, 2);
}

/* ---- scan_lex_blank ---- */

typedef struct {
  const char *lang;
  const char *src;
  const char *want;
} blank_case_t;

static const blank_case_t blank_cases[] = {
    {"c", "int a = 1; // x\nchar *s = \"ab\";", "int a = 1;     \nchar *s = \"  \";"},
    {"c", "/* a\n b */x", "    \n     x"},
    {"c", "c = 'x'; s = \"a\\\"b\";", "c = ' '; s = \"    \";"},
    {"c", "a;\r\n// b\r\nc;", "a;\r\n    \r\nc;"},
    {"cpp", "R\"d(x)d\";", "R\"     \";"},
    {"python", "x = '''a\nb''' # c", "x = ''' \n '''    "},
    {"javascript", "`a${b}c` // d", "` ${b} `     "},
    {"javascript", "x = /ab+/g;", "x = /   /g;"},
    {"shell", "cat <<EOF\nbody\nEOF\necho", "cat <<EOF\n    \nEOF\necho"},
    {"rust", "r#\"x\"#", "r#\" \"#"},
    {"lua", "[==[x]==] --[[c]]", "[==[ ]==]        "},
    {"html", "<b><!-- c --></b>", "<b>          </b>"},
    {"sql", "'it''s' -- c", "'     '     "},
};

Test(lexer, blank_keeps_length_newlines_and_code)
{
  for (size_t i = 0; i < sizeof blank_cases / sizeof blank_cases[0]; i++) {
    const blank_case_t *c = &blank_cases[i];
    char *got = stst_blank(c->lang, c->src);
    cr_expect_str_eq(got, c->want, "[%s] %s\n got: [%s]\nwant: [%s]",
                     c->lang, c->src, got, c->want);
    free(got);
  }
}

/* Every comment the lexer reports is all blanks (and newlines) in the
 * blanked copy, and every other byte is either kept or blanked inside a
 * string: checked over a mixed source in every language. */
static const char *blank_source =
    "int a = 1; // line one\n"
    "/* block\r\n two */ s = \"str // in\" + 'c' + `tpl ${x} // t`;\n"
    "# hash comment\n"
    "-- dashes\n"
    "x = [[long]] <!-- markup -->\n"
    "cat <<EOF\nheredoc # no\nEOF\n"
    "; semi % percent ' tick REM rem\n";

typedef struct {
  char *blank;
  const char *base;
} blank_check_t;

static int check_blanked(void *ud, const scan_comment_t *c)
{
  blank_check_t *bc = ud;
  size_t off = (size_t)(c->start - bc->base);
  for (size_t i = 0; i < c->span; i++) {
    char b = bc->blank[off + i];
    cr_assert(b == ' ' || b == '\n' || b == '\r',
              "comment byte %zu blanked", off + i);
  }
  return 0;
}

Test(lexer, blank_agrees_with_the_comments_in_every_language)
{
  size_t n = strlen(blank_source);
  for (size_t i = 0; i < scan_lang_count(); i++) {
    const struct scan_lang *l = scan_lang_at(i);
    char *b = stst_blank(l->name, blank_source);
    cr_assert_eq(strlen(b), n, "%s keeps the length", l->name);
    for (size_t k = 0; k < n; k++) {
      if (blank_source[k] == '\n' || blank_source[k] == '\r')
        cr_assert_eq(b[k], blank_source[k], "%s keeps line ends", l->name);
      else
        cr_assert(b[k] == blank_source[k] || b[k] == ' ',
                  "%s: byte %zu kept or blanked", l->name, k);
    }
    blank_check_t bc = {b, blank_source};
    scan_lex_comments(l, blank_source, n, check_blanked, &bc);
    free(b);
  }
}

Test(lexer, blank_ignores_null_arguments)
{
  char out[4] = "xyz";
  scan_lex_blank(NULL, "abc", 3, out);
  scan_lex_blank(stst_lang("c"), NULL, 3, out);
  cr_assert_str_eq(out, "xyz");
}
