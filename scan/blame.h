/*
 * blame.h: who wrote a line, and when, from `git blame --porcelain`.
 *
 * One git process per file: with a few lines, `-L n,n` for each of them;
 * with many, the whole file. Lines not committed yet (git's zero commit)
 * and lines git cannot attribute get no author. Blocking: run it from a
 * blocking job (actors/scanner does), never in an actor handler.
 */
#ifndef CCM_SCAN_BLAME_H
#define CCM_SCAN_BLAME_H

#include <stddef.h>
#include <stdint.h>

typedef struct scan_blame_line {
  uint32_t line;        /* in: the line asked for */
  char author[96];      /* out: "" when unknown */
  int64_t time;         /* out: author time, unix seconds; 0 unknown */
} scan_blame_line_t;

/**
 * Fill author and time of each entry of @p lines (any order) for @p path,
 * relative to @p root (a git work tree).
 * @return 0, or git's failure (non-zero, with @p err set): not a git
 *         repository, path not tracked, git missing.
 */
int scan_blame(const char *root, const char *path, scan_blame_line_t *lines,
               size_t n, char *err, size_t errlen);

#endif /* CCM_SCAN_BLAME_H */
