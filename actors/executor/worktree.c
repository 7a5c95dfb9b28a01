/*
 * worktree.c: see worktree.h. Every command goes through gitcmd_run or
 * gitcmd_capture (scan/gitcmd.h: bounded in time, killed when ccm stops),
 * whose output is collected up to a cap.
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
  size_t len;
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

/* git -C dir -c core.hooksPath=/dev/null args... (args NULL-terminated).
 * Output goes to @p out when not NULL (its data is the caller's to free,
 * also after a failure). Returns as gitcmd_run(). */
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
  if (!out)
    return gitcmd_run(dir, argv, NULL, NULL, err, errlen);
  int rc = gitcmd_capture(dir, argv, 0, OUT_MAX, &out->data, &out->len, err,
                          errlen);
  out->over = rc == GITCMD_ETOOBIG;
  return rc;
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

/* The first line of a small file, without its newline. */
static bool read_line_of(const char *path, char *out, size_t cap)
{
  FILE *f = fopen(path, "re");
  if (!f)
    return false;
  bool ok = fgets(out, (int)cap, f) != NULL;
  fclose(f);
  if (ok)
    out[strcspn(out, "\r\n")] = '\0';
  return ok && out[0];
}

/* The commit a worktree's branch points at, read from git's files
 * instead of a `git rev-parse` process (a process per run is milliseconds
 * on a loaded machine): <dir>/.git names the worktree's git dir, its HEAD
 * the branch, its commondir the repository's git dir, where `worktree add
 * -b` and `commit` write the branch as a loose ref. False whenever
 * anything differs from that (a packed ref, a detached HEAD): the caller
 * asks git. */
