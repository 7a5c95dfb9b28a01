/*
 * dupes.c: see dupes.h for what is reported and the memory trade-off.
 *
 * Data: one table of window records {hash, file, sig (index among the
 * file's normalised lines), first and last physical line}, appended in
 * file order, at most cfg.max_windows long; every record satisfies the
 * current sampling rule (hash bits & (sample - 1)) == 0. Per file, a
 * scratch array of normalised-line hashes (reused, freed at the end).
 *
 * finish(): renumber the files in path order (so that what follows does
 * not depend on the order files were added in: shards add them in any
 * order); sort the table by (hash, file, sig); each run of equal hashes
 * gives pairs of places (its first max_group places in (path, line)
 * order, at most max_windows / 2 pairs in all, the rest counted as
 * dropped); sort the pairs by (file a,
 * file b, diagonal, sig a) and merge neighbours whose windows overlap or
 * touch (a gap of at most min_lines, so every line between is covered);
 * each merged pair adds two regions to a union-find keyed by (file, start,
 * end); each component of two or more regions is one reported group.
 */
#include "scan/dupes.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_CAP 64 /* normalised bytes kept per line to judge it */

struct window {
  uint64_t hash;
  uint32_t file, sig, first_line, last_line;
};

struct scan_dupes {
  scan_dupes_cfg_t cfg;
  char **paths;
  size_t npaths, paths_cap;
  struct window *win;
  size_t nwin, win_cap;
  uint32_t sample; /* a power of two */
  uint64_t *line_hash; /* scratch: the current file's normalised lines */
  uint32_t *line_no;
  size_t lines_cap;
  scan_dupes_stats_t st;
};

scan_dupes_cfg_t scan_dupes_cfg_default(void)
{
  return (scan_dupes_cfg_t){.min_lines = 6, .max_windows = (size_t)1 << 20,
                            .max_group = 32};
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
  if (need <= *cap)
    return 0;
  size_t ncap = *cap ? *cap * 2 : 256;
  while (ncap < need)
    ncap *= 2;
  void *p = realloc(*arr, ncap * elem);
  if (!p)
    return -1;
  *arr = p;
  *cap = ncap;
  return 0;
}

scan_dupes_t *scan_dupes_new(const scan_dupes_cfg_t *cfg)
{
  scan_dupes_cfg_t c = scan_dupes_cfg_default();
  if (cfg) {
    c.min_lines = cfg->min_lines ? cfg->min_lines : c.min_lines;
    c.max_windows = cfg->max_windows ? cfg->max_windows : c.max_windows;
    c.max_group = cfg->max_group ? cfg->max_group : c.max_group;
  }
  if (c.min_lines < 2 || c.max_group < 2)
    return NULL;
  scan_dupes_t *d = calloc(1, sizeof *d);
  if (!d)
    return NULL;
  d->cfg = c;
  d->sample = 1;
  return d;
}

void scan_dupes_free(scan_dupes_t *d)
{
  if (!d)
    return;
  for (size_t i = 0; i < d->npaths; i++)
    free(d->paths[i]);
  free(d->paths);
  free(d->win);
  free(d->line_hash);
  free(d->line_no);
  free(d);
}

void scan_dupes_stats(const scan_dupes_t *d, scan_dupes_stats_t *st)
{
  *st = d->st;
  st->kept = d->nwin;
  st->sample = d->sample;
}

/* ---- hashing ---- */

static uint64_t mix64(uint64_t x)
{
  x ^= x >> 30;
  x *= UINT64_C(0xbf58476d1ce4e5b9);
  x ^= x >> 27;
  x *= UINT64_C(0x94d049bb133111eb);
  return x ^ (x >> 31);
}

static uint64_t window_hash(const uint64_t *lh, uint32_t n)
{
  uint64_t h = UINT64_C(0x243f6a8885a308d3);
  for (uint32_t i = 0; i < n; i++) {
    h = (h ^ lh[i]) * UINT64_C(0x9e3779b97f4a7c15);
    h = h << 29 | h >> 35;
  }
  return mix64(h);
}

static bool sampled(uint64_t hash, uint32_t sample)
{
  return ((hash >> 17) & (sample - 1)) == 0;
}

/* ---- normalised lines ---- */

struct norm {
  uint64_t hash;
  size_t n;
  char head[HEAD_CAP];
};

