/*
 * test_codec_json.c: proto_json_encode / proto_json_decode(_text), and the
 * equivalence of the JSON and msgpack encodings.
 *
 * Contract checked: the JSON of every hand-built example equals
 * tests/data/protocol/<type>.json (json_equal: same keys, same values, and
 * integers stay integers, reals reals), decoding the fixture text gives the
 * struct back, and every type round-trips. The msgpack fixture decoded and
 * re-encoded as JSON is the JSON fixture, and the other way round gives the
 * msgpack bytes. Decoding refuses, with the right PROTO_E* code, a zeroed
 * output and an error naming the field: every truncation of every fixture
 * (or decodes it, when the cut only drops the final newline), non-objects,
 * wrong value types, missing required fields, caps, nesting, invalid UTF-8,
 * integers outside their C type, malformed timestamps. The event's "ts" is
 * an ISO-8601 UTC string with milliseconds, checked against gmtime_r().
 * Every test ends with a leak check (ASan builds).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/proto.h"
#include "tests/protocol/proto_test.h"

TestSuite(codec_json, .timeout = 60, .fini = ptst_check_leaks);

#define ERRLEN PTST_ERRLEN

/* ---- helpers ---- */

static void assert_failed_cleanly(int rc, const proto_msg_t *m, const char *err)
{
  if (rc != 0) {
    ptst_assert_zeroed(m);
    cr_assert_neq(err[0], '\0', "failure %d without a message", rc);
  }
}

/* Decode @p obj as type @p t, checking the failure contract. */
static int decode_obj(proto_type_t t, const json_t *obj, proto_msg_t *m,
                      char *err)
{
  err[0] = '\0';
  memset(m, 0xab, sizeof *m);
  int rc = proto_json_decode(t, obj, m, err, ERRLEN);
  assert_failed_cleanly(rc, m, err);
  return rc;
}

/* Decode @p text as type @p t, checking the failure contract. */
static int decode_text(proto_type_t t, const char *text, proto_msg_t *m,
                       char *err)
{
  err[0] = '\0';
  memset(m, 0xab, sizeof *m);
  int rc = proto_json_decode_text(t, text, strlen(text), m, err, ERRLEN);
  assert_failed_cleanly(rc, m, err);
  return rc;
}

/* The JSON fixture of @p t with @p key set to @p val (stolen; NULL deletes
 * it), decoded both as a json_t and as text; both must agree. */
static int decode_with(proto_type_t t, const char *key, json_t *val,
                       proto_msg_t *m, char *err)
{
  json_t *d = ptst_load_json(t);
  if (val != NULL)
    json_object_set_new(d, key, val);
  else
    json_object_del(d, key);
  int rc = decode_obj(t, d, m, err);
  char *text = json_dumps(d, JSON_ENCODE_ANY);
  if (text != NULL) { /* NULL: the value has no JSON text (bad UTF-8 ...) */
    proto_msg_t m2;
    char err2[ERRLEN];
    int rc2 = decode_text(t, text, &m2, err2);
    /* Text cannot carry what jansson's parser refuses (invalid UTF-8, NUL),
     * which then fails as malformed; otherwise the two paths agree. */
    cr_assert(rc2 == rc || (rc == PROTO_EVALUE && rc2 == PROTO_EMALFORMED),
              "json_t path %d, text path %d (%s)", rc, rc2, err2);
    if (rc2 == rc && rc != 0)
      cr_assert_str_eq(err, err2);
    if (rc2 == 0)
      ptst_assert_msg_eq(m, &m2);
    proto_msg_fini(&m2);
    free(text);
  }
  json_decref(d);
  return rc;
}

static void assert_json_eq(const json_t *got, const json_t *want,
                           const char *what)
{
  char *g = json_dumps(got, JSON_SORT_KEYS);
  char *w = json_dumps(want, JSON_SORT_KEYS);
  cr_assert(json_equal(got, want), "%s:\n got  %s\n want %s", what, g, w);
  free(g);
  free(w);
}

/* ---- golden fixtures ---- */

