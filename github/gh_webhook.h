/*
 * gh_webhook.h: GitHub webhook deliveries, verified and parsed.
 *
 * A pure handler: the HTTP server (web/, route POST /webhooks/github)
 * hands over the raw body and three headers and answers with the status
 * this returns; the parsed event goes to the actors as a message
 * (gh_event_msg). Order of checks, each failure changing nothing:
 *   1. X-Hub-Signature-256 missing or not
 *      "sha256=<64 hex>" (or no secret configured)       -> 401
 *   2. size: a body over max_body (not even hashed)      -> 413
 *   3. the HMAC-SHA256 of the raw body with the secret,
 *      compared in constant time, differs                -> 401
 *   4. X-GitHub-Event missing, or a body that is not a
 *      JSON object                                       -> 400
 *   5. X-GitHub-Delivery already accepted (a redelivery) -> 202, duplicate
 *   6. otherwise                                         -> 202, recorded
 * Events ccm handles (ping, push, issues, issue_comment, pull_request)
 * are parsed (gh_webhook_handle does it at once; the control plane uses
 * gh_webhook_check and leaves the parse to the handler); every other event
 * is acknowledged as GH_EVENT_IGNORED.
 * Missing payload fields are tolerated (NULL / 0).
 *
 * Threading: gh_webhook_handle from any thread (a mutex guards the
 * delivery set); the set is bounded (the oldest ids are forgotten first)
 * and lives in memory; ids from before a restart are found through the
 * config's was_accepted hook (the store), and the daemon's event handler
 * (actors/github/events.h) persists each accepted id.
 */
#ifndef GH_GH_WEBHOOK_H
#define GH_GH_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "github/gh.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gh_webhook_config {
  /* The shared secret (the caller read it from webhook_secret_env); copied
   * and wiped on free. NULL or "" refuses every delivery. */
  const char *secret;
  /* Body cap in bytes: 1 MiB. GitHub caps payloads at 25 MB but the
   * events ccm reads are a few KiB; a push with thousands of commits is
   * truncated by GitHub long before this. */
  size_t max_body;
  /* Delivery ids remembered for deduplication: 8192 (GitHub retries a
   * failed delivery for at most a few days; ids older than the last
   * 8192 deliveries are not redelivered in practice). */
  size_t dedupe_capacity;
  /* Ids accepted before this process started (the daemon asks the store's
   * gh_deliveries database): asked, outside the lock, for an id that is
   * not in the memory set. NULL: memory only. */
  bool (*was_accepted)(void *arg, const char *id);
  void *was_accepted_arg;
} gh_webhook_config_t;

/** Fill @p c with the defaults above (secret NULL). */
void gh_webhook_config_defaults(gh_webhook_config_t *c);

typedef struct gh_webhook gh_webhook_t;
/** @return 0, GH_ENOMEM; *out always written. */
int gh_webhook_new(const gh_webhook_config_t *cfg, gh_webhook_t **out);
/** Wipe the secret and free. NULL is a no-op. */
void gh_webhook_free(gh_webhook_t *w);

/* One delivery as received: headers (NUL-terminated values, NULL when
 * absent) and the raw body bytes. Borrowed for the call. */
typedef struct gh_webhook_delivery {
  const char *event;     /* X-GitHub-Event */
  const char *delivery;  /* X-GitHub-Delivery */
  const char *signature; /* X-Hub-Signature-256 */
  const void *body;
  size_t len;
} gh_webhook_delivery_t;

typedef enum gh_event_kind {
  GH_EVENT_IGNORED = 0, /* acknowledged, nothing to do */
  GH_EVENT_PING,
  GH_EVENT_PUSH,
  GH_EVENT_ISSUES,
  GH_EVENT_ISSUE_COMMENT,
  GH_EVENT_PULL_REQUEST
} gh_event_kind_t;

