/*
 * app_reload.c: SIGHUP reloads of the configuration (design note:
 * app_reload.h). The file is read once into memory, hashed for the audit
 * log and parsed from those same bytes, so the digest is of exactly what
 * was applied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/app_reload.h"

static const struct {
  const char *key;
  bool live;
} sections[APP_SECTION__COUNT] = {
#define APP_SECTION_ROW(name, key, live) {key, live},
    APP_SECTION_MAP(APP_SECTION_ROW)
#undef APP_SECTION_ROW
};

const char *app_section_name(app_section_t s)
{
  return (unsigned)s < APP_SECTION__COUNT ? sections[s].key : "?";
}

bool app_section_live(app_section_t s)
{
  return (unsigned)s < APP_SECTION__COUNT && sections[s].live;
}

/* ---------------------------------------------------------- comparing */

static bool str_eq(const char *a, const char *b)
{
  return a == b || (a && b && !strcmp(a, b));
}

static bool strv_eq(const cfg_strv_t *a, const cfg_strv_t *b)
{
  if (a->n != b->n)
    return false;
  for (size_t i = 0; i < a->n; i++)
    if (!str_eq(a->v[i], b->v[i]))
      return false;
  return true;
}

static bool kvv_eq(const cfg_kvv_t *a, const cfg_kvv_t *b)
{
  if (a->n != b->n)
    return false;
  for (size_t i = 0; i < a->n; i++)
    if (!str_eq(a->v[i].key, b->v[i].key) ||
        !str_eq(a->v[i].value, b->v[i].value))
      return false;
  return true;
}

static bool repo_eq(const cfg_repo_t *a, const cfg_repo_t *b)
{
  return str_eq(a->path, b->path) && str_eq(a->github, b->github) &&
         a->scan_interval_ms == b->scan_interval_ms &&
         str_eq(a->base, b->base) && strv_eq(&a->test_command,
                                             &b->test_command);
}

static bool repos_eq(const cfg_t *a, const cfg_t *b)
{
  if (a->nrepos != b->nrepos)
    return false;
  for (size_t i = 0; i < a->nrepos; i++)
    if (!repo_eq(&a->repos[i], &b->repos[i]))
      return false;
  return true;
}

static bool scan_eq(const cfg_scan_t *a, const cfg_scan_t *b)
{
  return strv_eq(&a->markers, &b->markers) &&
         a->markers_any_case == b->markers_any_case &&
         a->max_file_size == b->max_file_size &&
         strv_eq(&a->exclude, &b->exclude) && a->use_git == b->use_git &&
         !memcmp(&a->thresholds, &b->thresholds, sizeof a->thresholds) &&
         a->refactor == b->refactor && a->secrets == b->secrets &&
         str_eq(a->secrets_allowlist, b->secrets_allowlist);
}

static bool weights_eq(const cfg_weights_t *a, const cfg_weights_t *b)
{
  return a->value == b->value && a->time_criticality == b->time_criticality
         && a->risk_reduction == b->risk_reduction &&
         a->job_size == b->job_size;
}

static bool maps_eq(const cfg_prio_maps_t *a, const cfg_prio_maps_t *b)
{
  if (a->n != b->n)
    return false;
  for (size_t i = 0; i < a->n; i++) {
    const cfg_prio_map_t *x = &a->v[i], *y = &b->v[i];
    /* memcmp: NAN (nothing said) equals NAN */
    if (!str_eq(x->key, y->key) || memcmp(&x->value, &y->value, sizeof x->value)
        || memcmp(&x->time_criticality, &y->time_criticality,
                  sizeof x->time_criticality) ||
        memcmp(&x->risk_reduction, &y->risk_reduction,
               sizeof x->risk_reduction) ||
        memcmp(&x->job_size, &y->job_size, sizeof x->job_size))
      return false;
  }
  return true;
}

