/*
 * lang.c: the language table and detection (see lang.h).
 *
 * Token lists are shared between languages with the same lexical syntax
 * (C, Objective-C, device tree and linker scripts all use c_toks). Within a
 * list, openers sharing a first byte are ordered longest first; the lexer
 * tries them in order. Escapes: 'E' below is the backslash.
 *
 * Built once (pthread_once, on the first call of any function here): the
 * class table of each language, and hash tables for base names and
 * extensions (exact and case-folded), since detection runs for every file
 * of a repository.
 */
#include "scan/lang.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define E '\\'

#define TOK_LINE(o, f, d) {o, NULL, SCAN_TK_LINE, 0, (f), d, sizeof(o) - 1}
#define TOK_BLOCK(o, c, f, d) \
  {o, c, SCAN_TK_BLOCK, 0, (f), d, sizeof(o) - 1}
#define TOK_STR(o, c, esc, f) \
  {o, c, SCAN_TK_STR, esc, (f), NULL, sizeof(o) - 1}
#define TOK_CHAR(esc) {"'", NULL, SCAN_TK_CHAR, esc, 0, NULL, 1}
#define TOK(o, kind, f) {o, NULL, kind, 0, (f), NULL, sizeof(o) - 1}
#define TOK_END {NULL, NULL, SCAN_TK_END, 0, 0, NULL, 0}

#define MULTI SCAN_TF_MULTI
#define DOUBLE SCAN_TF_DOUBLE

/* ---- token lists ---- */

static const scan_tok_t c_toks[] = {
    TOK_LINE("//", 0, "/!"), TOK_BLOCK("/*", "*/", 0, "*!"),
    TOK_STR("\"", NULL, E, 0), TOK_CHAR(E), TOK_END};

static const scan_tok_t java_toks[] = {
    TOK_LINE("//", 0, NULL), TOK_BLOCK("/*", "*/", 0, "*"),
    TOK_STR("\"\"\"", NULL, E, MULTI), TOK_STR("\"", NULL, E, 0),
    TOK_CHAR(E), TOK_END};

static const scan_tok_t csharp_toks[] = {
    TOK_LINE("//", 0, "/"), TOK_BLOCK("/*", "*/", 0, "*"),
    TOK_STR("\"\"\"", NULL, 0, MULTI),
    TOK_STR("@\"", "\"", 0, MULTI | DOUBLE),
    TOK_STR("@$\"", "\"", 0, MULTI | DOUBLE),
    TOK_STR("$@\"", "\"", 0, MULTI | DOUBLE), TOK_STR("\"", NULL, E, 0),
    TOK_CHAR(E), TOK_END};

static const scan_tok_t js_toks[] = {
    TOK_LINE("//", 0, NULL), TOK_BLOCK("/*", "*/", 0, "*!"),
    TOK("/", SCAN_TK_REGEX, 0), TOK_STR("'", NULL, E, 0),
    TOK_STR("\"", NULL, E, 0),
    TOK_STR("`", NULL, E, MULTI | SCAN_TF_TEMPLATE),
    TOK("{", SCAN_TK_LBRACE, 0), TOK("}", SCAN_TK_RBRACE, 0), TOK_END};

static const scan_tok_t go_toks[] = {
    TOK_LINE("//", 0, NULL), TOK_BLOCK("/*", "*/", 0, NULL),
    TOK_STR("\"", NULL, E, 0), TOK_STR("`", NULL, 0, MULTI), TOK_CHAR(E),
    TOK_END};

static const scan_tok_t rust_toks[] = {
    TOK_LINE("//", 0, "/!"), TOK_BLOCK("/*", "*/", SCAN_TF_NEST, "*!"),
    TOK_STR("\"", NULL, E, MULTI), TOK_CHAR(E), TOK_END};

static const scan_tok_t swift_toks[] = {
    TOK_LINE("//", 0, "/:"), TOK_BLOCK("/*", "*/", SCAN_TF_NEST, "*:"),
    TOK_STR("\"\"\"", NULL, E, MULTI), TOK_STR("\"", NULL, E, 0), TOK_END};

/* Kotlin and Scala: nested block comments, """raw""" strings. */
static const scan_tok_t kotlin_toks[] = {
    TOK_LINE("//", 0, NULL), TOK_BLOCK("/*", "*/", SCAN_TF_NEST, "*"),
    TOK_STR("\"\"\"", NULL, 0, MULTI), TOK_STR("\"", NULL, E, 0),
    TOK_CHAR(E), TOK_END};

static const scan_tok_t dart_toks[] = {
    TOK_LINE("//", 0, "/"), TOK_BLOCK("/*", "*/", SCAN_TF_NEST, "*"),
    TOK_STR("'''", NULL, E, MULTI), TOK_STR("'", NULL, E, 0),
    TOK_STR("\"\"\"", NULL, E, MULTI), TOK_STR("\"", NULL, E, 0), TOK_END};

static const scan_tok_t groovy_toks[] = {
    TOK_LINE("//", 0, NULL), TOK_BLOCK("/*", "*/", 0, "*"),
    TOK_STR("'''", NULL, E, MULTI), TOK_STR("'", NULL, E, 0),
    TOK_STR("\"\"\"", NULL, E, MULTI), TOK_STR("\"", NULL, E, 0), TOK_END};

static const scan_tok_t d_toks[] = {
    TOK_LINE("//", 0, "/"), TOK_BLOCK("/*", "*/", 0, "*"),
    TOK_BLOCK("/+", "+/", SCAN_TF_NEST, "+"), TOK_STR("\"", NULL, E, MULTI),
    TOK_STR("`", NULL, 0, MULTI), TOK_CHAR(E), TOK_END};

static const scan_tok_t zig_toks[] = {
    TOK_LINE("//", 0, "/!"), TOK_STR("\\\\", NULL, 0, SCAN_TF_TO_EOL),
    TOK_STR("\"", NULL, E, 0), TOK_CHAR(E), TOK_END};

/* Protocol Buffers, Solidity, Thrift-like C syntax with '...' strings. */
static const scan_tok_t cq_toks[] = {
    TOK_LINE("//", 0, "/"), TOK_BLOCK("/*", "*/", 0, "*"),
    TOK_STR("\"", NULL, E, 0), TOK_STR("'", NULL, E, 0), TOK_END};

static const scan_tok_t php_toks[] = {
    TOK_LINE("#", SCAN_TF_NOT_BEFORE_BRACKET, NULL), TOK_LINE("//", 0, NULL),
    TOK_BLOCK("/*", "*/", 0, "*"), TOK("<<<", SCAN_TK_HEREDOC, 0),
    TOK("\n", SCAN_TK_NEWLINE, 0), TOK_STR("'", NULL, E, MULTI),
    TOK_STR("\"", NULL, E, MULTI), TOK_END};

static const scan_tok_t css_toks[] = {
    TOK_BLOCK("/*", "*/", 0, NULL), TOK_STR("\"", NULL, E, 0),
    TOK_STR("'", NULL, E, 0), TOK_END};

static const scan_tok_t scss_toks[] = {
    TOK_LINE("//", 0, "/"), TOK_BLOCK("/*", "*/", 0, NULL),
    TOK_STR("\"", NULL, E, 0), TOK_STR("'", NULL, E, 0), TOK_END};

