/*
 * exec_fx.c: the executor fixture (see exec_fx.h).
 */
#include "tests/executor/exec_fx.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/proto.h"
#include "store/store_actor.h"
#include "tests/executor/exec_test.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"



/* What the sink delivered so far, per task (runs overlap, so messages of
 * other tasks are kept for later). */
#define MAX_SEEN 32
static outcome_t seen[MAX_SEEN];
static size_t nseen;




void fx_init(fx_t *f)
{
  memset(f, 0, sizeof *f);
  nseen = 0;
  f->data = tst_tmpdir();
  f->repo = ext_git_repo();
  store_options_t so = {.no_sync = true};
  f->store = tst_store_open(f->data, &so);
  f->rt = tst_runtime(2);
  TST_OK(store_actor_spawn(f->rt, f->store, NULL, &f->store_actor));
  f->sink = tst_port(f->rt, 0);
  const char *cmd[] = {"python3", EXT_FAKE_AGENT, "-p", "--output-format",
                       "stream-json", "--verbose", NULL};
  memcpy(f->cmd, cmd, sizeof cmd);
  f->env[0] = "FAKE_AGENT_MARK=preset-env";
  f->preset = (exec_preset_t){.name = "claude-code",
                              .kind = EXEC_AGENT_CLAUDE_CODE,
                              .command = f->cmd, .env = f->env};
  f->repos[0] = (exec_repo_t){.id = "r1", .path = f->repo};
  exec_config_defaults(&f->cfg);
  f->cfg.data_dir = f->data;
  f->cfg.presets = &f->preset;
  f->cfg.npresets = 1;
  f->cfg.repos = f->repos;
  f->cfg.nrepos = 1;
  f->cfg.idle_timeout_ms = 30000;
  f->cfg.kill_grace_ms = 300;
  f->cfg.sink = rt_port_actor(f->sink);
}

void fx_start(fx_t *f)
{
  TST_OK(exec_spawn(f->rt, &f->cfg, f->store, f->store_actor, NULL, &f->exec));
}

void fx_fini(fx_t *f)
{
  tst_quiesce(f->rt);
  rt_actor_release(f->exec);
  rt_actor_release(f->store_actor);
  rt_port_free(f->sink);
  tst_runtime_free(f->rt);
  store_close(f->store);
  tst_rmrf(f->data);
  tst_rmrf(f->repo);
  free(f->data);
  free(f->repo);
}

static void add_task(fx_t *f, const char *id, const char *repo,
                     proto_state_t state, uint32_t issue,
                     const char *directives)
{
  proto_msg_t m;
  tst_task_msg(&m, id, repo, "todo", state, 5.0);
  char text[2048];
  snprintf(text, sizeof text, "make main take its arguments\nfake-agent: %s\n",
           directives);
  free(m.u.task.text);
  m.u.task.text = strdup(text);
  free(m.u.task.loc.path);
  m.u.task.loc.path = strdup("src/main.c");
  m.u.task.loc.line = 1;
  m.u.task.issue_number = issue;
  store_ack_t ack;
  TST_SOK(store_write_sync(f->rt, f->store_actor, &m, WAIT_MS, &ack));
  proto_msg_fini(&m);
}

void fx_add_issue_task(fx_t *f, const char *id, const char *repo,
                       uint32_t issue, const char *directives)
{
  add_task(f, id, repo, PROTO_STATE_READY, issue, directives);
}

void fx_add_task_in(fx_t *f, const char *id, const char *repo,
                    proto_state_t state, const char *directives)
{
  add_task(f, id, repo, state, 0, directives);
}

void fx_add_task(fx_t *f, const char *id, const char *directives)
{
  fx_add_task_in(f, id, "r1", PROTO_STATE_READY, directives);
}

void fx_run(fx_t *f, const char *id)
{
  int rc = exec_request(f->rt, f->exec, id, false, WAIT_MS);
  cr_assert_eq(rc, 0, "run %s: %s", id, exec_strerror(rc));
}

