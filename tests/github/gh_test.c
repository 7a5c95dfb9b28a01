/*
 * gh_test.c: fixtures-server process, scenarios and client helpers for
 * the github/ suites (see gh_test.h). Paths come from the build:
 * GHT_NODE_SCRIPT, GHT_NODE_MODULES, GHT_FIXTURES_DIR.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/github/gh_test.h"

#define START_WAIT_MS 30000
#define STOP_WAIT_MS 5000

uint64_t ght_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read one line from @p fd within @p ms (asserts). */
static void read_line(int fd, char *buf, size_t cap, int ms)
{
  size_t n = 0;
  uint64_t deadline = ght_ms() + (uint64_t)ms;
  while (n + 1 < cap) {
    uint64_t now = ght_ms();
    cr_assert(now < deadline, "the fixtures server did not start in %d ms",
              ms);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, (int)(deadline - now));
    if (r < 0 && errno == EINTR)
      continue;
    cr_assert(r > 0, "the fixtures server did not start in %d ms", ms);
    ssize_t got = read(fd, buf + n, 1);
    cr_assert(got == 1, "the fixtures server exited before printing its port");
    if (buf[n] == '\n')
      break;
    n++;
  }
  buf[n] = 0;
}

void ght_server_start(ght_server_t *s)
{
  int in[2], out[2];
  cr_assert(pipe(in) == 0 && pipe(out) == 0);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    execlp("node", "node", GHT_NODE_SCRIPT, GHT_NODE_MODULES,
           GHT_FIXTURES_DIR, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  char line[32];
  read_line(out[0], line, sizeof(line), START_WAIT_MS);
  close(out[0]);
  s->pid = pid;
  s->stdin_fd = in[1];
  s->port = atoi(line);
  cr_assert(s->port > 0 && s->port < 65536, "bad port line '%s'", line);
}

void ght_server_stop(ght_server_t *s)
{
  if (s->pid <= 0)
    return;
  close(s->stdin_fd);
  /* a pidfd becomes readable when the child exits: a bounded wait */
  int pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
  kill(s->pid, SIGTERM);
  struct pollfd p = {.fd = pidfd, .events = POLLIN};
  if (pidfd < 0 || poll(&p, 1, STOP_WAIT_MS) <= 0)
    kill(s->pid, SIGKILL);
  if (pidfd >= 0)
    close(pidfd);
  int status;
  waitpid(s->pid, &status, 0);
  s->pid = 0;
}

typedef struct sink {
  char buf[4096];
  size_t n;
} sink_t;

static size_t sink_write(char *p, size_t size, size_t n, void *arg)
{
  sink_t *s = arg;
  size_t k = size * n;
  if (s->n + k >= sizeof(s->buf))
    return 0;
  memcpy(s->buf + s->n, p, k);
  s->n += k;
  s->buf[s->n] = 0;
  return k;
}

char *ght_scenario(const ght_server_t *s, const char *scenario)
{
  char url[64], body[256];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/fixtures", s->port);
  snprintf(body, sizeof(body), "{\"scenario\":\"%s\"}", scenario);
  CURL *e = curl_easy_init();
  cr_assert(e);
  sink_t sink = {.n = 0};
  struct curl_slist *h =
      curl_slist_append(NULL, "Content-Type: application/json");
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 20000L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(e);
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(e);
  cr_assert(rc == CURLE_OK && status == 201, "loading %s: %s, HTTP %ld: %s",
            scenario, curl_easy_strerror(rc), status, sink.buf);
  json_t *root = json_loads(sink.buf, 0, NULL);
  const char *u = json_string_value(json_object_get(root, "url"));
  cr_assert(u, "no url in %s", sink.buf);
  char *copy = strdup(u);
  json_decref(root);
  return copy;
}

void ght_config(gh_config_t *c, const char *api_url)
{
  gh_config_defaults(c);
  setenv(GHT_TOKEN_ENV, GHT_TOKEN, 1);
  c->api_url = api_url;
  c->token_env = GHT_TOKEN_ENV;
  c->retry_base_ms = 20;
  c->retry_max_ms = 200;
  c->connect_timeout_ms = 5000;
  c->request_timeout_ms = 20000;
}

rt_actor_t *ght_client(rt_runtime_t *rt, const gh_config_t *c,
                       gh_cache_t *cache)
{
  rt_actor_t *a = NULL;
  int rc = gh_client_spawn(rt, c, cache, NULL, &a);
  cr_assert_eq(rc, 0, "gh_client_spawn: %s", gh_strerror(rc));
  return a;
}

void ght_call(rt_runtime_t *rt, rt_actor_t *client, const gh_request_t *req,
              gh_response_t *out)
{
  int rc = gh_call(rt, client, req, TST_WAIT_MS * 3, out);
  cr_assert(!(rc <= -31000 && rc > -32000),
            "gh_call did not complete: %s", gh_strerror(rc));
}

void ght_runtime_finish(rt_runtime_t **rt)
{
  rt_runtime_t *r = *rt;
  *rt = NULL;
  tst_runtime_free(r);
}

void ght_runtime_abandon(rt_runtime_t **rt)
{
  rt_runtime_free(*rt);
  *rt = NULL;
}

json_t *ght_json_file(const char *path)
{
  json_error_t err;
  json_t *j = json_load_file(path, 0, &err);
  cr_assert(j, "%s: %s (line %d)", path, err.text, err.line);
  return j;
}
