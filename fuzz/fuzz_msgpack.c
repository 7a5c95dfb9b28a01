/*
 * fuzz_msgpack.c: libFuzzer target for proto_msgpack_decode.
 *
 * Any input must decode or fail cleanly (a zeroed message, an error text,
 * no leak, no undefined behaviour). When it decodes, the message must
 * re-encode; that encoding must decode again and re-encode to the same
 * bytes (a fixed point after one round), and its JSON form must carry the
 * same message (fuzz_common.h). Build and run: fuzz/run.sh msgpack SECONDS.
 *
 * Two ways in, both checked on every input:
 *   1. the bytes themselves, as msgpack;
 *   2. when the bytes are JSON text (e.g. {"v":1,"t":"task","d":{...}}),
 *      that JSON packed as msgpack by a plain packer.
 * Mutating length-prefixed msgpack rarely yields a well-formed message with
 * a changed string, so the second way lets byte mutations of JSON text
 * reach the decoder's field checks (lengths, states, caps, nesting) with
 * valid framing. The seed corpus has inputs of both kinds.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_common.h"
#include "tests/support/json_msgpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_bytes(const void *data, size_t size)
{
  char err[256];
  proto_msg_t m, m2;
  msgpack_sbuffer a, b;

  int rc = proto_msgpack_decode(data, size, &m, err, sizeof err);
  if (rc != 0) {
    FUZZ_CHECK(fuzz_zeroed(&m), "failed decode left the message set");
    FUZZ_CHECK(err[0] != '\0', "failure %d without a message", rc);
    FUZZ_CHECK(proto_strerror(rc)[0] == 'P', "unknown code %d", rc);
    return;
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
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  check_bytes(data, size);
  /* Only text that starts like a JSON object is tried as JSON. */
  if (size == 0 || data[0] != '{')
    return 0;
  json_t *j = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
  if (j == NULL)
    return 0;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  json_msgpack_pack(&pk, j);
  check_bytes(sb.data, sb.size);
  msgpack_sbuffer_destroy(&sb);
  json_decref(j);
  return 0;
}
