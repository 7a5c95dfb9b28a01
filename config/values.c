/*
 * values.c: scalar syntax of the config: numbers, durations, sizes,
 * listen addresses, GitHub names, variable names, URLs, and the
 * heuristics that keep secrets out of the file.
 *
 * Each parser takes a NUL-terminated string and accepts the whole of it
 * or nothing (returns -1, or a problem text naming what is wrong).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_int.h"

static bool text_is(const cfg_node_t *n, const char *a, const char *b,
                    const char *c)
{
  return !strcmp(n->text, a) || !strcmp(n->text, b) || !strcmp(n->text, c);
}

bool cfg__is_null(const cfg_node_t *n)
{
  return n->kind == CFG_NODE_SCALAR && n->plain &&
         (n->len == 0 || !strcmp(n->text, "~") ||
          text_is(n, "null", "Null", "NULL"));
}

const char *cfg__node_what(const cfg_node_t *n)
{
  if (n->kind == CFG_NODE_SEQ)
    return "a list";
  if (n->kind == CFG_NODE_MAP)
    return "a map";
  if (!n->plain)
    return "a quoted string";
  if (cfg__is_null(n))
    return "nothing (null)";
  if (text_is(n, "true", "True", "TRUE") ||
      text_is(n, "false", "False", "FALSE"))
    return "a boolean";
  double d;
  if (cfg__parse_double(n->text, &d) == 0)
    return "a number";
  return "a string";
}

void cfg__excerpt(const cfg_node_t *n, char *buf, size_t cap)
{
  const size_t limit = 40;
  size_t o = 0, i = 0;
  const char *s = n->kind == CFG_NODE_SCALAR ? n->text : "";
  size_t len = n->kind == CFG_NODE_SCALAR ? n->len : 0;
  for (; i < len && i < limit && o + 4 < cap; i++) {
    unsigned char ch = (unsigned char)s[i];
    buf[o++] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
  }
  /* Do not end inside a UTF-8 sequence. */
  if (i < len)
    while (o > 0 && ((unsigned char)buf[o - 1] & 0xC0) == 0x80)
      o--;
  if (o > 0 && i < len && ((unsigned char)buf[o - 1] & 0xC0) == 0xC0)
    o--;
  if (i < len && o + 3 < cap) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o] = '\0';
}

int cfg__parse_int(const char *s, int64_t *out)
{
  const char *p = s;
  if (*p == '-' || *p == '+')
    p++;
  if (!isdigit((unsigned char)*p))
    return -1;
  for (const char *q = p; *q; q++)
    if (!isdigit((unsigned char)*q))
      return -1;
  errno = 0;
  long long v = strtoll(s, NULL, 10);
  if (errno == ERANGE)
    return -1;
  *out = v;
  return 0;
}

int cfg__parse_double(const char *s, double *out)
{
  if (!*s)
    return -1;
  /* Decimal only: strtod would also take "inf", "nan" and hex floats. */
  for (const char *q = s; *q; q++)
    if (!isdigit((unsigned char)*q) && !strchr("+-.eE", *q))
      return -1;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno == ERANGE || !isfinite(v))
    return -1;
  *out = v;
  return 0;
}

/* Read digits at *p (at most 12: no overflow below), advancing *p. */
static int take_digits(const char **p, uint64_t *v)
{
  const char *q = *p;
  uint64_t x = 0;
  while (isdigit((unsigned char)*q) && q - *p < 12)
    x = x * 10 + (uint64_t)(*q++ - '0');
  if (q == *p || isdigit((unsigned char)*q))
    return -1;
  *p = q;
  *v = x;
  return 0;
}

int cfg__parse_duration(const char *s, uint64_t *ms)
{
  static const struct {
    const char *unit;
    uint64_t ms;
  } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
               {"d", 86400000}};
  uint64_t total = 0;
  const char *p = s;
  if (!*p)
    return -1;
  while (*p) {
    uint64_t v;
    if (take_digits(&p, &v))
      return -1;
    size_t u = 0;
    for (; u < sizeof units / sizeof *units; u++) {
      size_t ul = strlen(units[u].unit);
      if (!strncmp(p, units[u].unit, ul) && !isalpha((unsigned char)p[ul]))
        break;
    }
    if (u == sizeof units / sizeof *units)
      return -1;
    p += strlen(units[u].unit);
    total += v * units[u].ms; /* < 10^12 x 86400000 < 2^64 per term */
    if (total > UINT64_MAX / 2)
      return -1;
  }
  *ms = total;
  return 0;
}

