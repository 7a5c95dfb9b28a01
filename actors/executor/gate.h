/*
 * gate.h: the policy gate a run's changes pass before review.
 *
 * Refused: a change to a protected path (CI workflow files, lockfiles,
 * secret-like files by default), more files changed than max_files, more
 * lines (added + deleted) than max_lines, or a list of changes that was
 * cut (too big to judge). The project's test command, when configured,
 * runs after the gate (the executor's run actor does that).
 *
 * Globs, matched against paths relative to the repository root:
 *   a glob without '/' matches the file name at any depth ("*.pem");
 *   a glob with '/' matches the whole path ("config/prod/x.yml");
 *   '*' and '?' never cross '/', "**" crosses any number of directories.
 * Pure functions; no I/O.
 */
#ifndef CCM_EXEC_GATE_H
#define CCM_EXEC_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/executor/worktree.h"

typedef struct exec_policy {
  const char *const *protected_globs; /* NULL-terminated; NULL: defaults */
  unsigned max_files;                 /* 0: no limit */
  uint64_t max_lines;                 /* 0: no limit */
} exec_policy_t;

/** The default protected globs (NULL-terminated, static). */
const char *const *exec_policy_default_globs(void);

/** Does @p glob match @p path (rules above)? */
bool exec_glob_match(const char *glob, const char *path);

/**
 * Judge @p changes against @p policy.
 * @return true when they pass; otherwise false with one sentence in
 *         @p reason naming the first rule broken (a protected path names
 *         the file and the glob).
 */
bool exec_gate_check(const exec_policy_t *policy, const exec_changes_t *changes,
                     char *reason, size_t rlen);

#endif /* CCM_EXEC_GATE_H */
