/*
 * scanner.c: the coordinator of one scan (see scanner.h for the flow).
 *
 * State: a FIFO of path chunks from the walker, the shards with the number
 * of chunks each holds (at most 2: one running, one queued, so a shard
 * never waits for work), the count of findings batches the sink has not
 * acknowledged, and the totals. The scan is over when the walker is done,
 * the FIFO is empty and no shard holds a chunk; then PROTO_SCAN_DONE goes
 * to the sink and every actor of the scan stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/scanner/scanner_int.h"
#include "protocol/proto.h"
#include "runtime/io.h"
#include "runtime/rt.h"
#include "runtime/timer.h"
#include "scan/changes.h"
#include "scan/fingerprint.h"
#include "scan/walk.h"

#define SHARD_DEPTH 2
#define MAX_SHARDS 64
#define FILES_PER_MSG 512 /* file records per FILES message */
#define WALK_LOOKUPS_PER_TXN 1024 /* record lookups per read transaction */

typedef struct chunk {
  struct chunk *next;
  rt_msg_t *msg; /* a __WORK message, ready to send */
} chunk_t;

typedef struct coord {
  rt_runtime_t *rt;
  rt_actor_t *self;
  rt_actor_t *sink;
  scanner_shared_t *sh; /* counted: shards and blame jobs hold it too */
  rt_actor_t *shards[MAX_SHARDS];
  unsigned inflight[MAX_SHARDS];
  unsigned nshards;
  chunk_t *head, *tail;       /* paths not dealt yet */
  chunk_t *out_head, *out_tail; /* findings batches waiting for a credit */
  unsigned credits_used;
  bool walk_done, finished;
  char *walk_error;
  uint64_t listed, files, bytes, skipped, findings, warnings;
  /* records for the store (stateful scans): the FILES message being
   * filled, and whether the last one (with the state) went out */
  msgpack_sbuffer files_sb;
  msgpack_packer files_pk;
  uint32_t nfiles;
  bool files_final;
  char head_commit[41]; /* HEAD when the walk began, "" */
  int64_t blame_pending; /* jobs counted by results minus jobs back */
  uint64_t started_ms, timer;
} coord_t;

typedef struct start_arg {
  const scanner_opts_t *opts;
  rt_actor_t *sink;
} start_arg_t;

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- process-wide counters ---- */

static _Atomic uint64_t counters[4];

void scanner__count(int which, uint64_t n)
{
  atomic_fetch_add_explicit(&counters[which], n, memory_order_relaxed);
}

void scanner_counters_get(scanner_counters_t *out)
{
  out->files_read = atomic_load(&counters[SCANNER__READ]);
  out->files_unchanged = atomic_load(&counters[SCANNER__UNCHANGED]);
  out->blame_runs = atomic_load(&counters[SCANNER__BLAME_RUN]);
  out->blame_cached = atomic_load(&counters[SCANNER__BLAME_CACHED]);
}

/* ---- the settings a record depends on ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * UINT64_C(1099511628211);
  return (h ^ 0xff) * UINT64_C(1099511628211); /* a field separator */
}

static uint64_t fnv_strs(uint64_t h, const char *const *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    h = fnv(h, v[i], strlen(v[i]));
  return fnv(h, &n, sizeof n);
}

/* A digest of what decides which files are read and what is found in
 * them: when it changes, the next scan is a full one. */
static void settings_digest(const scanner_shared_t *sh, char out[17])
{
  const scanner_opts_t *o = sh->opts;
  uint64_t h = UINT64_C(14695981039346656037);
  uint8_t flags[6] = {o->no_git, o->no_markers, o->no_secrets,
                      o->no_refactor, o->any_case, o->blame};
  h = fnv_strs(h, o->markers, o->markers ? o->nmarkers : 0);
  h = fnv_strs(h, o->excludes, o->excludes ? o->nexcludes : 0);
  h = fnv(h, flags, sizeof flags);
  h = fnv(h, &sh->max_file_size, sizeof sh->max_file_size);
  h = fnv(h, &sh->thresholds, sizeof sh->thresholds);
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

int scanner_msg_from_sbuffer(uint32_t type, msgpack_sbuffer *sb,
                             rt_msg_t **out)
{
  int rc = rt_msg_new_take(type, sb->data, sb->size, out);
  if (rc != 0)
    msgpack_sbuffer_destroy(sb);
  sb->data = NULL;
  sb->size = sb->alloc = 0;
  return rc;
}

int scanner_msg_from_array(uint32_t type, uint32_t n,
                           const msgpack_sbuffer *items, rt_msg_t **out)
{
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, n);
  if (items->size)
    msgpack_sbuffer_write(&sb, items->data, items->size);
  return scanner_msg_from_sbuffer(type, &sb, out);
}

