/*
 * feed.c: the agent-output feed, a sink for the executor (exec_config_t
 * .sink) that `ccm serve` sets so agent output reaches the control plane.
 *
 * Every AGENT_OUTPUT line a run republishes becomes an "agent-output"
 * EVENT (data: task_id, line_no, stream, line) appended through the store
 * actor; the web hub fans the event log out to /ws, so the lines are
 * persisted like every other topic. To keep the log (bounded retention,
 * shared with tasks and findings) from being flooded by one chatty agent,
 * only the first `max_lines` lines of each run are published, then one
 * notice line says the rest is in the run's log files
 * (<data>/runs/<task-id>/); later lines are dropped. The run numbers its
 * lines from 1, so the cap needs no state here. Outcome EVENTs (topic
 * "executor") are stored by the executor itself and are ignored.
 *
 * Writes are requests (the store actor acknowledges only those) whose
 * acknowledgements are ignored: a lost line is not worth a retry, and the
 * feed never waits, so it never slows a run.
 */
#include <stdio.h>
#include <stdlib.h>

#include "actors/executor/executor_int.h"
#include "store/store_actor.h"

#define DEFAULT_MAX_LINES 1000u
#define STORE_TIMEOUT_MS 120000u

typedef struct feed {
  rt_actor_t *store_actor;
  unsigned max_lines;
} feed_t;

typedef struct feed_arg {
  rt_actor_t *store_actor;
  unsigned max_lines;
} feed_arg_t;

static void append_line(rt_ctx_t *ctx, feed_t *f, const proto_agent_output_t *o,
                        const char *line)
{
  json_t *d = json_pack("{ss sI ss ss}", "task_id", o->task_id, "line_no",
                        (json_int_t)o->line_no, "stream",
                        o->stream ? o->stream : "stdout", "line", line);
  proto_msg_t m = {.type = PROTO_EVENT};
  m.u.event = (proto_event_t){.seq = 1, .topic = (char *)"agent-output",
                              .ts = exec__wall_ms(), .data = d};
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  rt_msg_t *msg = NULL;
  if (d && proto_msgpack_encode(&m, &sb) == 0) {
    size_t len = sb.size;
    if (rt_msg_new_take(STORE_MSG_WRITE, msgpack_sbuffer_release(&sb), len,
                        &msg) == 0) {
      uint64_t corr = 0;
      rt_request(ctx, f->store_actor, &msg, STORE_TIMEOUT_MS, &corr);
    }
  } else {
    msgpack_sbuffer_destroy(&sb);
  }
  json_decref(d);
}

static void on_output(rt_ctx_t *ctx, feed_t *f, const rt_msg_t *msg)
{
  size_t len = 0;
  const void *d = rt_msg_data(msg, &len);
  proto_msg_t m;
  if (proto_msgpack_decode(d, len, &m, NULL, 0) != 0)
    return;
  const proto_agent_output_t *o = &m.u.agent_output;
  if (m.type == PROTO_AGENT_OUTPUT && o->line_no <= f->max_lines) {
    append_line(ctx, f, o, o->line);
  } else if (m.type == PROTO_AGENT_OUTPUT &&
             o->line_no == (uint64_t)f->max_lines + 1) {
    char notice[160];
    snprintf(notice, sizeof notice,
             "[ccm: output after %u lines is not published; the run's "
             "log files have it all]",
             f->max_lines);
    append_line(ctx, f, o, notice);
  }
  proto_msg_fini(&m);
}

static void feed_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  if (rt_msg_type(msg) == (uint32_t)PROTO_AGENT_OUTPUT)
    on_output(ctx, state, msg); /* acks and timeouts: nothing to do */
}

static int feed_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  (void)ctx;
  const feed_arg_t *a = arg;
  feed_t *f = state;
  f->store_actor = rt_actor_retain(a->store_actor);
  f->max_lines = a->max_lines ? a->max_lines : DEFAULT_MAX_LINES;
  return 0;
}

static void feed_stop(rt_ctx_t *ctx, void *state)
{
  (void)ctx;
  feed_t *f = state;
  rt_actor_release(f->store_actor);
  f->store_actor = NULL;
}

static const rt_actor_type_t feed_type = {
    .name = "exec-feed",
    .state_size = sizeof(feed_t),
    .on_start = feed_start,
    .on_msg = feed_msg,
    .on_stop = feed_stop,
};

int exec_feed_spawn(rt_runtime_t *rt, rt_actor_t *store_actor,
                    unsigned max_lines, rt_actor_t **out)
{
  *out = NULL;
  if (!store_actor)
    return EXEC_EINVAL;
  feed_arg_t a = {store_actor, max_lines};
  return rt_actor_spawn(rt, &feed_type, &a, NULL, out);
}
