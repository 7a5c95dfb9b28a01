/*
 * bridge.c: the actor between the service thread and the store actor.
 *
 * Only an actor can send a request whose reply comes back as a message
 * (rt_request), and the service thread must never wait, so the bridge does
 * the waiting for it:
 *   - WEB__MSG_JOB (from the service thread): the job's writes are sent to
 *     the store one after the other (each waits for the previous one's
 *     durable ack; the first failure ends the job), then the job goes back
 *     to the service thread as WEB__MSG_JOB_DONE.
 *   - WEB__MSG_PUBLISH (web_publish, any thread): an EVENT to append; when
 *     the store acknowledges it, the service thread is nudged (at most one
 *     nudge in flight, `nudge_pending`) to read the log.
 *   - WEB__MSG_STOP (web_stop): free the jobs in flight, reply, stop.
 * State: the jobs in flight, found by the correlation id of their current
 * write. Acks that match no job are publish acks.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_actor.h"
#include "web/web_int.h"

typedef struct bridge {
  web_t *w;
  web_job_t **jobs; /* in flight */
  size_t n, cap;
} bridge_t;

static void job_finish(bridge_t *b, size_t i)
{
  web_job_t *job = b->jobs[i];
  b->jobs[i] = b->jobs[--b->n];
  rt_msg_t *m = NULL;
  int rc = rt_msg_new(WEB__MSG_JOB_DONE, &job, sizeof(job), &m);
  if (!rc)
    rc = rt_send(b->w->port_actor, &m);
  if (rc)
    web__job_free(job); /* the server is stopping: nobody waits for it */
}

/* A job's write is waited for well past the client's deadline
 * (store_timeout_ms, after which actions.c answers "pending"), so that a
 * slow commit still has its outcome published. */
static uint32_t job_wait_ms(const web_t *w)
{
  return w->cfg.store_timeout_ms > WEB__STORE_WAIT_MS
             ? w->cfg.store_timeout_ms : WEB__STORE_WAIT_MS;
}

/* Send the job's next write; on failure finish the job with the error. */
static void job_step(rt_ctx_t *ctx, bridge_t *b, size_t i)
{
  web_job_t *job = b->jobs[i];
  if (job->rc || job->next >= job->n) {
    job_finish(b, i);
    return;
  }
  rt_msg_t *m = NULL;
  int rc = rt_msg_new(STORE_MSG_WRITE, job->writes[job->next].bytes,
                      job->writes[job->next].len, &m);
  if (!rc)
    rc = rt_request(ctx, b->w->store_actor, &m, job_wait_ms(b->w),
                    &job->corr);
  if (rc) {
    job->rc = rc;
    job_finish(b, i);
  }
}

static void on_job(rt_ctx_t *ctx, bridge_t *b, const rt_msg_t *msg)
{
  size_t len = 0;
  const void *d = rt_msg_data(msg, &len);
  web_job_t *job = NULL;
  if (len != sizeof(job))
    return;
  memcpy(&job, d, sizeof(job));
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 16;
    web_job_t **p = realloc(b->jobs, cap * sizeof(*p));
    if (!p) {
      job->rc = RT_ENOMEM;
      rt_msg_t *m = NULL;
      if (rt_msg_new(WEB__MSG_JOB_DONE, &job, sizeof(job), &m) ||
          rt_send(b->w->port_actor, &m))
        web__job_free(job);
      return;
    }
    b->jobs = p;
    b->cap = cap;
  }
  b->jobs[b->n++] = job;
  job_step(ctx, b, b->n - 1);
}

static long find_job(const bridge_t *b, uint64_t corr)
{
  for (size_t i = 0; i < b->n; i++)
    if (b->jobs[i]->corr == corr)
      return (long)i;
  return -1;
}

static void nudge_service(web_t *w)
{
  /* acq_rel pairs with the service thread's release store of 0 before it
   * reads the log: if we see 1, that read is still ahead and will see our
   * committed event. */
  if (atomic_exchange_explicit(&w->nudge_pending, 1, memory_order_acq_rel))
    return;
  rt_msg_t *m = NULL;
  if (rt_msg_new(WEB__MSG_EVENTS, NULL, 0, &m) == 0 &&
      rt_send(w->port_actor, &m) != 0)
    atomic_store_explicit(&w->nudge_pending, 0, memory_order_release);
}

