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
 */
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/io.h"
#include "store/store_actor.h"

#define MSG_FLUSH 0x5303u
#define MSG_COMMITTED 0x5304u

typedef struct write_op {
  rt_reply_to_t to;
  void *bytes;
  size_t len;
  store_ack_t ack;
} write_op_t;

typedef struct batch {
  store_t *store;
  write_op_t *ops;
  size_t n;
} batch_t;

typedef struct store_actor {
  store_t *store;
  write_op_t *pending;
  size_t n, cap;
  bool flush_queued;
  bool in_flight;
} store_actor_t;

static int apply_one(store_txn_t *t, write_op_t *op)
{
  proto_msg_t m;
  int rc = proto_msgpack_decode(op->bytes, op->len, &m, NULL, 0);
  if (rc)
    return rc;
  switch (m.type) {
  case PROTO_TASK:
    rc = store_task_put(t, &m.u.task, "store", "upsert");
    break;
  case PROTO_TASK_UPDATE:
    rc = store_task_transition(t, m.u.task_update.task_id, m.u.task_update.to,
                               m.u.task_update.actor, m.u.task_update.reason,
                               m.u.task_update.at);
    break;
  case PROTO_EVENT:
    rc = store_event_append(t, m.u.event.topic, m.u.event.data, m.u.event.ts,
                            &op->ack.seq);
    break;
  default:
    rc = STORE_EINVAL;
  }
  proto_msg_fini(&m);
  return rc;
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

static void ack_all(batch_t *b, int commit_rc)
{
  for (size_t i = 0; i < b->n; i++) {
    write_op_t *op = &b->ops[i];
    op->ack.batch = (uint32_t)b->n;
    if (commit_rc)
      op->ack.rc = commit_rc;
    rt_msg_t *r = NULL;
    if (rt_msg_new(STORE_MSG_ACK, &op->ack, sizeof(op->ack), &r) == 0)
      rt_reply_later(&op->to, &r);
    free(op->bytes);
  }
}

/* Runs on a blocking thread. */
static void commit_job(void *arg, rt_msg_t **result)
{
  batch_t *b = arg;
  ack_all(b, commit_batch(b));
  free(b->ops);
  free(b);
  rt_msg_new(MSG_COMMITTED, NULL, 0, result);
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
  s->pending = NULL;
  s->n = s->cap = 0;
  if (rt_blocking_submit(rt_ctx_runtime(ctx), commit_job, b, rt_self(ctx))) {
    ack_all(b, STORE_EINVAL); /* shutting down: refuse, never pretend */
    free(b->ops);
    free(b);
    return;
  }
  s->in_flight = true;
}

static void on_write(rt_ctx_t *ctx, store_actor_t *s, rt_msg_t *msg)
{
  write_op_t op = {0};
  if (rt_msg_reply_to(msg, &op.to) != 0)
    return; /* not a request: nobody to acknowledge, nothing to do */
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    write_op_t *p = realloc(s->pending, cap * sizeof(*p));
    if (!p) {
      store_ack_t ack = {.rc = STORE_ENOMEM};
      rt_msg_t *r = NULL;
      if (rt_msg_new(STORE_MSG_ACK, &ack, sizeof(ack), &r) == 0)
        rt_reply_later(&op.to, &r);
      return;
    }
    s->pending = p;
    s->cap = cap;
  }
  op.bytes = rt_msg_take_payload(msg, &op.len);
  s->pending[s->n++] = op;
  if (!s->flush_queued && !s->in_flight) {
    rt_msg_t *f = NULL;
    if (rt_msg_new(MSG_FLUSH, NULL, 0, &f) == 0 &&
        rt_send(rt_self(ctx), &f) == 0)
      s->flush_queued = true;
  }
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
    s->in_flight = false;
    start_commit(ctx, s);
    break;
  default:
    break;
  }
}

static int store_actor_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  (void)ctx;
  ((store_actor_t *)state)->store = (store_t *)arg;
  return 0;
}

/* Stopping: commit what is pending here and now, so a graceful shutdown
 * acknowledges every write it accepted. A commit still in flight on a
 * blocking thread finishes on its own (LMDB serialises the two writers). */
static void store_actor_stop(rt_ctx_t *ctx, void *state)
{
  store_actor_t *s = state;
  (void)ctx;
  if (s->n == 0) {
    free(s->pending);
    return;
  }
  batch_t b = {.store = s->store, .ops = s->pending, .n = s->n};
  ack_all(&b, commit_batch(&b));
  free(s->pending);
  s->pending = NULL;
  s->n = 0;
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
