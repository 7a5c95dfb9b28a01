/*
 * app_web.c: the control plane's configuration for `ccm serve` from the
 * config: the listen address (--listen wins), the repositories (ids from
 * their directory names, lower-cased, anything outside [a-z0-9._-] turned
 * into '-'; github names for webhooks), the bearer token from the variable
 * auth_token_env names (CCM_TOKEN by default) and the webhook secret from
 * github.webhook_secret_env (CCM_WEBHOOK_SECRET by default). Secrets are
 * never logged.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/app_web.h"
#include "app/log.h"

#define MAX_REPOS 16

static struct {
  char path[MAX_REPOS][PATH_MAX];
  char id[MAX_REPOS][72];
  web_repo_t repos[MAX_REPOS];
} daemon_web;

static const char *env_named(const char *name)
{
  const char *v = name && *name ? getenv(name) : NULL;
  return v && *v ? v : NULL;
}

static size_t repos_of(const cfg_t *cfg)
{
  size_t n = 0;
  for (size_t i = 0; i < cfg->nrepos && n < MAX_REPOS; i++) {
    const cfg_repo_t *r = &cfg->repos[i];
    if (r->path) {
      if (!realpath(r->path, daemon_web.path[n]))
        snprintf(daemon_web.path[n], PATH_MAX, "%s", r->path);
      app_repo_id_of(daemon_web.path[n], daemon_web.id[n], 72);
    } else {
      app_repo_id_of(r->github_name ? r->github_name : "repo",
                     daemon_web.id[n], 72);
    }
    daemon_web.repos[n] = (web_repo_t){.id = daemon_web.id[n],
                                       .path = r->path ? daemon_web.path[n]
                                                       : NULL,
                                       .github = r->github};
    n++;
  }
  return n;
}

int app_web_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
                  const char *listen, const cfg_t *cfg, web_t **out,
                  char *url, size_t url_cap)
{
  char err[512];
  web_config_t wc;
  web_config_defaults(&wc);
  wc.listen = listen;
  wc.auth_token = env_named(cfg->auth_token_env);
  /* POST /webhooks/github; never logged. Unset: every delivery is 401. */
  wc.webhook_secret = env_named(cfg->github.webhook_secret_env);
  wc.repos = daemon_web.repos;
  wc.n_repos = repos_of(cfg);
  int rc = web_start(rt, store, store_actor, &wc, out, err, sizeof(err));
  if (rc) {
    app_log_kv(APP_LOG_ERROR, "web.start_failed",
               "cannot start the control plane", "error", err, NULL);
    return rc;
  }
  web_addr_t a;
  web_addr_parse(listen, &a);
  snprintf(url, url_cap, "http://%s%s%s:%d/", a.ipv6 ? "[" : "", a.host,
           a.ipv6 ? "]" : "", web_port(*out));
  app_log_kv(APP_LOG_INFO, "web.listening", "control plane listening", "url",
             url, "auth", wc.auth_token ? "bearer token" : "none",
             "token_env", wc.auth_token ? cfg->auth_token_env : NULL, NULL);
  return 0;
}
