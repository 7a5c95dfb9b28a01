/*
 * schema.c: the field table of every message type, and the rules that span
 * several fields of one message.
 *
 * Design note: one row per struct member, in the order of proto.h, which is
 * also the order of the keys on the wire (golden fixtures depend on it). A
 * row names the wire key, the kind (proto_int.h), whether the field is
 * required, where it lives in the struct and, for strings, its cap. Both
 * codecs, the validator and proto_msg_fini() read only these tables, so
 * adding a field is adding a row here (see protocol/README.md).
 *
 * Caps: PROTO_MAX_STR for names, ids, paths and titles; PROTO_MAX_TEXT for
 * free text that comes from files, agents or people (text, line, message,
 * why, and scan_done.error, which may quote a tool's stderr).
 */
#include <string.h>

#include "protocol/proto_int.h"

#define REQ PROTO__REQUIRED

/* A wire name (a string literal) and its length. */
#define WIRE(wire) wire, sizeof(wire) - 1
#define F_STR(T, m, wire, flags) \
  {WIRE(wire), PROTO__F_STR, flags, offsetof(T, m), PROTO_MAX_STR, NULL}
#define F_TEXT(T, m, wire, flags) \
  {WIRE(wire), PROTO__F_STR, flags, offsetof(T, m), PROTO_MAX_TEXT, NULL}
