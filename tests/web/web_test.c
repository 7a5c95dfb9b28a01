/*
 * web_test.c: helpers shared by the web/ suites. See web_test.h.
 */
#include "tests/web/web_test.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <ctype.h>
#include <fcntl.h>
#include <msgpack.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store_actor.h"
#include "tests/support/json_msgpack.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"

/* --------------------------------------------------------------- server */

void wt_start(wt_server_t *s, const web_config_t *cfg)
{
  store_options_t opt = {.no_sync = true};
  wt_start_store(s, cfg, &opt);
}

static rt_actor_t *gate_spawn(wt_server_t *s);

static void start_server(wt_server_t *s, const web_config_t *cfg,
                         const store_options_t *opt, bool gated)
{
  memset(s, 0, sizeof(*s));
  s->dir = tst_tmpdir();
  s->store = tst_store_open(s->dir, opt);
  s->rt = tst_runtime(2);
  TST_OK(store_actor_spawn(s->rt, s->store, "store", &s->store_actor));
  rt_actor_t *writer = gated ? gate_spawn(s) : s->store_actor;
  web_config_t c;
  static const web_repo_t demo = {.id = "demo", .path = "/tmp/demo",
                                  .github = "acme/demo"};
  if (cfg)
    c = *cfg;
  else
    web_config_defaults(&c);
  if (!cfg || !cfg->listen || !strcmp(cfg->listen, "127.0.0.1:8080"))
    c.listen = "127.0.0.1:0";
  if (!c.n_repos) {
    c.repos = &demo;
    c.n_repos = 1;
  }
  char err[256];
  int rc = web_start(s->rt, s->store, writer, &c, &s->web, err,
                     sizeof(err));
  cr_assert_eq(rc, 0, "web_start: %s (%s)", web_strerror(rc), err);
  s->port = web_port(s->web);
  cr_assert_gt(s->port, 0);
}

void wt_start_store(wt_server_t *s, const web_config_t *cfg,
                    const store_options_t *opt)
{
  start_server(s, cfg, opt, false);
}

void wt_start_gated(wt_server_t *s, const web_config_t *cfg)
{
  store_options_t opt = {.no_sync = true};
  start_server(s, cfg, &opt, true);
}

void wt_stop(wt_server_t *s)
{
  web_stop(s->web);
  rt_actor_release(s->gate);
  rt_actor_release(s->store_actor);
  tst_quiesce(s->rt);
  rt_port_free(s->gate_port); /* after the gate's last report */
  tst_runtime_free(s->rt);
  store_close(s->store);
  tst_rmrf(s->dir);
  free(s->dir);
  memset(s, 0, sizeof(*s));
}

void wt_put_task(wt_server_t *s, const char *id, const char *repo,
                 const char *kind, proto_state_t st, double score)
{
  proto_msg_t m;
  tst_task_msg(&m, id, repo, kind, st, score);
  store_ack_t ack;
  int rc = store_write_sync(s->rt, s->store_actor, &m, WT_WAIT_MS, &ack);
  cr_assert_eq(rc, 0, "store_write_sync: %d", rc);
  proto_msg_fini(&m);
}

void wt_move(wt_server_t *s, const char *id, proto_state_t from,
             proto_state_t to)
{
  proto_msg_t m;
  store_ack_t ack;
  tst_update_msg(&m, id, from, to, "test", "", 1);
  int rc = store_write_sync(s->rt, s->store_actor, &m, WT_WAIT_MS, &ack);
  cr_assert_eq(rc, 0, "store_write_sync: %d", rc);
  proto_msg_fini(&m);
}

proto_state_t wt_task_state(wt_server_t *s, const char *id)
{
  proto_task_t t;
  TST_SOK(store_task_get(s->store, id, &t));
  proto_state_t st = t.state;
  store_task_free(&t);
  return st;
}

/* Forwards every message to the port address given at spawn. */
static void forward_msg(rt_ctx_t *ctx, void *st, rt_msg_t *m)
{
  (void)ctx;
  size_t len = 0;
  const void *d = rt_msg_data(m, &len);
  tst_send(*(rt_actor_t **)st, rt_msg_type(m), d, len);
}

