/*
 * web_int.h: internals shared by the web/ sources only.
 *
 * Design note
 * -----------
 * Threads. The service thread (server.c) owns the lws context and every
 * connection; all HTTP and WebSocket state below is touched by it alone,
 * so none of it is locked. Other threads reach it in exactly two ways:
 *   - runtime messages to its port (rt_port_t); the port's notify hook
 *     calls lws_cancel_service() only when the flag `wake_pending` goes
 *     from 0 to 1 (FACTS.md: the call is the one thread-safe lws entry and
 *     is not free); the service thread clears the flag, then drains the
 *     port in LWS_CALLBACK_EVENT_WAIT_CANCELLED;
 *   - the bridge actor (bridge.c), a plain actor the server spawns. The
 *     service thread sends it jobs (store writes for an action) and it
 *     sends back WEB_MSG_JOB_DONE; web_publish() sends it events. It talks
 *     to the store actor with rt_request, which only an actor can do, so
 *     the service thread never waits for a store commit.
 *
 * Events. The store's event log is the one source of truth. The bridge
 * appends (seq assigned at commit) and then nudges the service thread,
 * which reads every event after `hub_last` from the log (ws.c hub_poll)
 * and fans each one out: it is encoded once per subprotocol into a
 * refcounted frame (web_frame_t) that every subscribed client's queue
 * references. A client that subscribes with resume_from reads the log
 * itself ("catching up", a few events per writable callback) until it
 * reaches hub_last, and only then joins the live fan-out, so it sees every
 * event once and in order. A live client whose queue holds ws_queue_max
 * frames is a slow consumer: its queue is dropped, it gets an error
 * message and the connection is closed (it can resume). A one-second poll
 * timer also picks up events that were appended without web_publish.
 *
 * Ownership. A job belongs to the bridge from WEB_MSG_JOB until it sends
 * WEB_MSG_JOB_DONE, then to the service thread, which frees it. Pending
 * actions (HTTP requests and WebSocket commands waiting for their job)
 * are looked up by token, so a connection that closes meanwhile only
 * removes its entry and the late result is dropped.
 */
#ifndef WEB_WEB_INT_H
#define WEB_WEB_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "runtime/actor.h"
#include "store/store.h"
#include "web/page_cache.h"
#include "web/web.h"

/* Messages between the server's threads and the bridge (below the range
 * of web.h's public ones). Payloads are pointers or nothing. */
#define WEB__MSG_JOB 0x5710u      /* service -> bridge: web_job_t * */
#define WEB__MSG_PUBLISH 0x5711u  /* any -> bridge: msgpack EVENT */
#define WEB__MSG_STOP 0x5712u     /* web_stop -> bridge (rt_call) */
#define WEB__MSG_JOB_DONE 0x5720u /* bridge -> service: web_job_t * */
#define WEB__MSG_EVENTS 0x5721u   /* bridge -> service: new events logged */

/* A path or query longer than this is refused (414 would also do; 404
 * is what a client can act on). */
#define WEB__PATH_MAX 512
/* Largest HTTP response chunk (headers included) written per writeable
 * callback: lws sends at most pt_serv_buf_size (32 KiB, server.c) per
 * send() on protocol 0 and would copy the rest aside. */
#define WEB__CHUNK 32768
/* Largest batch of WebSocket frames per raw write: the WebSocket
 * protocols' rx_buffer_size, lws's per-send() limit on them. */
#define WEB__WS_BATCH 16384
/* Task and repo ids in paths: URL-safe, at most this long. */
#define WEB__ID_MAX 128
/* How long the bridge waits for the store to acknowledge one write of an
 * action. Far beyond store_timeout_ms on purpose: once that passes the
 * client is answered "pending" (actions.c), and the write, which may
 * still commit, is waited for so that its outcome is published. */
#define WEB__STORE_WAIT_MS (10u * 60u * 1000u)
/* Store writes one action may need (run: new -> triaged -> ready). */
#define WEB__JOB_MAX 3
/* Events a catching-up client reads from the log per writeable callback. */
#define WEB__CATCHUP_BATCH 64
/* Most events the hub fans out per loop turn (also at most half a client
 * queue, see ws.c hub_poll). */
#define WEB__HUB_BATCH 1024
/* Most raw writes (each a batch of frames of up to WEB__WS_BATCH bytes,
 * 1 MiB in all) to one client per writeable callback, which stops earlier
 * when the socket is full: more than the half queue the hub may add per
 * loop turn, so that a client that reads is never outpaced by a hub
 * catching up after the thread was kept from running. */
#define WEB__WRITE_BURST 64

