/*
 * test_webhook.c: POST /webhooks/github on a real server on 127.0.0.1
 * (web/webhook.c, web/http.c), with payloads from npm
 * @octokit/webhooks-examples signed with a test secret.
 *
 * Contract (SPEC §3, issue #5): a missing, malformed or wrong signature
 * is a 401 before anything else (size, parsing, deduplication), also
 * without a configured secret; a signed body over the cap is a 413; every
 * validly signed delivery is a 202, without a bearer token even when one
 * is configured; a redelivery is acknowledged and not processed again;
 * a redelivery after the control plane restarted (its memory set empty)
 * is found in the store; with the daemon's event handler behind the
 * route (actors/github/events.h), a push for a configured repository
 * (matched on its github owner/name, case-insensitively) sends the
 * "scanner" a SCAN_REQUEST, a push for any other repository sends
 * nothing; an issue labeled ccm:approved makes the task linked to it
 * ready, another label changes nothing.
 *
 * Absence is shown by order, never by waiting: the handler reports each
 * event it finished (its writes durable), and the scanner's next message
 * after a delivery that must send nothing is a REST scan with
 * {"full":true}.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/github/events.h"
#include "github/gh_webhook.h"
#include "store/store_actor.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"
#include "tests/web/web_test.h"

TestSuite(webhook, .timeout = 300);

#define SECRET "It's a Secret to Everybody"
#define HOOK "/webhooks/github"

static wt_server_t srv;
static json_t *examples; /* the index: [{name, examples: [...]}] */

static const web_repo_t hello = {.id = "hello", .path = "/tmp/hello",
                                 .github = "codertocat/hello-world"};

static void start(const char *secret, size_t max_body, const char *token)
{
  web_config_t c;
  web_config_defaults(&c);
  c.webhook_secret = secret;
  if (max_body)
    c.webhook_max_body = max_body;
  c.auth_token = token;
  c.repos = &hello;
  c.n_repos = 1;
  wt_start(&srv, &c);
}

/* Example @p k of event @p name (borrowed). */
static json_t *example(const char *name, size_t k)
{
  if (!examples) {
    json_error_t err;
    examples = json_load_file(WT_WEBHOOK_EXAMPLES, 0, &err);
    cr_assert(examples, "%s: %s", WT_WEBHOOK_EXAMPLES, err.text);
  }
  for (size_t i = 0; i < json_array_size(examples); i++) {
    json_t *ev = json_array_get(examples, i);
    if (strcmp(json_string_value(json_object_get(ev, "name")), name) == 0)
      return json_array_get(json_object_get(ev, "examples"), k);
  }
  cr_assert_fail("no example of %s", name);
  return NULL;
}

/* POST @p body as event @p event, delivery @p id, with @p sig as the
 * signature header (NULL: none). */
static void post_raw(const char *event, const char *id, const char *body,
                     const char *sig, wt_resp_t *r)
{
  char h_event[128], h_id[128], h_sig[128];
  snprintf(h_event, sizeof h_event, "X-GitHub-Event: %s", event);
  snprintf(h_id, sizeof h_id, "X-GitHub-Delivery: %s", id);
  snprintf(h_sig, sizeof h_sig, "X-Hub-Signature-256: %s", sig ? sig : "");
  const char *hdrs[] = {h_event, h_id, sig ? h_sig : NULL, NULL};
  wt_http(&srv, "POST", HOOK, body, hdrs, r);
}

/* POST @p payload signed with the test secret; returns the status. */
static long deliver(const char *event, const char *id, const json_t *payload,
                    wt_resp_t *r)
{
  char *body = json_dumps(payload, JSON_COMPACT);
  char sig[72];
  gh_webhook_sign(SECRET, body, strlen(body), sig);
  post_raw(event, id, body, sig, r);
  free(body);
  return r->status;
}

static const char *status_of(const wt_resp_t *r)
{
  return json_string_value(json_object_get(r->json, "status"));
}

/* -------------------------------------------------------- verification */