static int forward_start(rt_ctx_t *ctx, void *st, const void *arg)
{
  (void)ctx;
  *(rt_actor_t **)st = (rt_actor_t *)arg;
  return 0;
}

static const rt_actor_type_t forwarder = {.name = "forwarder",
                                          .state_size = sizeof(void *),
                                          .on_start = forward_start,
                                          .on_msg = forward_msg};

rt_actor_t *wt_forwarder(rt_runtime_t *rt, const char *name, rt_port_t *to)
{
  rt_spawn_opts_t o = {.name = name};
  rt_actor_t *a = NULL;
  TST_OK(rt_actor_spawn(rt, &forwarder, rt_port_actor(to), &o, &a));
  return a;
}

/* ----------------------------------------------------------------- gate */
/* An actor between the server and the store actor: it holds every write
 * (reporting each to the test's port) until opened, then forwards them
 * and every later one with rt_request, and relays each acknowledgement
 * (or a timeout, as RT_ETIMEDOUT) to the original requester. It runs on a
 * worker, where criterion cannot assert: a write it cannot handle gets no
 * answer, and the test fails at its bound waiting for one. */

#define GATE_OPEN 0x7e01u
#define GATE_HELD 0x7e02u
#define GATE_MAX 64 /* writes held or in flight at once */

typedef struct gate_write {
  rt_reply_to_t to;
  void *bytes; /* held: the payload; forwarded: NULL */
  size_t len;
  uint64_t corr; /* forwarded: the request to the store */
} gate_write_t;

typedef struct gate {
  wt_server_t *s;
  bool open;
  gate_write_t w[GATE_MAX];
  size_t n;
} gate_t;

static void gate_forward(rt_ctx_t *ctx, gate_t *g, gate_write_t *w)
{
  rt_msg_t *m = NULL;
  if (rt_msg_new_take(STORE_MSG_WRITE, w->bytes, w->len, &m) == 0)
    rt_request(ctx, g->s->store_actor, &m, WT_WAIT_MS, &w->corr);
  rt_msg_free(m); /* NULL once sent */
  w->bytes = NULL;
}

static void gate_write(rt_ctx_t *ctx, gate_t *g, rt_msg_t *m)
{
  if (g->n == GATE_MAX)
    return;
  gate_write_t *w = &g->w[g->n];
  if (rt_msg_reply_to(m, &w->to) != 0 ||
      !(w->bytes = rt_msg_take_payload(m, &w->len)))
    return;
  g->n++;
  if (g->open)
    gate_forward(ctx, g, w);
  else
    tst_send(rt_port_actor(g->s->gate_port), GATE_HELD, NULL, 0);
}

static void gate_reply(gate_t *g, rt_msg_t *m)
{
  for (size_t i = 0; i < g->n; i++) {
    if (g->w[i].bytes || g->w[i].corr != rt_msg_corr(m))
      continue;
    store_ack_t ack = {.rc = RT_ETIMEDOUT};
    size_t len = 0;
    const void *d = rt_msg_data(m, &len);
    if (rt_msg_type(m) == STORE_MSG_ACK && len == sizeof(ack))
      memcpy(&ack, d, sizeof(ack));
    rt_msg_t *r = NULL;
    if (rt_msg_new(STORE_MSG_ACK, &ack, sizeof(ack), &r) == 0)
      rt_reply_later(&g->w[i].to, &r); /* consumes r */
    g->w[i] = g->w[--g->n];
    return;
  }
}

static void gate_msg(rt_ctx_t *ctx, void *st, rt_msg_t *m)
{
  gate_t *g = st;
  switch (rt_msg_type(m)) {
  case STORE_MSG_WRITE:
    gate_write(ctx, g, m);
    break;
  case GATE_OPEN:
    g->open = true;
    for (size_t i = 0; i < g->n; i++)
      if (g->w[i].bytes)
        gate_forward(ctx, g, &g->w[i]);
    break;
  case STORE_MSG_ACK:
  case RT_MSG_TIMEOUT:
    gate_reply(g, m);
    break;
  default:
    break;
  }
}

static int gate_start(rt_ctx_t *ctx, void *st, const void *arg)
{
  (void)ctx;
  ((gate_t *)st)->s = (wt_server_t *)arg;
  return 0;
}

