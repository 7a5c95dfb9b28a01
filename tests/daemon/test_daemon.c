/*
 * test_daemon.c: a real `ccm serve` process (port 0 on 127.0.0.1) and the
 * operations around it: systemd notifications, SIGHUP reloads, the audit
 * log of reloads, and the log it writes.
 *
 * The test binds a datagram socket and names it in NOTIFY_SOCKET, as
 * systemd does, so every notification is a real sd_notify datagram; the
 * daemon's READY status carries the URL it serves, which is how the test
 * learns the port. Waiting is on those datagrams (bounded), never sleeps.
 *
 * Contract checked: READY=1 comes once the control plane answers;
 * WATCHDOG=1 repeats when WATCHDOG_USEC is set; SIGTERM sends STOPPING=1
 * and the daemon exits 0. On SIGHUP with a broken file the reload is
 * refused: RELOADING=1 then READY=1 "refused", the error is logged with
 * FILE:LINE:COLUMN, the daemon goes on serving with its old settings (its
 * log level unchanged), and the refusal is audit-logged with the broken
 * file's SHA-256; with a fixed file the reload is applied (the new log
 * level shows at once), audit-logged with that file's SHA-256. The
 * values of the configured token variables never appear in the log.
 * A reload that changes agents (dry_run, concurrency, budget) and
 * priority.weights is applied live: GET /api/v1/queue shows the
 * prioritizer's new limits and the task's score recomputed with the new
 * weights; a broken file after it changes neither. (The queue is read
 * until it shows the change, bounded by WAIT_MS: the actors take the new
 * settings by message after READY=1.)
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/scanner/fake_git.h"
#include "tests/support/store_test.h"
#include "tests/web/web_test.h"

TestSuite(daemon, .timeout = 180);

/* Generous for an ASan build on 2 busy cores. */
#define WAIT_MS 60000
#define TOKEN "tok-" "Vd93kQ7zLm"
#define GH_TOKEN "ghp_" "daemonTestValue0042"

typedef struct daemon_proc {
  char *dir;
  char sock_path[108], cfg_path[512], err_path[512];
  int sock;
  pid_t pid;
  wt_server_t http; /* only .port: for wt_http */
  char notes[16384]; /* every datagram so far, "\n---\n"-separated */
} daemon_proc_t;

static void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "%s", path);
  fputs(text, f);
  fclose(f);
}

