/*
 * events.c: what an event of the store's log means for the monitor.
 *
 * The analyzer publishes every task it creates or changes on "tasks" (the
 * task as REST shows it); the executor records each run's outcome on
 * "executor" (docs/executor.md: task_id, state, ok, duration_ms, ...).
 * task.started has no event of its own: the monitor sees it as a task
 * newly in the running state (monitor.c).
 */
#include <string.h>

#include "actors/monitor/monitor_int.h"

static const char *str_of(const json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

static bool task_is_new(const json_t *task)
{
  const char *state = str_of(task, "state");
  json_t *first = json_object_get(task, "first_seen");
  json_t *last = json_object_get(task, "last_seen");
  return state && !strcmp(state, "new") && json_is_integer(first) &&
         json_integer_value(first) != 0 && json_is_integer(last) &&
         json_integer_value(first) == json_integer_value(last);
}

int mon__event_kind(const char *topic, const json_t *data)
{
  if (!topic || !json_is_object(data))
    return -1;
  if (!strcmp(topic, "tasks"))
    return task_is_new(data) ? CFG_EVENT_BIT_TASK_CREATED : -1;
  if (strcmp(topic, "executor") != 0)
    return -1;
  const char *state = str_of(data, "state");
  if (!state || json_is_true(json_object_get(data, "dry_run")))
    return -1;
  if (!strcmp(state, "review") || !strcmp(state, "done"))
    return CFG_EVENT_BIT_TASK_COMPLETED;
  if (!strcmp(state, "failed"))
    return CFG_EVENT_BIT_TASK_FAILED;
  return -1;
}

double mon__event_duration_ms(const json_t *data)
{
  json_t *d = json_object_get(data, "duration_ms");
  return json_is_number(d) ? json_number_value(d) : -1;
}
