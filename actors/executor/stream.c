/*
 * stream.c: see stream.h. Each line is parsed on its own with jansson
 * (which also rejects invalid UTF-8); fields are read with type checks,
 * so a field of an unexpected type reads as absent.
 */
#include "actors/executor/stream.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
  const char *name;
  bool transient;
} classes[] = {
#define EXEC_CLASS_ROW(name, str, transient) {str, transient},
    EXEC_CLASS_MAP(EXEC_CLASS_ROW)
#undef EXEC_CLASS_ROW
};

const char *exec_class_name(exec_class_t c)
{
  return (unsigned)c < EXEC_CLASS_COUNT ? classes[c].name : "unknown";
}

int exec_class_from_name(const char *name)
{
  for (int i = 0; name && i < EXEC_CLASS_COUNT; i++)
    if (strcmp(classes[i].name, name) == 0)
      return i;
  return -1;
}

bool exec_class_transient(exec_class_t c)
{
  return (unsigned)c < EXEC_CLASS_COUNT && classes[c].transient;
}

void exec_stream_init(exec_stream_t *s)
{
  memset(s, 0, sizeof *s);
  s->denials = json_array();
}

void exec_stream_fini(exec_stream_t *s)
{
  json_decref(s->denials);
  s->denials = NULL;
}

/* ----------------------------------------------------------- field reads */

static const char *str_field(const json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key)); /* NULL unless a string */
}

static uint64_t count_field(const json_t *o, const char *key)
{
  json_t *v = json_object_get(o, key);
  if (json_is_integer(v))
    return json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
  if (json_is_real(v) && json_real_value(v) > 0 && isfinite(json_real_value(v)))
    return (uint64_t)json_real_value(v);
  return 0;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
  if (src)
    exec_text_clean(src, strlen(src), dst, cap);
}

static void read_usage(exec_stream_t *s, const json_t *usage, bool add)
{
  if (!json_is_object(usage))
    return;
  uint64_t in = count_field(usage, "input_tokens");
  uint64_t out = count_field(usage, "output_tokens");
  uint64_t cr = count_field(usage, "cache_read_input_tokens");
  uint64_t cw = count_field(usage, "cache_creation_input_tokens");
  if (!add)
    s->tokens_in = s->tokens_out = s->tokens_cache_read =
        s->tokens_cache_write = 0;
  s->tokens_in += in;
  s->tokens_out += out;
  s->tokens_cache_read += cr;
  s->tokens_cache_write += cw;
}

/* ------------------------------------------------------------ the events */

static void on_system(exec_stream_t *s, const json_t *ev)
{
  const char *sub = str_field(ev, "subtype");
  if (!sub || strcmp(sub, "init") != 0)
    return;
  copy_str(s->session_id, sizeof s->session_id, str_field(ev, "session_id"));
  copy_str(s->model, sizeof s->model, str_field(ev, "model"));
}

/* Count the content blocks of a message of @p kind ("tool_use" or
 * "tool_result"). */
static uint64_t count_blocks(const json_t *ev, const char *kind)
{
  const json_t *content = json_object_get(json_object_get(ev, "message"),
                                          "content");
  size_t i;
  json_t *b;
  uint64_t n = 0;
  if (!json_is_array(content))
    return 0;
  json_array_foreach(content, i, b) {
    const char *t = str_field(b, "type");
    n += t && strcmp(t, kind) == 0;
  }
  return n;
}

static void on_assistant(exec_stream_t *s, const json_t *ev)
{
  s->assistant_messages++;
  s->tool_uses += count_blocks(ev, "tool_use");
  if (!s->have_result) /* the result's totals win once it comes */
    read_usage(s, json_object_get(json_object_get(ev, "message"), "usage"),
               true);
}

static bool limit_status_rejected(const char *status)
{
  return status &&
         (strcmp(status, "rejected") == 0 || strcmp(status, "exceeded") == 0);
}

static void on_rate_limit(exec_stream_t *s, const json_t *ev)
{
  const json_t *info = json_object_get(ev, "rate_limit_info");
  if (!limit_status_rejected(str_field(info, "status")))
    return;
  s->limit_rejected = true;
  uint64_t at = count_field(info, "resetsAt");
  if (at)
    s->resets_at = (int64_t)at;
  copy_str(s->limit_type, sizeof s->limit_type, str_field(info, "rateLimitType"));
}

