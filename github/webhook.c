/*
 * webhook.c: verify, deduplicate and parse GitHub deliveries
 * (gh_webhook.h).
 *
 * Delivery set: a ring of the last `cap` accepted ids (oldest evicted
 * first) indexed by an open-addressing table of ring positions (linear
 * probing, backward-shift deletion, load <= 1/2), so a lookup costs one or
 * two probes whatever the capacity. One mutex guards it and the counters;
 * the HMAC and the JSON parse run outside the lock.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "github/gh_int.h"
#include "github/gh_ops.h"
#include "github/gh_webhook.h"

#define DELIVERY_MAX 96 /* GitHub's ids are GUIDs (36 bytes) */
#define SIG_PREFIX "sha256="

typedef struct dedupe {
  char (*ids)[DELIVERY_MAX + 1]; /* ring */
  uint64_t *hashes;
  size_t cap, start, count;
  uint32_t *slots;               /* ring index + 1; 0 = empty */
  size_t mask;
} dedupe_t;

struct gh_webhook {
  char *secret;
  size_t secret_len;
  size_t max_body;
  pthread_mutex_t mu;
  dedupe_t seen;
  gh_webhook_stats_t stats;
  bool (*was_accepted)(void *arg, const char *id);
  void *was_accepted_arg;
};

void gh_webhook_config_defaults(gh_webhook_config_t *c)
{
  memset(c, 0, sizeof(*c));
  c->max_body = 1u << 20;
  c->dedupe_capacity = 8192;
}

/* --------------------------------------------------------- delivery set */