static char *read_all(const char *path)
{
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "%s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *buf = malloc((size_t)n + 1);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* The configuration with log level @p level and, when @p extra is not
 * NULL, @p extra appended as the last line. */
static void write_config(daemon_proc_t *d, const char *level,
                         const char *extra)
{
  char text[2048];
  snprintf(text, sizeof text,
           "listen: 127.0.0.1:0\n"
           "data_dir: %s/data\n"
           "repos:\n"
           "  - path: %s/repo\n"
           "    scan_interval: off\n"
           "log:\n"
           "  level: %s\n"
           "%s",
           d->dir, d->dir, level, extra ? extra : "");
  write_file(d->cfg_path, text);
}

static void sha256_file(const char *path, char hex[65])
{
  char *text = read_all(path);
  unsigned char md[32];
  unsigned n = 0;
  cr_assert(EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL));
  for (unsigned i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  free(text);
}

static void bind_notify_socket(daemon_proc_t *d)
{
  snprintf(d->sock_path, sizeof d->sock_path, "%s/notify", d->dir);
  d->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  cr_assert_geq(d->sock, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  cr_assert_lt(strlen(d->sock_path), sizeof a.sun_path, "%s", d->sock_path);
  strcpy(a.sun_path, d->sock_path);
  cr_assert_eq(bind(d->sock, (struct sockaddr *)&a, sizeof a), 0, "%s",
               strerror(errno));
}

/* Start `ccm serve` with @p extra (NULL: none) in its configuration. */
static void start_with(daemon_proc_t *d, const char *watchdog_usec,
                       const char *extra)
{
  memset(d, 0, sizeof *d);
  d->dir = tst_tmpdir();
  char repo[600];
  snprintf(repo, sizeof repo, "%s/repo", d->dir);
  cr_assert_eq(mkdir(repo, 0700), 0);
  snprintf(repo, sizeof repo, "%s/repo/a.c", d->dir);
  write_file(repo, "/* TODO: one task */\n");
  snprintf(d->cfg_path, sizeof d->cfg_path, "%s/ccm.yaml", d->dir);
  snprintf(d->err_path, sizeof d->err_path, "%s/stderr.log", d->dir);
  write_config(d, "info", extra);
  bind_notify_socket(d);
  const char *ccm = tst_prog("CCM_BIN");
  d->pid = fork();
  cr_assert_geq(d->pid, 0);
  if (d->pid == 0) {
    int fd = open(d->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    setenv("NOTIFY_SOCKET", d->sock_path, 1);
    if (watchdog_usec)
      setenv("WATCHDOG_USEC", watchdog_usec, 1);
    setenv("CCM_TOKEN", TOKEN, 1);
    setenv("GITHUB_TOKEN", GH_TOKEN, 1);
    execl(ccm, ccm, "serve", "--config", d->cfg_path, (char *)NULL);
    _exit(127);
  }
}

static void start(daemon_proc_t *d, const char *watchdog_usec)
{
  start_with(d, watchdog_usec, NULL);
}

/* Wait (bounded) for a datagram holding line @p state; @p status, when
 * not NULL, gets its STATUS= value. Every datagram is kept in d->notes. */
static void await_note(daemon_proc_t *d, const char *state, char *status,
                       size_t cap)
{
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    long left = WAIT_MS - ((t.tv_sec - t0.tv_sec) * 1000 +
                           (t.tv_nsec - t0.tv_nsec) / 1000000);
    struct pollfd p = {.fd = d->sock, .events = POLLIN};
    cr_assert(left > 0 && poll(&p, 1, (int)left) == 1,
              "no %s within %d ms; got:\n%s", state, WAIT_MS, d->notes);
    char buf[2048];
    ssize_t n = recv(d->sock, buf, sizeof buf - 1, 0);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    size_t used = strlen(d->notes);
    if (used + (size_t)n + 8 < sizeof d->notes)
      snprintf(d->notes + used, sizeof d->notes - used, "%s\n---\n", buf);
    bool hit = false;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
      if (!strcmp(line, state))
        hit = true;
      else if (status && !strncmp(line, "STATUS=", 7))
        snprintf(status, cap, "%s", line + 7);
    }
    if (hit)
      return;
  }
}

/* READY=1 with "serving on http://127.0.0.1:PORT/": the port. */
static void await_ready(daemon_proc_t *d)
{
  char status[512] = "";
  await_note(d, "READY=1", status, sizeof status);
  const char *p = strstr(status, "http://127.0.0.1:");
  cr_assert_not_null(p, "READY status: %s", status);
  d->http.port = atoi(p + strlen("http://127.0.0.1:"));
  cr_assert_gt(d->http.port, 0, "%s", status);
}

/* SIGHUP, then RELOADING=1 and READY=1 whose status says @p outcome
 * ("applied" or "refused"). */
static void sighup(daemon_proc_t *d, const char *outcome)
{
  char status[512] = "";
  cr_assert_eq(kill(d->pid, SIGHUP), 0);
  await_note(d, "RELOADING=1", NULL, 0);
  await_note(d, "READY=1", status, sizeof status);
  cr_assert(strstr(status, outcome), "want %s: %s", outcome, status);
}

static void http_get(daemon_proc_t *d, const char *path, wt_resp_t *r)
{
  static const char *const auth[] = {"Authorization: Bearer " TOKEN, NULL};
  wt_http(&d->http, "GET", path, NULL, auth, r);
}

/* SIGTERM, STOPPING=1, exit 0; returns the log (malloc'd). */
static char *stop(daemon_proc_t *d)
{
  cr_assert_eq(kill(d->pid, SIGTERM), 0);
  await_note(d, "STOPPING=1", NULL, 0);
  int st = 0;
  cr_assert_eq(waitpid(d->pid, &st, 0), d->pid);
  char *log = read_all(d->err_path);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "ccm serve exited with status %d:\n%s", st, log);
  return log;
}

static void cleanup(daemon_proc_t *d, char *log)
{
  cr_assert_null(strstr(log, "Vd93kQ7zLm"), "token in the log:\n%s", log);
  cr_assert_null(strstr(log, "daemonTestValue0042"), "GitHub token in the "
                 "log:\n%s", log);
  free(log);
  close(d->sock);
  tst_rmrf(d->dir);
  free(d->dir);
}

