/*
 * bench_web.c: the control plane under load, the server side of
 * `bench/run web` (bench/run_web.py drives it; bench_ws_clients.c is the
 * WebSocket side).
 *
 *   bench_web --dir DIR [--tasks N] [--no-sync]
 *
 * Opens a durable store in DIR (as `ccm serve` does: no MDB_NOSYNC),
 * writes N tasks (default 10,000) straight through store/ before anything
 * serves (--no-sync: MDB_NOSYNC, a diagnostic that shows what the commits'
 * flushes add to delivery latency), then starts a runtime (one worker per CPU), the store actor and
 * the web server on 127.0.0.1 port 0 with the product's defaults, and
 * prints `PORT <port>`. Then it reads commands on stdin, one per line:
 *
 *   publish RATE SECONDS   web_publish() on topic "tasks" RATE times a
 *                          second for SECONDS, paced on absolute deadlines;
 *                          each event's data is a task (as proto_json_encode
 *                          gives it, ~600 bytes on the wire) with
 *                          "bench_ns": CLOCK_MONOTONIC at the call, so a
 *                          client on this machine measures delivery latency.
 *                          Answers `PUBLISHED <sent> <refused> <seconds>`.
 *   quit (or end of input) stop the server, the runtime and the store.
 *
 * Published events go the product's whole way: the bridge actor, the
 * store actor's group commit (fsync), the event log, the service thread's
 * fan-out. Nothing here touches web/ internals.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench_util.h"
#include "runtime/rt.h"
#include "store/store_actor.h"
#include "web/web.h"

#define SEED_BATCH 1000

static void die(const char *what, const char *why)
{
  bench_die("bench_web", what, why);
}

/* ----------------------------------------------------------------- tasks */

static const char *const kinds[] = {"todo", "fixme", "hack", "refactor",
                                    "secret"};
static const char *const repos[] = {"acme-widgets", "acme-api", "acme-web"};
static const proto_state_t states[] = {PROTO_STATE_NEW, PROTO_STATE_TRIAGED,
                                       PROTO_STATE_READY};

typedef struct task_rec {
  char id[41];
  char title[64];
  proto_task_t t; /* borrows id, title and static strings */
} task_rec_t;

