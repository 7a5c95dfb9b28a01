/*
 * app_web.c: the control plane's configuration for `ccm serve`, until the
 * YAML config (issue #8) provides it: listen address from --listen, the
 * current directory as the repository (its id is the directory's name,
 * lower-cased, with anything outside [a-z0-9._-] turned into '-'), and the
 * bearer token from the environment variable CCM_TOKEN (the default of
 * the config's auth_token_env); the GitHub webhook secret from
 * CCM_WEBHOOK_SECRET (webhook_secret_env's default), never logged.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "app/app_web.h"

int app_web_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
                  const char *listen, web_t **out)
{
  char cwd[4096], id[72], err[512];
  if (!getcwd(cwd, sizeof(cwd)))
    snprintf(cwd, sizeof(cwd), ".");
  app_repo_id_of(cwd, id, sizeof(id));
  web_repo_t repo = {.id = id, .path = cwd};
  web_config_t cfg;
  web_config_defaults(&cfg);
  cfg.listen = listen;
  cfg.auth_token = getenv("CCM_TOKEN");
  /* POST /webhooks/github; never logged. Unset: every delivery is 401. */
  cfg.webhook_secret = getenv("CCM_WEBHOOK_SECRET");
  cfg.repos = &repo;
  cfg.n_repos = 1;
  int rc = web_start(rt, store, store_actor, &cfg, out, err, sizeof(err));
  if (rc) {
    fprintf(stderr, "ccm: cannot start the control plane: %s\n", err);
    return rc;
  }
  web_addr_t a;
  web_addr_parse(listen, &a);
  fprintf(stderr, "ccm: control plane on http://%s%s%s:%d/%s\n",
          a.ipv6 ? "[" : "", a.host, a.ipv6 ? "]" : "", web_port(*out),
          cfg.auth_token && *cfg.auth_token
                              ? "; bearer token from CCM_TOKEN required"
                              : "");
  return 0;
}
