/*
 * gitcmd.c: see gitcmd.h. posix_spawnp with two pipes, read with poll()
 * so that neither pipe can fill up and block git while we wait on the
 * other. The same poll() waits for the deadline (its timeout) and for a
 * cancellation: gitcmd_cancel_all() writes a byte into a process-wide
 * pipe that is never drained while cancelled, so every running and later
 * poll() sees it readable at once. git is spawned as the leader of a new
 * process group, so one kill(-pid) reaches what it started too (a hook, a
 * credential helper, a pager) and no grandchild keeps our pipes open.
 */
#include "scan/gitcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
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

static struct {
  _Atomic uint64_t run_ms, query_ms;
  atomic_bool cancelled;
  pthread_once_t once;
  int cancel_rd, cancel_wr; /* -1 when the pipe could not be made */
} limits = {.run_ms = GITCMD_RUN_TIMEOUT_MS,
            .query_ms = GITCMD_QUERY_TIMEOUT_MS,
            .once = PTHREAD_ONCE_INIT, .cancel_rd = -1, .cancel_wr = -1};

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
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0); /* its own group: killed whole */
  int se = posix_spawnp(&c->pid, "git", &fa, &attr, (char *const *)argv, env);
  posix_spawnattr_destroy(&attr);
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

/* ---------------------------------------------------- deadlines, cancel */

static void cancel_pipe_make(void)
{
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
    return; /* deadlines still hold; a cancel waits for the next wake */
  limits.cancel_rd = fds[0];
  limits.cancel_wr = fds[1];
}

static int cancel_fd(void)
{
  pthread_once(&limits.once, cancel_pipe_make);
  return limits.cancel_rd;
}

void gitcmd_cancel_all(void)
{
  cancel_fd();
  if (atomic_exchange(&limits.cancelled, true) || limits.cancel_wr < 0)
    return;
  ssize_t n = write(limits.cancel_wr, "x", 1);
  (void)n; /* a full pipe is readable already */
}

void gitcmd_cancel_reset(void)
{
  char buf[64];
  int fd = cancel_fd();
  atomic_store(&limits.cancelled, false);
  while (fd >= 0 && read(fd, buf, sizeof buf) > 0) {
  }
}

void gitcmd_set_timeouts(uint64_t run_ms, uint64_t query_ms)
{
  if (run_ms)
    limits.run_ms = run_ms;
  if (query_ms)
    limits.query_ms = query_ms;
}