Test(codec_json, encoding_each_example_gives_the_fixture)
{
  for (int i = 0; i < PTST_NTYPES; i++) {
    proto_type_t t = ptst_types[i];
    proto_msg_t m;
    ptst_example(t, &m);
    json_t *got = proto_json_encode(&m);
    json_t *want = ptst_load_json(t);
    cr_assert_not_null(got, "%s", proto_type_name(t));
    assert_json_eq(got, want, proto_type_name(t));
    json_decref(got);
    json_decref(want);
    proto_msg_fini(&m);
  }
}

Test(codec_json, decoding_each_fixture_text_gives_the_example_back)
{
  for (int i = 0; i < PTST_NTYPES; i++) {
    proto_type_t t = ptst_types[i];
    char name[64], err[ERRLEN];
    size_t len;
    snprintf(name, sizeof name, "%s.json", proto_type_name(t));
    uint8_t *text = ptst_load(name, &len);
    proto_msg_t want, got;
    ptst_example(t, &want);
    int rc = proto_json_decode_text(t, (const char *)text, len, &got, err,
                                    sizeof err);
    cr_assert_eq(rc, 0, "%s: %s", name, err);
    ptst_assert_msg_eq(&want, &got);
    proto_msg_fini(&want);
    proto_msg_fini(&got);
    free(text);
  }
}

Test(codec_json, decoding_a_tree_copies_it)
{
  json_t *d = ptst_load_json(PROTO_EVENT);
  json_t *data = json_object_get(d, "data");
  proto_msg_t m;
  char err[ERRLEN];

  cr_assert_eq(decode_obj(PROTO_EVENT, d, &m, err), 0, "%s", err);
  cr_assert_neq(m.u.event.data, data, "the caller's node was shared");
  cr_assert_eq(data->refcount, 1);
  json_object_set_new(data, "id", json_string("changed"));
  cr_assert_str_eq(json_string_value(json_object_get(m.u.event.data, "id")),
                   "9b1e5c27d4a8f036");
  proto_msg_fini(&m);
  json_decref(d);
}

/* ---- round trips ---- */

static void round_trip(const proto_msg_t *m)
{
  proto_msg_t got;
  char err[ERRLEN];
  json_t *j = proto_json_encode(m);

  cr_assert_not_null(j, "%s", proto_type_name(m->type));
  cr_assert_eq(decode_obj(m->type, j, &got, err), 0, "%s", err);
  ptst_assert_msg_eq(m, &got);
  proto_msg_fini(&got);
  char *text = json_dumps(j, JSON_COMPACT);
  cr_assert_eq(decode_text(m->type, text, &got, err), 0, "%s", err);
  ptst_assert_msg_eq(m, &got);
  proto_msg_fini(&got);
  free(text);
  json_decref(j);
}

Test(codec_json, every_type_round_trips_full_and_minimal)
{
  ptst_check_round_trips(round_trip);
}

Test(codec_json, minimal_messages_encode_only_what_is_set)
{
  proto_msg_t m;
  ptst_minimal(PROTO_REPLY, &m);
  json_t *j = proto_json_encode(&m);
  json_t *want = json_pack("{s:b}", "ok", 1);
  assert_json_eq(j, want, "reply");
  json_decref(j);
  json_decref(want);
  proto_msg_fini(&m);

  ptst_minimal(PROTO_SCAN_PROGRESS, &m);
  j = proto_json_encode(&m);
  want = json_pack("{s:s,s:i,s:i,s:i}", "repo", "r", "files", 0, "bytes", 0,
                   "findings", 0);
  assert_json_eq(j, want, "scan_progress");
  json_decref(j);
  json_decref(want);
  proto_msg_fini(&m);
}

/* ---- the two encodings carry the same maps ---- */

Test(codec_json, msgpack_fixture_re_encodes_as_the_json_fixture)
{
  for (int i = 0; i < PTST_NTYPES; i++) {
    proto_type_t t = ptst_types[i];
    size_t len;
    uint8_t *bytes = ptst_load_msgpack(t, &len);
    proto_msg_t m;
    char err[ERRLEN];
    cr_assert_eq(proto_msgpack_decode(bytes, len, &m, err, sizeof err), 0,
                 "%s", err);
    json_t *got = proto_json_encode(&m);
    json_t *want = ptst_load_json(t);
    assert_json_eq(got, want, proto_type_name(t));
    json_decref(got);
    json_decref(want);
    proto_msg_fini(&m);
    free(bytes);
  }
}

