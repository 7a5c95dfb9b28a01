/*
 * web.h: the control plane server (REST, /metrics, WebSocket /ws).
 *
 * One libwebsockets context runs on its own service thread. It reads the
 * store directly (read transactions work from any thread) and writes only
 * through the store actor, by way of a small bridge actor that the server
 * spawns: the service thread never waits for an actor, and no actor ever
 * waits for a socket. Events reach WebSocket clients from the store's
 * persisted event log, so a client that resumes from a seq misses nothing.
 * See web/README.md for the design, the wire formats and the limits.
 *
 * Threading: web_start/web_stop from a thread that is not a runtime worker
 * (main, a test); web_publish and web_port from any thread while the server
 * runs.
 */
#ifndef WEB_WEB_H
#define WEB_WEB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "runtime/actor.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: 0 ok; rt_ and store codes pass through; our own sit below
 * -34000. */
#define WEB_ERRNO_MAP(XX)                                                    \
  XX(EADDR, -34001, "listen address is not ADDR:PORT")                       \
  XX(EBIND, -34002, "cannot listen on the address (in use or not local)")    \
  XX(ELWS, -34003, "libwebsockets could not start")                          \
  XX(ETOPIC, -34004, "unknown event topic")                                  \
  XX(EINVAL, -34005, "invalid argument")

enum web_errno {
#define WEB_ERR_ENUM(name, code, text) WEB_##name = (code),
  WEB_ERRNO_MAP(WEB_ERR_ENUM)
#undef WEB_ERR_ENUM
};
/** "WEB_EADDR: ...", or the rt_/store_ description. Never NULL. */
const char *web_strerror(int rc);

/* Messages the server sends to other actors (payload: one protocol
 * message in msgpack, see protocol/proto.h):
 *  - WEB_MSG_SCAN to the actor registered as "scanner": a SCAN_REQUEST
 *    (POST /api/v1/repos/{id}/scan, WebSocket command "scan");
 *  - WEB_MSG_COMMAND to the actor registered as "executor", when present:
 *    a COMMAND {"action": "run"|"cancel", "args": {"task": id}} after the
 *    task's state was changed in the store. */
#define WEB_MSG_SCAN 0x5701u
#define WEB_MSG_COMMAND 0x5702u

/* A repository the server reports (GET /repos) and can scan. */
typedef struct web_repo {
  const char *id;     /* URL-safe [a-z0-9._-], at most 64 bytes */
  const char *path;   /* local working copy, may be NULL */
  const char *github; /* "owner/name", may be NULL */
} web_repo_t;

/* Configuration: a plain value, filled by web_config_defaults(). Strings
 * and arrays are copied by web_start(). */
typedef struct web_config {
  /* "ADDR:PORT" (IPv4, "localhost" or "[IPv6]"); port 0 picks a free port
   * (web_port() tells which). Default "127.0.0.1:8080": loopback only. */
  const char *listen;
  /* Bearer token every request must carry; NULL or "" = no auth. */
  const char *auth_token;
  /* Origin allowed to call the API cross-site (CORS); NULL = CORS off. */
  const char *cors_origin;
  /* Extra origins allowed to open /ws (same host:port is always
   * allowed, and so is a client that sends no Origin). */
  const char *const *ws_origins;
  size_t n_ws_origins;
  const web_repo_t *repos;
  size_t n_repos;
  /* The control panel's files (web/panel with its node_modules); the
   * default is the source tree's web/panel of this build. NULL or a
   * missing folder: "/" answers 404. */
  const char *panel_dir;
  /* Shared secret of GitHub webhooks (POST /webhooks/github, checked
   * with X-Hub-Signature-256); copied and wiped on stop; never logged.
   * NULL or "": every delivery is refused with 401. */
  const char *webhook_secret;
  size_t webhook_max_body;  /* webhook body cap, bytes (1 MiB) */
  size_t max_body;          /* HTTP request body cap, bytes (64 KiB) */
  size_t ws_max_message;    /* WebSocket message cap, bytes (64 KiB) */
  unsigned ws_max_clients;  /* concurrent WebSocket clients (1024) */
  unsigned ws_queue_max;    /* frames queued per client before it is
                               dropped as a slow consumer (1024) */
  unsigned ws_ping_s;       /* idle seconds before a ping (30) */
  uint32_t store_timeout_ms; /* then an action whose store write is not
                                confirmed is answered 202 "pending" (10 s) */
} web_config_t;

/** Fill @p c with the defaults listed above. */
void web_config_defaults(web_config_t *c);

typedef struct web web_t;

/**
 * Start the server: spawn the bridge actor, create the lws context on a new
 * service thread and listen.
 * @param rt          the runtime (outlives the server).
 * @param store       the store, read directly (outlives the server).
 * @param store_actor the store's writer actor (store_actor.h); a reference
 *                    is kept until web_stop().
 * @param cfg         configuration (copied); NULL for the defaults.
 * @param out         receives the server, NULL on failure (always written).
 * @param err         receives a sentence for the user (may be NULL).
 * @return 0, WEB_EADDR, WEB_EBIND, WEB_ELWS, WEB_EINVAL, or an rt_ code.
 */
int web_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
              const web_config_t *cfg, web_t **out, char *err,
              size_t errlen);

/** The TCP port the server listens on (useful after port 0). */
int web_port(const web_t *w);

/**
 * Publish an event: it is appended to the store's event log (through the
 * store actor, so it gets the next seq and survives a restart), then sent
 * to every WebSocket client subscribed to @p topic. Any thread, never
 * blocks.
 * @param topic  one of tasks, findings, actors, metrics, agent-output,
 *               alerts, logs.
 * @param data   the event's data (any JSON value, may be NULL); borrowed.
 * @return 0 (queued), WEB_ETOPIC, WEB_EINVAL, PROTO_E* when @p data does
 *         not fit the protocol's caps, RT_EAGAIN (the bridge's mailbox is
 *         full), RT_ESTOPPED (the server is stopping).
 */
int web_publish(web_t *w, const char *topic, const json_t *data);

/**
 * Stop the server: close every connection, join the service thread, stop
 * the bridge actor and free everything. Call before the runtime shuts
 * down. web_stop(NULL) is a no-op.
 */
void web_stop(web_t *w);

/* ---- listen addresses (exposed for tests) ---- */
typedef struct web_addr {
  char host[64]; /* numeric address, without brackets */
  int port;      /* 0..65535 */
  int ipv6;
} web_addr_t;
/** Parse "ADDR:PORT". @return 0 or WEB_EADDR. */
int web_addr_parse(const char *s, web_addr_t *out);

#ifdef __cplusplus
}
#endif
#endif /* WEB_WEB_H */
