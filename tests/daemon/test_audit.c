/*
 * test_audit.c: the audit log (store/store_audit.c) and GET /api/v1/audit
 * (web/rest_audit.c).
 *
 * Contract checked: an entry holds who, what, subject, when, and the
 * SHA-256 and length of its input, never the input itself (not in the
 * entry, not anywhere in the LMDB file); seqs count from 1 in append
 * order and survive a reopen; bad arguments are refused with nothing
 * written; entries list newest first, from a cursor; over HTTP the list
 * comes in {"audit":[...],"next_cursor"} pages that cover every entry
 * exactly once, filters by who/what, and refuses bad arguments with 400;
 * an actor writes entries through the store actor (COMMAND "audit"),
 * which refuses a malformed one.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_actor.h"
#include "tests/support/store_test.h"
#include "tests/web/web_test.h"

TestSuite(audit, .timeout = 120);

/* SHA-256("abc"), FIPS 180-2 appendix B.1. */
#define SHA256_ABC \
  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

typedef struct seen {
  json_t *all;
  size_t stop_after; /* 0: never */
} seen_t;

static int collect(const json_t *e, void *arg)
{
  seen_t *s = arg;
  json_array_append(s->all, (json_t *)e);
  return s->stop_after && json_array_size(s->all) == s->stop_after;
}

static json_t *list(store_t *s, uint64_t before, size_t stop_after)
{
  seen_t c = {json_array(), stop_after};
  TST_SOK(store_audit_foreach(s, before, collect, &c));
  return c.all;
}

/* Close @p s and remove its directory. */
static void finish(store_t *s, char *dir)
{
  store_close(s);
  tst_rmrf(dir);
  free(dir);
}

