/*
 * fuzz_msgpack.c: libFuzzer target for proto_msgpack_decode.
 *
 * Any input must decode or fail cleanly (a zeroed message, an error text,
 * no leak, no undefined behaviour). When it decodes, the message must
 * re-encode; that encoding must decode again and re-encode to the same
 * bytes (a fixed point after one round), and its JSON form must carry the
 * same message (fuzz_common.h). Build and run: fuzz/run.sh msgpack SECONDS.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char err[256];
  proto_msg_t m, m2;
  msgpack_sbuffer a, b;

  int rc = proto_msgpack_decode(data, size, &m, err, sizeof err);
  if (rc != 0) {
    FUZZ_CHECK(fuzz_zeroed(&m), "failed decode left the message set");
    FUZZ_CHECK(err[0] != '\0', "failure %d without a message", rc);
    FUZZ_CHECK(proto_strerror(rc)[0] == 'P', "unknown code %d", rc);
    return 0;
  }
  fuzz_encode(&m, &a);
  rc = proto_msgpack_decode(a.data, a.size, &m2, err, sizeof err);
  FUZZ_CHECK(rc == 0, "the re-encoding does not decode: %s", err);
  fuzz_encode(&m2, &b);
  FUZZ_CHECK(a.size == b.size && memcmp(a.data, b.data, a.size) == 0,
             "re-encoding is not stable for a %s", proto_type_name(m.type));
  fuzz_check_json_form(&m, &a);
  msgpack_sbuffer_destroy(&a);
  msgpack_sbuffer_destroy(&b);
  proto_msg_fini(&m);
  proto_msg_fini(&m2);
  return 0;
}
