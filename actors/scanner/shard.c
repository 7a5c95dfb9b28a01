/*
 * shard.c: a scanner shard: reads the files of one chunk and turns what
 * scan/ finds in them into encoded FINDING messages.
 *
 * One shard per worker, each with its own buffers (file contents, the
 * blanked copy for the metrics, per-file occurrence counts), so shards
 * share nothing but the read-only scanner_shared_t. A chunk's findings go
 * back to the coordinator in one __RESULT message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/scanner/scanner_int.h"
#include "protocol/proto.h"
#include "runtime/io.h"
#include "scan/blame.h"
#include "scan/changes.h"
#include "scan/file.h"
#include "scan/fingerprint.h"
#include "scan/lang.h"
#include "scan/lexer.h"

typedef struct shard {
  scanner_shared_t *sh; /* a reference of this shard's */
  scan_buf_t file;
  char *blank;
  size_t blank_cap;
  scan_occurrences_t occ;
  scan_dupes_prep_t *dupes_prep; /* this shard's duplicate-window scratch */
  /* the chunk in progress */
  msgpack_sbuffer findings_sb;
  msgpack_packer findings;
  uint32_t nfindings;
  msgpack_sbuffer warnings_sb;
  msgpack_packer warnings;
  uint32_t nwarnings;
  uint64_t files, bytes, skipped;
  msgpack_sbuffer records_sb; /* stateful scans: FILES entries */
  msgpack_packer records;
  uint32_t nrecords;
  const char *path; /* the file being scanned */
  uint32_t path_flags; /* the walker's STORE_FILE_* for it */
  rt_ctx_t *ctx;
  uint64_t coord;   /* the coordinator of the chunk in progress */
  uint32_t blame_jobs; /* submitted for this chunk */
  uint32_t file_findings; /* findings kept for it so far */
} shard_t;

/* A generated file full of markers must not make one huge message. */
#define SHARD_MAX_FINDINGS_PER_FILE 1000

static int shard_start(rt_ctx_t *ctx, void *state, const void *arg)
{
  shard_t *s = state;
  s->sh = scanner__shared_retain((scanner_shared_t *)arg);
  return 0;
}

static void shard_stop(rt_ctx_t *ctx, void *state)
{
  shard_t *s = state;
  scan_buf_free(&s->file);
  free(s->blank);
  scan_occurrences_free(&s->occ);
  scan_dupes_prep_free(s->dupes_prep);
  scanner__shared_release(s->sh);
}

/* ---- building findings ---- */

static char *dup_n(const char *p, size_t n)
{
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, p, n);
    d[n] = '\0';
  }
  return d;
}

static void lower_into(char *out, size_t cap, const char *in)
{
  size_t i = 0;
  for (; in[i] && i + 1 < cap; i++)
    out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
  out[i] = '\0';
}

/* Free what the callbacks below allocate in a finding. */
static void finding_free_owned(proto_finding_t *f)
{
  free(f->tag);
  free(f->kind);
  free(f->text);
  free(f->owner);
  free(f->loc.symbol);
  json_decref(f->details);
}

/* Encode @p f (filled by the caller, fingerprint set here) and append it
 * to the chunk's findings; frees what f owns. */
static void emit_finding(shard_t *s, proto_finding_t *f, const char *key,
                         size_t key_len)
{
  char fp[SCAN_FP_HEX + 1];
  if (s->file_findings++ >= SHARD_MAX_FINDINGS_PER_FILE) {
    finding_free_owned(f);
    return;
  }
  uint32_t occ = scan_occurrence_next(&s->occ, f->kind, key, key_len);
  scan_fingerprint(fp, s->sh->opts->repo, f->kind, s->path, key, key_len, occ);
  f->repo = (char *)s->sh->opts->repo;
  f->loc.path = (char *)s->path;
  f->fingerprint = fp;

  proto_msg_t m = {.type = PROTO_FINDING};
  m.u.finding = *f;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  if (proto_msgpack_encode(&m, &sb) == 0) {
    msgpack_pack_bin(&s->findings, sb.size);
    msgpack_pack_bin_body(&s->findings, sb.data, sb.size);
    s->nfindings++;
  }
  msgpack_sbuffer_destroy(&sb);
  /* the borrowed fields are not freed */
  f->repo = NULL;
  f->loc.path = NULL;
  f->fingerprint = NULL;
  finding_free_owned(f);
}

