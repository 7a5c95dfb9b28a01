/*
 * metrics_brace.c: functions of brace languages (C, C++, Java, JS/TS, Go,
 * Rust, C#, PHP, Kotlin, Swift, ...), on the blanked buffer.
 *
 * One forward pass keeps the frame stack (metrics_int.h): `{` opens a
 * frame, `}` closes one, decision tokens go to the innermost function.
 * What a `{` opens is decided by looking backwards from it, at most
 * SIG_WINDOW bytes, in two steps:
 *   1. the signature walk (classify/walk): from the brace back over
 *      qualifiers and return types (`const`, `throws X`, `-> T`, `: T`,
 *      Go result lists, C++ constructor initialisers, K&R declarations,
 *      generic arguments) to a parameter list `name(...)`; special first
 *      tokens: `=>` (arrow function), `->` (Java lambda), `|..|` (Rust
 *      closure), `]` (C++ lambda or array literal), `=` (initialiser).
 *      A control word on the way (if for while switch catch else do try
 *      match ...) makes it a block, a container word (class struct
 *      namespace impl trait interface ...) a container.
 *   2. the prefix walk: from the name back to the start of its statement
 *      (`;`, `{`, `}`, a line that ends a statement, PREFIX_WINDOW),
 *      looking for a function word (function func fn fun def), a control
 *      word, a container word or `new` (anonymous class).
 * Inside a function body, `name(...) {` without a function word is a
 * block (macro loops such as list_for_each(...) { }); directly inside a
 * container or an object literal it is a method.
 *
 * Preprocessor: lines starting with `#if`, `#ifdef`, `#ifndef` open a
 * condition whose first branch is read; `#elif`/`#else` branches are
 * skipped to `#endif`, so `#if A int f(x) { #else int f(x, y) { #endif`
 * opens one brace, not two. Directive lines themselves are skipped.
 */
#include <stddef.h>
#include <string.h>

#include "scan/metrics_int.h"

#define SIG_WINDOW 1024   /* longest signature looked at, in bytes */
#define PREFIX_WINDOW 512 /* longest statement prefix looked at */
#define PP_MAX_DEPTH 64   /* #if nesting followed (deeper: not skipped) */

/* frame.tag bits */
#define TAG_IN_FN 0x01u /* `name(...) {` here is a block (macro loop) */
#define TAG_MATCH 0x02u /* a `match x {` block: `pat => {` are arms */

typedef ptrdiff_t pos_t;

static const char *const control_words[] = {
  "if", "else", "for", "while", "do", "switch", "try", "catch", "finally",
  "match", "loop", "unsafe", "return", "case", "default", "select", "defer",
  "synchronized", "lock", "using", "foreach", "when", "guard", "repeat",
  "with", "elif", "unless", "until", "checked", "unchecked", "fixed", NULL,
};
static const char *const container_words[] = {
  "class", "struct", "union", "enum", "namespace", "interface", "trait",
  "impl", "module", "mod", "object", "extension", "protocol", "record",
  "extern", NULL,
};
/* container words that are also return types: struct foo *f(void) { */
static const char *const type_words[] = {"struct", "union", "enum", NULL};
static const char *const fn_words[] = {
  "function", "func", "fn", "fun", "def", "sub", NULL,
};

/* What the backward look found. */
struct sig {
  uint8_t kind;        /* MF_* */
  bool explicit_fn;    /* a function word, a lambda or an arrow said so */
  pos_t name, name_len; /* name < 0: anonymous */
  pos_t popen, pclose;  /* parameter list; popen < 0: none */
  uint32_t fixed_params; /* when there is no list (x => {...}) */
  pos_t start;          /* where the function starts (its line) */
};

struct bctx {
  const char *c;
  pos_t lo; /* lowest position the walks may look at */
};

static bool wc(const struct bctx *b, pos_t p)
{
  return p >= b->lo && metrics__word_char((unsigned char)b->c[p]);
}

/* strchr(set, ch) without its match on the terminating NUL */
static bool in_set(char ch, const char *set)
{
  return ch != 0 && strchr(set, ch) != NULL;
}

