/*
 * app_audit.h: `ccm serve` audits what its actors did (app/ only).
 *
 * The actors already log their work as events in the store: the
 * executor's outcome of every run on topic "executor" (docs/executor.md:
 * the command, dry run or not, what it pushed, the pull request it opened,
 * the issue comment it posted) and every task change on "tasks". The
 * auditor reads the events after its cursor and appends one audit entry
 * (store_audit_append) per automated action found:
 *
 *   executor run          who executor, what agent.run | agent.dry_run,
 *                         subject task/ID, input the command (argv JSON)
 *   pushed branch         branch.push, subject the branch
 *   pull request          pr.open, subject its URL
 *   issue comment         issue.comment, subject its URL
 *   task moved to ready   who the transition's actor (user, web,
 *                         prioritizer for auto_approve, github for the
 *                         approval label), what task.approve, input the
 *                         task as REST shows it
 *
 * The entries and the cursor (kv "audit/event_seq") are written in one
 * transaction, so a crash neither loses nor repeats an entry; on a store
 * that has no cursor yet, auditing starts at its last event (the past is
 * not invented). Configuration reloads are audited by app_reload.c.
 *
 * Main thread only (the signal loop polls it about once a second); it
 * writes with its own transaction, which LMDB serialises with the store
 * actor's.
 */
#ifndef APP_APP_AUDIT_H
#define APP_APP_AUDIT_H

#include "store/store.h"

/* Approvals remembered per run, so that two events of one ready task
 * make one entry (a task is approved again only after leaving ready). */
#define APP_AUDIT_SEEN 256
#define APP_AUDIT_KEY_MAX 180

typedef struct app_auditor {
  store_t *store;   /* borrowed */
  uint64_t cursor;  /* the last event seq audited */
  char seen[APP_AUDIT_SEEN][APP_AUDIT_KEY_MAX];
  size_t next_seen;
} app_auditor_t;

/** Start after the stored cursor, else after the store's last event.
 * @return 0 or a store error (then it starts from seq 0). */
int app_auditor_init(app_auditor_t *a, store_t *s);

/** Audit the events logged since the last poll (at most 1,000).
 * @return the entries written (>= 0), or a store error (logged; the same
 * events are read again next time). */
int app_auditor_poll(app_auditor_t *a);

#endif /* APP_APP_AUDIT_H */
