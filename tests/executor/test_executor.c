/*
 * test_executor.c: the executor actors end to end (actors/executor/
 * executor.h): a real runtime, store and store actor, a git repository
 * made by the test, and fake_agent.py standing in for `claude` as the
 * claude-code preset (it replays the recorded transcripts and edits files
 * as each task's text tells it: "fake-agent: ARGS").
 *
 *  - a successful run goes to review with its branch, commit, diff stat,
 *    cost, turns, tokens and session id (the one ccm passed with
 *    --session-id); every output line reaches the sink as AGENT_OUTPUT;
 *    the prompt came on stdin; the environment is minimal; the worktree is
 *    gone afterwards and the user's working copy untouched;
 *  - every outcome class is recorded right: max turns, max budget, error,
 *    API error, crash -> failed; garbage around a success -> review; a
 *    usage limit -> back to ready, not failed, and every start paused;
 *  - a stall is killed with its whole process group (grandchildren that
 *    ignore SIGTERM too); the wall clock limit holds;
 *  - the policy gate refuses a protected-file edit; the repository's test
 *    command decides between review and failed;
 *  - a day budget stops new runs, also across a restart of the executor;
 *  - dry run: nothing starts, the history records the exact command;
 *  - restart safety: tasks left running are requeued, the agents ccm left
 *    running are stopped (a reused pid is not), and their worktrees and
 *    branches removed; the requeue is published on "tasks" like every
 *    transition of a run (running, review);
 *  - each "tasks" event is written with its transition (COMMAND
 *    task_step, one store write): a transition the store refuses (the
 *    task moved meanwhile) publishes nothing, and the start's event
 *    carries the attempt and branch that write set;
 *  - the agent-output feed (exec_feed_spawn) logs a run's lines on
 *    "agent-output" up to its cap, then one notice, then nothing;
 *  - cancel stops a running agent; transient failures are retried with
 *    backoff; requests for unknown, unapproved, busy tasks are refused;
 *  - the real Claude Code CLI (npm @anthropic-ai/claude-code), pointed at
 *    fake_anthropic.mjs on 127.0.0.1, runs a task to review with its diff
 *    (skipped, saying so, when the package is not installed).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actors/executor/executor.h"
#include "actors/executor/worktree.h"
#include "store/store_actor.h"
#include "tests/executor/exec_fx.h"
#include "tests/executor/exec_test.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"

TestSuite(executor, .timeout = 180);

/* The states of the "tasks" events logged for @p id, in order, comma
 * separated (e.g. "running,review"), into @p out. */
typedef struct task_events {
  const char *id;
  char *out;
  size_t cap;
} task_events_t;

static int task_event_one(const proto_event_t *e, void *arg)
{
  task_events_t *te = arg;
  const char *id = json_string_value(json_object_get(e->data, "id"));
  const char *st = json_string_value(json_object_get(e->data, "state"));
  if (e->topic && !strcmp(e->topic, "tasks") && id && st &&
      !strcmp(id, te->id)) {
    size_t used = strlen(te->out);
    snprintf(te->out + used, te->cap - used, "%s%s", used ? "," : "", st);
  }
  return 0;
}

static const char *task_event_states(fx_t *f, const char *id)
{
  static char out[512];
  out[0] = '\0';
  task_events_t te = {id, out, sizeof out};
  store_event_foreach(f->store, 0, task_event_one, &te);
  return out;
}

Test(executor, success_goes_to_review_with_everything_recorded)
{
  fx_t f;
  fx_init(&f);
  setenv("CCM_TEST_SECRET", "do-not-leak", 1);
  fx_start(&f);
  char directives[4096];
  snprintf(directives, sizeof directives,
           "--transcript success --edit 'src/main.c=int main(int argc, char "
           "**argv) { return 0; }\\n' --env-out %s/env.json --prompt-out "
           "%s/prompt.txt", f.data, f.data);
  outcome_t o;
  fx_run_task(&f, "t-ok", directives, &o);

  cr_assert_str_eq(fx_ev_str(&o, "class"), "success", "%s", fx_ev_str(&o, "reason"));
  cr_assert_str_eq(fx_ev_str(&o, "state"), "review");
  cr_assert_eq(o.lines, 8, "every transcript line republished");
  cr_assert(strstr(o.first_line, "\"subtype\":\"init\""), "%s", o.first_line);
  proto_task_t t;
  cr_assert_eq(fx_state(&f, "t-ok", &t), PROTO_STATE_REVIEW);
  cr_assert_eq(t.attempts, 1);
  cr_assert_str_eq(t.branch, "ccm/t-ok");
  store_task_free(&t);

  /* the agent's measurements */
  cr_assert_float_eq(json_number_value(json_object_get(o.ev, "cost_usd")),
                     0.0421, 1e-9);
  cr_assert_eq(json_integer_value(json_object_get(o.ev, "turns")), 3);
  json_t *tok = json_object_get(o.ev, "tokens");
  cr_assert_eq(json_integer_value(json_object_get(tok, "input")), 3900);
  cr_assert_eq(json_integer_value(json_object_get(tok, "output")), 140);
  const char *sid = fx_ev_str(&o, "session_id");
  cr_assert_eq(strlen(sid), 36, "a uuid: %s", sid);
  json_t *cmd = json_object_get(o.ev, "command");
  bool sid_passed = false, turns_passed = false;
  for (size_t i = 0; i + 1 < json_array_size(cmd); i++) {
    const char *a = json_string_value(json_array_get(cmd, i));
    const char *b = json_string_value(json_array_get(cmd, i + 1));
    sid_passed |= !strcmp(a, "--session-id") && !strcmp(b, sid);
    turns_passed |= !strcmp(a, "--max-turns") && !strcmp(b, "30");
  }
  cr_assert(sid_passed, "the stream's session id is the one ccm passed");
  cr_assert(turns_passed);

  /* the branch holds the change; the user's copy does not */
  cr_assert_eq(json_integer_value(json_object_get(o.ev, "files_changed")), 1);
  cr_assert_str_eq(json_string_value(json_object_get(
                       json_array_get(json_object_get(o.ev, "files"), 0),
                       "path")), "src/main.c");
  char *on_branch = ext_sh_out("git -C '%s' show ccm/t-ok:src/main.c",
                               f.repo);
  cr_assert(strstr(on_branch, "int argc"), "%s", on_branch);
  free(on_branch);
  char *status = ext_sh_out("git -C '%s' status --porcelain", f.repo);
  cr_assert_str_eq(status, "");
  free(status);
  struct stat st;
  cr_assert_neq(stat(fx_path(&f, "worktrees/t-ok"), &st), 0,
                "the worktree is removed");
  cr_assert(json_is_true(json_object_get(json_object_get(o.ev, "gate"),
                                         "passed")));

  /* prompt on stdin, minimal environment */
  char *prompt = ext_read_file(fx_path(&f, "prompt.txt"));
  cr_assert_not_null(prompt);
  cr_assert(strstr(prompt, "make main take its arguments") &&
            strstr(prompt, "src/main.c:1"), "%s", prompt);
  free(prompt);
  char *env = ext_read_file(fx_path(&f, "env.json"));
  cr_assert_not_null(env);
  cr_assert(strstr(env, "preset-env"), "the preset's env is set");
  cr_assert_null(strstr(env, "do-not-leak"), "ccm's secrets stay out");
  free(env);
  cr_assert_eq(stat(fx_path(&f, "runs/t-ok/1.jsonl"), &st), 0, "log kept");

  char *reason = fx_last_reason(&f, "t-ok");
  cr_assert(strstr(reason, "success"), "%s", reason);
  free(reason);
  /* each transition is published on "tasks" (stored before the outcome
   * event the sink got) */
  cr_assert_str_eq(task_event_states(&f, "t-ok"), "running,review");
  json_decref(o.ev);
  fx_fini(&f);
}