static bool word_char(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80;
}

static bool space_char(unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static void normalise(const char *p, const char *e, struct norm *out)
{
  uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
  unsigned char prev = 0;
  bool gap = false;
  out->n = 0;
  for (; p < e; p++) {
    unsigned char ch = (unsigned char)*p;
    if (space_char(ch)) {
      gap = out->n > 0;
      continue;
    }
    for (int k = gap && word_char(prev) && word_char(ch); k >= 0; k--) {
      unsigned char b = k ? ' ' : ch; /* one space between two words */
      h = (h ^ b) * UINT64_C(1099511628211);
      if (out->n < HEAD_CAP)
        out->head[out->n] = (char)b;
      out->n++;
    }
    gap = false;
    prev = ch;
  }
  out->hash = mix64(h);
}

struct lit {
  const char *s;
  size_t n;
};
#define LIT(x) {x, sizeof x - 1}

static bool head_starts(const struct norm *l, const struct lit *lit)
{
  return l->n >= lit->n && memcmp(l->head, lit->s, lit->n) == 0;
}

/* Brackets, commas and the quotes of blanked strings. */
static const uint8_t hollow[256] = {
  ['{'] = 1, ['}'] = 1, ['('] = 1, [')'] = 1, ['['] = 1, [']'] = 1,
  [';'] = 1, [','] = 1, [':'] = 1, ['"'] = 1, ['\''] = 1, ['`'] = 1,
};

/* Lines that carry nothing: see dupes.h. */
static bool trivial(const struct norm *l)
{
  static const struct lit imports[] = {
    LIT("#include"), LIT("#import"), LIT("#pragma"), LIT("import "),
    LIT("from "), LIT("using "), LIT("package "), LIT("use "),
    LIT("require"), LIT("extern crate"),
  };
  static const struct lit words[] = {
    LIT("return"), LIT("break"), LIT("continue"), LIT("else"), LIT("end"),
    LIT("pass"), LIT("fi"), LIT("done"), LIT("esac"), LIT("do"),
    LIT("then"), LIT("try"), LIT("finally"), LIT("default"), LIT("begin"),
    LIT("#endif"), LIT("#else"), LIT("endif"), LIT("endfor"), LIT("endwhile"),
  };
  char w[HEAD_CAP];
  size_t k = 0;
  if (l->n == 0)
    return true;
  if (l->n > HEAD_CAP)
    return false;
  for (size_t i = 0; i < sizeof imports / sizeof imports[0]; i++)
    if (l->head[0] == imports[i].s[0] && head_starts(l, &imports[i]))
      return true;
  for (size_t i = 0; i < l->n; i++)
    if (!hollow[(unsigned char)l->head[i]])
      w[k++] = l->head[i]; /* left without brackets, commas, blank strings */
  if (k == 0)
    return true;
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (words[i].n == k && memcmp(words[i].s, w, k) == 0)
      return true;
  return false;
}

/* ---- adding ---- */

static int add_path(scan_dupes_t *d, const char *path)
{
  char *copy = strdup(path ? path : "");
  if (!copy || grow((void **)&d->paths, &d->paths_cap, d->npaths + 1,
                    sizeof *d->paths) != 0) {
    free(copy);
    return -1;
  }
  d->paths[d->npaths++] = copy;
  return 0;
}

/* The file's normalised lines into the scratch arrays; returns how many
 * or -1 when out of memory. */
static long collect_lines(scan_dupes_t *d, const char *code, size_t len)
{
  const char *p = code, *end = code + len;
  size_t n = 0;
  uint32_t line = 1;
  struct norm l;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *e = nl ? nl : end;
    normalise(p, e, &l);
    if (!trivial(&l)) {
      if (n + 1 > d->lines_cap) {
        size_t cap = d->lines_cap;
        if (grow((void **)&d->line_hash, &cap, n + 1, sizeof *d->line_hash) != 0 ||
            grow((void **)&d->line_no, &d->lines_cap, n + 1, sizeof *d->line_no) != 0)
          return -1;
      }
      d->line_hash[n] = l.hash;
      d->line_no[n] = line;
      n++;
    }
    p = e + 1;
    line++;
  }
  return (long)n;
}

