/*
 * proto.h: every message between ccm's actors and to its clients.
 *
 * One table (PROTO_MSG_MAP) defines the message ids and their names. Each
 * message is a plain C struct; proto_msg_t is the tagged union of them.
 * Two encodings carry the same maps:
 *   - msgpack (actors, the store, the ccm.v1.msgpack WebSocket protocol):
 *     a map {"v": PROTO_VERSION, "t": "<name>", "d": {<fields>}};
 *   - JSON (REST, the ccm.v1.json WebSocket protocol): the "d" map alone,
 *     the type being known from the route (or {"type": ...} on WebSocket).
 * Field names are identical in both and listed beside each struct member.
 *
 * Decoding never trusts its input: types, required fields, string lengths,
 * array sizes and nesting depth are checked against the PROTO_MAX_* caps,
 * unknown fields are ignored (forward compatibility), and any failure
 * returns a negative PROTO_E* code with a message naming the field.
 * Decoded structs own their strings (malloc'd); proto_msg_fini() frees them.
 * The module does no I/O.
 */
#ifndef PROTO_PROTO_H
#define PROTO_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PROTO_VERSION 1

/* Caps with reasons: a path or title longer than 4 KiB, a text longer than
 * 64 KiB, more than 64 labels, or nesting deeper than 16 is not something
 * ccm produces; anything beyond is hostile or broken input. */
#define PROTO_MAX_STR 4096
#define PROTO_MAX_TEXT 65536
#define PROTO_MAX_LIST 64
#define PROTO_MAX_DEPTH 16
#define PROTO_MAX_MSG (1u << 20) /* whole encoded message */

/* Error codes: 0 ok, negative on failure (range below -32000). */
#define PROTO_ERRNO_MAP(XX)                                           \
  XX(EMALFORMED, -32001, "not valid msgpack/JSON")                    \
  XX(EVERSION, -32002, "unsupported protocol version")                \
  XX(ETYPE, -32003, "unknown message type")                           \
  XX(EFIELD, -32004, "missing or wrongly typed field")                \
  XX(ETOOBIG, -32005, "a length or count is over its cap")            \
  XX(EDEPTH, -32006, "nesting too deep")                              \
  XX(EVALUE, -32007, "a field has a value outside its domain")        \
  XX(ENOMEM, -32008, "out of memory")

enum proto_errno {
#define PROTO_ERR_ENUM(name, code, text) PROTO_##name = (code),
  PROTO_ERRNO_MAP(PROTO_ERR_ENUM)
#undef PROTO_ERR_ENUM
};
const char *proto_strerror(int rc);

/* Message ids and names: the one table. */
#define PROTO_MSG_MAP(XX)                  \
  XX(FINDING, 1, "finding")                \
  XX(TASK, 2, "task")                      \
  XX(TASK_UPDATE, 3, "task_update")        \
  XX(SCAN_REQUEST, 4, "scan_request")      \
  XX(SCAN_PROGRESS, 5, "scan_progress")    \
  XX(SCAN_DONE, 6, "scan_done")            \
  XX(EVENT, 7, "event")                    \
  XX(COMMAND, 8, "command")                \
  XX(REPLY, 9, "reply")                    \
  XX(METRIC_SAMPLE, 10, "metric_sample")   \
  XX(AGENT_OUTPUT, 11, "agent_output")     \
  XX(ALERT, 12, "alert")

typedef enum proto_type {
  PROTO_NONE = 0,
#define PROTO_TYPE_ENUM(name, id, str) PROTO_##name = (id),
  PROTO_MSG_MAP(PROTO_TYPE_ENUM)
#undef PROTO_TYPE_ENUM
} proto_type_t;
/* "finding", ... or NULL for an unknown id. */
const char *proto_type_name(proto_type_t t);
/* PROTO_NONE for an unknown name. */
proto_type_t proto_type_from_name(const char *name);

/* Task states (SPEC §1, issue #3): the one table, with names. */
#define PROTO_STATE_MAP(XX)   \
  XX(NEW, 0, "new")           \
  XX(TRIAGED, 1, "triaged")   \
  XX(READY, 2, "ready")       \
  XX(RUNNING, 3, "running")   \
  XX(REVIEW, 4, "review")     \
  XX(DONE, 5, "done")         \
  XX(FAILED, 6, "failed")     \
  XX(SKIPPED, 7, "skipped")   \
  XX(RESOLVED, 8, "resolved") \
  XX(REJECTED, 9, "rejected") \
  XX(BLOCKED, 10, "blocked")

