/*
 * test_auditor.c: the daemon's audit of its actors' actions from the
 * event log (app/app_audit.c).
 *
 * Contract checked: an executor outcome gives agent.run (or
 * agent.dry_run) with the SHA-256 of its command, plus branch.push,
 * pr.open and issue.comment when it pushed, opened or commented; a task
 * event of a task whose last transition went to ready gives task.approve
 * by that transition's actor, once however many events it has; refusals,
 * other states and other topics give nothing; the cursor is stored with
 * the entries, so a new auditor on the same store starts after them; on
 * a store without a cursor, auditing starts at its last event.
 */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_audit.h"
#include "tests/support/store_test.h"

TestSuite(auditor, .timeout = 60);

static void event(store_t *s, const char *topic, const char *json)
{
  json_error_t je;
  json_t *d = json_loads(json, 0, &je);
  cr_assert_not_null(d, "%s", je.text);
  store_txn_t *t;
  TST_SOK(store_write_begin(s, &t));
  TST_SOK(store_event_append(t, topic, d, 1, NULL));
  TST_SOK(store_write_commit(t));
  json_decref(d);
}

static int collect(const json_t *e, void *arg)
{
  json_array_insert(arg, 0, (json_t *)e); /* oldest first */
  return 0;
}

static json_t *entries(store_t *s)
{
  json_t *all = json_array();
  TST_SOK(store_audit_foreach(s, 0, collect, all));
  return all;
}

static const char *at(const json_t *all, size_t i, const char *key)
{
  return json_string_value(json_object_get(json_array_get(all, i), key));
}

/* Entry @p i (oldest first) is @p who doing @p what to @p subject. */
static void expect(const json_t *all, size_t i, const char *who,
                   const char *what, const char *subject)
{
  cr_assert_str_eq(at(all, i, "who"), who, "entry %zu", i);
  cr_assert_str_eq(at(all, i, "what"), what, "entry %zu", i);
  cr_assert_str_eq(at(all, i, "subject"), subject, "entry %zu", i);
}

static void sha256_hex(const char *text, char hex[65])
{
  unsigned char md[32];
  unsigned n;
  cr_assert(EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL));
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void finish(app_auditor_t *a, store_t *s, char *dir)
{
  free(a);
  store_close(s);
  tst_rmrf(dir);
  free(dir);
}

Test(auditor, executor_outcomes_become_runs_pushes_prs_and_comments)
{
  char *dir = tst_tmpdir();
  store_t *s = tst_store_open(dir, NULL);
  app_auditor_t *a = calloc(1, sizeof *a);
  TST_SOK(app_auditor_init(a, s));
  event(s, "executor",
        "{\"task_id\":\"t1\",\"class\":\"success\",\"dry_run\":false,"
        "\"command\":[\"claude\",\"-p\"],\"branch\":\"ccm/t1\","
        "\"publish\":{\"pushed\":true,\"pr_number\":4},"
        "\"pr_url\":\"https://github.example/o/n/pull/4\"}");
  event(s, "executor", "{\"task_id\":\"t2\",\"dry_run\":true,"
                       "\"command\":[\"echo\"]}");
  event(s, "executor", "{\"task_id\":\"t3\",\"class\":\"refused\"}");
  event(s, "executor", "{\"task_id\":\"t4\",\"dry_run\":false,"
                       "\"comment\":{\"url\":\"https://gh/o/n/issues/9#c1\"}}");
  event(s, "findings", "{\"task_id\":\"t5\"}");
  cr_assert_eq(app_auditor_poll(a), 6);
  json_t *all = entries(s);
  cr_assert_eq(json_array_size(all), 6);
  expect(all, 0, "executor", "agent.run", "task/t1");
  char hex[65];
  sha256_hex("[\"claude\",\"-p\"]", hex);
  cr_assert_str_eq(at(all, 0, "input_sha256"), hex, "digest of the command");
  expect(all, 1, "executor", "branch.push", "ccm/t1");
  expect(all, 2, "executor", "pr.open", "https://github.example/o/n/pull/4");
  expect(all, 3, "executor", "agent.dry_run", "task/t2");
  expect(all, 4, "executor", "agent.run", "task/t4");
  expect(all, 5, "executor", "issue.comment", "https://gh/o/n/issues/9#c1");
  json_decref(all);
  cr_assert_eq(app_auditor_poll(a), 0, "nothing new");

  /* A new auditor (a restart) starts after the stored cursor. */
  event(s, "executor", "{\"task_id\":\"t6\",\"dry_run\":true}");
  TST_SOK(app_auditor_init(a, s));
  cr_assert_eq(app_auditor_poll(a), 1);
  finish(a, s, dir);
}

Test(auditor, an_approval_is_audited_once_with_its_actor)
{
  char *dir = tst_tmpdir();
  store_t *s = tst_store_open(dir, NULL);
  proto_task_t t;
  tst_task_init(&t, "task-a", "repo", "todo", PROTO_STATE_TRIAGED, 2.0);
  tst_put(s, &t);
  store_task_free(&t);
  event(s, "executor", "{\"task_id\":\"old\",\"dry_run\":true}");
  app_auditor_t *a = calloc(1, sizeof *a);
  TST_SOK(app_auditor_init(a, s));
  cr_assert_eq(app_auditor_poll(a), 0, "no cursor yet: the past is skipped");

  event(s, "tasks", "{\"id\":\"task-a\",\"state\":\"triaged\"}");
  store_txn_t *x;
  TST_SOK(store_write_begin(s, &x));
  TST_SOK(store_task_transition(x, "task-a", PROTO_STATE_READY, "user",
                                "approved in the panel", 5));
  TST_SOK(store_write_commit(x));
  event(s, "tasks", "{\"id\":\"task-a\",\"state\":\"ready\"}");
  event(s, "tasks", "{\"id\":\"task-a\",\"state\":\"ready\",\"score\":3}");
  cr_assert_eq(app_auditor_poll(a), 1);
  json_t *all = entries(s);
  cr_assert_eq(json_array_size(all), 1);
  expect(all, 0, "user", "task.approve", "task/task-a");
  json_decref(all);
  finish(a, s, dir);
}
