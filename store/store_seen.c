/*
 * store_seen.c: the analyzer's writes of tasks it saw again (store.h
 * "sightings").
 *
 * A rescan used to put back the whole task it had read before the scan's
 * batch reached the store: a score or override labels written by the
 * prioritizer in between (store_prio.c), or a triage, were undone. Now the
 * analyzer sends only what the scan saw (the fields it owns: location,
 * text, blame author and date, issue reference, last_seen, the `due:`
 * label, and a default score for a task nobody has scored), and the store
 * applies it to the task read inside the write transaction. A resolved
 * task whose finding is back moves to new. Every other field (state, score,
 * pin, other labels, links, attempts) stays as stored.
 *
 * store_task_merge_seen() is the merge alone, so the analyzer can show the
 * same result in its task event without a second copy of the rules.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define SEEN_ACTOR "analyzer"
#define DUE_PREFIX "due:"

/* ---- checking the arguments ---- */

static bool is_date(const char *s)
{
  static const char shape[] = "dddd-dd-dd";
  if (strlen(s) != sizeof shape - 1)
    return false;
  for (size_t i = 0; shape[i]; i++) {
    bool digit = s[i] >= '0' && s[i] <= '9';
    if (shape[i] == 'd' ? !digit : s[i] != '-')
      return false;
  }
  return true;
}

static bool opt_string(const json_t *o, const char *k)
{
  const json_t *v = json_object_get(o, k);
  return !v || json_is_null(v) ||
         (json_is_string(v) && json_string_length(v) < PROTO_MAX_STR);
}

static bool opt_count(const json_t *o, const char *k, json_int_t max)
{
  const json_t *v = json_object_get(o, k);
  return !v || (json_is_integer(v) && json_integer_value(v) >= 0 &&
                json_integer_value(v) <= max);
}

static bool score_ok(const json_t *sc)
{
  return !sc || (json_is_object(sc) &&
                 json_is_number(json_object_get(sc, "total")) &&
                 opt_string(sc, "why"));
}

int store_seen_check(const json_t *args)
{
  const json_t *id = json_object_get(args, "task");
  const json_t *due = json_object_get(args, "due");
  if (!json_is_string(id) || !json_is_integer(json_object_get(args, "at")) ||
      !opt_string(args, "path") || !opt_string(args, "symbol") ||
      !opt_string(args, "text") || !opt_string(args, "author") ||
      !opt_count(args, "line", UINT32_MAX) ||
      !opt_count(args, "column", UINT32_MAX) ||
      !opt_count(args, "issue_number", UINT32_MAX) ||
      !opt_count(args, "authored_at", INT64_MAX) ||
      !score_ok(json_object_get(args, "score")) ||
      (due && !json_is_null(due) &&
       !(json_is_string(due) && is_date(json_string_value(due)))))
    return STORE_EINVAL;
  return 0;
}

/* ---- the merge ---- */

/* *dst = a copy of the string member @p k (NULL when null or absent). */
static int set_string(char **dst, const json_t *o, const char *k)
{
  const char *v = json_string_value(json_object_get(o, k));
  char *copy = v ? strdup(v) : NULL;
  if (v && !copy)
    return STORE_ENOMEM;
  free(*dst);
  *dst = copy;
  return 0;
}

static json_int_t int_of(const json_t *o, const char *k)
{
  return json_integer_value(json_object_get(o, k));
}

/* Drop the labels that start with DUE_PREFIX; add DUE_PREFIX @p due when
 * not NULL (and the list has room). */
static int set_due_label(proto_string_list_t *labels, const char *due)
{
  uint32_t k = 0;
  for (uint32_t i = 0; i < labels->len; i++) {
    if (labels->items[i] &&
        !strncmp(labels->items[i], DUE_PREFIX, sizeof DUE_PREFIX - 1))
      free(labels->items[i]);
    else
      labels->items[k++] = labels->items[i];
  }
  labels->len = k;
  if (!due || k >= PROTO_MAX_LIST)
    return 0;
  char **items = realloc(labels->items, (k + 1) * sizeof *items);
  if (!items)
    return STORE_ENOMEM;
  labels->items = items;
  size_t n = sizeof DUE_PREFIX + strlen(due);
  if (!(items[k] = malloc(n)))
    return STORE_ENOMEM;
  snprintf(items[k], n, DUE_PREFIX "%s", due);
  labels->len = k + 1;
  return 0;
}

/* The default score, for a task nobody has scored (nor pinned). */
static int set_default_score(proto_task_t *task, const json_t *sc)
{
  if (!sc || task->score.total != 0 || task->pinned)
    return 0;
  int rc = set_string(&task->score.why, sc, "why");
  if (!rc)
    task->score.total = json_number_value(json_object_get(sc, "total"));
  return rc;
}

int store_task_merge_seen(proto_task_t *task, const json_t *seen)
{
  int rc = set_string(&task->loc.path, seen, "path");
  if (!rc)
    rc = set_string(&task->loc.symbol, seen, "symbol");
  if (!rc)
    rc = set_string(&task->text, seen, "text");
  if (!rc && !task->author)
    rc = set_string(&task->author, seen, "author");
  if (!rc)
    rc = set_default_score(task, json_object_get(seen, "score"));
  if (!rc && json_object_get(seen, "due"))
    rc = set_due_label(&task->labels,
                       json_string_value(json_object_get(seen, "due")));
  if (rc)
    return rc;
  task->loc.line = (uint32_t)int_of(seen, "line");
  task->loc.column = (uint32_t)int_of(seen, "column");
  if (int_of(seen, "authored_at"))
    task->authored_at = (int64_t)int_of(seen, "authored_at");
  if (int_of(seen, "issue_number"))
    task->issue_number = (uint32_t)int_of(seen, "issue_number");
  if (task->state == PROTO_STATE_RESOLVED)
    task->state = PROTO_STATE_NEW; /* the finding is back */
  task->last_seen = task->updated_at = (int64_t)int_of(seen, "at");
  return 0;
}

int store_seen_apply(store_txn_t *t, const json_t *args)
{
  int rc = store_seen_check(args);
  proto_task_t task;
  if (rc)
    return rc;
  rc = store__task_read(t, json_string_value(json_object_get(args, "task")),
                        &task);
  if (rc)
    return rc;
  bool reopened = task.state == PROTO_STATE_RESOLVED;
  rc = store_task_merge_seen(&task, args);
  if (!rc)
    rc = store_task_put(t, &task, SEEN_ACTOR,
                        reopened ? "finding back" : "seen");
  store_task_free(&task);
  return rc;
}
