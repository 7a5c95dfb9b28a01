/*
 * client.c: the GitHub client actor (see gh.h and github/README.md).
 *
 * State: one CURLM (http.c) and a job per request. A job waits in the
 * `waiting` FIFO until a transfer slot is free and nothing holds it, runs
 * as one easy handle, and then either finishes (one GH_MSG_RESPONSE to the
 * requester) or goes back to `waiting`: for the next page, for a retry
 * after a backoff, or until a rate limit resets. A single runtime timer
 * (MSG_WAKE) wakes the earliest held job.
 *
 * Rules (numbers in gh_config_t):
 *  - retries: network errors and 5xx, with exponential backoff and equal
 *    jitter; a POST (not idempotent: it creates issues, comments, pull
 *    requests) is retried only when the connection never opened;
 *  - rate limits: X-RateLimit-* per resource; an exhausted bucket holds its
 *    requests until the reset; a Retry-After (secondary limit) pauses every
 *    request; a hold longer than max_hold_s fails with GH_ERATELIMIT;
 *  - conditional GETs: the cache's ETag / Last-Modified are sent, a 304 is
 *    answered from the cache, a 2xx with a validator is cached;
 *  - pagination: Link rel="next" on api_url's origin only (the token is
 *    never sent elsewhere); the pages' arrays are joined into one.
 * Every curl call runs inside this actor's hooks: one thread at a time.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "github/gh_int.h"
#include "runtime/timer.h"

#define MSG_WAKE 0x4711u
#define ORIGIN_MAX 512
/* GitHub asks clients that hit a secondary limit without Retry-After to
 * wait at least a minute. */
#define SECONDARY_DEFAULT_MS 60000

typedef struct job {
  struct job *next;
  rt_reply_to_t to;
  gh_method_t method;
  uint32_t flags;
  uint32_t max_pages;
  char *url;            /* the page being fetched (absolute) */
  char *body;           /* request body, may be NULL */
  const char *resource; /* static string from gh__resource_of */
  int64_t not_before;   /* unix ms: backoff */
  unsigned attempt;     /* attempts for the current page */
  bool skip_conditional;
  bool too_big;
  size_t budget;        /* body bytes this page may still take */
  CURL *easy;
  struct curl_slist *headers;
  gh__buf_t page;       /* the current response body */
  gh__buf_t acc;        /* joined pages */
  gh_cache_entry_t cached;
  bool have_cached;
  gh_response_t resp;
} job_t;

typedef struct client {
  rt_runtime_t *rt;
  rt_actor_t *self;
  gh__http_t http;
  bool http_ready;
  gh_config_t cfg;      /* strings below are owned copies */
  char *api_url;
  char *accept_hdr, *apiver_hdr, *auth_hdr, *user_agent;
  char origin[ORIGIN_MAX];
  gh_cache_t *cache;
  job_t *waiting;
  job_t *running;
  unsigned nrunning;
  gh__ratelimit_t rl;
  uint64_t wake_id;
  int64_t wake_at;
  uint64_t rng;
} client_t;

typedef struct spawn_arg {
  gh_config_t cfg;
  gh_cache_t *cache;
  const char *token; /* NULL: anonymous */
} spawn_arg_t;

const char *gh_strerror(int rc)
{
  switch (rc) {
#define GH_ERR_CASE(name, code, text) \
  case GH_##name:                     \
    return "GH_" #name ": " text;
    GH_ERRNO_MAP(GH_ERR_CASE)
#undef GH_ERR_CASE
  default:
    return rt_strerror(rc);
  }
}

void gh_config_defaults(gh_config_t *c)
{
  memset(c, 0, sizeof(*c));
  c->api_url = "https://api.github.com";
  c->token_env = NULL;
  c->auth = GH_AUTH_TOKEN;
  c->accept = "application/vnd.github.v3+json";
  c->user_agent = "ccm/0.1";
  c->api_version = "2022-11-28";
  c->connect_timeout_ms = 10000;
  c->request_timeout_ms = 30000;
  c->max_retries = 3;
  c->retry_base_ms = 500;
  c->retry_max_ms = 30000;
  c->max_hold_s = 900;
  c->max_concurrent = 4;
  c->max_pages = 100;
  c->max_response = 8u << 20;
}

