/*
 * app_github.c: the GitHub side of `ccm serve` (issue #5): the webhook
 * event handler (actors/github/events.h), registered as GHEV_NAME, which
 * the control plane's POST /webhooks/github hands every verified delivery
 * to; and, when a token is configured (github.token_env), the REST client
 * and the periodic sync (actors/github/sync.h: issue discovery and
 * findings-to-issues under a per-cycle operations budget, every
 * github.sync_interval; repositories opt in to proposals with
 * propose_issues; agents.auto_approve kinds are proposed approved).
 *
 * Repository ids follow the control plane's rule (app_web.c): the local
 * path's directory name, else the GitHub name. The actors live until the
 * runtime shuts down; the configuration they borrow is kept here, in
 * static storage, for that long.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/github/events.h"
#include "actors/github/sync.h"
#include "app/app.h"
#include "app/log.h"
#include "github/gh_cache.h"

#define MAX_REPOS 16

#define MAX_LIST 64

static struct {
  char id[MAX_REPOS][72];
  const char *kinds[MAX_REPOS][MAX_LIST];
  const char *approve_kinds[MAX_LIST];
  const char *approve_labels[MAX_LIST];
  const char *exempt_labels[MAX_LIST];
  char path[MAX_REPOS][PATH_MAX];
  ghev_repo_t repos[MAX_REPOS];
  ghs_repo_t sync_repos[MAX_REPOS];
  ghev_config_t events;
  ghs_config_t sync;
  gh_config_t client;
  gh_cache_t *cache;
  rt_runtime_t *rt;
  struct gh_live *reloads; /* the newest first; never freed while running */
} daemon_gh;

/* A borrowed array of the strings of @p l (at most MAX_LIST). */
static size_t list_of(const cfg_strv_t *l, const char **out)
{
  size_t n = l->n < MAX_LIST ? l->n : MAX_LIST;
  for (size_t i = 0; i < n; i++)
    out[i] = l->v[i];
  return n;
}

/* The repositories with a GitHub name, with the control plane's ids. */
static size_t github_repos(const cfg_t *cfg)
{
  size_t n_auto = list_of(&cfg->agents.auto_approve, daemon_gh.approve_kinds);
  size_t n = 0;
  for (size_t i = 0; i < cfg->nrepos && n < MAX_REPOS; i++) {
    const cfg_repo_t *r = &cfg->repos[i];
    if (!r->github)
      continue;
    if (r->path) {
      if (!realpath(r->path, daemon_gh.path[n]))
        snprintf(daemon_gh.path[n], PATH_MAX, "%s", r->path);
      app_repo_id_of(daemon_gh.path[n], daemon_gh.id[n], 72);
    } else {
      app_repo_id_of(r->github_name, daemon_gh.id[n], 72);
    }
    daemon_gh.repos[n] = (ghev_repo_t){.id = daemon_gh.id[n],
                                       .github = r->github};
    daemon_gh.sync_repos[n] = (ghs_repo_t){
        .id = daemon_gh.id[n],
        .github = r->github,
        .propose = r->propose_issues,
        .propose_kinds = daemon_gh.kinds[n],
        .n_propose_kinds = list_of(&r->propose_kinds, daemon_gh.kinds[n]),
        .auto_approve = daemon_gh.approve_kinds,
        .n_auto_approve = n_auto,
        .close_resolved = r->close_resolved_issues};
    n++;
  }
  return n;
}

static int start_events(rt_runtime_t *rt, store_t *store,
                        rt_actor_t *store_actor, const cfg_t *cfg, size_t n)
{
  daemon_gh.events = (ghev_config_t){
      .store = store,
      .store_actor = store_actor,
      .repos = daemon_gh.repos,
      .n_repos = n,
      .approve_labels = daemon_gh.approve_labels,
      .n_approve = list_of(&cfg->github.approve_labels,
                           daemon_gh.approve_labels),
      .self_login = cfg->github.login,
      .proposal_label = cfg->github.proposal_label};
  rt_actor_t *a = NULL;
  int rc = ghev_spawn(rt, &daemon_gh.events, &a);
  rt_actor_release(a); /* it lives until the runtime stops */
  return rc;
}

