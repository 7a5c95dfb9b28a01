/*
 * mon_test.h: helpers of the monitor suites (tests/monitor/).
 *
 * A store with its writer actor on a fresh runtime, a port that receives
 * what the monitor publishes, a bounded poll for conditions that the
 * monitor reaches on its own clock, and a small HTTP receiver on
 * 127.0.0.1 (a plain socket server on its own thread, no HTTP library)
 * that records each request and answers with the next status (and JSON
 * body) of a script: a webhook receiver, or a stand-in for GitHub.
 */
#ifndef TESTS_MONITOR_MON_TEST_H
#define TESTS_MONITOR_MON_TEST_H

#include <pthread.h>
#include <stdbool.h>

#include "actors/monitor/monitor.h"
#include "tests/support/rt_test.h"
#include "tests/support/store_test.h"

typedef struct mt_env {
  char *dir;
  store_t *store;
  rt_runtime_t *rt;
  rt_actor_t *store_actor;
  rt_port_t *events; /* what the monitor publishes: JSON text messages */
} mt_env_t;

void mt_env_init(mt_env_t *e);
void mt_env_fini(mt_env_t *e);
/** A monitor configuration for tests: 20 ms samples, no probes, no
 * executor check, nothing persisted, events published to e->events. */
monitor_config_t mt_config(mt_env_t *e);
/** The publish hook (arg: the env) that forwards to e->events. */
int mt_publish(void *arg, const char *topic, const json_t *data);
/** The next published event's JSON ({"topic","data"}) within TST_WAIT_MS. */
json_t *mt_next_event(mt_env_t *e);

/** Poll @p cond(arg) every 5 ms until true; fail after TST_WAIT_MS. */
void mt_wait(bool (*cond)(void *arg), void *arg, const char *what);

/** Condition for mt_wait: monitor @p arg reports health degraded with the
 * check "executor": "not running". */
bool mt_no_executor(void *arg);

/** Build make_dora_repo.sh's repository at @p path (asserts). */
void mt_make_dora_repo(const char *path);

/** Append an EVENT to the store's log through its actor (durable). */
void mt_log_event(mt_env_t *e, const char *topic, json_t *data);
/** Upsert a task in @p state through the store actor. */
void mt_put_task(mt_env_t *e, const char *id, proto_state_t state);

/* ---- HTTP receiver ---- */
#define MT_MAX_REQ 64
typedef struct mt_request {
  char method[8];
  char path[256];
  char event[64];
  char delivery[64];
  char signature[128];
  char *body;
} mt_request_t;

typedef struct mt_receiver {
  int fd;
  int port;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;
  int script[MT_MAX_REQ]; /* status per request, in order; 0: 200 */
  const char *bodies[MT_MAX_REQ]; /* JSON answered, in order; NULL: none */
  mt_request_t req[MT_MAX_REQ];
  int n;
  char url[96];
} mt_receiver_t;

void mt_receiver_start(mt_receiver_t *r);
void mt_receiver_stop(mt_receiver_t *r);
/** Wait until @p n requests arrived; fail after TST_WAIT_MS. */
void mt_receiver_wait(mt_receiver_t *r, int n);
int mt_receiver_count(mt_receiver_t *r);

#endif /* TESTS_MONITOR_MON_TEST_H */
