/*
 * walk.c: see walk.h.
 *
 * git mode streams `git ls-files -z` through a small reassembly buffer
 * (a path may span two reads). Tree mode is a recursive descent over
 * directory descriptors (openat + fdopendir), using d_type and falling
 * back to fstatat(AT_SYMLINK_NOFOLLOW) when the file system does not fill
 * it; symbolic links are never entered or listed.
 */
#include "scan/walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan/gitcmd.h"

#define WALK_PATH_MAX 4096
#define WALK_MAX_DEPTH 128

static const char *const default_excludes[] = {
    "vendor/",   "node_modules/", "third_party/", "dist/",
    "build/",    "*.min.js",      "*.min.css",    "*.map",
    NULL,
};

const char *const *scan_walk_default_excludes(size_t *count)
{
  if (count)
    *count = sizeof default_excludes / sizeof *default_excludes - 1;
  return default_excludes;
}

/* Is there a directory component equal to name[0..n) in path? */
static bool has_dir_component(const char *path, const char *name, size_t n)
{
  const char *p = path;
  for (;;) {
    const char *slash = strchr(p, '/');
    if (!slash)
      return false; /* the last component is the file itself */
    if ((size_t)(slash - p) == n && memcmp(p, name, n) == 0)
      return true;
    p = slash + 1;
  }
}

static bool rule_matches(const char *path, const char *rule)
{
  size_t n = strlen(rule);
  if (n == 0)
    return false;
  if (rule[n - 1] == '/') {
    const char *inner = memchr(rule, '/', n - 1);
    if (!inner)
      return has_dir_component(path, rule, n - 1);
    return strncmp(path, rule, n) == 0; /* "a/b/": a prefix from the root */
  }
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  return fnmatch(rule, base, 0) == 0 || fnmatch(rule, path, 0) == 0;
}

bool scan_path_excluded(const char *path, const char *const *rules,
                        size_t nrules)
{
  for (size_t i = 0; i < nrules; i++) {
    if (rules[i] && rule_matches(path, rules[i]))
      return true;
  }
  return false;
}

typedef struct walker {
  const scan_walk_cfg_t *cfg;
  const char *const *rules;
  size_t nrules;
  scan_path_fn fn;
  void *ud;
  scan_walk_stats_t *stats;
  /* git mode: a path split across two reads */
  char pending[WALK_PATH_MAX];
  size_t pending_len;
  bool pending_overflow;
} walker_t;

static int emit(walker_t *w, const char *path, size_t len)
{
  if (scan_path_excluded(path, w->rules, w->nrules)) {
    w->stats->excluded++;
    return 0;
  }
  w->stats->listed++;
  return w->fn(w->ud, path, len);
}

/* ---- git mode ---- */

static int take_git_path(walker_t *w, const char *p, size_t n, bool done)
{
  if (w->pending_overflow || w->pending_len + n >= sizeof w->pending) {
    w->pending_overflow = true; /* longer than PATH_MAX: skip it */
  } else {
    memcpy(w->pending + w->pending_len, p, n);
    w->pending_len += n;
  }
  if (!done)
    return 0;
  int rc = 0;
  if (!w->pending_overflow && w->pending_len > 0) {
    w->pending[w->pending_len] = '\0';
    rc = emit(w, w->pending, w->pending_len);
  }
  w->pending_len = 0;
  w->pending_overflow = false;
  return rc;
}

static int on_git_output(void *ud, const char *data, size_t len)
{
  walker_t *w = ud;
  while (len > 0) {
    const char *nul = memchr(data, '\0', len);
    size_t n = nul ? (size_t)(nul - data) : len;
    int rc = take_git_path(w, data, n, nul != NULL);
    if (rc)
      return rc;
    if (!nul)
      break;
    data += n + 1;
    len -= n + 1;
  }
  return 0;
}

static int capture_word(void *ud, const char *data, size_t len)
{
  char *out = ud;
  size_t have = strlen(out);
  size_t room = 15 - have;
  memcpy(out + have, data, len < room ? len : room);
  return 0;
}

/* Is @p root in a git work tree? *inside says; @return 0, or the
 * deadline or a cancel (GITCMD_E*: the scan fails, git is hung rather than
 * absent, and a tree walk would list what git ignores). */
static int git_work_tree(const char *root, bool *inside, char *err,
                         size_t errlen)
{
  static const char *const args[] = {"rev-parse", "--is-inside-work-tree",
                                     NULL};
  char out[16] = {0};
  int rc = gitcmd_query(root, args, capture_word, out, err, errlen);
  *inside = rc == 0 && strncmp(out, "true", 4) == 0;
  if (rc == GITCMD_ETIMEDOUT || rc == GITCMD_ECANCELLED)
    return rc;
  if (err && errlen)
    err[0] = '\0'; /* not a work tree: no error */
  return 0;
}

