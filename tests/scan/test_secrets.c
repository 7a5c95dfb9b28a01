/*
 * test_secrets.c: committed secrets (scan/secrets.h).
 *
 * Contract checked: every token rule finds a well-formed token at the
 * right line and column, with a preview of 4 characters and "****" and the
 * SHA-256 of the token as digest; private key blocks of every kind, also
 * inside strings with "\n" escapes or CRLF (one digest for one key); the
 * generic rule on assignments in code, JSON, YAML, .env and XML forms, and
 * not on placeholders, references, low-entropy values, UUIDs, test values,
 * comparisons, calls, other names or lockfiles; a value holding a token
 * is reported once, by the token's rule; ccm:allow-secret; the allowlist
 * by digest, by rule:glob and by glob, and its error messages; stopping
 * from the callback; bad arguments.
 *
 * No secret-looking literal appears in this file: tokens are built at run
 * time from split prefixes and pseudo-random bodies, so secret scanners run
 * on this repository find nothing here.
 */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan/secrets.h"
#include "tests/scan/leaks.h"

TestSuite(secrets, .timeout = 30, .fini = scan_test_check_leaks);

/* ---- building test secrets ---- */

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define UPPER_DIGIT "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define B64URL ALNUM "_-"
#define B64 ALNUM "+/"

static unsigned rng_state = 12345;

static unsigned rng(void)
{
  rng_state = rng_state * 1103515245u + 12345u;
  return rng_state >> 8;
}

/* n pseudo-random characters of alphabet appended to out. */
static void random_chars(char *out, size_t n, const char *alphabet)
{
  size_t k = strlen(alphabet), o = strlen(out);
  for (size_t i = 0; i < n; i++)
    out[o + i] = alphabet[rng() % k];
  out[o + n] = '\0';
}

