/*
 * rest_queue.h: the prioritizer's side of the control plane.
 *
 *   GET  /api/v1/queue?limit=&offset=&state=&repo=&reason=
 *        every task that is not running, best first, with why it is not
 *        running (actors/prioritizer/board.h lists the reasons):
 *        {"queue":[...],"total":n,"counts":{...},"executor":{...},
 *         "next_offset":n|null}
 *   POST /api/v1/queue/{id}  {"bump":n,"value":n,"time_criticality":n,
 *        "risk_reduction":n,"job_size":n,"clear":bool}
 *        a human override (a number sets it, null removes it, "clear"
 *        removes them all first); 202 {"task","status":"accepted"}, 400
 *        for a bad body, 404 for an unknown task.
 *
 * web/ is built before actors/ and knows no actor, so `ccm serve`
 * (app/app_prio.c) installs hooks; without them both routes answer 503.
 * Hooks must not block: the view reads the prioritizer's board under its
 * lock, the override is a message to the actor.
 */
#ifndef WEB_REST_QUEUE_H
#define WEB_REST_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct web_queue_query {
  size_t limit;       /* 1..1000, 0: the default (100) */
  size_t offset;
  int state;          /* -1: the queue's states */
  const char *repo;   /* NULL: any */
  const char *reason; /* NULL: any */
} web_queue_query_t;

typedef struct web_queue_hooks {
  json_t *(*view)(void *arg, const web_queue_query_t *q); /* new ref */
  /* Hand an override on; 0 or a negative code (the task is known and the
   * body was checked). */
  int (*override)(void *arg, const char *task, const json_t *body);
  void *arg;
} web_queue_hooks_t;

/** Install the hooks (copied; NULL removes them). Any thread; after
 * web_queue_install(NULL) returns, no hook runs and @p arg may go. */
void web_queue_install(const web_queue_hooks_t *hooks);

/** Check an override body: NULL when fine, else why not (static text). */
const char *web_queue_override_problem(const json_t *body);

/* ---- for web/ (rest.c) ---- */
struct web;
struct http_req;
/** GET /api/v1/queue and POST /api/v1/queue/{id}. */
void web__rest_queue(struct web *w, struct http_req *r);

#endif /* WEB_REST_QUEUE_H */
