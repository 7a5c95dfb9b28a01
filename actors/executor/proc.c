/*
 * proc.c: see proc.h. posix_spawn (vfork-like, so spawning from a busy
 * process is cheap) into a new process group; signals whose disposition
 * ccm changed (SIGPIPE is ignored by the web server) are reset to their
 * defaults in the child; every descriptor above stderr is closed in the
 * child, so no socket, LMDB file or other pipe of ccm leaks into an agent.
 */
#include "actors/executor/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_GRACE_MS 5000
#define DEFAULT_PUMP_BUDGET (256u * 1024u)
/* Without a pidfd (kernels before 5.3) the sync driver polls for the
 * child's exit this often. */
#define NO_PIDFD_POLL_MS 50

uint64_t exec_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

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

/* ------------------------------------------------------------ environment */

typedef struct env_list {
  char **v; /* "NAME=value", NULL-terminated once built */
  size_t n, cap;
} env_list_t;

static void env_free(env_list_t *e)
{
  for (size_t i = 0; i < e->n; i++)
    free(e->v[i]);
  free(e->v);
  memset(e, 0, sizeof *e);
}

/* Set NAME (nlen bytes) to value, replacing an earlier setting. */
static int env_set(env_list_t *e, const char *name, size_t nlen,
                   const char *value)
{
  size_t vlen = strlen(value);
  char *pair = malloc(nlen + vlen + 2);
  if (!pair)
    return -ENOMEM;
  memcpy(pair, name, nlen);
  pair[nlen] = '=';
  memcpy(pair + nlen + 1, value, vlen + 1);
  for (size_t i = 0; i < e->n; i++) {
    if (strncmp(e->v[i], name, nlen) == 0 && e->v[i][nlen] == '=') {
      free(e->v[i]);
      e->v[i] = pair;
      return 0;
    }
  }
  if (e->n + 2 > e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 16;
    char **v = realloc(e->v, cap * sizeof *v);
    if (!v) {
      free(pair);
      return -ENOMEM;
    }
    e->v = v;
    e->cap = cap;
  }
  e->v[e->n++] = pair;
  e->v[e->n] = NULL;
  return 0;
}

static const char *env_get(const env_list_t *e, const char *name)
{
  size_t nlen = strlen(name);
  for (size_t i = 0; i < e->n; i++)
    if (strncmp(e->v[i], name, nlen) == 0 && e->v[i][nlen] == '=')
      return e->v[i] + nlen + 1;
  return NULL;
}

/* The minimal base, then pass_env, then the explicit pairs. */
static int build_env(const exec_spawn_spec_t *spec, env_list_t *e, char *err,
                     size_t errlen)
{
  static const char *const base[][2] = {{"PATH", "/usr/local/bin:/usr/bin:/bin"},
                                        {"HOME", "/"},
                                        {"LANG", "C.UTF-8"},
                                        {"TERM", "dumb"}};
  int rc = 0;
  for (size_t i = 0; i < sizeof base / sizeof base[0] && !rc; i++) {
    const char *v = getenv(base[i][0]);
    rc = env_set(e, base[i][0], strlen(base[i][0]), v ? v : base[i][1]);
  }
  for (size_t i = 0; spec->pass_env && spec->pass_env[i] && !rc; i++) {
    const char *v = getenv(spec->pass_env[i]);
    if (v)
      rc = env_set(e, spec->pass_env[i], strlen(spec->pass_env[i]), v);
  }
  for (size_t i = 0; spec->env && spec->env[i] && !rc; i++) {
    const char *eq = strchr(spec->env[i], '=');
    if (!eq || eq == spec->env[i]) {
      set_err(err, errlen, "environment entry \"%s\" is not NAME=value",
              spec->env[i]);
      return -EINVAL;
    }
    rc = env_set(e, spec->env[i], (size_t)(eq - spec->env[i]), eq + 1);
  }
  if (rc)
    set_err(err, errlen, "out of memory building the environment");
  return rc;
}

