/*
 * test_transport.c: the client's transport edges, with plain loopback
 * sockets instead of a server.
 *
 * Contract: a refused connection is retried max_retries times with a
 * backoff that never lets a retry follow at once, then fails GH_ENETWORK;
 * a server that never answers times out per attempt (GH_ETIMEDOUT), and a
 * POST that may have reached the server is not retried; an absolute URL on
 * another origin is refused before anything is sent (the token goes to
 * api_url only); a missing token variable fails the spawn; stopping the
 * client answers what is in flight with GH_ESTOPPED; a garbage request
 * message is answered with an error, not a crash.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/github/gh_test.h"

static rt_runtime_t *rt;

static void setup(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
  rt = tst_runtime(2);
}

static void finish(void)
{
  ght_runtime_finish(&rt);
}

static void teardown(void)
{
  ght_runtime_abandon(&rt);
  curl_global_cleanup();
}

TestSuite(transport, .init = setup, .fini = teardown, .timeout = 120);

/* A loopback socket bound to a free port; listening or not. */
static int loopback_socket(bool listening, int *port)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
  socklen_t len = sizeof(a);
  getsockname(fd, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  if (listening)
    cr_assert(listen(fd, 16) == 0); /* never accepted: the kernel queues */
  return fd;
}

static rt_actor_t *client_on(int port, unsigned retries, unsigned timeout_ms)
{
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
  gh_config_t c;
  ght_config(&c, url);
  c.max_retries = retries;
  c.retry_base_ms = 40;
  c.request_timeout_ms = timeout_ms;
  return ght_client(rt, &c, NULL);
}

Test(transport, refused_connection_is_retried_with_backoff)
{
  int port;
  int fd = loopback_socket(false, &port); /* bound, not listening: refused */
  rt_actor_t *a = client_on(port, 2, 5000);
  gh_request_t req = {.method = GH_GET, .path = "/repos/o/r"};
  gh_response_t r;
  uint64_t t0 = ght_ms();
  ght_call(rt, a, &req, &r);
  uint64_t took = ght_ms() - t0;
  cr_expect_eq(r.rc, GH_ENETWORK, "%s", gh_strerror(r.rc));
  cr_expect_eq(r.status, 0);
  cr_expect_eq(r.attempts, 3, "one attempt and two retries");
  /* equal jitter: at least 40/2 then 80/2 ms */
  cr_expect_geq(took, 60, "backoff between attempts (took %llu ms)",
                (unsigned long long)took);
  cr_assert(r.error && strstr(r.error, "GET /repos/o/r"), "%s", r.error);
  gh_response_fini(&r);
  rt_actor_release(a);
  close(fd);
  finish();
}

Test(transport, silent_server_times_out_each_attempt)
{
  int port;
  int fd = loopback_socket(true, &port);
  rt_actor_t *a = client_on(port, 1, 200);
  gh_request_t req = {.method = GH_GET, .path = "/repos/o/r"};
  gh_response_t r;
  uint64_t t0 = ght_ms();
  ght_call(rt, a, &req, &r);
  uint64_t took = ght_ms() - t0;
  cr_expect_eq(r.rc, GH_ETIMEDOUT, "%s", gh_strerror(r.rc));
  cr_expect_eq(r.attempts, 2);
  cr_expect_geq(took, 400, "two attempts of 200 ms (took %llu ms)",
                (unsigned long long)took);
  gh_response_fini(&r);

  gh_request_t post = {.method = GH_POST, .path = "/repos/o/r/issues",
                       .body = "{\"title\":\"once\"}"};
  ght_call(rt, a, &post, &r);
  cr_expect_eq(r.rc, GH_ETIMEDOUT);
  cr_expect_eq(r.attempts, 1, "a POST that may have arrived is not resent");
  gh_response_fini(&r);
  rt_actor_release(a);
  close(fd);
  finish();
}