static bool priority_eq(const cfg_priority_t *a, const cfg_priority_t *b)
{
  return weights_eq(&a->weights, &b->weights) &&
         a->churn_window_ms == b->churn_window_ms &&
         maps_eq(&a->kinds, &b->kinds) && maps_eq(&a->labels, &b->labels) &&
         maps_eq(&a->paths, &b->paths);
}

static bool monitor_eq(const cfg_monitor_t *a, const cfg_monitor_t *b)
{
  return a->sample_interval_ms == b->sample_interval_ms &&
         a->persist_interval_ms == b->persist_interval_ms &&
         a->stuck_samples == b->stuck_samples;
}

static bool dora_eq(const cfg_dora_t *a, const cfg_dora_t *b)
{
  return a->deployments == b->deployments && str_eq(a->branch, b->branch) &&
         str_eq(a->tag_pattern, b->tag_pattern) &&
         strv_eq(&a->failures, &b->failures) &&
         a->hotfix_window_ms == b->hotfix_window_ms &&
         str_eq(a->hotfix_pattern, b->hotfix_pattern) &&
         str_eq(a->incident_label, b->incident_label) &&
         str_eq(a->agent_branch_prefix, b->agent_branch_prefix) &&
         strv_eq(&a->agent_authors, &b->agent_authors) &&
         a->window_ms == b->window_ms;
}

static bool preset_eq(const cfg_preset_t *a, const cfg_preset_t *b)
{
  return str_eq(a->name, b->name) && strv_eq(&a->command, &b->command) &&
         kvv_eq(&a->env, &b->env) && strv_eq(&a->pass_env, &b->pass_env) &&
         str_eq(a->model, b->model) &&
         str_eq(a->permission_mode, b->permission_mode) &&
         str_eq(a->append_system_prompt, b->append_system_prompt) &&
         strv_eq(&a->allowed_tools, &b->allowed_tools) &&
         strv_eq(&a->disallowed_tools, &b->disallowed_tools);
}

static bool agents_eq(const cfg_agents_t *a, const cfg_agents_t *b)
{
  const cfg_budget_t *x = &a->budget, *y = &b->budget;
  if (!str_eq(a->default_preset, b->default_preset) ||
      a->concurrency != b->concurrency || a->dry_run != b->dry_run ||
      !strv_eq(&a->auto_approve, &b->auto_approve) ||
      a->timeout_ms != b->timeout_ms ||
      a->idle_timeout_ms != b->idle_timeout_ms ||
      x->max_turns != y->max_turns ||
      x->max_usd_per_task != y->max_usd_per_task ||
      x->max_tasks_per_day != y->max_tasks_per_day ||
      x->max_usd_per_day != y->max_usd_per_day ||
      !kvv_eq(&a->prompts, &b->prompts) || a->npresets != b->npresets)
    return false;
  for (size_t i = 0; i < a->npresets; i++)
    if (!preset_eq(&a->presets[i], &b->presets[i]))
      return false;
  return true;
}

static bool github_eq(const cfg_github_t *a, const cfg_github_t *b)
{
  return str_eq(a->api_url, b->api_url) && str_eq(a->token_env, b->token_env)
         && str_eq(a->webhook_secret_env, b->webhook_secret_env) &&
         a->stale_days == b->stale_days && str_eq(a->accept, b->accept) &&
         a->auth_scheme == b->auth_scheme &&
         str_eq(a->user_agent, b->user_agent) &&
         str_eq(a->api_version, b->api_version) &&
         strv_eq(&a->approve_labels, &b->approve_labels) &&
         strv_eq(&a->stale_exempt_labels, &b->stale_exempt_labels) &&
         str_eq(a->proposal_label, b->proposal_label) &&
         a->budget == b->budget && a->sync_interval_ms == b->sync_interval_ms &&
         str_eq(a->login, b->login);
}

