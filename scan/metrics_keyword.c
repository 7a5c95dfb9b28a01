/*
 * metrics_keyword.c: functions of Ruby, Lua, shell and Elixir, on the
 * blanked buffer. Approximate by design: one token pass with a stack of
 * block openers and closers (metrics.h lists them).
 *
 * The dialect decides which closers count: a buffer whose lines start
 * with `fi`/`done`/`esac` more often than with `end` (or that has no
 * line starting with `end`) is read as shell: `end` is then an ordinary
 * word, `name() {` and `function name {` are functions whose body is the
 * brace group. Otherwise `end` closes and fi/done/esac are ordinary words.
 *
 * Statement start: after a newline, `;`, `(`, `{`, `|`, `&&`, `||`, `=`,
 * and the words then/do/else/elsif/elseif/elif/begin/in. `if`/`unless`
 * open a block there only (elsewhere they are Ruby modifiers, still a
 * decision); `while`/`until`/`for` likewise, and a following `do` on the
 * same line or starting the next one belongs to them (Lua `while x do`,
 * shell `for f in *; do`) instead of opening its own block. Elixir's
 * `def f(x) do` attaches the same way, and `def f(x), do: x` (like
 * Ruby's endless `def f(x) = x`) is a one-line function.
 */
#include <stddef.h>
#include <string.h>

#include "scan/metrics_int.h"

/* frame.tag: what opened the block */
enum {
  K_OTHER = 0, /* do, begin, class, module, fn, Lua function: `end` */
  K_LOOP,      /* while/until/for: a `do` may attach */
  K_ATTACH,    /* if/unless/case/def: an Elixir `do` may attach */
  K_REPEAT,    /* Lua repeat ... until */
  K_BRACE,     /* { ... } (shell function bodies too) */
};

static const char *const decision_words[] = {
  "elsif", "elseif", "elif", "when", "rescue", "and", "or", "catch", NULL,
};
static const char *const statement_words[] = {
  "then", "do", "else", "elsif", "elseif", "elif", "begin", "in", NULL,
};

struct kctx {
  metrics_ctx_t *m;
  bool shell;
  uint32_t line;
  bool stmt; /* at a statement start */
};

/* strchr(set, ch) without its match on the terminating NUL */
static bool in_set(char ch, const char *set)
{
  return ch != 0 && strchr(set, ch) != NULL;
}

static bool is_blank(char ch)
{
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f';
}

static size_t skip_blank(const char *c, size_t i, size_t len)
{
  while (i < len && is_blank(c[i]))
    i++;
  return i;
}

static size_t word_end(const char *c, size_t i, size_t len)
{
  while (i < len && metrics__word_char((unsigned char)c[i]))
    i++;
  return i;
}

static bool word_eq(const char *p, size_t n, const char *w)
{
  return n == strlen(w) && memcmp(p, w, n) == 0;
}

/* ---- dialect ---- */

static bool shell_dialect(const char *c, size_t len)
{
  size_t shell = 0, end = 0, i = 0;
  while (i < len) {
    size_t s = skip_blank(c, i, len), e = word_end(c, s, len);
    if (word_eq(c + s, e - s, "end"))
      end++;
    else if (word_eq(c + s, e - s, "fi") || word_eq(c + s, e - s, "done") ||
             word_eq(c + s, e - s, "esac"))
      shell++;
    const char *nl = memchr(c + e, '\n', len - e);
    i = nl ? (size_t)(nl - c) + 1 : len;
  }
  return end == 0 || shell > end;
}

/* ---- blocks ---- */

static void push_block(struct kctx *k, uint8_t tag, const metrics_fn_t *fn)
{
  if (metrics__push(k->m, fn ? MF_FUNC : MF_BLOCK, fn, k->line) == 0)
    metrics__top(k->m)->tag = tag;
}

/* `end`/`fi`/`done`/`esac`: close the innermost non-brace block. */
static void close_word(struct kctx *k)
{
  metrics_ctx_t *m = k->m;
  size_t n = m->nframes;
  while (n > 0 && m->frames[n - 1].tag == K_BRACE)
    n--;
  if (n == 0)
    return; /* a stray closer */
  while (m->nframes >= n && !m->stop)
    metrics__pop(m, k->line);
}

