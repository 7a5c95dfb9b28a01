/* board.c: see board.h. */
#include "actors/prioritizer/board.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/prioritizer/rank.h"

#define VIEW_LIMIT_DEFAULT 100
#define VIEW_LIMIT_MAX 1000

typedef struct entry {
  prio_rnode_t node;   /* in the set of its state (first: container_of) */
  struct entry *hnext; /* hash chain */
  char *id, *repo, *kind;
  proto_state_t state;
  bool pinned, local;
  uint32_t attempts;
  proto_score_t score; /* why not kept: the store has it */
  bool fed;            /* handed to the executor in this state */
  bool requeued;       /* ready again after a start-up requeue: may rerun */
  int refused;         /* the executor's refusal, 0 none */
} entry_t;

struct prio_board {
  pthread_mutex_t lock;
  atomic_int refs;
  prio_board_config_t cfg; /* lists copied below */
  char **local, **auto_kinds;
  entry_t **buckets;
  size_t nbuckets, n;
  prio_rank_t sets[PROTO_STATE_COUNT];
  prio_exec_view_t exec;
};

/* ------------------------------------------------------------ set-up */

static char **strv_copy(const char *const *v, size_t n)
{
  char **c = calloc(n + 1, sizeof *c);
  for (size_t i = 0; c && i < n; i++)
    c[i] = strdup(v[i] ? v[i] : "");
  return c;
}

