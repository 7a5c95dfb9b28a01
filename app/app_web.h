/*
 * app_web.h: starting the control plane for `ccm serve` (app/ only).
 */
#ifndef APP_APP_WEB_H
#define APP_APP_WEB_H

#include "config/config.h"
#include "web/web.h"

/**
 * Start the control plane on @p listen ("ADDR:PORT") for `ccm serve` with
 * the config's repositories, the bearer token from the variable
 * cfg->auth_token_env names and the webhook secret likewise (never
 * printed). Logs where it listens, or why it cannot; @p url gets
 * "http://HOST:PORT/" (the port the system picked for port 0).
 * @return 0 or a web_start error; *out always written.
 */
int app_web_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
                  const char *listen, const cfg_t *cfg, web_t **out,
                  char *url, size_t url_cap);

#endif /* APP_APP_WEB_H */