static bool alerts_eq(const cfg_t *a, const cfg_t *b)
{
  if (a->nalerts != b->nalerts)
    return false;
  for (size_t i = 0; i < a->nalerts; i++) {
    const cfg_alert_t *x = &a->alerts[i], *y = &b->alerts[i];
    if (!str_eq(x->name, y->name) || x->metric != y->metric ||
        x->op != y->op || x->threshold != y->threshold ||
        x->for_ms != y->for_ms || !str_eq(x->webhook_url, y->webhook_url))
      return false;
  }
  return true;
}

static bool webhooks_eq(const cfg_t *a, const cfg_t *b)
{
  if (a->nwebhooks != b->nwebhooks)
    return false;
  for (size_t i = 0; i < a->nwebhooks; i++) {
    const cfg_webhook_t *x = &a->webhooks[i], *y = &b->webhooks[i];
    if (!str_eq(x->url, y->url) || !str_eq(x->secret_env, y->secret_env) ||
        x->events != y->events)
      return false;
  }
  return true;
}

unsigned app_config_diff(const cfg_t *a, const cfg_t *b)
{
  bool same[APP_SECTION__COUNT] = {
      [APP_SECTION_LOG] = a->log.level == b->log.level &&
                          a->log.format == b->log.format,
      [APP_SECTION_REPOS] = repos_eq(a, b),
      [APP_SECTION_SCAN] = scan_eq(&a->scan, &b->scan),
      [APP_SECTION_PRIORITY] = priority_eq(&a->priority, &b->priority),
      [APP_SECTION_AGENTS] = agents_eq(&a->agents, &b->agents),
      [APP_SECTION_LISTEN] = str_eq(a->listen.text, b->listen.text),
      [APP_SECTION_DATA_DIR] = str_eq(a->data_dir, b->data_dir),
      [APP_SECTION_AUTH] = str_eq(a->auth_token_env, b->auth_token_env),
      [APP_SECTION_GITHUB] = github_eq(&a->github, &b->github),
      [APP_SECTION_ALERTS] = alerts_eq(a, b),
      [APP_SECTION_WEBHOOKS] = webhooks_eq(a, b),
      [APP_SECTION_MONITOR] = monitor_eq(&a->monitor, &b->monitor),
      [APP_SECTION_DORA] = dora_eq(&a->dora, &b->dora),
  };
  unsigned bits = 0;
  for (unsigned s = 0; s < APP_SECTION__COUNT; s++)
    if (!same[s])
      bits |= 1u << s;
  return bits;
}

/* ------------------------------------------------------------ the log */

void app_log_configure(const cfg_t *c, const char *level_arg)
{
  static const app_log_level_t level_of[] = {
      [CFG_LOG_INFO] = APP_LOG_INFO, [CFG_LOG_DEBUG] = APP_LOG_DEBUG,
      [CFG_LOG_WARN] = APP_LOG_WARN, [CFG_LOG_ERROR] = APP_LOG_ERROR};
  app_log_level_t lvl = APP_LOG_INFO;
  if ((unsigned)c->log.level < sizeof level_of / sizeof *level_of)
    lvl = level_of[c->log.level];
  if (level_arg)
    app_log_level_parse(level_arg, &lvl); /* checked by the argv parser */
  app_log_set_level(lvl);
  app_log_set_format(c->log.format == CFG_LOG_JSON ? APP_LOG_JSON
                                                   : APP_LOG_LOGFMT);
}

void app_log_register_secrets(const cfg_t *c)
{
  cfg_secrets_t sec;
  cfg_errors_t errs;
  cfg_secrets_resolve(c, &sec, &errs); /* a missing one: nothing to hide */
  app_log_secret_add(sec.auth_token);
  app_log_secret_add(sec.github_token);
  app_log_secret_add(sec.webhook_secret);
  for (size_t i = 0; i < sec.nwebhook_keys; i++)
    app_log_secret_add(sec.webhook_keys[i]);
  cfg_secrets_fini(&sec);
  cfg_errors_fini(&errs);
}

/* --------------------------------------------------------- the daemon */

