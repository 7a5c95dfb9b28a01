/*
 * exec_fx.h: the executor fixture shared by the actor-level suites
 * (test_executor.c, test_publish.c): a real runtime with two workers, a
 * store (no fsync) and its actor, a git repository made by the test, a
 * sink port collecting AGENT_OUTPUT lines and outcome EVENTs per task,
 * and fake_agent.py as the claude-code preset. fx_init fills cfg with one
 * repository "r1"; a test may change cfg, preset and repos before
 * fx_start. Everything asserts with criterion; every wait is bounded.
 */
#ifndef TESTS_EXECUTOR_EXEC_FX_H
#define TESTS_EXECUTOR_EXEC_FX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/executor/executor.h"
#include "runtime/actor.h"
#include "store/store.h"

#define WAIT_MS 60000

typedef struct outcome {
  char id[64];
  json_t *ev;         /* the outcome event's data */
  size_t lines;       /* AGENT_OUTPUT lines seen for the task */
  uint64_t last_line_no;
  char first_line[256];
} outcome_t;

typedef struct fx {
  rt_runtime_t *rt;
  store_t *store;
  rt_actor_t *store_actor, *exec;
  rt_port_t *sink;
  char *data, *repo;
  exec_config_t cfg;
  exec_preset_t preset;
  exec_repo_t repos[4];
  const char *cmd[8];
  const char *env[4];
  const char *test_cmd[4];
} fx_t;

void fx_init(fx_t *f);
/** Spawn the executor with f->cfg. */
void fx_start(fx_t *f);
void fx_fini(fx_t *f);
/** Store a task of @p repo in @p state whose text carries @p directives
 * for the fake agent ("fake-agent: ..."), at src/main.c:1. */
void fx_add_task_in(fx_t *f, const char *id, const char *repo,
                    proto_state_t state, const char *directives);
/** A ready task of @p repo with issue number @p issue (0: none). */
void fx_add_issue_task(fx_t *f, const char *id, const char *repo,
                       uint32_t issue, const char *directives);
/** The same, ready, in repository r1. */
void fx_add_task(fx_t *f, const char *id, const char *directives);
/** Ask the executor to run @p id; asserts it was queued. */
void fx_run(fx_t *f, const char *id);
/** Receive from the sink until the outcome EVENT of @p id arrived; *o gets
 * it (o->ev: a reference to drop) with the task's output lines. */
void fx_await(fx_t *f, const char *id, outcome_t *o);
/** fx_add_task, fx_run, fx_await. */
void fx_run_task(fx_t *f, const char *id, const char *directives,
                 outcome_t *o);
/** A string of the outcome event ("" when absent). */
const char *fx_ev_str(const outcome_t *o, const char *key);
/** The stored state of @p id; the record goes to *out when not NULL. */
proto_state_t fx_state(fx_t *f, const char *id, proto_task_t *out);
/** The reason of the task's last history entry (malloc'd). */
char *fx_last_reason(fx_t *f, const char *id);
bool fx_branch_exists(fx_t *f, const char *branch);
/** "<data dir>/<rel>" in a static buffer. */
char *fx_path(fx_t *f, const char *rel);

#endif /* TESTS_EXECUTOR_EXEC_FX_H */