static json_t *due_details(int32_t due_days)
{
  char day[16];
  time_t t = (time_t)due_days * 86400;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(day, sizeof day, "%Y-%m-%d", &tm);
  return json_pack("{s:s}", "due", day);
}

static int on_marker(void *ud, const scan_marker_t *mk)
{
  shard_t *s = ud;
  char kind[32];
  char norm[1024];
  proto_finding_t f;
  memset(&f, 0, sizeof f);
  lower_into(kind, sizeof kind, mk->tag);
  f.kind = strdup(kind);
  f.tag = strdup(mk->tag);
  f.loc.line = mk->line;
  f.loc.column = mk->col;
  f.text = dup_n(mk->text, mk->text_len);
  if (mk->owner_len)
    f.owner = dup_n(mk->owner, mk->owner_len);
  f.issue_ref = mk->issue;
  if (mk->due_days >= 0)
    f.details = due_details(mk->due_days);
  size_t n = scan_normalize_text(mk->text, mk->text_len, norm, sizeof norm);
  emit_finding(s, &f, norm, n);
  return 0;
}

static int on_secret(void *ud, const scan_secret_t *sec)
{
  shard_t *s = ud;
  char key[160], text[128], hex[65];
  proto_finding_t f;
  memset(&f, 0, sizeof f);
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", sec->digest[i]);
  f.kind = strdup("secret");
  f.loc.line = sec->line;
  f.loc.column = sec->col;
  snprintf(text, sizeof text, "%s %s", sec->rule, sec->preview);
  f.text = strdup(text);
  f.details = json_pack("{s:s,s:s}", "rule", sec->rule, "preview",
                        sec->preview);
  int n = snprintf(key, sizeof key, "%s:%s", sec->rule, hex);
  emit_finding(s, &f, key, (size_t)n);
  return 0;
}

static int on_function(void *ud, const scan_function_t *fn)
{
  shard_t *s = ud;
  char why[256], key[300];
  if (!scan_function_breaks(&s->sh->thresholds, fn, why, sizeof why))
    return 0;
  proto_finding_t f;
  memset(&f, 0, sizeof f);
  f.kind = strdup("refactor");
  f.loc.line = fn->line;
  f.loc.column = 1;
  f.loc.symbol = fn->name_len ? dup_n(fn->name, fn->name_len) : NULL;
  char text[400];
  snprintf(text, sizeof text, "%.*s: %s", (int)(fn->name_len ? fn->name_len : 9),
           fn->name_len ? fn->name : "function", why);
  f.text = strdup(text);
  f.details = json_pack("{s:{s:i,s:i,s:i,s:i}}", "metrics", "lines",
                        (json_int_t)fn->lines, "nesting",
                        (json_int_t)fn->nesting, "complexity",
                        (json_int_t)fn->complexity, "params",
                        (json_int_t)fn->params);
  int n = snprintf(key, sizeof key, "function:%.*s", (int)fn->name_len,
                   fn->name_len ? fn->name : "");
  emit_finding(s, &f, key, (size_t)n);
  return 0;
}

static void check_file_size(shard_t *s, size_t len)
{
  char why[128];
  uint32_t lines = scan_count_lines(s->file.data, len);
  if (!scan_file_breaks(&s->sh->thresholds, lines, why, sizeof why))
    return;
  proto_finding_t f;
  char text[160];
  memset(&f, 0, sizeof f);
  f.kind = strdup("refactor");
  f.loc.line = 1;
  f.loc.column = 1;
  snprintf(text, sizeof text, "file: %s", why);
  f.text = strdup(text);
  f.details = json_pack("{s:{s:i}}", "metrics", "file_lines", (json_int_t)lines);
  emit_finding(s, &f, "file", 4);
}