static int keep_loaded(app_daemon_t *d, cfg_t *c)
{
  cfg_t **v = realloc(d->loaded, (d->nloaded + 1) * sizeof *v);
  if (!v)
    return -1;
  d->loaded = v;
  d->loaded[d->nloaded++] = c;
  return 0;
}

void app_daemon_init(app_daemon_t *d, cfg_t *cfg)
{
  d->cfg = cfg;
  for (unsigned s = 0; s < APP_SECTION__COUNT; s++)
    d->running[s] = cfg;
  if (keep_loaded(d, cfg)) {
    /* Out of memory at start: the daemon frees it at exit instead. */
    app_log(APP_LOG_WARN, "config.untracked", "out of memory");
  }
  app_log_register_secrets(cfg);
  app_log_configure(cfg, d->log_level_arg);
}

void app_daemon_fini(app_daemon_t *d)
{
  for (size_t i = 0; i < d->nloaded; i++) {
    cfg_fini(d->loaded[i]);
    free(d->loaded[i]);
  }
  free(d->loaded);
  memset(d, 0, sizeof *d);
}

int app_reload_hook(app_daemon_t *d, app_section_t s, app_reload_fn fn,
                    void *arg)
{
  if (d->nhooks == APP_RELOAD_HOOKS_MAX || (unsigned)s >= APP_SECTION__COUNT)
    return -1;
  d->hooks[d->nhooks].section = s;
  d->hooks[d->nhooks].fn = fn;
  d->hooks[d->nhooks].arg = arg;
  d->nhooks++;
  return 0;
}

/* ------------------------------------------------------------ reload */

/* The file a reload reads: --config, else ./ccm.yaml if present, else
 * none (the embedded default). */
static const char *config_path(const app_daemon_t *d)
{
  struct stat st;
  if (d->config_arg)
    return d->config_arg;
  return stat("ccm.yaml", &st) == 0 ? "ccm.yaml" : NULL;
}

/* Read at most CFG_FILE_MAX + 1 bytes (so an oversized file is seen). */
static char *read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *buf = malloc(CFG_FILE_MAX + 2);
  size_t n = buf ? fread(buf, 1, CFG_FILE_MAX + 1, f) : 0;
  bool bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

static void audit(app_daemon_t *d, const char *what, const char *path,
                  const char *text, size_t len)
{
  if (!d->store)
    return;
  int rc = store_audit_record(d->store, "sighup", what,
                              path ? path : "(embedded default)", text, len);
  if (rc)
    app_log(APP_LOG_ERROR, "audit.write_failed", "%s not audit-logged: %s",
            what, store_strerror(rc));
}

void app_log_config_errors(const char *path, int rc, const cfg_errors_t *errs)
{
  const char *file = errs->file ? errs->file : path;
  for (size_t i = 0; i < errs->n; i++) {
    const cfg_error_t *e = &errs->v[i];
    if (e->line)
      app_log(APP_LOG_ERROR, "config.error", "%s:%u:%u: %s", file, e->line,
              e->column, e->message);
    else
      app_log(APP_LOG_ERROR, "config.error", "%s: %s", file, e->message);
  }
  if (errs->dropped)
    app_log(APP_LOG_ERROR, "config.error", "%s: %zu more errors not shown",
            file, errs->dropped);
  if (!errs->n)
    app_log(APP_LOG_ERROR, "config.error", "%s: %s", path, cfg_strerror(rc));
}

/* Parse the file (or the default) into a new heap cfg_t; NULL when it
 * is refused (logged). *text / *len get the bytes read (owned). */