/* a + b + n random characters: a token split in the source. */
static char *token(const char *a, const char *b, size_t n, const char *alphabet)
{
  char *t = calloc(1, strlen(a) + strlen(b) + n + 1);
  strcat(strcat(t, a), b);
  random_chars(t, n, alphabet);
  return t;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *fmt(const char *f, ...)
{
  va_list ap;
  char *s = NULL;
  va_start(ap, f);
  cr_assert_geq(vasprintf(&s, f, ap), 0);
  va_end(ap);
  return s;
}

/* form with its one "%s" replaced by v (forms come from a table). */
static char *subst(const char *form, const char *v)
{
  const char *at = strstr(form, "%s");
  cr_assert_not_null(at);
  return fmt("%.*s%s%s", (int)(at - form), form, v, at + 2);
}

static void sha256_hex(const char *p, size_t n, char out[65])
{
  unsigned char md[32];
  unsigned int len = 0;
  cr_assert(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL));
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- collecting findings ---- */

typedef struct {
  char rule[40];
  uint32_t line, col;
  char preview[32];
  char digest[65];
  double entropy;
} found_t;

typedef struct {
  found_t f[16];
  int n;
  int stop_after; /* 0: never */
} results_t;

static int collect(void *ud, const scan_secret_t *s)
{
  results_t *r = ud;
  if (r->n < 16) {
    found_t *f = &r->f[r->n];
    snprintf(f->rule, sizeof f->rule, "%s", s->rule);
    f->line = s->line;
    f->col = s->col;
    memcpy(f->preview, s->preview, sizeof f->preview);
    for (int i = 0; i < 32; i++)
      snprintf(f->digest + 2 * i, 3, "%02x", s->digest[i]);
    f->entropy = s->entropy;
  }
  r->n++;
  return r->stop_after && r->n >= r->stop_after;
}

static results_t scan_path(const char *path, const char *text,
                           const scan_allowlist_t *allow)
{
  results_t r;
  memset(&r, 0, sizeof r);
  int n = scan_secrets(path, text, strlen(text), allow, collect, &r);
  cr_assert_eq(n, r.n, "returned count %d, callback saw %d", n, r.n);
  return r;
}

static results_t scan_text(const char *text)
{
  return scan_path("src/config.py", text, NULL);
}

/* The one finding of text; checks rule, position, preview and digest of
 * the secret. */
static void expect_one(const char *text, const char *rule, const char *secret,
                       uint32_t line, uint32_t col)
{
  results_t r = scan_text(text);
  char want_preview[16], digest[65];
  cr_assert_eq(r.n, 1, "one finding of %s in [%s], got %d (%s)", rule, text,
               r.n, r.n ? r.f[0].rule : "");
  cr_assert_str_eq(r.f[0].rule, rule);
  cr_assert_eq(r.f[0].line, line, "%s line %u", rule, r.f[0].line);
  cr_assert_eq(r.f[0].col, col, "%s col %u", rule, r.f[0].col);
  snprintf(want_preview, sizeof want_preview, "%.4s****", secret);
  cr_assert_str_eq(r.f[0].preview, want_preview);
  sha256_hex(secret, strlen(secret), digest);
  cr_assert_str_eq(r.f[0].digest, digest, "%s digest", rule);
}

static void expect_none(const char *path, const char *text)
{
  results_t r = scan_path(path, text, NULL);
  cr_assert_eq(r.n, 0, "no finding in [%s], got %s at %u:%u", text,
               r.n ? r.f[0].rule : "", r.n ? r.f[0].line : 0,
               r.n ? r.f[0].col : 0);
}

/* ---- token rules ---- */

struct token_case {
  const char *rule, *a, *b;
  size_t n;
  const char *alphabet;
};

static const struct token_case token_cases[] = {
  {"aws-access-key-id", "AK", "IA", 16, UPPER_DIGIT},
  {"aws-access-key-id", "AS", "IA", 16, UPPER_DIGIT},
  {"github-pat", "gh", "p_", 36, ALNUM},
  {"github-oauth", "gh", "o_", 36, ALNUM},
  {"github-app-token", "gh", "s_", 36, ALNUM},
  {"github-refresh-token", "gh", "r_", 76, ALNUM},
  {"github-fine-grained-pat", "github", "_pat_", 82, ALNUM "_"},
  {"slack-token", "xo", "xb-", 40, ALNUM "-"},
  {"slack-token", "xa", "pp-", 40, ALNUM "-"},
  {"stripe-secret-key", "sk_", "live_", 24, ALNUM},
  {"stripe-secret-key", "rk_", "test_", 30, ALNUM},
  {"google-api-key", "AI", "za", 35, B64URL},
  {"npm-token", "np", "m_", 36, ALNUM},
  {"gitlab-pat", "gl", "pat-", 20, B64URL},
  {"anthropic-api-key", "sk-", "ant-api03-", 93, B64URL},
  {"openai-api-key", "sk-", "proj-", 64, B64URL},
  {"pypi-token", "pypi-", "AgEIcHlwaS5vcmc", 70, B64URL},
};

Test(secrets, every_token_rule_finds_its_token_with_position_preview_digest)
{
  for (size_t i = 0; i < sizeof token_cases / sizeof token_cases[0]; i++) {
    const struct token_case *c = &token_cases[i];
    char *tok = token(c->a, c->b, c->n, c->alphabet);
    char *text = fmt("# config\n\nclient = Client(\"%s\")\n", tok);
    expect_one(text, c->rule, tok, 3, 18);
    free(text);
    free(tok);
  }
}

Test(secrets, structured_tokens_jwt_sendgrid_openai_legacy_slack_webhook)
{
  char *head = token("ey", "J", 20, B64URL), *body = token("ey", "J", 40, B64URL);
  char *sig = token("", "", 43, B64URL);
  char *jwt = fmt("%s.%s.%s", head, body, sig);
  char *text = fmt("auth: %s\n", jwt);
  expect_one(text, "jwt", jwt, 1, 7);
  free(text);

  char *a = token("S", "G.", 22, B64URL), *b = token("", "", 43, B64URL);
  char *sg = fmt("%s.%s", a, b);
  text = fmt("key %s end\n", sg);
  expect_one(text, "sendgrid-api-key", sg, 1, 5);
  free(text);

  char *l1 = token("sk", "-", 20, ALNUM), *l2 = token("T3Blbk", "FJ", 20, ALNUM);
  char *legacy = fmt("%s%s", l1, l2);
  text = fmt("k=%s\n", legacy);
  expect_one(text, "openai-api-key", legacy, 1, 3);
  free(text);

  /* the webhook's secret is its path after /services/ */
  char *t = token("T", "", 10, UPPER_DIGIT), *bb = token("B", "", 10, UPPER_DIGIT);
  char *s = token("", "", 24, ALNUM);
  char *path = fmt("%s/%s/%s", t, bb, s);
  text = fmt("url = \"https://hooks.%s/services/%s\"\n", "slack.com", path);
  results_t r = scan_text(text);
  cr_assert_eq(r.n, 1);
  cr_assert_str_eq(r.f[0].rule, "slack-webhook");
  char digest[65];
  sha256_hex(path, strlen(path), digest);
  cr_assert_str_eq(r.f[0].digest, digest);
  cr_assert_eq(r.f[0].col, 8);
  free(text);
  free(head), free(body), free(sig), free(jwt), free(a), free(b), free(sg);
  free(l1), free(l2), free(legacy), free(t), free(bb), free(s), free(path);
}

Test(secrets, tokens_inside_longer_words_or_with_wrong_length_are_not_reported)
{
  char *tok = token("gh", "p_", 36, ALNUM);
  char *longer = token("gh", "p_", 37, ALNUM);
  char *shorter = token("AK", "IA", 15, UPPER_DIGIT);
  char *text = fmt("x%s\n%s\n%s\n", tok, longer, shorter);
  expect_none("a.txt", text);
  free(text), free(tok), free(longer), free(shorter);
}

Test(secrets, documentation_placeholders_are_not_reported)
{
  char *text = fmt("%s%s\n%s%s\n%s%s\n", "AKIA", "IOSFODNN7EXAMPLE", "gh",
                   "p_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "sk_live_",
                   "000000000000000000000000");
  expect_none("README.md", text);
  free(text);
}

Test(secrets, the_preview_is_four_characters_and_a_fixed_mask)
{
  char *tok = token("gh", "r_", 76, ALNUM);
  char *text = fmt("%s\n", tok);
  results_t r = scan_text(text);
  cr_assert_eq(r.n, 1);
  cr_assert_eq(strlen(r.f[0].preview), 8, "never the secret's length");
  cr_assert_eq(memcmp(r.f[0].preview, tok, 4), 0);
  cr_assert_str_eq(r.f[0].preview + 4, "****");
  cr_assert_null(strstr(r.f[0].preview, tok + 4));
  free(text), free(tok);
}

/* ---- private keys ---- */

/* A PEM block: label, 12 lines of 64 base64 characters, newline nl. The
 * body is the same for the same seed. */
static char *pem(const char *label, const char *nl, unsigned seed)
{
  char body[64 * 12 + 1] = "";
  unsigned saved = rng_state;
  rng_state = seed;
  random_chars(body, sizeof body - 1, B64);
  rng_state = saved;
  char *out = fmt("-----%s %s-----%s", "BEGIN", label, nl);
  for (int i = 0; i < 12; i++) {
    char *next = fmt("%s%.64s%s", out, body + 64 * i, nl);
    free(out);
    out = next;
  }
  char *done = fmt("%s-----%s %s-----%s", out, "END", label, nl);
  free(out);
  return done;
}

Test(secrets, private_key_blocks_of_every_kind)
{
  static const char *const labels[] = {
    "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY", "PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY", "PGP PRIVATE KEY BLOCK",
  };
  for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
    char *key = pem(labels[i], "\n", 7);
    char *text = fmt("line one\n%s", key);
    results_t r = scan_text(text);
    cr_assert_eq(r.n, 1, "%s", labels[i]);
    cr_assert_str_eq(r.f[0].rule, "private-key");
    cr_assert_eq(r.f[0].line, 2);
    cr_assert_eq(r.f[0].col, 1);
    cr_assert_eq(strlen(r.f[0].preview), 8);
    free(text), free(key);
  }
}

