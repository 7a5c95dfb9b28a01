/*
 * test_io.c: blocking jobs and descriptor readiness in runtime/io.h.
 *
 * rt_blocking_submit runs the function on a blocking thread (not a worker:
 * rt_call works there, and blocked jobs do not stall actors) and sends its
 * result to reply_to; jobs queued before a shutdown still run; submits after
 * it give RT_ESHUTDOWN. rt_fd_watch delivers one RT_MSG_IO_READY with the
 * fd, the ready bits and the tag (one-shot), again after re-arming (from a
 * handler too), and nothing after rt_fd_unwatch.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/rt_test.h"

TestSuite(io, .timeout = 60);

enum { T_RESULT = TST_MSG_BASE + 1, T_REQ, T_REPLY, T_ARM, T_GOT };

/* ---- blocking jobs ---- */

static void echo_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  rt_msg_t *r = NULL;
  if (rt_msg_new(T_REPLY, NULL, 0, &r) == 0) rt_reply(msg, &r);
}
static const rt_actor_type_t echo_type = {.name = "echo", .on_msg = echo_msg};

typedef struct job {
  pthread_t thread;
  int call_rc;        /* rt_call from the job */
  rt_runtime_t *rt;
  rt_actor_t *echo;
  uint64_t value;
  tst_gate_t *gate;   /* when set, the job waits here */
  atomic_int *ran;
} job_t;

static void job_fn(void *arg, rt_msg_t **result) {
  job_t *j = arg;
  j->thread = pthread_self();
  if (j->gate) tst_gate_wait(j->gate);
  if (j->echo) {
    rt_msg_t *m = NULL, *reply = NULL;
    if (rt_msg_new(T_REQ, NULL, 0, &m) == 0) {
      j->call_rc = rt_call(j->rt, j->echo, &m, TST_WAIT_MS, &reply);
      rt_msg_free(reply);
    }
  }
  if (j->ran) atomic_fetch_add(j->ran, 1);
  rt_msg_new(T_RESULT, &j->value, sizeof j->value, result);
}

Test(io, blocking_job_runs_off_the_workers_and_replies) {
  rt_runtime_t *rt = tst_runtime(2);
  rt_port_t *port = tst_port(rt, 16);
  rt_actor_t *echo = NULL;
  TST_OK(rt_actor_spawn(rt, &echo_type, NULL, NULL, &echo));
  job_t j = {.rt = rt, .echo = echo, .value = 4242, .call_rc = 1};
  TST_OK(rt_blocking_submit(rt, job_fn, &j, rt_port_actor(port)));
  rt_msg_t *m = tst_recv_type(port, T_RESULT);
  cr_assert_eq(tst_u64(m), 4242u, "the job's result message arrives");
  rt_msg_free(m);
  cr_assert(!pthread_equal(j.thread, pthread_self()), "not the caller's thread");
  cr_assert_eq(j.call_rc, 0, "rt_call works in a job: not a worker (%s)",
               rt_strerror(j.call_rc));
  rt_actor_release(echo);
  tst_quiesce(rt);
  rt_port_free(port);
  tst_runtime_free(rt);
}

Test(io, blocked_jobs_do_not_stall_actors) {
  rt_config_t cfg;
  rt_config_defaults(&cfg);
  cfg.workers = 1;
  cfg.blocking_threads = 2;
  rt_runtime_t *rt = tst_runtime_cfg(&cfg);
  rt_port_t *port = tst_port(rt, 16);
  rt_actor_t *echo = NULL;
  TST_OK(rt_actor_spawn(rt, &echo_type, NULL, NULL, &echo));
  tst_gate_t gate;
  tst_gate_init(&gate);
  job_t j[2] = {{.gate = &gate, .value = 1}, {.gate = &gate, .value = 2}};
  for (int i = 0; i < 2; i++)
    TST_OK(rt_blocking_submit(rt, job_fn, &j[i], rt_port_actor(port)));
  tst_gate_await_entered(&gate, 2); /* both blocking threads are stuck */
  rt_msg_t *q = tst_msg(T_REQ, NULL, 0), *reply = NULL;
  cr_assert_eq(rt_call(rt, echo, &q, TST_WAIT_MS, &reply), 0,
               "the worker still runs actors");
  rt_msg_free(reply);
  tst_gate_open(&gate);
  uint64_t sum = 0;
  for (int i = 0; i < 2; i++) {
    rt_msg_t *m = tst_recv_type(port, T_RESULT);
    sum += tst_u64(m);
    rt_msg_free(m);
  }
  cr_assert_eq(sum, 3u);
  tst_gate_destroy(&gate);
  rt_actor_release(echo);
  tst_quiesce(rt);
  rt_port_free(port);
  tst_runtime_free(rt);
}

