/*
 * actor.h: actors, sending, request/reply, supervision, ports and stats.
 *
 * An actor is a type (a struct of hooks), private state the runtime
 * allocates, and a bounded mailbox. Its hooks run on one worker at a time,
 * so the state needs no locking. References (rt_actor_t *) are counted:
 * hold one to send; release it when done. A reference to a stopped actor
 * stays valid memory; sending through it returns RT_ESTOPPED.
 */
#ifndef RT_ACTOR_H
#define RT_ACTOR_H

#include "runtime/msg.h"
#include "runtime/rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Handler context: valid only inside a hook call, on that thread. */
typedef struct rt_ctx rt_ctx_t;

typedef struct rt_actor_type {
  const char *name; /* for stats and logs; static storage */
  size_t state_size; /* bytes of zeroed private state, may be 0 */
  /* Runs before the actor is visible to anyone (in the spawning thread,
   * and again on a worker after each restart). Non-zero fails the spawn
   * (RT_ESTART) or, on restart, stops the actor. May be NULL. */
  int (*on_start)(rt_ctx_t *ctx, void *state, const void *arg);
  /* One message. Cannot fail: report trouble with rt_actor_fail(). The
   * message belongs to the runtime and is freed after the call; keep its
   * payload only by taking it (rt_msg_take_payload). */
  void (*on_msg)(rt_ctx_t *ctx, void *state, rt_msg_t *msg);
  /* Runs once when the actor stops (and before each restart). May be NULL. */
  void (*on_stop)(rt_ctx_t *ctx, void *state);
} rt_actor_type_t;

typedef struct rt_spawn_opts {
  /* Register under this name (copied, at most RT_NAME_MAX-1 bytes);
   * NULL for none. The name is freed again when the actor stops. */
  const char *name;
  /* Mailbox bound in messages; 0 = the runtime's default. The bound
   * counts messages queued plus those taken in the actor's running turn
   * (the count drops once per turn, not per message, to keep the senders'
   * cache line quiet). */
  uint32_t mailbox_capacity;
  /* Actor notified with RT_MSG_CHILD_RESTARTED / RT_MSG_CHILD_DOWN; NULL
   * for none. The runtime keeps its own reference. */
  rt_actor_t *supervisor;
  /* Restart policy (one-for-one): a failed actor is restarted in place
   * (same id, same mailbox, fresh state) unless it has already been
   * restarted max_restarts times within the last restart_window_ms (0: ever);
   * then it stops. max_restarts 0 means a failure stops the actor. If
   * on_start fails on a restart, the actor stops without another on_stop. */
  unsigned max_restarts;
  unsigned restart_window_ms;
} rt_spawn_opts_t;

#define RT_NAME_MAX 64

/* Payload of RT_MSG_CHILD_RESTARTED and RT_MSG_CHILD_DOWN. */
typedef struct rt_child_event {
  uint64_t child_id;
  uint32_t restarts;     /* restarts so far, this one included */
  char reason[112];      /* from rt_actor_fail(), truncated; "" if none */
} rt_child_event_t;

/**
 * Spawn an actor. Its on_start hook has run when this returns.
 * @param type  hooks; must outlive the actor.
 * @param arg   passed to on_start; must stay valid while the actor may be
 *              restarted (the runtime keeps the pointer, not a copy).
 * @param opts  NULL for defaults (no name, default mailbox, no restarts).
 * @param out   receives a new reference (release it), NULL on failure.
 * @return 0, RT_ESHUTDOWN, RT_EEXIST (name taken), RT_EINVAL, RT_ESTART
 *         (on_start failed: on_stop is not called), RT_ENOMEM.
 */
int rt_actor_spawn(rt_runtime_t *rt, const rt_actor_type_t *type,
                   const void *arg, const rt_spawn_opts_t *opts,
                   rt_actor_t **out);

