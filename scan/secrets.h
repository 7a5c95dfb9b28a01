/*
 * secrets.h: committed secrets in one file's raw bytes (issue #4, SPEC §1.1).
 *
 * Works on the raw file, not the blanked copy: secrets live in strings. Two
 * kinds of rule:
 *   - token rules: a fixed prefix and a body of a known alphabet and length
 *     (AWS access key ids, GitHub, Slack, Stripe, Google, npm, GitLab,
 *     OpenAI, Anthropic, SendGrid, PyPI tokens, JWTs, Slack webhooks) and
 *     private key blocks (-----BEGIN ... PRIVATE KEY----- up to -----END);
 *   - "generic-high-entropy": a value assigned to a name that ends in
 *     password/passwd/passphrase/secret/token/api_key/private_key/secret_key
 *     (any case, _ - . ignored: DB_PASSWORD, apiKey, spring.x.password) with
 *     `=`, `:`, `:=`, `=>` or <name>value</name>, whose value (quoted or
 *     bare) has 16..256 characters and no blank, is no placeholder and has a Shannon
 *     entropy >= 3.5 bits per character (>= 3.0 for values made of hex
 *     digits only, whose alphabet caps them at 4.0). Bare values need a
 *     digit and a letter, so identifiers (settings.SECRET) never qualify.
 *     Lockfiles (package-lock.json, go.sum, ...) are skipped by this rule.
 *
 * A line containing `ccm:allow-secret` suppresses what starts on it; an
 * allowlist file suppresses by digest, by rule and path glob, or by glob.
 *
 * The secret never leaves scan_secrets() except as a preview (its first 4
 * characters then "****", whatever its length) and a SHA-256 digest; no
 * copy is kept and the scratch buffer of the private-key digest is wiped.
 *
 * Unquoted values count only outside source code (by extension: in a .c
 * or .py file `token = SOME_CONSTANT` names something, in .env or YAML a
 * bare value is the value) and never when shaped like snake_case names.
 *
 * Speed: one pass over the buffer testing each byte pair against a table
 * of the rules' anchors (token prefixes, "--", '=' and ':', built once);
 * only anchor hits look further. Thread safety: scan_secrets() is
 * reentrant; an allowlist is read-only once loaded and may be shared
 * between threads.
 */
#ifndef CCM_SCAN_SECRETS_H
#define CCM_SCAN_SECRETS_H

#include <stddef.h>
#include <stdint.h>

/** One finding. Valid for the duration of the callback only. */
typedef struct scan_secret {
  const char *rule;   /* stable id, one of scan_secret_rules() */
  uint32_t line, col; /* 1-based line, 1-based byte column of the secret */
  char preview[32];   /* first 4 characters, then "****" (NUL-terminated) */
  uint8_t digest[32]; /* SHA-256 of the secret (private keys: of the
                         base64 characters of the body) */
  double entropy;     /* bits per char for generic-high-entropy, else 0 */
} scan_secret_t;

/** Receives one finding; a non-zero return stops the scan. */
typedef int (*scan_secret_fn)(void *ud, const scan_secret_t *s);

typedef struct scan_allowlist scan_allowlist_t;

/**
 * Scan @p len bytes of @p buf (need not be NUL-terminated).
 * @param path   the file's path relative to the repository root, for the
 *               allowlist's globs and the lockfile check; may be NULL.
 * @param allow  allowlist, or NULL.
 * @return the number of findings passed to @p cb (also when @p cb stopped
 *         the scan), or -1 when @p buf is NULL with @p len > 0 or OpenSSL
 *         cannot hash.
 */
int scan_secrets(const char *path, const char *buf, size_t len,
                 const scan_allowlist_t *allow, scan_secret_fn cb, void *ud);

/**
 * Load an allowlist file. One entry per line:
 *   - 64 hex digits: the digest of one secret (as reported);
 *   - `rule:glob`: that rule in the files the glob matches;
 *   - `glob`: every rule in those files.
 * `#` starts a comment (whole line, or after blanks); blank lines are
 * ignored. Globs are fnmatch(3) patterns against the relative path (where
 * `*` also crosses `/`); a glob without `/` also matches the base name; a
 * glob ending in `/` matches everything below that folder.
 * @return the list, or NULL with "FILE:LINE: reason" (or "FILE: reason")
 *         in @p err: unreadable file, unknown rule, empty glob, a hex
 *         digest of the wrong length, a line longer than 1024 bytes.
 */
scan_allowlist_t *scan_allowlist_load(const char *file, char *err,
                                      size_t errlen);

/**
 * The same from memory (@p name is used in error messages only).
 */
scan_allowlist_t *scan_allowlist_parse(const char *name, const char *text,
                                       size_t len, char *err, size_t errlen);

/** Free an allowlist; NULL is a no-op. */
void scan_allowlist_free(scan_allowlist_t *allow);

/** The rule ids scan_secrets() reports (NULL-terminated; *n = count). */
const char *const *scan_secret_rules(size_t *n);

#endif /* CCM_SCAN_SECRETS_H */
