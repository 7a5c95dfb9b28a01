/*
 * markers.h: TODO/FIXME/... markers inside the comments of one file.
 *
 * Speed first: a file is first searched as raw bytes for the tags (AVX2 or
 * SSE2, 32 or 16 bytes at a time: a tag's first and last bytes at the
 * right distance, then a whole-word check). Most files have no candidate
 * and cost that one pass. Otherwise the file is lexed (scan/lexer.h) up
 * to the first comment after its last candidate, and only comments
 * holding a candidate are parsed.
 *
 * Rules:
 *   - A tag counts inside a comment only (a trailing `code(); // TODO` too;
 *     never in a string, a heredoc, or code). Python docstrings count as
 *     comments (scan/lexer.h says which strings are docstrings).
 *   - As a whole word: not preceded or followed by [A-Za-z0-9_] or a
 *     non-ASCII byte (TODOS, XTODO, todo_list, BUG_ON are not tags).
 *   - Starting a sentence (the first word of a comment line after the
 *     opener, blanks and a leading '*' decoration, or a word after one of
 *     . ; ! ? ( [ - : and blanks): followed by ':', '(', whitespace or the
 *     end of the line. Inside a sentence, where the word is mostly prose
 *     ("a BUG message", "where XXX is the name"), only as "TAG:", "TAG(x)",
 *     or as the last word of the comment (x = 1; // see 5.2 - big TODO).
 *     "TAG()" is a call (BUG()), never a marker.
 *   - Upper case only, as configured (todo: is not a marker), unless
 *     SCAN_MARKER_ANY_CASE is set in the configuration.
 *   - Not inside a URL: a tag in a word that holds "://" before it
 *     (http://x/TODO) is skipped.
 *   - One marker per comment line: the first tag of the line; the rest of
 *     the line is its text.
 *   - TODO(owner) TODO(#123) TODO(2025-03-30) TODO(owner, 2025-03-30): the
 *     parenthesised list is split at commas; "#<digits>" is an issue,
 *     YYYY-MM-DD a due date, anything else the owner (first one wins).
 *     TODO: #123 text: a leading "#<digits>" of the text is the issue and
 *     is dropped from the text.
 *   - Body: the rest of the tag's line after the tag, "(...)", ':' and
 *     blanks; then, in a block comment, the following lines (their
 *     leading blanks and '*' decoration removed) up to a blank line, the
 *     end of the comment or a line holding a tag; after a line comment,
 *     the following line comments that start in the same column on the
 *     next lines, are not blank and hold no tag. Lines are joined with one
 *     space and trimmed.
 *   - The text is valid UTF-8: an invalid byte becomes U+FFFD, control
 *     characters become spaces, '\r' never appears. It is at most
 *     SCAN_MARKER_TEXT_MAX bytes: a longer body is cut on a character
 *     boundary and ends with "…" (U+2026), within the limit.
 *
 * Thread safety: none needed; each call uses only its arguments and its
 * own stack.
 */
#ifndef CCM_SCAN_MARKERS_H
#define CCM_SCAN_MARKERS_H

#include <stddef.h>
#include <stdint.h>

#include "scan/lang.h"

#define SCAN_MARKER_TEXT_MAX 512 /* bytes of text, "…" included */
#define SCAN_MARKER_OWNER_MAX 64 /* bytes of owner; longer ones are cut */
#define SCAN_MARKER_TAG_MAX 32   /* longest configurable tag */
#define SCAN_MARKER_TAGS_MAX 64  /* most tags in one configuration */

#define SCAN_MARKER_ANY_CASE 0x1u /* cfg.flags: todo: and Todo: count too */

typedef struct {
  const char **tags; /* NULL: the default TODO FIXME HACK XXX BUG OPTIMIZE */
  size_t ntags;
  unsigned flags; /* SCAN_MARKER_* */
} scan_marker_cfg_t;

typedef struct {
  const char *tag;        /* points into cfg->tags (as configured) */
  uint32_t line, col;     /* of the tag */
  const char *text;       /* body, see above; owned by the scanner until */
  size_t text_len;        /* the callback returns */
  const char *owner;      /* TODO(owner); NULL when none; owned like text */
  size_t owner_len;
  uint32_t issue;         /* TODO(#123), TODO: #123 ; 0 = none */
  int32_t due_days;       /* TODO(2025-03-30): days since 1970-01-01; -1 */
} scan_marker_t;

/* Receives one marker; a non-zero return stops the scan. */
typedef int (*scan_marker_fn)(void *ud, const scan_marker_t *m);

/**
 * Find the markers in the comments of one file.
 * @param cfg   tags and flags; NULL for the defaults.
 * @param lang  from scan_lang_detect() / scan_lang_by_name().
 * @param fn    called per marker, in file order; may be NULL (count only).
 * @return the number of markers reported (the one whose callback stopped
 *         the scan included), or -1 on bad arguments: NULL lang, NULL buf
 *         with len > 0, a tag that is empty, longer than
 *         SCAN_MARKER_TAG_MAX or holding a blank, more than
 *         SCAN_MARKER_TAGS_MAX tags.
 */
int scan_markers(const scan_marker_cfg_t *cfg, const struct scan_lang *lang,
                 const char *buf, size_t len, scan_marker_fn fn, void *ud);

/**
 * The raw-byte prefilter alone: does @p buf hold a whole-word occurrence
 * of a tag anywhere (code, strings and comments alike)? scan_markers()
 * returns 0 without lexing when it does not.
 * @return 1 if so, 0 if not, -1 on bad arguments (as scan_markers).
 */
int scan_markers_maybe(const scan_marker_cfg_t *cfg, const char *buf,
                       size_t len);

/* The default tags, in order, and their count. */
const char *const *scan_marker_default_tags(size_t *count);

#endif /* CCM_SCAN_MARKERS_H */
