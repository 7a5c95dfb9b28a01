/*
 * app_exec.c: the executor for `ccm serve` from the config's agents
 * section (SPEC §3): the default preset (claude-code with acceptEdits in
 * the embedded default, or a command template), dry run unless the config
 * says otherwise (then each task records the exact command it would have
 * run), concurrency, budgets, and the repositories with a local path;
 * worktrees under the data dir. Registered as "executor", the name the
 * control plane sends run/cancel commands to.
 *
 * Presets by name: `claude-code` (stream-json, supervision flags),
 * `claude-flow` (its command template, judged by exit status), a preset
 * with a `mention` (or named `github-mention`: comments on the task's
 * issue), anything else a generic command. Pull requests and mentions go
 * through the GitHub client registered as "github" (app_github.c, started
 * when github.token_env is set), looked up when a run needs it; without
 * one a run says so (publishing stops after the push).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/executor/executor.h"
#include "app/app.h"

#define MAX_REPOS 16
#define MAX_ARGS 64

static struct {
  char root[MAX_REPOS][PATH_MAX];
  char repo[MAX_REPOS][72];
  const char *test_argv[MAX_REPOS][MAX_ARGS + 1];
  const char *command[MAX_ARGS + 1];
  const char *pass_env[MAX_ARGS + 1];
  exec_preset_t preset;
  exec_repo_t repos[MAX_REPOS];
  exec_config_t cfg;
  rt_actor_t *executor;
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

static void preset_of(const cfg_t *cfg)
{
  const cfg_preset_t *p = cfg_default_preset(cfg);
  bool claude = kind_of(p) == EXEC_AGENT_CLAUDE_CODE;
  daemon_exec.preset = (exec_preset_t){
      .name = p ? p->name : "claude-code",
      .kind = kind_of(p),
      .mention = p ? p->mention : NULL,
      .permission_mode = p && p->permission_mode ? p->permission_mode
                                                 : (claude ? "acceptEdits" : NULL),
      .model = p ? p->model : NULL,
      .append_system_prompt = p ? p->append_system_prompt : NULL,
  };
  if (p && !claude)
    daemon_exec.preset.command = argv_of(&p->command, daemon_exec.command);
  if (p)
    daemon_exec.preset.pass_env = argv_of(&p->pass_env, daemon_exec.pass_env);
}

static size_t repos_of(const cfg_t *cfg)
{
  size_t n = 0;
  for (size_t i = 0; i < cfg->nrepos && n < MAX_REPOS; i++) {
    const cfg_repo_t *r = &cfg->repos[i];
    if (!r->path)
      continue;
    if (!realpath(r->path, daemon_exec.root[n]))
      snprintf(daemon_exec.root[n], PATH_MAX, "%s", r->path);
    app_repo_id_of(daemon_exec.root[n], daemon_exec.repo[n], 72);
    daemon_exec.repos[n] = (exec_repo_t){
        .id = daemon_exec.repo[n],
        .path = daemon_exec.root[n],
        .base = r->base,
        .test_command = argv_of(&r->test_command, daemon_exec.test_argv[n]),
        .github = r->github,
        .publish = r->publish,
        .remote = r->remote,
        .draft = r->draft,
    };
    n++;
  }
  return n;
}

int app_exec_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
                   const cfg_t *cfg)
{
  exec_config_t *c = &daemon_exec.cfg;
  exec_config_defaults(c);
  preset_of(cfg);
  c->data_dir = cfg->data_dir;
  c->dry_run = cfg->agents.dry_run;
  c->concurrency = cfg->agents.concurrency;
  c->presets = &daemon_exec.preset;
  c->npresets = 1;
  c->repos = daemon_exec.repos;
  c->nrepos = repos_of(cfg);
  c->budget.max_turns = cfg->agents.budget.max_turns;
  c->budget.max_usd_per_task = cfg->agents.budget.max_usd_per_task;
  c->budget.max_tasks_per_day = cfg->agents.budget.max_tasks_per_day;
  c->budget.max_usd_per_day = cfg->agents.budget.max_usd_per_day;
  if (cfg->agents.timeout_ms)
    c->budget.max_wall_s = (unsigned)((cfg->agents.timeout_ms + 999) / 1000);
  if (cfg->agents.idle_timeout_ms)
    c->idle_timeout_ms = (unsigned)cfg->agents.idle_timeout_ms;
  c->github_name = "github"; /* app_github.c's client, when it runs */
  int rc = exec_spawn(rt, c, store, store_actor, "executor",
                      &daemon_exec.executor);
  if (rc != 0) {
    fprintf(stderr, "ccm: cannot start the executor: %s\n", exec_strerror(rc));
    return rc;
  }
  return 0;
}

void app_exec_release(void)
{
  rt_actor_release(daemon_exec.executor);
  daemon_exec.executor = NULL;
}
