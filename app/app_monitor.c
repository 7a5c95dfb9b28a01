/*
 * app_monitor.c: the monitor actor for `ccm serve` (actors/monitor/,
 * docs/monitor.md) from ccm.yaml: the monitor section's periods, alert
 * rules, outgoing webhooks (their HMAC keys read from the variables the
 * config names, wiped on release, never printed), the dora section, and
 * the repositories with a local path. Alerts are published on the
 * control plane's "alerts" topic; the health check, /metrics,
 * /api/v1/dora and /api/v1/monitor read the monitor through the hooks of
 * web/rest_monitor.h (monitor_web.h installs them).
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/monitor/monitor.h"
#include "actors/monitor/monitor_web.h"
#include "app/app.h"
#include "app/app_monitor.h"
#include "app/log.h"
#include "github/gh.h"

#define MAX_REPOS 16
#define MAX_HOOKS 64
#define MAX_AUTHORS 64

static struct {
  monitor_config_t cfg;
  monitor_hook_t hooks[MAX_HOOKS];
  monitor_repo_t repos[MAX_REPOS];
  char root[MAX_REPOS][PATH_MAX];
  char repo[MAX_REPOS][72];
  const char *authors[MAX_AUTHORS];
  cfg_secrets_t secrets;
  monitor_t *mon;
  rt_actor_t *github;   /* our own client, when we spawned one */
  pthread_mutex_t pub_mu;
  web_t *web;           /* NULL once stopping */
  struct mon_live *reloads; /* the newest first; freed at release */
} daemon_mon = {.pub_mu = PTHREAD_MUTEX_INITIALIZER};

/* Alerts to the control plane while it runs. */
static int publish(void *arg, const char *topic, const json_t *data)
{
  (void)arg;
  int rc = -1;
  pthread_mutex_lock(&daemon_mon.pub_mu);
  if (daemon_mon.web)
    rc = web_publish(daemon_mon.web, topic, data);
  pthread_mutex_unlock(&daemon_mon.pub_mu);
  return rc;
}

static unsigned failures_of(const cfg_strv_t *f)
{
  unsigned bits = 0;
  for (size_t i = 0; i < f->n; i++)
    bits |= !strcmp(f->v[i], "revert")   ? MON_FAIL_REVERT
            : !strcmp(f->v[i], "hotfix") ? MON_FAIL_HOTFIX
                                         : MON_FAIL_INCIDENT;
  return bits;
}

static void dora_of(monitor_dora_config_t *d, const cfg_dora_t *c)
{
  size_t na = c->agent_authors.n < MAX_AUTHORS ? c->agent_authors.n
                                               : MAX_AUTHORS;
  for (size_t i = 0; i < na; i++)
    daemon_mon.authors[i] = c->agent_authors.v[i];
  *d = (monitor_dora_config_t){
      .deployments = c->deployments == CFG_DEPLOY_TAGS ? MON_DEPLOY_TAGS
                                                       : MON_DEPLOY_MERGES,
      .branch = c->branch,
      .tag_pattern = c->tag_pattern,
      .failures = failures_of(&c->failures),
      .hotfix_window_ms = c->hotfix_window_ms,
      .hotfix_pattern = c->hotfix_pattern,
      .agent_branch_prefix = c->agent_branch_prefix,
      .incident_label = c->incident_label,
      .agent_authors = daemon_mon.authors,
      .n_agent_authors = na,
      .window_ms = c->window_ms,
  };
}

static size_t repos_of(const cfg_t *cfg)
{
  size_t n = 0;
  for (size_t i = 0; i < cfg->nrepos && n < MAX_REPOS; i++) {
    if (!cfg->repos[i].path)
      continue;
    if (!realpath(cfg->repos[i].path, daemon_mon.root[n]))
      snprintf(daemon_mon.root[n], PATH_MAX, "%s", cfg->repos[i].path);
    app_repo_id_of(daemon_mon.root[n], daemon_mon.repo[n], 72);
    daemon_mon.repos[n] = (monitor_repo_t){daemon_mon.repo[n],
                                           daemon_mon.root[n],
                                           cfg->repos[i].github};
    n++;
  }
  return n;
}

static size_t hooks_of(const cfg_t *cfg, monitor_hook_t *hooks,
                       cfg_secrets_t *secrets)
{
  cfg_errors_t errs;
  cfg_secrets_resolve(cfg, secrets, &errs); /* checked at load */
  cfg_errors_fini(&errs);
  size_t n = cfg->nwebhooks < MAX_HOOKS ? cfg->nwebhooks : MAX_HOOKS;
  for (size_t i = 0; i < n; i++)
    hooks[i] = (monitor_hook_t){
        .url = cfg->webhooks[i].url,
        .secret = i < secrets->nwebhook_keys ? secrets->webhook_keys[i]
                                             : NULL,
        .events = cfg->webhooks[i].events};
  return n;
}

