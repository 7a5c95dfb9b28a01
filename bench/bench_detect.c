/*
 * bench_detect.c: throughput of scan_secrets, scan_functions and the
 * duplicate detector (scan/secrets.h, metrics.h, dupes.h) on a source tree
 * held in memory. Not a test.
 *
 *   build/bench/bench_detect [DIR...] [--repeat N] [--max-mb M]
 *
 * DIR defaults to the unpacked kernel source (/tmp/linux/linux-source-6.1,
 * see bench_lexer.c) when present, else ".". Files: regular, known to
 * scan_lang_detect, at most 1 MiB, no NUL in the first 8 KiB, .git skipped,
 * read until M MB are loaded (default 300). Blanked copies (scan_lex_blank)
 * are made before timing, so the functions and dupes rows time only those
 * steps. Each figure is the best of N runs (default 3) on one thread, in
 * MB/s (10^6 bytes) of thread CPU time (the machines these run on are
 * shared: wall time there measures the neighbours), beside a peer timed
 * in the same run on the same bytes:
 * memchr counting newlines, the floor of any pass over the bytes; the ratio
 * is peer time / step time (1.00 = as fast as one memchr pass).
 *
 *   secrets      scan_secrets on the raw bytes of every file
 *   functions    scan_functions on the blanked bytes of every file with a
 *                function family (brace, indent, keyword)
 *   functions/c  the same on the C files only
 *   dupes        scan_dupes_add of every file with a family, then finish
 *   dupes split  the same in the scanner's two steps, each timed: prepare
 *                (hashing, done by each shard on its own) and add_prepared
 *                (the append to the shared table, the only part under the
 *                lock), and finish (once, after the shards): the share of
 *                the duplicate work that holds the lock (it was all of
 *                prepare + add while scan_dupes_add ran under it)
 */
#include <fts.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "scan/dupes.h"
#include "scan/lang.h"
#include "scan/lexer.h"
#include "scan/metrics.h"
#include "scan/secrets.h"

#define FILE_CAP (1u << 20)
#define PROBE 8192
#define KERNEL_TREE "/tmp/linux/linux-source-6.1"

struct src {
  char *raw, *blank;
  size_t len;
  const struct scan_lang *lang;
};

static struct src *srcs;
static size_t nsrcs, srcs_cap, loaded, load_cap;

static double seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole file, or NULL. */
static char *slurp(const char *path, size_t len)
{
  FILE *f = fopen(path, "rb");
  char *buf = f ? malloc(len + 1) : NULL;
  if (buf && fread(buf, 1, len, f) != len) {
    free(buf);
    buf = NULL;
  }
  if (f)
    fclose(f);
  return buf;
}

static void keep(const char *path, size_t len)
{
  char *raw = slurp(path, len);
  size_t probe = len < PROBE ? len : PROBE;
  const struct scan_lang *lang = raw ? scan_lang_detect(path, raw, probe) : NULL;
  if (!lang || memchr(raw, 0, probe)) {
    free(raw);
    return;
  }
  if (nsrcs == srcs_cap) {
    srcs_cap = srcs_cap ? 2 * srcs_cap : 1024;
    srcs = realloc(srcs, srcs_cap * sizeof *srcs);
    if (!srcs)
      abort();
  }
  char *blank = malloc(len + 1);
  if (!blank)
    abort();
  scan_lex_blank(lang, raw, len, blank);
  srcs[nsrcs++] = (struct src){raw, blank, len, lang};
  loaded += len;
}

static void load_tree(char *dir)
{
  char *roots[] = {dir, NULL};
  FTS *fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR, NULL);
  FTSENT *e;
  while (fts && loaded < load_cap && (e = fts_read(fts))) {
    if (e->fts_info == FTS_D && strcmp(e->fts_name, ".git") == 0)
      fts_set(fts, e, FTS_SKIP);
    else if (e->fts_info == FTS_F && e->fts_statp->st_size <= FILE_CAP)
      keep(e->fts_path, (size_t)e->fts_statp->st_size);
  }
  if (fts)
    fts_close(fts);
}

/* ---- the steps ---- */

enum step { STEP_NEWLINES, STEP_SECRETS, STEP_FUNCTIONS, STEP_DUPES };

static bool wanted(const struct src *s, enum step st, bool c_only)
{
  if (c_only && strcmp(s->lang->name, "c") != 0)
    return false;
  return st == STEP_SECRETS || s->lang->family != SCAN_FAMILY_NONE;
}

static int count_one(void *ud, const void *item)
{
  (void)item;
  (*(size_t *)ud)++;
  return 0;
}

static int on_secret(void *ud, const scan_secret_t *s) { return count_one(ud, s); }
static int on_function(void *ud, const scan_function_t *f) { return count_one(ud, f); }
static int on_dup(void *ud, const scan_dup_t *d) { return count_one(ud, d); }

