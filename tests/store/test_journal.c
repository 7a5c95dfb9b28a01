/*
 * test_journal.c: the write-ahead journal (store/store_journal.c) keeps
 * every acknowledged write through a system crash, not only a kill -9.
 *
 * The power-loss model: after a checkpoint, LMDB's file is on disk as the
 * checkpoint left it; every page written since (LMDB runs without syncs:
 * data pages, the meta pages 0 and 1, pages past the old end) may have
 * reached the disk, not reached it, or be torn (garbage), each on its
 * own, and the file may have lost its new tail. The journal's records
 * were flushed before each acknowledgement. A trial runs a random mix of
 * single commits (new tasks, updated tasks, kv puts and deletes, events
 * with a short retention so old ones are deleted, now and then a
 * transaction too big for the journal), keeping a model of what was
 * acknowledged; a checkpoint hook copies LMDB's file at every checkpoint.
 * Then a crash image is built from that copy and the file as the page
 * cache holds it, page by page at random, next to the journal, and opened
 * as after a reboot (another boot id): every acknowledged write must be
 * there, the indexes must match the records (tst_raw_check), and the
 * store must take new writes. Without the pinned snapshot or the restored
 * meta pages the trials fail (meta pages pointing at garbage, or pages of
 * the checkpoint rewritten).
 *
 * CCM_TEST_SEED fixes the random choices (the seed is printed).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/store_test.h"

TestSuite(journal, .timeout = 600);

#define TRIALS 20
#define MAX_TASKS 2000
#define MAX_KV 8
#define BIG_TXN 700 /* tasks: a record over the 256 KiB set in options() */

/* ---------------------------------------------------------------- files */

typedef struct blob {
  unsigned char *p;
  size_t n;
} blob_t;

static blob_t read_file(const char *path)
{
  blob_t b = {0};
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  b.p = malloc(n > 0 ? (size_t)n : 1);
  cr_assert_not_null(b.p);
  b.n = fread(b.p, 1, (size_t)n, f);
  cr_assert_eq(b.n, (size_t)n);
  fclose(f);
  return b;
}