static void close_brace(struct kctx *k)
{
  metrics_ctx_t *m = k->m;
  size_t n = m->nframes;
  while (n > 0 && m->frames[n - 1].tag != K_BRACE)
    n--;
  if (n == 0)
    return;
  while (m->nframes >= n && !m->stop)
    metrics__pop(m, k->line);
}

/* ---- functions ---- */

/* Count the newlines of [from, to) into the current line. */
static void pass_lines(struct kctx *k, size_t from, size_t to)
{
  for (size_t i = from; i < to; i++)
    k->line += k->m->code[i] == '\n';
}

static bool starts_with(const char *c, size_t i, size_t len, const char *lit)
{
  size_t n = strlen(lit);
  return i + n <= len && memcmp(c + i, lit, n) == 0;
}

static size_t params_at(const char *c, size_t i, size_t len, uint32_t *params)
{
  size_t close = metrics__match_paren(c, i, len);
  if (close == (size_t)-1)
    return i + 1;
  *params = metrics__count_params(c, i, close, SCAN_FAMILY_KEYWORD);
  return close + 1;
}

/* Ruby `def foo a, b`: parameters up to the end of the line. */
static size_t bare_params(const char *c, size_t i, size_t len, uint32_t *params)
{
  size_t e = i;
  while (e < len && c[e] != '\n' && c[e] != ';')
    e++;
  size_t s = skip_blank(c, i, e);
  if (s < e) {
    *params = 1;
    for (size_t j = s; j < e; j++)
      *params += c[j] == ',';
  }
  return e;
}

/* `def name(params)` (Ruby, Elixir def/defp/defmacro) after the keyword
 * at @p kw, which ends at @p i. Returns where to go on. */
static size_t ruby_def(struct kctx *k, size_t i)
{
  const char *c = k->m->code;
  size_t len = k->m->len;
  size_t n = skip_blank(c, i, len), ne = n;
  while (ne < len && !is_blank(c[ne]) && c[ne] != '(' && c[ne] != ';' &&
         c[ne] != '\n' && c[ne] != ',')
    ne++;
  metrics_fn_t fn = {.name = c + n, .name_len = ne - n, .line = k->line};
  size_t p = ne, b = skip_blank(c, ne, len);
  if (p < len && c[p] == '(')
    p = params_at(c, p, len, &fn.params);
  else if (b > p && b < len && c[b] != '=' && !starts_with(c, b, len, "do"))
    p = bare_params(c, p, len, &fn.params); /* def foo a, b */
  size_t q = skip_blank(c, p, len);
  bool endless = q + 1 < len && c[q] == '=' && c[q + 1] != '=';
  bool elixir_short = q < len && c[q] == ',' &&
                      starts_with(c, skip_blank(c, q + 1, len), len, "do:");
  push_block(k, K_ATTACH, &fn);
  pass_lines(k, ne, p);
  if (endless || elixir_short)
    metrics__pop(k->m, k->line);
  return p;
}

/* `local f = function`: the name before @p kw, if any. */
static void lua_assigned_name(const char *c, size_t kw, metrics_fn_t *fn)
{
  size_t p = kw;
  while (p > 0 && is_blank(c[p - 1]))
    p--;
  if (p == 0 || c[p - 1] != '=' || (p > 1 && in_set(c[p - 2], "=~<>")))
    return;
  p--;
  while (p > 0 && is_blank(c[p - 1]))
    p--;
  size_t e = p;
  while (p > 0 && (metrics__word_char((unsigned char)c[p - 1]) || c[p - 1] == '.'))
    p--;
  if (p < e) {
    fn->name = c + p;
    fn->name_len = e - p;
  }
}

