/*
 * app_exec.c: the executor for `ccm serve` from the config's agents
 * section (SPEC §3): the default preset (claude-code with acceptEdits in
 * the embedded default, or a command template), dry run unless the config
 * says otherwise (then each task records the exact command it would have
 * run), concurrency, budgets, and the repositories with a local path;
 * worktrees under the data dir. Registered as "executor", the name the
 * control plane sends run/cancel commands to. Its sink is the
 * agent-output feed (exec_feed_spawn): the first 1000 lines of each run
 * go on the "agent-output" topic (persisted in the event log, capped).
 *
 * Presets by name: `claude-code` (stream-json, supervision flags),
 * `claude-flow` (its command template, judged by exit status), a preset
 * with a `mention` (or named `github-mention`: comments on the task's
 * issue), anything else a generic command. Pull requests and mentions go
 * through the GitHub client registered as "github" (app_github.c, started
 * when github.token_env is set), looked up when a run needs it; without
 * one a run says so (publishing stops after the push).
 *
 * A SIGHUP reload that changes the agents section (app_exec_reload)
 * builds a new setup from the new configuration and hands its pointer to
 * the executor (EXEC_MSG_RECONFIGURE): concurrency, dry run, budgets,
 * timeouts and the preset change for the runs that start afterwards; the
 * repositories and the data dir stay those of the start. Every setup is
 * kept (reachable from `setups`) until the process ends, as the
 * configurations it points into are: the executor may read one until the
 * runtime has shut down.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/executor/executor.h"
#include "app/app.h"
#include "app/log.h"

#define MAX_REPOS 16
#define MAX_ARGS 64
#define MAX_TEMPLATES 64

/* What the executor is given for one configuration (it keeps pointers). */
typedef struct exec_setup {
  struct exec_setup *older;
  char root[MAX_REPOS][PATH_MAX];
  char repo[MAX_REPOS][72];
  const char *test_argv[MAX_REPOS][MAX_ARGS + 1];
  const char *command[MAX_ARGS + 1];
  const char *pass_env[MAX_ARGS + 1];
  const char *env[MAX_ARGS + 1];          /* "NAME=value", into env_text */
  char env_text[8192];
  const char *allowed_tools[MAX_ARGS + 1];
  const char *disallowed_tools[MAX_ARGS + 1];
  exec_preset_t preset;
  exec_repo_t repos[MAX_REPOS];
  exec_template_t templates[MAX_TEMPLATES]; /* agents.prompts */
  exec_config_t cfg;
} exec_setup_t;

static struct {
  exec_setup_t *setups; /* the newest first; never freed while running */
  rt_actor_t *executor;
  rt_actor_t *feed; /* the sink: agent output onto "agent-output" */
} daemon_exec;

/* A NULL-terminated copy of a string list (the strings are the cfg's);
 * NULL when empty. */
static const char *const *argv_of(const cfg_strv_t *l, const char **out)
{
  size_t n = l->n < MAX_ARGS ? l->n : MAX_ARGS;
  for (size_t i = 0; i < n; i++)
    out[i] = l->v[i];
  out[n] = NULL;
  return n ? out : NULL;
}

static exec_agent_kind_t kind_of(const cfg_preset_t *p)
{
  if (!p || !strcmp(p->name, "claude-code"))
    return EXEC_AGENT_CLAUDE_CODE;
  if (p->mention || !strcmp(p->name, "github-mention"))
    return EXEC_AGENT_GITHUB_MENTION;
  return strcmp(p->name, "claude-flow") ? EXEC_AGENT_COMMAND
                                        : EXEC_AGENT_CLAUDE_FLOW;
}

/* The preset's env map as "NAME=value" strings packed into s->env_text;
 * NULL when empty. An entry that does not fit is left out, logged. */
static const char *const *env_of(const cfg_kvv_t *kv, exec_setup_t *s)
{
  size_t n = 0, used = 0;
  for (size_t i = 0; i < kv->n && n < MAX_ARGS; i++) {
    size_t room = sizeof(s->env_text) - used;
    int len = snprintf(s->env_text + used, room, "%s=%s", kv->v[i].key,
                       kv->v[i].value ? kv->v[i].value : "");
    if (len < 0 || (size_t)len >= room) {
      app_log(APP_LOG_WARN, "agents.env_dropped", "agent env %s left out: "
              "the preset's env is over %zu bytes", kv->v[i].key,
              sizeof(s->env_text));
      continue;
    }
    s->env[n++] = s->env_text + used;
    used += (size_t)len + 1;
  }
  s->env[n] = NULL;
  return n ? s->env : NULL;
}