/** Add a reference; returns @p a. Any thread. */
rt_actor_t *rt_actor_retain(rt_actor_t *a);
/** Drop a reference. NULL is a no-op. Any thread. */
void rt_actor_release(rt_actor_t *a);
/** Unique id (never reused within a runtime), >= 1. */
uint64_t rt_actor_id(const rt_actor_t *a);
/** Registered name or NULL. Borrowed. */
const char *rt_actor_name(const rt_actor_t *a);
/** Non-zero once the actor has stopped (or was asked to). */
int rt_actor_stopped(const rt_actor_t *a);

/** Look an actor up by registered name; *out gets a new reference.
 * @return 0 or RT_ENOTFOUND. */
int rt_actor_lookup(rt_runtime_t *rt, const char *name, rt_actor_t **out);
/** Look an actor up by id; *out gets a new reference.
 * @return 0 or RT_ENOTFOUND (unknown or already stopped). */
int rt_actor_lookup_id(rt_runtime_t *rt, uint64_t id, rt_actor_t **out);

/**
 * Ask an actor to stop. Messages queued before the request are handled
 * first (the stop travels through the mailbox, bypassing its bound), then
 * on_stop runs and later messages are refused. Any thread.
 * @return 0, RT_ESTOPPED if it is already stopping.
 */
int rt_actor_stop(rt_actor_t *a);

/**
 * Send a message. Always consumes *msg (sets it to NULL, freeing the
 * message on failure). Any thread. Messages from one sender to one actor
 * arrive in the order sent. Inside a handler the sender id is the current
 * actor's.
 * @return 0, RT_EAGAIN (mailbox full), RT_ESTOPPED (the actor stopped or
 *         is stopping: checked first), RT_ESHUTDOWN (sent from outside any
 *         actor while the runtime shuts down), RT_EINVAL.
 */
int rt_send(rt_actor_t *to, rt_msg_t **msg);
/** rt_send() by id: adds RT_ENOTFOUND. */
int rt_send_id(rt_runtime_t *rt, uint64_t to, rt_msg_t **msg);

/* ---- inside a handler ---- */
/** The actor whose hook is running (borrowed reference). */
rt_actor_t *rt_self(rt_ctx_t *ctx);
rt_runtime_t *rt_ctx_runtime(rt_ctx_t *ctx);
/** Stop the current actor after this hook returns. */
void rt_stop_self(rt_ctx_t *ctx);
/**
 * Report that the current actor failed. After the hook returns, its state
 * is torn down (on_stop) and it is restarted or stopped per its policy; the
 * supervisor is told either way. @p reason is copied (for stats and logs).
 */
void rt_actor_fail(rt_ctx_t *ctx, const char *reason);

/**
 * Send a request from a handler: the reply (rt_reply) comes back as an
 * ordinary message whose corr equals *corr_out, or, after @p timeout_ms
 * without one, an RT_MSG_TIMEOUT message with that corr. Exactly one of the
 * two is delivered; a reply arriving after the timeout is dropped. A
 * timeout of 0 times out at once unless the reply is already queued ahead.
 * @return as rt_send(); on failure no timeout is delivered.
 */
int rt_request(rt_ctx_t *ctx, rt_actor_t *to, rt_msg_t **msg,
               uint32_t timeout_ms, uint64_t *corr_out);

/**
 * Answer the request @p req (from rt_request or rt_call) with *reply.
 * Consumes *reply. Works from a handler or any thread.
 * @return 0, RT_EINVAL when @p req is not a request, RT_ENOTFOUND /
 *         RT_ESTOPPED when the requester is gone (the reply is dropped).
 *         A reply that arrives after the request timed out is accepted
 *         (0) and dropped by the requester's runtime, unseen.
 */
int rt_reply(const rt_msg_t *req, rt_msg_t **reply);

/* Where to answer a request, kept past the handler (deferred replies:
 * the store answers writes after their group commit). A plain value. */
typedef struct rt_reply_to {
  rt_runtime_t *rt;
  uint64_t actor;
  uint64_t corr;
} rt_reply_to_t;

