/*
 * run.c: the run actor, one run of one task (design in executor_int.h).
 *
 * Phases, each ended by a message:
 *   PREPARE   blocking job: worktree, prompt file, log files
 *   AGENT     the agent process: pipes and pidfd watched, deadline timer
 *   FINALIZE  blocking job: commit on the branch, numstat against the base
 *   TEST      the repository's test command, supervised like the agent
 *   PUBLISH   (publish on, change accepted) blocking job: push the branch;
 *             then a request to the GitHub client: open the pull request
 *   CLEANUP   blocking job: remove the worktree (and an empty branch)
 * then EXEC__MSG_RUN_DONE goes to the pool with the outcome as JSON and
 * the actor stops. The github-mention preset has one phase instead,
 * DELEGATE: a request to the GitHub client that comments on the task's
 * issue (no worktree, no process). A cancel kills the process of the current phase; a
 * setup failure skips to CLEANUP. Stopping early (shutdown) kills the
 * process group and leaves the worktree for the restart clean-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/executor/agent.h"
#include "actors/executor/executor_int.h"
#include "actors/executor/publish.h"
#include "actors/executor/stream.h"
#include "actors/executor/worktree.h"
#include "runtime/io.h"
#include "github/gh_ops.h"
#include "runtime/timer.h"

/* Without a pidfd the child's exit is polled this often. */
#define NO_PIDFD_POLL_MS 100
#define DEFAULT_WALL_S 1800u
#define DEFAULT_IDLE_MS 600000u
#define DEFAULT_TEST_MS 600000u
#define DEFAULT_GITHUB_MS 600000u

typedef enum phase {
  PH_PREPARE, PH_AGENT, PH_FINALIZE, PH_TEST, PH_PUBLISH, PH_CLEANUP,
  PH_DELEGATE
} phase_t;
typedef enum job_kind { JOB_PREPARE, JOB_FINALIZE, JOB_PUSH, JOB_CLEANUP } job_kind_t;

/* A blocking job's record: inputs copied, outputs written by the job. */
typedef struct run_job {
  atomic_int refs; /* the job and the actor */
  job_kind_t kind;
  char *repo, *base, *dir, *branch, *runs, *prompt_path, *prompt, *message;
  char *remote;        /* push: the remote (NULL: origin) */
  char base_name[256]; /* push: the branch a pull request targets */
  char base_sha[EXEC_SHA_MAX];
  char log_out[PATH_MAX], log_err[PATH_MAX];
  bool delete_branch;
  bool keep; /* cleanup: leave the worktree (config keep_worktrees) */
  int rc;
  char err[512];
  exec_changes_t changes;
  int log_fd[2];
} run_job_t;

typedef struct run {
  exec__run_spec_t *spec;
  rt_runtime_t *rt;
  rt_actor_t *self;
  phase_t phase;
  /* runs leaves room for "/<attempt>.prompt.md" within PATH_MAX */
  char wt[PATH_MAX], runs[PATH_MAX - 64], branch[EXEC_ID_MAX + 8];
  char prompt_path[PATH_MAX];
  char pid_path[PATH_MAX]; /* the agent's group, for a restart; "" none */
  char session_id[37];
  char base_sha[EXEC_SHA_MAX];
  char **argv;
  run_job_t *job;
  exec_proc_t proc;
  bool proc_live, testing, cancel, setup_failed, finished;
  uint64_t timer_id;
  exec_stream_t stream;
  uint64_t line_no, dropped;
  char err_tail[EXEC_TAIL_MAX];
  char test_tail[EXEC_TAIL_MAX];
  size_t test_tail_len;
  int log_fd[2];
  char *clean; /* PROTO_MAX_TEXT + 1 bytes for republishing */
  exec_changes_t changes;
  bool have_changes;
  uint64_t started_ms;
  exec_class_t cls;
  char reason[1024];
  json_t *out; /* the outcome under construction */
  json_t *publish; /* the outcome's "publish" object while publishing */
  uint64_t gh_corr; /* the GitHub request in flight, 0 none */
} run_t;

/* ------------------------------------------------------------------ jobs */

static void job_release(run_job_t *j)
{
  if (!j || atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) != 1)
    return;
  free(j->repo), free(j->base), free(j->dir), free(j->branch);
  free(j->runs), free(j->prompt_path), free(j->prompt), free(j->message);
  free(j->remote);
  for (int i = 0; i < 2; i++)
    if (j->log_fd[i] >= 0)
      close(j->log_fd[i]);
  exec_changes_fini(&j->changes);
  free(j);
}

static int write_file(const char *path, const char *text)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  size_t len = strlen(text), off = 0;
  while (off < len) {
    ssize_t n = write(fd, text + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = -errno;
      close(fd);
      return e;
    }
    off += (size_t)n;
  }
  return close(fd) == 0 ? 0 : -errno;
}

static int mkdirs(const char *path)
{
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s/", path) >= (int)sizeof buf)
    return -ENAMETOOLONG;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  return 0;
}

static void job_prepare(run_job_t *j)
{
  j->rc = exec_wt_create(j->repo, j->base, j->dir, j->branch, j->base_sha,
                         j->err, sizeof j->err);
  if (j->rc)
    return;
  if ((j->rc = mkdirs(j->runs)) != 0 ||
      (j->rc = write_file(j->prompt_path, j->prompt)) != 0) {
    snprintf(j->err, sizeof j->err, "cannot write %s: %s", j->prompt_path,
             strerror(-j->rc));
    return;
  }
  j->log_fd[0] = open(j->log_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                      0600);
  j->log_fd[1] = open(j->log_err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                      0600);
}

