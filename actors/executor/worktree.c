/*
 * worktree.c: see worktree.h. Every command goes through gitcmd_run
 * (scan/gitcmd.h), whose output is collected up to a cap.
 *
 * Adding, removing and pruning worktrees edit the repository's shared
 * list of worktrees: a `git worktree prune` that runs while another
 * `worktree add` is half done removes the new entry ("failed to read
 * .git/worktrees/<id>/commondir"). Those operations are therefore
 * serialised (one lock for the process: each takes milliseconds), and
 * automatic gc, which may prune too, is off for every command.
 */
#include "actors/executor/worktree.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan/gitcmd.h"

#define GIT_ARGS_MAX 24

static pthread_mutex_t worktree_list_lock = PTHREAD_MUTEX_INITIALIZER;
#define OUT_MAX ((size_t)8 << 20) /* numstat of EXEC_CHANGES_MAX files fits */

typedef struct outbuf {
  char *data;
  size_t len, cap;
  bool over; /* more than OUT_MAX: reading stopped */
} outbuf_t;

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  if (!err || !errlen)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static int collect(void *ud, const char *data, size_t n)
{
  outbuf_t *o = ud;
  if (o->len + n + 1 > OUT_MAX) {
    o->over = true;
    return 1; /* stop: gitcmd kills git */
  }
  if (o->len + n + 1 > o->cap) {
    size_t cap = o->cap ? o->cap : 4096;
    while (cap < o->len + n + 1)
      cap *= 2;
    char *d = realloc(o->data, cap);
    if (!d)
      return -1;
    o->data = d;
    o->cap = cap;
  }
  memcpy(o->data + o->len, data, n);
  o->len += n;
  o->data[o->len] = '\0';
  return 0;
}

/* git -C dir -c core.hooksPath=/dev/null args... (args NULL-terminated).
 * Output goes to @p out when not NULL. Returns git's status. */
static int git(const char *dir, const char *const *args, outbuf_t *out,
               char *err, size_t errlen)
{
  const char *argv[GIT_ARGS_MAX + 5];
  size_t n = 0;
  argv[n++] = "-c";
  argv[n++] = "core.hooksPath=/dev/null";
  argv[n++] = "-c";
  argv[n++] = "gc.auto=0";
  for (size_t i = 0; args[i]; i++) {
    if (n >= GIT_ARGS_MAX)
      return -E2BIG;
    argv[n++] = args[i];
  }
  argv[n] = NULL;
  return gitcmd_run(dir, argv, out ? collect : NULL, out, err, errlen);
}

static int head_sha(const char *dir, char sha[EXEC_SHA_MAX], char *err,
                    size_t errlen)
{
  outbuf_t o = {0};
  const char *args[] = {"rev-parse", "--verify", "HEAD", NULL};
  int rc = git(dir, args, &o, err, errlen);
  if (!rc && (!o.data || strspn(o.data, "0123456789abcdef") < 40)) {
    set_err(err, errlen, "git rev-parse HEAD in %s printed no commit", dir);
    rc = -EPROTO;
  }
  if (!rc) {
    memcpy(sha, o.data, 40);
    sha[40] = '\0';
  }
  free(o.data);
  return rc;
}

/* ------------------------------------------------------------ directories */

static bool exists(const char *path)
{
  struct stat st;
  return lstat(path, &st) == 0;
}

static int mkdir_parents(const char *path)
{
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return -ENAMETOOLONG;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
  (void)st, (void)ftw;
  return (flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT
             ? -1 : 0;
}

/* Delete a tree, never following links out of it. */
static int rm_tree(const char *path)
{
  if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && exists(path))
    return -errno;
  return 0;
}

/* ------------------------------------------------------------------ public */

static bool branch_exists(const char *repo, const char *branch)
{
  char ref[512];
  snprintf(ref, sizeof ref, "refs/heads/%s", branch);
  const char *args[] = {"rev-parse", "--verify", "--quiet", ref, NULL};
  return git(repo, args, NULL, NULL, 0) == 0;
}

static int remove_locked(const char *repo, const char *dir, const char *branch,
                         char *err, size_t errlen)
{
  int rc = 0;
  if (exists(dir)) {
    const char *rm[] = {"worktree", "remove", "--force", "--force", dir, NULL};
    git(repo, rm, NULL, NULL, 0); /* fails for a directory git forgot */
    if (exists(dir) && (rc = rm_tree(dir)) != 0) {
      set_err(err, errlen, "cannot delete %s: %s", dir, strerror(-rc));
      return rc;
    }
  }
  const char *prune[] = {"worktree", "prune", NULL};
  rc = git(repo, prune, NULL, err, errlen);
  if (rc || !branch || !branch_exists(repo, branch))
    return rc;
  const char *del[] = {"branch", "-D", branch, NULL};
  return git(repo, del, NULL, err, errlen);
}