Test(executor, every_failure_class_recorded)
{
  struct {
    const char *id, *directives, *cls, *state, *needle;
  } cases[] = {
      {"t-turns", "--transcript max_turns --exit 1", "max_turns", "failed",
       "max turns"},
      {"t-budget", "--transcript max_budget --exit 1", "max_budget", "failed",
       "budget reached"},
      {"t-error", "--transcript error --exit 1", "error", "failed",
       "error_during_execution"},
      {"t-api", "--transcript error_api --exit 1", "error", "failed",
       "API Error: 500"},
      {"t-crash", "--transcript crash --exit 1 --stderr 'Error: boom'",
       "crash", "failed", "boom"},
      {"t-garbage", "--transcript garbage --oversize 2000000 "
       "--edit notes.txt=ok", "success", "review", "success"},
  };
  size_t n = sizeof cases / sizeof cases[0];
  fx_t f;
  fx_init(&f);
  f.cfg.concurrency = 3;
  fx_start(&f);
  for (size_t i = 0; i < n; i++)
    fx_add_task(&f, cases[i].id, cases[i].directives);
  for (size_t i = 0; i < n; i++)
    fx_run(&f, cases[i].id);
  for (size_t i = 0; i < n; i++) {
    outcome_t o;
    fx_await(&f, cases[i].id, &o);
    cr_assert_str_eq(fx_ev_str(&o, "class"), cases[i].cls, "%s: %s",
                     cases[i].id, fx_ev_str(&o, "reason"));
    cr_assert_str_eq(fx_ev_str(&o, "state"), cases[i].state, "%s", cases[i].id);
    char *reason = fx_last_reason(&f, cases[i].id);
    cr_assert(strstr(reason, cases[i].needle), "%s: %s", cases[i].id, reason);
    free(reason);
    cr_assert_eq(fx_state(&f, cases[i].id, NULL),
                 proto_state_from_name(cases[i].state));
    if (!strcmp(cases[i].id, "t-garbage")) {
      json_t *out = json_object_get(o.ev, "output");
      cr_assert_eq(json_integer_value(json_object_get(out, "oversized")), 1);
      cr_assert_eq(json_integer_value(json_object_get(out, "not_json")), 7);
    }
    json_decref(o.ev);
  }
  fx_fini(&f);
}

static json_t *status(fx_t *f)
{
  rt_msg_t *q = tst_msg(EXEC_MSG_STATUS, NULL, 0), *r = NULL;
  TST_OK(rt_call(f->rt, f->exec, &q, WAIT_MS, &r));
  size_t len = 0;
  const char *d = rt_msg_data(r, &len);
  json_t *j = json_loadb(d, len, 0, NULL);
  cr_assert_not_null(j);
  rt_msg_free(r);
  return j;
}

Test(executor, usage_limit_pauses_without_failing)
{
  fx_t f;
  fx_init(&f);
  f.cfg.concurrency = 1;
  fx_start(&f);
  fx_add_task(&f, "t-limit", "--transcript usage_limit --exit 1");
  fx_add_task(&f, "t-next", "--transcript success");
  fx_run(&f, "t-limit");
  outcome_t o;
  fx_await(&f, "t-limit", &o);
  cr_assert_str_eq(fx_ev_str(&o, "class"), "usage_limit");
  cr_assert_str_eq(fx_ev_str(&o, "state"), "ready", "not a failure");
  cr_assert_eq(json_integer_value(json_object_get(o.ev, "resets_at")),
               1893456000);
  cr_assert_eq(fx_state(&f, "t-limit", NULL), PROTO_STATE_READY);
  fx_run(&f, "t-next");
  json_t *s = status(&f);
  cr_assert_eq(json_integer_value(json_object_get(s, "paused_until")),
               (json_int_t)1893456000 * 1000);
  cr_assert_eq(json_array_size(json_object_get(s, "running")), 0,
               "nothing starts during the pause");
  cr_assert_eq(json_array_size(json_object_get(s, "queued")), 2,
               "the limited task waits in the queue with the new one");
  json_decref(s);
  cr_assert_eq(fx_state(&f, "t-next", NULL), PROTO_STATE_READY);
  json_decref(o.ev);
  fx_fini(&f);
}

