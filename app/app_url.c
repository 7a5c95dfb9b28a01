/*
 * app_url.c: where a running `ccm serve` can be reached, for the other
 * commands (app.h).
 *
 * Design note
 * -----------
 * `ccm serve` may listen on a port its configuration does not name
 * (--listen, or port 0 in a test). Once its control plane answers it
 * writes the URL it serves to <data dir>/serve.url (one line, written to
 * a temporary file and renamed, so a reader never sees half of it), and
 * removes the file when it stops cleanly. `ccm run` reads it before it
 * falls back to the configuration's listen. A daemon killed with -9
 * leaves the file behind: a command then fails to connect to the URL it
 * names and says so, which is the truth. The file holds no secret.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"

#define URL_FILE "serve.url"

static int url_path(const char *data_dir, const char *name, char *path,
                    size_t cap)
{
  int n = snprintf(path, cap, "%s/%s", data_dir, name);
  return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

int app_url_publish(const char *data_dir, const char *url)
{
  char path[4096], tmp[4096];
  if (url_path(data_dir, URL_FILE, path, sizeof path) ||
      url_path(data_dir, URL_FILE ".tmp", tmp, sizeof tmp))
    return -ENAMETOOLONG;
  FILE *f = fopen(tmp, "we");
  if (!f)
    return -errno;
  int bad = fprintf(f, "%s\n", url) < 0;
  bad |= fclose(f) != 0;
  if (bad || rename(tmp, path) != 0) {
    int rc = errno ? -errno : -EIO;
    unlink(tmp);
    return rc;
  }
  return 0;
}

void app_url_withdraw(const char *data_dir)
{
  char path[4096];
  if (!url_path(data_dir, URL_FILE, path, sizeof path))
    unlink(path);
}

int app_url_read(const char *data_dir, char *listen, size_t cap)
{
  char path[4096], line[512];
  if (url_path(data_dir, URL_FILE, path, sizeof path))
    return -ENAMETOOLONG;
  FILE *f = fopen(path, "re");
  if (!f)
    return -errno;
  char *got = fgets(line, sizeof line, f);
  fclose(f);
  const char *p = got ? line : "";
  if (strncmp(p, "http://", 7) != 0)
    return -EINVAL;
  p += 7;
  size_t n = strcspn(p, "/\n");
  if (n == 0 || n >= cap)
    return -EINVAL;
  memcpy(listen, p, n); /* HOST:PORT or [V6]:PORT, as --listen takes */
  listen[n] = '\0';
  return 0;
}
