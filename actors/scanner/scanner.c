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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actors/scanner/scanner_int.h"
#include "protocol/proto.h"
#include "runtime/io.h"
#include "runtime/rt.h"
#include "runtime/timer.h"
#include "scan/fingerprint.h"
#include "scan/walk.h"

#define SHARD_DEPTH 2
#define MAX_SHARDS 64

typedef struct chunk {
  struct chunk *next;
  rt_msg_t *msg; /* a __WORK message, ready to send */
} chunk_t;

typedef struct coord {
  rt_runtime_t *rt;
  rt_actor_t *self;
  rt_actor_t *sink;
  scanner_shared_t shared;
  rt_actor_t *shards[MAX_SHARDS];
  unsigned inflight[MAX_SHARDS];
  unsigned nshards;
  chunk_t *head, *tail;       /* paths not dealt yet */
  chunk_t *out_head, *out_tail; /* findings batches waiting for a credit */
  unsigned credits_used;
  bool walk_done, finished;
  char *walk_error;
  uint64_t listed, files, bytes, skipped, findings, warnings;
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

/* ---- the walker: a blocking job ---- */

typedef struct walk_job {
  scanner_opts_t opts;   /* copy of the pointers; the strings are the caller's */
  rt_runtime_t *rt;
  rt_actor_t *coord;     /* a reference, released by the job */
  msgpack_sbuffer sb;
  msgpack_packer pk;
  const char *batch[SCANNER_CHUNK_PATHS];
  size_t lens[SCANNER_CHUNK_PATHS];
  char *store;           /* the batch's path bytes */
  size_t store_len, store_cap;
  unsigned n;
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

static void flush_paths(walk_job_t *j)
{
  if (j->n == 0)
    return;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, j->n);
  size_t off = 0;
  for (unsigned i = 0; i < j->n; i++) {
    msgpack_pack_str_with_body(&pk, j->store + off, j->lens[i]);
    off += j->lens[i];
  }
  j->n = 0;
  j->store_len = 0;
  rt_msg_t *m = NULL;
  if (scanner_msg_from_sbuffer(SCANNER_MSG__PATHS, &sb, &m) == 0)
    send_blocking(j, m);
}

static int on_path(void *ud, const char *path, size_t len)
{
  walk_job_t *j = ud;
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
  j->lens[j->n++] = len;
  if (j->n == SCANNER_CHUNK_PATHS)
    flush_paths(j);
  return 0;
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
  int rc = scan_walk(&cfg, on_path, j, &st, err, sizeof err);
  flush_paths(j);

  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 4);
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
  j->opts = *c->shared.opts;
  j->rt = c->rt;
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

static bool is_result(const msgpack_object *o)
{
  const msgpack_object *a = o->via.array.ptr;
  return o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 6 &&
         a[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
         a[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
         a[2].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
         a[3].type == MSGPACK_OBJECT_ARRAY && a[4].type == MSGPACK_OBJECT_ARRAY &&
         a[5].type == MSGPACK_OBJECT_POSITIVE_INTEGER;
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
      u.data.type == MSGPACK_OBJECT_ARRAY)
    forward_findings(c, &u.data);
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
      u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 4) {
    const msgpack_object *a = u.data.via.array.ptr;
    c->listed = a[0].via.u64;
    if (a[3].type == MSGPACK_OBJECT_STR)
      c->walk_error = copy_str(&a[3]);
  }
  msgpack_unpacked_destroy(&u);
  c->walk_done = true;
  maybe_finish(c);
}

static void send_progress(coord_t *c)
{
  proto_msg_t m = {.type = PROTO_SCAN_PROGRESS};
  m.u.scan_progress.repo = (char *)c->shared.opts->repo;
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
  scan_fingerprint(fp, b->c->shared.opts->repo, "refactor", first->path, key,
                   klen, occ);
  snprintf(text, sizeof text, "duplicated block of %u lines (lines %u-%u), "
           "also in %s:%u-%u%s", d->lines, first->start_line, first->end_line,
           d->locs[1].path, d->locs[1].start_line, d->locs[1].end_line,
           d->nlocs > 2 ? " and more" : "");
  proto_msg_t m = {.type = PROTO_FINDING};
  proto_finding_t *f = &m.u.finding;
  f->repo = (char *)b->c->shared.opts->repo;
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
  scan_dupes_finish(c->shared.dupes, on_dup, &b);
  scan_dupes_free(c->shared.dupes);
  c->shared.dupes = NULL;
  scan_occurrences_free(&b.occ);
  if (b.n) {
    msgpack_sbuffer all;
    msgpack_packer pk;
    msgpack_sbuffer_init(&all);
    msgpack_packer_init(&pk, &all, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, b.n);
    msgpack_sbuffer_write(&all, b.sb.data, b.sb.size);
    rt_msg_t *msg = NULL;
    if (scanner_msg_from_sbuffer(SCANNER_MSG_FINDINGS, &all, &msg) == 0) {
      c->findings += b.n;
      fifo_push(&c->out_head, &c->out_tail, msg);
    }
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
  if (c->shared.dupes) {
    report_dupes(c); /* queues one more batch; the shards are idle */
    flush_findings(c);
  }
  if (c->out_head)
    return;
  c->finished = true;
  if (c->timer)
    rt_timer_cancel(c->rt, c->timer);
  proto_msg_t m = {.type = PROTO_SCAN_DONE};
  m.u.scan_done.repo = (char *)c->shared.opts->repo;
  m.u.scan_done.files = c->files;
  m.u.scan_done.findings = c->findings;
  m.u.scan_done.duration_ms = now_ms() - c->started_ms;
  m.u.scan_done.error = c->walk_error;
  send_proto(c, &m);
  for (unsigned i = 0; i < c->nshards; i++)
    rt_actor_stop(c->shards[i]);
}

/* ---- the actor ---- */

static void shared_init(scanner_shared_t *sh, const scanner_opts_t *o)
{
  sh->opts = o;
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
  sh->dupes = o->no_refactor ? NULL : scan_dupes_new(NULL);
}

static int spawn_shards(coord_t *c)
{
  unsigned n = c->shared.opts->shards;
  if (!n)
    n = rt_runtime_workers(c->rt);
  if (n > MAX_SHARDS)
    n = MAX_SHARDS;
  for (unsigned i = 0; i < n; i++) {
    int rc = rt_actor_spawn(c->rt, &scanner_shard_type, &c->shared, NULL,
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
  shared_init(&c->shared, a->opts);
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
  if (c->shared.rootfd >= 0)
    close(c->shared.rootfd);
  scan_dupes_free(c->shared.dupes);
  pthread_mutex_destroy(&c->shared.dupes_lock);
  rt_actor_release(c->sink);
  free(c->walk_error);
}

/* The first message: shards, the walker, the progress timer. */
static void on_begin(coord_t *c)
{
  unsigned every = c->shared.opts->progress_ms;
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
