/*
 * cmd_scan.c: `ccm scan [PATH...] [--json] [options]`, a one-shot scan.
 *
 * Starts a runtime, runs the scanner actors on each PATH in turn (the
 * findings arrive at a port this thread reads), turns findings into tasks
 * (id = the finding's fingerprint, so the same marker always has the same
 * id), ranks them with the default rank below, and prints them: a table,
 * or one JSON object per line with --json. Writes no state. On a terminal
 * stderr shows a progress line while the scan runs; a one-line summary
 * ends every scan.
 *
 * With --data DIR (the explicit opt-in to state) the scan runs as the
 * daemon's does: incremental (only files changed since the last scan with
 * that DIR are read), findings through the analyzer into the store at
 * DIR; what is printed then is the repository's open tasks from the store
 * (unchanged files' tasks included), ranked the same way.
 *
 * Rank: the prioritizer's WSJF (actors/prioritizer/wsjf.h), default rules.
 * Ties: path, then line.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actors/analyzer/analyzer.h"
#include "actors/scanner/scanner.h"
#include "app/app.h"
#include "protocol/proto.h"
#include "runtime/rt.h"
#include "actors/prioritizer/wsjf.h"
#include "scan/gitcmd.h"
#include "scan/secrets.h"
#include "scan/walk.h"
#include "store/store_actor.h"

#define MAX_PATHS 64
#define MAX_MARKERS 32
#define MAX_EXCLUDES 64
#define WARN_SHOWN 20
#define TABLE_TEXT 72 /* characters of text per table row */

typedef struct scan_cli {
  const char *paths[MAX_PATHS];
  size_t npaths;
  bool json;
  bool no_default_excludes;
  const char *markers[MAX_MARKERS];
  size_t nmarkers;
  char *markers_buf;
  const char *excludes[MAX_EXCLUDES];
  size_t nexcludes;
  scanner_opts_t opts;
  cfg_t cfg;                   /* --config FILE, else ./ccm.yaml if present */
  scan_allowlist_t *allow;     /* its scan.secrets_allowlist, or NULL */
  bool configured;             /* a file was read: its scan section counts */
  const char *data;            /* --data DIR: incremental, with state */
  store_t *store;
  rt_actor_t *store_actor, *analyzer;
  analyzer_opts_t an;
} scan_cli_t;

typedef struct found {
  proto_finding_t f;
  double score;
} found_t;

typedef struct results {
  found_t *v;
  size_t len, cap;
  uint64_t files, bytes, warnings;
  int failures;
  bool progress_shown;
  uint64_t started_ms;
} results_t;

static const char *const scan_help =
    "usage: ccm scan [PATH...] [--json] [options]\n"
    "\n"
    "Scans each PATH (default: .) once and prints the tasks it would make,\n"
    "best first. Writes no state.\n"
    "  --json                one JSON object per line: id, kind, tag, path,\n"
    "                        line, column, text, score (+ repo, symbol, ...)\n"
    "  --markers A,B,...     markers to find (default TODO,FIXME,HACK,XXX,\n"
    "                        BUG,OPTIMIZE)\n"
    "  --exclude RULE        skip a directory (name/ or a/b/) or a glob;\n"
    "                        repeatable, added to the defaults\n"
    "  --no-default-excludes do not skip vendor/, node_modules/, ...\n"
    "  --max-file-size N     skip files above N bytes (default 1048576)\n"
    "  --no-git              walk the tree even inside a git work tree\n"
    "  --any-case            markers in any case (todo:, Todo:), not only\n"
    "                        upper case\n"
    "  --blame               author and date of each finding's line from\n"
    "                        git blame (one git process per file with\n"
    "                        findings)\n"
    "  --no-markers, --no-secrets, --no-refactor\n"
    "                        leave a kind of finding out\n"
    "  --shards N            scanner shards (default: one per core)\n"
    "  --data DIR            keep state in DIR (created if missing): the\n"
    "                        next scan with it reads only changed files;\n"
    "                        findings become tasks in DIR's store and the\n"
    "                        repository's open tasks are printed\n"
    "  --full                with --data: read every file anyway\n"
    "  --config FILE         take the scan section's settings (markers,\n"
    "                        excludes, thresholds, secrets allowlist, ...)\n"
    "                        from FILE (default ./ccm.yaml when present);\n"
    "                        the options above win over it\n"
    "exit codes: 0 ok, 1 a PATH could not be scanned, 2 usage\n";

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- arguments ---- */

