/*
 * stream.h: read Claude Code's stream-json output and classify a run.
 *
 * `claude -p --output-format stream-json --verbose` writes one JSON object
 * per line: {"type":"system","subtype":"init",...} first, then
 * "assistant" messages (text and tool_use blocks), "user" messages
 * (tool_result blocks), "rate_limit_event"s, and last one "result"
 * ({"subtype":"success"|"error_max_turns"|"error_max_budget_usd"|
 * "error_during_execution", "is_error", "num_turns", "total_cost_usd",
 * "usage", "session_id", "permission_denials", ...}). The exit code is 1
 * for every failure, so the outcome is read from the stream.
 *
 * The reader is tolerant: a line that is not JSON, not an object, has no
 * "type", has an unknown type, was cut at the line cap, or carries fields
 * of unexpected types is counted and otherwise ignored. Nothing in a line
 * can make it fail or allocate without bound (strings kept are capped).
 *
 * Threading: none; one reader per run.
 */
#ifndef CCM_EXEC_STREAM_H
#define CCM_EXEC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "actors/executor/proc.h"

/* Outcome classes: the one table (name, transient: worth a retry). */
#define EXEC_CLASS_MAP(XX)                                                  \
  XX(SUCCESS, "success", false)                                            \
  XX(MAX_TURNS, "max_turns", false)                                        \
  XX(MAX_BUDGET, "max_budget", false)                                      \
  XX(ERROR, "error", true)                                                 \
  XX(USAGE_LIMIT, "usage_limit", false)                                    \
  XX(STALL, "stall", true)                                                 \
  XX(TIMEOUT, "timeout", false)                                            \
  XX(CRASH, "crash", true)                                                 \
  XX(CANCELLED, "cancelled", false)                                        \
  XX(DELEGATED, "delegated", false) /* github-mention: handed over */

typedef enum exec_class {
#define EXEC_CLASS_ENUM(name, str, transient) EXEC_CLASS_##name,
  EXEC_CLASS_MAP(EXEC_CLASS_ENUM)
#undef EXEC_CLASS_ENUM
  EXEC_CLASS_COUNT
} exec_class_t;

/** "success", "max_turns", ... (static); "unknown" out of range. */
const char *exec_class_name(exec_class_t c);
/** The class named @p name, or -1. */
int exec_class_from_name(const char *name);
/** True for classes worth a retry with backoff (error, stall, crash). */
bool exec_class_transient(exec_class_t c);

/* What a line turned out to be. */
typedef enum exec_event {
  EXEC_EV_NOT_JSON = 0, /* not JSON, not an object, or cut at the cap */
  EXEC_EV_SYSTEM,
  EXEC_EV_ASSISTANT,
  EXEC_EV_USER,
  EXEC_EV_RATE_LIMIT,
  EXEC_EV_RESULT,
  EXEC_EV_OTHER, /* an object with an unknown or missing type */
} exec_event_t;

#define EXEC_STREAM_TEXT_MAX 1024 /* result/error text kept, bytes */
#define EXEC_STREAM_DENIALS_MAX 32 /* permission denials kept */

typedef struct exec_stream {
  /* read-only: counts */
  uint64_t lines, events, not_json, oversized, unknown;
  uint64_t assistant_messages, tool_uses, tool_results;
  /* read-only: from system/init and the result */
  char session_id[64];
  char model[96];
  bool have_result;
  char subtype[48];     /* the result's subtype */
  bool is_error;        /* the result's is_error */
  uint32_t turns;       /* num_turns */
  bool cost_known;
  double cost_usd;      /* total_cost_usd */
  uint64_t tokens_in, tokens_out, tokens_cache_read, tokens_cache_write;
  json_t *denials;      /* array of tool names (owned), capped */
  uint32_t denial_count;
  char text[EXEC_STREAM_TEXT_MAX]; /* result text or first error, cut */
  /* read-only: usage limit */
  bool limit_rejected;
  int64_t resets_at;    /* unix seconds; 0 unknown */
  char limit_type[32];
} exec_stream_t;

void exec_stream_init(exec_stream_t *s);
void exec_stream_fini(exec_stream_t *s);

/** Read one line (flags from lines.h). Never fails. */
exec_event_t exec_stream_feed(exec_stream_t *s, const char *line, size_t len,
                              unsigned flags);

/* How the process ended, for exec_classify(). */
typedef struct exec_end {
  exec_kill_reason_t killed;
  int exit_code;       /* -1 when a signal ended it */
  int term_signal;
  bool json_required;  /* claude-code: no result line means a crash */
  uint64_t idle_ms, wall_ms; /* the limits, for the sentence */
  const char *stderr_tail;   /* last stderr line, may be NULL */
} exec_end_t;

/**
 * Classify a finished run. Order: a result with subtype "success" and
 * is_error false is a success; then a usage limit (a rate_limit_event with
 * status "rejected" or "exceeded", or a result saying "usage limit
 * reached"); then the result's subtype (max turns, max budget, anything
 * else an error); then, without a result, how the process was stopped
 * (cancel, idle: stall, wall: timeout); then a crash when a result was
 * required, else the exit code (0 success, other error).
 * @param reason  receives one sentence for the task's history.
 */
exec_class_t exec_classify(const exec_stream_t *s, const exec_end_t *end,
                           char *reason, size_t rlen);

/**
 * Copy @p len bytes of agent output into @p out (capacity @p cap >= 4) as
 * valid UTF-8 without NUL bytes: each invalid byte becomes '?', and the
 * copy is cut at a character boundary to fit. @return bytes written
 * (out is NUL-terminated).
 */
size_t exec_text_clean(const char *in, size_t len, char *out, size_t cap);

#endif /* CCM_EXEC_STREAM_H */
