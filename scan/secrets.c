/*
 * secrets.c: see secrets.h for the rules and the contract.
 *
 * Layout: one pass over the buffer (scan_secrets) tests each byte pair
 * against `anchors`, a 64 KiB table of the bigrams that may start a rule:
 * token prefixes, "--" of private keys, every '=' and ':' (the generic rule
 * starts at the operator and looks back at the name, so the many names
 * that are never assigned cost nothing), and '<' + letter for XML. Eight
 * positions are tested per branch (next_anchor). A hit tries the rules of
 * its first byte; a match reports and resumes after the secret, anything
 * else resumes at the next byte. Line numbers are counted lazily with
 * memchr up to each finding. On the kernel tree the pass costs about three
 * memchr passes (bench/bench_detect.c).
 *
 * The secret itself is only ever read in place: hashed with one EVP call
 * (tokens, generic values) or streamed through a small stack buffer that
 * is wiped afterwards (private-key bodies, whose digest skips the
 * layout: newlines, quotes, "\n" escapes), and its first 4 bytes copied
 * into the preview.
 */
#include "scan/secrets.h"

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generic rule bounds. 16 characters: shorter values are mostly words or
 * ids; 256: longer ones are certificates, blobs or prose, and a key in
 * them is caught by its own rule. Entropy thresholds: random base62 of 16
 * characters averages ~3.8 bits/char, English words and identifiers stay
 * under ~3.3; hex digits cap at 4.0, so random hex of 20+ characters sits
 * around 3.5-3.9 and gets a lower floor (3.0). */
#define GENERIC_MIN_LEN 16
#define GENERIC_MAX_LEN 256
#define ENTROPY_MIN 3.5
#define ENTROPY_MIN_HEX 3.0
#define MAX_NAME_LEN 128
#define PREVIEW_CHARS 4
/* A private key body is looked for up to this far after its header; a
 * body needs this many base64 characters (a 256-bit EC key has ~160). */
#define KEY_MAX_BODY (64 * 1024)
#define KEY_MIN_B64 64
#define ALLOW_MARK "ccm:allow-secret"
#define ALLOW_MAX_LINE 1024