static void gate_stop(rt_ctx_t *ctx, void *st)
{
  (void)ctx;
  gate_t *g = st;
  for (size_t i = 0; i < g->n; i++)
    free(g->w[i].bytes);
}

static const rt_actor_type_t gate_type = {.name = "gate",
                                          .state_size = sizeof(gate_t),
                                          .on_start = gate_start,
                                          .on_msg = gate_msg,
                                          .on_stop = gate_stop};

static rt_actor_t *gate_spawn(wt_server_t *s)
{
  s->gate_port = tst_port(s->rt, GATE_MAX);
  TST_OK(rt_actor_spawn(s->rt, &gate_type, s, NULL, &s->gate));
  return s->gate;
}

void wt_gate_await_held(wt_server_t *s, int n)
{
  for (int i = 0; i < n; i++)
    rt_msg_free(tst_recv_type(s->gate_port, GATE_HELD));
}

void wt_gate_open(wt_server_t *s)
{
  TST_OK(tst_send(s->gate, GATE_OPEN, NULL, 0));
}

/* ----------------------------------------------------------------- HTTP */

typedef struct grow {
  char *p;
  size_t n;
} grow_t;

static size_t grow_cb(char *d, size_t size, size_t n, void *arg)
{
  grow_t *g = arg;
  size_t len = size * n;
  char *p = realloc(g->p, g->n + len + 1);
  cr_assert_not_null(p);
  memcpy(p + g->n, d, len);
  g->p = p;
  g->n += len;
  g->p[g->n] = '\0';
  return len;
}

void wt_http(const wt_server_t *s, const char *method, const char *path,
             const char *body, const char *const *hdrs, wt_resp_t *out)
{
  memset(out, 0, sizeof(*out));
  CURL *c = curl_easy_init();
  cr_assert_not_null(c);
  char url[1024];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
  grow_t b = {0}, h = {0};
  struct curl_slist *list = NULL;
  bool has_ct = false;
  for (size_t i = 0; hdrs && hdrs[i]; i++) {
    list = curl_slist_append(list, hdrs[i]);
    has_ct |= strncasecmp(hdrs[i], "content-type:", 13) == 0;
  }
  if (body && !has_ct)
    list = curl_slist_append(list, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)WT_WAIT_MS);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, grow_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, grow_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  }
  CURLcode rc = curl_easy_perform(c);
  cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path,
               curl_easy_strerror(rc));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
  curl_slist_free_all(list);
  curl_easy_cleanup(c);
  out->body = b.p ? b.p : strdup("");
  out->body_len = b.n;
  out->headers = h.p ? h.p : strdup("");
  for (char *p = out->headers; *p; p++) { /* names to lower case */
    char *colon = strchr(p, ':'), *eol = strchr(p, '\n');
    for (char *q = p; colon && q < colon && (!eol || q < eol); q++)
      *q = (char)tolower((unsigned char)*q);
    if (!eol)
      break;
    p = eol;
  }
  out->json = json_loadb(out->body, out->body_len, 0, NULL);
}

void wt_resp_free(wt_resp_t *r)
{
  free(r->body);
  free(r->headers);
  json_decref(r->json);
  memset(r, 0, sizeof(*r));
}

const char *wt_header(const wt_resp_t *r, const char *name)
{
  static char value[1024];
  size_t n = strlen(name);
  for (const char *p = r->headers; p && *p;) {
    if (strncmp(p, name, n) == 0 && p[n] == ':') {
      p += n + 1;
      while (*p == ' ')
        p++;
      size_t k = strcspn(p, "\r\n");
      if (k >= sizeof(value))
        k = sizeof(value) - 1;
      memcpy(value, p, k);
      value[k] = '\0';
      return value;
    }
    const char *eol = strchr(p, '\n');
    p = eol ? eol + 1 : NULL;
  }
  return NULL;
}

