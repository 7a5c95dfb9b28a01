/* cycle.c: scoring a task with its repository's rules and churn, and the
 * blocking job that scores every task (see prio_int.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/prioritizer/prio_int.h"

int64_t prio__now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const prio_rules_t *prio__rules_for(const prio_config_t *cfg,
                                    prio_churn_t *const *churn,
                                    const char *repo,
                                    const prio_churn_t **churn_out)
{
  *churn_out = NULL;
  for (size_t i = 0; repo && i < cfg->nrepos; i++)
    if (cfg->repos[i].id && !strcmp(cfg->repos[i].id, repo)) {
      *churn_out = churn ? churn[i] : NULL;
      return &cfg->repos[i].rules;
    }
  return &cfg->rules;
}

void prio__score_task(const prio_config_t *cfg, prio_churn_t *const *churn,
                      const proto_task_t *t, int64_t now_ms,
                      proto_score_t *out, char *why, size_t whylen)
{
  const prio_churn_t *ch;
  const prio_rules_t *rules = prio__rules_for(cfg, churn, t->repo, &ch);
  prio_facts_t f;
  prio_facts_of_task(t, now_ms, &f);
  if (ch)
    f.churn = prio_churn_of(ch, t->loc.path);
  prio_score(rules, &f, out, why, whylen);
}

bool prio__score_differs(const proto_score_t *s, const proto_score_t *old)
{
  return s->total != old->total || s->value != old->value ||
         s->time_criticality != old->time_criticality ||
         s->risk_reduction != old->risk_reduction ||
         s->job_size != old->job_size ||
         strcmp(s->why ? s->why : "", old->why ? old->why : "") != 0;
}

static bool terminal(proto_state_t s)
{
  return s == PROTO_STATE_DONE || s == PROTO_STATE_RESOLVED ||
         s == PROTO_STATE_REJECTED;
}

static bool abandoned(prio__cycle_t *c)
{
  return atomic_load(&c->phase) == PRIO__CYCLE_ABANDONED;
}

static int item_add(const proto_task_t *t, void *arg)
{
  prio__cycle_t *c = arg;
  if (abandoned(c))
    return 1; /* nobody will read the result */
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 1024;
    prio__item_t *v = realloc(c->items, cap * sizeof *v);
    if (!v)
      return 1; /* stop: the actor applies what was read */
    c->items = v;
    c->cap = cap;
  }
  prio__item_t *it = &c->items[c->n];
  memset(it, 0, sizeof *it);
  it->id = strdup(t->id);
  it->repo = strdup(t->repo ? t->repo : "");
  it->kind = strdup(t->kind ? t->kind : "");
  it->state = t->state;
  it->pinned = t->pinned;
  it->attempts = t->attempts;
  it->first_seen = t->first_seen;
  if (!terminal(t->state)) {
    char why[PRIO__WHY_MAX];
    prio__score_task(c->cfg, c->churn, t, c->now_ms, &it->score, why,
                     sizeof why);
    it->score.why = strdup(why);
    it->changed = prio__score_differs(&it->score, &t->score);
  }
  c->n++;
  return 0;
}

void prio__cycle_job(void *arg, rt_msg_t **result)
{
  prio__cycle_t *c = arg;
  const prio_config_t *cfg = c->cfg;
  for (size_t i = 0; i < cfg->nrepos; i++) {
    int days = cfg->repos[i].churn_days;
    unsigned window = days < 0 ? cfg->churn_window_days : (unsigned)days;
    if (cfg->repos[i].path && window)
      prio_churn_read(cfg->repos[i].path, window,
                      &c->churn[i]); /* no churn on failure: NULL */
  }
  store_stats_t st;
  c->rc = store_stats(c->store, &st);
  c->seq_before = c->rc ? 0 : st.last_seq;
  store_filter_t all = {.state = -1};
  if (!c->rc && !abandoned(c))
    c->rc = store_task_foreach(c->store, &all, item_add, c);
  int running = PRIO__CYCLE_RUNNING;
  if (!atomic_compare_exchange_strong(&c->phase, &running,
                                      PRIO__CYCLE_POSTED)) {
    prio__cycle_free(c, c->cfg_copy.nrepos); /* the actor has stopped */
    return;
  }
  /* from here the cycle is the actor's (or on_stop's): not touched again */
  rt_msg_new(PRIO__MSG_CYCLE_DONE, &c, sizeof c, result);
}

void prio__cycle_abandon(prio__cycle_t *c, size_t nrepos)
{
  int running = PRIO__CYCLE_RUNNING;
  if (c && !atomic_compare_exchange_strong(&c->phase, &running,
                                           PRIO__CYCLE_ABANDONED))
    prio__cycle_free(c, nrepos); /* posted: its message is dropped unread */
}

void prio__cycle_free(prio__cycle_t *c, size_t nrepos)
{
  if (!c)
    return;
  for (size_t i = 0; i < c->n; i++) {
    free(c->items[i].id);
    free(c->items[i].repo);
    free(c->items[i].kind);
    free(c->items[i].score.why);
  }
  free(c->items);
  for (size_t i = 0; c->churn && i < nrepos; i++)
    prio_churn_free(c->churn[i]);
  free(c->churn);
  free(c);
}
