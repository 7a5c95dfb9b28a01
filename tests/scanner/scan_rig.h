/*
 * scan_rig.h: a scanner, the analyzer and a real store (LMDB in a
 * temporary directory, the store actor's group commit) for the tests of
 * scans that make tasks: test_analyzer.c, test_incremental.c.
 */
#ifndef TESTS_SCANNER_SCAN_RIG_H
#define TESTS_SCANNER_SCAN_RIG_H

#include "actors/analyzer/analyzer.h"
#include "actors/scanner/scanner.h"

typedef struct scan_rig {
  char *repo, *data;  /* temporary directories: the repository, the store */
  rt_runtime_t *rt;
  store_t *store;
  rt_actor_t *store_actor, *analyzer;
  rt_port_t *done;    /* the analyzer's done_to */
  analyzer_opts_t ao;
} scan_rig_t;

void scan_rig_up(scan_rig_t *r);
/* scan_rig_up() in two steps, to change r->ao (where the analyzer writes,
 * whom it tells) before the analyzer starts. */
void scan_rig_up_store(scan_rig_t *r);
void scan_rig_start_analyzer(scan_rig_t *r);
void scan_rig_down(scan_rig_t *r);

/* One scan with @p o (repo "fx") through the analyzer; its summary
 * (asserted present, for "fx", with no failed write). *files (when not
 * NULL) gets SCAN_DONE's count of files read; the scan must not fail. */
analyzer_summary_t scan_rig_scan(scan_rig_t *r, const scanner_opts_t *o,
                                 uint64_t *files);

#endif
