/*
 * bench_webhook.c: the webhook pipeline of `ccm serve` for bench/run
 * webhook (run_webhook.py): a durable store in --dir, its store actor, the
 * event handler (actors/github/events.h, which persists every delivery id
 * with group commit and turns pushes into scan requests), a "scanner"
 * that counts the scan requests it gets, and the control plane on
 * 127.0.0.1 port 0 with POST /webhooks/github and the secret of
 * --secret. One repository, github Codertocat/Hello-World (the example
 * payloads' repository), so every push is handled end to end.
 *
 * Prints "PORT n", then runs until stdin closes, answering each "stats"
 * line with "STATS <scan requests> <delivery ids persisted>".
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/github/events.h"
#include "bench/bench_util.h"
#include "store/store_actor.h"
#include "web/web.h"

static const char *prog = "bench_webhook";
static atomic_ulong scans;

static void count_scan(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  (void)ctx;
  (void)state;
  if (rt_msg_type(msg) == GHEV_MSG_SCAN)
    atomic_fetch_add(&scans, 1);
}

static const rt_actor_type_t counter_type = {.name = "scan-counter",
                                             .on_msg = count_scan};

static void print_stats(store_t *store)
{
  uint64_t persisted = 0;
  store_deliveries_count(store, &persisted);
  printf("STATS %lu %llu\n", atomic_load(&scans),
         (unsigned long long)persisted);
  fflush(stdout);
}

int main(int argc, char **argv)
{
  const char *dir = NULL, *secret = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--dir"))
      dir = argv[i + 1];
    else if (!strcmp(argv[i], "--secret"))
      secret = argv[i + 1];
  }
  if (!dir || !secret)
    bench_die(prog, "usage", "--dir DIR --secret SECRET");
  char err[512];
  store_t *store = NULL;
  if (store_open(dir, NULL, &store, err, sizeof(err)))
    bench_die(prog, "store", err);
  rt_runtime_t *rt = NULL;
  rt_actor_t *writer = NULL, *scanner = NULL, *handler = NULL;
  if (rt_runtime_new(NULL, &rt) ||
      store_actor_spawn(rt, store, "store", &writer))
    bench_die(prog, "runtime", "cannot start");
  rt_spawn_opts_t so = {.name = "scanner", .mailbox_capacity = 65536};
  if (rt_actor_spawn(rt, &counter_type, NULL, &so, &scanner))
    bench_die(prog, "scanner", "cannot start");
  static const ghev_repo_t repo = {.id = "hello-world",
                                   .github = "Codertocat/Hello-World"};
  ghev_config_t hc = {.store = store, .store_actor = writer, .repos = &repo,
                      .n_repos = 1};
  if (ghev_spawn(rt, &hc, &handler))
    bench_die(prog, "handler", "cannot start");
  static const web_repo_t wrepo = {.id = "hello-world", .path = "/nonexistent",
                                   .github = "Codertocat/Hello-World"};
  web_config_t wc;
  web_config_defaults(&wc);
  wc.listen = "127.0.0.1:0";
  wc.webhook_secret = secret;
  wc.repos = &wrepo;
  wc.n_repos = 1;
  web_t *web = NULL;
  if (web_start(rt, store, writer, &wc, &web, err, sizeof(err)))
    bench_die(prog, "web", err);
  printf("PORT %d\n", web_port(web));
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof(line), stdin))
    if (!strncmp(line, "stats", 5))
      print_stats(store);
  web_stop(web);
  rt_actor_release(handler);
  rt_actor_release(scanner);
  rt_actor_release(writer);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  rt_runtime_free(rt);
  store_close(store);
  return 0;
}