/* `function name(params)` (Lua) or `function name [()] {` (shell). */
static size_t function_kw(struct kctx *k, size_t kw, size_t i)
{
  const char *c = k->m->code;
  size_t len = k->m->len;
  size_t n = skip_blank(c, i, len), ne = n;
  while (ne < len && (metrics__word_char((unsigned char)c[ne]) || in_set(c[ne], ".:-")))
    ne++;
  metrics_fn_t fn = {.name = c + n, .name_len = ne - n, .line = k->line};
  if (ne == n)
    lua_assigned_name(c, kw, &fn);
  size_t p = skip_blank(c, ne, len);
  if (p < len && c[p] == '(')
    p = params_at(c, p, len, &fn.params);
  size_t q = p;
  while (q < len && (is_blank(c[q]) || c[q] == '\n'))
    q++;
  if (q < len && c[q] == '{') { /* a shell function: the braces are its body */
    fn.params = 0;
    push_block(k, K_BRACE, &fn);
    pass_lines(k, ne, q);
    k->stmt = true;
    return q + 1;
  }
  if (!k->shell)
    push_block(k, K_OTHER, &fn);
  pass_lines(k, ne, p);
  return p;
}

/* Shell `name() {` at a statement start; returns where to go on, or 0. */
static size_t shell_function(struct kctx *k, size_t s, size_t e)
{
  const char *c = k->m->code;
  size_t len = k->m->len;
  size_t p = skip_blank(c, e, len);
  if (p >= len || c[p] != '(')
    return 0;
  p = skip_blank(c, p + 1, len);
  if (p >= len || c[p] != ')')
    return 0;
  size_t q = p + 1;
  while (q < len && (is_blank(c[q]) || c[q] == '\n'))
    q++;
  if (q >= len || c[q] != '{')
    return 0;
  metrics_fn_t fn = {.name = c + s, .name_len = e - s, .line = k->line};
  push_block(k, K_BRACE, &fn);
  pass_lines(k, p, q);
  p = q;
  k->stmt = true;
  return p + 1;
}

/* ---- words ---- */

/* `do`: attach to a loop/def/if opened on this line (or the line before
 * when `do` starts its line), else open a block; `do:` ends a one-liner. */
static void do_word(struct kctx *k, bool colon)
{
  metrics_frame_t *top = metrics__top(k->m);
  bool attachable = top && !top->attached &&
                    (top->tag == K_LOOP || top->tag == K_ATTACH) &&
                    (top->line == k->line || (k->stmt && top->line + 1 == k->line));
  if (colon) {
    if (attachable && top->line == k->line)
      metrics__pop(k->m, k->line);
    return;
  }
  if (attachable)
    top->attached = true;
  else
    push_block(k, K_OTHER, NULL);
}

/* Block words; returns true when @p w was one. */
static bool block_word(struct kctx *k, const char *w, size_t n, bool colon)
{
  bool stmt = k->stmt;
  if (word_eq(w, n, "if") || word_eq(w, n, "unless")) {
    metrics__decision(k->m, 1);
    if (stmt)
      push_block(k, K_ATTACH, NULL);
  } else if (word_eq(w, n, "while") || word_eq(w, n, "for") ||
             (word_eq(w, n, "until") && !(metrics__top(k->m) &&
                                          metrics__top(k->m)->tag == K_REPEAT))) {
    metrics__decision(k->m, 1);
    if (stmt)
      push_block(k, K_LOOP, NULL);
  } else if (word_eq(w, n, "until")) {
    metrics__pop(k->m, k->line); /* Lua repeat ... until */
  } else if (word_eq(w, n, "do")) {
    do_word(k, colon);
  } else if (word_eq(w, n, "case") && stmt) {
    push_block(k, K_ATTACH, NULL);
  } else if (!k->shell && (word_eq(w, n, "begin") || word_eq(w, n, "fn") ||
                           ((word_eq(w, n, "class") || word_eq(w, n, "module")) && stmt))) {
    push_block(k, K_OTHER, NULL);
  } else if (!k->shell && word_eq(w, n, "repeat")) {
    push_block(k, K_REPEAT, NULL);
  } else if ((!k->shell && word_eq(w, n, "end")) ||
             (k->shell && stmt && (word_eq(w, n, "fi") || word_eq(w, n, "done") ||
                                    word_eq(w, n, "esac")))) {
    close_word(k);
  } else {
    return false;
  }
  return true;
}

