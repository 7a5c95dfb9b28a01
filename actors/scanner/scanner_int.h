/*
 * scanner_int.h: what the coordinator (scanner.c) and the shards
 * (shard.c) share. Internal to actors/scanner/.
 *
 * Payloads (msgpack):
 *   __PATHS, __WORK   array of str (relative paths)
 *   __WALK_DONE       [listed, excluded, used_git, error-or-nil]
 *   __RESULT          [files, bytes, skipped, [finding bin...], [warning...]]
 */
#ifndef CCM_ACTORS_SCANNER_INT_H
#define CCM_ACTORS_SCANNER_INT_H

#include <msgpack.h>
#include <pthread.h>

#include "actors/scanner/scanner.h"
#include "scan/dupes.h"
#include "scan/markers.h"

#define SCANNER_CHUNK_PATHS 128
#define SCANNER_MAX_FILE_DEFAULT (1u << 20)

/* Read-only settings shared by the coordinator and its shards. */
typedef struct scanner_shared {
  const scanner_opts_t *opts;
  scan_marker_cfg_t markers;
  scan_thresholds_t thresholds;
  size_t max_file_size;
  int rootfd;
  /* Duplicated blocks span shards: one accumulator, shards add under the
   * lock; the coordinator reports the groups at the end. NULL when the
   * refactoring findings are off. */
  pthread_mutex_t dupes_lock;
  scan_dupes_t *dupes;
} scanner_shared_t;

extern const rt_actor_type_t scanner_shard_type;

/* Turn an sbuffer's bytes into a message (takes the buffer). */
int scanner_msg_from_sbuffer(uint32_t type, msgpack_sbuffer *sb,
                             rt_msg_t **out);

#endif /* CCM_ACTORS_SCANNER_INT_H */
