/*
 * gh_int.h: github/ internals (not for other folders; the tests use them).
 *
 * Design note (long form in github/README.md):
 *  - client.c is the actor. It owns one CURLM and every CURL easy handle,
 *    and runs them only inside its own hooks, so a handle is never used by
 *    two threads at once (the mailbox orders the turns). Jobs wait in a
 *    FIFO until a transfer slot is free and nothing holds them (backoff,
 *    rate-limit reset, Retry-After); one runtime timer wakes the earliest.
 *  - http.c drives curl's multi_socket API with the runtime: the socket
 *    callback arms one-shot rt_fd_watch() watches (tag = a generation, so a
 *    stale readiness message for a closed and reused descriptor is
 *    ignored), the timer callback arms one rt timer (stale ticks are
 *    recognised by id). A close-socket callback forgets the watch before
 *    the descriptor is closed, so the runtime's watch table never names a
 *    descriptor we no longer own.
 *  - policy.c holds the pure rules (Link, backoff, Retry-After, rate-limit
 *    gates, origins), unit-tested with explicit clocks.
 *  - wire.c encodes requests and responses as msgpack for the mailbox.
 */
#ifndef GH_GH_INT_H
#define GH_GH_INT_H

#include <curl/curl.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "github/gh.h"
#include "runtime/io.h"

/* ---- a growable byte buffer with a hard cap ---- */
typedef struct gh__buf {
  char *p;
  size_t len, cap;
} gh__buf_t;
/** Append; @return 0, GH_ETOOBIG (len would pass @p limit), GH_ENOMEM. */
int gh__buf_add(gh__buf_t *b, const void *data, size_t n, size_t limit);
/** NUL-terminate without counting it; @return 0 or GH_ENOMEM. */
int gh__buf_cstr(gh__buf_t *b);
void gh__buf_fini(gh__buf_t *b);
/** Move the bytes out (NUL-terminated; *len = length); leaves b empty. */
char *gh__buf_take(gh__buf_t *b, size_t *len);

/* ---- policy.c: pure rules ---- */

/** The URL of rel="next" in a Link header value, malloc'd, or NULL. */
char *gh__link_next(const char *link);

/**
 * Delay before retry number @p n (0 = the first retry): the exponential
 * step min(max, base * 2^n), half of it fixed and half drawn from @p rnd
 * ("equal jitter": never below step/2, so retries never stampede and a
 * retry is never immediate).
 */
uint64_t gh__backoff_ms(unsigned n, unsigned base_ms, unsigned max_ms,
                        uint64_t rnd);

/** A Retry-After value (delay-seconds or an HTTP-date) as milliseconds
 * from @p now_s (unix seconds); -1 when it does not parse; 0 when past. */
int64_t gh__retry_after_ms(const char *v, int64_t now_s);

/** Which rate-limit bucket a request path uses ("core", "search",
 * "graphql"), as GitHub names them in X-RateLimit-Resource. */
const char *gh__resource_of(const char *path);

#define GH__RL_RESOURCES 8
typedef struct gh__rl_bucket {
  char name[24];
  int64_t remaining; /* -1 unknown */
  int64_t reset_s;   /* unix seconds, 0 unknown */
} gh__rl_bucket_t;

/* Rate-limit state of one token: GitHub's buckets, plus a pause that a
 * secondary limit (Retry-After) puts on every request. */
typedef struct gh__ratelimit {
  gh__rl_bucket_t b[GH__RL_RESOURCES];
  size_t n;
  int64_t pause_until_ms; /* unix ms; 0 none */
} gh__ratelimit_t;

/** Record a response's X-RateLimit-* values for @p resource. */
void gh__rl_update(gh__ratelimit_t *rl, const char *resource,
                   int64_t remaining, int64_t reset_s);
/** Pause every request until @p until_ms (keeps the later of two). */
void gh__rl_pause(gh__ratelimit_t *rl, int64_t until_ms);
/**
 * Earliest time (unix ms) a request to @p resource may be sent, given
 * @p now_ms: now_ms when nothing holds it; the bucket's reset (plus a
 * second of slack for clock skew) when it is exhausted; the pause.
 */
int64_t gh__rl_ready_at(const gh__ratelimit_t *rl, const char *resource,
                        int64_t now_ms);

/** scheme://host[:port] of @p url into @p out; @return 0 or GH_EINVAL. */
int gh__url_origin(const char *url, char *out, size_t cap);

/**
 * Join one page (a JSON array's text) onto @p acc, an array being built:
 * "[" on the first page, "," between non-empty pages; gh__page_close()
 * adds the final "]". Checks only the brackets (the parser checks the
 * rest). @return 0, GH_EPROTO (the page is not an array), GH_ETOOBIG.
 */