Test(codec_json, json_fixture_re_encodes_as_the_msgpack_fixture)
{
  for (int i = 0; i < PTST_NTYPES; i++) {
    proto_type_t t = ptst_types[i];
    json_t *d = ptst_load_json(t);
    proto_msg_t m;
    char err[ERRLEN];
    size_t len;
    cr_assert_eq(decode_obj(t, d, &m, err), 0, "%s", err);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    cr_assert_eq(proto_msgpack_encode(&m, &sb), 0);
    uint8_t *want = ptst_load_msgpack(t, &len);
    cr_assert(sb.size == len && memcmp(sb.data, want, len) == 0,
              "%s: the msgpack differs from the fixture", proto_type_name(t));
    free(want);
    msgpack_sbuffer_destroy(&sb);
    proto_msg_fini(&m);
    json_decref(d);
  }
}

/* ---- malformed input ---- */

Test(codec_json, every_truncation_of_every_fixture_fails_cleanly_or_decodes)
{
  for (int i = 0; i < PTST_NTYPES; i++) {
    proto_type_t t = ptst_types[i];
    char name[64];
    size_t len;
    snprintf(name, sizeof name, "%s.json", proto_type_name(t));
    uint8_t *text = ptst_load(name, &len);
    for (size_t n = 0; n < len; n++) {
      char *cut = malloc(n ? n : 1);
      memcpy(cut, text, n);
      proto_msg_t m;
      char err[ERRLEN];
      memset(&m, 0xab, sizeof m);
      int rc = proto_json_decode_text(t, cut, n, &m, err, sizeof err);
      /* Only the cut that drops nothing but the final newline decodes. */
      int want = n == len - 1 ? 0 : PROTO_EMALFORMED;
      cr_assert_eq(rc, want, "%s cut at %zu: %d (%s)", name, n, rc, err);
      if (rc == 0)
        proto_msg_fini(&m);
      else
        ptst_assert_zeroed(&m);
      free(cut);
    }
    free(text);
  }
}

Test(codec_json, a_message_is_an_object)
{
  static const char *const texts[] = {"[1]", "1", "\"x\"", "null", "", " ",
                                      "{", "{} x", "{\"repo\":}"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    proto_msg_t m;
    char err[ERRLEN];
    PTST_RC(decode_text(PROTO_SCAN_REQUEST, texts[i], &m, err),
            PROTO_EMALFORMED);
  }
  proto_msg_t m;
  char err[ERRLEN];
  json_t *arr = json_array();
  PTST_RC(decode_obj(PROTO_SCAN_REQUEST, arr, &m, err), PROTO_EMALFORMED);
  PTST_RC(decode_obj(PROTO_SCAN_REQUEST, NULL, &m, err), PROTO_EMALFORMED);
  PTST_RC(proto_json_decode_text(PROTO_SCAN_REQUEST, NULL, 3, &m, err,
                                 sizeof err), PROTO_EMALFORMED);
  PTST_RC(proto_json_decode_text(PROTO_SCAN_REQUEST, "{}", 2, NULL, err,
                                 sizeof err), PROTO_EFIELD);
  json_decref(arr);
}

Test(codec_json, parse_errors_are_reported_in_ascii)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_text(PROTO_SCAN_REQUEST, "{\"repo\": \"\xff\xfe\"}", &m, err),
          PROTO_EMALFORMED);
  ptst_err_starts(err, "json: ");
  for (const char *p = err; *p; p++)
    cr_assert((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
              "non-ASCII byte in \"%s\"", err);
}

Test(codec_json, unknown_types_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  json_t *d = ptst_load_json(PROTO_TASK);
  PTST_RC(decode_obj(PROTO_NONE, d, &m, err), PROTO_ETYPE);
  PTST_RC(decode_obj((proto_type_t)13, d, &m, err), PROTO_ETYPE);
  PTST_RC(decode_text((proto_type_t)-1, "{}", &m, err), PROTO_ETYPE);
  json_decref(d);
}

Test(codec_json, oversize_body_is_refused_before_parsing)
{
  size_t n = PROTO_MAX_MSG + 1;
  char *big = malloc(n);
  memset(big, ' ', n);
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(proto_json_decode_text(PROTO_TASK, big, n, &m, err, sizeof err),
          PROTO_ETOOBIG);
  ptst_assert_zeroed(&m);
  free(big);
}

