/*
 * file.h: open and read one file of a repository, safely.
 *
 * Paths come from git or from a tree walk and are relative to the root.
 * They are opened beneath the root's directory descriptor without ever
 * following a symbolic link (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS,
 * or component by component with O_NOFOLLOW where openat2 is missing), so
 * a link can never lead the scanner out of the repository. Only regular
 * files up to max_size are read; a NUL byte in the first 8 KiB marks a
 * binary file, which is skipped. The buffer is reused from file to file
 * (one per scanning thread) and grows to the largest file read.
 */
#ifndef CCM_SCAN_FILE_H
#define CCM_SCAN_FILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct scan_buf {
  char *data;  /* file contents, NUL-terminated (data[len] == 0) */
  size_t len;
  size_t cap;
} scan_buf_t;

typedef enum scan_read {
  SCAN_READ_OK = 0,
  SCAN_READ_TOO_BIG,     /* larger than max_size: skipped */
  SCAN_READ_BINARY,      /* NUL in the first 8 KiB: skipped */
  SCAN_READ_NOT_REGULAR, /* symlink, directory (submodule), device, fifo */
  SCAN_READ_GONE,        /* listed but no longer there (ENOENT) */
  SCAN_READ_ERROR,       /* unreadable: errno in info->err */
} scan_read_t;

typedef struct scan_file_info {
  uint64_t size;
  int64_t mtime_ns;
  uint64_t ino;
  int err;        /* errno for SCAN_READ_ERROR */
} scan_file_info_t;

/* Read @p rel beneath the directory open on @p rootfd into @p buf. */
scan_read_t scan_read_file(int rootfd, const char *rel, size_t max_size,
                           scan_buf_t *buf, scan_file_info_t *info);

void scan_buf_free(scan_buf_t *buf);

/* A short name for a result ("too big", "binary", ...). */
const char *scan_read_name(scan_read_t r);

#endif /* CCM_SCAN_FILE_H */
