/*
 * walk.h: which files of a repository the scanner reads.
 *
 * In a git work tree: what `git ls-files -z --cached --others
 * --exclude-standard` lists (tracked files plus new files that .gitignore
 * does not exclude). Elsewhere: a walk of the tree that never enters
 * .git/.hg/.svn and never follows a symbolic link. In both cases the
 * exclude rules below drop vendored and generated files. Paths are handed
 * out one at a time, relative to the root, so memory does not grow with
 * the repository.
 *
 * Exclude rules (default list: scan_walk_default_excludes()):
 *   "name/"   a directory of that name anywhere in the path (vendor/)
 *   "a/b/"    a directory at that path from the root
 *   other     a glob (fnmatch) matched against the file's base name and
 *             against the whole relative path ("*.min.js", "docs/gen/x*.c")
 *
 * Size, binary and symlink checks happen when the file is opened
 * (scan_open_beneath in file.h), not here.
 */
#ifndef CCM_SCAN_WALK_H
#define CCM_SCAN_WALK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct scan_walk_cfg {
  const char *root;             /* the directory to list */
  const char *const *excludes;  /* rules as above; NULL = the defaults */
  size_t nexcludes;
  bool no_git;                  /* walk the tree even in a git work tree */
  const char *only;             /* list just this file (relative to root,
                                   no excludes applied), NULL: walk */
} scan_walk_cfg_t;

/* Receives one relative path (NUL-terminated, len bytes); non-zero stops. */
typedef int (*scan_path_fn)(void *ud, const char *path, size_t len);

typedef struct scan_walk_stats {
  bool used_git;        /* listed by git ls-files */
  size_t listed;        /* paths handed to the callback */
  size_t excluded;      /* dropped by the exclude rules */
} scan_walk_stats_t;

/**
 * List the files under cfg->root. @return 0, the callback's non-zero value,
 * or -1 with a one-line reason in @p err (root missing or not a directory,
 * git failed in a work tree), or GITCMD_ETIMEDOUT / GITCMD_ECANCELLED
 * (scan/gitcmd.h) when git hung past its deadline or ccm is stopping.
 */
int scan_walk(const scan_walk_cfg_t *cfg, scan_path_fn fn, void *ud,
              scan_walk_stats_t *stats, char *err, size_t errlen);

/* Would scan_walk() list @p cfg->root through git (a git work tree, and
 * no_git and only unset)? Runs git. */
bool scan_walk_uses_git(const scan_walk_cfg_t *cfg);

/* The default exclude rules (NULL-terminated). */
const char *const *scan_walk_default_excludes(size_t *count);

/* Does @p path (relative) match one of the rules? */
bool scan_path_excluded(const char *path, const char *const *rules,
                        size_t nrules);

#endif /* CCM_SCAN_WALK_H */
