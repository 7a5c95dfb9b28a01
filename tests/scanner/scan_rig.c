/* scan_rig.c: see scan_rig.h. */
#include "tests/scanner/scan_rig.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proto.h"
#include "store/store_actor.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"

void scan_rig_up_store(scan_rig_t *r)
{
  memset(r, 0, sizeof *r);
  r->repo = tst_tmpdir();
  r->data = tst_tmpdir();
  r->rt = tst_runtime(2);
  store_options_t so = {.no_sync = true};
  r->store = tst_store_open(r->data, &so);
  TST_OK(store_actor_spawn(r->rt, r->store, NULL, &r->store_actor));
  TST_OK(rt_port_new(r->rt, 0, &r->done));
  r->ao = (analyzer_opts_t){r->store, r->store_actor, rt_port_actor(r->done)};
}

void scan_rig_start_analyzer(scan_rig_t *r)
{
  TST_OK(analyzer_spawn(r->rt, &r->ao, &r->analyzer));
}

void scan_rig_up(scan_rig_t *r)
{
  scan_rig_up_store(r);
  scan_rig_start_analyzer(r);
}

void scan_rig_down(scan_rig_t *r)
{
  rt_port_free(r->done);
  rt_actor_release(r->analyzer);
  rt_actor_release(r->store_actor);
  tst_runtime_free(r->rt);
  store_close(r->store);
  tst_rmrf(r->repo);
  tst_rmrf(r->data);
  free(r->repo);
  free(r->data);
}

static uint64_t files_of_done(const rt_msg_t *m)
{
  size_t len;
  const void *d = rt_msg_data(m, &len);
  proto_msg_t pm;
  TST_OK(proto_msgpack_decode(d, len, &pm, NULL, 0));
  cr_assert_null(pm.u.scan_done.error, "scan failed: %s", pm.u.scan_done.error);
  uint64_t files = pm.u.scan_done.files;
  proto_msg_fini(&pm);
  return files;
}

analyzer_summary_t scan_rig_scan(scan_rig_t *r, const scanner_opts_t *o,
                                 uint64_t *files)
{
  analyzer_summary_t sum;
  bool have_sum = false;
  TST_OK(scanner_start(r->rt, o, r->analyzer));
  for (;;) {
    rt_msg_t *m = NULL;
    TST_OK(rt_port_recv(r->done, 30000, &m));
    uint32_t type = rt_msg_type(m);
    if (type == ANALYZER_MSG_SUMMARY) {
      size_t len;
      const void *d = rt_msg_data(m, &len);
      cr_assert_eq(len, sizeof sum);
      memcpy(&sum, d, sizeof sum);
      have_sum = true;
    } else if (type == PROTO_SCAN_DONE && files) {
      *files = files_of_done(m);
    }
    rt_msg_free(m);
    if (type == PROTO_SCAN_DONE)
      break;
  }
  cr_assert(have_sum, "a summary comes before SCAN_DONE");
  cr_assert_str_eq(sum.repo, "fx");
  cr_assert_eq(sum.failed_writes, 0);
  return sum;
}