Test(executor, stall_killed_with_its_process_group)
{
  fx_t f;
  fx_init(&f);
  f.cfg.idle_timeout_ms = 1500;
  fx_start(&f);
  char directives[4096];
  snprintf(directives, sizeof directives,
           "--transcript crash --stall --ignore-term --grandchildren 2 "
           "--pidfile %s/pids", f.data);
  outcome_t o;
  fx_run_task(&f, "t-stall", directives, &o);
  cr_assert_str_eq(fx_ev_str(&o, "class"), "stall", "%s", fx_ev_str(&o, "reason"));
  cr_assert_str_eq(fx_ev_str(&o, "killed"), "idle");
  cr_assert_eq(json_integer_value(json_object_get(o.ev, "signal")), 9,
               "SIGTERM was ignored: SIGKILL");
  cr_assert_str_eq(fx_ev_str(&o, "state"), "failed");
  cr_assert_eq(ext_expect_pids_dead(fx_path(&f, "pids"), 10000), 3);
  json_decref(o.ev);
  fx_fini(&f);
}

Test(executor, wall_clock_limit)
{
  fx_t f;
  fx_init(&f);
  f.cfg.budget.max_wall_s = 1;
  fx_start(&f);
  outcome_t o;
  fx_run_task(&f, "t-slow", "--transcript crash --stall", &o);
  cr_assert_str_eq(fx_ev_str(&o, "class"), "timeout", "%s", fx_ev_str(&o, "reason"));
  cr_assert_str_eq(fx_ev_str(&o, "killed"), "wall");
  json_decref(o.ev);
  fx_fini(&f);
}

Test(executor, gate_refuses_protected_file)
{
  fx_t f;
  fx_init(&f);
  fx_start(&f);
  outcome_t o;
  fx_run_task(&f, "t-ci", "--transcript success "
                       "--edit '.github/workflows/ci.yml=on: pull_request'", &o);
  cr_assert_str_eq(fx_ev_str(&o, "class"), "success", "the agent itself succeeded");
  cr_assert_str_eq(fx_ev_str(&o, "state"), "failed");
  json_t *gate = json_object_get(o.ev, "gate");
  cr_assert(json_is_false(json_object_get(gate, "passed")));
  char *reason = fx_last_reason(&f, "t-ci");
  cr_assert(strstr(reason, "protected path .github/workflows/ci.yml"), "%s",
            reason);
  free(reason);
  cr_assert_eq(fx_state(&f, "t-ci", NULL), PROTO_STATE_FAILED);
  json_decref(o.ev);
  fx_fini(&f);
}

Test(executor, test_command_decides)
{
  fx_t f;
  fx_init(&f);
  const char *test_cmd[] = {"sh", "-c", "grep -q argc src/main.c || "
                            "{ echo 'argc missing' >&2; exit 3; }", NULL};
  memcpy(f.test_cmd, test_cmd, sizeof test_cmd);
  f.repos[0].test_command = f.test_cmd;
  fx_start(&f);
  fx_add_task(&f, "t-pass", "--transcript success "
                         "--edit 'src/main.c=int main(int argc) { return 0; }'");
  fx_add_task(&f, "t-fail", "--transcript success --edit 'src/main.c=int x;'");
  fx_run(&f, "t-pass");
  fx_run(&f, "t-fail");
  outcome_t a, b;
  fx_await(&f, "t-pass", &a);
  fx_await(&f, "t-fail", &b);
  cr_assert_str_eq(fx_ev_str(&a, "state"), "review", "%s", fx_ev_str(&a, "reason"));
  cr_assert(json_is_true(json_object_get(json_object_get(a.ev, "test"),
                                         "passed")));
  cr_assert_str_eq(fx_ev_str(&b, "state"), "failed");
  json_t *t = json_object_get(b.ev, "test");
  cr_assert_eq(json_integer_value(json_object_get(t, "exit_code")), 3);
  cr_assert(strstr(json_string_value(json_object_get(t, "output_tail")),
                   "argc missing"));
  char *reason = fx_last_reason(&f, "t-fail");
  cr_assert(strstr(reason, "tests failed (exit status 3)"), "%s", reason);
  free(reason);
  json_decref(a.ev);
  json_decref(b.ev);
  fx_fini(&f);
}

Test(executor, day_task_budget_stops_new_runs_across_restarts)
{
  fx_t f;
  fx_init(&f);
  f.cfg.budget.max_tasks_per_day = 1;
  fx_start(&f);
  fx_add_task(&f, "t-1", "--transcript success --edit a.txt=1");
  fx_add_task(&f, "t-2", "--transcript success --edit b.txt=2");
  fx_run(&f, "t-1");
  cr_assert_eq(exec_request(f.rt, f.exec, "t-2", false, WAIT_MS),
               EXEC_EBUDGET, "the start in flight already counts");
  outcome_t o1;
  fx_await(&f, "t-1", &o1);
  cr_assert_str_eq(fx_ev_str(&o1, "state"), "review");
  cr_assert_eq(exec_request(f.rt, f.exec, "t-2", false, WAIT_MS),
               EXEC_EBUDGET);
  cr_assert_eq(fx_state(&f, "t-2", NULL), PROTO_STATE_READY,
               "a refused task stays approved");

  /* a new executor on the same store rebuilds the ledger from events */
  TST_OK(rt_actor_stop(f.exec));
  rt_actor_release(f.exec);
  f.exec = NULL;
  fx_start(&f);
  cr_assert_eq(exec_request(f.rt, f.exec, "t-2", false, WAIT_MS),
               EXEC_EBUDGET);
  json_t *s = status(&f);
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(s, "day"),
                                                  "tasks")), 1);
  json_decref(s);
  json_decref(o1.ev);
  fx_fini(&f);
}