Test(daemon, notifies_ready_watchdog_and_stopping)
{
  daemon_proc_t d;
  start(&d, "300000"); /* pings every 150 ms */
  await_ready(&d);
  wt_resp_t r;
  http_get(&d, "/api/v1/health", &r);
  cr_assert_eq(r.status, 200, "served once READY: %s", r.body);
  wt_resp_free(&r);
  await_note(&d, "WATCHDOG=1", NULL, 0);
  await_note(&d, "WATCHDOG=1", NULL, 0);
  char *log = stop(&d);
  cr_assert(strstr(log, "event=serve.up"), "%s", log);
  cr_assert(strstr(log, "event=serve.stopped"), "%s", log);
  cleanup(&d, log);
}

/* The one audit entry of @p what; asserts there is exactly one. */
static json_t *audit_entry(daemon_proc_t *d, const char *what)
{
  char path[256];
  snprintf(path, sizeof path, "/api/v1/audit?what=%s", what);
  wt_resp_t r;
  http_get(d, path, &r);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *items = json_object_get(r.json, "audit");
  cr_assert_eq(json_array_size(items), 1, "%s", r.body);
  json_t *e = json_incref(json_array_get(items, 0));
  wt_resp_free(&r);
  return e;
}

Test(daemon, sighup_refuses_a_broken_config_then_applies_a_fixed_one)
{
  daemon_proc_t d;
  start(&d, NULL);
  await_ready(&d);
  /* Broken: a log level that does not exist, on line 7. */
  write_config(&d, "loud", NULL);
  char broken_sha[65], fixed_sha[65];
  sha256_file(d.cfg_path, broken_sha);
  sighup(&d, "refused");
  wt_resp_t r;
  http_get(&d, "/api/v1/health", &r);
  cr_assert_eq(r.status, 200, "still serving: %s", r.body);
  wt_resp_free(&r);
  json_t *e = audit_entry(&d, "config.reload_refused");
  cr_assert_str_eq(json_string_value(json_object_get(e, "who")), "sighup");
  cr_assert_str_eq(json_string_value(json_object_get(e, "subject")),
                   d.cfg_path);
  cr_assert_str_eq(json_string_value(json_object_get(e, "input_sha256")),
                   broken_sha);
  json_decref(e);

  write_config(&d, "debug", NULL);
  sha256_file(d.cfg_path, fixed_sha);
  sighup(&d, "applied");
  e = audit_entry(&d, "config.reload");
  cr_assert_str_eq(json_string_value(json_object_get(e, "input_sha256")),
                   fixed_sha);
  cr_assert_gt(json_integer_value(json_object_get(e, "seq")), 1);
  json_decref(e);

  char *log = stop(&d);
  char want[1024];
  snprintf(want, sizeof want,
           "level=error event=config.error msg=\"%s:7:10: log.level: ",
           d.cfg_path);
  cr_assert(strstr(log, want), "want %s in:\n%s", want, log);
  cr_assert(strstr(log, "event=config.reload_refused"), "%s", log);
  const char *applied = strstr(log, "event=config.reloaded");
  cr_assert_not_null(applied, "%s", log);
  const char *first_debug = strstr(log, "level=debug");
  cr_assert_not_null(first_debug, "debug records after the reload:\n%s", log);
  const char *refused = strstr(log, "event=config.reload_refused");
  cr_assert_gt(first_debug, refused,
               "the refused reload left the level at info:\n%s", log);
  cr_assert(strstr(log, "level=debug event=config.section msg=\"applied "
                        "live\" section=log"),
            "%s", log);
  cr_assert(strstr(log, "applied=log needs_restart=-"), "%s", log);
  cleanup(&d, log);
}

/* @p want occurs in @p log after @p from; returns where (asserted). */
static const char *after(const char *log, const char *from, const char *want)
{
  const char *at = strstr(from, want);
  cr_assert_not_null(at, "want %s (in order) in:\n%s", want, log);
  return at + strlen(want);
}

Test(daemon, sighup_reports_settings_that_need_a_restart)
{
  daemon_proc_t d;
  start(&d, NULL);
  await_ready(&d);
  /* the API's headers are the client's, set once: a restart */
  write_config(&d, "info", "github:\n  user_agent: ccm-test/1\n");
  sighup(&d, "applied");
  /* the same header again: still not what runs, so said again, while a
   * live change beside it (the log level) applies */
  write_config(&d, "debug", "github:\n  user_agent: ccm-test/1\n");
  sighup(&d, "applied");
  /* the header back to what runs: stale_days and the labels go to the
   * GitHub actors live */
  write_config(&d, "debug", "github:\n  stale_days: 7\n"
                            "  approve_labels: [ok]\n");
  sighup(&d, "applied");
  char *log = stop(&d);
  const char *p = after(log, log, "applied=- needs_restart=github");
  p = after(log, p, "level=warn event=config.restart_needed");
  p = after(log, p, "applied=log needs_restart=github");
  p = after(log, p, "level=warn event=config.restart_needed");
  after(log, p, "applied=github needs_restart=-");
  cleanup(&d, log);
}

