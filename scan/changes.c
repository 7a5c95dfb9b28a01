/*
 * changes.c: see changes.h.
 *
 * git's outputs are NUL-separated (-z) and arrive in chunks, so a path
 * may span two reads: a small reassembly buffer joins it. `git status
 * --porcelain` names paths from the top of the work tree; the scanned
 * directory's prefix (`git rev-parse --show-prefix`) is stripped and
 * paths outside it dropped. `git diff --relative` does the same by itself.
 */
#include "scan/changes.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/gitcmd.h"

#define CHANGES_PATH_MAX 4096

/* ---- the set ---- */

static uint64_t path_hash(const char *p, size_t n)
{
  uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a, then mixed */
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)p[i]) * UINT64_C(1099511628211);
  h ^= h >> 31;
  h *= UINT64_C(0x9e3779b97f4a7c15);
  h ^= h >> 29;
  return h ? h : 1; /* 0 marks an empty slot */
}

static int set_insert(uint64_t *slots, size_t cap, uint64_t h)
{
  size_t i = (size_t)h & (cap - 1);
  while (slots[i] && slots[i] != h)
    i = (i + 1) & (cap - 1);
  int added = slots[i] == 0;
  slots[i] = h;
  return added;
}

static int set_grow(scan_pathset_t *s)
{
  size_t cap = s->cap ? s->cap * 2 : 1024;
  uint64_t *slots = calloc(cap, sizeof *slots);
  if (!slots)
    return -1;
  for (size_t i = 0; i < s->cap; i++) {
    if (s->slots[i])
      set_insert(slots, cap, s->slots[i]);
  }
  free(s->slots);
  s->slots = slots;
  s->cap = cap;
  return 0;
}

int scan_pathset_add(scan_pathset_t *s, const char *path, size_t len)
{
  if ((s->n + 1) * 2 > s->cap && set_grow(s) != 0)
    return -1;
  s->n += (size_t)set_insert(s->slots, s->cap, path_hash(path, len));
  return 0;
}

bool scan_pathset_has(const scan_pathset_t *s, const char *path, size_t len)
{
  if (!s->n)
    return false;
  uint64_t h = path_hash(path, len);
  size_t i = (size_t)h & (s->cap - 1);
  while (s->slots[i]) {
    if (s->slots[i] == h)
      return true;
    i = (i + 1) & (s->cap - 1);
  }
  return false;
}

void scan_pathset_fini(scan_pathset_t *s)
{
  free(s->slots);
  memset(s, 0, sizeof *s);
}

/* ---- reading git's NUL-separated lists ---- */

typedef struct list_reader {
  char buf[CHANGES_PATH_MAX];
  size_t len;
  bool overflow;
  int (*take)(struct list_reader *r, const char *item, size_t n);
  scan_git_changes_t *c;
  const char *prefix; /* status: the scanned directory from the top */
  size_t prefix_len;
  int failed;
} list_reader_t;

static int on_list(void *ud, const char *data, size_t len)
{
  list_reader_t *r = ud;
  while (len > 0) {
    const char *nul = memchr(data, '\0', len);
    size_t n = nul ? (size_t)(nul - data) : len;
    if (r->overflow || r->len + n >= sizeof r->buf) {
      r->overflow = true;
    } else {
      memcpy(r->buf + r->len, data, n);
      r->len += n;
    }
    if (!nul)
      return 0;
    if (!r->overflow && r->len && r->take(r, r->buf, r->len) != 0)
      r->failed = 1;
    r->len = 0;
    r->overflow = false;
    data += n + 1;
    len -= n + 1;
  }
  return 0;
}

static int add_changed(list_reader_t *r, const char *p, size_t n)
{
  return scan_pathset_add(&r->c->changed, p, n);
}

/* "XY path": the path, made relative to the scanned directory. */
static int add_status(list_reader_t *r, const char *p, size_t n)
{
  if (n < 4 || p[2] != ' ')
    return 0;
  p += 3;
  n -= 3;
  if (n <= r->prefix_len || memcmp(p, r->prefix, r->prefix_len) != 0)
    return 0; /* outside the scanned directory */
  p += r->prefix_len;
  n -= r->prefix_len;
  if (scan_pathset_add(&r->c->dirty, p, n) != 0)
    return -1;
  return scan_pathset_add(&r->c->changed, p, n);
}