Test(secrets, one_key_has_one_digest_in_a_file_a_crlf_file_or_a_json_string)
{
  char *lf = pem("RSA PRIVATE KEY", "\n", 99);
  char *crlf = pem("RSA PRIVATE KEY", "\r\n", 99);
  char *escaped = pem("RSA PRIVATE KEY", "\\n", 99);
  char *json = fmt("{\"private_key\": \"%s\"}\n", escaped);
  results_t a = scan_path("key.pem", lf, NULL);
  results_t b = scan_path("key.pem", crlf, NULL);
  results_t c = scan_path("sa.json", json, NULL);
  cr_assert_eq(a.n, 1);
  cr_assert_eq(b.n, 1);
  cr_assert_eq(c.n, 1, "the generic rule stays out of a key's way");
  cr_assert_str_eq(c.f[0].rule, "private-key");
  cr_assert_str_eq(a.f[0].digest, b.f[0].digest);
  cr_assert_str_eq(a.f[0].digest, c.f[0].digest);
  char *another = pem("RSA PRIVATE KEY", "\n", 100);
  results_t other = scan_path("key.pem", another, NULL);
  cr_assert_str_neq(a.f[0].digest, other.f[0].digest);
  free(lf), free(crlf), free(escaped), free(json), free(another);
}

