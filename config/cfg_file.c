/* SPDX-License-Identifier: Apache-2.0 */
/* cfg_file.c - see cfg_file.h. */
#include "config/cfg_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cfg_file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFSOCK:
		return "a socket";
	case S_IFREG:
		return "a regular file";
	default:
		return "not a file";
	}
}

/* Room for n more bytes plus a NUL, never beyond max + 1 bytes of data. */
static int grow(char **buf, size_t *cap, size_t used, size_t max)
{
	size_t want = *cap * 2;
	char *p;

	if (used < *cap - 1)
		return 0;
	if (want > max + 2)
		want = max + 2;
	p = realloc(*buf, want);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = want;
	return 0;
}

/* Reads to EOF, but at most max + 1 bytes: one more than allowed proves
 * the file grew past the limit after fstat(). */
static int read_all(int fd, size_t max, char **buf, size_t cap, size_t *len)
{
	size_t n = 0;
	ssize_t r;

	for (;;) {
		if (grow(buf, &cap, n, max) < 0)
			return -ENOMEM;
		r = read(fd, *buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max)
			return -EFBIG;
	}
	(*buf)[n] = '\0';
	*len = n;
	return 0;
}

static int read_regular(int fd, size_t max, char **buf, size_t *len, struct stat *st)
{
	size_t cap;

	if (fstat(fd, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode))
		return S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
	if ((uint64_t)st->st_size > max)
		return -EFBIG;
	/* Enough for the whole file and its NUL in one read, usually. */
	cap = (size_t)st->st_size + 2;
	if (cap < 4096)
		cap = 4096;
	if (cap > max + 2)
		cap = max + 2;
	*buf = malloc(cap);
	if (!*buf)
		return -ENOMEM;
	return read_all(fd, max, buf, cap, len);
}

int cfg_read_fd(int fd, size_t max, char **buf, size_t *len, struct stat *st)
{
	int r;

	*buf = NULL;
	*len = 0;
	memset(st, 0, sizeof(*st));
	r = read_regular(fd, max, buf, len, st);
	if (r < 0) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	return r;
}

int cfg_read_file(const char *path, size_t max, char **buf, size_t *len, mode_t *mode)
{
	struct stat st;
	int fd, r;

	*buf = NULL;
	*len = 0;
	*mode = 0;
	/* O_NONBLOCK: opening a FIFO for reading must not wait for a writer. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	r = cfg_read_fd(fd, max, buf, len, &st);
	*mode = st.st_mode;
	close(fd);
	return r;
}
