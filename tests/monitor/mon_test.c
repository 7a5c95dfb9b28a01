/*
 * mon_test.c: helpers of the monitor suites (mon_test.h).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "store/store_actor.h"
#include "tests/monitor/mon_test.h"

void mt_env_init(mt_env_t *e)
{
  memset(e, 0, sizeof(*e));
  e->dir = tst_tmpdir();
  store_options_t o = {.no_sync = true};
  e->store = tst_store_open(e->dir, &o);
  e->rt = tst_runtime(2);
  TST_OK(store_actor_spawn(e->rt, e->store, "store", &e->store_actor));
  e->events = tst_port(e->rt, 0);
}

void mt_env_fini(mt_env_t *e)
{
  rt_actor_release(e->store_actor);
  tst_quiesce(e->rt);
  rt_port_free(e->events);
  tst_runtime_free(e->rt);
  store_close(e->store);
  tst_rmrf(e->dir);
  free(e->dir);
}

monitor_config_t mt_config(mt_env_t *e)
{
  monitor_config_t c;
  monitor_config_defaults(&c);
  c.sample_ms = 20;
  c.persist_ms = 0;
  c.probe_ms = 0;
  c.executor_name = NULL;
  c.publish = mt_publish;
  c.publish_arg = e;
  return c;
}

int mt_publish(void *arg, const char *topic, const json_t *data)
{
  mt_env_t *e = arg;
  json_t *o = json_pack("{s:s,s:O}", "topic", topic, "data",
                        data ? (json_t *)data : json_null());
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  rt_msg_t *m = NULL;
  int rc = text ? rt_msg_new(1, text, strlen(text), &m) : -1;
  free(text);
  return rc ? rc : rt_send(rt_port_actor(e->events), &m);
}

json_t *mt_next_event(mt_env_t *e)
{
  rt_msg_t *m = tst_recv(e->events);
  size_t len = 0;
  const char *d = rt_msg_data(m, &len);
  json_t *j = json_loadb(d, len, 0, NULL);
  rt_msg_free(m);
  cr_assert_not_null(j);
  return j;
}

void mt_wait(bool (*cond)(void *arg), void *arg, const char *what)
{
  for (int waited = 0; waited < TST_WAIT_MS; waited += 5) {
    if (cond(arg))
      return;
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  cr_assert_fail("timed out waiting for %s", what);
}

bool mt_no_executor(void *arg)
{
  json_t *checks = json_object();
  bool degraded = monitor_health(arg, checks);
  const char *x = json_string_value(json_object_get(checks, "executor"));
  bool ok = degraded && x && !strcmp(x, "not running");
  json_decref(checks);
  return ok;
}

void mt_make_dora_repo(const char *path)
{
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "sh '%s' '%s' > /dev/null 2>&1",
           MON_TEST_DORA_SCRIPT, path);
  cr_assert_eq(system(cmd), 0, "make_dora_repo.sh %s failed", path);
}

static void write_sync(mt_env_t *e, proto_msg_t *m)
{
  store_ack_t ack;
  int rc = store_write_sync(e->rt, e->store_actor, m, TST_WAIT_MS, &ack);
  cr_assert_eq(rc, 0, "store write: %s", store_strerror(rc));
}

void mt_log_event(mt_env_t *e, const char *topic, json_t *data)
{
  proto_msg_t m = {.type = PROTO_EVENT};
  m.u.event = (proto_event_t){.seq = 1, .topic = (char *)topic,
                              .ts = 1, .data = data};
  write_sync(e, &m);
}

void mt_put_task(mt_env_t *e, const char *id, proto_state_t state)
{
  proto_msg_t m;
  tst_task_msg(&m, id, "repo", "todo", state, 1.0);
  write_sync(e, &m);
  proto_msg_fini(&m);
}

/* ------------------------------------------------------------ receiver */

static void header(const char *head, const char *name, char *out, size_t cap)
{
  out[0] = '\0';
  size_t nl = strlen(name);
  for (const char *p = head; p && *p; p = strstr(p, "\r\n")) {
    if (*p == '\r')
      p += 2;
    if (!strncasecmp(p, name, nl) && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ')
        v++;
      size_t n = strcspn(v, "\r\n");
      snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), v);
      return;
    }
  }
}

