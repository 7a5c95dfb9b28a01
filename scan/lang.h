/*
 * lang.h: the languages the scanner understands, and how to recognise them.
 *
 * Each language is a static, read-only `struct scan_lang`: a name, the
 * family used by the refactoring metrics (scan/scan.h), and its lexical
 * syntax as a short list of *openers* (scan_tok_t): line comments, block
 * comments, strings, character literals and a few special forms (heredocs,
 * long brackets, raw strings, template literals, regular expressions, POD,
 * backslash escapes in code). scan/lexer.c is one engine driven by these
 * lists; there is no per-language code besides the special forms.
 *
 * Openers of a language are tried in list order at a byte whose class is
 * set (lang->cls->cls, built once per process from the lists): longer openers
 * come first where one is a prefix of another ("\"\"\"" before "\"",
 * "--[" before "--"), and an opener whose context rule does not hold
 * (SCAN_TF_BOL, ...) simply lets the next one try. tests/scan/test_lang.c
 * checks the ordering of every list.
 *
 * Detection (scan_lang_detect), in this order:
 *   1. the file name: Makefile, Dockerfile, CMakeLists.txt, Kconfig*, ...;
 *   2. the extension, after the last dot: an exact match first (".C" and
 *      ".H" are C++, ".c" and ".h" are C, as compilers decide), then a
 *      case-insensitive one (".PY", ".Bat"); "x.in" is looked up as "x";
 *      ".m" is Objective-C unless the head looks like MATLAB/Octave;
 *   3. a "#!" line in the head: the interpreter's base name, through
 *      /usr/bin/env (options and VAR=value skipped), without a version
 *      suffix (python3.11 -> python).
 * An unknown file gives NULL: the caller skips it.
 *
 * Thread safety: every function here may be called from any thread; the
 * class tables are built once (pthread_once) on first use. Language
 * pointers stay valid for the life of the process; compare them by
 * address or by name.
 */
#ifndef CCM_SCAN_LANG_H
#define CCM_SCAN_LANG_H

#include <stddef.h>
#include <stdint.h>

#include "scan/scan.h"

/* What an opener starts (scan_tok_t.kind). */
typedef enum {
  SCAN_TK_END = 0,   /* ends a list */
  SCAN_TK_LINE,      /* line comment: to the end of the line */
  SCAN_TK_BLOCK,     /* block comment: to tok.close (nested with _NEST) */
  SCAN_TK_STR,       /* string: to tok.close (NULL: same as open) */
  SCAN_TK_CHAR,      /* 'x' or '\n' when the shape fits, else nothing */
  SCAN_TK_LONG_STR,  /* Lua/CMake long bracket [[...]] [==[...]==] */
  SCAN_TK_LONG_CMT,  /* open + long bracket: --[[ ]] (Lua), #[[ ]] (CMake) */
  SCAN_TK_HEREDOC,   /* <<EOF (style from lang->heredoc) */
  SCAN_TK_NEWLINE,   /* "\n": where pending heredoc bodies start */
  SCAN_TK_POD,       /* Perl POD: "=word" in column 1 up to "=cut" */
  SCAN_TK_REGEX,     /* JS regular expression literal /.../flags */
  SCAN_TK_SKIP,      /* escape in code: skips the next character */
  SCAN_TK_LBRACE,    /* "{" inside a template's ${...} */
  SCAN_TK_RBRACE,    /* "}" closing a template's ${...} */
} scan_tok_kind_t;

