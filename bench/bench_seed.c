/*
 * bench_seed.c: fill a ccm store with N tasks, for `bench/run daemon`
 * (bench/run_daemon.py measures `ccm serve` on the result).
 *
 *   bench_seed --dir DIR --tasks N
 *
 * Writes through store/ as the store actor would (durable transactions of
 * 1,000 upserts; a full map is grown and the batch replayed), so the
 * files are what a daemon that discovered N tasks leaves behind. Task i
 * is deterministic: a 40-hex-digit id, one of four repositories, six
 * kinds, the states a backlog holds (mostly triaged, some done or
 * skipped; none approved), a WSJF breakdown and its total, a path, a line and a text of
 * the lengths real TODO findings have.
 */
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define BATCH 1000

static const char *const repos[] = {"api", "web", "infra", "mobile"};
static const char *const kinds[] = {"todo", "fixme", "hack", "bug",
                                    "refactor", "xxx"};

static uint64_t splitmix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

typedef struct seed_task {
  char id[41], title[96], path[64], text[128];
  proto_task_t t;
} seed_task_t;

static proto_state_t state_of(uint64_t h)
{
  /* No task is ready (approved): the daemon measured must not start
   * runs on them. */
  unsigned r = (unsigned)(h % 10);
  return r < 8 ? PROTO_STATE_TRIAGED : r < 9 ? PROTO_STATE_DONE
                                             : PROTO_STATE_SKIPPED;
}

static void task_fill(seed_task_t *s, uint64_t i)
{
  uint64_t h = splitmix(i), g = splitmix(h);
  snprintf(s->id, sizeof s->id, "%016llx%016llx%08x", (unsigned long long)h,
           (unsigned long long)g, (unsigned)(splitmix(g) >> 32));
  const char *kind = kinds[h % 6];
  snprintf(s->path, sizeof s->path, "src/module%03u/file%04u.c",
           (unsigned)(g % 300), (unsigned)(i % 9973));
  snprintf(s->text, sizeof s->text,
           "handle the error returned by step %llu instead of ignoring it",
           (unsigned long long)i);
  snprintf(s->title, sizeof s->title, "%s: handle the error of step %llu",
           kind, (unsigned long long)i);
  double value = (double)(h % 10) + 1, size = (double)(g % 8) + 1;
  double crit = (double)((h >> 8) % 10) + 1, risk = (double)((g >> 8) % 10) + 1;
  int64_t seen = 1760000000000ll + (int64_t)(i * 1000);
  s->t = (proto_task_t){
      .id = s->id, .repo = (char *)repos[g % 4], .kind = (char *)kind,
      .title = s->title,
      .loc = {.path = s->path, .line = (uint32_t)(h % 3000) + 1,
              .column = (uint32_t)(g % 40) + 1},
      .text = s->text, .first_seen = seen, .last_seen = seen,
      .updated_at = seen, .state = state_of(h >> 16),
      .score = {.value = value, .time_criticality = crit,
                .risk_reduction = risk, .job_size = size,
                .total = (value + crit + risk) / size}};
}

/* Tasks [from, to) in one durable transaction. */
static int put_batch(store_t *st, uint64_t from, uint64_t to)
{
  store_txn_t *x;
  int rc = store_write_begin(st, &x);
  seed_task_t s;
  for (uint64_t i = from; !rc && i < to; i++) {
    task_fill(&s, i);
    rc = store_task_put(x, &s.t, "bench", "seed");
  }
  if (rc) {
    if (x)
      store_write_abort(x);
    return rc;
  }
  return store_write_commit(x);
}

int main(int argc, char **argv)
{
  const char *dir = NULL;
  uint64_t n = 100000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--dir"))
      dir = argv[i + 1];
    else if (!strcmp(argv[i], "--tasks"))
      n = strtoull(argv[i + 1], NULL, 10);
  }
  if (!dir) {
    fprintf(stderr, "usage: bench_seed --dir DIR [--tasks N]\n");
    return 2;
  }
  char err[512];
  store_t *st;
  int rc = store_open(dir, NULL, &st, err, sizeof err);
  if (rc) {
    fprintf(stderr, "bench_seed: %s\n", err);
    return 1;
  }
  for (uint64_t i = 0; !rc && i < n; i += BATCH) {
    uint64_t to = i + BATCH < n ? i + BATCH : n;
    rc = put_batch(st, i, to);
    if (rc == MDB_MAP_FULL && (rc = store_grow(st)) == 0)
      i -= BATCH; /* replay the batch in the larger map (wraps at 0, and
                     the loop's += brings it back) */
  }
  if (rc)
    fprintf(stderr, "bench_seed: %s\n", store_strerror(rc));
  else
    printf("SEEDED %llu\n", (unsigned long long)n);
  store_close(st);
  return rc ? 1 : 0;
}
