/*
 * crash_writer.c: a store writer to be killed (tests/store/test_crash.c,
 * test_cli.c). Built by meson, not installed.
 *
 *   crash_writer DIR [--threads N] [--max N] [--events] [--hold-sync N]
 *
 * Opens the store in DIR (durable commits), starts the runtime and the
 * store actor, and from N threads (default 4) writes tasks "w<thread>-<i>"
 * with store_write_sync; some tasks then walk the state machine with
 * TASK_UPDATE writes. After each acknowledgement it prints, in one write(2)
 * per line:
 *     acked <task-id> <state>
 * so whatever the test reads was durably committed before it was printed.
 * --events adds an event write per task (heavier commits). --max stops each
 * thread after N tasks, then shuts down cleanly and prints "done".
 *
 * --hold-sync N: the N-th flush of the process prints "syncing N" and then
 * blocks forever: the test kills the writer while the store actor is
 * provably in the middle of a commit. A flush is an fdatasync(2) (a
 * checkpoint syncing LMDB's pages, or the journal's header; held before it
 * runs) or a pwritev2(2) with RWF_DSYNC (a commit's journal record; held
 * after it ran, so the record is on disk and LMDB has not committed it).
 * The definitions below interpose on libc's (the executable's symbols
 * win).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "store/store_actor.h"

static rt_runtime_t *g_rt;
static rt_actor_t *g_actor;
static int g_max = -1;
static bool g_events;
static long g_hold_sync = -1;
static atomic_long g_syncs;
static proto_state_t g_chain[PROTO_STATE_COUNT];
static int g_chain_len;

static void say(const char *line) {
  size_t len = strlen(line), off = 0;
  while (off < len) {
    ssize_t n = write(1, line + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(4); /* the reader went away */
    off += (size_t)n;
  }
}

/* Count a flush; the N-th never returns. */
static void flush_point(void) {
  long n = atomic_fetch_add(&g_syncs, 1) + 1;
  if (n == g_hold_sync) {
    char line[64];
    snprintf(line, sizeof line, "syncing %ld\n", n);
    say(line);
    for (;;) pause(); /* mid-commit until SIGKILL */
  }
}

int fdatasync(int fd);
int fdatasync(int fd) {
  flush_point();
  return (int)syscall(SYS_fdatasync, fd);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off,
                 int flags);
ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off,
                 int flags) {
  ssize_t n = syscall(SYS_pwritev2, fd, iov, iovcnt, (long)off,
                      (long)((unsigned long long)off >> 32), flags);
  if (flags & RWF_DSYNC)
    flush_point();
  return n;
}

static void die(const char *what, int rc) {
  fprintf(stderr, "crash_writer: %s: %s\n", what, store_strerror(rc));
  exit(3);
}

static void acked(const char *id, proto_state_t st) {
  char line[128];
  snprintf(line, sizeof line, "acked %s %s\n", id, proto_state_name(st));
  say(line);
}

static void write_or_die(const proto_msg_t *m, const char *what) {
  store_ack_t ack;
  int rc = store_write_sync(g_rt, g_actor, m, 60000, &ack);
  if (rc) die(what, rc);
}

static void *writer(void *p) {
  int t = (int)(intptr_t)p;
  static const char *const kinds[] = {"todo", "fixme", "hack", "refactor"};
  for (int i = 0; g_max < 0 || i < g_max; i++) {
    char id[48], title[96], repo[16];
    snprintf(id, sizeof id, "w%d-%06d", t, i);
    snprintf(title, sizeof title, "Fix the retry loop found by thread %d, #%d", t, i);
    snprintf(repo, sizeof repo, "repo%d", t % 3);
    proto_msg_t m = {.type = PROTO_TASK};
    proto_task_t *k = &m.u.task;
    k->id = id;
    k->repo = repo;
    k->kind = (char *)kinds[i % 4];
    k->title = title;
    k->loc.path = "src/net/http_client.c";
    k->loc.line = (uint32_t)(i % 5000) + 1;
    k->text = "retry with backoff instead of failing on the first 503";
    k->score.total = (double)((i * 7919 + t) % 1000) / 10.0;
    k->score.value = 5;
    k->score.time_criticality = 3;
    k->score.risk_reduction = 2;
    k->score.job_size = 1;
    k->state = PROTO_STATE_NEW;
    k->first_seen = k->last_seen = k->updated_at = 1700000000000 + i;
    write_or_die(&m, id);
    acked(id, PROTO_STATE_NEW);
    if (g_events) {
      proto_msg_t e = {.type = PROTO_EVENT};
      e.u.event.seq = 1;
      e.u.event.topic = "tasks";
      e.u.event.ts = 1700000000000 + i;
      write_or_die(&e, "event");
    }
    /* Every other task walks part of the state machine. */
    int steps = (i % 2) ? (i / 2) % g_chain_len : 0;
    for (int s = 1; s <= steps; s++) {
      proto_msg_t u = {.type = PROTO_TASK_UPDATE};
      u.u.task_update = (proto_task_update_t){.task_id = id,
                                              .from = g_chain[s - 1],
                                              .to = g_chain[s],
                                              .actor = "crash_writer",
                                              .reason = "walking",
                                              .at = 1700000000000 + i + s};
      write_or_die(&u, id);
      acked(id, g_chain[s]);
    }
  }
  return NULL;
}

static void build_chain(void) {
  bool seen[PROTO_STATE_COUNT] = {false};
  proto_state_t cur = PROTO_STATE_NEW;
  g_chain[g_chain_len++] = cur;
  seen[cur] = true;
  for (;;) {
    int next = -1;
    for (int s = 0; s < PROTO_STATE_COUNT && next < 0; s++)
      if (!seen[s] && proto_state_transition_ok(cur, (proto_state_t)s)) next = s;
    if (next < 0) break;
    cur = (proto_state_t)next;
    seen[cur] = true;
    g_chain[g_chain_len++] = cur;
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: crash_writer DIR [--threads N] [--max N] "
                    "[--events] [--hold-sync N]\n");
    return 2;
  }
  const char *dir = argv[1];
  int threads = 4;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--max") && i + 1 < argc)
      g_max = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--hold-sync") && i + 1 < argc)
      g_hold_sync = atol(argv[++i]);
    else if (!strcmp(argv[i], "--events"))
      g_events = true;
    else {
      fprintf(stderr, "crash_writer: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (threads < 1 || threads > 64) return 2;
  build_chain();

  store_t *s = NULL;
  char err[512];
  int rc = store_open(dir, NULL, &s, err, sizeof err);
  if (rc) {
    fprintf(stderr, "crash_writer: %s\n", err);
    return 1;
  }
  rt_config_t cfg;
  rt_config_defaults(&cfg);
  cfg.workers = 2;
  rc = rt_runtime_new(&cfg, &g_rt);
  if (!rc) rc = store_actor_spawn(g_rt, s, "store", &g_actor);
  if (rc) {
    fprintf(stderr, "crash_writer: runtime: %s\n", rt_strerror(rc));
    return 1;
  }
  say("ready\n");
  pthread_t th[64];
  for (int t = 0; t < threads; t++)
    pthread_create(&th[t], NULL, writer, (void *)(intptr_t)t);
  for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
  rt_actor_release(g_actor);
  rt_runtime_shutdown(g_rt, RT_SHUTDOWN_DRAIN);
  store_close(s);
  rt_runtime_free(g_rt);
  say("done\n");
  return 0;
}
