/*
 * app_web.h: starting the control plane for `ccm serve` (app/ only).
 */
#ifndef APP_APP_WEB_H
#define APP_APP_WEB_H

#include "web/web.h"

/**
 * Start the control plane on @p listen ("ADDR:PORT") for `ccm serve`: the
 * repository in the current directory is the one repository, the bearer
 * token is read from $CCM_TOKEN when set (never printed). Prints where it
 * listens, or why it cannot. @return 0 or a web_start error; *out always
 * written.
 */
int app_web_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
                  const char *listen, web_t **out);

#endif /* APP_APP_WEB_H */
