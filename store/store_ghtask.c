/*
 * store_ghtask.c: the GitHub actors' field writes to tasks (store.h
 * "GitHub task fields", COMMAND "gh_task").
 *
 * The webhook handler and the sweep used to put back a whole task they had
 * read earlier, with a new title or labels: a score, a state or override
 * labels committed in between by the analyzer, the prioritizer or a human
 * were undone. They now send only the fields GitHub owns (title, text,
 * GitHub's labels, the issue link, an issue task's kind issue/stale-issue
 * and its `stale:` label), and the store applies them to the task read
 * inside the write transaction, as store_seen.c does for the analyzer.
 * Labels with ccm's own prefixes (prio:, due:, stale:) are never taken
 * for GitHub's: a new GitHub label list replaces only the others.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define GHTASK_ACTOR "github"
#define STALE_PREFIX "stale:"

static const char *const ccm_prefixes[] = {"prio:", "due:", STALE_PREFIX};

static bool has_prefix(const char *s, const char *p)
{
  return s && strncmp(s, p, strlen(p)) == 0;
}

static bool ccm_label(const char *l)
{
  for (size_t i = 0; i < sizeof ccm_prefixes / sizeof ccm_prefixes[0]; i++)
    if (has_prefix(l, ccm_prefixes[i]))
      return true;
  return false;
}

static bool issue_kind(const char *k)
{
  return k && (!strcmp(k, "issue") || !strcmp(k, "stale-issue"));
}

/* ---- checking the arguments ---- */

static bool opt_str(const json_t *o, const char *k, bool null_ok)
{
  const json_t *v = json_object_get(o, k);
  return !v || (null_ok && json_is_null(v)) ||
         (json_is_string(v) && json_string_length(v) < PROTO_MAX_STR);
}

static bool labels_ok(const json_t *l)
{
  if (!l)
    return true;
  if (!json_is_array(l) || json_array_size(l) > PROTO_MAX_LIST)
    return false;
  for (size_t i = 0; i < json_array_size(l); i++) {
    const json_t *s = json_array_get(l, i);
    if (!json_is_string(s) || json_string_length(s) >= PROTO_MAX_STR)
      return false;
  }
  return true;
}

int store_ghtask_check(const json_t *args)
{
  const json_t *kind = json_object_get(args, "kind");
  const json_t *num = json_object_get(args, "issue_number");
  const json_t *nw = json_object_get(args, "new");
  if (!json_is_string(json_object_get(args, "task")) ||
      !json_is_integer(json_object_get(args, "at")) ||
      !opt_str(args, "reason", false) || !opt_str(args, "title", false) ||
      !opt_str(args, "text", false) || !opt_str(args, "stale", true) ||
      !opt_str(args, "event", false) ||
      (kind && !(json_is_string(kind) &&
                 issue_kind(json_string_value(kind)))) ||
      (num && !(json_is_integer(num) && json_integer_value(num) > 0 &&
                json_integer_value(num) <= UINT32_MAX)) ||
      (nw && !json_is_object(nw)) ||
      !labels_ok(json_object_get(args, "labels")))
    return STORE_EINVAL;
  return 0;
}

/* ---- the merge ---- */

static int set_str(char **dst, const json_t *o, const char *k)
{
  const json_t *v = json_object_get(o, k);
  if (!v)
    return 0;
  const char *s = json_string_value(v);
  char *copy = s ? strdup(s) : NULL;
  if (s && !copy)
    return STORE_ENOMEM;
  free(*dst);
  *dst = copy;
  return 0;
}

/* Push a copy of @p s (when there is room). */
static int push(proto_string_list_t *l, const char *s)
{
  if (l->len >= PROTO_MAX_LIST)
    return 0;
  char **v = realloc(l->items, (l->len + 1) * sizeof *v);
  if (!v)
    return STORE_ENOMEM;
  l->items = v;
  if (!(v[l->len] = strdup(s)))
    return STORE_ENOMEM;
  l->len++;
  return 0;
}

/* Keep the labels @p keep says yes to, free the others. */
static void filter(proto_string_list_t *l, bool (*keep)(const char *))
{
  uint32_t k = 0;
  for (uint32_t i = 0; i < l->len; i++) {
    if (l->items[i] && keep(l->items[i]))
      l->items[k++] = l->items[i];
    else
      free(l->items[i]);
  }
  l->len = k;
}