typedef enum proto_state {
#define PROTO_STATE_ENUM(name, id, str) PROTO_STATE_##name = (id),
  PROTO_STATE_MAP(PROTO_STATE_ENUM)
#undef PROTO_STATE_ENUM
  PROTO_STATE_COUNT
} proto_state_t;
const char *proto_state_name(proto_state_t s);          /* NULL if unknown */
int proto_state_from_name(const char *name);             /* -1 if unknown */
/* True when the task state machine allows from -> to. */
bool proto_state_transition_ok(proto_state_t from, proto_state_t to);

/* A score and its explanation (SPEC §1.3, WSJF by default). */
typedef struct proto_score {
  double total;            /* "total" */
  double value;            /* "value": business value 1-10 */
  double time_criticality; /* "time_criticality" 1-10 */
  double risk_reduction;   /* "risk_reduction" 1-10 */
  double job_size;         /* "job_size" 1-10 */
  char *why;               /* "why": a sentence, may be NULL */
} proto_score_t;

/* A code location. Strings may be NULL when unknown. */
typedef struct proto_location {
  char *path;   /* "path": relative to the repo root */
  uint32_t line;   /* "line" (1-based, 0 unknown) */
  uint32_t column; /* "column" (1-based, 0 unknown) */
  char *symbol; /* "symbol": enclosing function, if known */
} proto_location_t;

typedef struct proto_string_list {
  char **items; /* owned */
  uint32_t len;
} proto_string_list_t;

/* FINDING: one thing a scanner saw. */
typedef struct proto_finding {
  char *repo;            /* "repo" (required): repository id */
  char *kind;            /* "kind" (required): todo, fixme, refactor, secret, issue, ... */
  char *tag;             /* "tag": TODO, FIXME, ... (markers) */
  proto_location_t loc;  /* "path", "line", "column", "symbol" (flattened) */
  char *text;            /* "text": the marker's text (secrets masked) */
  char *author;          /* "author": from git blame */
  int64_t authored_at;   /* "authored_at": unix seconds, 0 unknown */
  char *owner;           /* "owner": TODO(owner) */
  uint32_t issue_ref;    /* "issue_ref": TODO(#123), 0 none */
  char *fingerprint;     /* "fingerprint" (required): stable id basis */
  json_t *details;       /* "details": object, omitted when NULL: "due"
                            (TODO(date), YYYY-MM-DD), "metrics" (refactor:
                            lines, nesting, complexity, params, ...),
                            "rule" and "preview" (secrets), "locations"
                            (duplicated blocks) */
} proto_finding_t;

/* TASK: the unit of work (SPEC §1.2, issue #3 task model). */
typedef struct proto_task {
  char *id;                 /* "id" (required): stable fingerprint, hex */
  char *repo;               /* "repo" (required) */
  char *kind;               /* "kind" (required) */
  char *title;              /* "title" */
  proto_location_t loc;     /* "path", "line", "column", "symbol" */
  char *text;               /* "text": source text */
  char *author;             /* "author" */
  int64_t authored_at;      /* "authored_at" */
  int64_t first_seen;       /* "first_seen": unix ms */
  int64_t last_seen;        /* "last_seen": unix ms */
  proto_string_list_t labels; /* "labels" */
  uint32_t issue_number;    /* "issue_number", 0 none */
  char *pr_url;             /* "pr_url" */
  char *branch;             /* "branch" */
  uint32_t attempts;        /* "attempts" */
  proto_score_t score;      /* "score": {...} */
  proto_state_t state;      /* "state" (required): name in both encodings */
  bool pinned;              /* "pinned" */
  int64_t updated_at;       /* "updated_at": unix ms */
} proto_task_t;

/* TASK_UPDATE: a state transition with its reason. */
typedef struct proto_task_update {
  char *task_id;         /* "task_id" (required) */
  proto_state_t from;    /* "from" (required) */
  proto_state_t to;      /* "to" (required) */
  char *reason;          /* "reason" */
  char *actor;           /* "actor": who made it (actor name or "user") */
  int64_t at;            /* "at": unix ms */
} proto_task_update_t;

typedef struct proto_scan_request {
  char *repo;            /* "repo" (required) */
  bool full;             /* "full": ignore the incremental state */
} proto_scan_request_t;

typedef struct proto_scan_progress {
  char *repo;            /* "repo" (required) */
  uint64_t files;        /* "files" */
  uint64_t bytes;        /* "bytes" */
  uint64_t findings;     /* "findings" */
} proto_scan_progress_t;

typedef struct proto_scan_done {
  char *repo;            /* "repo" (required) */
  uint64_t files;        /* "files" */
  uint64_t findings;     /* "findings" */
  uint64_t duration_ms;  /* "duration_ms" */
  char *error;           /* "error": NULL on success */
} proto_scan_done_t;

