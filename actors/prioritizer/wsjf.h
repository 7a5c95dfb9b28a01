/*
 * wsjf.h: the score of one task (SPEC §1.3), a pure function.
 *
 *   total = (wv * value + wt * time_criticality + wr * risk_reduction)
 *           / (1 + wj * (job_size - 1))  + bump
 *
 * Each input is 1-10, derived from what is known of the task (its facts,
 * prio_facts_t) through rules (prio_rules_t: weights and mappings):
 *   - kind (or tag): the base of all four inputs (a built-in table that
 *     `priority.kinds` overrides per kind);
 *   - labels: each mapped label adds its adjustments;
 *   - path importance: the first glob of `priority.paths` that matches the
 *     task's path adds its adjustments;
 *   - age (blame date): risk reduction +1 after 180 days, +2 after 2 years;
 *   - TODO(date): overdue raises time criticality to 8, +1 per 30 days
 *     late (at most 10); due within 14 days raises it to 6;
 *   - file churn (commits touching the file in the churn window): risk
 *     reduction +1 from 1 commit, +2 from 5, +3 from 20;
 *   - size: a refactor's "N lines" sets job size to 2 + N / 60; a marker
 *     whose text is long (> 240 bytes) is one size bigger;
 *   - a linked issue: value +1.
 * Each input is clamped to 1-10 after all of these. The denominator makes
 * a job-size weight of 0 ignore the size and 1 divide by it.
 *
 * Human overrides win over the formula. They are task labels with the
 * prefix "prio:" (so they travel with the task, also from GitHub):
 * "prio:value=N", "prio:time_criticality=N", "prio:risk_reduction=N",
 * "prio:job_size=N" set an input (1-10), "prio:bump=N" adds N (-100..100)
 * to the total. Pinning (task.pinned) and skipping (state skipped) are the
 * task's own; the ranking puts pinned tasks first (rank.h).
 *
 * No I/O, no global state: any thread.
 */
#ifndef CCM_PRIO_WSJF_H
#define CCM_PRIO_WSJF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The four inputs, in formula order. */
enum { PRIO_VALUE, PRIO_TIME, PRIO_RISK, PRIO_SIZE, PRIO_NINPUTS };

/* Input names as in proto_score_t / config: "value", "time_criticality",
 * "risk_reduction", "job_size". */
extern const char *const prio_input_names[PRIO_NINPUTS];

/* A mapping: a kind, a label or a path glob, and what it sets (kinds) or
 * adds (labels, paths) to each input; NAN where it says nothing. */
typedef struct prio_map {
  const char *key;
  double in[PRIO_NINPUTS];
} prio_map_t;

/* Rules: plain values; the pointers are borrowed. */
typedef struct prio_rules {
  double weight[PRIO_NINPUTS]; /* 1 each by default */
  const prio_map_t *kinds;     /* base inputs per kind (over built-ins) */
  size_t nkinds;
  const prio_map_t *labels;    /* adjustments per label (over built-ins) */
  size_t nlabels;
  const prio_map_t *paths;     /* adjustments of the first matching glob */
  size_t npaths;
} prio_rules_t;

/** Weights 1, no mappings beyond the built-in ones. */
void prio_rules_defaults(prio_rules_t *r);

#define PRIO_DUE_PAST (-2)

/* What is known of one task. Strings may be NULL. */
typedef struct prio_facts {
  const char *kind;
  const char *tag;              /* marker in upper case, or NULL */
  const char *path;             /* relative to the repository */
  const char *text;
  const char *const *labels;
  size_t nlabels;
  int64_t authored_at;          /* unix s (blame); 0 unknown */
  int32_t due_days;             /* TODO(date): days since 1970; -1 none;
                                   PRIO_DUE_PAST: overdue, date unknown */
  int32_t churn;                /* commits in the window; -1 unknown */
  bool has_issue;
  int64_t now_ms;               /* unix ms */
} prio_facts_t;

/* Overrides read from "prio:" labels. */
typedef struct prio_override {
  double in[PRIO_NINPUTS];      /* NAN: not set */
  double bump;                  /* 0: none */
} prio_override_t;

/** Read the "prio:" labels of @p labels into @p o (malformed ones are
 * ignored). @return how many override labels were found. */
size_t prio_override_parse(const char *const *labels, size_t n,
                           prio_override_t *o);

/**
 * Score @p f under @p r (NULL: defaults). Fills every number of @p out
 * and leaves out->why alone; @p why (may be NULL) gets the one-line
 * explanation, e.g. "WSJF (6+10+10)/2 = 13: secret; overdue 40 d;
 * churn 7 commits".
 */
void prio_score(const prio_rules_t *r, const prio_facts_t *f,
                proto_score_t *out, char *why, size_t whylen);

/** Does glob @p g match @p path? fnmatch(3) where '*' also crosses '/';
 * a glob without '/' also matches the base name; one ending in '/' every
 * path below that folder. */
bool prio_glob_match(const char *g, const char *path);

/** "YYYY-MM-DD" -> days since 1970-01-01, or -1. */
int32_t prio_days_of_date(const char *s);

/** The facts of a task (strings borrowed from @p t; churn unknown: the
 * caller adds it). The due date comes from a label "due:YYYY-MM-DD", else
 * from "due YYYY-MM-DD" in the score's previous why (the prioritizer
 * writes it there), else PRIO_DUE_PAST when the analyzer's default rank
 * (or an earlier score) said "overdue" without the date. */
void prio_facts_of_task(const proto_task_t *t, int64_t now_ms,
                        prio_facts_t *f);

/** For `ccm scan`: the WSJF total of a finding under the default rules
 * (its due date, blame date and issue reference included), with the
 * one-line why. */
double prio_score_finding(const proto_finding_t *fd, int64_t now_ms,
                          char *why, size_t whylen);

#ifdef __cplusplus
}
#endif
#endif /* CCM_PRIO_WSJF_H */
