/*
 * rt_int.h: runtime internals. Include from runtime/ only.
 *
 * Design note (the long form, with the reasons, is runtime/README.md)
 * -----------
 * Messages. struct rt_msg is a fixed-size header with RT_MSG_INLINE bytes
 * of inline payload; larger payloads are a malloc'd buffer or a shared,
 * refcounted rt_payload_t. Headers come from a per-thread free list that
 * trades batches of RT_POOL_BATCH with a global stack (a message is often
 * freed on another thread than the one that made it). Sanitizer builds use
 * plain malloc/free so that use-after-free is caught.
 *
 * Mailboxes. An intrusive Vyukov MPSC queue in the Pony style: senders do
 * one atomic exchange on `head`; the single consumer walks `tail`. The
 * message a pop returns stays in the queue as the stub until the next pop,
 * which frees it (its payload is released right after the handler). The
 * low bit of `head` means "empty and not scheduled": the sender whose
 * exchange sees it set owns scheduling the actor; the consumer sets it
 * again with one CAS when it finds the queue empty at the end of a turn.
 * So an actor is in at most one run queue, and a scheduled actor holds one
 * reference on itself.
 *
 * Bounds. `depth` counts queued messages (fetch_add by senders, one
 * fetch_sub per turn by the consumer); a send that would exceed `capacity`
 * is undone and fails with RT_EAGAIN. Runtime-internal messages (stop,
 * one-shot timers, timeouts, I/O readiness, blocking results, supervision
 * notices) are "forced": they count in depth but skip the check, because
 * each is bounded by something else (one per timer, fd, job or child).
 * A handler whose send finds the target RT_YIELD_BATCHES turns deep ends
 * its own turn after the current message (as Erlang charges a sender to a
 * long queue): the consumer then runs and mailboxes stay short and warm
 * in cache instead of filling to the bound.
 *
 * Scheduling. Each worker owns a FIFO run queue that only it touches (no
 * atomics). An actor made runnable by a handler goes to the running
 * worker's own queue (locality: ping-pong stays on one core); an actor made
 * runnable from outside (timer, I/O, main thread) goes to the shared
 * injection queue (mutex). Balancing is by sharing, not stealing: after a
 * turn, a worker whose queue holds two or more actors while another worker
 * is idle moves one to the injection queue and wakes at most one parked
 * worker, and only if no worker is already spinning. Idle workers spin on
 * the injection queue for spin_us, then park on their condition variable,
 * so an idle runtime uses no CPU. The spin adapts: a spin that found work
 * quickly doubles the worker's budget (up to spin_us), one that timed out
 * halves it (down to spin_us / RT_SPIN_FLOOR_DIV), so work that arrives
 * sparsely from outside does not cost a full spin per arrival. An actor handles at most `batch` messages
 * per turn, then goes to the back of the queue.
 *
 * Threads. Workers run handlers. One timer thread (binary heap, condvar
 * with a deadline). One I/O thread (epoll, one-shot watches). A pool of
 * blocking threads. Only the worker running an actor touches its state,
 * its pending-request table and its consumer-side fields; senders touch
 * head, depth and the stats counters, all atomics.
 *
 * Lifetime. An actor is freed when its reference count drops to zero.
 * References: the runtime's table (dropped when the actor stops), each
 * rt_actor_t the user holds, the scheduled state, supervisor links, and
 * timer targets. A stopped actor's memory stays valid while referenced;
 * its mailbox refuses new messages (RT_ESTOPPED) and drops stragglers.
 */
#ifndef RT_RT_INT_H
#define RT_RT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "runtime/actor.h"
#include "runtime/io.h"
#include "runtime/msg.h"
#include "runtime/rt.h"
#include "runtime/timer.h"

#define RT_CACHELINE 64
#define RT_POOL_BATCH 256
#define RT_MSG_POISON (RT_MSG_SYSTEM + 0xDEADu) /* a freed header (debug builds) */
#define RT_YIELD_BATCHES 2

/* ---- messages ---- */
enum {
  RT_MF_REQUEST = 1u << 0, /* reply_to and corr are set */
  RT_MF_REPLY = 1u << 1,   /* corr names a pending request */
  RT_MF_STOP = 1u << 2,    /* system: stop the actor (never delivered) */
  RT_MF_FORCED = 1u << 3,  /* skips the mailbox bound */
  RT_MF_HEAP = 1u << 4,    /* data is a malloc'd buffer the message owns */
  RT_MF_SHARED = 1u << 5,  /* data belongs to `shared` */
  RT_MF_TIMEOUT = 1u << 6, /* runtime-made RT_MSG_TIMEOUT */
  RT_MF_TICK = 1u << 7,    /* periodic tick: reply_to holds its token */
};

