/* SPDX-License-Identifier: Apache-2.0 */
/* cfg_file.h - reads a whole configuration file into memory, safely:
 * only a regular file is read (a FIFO would block the reader, /dev/zero
 * would never end, a directory is a mistake), and only up to a size
 * limit, checked before and while reading, so input never decides how
 * much memory or time a load takes.
 */
#pragma once
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Far above any real configuration: a 10,000-server file with every key
 * set on every server is 2.3 MiB (tests/e2e/test_scale.py writes 3 KiB). */
#define CFG_FILE_MAX (16u << 20)

/* Reads path (at most max bytes) into *buf (malloc'd, NUL-terminated,
 * *len bytes before the NUL; the file may itself hold NULs). Returns 0,
 * or -errno: -EISDIR for a directory, -EINVAL for anything else that is
 * not a regular file (*mode then says what it is), -EFBIG when it is larger than max, else open/read errors. */
int cfg_read_file(const char *path, size_t max, char **buf, size_t *len, mode_t *mode);

/* The same on an open fd; *st is its fstat (owner, mode), also on
 * failure when fstat itself worked. */
int cfg_read_fd(int fd, size_t max, char **buf, size_t *len, struct stat *st);

/* "a directory", "a FIFO", ... for the file type bits of mode. */
const char *cfg_file_kind(mode_t mode);