static int split_markers(scan_cli_t *c, const char *list)
{
  free(c->markers_buf);
  c->markers_buf = strdup(list);
  c->nmarkers = 0;
  c->opts.no_markers = false; /* over a config without markers */
  for (char *save = NULL, *t = strtok_r(c->markers_buf, ",", &save); t;
       t = strtok_r(NULL, ",", &save)) {
    if (!*t || c->nmarkers == MAX_MARKERS)
      return app_usage_error("bad --markers list", list);
    c->markers[c->nmarkers++] = t;
  }
  return c->nmarkers ? 0 : app_usage_error("bad --markers list", list);
}

static int parse_number(const char *s, size_t *out)
{
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || v == 0)
    return -1;
  *out = (size_t)v;
  return 0;
}

static int parse_value_opt(scan_cli_t *c, const char *name, const char *v)
{
  size_t n;
  if (!v)
    return app_usage_error("missing value for", name);
  if (!strcmp(name, "--markers"))
    return split_markers(c, v);
  if (!strcmp(name, "--data")) {
    c->data = v;
    return 0;
  }
  if (!strcmp(name, "--config"))
    return 0; /* read before the other options (load_config) */
  if (!strcmp(name, "--exclude")) {
    if (c->nexcludes == MAX_EXCLUDES)
      return app_usage_error("too many --exclude rules at", v);
    c->excludes[c->nexcludes++] = v;
    return 0;
  }
  if (parse_number(v, &n) != 0)
    return app_usage_error("not a positive number:", v);
  if (!strcmp(name, "--max-file-size"))
    c->opts.max_file_size = n;
  else
    c->opts.shards = (unsigned)(n > 64 ? 64 : n);
  return 0;
}

static bool takes_value(const char *a)
{
  return !strcmp(a, "--markers") || !strcmp(a, "--exclude") ||
         !strcmp(a, "--data") || !strcmp(a, "--config") ||
         !strcmp(a, "--max-file-size") || !strcmp(a, "--shards");
}

static int parse_flag(scan_cli_t *c, const char *a)
{
  if (!strcmp(a, "--json"))
    c->json = true;
  else if (!strcmp(a, "--no-git"))
    c->opts.no_git = true;
  else if (!strcmp(a, "--no-markers"))
    c->opts.no_markers = true;
  else if (!strcmp(a, "--no-secrets"))
    c->opts.no_secrets = true;
  else if (!strcmp(a, "--no-refactor"))
    c->opts.no_refactor = true;
  else if (!strcmp(a, "--no-default-excludes"))
    c->no_default_excludes = true;
  else if (!strcmp(a, "--blame"))
    c->opts.blame = true;
  else if (!strcmp(a, "--any-case"))
    c->opts.any_case = true;
  else if (!strcmp(a, "--full"))
    c->opts.full = true;
  else
    return app_usage_error("unknown option", a);
  return 0;
}

static int parse_args(scan_cli_t *c, int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int rc;
    if (a[0] != '-' || !strcmp(a, "-")) {
      if (c->npaths == MAX_PATHS)
        return app_usage_error("too many paths at", a);
      c->paths[c->npaths++] = a;
      continue;
    }
    if (takes_value(a))
      rc = parse_value_opt(c, a, i + 1 < argc ? argv[++i] : NULL);
    else
      rc = parse_flag(c, a);
    if (rc)
      return rc;
  }
  if (c->npaths == 0)
    c->paths[c->npaths++] = ".";
  if (c->opts.full && !c->data)
    return app_usage_error("--full needs", "--data DIR");
  return 0;
}

/* The scan section of @p c->cfg as the scanner's settings, before the
 * options (which win): what `ccm serve` would scan with. */
