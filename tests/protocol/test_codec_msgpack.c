/*
 * test_codec_msgpack.c: proto_msgpack_encode / proto_msgpack_decode.
 *
 * Contract checked: encoding the hand-built example of every type gives
 * exactly the bytes of tests/data/protocol/<type>.msgpack (written by an
 * independent generator), and decoding them gives the struct back; every
 * type round-trips, fully populated and with only its required fields.
 * Decoding refuses, with the right PROTO_E* code, a zeroed output and a
 * message naming the field: every truncation of every fixture, trailing
 * bytes, wrong versions and types, wrong value types per field, missing
 * required fields, strings/lists/messages over their caps, nesting over
 * PROTO_MAX_DEPTH, invalid UTF-8, integers outside their C type, unknown
 * states, illegal transitions and hostile element counts. A message that
 * is not well-formed msgpack is refused for that even when a field before
 * the fault is wrong too, and values no field reads (unknown keys, JSON
 * members, lists) are checked to the same nesting bound as the rest.
 * Encoding refuses what decoding would and leaves the caller's buffer as
 * it was. Every test ends with a leak check (ASan builds).
 */
#include "tests/support/json_msgpack.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proto.h"
#include "tests/protocol/proto_test.h"

TestSuite(codec_msgpack, .timeout = 60, .fini = ptst_check_leaks);

#define ERRLEN PTST_ERRLEN

/* ---- helpers ---- */

/* Decode @p sb; a failure must leave @p m zeroed and @p err non-empty. */
static int decode_sb(const msgpack_sbuffer *sb, proto_msg_t *m, char *err)
{
  err[0] = '\0';
  memset(m, 0xab, sizeof *m); /* garbage in: a failure must zero it */
  int rc = proto_msgpack_decode(sb->data, sb->size, m, err, ERRLEN);
  if (rc != 0) {
    ptst_assert_zeroed(m);
    cr_assert_neq(err[0], '\0', "failure %d without a message", rc);
  }
  return rc;
}

/* Decode {"v":1,"t":<t>,"d":<d>} packed the plain way. */
static int decode_d(proto_type_t t, const json_t *d, proto_msg_t *m,
                    char *err)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  ptst_pack_msg(&sb, 1, proto_type_name(t), d);
  int rc = decode_sb(&sb, m, err);
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

/* The fixture of @p t with "d".@p key set to @p val (stolen; NULL deletes
 * the key), decoded. */
static int decode_with(proto_type_t t, const char *key, json_t *val,
                       proto_msg_t *m, char *err)
{
  json_t *d = ptst_load_d(t);
  if (val != NULL)
    json_object_set_new(d, key, val);
  else
    json_object_del(d, key);
  int rc = decode_d(t, d, m, err);
  json_decref(d);
  return rc;
}

typedef void (*pack_fn)(msgpack_packer *pk, const void *arg);

/* The envelope {"v": 1, "t": <t>, "d": <map of @p n entries>} up to the
 * first entry of "d". */
static void pack_head(msgpack_packer *pk, proto_type_t t, size_t n)
{
  const char *type = proto_type_name(t);

  msgpack_pack_map(pk, 3);
  msgpack_pack_str_with_body(pk, "v", 1);
  msgpack_pack_uint64(pk, 1);
  msgpack_pack_str_with_body(pk, "t", 1);
  msgpack_pack_str_with_body(pk, type, strlen(type));
  msgpack_pack_str_with_body(pk, "d", 1);
  msgpack_pack_map(pk, n);
}

/* The entries of object @p d, in its order. */
static void pack_entries(msgpack_packer *pk, json_t *d)
{
  const char *k;
  json_t *v;

  json_object_foreach(d, k, v) {
    msgpack_pack_str_with_body(pk, k, strlen(k));
    json_msgpack_pack(pk, v);
  }
}

/* The fixture of @p t without "d".@p key, then @p key with a value packed
 * by @p fn, and again with one packed by @p again unless it is NULL. */
static int decode_packed(proto_type_t t, const char *key, pack_fn fn,
                         const void *arg, pack_fn again, const void *arg2,
                         proto_msg_t *m, char *err)
{
  json_t *d = ptst_load_d(t);
  msgpack_sbuffer sb;
  msgpack_packer pk;

  json_object_del(d, key);
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  pack_head(&pk, t, json_object_size(d) + (again != NULL ? 2 : 1));
  pack_entries(&pk, d);
  msgpack_pack_str_with_body(&pk, key, strlen(key));
  fn(&pk, arg);
  if (again != NULL) {
    msgpack_pack_str_with_body(&pk, key, strlen(key));
    again(&pk, arg2);
  }
  int rc = decode_sb(&sb, m, err);
  msgpack_sbuffer_destroy(&sb);
  json_decref(d);
  return rc;
}

/* The fixture of @p t with "d".@p key's value packed by @p fn: for values
 * JSON cannot express (big unsigned integers, bin, ext, float32, NaN). */
static int decode_raw(proto_type_t t, const char *key, pack_fn fn,
                      const void *arg, proto_msg_t *m, char *err)
{
  return decode_packed(t, key, fn, arg, NULL, NULL, m, err);
}

static void pack_u64(msgpack_packer *pk, const void *arg)
{
  msgpack_pack_uint64(pk, *(const uint64_t *)arg);
}

static void pack_i64(msgpack_packer *pk, const void *arg)
{
  msgpack_pack_int64(pk, *(const int64_t *)arg);
}

static void pack_f64(msgpack_packer *pk, const void *arg)
{
  msgpack_pack_double(pk, *(const double *)arg);
}

static void pack_f32(msgpack_packer *pk, const void *arg)
{
  msgpack_pack_float(pk, *(const float *)arg);
}

static void pack_bin(msgpack_packer *pk, const void *arg)
{
  msgpack_pack_bin_with_body(pk, "abc", 3);
}

static void pack_ext(msgpack_packer *pk, const void *arg)
{
  msgpack_pack_ext_with_body(pk, "abcd", 4, 1);
}


/* Assert the error text starts with @p prefix. */
/* ---- golden fixtures ---- */

Test(codec_msgpack, encoding_each_example_gives_the_fixture_bytes)
{
  for (int i = 0; i < PTST_NTYPES; i++) {
    proto_type_t t = ptst_types[i];
    proto_msg_t m;
    msgpack_sbuffer sb;
    size_t len;
    uint8_t *want = ptst_load_msgpack(t, &len);

    ptst_example(t, &m);
    msgpack_sbuffer_init(&sb);
    PTST_RC(proto_msgpack_encode(&m, &sb), 0);
    cr_assert_eq(sb.size, len, "%s: %zu bytes, fixture has %zu",
                 proto_type_name(t), sb.size, len);
    for (size_t k = 0; k < len; k++)
      cr_assert_eq((uint8_t)sb.data[k], want[k],
                   "%s: byte %zu is 0x%02x, fixture has 0x%02x",
                   proto_type_name(t), k, (uint8_t)sb.data[k], want[k]);
    msgpack_sbuffer_destroy(&sb);
    proto_msg_fini(&m);
    free(want);
  }
}

Test(codec_msgpack, decoding_each_fixture_gives_the_example_back)
{
  for (int i = 0; i < PTST_NTYPES; i++) {
    proto_type_t t = ptst_types[i];
    proto_msg_t want, got;
    char err[ERRLEN];
    size_t len;
    uint8_t *bytes = ptst_load_msgpack(t, &len);

    ptst_example(t, &want);
    int rc = proto_msgpack_decode(bytes, len, &got, err, sizeof err);
    cr_assert_eq(rc, 0, "%s: %s", proto_type_name(t), err);
    ptst_assert_msg_eq(&want, &got);
    proto_msg_fini(&want);
    proto_msg_fini(&got);
    free(bytes);
  }
}

/* The .msgpack fixtures are the .json fixtures in msgpack shape: a plain
 * packer (no codec involved) reproduces them byte for byte. */
Test(codec_msgpack, fixtures_agree_with_the_json_fixtures)
{
  for (int i = 0; i < PTST_NTYPES; i++) {
    proto_type_t t = ptst_types[i];
    json_t *d = ptst_load_d(t);
    msgpack_sbuffer sb;
    size_t len;
    uint8_t *want = ptst_load_msgpack(t, &len);

    msgpack_sbuffer_init(&sb);
    ptst_pack_msg(&sb, 1, proto_type_name(t), d);
    cr_assert(sb.size == len && memcmp(sb.data, want, len) == 0,
              "%s.msgpack differs from %s.json", proto_type_name(t),
              proto_type_name(t));
    msgpack_sbuffer_destroy(&sb);
    json_decref(d);
    free(want);
  }
}

