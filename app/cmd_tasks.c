/*
 * cmd_tasks.c: `ccm tasks`, `ccm show` and `ccm status`: read-only views of
 * the store, safe beside a running daemon (LMDB readers never block the
 * writer, and the store is opened read-only: nothing is created, migrated
 * or locked for writing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "store/store.h"

typedef struct tasks_opts {
  const char *data;
  const char *state;
  const char *repo;
  const char *kind;
  const char *id;
  bool json;
} tasks_opts_t;

static int parse_tasks(int argc, char **argv, bool want_id, tasks_opts_t *o)
{
  memset(o, 0, sizeof(*o));
  o->data = "./.ccm";
  /* --config is accepted for symmetry; the data dir is all a reader needs */
  const app_opt_t opts[] = {
      {"--json", NULL, &o->json},   {"--data", &o->data, NULL},
      {"--state", &o->state, NULL}, {"--repo", &o->repo, NULL},
      {"--kind", &o->kind, NULL},   {"--config", NULL, NULL},
      {NULL, NULL, NULL}};
  int rc = app_parse_opts(argc, argv, 2, opts, want_id ? &o->id : NULL);
  if (!rc && want_id && !o->id)
    return app_usage_error("show: which task?", "TASK");
  return rc;
}

static store_t *open_reader(const char *data)
{
  store_t *s = NULL;
  char err[512];
  store_options_t opt = {.read_only = true};
  int rc = store_open(data, &opt, &s, err, sizeof(err));
  if (rc) {
    fprintf(stderr, "ccm: %s\n", err[0] ? err : store_strerror(rc));
    return NULL;
  }
  return s;
}

static void print_json(const proto_msg_t *m)
{
  json_t *j = proto_json_encode(m);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  if (text)
    puts(text);
  free(text);
  json_decref(j);
}

static void print_task_json(const proto_task_t *t)
{
  proto_msg_t m = {.type = PROTO_TASK};
  m.u.task = *t;
  print_json(&m);
}

static int print_row(const proto_task_t *t, void *arg)
{
  (void)arg;
  char where[96] = "";
  if (t->loc.path)
    snprintf(where, sizeof(where), "%.80s:%u", t->loc.path, t->loc.line);
  printf("%-12.12s  %-8s  %6.2f  %-9.9s  %-32.32s  %s\n", t->id,
         proto_state_name(t->state), t->score.total, t->kind, where,
         t->title ? t->title : (t->text ? t->text : ""));
  return 0;
}

static int print_one_json(const proto_task_t *t, void *arg)
{
  (void)arg;
  print_task_json(t);
  return 0;
}

int app_cmd_tasks(int argc, char **argv)
{
  tasks_opts_t o;
  int rc = parse_tasks(argc, argv, false, &o);
  if (rc)
    return rc;
  store_filter_t f = {.state = -1, .repo = o.repo, .kind = o.kind};
  if (o.state && (f.state = proto_state_from_name(o.state)) < 0)
    return app_usage_error("tasks: unknown state", o.state);
  store_t *s = open_reader(o.data);
  if (!s)
    return APP_EXIT_FAIL;
  if (!o.json)
    printf("%-12s  %-8s  %6s  %-9s  %-32s  %s\n", "ID", "STATE", "SCORE",
           "KIND", "WHERE", "TITLE");
  rc = store_task_foreach(s, &f, o.json ? print_one_json : print_row, NULL);
  if (rc)
    fprintf(stderr, "ccm: reading tasks: %s\n", store_strerror(rc));
  store_close(s);
  return rc ? APP_EXIT_FAIL : APP_EXIT_OK;
}

static int print_history(const proto_task_update_t *u, void *arg)
{
  bool json = *(bool *)arg;
  if (json) {
    proto_msg_t m = {.type = PROTO_TASK_UPDATE};
    m.u.task_update = *u;
    print_json(&m);
  } else {
    printf("  %lld  %s -> %s  by %s: %s\n", (long long)u->at,
           proto_state_name(u->from), proto_state_name(u->to),
           u->actor ? u->actor : "?", u->reason ? u->reason : "");
  }
  return 0;
}

static void print_task_text(const proto_task_t *t)
{
  printf("task %s\n  state  %s\n  kind   %s\n  repo   %s\n", t->id,
         proto_state_name(t->state), t->kind, t->repo);
  if (t->loc.path)
    printf("  where  %s:%u:%u\n", t->loc.path, t->loc.line, t->loc.column);
  if (t->title)
    printf("  title  %s\n", t->title);
  printf("  score  %.2f (value %.1f + time %.1f + risk %.1f) / size %.1f\n",
         t->score.total, t->score.value, t->score.time_criticality,
         t->score.risk_reduction, t->score.job_size);
  if (t->score.why)
    printf("         %s\n", t->score.why);
  printf("history:\n");
}

int app_cmd_show(int argc, char **argv)
{
  tasks_opts_t o;
  int rc = parse_tasks(argc, argv, true, &o);
  if (rc)
    return rc;
  store_t *s = open_reader(o.data);
  if (!s)
    return APP_EXIT_FAIL;
  proto_task_t t;
  rc = store_task_get(s, o.id, &t);
  if (rc == STORE_ENOTFOUND)
    fprintf(stderr, "ccm: no task %s in %s\n", o.id, o.data);
  else if (rc)
    fprintf(stderr, "ccm: reading task %s: %s\n", o.id, store_strerror(rc));
  if (!rc) {
    if (o.json)
      print_task_json(&t);
    else
      print_task_text(&t);
    rc = store_history_foreach(s, o.id, print_history, &o.json);
    store_task_free(&t);
  }
  store_close(s);
  return rc ? APP_EXIT_FAIL : APP_EXIT_OK;
}

int app_cmd_status(int argc, char **argv)
{
  tasks_opts_t o;
  int rc = parse_tasks(argc, argv, false, &o);
  if (rc)
    return rc;
  store_t *s = open_reader(o.data);
  if (!s)
    return APP_EXIT_FAIL;
  store_stats_t st;
  rc = store_stats(s, &st);
  if (!rc) {
    printf("store %s/%s: %llu tasks, %llu events (last seq %llu), map %zu MiB\n",
           o.data, STORE_FILE, (unsigned long long)st.tasks,
           (unsigned long long)st.events, (unsigned long long)st.last_seq,
           st.map_size >> 20);
    for (int i = 0; i < PROTO_STATE_COUNT; i++)
      if (st.by_state[i])
        printf("  %-9s %llu\n", proto_state_name((proto_state_t)i),
               (unsigned long long)st.by_state[i]);
  } else {
    fprintf(stderr, "ccm: %s\n", store_strerror(rc));
  }
  store_close(s);
  return rc ? APP_EXIT_FAIL : APP_EXIT_OK;
}
