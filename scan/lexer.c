/*
 * lexer.c: see lexer.h.
 *
 * The engine is a loop over code bytes: skip while lang->cls->cls[byte] is 0
 * (16 bytes at a time when the language has at most 8 such bytes),
 * then try_openers(), whose handlers each consume one construct and return
 * the offset just after it (or 0: "not mine here", and the next opener
 * tries). A handler reports what it consumed through the sink: comment
 * spans (with their body) and string content spans. Two sinks exist: the
 * comment callback (line and column computed lazily, only for comments,
 * by counting newlines forward from the previous comment) and the
 * blanking copy (which ignores positions).
 *
 * State beyond the position: pending heredocs (bodies start at the next
 * newline in code), and the stack of open JS template substitutions ${
 * (brace depth per level). Both are bounded; past the bound the construct
 * is treated as text, never as an error.
 */
#include "scan/lexer.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "scan/simd_int.h"


#define MAX_HEREDOCS 4     /* pending on one line: cat <<A <<B ... */
#define MAX_HEREDOC_ID 64  /* longer "identifiers" are not heredocs */
#define MAX_TEMPLATE 16    /* nested `${`${...}`}` levels followed */
#define MAX_RAW_DELIM 16   /* C++ R"delim(: the standard's limit */
#define MAX_CHAR_ESC 12    /* '\U0001F600' is the longest escape */
#define NONE ((size_t)0)   /* handler result: not matched here */

typedef struct lexer lexer_t;

typedef struct heredoc {
  size_t off, len; /* the delimiter word, in the buffer */
  bool strip;      /* the closing line may be indented */
} heredoc_t;

struct lexer {
  const struct scan_lang *lang;
  const unsigned char *b;
  size_t n;
  bool stop;
  /* sink */
  scan_comment_fn fn;
  void *ud;
  int fn_rc;
  char *out;             /* blanking copy, or NULL */
  /* line tracking for comment positions (monotonic) */
  size_t lc_pos, lc_bol;
  uint32_t lc_line;
  /* pending heredocs */
  heredoc_t hd[MAX_HEREDOCS];
  int nhd;
  /* open template substitutions */
  const scan_tok_t *tpl_tok[MAX_TEMPLATE];
  uint32_t tpl_depth[MAX_TEMPLATE];
  int ntpl;
  /* the class bytes, broadcast (skip_code) */
  int nskip;
  scan_v16 skip[8];
};

/* ---- byte classes ---- */

