/*
 * test_rest_queue.c: GET /api/v1/queue and POST /api/v1/queue/{id}
 * (web/rest_queue.c) on a real server with a real prioritizer, hooked up
 * the way `ccm serve` does it (app/app_prio.c).
 *
 * Contract: without hooks both routes answer 503; with them the queue
 * lists the tasks that are not running, best first, each with a reason,
 * a title and its score's why; bad arguments are 400; an override with a
 * bad body is 400, for an unknown task 404, otherwise 202 and the
 * prioritizer applies it.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "actors/prioritizer/prioritizer.h"
#include "tests/web/web_test.h"
#include "web/rest_queue.h"

typedef struct hook_arg {
  prio_board_t *board;
  store_t *store;
  rt_actor_t *prio;
} hook_arg_t;

static json_t *view(void *arg, const web_queue_query_t *q)
{
  hook_arg_t *h = arg;
  prio_view_query_t v = {q->limit, q->offset, q->state, q->repo, q->reason};
  return prio_queue_json(h->board, h->store, &v, (int64_t)time(NULL) * 1000);
}

static int override(void *arg, const char *task, const json_t *body)
{
  hook_arg_t *h = arg;
  json_t *cmd = json_deep_copy(body);
  json_object_set_new(cmd, "task", json_string(task));
  char *text = json_dumps(cmd, JSON_COMPACT);
  json_decref(cmd);
  rt_msg_t *m = NULL;
  int rc = rt_msg_new(PRIO_MSG_COMMAND, text, strlen(text), &m);
  free(text);
  return rc ? rc : rt_send(h->prio, &m);
}

static const json_t *entry(const wt_resp_t *r, size_t i)
{
  return json_array_get(json_object_get(r->json, "queue"), i);
}

static const char *str(const json_t *o, const char *k)
{
  return json_string_value(json_object_get(o, k));
}

Test(rest_queue, routes_with_and_without_a_prioritizer, .timeout = 120)
{
  wt_server_t s;
  wt_start(&s, NULL);
  wt_resp_t r;
  wt_http(&s, "GET", "/api/v1/queue", NULL, NULL, &r);
  wt_assert_error(&r, 503, "unavailable");
  wt_resp_free(&r);

  wt_put_task(&s, "low", "demo", "todo", PROTO_STATE_NEW, 1);
  wt_put_task(&s, "high", "demo", "secret", PROTO_STATE_NEW, 1);
  wt_put_task(&s, "stuck", "demo", "todo", PROTO_STATE_BLOCKED, 1);
  prio_config_t cfg;
  prio_config_defaults(&cfg);
  cfg.feed_executor = false;
  hook_arg_t h = {.store = s.store};
  cr_assert_eq(prio_spawn(s.rt, &cfg, s.store, s.store_actor, "prioritizer",
                          &h.prio, &h.board), 0);
  cr_assert_eq(prio_sync(s.rt, h.prio, WT_WAIT_MS), 0);
  web_queue_hooks_t hooks = {view, override, &h};
  web_queue_install(&hooks);

  wt_http(&s, "GET", "/api/v1/queue", NULL, NULL, &r);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 3);
  cr_assert_str_eq(str(entry(&r, 0), "id"), "high");
  cr_assert_str_eq(str(entry(&r, 0), "reason"), "waiting_for_approval");
  cr_assert_str_eq(str(entry(&r, 1), "id"), "low");
  cr_assert_str_eq(str(entry(&r, 2), "reason"), "blocked");
  cr_assert_not_null(str(entry(&r, 0), "title"));
  cr_assert(!strncmp(str(json_object_get(entry(&r, 0), "score"), "why"),
                     "WSJF", 4));
  wt_resp_free(&r);

  wt_http(&s, "GET", "/api/v1/queue?reason=blocked&limit=5", NULL, NULL, &r);
  cr_assert_eq(r.status, 200);
  cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 1);
  wt_resp_free(&r);
  wt_http(&s, "GET", "/api/v1/queue?limit=0", NULL, NULL, &r);
  wt_assert_error(&r, 400, "bad_request");
  wt_resp_free(&r);
  wt_http(&s, "GET", "/api/v1/queue?state=open", NULL, NULL, &r);
  wt_assert_error(&r, 400, "bad_request");
  wt_resp_free(&r);

  wt_http(&s, "POST", "/api/v1/queue/low", "{\"bump\":\"x\"}", NULL, &r);
  wt_assert_error(&r, 400, "bad_request");
  wt_resp_free(&r);
  wt_http(&s, "POST", "/api/v1/queue/low", "{\"speed\":1}", NULL, &r);
  wt_assert_error(&r, 400, "bad_request");
  wt_resp_free(&r);
  wt_http(&s, "POST", "/api/v1/queue/nope", "{\"bump\":1}", NULL, &r);
  wt_assert_error(&r, 404, "not_found");
  wt_resp_free(&r);
  wt_http(&s, "POST", "/api/v1/queue/low", "{\"bump\":50}", NULL, &r);
  cr_assert_eq(r.status, 202, "%s", r.body);
  cr_assert_str_eq(str(r.json, "status"), "accepted");
  wt_resp_free(&r);
  cr_assert_eq(prio_sync(s.rt, h.prio, WT_WAIT_MS), 0);
  wt_http(&s, "GET", "/api/v1/queue", NULL, NULL, &r);
  cr_assert_str_eq(str(entry(&r, 0), "id"), "low", "the bump wins");
  wt_resp_free(&r);

  web_queue_install(NULL);
  rt_actor_release(h.prio);
  wt_stop(&s); /* the runtime stops the prioritizer */
  prio_board_release(h.board);
}

Test(rest_queue, override_body_check)
{
  const char *ok[] = {"{}", "{\"bump\":-100}", "{\"value\":1,\"job_size\":10}",
                      "{\"bump\":null,\"clear\":true}"};
  const char *bad[] = {"[]", "{\"bump\":101}", "{\"value\":0}",
                       "{\"clear\":1}", "{\"task\":\"x\"}"};
  for (size_t i = 0; i < 4; i++) {
    json_t *j = json_loads(ok[i], 0, NULL);
    cr_assert_null(web_queue_override_problem(j), "%s", ok[i]);
    json_decref(j);
  }
  for (size_t i = 0; i < 5; i++) {
    json_t *j = json_loads(bad[i], 0, NULL);
    cr_assert_not_null(web_queue_override_problem(j), "%s", bad[i]);
    json_decref(j);
  }
}