static uint64_t mix64(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* Task @p i: a 40-hex-digit id (a fingerprint), spread over three repos,
 * five kinds, three states and a range of scores. */
static void task_make(task_rec_t *r, uint64_t i)
{
  snprintf(r->id, sizeof(r->id), "%016llx%016llx%08llx",
           (unsigned long long)mix64(i),
           (unsigned long long)mix64(i + (1ull << 40)),
           (unsigned long long)(mix64(i + (2ull << 40)) & 0xffffffffull));
  snprintf(r->title, sizeof(r->title), "Retry the upload with backoff (#%llu)",
           (unsigned long long)i);
  int64_t seen = 1700000000000ll + (int64_t)i;
  double value = (double)(i % 10) + 1, size = (double)(i % 5) + 1;
  r->t = (proto_task_t){
      .id = r->id, .repo = (char *)repos[i % 3],
      .kind = (char *)kinds[i % 5], .title = r->title,
      .loc = {.path = "src/net/http_client.c",
              .line = (uint32_t)(i % 4000) + 1, .column = 5},
      .text = "retry with backoff on 503", .first_seen = seen,
      .last_seen = seen, .updated_at = seen, .state = states[i % 3],
      .score = {.value = value, .time_criticality = 4,
                .risk_reduction = 3, .job_size = size,
                .total = (value + 7) / size}};
}

static void seed(store_t *s, uint64_t n)
{
  task_rec_t r;
  for (uint64_t i = 0; i < n;) {
    store_txn_t *x = NULL;
    int rc = store_write_begin(s, &x);
    for (uint64_t end = i + SEED_BATCH; !rc && i < n && i < end; i++) {
      task_make(&r, i);
      rc = store_task_put(x, &r.t, "bench", "seed");
    }
    if (!rc)
      rc = store_write_commit(x);
    else
      store_write_abort(x);
    if (rc)
      die("seeding the store", store_strerror(rc));
  }
}

/* -------------------------------------------------------------- publish */

static void sleep_until(uint64_t ns)
{
  struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
                        .tv_nsec = (long)(ns % 1000000000ull)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

/* The event data: task 0 as JSON, plus the send time. */
static json_t *event_data(void)
{
  task_rec_t r;
  task_make(&r, 0);
  proto_msg_t m = {.type = PROTO_TASK};
  m.u.task = r.t;
  json_t *d = proto_json_encode(&m);
  if (!d)
    die("proto_json_encode", "no memory");
  return d;
}

static void publish(web_t *web, unsigned rate, unsigned seconds)
{
  json_t *data = event_data();
  uint64_t total = (uint64_t)rate * seconds, sent = 0, refused = 0;
  uint64_t period = 1000000000ull / (rate ? rate : 1), start = bench_now_ns();
  for (uint64_t i = 0; i < total; i++) {
    sleep_until(start + i * period);
    json_object_set_new(data, "bench_ns", json_integer((json_int_t)bench_now_ns()));
    if (web_publish(web, "tasks", data) == 0)
      sent++;
    else
      refused++;
  }
  printf("PUBLISHED %llu %llu %.3f\n", (unsigned long long)sent,
         (unsigned long long)refused, (double)(bench_now_ns() - start) / 1e9);
  fflush(stdout);
  json_decref(data);
}

/* ----------------------------------------------------------------- main */

typedef struct opts {
  const char *dir;
  uint64_t tasks;
  bool no_sync;
} opts_t;

static void parse_args(int argc, char **argv, opts_t *o)
{
  o->dir = NULL;
  o->tasks = 10000;
  o->no_sync = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--no-sync"))
      o->no_sync = true;
    else if (i + 1 < argc && !strcmp(argv[i], "--dir"))
      o->dir = argv[++i];
    else if (i + 1 < argc && !strcmp(argv[i], "--tasks"))
      o->tasks = strtoull(argv[++i], NULL, 10);
    else
      die("unknown option", argv[i]);
  }
  if (!o->dir)
    die("usage", "bench_web --dir DIR [--tasks N] [--no-sync]");
}

static void command_loop(web_t *web)
{
  char line[256];
  while (fgets(line, sizeof(line), stdin)) {
    unsigned rate = 0, seconds = 0;
    if (sscanf(line, "publish %u %u", &rate, &seconds) == 2)
      publish(web, rate, seconds);
    else if (!strncmp(line, "quit", 4))
      return;
    else
      fprintf(stderr, "bench_web: unknown command: %s", line);
  }
}

int main(int argc, char **argv)
{
  opts_t o;
  parse_args(argc, argv, &o);
  char err[512];
  store_t *store = NULL;
  store_options_t so = {.no_sync = o.no_sync};
  int rc = store_open(o.dir, &so, &store, err, sizeof(err));
  if (rc)
    die("store_open", err);
  seed(store, o.tasks);

  rt_runtime_t *rt = NULL;
  rt_actor_t *store_actor = NULL;
  if ((rc = rt_runtime_new(NULL, &rt)) != 0)
    die("rt_runtime_new", rt_strerror(rc));
  if ((rc = store_actor_spawn(rt, store, "store", &store_actor)) != 0)
    die("store_actor_spawn", rt_strerror(rc));
  web_config_t cfg;
  web_config_defaults(&cfg);
  cfg.listen = "127.0.0.1:0";
  static const web_repo_t repo = {.id = "acme-api", .path = "/srv/acme-api"};
  cfg.repos = &repo;
  cfg.n_repos = 1;
  web_t *web = NULL;
  if ((rc = web_start(rt, store, store_actor, &cfg, &web, err, sizeof(err))))
    die("web_start", err);
  printf("PORT %d\n", web_port(web));
  fflush(stdout);

  command_loop(web);

  web_stop(web);
  rt_actor_release(store_actor);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  rt_runtime_free(rt);
  store_close(store);
  return 0;
}