static void apply_config(scan_cli_t *c)
{
  const cfg_scan_t *sc = &c->cfg.scan;
  c->nmarkers = 0;
  for (size_t i = 0; i < sc->markers.n && c->nmarkers < MAX_MARKERS; i++)
    c->markers[c->nmarkers++] = sc->markers.v[i];
  c->opts.no_markers = sc->markers.n == 0;
  c->opts.any_case = sc->markers_any_case;
  c->opts.no_git = !sc->use_git;
  c->opts.max_file_size = (size_t)sc->max_file_size;
  c->opts.no_refactor = !sc->refactor;
  c->opts.no_secrets = !sc->secrets;
  c->opts.thresholds = (scan_thresholds_t){
      sc->thresholds.max_function_lines, sc->thresholds.max_nesting,
      sc->thresholds.max_complexity, sc->thresholds.max_params,
      sc->thresholds.max_file_lines};
  uint64_t run = sc->git_timeout_ms ? sc->git_timeout_ms
                                    : GITCMD_RUN_TIMEOUT_MS;
  gitcmd_set_timeouts(run, run < GITCMD_QUERY_TIMEOUT_MS
                               ? run : GITCMD_QUERY_TIMEOUT_MS);
}

/* --config FILE (else ./ccm.yaml when present): read and applied before
 * the other options. 0, or an exit status. */
static int load_config(scan_cli_t *c, int argc, char **argv)
{
  const char *path = NULL;
  struct stat st;
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--config")) {
      if (i + 1 >= argc)
        return app_usage_error("missing value for", argv[i]);
      path = argv[++i];
    }
  if (!path && stat("ccm.yaml", &st) == 0)
    path = "ccm.yaml";
  if (!path) {
    cfg_defaults(&c->cfg);
    return 0;
  }
  if (app_config_read(path, &c->cfg) != 0)
    return APP_EXIT_FAIL;
  c->configured = true;
  apply_config(c);
  char err[512];
  const char *list = c->cfg.scan.secrets_allowlist;
  if (list && !(c->allow = scan_allowlist_load(list, err, sizeof err))) {
    fprintf(stderr, "ccm: scan: scan.secrets_allowlist: %s\n", err);
    return APP_EXIT_FAIL;
  }
  c->opts.allow = c->allow;
  return 0;
}

/* Defaults (the config's excludes, when one was read) plus --exclude
 * rules, or only the latter. */
static void settle_excludes(scan_cli_t *c)
{
  static const char *all[MAX_EXCLUDES * 2];
  size_t n = 0, ndef = 0;
  const char *const *def = scan_walk_default_excludes(&ndef);
  if (c->configured) {
    def = (const char *const *)c->cfg.scan.exclude.v;
    ndef = c->cfg.scan.exclude.n < MAX_EXCLUDES ? c->cfg.scan.exclude.n
                                                : MAX_EXCLUDES;
  }
  if (!c->no_default_excludes) {
    for (size_t i = 0; i < ndef; i++)
      all[n++] = def[i];
  }
  for (size_t i = 0; i < c->nexcludes; i++)
    all[n++] = c->excludes[i];
  c->opts.excludes = all;
  c->opts.nexcludes = n;
  if (c->nmarkers) {
    c->opts.markers = c->markers;
    c->opts.nmarkers = c->nmarkers;
  }
}

/* ---- ranking ---- */

/* The prioritizer's WSJF under the default rules (its due date, blame
 * date and issue reference; no churn, no labels): the score the daemon
 * gives a new task of the same finding. */
static double default_score(const proto_finding_t *f)
{
  return prio_score_finding(f, (int64_t)time(NULL) * 1000, NULL, 0);
}

static int by_rank(const void *a, const void *b)
{
  const found_t *x = a, *y = b;
  if (x->score != y->score)
    return x->score < y->score ? 1 : -1;
  int c = strcmp(x->f.loc.path ? x->f.loc.path : "",
                 y->f.loc.path ? y->f.loc.path : "");
  if (c)
    return c;
  return (x->f.loc.line > y->f.loc.line) - (x->f.loc.line < y->f.loc.line);
}

/* ---- receiving ---- */

static void keep_finding(results_t *r, proto_finding_t *f)
{
  if (r->len == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 256;
    found_t *v = realloc(r->v, cap * sizeof *v);
    if (!v) {
      proto_msg_t m = {.type = PROTO_FINDING};
      m.u.finding = *f;
      proto_msg_fini(&m);
      return;
    }
    r->v = v;
    r->cap = cap;
  }
  r->v[r->len].f = *f;
  r->v[r->len].score = default_score(f);
  r->len++;
}