static outcome_t *fx_seen_for(const char *id)
{
  for (size_t i = 0; i < nseen; i++)
    if (!strcmp(seen[i].id, id))
      return &seen[i];
  cr_assert_lt(nseen, MAX_SEEN);
  outcome_t *o = &seen[nseen++];
  memset(o, 0, sizeof *o);
  snprintf(o->id, sizeof o->id, "%s", id);
  return o;
}

static void fx_take_one(fx_t *f)
{
  rt_msg_t *m = NULL;
  cr_assert_eq(rt_port_recv(f->sink, WAIT_MS, &m), 0,
               "nothing from the executor within %d ms", WAIT_MS);
  size_t len = 0;
  const void *d = rt_msg_data(m, &len);
  proto_msg_t pm;
  char err[256];
  cr_assert_eq(proto_msgpack_decode(d, len, &pm, err, sizeof err), 0,
               "the sink got an invalid message: %s", err);
  cr_assert_eq((uint32_t)pm.type, rt_msg_type(m));
  if (pm.type == PROTO_AGENT_OUTPUT) {
    outcome_t *o = fx_seen_for(pm.u.agent_output.task_id);
    if (o->lines++ == 0)
      snprintf(o->first_line, sizeof o->first_line, "%s",
               pm.u.agent_output.line);
    cr_assert_gt(pm.u.agent_output.line_no, o->last_line_no);
    o->last_line_no = pm.u.agent_output.line_no;
  } else {
    cr_assert_eq(pm.type, PROTO_EVENT);
    cr_assert_str_eq(pm.u.event.topic, "executor");
    cr_assert_geq(pm.u.event.seq, 1);
    const char *id =
        json_string_value(json_object_get(pm.u.event.data, "task_id"));
    cr_assert_not_null(id);
    outcome_t *o = fx_seen_for(id);
    cr_assert_null(o->ev, "two outcomes for %s before the first was read", id);
    o->ev = json_incref(pm.u.event.data);
  }
  proto_msg_fini(&pm);
  rt_msg_free(m);
}

/* Receive from the sink until the outcome EVENT of @p id has arrived; *o
 * gets it with the task's output lines since the last outcome. */
void fx_await(fx_t *f, const char *id, outcome_t *o)
{
  outcome_t *s = fx_seen_for(id);
  while (!s->ev) {
    fx_take_one(f);
    s = fx_seen_for(id);
  }
  *o = *s;
  memset(s, 0, sizeof *s);
  snprintf(s->id, sizeof s->id, "%s", id);
}

/* Add a ready task, run it, wait for its outcome. */
void fx_run_task(fx_t *f, const char *id, const char *directives,
                     outcome_t *o)
{
  fx_add_task(f, id, directives);
  fx_run(f, id);
  fx_await(f, id, o);
}

const char *fx_ev_str(const outcome_t *o, const char *key)
{
  const char *s = json_string_value(json_object_get(o->ev, key));
  return s ? s : "";
}

proto_state_t fx_state(fx_t *f, const char *id, proto_task_t *out)
{
  proto_task_t t;
  TST_SOK(store_task_get(f->store, id, &t));
  proto_state_t s = t.state;
  if (out)
    *out = t;
  else
    store_task_free(&t);
  return s;
}

/* The reason of the task's last history entry (malloc'd). */
char *fx_last_reason(fx_t *f, const char *id)
{
  proto_task_update_t *h = NULL;
  size_t n = tst_history(f->store, id, &h);
  cr_assert_gt(n, 0);
  char *r = strdup(h[n - 1].reason ? h[n - 1].reason : "");
  tst_history_free(h, n);
  return r;
}

bool fx_branch_exists(fx_t *f, const char *branch)
{
  char *out = ext_sh_out("git -C '%s' branch --list '%s'", f->repo, branch);
  bool yes = out[0] != '\0';
  free(out);
  return yes;
}

char *fx_path(fx_t *f, const char *rel)
{
  static char buf[8192];
  int n = snprintf(buf, sizeof buf, "%s/%s", f->data, rel);
  cr_assert(n > 0 && (size_t)n < sizeof buf);
  return buf;
}
