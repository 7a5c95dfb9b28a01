/*
 * test_scanner.c: the scanner actors (actors/scanner/scanner.h) driven
 * directly: every file's findings arrive, a sink that does not acknowledge
 * holds the scan at SCANNER_CREDITS batches (memory stays bounded), a
 * root that does not exist ends with PROTO_SCAN_DONE carrying the error,
 * and a block copied into more files than a duplicate group holds gives
 * the same group (the smallest paths) with one shard or several; a shard
 * still in a chunk when its coordinator stops (a scan stopped at
 * shutdown) reads nothing the coordinator freed (ASan and TSan see it).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/scanner/scanner.h"
#include "actors/scanner/scanner_int.h"
#include "protocol/proto.h"
#include "runtime/rt.h"
#include "tests/scanner/scan_fixture.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"

#define NFILES 2000 /* 16 chunks of 128 paths: more batches than credits */

static char *many_files(void)
{
  char *d = tst_tmpdir();
  char rel[64], text[128];
  for (int i = 0; i < NFILES; i++) {
    snprintf(rel, sizeof rel, "d%02d/f%04d.c", i % 17, i);
    snprintf(text, sizeof text, "int f%d;\n// TODO: item %d\n", i, i);
    fx_write(d, rel, text);
  }
  return d;
}

static uint32_t batch_size(const rt_msg_t *m)
{
  size_t len;
  const void *data = rt_msg_data(m, &len);
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  cr_assert_eq(msgpack_unpack_next(&u, data, len, NULL), MSGPACK_UNPACK_SUCCESS);
  cr_assert_eq(u.data.type, MSGPACK_OBJECT_ARRAY);
  uint32_t n = u.data.via.array.size;
  for (uint32_t i = 0; i < n; i++) {
    const msgpack_object *o = &u.data.via.array.ptr[i];
    proto_msg_t f;
    cr_assert_eq(o->type, MSGPACK_OBJECT_BIN);
    cr_assert_eq(proto_msgpack_decode(o->via.bin.ptr, o->via.bin.size, &f, NULL, 0), 0);
    cr_assert_eq(f.type, PROTO_FINDING);
    cr_assert_str_eq(f.u.finding.kind, "todo");
    cr_assert_str_eq(f.u.finding.repo, "fx");
    proto_msg_fini(&f);
  }
  msgpack_unpacked_destroy(&u);
  return n;
}

static void ack(rt_runtime_t *rt, const rt_msg_t *m)
{
  rt_msg_t *a = NULL;
  TST_OK(rt_msg_new(SCANNER_MSG_ACK, NULL, 0, &a));
  /* Once the last batch is out the coordinator may already have stopped:
   * a late acknowledgement finds nobody, which is fine. */
  int rc = rt_send_id(rt, rt_msg_sender(m), &a);
  if (rc == RT_ENOTFOUND)
    rt_msg_free(a);
  else
    TST_OK(rc);
}

Test(scanner, a_sink_that_stops_acknowledging_holds_the_scan, .timeout = 60)
{
  char *d = many_files();
  rt_runtime_t *rt = tst_runtime(2);
  rt_port_t *port = NULL;
  TST_OK(rt_port_new(rt, 0, &port));
  scanner_opts_t o = {.repo = "fx", .root = d, .no_secrets = true,
                      .no_refactor = true, .no_git = true, .shards = 2};
  TST_OK(scanner_start(rt, &o, rt_port_actor(port)));

  /* Take batches without acknowledging: at most SCANNER_CREDITS arrive. */
  rt_msg_t *held[SCANNER_CREDITS + 1];
  unsigned nheld = 0;
  uint32_t findings = 0;
  rt_msg_t *m = NULL;
  while (rt_port_recv(port, 1500, &m) == 0) {
    cr_assert_neq(rt_msg_type(m), PROTO_SCAN_DONE, "finished without acks");
    if (rt_msg_type(m) != SCANNER_MSG_FINDINGS) {
      rt_msg_free(m);
      continue;
    }
    cr_assert_lt(nheld, SCANNER_CREDITS, "more batches than credits");
    findings += batch_size(m);
    held[nheld++] = m;
  }
  cr_assert_eq(nheld, SCANNER_CREDITS, "the scan should use every credit");
  cr_assert_lt(findings, NFILES);

  /* Acknowledge everything from now on: the rest arrives, then DONE. */
  for (unsigned i = 0; i < nheld; i++) {
    ack(rt, held[i]);
    rt_msg_free(held[i]);
  }
  bool done = false;
  while (!done) {
    TST_OK(rt_port_recv(port, 30000, &m));
    if (rt_msg_type(m) == SCANNER_MSG_FINDINGS) {
      findings += batch_size(m);
      ack(rt, m);
    } else if (rt_msg_type(m) == PROTO_SCAN_DONE) {
      size_t len;
      const void *data = rt_msg_data(m, &len);
      proto_msg_t dm;
      TST_OK(proto_msgpack_decode(data, len, &dm, NULL, 0));
      cr_assert_eq(dm.u.scan_done.files, NFILES);
      cr_assert_eq(dm.u.scan_done.findings, NFILES);
      cr_assert_null(dm.u.scan_done.error);
      proto_msg_fini(&dm);
      done = true;
    }
    rt_msg_free(m);
  }
  cr_assert_eq(findings, NFILES, "one TODO per file");
  rt_port_free(port);
  tst_runtime_free(rt);
  tst_rmrf(d);
  free(d);
}