static void take_findings(results_t *r, const void *data, size_t len)
{
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  if (msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
      u.data.type == MSGPACK_OBJECT_ARRAY) {
    for (uint32_t i = 0; i < u.data.via.array.size; i++) {
      const msgpack_object *o = &u.data.via.array.ptr[i];
      proto_msg_t m;
      if (o->type != MSGPACK_OBJECT_BIN ||
          proto_msgpack_decode(o->via.bin.ptr, o->via.bin.size, &m, NULL, 0) != 0)
        continue;
      if (m.type == PROTO_FINDING)
        keep_finding(r, &m.u.finding);
      else
        proto_msg_fini(&m);
    }
  }
  msgpack_unpacked_destroy(&u);
}

static void ack(rt_runtime_t *rt, const rt_msg_t *msg)
{
  rt_msg_t *a = NULL;
  if (rt_msg_new(SCANNER_MSG_ACK, NULL, 0, &a) == 0 &&
      rt_send_id(rt, rt_msg_sender(msg), &a) != 0)
    rt_msg_free(a);
}

static void show_progress(results_t *r, const proto_scan_progress_t *p)
{
  double secs = (double)(now_ms() - r->started_ms) / 1000.0;
  double mbs = secs > 0 ? (double)p->bytes / 1e6 / secs : 0;
  fprintf(stderr, "\rscanning %s: %llu files, %.1f MB/s, %llu findings\033[K",
          p->repo, (unsigned long long)p->files, mbs,
          (unsigned long long)p->findings);
  r->progress_shown = true;
}

static void warn_line(results_t *r, const void *data, size_t len)
{
  if (r->warnings++ < WARN_SHOWN)
    fprintf(stderr, "%sccm: warning: %.*s\n", r->progress_shown ? "\r\033[K" : "",
            (int)len, (const char *)data);
}

/* Handle one message; returns 1 when the scan is done. */
static int on_port_msg(rt_runtime_t *rt, results_t *r, rt_msg_t *msg,
                       proto_scan_done_t *done)
{
  size_t len;
  const void *data = rt_msg_data(msg, &len);
  proto_msg_t m;
  switch (rt_msg_type(msg)) {
  case SCANNER_MSG_FINDINGS:
    take_findings(r, data, len);
    ack(rt, msg);
    return 0;
  case SCANNER_MSG_WARNING:
    warn_line(r, data, len);
    return 0;
  case PROTO_SCAN_PROGRESS:
    if (isatty(2) && proto_msgpack_decode(data, len, &m, NULL, 0) == 0) {
      show_progress(r, &m.u.scan_progress);
      proto_msg_fini(&m);
    }
    return 0;
  case PROTO_SCAN_DONE:
    if (proto_msgpack_decode(data, len, &m, NULL, 0) != 0)
      return 1;
    *done = m.u.scan_done;
    return 1;
  default:
    return 0;
  }
}

/* ---- with --data: the tasks in the store ---- */

static bool marker_kind(const char *kind)
{
  return strcmp(kind, "refactor") && strcmp(kind, "secret") &&
         strcmp(kind, "issue") && strcmp(kind, "stale-issue");
}

static char *upper_dup(const char *s)
{
  char *u = strdup(s);
  for (char *p = u; p && *p; p++)
    *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
  return u;
}

static char *dup_or_null(const char *s)
{
  return s ? strdup(s) : NULL;
}

/* An open task as the finding it came from (what --json prints). */
static int keep_task(const proto_task_t *t, void *arg)
{
  results_t *r = arg;
  if (t->state == PROTO_STATE_RESOLVED || !strcmp(t->kind, "issue") ||
      !strcmp(t->kind, "stale-issue"))
    return 0;
  proto_finding_t f;
  memset(&f, 0, sizeof f);
  f.fingerprint = strdup(t->id);
  f.repo = strdup(t->repo);
  f.kind = strdup(t->kind);
  f.tag = marker_kind(t->kind) ? upper_dup(t->kind) : NULL;
  f.loc.path = dup_or_null(t->loc.path);
  f.loc.line = t->loc.line;
  f.loc.column = t->loc.column;
  f.loc.symbol = dup_or_null(t->loc.symbol);
  f.text = dup_or_null(t->text);
  f.author = dup_or_null(t->author);
  f.authored_at = t->authored_at;
  f.issue_ref = t->issue_number;
  size_t before = r->len;
  keep_finding(r, &f);
  if (r->len > before)
    r->v[before].score = t->score.total;
  return 0;
}