Test(io, job_result_is_discarded_without_reply_to) {
  rt_runtime_t *rt = tst_runtime(1);
  atomic_int ran = 0;
  job_t j = {.value = 1, .ran = &ran};
  TST_OK(rt_blocking_submit(rt, job_fn, &j, NULL));
  cr_assert(TST_EVENTUALLY(atomic_load(&ran) == 1, TST_WAIT_MS));
  tst_runtime_free(rt); /* the result message is freed (LeakSanitizer) */
}

static void noop_job(void *arg, rt_msg_t **result) {
  atomic_fetch_add((atomic_int *)arg, 1);
}

Test(io, jobs_queued_before_shutdown_run) {
  rt_config_t cfg;
  rt_config_defaults(&cfg);
  cfg.workers = 1;
  cfg.blocking_threads = 1;
  rt_runtime_t *rt = tst_runtime_cfg(&cfg);
  tst_gate_t gate;
  tst_gate_init(&gate);
  atomic_int ran = 0;
  job_t first = {.gate = &gate, .ran = &ran};
  TST_OK(rt_blocking_submit(rt, job_fn, &first, NULL));
  tst_gate_await_entered(&gate, 1); /* the only blocking thread is busy */
  for (int i = 0; i < 50; i++)
    TST_OK(rt_blocking_submit(rt, noop_job, &ran, NULL));
  tst_gate_open(&gate);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  cr_assert_eq(atomic_load(&ran), 51, "every queued job ran");
  TST_RC(rt_blocking_submit(rt, noop_job, &ran, NULL), RT_ESHUTDOWN);
  tst_runtime_free(rt);
  cr_assert_eq(atomic_load(&ran), 51);
  tst_gate_destroy(&gate);
}

/* ---- descriptor readiness ---- */

typedef struct fixture {
  rt_runtime_t *rt;
  rt_port_t *port;
  int fds[2];
} fixture_t;

static void setup(fixture_t *f) {
  f->rt = tst_runtime(2);
  f->port = tst_port(f->rt, 64);
  cr_assert_eq(pipe2(f->fds, O_NONBLOCK | O_CLOEXEC), 0);
}

static void teardown(fixture_t *f) {
  rt_fd_unwatch(f->rt, f->fds[0]);
  rt_fd_unwatch(f->rt, f->fds[1]);
  if (f->fds[0] >= 0) close(f->fds[0]);
  if (f->fds[1] >= 0) close(f->fds[1]);
  tst_quiesce(f->rt);
  rt_port_free(f->port);
  tst_runtime_free(f->rt);
}

static rt_io_event_t recv_io(rt_port_t *p) {
  rt_msg_t *m = tst_recv_type(p, RT_MSG_IO_READY);
  rt_io_event_t ev;
  tst_payload(m, &ev, sizeof ev);
  rt_msg_free(m);
  return ev;
}

Test(io, watch_delivers_io_ready_once) {
  fixture_t f;
  setup(&f);
  TST_OK(rt_fd_watch(f.rt, f.fds[0], RT_IO_READ, rt_port_actor(f.port), 42));
  tst_expect_silence(f.port, 50); /* nothing to read yet */
  cr_assert_eq(write(f.fds[1], "x", 1), 1);
  rt_io_event_t ev = recv_io(f.port);
  cr_assert_eq(ev.fd, f.fds[0]);
  cr_assert_eq(ev.tag, 42u);
  cr_assert(ev.events & RT_IO_READ, "events %#x", ev.events);
  /* One-shot: the byte is still unread, yet no second event comes. */
  tst_expect_silence(f.port, 150);
  teardown(&f);
}

Test(io, rewatch_rearms_the_descriptor) {
  fixture_t f;
  setup(&f);
  rt_actor_t *to = rt_port_actor(f.port);
  TST_OK(rt_fd_watch(f.rt, f.fds[0], RT_IO_READ, to, 1));
  cr_assert_eq(write(f.fds[1], "x", 1), 1);
  cr_assert_eq(recv_io(f.port).tag, 1u);
  tst_expect_silence(f.port, 50);
  /* Still readable: re-arming reports it again, with the new tag. */
  TST_OK(rt_fd_watch(f.rt, f.fds[0], RT_IO_READ, to, 2));
  rt_io_event_t ev = recv_io(f.port);
  cr_assert_eq(ev.tag, 2u);
  cr_assert_eq(ev.fd, f.fds[0]);
  tst_expect_silence(f.port, 50);
  teardown(&f);
}