void gh_cache_entry_fini(gh_cache_entry_t *e)
{
  if (!e)
    return;
  free(e->etag);
  free(e->last_modified);
  free(e->link);
  free(e->body);
  memset(e, 0, sizeof(*e));
}

/* ------------------------------------------------------------ helpers */

static uint64_t next_rand(client_t *c)
{
  /* xorshift64*: jitter only, no secrecy needed */
  c->rng ^= c->rng >> 12;
  c->rng ^= c->rng << 25;
  c->rng ^= c->rng >> 27;
  return c->rng * 2685821657736338717ull;
}

static char *str_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (s) {
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  return s;
}

static const char *method_name(gh_method_t m)
{
  static const char *const names[] = {"GET", "POST", "PATCH", "PUT",
                                      "DELETE"};
  return names[m];
}

/* The value of a response header of the last request, or NULL. */
static const char *header(CURL *e, const char *name)
{
  struct curl_header *h = NULL;
  if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
    return NULL;
  return h->value;
}

static int64_t header_i64(CURL *e, const char *name, int64_t dflt)
{
  const char *v = header(e, name);
  char *end;
  if (!v)
    return dflt;
  long long x = strtoll(v, &end, 10);
  return end == v ? dflt : (int64_t)x;
}

static void job_free(job_t *j)
{
  free(j->url);
  free(j->body);
  curl_slist_free_all(j->headers);
  gh__buf_fini(&j->page);
  gh__buf_fini(&j->acc);
  gh_cache_entry_fini(&j->cached);
  gh_response_fini(&j->resp);
  free(j);
}

/* GitHub's "message" from an error body, for the error sentence. */
static char *error_message(const char *body, size_t len)
{
  json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
  const char *m = json_string_value(json_object_get(root, "message"));
  char *s = m ? strndup(m, 200) : NULL;
  json_decref(root);
  return s;
}

/* ---------------------------------------------------------- finishing */

static void reply(job_t *j)
{
  rt_msg_t *m = NULL;
  if (gh__response_msg(&j->resp, &m) == 0)
    rt_reply_later(&j->to, &m);
}

static void finish(client_t *c, job_t *j, int rc, const char *why)
{
  gh_response_t *r = &j->resp;
  r->rc = rc;
  size_t len = 0;
  if (rc == 0 && (j->flags & GH_REQ_PAGINATE)) {
    if (gh__page_close(&j->acc, c->cfg.max_response) == 0)
      r->body = gh__buf_take(&j->acc, &len);
    else
      r->rc = rc = GH_ENOMEM;
  } else if (!r->body) {
    r->body = gh__buf_take(&j->page, &len); /* an error's body helps */
  } else {
    len = r->len;
  }
  r->len = len;
  if (rc && !r->error) {
    char *gm = error_message(r->body, r->len);
    size_t ol = strlen(c->origin);
    const char *path = strncmp(j->url, c->origin, ol) ? j->url : j->url + ol;
    const char *what = gm ? gm : (why ? why : gh_strerror(rc));
    if (r->status)
      r->error = str_printf("%s %s: HTTP %d: %s", method_name(j->method),
                            path, r->status, what);
    else
      r->error = str_printf("%s %s: %s", method_name(j->method), path, what);
    free(gm);
  }
  reply(j);
  job_free(j);
}

/* ------------------------------------------------------------ queues */

static void wait_push_front(client_t *c, job_t *j)
{
  j->next = c->waiting;
  c->waiting = j;
}

static void wait_push_back(client_t *c, job_t *j)
{
  job_t **pp = &c->waiting;
  while (*pp)
    pp = &(*pp)->next;
  j->next = NULL;
  *pp = j;
}

static void running_unlink(client_t *c, job_t *j)
{
  for (job_t **pp = &c->running; *pp; pp = &(*pp)->next)
    if (*pp == j) {
      *pp = j->next;
      c->nrunning--;
      return;
    }
}