/* Context rules (scan_tok_t.flags): the opener only counts ... */
#define SCAN_TF_BOL 0x0001u       /* as the first non-blank of its line */
#define SCAN_TF_COL1 0x0002u      /* in column 1 */
#define SCAN_TF_WORDSTART 0x0004u /* at a word start: after blank, ;&|() or at bol */
#define SCAN_TF_NOT_AFTER_OPERAND 0x0008u /* not after [A-Za-z0-9_)\]}.'] */
#define SCAN_TF_KEYWORD 0x0010u   /* as a whole word, any case (REM, dnl) */
#define SCAN_TF_NOT_AFTER_DOLLAR 0x0020u /* not after '$' (Perl $#array) */
#define SCAN_TF_HS_DASHES 0x0040u /* Haskell: --- not followed by a symbol */
#define SCAN_TF_NOT_BEFORE_BRACKET 0x0080u /* not followed by '[' (PHP #[) */
/* Strings: */
#define SCAN_TF_MULTI 0x0100u   /* may span lines (else ends at the newline) */
#define SCAN_TF_DOUBLE 0x0200u  /* a doubled closer is a literal one ('') */
#define SCAN_TF_TEMPLATE 0x0400u /* ${...} holds code (JS template literal) */
#define SCAN_TF_TO_EOL 0x0800u  /* runs to the end of the line (Zig \\) */
/* Block comments: */
#define SCAN_TF_NEST 0x1000u    /* nests (Rust, Swift, Haskell, OCaml, ...) */
#define SCAN_TF_CLOSE_BOL 0x2000u /* closer must start its line (=end, %}) */
/* Python triple-quoted strings: one standing alone as a statement (first
 * on its line, nothing but blanks or a comment after it) is a docstring,
 * reported as a doc comment (SCAN_COMMENT_DOCSTRING). */
#define SCAN_TF_DOCSTRING 0x4000u

/* One opener of a language. Read-only. */
typedef struct scan_tok {
  const char *open;  /* the bytes that start it */
  const char *close; /* block/string closer; NULL for a string: = open */
  uint8_t kind;      /* scan_tok_kind_t */
  uint8_t esc;       /* escape character inside a string, 0 for none */
  uint16_t flags;    /* SCAN_TF_* */
  const char *doc;   /* bytes right after the opener that make a doc
                        comment ("/!" for //, "*!" for block); or NULL */
  uint8_t open_len;  /* strlen(open) */
} scan_tok_t;

/* Language-wide special forms (scan_lang.flags). */
#define SCAN_LF_RAW_CPP 0x01u  /* R"delim(...)delim" (u8R, LR, uR, UR too) */
#define SCAN_LF_RAW_RUST 0x02u /* r"..." r#"..."# br"..." */
#define SCAN_LF_RAW_HASH 0x04u /* Swift #"..."# */
#define SCAN_LF_SPLICE 0x08u   /* C: a line comment ending in \ goes on */

/* Heredoc styles (scan_lang.heredoc). */
typedef enum {
  SCAN_HD_NONE = 0,
  SCAN_HD_SH,   /* <<EOF <<-EOF <<'EOF' <<"EOF" <<\EOF (shell, HCL) */
  SCAN_HD_RUBY, /* <<~EOF <<-EOF <<EOF (bare: upper case), quoted */
  SCAN_HD_PERL, /* <<"EOF" <<'EOF' <<EOF <<~EOF */
  SCAN_HD_PHP,  /* <<<EOT <<<"EOT" <<<'EOT' (closer may be indented) */
} scan_heredoc_t;

/* Where openers may start, built from a token list (read-only). */
typedef struct scan_lang_class {
  uint8_t cls[256]; /* non-zero for a byte that may start an opener */
  uint8_t nbytes;   /* how many such bytes, when at most 8 (else 0) */
  uint8_t bytes[8]; /* those bytes: the lexer skips code with SIMD */
} scan_lang_class_t;

struct scan_lang {
  const char *name;     /* "c", "python", "shell", ... (lower case) */
  scan_family_t family; /* from scan/scan.h */
  /* read-only, for scan/lexer.c: */
  const scan_tok_t *toks; /* openers, ended by SCAN_TK_END */
  unsigned flags;         /* SCAN_LF_* */
  scan_heredoc_t heredoc;
  const scan_lang_class_t *cls;
};

/**
 * Detect the language of a file.
 * @param path  the file's path (only its base name is used); not NULL.
 * @param head  the first bytes of the file, or NULL; only used for a
 *              "#!" line and for ".m" files. Need not be NUL-terminated.
 * @param head_len  bytes in @p head.
 * @return the language, or NULL when unknown (the caller skips the file).
 */
const struct scan_lang *scan_lang_detect(const char *path, const char *head,
                                         size_t head_len);

/** @return the language called @p name ("c", "python", ...), or NULL. */
const struct scan_lang *scan_lang_by_name(const char *name);

/** @return how many languages there are. */
size_t scan_lang_count(void);

/** @return the language number @p i (0 <= i < scan_lang_count()), or NULL. */
const struct scan_lang *scan_lang_at(size_t i);

#endif /* CCM_SCAN_LANG_H */