/* ---- round trips ---- */

static void round_trip(const proto_msg_t *m)
{
  msgpack_sbuffer sb;
  proto_msg_t got;
  char err[ERRLEN];

  msgpack_sbuffer_init(&sb);
  PTST_RC(proto_msgpack_encode(m, &sb), 0);
  int rc = proto_msgpack_decode(sb.data, sb.size, &got, err, sizeof err);
  cr_assert_eq(rc, 0, "%s: %s", proto_type_name(m->type), err);
  ptst_assert_msg_eq(m, &got);
  proto_msg_fini(&got);
  msgpack_sbuffer_destroy(&sb);
}

Test(codec_msgpack, every_type_round_trips_full_and_minimal)
{
  ptst_check_round_trips(round_trip);
}

Test(codec_msgpack, extreme_values_round_trip)
{
  proto_msg_t m;
  ptst_example(PROTO_TASK, &m);
  m.u.task.loc.line = UINT32_MAX;
  m.u.task.authored_at = INT64_MIN;
  m.u.task.first_seen = INT64_MAX;
  m.u.task.last_seen = -1;
  m.u.task.score.total = -1e300;
  m.u.task.score.value = 5e-324;
  m.u.task.state = PROTO_STATE_BLOCKED;
  round_trip(&m);
  proto_msg_fini(&m);

  ptst_example(PROTO_SCAN_PROGRESS, &m);
  m.u.scan_progress.files = (uint64_t)INT64_MAX;
  round_trip(&m);
  proto_msg_fini(&m);

  ptst_example(PROTO_EVENT, &m);
  m.u.event.ts = 253402300799999; /* 9999-12-31T23:59:59.999Z */
  m.u.event.seq = (uint64_t)INT64_MAX;
  round_trip(&m);
  m.u.event.ts = 0;
  round_trip(&m);
  proto_msg_fini(&m);
}

Test(codec_msgpack, strings_at_their_caps_round_trip)
{
  proto_msg_t m;
  ptst_example(PROTO_TASK, &m);
  free(m.u.task.title);
  m.u.task.title = malloc(PROTO_MAX_STR + 1);
  memset(m.u.task.title, 'x', PROTO_MAX_STR);
  m.u.task.title[PROTO_MAX_STR] = '\0';
  free(m.u.task.text);
  m.u.task.text = malloc(PROTO_MAX_TEXT + 1);
  memset(m.u.task.text, 'y', PROTO_MAX_TEXT);
  m.u.task.text[PROTO_MAX_TEXT] = '\0';
  for (uint32_t i = 0; i < m.u.task.labels.len; i++)
    free(m.u.task.labels.items[i]);
  free(m.u.task.labels.items);
  m.u.task.labels.items = calloc(PROTO_MAX_LIST, sizeof(char *));
  for (int i = 0; i < PROTO_MAX_LIST; i++) {
    m.u.task.labels.items[i] = malloc(PROTO_MAX_STR + 1);
    memset(m.u.task.labels.items[i], 'a' + i % 26, PROTO_MAX_STR);
    m.u.task.labels.items[i][PROTO_MAX_STR] = '\0';
  }
  m.u.task.labels.len = PROTO_MAX_LIST;
  round_trip(&m);
  proto_msg_fini(&m);
}

Test(codec_msgpack, encode_appends_to_the_buffer)
{
  proto_msg_t m;
  msgpack_sbuffer sb;
  size_t len;
  uint8_t *want = ptst_load_msgpack(PROTO_SCAN_REQUEST, &len);

  ptst_example(PROTO_SCAN_REQUEST, &m);
  msgpack_sbuffer_init(&sb);
  msgpack_sbuffer_write(&sb, "xy", 2);
  PTST_RC(proto_msgpack_encode(&m, &sb), 0);
  PTST_RC(proto_msgpack_encode(&m, &sb), 0);
  cr_assert_eq(sb.size, 2 + 2 * len);
  cr_assert(memcmp(sb.data, "xy", 2) == 0);
  cr_assert(memcmp(sb.data + 2, want, len) == 0);
  cr_assert(memcmp(sb.data + 2 + len, want, len) == 0);
  msgpack_sbuffer_destroy(&sb);
  proto_msg_fini(&m);
  free(want);
}

/* ---- malformed input ---- */

Test(codec_msgpack, every_truncation_of_every_fixture_fails_cleanly)
{
  for (int i = 0; i < PTST_NTYPES; i++) {
    size_t len;
    uint8_t *bytes = ptst_load_msgpack(ptst_types[i], &len);
    for (size_t n = 0; n < len; n++) {
      /* A copy of exactly n bytes, so ASan sees any read past the end. */
      uint8_t *cut = malloc(n ? n : 1);
      memcpy(cut, bytes, n);
      proto_msg_t m;
      char err[ERRLEN];
      memset(&m, 0xab, sizeof m);
      int rc = proto_msgpack_decode(cut, n, &m, err, sizeof err);
      cr_assert_eq(rc, PROTO_EMALFORMED, "%s cut at %zu: %d (%s)",
                   proto_type_name(ptst_types[i]), n, rc, proto_strerror(rc));
      ptst_assert_zeroed(&m);
      free(cut);
    }
    free(bytes);
  }
}

Test(codec_msgpack, trailing_bytes_are_refused)
{
  size_t len;
  uint8_t *bytes = ptst_load_msgpack(PROTO_TASK, &len);
  uint8_t *more = malloc(len + 1);
  proto_msg_t m;
  char err[ERRLEN];

  memcpy(more, bytes, len);
  more[len] = 0xc0;
  PTST_RC(proto_msgpack_decode(more, len + 1, &m, err, sizeof err),
          PROTO_EMALFORMED);
  ptst_assert_zeroed(&m);
  cr_assert(strstr(err, "trailing") != NULL, "%s", err);
  free(more);
  free(bytes);
}

Test(codec_msgpack, empty_and_null_input_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(proto_msgpack_decode("", 0, &m, err, sizeof err), PROTO_EMALFORMED);
  PTST_RC(proto_msgpack_decode(NULL, 0, &m, err, sizeof err), PROTO_EMALFORMED);
  PTST_RC(proto_msgpack_decode(NULL, 5, &m, err, sizeof err), PROTO_EMALFORMED);
  PTST_RC(proto_msgpack_decode("\x80", 1, NULL, err, sizeof err), PROTO_EFIELD);
  /* err may be NULL or tiny. */
  PTST_RC(proto_msgpack_decode("\xc1", 1, &m, NULL, 0), PROTO_EMALFORMED);
  PTST_RC(proto_msgpack_decode("\xc1", 1, &m, err, 1), PROTO_EMALFORMED);
  cr_assert_eq(err[0], '\0');
}

Test(codec_msgpack, invalid_format_byte_is_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(proto_msgpack_decode("\x81\xa1v\xc1", 4, &m, err, sizeof err),
          PROTO_EMALFORMED);
  cr_assert(strstr(err, "0xc1") != NULL, "%s", err);
}

Test(codec_msgpack, a_message_is_a_map)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(proto_msgpack_decode("\x93\x01\x02\x03", 4, &m, err, sizeof err),
          PROTO_EMALFORMED);
  PTST_RC(proto_msgpack_decode("\x01", 1, &m, err, sizeof err),
          PROTO_EMALFORMED);
  PTST_RC(proto_msgpack_decode("\xa1v", 2, &m, err, sizeof err),
          PROTO_EMALFORMED);
  ptst_assert_zeroed(&m);
}

Test(codec_msgpack, oversize_message_is_refused_before_parsing)
{
  size_t n = PROTO_MAX_MSG + 1;
  uint8_t *big = calloc(1, n);
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(proto_msgpack_decode(big, n, &m, err, sizeof err), PROTO_ETOOBIG);
  ptst_assert_zeroed(&m);
  free(big);
}