Test(scanner, a_missing_root_ends_with_an_error, .timeout = 30)
{
  rt_runtime_t *rt = tst_runtime(2);
  rt_port_t *port = NULL;
  TST_OK(rt_port_new(rt, 0, &port));
  scanner_opts_t o = {.repo = "fx", .root = "/nonexistent/ccm-scanner"};
  TST_OK(scanner_start(rt, &o, rt_port_actor(port)));
  rt_msg_t *m = NULL;
  for (;;) {
    TST_OK(rt_port_recv(port, 10000, &m));
    if (rt_msg_type(m) == PROTO_SCAN_DONE)
      break;
    rt_msg_free(m);
  }
  size_t len;
  const void *data = rt_msg_data(m, &len);
  proto_msg_t dm;
  TST_OK(proto_msgpack_decode(data, len, &dm, NULL, 0));
  cr_assert_not_null(dm.u.scan_done.error);
  cr_assert(strstr(dm.u.scan_done.error, "/nonexistent/ccm-scanner"), "%s",
            dm.u.scan_done.error);
  cr_assert_eq(dm.u.scan_done.files, 0);
  proto_msg_fini(&dm);
  rt_msg_free(m);
  rt_port_free(port);
  tst_runtime_free(rt);
}

/* ---- duplicated blocks: the same group whatever the shards ---- */

#define NCOPIES 40 /* more than a group's 32 places */

/* The duplicate finding's locations ("path:start-end,...") of one whole
 * scan; the findings' fingerprint into @p fp. Exactly one group. */
static void scan_dup_group(rt_runtime_t *rt, const char *dir, unsigned shards,
                           char *out, size_t cap, char *fp, size_t fpcap)
{
  rt_port_t *port = NULL;
  TST_OK(rt_port_new(rt, 0, &port));
  scanner_opts_t o = {.repo = "fx", .root = dir, .no_git = true,
                      .no_secrets = true, .no_markers = true,
                      .shards = shards};
  TST_OK(scanner_start(rt, &o, rt_port_actor(port)));
  int groups = 0;
  out[0] = '\0';
  for (;;) {
    rt_msg_t *m = NULL;
    TST_OK(rt_port_recv(port, 30000, &m));
    uint32_t type = rt_msg_type(m);
    if (type == SCANNER_MSG_FINDINGS) {
      size_t len;
      const void *data = rt_msg_data(m, &len);
      msgpack_unpacked u;
      msgpack_unpacked_init(&u);
      cr_assert_eq(msgpack_unpack_next(&u, data, len, NULL), MSGPACK_UNPACK_SUCCESS);
      for (uint32_t i = 0; i < u.data.via.array.size; i++) {
        const msgpack_object *b = &u.data.via.array.ptr[i];
        proto_msg_t f;
        TST_OK(proto_msgpack_decode(b->via.bin.ptr, b->via.bin.size, &f, NULL, 0));
        json_t *locs = json_object_get(f.u.finding.details, "locations");
        if (locs) {
          groups++;
          snprintf(fp, fpcap, "%s", f.u.finding.fingerprint);
          size_t k;
          json_t *l;
          json_array_foreach(locs, k, l) {
            size_t n = strlen(out);
            snprintf(out + n, cap - n, "%s%s:%d-%d", k ? "," : "",
                     json_string_value(json_object_get(l, "path")),
                     (int)json_integer_value(json_object_get(l, "start")),
                     (int)json_integer_value(json_object_get(l, "end")));
          }
        }
        proto_msg_fini(&f);
      }
      msgpack_unpacked_destroy(&u);
      ack(rt, m);
    }
    rt_msg_free(m);
    if (type == PROTO_SCAN_DONE)
      break;
  }
  cr_assert_eq(groups, 1, "one duplicated block: %s", out);
  rt_port_free(port);
}