Test(codec_json, duplicate_keys_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_text(PROTO_SCAN_REQUEST, "{\"repo\":\"a\",\"repo\":\"b\"}", &m,
                      err), PROTO_EMALFORMED);
  PTST_RC(decode_text(PROTO_COMMAND,
                      "{\"action\":\"run\",\"args\":{\"a\":1,\"a\":2}}", &m, err),
          PROTO_EMALFORMED);
}

Test(codec_json, websocket_type_key_and_unknown_keys_are_ignored)
{
  proto_msg_t m;
  char err[ERRLEN];
  cr_assert_eq(decode_text(PROTO_COMMAND,
                           "{\"type\":\"command\",\"id\":\"c1\",\"action\":\"scan\","
                           "\"args\":{\"repo\":\"ccm\"},\"later\":[1,{}]}",
                           &m, err), 0, "%s", err);
  cr_assert_str_eq(m.u.command.action, "scan");
  cr_assert_str_eq(m.u.command.id, "c1");
  proto_msg_fini(&m);
}

/* ---- fields ---- */

Test(codec_json, wrong_value_types_are_refused_per_field)
{
  ptst_check_wrong_type_per_field(ptst_load_json, decode_with);
}

Test(codec_json, wrong_value_types_are_refused_in_nested_maps)
{
  ptst_check_wrong_type_in_nested_maps(ptst_load_json, decode_with);
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_with(PROTO_TASK, "labels", json_pack("[n]"), &m, err),
          PROTO_EFIELD);
  cr_assert_str_eq(err, "task.labels[0]: expected a string");
  PTST_RC(decode_with(PROTO_TASK, "line", json_real(3.0), &m, err),
          PROTO_EFIELD);
  cr_assert_str_eq(err, "task.line: expected an integer");
}

Test(codec_json, missing_or_null_required_fields_are_refused)
{
  ptst_check_required_fields(decode_with);
}

Test(codec_json, optional_fields_may_be_absent_or_null)
{
  ptst_check_optional_fields(ptst_load_json, decode_with);
}

/* ---- caps and values ---- */


Test(codec_json, caps_apply_as_in_msgpack)
{
  proto_msg_t m;
  char err[ERRLEN];
  cr_assert_eq(decode_with(PROTO_TASK, "path", ptst_str_of(PROTO_MAX_STR, 'p'), &m,
                           err), 0, "%s", err);
  proto_msg_fini(&m);
  PTST_RC(decode_with(PROTO_TASK, "path", ptst_str_of(PROTO_MAX_STR + 1, 'p'), &m,
                      err), PROTO_ETOOBIG);
  cr_assert_str_eq(err, "task.path: string of 4097 bytes is over the 4096-byte "
                        "cap");
  PTST_RC(decode_with(PROTO_TASK, "score",
                      json_pack("{s:o}", "why", ptst_str_of(PROTO_MAX_TEXT + 1, 'w')),
                      &m, err), PROTO_ETOOBIG);
  ptst_err_starts(err, "task.score.why: ");
  PTST_RC(decode_with(PROTO_REPLY, "error",
                      json_pack("{s:s,s:o}", "code", "x", "message",
                                ptst_str_of(PROTO_MAX_TEXT + 1, 'm')),
                      &m, err), PROTO_ETOOBIG);
  json_t *list = json_array();
  for (int i = 0; i <= PROTO_MAX_LIST; i++)
    json_array_append_new(list, json_string("x"));
  PTST_RC(decode_with(PROTO_TASK, "labels", list, &m, err), PROTO_ETOOBIG);
}

