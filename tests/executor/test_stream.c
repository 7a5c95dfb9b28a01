/*
 * test_stream.c: the contract of actors/executor/stream.h, on the recorded
 * Claude Code transcripts of tests/data/agent/.
 *
 *  - every outcome class is read from the stream, not the exit code:
 *    success only with subtype "success" and is_error false (an API error
 *    reported as subtype success with is_error true is an error); max
 *    turns; max budget; error during execution; a rejected rate limit is a
 *    usage limit with its reset time (also when only the result text says
 *    so), while an "allowed" rate-limit event changes nothing;
 *  - without a result: cancel, idle kill (stall), wall kill (timeout),
 *    else a crash; a generic command without JSON events is judged by its
 *    exit status;
 *  - cost, turns, tokens, session id, model and permission denials are
 *    recorded;
 *  - garbage (non-JSON, ANSI escapes, arrays, invalid UTF-8, truncated
 *    JSON, unknown types, fields of the wrong type, cut lines) is counted
 *    and skipped without changing the verdict;
 *  - a transcript recorded from the real CLI (2.1.331, against the fake
 *    Messages API of fake_anthropic.mjs) reads as the success it was;
 *  - agent text is made valid UTF-8 without NUL bytes for republishing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/executor/lines.h"
#include "actors/executor/stream.h"
#include "tests/executor/exec_test.h"

TestSuite(stream, .timeout = 30, .fini = ext_leak_check);

static void feed_line(void *ud, int stream, const char *line, size_t len,
                      unsigned flags)
{
  (void)stream;
  exec_stream_feed(ud, line, len, flags);
}

/* Feed a transcript file through the line splitter into @p s. */
static void feed_file(exec_stream_t *s, const char *name)
{
  char *text = ext_read_file(ext_transcript(name));
  cr_assert_not_null(text, "transcript %s", name);
  exec_lines_t l;
  exec_lines_init(&l, 0);
  exec_lines_feed(&l, text, strlen(text), 0, feed_line, s);
  exec_lines_finish(&l, 0, feed_line, s);
  exec_lines_fini(&l);
  free(text);
}

static exec_class_t classify_file(const char *name, const exec_end_t *end,
                                  exec_stream_t *s, char *reason,
                                  size_t rlen)
{
  exec_stream_init(s);
  feed_file(s, name);
  return exec_classify(s, end, reason, rlen);
}

static const exec_end_t exit1 = {.exit_code = 1, .json_required = true};
static const exec_end_t exit0 = {.exit_code = 0, .json_required = true};

Test(stream, success_with_costs_tokens_and_session)
{
  exec_stream_t s;
  char why[512];
  cr_assert_eq(classify_file("success", &exit0, &s, why, sizeof why),
               EXEC_CLASS_SUCCESS, "%s", why);
  cr_assert_eq(s.turns, 3);
  cr_assert_float_eq(s.cost_usd, 0.0421, 1e-9);
  cr_assert(s.cost_known);
  cr_assert_eq(s.tokens_in, 3900);
  cr_assert_eq(s.tokens_out, 140);
  cr_assert_eq(s.tokens_cache_read, 2300);
  cr_assert_eq(s.tokens_cache_write, 512);
  cr_assert_str_eq(s.session_id, "{{SESSION_ID}}");
  cr_assert_str_eq(s.model, "claude-sonnet-4-5-20250929");
  cr_assert_eq(s.tool_uses, 2);
  cr_assert_eq(s.tool_results, 2);
  cr_assert_eq(s.denial_count, 0);
  cr_assert_not(s.limit_rejected, "an allowed rate-limit event is no limit");
  cr_assert_eq(s.not_json, 0);
  cr_assert(strstr(why, "3 turns"), "%s", why);
  exec_stream_fini(&s);
}

Test(stream, real_cli_transcript)
{
  exec_stream_t s;
  char why[512];
  cr_assert_eq(classify_file("real_claude_2.1.331", &exit0, &s, why,
                             sizeof why), EXEC_CLASS_SUCCESS, "%s", why);
  cr_assert_eq(s.turns, 2);
  cr_assert_float_eq(s.cost_usd, 0.00216, 1e-9);
  cr_assert_eq(s.tokens_in, 240);
  cr_assert_eq(s.tokens_out, 60);
  cr_assert_eq(s.tool_uses, 1);
  cr_assert_eq(s.tool_results, 1);
  cr_assert_eq(s.not_json + s.unknown, 0);
  exec_stream_fini(&s);
}