static inline bool is_word(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

static inline bool is_blank(unsigned char c)
{
  return c == ' ' || c == '\t';
}

static bool at_bol(const lexer_t *lx, size_t p)
{
  while (p > 0 && is_blank(lx->b[p - 1]))
    p--;
  return p == 0 || lx->b[p - 1] == '\n';
}

static bool match_at(const lexer_t *lx, size_t p, const char *s, size_t n)
{
  return p <= lx->n && lx->n - p >= n && memcmp(lx->b + p, s, n) == 0;
}

/* ---- sinks ---- */

static void blank_span(char *out, size_t from, size_t to)
{
  size_t i = from;
  const scan_v16 nl = scan_v16_splat('\n'), cr = scan_v16_splat('\r');
  const scan_v16 sp = scan_v16_splat(' ');
  for (; i + 16 <= to; i += 16) {
    scan_v16 x = scan_v16_load((const unsigned char *)out + i);
    scan_v16 keep = (scan_v16)(x == nl) | (scan_v16)(x == cr);
    x = (x & keep) | (sp & ~keep);
    memcpy(out + i, &x, sizeof x);
  }
  for (; i < to; i++) {
    char c = out[i];
    out[i] = (c == '\n' || c == '\r') ? c : ' ';
  }
}

static void position(lexer_t *lx, size_t off, uint32_t *line, uint32_t *col)
{
  const unsigned char *b = lx->b;
  size_t i = lx->lc_pos;
  while (i < off) {
    const unsigned char *nl = memchr(b + i, '\n', off - i);
    if (!nl)
      break;
    lx->lc_line++;
    i = (size_t)(nl - b) + 1;
    lx->lc_bol = i;
  }
  lx->lc_pos = off;
  *line = lx->lc_line;
  *col = (uint32_t)(off - lx->lc_bol + 1);
}

/* A comment spans [start, end); its body is [body, body_end). */
static void emit_comment(lexer_t *lx, size_t start, size_t end, size_t body,
                         size_t body_end, unsigned flags)
{
  if (lx->out) {
    blank_span(lx->out, start, end);
    return;
  }
  if (!lx->fn)
    return;
  scan_comment_t c;
  c.text = (const char *)lx->b + body;
  c.len = body_end - body;
  position(lx, start, &c.line, &c.col);
  c.flags = flags;
  c.start = (const char *)lx->b + start;
  c.span = end - start;
  int rc = lx->fn(lx->ud, &c);
  if (rc) {
    lx->fn_rc = rc;
    lx->stop = true;
  }
}

static void emit_string(lexer_t *lx, size_t from, size_t to)
{
  if (lx->out && to > from)
    blank_span(lx->out, from, to);
}

/* ---- comments ---- */

static bool is_doc(const lexer_t *lx, const scan_tok_t *t, size_t o)
{
  return t->doc && o < lx->n && lx->b[o] &&
         strchr(t->doc, lx->b[o]) != NULL &&
         !(t->close && match_at(lx, o, t->close, strlen(t->close)));
}

/* End of the line starting its search at p: the '\n' (or n). With
 * SCAN_LF_SPLICE a backslash right before the newline joins lines (C). */
static size_t line_end(const lexer_t *lx, size_t p)
{
  for (;;) {
    const unsigned char *nl = memchr(lx->b + p, '\n', lx->n - p);
    if (!nl)
      return lx->n;
    size_t e = (size_t)(nl - lx->b);
    if (!(lx->lang->flags & SCAN_LF_SPLICE))
      return e;
    size_t k = e;
    if (k > p && lx->b[k - 1] == '\r')
      k--;
    if (k == p || lx->b[k - 1] != '\\')
      return e;
    p = e + 1;
  }
}

/* Where the body of the comment opened by t at p starts: after the opener
 * and a doc marker, which adds SCAN_COMMENT_DOC to *flags. */
static size_t comment_body(const lexer_t *lx, const scan_tok_t *t, size_t p,
                           unsigned *flags)
{
  size_t o = p + t->open_len;
  if (!is_doc(lx, t, o))
    return o;
  *flags |= SCAN_COMMENT_DOC;
  return o + 1;
}

static size_t lex_line_comment(lexer_t *lx, const scan_tok_t *t, size_t p)
{
  unsigned flags = SCAN_COMMENT_LINE;
  size_t body = comment_body(lx, t, p, &flags);
  size_t end = line_end(lx, body);
  size_t body_end = end;
  if (body_end > body && lx->b[body_end - 1] == '\r')
    body_end--;
  if (body > body_end)
    body = body_end;
  emit_comment(lx, p, end, body, body_end, flags);
  return end > p ? end : p + 1;
}

/* Offset of the next closer of t from p that may close it, or n. */
static size_t find_closer(const lexer_t *lx, const scan_tok_t *t, size_t p)
{
  size_t clen = strlen(t->close);
  unsigned char last = (unsigned char)t->close[clen - 1];
  size_t i = p + clen - 1;
  while (i < lx->n) {
    const unsigned char *q = memchr(lx->b + i, last, lx->n - i);
    if (!q)
      break;
    size_t at = (size_t)(q - lx->b) + 1 - clen;
    if (memcmp(lx->b + at, t->close, clen) == 0 &&
        (!(t->flags & SCAN_TF_CLOSE_BOL) || at_bol(lx, at)))
      return at;
    i = (size_t)(q - lx->b) + 1;
  }
  return lx->n;
}

/* Nested: openers and closers counted from depth 1. */
static size_t find_nested_closer(const lexer_t *lx, const scan_tok_t *t,
                                 size_t p)
{
  size_t olen = strlen(t->open), clen = strlen(t->close);
  unsigned char o0 = (unsigned char)t->open[0];
  unsigned char c0 = (unsigned char)t->close[0];
  size_t depth = 1;
  size_t i = p;
  while (i < lx->n) {
    unsigned char c = lx->b[i];
    if (c == c0 && match_at(lx, i, t->close, clen)) {
      if (--depth == 0)
        return i;
      i += clen;
    } else if (c == o0 && match_at(lx, i, t->open, olen)) {
      depth++;
      i += olen;
    } else {
      i++;
    }
  }
  return lx->n;
}

static size_t lex_block_comment(lexer_t *lx, const scan_tok_t *t, size_t p)
{
  size_t o = p + t->open_len;
  unsigned flags = SCAN_COMMENT_BLOCK;
  size_t body = comment_body(lx, t, p, &flags);
  size_t at = (t->flags & SCAN_TF_NEST) ? find_nested_closer(lx, t, o)
                                        : find_closer(lx, t, o);
  size_t end;
  if (at >= lx->n) {
    at = end = lx->n;
    flags |= SCAN_COMMENT_UNTERMINATED;
  } else {
    end = at + strlen(t->close);
  }
  if (body > at)
    body = at;
  emit_comment(lx, p, end, body, at, flags);
  return end;
}

/* ---- strings ---- */

/* Scans a string body from o; returns the offset of its closer (or of the
 * newline / end that cut it) and sets *next to the offset after it. */
static size_t string_body(lexer_t *lx, const scan_tok_t *t, size_t o,
                          size_t *next)
{
  const unsigned char *b = lx->b;
  const char *close = t->close ? t->close : t->open;
  size_t clen = strlen(close);
  unsigned char c0 = (unsigned char)close[0];
  unsigned char esc = t->esc;
  bool multi = (t->flags & SCAN_TF_MULTI) != 0;
  bool to_eol = (t->flags & SCAN_TF_TO_EOL) != 0;
  size_t i = o;
  while (i < lx->n) {
    unsigned char c = b[i];
    if (c == '\n' && (!multi || to_eol)) {
      *next = i; /* the newline stays code */
      return i;
    }
    if (to_eol) {
      i++;
      continue;
    }
    if (esc && c == esc) {
      i += 2;
      continue;
    }
    if (c == c0 && match_at(lx, i, close, clen)) {
      if ((t->flags & SCAN_TF_DOUBLE) && match_at(lx, i + clen, close, clen)) {
        i += 2 * clen;
        continue;
      }
      if (clen == 3 && close[1] == close[0] && close[2] == close[0]) {
        while (i + clen < lx->n && b[i + clen] == c0)
          i++; /* """a"""" : the extra quotes belong to the text */
      }
      *next = i + clen;
      return i;
    }
    if (c == '$' && (t->flags & SCAN_TF_TEMPLATE) && i + 1 < lx->n &&
        b[i + 1] == '{' && lx->ntpl < MAX_TEMPLATE) {
      lx->tpl_tok[lx->ntpl] = t;
      lx->tpl_depth[lx->ntpl] = 0;
      lx->ntpl++;
      *next = i + 2;
      return i;
    }
    i++;
  }
  *next = lx->n;
  return lx->n;
}

static size_t lex_string_from(lexer_t *lx, const scan_tok_t *t, size_t o)
{
  size_t next;
  size_t end = string_body(lx, t, o, &next);
  emit_string(lx, o, end);
  return next;
}

/* Only blanks, or a comment, between end and the end of its line? */
static bool rest_of_line_empty(const lexer_t *lx, size_t end)
{
  while (end < lx->n && (is_blank(lx->b[end]) || lx->b[end] == '\r'))
    end++;
  return end >= lx->n || lx->b[end] == '\n' || lx->b[end] == '#' ||
         lx->b[end] == ';';
}

/* A string standing alone as a statement: reported as a doc comment. */
static size_t lex_docstring(lexer_t *lx, const scan_tok_t *t, size_t p)
{
  size_t o = p + t->open_len, next;
  size_t end = string_body(lx, t, o, &next);
  if (!rest_of_line_empty(lx, next)) {
    emit_string(lx, o, end);
    return next;
  }
  emit_comment(lx, p, next, o, end,
               SCAN_COMMENT_BLOCK | SCAN_COMMENT_DOC | SCAN_COMMENT_DOCSTRING |
                   (end >= lx->n ? SCAN_COMMENT_UNTERMINATED : 0));
  return next;
}

static size_t lex_string(lexer_t *lx, const scan_tok_t *t, size_t p)
{
  if ((t->flags & SCAN_TF_DOCSTRING) && at_bol(lx, p))
    return lex_docstring(lx, t, p);
  return lex_string_from(lx, t, p + t->open_len);
}

/* A raw string whose contents run from o to the closer; no escapes. */
static size_t lex_raw(lexer_t *lx, size_t o, const char *close, size_t clen,
                      size_t quote_in_close)
{
  const unsigned char *q = memmem(lx->b + o, lx->n - o, close, clen);
  size_t at = q ? (size_t)(q - lx->b) : lx->n;
  size_t content_end = q ? at + quote_in_close : lx->n;
  emit_string(lx, o, content_end);
  return q ? at + clen : lx->n;
}

/* Identifier of at most 2 bytes right before p, preceded by a non-word
 * byte (or the start): the prefix of u8R"..", b'x', br"..". */
static size_t short_prefix(const lexer_t *lx, size_t p, char *out)
{
  size_t k = 0;
  while (k < 3 && p > k && is_word(lx->b[p - k - 1]))
    k++;
  out[0] = '\0';
  if (k > 2)
    return 3;
  memcpy(out, lx->b + p - k, k);
  out[k] = '\0';
  return k;
}

/* C++ R"delim( ... )delim" with p at the quote. */
static size_t try_raw_cpp(lexer_t *lx, size_t p)
{
  char pre[4];
  if (p == 0 || lx->b[p - 1] != 'R')
    return NONE;
  size_t k = short_prefix(lx, p - 1, pre);
  if (k > 2 || !(k == 0 || strcmp(pre, "u8") == 0 || strcmp(pre, "u") == 0 ||
                 strcmp(pre, "U") == 0 || strcmp(pre, "L") == 0))
    return NONE;
  size_t d = p + 1, i = d;
  while (i < lx->n && i - d <= MAX_RAW_DELIM && lx->b[i] != '(') {
    unsigned char c = lx->b[i];
    if (c == ' ' || c == ')' || c == '\\' || c == '\t' || c == '\n' ||
        c == '"')
      return NONE;
    i++;
  }
  if (i >= lx->n || lx->b[i] != '(' || i - d > MAX_RAW_DELIM)
    return NONE;
  char close[MAX_RAW_DELIM + 3];
  size_t dlen = i - d;
  close[0] = ')';
  memcpy(close + 1, lx->b + d, dlen);
  close[dlen + 1] = '"';
  /* contents: from after the quote to before the closing quote */
  const unsigned char *q =
      memmem(lx->b + i + 1, lx->n - i - 1, close, dlen + 2);
  size_t end = q ? (size_t)(q - lx->b) + dlen + 1 : lx->n;
  emit_string(lx, p + 1, end);
  return q ? end + 1 : lx->n;
}

/* Rust r"..", r#".."#, br#".."# and Swift #".."# with p at the quote. */
static size_t try_raw_hash(lexer_t *lx, size_t p)
{
  size_t k = 0;
  while (k < p && k <= 255 && lx->b[p - k - 1] == '#')
    k++;
  size_t before = p - k; /* first hash, or the quote */
  if (lx->lang->flags & SCAN_LF_RAW_RUST) {
    char pre[4];
    if (before == 0 || lx->b[before - 1] != 'r')
      return NONE;
    size_t w = short_prefix(lx, before - 1, pre);
    if (!(w == 0 || strcmp(pre, "b") == 0 || strcmp(pre, "c") == 0))
      return NONE;
  } else if (k == 0 || (before > 0 && is_word(lx->b[before - 1]))) {
    return NONE;
  }
  char close[257];
  close[0] = '"';
  memset(close + 1, '#', k);
  size_t o = p + 1;
  if (lx->lang->flags & SCAN_LF_RAW_HASH && match_at(lx, p, "\"\"\"", 3))
    o = p + 3;
  return lex_raw(lx, o, close, k + 1, 0);
}

static size_t try_raw(lexer_t *lx, size_t p)
{
  unsigned f = lx->lang->flags;
  if (f & SCAN_LF_RAW_CPP)
    return try_raw_cpp(lx, p);
  if (f & (SCAN_LF_RAW_RUST | SCAN_LF_RAW_HASH))
    return try_raw_hash(lx, p);
  return NONE;
}

static size_t utf8_len(const unsigned char *s, size_t avail)
{
  size_t n = 1;
  if (s[0] >= 0xF0 && s[0] <= 0xF7)
    n = 4;
  else if (s[0] >= 0xE0)
    n = (s[0] <= 0xEF) ? 3 : 1;
  else if (s[0] >= 0xC0)
    n = 2;
  return n <= avail ? n : avail;
}

/* 'x', '\n', b'x', L'x': a literal only when the shape fits. */
static size_t lex_char(lexer_t *lx, const scan_tok_t *t, size_t p)
{
  const unsigned char *b = lx->b;
  if (p > 0 && is_word(b[p - 1])) {
    char pre[4];
    size_t k = short_prefix(lx, p, pre);
    if (!(k == 1 && strchr("bLuU", pre[0])) && strcmp(pre, "u8") != 0)
      return NONE;
  }
  size_t o = p + 1;
  if (o >= lx->n || b[o] == '\n')
    return NONE;
  size_t close;
  if (t->esc && b[o] == t->esc) {
    size_t i = o + 2;
    while (i < lx->n && i - o <= MAX_CHAR_ESC && b[i] != '\'' && b[i] != '\n')
      i++;
    if (i >= lx->n || b[i] != '\'')
      return NONE;
    close = i;
  } else {
    close = o + utf8_len(b + o, lx->n - o);
    if (close >= lx->n || b[close] != '\'')
      return NONE;
  }
  emit_string(lx, o, close);
  return close + 1;
}

/* ---- long brackets (Lua, CMake) ---- */

/* Level of a long bracket opening at p ("[", "="*level, "["), or -1. */
static int long_bracket_level(const lexer_t *lx, size_t p)
{
  if (p >= lx->n || lx->b[p] != '[')
    return -1;
  size_t i = p + 1;
  while (i < lx->n && lx->b[i] == '=' && i - p < 64)
    i++;
  if (i >= lx->n || lx->b[i] != '[')
    return -1;
  return (int)(i - p - 1);
}

/* Closer "]" "="*level "]" from o; *end gets the offset after it. */
static size_t long_bracket_close(const lexer_t *lx, size_t o, int level,
                                 size_t *end)
{
  char close[66];
  close[0] = ']';
  memset(close + 1, '=', (size_t)level);
  close[level + 1] = ']';
  const unsigned char *q = memmem(lx->b + o, lx->n - o, close,
                                  (size_t)level + 2);
  if (!q) {
    *end = lx->n;
    return lx->n;
  }
  *end = (size_t)(q - lx->b) + (size_t)level + 2;
  return (size_t)(q - lx->b);
}

static size_t lex_long_string(lexer_t *lx, size_t p)
{
  int level = long_bracket_level(lx, p);
  if (level < 0)
    return NONE;
  size_t o = p + (size_t)level + 2, end;
  size_t at = long_bracket_close(lx, o, level, &end);
  emit_string(lx, o, at);
  return end;
}

static size_t lex_long_comment(lexer_t *lx, const scan_tok_t *t, size_t p)
{
  size_t b0 = p + t->open_len - 1; /* the '[' */
  int level = long_bracket_level(lx, b0);
  if (level < 0)
    return NONE;
  size_t o = b0 + (size_t)level + 2, end;
  size_t at = long_bracket_close(lx, o, level, &end);
  emit_comment(lx, p, end, o, at,
               SCAN_COMMENT_BLOCK |
                   (at >= lx->n ? SCAN_COMMENT_UNTERMINATED : 0));
  return end;
}

/* ---- heredocs ---- */

static bool is_ident_start(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Reads a delimiter at i: quoted with ' " ` or a bare identifier (when
 * upper_only: [A-Z_][A-Z0-9_]*). Returns the offset after it, 0 if none. */
static size_t heredoc_word(const lexer_t *lx, size_t i, bool upper_only,
                           bool shell, size_t *off, size_t *len)
{
  const unsigned char *b = lx->b;
  if (i >= lx->n)
    return 0;
  if (b[i] == '\'' || b[i] == '"' || (b[i] == '`' && !shell)) {
    size_t j = i + 1;
    while (j < lx->n && b[j] != b[i] && b[j] != '\n')
      j++;
    if (j >= lx->n || b[j] != b[i] || j == i + 1)
      return 0;
    *off = i + 1;
    *len = j - i - 1;
    return j + 1;
  }
  if (shell && b[i] == '\\')
    i++;
  if (i >= lx->n || !is_ident_start(b[i]))
    return 0;
  size_t j = i;
  while (j < lx->n && (is_word(b[j]) || (shell && b[j] == '-'))) {
    if (upper_only && b[j] >= 'a' && b[j] <= 'z')
      return 0;
    j++;
  }
  *off = i;
  *len = j - i;
  return j;
}

static size_t lex_heredoc(lexer_t *lx, const scan_tok_t *t, size_t p)
{
  const unsigned char *b = lx->b;
  size_t i = p + t->open_len;
  bool strip = false, upper_only = false;
  scan_heredoc_t style = lx->lang->heredoc;
  if (i < lx->n && b[i] == '<') /* <<< here-string (sh), <<<< ... */
    return i + 1;
  switch (style) {
  case SCAN_HD_SH:
    if (i < lx->n && b[i] == '-') {
      strip = true;
      i++;
    }
    while (i < lx->n && is_blank(b[i]))
      i++;
    break;
  case SCAN_HD_RUBY:
  case SCAN_HD_PERL:
    if (i < lx->n && (b[i] == '~' || (style == SCAN_HD_RUBY && b[i] == '-'))) {
      strip = true;
      i++;
    } else if (style == SCAN_HD_RUBY) {
      upper_only = true;
    }
    break;
  case SCAN_HD_PHP:
    strip = true;
    while (i < lx->n && is_blank(b[i]))
      i++;
    break;
  default:
    return NONE;
  }
  size_t off = 0, len = 0;
  size_t after = heredoc_word(lx, i, upper_only, style == SCAN_HD_SH, &off,
                              &len);
  if (!after || len > MAX_HEREDOC_ID)
    return NONE;
  if (lx->nhd < MAX_HEREDOCS) {
    lx->hd[lx->nhd].off = off;
    lx->hd[lx->nhd].len = len;
    lx->hd[lx->nhd].strip = strip;
    lx->nhd++;
  }
  return after;
}

/* Is the line [ls, le) the closing line of h? */
static bool heredoc_closes(const lexer_t *lx, const heredoc_t *h, size_t ls,
                           size_t le)
{
  const unsigned char *b = lx->b;
  if (le > ls && b[le - 1] == '\r')
    le--;
  if (h->strip) {
    while (ls < le && is_blank(b[ls]))
      ls++;
  }
  if (le - ls < h->len || memcmp(b + ls, b + h->off, h->len) != 0)
    return false;
  if (lx->lang->heredoc == SCAN_HD_PHP) /* EOT; or EOT, may follow */
    return le - ls == h->len || !is_word(b[ls + h->len]);
  return le - ls == h->len;
}

/* At a newline in code: the bodies of the pending heredocs follow. */
static size_t lex_newline(lexer_t *lx, size_t p)
{
  if (lx->nhd == 0)
    return p + 1;
  size_t cur = p + 1;
  for (int k = 0; k < lx->nhd && cur <= lx->n; k++) {
    size_t body = cur;
    for (;;) {
      if (cur >= lx->n) {
        emit_string(lx, body, lx->n);
        cur = lx->n;
        break;
      }
      const unsigned char *nl = memchr(lx->b + cur, '\n', lx->n - cur);
      size_t le = nl ? (size_t)(nl - lx->b) : lx->n;
      if (heredoc_closes(lx, &lx->hd[k], cur, le)) {
        emit_string(lx, body, cur);
        cur = le < lx->n ? le + 1 : lx->n;
        break;
      }
      cur = le < lx->n ? le + 1 : lx->n;
    }
  }
  lx->nhd = 0;
  /* hand back the newline ending the last closing line, if any */
  return (cur > p + 1 && cur <= lx->n && lx->b[cur - 1] == '\n') ? cur - 1
                                                                 : cur;
}

/* ---- Perl POD ---- */

static size_t lex_pod(lexer_t *lx, size_t p)
{
  if (p + 1 >= lx->n || !is_ident_start(lx->b[p + 1]))
    return NONE;
  size_t i = p;
  size_t cut = lx->n, end = lx->n;
  while (i < lx->n) {
    const unsigned char *nl = memchr(lx->b + i, '\n', lx->n - i);
    if (!nl)
      break;
    i = (size_t)(nl - lx->b) + 1;
    if (match_at(lx, i, "=cut", 4) &&
        (i + 4 == lx->n || !is_word(lx->b[i + 4]))) {
      cut = i;
      const unsigned char *e = memchr(lx->b + i, '\n', lx->n - i);
      end = e ? (size_t)(e - lx->b) : lx->n;
      break;
    }
  }
  emit_comment(lx, p, end, p + 1, cut,
               SCAN_COMMENT_BLOCK | SCAN_COMMENT_DOC |
                   (cut >= lx->n ? SCAN_COMMENT_UNTERMINATED : 0));
  return end > p ? end : p + 1;
}

/* ---- JS regular expressions ---- */

static bool regex_keyword_before(const lexer_t *lx, size_t e)
{
  static const char *const kw[] = {"return", "typeof", "instanceof", "in",
                                   "of",     "new",    "delete",     "void",
                                   "throw",  "case",   "do",         "else",
                                   "yield",  "await"};
  size_t s = e;
  while (s > 0 && is_word(lx->b[s - 1]))
    s--;
  for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++) {
    size_t k = strlen(kw[i]);
    if (e - s == k && memcmp(lx->b + s, kw[i], k) == 0)
      return true;
  }
  return false;
}

