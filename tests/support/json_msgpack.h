/*
 * json_msgpack.h: pack a jansson value as msgpack, shape for shape.
 *
 * Used by the protocol tests and the msgpack fuzz target to turn the JSON
 * fixtures into msgpack inputs (objects become maps, arrays arrays, integers
 * int64, reals doubles, null nil). Test support only: no caps, no errors.
 */
#ifndef TESTS_SUPPORT_JSON_MSGPACK_H
#define TESTS_SUPPORT_JSON_MSGPACK_H

#include <jansson.h>
#include <msgpack.h>

void json_msgpack_pack(msgpack_packer *pk, const json_t *v);

#endif
