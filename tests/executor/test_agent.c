/*
 * test_agent.c: the contract of actors/executor/agent.h.
 *
 *  - prompt templates: every placeholder is filled from the task (title
 *    falls back to the text), unknown ones stay as written, braces without
 *    a close are kept; each kind has its default, a configured template
 *    for the kind wins, then a configured "*";
 *  - the claude-code argv: the default command, then --session-id,
 *    --max-turns, --max-budget-usd, --permission-mode, --model, tool lists
 *    and --append-system-prompt when configured, never twice when the
 *    template already has them; placeholders in a command template;
 *  - a command preset without a command is refused;
 *  - the joined command line quotes what a shell would split;
 *  - session ids are version-4 UUIDs, different each time.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "actors/executor/agent.h"
#include "tests/executor/exec_test.h"
#include "tests/support/store_test.h"

TestSuite(agent, .timeout = 30, .fini = ext_leak_check);

static size_t argc_of(char **argv)
{
  size_t n = 0;
  while (argv[n])
    n++;
  return n;
}

/* Index of @p flag in argv, or -1; asserts it appears at most once. */
static long flag_at(char **argv, const char *flag)
{
  long at = -1;
  for (size_t i = 0; argv[i]; i++) {
    if (strcmp(argv[i], flag) == 0) {
      cr_assert_eq(at, -1, "%s appears twice", flag);
      at = (long)i;
    }
  }
  return at;
}

Test(agent, prompt_placeholders)
{
  proto_task_t t;
  tst_task_init(&t, "abc123", "r1", "todo", PROTO_STATE_READY, 1);
  exec_vars_t v = {.branch = "ccm/abc123", .worktree = "/data/wt/abc123"};
  char *p = exec_prompt_render("{id} {repo} {kind} {title} {path}:{line}:"
                               "{column} {symbol} [{text}] {author} "
                               "#{issue_number} {labels} {branch} "
                               "{worktree} {nope} {unclosed",
                               &t, &v);
  cr_assert_str_eq(p, "abc123 r1 todo Handle the todo in abc123 "
                      "src/net/http_client.c:120:5 http_client_retry "
                      "[retry with backoff instead of failing on the first "
                      "503] Jane Doe <jane@example.com> #0 backend, p2 "
                      "ccm/abc123 /data/wt/abc123 {nope} {unclosed");
  free(p);
  free(t.title);
  t.title = NULL;
  p = exec_prompt_render("{title}", &t, NULL);
  cr_assert_str_eq(p, t.text, "no title: the text stands in");
  free(p);
  store_task_free(&t);
}

Test(agent, templates_per_kind_and_configured)
{
  cr_assert(strstr(exec_prompt_default("todo"), "{text}"));
  cr_assert(strstr(exec_prompt_default("secret"), "environment variable"));
  cr_assert(strstr(exec_prompt_default("refactor"), "without changing its "
                                                    "behaviour"));
  cr_assert(strstr(exec_prompt_default("issue"), "#{issue_number}"));
  cr_assert_str_eq(exec_prompt_default("todo"), exec_prompt_default(NULL));
  exec_template_t tm[] = {{"*", "any {id}"}, {"fixme", "fix {id}"}};
  exec_config_t cfg;
  exec_config_defaults(&cfg);
  cr_assert_str_eq(exec_prompt_template(&cfg, "fixme"),
                   exec_prompt_default("fixme"));
  cfg.templates = tm;
  cfg.ntemplates = 2;
  cr_assert_str_eq(exec_prompt_template(&cfg, "fixme"), "fix {id}");
  cr_assert_str_eq(exec_prompt_template(&cfg, "todo"), "any {id}");
}