Test(codec_json, args_nested_100_levels_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_with(PROTO_COMMAND, "args", ptst_nested(100, false), &m, err),
          PROTO_EDEPTH);
  cr_assert_str_eq(err, "command.args: nesting deeper than 16 levels");
  PTST_RC(decode_with(PROTO_COMMAND, "args", ptst_nested(17, false), &m, err),
          PROTO_EDEPTH);
  cr_assert_eq(decode_with(PROTO_COMMAND, "args", ptst_nested(16, false), &m,
                           err), 0, "%s", err);
  proto_msg_fini(&m);
  PTST_RC(decode_with(PROTO_REPLY, "data", ptst_nested(17, true), &m, err),
          PROTO_EDEPTH);
  /* Beyond jansson's own parser limit (2048) the text is malformed. */
  size_t n = 3000;
  char *deep = malloc(2 * n + 32);
  cr_assert_not_null(deep); /* also tells gcc's -Warray-bounds (ASan) */
  size_t o = (size_t)sprintf(deep, "{\"action\":\"x\",\"z\":");
  memset(deep + o, '[', n);
  memset(deep + o + n, ']', n);
  strcpy(deep + o + 2 * n, "}");
  PTST_RC(decode_text(PROTO_COMMAND, deep, &m, err), PROTO_EMALFORMED);
  free(deep);
}

Test(codec_json, invalid_utf8_and_nul_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  /* In a tree built without checks: EVALUE, as in msgpack. */
  PTST_RC(decode_with(PROTO_FINDING, "repo", json_stringn_nocheck("\xed\xa0\x80", 3),
                      &m, err), PROTO_EVALUE);
  cr_assert_str_eq(err, "finding.repo: string is not valid UTF-8");
  PTST_RC(decode_with(PROTO_FINDING, "repo", json_stringn("a\0b", 3), &m, err),
          PROTO_EVALUE);
  PTST_RC(decode_with(PROTO_EVENT, "data", json_stringn("a\0b", 3), &m, err),
          PROTO_EVALUE);
  /* In text, jansson's parser already refuses them. */
  PTST_RC(decode_text(PROTO_SCAN_REQUEST, "{\"repo\":\"\xc0\xaf\"}", &m, err),
          PROTO_EMALFORMED);
  PTST_RC(decode_text(PROTO_SCAN_REQUEST, "{\"repo\":\"a\\u0000b\"}", &m, err),
          PROTO_EMALFORMED);
  /* Escaped non-ASCII is fine. */
  cr_assert_eq(decode_text(PROTO_SCAN_REQUEST, "{\"repo\":\"\\u00e9\\ud83d\\ude00\"}",
                           &m, err), 0, "%s", err);
  cr_assert_str_eq(m.u.scan_request.repo, "\xc3\xa9\xf0\x9f\x98\x80");
  proto_msg_fini(&m);
}

Test(codec_json, integers_outside_their_c_type_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_with(PROTO_TASK, "line", json_integer(4294967296), &m, err),
          PROTO_EVALUE);
  PTST_RC(decode_with(PROTO_TASK, "issue_number", json_integer(-1), &m, err),
          PROTO_EVALUE);
  PTST_RC(decode_with(PROTO_SCAN_DONE, "duration_ms", json_integer(-1), &m, err),
          PROTO_EVALUE);
  cr_assert_eq(decode_with(PROTO_SCAN_DONE, "files", json_integer(INT64_MAX),
                           &m, err), 0, "%s", err);
  cr_assert_eq(m.u.scan_done.files, (uint64_t)INT64_MAX);
  proto_msg_fini(&m);
  /* Past 64-bit signed, jansson refuses the number itself. */
  PTST_RC(decode_text(PROTO_SCAN_DONE,
                      "{\"repo\":\"r\",\"files\":9223372036854775808}", &m, err),
          PROTO_EMALFORMED);
  PTST_RC(decode_with(PROTO_EVENT, "seq", json_integer(0), &m, err),
          PROTO_EVALUE);
}

Test(codec_json, doubles_accept_integers)
{
  proto_msg_t m;
  char err[ERRLEN];
  cr_assert_eq(decode_text(PROTO_METRIC_SAMPLE, "{\"name\":\"n\",\"value\":-7}",
                           &m, err), 0, "%s", err);
  cr_assert_eq(m.u.metric_sample.value, -7.0);
  proto_msg_fini(&m);
  PTST_RC(decode_text(PROTO_METRIC_SAMPLE, "{\"name\":\"n\",\"value\":\"7\"}",
                      &m, err), PROTO_EFIELD);
  PTST_RC(decode_text(PROTO_METRIC_SAMPLE, "{\"name\":\"n\",\"value\":NaN}",
                      &m, err), PROTO_EMALFORMED);
}