static const scan_tok_t json_toks[] = {
    TOK_LINE("//", 0, NULL), TOK_BLOCK("/*", "*/", 0, NULL),
    TOK_STR("\"", NULL, E, 0), TOK_END};

static const scan_tok_t python_toks[] = {
    TOK_LINE("#", 0, NULL), TOK_STR("'''", NULL, E, MULTI | SCAN_TF_DOCSTRING),
    TOK_STR("'", NULL, E, 0),
    TOK_STR("\"\"\"", NULL, E, MULTI | SCAN_TF_DOCSTRING),
    TOK_STR("\"", NULL, E, 0), TOK_END};

static const scan_tok_t coffee_toks[] = {
    TOK_BLOCK("###", "###", 0, NULL), TOK_LINE("#", 0, NULL),
    TOK_STR("'''", NULL, E, MULTI), TOK_STR("'", NULL, E, 0),
    TOK_STR("\"\"\"", NULL, E, MULTI), TOK_STR("\"", NULL, E, 0), TOK_END};

static const scan_tok_t nim_toks[] = {
    TOK_BLOCK("##[", "]##", SCAN_TF_NEST, NULL),
    TOK_BLOCK("#[", "]#", SCAN_TF_NEST, NULL), TOK_LINE("#", 0, "#"),
    TOK_STR("\"\"\"", NULL, 0, MULTI), TOK_STR("\"", NULL, E, 0),
    TOK_CHAR(E), TOK_END};

static const scan_tok_t shell_toks[] = {
    TOK_LINE("#", SCAN_TF_WORDSTART, NULL), TOK("\\", SCAN_TK_SKIP, 0),
    TOK_STR("$'", "'", E, MULTI), TOK_STR("'", NULL, 0, MULTI),
    TOK_STR("\"", NULL, E, MULTI), TOK("<<", SCAN_TK_HEREDOC, 0),
    TOK("\n", SCAN_TK_NEWLINE, 0), TOK_END};

static const scan_tok_t powershell_toks[] = {
    TOK_BLOCK("<#", "#>", 0, NULL), TOK_LINE("#", SCAN_TF_WORDSTART, NULL),
    TOK_STR("@\"", "\"@", '`', MULTI), TOK_STR("@'", "'@", 0, MULTI),
    TOK_STR("\"", NULL, '`', MULTI), TOK_STR("'", NULL, 0, MULTI | DOUBLE),
    TOK_END};

static const scan_tok_t ruby_toks[] = {
    TOK_LINE("#", 0, NULL),
    TOK_BLOCK("=begin", "=end", SCAN_TF_COL1 | SCAN_TF_CLOSE_BOL, NULL),
    TOK("<<", SCAN_TK_HEREDOC, 0), TOK("\n", SCAN_TK_NEWLINE, 0),
    TOK("?", SCAN_TK_SKIP, SCAN_TF_NOT_AFTER_OPERAND),
    TOK_STR("'", NULL, E, MULTI), TOK_STR("\"", NULL, E, MULTI),
    TOK_STR("`", NULL, E, MULTI), TOK_END};

static const scan_tok_t crystal_toks[] = {
    TOK_LINE("#", 0, NULL), TOK("<<", SCAN_TK_HEREDOC, 0),
    TOK("\n", SCAN_TK_NEWLINE, 0), TOK_STR("\"", NULL, E, MULTI),
    TOK_CHAR(E), TOK_END};

static const scan_tok_t perl_toks[] = {
    TOK_LINE("#", SCAN_TF_NOT_AFTER_DOLLAR, NULL),
    TOK("=", SCAN_TK_POD, SCAN_TF_COL1), TOK("<<", SCAN_TK_HEREDOC, 0),
    TOK("\n", SCAN_TK_NEWLINE, 0), TOK_STR("'", NULL, E, MULTI),
    TOK_STR("\"", NULL, E, MULTI), TOK_END};

static const scan_tok_t lua_toks[] = {
    TOK("--[", SCAN_TK_LONG_CMT, 0), TOK_LINE("--", 0, "-"),
    TOK("[", SCAN_TK_LONG_STR, 0), TOK_STR("'", NULL, E, 0),
    TOK_STR("\"", NULL, E, 0), TOK_END};

static const scan_tok_t sql_toks[] = {
    TOK_LINE("--", 0, NULL), TOK_BLOCK("/*", "*/", 0, NULL),
    TOK_STR("'", NULL, 0, MULTI | DOUBLE), TOK_STR("\"", NULL, 0, DOUBLE),
    TOK_END};

static const scan_tok_t haskell_toks[] = {
    TOK_LINE("--", SCAN_TF_HS_DASHES, NULL),
    TOK_BLOCK("{-", "-}", SCAN_TF_NEST, "|"), TOK_STR("\"", NULL, E, 0),
    TOK_CHAR(E), TOK_END};

static const scan_tok_t ocaml_toks[] = {
    TOK_BLOCK("(*", "*)", SCAN_TF_NEST, "*"), TOK_STR("\"", NULL, E, MULTI),
    TOK_CHAR(E), TOK_END};

static const scan_tok_t fsharp_toks[] = {
    TOK_LINE("//", 0, "/"), TOK_BLOCK("(*", "*)", SCAN_TF_NEST, NULL),
    TOK_STR("\"\"\"", NULL, 0, MULTI), TOK_STR("@\"", "\"", 0, MULTI | DOUBLE),
    TOK_STR("\"", NULL, E, MULTI), TOK_CHAR(E), TOK_END};

static const scan_tok_t pascal_toks[] = {
    TOK_LINE("//", 0, NULL), TOK_BLOCK("{", "}", 0, NULL),
    TOK_BLOCK("(*", "*)", 0, NULL), TOK_STR("'", NULL, 0, DOUBLE), TOK_END};

static const scan_tok_t ada_toks[] = {
    TOK_LINE("--", 0, NULL), TOK_STR("\"", NULL, 0, DOUBLE), TOK_CHAR(0),
    TOK_END};

static const scan_tok_t vhdl_toks[] = {
    TOK_LINE("--", 0, NULL), TOK_BLOCK("/*", "*/", 0, NULL),
    TOK_STR("\"", NULL, 0, DOUBLE), TOK_CHAR(0), TOK_END};

static const scan_tok_t lisp_toks[] = {
    TOK_LINE(";", 0, NULL), TOK_BLOCK("#|", "|#", SCAN_TF_NEST, NULL),
    TOK_STR("\"", NULL, E, MULTI), TOK("\\", SCAN_TK_SKIP, 0), TOK_END};

static const scan_tok_t clojure_toks[] = {
    TOK_LINE(";", 0, NULL), TOK_STR("\"", NULL, E, MULTI),
    TOK("\\", SCAN_TK_SKIP, 0), TOK_END};

static const scan_tok_t erlang_toks[] = {
    TOK_LINE("%", 0, "%"), TOK_STR("\"", NULL, E, MULTI),
    TOK_STR("'", NULL, E, 0), TOK("$", SCAN_TK_SKIP, 0), TOK_END};

static const scan_tok_t elixir_toks[] = {
    TOK_LINE("#", 0, NULL), TOK_STR("\"\"\"", NULL, E, MULTI),
    TOK_STR("\"", NULL, E, MULTI), TOK_STR("'''", NULL, E, MULTI),
    TOK_STR("'", NULL, E, MULTI),
    TOK("?", SCAN_TK_SKIP, SCAN_TF_NOT_AFTER_OPERAND), TOK_END};

