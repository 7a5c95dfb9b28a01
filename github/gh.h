/*
 * gh.h: the GitHub REST client: errors, configuration, and the client
 * actor that owns every libcurl handle.
 *
 * The client is an actor (gh_client_spawn). Other actors send it
 * GH_MSG_REQUEST with rt_request() (threads: gh_call()), and get one
 * GH_MSG_RESPONSE back when the request finished: after redirects,
 * conditional-request revalidation, rate-limit holds, retries with
 * backoff, and (on request) every page of a paginated list. libcurl's
 * multi interface is driven by the runtime's readiness messages
 * (rt_fd_watch) and timers, so no worker ever blocks on the network.
 * See github/README.md for the design and the limits.
 *
 * Threading: gh_client_spawn, gh_call and the encode/decode helpers from
 * any thread (gh_call not from a worker: it waits).
 */
#ifndef GH_GH_H
#define GH_GH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: 0 ok; rt_ codes pass through; ours sit below -35000. */
#define GH_ERRNO_MAP(XX)                                                      \
  XX(EHTTP, -35001, "GitHub answered with an error status")                   \
  XX(EAUTH, -35002, "GitHub refused the credentials (401)")                   \
  XX(ERATELIMIT, -35003, "rate limit exhausted beyond the allowed wait")      \
  XX(ENETWORK, -35004, "network error, retries exhausted")                    \
  XX(ETIMEDOUT, -35005, "request timed out, retries exhausted")               \
  XX(ETOOBIG, -35006, "response larger than the configured cap")             \
  XX(EINVAL, -35007, "invalid argument")                                      \
  XX(ENOMEM, -35008, "out of memory")                                         \
  XX(ENOTOKEN, -35009, "the token's environment variable is not set")         \
  XX(EPROTO, -35010, "unexpected response from GitHub")                       \
  XX(ENOTFOUND, -35011, "not found")                                          \
  XX(ESIGNATURE, -35012, "webhook signature missing or wrong")                \
  XX(EMALFORMED, -35013, "malformed input")                                   \
  XX(ESTOPPED, -35014, "the GitHub client stopped")                           \
  XX(ECURL, -35015, "libcurl could not be set up")

enum gh_errno {
#define GH_ERR_ENUM(name, code, text) GH_##name = (code),
  GH_ERRNO_MAP(GH_ERR_ENUM)
#undef GH_ERR_ENUM
};
/** "GH_EHTTP: ...", or the runtime's description. Never NULL. */
const char *gh_strerror(int rc);

typedef enum gh_auth_scheme {
  GH_AUTH_TOKEN = 0, /* "Authorization: token <t>" (GitHub's classic form) */
  GH_AUTH_BEARER     /* "Authorization: Bearer <t>" (apps, fine-grained) */
} gh_auth_scheme_t;

/* Configuration: a plain value, filled by gh_config_defaults(). Strings
 * are copied by gh_client_spawn(). */
typedef struct gh_config {
  /* API root without a trailing slash: https://api.github.com, an
   * Enterprise https://host/api/v3, or a local stand-in. */
  const char *api_url;
  /* Name of the environment variable holding the token (read once, at
   * spawn; never logged, stored or sent anywhere but api_url's origin).
   * NULL or "" = anonymous requests. */
  const char *token_env;
  gh_auth_scheme_t auth;
  const char *accept;        /* application/vnd.github.v3+json */
  const char *user_agent;    /* "ccm/0.1" (GitHub refuses requests without) */
  const char *api_version;   /* X-GitHub-Api-Version, "2022-11-28"; NULL/"" = none */
  unsigned connect_timeout_ms; /* 10 s */
  unsigned request_timeout_ms; /* whole transfer, per attempt: 30 s */
  unsigned max_retries;      /* retries after the first attempt: 3 */
  unsigned retry_base_ms;    /* first backoff: 500 ms, doubling ... */
  unsigned retry_max_ms;     /* ... up to 30 s; equal jitter (half fixed) */
  /* Longest wait for a rate-limit reset or a Retry-After before a request
   * fails with GH_ERATELIMIT instead: 900 s. */
  unsigned max_hold_s;
  unsigned max_concurrent;   /* transfers in flight at once: 4 */
  unsigned max_pages;        /* default page bound for GH_REQ_PAGINATE: 100 */
  size_t max_response;       /* body bytes per request, all pages: 8 MiB */
  uint32_t mailbox_capacity; /* requests queued; 0 = runtime default */
} gh_config_t;

/** Fill @p c with the defaults listed above. */
void gh_config_defaults(gh_config_t *c);

/* ---- the response cache (conditional requests) ---- */

