/*
 * gate.c: see gate.h. The matcher is a small backtracking one: globs are
 * short and paths are bounded, so its worst case does not matter here.
 */
#include "actors/executor/gate.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const default_globs[] = {
    /* CI definitions: a change there changes what checks the change */
    ".github/workflows/**", ".gitlab-ci.yml", ".circleci/**", ".travis.yml",
    "Jenkinsfile", "azure-pipelines.yml", ".buildkite/**",
    /* lockfiles: dependency changes need a human */
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock",
    "pnpm-lock.yaml", "*.lock", "go.sum",
    /* secret-like files */
    ".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks",
    "*.keystore", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".npmrc",
    ".pypirc", ".netrc", ".git-credentials", "credentials.json",
    "secrets.yml", "secrets.yaml", "secrets.json", NULL};

const char *const *exec_policy_default_globs(void)
{
  return default_globs;
}

static bool match_from(const char *p, const char *s);

/* "**" at p (already skipped): any number of whole directories. */
static bool match_deep(const char *p, const char *s)
{
  if (*p == '/')
    p++;
  if (!*p)
    return true;
  for (const char *t = s;; t++) {
    if ((t == s || t[-1] == '/') && match_from(p, t))
      return true;
    if (!*t)
      return false;
  }
}

static bool match_from(const char *p, const char *s)
{
  while (*p) {
    if (p[0] == '*' && p[1] == '*')
      return match_deep(p + 2, s);
    if (*p == '*') {
      for (const char *t = s;; t++) {
        if (match_from(p + 1, t))
          return true;
        if (!*t || *t == '/')
          return false;
      }
    }
    if (*p == '?' ? (!*s || *s == '/') : *p != *s)
      return false;
    p++;
    s++;
  }
  return !*s;
}

bool exec_glob_match(const char *glob, const char *path)
{
  if (!strchr(glob, '/')) {
    const char *base = strrchr(path, '/');
    return match_from(glob, base ? base + 1 : path);
  }
  return match_from(glob[0] == '/' ? glob + 1 : glob, path);
}

static const char *protected_by(const char *const *globs, const char *path)
{
  for (size_t i = 0; globs[i]; i++)
    if (exec_glob_match(globs[i], path))
      return globs[i];
  return NULL;
}

bool exec_gate_check(const exec_policy_t *policy, const exec_changes_t *changes,
                     char *reason, size_t rlen)
{
  const char *const *globs = policy && policy->protected_globs
                                 ? policy->protected_globs
                                 : default_globs;
  uint64_t lines = changes->added + changes->deleted;
  if (changes->truncated) {
    snprintf(reason, rlen, "policy: more than %d files changed",
             EXEC_CHANGES_MAX);
    return false;
  }
  for (size_t i = 0; i < changes->n; i++) {
    const char *g = protected_by(globs, changes->files[i].path);
    if (g) {
      snprintf(reason, rlen, "policy: protected path %.1000s (matches %.200s)",
               changes->files[i].path, g);
      return false;
    }
  }
  if (policy && policy->max_files && changes->n > policy->max_files) {
    snprintf(reason, rlen, "policy: %zu files changed, over the limit of %u",
             changes->n, policy->max_files);
    return false;
  }
  if (policy && policy->max_lines && lines > policy->max_lines) {
    snprintf(reason, rlen,
             "policy: %" PRIu64 " lines changed, over the limit of %" PRIu64,
             lines, policy->max_lines);
    return false;
  }
  snprintf(reason, rlen, "policy: passed (%zu files, +%" PRIu64 " -%" PRIu64 ")",
           changes->n, changes->added, changes->deleted);
  return true;
}
