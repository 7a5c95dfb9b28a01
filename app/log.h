/*
 * log.h: the daemon's structured log (app/ only), one line per record on
 * stderr (or the fd tests give), in logfmt or JSON lines:
 *
 *   ts=2026-11-24T19:40:00.123Z level=info event=serve.up msg="..." k=v
 *   {"ts":"...","level":"info","event":"serve.up","msg":"...","k":"v"}
 *
 * `event` is a stable dotted name (what happened), `msg` a sentence for
 * people, then optional key=value fields. Records below the level are
 * dropped before they are formatted.
 *
 * Secrets: the values the daemon knows to be secret (the control-plane
 * token, the GitHub token, the webhook secrets) are registered with
 * app_log_secret_add(); any occurrence of one in a finished line is
 * replaced by "[redacted]" before the line is written, whoever built it.
 * Nothing else is inspected: callers still never pass secrets on purpose.
 *
 * Threading: any thread. A line is formatted into a local buffer and
 * written with one write(2) (lines of up to LOG_LINE_MAX bytes never
 * interleave); the level is an atomic; the secret list and the output
 * are guarded by a mutex.
 */
#ifndef APP_LOG_H
#define APP_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum app_log_level {
  APP_LOG_DEBUG,
  APP_LOG_INFO,
  APP_LOG_WARN,
  APP_LOG_ERROR,
} app_log_level_t;

typedef enum app_log_format {
  APP_LOG_LOGFMT,
  APP_LOG_JSON,
} app_log_format_t;

/* One record is at most this long (a longer msg is cut, marked "..."):
 * a line is one write(2), so lines from threads never interleave. */
#define LOG_LINE_MAX 4096

/** "debug", "info", "warn", "error" -> *out. @return 0, or -1 (unknown;
 * *out untouched). "warning" is taken for "warn". */
int app_log_level_parse(const char *name, app_log_level_t *out);
/** The name of @p lvl ("info"); "?" when out of range. */
const char *app_log_level_name(app_log_level_t lvl);
/** "logfmt" or "json" -> *out. @return 0 or -1. */
int app_log_format_parse(const char *name, app_log_format_t *out);

void app_log_set_level(app_log_level_t lvl);
app_log_level_t app_log_get_level(void);
void app_log_set_format(app_log_format_t fmt);
/** Write to @p fd instead of 2 (tests); -1 goes back to stderr. */
void app_log_set_fd(int fd);
/** Would a record at @p lvl be written? */
bool app_log_enabled(app_log_level_t lvl);

/**
 * Register a secret value: it never appears in a line written after this
 * call (replaced by "[redacted]"). NULL or "" is ignored; the value is
 * copied. @return 0, or -1 when out of memory or past 16 secrets (then
 * the caller must not log at all what it meant to protect).
 */
int app_log_secret_add(const char *value);
/** Forget every registered secret (the copies are wiped). */
void app_log_secrets_clear(void);

/**
 * Write a record: @p event (dotted, no spaces), a printf-formatted msg.
 */
void app_log(app_log_level_t lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Write a record with fields: @p msg, then NULL-terminated pairs of
 * const char * key, value (a NULL value is written as an empty string).
 */
void app_log_kv(app_log_level_t lvl, const char *event, const char *msg,
                ...) __attribute__((sentinel));

#endif /* APP_LOG_H */