/* ---- small growable buffer ---- */
typedef struct web_buf {
  char *p;
  size_t len, cap;
} web_buf_t;
/* Append; returns 0 or -1 when out of memory (the buffer is unchanged). */
int web__buf_add(web_buf_t *b, const void *data, size_t len);
int web__buf_printf(web_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void web__buf_free(web_buf_t *b);

/* ---- refcounted WebSocket frames (service thread only) ---- */
/* A server frame is never masked and carries no extension bits, so its
 * RFC 6455 header depends on the length alone: it is written once, into
 * the end of the headroom, and the frame's wire bytes (header + payload,
 * contiguous) go out as they are, alone or copied beside other frames
 * into one raw write (ws.c). */
typedef struct web_frame {
  unsigned refs;
  bool binary;
  bool event; /* an event message (counted in ccm_ws_events_sent_total) */
  unsigned char hlen; /* header bytes, just before buf + LWS_PRE */
  size_t len;         /* payload bytes */
  unsigned char buf[]; /* LWS_PRE bytes of headroom, then len bytes */
} web_frame_t;
web_frame_t *web__frame_new(const void *data, size_t len, bool binary);
void web__frame_release(web_frame_t *f);
/* The frame as it goes on the wire (header then payload). */
static inline const unsigned char *web__frame_wire(const web_frame_t *f)
{
  return f->buf + LWS_PRE - f->hlen;
}
static inline size_t web__frame_wire_len(const web_frame_t *f)
{
  return f->hlen + f->len;
}

/* ---- errors for clients ---- */
typedef struct web_err {
  int status;        /* HTTP status */
  const char *code;  /* "not_found", "conflict", ... (static) */
  char message[240];
} web_err_t;
/* Fill @p e; returns -1 so callers can `return web__err(...)`. */
int web__err(web_err_t *e, int status, const char *code, const char *fmt,
             ...) __attribute__((format(printf, 4, 5)));
/* {"error": {"code", "message"}} */
json_t *web__err_json(const web_err_t *e);

/* ---- jobs: store writes done by the bridge ---- */
typedef struct web_job {
  uint64_t token;  /* the service thread's pending entry */
  size_t n;        /* writes */
  size_t next;     /* bridge: the write in flight */
  uint64_t corr;   /* bridge: its request id */
  struct {
    void *bytes;   /* msgpack TASK or TASK_UPDATE (malloc'd) */
    size_t len;
  } writes[WEB__JOB_MAX];
  int rc;          /* result: 0, a STORE_E*, RT_ETIMEDOUT, ... */
} web_job_t;
void web__job_free(web_job_t *j);

/* ---- actions (actions.c) ---- */
typedef enum web_action {
  WEB_ACT_RUN,
  WEB_ACT_CANCEL,
  WEB_ACT_SKIP,
  WEB_ACT_REQUEUE,
  WEB_ACT_PIN,
  WEB_ACT_SCAN,
  WEB_ACT_COUNT
} web_action_t;

/* WEB_OWNER_HOOK: a webhook delivery, already answered (owner NULL); the
 * result is only published. */
typedef enum web_owner_kind {
  WEB_OWNER_HTTP,
  WEB_OWNER_WS,
  WEB_OWNER_HOOK
} web_owner_kind_t;

typedef struct web_pending {
  uint64_t token;
  web_owner_kind_t kind;
  void *owner;         /* http_req_t * or ws_client_t * */
  char *cmd_id;        /* WebSocket command id (may be NULL) */
  web_action_t action;
  char task_id[WEB__ID_MAX + 1];
  int64_t deadline_ms; /* then the owner is answered "pending" */
  bool answered_pending; /* it was (the kind is WEB_OWNER_HOOK since) */
} web_pending_t;

/* ---- the server ---- */
typedef struct ws_client ws_client_t;
typedef struct http_req http_req_t;

/* Routes, for the request counters (metrics.c names them). */
typedef enum web_route {
  WEB_R_HEALTH,
  WEB_R_TASKS,
  WEB_R_TASK,
  WEB_R_TASK_ACTIONS,
  WEB_R_REPOS,
  WEB_R_REPO_SCAN,
  WEB_R_ACTORS,
  WEB_R_SUMMARY,
  WEB_R_METRICS,
  WEB_R_WS,
  WEB_R_PANEL,
  WEB_R_WEBHOOK,
  WEB_R_AUDIT,
  WEB_R_DORA,
  WEB_R_MONITOR,
  WEB_R_QUEUE,
  WEB_R_OTHER,
  WEB_R_COUNT
} web_route_t;
/* Statuses counted per route; anything else counts as "other". */
#define WEB__STATUSES(XX)                                                    \
  XX(200) XX(202) XX(204) XX(400) XX(401) XX(403) XX(404) XX(405) XX(409)    \
  XX(413) XX(415) XX(500) XX(503)
#define WEB__N_STATUS 14 /* the list above plus "other" */

struct web {
  /* Fixed after web_start (copies owned here). */
  web_config_t cfg;
  char *listen, *auth_token, *cors_origin, *panel_dir;
  char **ws_origins;
  web_repo_t *repos;
  web_addr_t addr;
  rt_runtime_t *rt;
  store_t *store;
  rt_actor_t *store_actor; /* retained */
  rt_actor_t *bridge;      /* retained */
  rt_port_t *port;
  rt_actor_t *port_actor;  /* retained, for the bridge's sends */
  struct gh_webhook *webhook; /* verify + dedupe (any thread) */
  uint64_t webhook_unhandled; /* accepted, not handed on (webhook.c) */

  /* Start-up hand-shake with the service thread. */
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int start_rc; /* 1 while starting, then 0 or an error */
  char start_err[256];
  int port_no;

  /* Waking the service thread from any thread. */
  pthread_mutex_t wake_lock; /* guards wake_ctx against context teardown */
  struct lws_context *wake_ctx;
  atomic_int wake_pending;  /* 0 -> 1 calls lws_cancel_service */
  atomic_int nudge_pending; /* bridge: a WEB__MSG_EVENTS is on its way */
  atomic_bool stopping;

  /* Counters written by the bridge, read by /metrics. */
  atomic_uint_fast64_t events_published;
  atomic_uint_fast64_t events_failed;

  /* ---- service thread only ---- */
  struct lws_context *ctx;
  struct lws_vhost *vhost;
  lws_sorted_usec_list_t poll_sul; /* the one-second log poll */
  lws_sorted_usec_list_t more_sul; /* hub_poll stopped at a batch */
  lws_sorted_usec_list_t pending_sul; /* the next pending deadline */
  unsigned char *scratch; /* LWS_PRE + WEB__CHUNK */
  uint64_t next_token;
  web_pending_t *pending;
  size_t n_pending, cap_pending;
  ws_client_t *clients; /* doubly linked */
  unsigned n_clients;
  uint64_t hub_last; /* last seq fanned out */
  /* counters */
  uint64_t http_count[WEB_R_COUNT][WEB__N_STATUS];
  uint64_t ws_accepted, ws_rejected, ws_slow, ws_bad_frames;
  uint64_t ws_frames_sent, ws_events_sent;
  uint64_t ws_writes; /* raw writes: frames_sent / ws_writes per batch */
  /* HTTP answer writes, and those lws could not send whole (it kept the
   * rest for later loop turns: a sign of a send size limit) */
  uint64_t http_writes, http_writes_buffered;
  web_page_cache_t task_pages; /* GET /tasks answers (rest.c) */
};

/* server.c */
/* The server of a connection's context. */
web_t *web__from_wsi(struct lws *wsi);
/* Unix time in milliseconds. */
int64_t web__now_ms(void);

/* bridge.c */
int web__bridge_spawn(web_t *w, rt_actor_t **out);

/* actions.c: pending actions, by token */
web_pending_t *web__pending_add(web_t *w, web_owner_kind_t kind, void *owner);
web_pending_t *web__pending_find(web_t *w, uint64_t token);
void web__pending_remove(web_t *w, uint64_t token);
/* Forget every entry of @p owner (its connection closed). */
void web__pending_drop_owner(web_t *w, const void *owner);

/* actions.c */
int web__action_from_name(const char *name); /* -1 if unknown */
const char *web__action_name(web_action_t a);
/**
 * Start @p action on @p task_id (or, for WEB_ACT_SCAN, on args.repo) for
 * @p owner. Returns 1 when the result comes later (through the owner's
 * completion: web__http_action_done / web__ws_action_done), 0 when it is
 * complete now (*result set, owned by the caller, may be NULL), or -1
 * with @p e filled.
 */
int web__action_start(web_t *w, web_action_t action, const char *task_id,
                      const json_t *args, web_owner_kind_t kind, void *owner,
                      const char *cmd_id, json_t **result, web_err_t *e);
/* The service thread got WEB__MSG_JOB_DONE (takes the job). */
void web__action_job_done(web_t *w, web_job_t *job);
/* The task as REST returns it (a new object), NULL if it cannot be read. */
json_t *web__task_json(const proto_task_t *t);

/* http.c: one HTTP request (the lws per-session data of protocol 0,
 * reset at each new request of a keep-alive connection). */
struct http_req {
  web_t *w;
  struct lws *wsi;
  int method;                       /* LWSHUMETH_* */
  web_route_t route;
  char path[WEB__PATH_MAX];
  char param[WEB__ID_MAX + 1];      /* the route's {id} */
  web_buf_t body;
  bool reading_body, body_too_big;
  /* the response */
  bool resp_ready, hdr_sent, close_after, head_only, www_auth, cors;
  int status;
  const char *ctype;
  const char *allow;                /* Allow header (405, OPTIONS) */
  char *resp;
  size_t resp_len, resp_sent;
  uint64_t token;                   /* pending action, 0 none */
  web_page_body_t *page;            /* or the body: a cached page (a ref) */
};

/* Match r->path: sets r->route and r->param; returns the allowed methods
 * as a mask of 1 << LWSHUMETH_*, 0 for no such path (rest.c). */
unsigned web__route(http_req_t *r);
/* Is the request's bearer token right (true when no token is set)? With
 * @p allow_query, an access_token= URL argument also counts (browsers
 * cannot set headers on a WebSocket). */
bool web__auth_ok(web_t *w, struct lws *wsi, bool allow_query);

/* Respond with JSON (takes @p body; NULL answers 500). */
void web__http_json(http_req_t *r, int status, json_t *body);
void web__http_error(http_req_t *r, const web_err_t *e);
/* Respond with @p text (taken, malloc'd) of type @p ctype. */
void web__http_text(http_req_t *r, int status, const char *ctype, char *text,
                    size_t len);
/* Respond with a cached page (a reference is taken): sent from the cache
 * with the headers in its room, no copy of the body when both fit. */
void web__http_page(http_req_t *r, int status, const char *ctype,
                    web_page_body_t *page);

int web__http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);
/* A pending action of an HTTP request finished: @p body is taken. */
void web__http_action_done(http_req_t *r, int status, json_t *body);
size_t web__http_req_size(void);

