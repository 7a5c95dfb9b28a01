/*
 * test_persist.c: what the GitHub side keeps in the store across
 * restarts (store/store_deliveries.c, store/store_kv.c), through the
 * store actor's COMMANDs "gh_deliveries" and "kv" as the daemon writes
 * them.
 *
 * Contract: an accepted delivery id is found again after the store is
 * closed and reopened; retention keeps at most `keep` ids and none older
 * than `max_age_ms` before the newest, forgetting the oldest first; a
 * known id keeps its first time; bad ids and bad shapes are refused
 * without writing anything. A kv value survives a reopen, is replaced by
 * a put and removed by a null.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_actor.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"

TestSuite(persist, .timeout = 60);

static char *dir;
static store_t *store;
static rt_runtime_t *rt;
static rt_actor_t *writer;

static void open_all(void)
{
  if (!dir)
    dir = tst_tmpdir();
  store = tst_store_open(dir, NULL);
  TST_OK(rt_runtime_new(NULL, &rt));
  TST_OK(store_actor_spawn(rt, store, "store", &writer));
}

static void close_all(void)
{
  rt_actor_release(writer);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  rt_runtime_free(rt);
  store_close(store);
  writer = NULL;
  rt = NULL;
  store = NULL;
}

/* One COMMAND through the store actor; its ack's rc. */
static int command(const char *action, json_t *args)
{
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = (char *)action;
  m.u.command.args = args;
  store_ack_t ack;
  int rc = store_write_sync(rt, writer, &m, 10000, &ack);
  json_decref(args);
  return rc ? rc : ack.rc;
}

static int deliveries(json_t *ids, json_int_t keep, json_int_t max_age)
{
  json_t *a = json_pack("{s:o}", "ids", ids);
  if (keep >= 0)
    json_object_set_new(a, "keep", json_integer(keep));
  if (max_age >= 0)
    json_object_set_new(a, "max_age_ms", json_integer(max_age));
  return command("gh_deliveries", a);
}

static bool known(const char *id)
{
  int rc = store_delivery_get(store, id, NULL);
  cr_assert(rc == 0 || rc == STORE_ENOTFOUND, "%s", store_strerror(rc));
  return rc == 0;
}

static uint64_t count(void)
{
  uint64_t n;
  TST_OK(store_deliveries_count(store, &n));
  return n;
}

static void finish(void)
{
  close_all();
  tst_rmrf(dir);
  free(dir);
  dir = NULL;
}

Test(persist, a_delivery_is_known_after_a_restart)
{
  open_all();
  cr_assert(!known("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
  TST_OK(deliveries(json_pack("[[s,i]]",
                              "72d3162e-cc78-11e3-81ab-4c9367dc0958", 1000),
                    -1, -1));
  close_all();
  open_all();
  int64_t at = 0;
  TST_OK(store_delivery_get(store, "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                            &at));
  cr_assert_eq(at, 1000);
  cr_assert(!known("72d3162e-cc78-11e3-81ab-4c9367dc0959"));
  /* a second put keeps the first time */
  TST_OK(deliveries(json_pack("[[s,i]]",
                              "72d3162e-cc78-11e3-81ab-4c9367dc0958", 5000),
                    -1, -1));
  TST_OK(store_delivery_get(store, "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                            &at));
  cr_assert_eq(at, 1000);
  cr_assert_eq(count(), 1);
  finish();
}

Test(persist, retention_forgets_the_oldest_beyond_keep)
{
  open_all();
  json_t *ids = json_array();
  char id[32];
  /* times out of id order: retention goes by time, not by id */
  for (int i = 0; i < 600; i++) {
    snprintf(id, sizeof id, "id-%03d", 599 - i);
    json_array_append_new(ids, json_pack("[s,i]", id, 10000 + i));
  }
  TST_OK(deliveries(ids, 500, 0));
  cr_assert_eq(count(), 500);
  /* the 100 oldest (times 10000..10099: ids 599..500) are gone */
  cr_assert(!known("id-599"));
  cr_assert(!known("id-500"));
  cr_assert(known("id-499"));
  cr_assert(known("id-000"));
  finish();
}

Test(persist, retention_forgets_ids_older_than_max_age)
{
  open_all();
  TST_OK(deliveries(json_pack("[[s,i],[s,i],[s,i]]", "old", 1000, "mid",
                              50000, "new", 100000),
                    -1, 60000));
  cr_assert(!known("old"), "100 s older than the newest, limit 60 s");
  cr_assert(known("mid"));
  cr_assert(known("new"));
  cr_assert_eq(count(), 2);
  finish();
}

Test(persist, bad_ids_and_shapes_are_refused_and_change_nothing)
{
  open_all();
  cr_assert_eq(deliveries(json_pack("[[s,i],[s,i]]", "fine", 1, "has space",
                                    2),
                          -1, -1),
               STORE_EINVAL);
  cr_assert_eq(deliveries(json_pack("[[s,i]]", "", 1), -1, -1), STORE_EINVAL);
  cr_assert_eq(deliveries(json_pack("[[s]]", "x"), -1, -1), STORE_EINVAL);
  cr_assert_eq(command("gh_deliveries",
                       json_pack("{s:[[s,i]],s:i}", "ids", "x", 1, "keep",
                                 -5)),
               STORE_EINVAL);
  char longid[120];
  memset(longid, 'a', sizeof longid - 1);
  longid[sizeof longid - 1] = '\0';
  cr_assert_eq(deliveries(json_pack("[[s,i]]", longid, 1), -1, -1),
               STORE_EINVAL);
  cr_assert(!known("fine"));
  cr_assert_eq(count(), 0);
  cr_assert_eq(store_delivery_get(store, "bad id", NULL), STORE_EINVAL);
  finish();
}

Test(persist, kv_values_survive_a_restart_and_can_be_replaced_or_removed)
{
  open_all();
  void *v;
  size_t n;
  cr_assert_eq(store_kv_get(store, "github/sweep", &v, &n), STORE_ENOTFOUND);
  TST_OK(command("kv", json_pack("{s:s,s:s}", "name", "github/sweep",
                                 "value", "{\"repo\":1}")));
  close_all();
  open_all();
  TST_OK(store_kv_get(store, "github/sweep", &v, &n));
  cr_assert_eq(n, 10);
  cr_assert_str_eq(v, "{\"repo\":1}");
  free(v);
  TST_OK(command("kv", json_pack("{s:s,s:s}", "name", "github/sweep",
                                 "value", "x")));
  TST_OK(store_kv_get(store, "github/sweep", &v, &n));
  cr_assert_str_eq(v, "x");
  free(v);
  TST_OK(command("kv", json_pack("{s:s,s:n}", "name", "github/sweep",
                                 "value")));
  cr_assert_eq(store_kv_get(store, "github/sweep", &v, &n), STORE_ENOTFOUND);
  /* bad names and values */
  cr_assert_eq(command("kv", json_pack("{s:s,s:s}", "name", "a b", "value",
                                       "x")),
               STORE_EINVAL);
  cr_assert_eq(command("kv", json_pack("{s:s,s:i}", "name", "a", "value", 1)),
               STORE_EINVAL);
  cr_assert_eq(store_kv_get(store, "a", &v, &n), STORE_ENOTFOUND);
  finish();
}