/** Capture the return address of @p req.
 * @return 0, or RT_EINVAL when @p req is not a request. */
int rt_msg_reply_to(const rt_msg_t *req, rt_reply_to_t *out);

/** Answer a captured request, from any thread; consumes *reply.
 * @return as rt_reply(). */
int rt_reply_later(const rt_reply_to_t *to, rt_msg_t **reply);

/**
 * Synchronous request from a thread that is not a worker (main, an I/O
 * thread): sends *msg (consumed) and waits up to @p timeout_ms for the
 * reply, which *reply_out receives (free it with rt_msg_free).
 * @return 0, RT_ETIMEDOUT, RT_EWRONGTHREAD on a worker (it would block the
 *         worker), or any rt_send() error. A timeout of 0 sends and returns
 *         RT_ETIMEDOUT unless the reply is already there.
 */
int rt_call(rt_runtime_t *rt, rt_actor_t *to, rt_msg_t **msg,
            uint32_t timeout_ms, rt_msg_t **reply_out);

/* ---- ports: mailboxes for threads that are not actors ---- */
/**
 * A port is an actor-like address that a plain thread reads with
 * rt_port_recv(); actors send to it like to any actor (rt_port_actor).
 * Used by the main thread, tests, and the event-loop threads.
 */
typedef struct rt_port rt_port_t;
/** @param capacity mailbox bound; 0 = the runtime's default.
 * @return 0, RT_ESHUTDOWN, RT_ENOMEM; *out always written. */
int rt_port_new(rt_runtime_t *rt, uint32_t capacity, rt_port_t **out);
/** The port's address (borrowed; retain it to keep it). */
rt_actor_t *rt_port_actor(rt_port_t *p);
/**
 * Receive the next message, waiting up to @p timeout_ms (-1: forever,
 * 0: poll). *out gets a message to free with rt_msg_free().
 * @return 0 or RT_ETIMEDOUT.
 */
int rt_port_recv(rt_port_t *p, int timeout_ms, rt_msg_t **out);
/** Install a function called (from the sending thread) whenever a message
 * lands in an empty port, instead of waking rt_port_recv waiters: for an
 * event loop that must be poked (lws_cancel_service). */
void rt_port_set_notify(rt_port_t *p, void (*fn)(void *arg), void *arg);
/** Close the port (later sends get RT_ESTOPPED), free queued messages and
 * the port. NULL is a no-op. */
void rt_port_free(rt_port_t *p);

/* ---- introspection ---- */
#define RT_HIST_BUCKETS 32 /* bucket i: handler time in [2^i, 2^(i+1)) ns */

typedef struct rt_actor_stats {
  uint64_t id;
  char name[RT_NAME_MAX];   /* "" when unnamed */
  const char *type_name;    /* static */
  uint64_t processed;       /* messages handled */
  /* Queued now, plus taken in the running turn. Runtime-made messages may
   * exceed the capacity; a refused send may show as +1 for a moment. */
  uint32_t depth;
  uint32_t depth_hwm;       /* highest depth seen */
  uint32_t capacity;        /* mailbox bound */
  uint32_t restarts;        /* in-place restarts so far */
  uint64_t rejected;        /* sends refused with RT_EAGAIN */
  /* Handler time, sampled: one message in RT_STATS_SAMPLE is timed. */
  uint64_t handler_ns_hist[RT_HIST_BUCKETS];
  int stopped;
} rt_actor_stats_t;
#define RT_STATS_SAMPLE 16

/** Snapshot one actor's counters. Any thread, while it runs. */
void rt_actor_stats(const rt_actor_t *a, rt_actor_stats_t *out);
/** Call @p fn for a snapshot of every live actor (ports excluded). Any
 * thread except from inside @p fn. */
void rt_runtime_foreach_actor(rt_runtime_t *rt,
                              void (*fn)(const rt_actor_stats_t *s, void *arg),
                              void *arg);

#ifdef __cplusplus
}
#endif
#endif /* RT_ACTOR_H */