static void strv_free(char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

static bool strv_has(char *const *v, const char *s)
{
  for (size_t i = 0; v && v[i]; i++)
    if (s && !strcmp(v[i], s))
      return true;
  return false;
}

int prio_board_new(const prio_board_config_t *cfg, prio_board_t **out)
{
  prio_board_t *b = calloc(1, sizeof *b);
  *out = NULL;
  if (!b)
    return -ENOMEM;
  b->cfg = *cfg;
  if (!b->cfg.concurrency)
    b->cfg.concurrency = 2;
  b->local = strv_copy(cfg->local_repos, cfg->nlocal_repos);
  b->auto_kinds = strv_copy(cfg->auto_approve, cfg->nauto_approve);
  b->nbuckets = 1024;
  b->buckets = calloc(b->nbuckets, sizeof *b->buckets);
  if (!b->local || !b->auto_kinds || !b->buckets) {
    strv_free(b->local), strv_free(b->auto_kinds), free(b->buckets);
    free(b);
    return -ENOMEM;
  }
  b->cfg.local_repos = NULL;
  b->cfg.auto_approve = NULL;
  for (int s = 0; s < PROTO_STATE_COUNT; s++)
    prio_rank_init(&b->sets[s], 0x51ED + (uint64_t)s);
  pthread_mutex_init(&b->lock, NULL);
  atomic_init(&b->refs, 1);
  *out = b;
  return 0;
}

int prio_board_configure(prio_board_t *b, const prio_board_config_t *cfg)
{
  char **local = strv_copy(cfg->local_repos, cfg->nlocal_repos);
  char **kinds = strv_copy(cfg->auto_approve, cfg->nauto_approve);
  if (!local || !kinds) {
    strv_free(local), strv_free(kinds);
    return -ENOMEM;
  }
  pthread_mutex_lock(&b->lock);
  strv_free(b->local), strv_free(b->auto_kinds);
  b->local = local;
  b->auto_kinds = kinds;
  b->cfg = *cfg;
  b->cfg.concurrency = cfg->concurrency ? cfg->concurrency : 2;
  b->cfg.local_repos = NULL;
  b->cfg.auto_approve = NULL;
  pthread_mutex_unlock(&b->lock);
  return 0;
}

prio_board_t *prio_board_retain(prio_board_t *b)
{
  atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
  return b;
}

static void entry_free(entry_t *e)
{
  free(e->id), free(e->repo), free(e->kind);
  free(e);
}

void prio_board_release(prio_board_t *b)
{
  /* acq_rel: the last release sees every write of the other holders */
  if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (size_t i = 0; i < b->nbuckets; i++)
    for (entry_t *e = b->buckets[i], *nx; e; e = nx) {
      nx = e->hnext;
      entry_free(e);
    }
  free(b->buckets);
  strv_free(b->local);
  strv_free(b->auto_kinds);
  pthread_mutex_destroy(&b->lock);
  free(b);
}

/* ------------------------------------------------------------- lookup */

static size_t hash_of(const char *s)
{
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return (size_t)h;
}

static entry_t **slot_of(prio_board_t *b, const char *id)
{
  entry_t **p = &b->buckets[hash_of(id) & (b->nbuckets - 1)];
  while (*p && strcmp((*p)->id, id))
    p = &(*p)->hnext;
  return p;
}

static void grow(prio_board_t *b)
{
  size_t n = b->nbuckets * 2;
  entry_t **nb = calloc(n, sizeof *nb);
  if (!nb)
    return; /* longer chains, still correct */
  for (size_t i = 0; i < b->nbuckets; i++)
    for (entry_t *e = b->buckets[i], *nx; e; e = nx) {
      nx = e->hnext;
      size_t h = hash_of(e->id) & (n - 1);
      e->hnext = nb[h];
      nb[h] = e;
    }
  free(b->buckets);
  b->buckets = nb;
  b->nbuckets = n;
}

static bool terminal(proto_state_t s)
{
  return s == PROTO_STATE_DONE || s == PROTO_STATE_RESOLVED ||
         s == PROTO_STATE_REJECTED || (unsigned)s >= PROTO_STATE_COUNT;
}

static void unlink_rank(prio_board_t *b, entry_t *e)
{
  prio_rank_remove(&b->sets[e->state], &e->node);
}

static void link_rank(prio_board_t *b, entry_t *e)
{
  e->node.key = (prio_rkey_t){e->pinned, e->score.total, e->node.key.seq,
                              e->id};
  prio_rank_insert(&b->sets[e->state], &e->node);
}

static void drop_locked(prio_board_t *b, entry_t **slot)
{
  entry_t *e = *slot;
  unlink_rank(b, e);
  *slot = e->hnext;
  b->n--;
  entry_free(e);
}

static entry_t *entry_new(prio_board_t *b, const proto_task_t *t)
{
  entry_t *e = calloc(1, sizeof *e);
  if (!e)
    return NULL;
  e->id = strdup(t->id);
  e->repo = strdup(t->repo ? t->repo : "");
  e->kind = strdup(t->kind ? t->kind : "");
  if (!e->id || !e->repo || !e->kind) {
    entry_free(e);
    return NULL;
  }
  e->local = strv_has(b->local, e->repo);
  e->node.key.seq = t->first_seen;
  return e;
}

static int put_locked(prio_board_t *b, const proto_task_t *t,
                      const proto_score_t *score)
{
  entry_t **slot = slot_of(b, t->id);
  if (terminal(t->state)) {
    bool had = *slot != NULL;
    if (had)
      drop_locked(b, slot);
    return had;
  }
  entry_t *e = *slot;
  if (!e) {
    if (!(e = entry_new(b, t)))
      return -ENOMEM;
    e->state = t->state;
    e->pinned = t->pinned;
    e->attempts = t->attempts;
    e->score = *score;
    e->score.why = NULL;
    link_rank(b, e);
    *slot = e;
    if (++b->n > b->nbuckets)
      grow(b);
    return 1;
  }
  bool moved = e->state != t->state || e->pinned != t->pinned ||
               e->score.total != score->total;
  if (e->state != t->state || e->attempts != t->attempts) {
    e->fed = false; /* a new episode (or a run ended): not handed now */
    e->refused = 0;
    e->requeued = false;
  }
  e->attempts = t->attempts;
  if (moved)
    unlink_rank(b, e);
  e->state = t->state;
  e->pinned = t->pinned;
  e->score = *score;
  e->score.why = NULL;
  if (moved)
    link_rank(b, e);
  return moved;
}

int prio_board_put(prio_board_t *b, const proto_task_t *t,
                   const proto_score_t *score)
{
  if (!t || !t->id)
    return 0;
  pthread_mutex_lock(&b->lock);
  int rc = put_locked(b, t, score);
  pthread_mutex_unlock(&b->lock);
  return rc;
}

void prio_board_remove(prio_board_t *b, const char *id)
{
  pthread_mutex_lock(&b->lock);
  entry_t **slot = slot_of(b, id);
  if (*slot)
    drop_locked(b, slot);
  pthread_mutex_unlock(&b->lock);
}

size_t prio_board_count(prio_board_t *b)
{
  pthread_mutex_lock(&b->lock);
  size_t n = b->n;
  pthread_mutex_unlock(&b->lock);
  return n;
}

size_t prio_board_count_state(prio_board_t *b, proto_state_t s)
{
  if ((unsigned)s >= PROTO_STATE_COUNT)
    return 0;
  pthread_mutex_lock(&b->lock);
  size_t n = prio_rank_count(&b->sets[s]);
  pthread_mutex_unlock(&b->lock);
  return n;
}

double prio_board_score(prio_board_t *b, const char *id, bool *found)
{
  pthread_mutex_lock(&b->lock);
  entry_t *e = *slot_of(b, id);
  double v = e ? e->score.total : 0;
  *found = e != NULL;
  pthread_mutex_unlock(&b->lock);
  return v;
}

int prio_board_state(prio_board_t *b, const char *id)
{
  pthread_mutex_lock(&b->lock);
  entry_t *e = *slot_of(b, id);
  int st = e ? (int)e->state : -1;
  pthread_mutex_unlock(&b->lock);
  return st;
}

size_t prio_board_top(prio_board_t *b, proto_state_t s, char **ids,
                      size_t max)
{
  size_t n = 0;
  if ((unsigned)s >= PROTO_STATE_COUNT)
    return 0;
  pthread_mutex_lock(&b->lock);
  for (prio_rnode_t *r; n < max && (r = prio_rank_at(&b->sets[s], n));)
    ids[n++] = strdup(((entry_t *)r)->id);
  pthread_mutex_unlock(&b->lock);
  return n;
}

/* ----------------------------------------------------------- executor */

void prio_board_set_exec(prio_board_t *b, const prio_exec_view_t *v)
{
  pthread_mutex_lock(&b->lock);
  b->exec = *v;
  pthread_mutex_unlock(&b->lock);
}

void prio_board_mark_fed(prio_board_t *b, const char *id, bool fed,
                         int refused_rc)
{
  pthread_mutex_lock(&b->lock);
  entry_t *e = *slot_of(b, id);
  if (e) {
    e->fed = fed;
    e->refused = fed ? 0 : refused_rc;
  }
  pthread_mutex_unlock(&b->lock);
}

void prio_board_mark_requeued(prio_board_t *b, const char *id)
{
  pthread_mutex_lock(&b->lock);
  entry_t *e = *slot_of(b, id);
  if (e && e->state == PROTO_STATE_READY)
    e->requeued = true;
  pthread_mutex_unlock(&b->lock);
}

static bool budget_spent(const prio_board_t *b)
{
  const prio_exec_view_t *x = &b->exec;
  if (b->cfg.dry_run)
    return false;
  return x->budget_refused ||
         (b->cfg.max_tasks_per_day && x->day_tasks >= b->cfg.max_tasks_per_day) ||
         (b->cfg.max_usd_per_day > 0 && x->day_usd >= b->cfg.max_usd_per_day);
}

static size_t free_slots(const prio_board_t *b)
{
  size_t busy = b->exec.running + b->exec.queued;
  return busy >= b->cfg.concurrency ? 0 : b->cfg.concurrency - busy;
}

static bool may_start(const entry_t *e)
{
  return e->local && (e->attempts == 0 || e->requeued) && !e->fed &&
         !e->refused;
}

void prio_board_budget_refused(prio_board_t *b)
{
  pthread_mutex_lock(&b->lock);
  b->exec.budget_refused = true;
  pthread_mutex_unlock(&b->lock);
}

bool prio_board_startable(prio_board_t *b)
{
  bool any = false;
  pthread_mutex_lock(&b->lock);
  prio_rank_t *ready = &b->sets[PROTO_STATE_READY];
  for (size_t k = 0; !any; k++) {
    entry_t *e = (entry_t *)prio_rank_at(ready, k);
    if (!e)
      break;
    any = may_start(e);
  }
  pthread_mutex_unlock(&b->lock);
  return any;
}

size_t prio_board_next_runs(prio_board_t *b, int64_t now_ms, char **ids,
                            size_t max)
{
  size_t n = 0;
  pthread_mutex_lock(&b->lock);
  size_t slots = free_slots(b);
  if (slots < max)
    max = slots;
  if (b->exec.paused_until_ms > now_ms || budget_spent(b))
    max = 0;
  prio_rank_t *ready = &b->sets[PROTO_STATE_READY];
  for (size_t k = 0; n < max; k++) {
    entry_t *e = (entry_t *)prio_rank_at(ready, k);
    if (!e)
      break;
    if (may_start(e))
      ids[n++] = strdup(e->id);
  }
  pthread_mutex_unlock(&b->lock);
  return n;
}

/* --------------------------------------------------------------- view */

typedef struct view_ctx {
  prio_board_t *b;
  const prio_view_query_t *q;
  int64_t now;
  size_t limit;
  size_t matched;   /* entries matching the filters so far */
  size_t eligible;  /* ready tasks that may start, so far */
  size_t slots;
  json_t *list, *counts;
} view_ctx_t;

typedef struct reason {
  const char *code;
  char detail[200];
  int64_t until;
} reason_t;

static void reason_set(reason_t *r, const char *code, const char *detail)
{
  r->code = code;
  snprintf(r->detail, sizeof r->detail, "%s", detail);
}

static void reason_ready(view_ctx_t *v, const entry_t *e, reason_t *r)
{
  prio_board_t *b = v->b;
  if (!e->local) {
    snprintf(r->detail, sizeof r->detail, "repository %s has no local path: "
             "ccm cannot run its tasks", e->repo);
    r->code = "policy";
  } else if (e->refused) {
    snprintf(r->detail, sizeof r->detail, "the executor refused it (code "
             "%d); start it by hand", e->refused);
    r->code = "policy";
  } else if (e->attempts > 0 && !e->fed && !e->requeued) {
    snprintf(r->detail, sizeof r->detail, "ran before (%u attempts): "
             "started again only by hand (action run)", e->attempts);
    r->code = "policy";
  } else if (b->exec.paused_until_ms > v->now) {
    r->until = b->exec.paused_until_ms;
    reason_set(r, "usage_limit", "the agent's usage limit holds until then");
  } else if (e->fed) {
    reason_set(r, "next", "handed to the executor");
  } else if (budget_spent(b)) {
    snprintf(r->detail, sizeof r->detail, "day budget spent: %u tasks, "
             "$%.2f today", b->exec.day_tasks, b->exec.day_usd);
    r->code = "budget_spent";
  } else if (v->eligible++ < v->slots) {
    reason_set(r, "next", "starts at the next hand-over");
  } else {
    snprintf(r->detail, sizeof r->detail, "%u agent slots busy; %zu ready "
             "tasks ahead", b->cfg.concurrency, v->eligible - 1);
    r->code = "concurrency_limit";
  }
}

static void reason_of(view_ctx_t *v, const entry_t *e, reason_t *r)
{
  memset(r, 0, sizeof *r);
  switch (e->state) {
  case PROTO_STATE_READY:
    reason_ready(v, e, r);
    break;
  case PROTO_STATE_BLOCKED:
    reason_set(r, "blocked", "blocked: it waits for something else");
    break;
  default:
    reason_set(r, "waiting_for_approval",
               strv_has(v->b->auto_kinds, e->kind)
                   ? "auto-approved kind: approval pending"
                   : "approve it (action run, or the approval label)");
  }
}

static json_t *entry_json(const entry_t *e, size_t pos, const reason_t *r)
{
  json_t *o = json_pack(
      "{s:s s:s s:s s:s s:b s:I s:{s:f s:f s:f s:f s:f} s:s s:s}", "id",
      e->id, "repo", e->repo, "kind", e->kind, "state",
      proto_state_name(e->state), "pinned", e->pinned, "position",
      (json_int_t)pos, "score", "total", e->score.total, "value",
      e->score.value, "time_criticality", e->score.time_criticality,
      "risk_reduction", e->score.risk_reduction, "job_size",
      e->score.job_size, "reason", r->code, "detail", r->detail);
  if (o && r->until)
    json_object_set_new(o, "until", json_integer((json_int_t)r->until));
  return o;
}

static int view_one(prio_rnode_t *n, void *arg)
{
  view_ctx_t *v = arg;
  const entry_t *e = (const entry_t *)n;
  reason_t r;
  reason_of(v, e, &r); /* always: the eligible count needs every task */
  if (v->q->repo && strcmp(v->q->repo, e->repo))
    return 0;
  if (v->q->reason && strcmp(v->q->reason, r.code))
    return 0;
  json_object_set_new(v->counts, r.code,
                      json_integer(json_integer_value(
                                       json_object_get(v->counts, r.code)) +
                                   1));
  size_t pos = v->matched++;
  if (pos >= v->q->offset && json_array_size(v->list) < v->limit)
    json_array_append_new(v->list, entry_json(e, pos, &r));
  return 0;
}

static json_t *exec_json(const prio_board_t *b)
{
  const prio_exec_view_t *x = &b->exec;
  return json_pack("{s:b s:I s:I s:I s:I s:f s:I s:b}", "known", x->known,
                   "running", (json_int_t)x->running, "queued",
                   (json_int_t)x->queued, "paused_until",
                   (json_int_t)x->paused_until_ms, "day_tasks",
                   (json_int_t)x->day_tasks, "day_usd", x->day_usd,
                   "concurrency", (json_int_t)b->cfg.concurrency,
                   "dry_run", b->cfg.dry_run);
}

json_t *prio_board_view(prio_board_t *b, const prio_view_query_t *q,
                        int64_t now_ms)
{
  static const proto_state_t order[] = {PROTO_STATE_READY,
                                        PROTO_STATE_TRIAGED, PROTO_STATE_NEW,
                                        PROTO_STATE_BLOCKED};
  view_ctx_t v = {.b = b, .q = q, .now = now_ms};
  v.limit = q->limit == 0 ? VIEW_LIMIT_DEFAULT
            : q->limit > VIEW_LIMIT_MAX ? VIEW_LIMIT_MAX : q->limit;
  v.list = json_array();
  v.counts = json_object();
  pthread_mutex_lock(&b->lock);
  v.slots = free_slots(b);
  for (size_t i = 0; i < sizeof order / sizeof *order; i++)
    if (q->state < 0 || (int)order[i] == q->state)
      prio_rank_walk(&b->sets[order[i]], 0, view_one, &v);
  json_t *exec = exec_json(b);
  pthread_mutex_unlock(&b->lock);
  size_t next = q->offset + json_array_size(v.list);
  json_t *o = json_pack("{s:o s:I s:o s:o}", "queue", v.list, "total",
                        (json_int_t)v.matched, "counts", v.counts, "executor",
                        exec);
  if (o)
    json_object_set_new(o, "next_offset", next < v.matched
                                              ? json_integer((json_int_t)next)
                                              : json_null());
  return o;
}
