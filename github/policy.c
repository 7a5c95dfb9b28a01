/*
 * policy.c: the client's pure rules: Link pagination, retry backoff,
 * Retry-After, rate-limit buckets and gates, origins, page joining.
 * No I/O and no clock except gh__now_ms(); every rule takes "now" as an
 * argument so the tests can drive it.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "github/gh_int.h"

/* ------------------------------------------------------------- buffer */

int gh__buf_add(gh__buf_t *b, const void *data, size_t n, size_t limit)
{
  if (n > limit || b->len > limit - n)
    return GH_ETOOBIG;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
      return GH_ENOMEM;
    b->p = p;
    b->cap = cap;
  }
  if (n)
    memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = 0;
  return 0;
}

int gh__buf_cstr(gh__buf_t *b)
{
  return b->p ? 0 : gh__buf_add(b, "", 0, 1);
}

void gh__buf_fini(gh__buf_t *b)
{
  free(b->p);
  memset(b, 0, sizeof(*b));
}

char *gh__buf_take(gh__buf_t *b, size_t *len)
{
  if (gh__buf_cstr(b)) {
    *len = 0;
    return NULL;
  }
  char *p = b->p;
  *len = b->len;
  memset(b, 0, sizeof(*b));
  return p;
}

/* --------------------------------------------------------------- Link */

