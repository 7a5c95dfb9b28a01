/*
 * store_actor.h: the one writer of the store, with group commit.
 *
 * Send it STORE_MSG_WRITE requests (rt_request from an actor, rt_call from
 * a thread) whose payload is one protocol message in msgpack:
 *   TASK        -> upsert (store_task_put, actor "store", reason "upsert")
 *   TASK_UPDATE -> transition (store_task_transition with its fields)
 *   EVENT       -> append (topic, data, ts; seq assigned)
 *   COMMAND     -> only "pin" {"task": id, "pinned": bool, "at": unix ms}:
 *                  store_task_set_pinned, the task read inside the
 *                  transaction (no lost update beside a transition);
 *                  and "scan_files" (the scanner's file records:
 *                  store_files_apply, args as store.h says)
 *                  and "prio" (the prioritizer's scores and overrides:
 *                  store_prio_apply, read inside the transaction too)
 *                  and "seen" (the analyzer's sightings of findings:
 *                  store_seen_apply, read inside the transaction too)
 *                  and "task_step" (the executor's transition with its
 *                  "tasks" event: store_step_apply, all or nothing)
 * The reply, STORE_MSG_ACK with a store_ack_t payload, comes only after the
 * transaction holding the write committed durably (a payload that does not
 * decode, or a type the store does not take, is refused at once: nothing
 * was written). Writes that arrive while
 * a commit is in flight are batched into the next one: one fsync covers
 * them all. Transactions run on a runtime blocking thread (an fsync must
 * not stall a worker); a full map is grown and the batch replayed.
 */
#ifndef STORE_STORE_ACTOR_H
#define STORE_STORE_ACTOR_H

#include "runtime/actor.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STORE_MSG_WRITE 0x5301u
#define STORE_MSG_ACK 0x5302u

typedef struct store_ack {
  int32_t rc;      /* 0, or a STORE_E* / PROTO_E* / LMDB code */
  uint32_t batch;  /* writes in the transaction that carried this one */
  uint64_t seq;    /* for EVENT writes: the assigned seq */
} store_ack_t;

/** Spawn the store actor over @p s (borrowed: close it after the actor
 * stopped). @p name may be NULL. @return as rt_actor_spawn(). */
int store_actor_spawn(rt_runtime_t *rt, store_t *s, const char *name,
                      rt_actor_t **out);

/** Convenience for threads: encode @p m, rt_call the store, wait for the
 * durable acknowledgement. @return the ack's rc, or an rt_/proto_ error. */
int store_write_sync(rt_runtime_t *rt, rt_actor_t *store_actor,
                     const proto_msg_t *m, uint32_t timeout_ms,
                     store_ack_t *ack);

#ifdef __cplusplus
}
#endif
#endif /* STORE_STORE_ACTOR_H */
