/*
 * bench_exec.c: the executor's own overhead (bench/run executor runs it
 * beside a plain Python peer doing the same git and process work; see
 * bench/run_executor.py).
 *
 * Usage: bench_exec MODE --dir DIR [--tasks N] [--concurrency C]
 *                   [--blocking T]
 *   first-event  N tasks one after another: the time from the run request
 *                (EXEC_MSG_RUN, "dispatch") to the agent's first output
 *                line reaching the sink (AGENT_OUTPUT), in microseconds;
 *                each task's outcome is awaited before the next starts
 *   throughput   N tasks requested at once, C runs at a time: tasks per
 *                second from the first request to the last outcome EVENT,
 *                and the CPU time (user + system, this process and the
 *                git and agent processes it reaped) per task meanwhile,
 *                which a loaded machine disturbs far less than the rate
 * Everything real: a runtime (2 workers, T blocking threads, default 2),
 * an LMDB store under DIR with its actor (no fsync: the peer persists
 * nothing either), a git repository under DIR, and per task a worktree,
 * a prompt file, the agent process, the commit, numstat, the gate and the
 * clean-up. The agent is a trivial command (AGENT below): it prints one
 * stream-json line and writes one file, so the run is all overhead.
 *
 * Output: "RESULT <name> <value> <unit>" lines, then "INFO ..." lines.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "actors/executor/executor.h"
#include "bench/bench_util.h"
#include "protocol/proto.h"
#include "store/store_actor.h"

#define PROG "bench_exec"
#define WAIT_MS 120000
#define AGENT "printf '{\"type\":\"system\",\"subtype\":\"init\"}\\n'; " \
              "echo done > out.txt"

typedef struct bench {
  rt_runtime_t *rt;
  store_t *store;
  rt_actor_t *store_actor, *exec;
  rt_port_t *sink;
  exec_preset_t preset;
  exec_repo_t repo;
  exec_config_t cfg;
  char repo_dir[4096], data_dir[4096];
} bench_t;

static void check(int rc, const char *what)
{
  if (rc)
    bench_die(PROG, what, exec_strerror(rc));
}

static void make_repo(const char *dir)
{
  char cmd[3 * 4096 + 256];
  snprintf(cmd, sizeof cmd,
           "rm -rf '%s' && mkdir -p '%s' && cd '%s' && git init -q -b main && "
           "echo hello > README.md && git add README.md && "
           "git -c user.name=b -c user.email=b@localhost commit -q -m init",
           dir, dir, dir);
  if (system(cmd) != 0)
    bench_die(PROG, "git", "cannot make the repository");
}

static void bench_init(bench_t *b, const char *dir, unsigned concurrency,
                       unsigned blocking)
{
  static const char *const agent[] = {"/bin/sh", "-c", AGENT, NULL};
  memset(b, 0, sizeof *b);
  snprintf(b->repo_dir, sizeof b->repo_dir, "%s/repo", dir);
  snprintf(b->data_dir, sizeof b->data_dir, "%s/data", dir);
  char cmd[8300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", b->data_dir,
           b->data_dir);
  if (system(cmd) != 0)
    bench_die(PROG, "data dir", b->data_dir);
  make_repo(b->repo_dir);
  rt_config_t rc;
  rt_config_defaults(&rc);
  rc.workers = 2;
  if (blocking)
    rc.blocking_threads = blocking;
  check(rt_runtime_new(&rc, &b->rt), "runtime");
  store_options_t so = {.no_sync = true};
  char err[512];
  if (store_open(b->data_dir, &so, &b->store, err, sizeof err) != 0)
    bench_die(PROG, "store", err);
  check(store_actor_spawn(b->rt, b->store, NULL, &b->store_actor), "store");
  check(rt_port_new(b->rt, 1u << 16, &b->sink), "port");
  b->preset = (exec_preset_t){.name = "trivial", .kind = EXEC_AGENT_COMMAND,
                              .command = agent};
  b->repo = (exec_repo_t){.id = "bench", .path = b->repo_dir};
  exec_config_defaults(&b->cfg);
  b->cfg.data_dir = b->data_dir;
  b->cfg.concurrency = concurrency;
  b->cfg.presets = &b->preset;
  b->cfg.npresets = 1;
  b->cfg.repos = &b->repo;
  b->cfg.nrepos = 1;
  b->cfg.sink = rt_port_actor(b->sink);
  check(exec_spawn(b->rt, &b->cfg, b->store, b->store_actor, NULL, &b->exec),
        "executor");
}

static void bench_fini(bench_t *b)
{
  rt_runtime_shutdown(b->rt, RT_SHUTDOWN_DRAIN);
  rt_actor_release(b->exec);
  rt_actor_release(b->store_actor);
  rt_port_free(b->sink);
  rt_runtime_free(b->rt);
  store_close(b->store);
}

static void add_task(bench_t *b, const char *id)
{
  proto_msg_t m = {.type = PROTO_TASK};
  m.u.task = (proto_task_t){.id = (char *)id, .repo = (char *)"bench",
                            .kind = (char *)"todo",
                            .title = (char *)"write out.txt",
                            .state = PROTO_STATE_READY,
                            .first_seen = 1, .updated_at = 1};
  store_ack_t ack;
  int rc = store_write_sync(b->rt, b->store_actor, &m, WAIT_MS, &ack);
  check(rc ? rc : ack.rc, "task write");
}

/* The next message from the sink: its runtime type (the proto type). */
static uint32_t next_type(bench_t *b)
{
  rt_msg_t *m = NULL;
  if (rt_port_recv(b->sink, WAIT_MS, &m) != 0)
    bench_die(PROG, "sink", "nothing from the executor in time");
  uint32_t type = rt_msg_type(m);
  rt_msg_free(m);
  return type;
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void first_event(bench_t *b, unsigned n)
{
  uint64_t *us = calloc(n, sizeof *us);
  if (!us)
    bench_die(PROG, "memory", strerror(ENOMEM));
  char id[32];
  for (unsigned i = 0; i < n; i++) {
    snprintf(id, sizeof id, "fe-%u", i);
    add_task(b, id);
    uint64_t t0 = bench_now_ns();
    check(exec_request(b->rt, b->exec, id, false, WAIT_MS), "run");
    while (next_type(b) != PROTO_AGENT_OUTPUT)
      ;
    us[i] = (bench_now_ns() - t0) / 1000;
    while (next_type(b) != PROTO_EVENT)
      ;
  }
  qsort(us, n, sizeof *us, cmp_u64);
  printf("RESULT first_event_us %llu us\n", (unsigned long long)us[n / 2]);
  printf("INFO first_event_p90_us %llu\n",
         (unsigned long long)us[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1]);
  printf("INFO first_event_min_us %llu\n", (unsigned long long)us[0]);
  free(us);
}

/* CPU seconds used so far by this process and its reaped children. */
static double cpu_s(void)
{
  struct rusage self, kids;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  const struct timeval *v[] = {&self.ru_utime, &self.ru_stime,
                               &kids.ru_utime, &kids.ru_stime};
  double s = 0;
  for (size_t i = 0; i < 4; i++)
    s += (double)v[i]->tv_sec + (double)v[i]->tv_usec / 1e6;
  return s;
}

static void throughput(bench_t *b, unsigned n)
{
  char id[32];
  for (unsigned i = 0; i < n; i++) {
    snprintf(id, sizeof id, "tp-%u", i);
    add_task(b, id);
  }
  double cpu0 = cpu_s();
  uint64_t t0 = bench_now_ns();
  for (unsigned i = 0; i < n; i++) {
    snprintf(id, sizeof id, "tp-%u", i);
    check(exec_request(b->rt, b->exec, id, false, WAIT_MS), "run");
  }
  unsigned done = 0;
  while (done < n)
    done += next_type(b) == PROTO_EVENT;
  double s = (double)(bench_now_ns() - t0) / 1e9;
  printf("RESULT tasks_per_s %.2f tasks/s\n", n / s);
  printf("RESULT cpu_ms_per_task %.2f ms\n", (cpu_s() - cpu0) * 1e3 / n);
  printf("INFO throughput_tasks %u in %.3f s, concurrency %u\n", n, s,
         b->cfg.concurrency);
}

int main(int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "", *dir = NULL;
  unsigned n = 0, concurrency = 8, blocking = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--dir"))
      dir = argv[i + 1];
    else if (!strcmp(argv[i], "--tasks"))
      n = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--concurrency"))
      concurrency = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--blocking"))
      blocking = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else
      bench_die(PROG, "unknown option", argv[i]);
  }
  bool fe = !strcmp(mode, "first-event"), tp = !strcmp(mode, "throughput");
  if (!dir || (!fe && !tp)) {
    fprintf(stderr, "usage: %s first-event|throughput --dir DIR [--tasks N] "
            "[--concurrency C] [--blocking T]\n", PROG);
    return 2;
  }
  bench_t b;
  bench_init(&b, dir, fe ? 1 : concurrency, blocking);
  if (fe)
    first_event(&b, n ? n : 30);
  else
    throughput(&b, n ? n : 64);
  bench_fini(&b);
  return 0;
}
