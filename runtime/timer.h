/*
 * timer.h: one-shot and periodic timers, delivered as messages.
 *
 * One timer thread keeps a binary heap ordered by (deadline, creation
 * order), so timers due at the same moment fire in the order they were
 * started. A tick is an ordinary message of the type the caller chose, with
 * corr = the timer id; it bypasses the mailbox bound, because a timer never
 * has more than one tick outstanding: a periodic timer whose previous tick
 * is still queued or being handled skips that tick.
 */
#ifndef RT_TIMER_H
#define RT_TIMER_H

#include "runtime/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Start a timer that sends a message of @p msg_type (empty payload, corr =
 * the timer id) to @p target after @p delay_ms, then every @p period_ms if
 * that is non-zero. Any thread.
 * @param id_out receives the timer id (>= 1), 0 on failure; may be NULL.
 * @return 0, RT_EINVAL (reserved type), RT_ESHUTDOWN, RT_ENOMEM.
 */
int rt_timer_start(rt_runtime_t *rt, rt_actor_t *target, uint32_t msg_type,
                   uint64_t delay_ms, uint64_t period_ms, uint64_t *id_out);

/**
 * Cancel a timer. After this returns no new tick is sent; a tick already
 * queued in the target's mailbox is still delivered (compare its corr with
 * the ids you cancelled). Any thread.
 * @return 0, or RT_ENOTFOUND when the timer already fired (one-shot) or
 *         was cancelled.
 */
int rt_timer_cancel(rt_runtime_t *rt, uint64_t id);

#ifdef __cplusplus
}
#endif
#endif /* RT_TIMER_H */
