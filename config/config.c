/*
 * config.c: the embedded default, loading a file or buffer, freeing, and
 * the one-line description `ccm config check` prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_int.h"

static const char *const default_markers[] = {"TODO", "FIXME", "HACK",
                                              "XXX",  "BUG",   "OPTIMIZE"};
/* The scanner's own defaults (scan/walk.c); tests/config checks that the
 * two lists agree. */
static const char *const default_excludes[] = {
    "vendor/", "node_modules/", "third_party/", "dist/",
    "build/",  "*.min.js",      "*.min.css",    "*.map"};
static const char *const claude_command[] = {
    "claude", "-p", "--output-format", "stream-json", "--verbose",
    "--permission-mode", "acceptEdits"};

static void strv_from(cfg_strv_t *v, const char *const *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    cfg__strv_push(v, s[i]);
}

static void preset_builtin(cfg_preset_t *p)
{
  memset(p, 0, sizeof(*p));
  p->name = cfg__xstrdup("claude-code");
  strv_from(&p->command, claude_command,
            sizeof claude_command / sizeof *claude_command);
  cfg__strv_push(&p->pass_env, "ANTHROPIC_API_KEY");
}

static void github_defaults(cfg_github_t *g)
{
  g->api_url = cfg__xstrdup("https://api.github.com");
  g->token_env = cfg__xstrdup("GITHUB_TOKEN");
  g->webhook_secret_env = cfg__xstrdup("CCM_WEBHOOK_SECRET");
  g->stale_days = 30;
  g->accept = cfg__xstrdup("application/vnd.github.v3+json");
  g->auth_scheme = CFG_AUTH_TOKEN;
  g->user_agent = cfg__xstrdup("ccm/0.1");
  g->api_version = cfg__xstrdup("2022-11-28");
  cfg__strv_push(&g->approve_labels, "ccm:approved");
  g->proposal_label = cfg__xstrdup("ccm:proposal");
  g->budget = 100;
  g->sync_interval_ms = 10 * 60 * 1000;
}

static void scan_defaults(cfg_scan_t *s)
{
  strv_from(&s->markers, default_markers,
            sizeof default_markers / sizeof *default_markers);
  s->max_file_size = 1u << 20;
  strv_from(&s->exclude, default_excludes,
            sizeof default_excludes / sizeof *default_excludes);
  s->use_git = true;
  /* scan/metrics.c scan_thresholds_default(); tests/config compares. */
  s->thresholds = (cfg_thresholds_t){80, 4, 15, 6, 1000};
  s->refactor = true;
  s->secrets = true;
  s->git_timeout_ms = 5 * 60 * 1000;
}

static void agents_defaults(cfg_agents_t *a)
{
  a->default_preset = cfg__xstrdup("claude-code");
  a->concurrency = 2;
  a->dry_run = true;
  a->timeout_ms = 30 * 60 * 1000;
  a->idle_timeout_ms = 10 * 60 * 1000;
  a->budget = (cfg_budget_t){.max_turns = 30,
                             .max_usd_per_task = 2,
                             .max_tasks_per_day = 20,
                             .max_usd_per_day = 0};
  a->presets = cfg__xcalloc(1, sizeof(*a->presets));
  a->npresets = 1;
  preset_builtin(&a->presets[0]);
}

void cfg_defaults(cfg_t *c)
{
  memset(c, 0, sizeof(*c));
  c->source = cfg__xstrdup("(embedded default)");
  c->listen.text = cfg__xstrdup("127.0.0.1:8080");
  c->listen.host = cfg__xstrdup("127.0.0.1");
  c->listen.port = 8080;
  c->data_dir = cfg__xstrdup("./.ccm");
  c->auth_token_env = cfg__xstrdup("CCM_TOKEN");
  c->repos = cfg__xcalloc(1, sizeof(*c->repos));
  c->nrepos = 1;
  c->repos[0].path = cfg__xstrdup(".");
  c->repos[0].scan_interval_ms = 10 * 60 * 1000;
  github_defaults(&c->github);
  scan_defaults(&c->scan);
  c->priority.weights = (cfg_weights_t){1, 1, 1, 1};
  c->priority.churn_window_ms = 30ull * 24 * 60 * 60 * 1000;
  agents_defaults(&c->agents);
}