static uint64_t hash_id(const char *s)
{
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static int dedupe_init(dedupe_t *d, size_t cap)
{
  memset(d, 0, sizeof(*d));
  size_t nslots = 16;
  while (nslots < cap * 2)
    nslots *= 2;
  d->cap = cap;
  d->mask = nslots - 1;
  d->ids = calloc(cap, sizeof(*d->ids));
  d->hashes = calloc(cap, sizeof(*d->hashes));
  d->slots = calloc(nslots, sizeof(*d->slots));
  return d->ids && d->hashes && d->slots ? 0 : GH_ENOMEM;
}

static void dedupe_fini(dedupe_t *d)
{
  free(d->ids);
  free(d->hashes);
  free(d->slots);
  memset(d, 0, sizeof(*d));
}

/* The table slot holding ring index @p r's entry for @p id, or the empty
 * slot where it would go. */
static size_t slot_of(const dedupe_t *d, const char *id, uint64_t h)
{
  size_t i = h & d->mask;
  while (d->slots[i]) {
    size_t r = d->slots[i] - 1;
    if (d->hashes[r] == h && strcmp(d->ids[r], id) == 0)
      return i;
    i = (i + 1) & d->mask;
  }
  return i;
}

static bool dedupe_has(const dedupe_t *d, const char *id)
{
  return d->slots[slot_of(d, id, hash_id(id))] != 0;
}

/* Delete slot @p i, shifting later members of its probe run back. */
static void slot_delete(dedupe_t *d, size_t i)
{
  size_t j = i;
  for (;;) {
    d->slots[i] = 0;
    for (;;) {
      j = (j + 1) & d->mask;
      if (!d->slots[j])
        return;
      size_t home = d->hashes[d->slots[j] - 1] & d->mask;
      /* move j back to i unless its home lies cyclically in (i, j] */
      bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (!stays)
        break;
    }
    d->slots[i] = d->slots[j];
    i = j;
  }
}

static void dedupe_add(dedupe_t *d, const char *id)
{
  if (d->count == d->cap) { /* forget the oldest */
    size_t r = d->start;
    slot_delete(d, slot_of(d, d->ids[r], d->hashes[r]));
    d->start = (d->start + 1) % d->cap;
    d->count--;
  }
  size_t r = (d->start + d->count) % d->cap;
  snprintf(d->ids[r], sizeof(d->ids[r]), "%s", id);
  d->hashes[r] = hash_id(id);
  d->slots[slot_of(d, id, d->hashes[r])] = (uint32_t)r + 1;
  d->count++;
}

/* ------------------------------------------------------------ lifecycle */

int gh_webhook_new(const gh_webhook_config_t *cfg, gh_webhook_t **out)
{
  *out = NULL;
  gh_webhook_config_t c;
  gh_webhook_config_defaults(&c);
  if (cfg)
    c = *cfg;
  if (!c.max_body)
    c.max_body = 1u << 20;
  if (!c.dedupe_capacity)
    c.dedupe_capacity = 8192;
  if (c.dedupe_capacity > (1u << 24))
    return GH_EINVAL; /* ring indexes are 32-bit, and memory is finite */
  gh_webhook_t *w = calloc(1, sizeof(*w));
  if (!w)
    return GH_ENOMEM;
  pthread_mutex_init(&w->mu, NULL);
  w->max_body = c.max_body;
  w->was_accepted = c.was_accepted;
  w->was_accepted_arg = c.was_accepted_arg;
  if (c.secret && *c.secret) {
    w->secret = strdup(c.secret);
    w->secret_len = strlen(c.secret);
  }
  if ((c.secret && *c.secret && !w->secret) ||
      dedupe_init(&w->seen, c.dedupe_capacity)) {
    gh_webhook_free(w);
    return GH_ENOMEM;
  }
  *out = w;
  return 0;
}

void gh_webhook_free(gh_webhook_t *w)
{
  if (!w)
    return;
  if (w->secret)
    OPENSSL_cleanse(w->secret, w->secret_len);
  free(w->secret);
  dedupe_fini(&w->seen);
  pthread_mutex_destroy(&w->mu);
  free(w);
}

void gh_webhook_stats(gh_webhook_t *w, gh_webhook_stats_t *out)
{
  pthread_mutex_lock(&w->mu);
  *out = w->stats;
  pthread_mutex_unlock(&w->mu);
}

/* ---------------------------------------------------------- signatures */

static void hmac(const char *key, size_t klen, const void *body, size_t len,
                 unsigned char mac[32])
{
  unsigned int n = 32;
  HMAC(EVP_sha256(), key, (int)klen, body, len, mac, &n);
}

void gh_webhook_sign(const char *secret, const void *body, size_t len,
                     char out[72])
{
  unsigned char mac[32];
  hmac(secret, strlen(secret), body, len, mac);
  int w = snprintf(out, 72, SIG_PREFIX);
  for (int i = 0; i < 32; i++)
    w += snprintf(out + w, (size_t)(72 - w), "%02x", mac[i]);
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* "sha256=<64 hex>" into @p got; false when absent or malformed (or no
 * secret is configured: nothing can be verified then). */
static bool signature_parse(const gh_webhook_t *w, const char *sig,
                            unsigned char got[32])
{
  size_t plen = strlen(SIG_PREFIX);
  if (!w->secret || !sig || strncmp(sig, SIG_PREFIX, plen) != 0 ||
      strlen(sig + plen) != 64)
    return false;
  for (int i = 0; i < 32; i++) {
    int hi = hexval(sig[plen + 2 * i]), lo = hexval(sig[plen + 2 * i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    got[i] = (unsigned char)(hi << 4 | lo);
  }
  return true;
}

static bool signature_matches(const gh_webhook_t *w,
                              const gh_webhook_delivery_t *d,
                              const unsigned char got[32])
{
  unsigned char want[32];
  hmac(w->secret, w->secret_len, d->body ? d->body : "", d->len, want);
  return CRYPTO_memcmp(want, got, sizeof(want)) == 0;
}

/* -------------------------------------------------------------- events */

static const char *const kind_names[] = {"ignored", "ping", "push", "issues",
                                         "issue_comment", "pull_request"};

const char *gh_event_kind_name(gh_event_kind_t k)
{
  return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0])
             ? kind_names[k]
             : "ignored";
}

static gh_event_kind_t kind_of(const char *name)
{
  for (size_t i = 1; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
    if (strcmp(name, kind_names[i]) == 0)
      return (gh_event_kind_t)i;
  return GH_EVENT_IGNORED;
}


static void labels_of(const json_t *arr, gh_event_t *e)
{
  size_t n = json_array_size(arr);
  e->labels = n ? calloc(n, sizeof(*e->labels)) : NULL;
  for (size_t i = 0; e->labels && i < n; i++) {
    const char *s =
        json_string_value(json_object_get(json_array_get(arr, i), "name"));
    if (s && (e->labels[e->n_labels] = strdup(s)))
      e->n_labels++;
  }
}

/* issues / issue_comment: the issue; pull_request: the pull request. */
static void parse_item(const json_t *item, gh_event_t *e)
{
  json_int_t n = json_integer_value(json_object_get(item, "number"));
  if (n > 0 && n <= UINT32_MAX)
    e->number = (uint32_t)n;
  e->title = gh__json_strdup(item, "title");
  e->state = gh__json_strdup(item, "state");
  labels_of(json_object_get(item, "labels"), e);
  e->at = gh_time_parse(json_string_value(json_object_get(item, "updated_at")));
}

static void parse_payload(const json_t *p, gh_event_t *e)
{
  e->action = gh__json_strdup(p, "action");
  e->repo = gh__json_strdup(json_object_get(p, "repository"), "full_name");
  const json_t *sender = json_object_get(p, "sender");
  e->sender = gh__json_strdup(sender, "login");
  e->sender_bot = gh__json_user_is_bot(sender);
  e->label = gh__json_strdup(json_object_get(p, "label"), "name");
  switch (e->kind) {
  case GH_EVENT_PUSH:
    e->ref = gh__json_strdup(p, "ref");
    e->before = gh__json_strdup(p, "before");
    e->after = gh__json_strdup(p, "after");
    e->commits = (uint32_t)json_array_size(json_object_get(p, "commits"));
    e->deleted = json_is_true(json_object_get(p, "deleted"));
    e->at = gh_time_parse(json_string_value(
        json_object_get(json_object_get(p, "head_commit"), "timestamp")));
    break;
  case GH_EVENT_ISSUES:
    parse_item(json_object_get(p, "issue"), e);
    break;
  case GH_EVENT_ISSUE_COMMENT: {
    const json_t *issue = json_object_get(p, "issue");
    const json_t *comment = json_object_get(p, "comment");
    parse_item(issue, e);
    e->is_pull_request = json_object_get(issue, "pull_request") != NULL;
    e->comment_author = gh__json_strdup(json_object_get(comment, "user"), "login");
    int64_t at = gh_time_parse(
        json_string_value(json_object_get(comment, "updated_at")));
    if (at)
      e->at = at;
    break;
  }
  case GH_EVENT_PULL_REQUEST: {
    const json_t *pr = json_object_get(p, "pull_request");
    parse_item(pr, e);
    json_int_t n = json_integer_value(json_object_get(p, "number"));
    if (!e->number && n > 0 && n <= UINT32_MAX)
      e->number = (uint32_t)n;
    e->is_pull_request = true;
    e->merged = json_is_true(json_object_get(pr, "merged")) ||
                json_is_string(json_object_get(pr, "merged_at"));
    e->head_ref = gh__json_strdup(json_object_get(pr, "head"), "ref");
    e->html_url = gh__json_strdup(pr, "html_url");
    e->body = gh__json_strdup(pr, "body");
    break;
  }
  default:
    break;
  }
}

void gh_event_fini(gh_event_t *e)
{
  if (!e)
    return;
  char **strs[] = {&e->name,  &e->delivery, &e->action, &e->repo,
                   &e->sender, &e->title,   &e->state,  &e->label,
                   &e->head_ref, &e->comment_author, &e->ref, &e->before,
                   &e->after, &e->html_url, &e->body};
  for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
    free(*strs[i]);
  for (size_t i = 0; i < e->n_labels; i++)
    free(e->labels[i]);
  free(e->labels);
  memset(e, 0, sizeof(*e));
}

/* ------------------------------------------------------------- handling */

static int count(gh_webhook_t *w, uint64_t *counter, int status)
{
  pthread_mutex_lock(&w->mu);
  (*counter)++;
  pthread_mutex_unlock(&w->mu);
  return status;
}

static bool delivery_ok(const char *id)
{
  size_t n = id ? strlen(id) : 0;
  if (n == 0 || n > DELIVERY_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    if (id[i] <= ' ' || id[i] > '~')
      return false;
  return true;
}

/* Is @p id in the memory set (this process accepted it)? */
static bool seen_lately(gh_webhook_t *w, const char *id)
{
  pthread_mutex_lock(&w->mu);
  bool has = dedupe_has(&w->seen, id);
  pthread_mutex_unlock(&w->mu);
  return has;
}

int gh_webhook_check(gh_webhook_t *w, const gh_webhook_delivery_t *d,
                     gh_webhook_verdict_t *out)
{
  memset(out, 0, sizeof(*out));
  unsigned char sig[32];
  if (!signature_parse(w, d->signature, sig))
    return count(w, &w->stats.unauthorized, 401);
  /* a body too big is refused before it is hashed */
  if (d->len > w->max_body)
    return count(w, &w->stats.too_big, 413);
  if (!signature_matches(w, d, sig))
    return count(w, &w->stats.unauthorized, 401);
  if (!d->event || !*d->event || !d->body ||
      !gh__json_object_ok(d->body, d->len) ||
      (d->delivery && !delivery_ok(d->delivery)))
    return count(w, &w->stats.malformed, 400);
  out->kind = kind_of(d->event);
  bool before_restart = d->delivery && !seen_lately(w, d->delivery) &&
                        w->was_accepted &&
                        w->was_accepted(w->was_accepted_arg, d->delivery);
  pthread_mutex_lock(&w->mu);
  /* check and record under one lock: two concurrent redeliveries of the
   * same id cannot both be processed */
  if (d->delivery && (before_restart || dedupe_has(&w->seen, d->delivery))) {
    out->duplicate = true;
    w->stats.duplicates++;
  } else {
    if (d->delivery)
      dedupe_add(&w->seen, d->delivery);
    w->stats.accepted++;
    if (out->kind == GH_EVENT_IGNORED)
      w->stats.ignored++;
  }
  pthread_mutex_unlock(&w->mu);
  return 202;
}

int gh_event_parse(const char *name, const char *delivery, const void *body,
                   size_t len, gh_event_t *out)
{
  memset(out, 0, sizeof(*out));
  out->kind = name ? kind_of(name) : GH_EVENT_IGNORED;
  out->name = name ? strdup(name) : NULL;
  out->delivery = delivery ? strdup(delivery) : NULL;
  if ((name && !out->name) || (delivery && !out->delivery)) {
    gh_event_fini(out);
    return GH_ENOMEM;
  }
  if (out->kind == GH_EVENT_IGNORED)
    return 0; /* nothing in it is read */
  json_t *root = body ? json_loadb(body, len, 0, NULL) : NULL;
  int rc = json_is_object(root) ? 0 : GH_EMALFORMED;
  if (!rc)
    parse_payload(root, out);
  else
    out->kind = GH_EVENT_IGNORED;
  json_decref(root);
  return rc;
}

int gh_webhook_handle(gh_webhook_t *w, const gh_webhook_delivery_t *d,
                      gh_event_t *out)
{
  gh_webhook_verdict_t v;
  memset(out, 0, sizeof(*out));
  int status = gh_webhook_check(w, d, &v);
  if (status != 202)
    return status;
  /* checked already: only a number too big for jansson can fail here,
   * and the event is then acknowledged as ignored */
  gh_event_parse(d->event, d->delivery, d->body, d->len, out);
  out->duplicate = v.duplicate;
  return 202;
}

/* ------------------------------------------------------------- messages */

int gh_event_msg(const gh_event_t *e, rt_msg_t **out)
{
  *out = NULL;
  gh__map_t w;
  gh__map_begin(&w, 26);
  gh__pack_i64(&w.pk, "kind", e->kind);
  gh__pack_i64(&w.pk, "dup", e->duplicate);
  gh__pack_cstr(&w.pk, "name", e->name);
  gh__pack_cstr(&w.pk, "delivery", e->delivery);
  gh__pack_cstr(&w.pk, "action", e->action);
  gh__pack_cstr(&w.pk, "repo", e->repo);
  gh__pack_cstr(&w.pk, "sender", e->sender);
  gh__pack_i64(&w.pk, "bot", e->sender_bot);
  gh__pack_i64(&w.pk, "number", e->number);
  gh__pack_cstr(&w.pk, "title", e->title);
  gh__pack_cstr(&w.pk, "state", e->state);
  gh__pack_cstr(&w.pk, "label", e->label);
  gh__pack_key(&w.pk, "labels");
  msgpack_pack_array(&w.pk, e->n_labels);
  for (size_t i = 0; i < e->n_labels; i++) {
    size_t n = strlen(e->labels[i]);
    msgpack_pack_str(&w.pk, n);
    msgpack_pack_str_body(&w.pk, e->labels[i], n);
  }
  gh__pack_i64(&w.pk, "is_pr", e->is_pull_request);
  gh__pack_i64(&w.pk, "merged", e->merged);
  gh__pack_cstr(&w.pk, "head_ref", e->head_ref);
  gh__pack_cstr(&w.pk, "html_url", e->html_url);
  gh__pack_cstr(&w.pk, "pr_body", e->body);
  gh__pack_i64(&w.pk, "deleted", e->deleted);
  gh__pack_cstr(&w.pk, "comment_author", e->comment_author);
  gh__pack_cstr(&w.pk, "ref", e->ref);
  gh__pack_cstr(&w.pk, "before", e->before);
  gh__pack_cstr(&w.pk, "after", e->after);
  gh__pack_i64(&w.pk, "commits", e->commits);
  gh__pack_i64(&w.pk, "at", e->at);
  gh__pack_i64(&w.pk, "v", 1);
  return gh__map_msg(&w, GH_MSG_EVENT, out);
}

int gh_delivery_msg(const gh_webhook_delivery_t *d, bool with_body,
                    rt_msg_t **out)
{
  *out = NULL;
  gh__map_t w;
  gh__map_begin(&w, 3);
  gh__pack_cstr(&w.pk, "event", d->event);
  gh__pack_cstr(&w.pk, "delivery", d->delivery);
  if (with_body && d->body)
    gh__pack_str(&w.pk, "body", d->body, d->len);
  else
    gh__pack_cstr(&w.pk, "body", NULL);
  return gh__map_msg(&w, GH_MSG_DELIVERY, out);
}

int gh_delivery_decode(const rt_msg_t *m, gh_event_t *out)
{
  memset(out, 0, sizeof(*out));
  if (!m || rt_msg_type(m) != GH_MSG_DELIVERY)
    return GH_EMALFORMED;
  size_t len = 0, body_len = 0;
  const void *data = rt_msg_data(m, &len);
  char *event = NULL, *delivery = NULL, *body = NULL;
  const gh__field_t f[] = {{"event", GH__F_STR, &event, NULL},
                           {"delivery", GH__F_STR, &delivery, NULL},
                           {"body", GH__F_STR, &body, &body_len}};
  int rc = gh__decode_map(data, len, f, sizeof(f) / sizeof(f[0]));
  if (!rc)
    rc = gh_event_parse(event, delivery, body, body_len, out);
  free(event);
  free(delivery);
  free(body);
  return rc;
}

int gh_event_decode(const rt_msg_t *m, gh_event_t *out)
{
  memset(out, 0, sizeof(*out));
  if (!m || rt_msg_type(m) != GH_MSG_EVENT)
    return GH_EMALFORMED;
  size_t len = 0;
  const void *data = rt_msg_data(m, &len);
  int64_t kind = -1, dup = 0, bot = 0, number = 0, is_pr = 0, merged = 0,
          commits = 0, at = 0, deleted = 0;
  const gh__field_t f[] = {
      {"kind", GH__F_INT, &kind, NULL},
      {"dup", GH__F_INT, &dup, NULL},
      {"name", GH__F_STR, &out->name, NULL},
      {"delivery", GH__F_STR, &out->delivery, NULL},
      {"action", GH__F_STR, &out->action, NULL},
      {"repo", GH__F_STR, &out->repo, NULL},
      {"sender", GH__F_STR, &out->sender, NULL},
      {"bot", GH__F_INT, &bot, NULL},
      {"number", GH__F_INT, &number, NULL},
      {"title", GH__F_STR, &out->title, NULL},
      {"state", GH__F_STR, &out->state, NULL},
      {"label", GH__F_STR, &out->label, NULL},
      {"labels", GH__F_STRS, &out->labels, &out->n_labels},
      {"is_pr", GH__F_INT, &is_pr, NULL},
      {"merged", GH__F_INT, &merged, NULL},
      {"head_ref", GH__F_STR, &out->head_ref, NULL},
      {"html_url", GH__F_STR, &out->html_url, NULL},
      {"pr_body", GH__F_STR, &out->body, NULL},
      {"deleted", GH__F_INT, &deleted, NULL},
      {"comment_author", GH__F_STR, &out->comment_author, NULL},
      {"ref", GH__F_STR, &out->ref, NULL},
      {"before", GH__F_STR, &out->before, NULL},
      {"after", GH__F_STR, &out->after, NULL},
      {"commits", GH__F_INT, &commits, NULL},
      {"at", GH__F_INT, &at, NULL}};
  int rc = gh__decode_map(data, len, f, sizeof(f) / sizeof(f[0]));
  if (!rc && (kind < GH_EVENT_IGNORED || kind > GH_EVENT_PULL_REQUEST ||
              number < 0 || number > UINT32_MAX || commits < 0 ||
              commits > UINT32_MAX))
    rc = GH_EMALFORMED;
  if (rc) {
    gh_event_fini(out);
    return rc;
  }
  out->kind = (gh_event_kind_t)kind;
  out->duplicate = dup != 0;
  out->sender_bot = bot != 0;
  out->number = (uint32_t)number;
  out->is_pull_request = is_pr != 0;
  out->merged = merged != 0;
  out->commits = (uint32_t)commits;
  out->deleted = deleted != 0;
  out->at = at;
  return 0;
}