/* Runs on a blocking thread. */
static void job_fn(void *arg, rt_msg_t **result)
{
  run_job_t *j = arg;
  switch (j->kind) {
  case JOB_PREPARE:
    job_prepare(j);
    break;
  case JOB_FINALIZE:
    j->rc = exec_wt_commit(j->dir, j->message, j->base_sha, &j->changes,
                           j->err, sizeof j->err);
    break;
  case JOB_PUSH:
    j->rc = exec_wt_push(j->repo, j->remote, j->branch, j->base, j->base_name,
                         sizeof j->base_name, j->err, sizeof j->err);
    break;
  case JOB_CLEANUP:
    if (!j->keep)
      j->rc = exec_wt_remove(j->repo, j->dir,
                             j->delete_branch ? j->branch : NULL, j->err,
                             sizeof j->err);
    break;
  }
  /* The pointer travels by value; the actor checks it is its current job
   * before touching it, and holds a reference until then. */
  rt_msg_new(EXEC__MSG_RUN_JOB, &arg, sizeof arg, result);
  job_release(j);
}

static char *dup_or_null(const char *s)
{
  return s ? strdup(s) : NULL;
}

static run_job_t *job_new(run_t *r, job_kind_t kind)
{
  run_job_t *j = calloc(1, sizeof *j);
  if (!j)
    return NULL;
  atomic_init(&j->refs, 2);
  j->kind = kind;
  j->log_fd[0] = j->log_fd[1] = -1;
  j->repo = dup_or_null(r->spec->repo->path);
  j->base = dup_or_null(r->spec->repo->base);
  j->dir = dup_or_null(r->wt);
  j->branch = dup_or_null(r->branch);
  j->runs = dup_or_null(r->runs);
  j->prompt_path = dup_or_null(r->prompt_path);
  j->keep = kind == JOB_CLEANUP && r->spec->cfg.keep_worktrees;
  memcpy(j->base_sha, r->base_sha, sizeof j->base_sha);
  return j;
}

static void submit(rt_ctx_t *ctx, run_t *r, run_job_t *j);
static void finish(rt_ctx_t *ctx, run_t *r);
static void after_verdict(rt_ctx_t *ctx, run_t *r);
static void run_release(run_t *r, bool keep_spec);

/* ------------------------------------------------------------- outcome */

static void set_str(json_t *o, const char *key, const char *s)
{
  char buf[4096];
  if (!s)
    return;
  exec_text_clean(s, strlen(s), buf, sizeof buf);
  json_object_set_new(o, key, json_string(buf));
}

static json_t *argv_json(char *const *argv)
{
  json_t *a = json_array();
  char buf[4096];
  for (size_t i = 0; argv && argv[i]; i++) {
    exec_text_clean(argv[i], strlen(argv[i]), buf, sizeof buf);
    json_array_append_new(a, json_string(buf));
  }
  return a;
}

static void record_agent(run_t *r)
{
  const exec_stream_t *s = &r->stream;
  json_t *o = r->out;
  set_str(o, "session_id", s->session_id[0] ? s->session_id : r->session_id);
  set_str(o, "model", s->model[0] ? s->model : NULL);
  json_object_set_new(o, "turns", json_integer(s->turns));
  json_object_set_new(o, "cost_usd",
                      s->cost_known ? json_real(s->cost_usd) : json_null());
  json_object_set_new(
      o, "tokens",
      json_pack("{sI sI sI sI}", "input", (json_int_t)s->tokens_in, "output",
                (json_int_t)s->tokens_out, "cache_read",
                (json_int_t)s->tokens_cache_read, "cache_creation",
                (json_int_t)s->tokens_cache_write));
  json_object_set(o, "permission_denials", s->denials);
  json_object_set_new(o, "denial_count", json_integer(s->denial_count));
  if (s->limit_rejected)
    json_object_set_new(o, "resets_at", json_integer(s->resets_at));
  json_object_set_new(
      o, "output",
      json_pack("{sI sI sI sI sI sI}", "lines", (json_int_t)s->lines,
                "events", (json_int_t)s->events, "not_json",
                (json_int_t)s->not_json, "oversized",
                (json_int_t)s->oversized, "unknown", (json_int_t)s->unknown,
                "dropped", (json_int_t)r->dropped));
  int code = exec_proc_exit_code(&r->proc);
  json_object_set_new(o, "exit_code", code >= 0 ? json_integer(code)
                                                : json_null());
  json_object_set_new(o, "signal", json_integer(exec_proc_term_signal(&r->proc)));
  static const char *const killed[] = {NULL, "idle", "wall", "cancel"};
  json_object_set_new(o, "killed", r->proc.killed ? json_string(killed[r->proc.killed])
                                                  : json_null());
}

static void record_changes(run_t *r)
{
  json_t *files = json_array();
  const exec_changes_t *c = &r->changes;
  for (size_t i = 0; i < c->n && i < EXEC_EVENT_FILES; i++) {
    json_t *f = json_pack("{sI sI sb}", "added", (json_int_t)c->files[i].added,
                          "deleted", (json_int_t)c->files[i].deleted,
                          "binary", c->files[i].binary);
    set_str(f, "path", c->files[i].path);
    json_array_append_new(files, f);
  }
  json_object_set_new(r->out, "files", files);
  json_object_set_new(r->out, "files_changed", json_integer((json_int_t)c->n));
  json_object_set_new(r->out, "lines_added", json_integer((json_int_t)c->added));
  json_object_set_new(r->out, "lines_deleted",
                      json_integer((json_int_t)c->deleted));
  json_object_set_new(r->out, "committed", json_boolean(c->committed));
  set_str(r->out, "head", c->head);
}

/* ---------------------------------------------------------- the process */

static void close_pipe(run_t *r, int stream, exec_line_fn fn)
{
  if (r->proc.fd[stream] < 0)
    return;
  rt_fd_unwatch(r->rt, r->proc.fd[stream]);
  exec_proc_close_pipe(&r->proc, stream, fn, r);
}

