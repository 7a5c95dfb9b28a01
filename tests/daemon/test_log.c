/*
 * test_log.c: the daemon's structured log (app/log.h).
 *
 * Contract checked: records below the level are dropped; a logfmt record
 * is `ts=... level=... event=... msg=...` then the fields, with values
 * quoted and escaped exactly when they need it; a JSON record parses as
 * one object with those keys; a registered secret never appears in a
 * written line, whether it is in the message, in a field, or next to
 * characters the format escapes; forgetting the secrets shows values
 * again; a record longer than LOG_LINE_MAX is cut, marked, and still one
 * line (valid JSON in the JSON format); level names parse.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/log.h"

static int pipe_fd[2];

static void setup(void)
{
  cr_assert_eq(pipe2(pipe_fd, O_NONBLOCK), 0);
  app_log_set_fd(pipe_fd[1]);
  app_log_set_level(APP_LOG_INFO);
  app_log_set_format(APP_LOG_LOGFMT);
}

static void teardown(void)
{
  app_log_set_fd(-1);
  app_log_secrets_clear();
  close(pipe_fd[0]);
  close(pipe_fd[1]);
}

TestSuite(log, .init = setup, .fini = teardown, .timeout = 30);

/* Everything written so far (malloc'd, NUL-terminated). */
static char *drain(void)
{
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  ssize_t n;
  while ((n = read(pipe_fd[0], buf + len, cap - 1 - len)) > 0)
    len += (size_t)n;
  buf[len] = '\0';
  return buf;
}

