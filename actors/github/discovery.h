/*
 * discovery.h: open GitHub issues as findings of kind "issue", with
 * activity-typed staleness (issue #5, SPEC §1.1).
 *
 * An issue is stale when no *human* acted on it for stale_days. What
 * counts: the issue's creation by a human, comments by humans, and timeline
 * events a human performed (labelling, assigning, renaming, closing,
 * reopening, cross-referencing, ...). What does not: anything by a bot
 * account (type "Bot" or a "[bot]" login), by ccm's own account, or by an
 * account the policy lists, and passive events (subscribed, mentioned,
 * ...). The issue's updated_at is deliberately ignored: bots move it. An
 * issue carrying an exempt label is never stale. The finding says why (the
 * last human activity, by whom, when).
 *
 * Pure: no I/O. The github actor feeds it gh_ops.h parses.
 */
#ifndef ACTORS_GITHUB_DISCOVERY_H
#define ACTORS_GITHUB_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "github/gh_ops.h"
#include "protocol/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ghd_policy {
  unsigned stale_days;              /* 30 when 0 */
  const char *self_login;           /* ccm's own account, or NULL */
  const char *const *exempt_labels; /* never stale with one of these */
  size_t n_exempt;
  const char *const *ignore_logins; /* more accounts that are not human */
  size_t n_ignore;
} ghd_policy_t;

typedef struct ghd_staleness {
  bool stale;
  bool exempt;             /* an exempt label holds it */
  int64_t last_human_at;   /* unix s, 0 when no human ever acted */
  char last_human[64];     /* login, "" when none */
  char last_kind[32];      /* "opened", "commented", "labeled", ... */
  int64_t idle_days;       /* whole days since last_human_at */
  char why[256];           /* the sentence the finding's details show */
  /* When stale: why, in words that stay the same until a human acts (no
   * day count), for the task's `stale:` label; "" otherwise. */
  char stale_why[200];
} ghd_staleness_t;

/**
 * Evaluate @p issue with its comments and/or timeline (@p acts, any order,
 * may be NULL when @p n is 0) at @p now (unix s).
 */
void ghd_staleness_eval(const gh_issue_t *issue, const gh_activity_t *acts,
                        size_t n, const ghd_policy_t *p, int64_t now,
                        ghd_staleness_t *out);

/**
 * The finding for @p issue of GitHub repository @p gh_repo ("owner/name"),
 * reported for ccm repository @p repo_id: kind "issue" ("stale-issue" when
 * @p s says stale: the same task either way), tag "ISSUE", path
 * "owner/name#N", text the title, author and authored_at from the issue,
 * issue_ref N, fingerprint stable per (repo, issue number), details
 * {"stale", "exempt", "last_human", "last_human_at", "last_kind",
 * "idle_days", "why", "labels", "assignees", "author_association",
 * "html_url", "updated_at"}. Owned strings: proto_msg_fini on a message
 * wrapping it, or ghd_finding_fini.
 * @return 0, GH_EINVAL (pull requests are not issue findings, number 0),
 *         GH_ENOMEM.
 */
int ghd_issue_finding(const char *repo_id, const char *gh_repo,
                      const gh_issue_t *issue, const ghd_staleness_t *s,
                      proto_finding_t *out);
void ghd_finding_fini(proto_finding_t *f);

#ifdef __cplusplus
}
#endif
#endif /* ACTORS_GITHUB_DISCOVERY_H */