Test(codec_msgpack, hostile_element_counts_fail_without_allocating)
{
  /* map32 / array32 / str32 / bin32 / ext32 announcing ~4 G of content. */
#define IN(s) {s, sizeof(s) - 1}
  static const struct {
    const char *p;
    size_t n;
  } inputs[] = {
      IN("\xdf\xff\xff\xff\xff\xa1v"),
      IN("\x83\xa1v\x01\xa1t\xa4task\xa1\x64\xdd\xff\xff\xff\xff\x01"),
      IN("\x83\xa1v\x01\xa1t\xa4task\xa1\x64\xdb\xff\xff\xff\xffxyz"),
      IN("\x83\xa1v\x01\xa1t\xa4task\xa1\x64\xc6\xff\xff\xff\xff"),
      IN("\x83\xa1v\x01\xa1t\xa4task\xa1\x64\xc9\xff\xff\xff\xff\x01"),
  };
#undef IN
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    proto_msg_t m;
    char err[ERRLEN];
    PTST_RC(proto_msgpack_decode(inputs[i].p, inputs[i].n, &m, err, sizeof err),
            PROTO_EMALFORMED);
    ptst_assert_zeroed(&m);
  }
}

/* ---- envelope ---- */

Test(codec_msgpack, wrong_or_missing_version_is_refused)
{
  json_t *d = ptst_load_d(PROTO_TASK);
  msgpack_sbuffer sb;
  proto_msg_t m;
  char err[ERRLEN];
  static const int versions[] = {-1, 0, 2, 255};

  for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
    msgpack_sbuffer_init(&sb);
    ptst_pack_msg(&sb, versions[i], "task", d);
    PTST_RC(decode_sb(&sb, &m, err), PROTO_EVERSION);
    ptst_err_starts(err, "v: ");
    msgpack_sbuffer_destroy(&sb);
  }
  json_decref(d);
}

Test(codec_msgpack, version_as_a_string_is_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  /* {"v":"1","t":"scan_request","d":{"repo":"x"}} */
  static const char msg[] = "\x83\xa1v\xa1\x31\xa1t\xacscan_request\xa1\x64"
                            "\x81\xa4repo\xa1x";
  PTST_RC(proto_msgpack_decode(msg, sizeof msg - 1, &m, err, sizeof err),
          PROTO_EVERSION);
}

Test(codec_msgpack, unknown_or_missing_type_is_refused)
{
  json_t *d = ptst_load_d(PROTO_TASK);
  msgpack_sbuffer sb;
  proto_msg_t m;
  char err[ERRLEN];

  msgpack_sbuffer_init(&sb);
  ptst_pack_msg(&sb, 1, "tasks", d);
  PTST_RC(decode_sb(&sb, &m, err), PROTO_ETYPE);
  cr_assert_str_eq(err, "t: unknown message type \"tasks\"");
  msgpack_sbuffer_destroy(&sb);

  msgpack_sbuffer_init(&sb);
  ptst_pack_msg(&sb, 1, "", d);
  PTST_RC(decode_sb(&sb, &m, err), PROTO_ETYPE);
  msgpack_sbuffer_destroy(&sb);

  msgpack_sbuffer_init(&sb);
  ptst_pack_msg(&sb, 1, NULL, d);
  PTST_RC(decode_sb(&sb, &m, err), PROTO_EFIELD);
  msgpack_sbuffer_destroy(&sb);

  msgpack_sbuffer_init(&sb);
  ptst_pack_msg(&sb, 1, "task", NULL);
  PTST_RC(decode_sb(&sb, &m, err), PROTO_EFIELD);
  ptst_err_starts(err, "d: ");
  msgpack_sbuffer_destroy(&sb);
  json_decref(d);
}

Test(codec_msgpack, d_must_be_a_map)
{
  json_t *arr = json_array();
  msgpack_sbuffer sb;
  proto_msg_t m;
  char err[ERRLEN];

  msgpack_sbuffer_init(&sb);
  ptst_pack_msg(&sb, 1, "task", arr);
  PTST_RC(decode_sb(&sb, &m, err), PROTO_EFIELD);
  msgpack_sbuffer_destroy(&sb);
  json_decref(arr);
}

Test(codec_msgpack, unknown_keys_are_ignored_everywhere)
{
  json_t *d = ptst_load_d(PROTO_TASK);
  proto_msg_t m, want;
  char err[ERRLEN];
  msgpack_sbuffer sb;
  msgpack_packer pk;

  json_object_set_new(d, "future_field", json_pack("{s:[i,s]}", "x", 1, "y"));
  json_object_set_new(json_object_get(d, "score"), "model", json_string("wsjf2"));
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 4);
  msgpack_pack_str_with_body(&pk, "trace", 5);
  msgpack_pack_bin_with_body(&pk, "\x00\x01", 2);
  msgpack_pack_str_with_body(&pk, "v", 1);
  msgpack_pack_int64(&pk, 1);
  msgpack_pack_str_with_body(&pk, "t", 1);
  msgpack_pack_str_with_body(&pk, "task", 4);
  msgpack_pack_str_with_body(&pk, "d", 1);
  json_msgpack_pack(&pk, d);
  cr_assert_eq(decode_sb(&sb, &m, err), 0, "%s", err);
  ptst_example(PROTO_TASK, &want);
  ptst_assert_msg_eq(&want, &m);
  proto_msg_fini(&want);
  proto_msg_fini(&m);
  msgpack_sbuffer_destroy(&sb);
  json_decref(d);
}

Test(codec_msgpack, duplicate_keys_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  /* d = {"repo":"a","repo":"b"} */
  static const char dup_d[] = "\x83\xa1v\x01\xa1t\xacscan_request\xa1\x64"
                              "\x82\xa4repo\xa1\x61\xa4repo\xa1\x62";
  /* {"v":1,"v":1,...} */
  static const char dup_v[] = "\x84\xa1v\x01\xa1v\x01\xa1t\xacscan_request"
                              "\xa1\x64\x81\xa4repo\xa1\x61";
  PTST_RC(proto_msgpack_decode(dup_d, sizeof dup_d - 1, &m, err, sizeof err),
          PROTO_EMALFORMED);
  cr_assert_str_eq(err, "scan_request.repo: duplicate key");
  ptst_assert_zeroed(&m);
  PTST_RC(proto_msgpack_decode(dup_v, sizeof dup_v - 1, &m, err, sizeof err),
          PROTO_EMALFORMED);
}

static void pack_str(msgpack_packer *pk, const void *arg)
{
  msgpack_pack_str_with_body(pk, arg, strlen(arg));
}

static void pack_nil(msgpack_packer *pk, const void *arg)
{
  msgpack_pack_nil(pk);
}

/* Fields are parsed as their entries are read, so a duplicate can follow
 * a value already copied out: refused all the same, nothing leaked (the
 * suite checks), the message zeroed (decode_sb checks). A nil counts as
 * the key's one appearance too. */
Test(codec_msgpack, a_key_repeated_after_its_value_was_parsed_is_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_packed(PROTO_TASK, "title", pack_str, "first", pack_str,
                        "second", &m, err),
          PROTO_EMALFORMED);
  cr_assert_str_eq(err, "task.title: duplicate key");
  PTST_RC(decode_packed(PROTO_TASK, "title", pack_nil, NULL, pack_str, "x",
                        &m, err),
          PROTO_EMALFORMED);
  cr_assert_str_eq(err, "task.title: duplicate key");
  PTST_RC(decode_packed(PROTO_TASK, "id", pack_str, "a", pack_nil, NULL, &m,
                        err),
          PROTO_EMALFORMED);
  cr_assert_str_eq(err, "task.id: duplicate key");
}

/* Every width msgpack gives a number (the compact forms msgpack-c picks:
 * fixint, 8, 16, 32 and 64 bits, signed and unsigned; float32/64) and a
 * string (fixstr, str8, str16) decodes to its value. */
Test(codec_msgpack, every_number_and_string_width_decodes_to_its_value)
{
  proto_msg_t m;
  char err[ERRLEN];
  static const int64_t ints[] = {
      0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295LL, 4294967296LL,
      INT64_MAX, -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN,
      (int64_t)INT32_MIN - 1, INT64_MIN};
  for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
    cr_assert_eq(decode_raw(PROTO_TASK, "updated_at", pack_i64, &ints[i], &m,
                            err),
                 0, "%s", err);
    cr_assert_eq(m.u.task.updated_at, ints[i], "%lld", (long long)ints[i]);
    proto_msg_fini(&m);
    if (ints[i] < 0)
      continue;
    uint64_t u = (uint64_t)ints[i];
    cr_assert_eq(decode_raw(PROTO_TASK, "updated_at", pack_u64, &u, &m, err),
                 0, "%s", err);
    cr_assert_eq(m.u.task.updated_at, ints[i]);
    proto_msg_fini(&m);
  }
  static const double dbls[] = {0.5, -2.25e300, 5e-324, 1.0 / 3.0};
  for (size_t i = 0; i < sizeof(dbls) / sizeof(dbls[0]); i++) {
    cr_assert_eq(decode_raw(PROTO_METRIC_SAMPLE, "value", pack_f64, &dbls[i],
                            &m, err),
                 0, "%s", err);
    cr_assert_eq(m.u.metric_sample.value, dbls[i]);
    proto_msg_fini(&m);
  }
  float f = -0.1f;
  cr_assert_eq(decode_raw(PROTO_METRIC_SAMPLE, "value", pack_f32, &f, &m, err),
               0, "%s", err);
  cr_assert_eq(m.u.metric_sample.value, (double)f);
  proto_msg_fini(&m);
  static const size_t lens[] = {0, 31, 32, 255, 256, 4000};
  char text[4001];
  for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    for (size_t k = 0; k < lens[i]; k++)
      text[k] = (char)('a' + k % 26);
    text[lens[i]] = '\0';
    cr_assert_eq(decode_raw(PROTO_TASK, "text", pack_str, text, &m, err), 0,
                 "%s", err);
    cr_assert_str_eq(m.u.task.text, text);
    proto_msg_fini(&m);
  }
}