/* Table full: double the sampling factor and keep what still passes. */
static void resample(scan_dupes_t *d)
{
  while (d->nwin >= d->cfg.max_windows && d->sample < (UINT32_C(1) << 31)) {
    d->sample *= 2;
    size_t k = 0;
    for (size_t i = 0; i < d->nwin; i++)
      if (sampled(d->win[i].hash, d->sample))
        d->win[k++] = d->win[i];
    d->nwin = k;
  }
}

static int add_window(scan_dupes_t *d, const struct window *w)
{
  if (d->nwin >= d->cfg.max_windows)
    resample(d);
  if (!sampled(w->hash, d->sample) || d->nwin >= d->cfg.max_windows)
    return 0;
  if (d->nwin + 1 > d->win_cap) {
    size_t cap = d->win_cap ? d->win_cap * 2 : 1024;
    if (cap > d->cfg.max_windows)
      cap = d->cfg.max_windows;
    struct window *nw = realloc(d->win, cap * sizeof *nw);
    if (!nw)
      return -1;
    d->win = nw;
    d->win_cap = cap;
  }
  d->win[d->nwin++] = *w;
  return 0;
}

/* ---- preparing a file apart from the accumulator ---- */

struct scan_dupes_prep {
  scan_dupes_t lines;      /* only its config and line scratch are used */
  struct window *win;      /* the file's windows (file index unset) */
  size_t nwin, win_cap;
  size_t nlines;
};

scan_dupes_prep_t *scan_dupes_prep_new(const scan_dupes_cfg_t *cfg)
{
  scan_dupes_t *cfgd = scan_dupes_new(cfg);
  scan_dupes_prep_t *p = cfgd ? calloc(1, sizeof *p) : NULL;
  if (p)
    p->lines.cfg = cfgd->cfg;
  scan_dupes_free(cfgd);
  return p;
}

void scan_dupes_prep_free(scan_dupes_prep_t *p)
{
  if (!p)
    return;
  free(p->lines.line_hash);
  free(p->lines.line_no);
  free(p->win);
  free(p);
}

int scan_dupes_prepare(scan_dupes_prep_t *p, const char *code, size_t len)
{
  uint32_t n = p->lines.cfg.min_lines;
  p->nwin = p->nlines = 0;
  if (!code && len)
    return -1;
  long nl = collect_lines(&p->lines, code, len);
  if (nl < 0)
    return -1;
  p->nlines = (size_t)nl;
  size_t nw = (size_t)nl >= n ? (size_t)nl - n + 1 : 0;
  if (grow((void **)&p->win, &p->win_cap, nw, sizeof *p->win) != 0)
    return -1;
  for (size_t i = 0; i < nw; i++)
    p->win[i] = (struct window){
      .hash = window_hash(p->lines.line_hash + i, n),
      .sig = (uint32_t)i,
      .first_line = p->lines.line_no[i],
      .last_line = p->lines.line_no[i + n - 1],
    };
  p->nwin = nw;
  return 0;
}

int scan_dupes_add_prepared(scan_dupes_t *d, const char *path,
                            const scan_dupes_prep_t *p)
{
  if (p->lines.cfg.min_lines != d->cfg.min_lines || add_path(d, path) != 0)
    return -1;
  d->st.files++;
  d->st.lines += p->nlines;
  d->st.windows += p->nwin;
  for (size_t i = 0; i < p->nwin; i++) {
    struct window w = p->win[i];
    w.file = (uint32_t)(d->npaths - 1);
    if (add_window(d, &w) != 0)
      return -1;
  }
  return 0;
}

int scan_dupes_add(scan_dupes_t *d, const char *path, const char *code,
                   size_t len)
{
  scan_dupes_prep_t *p = scan_dupes_prep_new(&d->cfg);
  int rc = p ? scan_dupes_prepare(p, code, len) : -1;
  if (rc == 0)
    rc = scan_dupes_add_prepared(d, path, p);
  scan_dupes_prep_free(p);
  return rc;
}

/* ---- pairs ---- */

struct pair {
  uint32_t fa, fb;
  int64_t diag; /* sig b - sig a */
  uint32_t sa, sa_last;
  uint32_t a_first, a_last, b_first, b_last;
};

static int window_cmp(const void *x, const void *y)
{
  const struct window *a = x, *b = y;
  if (a->hash != b->hash)
    return a->hash < b->hash ? -1 : 1;
  if (a->file != b->file)
    return a->file < b->file ? -1 : 1;
  return (a->sig > b->sig) - (a->sig < b->sig);
}