static bool is_space(char ch)
{
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' ||
         ch == '\v' || ch == '\\';
}

static pos_t back_ws(const struct bctx *b, pos_t p)
{
  while (p >= b->lo && is_space(b->c[p]))
    p--;
  return p;
}

/* First position of the word that ends at @p p. */
static pos_t word_start(const struct bctx *b, pos_t p)
{
  while (p > b->lo && metrics__word_char((unsigned char)b->c[p - 1]))
    p--;
  return p;
}

static bool word_is(const struct bctx *b, pos_t s, pos_t e,
                    const char *const *words)
{
  return metrics__word_in(b->c + s, (size_t)(e - s + 1), words);
}

static bool word_eq(const struct bctx *b, pos_t s, pos_t e, const char *w)
{
  const char *const one[] = {w, NULL};
  return word_is(b, s, e, one);
}

/* The opener matching the closer at @p p, or -1. */
static pos_t match_back(const struct bctx *b, pos_t p, char open, char close)
{
  int depth = 0;
  for (; p >= b->lo; p--) {
    if (b->c[p] == close)
      depth++;
    else if (b->c[p] == open && --depth == 0)
      return p;
  }
  return -1;
}

/* The '<' matching the '>' at @p p (not across ; { }), or -1. */
static pos_t match_angle_back(const struct bctx *b, pos_t p)
{
  int depth = 0;
  for (; p >= b->lo; p--) {
    char ch = b->c[p];
    if (ch == '>' && !(p > b->lo && (b->c[p - 1] == '-' || b->c[p - 1] == '=')))
      depth++;
    else if (ch == '<' && --depth == 0)
      return p;
    else if (ch == ';' || ch == '{' || ch == '}')
      return -1;
  }
  return -1;
}

static bool plain_assignment(const struct bctx *b, pos_t p)
{
  return b->c[p] == '=' && !(p > b->lo && in_set(b->c[p - 1], "=!<>"));
}

/* Does the statement that ends at @p p hold the word @p w? */
static bool statement_has(const struct bctx *b, pos_t p, const char *w)
{
  while (p >= b->lo) {
    char ch = b->c[p];
    if (ch == ';' || ch == '{' || ch == '}')
      return false;
    if (wc(b, p)) {
      pos_t ws = word_start(b, p);
      if (word_eq(b, ws, p, w))
        return true;
      p = ws - 1;
    } else {
      p--;
    }
  }
  return false;
}

/* ---- names ---- */

/* Extend a name back over `~` and `Qualifier::` (C++, Rust paths). */
static pos_t qualify(const struct bctx *b, pos_t s)
{
  for (;;) {
    if (s - 1 >= b->lo && b->c[s - 1] == '~') {
      s--;
      continue;
    }
    if (s - 3 >= b->lo && b->c[s - 1] == ':' && b->c[s - 2] == ':') {
      pos_t e = s - 3;
      if (b->c[e] == '>') {
        pos_t a = match_angle_back(b, e);
        e = a > b->lo ? a - 1 : -1;
      }
      if (e >= b->lo && wc(b, e)) {
        s = word_start(b, e);
        continue;
      }
    }
    return s;
  }
}

/* `name = function(`, `name: function(`, `name := func(`, `name = (a) =>`:
 * the name before the function at @p start, if any. */
static void assigned_name(const struct bctx *b, pos_t start, struct sig *s)
{
  pos_t p = back_ws(b, start - 1);
  if (wc(b, p) && word_eq(b, word_start(b, p), p, "async"))
    p = back_ws(b, word_start(b, p) - 1);
  if (p < b->lo || !(b->c[p] == ':' || plain_assignment(b, p)))
    return;
  if (b->c[p] == '=' && p > b->lo && b->c[p - 1] == ':')
    p--; /* := */
  else if (b->c[p] == ':' && p > b->lo && b->c[p - 1] == ':')
    return;
  p = back_ws(b, p - 1);
  if (!wc(b, p))
    return;
  s->name = word_start(b, p);
  s->name_len = p - s->name + 1;
}

