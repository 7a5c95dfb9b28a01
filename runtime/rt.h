/*
 * rt.h: the actor runtime's entry point: error codes, configuration, and
 * the runtime's life cycle.
 *
 * The runtime is independent of ccm: it knows nothing of tasks, repos or
 * msgpack schemas. Payloads are opaque bytes to it. See runtime/README.md
 * for the design (data structures, threading rules, ownership).
 *
 * Every function that can fail returns int: 0 on success, a negative code
 * on error. System errors pass through as -errno; the runtime's own codes
 * sit in the range below -31000 (LMDB uses -30800..-30600).
 */
#ifndef RT_RT_H
#define RT_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One table for the runtime's error codes: the enum and the strings. */
#define RT_ERRNO_MAP(XX)                                                     \
  XX(EAGAIN, -31001, "mailbox full, try again later")                        \
  XX(ESTOPPED, -31002, "actor has stopped")                                  \
  XX(ENOTFOUND, -31003, "no such actor")                                     \
  XX(E2BIG, -31004, "payload larger than the configured maximum")            \
  XX(ESHUTDOWN, -31005, "runtime is shutting down")                          \
  XX(ETIMEDOUT, -31006, "timed out")                                         \
  XX(EEXIST, -31007, "name already registered")                              \
  XX(EINVAL, -31008, "invalid argument")                                     \
  XX(ENOMEM, -31009, "out of memory")                                        \
  XX(ESTART, -31010, "actor's start hook failed")                            \
  XX(EWRONGTHREAD, -31011, "call not allowed on this thread")

enum rt_errno {
#define RT_ERR_ENUM(name, code, text) RT_##name = (code),
  RT_ERRNO_MAP(RT_ERR_ENUM)
#undef RT_ERR_ENUM
};

/**
 * Describe an error code.
 * @param rc a code returned by any rt_ function (runtime code or -errno).
 * @return a static string that starts with the code's name, e.g.
 *         "RT_EAGAIN: mailbox full, try again later". Never NULL.
 */
const char *rt_strerror(int rc);

typedef struct rt_runtime rt_runtime_t;
typedef struct rt_actor rt_actor_t;
typedef struct rt_msg rt_msg_t;

/* Configuration: a plain value type, filled by rt_config_defaults(). */
typedef struct rt_config {
  /* Worker threads; 0 means the number of online CPUs. */
  unsigned workers;
  /* Fairness bound: most messages an actor handles in one turn. */
  unsigned batch;
  /* Default mailbox bound (messages) for actors that do not set one. A send
   * to a full mailbox returns RT_EAGAIN; this is what bounds memory when a
   * producer floods a slow consumer. */
  uint32_t mailbox_capacity;
  /* Largest payload a message may carry, in bytes (RT_E2BIG above it). */
  size_t max_payload;
  /* Threads that run blocking jobs (rt_blocking_submit). */
  unsigned blocking_threads;
  /* How long an idle worker keeps polling before it parks, microseconds:
   * the most. Waking a parked thread costs 20-200 us on this kind of
   * machine, so a short spin pays for itself under load; each worker's
   * budget adapts between this and 1/32 of it (halved by a spin that found
   * nothing, doubled by one that found work within half its budget);
   * 0 parks at once. */
  unsigned spin_us;
} rt_config_t;

/** Fill @p cfg with defaults: workers = CPUs, batch 100, mailbox 65536,
 * max_payload 16 MiB, 2 blocking threads, spin 200 us. */
void rt_config_defaults(rt_config_t *cfg);

/**
 * Create a runtime and start its threads (workers, timer, I/O, blocking).
 * @param cfg  configuration, or NULL for the defaults. Copied.
 * @param out  receives the runtime, or NULL on failure (always written).
 * @return 0, RT_EINVAL for an unusable configuration, RT_ENOMEM, or -errno
 *         when a thread or an epoll/eventfd descriptor cannot be created.
 */
int rt_runtime_new(const rt_config_t *cfg, rt_runtime_t **out);

/* What happens to messages still queued when the runtime shuts down. */
typedef enum rt_shutdown_mode {
  RT_SHUTDOWN_DRAIN, /* every actor handles what is already queued, then stops */
  RT_SHUTDOWN_DROP   /* every actor stops after its current message; the rest is freed */
} rt_shutdown_mode_t;

/**
 * Stop accepting (new spawns and external sends fail with RT_ESHUTDOWN),
 * stop every actor (its on_stop hook runs on a worker), stop the timers and
 * I/O, and join every thread. Idempotent. Must not be called from a worker
 * thread (an actor's handler): it asserts in debug builds and returns
 * without doing anything otherwise.
 */
void rt_runtime_shutdown(rt_runtime_t *rt, rt_shutdown_mode_t mode);

/** Shut down (draining) if not done yet, then free the runtime.
 * rt_runtime_free(NULL) is a no-op. Every rt_actor_t reference the caller
 * still holds must be released before. */
void rt_runtime_free(rt_runtime_t *rt);

/** Number of worker threads the runtime runs. */
unsigned rt_runtime_workers(const rt_runtime_t *rt);

/** Whole-runtime counters, readable at any time from any thread. */
typedef struct rt_runtime_stats {
  uint64_t actors_live;     /* spawned and not yet stopped */
  uint64_t messages;        /* handled by any actor so far */
  uint64_t parks;           /* times a worker went to sleep */
  uint64_t shares;          /* actors handed from a busy worker to an idle one */
  uint64_t spin_timeouts;   /* idle spins that ran out of budget */
  uint64_t spin_ns_max;     /* the longest current idle spin budget of a worker */
} rt_runtime_stats_t;
void rt_runtime_stats(rt_runtime_t *rt, rt_runtime_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif /* RT_RT_H */