int gh__page_join(gh__buf_t *acc, const char *page, size_t len, size_t limit);
int gh__page_close(gh__buf_t *acc, size_t limit);

/** A copy of the string member @p key of JSON object @p o, or NULL (not a
 * string, absent, or @p o not an object). */
char *gh__json_strdup(const json_t *o, const char *key);
/** gh_user_is_bot() of a JSON user object ({"login", "type"}). */
bool gh__json_user_is_bot(const json_t *user);

/** Unix time in milliseconds (CLOCK_REALTIME: rate-limit resets are wall
 * clock). */
int64_t gh__now_ms(void);

/* ---- wire.c: the mailbox encoding ---- */

void gh__pack_key(msgpack_packer *pk, const char *k);
/** Pack k: v (nil when @p v is NULL). */
void gh__pack_str(msgpack_packer *pk, const char *k, const char *v, size_t n);
void gh__pack_cstr(msgpack_packer *pk, const char *k, const char *v);
void gh__pack_i64(msgpack_packer *pk, const char *k, int64_t v);
/** Move an sbuffer's bytes into a new message of @p type. */
int gh__sbuffer_msg(uint32_t type, msgpack_sbuffer *sb, rt_msg_t **out);
/* A msgpack map written into a message: gh__map_begin, the pairs (with
 * &m->pk), then gh__map_msg, which frees the buffer whatever happens. */
typedef struct gh__map {
  msgpack_sbuffer sb;
  msgpack_packer pk;
} gh__map_t;
void gh__map_begin(gh__map_t *m, size_t pairs);
int gh__map_msg(gh__map_t *m, uint32_t type, rt_msg_t **out);

/* One expected key of a msgpack map: its value is copied into dst
 * (int64_t *, char ** malloc'd, or char *** with *len the count). Unknown
 * keys are ignored; a key of the wrong type fails the decode. */
typedef struct gh__field {
  const char *key;
  enum { GH__F_INT, GH__F_STR, GH__F_STRS } kind;
  void *dst;
  size_t *len; /* F_STR: optional length out; F_STRS: the count */
} gh__field_t;
int gh__decode_map(const void *data, size_t len, const gh__field_t *fields,
                   size_t nfields);

/* Nesting bound of gh__json_object_ok (jansson's own is 2048). */
#define GH__JSON_DEPTH 512
/** Is @p buf exactly one JSON object, by RFC 8259 (json_check.c)? No
 * allocation, one pass. */
bool gh__json_object_ok(const void *buf, size_t len);

/** Decode a GH_MSG_REQUEST payload; strings owned by *out (free with
 * gh__request_fini). @return 0, GH_EMALFORMED, GH_ENOMEM. */
int gh__request_decode(const void *data, size_t len, gh_request_t *out);
void gh__request_fini(gh_request_t *r);
/** Encode a response into a new GH_MSG_RESPONSE message. */
int gh__response_msg(const gh_response_t *r, rt_msg_t **out);

/* ---- http.c: curl multi on the runtime ---- */

#define GH__MSG_CURL_TIMER 0x4710u /* curl's timeout, corr = timer id */

typedef struct gh__sock {
  curl_socket_t fd;
  int want;      /* CURL_POLL_* */
  uint64_t tag;  /* generation: ignores stale readiness */
} gh__sock_t;

typedef void (*gh__http_done_fn)(void *arg, CURL *easy, CURLcode result);

typedef struct gh__http {
  CURLM *multi;
  rt_runtime_t *rt;
  rt_actor_t *self;     /* borrowed: the owning actor */
  gh__sock_t *socks;
  size_t nsocks, capsocks;
  uint64_t next_tag;
  uint64_t timer_id;    /* curl's pending timeout, 0 none */
  gh__http_done_fn done;
  void *done_arg;
} gh__http_t;

/** Set up the multi handle. @return 0 or GH_ECURL. */
int gh__http_init(gh__http_t *h, rt_runtime_t *rt, rt_actor_t *self,
                  gh__http_done_fn done, void *arg);
/** Start a transfer (also installs the close-socket hook on @p easy).
 * @return 0 or GH_ECURL. */
int gh__http_add(gh__http_t *h, CURL *easy);
/** Detach a transfer (before curl_easy_cleanup). */
void gh__http_remove(gh__http_t *h, CURL *easy);
/** Handle RT_MSG_IO_READY. */
void gh__http_on_io(gh__http_t *h, const rt_io_event_t *ev);
/** Handle GH__MSG_CURL_TIMER. */
void gh__http_on_timer(gh__http_t *h, uint64_t timer_id);
/** Tear down (every easy handle must have been removed). */
void gh__http_fini(gh__http_t *h);

#endif /* GH_GH_INT_H */
