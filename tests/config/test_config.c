/*
 * test_config.c: loading ccm.yaml (config/config.h).
 *
 * Contract checked: cfg_defaults() is SPEC §3's embedded default (the
 * repository in the current directory, ./.ccm, 127.0.0.1:8080, dry-run)
 * and agrees with the scanner's own defaults; an empty file, a file of
 * comments and a file of empty sections load to exactly the defaults;
 * the SPEC §3 example and a file that sets every key load to the expected
 * struct; plain anchors and aliases work; an unreadable, missing or
 * oversized file fails with one placeless error; a failed load leaves the
 * output zeroed; errors are capped at CFG_ERRORS_MAX with a count of the
 * rest, sorted by place, and printed as FILE:LINE:COLUMN: message; an
 * alias bomb stops at the visit cap with an error that says so.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "scan/markers.h"
#include "scan/metrics.h"
#include "scan/walk.h"
#include "tests/config/cfg_test.h"
#include "tests/scan/leaks.h"

TestSuite(config, .timeout = 60, .fini = scan_test_check_leaks);

static void assert_strv(const cfg_strv_t *v, const char *const *want,
                        size_t n, const char *what)
{
  cr_assert_eq(v->n, n, "%s: %zu items, want %zu", what, v->n, n);
  for (size_t i = 0; i < n; i++)
    cr_assert_str_eq(v->v[i], want[i], "%s[%zu]", what, i);
}

static void assert_kv(const cfg_kvv_t *v, size_t i, const char *k,
                      const char *val)
{
  cr_assert_lt(i, v->n);
  cr_assert_str_eq(v->v[i].key, k);
  cr_assert_str_eq(v->v[i].value, val);
}

static const cfg_preset_t *preset(const cfg_t *c, const char *name)
{
  for (size_t i = 0; i < c->agents.npresets; i++)
    if (!strcmp(c->agents.presets[i].name, name))
      return &c->agents.presets[i];
  cr_assert_fail("no preset %s", name);
  return NULL;
}

/* Load @p text (as @p name), which must fail with CFG_EINVALID. */
static void load_invalid(const char *name, const char *text, cfg_errors_t *e)
{
  cfg_t c;
  cr_assert_eq(cfg_load_buffer(name, text, strlen(text), &c, e),
               CFG_EINVALID, "%s", name);
}

static const char *const claude_argv[] = {
    "claude", "-p", "--output-format", "stream-json", "--verbose",
    "--permission-mode", "acceptEdits"};

/* Everything cfg_defaults() promises, checked key by key. */
static void assert_defaults(const cfg_t *c)
{
  cr_assert_str_eq(c->listen.text, "127.0.0.1:8080");
  cr_assert_str_eq(c->listen.host, "127.0.0.1");
  cr_assert_eq(c->listen.port, 8080);
  cr_assert_str_eq(c->data_dir, "./.ccm");
  cr_assert_str_eq(c->auth_token_env, "CCM_TOKEN");
  cr_assert_eq(c->nrepos, 1);
  cr_assert_str_eq(c->repos[0].path, ".");
  cr_assert_null(c->repos[0].github);
  cr_assert_eq(c->repos[0].scan_interval_ms, 600000);
  cr_assert_str_eq(c->github.api_url, "https://api.github.com");
  cr_assert_str_eq(c->github.token_env, "GITHUB_TOKEN");
  cr_assert_str_eq(c->github.webhook_secret_env, "CCM_WEBHOOK_SECRET");
  cr_assert_eq(c->github.stale_days, 30);
  cr_assert_eq(c->github.auth_scheme, CFG_AUTH_TOKEN);
  cr_assert_str_eq(c->github.api_version, "2022-11-28");
  cr_assert_eq(c->scan.max_file_size, 1u << 20);
  cr_assert(c->scan.use_git && c->scan.refactor && c->scan.secrets);
  cr_assert_not(c->scan.markers_any_case);
  cr_assert_null(c->scan.secrets_allowlist);
  cr_assert_eq(c->priority.weights.value, 1.0);
  cr_assert_eq(c->priority.weights.job_size, 1.0);
  cr_assert_str_eq(c->agents.default_preset, "claude-code");
  cr_assert_eq(c->agents.concurrency, 2);
  cr_assert(c->agents.dry_run, "the embedded default is dry-run");
  cr_assert_eq(c->agents.auto_approve.n, 0, "nothing auto-approved");
  cr_assert_eq(c->agents.timeout_ms, 30 * 60000);
  cr_assert_eq(c->agents.budget.max_turns, 30);
  cr_assert_eq(c->agents.budget.max_usd_per_task, 2.0);
  cr_assert_eq(c->agents.budget.max_tasks_per_day, 20);
  cr_assert_eq(c->agents.npresets, 1);
  assert_strv(&preset(c, "claude-code")->command, claude_argv, 7, "command");
  cr_assert_eq(c->nalerts, 0);
  cr_assert_eq(c->nwebhooks, 0);
}