Test(codec_msgpack, non_string_keys_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  /* d = {1: "a", "repo": "b"} */
  static const char msg[] = "\x83\xa1v\x01\xa1t\xacscan_request\xa1\x64"
                            "\x82\x01\xa1\x61\xa4repo\xa1\x62";
  PTST_RC(proto_msgpack_decode(msg, sizeof msg - 1, &m, err, sizeof err),
          PROTO_EFIELD);
}

/* ---- fields ---- */

/* Every field of every fixture, given a value of another type, is refused
 * with PROTO_EFIELD and an error naming it. (Event and reply "data" take
 * any JSON value and are skipped.) */
Test(codec_msgpack, wrong_value_types_are_refused_per_field)
{
  ptst_check_wrong_type_per_field(ptst_load_d, decode_with);
}

/* The same inside the nested maps and the list. */
Test(codec_msgpack, wrong_value_types_are_refused_in_nested_maps)
{
  ptst_check_wrong_type_in_nested_maps(ptst_load_d, decode_with);
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_with(PROTO_TASK, "labels", json_pack("[s,i]", "a", 2), &m, err),
          PROTO_EFIELD);
  cr_assert_str_eq(err, "task.labels[1]: expected a string");
}

Test(codec_msgpack, binary_and_extension_values_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_raw(PROTO_TASK, "title", pack_bin, NULL, &m, err),
          PROTO_EFIELD);
  PTST_RC(decode_raw(PROTO_TASK, "title", pack_ext, NULL, &m, err),
          PROTO_EFIELD);
  PTST_RC(decode_raw(PROTO_EVENT, "data", pack_bin, NULL, &m, err),
          PROTO_EFIELD);
  PTST_RC(decode_raw(PROTO_REPLY, "data", pack_ext, NULL, &m, err),
          PROTO_EFIELD);
}

Test(codec_msgpack, missing_or_nil_required_fields_are_refused)
{
  ptst_check_required_fields(decode_with);
}

/* Every field proto.h does not mark required may be left out or be nil. */
Test(codec_msgpack, optional_fields_may_be_absent_or_nil)
{
  ptst_check_optional_fields(ptst_load_d, decode_with);
}

Test(codec_msgpack, absent_fields_decode_as_zero)
{
  json_t *d = json_pack("{s:s,s:s,s:s,s:s}", "id", "1", "repo", "r", "kind",
                        "todo", "state", "new");
  proto_msg_t m, want;
  char err[ERRLEN];
  cr_assert_eq(decode_d(PROTO_TASK, d, &m, err), 0, "%s", err);
  ptst_minimal(PROTO_TASK, &want);
  ptst_assert_msg_eq(&want, &m);
  cr_assert_null(m.u.task.labels.items);
  cr_assert_null(m.u.task.score.why);
  proto_msg_fini(&m);
  proto_msg_fini(&want);
  json_decref(d);
}

Test(codec_msgpack, a_failed_reply_needs_an_error_code)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_with(PROTO_REPLY, "error", NULL, &m, err), PROTO_EFIELD);
  cr_assert_str_eq(err, "reply.error.code: missing required field (ok is false)");
  PTST_RC(decode_with(PROTO_REPLY, "error",
                      json_pack("{s:s}", "message", "x"), &m, err),
          PROTO_EFIELD);
  /* ok: true needs none. */
  json_t *d = json_pack("{s:b}", "ok", 1);
  cr_assert_eq(decode_d(PROTO_REPLY, d, &m, err), 0, "%s", err);
  cr_assert(m.u.reply.ok);
  cr_assert_null(m.u.reply.error_code);
  proto_msg_fini(&m);
  json_decref(d);
}

Test(codec_msgpack, command_args_must_be_an_object)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_with(PROTO_COMMAND, "args", json_pack("[i]", 1), &m, err),
          PROTO_EFIELD);
  cr_assert_str_eq(err, "command.args: expected an object");
  PTST_RC(decode_with(PROTO_COMMAND, "args", json_integer(1), &m, err),
          PROTO_EFIELD);
}

Test(codec_msgpack, data_may_be_any_json_value)
{
  json_t *values[] = {json_integer(-5), json_string("x"), json_true(),
                      json_real(0.5), json_pack("[i,n,{}]", 1)};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    proto_msg_t m;
    char err[ERRLEN];
    json_t *want = json_incref(values[i]);
    cr_assert_eq(decode_with(PROTO_EVENT, "data", values[i], &m, err), 0, "%s",
                 err);
    cr_assert(json_equal(m.u.event.data, want));
    proto_msg_fini(&m);
    json_decref(want);
  }
}

/* ---- caps ---- */

Test(codec_msgpack, strings_over_their_caps_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];

  cr_assert_eq(decode_with(PROTO_TASK, "title", ptst_str_of(PROTO_MAX_STR, 'x'),
                           &m, err), 0, "%s", err);
  proto_msg_fini(&m);
  PTST_RC(decode_with(PROTO_TASK, "title", ptst_str_of(PROTO_MAX_STR + 1, 'x'),
                      &m, err), PROTO_ETOOBIG);
  ptst_err_starts(err, "task.title: ");
  PTST_RC(decode_with(PROTO_TASK, "id", ptst_str_of(PROTO_MAX_STR + 1, 'x'), &m,
                      err), PROTO_ETOOBIG);
  cr_assert_eq(decode_with(PROTO_FINDING, "text", ptst_str_of(PROTO_MAX_TEXT, 'x'),
                           &m, err), 0, "%s", err);
  proto_msg_fini(&m);
  PTST_RC(decode_with(PROTO_FINDING, "text", ptst_str_of(PROTO_MAX_TEXT + 1, 'x'),
                      &m, err), PROTO_ETOOBIG);
  PTST_RC(decode_with(PROTO_AGENT_OUTPUT, "line",
                      ptst_str_of(PROTO_MAX_TEXT + 1, 'x'), &m, err),
          PROTO_ETOOBIG);
  PTST_RC(decode_with(PROTO_ALERT, "message", ptst_str_of(PROTO_MAX_TEXT + 1, 'x'),
                      &m, err), PROTO_ETOOBIG);
  PTST_RC(decode_with(PROTO_TASK, "labels",
                      json_pack("[o]", ptst_str_of(PROTO_MAX_STR + 1, 'x')), &m,
                      err), PROTO_ETOOBIG);
  cr_assert_str_eq(err, "task.labels[0]: string of 4097 bytes is over the "
                        "4096-byte cap");
  /* Inside JSON members: strings as text, keys as plain strings. */
  PTST_RC(decode_with(PROTO_EVENT, "data",
                      json_pack("[o]", ptst_str_of(PROTO_MAX_TEXT + 1, 'x')), &m,
                      err), PROTO_ETOOBIG);
  json_t *obj = json_object();
  json_t *key = ptst_str_of(PROTO_MAX_STR + 1, 'k');
  json_object_set_new(obj, json_string_value(key), json_true());
  json_decref(key);
  PTST_RC(decode_with(PROTO_COMMAND, "args", obj, &m, err), PROTO_ETOOBIG);
}

Test(codec_msgpack, lists_over_the_cap_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  json_t *list = json_array();
  for (int i = 0; i < PROTO_MAX_LIST; i++)
    json_array_append_new(list, json_string("l"));
  cr_assert_eq(decode_with(PROTO_METRIC_SAMPLE, "labels", json_incref(list),
                           &m, err), 0, "%s", err);
  cr_assert_eq(m.u.metric_sample.labels.len, PROTO_MAX_LIST);
  proto_msg_fini(&m);
  json_array_append_new(list, json_string("l"));
  PTST_RC(decode_with(PROTO_METRIC_SAMPLE, "labels", list, &m, err),
          PROTO_ETOOBIG);
  cr_assert_str_eq(err, "metric_sample.labels: 65 items, over the cap of 64");
}

