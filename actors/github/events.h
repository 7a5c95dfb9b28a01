/*
 * events.h: verified webhook deliveries become rescans and task updates
 * (issue #5, SPEC §3 "Webhooks"), after the 202 has been answered.
 *
 * The control plane (web/webhook.c) verifies and deduplicates a delivery,
 * answers 202 and sends the parsed event (GH_MSG_EVENT, gh_webhook.h) to
 * the actor registered as GHEV_NAME. This actor, per event:
 *   - records the delivery id in the store (COMMAND "gh_deliveries"), so a
 *     redelivery is still recognised after a restart;
 *   - push to a branch of a configured repository -> a SCAN_REQUEST to
 *     the "scanner" (GHEV_MSG_SCAN, as POST /repos/{id}/scan sends it; the
 *     scanner's incremental state makes it a rescan of what changed);
 *     branch deletions and pushes to ccm/ branches (the agents' own) are
 *     ignored;
 *   - issues: labeled with an approval label -> each task linked to the
 *     issue (task.issue_number) goes to `ready` (through `triaged` when
 *     needed) and the "executor", when present, is asked to run it, as the
 *     REST "run" action does; unlabeled -> a `ready` task goes back to
 *     `triaged`; closed -> the issue's own task (kind issue) is
 *     `resolved`, a proposal not yet started is `skipped`; reopened ->
 *     undoes that; opened / edited / labeled -> the issue's own task is
 *     created or gets the new title and GitHub's labels (store COMMAND
 *     "gh_task": fields applied to the task as stored when the write
 *     lands, so a state, score or ccm label committed since it was read
 *     is kept), and when a human did it, it is a plain `issue` again;
 *   - issue_comment by a human (not a bot, not ccm's own account) on a
 *     linked issue -> an EVENT (topic "github") naming the tasks, and the
 *     issue's own task, if stale (kind stale-issue or a `stale:` label),
 *     becomes a plain `issue` without the label;
 *   - pull_request closed -> the task whose branch is the pull request's
 *     head (ccm/<task-id>), else whose pr_url is the pull request's page:
 *     merged -> `done`, not merged -> `rejected`. A rejected task stays
 *     rejected while its finding is unchanged (the analyzer keeps a known
 *     task's state; a changed finding has another fingerprint, so another
 *     task), so the same fix is not proposed again;
 *   - anything else, or an unknown repository: nothing (acknowledged).
 * Every task change is a TASK_UPDATE through the store actor (which checks
 * the transition) plus a "tasks" EVENT for the control plane. A running
 * task is never moved by a webhook.
 *
 * When an observer is configured it receives GHEV_MSG_HANDLED per event,
 * once every write of that event has been acknowledged durably (tests wait
 * on it instead of sleeping).
 */
#ifndef ACTORS_GITHUB_EVENTS_H
#define ACTORS_GITHUB_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/proto.h"
#include "runtime/actor.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GHEV_NAME "github-events"
/* The scan request the control plane sends to "scanner" (WEB_MSG_SCAN:
 * web/webhook.c checks that the two stay equal). */
#define GHEV_MSG_SCAN 0x5701u
/* The executor's COMMAND {"action":"run","args":{"task":id}}
 * (WEB_MSG_COMMAND). */
#define GHEV_MSG_COMMAND 0x5702u
#define GHEV_MSG_HANDLED 0x4721u
/* Replace the configuration (a SIGHUP reload): payload = a `const
 * ghev_config_t *` (the pointer's bytes) that outlives the actor, with the
 * same store and repos; the approval labels and self_login apply to the
 * next delivery. */
#define GHEV_MSG_RECONFIGURE 0x4722u

typedef struct ghev_repo {
  const char *id;     /* ccm's repository id */
  const char *github; /* "owner/name" (compared case-insensitively) */
} ghev_repo_t;

typedef struct ghev_config {
  store_t *store;          /* reads (borrowed) */
  rt_actor_t *store_actor; /* writes (borrowed) */
  const ghev_repo_t *repos;
  size_t n_repos;
  /* Labels that approve a task; NULL/0: {"ccm:approved"}. */
  const char *const *approve_labels;
  size_t n_approve;
  const char *self_login;  /* ccm's own account, or NULL */
  /* Issues with this label are ccm's proposals: they mirror a finding's
   * task and get no issue task of their own; NULL: "ccm:proposal". */
  const char *proposal_label;
  rt_actor_t *observer;    /* GHEV_MSG_HANDLED receiver, or NULL */
  /* Delivery retention (0: the store's defaults). */
  uint64_t deliveries_keep;
  int64_t deliveries_max_age_ms;
} ghev_config_t;

/* GHEV_MSG_HANDLED payload. */
typedef struct ghev_handled {
  char delivery[100]; /* "" when the delivery had no id */
  char outcome[120];  /* "scan hello", "ready 1", "rejected 1", "ignored" */
  uint32_t changed;   /* tasks moved or written */
  int32_t rc;         /* the first write that failed, else 0 */
} ghev_handled_t;

/** The shortest path of transitions from @p from to @p to that does not
 * pass through `running` (only the executor starts and stops runs): its
 * length, the states after each step in @p path; 0 when there is none. */
size_t ghev_path(proto_state_t from, proto_state_t to,
                 proto_state_t path[PROTO_STATE_COUNT]);

/** Ask the executor (if one is registered) to run approved task @p task
 * now; without one the task waits in `ready`. */
void ghev_ask_run(rt_runtime_t *rt, const char *task);

/** The args of a store COMMAND "task_step" (store.h "task steps") moving
 * task @p id from @p from to @p to as actor "github"; with @p announce the
 * store appends the task as committed on "tasks" in the same write.
 * @return NULL when out of memory (json_decref it). */
json_t *ghev_step_args(const char *id, proto_state_t from, proto_state_t to,
                       const char *reason, int64_t at, bool announce);

/** Spawn the handler, registered as GHEV_NAME. @p cfg and what it points
 * to must outlive the actor. @return as rt_actor_spawn(). */
int ghev_spawn(rt_runtime_t *rt, const ghev_config_t *cfg, rt_actor_t **out);

#ifdef __cplusplus
}
#endif
#endif /* ACTORS_GITHUB_EVENTS_H */
