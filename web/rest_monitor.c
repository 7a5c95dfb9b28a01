/*
 * rest_monitor.c: the monitor's hooks into REST and /metrics
 * (rest_monitor.h). One process-wide table under a mutex: `ccm serve`
 * runs one monitor, and a hook holds the mutex only while it copies a
 * snapshot.
 */
#include <pthread.h>
#include <stdlib.h>

#include "web/rest_monitor.h"
#include "web/web_int.h"

static pthread_mutex_t hooks_mu = PTHREAD_MUTEX_INITIALIZER;
static web_monitor_hooks_t hooks;
static bool installed;

void web_monitor_install(const web_monitor_hooks_t *h)
{
  pthread_mutex_lock(&hooks_mu);
  installed = h != NULL;
  if (h)
    hooks = *h;
  pthread_mutex_unlock(&hooks_mu);
}

bool web__monitor_active(void)
{
  pthread_mutex_lock(&hooks_mu);
  bool on = installed;
  pthread_mutex_unlock(&hooks_mu);
  return on;
}

bool web__monitor_health(json_t *checks)
{
  bool degraded = false;
  pthread_mutex_lock(&hooks_mu);
  if (installed && hooks.health)
    degraded = hooks.health(hooks.arg, checks);
  pthread_mutex_unlock(&hooks_mu);
  return degraded;
}

int web__monitor_metrics(web_buf_t *b)
{
  size_t len = 0;
  char *text = NULL;
  pthread_mutex_lock(&hooks_mu);
  if (installed && hooks.metrics)
    text = hooks.metrics(hooks.arg, &len);
  pthread_mutex_unlock(&hooks_mu);
  int rc = text && len ? web__buf_add(b, text, len) : 0;
  free(text);
  return rc;
}

/* A JSON hook's answer, or 503 when no monitor runs. */
static void answer(http_req_t *r, json_t *(*const *slot)(void *))
{
  json_t *body = NULL;
  bool have = false;
  pthread_mutex_lock(&hooks_mu);
  if (installed && *slot) {
    have = true;
    body = (*slot)(hooks.arg);
  }
  pthread_mutex_unlock(&hooks_mu);
  if (!have) {
    web_err_t e;
    web__err(&e, 503, "unavailable", "no monitor is running");
    web__http_error(r, &e);
    return;
  }
  web__http_json(r, body ? 200 : 500, body);
}

void web__rest_dora(web_t *w, http_req_t *r)
{
  (void)w;
  answer(r, &hooks.dora);
}

void web__rest_monitor(web_t *w, http_req_t *r)
{
  (void)w;
  answer(r, &hooks.summary);
}
