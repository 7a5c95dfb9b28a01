/*
 * http.c: one HTTP request on protocol 0, from its headers to its last
 * byte out. Service thread only.
 *
 * A request is checked in this order, each failure answering at once:
 * path length (404), route (404), OPTIONS (204 + Allow, CORS preflight
 * when configured), bearer token (401; the panel's static files are
 * public; webhooks are signed instead), method (405 + Allow), and for POST
 * the media type (415) and the announced length (413); a webhook is
 * checked for its signature header first (401), has its own body cap and
 * no media type. A POST body is read raw into a buffer capped at
 * max_body (FACTS.md: lws_spa is for forms; a chunked body that grows past
 * the cap also gets 413), then rest.c answers.
 *
 * The response is built whole (JSON text or Prometheus text), then written
 * from the writeable callback: the headers and the start of the body in
 * one lws_write (one send() for most answers), the rest of a long body in
 * chunks of WEB__CHUNK bytes, one lws_write per callback (lws buffers a
 * partial write itself). The HTTP protocol's tx_packet_size (server.c) lets
 * lws send such a write in one send(): by default it would send 4 KiB and
 * keep the rest for later loop turns (a 24 KB page took six sends and six
 * turns). A cached task page (page_cache.h) is not copied: the headers are
 * written into the room before its body and both leave from the cache.
 * Every response carries the security headers; CORS
 * headers only when the request's Origin is the configured one. After an
 * early error the connection is closed, since the body was not read.
 */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "web/web_int.h"

/* The panel's policy: everything from this origin, no framing, no inline
 * script; WebSocket to the same host. */
#define CSP                                                                  \
  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "  \
  "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "             \
  "form-action 'self'"

size_t web__http_req_size(void) { return sizeof(http_req_t); }

static void req_clear(http_req_t *r)
{
  web__buf_free(&r->body);
  free(r->resp);
  web__page_body_unref(r->page);
  if (r->token && r->w)
    web__pending_remove(r->w, r->token);
  memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------ responses */

/* Drop the answer's body: owned text or a page reference. */
static void resp_drop(http_req_t *r)
{
  free(r->resp);
  r->resp = NULL;
  web__page_body_unref(r->page);
  r->page = NULL;
}

static void answer(http_req_t *r, int status, const char *ctype, size_t len)
{
  r->resp_len = len;
  r->resp_sent = 0;
  r->status = status;
  r->ctype = ctype;
  r->resp_ready = true;
  web__count_http(r->w, r->route, status);
  lws_callback_on_writable(r->wsi);
}

void web__http_text(http_req_t *r, int status, const char *ctype, char *text,
                    size_t len)
{
  resp_drop(r);
  r->resp = text;
  answer(r, status, ctype, text ? len : 0);
}

void web__http_page(http_req_t *r, int status, const char *ctype,
                    web_page_body_t *page)
{
  resp_drop(r);
  r->page = web__page_body_ref(page);
  answer(r, status, ctype, page->len);
}

static const unsigned char *resp_body(const http_req_t *r)
{
  return r->page ? web__page_data(r->page) : (const unsigned char *)r->resp;
}

void web__http_json(http_req_t *r, int status, json_t *body)
{
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!text) {
    static const char oom[] =
        "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
    text = strdup(oom);
    status = 500;
  }
  web__http_text(r, status, "application/json", text, text ? strlen(text) : 0);
}

void web__http_error(http_req_t *r, const web_err_t *e)
{
  if (e->status == 401 && r->route != WEB_R_WEBHOOK)
    r->www_auth = true; /* a webhook's 401 is about its HMAC */
  web__http_json(r, e->status, web__err_json(e));
}

void web__http_action_done(http_req_t *r, int status, json_t *body)
{
  web__http_json(r, status, body);
}

/* An error before the body was read: answer, then close. */
static int early_error(http_req_t *r, int status, const char *code,
                       const char *msg)
{
  web_err_t e;
  web__err(&e, status, code, "%s", msg);
  /* A body that was announced but not read would be taken for the next
   * request: close the connection after the answer. */
  if (r->reading_body ||
      (r->method != LWSHUMETH_GET && r->method != LWSHUMETH_OPTIONS))
    r->close_after = true;
  r->reading_body = false;
  web__http_error(r, &e);
  return 0;
}

static int add_header(struct lws *wsi, const char *name, const char *value,
                      unsigned char **p, unsigned char *end)
{
  return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                     (const unsigned char *)value,
                                     (int)strlen(value), p, end);
}

static int add_cors(web_t *w, http_req_t *r, unsigned char **p,
                    unsigned char *end)
{
  if (!r->cors)
    return 0;
  int rc = add_header(r->wsi, "access-control-allow-origin:", w->cors_origin,
                      p, end) ||
           add_header(r->wsi, "vary:", "Origin", p, end);
  if (!rc && r->method == LWSHUMETH_OPTIONS)
    rc = add_header(r->wsi, "access-control-allow-methods:", "GET, POST",
                    p, end) ||
         add_header(r->wsi, "access-control-allow-headers:",
                    "Authorization, Content-Type", p, end) ||
         add_header(r->wsi, "access-control-max-age:", "600", p, end);
  return rc;
}