/* ---- character classes ---- */

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static bool is_alpha(unsigned char c) { return is_upper(c) || is_lower(c); }
static bool is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }
static bool is_hex(unsigned char c)
{
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static unsigned char to_lower(unsigned char c)
{
  return is_upper(c) ? (unsigned char)(c + 32) : c;
}
static bool is_b64(unsigned char c)
{
  return is_alnum(c) || c == '+' || c == '/' || c == '=';
}
static bool is_name_char(unsigned char c)
{
  return is_alnum(c) || c == '_' || c == '-' || c == '.';
}
static bool is_quote(unsigned char c)
{
  return c == '"' || c == '\'' || c == '`';
}
/* strchr(set, c) without its match on the terminating NUL */
static bool char_in(unsigned char c, const char *set)
{
  return c != 0 && strchr(set, c) != NULL;
}

/* Alphabets of token bodies. */
enum body_class {
  B_UPPER_DIGIT, /* A-Z 0-9 */
  B_ALNUM,       /* A-Z a-z 0-9 */
  B_ALNUM_US,    /* ... and _ */
  B_B64URL,      /* ... and _ - */
  B_B64URL_DOT,  /* ... and _ - . (JWT, SendGrid) */
  B_SLACK,       /* alnum and - */
  B_HOOK,        /* alnum and / */
};

static bool in_body(enum body_class k, unsigned char c)
{
  switch (k) {
  case B_UPPER_DIGIT: return is_upper(c) || is_digit(c);
  case B_ALNUM: return is_alnum(c);
  case B_ALNUM_US: return is_alnum(c) || c == '_';
  case B_B64URL: return is_alnum(c) || c == '_' || c == '-';
  case B_B64URL_DOT: return is_alnum(c) || c == '_' || c == '-' || c == '.';
  case B_SLACK: return is_alnum(c) || c == '-';
  case B_HOOK: return is_alnum(c) || c == '/';
  }
  return false;
}

/* ---- rules ---- */

/* Extra check of a whole token (prefix included). */
typedef bool (*token_check_fn)(const char *tok, size_t n);

struct token_rule {
  const char *rule;
  const char *prefix;
  uint8_t cls;          /* enum body_class */
  uint16_t min, max;    /* body length after the prefix */
  bool body_only;       /* the secret is the body (webhook URLs) */
  token_check_fn check; /* or NULL */
};

static size_t count_char(const char *p, size_t n, char ch)
{
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    k += p[i] == ch;
  return k;
}

/* header.payload.signature, both JSON parts base64url of "{"...", each
 * part long enough not to be a version string or a domain name. */
static bool check_jwt(const char *t, size_t n)
{
  const char *d1 = memchr(t, '.', n);
  if (!d1 || count_char(t, n, '.') != 2)
    return false;
  const char *p2 = d1 + 1;
  const char *d2 = memchr(p2, '.', n - (size_t)(p2 - t));
  size_t sig = n - (size_t)(d2 + 1 - t);
  return d1 - t >= 10 && d2 - p2 >= 10 && sig >= 16 &&
         memcmp(p2, "eyJ", 3) == 0;
}

/* Legacy OpenAI keys: sk- + 20 + "T3BlbkFJ" + 20. */
static bool check_openai_legacy(const char *t, size_t n)
{
  return n == 51 && memcmp(t + 23, "T3BlbkFJ", 8) == 0;
}

/* SG. + 22 + . + 43 */
static bool check_sendgrid(const char *t, size_t n)
{
  return n == 69 && t[25] == '.' && count_char(t, n, '.') == 2;
}

/* T<workspace>/B<channel>/<secret> */
static bool check_slack_hook(const char *t, size_t n)
{
  const char *body = t + strlen("https://hooks.slack.com/services/");
  return body[0] == 'T' && count_char(t, n, '/') == 6;
}

static const struct token_rule token_rules[] = {
  {"aws-access-key-id", "AKIA", B_UPPER_DIGIT, 16, 16, false, NULL},
  {"aws-access-key-id", "ASIA", B_UPPER_DIGIT, 16, 16, false, NULL},
  {"aws-access-key-id", "ABIA", B_UPPER_DIGIT, 16, 16, false, NULL},
  {"aws-access-key-id", "ACCA", B_UPPER_DIGIT, 16, 16, false, NULL},
  {"github-pat", "ghp_", B_ALNUM, 36, 36, false, NULL},
  {"github-oauth", "gho_", B_ALNUM, 36, 36, false, NULL},
  {"github-app-token", "ghu_", B_ALNUM, 36, 36, false, NULL},
  {"github-app-token", "ghs_", B_ALNUM, 36, 36, false, NULL},
  {"github-refresh-token", "ghr_", B_ALNUM, 36, 76, false, NULL},
  {"github-fine-grained-pat", "github_pat_", B_ALNUM_US, 50, 100, false, NULL},
  {"slack-token", "xoxb-", B_SLACK, 10, 255, false, NULL},
  {"slack-token", "xoxp-", B_SLACK, 10, 255, false, NULL},
  {"slack-token", "xoxa-", B_SLACK, 10, 255, false, NULL},
  {"slack-token", "xoxr-", B_SLACK, 10, 255, false, NULL},
  {"slack-token", "xoxs-", B_SLACK, 10, 255, false, NULL},
  {"slack-token", "xapp-", B_SLACK, 10, 255, false, NULL},
  {"slack-webhook", "https://hooks.slack.com/services/", B_HOOK, 20, 128, true,
   check_slack_hook},
  {"stripe-secret-key", "sk_live_", B_ALNUM, 20, 255, false, NULL},
  {"stripe-secret-key", "rk_live_", B_ALNUM, 20, 255, false, NULL},
  {"stripe-secret-key", "sk_test_", B_ALNUM, 20, 255, false, NULL},
  {"stripe-secret-key", "rk_test_", B_ALNUM, 20, 255, false, NULL},
  {"google-api-key", "AIza", B_B64URL, 35, 35, false, NULL},
  {"npm-token", "npm_", B_ALNUM, 36, 36, false, NULL},
  {"gitlab-pat", "glpat-", B_B64URL, 20, 64, false, NULL},
  {"anthropic-api-key", "sk-ant-api03-", B_B64URL, 80, 120, false, NULL},
  {"anthropic-api-key", "sk-ant-admin01-", B_B64URL, 80, 120, false, NULL},
  {"openai-api-key", "sk-proj-", B_B64URL, 40, 255, false, NULL},
  {"openai-api-key", "sk-svcacct-", B_B64URL, 40, 255, false, NULL},
  {"openai-api-key", "sk-admin-", B_B64URL, 40, 255, false, NULL},
  {"openai-api-key", "sk-", B_ALNUM, 48, 48, false, check_openai_legacy},
  {"sendgrid-api-key", "SG.", B_B64URL_DOT, 66, 66, false, check_sendgrid},
  {"pypi-token", "pypi-AgEIcHlwaS5vcmc", B_B64URL, 50, 255, false, NULL},
  {"jwt", "eyJ", B_B64URL_DOT, 40, 8192, false, check_jwt},
};
#define NTOKEN_RULES (sizeof token_rules / sizeof token_rules[0])

#define RULE_PRIVATE_KEY "private-key"
#define RULE_GENERIC "generic-high-entropy"

static const char *const rule_ids[] = {
  RULE_PRIVATE_KEY, "aws-access-key-id", "github-pat", "github-oauth",
  "github-app-token", "github-refresh-token", "github-fine-grained-pat",
  "slack-token", "slack-webhook", "stripe-secret-key", "google-api-key",
  "npm-token", "gitlab-pat", "anthropic-api-key", "openai-api-key",
  "sendgrid-api-key", "pypi-token", "jwt", RULE_GENERIC, NULL,
};

const char *const *scan_secret_rules(size_t *n)
{
  if (n)
    *n = sizeof rule_ids / sizeof rule_ids[0] - 1;
  return rule_ids;
}

/* Names of the generic rule: the normalised name (lower case, _ - .
 * dropped) must end with one of these. "Ends with" keeps token_type,
 * tokenizer, password_hash and secret_name out. */
static const char *const generic_names[] = {
  "password", "passwd", "passphrase", "secret", "token", "apikey",
  "privatekey", "secretkey", "secretkeybase", NULL,
};

/* Files whose values are hashes and ids, not secrets: the generic rule
 * skips them (token rules still run). */
static const char *const lockfiles[] = {
  "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml",
  "Cargo.lock", "Gemfile.lock", "composer.lock", "poetry.lock",
  "Pipfile.lock", "go.sum", "mix.lock", "pubspec.lock", "packages.lock.json",
  "flake.lock", "uv.lock", NULL,
};

/* ---- the anchor set, built once ---- */

static uint8_t anchors[65536]; /* 1 where a bigram may start a rule */
/* token rules by first byte: indices + 1, 0 ends (at most 8 per byte) */
static uint8_t rules_by_first[256][9];
static uint8_t prefix_len[NTOKEN_RULES];
static pthread_once_t anchors_once = PTHREAD_ONCE_INIT;

static unsigned bigram(unsigned char a, unsigned char b)
{
  return (unsigned)a | (unsigned)b << 8;
}

static void anchor_add(unsigned char a, unsigned char b)
{
  anchors[bigram(a, b)] = 1;
}

/* Token prefixes by their first two bytes; "--" for private keys; every
 * '=' and ':' (the generic rule looks back from the operator at the name,
 * so names cost nothing until an assignment); '<' + letter for XML. */
static void anchors_build(void)
{
  for (size_t r = 0; r < NTOKEN_RULES; r++) {
    const unsigned char *p = (const unsigned char *)token_rules[r].prefix;
    uint8_t *slot = rules_by_first[p[0]];
    size_t k = 0;
    while (slot[k])
      k++;
    if (k < 8)
      slot[k] = (uint8_t)(r + 1);
    prefix_len[r] = (uint8_t)strlen(token_rules[r].prefix);
    anchor_add(p[0], p[1]);
  }
  anchor_add('-', '-');
  for (unsigned b = 0; b < 256; b++) {
    anchor_add('=', (unsigned char)b);
    anchor_add(':', (unsigned char)b);
    if (is_alpha((unsigned char)b))
      anchor_add('<', (unsigned char)b);
  }
}

static unsigned anchor_at(const unsigned char *p)
{
  return anchors[bigram(p[0], p[1])];
}

/* The first position >= i where an anchor starts, or len. Eight
 * positions per step, unrolled, and one branch for them: text touches a
 * few KiB of the table and most blocks hold no anchor. */
static size_t next_anchor(const unsigned char *u, size_t i, size_t len)
{
  for (; i + 9 <= len; i += 8) {
    const unsigned char *p = u + i;
    if (anchor_at(p) | anchor_at(p + 1) | anchor_at(p + 2) | anchor_at(p + 3) |
        anchor_at(p + 4) | anchor_at(p + 5) | anchor_at(p + 6) | anchor_at(p + 7))
      break;
  }
  for (; i + 1 < len; i++)
    if (anchor_at(u + i))
      return i;
  return len;
}

/* ---- small helpers ---- */

static bool ci_prefix(const char *p, size_t avail, const char *lit)
{
  size_t n = strlen(lit);
  if (avail < n)
    return false;
  for (size_t i = 0; i < n; i++)
    if (to_lower((unsigned char)p[i]) != (unsigned char)lit[i])
      return false;
  return true;
}

static bool ci_contains(const char *p, size_t n, const char *lit)
{
  size_t m = strlen(lit);
  for (size_t i = 0; i + m <= n; i++)
    if (to_lower((unsigned char)p[i]) == (unsigned char)lit[0] &&
        ci_prefix(p + i, n - i, lit))
      return true;
  return false;
}

static bool ci_contains_any(const char *p, size_t n, const char *const *lits)
{
  for (size_t i = 0; lits[i]; i++)
    if (ci_contains(p, n, lits[i]))
      return true;
  return false;
}

static bool all_same(const char *p, size_t n)
{
  for (size_t i = 1; i < n; i++)
    if (p[i] != p[0])
      return false;
  return true;
}

static double shannon_entropy(const char *p, size_t n)
{
  unsigned counts[256] = {0};
  double h = 0;
  if (n == 0)
    return 0;
  for (size_t i = 0; i < n; i++)
    counts[(unsigned char)p[i]]++;
  for (int c = 0; c < 256; c++) {
    if (!counts[c])
      continue;
    double q = (double)counts[c] / (double)n;
    h -= q * log2(q);
  }
  return h;
}

static const char *base_name(const char *path)
{
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

static bool is_lockfile(const char *path)
{
  if (!path)
    return false;
  const char *b = base_name(path);
  for (size_t i = 0; lockfiles[i]; i++)
    if (strcmp(b, lockfiles[i]) == 0)
      return true;
  return false;
}

/* In source code a literal is quoted: an unquoted value is a name. */
static bool is_source_code(const char *path)
{
  static const char *const exts[] = {
    "c", "h", "cc", "cpp", "cxx", "hpp", "hh", "m", "mm", "cu", "java", "kt",
    "kts", "scala", "groovy", "cs", "fs", "vb", "go", "rs", "swift", "dart",
    "js", "jsx", "mjs", "cjs", "ts", "tsx", "py", "rb", "php", "pl", "pm",
    "lua", "ex", "exs", "erl", "clj", "zig", "nim", NULL,
  };
  const char *dot = path ? strrchr(base_name(path), '.') : NULL;
  for (size_t i = 0; dot && exts[i]; i++)
    if (strcmp(dot + 1, exts[i]) == 0)
      return true;
  return false;
}

/* Obvious non-secrets, for every rule. */
static const char *const placeholder_words[] = {
  "example", "xxxxx", "changeme", "change_me", "change-me", "placeholder",
  "dummy", "redacted", "****", ".....", NULL,
};

/* More for the generic rule: references, templates, test values. */
static const char *const generic_placeholder_words[] = {
  "${", "{{", "}}", "%(", "$(", "<", ">", "process.env", "os.environ",
  "getenv", "env(", "env[", "env.", "secrets.", "vault:", "your", "test",
  "fake", "mock", "sample", "todo", "fixme", "insert", "://", "sha1",
  "sha256", "sha384", "sha512", "md5", NULL,
};

static bool looks_placeholder(const char *v, size_t n)
{
  return all_same(v, n) || ci_contains_any(v, n, placeholder_words);
}

static bool is_uuid(const char *v, size_t n)
{
  if (n != 36)
    return false;
  for (size_t i = 0; i < n; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? v[i] != '-' : !is_hex((unsigned char)v[i]))
      return false;
  }
  return true;
}

/* ---- the scan context ---- */

struct sctx {
  const char *buf;
  size_t len;
  const char *path;
  const scan_allowlist_t *allow;
  scan_secret_fn cb;
  void *ud;
  int count;
  bool stop;
  bool failed;
  bool generic; /* generic rule on for this file */
  bool bare_ok; /* unquoted values count (not in source code) */
  /* line tracking: line number of line_pos, start of that line */
  size_t line_pos, line_start;
  uint32_t line;
};

static bool has_prefix(const struct sctx *c, size_t i, const char *lit)
{
  size_t n = strlen(lit);
  return c->len - i >= n && memcmp(c->buf + i, lit, n) == 0;
}

static void locate(struct sctx *c, size_t pos, uint32_t *line, uint32_t *col)
{
  if (pos < c->line_pos) { /* never happens: findings come in order */
    c->line_pos = c->line_start = 0;
    c->line = 1;
  }
  const char *p = c->buf + c->line_pos, *end = c->buf + pos;
  const char *nl;
  while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
    c->line++;
    c->line_start = (size_t)(nl + 1 - c->buf);
    p = nl + 1;
  }
  c->line_pos = pos;
  *line = c->line;
  *col = (uint32_t)(pos - c->line_start + 1);
}