static const scan_tok_t tex_toks[] = {
    TOK_LINE("%", 0, NULL), TOK("\\", SCAN_TK_SKIP, 0), TOK_END};

static const scan_tok_t matlab_toks[] = {
    TOK_BLOCK("%{", "%}", SCAN_TF_BOL | SCAN_TF_CLOSE_BOL, NULL),
    TOK_LINE("%", 0, NULL), TOK_STR("\"", NULL, 0, DOUBLE),
    TOK_STR("'", NULL, 0, DOUBLE | SCAN_TF_NOT_AFTER_OPERAND), TOK_END};

/* REM is a statement: only at the start of a line (rem = 1 is code). */
static const scan_tok_t vb_toks[] = {
    TOK_LINE("'", 0, "'"),
    TOK_LINE("REM", SCAN_TF_KEYWORD | SCAN_TF_BOL, NULL),
    TOK_STR("\"", NULL, 0, DOUBLE), TOK_END};

static const scan_tok_t batch_toks[] = {
    TOK_LINE("REM", SCAN_TF_KEYWORD | SCAN_TF_BOL, NULL),
    TOK_LINE("@REM", SCAN_TF_KEYWORD | SCAN_TF_BOL, NULL),
    TOK_LINE("::", SCAN_TF_BOL, NULL), TOK_END};

static const scan_tok_t fortran_toks[] = {
    TOK_LINE("!", 0, NULL), TOK_STR("'", NULL, 0, DOUBLE),
    TOK_STR("\"", NULL, 0, DOUBLE), TOK_END};

/* Fixed form (.f, .for, .f77): C, c or * in column 1 too. */
static const scan_tok_t fortran_fixed_toks[] = {
    TOK_LINE("C", SCAN_TF_COL1, NULL), TOK_LINE("c", SCAN_TF_COL1, NULL),
    TOK_LINE("*", SCAN_TF_COL1, NULL), TOK_LINE("!", 0, NULL),
    TOK_STR("'", NULL, 0, DOUBLE), TOK_STR("\"", NULL, 0, DOUBLE), TOK_END};

static const scan_tok_t vim_toks[] = {
    TOK_LINE("\"", SCAN_TF_BOL, NULL), TOK_STR("\"", NULL, E, 0),
    TOK_STR("'", NULL, 0, DOUBLE), TOK_END};

static const scan_tok_t ini_toks[] = {
    TOK_LINE(";", SCAN_TF_BOL, NULL), TOK_LINE("#", SCAN_TF_BOL, NULL),
    TOK_END};

static const scan_tok_t hash_bol_toks[] = {
    TOK_LINE("#", SCAN_TF_BOL, NULL), TOK_END};

static const scan_tok_t properties_toks[] = {
    TOK_LINE("#", SCAN_TF_BOL, NULL), TOK_LINE("!", SCAN_TF_BOL, NULL),
    TOK_END};

static const scan_tok_t yaml_toks[] = {
    TOK_LINE("#", SCAN_TF_WORDSTART, NULL),
    TOK_STR("\"", NULL, E, SCAN_TF_NOT_AFTER_OPERAND),
    TOK_STR("'", NULL, 0, DOUBLE | SCAN_TF_NOT_AFTER_OPERAND), TOK_END};

static const scan_tok_t toml_toks[] = {
    TOK_LINE("#", 0, NULL), TOK_STR("\"\"\"", NULL, E, MULTI),
    TOK_STR("\"", NULL, E, 0), TOK_STR("'''", NULL, 0, MULTI),
    TOK_STR("'", NULL, 0, 0), TOK_END};

static const scan_tok_t make_toks[] = {
    TOK_LINE("#", 0, NULL), TOK("\\", SCAN_TK_SKIP, 0), TOK_END};

static const scan_tok_t docker_toks[] = {
    TOK_LINE("#", SCAN_TF_WORDSTART, NULL), TOK("\\", SCAN_TK_SKIP, 0),
    TOK_STR("\"", NULL, E, 0), TOK_STR("'", NULL, 0, 0), TOK_END};

static const scan_tok_t cmake_toks[] = {
    TOK("#[", SCAN_TK_LONG_CMT, 0), TOK_LINE("#", 0, NULL),
    TOK("[", SCAN_TK_LONG_STR, 0), TOK_STR("\"", NULL, E, MULTI), TOK_END};

static const scan_tok_t hash_dq_toks[] = {
    TOK_LINE("#", 0, NULL), TOK_STR("\"", NULL, E, 0), TOK_END};

static const scan_tok_t hash_q_toks[] = {
    TOK_LINE("#", 0, NULL), TOK_STR("\"", NULL, E, 0),
    TOK_STR("'", NULL, E, 0), TOK_END};

static const scan_tok_t markup_toks[] = {
    TOK_BLOCK("<!--", "-->", 0, NULL), TOK_END};

static const scan_tok_t gas_toks[] = {
    TOK_LINE("//", 0, NULL), TOK_BLOCK("/*", "*/", 0, NULL),
    TOK_LINE("#", SCAN_TF_WORDSTART, NULL), TOK_STR("\"", NULL, E, 0),
    TOK_CHAR(E), TOK_END};

static const scan_tok_t nasm_toks[] = {
    TOK_LINE(";", 0, NULL), TOK_STR("\"", NULL, E, 0),
    TOK_STR("'", NULL, 0, 0), TOK_STR("`", NULL, E, 0), TOK_END};

static const scan_tok_t graphql_toks[] = {
    TOK_LINE("#", 0, NULL), TOK_STR("\"\"\"", NULL, E, MULTI),
    TOK_STR("\"", NULL, E, 0), TOK_END};

static const scan_tok_t hcl_toks[] = {
    TOK_LINE("#", 0, NULL), TOK_LINE("//", 0, NULL),
    TOK_BLOCK("/*", "*/", 0, NULL), TOK("<<", SCAN_TK_HEREDOC, 0),
    TOK("\n", SCAN_TK_NEWLINE, 0), TOK_STR("\"", NULL, E, 0), TOK_END};

static const scan_tok_t nix_toks[] = {
    TOK_LINE("#", 0, NULL), TOK_BLOCK("/*", "*/", 0, NULL),
    TOK_STR("''", NULL, 0, MULTI), TOK_STR("\"", NULL, E, MULTI), TOK_END};

static const scan_tok_t r_toks[] = {
    TOK_LINE("#", 0, "'"), TOK_STR("'", NULL, E, MULTI),
    TOK_STR("\"", NULL, E, MULTI), TOK_STR("`", NULL, E, 0), TOK_END};

static const scan_tok_t julia_toks[] = {
    TOK_BLOCK("#=", "=#", SCAN_TF_NEST, NULL), TOK_LINE("#", 0, NULL),
    TOK_STR("\"\"\"", NULL, E, MULTI), TOK_STR("\"", NULL, E, MULTI),
    TOK_STR("`", NULL, E, 0), TOK_CHAR(E), TOK_END};

static const scan_tok_t tcl_toks[] = {
    TOK_LINE("#", SCAN_TF_WORDSTART, NULL), TOK("\\", SCAN_TK_SKIP, 0),
    TOK_STR("\"", NULL, E, MULTI), TOK_END};