/* ---- the walker: a blocking job ---- */

typedef struct walk_job {
  scanner_opts_t opts;   /* copy of the pointers; the strings are the caller's */
  rt_runtime_t *rt;
  rt_actor_t *coord;     /* a reference, released by the job */
  size_t lens[SCANNER_CHUNK_PATHS];
  uint32_t flags[SCANNER_CHUNK_PATHS];
  char *store;           /* the batch's path bytes */
  size_t store_len, store_cap;
  unsigned n;
  /* stateful scans (copied from the coordinator's shared settings) */
  bool stateful, incremental, git;
  char base[41];
  int rootfd;
  scan_git_changes_t changes;
  scan_pathset_t listed;          /* every path listed, to find gone ones */
  store_files_reader_t *reader;   /* open while a chunk is being decided */
  unsigned lookups;               /* made in the reader's transaction */
  uint64_t unchanged;
} walk_job_t;

/* Send a message from a blocking thread, waiting while the mailbox is full. */
static void send_blocking(walk_job_t *j, rt_msg_t *m)
{
  int rc;
  while ((rc = rt_send(j->coord, &m)) == RT_EAGAIN) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  if (rc != 0)
    rt_msg_free(m);
}

/* Close the chunk's read transaction: never wait on the coordinator
 * (which may wait on the store) while holding one. */
static void reader_close(walk_job_t *j)
{
  store_files_reader_close(j->reader);
  j->reader = NULL;
  j->lookups = 0;
}

static void flush_paths(walk_job_t *j)
{
  reader_close(j);
  if (j->n == 0)
    return;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, j->n);
  size_t off = 0;
  for (unsigned i = 0; i < j->n; i++) {
    if (j->flags[i]) {
      msgpack_pack_array(&pk, 2);
      msgpack_pack_str_with_body(&pk, j->store + off, j->lens[i]);
      msgpack_pack_uint32(&pk, j->flags[i]);
    } else {
      msgpack_pack_str_with_body(&pk, j->store + off, j->lens[i]);
    }
    off += j->lens[i];
  }
  j->n = 0;
  j->store_len = 0;
  rt_msg_t *m = NULL;
  if (scanner_msg_from_sbuffer(SCANNER_MSG__PATHS, &sb, &m) == 0)
    send_blocking(j, m);
}

