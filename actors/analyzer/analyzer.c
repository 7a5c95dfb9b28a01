/*
 * analyzer.c: see analyzer.h.
 *
 * Bookkeeping: every store write is an rt_request whose corr is recorded
 * in a small open-addressing table with the batch it belongs to; a batch
 * is acknowledged to its scanner when its last write is acknowledged (or
 * timed out: counted as failed). A SCAN_DONE waits until no write is
 * outstanding, because the resolve pass reads last_seen from the store
 * and must see every update of the scan committed.
 */
#include "actors/analyzer/analyzer.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/scanner/scanner.h"
#include "protocol/proto.h"
#include "runtime/msg.h"
#include "scan/rank.h"
#include "store/store_actor.h"

#define WRITE_TIMEOUT_MS 60000
#define MAX_BATCHES 64

typedef struct batch {
  uint64_t scanner;     /* actor to acknowledge; 0 = a resolve pass */
  uint32_t outstanding;
  bool used;
} batch_t;

typedef struct pend {
  uint64_t corr; /* 0 = empty slot */
  uint32_t batch;
} pend_t;

/* A scan in progress: when its first findings arrived. Tasks it sees get
 * a last_seen at or after that time; those of earlier scans of the same
 * repository have one before it (scans of one repository do not overlap).
 * An incremental scan (its FILES messages say so) read only some files:
 * stamp is the scanned_at of the records it wrote. */
#define MAX_OPEN_SCANS 32
typedef struct open_scan {
  char repo[128];
  int64_t started;
  bool incremental;
  int64_t stamp;
} open_scan_t;

typedef struct done_wait {
  struct done_wait *next;
  rt_msg_t *msg;  /* the SCAN_DONE, kept */
  open_scan_t scan; /* started: tasks last seen before were not seen */
} done_wait_t;

typedef struct analyzer {
  const analyzer_opts_t *o;
  /* The actors it sends to, held from start to stop: a daemon stopping
   * releases its handles while a scan may still finish here, and a send
   * to a stopped actor must find its memory (rt_send refuses it). */
  rt_actor_t *store_actor, *done_to;
  rt_ctx_t *ctx;
  batch_t batches[MAX_BATCHES];
  pend_t *pend;
  size_t pend_cap, pend_len;
  uint64_t outstanding;
  done_wait_t *dones, *dones_tail;
  analyzer_summary_t sum; /* of the scan being finished */
  rt_msg_t *resolving;    /* the SCAN_DONE whose resolve pass runs */
  open_scan_t open[MAX_OPEN_SCANS];
  int64_t clock; /* the last time stamp handed out (stamp_now) */
} analyzer_t;

static int64_t wall_ms(void);

/* Time stamps of task writes: the wall clock in ms, never going back. */
static int64_t stamp_now(analyzer_t *a)
{
  int64_t t = wall_ms();
  if (t < a->clock)
    t = a->clock;
  return a->clock = t;
}

/* A scan's start: strictly after every stamp handed out before, so a task
 * an earlier scan saw in the same millisecond still counts as not seen by
 * this one (the resolve pass compares last_seen with it). */
static int64_t scan_start_stamp(analyzer_t *a)
{
  int64_t t = wall_ms();
  if (t <= a->clock)
    t = a->clock + 1;
  return a->clock = t;
}

static open_scan_t *note_scan(analyzer_t *a, const char *repo)
{
  int free_slot = -1;
  for (int i = 0; i < MAX_OPEN_SCANS; i++) {
    if (a->open[i].repo[0] && !strcmp(a->open[i].repo, repo))
      return &a->open[i];
    if (!a->open[i].repo[0] && free_slot < 0)
      free_slot = i;
  }
  if (free_slot < 0)
    return NULL;
  open_scan_t *o = &a->open[free_slot];
  memset(o, 0, sizeof *o);
  snprintf(o->repo, sizeof o->repo, "%s", repo);
  o->started = scan_start_stamp(a);
  return o;
}

