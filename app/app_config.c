/*
 * app_config.c: the daemon's configuration (SPEC §3): --config FILE, else
 * ./ccm.yaml when it exists, else the embedded default (the repository in
 * the current directory, ./.ccm, 127.0.0.1:8080, dry run). An invalid file
 * is reported (FILE:LINE:COLUMN: ...) and the daemon does not start.
 * Reported through the structured log (app/log.h; logfmt, the format of a
 * configuration it could not read), as everything `ccm serve` says;
 * `ccm config check` keeps its plain lines (cmd_config.c).
 */
#include <sys/stat.h>

#include "app/app.h"
#include "app/app_reload.h"
#include "app/log.h"

static int load(const char *path, cfg_t *out, const char *refusal)
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
    app_log_config_errors(path, rc, &errs);
    app_log_kv(APP_LOG_ERROR, "config.invalid", refusal, "file", path, NULL);
  }
  cfg_errors_fini(&errs);
  return rc;
}

int app_config_load(const char *path, cfg_t *out)
{
  return load(path, out, "not starting: the configuration is invalid "
                         "(check it with: ccm config check FILE)");
}

int app_config_read(const char *path, cfg_t *out)
{
  return load(path, out, "the configuration is invalid (check it with: "
                         "ccm config check FILE)");
}