static void stop_process(run_t *r)
{
  if (!r->proc_live)
    return;
  for (int i = 0; i < 3; i++)
    if (r->proc.fd[i] >= 0)
      rt_fd_unwatch(r->rt, r->proc.fd[i]);
  exec_proc_close(&r->proc); /* SIGKILLs the group if it still runs */
  r->proc_live = false;
}

/* Keep the last bytes of a stream of lines in @p tail (cap bytes). */
static void keep_tail(char *tail, size_t cap, size_t *len, const char *line,
                      size_t n)
{
  char clean[EXEC_TAIL_MAX];
  size_t m = exec_text_clean(line, n, clean, sizeof clean - 1);
  clean[m++] = '\n';
  if (m > cap - 1)
    m = cap - 1;
  if (*len + m > cap - 1) { /* drop the oldest bytes */
    size_t drop = *len + m - (cap - 1);
    memmove(tail, tail + drop, *len - drop);
    *len -= drop;
  }
  memcpy(tail + *len, clean, m);
  *len += m;
  tail[*len] = '\0';
}

static void log_line(run_t *r, int stream, const char *line, size_t len)
{
  int fd = r->log_fd[stream];
  if (fd < 0)
    return;
  /* A line and its newline in one write; a failed write only loses the
   * log, never the run. */
  char *buf = malloc(len + 1);
  if (!buf)
    return;
  memcpy(buf, line, len);
  buf[len] = '\n';
  if (write(fd, buf, len + 1) < 0) {
    close(fd);
    r->log_fd[stream] = -1;
  }
  free(buf);
}

static void republish(run_t *r, int stream, const char *line, size_t len)
{
  if (!r->spec->sink || len == 0 || !r->clean)
    return;
  exec_text_clean(line, len, r->clean, PROTO_MAX_TEXT + 1);
  proto_msg_t m = {.type = PROTO_AGENT_OUTPUT};
  m.u.agent_output = (proto_agent_output_t){
      .task_id = r->spec->task.id, .line_no = r->line_no,
      .stream = (char *)(stream == EXEC_STDOUT ? "stdout" : "stderr"),
      .line = r->clean};
  /* A full sink drops the line (counted): the agent is never slowed. */
  if (exec__send_proto(r->spec->sink, &m) != 0)
    r->dropped++;
}

static void on_agent_line(void *ud, int stream, const char *line, size_t len,
                          unsigned flags)
{
  run_t *r = ud;
  r->line_no++;
  log_line(r, stream, line, len);
  if (stream == EXEC_STDOUT) {
    exec_stream_feed(&r->stream, line, len, flags);
  } else if (len > 0) {
    size_t n = len < sizeof r->err_tail - 1 ? len : sizeof r->err_tail - 1;
    exec_text_clean(line, n, r->err_tail, sizeof r->err_tail);
  }
  republish(r, stream, line, len);
}

static void on_test_line(void *ud, int stream, const char *line, size_t len,
                         unsigned flags)
{
  run_t *r = ud;
  (void)stream, (void)flags;
  keep_tail(r->test_tail, sizeof r->test_tail, &r->test_tail_len, line, len);
}

static exec_line_fn line_fn(const run_t *r)
{
  return r->testing ? on_test_line : on_agent_line;
}

/* Arm the one-shot timer at the child's next deadline. */
static void arm_timer(run_t *r)
{
  uint64_t now = exec_now_ms();
  uint64_t next = exec_proc_tick(&r->proc, now);
  if (r->proc.abandon) {
    close_pipe(r, EXEC_STDOUT, line_fn(r));
    close_pipe(r, EXEC_STDERR, line_fn(r));
  }
  uint64_t delay = next ? (next > now ? next - now : 0) : 0;
  if (r->proc.fd[2] < 0 && !r->proc.exited &&
      (!next || delay > NO_PIDFD_POLL_MS))
    delay = NO_PIDFD_POLL_MS, next = 1;
  r->timer_id = 0;
  if (next)
    rt_timer_start(r->rt, r->self, EXEC__MSG_RUN_TICK, delay, 0, &r->timer_id);
}

static int watch_all(run_t *r)
{
  int rc = 0;
  for (uint64_t i = 0; i < 3 && !rc; i++)
    if (r->proc.fd[i] >= 0)
      rc = rt_fd_watch(r->rt, r->proc.fd[i], RT_IO_READ, r->self, i);
  return rc;
}

static int start_process(run_t *r, const exec_spawn_spec_t *spec,
                         const exec_limits_t *lim, char *err, size_t errlen)
{
  int rc = exec_proc_spawn(spec, lim, r->spec->cfg.max_line, &r->proc, err,
                           errlen);
  if (rc)
    return rc;
  r->proc_live = true;
  rc = watch_all(r);
  if (rc) {
    snprintf(err, errlen, "cannot watch the child: %s", rt_strerror(rc));
    stop_process(r);
    return rc;
  }
  arm_timer(r);
  return 0;
}

/* ------------------------------------------------------------- phases */

static void fail_setup(rt_ctx_t *ctx, run_t *r, const char *what,
                       const char *err)
{
  r->setup_failed = true;
  r->cls = EXEC_CLASS_ERROR;
  snprintf(r->reason, sizeof r->reason, "%s: %.900s", what, err);
  json_object_set_new(r->out, "setup_error", json_true());
  run_job_t *j = job_new(r, JOB_CLEANUP);
  if (j)
    j->delete_branch = true;
  r->phase = PH_CLEANUP;
  submit(ctx, r, j);
}