Test(codec_msgpack, json_members_nested_too_deep_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];

  cr_assert_eq(decode_with(PROTO_COMMAND, "args", ptst_nested(PROTO_MAX_DEPTH, false),
                           &m, err), 0, "%s", err);
  proto_msg_fini(&m);
  PTST_RC(decode_with(PROTO_COMMAND, "args", ptst_nested(PROTO_MAX_DEPTH + 1, false),
                      &m, err), PROTO_EDEPTH);
  cr_assert_str_eq(err, "command.args: nesting deeper than 16 levels");
  PTST_RC(decode_with(PROTO_COMMAND, "args", ptst_nested(100, false), &m, err),
          PROTO_EDEPTH);
  PTST_RC(decode_with(PROTO_EVENT, "data", ptst_nested(100, true), &m, err),
          PROTO_EDEPTH);
  cr_assert_eq(decode_with(PROTO_EVENT, "data", ptst_nested(PROTO_MAX_DEPTH, true),
                           &m, err), 0, "%s", err);
  proto_msg_fini(&m);
  /* Even in a field nobody reads. */
  PTST_RC(decode_with(PROTO_TASK, "unknown", ptst_nested(100, true), &m, err),
          PROTO_EDEPTH);
}

Test(codec_msgpack, raw_deep_nesting_is_refused)
{
  /* 100000 nested one-element arrays: no stack overflow, no allocation. */
  size_t n = 100000;
  uint8_t *deep = malloc(n + 1);
  memset(deep, 0x91, n);
  deep[n] = 0x01;
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(proto_msgpack_decode(deep, n + 1, &m, err, sizeof err), PROTO_EDEPTH);
  ptst_assert_zeroed(&m);
  free(deep);
}

/* ---- values ---- */

Test(codec_msgpack, invalid_utf8_is_refused)
{
  static const char *const bad[] = {
      "\xff",             /* never valid */
      "a\x80",            /* stray continuation byte */
      "\xc0\xaf",         /* overlong '/' */
      "\xe0\x80\xaf",     /* overlong, 3 bytes */
      "\xed\xa0\x80",     /* UTF-16 surrogate */
      "\xf4\x90\x80\x80", /* above U+10FFFF */
      "\xe2\x82",         /* truncated sequence */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    proto_msg_t m;
    char err[ERRLEN];
    json_t *s = json_stringn_nocheck(bad[i], strlen(bad[i]));
    PTST_RC(decode_with(PROTO_FINDING, "repo", s, &m, err), PROTO_EVALUE);
    cr_assert_str_eq(err, "finding.repo: string is not valid UTF-8");
    s = json_stringn_nocheck(bad[i], strlen(bad[i]));
    PTST_RC(decode_with(PROTO_EVENT, "data", json_pack("{s:o}", "k", s), &m,
                        err), PROTO_EVALUE);
    json_t *obj = json_object();
    json_object_set_new_nocheck(obj, bad[i], json_true());
    PTST_RC(decode_with(PROTO_COMMAND, "args", obj, &m, err), PROTO_EVALUE);
    s = json_stringn_nocheck(bad[i], strlen(bad[i]));
    PTST_RC(decode_with(PROTO_TASK, "state", s, &m, err), PROTO_EVALUE);
  }
  proto_msg_t m;
  char err[ERRLEN];
  /* 2-, 3- and 4-byte sequences at the edges are fine. */
  cr_assert_eq(decode_with(PROTO_FINDING, "repo",
                           json_string("\xc2\x80\xef\xbf\xbf\xf0\x9f\x98\x80"
                                       "\xf4\x8f\xbf\xbf"),
                           &m, err), 0, "%s", err);
  proto_msg_fini(&m);
}

Test(codec_msgpack, nul_bytes_in_strings_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_with(PROTO_FINDING, "repo", json_stringn("a\0b", 3), &m, err),
          PROTO_EVALUE);
  cr_assert_str_eq(err, "finding.repo: string contains a NUL byte");
  PTST_RC(decode_with(PROTO_EVENT, "data", json_stringn("a\0b", 3), &m, err),
          PROTO_EVALUE);
}

Test(codec_msgpack, integers_outside_their_c_type_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  uint64_t u;
  int64_t i;

  i = (int64_t)UINT32_MAX + 1;
  PTST_RC(decode_raw(PROTO_TASK, "line", pack_i64, &i, &m, err), PROTO_EVALUE);
  cr_assert_str_eq(err, "task.line: 4294967296 is out of range (0..4294967295)");
  i = -1;
  PTST_RC(decode_raw(PROTO_TASK, "line", pack_i64, &i, &m, err), PROTO_EVALUE);
  PTST_RC(decode_raw(PROTO_TASK, "attempts", pack_i64, &i, &m, err),
          PROTO_EVALUE);
  PTST_RC(decode_raw(PROTO_SCAN_DONE, "files", pack_i64, &i, &m, err),
          PROTO_EVALUE);
  u = (uint64_t)INT64_MAX + 1;
  PTST_RC(decode_raw(PROTO_SCAN_DONE, "files", pack_u64, &u, &m, err),
          PROTO_EVALUE);
  PTST_RC(decode_raw(PROTO_FINDING, "authored_at", pack_u64, &u, &m, err),
          PROTO_EVALUE);
  u = UINT64_MAX;
  PTST_RC(decode_raw(PROTO_EVENT, "seq", pack_u64, &u, &m, err), PROTO_EVALUE);
  PTST_RC(decode_raw(PROTO_EVENT, "data", pack_u64, &u, &m, err), PROTO_EVALUE);
  /* The edges that fit. */
  u = UINT32_MAX;
  cr_assert_eq(decode_raw(PROTO_TASK, "line", pack_u64, &u, &m, err), 0, "%s", err);
  cr_assert_eq(m.u.task.loc.line, UINT32_MAX);
  proto_msg_fini(&m);
  i = INT64_MIN;
  cr_assert_eq(decode_raw(PROTO_TASK, "updated_at", pack_i64, &i, &m, err), 0,
               "%s", err);
  cr_assert_eq(m.u.task.updated_at, INT64_MIN);
  proto_msg_fini(&m);
}

Test(codec_msgpack, event_seq_and_ts_have_domains)
{
  proto_msg_t m;
  char err[ERRLEN];
  int64_t i;
  uint64_t u;

  PTST_RC(decode_with(PROTO_EVENT, "seq", json_integer(0), &m, err),
          PROTO_EVALUE);
  cr_assert_str_eq(err, "event.seq: must be at least 1");
  i = -1;
  PTST_RC(decode_raw(PROTO_EVENT, "ts", pack_i64, &i, &m, err), PROTO_EVALUE);
  u = 253402300800000; /* year 10000 */
  PTST_RC(decode_raw(PROTO_EVENT, "ts", pack_u64, &u, &m, err), PROTO_EVALUE);
  PTST_RC(decode_with(PROTO_EVENT, "ts", json_string("2026-11-24T09:00:00.123Z"),
                      &m, err), PROTO_EFIELD);
}

Test(codec_msgpack, doubles_accept_integers_and_float32)
{
  proto_msg_t m;
  char err[ERRLEN];
  int64_t i = -3;
  uint64_t u = 12;
  float f = 12.5f;

  cr_assert_eq(decode_raw(PROTO_METRIC_SAMPLE, "value", pack_i64, &i, &m, err),
               0, "%s", err);
  cr_assert_eq(m.u.metric_sample.value, -3.0);
  proto_msg_fini(&m);
  cr_assert_eq(decode_raw(PROTO_METRIC_SAMPLE, "value", pack_u64, &u, &m, err),
               0, "%s", err);
  cr_assert_eq(m.u.metric_sample.value, 12.0);
  proto_msg_fini(&m);
  cr_assert_eq(decode_raw(PROTO_METRIC_SAMPLE, "value", pack_f32, &f, &m, err),
               0, "%s", err);
  cr_assert_eq(m.u.metric_sample.value, 12.5);
  proto_msg_fini(&m);
}