/* May a regex start at p (a '/' that opens no comment)? */
static bool regex_allowed(const lexer_t *lx, size_t p)
{
  size_t i = p;
  while (i > 0 && (is_blank(lx->b[i - 1]) || lx->b[i - 1] == '\n' ||
                   lx->b[i - 1] == '\r'))
    i--;
  if (i == 0)
    return true;
  unsigned char c = lx->b[i - 1];
  if (c && strchr("(,=:[!&|?{};+-*%<>~^", c))
    return true;
  return is_word(c) && regex_keyword_before(lx, i);
}

static size_t lex_regex(lexer_t *lx, size_t p)
{
  if (!regex_allowed(lx, p))
    return NONE;
  bool in_class = false;
  size_t i = p + 1;
  while (i < lx->n) {
    unsigned char c = lx->b[i];
    if (c == '\n' || c == '\r')
      return NONE; /* no closing slash on the line: a division */
    if (c == '\\') {
      i += 2;
      continue;
    }
    if (c == '[')
      in_class = true;
    else if (c == ']')
      in_class = false;
    else if (c == '/' && !in_class)
      break;
    i++;
  }
  if (i >= lx->n)
    return NONE;
  emit_string(lx, p + 1, i);
  return i + 1;
}

/* ---- code escapes and template braces ---- */

