/*
 * proto.c: the protocol's tables: message type names, task state names and
 * the task state machine, error texts, and proto_msg_fini().
 *
 * Design note: names come from the X-macro tables in proto.h, so an id and
 * its name cannot drift apart. The state machine is one table of bit masks
 * (transitions[] below), the only place that decides which moves a task may
 * make; the codecs use it to refuse a task_update that describes an illegal
 * move. Everything here is constant data: thread-safe.
 */
#include <string.h>

#include "protocol/proto.h"
#include "protocol/proto_int.h"

const char *proto_strerror(int rc)
{
  switch (rc) {
  case 0:
    return "OK: success";
#define PROTO_ERR_CASE(name, code, text) \
  case PROTO_##name:                     \
    return "PROTO_" #name ": " text;
    PROTO_ERRNO_MAP(PROTO_ERR_CASE)
#undef PROTO_ERR_CASE
  default:
    return "unknown protocol error";
  }
}

const char *proto_type_name(proto_type_t t)
{
  switch (t) {
#define PROTO_TYPE_CASE(name, id, str) \
  case PROTO_##name:                   \
    return str;
    PROTO_MSG_MAP(PROTO_TYPE_CASE)
#undef PROTO_TYPE_CASE
  default:
    return NULL;
  }
}

/* A name of the X-macro tables with its length (sizeof the literal). */
typedef struct name_row {
  const char *s;
  size_t len;
  int id;
} name_row_t;

static const name_row_t type_rows[] = {
#define PROTO_TYPE_ROW(name, id, str) {str, sizeof(str) - 1, PROTO_##name},
    PROTO_MSG_MAP(PROTO_TYPE_ROW)
#undef PROTO_TYPE_ROW
};

static const name_row_t state_rows[] = {
#define PROTO_STATE_ROW(name, id, str) \
  {str, sizeof(str) - 1, PROTO_STATE_##name},
    PROTO_STATE_MAP(PROTO_STATE_ROW)
#undef PROTO_STATE_ROW
};

/* The id of the row named @p p (@p len bytes), or -1. */
static int name_find(const name_row_t *rows, size_t n, const char *p,
                     size_t len)
{
  for (size_t i = 0; i < n; i++)
    if (rows[i].len == len && memcmp(rows[i].s, p, len) == 0)
      return rows[i].id;
  return -1;
}

proto_type_t proto__type_find(const char *p, size_t len)
{
  int t = name_find(type_rows, sizeof type_rows / sizeof type_rows[0], p,
                    len);
  return t < 0 ? PROTO_NONE : (proto_type_t)t;
}

int proto__state_find(const char *p, size_t len)
{
  return name_find(state_rows, sizeof state_rows / sizeof state_rows[0], p,
                   len);
}

proto_type_t proto_type_from_name(const char *name)
{
  return name == NULL ? PROTO_NONE : proto__type_find(name, strlen(name));
}

static const char *const state_names[PROTO_STATE_COUNT] = {
#define PROTO_STATE_ROW(name, id, str) [PROTO_STATE_##name] = str,
    PROTO_STATE_MAP(PROTO_STATE_ROW)
#undef PROTO_STATE_ROW
};

const char *proto_state_name(proto_state_t s)
{
  if ((unsigned)s >= PROTO_STATE_COUNT)
    return NULL;
  return state_names[s];
}

int proto_state_from_name(const char *name)
{
  return name == NULL ? -1 : proto__state_find(name, strlen(name));
}

/*
 * The task state machine: transitions[from] has bit `to` set when a task
 * may move from -> to. This is the only copy of the rules; no state may
 * move to itself (an update that changes nothing is not a transition).
 *
 *   new      -> triaged | skipped | resolved | blocked
 *   triaged  -> ready | skipped | resolved | blocked
 *   ready    -> running | triaged | skipped | resolved | blocked
 *   running  -> review | failed | ready | blocked   (ready: requeued after
 *               a crash, a restart or a cancel)
 *   review   -> done | rejected | failed | ready
 *   failed   -> ready | skipped | resolved
 *   skipped  -> triaged | resolved
 *   blocked  -> triaged | ready | skipped | resolved
 *   resolved -> new       (the finding came back)
 *   rejected -> triaged   (the finding changed)
 *   done     -> resolved
 *
 * A running task cannot be skipped or resolved directly: it is cancelled
 * (running -> ready) first, so that the executor always sees its agent
 * stopped before the task leaves its hands.
 */
#define TO(s) (1u << PROTO_STATE_##s)
static const uint16_t transitions[PROTO_STATE_COUNT] = {
    [PROTO_STATE_NEW] = TO(TRIAGED) | TO(SKIPPED) | TO(RESOLVED) | TO(BLOCKED),
    [PROTO_STATE_TRIAGED] = TO(READY) | TO(SKIPPED) | TO(RESOLVED) |
                            TO(BLOCKED),
    [PROTO_STATE_READY] = TO(RUNNING) | TO(TRIAGED) | TO(SKIPPED) |
                          TO(RESOLVED) | TO(BLOCKED),
    [PROTO_STATE_RUNNING] = TO(REVIEW) | TO(FAILED) | TO(READY) | TO(BLOCKED),
    [PROTO_STATE_REVIEW] = TO(DONE) | TO(REJECTED) | TO(FAILED) | TO(READY),
    [PROTO_STATE_FAILED] = TO(READY) | TO(SKIPPED) | TO(RESOLVED),
    [PROTO_STATE_SKIPPED] = TO(TRIAGED) | TO(RESOLVED),
    [PROTO_STATE_BLOCKED] = TO(TRIAGED) | TO(READY) | TO(SKIPPED) |
                            TO(RESOLVED),
    [PROTO_STATE_RESOLVED] = TO(NEW),
    [PROTO_STATE_REJECTED] = TO(TRIAGED),
    [PROTO_STATE_DONE] = TO(RESOLVED),
};
#undef TO

bool proto_state_transition_ok(proto_state_t from, proto_state_t to)
{
  if ((unsigned)from >= PROTO_STATE_COUNT || (unsigned)to >= PROTO_STATE_COUNT)
    return false;
  return (transitions[from] >> to) & 1u;
}

void proto_msg_fini(proto_msg_t *m)
{
  if (m == NULL)
    return;
  const proto__table_t *t = proto__table(m->type);
  if (t != NULL)
    proto__fields_free(t, (char *)&m->u);
  proto__msg_zero(m);
  m->type = PROTO_NONE;
}