static const scan_tok_t prolog_toks[] = {
    TOK_LINE("%", 0, NULL), TOK_BLOCK("/*", "*/", 0, NULL),
    TOK_STR("\"", NULL, E, 0), TOK_STR("'", NULL, E, 0), TOK_END};

static const scan_tok_t smalltalk_toks[] = {
    TOK_BLOCK("\"", "\"", 0, NULL), TOK_STR("'", NULL, 0, MULTI | DOUBLE),
    TOK_END};

static const scan_tok_t cobol_toks[] = {
    TOK_LINE("*>", 0, NULL), TOK_STR("\"", NULL, 0, DOUBLE),
    TOK_STR("'", NULL, 0, DOUBLE), TOK_END};

static const scan_tok_t verilog_toks[] = {
    TOK_LINE("//", 0, NULL), TOK_BLOCK("/*", "*/", 0, NULL),
    TOK_STR("\"", NULL, E, 0), TOK_END};

static const scan_tok_t jsonnet_toks[] = {
    TOK_LINE("#", 0, NULL), TOK_LINE("//", 0, NULL),
    TOK_BLOCK("/*", "*/", 0, NULL), TOK_STR("|||", NULL, 0, MULTI),
    TOK_STR("\"", NULL, E, 0), TOK_STR("'", NULL, E, 0), TOK_END};

static const scan_tok_t m4_toks[] = {
    TOK_LINE("dnl", SCAN_TF_KEYWORD, NULL), TOK_LINE("#", 0, NULL), TOK_END};

/* ---- the languages ---- */

enum {
  L_C, L_CPP, L_OBJC, L_OBJCPP, L_CUDA, L_GLSL, L_DTS, L_LD, L_JAVA,
  L_CSHARP, L_JS, L_TS, L_GO, L_RUST, L_SWIFT, L_KOTLIN, L_SCALA, L_DART,
  L_GROOVY, L_D, L_ZIG, L_PROTO, L_SOLIDITY, L_THRIFT, L_PHP, L_CSS, L_SCSS,
  L_LESS, L_JSON, L_PYTHON, L_STARLARK, L_MESON, L_COFFEE, L_NIM, L_SHELL,
  L_POWERSHELL, L_RUBY, L_CRYSTAL, L_PERL, L_LUA, L_SQL, L_HASKELL, L_ELM,
  L_PURESCRIPT, L_OCAML, L_FSHARP, L_PASCAL, L_ADA, L_VHDL, L_LISP,
  L_SCHEME, L_RACKET, L_ELISP, L_CLOJURE, L_ERLANG, L_ELIXIR, L_TEX,
  L_MATLAB, L_VB, L_BATCH, L_FORTRAN, L_FORTRAN_FIXED, L_VIM, L_INI,
  L_PROPERTIES, L_IGNORE, L_YAML, L_TOML, L_MAKE, L_DOCKERFILE, L_CMAKE,
  L_KCONFIG, L_HTML, L_XML, L_MARKDOWN, L_VUE, L_GAS, L_NASM, L_GRAPHQL,
  L_HCL, L_NIX, L_R, L_JULIA, L_TCL, L_AWK, L_PROLOG, L_SMALLTALK, L_COBOL,
  L_VERILOG, L_JSONNET, L_GN, L_SED, L_M4, L_FISH,
  L_COUNT
};

static scan_lang_class_t cls_tables[L_COUNT];

#define LANG(id, nm, fam, tk, fl, hd) \
  [id] = {nm, fam, tk, fl, hd, &cls_tables[id]}
#define BR SCAN_FAMILY_BRACE
#define IN SCAN_FAMILY_INDENT
#define KW SCAN_FAMILY_KEYWORD
#define NO SCAN_FAMILY_NONE