Test(webhook, signed_ping_is_accepted_without_a_bearer_token)
{
  start(SECRET, 0, "control-plane-token");
  wt_resp_t r;
  cr_assert_eq(deliver("ping", "d-ping", example("ping", 0), &r), 202, "%s",
               r.body);
  cr_assert_str_eq(status_of(&r), "accepted");
  cr_assert_str_eq(json_string_value(json_object_get(r.json, "event")),
                   "ping");
  cr_assert_null(wt_header(&r, "www-authenticate"));
  wt_resp_free(&r);
  /* the rest of the API still wants the token */
  wt_http(&srv, "GET", "/api/v1/health", NULL, NULL, &r);
  wt_assert_error(&r, 401, "unauthorized");
  wt_resp_free(&r);
  wt_stop(&srv);
}

Test(webhook, tampered_or_unsigned_deliveries_are_401)
{
  start(SECRET, 0, NULL);
  char *body = json_dumps(example("ping", 0), JSON_COMPACT);
  char sig[72];
  gh_webhook_sign(SECRET, body, strlen(body), sig);
  body[strlen(body) / 2] ^= 1; /* one bit of the body */
  wt_resp_t r;
  post_raw("ping", "d-1", body, sig, &r);
  wt_assert_error(&r, 401, "unauthorized");
  wt_resp_free(&r);
  post_raw("ping", "d-2", body, NULL, &r);
  wt_assert_error(&r, 401, "unauthorized");
  wt_resp_free(&r);
  post_raw("ping", "d-3", body, "sha256=zz", &r);
  wt_assert_error(&r, 401, "unauthorized");
  wt_resp_free(&r);
  char wrong[72];
  gh_webhook_sign("another secret", body, strlen(body), wrong);
  post_raw("ping", "d-4", body, wrong, &r);
  wt_assert_error(&r, 401, "unauthorized");
  wt_resp_free(&r);
  free(body);
  wt_stop(&srv);
}

Test(webhook, no_secret_configured_refuses_everything)
{
  start(NULL, 0, NULL);
  wt_resp_t r;
  deliver("ping", "d-1", example("ping", 0), &r);
  wt_assert_error(&r, 401, "unauthorized");
  wt_resp_free(&r);
  wt_stop(&srv);
}

Test(webhook, oversized_is_413_but_unsigned_oversized_is_401)
{
  start(SECRET, 16384, NULL);
  char *pad = malloc(32768);
  memset(pad, 'a', 32767);
  pad[32767] = '\0';
  json_t *big = json_pack("{s:s}", "zen", pad);
  wt_resp_t r;
  deliver("ping", "d-big", big, &r);
  wt_assert_error(&r, 413, "too_large");
  wt_resp_free(&r);
  char *body = json_dumps(big, JSON_COMPACT);
  post_raw("ping", "d-big2", body, NULL, &r);
  wt_assert_error(&r, 401, "unauthorized");
  wt_resp_free(&r);
  /* a signed body under the cap on the same server passes */
  cr_assert_eq(deliver("ping", "d-small", example("ping", 0), &r), 202);
  wt_resp_free(&r);
  free(body);
  free(pad);
  json_decref(big);
  wt_stop(&srv);
}

Test(webhook, malformed_signed_delivery_is_400)
{
  start(SECRET, 0, NULL);
  const char *body = "[1,2]";
  char sig[72];
  gh_webhook_sign(SECRET, body, strlen(body), sig);
  wt_resp_t r;
  post_raw("ping", "d-1", body, sig, &r);
  wt_assert_error(&r, 400, "bad_request");
  wt_resp_free(&r);
  wt_stop(&srv);
}

Test(webhook, every_example_payload_is_acknowledged)
{
  start(SECRET, 0, NULL);
  example("ping", 0); /* loads the index */
  size_t total = 0, ignored = 0;
  for (size_t i = 0; i < json_array_size(examples); i++) {
    const json_t *ev = json_array_get(examples, i);
    const char *name = json_string_value(json_object_get(ev, "name"));
    const json_t *ex = json_object_get(ev, "examples");
    for (size_t k = 0; k < json_array_size(ex); k++) {
      char id[32];
      snprintf(id, sizeof id, "all-%zu", total++);
      wt_resp_t r;
      cr_assert_eq(deliver(name, id, json_array_get(ex, k), &r), 202,
                   "%s example %zu: %s", name, k, r.body);
      ignored += strcmp(status_of(&r), "ignored") == 0;
      wt_resp_free(&r);
    }
  }
  cr_assert_eq(total, 329);
  fprintf(stderr, "webhooks-examples: %zu signed deliveries, %zu accepted "
          "(202), %zu of them ignored (event or repository not handled)\n",
          total, total, ignored);
  cr_assert_gt(ignored, 0);
  cr_assert_lt(ignored, total);
  wt_stop(&srv);
}