static int run_list(const char *root, const char *const args[],
                    list_reader_t *r, char *err, size_t errlen)
{
  int rc = gitcmd_run(root, args, on_list, r, err, errlen);
  if (rc == 0 && r->failed) {
    snprintf(err, errlen, "out of memory");
    rc = -1;
  }
  return rc;
}

/* ---- one-line answers ---- */

typedef struct line_out {
  char s[CHANGES_PATH_MAX];
  size_t n;
} line_out_t;

static int on_line(void *ud, const char *data, size_t len)
{
  line_out_t *o = ud;
  size_t room = sizeof o->s - 1 - o->n;
  size_t k = len < room ? len : room;
  memcpy(o->s + o->n, data, k);
  o->n += k;
  o->s[o->n] = '\0';
  return 0;
}

static void chomp(line_out_t *o)
{
  while (o->n && (o->s[o->n - 1] == '\n' || o->s[o->n - 1] == '\r'))
    o->s[--o->n] = '\0';
}

static int git_line(const char *root, const char *const args[], line_out_t *o)
{
  memset(o, 0, sizeof *o);
  int rc = gitcmd_query(root, args, on_line, o, NULL, 0);
  chomp(o);
  return rc;
}

static bool is_commit_id(const char *s)
{
  return strlen(s) == 40 && strspn(s, "0123456789abcdef") == 40;
}

static int diff_since(const char *root, const char *base,
                      scan_git_changes_t *c, char *err, size_t errlen)
{
  const char *const args[] = {"diff", "--relative", "--name-only", "-z",
                              "--no-renames", base, c->head, NULL};
  list_reader_t r = {.take = add_changed, .c = c};
  if (run_list(root, args, &r, err, errlen) != 0)
    c->all = true; /* the base is gone (rewritten history): look at all */
  return 0;
}

int scan_git_changes(const char *root, const char *base,
                     scan_git_changes_t *c, char *err, size_t errlen)
{
  static const char *const head_args[] = {"rev-parse", "--verify", "-q",
                                          "HEAD", NULL};
  static const char *const prefix_args[] = {"rev-parse", "--show-prefix",
                                            NULL};
  static const char *const status_args[] = {
      "status", "--porcelain", "-z", "--untracked-files=all", "--no-renames",
      NULL};
  line_out_t o;
  memset(c, 0, sizeof *c);
  if (git_line(root, head_args, &o) == 0 && is_commit_id(o.s))
    memcpy(c->head, o.s, 41);
  if (git_line(root, prefix_args, &o) != 0) {
    snprintf(err, errlen, "git rev-parse --show-prefix failed");
    return -1;
  }
  list_reader_t r = {.take = add_status, .c = c, .prefix = o.s,
                     .prefix_len = o.n};
  if (run_list(root, status_args, &r, err, errlen) != 0) {
    scan_git_changes_fini(c);
    return -1;
  }
  c->all = !base || !is_commit_id(base) || !c->head[0];
  if (!c->all && strcmp(base, c->head) != 0)
    diff_since(root, base, c, err, errlen);
  return 0;
}

void scan_git_changes_fini(scan_git_changes_t *c)
{
  scan_pathset_fini(&c->changed);
  scan_pathset_fini(&c->dirty);
}

/* ---- blob ids ---- */

void scan_git_blob_id(const char *data, size_t len, char hex[41])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  char head[32];
  int hl = snprintf(head, sizeof head, "blob %zu", len);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  hex[0] = '\0';
  if (!ctx)
    return;
  if (EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
      EVP_DigestUpdate(ctx, head, (size_t)hl + 1) == 1 && /* with its NUL */
      EVP_DigestUpdate(ctx, data, len) == 1 &&
      EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20) {
    for (unsigned i = 0; i < 20; i++)
      snprintf(hex + 2 * i, 3, "%02x", md[i]);
  }
  EVP_MD_CTX_free(ctx);
}