static void set_anonymous(struct sig *s, pos_t popen, pos_t pclose, pos_t start)
{
  s->kind = MF_FUNC;
  s->explicit_fn = true;
  s->popen = popen;
  s->pclose = pclose;
  s->start = start;
}

/* ---- the prefix walk ---- */

/* Has the line before the newline at @p p ended a statement? */
static bool line_ends_statement(const struct bctx *b, pos_t p)
{
  pos_t q = p - 1;
  while (q >= b->lo && (b->c[q] == ' ' || b->c[q] == '\t' || b->c[q] == '\r'))
    q--;
  return q < b->lo || wc(b, q) || in_set(b->c[q], ")]};{\"'");
}

/* `<class T>` and `<typename A, class B>`: not a class. */
static bool template_param(const struct bctx *b, pos_t ws)
{
  pos_t p = back_ws(b, ws - 1);
  return p >= b->lo && (b->c[p] == '<' || b->c[p] == ',');
}

/* Classify by the words before the name starting at @p name. */
static void prefix_check(const struct bctx *b, pos_t name, struct sig *s)
{
  struct bctx pb = {b->c, name - PREFIX_WINDOW > b->lo ? name - PREFIX_WINDOW : b->lo};
  pos_t p = name - 1;
  while (p >= pb.lo) {
    char ch = pb.c[p];
    if (ch == '\n' && line_ends_statement(&pb, p))
      return;
    if (is_space(ch)) {
      p--;
    } else if (wc(&pb, p)) {
      pos_t ws = word_start(&pb, p);
      if (word_is(&pb, ws, p, fn_words)) {
        s->explicit_fn = true;
        return;
      }
      if (word_is(&pb, ws, p, control_words)) {
        s->kind = MF_BLOCK;
        return;
      }
      if ((word_is(&pb, ws, p, container_words) &&
           !word_is(&pb, ws, p, type_words) && !template_param(&pb, ws)) ||
          word_eq(&pb, ws, p, "new")) {
        s->kind = MF_CONTAINER;
        return;
      }
      p = ws - 1;
    } else if (ch == ')' || ch == ']') {
      p = match_back(&pb, p, ch == ')' ? '(' : '[', ch) - 1;
      if (p < pb.lo - 1)
        return;
    } else if (ch == '>' && !(p > pb.lo && in_set(pb.c[p - 1], "-="))) {
      pos_t a = match_angle_back(&pb, p); /* template <typename A, typename B> */
      p = a < 0 ? p - 1 : a - 1;
    } else if (ch == ';' || ch == '{' || ch == '}') {
      return;
    } else if (ch == '(' || ch == ',' || plain_assignment(&pb, p)) {
      s->kind = MF_BLOCK;
      return;
    } else {
      p--;
    }
  }
}

/* ---- the signature walk ---- */

/* `operator==(` and friends: the start of "operator" or -1. */
static pos_t operator_name(const struct bctx *b, pos_t q)
{
  for (pos_t k = q; k >= b->lo && q - k < 4; k--)
    if (wc(b, k))
      return word_eq(b, word_start(b, k), k, "operator") ? word_start(b, k) : -1;
  return -1;
}

/* Is the ')' at @p r the end of a Go receiver, `func (r *T)`? */
static bool go_receiver(const struct bctx *b, pos_t r)
{
  pos_t o = match_back(b, r, '(', ')');
  pos_t q = o < 0 ? -1 : back_ws(b, o - 1);
  return wc(b, q) && word_eq(b, word_start(b, q), q, "func");
}

