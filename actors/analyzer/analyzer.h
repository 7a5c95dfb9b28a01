/*
 * analyzer.h: findings become tasks in the store.
 *
 * The analyzer is the sink of every scan in the daemon (scanner.h). For
 * each finding of a SCANNER_MSG_FINDINGS batch it reads the task with the
 * same id (the finding's fingerprint) and writes, through the store actor
 * (group commit), either a new task (state new, first_seen now) or, for a
 * known task, a sighting (store COMMAND "seen", store.h): the store
 * refreshes its location, text and last_seen inside the write
 * transaction, so a score, labels or a state written since the analyzer
 * read the task (the prioritizer, a human) are kept; a task that was
 * `resolved` and whose finding is back moves to `new` again. A marker's
 * due date (TODO(2025-03-30)) is the task's `due:YYYY-MM-DD` label (the
 * prioritizer's lateness); other labels, `prio:` overrides among them,
 * are never touched. A task nobody scored gets the default rank
 * (scan/rank.h). It acknowledges the batch to the scanner only when the
 * store acknowledged every write of it, so a slow disk slows the scan
 * instead of growing queues.
 *
 * At PROTO_SCAN_DONE (a scan without error) every task of that repository
 * of a kind the scan looks for (markers, refactor, secret) that the scan
 * did not see is moved to `resolved` ("finding gone"). A scan that failed
 * resolves nothing. Scans with a state store (scanner.h) also send
 * SCANNER_MSG_FILES: the analyzer writes those records (a store COMMAND
 * "scan_files") in order with the findings and acknowledges them the same
 * way. After an incremental scan only tasks of files it read again (their
 * record carries this scan's stamp) or that are gone (no record) are
 * resolved; tasks of unchanged files, and duplicated-block tasks (only
 * full scans look for those), stay as they are.
 *
 * Listeners: done_to (optional) receives the PROTO_SCAN_DONE message once
 * the resolve pass has been written, with the counts of this scan in an
 * ANALYZER_MSG_SUMMARY ({repo, new, updated, resolved}) just before it;
 * and a copy of each SCANNER_MSG_WARNING and PROTO_SCAN_PROGRESS.
 */
#ifndef CCM_ACTORS_ANALYZER_H
#define CCM_ACTORS_ANALYZER_H

#include "runtime/actor.h"
#include "store/store.h"

#define ANALYZER_MSG_SUMMARY 0x5A000001u

typedef struct analyzer_summary {
  char repo[64];
  uint64_t created, updated, reopened, resolved, failed_writes;
} analyzer_summary_t;

typedef struct analyzer_opts {
  store_t *store;          /* for reads (borrowed) */
  rt_actor_t *store_actor; /* for writes (borrowed) */
  rt_actor_t *done_to;     /* may be NULL */
} analyzer_opts_t;

/** Spawn the analyzer (registered as "analyzer"). @p opts must outlive it. */
int analyzer_spawn(rt_runtime_t *rt, const analyzer_opts_t *opts,
                   rt_actor_t **out);

#endif /* CCM_ACTORS_ANALYZER_H */
