/*
 * store_actor.c: group commit for the store (see store_actor.h).
 *
 * State: `pending` (writes received since the last commit started) and at
 * most one batch in flight on a blocking thread. A write arriving while
 * nothing is in flight schedules a FLUSH message to ourselves, so every
 * write already queued in the mailbox joins the same transaction; writes
 * arriving during a commit wait for it and go together in the next.
 * Replies are sent by the blocking thread right after its commit returned,
 * so acknowledgement never precedes durability.
 *
 * Pipelining: the transaction is the one serial part (LMDB has one writer,
 * and a commit's two flushes are most of its time), so everything that
 * does not need it happens before it, on the actor's worker, while the
 * previous batch commits: each write is decoded as it arrives (a payload
 * that does not decode is refused at once), and an upsert's record and
 * creation entry are encoded then too (store__task_prepare). The blocking
 * thread is left with the lookups and puts and the commit.
 */
#include <lmdb.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/io.h"
#include "store/store_actor.h"
#include "store/store_int.h"

#define MSG_FLUSH 0x5303u
#define MSG_COMMITTED 0x5304u
#define ACTOR_NAME "store" /* history entries made here name this actor */

typedef struct write_op {
  rt_reply_to_t to;
  proto_msg_t msg;          /* decoded */
  store__task_prep_t prep;  /* TASK: prepared (encodings in bytes) */
  void *bytes;              /* TASK: record, then creation entry */
  store_ack_t ack;
} write_op_t;

typedef struct batch {
  store_t *store;
  write_op_t *ops;
  size_t n;
  atomic_int refs; /* the commit job and the actor: the last frees it */
} batch_t;

typedef struct store_actor {
  store_t *store;
  write_op_t *pending;
  size_t n, cap;
  bool flush_queued;
  batch_t *in_flight; /* committing on a blocking thread */
  msgpack_sbuffer created; /* scratch for preparing upserts */
} store_actor_t;

static void op_fini(write_op_t *op)
{
  proto_msg_fini(&op->msg);
  free(op->bytes);
}

/* Keep the prepared encodings of an upsert in one block of the op's own
 * (the payload goes with its message, the scratch buffer is reused). */
static int op_keep_prepared(write_op_t *op)
{
  size_t rl = op->prep.record.mv_size, cl = op->prep.created.mv_size;
  unsigned char *b = malloc(rl + cl);
  if (!b)
    return STORE_ENOMEM;
  memcpy(b, op->prep.record.mv_data, rl);
  memcpy(b + rl, op->prep.created.mv_data, cl);
  op->bytes = b;
  op->prep.record = store__val(b, rl);
  op->prep.created = store__val(b + rl, cl);
  return 0;
}

/* Decode (and for an upsert, prepare) a write: 0, or the error to ack.
 * An upsert's record is its payload: it was just decoded, so it is a
 * valid encoding of the task (the store is its only reader). */
static int op_prepare(write_op_t *op, store_actor_t *s, const void *payload,
                      size_t len)
{
  int rc = proto_msgpack_decode(payload, len, &op->msg, NULL, 0);
  if (rc)
    return rc;
  MDB_val record = store__val(payload, len);
  switch (op->msg.type) {
  case PROTO_TASK:
    rc = store__task_prepare(&op->msg.u.task, ACTOR_NAME, &record, NULL,
                             &s->created, &op->prep);
    return rc ? rc : op_keep_prepared(op);
  case PROTO_TASK_UPDATE:
  case PROTO_EVENT:
    return 0;
  default:
    return STORE_EINVAL;
  }
}

static int apply_one(store_txn_t *t, write_op_t *op)
{
  const proto_msg_t *m = &op->msg;
  switch (m->type) {
  case PROTO_TASK:
    op->prep.task = &m->u.task; /* the op moved since it was prepared */
    return store__task_put_prepared(t, &op->prep, ACTOR_NAME, "upsert");
  case PROTO_TASK_UPDATE:
    return store_task_transition(t, m->u.task_update.task_id,
                                 m->u.task_update.to, m->u.task_update.actor,
                                 m->u.task_update.reason,
                                 m->u.task_update.at);
  case PROTO_EVENT:
    return store_event_append(t, m->u.event.topic, m->u.event.data,
                              m->u.event.ts, &op->ack.seq);
  default:
    return STORE_EINVAL; /* not reached: refused by op_prepare */
  }
}