static int ensure_blank(shard_t *s, size_t len)
{
  if (len + 1 <= s->blank_cap)
    return 0;
  char *b = realloc(s->blank, len + 1);
  if (!b)
    return -1;
  s->blank = b;
  s->blank_cap = len + 1;
  return 0;
}

static void scan_refactor(shard_t *s, const struct scan_lang *lang)
{
  size_t len = s->file.len;
  if (lang->family == SCAN_FAMILY_NONE || ensure_blank(s, len) != 0)
    return;
  scan_lex_blank(lang, s->file.data, len, s->blank);
  s->blank[len] = '\0';
  scan_functions(lang->family, s->blank, len, on_function, s);
  check_file_size(s, len);
  scanner_shared_t *sh = s->sh;
  if (!sh->dupes) /* off, or reported already: looked at again below */
    return;
  /* The hashing happens here, beside the other shards; only the append
   * of the file's windows is shared. */
  if (!s->dupes_prep)
    s->dupes_prep = scan_dupes_prep_new(NULL);
  if (!s->dupes_prep || scan_dupes_prepare(s->dupes_prep, s->blank, len) != 0)
    return;
  pthread_mutex_lock(&sh->dupes_lock);
  if (sh->dupes)
    scan_dupes_add_prepared(sh->dupes, s->path, s->dupes_prep);
  pthread_mutex_unlock(&sh->dupes_lock);
}

/* ---- authors from git blame, on a blocking thread ---- */

typedef struct blame_job {
  scanner_shared_t *sh; /* a reference of this job's */
  char *path;
  char *bins;            /* the file's encoded findings, back to back */
  size_t len;
  uint32_t n;
  /* stateful scans: the file's record goes back with its findings */
  bool record;
  store_file_t rec;      /* size, mtime, flags, blob (blame: not owned) */
} blame_job_t;

/* The FILES entry of a file read (scanner.h). */
static void pack_record(msgpack_packer *pk, const char *path,
                        const store_file_t *f, const json_t *blame)
{
  char *text = blame ? json_dumps(blame, JSON_COMPACT) : NULL;
  msgpack_pack_array(pk, 6);
  msgpack_pack_str_with_body(pk, path, strlen(path));
  msgpack_pack_uint64(pk, f->size);
  msgpack_pack_int64(pk, f->mtime_ns);
  msgpack_pack_uint32(pk, f->flags);
  msgpack_pack_str_with_body(pk, f->blob, strlen(f->blob));
  if (text)
    msgpack_pack_str_with_body(pk, text, strlen(text));
  else
    msgpack_pack_nil(pk);
  free(text);
}

/* Authors from the record's cache, when it is for this very blob and
 * has every line asked for. */
static bool blame_from_cache(const store_file_t *old, const char *blob,
                             scan_blame_line_t *bl, size_t n)
{
  if (!blob[0] || strcmp(old->blob, blob) != 0 || !json_is_array(old->blame))
    return false;
  for (size_t i = 0; i < n; i++) {
    size_t k;
    json_t *e;
    bool found = false;
    json_array_foreach(old->blame, k, e) {
      if ((uint32_t)json_integer_value(json_array_get(e, 0)) != bl[i].line)
        continue;
      snprintf(bl[i].author, sizeof bl[i].author, "%s",
               json_string_value(json_array_get(e, 1)) ?: "");
      bl[i].time = (int64_t)json_integer_value(json_array_get(e, 2));
      found = bl[i].author[0] != '\0';
      break;
    }
    if (!found)
      return false;
  }
  return true;
}

/* The cache to keep: the lines git attributed. */
static json_t *blame_cache_of(const scan_blame_line_t *bl, size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) {
    if (bl[i].author[0])
      json_array_append_new(a, json_pack("[i,s,I]", (json_int_t)bl[i].line,
                                         bl[i].author, (json_int_t)bl[i].time));
  }
  return a;
}

/* Fill @p bl from the cache or from git; *cache gets what to record.
 * @return 0 when authors were found (either way). */