static int64_t mtime_ns_of(const struct stat *st)
{
  return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Is @p path as the last scan read it? (scanner.h: incremental rescans) */
static bool unchanged(walk_job_t *j, const char *path, size_t len)
{
  store_file_t rec;
  struct stat st;
  /* A run of unchanged files sends nothing: renew the read transaction
   * now and then, so that it never lasts the whole walk. */
  if (j->lookups >= WALK_LOOKUPS_PER_TXN)
    reader_close(j);
  if (!j->reader &&
      store_files_reader_open(j->opts.state, j->opts.repo, &j->reader) != 0)
    return false;
  j->lookups++;
  if (store_files_reader_get(j->reader, path, &rec) != 0 || rec.mtime_ns == 0)
    return false;
  /* A file read clean (as committed) differs from what was read exactly
   * when git names it now; one read dirty may have changed or been
   * committed as it was: its size and mtime tell. */
  if (j->git && !j->changes.all && !(rec.flags & STORE_FILE_DIRTY))
    return !scan_pathset_has(&j->changes.changed, path, len);
  return fstatat(j->rootfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         (uint64_t)st.st_size == rec.size && mtime_ns_of(&st) == rec.mtime_ns;
}

static int on_path(void *ud, const char *path, size_t len)
{
  walk_job_t *j = ud;
  uint32_t flags = 0;
  if (j->stateful) {
    if (scan_pathset_add(&j->listed, path, len) != 0)
      return -1;
    if (j->git && scan_pathset_has(&j->changes.dirty, path, len))
      flags = STORE_FILE_DIRTY;
    if (j->incremental && unchanged(j, path, len)) {
      j->unchanged++;
      return 0;
    }
  }
  if (j->store_len + len > j->store_cap) {
    size_t cap = j->store_cap ? j->store_cap * 2 : 16384;
    while (cap < j->store_len + len)
      cap *= 2;
    char *p = realloc(j->store, cap);
    if (!p)
      return -1;
    j->store = p;
    j->store_cap = cap;
  }
  memcpy(j->store + j->store_len, path, len);
  j->store_len += len;
  j->flags[j->n] = flags;
  j->lens[j->n++] = len;
  if (j->n == SCANNER_CHUNK_PATHS)
    flush_paths(j);
  return 0;
}

/* ---- files gone since the last scan ---- */

typedef struct gone {
  walk_job_t *j;
  msgpack_sbuffer sb; /* the paths, packed back to back */
  uint32_t n;
} gone_t;

static int collect_gone(const char *path, size_t len, const store_file_t *f,
                        void *arg)
{
  gone_t *g = arg;
  msgpack_packer pk;
  (void)f;
  if (scan_pathset_has(&g->j->listed, path, len))
    return 0;
  msgpack_packer_init(&pk, &g->sb, msgpack_sbuffer_write);
  msgpack_pack_str_with_body(&pk, path, len);
  g->n++;
  return 0;
}

/* Report recorded files that were not listed (after the read transaction
 * of the walk over the records has ended). */
static void send_gone(walk_job_t *j)
{
  gone_t g = {.j = j};
  msgpack_sbuffer_init(&g.sb);
  store_files_foreach(j->opts.state, j->opts.repo, collect_gone, &g);
  rt_msg_t *m = NULL;
  if (g.n && scanner_msg_from_array(SCANNER_MSG__DELETED, g.n, &g.sb, &m) == 0)
    send_blocking(j, m);
  msgpack_sbuffer_destroy(&g.sb);
}

/* What git says changed (stateful scans in a git work tree). */
static void walk_prepare(walk_job_t *j, const scan_walk_cfg_t *cfg)
{
  char err[256];
  j->rootfd = -1;
  if (!j->stateful)
    return;
  j->rootfd = open(cfg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  j->git = scan_walk_uses_git(cfg);
  if (j->git && scan_git_changes(cfg->root, j->base, &j->changes, err,
                                 sizeof err) != 0) {
    j->git = false; /* compare every file's size and mtime instead */
    memset(&j->changes, 0, sizeof j->changes);
  }
}

static void walk_cleanup(walk_job_t *j)
{
  reader_close(j);
  scan_git_changes_fini(&j->changes);
  scan_pathset_fini(&j->listed);
  if (j->rootfd >= 0)
    close(j->rootfd);
  scanner__count(SCANNER__UNCHANGED, j->unchanged);
}

static void walk_run(void *arg, rt_msg_t **result)
{
  walk_job_t *j = arg;
  scan_walk_cfg_t cfg = {
      .root = j->opts.root,
      .excludes = j->opts.excludes,
      .nexcludes = j->opts.nexcludes,
      .no_git = j->opts.no_git,
      .only = j->opts.only,
  };
  scan_walk_stats_t st;
  char err[512] = "";
  walk_prepare(j, &cfg);
  int rc = scan_walk(&cfg, on_path, j, &st, err, sizeof err);
  flush_paths(j);
  if (rc == 0 && j->stateful)
    send_gone(j);

  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 6);
  msgpack_pack_uint64(&pk, st.listed);
  msgpack_pack_uint64(&pk, st.excluded);
  if (st.used_git)
    msgpack_pack_true(&pk);
  else
    msgpack_pack_false(&pk);
  if (rc != 0 && err[0])
    msgpack_pack_str_with_body(&pk, err, strlen(err));
  else
    msgpack_pack_nil(&pk);
  msgpack_pack_str_with_body(&pk, j->changes.head, strlen(j->changes.head));
  msgpack_pack_uint64(&pk, j->unchanged);
  walk_cleanup(j);
  scanner_msg_from_sbuffer(SCANNER_MSG__WALK_DONE, &sb, result);
  rt_actor_release(j->coord);
  free(j->store);
  free(j);
}

static int start_walk(coord_t *c)
{
  walk_job_t *j = calloc(1, sizeof *j);
  if (!j)
    return RT_ENOMEM;
  j->opts = *c->sh->opts;
  j->rt = c->rt;
  j->stateful = c->sh->stateful;
  j->incremental = c->sh->incremental;
  memcpy(j->base, c->sh->base, sizeof j->base);
  j->coord = rt_actor_retain(c->self);
  int rc = rt_blocking_submit(c->rt, walk_run, j, c->self);
  if (rc != 0) {
    rt_actor_release(j->coord);
    free(j);
  }
  return rc;
}

/* ---- dealing chunks ---- */

static void fifo_push(chunk_t **head, chunk_t **tail, rt_msg_t *m)
{
  chunk_t *k = malloc(sizeof *k);
  if (!k) {
    rt_msg_free(m);
    return;
  }
  k->next = NULL;
  k->msg = m;
  if (*tail)
    (*tail)->next = k;
  else
    *head = k;
  *tail = k;
}

static rt_msg_t *fifo_pop(chunk_t **head, chunk_t **tail)
{
  chunk_t *k = *head;
  if (!k)
    return NULL;
  *head = k->next;
  if (!*head)
    *tail = NULL;
  rt_msg_t *m = k->msg;
  free(k);
  return m;
}

static void fifo_clear(chunk_t **head, chunk_t **tail)
{
  rt_msg_t *m;
  while ((m = fifo_pop(head, tail)) != NULL)
    rt_msg_free(m);
}

static unsigned least_loaded_shard(const coord_t *c)
{
  unsigned best = 0;
  for (unsigned i = 1; i < c->nshards; i++) {
    if (c->inflight[i] < c->inflight[best])
      best = i;
  }
  return best;
}

/* Give queued chunks to shards with room, while the sink keeps up. */
static void deal(coord_t *c)
{
  while (c->head && c->credits_used < SCANNER_CREDITS && !c->out_head) {
    unsigned i = least_loaded_shard(c);
    if (c->inflight[i] >= SHARD_DEPTH)
      return;
    rt_msg_t *m = fifo_pop(&c->head, &c->tail);
    if (rt_send(c->shards[i], &m) != 0)
      rt_msg_free(m);
    else
      c->inflight[i]++;
  }
}

static void on_paths(coord_t *c, rt_msg_t *msg)
{
  size_t len;
  void *data = rt_msg_take_payload(msg, &len);
  rt_msg_t *work = NULL;
  if (data && rt_msg_new_take(SCANNER_MSG__WORK, data, len, &work) == 0)
    fifo_push(&c->head, &c->tail, work);
  deal(c);
}

/* ---- results ---- */

static void send_proto(coord_t *c, proto_msg_t *m)
{
  msgpack_sbuffer sb;
  rt_msg_t *out = NULL;
  msgpack_sbuffer_init(&sb);
  if (proto_msgpack_encode(m, &sb) == 0 &&
      scanner_msg_from_sbuffer((uint32_t)m->type, &sb, &out) == 0) {
    if (rt_send(c->sink, &out) != 0)
      rt_msg_free(out);
  } else {
    msgpack_sbuffer_destroy(&sb);
  }
}

static void forward_warnings(coord_t *c, const msgpack_object *arr)
{
  for (uint32_t i = 0; i < arr->via.array.size; i++) {
    const msgpack_object *o = &arr->via.array.ptr[i];
    rt_msg_t *m = NULL;
    if (o->type != MSGPACK_OBJECT_STR ||
        rt_msg_new(SCANNER_MSG_WARNING, o->via.str.ptr, o->via.str.size, &m))
      continue;
    c->warnings++;
    if (rt_send(c->sink, &m) != 0)
      rt_msg_free(m);
  }
}

/* Re-pack the findings array alone and send it to the sink. */
static void forward_findings(coord_t *c, const msgpack_object *arr)
{
  if (arr->via.array.size == 0)
    return;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_object(&pk, *arr);
  rt_msg_t *m = NULL;
  if (scanner_msg_from_sbuffer(SCANNER_MSG_FINDINGS, &sb, &m) != 0)
    return;
  c->findings += arr->via.array.size;
  fifo_push(&c->out_head, &c->out_tail, m);
}

/* Send waiting findings batches while the sink has credit. */
static void flush_findings(coord_t *c)
{
  while (c->out_head && c->credits_used < SCANNER_CREDITS) {
    rt_msg_t *m = fifo_pop(&c->out_head, &c->out_tail);
    if (rt_send(c->sink, &m) == 0)
      c->credits_used++;
    else
      rt_msg_free(m); /* the sink is gone: nobody to acknowledge */
  }
}

/* ---- file records (stateful scans) ---- */

static void str_field(msgpack_packer *pk, const char *s)
{
  msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* Queue the records gathered so far as one FILES message; the last one
 * (@p final) carries the scan state unless the scan failed. */
static void queue_files(coord_t *c, bool final)
{
  const scanner_shared_t *sh = c->sh;
  if (!c->nfiles && !final)
    return;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 5);
  str_field(&pk, sh->opts->repo);
  msgpack_pack_int64(&pk, sh->stamp);
  if (sh->incremental)
    msgpack_pack_true(&pk);
  else
    msgpack_pack_false(&pk);
  msgpack_pack_array(&pk, c->nfiles);
  if (c->nfiles)
    msgpack_sbuffer_write(&sb, c->files_sb.data, c->files_sb.size);
  if (final && !c->walk_error) {
    msgpack_pack_array(&pk, 2);
    str_field(&pk, c->head_commit);
    str_field(&pk, sh->settings);
  } else {
    msgpack_pack_nil(&pk);
  }
  c->files_sb.size = 0;
  c->nfiles = 0;
  rt_msg_t *m = NULL;
  if (scanner_msg_from_sbuffer(SCANNER_MSG_FILES, &sb, &m) == 0)
    fifo_push(&c->out_head, &c->out_tail, m);
}

static void add_file_entry(coord_t *c, const msgpack_object *entry)
{
  if (!c->sh->stateful || entry->type != MSGPACK_OBJECT_ARRAY ||
      entry->via.array.size == 0 ||
      entry->via.array.ptr[0].type != MSGPACK_OBJECT_STR)
    return;
  msgpack_pack_object(&c->files_pk, *entry);
  if (++c->nfiles >= FILES_PER_MSG)
    queue_files(c, false);
}

/* Recorded files the walker no longer lists: [path] entries. */
static void on_deleted(coord_t *c, rt_msg_t *msg)
{
  size_t len;
  const void *data = rt_msg_data(msg, &len);
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  if (msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
      u.data.type == MSGPACK_OBJECT_ARRAY) {
    for (uint32_t i = 0; i < u.data.via.array.size; i++) {
      msgpack_object one = {.type = MSGPACK_OBJECT_ARRAY};
      one.via.array.size = 1;
      one.via.array.ptr = &u.data.via.array.ptr[i];
      add_file_entry(c, &one);
    }
  }
  msgpack_unpacked_destroy(&u);
  flush_findings(c);
}

static bool is_result(const msgpack_object *o)
{
  const msgpack_object *a = o->via.array.ptr;
  return o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 7 &&
         a[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
         a[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
         a[2].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
         a[3].type == MSGPACK_OBJECT_ARRAY && a[4].type == MSGPACK_OBJECT_ARRAY &&
         a[5].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
         a[6].type == MSGPACK_OBJECT_ARRAY;
}

static void shard_done(coord_t *c, uint64_t sender)
{
  for (unsigned i = 0; i < c->nshards; i++) {
    if (rt_actor_id(c->shards[i]) == sender && c->inflight[i] > 0) {
      c->inflight[i]--;
      return;
    }
  }
}

static void maybe_finish(coord_t *c);

static void on_result(coord_t *c, rt_msg_t *msg)
{
  size_t len;
  const void *data = rt_msg_data(msg, &len);
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  shard_done(c, rt_msg_sender(msg));
  if (msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
      is_result(&u.data)) {
    const msgpack_object *a = u.data.via.array.ptr;
    c->files += a[0].via.u64;
    c->bytes += a[1].via.u64;
    c->skipped += a[2].via.u64;
    forward_findings(c, &a[3]);
    forward_warnings(c, &a[4]);
    c->blame_pending += (int64_t)a[5].via.u64;
    for (uint32_t i = 0; i < a[6].via.array.size; i++)
      add_file_entry(c, &a[6].via.array.ptr[i]);
  }
  msgpack_unpacked_destroy(&u);
  flush_findings(c);
  deal(c);
  maybe_finish(c);
}

/* A blame job's findings (may come before the result that counted it). */
static void on_blamed(coord_t *c, rt_msg_t *msg)
{
  size_t len;
  const void *data = rt_msg_data(msg, &len);
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  c->blame_pending--;
  if (msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
      u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 2 &&
      u.data.via.array.ptr[0].type == MSGPACK_OBJECT_ARRAY) {
    forward_findings(c, &u.data.via.array.ptr[0]);
    add_file_entry(c, &u.data.via.array.ptr[1]); /* after its findings */
  }
  msgpack_unpacked_destroy(&u);
  flush_findings(c);
  deal(c);
  maybe_finish(c);
}

/* A msgpack string as a C string (its bytes are not NUL-terminated). */
static char *copy_str(const msgpack_object *o)
{
  char *s = malloc(o->via.str.size + 1);
  if (s) {
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
  }
  return s;
}

static void on_walk_done(coord_t *c, rt_msg_t *msg)
{
  size_t len;
  const void *data = rt_msg_data(msg, &len);
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  if (msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
      u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 6) {
    const msgpack_object *a = u.data.via.array.ptr;
    c->listed = a[0].via.u64;
    if (a[3].type == MSGPACK_OBJECT_STR)
      c->walk_error = copy_str(&a[3]);
  }
  if (u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 6 &&
      u.data.via.array.ptr[4].type == MSGPACK_OBJECT_STR &&
      u.data.via.array.ptr[4].via.str.size < sizeof c->head_commit) {
    const msgpack_object *h = &u.data.via.array.ptr[4];
    if (h->via.str.size) /* an empty str may have a NULL ptr */
      memcpy(c->head_commit, h->via.str.ptr, h->via.str.size);
    c->head_commit[h->via.str.size] = '\0';
  }
  msgpack_unpacked_destroy(&u);
  c->walk_done = true;
  maybe_finish(c);
}

static void send_progress(coord_t *c)
{
  proto_msg_t m = {.type = PROTO_SCAN_PROGRESS};
  m.u.scan_progress.repo = (char *)c->sh->opts->repo;
  m.u.scan_progress.files = c->files;
  m.u.scan_progress.bytes = c->bytes;
  m.u.scan_progress.findings = c->findings;
  send_proto(c, &m);
}

/* ---- duplicated blocks, reported once every file has been added ---- */

typedef struct dup_batch {
  coord_t *c;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  uint32_t n;
  scan_occurrences_t occ;
} dup_batch_t;

static json_t *dup_locations(const scan_dup_t *d)
{
  json_t *locs = json_array();
  for (size_t i = 0; i < d->nlocs; i++)
    json_array_append_new(locs, json_pack("{s:s,s:i,s:i}", "path",
                                          d->locs[i].path, "start",
                                          (json_int_t)d->locs[i].start_line,
                                          "end",
                                          (json_int_t)d->locs[i].end_line));
  return locs;
}

/* Key: the other places' paths and the size, not their lines (which move). */
static size_t dup_key(const scan_dup_t *d, char *key, size_t cap)
{
  size_t n = (size_t)snprintf(key, cap, "duplicate:%u", d->lines);
  for (size_t i = 1; i < d->nlocs && n < cap; i++)
    n += (size_t)snprintf(key + n, cap - n, ":%s", d->locs[i].path);
  return n < cap ? n : cap - 1;
}

static int on_dup(void *ud, const scan_dup_t *d)
{
  dup_batch_t *b = ud;
  const scan_dup_loc_t *first = &d->locs[0];
  char key[1024], text[512], fp[SCAN_FP_HEX + 1];
  size_t klen = dup_key(d, key, sizeof key);
  uint32_t occ = scan_occurrence_next(&b->occ, "refactor", key, klen);
  scan_fingerprint(fp, b->c->sh->opts->repo, "refactor", first->path, key,
                   klen, occ);
  snprintf(text, sizeof text, "duplicated block of %u lines (lines %u-%u), "
           "also in %s:%u-%u%s", d->lines, first->start_line, first->end_line,
           d->locs[1].path, d->locs[1].start_line, d->locs[1].end_line,
           d->nlocs > 2 ? " and more" : "");
  proto_msg_t m = {.type = PROTO_FINDING};
  proto_finding_t *f = &m.u.finding;
  f->repo = (char *)b->c->sh->opts->repo;
  f->kind = (char *)"refactor";
  f->loc.path = (char *)first->path;
  f->loc.line = first->start_line;
  f->loc.column = 1;
  f->text = text;
  f->fingerprint = fp;
  f->details = json_pack("{s:o,s:{s:i}}", "locations", dup_locations(d),
                         "metrics", "duplicated_lines", (json_int_t)d->lines);
  msgpack_sbuffer one;
  msgpack_sbuffer_init(&one);
  if (proto_msgpack_encode(&m, &one) == 0) {
    msgpack_pack_bin(&b->pk, one.size);
    msgpack_pack_bin_body(&b->pk, one.data, one.size);
    b->n++;
  }
  msgpack_sbuffer_destroy(&one);
  json_decref(f->details);
  return b->n >= 1000; /* one message stays small: the first 1000 groups */
}

static void report_dupes(coord_t *c)
{
  dup_batch_t b;
  memset(&b, 0, sizeof b);
  b.c = c;
  msgpack_sbuffer_init(&b.sb);
  msgpack_packer_init(&b.pk, &b.sb, msgpack_sbuffer_write);
  /* the array header is written last: groups first into a body buffer */
  pthread_mutex_lock(&c->sh->dupes_lock); /* the shards are idle */
  scan_dupes_t *d = c->sh->dupes;
  c->sh->dupes = NULL;
  pthread_mutex_unlock(&c->sh->dupes_lock);
  scan_dupes_finish(d, on_dup, &b);
  scan_dupes_free(d);
  scan_occurrences_free(&b.occ);
  rt_msg_t *msg = NULL;
  if (b.n && scanner_msg_from_array(SCANNER_MSG_FINDINGS, b.n, &b.sb, &msg) == 0) {
    c->findings += b.n;
    fifo_push(&c->out_head, &c->out_tail, msg);
  }
  msgpack_sbuffer_destroy(&b.sb);
}

static void maybe_finish(coord_t *c)
{
  if (c->finished || !c->walk_done || c->head || c->blame_pending != 0)
    return;
  for (unsigned i = 0; i < c->nshards; i++) {
    if (c->inflight[i])
      return;
  }
  if (c->sh->dupes) {
    report_dupes(c); /* queues one more batch; the shards are idle */
    flush_findings(c);
  }
  if (c->sh->stateful && !c->files_final) {
    c->files_final = true; /* the records, then the state, last */
    queue_files(c, true);
    flush_findings(c);
  }
  if (c->out_head)
    return;
  c->finished = true;
  if (c->timer)
    rt_timer_cancel(c->rt, c->timer);
  proto_msg_t m = {.type = PROTO_SCAN_DONE};
  m.u.scan_done.repo = (char *)c->sh->opts->repo;
  m.u.scan_done.files = c->files;
  m.u.scan_done.findings = c->findings;
  m.u.scan_done.duration_ms = now_ms() - c->started_ms;
  m.u.scan_done.error = c->walk_error;
  send_proto(c, &m);
  for (unsigned i = 0; i < c->nshards; i++)
    rt_actor_stop(c->shards[i]);
}

/* ---- the actor ---- */

scanner_shared_t *scanner__shared_retain(scanner_shared_t *sh)
{
  atomic_fetch_add_explicit(&sh->refs, 1, memory_order_relaxed);
  return sh;
}

void scanner__shared_release(scanner_shared_t *sh)
{
  if (!sh || atomic_fetch_sub_explicit(&sh->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (sh->rootfd >= 0)
    close(sh->rootfd);
  scan_dupes_free(sh->dupes);
  pthread_mutex_destroy(&sh->dupes_lock);
  free(sh);
}

static void shared_init(scanner_shared_t *sh, const scanner_opts_t *caller)
{
  sh->opts_copy = *caller;
  sh->opts = &sh->opts_copy;
  const scanner_opts_t *o = sh->opts;
  /* NULL tags: scan/markers.h's defaults (TODO FIXME HACK XXX BUG OPTIMIZE) */
  sh->markers.tags = o->markers ? (const char **)o->markers : NULL;
  sh->markers.ntags = o->markers ? o->nmarkers : 0;
  sh->markers.flags = o->any_case ? SCAN_MARKER_ANY_CASE : 0;
  sh->thresholds = o->thresholds;
  if (!sh->thresholds.max_function_lines && !sh->thresholds.max_file_lines)
    sh->thresholds = scan_thresholds_default();
  sh->max_file_size = o->max_file_size ? o->max_file_size
                                       : SCANNER_MAX_FILE_DEFAULT;
  sh->rootfd = open(o->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  pthread_mutex_init(&sh->dupes_lock, NULL);
  sh->stateful = o->state && !o->only;
  sh->stamp = wall_ms();
  settings_digest(sh, sh->settings);
  if (sh->stateful) {
    store_scan_state_t st;
    sh->incremental = !o->full &&
                      store_scan_state_get(o->state, o->repo, &st) == 0 &&
                      strcmp(st.settings, sh->settings) == 0;
    if (sh->incremental)
      memcpy(sh->base, st.commit, sizeof sh->base);
  }
  /* Duplicated blocks need every file: not in incremental scans. */
  sh->dupes = o->no_refactor || sh->incremental ? NULL
                                                : scan_dupes_new(NULL);
}

static int spawn_shards(coord_t *c)
{
  unsigned n = c->sh->opts->shards;
  if (!n)
    n = rt_runtime_workers(c->rt);
  if (n > MAX_SHARDS)
    n = MAX_SHARDS;
  for (unsigned i = 0; i < n; i++) {
    int rc = rt_actor_spawn(c->rt, &scanner_shard_type, c->sh, NULL,
                            &c->shards[i]);
    if (rc != 0)
      return rc;
    c->nshards++;
  }
  return 0;
}

static int coord_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  coord_t *c = state;
  const start_arg_t *a = arg;
  c->rt = rt_ctx_runtime(ctx);
  c->self = rt_self(ctx);
  c->sink = rt_actor_retain(a->sink);
  c->started_ms = now_ms();
  if (!(c->sh = calloc(1, sizeof *c->sh))) {
    rt_actor_release(c->sink);
    return RT_ENOMEM;
  }
  atomic_init(&c->sh->refs, 1);
  shared_init(c->sh, a->opts);
  msgpack_sbuffer_init(&c->files_sb);
  msgpack_packer_init(&c->files_pk, &c->files_sb, msgpack_sbuffer_write);
  return 0;
}

static void coord_stop(rt_ctx_t *ctx, void *state)
{
  coord_t *c = state;
  fifo_clear(&c->head, &c->tail);
  fifo_clear(&c->out_head, &c->out_tail);
  for (unsigned i = 0; i < c->nshards; i++) {
    rt_actor_stop(c->shards[i]);
    rt_actor_release(c->shards[i]);
  }
  scanner__shared_release(c->sh); /* shards may still be in a chunk */
  rt_actor_release(c->sink);
  free(c->walk_error);
  msgpack_sbuffer_destroy(&c->files_sb);
}

/* The first message: shards, the walker, the progress timer. */
static void on_begin(coord_t *c)
{
  unsigned every = c->sh->opts->progress_ms;
  int rc = spawn_shards(c);
  if (rc == 0)
    rc = start_walk(c);
  if (rc != 0) {
    c->walk_error = strdup(rt_strerror(rc));
    c->walk_done = true;
    maybe_finish(c);
    return;
  }
  if (every)
    rt_timer_start(c->rt, c->self, SCANNER_MSG__TICK, every, every, &c->timer);
}

static void coord_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  coord_t *c = state;
  switch (rt_msg_type(msg)) {
  case SCANNER_MSG__BEGIN:
    on_begin(c);
    break;
  case SCANNER_MSG__PATHS:
    on_paths(c, msg);
    break;
  case SCANNER_MSG__RESULT:
    on_result(c, msg);
    break;
  case SCANNER_MSG__WALK_DONE:
    on_walk_done(c, msg);
    break;
  case SCANNER_MSG__BLAMED:
    on_blamed(c, msg);
    break;
  case SCANNER_MSG__DELETED:
    on_deleted(c, msg);
    break;
  case SCANNER_MSG_ACK:
    if (c->credits_used)
      c->credits_used--;
    flush_findings(c);
    deal(c);
    maybe_finish(c);
    break;
  case SCANNER_MSG__TICK:
    if (!c->finished)
      send_progress(c);
    break;
  default:
    break;
  }
  if (c->finished)
    rt_stop_self(ctx);
}

static const rt_actor_type_t coord_type = {
    .name = "scanner",
    .state_size = sizeof(coord_t),
    .on_start = coord_start,
    .on_msg = coord_msg,
    .on_stop = coord_stop,
};

int scanner_start(rt_runtime_t *rt, const scanner_opts_t *opts,
                  rt_actor_t *sink)
{
  start_arg_t arg = {opts, sink};
  rt_actor_t *a = NULL;
  rt_msg_t *begin = NULL;
  /* on_start copies what it needs from arg: no restarts are configured. */
  int rc = rt_actor_spawn(rt, &coord_type, &arg, NULL, &a);
  if (rc != 0)
    return rc;
  rc = rt_msg_new(SCANNER_MSG__BEGIN, NULL, 0, &begin);
  if (rc == 0 && (rc = rt_send(a, &begin)) != 0)
    rt_msg_free(begin);
  if (rc != 0)
    rt_actor_stop(a);
  rt_actor_release(a);
  return rc;
}
