/*
 * app_config.c: the daemon's configuration (SPEC §3): --config FILE, else
 * ./ccm.yaml when it exists, else the embedded default (the repository in
 * the current directory, ./.ccm, 127.0.0.1:8080, dry run). An invalid file
 * is reported (FILE:LINE:COLUMN: ...) and the daemon does not start.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "app/app.h"

int app_config_load(const char *path, cfg_t *out)
{
  struct stat st;
  cfg_errors_t errs;
  if (!path && stat("ccm.yaml", &st) == 0)
    path = "ccm.yaml";
  if (!path) {
    cfg_defaults(out);
    return 0;
  }
  int rc = cfg_load_file(path, out, &errs);
  if (rc != 0) {
    if (errs.n)
      cfg_errors_print(&errs, stderr);
    else
      fprintf(stderr, "ccm: %s: %s\n", path, cfg_strerror(rc));
    fprintf(stderr, "ccm: not starting: the configuration is invalid "
                    "(check it with: ccm config check %s)\n", path);
  }
  cfg_errors_fini(&errs);
  return rc;
}