static size_t lex_skip(lexer_t *lx, size_t p)
{
  unsigned char c = lx->b[p];
  if (p + 1 >= lx->n)
    return lx->n;
  unsigned char next = lx->b[p + 1];
  if (c == '?' && (is_blank(next) || next == '\n' || next == '\r'))
    return p + 1; /* a ternary, not ?x */
  if ((c == '$' || c == '?') && next == '\\')
    return p + 3 <= lx->n ? p + 3 : lx->n;
  return p + 2;
}

static size_t lex_brace(lexer_t *lx, const scan_tok_t *t, size_t p)
{
  if (lx->ntpl == 0)
    return p + 1;
  int top = lx->ntpl - 1;
  if (t->kind == SCAN_TK_LBRACE) {
    lx->tpl_depth[top]++;
    return p + 1;
  }
  if (lx->tpl_depth[top] > 0) {
    lx->tpl_depth[top]--;
    return p + 1;
  }
  const scan_tok_t *tpl = lx->tpl_tok[top];
  lx->ntpl--;
  return lex_string_from(lx, tpl, p + 1);
}

/* ---- opener dispatch ---- */

static bool context_ok(const lexer_t *lx, const scan_tok_t *t, size_t p,
                       size_t olen)
{
  const unsigned char *b = lx->b;
  unsigned f = t->flags;
  unsigned char prev = p > 0 ? b[p - 1] : '\n';
  if ((f & SCAN_TF_COL1) && prev != '\n')
    return false;
  if ((f & SCAN_TF_BOL) && !at_bol(lx, p))
    return false;
  if ((f & SCAN_TF_WORDSTART) && !(prev && strchr(" \t\n\r;&|()", prev)))
    return false;
  if ((f & SCAN_TF_NOT_AFTER_OPERAND) &&
      (is_word(prev) || (prev && strchr(")]}.'", prev))))
    return false;
  if ((f & SCAN_TF_NOT_AFTER_DOLLAR) && prev == '$')
    return false;
  if ((f & SCAN_TF_KEYWORD) &&
      (is_word(prev) || (p + olen < lx->n && is_word(b[p + olen]))))
    return false;
  if ((f & SCAN_TF_NOT_BEFORE_BRACKET) && p + olen < lx->n &&
      b[p + olen] == '[')
    return false;
  if (f & SCAN_TF_HS_DASHES) {
    size_t i = p;
    while (i < lx->n && b[i] == '-')
      i++;
    if (i < lx->n && b[i] && strchr("!#$%&*+./<=>?@\\^|~:", b[i]))
      return false;
  }
  return true;
}

