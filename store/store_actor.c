/*
 * store_actor.c: group commit for the store (see store_actor.h).
 *
 * Shape: the actor decodes and prepares each write as it arrives and puts
 * it on a queue it shares with one committer, a loop on a blocking thread
 * that takes everything queued, applies it in one transaction, commits,
 * and takes the next lot, until the queue is empty. So a batch is every
 * write that arrived during the previous commit, and the next transaction
 * starts as soon as the previous one is durable (no round trip through the
 * actor's mailbox, where hundreds of new writes may be waiting).
 *
 * Pipelining: the transaction is the one serial part (LMDB has one writer,
 * and a commit's two flushes are most of its time), so the rest happens
 * beside it. Before: each write is decoded as it arrives (a payload that
 * does not decode is refused at once), and an upsert's creation entry is
 * encoded then too (store__task_prepare), on the actor's worker. After:
 * the acknowledgements and the freeing of a committed batch go to another
 * blocking job, so the committer goes straight on to the next batch.
 * Acknowledgement never precedes durability: acks are sent only for a
 * batch whose commit returned.
 *
 * Inside the transaction, consecutive upserts go in as one run
 * (store__task_put_run): ids looked up and entered, and index keys put,
 * in key order through cursors, rows handed out in arrival order. The
 * same entries as one by one, with fewer descents, and the pages a commit
 * writes come out in fewer, longer runs (half the write calls). Anything else
 * (transitions, events, commands) is applied on its own, in order.
 *
 * Starting: the first write into an idle queue schedules a FLUSH message
 * to ourselves, so that every write already in the mailbox joins the
 * first transaction too; the committer starts on that FLUSH.
 */
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/io.h"
#include "store/store_actor.h"
#include "store/store_int.h"

#define MSG_FLUSH 0x5303u
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
  int commit_rc;
} batch_t;

/* What the actor and the committer share; freed by the last of them. */
typedef struct commit_queue {
  pthread_mutex_t lock;
  atomic_int refs;
  store_t *store;
  rt_runtime_t *rt;
  write_op_t *ops; /* prepared, waiting for a transaction */
  size_t n, cap;
  size_t last;     /* writes the last batch took: room the next one gets */
  bool running;    /* a committer is on a blocking thread */
} commit_queue_t;

typedef struct store_actor {
  commit_queue_t *q;
  bool flush_queued;
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

/* COMMAND "pin" {"task": id, "pinned": bool, "at": unix ms (optional)}:
 * its fields, or STORE_EINVAL for any other command or a bad argument. */
static int pin_args(const proto_command_t *c, const char **id, bool *pinned,
                    int64_t *at)
{
  const json_t *task = json_object_get(c->args, "task");
  const json_t *pin = json_object_get(c->args, "pinned");
  const json_t *when = json_object_get(c->args, "at");
  if (!c->action || strcmp(c->action, "pin") != 0 || !json_is_string(task) ||
      !json_is_boolean(pin) || (when && !json_is_integer(when)))
    return STORE_EINVAL;
  *id = json_string_value(task);
  *pinned = json_is_true(pin);
  *at = when ? (int64_t)json_integer_value(when) : 0;
  return 0;
}

/* COMMAND "scan_files": the scanner's file records (store_files.c). */
static bool is_scan_files(const proto_command_t *c)
{
  return c->action && strcmp(c->action, "scan_files") == 0;
}

/* Other COMMANDs: GitHub delivery ids (store_deliveries.c) and named
 * values (store_kv.c), each a check and an apply of its JSON args. */
typedef struct ext_command {
  const char *action;
  int (*check)(const json_t *args);
  int (*apply)(store_txn_t *t, const json_t *args);
} ext_command_t;

static const ext_command_t ext_commands[] = {
    {"gh_deliveries", store_deliveries_check, store_deliveries_apply},
    {"kv", store_kv_check, store_kv_apply},
    {"audit", store_audit_check, store_audit_apply}, /* store_audit.c */
    {"prio", store_prio_check, store_prio_apply}, /* store_prio.c */
    {"seen", store_seen_check, store_seen_apply}, /* store_seen.c */
    {"task_step", store_step_check, store_step_apply}, /* store_step.c */
    {"gh_task", store_ghtask_check, store_ghtask_apply}, /* store_ghtask.c */
};

static const ext_command_t *ext_command(const proto_command_t *c)
{
  for (size_t i = 0; c->action && i < sizeof(ext_commands) /
                                          sizeof(ext_commands[0]); i++)
    if (strcmp(c->action, ext_commands[i].action) == 0)
      return &ext_commands[i];
  return NULL;
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
  case PROTO_COMMAND: {
    const char *id;
    bool pinned;
    int64_t at;
    if (is_scan_files(&op->msg.u.command))
      return store_files_check(op->msg.u.command.args);
    const ext_command_t *x = ext_command(&op->msg.u.command);
    if (x)
      return x->check(op->msg.u.command.args);
    return pin_args(&op->msg.u.command, &id, &pinned, &at);
  }
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
  case PROTO_COMMAND: { /* "pin", checked by op_prepare */
    const char *id;
    bool pinned;
    int64_t at;
    if (is_scan_files(&m->u.command))
      return store_files_apply(t, m->u.command.args);
    const ext_command_t *x = ext_command(&m->u.command);
    if (x)
      return x->apply(t, m->u.command.args);
    int rc = pin_args(&m->u.command, &id, &pinned, &at);
    return rc ? rc : store_task_set_pinned(t, id, pinned, at);
  }
  default:
    return STORE_EINVAL; /* not reached: refused by op_prepare */
  }
}

