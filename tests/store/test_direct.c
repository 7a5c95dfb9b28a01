/*
 * test_direct.c: direct reads (store/store_task.c "direct reads"): a task
 * read before is read again in place, straight from the map, only while
 * that place is sure to hold the task as last committed.
 *
 * store__task_get_direct() runs only the in-place path, so each test can
 * say when a place must be trusted and when it must not: a rewritten
 * task, a moved journal pin, a grown map, and stores without a journal.
 * The last test runs reader threads beside a writer that rewrites tasks,
 * moves the pin every few commits and grows the map: no read, in place or
 * not, may return a task older than one already acknowledged, and reads
 * in place must have happened (or the test would prove nothing).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "tests/support/store_test.h"

TestSuite(direct, .timeout = 300);

static char *g_dir;

static void setup(void) { g_dir = tst_tmpdir(); }

static void teardown(void)
{
  tst_rmrf(g_dir);
  free(g_dir);
}

static void id_of(int i, char *buf, size_t n)
{
  snprintf(buf, n, "%040x", 0xd1ec7u + (unsigned)i);
}

/* Task @p i as version @p version (its title says which). */
static void put_version(store_t *s, int i, int version)
{
  char id[48], title[64];
  id_of(i, id, sizeof(id));
  proto_task_t t;
  tst_task_init(&t, id, "acme", "todo", PROTO_STATE_NEW, 1.0);
  snprintf(title, sizeof(title), "version %d", version);
  free(t.title);
  t.title = strdup(title);
  cr_assert_not_null(t.title);
  tst_put(s, &t);
  store_task_free(&t);
}

/* The version in a task's title, or -1. */
static int version_of(const proto_task_t *t)
{
  int v = -1;
  return t->title && sscanf(t->title, "version %d", &v) == 1 ? v : -1;
}

/* Task @p i read in place: its version, or -1 when it was not. */
static int direct_version(store_t *s, int i)
{
  char id[48];
  id_of(i, id, sizeof(id));
  proto_task_t t;
  int rc = store__task_get_direct(s, id, &t);
  if (rc) {
    cr_assert_eq(rc, STORE_ENOTFOUND);
    cr_assert_null(t.id, "a read not done leaves *out zeroed");
    return -1;
  }
  cr_assert_str_eq(t.id, id);
  int v = version_of(&t);
  store_task_free(&t);
  return v;
}

/* Task @p i read as any caller reads it: its version. */
static int read_version(store_t *s, int i)
{
  char id[48];
  id_of(i, id, sizeof(id));
  proto_task_t t;
  TST_SOK(store_task_get(s, id, &t));
  int v = version_of(&t);
  store_task_free(&t);
  return v;
}

static store_t *open_journaled(unsigned every)
{
  store_options_t o = {.journal_every = every};
  return tst_store_open(g_dir, &o);
}

Test(direct, a_task_read_before_is_read_in_place, .init = setup,
     .fini = teardown)
{
  store_t *s = open_journaled(0);
  for (int i = 0; i < 50; i++)
    put_version(s, i, 1);
  for (int i = 0; i < 50; i++)
    cr_assert_eq(direct_version(s, i), -1, "never read: no place known");
  for (int i = 0; i < 50; i++)
    cr_assert_eq(read_version(s, i), 1);
  for (int i = 0; i < 50; i++)
    cr_assert_eq(direct_version(s, i), 1, "task %d", i);
  char id[48];
  id_of(50, id, sizeof(id));
  proto_task_t t;
  cr_assert_eq(store_task_get(s, id, &t), STORE_ENOTFOUND);
  store_close(s);
}

/* A fingerprint-like id for task @p i: 40 hex digits that look random. */
static void random_id_of(int i, char *buf, size_t n)
{
  uint64_t w[3];
  for (int k = 0; k < 3; k++) { /* splitmix64 */
    uint64_t z = (uint64_t)i * 3 + (uint64_t)k + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    w[k] = z ^ (z >> 31);
  }
  snprintf(buf, n, "%016llx%016llx%08x", (unsigned long long)w[0],
           (unsigned long long)w[1], (unsigned)w[2]);
}