/* A name before the parameter list [o, p]; the name's last char is q. */
static bool named_function(const struct bctx *b, pos_t o, pos_t p, pos_t q,
                           struct sig *s, pos_t *next)
{
  pos_t ws = word_start(b, q);
  if (word_is(b, ws, q, control_words)) {
    s->kind = MF_BLOCK;
    return true;
  }
  if (word_is(b, ws, q, fn_words)) { /* function (a) {, func(a int) { */
    set_anonymous(s, o, p, ws);
    assigned_name(b, ws, s);
    return true;
  }
  pos_t r = back_ws(b, ws - 1);
  bool single_colon = r >= b->lo && b->c[r] == ':' && !(r > b->lo && b->c[r - 1] == ':');
  if (word_eq(b, ws, q, "use")) {
    *next = r; /* PHP: function (...) use (...) { */
    return false;
  }
  if (((r >= b->lo && b->c[r] == ',') || single_colon) &&
      back_ws(b, r - 1) >= b->lo && b->c[back_ws(b, r - 1)] == ')') {
    *next = back_ws(b, r - 1); /* C++ initialisers `(..) : a(1), b(2) {` */
    return false;
  }
  if (r >= b->lo && b->c[r] == ')' && !go_receiver(b, r)) {
    *next = r; /* f(args) __releases(x) { : an annotation after the list */
    return false;
  }
  if (r >= b->lo && b->c[r] == '.') {
    s->kind = MF_BLOCK; /* obj.method(x) { : a call with a trailing block */
    return true;
  }
  s->kind = MF_FUNC;
  s->name = qualify(b, ws);
  s->name_len = q - s->name + 1;
  s->popen = o;
  s->pclose = p;
  s->start = s->name;
  prefix_check(b, s->name, s);
  return true;
}

/* A ')' on the walk: a parameter list, or something to walk past.
 * Returns true when the classification is final; else *next is where the
 * walk goes on. */
static bool paren_group(const struct bctx *b, pos_t p, struct sig *s, pos_t *next)
{
  pos_t o = match_back(b, p, '(', ')');
  pos_t q = o < 0 ? -1 : back_ws(b, o - 1);
  if (q < b->lo)
    return true; /* a block */
  char qc = b->c[q];
  if (qc == '>' && !(q > b->lo && (b->c[q - 1] == '-' || b->c[q - 1] == '='))) {
    pos_t a = match_angle_back(b, q); /* f<T>(...) */
    q = a < 0 ? -1 : back_ws(b, a - 1);
    if (!wc(b, q))
      return true;
    qc = b->c[q];
  }
  if (wc(b, q))
    return named_function(b, o, p, q, s, next);
  if (qc == ')') { /* Go: func (r R) name(args) (results) { */
    *next = q;
    return false;
  }
  if (qc == ']') { /* C++ lambda [&](int x) {, named by `auto f =` */
    pos_t lb = match_back(b, q, '[', ']');
    set_anonymous(s, o, p, lb < 0 ? o : lb);
    if (lb >= 0)
      assigned_name(b, lb, s);
    return true;
  }
  pos_t op = operator_name(b, q);
  if (op >= 0) {
    s->kind = MF_FUNC;
    s->name = s->start = qualify(b, op);
    s->name_len = q - s->name + 1;
    s->popen = o;
    s->pclose = p;
  }
  return true;
}

/* Scala `def f(x: Int): Int = {`: is there a def before the '=' at p? */
static bool scala_def(const struct bctx *b, pos_t p, struct sig *s)
{
  pos_t q = back_ws(b, p - 1);
  while (q >= b->lo && (wc(b, q) || in_set(b->c[q], ":[]. ")))
    q--;
  if (q < b->lo || b->c[q] != ')')
    return false;
  pos_t o = match_back(b, q, '(', ')');
  pos_t n = o < 0 ? -1 : back_ws(b, o - 1);
  if (!wc(b, n))
    return false;
  pos_t ws = word_start(b, n);
  pos_t d = back_ws(b, ws - 1);
  if (!wc(b, d) || !word_eq(b, word_start(b, d), d, "def"))
    return false;
  set_anonymous(s, o, q, ws);
  s->name = ws;
  s->name_len = n - ws + 1;
  return true;
}