static void read_denials(exec_stream_t *s, const json_t *list)
{
  size_t i;
  json_t *d;
  if (!json_is_array(list))
    return;
  json_array_foreach(list, i, d) {
    s->denial_count++;
    const char *tool = str_field(d, "tool_name");
    if (tool && json_array_size(s->denials) < EXEC_STREAM_DENIALS_MAX) {
      char clean[128];
      copy_str(clean, sizeof clean, tool);
      json_array_append_new(s->denials, json_string(clean));
    }
  }
}

#define USAGE_LIMIT_TEXT "usage limit reached"

/* An error result "Claude AI usage limit reached|1893456000" (older CLIs
 * say it this way): a usage limit, with the reset time after '|'. */
static void text_usage_limit(exec_stream_t *s)
{
  const char *hit = strstr(s->text, USAGE_LIMIT_TEXT);
  if (!s->is_error || !hit)
    return;
  s->limit_rejected = true;
  const char *bar = strchr(hit, '|');
  if (bar && strtoll(bar + 1, NULL, 10) > 0)
    s->resets_at = strtoll(bar + 1, NULL, 10);
}

static void on_result(exec_stream_t *s, const json_t *ev)
{
  const json_t *cost = json_object_get(ev, "total_cost_usd");
  s->have_result = true;
  copy_str(s->subtype, sizeof s->subtype, str_field(ev, "subtype"));
  s->is_error = json_is_true(json_object_get(ev, "is_error"));
  s->turns = (uint32_t)count_field(ev, "num_turns");
  if (json_is_number(cost) && isfinite(json_number_value(cost)) &&
      json_number_value(cost) >= 0) {
    s->cost_known = true;
    s->cost_usd = json_number_value(cost);
  }
  read_usage(s, json_object_get(ev, "usage"), false);
  if (str_field(ev, "session_id") && !s->session_id[0])
    copy_str(s->session_id, sizeof s->session_id, str_field(ev, "session_id"));
  read_denials(s, json_object_get(ev, "permission_denials"));
  const char *text = str_field(ev, "result");
  const json_t *errors = json_object_get(ev, "errors");
  if (!text && json_is_array(errors))
    text = json_string_value(json_array_get(errors, 0));
  copy_str(s->text, sizeof s->text, text);
  text_usage_limit(s);
}

exec_event_t exec_stream_feed(exec_stream_t *s, const char *line, size_t len,
                              unsigned flags)
{
  s->lines++;
  if (flags & EXEC_LINE_TRUNCATED) {
    s->oversized++;
    return EXEC_EV_NOT_JSON;
  }
  json_t *ev = json_loadb(line, len, JSON_DECODE_ANY, NULL);
  if (!json_is_object(ev)) {
    json_decref(ev);
    s->not_json++;
    return EXEC_EV_NOT_JSON;
  }
  s->events++;
  const char *type = str_field(ev, "type");
  exec_event_t kind = EXEC_EV_OTHER;
  if (!type)
    kind = EXEC_EV_OTHER;
  else if (strcmp(type, "system") == 0)
    kind = (on_system(s, ev), EXEC_EV_SYSTEM);
  else if (strcmp(type, "assistant") == 0)
    kind = (on_assistant(s, ev), EXEC_EV_ASSISTANT);
  else if (strcmp(type, "user") == 0)
    kind = (s->tool_results += count_blocks(ev, "tool_result"), EXEC_EV_USER);
  else if (strcmp(type, "rate_limit_event") == 0)
    kind = (on_rate_limit(s, ev), EXEC_EV_RATE_LIMIT);
  else if (strcmp(type, "result") == 0)
    kind = (on_result(s, ev), EXEC_EV_RESULT);
  if (kind == EXEC_EV_OTHER)
    s->unknown++;
  json_decref(ev);
  return kind;
}

/* --------------------------------------------------------- classification */

static void format_time(int64_t unix_s, char *buf, size_t cap)
{
  time_t t = (time_t)unix_s;
  struct tm tm;
  if (unix_s <= 0 || !gmtime_r(&t, &tm) ||
      strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, cap, "an unknown time");
}

