/*
 * app_systemd.h: `ccm serve` under systemd (Type=notify, app/ only).
 *
 * The daemon tells the service manager, through libsystemd's sd_notify
 * (a datagram to $NOTIFY_SOCKET; nothing happens when it is unset):
 *   READY=1 + STATUS=...   once the control plane listens (and again after
 *                          each reload, applied or refused)
 *   RELOADING=1            when a SIGHUP reload begins
 *   WATCHDOG=1             every half of $WATCHDOG_USEC while healthy
 *   STOPPING=1             when a stop signal arrived, before shutdown
 * packaging/ccm.service is the unit; docs/operations.md the operator's
 * view. Main thread only.
 */
#ifndef APP_APP_SYSTEMD_H
#define APP_APP_SYSTEMD_H

#include <stdint.h>

/** READY=1 with "STATUS=@p status". */
void app_sd_ready(const char *status);
/** RELOADING=1 with "STATUS=@p status". */
void app_sd_reloading(const char *status);
/** STOPPING=1 with "STATUS=@p status". */
void app_sd_stopping(const char *status);
/** WATCHDOG=1. */
void app_sd_watchdog(void);
/** How often to send WATCHDOG=1, in ms: half of $WATCHDOG_USEC when the
 * manager watches this process ($WATCHDOG_PID unset or ours), else 0. */
uint64_t app_sd_watchdog_interval_ms(void);

#endif /* APP_APP_SYSTEMD_H */