static void client_config(const cfg_t *cfg)
{
  gh_config_t *c = &daemon_gh.client;
  gh_config_defaults(c);
  c->api_url = cfg->github.api_url;
  c->token_env = cfg->github.token_env;
  if (cfg->github.accept)
    c->accept = cfg->github.accept;
  if (cfg->github.user_agent)
    c->user_agent = cfg->github.user_agent;
  if (cfg->github.api_version)
    c->api_version = cfg->github.api_version;
  c->auth = cfg->github.auth_scheme == CFG_AUTH_BEARER ? GH_AUTH_BEARER
                                                        : GH_AUTH_TOKEN;
}

/* The client and the periodic sync; only with a token (without one the
 * webhooks still work, GitHub is just never asked anything). */
/* A sweep that stopped on an error is logged once per error (a sweep runs
 * every sync_interval: an unreachable GitHub must not fill the log), and
 * the first complete sweep after it says so. Sweep thread only. */
static void log_sweep(void *ud, const ghs_report_t *rep)
{
  static int32_t last_rc;
  (void)ud;
  char ops[16];
  snprintf(ops, sizeof ops, "%u", (unsigned)rep->ops);
  if (rep->rc && rep->rc != last_rc)
    app_log_kv(APP_LOG_WARN, "github.sweep_failed",
               "the GitHub sweep stopped; the next cycle retries", "error",
               gh_strerror(rep->rc), "requests", ops, "resume", rep->resume,
               NULL);
  else if (!rep->rc && rep->complete && last_rc)
    app_log_kv(APP_LOG_INFO, "github.sweep_recovered",
               "the GitHub sweep completed again", "requests", ops, NULL);
  last_rc = rep->rc ? rep->rc : (rep->complete ? 0 : last_rc);
}

static int start_sync(rt_runtime_t *rt, store_t *store,
                      rt_actor_t *store_actor, const cfg_t *cfg, size_t n)
{
  const char *token_env = cfg->github.token_env;
  const char *token = token_env && *token_env ? getenv(token_env) : NULL;
  if (!n || !token || !*token || !cfg->github.sync_interval_ms)
    return 0;
  client_config(cfg);
  int rc = gh_cache_store_new(rt, store, &daemon_gh.cache);
  rt_actor_t *client = NULL, *sync = NULL;
  if (!rc)
    rc = gh_client_spawn(rt, &daemon_gh.client, daemon_gh.cache, "github",
                         &client);
  if (rc) {
    app_log_kv(APP_LOG_ERROR, "github.start_failed",
               "cannot start the GitHub client", "error", gh_strerror(rc),
               NULL);
    return rc;
  }
  ghs_config_defaults(&daemon_gh.sync);
  daemon_gh.sync.store = store;
  daemon_gh.sync.store_actor = store_actor;
  daemon_gh.sync.client = client;
  daemon_gh.sync.repos = daemon_gh.sync_repos;
  daemon_gh.sync.n_repos = n;
  daemon_gh.sync.stale_days = cfg->github.stale_days;
  daemon_gh.sync.self_login = cfg->github.login;
  daemon_gh.sync.budget = cfg->github.budget;
  daemon_gh.sync.interval_ms = cfg->github.sync_interval_ms;
  if (cfg->github.proposal_label)
    daemon_gh.sync.proposal_label = cfg->github.proposal_label;
  if (cfg->github.approve_labels.n)
    daemon_gh.sync.approve_label = cfg->github.approve_labels.v[0];
  daemon_gh.sync.exempt_labels = daemon_gh.exempt_labels;
  daemon_gh.sync.n_exempt = list_of(&cfg->github.stale_exempt_labels,
                                    daemon_gh.exempt_labels);
  daemon_gh.sync.on_report = log_sweep;
  rc = ghs_spawn(rt, &daemon_gh.sync, &sync);
  rt_actor_release(sync);
  return rc;
}

