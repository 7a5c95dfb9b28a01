/*
 * log.c: the daemon's structured log (design note: log.h).
 *
 * A record is built in a stack buffer: the fixed head (ts, level, event),
 * msg, then the fields. Every value is redacted (registered secrets
 * replaced) before it is escaped, so a secret is recognised however the
 * format would quote it. The finished line goes out in one write(2).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/log.h"

/* More secrets than this means something registers per request; the
 * daemon has four kinds. */
#define SECRETS_MAX 16
#define REDACTED "[redacted]"

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static struct {
  _Atomic int level;
  _Atomic int format;
  _Atomic int fd; /* -1: stderr */
  pthread_mutex_t lock;
  char *secret[SECRETS_MAX];
  size_t nsecrets;
} lg = {.level = APP_LOG_INFO, .format = APP_LOG_LOGFMT, .fd = -1,
        .lock = PTHREAD_MUTEX_INITIALIZER};

int app_log_level_parse(const char *name, app_log_level_t *out)
{
  for (int i = 0; name && i <= APP_LOG_ERROR; i++)
    if (!strcmp(name, level_names[i])) {
      *out = (app_log_level_t)i;
      return 0;
    }
  if (name && !strcmp(name, "warning")) {
    *out = APP_LOG_WARN;
    return 0;
  }
  return -1;
}

const char *app_log_level_name(app_log_level_t lvl)
{
  return (unsigned)lvl <= APP_LOG_ERROR ? level_names[lvl] : "?";
}

int app_log_format_parse(const char *name, app_log_format_t *out)
{
  if (name && !strcmp(name, "logfmt"))
    *out = APP_LOG_LOGFMT;
  else if (name && !strcmp(name, "json"))
    *out = APP_LOG_JSON;
  else
    return -1;
  return 0;
}

void app_log_set_level(app_log_level_t lvl) { lg.level = (int)lvl; }
app_log_level_t app_log_get_level(void) { return (app_log_level_t)lg.level; }
void app_log_set_format(app_log_format_t fmt) { lg.format = (int)fmt; }
void app_log_set_fd(int fd) { lg.fd = fd; }

bool app_log_enabled(app_log_level_t lvl) { return (int)lvl >= lg.level; }

int app_log_secret_add(const char *value)
{
  if (!value || !*value)
    return 0;
  int rc = -1;
  pthread_mutex_lock(&lg.lock);
  for (size_t i = 0; i < lg.nsecrets; i++)
    if (!strcmp(lg.secret[i], value)) {
      rc = 0; /* already known */
      goto out;
    }
  if (lg.nsecrets < SECRETS_MAX && (lg.secret[lg.nsecrets] = strdup(value))) {
    lg.nsecrets++;
    rc = 0;
  }
out:
  pthread_mutex_unlock(&lg.lock);
  return rc;
}

void app_log_secrets_clear(void)
{
  pthread_mutex_lock(&lg.lock);
  for (size_t i = 0; i < lg.nsecrets; i++) {
    /* volatile: the wipe must not be optimised away before free. */
    volatile char *p = lg.secret[i];
    while (*p)
      *p++ = 0;
    free(lg.secret[i]);
    lg.secret[i] = NULL;
  }
  lg.nsecrets = 0;
  pthread_mutex_unlock(&lg.lock);
}

/* ------------------------------------------------------------ the line */

typedef struct line {
  char p[LOG_LINE_MAX];
  size_t len;
  bool cut;
} line_t;

/* Room kept at the end of every line for what closes it: a quote, the
 * "truncated" field, "}\n". Values are cut before they reach it. */
#define LINE_RESERVE 64

static bool room_for(const line_t *l, size_t n)
{
  return l->len + n + LINE_RESERVE <= sizeof(l->p);
}

/* Append @p n bytes; only ever called within the room checked by the
 * caller or inside the reserve (the clamp is a last resort). */
static void put_mem(line_t *l, const char *s, size_t n)
{
  if (n > sizeof(l->p) - 1 - l->len)
    n = sizeof(l->p) - 1 - l->len;
  memcpy(l->p + l->len, s, n);
  l->len += n;
}

static void put(line_t *l, const char *s) { put_mem(l, s, strlen(s)); }

/* Copy @p in into @p out with every registered secret replaced. The
 * caller holds lg.lock. */