Test(codec_json, states_travel_by_name)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_with(PROTO_TASK, "state", json_string("open"), &m, err),
          PROTO_EVALUE);
  cr_assert_str_eq(err, "task.state: unknown state \"open\"");
  PTST_RC(decode_with(PROTO_TASK_UPDATE, "to", json_string("done"), &m, err),
          PROTO_EVALUE);
  cr_assert_str_eq(err, "task_update.to: transition running -> done is not "
                        "allowed");
}

/* ---- timestamps ---- */

static int64_t ts_of(const char *iso, int *rc)
{
  proto_msg_t m;
  char err[ERRLEN];
  int64_t ts = -1;
  *rc = decode_with(PROTO_EVENT, "ts", json_string(iso), &m, err);
  if (*rc == 0)
    ts = m.u.event.ts;
  proto_msg_fini(&m);
  return ts;
}

Test(codec_json, iso_timestamps_are_parsed)
{
  static const struct {
    const char *iso;
    int64_t ms;
  } good[] = {
      {"2026-11-24T09:00:00.123Z", 1795510800123},
      {"2026-11-24T09:00:00Z", 1795510800000},
      {"2026-11-24T09:00:00.1Z", 1795510800100},
      {"2026-11-24T09:00:00.123999999Z", 1795510800123},
      {"2026-11-24T09:00:00.123+00:00", 1795510800123},
      {"1970-01-01T00:00:00.000Z", 0},
      {"2000-02-29T00:00:00.000Z", 951782400000},
      {"2024-02-29T23:59:59.999Z", 1709251199999},
      {"2100-03-01T00:00:00.000Z", 4107542400000},
      {"9999-12-31T23:59:59.999Z", 253402300799999},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    int rc;
    int64_t ms = ts_of(good[i].iso, &rc);
    cr_assert_eq(rc, 0, "%s: %d", good[i].iso, rc);
    cr_assert_eq(ms, good[i].ms, "%s: %lld", good[i].iso, (long long)ms);
  }
}

Test(codec_json, malformed_timestamps_are_refused)
{
  static const char *const bad[] = {
      "", "x", "2026-11-24", "2026-11-24T09:00:00.123",
      "2026-11-24 09:00:00.123Z", "2026-11-24t09:00:00.123Z",
      "2026-11-24T09:00:00.Z", "2026-11-24T09:00:00.1234567890Z",
      "2026-11-24T09:00:00.123+01:00", "2026-11-24T09:00:00.123z",
      "2025-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
      "2026-00-01T00:00:00Z", "2026-11-31T00:00:00Z", "2026-11-00T00:00:00Z",
      "2026-11-24T24:00:00Z", "2026-11-24T09:60:00Z", "2026-11-24T09:00:60Z",
      "1969-12-31T23:59:59.999Z", "+2026-11-24T09:00:00Z",
      "2026-1-24T09:00:00.000Z", "2026-11-24T09:00:00.123ZZ",
      "２026-11-24T09:00:00Z",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc;
    ts_of(bad[i], &rc);
    cr_assert_eq(rc, PROTO_EVALUE, "\"%s\": %d", bad[i], rc);
  }
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_with(PROTO_EVENT, "ts", json_integer(1795510800123), &m, err),
          PROTO_EFIELD);
  cr_assert_str_eq(err, "event.ts: expected an ISO-8601 UTC time string");
}

/* Encoding: compare with the C library's calendar over the whole range. */
Test(codec_json, iso_timestamps_are_formatted_like_gmtime)
{
  proto_msg_t m;
  ptst_minimal(PROTO_EVENT, &m);
  const int64_t step = INT64_C(86400000) * 371 + 3600123; /* ~1 year */
  for (int64_t ms = 0; ms <= 253402300799999; ms += step) {
    struct tm tm;
    time_t secs = (time_t)(ms / 1000);
    char want[64], frac[8];
    cr_assert_not_null(gmtime_r(&secs, &tm));
    strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(frac, sizeof frac, ".%03dZ", (int)(ms % 1000));
    strcat(want, frac);
    m.u.event.ts = ms;
    json_t *j = proto_json_encode(&m);
    cr_assert_not_null(j);
    const char *got = json_string_value(json_object_get(j, "ts"));
    cr_assert_str_eq(got, want, "ts %lld", (long long)ms);
    int rc;
    cr_assert_eq(ts_of(got, &rc), ms, "parse back %s", got);
    json_decref(j);
  }
  proto_msg_fini(&m);
}