static const struct scan_lang langs[L_COUNT] = {
    LANG(L_C, "c", BR, c_toks, SCAN_LF_SPLICE, SCAN_HD_NONE),
    LANG(L_CPP, "cpp", BR, c_toks, SCAN_LF_SPLICE | SCAN_LF_RAW_CPP,
         SCAN_HD_NONE),
    LANG(L_OBJC, "objective-c", BR, c_toks, SCAN_LF_SPLICE, SCAN_HD_NONE),
    LANG(L_OBJCPP, "objective-cpp", BR, c_toks,
         SCAN_LF_SPLICE | SCAN_LF_RAW_CPP, SCAN_HD_NONE),
    LANG(L_CUDA, "cuda", BR, c_toks, SCAN_LF_SPLICE | SCAN_LF_RAW_CPP,
         SCAN_HD_NONE),
    LANG(L_GLSL, "glsl", BR, c_toks, SCAN_LF_SPLICE, SCAN_HD_NONE),
    LANG(L_DTS, "devicetree", NO, c_toks, SCAN_LF_SPLICE, SCAN_HD_NONE),
    LANG(L_LD, "linker-script", NO, c_toks, 0, SCAN_HD_NONE),
    LANG(L_JAVA, "java", BR, java_toks, 0, SCAN_HD_NONE),
    LANG(L_CSHARP, "csharp", BR, csharp_toks, 0, SCAN_HD_NONE),
    LANG(L_JS, "javascript", BR, js_toks, 0, SCAN_HD_NONE),
    LANG(L_TS, "typescript", BR, js_toks, 0, SCAN_HD_NONE),
    LANG(L_GO, "go", BR, go_toks, 0, SCAN_HD_NONE),
    LANG(L_RUST, "rust", BR, rust_toks, SCAN_LF_RAW_RUST, SCAN_HD_NONE),
    LANG(L_SWIFT, "swift", BR, swift_toks, SCAN_LF_RAW_HASH, SCAN_HD_NONE),
    LANG(L_KOTLIN, "kotlin", BR, kotlin_toks, 0, SCAN_HD_NONE),
    LANG(L_SCALA, "scala", BR, kotlin_toks, 0, SCAN_HD_NONE),
    LANG(L_DART, "dart", BR, dart_toks, 0, SCAN_HD_NONE),
    LANG(L_GROOVY, "groovy", BR, groovy_toks, 0, SCAN_HD_NONE),
    LANG(L_D, "d", BR, d_toks, 0, SCAN_HD_NONE),
    LANG(L_ZIG, "zig", BR, zig_toks, 0, SCAN_HD_NONE),
    LANG(L_PROTO, "protobuf", NO, cq_toks, 0, SCAN_HD_NONE),
    LANG(L_SOLIDITY, "solidity", BR, cq_toks, 0, SCAN_HD_NONE),
    LANG(L_THRIFT, "thrift", NO, cq_toks, 0, SCAN_HD_NONE),
    LANG(L_PHP, "php", BR, php_toks, 0, SCAN_HD_PHP),
    LANG(L_CSS, "css", NO, css_toks, 0, SCAN_HD_NONE),
    LANG(L_SCSS, "scss", NO, scss_toks, 0, SCAN_HD_NONE),
    LANG(L_LESS, "less", NO, scss_toks, 0, SCAN_HD_NONE),
    LANG(L_JSON, "json", NO, json_toks, 0, SCAN_HD_NONE),
    LANG(L_PYTHON, "python", IN, python_toks, 0, SCAN_HD_NONE),
    LANG(L_STARLARK, "starlark", IN, python_toks, 0, SCAN_HD_NONE),
    LANG(L_MESON, "meson", NO, python_toks, 0, SCAN_HD_NONE),
    LANG(L_COFFEE, "coffeescript", IN, coffee_toks, 0, SCAN_HD_NONE),
    LANG(L_NIM, "nim", IN, nim_toks, 0, SCAN_HD_NONE),
    LANG(L_SHELL, "shell", KW, shell_toks, 0, SCAN_HD_SH),
    LANG(L_POWERSHELL, "powershell", BR, powershell_toks, 0, SCAN_HD_NONE),
    LANG(L_RUBY, "ruby", KW, ruby_toks, 0, SCAN_HD_RUBY),
    LANG(L_CRYSTAL, "crystal", KW, crystal_toks, 0, SCAN_HD_RUBY),
    LANG(L_PERL, "perl", BR, perl_toks, 0, SCAN_HD_PERL),
    LANG(L_LUA, "lua", KW, lua_toks, 0, SCAN_HD_NONE),
    LANG(L_SQL, "sql", NO, sql_toks, 0, SCAN_HD_NONE),
    LANG(L_HASKELL, "haskell", NO, haskell_toks, 0, SCAN_HD_NONE),
    LANG(L_ELM, "elm", NO, haskell_toks, 0, SCAN_HD_NONE),
    LANG(L_PURESCRIPT, "purescript", NO, haskell_toks, 0, SCAN_HD_NONE),
    LANG(L_OCAML, "ocaml", NO, ocaml_toks, 0, SCAN_HD_NONE),
    LANG(L_FSHARP, "fsharp", NO, fsharp_toks, 0, SCAN_HD_NONE),
    LANG(L_PASCAL, "pascal", KW, pascal_toks, 0, SCAN_HD_NONE),
    LANG(L_ADA, "ada", KW, ada_toks, 0, SCAN_HD_NONE),
    LANG(L_VHDL, "vhdl", KW, vhdl_toks, 0, SCAN_HD_NONE),
    LANG(L_LISP, "lisp", NO, lisp_toks, 0, SCAN_HD_NONE),
    LANG(L_SCHEME, "scheme", NO, lisp_toks, 0, SCAN_HD_NONE),
    LANG(L_RACKET, "racket", NO, lisp_toks, 0, SCAN_HD_NONE),
    LANG(L_ELISP, "emacs-lisp", NO, clojure_toks, 0, SCAN_HD_NONE),
    LANG(L_CLOJURE, "clojure", NO, clojure_toks, 0, SCAN_HD_NONE),
    LANG(L_ERLANG, "erlang", KW, erlang_toks, 0, SCAN_HD_NONE),
    LANG(L_ELIXIR, "elixir", KW, elixir_toks, 0, SCAN_HD_NONE),
    LANG(L_TEX, "tex", NO, tex_toks, 0, SCAN_HD_NONE),
    LANG(L_MATLAB, "matlab", KW, matlab_toks, 0, SCAN_HD_NONE),
    LANG(L_VB, "visual-basic", KW, vb_toks, 0, SCAN_HD_NONE),
    LANG(L_BATCH, "batch", NO, batch_toks, 0, SCAN_HD_NONE),
    LANG(L_FORTRAN, "fortran", KW, fortran_toks, 0, SCAN_HD_NONE),
    LANG(L_FORTRAN_FIXED, "fortran-fixed", KW, fortran_fixed_toks, 0,
         SCAN_HD_NONE),
    LANG(L_VIM, "vim", KW, vim_toks, 0, SCAN_HD_NONE),
    LANG(L_INI, "ini", NO, ini_toks, 0, SCAN_HD_NONE),
    LANG(L_PROPERTIES, "properties", NO, properties_toks, 0, SCAN_HD_NONE),
    LANG(L_IGNORE, "ignore-list", NO, hash_bol_toks, 0, SCAN_HD_NONE),
    LANG(L_YAML, "yaml", NO, yaml_toks, 0, SCAN_HD_NONE),
    LANG(L_TOML, "toml", NO, toml_toks, 0, SCAN_HD_NONE),
    LANG(L_MAKE, "make", NO, make_toks, 0, SCAN_HD_NONE),
    LANG(L_DOCKERFILE, "dockerfile", NO, docker_toks, 0, SCAN_HD_NONE),
    LANG(L_CMAKE, "cmake", KW, cmake_toks, 0, SCAN_HD_NONE),
    LANG(L_KCONFIG, "kconfig", NO, hash_q_toks, 0, SCAN_HD_NONE),
    LANG(L_HTML, "html", NO, markup_toks, 0, SCAN_HD_NONE),
    LANG(L_XML, "xml", NO, markup_toks, 0, SCAN_HD_NONE),
    LANG(L_MARKDOWN, "markdown", NO, markup_toks, 0, SCAN_HD_NONE),
    LANG(L_VUE, "vue", NO, markup_toks, 0, SCAN_HD_NONE),
    LANG(L_GAS, "assembly", NO, gas_toks, 0, SCAN_HD_NONE),
    LANG(L_NASM, "nasm", NO, nasm_toks, 0, SCAN_HD_NONE),
    LANG(L_GRAPHQL, "graphql", NO, graphql_toks, 0, SCAN_HD_NONE),
    LANG(L_HCL, "hcl", NO, hcl_toks, 0, SCAN_HD_SH),
    LANG(L_NIX, "nix", NO, nix_toks, 0, SCAN_HD_NONE),
    LANG(L_R, "r", BR, r_toks, 0, SCAN_HD_NONE),
    LANG(L_JULIA, "julia", KW, julia_toks, 0, SCAN_HD_NONE),
    LANG(L_TCL, "tcl", BR, tcl_toks, 0, SCAN_HD_NONE),
    LANG(L_AWK, "awk", BR, hash_dq_toks, 0, SCAN_HD_NONE),
    LANG(L_PROLOG, "prolog", NO, prolog_toks, 0, SCAN_HD_NONE),
    LANG(L_SMALLTALK, "smalltalk", NO, smalltalk_toks, 0, SCAN_HD_NONE),
    LANG(L_COBOL, "cobol", NO, cobol_toks, 0, SCAN_HD_NONE),
    LANG(L_VERILOG, "verilog", KW, verilog_toks, 0, SCAN_HD_NONE),
    LANG(L_JSONNET, "jsonnet", NO, jsonnet_toks, 0, SCAN_HD_NONE),
    LANG(L_GN, "gn", NO, hash_dq_toks, 0, SCAN_HD_NONE),
    LANG(L_SED, "sed", NO, hash_bol_toks, 0, SCAN_HD_NONE),
    LANG(L_M4, "m4", NO, m4_toks, 0, SCAN_HD_NONE),
    LANG(L_FISH, "fish", KW, shell_toks, 0, SCAN_HD_NONE),
};

/* ---- detection tables ---- */

typedef struct {
  const char *key;
  unsigned lang;
} lang_key_t;