/* A parsed delivery; strings owned (gh_event_fini), NULL when absent. */
typedef struct gh_event {
  gh_event_kind_t kind;
  bool duplicate;      /* a redelivery: acknowledge, do not process */
  char *name;          /* X-GitHub-Event */
  char *delivery;      /* X-GitHub-Delivery */
  char *action;        /* "opened", "closed", "labeled", ... */
  char *repo;          /* repository.full_name */
  char *sender;        /* sender.login */
  bool sender_bot;
  /* issues, issue_comment, pull_request */
  uint32_t number;
  char *title;
  char *state;         /* the issue's / pull request's state */
  char *label;         /* labeled / unlabeled: the label */
  char **labels;       /* the issue's labels now */
  size_t n_labels;
  bool is_pull_request; /* issue_comment on a pull request */
  bool merged;         /* pull_request: merged (closed+merged) */
  char *head_ref;      /* pull_request: head branch (ccm/<task-id>) */
  char *html_url;      /* pull_request: its page (a task's pr_url) */
  char *body;          /* pull_request: its description (closing references,
                          ccm's task marker) */
  char *comment_author; /* issue_comment: comment.user.login */
  /* push */
  char *ref, *before, *after;
  uint32_t commits;
  bool deleted;        /* push: the branch was deleted */
  int64_t at;          /* updated_at / comment time / head commit time */
} gh_event_t;

void gh_event_fini(gh_event_t *e);
/** "ping", "push", ... or "ignored". */
const char *gh_event_kind_name(gh_event_kind_t k);

/* What gh_webhook_check decided about a delivery it accepted. */
typedef struct gh_webhook_verdict {
  gh_event_kind_t kind; /* from X-GitHub-Event alone */
  bool duplicate;       /* a redelivery: acknowledge, do not process */
} gh_webhook_verdict_t;

/**
 * Verify, check and deduplicate one delivery without building the event:
 * steps 1-6 above, step 4 by a one-pass JSON check (no parse). The
 * control plane's path: it answers at once and hands the raw delivery to
 * the handler (gh_delivery_msg), which parses it.
 * @return the HTTP status to answer: 202, 400, 401 or 413.
 */
int gh_webhook_check(gh_webhook_t *w, const gh_webhook_delivery_t *d,
                     gh_webhook_verdict_t *out);

/** Parse the payload of event @p name (a body gh_webhook_check accepted)
 * into *out (gh_event_fini it); ignored kinds are not read. A body
 * jansson refuses (a number too big for it) leaves the kind IGNORED.
 * @return 0, GH_EMALFORMED, GH_ENOMEM. */
int gh_event_parse(const char *name, const char *delivery, const void *body,
                   size_t len, gh_event_t *out);

/**
 * Verify and parse one delivery (gh_webhook_check, then gh_event_parse).
 * @param out  filled only when 202 is returned (gh_event_fini it then);
 *             zeroed otherwise.
 * @return the HTTP status to answer: 202, 400, 401 or 413.
 */
int gh_webhook_handle(gh_webhook_t *w, const gh_webhook_delivery_t *d,
                      gh_event_t *out);

/** Counters since creation (tests, /metrics). */
typedef struct gh_webhook_stats {
  uint64_t accepted, duplicates, ignored, unauthorized, too_big, malformed;
} gh_webhook_stats_t;
void gh_webhook_stats(gh_webhook_t *w, gh_webhook_stats_t *out);

/* The event as a message for the actors. */
#define GH_MSG_EVENT 0x4703u
/** Encode @p e into a new GH_MSG_EVENT message. @return 0, GH_ENOMEM, rt_
 * codes; *out always written. */
int gh_event_msg(const gh_event_t *e, rt_msg_t **out);
/** Decode a GH_MSG_EVENT. @return 0, GH_EMALFORMED, GH_ENOMEM. */
int gh_event_decode(const rt_msg_t *m, gh_event_t *out);

/* A delivery as received (event name, delivery id, raw body), for the
 * handler to parse off the HTTP thread. */
#define GH_MSG_DELIVERY 0x4704u
/** Encode @p d (the body only when @p with_body: ignored kinds need none)
 * into a new GH_MSG_DELIVERY. @return 0, GH_ENOMEM, rt_ codes. */
int gh_delivery_msg(const gh_webhook_delivery_t *d, bool with_body,
                    rt_msg_t **out);
/** Decode a GH_MSG_DELIVERY and parse it (gh_event_parse).
 * @return 0, GH_EMALFORMED, GH_ENOMEM. */
int gh_delivery_decode(const rt_msg_t *m, gh_event_t *out);

/** "sha256=<hex>" of @p body under @p secret into @p out (72 bytes). For
 * tests and for tools that send deliveries. */
void gh_webhook_sign(const char *secret, const void *body, size_t len,
                     char out[72]);

#ifdef __cplusplus
}
#endif
#endif /* GH_GH_WEBHOOK_H */
