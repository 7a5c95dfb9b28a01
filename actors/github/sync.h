/*
 * sync.h: the periodic GitHub sweep of `ccm serve` (issue #5): open
 * issues become tasks of kind "issue" (with discovery.h's activity-typed
 * staleness), and findings become proposal issues, under a per-cycle
 * budget of GitHub operations with a persisted sweep cursor.
 *
 * A cycle (every interval_ms, or on GHS_MSG_CYCLE) walks the configured
 * repositories in order. Per repository:
 *   1. issues: the open issues, one page (one operation) at a time; for
 *      each issue that is not a pull request, its comments (one operation)
 *      for the staleness rule (exempt_labels never stale); each page's
 *      findings go to the "analyzer" (SCANNER_MSG_FINDINGS, as a scan's
 *      do), which creates or refreshes the tasks; once it acknowledged
 *      them, each issue task whose kind (issue, or stale-issue while
 *      stale), `stale: <why>` label or GitHub labels differ gets them
 *      through the store COMMAND "gh_task" (field writes: nothing the
 *      analyzer, the prioritizer or a human committed is lost). When the
 *      listing was read whole in this cycle (from its first page, no
 *      budget stop, no resumed cursor), the repository's issue tasks it
 *      did not show, and that nothing touched since it began, are
 *      `resolved` ("closed on GitHub (no longer open)"): their issue was
 *      closed while no webhook reached ccm. A partial listing resolves
 *      nothing;
 *   2. proposals (repositories with `propose`): the issues labelled
 *      proposal_label (every state; one operation per page) are read for
 *      their hidden marker `<!-- ccm:fingerprint=<task id> -->`; then each
 *      task of a proposed kind that is new or triaged and has no issue
 *      gets one: linked to the issue that already carries its marker (or
 *      that the kv database remembers), else created (one operation) with
 *      the marker and proposal_label (and approve_label, moving the task to
 *      `ready`, for the repository's auto_approve kinds). The task id is
 *      its finding's fingerprint, which ignores the line, so a moved TODO
 *      keeps its issue and no duplicate is ever created, across restarts
 *      too. With close_resolved, the issue of a proposal whose task is
 *      `resolved` is closed (one operation, once); when that finding comes
 *      back (its task new or triaged again, still linked), the issue ccm
 *      closed is reopened (one operation), never a second one created.
 *      An issue a human closed is not reopened.
 *      Each issue created or closed is audit-logged through the store
 *      actor (COMMAND "audit": who "github", what "issue.create",
 *      "issue.close" or "issue.reopen", subject "owner/name#N", input the
 *      task id).
 * Every request counts against `budget`. When it runs out the position
 * (repository, phase, page URL, index in the page) is written to the kv
 * database ("github/sweep") and the next cycle resumes there; the cycle's
 * report says it was partial and where it stopped (an EVENT on topic
 * "github" and, when configured, GHS_MSG_REPORT to the observer). A sweep
 * that reaches the end starts again from the first repository.
 *
 * One GitHub request is in flight at a time; the actor never waits.
 */
#ifndef ACTORS_GITHUB_SYNC_H
#define ACTORS_GITHUB_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/actor.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GHS_NAME "github-sync"
#define GHS_MSG_CYCLE 0x4731u  /* start a cycle now (no payload) */
#define GHS_MSG_REPORT 0x4732u /* to the observer: ghs_report_t */
/* Replace the configuration (a SIGHUP reload): payload = a `const
 * ghs_config_t *` (the pointer's bytes) that outlives the actor, with the
 * same store, client, repos and name; budget, stale_days and the labels
 * apply from the next request, interval_ms only after a restart. */
#define GHS_MSG_RECONFIGURE 0x4733u
#define GHS_CURSOR_KEY "github/sweep"

typedef struct ghs_repo {
  const char *id;     /* ccm's repository id */
  const char *github; /* "owner/name" */
  bool propose;       /* findings to issues */
  /* Kinds that get an issue; NULL/0: todo, fixme, bug, hack, secret. */
  const char *const *propose_kinds;
  size_t n_propose_kinds;
  /* Kinds whose issue is created approved (the task goes to ready). */
  const char *const *auto_approve;
  size_t n_auto_approve;
  bool close_resolved; /* close the issue of a resolved finding */
} ghs_repo_t;

struct ghs_report;

typedef struct ghs_config {
  store_t *store;          /* reads (borrowed) */
  rt_actor_t *store_actor; /* writes (borrowed) */
  rt_actor_t *client;      /* the GitHub client (gh.h; borrowed) */
  const ghs_repo_t *repos;
  size_t n_repos;
  uint32_t stale_days;     /* 30 */
  const char *self_login;  /* ccm's account: not human activity */
  uint32_t budget;         /* GitHub requests per cycle: 100 */
  uint32_t per_page;       /* issues per page: 100 */
  uint64_t interval_ms;    /* between cycles: 10 min; 0 = on request only */
  uint32_t request_timeout_ms; /* per request: 120 s */
  const char *proposal_label;  /* "ccm:proposal" */
  const char *approve_label;   /* "ccm:approved" */
  /* Issues with one of these labels are never stale (none by default). */
  const char *const *exempt_labels;
  size_t n_exempt;
  rt_actor_t *observer;    /* GHS_MSG_REPORT receiver, or NULL */
  const char *name;        /* registered name; NULL: GHS_NAME */
  /* Called with each cycle's report on the sweep's thread (`ccm serve`:
   * a failed sweep into its log), or NULL. */
  void (*on_report)(void *ud, const struct ghs_report *rep);
  void *on_report_ud;
} ghs_config_t;

/** Fill @p c with the defaults above (pointers NULL). */
void ghs_config_defaults(ghs_config_t *c);

/* GHS_MSG_REPORT payload: one cycle. */
typedef struct ghs_report {
  bool complete;      /* the sweep reached its end in this cycle */
  uint32_t ops;       /* GitHub requests made */
  uint32_t issues;    /* issues evaluated */
  uint32_t created;   /* proposal issues created */
  uint32_t linked;    /* tasks linked to an issue that had their marker */
  uint32_t closed;    /* proposal issues closed */
  uint32_t reopened;  /* proposal issues reopened (their finding is back) */
  uint32_t resolved;  /* issue tasks resolved: not open on GitHub any more */
  int32_t rc;         /* the first error (the cycle stopped there), or 0 */
  char resume[200];   /* where the next cycle starts, "" at the start */
} ghs_report_t;

/** Spawn the sweep, registered as cfg->name; the first cycle starts at
 * once (when interval_ms is not 0). @p cfg must outlive the actor. */
int ghs_spawn(rt_runtime_t *rt, const ghs_config_t *cfg, rt_actor_t **out);

#ifdef __cplusplus
}
#endif
#endif /* ACTORS_GITHUB_SYNC_H */