static const char *str_at(const json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

static json_int_t int_at(const json_t *o, const char *key)
{
  return json_integer_value(json_object_get(o, key));
}

/* Does @p needle occur in the file at @p path (bytes)? */
static bool file_contains(const char *path, const char *needle)
{
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "%s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *buf = malloc((size_t)n);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  size_t k = strlen(needle);
  bool found = false;
  for (long i = 0; !found && i + (long)k <= n; i++)
    found = !memcmp(buf + i, needle, k);
  free(buf);
  return found;
}

Test(audit, an_entry_has_who_what_when_and_the_input_digest_only)
{
  char *dir = tst_tmpdir();
  store_t *s = tst_store_open(dir, NULL);
  const char *input = "prompt with a token: tok_" "QX7wPz91 and more";
  TST_SOK(store_audit_record(s, "executor", "agent.run", "task/t-1", input,
                             strlen(input)));
  TST_SOK(store_audit_record(s, "sighup", "config.reload", NULL, "abc", 3));
  TST_SOK(store_audit_record(s, "web", "task.approve", "task/t-2", NULL, 0));
  json_t *all = list(s, 0, 0);
  cr_assert_eq(json_array_size(all), 3);
  json_t *newest = json_array_get(all, 0), *abc = json_array_get(all, 1),
         *first = json_array_get(all, 2);
  cr_assert_eq(int_at(newest, "seq"), 3, "newest first");
  cr_assert_eq(int_at(first, "seq"), 1);
  cr_assert_str_eq(str_at(first, "who"), "executor");
  cr_assert_str_eq(str_at(first, "what"), "agent.run");
  cr_assert_str_eq(str_at(first, "subject"), "task/t-1");
  cr_assert_eq(int_at(first, "input_bytes"), (json_int_t)strlen(input));
  cr_assert_eq(strlen(str_at(first, "input_sha256")), 64);
  cr_assert_str_eq(str_at(abc, "input_sha256"), SHA256_ABC);
  cr_assert_null(json_object_get(abc, "subject"));
  cr_assert_null(json_object_get(newest, "input_sha256"), "no input: none");
  const char *at = str_at(first, "at");
  cr_assert(at && strlen(at) == 24 && at[10] == 'T' && at[23] == 'Z');
  cr_assert_gt(int_at(first, "at_ms"), 1700000000000LL);
  char *text = json_dumps(all, 0);
  cr_assert_null(strstr(text, "QX7wPz91"), "the input is not stored: %s",
                 text);
  free(text);
  json_decref(all);
  store_close(s);
  char file[4096];
  cr_assert_not(file_contains(tst_store_file(dir, file, sizeof file),
                              "QX7wPz91"),
                "the input appears nowhere in the LMDB file");
  /* Reopened: the seqs go on. */
  s = tst_store_open(dir, NULL);
  TST_SOK(store_audit_record(s, "github", "pr.open", "o/n#4", "x", 1));
  all = list(s, 0, 1);
  cr_assert_eq(int_at(json_array_get(all, 0), "seq"), 4);
  json_decref(all);
  finish(s, dir);
}

Test(audit, bad_arguments_write_nothing)
{
  char *dir = tst_tmpdir();
  store_t *s = tst_store_open(dir, NULL);
  char longer[600];
  memset(longer, 'a', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  TST_SRC(store_audit_record(s, NULL, "x", NULL, NULL, 0), STORE_EINVAL);
  TST_SRC(store_audit_record(s, "", "x", NULL, NULL, 0), STORE_EINVAL);
  TST_SRC(store_audit_record(s, "w", NULL, NULL, NULL, 0), STORE_EINVAL);
  TST_SRC(store_audit_record(s, "w\n", "x", NULL, NULL, 0), STORE_EINVAL);
  TST_SRC(store_audit_record(s, "w", "x", longer, NULL, 0), STORE_EINVAL);
  TST_SRC(store_audit_record(s, longer + 500, "x", NULL, NULL, 0),
          STORE_EINVAL);
  TST_SRC(store_audit_record(s, "w", "x", NULL, NULL, 5), STORE_EINVAL);
  json_t *all = list(s, 0, 0);
  cr_assert_eq(json_array_size(all), 0, "nothing written");
  json_decref(all);
  store_close(s);
  store_options_t ro = {.read_only = true};
  s = tst_store_open(dir, &ro);
  TST_SRC(store_audit_record(s, "w", "x", NULL, NULL, 0), STORE_EREADONLY);
  finish(s, dir);
}

Test(audit, foreach_lists_older_entries_from_a_cursor)
{
  char *dir = tst_tmpdir();
  store_t *s = tst_store_open(dir, NULL);
  for (int i = 0; i < 10; i++)
    TST_SOK(store_audit_record(s, "t", "step", NULL, &i, sizeof i));
  json_t *page = list(s, 7, 0);
  cr_assert_eq(json_array_size(page), 6, "seqs 6..1");
  cr_assert_eq(int_at(json_array_get(page, 0), "seq"), 6);
  cr_assert_eq(int_at(json_array_get(page, 5), "seq"), 1);
  json_decref(page);
  page = list(s, 1, 0);
  cr_assert_eq(json_array_size(page), 0, "nothing before the first");
  json_decref(page);
  page = list(s, 999, 2);
  cr_assert_eq(json_array_size(page), 2, "a cursor past the end: newest");
  cr_assert_eq(int_at(json_array_get(page, 0), "seq"), 10);
  json_decref(page);
  finish(s, dir);
}

/* ----------------------------------------------------------- over HTTP */

static wt_server_t srv;

static void get(const char *path, wt_resp_t *r)
{
  wt_http(&srv, "GET", path, NULL, NULL, r);
}

Test(audit, rest_pages_cover_every_entry_once_newest_first)
{
  wt_start(&srv, NULL);
  for (int i = 0; i < 25; i++)
    TST_SOK(store_audit_record(srv.store, i % 2 ? "executor" : "github",
                               i % 3 ? "agent.run" : "pr.open", "task/x",
                               &i, sizeof i));
  char path[256] = "/api/v1/audit?limit=10";
  json_int_t expect = 25;
  int pages = 0;
  for (;;) {
    wt_resp_t r;
    get(path, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *items = json_object_get(r.json, "audit");
    cr_assert(json_is_array(items), "%s", r.body);
    for (size_t i = 0; i < json_array_size(items); i++)
      cr_assert_eq(int_at(json_array_get(items, i), "seq"), expect--);
    pages++;
    const char *cur = str_at(r.json, "next_cursor");
    if (!cur) {
      cr_assert(json_is_null(json_object_get(r.json, "next_cursor")));
      wt_resp_free(&r);
      break;
    }
    snprintf(path, sizeof path, "/api/v1/audit?limit=10&cursor=%s", cur);
    wt_resp_free(&r);
  }
  cr_assert_eq(expect, 0, "every entry listed once");
  cr_assert_eq(pages, 3);
  wt_stop(&srv);
}

Test(audit, rest_filters_by_who_and_what)
{
  wt_start(&srv, NULL);
  for (int i = 0; i < 12; i++)
    TST_SOK(store_audit_record(srv.store, i % 2 ? "executor" : "github",
                               i % 3 ? "agent.run" : "pr.open", NULL, NULL,
                               0));
  wt_resp_t r;
  get("/api/v1/audit?who=executor&what=pr.open", &r);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *items = json_object_get(r.json, "audit");
  /* i odd and i % 3 == 0: 3 and 9 */
  cr_assert_eq(json_array_size(items), 2, "%s", r.body);
  cr_assert_eq(int_at(json_array_get(items, 0), "seq"), 10);
  cr_assert_eq(int_at(json_array_get(items, 1), "seq"), 4);
  wt_resp_free(&r);
  get("/api/v1/audit?who=nobody", &r);
  cr_assert_eq(r.status, 200);
  cr_assert_eq(json_array_size(json_object_get(r.json, "audit")), 0);
  wt_resp_free(&r);
  wt_stop(&srv);
}

Test(audit, rest_refuses_bad_arguments)
{
  wt_start(&srv, NULL);
  static const char *const bad[] = {
      "/api/v1/audit?limit=0",     "/api/v1/audit?limit=1001",
      "/api/v1/audit?limit=x",     "/api/v1/audit?cursor=-1",
      "/api/v1/audit?cursor=abc",  "/api/v1/audit?cursor=0",
      "/api/v1/audit?who=",        "/api/v1/audit?cursor=99999999999999999999",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    wt_resp_t r;
    get(bad[i], &r);
    wt_assert_error(&r, 400, "bad_request");
    wt_resp_free(&r);
  }
  wt_resp_t r;
  wt_http(&srv, "POST", "/api/v1/audit", "{}", NULL, &r);
  cr_assert_eq(r.status, 405, "%s", r.body);
  wt_resp_free(&r);
  wt_stop(&srv);
}

/* COMMAND "audit" through the store actor; returns the ack's rc. */
static int audit_command(const char *args_json)
{
  proto_msg_t m = {.type = PROTO_COMMAND};
  m.u.command.action = (char *)"audit";
  m.u.command.args = json_loads(args_json, 0, NULL);
  cr_assert_not_null(m.u.command.args);
  store_ack_t ack;
  int rc = store_write_sync(srv.rt, srv.store_actor, &m, WT_WAIT_MS, &ack);
  json_decref(m.u.command.args);
  return rc;
}

Test(audit, actors_append_through_the_store_actor)
{
  wt_start(&srv, NULL);
  cr_assert_eq(audit_command("{\"who\":\"github\",\"what\":\"issue.close\","
                             "\"subject\":\"o/n#7\",\"input\":\"abc\"}"),
               0);
  cr_assert_eq(audit_command("{\"who\":\"web\",\"what\":\"task.approve\"}"),
               0);
  TST_SRC(audit_command("{\"who\":\"\",\"what\":\"x\"}"), STORE_EINVAL);
  TST_SRC(audit_command("{\"who\":\"w\",\"what\":\"x\",\"input\":5}"),
          STORE_EINVAL);
  json_t *all = list(srv.store, 0, 0);
  cr_assert_eq(json_array_size(all), 2);
  json_t *first = json_array_get(all, 1);
  cr_assert_str_eq(str_at(first, "what"), "issue.close");
  cr_assert_str_eq(str_at(first, "input_sha256"), SHA256_ABC);
  cr_assert_null(json_object_get(json_array_get(all, 0), "input_sha256"));
  json_decref(all);
  wt_stop(&srv);
}