Test(executor, day_dollar_budget_never_exceeded)
{
  fx_t f;
  fx_init(&f);
  f.cfg.budget.max_usd_per_task = 0.02;
  f.cfg.budget.max_usd_per_day = 0.05;
  f.cfg.concurrency = 1;
  fx_start(&f);
  fx_add_task(&f, "t-a", "--transcript success --edit a.txt=1");
  fx_add_task(&f, "t-b", "--transcript success --edit b.txt=2");
  fx_run(&f, "t-a");
  fx_run(&f, "t-b"); /* queued behind t-a: $0.02 reserved + $0.02 fits */
  outcome_t a, b;
  fx_await(&f, "t-a", &a);
  cr_assert_str_eq(fx_ev_str(&a, "state"), "review");
  bool cap_passed = false;
  json_t *cmd = json_object_get(a.ev, "command");
  for (size_t i = 0; i + 1 < json_array_size(cmd); i++)
    cap_passed |= !strcmp(json_string_value(json_array_get(cmd, i)),
                          "--max-budget-usd") &&
                  !strcmp(json_string_value(json_array_get(cmd, i + 1)),
                          "0.02");
  cr_assert(cap_passed, "the per-task cap goes to the agent");
  /* t-a cost $0.0421: $0.0421 + $0.02 would pass $0.05 */
  fx_await(&f, "t-b", &b);
  cr_assert_str_eq(fx_ev_str(&b, "class"), "refused");
  cr_assert(strstr(fx_ev_str(&b, "reason"), "budget: $0.04 spent today"), "%s",
            fx_ev_str(&b, "reason"));
  cr_assert_eq(b.lines, 0);
  cr_assert_eq(fx_state(&f, "t-b", NULL), PROTO_STATE_READY);
  json_decref(a.ev);
  json_decref(b.ev);
  fx_fini(&f);
}

Test(executor, dry_run_records_the_command)
{
  fx_t f;
  fx_init(&f);
  f.cfg.dry_run = true;
  f.cfg.budget.max_tasks_per_day = 1;
  fx_start(&f);
  char directives[4096];
  snprintf(directives, sizeof directives,
           "--transcript success --pidfile %s/pids", f.data);
  fx_add_task(&f, "t-dry", directives);
  fx_add_task(&f, "t-dry2", directives);
  fx_run(&f, "t-dry");
  outcome_t o;
  fx_await(&f, "t-dry", &o);
  cr_assert_str_eq(fx_ev_str(&o, "class"), "dry_run");
  cr_assert_str_eq(fx_ev_str(&o, "state"), "ready");
  cr_assert_eq(o.lines, 0, "no agent ran");
  struct stat st;
  cr_assert_neq(stat(fx_path(&f, "pids"), &st), 0, "no agent ran");
  char *reason = fx_last_reason(&f, "t-dry");
  cr_assert(strstr(reason, "dry run: would run: python3 "), "%s", reason);
  cr_assert(strstr(reason, "fake_agent.py -p --output-format stream-json "
                           "--verbose --session-id "), "%s", reason);
  cr_assert(strstr(reason, "--max-turns 30 < "), "%s", reason);
  cr_assert(strstr(reason, "runs/t-dry/1.prompt.md"), "%s", reason);
  free(reason);
  cr_assert_eq(stat(fx_path(&f, "runs/t-dry/1.prompt.md"), &st), 0,
               "the prompt it would have fed is kept");
  cr_assert_eq(json_array_size(json_object_get(o.ev, "command")), 10);
  cr_assert_neq(stat(fx_path(&f, "worktrees/t-dry"), &st), 0);
  cr_assert_not(fx_branch_exists(&f, "ccm/t-dry"));
  cr_assert_eq(fx_state(&f, "t-dry", NULL), PROTO_STATE_READY);
  /* dry runs do not spend the budget */
  fx_run(&f, "t-dry2");
  outcome_t o2;
  fx_await(&f, "t-dry2", &o2);
  cr_assert_str_eq(fx_ev_str(&o2, "class"), "dry_run");
  json_decref(o.ev);
  json_decref(o2.ev);
  fx_fini(&f);
}

/* A `sleep 600` in a session (and process group) of its own; its pid. */
static pid_t spawn_sleeper(void)
{
  char *out = ext_sh_out("setsid sleep 600 >/dev/null 2>&1 & echo $!");
  pid_t pid = (pid_t)atoi(out);
  free(out);
  cr_assert_gt(pid, 1);
  return pid;
}