static void arm_wake(client_t *c, int64_t at, int64_t now)
{
  if (c->wake_id && c->wake_at <= at)
    return;
  if (c->wake_id)
    rt_timer_cancel(c->rt, c->wake_id);
  c->wake_id = 0;
  uint64_t id = 0;
  if (rt_timer_start(c->rt, c->self, MSG_WAKE, (uint64_t)(at - now), 0,
                     &id) == 0) {
    c->wake_id = id;
    c->wake_at = at;
  }
}

/* ---------------------------------------------------------- transfers */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
  job_t *j = arg;
  if (gh__buf_add(&j->page, data, size * n, j->budget)) {
    j->too_big = true;
    return 0; /* aborts the transfer (CURLE_WRITE_ERROR) */
  }
  return size * n;
}

/* A new status line starts a new response (a redirect was followed, or a
 * 100 Continue came first): only the last response's body counts. */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
  job_t *j = arg;
  if (size * n >= 5 && memcmp(data, "HTTP/", 5) == 0)
    j->page.len = 0;
  return size * n;
}

static int add_header(job_t *j, const char *line)
{
  struct curl_slist *l = curl_slist_append(j->headers, line);
  if (!l)
    return GH_ENOMEM;
  j->headers = l;
  return 0;
}

static int add_conditional(client_t *c, job_t *j)
{
  if (j->method != GH_GET || (j->flags & GH_REQ_NO_CACHE) || !c->cache ||
      j->skip_conditional)
    return 0;
  gh_cache_entry_fini(&j->cached);
  j->have_cached = c->cache->get(c->cache, j->url, &j->cached) == 0;
  if (!j->have_cached)
    return 0;
  int rc = 0;
  char *h = NULL;
  if (j->cached.etag && *j->cached.etag)
    h = str_printf("If-None-Match: %s", j->cached.etag);
  else if (j->cached.last_modified && *j->cached.last_modified)
    h = str_printf("If-Modified-Since: %s", j->cached.last_modified);
  if (h)
    rc = add_header(j, h);
  free(h);
  return rc;
}

static int build_headers(client_t *c, job_t *j)
{
  curl_slist_free_all(j->headers);
  j->headers = NULL;
  int rc = add_header(j, c->accept_hdr);
  if (!rc && c->auth_hdr)
    rc = add_header(j, c->auth_hdr);
  if (!rc && c->apiver_hdr)
    rc = add_header(j, c->apiver_hdr);
  if (!rc && j->body)
    rc = add_header(j, "Content-Type: application/json; charset=utf-8");
  if (!rc)
    rc = add_header(j, "Expect:"); /* no 100-continue round trip */
  if (!rc)
    rc = add_conditional(c, j);
  return rc;
}

static void set_method(job_t *j, CURL *e)
{
  switch (j->method) {
  case GH_GET:
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    return;
  case GH_POST:
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    break;
  default:
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method_name(j->method));
    break;
  }
  /* PUT without a body still needs Content-Length: 0 (GitHub asks so) */
  if (j->body || j->method != GH_DELETE) {
    const char *b = j->body ? j->body : "";
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(b));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, b);
  }
}

static void set_options(client_t *c, job_t *j, CURL *e)
{
  curl_easy_setopt(e, CURLOPT_URL, j->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, j);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  /* keep the method and body on 301/302/303 as on 307/308 (GitHub
   * redirects renamed repositories that way) */
  curl_easy_setopt(e, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   (long)c->cfg.connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->cfg.request_timeout_ms);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
  set_method(j, e);
}

static void start(client_t *c, job_t *j)
{
  j->page.len = 0;
  j->too_big = false;
  j->budget = c->cfg.max_response > j->acc.len
                  ? c->cfg.max_response - j->acc.len
                  : 0;
  int rc = build_headers(c, j);
  CURL *e = rc ? NULL : curl_easy_init();
  if (!rc && !e)
    rc = GH_ECURL;
  if (!rc) {
    set_options(c, j, e);
    rc = gh__http_add(&c->http, e);
  }
  if (rc) {
    if (e)
      curl_easy_cleanup(e);
    finish(c, j, rc, NULL);
    return;
  }
  j->easy = e;
  j->attempt++;
  j->resp.attempts++;
  j->next = c->running;
  c->running = j;
  c->nrunning++;
}