static int pair_cmp(const void *x, const void *y)
{
  const struct pair *a = x, *b = y;
  if (a->fa != b->fa)
    return a->fa < b->fa ? -1 : 1;
  if (a->fb != b->fb)
    return a->fb < b->fb ? -1 : 1;
  if (a->diag != b->diag)
    return a->diag < b->diag ? -1 : 1;
  return (a->sa > b->sa) - (a->sa < b->sa);
}

struct pairs {
  struct pair *v;
  size_t n, cap, budget;
};

static int pairs_of_run(scan_dupes_t *d, const struct window *w, size_t m,
                        struct pairs *ps)
{
  for (size_t a = 0; a < m; a++) {
    for (size_t b = a + 1; b < m; b++) {
      if (w[a].file == w[b].file && w[b].sig - w[a].sig < d->cfg.min_lines)
        continue; /* overlapping windows of one file */
      if (ps->n >= ps->budget) {
        d->st.pairs_dropped++;
        continue;
      }
      if (grow((void **)&ps->v, &ps->cap, ps->n + 1, sizeof *ps->v) != 0)
        return -1;
      ps->v[ps->n++] = (struct pair){
        .fa = w[a].file, .fb = w[b].file,
        .diag = (int64_t)w[b].sig - (int64_t)w[a].sig,
        .sa = w[a].sig, .sa_last = w[a].sig,
        .a_first = w[a].first_line, .a_last = w[a].last_line,
        .b_first = w[b].first_line, .b_last = w[b].last_line,
      };
    }
  }
  return 0;
}

/* Keep, of the windows [w, w + n) sharing one hash (sorted by file and
 * sig), only the first of each chain in which every window overlaps the
 * one before in the same file (a run of one repeated line is one place,
 * however long), at most max_group; returns how many (they are moved to
 * the front). */
static size_t distinct_places(const scan_dupes_t *d, struct window *w, size_t n)
{
  size_t k = 0;
  uint32_t prev_file = 0, prev_sig = 0;
  for (size_t i = 0; i < n && k < d->cfg.max_group; i++) {
    bool chained = i > 0 && prev_file == w[i].file &&
                   w[i].sig - prev_sig < d->cfg.min_lines;
    prev_file = w[i].file;
    prev_sig = w[i].sig;
    if (!chained)
      w[k++] = w[i];
  }
  return k;
}

static int make_pairs(scan_dupes_t *d, struct pairs *ps)
{
  if (d->nwin)
    qsort(d->win, d->nwin, sizeof *d->win, window_cmp);
  for (size_t i = 0; i < d->nwin;) {
    size_t j = i + 1;
    while (j < d->nwin && d->win[j].hash == d->win[i].hash)
      j++;
    size_t m = distinct_places(d, d->win + i, j - i);
    if (m >= 2 && pairs_of_run(d, d->win + i, m, ps) != 0)
      return -1;
    i = j;
  }
  if (ps->n)
    qsort(ps->v, ps->n, sizeof *ps->v, pair_cmp);
  return 0;
}

/* ---- regions and groups (union-find) ---- */

struct region {
  uint32_t file, start, end, lines;
  size_t parent;
};

struct regions {
  struct region *v;
  size_t n, cap;
  size_t *slots; /* open addressing: index + 1, 0 = empty */
  size_t nslots;
};

static uint64_t region_key(uint32_t file, uint32_t start, uint32_t end)
{
  return mix64((uint64_t)file << 40 ^ (uint64_t)start << 20 ^ end ^
               (uint64_t)end << 52);
}

static int rehash(struct regions *r)
{
  size_t ns = r->nslots ? r->nslots * 2 : 1024;
  size_t *slots = calloc(ns, sizeof *slots);
  if (!slots)
    return -1;
  for (size_t i = 0; i < r->n; i++) {
    size_t s = region_key(r->v[i].file, r->v[i].start, r->v[i].end) & (ns - 1);
    while (slots[s])
      s = (s + 1) & (ns - 1);
    slots[s] = i + 1;
  }
  free(r->slots);
  r->slots = slots;
  r->nslots = ns;
  return 0;
}

/* The region (file, start, end), added when new; SIZE_MAX when out of
 * memory. */
