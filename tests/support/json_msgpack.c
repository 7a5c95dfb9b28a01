/* json_msgpack.c: see json_msgpack.h. */
#include "tests/support/json_msgpack.h"

static void pack_object(msgpack_packer *pk, const json_t *v)
{
  const char *key;
  size_t klen;
  json_t *item;

  msgpack_pack_map(pk, json_object_size(v));
  json_object_keylen_foreach((json_t *)v, key, klen, item) {
    msgpack_pack_str_with_body(pk, key, klen);
    json_msgpack_pack(pk, item);
  }
}

void json_msgpack_pack(msgpack_packer *pk, const json_t *v)
{
  size_t i;
  json_t *item;

  switch (json_typeof(v)) {
  case JSON_OBJECT:
    pack_object(pk, v);
    break;
  case JSON_ARRAY:
    msgpack_pack_array(pk, json_array_size(v));
    json_array_foreach(v, i, item) json_msgpack_pack(pk, item);
    break;
  case JSON_STRING:
    msgpack_pack_str_with_body(pk, json_string_value(v), json_string_length(v));
    break;
  case JSON_INTEGER:
    msgpack_pack_int64(pk, json_integer_value(v));
    break;
  case JSON_REAL:
    msgpack_pack_double(pk, json_real_value(v));
    break;
  case JSON_TRUE:
    msgpack_pack_true(pk);
    break;
  case JSON_FALSE:
    msgpack_pack_false(pk);
    break;
  default:
    msgpack_pack_nil(pk);
    break;
  }
}
