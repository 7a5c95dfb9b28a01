/*
 * scan_service.h: the daemon's scans of its repositories.
 *
 * One actor, registered as "scanner" (the name the control plane sends
 * WEB_MSG_SCAN requests to). It scans each repository at start, then every
 * interval, and whenever asked (a SCAN_REQUEST message of type
 * WEB_MSG_SCAN or PROTO_SCAN_REQUEST, with the repository id); scans go to
 * the analyzer. One scan per repository at a time: a request that comes
 * while one runs is remembered and run right after it (requests in the
 * meantime collapse into one). Each finished scan is logged on stderr
 * with the analyzer's counts, and its SCAN_DONE (as the analyzer sent it,
 * after the resolve pass) is copied to the actor registered as
 * SCAN_SERVICE_MONITOR when there is one (the monitor's
 * `repository.scanned` event). Scans are incremental when the repository's
 * options carry a state store (scanner.h); a request with `full` set
 * reads every file (and refreshes duplicated blocks), and so does every
 * SCAN_SERVICE_FULL_EVERY-th scan of a repository.
 */
#ifndef CCM_ACTORS_SCAN_SERVICE_H
#define CCM_ACTORS_SCAN_SERVICE_H

#include "actors/scanner/scanner.h"

#define SCAN_SERVICE_MAX_REPOS 16
#define SCAN_SERVICE_FULL_EVERY 24 /* with a 10 min interval: every 4 h */
#define SCAN_SERVICE_MONITOR "monitor" /* actors/monitor/monitor.h */

typedef struct scan_service_opts {
  scanner_opts_t repos[SCAN_SERVICE_MAX_REPOS]; /* repo + root set; rest as scanner_opts_t */
  size_t nrepos;
  uint64_t interval_ms;   /* 0: no periodic scans */
  rt_actor_t *analyzer;   /* sink of every scan (borrowed) */
  bool quiet;             /* no log lines */
  /* Where log lines go: NULL, stderr as "ccm: <line>"; else this hook
   * (`ccm serve`: its structured log), with a stable dotted event name
   * ("scan.done", "scan.failed", "scan.start_failed"). Any worker thread. */
  void (*log)(void *ud, bool error, const char *event, const char *line);
  void *log_ud;
} scan_service_opts_t;

/** Spawn it; it receives the analyzer's reports itself (pass the returned
 * actor as the analyzer's done_to: scan_service_spawn sets nothing there,
 * so spawn the service first and the analyzer with done_to = it, then
 * call scan_service_begin). @p opts must outlive the actor. */
int scan_service_spawn(rt_runtime_t *rt, const scan_service_opts_t *opts,
                       rt_actor_t **out);

/** Start the first scans and the interval timer (after the analyzer
 * exists). @return 0 or an rt error. */
int scan_service_begin(rt_actor_t *service);

#endif /* CCM_ACTORS_SCAN_SERVICE_H */
