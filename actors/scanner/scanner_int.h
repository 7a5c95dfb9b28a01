/*
 * scanner_int.h: what the coordinator (scanner.c) and the shards
 * (shard.c) share. Internal to actors/scanner/.
 *
 * Payloads (msgpack):
 *   __PATHS, __WORK   array of entries: str (a relative path), or
 *                     [str, flags] (STORE_FILE_DIRTY for the record)
 *   __WALK_DONE       [listed, excluded, used_git, error-or-nil, head
 *                     commit, unchanged]
 *   __DELETED         [path...]: recorded files no longer listed
 *   __RESULT          [files, bytes, skipped, [finding bin...],
 *                     [warning...], blame jobs, [FILES entry...]]
 *   __BLAMED          [[finding bin...], FILES entry or nil]
 */
#ifndef CCM_ACTORS_SCANNER_INT_H
#define CCM_ACTORS_SCANNER_INT_H

#include <msgpack.h>
#include <pthread.h>

#include <stdatomic.h>

#include "actors/scanner/scanner.h"
#include "scan/dupes.h"
#include "scan/markers.h"

#define SCANNER_CHUNK_PATHS 128
#define SCANNER_MAX_FILE_DEFAULT (1u << 20)

/* Read-only settings shared by the coordinator, its shards and their
 * blame jobs. Counted: each of them holds a reference, so a shard still
 * in a chunk, or a blame job still in git, when the coordinator stops
 * (a scan stopped at shutdown) keeps using it safely; the last release
 * closes the root and frees the duplicate accumulator. */
typedef struct scanner_shared {
  atomic_uint refs;
  const scanner_opts_t *opts; /* = &opts_copy */
  /* The caller's options, copied at start: a scan may outlive the struct
   * it was started with (the scan service's slot, at shutdown). */
  scanner_opts_t opts_copy;
  scan_marker_cfg_t markers;
  scan_thresholds_t thresholds;
  size_t max_file_size;
  int rootfd;
  /* Duplicated blocks span shards: one accumulator, shards add under the
   * lock; the coordinator reports the groups at the end. NULL when the
   * refactoring findings are off. */
  pthread_mutex_t dupes_lock;
  scan_dupes_t *dupes;
  /* With a state store (opts->state): records are made, and an
   * incremental scan reads only what changed (scanner.h). */
  bool stateful, incremental;
  int64_t stamp;        /* the scan's start, unix ms: records' scanned_at */
  char base[41];        /* the last scanned commit, "" */
  char settings[17];    /* digest of the settings (scanner.c) */
} scanner_shared_t;

/* Take another reference to @p sh (any thread). */
scanner_shared_t *scanner__shared_retain(scanner_shared_t *sh);
/* Drop one (any thread); the last frees @p sh. NULL is a no-op. */
void scanner__shared_release(scanner_shared_t *sh);

/* Tests only: called by a shard before it reads each file (NULL: not). */
extern void (*scanner__file_hook)(const char *path);

/* A file's mtime this close to the time it was read may hide a later
 * write in the same timestamp tick (file systems stamp with a coarse
 * clock): such a record gets mtime 0, so the next scan reads it again. */
#define SCANNER_RACY_NS 50000000LL

/* Process-wide counters (scanner.c). */
void scanner__count(int which, uint64_t n);
enum { SCANNER__READ, SCANNER__UNCHANGED, SCANNER__BLAME_RUN,
       SCANNER__BLAME_CACHED };

extern const rt_actor_type_t scanner_shard_type;

/* Turn an sbuffer's bytes into a message (takes the buffer). */
int scanner_msg_from_sbuffer(uint32_t type, msgpack_sbuffer *sb,
                             rt_msg_t **out);
/* A message holding an array of the @p n items packed back to back in
 * @p items (copied; the caller keeps it). */
int scanner_msg_from_array(uint32_t type, uint32_t n,
                           const msgpack_sbuffer *items, rt_msg_t **out);

#endif /* CCM_ACTORS_SCANNER_INT_H */
