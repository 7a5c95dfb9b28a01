/*
 * changes.h: what changed in a repository since a scan, for incremental
 * rescans (actors/scanner/scanner.h has the whole rule).
 *
 * In a git work tree, git says which files may have changed since the
 * last scanned commit: `git diff --name-only <base> HEAD` (committed
 * since) and `git status --porcelain` (staged, modified, deleted and
 * untracked files now). Paths are relative to the scanned directory, like
 * the walker's. They are kept as a set of 64-bit path hashes (8 bytes a
 * path, whatever its length); a collision could only make the scanner
 * look closer at a file (it compares size and mtime), never skip one.
 *
 * Also the git blob id of a buffer (SHA-1 of "blob <len>\0" + bytes): the
 * key of the blame cache.
 *
 * Blocking (runs git): call from a blocking job or a CLI thread.
 */
#ifndef CCM_SCAN_CHANGES_H
#define CCM_SCAN_CHANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A set of path hashes. */
typedef struct scan_pathset {
  uint64_t *slots; /* open addressing; 0 = empty */
  size_t n, cap;
} scan_pathset_t;

/** Add @p path (@p len bytes); @return 0 or -1 when out of memory. */
int scan_pathset_add(scan_pathset_t *s, const char *path, size_t len);
bool scan_pathset_has(const scan_pathset_t *s, const char *path, size_t len);
/** Free the slots; the set is empty and usable again. */
void scan_pathset_fini(scan_pathset_t *s);

typedef struct scan_git_changes {
  char head[41];           /* HEAD's commit id, "" without a commit */
  scan_pathset_t changed;  /* changed since the base, or in status */
  scan_pathset_t dirty;    /* in status: differs from HEAD or untracked */
  bool all;                /* the base is unknown: any file may differ */
} scan_git_changes_t;

/**
 * Ask git in @p root what changed since commit @p base ("" or NULL: no
 * base, so `all` is set and only head and dirty are filled).
 * @return 0, or -1 with a reason in @p err (git failed).
 */
int scan_git_changes(const char *root, const char *base,
                     scan_git_changes_t *out, char *err, size_t errlen);
void scan_git_changes_fini(scan_git_changes_t *c);

/** The git blob id of @p len bytes at @p data, as 40 hex digits + NUL. */
void scan_git_blob_id(const char *data, size_t len, char hex[41]);

#endif /* CCM_SCAN_CHANGES_H */
