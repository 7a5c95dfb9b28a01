/*
 * gitcmd.c: see gitcmd.h. posix_spawnp with two pipes, read with poll()
 * so that neither pipe can fill up and block git while we wait on the
 * other.
 */
#include "scan/gitcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define GIT_MAX_ARGS 64
#define GIT_ERR_KEEP 512

typedef struct git_child {
  pid_t pid;
  int out_fd;
  int err_fd;
  char errbuf[GIT_ERR_KEEP];
  size_t errlen;
} git_child_t;

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


/* environ without LC_ALL / GIT_TERMINAL_PROMPT, plus our two settings. */
static char **child_env(void)
{
  size_t n = 0, k = 0;
  while (environ[n])
    n++;
  char **env = calloc(n + 3, sizeof *env);
  if (!env)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    if (strncmp(environ[i], "LC_ALL=", 7) == 0 ||
        strncmp(environ[i], "GIT_TERMINAL_PROMPT=", 20) == 0)
      continue;
    env[k++] = environ[i];
  }
  env[k++] = (char *)"LC_ALL=C";
  env[k++] = (char *)"GIT_TERMINAL_PROMPT=0";
  env[k] = NULL;
  return env;
}

static int build_argv(const char *dir, const char *const args[],
                      const char **argv)
{
  size_t n = 0;
  argv[n++] = "git";
  argv[n++] = "-C";
  argv[n++] = dir;
  for (size_t i = 0; args[i]; i++) {
    if (n + 1 >= GIT_MAX_ARGS)
      return -1;
    argv[n++] = args[i];
  }
  argv[n] = NULL;
  return 0;
}

static int spawn_git(const char *dir, const char *const args[],
                     git_child_t *c, char *err, size_t errlen)
{
  const char *argv[GIT_MAX_ARGS];
  int out[2] = {-1, -1}, errp[2] = {-1, -1}, rc = -1;
  posix_spawn_file_actions_t fa;
  char **env = NULL;

  if (build_argv(dir, args, argv) != 0) {
    set_err(err, errlen, "%s", "too many git arguments");
    return -1;
  }
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0 ||
      !(env = child_env())) {
    set_err(err, errlen, "cannot start git: %s", strerror(errno));
    goto fail;
  }
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
  int se = posix_spawnp(&c->pid, "git", &fa, NULL, (char *const *)argv, env);
  posix_spawn_file_actions_destroy(&fa);
  if (se != 0) {
    set_err(err, errlen, "cannot start git: %s", strerror(se));
    rc = 127;
    goto fail;
  }
  free(env);
  close(out[1]);
  close(errp[1]);
  c->out_fd = out[0];
  c->err_fd = errp[0];
  c->errlen = 0;
  return 0;
fail:
  free(env);
  for (int i = 0; i < 2; i++) {
    if (out[i] >= 0)
      close(out[i]);
    if (errp[i] >= 0)
      close(errp[i]);
  }
  return rc;
}

/* Read what is ready on one pipe; returns bytes read, 0 at EOF, -1 error. */
static ssize_t read_some(int fd, char *buf, size_t cap)
{
  ssize_t n;
  do {
    n = read(fd, buf, cap);
  } while (n < 0 && errno == EINTR);
  return n;
}

static void keep_stderr(git_child_t *c, const char *buf, size_t n)
{
  size_t room = sizeof c->errbuf - 1 - c->errlen;
  if (n > room)
    n = room;
  memcpy(c->errbuf + c->errlen, buf, n);
  c->errlen += n;
  c->errbuf[c->errlen] = '\0';
}

/* Pump both pipes until EOF on both or the callback stops. */
static int pump(git_child_t *c, gitcmd_out_fn out, void *ud)
{
  char buf[65536];
  struct pollfd p[2] = {{c->out_fd, POLLIN, 0}, {c->err_fd, POLLIN, 0}};
  int open_fds = 2;

  while (open_fds > 0) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    for (int i = 0; i < 2; i++) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      ssize_t n = read_some(p[i].fd, buf, sizeof buf);
      if (n <= 0) {
        p[i].fd = -1;
        open_fds--;
        continue;
      }
      if (i == 1) {
        keep_stderr(c, buf, (size_t)n);
        continue;
      }
      int stop = out ? out(ud, buf, (size_t)n) : 0;
      if (stop)
        return stop;
    }
  }
  return 0;
}

static int wait_git(pid_t pid)
{
  int st;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR)
      return -1;
  }
  if (WIFEXITED(st))
    return WEXITSTATUS(st);
  return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* git's first stderr line, without "fatal: " noise kept as it is. */
static void first_line(const git_child_t *c, char *err, size_t errlen,
                       int status)
{
  if (!err || !errlen)
    return;
  if (c->errlen == 0) {
    snprintf(err, errlen, "git exited with status %d", status);
    return;
  }
  size_t n = strcspn(c->errbuf, "\n");
  snprintf(err, errlen, "%.*s", (int)n, c->errbuf);
}

int gitcmd_run(const char *dir, const char *const args[], gitcmd_out_fn out,
               void *ud, char *err, size_t errlen)
{
  git_child_t c;
  memset(&c, 0, sizeof c);
  int rc = spawn_git(dir, args, &c, err, errlen);
  if (rc != 0)
    return rc;
  int stopped = pump(&c, out, ud);
  if (stopped)
    kill(c.pid, SIGKILL);
  close(c.out_fd);
  close(c.err_fd);
  int status = wait_git(c.pid);
  if (stopped) {
    if (stopped < 0)
      set_err(err, errlen, "reading git's output: %s", strerror(errno));
    return stopped;
  }
  if (status != 0)
    first_line(&c, err, errlen, status);
  return status;
}
