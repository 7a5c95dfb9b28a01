/*
 * journal_ops.h: the operations inside a journal record (store_journal.c),
 * encoded and parsed without LMDB, so the parser can be fuzzed alone
 * (fuzz/fuzz_journal.c).
 *
 * An op: kind(1) name length(1) key length(2) value length(4), then the
 * database name, the key and the value (none for a delete); native byte
 * order, like the rest of the journal.
 */
#ifndef STORE_JOURNAL_OPS_H
#define STORE_JOURNAL_OPS_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_OP_PUT 1
#define JOURNAL_OP_DEL 2
#define JOURNAL_OP_HEAD 8
#define JOURNAL_NAME_MAX 63

typedef struct journal_op {
  int kind;                 /* JOURNAL_OP_PUT or JOURNAL_OP_DEL */
  char name[JOURNAL_NAME_MAX + 1];
  const unsigned char *key; /* into the parsed bytes */
  size_t klen;
  const unsigned char *val; /* NULL for a delete */
  size_t vlen;
} journal_op_t;

/** Bytes journal_op_encode() writes for these lengths (0: too long for
 * the format). */
size_t journal_op_size(size_t nlen, size_t klen, size_t vlen);
/** Encode one op at @p out (journal_op_size() bytes, checked by the
 * caller); @p val may be NULL for a delete. */
void journal_op_encode(unsigned char *out, int kind, const char *name,
                       size_t nlen, const void *key, size_t klen,
                       const void *val, size_t vlen);
/** Parse @p nops ops from @p p (@p len bytes), calling @p fn for each in
 * order; stops at @p fn's first non-zero return and returns it.
 * @return 0, -1 when the bytes are not @p nops well-formed ops that fill
 * @p len exactly, or @p fn's result. */
int journal_ops_parse(const unsigned char *p, size_t len, uint32_t nops,
                      int (*fn)(void *arg, const journal_op_t *op),
                      void *arg);

#endif /* STORE_JOURNAL_OPS_H */