uint64_t gitcmd_run_timeout_ms(void) { return limits.run_ms; }
uint64_t gitcmd_query_timeout_ms(void) { return limits.query_ms; }

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The git subcommand in @p args (the first word that is not an option nor
 * an option's value: "-c name=value" comes before it). */
static const char *subcommand(const char *const args[])
{
  for (size_t i = 0; args[i]; i++) {
    if (!strcmp(args[i], "-c") || !strcmp(args[i], "-C")) {
      if (!args[++i])
        break;
      continue;
    }
    if (args[i][0] != '-')
      return args[i];
  }
  return "command";
}

static void set_timeout_err(char *err, size_t errlen,
                            const char *const args[], uint64_t ms)
{
  if (ms % 60000u == 0)
    set_err(err, errlen, "git %s timed out after %llu min", subcommand(args),
            (unsigned long long)(ms / 60000u));
  else if (ms % 1000u == 0)
    set_err(err, errlen, "git %s timed out after %llu s", subcommand(args),
            (unsigned long long)(ms / 1000u));
  else
    set_err(err, errlen, "git %s timed out after %llu ms", subcommand(args),
            (unsigned long long)ms);
}

/* -------------------------------------------------------------- running */

/* Hand one ready pipe's bytes on (pipe 1: stderr, kept); *closed at EOF.
 * @return 0 to go on, or the callback's stop value. */
static int drain_one(git_child_t *c, int i, int fd, char *buf, size_t cap,
                     gitcmd_out_fn out, void *ud, bool *closed)
{
  ssize_t n = read_some(fd, buf, cap);
  *closed = n <= 0;
  if (n <= 0)
    return 0;
  if (i == 1) {
    keep_stderr(c, buf, (size_t)n);
    return 0;
  }
  return out ? out(ud, buf, (size_t)n) : 0;
}

/* Pump both pipes until EOF on both, the callback stops, the deadline
 * passes (GITCMD_ETIMEDOUT) or a cancel (GITCMD_ECANCELLED). */
static int pump(git_child_t *c, uint64_t deadline, gitcmd_out_fn out,
                void *ud)
{
  char buf[65536];
  struct pollfd p[3] = {{c->out_fd, POLLIN, 0}, {c->err_fd, POLLIN, 0},
                        {cancel_fd(), POLLIN, 0}};
  int open_fds = 2;

  while (open_fds > 0) {
    if (atomic_load(&limits.cancelled))
      return GITCMD_ECANCELLED;
    uint64_t now = now_ms();
    if (now >= deadline)
      return GITCMD_ETIMEDOUT;
    uint64_t left = deadline - now;
    if (poll(p, 3, left > INT32_MAX ? INT32_MAX : (int)left) < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    for (int i = 0; i < 2; i++) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      bool closed;
      int stop = drain_one(c, i, p[i].fd, buf, sizeof buf, out, ud, &closed);
      if (stop)
        return stop;
      if (closed) {
        p[i].fd = -1;
        open_fds--;
      }
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

int gitcmd_run_within(const char *dir, const char *const args[],
                      uint64_t timeout_ms, gitcmd_out_fn out, void *ud,
                      char *err, size_t errlen)
{
  git_child_t c;
  memset(&c, 0, sizeof c);
  if (!timeout_ms)
    timeout_ms = limits.run_ms;
  if (atomic_load(&limits.cancelled)) {
    set_err(err, errlen, "git %s cancelled: ccm is stopping", subcommand(args));
    return GITCMD_ECANCELLED;
  }
  uint64_t deadline = now_ms() + timeout_ms;
  int rc = spawn_git(dir, args, &c, err, errlen);
  if (rc != 0)
    return rc;
  int stopped = pump(&c, deadline, out, ud);
  if (stopped)
    kill(-c.pid, SIGKILL); /* the group: what git started goes too */
  close(c.out_fd);
  close(c.err_fd);
  int status = wait_git(c.pid);
  if (stopped == GITCMD_ETIMEDOUT)
    set_timeout_err(err, errlen, args, timeout_ms);
  else if (stopped == GITCMD_ECANCELLED)
    set_err(err, errlen, "git %s cancelled: ccm is stopping", subcommand(args));
  else if (stopped < 0)
    set_err(err, errlen, "reading git's output: %s", strerror(errno));
  if (stopped)
    return stopped;
  if (status != 0)
    first_line(&c, err, errlen, status);
  return status;
}

int gitcmd_run(const char *dir, const char *const args[], gitcmd_out_fn out,
               void *ud, char *err, size_t errlen)
{
  return gitcmd_run_within(dir, args, limits.run_ms, out, ud, err, errlen);
}

int gitcmd_query(const char *dir, const char *const args[], gitcmd_out_fn out,
                 void *ud, char *err, size_t errlen)
{
  return gitcmd_run_within(dir, args, limits.query_ms, out, ud, err, errlen);
}

/* ------------------------------------------------------------ capturing */

typedef struct capture {
  char *data;
  size_t len, cap, max;
  bool over, nomem;
} capture_t;

static int capture_chunk(void *ud, const char *data, size_t n)
{
  capture_t *b = ud;
  if (b->max && b->len + n > b->max) {
    b->over = true;
    return GITCMD_ETOOBIG;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
      b->nomem = true;
      return -1;
    }
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int gitcmd_capture(const char *dir, const char *const args[],
                   uint64_t timeout_ms, size_t max, char **out, size_t *len,
                   char *err, size_t errlen)
{
  capture_t b = {.max = max};
  int rc = gitcmd_run_within(dir, args, timeout_ms, capture_chunk, &b, err,
                             errlen);
  if (b.over)
    set_err(err, errlen, "git %s printed more than %zu bytes",
            subcommand(args), max);
  else if (b.nomem)
    set_err(err, errlen, "%s", "out of memory reading git's output");
  if (!b.data && !(b.data = strdup("")))
    rc = rc ? rc : -1;
  *out = b.data;
  if (len)
    *len = b.len;
  return rc;
}