/* Start what may start; fail what would wait too long; arm the wake. */
static void pump(client_t *c)
{
  int64_t now = gh__now_ms();
  int64_t wake = INT64_MAX;
  int64_t hold_max = (int64_t)c->cfg.max_hold_s * 1000;
  job_t **pp = &c->waiting;
  while (*pp && c->nrunning < c->cfg.max_concurrent) {
    job_t *j = *pp;
    int64_t at = gh__rl_ready_at(&c->rl, j->resource, now);
    if (j->not_before > at)
      at = j->not_before;
    if (at > now + hold_max) {
      *pp = j->next;
      finish(c, j, GH_ERATELIMIT, "the rate limit resets too late");
    } else if (at <= now) {
      *pp = j->next;
      start(c, j);
    } else {
      if (at < wake)
        wake = at;
      pp = &j->next;
    }
  }
  if (wake != INT64_MAX)
    arm_wake(c, wake, now);
}

/* ---------------------------------------------------------- responses */

static void retry_later(client_t *c, job_t *j, int64_t delay_ms)
{
  j->not_before = gh__now_ms() + delay_ms;
  wait_push_front(c, j);
}

static bool may_retry(client_t *c, const job_t *j)
{
  return j->attempt <= c->cfg.max_retries;
}

static void on_network_error(client_t *c, job_t *j, CURLcode result)
{
  bool never_connected = result == CURLE_COULDNT_CONNECT ||
                         result == CURLE_COULDNT_RESOLVE_HOST;
  bool retryable = j->method != GH_POST || never_connected;
  if (retryable && may_retry(c, j)) {
    retry_later(c, j, (int64_t)gh__backoff_ms(j->attempt - 1,
                                              c->cfg.retry_base_ms,
                                              c->cfg.retry_max_ms,
                                              next_rand(c)));
    return;
  }
  finish(c, j,
         result == CURLE_OPERATION_TIMEDOUT ? GH_ETIMEDOUT : GH_ENETWORK,
         curl_easy_strerror(result));
}

static bool mentions_secondary(const job_t *j)
{
  return j->page.p && strstr(j->page.p, "secondary rate limit");
}

/* 403/429: a rate limit (held and retried) or a plain refusal. */
static void on_limited(client_t *c, job_t *j, CURL *e, int status)
{
  int64_t now = gh__now_ms();
  int64_t ra = gh__retry_after_ms(header(e, "retry-after"), now / 1000);
  bool limited = true;
  if (ra >= 0)
    gh__rl_pause(&c->rl, now + ra);
  else if (j->resp.rl_remaining == 0)
    ; /* primary: the bucket (updated already) holds the retry */
  else if (status == 429 || mentions_secondary(j))
    gh__rl_pause(&c->rl, now + SECONDARY_DEFAULT_MS);
  else
    limited = false;
  if (!limited) {
    finish(c, j, GH_EHTTP, NULL);
  } else if (may_retry(c, j)) {
    j->not_before = 0;
    wait_push_front(c, j); /* pump holds it, or fails it if too long */
  } else {
    finish(c, j, GH_ERATELIMIT, NULL);
  }
}

static void cache_store(client_t *c, job_t *j, CURL *e)
{
  const char *etag = header(e, "etag");
  const char *lm = header(e, "last-modified");
  if (j->method != GH_GET || (j->flags & GH_REQ_NO_CACHE) || !c->cache ||
      (!etag && !lm))
    return;
  gh_cache_entry_t ent = {.etag = (char *)etag,
                          .last_modified = (char *)lm,
                          .link = (char *)header(e, "link"),
                          .body = j->page.p,
                          .len = j->page.len};
  c->cache->put(c->cache, j->url, &ent);
}