static exec_class_t classify_result(const exec_stream_t *s, char *reason,
                                    size_t rlen)
{
  if (strcmp(s->subtype, "error_max_turns") == 0) {
    snprintf(reason, rlen, "max turns reached after %" PRIu32 " turns",
             s->turns);
    return EXEC_CLASS_MAX_TURNS;
  }
  if (strcmp(s->subtype, "error_max_budget_usd") == 0) {
    snprintf(reason, rlen, "budget reached: $%.4f spent", s->cost_usd);
    return EXEC_CLASS_MAX_BUDGET;
  }
  snprintf(reason, rlen, "agent error (%s%s): %.300s",
           s->subtype[0] ? s->subtype : "no subtype",
           s->is_error ? ", is_error" : "", s->text[0] ? s->text : "-");
  return EXEC_CLASS_ERROR;
}

static exec_class_t classify_stop(const exec_stream_t *s,
                                  const exec_end_t *end, char *reason,
                                  size_t rlen)
{
  const char *tail = end->stderr_tail && end->stderr_tail[0]
                         ? end->stderr_tail : NULL;
  switch (end->killed) {
  case EXEC_KILL_CANCEL:
    snprintf(reason, rlen, "cancelled");
    return EXEC_CLASS_CANCELLED;
  case EXEC_KILL_IDLE:
    snprintf(reason, rlen, "stalled: no output for %" PRIu64 " ms, killed",
             end->idle_ms);
    return EXEC_CLASS_STALL;
  case EXEC_KILL_WALL:
    snprintf(reason, rlen, "timed out after %" PRIu64 " ms, killed",
             end->wall_ms);
    return EXEC_CLASS_TIMEOUT;
  default:
    break;
  }
  if (!end->json_required && end->exit_code == 0) {
    snprintf(reason, rlen, "agent exited with status 0");
    return EXEC_CLASS_SUCCESS;
  }
  char how[48];
  if (end->exit_code >= 0)
    snprintf(how, sizeof how, "exit status %d", end->exit_code);
  else
    snprintf(how, sizeof how, "signal %d", end->term_signal);
  if (!end->json_required && end->exit_code > 0) {
    snprintf(reason, rlen, "agent failed with %s%s%.300s", how,
             tail ? ": " : "", tail ? tail : "");
    return EXEC_CLASS_ERROR;
  }
  snprintf(reason, rlen, "crashed: %s without a result line (%" PRIu64
           " lines)%s%.300s", how, s->lines, tail ? ": " : "",
           tail ? tail : "");
  return EXEC_CLASS_CRASH;
}

exec_class_t exec_classify(const exec_stream_t *s, const exec_end_t *end,
                           char *reason, size_t rlen)
{
  char when[40];
  if (s->have_result && strcmp(s->subtype, "success") == 0 && !s->is_error) {
    snprintf(reason, rlen, "success: %" PRIu32 " turns, $%.4f", s->turns,
             s->cost_usd);
    return EXEC_CLASS_SUCCESS;
  }
  if (s->limit_rejected) {
    format_time(s->resets_at, when, sizeof when);
    snprintf(reason, rlen, "usage limit%s%s: paused until %s",
             s->limit_type[0] ? " " : "", s->limit_type, when);
    return EXEC_CLASS_USAGE_LIMIT;
  }
  if (s->have_result)
    return classify_result(s, reason, rlen);
  return classify_stop(s, end, reason, rlen);
}

/* ------------------------------------------------------------ clean text */

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
  unsigned c = p[0];
  size_t n;
  unsigned min;
  if (c < 0x80)
    return c ? 1 : 0;
  if ((c & 0xE0) == 0xC0)
    n = 2, min = 0x80;
  else if ((c & 0xF0) == 0xE0)
    n = 3, min = 0x800;
  else if ((c & 0xF8) == 0xF0)
    n = 4, min = 0x10000;
  else
    return 0;
  if (left < n)
    return 0;
  unsigned cp = c & (0x7F >> n);
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

size_t exec_text_clean(const char *in, size_t len, char *out, size_t cap)
{
  const unsigned char *p = (const unsigned char *)in;
  size_t i = 0, o = 0;
  if (!cap)
    return 0;
  while (i < len) {
    size_t n = utf8_seq(p + i, len - i);
    size_t w = n ? n : 1;
    if (o + w >= cap)
      break;
    if (n)
      memcpy(out + o, p + i, n);
    else
      out[o] = '?';
    o += w;
    i += w;
  }
  out[o] = '\0';
  return o;
}