Test(codec_msgpack, non_finite_doubles_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  double d[] = {NAN, INFINITY, -INFINITY};
  for (int k = 0; k < 3; k++) {
    PTST_RC(decode_raw(PROTO_METRIC_SAMPLE, "value", pack_f64, &d[k], &m, err),
            PROTO_EVALUE);
    PTST_RC(decode_raw(PROTO_EVENT, "data", pack_f64, &d[k], &m, err),
            PROTO_EVALUE);
  }
}

Test(codec_msgpack, unknown_states_are_refused_by_name)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_with(PROTO_TASK, "state", json_string("open"), &m, err),
          PROTO_EVALUE);
  cr_assert_str_eq(err, "task.state: unknown state \"open\"");
  PTST_RC(decode_with(PROTO_TASK, "state", json_string("New"), &m, err),
          PROTO_EVALUE);
  PTST_RC(decode_with(PROTO_TASK, "state", json_string("new\"\\x"), &m, err),
          PROTO_EVALUE);
  cr_assert_str_eq(err, "task.state: unknown state \"new\\\"\\\\x\"");
  PTST_RC(decode_with(PROTO_TASK, "state", json_integer(2), &m, err),
          PROTO_EFIELD);
  /* Names longer than any state (the lookup copies into a small buffer;
   * ASan builds catch an overrun). */
  for (size_t n = 15; n <= 80; n++)
    PTST_RC(decode_with(PROTO_TASK, "state", ptst_str_of(n, 'r'), &m, err),
            PROTO_EVALUE);
  PTST_RC(decode_with(PROTO_TASK_UPDATE, "to", ptst_str_of(PROTO_MAX_STR, 'r'), &m,
                      err), PROTO_EVALUE);
  cr_assert_str_eq(err, "task_update.to: unknown state \"rrrrrrrrrrrrrrrrrrrr"
                        "rrrrrrrrrrrr...\"");
  PTST_RC(decode_with(PROTO_TASK, "state", json_stringn("ready\0x", 7), &m,
                      err), PROTO_EVALUE);
}

Test(codec_msgpack, illegal_transitions_are_refused)
{
  proto_msg_t m;
  char err[ERRLEN];
  json_t *d = ptst_load_d(PROTO_TASK_UPDATE);
  for (int f = 0; f < PROTO_STATE_COUNT; f++)
    for (int t = 0; t < PROTO_STATE_COUNT; t++) {
      json_object_set_new(d, "from", json_string(proto_state_name(f)));
      json_object_set_new(d, "to", json_string(proto_state_name(t)));
      int rc = decode_d(PROTO_TASK_UPDATE, d, &m, err);
      if (proto_state_transition_ok(f, t)) {
        cr_assert_eq(rc, 0, "%s", err);
        cr_assert_eq(m.u.task_update.from, (proto_state_t)f);
        cr_assert_eq(m.u.task_update.to, (proto_state_t)t);
        proto_msg_fini(&m);
      } else {
        cr_assert_eq(rc, PROTO_EVALUE, "%d -> %d", f, t);
      }
    }
  json_object_set_new(d, "from", json_string("done"));
  json_object_set_new(d, "to", json_string("running"));
  PTST_RC(decode_d(PROTO_TASK_UPDATE, d, &m, err), PROTO_EVALUE);
  cr_assert_str_eq(err, "task_update.to: transition done -> running is not "
                        "allowed");
  json_decref(d);
}

Test(codec_msgpack, enumerated_words_are_checked)
{
  proto_msg_t m;
  char err[ERRLEN];
  PTST_RC(decode_with(PROTO_ALERT, "severity", json_string("fatal"), &m, err),
          PROTO_EVALUE);
  cr_assert_str_eq(err, "alert.severity: unknown value \"fatal\"");
  PTST_RC(decode_with(PROTO_AGENT_OUTPUT, "stream", json_string("stdin"), &m,
                      err), PROTO_EVALUE);
  cr_assert_eq(decode_with(PROTO_ALERT, "severity", json_string("critical"),
                           &m, err), 0, "%s", err);
  proto_msg_fini(&m);
}

Test(codec_msgpack, json_members_refuse_bad_keys_and_duplicates)
{
  proto_msg_t m;
  char err[ERRLEN];
  /* command with args = {1: true} and args = {"a":1,"a":2} */
  static const char intkey[] = "\x83\xa1v\x01\xa1t\xa7\x63ommand\xa1\x64\x82"
                               "\xa6\x61\x63tion\xa3run\xa4\x61rgs\x81\x01\xc3";
  static const char dup[] = "\x83\xa1v\x01\xa1t\xa7\x63ommand\xa1\x64\x82"
                            "\xa6\x61\x63tion\xa3run\xa4\x61rgs\x82\xa1\x61"
                            "\x01\xa1\x61\x02";
  PTST_RC(proto_msgpack_decode(intkey, sizeof intkey - 1, &m, err, sizeof err),
          PROTO_EFIELD);
  cr_assert_str_eq(err, "command.args: map key is not a string");
  PTST_RC(proto_msgpack_decode(dup, sizeof dup - 1, &m, err, sizeof err),
          PROTO_EMALFORMED);
  ptst_assert_zeroed(&m);
}

/* ---- encoding refuses what decoding would ---- */

static void encode_refused(proto_msg_t *m, int want)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_sbuffer_write(&sb, "keep", 4);
  PTST_RC(proto_msgpack_encode(m, &sb), want);
  cr_assert_eq(sb.size, 4, "the buffer grew to %zu", sb.size);
  cr_assert_null(proto_json_encode(m));
  msgpack_sbuffer_destroy(&sb);
  proto_msg_fini(m);
}

Test(codec_msgpack, encoding_refuses_invalid_messages)
{
  proto_msg_t m;

  ptst_example(PROTO_TASK, &m);
  free(m.u.task.repo);
  m.u.task.repo = NULL;
  encode_refused(&m, PROTO_EFIELD);

  ptst_example(PROTO_TASK, &m);
  m.u.task.state = (proto_state_t)11;
  encode_refused(&m, PROTO_EVALUE);

  ptst_example(PROTO_TASK, &m);
  m.u.task.score.value = NAN;
  encode_refused(&m, PROTO_EVALUE);

  ptst_example(PROTO_TASK, &m);
  free(m.u.task.title);
  m.u.task.title = strdup("\xff");
  encode_refused(&m, PROTO_EVALUE);

  ptst_example(PROTO_TASK, &m);
  m.u.task.labels.len = PROTO_MAX_LIST + 1; /* refused before it is read */
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  PTST_RC(proto_msgpack_encode(&m, &sb), PROTO_ETOOBIG);
  cr_assert_eq(sb.size, 0);
  cr_assert_null(proto_json_encode(&m));
  msgpack_sbuffer_destroy(&sb);
  m.u.task.labels.len = 2;
  proto_msg_fini(&m);

  ptst_example(PROTO_SCAN_PROGRESS, &m);
  m.u.scan_progress.bytes = (uint64_t)INT64_MAX + 1;
  encode_refused(&m, PROTO_EVALUE);

  ptst_example(PROTO_TASK_UPDATE, &m);
  m.u.task_update.from = PROTO_STATE_DONE;
  m.u.task_update.to = PROTO_STATE_RUNNING;
  encode_refused(&m, PROTO_EVALUE);

  ptst_example(PROTO_EVENT, &m);
  m.u.event.seq = 0;
  encode_refused(&m, PROTO_EVALUE);

  ptst_example(PROTO_EVENT, &m);
  m.u.event.ts = -1;
  encode_refused(&m, PROTO_EVALUE);

  ptst_example(PROTO_COMMAND, &m);
  json_decref(m.u.command.args);
  m.u.command.args = ptst_nested(100, false);
  encode_refused(&m, PROTO_EDEPTH);

  ptst_example(PROTO_COMMAND, &m);
  json_decref(m.u.command.args);
  m.u.command.args = json_array();
  encode_refused(&m, PROTO_EFIELD);

  ptst_example(PROTO_REPLY, &m);
  free(m.u.reply.error_code);
  m.u.reply.error_code = NULL;
  encode_refused(&m, PROTO_EFIELD);

  memset(&m, 0, sizeof m);
  encode_refused(&m, PROTO_ETYPE);
  m.type = (proto_type_t)13;
  encode_refused(&m, PROTO_ETYPE);
  PTST_RC(proto_msgpack_encode(NULL, NULL), PROTO_EFIELD);
}

