/*
 * app_exec.c: the executor for `ccm serve`, until the YAML config
 * (issue #8) provides presets, budgets and repositories: the embedded
 * default of SPEC §3 — dry run (nothing is started; each task records the
 * exact command it would have run), the claude-code preset with
 * acceptEdits, the current directory as the one repository, worktrees
 * under the data dir. Registered as "executor", the name the control
 * plane sends run/cancel commands to.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "actors/executor/executor.h"
#include "app/app.h"

static struct {
  char root[PATH_MAX];
  char repo[72];
  exec_preset_t preset;
  exec_repo_t repos[1];
  exec_config_t cfg;
  rt_actor_t *executor;
} daemon_exec;

int app_exec_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
                   const char *data_dir)
{
  if (!getcwd(daemon_exec.root, sizeof daemon_exec.root))
    snprintf(daemon_exec.root, sizeof daemon_exec.root, ".");
  app_repo_id_of(daemon_exec.root, daemon_exec.repo, sizeof daemon_exec.repo);
  daemon_exec.preset = (exec_preset_t){
      .name = "claude-code",
      .kind = EXEC_AGENT_CLAUDE_CODE,
      .permission_mode = "acceptEdits",
  };
  daemon_exec.repos[0] = (exec_repo_t){.id = daemon_exec.repo,
                                       .path = daemon_exec.root};
  exec_config_t *c = &daemon_exec.cfg;
  exec_config_defaults(c);
  c->data_dir = data_dir;
  c->dry_run = true;
  c->presets = &daemon_exec.preset;
  c->npresets = 1;
  c->repos = daemon_exec.repos;
  c->nrepos = 1;
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