Test(config, defaults_are_the_embedded_default)
{
  cfg_t c;
  cfg_defaults(&c);
  assert_defaults(&c);
  cr_assert_str_eq(c.source, "(embedded default)");
  cr_assert_eq(cfg_default_preset(&c), &c.agents.presets[0]);
  cfg_fini(&c);
  cfg_t zero = {0};
  cr_assert_eq(memcmp(&c, &zero, sizeof c), 0, "cfg_fini zeroes");
  cfg_fini(&c); /* a zeroed cfg_t: no-op */
}

Test(config, defaults_agree_with_the_scanner)
{
  cfg_t c;
  cfg_defaults(&c);
  scan_thresholds_t t = scan_thresholds_default();
  cr_assert_eq(c.scan.thresholds.max_function_lines, t.max_function_lines);
  cr_assert_eq(c.scan.thresholds.max_nesting, t.max_nesting);
  cr_assert_eq(c.scan.thresholds.max_complexity, t.max_complexity);
  cr_assert_eq(c.scan.thresholds.max_params, t.max_params);
  cr_assert_eq(c.scan.thresholds.max_file_lines, t.max_file_lines);
  size_t n = 0;
  const char *const *ex = scan_walk_default_excludes(&n);
  assert_strv(&c.scan.exclude, ex, n, "exclude");
  const char *const *tags = scan_marker_default_tags(&n);
  assert_strv(&c.scan.markers, tags, n, "markers");
  cfg_fini(&c);
}

Test(config, empty_files_and_sections_load_the_defaults)
{
  static const char *const files[] = {"good/empty.yaml",
                                      "good/comments_only.yaml",
                                      "good/null_sections.yaml"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    cfg_t c;
    cfg_errors_t e;
    cfg_test_load(files[i], 0, &c, &e);
    cr_assert_eq(e.n + e.dropped, 0);
    assert_defaults(&c);
    cr_assert(strstr(c.source, files[i]), "source names the file");
    cfg_fini(&c);
    cfg_errors_fini(&e);
  }
}

Test(config, spec_example_parses_to_the_expected_struct)
{
  cfg_t c;
  cfg_errors_t e;
  cfg_test_load("good/spec_example.yaml", 0, &c, &e);
  cr_assert_str_eq(c.listen.host, "127.0.0.1");
  cr_assert_eq(c.listen.port, 8080);
  cr_assert_str_eq(c.data_dir, "./.ccm");
  cr_assert_str_eq(c.auth_token_env, "CCM_TOKEN");
  cr_assert_eq(c.nrepos, 1);
  cr_assert_str_eq(c.repos[0].path, "/srv/src/project");
  cr_assert_str_eq(c.repos[0].github, "owner/name");
  cr_assert_str_eq(c.repos[0].github_owner, "owner");
  cr_assert_str_eq(c.repos[0].github_name, "name");
  cr_assert_eq(c.repos[0].scan_interval_ms, 10 * 60000);
  cr_assert_str_eq(c.github.api_url, "https://api.github.com");
  cr_assert_str_eq(c.github.token_env, "GITHUB_TOKEN");
  cr_assert_str_eq(c.github.webhook_secret_env, "CCM_WEBHOOK_SECRET");
  cr_assert_eq(c.github.stale_days, 30);
  static const char *const markers[] = {"TODO", "FIXME", "HACK",
                                        "XXX",  "BUG",   "OPTIMIZE"};
  assert_strv(&c.scan.markers, markers, 6, "markers");
  cr_assert_eq(c.scan.max_file_size, 1048576);
  static const char *const exclude[] = {"vendor/", "node_modules/",
                                        "third_party/"};
  assert_strv(&c.scan.exclude, exclude, 3, "exclude");
  cr_assert_eq(c.priority.weights.time_criticality, 1.0);
  cr_assert_eq(c.priority.weights.risk_reduction, 1.0);
  cr_assert_str_eq(c.agents.default_preset, "claude-code");
  cr_assert_eq(c.agents.concurrency, 2);
  cr_assert(c.agents.dry_run);
  cr_assert_eq(c.agents.budget.max_turns, 30);
  cr_assert_eq(c.agents.budget.max_usd_per_task, 2.0);
  cr_assert_eq(c.agents.budget.max_tasks_per_day, 20);
  cr_assert_eq(c.agents.npresets, 1, "the file's claude-code replaces the "
                                     "built-in one, not a second preset");
  const cfg_preset_t *p = cfg_default_preset(&c);
  cr_assert_str_eq(p->name, "claude-code");
  assert_strv(&p->command, claude_argv, 7, "command");
  cr_assert_eq(p->env.n, 1);
  assert_kv(&p->env, 0, "ANTHROPIC_BASE_URL", "https://api.anthropic.com");
  cfg_fini(&c);
  cfg_errors_fini(&e);
}