Test(agent, claude_code_argv)
{
  proto_task_t t;
  tst_task_init(&t, "abc123", "r1", "todo", PROTO_STATE_READY, 1);
  const char *allowed[] = {"Edit", "Bash(sed:*)", NULL};
  exec_preset_t pre = {.name = "claude-code", .kind = EXEC_AGENT_CLAUDE_CODE,
                       .permission_mode = "acceptEdits", .model = "sonnet",
                       .allowed_tools = allowed,
                       .append_system_prompt = "Be brief."};
  exec_budget_t b = {.max_turns = 12, .max_usd_per_task = 1.5};
  exec_vars_t v = {.session_id = "0f0e0d0c-0b0a-4908-8706-050403020100"};
  char **argv = exec_argv_build(&pre, &b, &t, &v);
  cr_assert_not_null(argv);
  const char *head[] = {"claude", "-p", "--output-format", "stream-json",
                        "--verbose"};
  for (size_t i = 0; i < 5; i++)
    cr_assert_str_eq(argv[i], head[i]);
  struct {
    const char *flag, *value;
  } want[] = {{"--session-id", v.session_id}, {"--max-turns", "12"},
              {"--max-budget-usd", "1.50"}, {"--permission-mode", "acceptEdits"},
              {"--model", "sonnet"}, {"--allowedTools", "Edit,Bash(sed:*)"},
              {"--append-system-prompt", "Be brief."}};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    long at = flag_at(argv, want[i].flag);
    cr_assert_geq(at, 0, "%s missing", want[i].flag);
    cr_assert_str_eq(argv[at + 1], want[i].value);
  }
  cr_assert_eq(flag_at(argv, "--disallowedTools"), -1, "not configured");
  cr_assert_eq(argc_of(argv), 5 + 2 * 7);
  exec_argv_free(argv);

  /* flags already in the template are not added again */
  const char *cmd[] = {"claude", "-p", "--max-turns", "3", "--model", "opus",
                       "--output-format", "stream-json", "--verbose", NULL};
  pre.command = cmd;
  argv = exec_argv_build(&pre, &b, &t, &v);
  cr_assert_str_eq(argv[flag_at(argv, "--max-turns") + 1], "3");
  cr_assert_str_eq(argv[flag_at(argv, "--model") + 1], "opus");
  exec_argv_free(argv);
  store_task_free(&t);
}

Test(agent, command_preset_placeholders)
{
  proto_task_t t;
  tst_task_init(&t, "abc123", "r1", "todo", PROTO_STATE_READY, 1);
  const char *cmd[] = {"aider", "--message-file={prompt_file}",
                       "--dir", "{worktree}", "{task_id}@{repo}:{branch}",
                       "{session_id}", NULL};
  exec_preset_t pre = {.name = "aider", .kind = EXEC_AGENT_COMMAND,
                       .command = cmd, .model = "ignored here"};
  exec_vars_t v = {.branch = "ccm/abc123", .worktree = "/w/abc123",
                   .prompt_file = "/r/1.prompt.md", .session_id = "s-1"};
  exec_budget_t b = {.max_turns = 9};
  char **argv = exec_argv_build(&pre, &b, &t, &v);
  cr_assert_not_null(argv);
  cr_assert_eq(argc_of(argv), 6, "no claude flags on a command preset");
  cr_assert_str_eq(argv[1], "--message-file=/r/1.prompt.md");
  cr_assert_str_eq(argv[3], "/w/abc123");
  cr_assert_str_eq(argv[4], "abc123@r1:ccm/abc123");
  cr_assert_str_eq(argv[5], "s-1");
  exec_argv_free(argv);
  exec_preset_t none = {.name = "x", .kind = EXEC_AGENT_COMMAND};
  cr_assert_null(exec_argv_build(&none, &b, &t, &v));
  store_task_free(&t);
}

Test(agent, joined_command_line_is_quoted)
{
  char *argv[] = {"claude", "-p", "--append-system-prompt", "it's brief",
                  "--x=a,b", "", NULL};
  char *line = exec_argv_join(argv);
  cr_assert_str_eq(line, "claude -p --append-system-prompt 'it'\\''s brief' "
                         "--x=a,b ''");
  free(line);
}

Test(agent, session_ids_are_uuid4)
{
  char a[37], b[37];
  exec_uuid4(a);
  exec_uuid4(b);
  cr_assert_str_neq(a, b);
  cr_assert_eq(strlen(a), 36);
  cr_assert_eq(a[14], '4');
  cr_assert(strchr("89ab", a[19]), "variant bits: %s", a);
  for (int i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23)
      cr_assert_eq(a[i], '-');
    else
      cr_assert(strchr("0123456789abcdef", a[i]), "%s", a);
  }
}
