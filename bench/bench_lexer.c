/*
 * bench_lexer.c: throughput of the marker prefilter, scan_markers and
 * scan_lex_blank (scan/), on a source tree loaded into memory.
 *
 *   build/bench/bench_lexer [DIR] [--repeat N] [--only ROW]
 *
 * DIR defaults to the Linux kernel source when unpacked (Debian
 * linux-source-6.1: /usr/src/linux-source-6.1, or /tmp/linux/linux-source-6.1
 * after `tar xJf /usr/src/linux-source-6.1.tar.xz -C /tmp/linux`), else ".".
 * Files are those scan_lang_detect() knows, regular, at most 1 MiB, without
 * a NUL in their first 8 KiB (what `ccm scan` reads). Everything is read
 * into memory first, so the figures exclude I/O. Each figure is the best of
 * N runs (default 5) on one thread, in MB/s (10^6 bytes) of thread CPU
 * time (the machine is shared; waiting for a core counts for neither
 * side), printed beside a
 * peer measured in the same run on the same bytes: memchr counting newlines
 * (the memory-speed floor of any pass over the bytes), so the ratio says how
 * many such passes the step costs.
 *
 *   prefilter   scan_markers on the files without a candidate (it returns
 *               after the raw-byte search: the path most files take)
 *   markers/c   scan_markers on the C files that have a candidate
 *   markers/all scan_markers on every file (mixed, as `ccm scan` does)
 *   blank/c     scan_lex_blank on every C file
 *   blank/all   scan_lex_blank on every file
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "scan/lang.h"
#include "scan/lexer.h"
#include "scan/markers.h"

#define MAX_FILE (1u << 20)
#define BINARY_PROBE 8192

typedef struct file {
  char *data;
  size_t len;
  const struct scan_lang *lang;
  int maybe; /* the prefilter found a candidate */
} file_t;

static file_t *files;
static size_t nfiles, capfiles;
static size_t skipped_unknown;

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* This thread's CPU time: the machine is shared, and time spent waiting
 * for a core must not count against either side. */
static double cpu_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *read_file(const char *path, size_t size)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  char *buf = malloc(size ? size : 1);
  size_t got = 0;
  while (buf && got < size) {
    ssize_t n = read(fd, buf + got, size - got);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  if (buf && got != size) {
    free(buf);
    return NULL;
  }
  return buf;
}

static int on_path(const char *path, const struct stat *st, int type,
                   struct FTW *ftw)
{
  (void)ftw;
  if (type == FTW_D && strcmp(path + strlen(path) - 4, "/.git") == 0)
    return FTW_SKIP_SUBTREE;
  if (type != FTW_F || !S_ISREG(st->st_mode) || st->st_size > MAX_FILE)
    return FTW_CONTINUE;
  size_t size = (size_t)st->st_size;
  char *data = read_file(path, size);
  if (!data)
    return FTW_CONTINUE;
  size_t probe = size < BINARY_PROBE ? size : BINARY_PROBE;
  const struct scan_lang *lang = scan_lang_detect(path, data, probe);
  if (!lang || memchr(data, '\0', probe)) {
    skipped_unknown += lang == NULL;
    free(data);
    return FTW_CONTINUE;
  }
  if (nfiles == capfiles) {
    capfiles = capfiles ? capfiles * 2 : 4096;
    files = realloc(files, capfiles * sizeof *files);
    if (!files) {
      perror("realloc");
      exit(1);
    }
  }
  files[nfiles].data = data;
  files[nfiles].len = size;
  files[nfiles].lang = lang;
  files[nfiles].maybe = scan_markers_maybe(NULL, data, size) == 1;
  nfiles++;
  return FTW_CONTINUE;
}

enum set { SET_NO_CAND, SET_C_CAND, SET_ALL, SET_C };

static int in_set(const file_t *f, enum set s)
{
  int is_c = strcmp(f->lang->name, "c") == 0;
  switch (s) {
  case SET_NO_CAND: return !f->maybe;
  case SET_C_CAND: return is_c && f->maybe;
  case SET_ALL: return 1;
  case SET_C: return is_c;
  }
  return 0;
}

static volatile size_t sink;

static int count_marker(void *ud, const scan_marker_t *m)
{
  (void)m;
  (*(size_t *)ud)++;
  return 0;
}