/* What a reload hands the actor (monitor_reconfigure keeps pointers). */
typedef struct mon_live {
  struct mon_live *older;
  monitor_config_t cfg;
  monitor_hook_t hooks[MAX_HOOKS];
  cfg_secrets_t secrets;
} mon_live_t;

/* The GitHub probe: the daemon's client named "github" if one runs, else
 * one of ours when a repository names a GitHub repository. */
static rt_actor_t *github_of(rt_runtime_t *rt, const cfg_t *cfg)
{
  rt_actor_t *gh = NULL;
  if (rt_actor_lookup(rt, "github", &gh) == 0)
    return gh;
  bool wanted = false;
  for (size_t i = 0; i < cfg->nrepos; i++)
    wanted |= cfg->repos[i].github != NULL;
  if (!wanted)
    return NULL;
  gh_config_t g;
  gh_config_defaults(&g);
  g.api_url = cfg->github.api_url;
  g.token_env = cfg->github.token_env;
  if (gh_client_spawn(rt, &g, NULL, NULL, &gh) != 0)
    return NULL; /* no token: the probe reports nothing */
  return gh;
}

int app_monitor_start(rt_runtime_t *rt, store_t *store,
                      rt_actor_t *store_actor, const cfg_t *cfg, web_t *web)
{
  monitor_config_t *c = &daemon_mon.cfg;
  monitor_config_defaults(c);
  if (cfg->monitor.sample_interval_ms)
    c->sample_ms = (uint32_t)cfg->monitor.sample_interval_ms;
  if (cfg->monitor.persist_interval_ms)
    c->persist_ms = (uint32_t)cfg->monitor.persist_interval_ms;
  if (cfg->monitor.stuck_samples)
    c->stuck_samples = cfg->monitor.stuck_samples;
  c->alerts = cfg->alerts;
  c->nalerts = cfg->nalerts;
  c->nhooks = hooks_of(cfg, daemon_mon.hooks, &daemon_mon.secrets);
  c->hooks = daemon_mon.hooks;
  c->max_tasks_per_day = cfg->agents.budget.max_tasks_per_day;
  daemon_mon.github = github_of(rt, cfg);
  c->github = daemon_mon.github;
  daemon_mon.web = web;
  c->publish = web ? publish : NULL;
  dora_of(&c->dora, &cfg->dora);
  c->nrepos = repos_of(cfg);
  c->repos = daemon_mon.repos;
  int rc = monitor_start(rt, store, store_actor, c, &daemon_mon.mon);
  if (rc) {
    app_log_kv(APP_LOG_ERROR, "monitor.start_failed",
               "cannot start the monitor", "error", monitor_strerror(rc),
               NULL);
    return rc;
  }
  monitor_web_install(daemon_mon.mon);
  return 0;
}

int app_monitor_reload(const cfg_t *old, const cfg_t *now, void *arg)
{
  (void)old, (void)arg;
  mon_live_t *l = daemon_mon.mon ? calloc(1, sizeof *l) : NULL;
  if (!l)
    return -1;
  l->older = daemon_mon.reloads;
  daemon_mon.reloads = l;
  l->cfg.alerts = now->alerts;
  l->cfg.nalerts = now->nalerts;
  l->cfg.nhooks = hooks_of(now, l->hooks, &l->secrets);
  l->cfg.hooks = l->hooks;
  l->cfg.max_tasks_per_day = now->agents.budget.max_tasks_per_day;
  return monitor_reconfigure(daemon_mon.mon, &l->cfg) ? -1 : 0;
}

void app_monitor_stop(void)
{
  monitor_web_install(NULL);
  pthread_mutex_lock(&daemon_mon.pub_mu);
  daemon_mon.web = NULL;
  pthread_mutex_unlock(&daemon_mon.pub_mu);
  monitor_stop(daemon_mon.mon);
  monitor_release(daemon_mon.mon);
  daemon_mon.mon = NULL;
}

void app_monitor_release(void)
{
  rt_actor_release(daemon_mon.github);
  daemon_mon.github = NULL;
  cfg_secrets_fini(&daemon_mon.secrets);
  for (mon_live_t *l = daemon_mon.reloads, *older; l; l = older) {
    older = l->older;
    cfg_secrets_fini(&l->secrets);
    free(l);
  }
  daemon_mon.reloads = NULL;
}