/* The scan of @p repo (and forget it); started = @p now if unknown. */
static open_scan_t close_scan(analyzer_t *a, const char *repo, int64_t now)
{
  open_scan_t o = {.started = now};
  for (int i = 0; i < MAX_OPEN_SCANS; i++) {
    if (a->open[i].repo[0] && !strcmp(a->open[i].repo, repo)) {
      o = a->open[i];
      a->open[i].repo[0] = '\0';
      break;
    }
  }
  return o;
}

static int64_t wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- corr -> batch ---- */

static size_t slot_of(uint64_t corr, size_t cap)
{
  return (size_t)(corr * 0x9E3779B97F4A7C15ull) & (cap - 1);
}

static int pend_grow(analyzer_t *a)
{
  size_t cap = a->pend_cap ? a->pend_cap * 2 : 256;
  pend_t *t = calloc(cap, sizeof *t);
  if (!t)
    return -1;
  for (size_t i = 0; i < a->pend_cap; i++) {
    if (!a->pend[i].corr)
      continue;
    size_t j = slot_of(a->pend[i].corr, cap);
    while (t[j].corr)
      j = (j + 1) & (cap - 1);
    t[j] = a->pend[i];
  }
  free(a->pend);
  a->pend = t;
  a->pend_cap = cap;
  return 0;
}

static int pend_put(analyzer_t *a, uint64_t corr, uint32_t batch)
{
  if ((a->pend_len + 1) * 2 > a->pend_cap && pend_grow(a) != 0)
    return -1;
  size_t j = slot_of(corr, a->pend_cap);
  while (a->pend[j].corr)
    j = (j + 1) & (a->pend_cap - 1);
  a->pend[j].corr = corr;
  a->pend[j].batch = batch;
  a->pend_len++;
  return 0;
}

/* Remove @p corr; returns its batch or -1. Backward-shift deletion. */
static int pend_take(analyzer_t *a, uint64_t corr)
{
  if (!a->pend_cap)
    return -1;
  size_t mask = a->pend_cap - 1, j = slot_of(corr, a->pend_cap);
  while (a->pend[j].corr && a->pend[j].corr != corr)
    j = (j + 1) & mask;
  if (!a->pend[j].corr)
    return -1;
  int batch = (int)a->pend[j].batch;
  a->pend[j].corr = 0;
  a->pend_len--;
  for (size_t k = (j + 1) & mask; a->pend[k].corr; k = (k + 1) & mask) {
    pend_t e = a->pend[k];
    a->pend[k].corr = 0;
    size_t h = slot_of(e.corr, a->pend_cap);
    while (a->pend[h].corr)
      h = (h + 1) & mask;
    a->pend[h] = e;
  }
  return batch;
}

/* ---- writes ---- */

static int new_batch(analyzer_t *a, uint64_t scanner)
{
  for (int i = 0; i < MAX_BATCHES; i++) {
    if (!a->batches[i].used) {
      a->batches[i] = (batch_t){scanner, 0, true};
      return i;
    }
  }
  return -1;
}

/* Encode @p m and send it to the store actor as part of batch @p b. */
static void write_msg(analyzer_t *a, int b, const proto_msg_t *m)
{
  msgpack_sbuffer sb;
  rt_msg_t *req = NULL;
  uint64_t corr = 0;
  msgpack_sbuffer_init(&sb);
  if (proto_msgpack_encode(m, &sb) != 0 ||
      rt_msg_new_take(STORE_MSG_WRITE, sb.data, sb.size, &req) != 0) {
    msgpack_sbuffer_destroy(&sb);
    a->sum.failed_writes++;
    return;
  }
  if (rt_request(a->ctx, a->store_actor, &req, WRITE_TIMEOUT_MS, &corr) != 0) {
    rt_msg_free(req);
    a->sum.failed_writes++;
    return;
  }
  pend_put(a, corr, (uint32_t)b);
  a->batches[b].outstanding++;
  a->outstanding++;
}

/* A "tasks" event for the control plane (the task as REST shows it). */
static void write_task_event(analyzer_t *a, int b, const proto_msg_t *task,
                             int64_t now)
{
  proto_msg_t e = {.type = PROTO_EVENT};
  e.u.event.seq = 1; /* assigned by the store */
  e.u.event.topic = (char *)"tasks";
  e.u.event.ts = now;
  e.u.event.data = proto_json_encode(task);
  if (e.u.event.data)
    write_msg(a, b, &e);
  json_decref(e.u.event.data);
}