/* Whole base names (exact case). */
static const lang_key_t by_file_name[] = {
    {"Makefile", L_MAKE}, {"makefile", L_MAKE}, {"GNUmakefile", L_MAKE},
    {"Kbuild", L_MAKE}, {"BSDmakefile", L_MAKE},
    {"Dockerfile", L_DOCKERFILE}, {"Containerfile", L_DOCKERFILE},
    {"dockerfile", L_DOCKERFILE},
    {"CMakeLists.txt", L_CMAKE}, {"meson.build", L_MESON},
    {"meson_options.txt", L_MESON}, {"meson.options", L_MESON},
    {"BUILD", L_STARLARK}, {"BUILD.bazel", L_STARLARK},
    {"WORKSPACE", L_STARLARK}, {"WORKSPACE.bazel", L_STARLARK},
    {"MODULE.bazel", L_STARLARK}, {"Tiltfile", L_STARLARK},
    {"SConstruct", L_PYTHON}, {"SConscript", L_PYTHON},
    {"Jenkinsfile", L_GROOVY}, {"Vagrantfile", L_RUBY},
    {"Gemfile", L_RUBY}, {"Rakefile", L_RUBY}, {"Podfile", L_RUBY},
    {"Guardfile", L_RUBY}, {"Brewfile", L_RUBY}, {"Fastfile", L_RUBY},
    {"Capfile", L_RUBY}, {"Berksfile", L_RUBY},
    {".bashrc", L_SHELL}, {".bash_profile", L_SHELL}, {".profile", L_SHELL},
    {".zshrc", L_SHELL}, {".zprofile", L_SHELL}, {".bash_logout", L_SHELL},
    {"PKGBUILD", L_SHELL}, {"APKBUILD", L_SHELL},
    {".gitignore", L_IGNORE}, {".gitattributes", L_IGNORE},
    {".dockerignore", L_IGNORE}, {".npmignore", L_IGNORE},
    {".hgignore", L_IGNORE}, {"CODEOWNERS", L_IGNORE},
    {".gitmodules", L_INI}, {".gitconfig", L_INI}, {".editorconfig", L_INI},
    {".vimrc", L_VIM}, {"_vimrc", L_VIM}, {".gvimrc", L_VIM},
    {".emacs", L_ELISP}, {"BUCK", L_STARLARK},
    {"configure.ac", L_M4}, {"configure.in", L_M4},
};

/* Base name prefixes: Makefile.am, Dockerfile.dev, Kconfig.debug, ... */
static const lang_key_t by_name_prefix[] = {
    {"Kconfig", L_KCONFIG}, {"Makefile.", L_MAKE}, {"makefile.", L_MAKE},
    {"Dockerfile.", L_DOCKERFILE}, {"Containerfile.", L_DOCKERFILE},
    {"Kbuild.", L_MAKE}, {"CMakeLists.", L_CMAKE},
};

/* Extensions, without the dot; matched exactly first, then ignoring case. */
static const lang_key_t by_ext[] = {
    {"c", L_C}, {"h", L_C},
    {"C", L_CPP}, {"H", L_CPP}, {"cc", L_CPP}, {"cpp", L_CPP},
    {"cxx", L_CPP}, {"c++", L_CPP}, {"hh", L_CPP}, {"hpp", L_CPP},
    {"hxx", L_CPP}, {"h++", L_CPP}, {"ipp", L_CPP}, {"tpp", L_CPP},
    {"inl", L_CPP}, {"ino", L_CPP}, {"ixx", L_CPP}, {"cppm", L_CPP},
    {"m", L_OBJC}, {"mm", L_OBJCPP}, {"cu", L_CUDA}, {"cuh", L_CUDA},
    {"cl", L_C}, {"glsl", L_GLSL}, {"vert", L_GLSL}, {"frag", L_GLSL},
    {"geom", L_GLSL}, {"comp", L_GLSL}, {"hlsl", L_GLSL},
    {"metal", L_CPP}, {"dts", L_DTS}, {"dtsi", L_DTS}, {"dtso", L_DTS},
    {"lds", L_LD}, {"ld", L_LD},
    {"java", L_JAVA}, {"cs", L_CSHARP}, {"csx", L_CSHARP},
    {"js", L_JS}, {"mjs", L_JS}, {"cjs", L_JS}, {"jsx", L_JS},
    {"ts", L_TS}, {"tsx", L_TS}, {"mts", L_TS}, {"cts", L_TS},
    {"go", L_GO}, {"rs", L_RUST}, {"swift", L_SWIFT},
    {"kt", L_KOTLIN}, {"kts", L_KOTLIN}, {"scala", L_SCALA},
    {"sc", L_SCALA}, {"sbt", L_SCALA}, {"dart", L_DART},
    {"groovy", L_GROOVY}, {"gradle", L_GROOVY}, {"gvy", L_GROOVY},
    {"d", L_D}, {"di", L_D}, {"zig", L_ZIG},
    {"proto", L_PROTO}, {"sol", L_SOLIDITY}, {"thrift", L_THRIFT},
    {"php", L_PHP}, {"phtml", L_PHP}, {"php3", L_PHP}, {"php4", L_PHP},
    {"php5", L_PHP}, {"php7", L_PHP}, {"phps", L_PHP},
    {"css", L_CSS}, {"scss", L_SCSS}, {"sass", L_SCSS}, {"less", L_LESS},
    {"json", L_JSON}, {"jsonc", L_JSON}, {"json5", L_JSON},
    {"py", L_PYTHON}, {"pyw", L_PYTHON}, {"pyi", L_PYTHON},
    {"pyx", L_PYTHON}, {"pxd", L_PYTHON}, {"gyp", L_PYTHON},
    {"gypi", L_PYTHON}, {"bzl", L_STARLARK}, {"star", L_STARLARK},
    {"bazel", L_STARLARK}, {"coffee", L_COFFEE},
    {"nim", L_NIM}, {"nims", L_NIM}, {"nimble", L_NIM},
    {"sh", L_SHELL}, {"bash", L_SHELL}, {"zsh", L_SHELL}, {"ksh", L_SHELL},
    {"ash", L_SHELL}, {"dash", L_SHELL}, {"bats", L_SHELL},
    {"command", L_SHELL}, {"tc", L_SHELL}, {"fish", L_FISH},
    {"ps1", L_POWERSHELL}, {"psm1", L_POWERSHELL}, {"psd1", L_POWERSHELL},
    {"rb", L_RUBY}, {"rake", L_RUBY}, {"gemspec", L_RUBY}, {"ru", L_RUBY},
    {"podspec", L_RUBY}, {"cr", L_CRYSTAL},
    {"pl", L_PERL}, {"pm", L_PERL}, {"t", L_PERL}, {"psgi", L_PERL},
    {"lua", L_LUA}, {"rockspec", L_LUA},
    {"sql", L_SQL}, {"psql", L_SQL}, {"plsql", L_SQL}, {"ddl", L_SQL},
    {"hs", L_HASKELL}, {"lhs", L_HASKELL}, {"elm", L_ELM},
    {"purs", L_PURESCRIPT}, {"ml", L_OCAML}, {"mli", L_OCAML},
    {"mly", L_OCAML}, {"mll", L_OCAML}, {"fs", L_FSHARP},
    {"fsi", L_FSHARP}, {"fsx", L_FSHARP},
    {"pas", L_PASCAL}, {"dpr", L_PASCAL}, {"lpr", L_PASCAL},
    {"adb", L_ADA}, {"ads", L_ADA}, {"ada", L_ADA},
    {"vhd", L_VHDL}, {"vhdl", L_VHDL},
    {"lisp", L_LISP}, {"lsp", L_LISP}, {"asd", L_LISP},
    {"scm", L_SCHEME}, {"ss", L_SCHEME}, {"sld", L_SCHEME},
    {"sls", L_SCHEME}, {"rkt", L_RACKET}, {"el", L_ELISP},
    {"clj", L_CLOJURE}, {"cljs", L_CLOJURE}, {"cljc", L_CLOJURE},
    {"edn", L_CLOJURE},
    {"erl", L_ERLANG}, {"hrl", L_ERLANG}, {"escript", L_ERLANG},
    {"ex", L_ELIXIR}, {"exs", L_ELIXIR},
    {"tex", L_TEX}, {"sty", L_TEX}, {"cls", L_TEX}, {"ltx", L_TEX},
    {"bib", L_TEX}, {"dtx", L_TEX},
    {"vb", L_VB}, {"vbs", L_VB}, {"bas", L_VB}, {"frm", L_VB},
    {"vba", L_VB},
    {"bat", L_BATCH}, {"cmd", L_BATCH},
    {"f90", L_FORTRAN}, {"f95", L_FORTRAN}, {"f03", L_FORTRAN},
    {"f08", L_FORTRAN}, {"F90", L_FORTRAN}, {"F95", L_FORTRAN},
    {"f", L_FORTRAN_FIXED}, {"for", L_FORTRAN_FIXED},
    {"f77", L_FORTRAN_FIXED}, {"F", L_FORTRAN_FIXED},
    {"vim", L_VIM},
    {"ini", L_INI}, {"cfg", L_INI}, {"conf", L_INI}, {"desktop", L_INI},
    {"service", L_INI}, {"properties", L_PROPERTIES},
    {"yaml", L_YAML}, {"yml", L_YAML}, {"toml", L_TOML},
    {"mk", L_MAKE}, {"mak", L_MAKE}, {"make", L_MAKE},
    {"dockerfile", L_DOCKERFILE}, {"containerfile", L_DOCKERFILE},
    {"cmake", L_CMAKE},
    {"html", L_HTML}, {"htm", L_HTML}, {"xhtml", L_HTML},
    {"xml", L_XML}, {"xsd", L_XML}, {"xsl", L_XML}, {"xslt", L_XML},
    {"svg", L_XML}, {"plist", L_XML}, {"xaml", L_XML}, {"csproj", L_XML},
    {"pom", L_XML}, {"wsdl", L_XML}, {"rss", L_XML}, {"vcxproj", L_XML},
    {"md", L_MARKDOWN}, {"markdown", L_MARKDOWN}, {"mdx", L_MARKDOWN},
    {"vue", L_VUE}, {"svelte", L_VUE},
    {"s", L_GAS}, {"S", L_GAS}, {"sx", L_GAS}, {"asm", L_NASM},
    {"nasm", L_NASM},
    {"graphql", L_GRAPHQL}, {"gql", L_GRAPHQL},
    {"tf", L_HCL}, {"tfvars", L_HCL}, {"hcl", L_HCL}, {"nomad", L_HCL},
    {"nix", L_NIX}, {"r", L_R}, {"R", L_R}, {"jl", L_JULIA},
    {"tcl", L_TCL}, {"tk", L_TCL}, {"exp", L_TCL}, {"awk", L_AWK},
    {"prolog", L_PROLOG},
    {"st", L_SMALLTALK}, {"cob", L_COBOL}, {"cbl", L_COBOL},
    {"cpy", L_COBOL},
    {"v", L_VERILOG}, {"vh", L_VERILOG}, {"sv", L_VERILOG},
    {"svh", L_VERILOG},
    {"jsonnet", L_JSONNET}, {"libsonnet", L_JSONNET},
    {"gn", L_GN}, {"gni", L_GN}, {"sed", L_SED}, {"m4", L_M4},
    {"ac", L_M4},
};

