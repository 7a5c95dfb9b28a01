/*
 * agent.c: see agent.h. Strings are built in a small growable buffer;
 * every allocation failure returns NULL and frees what was built.
 */
#include "actors/executor/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ------------------------------------------------------------------ text */

typedef struct sbuf {
  char *s;
  size_t len, cap;
  bool failed;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *p, size_t n)
{
  if (b->failed)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
      b->failed = true;
      return;
    }
    b->s = s;
    b->cap = cap;
  }
  memcpy(b->s + b->len, p, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void sb_str(sbuf_t *b, const char *s)
{
  sb_add(b, s, strlen(s));
}

static char *sb_take(sbuf_t *b)
{
  if (b->failed) {
    free(b->s);
    return NULL;
  }
  if (!b->s)
    return strdup("");
  return b->s;
}

/* -------------------------------------------------------------- templates */

#define TEMPLATE_HEAD                                                         \
  "You are working in a git worktree of the repository \"{repo}\", on the "  \
  "branch {branch}. Task {id} ({kind}): {title}\n\n"
#define TEMPLATE_TAIL                                                         \
  "\n\nKeep the change small and in the code's existing style. Do not edit " \
  "CI configuration, lockfiles or files that hold secrets. If the task "     \
  "cannot be done safely, change nothing and explain why.\n"

static const exec_template_t default_templates[] = {
    {"refactor", TEMPLATE_HEAD
     "{path}:{line} ({symbol}) was flagged as a refactoring candidate: "
     "{text}\n\nRefactor it to be simpler (shorter functions, less nesting, "
     "less duplication) without changing its behaviour." TEMPLATE_TAIL},
    {"secret", TEMPLATE_HEAD
     "A secret appears to be committed at {path}:{line} ({text}).\n\nRemove "
     "it from the code and read the value from an environment variable or "
     "the existing configuration mechanism instead. Never print the "
     "secret." TEMPLATE_TAIL},
    {"issue", TEMPLATE_HEAD
     "Resolve GitHub issue #{issue_number}: {title}\n\n{text}" TEMPLATE_TAIL},
    {"*", TEMPLATE_HEAD
     "At {path}:{line} there is this comment:\n\n    {text}\n\nDo what it "
     "asks, then remove the comment or update it to say what is left."
     TEMPLATE_TAIL},
};

const char *exec_prompt_default(const char *kind)
{
  size_t n = sizeof default_templates / sizeof default_templates[0];
  for (size_t i = 0; kind && i + 1 < n; i++)
    if (strcmp(default_templates[i].kind, kind) == 0)
      return default_templates[i].text;
  return default_templates[n - 1].text;
}

const char *exec_prompt_template(const exec_config_t *cfg, const char *kind)
{
  const char *any = NULL;
  for (size_t i = 0; cfg && cfg->templates && i < cfg->ntemplates; i++) {
    const exec_template_t *t = &cfg->templates[i];
    if (kind && strcmp(t->kind, kind) == 0)
      return t->text;
    if (strcmp(t->kind, "*") == 0)
      any = t->text;
  }
  return any ? any : exec_prompt_default(kind);
}

static void add_labels(sbuf_t *b, const proto_string_list_t *l)
{
  for (uint32_t i = 0; i < l->len; i++) {
    if (i)
      sb_str(b, ", ");
    sb_str(b, l->items[i]);
  }
}

/* Append the value of placeholder @p name (nlen bytes); false if unknown. */
static bool add_field(sbuf_t *b, const char *name, size_t nlen,
                      const proto_task_t *t, const exec_vars_t *v)
{
  char num[32];
#define IS(s) (nlen == sizeof(s) - 1 && memcmp(name, s, nlen) == 0)
#define STR(x) ((x) ? (x) : "")
  if (IS("id"))
    sb_str(b, STR(t->id));
  else if (IS("repo"))
    sb_str(b, STR(t->repo));
  else if (IS("kind"))
    sb_str(b, STR(t->kind));
  else if (IS("title"))
    sb_str(b, t->title ? t->title : STR(t->text));
  else if (IS("path"))
    sb_str(b, STR(t->loc.path));
  else if (IS("symbol"))
    sb_str(b, t->loc.symbol ? t->loc.symbol : "top level");
  else if (IS("text"))
    sb_str(b, STR(t->text));
  else if (IS("author"))
    sb_str(b, t->author ? t->author : "unknown");
  else if (IS("labels"))
    add_labels(b, &t->labels);
  else if (IS("branch"))
    sb_str(b, STR(v ? v->branch : NULL));
  else if (IS("worktree"))
    sb_str(b, STR(v ? v->worktree : NULL));
  else if (IS("line") || IS("column") || IS("issue_number")) {
    unsigned n = IS("line") ? t->loc.line
                            : IS("column") ? t->loc.column : t->issue_number;
    snprintf(num, sizeof num, "%u", n);
    sb_str(b, num);
  } else
    return false;
  return true;
#undef IS
#undef STR
}

char *exec_prompt_render(const char *tmpl, const proto_task_t *task,
                         const exec_vars_t *vars)
{
  sbuf_t b = {0};
  const char *p = tmpl;
  while (*p) {
    const char *open = strchr(p, '{');
    const char *close = open ? strchr(open, '}') : NULL;
    if (!close) {
      sb_str(&b, p);
      break;
    }
    sb_add(&b, p, (size_t)(open - p));
    if (!add_field(&b, open + 1, (size_t)(close - open - 1), task, vars))
      sb_add(&b, open, (size_t)(close - open + 1));
    p = close + 1;
  }
  return sb_take(&b);
}

/* ------------------------------------------------------------------- argv */

typedef struct argv_b {
  char **v;
  size_t n, cap;
  bool failed;
} argv_b_t;

static void av_take(argv_b_t *a, char *s)
{
  if (!s)
    a->failed = true;
  if (a->failed) {
    free(s);
    return;
  }
  if (a->n + 2 > a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 16;
    char **v = realloc(a->v, cap * sizeof *v);
    if (!v) {
      a->failed = true;
      free(s);
      return;
    }
    a->v = v;
    a->cap = cap;
  }
  a->v[a->n++] = s;
  a->v[a->n] = NULL;
}

static bool av_has(const argv_b_t *a, const char *flag)
{
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->v[i], flag) == 0)
      return true;
  return false;
}