/* Read one request: headers, then Content-Length bytes. */
static char *read_request(int fd, size_t *head_len)
{
  size_t cap = 65536, len = 0;
  char *buf = calloc(1, cap + 1);
  char *end = NULL;
  long want = -1;
  while (len < cap) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) <= 0)
      break;
    ssize_t n = read(fd, buf + len, cap - len);
    if (n <= 0)
      break;
    len += (size_t)n;
    buf[len] = '\0';
    if (!end && (end = strstr(buf, "\r\n\r\n"))) {
      char cl[32];
      header(buf, "Content-Length", cl, sizeof cl);
      want = strtol(cl, NULL, 10);
    }
    if (end && (long)(len - (size_t)(end + 4 - buf)) >= want)
      break;
  }
  *head_len = end ? (size_t)(end + 4 - buf) : len;
  return buf;
}

static void serve_one(mt_receiver_t *r, int c)
{
  size_t hl = 0;
  char *buf = read_request(c, &hl);
  pthread_mutex_lock(&r->mu);
  int status = 200;
  const char *body = NULL;
  if (r->n < MT_MAX_REQ) {
    mt_request_t *q = &r->req[r->n];
    sscanf(buf, "%7s %255s", q->method, q->path);
    header(buf, "X-Ccm-Event", q->event, sizeof q->event);
    header(buf, "X-Ccm-Delivery", q->delivery, sizeof q->delivery);
    header(buf, "X-Ccm-Signature-256", q->signature, sizeof q->signature);
    q->body = strdup(buf + hl);
    status = r->script[r->n] ? r->script[r->n] : 200;
    body = r->bodies[r->n];
    r->n++;
    pthread_cond_broadcast(&r->cv);
  }
  pthread_mutex_unlock(&r->mu);
  char resp[4096];
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                   status, body ? strlen(body) : 0, body ? body : "");
  if (n > 0 && write(c, resp, (size_t)n) < 0) { /* the client gave up */
  }
  free(buf);
  close(c);
}

static void *receiver_main(void *arg)
{
  mt_receiver_t *r = arg;
  for (;;) {
    pthread_mutex_lock(&r->mu);
    bool stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    if (stop)
      break;
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    if (poll(&p, 1, 20) <= 0)
      continue;
    int c = accept(r->fd, NULL, NULL);
    if (c >= 0)
      serve_one(r, c);
  }
  return NULL;
}

void mt_receiver_start(mt_receiver_t *r)
{
  r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  cr_assert(r->fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  cr_assert_eq(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
  cr_assert_eq(listen(r->fd, 16), 0);
  getsockname(r->fd, (struct sockaddr *)&a, &al);
  r->port = ntohs(a.sin_port);
  snprintf(r->url, sizeof r->url, "http://127.0.0.1:%d/hook", r->port);
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  cr_assert_eq(pthread_create(&r->thread, NULL, receiver_main, r), 0);
}

void mt_receiver_stop(mt_receiver_t *r)
{
  pthread_mutex_lock(&r->mu);
  r->stop = true;
  pthread_mutex_unlock(&r->mu);
  pthread_join(r->thread, NULL);
  close(r->fd);
  for (int i = 0; i < r->n; i++)
    free(r->req[i].body);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
}

void mt_receiver_wait(mt_receiver_t *r, int n)
{
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += TST_WAIT_MS / 1000;
  pthread_mutex_lock(&r->mu);
  int rc = 0;
  while (r->n < n && rc != ETIMEDOUT)
    rc = pthread_cond_timedwait(&r->cv, &r->mu, &dl);
  int got = r->n;
  pthread_mutex_unlock(&r->mu);
  cr_assert_geq(got, n, "receiver got %d requests, expected %d", got, n);
}

int mt_receiver_count(mt_receiver_t *r)
{
  pthread_mutex_lock(&r->mu);
  int n = r->n;
  pthread_mutex_unlock(&r->mu);
  return n;
}