static bool line_allows(const struct sctx *c, size_t pos)
{
  const char *ls = c->buf + c->line_start;
  const char *le = memchr(c->buf + pos, '\n', c->len - pos);
  if (!le)
    le = c->buf + c->len;
  return memmem(ls, (size_t)(le - ls), ALLOW_MARK, strlen(ALLOW_MARK)) != NULL;
}

static bool allowlisted(const scan_allowlist_t *a, const char *path,
                        const char *rule, const uint8_t digest[32]);

/* Report a finding at @p pos. @p digest is the secret's SHA-256 and
 * @p head its first bytes (@p nhead of them, up to 4). */
static void report(struct sctx *c, const char *rule, size_t pos,
                   const uint8_t digest[32], const char *head, size_t nhead,
                   double entropy)
{
  scan_secret_t s;
  memset(&s, 0, sizeof s);
  locate(c, pos, &s.line, &s.col);
  if (line_allows(c, pos) || allowlisted(c->allow, c->path, rule, digest))
    return;
  s.rule = rule;
  memcpy(s.digest, digest, 32);
  if (nhead > PREVIEW_CHARS)
    nhead = PREVIEW_CHARS;
  for (size_t k = 0; k < nhead; k++) { /* printable ASCII only: it is shown */
    unsigned char ch = (unsigned char)head[k];
    s.preview[k] = ch > ' ' && ch < 0x7f ? (char)ch : '?';
  }
  memcpy(s.preview + nhead, "****", 5);
  s.entropy = entropy;
  c->count++;
  if (c->cb && c->cb(c->ud, &s) != 0)
    c->stop = true;
  OPENSSL_cleanse(s.preview, sizeof s.preview);
}

