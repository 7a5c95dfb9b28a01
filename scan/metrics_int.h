/*
 * metrics_int.h: what the three family scanners of scan/metrics.c share.
 * scan/ only.
 *
 * Every family scanner walks the blanked buffer once, front to back, and
 * keeps a stack of open blocks (frames). A frame that is a function owns a
 * record in a second stack (fns). Invariants:
 *   - a frame's depth is its parent's + 1 (+ 0 for MF_LITERAL: braces of
 *     an initialiser are data, not nesting); its max_depth is the deepest
 *     depth seen while it was open (passed to its parent when it closes),
 *     so a function's nesting is max_depth - depth, O(1) work per block;
 *   - frames[k].fn is the index of the innermost function at or below k
 *     (-1 for none): decisions are added to that function only;
 *   - a function is reported when its frame is popped; metrics__finish()
 *     pops whatever is still open at the end of the buffer.
 */
#ifndef CCM_SCAN_METRICS_INT_H
#define CCM_SCAN_METRICS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan/metrics.h"

/* Frame kinds (brace family; the others use MF_FUNC and MF_BLOCK). */
enum {
  MF_BLOCK = 0, /* control block, bare block, anything else */
  MF_FUNC,      /* a function body */
  MF_CONTAINER, /* class/struct/namespace/impl/...: may hold functions */
  MF_LITERAL,   /* initialiser or object literal: may hold methods */
};

typedef struct metrics_frame {
  uint8_t kind;
  uint8_t tag;      /* family-specific: which opener (keyword family) */
  bool attached;    /* keyword family: its `do` has been seen */
  uint32_t depth, max_depth;
  int32_t fn;       /* innermost function at or below, -1 for none */
  uint32_t line;    /* where the frame opened */
  uint32_t indent;  /* indent family: the header's indentation */
} metrics_frame_t;

typedef struct metrics_fn {
  const char *name;
  size_t name_len;
  uint32_t line, complexity, params;
} metrics_fn_t;

typedef struct metrics_ctx {
  const char *code;
  size_t len;
  scan_function_fn cb;
  void *ud;
  int count;
  bool stop; /* the callback asked to stop */
  bool oom;
  metrics_frame_t *frames;
  size_t nframes, frames_cap;
  metrics_fn_t *fns;
  size_t nfns, fns_cap;
} metrics_ctx_t;

/* Open a frame (a function when @p fn is not NULL). -1 when out of memory
 * (ctx->oom is set and the scan should end). */
int metrics__push(metrics_ctx_t *m, uint8_t kind, const metrics_fn_t *fn,
                  uint32_t line);

/* Close the top frame, reporting its function (ending on @p end_line). */
void metrics__pop(metrics_ctx_t *m, uint32_t end_line);

/* Close every frame (end of buffer). */
void metrics__finish(metrics_ctx_t *m, uint32_t end_line);

/* The top frame, or NULL. */
metrics_frame_t *metrics__top(metrics_ctx_t *m);

/* Add @p n decisions to the innermost open function, if any. */
void metrics__decision(metrics_ctx_t *m, uint32_t n);

/* Parameters declared between the parentheses at @p open and @p close. */
uint32_t metrics__count_params(const char *code, size_t open, size_t close,
                               scan_family_t family);

/* Index of the ')' matching the '(' at @p open, searching up to @p limit;
 * (size_t)-1 when there is none. */
size_t metrics__match_paren(const char *code, size_t open, size_t limit);

/* Letters, digits, '_', '$' and bytes >= 0x80 (UTF-8 identifiers). */
extern const uint8_t metrics__word_table[256];

static inline bool metrics__word_char(unsigned char c)
{
  return metrics__word_table[c] != 0;
}

/* Is [p, p+n) exactly one of the NULL-terminated @p words? */
bool metrics__word_in(const char *p, size_t n, const char *const *words);

/* The family scanners. */
void metrics__brace(metrics_ctx_t *m);
void metrics__indent(metrics_ctx_t *m);
void metrics__keyword(metrics_ctx_t *m);

#endif /* CCM_SCAN_METRICS_INT_H */