static void assert_full_repos(const cfg_t *c)
{
  cr_assert_eq(c->nrepos, 3);
  cr_assert_str_eq(c->repos[0].path, "/srv/src/alpha");
  cr_assert_str_eq(c->repos[0].github_owner, "acme");
  cr_assert_str_eq(c->repos[0].github_name, "alpha");
  cr_assert_eq(c->repos[0].scan_interval_ms, 90 * 60000);
  cr_assert_str_eq(c->repos[0].base, "main");
  static const char *const test_cmd[] = {"make", "test"};
  assert_strv(&c->repos[0].test_command, test_cmd, 2, "test_command");
  cr_assert_null(c->repos[1].path, "a GitHub-only repository");
  cr_assert_str_eq(c->repos[1].github_name, "beta.js");
  cr_assert_eq(c->repos[1].scan_interval_ms, 0, "off");
  cr_assert_null(c->repos[1].base);
  cr_assert_str_eq(c->repos[2].path, "../gamma");
  cr_assert_eq(c->repos[2].scan_interval_ms, 45000);
}

static void assert_full_github_scan(const cfg_t *c)
{
  cr_assert_str_eq(c->github.api_url, "https://ghe.example.com/api/v3");
  cr_assert_str_eq(c->github.token_env, "GHE_TOKEN");
  cr_assert_str_eq(c->github.webhook_secret_env, "GHE_HOOK_SECRET");
  cr_assert_eq(c->github.stale_days, 14);
  cr_assert_str_eq(c->github.accept, "application/vnd.github+json");
  cr_assert_eq(c->github.auth_scheme, CFG_AUTH_BEARER);
  cr_assert_str_eq(c->github.user_agent, "ccm-test/1.0");
  cr_assert_str_eq(c->github.api_version, "", "\"\": no version header");
  static const char *const markers[] = {"TODO", "FIXME", "NOTE"};
  assert_strv(&c->scan.markers, markers, 3, "markers");
  cr_assert(c->scan.markers_any_case);
  cr_assert_eq(c->scan.max_file_size, 512 * 1024);
  static const char *const exclude[] = {"vendor/", "*.generated.c"};
  assert_strv(&c->scan.exclude, exclude, 2, "exclude");
  cr_assert_not(c->scan.use_git);
  cr_assert_eq(c->scan.thresholds.max_function_lines, 60);
  cr_assert_eq(c->scan.thresholds.max_nesting, 5);
  cr_assert_eq(c->scan.thresholds.max_complexity, 12);
  cr_assert_eq(c->scan.thresholds.max_params, 7);
  cr_assert_eq(c->scan.thresholds.max_file_lines, 2000);
  cr_assert_not(c->scan.refactor);
  cr_assert_not(c->scan.secrets);
  cr_assert_str_eq(c->scan.secrets_allowlist, ".ccm/secrets-allow");
  cr_assert_eq(c->priority.weights.value, 2.0);
  cr_assert_eq(c->priority.weights.time_criticality, 1.5);
  cr_assert_eq(c->priority.weights.risk_reduction, 0.5);
  cr_assert_eq(c->priority.weights.job_size, 3.0);
}