static size_t region_at(struct regions *r, uint32_t file, uint32_t start,
                        uint32_t end)
{
  if ((r->n + 1) * 2 > r->nslots && rehash(r) != 0)
    return SIZE_MAX;
  size_t s = region_key(file, start, end) & (r->nslots - 1);
  for (; r->slots[s]; s = (s + 1) & (r->nslots - 1)) {
    struct region *g = &r->v[r->slots[s] - 1];
    if (g->file == file && g->start == start && g->end == end)
      return r->slots[s] - 1;
  }
  if (grow((void **)&r->v, &r->cap, r->n + 1, sizeof *r->v) != 0)
    return SIZE_MAX;
  r->v[r->n] = (struct region){file, start, end, 0, r->n};
  r->slots[s] = r->n + 1;
  return r->n++;
}

static size_t find_root(struct regions *r, size_t i)
{
  while (r->v[i].parent != i) {
    r->v[i].parent = r->v[r->v[i].parent].parent;
    i = r->v[i].parent;
  }
  return i;
}

/* One merged pair: two regions of the same block. */
static int add_match(scan_dupes_t *d, struct regions *r, struct pair *p)
{
  uint32_t lines = p->sa_last - p->sa + d->cfg.min_lines;
  if (p->fa == p->fb && p->b_first <= p->a_last) {
    p->a_last = p->b_first - 1; /* back to back repeats: cut at the copy */
    lines = (uint32_t)p->diag;
  }
  size_t a = region_at(r, p->fa, p->a_first, p->a_last);
  size_t b = region_at(r, p->fb, p->b_first, p->b_last);
  if (a == SIZE_MAX || b == SIZE_MAX)
    return -1;
  if (r->v[a].lines < lines)
    r->v[a].lines = lines;
  if (r->v[b].lines < lines)
    r->v[b].lines = lines;
  r->v[find_root(r, a)].parent = find_root(r, b);
  return 0;
}

static int merge_pairs(scan_dupes_t *d, const struct pairs *ps,
                       struct regions *r)
{
  for (size_t i = 0; i < ps->n;) {
    struct pair run = ps->v[i];
    size_t j = i + 1;
    for (; j < ps->n; j++) {
      const struct pair *q = &ps->v[j];
      if (q->fa != run.fa || q->fb != run.fb || q->diag != run.diag ||
          q->sa > run.sa_last + d->cfg.min_lines)
        break;
      run.sa_last = q->sa;
      run.a_last = q->a_last > run.a_last ? q->a_last : run.a_last;
      run.b_last = q->b_last > run.b_last ? q->b_last : run.b_last;
    }
    if (add_match(d, r, &run) != 0)
      return -1;
    i = j;
  }
  return 0;
}

/* What the comparators need (qsort_r). */
struct group_ctx {
  const scan_dupes_t *d;
  const struct regions *r;
  const size_t *mem; /* region indices sorted by group, then place */
};

static int loc_cmp(const struct region *a, const struct region *b,
                   const scan_dupes_t *d)
{
  int c = strcmp(d->paths[a->file], d->paths[b->file]);
  if (c)
    return c;
  return (a->start > b->start) - (a->start < b->start);
}

/* Region indices by group (root), then by place. */
static int member_cmp(const void *x, const void *y, void *arg)
{
  const struct group_ctx *g = arg;
  const struct region *a = &g->r->v[*(const size_t *)x];
  const struct region *b = &g->r->v[*(const size_t *)y];
  if (a->parent != b->parent)
    return a->parent < b->parent ? -1 : 1;
  return loc_cmp(a, b, g->d);
}

struct group {
  size_t first, n; /* mem[first .. first + n) */
};

/* Groups by their first place. */
static int group_cmp(const void *x, const void *y, void *arg)
{
  const struct group_ctx *g = arg;
  const struct group *a = x, *b = y;
  return loc_cmp(&g->r->v[g->mem[a->first]], &g->r->v[g->mem[b->first]], g->d);
}

/* The group's places, overlapping ones of one file joined (they are
 * sorted by place); returns how many. */