static void write_file(const char *path, const void *p, size_t n)
{
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f, "create %s", path);
  cr_assert_eq(fwrite(p, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
}

static char *path_in(const char *dir, const char *name)
{
  char *p = malloc(strlen(dir) + strlen(name) + 2);
  cr_assert_not_null(p);
  sprintf(p, "%s/%s", dir, name);
  return p;
}

static blob_t read_in(const char *dir, const char *name)
{
  char *p = path_in(dir, name);
  blob_t b = read_file(p);
  free(p);
  return b;
}

static void write_in(const char *dir, const char *name, const blob_t *b)
{
  char *p = path_in(dir, name);
  write_file(p, b->p, b->n);
  free(p);
}

/* --------------------------------------------------------------- model */

typedef struct model {
  int ntasks;
  int version[MAX_TASKS]; /* title "title <i> v<version>" */
  int kv[MAX_KV];         /* -1: absent, else the value written */
  blob_t checkpoint;      /* LMDB's file at the last checkpoint */
  char dir[512];
  unsigned seed;
} model_t;

static void on_checkpoint(void *arg)
{
  model_t *m = arg;
  free(m->checkpoint.p);
  m->checkpoint = read_in(m->dir, "ccm.lmdb");
}

static void task_id(char *buf, size_t n, int i)
{
  snprintf(buf, n, "journal-task-%05d", i);
}

static void put_task(store_txn_t *t, int i, int version)
{
  char id[64], title[64];
  proto_task_t task;
  task_id(id, sizeof(id), i);
  tst_task_init(&task, id, "repo", "todo", PROTO_STATE_NEW,
                (double)(version % 7) + i * 0.001);
  free(task.title);
  snprintf(title, sizeof(title), "title %d v%d", i, version);
  task.title = strdup(title);
  TST_SOK(store_task_put(t, &task, "test", "journal"));
  store_task_free(&task);
}

static store_options_t options(model_t *m, const char *boot, unsigned every)
{
  return (store_options_t){.boot_id = boot,
                           .journal_every = every,
                           .journal_big = 256u << 10,
                           .event_retention = 20,
                           .checkpoint_hook = on_checkpoint,
                           .checkpoint_hook_arg = m};
}

/* One acknowledged commit of a random kind; the model follows it. */
static void random_commit(store_t *s, model_t *m, bool allow_big)
{
  store_txn_t *t;
  TST_SOK(store_write_begin(s, &t));
  unsigned r = (unsigned)rand_r(&m->seed) % 100;
  if (r < 45 || m->ntasks == 0) {
    put_task(t, m->ntasks, 0);
    TST_SOK(store_write_commit(t));
    m->version[m->ntasks++] = 0;
  } else if (r < 75) {
    int i = rand_r(&m->seed) % m->ntasks;
    put_task(t, i, m->version[i] + 1);
    TST_SOK(store_write_commit(t));
    m->version[i]++;
  } else if (r < 88) {
    int k = rand_r(&m->seed) % MAX_KV, v = rand_r(&m->seed) % 1000;
    char name[16], val[16];
    snprintf(name, sizeof(name), "k%d", k);
    snprintf(val, sizeof(val), "%d", v);
    bool del = v % 3 == 0;
    int rc = del ? store_kv_delete(t, name)
                 : store_kv_put(t, name, val, strlen(val));
    TST_SOK(rc);
    TST_SOK(store_write_commit(t));
    m->kv[k] = del ? -1 : v;
  } else if (r < 98 || !allow_big || m->ntasks + BIG_TXN > MAX_TASKS) {
    TST_SOK(store_event_append(t, "journal.test", NULL, 1700000000000, NULL));
    TST_SOK(store_write_commit(t));
  } else {
    for (int i = 0; i < BIG_TXN; i++)
      put_task(t, m->ntasks + i, 0);
    TST_SOK(store_write_commit(t));
    for (int i = 0; i < BIG_TXN; i++)
      m->version[m->ntasks++] = 0;
  }
}

/* Everything the model says was acknowledged is in the store. */
static void check_model(store_t *s, const model_t *m)
{
  for (int i = 0; i < m->ntasks; i++) {
    char id[64], title[64];
    proto_task_t task;
    task_id(id, sizeof(id), i);
    snprintf(title, sizeof(title), "title %d v%d", i, m->version[i]);
    int rc = store_task_get(s, id, &task);
    cr_assert_eq(rc, 0, "acknowledged task %s lost (%s; seed %u)", id,
                 store_strerror(rc), m->seed);
    cr_assert_str_eq(task.title, title, "task %s has an old version", id);
    store_task_free(&task);
  }
  for (int k = 0; k < MAX_KV; k++) {
    char name[16];
    void *v = NULL;
    size_t len = 0;
    snprintf(name, sizeof(name), "k%d", k);
    int rc = store_kv_get(s, name, &v, &len);
    if (m->kv[k] < 0) {
      cr_assert_eq(rc, STORE_ENOTFOUND, "kv %s should be deleted", name);
    } else {
      char want[16];
      snprintf(want, sizeof(want), "%d", m->kv[k]);
      cr_assert_eq(rc, 0, "kv %s lost", name);
      cr_assert(len == strlen(want) && !memcmp(v, want, len),
                "kv %s has an old value", name);
    }
    free(v);
  }
}

/* ----------------------------------------------------------- crash image */

/* LMDB's file after a power loss: pages equal to the checkpoint's stay;
 * every other one is new, old (zeros past the old end) or garbage. */
static blob_t crash_image(const blob_t *ck, const blob_t *now, unsigned *seed)
{
  size_t ps = (size_t)sysconf(_SC_PAGESIZE);
  bool cut = now->n > ck->n && rand_r(seed) % 4 == 0;
  blob_t out = {.n = cut ? ck->n : (now->n > ck->n ? now->n : ck->n)};
  out.p = calloc(1, out.n);
  cr_assert_not_null(out.p);
  for (size_t off = 0; off < out.n; off += ps) {
    size_t n = out.n - off < ps ? out.n - off : ps;
    bool in_ck = off + n <= ck->n, in_now = off + n <= now->n;
    if (in_ck && in_now && !memcmp(ck->p + off, now->p + off, n)) {
      memcpy(out.p + off, ck->p + off, n);
      continue;
    }
    switch (rand_r(seed) % 3) {
    case 0: /* the new page reached the disk */
      if (in_now)
        memcpy(out.p + off, now->p + off, n);
      break;
    case 1: /* it did not */
      if (in_ck)
        memcpy(out.p + off, ck->p + off, n);
      break;
    default: /* torn */
      for (size_t i = 0; i < n; i++)
        out.p[off + i] = (unsigned char)rand_r(seed);
    }
  }
  return out;
}

/* The store in @p m->dir as it would be found after a power loss, in a
 * new directory (the caller frees it). */
static char *crash_dir(model_t *m)
{
  blob_t now = read_in(m->dir, "ccm.lmdb");
  blob_t journal = read_in(m->dir, "ccm.journal");
  blob_t img = crash_image(&m->checkpoint, &now, &m->seed);
  char *dir = tst_tmpdir();
  write_in(dir, "ccm.lmdb", &img);
  write_in(dir, "ccm.journal", &journal);
  free(now.p);
  free(journal.p);
  free(img.p);
  return dir;
}

static store_t *open_or_fail(const char *dir, const store_options_t *o)
{
  store_t *s = NULL;
  char err[512] = "";
  int rc = store_open(dir, o, &s, err, sizeof(err));
  cr_assert_eq(rc, 0, "open %s: %s (%s)", dir, store_strerror(rc), err);
  return s;
}

static unsigned test_seed(void)
{
  const char *e = getenv("CCM_TEST_SEED");
  unsigned seed = e ? (unsigned)strtoul(e, NULL, 10) : (unsigned)time(NULL);
  cr_log_info("CCM_TEST_SEED=%u", seed);
  return seed;
}

static model_t *model_new(unsigned seed)
{
  model_t *m = calloc(1, sizeof(*m));
  cr_assert_not_null(m);
  char *dir = tst_tmpdir();
  snprintf(m->dir, sizeof(m->dir), "%s", dir);
  free(dir);
  for (int k = 0; k < MAX_KV; k++)
    m->kv[k] = -1;
  m->seed = seed;
  return m;
}

static void model_free(model_t *m)
{
  tst_rmrf(m->dir);
  free(m->checkpoint.p);
  free(m);
}

/* Open the store of @p m and make @p commits random acknowledged commits. */
static store_t *model_run(model_t *m, const char *boot, unsigned every,
                          int commits, bool allow_big)
{
  store_options_t o = options(m, boot, every);
  store_t *s = open_or_fail(m->dir, &o);
  for (int i = 0; i < commits; i++)
    random_commit(s, m, allow_big);
  return s;
}

/* Close a recovered store and check its indexes with plain LMDB. */
static void close_and_check(store_t *r, const char *dir)
{
  store_close(r);
  tst_raw_check(dir, NULL);
}

/* End a test: close the writer, remove the crash copy and the model. */
static void finish(store_t *writer, char *dir, model_t *m)
{
  store_close(writer);
  tst_rmrf(dir);
  free(dir);
  model_free(m);
}

/* Recover @p dir as after a reboot and check it against @p m. */
static void recover_and_check(const char *dir, model_t *m)
{
  store_options_t o = {.boot_id = "boot-after-the-crash"};
  store_t *s = open_or_fail(dir, &o);
  store_recovery_t r = store_recovery(s);
  cr_assert(r.unclean && r.restored && !r.dropped_foreign,
            "a crashed store is recovered from its checkpoint (seed %u)",
            m->seed);
  check_model(s, m);
  store_txn_t *t; /* and it takes new writes */
  TST_SOK(store_write_begin(s, &t));
  put_task(t, MAX_TASKS + 1, 0);
  TST_SOK(store_write_commit(t));
  store_close(s);
  tst_raw_report_t rep;
  tst_raw_check(dir, &rep);
  cr_assert_eq(rep.tasks, (size_t)m->ntasks + 1);
}

/* ---------------------------------------------------------------- tests */

Test(journal, a_system_crash_loses_no_acknowledged_write)
{
  unsigned seed = test_seed();
  for (int trial = 0; trial < TRIALS; trial++) {
    model_t *m = model_new(seed + (unsigned)trial * 7919u);
    unsigned every = 1 + (unsigned)rand_r(&m->seed) % 40;
    int commits = 20 + rand_r(&m->seed) % 100;
    store_t *s = model_run(m, "boot-before-the-crash", every, commits, true);
    char *dir = crash_dir(m);
    recover_and_check(dir, m);
    finish(s, dir, m);
  }
}

/* Single commits only, never a checkpoint by count: the journal fills
 * (a 4 KiB-aligned record each), checkpoints, doubles, and a system crash
 * after that still loses nothing. */
Test(journal, a_full_journal_checkpoints_grows_and_loses_nothing)
{
  model_t *m = model_new(test_seed());
  store_t *s = model_run(m, "boot-before-the-crash", 100000, 600, false);
  char *jpath = path_in(m->dir, "ccm.journal");
  struct stat st;
  cr_assert_eq(stat(jpath, &st), 0);
  cr_assert_gt(st.st_size, 1 << 20, "it grew past its first MiB");
  cr_assert_leq(st.st_size, 8 << 20);
  free(jpath);
  char *dir = crash_dir(m);
  recover_and_check(dir, m);
  finish(s, dir, m);
}

Test(journal, after_a_process_crash_the_store_is_read_as_it_is)
{
  model_t *m = model_new(test_seed());
  store_t *s = model_run(m, "one-boot", 1000, 60, false);
  /* kill -9: the page cache keeps everything; copy the files as they are */
  blob_t now = read_in(m->dir, "ccm.lmdb"), j = read_in(m->dir, "ccm.journal");
  char *dir = tst_tmpdir();
  write_in(dir, "ccm.lmdb", &now);
  write_in(dir, "ccm.journal", &j);
  store_options_t same = {.boot_id = "one-boot"};
  store_t *r = open_or_fail(dir, &same);
  store_recovery_t rec = store_recovery(r);
  cr_assert(rec.unclean && !rec.restored && rec.replayed == 0);
  check_model(r, m);
  close_and_check(r, dir);
  free(now.p);
  free(j.p);
  finish(s, dir, m);
}

Test(journal, a_torn_record_and_what_follows_are_not_applied)
{
  model_t *m = model_new(test_seed());
  store_t *s = model_run(m, "boot-before-the-crash", 1000, 40, false);
  model_t before = *m; /* what was acknowledged before the last write */
  before.checkpoint = (blob_t){0};
  blob_t j0 = read_in(m->dir, "ccm.journal");
  store_txn_t *t;
  TST_SOK(store_write_begin(s, &t));
  put_task(t, m->ntasks, 0);
  TST_SOK(store_write_commit(t));
  m->version[m->ntasks++] = 0;
  blob_t j1 = read_in(m->dir, "ccm.journal");
  size_t last = j1.n;
  for (size_t i = 0; i < j1.n; i++)
    if (j0.p[i] != j1.p[i])
      last = i; /* the last byte the last record changed */
  cr_assert_lt(last, j1.n, "the last write was journaled");
  char *dir = crash_dir(m);
  j1.p[last] ^= 0x5a; /* its flush never completed: torn */
  write_in(dir, "ccm.journal", &j1);
  store_options_t after = {.boot_id = "boot-after-the-crash"};
  store_t *r = open_or_fail(dir, &after);
  check_model(r, &before);
  char id[64];
  proto_task_t task;
  task_id(id, sizeof(id), before.ntasks);
  TST_SRC(store_task_get(r, id, &task), STORE_ENOTFOUND);
  cr_assert_gt(store_recovery(r).replayed, 0u);
  close_and_check(r, dir);
  free(j0.p);
  free(j1.p);
  finish(s, dir, m);
}

Test(journal, read_only_opens_refuse_a_store_a_system_crash_left)
{
  model_t *m = model_new(test_seed());
  store_t *s = model_run(m, "boot-before-the-crash", 1000, 10, false);
  char *dir = crash_dir(m);
  store_t *r = NULL;
  char err[512] = "";
  store_options_t ro = {.read_only = true, .boot_id = "boot-after-the-crash"};
  TST_SRC(store_open(dir, &ro, &r, err, sizeof(err)), STORE_ERECOVER);
  cr_assert_null(r);
  cr_assert(strstr(err, "read-write") && strstr(err, "recover"),
            "the error says what to do: %s", err);
  store_options_t same_boot = {.read_only = true,
                               .boot_id = "boot-before-the-crash"};
  r = open_or_fail(m->dir, &same_boot); /* beside the running writer */
  check_model(r, m);
  store_close(r);
  recover_and_check(dir, m); /* a read-write open recovers it... */
  r = open_or_fail(dir, &ro); /* ...and then readers are welcome */
  check_model(r, m);
  store_close(r);
  finish(s, dir, m);
}

/* A journal that is not one (garbage, a truncated file) is not read: the
 * store, closed cleanly before, opens with everything and journals anew. */
Test(journal, a_garbage_journal_is_ignored_and_replaced)
{
  model_t *m = model_new(test_seed());
  store_t *s = model_run(m, "one-boot", 1000, 30, false);
  store_close(s);
  blob_t junk = {.n = 3 * 4096 + 17};
  junk.p = malloc(junk.n);
  cr_assert_not_null(junk.p);
  for (size_t i = 0; i < junk.n; i++)
    junk.p[i] = (unsigned char)rand_r(&m->seed);
  write_in(m->dir, "ccm.journal", &junk);
  store_options_t other_boot = {.boot_id = "another-boot"};
  s = open_or_fail(m->dir, &other_boot);
  store_recovery_t rec = store_recovery(s);
  cr_assert(!rec.unclean && !rec.restored && rec.replayed == 0);
  check_model(s, m);
  random_commit(s, m, false); /* and it journals again */
  check_model(s, m);
  store_close(s);
  tst_raw_check(m->dir, NULL);
  free(junk.p);
  model_free(m);
}

Test(journal, a_second_writer_is_refused)
{
  char *dir = tst_tmpdir();
  store_t *a = open_or_fail(dir, NULL), *b = NULL;
  char err[512] = "";
  TST_SRC(store_open(dir, NULL, &b, err, sizeof(err)), STORE_EBUSY);
  cr_assert_null(b);
  cr_assert(strstr(err, "another process"), "says why: %s", err);
  char holder[32];
  snprintf(holder, sizeof(holder), "pid %ld", (long)getpid());
  cr_assert(strstr(err, holder), "names the holder: %s", err);
  store_options_t ro = {.read_only = true};
  store_t *r = open_or_fail(dir, &ro);
  store_close(r);
  store_close(a);
  b = open_or_fail(dir, NULL); /* closed: free to take */
  store_close(b);
  tst_rmrf(dir);
  free(dir);
}

Test(journal, a_journal_beside_another_store_is_not_used)
{
  model_t *m = model_new(test_seed());
  store_t *s = model_run(m, "boot-before-the-crash", 1000, 20, false);
  blob_t crashed_journal = read_in(m->dir, "ccm.journal");
  char *other = tst_tmpdir(); /* another store, closed cleanly */
  store_t *b = open_or_fail(other, NULL);
  store_txn_t *t;
  TST_SOK(store_write_begin(b, &t));
  put_task(t, 7, 3);
  TST_SOK(store_write_commit(t));
  store_close(b);
  write_in(other, "ccm.journal", &crashed_journal);
  store_options_t after = {.boot_id = "boot-after-the-crash"};
  b = open_or_fail(other, &after);
  cr_assert(store_recovery(b).dropped_foreign);
  proto_task_t task;
  TST_SOK(store_task_get(b, "journal-task-00007", &task));
  cr_assert_str_eq(task.title, "title 7 v3");
  store_task_free(&task);
  store_close(b);
  tst_raw_report_t rep;
  tst_raw_check(other, &rep);
  cr_assert_eq(rep.tasks, 1u, "none of the other store's tasks came in");
  free(crashed_journal.p);
  finish(s, other, m);
}