/* The store, its writer and an analyzer reporting to @p port. */
static int state_open(scan_cli_t *c, rt_runtime_t *rt, rt_port_t *port)
{
  char err[256] = "";
  store_options_t so;
  memset(&so, 0, sizeof so);
  int rc = store_open(c->data, &so, &c->store, err, sizeof err);
  if (rc) {
    fprintf(stderr, "ccm: %s: %s\n", c->data, err[0] ? err : store_strerror(rc));
    return -1;
  }
  c->an = (analyzer_opts_t){.store = c->store};
  rc = store_actor_spawn(rt, c->store, NULL, &c->store_actor);
  if (rc == 0) {
    c->an.store_actor = c->store_actor;
    c->an.done_to = rt_port_actor(port);
    rc = analyzer_spawn(rt, &c->an, &c->analyzer);
  }
  if (rc) {
    fprintf(stderr, "ccm: cannot start the store: %s\n", rt_strerror(rc));
    return -1;
  }
  c->opts.state = c->store;
  return 0;
}

static void state_close(scan_cli_t *c)
{
  rt_actor_release(c->analyzer);
  rt_actor_release(c->store_actor);
  c->analyzer = c->store_actor = NULL;
}

/* ---- one path ---- */

static void summary(const results_t *r, const proto_scan_done_t *d,
                    size_t before)
{
  fprintf(stderr, "%sccm: %s: %llu files in %.2f s, %zu findings%s\n",
          r->progress_shown ? "\r\033[K" : "", d->repo ? d->repo : "?",
          (unsigned long long)d->files, (double)d->duration_ms / 1000.0,
          r->len - before, d->error ? " (failed)" : "");
}

static int scan_path(rt_runtime_t *rt, scan_cli_t *c, results_t *r,
                     rt_port_t *port, const char *path)
{
  char repo[128];
  proto_scan_done_t done;
  size_t before = r->len;
  memset(&done, 0, sizeof done);
  char dir[PATH_MAX];
  struct stat st;
  c->opts.root = path;
  c->opts.only = NULL;
  if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
    /* one file: its directory is the root, the file the only path */
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1,
             slash ? (slash == path ? "/" : path) : ".");
    c->opts.root = dir;
    c->opts.only = slash ? slash + 1 : path;
  }
  if (c->store && c->opts.only) {
    /* its tasks would be judged as if the file were the whole repository */
    fprintf(stderr, "ccm: %s: --data scans directories, not single files\n",
            path);
    return -1;
  }
  app_repo_id_of(c->opts.root, repo, sizeof repo);
  c->opts.repo = repo;
  c->opts.progress_ms = isatty(2) ? 100 : 0;
  r->started_ms = now_ms();
  r->progress_shown = false;
  int rc = scanner_start(rt, &c->opts,
                         c->analyzer ? c->analyzer : rt_port_actor(port));
  for (int end = rc; !end;) {
    rt_msg_t *msg = NULL;
    if (rt_port_recv(port, -1, &msg) != 0)
      continue;
    end = on_port_msg(rt, r, msg, &done);
    rt_msg_free(msg);
  }
  if (rc == 0 && c->store) { /* the analyzer has written the scan */
    store_filter_t f = {.state = -1, .repo = repo};
    store_task_foreach(c->store, &f, keep_task, r);
  }
  if (rc != 0) {
    fprintf(stderr, "ccm: %s: %s\n", path, rt_strerror(rc));
    return -1;
  }
  summary(r, &done, before);
  if (done.error)
    fprintf(stderr, "ccm: %s\n", done.error);
  int failed = done.error ? -1 : 0;
  proto_msg_t m = {.type = PROTO_SCAN_DONE};
  m.u.scan_done = done;
  proto_msg_fini(&m);
  return failed;
}

/* ---- output ---- */