/* The walk from the last token before the brace. */
static void walk(const struct bctx *b, pos_t p, struct sig *s)
{
  bool first = true;
  for (; p >= b->lo; first = false) {
    char ch = b->c[p];
    if (ch == ')') {
      pos_t next = -1;
      if (paren_group(b, p, s, &next))
        return;
      p = next;
    } else if (wc(b, p)) {
      pos_t ws = word_start(b, p);
      if (word_eq(b, ws, p, "for") && statement_has(b, ws - 1, "impl")) {
        s->kind = MF_CONTAINER; /* impl Trait for Type { */
        return;
      }
      if (word_eq(b, ws, p, "return")) {
        s->kind = MF_LITERAL; /* return Point{1, 2}, return &T{} */
        return;
      }
      if (word_is(b, ws, p, control_words))
        return;
      if (word_is(b, ws, p, container_words) || word_eq(b, ws, p, "new")) {
        s->kind = first && word_eq(b, ws, p, "new") ? MF_LITERAL : MF_CONTAINER;
        return;
      }
      p = back_ws(b, ws - 1);
    } else if (ch == '>' && p > b->lo && b->c[p - 1] == '-') {
      p = back_ws(b, p - 2); /* -> T */
    } else if (ch == '>' && !(p > b->lo && b->c[p - 1] == '=')) {
      pos_t a = match_angle_back(b, p);
      if (a < 0)
        return;
      p = back_ws(b, a - 1);
    } else if (ch == '=') {
      if (!plain_assignment(b, p)) {
        p = back_ws(b, p - 2); /* == != <= >= in a condition */
        continue;
      }
      if (first && scala_def(b, p, s))
        return;
      s->kind = statement_has(b, p, "if") || statement_has(b, p, "for") ||
                        statement_has(b, p, "while")
                    ? MF_BLOCK
                    : MF_LITERAL;
      return;
    } else if (ch == '(' || (first && (ch == ',' || ch == '[' || ch == ':'))) {
      s->kind = MF_LITERAL; /* f({ ... }), [a, { ... }], key: { ... } */
      if (ch == ':' && (statement_has(b, p, "case") || statement_has(b, p, "default")))
        s->kind = MF_BLOCK;
      return;
    } else if (in_set(ch, "*&,.:<[]?'\"!|^%+-/~#@")) {
      p = back_ws(b, p - 1);
    } else {
      return; /* ; { } and anything else: a block */
    }
  }
}

/* TypeScript `(a): Promise<T> =>`: the ')' before the return type that
 * ends at @p q, or -1. */
static pos_t before_return_type(const struct bctx *b, pos_t q)
{
  pos_t p = q;
  while (p >= b->lo && (wc(b, p) || in_set(b->c[p], "<>[].,|&? \t")))
    p--;
  if (p < b->lo || b->c[p] != ':')
    return -1;
  pos_t r = back_ws(b, p - 1);
  return r >= b->lo && b->c[r] == ')' ? r : -1;
}

/* `(a, b) => {`, `x => {`, `async (a): T => {` at the '=' of "=>". */
static void arrow(const struct bctx *b, pos_t eq, struct sig *s)
{
  pos_t q = back_ws(b, eq - 1);
  if (q >= b->lo && b->c[q] != ')') { /* a return type or a single parameter */
    pos_t r = before_return_type(b, q);
    if (r >= 0) {
      q = r;
    } else if (wc(b, q)) {
      pos_t ws = word_start(b, q);
      set_anonymous(s, -1, -1, ws);
      s->fixed_params = 1;
      assigned_name(b, ws, s);
      return;
    }
  }
  if (q < b->lo || b->c[q] != ')')
    return;
  pos_t o = match_back(b, q, '(', ')');
  pos_t before = o < 0 ? -1 : back_ws(b, o - 1);
  if (o < 0 || (wc(b, before) && !word_eq(b, word_start(b, before), before, "async")))
    return; /* Some(x) => { : a match arm */
  set_anonymous(s, o, q, o);
  assigned_name(b, o, s);
}