static void report_plain(struct sctx *c, const char *rule, size_t pos,
                         const char *secret, size_t n, double entropy)
{
  uint8_t md[32];
  unsigned int mdlen = 0;
  if (!EVP_Digest(secret, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
    c->failed = c->stop = true;
    return;
  }
  report(c, rule, pos, md, secret, n, entropy);
}

/* ---- token rules ---- */

/* Does token rule @p r match at @p i? Returns its length or 0. */
static size_t token_match(const struct sctx *c, const struct token_rule *r,
                          size_t i)
{
  const char *b = c->buf;
  size_t plen = prefix_len[r - token_rules];
  if (c->len - i < plen || b[i + 2] != r->prefix[2] ||
      memcmp(b + i, r->prefix, plen) != 0)
    return 0;
  if (i > 0 && (is_alnum((unsigned char)b[i - 1]) || b[i - 1] == '_'))
    return 0;
  size_t j = i + plen, lim = c->len - j;
  size_t n = 0;
  while (n < lim && n <= r->max && in_body(r->cls, (unsigned char)b[j + n]))
    n++;
  while (r->cls == B_B64URL_DOT && n > 0 && b[j + n - 1] == '.')
    n--; /* a sentence's full stop */
  if (n < r->min || n > r->max)
    return 0;
  if (r->check && !r->check(b + i, plen + n))
    return 0;
  if (looks_placeholder(b + j, n))
    return 0;
  return plen + n;
}

/* Which token rule matches at @p i (NULL if none); *n = its length. */
static const struct token_rule *token_at(const struct sctx *c, size_t i,
                                         size_t *n)
{
  const uint8_t *slot = rules_by_first[(unsigned char)c->buf[i]];
  for (size_t k = 0; k < 8 && slot[k]; k++) {
    const struct token_rule *r = &token_rules[slot[k] - 1];
    size_t m = token_match(c, r, i);
    if (m) {
      *n = m;
      return r;
    }
  }
  return NULL;
}

static size_t try_token(struct sctx *c, size_t i)
{
  size_t n = 0;
  const struct token_rule *r = token_at(c, i, &n);
  if (!r)
    return 0;
  size_t skip = r->body_only ? prefix_len[r - token_rules] : 0;
  report_plain(c, r->rule, i, c->buf + i + skip, n - skip, 0);
  return i + n;
}

/* ---- private keys ---- */

#define KEY_BEGIN "-----BEGIN "
#define KEY_END "-----END "

static bool label_is_private_key(const char *l, size_t n)
{
  static const char *const ends[] = {"PRIVATE KEY", "PRIVATE KEY BLOCK", NULL};
  for (size_t i = 0; ends[i]; i++) {
    size_t m = strlen(ends[i]);
    if (n >= m && memcmp(l + n - m, ends[i], m) == 0)
      return true;
  }
  return false;
}

/* Characters a key body may hold besides base64: layout, string syntax
 * and "Proc-Type: 4,ENCRYPTED" header lines. */
static bool key_layout_char(unsigned char ch)
{
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '"' ||
         ch == '\'' || ch == ',' || ch == ':' || ch == '-' || ch == '+';
}

struct key_body {
  size_t b64;    /* base64 characters */
  size_t other;  /* characters that belong to neither */
  char head[PREVIEW_CHARS];
  uint8_t digest[32];
};

/* Hash the base64 characters of [p, e) (skipping "\n"-style escapes),
 * through a small buffer that is wiped afterwards. */
static int key_body_digest(const char *p, const char *e, struct key_body *kb)
{
  char chunk[256];
  size_t k = 0;
  unsigned int mdlen = 0;
  int rc = -1;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
    goto out;
  for (; p < e; p++) {
    unsigned char ch = (unsigned char)*p;
    if (ch == '\\') {
      p++;
      continue;
    }
    if (!is_b64(ch)) {
      kb->other += !key_layout_char(ch);
      continue;
    }
    if (kb->b64 < PREVIEW_CHARS)
      kb->head[kb->b64] = (char)ch;
    kb->b64++;
    chunk[k++] = (char)ch;
    if (k == sizeof chunk) {
      EVP_DigestUpdate(md, chunk, k);
      k = 0;
    }
  }
  if (EVP_DigestUpdate(md, chunk, k) && EVP_DigestFinal_ex(md, kb->digest, &mdlen))
    rc = mdlen == 32 ? 0 : -1;
out:
  OPENSSL_cleanse(chunk, sizeof chunk);
  EVP_MD_CTX_free(md);
  return rc;
}

/* memmem of @p lit in at most @p max bytes from @p p (before @p end). */
static const char *find_near(const char *p, const char *end, const char *lit,
                             size_t max)
{
  size_t room = (size_t)(end - p) < max ? (size_t)(end - p) : max;
  return memmem(p, room, lit, strlen(lit));
}

static size_t try_private_key(struct sctx *c, size_t i)
{
  const char *b = c->buf, *end = c->buf + c->len;
  if (!has_prefix(c, i, KEY_BEGIN))
    return 0;
  const char *label = b + i + strlen(KEY_BEGIN);
  const char *dash = find_near(label, end, "-----", 80);
  if (!dash || memchr(label, '\n', (size_t)(dash - label)) ||
      !label_is_private_key(label, (size_t)(dash - label)))
    return 0;
  const char *body = dash + 5;
  const char *stop = find_near(body, end, KEY_END, KEY_MAX_BODY);
  const char *body_end = stop ? stop
                              : body + ((size_t)(end - body) < KEY_MAX_BODY
                                            ? (size_t)(end - body)
                                            : KEY_MAX_BODY);
  struct key_body kb;
  memset(&kb, 0, sizeof kb);
  if (key_body_digest(body, body_end, &kb) != 0) {
    c->failed = c->stop = true;
    return 0;
  }
  /* PEM-handling code names the header in a string; its "body" is code,
   * full of ( ) ; { } that a key never holds. */
  if (kb.b64 < KEY_MIN_B64 || kb.other * 20 > kb.b64) {
    OPENSSL_cleanse(&kb, sizeof kb);
    return 0;
  }
  report(c, RULE_PRIVATE_KEY, i, kb.digest, kb.head, PREVIEW_CHARS, 0);
  OPENSSL_cleanse(&kb, sizeof kb);
  if (!stop)
    return (size_t)(body_end - b);
  const char *tail = stop + strlen(KEY_END);
  const char *close = find_near(tail, end, "-----", 80);
  return (size_t)((close ? close + 5 : tail) - b);
}

/* ---- the generic rule ---- */

/* Does the name [s, s + n) end, once lower-cased and without _ - ., with
 * one of generic_names? Looks at its last 16 such characters only. */
static bool name_is_secret(const char *s, size_t n)
{
  char tail[16];
  size_t k = sizeof tail;
  for (size_t i = n; i > 0 && k > 0; i--) {
    unsigned char ch = (unsigned char)s[i - 1];
    if (ch != '_' && ch != '-' && ch != '.')
      tail[--k] = (char)to_lower(ch);
  }
  size_t have = sizeof tail - k;
  if (have == 0 || !char_in((unsigned char)tail[sizeof tail - 1], "denty"))
    return false; /* no name ends otherwise: a cheap first test */
  for (size_t i = 0; generic_names[i]; i++) {
    size_t m = strlen(generic_names[i]);
    if (have >= m && memcmp(tail + sizeof tail - m, generic_names[i], m) == 0)
      return true;
  }
  return false;
}

static size_t skip_blanks(const char *b, size_t i, size_t len)
{
  while (i < len && (b[i] == ' ' || b[i] == '\t'))
    i++;
  return i;
}

/* After a name: `=`, `:=`, `=>`, `:` (not `==`, `::`, `=~`). Returns the
 * position after the operator, or 0 when there is none. */
static size_t assignment_at(const char *b, size_t i, size_t len, char *op)
{
  if (i >= len)
    return 0;
  char c0 = b[i], c1 = i + 1 < len ? b[i + 1] : 0;
  *op = c0;
  if (c0 == ':' && c1 == '=')
    return i + 2;
  if (c0 == '=' && c1 == '>')
    return i + 2;
  if (c0 == '=' && c1 != '=' && c1 != '~')
    return i + 1;
  if (c0 == ':' && c1 != ':')
    return i + 1;
  return 0;
}

static bool bare_stop(unsigned char ch)
{
  return ch <= ' ' || char_in(ch, ",;)}]#<>&|([\"'`");
}

struct value {
  size_t start, end; /* the value's bytes */
  size_t resume;     /* where scanning goes on */
  bool quoted;
};

/* Parse a value at @p i: quoted on one line, or bare. */
static bool value_at(const char *b, size_t i, size_t len, struct value *v)
{
  if (i + 1 < len && char_in((unsigned char)b[i], "bruf") &&
      is_quote((unsigned char)b[i + 1]))
    i++; /* b"..." r'...' f"..." */
  if (i >= len)
    return false;
  if (is_quote((unsigned char)b[i])) {
    char q = b[i];
    size_t j = i + 1;
    while (j < len && b[j] != q && b[j] != '\n')
      j += b[j] == '\\' ? 2 : 1;
    if (j >= len || b[j] != q)
      return false;
    *v = (struct value){i + 1, j, j + 1, true};
    return true;
  }
  size_t j = i;
  while (j < len && !bare_stop((unsigned char)b[j]))
    j++;
  if (j < len && (b[j] == '(' || b[j] == '['))
    return false; /* a call or an index: code, not a literal */
  *v = (struct value){i, j, j, false};
  return j > i;
}

/* `<password>value</password>` */
static bool xml_value_at(const char *b, size_t i, size_t len, struct value *v)
{
  size_t j = i;
  while (j < len && b[j] != '<' && b[j] != '\n')
    j++;
  if (j >= len || b[j] != '<' || j == i)
    return false;
  *v = (struct value){i, j, j, false};
  return true;
}

/* A value that holds a token is reported by the token's own rule. */
static bool contains_token(const struct sctx *c, const struct value *v)
{
  for (size_t i = v->start; i < v->end; i++) {
    size_t n;
    if (token_at(c, i, &n) || has_prefix(c, i, KEY_BEGIN))
      return true;
  }
  return false;
}

/* AVS_TKN_MOD_ID_U32, curve25519_compute_value: a name, not a secret. */
static bool snake_identifier(const char *s, size_t n)
{
  bool underscore = false;
  if (is_digit((unsigned char)s[0]))
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!is_alnum(ch) && ch != '_')
      return false;
    underscore |= ch == '_';
  }
  return underscore;
}