/* ------------------------------------------- the handler behind the 202 */

static const ghev_repo_t hello_gh = {.id = "hello",
                                     .github = "codertocat/hello-world"};
static ghev_config_t handler_cfg;
static rt_port_t *handled; /* the handler's observer */
static rt_actor_t *handler;

/* The event handler of the daemon (actors/github/events.h) behind the
 * server, reporting each event it finished to `handled`. */
static void start_handler(void)
{
  handled = tst_port(srv.rt, 0);
  handler_cfg = (ghev_config_t){.store = srv.store,
                                .store_actor = srv.store_actor,
                                .repos = &hello_gh,
                                .n_repos = 1,
                                .observer = rt_port_actor(handled)};
  TST_OK(ghev_spawn(srv.rt, &handler_cfg, &handler));
}

static ghev_handled_t await_handled(const char *delivery)
{
  rt_msg_t *m = tst_recv_type(handled, GHEV_MSG_HANDLED);
  ghev_handled_t h;
  size_t len = 0;
  const void *d = rt_msg_data(m, &len);
  cr_assert_eq(len, sizeof h);
  memcpy(&h, d, sizeof h);
  rt_msg_free(m);
  cr_assert_str_eq(h.delivery, delivery);
  cr_assert_eq(h.rc, 0, "%s: a write failed (%d)", delivery, h.rc);
  return h;
}

/* Stop the server first (no more events), then the handler. */
static void stop_all(rt_actor_t *extra, rt_port_t *extra_port)
{
  web_stop(srv.web);
  srv.web = NULL;
  rt_actor_release(handler);
  rt_actor_release(extra);
  tst_quiesce(srv.rt);
  rt_port_free(handled);
  rt_port_free(extra_port);
  handler = NULL;
  handled = NULL;
  wt_stop(&srv);
}

/* --------------------------------------------------------------- push */

static proto_msg_t next_scan(rt_port_t *port)
{
  rt_msg_t *m = tst_recv_type(port, WEB_MSG_SCAN);
  size_t len = 0;
  const void *d = rt_msg_data(m, &len);
  proto_msg_t pm;
  char err[128];
  cr_assert_eq(proto_msgpack_decode(d, len, &pm, err, sizeof err), 0, "%s",
               err);
  rt_msg_free(m);
  cr_assert_eq(pm.type, PROTO_SCAN_REQUEST);
  return pm;
}

Test(webhook, push_scans_the_matching_repository_once)
{
  start(SECRET, 0, NULL);
  start_handler();
  rt_port_t *port = tst_port(srv.rt, 0);
  rt_actor_t *scanner = wt_forwarder(srv.rt, "scanner", port);
  json_t *push = example("push", 0); /* Codertocat/Hello-World */
  wt_resp_t r;
  cr_assert_eq(deliver("push", "p-1", push, &r), 202, "%s", r.body);
  cr_assert_str_eq(status_of(&r), "accepted");
  wt_resp_free(&r);
  proto_msg_t pm = next_scan(port);
  cr_assert_str_eq(pm.u.scan_request.repo, "hello");
  cr_assert(!pm.u.scan_request.full);
  proto_msg_fini(&pm);
  cr_assert_str_eq(await_handled("p-1").outcome, "scan hello");

  /* a redelivery: acknowledged, not processed */
  cr_assert_eq(deliver("push", "p-1", push, &r), 202);
  cr_assert_str_eq(status_of(&r), "duplicate");
  wt_resp_free(&r);
  /* a push for a repository that is not configured */
  json_t *other = json_deep_copy(push);
  json_object_set_new(json_object_get(other, "repository"), "full_name",
                      json_string("someone/else"));
  cr_assert_eq(deliver("push", "p-2", other, &r), 202);
  wt_resp_free(&r);
  json_decref(other);
  cr_assert_str_eq(await_handled("p-2").outcome,
                   "ignored: repository not configured");
  /* the next scan request is this full one: nothing came in between */
  wt_http(&srv, "POST", "/api/v1/repos/hello/scan", "{\"full\":true}", NULL,
          &r);
  cr_assert_eq(r.status, 202, "%s", r.body);
  wt_resp_free(&r);
  pm = next_scan(port);
  cr_assert(pm.u.scan_request.full, "a webhook sent an extra scan request");
  proto_msg_fini(&pm);
  stop_all(scanner, port);
}