/* Apply @p n consecutive upserts as one run (store__task_put_run). */
static int apply_run(store_txn_t *t, write_op_t *ops, size_t n,
                     const store__task_prep_t **preps, int *rcs)
{
  for (size_t i = 0; i < n; i++) {
    ops[i].prep.task = &ops[i].msg.u.task; /* the op moved since prepared */
    preps[i] = &ops[i].prep;
  }
  int rc = store__task_put_run(t, preps, n, ACTOR_NAME, "upsert", rcs);
  for (size_t i = 0; i < n; i++)
    ops[i].ack.rc = rc ? rc : rcs[i];
  return rc;
}

/* Apply a batch in order: consecutive upserts as runs (when @p preps and
 * @p rcs, scratch for as many ops as the batch, could be had), any other
 * write on its own. @return 0, or the error that broke the transaction. */
static int apply_batch(store_txn_t *t, batch_t *b,
                       const store__task_prep_t **preps, int *rcs)
{
  int rc = 0;
  for (size_t i = 0; !rc && i < b->n;) {
    size_t end = i;
    while (preps && rcs && end < b->n && b->ops[end].msg.type == PROTO_TASK)
      end++;
    if (end > i) {
      rc = apply_run(t, b->ops + i, end - i, preps, rcs);
      i = end;
      continue;
    }
    int r = apply_one(t, &b->ops[i++]);
    b->ops[i - 1].ack.rc = r;
    if (store__txn_broken(r))
      rc = r;
  }
  return rc;
}

/* One transaction for the whole batch; MDB_MAP_FULL (from a write or from
 * the commit) grows the map and replays the batch. */
static int commit_batch(batch_t *b)
{
  const store__task_prep_t **preps = malloc(b->n * sizeof(*preps));
  int *rcs = malloc(b->n * sizeof(*rcs));
  int rc = MDB_MAP_FULL;
  for (int attempt = 0; attempt < 8 && rc == MDB_MAP_FULL; attempt++) {
    store_txn_t *t = NULL;
    rc = store_write_begin(b->store, &t);
    if (!rc)
      rc = apply_batch(t, b, preps, rcs);
    /* The commit itself can need pages (LMDB saves its free list then):
     * a full map there is handled like one during the writes. */
    if (!rc)
      rc = store_write_commit(t);
    else
      store_write_abort(t);
    if (rc == MDB_MAP_FULL && store_grow(b->store) != 0)
      break;
  }
  free(preps);
  free(rcs);
  return rc;
}

static void ack_one(rt_reply_to_t *to, const store_ack_t *ack)
{
  rt_msg_t *r = NULL;
  if (rt_msg_new(STORE_MSG_ACK, ack, sizeof(*ack), &r) == 0)
    rt_reply_later(to, &r);
}

/* Acknowledge every write of a committed (or refused) batch and free its
 * ops; the batch_t itself stays the caller's. */
static void batch_finish_in_place(batch_t *b)
{
  for (size_t i = 0; i < b->n; i++) {
    write_op_t *op = &b->ops[i];
    op->ack.batch = (uint32_t)b->n;
    if (b->commit_rc)
      op->ack.rc = b->commit_rc;
    ack_one(&op->to, &op->ack);
    op_fini(op);
  }
  free(b->ops);
}

static void batch_finish(batch_t *b)
{
  batch_finish_in_place(b);
  free(b);
}

/* A blocking job: acknowledge and free one batch. */
static void finish_job(void *arg, rt_msg_t **result)
{
  (void)result;
  batch_finish(arg);
}

static void queue_release(commit_queue_t *q)
{
  if (atomic_fetch_sub(&q->refs, 1) != 1)
    return;
  for (size_t i = 0; i < q->n; i++) /* not reached: drained before */
    op_fini(&q->ops[i]);
  free(q->ops);
  pthread_mutex_destroy(&q->lock);
  free(q);
}

/* Take everything queued into @p b; false when nothing is. For the
 * committer (@p committer), finding nothing also ends it: running is
 * cleared under the same lock that guards the decision to start one. */