static bool value_qualifies(const struct sctx *c, const struct value *v,
                            double *entropy)
{
  const char *s = c->buf + v->start;
  size_t n = v->end - v->start;
  bool digit = false, alpha = false, hex = true;
  if (n < GENERIC_MIN_LEN || n > GENERIC_MAX_LEN)
    return false;
  if (char_in((unsigned char)s[0], "$%*&@/~{[(") || looks_placeholder(s, n) ||
      ci_contains_any(s, n, generic_placeholder_words) || is_uuid(s, n))
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch <= ' ' || ch == 0x7f)
      return false; /* prose ('Password used to generate key') or binary */
    digit |= is_digit(ch);
    alpha |= is_alpha(ch);
    hex &= is_hex(ch);
  }
  if (!v->quoted && (!c->bare_ok || !(digit && alpha) || snake_identifier(s, n)))
    return false; /* a constant, a function or a variable, not a literal */
  *entropy = shannon_entropy(s, n);
  if (*entropy < (hex ? ENTROPY_MIN_HEX : ENTROPY_MIN))
    return false;
  return !contains_token(c, v);
}

/* The name that ends just before the operator at @p op: `name =`,
 * `"name": `, `ENV['NAME'] =`. Returns false when there is none. */
static bool name_before(const char *b, size_t op, size_t *s, size_t *e)
{
  size_t p = op;
  while (p > 0 && (b[p - 1] == ' ' || b[p - 1] == '\t'))
    p--;
  if (p > 0 && b[p - 1] == ']')
    p--;
  if (p > 0 && is_quote((unsigned char)b[p - 1]))
    p--;
  *e = p;
  while (p > 0 && *e - p < MAX_NAME_LEN && is_name_char((unsigned char)b[p - 1]))
    p--;
  *s = p;
  return *s < *e;
}