static void av_flag(argv_b_t *a, const char *flag, const char *value)
{
  if (!value || av_has(a, flag))
    return;
  av_take(a, strdup(flag));
  av_take(a, strdup(value));
}

/* Substitute the argv placeholders of one template element. */
static char *argv_element(const char *tmpl, const proto_task_t *t,
                          const exec_vars_t *v)
{
  static const char *const names[] = {"{task_id}", "{worktree}",
                                      "{prompt_file}", "{session_id}",
                                      "{branch}", "{repo}"};
  const char *values[] = {t->id, v->worktree, v->prompt_file, v->session_id,
                          v->branch, t->repo};
  sbuf_t b = {0};
  const char *p = tmpl;
  while (*p) {
    size_t k = 0, nlen = 0;
    for (; k < sizeof names / sizeof names[0]; k++) {
      nlen = strlen(names[k]);
      if (strncmp(p, names[k], nlen) == 0)
        break;
    }
    if (k == sizeof names / sizeof names[0]) {
      sb_add(&b, p++, 1);
      continue;
    }
    sb_str(&b, values[k] ? values[k] : "");
    p += nlen;
  }
  return sb_take(&b);
}

static char *join_list(const char *const *items)
{
  sbuf_t b = {0};
  for (size_t i = 0; items && items[i]; i++) {
    if (i)
      sb_str(&b, ",");
    sb_str(&b, items[i]);
  }
  return sb_take(&b);
}

static void claude_flags(argv_b_t *a, const exec_preset_t *p,
                         const exec_budget_t *budget, const exec_vars_t *v)
{
  char num[32];
  av_flag(a, "--session-id", v->session_id);
  snprintf(num, sizeof num, "%u",
           budget && budget->max_turns ? budget->max_turns : 30);
  av_flag(a, "--max-turns", num);
  if (budget && budget->max_usd_per_task > 0) {
    snprintf(num, sizeof num, "%.2f", budget->max_usd_per_task);
    av_flag(a, "--max-budget-usd", num);
  }
  av_flag(a, "--permission-mode", p->permission_mode);
  av_flag(a, "--model", p->model);
  av_flag(a, "--append-system-prompt", p->append_system_prompt);
  if (p->allowed_tools && !av_has(a, "--allowedTools")) {
    av_take(a, strdup("--allowedTools"));
    av_take(a, join_list(p->allowed_tools));
  }
  if (p->disallowed_tools && !av_has(a, "--disallowedTools")) {
    av_take(a, strdup("--disallowedTools"));
    av_take(a, join_list(p->disallowed_tools));
  }
}

char **exec_argv_build(const exec_preset_t *preset, const exec_budget_t *budget,
                       const proto_task_t *task, const exec_vars_t *vars)
{
  static const char *const claude_default[] = {
      "claude", "-p", "--output-format", "stream-json", "--verbose", NULL};
  static const char *const claude_flow_default[] = {EXEC_CLAUDE_FLOW_COMMAND,
                                                    NULL};
  const char *const *cmd = preset->command;
  argv_b_t a = {0};
  exec_vars_t none = {0};
  if (!vars)
    vars = &none;
  if (!cmd && preset->kind == EXEC_AGENT_CLAUDE_CODE)
    cmd = claude_default;
  if (!cmd && preset->kind == EXEC_AGENT_CLAUDE_FLOW)
    cmd = claude_flow_default;
  if (!cmd || !cmd[0])
    return NULL;
  for (size_t i = 0; cmd[i]; i++)
    av_take(&a, argv_element(cmd[i], task, vars));
  if (preset->kind == EXEC_AGENT_CLAUDE_CODE)
    claude_flags(&a, preset, budget, vars);
  if (a.failed) {
    exec_argv_free(a.v);
    return NULL;
  }
  return a.v;
}

void exec_argv_free(char **argv)
{
  for (size_t i = 0; argv && argv[i]; i++)
    free(argv[i]);
  free(argv);
}

static void add_quoted(sbuf_t *b, const char *s)
{
  if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789-_./:=,+@%") == strlen(s)) {
    sb_str(b, s);
    return;
  }
  sb_str(b, "'");
  for (const char *p = s; *p; p++) {
    if (*p == '\'')
      sb_str(b, "'\\''");
    else
      sb_add(b, p, 1);
  }
  sb_str(b, "'");
}

char *exec_argv_join(char *const *argv)
{
  sbuf_t b = {0};
  for (size_t i = 0; argv && argv[i]; i++) {
    if (i)
      sb_str(&b, " ");
    add_quoted(&b, argv[i]);
  }
  return sb_take(&b);
}

void exec_uuid4(char out[37])
{
  unsigned char r[16];
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
    /* no entropy source: still unique enough for a session id */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (size_t i = 0; i < sizeof r; i++)
      r[i] = (unsigned char)((uint64_t)ts.tv_nsec >> (i % 8 * 8)) ^
             (unsigned char)(i * 37);
  }
  r[6] = (unsigned char)((r[6] & 0x0F) | 0x40);
  r[8] = (unsigned char)((r[8] & 0x3F) | 0x80);
  snprintf(out, 37,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
           r[11], r[12], r[13], r[14], r[15]);
}
