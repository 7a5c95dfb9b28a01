/*
 * app_scan.c: the daemon's discovery for `ccm serve`: each configured
 * repository with a local path (the embedded default: the current
 * directory) is scanned at start, every scan_interval (the shortest one
 * configured; default 10 min) and on request, with the config's scan
 * settings; findings go through the analyzer into the store. Also the
 * repository id rule shared by `ccm scan` and the control plane.
 *
 * What it says goes to the structured log (app/log.h), the scan service's
 * lines too (its log hook), so every stderr line of `ccm serve` parses in
 * the configured format. Every git command is bounded by scan.git_timeout
 * (scan/gitcmd.h); app_scan_release(), on the way out, kills the ones still
 * running, so a hung git cannot hold the runtime's drain.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/analyzer/analyzer.h"
#include "actors/analyzer/scan_service.h"
#include "app/app.h"
#include "app/log.h"
#include "scan/gitcmd.h"
#include "scan/markers.h"
#include "scan/secrets.h"


void app_repo_id_of(const char *dir, char *id, size_t cap)
{
  char real[PATH_MAX];
  const char *path = realpath(dir, real) ? real : dir;
  const char *base = strrchr(path, '/');
  base = base && base[1] ? base + 1 : path;
  size_t n = 0;
  for (; base[n] && n + 1 < cap && n < 64; n++) {
    int c = tolower((unsigned char)base[n]);
    id[n] = (isalnum(c) || c == '.' || c == '_' || c == '-') ? (char)c : '-';
  }
  id[n] = '\0';
  if (n == 0 || !strcmp(id, "-"))
    snprintf(id, cap, "repo");
}

#define MAX_REPOS SCAN_SERVICE_MAX_REPOS

static struct {
  char root[MAX_REPOS][PATH_MAX];
  char repo[MAX_REPOS][72];
  const char *markers[SCAN_MARKER_TAGS_MAX];
  const char *excludes[256];
  scan_service_opts_t svc;
  analyzer_opts_t an;
  rt_actor_t *service, *analyzer;
  scan_allowlist_t *allow; /* scan.secrets_allowlist; freed by app_scan_fini */
} daemon_scan;

/* The scanner's settings from the config's scan section. */
static void scan_settings(scanner_opts_t *so, const cfg_scan_t *sc)
{
  size_t nm = sc->markers.n < SCAN_MARKER_TAGS_MAX ? sc->markers.n
                                                   : SCAN_MARKER_TAGS_MAX;
  size_t ne = sc->exclude.n < 256 ? sc->exclude.n : 256;
  for (size_t i = 0; i < nm; i++)
    daemon_scan.markers[i] = sc->markers.v[i];
  for (size_t i = 0; i < ne; i++)
    daemon_scan.excludes[i] = sc->exclude.v[i];
  so->markers = daemon_scan.markers;
  so->nmarkers = nm;
  so->no_markers = nm == 0;
  so->any_case = sc->markers_any_case;
  so->excludes = daemon_scan.excludes;
  so->nexcludes = ne;
  so->no_git = !sc->use_git;
  so->max_file_size = (size_t)sc->max_file_size;
  so->no_refactor = !sc->refactor;
  so->no_secrets = !sc->secrets;
  so->allow = daemon_scan.allow;
  so->thresholds = (scan_thresholds_t){
      sc->thresholds.max_function_lines, sc->thresholds.max_nesting,
      sc->thresholds.max_complexity, sc->thresholds.max_params,
      sc->thresholds.max_file_lines};
}

/* The shortest scan_interval of the repositories (the service has one
 * timer); 0 when every repository is scanned on request only. */
static uint64_t interval_of(const cfg_t *cfg)
{
  uint64_t ms = 0;
  for (size_t i = 0; i < cfg->nrepos; i++) {
    uint64_t r = cfg->repos[i].scan_interval_ms;
    if (r && (!ms || r < ms))
      ms = r;
  }
  return ms;
}

/* The scan service's lines, into the structured log. */
static void scan_log(void *ud, bool error, const char *event,
                     const char *line)
{
  (void)ud;
  app_log(error ? APP_LOG_ERROR : APP_LOG_INFO, event, "%s", line);
}

/* scan.git_timeout for every git command; small queries at most 30 s. */
static void git_deadlines(const cfg_scan_t *sc)
{
  uint64_t run = sc->git_timeout_ms ? sc->git_timeout_ms
                                    : GITCMD_RUN_TIMEOUT_MS;
  gitcmd_cancel_reset();
  gitcmd_set_timeouts(run, run < GITCMD_QUERY_TIMEOUT_MS
                               ? run : GITCMD_QUERY_TIMEOUT_MS);
}

int app_scan_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor,
                   const cfg_t *cfg)
{
  scan_service_opts_t *o = &daemon_scan.svc;
  memset(o, 0, sizeof *o);
  git_deadlines(&cfg->scan);
  char err[512];
  if (cfg->scan.secrets_allowlist &&
      !(daemon_scan.allow = scan_allowlist_load(cfg->scan.secrets_allowlist,
                                                err, sizeof err))) {
    app_log_kv(APP_LOG_ERROR, "scan.allowlist_failed",
               "cannot read scan.secrets_allowlist", "error", err, NULL);
    return -1;
  }
  o->log = scan_log;
  for (size_t i = 0; i < cfg->nrepos && o->nrepos < MAX_REPOS; i++) {
    const char *path = cfg->repos[i].path;
    if (!path)
      continue; /* GitHub only: nothing to scan here */
    size_t k = o->nrepos++;
    if (!realpath(path, daemon_scan.root[k]))
      snprintf(daemon_scan.root[k], PATH_MAX, "%s", path);
    app_repo_id_of(daemon_scan.root[k], daemon_scan.repo[k], 72);
    scan_settings(&o->repos[k], &cfg->scan);
    o->repos[k].repo = daemon_scan.repo[k];
    o->repos[k].root = daemon_scan.root[k];
    o->repos[k].state = store; /* rescans are incremental */
  }
  o->interval_ms = interval_of(cfg);
  int rc = scan_service_spawn(rt, o, &daemon_scan.service);
  if (rc == 0) {
    daemon_scan.an = (analyzer_opts_t){store, store_actor, daemon_scan.service};
    rc = analyzer_spawn(rt, &daemon_scan.an, &daemon_scan.analyzer);
  }
  if (rc == 0) {
    o->analyzer = daemon_scan.analyzer;
    rc = scan_service_begin(daemon_scan.service);
  }
  if (rc != 0) {
    app_log_kv(APP_LOG_ERROR, "scan.start_failed", "cannot start the scanner",
               "error", rt_strerror(rc), NULL);
    return rc;
  }
  for (size_t k = 0; k < o->nrepos; k++)
    app_log_kv(APP_LOG_INFO, "scan.scheduled",
               o->interval_ms ? "scanning now and periodically"
                              : "scanning now", "repo", daemon_scan.repo[k],
               "root", daemon_scan.root[k], NULL);
  return 0;
}

void app_scan_fini(void)
{
  scan_allowlist_free(daemon_scan.allow); /* the scans have all stopped */
  daemon_scan.allow = NULL;
}

void app_scan_release(void)
{
  gitcmd_cancel_all(); /* stopping: no git may hold the drain */
  rt_actor_release(daemon_scan.service);
  rt_actor_release(daemon_scan.analyzer);
  daemon_scan.service = daemon_scan.analyzer = NULL;
}