Test(io, unwatch_stops_delivery) {
  fixture_t f;
  setup(&f);
  TST_OK(rt_fd_watch(f.rt, f.fds[0], RT_IO_READ, rt_port_actor(f.port), 7));
  TST_OK(rt_fd_unwatch(f.rt, f.fds[0]));
  cr_assert_eq(write(f.fds[1], "x", 1), 1);
  tst_expect_silence(f.port, 150);
  cr_assert_eq(rt_fd_unwatch(f.rt, f.fds[0]), RT_ENOTFOUND, "second unwatch");
  cr_assert_eq(rt_fd_unwatch(f.rt, 12345), RT_ENOTFOUND, "never watched");
  teardown(&f);
}

Test(io, watch_for_write) {
  fixture_t f;
  setup(&f);
  TST_OK(rt_fd_watch(f.rt, f.fds[1], RT_IO_WRITE, rt_port_actor(f.port), 9));
  rt_io_event_t ev = recv_io(f.port);
  cr_assert_eq(ev.fd, f.fds[1]);
  cr_assert_eq(ev.tag, 9u);
  cr_assert(ev.events & RT_IO_WRITE, "events %#x", ev.events);
  teardown(&f);
}

Test(io, hangup_is_reported) {
  fixture_t f;
  setup(&f);
  TST_OK(rt_fd_watch(f.rt, f.fds[0], RT_IO_READ, rt_port_actor(f.port), 3));
  close(f.fds[1]);
  f.fds[1] = -1;
  rt_io_event_t ev = recv_io(f.port);
  cr_assert(ev.events & (RT_IO_HANGUP | RT_IO_READ), "events %#x", ev.events);
  teardown(&f);
}

Test(io, watch_rejects_bad_arguments) {
  fixture_t f;
  setup(&f);
  cr_assert_lt(rt_fd_watch(f.rt, -1, RT_IO_READ, rt_port_actor(f.port), 0), 0);
  TST_RC(rt_fd_watch(f.rt, f.fds[0], RT_IO_READ, NULL, 0), RT_EINVAL);
  int closed = dup(f.fds[0]);
  close(closed);
  cr_assert_lt(rt_fd_watch(f.rt, closed, RT_IO_READ, rt_port_actor(f.port), 0), 0,
               "a closed descriptor cannot be watched");
  teardown(&f);
}

Test(io, watch_after_shutdown_gives_eshutdown) {
  fixture_t f;
  setup(&f);
  rt_runtime_shutdown(f.rt, RT_SHUTDOWN_DRAIN);
  cr_assert_eq(rt_fd_watch(f.rt, f.fds[0], RT_IO_READ, rt_port_actor(f.port), 0),
               RT_ESHUTDOWN);
  teardown(&f);
}

/* An actor that reads the pipe on each IO_READY and re-arms from its
 * handler, reporting each byte it read. */
typedef struct reader {
  int fd;
  rt_actor_t *out;
} reader_t;

static int reader_start(rt_ctx_t *ctx, void *state, const void *arg) {
  memcpy(state, arg, sizeof(reader_t));
  return 0;
}

static void reader_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg) {
  reader_t *r = state;
  if (rt_msg_type(msg) == T_ARM || rt_msg_type(msg) == RT_MSG_IO_READY) {
    char buf[16];
    ssize_t n;
    while ((n = read(r->fd, buf, sizeof buf)) > 0) {
      rt_msg_t *m = NULL;
      if (rt_msg_new(T_GOT, buf, (size_t)n, &m) == 0) rt_send(r->out, &m);
    }
    rt_fd_watch(rt_ctx_runtime(ctx), r->fd, RT_IO_READ, rt_self(ctx), 5);
  }
}
static const rt_actor_type_t reader_type = {.name = "reader",
                                            .state_size = sizeof(reader_t),
                                            .on_start = reader_start,
                                            .on_msg = reader_msg};

Test(io, actor_rearms_from_its_handler) {
  fixture_t f;
  setup(&f);
  reader_t init = {f.fds[0], rt_port_actor(f.port)};
  rt_actor_t *a = NULL;
  TST_OK(rt_actor_spawn(f.rt, &reader_type, &init, NULL, &a));
  TST_OK(tst_send(a, T_ARM, NULL, 0));
  for (int i = 0; i < 20; i++) {
    char c = (char)('a' + i);
    cr_assert_eq(write(f.fds[1], &c, 1), 1);
    rt_msg_t *m = tst_recv_type(f.port, T_GOT);
    size_t n;
    const char *d = rt_msg_data(m, &n);
    cr_assert_eq(n, 1u, "one byte per round");
    cr_assert_eq(d[0], c);
    rt_msg_free(m);
  }
  rt_fd_unwatch(f.rt, f.fds[0]);
  rt_actor_release(a);
  teardown(&f);
}