static char *title_of(const proto_finding_t *f)
{
  const char *text = f->text ? f->text : "";
  size_t n = strcspn(text, "\n");
  if (n > 120)
    n = 120;
  char *t = malloc(n + 64);
  if (t)
    snprintf(t, n + 64, "%s%s%.*s", f->tag ? f->tag : f->kind, n ? ": " : "",
             (int)n, text);
  return t;
}

/* Kinds the scanner looks for (GitHub issues come from elsewhere). */
static bool scanned_kind(const char *kind)
{
  return strcmp(kind, "issue") != 0 && strcmp(kind, "stale-issue") != 0;
}

static json_t *nullable(const char *s)
{
  return s ? json_string(s) : json_null();
}

/* What this scan saw of the finding: the store COMMAND "seen" args
 * (store.h), the fields of a task the analyzer owns. A marker's due date
 * (TODO(2025-03-30)) becomes the task's `due:` label, which the
 * prioritizer reads; a scanned finding without one drops the label. */
static json_t *seen_of(const proto_finding_t *f, int64_t now)
{
  char why[160];
  const char *due = json_string_value(
      f->details ? json_object_get(f->details, "due") : NULL);
  double total = scan_default_score(f->kind, due, f->issue_ref != 0, NULL,
                                    why, sizeof why);
  json_t *seen = json_pack(
      "{s:s,s:I,s:o,s:o,s:o,s:o,s:I,s:I,s:I,s:I,s:{s:f,s:s}}", "task",
      f->fingerprint, "at", (json_int_t)now, "path", nullable(f->loc.path),
      "symbol", nullable(f->loc.symbol), "text", nullable(f->text), "author",
      nullable(f->author), "line", (json_int_t)f->loc.line, "column",
      (json_int_t)f->loc.column, "authored_at", (json_int_t)f->authored_at,
      "issue_number", (json_int_t)f->issue_ref, "score", "total", total,
      "why", why);
  if (seen && scanned_kind(f->kind))
    json_object_set_new(seen, "due", nullable(due));
  return seen;
}

static void new_task_of(proto_task_t *t, const proto_finding_t *f,
                        int64_t now)
{
  memset(t, 0, sizeof *t);
  t->id = strdup(f->fingerprint);
  t->repo = strdup(f->repo);
  t->kind = strdup(f->kind);
  t->title = title_of(f);
  t->state = PROTO_STATE_NEW;
  t->first_seen = now;
}

/* What the control plane shows of a task that a sighting may change. */
typedef struct task_view {
  uint32_t line;
  proto_state_t state;
  char *text, *due; /* copies; due: the `due:` label or NULL */
} task_view_t;

static task_view_t view_of(const proto_task_t *t)
{
  task_view_t v = {t->loc.line, t->state, t->text ? strdup(t->text) : NULL,
                   NULL};
  for (uint32_t i = 0; i < t->labels.len && !v.due; i++)
    if (t->labels.items[i] && !strncmp(t->labels.items[i], "due:", 4))
      v.due = strdup(t->labels.items[i]);
  return v;
}

static bool same_str(const char *x, const char *y)
{
  return !strcmp(x ? x : "", y ? y : "");
}

/* Compares and frees both. */
static bool views_differ(task_view_t *x, task_view_t *y)
{
  bool differ = x->line != y->line || x->state != y->state ||
                !same_str(x->text, y->text) || !same_str(x->due, y->due);
  free(x->text), free(x->due), free(y->text), free(y->due);
  return differ;
}

/* A known task: a "seen" COMMAND, merged with the task as stored when the
 * store writes it (a score, labels or state written since our read are
 * kept). A new one: the task itself. The event shows our merge. */
