/*
 * fuzz_json.c: libFuzzer target for proto_json_decode_text.
 *
 * The input is decoded as every message type in turn. Each attempt must
 * decode or fail cleanly (zeroed message, error text, no leak, no UB).
 * When it decodes, the JSON encoding of the message must decode to the
 * same JSON again, and its msgpack form must decode and carry the same
 * message (fuzz_common.h). Build and run: fuzz/run.sh json SECONDS.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_decoded(const proto_msg_t *m)
{
  char err[256];
  proto_msg_t m2;
  msgpack_sbuffer sb;
  json_t *j = proto_json_encode(m);

  FUZZ_CHECK(j != NULL, "a decoded %s does not re-encode",
             proto_type_name(m->type));
  int rc = proto_json_decode(m->type, j, &m2, err, sizeof err);
  FUZZ_CHECK(rc == 0, "the re-encoding does not decode: %s", err);
  json_t *j2 = proto_json_encode(&m2);
  FUZZ_CHECK(j2 != NULL && json_equal(j, j2),
             "JSON re-encoding is not stable for a %s",
             proto_type_name(m->type));
  fuzz_encode(m, &sb);
  fuzz_check_json_form(m, &sb);
  msgpack_sbuffer_destroy(&sb);
  json_decref(j2);
  json_decref(j);
  proto_msg_fini(&m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  for (int t = PROTO_FINDING; t <= PROTO_ALERT; t++) {
    char err[256];
    proto_msg_t m;
    int rc = proto_json_decode_text((proto_type_t)t, (const char *)data, size,
                                    &m, err, sizeof err);
    if (rc != 0) {
      FUZZ_CHECK(fuzz_zeroed(&m), "failed decode left the message set");
      FUZZ_CHECK(err[0] != '\0', "failure %d without a message", rc);
      continue;
    }
    check_decoded(&m);
    proto_msg_fini(&m);
  }
  return 0;
}