static bool queue_take(commit_queue_t *q, batch_t *b, bool committer)
{
  pthread_mutex_lock(&q->lock);
  bool some = q->n > 0;
  *b = (batch_t){.store = q->store, .ops = q->ops, .n = q->n};
  if (some)
    q->last = q->n;
  q->ops = NULL;
  q->n = q->cap = 0;
  if (!some && committer)
    q->running = false;
  pthread_mutex_unlock(&q->lock);
  if (!some)
    free(b->ops);
  return some;
}

/* Acknowledge and free a committed batch on another blocking thread (or
 * here, when there is none or no memory). */
static void batch_hand_off(commit_queue_t *q, batch_t *local)
{
  batch_t *b = malloc(sizeof(*b));
  if (!b) {
    batch_finish_in_place(local);
    return;
  }
  *b = *local;
  if (rt_blocking_submit(q->rt, finish_job, b, NULL) != 0)
    batch_finish(b);
}

/* The committer: runs on a blocking thread while there is work. */
static void committer_job(void *arg, rt_msg_t **result)
{
  commit_queue_t *q = arg;
  batch_t b;
  (void)result;
  while (queue_take(q, &b, true)) {
    b.commit_rc = commit_batch(&b);
    batch_hand_off(q, &b);
  }
  queue_release(q);
}

/* Start the committer unless it runs (called on FLUSH). */
static void committer_start(commit_queue_t *q)
{
  pthread_mutex_lock(&q->lock);
  bool start = !q->running && q->n > 0;
  if (start) {
    q->running = true;
    atomic_fetch_add(&q->refs, 1);
  }
  pthread_mutex_unlock(&q->lock);
  if (start && rt_blocking_submit(q->rt, committer_job, q, NULL) != 0) {
    /* Shutting down: refuse what is queued, never pretend. */
    batch_t b;
    if (queue_take(q, &b, true)) {
      b.commit_rc = STORE_EINVAL;
      batch_finish_in_place(&b);
    }
    pthread_mutex_lock(&q->lock);
    q->running = false;
    pthread_mutex_unlock(&q->lock);
    queue_release(q);
  }
}

/* Queue a prepared write; true when the queue was idle (no committer and
 * nothing queued), so a FLUSH should start one. */
static bool queue_put(commit_queue_t *q, const write_op_t *op, int *rc)
{
  pthread_mutex_lock(&q->lock);
  bool idle = !q->running && q->n == 0;
  *rc = 0;
  if (q->n == q->cap) {
    /* A batch is about as large as the last (no growth by copies). */
    size_t cap = q->cap ? q->cap * 2 : q->last > 64 ? q->last : 64;
    write_op_t *p = realloc(q->ops, cap * sizeof(*p));
    if (p) {
      q->ops = p;
      q->cap = cap;
    } else {
      *rc = STORE_ENOMEM;
    }
  }
  if (!*rc)
    q->ops[q->n++] = *op;
  pthread_mutex_unlock(&q->lock);
  return idle && !*rc;
}

static void on_write(rt_ctx_t *ctx, store_actor_t *s, rt_msg_t *msg)
{
  write_op_t op = {0};
  if (rt_msg_reply_to(msg, &op.to) != 0)
    return; /* not a request: nobody to acknowledge, nothing to do */
  size_t len = 0;
  const void *payload = rt_msg_data(msg, &len);
  int rc = op_prepare(&op, s, payload, len);
  bool idle = !rc && queue_put(s->q, &op, &rc);
  if (rc) { /* refused before any transaction: nothing was written */
    op.ack.rc = rc;
    op.ack.batch = 1;
    ack_one(&op.to, &op.ack);
    op_fini(&op);
    return;
  }
  if (idle && !s->flush_queued) {
    rt_msg_t *f = NULL;
    if (rt_msg_new(MSG_FLUSH, NULL, 0, &f) == 0 &&
        rt_send(rt_self(ctx), &f) == 0)
      s->flush_queued = true;
    else
      committer_start(s->q); /* no FLUSH: start now, with what is here */
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
    committer_start(s->q);
    break;
  default:
    break;
  }
}

static int store_actor_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  store_actor_t *s = state;
  commit_queue_t *q = calloc(1, sizeof(*q));
  if (!q || pthread_mutex_init(&q->lock, NULL) != 0) {
    free(q);
    return RT_ENOMEM;
  }
  atomic_init(&q->refs, 1);
  q->store = (store_t *)arg;
  q->rt = rt_ctx_runtime(ctx);
  s->q = q;
  msgpack_sbuffer_init(&s->created);
  return 0;
}

/* Stopping: commit what is queued here and now, so a graceful shutdown
 * acknowledges every write it accepted. A committer still running takes
 * nothing more after this and finishes on its own (LMDB serialises the
 * two writers); the last of us frees the queue. */
static void store_actor_stop(rt_ctx_t *ctx, void *state)
{
  store_actor_t *s = state;
  batch_t b;
  (void)ctx;
  if (queue_take(s->q, &b, false)) {
    b.commit_rc = commit_batch(&b);
    batch_finish_in_place(&b);
  }
  queue_release(s->q);
  s->q = NULL;
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