static void preset_of(const cfg_t *cfg, exec_setup_t *s)
{
  const cfg_preset_t *p = cfg_default_preset(cfg);
  bool claude = kind_of(p) == EXEC_AGENT_CLAUDE_CODE;
  s->preset = (exec_preset_t){
      .name = p ? p->name : "claude-code",
      .kind = kind_of(p),
      .mention = p ? p->mention : NULL,
      .permission_mode = p && p->permission_mode ? p->permission_mode
                                                 : (claude ? "acceptEdits" : NULL),
      .model = p ? p->model : NULL,
      .append_system_prompt = p ? p->append_system_prompt : NULL,
  };
  if (p && !claude)
    s->preset.command = argv_of(&p->command, s->command);
  if (p) {
    s->preset.pass_env = argv_of(&p->pass_env, s->pass_env);
    s->preset.env = env_of(&p->env, s);
    s->preset.allowed_tools = argv_of(&p->allowed_tools, s->allowed_tools);
    s->preset.disallowed_tools =
        argv_of(&p->disallowed_tools, s->disallowed_tools);
  }
}

/* agents.prompts (task kind or "*" -> template), in file order. */
static size_t templates_of(const cfg_t *cfg, exec_setup_t *s)
{
  const cfg_kvv_t *p = &cfg->agents.prompts;
  size_t n = p->n < MAX_TEMPLATES ? p->n : MAX_TEMPLATES;
  if (p->n > MAX_TEMPLATES)
    app_log(APP_LOG_WARN, "agents.prompts_dropped", "only the first %d "
            "agents.prompts are used", MAX_TEMPLATES);
  for (size_t i = 0; i < n; i++)
    s->templates[i] = (exec_template_t){p->v[i].key, p->v[i].value};
  return n;
}

static size_t repos_of(const cfg_t *cfg, exec_setup_t *s)
{
  size_t n = 0;
  for (size_t i = 0; i < cfg->nrepos && n < MAX_REPOS; i++) {
    const cfg_repo_t *r = &cfg->repos[i];
    if (!r->path)
      continue;
    if (!realpath(r->path, s->root[n]))
      snprintf(s->root[n], PATH_MAX, "%s", r->path);
    app_repo_id_of(s->root[n], s->repo[n], 72);
    s->repos[n] = (exec_repo_t){
        .id = s->repo[n],
        .path = s->root[n],
        .base = r->base,
        .test_command = argv_of(&r->test_command, s->test_argv[n]),
        .github = r->github,
        .publish = r->publish,
        .remote = r->remote,
        .draft = r->draft,
    };
    n++;
  }
  return n;
}

/* A new setup from @p cfg, kept in daemon_exec.setups; NULL when out of
 * memory. The repositories are @p cfg's only at start (@p repos true). */
static exec_setup_t *setup_of(const cfg_t *cfg, bool repos)
{
  exec_setup_t *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  exec_config_t *c = &s->cfg;
  exec_config_defaults(c);
  preset_of(cfg, s);
  c->data_dir = cfg->data_dir;
  c->dry_run = cfg->agents.dry_run;
  c->concurrency = cfg->agents.concurrency;
  c->presets = &s->preset;
  c->npresets = 1;
  c->ntemplates = templates_of(cfg, s);
  c->templates = c->ntemplates ? s->templates : NULL;
  if (repos) {
    c->repos = s->repos;
    c->nrepos = repos_of(cfg, s);
  }
  c->budget.max_turns = cfg->agents.budget.max_turns;
  c->budget.max_usd_per_task = cfg->agents.budget.max_usd_per_task;
  c->budget.max_tasks_per_day = cfg->agents.budget.max_tasks_per_day;
  c->budget.max_usd_per_day = cfg->agents.budget.max_usd_per_day;
  if (cfg->agents.timeout_ms)
    c->budget.max_wall_s = (unsigned)((cfg->agents.timeout_ms + 999) / 1000);
  if (cfg->agents.idle_timeout_ms)
    c->idle_timeout_ms = (unsigned)cfg->agents.idle_timeout_ms;
  c->github_name = "github"; /* app_github.c's client, when it runs */
  s->older = daemon_exec.setups;
  daemon_exec.setups = s;
  return s;
}

int app_exec_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
                   const cfg_t *cfg)
{
  exec_setup_t *s = setup_of(cfg, true);
  int rc = s ? exec_feed_spawn(rt, store_actor, 0, &daemon_exec.feed)
             : RT_ENOMEM;
  if (rc == 0) {
    s->cfg.sink = daemon_exec.feed;
    rc = exec_spawn(rt, &s->cfg, store, store_actor, "executor",
                    &daemon_exec.executor);
  }
  if (rc != 0) {
    app_log_kv(APP_LOG_ERROR, "executor.start_failed",
               "cannot start the executor", "error", exec_strerror(rc), NULL);
    return rc;
  }
  return 0;
}

int app_exec_reload(const cfg_t *old, const cfg_t *now, void *arg)
{
  (void)old, (void)arg;
  exec_setup_t *s = daemon_exec.executor ? setup_of(now, false) : NULL;
  if (!s)
    return -1;
  return exec_reconfigure(daemon_exec.executor, &s->cfg) ? -1 : 0;
}

void app_exec_release(void)
{
  rt_actor_release(daemon_exec.executor);
  daemon_exec.executor = NULL;
  rt_actor_release(daemon_exec.feed);
  daemon_exec.feed = NULL;
}
