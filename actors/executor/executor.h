/*
 * executor.h: run AI coding agents on tasks, in git worktrees (SPEC §1.4).
 *
 * One executor actor owns a queue and a pool of runs. Ask it to run a
 * task (EXEC_MSG_RUN, the task must be `ready`, i.e. approved); when a
 * slot is free and the budgets allow, it moves the task to `running`
 * through the store actor, and a run actor of its own:
 *   1. makes a worktree <data>/worktrees/<task-id> on branch ccm/<task-id>
 *      from the repository's base (never the user's working copy),
 *   2. renders the prompt (agent.h) into <data>/runs/<task-id>/,
 *   3. starts the agent preset in its own process group, prompt on stdin,
 *      minimal environment (proc.h), watches its pipes (rt_fd_watch) and
 *      its exit (a pidfd), kills the group on idle or wall timeout,
 *   4. republishes every output line to the sink as AGENT_OUTPUT and reads
 *      Claude Code's stream-json events (stream.h) to classify the outcome,
 *   5. commits what changed on the branch, checks the policy gate
 *      (gate.h), runs the repository's test command in the worktree,
 *   6. with `publish` on for the repository, pushes ccm/<task-id> and
 *      opens a pull request through the GitHub client actor (gh.h); the
 *      task gets pr_url (the webhooks move it on when the PR is merged or
 *      closed),
 *   7. removes the worktree (the branch stays when it holds a commit).
 * The github-mention preset runs no agent: it comments on the task's
 * issue (addressed to its `mention`) and the task waits in review.
 * The executor then records the outcome: a transition running -> review
 * (success, gate and tests passed), -> failed (with the reason), or ->
 * ready (dry run, cancel, usage limit, retry of a transient failure), and
 * an EVENT (topic "executor") with everything measured (docs/executor.md
 * lists its fields). Once the store has acknowledged that event, the same
 * EVENT goes to the sink.
 *
 * Budgets are checked before a start: tasks per day and dollars per day
 * (the day's spend plus this task's dollar cap must fit), from a ledger
 * rebuilt from the store's events at start-up. Per task: --max-turns,
 * --max-budget-usd and the wall-clock limit. A usage limit pauses every
 * start until its reset time; the task goes back to the queue, and that
 * run does not count as a failure.
 *
 * Restart safety: at start-up, tasks left `running` are moved back to
 * `ready`, the agents a killed ccm left running are stopped (their groups
 * are recorded in <data>/runs/<task-id>/<attempt>.pid), and their
 * worktrees and branches are removed.
 */
#ifndef CCM_EXEC_EXECUTOR_H
#define CCM_EXEC_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/executor/gate.h"
#include "runtime/actor.h"
#include "store/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: 0 ok; rt_, store_ and -errno codes pass through; ours sit
 * in -36500..-36599 (the prioritizer may take the rest of -36xxx). */
#define EXEC_ERRNO_MAP(XX)                                                    \
  XX(ENOTFOUND, -36501, "no such task")                                       \
  XX(ESTATE, -36502, "task is not ready (it must be approved first)")         \
  XX(EBUSY, -36503, "task is already queued or running")                      \
  XX(ENOREPO, -36504, "the task's repository has no local path configured")   \
  XX(EBUDGET, -36505, "the daily budget is spent")                            \
  XX(EINVAL, -36506, "invalid argument")                                      \
  XX(EPRESET, -36507, "no usable agent preset")

enum exec_errno {
#define EXEC_ERR_ENUM(name, code, text) EXEC_##name = (code),
  EXEC_ERRNO_MAP(EXEC_ERR_ENUM)
#undef EXEC_ERR_ENUM
};
/** "EXEC_ENOTFOUND: ...", or the rt_/store_/errno text. Never NULL. */
const char *exec_strerror(int rc);

