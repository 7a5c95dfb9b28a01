/*
 * scan.h: types shared by the discovery library in scan/ (issue #4).
 *
 * scan/ is pure code: no threads, no runtime, no store. It turns one file's
 * bytes into findings through callbacks; the scanner actors in actors/
 * walk repositories, feed files in and turn the callbacks into messages.
 *
 *   lang.h     language detection (extension, file name, shebang) and the
 *              comment/string syntax of each language
 *   lexer.h    comment-aware lexing: comment spans, and a "code only" copy
 *              of a buffer (comments and string contents blanked)
 *   markers.h  TODO/FIXME/... markers inside comments
 *   secrets.h  committed secrets (never kept in full)
 *   metrics.h  per-function metrics and refactoring candidates
 *   dupes.h    duplicated blocks across files
 *
 * Positions are 1-based lines and 1-based byte columns.
 */
#ifndef CCM_SCAN_SCAN_H
#define CCM_SCAN_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* How a language delimits functions, for the refactoring metrics. */
typedef enum {
  SCAN_FAMILY_NONE = 0, /* data, markup, prose: no function metrics */
  SCAN_FAMILY_BRACE,    /* C, C++, Java, JS/TS, Go, Rust, C#, PHP, ... */
  SCAN_FAMILY_INDENT,   /* Python, Nim, CoffeeScript, ... */
  SCAN_FAMILY_KEYWORD,  /* Ruby, Lua, shell, Elixir: def/function ... end */
} scan_family_t;

#endif