Test(executor, restart_requeues_running_and_cleans_worktrees)
{
  fx_t f;
  fx_init(&f);
  fx_add_task(&f, "t-left", "--transcript success");
  proto_msg_t m;
  tst_update_msg(&m, "t-left", PROTO_STATE_READY, PROTO_STATE_RUNNING, "old",
                 "was running", 1700000000000);
  store_ack_t ack;
  TST_SOK(store_write_sync(f.rt, f.store_actor, &m, WAIT_MS, &ack));
  proto_msg_fini(&m);
  char sha[EXEC_SHA_MAX], err[512];
  cr_assert_eq(exec_wt_create(f.repo, NULL, fx_path(&f, "worktrees/t-left"),
                              "ccm/t-left", sha, err, sizeof err), 0, "%s",
               err);
  cr_assert(fx_branch_exists(&f, "ccm/t-left"));
  /* the agent ccm left running (its own group, so it outlived ccm), and
   * a record whose pid was reused since by another process */
  ext_sh("mkdir -p '%s'", fx_path(&f, "runs/t-left"));
  pid_t agent = spawn_sleeper(), other = spawn_sleeper();
  char *start = ext_sh_out("cut -d')' -f2- /proc/%d/stat | cut -d' ' -f21",
                           (int)agent);
  char rec[128];
  snprintf(rec, sizeof rec, "%d %s\n", (int)agent, start);
  ext_write_file(fx_path(&f, "runs/t-left/1.pid"), rec);
  snprintf(rec, sizeof rec, "%d 12345\n", (int)other);
  ext_write_file(fx_path(&f, "runs/t-left/2.pid"), rec);
  free(start);
  fx_start(&f);
  struct stat st;
  cr_assert(TST_EVENTUALLY(fx_state(&f, "t-left", NULL) ==
                               PROTO_STATE_READY, WAIT_MS));
  cr_assert(TST_EVENTUALLY(stat(fx_path(&f, "worktrees/t-left"), &st) != 0,
                           WAIT_MS));
  cr_assert(TST_EVENTUALLY(!fx_branch_exists(&f, "ccm/t-left"), WAIT_MS));
  cr_assert(TST_EVENTUALLY(ext_pid_dead(agent), WAIT_MS),
            "the left agent is stopped");
  bool spared = !ext_pid_dead(other);
  kill(other, SIGKILL);
  cr_assert(spared, "a reused pid is left alone");
  cr_assert_neq(stat(fx_path(&f, "runs/t-left/1.pid"), &st), 0);
  char *reason = fx_last_reason(&f, "t-left");
  cr_assert(strstr(reason, "requeued at start-up"), "%s", reason);
  free(reason);
  /* the requeue is published, so the prioritizer hands the task over */
  cr_assert(TST_EVENTUALLY(!strcmp(task_event_states(&f, "t-left"), "ready"),
                           WAIT_MS), "%s", task_event_states(&f, "t-left"));
  /* and it runs again */
  fx_run(&f, "t-left");
  outcome_t o;
  fx_await(&f, "t-left", &o);
  cr_assert_str_eq(fx_ev_str(&o, "state"), "review");
  json_decref(o.ev);
  fx_fini(&f);
}

/* Start the executor and a run of @p id whose agent stalls; return once
 * the agent spoke (it runs). */
static void start_stalled_run(fx_t *f, const char *id)
{
  fx_init(f);
  fx_start(f);
  fx_add_task(f, id, "--transcript crash --stall");
  fx_run(f, id);
  rt_msg_t *m = tst_recv_type(f->sink, PROTO_AGENT_OUTPUT);
  rt_msg_free(m);
}

Test(executor, cancel_stops_a_running_agent)
{
  fx_t f;
  start_stalled_run(&f, "t-cancel"); /* then cancel */
  /* the running agent's group is recorded for a restart after a SIGKILL */
  char *rec = ext_read_file(fx_path(&f, "runs/t-cancel/1.pid"));
  cr_assert_not_null(rec, "no record of the running agent");
  cr_assert_gt(atoi(rec), 1, "%s", rec);
  free(rec);
  cr_assert_eq(exec_request(f.rt, f.exec, "t-cancel", true, WAIT_MS), 0);
  outcome_t o;
  fx_await(&f, "t-cancel", &o);
  cr_assert_str_eq(fx_ev_str(&o, "class"), "cancelled", "%s",
                   fx_ev_str(&o, "reason"));
  cr_assert_str_eq(fx_ev_str(&o, "killed"), "cancel");
  struct stat st;
  cr_assert_neq(stat(fx_path(&f, "runs/t-cancel/1.pid"), &st), 0,
                "the record goes with the agent");
  cr_assert_str_eq(fx_ev_str(&o, "state"), "ready");
  cr_assert_eq(fx_state(&f, "t-cancel", NULL), PROTO_STATE_READY);
  cr_assert_eq(exec_request(f.rt, f.exec, "t-cancel", true, WAIT_MS),
               EXEC_ENOTFOUND);
  json_decref(o.ev);
  fx_fini(&f);
}

/* The data of the first "tasks" event of @p id (a reference), or NULL. */
typedef struct first_event {
  const char *id;
  json_t *data;
} first_event_t;

static int first_event_one(const proto_event_t *e, void *arg)
{
  first_event_t *fe = arg;
  const char *id = json_string_value(json_object_get(e->data, "id"));
  if (!fe->data && e->topic && !strcmp(e->topic, "tasks") && id &&
      !strcmp(id, fe->id))
    fe->data = json_incref(e->data);
  return 0;
}

static json_t *first_task_event(fx_t *f, const char *id)
{
  first_event_t fe = {id, NULL};
  store_event_foreach(f->store, 0, first_event_one, &fe);
  return fe.data;
}

/* A run's end whose transition the store refuses (someone moved the task
 * while the agent ran) publishes nothing on "tasks": the event is written
 * with the transition, in one write (store.h "task steps"), so it exists
 * exactly when the transition committed. The start's event carries what
 * the same write set: the attempt and the branch. */