/* argv[0] in the child's PATH (execvp's rule, with the child's PATH). */
static int resolve_program(const char *prog, const char *path, char *out,
                           size_t cap)
{
  if (strchr(prog, '/')) {
    if ((size_t)snprintf(out, cap, "%s", prog) >= cap)
      return -ENAMETOOLONG;
    return 0;
  }
  const char *p = path ? path : "";
  while (1) {
    size_t dlen = strcspn(p, ":");
    int n = dlen ? snprintf(out, cap, "%.*s/%s", (int)dlen, p, prog)
                 : snprintf(out, cap, "./%s", prog);
    if (n > 0 && (size_t)n < cap && access(out, X_OK) == 0)
      return 0;
    if (p[dlen] == '\0')
      return -ENOENT;
    p += dlen + 1;
  }
}

/* ------------------------------------------------------------------ spawn */

static int spawn_child(const exec_spawn_spec_t *spec, const char *prog,
                       char **envp, int out_w, int err_w, pid_t *pid)
{
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t none, dfl;

  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&at);
  posix_spawn_file_actions_addopen(
      &fa, 0, spec->stdin_path ? spec->stdin_path : "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w, 1);
  posix_spawn_file_actions_adddup2(&fa, err_w, 2);
  if (spec->cwd)
    posix_spawn_file_actions_addchdir_np(&fa, spec->cwd);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  sigemptyset(&none);
  sigemptyset(&dfl);
  for (int s = 1; s < 32; s++)
    if (s != SIGKILL && s != SIGSTOP)
      sigaddset(&dfl, s);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                    POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &dfl);
  int se = posix_spawn(pid, prog, &fa, &at, (char *const *)spec->argv, envp);
  posix_spawnattr_destroy(&at);
  posix_spawn_file_actions_destroy(&fa);
  return se ? -se : 0;
}

static int open_pipes(int out[2], int errp[2])
{
  out[0] = out[1] = errp[0] = errp[1] = -1;
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0)
    return -errno;
  for (int i = 0; i < 2; i++) {
    int fd = i == 0 ? out[0] : errp[0];
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
      return -errno;
  }
  return 0;
}