/* ws.c */
int web__ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                     void *user, void *in, size_t len);
size_t web__ws_client_size(void);
void web__ws_action_done(ws_client_t *c, const char *cmd_id, bool ok,
                         json_t *data, const web_err_t *e);
/* Read new events from the log and fan them out. */
void web__hub_poll(web_t *w);
/* Topic bit for a name, 0 when unknown. */
uint32_t web__topic_bit(const char *name);

/* rest.c */
/* Answer a request whose route and body are known (http.c calls it). */
void web__rest_dispatch(web_t *w, http_req_t *r);
/* rest_audit.c: GET /api/v1/audit. */
void web__rest_audit(web_t *w, http_req_t *r);
/* util.c: the value of URL argument @p name ("limit=", URL-decoded by
 * lws) into @p out: 1 found, 0 absent, -1 longer than @p cap - 1. */
int web__url_arg(struct lws *wsi, const char *name, char *out, size_t cap);
/* util.c: a plain decimal in [@p lo, @p hi] (no sign, no spaces) into
 * *@p out: 0, or -1 (untouched). */
int web__parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/* rest_queue.c: GET /api/v1/queue, POST /api/v1/queue/{id}. */
void web__rest_queue(web_t *w, http_req_t *r);

/* panel.c: the control panel's static files. */
/* Is @p path one of the panel's files? */
bool web__panel_has(const char *path);
/* Answer GET @p r->path from the panel folder. */
void web__panel_serve(web_t *w, http_req_t *r);