Test(executor, a_transition_the_store_refuses_publishes_no_tasks_event)
{
  fx_t f;
  start_stalled_run(&f, "t-moved");
  proto_msg_t up;
  tst_update_msg(&up, "t-moved", PROTO_STATE_RUNNING, PROTO_STATE_BLOCKED,
                 "someone", "blocked by hand", (int64_t)time(NULL) * 1000);
  store_ack_t ack;
  TST_SOK(store_write_sync(f.rt, f.store_actor, &up, WAIT_MS, &ack));
  proto_msg_fini(&up);
  cr_assert_eq(exec_request(f.rt, f.exec, "t-moved", true, WAIT_MS), 0);
  outcome_t o;
  fx_await(&f, "t-moved", &o); /* written after the step: it is settled */
  cr_assert_str_eq(fx_ev_str(&o, "class"), "cancelled");
  cr_assert_eq(fx_state(&f, "t-moved", NULL), PROTO_STATE_BLOCKED);
  cr_assert_str_eq(task_event_states(&f, "t-moved"), "running",
                   "no event for the refused running -> ready");
  json_t *started = first_task_event(&f, "t-moved");
  cr_assert_not_null(started);
  cr_assert_eq(json_integer_value(json_object_get(started, "attempts")), 1);
  cr_assert_str_eq(json_string_value(json_object_get(started, "branch")),
                   "ccm/t-moved");
  json_decref(started);
  json_decref(o.ev);
  fx_fini(&f);
}

/* COMMAND task_step straight to the store actor: refused, it writes and
 * publishes nothing; accepted, the transition, its fields and the event
 * with the committed task are there after the one acknowledgement. */
Test(executor, a_task_step_is_one_write_or_nothing)
{
  fx_t f;
  fx_init(&f);
  fx_add_task(&f, "t-step", "--transcript success");
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = strdup("task_step");
  m.u.command.args = json_pack("{ss ss ss ss sI ss ss}", "task", "t-step",
                               "to", "review", "actor", "test", "reason",
                               "not allowed from ready", "at",
                               (json_int_t)1700000000123, "event", "tasks",
                               "pr_url", "https://example.invalid/pr/1");
  store_ack_t ack;
  cr_assert_eq(store_write_sync(f.rt, f.store_actor, &m, WAIT_MS, &ack),
               STORE_ETRANSITION);
  cr_assert_str_eq(task_event_states(&f, "t-step"), "");
  proto_task_t t;
  cr_assert_eq(fx_state(&f, "t-step", &t), PROTO_STATE_READY);
  cr_assert_null(t.pr_url, "nothing of a refused step is written");
  store_task_free(&t);

  json_object_set_new(m.u.command.args, "to", json_string("running"));
  json_object_set_new(m.u.command.args, "attempt", json_true());
  json_object_del(m.u.command.args, "pr_url");
  json_object_set_new(m.u.command.args, "branch", json_string("ccm/t-step"));
  TST_SOK(store_write_sync(f.rt, f.store_actor, &m, WAIT_MS, &ack));
  proto_msg_fini(&m);
  cr_assert_str_eq(task_event_states(&f, "t-step"), "running");
  json_t *ev = first_task_event(&f, "t-step");
  cr_assert_eq(json_integer_value(json_object_get(ev, "attempts")), 1);
  cr_assert_str_eq(json_string_value(json_object_get(ev, "branch")),
                   "ccm/t-step");
  cr_assert_eq(json_integer_value(json_object_get(ev, "updated_at")),
               1700000000123, "the task as the transition left it");
  json_decref(ev);
  cr_assert_eq(fx_state(&f, "t-step", &t), PROTO_STATE_RUNNING);
  cr_assert_eq(t.attempts, 1);
  store_task_free(&t);
  char *reason = fx_last_reason(&f, "t-step");
  cr_assert_str_eq(reason, "not allowed from ready");
  free(reason);

  /* from a state the task has left: refused, though running -> failed is
   * a move the state machine allows */
  m = (proto_msg_t){.type = PROTO_COMMAND};
  m.u.command.action = strdup("task_step");
  m.u.command.args = json_pack("{ss ss ss sI ss}", "task", "t-step", "from",
                               "ready", "to", "failed", "at",
                               (json_int_t)1700000000456, "event", "tasks");
  cr_assert_eq(store_write_sync(f.rt, f.store_actor, &m, WAIT_MS, &ack),
               STORE_ETRANSITION);
  proto_msg_fini(&m);
  cr_assert_eq(fx_state(&f, "t-step", NULL), PROTO_STATE_RUNNING);
  cr_assert_str_eq(task_event_states(&f, "t-step"), "running");
  fx_fini(&f);
}

Test(executor, transient_failure_retried_with_backoff)
{
  fx_t f;
  fx_init(&f);
  f.cfg.max_retries = 1;
  f.cfg.retry_backoff_ms = 200;
  fx_start(&f);
  char directives[4096];
  snprintf(directives, sizeof directives,
           "--marker %s/first --first-transcript crash --first-exit 1 "
           "--transcript success --edit retry.txt=ok", f.data);
  fx_add_task(&f, "t-retry", directives);
  fx_run(&f, "t-retry");
  outcome_t a, b;
  fx_await(&f, "t-retry", &a);
  cr_assert_str_eq(fx_ev_str(&a, "class"), "crash");
  cr_assert_str_eq(fx_ev_str(&a, "state"), "ready");
  cr_assert_eq(json_integer_value(json_object_get(a.ev, "retry_in_ms")), 200);
  uint64_t t0 = tst_now_ns();
  fx_await(&f, "t-retry", &b);
  cr_assert_geq(tst_now_ns() - t0, 150u * 1000000u, "the backoff was kept");
  cr_assert_str_eq(fx_ev_str(&b, "class"), "success");
  cr_assert_str_eq(fx_ev_str(&b, "state"), "review");
  cr_assert_eq(json_integer_value(json_object_get(b.ev, "attempt")), 2);
  proto_task_t t;
  fx_state(&f, "t-retry", &t);
  cr_assert_eq(t.attempts, 2);
  store_task_free(&t);
  json_decref(a.ev);
  json_decref(b.ev);
  fx_fini(&f);
}