static void on_ack(rt_ctx_t *ctx, bridge_t *b, const rt_msg_t *msg)
{
  store_ack_t ack = {.rc = RT_ETIMEDOUT};
  if (rt_msg_type(msg) == STORE_MSG_ACK) {
    size_t len = 0;
    const void *d = rt_msg_data(msg, &len);
    ack.rc = STORE_EINVAL;
    if (len == sizeof(ack))
      memcpy(&ack, d, sizeof(ack));
  }
  long i = find_job(b, rt_msg_corr(msg));
  if (i >= 0) {
    web_job_t *job = b->jobs[i];
    job->rc = ack.rc;
    job->next++;
    job_step(ctx, b, (size_t)i);
    return;
  }
  /* A publish. */
  if (ack.rc == 0) {
    atomic_fetch_add_explicit(&b->w->events_published, 1,
                              memory_order_relaxed);
    nudge_service(b->w);
  } else {
    atomic_fetch_add_explicit(&b->w->events_failed, 1, memory_order_relaxed);
  }
}

static void on_publish(rt_ctx_t *ctx, bridge_t *b, rt_msg_t *msg)
{
  size_t len = 0;
  void *bytes = rt_msg_take_payload(msg, &len);
  rt_msg_t *m = NULL;
  uint64_t corr = 0;
  int rc = bytes ? rt_msg_new_take(STORE_MSG_WRITE, bytes, len, &m)
                 : RT_ENOMEM;
  if (!rc)
    rc = rt_request(ctx, b->w->store_actor, &m, b->w->cfg.store_timeout_ms,
                    &corr);
  if (rc)
    atomic_fetch_add_explicit(&b->w->events_failed, 1, memory_order_relaxed);
}

static void free_jobs(bridge_t *b)
{
  for (size_t i = 0; i < b->n; i++)
    web__job_free(b->jobs[i]);
  free(b->jobs);
  b->jobs = NULL;
  b->n = b->cap = 0;
}

static void bridge_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  bridge_t *b = state;
  switch (rt_msg_type(msg)) {
  case WEB__MSG_JOB:
    on_job(ctx, b, msg);
    break;
  case WEB__MSG_PUBLISH:
    on_publish(ctx, b, msg);
    break;
  case STORE_MSG_ACK:
  case RT_MSG_TIMEOUT:
    on_ack(ctx, b, msg);
    break;
  case WEB__MSG_STOP: {
    free_jobs(b);
    rt_msg_t *r = NULL;
    if (rt_msg_new(WEB__MSG_STOP, NULL, 0, &r) == 0)
      rt_reply(msg, &r);
    rt_stop_self(ctx);
    break;
  }
  default:
    break;
  }
}

static int bridge_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  (void)ctx;
  ((bridge_t *)state)->w = (web_t *)arg;
  return 0;
}

static void bridge_stop(rt_ctx_t *ctx, void *state)
{
  (void)ctx;
  free_jobs(state);
}

static const rt_actor_type_t bridge_type = {
    .name = "web",
    .state_size = sizeof(bridge_t),
    .on_start = bridge_start,
    .on_msg = bridge_msg,
    .on_stop = bridge_stop,
};

int web__bridge_spawn(web_t *w, rt_actor_t **out)
{
  return rt_actor_spawn(w->rt, &bridge_type, w, NULL, out);
}

/* ---------------------------------------------------------- publishing */

uint32_t web__topic_bit(const char *name)
{
  static const char *const topics[] = {"tasks",        "findings", "actors",
                                       "metrics",      "alerts",   "logs",
                                       "agent-output", NULL};
  for (unsigned i = 0; name && topics[i]; i++)
    if (strcmp(name, topics[i]) == 0)
      return 1u << i;
  return 0;
}

int web_publish(web_t *w, const char *topic, const json_t *data)
{
  if (!w)
    return WEB_EINVAL;
  if (!web__topic_bit(topic))
    return WEB_ETOPIC;
  /* seq is assigned by the store; 1 is a placeholder the encoder needs. */
  proto_msg_t m = {.type = PROTO_EVENT};
  m.u.event = (proto_event_t){.seq = 1, .topic = (char *)topic,
                              .ts = web__now_ms(), .data = (json_t *)data};
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  int rc = proto_msgpack_encode(&m, &sb);
  if (rc) {
    msgpack_sbuffer_destroy(&sb);
    return rc;
  }
  size_t len = sb.size;
  rt_msg_t *msg = NULL;
  rc = rt_msg_new_take(WEB__MSG_PUBLISH, msgpack_sbuffer_release(&sb), len,
                       &msg);
  if (!rc)
    rc = rt_send(w->bridge, &msg);
  return rc;
}
