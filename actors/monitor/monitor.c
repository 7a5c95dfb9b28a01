/*
 * monitor.c: the monitor's handle: configuration, start and stop, and the
 * snapshot other threads read (design note: monitor_int.h).
 *
 * The actor replaces the snapshot whole after each sample under a mutex;
 * readers copy out of it under the same mutex (json_deep_copy: jansson's
 * reference counts are not atomic, so no reference crosses threads).
 */
#include <stdlib.h>
#include <string.h>

#include "actors/monitor/monitor_int.h"
#include "runtime/rt.h"

const char *monitor_strerror(int rc)
{
  switch (rc) {
#define MON_ERR_CASE(name, code, text)                                       \
  case MON_##name:                                                           \
    return "MON_" #name ": " text;
    MON_ERRNO_MAP(MON_ERR_CASE)
#undef MON_ERR_CASE
  default:
    return rc <= -33000 && rc > -34000 ? store_strerror(rc)
                                       : rt_strerror(rc);
  }
}

void monitor_config_defaults(monitor_config_t *c)
{
  memset(c, 0, sizeof(*c));
  c->sample_ms = 1000;
  c->persist_ms = 60000;
  c->probe_ms = 30000;
  c->dora_ms = 600000;
  c->stuck_samples = 5;
  c->retry = (monitor_retry_t){.attempts = 5, .base_ms = 500,
                               .max_ms = 60000, .timeout_ms = 10000};
  c->executor_name = "executor";
}

monitor_t *mon__retain(monitor_t *m)
{
  atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  return m;
}

void monitor_release(monitor_t *m)
{
  if (!m)
    return;
  /* acq_rel: the last owner sees every write of the others. */
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
    return;
  rt_actor_release(m->actor);
  rt_actor_release(m->store_actor);
  pthread_mutex_destroy(&m->mu);
  free(m->metrics_text);
  json_decref(m->summary);
  json_decref(m->dora);
  json_decref(m->checks);
  free(m);
}

static bool config_ok(const monitor_config_t *c)
{
  return c->sample_ms > 0 && c->stuck_samples > 0 &&
         c->stuck_samples < MON_WINDOW && c->retry.attempts > 0 &&
         (c->nalerts == 0 || c->alerts) && (c->nhooks == 0 || c->hooks) &&
         (c->nrepos == 0 || c->repos);
}

int monitor_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
                  const monitor_config_t *cfg, monitor_t **out)
{
  *out = NULL;
  monitor_config_t def;
  monitor_config_defaults(&def);
  if (!cfg)
    cfg = &def;
  if (!rt || !store || !store_actor || !config_ok(cfg))
    return MON_EINVAL;
  monitor_t *m = calloc(1, sizeof(*m));
  if (!m)
    return MON_ENOMEM;
  atomic_init(&m->refs, 1);
  m->rt = rt;
  m->store = store;
  m->store_actor = rt_actor_retain(store_actor);
  m->cfg = *cfg;
  pthread_mutex_init(&m->mu, NULL);
  m->checks = json_pack("{s:s}", "monitor", "starting");
  m->dora = json_pack("{s:[]}", "repos");
  int rc = mon__actor_spawn(m, &m->actor);
  if (rc) {
    monitor_release(m);
    return rc;
  }
  *out = m;
  return 0;
}

void monitor_stop(monitor_t *m)
{
  if (m && m->actor)
    rt_actor_stop(m->actor);
}

int monitor_reconfigure(monitor_t *m, const monitor_config_t *cfg)
{
  rt_msg_t *msg = NULL;
  if (!m || !m->actor || !cfg)
    return RT_EINVAL;
  int rc = rt_msg_new(MON_MSG_RECONFIGURE, &cfg, sizeof(cfg), &msg);
  return rc ? rc : rt_send(m->actor, &msg);
}

void mon__snapshot_set(monitor_t *m, char *metrics, size_t len,
                       json_t *summary, json_t *checks, bool degraded)
{
  pthread_mutex_lock(&m->mu);
  char *old_text = m->metrics_text;
  json_t *old_summary = m->summary, *old_checks = m->checks;
  m->metrics_text = metrics;
  m->metrics_len = len;
  m->summary = summary;
  m->checks = checks;
  m->degraded = degraded;
  pthread_mutex_unlock(&m->mu);
  free(old_text);
  json_decref(old_summary);
  json_decref(old_checks);
}

void mon__dora_set(monitor_t *m, json_t *dora)
{
  pthread_mutex_lock(&m->mu);
  json_t *old = m->dora;
  m->dora = dora;
  pthread_mutex_unlock(&m->mu);
  json_decref(old);
}

bool monitor_health(monitor_t *m, json_t *checks)
{
  if (!m)
    return false;
  pthread_mutex_lock(&m->mu);
  const char *key;
  json_t *v;
  json_object_foreach(m->checks, key, v)
      json_object_set_new(checks, key, json_deep_copy(v));
  bool degraded = m->degraded;
  pthread_mutex_unlock(&m->mu);
  return degraded;
}

char *monitor_metrics_text(monitor_t *m, size_t *len)
{
  pthread_mutex_lock(&m->mu);
  size_t n = m->metrics_text ? m->metrics_len : 0;
  char *copy = malloc(n + 1);
  if (copy) {
    if (n)
      memcpy(copy, m->metrics_text, n);
    copy[n] = '\0';
  }
  pthread_mutex_unlock(&m->mu);
  *len = copy ? n : 0;
  return copy;
}

static json_t *copy_of(monitor_t *m, json_t *const *slot)
{
  pthread_mutex_lock(&m->mu);
  json_t *copy = *slot ? json_deep_copy(*slot) : json_object();
  pthread_mutex_unlock(&m->mu);
  return copy;
}

json_t *monitor_dora_json(monitor_t *m)
{
  return copy_of(m, &m->dora);
}

json_t *monitor_summary_json(monitor_t *m)
{
  return copy_of(m, &m->summary);
}