/* One per periodic timer: `queued` is set while a tick is queued or being
 * handled, so a timer never has more than one tick outstanding. Each
 * outstanding tick holds a reference, as does the timer. */
typedef struct rt_tick_token {
  atomic_uint refs;
  atomic_bool queued;
} rt_tick_token_t;
void rt__tick_token_release(rt_tick_token_t *t);

struct rt_msg {
  _Atomic(struct rt_msg *) next; /* mailbox link */
  uint32_t type;
  uint32_t flags;
  uint64_t sender;
  uint64_t corr;
  uint64_t reply_to;
  rt_runtime_t *rt; /* set by the send: lets rt_reply find the requester */
  size_t len;
  void *data;
  struct rt_payload *shared;
  unsigned char inl[RT_MSG_INLINE];
};

struct rt_payload {
  atomic_uint refs;
  size_t len;
  size_t headroom;
  unsigned char bytes[]; /* headroom, then len bytes */
};

rt_msg_t *rt__msg_alloc(void);
void rt__msg_release_payload(rt_msg_t *m);
void rt__msg_dealloc(rt_msg_t *m); /* payload too */
int rt__msg_new_system(uint32_t type, const void *data, size_t len,
                       rt_msg_t **out);

/* ---- a u64 -> pointer hash map (open addressing, caller locks) ---- */
typedef struct rt_map {
  uint64_t *keys; /* 0 = empty, UINT64_MAX = deleted */
  void **vals;
  size_t cap, len, used;
} rt_map_t;
void rt__map_init(rt_map_t *m);
void rt__map_fini(rt_map_t *m);
int rt__map_put(rt_map_t *m, uint64_t key, void *val);
void *rt__map_get(const rt_map_t *m, uint64_t key);
void *rt__map_del(rt_map_t *m, uint64_t key);
uint64_t rt__hash_str(const char *s);

/* ---- actors ---- */
enum rt_life { RT_LIVE = 0, RT_STOPPING = 1, RT_STOPPED = 2 };

typedef struct rt_port_state rt_port_state_t;

struct rt_actor {
  /* Sender side: written by every sender. */
  _Alignas(RT_CACHELINE) _Atomic(uintptr_t) head; /* rt_msg_t *, low bit =
                                                    empty & unscheduled */
  atomic_uint depth;
  uint32_t capacity; /* read-only after spawn */
  atomic_int life;   /* enum rt_life */
  atomic_uint refs;
  atomic_uint depth_hwm;
  atomic_uint_fast64_t rejected;
  /* Read-only copies for senders: reading `rt` from the consumer's line
   * would miss the cache on every send while the consumer pops. */
  rt_runtime_t *srt;
  uint32_t yield_depth; /* RT_YIELD_BATCHES * batch */

  /* Consumer side: the worker running the actor, on its own cache line. */
  _Alignas(RT_CACHELINE) rt_msg_t *tail;
  struct rt_actor *next_run; /* run-queue link */
  const rt_actor_type_t *type;
  void *state;
  const void *arg;
  rt_runtime_t *rt;
  uint64_t id;
  bool is_port;
  bool finished; /* consumer's copy of life == RT_STOPPED: reading `life`
                  * per message would pull the senders' cache line */
  rt_map_t pending; /* corr -> timer id + 1, requests awaiting a reply */

  /* Supervision. */
  struct rt_actor *supervisor;
  unsigned max_restarts, restart_window_ms;
  uint64_t *restart_times_ms; /* ring of max_restarts entries */
  unsigned restart_next;

  /* Stats: written by the running worker, read by anyone (relaxed). */
  atomic_uint_fast64_t processed;
  atomic_uint restarts;
  atomic_uint_fast64_t hist[RT_HIST_BUCKETS];

  rt_port_state_t *port; /* non-NULL for ports */
  struct rt_actor *name_next; /* chain of names sharing a hash (names_lock) */
  bool name_registered;       /* guarded by names_lock */
  char name[RT_NAME_MAX];
};

struct rt_ctx {
  rt_actor_t *self;
  bool failed;
  bool stop;
  char reason[112];
};

/* Push; returns true when the actor must now be scheduled by the caller. */
bool rt__mbox_push(rt_actor_t *a, rt_msg_t *m);
rt_msg_t *rt__mbox_pop(rt_actor_t *a);
bool rt__mbox_mark_empty(rt_actor_t *a);
void rt__mbox_init(rt_actor_t *a, rt_msg_t *stub);
void rt__mbox_drain_free(rt_actor_t *a);