/* Interpreters named in a "#!" line, without a version suffix. */
static const lang_key_t by_interpreter[] = {
    {"sh", L_SHELL}, {"bash", L_SHELL}, {"dash", L_SHELL},
    {"zsh", L_SHELL}, {"ksh", L_SHELL}, {"mksh", L_SHELL},
    {"ash", L_SHELL}, {"busybox", L_SHELL}, {"fish", L_FISH},
    {"python", L_PYTHON}, {"pypy", L_PYTHON}, {"perl", L_PERL},
    {"ruby", L_RUBY}, {"jruby", L_RUBY}, {"node", L_JS}, {"nodejs", L_JS},
    {"deno", L_JS}, {"bun", L_JS}, {"ts-node", L_TS}, {"tsx", L_TS},
    {"php", L_PHP}, {"lua", L_LUA}, {"luajit", L_LUA}, {"texlua", L_LUA},
    {"Rscript", L_R}, {"awk", L_AWK}, {"gawk", L_AWK}, {"mawk", L_AWK},
    {"nawk", L_AWK}, {"tclsh", L_TCL}, {"wish", L_TCL}, {"expect", L_TCL},
    {"escript", L_ERLANG}, {"elixir", L_ELIXIR}, {"groovy", L_GROOVY},
    {"julia", L_JULIA}, {"pwsh", L_POWERSHELL},
    {"powershell", L_POWERSHELL}, {"make", L_MAKE}, {"sed", L_SED},
    {"swift", L_SWIFT}, {"scala", L_SCALA}, {"runhaskell", L_HASKELL},
    {"runghc", L_HASKELL}, {"sbcl", L_LISP}, {"clisp", L_LISP},
    {"guile", L_SCHEME}, {"csi", L_SCHEME}, {"racket", L_RACKET},
    {"crystal", L_CRYSTAL}, {"dart", L_DART}, {"bb", L_CLOJURE},
    {"emacs", L_ELISP}, {"octave", L_MATLAB}, {"nim", L_NIM},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- class tables ---- */

static pthread_once_t cls_once = PTHREAD_ONCE_INIT;

static void build_class_table(const scan_tok_t *toks, scan_lang_class_t *k)
{
  uint8_t *cls = k->cls;
  for (const scan_tok_t *t = toks; t->kind != SCAN_TK_END; t++) {
    unsigned char b = (unsigned char)t->open[0];
    cls[b] = 1;
    if (t->flags & SCAN_TF_KEYWORD) {
      if (b >= 'a' && b <= 'z')
        cls[b - 32] = 1;
      else if (b >= 'A' && b <= 'Z')
        cls[b + 32] = 1;
    }
  }
  size_t n = 0;
  for (unsigned b = 0; b < 256; b++) {
    if (cls[b] && n < sizeof k->bytes)
      k->bytes[n] = (uint8_t)b;
    n += cls[b] != 0;
  }
  k->nbytes = n <= sizeof k->bytes ? (uint8_t)n : 0;
}

/* ---- hashed lookups (file names and extensions are looked up for every
 * file of a repository: a linear scan of the table cost 1.7 us a file) ---- */

#define HASH_SLOTS 1024 /* power of two, over twice the largest table */

typedef struct key_hash {
  uint16_t slot[HASH_SLOTS]; /* index + 1 into the key table, 0 = empty */
} key_hash_t;

static key_hash_t ext_exact, ext_folded, name_exact;

static inline unsigned char fold(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static uint32_t key_hash(const char *s, size_t n, bool folded)
{
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    h = (h ^ (folded ? fold(c) : c)) * 16777619u;
  }
  return h;
}

static bool key_equal(const char *k, const char *s, size_t n, bool folded)
{
  if (strlen(k) != n)
    return false;
  return folded ? strncasecmp(k, s, n) == 0 : memcmp(k, s, n) == 0;
}

/* The first entry of keys with a given key wins (the table's order). */
static void hash_insert(key_hash_t *h, const lang_key_t *keys, size_t i,
                        bool folded)
{
  const char *k = keys[i].key;
  uint32_t at = key_hash(k, strlen(k), folded) & (HASH_SLOTS - 1);
  while (h->slot[at]) {
    if (key_equal(keys[h->slot[at] - 1].key, k, strlen(k), folded))
      return;
    at = (at + 1) & (HASH_SLOTS - 1);
  }
  h->slot[at] = (uint16_t)(i + 1);
}

static int hash_find(const key_hash_t *h, const lang_key_t *keys,
                     const char *s, size_t n, bool folded)
{
  uint32_t at = key_hash(s, n, folded) & (HASH_SLOTS - 1);
  while (h->slot[at]) {
    const lang_key_t *k = &keys[h->slot[at] - 1];
    if (key_equal(k->key, s, n, folded))
      return (int)k->lang;
    at = (at + 1) & (HASH_SLOTS - 1);
  }
  return -1;
}

static void build_tables(void)
{
  _Static_assert(sizeof by_ext / sizeof by_ext[0] < HASH_SLOTS / 2,
                 "extension table fits its hash");
  for (size_t i = 0; i < L_COUNT; i++)
    build_class_table(langs[i].toks, &cls_tables[i]);
  for (size_t i = 0; i < sizeof by_ext / sizeof by_ext[0]; i++) {
    hash_insert(&ext_exact, by_ext, i, false);
    hash_insert(&ext_folded, by_ext, i, true);
  }
  for (size_t i = 0; i < sizeof by_file_name / sizeof by_file_name[0]; i++)
    hash_insert(&name_exact, by_file_name, i, false);
}

static void ensure_tables(void)
{
  pthread_once(&cls_once, build_tables);
}

/* ---- lookups ---- */

size_t scan_lang_count(void)
{
  return L_COUNT;
}

const struct scan_lang *scan_lang_at(size_t i)
{
  ensure_tables();
  return i < L_COUNT ? &langs[i] : NULL;
}

const struct scan_lang *scan_lang_by_name(const char *name)
{
  ensure_tables();
  if (!name)
    return NULL;
  for (size_t i = 0; i < L_COUNT; i++) {
    if (strcmp(langs[i].name, name) == 0)
      return &langs[i];
  }
  return NULL;
}

static int find_key(const lang_key_t *keys, size_t n, const char *s,
                    size_t len)
{
  for (size_t i = 0; i < n; i++) {
    if (key_equal(keys[i].key, s, len, false))
      return (int)keys[i].lang;
  }
  return -1;
}

static int find_prefix(const char *base, size_t len)
{
  for (size_t i = 0; i < COUNT(by_name_prefix); i++) {
    size_t k = strlen(by_name_prefix[i].key);
    if (len >= k && memcmp(base, by_name_prefix[i].key, k) == 0)
      return (int)by_name_prefix[i].lang;
  }
  return -1;
}

/* Does the head look like MATLAB/Octave rather than Objective-C? */
static int head_is_matlab(const char *head, size_t len)
{
  static const char *const objc_marks[] = {"#import", "#include",
                                           "@interface", "@implementation",
                                           "@protocol"};
  if (!head || !len)
    return 0;
  for (size_t i = 0; i < COUNT(objc_marks); i++) {
    if (memmem(head, len, objc_marks[i], strlen(objc_marks[i])))
      return 0;
  }
  size_t p = 0;
  while (p < len && (head[p] == ' ' || head[p] == '\t' || head[p] == '\n' ||
                     head[p] == '\r'))
    p++;
  if (p < len && head[p] == '%')
    return 1;
  return len - p >= 8 && memcmp(head + p, "function", 8) == 0;
}

static int by_extension(const char *ext, size_t len, const char *head,
                        size_t head_len)
{
  int l = hash_find(&ext_exact, by_ext, ext, len, false);
  if (l < 0)
    l = hash_find(&ext_folded, by_ext, ext, len, true);
  if (l == L_OBJC && head_is_matlab(head, head_len))
    l = L_MATLAB;
  return l;
}

/* Language from a base name (no directory): file name, then extension. */
static int by_base_name(const char *base, size_t len, const char *head,
                        size_t head_len)
{
  int l = hash_find(&name_exact, by_file_name, base, len, false);
  if (l >= 0)
    return l;
  l = find_prefix(base, len);
  if (l >= 0)
    return l;
  const char *dot = NULL;
  for (size_t i = len; i > 1; i--) { /* a leading dot is not an extension */
    if (base[i - 1] == '.') {
      dot = base + i - 1;
      break;
    }
  }
  if (!dot)
    return -1;
  size_t elen = len - (size_t)(dot + 1 - base);
  if (elen == 2 && memcmp(dot + 1, "in", 2) == 0) /* config.h.in */
    return by_base_name(base, (size_t)(dot - base), head, head_len);
  return by_extension(dot + 1, elen, head, head_len);
}

static int is_blank(char c)
{
  return c == ' ' || c == '\t';
}

/* Next blank-separated word of [*p, end); NULL when there is none. */
static const char *next_word(const char **p, const char *end, size_t *len)
{
  const char *s = *p;
  while (s < end && is_blank(*s))
    s++;
  const char *w = s;
  while (s < end && !is_blank(*s))
    s++;
  *p = s;
  *len = (size_t)(s - w);
  return *len ? w : NULL;
}

/* Interpreter base name without a version suffix (python3.11 -> python). */
static int interpreter_lang(const char *w, size_t n)
{
  const char *slash = memrchr(w, '/', n);
  if (slash) {
    n -= (size_t)(slash + 1 - w);
    w = slash + 1;
  }
  while (n > 1 && ((w[n - 1] >= '0' && w[n - 1] <= '9') || w[n - 1] == '.'))
    n--;
  return find_key(by_interpreter, COUNT(by_interpreter), w, n);
}

static int by_shebang(const char *head, size_t len)
{
  if (!head || len < 3 || head[0] != '#' || head[1] != '!')
    return -1;
  const char *p = head + 2;
  const char *nl = memchr(p, '\n', len - 2);
  const char *end = nl ? nl : head + len;
  if (end > p && end[-1] == '\r')
    end--;
  size_t n;
  const char *w = next_word(&p, end, &n);
  if (!w)
    return -1;
  int l = interpreter_lang(w, n);
  const char *slash = memrchr(w, '/', n);
  const char *base = slash ? slash + 1 : w;
  if (l >= 0 || (size_t)(w + n - base) != 3 || memcmp(base, "env", 3) != 0)
    return l;
  /* env [-S] [-i] [VAR=value ...] program */
  while ((w = next_word(&p, end, &n)) != NULL) {
    if (w[0] == '-' || memchr(w, '=', n))
      continue;
    return interpreter_lang(w, n);
  }
  return -1;
}

const struct scan_lang *scan_lang_detect(const char *path, const char *head,
                                         size_t head_len)
{
  ensure_tables();
  if (!path)
    return NULL;
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  int l = by_base_name(base, strlen(base), head, head_len);
  if (l < 0)
    l = by_shebang(head, head_len);
  return l >= 0 ? &langs[l] : NULL;
}