/* Does the value start right after the operator at @p op? */
static bool value_after(const char *b, size_t len, size_t op, struct value *v)
{
  char kind = 0;
  size_t i = assignment_at(b, op, len, &kind);
  if (!i || (op > 0 && char_in((unsigned char)b[op - 1], "=!<>:")))
    return false;
  i = skip_blanks(b, i, len);
  if (!value_at(b, i, len, v))
    return false;
  if (kind == ':' && !v->quoted) { /* password: str = "..." */
    size_t j = skip_blanks(b, v->end, len);
    char kind2 = 0;
    size_t k = assignment_at(b, j, len, &kind2);
    if (k && kind2 == '=')
      return value_at(b, skip_blanks(b, k, len), len, v);
  }
  return true;
}

static size_t report_generic(struct sctx *c, const struct value *v)
{
  double entropy = 0;
  if (!value_qualifies(c, v, &entropy))
    return 0;
  report_plain(c, RULE_GENERIC, v->start, c->buf + v->start,
               v->end - v->start, entropy);
  return v->resume;
}

/* At an '=' or ':': a secret's name before it, a value after it. */
static size_t try_generic(struct sctx *c, size_t op)
{
  size_t s, e;
  struct value v;
  if (!name_before(c->buf, op, &s, &e) || !name_is_secret(c->buf + s, e - s) ||
      !value_after(c->buf, c->len, op, &v))
    return 0;
  return report_generic(c, &v);
}