static cfg_t *load(const char *path, char **text, size_t *len)
{
  cfg_t *c = calloc(1, sizeof *c);
  cfg_errors_t errs = {0};
  int rc = 0;
  *text = NULL;
  *len = 0;
  if (!c)
    return NULL;
  if (!path) {
    cfg_defaults(c);
    return c;
  }
  if (!(*text = read_file(path, len)))
    rc = CFG_EIO;
  else
    rc = cfg_load_buffer(path, *text, *len, c, &errs);
  if (rc) {
    if (rc == CFG_EIO)
      app_log(APP_LOG_ERROR, "config.error", "%s: %s: %s", path,
              cfg_strerror(rc), strerror(errno));
    else
      app_log_config_errors(path, rc, &errs);
    free(c);
    c = NULL;
  }
  cfg_errors_fini(&errs);
  return c;
}

/* Run the hooks of section @p s; @return true when every hook applied it
 * (and there is at least one, or the section is built in). */
static bool apply_section(app_daemon_t *d, app_section_t s, const cfg_t *old,
                          const cfg_t *now)
{
  bool applied = s == APP_SECTION_LOG;
  if (s == APP_SECTION_LOG)
    app_log_configure(now, d->log_level_arg);
  for (size_t i = 0; i < d->nhooks; i++) {
    if (d->hooks[i].section != s)
      continue;
    if (d->hooks[i].fn(old, now, d->hooks[i].arg) != 0)
      return false;
    applied = true;
  }
  return applied;
}

/* The sections in which @p now differs from the values in effect. */
static unsigned changed_sections(const app_daemon_t *d, const cfg_t *now)
{
  unsigned changed = 0;
  for (unsigned s = 0; s < APP_SECTION__COUNT; s++)
    changed |= app_config_diff(d->running[s], now) & (1u << s);
  if (d->listen_arg)
    changed &= ~(1u << APP_SECTION_LISTEN); /* --listen wins */
  return changed;
}

/* Apply what changed; log each section's fate. A section applied runs
 * with @p now from here on; one that needs a restart keeps its values. */
static void apply_changes(app_daemon_t *d, const cfg_t *now, unsigned changed)
{
  char live[256] = "", restart[256] = "";
  for (unsigned s = 0; s < APP_SECTION__COUNT; s++) {
    if (!(changed & (1u << s)))
      continue;
    bool ok = apply_section(d, (app_section_t)s, d->running[s], now);
    if (ok)
      d->running[s] = now;
    char *list = ok ? live : restart;
    size_t n = strlen(list);
    snprintf(list + n, 256 - n, "%s%s", n ? "," : "", app_section_name(s));
    app_log_kv(APP_LOG_DEBUG, "config.section",
               ok ? "applied live" : "needs a restart to take effect",
               "section", app_section_name(s), NULL);
  }
  app_log_kv(APP_LOG_INFO, "config.reloaded", "configuration reloaded",
             "file", now->source, "applied", *live ? live : "-",
             "needs_restart", *restart ? restart : "-", NULL);
  if (*restart)
    app_log_kv(APP_LOG_WARN, "config.restart_needed",
               "changed settings that apply only after a restart",
               "sections", restart, NULL);
}

int app_reload(app_daemon_t *d)
{
  const char *path = config_path(d);
  char *text;
  size_t len;
  app_log_kv(APP_LOG_INFO, "config.reload", "reloading the configuration",
             "file", path ? path : "(embedded default)", NULL);
  cfg_t *now = load(path, &text, &len);
  if (!now || keep_loaded(d, now)) {
    if (now) {
      cfg_fini(now);
      free(now);
    }
    d->refused++;
    app_log_kv(APP_LOG_ERROR, "config.reload_refused",
               "the new configuration is invalid: the running one is kept",
               "file", path ? path : "(embedded default)", NULL);
    audit(d, "config.reload_refused", path, text, len);
    free(text);
    return -1;
  }
  if (d->data_arg) { /* --data wins, as at start */
    free(now->data_dir);
    now->data_dir = strdup(d->data_arg);
  }
  app_log_register_secrets(now); /* before anything logs what it names */
  apply_changes(d, now, changed_sections(d, now));
  d->cfg = now;
  d->reloads++;
  audit(d, "config.reload", path, text, len);
  free(text);
  return 0;
}