static void assert_full_agents(const cfg_t *c)
{
  const cfg_agents_t *a = &c->agents;
  cr_assert_str_eq(a->default_preset, "aider");
  cr_assert_eq(a->concurrency, 4);
  cr_assert_not(a->dry_run);
  static const char *const kinds[] = {"todo", "refactor", "note"};
  assert_strv(&a->auto_approve, kinds, 3, "auto_approve");
  cr_assert_eq(a->timeout_ms, 45 * 60000);
  cr_assert_eq(a->idle_timeout_ms, 2 * 60000);
  cr_assert_eq(a->budget.max_turns, 12);
  cr_assert_eq(a->budget.max_usd_per_task, 0.75);
  cr_assert_eq(a->budget.max_tasks_per_day, 0);
  cr_assert_eq(a->budget.max_usd_per_day, 25.0);
  cr_assert_eq(a->npresets, 2);
  const cfg_preset_t *cc = preset(c, "claude-code");
  assert_strv(&cc->command, claude_argv, 7, "built-in command kept");
  static const char *const pass[] = {"ANTHROPIC_API_KEY", "HTTPS_PROXY"};
  assert_strv(&cc->pass_env, pass, 2, "pass_env");
  cr_assert_str_eq(cc->model, "sonnet");
  cr_assert_str_eq(cc->permission_mode, "acceptEdits");
  cr_assert_str_eq(cc->append_system_prompt, "Keep changes small.");
  static const char *const allowed[] = {"Bash(sed:*)", "Edit"};
  assert_strv(&cc->allowed_tools, allowed, 2, "allowed_tools");
  cr_assert_eq(cc->disallowed_tools.n, 1);
  const cfg_preset_t *aider = cfg_default_preset(c);
  cr_assert_str_eq(aider->name, "aider");
  static const char *const argv[] = {"aider", "--yes", "--message-file",
                                     "{prompt_file}"};
  assert_strv(&aider->command, argv, 4, "aider command");
  assert_kv(&aider->env, 0, "AIDER_AUTO_COMMITS", "false");
  assert_kv(&aider->env, 1, "EMPTY", "");
  assert_kv(&a->prompts, 0, "*", "Work on {title} in {path}");
  assert_kv(&a->prompts, 1, "fixme", "Fix this: {text}\n");
}

static void assert_full_alerts_webhooks(const cfg_t *c)
{
  cr_assert_eq(c->nalerts, 2);
  cr_assert_str_eq(c->alerts[0].name, "queue-backlog");
  cr_assert_eq(c->alerts[0].metric, CFG_METRIC_QUEUE_DEPTH);
  cr_assert_eq(c->alerts[0].op, CFG_OP_GE);
  cr_assert_eq(c->alerts[0].threshold, 500.0);
  cr_assert_eq(c->alerts[0].for_ms, 5 * 60000);
  cr_assert_str_eq(c->alerts[0].webhook_url,
                   "https://alerts.example.com/hook");
  cr_assert_eq(c->alerts[1].metric, CFG_METRIC_FAILURE_RATE);
  cr_assert_eq(c->alerts[1].op, CFG_OP_GT);
  cr_assert_eq(c->alerts[1].threshold, 0.25);
  cr_assert_eq(c->alerts[1].for_ms, 0);
  cr_assert_null(c->alerts[1].webhook_url);
  cr_assert_eq(c->nwebhooks, 2);
  cr_assert_str_eq(c->webhooks[0].url, "https://hooks.example.com/ccm");
  cr_assert_str_eq(c->webhooks[0].secret_env, "HOOK_KEY");
  cr_assert_eq(c->webhooks[0].events,
               CFG_EVENT(TASK_COMPLETED) | CFG_EVENT(TASK_FAILED));
  cr_assert_null(c->webhooks[1].secret_env);
  cr_assert_eq(c->webhooks[1].events, CFG_EVENTS_ALL, "default: all");
}

Test(config, every_key_set_loads_to_the_expected_struct)
{
  cfg_t c;
  cfg_errors_t e;
  cfg_test_load("good/full.yaml", 0, &c, &e);
  cr_assert_str_eq(c.listen.text, "[::1]:9090");
  cr_assert_str_eq(c.listen.host, "::1");
  cr_assert_eq(c.listen.port, 9090);
  cr_assert_str_eq(c.data_dir, "/var/lib/ccm");
  cr_assert_str_eq(c.auth_token_env, "CCM_CONTROL_TOKEN");
  assert_full_repos(&c);
  assert_full_github_scan(&c);
  assert_full_agents(&c);
  assert_full_alerts_webhooks(&c);
  char line[512];
  cfg_describe(&c, line, sizeof line);
  cr_assert(strstr(line, "3 repositories (2 on GitHub)"), "%s", line);
  cr_assert(strstr(line, "listen [::1]:9090"), "%s", line);
  cr_assert(strstr(line, "agent aider (live, concurrency 4"), "%s", line);
  cr_assert(strstr(line, "2 alert rules, 2 webhooks"), "%s", line);
  cfg_fini(&c);
  cfg_errors_fini(&e);
}