void cfg__repo_fini(cfg_repo_t *r)
{
  free(r->path);
  free(r->github);
  free(r->github_owner);
  free(r->github_name);
  free(r->base);
  free(r->remote);
  cfg__strv_fini(&r->test_command);
  cfg__strv_fini(&r->propose_kinds);
  cfg__priority_fini(r->priority);
  free(r->priority);
  memset(r, 0, sizeof(*r));
}

static void preset_fini(cfg_preset_t *p)
{
  free(p->name);
  cfg__strv_fini(&p->command);
  cfg__kvv_fini(&p->env);
  cfg__strv_fini(&p->pass_env);
  free(p->model);
  free(p->mention);
  free(p->permission_mode);
  free(p->append_system_prompt);
  cfg__strv_fini(&p->allowed_tools);
  cfg__strv_fini(&p->disallowed_tools);
  memset(p, 0, sizeof(*p));
}

void cfg__alert_fini(cfg_alert_t *a)
{
  free(a->name);
  free(a->webhook_url);
  memset(a, 0, sizeof(*a));
}

void cfg__webhook_fini(cfg_webhook_t *w)
{
  free(w->url);
  free(w->secret_env);
  memset(w, 0, sizeof(*w));
}

static void github_fini(cfg_github_t *g)
{
  free(g->api_url);
  free(g->token_env);
  free(g->webhook_secret_env);
  free(g->accept);
  free(g->user_agent);
  free(g->api_version);
  cfg__strv_fini(&g->approve_labels);
  cfg__strv_fini(&g->stale_exempt_labels);
  free(g->proposal_label);
  free(g->login);
}

static void agents_fini(cfg_agents_t *a)
{
  free(a->default_preset);
  cfg__strv_fini(&a->auto_approve);
  for (size_t i = 0; i < a->npresets; i++)
    preset_fini(&a->presets[i]);
  free(a->presets);
  cfg__kvv_fini(&a->prompts);
}

static void dora_fini(cfg_dora_t *d)
{
  free(d->branch);
  free(d->tag_pattern);
  cfg__strv_fini(&d->failures);
  free(d->hotfix_pattern);
  free(d->incident_label);
  free(d->agent_branch_prefix);
  cfg__strv_fini(&d->agent_authors);
}

void cfg_fini(cfg_t *c)
{
  if (!c)
    return;
  free(c->source);
  free(c->listen.text);
  free(c->listen.host);
  free(c->data_dir);
  free(c->auth_token_env);
  for (size_t i = 0; i < c->nrepos; i++)
    cfg__repo_fini(&c->repos[i]);
  free(c->repos);
  github_fini(&c->github);
  cfg__strv_fini(&c->scan.markers);
  cfg__strv_fini(&c->scan.exclude);
  free(c->scan.secrets_allowlist);
  agents_fini(&c->agents);
  cfg__priority_fini(&c->priority);
  for (size_t i = 0; i < c->nalerts; i++)
    cfg__alert_fini(&c->alerts[i]);
  free(c->alerts);
  for (size_t i = 0; i < c->nwebhooks; i++)
    cfg__webhook_fini(&c->webhooks[i]);
  free(c->webhooks);
  dora_fini(&c->dora);
  memset(c, 0, sizeof(*c));
}