/* GET /api/v1/queue until @p done(queue) holds (bounded); the last one. */
static json_t *await_queue(daemon_proc_t *d, bool (*done)(const json_t *q,
                                                          double arg),
                           double arg)
{
  struct timespec t0, t, pause = {0, 20 * 1000000L};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    wt_resp_t r;
    http_get(d, "/api/v1/queue", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    if (done(r.json, arg)) {
      json_t *q = json_incref(r.json);
      wt_resp_free(&r);
      return q;
    }
    clock_gettime(CLOCK_MONOTONIC, &t);
    cr_assert_lt((t.tv_sec - t0.tv_sec) * 1000, WAIT_MS, "queue: %s", r.body);
    wt_resp_free(&r);
    nanosleep(&pause, NULL); /* between reads of a condition, bounded */
  }
}

static double first_total(const json_t *q)
{
  json_t *e = json_array_get(json_object_get(q, "queue"), 0);
  return json_number_value(json_object_get(json_object_get(e, "score"),
                                           "total"));
}

static json_int_t exec_int(const json_t *q, const char *key)
{
  return json_integer_value(json_object_get(json_object_get(q, "executor"),
                                            key));
}

static bool scored(const json_t *q, double unused)
{
  (void)unused;
  return json_array_size(json_object_get(q, "queue")) == 1 &&
         first_total(q) > 0;
}

/* The reload below is in: concurrency 3, no dry run, a higher score. */
static bool reloaded(const json_t *q, double old_total)
{
  return scored(q, 0) && exec_int(q, "concurrency") == 3 &&
         json_is_false(json_object_get(json_object_get(q, "executor"),
                                       "dry_run")) &&
         first_total(q) > old_total;
}

#define LIVE_AGENTS(dry, conc)                                               \
  "agents:\n  dry_run: " dry "\n  concurrency: " conc "\n"                   \
  "  budget:\n    max_tasks_per_day: 5\n"
#define LIVE_WEIGHTS(value)                                                  \
  "priority:\n  weights: {value: " value ", time_criticality: 1, "           \
  "risk_reduction: 1, job_size: 1}\n"

Test(daemon, sighup_applies_agents_and_priority_to_the_running_actors)
{
  daemon_proc_t d;
  start(&d, NULL); /* the defaults: dry run, concurrency 2, weights 1 */
  await_ready(&d);
  json_t *q = await_queue(&d, scored, 0);
  double before = first_total(q);
  cr_assert_eq(exec_int(q, "concurrency"), 2, "queue");
  json_decref(q);

  write_config(&d, "info", LIVE_AGENTS("false", "3") LIVE_WEIGHTS("10"));
  sighup(&d, "applied");
  q = await_queue(&d, reloaded, before);
  double after = first_total(q);
  json_decref(q);
  json_t *e = audit_entry(&d, "config.reload");
  json_decref(e);

  write_config(&d, "loud", LIVE_AGENTS("true", "1") LIVE_WEIGHTS("1"));
  sighup(&d, "refused");
  wt_resp_t r;
  http_get(&d, "/api/v1/queue", &r);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert(reloaded(r.json, before), "the refused file changed: %s", r.body);
  cr_assert_float_eq(first_total(r.json), after, 1e-9, "%s", r.body);
  wt_resp_free(&r);

  char *log = stop(&d);
  cr_assert(strstr(log, "applied=priority,agents needs_restart=-"), "%s",
            log);
  cleanup(&d, log);
}

/* ------------------------------------------------ the log, a hung git */

/* Read the log until it holds @p needle (bounded); the log (malloc'd). */
static char *await_log(daemon_proc_t *d, const char *needle)
{
  struct timespec t0, t, pause = {0, 20 * 1000000L};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    char *log = read_all(d->err_path);
    if (strstr(log, needle))
      return log;
    clock_gettime(CLOCK_MONOTONIC, &t);
    cr_assert_lt((t.tv_sec - t0.tv_sec) * 1000, WAIT_MS, "no %s in:\n%s",
                 needle, log);
    free(log);
    nanosleep(&pause, NULL); /* between reads of a condition, bounded */
  }
}

