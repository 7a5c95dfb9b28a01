/*
 * app_prio.c: the prioritizer for `ccm serve` (actors/prioritizer/): the
 * config's priority section (global, and per repository over it), the
 * agents' auto_approve, concurrency, dry_run and budgets; registered as
 * "prioritizer"; GET /api/v1/queue and POST /api/v1/queue/{id} through
 * the web hooks (web/rest_queue.h).
 *
 * Everything the actor reads is copied here into a setup, kept until the
 * process ends: the actor may read it until the runtime has shut down,
 * after app_prio_release(). A SIGHUP reload that changes the priority or
 * the agents section (app_prio_reload) builds a new setup and hands its
 * pointer to the actor (PRIO_MSG_RECONFIGURE), which rescores every task.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/prioritizer/prioritizer.h"
#include "app/app.h"
#include "app/log.h"
#include "web/rest_queue.h"

#define MAX_REPOS 16
#define MAX_AUTO 64

/* What the actor is given for one configuration (it keeps pointers). */
typedef struct prio_setup {
  struct prio_setup *older;
  prio_config_t cfg;
  prio_repo_t repos[MAX_REPOS];
  char ids[MAX_REPOS][72];
  char paths[MAX_REPOS][PATH_MAX];
  const char *auto_kinds[MAX_AUTO];
} prio_setup_t;

static struct {
  prio_setup_t *setups; /* the newest first; never freed while running */
  rt_actor_t *actor;
  prio_board_t *board;
  store_t *store;
} daemon_prio;

static char *keep(const char *s)
{
  return s ? strdup(s) : NULL; /* kept for the life of the process */
}

/* @p a then @p b (the first match wins, so @p a overrides @p b). */
static const prio_map_t *maps_of(const cfg_prio_maps_t *a,
                                 const cfg_prio_maps_t *b, size_t *n)
{
  size_t na = a ? a->n : 0, nb = b ? b->n : 0;
  prio_map_t *v = calloc(na + nb + 1, sizeof *v);
  *n = 0;
  for (size_t i = 0; v && i < na + nb; i++) {
    const cfg_prio_map_t *m = i < na ? &a->v[i] : &b->v[i - na];
    v[(*n)++] = (prio_map_t){keep(m->key),
                             {m->value, m->time_criticality,
                              m->risk_reduction, m->job_size}};
  }
  return v;
}

static double weight_or(double repo, double global)
{
  return isnan(repo) ? global : repo;
}

/* The rules of @p repo (may be NULL: the global ones). */
static void rules_of(const cfg_priority_t *g, const cfg_priority_t *repo,
                     prio_rules_t *r)
{
  prio_rules_defaults(r);
  const cfg_weights_t *gw = &g->weights;
  const cfg_weights_t *rw = repo ? &repo->weights : gw;
  r->weight[PRIO_VALUE] = weight_or(rw->value, gw->value);
  r->weight[PRIO_TIME] = weight_or(rw->time_criticality, gw->time_criticality);
  r->weight[PRIO_RISK] = weight_or(rw->risk_reduction, gw->risk_reduction);
  r->weight[PRIO_SIZE] = weight_or(rw->job_size, gw->job_size);
  r->kinds = maps_of(repo ? &repo->kinds : NULL, &g->kinds, &r->nkinds);
  r->labels = maps_of(repo ? &repo->labels : NULL, &g->labels, &r->nlabels);
  r->paths = maps_of(repo ? &repo->paths : NULL, &g->paths, &r->npaths);
}