int app_github_start(rt_runtime_t *rt, store_t *store,
                     rt_actor_t *store_actor, const cfg_t *cfg)
{
  size_t n = github_repos(cfg);
  daemon_gh.rt = rt;
  int rc = start_events(rt, store, store_actor, cfg, n);
  if (rc) {
    app_log_kv(APP_LOG_ERROR, "github.start_failed",
               "cannot start the webhook handler", "error", rt_strerror(rc),
               NULL);
    return rc;
  }
  return start_sync(rt, store, store_actor, cfg, n);
}

/* ------------------------------------------------------------ reload */

/* What a reload hands the two actors (they keep the pointers). */
typedef struct gh_live {
  struct gh_live *older;
  ghev_config_t events;
  ghs_config_t sync;
  const char *approve_labels[MAX_LIST];
  const char *exempt_labels[MAX_LIST];
} gh_live_t;

static bool same_str(const char *a, const char *b)
{
  return a == b || (a && b && !strcmp(a, b));
}

/* Only what the actors take live changed (not the API, the secrets'
 * variables, the interval)? */
static bool live_only(const cfg_github_t *a, const cfg_github_t *b)
{
  return same_str(a->api_url, b->api_url) &&
         same_str(a->token_env, b->token_env) &&
         same_str(a->webhook_secret_env, b->webhook_secret_env) &&
         same_str(a->accept, b->accept) && a->auth_scheme == b->auth_scheme &&
         same_str(a->user_agent, b->user_agent) &&
         same_str(a->api_version, b->api_version) &&
         a->sync_interval_ms == b->sync_interval_ms;
}

static int send_config(const char *name, uint32_t type, const void *cfg)
{
  rt_actor_t *a = NULL;
  rt_msg_t *m = NULL;
  int rc = rt_actor_lookup(daemon_gh.rt, name, &a);
  if (!rc)
    rc = rt_msg_new(type, &cfg, sizeof(cfg), &m);
  if (!rc)
    rc = rt_send(a, &m);
  rt_actor_release(a);
  return rc;
}

int app_github_reload(const cfg_t *old, const cfg_t *now, void *arg)
{
  (void)arg;
  if (!daemon_gh.rt || !live_only(&old->github, &now->github))
    return -1;
  gh_live_t *l = calloc(1, sizeof(*l));
  if (!l)
    return -1;
  l->older = daemon_gh.reloads;
  daemon_gh.reloads = l;
  l->events = daemon_gh.events;
  l->events.approve_labels = l->approve_labels;
  l->events.n_approve = list_of(&now->github.approve_labels,
                                l->approve_labels);
  l->events.self_login = now->github.login;
  l->events.proposal_label = now->github.proposal_label;
  int rc = send_config(GHEV_NAME, GHEV_MSG_RECONFIGURE, &l->events);
  if (rc || !daemon_gh.sync.store) /* no sync without a token */
    return rc ? -1 : 0;
  l->sync = daemon_gh.sync;
  l->sync.stale_days = now->github.stale_days;
  l->sync.budget = now->github.budget;
  l->sync.self_login = now->github.login;
  if (now->github.proposal_label)
    l->sync.proposal_label = now->github.proposal_label;
  l->sync.approve_label = now->github.approve_labels.n
                              ? now->github.approve_labels.v[0]
                              : daemon_gh.sync.approve_label;
  l->sync.exempt_labels = l->exempt_labels;
  l->sync.n_exempt = list_of(&now->github.stale_exempt_labels,
                             l->exempt_labels);
  return send_config(GHS_NAME, GHS_MSG_RECONFIGURE, &l->sync) ? -1 : 0;
}