/* The status line and headers at *p (not written yet). */
static int add_headers(web_t *w, http_req_t *r, unsigned char **p,
                       unsigned char *end)
{
  struct lws *wsi = r->wsi;
  if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->ctype,
                                  r->resp_len, p, end) ||
      add_header(wsi, "content-security-policy:", CSP, p, end) ||
      add_header(wsi, "x-content-type-options:", "nosniff", p, end) ||
      add_header(wsi, "x-frame-options:", "DENY", p, end) ||
      add_header(wsi, "referrer-policy:", "no-referrer", p, end) ||
      add_header(wsi, "cache-control:", "no-store", p, end) ||
      (r->allow && add_header(wsi, "allow:", r->allow, p, end)) ||
      (r->www_auth &&
       add_header(wsi, "www-authenticate:", "Bearer realm=\"ccm\"", p,
                  end)) ||
      (r->close_after && add_header(wsi, "connection:", "close", p, end)) ||
      add_cors(w, r, p, end))
    return -1;
  return lws_finalize_http_header(wsi, p, end) ? -1 : 0;
}

static int finish(http_req_t *r)
{
  bool close_now = r->close_after;
  resp_drop(r);
  r->resp_ready = false;
  if (close_now)
    return -1;
  return lws_http_transaction_completed(r->wsi) ? -1 : 0;
}

/* One lws_write of @p len bytes at @p buf (LWS_PRE bytes of room before
 * it); the last one completes the transaction, any other asks for the next
 * writeable callback. */
static int write_out(web_t *w, http_req_t *r, unsigned char *buf, size_t len,
                     bool last)
{
  w->http_writes++;
  if (lws_write(r->wsi, buf, len,
                last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)len)
    return -1;
  if (lws_partial_buffered(r->wsi))
    w->http_writes_buffered++;
  if (last)
    return finish(r);
  lws_callback_on_writable(r->wsi);
  return 0;
}

/* A cached page whose headers (@p hlen bytes at @p hdr) fit in the room
 * before its body, and the whole answer in one write: the headers are
 * copied there and everything leaves from the cache in one lws_write. The
 * room is free again once it returns (lws copies what it cannot send). */
static int try_page_write(web_t *w, http_req_t *r, const unsigned char *hdr,
                          size_t hlen, bool *sent)
{
  *sent = r->page && LWS_PRE + hlen <= WEB__PAGE_ROOM &&
          hlen + r->resp_len <= WEB__CHUNK;
  if (!*sent)
    return 0;
  unsigned char *at = web__page_data(r->page) - hlen;
  memcpy(at, hdr, hlen);
  r->resp_sent = r->resp_len;
  return write_out(w, r, at, hlen + r->resp_len, true);
}

/* The headers and as much of the body as fits go out in one lws_write
 * (one send() for a typical answer); a longer body follows in chunks, one
 * per writeable callback. */
static int on_writeable(web_t *w, http_req_t *r)
{
  if (!r->resp_ready)
    return 0;
  unsigned char *start = w->scratch + LWS_PRE, *p = start,
                *end = start + WEB__CHUNK;
  if (!r->hdr_sent) {
    if (add_headers(w, r, &p, end))
      return -1;
    r->hdr_sent = true;
    bool sent;
    int rc = try_page_write(w, r, start, (size_t)(p - start), &sent);
    if (sent)
      return rc;
  }
  size_t n = r->resp_len - r->resp_sent;
  if (n > (size_t)(end - p))
    n = (size_t)(end - p);
  if (n)
    memcpy(p, resp_body(r) + r->resp_sent, n);
  p += n;
  r->resp_sent += n;
  return write_out(w, r, start, (size_t)(p - start),
                   r->resp_sent == r->resp_len);
}

/* ------------------------------------------------------------- requests */

/* SHA-256 both sides, then a constant-time compare of the digests: no
 * early exit on the first differing byte, and no length leak. */
static bool token_equal(const char *given, const char *want)
{
  unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)given, strlen(given), a);
  SHA256((const unsigned char *)want, strlen(want), b);
  return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

bool web__auth_ok(web_t *w, struct lws *wsi, bool allow_query)
{
  if (!w->auth_token)
    return true;
  char hdr[1024];
  int n = lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION);
  if (n > 7 && strncasecmp(hdr, "Bearer ", 7) == 0)
    return token_equal(hdr + 7, w->auth_token);
  if (allow_query) {
    const char *v =
        lws_get_urlarg_by_name(wsi, "access_token=", hdr, sizeof(hdr));
    if (v)
      return token_equal(v, w->auth_token);
  }
  return false;
}