static bool not_stale(const char *l)
{
  return !has_prefix(l, STALE_PREFIX);
}

/* GitHub's labels: every label but ccm's own is replaced by @p gh. */
static int set_github_labels(proto_string_list_t *l, const json_t *gh)
{
  filter(l, ccm_label);
  int rc = 0;
  for (size_t i = 0; !rc && i < json_array_size(gh); i++) {
    const char *s = json_string_value(json_array_get(gh, i));
    if (!ccm_label(s))
      rc = push(l, s);
  }
  return rc;
}

/* The `stale:` label: "stale: <why>", or none for null. */
static int set_stale_label(proto_string_list_t *l, const json_t *why)
{
  filter(l, not_stale);
  const char *s = json_string_value(why);
  if (!s)
    return 0;
  size_t n = sizeof STALE_PREFIX + 1 + strlen(s);
  char *label = malloc(n);
  if (!label)
    return STORE_ENOMEM;
  snprintf(label, n, STALE_PREFIX " %s", s);
  int rc = push(l, label);
  free(label);
  return rc;
}

int store_task_merge_ghtask(proto_task_t *task, const json_t *args)
{
  int rc = set_str(&task->title, args, "title");
  if (!rc)
    rc = set_str(&task->text, args, "text");
  const json_t *labels = json_object_get(args, "labels");
  if (!rc && labels)
    rc = set_github_labels(&task->labels, labels);
  const json_t *kind = json_object_get(args, "kind");
  if (!rc && kind && issue_kind(task->kind))
    rc = set_str(&task->kind, args, "kind");
  const json_t *stale = json_object_get(args, "stale");
  if (!rc && stale && issue_kind(task->kind))
    rc = set_stale_label(&task->labels, stale);
  if (rc)
    return rc;
  json_int_t num = json_integer_value(json_object_get(args, "issue_number"));
  if (num > 0)
    task->issue_number = (uint32_t)num;
  task->updated_at = (int64_t)json_integer_value(json_object_get(args, "at"));
  return 0;
}

/* Create the task "new" describes (a task as JSON, proto_json_decode),
 * with the other fields of @p args applied. */
static int create(store_txn_t *t, const char *id, const json_t *args,
                  const char *reason)
{
  proto_msg_t m;
  if (proto_json_decode(PROTO_TASK, json_object_get(args, "new"), &m, NULL,
                        0) != 0)
    return STORE_EINVAL;
  int rc = strcmp(m.u.task.id, id) ? STORE_EINVAL
                                   : store_task_merge_ghtask(&m.u.task, args);
  if (!rc)
    rc = store_task_put(t, &m.u.task, GHTASK_ACTOR, reason);
  proto_msg_fini(&m);
  return rc;
}

static int apply_fields(store_txn_t *t, const char *id, const json_t *args)
{
  const char *reason = json_string_value(json_object_get(args, "reason"));
  proto_task_t task;
  int rc = store__task_read(t, id, &task);
  if (rc == STORE_ENOTFOUND && json_object_get(args, "new"))
    return create(t, id, args, reason ? reason : "created");
  if (rc)
    return rc;
  rc = store_task_merge_ghtask(&task, args);
  if (!rc)
    rc = store_task_put(t, &task, GHTASK_ACTOR, reason ? reason : "github");
  store_task_free(&task);
  return rc;
}

int store_ghtask_apply(store_txn_t *t, const json_t *args)
{
  int rc = store_ghtask_check(args);
  if (rc)
    return rc;
  const char *id = json_string_value(json_object_get(args, "task"));
  const char *topic = json_string_value(json_object_get(args, "event"));
  rc = apply_fields(t, id, args);
  if (rc || !topic)
    return rc;
  /* the event carries the task as committed, in the same write */
  rc = store__task_announce(
      t, id, topic, (int64_t)json_integer_value(json_object_get(args, "at")));
  if (rc && !store__txn_broken(rc))
    rc = rc == STORE_ENOMEM ? -ENOMEM : -EIO; /* all or nothing */
  return rc;
}
