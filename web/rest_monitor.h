/*
 * rest_monitor.h: the monitor's side of the control plane.
 *
 * web/ is built before actors/ and knows no actor, so the monitor
 * (actors/monitor/monitor.h) reaches REST through hooks that `ccm serve`
 * installs (app/app_monitor.c):
 *   GET /api/v1/health   adds the monitor's checks (actors, executor,
 *                        github) and may turn the status "degraded";
 *   GET /metrics         appends the monitor's families;
 *   GET /api/v1/dora     the DORA report;
 *   GET /api/v1/monitor  runtime and task metrics with percentiles.
 * Without hooks the two routes answer 503 and the others are unchanged.
 * Every hook reads a snapshot: cheap, never a store walk.
 */
#ifndef WEB_REST_MONITOR_H
#define WEB_REST_MONITOR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct web_monitor_hooks {
  /* Add checks to @p checks; true when one is degraded. */
  bool (*health)(void *arg, json_t *checks);
  /* Prometheus families as a malloc'd text (*len bytes), or NULL. */
  char *(*metrics)(void *arg, size_t *len);
  json_t *(*dora)(void *arg);    /* a new reference */
  json_t *(*summary)(void *arg); /* a new reference */
  void *arg;
} web_monitor_hooks_t;

/** Install the hooks (copied; NULL removes them). Any thread; a hook
 * running meanwhile finishes first, so after web_monitor_install(NULL)
 * returns no hook runs and @p arg may be freed. */
void web_monitor_install(const web_monitor_hooks_t *hooks);

/* ---- for web/ (rest.c, metrics.c) ---- */
struct web;
struct http_req;
struct web_buf;
/** Are hooks installed? (Health then takes the path with checks.) */
bool web__monitor_active(void);
/** The monitor's checks into @p checks; true when degraded. */
bool web__monitor_health(json_t *checks);
/** Append the monitor's families to @p b. @return 0 or -1 (memory). */
int web__monitor_metrics(struct web_buf *b);
/** GET /api/v1/dora. */
void web__rest_dora(struct web *w, struct http_req *r);
/** GET /api/v1/monitor. */
void web__rest_monitor(struct web *w, struct http_req *r);

#endif /* WEB_REST_MONITOR_H */
