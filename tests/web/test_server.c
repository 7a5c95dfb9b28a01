/*
 * test_server.c: the server's life cycle (web/server.c, web/bridge.c).
 *
 * Contract: listen addresses are parsed strictly and default to loopback;
 * port 0 binds a free port that web_port() reports; a taken port or a
 * foreign address fails web_start with an error and no leak; the server
 * stops from another thread than the one that started it, also with
 * clients connected; web_publish appends to the store's event log with
 * consecutive seqs from any number of threads, and refuses unknown topics.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_actor.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"
#include "tests/web/web_test.h"

TestSuite(server, .timeout = 60);

Test(server, parses_listen_addresses)
{
  web_addr_t a;
  cr_assert_eq(web_addr_parse("127.0.0.1:8080", &a), 0);
  cr_assert_str_eq(a.host, "127.0.0.1");
  cr_assert_eq(a.port, 8080);
  cr_assert_eq(a.ipv6, 0);
  cr_assert_eq(web_addr_parse("localhost:0", &a), 0);
  cr_assert_str_eq(a.host, "127.0.0.1");
  cr_assert_eq(a.port, 0);
  cr_assert_eq(web_addr_parse("[::1]:65535", &a), 0);
  cr_assert_str_eq(a.host, "::1");
  cr_assert_eq(a.port, 65535);
  cr_assert_eq(a.ipv6, 1);
  static const char *const bad[] = {
      NULL, "", "8080", ":8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x",
      "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:123456", "::1:80",
      "[::1]80", "[::1", "example.com:80", "256.0.0.1:80", "1.2.3.4:80:90",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_eq(web_addr_parse(bad[i], &a), WEB_EADDR, "accepted \"%s\"",
                 bad[i] ? bad[i] : "(null)");
}

Test(server, defaults_to_loopback)
{
  web_config_t c;
  web_config_defaults(&c);
  cr_assert_str_eq(c.listen, "127.0.0.1:8080");
  cr_assert_null(c.auth_token);
  cr_assert_null(c.cors_origin);
  cr_assert_gt(c.max_body, 0);
  cr_assert_gt(c.ws_queue_max, 0);
}

Test(server, port_zero_binds_a_free_port_and_serves)
{
  wt_server_t s;
  wt_start(&s, NULL);
  cr_assert_gt(s.port, 0);
  cr_assert_lt(s.port, 65536);
  wt_resp_t r;
  wt_http(&s, "GET", "/api/v1/health", NULL, NULL, &r);
  cr_assert_eq(r.status, 200, "%s", r.body);
  wt_resp_free(&r);
  wt_stop(&s);
}

/* Everything web_start needs except the server itself. */
typedef struct bare {
  char *dir;
  store_t *store;
  rt_runtime_t *rt;
  rt_actor_t *store_actor;
} bare_t;

static void bare_start(bare_t *b)
{
  b->dir = tst_tmpdir();
  store_options_t opt = {.no_sync = true};
  b->store = tst_store_open(b->dir, &opt);
  b->rt = tst_runtime(2);
  TST_OK(store_actor_spawn(b->rt, b->store, NULL, &b->store_actor));
}

static void bare_stop(bare_t *b)
{
  rt_actor_release(b->store_actor);
  tst_quiesce(b->rt);
  tst_runtime_free(b->rt);
  store_close(b->store);
  tst_rmrf(b->dir);
  free(b->dir);
}

Test(server, taken_port_fails_cleanly)
{
  wt_server_t s;
  wt_start(&s, NULL);
  bare_t b;
  bare_start(&b);
  char listen[32], err[256];
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", s.port);
  web_config_t c;
  web_config_defaults(&c);
  c.listen = listen;
  web_t *w = (web_t *)1;
  cr_assert_eq(web_start(b.rt, b.store, b.store_actor, &c, &w, err,
                         sizeof(err)),
               WEB_EBIND);
  cr_assert_null(w);
  cr_assert(strstr(err, listen), "error names the address: %s", err);
  bare_stop(&b);
  wt_stop(&s);
}

Test(server, bad_configuration_is_refused)
{
  bare_t b;
  bare_start(&b);
  web_config_t c;
  web_t *w = NULL;
  char err[256];
  web_config_defaults(&c);
  c.listen = "nowhere";
  cr_assert_eq(web_start(b.rt, b.store, b.store_actor, &c, &w, err,
                         sizeof(err)),
               WEB_EADDR);
  cr_assert(strstr(err, "nowhere"), "%s", err);
  web_config_defaults(&c);
  c.listen = "192.0.2.1:0"; /* TEST-NET: not an address of this machine */
  cr_assert_eq(web_start(b.rt, b.store, b.store_actor, &c, &w, err,
                         sizeof(err)),
               WEB_EBIND);
  web_config_defaults(&c);
  c.listen = "127.0.0.1:0";
  web_repo_t repo = {.id = "Bad/Id"};
  c.repos = &repo;
  c.n_repos = 1;
  cr_assert_eq(web_start(b.rt, b.store, b.store_actor, &c, &w, err,
                         sizeof(err)),
               WEB_EINVAL);
  web_config_defaults(&c);
  c.listen = "127.0.0.1:0";
  c.ws_queue_max = 0;
  cr_assert_eq(web_start(b.rt, b.store, b.store_actor, &c, &w, err,
                         sizeof(err)),
               WEB_EINVAL);
  cr_assert_null(w);
  bare_stop(&b);
}