/* A page arrived (2xx, or 304 from the cache): join it, go on or finish. */
static void on_page(client_t *c, job_t *j, CURL *e)
{
  const char *body = j->page.p ? j->page.p : "";
  size_t len = j->page.len;
  if (j->resp.status == 304) {
    body = j->cached.body ? j->cached.body : "";
    len = j->cached.len;
    j->resp.from_cache = true;
  }
  free(j->resp.etag);
  const char *etag = header(e, "etag");
  j->resp.etag = etag ? strdup(etag) : NULL;
  j->resp.pages++;
  if (!(j->flags & GH_REQ_PAGINATE)) {
    j->resp.body = malloc(len + 1);
    if (!j->resp.body) {
      finish(c, j, GH_ENOMEM, NULL);
      return;
    }
    memcpy(j->resp.body, body, len);
    j->resp.body[len] = 0;
    j->resp.len = len;
    finish(c, j, 0, NULL);
    return;
  }
  int rc = gh__page_join(&j->acc, body, len, c->cfg.max_response);
  const char *link = header(e, "link");
  if (!link && j->resp.status == 304) /* a 304 may omit it: use ours */
    link = j->cached.link;
  char *next = rc ? NULL : gh__link_next(link);
  char origin[ORIGIN_MAX];
  if (next && (gh__url_origin(next, origin, sizeof(origin)) ||
               strcmp(origin, c->origin) != 0)) {
    free(next); /* never follow (and send the token) off our origin */
    next = NULL;
    rc = GH_EPROTO;
  }
  uint32_t max_pages = j->max_pages ? j->max_pages : c->cfg.max_pages;
  if (rc || !next || j->resp.pages >= max_pages) {
    j->resp.truncated = next != NULL;
    j->resp.next = next;
    finish(c, j, rc, rc ? "a page is not a JSON array on our origin" : NULL);
    return;
  }
  free(j->url);
  j->url = next;
  j->attempt = 0;
  j->skip_conditional = false;
  j->resource = gh__resource_of(next);
  wait_push_front(c, j);
}

static void record_limits(client_t *c, job_t *j, CURL *e)
{
  int64_t remaining = header_i64(e, "x-ratelimit-remaining", -1);
  if (remaining < 0)
    return;
  const char *res = header(e, "x-ratelimit-resource");
  int64_t reset = header_i64(e, "x-ratelimit-reset", 0);
  gh__rl_update(&c->rl, res ? res : j->resource, remaining, reset);
  j->resp.rl_remaining = remaining;
  j->resp.rl_reset = reset;
  free(j->resp.rl_resource);
  j->resp.rl_resource = strdup(res ? res : j->resource);
}

static void on_transfer_done(void *arg, CURL *e, CURLcode result)
{
  client_t *c = arg;
  job_t *j = NULL;
  curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&j);
  gh__http_remove(&c->http, e);
  running_unlink(c, j);
  long status = 0, connects = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
  j->resp.status = (int)status;
  j->resp.connects += (uint32_t)connects;
  j->easy = NULL;
  record_limits(c, j, e);
  if (j->too_big) {
    finish(c, j, GH_ETOOBIG, NULL);
  } else if (result != CURLE_OK) {
    on_network_error(c, j, result);
  } else if (status == 304 && j->have_cached) {
    on_page(c, j, e);
  } else if (status == 304) {
    j->skip_conditional = true; /* the entry vanished: ask again plainly */
    if (may_retry(c, j))
      wait_push_front(c, j);
    else
      finish(c, j, GH_EPROTO, "304 without a cached copy");
  } else if (status >= 200 && status < 300) {
    cache_store(c, j, e);
    on_page(c, j, e);
  } else if (status == 401) {
    finish(c, j, GH_EAUTH, NULL);
  } else if (status == 403 || status == 429) {
    on_limited(c, j, e, (int)status);
  } else if (status >= 500 && may_retry(c, j)) {
    retry_later(c, j, (int64_t)gh__backoff_ms(j->attempt - 1,
                                              c->cfg.retry_base_ms,
                                              c->cfg.retry_max_ms,
                                              next_rand(c)));
  } else {
    finish(c, j, GH_EHTTP, NULL);
  }
  curl_easy_cleanup(e);
  pump(c);
}

/* ------------------------------------------------------------ requests */

