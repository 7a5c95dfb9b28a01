/*
 * churn.h: how often each file of a repository changed recently.
 *
 * One `git -C REPO log --since=N.days --max-count=M --name-only --format=
 * --no-renames` per repository per cycle; each path it prints counts one
 * commit. It blocks (a child process), so the prioritizer runs it on a
 * runtime blocking thread, never on a worker. git runs through
 * scan/gitcmd.h like every other git of ccm: within the run deadline
 * (scan.git_timeout), never prompting, and killed when the daemon stops
 * (gitcmd_cancel_all), so a hung git holds neither a cycle nor the
 * shutdown. The result is an immutable table sorted by path (binary
 * search), freed by its owner.
 *
 * Bounds: at most PRIO_CHURN_MAX_COMMITS commits are read (git stops
 * there) and PRIO_CHURN_MAX_OUTPUT bytes of output: a repository with more
 * recent history than that is ranked on its latest commits.
 */
#ifndef CCM_PRIO_CHURN_H
#define CCM_PRIO_CHURN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PRIO_CHURN_MAX_COMMITS 20000
#define PRIO_CHURN_MAX_OUTPUT (64u << 20)

typedef struct prio_churn prio_churn_t;

/**
 * Count the commits of the last @p window_days days touching each file of
 * the git repository at @p repo_path.
 * @return 0, -ENOMEM (parsing), or -EIO (git failed, could not start,
 *         timed out or was cancelled; not a repository, ...); *out always
 *         written (NULL on failure).
 */
int prio_churn_read(const char *repo_path, unsigned window_days,
                    prio_churn_t **out);

/** Build a table from @p text ("path\n" per line, as git prints it). */
int prio_churn_parse(const char *text, size_t len, prio_churn_t **out);

/** Commits that touched @p path; 0 when none or @p c is NULL. */
int32_t prio_churn_of(const prio_churn_t *c, const char *path);

/** Distinct paths in the table. */
size_t prio_churn_files(const prio_churn_t *c);

/** Free; NULL is a no-op. */
void prio_churn_free(prio_churn_t *c);

#ifdef __cplusplus
}
#endif
#endif /* CCM_PRIO_CHURN_H */