typedef struct starter {
  bare_t *b;
  web_t *w;
  int rc;
} starter_t;

static void *start_in_thread(void *arg)
{
  starter_t *st = arg;
  web_config_t c;
  web_config_defaults(&c);
  c.listen = "127.0.0.1:0";
  st->rc = web_start(st->b->rt, st->b->store, st->b->store_actor, &c, &st->w,
                     NULL, 0);
  return NULL;
}

Test(server, stops_from_another_thread_with_clients_connected)
{
  bare_t b;
  bare_start(&b);
  starter_t st = {.b = &b};
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, start_in_thread, &st), 0);
  pthread_join(t, NULL);
  cr_assert_eq(st.rc, 0);
  wt_server_t view = {.port = web_port(st.w)};
  wt_ws_t d;
  wt_ws_start(&d);
  wt_ws_open(&d, &view, "a", "ccm.v1.json");
  web_stop(st.w); /* this thread did not start it */
  json_t *ev = wt_ws_expect(&d, "close", "a");
  json_decref(ev);
  wt_ws_stop(&d);
  bare_stop(&b);
}

static int collect_seq(const proto_event_t *e, void *arg)
{
  uint64_t *seqs = arg;
  seqs[seqs[0] + 1] = e->seq;
  seqs[0]++;
  return 0;
}

typedef struct publisher {
  web_t *w;
  int n;
} publisher_t;

static void *publish_many(void *arg)
{
  publisher_t *p = arg;
  json_t *data = json_pack("{s:i}", "k", 1);
  for (int i = 0; i < p->n; i++)
    while (web_publish(p->w, "logs", data) == RT_EAGAIN)
      sched_yield(); /* backpressure: the bridge's mailbox is full */
  json_decref(data);
  return NULL;
}

Test(server, publish_appends_consecutive_seqs_from_many_threads)
{
  wt_server_t s;
  wt_start(&s, NULL);
  enum { THREADS = 4, EACH = 100 };
  publisher_t p = {.w = s.web, .n = EACH};
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, publish_many, &p), 0);
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  /* The publishes are asynchronous: a client that sees the last one
   * proves they all landed (the log is read in seq order). */
  wt_ws_t d;
  wt_ws_start(&d);
  wt_ws_open(&d, &s, "a", "ccm.v1.json");
  wt_ws_cmd(&d, "{\"op\":\"send\",\"name\":\"a\",\"text\":\"{\\\"type\\\":"
                "\\\"subscribe\\\",\\\"topics\\\":[\\\"logs\\\"],"
                "\\\"resume_from\\\":0}\"}");
  wt_ws_cmd(&d, "{\"op\":\"quiet\",\"name\":\"a\",\"on\":true}");
  wt_ws_cmd(&d, "{\"op\":\"waitseq\",\"name\":\"a\",\"seq\":%d}",
            THREADS * EACH);
  json_decref(wt_ws_expect(&d, "seq", "a"));
  wt_ws_stop(&d);
  static uint64_t seqs[THREADS * EACH + 8];
  seqs[0] = 0;
  TST_SOK(store_event_foreach(s.store, 0, collect_seq, seqs));
  cr_assert_eq(seqs[0], THREADS * EACH);
  for (uint64_t i = 1; i <= seqs[0]; i++)
    cr_assert_eq(seqs[i], i, "seq %llu at %llu", (unsigned long long)seqs[i],
                 (unsigned long long)i);
  wt_stop(&s);
}

Test(server, publish_refuses_unknown_topics_and_oversized_data)
{
  wt_server_t s;
  wt_start(&s, NULL);
  json_t *data = json_object();
  cr_assert_eq(web_publish(s.web, "nope", data), WEB_ETOPIC);
  cr_assert_eq(web_publish(s.web, NULL, data), WEB_ETOPIC);
  cr_assert_eq(web_publish(NULL, "tasks", data), WEB_EINVAL);
  char *text = malloc(PROTO_MAX_TEXT + 2);
  memset(text, 'x', PROTO_MAX_TEXT + 1);
  text[PROTO_MAX_TEXT + 1] = '\0';
  json_object_set_new(data, "text", json_string(text));
  cr_assert_eq(web_publish(s.web, "logs", data), PROTO_ETOOBIG);
  free(text);
  json_decref(data);
  store_stats_t st;
  TST_SOK(store_stats(s.store, &st));
  cr_assert_eq(st.last_seq, 0, "nothing refused was logged");
  wt_stop(&s);
}
