/*
 * gh_test.h: helpers for the github/ suites.
 *
 *  - the fixtures server: tests/github/fixtures_server.mjs (npm
 *    @octokit/fixtures-server mounted on 127.0.0.1:0), started per test,
 *    stopped by ghf_stop (SIGTERM, then reaped) or, if the test dies, by
 *    the end of its stdin;
 *  - scenarios: POST /fixtures, answering the base URL to give the client;
 *  - a client actor on that URL, with the recordings' token;
 *  - reading files (recordings, webhook examples) with jansson.
 * Everything asserts with criterion; every wait is bounded.
 */
#ifndef TESTS_GITHUB_GH_TEST_H
#define TESTS_GITHUB_GH_TEST_H

#include <jansson.h>
#include <sys/types.h>

#include "github/gh.h"
#include "tests/support/rt_test.h"

/* The token every recording expects (Authorization: token ...). */
#define GHT_TOKEN "0000000000000000000000000000000000000001"
#define GHT_TOKEN_ENV "CCM_TEST_GITHUB_TOKEN"

typedef struct ght_server {
  pid_t pid;
  int port;
  int stdin_fd; /* closing it stops the server too */
} ght_server_t;

/** Start the fixtures server (asserts it printed its port in time). */
void ght_server_start(ght_server_t *s);
/** Stop and reap it (bounded: SIGKILL after a grace period). */
void ght_server_stop(ght_server_t *s);
/** Load @p scenario; returns its base URL (malloc'd). Asserts a 201. */
char *ght_scenario(const ght_server_t *s, const char *scenario);

/** Config for a test client: @p api_url, the recordings' token (set in the
 * environment), short retries. */
void ght_config(gh_config_t *c, const char *api_url);
/** Spawn a client (asserts success). */
rt_actor_t *ght_client(rt_runtime_t *rt, const gh_config_t *c,
                       gh_cache_t *cache);
/** gh_call with a generous timeout (asserts the call itself completed). */
void ght_call(rt_runtime_t *rt, rt_actor_t *client, const gh_request_t *req,
              gh_response_t *out);

/** End a test: shut the runtime down and check for leaks. Call it last in
 * the test body (an assertion in a suite's .fini does not fail the test).
 * Sets *rt to NULL first, so a failed check cannot free it twice. */
void ght_runtime_finish(rt_runtime_t **rt);
/** For a suite's .fini: free *rt without checks when the test died before
 * ght_runtime_finish. */
void ght_runtime_abandon(rt_runtime_t **rt);

/** Load a JSON file (asserts). */
json_t *ght_json_file(const char *path);
/** Milliseconds on a monotonic clock. */
uint64_t ght_ms(void);

#endif /* TESTS_GITHUB_GH_TEST_H */
