/*
 * server.c: the server's life cycle: configuration, the listen address,
 * the service thread that owns the lws context, waking it from other
 * threads, and stopping it. See web_int.h for the threading design.
 *
 * Start-up: web_start spawns the bridge actor and a port, then the
 * service thread, which creates the context itself (so every lws call on
 * it comes from that one thread, LWS_MAX_SMP is 1) and reports the bound
 * port or the error back through a condition variable.
 *
 * Stop: set `stopping`, cancel the service wait, join. The thread leaves
 * its loop, hides the context from the notify hook (under wake_lock, so a
 * sender in the hook cannot touch a context being destroyed) and destroys
 * it, which closes every connection. Then the bridge is stopped through a
 * synchronous request (after its reply it sends nothing more), and what
 * it had sent to the port is freed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "web/web_int.h"

/* Poll the event log this often for events that were appended without
 * web_publish (so they still reach live clients, within a second). */
#define POLL_US (1000 * LWS_US_PER_MS)

void web_config_defaults(web_config_t *c)
{
  memset(c, 0, sizeof(*c));
  c->listen = "127.0.0.1:8080";
  c->max_body = 64 * 1024;
  c->webhook_max_body = 1024 * 1024;
  c->ws_max_message = 64 * 1024;
  c->ws_max_clients = 1024;
  c->ws_queue_max = 1024;
  c->ws_ping_s = 30;
  c->store_timeout_ms = 10000;
#ifdef WEB_PANEL_DIR
  c->panel_dir = WEB_PANEL_DIR;
#endif
}

int64_t web__now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

web_t *web__from_wsi(struct lws *wsi)
{
  return lws_context_user(lws_get_context(wsi));
}

int web_port(const web_t *w) { return w ? w->port_no : -1; }

/* ------------------------------------------------------------ addresses */

static int parse_port(const char *s, int *port)
{
  if (!*s || strlen(s) > 5)
    return WEB_EADDR;
  int v = 0;
  for (const char *p = s; *p; p++) {
    if (!isdigit((unsigned char)*p))
      return WEB_EADDR;
    v = v * 10 + (*p - '0');
  }
  if (v > 65535)
    return WEB_EADDR;
  *port = v;
  return 0;
}

int web_addr_parse(const char *s, web_addr_t *out)
{
  memset(out, 0, sizeof(*out));
  if (!s)
    return WEB_EADDR;
  const char *colon;
  size_t hlen;
  const char *host = s;
  if (s[0] == '[') { /* [IPv6]:PORT */
    const char *end = strchr(s, ']');
    if (!end || end[1] != ':')
      return WEB_EADDR;
    host = s + 1;
    hlen = (size_t)(end - host);
    colon = end + 1;
    out->ipv6 = 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon || strchr(s, ':') != colon)
      return WEB_EADDR;
    hlen = (size_t)(colon - s);
  }
  if (hlen == 0 || hlen >= sizeof(out->host))
    return WEB_EADDR;
  memcpy(out->host, host, hlen);
  out->host[hlen] = '\0';
  if (!out->ipv6 && strcmp(out->host, "localhost") == 0)
    strcpy(out->host, "127.0.0.1");
  unsigned char bin[16];
  if (inet_pton(out->ipv6 ? AF_INET6 : AF_INET, out->host, bin) != 1)
    return WEB_EADDR;
  return parse_port(colon + 1, &out->port);
}

/* --------------------------------------------------------------- waking */

/* The port's notify hook: runs on the sending thread. */
static void wake_service(void *arg)
{
  web_t *w = arg;
  /* acq_rel pairs with the service thread's release store of 0 before it
   * drains the port: a sender that sees 1 knows a drain is still ahead of
   * its message. */
  if (atomic_exchange_explicit(&w->wake_pending, 1, memory_order_acq_rel))
    return;
  pthread_mutex_lock(&w->wake_lock);
  if (w->wake_ctx)
    lws_cancel_service(w->wake_ctx);
  pthread_mutex_unlock(&w->wake_lock);
}

static void on_port_msg(web_t *w, rt_msg_t *m)
{
  size_t len = 0;
  const void *d = rt_msg_data(m, &len);
  switch (rt_msg_type(m)) {
  case WEB__MSG_JOB_DONE: {
    web_job_t *job = NULL;
    if (len == sizeof(job)) {
      memcpy(&job, d, sizeof(job));
      web__action_job_done(w, job);
    }
    break;
  }
  case WEB__MSG_EVENTS:
    atomic_store_explicit(&w->nudge_pending, 0, memory_order_release);
    web__hub_poll(w);
    break;
  default:
    break;
  }
}