Test(executor, repository_concurrency_cap)
{
  fx_t f;
  fx_init(&f);
  f.cfg.concurrency = 4;
  f.repos[0].concurrency = 1;
  fx_start(&f);
  fx_add_task(&f, "t-r1", "--transcript crash --stall");
  fx_add_task(&f, "t-r2", "--transcript crash --stall");
  fx_run(&f, "t-r1");
  fx_run(&f, "t-r2");
  rt_msg_t *m = tst_recv_type(f.sink, PROTO_AGENT_OUTPUT); /* one runs */
  rt_msg_free(m);
  json_t *s = status(&f);
  cr_assert_eq(json_array_size(json_object_get(s, "running")), 1);
  cr_assert_str_eq(json_string_value(json_array_get(
                       json_object_get(s, "queued"), 0)), "t-r2");
  json_decref(s);
  cr_assert_eq(fx_state(&f, "t-r2", NULL), PROTO_STATE_READY);
  fx_fini(&f); /* stopping kills the stalled agent */
}

Test(executor, requests_refused_with_reasons)
{
  fx_t f;
  fx_init(&f);
  fx_start(&f);
  fx_add_task_in(&f, "t-triaged", "r1", PROTO_STATE_TRIAGED, "");
  fx_add_task_in(&f, "t-elsewhere", "unknown-repo", PROTO_STATE_READY, "");
  fx_add_task(&f, "t-busy", "--transcript crash --stall");
  cr_assert_eq(exec_request(f.rt, f.exec, "no-such-task", false, WAIT_MS),
               EXEC_ENOTFOUND);
  cr_assert_eq(exec_request(f.rt, f.exec, "t-triaged", false, WAIT_MS),
               EXEC_ESTATE);
  cr_assert_eq(exec_request(f.rt, f.exec, "t-elsewhere", false, WAIT_MS),
               EXEC_ENOREPO);
  cr_assert_eq(exec_request(f.rt, f.exec, "../../etc", false, WAIT_MS),
               EXEC_EINVAL);
  fx_run(&f, "t-busy");
  cr_assert_eq(exec_request(f.rt, f.exec, "t-busy", false, WAIT_MS),
               EXEC_EBUSY);
  cr_assert_eq(exec_request(f.rt, f.exec, "t-triaged", true, WAIT_MS),
               EXEC_ENOTFOUND);
  cr_assert_str_eq(exec_strerror(EXEC_EBUSY),
                   "EXEC_EBUSY: task is already queued or running");
  fx_fini(&f); /* stopping kills the stalled agent */
}

Test(executor, real_claude_code_cli)
{
  if (access(EXT_CLAUDE, X_OK) != 0 || access(EXT_NODE, X_OK) != 0)
    cr_skip_test("npm @anthropic-ai/claude-code is not installed in "
                 "tests/node (scripts/deps.sh installs it), or node is "
                 "missing: the real-CLI test is skipped");
  fx_t f;
  fx_init(&f);
  char target[4096], log[4096], home[4096];
  snprintf(target, sizeof target, "%s/worktrees/t-claude/CHANGES.md", f.data);
  snprintf(log, sizeof log, "%s/api.log", f.data);
  snprintf(home, sizeof home, "%s/home", f.data);
  ext_sh("mkdir -p '%s'", home);
  char *server_argv[] = {EXT_NODE, EXT_FAKE_API, target,
                         "Written by the real CLI through ccm.", log, NULL};
  tst_child_t server;
  tst_child_start(&server, server_argv);
  char line[256];
  cr_assert_eq(tst_child_line(&server, line, sizeof line, WAIT_MS), 1,
               "the fake API did not say its port");
  int port = 0;
  cr_assert_eq(sscanf(line, "PORT %d", &port), 1, "%s", line);

  char url[128], home_pair[4200];
  snprintf(url, sizeof url, "ANTHROPIC_BASE_URL=http://127.0.0.1:%d", port);
  snprintf(home_pair, sizeof home_pair, "HOME=%s", home);
  const char *env[] = {url, home_pair, "ANTHROPIC_API_KEY=sk-ant-dummy",
                       "CLAUDE_CODE_MAX_RETRIES=1", "DISABLE_TELEMETRY=1",
                       "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
                       "DISABLE_AUTOUPDATER=1",
                       geteuid() == 0 ? "IS_SANDBOX=1" : NULL, NULL};
  const char *cmd[] = {EXT_CLAUDE, "-p", "--output-format", "stream-json",
                       "--verbose", NULL};
  f.preset.command = cmd;
  f.preset.env = env;
  f.preset.permission_mode = "acceptEdits";
  f.cfg.budget.max_turns = 5;
  fx_start(&f);
  outcome_t o;
  fx_run_task(&f, "t-claude", "", &o);
  char *api = ext_read_file(log);
  cr_assert_str_eq(fx_ev_str(&o, "class"), "success", "%s\nAPI log:\n%s",
                   fx_ev_str(&o, "reason"), api ? api : "(none)");
  free(api);
  cr_assert_str_eq(fx_ev_str(&o, "state"), "review");
  cr_assert_eq(json_integer_value(json_object_get(o.ev, "turns")), 2);
  cr_assert_gt(json_number_value(json_object_get(o.ev, "cost_usd")), 0);
  cr_assert_eq(json_integer_value(json_object_get(o.ev, "files_changed")), 1);
  json_t *file = json_array_get(json_object_get(o.ev, "files"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(file, "path")),
                   "CHANGES.md");
  cr_assert_eq(json_integer_value(json_object_get(file, "added")), 1);
  cr_assert_geq(o.lines, 5, "system, assistant, user, assistant, result");
  char *on_branch = ext_sh_out("git -C '%s' show ccm/t-claude:CHANGES.md",
                               f.repo);
  cr_assert_str_eq(on_branch, "Written by the real CLI through ccm.");
  free(on_branch);
  json_decref(o.ev);
  tst_child_kill(&server);
  tst_child_close(&server);
  fx_fini(&f);
}

