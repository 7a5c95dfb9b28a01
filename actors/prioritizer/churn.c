/* churn.c: see churn.h. */
#include "actors/prioritizer/churn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef struct churn_entry {
  char *path;
  int32_t commits;
} churn_entry_t;

struct prio_churn {
  churn_entry_t *v;
  size_t n;
  char *text; /* the paths point into it */
};

static int by_path(const void *a, const void *b)
{
  return strcmp(((const churn_entry_t *)a)->path,
                ((const churn_entry_t *)b)->path);
}

/* Sort the entries and fold repeats into counts. */
static void fold(prio_churn_t *c)
{
  qsort(c->v, c->n, sizeof *c->v, by_path);
  size_t o = 0;
  for (size_t i = 0; i < c->n; i++) {
    if (o && !strcmp(c->v[o - 1].path, c->v[i].path))
      c->v[o - 1].commits++;
    else
      c->v[o++] = c->v[i];
  }
  c->n = o;
}

int prio_churn_parse(const char *text, size_t len, prio_churn_t **out)
{
  *out = NULL;
  prio_churn_t *c = calloc(1, sizeof *c);
  char *t = malloc(len + 1);
  size_t lines = 0;
  for (size_t i = 0; i < len; i++)
    lines += text[i] == '\n';
  churn_entry_t *v = malloc((lines + 1) * sizeof *v);
  if (!c || !t || !v) {
    free(c), free(t), free(v);
    return -ENOMEM;
  }
  memcpy(t, text, len);
  t[len] = '\0';
  c->text = t;
  c->v = v;
  char *save = NULL;
  for (char *line = strtok_r(t, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save))
    c->v[c->n++] = (churn_entry_t){line, 1};
  fold(c);
  *out = c;
  return 0;
}

/* Read the child's output until EOF or the cap. */
static int read_all(int fd, char **buf, size_t *len)
{
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap);
  if (!b)
    return -ENOMEM;
  for (;;) {
    if (n == cap) {
      if (cap >= PRIO_CHURN_MAX_OUTPUT)
        break; /* the cap: rank on what was read */
      char *nb = realloc(b, cap * 2);
      if (!nb) {
        free(b);
        return -ENOMEM;
      }
      b = nb;
      cap *= 2;
    }
    ssize_t k = read(fd, b + n, cap - n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    n += (size_t)k;
  }
  /* a path cut by the cap is dropped */
  while (n > 0 && n == cap && b[n - 1] != '\n')
    n--;
  *buf = b;
  *len = n;
  return 0;
}

static int spawn_git(const char *repo, unsigned days, int *fd, pid_t *pid)
{
  char since[64], max[64];
  snprintf(since, sizeof since, "--since=%u.days", days);
  snprintf(max, sizeof max, "--max-count=%d", PRIO_CHURN_MAX_COMMITS);
  char *argv[] = {"git", "-C", (char *)repo, "log", since, max,
                  "--name-only", "--format=", "--no-renames", NULL};
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0)
    return -errno;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  int rc = posix_spawnp(pid, "git", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  if (rc) {
    close(p[0]);
    return -rc;
  }
  *fd = p[0];
  return 0;
}

int prio_churn_read(const char *repo_path, unsigned window_days,
                    prio_churn_t **out)
{
  *out = NULL;
  int fd;
  pid_t pid;
  int rc = spawn_git(repo_path, window_days, &fd, &pid);
  if (rc)
    return rc;
  char *buf = NULL;
  size_t len = 0;
  rc = read_all(fd, &buf, &len);
  close(fd); /* past the cap git gets SIGPIPE */
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  bool cut = WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE;
  if (!rc && !cut && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    rc = -EIO;
  if (!rc)
    rc = prio_churn_parse(buf, len, out);
  free(buf);
  return rc;
}

int32_t prio_churn_of(const prio_churn_t *c, const char *path)
{
  if (!c || !path)
    return 0;
  churn_entry_t key = {(char *)path, 0};
  const churn_entry_t *e = bsearch(&key, c->v, c->n, sizeof *c->v, by_path);
  return e ? e->commits : 0;
}

size_t prio_churn_files(const prio_churn_t *c)
{
  return c ? c->n : 0;
}

void prio_churn_free(prio_churn_t *c)
{
  if (!c)
    return;
  free(c->v);
  free(c->text);
  free(c);
}