Test(transport, other_origins_are_refused_before_sending)
{
  int port;
  int fd = loopback_socket(false, &port);
  rt_actor_t *a = client_on(port, 0, 1000);
  char other[96];
  snprintf(other, sizeof(other), "http://127.0.0.1:%d/repos/o/r", port + 1);
  const char *bad[] = {other, "https://evil.example/repos/o/r", "repos/o/r"};
  for (size_t i = 0; i < 3; i++) {
    gh_request_t req = {.method = GH_GET, .path = bad[i]};
    gh_response_t r;
    ght_call(rt, a, &req, &r);
    cr_expect_eq(r.rc, GH_EINVAL, "%s: %s", bad[i], gh_strerror(r.rc));
    cr_expect_eq(r.attempts, 0, "%s: never sent", bad[i]);
    gh_response_fini(&r);
  }
  rt_actor_release(a);
  close(fd);
  finish();
}

Test(transport, spawn_checks_token_and_url)
{
  gh_config_t c;
  ght_config(&c, "http://127.0.0.1:9");
  unsetenv("CCM_TEST_NO_SUCH_TOKEN");
  c.token_env = "CCM_TEST_NO_SUCH_TOKEN";
  rt_actor_t *a = (rt_actor_t *)1;
  cr_assert_eq(gh_client_spawn(rt, &c, NULL, NULL, &a), GH_ENOTOKEN);
  cr_assert_null(a);
  ght_config(&c, "not a url");
  cr_assert_eq(gh_client_spawn(rt, &c, NULL, NULL, &a), GH_EINVAL);
  c.api_url = NULL;
  cr_assert_eq(gh_client_spawn(rt, &c, NULL, NULL, &a), GH_EINVAL);
  ght_config(&c, "http://127.0.0.1:9/");
  c.token_env = NULL; /* anonymous is allowed */
  TST_OK(gh_client_spawn(rt, &c, NULL, "github", &a));
  rt_actor_release(a);
  finish();
}

typedef struct pending {
  rt_actor_t *client;
  gh_response_t r;
} pending_t;

static void *call_thread(void *arg)
{
  pending_t *p = arg;
  gh_request_t req = {.method = GH_GET, .path = "/slow"};
  gh_call(rt, p->client, &req, TST_WAIT_MS, &p->r);
  return NULL;
}

Test(transport, stopping_answers_requests_in_flight)
{
  int port;
  int fd = loopback_socket(true, &port);
  rt_actor_t *a = client_on(port, 0, 60000);
  pending_t p = {.client = a};
  pthread_t th;
  pthread_create(&th, NULL, call_thread, &p);
  /* the connection reaches the listen queue once the request is sent */
  cr_assert(TST_EVENTUALLY(({
                              rt_actor_stats_t st;
                              rt_actor_stats(a, &st);
                              st.processed >= 1;
                            }),
                           TST_WAIT_MS));
  TST_OK(rt_actor_stop(a));
  pthread_join(th, NULL);
  cr_expect_eq(p.r.rc, GH_ESTOPPED, "%s", gh_strerror(p.r.rc));
  gh_response_fini(&p.r);
  rt_actor_release(a);
  close(fd);
  finish();
}

Test(transport, garbage_requests_get_an_error_reply)
{
  rt_actor_t *a = client_on(9, 0, 1000);
  const char junk[] = "\x93\x01\x02";
  rt_msg_t *m = tst_msg(GH_MSG_REQUEST, junk, sizeof(junk) - 1), *reply = NULL;
  TST_OK(rt_call(rt, a, &m, TST_WAIT_MS, &reply));
  gh_response_t r;
  TST_OK(gh_response_decode(reply, &r));
  cr_expect_eq(r.rc, GH_EMALFORMED, "%s", gh_strerror(r.rc));
  gh_response_fini(&r);
  rt_msg_free(reply);
  cr_assert_eq(gh_response_decode(NULL, &r), GH_EMALFORMED);
  rt_actor_release(a);
  finish();
}
