/*
 * store_step.c: a task's state change and the event that announces it,
 * in one write (store.h "task steps"; the store actor's COMMAND
 * "task_step").
 *
 * Why one write: a transition and its "tasks" event sent as two writes
 * can land in two transactions (group commit batches what arrived), so a
 * crash between the two commits loses the event of a committed change,
 * and a transition the store refused (someone moved the task meanwhile)
 * still has its event appended after it. Here the event is appended only
 * after the transition succeeded, in the same transaction, with the task
 * as it now is (read inside the transaction, so the event carries what was
 * committed, not a copy the caller read earlier).
 *
 * All or nothing: a refused transition writes nothing (its own error);
 * a failure after the transition wrote (out of memory) is returned as a
 * -errno, which gives the whole transaction up (store__txn_broken) rather
 * than commit a transition without its event.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define STEP_DEFAULT_ACTOR "store"

static bool opt_string(const json_t *args, const char *key)
{
  const json_t *v = json_object_get(args, key);
  return !v || json_is_string(v);
}

int store_step_check(const json_t *args)
{
  const char *to = json_string_value(json_object_get(args, "to"));
  const char *from = json_string_value(json_object_get(args, "from"));
  const json_t *at = json_object_get(args, "at");
  const json_t *attempt = json_object_get(args, "attempt");
  if (!json_is_object(args) ||
      !json_is_string(json_object_get(args, "task")) || !to ||
      proto_state_from_name(to) < 0 || !opt_string(args, "from") ||
      (from && proto_state_from_name(from) < 0) ||
      (at && !json_is_integer(at)) ||
      (attempt && !json_is_boolean(attempt)) || !opt_string(args, "actor") ||
      !opt_string(args, "reason") || !opt_string(args, "branch") ||
      !opt_string(args, "pr_url") || !opt_string(args, "event"))
    return STORE_EINVAL;
  return 0;
}

/* Replace *slot with a copy of the string at @p key, when there is one. */
static int take_string(const json_t *args, const char *key, char **slot)
{
  const char *v = json_string_value(json_object_get(args, key));
  if (!v)
    return 0;
  char *copy = strdup(v);
  if (!copy)
    return STORE_ENOMEM;
  free(*slot);
  *slot = copy;
  return 0;
}

/* Is task @p id in state @p from (a name; NULL: any)? A step from a state
 * the task has left since the caller looked is refused like a transition
 * the state machine forbids: the task is someone else's now. */
static int check_from(store_txn_t *t, const char *id, const char *from)
{
  if (!from)
    return 0;
  proto_task_t task;
  int rc = store__task_read(t, id, &task);
  if (!rc && (int)task.state != proto_state_from_name(from))
    rc = STORE_ETRANSITION;
  store_task_free(&task);
  return rc;
}

/* The fields a start or an outcome sets beside the state: one more
 * attempt, the run's branch, the pull request. Same state: no history. */
static int amend(store_txn_t *t, const char *id, const json_t *args,
                 const char *actor, const char *reason)
{
  bool attempt = json_is_true(json_object_get(args, "attempt"));
  if (!attempt && !json_object_get(args, "branch") &&
      !json_object_get(args, "pr_url"))
    return 0;
  proto_task_t task;
  int rc = store__task_read(t, id, &task);
  if (!rc) {
    task.attempts += attempt ? 1 : 0;
    rc = take_string(args, "branch", &task.branch);
  }
  if (!rc)
    rc = take_string(args, "pr_url", &task.pr_url);
  if (!rc)
    rc = store_task_put(t, &task, actor, reason);
  store_task_free(&task);
  return rc;
}

int store__task_announce(store_txn_t *t, const char *id, const char *topic,
                         int64_t at)
{
  proto_msg_t m = {.type = PROTO_TASK};
  int rc = store__task_read(t, id, &m.u.task);
  if (rc)
    return rc;
  json_t *data = proto_json_encode(&m);
  rc = data ? store_event_append(t, topic, data, at, NULL) : STORE_ENOMEM;
  json_decref(data);
  store_task_free(&m.u.task);
  return rc;
}

int store_step_apply(store_txn_t *t, const json_t *args)
{
  int rc = store_step_check(args);
  if (rc)
    return rc;
  const char *id = json_string_value(json_object_get(args, "task"));
  const char *actor = json_string_value(json_object_get(args, "actor"));
  const char *reason = json_string_value(json_object_get(args, "reason"));
  const char *topic = json_string_value(json_object_get(args, "event"));
  int64_t at = (int64_t)json_integer_value(json_object_get(args, "at"));
  proto_state_t to = (proto_state_t)proto_state_from_name(
      json_string_value(json_object_get(args, "to")));
  actor = actor ? actor : STEP_DEFAULT_ACTOR;
  reason = reason ? reason : "";
  rc = check_from(t, id, json_string_value(json_object_get(args, "from")));
  if (!rc)
    rc = store_task_transition(t, id, to, actor, reason, at);
  if (rc)
    return rc; /* refused: nothing written, no event */
  rc = amend(t, id, args, actor, reason);
  if (!rc && topic)
    rc = store__task_announce(t, id, topic, at);
  if (rc && !store__txn_broken(rc))
    rc = rc == STORE_ENOMEM ? -ENOMEM : -EIO; /* all or nothing */
  return rc;
}