Test(stream, success_needs_a_result_not_exit_zero)
{
  exec_stream_t s;
  char why[512];
  cr_assert_eq(classify_file("crash", &exit0, &s, why, sizeof why),
               EXEC_CLASS_CRASH, "%s", why);
  cr_assert(strstr(why, "exit status 0"), "%s", why);
  exec_stream_fini(&s);
}

Test(stream, max_turns_with_permission_denials)
{
  exec_stream_t s;
  char why[512];
  cr_assert_eq(classify_file("max_turns", &exit1, &s, why, sizeof why),
               EXEC_CLASS_MAX_TURNS, "%s", why);
  cr_assert_eq(s.turns, 2);
  cr_assert_eq(s.denial_count, 1);
  cr_assert_str_eq(json_string_value(json_array_get(s.denials, 0)), "Bash");
  cr_assert_float_eq(s.cost_usd, 0.0187, 1e-9);
  exec_stream_fini(&s);
}

Test(stream, max_budget)
{
  exec_stream_t s;
  char why[512];
  cr_assert_eq(classify_file("max_budget", &exit1, &s, why, sizeof why),
               EXEC_CLASS_MAX_BUDGET, "%s", why);
  cr_assert_float_eq(s.cost_usd, 0.5312, 1e-9);
  cr_assert(strstr(why, "0.5312"), "%s", why);
  exec_stream_fini(&s);
}

Test(stream, error_during_execution)
{
  exec_stream_t s;
  char why[512];
  cr_assert_eq(classify_file("error", &exit1, &s, why, sizeof why),
               EXEC_CLASS_ERROR, "%s", why);
  cr_assert(strstr(why, "error_during_execution"), "%s", why);
  cr_assert(strstr(why, "Tool execution aborted"), "%s", why);
  cr_assert(exec_class_transient(EXEC_CLASS_ERROR));
  exec_stream_fini(&s);
}

Test(stream, success_subtype_with_is_error_is_an_error)
{
  exec_stream_t s;
  char why[512];
  cr_assert_eq(classify_file("error_api", &exit1, &s, why, sizeof why),
               EXEC_CLASS_ERROR, "%s", why);
  cr_assert(strstr(why, "API Error: 500"), "%s", why);
  exec_stream_fini(&s);
}

Test(stream, rejected_rate_limit_is_a_usage_limit)
{
  exec_stream_t s;
  char why[512];
  cr_assert_eq(classify_file("usage_limit", &exit1, &s, why, sizeof why),
               EXEC_CLASS_USAGE_LIMIT, "%s", why);
  cr_assert(s.limit_rejected);
  cr_assert_eq(s.resets_at, 1893456000);
  cr_assert_str_eq(s.limit_type, "five_hour");
  cr_assert(strstr(why, "2030-01-01T00:00:00Z"), "%s", why);
  cr_assert_not(exec_class_transient(EXEC_CLASS_USAGE_LIMIT));
  exec_stream_fini(&s);
}

Test(stream, usage_limit_from_the_result_text_alone)
{
  const char *line =
      "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,"
      "\"result\":\"Claude AI usage limit reached|1700000000\"}";
  exec_stream_t s;
  char why[512];
  exec_stream_init(&s);
  cr_assert_eq(exec_stream_feed(&s, line, strlen(line), 0), EXEC_EV_RESULT);
  cr_assert_eq(exec_classify(&s, &exit1, why, sizeof why),
               EXEC_CLASS_USAGE_LIMIT, "%s", why);
  cr_assert_eq(s.resets_at, 1700000000);
  exec_stream_fini(&s);
}

Test(stream, how_a_run_without_result_was_stopped)
{
  struct {
    exec_kill_reason_t killed;
    exec_class_t want;
  } cases[] = {{EXEC_KILL_CANCEL, EXEC_CLASS_CANCELLED},
               {EXEC_KILL_IDLE, EXEC_CLASS_STALL},
               {EXEC_KILL_WALL, EXEC_CLASS_TIMEOUT},
               {EXEC_KILL_NONE, EXEC_CLASS_CRASH}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    exec_stream_t s;
    char why[512];
    exec_end_t end = {.killed = cases[i].killed, .exit_code = -1,
                      .term_signal = 9, .json_required = true,
                      .idle_ms = 400, .wall_ms = 900,
                      .stderr_tail = "Error: socket hang up"};
    cr_assert_eq(classify_file("crash", &end, &s, why, sizeof why),
                 cases[i].want, "case %zu: %s", i, why);
    exec_stream_fini(&s);
  }
}

