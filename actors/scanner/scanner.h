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
 *   SCANNER_MSG_FILES     (scans with a state store only) what the scan
 *                         saw of the files it read, for the store: answer
 *                         with SCANNER_MSG_ACK like FINDINGS, once written.
 *                         [repo, stamp, incremental, [entry...], state]
 *                         entry: [path, size, mtime_ns, flags, blob,
 *                         blame JSON text or nil] for a file read (flags
 *                         STORE_FILE_*), [path] for one gone; state: nil,
 *                         or (last message, scan complete) [commit,
 *                         settings]. stamp (the scan's start, unix ms)
 *                         becomes each record's scanned_at.
 *   PROTO_SCAN_DONE       encoded proto message, last; the coordinator
 *                         and its shards have stopped (or are stopping)
 *
 * Incremental rescans (opts.state set): the store's `files` records say
 * what the last scan read (store.h). A file is read again when it has no
 * record, or its size or mtime differ from the record (or the record's
 * mtime was too recent to trust, "racy"); in a git work tree only files
 * git names are compared at all: changed since the last scanned commit
 * (git diff), or in `git status` now, or dirty when last read. Files with
 * a record that are no longer listed are reported gone. Duplicated blocks
 * need every file, so an incremental scan skips them; a full scan (the
 * first one, opts.full, or changed settings: a digest of them is kept
 * with the last commit) reads every file and reports them. The sink
 * writes FILES into the store (the analyzer does) and resolves only tasks
 * of files read or gone (analyzer.h).
 *
 * Blame (opts.blame): one `git blame` per file with findings, on a
 * blocking thread; with a state store the authors of its lines are cached
 * in the file's record under the file's git blob id, and a file read
 * again with the same blob id is not blamed again.
 */
#ifndef CCM_ACTORS_SCANNER_H
#define CCM_ACTORS_SCANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/actor.h"
#include "scan/metrics.h"
#include "scan/secrets.h"
#include "store/store.h"

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
  SCANNER_MSG_FILES,      /* file records for the store (see above) */
  SCANNER_MSG__DELETED,   /* internal: walker -> coordinator, [path...] */
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
  store_t *state;              /* NULL: stateless, every file read and
                                  nothing recorded; else incremental */
  bool full;                   /* with state: read every file anyway */
} scanner_opts_t;

/** Process-wide counts (for tests and benches): files read by shards,
 * files a stateful scan did not read (unchanged), blame runs of git, and
 * files whose authors came from the blame cache. */
typedef struct scanner_counters {
  uint64_t files_read, files_unchanged, blame_runs, blame_cached;
} scanner_counters_t;
void scanner_counters_get(scanner_counters_t *out);

/**
 * Start a scan. @p opts is copied; what it points to must stay valid
 * until the sink has received PROTO_SCAN_DONE. @return 0 or an RT_E* code.
 */
int scanner_start(rt_runtime_t *rt, const scanner_opts_t *opts,
                  rt_actor_t *sink);

#endif /* CCM_ACTORS_SCANNER_H */