static void analyze_one(analyzer_t *a, int b, const proto_finding_t *f,
                        int64_t now)
{
  proto_msg_t m = {.type = PROTO_TASK};
  proto_task_t *t = &m.u.task;
  json_t *seen = seen_of(f, now);
  if (!seen) {
    a->sum.failed_writes++;
    return;
  }
  bool changed = true;
  if (store_task_get(a->o->store, f->fingerprint, t) == 0) {
    task_view_t before = view_of(t);
    store_task_merge_seen(t, seen);
    task_view_t after = view_of(t);
    if (before.state == PROTO_STATE_RESOLVED)
      a->sum.reopened++;
    else
      a->sum.updated++;
    changed = views_differ(&before, &after);
    proto_msg_t cmd = {.type = PROTO_COMMAND};
    cmd.u.command.action = (char *)"seen";
    cmd.u.command.args = seen;
    write_msg(a, b, &cmd);
  } else {
    new_task_of(t, f, now);
    store_task_merge_seen(t, seen);
    a->sum.created++;
    write_msg(a, b, &m);
  }
  if (changed) /* a rescan that changes nothing says nothing */
    write_task_event(a, b, &m, now);
  json_decref(seen);
  proto_msg_fini(&m);
}

static void ack_scanner(analyzer_t *a, uint64_t scanner)
{
  rt_msg_t *ack = NULL;
  if (scanner && rt_msg_new(SCANNER_MSG_ACK, NULL, 0, &ack) == 0 &&
      rt_send_id(rt_ctx_runtime(a->ctx), scanner, &ack) != 0)
    rt_msg_free(ack);
}

static void analyze_batch(analyzer_t *a, int b, const void *data, size_t len)
{
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  if (msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
      u.data.type == MSGPACK_OBJECT_ARRAY) {
    for (uint32_t i = 0; i < u.data.via.array.size; i++) {
      const msgpack_object *o = &u.data.via.array.ptr[i];
      proto_msg_t f;
      if (o->type != MSGPACK_OBJECT_BIN ||
          proto_msgpack_decode(o->via.bin.ptr, o->via.bin.size, &f, NULL, 0))
        continue;
      if (f.type == PROTO_FINDING) {
        note_scan(a, f.u.finding.repo);
        analyze_one(a, b, &f.u.finding, stamp_now(a));
      }
      proto_msg_fini(&f);
    }
  }
  msgpack_unpacked_destroy(&u);
}

/* ---- file records (scans with a state store) ---- */

static json_t *put_entry(const msgpack_object *e, int64_t stamp)
{
  const msgpack_object *f = e->via.array.ptr;
  json_t *blame = f[5].type == MSGPACK_OBJECT_STR
                      ? json_loadb(f[5].via.str.ptr, f[5].via.str.size, 0, NULL)
                      : NULL;
  return json_pack("[s#,I,I,I,I,s#,o]", f[0].via.str.ptr,
                   (int)f[0].via.str.size, (json_int_t)f[1].via.u64,
                   (json_int_t)f[2].via.i64, (json_int_t)stamp,
                   (json_int_t)f[3].via.u64, f[4].via.str.ptr,
                   (int)f[4].via.str.size, blame ? blame : json_null());
}

static bool entry_ok(const msgpack_object *e, uint32_t size)
{
  const msgpack_object *f = e->via.array.ptr;
  if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != size ||
      f[0].type != MSGPACK_OBJECT_STR)
    return false;
  return size == 1 ||
         (f[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
          (f[2].type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
           f[2].type == MSGPACK_OBJECT_NEGATIVE_INTEGER) &&
          f[3].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
          f[4].type == MSGPACK_OBJECT_STR);
}

/* [repo, stamp, incremental, [entry...], state|nil] (scanner.h) as the
 * store actor's "scan_files" args; NULL when it is not that. */