static int job_url(client_t *c, const char *path, char **out)
{
  *out = NULL;
  if (strstr(path, "://")) {
    char origin[ORIGIN_MAX];
    if (gh__url_origin(path, origin, sizeof(origin)) ||
        strcmp(origin, c->origin) != 0)
      return GH_EINVAL; /* the token goes to api_url's origin only */
    *out = strdup(path);
  } else if (path[0] == '/') {
    *out = str_printf("%s%s", c->api_url, path);
  } else {
    return GH_EINVAL;
  }
  return *out ? 0 : GH_ENOMEM;
}

static void on_request(client_t *c, rt_msg_t *msg)
{
  rt_reply_to_t to;
  if (rt_msg_reply_to(msg, &to) != 0)
    return; /* nobody to answer: nothing to do */
  job_t *j = calloc(1, sizeof(*j));
  if (!j) {
    gh_response_t r = {.rc = GH_ENOMEM, .rl_remaining = -1};
    rt_msg_t *m = NULL;
    if (gh__response_msg(&r, &m) == 0)
      rt_reply_later(&to, &m);
    return;
  }
  j->to = to;
  j->resp.rl_remaining = -1;
  size_t len = 0;
  const void *data = rt_msg_data(msg, &len);
  gh_request_t req;
  int rc = gh__request_decode(data, len, &req);
  if (!rc)
    rc = job_url(c, req.path, &j->url);
  if (!rc) {
    j->method = req.method;
    j->flags = req.flags;
    j->max_pages = req.max_pages;
    j->body = (char *)req.body;
    req.body = NULL;
    j->resource = gh__resource_of(j->url);
  }
  gh__request_fini(&req);
  if (rc) {
    j->url = j->url ? j->url : strdup("");
    if (!j->url) {
      job_free(j);
      return;
    }
    finish(c, j, rc, "bad request");
    return;
  }
  wait_push_back(c, j);
  pump(c);
}

/* ------------------------------------------------------------- hooks */

static void client_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  client_t *c = state;
  (void)ctx;
  size_t len = 0;
  switch (rt_msg_type(msg)) {
  case GH_MSG_REQUEST:
    on_request(c, msg);
    break;
  case RT_MSG_IO_READY: {
    const rt_io_event_t *ev = rt_msg_data(msg, &len);
    if (len == sizeof(*ev))
      gh__http_on_io(&c->http, ev);
    break;
  }
  case GH__MSG_CURL_TIMER:
    gh__http_on_timer(&c->http, rt_msg_corr(msg));
    break;
  case MSG_WAKE:
    if (rt_msg_corr(msg) == c->wake_id) {
      c->wake_id = 0;
      pump(c);
    }
    break;
  default:
    break;
  }
}

static int copy_config(client_t *c, const spawn_arg_t *a)
{
  c->cfg = a->cfg;
  size_t n = strlen(a->cfg.api_url);
  while (n > 0 && a->cfg.api_url[n - 1] == '/')
    n--;
  c->api_url = strndup(a->cfg.api_url, n);
  if (!c->api_url || gh__url_origin(c->api_url, c->origin, sizeof(c->origin)))
    return GH_EINVAL;
  c->accept_hdr = str_printf("Accept: %s", a->cfg.accept
                                               ? a->cfg.accept
                                               : "application/vnd.github.v3+json");
  c->user_agent = strdup(a->cfg.user_agent ? a->cfg.user_agent : "ccm");
  if (a->cfg.api_version && *a->cfg.api_version)
    c->apiver_hdr = str_printf("X-GitHub-Api-Version: %s",
                               a->cfg.api_version);
  if (a->token)
    c->auth_hdr = str_printf("Authorization: %s %s",
                             a->cfg.auth == GH_AUTH_BEARER ? "Bearer"
                                                           : "token",
                             a->token);
  c->cfg.api_url = c->api_url;
  c->cfg.token_env = NULL;
  c->cfg.accept = NULL;
  c->cfg.user_agent = c->user_agent;
  c->cfg.api_version = NULL;
  if (!c->cfg.max_concurrent)
    c->cfg.max_concurrent = 1;
  if (!c->accept_hdr || !c->user_agent ||
      (a->cfg.api_version && *a->cfg.api_version && !c->apiver_hdr) ||
      (a->token && !c->auth_hdr))
    return GH_ENOMEM;
  return 0;
}