/* EVENT: what clients receive; data is an encoded message of its own
 * (any type above), kept as JSON for the client mapping. */
typedef struct proto_event {
  uint64_t seq;          /* "seq" (required, >= 1) */
  char *topic;           /* "topic" (required): tasks, findings, ... */
  int64_t ts;            /* "ts": unix ms (JSON: ISO-8601 string) */
  json_t *data;          /* "data": owned reference, may be NULL */
} proto_event_t;

/* COMMAND / REPLY: REST and WebSocket actions. */
typedef struct proto_command {
  char *id;              /* "id": client's id, echoed in the reply */
  char *action;          /* "action" (required): run, cancel, skip, requeue, pin, scan */
  json_t *args;          /* "args": object, owned reference, may be NULL */
} proto_command_t;

typedef struct proto_reply {
  char *id;              /* "id" */
  bool ok;               /* "ok" (required) */
  json_t *data;          /* "data": owned reference, may be NULL */
  char *error_code;      /* "error": {"code", "message"} when !ok */
  char *error_message;
} proto_reply_t;

typedef struct proto_metric_sample {
  char *name;            /* "name" (required) */
  double value;          /* "value" (required) */
  int64_t ts;            /* "ts": unix ms */
  proto_string_list_t labels; /* "labels": "k=v" strings */
} proto_metric_sample_t;

typedef struct proto_agent_output {
  char *task_id;         /* "task_id" (required) */
  uint64_t line_no;      /* "line_no" */
  char *stream;          /* "stream": stdout | stderr */
  char *line;            /* "line" (required; capped at PROTO_MAX_TEXT) */
} proto_agent_output_t;

typedef struct proto_alert {
  char *rule;            /* "rule" (required) */
  char *severity;        /* "severity": info | warning | critical */
  char *message;         /* "message" */
  double value;          /* "value" */
  double threshold;      /* "threshold" */
  int64_t ts;            /* "ts" */
} proto_alert_t;

typedef struct proto_msg {
  proto_type_t type;
  union {
    proto_finding_t finding;
    proto_task_t task;
    proto_task_update_t task_update;
    proto_scan_request_t scan_request;
    proto_scan_progress_t scan_progress;
    proto_scan_done_t scan_done;
    proto_event_t event;
    proto_command_t command;
    proto_reply_t reply;
    proto_metric_sample_t metric_sample;
    proto_agent_output_t agent_output;
    proto_alert_t alert;
  } u;
} proto_msg_t;

/** Free what a decoded (or hand-filled, malloc'd) message owns and zero it.
 * NULL and PROTO_NONE are no-ops. */
void proto_msg_fini(proto_msg_t *m);

/**
 * Encode @p m as msgpack into @p out (appended). Validates first: a
 * message that would not decode is refused, and @p out is left as it was.
 * @return 0, PROTO_EFIELD / PROTO_EVALUE / PROTO_ETOOBIG / PROTO_EDEPTH
 * (a JSON member nested too deep), PROTO_ETYPE (unknown m->type),
 * PROTO_ENOMEM.
 */
int proto_msgpack_encode(const proto_msg_t *m, msgpack_sbuffer *out);

/**
 * Decode one msgpack message. On success *m holds owned copies; on failure
 * *m is zeroed (PROTO_NONE) and @p err (if non-NULL) gets a message that
 * names the field, e.g. "task.state: unknown state \"open\"".
 * @return 0 or a PROTO_E* code.
 */
int proto_msgpack_decode(const void *buf, size_t len, proto_msg_t *m,
                         char *err, size_t errlen);

/** The "d" map of @p m as a new JSON object (NULL when out of memory or
 * invalid). */
json_t *proto_json_encode(const proto_msg_t *m);

/** Append the "d" map of @p m to @p out as compact JSON text: the same
 * bytes as json_dumps(proto_json_encode(m), JSON_COMPACT), without
 * building the tree (several times faster; REST task lists use it).
 * @return 0 or a PROTO_E* code (then @p out is as it was). */
int proto_json_write(const proto_msg_t *m, msgpack_sbuffer *out);

/** Decode a JSON object of type @p type into *m, with the same checks as
 * msgpack. @return 0 or a PROTO_E* code; *m zeroed on failure. */
int proto_json_decode(proto_type_t type, const json_t *obj, proto_msg_t *m,
                      char *err, size_t errlen);

/** Convenience: decode JSON text (a body of at most PROTO_MAX_MSG bytes). */
int proto_json_decode_text(proto_type_t type, const char *text, size_t len,
                           proto_msg_t *m, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* PROTO_PROTO_H */