void wt_assert_error(const wt_resp_t *r, long status, const char *code)
{
  cr_assert_eq(r->status, status, "status %ld, want %ld; body %s", r->status,
               status, r->body);
  cr_assert(json_is_object(r->json), "error body is not JSON: %s", r->body);
  json_t *e = json_object_get(r->json, "error");
  cr_assert(json_is_object(e), "no \"error\" object: %s", r->body);
  cr_assert_str_eq(json_string_value(json_object_get(e, "code")), code,
                   "body %s", r->body);
  cr_assert(json_is_string(json_object_get(e, "message")), "%s", r->body);
  cr_assert_str_eq(wt_header(r, "content-type"), "application/json");
}

/* ------------------------------------------------------------ WebSocket */

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void wt_ws_start(wt_ws_t *d)
{
  const char *script = getenv("WSDRIVE");
  cr_assert(script && access(script, R_OK) == 0, "WSDRIVE is not set");
  wt_node_start(d, script, NULL);
}

void wt_node_start(wt_ws_t *d, const char *script, const char *arg)
{
  memset(d, 0, sizeof(*d));
  signal(SIGPIPE, SIG_IGN); /* a dead driver is reported, not fatal */
  const char *node = tst_prog("NODE");
  int in[2], out[2];
  cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
  cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    execl(node, node, script, arg, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  d->pid = pid;
  d->in_fd = in[1];
  d->out_fd = out[0];
}

static void write_all(int fd, const char *p, size_t len)
{
  while (len) {
    ssize_t w = write(fd, p, len);
    cr_assert(w > 0 || errno == EINTR, "write to wsdrive: %s",
              strerror(errno));
    if (w > 0) {
      p += w;
      len -= (size_t)w;
    }
  }
}

void wt_ws_cmd(wt_ws_t *d, const char *fmt, ...)
{
  char *line = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&line, fmt, ap);
  va_end(ap);
  cr_assert_geq(n, 0);
  cr_assert_null(strchr(line, '\n'), "one command per line");
  write_all(d->in_fd, line, (size_t)n);
  write_all(d->in_fd, "\n", 1);
  free(line);
}

/* A NUL-terminated copy of @p n bytes that need not end in NUL (the
 * libc duplicate-n call would read on to a NUL under ASan's
 * strict_string_checks). */
