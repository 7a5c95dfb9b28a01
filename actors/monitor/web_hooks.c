/*
 * web_hooks.c: the monitor behind the control plane's hooks
 * (web/rest_monitor.h). A library of its own (ccmmonitorweb), so that the
 * monitor proper does not link the web server; `ccm serve` and the tests
 * install the same adapters.
 */
#include "actors/monitor/monitor_web.h"
#include "web/rest_monitor.h"

static bool hook_health(void *arg, json_t *checks)
{
  return monitor_health(arg, checks);
}

static char *hook_metrics(void *arg, size_t *len)
{
  return monitor_metrics_text(arg, len);
}

static json_t *hook_dora(void *arg) { return monitor_dora_json(arg); }
static json_t *hook_summary(void *arg) { return monitor_summary_json(arg); }

void monitor_web_install(monitor_t *m)
{
  if (!m) {
    web_monitor_install(NULL);
    return;
  }
  web_monitor_hooks_t h = {hook_health, hook_metrics, hook_dora,
                           hook_summary, m};
  web_monitor_install(&h);
}