Test(stream, crash_reason_has_exit_and_stderr)
{
  exec_stream_t s;
  char why[512];
  exec_end_t end = {.exit_code = 1, .json_required = true,
                    .stderr_tail = "Error: socket hang up"};
  cr_assert_eq(classify_file("crash", &end, &s, why, sizeof why),
               EXEC_CLASS_CRASH);
  cr_assert(strstr(why, "exit status 1"), "%s", why);
  cr_assert(strstr(why, "socket hang up"), "%s", why);
  cr_assert_eq(s.tool_uses, 1);
  exec_stream_fini(&s);
}

Test(stream, garbage_is_counted_and_skipped)
{
  exec_stream_t s;
  char why[512];
  cr_assert_eq(classify_file("garbage", &exit0, &s, why, sizeof why),
               EXEC_CLASS_SUCCESS, "%s", why);
  /* Loading..., ANSI, [1,2,3], cut JSON, bad UTF-8, empty, Goodbye */
  cr_assert_eq(s.not_json, 7);
  /* {"no_type":true} and mystery_event */
  cr_assert_eq(s.unknown, 2);
  cr_assert_eq(s.events, 5);
  cr_assert_eq(s.lines, 12);
  cr_assert_float_eq(s.cost_usd, 0.0012, 1e-9);
  exec_stream_fini(&s);
}

Test(stream, cut_lines_and_wrong_field_types)
{
  const char *bad =
      "{\"type\":\"result\",\"subtype\":7,\"is_error\":\"no\","
      "\"num_turns\":\"three\",\"total_cost_usd\":\"lots\",\"usage\":[],"
      "\"permission_denials\":{\"x\":1},\"session_id\":42}";
  exec_stream_t s;
  char why[512];
  exec_stream_init(&s);
  cr_assert_eq(exec_stream_feed(&s, "{\"type\":\"result\",\"subtype\":\"succ",
                                30, EXEC_LINE_TRUNCATED),
               EXEC_EV_NOT_JSON);
  cr_assert_eq(s.oversized, 1);
  cr_assert_not(s.have_result, "a cut line is never parsed");
  cr_assert_eq(exec_stream_feed(&s, bad, strlen(bad), 0), EXEC_EV_RESULT);
  cr_assert_not(s.cost_known);
  cr_assert_eq(s.turns, 0);
  cr_assert_eq(s.denial_count, 0);
  cr_assert_eq(exec_classify(&s, &exit0, why, sizeof why), EXEC_CLASS_ERROR,
               "%s", why);
  exec_stream_fini(&s);
}

Test(stream, generic_command_judged_by_exit_status)
{
  exec_stream_t s;
  char why[512];
  exec_stream_init(&s);
  exec_stream_feed(&s, "compiling...", 12, 0);
  exec_end_t ok = {.exit_code = 0};
  exec_end_t bad = {.exit_code = 2, .stderr_tail = "make: *** [all] Error 2"};
  cr_assert_eq(exec_classify(&s, &ok, why, sizeof why), EXEC_CLASS_SUCCESS);
  cr_assert_eq(exec_classify(&s, &bad, why, sizeof why), EXEC_CLASS_ERROR);
  cr_assert(strstr(why, "exit status 2"), "%s", why);
  exec_stream_fini(&s);
}

Test(stream, class_names_round_trip)
{
  for (int c = 0; c < EXEC_CLASS_COUNT; c++)
    cr_assert_eq(exec_class_from_name(exec_class_name((exec_class_t)c)), c);
  cr_assert_eq(exec_class_from_name("nope"), -1);
  cr_assert_str_eq(exec_class_name(EXEC_CLASS_USAGE_LIMIT), "usage_limit");
}

Test(stream, text_clean_makes_valid_utf8)
{
  char out[64];
  const char in[] = "ok \xff\xfe h\xc3\xa9llo \xc3";
  size_t n = exec_text_clean(in, sizeof in - 1, out, sizeof out);
  cr_assert_str_eq(out, "ok ?? h\xc3\xa9llo ?");
  cr_assert_eq(n, strlen(out));
  const char nul[] = {'a', '\0', 'b'};
  exec_text_clean(nul, 3, out, sizeof out);
  cr_assert_str_eq(out, "a?b");
  /* cut at a character boundary: 'é' (2 bytes) does not fit in 3 bytes */
  exec_text_clean("h\xc3\xa9", 3, out, 3);
  cr_assert_str_eq(out, "h");
  /* overlong encodings and surrogates are invalid */
  exec_text_clean("\xc0\xaf\xed\xa0\x80", 5, out, sizeof out);
  cr_assert_str_eq(out, "?????");
}