static void free_config(client_t *c)
{
  if (c->auth_hdr) /* the token: leave no copy in freed memory */
    memset(c->auth_hdr, 0, strlen(c->auth_hdr));
  free(c->auth_hdr);
  free(c->api_url);
  free(c->accept_hdr);
  free(c->user_agent);
  free(c->apiver_hdr);
  c->auth_hdr = c->api_url = c->accept_hdr = c->user_agent = c->apiver_hdr =
      NULL;
}

static void client_stop(rt_ctx_t *ctx, void *state)
{
  client_t *c = state;
  (void)ctx;
  while (c->running) {
    job_t *j = c->running;
    c->running = j->next;
    c->nrunning--;
    gh__http_remove(&c->http, j->easy);
    curl_easy_cleanup(j->easy);
    j->easy = NULL;
    finish(c, j, GH_ESTOPPED, NULL);
  }
  while (c->waiting) {
    job_t *j = c->waiting;
    c->waiting = j->next;
    finish(c, j, GH_ESTOPPED, NULL);
  }
  if (c->wake_id)
    rt_timer_cancel(c->rt, c->wake_id);
  c->wake_id = 0;
  if (c->http_ready)
    gh__http_fini(&c->http);
  c->http_ready = false;
  free_config(c);
}

static int client_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  client_t *c = state;
  const spawn_arg_t *a = arg;
  c->rt = rt_ctx_runtime(ctx);
  c->self = rt_self(ctx);
  c->cache = a->cache;
  c->rng = (uint64_t)gh__now_ms() ^ (rt_actor_id(c->self) << 32) ^
           (uint64_t)(uintptr_t)c;
  if (!c->rng)
    c->rng = 88172645463325252ull;
  int rc = copy_config(c, a);
  if (!rc)
    rc = gh__http_init(&c->http, c->rt, c->self, on_transfer_done, c);
  if (rc) {
    if (c->http.multi)
      gh__http_fini(&c->http);
    free_config(c);
    return rc;
  }
  c->http_ready = true;
  return 0;
}

static const rt_actor_type_t client_type = {
    .name = "github",
    .state_size = sizeof(client_t),
    .on_start = client_start,
    .on_msg = client_msg,
    .on_stop = client_stop,
};

int gh_client_spawn(rt_runtime_t *rt, const gh_config_t *cfg,
                    gh_cache_t *cache, const char *name, rt_actor_t **out)
{
  *out = NULL;
  spawn_arg_t a = {.cache = cache};
  if (cfg)
    a.cfg = *cfg;
  else
    gh_config_defaults(&a.cfg);
  char origin[ORIGIN_MAX];
  if (!a.cfg.api_url || gh__url_origin(a.cfg.api_url, origin, sizeof(origin)))
    return GH_EINVAL;
  if (a.cfg.token_env && *a.cfg.token_env) {
    a.token = getenv(a.cfg.token_env);
    if (!a.token || !*a.token)
      return GH_ENOTOKEN;
  }
  rt_spawn_opts_t o = {.name = name,
                       .mailbox_capacity = a.cfg.mailbox_capacity};
  /* the arguments were checked above: RT_ESTART now means curl failed */
  int rc = rt_actor_spawn(rt, &client_type, &a, &o, out);
  return rc == RT_ESTART ? GH_ECURL : rc;
}

int gh_call(rt_runtime_t *rt, rt_actor_t *client, const gh_request_t *req,
            uint32_t timeout_ms, gh_response_t *out)
{
  memset(out, 0, sizeof(*out));
  out->rl_remaining = -1;
  rt_msg_t *m = NULL, *reply = NULL;
  int rc = gh_request_msg(req, &m);
  if (!rc)
    rc = rt_call(rt, client, &m, timeout_ms, &reply);
  if (!rc)
    rc = gh_response_decode(reply, out);
  rt_msg_free(reply);
  if (rc) {
    out->rc = rc;
    return rc;
  }
  return out->rc;
}