int exec_wt_remove(const char *repo, const char *dir, const char *branch,
                   char *err, size_t errlen)
{
  pthread_mutex_lock(&worktree_list_lock);
  int rc = remove_locked(repo, dir, branch, err, errlen);
  pthread_mutex_unlock(&worktree_list_lock);
  return rc;
}

int exec_wt_create(const char *repo, const char *base, const char *dir,
                   const char *branch, char base_sha[EXEC_SHA_MAX],
                   char *err, size_t errlen)
{
  base_sha[0] = '\0';
  pthread_mutex_lock(&worktree_list_lock);
  int rc = remove_locked(repo, dir, branch, err, errlen);
  if (!rc && (rc = mkdir_parents(dir)) != 0)
    set_err(err, errlen, "cannot make the parents of %s: %s", dir,
            strerror(-rc));
  const char *add[] = {"worktree", "add", "-q", "-b", branch, dir,
                       base ? base : "HEAD", NULL};
  if (!rc)
    rc = git(repo, add, NULL, err, errlen);
  pthread_mutex_unlock(&worktree_list_lock);
  if (!rc)
    rc = head_sha(dir, base_sha, err, errlen);
  return rc;
}

/* ----------------------------------------------------------------- commit */

void exec_changes_fini(exec_changes_t *c)
{
  for (size_t i = 0; c->files && i < c->n; i++)
    free(c->files[i].path);
  free(c->files);
  memset(c, 0, sizeof *c);
}

/* One numstat -z record "added\tdeleted\tpath". */
static int add_change(exec_changes_t *c, const char *rec, size_t *cap)
{
  const char *t1 = strchr(rec, '\t');
  const char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
  if (!t2)
    return 0; /* not a record: skipped */
  if (c->n == EXEC_CHANGES_MAX) {
    c->truncated = true;
    return 0;
  }
  if (c->n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 16;
    exec_change_t *f = realloc(c->files, ncap * sizeof *f);
    if (!f)
      return -ENOMEM;
    c->files = f;
    *cap = ncap;
  }
  exec_change_t *ch = &c->files[c->n];
  ch->binary = rec[0] == '-';
  ch->added = ch->binary ? 0 : strtoull(rec, NULL, 10);
  ch->deleted = ch->binary ? 0 : strtoull(t1 + 1, NULL, 10);
  if (!(ch->path = strdup(t2 + 1)))
    return -ENOMEM;
  c->added += ch->added;
  c->deleted += ch->deleted;
  c->n++;
  return 0;
}

static int parse_numstat(const outbuf_t *o, exec_changes_t *c)
{
  size_t cap = 0;
  for (size_t i = 0; o->data && i < o->len;) {
    const char *rec = o->data + i;
    size_t len = strnlen(rec, o->len - i);
    if (i + len >= o->len)
      break; /* an unterminated last record: the output was cut */
    int rc = add_change(c, rec, &cap);
    if (rc)
      return rc;
    i += len + 1;
  }
  c->truncated = c->truncated || o->over;
  return 0;
}

/* Stage everything; commit when anything is staged. */
static int commit_all(const char *dir, const char *message, bool *made,
                      char *err, size_t errlen)
{
  const char *add[] = {"add", "-A", NULL};
  const char *quiet[] = {"diff", "--cached", "--quiet", NULL};
  const char *commit[] = {"-c", "user.name=ccm", "-c",
                          "user.email=ccm@localhost", "commit", "-q",
                          "--no-verify", "-m", message, NULL};
  *made = false;
  int rc = git(dir, add, NULL, err, errlen);
  if (rc)
    return rc;
  rc = git(dir, quiet, NULL, NULL, 0);
  if (rc == 0)
    return 0; /* nothing staged */
  if (rc != 1) {
    set_err(err, errlen, "git diff --cached failed with status %d", rc);
    return rc;
  }
  rc = git(dir, commit, NULL, err, errlen);
  *made = rc == 0;
  return rc;
}

int exec_wt_commit(const char *dir, const char *message, const char *base_sha,
                   exec_changes_t *out, char *err, size_t errlen)
{
  outbuf_t o = {0};
  memset(out, 0, sizeof *out);
  int rc = commit_all(dir, message, &out->committed, err, errlen);
  if (!rc)
    rc = head_sha(dir, out->head, err, errlen);
  if (!rc) {
    const char *numstat[] = {"diff", "--numstat", "-z", "--no-renames",
                             base_sha, out->head, NULL};
    rc = git(dir, numstat, &o, err, errlen);
    if (rc == 1 && o.over)
      rc = 0; /* stopped at the cap: listed as truncated */
  }
  if (!rc)
    rc = parse_numstat(&o, out);
  if (rc == -ENOMEM)
    set_err(err, errlen, "out of memory listing the changes");
  free(o.data);
  if (rc)
    exec_changes_fini(out);
  return rc;
}