int rt__send(rt_actor_t *to, rt_msg_t **msg, bool forced);
int rt__send_id(rt_runtime_t *rt, uint64_t to, rt_msg_t **msg, bool forced);
/* Run one turn of up to `batch` messages; returns true if the actor still
 * has messages (stays scheduled), false once it was marked empty (the
 * scheduled reference has then been dropped). */
bool rt__actor_run(rt_actor_t *a, unsigned batch, unsigned linger,
                   unsigned *handled);
void rt__actor_free(rt_actor_t *a);
void rt__actor_request_stop(rt_actor_t *a);
int rt__actor_alloc(rt_runtime_t *rt, rt_actor_t **out);
int rt__actor_register(rt_actor_t *a);
void rt__actor_unregister(rt_actor_t *a);
void rt__actor_unregister_name(rt_actor_t *a);
void rt__port_wake(rt_actor_t *a);
void rt__port_state_free(rt_port_state_t *ps);
/* Retained references to every registered actor (ports excluded). The
 * caller releases each and frees the array. */
size_t rt__actors_snapshot(rt_runtime_t *rt, rt_actor_t ***out);

/* ---- per-thread state ---- */
struct rt_worker;
typedef struct rt_tls {
  struct rt_worker *worker; /* non-NULL on a worker thread */
  rt_actor_t *current;      /* actor whose hook is running, if any */
  rt_ctx_t *ctx;
  bool yield; /* the current actor should end its turn after this message */
} rt_tls_t;
extern _Thread_local rt_tls_t rt__tls;

/* ---- scheduler ---- */
void rt__schedule(rt_actor_t *a);
/* True while the calling worker has no other actor to run. */
bool rt__sched_may_linger(void);
/* Polls an empty mailbox this many times before unscheduling the actor. */
#define RT_LINGER_SPINS 256
/* An idle worker's spin budget adapts between spin_us and spin_us divided
 * by this (sched.c spin_adapt). */
#define RT_SPIN_FLOOR_DIV 32

static inline void rt__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* ---- timer / io / blocking subsystems ---- */
typedef struct rt_timers rt_timers_t;
int rt__timers_start(rt_runtime_t *rt, rt_timers_t **out);
void rt__timers_halt(rt_timers_t *t);
void rt__timers_free(rt_timers_t *t);
int rt__timer_start_forced(rt_runtime_t *rt, rt_actor_t *target,
                           uint32_t type, uint32_t flags, uint64_t corr,
                           uint64_t delay_ms, uint64_t *id_out);

typedef struct rt_io rt_io_t;
int rt__io_start(rt_runtime_t *rt, rt_io_t **out);
void rt__io_halt(rt_io_t *io);
void rt__io_free(rt_io_t *io);
typedef struct rt_blocking rt_blocking_t;
int rt__blocking_start(rt_runtime_t *rt, unsigned threads, rt_blocking_t **out);
void rt__blocking_halt(rt_blocking_t *b); /* runs queued jobs, joins */
void rt__blocking_free(rt_blocking_t *b);

/* ---- the runtime ---- */
#define RT_SHARDS 16
struct rt_runtime {
  rt_config_t cfg;
  atomic_bool shutting_down;
  atomic_bool dropping; /* RT_SHUTDOWN_DROP began: free messages unhandled */
  atomic_bool shut_done;
  atomic_uint_fast64_t next_id;
  atomic_uint_fast64_t next_corr;
  atomic_uint_fast64_t parks, shares, spin_timeouts;
  uint64_t messages_done; /* handled by workers that have exited */

  /* Registry: id -> actor in RT_SHARDS shards, names in one map. */
  struct {
    pthread_mutex_t lock;
    rt_map_t ids;
  } shard[RT_SHARDS];
  pthread_mutex_t names_lock;
  rt_map_t names; /* hash(name) -> chain of actors through name_next */

  /* Live actors (not ports), for shutdown and foreach. */
  pthread_mutex_t live_lock;
  pthread_cond_t live_cond;
  uint64_t live;

  struct rt_sched *sched;
  rt_timers_t *timers;
  rt_io_t *io;
  rt_blocking_t *blocking;
};

int rt__sched_start(rt_runtime_t *rt);
void rt__sched_stop(rt_runtime_t *rt);

uint64_t rt__now_ms(void);
uint64_t rt__now_ns(void);

#endif /* RT_RT_INT_H */
