/*
 * rank.h: the default rank of a finding, until the prioritizer (issue #6)
 * computes WSJF scores: a base score per kind (secret 9, bug 8, fixme 7,
 * hack/xxx 6, todo 5, refactor 4, optimize 3, anything else 4), +2 for a
 * TODO(date) that is overdue, +0.5 when the marker names an issue.
 */
#ifndef CCM_SCAN_RANK_H
#define CCM_SCAN_RANK_H

#include <stdbool.h>
#include <stddef.h>

/* @p due: "YYYY-MM-DD" or NULL; @p today likewise (NULL: the UTC date now).
 * @p why (may be NULL) receives a one-line explanation. */
double scan_default_score(const char *kind, const char *due, bool has_issue,
                          const char *today, char *why, size_t whylen);

#endif /* CCM_SCAN_RANK_H */