static void repos_of(const cfg_t *cfg, prio_setup_t *s)
{
  prio_config_t *c = &s->cfg;
  size_t n = 0;
  for (size_t i = 0; i < cfg->nrepos && n < MAX_REPOS; i++) {
    const cfg_repo_t *r = &cfg->repos[i];
    if (!r->path)
      continue;
    if (!realpath(r->path, s->paths[n]))
      snprintf(s->paths[n], PATH_MAX, "%s", r->path);
    app_repo_id_of(s->paths[n], s->ids[n], 72);
    prio_repo_t *p = &s->repos[n++];
    p->id = s->ids[n - 1];
    p->path = s->paths[n - 1];
    rules_of(&cfg->priority, r->priority, &p->rules);
    p->churn_days = -1;
    if (r->priority && r->priority->churn_window_ms != UINT64_MAX)
      p->churn_days = (int)(r->priority->churn_window_ms / 86400000ull);
  }
  c->repos = s->repos;
  c->nrepos = n;
}

static json_t *hook_view(void *arg, const web_queue_query_t *q)
{
  prio_view_query_t v = {q->limit, q->offset, q->state, q->repo, q->reason};
  return prio_queue_json(daemon_prio.board, daemon_prio.store, &v,
                         (int64_t)time(NULL) * 1000);
}

static int hook_override(void *arg, const char *task, const json_t *body)
{
  json_t *cmd = json_deep_copy(body);
  if (!cmd)
    return -1;
  json_object_set_new(cmd, "task", json_string(task));
  char *text = json_dumps(cmd, JSON_COMPACT);
  json_decref(cmd);
  rt_msg_t *m = NULL;
  int rc = text ? rt_msg_new(PRIO_MSG_COMMAND, text, strlen(text), &m) : -1;
  free(text);
  return rc ? rc : rt_send(daemon_prio.actor, &m); /* never waits */
}

/* A new setup from @p cfg, kept in daemon_prio.setups; NULL when out of
 * memory. */
static prio_setup_t *setup_of(const cfg_t *cfg)
{
  prio_setup_t *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  prio_config_t *c = &s->cfg;
  prio_config_defaults(c);
  rules_of(&cfg->priority, NULL, &c->rules);
  repos_of(cfg, s);
  c->churn_window_days =
      (unsigned)(cfg->priority.churn_window_ms / (24ull * 3600 * 1000));
  size_t na = cfg->agents.auto_approve.n < MAX_AUTO
                  ? cfg->agents.auto_approve.n : MAX_AUTO;
  for (size_t i = 0; i < na; i++)
    s->auto_kinds[i] = keep(cfg->agents.auto_approve.v[i]);
  c->auto_approve = s->auto_kinds;
  c->nauto_approve = na;
  c->concurrency = cfg->agents.concurrency;
  c->dry_run = cfg->agents.dry_run;
  c->max_tasks_per_day = cfg->agents.budget.max_tasks_per_day;
  c->max_usd_per_day = cfg->agents.budget.max_usd_per_day;
  s->older = daemon_prio.setups;
  daemon_prio.setups = s;
  return s;
}

int app_prio_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
                   const cfg_t *cfg)
{
  prio_setup_t *s = setup_of(cfg);
  daemon_prio.store = store;
  int rc = s ? prio_spawn(rt, &s->cfg, store, store_actor, "prioritizer",
                          &daemon_prio.actor, &daemon_prio.board)
             : RT_ENOMEM;
  if (rc) {
    app_log_kv(APP_LOG_ERROR, "prioritizer.start_failed",
               "cannot start the prioritizer", "error", prio_strerror(rc),
               NULL);
    return rc;
  }
  web_queue_hooks_t h = {hook_view, hook_override, NULL};
  web_queue_install(&h);
  return 0;
}

int app_prio_reload(const cfg_t *old, const cfg_t *now, void *arg)
{
  (void)old, (void)arg;
  prio_setup_t *s = daemon_prio.actor ? setup_of(now) : NULL;
  if (!s)
    return -1;
  return prio_reconfigure(daemon_prio.actor, &s->cfg) ? -1 : 0;
}

void app_prio_release(void)
{
  web_queue_install(NULL);
  prio_board_release(daemon_prio.board);
  daemon_prio.board = NULL;
  rt_actor_release(daemon_prio.actor);
  daemon_prio.actor = NULL;
}