Test(scanner, a_block_in_more_files_than_a_group_holds_gives_the_same_group_with_any_shards,
     .timeout = 60)
{
  char *d = tst_tmpdir();
  for (int i = 0; i < NCOPIES; i++) {
    char rel[32]; /* made out of path order: no directory lists them sorted */
    snprintf(rel, sizeof rel, "c%02d.c", i * 7 % NCOPIES);
    fx_write(d, rel, "void copy(void)\n{\n  total = price * quantity;\n"
                     "  if (total > limit)\n    total = limit;\n"
                     "  tax = total * rate / 100;\n  sum += total + tax;\n"
                     "  log_line(count, sum);\n}\n");
  }
  /* The kept places are the 32 smallest paths, not the first 32 the tree
   * walk (directory order) or the shards happened to give. */
  char want[2048] = "";
  for (int i = 0; i < 32; i++)
    snprintf(want + strlen(want), sizeof want - strlen(want), "%sc%02d.c:1-8",
             i ? "," : "", i);
  rt_runtime_t *rt = tst_runtime(2);
  char one[2048], three[2048], fp1[64], fp3[64];
  scan_dup_group(rt, d, 1, one, sizeof one, fp1, sizeof fp1);
  scan_dup_group(rt, d, 3, three, sizeof three, fp3, sizeof fp3);
  cr_assert_str_eq(one, want);
  cr_assert_str_eq(three, one, "3 shards: %s", three);
  cr_assert_str_eq(fp3, fp1, "the same task");
  tst_runtime_free(rt);
  tst_rmrf(d);
  free(d);
}

/* ---- a shard outliving its coordinator ---- */

static sem_t hook_entered, hook_go;
static atomic_bool hook_once;

/* Holds the shard in its first file until the test says go. */
static void hold_first_file(const char *path)
{
  (void)path;
  if (atomic_exchange(&hook_once, true))
    return;
  sem_post(&hook_entered);
  while (sem_wait(&hook_go) != 0)
    ;
}

static void sem_wait_30s(sem_t *sem)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 30;
  cr_assert_eq(sem_timedwait(sem, &ts), 0, "the shard never reached a file");
}

/* The coordinator's id, from its first progress message. */
static uint64_t coordinator_of(rt_port_t *port)
{
  for (;;) {
    rt_msg_t *m = NULL;
    TST_OK(rt_port_recv(port, 30000, &m));
    uint32_t type = rt_msg_type(m);
    uint64_t id = rt_msg_sender(m);
    rt_msg_free(m);
    if (type == PROTO_SCAN_PROGRESS)
      return id;
  }
}

/* Until actor @p id is gone from the registry: its on_stop has run and
 * its state is freed (runtime/actor.c actor_finish). */
static void await_gone(rt_runtime_t *rt, uint64_t id)
{
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    rt_actor_t *a = NULL;
    if (rt_actor_lookup_id(rt, id, &a) == RT_ENOTFOUND)
      return;
    rt_actor_release(a);
    clock_gettime(CLOCK_MONOTONIC, &t);
    cr_assert_lt(t.tv_sec - t0.tv_sec, 30, "the coordinator did not stop");
    sched_yield();
  }
}

Test(scanner, a_shard_in_a_chunk_outlives_its_stopped_coordinator,
     .timeout = 60)
{
  char *d = tst_tmpdir();
  for (int i = 0; i < 8; i++) { /* markers, functions, duplicated blocks */
    char rel[32];
    snprintf(rel, sizeof rel, "f%d.c", i);
    fx_write(d, rel, "int f(int x)\n{\n  // TODO: one\n  x += 1;\n  x *= 2;\n"
                     "  x -= 3;\n  x /= 4;\n  x %= 5;\n  return x;\n}\n");
  }
  cr_assert_eq(sem_init(&hook_entered, 0, 0), 0);
  cr_assert_eq(sem_init(&hook_go, 0, 0), 0);
  atomic_store(&hook_once, false);
  scanner__file_hook = hold_first_file;
  rt_runtime_t *rt = tst_runtime(2); /* the shard holds one worker */
  rt_port_t *port = NULL;
  TST_OK(rt_port_new(rt, 0, &port));
  scanner_opts_t o = {.repo = "fx", .root = d, .no_git = true, .shards = 1,
                      .progress_ms = 1};
  TST_OK(scanner_start(rt, &o, rt_port_actor(port)));
  sem_wait_30s(&hook_entered);

  uint64_t coord = coordinator_of(port);
  rt_actor_t *c = NULL;
  TST_OK(rt_actor_lookup_id(rt, coord, &c));
  TST_OK(rt_actor_stop(c));
  rt_actor_release(c);
  await_gone(rt, coord);

  /* The shard reads its files, the duplicate windows, the settings: all
   * the coordinator's once, freed with it before the fix. */
  sem_post(&hook_go);
  rt_port_free(port);
  tst_runtime_free(rt); /* joins the shard's worker */
  scanner__file_hook = NULL;
  sem_destroy(&hook_entered);
  sem_destroy(&hook_go);
  tst_rmrf(d);
  free(d);
}
