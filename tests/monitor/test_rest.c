/*
 * test_rest.c: the monitor through the control plane (web/rest_monitor.c)
 * on a real server on 127.0.0.1, the way `ccm serve` wires it.
 *
 * Contract: without a monitor GET /api/v1/dora and /api/v1/monitor answer
 * 503 and /health is unchanged; with one, /api/v1/dora is the DORA report
 * of the configured repositories, /api/v1/monitor the summary, /health
 * carries the monitor's checks and turns "degraded" when one is, and
 * /metrics carries the monitor's families and still passes promtool.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/monitor/monitor_web.h"
#include "tests/monitor/mon_test.h"
#include "tests/web/web_test.h"

static wt_server_t srv;

static void setup(void) { wt_start(&srv, NULL); }

static void teardown(void)
{
  monitor_web_install(NULL);
  wt_stop(&srv);
}

TestSuite(monitor_rest, .init = setup, .fini = teardown, .timeout = 180);

static json_t *get(const char *path, long want)
{
  wt_resp_t r;
  wt_http(&srv, "GET", path, NULL, NULL, &r);
  cr_assert_eq(r.status, want, "%s: %ld %s", path, r.status, r.body);
  json_t *j = r.json ? json_incref(r.json) : NULL;
  wt_resp_free(&r);
  return j;
}

Test(monitor_rest, no_monitor_no_routes)
{
  wt_resp_t r;
  wt_http(&srv, "GET", "/api/v1/dora", NULL, NULL, &r);
  wt_assert_error(&r, 503, "unavailable");
  wt_resp_free(&r);
  json_t *h = get("/api/v1/health", 200);
  cr_assert_null(json_object_get(json_object_get(h, "checks"), "actors"));
  json_decref(h);
}

/* The DORA report is in, and so are its gauges. */
static bool dora_ready(void *arg)
{
  size_t len = 0;
  char *text = monitor_metrics_text(arg, &len);
  bool ok = text && strstr(text, "ccm_dora_deployments_per_day{repo=\"demo\"");
  free(text);
  return ok;
}

Test(monitor_rest, routes_health_and_metrics)
{
  char path[600];
  snprintf(path, sizeof path, "%s/repo", srv.dir);
  mt_make_dora_repo(path);
  monitor_config_t c;
  monitor_config_defaults(&c);
  c.sample_ms = 20;
  c.probe_ms = 20;
  monitor_repo_t repo = {.id = "demo", .path = path};
  c.repos = &repo;
  c.nrepos = 1;
  monitor_t *m = NULL;
  TST_OK(monitor_start(srv.rt, srv.store, srv.store_actor, &c, &m));
  monitor_web_install(m);
  mt_wait(dora_ready, m, "the DORA report");
  mt_wait(mt_no_executor, m, "the executor probe");

  json_t *d = get("/api/v1/dora", 200);
  json_t *r0 = json_array_get(json_object_get(d, "repos"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(r0, "repo")), "demo");
  cr_assert(json_is_integer(json_object_get(json_object_get(r0, "all"),
                                            "deployments")));
  json_decref(d);

  json_t *s = get("/api/v1/monitor", 200);
  cr_assert(json_array_size(json_object_get(s, "actors")) > 0);
  json_decref(s);

  /* No executor runs here: the monitor says so and health degrades. */
  json_t *h = get("/api/v1/health", 200);
  cr_assert_str_eq(json_string_value(json_object_get(h, "status")),
                   "degraded");
  json_t *checks = json_object_get(h, "checks");
  cr_assert_str_eq(json_string_value(json_object_get(checks, "actors")),
                   "ok");
  cr_assert_str_eq(json_string_value(json_object_get(checks, "executor")),
                   "not running");
  cr_assert_str_eq(json_string_value(json_object_get(checks, "store")),
                   "ok");
  json_decref(h);

  wt_resp_t mr;
  wt_http(&srv, "GET", "/metrics", NULL, NULL, &mr);
  cr_assert_eq(mr.status, 200);
  cr_assert(strstr(mr.body, "# TYPE ccm_monitor_actor_handler_seconds "));
  cr_assert(strstr(mr.body, "ccm_dora_deployments_per_day{repo=\"demo\","
                            "group=\"all\"}"));
  const char *promtool = getenv("PROMTOOL");
  if (promtool && promtool[0]) {
    char file[600], run[1400];
    snprintf(file, sizeof file, "%s/metrics.txt", srv.dir);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fwrite(mr.body, 1, mr.body_len, f);
    fclose(f);
    snprintf(run, sizeof run, "'%s' check metrics < '%s'", promtool, file);
    cr_assert_eq(system(run), 0, "promtool check metrics failed");
  }
  wt_resp_free(&mr);
  monitor_web_install(NULL);
  monitor_stop(m);
  monitor_release(m);
}