/* Ids share hint buckets (65,536 slots, two a bucket): with 3,000 tasks
 * of random ids a few dozen pairs share one, and both of a pair stay
 * readable in place (one slot a bucket would leave ~2% of the tasks
 * unhinted). */
Test(direct, tasks_that_share_a_hint_bucket_are_both_read_in_place,
     .init = setup, .fini = teardown)
{
  store_t *s = open_journaled(0);
  store_txn_t *x = NULL;
  TST_SOK(store_write_begin(s, &x));
  for (int i = 0; i < 3000; i++) {
    char id[48];
    random_id_of(i, id, sizeof(id));
    proto_task_t t;
    tst_task_init(&t, id, "acme", "todo", PROTO_STATE_NEW, 1.0);
    TST_SOK(store_task_put(x, &t, "test", "put"));
    store_task_free(&t);
  }
  TST_SOK(store_write_commit(x));
  for (int i = 0; i < 3000; i++) {
    char id[48];
    random_id_of(i, id, sizeof(id));
    proto_task_t t;
    TST_SOK(store_task_get(s, id, &t));
    store_task_free(&t);
  }
  int in_place = 0;
  for (int i = 0; i < 3000; i++) {
    char id[48];
    random_id_of(i, id, sizeof(id));
    proto_task_t t;
    if (store__task_get_direct(s, id, &t) == 0) {
      cr_assert_str_eq(t.id, id);
      in_place++;
      store_task_free(&t);
    }
  }
  cr_assert_geq(in_place, 2995, "%d of 3000 read in place", in_place);
  store_close(s);
}

Test(direct, a_rewritten_task_is_not_read_from_its_old_place, .init = setup,
     .fini = teardown)
{
  store_t *s = open_journaled(0);
  for (int i = 0; i < 20; i++)
    put_version(s, i, 1);
  for (int i = 0; i < 20; i++)
    read_version(s, i);
  put_version(s, 3, 2);
  cr_assert_eq(direct_version(s, 3), -1, "rewritten since it was read");
  cr_assert_eq(read_version(s, 3), 2);
  cr_assert_eq(direct_version(s, 3), 2);

  /* A neighbour's rewrite copies task 4's leaf elsewhere; the old copy
   * stays until the pin moves, and still holds task 4 as it is. */
  put_version(s, 5, 2);
  cr_assert_eq(direct_version(s, 4), 1);
  cr_assert_eq(read_version(s, 5), 2);
  store_close(s);
}

Test(direct, a_moved_pin_voids_every_place, .init = setup, .fini = teardown)
{
  store_t *s = open_journaled(4);
  for (int i = 0; i < 4; i++)
    put_version(s, i, 1); /* the 4th commit checkpoints */
  read_version(s, 0);
  cr_assert_eq(direct_version(s, 0), 1);
  for (int c = 0; c < 4; c++)
    put_version(s, 1, 2 + c); /* not task 0; the 4th moves the pin */
  cr_assert_eq(direct_version(s, 0), -1, "seen before the pin moved");
  cr_assert_eq(read_version(s, 0), 1);
  cr_assert_eq(direct_version(s, 0), 1);
  store_close(s);
}

Test(direct, a_grown_map_voids_every_place, .init = setup, .fini = teardown)
{
  store_t *s = open_journaled(0);
  put_version(s, 0, 1);
  read_version(s, 0);
  cr_assert_eq(direct_version(s, 0), 1);
  TST_SOK(store_grow(s));
  cr_assert_eq(direct_version(s, 0), -1, "the map moved");
  cr_assert_eq(read_version(s, 0), 1);
  cr_assert_eq(direct_version(s, 0), 1);
  store_close(s);
}

