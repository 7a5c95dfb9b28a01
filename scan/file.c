/*
 * file.c: see file.h.
 */
#include "scan/file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BINARY_PROBE 8192
#define REL_MAX 4096

static int openat2_beneath(int rootfd, const char *rel)
{
#ifdef SYS_openat2
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
#else
  (void)rootfd;
  (void)rel;
  errno = ENOSYS;
  return -1;
#endif
}

/* Fallback: walk the directories with O_NOFOLLOW, then open the file. */
static int open_by_components(int rootfd, const char *rel)
{
  char part[REL_MAX];
  size_t n = strlen(rel);
  if (n >= sizeof part || rel[0] == '/') {
    errno = EINVAL;
    return -1;
  }
  memcpy(part, rel, n + 1);
  int dfd = rootfd;
  char *p = part;
  for (char *slash; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
    *slash = '\0';
    if (strcmp(p, "..") == 0 || strcmp(p, ".") == 0 || !*p) {
      errno = EXDEV;
      goto fail;
    }
    int next = openat(dfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd != rootfd)
      close(dfd);
    if (next < 0)
      return -1;
    dfd = next;
  }
  int fd = strcmp(p, "..") == 0
               ? (errno = EXDEV, -1)
               : openat(dfd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
                                    O_NONBLOCK);
  if (dfd != rootfd) {
    int e = errno;
    close(dfd);
    errno = e;
  }
  return fd;
fail:
  if (dfd != rootfd)
    close(dfd);
  return -1;
}

static int open_beneath(int rootfd, const char *rel)
{
  static int have_openat2 = 1;
  if (__atomic_load_n(&have_openat2, __ATOMIC_RELAXED)) {
    int fd = openat2_beneath(rootfd, rel);
    if (fd >= 0 || errno != ENOSYS)
      return fd;
    __atomic_store_n(&have_openat2, 0, __ATOMIC_RELAXED);
  }
  return open_by_components(rootfd, rel);
}

static int grow(scan_buf_t *buf, size_t need)
{
  if (need + 1 <= buf->cap)
    return 0;
  size_t cap = buf->cap ? buf->cap : 65536;
  while (cap < need + 1)
    cap *= 2;
  char *d = realloc(buf->data, cap);
  if (!d)
    return -1;
  buf->data = d;
  buf->cap = cap;
  return 0;
}

static int read_all(int fd, scan_buf_t *buf, size_t size)
{
  size_t got = 0;
  while (got < size) {
    ssize_t n = read(fd, buf->data + got, size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0)
      break; /* shrank while we read: take what is there */
    got += (size_t)n;
  }
  buf->len = got;
  buf->data[got] = '\0';
  return 0;
}

static scan_read_t classify_open_error(int e, scan_file_info_t *info)
{
  info->err = e;
  if (e == ENOENT)
    return SCAN_READ_GONE;
  if (e == ELOOP || e == EXDEV || e == ENOTDIR)
    return SCAN_READ_NOT_REGULAR; /* a link on the way, or out of the root */
  return SCAN_READ_ERROR;
}

scan_read_t scan_read_file(int rootfd, const char *rel, size_t max_size,
                           scan_buf_t *buf, scan_file_info_t *info)
{
  struct stat st;
  memset(info, 0, sizeof *info);
  buf->len = 0;
  int fd = open_beneath(rootfd, rel);
  if (fd < 0)
    return classify_open_error(errno, info);
  scan_read_t r = SCAN_READ_OK;
  if (fstat(fd, &st) != 0) {
    info->err = errno;
    r = SCAN_READ_ERROR;
  } else if (!S_ISREG(st.st_mode)) {
    r = SCAN_READ_NOT_REGULAR;
  } else {
    info->size = (uint64_t)st.st_size;
    info->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    info->ino = (uint64_t)st.st_ino;
    if ((uint64_t)st.st_size > max_size)
      r = SCAN_READ_TOO_BIG;
    else if (grow(buf, (size_t)st.st_size) != 0 ||
             read_all(fd, buf, (size_t)st.st_size) != 0) {
      info->err = errno ? errno : ENOMEM;
      r = SCAN_READ_ERROR;
    } else if (memchr(buf->data, '\0',
                      buf->len < BINARY_PROBE ? buf->len : BINARY_PROBE)) {
      r = SCAN_READ_BINARY;
    }
  }
  close(fd);
  return r;
}

void scan_buf_free(scan_buf_t *buf)
{
  free(buf->data);
  buf->data = NULL;
  buf->len = buf->cap = 0;
}

const char *scan_read_name(scan_read_t r)
{
  switch (r) {
  case SCAN_READ_OK: return "ok";
  case SCAN_READ_TOO_BIG: return "too big";
  case SCAN_READ_BINARY: return "binary";
  case SCAN_READ_NOT_REGULAR: return "not a regular file";
  case SCAN_READ_GONE: return "gone";
  case SCAN_READ_ERROR: return "unreadable";
  }
  return "?";
}