static size_t newlines(const char *p, size_t len)
{
  size_t n = 0;
  const char *e = p + len;
  while ((p = memchr(p, '\n', (size_t)(e - p)))) {
    n++;
    p++;
  }
  return n;
}

/* One pass of @p st; returns the bytes it read, *found what it found. */
static size_t pass(enum step st, enum step filter, bool c_only, size_t *found)
{
  size_t bytes = 0;
  scan_dupes_t *d = st == STEP_DUPES ? scan_dupes_new(NULL) : NULL;
  *found = 0;
  for (size_t i = 0; i < nsrcs; i++) {
    const struct src *s = &srcs[i];
    if (!wanted(s, filter, c_only))
      continue;
    bytes += s->len;
    if (st == STEP_NEWLINES)
      *found += newlines(s->raw, s->len);
    else if (st == STEP_SECRETS)
      scan_secrets("x", s->raw, s->len, NULL, on_secret, found);
    else if (st == STEP_FUNCTIONS)
      scan_functions(s->lang->family, s->blank, s->len, on_function, found);
    else
      scan_dupes_add(d, "x", s->blank, s->len);
  }
  if (d) {
    scan_dupes_finish(d, on_dup, found);
    scan_dupes_free(d);
  }
  return bytes;
}

static double best_rate(enum step st, enum step filter, bool c_only,
                        int repeat, size_t *bytes, size_t *found)
{
  double best = 0;
  for (int r = 0; r < repeat; r++) {
    double t0 = seconds();
    *bytes = pass(st, filter, c_only, found);
    double dt = seconds() - t0;
    if (dt > 0 && (double)*bytes / dt / 1e6 > best)
      best = (double)*bytes / dt / 1e6;
  }
  return best;
}

static void row(const char *name, enum step st, bool c_only, int repeat)
{
  size_t bytes = 0, found = 0, lines = 0;
  double mbs = best_rate(st, st, c_only, repeat, &bytes, &found);
  double peer = best_rate(STEP_NEWLINES, st, c_only, repeat, &bytes, &lines);
  printf("%-12s %8.1f MB %8.0f MB/s   memchr %6.0f MB/s   ratio %5.3f   "
         "found %zu\n",
         name, (double)bytes / 1e6, mbs, peer, peer > 0 ? mbs / peer : 0, found);
}

/* The scanner's split: prepare (no lock) then add_prepared (locked). */
static void dupes_split_row(void)
{
  scan_dupes_t *d = scan_dupes_new(NULL);
  scan_dupes_prep_t *p = scan_dupes_prep_new(NULL);
  double prep = 0, add = 0, t;
  size_t found = 0;
  for (size_t i = 0; d && p && i < nsrcs; i++) {
    const struct src *s = &srcs[i];
    if (!wanted(s, STEP_DUPES, false))
      continue;
    t = seconds();
    scan_dupes_prepare(p, s->blank, s->len);
    prep += seconds() - t;
    t = seconds();
    scan_dupes_add_prepared(d, "x", p);
    add += seconds() - t;
  }
  t = seconds();
  if (d)
    scan_dupes_finish(d, on_dup, &found);
  double fin = seconds() - t;
  printf("dupes split  prepare %.3f s (no lock), add %.3f s (locked), "
         "finish %.3f s; locked share of prepare+add: %.1f%% (was 100%%), "
         "found %zu\n", prep, add, fin,
         prep + add > 0 ? 100.0 * add / (prep + add) : 0, found);
  scan_dupes_prep_free(p);
  scan_dupes_free(d);
}

int main(int argc, char **argv)
{
  int repeat = 3;
  char *dirs[16];
  int ndirs = 0;
  load_cap = 300 * (size_t)1000000;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
      repeat = (int)strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--max-mb") == 0 && i + 1 < argc)
      load_cap = (size_t)strtoul(argv[++i], NULL, 10) * 1000000;
    else if (ndirs < 16)
      dirs[ndirs++] = argv[i];
  }
  struct stat st;
  if (ndirs == 0)
    dirs[ndirs++] = stat(KERNEL_TREE, &st) == 0 ? KERNEL_TREE : ".";
  for (int i = 0; i < ndirs; i++)
    load_tree(dirs[i]);
  printf("%zu files, %.1f MB in memory (from %s%s), best of %d\n", nsrcs,
         (double)loaded / 1e6, dirs[0], ndirs > 1 ? ", ..." : "", repeat);
  row("secrets", STEP_SECRETS, false, repeat);
  row("functions", STEP_FUNCTIONS, false, repeat);
  row("functions/c", STEP_FUNCTIONS, true, repeat);
  row("dupes", STEP_DUPES, false, repeat);
  dupes_split_row();
  for (size_t i = 0; i < nsrcs; i++) {
    free(srcs[i].raw);
    free(srcs[i].blank);
  }
  free(srcs);
  return 0;
}
