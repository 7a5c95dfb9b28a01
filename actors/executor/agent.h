/*
 * agent.h: what an agent is given: its prompt and its command line.
 *
 * Prompts are templates with {placeholders} filled from the task: {id}
 * {repo} {kind} {title} {path} {line} {column} {symbol} {text} {author}
 * {issue_number} {labels} {branch} {worktree}. An unknown placeholder is
 * left as written. Each task kind has a default template (markers,
 * refactor, secret, issue, and a generic one); the configuration may
 * replace any of them.
 *
 * Command lines are argv templates: each element may hold {task_id}
 * {worktree} {prompt_file} {session_id} {branch} {repo}. The claude-code
 * preset then gets the supervision flags ccm needs (--session-id,
 * --max-turns, --max-budget-usd, --permission-mode, --model,
 * --allowedTools, --disallowedTools, --append-system-prompt), each only
 * when configured and not already in the template. The prompt itself
 * always goes on stdin (claude -p reads it there), never on the command
 * line, where other users could read it in ps.
 */
#ifndef CCM_EXEC_AGENT_H
#define CCM_EXEC_AGENT_H

#include <stddef.h>

#include "actors/executor/executor.h"
#include "protocol/proto.h"

/* Values that are not task fields. */
typedef struct exec_vars {
  const char *branch;
  const char *worktree;
  const char *prompt_file;
  const char *session_id;
} exec_vars_t;

/** The default template for a task kind (static; never NULL). */
const char *exec_prompt_default(const char *kind);

/**
 * Render @p tmpl for @p task. @return a malloc'd string, or NULL when out
 * of memory. Task text is inserted as is (the prompt is a file on stdin,
 * not a shell command).
 */
char *exec_prompt_render(const char *tmpl, const proto_task_t *task,
                         const exec_vars_t *vars);

/** The template @p cfg gives for @p kind (a configured one for the kind,
 * else a configured "*", else the default). */
const char *exec_prompt_template(const exec_config_t *cfg, const char *kind);

/**
 * Build the argv of @p preset for one run (NULL-terminated, malloc'd, with
 * malloc'd elements: free with exec_argv_free()).
 * @return NULL when out of memory or when a command preset has no command.
 */
char **exec_argv_build(const exec_preset_t *preset, const exec_budget_t *budget,
                       const proto_task_t *task, const exec_vars_t *vars);
void exec_argv_free(char **argv);

/** The argv as one line with shell quoting where needed (for the record
 * of a dry run): malloc'd. */
char *exec_argv_join(char *const *argv);

/** A random version-4 UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
void exec_uuid4(char out[37]);

#endif /* CCM_EXEC_AGENT_H */
