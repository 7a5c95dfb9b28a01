/*
 * io.h: blocking work and descriptor readiness without stalling workers.
 *
 * Workers must never block. Two mechanisms cover the rest:
 *  - rt_blocking_submit(): a function runs on a small pool of blocking
 *    threads (file I/O, waitpid, git invocations, DNS); its result comes
 *    back as a message. The executor (child processes) and the scanner
 *    (file reads of huge trees, git blame) use it.
 *  - rt_fd_watch(): one epoll thread watches descriptors and sends
 *    RT_MSG_IO_READY to an actor when one is ready (one-shot; re-arm with
 *    another rt_fd_watch). The executor watches agent stdout/stderr pipes
 *    this way; the github actor drives libcurl's multi interface with it.
 *  - Event loops that own their thread (the libwebsockets service loop in
 *    web/) talk to actors with plain rt_send() and receive through an
 *    rt_port_t whose notify hook calls lws_cancel_service().
 */
#ifndef RT_IO_H
#define RT_IO_H

#include "runtime/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A blocking job. It runs on a blocking thread, may block, and may set
 * *result to a message, which is sent to the reply_to actor (if any) when
 * the job returns. It must not touch actor state.
 */
typedef void (*rt_blocking_fn)(void *arg, rt_msg_t **result);

/**
 * Queue a blocking job. Any thread.
 * @param reply_to  receives *result (a new reference is kept until then);
 *                  NULL to discard it.
 * @return 0, RT_ESHUTDOWN (once shutdown has stopped every actor),
 *         RT_ENOMEM. Actors that drain during a shutdown may still submit;
 *         every queued job runs before rt_runtime_shutdown() returns.
 */
int rt_blocking_submit(rt_runtime_t *rt, rt_blocking_fn fn, void *arg,
                       rt_actor_t *reply_to);

#define RT_IO_READ 0x1u
#define RT_IO_WRITE 0x4u
#define RT_IO_ERROR 0x8u
#define RT_IO_HANGUP 0x10u

/* Payload of RT_MSG_IO_READY. */
typedef struct rt_io_event {
  int fd;
  uint32_t events; /* RT_IO_* bits that are ready */
  uint64_t tag;    /* the caller's tag from rt_fd_watch */
} rt_io_event_t;

/**
 * Watch @p fd for @p events (RT_IO_READ and/or RT_IO_WRITE) once: when it
 * is ready, @p target gets one RT_MSG_IO_READY and the watch is disarmed
 * until the next rt_fd_watch() on the same fd (which re-arms it, possibly
 * with another target or events). Any thread.
 * @return 0, RT_EINVAL, RT_ESHUTDOWN, -errno from epoll_ctl.
 */
int rt_fd_watch(rt_runtime_t *rt, int fd, uint32_t events, rt_actor_t *target,
                uint64_t tag);

/** Stop watching @p fd (call before closing it). @return 0, RT_ENOTFOUND. */
int rt_fd_unwatch(rt_runtime_t *rt, int fd);

#ifdef __cplusplus
}
#endif
#endif /* RT_IO_H */