/* A restarted control plane forgets its memory set; the store does not. */
Test(webhook, a_redelivery_after_a_restart_is_a_duplicate)
{
  start(SECRET, 0, NULL);
  start_handler();
  json_t *ping = example("ping", 0);
  wt_resp_t r;
  cr_assert_eq(deliver("ping", "before-restart", ping, &r), 202);
  cr_assert_str_eq(status_of(&r), "accepted");
  wt_resp_free(&r);
  await_handled("before-restart"); /* its id is durable now */
  int64_t at = 0;
  TST_OK(store_delivery_get(srv.store, "before-restart", &at));
  cr_assert_gt(at, 0);

  web_stop(srv.web);
  web_config_t c;
  web_config_defaults(&c);
  c.listen = "127.0.0.1:0";
  c.webhook_secret = SECRET;
  c.repos = &hello;
  c.n_repos = 1;
  char err[256];
  TST_OK(web_start(srv.rt, srv.store, srv.store_actor, &c, &srv.web, err,
                   sizeof err));
  srv.port = web_port(srv.web);
  cr_assert_eq(deliver("ping", "before-restart", ping, &r), 202);
  cr_assert_str_eq(status_of(&r), "duplicate");
  wt_resp_free(&r);
  /* an unsigned redelivery is still a 401 first */
  char *body = json_dumps(ping, JSON_COMPACT);
  post_raw("ping", "before-restart", body, NULL, &r);
  wt_assert_error(&r, 401, "unauthorized");
  wt_resp_free(&r);
  free(body);
  cr_assert_eq(deliver("ping", "after-restart", ping, &r), 202);
  cr_assert_str_eq(status_of(&r), "accepted");
  wt_resp_free(&r);
  await_handled("after-restart");
  stop_all(NULL, NULL);
}

/* ---------------------------------------------------------- approvals */

static void put_linked_task(const char *id, uint32_t issue)
{
  proto_msg_t m;
  tst_task_msg(&m, id, "hello", "todo", PROTO_STATE_NEW, 1.0);
  m.u.task.issue_number = issue;
  store_ack_t ack;
  TST_OK(store_write_sync(srv.rt, srv.store_actor, &m, WT_WAIT_MS, &ack));
  proto_msg_fini(&m);
}

/* The "labeled" example of issues (issue 1 of Codertocat/Hello-World),
 * relabelled @p label. */
static json_t *labeled(const char *label)
{
  for (size_t k = 0;; k++) {
    json_t *p = example("issues", k);
    const char *action = json_string_value(json_object_get(p, "action"));
    if (action && strcmp(action, "labeled") == 0) {
      json_t *c = json_deep_copy(p);
      json_object_set_new(json_object_get(c, "label"), "name",
                          json_string(label));
      return c;
    }
  }
}

Test(webhook, approved_label_makes_the_linked_task_ready)
{
  start(SECRET, 0, NULL);
  start_handler();
  put_linked_task("t-linked", 1);
  put_linked_task("t-other", 2);
  wt_resp_t r;
  json_t *bug = labeled("bug");
  cr_assert_eq(deliver("issues", "i-1", bug, &r), 202, "%s", r.body);
  wt_resp_free(&r);
  json_decref(bug);
  await_handled("i-1");
  cr_assert_eq(wt_task_state(&srv, "t-linked"), PROTO_STATE_NEW,
               "another label approved the task");

  json_t *ok = labeled("ccm:approved");
  cr_assert_eq(deliver("issues", "i-2", ok, &r), 202, "%s", r.body);
  wt_resp_free(&r);
  json_decref(ok);
  cr_assert_eq(await_handled("i-2").changed, 1);
  cr_assert_eq(wt_task_state(&srv, "t-linked"), PROTO_STATE_READY);
  cr_assert_eq(wt_task_state(&srv, "t-other"), PROTO_STATE_NEW);
  stop_all(NULL, NULL);
}