/* A logfmt value at @p p: "quoted with \\ escapes" or bare; past it. */
static const char *logfmt_value(const char *p)
{
  if (*p != '"') {
    const char *v = p;
    while (*p && *p != ' ' && *p != '"' && *p != '=')
      p++;
    return p > v ? p : NULL;
  }
  for (p++; *p && *p != '"'; p++)
    if (*p == '\\' && !*++p)
      return NULL;
  return *p == '"' ? p + 1 : NULL;
}

/* Is @p line "ts=... level=L event=E msg=... k=v..." as app/log.h says? */
static bool logfmt_record(const char *line)
{
  static const char *const head[] = {"ts", "level", "event"};
  const char *p = line;
  for (size_t k = 0; *p; k++) {
    size_t n = strcspn(p, "= \"");
    if (!n || p[n] != '=' || (k < 3 && strncmp(p, head[k], n)))
      return false;
    if (!(p = logfmt_value(p + n + 1)))
      return false;
    if (*p && *p++ != ' ')
      return false;
  }
  return p > line && strstr(line, " level=") &&
         (strstr(line, "level=info ") || strstr(line, "level=warn ") ||
          strstr(line, "level=error ") || strstr(line, "level=debug "));
}

static bool json_record(const char *line)
{
  json_t *o = json_loads(line, 0, NULL);
  bool ok = json_is_object(o) && json_is_string(json_object_get(o, "ts")) &&
            json_is_string(json_object_get(o, "level")) &&
            json_is_string(json_object_get(o, "event")) &&
            json_is_string(json_object_get(o, "msg"));
  json_decref(o);
  return ok;
}

/* Every line of @p log is a record of the format; at least @p min. */
static void assert_every_line_a_record(char *log, bool json, size_t min)
{
  size_t n = 0;
  char *copy = strdup(log);
  for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
    cr_assert(json ? json_record(line) : logfmt_record(line),
              "not a %s record: [%s] in:\n%s", json ? "JSON" : "logfmt",
              line, log);
    n++;
  }
  free(copy);
  cr_assert_geq(n, min, "%s", log);
}

static void serve_and_scan(bool json)
{
  daemon_proc_t d;
  start_with(&d, NULL, json ? "  format: json\n" : NULL);
  await_ready(&d);
  free(await_log(&d, "scan.done"));
  char *log = stop(&d);
  cr_assert(strstr(log, "scanned repo: 1 new"), "%s", log);
  assert_every_line_a_record(log, json, 5);
  cleanup(&d, log);
}

Test(daemon, every_stderr_line_of_serve_with_a_scan_is_a_logfmt_record)
{
  serve_and_scan(false);
}

Test(daemon, every_stderr_line_of_serve_with_a_scan_is_a_json_record)
{
  serve_and_scan(true);
}

Test(daemon, a_hung_git_fails_the_scan_at_scan_git_timeout)
{
  char fifo[600];
  char *state = fake_git_on(fifo, sizeof fifo);
  daemon_proc_t d;
  start_with(&d, NULL, "scan:\n  git_timeout: 1s\n");
  await_ready(&d);
  char *log = await_log(&d, "event=scan.failed");
  cr_assert(strstr(log, "level=error event=scan.failed msg=\"scan of repo "
                        "failed: git ls-files timed out after 1 s\""),
            "%s", log);
  free(log);
  log = stop(&d);
  assert_every_line_a_record(log, false, 3);
  cleanup(&d, log);
  tst_rmrf(state);
  free(state);
}

Test(daemon, stop_is_prompt_while_git_hangs)
{
  char fifo[600];
  char *state = fake_git_on(fifo, sizeof fifo);
  daemon_proc_t d;
  start(&d, NULL); /* scan.git_timeout: the default 5 min */
  await_ready(&d);
  int fd = open(fifo, O_WRONLY); /* returns once git hangs on its helper */
  cr_assert_geq(fd, 0, "%s", strerror(errno));
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char *log = stop(&d);
  clock_gettime(CLOCK_MONOTONIC, &t);
  long took = (t.tv_sec - t0.tv_sec) * 1000 +
              (t.tv_nsec - t0.tv_nsec) / 1000000;
  cr_assert_lt(took, 30000, "stopping took %ld ms:\n%s", took, log);
  cr_assert(strstr(log, "event=serve.stopped"), "%s", log);
  close(fd);
  cleanup(&d, log);
  tst_rmrf(state);
  free(state);
}