/* Can the word [s, e) be a keyword here (not obj.end, :if, if:, $do)? */
static bool keyword_position(const char *c, size_t s, size_t e, size_t len)
{
  char before = s > 0 ? c[s - 1] : ' ';
  char after = e < len ? c[e] : ' ';
  bool scope = after == ':' && e + 1 < len && c[e + 1] == ':';
  return before != '.' && before != '$' && before != '@' && before != ':' &&
         after != '?' && after != '!' && (after != ':' || scope);
}

/* A word at @p s; returns where to go on. */
static size_t word(struct kctx *k, size_t s)
{
  const char *c = k->m->code;
  size_t len = k->m->len, e = word_end(c, s, len);
  const char *w = c + s;
  size_t n = e - s;
  bool do_colon = word_eq(w, n, "do") && e < len && c[e] == ':';
  if (!keyword_position(c, s, e, len) && !do_colon) {
    k->stmt = false;
    return e;
  }
  if (k->shell && k->stmt) {
    size_t next = shell_function(k, s, e);
    if (next)
      return next;
  }
  size_t next = e;
  if (!k->shell && (word_eq(w, n, "def") || word_eq(w, n, "defp") ||
                    word_eq(w, n, "defmacro")))
    next = ruby_def(k, e);
  else if (word_eq(w, n, "function"))
    next = function_kw(k, s, e);
  else if (!block_word(k, w, n, do_colon) && metrics__word_in(w, n, decision_words))
    metrics__decision(k->m, 1);
  if (next != e)
    return next;
  k->stmt = metrics__word_in(w, n, statement_words);
  return e;
}

/* `${...}`: a shell expansion, not a block. */
static size_t skip_expansion(const char *c, size_t i, size_t len)
{
  int depth = 0;
  for (; i < len && c[i] != '\n'; i++) {
    if (c[i] == '{')
      depth++;
    else if (c[i] == '}' && --depth == 0)
      return i + 1;
  }
  return i;
}

/* One punctuation character (or pair) at @p i; returns where to go on. */
static size_t punct(struct kctx *k, size_t i)
{
  const char *c = k->m->code;
  size_t len = k->m->len;
  char ch = c[i], next = i + 1 < len ? c[i + 1] : 0;
  bool stmt = false;
  size_t adv = 1;
  if ((ch == '&' || ch == '|' || ch == ';') && next == ch) {
    metrics__decision(k->m, 1); /* && || and shell case arms ;; */
    stmt = true;
    adv = 2;
  } else if (ch == '{' && i > 0 && c[i - 1] == '$') {
    adv = skip_expansion(c, i, len) - i;
  } else if (ch == '{') {
    push_block(k, K_BRACE, NULL);
    stmt = true;
  } else if (ch == '}') {
    close_brace(k);
  } else if (ch == '?' && i > 0 && is_blank(c[i - 1]) && is_blank(next)) {
    metrics__decision(k->m, 1);
  } else if (ch == '=') {
    stmt = next != '=' && next != '~' && !(i > 0 && in_set(c[i - 1], "=!<>"));
  } else {
    stmt = ch == ';' || ch == '(' || ch == '|';
  }
  k->stmt = stmt;
  return i + adv;
}

void metrics__keyword(metrics_ctx_t *m)
{
  struct kctx k = {.m = m, .shell = shell_dialect(m->code, m->len), .line = 1,
                   .stmt = true};
  const char *c = m->code;
  size_t len = m->len, i = 0;
  while (i < len && !m->stop && !m->oom) {
    char ch = c[i];
    if (ch == '\n') {
      k.line++;
      k.stmt = true;
      i++;
    } else if (is_blank(ch) || ch == '\\') {
      i++;
    } else if (metrics__word_char((unsigned char)ch)) {
      i = word(&k, i);
    } else {
      i = punct(&k, i);
    }
  }
  metrics__finish(m, len && c[len - 1] == '\n' ? k.line - 1 : k.line);
}