static void redact(const char *in, char *out, size_t cap)
{
  size_t o = 0;
  while (*in && o + 1 < cap) {
    size_t hit = 0;
    for (size_t i = 0; i < lg.nsecrets && !hit; i++) {
      size_t n = strlen(lg.secret[i]);
      if (!strncmp(in, lg.secret[i], n))
        hit = n;
    }
    if (hit) {
      size_t k = strlen(REDACTED);
      if (o + k >= cap)
        break;
      memcpy(out + o, REDACTED, k);
      o += k;
      in += hit;
    } else {
      out[o++] = *in++;
    }
  }
  out[o] = '\0';
}

static bool logfmt_bare(const char *s)
{
  if (!*s)
    return false;
  for (; *s; s++)
    if ((unsigned char)*s <= ' ' || *s == '"' || *s == '=' || *s == '\\' ||
        (unsigned char)*s == 0x7f)
      return false;
  return true;
}

/* Append @p s quoted: "...", with \" \\ \n \r \t and other control
 * characters as \u00XX (JSON) or \xXX (logfmt). A value that does not
 * fit is cut, ends in "...", and marks the line cut. */
static void put_quoted(line_t *l, const char *s, bool json)
{
  put(l, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[8] = {(char)c, 0};
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      esc[2] = '\0';
    } else if (c == '\n' || c == '\r' || c == '\t') {
      snprintf(esc, sizeof esc, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r'
                                                                    : 't');
    } else if (c < 0x20 || c == 0x7f) {
      snprintf(esc, sizeof esc, json ? "\\u%04x" : "\\x%02x", c);
    }
    if (!room_for(l, strlen(esc) + 4)) {
      put(l, "...");
      l->cut = true;
      break;
    }
    put(l, esc);
  }
  put(l, "\"");
}

/* One key and its value, redacted, in the line's format (skipped, and
 * the line marked cut, when not even the key fits). */
static void put_field(line_t *l, const char *key, const char *value,
                      bool json)
{
  char clean[LOG_LINE_MAX];
  redact(value ? value : "", clean, sizeof clean);
  if (!room_for(l, strlen(key) + 8)) {
    l->cut = true;
    return;
  }
  if (json) {
    put(l, l->len > 1 ? ",\"" : "\"");
    put(l, key);
    put(l, "\":");
    put_quoted(l, clean, true);
    return;
  }
  if (l->len)
    put(l, " ");
  put(l, key);
  put(l, "=");
  if (logfmt_bare(clean) && room_for(l, strlen(clean)))
    put(l, clean);
  else
    put_quoted(l, clean, false);
}

static void now_iso(char *buf, size_t cap)
{
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
           tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static void emit(line_t *l)
{
  int fd = lg.fd >= 0 ? lg.fd : STDERR_FILENO;
  size_t off = 0;
  while (off < l->len) {
    ssize_t n = write(fd, l->p + off, l->len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return; /* a log that cannot be written is dropped, never retried */
    off += (size_t)n;
  }
}

/* Write the record; lg.lock is held by the caller (secrets, one writer). */
static void record(app_log_level_t lvl, const char *event, const char *msg,
                   va_list *kv)
{
  bool json = lg.format == APP_LOG_JSON;
  line_t l = {.len = 0};
  char ts[80];
  now_iso(ts, sizeof ts);
  if (json)
    put(&l, "{");
  put_field(&l, "ts", ts, json);
  put_field(&l, "level", app_log_level_name(lvl), json);
  put_field(&l, "event", event, json);
  put_field(&l, "msg", msg, json);
  for (const char *k; kv && (k = va_arg(*kv, const char *));) {
    const char *v = va_arg(*kv, const char *);
    put_field(&l, k, v, json);
  }
  if (l.cut) /* inside the reserve */
    put(&l, json ? ",\"truncated\":\"true\"" : " truncated=true");
  if (json)
    put(&l, "}");
  put(&l, "\n");
  emit(&l);
}

void app_log(app_log_level_t lvl, const char *event, const char *fmt, ...)
{
  if (!app_log_enabled(lvl))
    return;
  char msg[LOG_LINE_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&lg.lock);
  record(lvl, event, msg, NULL);
  pthread_mutex_unlock(&lg.lock);
}

void app_log_kv(app_log_level_t lvl, const char *event, const char *msg, ...)
{
  if (!app_log_enabled(lvl))
    return;
  va_list ap;
  va_start(ap, msg);
  pthread_mutex_lock(&lg.lock);
  record(lvl, event, msg, &ap);
  pthread_mutex_unlock(&lg.lock);
  va_end(ap);
}
