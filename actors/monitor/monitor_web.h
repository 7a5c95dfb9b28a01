/*
 * monitor_web.h: serve a monitor through the control plane
 * (GET /api/v1/dora, /api/v1/monitor, its checks in /api/v1/health and
 * its families in /metrics; web/rest_monitor.h). Library ccmmonitorweb,
 * meson dependency monitor_web_dep.
 */
#ifndef CCM_MONITOR_MONITOR_WEB_H
#define CCM_MONITOR_MONITOR_WEB_H

#include "actors/monitor/monitor.h"

/** Install @p m's readers as the control plane's monitor hooks; NULL
 * removes them (after this returns no hook runs, so @p m may then be
 * released). Any thread. */
void monitor_web_install(monitor_t *m);

#endif /* CCM_MONITOR_MONITOR_WEB_H */