static void start_agent(rt_ctx_t *ctx, run_t *r)
{
  const exec__run_spec_t *s = r->spec;
  exec_spawn_spec_t ps = {.argv = (const char *const *)r->argv,
                          .cwd = r->wt,
                          .stdin_path = r->prompt_path,
                          .env = s->preset->env,
                          .pass_env = s->preset->pass_env};
  exec_limits_t lim = {
      .idle_ms = s->cfg.idle_timeout_ms ? s->cfg.idle_timeout_ms
                                        : DEFAULT_IDLE_MS,
      .wall_ms = 1000u * (uint64_t)(s->cfg.budget.max_wall_s
                                        ? s->cfg.budget.max_wall_s
                                        : DEFAULT_WALL_S),
      .grace_ms = s->cfg.kill_grace_ms};
  char err[512] = "";
  r->phase = PH_AGENT;
  if (start_process(r, &ps, &lim, err, sizeof err) != 0) {
    fail_setup(ctx, r, "cannot start the agent", err);
    return;
  }
  /* If ccm dies with SIGKILL the agent's group lives on; the restart
   * stops it from this record (a few bytes: not worth a blocking job). */
  snprintf(r->pid_path, sizeof r->pid_path, "%s/%u.pid", r->runs,
           s->attempt);
  if (exec_proc_record(&r->proc, r->pid_path) != 0)
    r->pid_path[0] = '\0';
}

/* The agent's group is gone: its record too. */
static void forget_agent(run_t *r)
{
  if (r->pid_path[0])
    unlink(r->pid_path);
  r->pid_path[0] = '\0';
}

/* Start the test command; false (with the outcome recorded) if it could
 * not start. */
static bool start_tests(run_t *r)
{
  const exec__run_spec_t *s = r->spec;
  exec_spawn_spec_t ps = {.argv = s->repo->test_command, .cwd = r->wt};
  exec_limits_t lim = {.wall_ms = s->cfg.test_timeout_ms
                                      ? s->cfg.test_timeout_ms
                                      : DEFAULT_TEST_MS,
                       .grace_ms = s->cfg.kill_grace_ms};
  char err[512] = "";
  r->testing = true;
  if (start_process(r, &ps, &lim, err, sizeof err) == 0) {
    r->phase = PH_TEST;
    return true;
  }
  r->testing = false;
  json_object_set_new(r->out, "test", json_pack("{sb sb ss}", "ran", 0,
                                                "passed", 0, "error", err));
  json_object_set_new(r->out, "ok", json_false());
  snprintf(r->reason, sizeof r->reason, "tests did not start: %.900s", err);
  return false;
}

static void on_prepared(rt_ctx_t *ctx, run_t *r, run_job_t *j)
{
  if (j->rc) {
    fail_setup(ctx, r, "cannot make the worktree", j->err);
    return;
  }
  memcpy(r->base_sha, j->base_sha, sizeof r->base_sha);
  set_str(r->out, "base", r->base_sha);
  for (int i = 0; i < 2; i++) {
    r->log_fd[i] = j->log_fd[i];
    j->log_fd[i] = -1;
  }
  if (r->cancel) {
    r->cls = EXEC_CLASS_CANCELLED;
    snprintf(r->reason, sizeof r->reason, "cancelled before the agent started");
    run_job_t *c = job_new(r, JOB_CLEANUP);
    if (c)
      c->delete_branch = true;
    r->phase = PH_CLEANUP;
    submit(ctx, r, c);
    return;
  }
  if (r->spec->cfg.dry_run) {
    char *line = exec_argv_join(r->argv);
    snprintf(r->reason, sizeof r->reason, "dry run: would run: %.600s < %.300s",
             line ? line : "?", r->prompt_path);
    free(line);
    json_object_set_new(r->out, "dry_run", json_true());
    run_job_t *c = job_new(r, JOB_CLEANUP);
    if (c)
      c->delete_branch = true;
    r->phase = PH_CLEANUP;
    submit(ctx, r, c);
    return;
  }
  start_agent(ctx, r);
}

/* Gate, then tests. @return true when the tests were started (the run
 * goes on in PH_TEST), false when the verdict is recorded. */
static bool judge_success(run_t *r)
{
  char why[1024];
  bool passed = exec_gate_check(&r->spec->cfg.policy, &r->changes, why,
                                sizeof why);
  json_object_set_new(r->out, "gate",
                      json_pack("{sb ss}", "passed", passed, "reason", why));
  if (!passed) {
    snprintf(r->reason, sizeof r->reason, "%s", why);
    return false;
  }
  if (r->spec->repo->test_command && r->spec->repo->test_command[0])
    return start_tests(r);
  json_object_set_new(r->out, "ok", json_true());
  return false;
}

/* ----------------------------------------------------------- publishing */

/* A branch without a commit of its own is of no use: deleted at clean-up,
 * never pushed. */
static bool branch_has_commit(const run_t *r)
{
  return r->have_changes && strcmp(r->changes.head, r->base_sha) != 0;
}

static void cleanup(rt_ctx_t *ctx, run_t *r)
{
  run_job_t *c = job_new(r, JOB_CLEANUP);
  if (c)
    c->delete_branch = !branch_has_commit(r);
  r->phase = PH_CLEANUP;
  submit(ctx, r, c);
}

/* Append "; <text>" to the history sentence. */
__attribute__((format(printf, 2, 3)))
static void reason_add(run_t *r, const char *fmt, ...)
{
  size_t used = strlen(r->reason);
  if (used + 3 >= sizeof r->reason)
    return;
  va_list ap;
  va_start(ap, fmt);
  snprintf(r->reason + used, sizeof r->reason - used, "; ");
  vsnprintf(r->reason + used + 2, sizeof r->reason - used - 2, fmt, ap);
  va_end(ap);
}

/* Publishing stopped at @p why: record it, the change stays on the local
 * branch (the task still goes to review, saying so). */
