/*
 * proto_test.h: helpers shared by the protocol test suites (tests/protocol/).
 *
 * The example messages here are built by hand, field by field, and
 * compared by hand-written per-type code: nothing in this file uses the
 * codec's own field tables, so a mistake in those tables shows up as a
 * difference instead of being mirrored. Golden fixtures live in
 * tests/data/protocol/<type>.msgpack and <type>.json.
 */
#ifndef TESTS_PROTOCOL_PROTO_TEST_H
#define TESTS_PROTOCOL_PROTO_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

#include "protocol/proto.h"

/* Every message type, in id order. */
extern const proto_type_t ptst_types[];
#define PTST_NTYPES 12

/* Assert that @p expr returned the PROTO_E* code @p want (names both). */
#define PTST_RC(expr, want)                                                  \
  do {                                                                       \
    int ptst_rc_ = (expr);                                                   \
    cr_assert_eq(ptst_rc_, (want), "%s\n  returned %d (%s), expected %s",   \
                 #expr, ptst_rc_, proto_strerror(ptst_rc_),                  \
                 proto_strerror(want));                                      \
  } while (0)

/** Fill @p m with the fully populated example of type @p t (heap strings,
 * freed by proto_msg_fini). These are the structs of the golden fixtures. */
void ptst_example(proto_type_t t, proto_msg_t *m);
/** Fill @p m with only the required fields of type @p t. */
void ptst_minimal(proto_type_t t, proto_msg_t *m);
/** Assert that @p a and @p b are equal field by field (hand-written). */
void ptst_assert_msg_eq(const proto_msg_t *a, const proto_msg_t *b);
/** Assert that @p m is all zero bytes (a failed decode's output). */
void ptst_assert_zeroed(const proto_msg_t *m);

/** The bytes of tests/data/protocol/@p name (malloc'd; asserts). */
uint8_t *ptst_load(const char *name, size_t *len);
/** The bytes of "<type>.msgpack" / the object of "<type>.json". */
uint8_t *ptst_load_msgpack(proto_type_t t, size_t *len);
json_t *ptst_load_json(proto_type_t t);
/** The JSON fixture's "d" map in its msgpack shape (event "ts" as unix ms). */
json_t *ptst_load_d(proto_type_t t);

/** Pack {"v": v, "t": type, "d": d} into @p sb; a NULL @p type or @p d
 * leaves that key out, and v < 0 leaves "v" out. */
void ptst_pack_msg(msgpack_sbuffer *sb, int v, const char *type,
                   const json_t *d);

/** The wire names of the required fields of @p t (NULL-terminated), as
 * proto.h marks them: a list kept apart from the codec's tables. */
const char *const *ptst_required(proto_type_t t);
bool ptst_is_required(proto_type_t t, const char *key);
/** A new JSON value of another type than @p v (a string for a number, ...). */
json_t *ptst_wrong_value(const json_t *v);
/** @p levels nested containers (objects {"k": ...} or arrays) around 1. */
json_t *ptst_nested(int levels, bool arrays);

/** tst_leak_check() (tests/support/leak_check.h): ASan builds, fail the
 * test on any leak so far. Every test also ends with one by itself. */
void ptst_check_leaks(void);

/* A JSON string of @p n copies of @p c (for cap tests). */
json_t *ptst_str_of(size_t n, char c);

/** Length of the error buffers the codec tests pass. */
#define PTST_ERRLEN 256

/** A codec's "decode the fixture of @p t with field @p key set to @p val
 * (stolen)" and its fixture loader: the field-rejection drivers below run
 * the same checks for either codec. */
typedef int (*ptst_decode_with_fn)(proto_type_t t, const char *key,
                                   json_t *val, proto_msg_t *m, char *err);
typedef json_t *(*ptst_fixture_fn)(proto_type_t t);

/** Assert that @p err starts with @p prefix. */
void ptst_err_starts(const char *err, const char *prefix);
/** Every field of every fixture, given a value of another type, is refused
 * with PROTO_EFIELD and an error naming it ("data" takes anything). */
void ptst_check_wrong_type_per_field(ptst_fixture_fn load,
                                     ptst_decode_with_fn decode_with);
/** The same inside the nested maps (task.score, reply.error). */
void ptst_check_wrong_type_in_nested_maps(ptst_fixture_fn load,
                                          ptst_decode_with_fn decode_with);
/** Every required field, missing or null/nil, is refused by name. */
void ptst_check_required_fields(ptst_decode_with_fn decode_with);
/** Every optional field may be missing or null/nil (a failed reply's
 * "error" excepted: it must be there, tested on its own). */
void ptst_check_optional_fields(ptst_fixture_fn load,
                                ptst_decode_with_fn decode_with);
/** Every type's full and minimal example survives @p round_trip. */
void ptst_check_round_trips(void (*round_trip)(const proto_msg_t *m));

#endif /* TESTS_PROTOCOL_PROTO_TEST_H */