int cfg_load_buffer(const char *name, const char *text, size_t len,
                    cfg_t *out, cfg_errors_t *errs)
{
  memset(out, 0, sizeof(*out));
  cfg__errors_init(errs, name);
  if (len > CFG_FILE_MAX) {
    cfg__error_add(errs, 0, 0, "the file is %zu bytes; a config file is at "
                               "most %u", len, CFG_FILE_MAX);
    return CFG_ETOOBIG;
  }
  cfg_tree_t tree;
  bool usable = cfg__tree_parse(&tree, text, len, errs);
  cfg_t c;
  cfg_defaults(&c);
  free(c.source);
  c.source = cfg__xstrdup(errs->file);
  if (usable)
    cfg__apply_tree(&c, tree.root, errs);
  cfg__tree_fini(&tree);
  cfg__errors_sort(errs);
  if (cfg__errors_count(errs)) {
    cfg_fini(&c);
    return CFG_EINVALID;
  }
  *out = c;
  return 0;
}

/* Read at most CFG_FILE_MAX + 1 bytes of @p path into a malloc'd buffer. */
static int read_capped(const char *path, char **buf, size_t *len)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    return -EISDIR;
  }
  size_t cap = CFG_FILE_MAX + 1, n = 0;
  char *b = cfg__xmalloc(cap);
  while (n < cap) {
    ssize_t r = read(fd, b + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      free(b);
      close(fd);
      return -e;
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  close(fd);
  *buf = b;
  *len = n;
  return 0;
}

int cfg_load_file(const char *path, cfg_t *out, cfg_errors_t *errs)
{
  char *text = NULL;
  size_t len = 0;
  int rc = read_capped(path, &text, &len);
  if (rc) {
    memset(out, 0, sizeof(*out));
    cfg__errors_init(errs, path);
    cfg__error_add(errs, 0, 0, "cannot read: %s", strerror(-rc));
    return CFG_EIO;
  }
  if (len > CFG_FILE_MAX) {
    free(text);
    memset(out, 0, sizeof(*out));
    cfg__errors_init(errs, path);
    cfg__error_add(errs, 0, 0, "the file is larger than %u bytes, the most "
                               "a config file may hold", CFG_FILE_MAX);
    return CFG_ETOOBIG;
  }
  rc = cfg_load_buffer(path, text, len, out, errs);
  free(text);
  return rc;
}

const cfg_preset_t *cfg_default_preset(const cfg_t *c)
{
  const char *name = c->agents.default_preset;
  for (size_t i = 0; name && i < c->agents.npresets; i++)
    if (!strcmp(c->agents.presets[i].name, name))
      return &c->agents.presets[i];
  return NULL;
}

static const char *plural(size_t n, const char *one, const char *many)
{
  return n == 1 ? one : many;
}

int cfg_describe(const cfg_t *c, char *buf, size_t cap)
{
  const cfg_preset_t *p = cfg_default_preset(c);
  size_t github = 0;
  for (size_t i = 0; i < c->nrepos; i++)
    github += c->repos[i].github != NULL;
  return snprintf(
      buf, cap,
      "%zu %s (%zu on GitHub), listen %s, data %s, agent %s (%s, "
      "concurrency %u, auto-approve %zu %s), %zu alert %s, %zu %s",
      c->nrepos, plural(c->nrepos, "repository", "repositories"), github,
      c->listen.text, c->data_dir, p ? p->name : "?",
      c->agents.dry_run ? "dry-run" : "live", c->agents.concurrency,
      c->agents.auto_approve.n,
      plural(c->agents.auto_approve.n, "kind", "kinds"), c->nalerts,
      plural(c->nalerts, "rule", "rules"), c->nwebhooks,
      plural(c->nwebhooks, "webhook", "webhooks"));
}

bool cfg_op_holds(cfg_op_t op, double value, double threshold)
{
  switch (op) {
  case CFG_OP_GT:
    return value > threshold;
  case CFG_OP_GE:
    return value >= threshold;
  case CFG_OP_LT:
    return value < threshold;
  case CFG_OP_LE:
    return value <= threshold;
  case CFG_OP_EQ:
    return value == threshold;
  case CFG_OP_NE:
    return value != threshold;
  }
  return false;
}
