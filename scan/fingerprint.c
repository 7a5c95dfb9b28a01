/*
 * fingerprint.c: see fingerprint.h.
 */
#include "scan/fingerprint.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void hash_part(EVP_MD_CTX *c, const void *p, size_t n)
{
  static const unsigned char zero = 0;
  EVP_DigestUpdate(c, p, n);
  EVP_DigestUpdate(c, &zero, 1);
}

void scan_fingerprint(char out[SCAN_FP_HEX + 1], const char *repo,
                      const char *kind, const char *path, const char *key,
                      size_t key_len, uint32_t occurrence)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE], occ[4];
  unsigned int mdlen = 0;
  EVP_MD_CTX *c = EVP_MD_CTX_new();

  occ[0] = (unsigned char)(occurrence >> 24);
  occ[1] = (unsigned char)(occurrence >> 16);
  occ[2] = (unsigned char)(occurrence >> 8);
  occ[3] = (unsigned char)occurrence;
  EVP_DigestInit_ex(c, EVP_sha256(), NULL);
  hash_part(c, repo, strlen(repo));
  hash_part(c, kind, strlen(kind));
  hash_part(c, path, strlen(path));
  hash_part(c, key, key_len);
  EVP_DigestUpdate(c, occ, sizeof occ);
  EVP_DigestFinal_ex(c, md, &mdlen);
  EVP_MD_CTX_free(c);
  for (size_t i = 0; i < SCAN_FP_HEX / 2; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[SCAN_FP_HEX] = '\0';
}

static bool is_space(unsigned char ch)
{
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' ||
         ch == '\v';
}

static bool is_trailing_punct(unsigned char ch)
{
  return ch == '.' || ch == ',' || ch == ';' || ch == ':' || ch == '!' ||
         ch == '?' || is_space(ch);
}

size_t scan_normalize_text(const char *in, size_t n, char *out, size_t cap)
{
  size_t len = 0;
  bool space = false;
  if (cap == 0)
    return 0;
  for (size_t i = 0; i < n && len + 1 < cap; i++) {
    unsigned char ch = (unsigned char)in[i];
    if (is_space(ch)) {
      space = len > 0;
      continue;
    }
    if (space && len + 2 < cap)
      out[len++] = ' ';
    space = false;
    out[len++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
  }
  while (len > 0 && is_trailing_punct((unsigned char)out[len - 1]))
    len--;
  out[len] = '\0';
  return len;
}

/* FNV-1a over kind \0 key. */
static uint64_t key_hash(const char *kind, const char *key, size_t n)
{
  uint64_t h = 1469598103934665603ull;
  for (const char *p = kind; *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211ull;
  h = (h ^ 0) * 1099511628211ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
  return h;
}

uint32_t scan_occurrence_next(scan_occurrences_t *o, const char *kind,
                              const char *key, size_t key_len)
{
  uint64_t h = key_hash(kind, key, key_len);
  for (size_t i = 0; i < o->len; i++) {
    if (o->hashes[i] == h)
      return o->counts[i]++;
  }
  if (o->len == o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 16;
    uint64_t *hs = realloc(o->hashes, cap * sizeof *hs);
    if (!hs)
      return 0;
    o->hashes = hs;
    uint32_t *cs = realloc(o->counts, cap * sizeof *cs);
    if (!cs)
      return 0;
    o->counts = cs;
    o->cap = cap;
  }
  o->hashes[o->len] = h;
  o->counts[o->len] = 1;
  o->len++;
  return 0;
}

void scan_occurrences_reset(scan_occurrences_t *o)
{
  o->len = 0;
}

void scan_occurrences_free(scan_occurrences_t *o)
{
  free(o->hashes);
  free(o->counts);
  memset(o, 0, sizeof *o);
}
