/*
 * util.c: small pieces the other web/ files share: a growable buffer,
 * refcounted WebSocket frames, client-facing errors, error strings.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt.h"
#include "web/web_int.h"

const char *web_strerror(int rc)
{
  switch (rc) {
#define WEB_ERR_STR(name, code, text)                                        \
  case code:                                                                 \
    return "WEB_" #name ": " text;
    WEB_ERRNO_MAP(WEB_ERR_STR)
#undef WEB_ERR_STR
  default:
    break;
  }
  if (rc <= -33000 && rc > -34000)
    return store_strerror(rc);
  if (rc <= -32000 && rc > -33000)
    return proto_strerror(rc);
  return rt_strerror(rc);
}

int web__buf_add(web_buf_t *b, const void *data, size_t len)
{
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + len + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
      return -1;
    b->p = p;
    b->cap = cap;
  }
  if (len)
    memcpy(b->p + b->len, data, len);
  b->len += len;
  b->p[b->len] = '\0';
  return 0;
}

int web__buf_printf(web_buf_t *b, const char *fmt, ...)
{
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0)
    return -1;
  if ((size_t)n < sizeof(small))
    return web__buf_add(b, small, (size_t)n);
  char *big = malloc((size_t)n + 1);
  if (!big)
    return -1;
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  int rc = web__buf_add(b, big, (size_t)n);
  free(big);
  return rc;
}

void web__buf_free(web_buf_t *b)
{
  free(b->p);
  memset(b, 0, sizeof(*b));
}

/* The RFC 6455 header of a final, unmasked server frame into the bytes
 * just before @p payload; returns its length (2, 4 or 10). */
static unsigned char frame_header(unsigned char *payload, size_t len,
                                  bool binary)
{
  unsigned char opcode = 0x80 | (binary ? 0x2 : 0x1); /* FIN + opcode */
  if (len < 126) {
    payload[-2] = opcode;
    payload[-1] = (unsigned char)len;
    return 2;
  }
  if (len < 65536) {
    payload[-4] = opcode;
    payload[-3] = 126;
    payload[-2] = (unsigned char)(len >> 8);
    payload[-1] = (unsigned char)len;
    return 4;
  }
  payload[-10] = opcode;
  payload[-9] = 127;
  for (int i = 0; i < 8; i++)
    payload[-8 + i] = (unsigned char)((uint64_t)len >> (8 * (7 - i)));
  return 10;
}

_Static_assert(LWS_PRE >= 10, "a frame header fits in the headroom");

web_frame_t *web__frame_new(const void *data, size_t len, bool binary)
{
  web_frame_t *f = malloc(sizeof(*f) + LWS_PRE + len);
  if (!f)
    return NULL;
  f->refs = 1;
  f->binary = binary;
  f->event = false;
  f->len = len;
  memcpy(f->buf + LWS_PRE, data, len);
  f->hlen = frame_header(f->buf + LWS_PRE, len, binary);
  return f;
}

void web__frame_release(web_frame_t *f)
{
  if (f && --f->refs == 0)
    free(f);
}

int web__err(web_err_t *e, int status, const char *code, const char *fmt,
             ...)
{
  va_list ap;
  e->status = status;
  e->code = code;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof(e->message), fmt, ap);
  va_end(ap);
  return -1;
}

json_t *web__err_json(const web_err_t *e)
{
  return json_pack("{s:{s:s,s:s}}", "error", "code", e->code, "message",
                   e->message);
}

void web__job_free(web_job_t *j)
{
  if (!j)
    return;
  for (size_t i = 0; i < j->n; i++)
    free(j->writes[i].bytes);
  free(j);
}

int web__url_arg(struct lws *wsi, const char *name, char *out, size_t cap)
{
  char buf[WEB__PATH_MAX];
  const char *v = lws_get_urlarg_by_name(wsi, name, buf, (int)sizeof buf);
  if (!v)
    return 0;
  size_t n = strlen(v);
  if (n >= cap)
    return -1;
  memcpy(out, v, n + 1);
  return 1;
}

int web__parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (!*s || *end || *s == '-' || *s == '+' || errno || v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}
