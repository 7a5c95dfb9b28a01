/*
 * metrics.h: per-function metrics and refactoring candidates (issue #4).
 *
 * scan_functions() reads the *blanked* copy of a file (scan_lex_blank in
 * lexer.h: comments and string contents are spaces, positions unchanged),
 * so braces, keywords and parentheses in comments and strings never count.
 * It finds the functions of the file by language family and measures each:
 *
 *   lines       end_line - line + 1 (line: the name's line; end_line: the
 *               closing brace / `end` / last line of the indented body)
 *   params      parameters declared: non-empty comma-separated entries of
 *               the parameter list ((), (void) and a trailing comma count
 *               nothing; Python's leading self/cls and bare * and / markers
 *               do not count either)
 *   complexity  1 + decision points, counted in the innermost function
 *               only (a lambda's decisions are the lambda's):
 *                 brace:   if for while case catch && || and a ternary ?
 *                 indent:  if elif for while except and or case (and the
 *                          `if` of comprehensions and conditional expressions)
 *                 keyword: if elsif elseif elif unless while until for when
 *                          rescue and or && || and shell case arms (;;)
 *               `else`, `default`, `switch`, `try` add nothing (McCabe's
 *               count of branches, approximated per token as lizard does).
 *   nesting     the deepest block inside the body, the body itself being 0:
 *               brace depth (brace family), open compound statements
 *               (indent family), open blocks (keyword family).
 *
 * What is a function, per family (all approximate; see metrics.c):
 *   brace    a `{` after a parameter list, at file level or in a
 *            class/struct/namespace/impl/trait/interface/object/extern
 *            block or an object literal: `name(...) [qualifiers] {` with
 *            qualifiers such as const, noexcept, override, throws X,
 *            -> T, : T, Go result lists, C++ constructor initialisers and
 *            K&R parameter declarations. Never a block of if/for/while/
 *            switch/catch/else/do/try, an initialiser (`= {`), a struct
 *            literal or a class body. Inside a function body only forms
 *            that say so are functions: `function`/`func`/`fn`/`fun`
 *            definitions, C++ lambdas `[..](..) {`, arrow functions
 *            `(..) => {` and Java lambdas `(..) -> {` (anonymous ones have
 *            no name); `macro_loop(x) {` there is a block. Preprocessor
 *            #else/#elif branches are skipped so that unbalanced braces
 *            across #if branches do not shift the rest of the file.
 *   indent   Python: `def`/`async def` (decorators and continuation lines
 *            in brackets handled), the body being every following line
 *            indented deeper (blank lines and lines inside a multi-line
 *            string do not end it); a one-line `def f(): return 1` is a
 *            one-line function.
 *   keyword  Ruby `def ... end` (also `def f(x) = x`), Lua `function ...
 *            end` (named by `local f = function`), shell `name() {` and
 *            `function name {`, Elixir `def/defp ... do ... end` (also
 *            `def f(x), do: x`): a stack of block openers (class module if
 *            unless while until for case begin do repeat function def fn,
 *            `{`) and closers (end fi done esac until `}`), where if/
 *            unless/while/until open a block only as the first word of a
 *            statement (Ruby modifiers do not). Elixir `fn ... end` is a
 *            block, not a function. Other keyword languages (Julia works;
 *            Pascal, Fortran, VB, MATLAB only roughly) get the same rules.
 *
 * Functions are reported when they end (inner before outer); a function
 * still open at the end of the buffer ends on the last line.
 */
#ifndef CCM_SCAN_METRICS_H
#define CCM_SCAN_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan/scan.h"

/** Limits; a value is over its limit when strictly greater; 0 = unchecked. */
typedef struct scan_thresholds {
  uint32_t max_function_lines; /* default 80 */
  uint32_t max_nesting;        /* default 4 */
  uint32_t max_complexity;     /* default 15 */
  uint32_t max_params;         /* default 6 */
  uint32_t max_file_lines;     /* default 1000 */
} scan_thresholds_t;

/** One function. Valid for the duration of the callback only. */
typedef struct scan_function {
  const char *name; /* points into the code buffer; NULL when anonymous */
  size_t name_len;  /* 0 when anonymous */
  uint32_t line, end_line, lines, nesting, complexity, params;
} scan_function_t;

/** Receives one function; a non-zero return stops the scan. */
typedef int (*scan_function_fn)(void *ud, const scan_function_t *f);

/* Which limits a function or file breaks (bit mask). */
#define SCAN_BREAKS_LINES 0x01u
#define SCAN_BREAKS_NESTING 0x02u
#define SCAN_BREAKS_COMPLEXITY 0x04u
#define SCAN_BREAKS_PARAMS 0x08u
#define SCAN_BREAKS_FILE_LINES 0x10u

/** @return the documented defaults (80, 4, 15, 6, 1000). */
scan_thresholds_t scan_thresholds_default(void);

/**
 * Find and measure the functions of one blanked buffer.
 * @param family  the language's family; SCAN_FAMILY_NONE finds nothing.
 * @param code    the blanked buffer (need not be NUL-terminated).
 * @return the number of functions passed to @p cb (also when @p cb stopped
 *         the scan), or -1 when out of memory or @p code is NULL with
 *         @p len > 0.
 */
int scan_functions(scan_family_t family, const char *code, size_t len,
                   scan_function_fn cb, void *ud);

/**
 * Which limits of @p t the function @p f breaks.
 * @param why  when not NULL, receives a description such as
 *             "142 lines > 80; complexity 23 > 15" (truncated to @p whylen,
 *             always NUL-terminated), or "" when nothing is broken.
 * @return a mask of SCAN_BREAKS_*, 0 when the function is within limits.
 */
unsigned scan_function_breaks(const scan_thresholds_t *t,
                              const scan_function_t *f, char *why,
                              size_t whylen);

/**
 * The same for a whole file of @p lines lines ("1204 lines > 1000").
 * @return SCAN_BREAKS_FILE_LINES or 0.
 */
unsigned scan_file_breaks(const scan_thresholds_t *t, uint32_t lines,
                          char *why, size_t whylen);

/** @return the number of lines of a buffer (a last line without '\n'
 *          counts; an empty buffer has 0). */
uint32_t scan_count_lines(const char *buf, size_t len);

#endif /* CCM_SCAN_METRICS_H */