/* LWS_CALLBACK_EVENT_WAIT_CANCELLED, on the service thread. */
static void drain_port(web_t *w)
{
  atomic_store_explicit(&w->wake_pending, 0, memory_order_release);
  rt_msg_t *m = NULL;
  while (rt_port_recv(w->port, 0, &m) == 0) {
    on_port_msg(w, m);
    rt_msg_free(m);
  }
}

static void poll_timer(lws_sorted_usec_list_t *sul)
{
  web_t *w = lws_container_of(sul, web_t, poll_sul);
  web__hub_poll(w);
  lws_sul_schedule(w->ctx, 0, &w->poll_sul, poll_timer, POLL_US);
}

/* Protocol 0 handles plain HTTP and the loop's own events. */
static int http_protocol_cb(struct lws *wsi, enum lws_callback_reasons reason,
                            void *user, void *in, size_t len)
{
  web_t *w = web__from_wsi(wsi);
  if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
    if (w && w->port)
      drain_port(w);
    return 0;
  }
  return web__http_callback(wsi, reason, user, in, len);
}

/* ------------------------------------------------------ service thread */

static void start_report(web_t *w, int rc, const char *msg)
{
  pthread_mutex_lock(&w->lock);
  w->start_rc = rc;
  if (msg)
    snprintf(w->start_err, sizeof(w->start_err), "%s", msg);
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

/* The context first, then its one vhost: lws 4.1 leaks 72 bytes when a
 * context with an implicit vhost fails to bind, and a failed explicit
 * vhost creation leaves nothing behind once the context is destroyed. */
static struct lws_context *create_context(web_t *w,
                                          struct lws_protocols *protocols,
                                          lws_retry_bo_t *retry)
{
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof(info));
  info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  info.user = w;
  info.protocols = protocols;
  struct lws_context *ctx = lws_create_context(&info);
  if (!ctx)
    return NULL;
  memset(&info, 0, sizeof(info));
  info.port = w->addr.port;
  info.iface = w->addr.host;
  info.protocols = protocols;
  info.user = w;
  info.server_string = "ccm";
  info.max_http_header_data = 8192;
  /* A context setting, ignored on a vhost: the context keeps lws's 4 KiB
   * service buffer; HTTP sends are sized by tx_packet_size (service_main). */
  info.pt_serv_buf_size = 32 * 1024;
  info.timeout_secs = 30;
  info.retry_and_idle_policy = retry;
  info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND |
                 LWS_SERVER_OPTION_VALIDATE_UTF8;
  if (!w->addr.ipv6)
    info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  w->vhost = lws_create_vhost(ctx, &info);
  if (!w->vhost) {
    lws_context_destroy(ctx);
    return NULL;
  }
  return ctx;
}

static void *service_main(void *arg)
{
  web_t *w = arg;
  struct lws_protocols protocols[] = {
      /* tx_packet_size: lws sends at most this much per send() and buffers
       * the rest for later loop turns (default: the context's 4 KiB
       * service buffer), so an answer written whole leaves whole. */
      {"http", http_protocol_cb, web__http_req_size(), 0, 0, NULL,
       WEB__CHUNK},
      {"ccm.v1.json", web__ws_callback, web__ws_client_size(), WEB__WS_BATCH,
       0, NULL, 0},
      {"ccm.v1.msgpack", web__ws_callback, web__ws_client_size(),
       WEB__WS_BATCH, 1, NULL, 0},
      {NULL, NULL, 0, 0, 0, NULL, 0},
  };
  /* Validity: ping a WebSocket idle for ws_ping_s, hang up when nothing
   * (not even a pong) came back within another ws_ping_s. */
  lws_retry_bo_t retry = {
      .secs_since_valid_ping = (uint16_t)w->cfg.ws_ping_s,
      .secs_since_valid_hangup = (uint16_t)(2 * w->cfg.ws_ping_s)};
  /* Errors and warnings only: lws notices would go to stderr per start. */
  lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
  w->scratch = malloc(LWS_PRE + WEB__CHUNK);
  w->ctx = w->scratch ? create_context(w, protocols, &retry) : NULL;
  if (!w->ctx) {
    free(w->scratch);
    w->scratch = NULL;
    start_report(w, WEB_EBIND, "cannot listen (address in use, or not an "
                               "address of this machine)");
    return NULL;
  }
  w->port_no = w->vhost ? lws_get_vhost_listen_port(w->vhost) : -1;
  pthread_mutex_lock(&w->wake_lock);
  w->wake_ctx = w->ctx;
  pthread_mutex_unlock(&w->wake_lock);
  store_stats_t st;
  if (store_stats(w->store, &st) == 0)
    w->hub_last = st.last_seq; /* live clients start after what exists */
  lws_sul_schedule(w->ctx, 0, &w->poll_sul, poll_timer, POLL_US);
  start_report(w, 0, NULL);

  while (!atomic_load_explicit(&w->stopping, memory_order_acquire))
    if (lws_service(w->ctx, 0) < 0)
      break;

  pthread_mutex_lock(&w->wake_lock);
  w->wake_ctx = NULL;
  pthread_mutex_unlock(&w->wake_lock);
  lws_sul_cancel(&w->poll_sul);
  lws_sul_cancel(&w->more_sul);
  lws_sul_cancel(&w->pending_sul);
  lws_context_destroy(w->ctx); /* closes every connection (callbacks run) */
  w->ctx = NULL;
  free(w->scratch);
  w->scratch = NULL;
  web__page_cache_free(&w->task_pages);
  return NULL;
}