static const char *skip_ws(const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* Does the parameter list [p, end) hold rel="... next ..."? */
static bool params_say_next(const char *p, const char *end)
{
  while (p < end) {
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *stop = semi ? semi : end;
    const char *q = skip_ws(p);
    if (stop - q > 4 && strncasecmp(q, "rel=", 4) == 0) {
      q += 4;
      const char *ve = stop;
      if (*q == '"') {
        q++;
        const char *close = memchr(q, '"', (size_t)(stop - q));
        ve = close ? close : stop;
      }
      /* rel may list several space-separated relations */
      while (q < ve) {
        while (q < ve && *q == ' ')
          q++;
        const char *w = q;
        while (q < ve && *q != ' ')
          q++;
        if (q - w == 4 && strncasecmp(w, "next", 4) == 0)
          return true;
      }
    }
    p = semi ? semi + 1 : end;
  }
  return false;
}

char *gh__link_next(const char *link)
{
  const char *p = link;
  while (p && *p) {
    const char *lt = strchr(p, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (!gt)
      return NULL;
    /* the link's parameters run to the next comma outside <...> */
    const char *end = gt + 1;
    while (*end && *end != ',')
      end++;
    if (params_say_next(gt + 1, end))
      return strndup(lt + 1, (size_t)(gt - lt - 1));
    p = *end ? end + 1 : end;
  }
  return NULL;
}

/* ------------------------------------------------------------ backoff */

uint64_t gh__backoff_ms(unsigned n, unsigned base_ms, unsigned max_ms,
                        uint64_t rnd)
{
  uint64_t step = base_ms ? base_ms : 1;
  for (unsigned i = 0; i < n && step < max_ms; i++)
    step *= 2;
  if (max_ms && step > max_ms)
    step = max_ms;
  uint64_t half = step / 2;
  return half + (step - half ? rnd % (step - half + 1) : 0);
}

int64_t gh__retry_after_ms(const char *v, int64_t now_s)
{
  if (!v)
    return -1;
  v = skip_ws(v);
  if (isdigit((unsigned char)*v)) {
    char *end;
    long long s = strtoll(v, &end, 10);
    if (*skip_ws(end) || s < 0 || s > 86400LL * 365)
      return -1;
    return (int64_t)s * 1000;
  }
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  const char *end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *skip_ws(end))
    return -1;
  int64_t at = (int64_t)timegm(&tm);
  return at > now_s ? (at - now_s) * 1000 : 0;
}

/* -------------------------------------------------------- rate limits */

const char *gh__resource_of(const char *path)
{
  if (!path)
    return "core";
  /* an absolute URL: look at its path only */
  const char *scheme = strstr(path, "://");
  if (scheme) {
    const char *slash = strchr(scheme + 3, '/');
    path = slash ? slash : "/";
  }
  if (strstr(path, "/search/"))
    return "search";
  if (strstr(path, "/graphql"))
    return "graphql";
  return "core";
}

static gh__rl_bucket_t *bucket(gh__ratelimit_t *rl, const char *name,
                               bool create)
{
  for (size_t i = 0; i < rl->n; i++)
    if (strcmp(rl->b[i].name, name) == 0)
      return &rl->b[i];
  if (!create || strlen(name) >= sizeof(rl->b[0].name))
    return NULL;
  /* full: reuse the last slot (GitHub has fewer buckets than we keep) */
  gh__rl_bucket_t *b = rl->n < GH__RL_RESOURCES ? &rl->b[rl->n++]
                                                : &rl->b[GH__RL_RESOURCES - 1];
  memset(b, 0, sizeof(*b));
  strcpy(b->name, name);
  b->remaining = -1;
  return b;
}

void gh__rl_update(gh__ratelimit_t *rl, const char *resource,
                   int64_t remaining, int64_t reset_s)
{
  gh__rl_bucket_t *b = bucket(rl, resource ? resource : "core", true);
  if (!b)
    return;
  b->remaining = remaining;
  if (reset_s > 0)
    b->reset_s = reset_s;
}

void gh__rl_pause(gh__ratelimit_t *rl, int64_t until_ms)
{
  if (until_ms > rl->pause_until_ms)
    rl->pause_until_ms = until_ms;
}

int64_t gh__rl_ready_at(const gh__ratelimit_t *rl, const char *resource,
                        int64_t now_ms)
{
  int64_t at = now_ms;
  if (rl->pause_until_ms > at)
    at = rl->pause_until_ms;
  const gh__rl_bucket_t *b =
      bucket((gh__ratelimit_t *)rl, resource ? resource : "core", false);
  if (b && b->remaining == 0 && b->reset_s > 0) {
    /* one second of slack: GitHub's clock and ours differ a little */
    int64_t reset_ms = (b->reset_s + 1) * 1000;
    if (reset_ms > at)
      at = reset_ms;
  }
  return at;
}

/* ------------------------------------------------------------ origins */

int gh__url_origin(const char *url, char *out, size_t cap)
{
  const char *sep = url ? strstr(url, "://") : NULL;
  if (!sep || sep == url)
    return GH_EINVAL;
  const char *end = sep + 3;
  while (*end && *end != '/' && *end != '?' && *end != '#')
    end++;
  size_t n = (size_t)(end - url);
  if (end == sep + 3 || n + 1 > cap)
    return GH_EINVAL;
  for (size_t i = 0; i < n; i++)
    out[i] = (char)tolower((unsigned char)url[i]);
  out[n] = 0;
  return 0;
}

/* ------------------------------------------------------------- pages */

static bool json_ws(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int gh__page_join(gh__buf_t *acc, const char *page, size_t len, size_t limit)
{
  size_t a = 0, z = len;
  while (a < z && json_ws(page[a]))
    a++;
  while (z > a && json_ws(page[z - 1]))
    z--;
  if (z - a < 2 || page[a] != '[' || page[z - 1] != ']')
    return GH_EPROTO;
  a++;
  z--;
  while (a < z && json_ws(page[a]))
    a++;
  while (z > a && json_ws(page[z - 1]))
    z--;
  int rc = 0;
  bool first = acc->len == 0;
  if (first)
    rc = gh__buf_add(acc, "[", 1, limit);
  if (!rc && z > a && acc->len > 1)
    rc = gh__buf_add(acc, ",", 1, limit);
  if (!rc && z > a)
    rc = gh__buf_add(acc, page + a, z - a, limit);
  return rc;
}

int gh__page_close(gh__buf_t *acc, size_t limit)
{
  if (acc->len == 0)
    return gh__buf_add(acc, "[]", 2, limit + 2);
  return gh__buf_add(acc, "]", 1, limit + 1);
}

int64_t gh__now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