static bool head_from_files(const char *dir, char sha[EXEC_SHA_MAX])
{
  char path[4096], gitdir[2048], head[1024], common[2048];
  snprintf(path, sizeof path, "%s/.git", dir);
  if (!read_line_of(path, gitdir, sizeof gitdir) ||
      strncmp(gitdir, "gitdir: ", 8) != 0 || gitdir[8] != '/')
    return false;
  memmove(gitdir, gitdir + 8, strlen(gitdir + 8) + 1);
  snprintf(path, sizeof path, "%s/HEAD", gitdir);
  if (!read_line_of(path, head, sizeof head) || strncmp(head, "ref: ", 5))
    return false;
  snprintf(path, sizeof path, "%s/commondir", gitdir);
  if (!read_line_of(path, common, sizeof common))
    return false;
  int n = common[0] == '/'
              ? snprintf(path, sizeof path, "%s/%s", common, head + 5)
              : snprintf(path, sizeof path, "%s/%s/%s", gitdir, common,
                         head + 5);
  char line[64];
  if (n < 0 || (size_t)n >= sizeof path ||
      !read_line_of(path, line, sizeof line) || strlen(line) != 40 ||
      strspn(line, "0123456789abcdef") != 40)
    return false;
  memcpy(sha, line, 41);
  return true;
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

/* Each git command is a process (milliseconds on a loaded machine), so
 * the usual path runs as few as it can: `worktree remove` drops the
 * worktree's record itself, and a prune is needed only when it failed or
 * the directory was already gone (a record may be left); a branch is
 * deleted without asking first whether it exists. */
static int remove_locked(const char *repo, const char *dir, const char *branch,
                         char *err, size_t errlen)
{
  int rc = 0;
  bool removed = false;
  if (exists(dir)) {
    const char *rm[] = {"worktree", "remove", "--force", "--force", dir, NULL};
    /* fails for a directory git forgot */
    removed = git(repo, rm, NULL, NULL, 0) == 0 && !exists(dir);
    if (exists(dir) && (rc = rm_tree(dir)) != 0) {
      set_err(err, errlen, "cannot delete %s: %s", dir, strerror(-rc));
      return rc;
    }
  }
  const char *prune[] = {"worktree", "prune", NULL};
  if (!removed && (rc = git(repo, prune, NULL, err, errlen)) != 0)
    return rc;
  if (!branch)
    return 0;
  const char *del[] = {"branch", "-D", "-q", branch, NULL};
  rc = git(repo, del, NULL, err, errlen);
  if (rc && !branch_exists(repo, branch))
    rc = 0; /* there was none: "branch not found" */
  if (!rc && err && errlen)
    err[0] = '\0';
  return rc;
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
  const char *add[] = {"worktree", "add", "-q", "-b", branch, dir,
                       base ? base : "HEAD", NULL};
  pthread_mutex_lock(&worktree_list_lock);
  int rc = mkdir_parents(dir);
  if (rc) {
    set_err(err, errlen, "cannot make the parents of %s: %s", dir,
            strerror(-rc));
    pthread_mutex_unlock(&worktree_list_lock);
    return rc;
  }
  /* The usual case is a first attempt: nothing to remove, one command.
   * Anything left by an earlier attempt (directory, record, branch) makes
   * the add fail, and is removed before the one retry. */
  rc = exists(dir) ? 1 : git(repo, add, NULL, NULL, 0);
  if (rc) {
    rc = remove_locked(repo, dir, branch, err, errlen);
    if (!rc)
      rc = git(repo, add, NULL, err, errlen);
  }
  pthread_mutex_unlock(&worktree_list_lock);
  if (!rc && !head_from_files(dir, base_sha))
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

/* Stage everything; commit when anything is staged. `git commit` with
 * nothing staged exits 1 and says "nothing to commit" on stdout (LC_ALL=C
 * keeps the words), which saves a `git diff --cached --quiet` per run. */
static int commit_all(const char *dir, const char *message, bool *made,
                      char *err, size_t errlen)
{
  const char *add[] = {"add", "-A", NULL};
  const char *commit[] = {"-c", "user.name=ccm", "-c",
                          "user.email=ccm@localhost", "commit", "-q",
                          "--no-verify", "-m", message, NULL};
  *made = false;
  int rc = git(dir, add, NULL, err, errlen);
  if (rc)
    return rc;
  outbuf_t o = {0};
  rc = git(dir, commit, &o, err, errlen);
  if (rc == 1 && o.data && (strstr(o.data, "nothing to commit") ||
                            strstr(o.data, "nothing added to commit")))
    rc = 0; /* nothing staged */
  else
    *made = rc == 0;
  if (!rc && err && errlen)
    err[0] = '\0';
  free(o.data);
  return rc;
}

int exec_wt_commit(const char *dir, const char *message, const char *base_sha,
                   exec_changes_t *out, char *err, size_t errlen)
{
  outbuf_t o = {0};
  memset(out, 0, sizeof *out);
  int rc = commit_all(dir, message, &out->committed, err, errlen);
  if (!rc && !head_from_files(dir, out->head))
    rc = head_sha(dir, out->head, err, errlen);
  if (!rc) {
    const char *numstat[] = {"diff", "--numstat", "-z", "--no-renames",
                             base_sha, out->head, NULL};
    rc = git(dir, numstat, &o, err, errlen);
    if (rc == GITCMD_ETOOBIG && err && errlen)
      err[0] = '\0';
    if (rc == GITCMD_ETOOBIG)
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

/* ----------------------------------------------------------------- push */

/* The branch a pull request targets: @p base if it names a local branch,
 * else the one HEAD is on. */
static void base_branch(const char *repo, const char *base, char *out,
                        size_t len)
{
  outbuf_t o = {0};
  out[0] = '\0';
  if (base && branch_exists(repo, base)) {
    snprintf(out, len, "%s", base);
    return;
  }
  const char *sym[] = {"symbolic-ref", "--quiet", "--short", "HEAD", NULL};
  if (git(repo, sym, &o, NULL, 0) == 0 && o.data)
    snprintf(out, len, "%.*s", (int)strcspn(o.data, "\r\n"), o.data);
  free(o.data);
}

int exec_wt_push(const char *repo, const char *remote, const char *branch,
                 const char *base, char *base_name, size_t base_len,
                 char *err, size_t errlen)
{
  char refspec[600];
  if (snprintf(refspec, sizeof refspec, "+refs/heads/%s:refs/heads/%s",
               branch, branch) >= (int)sizeof refspec) {
    set_err(err, errlen, "branch name too long: %s", branch);
    return -ENAMETOOLONG;
  }
  base_branch(repo, base, base_name, base_len);
  const char *push[] = {"push", "--porcelain", "--quiet",
                        remote ? remote : "origin", refspec, NULL};
  int rc = git(repo, push, NULL, err, errlen);
  if (rc && err && errlen) {
    char why[512];
    snprintf(why, sizeof why, "%s", err);
    set_err(err, errlen, "git push %s %s failed (status %d): %s",
            remote ? remote : "origin", branch, rc, why);
  }
  return rc;
}
