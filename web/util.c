/*
 * util.c: small pieces the other web/ files share: a growable buffer,
 * refcounted WebSocket frames, client-facing errors, error strings.
 */
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