static void close_fd(int *fd)
{
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

int exec_proc_spawn(const exec_spawn_spec_t *spec, const exec_limits_t *lim,
                    size_t line_cap, exec_proc_t *p, char *err,
                    size_t errlen)
{
  int out[2] = {-1, -1}, errp[2] = {-1, -1};
  env_list_t env = {0};
  char prog[4096];
  int rc;

  memset(p, 0, sizeof *p);
  p->fd[0] = p->fd[1] = p->fd[2] = -1;
  if (!spec || !spec->argv || !spec->argv[0]) {
    set_err(err, errlen, "no command to run");
    return -EINVAL;
  }
  rc = build_env(spec, &env, err, errlen);
  if (rc)
    goto out;
  rc = resolve_program(spec->argv[0], env_get(&env, "PATH"), prog,
                       sizeof prog);
  if (rc) {
    set_err(err, errlen, "%s: not found in PATH", spec->argv[0]);
    goto out;
  }
  rc = open_pipes(out, errp);
  if (rc) {
    set_err(err, errlen, "cannot make pipes: %s", strerror(-rc));
    goto out;
  }
  rc = spawn_child(spec, prog, env.v, out[1], errp[1], &p->pid);
  if (rc) {
    set_err(err, errlen, "cannot start %s: %s", spec->argv[0], strerror(-rc));
    goto out;
  }
  p->fd[0] = out[0];
  p->fd[1] = errp[0];
  out[0] = errp[0] = -1;
  /* Readable when the child exits; -1 on kernels without pidfds. */
  p->fd[2] = (int)syscall(SYS_pidfd_open, p->pid, 0);
  if (p->fd[2] < 0)
    p->fd[2] = -1;
  p->lim = lim ? *lim : (exec_limits_t){0};
  if (!p->lim.grace_ms)
    p->lim.grace_ms = DEFAULT_GRACE_MS;
  exec_lines_init(&p->lines[0], line_cap);
  exec_lines_init(&p->lines[1], line_cap);
  p->started_ms = p->last_output_ms = exec_now_ms();
out:
  close_fd(&out[0]);
  close_fd(&out[1]);
  close_fd(&errp[0]);
  close_fd(&errp[1]);
  env_free(&env);
  return rc;
}

/* --------------------------------------------------------------- running */

void exec_proc_close_pipe(exec_proc_t *p, int stream, exec_line_fn fn,
                          void *ud)
{
  if (p->fd[stream] < 0)
    return;
  close_fd(&p->fd[stream]);
  if (fn)
    exec_lines_finish(&p->lines[stream], stream, fn, ud);
}

int exec_proc_pump(exec_proc_t *p, int stream, size_t budget,
                   exec_line_fn fn, void *ud)
{
  char buf[16384];
  size_t done = 0;
  if (p->fd[stream] < 0)
    return 1;
  if (!budget)
    budget = DEFAULT_PUMP_BUDGET;
  while (done < budget) {
    ssize_t n = read(p->fd[stream], buf, sizeof buf);
    if (n > 0) {
      p->bytes[stream] += (uint64_t)n;
      p->last_output_ms = exec_now_ms();
      exec_lines_feed(&p->lines[stream], buf, (size_t)n, stream, fn, ud);
      done += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return 0;
    return n == 0 ? 1 : -errno;
  }
  return 0;
}

bool exec_proc_reap(exec_proc_t *p)
{
  int st = 0;
  if (p->exited)
    return true;
  pid_t r = waitpid(p->pid, &st, WNOHANG);
  if (r == 0 || (r < 0 && errno == EINTR))
    return false;
  p->exited = true;
  p->status = r == p->pid ? st : 0;
  p->exited_ms = exec_now_ms();
  /* Whatever the leader left behind in its group goes with it. */
  kill(-p->pid, SIGKILL);
  return true;
}

static void send_term(exec_proc_t *p, exec_kill_reason_t why, uint64_t now)
{
  p->killed = why;
  p->term_ms = now;
  kill(-p->pid, SIGTERM);
}

void exec_proc_cancel(exec_proc_t *p, uint64_t now_ms)
{
  if (!p->exited && p->killed == EXEC_KILL_NONE && p->pid > 0)
    send_term(p, EXEC_KILL_CANCEL, now_ms);
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
  if (!a)
    return b;
  if (!b)
    return a;
  return a < b ? a : b;
}

/* Deadlines while the leader runs. */
static uint64_t tick_running(exec_proc_t *p, uint64_t now)
{
  const exec_limits_t *l = &p->lim;
  if (p->killed == EXEC_KILL_NONE) {
    if (l->wall_ms && now >= p->started_ms + l->wall_ms)
      send_term(p, EXEC_KILL_WALL, now);
    else if (l->idle_ms && now >= p->last_output_ms + l->idle_ms)
      send_term(p, EXEC_KILL_IDLE, now);
  }
  if (p->killed == EXEC_KILL_NONE)
    return earliest(l->wall_ms ? p->started_ms + l->wall_ms : 0,
                    l->idle_ms ? p->last_output_ms + l->idle_ms : 0);
  if (p->killed_hard)
    return 0; /* the exit is reported by the pidfd (or polled) */
  if (now >= p->term_ms + l->grace_ms) {
    kill(-p->pid, SIGKILL);
    p->killed_hard = true;
    return 0;
  }
  return p->term_ms + l->grace_ms;
}

uint64_t exec_proc_tick(exec_proc_t *p, uint64_t now_ms)
{
  if (!p->exited)
    return tick_running(p, now_ms);
  if (p->fd[0] < 0 && p->fd[1] < 0)
    return 0;
  if (now_ms >= p->exited_ms + p->lim.grace_ms) {
    p->abandon = true;
    return 0;
  }
  return p->exited_ms + p->lim.grace_ms;
}

bool exec_proc_finished(const exec_proc_t *p)
{
  return p->exited && p->fd[0] < 0 && p->fd[1] < 0;
}

void exec_proc_close(exec_proc_t *p)
{
  if (p->pid > 0 && !p->exited) {
    int st = 0;
    kill(-p->pid, SIGKILL);
    while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {
    }
    p->exited = true;
    p->status = st;
    p->killed_hard = true;
    p->exited_ms = exec_now_ms();
  }
  for (int i = 0; i < 3; i++)
    close_fd(&p->fd[i]);
  exec_lines_fini(&p->lines[0]);
  exec_lines_fini(&p->lines[1]);
}

int exec_proc_exit_code(const exec_proc_t *p)
{
  return p->exited && WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
}

int exec_proc_term_signal(const exec_proc_t *p)
{
  return p->exited && WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0;
}

/* ------------------------------------------------------- synchronous driver */

static int poll_timeout(const exec_proc_t *p, uint64_t next, uint64_t now)
{
  int t = -1;
  if (next)
    t = next > now ? (int)(next - now) : 0;
  if (!p->exited && p->fd[2] < 0 && (t < 0 || t > NO_PIDFD_POLL_MS))
    t = NO_PIDFD_POLL_MS;
  return t;
}

/* One round: wait for readiness or the next deadline, then act on it. */
static void run_round(exec_proc_t *p, exec_line_fn fn, void *ud)
{
  struct pollfd pf[3];
  int idx[3], n = 0;
  uint64_t now = exec_now_ms();
  uint64_t next = exec_proc_tick(p, now);
  if (p->abandon) {
    exec_proc_close_pipe(p, EXEC_STDOUT, fn, ud);
    exec_proc_close_pipe(p, EXEC_STDERR, fn, ud);
    return;
  }
  for (int i = 0; i < 3; i++) {
    if (p->fd[i] < 0 || (i == 2 && p->exited))
      continue;
    pf[n] = (struct pollfd){.fd = p->fd[i], .events = POLLIN};
    idx[n++] = i;
  }
  if (poll(pf, (nfds_t)n, poll_timeout(p, next, now)) < 0 && errno != EINTR)
    return;
  for (int k = 0; k < n; k++) {
    if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
      continue;
    if (idx[k] == 2)
      exec_proc_reap(p);
    else if (exec_proc_pump(p, idx[k], 0, fn, ud) != 0)
      exec_proc_close_pipe(p, idx[k], fn, ud);
  }
  if (p->fd[2] < 0)
    exec_proc_reap(p);
}

static void ignore_line(void *ud, int stream, const char *line, size_t len,
                        unsigned flags)
{
  (void)ud, (void)stream, (void)line, (void)len, (void)flags;
}

int exec_proc_run(const exec_spawn_spec_t *spec, const exec_limits_t *lim,
                  size_t line_cap, exec_line_fn fn, void *ud, exec_proc_t *p,
                  char *err, size_t errlen)
{
  int rc = exec_proc_spawn(spec, lim, line_cap, p, err, errlen);
  if (rc)
    return rc;
  if (!fn)
    fn = ignore_line;
  while (!exec_proc_finished(p))
    run_round(p, fn, ud);
  exec_proc_close(p);
  return 0;
}

/* ------------------------------------------------- across a restart */

/* Field 22 of /proc/<pid>/stat (after the command name, which may hold
 * spaces and parentheses: read from the last ')'); 0 when unknown. */
static unsigned long long start_time_of(pid_t pid)
{
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  const char *p = strrchr(buf, ')');
  unsigned long long t = 0;
  /* fields 3..21, then starttime */
  for (int field = 2; p && field < 22; field++)
    p = strchr(p + 1, ' ');
  if (p)
    t = strtoull(p + 1, NULL, 10);
  return t;
}

int exec_proc_record(const exec_proc_t *p, const char *path)
{
  unsigned long long t = start_time_of(p->pid);
  if (!t)
    return -ESRCH;
  char line[64];
  int len = snprintf(line, sizeof line, "%d %llu\n", (int)p->pid, t);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  int rc = write(fd, line, (size_t)len) == len ? 0 : -EIO;
  close(fd);
  return rc;
}

bool exec_proc_kill_recorded(const char *path)
{
  char line[64] = "";
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  ssize_t n = read(fd, line, sizeof line - 1);
  close(fd);
  unlink(path);
  int pid = 0;
  unsigned long long t = 0;
  if (n <= 0 || sscanf(line, "%d %llu", &pid, &t) != 2 || pid <= 1 || !t ||
      start_time_of(pid) != t)
    return false; /* gone, or the pid now belongs to someone else */
  return kill(-pid, SIGKILL) == 0;
}