/* Runtime message types (0x5E00xxxx). */
enum {
  /* Run a task: payload = its id (bytes, no NUL needed). As a request
   * (rt_request/rt_call) it is answered with EXEC_MSG_REPLY: 0 (queued),
   * EXEC_ENOTFOUND, EXEC_ESTATE, EXEC_EBUSY, EXEC_ENOREPO, EXEC_EBUDGET. */
  EXEC_MSG_RUN = 0x5E000001u,
  /* Cancel a queued or running task: payload = its id. A running agent is
   * stopped (SIGTERM, SIGKILL after the grace) and the task goes back to
   * ready. Reply: 0 or EXEC_ENOTFOUND (not queued nor running). */
  EXEC_MSG_CANCEL,
  /* Reply payload: int32_t rc. */
  EXEC_MSG_REPLY,
  /* A snapshot (request, empty payload): the reply is EXEC_MSG_STATUS
   * with a JSON object {"running":[ids],"queued":[ids],"paused_until":
   * unix ms or 0,"day":{"tasks":n,"usd":x}}. */
  EXEC_MSG_STATUS,
  /* Take new settings (a SIGHUP reload): payload = a `const exec_config_t
   * *` (the pointer's bytes) that, with everything it points to, stays
   * valid while the executor runs. Taken: concurrency, dry_run, budget,
   * presets and preset, templates, policy, the timeouts, retries and
   * pauses; kept: data_dir, repos, sink, github. Runs already started
   * keep the settings they started with. Reply (when a request):
   * EXEC_MSG_REPLY 0, or EXEC_EPRESET (nothing changed) when the preset
   * named is not among the presets. */
  EXEC_MSG_RECONFIGURE,
  EXEC_MSG__FIRST_INTERNAL = 0x5E000100u,
};

typedef enum exec_agent_kind {
  EXEC_AGENT_CLAUDE_CODE, /* stream-json; supervision flags added */
  EXEC_AGENT_COMMAND,     /* any CLI; judged by its exit status unless it
                             prints stream-json result lines */
  EXEC_AGENT_CLAUDE_FLOW, /* claude-flow: a command template (default
                             EXEC_CLAUDE_FLOW_COMMAND); judged like a
                             command: a stream-json result line if it
                             prints one, else its exit status; its JSON
                             lines are counted and republished */
  EXEC_AGENT_GITHUB_MENTION, /* no local agent: the prompt is posted as a
                             comment on the task's issue, addressed to
                             `mention` ("@claude"); the task then waits in
                             `review` for the pull request, which the
                             webhooks track */
} exec_agent_kind_t;

/* The claude-flow preset's default argv (the prompt file is named on the
 * command line, the prompt text stays on stdin). */
#define EXEC_CLAUDE_FLOW_COMMAND                                             \
  "npx", "--yes", "claude-flow@alpha", "swarm",                              \
      "Carry out the task described in {prompt_file} in this directory",    \
      "--non-interactive", "--output-format", "stream-json"
/* The github-mention preset's default mention. */
#define EXEC_DEFAULT_MENTION "@claude"

/* An agent preset (SPEC §3 agents.presets). Lists are NULL-terminated. */
typedef struct exec_preset {
  const char *name;              /* "claude-code" */
  exec_agent_kind_t kind;
  const char *const *command;    /* argv template; NULL for claude-code:
                                    claude -p --output-format stream-json
                                    --verbose */
  const char *const *env;        /* "NAME=value" added to the environment */
  const char *const *pass_env;   /* names copied from ccm's environment */
  /* claude-code only; each added when set */
  const char *permission_mode;
  const char *model;
  const char *append_system_prompt;
  const char *const *allowed_tools;
  const char *const *disallowed_tools;
  /* github-mention only: who the comment addresses; NULL: "@claude" */
  const char *mention;
} exec_preset_t;

/* A repository the executor may work in. */
typedef struct exec_repo {
  const char *id;                /* the tasks' "repo" */
  const char *path;              /* local git repository */
  const char *base;              /* base branch; NULL: its HEAD */
  const char *const *test_command; /* argv run in the worktree after the
                                      gate; NULL: none */
  unsigned concurrency;          /* runs at once in this repo; 0: no cap */
  /* Publishing (off by default): after a run that passed the gate and the
   * tests, push ccm/<task-id> to `remote` and open a pull request on
   * `github` through the GitHub client (exec_config_t.github). */
  const char *github;            /* "owner/name"; NULL: no pull requests
                                    (and no github-mention) */
  bool publish;                  /* push and open a pull request */
  const char *remote;            /* git remote name or URL; NULL: origin */
  bool draft;                    /* open pull requests as drafts */
} exec_repo_t;

typedef struct exec_budget {
  unsigned max_turns;            /* per task (--max-turns); 0: 30 */
  double max_usd_per_task;       /* per task (--max-budget-usd); 0: none */
  unsigned max_wall_s;           /* per task wall clock; 0: 1800 */
  unsigned max_tasks_per_day;    /* starts per UTC day; 0: no cap */
  double max_usd_per_day;        /* dollars per UTC day; 0: no cap */
} exec_budget_t;

