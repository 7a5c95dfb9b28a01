/*
 * fuzz_secrets.c: libFuzzer target for scan/secrets.c, the refactoring
 * metrics (scan/metrics*.c) and the duplicate detector (scan/dupes.c).
 *
 * Input: first byte picks the path given to scan_secrets (source code, a
 * config file, a lockfile, none), the rest is a file's bytes in a buffer of
 * exactly that size. Checked:
 *   - secrets: every finding has a listed rule, a position inside the
 *     buffer (line and column recounted), a preview of at most 4 characters
 *     then "****", an entropy in [0, 8]; the count returned is the count
 *     reported; the bytes parsed as an allowlist load or fail with a
 *     message, and scanning with a loaded one reports no more findings;
 *   - metrics (the bytes taken as an already blanked buffer, each family):
 *     1 <= line <= end_line <= the buffer's lines, lines = end - line + 1,
 *     complexity >= 1, a name points inside the buffer;
 *   - dupes: the two halves as two files (min_lines 2, a 16-window table so
 *     sampling kicks in): every group has >= 2 places, each inside its
 *     file's lines with start <= end.
 * Build (as fuzz/run.sh builds the others):
 *   clang-14 -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 *     -fno-sanitize-recover=all -I. scan/secrets.c scan/metrics.c
 *     scan/metrics_brace.c scan/metrics_indent.c scan/metrics_keyword.c
 *     scan/dupes.c fuzz/fuzz_secrets.c -o build-fuzz/fuzz_secrets
 *     -lcrypto -lm -lpthread
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_check.h"
#include "scan/dupes.h"
#include "scan/metrics.h"
#include "scan/secrets.h"

#define CHECK FUZZ_CHECK

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
  const char *buf;
  size_t len;
  uint32_t lines;
  int count;
};

/* Is line:col (1-based) a byte of the buffer? */
static int inside(const struct ctx *c, uint32_t line, uint32_t col)
{
  uint32_t l = 1;
  size_t i = 0;
  for (; i < c->len && l < line; i++)
    l += c->buf[i] == '\n';
  return l == line && col >= 1 && i + col - 1 < c->len;
}

static int on_secret(void *ud, const scan_secret_t *s)
{
  struct ctx *c = ud;
  size_t n = 0;
  const char *const *rules = scan_secret_rules(&n);
  int listed = 0;
  for (size_t i = 0; i < n; i++)
    listed |= strcmp(rules[i], s->rule) == 0;
  CHECK(listed, "rule %s", s->rule);
  CHECK(inside(c, s->line, s->col), "%u:%u", s->line, s->col);
  size_t pl = strnlen(s->preview, sizeof s->preview);
  CHECK(pl >= 4 && pl <= 8 && strcmp(s->preview + pl - 4, "****") == 0,
        "preview %.32s", s->preview);
  CHECK(s->entropy >= 0 && s->entropy <= 8, "entropy %f", s->entropy);
  c->count++;
  return 0;
}

static int on_function(void *ud, const scan_function_t *f)
{
  struct ctx *c = ud;
  CHECK(f->line >= 1 && f->line <= f->end_line && f->end_line <= c->lines,
        "%u-%u of %u", f->line, f->end_line, c->lines);
  CHECK(f->lines == f->end_line - f->line + 1, "lines %u", f->lines);
  CHECK(f->complexity >= 1, "complexity");
  CHECK(!f->name || (f->name >= c->buf && f->name + f->name_len <= c->buf + c->len),
        "name outside");
  return 0;
}

static int on_dup(void *ud, const scan_dup_t *d)
{
  const uint32_t *lines = ud;
  CHECK(d->nlocs >= 2, "%zu places", d->nlocs);
  for (size_t i = 0; i < d->nlocs; i++) {
    uint32_t max = lines[d->locs[i].path[0] == 'b'];
    CHECK(d->locs[i].start_line >= 1 && d->locs[i].start_line <= d->locs[i].end_line &&
              d->locs[i].end_line <= max,
          "%s:%u-%u of %u", d->locs[i].path, d->locs[i].start_line,
          d->locs[i].end_line, max);
  }
  return 0;
}

static void fuzz_secrets(const char *path, const char *buf, size_t len)
{
  struct ctx c = {buf, len, 0, 0};
  int n = scan_secrets(path, buf, len, NULL, on_secret, &c);
  CHECK(n == c.count, "returned %d, reported %d", n, c.count);
  char err[256] = "";
  scan_allowlist_t *a = scan_allowlist_parse("fuzz", buf, len, err, sizeof err);
  CHECK(a || err[0], "no list and no message");
  if (a) {
    struct ctx c2 = {buf, len, 0, 0};
    int m = scan_secrets(path, buf, len, a, on_secret, &c2);
    CHECK(m <= n, "an allowlist added findings: %d > %d", m, n);
    scan_allowlist_free(a);
  }
}

static void fuzz_metrics(const char *buf, size_t len)
{
  struct ctx c = {buf, len, scan_count_lines(buf, len), 0};
  static const scan_family_t fams[] = {SCAN_FAMILY_BRACE, SCAN_FAMILY_INDENT,
                                       SCAN_FAMILY_KEYWORD};
  for (size_t i = 0; i < 3; i++)
    CHECK(scan_functions(fams[i], buf, len, on_function, &c) >= 0, "failed");
}

static void fuzz_dupes(const char *buf, size_t len)
{
  scan_dupes_cfg_t cfg = {.min_lines = 2, .max_windows = 16, .max_group = 4};
  scan_dupes_t *d = scan_dupes_new(&cfg);
  size_t half = len / 2;
  uint32_t lines[2] = {scan_count_lines(buf, half),
                       scan_count_lines(buf + half, len - half)};
  CHECK(d, "new");
  CHECK(scan_dupes_add(d, "a", buf, half) == 0, "add a");
  CHECK(scan_dupes_add(d, "b", buf + half, len - half) == 0, "add b");
  CHECK(scan_dupes_finish(d, on_dup, lines) >= 0, "finish");
  scan_dupes_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const paths[] = {"src/a.c", "deploy/.env",
                                      "web/package-lock.json", NULL};
  if (size == 0)
    return 0;
  const char *path = paths[data[0] % 4];
  size_t len = size - 1;
  char *buf = malloc(len ? len : 1); /* exactly len: reads past it trip ASan */
  if (!buf)
    return 0;
  memcpy(buf, data + 1, len);
  fuzz_secrets(path, buf, len);
  fuzz_metrics(buf, len);
  fuzz_dupes(buf, len);
  free(buf);
  return 0;
}