static size_t count_lines(const char *s)
{
  size_t n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

Test(log, records_below_the_level_are_dropped)
{
  app_log(APP_LOG_DEBUG, "t.debug", "hidden");
  app_log(APP_LOG_INFO, "t.info", "shown");
  app_log_set_level(APP_LOG_ERROR);
  app_log(APP_LOG_WARN, "t.warn", "hidden too");
  app_log(APP_LOG_ERROR, "t.error", "shown too");
  char *out = drain();
  cr_assert_eq(count_lines(out), 2, "%s", out);
  cr_assert(strstr(out, "level=info event=t.info msg=shown\n"), "%s", out);
  cr_assert(strstr(out, "level=error event=t.error msg=\"shown too\"\n"),
            "%s", out);
  cr_assert_null(strstr(out, "hidden"), "%s", out);
  cr_assert(app_log_enabled(APP_LOG_ERROR));
  cr_assert_not(app_log_enabled(APP_LOG_WARN));
  free(out);
}

Test(log, logfmt_quotes_and_escapes_only_what_needs_it)
{
  app_log_kv(APP_LOG_WARN, "t.fields", "a \"quoted\" word", "bare", "abc/1:2",
             "space", "two words", "eq", "a=b", "nl", "line\nnext", "ctl",
             "\x01", "empty", "", "none", NULL, NULL);
  char *out = drain();
  cr_assert_eq(count_lines(out), 1, "%s", out);
  cr_assert(!strncmp(out, "ts=", 3), "%s", out);
  cr_assert(strstr(out, " level=warn event=t.fields msg=\"a \\\"quoted\\\" "
                        "word\" bare=abc/1:2 space=\"two words\" "
                        "eq=\"a=b\" nl=\"line\\nnext\" ctl=\"\\x01\" "
                        "empty=\"\" none=\"\"\n"),
            "%s", out);
  free(out);
}

Test(log, json_lines_parse_with_every_field)
{
  app_log_set_format(APP_LOG_JSON);
  app_log_kv(APP_LOG_ERROR, "t.json", "tab\there \"q\"", "k", "v\x02", NULL);
  app_log(APP_LOG_INFO, "t.json2", "n=%d", 42);
  char *out = drain();
  cr_assert_eq(count_lines(out), 2, "%s", out);
  char *second = strchr(out, '\n') + 1;
  json_error_t je;
  json_t *a = json_loadb(out, (size_t)(second - out), 0, &je);
  json_t *b = json_loads(second, 0, &je);
  cr_assert_not_null(a, "%s: %s", je.text, out);
  cr_assert_not_null(b, "%s: %s", je.text, second);
  cr_assert_str_eq(json_string_value(json_object_get(a, "level")), "error");
  cr_assert_str_eq(json_string_value(json_object_get(a, "event")), "t.json");
  cr_assert_str_eq(json_string_value(json_object_get(a, "msg")),
                   "tab\there \"q\"");
  cr_assert_str_eq(json_string_value(json_object_get(a, "k")), "v\x02");
  const char *ts = json_string_value(json_object_get(a, "ts"));
  cr_assert(ts && strlen(ts) == 24 && ts[10] == 'T' && ts[23] == 'Z', "%s",
            ts);
  cr_assert_str_eq(json_string_value(json_object_get(b, "msg")), "n=42");
  json_decref(a);
  json_decref(b);
  free(out);
}

Test(log, a_registered_secret_never_appears)
{
  const char *token = "ghp_" "Zq8sEcReT\"va=lue";
  cr_assert_eq(app_log_secret_add(token), 0);
  cr_assert_eq(app_log_secret_add(token), 0); /* twice: still one */
  cr_assert_eq(app_log_secret_add(NULL), 0);
  cr_assert_eq(app_log_secret_add(""), 0);
  app_log(APP_LOG_INFO, "t.msg", "Authorization: Bearer %s (twice: %s)",
          token, token);
  app_log_kv(APP_LOG_INFO, "t.kv", "in a field", "header", token, "glued",
             "x" "ghp_" "Zq8sEcReT\"va=lue" "y", NULL);
  app_log_set_format(APP_LOG_JSON);
  app_log_kv(APP_LOG_INFO, "t.json", token, "v", token, NULL);
  char *out = drain();
  cr_assert_eq(count_lines(out), 3, "%s", out);
  cr_assert_null(strstr(out, "Zq8sEcReT"), "%s", out);
  cr_assert(strstr(out, "Bearer [redacted] (twice: [redacted])"), "%s", out);
  cr_assert(strstr(out, "header=[redacted]"), "%s", out);
  cr_assert(strstr(out, "glued=x[redacted]y"), "%s", out);
  cr_assert(strstr(out, "\"v\":\"[redacted]\""), "%s", out);
  free(out);
  app_log_secrets_clear();
  app_log_set_format(APP_LOG_LOGFMT);
  app_log(APP_LOG_INFO, "t.after", "%s", "Zq8sEcReT");
  out = drain();
  cr_assert(strstr(out, "msg=Zq8sEcReT"), "cleared: shown again: %s", out);
  free(out);
}

Test(log, a_long_record_is_cut_and_stays_one_valid_line)
{
  char *big = malloc(3 * LOG_LINE_MAX);
  memset(big, 'x', 3 * LOG_LINE_MAX - 1);
  big[3 * LOG_LINE_MAX - 1] = '\0';
  app_log_set_format(APP_LOG_JSON);
  app_log_kv(APP_LOG_INFO, "t.big", "big", "v", big, NULL);
  char *out = drain();
  cr_assert_eq(count_lines(out), 1);
  cr_assert_leq(strlen(out), LOG_LINE_MAX);
  json_error_t je;
  json_t *j = json_loads(out, 0, &je);
  cr_assert_not_null(j, "cut JSON must still parse: %s", je.text);
  cr_assert_str_eq(json_string_value(json_object_get(j, "event")), "t.big");
  json_decref(j);
  free(out);
  free(big);
}

Test(log, level_and_format_names)
{
  app_log_level_t l = APP_LOG_ERROR;
  cr_assert_eq(app_log_level_parse("debug", &l), 0);
  cr_assert_eq(l, APP_LOG_DEBUG);
  cr_assert_eq(app_log_level_parse("warning", &l), 0);
  cr_assert_eq(l, APP_LOG_WARN);
  cr_assert_eq(app_log_level_parse("loud", &l), -1);
  cr_assert_eq(l, APP_LOG_WARN, "untouched on error");
  cr_assert_eq(app_log_level_parse(NULL, &l), -1);
  cr_assert_str_eq(app_log_level_name(APP_LOG_ERROR), "error");
  cr_assert_str_eq(app_log_level_name((app_log_level_t)9), "?");
  app_log_format_t f;
  cr_assert_eq(app_log_format_parse("json", &f), 0);
  cr_assert_eq(f, APP_LOG_JSON);
  cr_assert_eq(app_log_format_parse("xml", &f), -1);
}