static long header_long(struct lws *wsi, enum lws_token_indexes h)
{
  char buf[32];
  int n = lws_hdr_copy(wsi, buf, sizeof(buf), h);
  if (n <= 0)
    return -1;
  char *endp;
  long v = strtol(buf, &endp, 10);
  return (*endp || v < 0) ? -2 : v;
}

static bool is_json_type(struct lws *wsi)
{
  char ct[128];
  if (lws_hdr_copy(wsi, ct, sizeof(ct), WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0)
    return false;
  size_t n = strlen("application/json");
  return strncasecmp(ct, "application/json", n) == 0 &&
         (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void cors_check(web_t *w, http_req_t *r)
{
  char origin[256];
  if (!w->cors_origin)
    return;
  if (lws_hdr_copy(r->wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) > 0)
    r->cors = strcmp(origin, w->cors_origin) == 0;
}

static void dispatch(web_t *w, http_req_t *r)
{
  r->reading_body = false;
  web__rest_dispatch(w, r);
}

/* Webhooks carry bigger bodies (push payloads) and need no media type:
 * their HMAC is checked on the raw bytes. */
static size_t body_cap(const web_t *w, const http_req_t *r)
{
  return r->route == WEB_R_WEBHOOK ? w->cfg.webhook_max_body
                                   : w->cfg.max_body;
}

/* Headers of a POST are in: check them and start reading the body. */
static int begin_post(web_t *w, http_req_t *r)
{
  long clen = header_long(r->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
  bool chunked = lws_hdr_total_length(r->wsi,
                                      WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
  bool hook = r->route == WEB_R_WEBHOOK;
  r->reading_body = clen > 0 || chunked;
  if (hook && !web__webhook_signed(r->wsi))
    return early_error(r, 401, "unauthorized",
                       "missing or malformed X-Hub-Signature-256");
  if (clen == -2)
    return early_error(r, 400, "bad_request", "bad Content-Length");
  if (clen > (long)body_cap(w, r))
    return early_error(r, 413, "too_large", "request body too large");
  if (r->reading_body && !hook && !is_json_type(r->wsi))
    return early_error(r, 415, "unsupported_media_type",
                       "send the body as application/json");
  if (!r->reading_body)
    dispatch(w, r);
  return 0;
}

static int on_request(web_t *w, http_req_t *r, struct lws *wsi,
                      const char *path)
{
  req_clear(r);
  r->w = w;
  r->wsi = wsi;
  char *uri = NULL;
  int ulen = 0;
  r->method = lws_http_get_uri_and_method(wsi, &uri, &ulen);
  r->route = WEB_R_OTHER;
  /* lws hands the path decoded, as a C string: a %00 in it would cut it
   * short and name another resource (/api/v1/tasks/%00 the task list). */
  if (uri && ulen > 0 && memchr(uri, '\0', (size_t)ulen))
    return early_error(r, 400, "bad_request", "the path holds a NUL byte");
  if (!path || strlen(path) >= sizeof(r->path))
    return early_error(r, 404, "not_found", "no such path");
  strcpy(r->path, path);
  unsigned methods = web__route(r);
  cors_check(w, r);
  if (!methods)
    return early_error(r, 404, "not_found", "no such path");
  r->allow = (methods & (1u << LWSHUMETH_POST)) ? "POST, OPTIONS"
                                                  : "GET, OPTIONS";
  if (r->method == LWSHUMETH_OPTIONS) {
    web__http_text(r, 204, "text/plain", NULL, 0);
    return 0;
  }
  if (r->route != WEB_R_PANEL && r->route != WEB_R_WEBHOOK &&
      !web__auth_ok(w, wsi, false))
    return early_error(r, 401, "unauthorized",
                       "missing or wrong bearer token");
  if (r->method < 0 || !(methods & (1u << r->method)))
    return early_error(r, 405, "method_not_allowed",
                       "method not allowed on this path");
  if (r->method == LWSHUMETH_POST)
    return begin_post(w, r);
  dispatch(w, r);
  return 0;
}

static int on_body(web_t *w, http_req_t *r, const void *in, size_t len)
{
  if (!r->reading_body)
    return 0; /* answered already (413); the rest is dropped */
  if (r->body.len + len > body_cap(w, r)) {
    r->body_too_big = true;
    return early_error(r, 413, "too_large", "request body too large");
  }
  if (web__buf_add(&r->body, in, len))
    return early_error(r, 500, "internal", "out of memory");
  return 0;
}

int web__http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len)
{
  http_req_t *r = user;
  web_t *w = web__from_wsi(wsi);
  switch (reason) {
  case LWS_CALLBACK_HTTP:
    return on_request(w, r, wsi, in);
  case LWS_CALLBACK_HTTP_BODY:
    return on_body(w, r, in, len);
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    if (r->reading_body)
      dispatch(w, r);
    return 0;
  case LWS_CALLBACK_HTTP_WRITEABLE:
    return r ? on_writeable(w, r) : 0;
  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    if (r)
      req_clear(r);
    return 0;
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    /* A WebSocket upgrade that named none of our subprotocols. */
    return -1;
  default:
    break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}