/* Java `(a, b) -> {` / `x -> {` at the '-' of "->"; not a `case X -> {`. */
static void java_lambda(const struct bctx *b, pos_t dash, struct sig *s)
{
  pos_t q = back_ws(b, dash - 1), o = -1, start;
  if (q < b->lo)
    return;
  if (b->c[q] == ')') {
    o = match_back(b, q, '(', ')');
    if (o < 0)
      return;
    start = o;
  } else if (wc(b, q)) {
    start = word_start(b, q);
  } else {
    return;
  }
  pos_t r = back_ws(b, start - 1);
  bool lambda_context = r >= b->lo && (in_set(b->c[r], "(,=:") ||
                                       (wc(b, r) && word_eq(b, word_start(b, r), r, "return")));
  if (!lambda_context)
    return;
  set_anonymous(s, o, o < 0 ? -1 : q, start);
  s->fixed_params = o < 0 ? 1 : 0;
}

/* Rust closures `|a, b| {`, `|| {`, `move || {`. */
static void closure(const struct bctx *b, pos_t bar, struct sig *s)
{
  pos_t o = bar - 1;
  while (o >= b->lo && b->c[o] != '|' && b->c[o] != '\n')
    o--;
  if (o < b->lo || b->c[o] != '|')
    return;
  pos_t r = back_ws(b, o - 1);
  bool ok = r >= b->lo && (in_set(b->c[r], "(,=") ||
                           (wc(b, r) && word_eq(b, word_start(b, r), r, "move")));
  if (!ok)
    return; /* a || { : an object literal after a logical or */
  set_anonymous(s, o, bar, o);
}

/* `]` before `{`: `[&] {` lambda, `int[] {` / `new[] {` array literal. */
static void bracket(const struct bctx *b, pos_t p, struct sig *s)
{
  pos_t o = match_back(b, p, '[', ']');
  if (o < 0)
    return;
  pos_t q = back_ws(b, o - 1);
  if (wc(b, q) && !word_eq(b, word_start(b, q), q, "return")) {
    s->kind = MF_LITERAL;
    return;
  }
  set_anonymous(s, -1, -1, o);
}

/* K&R: `int f(a, b) int a; char *b; {` at file level, p at the last ';'.
 * Returns the ')' of the parameter list, or -1. */
static pos_t knr_params(const struct bctx *b, pos_t p)
{
  bool typed = false; /* at least one "type name" pair */
  for (; p >= b->lo; p--) {
    char ch = b->c[p];
    if (ch == ')')
      return typed ? p : -1;
    if (wc(b, p) && !wc(b, p - 1)) {
      pos_t q = back_ws(b, p - 1);
      typed |= wc(b, q) || (q >= b->lo && b->c[q] == '*');
    }
    if (!(wc(b, p) || is_space(ch) || in_set(ch, "*,;[]")))
      return -1;
  }
  return -1;
}

static void classify(const struct bctx *b, pos_t brace, uint8_t top_tag,
                     bool file_level, struct sig *s)
{
  memset(s, 0, sizeof *s);
  s->kind = MF_BLOCK;
  s->name = s->popen = s->pclose = -1;
  s->start = brace;
  pos_t p = back_ws(b, brace - 1);
  if (p < b->lo)
    return;
  char ch = b->c[p];
  char prev = p > b->lo ? b->c[p - 1] : 0;
  if (ch == '>' && prev == '=') {
    if (!(top_tag & TAG_MATCH))
      arrow(b, p - 1, s);
  } else if (ch == '>' && prev == '-') {
    java_lambda(b, p - 1, s);
  } else if (ch == '|') {
    closure(b, p, s);
  } else if (ch == ']') {
    bracket(b, p, s);
  } else if (ch == ';' && file_level) {
    p = knr_params(b, p);
    if (p >= 0)
      walk(b, p, s);
  } else {
    walk(b, p, s);
  }
  if (s->kind == MF_FUNC && !s->explicit_fn && (top_tag & TAG_IN_FN))
    s->kind = MF_BLOCK;
}

/* ---- the forward pass ---- */

struct pp {
  uint8_t skip[PP_MAX_DEPTH]; /* per open #if: in a later branch */
  int depth;
  int skipping; /* how many open #ifs are in a later branch */
};

