/*
 * web_test.h: helpers shared by the web/ suites (tests/web/).
 *
 * A real server on 127.0.0.1 port 0 over a real runtime and a store in a
 * temporary directory; an HTTP client (libcurl) that returns status,
 * headers and the parsed JSON body; a WebSocket client (npm `ws`, driven
 * through tests/web/wsdrive.js) whose events are read line by line with a
 * bounded wait. Everything asserts with criterion on failure.
 */
#ifndef TESTS_WEB_WEB_TEST_H
#define TESTS_WEB_WEB_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "runtime/actor.h"
#include "store/store.h"
#include "web/web.h"

/* Bound for anything that must happen (generous for ASan on 2 cores). */
#define WT_WAIT_MS 20000

typedef struct wt_server {
  char *dir;
  store_t *store;
  rt_runtime_t *rt;
  rt_actor_t *store_actor;
  web_t *web;
  int port;
  rt_actor_t *gate;     /* wt_start_gated: the server's store writer */
  rt_port_t *gate_port; /* ... which reports held writes here */
} wt_server_t;

/** Start a runtime, a store (no_sync) and the server. @p cfg NULL means
 * the defaults; its listen address is replaced by 127.0.0.1:0 unless set.
 * One repository "demo" is configured when @p cfg has none. */
void wt_start(wt_server_t *s, const web_config_t *cfg);
/** wt_start with store options (retention, ...). */
void wt_start_store(wt_server_t *s, const web_config_t *cfg,
                    const store_options_t *opt);
/** wt_start (store no_sync), but the server writes through a gate that
 * holds every write (actions and events) until wt_gate_open(): a store
 * that is slow to commit, made deterministic. */
void wt_start_gated(wt_server_t *s, const web_config_t *cfg);
/** Wait until the gate holds @p n more writes (asserts within a bound). */
void wt_gate_await_held(wt_server_t *s, int n);
/** Pass the held writes to the store actor, and every later one. */
void wt_gate_open(wt_server_t *s);
/** Stop everything in order and (ASan) check for leaks. */
void wt_stop(wt_server_t *s);

/** Store a task through the store actor (creation from "new" to @p st). */
void wt_put_task(wt_server_t *s, const char *id, const char *repo,
                 const char *kind, proto_state_t st, double score);
/** Move task @p id from @p from to @p to through the store actor itself
 * (never through the gate of wt_start_gated). */
void wt_move(wt_server_t *s, const char *id, proto_state_t from,
             proto_state_t to);
/** The task's stored state. */
proto_state_t wt_task_state(wt_server_t *s, const char *id);

/** An actor registered as @p name that forwards every message it gets
 * (type and payload) to the port @p to: a stand-in for the scanner or
 * the executor. The port must outlive it (quiesce the runtime first). */
rt_actor_t *wt_forwarder(rt_runtime_t *rt, const char *name, rt_port_t *to);

/* ---- HTTP ---- */
typedef struct wt_resp {
  long status;
  char *body;     /* NUL-terminated */
  size_t body_len;
  char *headers;  /* raw, lower-cased names */
  json_t *json;   /* parsed body when it is JSON, else NULL */
} wt_resp_t;

/** One request on a fresh connection. @p body NULL sends none; @p hdrs is
 * a NULL-terminated list of "Name: value" (may be NULL). A POST with a
 * body gets Content-Type: application/json unless @p hdrs names one. */
void wt_http(const wt_server_t *s, const char *method, const char *path,
             const char *body, const char *const *hdrs, wt_resp_t *out);
void wt_resp_free(wt_resp_t *r);
/** The value of header @p name (lower case) or NULL; in a static buffer. */
const char *wt_header(const wt_resp_t *r, const char *name);
/** Assert the error shape {"error":{"code":@p code,"message":...}}. */
void wt_assert_error(const wt_resp_t *r, long status, const char *code);

/* ---- WebSocket driver ---- */
typedef struct wt_ws {
  pid_t pid;
  int in_fd, out_fd;
  char *buf; /* what was read and not yet returned as a line */
  size_t len, cap;
} wt_ws_t;

void wt_ws_start(wt_ws_t *d);
/** Run `node @p script [@p arg]` with the same line protocol (its stdin
 * takes commands, its stdout prints one JSON event per line). */
void wt_node_start(wt_ws_t *d, const char *script, const char *arg);
/** Send one command (printf-style JSON). */
void wt_ws_cmd(wt_ws_t *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Next event within @p timeout_ms, or NULL. */
json_t *wt_ws_next(wt_ws_t *d, int timeout_ms);
/** The next event, which must be @p ev for client @p name (asserts). */
json_t *wt_ws_expect(wt_ws_t *d, const char *ev, const char *name);
/** Open client @p name on the server with @p protocol; asserts it opens. */
void wt_ws_open(wt_ws_t *d, const wt_server_t *s, const char *name,
                const char *protocol);
/** Send @p text as a text frame of client @p name. */
void wt_ws_send(wt_ws_t *d, const char *name, const json_t *msg);
/** The next message of client @p name as JSON (text frames) or decoded
 * from msgpack (binary frames); asserts one arrives. */
json_t *wt_ws_msg(wt_ws_t *d, const char *name);
void wt_ws_stop(wt_ws_t *d);

/** A binary frame (hex) decoded with msgpack-c into JSON (asserts). */
json_t *wt_msgpack_hex_decode(const char *hex);
/** JSON value as msgpack hex (for binary frames), malloc'd. */
char *wt_msgpack_hex(const json_t *v);

#endif /* TESTS_WEB_WEB_TEST_H */
