/*
 * test_cli.c: `ccm tasks`, `ccm show` and `ccm status` against the store
 * (SPEC §3), run as the real binary (CCM_BIN).
 *
 * These tests assert that the read-only commands work beside a running
 * writer (tests/store/crash_writer keeps committing meanwhile): `ccm tasks
 * --json` exits 0 and prints one valid JSON object per line with id, kind
 * and state, including every task acknowledged before it started; `ccm
 * status` and `ccm show <id>` print what is stored; a bad state is a usage
 * error (exit 2) and a missing data directory a failure (exit 1) with a
 * message that names it. A version-1 store is refused by the read-only
 * commands until a read-write open migrated it; then `--kind` works.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"

TestSuite(cli, .timeout = 180);

/* A writer running in the background; a thread drains its output. */
typedef struct bg_writer {
  tst_child_t c;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char **ids; /* tasks acknowledged as created, in order */
  size_t n, cap;
  bool eof;
} bg_writer_t;

static void *drain(void *p) {
  bg_writer_t *w = p;
  char line[256];
  int r;
  while ((r = tst_child_line(&w->c, line, sizeof line, 600000)) == 1) {
    char id[64], st[32];
    if (sscanf(line, "acked %63s %31s", id, st) != 2 || strcmp(st, "new"))
      continue;
    pthread_mutex_lock(&w->mu);
    if (w->n == w->cap) {
      w->cap = w->cap ? w->cap * 2 : 1024;
      w->ids = realloc(w->ids, w->cap * sizeof *w->ids);
    }
    w->ids[w->n++] = strdup(id);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
  }
  pthread_mutex_lock(&w->mu);
  w->eof = true;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

static void bg_start(bg_writer_t *w, const char *dir) {
  memset(w, 0, sizeof *w);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  char *argv[] = {(char *)tst_prog("CRASH_WRITER"), (char *)dir, "--threads",
                  "4", NULL};
  tst_child_start(&w->c, argv);
  cr_assert_eq(pthread_create(&w->th, NULL, drain, w), 0);
}

/* Wait until at least @p n creations were acknowledged; returns the count. */
static size_t bg_wait(bg_writer_t *w, size_t n) {
  pthread_mutex_lock(&w->mu);
  while (w->n < n && !w->eof) pthread_cond_wait(&w->cv, &w->mu);
  size_t got = w->n;
  pthread_mutex_unlock(&w->mu);
  cr_assert_geq(got, n, "the writer stopped after %zu acks", got);
  return got;
}

static void bg_stop(bg_writer_t *w) {
  tst_child_kill(&w->c);
  pthread_join(w->th, NULL);
  tst_child_close(&w->c);
  for (size_t i = 0; i < w->n; i++) free(w->ids[i]);
  free(w->ids);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
}

static int run_ccm(char **out, char **err, const char *a1, const char *a2,
                   const char *a3, const char *a4, const char *a5,
                   const char *a6) {
  char *argv[8] = {(char *)tst_prog("CCM_BIN"), (char *)a1, (char *)a2,
                   (char *)a3, (char *)a4, (char *)a5, (char *)a6, NULL};
  return tst_run(argv, 60000, out, err);
}

typedef struct id_set {
  char **v;
  size_t n;
} id_set_t;

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every line a JSON object with id/kind/state; collects the ids, sorted. */
static id_set_t parse_json_lines(const char *out) {
  id_set_t s = {0};
  size_t cap = 0;
  const char *p = out;
  size_t lineno = 0;
  while (*p) {
    const char *nl = strchr(p, '\n');
    cr_assert_not_null(nl, "output does not end with a newline");
    lineno++;
    json_error_t je;
    json_t *j = json_loadb(p, (size_t)(nl - p), 0, &je);
    cr_assert_not_null(j, "line %zu is not JSON: %s", lineno, je.text);
    cr_assert(json_is_object(j), "line %zu is not an object", lineno);
    json_t *id = json_object_get(j, "id");
    cr_assert(json_is_string(id), "line %zu: no id", lineno);
    cr_assert(json_is_string(json_object_get(j, "kind")), "line %zu: no kind", lineno);
    json_t *st = json_object_get(j, "state");
    cr_assert(json_is_string(st), "line %zu: no state", lineno);
    cr_assert_geq(proto_state_from_name(json_string_value(st)), 0);
    if (s.n == cap) {
      cap = cap ? cap * 2 : 1024;
      s.v = realloc(s.v, cap * sizeof *s.v);
    }
    s.v[s.n++] = strdup(json_string_value(id));
    json_decref(j);
    p = nl + 1;
  }
  qsort(s.v, s.n, sizeof *s.v, cmp_str);
  return s;
}

static bool id_set_has(const id_set_t *s, const char *id) {
  return bsearch(&id, s->v, s->n, sizeof *s->v, cmp_str) != NULL;
}

static void id_set_free(id_set_t *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
}

Test(cli, read_only_commands_beside_a_running_writer) {
  char *dir = tst_tmpdir();
  bg_writer_t w;
  bg_start(&w, dir);
  size_t before = bg_wait(&w, 300);
  pthread_mutex_lock(&w.mu);
  char **snap = malloc(before * sizeof *snap);
  for (size_t i = 0; i < before; i++) snap[i] = strdup(w.ids[i]);
  pthread_mutex_unlock(&w.mu);

  for (int round = 0; round < 3; round++) {
    char *out, *err;
    int rc = run_ccm(&out, &err, "tasks", "--json", "--data", dir, NULL, NULL);
    cr_assert_eq(rc, 0, "ccm tasks --json: exit %d: %s", rc, err);
    id_set_t ids = parse_json_lines(out);
    cr_assert_geq(ids.n, before);
    for (size_t i = 0; i < before; i++)
      cr_assert(id_set_has(&ids, snap[i]), "acknowledged task %s not listed",
                snap[i]);
    cr_log_info("round %d: ccm tasks listed %zu tasks (%zu acked before)",
                round, ids.n, before);
    id_set_free(&ids);
    free(out);
    free(err);

    rc = run_ccm(&out, &err, "status", "--data", dir, NULL, NULL, NULL);
    cr_assert_eq(rc, 0, "ccm status: exit %d: %s", rc, err);
    cr_assert(strstr(out, "tasks") != NULL, "status output: %s", out);
    free(out);
    free(err);

    rc = run_ccm(&out, &err, "tasks", "--state", "new", "--json", "--data", dir);
    cr_assert_eq(rc, 0, "ccm tasks --state new: exit %d: %s", rc, err);
    ids = parse_json_lines(out);
    cr_assert_gt(ids.n, 0u);
    id_set_free(&ids);
    free(out);
    free(err);
    bg_wait(&w, before + 200 * (size_t)(round + 1)); /* writer still going */
  }

  /* show: text and JSON */
  char *out, *err;
  int rc = run_ccm(&out, &err, "show", snap[0], "--data", dir, NULL, NULL);
  cr_assert_eq(rc, 0, "ccm show: exit %d: %s", rc, err);
  cr_assert(strstr(out, snap[0]) != NULL, "show output lacks the id: %s", out);
  cr_assert(strstr(out, "history") != NULL, "show output lacks history: %s", out);
  free(out);
  free(err);
  rc = run_ccm(&out, &err, "show", snap[0], "--json", "--data", dir, NULL);
  cr_assert_eq(rc, 0);
  json_error_t je;
  json_t *j = json_loadb(out, strcspn(out, "\n"), 0, &je);
  cr_assert_not_null(j, "show --json first line: %s", je.text);
  cr_assert_str_eq(json_string_value(json_object_get(j, "id")), snap[0]);
  json_decref(j);
  free(out);
  free(err);
  rc = run_ccm(&out, &err, "show", "no-such-task", "--data", dir, NULL, NULL);
  cr_assert_eq(rc, 1, "ccm show of a missing task: exit %d", rc);
  cr_assert(strstr(err, "no-such-task") != NULL, "stderr: %s", err);
  free(out);
  free(err);

  /* usage errors */
  rc = run_ccm(&out, &err, "tasks", "--state", "bogus", "--data", dir, NULL);
  cr_assert_eq(rc, 2, "ccm tasks --state bogus: exit %d", rc);
  cr_assert(strstr(err, "bogus") != NULL, "stderr: %s", err);
  free(out);
  free(err);
  rc = run_ccm(&out, &err, "tasks", "--frobnicate", "--data", dir, NULL, NULL);
  cr_assert_eq(rc, 2);
  free(out);
  free(err);

  bg_stop(&w);
  for (size_t i = 0; i < before; i++) free(snap[i]);
  free(snap);
  tst_rmrf(dir);
  free(dir);
  tst_check_leaks();
}

Test(cli, missing_data_dir_fails_clearly) {
  char *dir = tst_tmpdir();
  char missing[4096];
  snprintf(missing, sizeof missing, "%s/not-here", dir);
  static const char *const cmds[] = {"tasks", "status"};
  for (int i = 0; i < 2; i++) {
    char *out, *err;
    int rc = run_ccm(&out, &err, cmds[i], "--data", missing, NULL, NULL, NULL);
    cr_assert_eq(rc, 1, "ccm %s on a missing dir: exit %d", cmds[i], rc);
    cr_assert(strstr(err, missing) != NULL, "the message names the dir: %s", err);
    cr_assert_eq(out[0], '\0', "nothing on stdout: %s", out);
    cr_log_info("ccm %s: %s", cmds[i], err);
    free(out);
    free(err);
  }
  char *out, *err;
  int rc = run_ccm(&out, &err, "show", "abc", "--data", missing, NULL, NULL);
  cr_assert_eq(rc, 1);
  free(out);
  free(err);
  cr_assert_eq(tst_dir_entries(dir), 0, "a reader created something");
  tst_rmrf(dir);
  free(dir);
  tst_check_leaks();
}

Test(cli, v1_store_needs_migration_then_kind_filter_works) {
  char *dir = tst_tmpdir();
  tst_build_v1(dir, 30);
  char *out, *err;
  int rc = run_ccm(&out, &err, "tasks", "--json", "--data", dir, NULL, NULL);
  cr_assert_eq(rc, 1, "a v1 store read-only: exit %d", rc);
  cr_assert(strstr(err, "migrat") != NULL, "stderr: %s", err);
  free(out);
  free(err);
  store_t *s = tst_store_open(dir, NULL); /* read-write: migrates */
  store_close(s);
  rc = run_ccm(&out, &err, "tasks", "--kind", "fixme", "--json", "--data", dir);
  cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
  id_set_t ids = parse_json_lines(out);
  cr_assert_eq(ids.n, 10u, "ccm tasks --kind fixme listed %zu", ids.n);
  for (size_t i = 0; i < ids.n; i++)
    cr_assert_eq(atoi(ids.v[i] + 3) % 3, 1, "%s is not a fixme", ids.v[i]);
  id_set_free(&ids);
  free(out);
  free(err);
  rc = run_ccm(&out, &err, "tasks", "--kind", "fixme", "--json", "--data",
               NULL);
  cr_assert_eq(rc, 2, "--data without a value is a usage error");
  free(out);
  free(err);
  tst_rmrf(dir);
  free(dir);
  tst_check_leaks();
}