#define F_KIND(T, m, wire, kind, flags) \
  {WIRE(wire), PROTO__F_##kind, flags, offsetof(T, m), 0, NULL}
#define F_MAP(T, m, wire, sub) \
  {WIRE(wire), PROTO__F_MAP, 0, offsetof(T, m), 0, &sub}
#define TABLE(fields, check) {fields, sizeof fields / sizeof fields[0], check}

/* A proto_location_t flattened into its parent (at offset @p m). */
#define F_LOC(T, m)                                                   \
  F_STR(T, m.path, "path", 0), F_KIND(T, m.line, "line", U32, 0),     \
      F_KIND(T, m.column, "column", U32, 0),                          \
      F_STR(T, m.symbol, "symbol", 0)

/* ---- nested maps ---- */

static const proto__field_t score_fields[] = {
    F_KIND(proto_score_t, total, "total", DOUBLE, 0),
    F_KIND(proto_score_t, value, "value", DOUBLE, 0),
    F_KIND(proto_score_t, time_criticality, "time_criticality", DOUBLE, 0),
    F_KIND(proto_score_t, risk_reduction, "risk_reduction", DOUBLE, 0),
    F_KIND(proto_score_t, job_size, "job_size", DOUBLE, 0),
    F_TEXT(proto_score_t, why, "why", 0),
};
static const proto__table_t score_table = TABLE(score_fields, NULL);

/* The reply's "error" map: its offsets are those of proto_reply_t, since
 * the F_MAP row that holds it has offset 0. */
static const proto__field_t reply_error_fields[] = {
    F_STR(proto_reply_t, error_code, "code", 0),
    F_TEXT(proto_reply_t, error_message, "message", 0),
};
static const proto__table_t reply_error_table =
    TABLE(reply_error_fields, NULL);

/* ---- rules across fields ---- */

/* Is @p s NULL or one of the NULL-terminated @p allowed words? */
static int check_word(const char *s, const char *const *allowed,
                      const char *path, proto__err_t *e)
{
  char q[68];

  if (s == NULL)
    return 0;
  for (size_t i = 0; allowed[i] != NULL; i++)
    if (strcmp(s, allowed[i]) == 0)
      return 0;
  proto__quote(q, s, strlen(s));
  return proto__fail(e, PROTO_EVALUE, path, "unknown value \"%s\"", q);
}

static int check_task_update(const void *st, proto__err_t *e)
{
  const proto_task_update_t *u = st;

  if (proto_state_transition_ok(u->from, u->to))
    return 0;
  return proto__fail(e, PROTO_EVALUE, "task_update.to",
                     "transition %s -> %s is not allowed",
                     proto_state_name(u->from), proto_state_name(u->to));
}

static int check_event(const void *st, proto__err_t *e)
{
  const proto_event_t *ev = st;

  if (ev->seq == 0)
    return proto__fail(e, PROTO_EVALUE, "event.seq", "must be at least 1");
  return 0;
}

static int check_reply(const void *st, proto__err_t *e)
{
  const proto_reply_t *r = st;

  /* A failed reply must say why, in a code a client can switch on. */
  if (!r->ok && r->error_code == NULL)
    return proto__fail(e, PROTO_EFIELD, "reply.error.code",
                       "missing required field (ok is false)");
  return 0;
}

static int check_agent_output(const void *st, proto__err_t *e)
{
  static const char *const streams[] = {"stdout", "stderr", NULL};
  const proto_agent_output_t *o = st;

  return check_word(o->stream, streams, "agent_output.stream", e);
}

static int check_alert(const void *st, proto__err_t *e)
{
  static const char *const levels[] = {"info", "warning", "critical", NULL};
  const proto_alert_t *a = st;

  return check_word(a->severity, levels, "alert.severity", e);
}

/* ---- message tables ---- */

static const proto__field_t finding_fields[] = {
    F_STR(proto_finding_t, repo, "repo", REQ),
    F_STR(proto_finding_t, kind, "kind", REQ),
    F_STR(proto_finding_t, tag, "tag", 0),
    F_LOC(proto_finding_t, loc),
    F_TEXT(proto_finding_t, text, "text", 0),
    F_STR(proto_finding_t, author, "author", 0),
    F_KIND(proto_finding_t, authored_at, "authored_at", I64, 0),
    F_STR(proto_finding_t, owner, "owner", 0),
    F_KIND(proto_finding_t, issue_ref, "issue_ref", U32, 0),
    F_STR(proto_finding_t, fingerprint, "fingerprint", REQ),
    F_KIND(proto_finding_t, details, "details", JSON, PROTO__OBJECT),
};

static const proto__field_t task_fields[] = {
    F_STR(proto_task_t, id, "id", REQ),
    F_STR(proto_task_t, repo, "repo", REQ),
    F_STR(proto_task_t, kind, "kind", REQ),
    F_STR(proto_task_t, title, "title", 0),
    F_LOC(proto_task_t, loc),
    F_TEXT(proto_task_t, text, "text", 0),
    F_STR(proto_task_t, author, "author", 0),
    F_KIND(proto_task_t, authored_at, "authored_at", I64, 0),
    F_KIND(proto_task_t, first_seen, "first_seen", I64, 0),
    F_KIND(proto_task_t, last_seen, "last_seen", I64, 0),
    F_KIND(proto_task_t, labels, "labels", STRLIST, 0),
    F_KIND(proto_task_t, issue_number, "issue_number", U32, 0),
    F_STR(proto_task_t, pr_url, "pr_url", 0),
    F_STR(proto_task_t, branch, "branch", 0),
    F_KIND(proto_task_t, attempts, "attempts", U32, 0),
    F_MAP(proto_task_t, score, "score", score_table),
    F_KIND(proto_task_t, state, "state", STATE, REQ),
    F_KIND(proto_task_t, pinned, "pinned", BOOL, 0),
    F_KIND(proto_task_t, updated_at, "updated_at", I64, 0),
};

static const proto__field_t task_update_fields[] = {
    F_STR(proto_task_update_t, task_id, "task_id", REQ),
    F_KIND(proto_task_update_t, from, "from", STATE, REQ),
    F_KIND(proto_task_update_t, to, "to", STATE, REQ),
    F_STR(proto_task_update_t, reason, "reason", 0),
    F_STR(proto_task_update_t, actor, "actor", 0),
    F_KIND(proto_task_update_t, at, "at", I64, 0),
};

static const proto__field_t scan_request_fields[] = {
    F_STR(proto_scan_request_t, repo, "repo", REQ),
    F_KIND(proto_scan_request_t, full, "full", BOOL, 0),
};

static const proto__field_t scan_progress_fields[] = {
    F_STR(proto_scan_progress_t, repo, "repo", REQ),
    F_KIND(proto_scan_progress_t, files, "files", U64, 0),
    F_KIND(proto_scan_progress_t, bytes, "bytes", U64, 0),
    F_KIND(proto_scan_progress_t, findings, "findings", U64, 0),
};

static const proto__field_t scan_done_fields[] = {
    F_STR(proto_scan_done_t, repo, "repo", REQ),
    F_KIND(proto_scan_done_t, files, "files", U64, 0),
    F_KIND(proto_scan_done_t, findings, "findings", U64, 0),
    F_KIND(proto_scan_done_t, duration_ms, "duration_ms", U64, 0),
    F_TEXT(proto_scan_done_t, error, "error", 0),
};

static const proto__field_t event_fields[] = {
    F_KIND(proto_event_t, seq, "seq", U64, REQ),
    F_STR(proto_event_t, topic, "topic", REQ),
    F_KIND(proto_event_t, ts, "ts", TS, 0),
    F_KIND(proto_event_t, data, "data", JSON, 0),
};

static const proto__field_t command_fields[] = {
    F_STR(proto_command_t, id, "id", 0),
    F_STR(proto_command_t, action, "action", REQ),
    F_KIND(proto_command_t, args, "args", JSON, PROTO__OBJECT),
};

static const proto__field_t reply_fields[] = {
    F_STR(proto_reply_t, id, "id", 0),
    F_KIND(proto_reply_t, ok, "ok", BOOL, REQ),
    F_KIND(proto_reply_t, data, "data", JSON, 0),
    {WIRE("error"), PROTO__F_MAP, 0, 0, 0, &reply_error_table},
};

static const proto__field_t metric_sample_fields[] = {
    F_STR(proto_metric_sample_t, name, "name", REQ),
    F_KIND(proto_metric_sample_t, value, "value", DOUBLE, REQ),
    F_KIND(proto_metric_sample_t, ts, "ts", I64, 0),
    F_KIND(proto_metric_sample_t, labels, "labels", STRLIST, 0),
};

static const proto__field_t agent_output_fields[] = {
    F_STR(proto_agent_output_t, task_id, "task_id", REQ),
    F_KIND(proto_agent_output_t, line_no, "line_no", U64, 0),
    F_STR(proto_agent_output_t, stream, "stream", 0),
    F_TEXT(proto_agent_output_t, line, "line", REQ),
};

static const proto__field_t alert_fields[] = {
    F_STR(proto_alert_t, rule, "rule", REQ),
    F_STR(proto_alert_t, severity, "severity", 0),
    F_TEXT(proto_alert_t, message, "message", 0),
    F_KIND(proto_alert_t, value, "value", DOUBLE, 0),
    F_KIND(proto_alert_t, threshold, "threshold", DOUBLE, 0),
    F_KIND(proto_alert_t, ts, "ts", I64, 0),
};

/* The decoder keeps one slot per field on the stack (codec.c). */
#define FITS(fields)                                                  \
  _Static_assert(sizeof fields / sizeof fields[0] <= PROTO__MAX_FIELDS, \
                 #fields " has more than PROTO__MAX_FIELDS rows")
FITS(score_fields);
FITS(reply_error_fields);
FITS(finding_fields);
FITS(task_fields);
FITS(task_update_fields);
FITS(scan_request_fields);
FITS(scan_progress_fields);
FITS(scan_done_fields);
FITS(event_fields);
FITS(command_fields);
FITS(reply_fields);
FITS(metric_sample_fields);
FITS(agent_output_fields);
FITS(alert_fields);
#undef FITS

/* Indexed by proto_type_t (ids 1..12 from PROTO_MSG_MAP). */
static const proto__table_t tables[] = {
    [PROTO_FINDING] = TABLE(finding_fields, NULL),
    [PROTO_TASK] = TABLE(task_fields, NULL),
    [PROTO_TASK_UPDATE] =
        TABLE(task_update_fields, check_task_update),
    [PROTO_SCAN_REQUEST] = TABLE(scan_request_fields, NULL),
    [PROTO_SCAN_PROGRESS] = TABLE(scan_progress_fields, NULL),
    [PROTO_SCAN_DONE] = TABLE(scan_done_fields, NULL),
    [PROTO_EVENT] = TABLE(event_fields, check_event),
    [PROTO_COMMAND] = TABLE(command_fields, NULL),
    [PROTO_REPLY] = TABLE(reply_fields, check_reply),
    [PROTO_METRIC_SAMPLE] = TABLE(metric_sample_fields, NULL),
    [PROTO_AGENT_OUTPUT] =
        TABLE(agent_output_fields, check_agent_output),
    [PROTO_ALERT] = TABLE(alert_fields, check_alert),
};

const proto__table_t *proto__table(proto_type_t t)
{
  if ((unsigned)t >= sizeof tables / sizeof tables[0] ||
      tables[t].fields == NULL)
    return NULL;
  return &tables[t];
}

int proto__field_index(const proto__table_t *t, const char *key, size_t klen)
{
  for (size_t i = 0; i < t->n; i++) {
    const proto__field_t *f = &t->fields[i];
    /* memcmp, not strncmp: a key may hold NUL bytes. */
    if (f->namelen == klen && f->name[0] == key[0] &&
        memcmp(f->name, key, klen) == 0)
      return (int)i;
  }
  return -1;
}