int cfg__parse_size(const char *s, uint64_t *bytes)
{
  static const struct {
    const char *unit;
    uint64_t mult;
  } units[] = {{"", 1},          {"B", 1},           {"KiB", 1024},
               {"MiB", 1 << 20}, {"GiB", 1u << 30},  {"kB", 1000},
               {"KB", 1000},     {"MB", 1000000},    {"GB", 1000000000}};
  const char *p = s;
  uint64_t v;
  if (take_digits(&p, &v))
    return -1;
  if (*p == ' ' && p[1])
    p++;
  for (size_t u = 0; u < sizeof units / sizeof *units; u++)
    if (!strcmp(p, units[u].unit)) {
      *bytes = v * units[u].mult; /* < 10^12 x 2^30 < 2^64 */
      return 0;
    }
  return -1;
}

static int parse_port(const char *s, uint16_t *port)
{
  size_t n = strlen(s);
  if (n == 0 || n > 5)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i]))
      return -1;
  long v = strtol(s, NULL, 10);
  if (v > 65535)
    return -1;
  *port = (uint16_t)v;
  return 0;
}

int cfg__parse_listen(const char *s, char **host, uint16_t *port)
{
  char buf[64];
  const char *colon;
  size_t hlen;
  int family = AF_INET;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':')
      return -1;
    colon = close + 1;
    s++;
    hlen = (size_t)(close - s);
    family = AF_INET6;
  } else {
    colon = strrchr(s, ':');
    if (!colon)
      return -1;
    hlen = (size_t)(colon - s);
  }
  if (hlen == 0 || hlen >= sizeof buf || parse_port(colon + 1, port))
    return -1;
  memcpy(buf, s, hlen);
  buf[hlen] = '\0';
  unsigned char addr[16];
  if (!(family == AF_INET && !strcmp(buf, "localhost")) &&
      inet_pton(family, buf, addr) != 1)
    return -1;
  *host = cfg__xstrdup(buf);
  return 0;
}

bool cfg_host_is_loopback(const char *host)
{
  unsigned char a[16];
  if (!host)
    return false;
  if (!strcmp(host, "localhost"))
    return true;
  if (inet_pton(AF_INET, host, a) == 1)
    return a[0] == 127;
  if (inet_pton(AF_INET6, host, a) == 1) {
    static const unsigned char one[16] = {[15] = 1};
    return memcmp(a, one, 16) == 0;
  }
  return false;
}

static bool all_in(const char *s, size_t n, const char *extra)
{
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
      return false;
  return true;
}

const char *cfg__github_name_problem(const char *s)
{
  if (strstr(s, "://") || !strncmp(s, "github.com/", 11) ||
      !strncmp(s, "git@", 4))
    return "want a GitHub repository as owner/name, not a URL";
  const char *slash = strchr(s, '/');
  if (!slash || strchr(slash + 1, '/'))
    return "want a GitHub repository as owner/name (one '/')";
  size_t olen = (size_t)(slash - s), nlen = strlen(slash + 1);
  const char *name = slash + 1;
  /* GitHub's rules: owners are 1-39 letters, digits and inner hyphens;
   * repository names 1-100 letters, digits, '.', '-', '_'. */
  if (olen == 0 || olen > 39 || !all_in(s, olen, "-") || s[0] == '-' ||
      s[olen - 1] == '-')
    return "bad GitHub owner: 1-39 letters, digits or inner hyphens";
  if (nlen == 0 || nlen > 100 || !all_in(name, nlen, "._-") ||
      !strcmp(name, ".") || !strcmp(name, ".."))
    return "bad GitHub repository name: 1-100 letters, digits, '.', '-' "
           "or '_'";
  if (nlen > 4 && !strcmp(name + nlen - 4, ".git"))
    return "write the GitHub repository name without .git";
  return NULL;
}