static void publish_failed(rt_ctx_t *ctx, run_t *r, const char *why)
{
  set_str(r->publish, "error", why);
  reason_add(r, "not published: %.700s", why);
  cleanup(ctx, r);
}

/* After the gate and the tests: publish an accepted change, or clean up. */
static void after_verdict(rt_ctx_t *ctx, run_t *r)
{
  const exec_repo_t *repo = r->spec->repo;
  if (!repo->publish || !json_is_true(json_object_get(r->out, "ok"))) {
    cleanup(ctx, r);
    return;
  }
  r->publish = json_object();
  json_object_set_new(r->out, "publish", r->publish); /* r->out owns it */
  set_str(r->publish, "remote", repo->remote ? repo->remote : "origin");
  json_object_set_new(r->publish, "pushed", json_false());
  if (!branch_has_commit(r)) {
    publish_failed(ctx, r, "nothing to publish: the branch has no commit "
                           "of its own");
    return;
  }
  run_job_t *j = job_new(r, JOB_PUSH);
  if (j)
    j->remote = dup_or_null(repo->remote);
  r->phase = PH_PUBLISH;
  submit(ctx, r, j);
}

/* The GitHub client: the configured actor, else the one registered under
 * cfg.github_name now (it may start after the executor); NULL: none. */
static rt_actor_t *github_client(run_t *r)
{
  exec__run_spec_t *s = r->spec;
  rt_actor_t *gh = NULL;
  if (!s->github && s->cfg.github_name &&
      rt_actor_lookup(r->rt, s->cfg.github_name, &gh) == 0)
    s->github = gh; /* the spec holds the reference */
  return s->github;
}

/* Send @p op to the GitHub client as a request; the answer comes back as
 * GH_MSG_RESPONSE (or RT_MSG_TIMEOUT) with r->gh_corr. */
static int github_send(rt_ctx_t *ctx, run_t *r, const gh_op_t *op)
{
  rt_msg_t *m = NULL;
  uint32_t timeout = r->spec->cfg.github_timeout_ms
                         ? r->spec->cfg.github_timeout_ms
                         : DEFAULT_GITHUB_MS;
  int rc = gh_request_msg(&op->req, &m);
  if (!rc)
    rc = rt_request(ctx, r->spec->github, &m, timeout, &r->gh_corr);
  return rc;
}

static void on_pushed(rt_ctx_t *ctx, run_t *r, run_job_t *j)
{
  const exec_repo_t *repo = r->spec->repo;
  if (j->rc) {
    publish_failed(ctx, r, j->err);
    return;
  }
  json_object_set_new(r->publish, "pushed", json_true());
  set_str(r->publish, "base", j->base_name);
  reason_add(r, "pushed %s to %s", r->branch,
             repo->remote ? repo->remote : "origin");
  if (!repo->github || !github_client(r)) {
    publish_failed(ctx, r, repo->github ? "no GitHub client to open the pull "
                                          "request with (github.token_env "
                                          "unset?)"
                                        : "no GitHub repository configured "
                                          "for a pull request");
    return;
  }
  if (!j->base_name[0]) {
    publish_failed(ctx, r, "no base branch for the pull request (HEAD is "
                           "detached and no base branch is configured)");
    return;
  }
  char *title = exec_pr_title(&r->spec->task);
  char *body = exec_pr_body(&r->spec->task, r->out);
  gh_op_t op = {0};
  int rc = title && body ? gh_op_create_pull(&op, repo->github, title,
                                             r->branch, j->base_name, body,
                                             repo->draft)
                         : GH_ENOMEM;
  if (!rc)
    rc = github_send(ctx, r, &op);
  gh_op_fini(&op);
  free(title);
  free(body);
  if (rc) {
    char why[256];
    snprintf(why, sizeof why, "cannot ask for the pull request: %s",
             gh_strerror(rc));
    publish_failed(ctx, r, why);
  }
}

static void on_pull_answer(rt_ctx_t *ctx, run_t *r, const gh_response_t *g)
{
  gh_pull_t pr = {0};
  if (g->rc == 0 && gh_pull_parse(g->body, g->len, &pr) == 0 && pr.html_url) {
    set_str(r->publish, "pr_url", pr.html_url);
    set_str(r->out, "pr_url", pr.html_url);
    json_object_set_new(r->publish, "pr_number", json_integer(pr.number));
    reason_add(r, "pull request %s", pr.html_url);
    gh_pull_fini(&pr);
    cleanup(ctx, r);
    return;
  }
  gh_pull_fini(&pr);
  char why[768];
  snprintf(why, sizeof why, "the pull request was not opened: %.600s",
           g->rc ? (g->error ? g->error : gh_strerror(g->rc))
                 : "GitHub's answer has no html_url");
  publish_failed(ctx, r, why);
}

/* --------------------------------------------------------- github-mention */

/* Where the mention goes, or NULL with @p why filled. */
static bool mention_target(run_t *r, char *why, size_t wlen)
{
  const exec__run_spec_t *s = r->spec;
  if (!s->repo->github)
    snprintf(why, wlen, "github-mention needs the repository's GitHub name "
                        "(repos[].github)");
  else if (!s->task.issue_number)
    snprintf(why, wlen, "github-mention needs an issue to comment on: task %s "
                        "has no issue number", s->task.id);
  else if (!s->cfg.dry_run && !github_client(r))
    snprintf(why, wlen, "github-mention needs a GitHub client (github.*; "
                        "github.token_env unset?)");
  else
    return true;
  return false;
}

static void mention_failed(rt_ctx_t *ctx, run_t *r, const char *why)
{
  r->setup_failed = true; /* never retried: a retry could comment twice */
  r->cls = EXEC_CLASS_ERROR;
  snprintf(r->reason, sizeof r->reason, "%.1000s", why);
  finish(ctx, r);
}

