/*
 * msg.h: messages and shared payloads.
 *
 * Ownership (see runtime/README.md):
 *  - The sender allocates a message and hands it to rt_send(), which always
 *    consumes it: *msg is set to NULL on success and on failure.
 *  - The runtime frees a delivered message after the handler returns. The
 *    handler may keep the payload only by taking it (rt_msg_take_payload).
 *  - A payload shared by many messages (fan-out) is an rt_payload_t with a
 *    reference count; each message holds one reference.
 */
#ifndef RT_MSG_H
#define RT_MSG_H

#include "runtime/rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Message types at or above RT_MSG_SYSTEM are the runtime's own. */
#define RT_MSG_SYSTEM 0xFFFF0000u
/* A request sent with rt_request() got no reply in time; corr = its id. */
#define RT_MSG_TIMEOUT (RT_MSG_SYSTEM + 1)
/* A supervised child was restarted after a failure; sender = the child.
 * Payload: rt_child_event_t. */
#define RT_MSG_CHILD_RESTARTED (RT_MSG_SYSTEM + 2)
/* A supervised child stopped for good (restart budget spent, or its start
 * hook failed on restart); sender = the child. Payload: rt_child_event_t. */
#define RT_MSG_CHILD_DOWN (RT_MSG_SYSTEM + 3)
/* A watched descriptor is ready (rt_fd_watch). Payload: rt_io_event_t. */
#define RT_MSG_IO_READY (RT_MSG_SYSTEM + 4)

/**
 * Create a message whose payload is a copy of @p data.
 * @param type  message type; must be below RT_MSG_SYSTEM.
 * @param data  bytes to copy (may be NULL when @p len is 0).
 * @param out   receives the message, NULL on failure (always written).
 * @return 0, RT_EINVAL for a reserved type, RT_E2BIG when @p len exceeds
 *         the process-wide cap (rt_msg_set_max_payload), RT_ENOMEM.
 * @note Payloads up to RT_MSG_INLINE bytes live inside the message itself;
 *       small messages therefore cost no allocation beyond the pool.
 */
int rt_msg_new(uint32_t type, const void *data, size_t len, rt_msg_t **out);

/** Like rt_msg_new() but takes ownership of @p data, a buffer from malloc()
 * (for instance msgpack_sbuffer_release()). On failure @p data is freed. */
int rt_msg_new_take(uint32_t type, void *data, size_t len, rt_msg_t **out);

/** Free a message that was never sent. rt_msg_free(NULL) is a no-op. */
void rt_msg_free(rt_msg_t *msg);

/** Message type. */
uint32_t rt_msg_type(const rt_msg_t *msg);
/** Payload bytes, borrowed for the life of the message; *len gets the size. */
const void *rt_msg_data(const rt_msg_t *msg, size_t *len);
/** Id of the sending actor, 0 when sent from outside any actor. */
uint64_t rt_msg_sender(const rt_msg_t *msg);
/** Correlation id: set on requests, replies, timeouts and timer ticks. */
uint64_t rt_msg_corr(const rt_msg_t *msg);

/**
 * Take the payload out of a message: the caller owns the returned buffer
 * (free() it). The message is left with an empty payload. Returns NULL
 * with *len = 0 for an empty payload, or when out of memory.
 * @note A shared payload is copied; an owned one is moved without a copy.
 */
void *rt_msg_take_payload(rt_msg_t *msg, size_t *len);

/* Payloads up to this size are stored inside the message. */
#define RT_MSG_INLINE 48

/** Process-wide payload cap used by rt_msg_new*; rt_runtime_new() sets it
 * from rt_config_t.max_payload. */
void rt_msg_set_max_payload(size_t max);

/* ---- shared, immutable, reference-counted payloads (fan-out) ---- */
typedef struct rt_payload rt_payload_t;

/**
 * Create a shared payload holding a copy of @p data, with @p headroom
 * writable bytes before it (for instance LWS_PRE for libwebsockets).
 * The returned payload has one reference.
 * @return 0, RT_E2BIG, RT_ENOMEM; *out always written.
 */
int rt_payload_new(const void *data, size_t len, size_t headroom,
                   rt_payload_t **out);
/** Add a reference; returns @p p. Any thread. */
rt_payload_t *rt_payload_retain(rt_payload_t *p);
/** Drop a reference; the last one frees. NULL is a no-op. Any thread. */
void rt_payload_release(rt_payload_t *p);
/** Bytes and length of a payload. */
const void *rt_payload_data(const rt_payload_t *p, size_t *len);
/** Start of the headroom (data minus headroom). */
void *rt_payload_headroom(rt_payload_t *p);

/** Create a message carrying a new reference to @p p (the caller keeps its
 * own). @return 0, RT_EINVAL, RT_ENOMEM; *out always written. */
int rt_msg_new_shared(uint32_t type, rt_payload_t *p, rt_msg_t **out);
/** The shared payload of a message (a new reference), or NULL when the
 * message's payload is not shared. */
rt_payload_t *rt_msg_payload_ref(const rt_msg_t *msg);

#ifdef __cplusplus
}
#endif
#endif /* RT_MSG_H */
