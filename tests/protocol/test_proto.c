/*
 * test_proto.c: the tables of protocol/proto.h.
 *
 * Contract checked: every message id has its name and back; every state
 * has its name and back; unknown ids, names and states map to NULL /
 * PROTO_NONE / -1; every PROTO_E* code is distinct, below -32000, and
 * proto_strerror() names it; the task state machine accepts exactly the
 * transitions of issue #3 (checked against a table written out here, cell
 * by cell, all 11 x 11 of them); proto_msg_fini frees and zeroes.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "protocol/proto.h"
#include "tests/protocol/proto_test.h"

TestSuite(proto, .timeout = 30);

Test(proto, type_names_round_trip)
{
  static const char *const names[] = {
      "finding", "task",     "task_update", "scan_request",
      "scan_progress", "scan_done", "event", "command",
      "reply",   "metric_sample", "agent_output", "alert"};
  for (int i = 0; i < PTST_NTYPES; i++) {
    proto_type_t t = ptst_types[i];
    cr_assert_eq((int)t, i + 1, "ids run 1..12");
    cr_assert_str_eq(proto_type_name(t), names[i]);
    cr_assert_eq(proto_type_from_name(names[i]), t);
  }
}

Test(proto, unknown_types_have_no_name)
{
  cr_assert_null(proto_type_name(PROTO_NONE));
  cr_assert_null(proto_type_name((proto_type_t)13));
  cr_assert_null(proto_type_name((proto_type_t)-1));
  cr_assert_eq(proto_type_from_name("tasks"), PROTO_NONE);
  cr_assert_eq(proto_type_from_name("Task"), PROTO_NONE);
  cr_assert_eq(proto_type_from_name(""), PROTO_NONE);
  cr_assert_eq(proto_type_from_name(NULL), PROTO_NONE);
}

Test(proto, state_names_round_trip)
{
  static const char *const names[] = {
      "new",    "triaged", "ready",    "running",  "review", "done",
      "failed", "skipped", "resolved", "rejected", "blocked"};
  cr_assert_eq(PROTO_STATE_COUNT, 11);
  for (int s = 0; s < PROTO_STATE_COUNT; s++) {
    cr_assert_str_eq(proto_state_name((proto_state_t)s), names[s]);
    cr_assert_eq(proto_state_from_name(names[s]), s);
  }
  cr_assert_null(proto_state_name(PROTO_STATE_COUNT));
  cr_assert_null(proto_state_name((proto_state_t)-1));
  cr_assert_eq(proto_state_from_name("open"), -1);
  cr_assert_eq(proto_state_from_name("NEW"), -1);
  cr_assert_eq(proto_state_from_name(NULL), -1);
}

struct code {
  int code;
  const char *name;
};

static const struct code codes[] = {
#define PTST_ROW(name, code, text) {code, "PROTO_" #name},
    PROTO_ERRNO_MAP(PTST_ROW)
#undef PTST_ROW
};
#define NCODES (sizeof codes / sizeof codes[0])

Test(proto, error_codes_are_distinct_and_named)
{
  cr_assert_eq(NCODES, 8u);
  for (size_t i = 0; i < NCODES; i++) {
    cr_assert_lt(codes[i].code, -32000, "%s", codes[i].name);
    for (size_t j = i + 1; j < NCODES; j++)
      cr_assert_neq(codes[i].code, codes[j].code);
    const char *s = proto_strerror(codes[i].code);
    size_t n = strlen(codes[i].name);
    cr_assert_eq(strncmp(s, codes[i].name, n), 0, "%s", s);
    cr_assert_eq(s[n], ':', "%s", s);
  }
  cr_assert_str_eq(proto_strerror(0), "OK: success");
  cr_assert_str_eq(proto_strerror(-1), "unknown protocol error");
  cr_assert_str_eq(proto_strerror(PROTO_EDEPTH),
                   "PROTO_EDEPTH: nesting too deep");
}

/* issue #3's table, written out cell by cell: allowed[from][to]. Columns:
 * new triaged ready running review done failed skipped resolved rejected
 * blocked. */
static const unsigned char allowed[11][11] = {
    /* new      */ {0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1},
    /* triaged  */ {0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 1},
    /* ready    */ {0, 1, 0, 1, 0, 0, 0, 1, 1, 0, 1},
    /* running  */ {0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1},
    /* review   */ {0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0},
    /* done     */ {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
    /* failed   */ {0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0},
    /* skipped  */ {0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0},
    /* resolved */ {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    /* rejected */ {0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    /* blocked  */ {0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0},
};

Test(proto, state_machine_matches_the_table_exhaustively)
{
  int legal = 0;
  for (int f = 0; f < PROTO_STATE_COUNT; f++)
    for (int t = 0; t < PROTO_STATE_COUNT; t++) {
      bool ok = proto_state_transition_ok((proto_state_t)f, (proto_state_t)t);
      cr_assert_eq(ok, allowed[f][t] != 0, "%s -> %s: got %s, want %s",
                   proto_state_name((proto_state_t)f),
                   proto_state_name((proto_state_t)t), ok ? "allowed" : "refused",
                   allowed[f][t] ? "allowed" : "refused");
      legal += ok;
    }
  cr_assert_eq(legal, 33, "33 legal transitions, got %d", legal);
}

Test(proto, state_machine_has_no_self_transitions)
{
  for (int s = 0; s < PROTO_STATE_COUNT; s++)
    cr_assert_not(proto_state_transition_ok((proto_state_t)s, (proto_state_t)s),
                  "%s -> itself", proto_state_name((proto_state_t)s));
}

Test(proto, state_machine_refuses_unknown_states)
{
  cr_assert_not(proto_state_transition_ok(PROTO_STATE_COUNT, PROTO_STATE_NEW));
  cr_assert_not(proto_state_transition_ok(PROTO_STATE_RESOLVED, PROTO_STATE_COUNT));
  cr_assert_not(proto_state_transition_ok((proto_state_t)-1, PROTO_STATE_NEW));
  cr_assert_not(proto_state_transition_ok(PROTO_STATE_NEW, (proto_state_t)99));
}

Test(proto, every_state_can_be_left_and_reached)
{
  for (int s = 0; s < PROTO_STATE_COUNT; s++) {
    bool out = false, in = false;
    for (int o = 0; o < PROTO_STATE_COUNT; o++) {
      out |= proto_state_transition_ok((proto_state_t)s, (proto_state_t)o);
      in |= proto_state_transition_ok((proto_state_t)o, (proto_state_t)s);
    }
    cr_assert(out && in, "%s is a dead end or unreachable",
              proto_state_name((proto_state_t)s));
  }
}

Test(proto, fini_frees_and_zeroes_every_type)
{
  static const proto_msg_t zero;
  for (int i = 0; i < PTST_NTYPES; i++) {
    proto_msg_t m;
    ptst_example(ptst_types[i], &m);
    proto_msg_fini(&m);
    cr_assert(memcmp(&m, &zero, sizeof m) == 0, "%s not zeroed",
              proto_type_name(ptst_types[i]));
    proto_msg_fini(&m); /* twice is harmless */
  }
  ptst_check_leaks();
}

Test(proto, fini_accepts_null_and_none)
{
  proto_msg_t m;
  memset(&m, 0, sizeof m);
  proto_msg_fini(NULL);
  proto_msg_fini(&m);
  cr_assert_eq(m.type, PROTO_NONE);
}