static int blame_lines(blame_job_t *j, scan_blame_line_t *bl, uint32_t n,
                       json_t **cache)
{
  const scanner_opts_t *o = j->sh->opts;
  char err[256];
  *cache = NULL;
  if (j->record) {
    store_file_t old;
    bool hit = store_file_get(o->state, o->repo, j->path, &old) == 0 &&
               blame_from_cache(&old, j->rec.blob, bl, n);
    if (hit)
      *cache = json_incref(old.blame);
    store_file_fini(&old);
    if (hit) {
      scanner__count(SCANNER__BLAME_CACHED, 1);
      return 0;
    }
  }
  scanner__count(SCANNER__BLAME_RUN, 1);
  int rc = scan_blame(o->root, j->path, bl, n, err, sizeof err);
  if (rc == 0 && j->record && j->rec.blob[0])
    *cache = blame_cache_of(bl, n);
  return rc;
}

static uint32_t blame_fill(const scan_blame_line_t *bl, size_t nb,
                           proto_finding_t *f)
{
  for (size_t i = 0; i < nb; i++) {
    if (bl[i].line == f->loc.line && bl[i].author[0]) {
      f->author = strdup(bl[i].author);
      f->authored_at = bl[i].time;
      return 1;
    }
  }
  return 0;
}

/* Decode the findings, blame their lines, re-encode them with authors. */
static void blame_run(void *arg, rt_msg_t **result)
{
  blame_job_t *j = arg;
  proto_msg_t *ms = calloc(j->n, sizeof *ms);
  scan_blame_line_t *bl = calloc(j->n, sizeof *bl);
  msgpack_unpacker up;
  msgpack_unpacked u;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  uint32_t n = 0;
  msgpack_unpacker_init(&up, j->len + 16);
  memcpy(msgpack_unpacker_buffer(&up), j->bins, j->len);
  msgpack_unpacker_buffer_consumed(&up, j->len);
  msgpack_unpacked_init(&u);
  while (ms && bl && n < j->n &&
         msgpack_unpacker_next(&up, &u) == MSGPACK_UNPACK_SUCCESS) {
    if (u.data.type == MSGPACK_OBJECT_BIN &&
        proto_msgpack_decode(u.data.via.bin.ptr, u.data.via.bin.size, &ms[n],
                             NULL, 0) == 0) {
      bl[n].line = ms[n].u.finding.loc.line;
      n++;
    }
  }
  msgpack_unpacked_destroy(&u);
  msgpack_unpacker_destroy(&up);
  json_t *cache = NULL;
  int brc = n ? blame_lines(j, bl, n, &cache) : -1;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 2);
  msgpack_pack_array(&pk, n);
  for (uint32_t i = 0; i < n; i++) {
    msgpack_sbuffer one;
    msgpack_sbuffer_init(&one);
    if (brc == 0)
      blame_fill(bl, n, &ms[i].u.finding);
    proto_msgpack_encode(&ms[i], &one);
    msgpack_pack_bin(&pk, one.size);
    msgpack_pack_bin_body(&pk, one.data, one.size);
    msgpack_sbuffer_destroy(&one);
    proto_msg_fini(&ms[i]);
  }
  if (j->record)
    pack_record(&pk, j->path, &j->rec, cache);
  else
    msgpack_pack_nil(&pk);
  json_decref(cache);
  scanner_msg_from_sbuffer(SCANNER_MSG__BLAMED, &sb, result);
  free(ms);
  free(bl);
  free(j->bins);
  free(j->path);
  scanner__shared_release(j->sh);
  free(j);
}

/* Move the current file's findings (from @p mark on) into a blame job;
 * with @p rec (stateful scans) the file's record goes with them.
 * @return whether the job took them. */