/* webhook.c: POST /webhooks/github */
/* Create the verifier (@p secret copied; NULL refuses every delivery).
 * Returns 0 or RT_ENOMEM. */
int web__webhook_init(web_t *w, const char *secret);
void web__webhook_fini(web_t *w);
/* Does the request carry a well-formed X-Hub-Signature-256? (checked
 * before the size cap, so an unsigned request is always a 401) */
bool web__webhook_signed(struct lws *wsi);
/* Answer a delivery whose body is read, then hand its event on. */
void web__webhook_post(web_t *w, http_req_t *r);

/* metrics.c */
void web__count_http(web_t *w, web_route_t route, int status);
/* The Prometheus exposition, into @p b. Returns 0 or -1 (memory). */
int web__metrics_text(web_t *w, web_buf_t *b);
json_t *web__metrics_summary(web_t *w);
json_t *web__actors_json(web_t *w);

/* wire.c: msgpack <-> JSON for the ccm.v1.msgpack subprotocol. */
/* Encode a JSON value as msgpack (appended to @p sb). 0 or -1. */
int web__json_to_msgpack(const json_t *v, msgpack_sbuffer *sb);
/* Decode exactly one msgpack value (no trailing bytes) of at most
 * PROTO_MAX_DEPTH nesting into a new JSON value; NULL with @p err set on
 * malformed input. Map keys must be strings; bin/ext are refused. */
json_t *web__msgpack_to_json(const void *buf, size_t len, char *err,
                             size_t errlen);

#endif /* WEB_WEB_INT_H */
