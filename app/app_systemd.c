/*
 * app_systemd.c: sd_notify for `ccm serve` (design note: app_systemd.h).
 * A failed notification is logged at debug level and otherwise ignored:
 * a daemon run by hand has no manager to tell.
 */
#include <systemd/sd-daemon.h>

#include "app/app_systemd.h"
#include "app/log.h"

static void notify(const char *state, const char *status)
{
  int rc = status ? sd_notifyf(0, "%s\nSTATUS=%s", state, status)
                  : sd_notify(0, state);
  if (rc < 0)
    app_log(APP_LOG_DEBUG, "systemd.notify_failed", "sd_notify %s: error %d",
            state, rc);
}

void app_sd_ready(const char *status) { notify("READY=1", status); }
void app_sd_reloading(const char *status) { notify("RELOADING=1", status); }
void app_sd_stopping(const char *status) { notify("STOPPING=1", status); }
void app_sd_watchdog(void) { notify("WATCHDOG=1", NULL); }

uint64_t app_sd_watchdog_interval_ms(void)
{
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0)
    return 0;
  uint64_t half = usec / 2000;
  return half ? half : 1;
}