Test(codec_msgpack, encoding_refuses_a_message_over_the_cap)
{
  proto_msg_t m;
  ptst_example(PROTO_EVENT, &m);
  json_decref(m.u.event.data);
  m.u.event.data = json_array();
  for (int i = 0; i < 17; i++) /* 17 x 64 KiB > 1 MiB */
    json_array_append_new(m.u.event.data, ptst_str_of(PROTO_MAX_TEXT, 'z'));
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  PTST_RC(proto_msgpack_encode(&m, &sb), PROTO_ETOOBIG);
  cr_assert_eq(sb.size, 0);
  msgpack_sbuffer_destroy(&sb);
  proto_msg_fini(&m);
}

/* ---- exact matching of keys and names (lengths, then bytes) ---- */

/* The task fixture with one more "d" entry, key @p key (@p klen bytes,
 * anything) -> [] (no field accepts an empty array, so a key taken for a
 * field fails the decode), put first or last, decoded. */
static int decode_extra_key(const char *key, size_t klen, bool first,
                            proto_msg_t *m, char *err)
{
  json_t *d = ptst_load_d(PROTO_TASK);
  msgpack_sbuffer sb;
  msgpack_packer pk;

  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  pack_head(&pk, PROTO_TASK, json_object_size(d) + 1);
  if (!first)
    pack_entries(&pk, d);
  msgpack_pack_str_with_body(&pk, key, klen);
  msgpack_pack_array(&pk, 0);
  if (first)
    pack_entries(&pk, d);
  int rc = decode_sb(&sb, m, err);
  msgpack_sbuffer_destroy(&sb);
  json_decref(d);
  return rc;
}

static void expect_skipped(const char *key, size_t klen)
{
  proto_msg_t m, want;
  char err[ERRLEN];

  ptst_example(PROTO_TASK, &want);
  for (int first = 0; first < 2; first++) {
    cr_assert_eq(decode_extra_key(key, klen, first, &m, err), 0,
                 "key of %zu bytes near \"%.*s\" taken for a field: %s", klen,
                 (int)klen, key, err);
    ptst_assert_msg_eq(&want, &m);
    proto_msg_fini(&m);
  }
  proto_msg_fini(&want);
}

Test(codec_msgpack, keys_that_nearly_name_a_field_are_unknown)
{
  /* Every key of a task (lengths 2 to 16, the lengths the matcher
   * compares in different ways), changed in one byte at each place, cut
   * by one, grown by one byte or by a NUL: none of them is the field. */
  static const char *const keys[] = {
      "id", "repo", "kind", "title", "path", "line", "column", "symbol",
      "text", "author", "authored_at", "first_seen", "last_seen", "labels",
      "issue_number", "pr_url", "branch", "attempts", "score", "state",
      "pinned", "updated_at", "time_criticality", "risk_reduction"};
  char k[40];

  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    size_t n = strlen(keys[i]);
    for (size_t at = 0; at < n; at++) {
      memcpy(k, keys[i], n);
      k[at] ^= 0x20; /* 'a' <-> 'A', '_' <-> DEL */
      expect_skipped(k, n);
      k[at] = '\0';
      expect_skipped(k, n);
    }
    memcpy(k, keys[i], n);
    expect_skipped(k, n - 1);
    k[n] = 'x';
    expect_skipped(k, n + 1);
    k[n] = '\0';
    expect_skipped(k, n + 1);
  }
}

Test(codec_msgpack, state_and_type_names_match_exactly)
{
  proto_msg_t m;
  char err[ERRLEN], name[40];

  for (int s = 0; s < PROTO_STATE_COUNT; s++) {
    const char *st = proto_state_name((proto_state_t)s);
    size_t n = strlen(st);
    cr_assert_eq(decode_with(PROTO_TASK, "state", json_string(st), &m, err),
                 0, "%s", err);
    cr_assert_eq(m.u.task.state, s);
    proto_msg_fini(&m);
    memcpy(name, st, n);
    PTST_RC(decode_with(PROTO_TASK, "state", json_stringn(name, n - 1), &m,
                        err), PROTO_EVALUE);
    name[n] = 's';
    PTST_RC(decode_with(PROTO_TASK, "state", json_stringn(name, n + 1), &m,
                        err), PROTO_EVALUE);
    name[n - 1] ^= 0x20;
    PTST_RC(decode_with(PROTO_TASK, "state", json_stringn(name, n), &m, err),
            PROTO_EVALUE);
  }
  for (int t = 1; t <= PTST_NTYPES; t++) {
    const char *tn = proto_type_name((proto_type_t)t);
    size_t n = strlen(tn);
    json_t *d = ptst_load_d((proto_type_t)t);
    msgpack_sbuffer sb;
    memcpy(name, tn, n);
    for (int variant = 0; variant < 3; variant++) {
      size_t len = variant == 0 ? n - 1 : n + 1;
      name[n] = variant == 1 ? '\0' : 's';
      char *type = strndup(name, len);
      cr_assert_not_null(type);
      msgpack_sbuffer_init(&sb);
      ptst_pack_msg(&sb, 1, type, d); /* stops at a NUL: "task" again */
      int rc = decode_sb(&sb, &m, err);
      if (variant == 1) {
        cr_assert_eq(rc, 0, "%s", err);
        proto_msg_fini(&m);
      } else {
        PTST_RC(rc, PROTO_ETYPE);
      }
      free(type);
      msgpack_sbuffer_destroy(&sb);
    }
    /* The name with a NUL byte inside the string itself. */
    static const char head[] = "\x83\xa1v\x01\xa1t";
    uint8_t raw[64];
    size_t len = 0;
    memcpy(raw, head, sizeof head - 1);
    len = sizeof head - 1;
    raw[len++] = (uint8_t)(0xa0 | (n + 1));
    memcpy(raw + len, tn, n);
    len += n;
    raw[len++] = 0;
    memcpy(raw + len, "\xa1\x64\x80", 3);
    len += 3;
    PTST_RC(proto_msgpack_decode(raw, len, &m, err, sizeof err), PROTO_ETYPE);
    json_decref(d);
  }
}