/* At a '<': `<password>value</password>`. */
static size_t try_xml(struct sctx *c, size_t lt)
{
  const char *b = c->buf;
  size_t e = lt + 1;
  struct value v;
  while (e < c->len && e - lt <= MAX_NAME_LEN && is_name_char((unsigned char)b[e]))
    e++;
  if (e >= c->len || b[e] != '>' || !name_is_secret(b + lt + 1, e - lt - 1) ||
      !xml_value_at(b, e + 1, c->len, &v))
    return 0;
  return report_generic(c, &v);
}

/* ---- the pass ---- */

static size_t try_at(struct sctx *c, size_t i)
{
  unsigned char ch = (unsigned char)c->buf[i];
  if (ch == '=' || ch == ':')
    return c->generic ? try_generic(c, i) : 0;
  if (ch == '<')
    return c->generic ? try_xml(c, i) : 0;
  if (ch == '-')
    return try_private_key(c, i);
  return try_token(c, i);
}

int scan_secrets(const char *path, const char *buf, size_t len,
                 const scan_allowlist_t *allow, scan_secret_fn cb, void *ud)
{
  if (!buf && len > 0)
    return -1;
  pthread_once(&anchors_once, anchors_build);
  struct sctx c = {
    .buf = buf, .len = len, .path = path, .allow = allow, .cb = cb, .ud = ud,
    .generic = !is_lockfile(path), .bare_ok = !is_source_code(path), .line = 1,
  };
  const unsigned char *u = (const unsigned char *)buf;
  size_t i = next_anchor(u, 0, len);
  while (i + 1 < len && !c.stop) {
    size_t next = try_at(&c, i);
    i = next_anchor(u, next > i ? next : i + 1, len);
  }
  return c.failed ? -1 : c.count;
}

/* ---- allowlist ---- */

struct allow_glob {
  const char *rule; /* NULL: any rule */
  char *glob;
};

struct scan_allowlist {
  uint8_t (*digests)[32];
  size_t ndigests;
  struct allow_glob *globs;
  size_t nglobs;
};

static int digest_cmp(const void *a, const void *b)
{
  return memcmp(a, b, 32);
}

static bool glob_matches(const char *glob, const char *path)
{
  size_t gl = strlen(glob);
  if (gl > 0 && glob[gl - 1] == '/') { /* a folder: everything below */
    if (strncmp(path, glob, gl) == 0)
      return true;
    for (const char *p = strchr(path, '/'); p; p = strchr(p + 1, '/'))
      if (strncmp(p + 1, glob, gl) == 0)
        return true;
    return false;
  }
  if (fnmatch(glob, path, 0) == 0)
    return true;
  return !strchr(glob, '/') && fnmatch(glob, base_name(path), 0) == 0;
}

static bool allowlisted(const scan_allowlist_t *a, const char *path,
                        const char *rule, const uint8_t digest[32])
{
  if (!a)
    return false;
  if (a->ndigests && bsearch(digest, a->digests, a->ndigests, 32, digest_cmp))
    return true;
  if (!path)
    return false;
  for (size_t i = 0; i < a->nglobs; i++) {
    const struct allow_glob *g = &a->globs[i];
    if ((!g->rule || strcmp(g->rule, rule) == 0) && glob_matches(g->glob, path))
      return true;
  }
  return false;
}