/* ---- ccm run: a client of the running daemon ---- */

/* `ccm run ID --config CFG [--listen 127.0.0.1:PORT]` (@p listen) with
 * CCM_TOKEN set to @p token (NULL: unset); its exit status, stdout and
 * stderr. Without --listen the daemon is found through the serve.url it
 * published in its data dir (CFG names it; CFG's listen says port 0). */
static int ccm_run(daemon_proc_t *d, const char *id, bool listen,
                   const char *token, char **out, char **err)
{
  char addr[32];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", d->http.port);
  char *argv[] = {(char *)tst_prog("CCM_BIN"), "run", (char *)id, "--config",
                  d->cfg_path, listen ? "--listen" : NULL, addr, NULL};
  if (token)
    setenv("CCM_TOKEN", token, 1);
  else
    unsetenv("CCM_TOKEN");
  int rc = tst_run(argv, WAIT_MS, out, err);
  unsetenv("CCM_TOKEN");
  return rc;
}

/* The id of the one task the daemon's scan made. */
static char *the_task(daemon_proc_t *d)
{
  free(await_log(d, "scan.done"));
  wt_resp_t r;
  http_get(d, "/api/v1/tasks", &r);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *t = json_array_get(json_object_get(r.json, "tasks"), 0);
  const char *id = json_string_value(json_object_get(t, "id"));
  cr_assert_not_null(id, "%s", r.body);
  char *copy = strdup(id);
  wt_resp_free(&r);
  return copy;
}

Test(daemon, ccm_run_asks_the_daemon_with_its_token_and_says_why_not)
{
  daemon_proc_t d;
  start(&d, NULL);
  await_ready(&d);
  char *id = the_task(&d);
  char *out, *err;

  /* no token: the daemon wants one */
  cr_assert_eq(ccm_run(&d, id, true, NULL, &out, &err), 1, "%s%s", out, err);
  cr_assert(strstr(err, "HTTP 401"), "%s", err);
  free(out), free(err);

  /* with it: the new task is approved and handed to the executor (the
   * daemon found through its serve.url) */
  cr_assert_eq(ccm_run(&d, id, false, TOKEN, &out, &err), 0, "%s%s", out,
               err);
  cr_assert(strstr(out, id) && strstr(out, "ready"), "%s", out);
  cr_assert_null(strstr(out, TOKEN));
  cr_assert_null(strstr(err, TOKEN));
  free(out), free(err);
  char path[256];
  snprintf(path, sizeof path, "/api/v1/tasks/%s", id);
  wt_resp_t r;
  http_get(&d, path, &r);
  cr_assert(strstr(r.body, "run requested"), "%s", r.body);
  wt_resp_free(&r);

  cr_assert_eq(ccm_run(&d, "no-such-task", true, TOKEN, &out, &err), 1);
  cr_assert(strstr(err, "HTTP 404"), "%s", err);
  free(out), free(err);
  char url_file[600];
  snprintf(url_file, sizeof url_file, "%s/data/serve.url", d.dir);
  cr_assert(tst_exists(url_file));
  char *log = stop(&d);

  /* nobody listening any more, and no serve.url left behind */
  cr_assert_eq(ccm_run(&d, id, true, TOKEN, &out, &err), 1);
  cr_assert(strstr(err, "no daemon answered"), "%s", err);
  free(out), free(err);
  cr_assert(!tst_exists(url_file), "a clean stop removes serve.url");
  cr_assert_eq(ccm_run(&d, id, false, TOKEN, &out, &err), 2);
  cr_assert(strstr(err, "give --listen"), "%s", err);
  free(out), free(err);
  free(id);
  cleanup(&d, log);
}

/* A secrets allowlist the daemon cannot read stops the start (as an
 * invalid configuration does) instead of scanning without it. */
Test(daemon, an_unreadable_secrets_allowlist_stops_the_start)
{
  daemon_proc_t d;
  start_with(&d, NULL, "scan:\n  secrets_allowlist: /nonexistent/allow.txt\n");
  int st = 0;
  cr_assert_eq(waitpid(d.pid, &st, 0), d.pid);
  char *log = read_all(d.err_path);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d:\n%s", st, log);
  cr_assert(strstr(log, "event=scan.allowlist_failed"), "%s", log);
  cr_assert(strstr(log, "/nonexistent/allow.txt"), "%s", log);
  cleanup(&d, log);
}
