/*
 * rest_queue.c: GET /api/v1/queue and POST /api/v1/queue/{id}
 * (rest_queue.h). One process-wide hook table under a mutex, as
 * rest_monitor.c: `ccm serve` runs one prioritizer. Service thread only,
 * apart from web_queue_install.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "web/rest_queue.h"
#include "web/web_int.h"

#define QUEUE_ARG_MAX 160

static pthread_mutex_t hooks_mu = PTHREAD_MUTEX_INITIALIZER;
static web_queue_hooks_t hooks;
static bool installed;

void web_queue_install(const web_queue_hooks_t *h)
{
  pthread_mutex_lock(&hooks_mu);
  installed = h != NULL;
  if (h)
    hooks = *h;
  pthread_mutex_unlock(&hooks_mu);
}

const char *web_queue_override_problem(const json_t *body)
{
  static const char *const keys[] = {"bump", "value", "time_criticality",
                                     "risk_reduction", "job_size"};
  if (!json_is_object(body))
    return "the body must be a JSON object";
  size_t known = 0;
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    const json_t *v = json_object_get(body, keys[i]);
    if (!v)
      continue;
    known++;
    if (json_is_null(v))
      continue;
    double d = json_number_value(v);
    if (!json_is_number(v) || !isfinite(d))
      return "bump and the inputs are numbers (or null to remove)";
    if (i == 0 ? fabs(d) > 100 : d < 1 || d > 10)
      return "bump is -100..100; value, time_criticality, risk_reduction "
             "and job_size are 1-10";
  }
  const json_t *clear = json_object_get(body, "clear");
  if (clear && !json_is_boolean(clear))
    return "clear is true or false";
  if (json_object_size(body) != known + (clear != NULL))
    return "known keys: bump, value, time_criticality, risk_reduction, "
           "job_size, clear";
  return NULL;
}

static void unavailable(http_req_t *r)
{
  web_err_t e;
  web__err(&e, 503, "unavailable", "no prioritizer is running");
  web__http_error(r, &e);
}

static void bad(http_req_t *r, int status, const char *code, const char *msg)
{
  web_err_t e;
  web__err(&e, status, code, "%s", msg);
  web__http_error(r, &e);
}

/* The query's arguments, in this order. */
static const char *const arg_names[] = {"limit=", "offset=", "state=",
                                        "repo=", "reason="};
enum { A_LIMIT, A_OFFSET, A_STATE, A_REPO, A_REASON, A_COUNT };

/* Read every argument into @p v ("" when absent); false when one is too
 * long. */
static bool read_args(struct lws *wsi, char v[A_COUNT][QUEUE_ARG_MAX])
{
  for (int i = 0; i < A_COUNT; i++) {
    int got = web__url_arg(wsi, arg_names[i], v[i], QUEUE_ARG_MAX);
    if (got < 0)
      return false;
    if (got == 0)
      v[i][0] = '\0';
  }
  return true;
}

/* "" keeps *out; digits within [lo, hi] set it; anything else is false. */
static bool number_arg(const char *s, size_t lo, size_t hi, size_t *out)
{
  uint64_t v;
  if (!*s)
    return true;
  if (web__parse_u64(s, lo, hi, &v))
    return false;
  *out = (size_t)v;
  return true;
}

static void get_queue(http_req_t *r)
{
  char v[A_COUNT][QUEUE_ARG_MAX];
  web_queue_query_t q = {.state = -1};
  if (!read_args(r->wsi, v) || !number_arg(v[A_LIMIT], 1, 1000, &q.limit) ||
      !number_arg(v[A_OFFSET], 0, 100000000, &q.offset) ||
      (v[A_STATE][0] && (q.state = proto_state_from_name(v[A_STATE])) < 0)) {
    bad(r, 400, "bad_request", "limit is 1..1000, offset a number, state "
                               "a task state");
    return;
  }
  q.repo = v[A_REPO][0] ? v[A_REPO] : NULL;
  q.reason = v[A_REASON][0] ? v[A_REASON] : NULL;
  json_t *body = NULL;
  bool have = false;
  pthread_mutex_lock(&hooks_mu);
  if (installed && hooks.view) {
    have = true;
    body = hooks.view(hooks.arg, &q);
  }
  pthread_mutex_unlock(&hooks_mu);
  if (!have)
    unavailable(r);
  else
    web__http_json(r, body ? 200 : 500, body);
}

static void post_override(web_t *w, http_req_t *r)
{
  json_t *body = json_loadb(r->body.p ? r->body.p : "", r->body.len, 0, NULL);
  const char *problem = web_queue_override_problem(body);
  proto_task_t t;
  if (problem) {
    bad(r, 400, "bad_request", problem);
  } else if (store_task_get(w->store, r->param, &t) != 0) {
    bad(r, 404, "not_found", "no such task");
  } else {
    store_task_free(&t);
    int rc = 0;
    bool have = false;
    pthread_mutex_lock(&hooks_mu);
    if (installed && hooks.override) {
      have = true;
      rc = hooks.override(hooks.arg, r->param, body);
    }
    pthread_mutex_unlock(&hooks_mu);
    if (!have)
      unavailable(r);
    else if (rc)
      bad(r, 503, "unavailable", "the prioritizer cannot take it now");
    else
      web__http_json(r, 202, json_pack("{s:s s:s}", "task", r->param,
                                       "status", "accepted"));
  }
  json_decref(body);
}

void web__rest_queue(web_t *w, http_req_t *r)
{
  if (r->method == LWSHUMETH_POST)
    post_override(w, r);
  else
    get_queue(r);
}
