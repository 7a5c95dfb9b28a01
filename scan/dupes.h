/*
 * dupes.h: duplicated blocks across a repository (issue #4).
 *
 * Feed every file's blanked buffer (scan_lex_blank: comments and string
 * contents are spaces) into an accumulator, then ask for the groups of
 * places that share at least min_lines consecutive normalised lines.
 *
 * Normalised line: whitespace dropped, except one space between two word
 * characters (so `a = b` and `a=b`, or re-indented code, are the same
 * line). Lines that carry nothing are skipped, so they never make a
 * duplicate and never break one: blank lines, lines of brackets and
 * punctuation only (`}`, `});`), lone keywords (`return;`, `break;`,
 * `else`, `end`, `fi`, `pass`, `#endif` ...), and import lines (#include,
 * import, from .. import, using, package, use, require), which every file
 * repeats. A window is min_lines consecutive non-skipped lines; its hash
 * combines the lines' 64-bit hashes.
 *
 * Memory is bounded: the accumulator keeps at most max_windows window
 * records (24 bytes each, default 1 Mi = 24 MiB) plus the file paths.
 * When the table fills, it keeps only the windows whose hash is 0 modulo
 * a sampling factor that doubles at each fill (1, 2, 4, ...), dropping the
 * others; since the choice depends on the hash only, a window is kept in
 * every place it occurs or in none. The trade-off: with a factor k > 1 a
 * duplicate of L windows is still found when one of its windows is kept
 * (likely for L >> k; a minimal one of exactly min_lines lines is found
 * with probability 1/k), and its reported range may start and end up to
 * about k lines inside the true one. The factor reached is in the stats;
 * at factor 1 (the default table holds ~1M windows, a repository of about
 * a million code lines) the result is exact but for 64-bit hash
 * collisions.
 *
 * Reporting: windows that share a hash are paired; pairs on the same
 * diagonal (same two files, same offset) whose windows overlap or touch
 * are merged into one maximal pair of regions; regions with identical
 * ranges are then joined into groups, so three copies of one block are one
 * group of three locations. A block repeated more than max_group times is
 * reported with its max_group first places in (path, line) order, so the
 * same files give the same groups whatever order they were added in (the
 * pairs kept within the pair budget too). Two overlapping regions of one
 * file (a run of repeated lines) are not a duplicate; a region that repeats
 * back to back is cut where its copy starts.
 *
 * Thread safety: one accumulator per thread, or a lock around it (around
 * scan_dupes_add_prepared only: preparing needs no lock).
 */
#ifndef CCM_SCAN_DUPES_H
#define CCM_SCAN_DUPES_H

#include <stddef.h>
#include <stdint.h>

typedef struct scan_dupes scan_dupes_t;

typedef struct scan_dupes_cfg {
  uint32_t min_lines;  /* normalised lines in a window; default 6, >= 2 */
  size_t max_windows;  /* window records kept; default 1 << 20 */
  uint32_t max_group;  /* places of one block considered; default 32 */
} scan_dupes_cfg_t;

/** One place of a duplicated block. */
typedef struct scan_dup_loc {
  const char *path;   /* as given to scan_dupes_add (a copy) */
  uint32_t start_line, end_line; /* 1-based, inclusive */
} scan_dup_loc_t;

/** One duplicated block: its places (>= 2, sorted by path then line). */
typedef struct scan_dup {
  const scan_dup_loc_t *locs;
  size_t nlocs;
  uint32_t lines; /* normalised lines in the block */
} scan_dup_t;

/** Receives one group; valid during the call only. Non-zero stops. */
typedef int (*scan_dup_fn)(void *ud, const scan_dup_t *d);

typedef struct scan_dupes_stats {
  size_t files;        /* files added */
  size_t lines;        /* normalised (non-skipped) lines seen */
  size_t windows;      /* windows seen */
  size_t kept;         /* window records held now */
  uint32_t sample;     /* sampling factor reached: 1 = every window kept */
  size_t pairs_dropped; /* pairs beyond the pair budget (max_windows) */
} scan_dupes_stats_t;

/** @return the defaults (6, 1 << 20, 32). */
scan_dupes_cfg_t scan_dupes_cfg_default(void);

/**
 * A new accumulator. @p cfg may be NULL (defaults); zero fields take
 * their default. @return NULL when out of memory or min_lines < 2.
 */
scan_dupes_t *scan_dupes_new(const scan_dupes_cfg_t *cfg);

/**
 * Add one file. @p path is copied; @p code (the blanked buffer, @p len
 * bytes, need not be NUL-terminated) is read during the call only.
 * @return 0, or -1 when out of memory (the accumulator stays usable and
 *         holds what was added before).
 */
int scan_dupes_add(scan_dupes_t *d, const char *path, const char *code,
                   size_t len);

/*
 * The same in two steps, so that threads share only the cheap one: prepare
 * (normalise and hash a file's lines into its windows) into a per-thread
 * scratch, then add the prepared windows to the shared accumulator (under
 * its lock): an append of 24-byte records. scan_dupes_add() is the two in
 * one call.
 */
typedef struct scan_dupes_prep scan_dupes_prep_t;
/** A per-thread scratch for @p cfg (as scan_dupes_new; NULL: defaults). */
scan_dupes_prep_t *scan_dupes_prep_new(const scan_dupes_cfg_t *cfg);
/** Windows of one file (@p code: the blanked buffer). @return 0 or -1. */
int scan_dupes_prepare(scan_dupes_prep_t *p, const char *code, size_t len);
/** Add the prepared file as @p path. @return 0, or -1 when out of memory
 * or @p p was made for another min_lines. */
int scan_dupes_add_prepared(scan_dupes_t *d, const char *path,
                            const scan_dupes_prep_t *p);
void scan_dupes_prep_free(scan_dupes_prep_t *p);

/**
 * Report every duplicated block, each once, in order of its first place.
 * Call once, after the last add.
 * @return the number of groups reported (also when @p cb stopped), or -1
 *         when out of memory.
 */
int scan_dupes_finish(scan_dupes_t *d, scan_dup_fn cb, void *ud);

void scan_dupes_stats(const scan_dupes_t *d, scan_dupes_stats_t *st);

/** Free the accumulator and its path copies; NULL is a no-op. */
void scan_dupes_free(scan_dupes_t *d);

#endif /* CCM_SCAN_DUPES_H */