static bool opener_matches(const lexer_t *lx, const scan_tok_t *t, size_t p,
                           size_t olen)
{
  if (lx->n - p < olen)
    return false;
  if (t->flags & SCAN_TF_KEYWORD)
    return strncasecmp((const char *)lx->b + p, t->open, olen) == 0;
  return memcmp(lx->b + p, t->open, olen) == 0;
}

static size_t dispatch(lexer_t *lx, const scan_tok_t *t, size_t p)
{
  switch ((scan_tok_kind_t)t->kind) {
  case SCAN_TK_LINE: return lex_line_comment(lx, t, p);
  case SCAN_TK_BLOCK: return lex_block_comment(lx, t, p);
  case SCAN_TK_STR: return lex_string(lx, t, p);
  case SCAN_TK_CHAR: return lex_char(lx, t, p);
  case SCAN_TK_LONG_STR: return lex_long_string(lx, p);
  case SCAN_TK_LONG_CMT: return lex_long_comment(lx, t, p);
  case SCAN_TK_HEREDOC: return lex_heredoc(lx, t, p);
  case SCAN_TK_NEWLINE: return lex_newline(lx, p);
  case SCAN_TK_POD: return lex_pod(lx, p);
  case SCAN_TK_REGEX: return lex_regex(lx, p);
  case SCAN_TK_SKIP: return lex_skip(lx, p);
  case SCAN_TK_LBRACE:
  case SCAN_TK_RBRACE: return lex_brace(lx, t, p);
  case SCAN_TK_END: break;
  }
  return NONE;
}