/* ---- proto_json_write: the same bytes as the jansson tree, dumped ---- */

/* proto_json_write(@p m) appended after a prefix equals
 * json_dumps(proto_json_encode(m), JSON_COMPACT), byte for byte. */
static void assert_text_as_jansson(const proto_msg_t *m, const char *what)
{
  json_t *tree = proto_json_encode(m);
  cr_assert_not_null(tree, "%s: proto_json_encode", what);
  char *want = json_dumps(tree, JSON_COMPACT);
  json_decref(tree);
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_sbuffer_write(&sb, "x", 1); /* appends, keeps what was there */
  PTST_RC(proto_json_write(m, &sb), 0);
  cr_assert_eq(sb.size, 1 + strlen(want), "%s: %zu bytes, want %zu\n%.*s\n%s",
               what, sb.size - 1, strlen(want), (int)sb.size - 1, sb.data + 1,
               want);
  cr_assert(memcmp(sb.data + 1, want, strlen(want)) == 0 && sb.data[0] == 'x',
            "%s:\n got  %.*s\n want %s", what, (int)sb.size - 1, sb.data + 1,
            want);
  free(want);
  msgpack_sbuffer_destroy(&sb);
}

Test(codec_json, text_writer_matches_jansson_for_every_type)
{
  for (size_t i = 0; i < PTST_NTYPES; i++) {
    proto_msg_t m;
    ptst_example(ptst_types[i], &m);
    assert_text_as_jansson(&m, proto_type_name(ptst_types[i]));
    proto_msg_fini(&m);
    ptst_minimal(ptst_types[i], &m);
    assert_text_as_jansson(&m, proto_type_name(ptst_types[i]));
    proto_msg_fini(&m);
  }
}

Test(codec_json, text_writer_escapes_strings_as_jansson)
{
  char controls[40];
  for (int c = 1; c < 0x20; c++)
    controls[c - 1] = (char)c;
  memcpy(controls + 31, "\"\\/\x7f", 5); /* then quote, backslash, ... */
  const char *texts[] = {controls, "plain", "", "caf\xc3\xa9 \xe2\x82\xac "
                         "\xf0\x9f\x98\x80", "a\"b\\c", "</script>",
                         "tab\tnew\nline\r\x08\x0c"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    proto_msg_t m;
    ptst_example(PROTO_TASK, &m);
    free(m.u.task.title);
    m.u.task.title = strdup(texts[i]);
    assert_text_as_jansson(&m, texts[i]);
    proto_msg_fini(&m);
  }
}

Test(codec_json, text_writer_formats_reals_as_jansson)
{
  static const double reals[] = {
      0.0, -0.0, 1.0, -7.5, 0.1, 2.0 / 3.0, 8.0 / 3.0, 1e-5, 1.5e-7,
      123456789.125, 1e15, 1e16, 9007199254740992.0, 9007199254740993.0,
      1e17, 1e21, 1.7976931348623157e308, 5e-324, 2.2250738585072014e-308,
      -1e300, 10.0, 100.0, 0.5, 3.0e10};
  for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
    proto_msg_t m;
    ptst_example(PROTO_TASK, &m);
    m.u.task.score.total = reals[i];
    m.u.task.score.value = -reals[i];
    char what[64];
    snprintf(what, sizeof what, "%.17g", reals[i]);
    assert_text_as_jansson(&m, what);
    proto_msg_fini(&m);
  }
}

Test(codec_json, text_writer_refuses_what_the_encoder_refuses)
{
  proto_msg_t m;
  ptst_example(PROTO_TASK, &m);
  char *id = m.u.task.id;
  m.u.task.id = NULL; /* required */
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_sbuffer_write(&sb, "[", 1);
  cr_assert_null(proto_json_encode(&m));
  cr_assert_neq(proto_json_write(&m, &sb), 0);
  cr_assert_eq(sb.size, 1, "a refused message leaves the buffer as it was");
  m.u.task.id = id;
  proto_msg_fini(&m);
  msgpack_sbuffer_destroy(&sb);
}
