/*
 * app_monitor.h: the monitor for `ccm serve` (app/ only).
 *
 * Order in the daemon: app_monitor_start() after the control plane
 * started (it publishes alerts there and installs its REST hooks),
 * app_monitor_stop() before web_stop(), app_monitor_release() after the
 * runtime shut down (the actor may read the configuration until then).
 */
#ifndef APP_APP_MONITOR_H
#define APP_APP_MONITOR_H

#include "config/config.h"
#include "runtime/actor.h"
#include "store/store.h"
#include "web/web.h"

/** Start the monitor from the config's monitor, dora, alerts, webhooks
 * and repos sections. @p web may be NULL (events then go to the log).
 * Prints why it cannot start. @return 0 or a monitor_start() error. */
int app_monitor_start(rt_runtime_t *rt, store_t *store,
                      rt_actor_t *store_actor, const cfg_t *cfg, web_t *web);
/** A SIGHUP reload's alerts and webhooks (an app_reload_fn): handed to
 * the actor (monitor_reconfigure); 0 when handed over. */
int app_monitor_reload(const cfg_t *old, const cfg_t *now, void *arg);
/** Remove the REST hooks, stop publishing to @p web, stop the actor. */
void app_monitor_stop(void);
/** Free what the monitor's configuration holds (secrets wiped). */
void app_monitor_release(void);

#endif /* APP_APP_MONITOR_H */