/* At a classed byte: the first opener that takes it, else one byte on. */
static size_t try_openers(lexer_t *lx, size_t p)
{
  unsigned char c = lx->b[p];
  if (c == '"' && (lx->lang->flags & (SCAN_LF_RAW_CPP | SCAN_LF_RAW_RUST |
                                      SCAN_LF_RAW_HASH))) {
    size_t r = try_raw(lx, p);
    if (r != NONE)
      return r;
  }
  for (const scan_tok_t *t = lx->lang->toks; t->kind != SCAN_TK_END; t++) {
    unsigned char o = (unsigned char)t->open[0];
    if (o != c && !((t->flags & SCAN_TF_KEYWORD) && (o ^ 0x20) == c))
      continue;
    size_t olen = t->open_len;
    if (!opener_matches(lx, t, p, olen) || !context_ok(lx, t, p, olen))
      continue;
    size_t r = dispatch(lx, t, p);
    if (r != NONE)
      return r;
  }
  return p + 1;
}

/* The first byte at or after p that may start an opener (or n). With at
 * most 8 such bytes (most languages), 16 bytes are tested at a time. */
static size_t skip_code(const lexer_t *lx, size_t p)
{
  const unsigned char *b = lx->b;
  size_t n = lx->n;
  int nb = lx->nskip;
  if (nb > 0) {
    for (; p + 16 <= n; p += 16) {
      scan_v16 x = scan_v16_load(b + p);
      scan_v16 acc = (scan_v16)(x == lx->skip[0]);
      for (int k = 1; k < nb; k++)
        acc |= (scan_v16)(x == lx->skip[k]);
      uint64_t w[2];
      scan_v16_lanes(acc, w);
      if (w[0])
        return p + scan_lane_first(w[0]);
      if (w[1])
        return p + 8 + scan_lane_first(w[1]);
    }
  }
  const uint8_t *cls = lx->lang->cls->cls;
  while (p < n && !cls[b[p]])
    p++;
  return p;
}