static uint32_t count_newlines(const char *p, const char *e)
{
  uint32_t n = 0;
  for (; p < e; p++)
    n += *p == '\n';
  return n;
}

static void open_brace(metrics_ctx_t *m, size_t i, uint32_t line)
{
  metrics_frame_t *top = metrics__top(m);
  uint8_t top_tag = top ? top->tag : 0;
  struct bctx b = {m->code, i > SIG_WINDOW ? (pos_t)(i - SIG_WINDOW) : 0};
  struct sig s;
  classify(&b, (pos_t)i, top_tag, m->nframes == 0, &s);
  if (s.kind != MF_FUNC) {
    if (metrics__push(m, s.kind, NULL, line) != 0)
      return;
    metrics_frame_t *f = metrics__top(m);
    f->tag = (uint8_t)(s.kind == MF_BLOCK ? (top_tag & TAG_IN_FN) : 0);
    if (s.kind == MF_BLOCK && statement_has(&b, (pos_t)i - 1, "match"))
      f->tag |= TAG_MATCH;
    return;
  }
  metrics_fn_t fn = {
    .name = s.name >= 0 ? m->code + s.name : NULL,
    .name_len = s.name >= 0 ? (size_t)s.name_len : 0,
    .line = line - count_newlines(m->code + s.start, m->code + i),
    .params = s.popen >= 0 ? metrics__count_params(m->code, (size_t)s.popen,
                                                   (size_t)s.pclose,
                                                   SCAN_FAMILY_BRACE)
                           : s.fixed_params,
  };
  if (metrics__push(m, MF_FUNC, &fn, line) == 0)
    metrics__top(m)->tag = TAG_IN_FN;
}

/* A directive line starting at the '#' at @p j: update the #if state. */
static void directive(struct pp *pp, const char *c, size_t j, size_t len)
{
  size_t k = j + 1;
  while (k < len && (c[k] == ' ' || c[k] == '\t'))
    k++;
  size_t e = k;
  while (e < len && c[e] >= 'a' && c[e] <= 'z')
    e++;
  const char *w = c + k;
  size_t n = e - k;
  bool opens = (n == 2 && !memcmp(w, "if", 2)) || (n == 5 && !memcmp(w, "ifdef", 5)) ||
               (n == 6 && !memcmp(w, "ifndef", 6));
  bool other_branch = (n == 4 && (!memcmp(w, "elif", 4) || !memcmp(w, "else", 4)));
  if (opens) {
    if (pp->depth < PP_MAX_DEPTH)
      pp->skip[pp->depth] = 0;
    pp->depth++;
  } else if (other_branch && pp->depth > 0 && pp->depth <= PP_MAX_DEPTH &&
             !pp->skip[pp->depth - 1]) {
    pp->skip[pp->depth - 1] = 1;
    pp->skipping++;
  } else if (n == 5 && !memcmp(w, "endif", 5) && pp->depth > 0) {
    pp->depth--;
    if (pp->depth < PP_MAX_DEPTH && pp->skip[pp->depth])
      pp->skipping--;
  }
}

/* The end of the line at @p i (backslash continuations joined); counts
 * the newlines passed into *line. Returns the position of the final '\n'
 * (or len). */
static size_t line_end(const char *c, size_t i, size_t len, uint32_t *line)
{
  for (;;) {
    const char *nl = memchr(c + i, '\n', len - i);
    if (!nl)
      return len;
    size_t e = (size_t)(nl - c);
    size_t k = e;
    while (k > i && (c[k - 1] == '\r' || c[k - 1] == ' '))
      k--;
    if (k > i && c[k - 1] == '\\') {
      (*line)++;
      i = e + 1;
      continue;
    }
    return e;
  }
}

/* At the start of a line: directives and skipped branches. Returns where
 * to go on (the line's first non-blank, or the '\n' ending a skipped or
 * directive line). */