const char *cfg__env_name_problem(const char *s)
{
  size_t n = strlen(s);
  if (n == 0)
    return "an environment variable name cannot be empty";
  if (cfg__looks_like_token(s))
    return "this looks like a token, not a variable name: put the value "
           "in the environment and write the variable's name here";
  if (n > 128)
    return "an environment variable name is at most 128 characters";
  if (isdigit((unsigned char)s[0]) || !all_in(s, n, "_"))
    return "an environment variable name is letters, digits and '_', "
           "not starting with a digit";
  return NULL;
}

const char *cfg__url_problem(const char *s)
{
  size_t skip;
  if (!strncasecmp(s, "https://", 8))
    skip = 8;
  else if (!strncasecmp(s, "http://", 7))
    skip = 7;
  else
    return "want an http:// or https:// URL";
  if (strlen(s) > 2048)
    return "a URL is at most 2048 characters";
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p <= 0x20 || *p == 0x7F)
      return "a URL cannot hold spaces or control characters";
  const char *host = s + skip;
  size_t hlen = strcspn(host, "/?#");
  if (hlen == 0)
    return "the URL has no host";
  if (memchr(host, '@', hlen))
    return "credentials do not belong in the URL: name an environment "
           "variable in a *_env key instead";
  return NULL;
}

bool cfg__looks_like_token(const char *s)
{
  static const char *const prefixes[] = {
      "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "sk-ant-",
      "xoxb-", "xoxp-", "xoxa-", "glpat-", "-----BEGIN",
  };
  size_t n = strlen(s);
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
    size_t pl = strlen(prefixes[i]);
    /* A prefix and at least 8 more characters: a name like "ghp_x" is
     * not mistaken for a token. */
    if (n >= pl + 8 && !strncmp(s, prefixes[i], pl))
      return true;
  }
  /* AWS access key ids: AKIA and 16 upper-case letters or digits. */
  if (n == 20 && !strncmp(s, "AKIA", 4)) {
    for (size_t i = 4; i < 20; i++)
      if (!isupper((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
        return false;
    return true;
  }
  return false;
}

/* Is @p w (length @p n, lower case) one of @p words? */
static bool word_in(const char *w, size_t n, const char *const *words)
{
  for (; *words; words++)
    if (strlen(*words) == n && !memcmp(w, *words, n))
      return true;
  return false;
}

bool cfg__name_is_secret(const char *s)
{
  static const char *const secret_words[] = {
      "token", "secret", "password", "passwd", "pass", "apikey",
      "credential", "credentials", "passphrase", NULL};
  static const char *const key_owners[] = {"api", "private", "access",
                                           "secret", "signing", NULL};
  char low[129];
  size_t n = strlen(s);
  if (n >= sizeof low)
    return false;
  for (size_t i = 0; i <= n; i++)
    low[i] = (char)tolower((unsigned char)s[i]);
  if (n >= 4 && !strcmp(low + n - 4, "_env"))
    return false; /* names a variable: that is the right way */
  /* Word by word ("max_tokens" is not a secret, "auth_token" is). */
  const char *prev = NULL;
  size_t prevn = 0;
  for (const char *w = low; *w;) {
    size_t wn = strcspn(w, "_-.");
    if (word_in(w, wn, secret_words))
      return true;
    if (wn == 3 && !memcmp(w, "key", 3) && prev &&
        word_in(prev, prevn, key_owners))
      return true;
    prev = w;
    prevn = wn;
    w += wn;
    w += strspn(w, "_-.");
  }
  return false;
}

unsigned cfg__edit_distance(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63)
    return 3;
  unsigned row[64];
  for (size_t j = 0; j <= lb; j++)
    row[j] = (unsigned)j;
  for (size_t i = 1; i <= la; i++) {
    unsigned diag = row[0];
    row[0] = (unsigned)i;
    for (size_t j = 1; j <= lb; j++) {
      unsigned up = row[j];
      unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
      unsigned best = diag + cost;
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb] > 3 ? 3 : row[lb];
}