static bool blame_later(shard_t *s, size_t mark, uint32_t nmark,
                        const store_file_t *rec)
{
  rt_actor_t *coord = NULL;
  blame_job_t *j = calloc(1, sizeof *j);
  size_t len = s->findings_sb.size - mark;
  if (!j || !(j->bins = malloc(len)) || !(j->path = strdup(s->path)) ||
      rt_actor_lookup_id(rt_ctx_runtime(s->ctx), s->coord, &coord) != 0) {
    if (j) {
      free(j->bins);
      free(j->path);
    }
    free(j);
    return false; /* the findings stay in the chunk, without authors */
  }
  memcpy(j->bins, s->findings_sb.data + mark, len);
  j->len = len;
  j->n = s->nfindings - nmark;
  j->sh = scanner__shared_retain(s->sh);
  if (rec) {
    j->record = true;
    j->rec = *rec;
    scan_git_blob_id(s->file.data, s->file.len, j->rec.blob);
  }
  bool taken = false;
  if (rt_blocking_submit(rt_ctx_runtime(s->ctx), blame_run, j, coord) == 0) {
    s->findings_sb.size = mark;
    s->nfindings = nmark;
    s->blame_jobs++;
    taken = true;
  } else {
    scanner__shared_release(j->sh);
    free(j->bins);
    free(j->path);
    free(j);
  }
  rt_actor_release(coord);
  return taken;
}

/* ---- one file ---- */