static json_t *files_args(const msgpack_object *o, open_scan_t *scan_out)
{
  const msgpack_object *a = o->via.array.ptr;
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 5 ||
      a[0].type != MSGPACK_OBJECT_STR || a[0].via.str.size >= 128 ||
      a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
      a[2].type != MSGPACK_OBJECT_BOOLEAN || a[3].type != MSGPACK_OBJECT_ARRAY)
    return NULL;
  int64_t stamp = (int64_t)a[1].via.u64;
  json_t *put = json_array(), *del = json_array();
  for (uint32_t i = 0; i < a[3].via.array.size; i++) {
    const msgpack_object *e = &a[3].via.array.ptr[i];
    if (entry_ok(e, 6))
      json_array_append_new(put, put_entry(e, stamp));
    else if (entry_ok(e, 1))
      json_array_append_new(del, json_stringn(e->via.array.ptr[0].via.str.ptr,
                                              e->via.array.ptr[0].via.str.size));
  }
  json_t *args = json_pack("{s:s#,s:o,s:o}", "repo", a[0].via.str.ptr,
                           (int)a[0].via.str.size, "put", put, "del", del);
  const msgpack_object *st = &a[4];
  if (args && st->type == MSGPACK_OBJECT_ARRAY && st->via.array.size == 2 &&
      st->via.array.ptr[0].type == MSGPACK_OBJECT_STR &&
      st->via.array.ptr[1].type == MSGPACK_OBJECT_STR)
    json_object_set_new(args, "state",
                        json_pack("{s:s#,s:s#,s:I}", "commit",
                                  st->via.array.ptr[0].via.str.ptr,
                                  (int)st->via.array.ptr[0].via.str.size,
                                  "settings", st->via.array.ptr[1].via.str.ptr,
                                  (int)st->via.array.ptr[1].via.str.size,
                                  "at", (json_int_t)stamp));
  memset(scan_out, 0, sizeof *scan_out);
  memcpy(scan_out->repo, a[0].via.str.ptr, a[0].via.str.size);
  scan_out->incremental = a[2].via.boolean;
  scan_out->stamp = stamp;
  return args;
}

/* Write a FILES message's records as one store write of its own batch;
 * the scanner is acknowledged when it is durable. */
static void on_files(analyzer_t *a, rt_msg_t *msg)
{
  size_t len;
  const void *data = rt_msg_data(msg, &len);
  uint64_t scanner = rt_msg_sender(msg);
  msgpack_unpacked u;
  open_scan_t info;
  json_t *args = NULL;
  msgpack_unpacked_init(&u);
  if (msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS)
    args = files_args(&u.data, &info);
  msgpack_unpacked_destroy(&u);
  int b = args ? new_batch(a, scanner) : -1;
  if (b >= 0) {
    open_scan_t *o = note_scan(a, info.repo);
    if (o) {
      o->incremental = info.incremental;
      o->stamp = info.stamp;
    }
    proto_msg_t m = {.type = PROTO_COMMAND};
    m.u.command.action = (char *)"scan_files";
    m.u.command.args = args;
    write_msg(a, b, &m);
  } else {
    a->sum.failed_writes++;
  }
  json_decref(args);
  if (b < 0 || a->batches[b].outstanding == 0) {
    if (b >= 0)
      a->batches[b].used = false;
    ack_scanner(a, scanner);
  }
}

static void on_findings(analyzer_t *a, rt_msg_t *msg)
{
  size_t len;
  const void *data = rt_msg_data(msg, &len);
  uint64_t scanner = rt_msg_sender(msg);
  int b = new_batch(a, scanner);
  if (b < 0) {
    /* more batches in flight than scanners may send: never expected;
     * the findings come back with the next scan */
    a->sum.failed_writes++;
    ack_scanner(a, scanner);
    return;
  }
  analyze_batch(a, b, data, len);
  if (a->batches[b].outstanding == 0) {
    a->batches[b].used = false;
    ack_scanner(a, scanner);
  }
}

/* ---- the resolve pass ---- */

typedef struct resolve_scan {
  const char *repo;
  open_scan_t scan;
  char **ids;
  size_t n, cap;
  analyzer_t *a;
} resolve_scan_t;

/* A duplicated-block task (its text is the scanner's, actors/scanner):
 * only full scans look for those. */
static bool is_duplicate(const proto_task_t *t)
{
  static const char prefix[] = "duplicated block of ";
  return !strcmp(t->kind, "refactor") && t->text &&
         !strncmp(t->text, prefix, sizeof prefix - 1);
}

/* Incremental scans: was the task's file read by this scan, or is it
 * gone? (Otherwise it was unchanged: its tasks stand.) */