/* ------------------------------------------------------------ life cycle */

static char *dup_or_null(const char *s)
{
  return s && *s ? strdup(s) : NULL;
}

static bool repo_id_ok(const char *id)
{
  size_t n = id ? strlen(id) : 0;
  if (n == 0 || n > 64)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!(islower((unsigned char)id[i]) || isdigit((unsigned char)id[i]) ||
          id[i] == '.' || id[i] == '_' || id[i] == '-'))
      return false;
  return true;
}

/* Copy the strings of @p cfg into @p w (freed by free_server). */
static int copy_config(web_t *w, const web_config_t *cfg)
{
  w->cfg = *cfg;
  w->listen = strdup(cfg->listen ? cfg->listen : "127.0.0.1:8080");
  w->auth_token = dup_or_null(cfg->auth_token);
  w->cors_origin = dup_or_null(cfg->cors_origin);
  w->panel_dir = dup_or_null(cfg->panel_dir);
  w->ws_origins = calloc(cfg->n_ws_origins + 1, sizeof(char *));
  w->repos = calloc(cfg->n_repos + 1, sizeof(web_repo_t));
  if (!w->listen || !w->ws_origins || !w->repos)
    return RT_ENOMEM;
  for (size_t i = 0; i < cfg->n_ws_origins; i++)
    if (!(w->ws_origins[i] = strdup(cfg->ws_origins[i])))
      return RT_ENOMEM;
  for (size_t i = 0; i < cfg->n_repos; i++) {
    if (!repo_id_ok(cfg->repos[i].id))
      return WEB_EINVAL;
    w->repos[i].id = strdup(cfg->repos[i].id);
    w->repos[i].path = dup_or_null(cfg->repos[i].path);
    w->repos[i].github = dup_or_null(cfg->repos[i].github);
    if (!w->repos[i].id)
      return RT_ENOMEM;
  }
  w->cfg.listen = w->listen;
  w->cfg.auth_token = w->auth_token;
  w->cfg.cors_origin = w->cors_origin;
  w->cfg.panel_dir = w->panel_dir;
  w->cfg.ws_origins = (const char *const *)w->ws_origins;
  w->cfg.repos = w->repos;
  w->cfg.webhook_secret = NULL; /* gh_webhook keeps the only copy */
  if (!w->cfg.max_body || !w->cfg.ws_max_message || !w->cfg.ws_queue_max ||
      !w->cfg.ws_max_clients || !w->cfg.ws_ping_s ||
      !w->cfg.store_timeout_ms || !w->cfg.webhook_max_body ||
      w->cfg.ws_ping_s > 30000)
    return WEB_EINVAL;
  int rc = web_addr_parse(w->listen, &w->addr);
  return rc ? rc : web__webhook_init(w, cfg->webhook_secret);
}

static void free_server(web_t *w)
{
  if (!w)
    return;
  free(w->listen);
  free(w->auth_token);
  free(w->cors_origin);
  free(w->panel_dir);
  for (size_t i = 0; w->ws_origins && w->ws_origins[i]; i++)
    free(w->ws_origins[i]);
  free(w->ws_origins);
  for (size_t i = 0; w->repos && i < w->cfg.n_repos; i++) {
    free((char *)w->repos[i].id);
    free((char *)w->repos[i].path);
    free((char *)w->repos[i].github);
  }
  free(w->repos);
  web__webhook_fini(w);
  for (size_t i = 0; i < w->n_pending; i++)
    free(w->pending[i].cmd_id);
  free(w->pending);
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->cond);
  pthread_mutex_destroy(&w->wake_lock);
  free(w);
}