/* The github-mention preset: comment on the task's issue, then the task
 * waits (in review) for the pull request the webhooks will report. */
static void delegate(rt_ctx_t *ctx, run_t *r)
{
  const exec__run_spec_t *s = r->spec;
  const proto_task_t *t = &s->task;
  const char *mention = s->preset->mention ? s->preset->mention
                                           : EXEC_DEFAULT_MENTION;
  char why[512], where[256];
  r->phase = PH_DELEGATE;
  if (!mention_target(r, why, sizeof why)) {
    mention_failed(ctx, r, why);
    return;
  }
  snprintf(where, sizeof where, "%s#%" PRIu32, s->repo->github,
           t->issue_number);
  json_object_set_new(r->out, "command",
                      json_pack("[s s s]", "github-mention", mention, where));
  exec_vars_t v = {.branch = r->branch};
  char *prompt = exec_prompt_render(exec_prompt_template(&s->cfg, t->kind), t,
                                    &v);
  char *body = prompt ? exec_mention_body(mention, prompt, t, r->branch) : NULL;
  free(prompt);
  gh_op_t op = {0};
  int rc = body ? 0 : GH_ENOMEM;
  if (!rc && s->cfg.dry_run) {
    json_object_set_new(r->out, "dry_run", json_true());
    snprintf(r->reason, sizeof r->reason,
             "dry run: would comment on %s: %.700s", where, body);
    free(body);
    finish(ctx, r);
    return;
  }
  if (!rc)
    rc = gh_op_comment(&op, s->repo->github, t->issue_number, body);
  if (!rc)
    rc = github_send(ctx, r, &op);
  gh_op_fini(&op);
  free(body);
  if (rc) {
    snprintf(why, sizeof why, "cannot post the mention on %s: %s", where,
             gh_strerror(rc));
    mention_failed(ctx, r, why);
  }
}

static void on_comment_answer(rt_ctx_t *ctx, run_t *r, const gh_response_t *g)
{
  const exec__run_spec_t *s = r->spec;
  const char *mention = s->preset->mention ? s->preset->mention
                                           : EXEC_DEFAULT_MENTION;
  char url[512], why[768];
  int64_t id = 0;
  if (g->rc != 0 || exec_comment_parse(g->body, g->len, url, sizeof url,
                                       &id) != 0) {
    snprintf(why, sizeof why, "the mention was not posted on %s#%" PRIu32
             ": %.600s", s->repo->github, s->task.issue_number,
             g->rc ? (g->error ? g->error : gh_strerror(g->rc))
                   : "GitHub's answer is not a comment");
    mention_failed(ctx, r, why);
    return;
  }
  r->cls = EXEC_CLASS_DELEGATED;
  json_object_set_new(r->out, "ok", json_true());
  json_object_set_new(r->out, "comment", json_pack("{ss sI}", "url", url,
                                                   "id", (json_int_t)id));
  snprintf(r->reason, sizeof r->reason,
           "waiting for %s: delegated on %s#%" PRIu32 " (%s); the pull "
           "request from %s is tracked by webhooks", mention,
           s->repo->github, s->task.issue_number, url[0] ? url : "comment",
           r->branch);
  finish(ctx, r);
}

/* The GitHub client answered (or the request timed out: @p timed_out). */
static void on_github(rt_ctx_t *ctx, run_t *r, const rt_msg_t *m,
                      bool timed_out)
{
  if (!r->gh_corr || rt_msg_corr(m) != r->gh_corr)
    return;
  r->gh_corr = 0;
  gh_response_t g = {0};
  if (timed_out) {
    g.rc = GH_ETIMEDOUT;
    g.error = strdup("no answer from the GitHub client in time");
  } else if (gh_response_decode(m, &g) != 0) {
    g.rc = GH_EPROTO;
  }
  if (r->phase == PH_PUBLISH)
    on_pull_answer(ctx, r, &g);
  else if (r->phase == PH_DELEGATE)
    on_comment_answer(ctx, r, &g);
  gh_response_fini(&g);
}

static void on_finalized(rt_ctx_t *ctx, run_t *r, run_job_t *j)
{
  if (j->rc) {
    set_str(r->out, "commit_error", j->err);
  } else {
    r->changes = j->changes;
    memset(&j->changes, 0, sizeof j->changes);
    r->have_changes = true;
    record_changes(r);
  }
  if (r->cls == EXEC_CLASS_SUCCESS && r->have_changes && judge_success(r))
    return; /* the tests run */
  if (r->cls == EXEC_CLASS_SUCCESS && !r->have_changes)
    snprintf(r->reason, sizeof r->reason,
             "the agent succeeded but its changes could not be committed: "
             "%.800s", j->err);
  after_verdict(ctx, r);
}

static void agent_finished(rt_ctx_t *ctx, run_t *r)
{
  exec_end_t end = {
      .killed = r->proc.killed,
      .exit_code = exec_proc_exit_code(&r->proc),
      .term_signal = exec_proc_term_signal(&r->proc),
      .json_required = r->spec->preset->kind == EXEC_AGENT_CLAUDE_CODE,
      .idle_ms = r->proc.lim.idle_ms,
      .wall_ms = r->proc.lim.wall_ms,
      .stderr_tail = r->err_tail};
  r->cls = exec_classify(&r->stream, &end, r->reason, sizeof r->reason);
  record_agent(r);
  stop_process(r);
  forget_agent(r);
  run_job_t *j = job_new(r, JOB_FINALIZE);
  if (j) {
    char msg[1024];
    snprintf(msg, sizeof msg, "ccm: %.200s\n\nTask %s (%s), attempt %u, "
             "agent %s, session %s: %s.",
             r->spec->task.title ? r->spec->task.title : r->spec->task.id,
             r->spec->task.id, r->spec->task.kind, r->spec->attempt,
             r->spec->preset->name ? r->spec->preset->name : "agent",
             r->session_id, exec_class_name(r->cls));
    j->message = strdup(msg);
  }
  r->phase = PH_FINALIZE;
  submit(ctx, r, j);
}