static bool file_was_rescanned(const resolve_scan_t *r, const proto_task_t *t)
{
  store_file_t rec;
  if (!t->loc.path)
    return true;
  int rc = store_file_get(r->a->o->store, r->repo, t->loc.path, &rec);
  bool read = rc != 0 || rec.scanned_at == r->scan.stamp;
  store_file_fini(&rec);
  return read;
}

static int collect_stale(const proto_task_t *t, void *arg)
{
  resolve_scan_t *r = arg;
  if (!scanned_kind(t->kind) || t->last_seen >= r->scan.started ||
      t->state == PROTO_STATE_RESOLVED ||
      !proto_state_transition_ok(t->state, PROTO_STATE_RESOLVED))
    return 0;
  if (r->scan.incremental && (is_duplicate(t) || !file_was_rescanned(r, t)))
    return 0;
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    char **v = realloc(r->ids, cap * sizeof *v);
    if (!v)
      return 1;
    r->ids = v;
    r->cap = cap;
  }
  r->ids[r->n] = strdup(t->id);
  if (r->ids[r->n])
    r->n++;
  return 0;
}

static void finish_done(analyzer_t *a);

/* Runs when no write is outstanding: read the store, resolve what the
 * scan did not see, then report. */
static void start_resolve(analyzer_t *a, rt_msg_t *done,
                          const open_scan_t *scan)
{
  size_t len;
  const void *data = rt_msg_data(done, &len);
  proto_msg_t d;
  a->resolving = done;
  if (proto_msgpack_decode(data, len, &d, NULL, 0) != 0) {
    finish_done(a);
    return;
  }
  snprintf(a->sum.repo, sizeof a->sum.repo, "%s", d.u.scan_done.repo);
  if (!d.u.scan_done.error) {
    resolve_scan_t r = {.repo = d.u.scan_done.repo, .scan = *scan, .a = a};
    store_filter_t f = {.state = -1, .repo = d.u.scan_done.repo};
    store_task_foreach(a->o->store, &f, collect_stale, &r);
    int b = r.n ? new_batch(a, 0) : -1;
    for (size_t i = 0; i < r.n; i++) {
      proto_msg_t m = {.type = PROTO_TASK_UPDATE};
      proto_task_t cur;
      if (b >= 0 && store_task_get(a->o->store, r.ids[i], &cur) == 0) {
        m.u.task_update.task_id = r.ids[i];
        m.u.task_update.from = cur.state;
        m.u.task_update.to = PROTO_STATE_RESOLVED;
        m.u.task_update.reason = (char *)"finding gone";
        m.u.task_update.actor = (char *)"analyzer";
        m.u.task_update.at = stamp_now(a);
        write_msg(a, b, &m);
        a->sum.resolved++;
        proto_msg_t tm = {.type = PROTO_TASK};
        tm.u.task = cur;
        tm.u.task.state = PROTO_STATE_RESOLVED;
        write_task_event(a, b, &tm, m.u.task_update.at);
        store_task_free(&cur);
      }
      free(r.ids[i]);
    }
    free(r.ids);
    if (b >= 0 && a->batches[b].outstanding == 0)
      a->batches[b].used = false;
  }
  proto_msg_fini(&d);
  if (a->outstanding == 0)
    finish_done(a);
}

static void send_to_listener(analyzer_t *a, rt_msg_t **m)
{
  if (!a->done_to || rt_send(a->done_to, m) != 0)
    rt_msg_free(*m);
  *m = NULL;
}

static void finish_done(analyzer_t *a)
{
  rt_msg_t *sum = NULL;
  if (rt_msg_new(ANALYZER_MSG_SUMMARY, &a->sum, sizeof a->sum, &sum) == 0)
    send_to_listener(a, &sum);
  send_to_listener(a, &a->resolving);
  memset(&a->sum, 0, sizeof a->sum);
}

static void run_waiting_dones(analyzer_t *a)
{
  while (!a->resolving && a->outstanding == 0 && a->dones) {
    done_wait_t *w = a->dones;
    a->dones = w->next;
    if (!a->dones)
      a->dones_tail = NULL;
    rt_msg_t *m = w->msg;
    open_scan_t scan = w->scan;
    free(w);
    start_resolve(a, m, &scan);
  }
}

