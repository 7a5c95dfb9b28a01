/*
 * panel.c: the control panel's static files, served at "/".
 *
 * Only the files of a fixed table are served (no path from the request
 * ever reaches the file system, so there is no traversal to guard), read
 * from the panel folder at each request (they are small, and an edited
 * file shows at the next reload). The chart library comes from npm
 * (web/panel/package.json, installed by scripts/deps.sh) and is served
 * under /vendor/. The files are public: they hold no data, and the panel
 * asks for the token when the API answers 401.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "web/web_int.h"

/* Larger than any panel file; a bigger one is a mistake in the folder. */
#define PANEL_FILE_MAX (4u << 20)

typedef struct panel_file {
  const char *url;
  const char *file; /* relative to the panel folder */
  const char *ctype;
} panel_file_t;

static const panel_file_t files[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/index.html", "index.html", "text/html; charset=utf-8"},
    {"/app.js", "app.js", "text/javascript; charset=utf-8"},
    {"/style.css", "style.css", "text/css; charset=utf-8"},
    {"/vendor/uPlot.iife.min.js", "node_modules/uplot/dist/uPlot.iife.min.js",
     "text/javascript; charset=utf-8"},
    {"/vendor/uPlot.min.css", "node_modules/uplot/dist/uPlot.min.css",
     "text/css; charset=utf-8"},
};

static const panel_file_t *find(const char *path)
{
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
    if (strcmp(files[i].url, path) == 0)
      return &files[i];
  return NULL;
}

bool web__panel_has(const char *path) { return find(path) != NULL; }

/* The whole file, malloc'd; NULL when absent, unreadable or too big. */
static char *read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  struct stat st;
  if (!f)
    return NULL;
  char *buf = NULL;
  if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
      (size_t)st.st_size <= PANEL_FILE_MAX &&
      (buf = malloc((size_t)st.st_size + 1)) != NULL) {
    *len = fread(buf, 1, (size_t)st.st_size, f);
    if (*len != (size_t)st.st_size) {
      free(buf);
      buf = NULL;
    }
  }
  fclose(f);
  return buf;
}

void web__panel_serve(web_t *w, http_req_t *r)
{
  const panel_file_t *pf = find(r->path);
  char path[4096];
  size_t len = 0;
  char *body = NULL;
  if (pf && w->panel_dir &&
      (size_t)snprintf(path, sizeof(path), "%s/%s", w->panel_dir, pf->file) <
          sizeof(path))
    body = read_file(path, &len);
  if (!body) {
    web_err_t e;
    web__err(&e, 404, "not_found",
             "the control panel's files are not installed here (run "
             "scripts/deps.sh)");
    web__http_error(r, &e);
    return;
  }
  web__http_text(r, 200, pf->ctype, body, len);
}