Test(config, plain_anchors_and_aliases_are_accepted)
{
  cfg_t c;
  cfg_errors_t e;
  cfg_test_load("good/anchors.yaml", 0, &c, &e);
  static const char *const keys[] = {"ANTHROPIC_API_KEY", "OPENAI_API_KEY"};
  assert_strv(&preset(&c, "one")->pass_env, keys, 2, "one");
  assert_strv(&preset(&c, "two")->pass_env, keys, 2, "two (alias)");
  cfg_fini(&c);
  cfg_errors_fini(&e);
}

Test(config, buffer_values_in_their_other_spellings)
{
  static const char text[] =
      "listen: localhost:0\n"
      "repos:\n"
      "  - {path: ., scan_interval: off}\n"
      "  - {path: ./b, scan_interval: 2d}\n"
      "scan: {markers: [], max_file_size: 2 MB, exclude: []}\n"
      "github: {token_env: ~, api_url: http://127.0.0.1:3000}\n"
      "agents: {dry_run: False, budget: {max_usd_per_task: 1e1}}\n";
  cfg_t c;
  cfg_errors_t e;
  int rc = cfg_load_buffer("inline.yaml", text, sizeof text - 1, &c, &e);
  cfg_errors_print(&e, stderr);
  cr_assert_eq(rc, 0);
  cr_assert_str_eq(c.listen.host, "localhost");
  cr_assert_eq(c.listen.port, 0, "port 0: the system picks one");
  cr_assert_eq(c.repos[0].scan_interval_ms, 0);
  cr_assert_eq(c.repos[1].scan_interval_ms, 2 * 86400000ull);
  cr_assert_eq(c.scan.markers.n, 0, "markers: [] turns markers off");
  cr_assert_eq(c.scan.exclude.n, 0);
  cr_assert_eq(c.scan.max_file_size, 2000000);
  cr_assert_null(c.github.token_env, "~: anonymous GitHub requests");
  cr_assert_not(c.agents.dry_run);
  cr_assert_eq(c.agents.budget.max_usd_per_task, 10.0);
  cfg_fini(&c);
  cfg_errors_fini(&e);
}

Test(config, a_failed_load_leaves_the_output_zeroed)
{
  static const char text[] = "listen: nowhere\n";
  cfg_t c;
  memset(&c, 0xAB, sizeof c);
  cfg_errors_t e;
  cr_assert_eq(cfg_load_buffer("x.yaml", text, sizeof text - 1, &c, &e),
               CFG_EINVALID);
  cfg_t zero = {0};
  cr_assert_eq(memcmp(&c, &zero, sizeof c), 0);
  cr_assert_eq(e.n, 1);
  cr_assert_str_eq(e.file, "x.yaml");
  cfg_errors_fini(&e);
}

Test(config, missing_file_and_directory_fail_with_one_placeless_error)
{
  cfg_t c;
  cfg_errors_t e;
  cfg_test_load("good/no-such-file.yaml", CFG_EIO, &c, &e);
  cr_assert_eq(e.n, 1);
  cr_assert_eq(e.v[0].line, 0);
  cr_assert_str_eq(e.v[0].message, "cannot read: No such file or directory");
  cfg_errors_fini(&e);
  cfg_test_load("good", CFG_EIO, &c, &e);
  cr_assert_str_eq(e.v[0].message, "cannot read: Is a directory");
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  cr_assert_eq(cfg_errors_print(&e, mem), 1);
  fclose(mem);
  char want[1200];
  snprintf(want, sizeof want, "%s: cannot read: Is a directory\n",
           cfg_test_path("good"));
  cr_assert_str_eq(text, want);
  free(text);
  cfg_errors_fini(&e);
}

Test(config, a_file_over_one_mib_is_refused)
{
  char path[] = "/tmp/ccm-config-big-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  char block[4096];
  memset(block, '#', sizeof block);
  for (size_t done = 0; done <= CFG_FILE_MAX; done += sizeof block)
    cr_assert_eq(write(fd, block, sizeof block), (ssize_t)sizeof block);
  close(fd);
  cfg_t c;
  cfg_errors_t e;
  int rc = cfg_load_file(path, &c, &e);
  unlink(path);
  cr_assert_eq(rc, CFG_ETOOBIG);
  cr_assert_eq(e.n, 1);
  cr_assert(strstr(e.v[0].message, "larger than 1048576 bytes"));
  cfg_errors_fini(&e);
}