static json_t *finding_json(const found_t *x)
{
  const proto_finding_t *f = &x->f;
  json_t *o = json_pack("{s:s,s:s,s:s?,s:s,s:i,s:i,s:s?,s:f,s:s}",
                        "id", f->fingerprint, "kind", f->kind, "tag", f->tag,
                        "path", f->loc.path ? f->loc.path : "", "line",
                        (json_int_t)f->loc.line, "column",
                        (json_int_t)f->loc.column, "text", f->text, "score",
                        x->score, "repo", f->repo);
  if (!o)
    return NULL;
  if (f->loc.symbol)
    json_object_set_new(o, "symbol", json_string(f->loc.symbol));
  if (f->owner)
    json_object_set_new(o, "owner", json_string(f->owner));
  if (f->author) {
    json_object_set_new(o, "author", json_string(f->author));
    json_object_set_new(o, "authored_at", json_integer(f->authored_at));
  }
  if (f->issue_ref)
    json_object_set_new(o, "issue_ref", json_integer(f->issue_ref));
  if (f->details)
    json_object_set(o, "details", f->details);
  return o;
}

static void print_json(const results_t *r)
{
  for (size_t i = 0; i < r->len; i++) {
    json_t *o = finding_json(&r->v[i]);
    if (!o)
      continue;
    json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(o);
  }
}

static void print_table(const results_t *r)
{
  if (r->len == 0)
    return;
  printf("%-5s  %-8s  %-40s  %s\n", "SCORE", "KIND", "LOCATION", "TEXT");
  for (size_t i = 0; i < r->len; i++) {
    const proto_finding_t *f = &r->v[i].f;
    char loc[512];
    snprintf(loc, sizeof loc, "%s:%u", f->loc.path ? f->loc.path : "?",
             f->loc.line);
    const char *text = f->text ? f->text : "";
    int n = (int)strcspn(text, "\n");
    printf("%5.1f  %-8s  %-40s  %.*s%s\n", r->v[i].score, f->kind, loc,
           n > TABLE_TEXT ? TABLE_TEXT : n, text,
           n > TABLE_TEXT ? "..." : "");
  }
}

static void results_free(results_t *r)
{
  for (size_t i = 0; i < r->len; i++) {
    proto_msg_t m = {.type = PROTO_FINDING};
    m.u.finding = r->v[i].f;
    proto_msg_fini(&m);
  }
  free(r->v);
}

static int run_scans(scan_cli_t *c, results_t *r)
{
  rt_config_t cfg;
  rt_runtime_t *rt = NULL;
  rt_config_defaults(&cfg);
  int rc = rt_runtime_new(&cfg, &rt);
  if (rc != 0) {
    fprintf(stderr, "ccm: cannot start the runtime: %s\n", rt_strerror(rc));
    return APP_EXIT_FAIL;
  }
  rt_port_t *port = NULL;
  rc = rt_port_new(rt, 0, &port);
  if (rc == 0 && c->data && state_open(c, rt, port) != 0)
    rc = -1;
  for (size_t i = 0; rc == 0 && i < c->npaths; i++) {
    if (scan_path(rt, c, r, port, c->paths[i]) != 0)
      r->failures++;
  }
  state_close(c);
  rt_port_free(port);
  rt_runtime_shutdown(rt, RT_SHUTDOWN_DRAIN);
  rt_runtime_free(rt);
  store_close(c->store);
  return rc == 0 ? 0 : APP_EXIT_FAIL;
}

int app_cmd_scan(int argc, char **argv)
{
  scan_cli_t c;
  results_t r;
  memset(&c, 0, sizeof c);
  memset(&r, 0, sizeof r);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(scan_help, stdout);
      return APP_EXIT_OK;
    }
  }
  int rc = load_config(&c, argc, argv);
  if (!rc)
    rc = parse_args(&c, argc, argv);
  if (rc) {
    free(c.markers_buf);
    scan_allowlist_free(c.allow);
    cfg_fini(&c.cfg);
    return rc;
  }
  settle_excludes(&c);
  rc = run_scans(&c, &r);
  if (rc == 0) {
    if (r.len) /* qsort(NULL, 0, ...) is undefined (UBSan says so) */
      qsort(r.v, r.len, sizeof *r.v, by_rank);
    if (c.json)
      print_json(&r);
    else
      print_table(&r);
    if (r.warnings > WARN_SHOWN)
      fprintf(stderr, "ccm: %llu more warnings not shown\n",
              (unsigned long long)(r.warnings - WARN_SHOWN));
    rc = r.failures ? APP_EXIT_FAIL : APP_EXIT_OK;
  }
  results_free(&r);
  free(c.markers_buf);
  scan_allowlist_free(c.allow);
  cfg_fini(&c.cfg);
  return rc;
}