/* LMDB errors leave the transaction unusable; our own (a refused
 * transition, a bad record) only fail that one write. */
static bool txn_broken(int rc)
{
  return rc != 0 && !(rc <= -32000 && rc > -34000);
}

/* One transaction for the whole batch; MDB_MAP_FULL (from a write or from
 * the commit) grows the map and replays the batch. */
static int commit_batch(batch_t *b)
{
  for (int attempt = 0; attempt < 8; attempt++) {
    store_txn_t *t = NULL;
    int rc = store_write_begin(b->store, &t);
    for (size_t i = 0; !rc && i < b->n; i++) {
      int r = apply_one(t, &b->ops[i]);
      b->ops[i].ack.rc = r;
      if (txn_broken(r))
        rc = r;
    }
    if (!rc) {
      /* The commit itself can need pages (LMDB saves its free list then):
       * a full map there is handled like one during the writes. */
      rc = store_write_commit(t);
      if (rc != MDB_MAP_FULL)
        return rc;
    } else {
      store_write_abort(t);
    }
    if (rc != MDB_MAP_FULL || store_grow(b->store) != 0)
      return rc;
  }
  return MDB_MAP_FULL;
}

static void ack_one(rt_reply_to_t *to, const store_ack_t *ack)
{
  rt_msg_t *r = NULL;
  if (rt_msg_new(STORE_MSG_ACK, ack, sizeof(*ack), &r) == 0)
    rt_reply_later(to, &r);
}

static void ack_all(batch_t *b, int commit_rc)
{
  for (size_t i = 0; i < b->n; i++) {
    write_op_t *op = &b->ops[i];
    op->ack.batch = (uint32_t)b->n;
    if (commit_rc)
      op->ack.rc = commit_rc;
    ack_one(&op->to, &op->ack);
  }
}

/* Drop one reference; the last one frees the ops (decoded messages,
 * prepared bytes): normally the actor, on COMMITTED, off the serial path. */
static void batch_release(batch_t *b)
{
  if (atomic_fetch_sub(&b->refs, 1) != 1)
    return;
  for (size_t i = 0; i < b->n; i++)
    op_fini(&b->ops[i]);
  free(b->ops);
  free(b);
}

/* Runs on a blocking thread. */
static void commit_job(void *arg, rt_msg_t **result)
{
  batch_t *b = arg;
  ack_all(b, commit_batch(b));
  rt_msg_new(MSG_COMMITTED, NULL, 0, result);
  batch_release(b);
}

static void start_commit(rt_ctx_t *ctx, store_actor_t *s)
{
  if (s->in_flight || s->n == 0)
    return;
  batch_t *b = malloc(sizeof(*b));
  if (!b)
    return; /* retried at the next write or commit */
  b->store = s->store;
  b->ops = s->pending;
  b->n = s->n;
  atomic_init(&b->refs, 2);
  s->pending = NULL;
  s->n = s->cap = 0;
  if (rt_blocking_submit(rt_ctx_runtime(ctx), commit_job, b, rt_self(ctx))) {
    ack_all(b, STORE_EINVAL); /* shutting down: refuse, never pretend */
    batch_release(b);
    batch_release(b);
    return;
  }
  s->in_flight = b;
}

static bool pending_room(store_actor_t *s)
{
  if (s->n < s->cap)
    return true;
  size_t cap = s->cap ? s->cap * 2 : 64;
  write_op_t *p = realloc(s->pending, cap * sizeof(*p));
  if (!p)
    return false;
  s->pending = p;
  s->cap = cap;
  return true;
}