Test(secrets, key_headers_in_code_and_public_blocks_are_not_keys)
{
  char *code = fmt(
      "static const char hdr[] = \"-----%s RSA PRIVATE KEY-----\";\n"
      "int is_key(const char *p) {\n"
      "  if (strncmp(p, hdr, sizeof hdr - 1) == 0 && check(p)) {\n"
      "    return parse_private_key(p + sizeof hdr, strlen(p), &key);\n"
      "  }\n"
      "  return strstr(p, \"-----%s RSA PRIVATE KEY-----\") != NULL;\n"
      "}\n",
      "BEGIN", "END");
  expect_none("pem.c", code);
  char *pub = pem("PUBLIC KEY", "\n", 3), *cert = pem("CERTIFICATE", "\n", 4);
  expect_none("pub.pem", pub);
  expect_none("cert.pem", cert);
  char *doc = fmt("-----%s OPENSSH PRIVATE KEY-----\n...\n-----%s OPENSSH "
                  "PRIVATE KEY-----\n", "BEGIN", "END");
  expect_none("README.md", doc);
  free(code), free(pub), free(cert), free(doc);
}

/* ---- the generic rule ---- */

Test(secrets, generic_assignments_in_code_config_and_markup)
{
  static const char *const forms[][2] = {
    {"app.py", "password = \"%s\"\n"},
    {".env", "DB_PASSWORD=%s\n"},
    {"config.json", "  \"apiKey\": \"%s\",\n"},
    {"deploy.yml", "client_secret: %s\n"},
    {"settings.xml", "<password>%s</password>\n"},
    {"main.go", "token := \"%s\"\n"},
    {"conf.php", "'secret' => '%s',\n"},
    {"app.py", "password: str = \"%s\"\n"},
    {"application.properties", "spring.datasource.password=%s\n"},
    {"deploy.sh", "export GITHUB_TOKEN='%s'\n"},
    {"keys.py", "PRIVATE_KEY = b'%s'\n"},
    {"app.rb", "config[\"auth_token\"] = \"%s\"\n"},
    {"Dockerfile", "ENV API_TOKEN=%s\n"},
  };
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    char v[40] = "";
    random_chars(v, 24, ALNUM);
    v[3] = '7'; /* bare values need a digit and a letter */
    char *text = subst(forms[i][1], v);
    results_t r = scan_path(forms[i][0], text, NULL);
    cr_assert_eq(r.n, 1, "form %s", forms[i][1]);
    cr_assert_str_eq(r.f[0].rule, "generic-high-entropy");
    cr_assert_eq(r.f[0].col, (uint32_t)(strstr(text, v) - text + 1), "%s", forms[i][1]);
    cr_assert_geq(r.f[0].entropy, 3.5);
    char digest[65];
    sha256_hex(v, strlen(v), digest);
    cr_assert_str_eq(r.f[0].digest, digest);
    free(text);
  }
}