static void lex_run(lexer_t *lx)
{
  size_t p = 0;
  while (!lx->stop) {
    p = skip_code(lx, p);
    if (p >= lx->n)
      break;
    p = try_openers(lx, p);
  }
}

static void lexer_init(lexer_t *lx, const struct scan_lang *lang,
                       const char *buf, size_t len)
{
  memset(lx, 0, sizeof *lx);
  lx->lang = lang;
  lx->b = (const unsigned char *)buf;
  lx->n = len;
  lx->lc_line = 1;
  lx->nskip = lang->cls->nbytes;
  for (int k = 0; k < lx->nskip; k++)
    lx->skip[k] = scan_v16_splat(lang->cls->bytes[k]);
}

int scan_lex_comments(const struct scan_lang *lang, const char *buf,
                      size_t len, scan_comment_fn fn, void *ud)
{
  lexer_t lx;
  if (!lang || !fn || (!buf && len))
    return -1;
  lexer_init(&lx, lang, buf, len);
  lx.fn = fn;
  lx.ud = ud;
  lex_run(&lx);
  return lx.fn_rc;
}

void scan_lex_blank(const struct scan_lang *lang, const char *buf, size_t len,
                    char *out)
{
  lexer_t lx;
  if (!lang || !buf || !out)
    return;
  memcpy(out, buf, len);
  lexer_init(&lx, lang, buf, len);
  lx.out = out;
  lex_run(&lx);
}