static void tests_finished(rt_ctx_t *ctx, run_t *r)
{
  int code = exec_proc_exit_code(&r->proc);
  bool passed = code == 0 && r->proc.killed == EXEC_KILL_NONE;
  json_t *t = json_pack("{sb sb}", "ran", 1, "passed", passed);
  json_object_set_new(t, "exit_code", code >= 0 ? json_integer(code)
                                                : json_null());
  set_str(t, "output_tail", r->test_tail);
  json_object_set_new(r->out, "test", t);
  json_object_set_new(r->out, "ok", json_boolean(passed));
  if (!passed) {
    const char *last = r->test_tail_len ? r->test_tail : "";
    snprintf(r->reason, sizeof r->reason, "tests failed (%s %d): %.700s",
             code >= 0 ? "exit status" : "signal",
             code >= 0 ? code : exec_proc_term_signal(&r->proc), last);
  }
  stop_process(r);
  r->testing = false;
  after_verdict(ctx, r);
}

static void check_finished(rt_ctx_t *ctx, run_t *r)
{
  if (!r->proc_live || !exec_proc_finished(&r->proc))
    return;
  if (r->testing)
    tests_finished(ctx, r);
  else
    agent_finished(ctx, r);
}

static void on_io(rt_ctx_t *ctx, run_t *r, const rt_msg_t *m)
{
  rt_io_event_t ev;
  size_t len = 0;
  const void *d = rt_msg_data(m, &len);
  if (len != sizeof ev || !r->proc_live)
    return;
  memcpy(&ev, d, sizeof ev);
  if (ev.tag == 2) {
    if (exec_proc_reap(&r->proc))
      rt_fd_unwatch(r->rt, r->proc.fd[2]);
    else
      rt_fd_watch(r->rt, r->proc.fd[2], RT_IO_READ, r->self, 2);
    arm_timer(r); /* after an exit: the pipes' grace deadline */
  } else if (ev.tag < 2 && r->proc.fd[ev.tag] == ev.fd) {
    int stream = (int)ev.tag;
    if (exec_proc_pump(&r->proc, stream, 0, line_fn(r), r) != 0)
      close_pipe(r, stream, line_fn(r));
    else
      rt_fd_watch(r->rt, ev.fd, RT_IO_READ, r->self, ev.tag);
  }
  check_finished(ctx, r);
}

static void on_tick(rt_ctx_t *ctx, run_t *r, const rt_msg_t *m)
{
  if (!r->proc_live || rt_msg_corr(m) != r->timer_id)
    return; /* a stale tick */
  if (r->proc.fd[2] < 0)
    exec_proc_reap(&r->proc);
  arm_timer(r);
  check_finished(ctx, r);
}

static void on_cancel(rt_ctx_t *ctx, run_t *r)
{
  (void)ctx;
  r->cancel = true;
  if (r->proc_live && !r->testing) {
    exec_proc_cancel(&r->proc, exec_now_ms());
    arm_timer(r);
  }
}

static void on_job(rt_ctx_t *ctx, run_t *r, const rt_msg_t *m)
{
  run_job_t *j = NULL;
  size_t len = 0;
  const void *d = rt_msg_data(m, &len);
  if (len != sizeof j)
    return;
  memcpy(&j, d, sizeof j);
  if (!j || j != r->job)
    return; /* not ours (compared by value, never dereferenced) */
  r->job = NULL;
  switch (j->kind) {
  case JOB_PREPARE:
    on_prepared(ctx, r, j);
    break;
  case JOB_FINALIZE:
    on_finalized(ctx, r, j);
    break;
  case JOB_PUSH:
    on_pushed(ctx, r, j);
    break;
  case JOB_CLEANUP:
    if (j->rc)
      set_str(r->out, "cleanup_error", j->err);
    finish(ctx, r);
    break;
  }
  job_release(j);
}

static void submit(rt_ctx_t *ctx, run_t *r, run_job_t *j)
{
  if (j && rt_blocking_submit(r->rt, job_fn, j, r->self) == 0) {
    r->job = j;
    return;
  }
  if (j) { /* shutting down: neither side will see the result */
    job_release(j);
    job_release(j);
  }
  set_str(r->out, "job_error", "could not queue a blocking job");
  finish(ctx, r);
}

/* ------------------------------------------------------------ the end */

static void finish(rt_ctx_t *ctx, run_t *r)
{
  json_t *o = r->out;
  if (r->finished)
    return;
  r->finished = true;
  json_object_set_new(o, "class", json_string(
      json_is_true(json_object_get(o, "dry_run")) ? "dry_run"
                                                   : exec_class_name(r->cls)));
  set_str(o, "reason", r->reason);
  json_object_set_new(o, "transient", json_boolean(
      exec_class_transient(r->cls) && !r->setup_failed));
  if (!json_object_get(o, "ok"))
    json_object_set_new(o, "ok", json_false());
  json_object_set_new(o, "duration_ms",
                      json_integer((json_int_t)(exec_now_ms() - r->started_ms)));
  char *text = json_dumps(o, JSON_COMPACT);
  rt_msg_t *m = NULL;
  if (text && rt_msg_new_take(EXEC__MSG_RUN_DONE, text, strlen(text), &m) == 0)
    rt_send(r->spec->pool, &m);
  else
    free(text);
  rt_stop_self(ctx);
}