static size_t line_start(struct pp *pp, const char *c, size_t i, size_t len,
                         uint32_t *line)
{
  size_t j = i;
  while (j < len && (c[j] == ' ' || c[j] == '\t'))
    j++;
  bool is_directive = j + 1 < len && c[j] == '#' &&
                      ((c[j + 1] >= 'a' && c[j + 1] <= 'z') || c[j + 1] == ' ');
  if (is_directive)
    directive(pp, c, j, len);
  if (is_directive || pp->skipping)
    return line_end(c, j, len, line);
  return j;
}

static bool ternary(const char *c, size_t i, size_t len)
{
  return i > 0 && i + 1 < len && (c[i - 1] == ' ' || c[i - 1] == '\t') &&
         (c[i + 1] == ' ' || c[i + 1] == '\t' || c[i + 1] == '\n');
}

/* Rust's empty closure `|| expr`, `move || {`: the `||` at @p i follows
 * `(`, `,`, `=` or `move`, where a logical or cannot. */
static bool empty_closure(const char *c, size_t i)
{
  size_t p = i;
  while (p > 0 && (c[p - 1] == ' ' || c[p - 1] == '\t'))
    p--;
  if (p == 0)
    return false;
  if (c[p - 1] == '(' || c[p - 1] == ',' || c[p - 1] == '=')
    return true;
  return p >= 4 && memcmp(c + p - 4, "move", 4) == 0 &&
         (p == 4 || !metrics__word_char((unsigned char)c[p - 5]));
}

/* One of decision_words (by length first: this runs for every word). */
static bool is_decision(const char *w, size_t n)
{
  switch (n) {
  case 2: return w[0] == 'i' && w[1] == 'f';
  case 3: return memcmp(w, "for", 3) == 0;
  case 4: return memcmp(w, "case", 4) == 0;
  case 5: return !memcmp(w, "while", 5) || !memcmp(w, "catch", 5) || !memcmp(w, "guard", 5);
  case 7: return memcmp(w, "foreach", 7) == 0;
  default: return false;
  }
}

/* One token at @p i (not at a line start); returns the next position. */
static size_t brace_token(metrics_ctx_t *m, size_t i, uint32_t line)
{
  const char *c = m->code;
  size_t len = m->len;
  switch (c[i]) {
  case '{':
    open_brace(m, i, line);
    return i + 1;
  case '}':
    metrics__pop(m, line);
    return i + 1;
  case '&':
  case '|':
    if (i + 1 < len && c[i + 1] == c[i]) {
      if (!(c[i] == '|' && empty_closure(c, i)))
        metrics__decision(m, 1);
      return i + 2;
    }
    return i + 1;
  case '?':
    if (ternary(c, i, len))
      metrics__decision(m, 1);
    return i + 1;
  default:
    break;
  }
  if (!metrics__word_char((unsigned char)c[i]))
    return i + 1;
  size_t e = i + 1;
  while (e < len && metrics__word_char((unsigned char)c[e]))
    e++;
  if (e - i >= 2 && e - i <= 7 && is_decision(c + i, e - i))
    metrics__decision(m, 1);
  return e;
}

static size_t skip_spaces(const char *c, size_t i, size_t len)
{
  static const char eight[8] = "        ";
  while (i + 8 <= len && memcmp(c + i, eight, 8) == 0)
    i += 8;
  while (i < len && c[i] == ' ')
    i++;
  return i;
}

void metrics__brace(metrics_ctx_t *m)
{
  struct pp pp = {.depth = 0};
  const char *c = m->code;
  size_t len = m->len, i = 0;
  uint32_t line = 1;
  bool bol = true;
  while (i < len && !m->stop && !m->oom) {
    if (bol) {
      i = line_start(&pp, c, i, len, &line);
      bol = false;
      continue;
    }
    if (c[i] == '\n') {
      line++;
      bol = true;
      i++;
      continue;
    }
    if (c[i] == ' ') {
      i = skip_spaces(c, i, len); /* blanked comments are long runs */
      continue;
    }
    i = brace_token(m, i, line);
  }
  metrics__finish(m, len && c[len - 1] == '\n' ? line - 1 : line);
}