static bool git_inside_work_tree(const char *root)
{
  bool inside;
  return git_work_tree(root, &inside, NULL, 0) == 0 && inside;
}

static int walk_git(walker_t *w, char *err, size_t errlen)
{
  static const char *const args[] = {"ls-files", "-z", "--cached",
                                     "--others", "--exclude-standard",
                                     "--deduplicate", NULL};
  w->stats->used_git = true;
  int rc = gitcmd_run(w->cfg->root, args, on_git_output, w, err, errlen);
  if (rc > 0 && rc != 127 && w->stats->listed == 0 && err && *err)
    return -1; /* git failed before listing anything */
  return rc;
}

/* ---- tree mode ---- */

static bool skip_dir_name(const char *name)
{
  return strcmp(name, ".git") == 0 || strcmp(name, ".hg") == 0 ||
         strcmp(name, ".svn") == 0 || strcmp(name, ".ccm") == 0;
}

static int entry_type(int dfd, struct dirent *e)
{
  if (e->d_type != DT_UNKNOWN)
    return e->d_type;
  struct stat st;
  if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return DT_UNKNOWN;
  if (S_ISDIR(st.st_mode))
    return DT_DIR;
  if (S_ISREG(st.st_mode))
    return DT_REG;
  return DT_UNKNOWN;
}

static int walk_dir(walker_t *w, int dfd, char *path, size_t plen, int depth);

static int walk_entry(walker_t *w, int dfd, struct dirent *e, char *path,
                      size_t plen, int depth)
{
  const char *name = e->d_name;
  if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
    return 0;
  size_t nlen = strlen(name);
  if (plen + nlen + 2 >= WALK_PATH_MAX)
    return 0;
  int type = entry_type(dfd, e);
  size_t len = plen;
  if (plen)
    path[len++] = '/';
  memcpy(path + len, name, nlen + 1);
  len += nlen;
  if (type == DT_REG)
    return emit(w, path, len);
  if (type != DT_DIR || skip_dir_name(name) || depth >= WALK_MAX_DEPTH)
    return 0;
  path[len] = '/';
  path[len + 1] = '\0';
  bool excluded = scan_path_excluded(path, w->rules, w->nrules);
  path[len] = '\0';
  if (excluded) {
    w->stats->excluded++;
    return 0;
  }
  int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (sub < 0)
    return 0; /* unreadable directory: skipped, like find without -L */
  return walk_dir(w, sub, path, len, depth + 1);
}

/* Walks the directory open on dfd (takes ownership of dfd). */
static int walk_dir(walker_t *w, int dfd, char *path, size_t plen, int depth)
{
  DIR *d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    return 0;
  }
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(d)) != NULL) {
    rc = walk_entry(w, dirfd(d), e, path, plen, depth);
    path[plen] = '\0';
  }
  closedir(d);
  return rc;
}

static int walk_tree(walker_t *w, char *err, size_t errlen)
{
  char path[WALK_PATH_MAX];
  int dfd = open(w->cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    snprintf(err, errlen, "%s: %s", w->cfg->root, strerror(errno));
    return -1;
  }
  path[0] = '\0';
  return walk_dir(w, dfd, path, 0, 0);
}

bool scan_walk_uses_git(const scan_walk_cfg_t *cfg)
{
  return !cfg->only && !cfg->no_git && git_inside_work_tree(cfg->root);
}

int scan_walk(const scan_walk_cfg_t *cfg, scan_path_fn fn, void *ud,
              scan_walk_stats_t *stats, char *err, size_t errlen)
{
  scan_walk_stats_t local;
  char errlocal[256];
  walker_t w;
  struct stat st;

  if (!stats)
    stats = &local;
  if (!err || !errlen) {
    err = errlocal;
    errlen = sizeof errlocal;
  }
  memset(stats, 0, sizeof *stats);
  err[0] = '\0';
  if (stat(cfg->root, &st) != 0) {
    snprintf(err, errlen, "%s: %s", cfg->root, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s: not a directory", cfg->root);
    return -1;
  }
  memset(&w, 0, sizeof w);
  w.cfg = cfg;
  w.rules = cfg->excludes ? cfg->excludes
                          : scan_walk_default_excludes(&w.nrules);
  if (cfg->excludes)
    w.nrules = cfg->nexcludes;
  w.fn = fn;
  w.ud = ud;
  w.stats = stats;
  if (cfg->only) {
    stats->listed = 1;
    return fn(ud, cfg->only, strlen(cfg->only));
  }
  bool inside = false;
  if (!cfg->no_git) {
    int rc = git_work_tree(cfg->root, &inside, err, errlen);
    if (rc)
      return rc;
  }
  return inside ? walk_git(&w, err, errlen) : walk_tree(&w, err, errlen);
}
