/*
 * exec_test.c: helpers shared by the executor suites. See exec_test.h.
 */
#include "tests/executor/exec_test.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/rt_test.h" /* TST_ASAN */
#include "tests/support/store_test.h"

#if TST_ASAN
#include <sanitizer/lsan_interface.h>
#endif

void ext_leak_check(void)
{
#if TST_ASAN
  if (__lsan_do_recoverable_leak_check()) {
    fprintf(stderr, "LeakSanitizer found leaks in this test (above)\n");
    abort();
  }
#endif
}

void ext_collect(void *ud, int stream, const char *line, size_t len,
                 unsigned flags)
{
  ext_lines_t *l = ud;
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->text = realloc(l->text, l->cap * sizeof *l->text);
    l->len = realloc(l->len, l->cap * sizeof *l->len);
    l->stream = realloc(l->stream, l->cap * sizeof *l->stream);
    l->flags = realloc(l->flags, l->cap * sizeof *l->flags);
    cr_assert(l->text && l->len && l->stream && l->flags);
  }
  char *copy = malloc(len + 1);
  cr_assert_not_null(copy);
  memcpy(copy, line, len);
  copy[len] = '\0';
  l->text[l->n] = copy;
  l->len[l->n] = len;
  l->stream[l->n] = stream;
  l->flags[l->n] = flags;
  l->n++;
}

void ext_lines_free(ext_lines_t *l)
{
  for (size_t i = 0; i < l->n; i++)
    free(l->text[i]);
  free(l->text);
  free(l->len);
  free(l->stream);
  free(l->flags);
  memset(l, 0, sizeof *l);
}

long ext_lines_find(const ext_lines_t *l, int stream, const char *s)
{
  for (size_t i = 0; i < l->n; i++)
    if (l->stream[i] == stream && strcmp(l->text[i], s) == 0)
      return (long)i;
  return -1;
}

bool ext_pid_dead(pid_t pid)
{
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return true;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *rp = strrchr(buf, ')');
  return !rp || rp[1] == '\0' || rp[2] == 'Z' || rp[2] == 'X';
}

size_t ext_read_pids(const char *pidfile, pid_t *out, size_t max)
{
  FILE *f = fopen(pidfile, "r");
  size_t n = 0;
  int pid;
  if (!f)
    return 0;
  while (n < max && fscanf(f, "%d", &pid) == 1)
    out[n++] = (pid_t)pid;
  fclose(f);
  return n;
}

static uint64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

size_t ext_expect_pids_dead(const char *pidfile, int timeout_ms)
{
  pid_t pids[64];
  size_t n = ext_read_pids(pidfile, pids, 64);
  uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;
  for (size_t i = 0; i < n; i++) {
    while (!ext_pid_dead(pids[i]) && mono_ms() < deadline) {
      struct timespec ts = {0, 2000000};
      nanosleep(&ts, NULL);
    }
    cr_assert(ext_pid_dead(pids[i]), "pid %d (entry %zu of %s) still runs",
              (int)pids[i], i, pidfile);
  }
  return n;
}

static char *vformat(const char *fmt, va_list ap)
{
  char *s = NULL;
  cr_assert(vasprintf(&s, fmt, ap) >= 0);
  return s;
}

void ext_sh(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *cmd = vformat(fmt, ap);
  va_end(ap);
  int st = system(cmd);
  cr_assert_eq(st, 0, "command failed (%d): %s", st, cmd);
  free(cmd);
}

char *ext_sh_out(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *cmd = vformat(fmt, ap);
  va_end(ap);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p, "popen: %s", cmd);
  char *out = NULL;
  size_t len = 0, cap = 0;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
    if (len + n + 1 > cap) {
      cap = (len + n + 1) * 2;
      out = realloc(out, cap);
      cr_assert_not_null(out);
    }
    memcpy(out + len, buf, n);
    len += n;
  }
  int st = pclose(p);
  cr_assert_eq(st, 0, "command failed (%d): %s", st, cmd);
  free(cmd);
  if (!out)
    out = calloc(1, 1);
  out[len] = '\0';
  while (len > 0 && out[len - 1] == '\n')
    out[--len] = '\0';
  return out;
}

char *ext_read_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  cr_assert_not_null(s);
  size_t got = fread(s, 1, (size_t)n, f);
  fclose(f);
  s[got] = '\0';
  return s;
}

void ext_write_file(const char *path, const char *text)
{
  ext_sh("mkdir -p \"$(dirname '%s')\"", path);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
  fputs(text, f);
  fclose(f);
}

char *ext_git_repo(void)
{
  char *dir = tst_tmpdir();
  char path[4096];
  snprintf(path, sizeof path, "%s/README.md", dir);
  ext_write_file(path, "# demo\n");
  snprintf(path, sizeof path, "%s/src/main.c", dir);
  ext_write_file(path, "int main(void) { return 0; } /* TODO: args */\n");
  snprintf(path, sizeof path, "%s/.github/workflows/ci.yml", dir);
  ext_write_file(path, "on: push\n");
  ext_sh("cd '%s' && git init -q -b main . && git add -A && "
         "git -c user.name=t -c user.email=t@example.com commit -q -m init",
         dir);
  return dir;
}

const char *ext_transcript(const char *name)
{
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s.jsonl", EXT_DATA_DIR, name);
  return buf;
}

/* ------------------------------------------------------ helper servers */

#define SERVER_START_MS 30000

extern char **environ;

void ext_fake_github_start(ght_server_t *s, const char *log)
{
  int in[2], out[2];
  cr_assert(pipe(in) == 0 && pipe(out) == 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, in[1]);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  char *const argv[] = {"python3", EXT_FAKE_GITHUB, (char *)log, NULL};
  int rc = posix_spawnp(&s->pid, "python3", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  cr_assert_eq(rc, 0, "cannot start fake_github.py: %s", strerror(rc));
  close(in[0]);
  close(out[1]);
  s->stdin_fd = in[1];
  /* the port line, within a bound (python starts slowly under ASan load) */
  char line[32] = "";
  size_t n = 0;
  struct pollfd p = {.fd = out[0], .events = POLLIN};
  uint64_t deadline = mono_ms() + SERVER_START_MS;
  while (n + 1 < sizeof line && (n == 0 || line[n - 1] != '\n')) {
    uint64_t now = mono_ms();
    cr_assert(now < deadline, "fake_github.py printed no port in time");
    if (poll(&p, 1, (int)(deadline - now)) <= 0)
      continue;
    ssize_t got = read(out[0], line + n, sizeof line - 1 - n);
    cr_assert(got > 0, "fake_github.py exited before printing its port");
    n += (size_t)got;
  }
  close(out[0]);
  s->port = atoi(line);
  cr_assert(s->port > 0 && s->port < 65536, "bad port line '%s'", line);
}
