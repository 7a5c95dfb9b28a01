/*
 * store_prio.c: the prioritizer's writes (store.h "scores").
 *
 * A score is written by reading the task inside the write transaction
 * and putting it back with only its score (and, for a human override, its
 * "prio:" labels) changed, so a transition or an upsert committed since the
 * prioritizer read the task is kept: an upsert of a task read earlier
 * would undo it. store_task_put() moves the ranked index key ('r' | state
 * | ~score | row) and writes nothing when the record is unchanged.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define PRIO_ACTOR "prioritizer"

/* Read task @p id inside @p t (owned copy into *out). */
static int task_read(store_txn_t *t, const char *id, proto_task_t *out)
{
  memset(out, 0, sizeof *out);
  if (strlen(id) > STORE__KEY_MAX)
    return STORE_ENOTFOUND;
  uint64_t row;
  int rc = store__row_of(t->txn, t->s, id, &row); /* the v5 id keys */
  if (rc)
    return rc;
  unsigned char key[8];
  store__put_be64(key, row);
  MDB_val rk = store__val(key, 8), rec;
  rc = mdb_get(t->txn, t->s->dbi[DB_TASK_ROWS], &rk, &rec);
  if (rc)
    return rc == MDB_NOTFOUND ? STORE_ECORRUPT : rc;
  return store__task_decode(&rec, out);
}

#define PRIO_LABEL "prio:"

static bool is_prio_label(const char *l)
{
  return l && strncmp(l, PRIO_LABEL, sizeof(PRIO_LABEL) - 1) == 0;
}

/* @p dst's labels other than "prio:" ones (as stored now: the analyzer's
 * due: label, GitHub's labels, ...) followed by the "prio:" ones of @p src
 * (the prioritizer's overrides, from its earlier read). */
static int labels_merge_prio(proto_string_list_t *dst,
                             const proto_string_list_t *src)
{
  proto_string_list_t n = {0};
  size_t cap = (size_t)dst->len + src->len;
  if (cap && !(n.items = calloc(cap, sizeof *n.items)))
    return STORE_ENOMEM;
  for (uint32_t i = 0; i < dst->len; i++)
    if (dst->items[i] && !is_prio_label(dst->items[i]))
      n.items[n.len++] = dst->items[i], dst->items[i] = NULL;
  int rc = 0;
  for (uint32_t i = 0; i < src->len && !rc; i++)
    if (is_prio_label(src->items[i]) &&
        !(n.items[n.len++] = strdup(src->items[i])))
      rc = STORE_ENOMEM, n.len--;
  proto_string_list_t *drop = rc ? &n : dst;
  for (uint32_t i = 0; i < drop->len; i++)
    free(drop->items[i]);
  free(drop->items);
  if (!rc)
    *dst = n;
  return rc;
}

int store_task_set_score(store_txn_t *t, const char *id,
                         const proto_score_t *score,
                         const proto_string_list_t *labels, int64_t at)
{
  if (!t || !id || !score)
    return STORE_EINVAL;
  proto_task_t task;
  int rc = task_read(t, id, &task);
  if (rc)
    return rc;
  char *why = score->why ? strdup(score->why) : NULL;
  if (score->why && !why)
    rc = STORE_ENOMEM;
  if (!rc) {
    free(task.score.why);
    task.score = *score;
    task.score.why = why;
  }
  if (!rc && labels) {
    rc = labels_merge_prio(&task.labels, labels);
    task.updated_at = at ? at : task.updated_at;
  }
  if (!rc)
    rc = store_task_put(t, &task, PRIO_ACTOR, "score");
  store_task_free(&task);
  return rc;
}

/* ---- the store actor's COMMAND "prio" ---- */

static bool num_ok(const json_t *o, const char *k)
{
  const json_t *v = json_object_get(o, k);
  return json_is_number(v) && isfinite(json_number_value(v));
}

int store_prio_check(const json_t *args)
{
  const json_t *sc = json_object_get(args, "score");
  const json_t *labels = json_object_get(args, "labels");
  const json_t *why = json_object_get(sc, "why");
  if (!json_is_string(json_object_get(args, "task")) || !json_is_object(sc) ||
      !num_ok(sc, "total") || !num_ok(sc, "value") ||
      !num_ok(sc, "time_criticality") || !num_ok(sc, "risk_reduction") ||
      !num_ok(sc, "job_size") || (why && !json_is_string(why)) ||
      (labels && !json_is_array(labels)) ||
      json_array_size(labels) > PROTO_MAX_LIST)
    return STORE_EINVAL;
  for (size_t i = 0; i < json_array_size(labels); i++)
    if (!json_is_string(json_array_get(labels, i)))
      return STORE_EINVAL;
  return 0;
}

static double num(const json_t *o, const char *k)
{
  return json_number_value(json_object_get(o, k));
}

int store_prio_apply(store_txn_t *t, const json_t *args)
{
  int rc = store_prio_check(args);
  if (rc)
    return rc;
  const json_t *sc = json_object_get(args, "score");
  proto_score_t s = {
      .total = num(sc, "total"),
      .value = num(sc, "value"),
      .time_criticality = num(sc, "time_criticality"),
      .risk_reduction = num(sc, "risk_reduction"),
      .job_size = num(sc, "job_size"),
      .why = (char *)json_string_value(json_object_get(sc, "why")),
  };
  const json_t *lj = json_object_get(args, "labels");
  char *items[PROTO_MAX_LIST];
  proto_string_list_t labels = {items, 0};
  for (size_t i = 0; i < json_array_size(lj); i++)
    items[labels.len++] = (char *)json_string_value(json_array_get(lj, i));
  json_int_t at = json_integer_value(json_object_get(args, "at"));
  return store_task_set_score(t, json_string_value(json_object_get(args,
                                                                   "task")),
                              &s, lj ? &labels : NULL, (int64_t)at);
}
