/*
 * worktree.h: the git side of a run, blocking (call from a blocking job).
 *
 * A task runs in `<data>/worktrees/<task-id>`, a worktree of the user's
 * repository on branch `ccm/<task-id>` made from the base branch:
 *   git -C <repo> worktree add -b ccm/<id> <dir> <base>
 * The user's working copy, index and current branch are never touched;
 * only the repository's worktree list and the ccm/<id> branch change.
 * After the run everything in the worktree (new files included) is
 * committed on the branch and listed against the base commit with
 * `git diff --numstat`; the commit is what a review (or a pull request)
 * sees, and the worktree directory can then go while the branch stays.
 *
 * Every git invocation runs with hooks disabled (core.hooksPath=/dev/null:
 * the repository's hooks never run with ccm's environment), LC_ALL=C and
 * no terminal prompts (scan/gitcmd.h).
 */
#ifndef CCM_EXEC_WORKTREE_H
#define CCM_EXEC_WORKTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXEC_SHA_MAX 41 /* 40 hex digits and NUL */

/**
 * Make the worktree @p dir on a new branch @p branch from @p base (a
 * branch, tag or commit; NULL: the repository's HEAD). A worktree or
 * branch left by an earlier attempt is removed first. Parent directories
 * of @p dir are created.
 * @param base_sha  receives the commit the branch starts from.
 * @return 0, or git's non-zero status / -errno with a sentence in @p err.
 */
int exec_wt_create(const char *repo, const char *base, const char *dir,
                   const char *branch, char base_sha[EXEC_SHA_MAX],
                   char *err, size_t errlen);

/**
 * Remove the worktree @p dir (forcefully: changes in it are lost; a
 * directory git no longer knows is deleted too), prune stale worktree
 * records, and delete @p branch unless it is NULL. Missing pieces are not
 * errors. @return 0, or an error with a sentence in @p err.
 */
int exec_wt_remove(const char *repo, const char *dir, const char *branch,
                   char *err, size_t errlen);

/* One changed file. */
typedef struct exec_change {
  char *path;        /* owned */
  uint64_t added;    /* lines; 0 for binary files */
  uint64_t deleted;
  bool binary;
} exec_change_t;

typedef struct exec_changes {
  exec_change_t *files; /* owned */
  size_t n;
  uint64_t added, deleted; /* totals */
  bool truncated;          /* the list was longer than the cap */
  bool committed;          /* ccm made a commit (the agent may have too) */
  char head[EXEC_SHA_MAX]; /* the branch's commit after the run */
} exec_changes_t;

/* Most files listed (a bigger diff is refused by any sane gate anyway). */
#define EXEC_CHANGES_MAX 10000

/**
 * Commit everything in the worktree (git add -A; a commit only when
 * something is staged, by "ccm <ccm@localhost>", message @p message),
 * then list what the branch changed since @p base_sha.
 * @return 0, or an error with a sentence in @p err; @p out is filled on
 *         success and must be released with exec_changes_fini().
 */
int exec_wt_commit(const char *dir, const char *message, const char *base_sha,
                   exec_changes_t *out, char *err, size_t errlen);

void exec_changes_fini(exec_changes_t *c);

/**
 * Publish @p branch: `git push --porcelain <remote> +refs/heads/<branch>:
 * refs/heads/<branch>` from @p repo (the branch is ccm's own, so a retry's
 * new commit replaces an older attempt's), with hooks off and no terminal
 * prompts (credentials come from the user's git set-up). Also names the
 * branch a pull request should target: @p base when it is a branch of the
 * repository, else the branch the repository's HEAD is on.
 * @param base_name  receives that branch name ("" when HEAD is detached
 *                   and @p base is not a branch).
 * @return 0, or git's status / -errno with a sentence in @p err.
 */
int exec_wt_push(const char *repo, const char *remote, const char *branch,
                 const char *base, char *base_name, size_t base_len,
                 char *err, size_t errlen);

#endif /* CCM_EXEC_WORKTREE_H */