static void on_done(analyzer_t *a, rt_msg_t *msg)
{
  size_t len;
  void *data = rt_msg_take_payload(msg, &len);
  rt_msg_t *kept = NULL;
  done_wait_t *w = malloc(sizeof *w);
  if (!data || !w || rt_msg_new_take(PROTO_SCAN_DONE, data, len, &kept) != 0) {
    free(w);
    return;
  }
  w->next = NULL;
  w->msg = kept;
  memset(&w->scan, 0, sizeof w->scan);
  w->scan.started = scan_start_stamp(a);
  proto_msg_t d;
  const void *bytes = rt_msg_data(kept, &len);
  if (proto_msgpack_decode(bytes, len, &d, NULL, 0) == 0) {
    w->scan = close_scan(a, d.u.scan_done.repo, w->scan.started);
    proto_msg_fini(&d);
  }
  if (a->dones_tail)
    a->dones_tail->next = w;
  else
    a->dones = w;
  a->dones_tail = w;
  run_waiting_dones(a);
}

/* A store acknowledgement (or its timeout). */
static void on_write_reply(analyzer_t *a, rt_msg_t *msg, bool timed_out)
{
  int b = pend_take(a, rt_msg_corr(msg));
  if (b < 0)
    return;
  if (timed_out)
    a->sum.failed_writes++;
  a->outstanding--;
  batch_t *bt = &a->batches[b];
  if (--bt->outstanding == 0) {
    bt->used = false;
    ack_scanner(a, bt->scanner);
  }
  if (a->resolving && a->outstanding == 0)
    finish_done(a);
  run_waiting_dones(a);
}

/* Warnings and progress go on to the listener (`ccm scan --data` shows
 * them), as they came. */
static void forward_copy(analyzer_t *a, const rt_msg_t *msg)
{
  size_t len;
  const void *data = rt_msg_data(msg, &len);
  rt_msg_t *m = NULL;
  if (a->done_to && rt_msg_new(rt_msg_type(msg), data, len, &m) == 0)
    send_to_listener(a, &m);
}

/* ---- the actor ---- */

static int an_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  analyzer_t *a = state;
  a->o = arg;
  a->store_actor = a->o->store_actor ? rt_actor_retain(a->o->store_actor) : NULL;
  a->done_to = a->o->done_to ? rt_actor_retain(a->o->done_to) : NULL;
  return 0;
}

static void an_stop(rt_ctx_t *ctx, void *state)
{
  analyzer_t *a = state;
  while (a->dones) {
    done_wait_t *w = a->dones;
    a->dones = w->next;
    rt_msg_free(w->msg);
    free(w);
  }
  rt_msg_free(a->resolving);
  free(a->pend);
  rt_actor_release(a->store_actor);
  rt_actor_release(a->done_to);
}

static void an_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  analyzer_t *a = state;
  a->ctx = ctx;
  switch (rt_msg_type(msg)) {
  case SCANNER_MSG_FINDINGS:
    on_findings(a, msg);
    break;
  case SCANNER_MSG_FILES:
    on_files(a, msg);
    break;
  case PROTO_SCAN_DONE:
    on_done(a, msg);
    break;
  case STORE_MSG_ACK:
    on_write_reply(a, msg, false);
    break;
  case RT_MSG_TIMEOUT:
    on_write_reply(a, msg, true);
    break;
  case SCANNER_MSG_WARNING:
  case PROTO_SCAN_PROGRESS:
    forward_copy(a, msg);
    break;
  default:
    break;
  }
}

static const rt_actor_type_t analyzer_type = {
    .name = "analyzer",
    .state_size = sizeof(analyzer_t),
    .on_start = an_start,
    .on_msg = an_msg,
    .on_stop = an_stop,
};

int analyzer_spawn(rt_runtime_t *rt, const analyzer_opts_t *opts,
                   rt_actor_t **out)
{
  rt_spawn_opts_t so = {.name = "analyzer"};
  return rt_actor_spawn(rt, &analyzer_type, opts, &so, out);
}