/* EXEC_MSG_RECONFIGURE as a request; its reply's rc. */
static int reconfigure(fx_t *f, const exec_config_t *now)
{
  rt_msg_t *m = NULL, *r = NULL;
  TST_OK(rt_msg_new(EXEC_MSG_RECONFIGURE, &now, sizeof now, &m));
  TST_OK(rt_call(f->rt, f->exec, &m, WAIT_MS, &r));
  int32_t rc = -1;
  size_t len = 0;
  const void *d = rt_msg_data(r, &len);
  cr_assert_eq(len, sizeof rc);
  memcpy(&rc, d, sizeof rc);
  rt_msg_free(r);
  return rc;
}

Test(executor, reconfigure_takes_a_new_budget_and_dry_run)
{
  fx_t f;
  fx_init(&f);
  f.cfg.budget.max_tasks_per_day = 1; /* t-1 spends it */
  fx_start(&f);
  static const char *const ids[] = {"t-1", "t-2", "t-3"};
  static const char *const runs[] = {"--transcript success --edit a.txt=1",
                                     "--transcript success --edit b.txt=2",
                                     "--transcript success --edit c.txt=3"};
  for (size_t i = 0; i < 3; i++)
    fx_add_task(&f, ids[i], runs[i]);
  outcome_t o1, o2, o3;
  fx_run(&f, "t-1");
  fx_await(&f, "t-1", &o1);
  cr_assert_eq(exec_request(f.rt, f.exec, "t-2", false, WAIT_MS),
               EXEC_EBUDGET);

  static exec_config_t now; /* outlives the executor, as required */
  now = f.cfg;
  now.preset = "no-such-preset";
  cr_assert_eq(reconfigure(&f, &now), EXEC_EPRESET);
  cr_assert_eq(exec_request(f.rt, f.exec, "t-2", false, WAIT_MS),
               EXEC_EBUDGET, "a refused reconfigure changes nothing");

  now.preset = NULL;
  now.budget.max_tasks_per_day = 2;
  cr_assert_eq(reconfigure(&f, &now), 0);
  fx_run(&f, "t-2"); /* the raised cap lets it start */
  fx_await(&f, "t-2", &o2);
  cr_assert_str_eq(fx_ev_str(&o2, "state"), "review");

  static exec_config_t dry;
  dry = now;
  dry.dry_run = true;
  cr_assert_eq(reconfigure(&f, &dry), 0);
  fx_run(&f, "t-3");
  fx_await(&f, "t-3", &o3);
  cr_assert_str_eq(fx_ev_str(&o3, "class"), "dry_run");
  cr_assert_eq(o3.lines, 0, "no agent ran");
  json_decref(o1.ev);
  json_decref(o2.ev);
  json_decref(o3.ev);
  fx_fini(&f);
}

/* Send an AGENT_OUTPUT line to @p to, as a run does. */
static void send_line(rt_actor_t *to, const char *id, uint64_t line_no,
                      const char *line)
{
  proto_msg_t m = {.type = PROTO_AGENT_OUTPUT};
  m.u.agent_output = (proto_agent_output_t){
      .task_id = (char *)id, .line_no = line_no, .stream = (char *)"stdout",
      .line = (char *)line};
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  cr_assert_eq(proto_msgpack_encode(&m, &sb), 0);
  size_t len = sb.size;
  rt_msg_t *msg = NULL;
  cr_assert_eq(rt_msg_new_take((uint32_t)PROTO_AGENT_OUTPUT,
                               msgpack_sbuffer_release(&sb), len, &msg), 0);
  cr_assert_eq(rt_send(to, &msg), 0);
}

typedef struct output_log {
  const char *id;
  unsigned n;
  char lines[8][160];
} output_log_t;

static int output_one(const proto_event_t *e, void *arg)
{
  output_log_t *l = arg;
  const char *id = json_string_value(json_object_get(e->data, "task_id"));
  const char *line = json_string_value(json_object_get(e->data, "line"));
  if (e->topic && !strcmp(e->topic, "agent-output") && id && line &&
      !strcmp(id, l->id) && l->n < 8)
    snprintf(l->lines[l->n++], sizeof l->lines[0], "%s", line);
  return 0;
}

static unsigned output_lines(fx_t *f, const char *id, output_log_t *l)
{
  *l = (output_log_t){.id = id};
  store_event_foreach(f->store, 0, output_one, l);
  return l->n;
}

Test(executor, feed_logs_agent_output_up_to_its_cap)
{
  fx_t f;
  fx_init(&f);
  rt_actor_t *feed = NULL;
  cr_assert_eq(exec_feed_spawn(f.rt, f.store_actor, 2, &feed), 0);
  for (uint64_t i = 1; i <= 5; i++) {
    char line[32];
    snprintf(line, sizeof line, "line %u", (unsigned)i);
    send_line(feed, "t-chatty", i, line);
  }
  send_line(feed, "t-other", 1, "after"); /* same sender: comes after */
  output_log_t l;
  cr_assert(TST_EVENTUALLY(output_lines(&f, "t-other", &l) == 1, WAIT_MS));
  cr_assert_eq(output_lines(&f, "t-chatty", &l), 3, "2 lines and a notice");
  cr_assert_str_eq(l.lines[0], "line 1");
  cr_assert_str_eq(l.lines[1], "line 2");
  cr_assert(strstr(l.lines[2], "not published"), "%s", l.lines[2]);
  rt_actor_release(feed);
  fx_fini(&f);
}