/* Free what the bridge sent to the port that the loop never read. */
static void drain_port_at_stop(web_t *w)
{
  rt_msg_t *m = NULL;
  while (rt_port_recv(w->port, 0, &m) == 0) {
    size_t len = 0;
    const void *d = rt_msg_data(m, &len);
    if (rt_msg_type(m) == WEB__MSG_JOB_DONE && len == sizeof(web_job_t *)) {
      web_job_t *job;
      memcpy(&job, d, sizeof(job));
      web__job_free(job);
    }
    rt_msg_free(m);
  }
}

static void stop_bridge(web_t *w)
{
  if (!w->bridge)
    return;
  rt_msg_t *m = NULL, *reply = NULL;
  int rc = rt_msg_new(WEB__MSG_STOP, NULL, 0, &m);
  if (!rc)
    rc = rt_call(w->rt, w->bridge, &m, 10000, &reply);
  rt_msg_free(reply);
  if (rc)
    rt_actor_stop(w->bridge); /* already stopped, or the runtime is */
  rt_actor_release(w->bridge);
  w->bridge = NULL;
}

static void release_runtime_parts(web_t *w)
{
  stop_bridge(w);
  if (w->port) {
    drain_port_at_stop(w);
    rt_port_free(w->port);
  }
  rt_actor_release(w->port_actor);
  rt_actor_release(w->store_actor);
}

static int start_thread(web_t *w, char *err, size_t errlen)
{
  int rc = pthread_create(&w->thread, NULL, service_main, w);
  if (rc) {
    snprintf(err, errlen, "cannot start the service thread");
    return -rc;
  }
  pthread_mutex_lock(&w->lock);
  while (w->start_rc == 1)
    pthread_cond_wait(&w->cond, &w->lock);
  rc = w->start_rc;
  pthread_mutex_unlock(&w->lock);
  if (rc) {
    snprintf(err, errlen, "%s: %s", w->listen, w->start_err);
    pthread_join(w->thread, NULL);
  }
  return rc;
}

int web_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
              const web_config_t *cfg, web_t **out, char *err, size_t errlen)
{
  char dummy[8];
  if (!err) {
    err = dummy;
    errlen = sizeof(dummy);
  }
  err[0] = '\0';
  *out = NULL;
  if (!rt || !store || !store_actor)
    return WEB_EINVAL;
  web_config_t defaults;
  web_config_defaults(&defaults);
  web_t *w = calloc(1, sizeof(*w));
  if (!w)
    return RT_ENOMEM;
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->cond, NULL);
  pthread_mutex_init(&w->wake_lock, NULL);
  w->start_rc = 1;
  w->rt = rt;
  w->store = store;
  w->store_actor = rt_actor_retain(store_actor);
  int rc = copy_config(w, cfg ? cfg : &defaults);
  if (rc == WEB_EADDR)
    snprintf(err, errlen, "listen address \"%.100s\" is not ADDR:PORT",
             w->listen ? w->listen : "");
  else if (rc == WEB_EINVAL)
    snprintf(err, errlen, "invalid web configuration (a limit is 0 or a "
                          "repository id is not [a-z0-9._-]{1,64})");
  if (!rc)
    rc = rt_port_new(rt, 0, &w->port);
  if (!rc) {
    w->port_actor = rt_actor_retain(rt_port_actor(w->port));
    rt_port_set_notify(w->port, wake_service, w);
    rc = web__bridge_spawn(w, &w->bridge);
  }
  if (rc && !err[0])
    snprintf(err, errlen, "cannot start: %s", web_strerror(rc));
  if (!rc)
    rc = start_thread(w, err, errlen);
  if (rc) {
    release_runtime_parts(w);
    free_server(w);
    return rc;
  }
  *out = w;
  return 0;
}

void web_stop(web_t *w)
{
  if (!w)
    return;
  atomic_store_explicit(&w->stopping, true, memory_order_release);
  pthread_mutex_lock(&w->wake_lock);
  if (w->wake_ctx)
    lws_cancel_service(w->wake_ctx);
  pthread_mutex_unlock(&w->wake_lock);
  pthread_join(w->thread, NULL);
  release_runtime_parts(w);
  free_server(w);
}