static void warn(shard_t *s, const char *path, const char *why)
{
  char line[512];
  int n = snprintf(line, sizeof line, "%s: %s", path, why);
  if (n < 0)
    return;
  msgpack_pack_str_with_body(&s->warnings, line,
                             (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
  s->nwarnings++;
}

static int64_t wall_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The record of a file just read (or skipped): see SCANNER_RACY_NS. */
static store_file_t record_of(const shard_t *s, const scan_file_info_t *info,
                              scan_read_t r)
{
  store_file_t f;
  memset(&f, 0, sizeof f);
  f.size = info->size;
  f.mtime_ns = info->mtime_ns;
  if (r == SCAN_READ_NOT_REGULAR || wall_ns() - f.mtime_ns < SCANNER_RACY_NS)
    f.mtime_ns = 0;
  f.scanned_at = s->sh->stamp;
  f.flags = s->path_flags | (r == SCAN_READ_OK ? 0 : STORE_FILE_SKIPPED);
  return f;
}

/* Record a file that is not read (skipped, or gone: then [path] only). */
static void record_unread(shard_t *s, const char *path, scan_read_t r,
                          const scan_file_info_t *info)
{
  if (!s->sh->stateful)
    return;
  if (r == SCAN_READ_GONE || r == SCAN_READ_ERROR) {
    msgpack_pack_array(&s->records, 1); /* forget it: read it next time */
    msgpack_pack_str_with_body(&s->records, path, strlen(path));
  } else {
    store_file_t f = record_of(s, info, r);
    pack_record(&s->records, path, &f, NULL);
  }
  s->nrecords++;
}

void (*scanner__file_hook)(const char *path);

static void scan_one(shard_t *s, const char *path)
{
  if (scanner__file_hook)
    scanner__file_hook(path);
  const scanner_opts_t *o = s->sh->opts;
  scan_file_info_t info;
  scan_read_t r = scan_read_file(s->sh->rootfd, path, s->sh->max_file_size,
                                 &s->file, &info);
  if (r != SCAN_READ_OK) {
    s->skipped++;
    if (r == SCAN_READ_ERROR)
      warn(s, path, strerror(info.err));
    record_unread(s, path, r, &info);
    return;
  }
  s->files++;
  s->bytes += s->file.len;
  s->path = path;
  s->file_findings = 0;
  size_t mark = s->findings_sb.size;
  uint32_t nmark = s->nfindings;
  scan_occurrences_reset(&s->occ);
  size_t head = s->file.len < 256 ? s->file.len : 256;
  const struct scan_lang *lang = scan_lang_detect(path, s->file.data, head);
  if (lang && !o->no_markers)
    scan_markers(&s->sh->markers, lang, s->file.data, s->file.len, on_marker, s);
  if (!o->no_secrets)
    scan_secrets(path, s->file.data, s->file.len, o->allow, on_secret, s);
  if (lang && !o->no_refactor)
    scan_refactor(s, lang);
  if (s->file_findings > SHARD_MAX_FINDINGS_PER_FILE)
    warn(s, path, "more than 1000 findings; the first 1000 are kept");
  store_file_t rec = record_of(s, &info, r);
  bool recorded = !s->sh->stateful;
  if (o->blame && s->nfindings > nmark)
    recorded |= blame_later(s, mark, nmark, s->sh->stateful ? &rec : NULL);
  if (!recorded) {
    pack_record(&s->records, path, &rec, NULL);
    s->nrecords++;
  }
  s->path = NULL;
}

/* ---- a chunk ---- */

static void chunk_begin(shard_t *s)
{
  msgpack_sbuffer_init(&s->findings_sb);
  msgpack_packer_init(&s->findings, &s->findings_sb, msgpack_sbuffer_write);
  msgpack_sbuffer_init(&s->warnings_sb);
  msgpack_packer_init(&s->warnings, &s->warnings_sb, msgpack_sbuffer_write);
  msgpack_sbuffer_init(&s->records_sb);
  msgpack_packer_init(&s->records, &s->records_sb, msgpack_sbuffer_write);
  s->nfindings = s->nwarnings = s->nrecords = 0;
  s->files = s->bytes = s->skipped = 0;
  s->blame_jobs = 0;
}

/* [files, bytes, skipped, [findings...], [warnings...], blame_jobs,
 *  [records...]] */
static int chunk_result(shard_t *s, rt_msg_t **out)
{
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 7);
  msgpack_pack_uint64(&pk, s->files);
  msgpack_pack_uint64(&pk, s->bytes);
  msgpack_pack_uint64(&pk, s->skipped);
  msgpack_pack_array(&pk, s->nfindings);
  msgpack_sbuffer_write(&sb, s->findings_sb.data, s->findings_sb.size);
  msgpack_pack_array(&pk, s->nwarnings);
  msgpack_sbuffer_write(&sb, s->warnings_sb.data, s->warnings_sb.size);
  msgpack_pack_uint32(&pk, s->blame_jobs);
  msgpack_pack_array(&pk, s->nrecords);
  msgpack_sbuffer_write(&sb, s->records_sb.data, s->records_sb.size);
  scanner__count(SCANNER__READ, s->files);
  msgpack_sbuffer_destroy(&s->findings_sb);
  msgpack_sbuffer_destroy(&s->warnings_sb);
  msgpack_sbuffer_destroy(&s->records_sb);
  return scanner_msg_from_sbuffer(SCANNER_MSG__RESULT, &sb, out);
}

static void scan_chunk(shard_t *s, const void *data, size_t len)
{
  msgpack_unpacked u;
  char path[4096];
  msgpack_unpacked_init(&u);
  if (msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
      u.data.type == MSGPACK_OBJECT_ARRAY) {
    for (uint32_t i = 0; i < u.data.via.array.size; i++) {
      const msgpack_object *o = &u.data.via.array.ptr[i];
      s->path_flags = 0;
      if (o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 2 &&
          o->via.array.ptr[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        s->path_flags = (uint32_t)o->via.array.ptr[1].via.u64;
        o = &o->via.array.ptr[0]; /* [path, flags] */
      }
      if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= sizeof path)
        continue;
      memcpy(path, o->via.str.ptr, o->via.str.size);
      path[o->via.str.size] = '\0';
      scan_one(s, path);
    }
  }
  msgpack_unpacked_destroy(&u);
}

static void shard_msg(rt_ctx_t *ctx, void *state, rt_msg_t *msg)
{
  shard_t *s = state;
  size_t len;
  if (rt_msg_type(msg) != SCANNER_MSG__WORK)
    return;
  const void *data = rt_msg_data(msg, &len);
  s->ctx = ctx;
  s->coord = rt_msg_sender(msg);
  chunk_begin(s);
  scan_chunk(s, data, len);
  rt_msg_t *res = NULL;
  if (chunk_result(s, &res) == 0 &&
      rt_send_id(rt_ctx_runtime(ctx), rt_msg_sender(msg), &res) != 0)
    rt_msg_free(res);
}

const rt_actor_type_t scanner_shard_type = {
    .name = "scanner-shard",
    .state_size = sizeof(shard_t),
    .on_start = shard_start,
    .on_msg = shard_msg,
    .on_stop = shard_stop,
};
