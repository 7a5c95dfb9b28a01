/*
 * test_panel.c: the control panel (web/panel/, web/panel.c) in a real
 * browser: headless Debian Chromium driven by npm playwright-core
 * (tests/web/panel_test.js).
 *
 * Contract: "/" serves the panel with its script, styles and chart
 * library under the security headers, publicly even when a token is
 * set (the API stays guarded); in the browser the panel loads without a
 * page or CSP error, tasks appear live when a scan runs (the scanner here
 * is a stand-in that stores three tasks and publishes them), clicking
 * Approve changes the task's state on the server, and after the server
 * restarts the panel reconnects and resumes by itself. The browser test
 * writes a screenshot (PANEL_SHOT, in the build folder).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_actor.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"
#include "tests/web/web_test.h"

TestSuite(panel, .timeout = 240);

static wt_server_t srv;

Test(panel, files_are_served_publicly_with_security_headers)
{
  web_config_t c;
  web_config_defaults(&c);
  c.auth_token = "tok";
  wt_start(&srv, &c);
  static const struct {
    const char *path, *ctype, *needle;
  } files[] = {
      {"/", "text/html", "<title>ccm control panel</title>"},
      {"/app.js", "text/javascript", "ccm.v1.json"},
      {"/style.css", "text/css", ".board"},
      {"/vendor/uPlot.iife.min.js", "text/javascript", "uPlot"},
      {"/vendor/uPlot.min.css", "text/css", ".uplot"},
  };
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    wt_resp_t r;
    wt_http(&srv, "GET", files[i].path, NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "%s: %ld (vendor files come from "
                 "scripts/deps.sh)", files[i].path, r.status);
    cr_assert(strstr(wt_header(&r, "content-type"), files[i].ctype));
    cr_assert(strstr(r.body, files[i].needle), "%s", files[i].path);
    cr_assert(strstr(wt_header(&r, "content-security-policy"),
                     "default-src 'self'"));
    wt_resp_free(&r);
  }
  wt_resp_t r;
  wt_http(&srv, "GET", "/api/v1/tasks", NULL, NULL, &r);
  wt_assert_error(&r, 401, "unauthorized");
  wt_resp_free(&r);
  wt_http(&srv, "GET", "/../web.h", NULL, NULL, &r);
  cr_assert_eq(r.status, 404);
  wt_resp_free(&r);
  wt_http(&srv, "POST", "/", "{}", NULL, &r);
  cr_assert_eq(r.status, 405);
  wt_resp_free(&r);
  wt_stop(&srv);
}

/* Store task @p id (triaged) and publish it, as a scanner would. */
static void discover(const char *id, double score)
{
  wt_put_task(&srv, id, "demo", "todo", PROTO_STATE_TRIAGED, score);
  proto_task_t t;
  TST_SOK(store_task_get(srv.store, id, &t));
  proto_msg_t m = {.type = PROTO_TASK};
  m.u.task = t;
  json_t *j = proto_json_encode(&m);
  cr_assert_eq(web_publish(srv.web, "tasks", j), 0);
  json_decref(j);
  store_task_free(&t);
}

static void *scanner_thread(void *arg)
{
  rt_msg_t *m = tst_recv_type(arg, WEB_MSG_SCAN);
  rt_msg_free(m);
  discover("p1", 8);
  discover("p2", 5);
  discover("p3", 2);
  return NULL;
}

static void expect_step(wt_ws_t *d, const char *ev)
{
  json_t *j = wt_ws_next(d, 60000);
  cr_assert_not_null(j, "the browser test did not reach \"%s\"", ev);
  const char *got = json_string_value(json_object_get(j, "ev"));
  char *dump = json_dumps(j, JSON_COMPACT);
  cr_assert_str_eq(got, ev, "browser: %s", dump);
  free(dump);
  json_decref(j);
}

static void restart_server(void)
{
  char listen[32], err[256];
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", srv.port);
  web_stop(srv.web);
  web_config_t c;
  web_config_defaults(&c);
  c.listen = listen;
  web_repo_t demo = {.id = "demo", .path = "/tmp/demo"};
  c.repos = &demo;
  c.n_repos = 1;
  int rc = web_start(srv.rt, srv.store, srv.store_actor, &c, &srv.web, err,
                     sizeof(err));
  cr_assert_eq(rc, 0, "restart on the same port: %s", err);
}

Test(panel, browser_shows_live_tasks_and_approves)
{
  wt_start(&srv, NULL);
  rt_port_t *port = tst_port(srv.rt, 0);
  /* A stand-in scanner: its scan requests go to the port. */
  rt_actor_t *scanner = wt_forwarder(srv.rt, "scanner", port);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, scanner_thread, port), 0);

  const char *script = getenv("PANEL_TEST");
  cr_assert(script && script[0], "PANEL_TEST is not set");
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv.port);
  wt_ws_t d;
  wt_node_start(&d, script, url);
  expect_step(&d, "live");
  expect_step(&d, "card");
  expect_step(&d, "approved");
  pthread_join(t, NULL);
  cr_assert_eq(wt_task_state(&srv, "p1"), PROTO_STATE_READY,
               "Approve changed the task on the server");
  cr_assert_eq(wt_task_state(&srv, "p2"), PROTO_STATE_TRIAGED);
  expect_step(&d, "shot");
  const char *shot = getenv("PANEL_SHOT");
  FILE *f = fopen(shot, "rb");
  cr_assert_not_null(f, "no screenshot at %s", shot);
  unsigned char sig[8] = {0};
  cr_assert_eq(fread(sig, 1, 8, f), 8);
  fclose(f);
  cr_assert(!memcmp(sig, "\x89PNG\r\n\x1a\n", 8), "not a PNG");

  expect_step(&d, "waiting");
  restart_server();
  discover("p4", 9); /* after the restart: replayed or live */
  wt_ws_cmd(&d, "{\"op\":\"restarted\"}");
  expect_step(&d, "resumed");
  wt_ws_stop(&d);

  rt_actor_release(scanner);
  web_stop(srv.web);
  srv.web = NULL;
  tst_quiesce(srv.rt);
  rt_port_free(port);
  wt_stop(&srv);
}
