/*
 * app_audit.c: the daemon's audit of what its actors did, read from the
 * store's event log (design note: app_audit.h).
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_audit.h"
#include "app/log.h"

#define KV_CURSOR "audit/event_seq"
/* Events audited per poll: one write transaction stays small. */
#define POLL_MAX 1000

typedef struct pending {
  char who[64], what[64], subject[512];
  char *input; /* malloc'd text, or NULL */
} pending_t;

typedef struct collect {
  app_auditor_t *a;
  pending_t *v;
  size_t n, cap;
  uint64_t last_seq;
  size_t events;
} collect_t;

static const char *str_at(const json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

static void add(collect_t *c, const char *who, const char *what,
                const char *subject, const json_t *input)
{
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 16;
    pending_t *v = realloc(c->v, cap * sizeof *v);
    if (!v)
      return; /* out of memory: this entry is lost, logged by the caller */
    c->v = v;
    c->cap = cap;
  }
  pending_t *p = &c->v[c->n++];
  snprintf(p->who, sizeof p->who, "%s", who);
  snprintf(p->what, sizeof p->what, "%s", what);
  snprintf(p->subject, sizeof p->subject, "%s", subject ? subject : "");
  p->input = input ? json_dumps(input, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

/* An executor outcome: the run, and what it published. */
static void executor_event(collect_t *c, const json_t *d)
{
  const char *id = str_at(d, "task_id"), *cls = str_at(d, "class");
  if (!id || (cls && !strcmp(cls, "refused")))
    return;
  char subject[300];
  snprintf(subject, sizeof subject, "task/%.200s", id);
  const json_t *cmd = json_object_get(d, "command");
  add(c, "executor",
      json_is_true(json_object_get(d, "dry_run")) ? "agent.dry_run"
                                                  : "agent.run",
      subject, cmd ? cmd : d);
  const json_t *pub = json_object_get(d, "publish");
  if (json_is_true(json_object_get(pub, "pushed")))
    add(c, "executor", "branch.push",
        str_at(d, "branch") ? str_at(d, "branch") : subject, pub);
  const char *pr = str_at(d, "pr_url");
  if (pr && strlen(pr) < 500)
    add(c, "executor", "pr.open", pr, pub ? pub : d);
  const char *comment = str_at(json_object_get(d, "comment"), "url");
  if (comment && strlen(comment) < 500)
    add(c, "executor", "issue.comment", comment,
        json_object_get(d, "comment"));
}

typedef struct last_update {
  proto_state_t to;
  char actor[64];
  size_t count;
} last_update_t;

static int remember_last(const proto_task_update_t *u, void *arg)
{
  last_update_t *l = arg;
  l->to = u->to;
  snprintf(l->actor, sizeof l->actor, "%s", u->actor ? u->actor : "unknown");
  l->count++;
  return 0;
}

/* Was this approval (task @p id, history length @p n) audited already in
 * this run? Records it when not. */
static bool seen_before(app_auditor_t *a, const char *id, size_t n)
{
  char key[APP_AUDIT_KEY_MAX];
  snprintf(key, sizeof key, "%.150s:%zu", id, n);
  for (size_t i = 0; i < APP_AUDIT_SEEN; i++)
    if (!strcmp(a->seen[i], key))
      return true;
  snprintf(a->seen[a->next_seen], sizeof a->seen[0], "%s", key);
  a->next_seen = (a->next_seen + 1) % APP_AUDIT_SEEN;
  return false;
}

/* A task event: an approval when its last transition went to ready. */
static void task_event(collect_t *c, const json_t *d)
{
  const char *id = str_at(d, "id"), *state = str_at(d, "state");
  if (!id || !state || strcmp(state, "ready") != 0)
    return;
  last_update_t l = {.to = PROTO_STATE_NEW, .actor = "unknown"};
  if (store_history_foreach(c->a->store, id, remember_last, &l) != 0 ||
      l.to != PROTO_STATE_READY || seen_before(c->a, id, l.count))
    return;
  char subject[300];
  snprintf(subject, sizeof subject, "task/%.200s", id);
  add(c, l.actor, "task.approve", subject, d);
}

static int collect_one(const proto_event_t *e, void *arg)
{
  collect_t *c = arg;
  c->last_seq = e->seq;
  if (e->topic && !strcmp(e->topic, "executor"))
    executor_event(c, e->data);
  else if (e->topic && !strcmp(e->topic, "tasks"))
    task_event(c, e->data);
  return ++c->events >= POLL_MAX;
}

static void collect_free(collect_t *c)
{
  for (size_t i = 0; i < c->n; i++)
    free(c->v[i].input);
  free(c->v);
}

/* The entries and the new cursor in one transaction. */
static int write_entries(store_t *s, const collect_t *c)
{
  unsigned char be[8];
  for (int i = 0; i < 8; i++)
    be[i] = (unsigned char)(c->last_seq >> (56 - 8 * i));
  store_txn_t *t;
  int rc = store_write_begin(s, &t);
  for (size_t i = 0; !rc && i < c->n; i++) {
    const pending_t *p = &c->v[i];
    rc = store_audit_append(t, p->who, p->what, *p->subject ? p->subject
                                                             : NULL,
                            p->input, p->input ? strlen(p->input) : 0);
  }
  if (!rc)
    rc = store_kv_put(t, KV_CURSOR, be, sizeof be);
  if (rc) {
    if (t)
      store_write_abort(t);
    return rc;
  }
  return store_write_commit(t);
}

int app_auditor_init(app_auditor_t *a, store_t *s)
{
  memset(a, 0, sizeof *a);
  a->store = s;
  void *v = NULL;
  size_t len = 0;
  if (store_kv_get(s, KV_CURSOR, &v, &len) == 0 && len == 8) {
    for (int i = 0; i < 8; i++)
      a->cursor = (a->cursor << 8) | ((unsigned char *)v)[i];
    free(v);
    return 0;
  }
  free(v);
  /* First run on this store: audit from now on, not the past. */
  store_stats_t st;
  int rc = store_stats(s, &st);
  a->cursor = rc ? 0 : st.last_seq;
  return rc;
}

int app_auditor_poll(app_auditor_t *a)
{
  collect_t c = {.a = a, .last_seq = a->cursor};
  int rc = store_event_foreach(a->store, a->cursor, collect_one, &c);
  if (rc == 0 && c.last_seq > a->cursor) {
    for (int attempt = 0; attempt < 3; attempt++) {
      rc = write_entries(a->store, &c);
      if (rc != MDB_MAP_FULL || store_grow(a->store) != 0)
        break;
    }
    if (rc == 0)
      a->cursor = c.last_seq;
  }
  if (rc)
    app_log(APP_LOG_ERROR, "audit.write_failed",
            "events after seq %llu not audit-logged yet: %s",
            (unsigned long long)a->cursor, store_strerror(rc));
  int n = rc ? rc : (int)c.n;
  collect_free(&c);
  return n;
}
