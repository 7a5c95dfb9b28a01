/*
 * hooks.c: outgoing webhooks and alert POSTs.
 *
 * A delivery is a JSON body {"event","delivery","ts","data"} POSTed with
 * Content-Type application/json, X-Ccm-Event, X-Ccm-Delivery (the same id
 * on every retry, so a receiver can drop duplicates) and, when the hook
 * has a secret, X-Ccm-Signature-256: sha256=<hex HMAC-SHA256 of the raw
 * body> (GitHub's scheme, so the same verifiers work). The secret is used
 * here only; no message ever includes it.
 *
 * mon__post_once() is blocking (libcurl easy): the actor calls it from a
 * runtime blocking job, one attempt per job. CURLOPT_NOSIGNAL, a total
 * timeout, no redirects followed, and http(s) only.
 */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/monitor/monitor_int.h"

char *mon__hook_body(const char *event, const char *delivery, int64_t ts_ms,
                     const json_t *data, size_t *len)
{
  json_t *o = json_pack("{s:s,s:s,s:I,s:O}", "event", event, "delivery",
                        delivery, "ts", (json_int_t)ts_ms, "data",
                        data ? (json_t *)data : json_null());
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  *len = text ? strlen(text) : 0;
  return text;
}

void mon__hmac_hex(const char *key, const void *body, size_t len,
                   char out[65])
{
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mlen = 0;
  if (!HMAC(EVP_sha256(), key, (int)strlen(key), body, len, mac, &mlen))
    mlen = 0;
  static const char hex[] = "0123456789abcdef";
  for (unsigned i = 0; i < mlen && i < 32; i++) {
    out[2 * i] = hex[mac[i] >> 4];
    out[2 * i + 1] = hex[mac[i] & 15];
  }
  out[mlen ? 64 : 0] = '\0';
}

unsigned mon__backoff_ms(const monitor_retry_t *r, unsigned next,
                         uint64_t rnd)
{
  uint64_t d = r->base_ms;
  for (unsigned i = 2; i < next && d < r->max_ms; i++)
    d *= 2;
  if (d > r->max_ms)
    d = r->max_ms;
  /* "Equal jitter": half fixed, half random, so retries of many
   * deliveries spread out but never come sooner than half the delay. */
  uint64_t half = d / 2;
  return (unsigned)(d - half + (half ? rnd % (half + 1) : 0));
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
  (void)p;
  (void)ud;
  return size * n;
}

static struct curl_slist *headers_of(const mon_post_t *p)
{
  char line[256];
  struct curl_slist *h = curl_slist_append(NULL,
                                           "Content-Type: application/json");
  h = curl_slist_append(h, "User-Agent: ccm/0.1");
  if (p->event) {
    snprintf(line, sizeof line, "X-Ccm-Event: %.200s", p->event);
    h = curl_slist_append(h, line);
  }
  snprintf(line, sizeof line, "X-Ccm-Delivery: %s", p->delivery);
  h = curl_slist_append(h, line);
  if (p->signature) {
    snprintf(line, sizeof line, "X-Ccm-Signature-256: %s", p->signature);
    h = curl_slist_append(h, line);
  }
  return curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
}

int mon__post_once(const mon_post_t *p, unsigned timeout_ms, char *err,
                   size_t errlen)
{
  CURL *c = curl_easy_init();
  if (!c) {
    snprintf(err, errlen, "curl_easy_init failed");
    return -1;
  }
  struct curl_slist *h = headers_of(p);
  curl_easy_setopt(c, CURLOPT_URL, p->url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, p->body);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  CURLcode cc = curl_easy_perform(c);
  long status = -1;
  if (cc == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  else
    snprintf(err, errlen, "%s", curl_easy_strerror(cc));
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return (int)status;
}

void mon__post_free(mon_post_t *p)
{
  if (!p)
    return;
  free(p->url);
  free(p->event);
  free(p->signature);
  free(p->body);
  free(p);
}
