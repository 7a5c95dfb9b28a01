/*
 * fuzz_journal.c: libFuzzer target for the ops of a journal record
 * (store/journal_ops.c), the part of crash recovery that parses bytes read
 * back from disk.
 *
 * Input: the first byte is the op count (0..255), the rest the payload.
 * Checked:
 *   - journal_ops_parse() succeeds or returns -1, never reads outside the
 *     payload (ASan), and hands over ops whose name is 1..63 bytes without
 *     NUL, whose key and value lie inside the payload, and whose delete
 *     has no value;
 *   - when it succeeds, encoding the ops again gives the payload byte for
 *     byte (the format has one encoding);
 *   - a callback's non-zero result stops the parse and is returned.
 * Build (as fuzz/run.sh builds it):
 *   clang-14 -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 *     -fno-sanitize-recover=all -I. store/journal_ops.c fuzz/fuzz_journal.c
 *     -o build-fuzz/fuzz_journal
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_check.h"
#include "store/journal_ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct seen {
  const unsigned char *lo, *hi; /* the payload */
  unsigned char *out;           /* the ops encoded again */
  size_t len, count, stop_at;
} seen_t;

static int check_op(void *arg, const journal_op_t *op)
{
  seen_t *s = arg;
  size_t nlen = strlen(op->name);
  FUZZ_CHECK(nlen >= 1 && nlen <= JOURNAL_NAME_MAX, "name length %zu", nlen);
  FUZZ_CHECK(op->key >= s->lo && op->key + op->klen <= s->hi, "key outside");
  FUZZ_CHECK(op->kind == JOURNAL_OP_PUT || op->kind == JOURNAL_OP_DEL,
             "kind %d", op->kind);
  if (op->kind == JOURNAL_OP_DEL)
    FUZZ_CHECK(op->val == NULL && op->vlen == 0, "a delete has a value");
  else
    FUZZ_CHECK(op->val >= s->lo && op->val + op->vlen <= s->hi,
               "value outside");
  size_t n = journal_op_size(nlen, op->klen, op->vlen);
  FUZZ_CHECK(n > 0 && s->len + n <= (size_t)(s->hi - s->lo),
             "ops larger than the payload");
  journal_op_encode(s->out + s->len, op->kind, op->name, nlen, op->key,
                    op->klen, op->val, op->vlen);
  s->len += n;
  return ++s->count == s->stop_at ? 7 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  uint32_t nops = data[0];
  const unsigned char *p = data + 1;
  size_t len = size - 1;
  seen_t s = {.lo = p, .hi = p + len, .out = malloc(len + 1)};
  FUZZ_CHECK(s.out != NULL, "malloc");
  int rc = journal_ops_parse(p, len, nops, check_op, &s);
  FUZZ_CHECK(rc == 0 || rc == -1, "result %d", rc);
  if (rc == 0) {
    FUZZ_CHECK(s.count == nops, "%zu ops of %u", s.count, nops);
    FUZZ_CHECK(s.len == len && !memcmp(s.out, p, len),
               "encoding again differs");
  }
  if (rc == 0 && nops > 1) { /* a callback can stop it */
    seen_t t = {.lo = p, .hi = p + len, .out = s.out, .stop_at = 1};
    FUZZ_CHECK(journal_ops_parse(p, len, nops, check_op, &t) == 7 &&
                   t.count == 1,
               "a callback's result stops the parse");
  }
  free(s.out);
  return 0;
}
