/*
 * scanner.h: one scan of one repository, as a group of actors.
 *
 *   walker (blocking job) --paths--> coordinator --chunks--> shard actors
 *                                        ^   |                   |
 *                                        |   +--findings--> sink |
 *                                        +------results----------+
 *
 * scanner_start() spawns a coordinator. It lists the repository's files on
 * a blocking thread (git ls-files or a tree walk: scan/walk.h), cuts the
 * list into chunks of paths and deals them to shard actors, one per
 * runtime worker. A shard reads each file (scan/file.h), finds markers,
 * secrets and refactoring candidates (scan/), and sends the chunk's
 * findings back. The coordinator forwards them to the sink as
 * SCANNER_MSG_FINDINGS and the sink answers each with SCANNER_MSG_ACK:
 * at most SCANNER_CREDITS batches are unacknowledged; results that come
 * back meanwhile wait in the coordinator, and no new chunk is dealt while
 * any wait, so at most SCANNER_CREDITS + 2 x shards batches exist at once,
 * whatever the repository's size and however slow the sink (the analyzer
 * writing to the store, say). Files are read on the workers: they are short reads,
 * mostly from the page cache (docs/scanner.md says when that is not so).
 *
 * What the sink receives (payloads are msgpack):
 *   SCANNER_MSG_FINDINGS  array of bin, each an encoded proto FINDING
 *                         message (proto_msgpack_decode); answer with
 *                         SCANNER_MSG_ACK (empty) to the sender
 *   PROTO_SCAN_PROGRESS   encoded proto message, every progress_ms
 *   SCANNER_MSG_WARNING   a string: a file or path that could not be read
 *   PROTO_SCAN_DONE       encoded proto message, last; the coordinator
 *                         and its shards have stopped (or are stopping)
 */
#ifndef CCM_ACTORS_SCANNER_H
#define CCM_ACTORS_SCANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/actor.h"
#include "scan/metrics.h"
#include "scan/secrets.h"

/* Runtime message types of the scanner (below the proto type ids' use of
 * the same space: proto ids are small, these are 0x5C00xxxx). */
enum {
  SCANNER_MSG_FINDINGS = 0x5C000001u,
  SCANNER_MSG_ACK,
  SCANNER_MSG_WARNING,
  SCANNER_MSG__PATHS,     /* internal: walker -> coordinator */
  SCANNER_MSG__WALK_DONE, /* internal */
  SCANNER_MSG__WORK,      /* internal: coordinator -> shard */
  SCANNER_MSG__RESULT,    /* internal: shard -> coordinator */
  SCANNER_MSG__TICK,      /* internal: progress timer */
  SCANNER_MSG__BEGIN,     /* internal: first message */
  SCANNER_MSG__BLAMED,    /* internal: a blame job's findings */
};

#define SCANNER_CREDITS 8

typedef struct scanner_opts {
  const char *repo;            /* repository id written into findings */
  const char *root;            /* directory to scan */
  const char *const *markers;  /* NULL: TODO FIXME HACK XXX BUG OPTIMIZE */
  size_t nmarkers;
  const char *const *excludes; /* NULL: scan_walk_default_excludes() */
  size_t nexcludes;
  bool no_git;                 /* walk the tree even inside git */
  const char *only;            /* scan just this file of root */
  size_t max_file_size;        /* 0: 1 MiB */
  bool no_markers, no_secrets, no_refactor;
  bool blame;                  /* author and date from git blame */
  bool any_case;               /* markers in any case (todo:, Todo:) */
  scan_thresholds_t thresholds; /* zeros: scan_thresholds_default() */
  const scan_allowlist_t *allow; /* secrets allowlist, may be NULL */
  unsigned shards;             /* 0: one per worker */
  unsigned progress_ms;        /* 0: no progress messages */
} scanner_opts_t;

/**
 * Start a scan. @p opts (and what it points to) must stay valid until the
 * sink has received PROTO_SCAN_DONE. @return 0 or an RT_E* code.
 */
int scanner_start(rt_runtime_t *rt, const scanner_opts_t *opts,
                  rt_actor_t *sink);

#endif /* CCM_ACTORS_SCANNER_H */