static size_t group_places(const struct group_ctx *g, const struct group *grp,
                           scan_dup_loc_t *locs, uint32_t *lines)
{
  size_t n = 0;
  uint32_t last_file = 0;
  *lines = 0;
  for (size_t k = 0; k < grp->n; k++) {
    const struct region *x = &g->r->v[g->mem[grp->first + k]];
    *lines = x->lines > *lines ? x->lines : *lines;
    if (n > 0 && x->file == last_file && x->start <= locs[n - 1].end_line) {
      if (x->end > locs[n - 1].end_line)
        locs[n - 1].end_line = x->end;
      continue;
    }
    locs[n++] = (scan_dup_loc_t){g->d->paths[x->file], x->start, x->end};
    last_file = x->file;
  }
  return n;
}

/* Split the sorted members into groups of two or more. */
static size_t make_groups(const struct regions *r, const size_t *mem,
                          struct group *gs)
{
  size_t ng = 0;
  for (size_t i = 0; i < r->n;) {
    size_t j = i + 1;
    while (j < r->n && r->v[mem[j]].parent == r->v[mem[i]].parent)
      j++;
    if (j - i >= 2)
      gs[ng++] = (struct group){i, j - i};
    i = j;
  }
  return ng;
}

/* Group the regions and report each group, in order of first place. */
static int report(const scan_dupes_t *d, struct regions *r, scan_dup_fn cb,
                  void *ud)
{
  int count = -1;
  size_t n = r->n ? r->n : 1;
  size_t *mem = malloc(n * sizeof *mem);
  struct group *gs = malloc(n * sizeof *gs);
  scan_dup_loc_t *locs = malloc(n * sizeof *locs);
  struct group_ctx g = {d, r, mem};
  if (!mem || !gs || !locs)
    goto out;
  for (size_t i = 0; i < r->n; i++) {
    r->v[i].parent = find_root(r, i);
    mem[i] = i;
  }
  qsort_r(mem, r->n, sizeof *mem, member_cmp, &g);
  size_t ng = make_groups(r, mem, gs);
  qsort_r(gs, ng, sizeof *gs, group_cmp, &g);
  count = 0;
  for (size_t i = 0; i < ng; i++) {
    uint32_t lines;
    size_t nlocs = group_places(&g, &gs[i], locs, &lines);
    if (nlocs < 2)
      continue;
    count++;
    scan_dup_t dup = {locs, nlocs, lines};
    if (cb && cb(ud, &dup) != 0)
      break;
  }
out:
  free(mem);
  free(gs);
  free(locs);
  return count;
}

/* ---- file numbers in path order ---- */

static int path_index_cmp(const void *x, const void *y, void *arg)
{
  char *const *paths = arg;
  uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
  int c = strcmp(paths[a], paths[b]);
  return c ? c : (a > b) - (a < b);
}

/* Renumber the files so that file numbers follow path order, whatever
 * order the shards added them in: every later choice made in file order
 * (the max_group places kept of a block, the pairs kept within the pair
 * budget) is then the same for the same tree. */
static int number_files_by_path(scan_dupes_t *d)
{
  size_t n = d->npaths;
  uint32_t *by_path = malloc((n ? n : 1) * sizeof *by_path);
  uint32_t *rank = malloc((n ? n : 1) * sizeof *rank);
  char **paths = malloc((n ? n : 1) * sizeof *paths);
  int rc = -1;
  if (!by_path || !rank || !paths)
    goto out;
  for (size_t i = 0; i < n; i++)
    by_path[i] = (uint32_t)i;
  qsort_r(by_path, n, sizeof *by_path, path_index_cmp, d->paths);
  for (size_t k = 0; k < n; k++) {
    rank[by_path[k]] = (uint32_t)k;
    paths[k] = d->paths[by_path[k]];
  }
  for (size_t i = 0; i < d->nwin; i++)
    d->win[i].file = rank[d->win[i].file];
  free(d->paths);
  d->paths = paths;
  d->paths_cap = n;
  paths = NULL;
  rc = 0;
out:
  free(by_path);
  free(rank);
  free(paths);
  return rc;
}

int scan_dupes_finish(scan_dupes_t *d, scan_dup_fn cb, void *ud)
{
  struct pairs ps = {.budget = d->cfg.max_windows / 2};
  struct regions r = {0};
  int rc = -1;
  if (number_files_by_path(d) == 0 && make_pairs(d, &ps) == 0 &&
      merge_pairs(d, &ps, &r) == 0)
    rc = report(d, &r, cb, ud);
  free(ps.v);
  free(r.v);
  free(r.slots);
  return rc;
}