static void on_write(rt_ctx_t *ctx, store_actor_t *s, rt_msg_t *msg)
{
  write_op_t op = {0};
  if (rt_msg_reply_to(msg, &op.to) != 0)
    return; /* not a request: nobody to acknowledge, nothing to do */
  size_t len = 0;
  const void *payload = rt_msg_data(msg, &len);
  int rc = pending_room(s) ? op_prepare(&op, s, payload, len) : STORE_ENOMEM;
  if (rc) { /* refused before any transaction: nothing was written */
    op.ack.rc = rc;
    op.ack.batch = 1;
    ack_one(&op.to, &op.ack);
    op_fini(&op);
    return;
  }
  s->pending[s->n++] = op;
  if (!s->flush_queued && !s->in_flight) {
    rt_msg_t *f = NULL;
    if (rt_msg_new(MSG_FLUSH, NULL, 0, &f) == 0 &&
        rt_send(rt_self(ctx), &f) == 0)
      s->flush_queued = true;
  }
}

static void on_committed(rt_ctx_t *ctx, store_actor_t *s)
{
  if (s->in_flight)
    batch_release(s->in_flight);
  s->in_flight = NULL;
  start_commit(ctx, s);
}

static void store_actor_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  store_actor_t *s = state;
  switch (rt_msg_type(msg)) {
  case STORE_MSG_WRITE:
    on_write(ctx, s, msg);
    break;
  case MSG_FLUSH:
    s->flush_queued = false;
    start_commit(ctx, s);
    break;
  case MSG_COMMITTED:
    on_committed(ctx, s);
    break;
  default:
    break;
  }
}

static int store_actor_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  store_actor_t *s = state;
  (void)ctx;
  s->store = (store_t *)arg;
  msgpack_sbuffer_init(&s->created);
  return 0;
}

/* Stopping: commit what is pending here and now, so a graceful shutdown
 * acknowledges every write it accepted. A commit still in flight on a
 * blocking thread finishes on its own (LMDB serialises the two writers). */
static void store_actor_stop(rt_ctx_t *ctx, void *state)
{
  store_actor_t *s = state;
  (void)ctx;
  if (s->n > 0) {
    batch_t b = {.store = s->store, .ops = s->pending, .n = s->n};
    ack_all(&b, commit_batch(&b));
    for (size_t i = 0; i < b.n; i++)
      op_fini(&b.ops[i]);
  }
  if (s->in_flight) /* its job frees it if it is still running */
    batch_release(s->in_flight);
  s->in_flight = NULL;
  free(s->pending);
  s->pending = NULL;
  s->n = 0;
  msgpack_sbuffer_destroy(&s->created);
}

static const rt_actor_type_t store_actor_type = {
    .name = "store",
    .state_size = sizeof(store_actor_t),
    .on_start = store_actor_start,
    .on_msg = store_actor_msg,
    .on_stop = store_actor_stop,
};

int store_actor_spawn(rt_runtime_t *rt, store_t *s, const char *name,
                      rt_actor_t **out)
{
  rt_spawn_opts_t o = {.name = name};
  return rt_actor_spawn(rt, &store_actor_type, s, &o, out);
}

int store_write_sync(rt_runtime_t *rt, rt_actor_t *store_actor,
                     const proto_msg_t *m, uint32_t timeout_ms,
                     store_ack_t *ack)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  memset(ack, 0, sizeof(*ack));
  int rc = proto_msgpack_encode(m, &sb);
  rt_msg_t *req = NULL, *reply = NULL;
  if (!rc)
    rc = rt_msg_new(STORE_MSG_WRITE, sb.data, sb.size, &req);
  msgpack_sbuffer_destroy(&sb);
  if (!rc)
    rc = rt_call(rt, store_actor, &req, timeout_ms, &reply);
  if (!rc) {
    size_t len = 0;
    const void *d = rt_msg_data(reply, &len);
    if (rt_msg_type(reply) == STORE_MSG_ACK && len == sizeof(*ack))
      memcpy(ack, d, sizeof(*ack));
    else
      ack->rc = STORE_EINVAL;
    rc = ack->rc;
    rt_msg_free(reply);
  }
  return rc;
}