/* Stores with no journal have no pin, and a read-only store is written
 * by another process: no place is ever trusted there. */
Test(direct, stores_without_a_journal_never_read_in_place, .init = setup,
     .fini = teardown)
{
  const store_options_t opts[] = {
      {.no_journal = true}, {.no_sync = true}, {.read_only = true}};
  store_t *w = open_journaled(0);
  put_version(w, 0, 1);
  store_close(w);
  for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
    store_t *s = tst_store_open(g_dir, &opts[k]);
    cr_assert_eq(read_version(s, 0), 1);
    cr_assert_eq(read_version(s, 0), 1);
    cr_assert_eq(direct_version(s, 0), -1, "options %zu", k);
    store_close(s);
  }
}

/* ------------------------------------------------ readers beside a writer */

#define TASKS 48
#define COMMITS 600
#define READERS 3

typedef struct shared {
  store_t *s;
  _Atomic int acked[TASKS]; /* the version last acknowledged, per task */
  atomic_bool done;
  atomic_long stale, failed, direct, reads;
} shared_t;

/* One read of task @p i, in place or not: never older than what was
 * acknowledged before it began. */
static void check_read(shared_t *sh, int i, bool in_place)
{
  char id[48];
  id_of(i, id, sizeof(id));
  int floor = atomic_load_explicit(&sh->acked[i], memory_order_acquire);
  proto_task_t t;
  int rc = in_place ? store__task_get_direct(sh->s, id, &t)
                    : store_task_get(sh->s, id, &t);
  if (rc == STORE_ENOTFOUND && in_place)
    return;
  if (rc || strcmp(t.id, id) != 0) {
    atomic_fetch_add(&sh->failed, 1);
  } else if (version_of(&t) < floor) {
    atomic_fetch_add(&sh->stale, 1);
  }
  if (in_place && !rc)
    atomic_fetch_add(&sh->direct, 1);
  atomic_fetch_add(&sh->reads, 1);
  if (!rc)
    store_task_free(&t);
}

static void *reader(void *p)
{
  shared_t *sh = p;
  unsigned x = 2463534242u + (unsigned)atomic_load(&sh->reads);
  while (!atomic_load(&sh->done)) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    int i = (int)(x % TASKS);
    check_read(sh, i, false);
    check_read(sh, i, true);
  }
  return NULL;
}

Test(direct, readers_never_see_a_task_older_than_acknowledged, .init = setup,
     .fini = teardown)
{
  store_options_t o = {.journal_every = 5, .map_size = 8u << 20};
  shared_t *sh = calloc(1, sizeof(*sh));
  cr_assert_not_null(sh);
  sh->s = tst_store_open(g_dir, &o);
  for (int i = 0; i < TASKS; i++) {
    put_version(sh->s, i, 0);
    atomic_store(&sh->acked[i], 0);
  }
  pthread_t th[READERS];
  for (int r = 0; r < READERS; r++)
    cr_assert_eq(pthread_create(&th[r], NULL, reader, sh), 0);
  int version[TASKS] = {0};
  for (int c = 0; c < COMMITS; c++) {
    int i = (c * 7) % TASKS;
    put_version(sh->s, i, ++version[i]);
    atomic_store_explicit(&sh->acked[i], version[i], memory_order_release);
    if (c % 200 == 199)
      TST_SOK(store_grow(sh->s));
  }
  atomic_store(&sh->done, true);
  for (int r = 0; r < READERS; r++)
    pthread_join(th[r], NULL);
  cr_assert_eq(atomic_load(&sh->failed), 0, "reads that failed");
  cr_assert_eq(atomic_load(&sh->stale), 0, "reads older than acknowledged");
  cr_assert_gt(atomic_load(&sh->direct), 0, "no read was done in place");
  for (int i = 0; i < TASKS; i++)
    cr_assert_eq(read_version(sh->s, i), version[i]);
  store_close(sh->s);
  free(sh);
}