enum op { OP_MARKERS, OP_BLANK, OP_NEWLINES };

/* One pass of op over the set; returns bytes processed. */
static size_t run_once(enum op op, enum set s, char *scratch, size_t *found)
{
  size_t bytes = 0;
  *found = 0;
  for (size_t i = 0; i < nfiles; i++) {
    const file_t *f = &files[i];
    if (!in_set(f, s))
      continue;
    bytes += f->len;
    if (op == OP_MARKERS) {
      scan_markers(NULL, f->lang, f->data, f->len, count_marker, found);
    } else if (op == OP_BLANK) {
      scan_lex_blank(f->lang, f->data, f->len, scratch);
      sink += (unsigned char)scratch[f->len / 2];
    } else {
      const char *p = f->data, *e = f->data + f->len;
      while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
        (*found)++;
        p++;
      }
    }
  }
  return bytes;
}

static double best_mbs(enum op op, enum set s, int repeat, char *scratch,
                       size_t *bytes, size_t *found)
{
  double best = 0;
  for (int r = 0; r < repeat; r++) {
    double t0 = cpu_now();
    *bytes = run_once(op, s, scratch, found);
    double dt = cpu_now() - t0;
    double mbs = dt > 0 ? (double)*bytes / dt / 1e6 : 0;
    if (mbs > best)
      best = mbs;
  }
  return best;
}

static const char *only_row;

static void row(const char *name, enum op op, enum set s, int repeat,
                char *scratch)
{
  if (only_row && strcmp(only_row, name) != 0)
    return;
  size_t bytes, found, nl;
  size_t count = 0;
  for (size_t i = 0; i < nfiles; i++)
    count += in_set(&files[i], s) != 0;
  double mbs = best_mbs(op, s, repeat, scratch, &bytes, &found);
  double peer = best_mbs(OP_NEWLINES, s, repeat, scratch, &bytes, &nl);
  printf("%-12s %7zu files %9.1f MB %9.0f MB/s   memchr %7.0f MB/s  "
         "ratio %5.2f",
         name, count, (double)bytes / 1e6, mbs, peer, peer > 0 ? mbs / peer : 0);
  if (op == OP_MARKERS)
    printf("  markers %zu", found);
  printf("\n");
}

static const char *default_dir(void)
{
  static const char *const dirs[] = {"/usr/src/linux-source-6.1",
                                     "/tmp/linux/linux-source-6.1"};
  struct stat st;
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    if (stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode))
      return dirs[i];
  }
  return ".";
}

int main(int argc, char **argv)
{
  const char *dir = NULL;
  int repeat = 5;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
      repeat = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 1;
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
      only_row = argv[++i];
    else if (argv[i][0] != '-')
      dir = argv[i];
    else {
      fprintf(stderr, "usage: bench_lexer [DIR] [--repeat N] [--only ROW]\n");
      return 2;
    }
  }
  if (!dir)
    dir = default_dir();
  double t0 = now();
  if (nftw(dir, on_path, 64, FTW_PHYS | FTW_ACTIONRETVAL) != 0) {
    perror(dir);
    return 1;
  }
  size_t maxlen = 0, total = 0, maybe = 0;
  for (size_t i = 0; i < nfiles; i++) {
    total += files[i].len;
    maybe += files[i].maybe != 0;
    if (files[i].len > maxlen)
      maxlen = files[i].len;
  }
  printf("%s: %zu files (%.1f MB) in %zu languages' syntax, %zu with a "
         "candidate, %zu of unknown language skipped; loaded in %.1f s\n",
         dir, nfiles, (double)total / 1e6, scan_lang_count(), maybe,
         skipped_unknown, now() - t0);
  char *scratch = malloc(maxlen ? maxlen : 1);
  row("prefilter", OP_MARKERS, SET_NO_CAND, repeat, scratch);
  row("markers/c", OP_MARKERS, SET_C_CAND, repeat, scratch);
  row("markers/all", OP_MARKERS, SET_ALL, repeat, scratch);
  row("blank/c", OP_BLANK, SET_C, repeat, scratch);
  row("blank/all", OP_BLANK, SET_ALL, repeat, scratch);
  free(scratch);
  for (size_t i = 0; i < nfiles; i++)
    free(files[i].data);
  free(files);
  return 0;
}