/* One cached response; strings and body owned (malloc'd). */
typedef struct gh_cache_entry {
  char *etag;          /* "" or NULL when none */
  char *last_modified; /* "" or NULL when none */
  char *link;          /* the Link header (a 304 may omit it), or NULL */
  char *body;
  size_t len;
} gh_cache_entry_t;
void gh_cache_entry_fini(gh_cache_entry_t *e);

/* A cache the client consults from its own thread. get fills *out with
 * owned copies and returns 0, or GH_ENOTFOUND; put copies what it keeps and
 * must not block (a store-backed cache writes behind, see gh_cache.h). */
typedef struct gh_cache {
  int (*get)(struct gh_cache *c, const char *url, gh_cache_entry_t *out);
  void (*put)(struct gh_cache *c, const char *url, const gh_cache_entry_t *e);
  void (*free)(struct gh_cache *c);
} gh_cache_t;

/* ---- requests and responses ---- */

typedef enum gh_method {
  GH_GET = 0, GH_POST, GH_PATCH, GH_PUT, GH_DELETE
} gh_method_t;

#define GH_REQ_PAGINATE 0x1u /* follow Link rel="next"; join the arrays */
#define GH_REQ_NO_CACHE 0x2u /* no conditional request, nothing cached */

typedef struct gh_request {
  gh_method_t method;
  /* "/repos/o/r/issues?per_page=100" (appended to api_url) or an absolute
   * URL on api_url's origin (a Link from an earlier response). */
  const char *path;
  const char *body;    /* compact JSON text, or NULL */
  uint32_t flags;      /* GH_REQ_* */
  uint32_t max_pages;  /* with GH_REQ_PAGINATE; 0 = config default */
} gh_request_t;

typedef struct gh_response {
  int rc;              /* 0 for 2xx or a 304 answered from the cache */
  int status;          /* last HTTP status; 0 when no answer came */
  char *body;          /* owned; paginated: one JSON array of every page */
  size_t len;
  char *etag;          /* of the last page, owned, may be NULL */
  bool from_cache;     /* some page came from the cache (a 304) */
  bool truncated;      /* stopped at max_pages with pages left */
  char *next;          /* with truncated: the next page's URL (resume) */
  uint32_t pages;      /* pages fetched */
  uint32_t attempts;   /* HTTP attempts, retries included */
  uint32_t connects;   /* new connections opened (keep-alive reuse) */
  int64_t rl_remaining; /* X-RateLimit-Remaining, -1 unknown */
  int64_t rl_reset;    /* X-RateLimit-Reset (unix s), 0 unknown */
  char *rl_resource;   /* X-RateLimit-Resource, may be NULL */
  char *error;         /* a sentence when rc != 0 (never the token) */
} gh_response_t;
/** Free what a response owns and zero it. NULL is a no-op. */
void gh_response_fini(gh_response_t *r);

/* Message types (payloads: gh_request_msg / gh_response_decode). */
#define GH_MSG_REQUEST 0x4701u
#define GH_MSG_RESPONSE 0x4702u

/** Encode @p req into a new GH_MSG_REQUEST message (send it with
 * rt_request or rt_call). @return 0, GH_EINVAL, GH_ENOMEM, rt_ codes;
 * *out always written. */
int gh_request_msg(const gh_request_t *req, rt_msg_t **out);

/** Decode a GH_MSG_RESPONSE into *out (owned; gh_response_fini).
 * @return 0, GH_EMALFORMED (wrong type or a payload that does not decode),
 *         GH_ENOMEM. */
int gh_response_decode(const rt_msg_t *msg, gh_response_t *out);

/**
 * Spawn a client actor.
 * @param cfg    configuration (copied); NULL for the defaults.
 * @param cache  response cache, or NULL for none; borrowed: it must outlive
 *               the actor.
 * @param name   registered name, or NULL.
 * @param out    receives a new reference, NULL on failure.
 * @return 0, GH_ENOTOKEN (token_env names an unset variable), GH_EINVAL
 *         (no api_url), GH_ECURL, or rt_actor_spawn's codes.
 */
int gh_client_spawn(rt_runtime_t *rt, const gh_config_t *cfg,
                    gh_cache_t *cache, const char *name, rt_actor_t **out);

/**
 * Synchronous request from a plain thread (not a worker): send @p req and
 * wait up to @p timeout_ms for the response.
 * @return the response's rc (also in out->rc) or an rt_ code (RT_ETIMEDOUT,
 *         RT_EWRONGTHREAD, ...); *out is always initialised.
 */
int gh_call(rt_runtime_t *rt, rt_actor_t *client, const gh_request_t *req,
            uint32_t timeout_ms, gh_response_t *out);

#ifdef __cplusplus
}
#endif
#endif /* GH_GH_H */