static char *dup_bytes(const char *p, size_t n)
{
  char *s = malloc(n + 1);
  cr_assert_not_null(s);
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

/* A complete line from the buffer, or NULL. */
static char *take_line(wt_ws_t *d)
{
  char *nl = d->len ? memchr(d->buf, '\n', d->len) : NULL;
  if (!nl)
    return NULL;
  size_t n = (size_t)(nl - d->buf);
  char *line = dup_bytes(d->buf, n);
  memmove(d->buf, nl + 1, d->len - n - 1);
  d->len -= n + 1;
  return line;
}

json_t *wt_ws_next(wt_ws_t *d, int timeout_ms)
{
  uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
  for (;;) {
    char *line = take_line(d);
    if (line) {
      json_t *j = json_loads(line, 0, NULL);
      cr_assert_not_null(j, "wsdrive printed: %s", line);
      free(line);
      return j;
    }
    uint64_t now = now_ms();
    if (now >= deadline)
      return NULL;
    struct pollfd pf = {.fd = d->out_fd, .events = POLLIN};
    int r = poll(&pf, 1, (int)(deadline - now));
    if (r <= 0)
      continue;
    if (d->cap - d->len < 65536) {
      d->cap = d->cap ? d->cap * 2 : 1 << 17;
      d->buf = realloc(d->buf, d->cap);
      cr_assert_not_null(d->buf);
    }
    ssize_t n = read(d->out_fd, d->buf + d->len, d->cap - d->len);
    cr_assert(n > 0 || (n < 0 && errno == EINTR), "wsdrive exited");
    if (n > 0)
      d->len += (size_t)n;
  }
}

json_t *wt_ws_expect(wt_ws_t *d, const char *ev, const char *name)
{
  json_t *j = wt_ws_next(d, WT_WAIT_MS);
  cr_assert_not_null(j, "no \"%s\" event for %s in time", ev, name);
  const char *got = json_string_value(json_object_get(j, "ev"));
  const char *who = json_string_value(json_object_get(j, "name"));
  char *dump = json_dumps(j, JSON_COMPACT);
  cr_assert(got && !strcmp(got, ev) && who && !strcmp(who, name),
            "want %s of %s, got %.300s", ev, name, dump);
  free(dump);
  return j;
}

void wt_ws_open(wt_ws_t *d, const wt_server_t *s, const char *name,
                const char *protocol)
{
  wt_ws_cmd(d, "{\"op\":\"open\",\"name\":\"%s\",\"url\":\"ws://127.0.0.1:%d/"
               "ws\",\"protocol\":\"%s\"}", name, s->port, protocol);
  json_t *j = wt_ws_expect(d, "open", name);
  cr_assert_str_eq(json_string_value(json_object_get(j, "protocol")),
                   protocol);
  json_decref(j);
}

void wt_ws_send(wt_ws_t *d, const char *name, const json_t *msg)
{
  char *text = json_dumps(msg, JSON_COMPACT);
  json_t *cmd = json_pack("{s:s,s:s,s:s}", "op", "send", "name", name,
                          "text", text);
  char *line = json_dumps(cmd, JSON_COMPACT);
  wt_ws_cmd(d, "%s", line);
  free(line);
  json_decref(cmd);
  free(text);
}

/* msgpack_object to JSON (trusted input: the server's frames). */
static json_t *object_json(const msgpack_object *o)
{
  switch (o->type) {
  case MSGPACK_OBJECT_NIL: return json_null();
  case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    return json_integer((json_int_t)o->via.u64);
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer(o->via.i64);
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: return json_real(o->via.f64);
  case MSGPACK_OBJECT_STR:
    return json_stringn(o->via.str.ptr, o->via.str.size);
  case MSGPACK_OBJECT_ARRAY: {
    json_t *a = json_array();
    for (uint32_t i = 0; i < o->via.array.size; i++)
      json_array_append_new(a, object_json(&o->via.array.ptr[i]));
    return a;
  }
  case MSGPACK_OBJECT_MAP: {
    json_t *m = json_object();
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      const msgpack_object_kv *kv = &o->via.map.ptr[i];
      cr_assert_eq(kv->key.type, MSGPACK_OBJECT_STR);
      char *k = dup_bytes(kv->key.via.str.ptr, kv->key.via.str.size);
      json_object_set_new(m, k, object_json(&kv->val));
      free(k);
    }
    return m;
  }
  default:
    cr_assert_fail("unexpected msgpack type %d", o->type);
    return NULL;
  }
}

json_t *wt_msgpack_hex_decode(const char *hex)
{
  size_t n = strlen(hex) / 2;
  unsigned char *b = malloc(n + 1);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    b[i] = (unsigned char)v;
  }
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  cr_assert_eq(msgpack_unpack_next(&u, (const char *)b, n, &off),
               MSGPACK_UNPACK_SUCCESS, "server sent bad msgpack");
  cr_assert_eq(off, n, "trailing bytes in a server frame");
  json_t *j = object_json(&u.data);
  msgpack_unpacked_destroy(&u);
  free(b);
  return j;
}

json_t *wt_ws_msg(wt_ws_t *d, const char *name)
{
  json_t *ev = wt_ws_expect(d, "msg", name);
  json_t *text = json_object_get(ev, "text");
  json_t *j = text ? json_loads(json_string_value(text), 0, NULL)
                   : wt_msgpack_hex_decode(json_string_value(
                         json_object_get(ev, "hex")));
  cr_assert_not_null(j, "message is not JSON");
  json_decref(ev);
  return j;
}

char *wt_msgpack_hex(const json_t *v)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  json_msgpack_pack(&pk, v);
  char *hex = malloc(2 * sb.size + 1);
  for (size_t i = 0; i < sb.size; i++)
    snprintf(hex + 2 * i, 3, "%02x", (unsigned char)sb.data[i]);
  hex[2 * sb.size] = '\0';
  msgpack_sbuffer_destroy(&sb);
  return hex;
}

void wt_ws_stop(wt_ws_t *d)
{
  if (d->pid > 0) {
    kill(d->pid, SIGKILL);
    int st;
    while (waitpid(d->pid, &st, 0) < 0 && errno == EINTR) {
    }
  }
  close(d->in_fd);
  close(d->out_fd);
  free(d->buf);
  memset(d, 0, sizeof(*d));
}
