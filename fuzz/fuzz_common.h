/*
 * fuzz_common.h: shared by the protocol fuzz targets in fuzz/.
 *
 * FUZZ_CHECK (fuzz_check.h) aborts with a message when a property fails,
 * so libFuzzer records the input as a crash (fuzz/run.sh keeps it under
 * build-fuzz/artifacts/). The properties checked after a successful decode
 * are those of protocol/proto.h: a decoded message re-encodes (the encoder
 * refuses nothing the decoder accepted), the re-encoding decodes again to
 * the same bytes / JSON, and the msgpack and JSON forms agree.
 */
#ifndef FUZZ_FUZZ_COMMON_H
#define FUZZ_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_check.h"
#include "protocol/proto.h"

/* Is @p m all zero bytes (the output of a failed decode)? */
static inline int fuzz_zeroed(const proto_msg_t *m)
{
  static const proto_msg_t zero;
  return memcmp(m, &zero, sizeof zero) == 0;
}

/* Encode @p m as msgpack into a fresh @p sb; must succeed. */
static inline void fuzz_encode(const proto_msg_t *m, msgpack_sbuffer *sb)
{
  msgpack_sbuffer_init(sb);
  int rc = proto_msgpack_encode(m, sb);
  FUZZ_CHECK(rc == 0, "a decoded %s does not re-encode: %s",
             proto_type_name(m->type), proto_strerror(rc));
}

/* The JSON form of @p m must exist, decode, and give @p m's msgpack
 * bytes @p want back. */
static inline void fuzz_check_json_form(const proto_msg_t *m,
                                        const msgpack_sbuffer *want)
{
  char err[256];
  proto_msg_t back;
  msgpack_sbuffer sb;
  json_t *j = proto_json_encode(m);

  FUZZ_CHECK(j != NULL, "a decoded %s has no JSON form",
             proto_type_name(m->type));
  int rc = proto_json_decode(m->type, j, &back, err, sizeof err);
  FUZZ_CHECK(rc == 0, "its JSON form does not decode: %s", err);
  fuzz_encode(&back, &sb);
  FUZZ_CHECK(sb.size == want->size &&
                 memcmp(sb.data, want->data, sb.size) == 0,
             "msgpack -> JSON -> msgpack changed the %s",
             proto_type_name(m->type));
  msgpack_sbuffer_destroy(&sb);
  proto_msg_fini(&back);
  json_decref(j);
}

#endif /* FUZZ_FUZZ_COMMON_H */
