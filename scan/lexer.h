/*
 * lexer.h: comment-aware lexing of one file's bytes.
 *
 * One engine for every language of scan/lang.h. It walks the buffer once,
 * in code state skipping every byte whose class (lang->cls, 256 entries) is
 * zero; at a classed byte it tries the language's openers in order and
 * consumes a whole comment, string, character literal, heredoc, long
 * bracket, raw string, template literal or regular expression, then goes
 * back to skipping. No allocation; state is a small struct on the stack.
 *
 * What counts as what:
 *   - Comments: line and block comments, nested where the language nests
 *     them (Rust, Swift, Kotlin, Scala, Dart, D /+ +/, Haskell, OCaml, F#,
 *     Lisp #| |#, Julia #= =#, Nim #[ ]#), Lua --[[ ]] and CMake #[[ ]],
 *     Ruby =begin/=end, Perl POD (=pod ... =cut, reported as a doc comment),
 *     MATLAB %{ %}. A doc comment (///, //!, block
 *     comments opening with two stars or star-bang, {-|, ...)
 *     has SCAN_COMMENT_DOC.
 *   - Strings (never comments): "..." '...' with the language's escape
 *     character or doubling (SQL '', VB ""), triple-quoted strings, Go and
 *     JS backtick strings (a JS template's ${...} is code again, nested up
 *     to 16 levels), C++ R"d(...)d", Rust r#"..."#, Swift #"..."#, C#
 *     @"...", heredocs (shell, Ruby, Perl, PHP, HCL), Lua/CMake long
 *     brackets [==[ ]==], JS regular expression literals, character
 *     literals when their shape fits ('a', '\n': Rust lifetimes, OCaml type
 *     variables and Haskell primes are not literals).
 *   - Python docstrings: a triple-quoted string standing alone as a
 *     statement (first on its line, only blanks or a comment after it) is
 *     lexed as a string (a '#' inside is no comment) but reported as a doc
 *     comment (SCAN_COMMENT_BLOCK | _DOC | _DOCSTRING, body = the text
 *     between the quotes), so markers in docstrings count: they are notes
 *     to the reader, and leasot counts them too (its one-line form
 *     """TODO: x"""). A triple-quoted string in an expression
 *     (x = """...""", f("""...""")) stays a string.
 *   - A string that may not span lines (most "..." and '...') ends at the
 *     end of its line when unterminated, so one stray quote spoils at most
 *     one line. An unterminated block comment, multi-line string or
 *     heredoc runs to the end of the buffer.
 * Limits of the approach (documented, not bugs): no preprocessor, so code
 * under #if 0 is lexed as code; Ruby/Perl regex and %q() literals and
 * PowerShell here-string rules are approximated; string interpolation is
 * only followed in JS/TS template literals.
 *
 * Positions: 1-based line, 1-based byte column. Lines end at '\n'; a '\r'
 * before it belongs to no comment text (CRLF files give the same results).
 * Any byte value is accepted (NUL, invalid UTF-8): the lexer never reads
 * outside [buf, buf + len).
 */
#ifndef CCM_SCAN_LEXER_H
#define CCM_SCAN_LEXER_H

#include <stddef.h>
#include <stdint.h>

#include "scan/lang.h"

#define SCAN_COMMENT_LINE 0x1u  /* a line comment */
#define SCAN_COMMENT_BLOCK 0x2u /* a block comment */
#define SCAN_COMMENT_DOC 0x4u   /* a doc comment (with _LINE or _BLOCK) */
#define SCAN_COMMENT_UNTERMINATED 0x8u /* block comment cut by the end */
#define SCAN_COMMENT_DOCSTRING 0x10u /* a Python docstring (with _BLOCK|_DOC) */

typedef struct {
  const char *text; /* the body without its delimiters (into buf) */
  size_t len;
  uint32_t line, col; /* of the comment's first delimiter byte */
  unsigned flags;     /* SCAN_COMMENT_* */
  const char *start;  /* the whole comment, delimiters included (into buf) */
  size_t span;
} scan_comment_t;

/* Receives one comment; a non-zero return stops the lexing. */
typedef int (*scan_comment_fn)(void *ud, const scan_comment_t *c);

/**
 * Report every comment of @p buf in order.
 * @return 0 when the end was reached, the callback's non-zero value when
 *         it stopped, or -1 when @p lang or @p fn is NULL (or @p buf is
 *         NULL with @p len > 0).
 * @note The comment's pointers point into @p buf.
 */
int scan_lex_comments(const struct scan_lang *lang, const char *buf,
                      size_t len, scan_comment_fn fn, void *ud);

/**
 * Write into @p out (room for @p len bytes) a copy of @p buf in which every
 * byte of a comment (delimiters included) and of a string literal's
 * contents (quotes and other delimiters kept) is a space, except '\n' and
 * '\r', which are kept; code is copied as it is. Line and column positions
 * are therefore the same in both. Does nothing when an argument is NULL.
 */
void scan_lex_blank(const struct scan_lang *lang, const char *buf, size_t len,
                    char *out);

#endif /* CCM_SCAN_LEXER_H */
