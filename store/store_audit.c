/*
 * store_audit.c: the audit log, the `audit` database (seq(8) -> JSON).
 *
 * One entry per automated action (an agent run, a push, a pull request,
 * an issue created, closed or commented, an approval, a configuration
 * reload): who did it, what, to what, when, and the SHA-256 of the input
 * the action was taken on (a prompt, a diff, a request body, a config
 * file). The input itself is never stored, only its digest and length,
 * so an input holding a secret leaves nothing readable behind; who, what
 * and subject are identifiers checked to be short printable text.
 *
 *   {"seq":7,"at":"2026-11-24T19:40:00.123Z","at_ms":1795...,
 *    "who":"executor","what":"agent.run","subject":"task/3fa2...",
 *    "input_sha256":"9f86d0...","input_bytes":1432}
 *
 * Keys are big-endian sequence numbers appended in order (MDB_APPEND: the
 * cheap LMDB write, FACTS.md). The log is append-only and kept whole:
 * actions are few (a busy day is thousands), and an audit log that
 * forgets is not one.
 */
#include <lmdb.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

/* Identifiers, not prose: a longer one is a caller passing data. */
#define WHO_MAX 64
#define WHAT_MAX 64
#define SUBJECT_MAX 512

/* Is @p s non-empty (unless @p may_be_empty), at most @p max bytes, and
 * free of control characters? */
static bool ident_ok(const char *s, size_t max, bool may_be_empty)
{
  if (!s)
    return may_be_empty;
  size_t n = 0;
  for (; s[n]; n++)
    if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f || n >= max)
      return false;
  return n > 0 || may_be_empty;
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void iso_of(int64_t ms, char *buf, size_t cap)
{
  time_t sec = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
           (int)(ms % 1000));
}

/* Hex SHA-256 of @p len bytes at @p p into @p hex (65 bytes). */
static int sha256_hex(const void *p, size_t len, char hex[65])
{
  unsigned char md[32];
  unsigned mdlen = 0;
  if (!EVP_Digest(p ? p : "", len, md, &mdlen, EVP_sha256(), NULL) ||
      mdlen != 32)
    return STORE_ENOMEM;
  for (unsigned i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return 0;
}

/* The JSON text of entry @p seq (malloc'd), or NULL when out of memory. */
static char *entry_text(uint64_t seq, const char *who, const char *what,
                        const char *subject, const void *input,
                        size_t input_len)
{
  char at[80], hex[65];
  int64_t ms = now_ms();
  iso_of(ms, at, sizeof at);
  json_t *o = json_pack("{s:I,s:s,s:I,s:s,s:s}", "seq", (json_int_t)seq,
                        "at", at, "at_ms", (json_int_t)ms, "who", who, "what",
                        what);
  if (o && subject)
    json_object_set_new(o, "subject", json_string(subject));
  if (o && input && sha256_hex(input, input_len, hex) == 0) {
    json_object_set_new(o, "input_sha256", json_string(hex));
    json_object_set_new(o, "input_bytes", json_integer((json_int_t)input_len));
  }
  char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(o);
  return text;
}

int store_audit_append(store_txn_t *t, const char *who, const char *what,
                       const char *subject, const void *input,
                       size_t input_len)
{
  if (!t || !ident_ok(who, WHO_MAX, false) || !ident_ok(what, WHAT_MAX, false)
      || !ident_ok(subject, SUBJECT_MAX, true) || (!input && input_len))
    return STORE_EINVAL;
  MDB_cursor *c;
  MDB_val k, v;
  int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_AUDIT], &c);
  if (rc)
    return rc;
  uint64_t seq = 0;
  rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
  if (rc == 0 && k.mv_size == 8)
    seq = store__get_be64(k.mv_data);
  rc = rc == MDB_NOTFOUND ? 0 : rc;
  char *text = rc ? NULL : entry_text(seq + 1, who, what, subject, input,
                                      input_len);
  if (!rc && !text)
    rc = STORE_ENOMEM;
  if (!rc) {
    unsigned char kb[8];
    store__put_be64(kb, seq + 1);
    k = store__val(kb, 8);
    v = store__str_val(text);
    rc = store__cursor_put(t, DB_AUDIT, c, &k, &v, MDB_APPEND);
  }
  free(text);
  mdb_cursor_close(c);
  return rc;
}

int store_audit_record(store_t *s, const char *who, const char *what,
                       const char *subject, const void *input,
                       size_t input_len)
{
  for (int attempt = 0; attempt < 4; attempt++) {
    store_txn_t *t;
    int rc = store_write_begin(s, &t);
    if (rc)
      return rc;
    rc = store_audit_append(t, who, what, subject, input, input_len);
    if (rc) {
      store_write_abort(t);
    } else {
      rc = store_write_commit(t);
    }
    if (rc != MDB_MAP_FULL)
      return rc;
    if ((rc = store_grow(s)) != 0)
      return rc;
  }
  return MDB_MAP_FULL;
}

int store_audit_foreach(store_t *s, uint64_t before,
                        int (*fn)(const json_t *entry, void *arg), void *arg)
{
  MDB_txn *txn;
  MDB_cursor *c;
  int rc = store__read_begin(s, &txn);
  if (rc)
    return rc;
  rc = mdb_cursor_open(txn, s->dbi[DB_AUDIT], &c);
  if (rc) {
    store__read_end(s, txn);
    return rc;
  }
  unsigned char kb[8];
  MDB_val k, v;
  MDB_cursor_op op = MDB_LAST;
  if (before) {
    /* The first key >= before, then step back: entries strictly older. */
    store__put_be64(kb, before);
    k = store__val(kb, 8);
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    op = rc == 0 ? MDB_PREV : MDB_LAST;
  }
  bool corrupt = false;
  while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
    op = MDB_PREV;
    json_t *e = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    if (!json_is_object(e)) {
      corrupt = true; /* listed after the others, as store_task_foreach */
      json_decref(e);
      continue;
    }
    int stop = fn(e, arg);
    json_decref(e);
    if (stop)
      break;
  }
  mdb_cursor_close(c);
  store__read_end(s, txn);
  if (rc == MDB_NOTFOUND)
    rc = 0;
  return rc ? rc : corrupt ? STORE_ECORRUPT : 0;
}

/* COMMAND "audit" (the store actor): args {"who", "what", "subject":
 * string | null, "input": string | null}; the input is hashed here and
 * dropped with the message. */
int store_audit_check(const json_t *args)
{
  const json_t *subject = json_object_get(args, "subject");
  const json_t *input = json_object_get(args, "input");
  if (!json_is_object(args) ||
      !ident_ok(json_string_value(json_object_get(args, "who")), WHO_MAX,
                false) ||
      !ident_ok(json_string_value(json_object_get(args, "what")), WHAT_MAX,
                false) ||
      (subject && !json_is_null(subject) &&
       !ident_ok(json_string_value(subject), SUBJECT_MAX, false)) ||
      (input && !json_is_null(input) && !json_is_string(input)))
    return STORE_EINVAL;
  return 0;
}

int store_audit_apply(store_txn_t *t, const json_t *args)
{
  int rc = store_audit_check(args);
  if (rc)
    return rc;
  const json_t *input = json_object_get(args, "input");
  return store_audit_append(
      t, json_string_value(json_object_get(args, "who")),
      json_string_value(json_object_get(args, "what")),
      json_string_value(json_object_get(args, "subject")),
      json_is_string(input) ? json_string_value(input) : NULL,
      json_is_string(input) ? json_string_length(input) : 0);
}