Test(codec_msgpack, a_nul_byte_is_reported_before_invalid_utf8)
{
  /* The one-pass check stops at the first problem; a NUL anywhere must
   * still be the one reported, and a problem past a run of ASCII found. */
  static const struct {
    const char *s;
    size_t len;
    bool nul;
  } cases[] = {
      {"\xff\0", 2, true},
      {"\0\xff", 2, true},
      {"abcdefg\0", 8, true},
      {"abcdefgh\0", 9, true},
      {"abcdefghijklmno\0", 16, true},
      {"abc\xff" "defghijkl\0mn", 16, true},
      {"abcdefghijklmno\xff", 16, false},
      {"abcdefgh\xe2\x82", 10, false},
      {"abcdefgh\xc3", 9, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    proto_msg_t m;
    char err[ERRLEN];
    json_t *s = json_stringn_nocheck(cases[i].s, cases[i].len);
    PTST_RC(decode_with(PROTO_FINDING, "repo", s, &m, err), PROTO_EVALUE);
    cr_assert_str_eq(err, cases[i].nul
                              ? "finding.repo: string contains a NUL byte"
                              : "finding.repo: string is not valid UTF-8",
                     "case %zu", i);
  }
  proto_msg_t m;
  char err[ERRLEN];
  cr_assert_eq(decode_with(PROTO_FINDING, "repo",
                           json_string("abcdefgh\xc3\xa9ijklmnop\xe2\x82\xac"),
                           &m, err), 0, "%s", err);
  cr_assert_str_eq(m.u.finding.repo, "abcdefgh\xc3\xa9ijklmnop\xe2\x82\xac");
  proto_msg_fini(&m);
}

/* ---- well-formedness first ----
 *
 * The decoder reads a message once and runs the structural pre-scan only
 * when reading fails (protocol/codec_msgpack.c). These tests pin what
 * that must not change: a message that is not well-formed msgpack is
 * refused for that even when a field before the fault is wrong too, and
 * values the walker never parses (unknown keys, JSON members, lists) are
 * checked like the rest, to the same nesting bound. */

/* A task whose "d" ends with "state": <state>, then "zz": @p raw (if
 * any) as raw bytes, then @p tail as raw bytes after the message. */
static int decode_task_raw(const char *state, const char *raw, size_t rawlen,
                           const char *tail, size_t taillen, proto_msg_t *m,
                           char *err)
{
  json_t *d = ptst_load_d(PROTO_TASK);
  msgpack_sbuffer sb;
  msgpack_packer pk;

  json_object_del(d, "state");
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  pack_head(&pk, PROTO_TASK, json_object_size(d) + (raw != NULL ? 2 : 1));
  pack_entries(&pk, d);
  msgpack_pack_str_with_body(&pk, "state", 5);
  msgpack_pack_str_with_body(&pk, state, strlen(state));
  if (raw != NULL) {
    msgpack_pack_str_with_body(&pk, "zz", 2);
    msgpack_sbuffer_write(&sb, raw, rawlen);
  }
  msgpack_sbuffer_write(&sb, tail, taillen);
  int rc = decode_sb(&sb, m, err);
  msgpack_sbuffer_destroy(&sb);
  json_decref(d);
  return rc;
}

/* @p n nested one-element arrays around a 1. */
static char *nested_arrays(size_t n)
{
  char *p = malloc(n + 1);
  memset(p, 0x91, n);
  p[n] = 0x01;
  return p;
}

Test(codec_msgpack, a_malformed_message_is_refused_for_that_before_its_fields)
{
  proto_msg_t m;
  char err[ERRLEN];
  char *deep = nested_arrays(40);

  /* The field fault alone, then with a structural fault after it. */
  PTST_RC(decode_task_raw("open", NULL, 0, "", 0, &m, err), PROTO_EVALUE);
  cr_assert_str_eq(err, "task.state: unknown state \"open\"");
  PTST_RC(decode_task_raw("open", NULL, 0, "\xc0", 1, &m, err),
          PROTO_EMALFORMED);
  cr_assert_str_eq(err, "msgpack: 1 trailing bytes after the message");
  PTST_RC(decode_task_raw("open", "\x92\x01\xc1", 3, "", 0, &m, err),
          PROTO_EMALFORMED);
  cr_assert(strstr(err, "invalid format byte 0xc1") != NULL, "%s", err);
  PTST_RC(decode_task_raw("open", deep, 41, "", 0, &m, err), PROTO_EDEPTH);
  cr_assert_str_eq(err, "msgpack: nesting deeper than 32 levels");
  PTST_RC(decode_task_raw("open", "\xd9\x20xyz", 5, "", 0, &m, err),
          PROTO_EMALFORMED);
  cr_assert(strstr(err, "truncated input") != NULL, "%s", err);
  /* A map announcing more entries than there are bytes left. */
  PTST_RC(decode_task_raw("open", "\x8f\x01\x02", 3, "", 0, &m, err),
          PROTO_EMALFORMED);
  cr_assert(strstr(err, "truncated input") != NULL, "%s", err);
  free(deep);
}

Test(codec_msgpack, values_no_field_reads_are_checked_like_the_rest)
{
  proto_msg_t m;
  char err[ERRLEN];

  /* An unknown key's value: skipped when well-formed, refused when not. */
  cr_assert_eq(decode_task_raw("new", "\x92\x01\xc4\x01x", 5, "", 0, &m, err),
               0, "%s", err);
  proto_msg_fini(&m);
  PTST_RC(decode_task_raw("new", "\x92\x01\xc1", 3, "", 0, &m, err),
          PROTO_EMALFORMED);
  cr_assert(strstr(err, "0xc1") != NULL, "%s", err);
  PTST_RC(decode_task_raw("new", "\x81\xa1k\x93\x01\x02", 6, "", 0, &m, err),
          PROTO_EMALFORMED);
  /* "d" is the second level, so its entries may nest 30 more arrays: a
   * message nested exactly 32 deep decodes, one more level does not. */
  char *deep = nested_arrays(31);
  cr_assert_eq(decode_task_raw("new", deep + 1, 31, "", 0, &m, err), 0, "%s",
               err);
  proto_msg_fini(&m);
  PTST_RC(decode_task_raw("new", deep, 32, "", 0, &m, err), PROTO_EDEPTH);
  cr_assert_str_eq(err, "msgpack: nesting deeper than 32 levels");
  free(deep);
}

/* Raw bytes as a packed value (any bytes: well-formed or not). */
typedef struct raw_bytes {
  const char *p;
  size_t len;
} raw_bytes_t;

static void pack_raw(msgpack_packer *pk, const void *arg)
{
  const raw_bytes_t *raw = arg;
  pk->callback(pk->data, raw->p, raw->len);
}

/* The fixture of @p t with "d".@p key last, its value the raw bytes
 * @p raw. */
static int decode_key_raw(proto_type_t t, const char *key, const char *raw,
                          size_t len, proto_msg_t *m, char *err)
{
  raw_bytes_t bytes = {raw, len};
  return decode_raw(t, key, pack_raw, &bytes, m, err);
}

Test(codec_msgpack, json_members_and_lists_are_checked_before_they_are_read)
{
  proto_msg_t m;
  char err[ERRLEN];

  json_t *want = json_pack("[i,s]", 1, "x");

  cr_assert_eq(decode_key_raw(PROTO_EVENT, "data", "\x92\x01\xa1x", 4, &m,
                              err), 0, "%s", err);
  cr_assert(json_equal(m.u.event.data, want));
  proto_msg_fini(&m);
  json_decref(want);
  PTST_RC(decode_key_raw(PROTO_EVENT, "data", "\x92\x01\xc1", 3, &m, err),
          PROTO_EMALFORMED);
  cr_assert(strstr(err, "0xc1") != NULL, "%s", err);
  PTST_RC(decode_key_raw(PROTO_EVENT, "data", "\x92\x01\xd9\x09x", 5, &m,
                         err), PROTO_EMALFORMED);
  cr_assert(strstr(err, "truncated input") != NULL, "%s", err);
  /* A list of labels: read whole, refused whole when cut short. */
  cr_assert_eq(decode_key_raw(PROTO_TASK, "labels", "\x92\xa1x\xa1y", 5, &m,
                              err), 0, "%s", err);
  cr_assert_str_eq(m.u.task.labels.items[1], "y");
  proto_msg_fini(&m);
  PTST_RC(decode_key_raw(PROTO_TASK, "labels", "\x92\xa1x\xd9\x09y", 6, &m,
                         err), PROTO_EMALFORMED);
  cr_assert(strstr(err, "truncated input") != NULL, "%s", err);
}

Test(codec_msgpack, the_envelope_may_come_in_any_order)
{
  json_t *d = ptst_load_d(PROTO_TASK);
  proto_msg_t m, want;
  char err[ERRLEN];
  msgpack_sbuffer sb;
  msgpack_packer pk;

  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 4);
  msgpack_pack_str_with_body(&pk, "d", 1);
  json_msgpack_pack(&pk, d);
  msgpack_pack_str_with_body(&pk, "v", 1);
  msgpack_pack_uint64(&pk, 1);
  msgpack_pack_str_with_body(&pk, "x", 1);
  msgpack_pack_array(&pk, 1);
  msgpack_pack_nil(&pk);
  msgpack_pack_str_with_body(&pk, "t", 1);
  msgpack_pack_str_with_body(&pk, "task", 4);
  cr_assert_eq(decode_sb(&sb, &m, err), 0, "%s", err);
  ptst_example(PROTO_TASK, &want);
  ptst_assert_msg_eq(&want, &m);
  proto_msg_fini(&m);
  msgpack_sbuffer_write(&sb, "\x01", 1);
  PTST_RC(decode_sb(&sb, &m, err), PROTO_EMALFORMED);
  cr_assert_str_eq(err, "msgpack: 1 trailing bytes after the message");
  proto_msg_fini(&want);
  msgpack_sbuffer_destroy(&sb);
  json_decref(d);
}

Test(codec_msgpack, every_nul_and_non_ascii_byte_position_is_found)
{
  /* Strings of 1..40 bytes with one bad byte at each position: the
   * ASCII check reads eight bytes at a time and the last ones in one
   * overlapping load, and must see every byte. */
  char s[41];

  for (size_t len = 1; len <= 40; len++) {
    for (size_t at = 0; at < len; at++) {
      for (int bad = 0; bad < 2; bad++) {
        proto_msg_t m;
        char err[ERRLEN];
        memset(s, 'a', len);
        s[at] = bad ? '\0' : '\x80';
        json_t *v = json_stringn_nocheck(s, len);
        PTST_RC(decode_with(PROTO_FINDING, "repo", v, &m, err), PROTO_EVALUE);
        cr_assert_str_eq(err, bad ? "finding.repo: string contains a NUL byte"
                                  : "finding.repo: string is not valid UTF-8",
                         "length %zu, byte %zu", len, at);
      }
    }
    proto_msg_t m;
    char err[ERRLEN];
    memset(s, 'a', len);
    cr_assert_eq(decode_with(PROTO_FINDING, "repo",
                             json_stringn_nocheck(s, len), &m, err), 0,
                 "%s", err);
    cr_assert_eq(strlen(m.u.finding.repo), len);
    proto_msg_fini(&m);
  }
}
