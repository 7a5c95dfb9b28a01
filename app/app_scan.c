/*
 * app_scan.c: the daemon's discovery for `ccm serve`, until the YAML
 * config (issue #8) provides repositories and intervals: the current
 * directory is the one repository, scanned at start and every 10 minutes
 * (CCM_SCAN_INTERVAL_S overrides, 0 = only on request), findings through
 * the analyzer into the store. Also the repository id rule shared by
 * `ccm scan` and the control plane.
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

#define DEFAULT_INTERVAL_S 600

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

static struct {
  char root[PATH_MAX];
  char repo[72];
  scan_service_opts_t svc;
  analyzer_opts_t an;
  rt_actor_t *service, *analyzer;
} daemon_scan;

static uint64_t interval_ms(void)
{
  const char *v = getenv("CCM_SCAN_INTERVAL_S");
  if (!v || !*v)
    return DEFAULT_INTERVAL_S * 1000ull;
  char *end;
  unsigned long long s = strtoull(v, &end, 10);
  if (*end) {
    fprintf(stderr, "ccm: CCM_SCAN_INTERVAL_S='%s' is not a number of "
                    "seconds; using %d\n", v, DEFAULT_INTERVAL_S);
    return DEFAULT_INTERVAL_S * 1000ull;
  }
  return s * 1000ull;
}

int app_scan_start(rt_runtime_t *rt, store_t *store, rt_actor_t *store_actor)
{
  if (!getcwd(daemon_scan.root, sizeof daemon_scan.root))
    snprintf(daemon_scan.root, sizeof daemon_scan.root, ".");
  app_repo_id_of(daemon_scan.root, daemon_scan.repo, sizeof daemon_scan.repo);
  scan_service_opts_t *o = &daemon_scan.svc;
  memset(o, 0, sizeof *o);
  o->repos[0].repo = daemon_scan.repo;
  o->repos[0].root = daemon_scan.root;
  o->nrepos = 1;
  o->interval_ms = interval_ms();
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
    fprintf(stderr, "ccm: cannot start the scanner: %s\n", rt_strerror(rc));
    return rc;
  }
  fprintf(stderr, "ccm: scanning %s as '%s' now and every %llu s\n",
          daemon_scan.root, daemon_scan.repo,
          (unsigned long long)(o->interval_ms / 1000));
  return 0;
}

void app_scan_release(void)
{
  rt_actor_release(daemon_scan.service);
  rt_actor_release(daemon_scan.analyzer);
  daemon_scan.service = daemon_scan.analyzer = NULL;
}
