/*
 * lines.h: cut a byte stream (an agent's stdout or stderr) into lines.
 *
 * Bytes arrive in reads of any size; a line may span many reads. Each
 * complete line is handed to a callback without its newline (a trailing
 * '\r' is kept: it is the agent's byte). A line longer than the cap is
 * handed over once, cut at the cap and flagged EXEC_LINE_TRUNCATED, and
 * the rest of it is skipped up to the next newline: one runaway line can
 * neither grow memory without bound nor hide the lines after it. At end
 * of stream a last line without a newline is handed over too.
 *
 * Threading: none; one splitter belongs to one reader.
 */
#ifndef CCM_EXEC_LINES_H
#define CCM_EXEC_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXEC_LINE_TRUNCATED 0x1u /* the line was longer than the cap */

/* Receives one line (borrowed for the call; not NUL-terminated). */
typedef void (*exec_line_fn)(void *ud, int stream, const char *line,
                             size_t len, unsigned flags);

typedef struct exec_lines {
  /* private */
  char *buf;
  size_t len, alloc, cap; /* cap: the line cap in bytes */
  bool skipping;   /* inside an over-long line, after its first cap bytes */
  uint64_t lines;  /* read-only: lines handed over so far */
  uint64_t truncated; /* read-only: of which over-long */
} exec_lines_t;

/** Prepare @p l with a line cap of @p cap bytes (0: 1 MiB). The buffer is
 * allocated lazily, up to the cap. */
void exec_lines_init(exec_lines_t *l, size_t cap);

/** Free the buffer; the splitter may be initialised again. */
void exec_lines_fini(exec_lines_t *l);

/**
 * Feed @p n bytes; every line they complete goes to @p fn, in order.
 * @return 0, or -ENOMEM when the buffer cannot grow (the bytes that did not
 *         fit are dropped as if the line were over-long).
 */
int exec_lines_feed(exec_lines_t *l, const char *data, size_t n, int stream,
                    exec_line_fn fn, void *ud);

/** End of stream: hand over a pending partial line, if any. */
void exec_lines_finish(exec_lines_t *l, int stream, exec_line_fn fn,
                       void *ud);

#endif /* CCM_EXEC_LINES_H */
