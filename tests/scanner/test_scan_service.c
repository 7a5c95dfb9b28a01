/*
 * test_scan_service.c: the daemon's scan service (actors/analyzer/
 * scan_service.h) with the analyzer and a real store. Contract: when a
 * scan is done (the analyzer's resolve pass written), the service copies
 * its SCAN_DONE to the actor registered as "monitor" (the monitor makes
 * the `repository.scanned` webhook of it); the tasks of that scan are in
 * the store by then. A stand-in actor registered as "monitor" passes what
 * it gets to a port the test reads.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/analyzer.h"
#include "actors/analyzer/scan_service.h"
#include "protocol/proto.h"
#include "tests/scanner/scan_fixture.h"
#include "tests/scanner/scan_rig.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"

/* The stand-in monitor: a copy of every message to the port it was given. */
static int fwd_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  *(rt_actor_t **)state = rt_actor_retain((rt_actor_t *)arg);
  return 0;
}

static void fwd_stop(rt_ctx_t *ctx, void *state)
{
  rt_actor_release(*(rt_actor_t **)state);
}

static void fwd_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  size_t len;
  const void *data = rt_msg_data(msg, &len);
  rt_msg_t *copy = NULL;
  if (rt_msg_new(rt_msg_type(msg), data, len, &copy) == 0)
    rt_send(*(rt_actor_t **)state, &copy);
}

static const rt_actor_type_t stand_in_type = {
    .name = "test_monitor",
    .state_size = sizeof(rt_actor_t *),
    .on_start = fwd_start,
    .on_msg = fwd_msg,
    .on_stop = fwd_stop,
};

static int count_task(const proto_task_t *t, void *arg)
{
  (*(int *)arg)++;
  return 0;
}

Test(scan_service, a_finished_scan_reaches_the_monitor_after_its_tasks,
     .timeout = 60)
{
  scan_rig_t r;
  scan_rig_up_store(&r);
  fx_write(r.repo, "a.c", "// TODO: alpha\nint a;\n");
  fx_write(r.repo, "b.py", "# FIXME: beta\n");
  rt_port_t *seen = NULL;
  rt_actor_t *monitor = NULL, *svc = NULL;
  TST_OK(rt_port_new(r.rt, 0, &seen));
  rt_spawn_opts_t named = {.name = SCAN_SERVICE_MONITOR};
  TST_OK(rt_actor_spawn(r.rt, &stand_in_type, rt_port_actor(seen), &named,
                        &monitor));
  scan_service_opts_t *so = calloc(1, sizeof *so);
  cr_assert_not_null(so);
  so->repos[0] = (scanner_opts_t){.repo = "fx", .root = r.repo, .no_git = true};
  so->nrepos = 1;
  so->quiet = true;
  TST_OK(scan_service_spawn(r.rt, so, &svc));
  r.ao.done_to = svc; /* the analyzer reports to the service */
  scan_rig_start_analyzer(&r);
  so->analyzer = r.analyzer;
  TST_OK(scan_service_begin(svc));

  rt_msg_t *m = NULL;
  TST_OK(rt_port_recv(seen, 30000, &m));
  cr_assert_eq(rt_msg_type(m), PROTO_SCAN_DONE);
  size_t len;
  const void *data = rt_msg_data(m, &len);
  proto_msg_t done;
  TST_OK(proto_msgpack_decode(data, len, &done, NULL, 0));
  cr_assert_str_eq(done.u.scan_done.repo, "fx");
  cr_assert_eq(done.u.scan_done.files, 2);
  cr_assert_eq(done.u.scan_done.findings, 2);
  cr_assert_null(done.u.scan_done.error);
  proto_msg_fini(&done);
  rt_msg_free(m);
  int tasks = 0;
  store_filter_t f = {.state = -1, .repo = "fx"};
  TST_OK(store_task_foreach(r.store, &f, count_task, &tasks));
  cr_assert_eq(tasks, 2, "the scan's tasks are written before it is told");

  rt_actor_release(monitor);
  rt_actor_release(svc);
  rt_port_free(seen);
  scan_rig_down(&r);
  free(so);
}