Test(config, errors_are_capped_counted_and_printed)
{
  char text[4096];
  size_t o = 0;
  for (int i = 0; i < 60; i++)
    o += (size_t)snprintf(text + o, sizeof text - o, "unknown_%02d: 1\n", i);
  cfg_errors_t e;
  load_invalid("many.yaml", text, &e);
  cr_assert_eq(e.n, CFG_ERRORS_MAX);
  cr_assert_eq(e.dropped, 10);
  char *out = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&out, &len);
  cr_assert_eq(cfg_errors_print(&e, mem), CFG_ERRORS_MAX + 1);
  fclose(mem);
  cr_assert(strstr(out, "many.yaml:1:1: unknown key 'unknown_00' (known "
                        "here: listen, data_dir,") == out, "%s", out);
  cr_assert(strstr(out, "\nmany.yaml:50:1: unknown key 'unknown_49'"));
  cr_assert(strstr(out, "\nmany.yaml: 10 more errors not shown\n"));
  free(out);
  cfg_errors_fini(&e);
}

Test(config, errors_are_sorted_by_place)
{
  /* agents.default is checked after the walk, so its error (line 1) is
   * found after the listen error (line 2). */
  cfg_errors_t e;
  load_invalid("s.yaml", "agents: {default: nope}\nlisten: bad\n", &e);
  cr_assert_eq(e.n, 2);
  cr_assert_eq(e.v[0].line, 1);
  cr_assert_eq(e.v[0].column, 19);
  cr_assert_eq(e.v[1].line, 2);
  cfg_errors_fini(&e);
}

Test(config, errors_of_one_place_keep_the_order_they_were_found_in)
{
  cfg_errors_t e;
  load_invalid("a.yaml", "alerts:\n  - {name: a}\n", &e);
  char *lines = cfg_test_error_lines(&e);
  cr_assert_str_eq(lines, "2:5: alerts[0]: missing key 'metric'\n"
                          "2:5: alerts[0]: missing key 'op'\n"
                          "2:5: alerts[0]: missing key 'threshold'\n");
  free(lines);
  cfg_errors_fini(&e);
}

/* presets: {p0: *p, p1: *p, ...}: each alias makes the walk visit the
 * 200-item command again; 10,000 of them are 2 M visits. */
Test(config, an_alias_bomb_stops_at_the_visit_cap, .timeout = 30)
{
  size_t cap = 400000, o = 0;
  char *text = malloc(cap);
  o += (size_t)snprintf(text + o, cap - o, "x: &p {command: [");
  for (int i = 0; i < 200; i++)
    o += (size_t)snprintf(text + o, cap - o, "a, ");
  o += (size_t)snprintf(text + o, cap - o, "a]}\nagents:\n  presets: {");
  for (int i = 0; i < 10000; i++)
    o += (size_t)snprintf(text + o, cap - o, "p%d: *p, ", i);
  o += (size_t)snprintf(text + o, cap - o, "last: *p}\n");
  cfg_errors_t e;
  load_invalid("bomb.yaml", text, &e);
  bool stopped = false;
  for (size_t i = 0; i < e.n; i++)
    stopped |= strstr(e.v[i].message, "more than 1000000 values") != NULL;
  cr_assert(stopped, "the visit cap is reported");
  cr_assert_leq(e.n, CFG_ERRORS_MAX + 1);
  free(text);
  cfg_errors_fini(&e);
}

Test(config, names_and_comparisons)
{
  cr_assert_str_eq(cfg_metric_name(CFG_METRIC_STUCK_ACTORS), "stuck_actors");
  cr_assert_str_eq(cfg_metric_name(CFG_METRIC__COUNT), "?");
  cr_assert_str_eq(cfg_event_name(CFG_EVENT_BIT_REPOSITORY_SCANNED),
                   "repository.scanned");
  cr_assert_str_eq(cfg_op_name(CFG_OP_NE), "!=");
  cr_assert(cfg_op_holds(CFG_OP_GE, 5, 5));
  cr_assert_not(cfg_op_holds(CFG_OP_GT, 5, 5));
  cr_assert(cfg_op_holds(CFG_OP_LT, 4, 5));
  cr_assert(cfg_op_holds(CFG_OP_NE, 4, 5));
  cr_assert(strstr(cfg_strerror(CFG_EINVALID), "CFG_EINVALID: "));
  cr_assert_str_eq(cfg_strerror(-ENOENT), strerror(ENOENT));
}