Test(secrets, unquoted_values_in_source_code_are_names_not_secrets)
{
  char v[40] = "";
  random_chars(v, 24, ALNUM);
  v[3] = '7';
  char *bare = fmt("token = %s\n", v);
  expect_none("src/auth.c", bare);
  expect_none("lib/auth.js", bare);
  cr_assert_eq(scan_path("deploy/.env", bare, NULL).n, 1);
  expect_none("deploy/.env", "token = AVS_TKN_MOD_ID_U32\n");
  expect_none("x.yml", "compute_shared_secret: curve25519_compute_value\n");
  free(bare);
}

Test(secrets, generic_rule_skips_placeholders_references_and_weak_values)
{
  char v[40] = "";
  random_chars(v, 24, ALNUM);
  char *cases[] = {
    fmt("password = \"changeme%s\"\n", v),
    "password = \"xxxxxxxxxxxxxxxxxxxxxxxx\"\n",
    "password = \"${DB_PASSWORD_FROM_THE_VAULT}\"\n",
    "api_key: <your-api-key-goes-here>\n",
    "token = os.environ[\"GITHUB_TOKEN_VALUE\"]\n",
    "const secret = process.env.SESSION_SECRET_VALUE;\n",
    "password = \"aaaaaaaaaaaaaaaaaaaaaaaa\"\n",
    fmt("secret = \"example-%s\"\n", v),
    "password = \"passwordpassword\"\n",
    "token = \"123e4567-e89b-12d3-a456-426614174000\"\n",
    "password = \"Sh0rtValue1\"\n",
    fmt("token_type = \"%s\"\n", v),
    fmt("password_hash = \"%s\"\n", v),
    fmt("if password == \"%s\":\n", v),
    fmt("token = make_token(%s)\n", v),
    fmt("password = \"test-%s\"\n", v),
    fmt("password = \"fake%s\"\n", v),
    "secret = settings.SECRET_KEY_FOR_SIGNING\n",
    "password: {{ vault_db_password_value }}\n",
    "token = \"sha512-abcdefABCDEF0123456789abcdefABCDEF0123\"\n",
    fmt("Use the token %s to log in.\n", v),
    "const password = 'Password used to generate key';\n",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_none("app/settings.py", cases[i]);
  /* control bytes: binary, not a secret (a NUL once cut the preview's
   * mask off: found by fuzz_secrets) */
  char bin[64];
  int n = snprintf(bin, sizeof bin, "<secret>8%s</secret>\n", "AbC0dEf1gHi2jKl3");
  results_t r;
  memset(&r, 0, sizeof r);
  cr_assert_eq(scan_secrets("a.xml", bin, (size_t)n, NULL, collect, &r), 1,
               "the same value without the NUL is one");
  bin[10] = '\0';
  memset(&r, 0, sizeof r);
  cr_assert_eq(scan_secrets("a.xml", bin, (size_t)n, NULL, collect, &r), 0);
  free(cases[0]), free(cases[7]), free(cases[11]), free(cases[12]);
  free(cases[13]), free(cases[14]), free(cases[15]), free(cases[16]);
  free(cases[20]);
}

Test(secrets, lockfiles_are_left_to_the_token_rules)
{
  char v[40] = "";
  random_chars(v, 32, ALNUM);
  char *tok = token("np", "m_", 36, ALNUM);
  char *text = fmt("{\"secret\": \"%s\",\n \"token\": \"%s\"}\n", v, tok);
  results_t lock = scan_path("web/package-lock.json", text, NULL);
  results_t conf = scan_path("web/config.json", text, NULL);
  cr_assert_eq(lock.n, 1);
  cr_assert_str_eq(lock.f[0].rule, "npm-token");
  cr_assert_eq(conf.n, 2);
  free(text), free(tok);
}

Test(secrets, a_value_holding_a_token_is_reported_once_by_the_token_rule)
{
  char *tok = token("gh", "p_", 36, ALNUM);
  char *text = fmt("GITHUB_TOKEN = \"%s\"\n", tok);
  expect_one(text, "github-pat", tok, 1, 17);
  free(text), free(tok);
}

/* ---- suppression ---- */

Test(secrets, inline_allow_marker_suppresses_its_line_only)
{
  char *a = token("gh", "p_", 36, ALNUM), *b = token("gh", "p_", 36, ALNUM);
  char *text = fmt("x = \"%s\"  # ccm:allow-secret (fixture)\ny = \"%s\"\n", a, b);
  expect_one(text, "github-pat", b, 2, 6);
  free(text), free(a), free(b);
}

static scan_allowlist_t *allowlist(const char *text)
{
  char err[256] = "";
  scan_allowlist_t *a = scan_allowlist_parse("allow.txt", text, strlen(text),
                                             err, sizeof err);
  cr_assert_not_null(a, "%s", err);
  return a;
}

Test(secrets, allowlist_by_digest_suppresses_that_secret_only)
{
  char *a = token("gh", "p_", 36, ALNUM), *b = token("gh", "p_", 36, ALNUM);
  char hex[65];
  sha256_hex(a, strlen(a), hex);
  char *list = fmt("# known test fixture\n\n  %s   # the old one\n", hex);
  scan_allowlist_t *allow = allowlist(list);
  char *text = fmt("%s\n%s\n", a, b);
  results_t r = scan_path("src/x.py", text, allow);
  cr_assert_eq(r.n, 1);
  cr_assert_eq(r.f[0].line, 2);
  scan_allowlist_free(allow);
  free(a), free(b), free(list), free(text);
}

Test(secrets, allowlist_by_rule_and_glob_and_by_glob)
{
  char *gh = token("gh", "p_", 36, ALNUM), *aws = token("AK", "IA", 16, UPPER_DIGIT);
  char *text = fmt("%s\n%s\n", gh, aws);
  scan_allowlist_t *allow =
      allowlist("github-pat:tests/*\nfixtures/\n*.snap\n");
  results_t in_tests = scan_path("tests/unit/x.py", text, allow);
  cr_assert_eq(in_tests.n, 1, "only github-pat is allowed under tests/");
  cr_assert_str_eq(in_tests.f[0].rule, "aws-access-key-id");
  cr_assert_eq(scan_path("src/x.py", text, allow).n, 2);
  cr_assert_eq(scan_path("a/fixtures/b/x.py", text, allow).n, 0);
  cr_assert_eq(scan_path("fixtures/x.py", text, allow).n, 0);
  cr_assert_eq(scan_path("ui/__snapshots__/x.snap", text, allow).n, 0);
  cr_assert_eq(scan_path(NULL, text, allow).n, 2, "globs need a path");
  scan_allowlist_free(allow);
  free(gh), free(aws), free(text);
}

static void expect_allowlist_error(const char *text, const char *want)
{
  char err[256] = "";
  scan_allowlist_t *a = scan_allowlist_parse("allow.txt", text, strlen(text),
                                             err, sizeof err);
  cr_assert_null(a, "[%s] should not load", text);
  cr_assert_str_eq(err, want);
}

Test(secrets, allowlist_errors_name_the_file_and_line)
{
  expect_allowlist_error("# ok\n*.md\ngithub-token:src/*\n",
                         "allow.txt:3: unknown rule 'github-token'");
  expect_allowlist_error("jwt:\n",
                         "allow.txt:1: no path glob after 'jwt:' (use 'jwt:*')");
  expect_allowlist_error("\n0123456789abcdef0123456789abcdef0123\n",
                         "allow.txt:2: a digest has 64 hex digits, this one 36");
  char *lng = calloc(1, 2000);
  memset(lng, 'a', 1500);
  expect_allowlist_error(lng, "allow.txt:1: line longer than 1024 bytes");
  free(lng);
  char err[256] = "";
  cr_assert_null(scan_allowlist_load("/nonexistent/ccm-allow", err, sizeof err));
  cr_assert_str_eq(err, "/nonexistent/ccm-allow: No such file or directory");
}

Test(secrets, allowlist_loads_from_a_file)
{
  char path[] = "/tmp/ccm-allow-XXXXXX", err[256] = "";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  const char *text = "# fixtures\r\ngithub-pat:*\r\n";
  cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  scan_allowlist_t *allow = scan_allowlist_load(path, err, sizeof err);
  unlink(path);
  cr_assert_not_null(allow, "%s", err);
  char *gh = token("gh", "p_", 36, ALNUM);
  cr_assert_eq(scan_path("any/where.go", gh, allow).n, 0);
  scan_allowlist_free(allow);
  scan_allowlist_free(NULL);
  free(gh);
}

/* ---- the scan itself ---- */

Test(secrets, the_callback_can_stop_the_scan)
{
  char *a = token("gh", "p_", 36, ALNUM), *b = token("gh", "p_", 36, ALNUM);
  char *text = fmt("%s %s\n", a, b);
  results_t r;
  memset(&r, 0, sizeof r);
  r.stop_after = 1;
  cr_assert_eq(scan_secrets("x", text, strlen(text), NULL, collect, &r), 1);
  cr_assert_eq(r.n, 1);
  free(a), free(b), free(text);
}

Test(secrets, bad_arguments_and_empty_input)
{
  cr_assert_eq(scan_secrets("x", NULL, 0, NULL, collect, NULL), 0);
  cr_assert_eq(scan_secrets("x", NULL, 5, NULL, collect, NULL), -1);
  cr_assert_eq(scan_secrets("x", "", 0, NULL, NULL, NULL), 0);
  char *tok = token("np", "m_", 36, ALNUM);
  cr_assert_eq(scan_secrets(NULL, tok, strlen(tok), NULL, NULL, NULL), 1,
               "no callback: counted only");
  free(tok);
}

Test(secrets, clean_code_full_of_the_names_has_no_finding)
{
  const char *chunk =
      "def rotate(token, password_hash, secret_name):\n"
      "    # the token is refreshed; see password policy\n"
      "    if token.expired and password != confirm:\n"
      "        raise ValueError(\"bad password or token\")\n"
      "    api_key = load_key(secret_name)\n"
      "    private_key = self.private_key_path\n"
      "    tokens = [t for t in tokenizer(text) if t]\n"
      "    return {\"token\": token, \"secret\": secret}\n";
  size_t n = strlen(chunk), reps = 4000;
  char *big = malloc(n * reps + 1);
  for (size_t i = 0; i < reps; i++)
    memcpy(big + i * n, chunk, n);
  big[n * reps] = '\0';
  cr_assert_eq(scan_secrets("app.py", big, n * reps, NULL, NULL, NULL), 0);
  free(big);
}

Test(secrets, reported_rules_are_listed)
{
  size_t n = 0;
  const char *const *rules = scan_secret_rules(&n);
  cr_assert_geq(n, 15);
  cr_assert_null(rules[n]);
  for (size_t i = 0; i < sizeof token_cases / sizeof token_cases[0]; i++) {
    bool listed = false;
    for (size_t k = 0; k < n; k++)
      listed |= strcmp(rules[k], token_cases[i].rule) == 0;
    cr_assert(listed, "%s", token_cases[i].rule);
  }
}