static void on_begin(rt_ctx_t *ctx, run_t *r)
{
  if (r->spec->preset->kind == EXEC_AGENT_GITHUB_MENTION) {
    delegate(ctx, r);
    return;
  }
  exec_vars_t v = {.branch = r->branch, .worktree = r->wt,
                   .prompt_file = r->prompt_path, .session_id = r->session_id};
  const proto_task_t *t = &r->spec->task;
  r->argv = exec_argv_build(r->spec->preset, &r->spec->cfg.budget, t, &v);
  run_job_t *j = job_new(r, JOB_PREPARE);
  if (j) {
    j->prompt = exec_prompt_render(
        exec_prompt_template(&r->spec->cfg, t->kind), t, &v);
    snprintf(j->log_out, sizeof j->log_out, "%s/%u.jsonl", r->runs,
             r->spec->attempt);
    snprintf(j->log_err, sizeof j->log_err, "%s/%u.stderr", r->runs,
             r->spec->attempt);
    set_str(r->out, "log", j->log_out);
  }
  json_object_set_new(r->out, "command", argv_json(r->argv));
  if (!r->argv || !j || !j->prompt) {
    job_release(j);
    job_release(j);
    r->setup_failed = true;
    r->cls = EXEC_CLASS_ERROR;
    snprintf(r->reason, sizeof r->reason,
             "cannot build the agent's command or prompt (preset %s)",
             r->spec->preset->name ? r->spec->preset->name : "?");
    finish(ctx, r);
    return;
  }
  submit(ctx, r, j);
}

static void run_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  run_t *r = state;
  switch (rt_msg_type(msg)) {
  case EXEC__MSG_RUN_BEGIN:
    on_begin(ctx, r);
    break;
  case EXEC__MSG_RUN_JOB:
    on_job(ctx, r, msg);
    break;
  case RT_MSG_IO_READY:
    on_io(ctx, r, msg);
    break;
  case EXEC__MSG_RUN_TICK:
    on_tick(ctx, r, msg);
    break;
  case EXEC__MSG_RUN_CANCEL:
    on_cancel(ctx, r);
    break;
  case GH_MSG_RESPONSE:
    on_github(ctx, r, msg, false);
    break;
  case RT_MSG_TIMEOUT:
    on_github(ctx, r, msg, true);
    break;
  default:
    break;
  }
}

/* exec__run_spawn's argument: the spec, and whether the actor took it
 * (from then on its on_stop frees it, also when the spawn fails after
 * on_start: the runtime shutting down runs on_stop). */
typedef struct run_arg {
  exec__run_spec_t *spec;
  bool taken;
} run_arg_t;

static int run_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  run_t *r = state;
  run_arg_t *ra = (run_arg_t *)arg;
  r->spec = ra->spec;
  r->rt = rt_ctx_runtime(ctx);
  r->self = rt_self(ctx);
  r->log_fd[0] = r->log_fd[1] = -1;
  r->proc.fd[0] = r->proc.fd[1] = r->proc.fd[2] = -1;
  r->started_ms = exec_now_ms();
  exec_stream_init(&r->stream);
  exec_uuid4(r->session_id);
  r->clean = malloc(PROTO_MAX_TEXT + 1);
  r->out = json_object();
  if (exec__paths(r->spec->cfg.data_dir, r->spec->task.id, r->wt,
                  sizeof r->wt, r->branch, sizeof r->branch, r->runs,
                  sizeof r->runs) != 0 ||
      !r->out || !r->clean) {
    run_release(r, true); /* exec__run_spawn frees the spec */
    return EXEC_EINVAL;
  }
  snprintf(r->prompt_path, sizeof r->prompt_path, "%s/%u.prompt.md", r->runs,
           r->spec->attempt);
  json_object_set_new(r->out, "task_id", json_string(r->spec->task.id));
  json_object_set_new(r->out, "attempt", json_integer(r->spec->attempt));
  set_str(r->out, "preset", r->spec->preset->name);
  json_object_set_new(r->out, "dry_run", json_boolean(r->spec->cfg.dry_run));
  set_str(r->out, "branch", r->branch);
  set_str(r->out, "worktree", r->wt);
  rt_msg_t *m = NULL;
  int rc = rt_msg_new(EXEC__MSG_RUN_BEGIN, NULL, 0, &m);
  if (!rc)
    rc = rt_send(r->self, &m);
  if (rc)
    run_release(r, true);
  else
    ra->taken = true;
  return rc;
}

/* Free what the state owns; the spec too unless @p keep_spec. */
static void run_release(run_t *r, bool keep_spec)
{
  stop_process(r);
  forget_agent(r);
  if (r->timer_id)
    rt_timer_cancel(r->rt, r->timer_id);
  job_release(r->job);
  r->job = NULL;
  for (int i = 0; i < 2; i++)
    if (r->log_fd[i] >= 0)
      close(r->log_fd[i]);
  exec_stream_fini(&r->stream);
  exec_changes_fini(&r->changes);
  exec_argv_free(r->argv);
  json_decref(r->out);
  free(r->clean);
  if (!keep_spec)
    exec__run_spec_free(r->spec);
  memset(r, 0, sizeof *r);
}

static void run_stop(rt_ctx_t *ctx, void *state)
{
  (void)ctx;
  run_release(state, false);
}

static const rt_actor_type_t run_type = {
    .name = "executor-run",
    .state_size = sizeof(run_t),
    .on_start = run_start,
    .on_msg = run_msg,
    .on_stop = run_stop,
};

int exec__run_spawn(rt_runtime_t *rt, exec__run_spec_t *spec,
                    rt_actor_t **out)
{
  run_arg_t arg = {.spec = spec, .taken = false};
  int rc = rt_actor_spawn(rt, &run_type, &arg, NULL, out);
  if (rc && !arg.taken) /* else on_stop has freed it */
    exec__run_spec_free(spec);
  return rc;
}