/* A prompt template for one task kind ("*": any kind). */
typedef struct exec_template {
  const char *kind;
  const char *text;
} exec_template_t;

/* Configuration: plain values; every pointer must outlive the executor. */
typedef struct exec_config {
  const char *data_dir;          /* required: worktrees/ and runs/ below */
  unsigned concurrency;          /* runs at once; 0: 2 */
  bool dry_run;                  /* everything but starting the agent */
  const exec_preset_t *presets;  /* at least one */
  size_t npresets;
  const char *preset;            /* the one to use; NULL: the first */
  const exec_repo_t *repos;
  size_t nrepos;
  exec_budget_t budget;
  exec_policy_t policy;          /* gate.h; zeros: default globs, no caps */
  const exec_template_t *templates; /* may be NULL */
  size_t ntemplates;
  unsigned idle_timeout_ms;      /* no output this long: a stall; 0: 600 s */
  unsigned kill_grace_ms;        /* SIGTERM -> SIGKILL; 0: 5 s */
  unsigned test_timeout_ms;      /* the test command's wall clock; 0: 600 s */
  unsigned max_retries;          /* retries of transient failures; 0: none */
  unsigned retry_backoff_ms;     /* first retry delay, doubling; 0: 30 s */
  unsigned usage_pause_ms;       /* pause when no reset time is known;
                                    0: 15 min */
  size_t max_line;               /* longest output line parsed; 0: 1 MiB */
  bool keep_worktrees;           /* leave worktrees after runs */
  rt_actor_t *sink;              /* AGENT_OUTPUT and outcome EVENTs; NULL:
                                    none (a reference is kept) */
  rt_actor_t *github;            /* GitHub client actor (github/gh.h) for
                                    pull requests and mentions; NULL: none
                                    (a reference is kept) */
  const char *github_name;       /* without `github`: the registered name
                                    of the client, looked up when a run
                                    needs it ("github"); NULL: none */
  unsigned github_timeout_ms;    /* one GitHub request, retries and rate-
                                    limit holds included; 0: 10 min */
} exec_config_t;

/** Fill @p cfg with the defaults above (no presets, repos or data dir). */
void exec_config_defaults(exec_config_t *cfg);

/**
 * Spawn the executor. It reads tasks from @p store (borrowed; close it
 * after the executor stopped) and writes through @p store_actor (a
 * reference is kept). At start it requeues tasks left `running` and
 * rebuilds the day's budget ledger.
 * @param name  registered name, or NULL.
 * @return 0, EXEC_EINVAL (no data dir, no preset, unknown preset name),
 *         or an rt_actor_spawn() code; *out always written.
 */
int exec_spawn(rt_runtime_t *rt, const exec_config_t *cfg, store_t *store,
               rt_actor_t *store_actor, const char *name, rt_actor_t **out);

/** From a thread that is not a worker: send EXEC_MSG_RUN (or CANCEL when
 * @p cancel) for @p task_id and wait for the reply. @return its rc, or an
 * rt_call() error. */
int exec_request(rt_runtime_t *rt, rt_actor_t *executor, const char *task_id,
                 bool cancel, uint32_t timeout_ms);

/** Send EXEC_MSG_RECONFIGURE with @p cfg (which must outlive the
 * executor) without waiting. @return 0 or an rt_send() code. */
int exec_reconfigure(rt_actor_t *executor, const exec_config_t *cfg);

/**
 * Spawn the agent-output feed (feed.c), a sink for exec_config_t.sink:
 * each AGENT_OUTPUT line becomes an "agent-output" EVENT appended through
 * @p store_actor (a reference is kept), the first @p max_lines lines of a
 * run (0: 1000) and then one notice; later lines are not published (the
 * run's log files keep them). Outcome EVENTs sent to it are ignored.
 * @return 0, EXEC_EINVAL (no store actor) or an rt_actor_spawn() code;
 *         *out always written.
 */
int exec_feed_spawn(rt_runtime_t *rt, rt_actor_t *store_actor,
                    unsigned max_lines, rt_actor_t **out);

#ifdef __cplusplus
}
#endif
#endif /* CCM_EXEC_EXECUTOR_H */
