/*
 * journal_ops.c: encode and parse the ops of a journal record (see
 * journal_ops.h). The parser trusts nothing: every length is checked
 * against what is left, names must be 1..63 bytes without NUL, and the
 * ops must fill the payload exactly.
 */
#include "store/journal_ops.h"

#include <string.h>

size_t journal_op_size(size_t nlen, size_t klen, size_t vlen)
{
  if (nlen == 0 || nlen > JOURNAL_NAME_MAX || klen > UINT16_MAX ||
      vlen > UINT32_MAX)
    return 0;
  return JOURNAL_OP_HEAD + nlen + klen + vlen;
}

void journal_op_encode(unsigned char *out, int kind, const char *name,
                       size_t nlen, const void *key, size_t klen,
                       const void *val, size_t vlen)
{
  uint16_t k16 = (uint16_t)klen;
  uint32_t v32 = (uint32_t)vlen;
  out[0] = (unsigned char)kind;
  out[1] = (unsigned char)nlen;
  memcpy(out + 2, &k16, 2);
  memcpy(out + 4, &v32, 4);
  memcpy(out + JOURNAL_OP_HEAD, name, nlen);
  if (klen)
    memcpy(out + JOURNAL_OP_HEAD + nlen, key, klen);
  if (vlen)
    memcpy(out + JOURNAL_OP_HEAD + nlen + klen, val, vlen);
}

/* Parse the op at the start of [p, end); its size, or 0 if malformed. */
static size_t parse_one(const unsigned char *p, const unsigned char *end,
                        journal_op_t *op)
{
  if ((size_t)(end - p) < JOURNAL_OP_HEAD)
    return 0;
  uint16_t klen;
  uint32_t vlen;
  size_t nlen = p[1];
  memcpy(&klen, p + 2, 2);
  memcpy(&vlen, p + 4, 4);
  op->kind = p[0];
  if ((op->kind != JOURNAL_OP_PUT && op->kind != JOURNAL_OP_DEL) ||
      nlen == 0 || nlen > JOURNAL_NAME_MAX ||
      (op->kind == JOURNAL_OP_DEL && vlen != 0))
    return 0;
  size_t body = nlen + (size_t)klen + vlen;
  if ((size_t)(end - p) - JOURNAL_OP_HEAD < body)
    return 0;
  const unsigned char *q = p + JOURNAL_OP_HEAD;
  if (memchr(q, 0, nlen))
    return 0;
  memcpy(op->name, q, nlen);
  op->name[nlen] = '\0';
  op->key = q + nlen;
  op->klen = klen;
  op->val = op->kind == JOURNAL_OP_PUT ? q + nlen + klen : NULL;
  op->vlen = vlen;
  return JOURNAL_OP_HEAD + body;
}

int journal_ops_parse(const unsigned char *p, size_t len, uint32_t nops,
                      int (*fn)(void *arg, const journal_op_t *op),
                      void *arg)
{
  const unsigned char *end = p + len;
  for (uint32_t i = 0; i < nops; i++) {
    journal_op_t op;
    size_t n = parse_one(p, end, &op);
    if (!n)
      return -1;
    int rc = fn(arg, &op);
    if (rc)
      return rc;
    p += n;
  }
  return p == end ? 0 : -1;
}