void scan_allowlist_free(scan_allowlist_t *a)
{
  if (!a)
    return;
  for (size_t i = 0; i < a->nglobs; i++)
    free(a->globs[i].glob);
  free(a->globs);
  free(a->digests);
  free(a);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  if (!err || errlen == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static const char *known_rule(const char *s, size_t n)
{
  for (size_t i = 0; rule_ids[i]; i++)
    if (strlen(rule_ids[i]) == n && memcmp(rule_ids[i], s, n) == 0)
      return rule_ids[i];
  return NULL;
}

static int hex_value(unsigned char ch)
{
  return is_digit(ch) ? ch - '0' : to_lower(ch) - 'a' + 10;
}

static int add_digest(scan_allowlist_t *a, const char *hex)
{
  uint8_t (*d)[32] = realloc(a->digests, (a->ndigests + 1) * sizeof *d);
  if (!d)
    return -1;
  a->digests = d;
  for (int i = 0; i < 32; i++)
    d[a->ndigests][i] = (uint8_t)(hex_value((unsigned char)hex[2 * i]) << 4 |
                                  hex_value((unsigned char)hex[2 * i + 1]));
  a->ndigests++;
  return 0;
}

static int add_glob(scan_allowlist_t *a, const char *rule, const char *g,
                    size_t n)
{
  struct allow_glob *v = realloc(a->globs, (a->nglobs + 1) * sizeof *v);
  if (!v)
    return -1;
  a->globs = v;
  /* not strndup: g is not NUL-terminated, and ASan's strndup checks
   * one byte past n when it finds no NUL (a fuzz finding) */
  char *copy = malloc(n + 1);
  if (!copy)
    return -1;
  memcpy(copy, g, n);
  copy[n] = '\0';
  v[a->nglobs++] = (struct allow_glob){rule, copy};
  return 0;
}

static bool all_hex(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!is_hex((unsigned char)s[i]))
      return false;
  return true;
}

static bool rule_shaped(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!is_lower((unsigned char)s[i]) && !is_digit((unsigned char)s[i]) && s[i] != '-')
      return false;
  return n > 0;
}

/* Trim one line to its entry: blanks, CR and a trailing "# comment". */
static void entry_bounds(const char *l, size_t n, size_t *s, size_t *e)
{
  size_t i = 0;
  while (i < n && (l[i] == ' ' || l[i] == '\t'))
    i++;
  size_t j = i;
  while (j < n && !(l[j] == '#' && (j == i || l[j - 1] == ' ' || l[j - 1] == '\t')))
    j++;
  while (j > i && (l[j - 1] == ' ' || l[j - 1] == '\t' || l[j - 1] == '\r'))
    j--;
  *s = i;
  *e = j;
}

/* One entry (non-empty); 0, -1 out of memory, or 1 with err set. */
static int parse_entry(scan_allowlist_t *a, const char *x, size_t n,
                       const char *name, size_t lineno, char *err,
                       size_t errlen)
{
  if (n == 64 && all_hex(x, n))
    return add_digest(a, x);
  if (n >= 32 && all_hex(x, n)) {
    set_err(err, errlen, "%s:%zu: a digest has 64 hex digits, this one %zu",
            name, lineno, n);
    return 1;
  }
  const char *colon = memchr(x, ':', n);
  if (colon && rule_shaped(x, (size_t)(colon - x))) {
    size_t rl = (size_t)(colon - x);
    const char *rule = known_rule(x, rl);
    if (!rule) {
      set_err(err, errlen, "%s:%zu: unknown rule '%.*s'", name, lineno,
              (int)rl, x);
      return 1;
    }
    if (colon + 1 == x + n) {
      set_err(err, errlen, "%s:%zu: no path glob after '%s:' (use '%s:*')",
              name, lineno, rule, rule);
      return 1;
    }
    return add_glob(a, rule, colon + 1, n - rl - 1);
  }
  return add_glob(a, NULL, x, n);
}

scan_allowlist_t *scan_allowlist_parse(const char *name, const char *text,
                                       size_t len, char *err, size_t errlen)
{
  scan_allowlist_t *a = calloc(1, sizeof *a);
  size_t lineno = 0, pos = 0;
  if (!a)
    goto oom;
  while (pos < len) {
    const char *l = text + pos;
    const char *nl = memchr(l, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - l) : len - pos, s, e;
    pos += n + 1;
    lineno++;
    if (n > ALLOW_MAX_LINE) {
      set_err(err, errlen, "%s:%zu: line longer than %d bytes", name, lineno,
              ALLOW_MAX_LINE);
      goto fail;
    }
    entry_bounds(l, n, &s, &e);
    if (s == e)
      continue;
    int rc = parse_entry(a, l + s, e - s, name, lineno, err, errlen);
    if (rc < 0)
      goto oom;
    if (rc > 0)
      goto fail;
  }
  if (a->ndigests)
    qsort(a->digests, a->ndigests, 32, digest_cmp);
  return a;
oom:
  set_err(err, errlen, "%s: out of memory", name);
fail:
  scan_allowlist_free(a);
  return NULL;
}

scan_allowlist_t *scan_allowlist_load(const char *file, char *err,
                                      size_t errlen)
{
  FILE *f = fopen(file, "rb");
  char *text = NULL;
  size_t len = 0, cap = 0;
  scan_allowlist_t *a = NULL;
  if (!f) {
    set_err(err, errlen, "%s: %s", file, strerror(errno));
    return NULL;
  }
  for (;;) {
    if (cap - len < 4096) {
      char *t = realloc(text, cap ? cap * 2 : 8192);
      if (!t) {
        set_err(err, errlen, "%s: out of memory", file);
        goto out;
      }
      text = t;
      cap = cap ? cap * 2 : 8192;
    }
    size_t got = fread(text + len, 1, cap - len, f);
    len += got;
    if (got == 0)
      break;
  }
  if (ferror(f)) {
    set_err(err, errlen, "%s: read error", file);
    goto out;
  }
  a = scan_allowlist_parse(file, text, len, err, errlen);
out:
  free(text);
  fclose(f);
  return a;
}
