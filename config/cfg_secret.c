// SPDX-License-Identifier: Apache-2.0
/* cfg_secret.c - see cfg_secret.h. */
#include "config/cfg_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfg_file.h"

static int check_stat(const char *path, const struct stat *st, uid_t trusted, char *why,
		      size_t whylen)
{
	mode_t mode = st->st_mode & 07777;

	if (mode != 0600 && mode != 0640) {
		snprintf(why, whylen, "%s has mode %04o, expected 0600 or 0640 (chmod 0600 %s)",
			 path, (unsigned)mode, path);
		return -EPERM;
	}
	if (st->st_uid != 0 && st->st_uid != trusted) {
		snprintf(why, whylen,
			 "%s is owned by uid %u, expected root or uid %u (ringfleetd's user)", path,
			 (unsigned)st->st_uid, (unsigned)trusted);
		return -EPERM;
	}
	return 0;
}

static void describe(const char *path, int err, const struct stat *st, size_t max, char *why,
		     size_t whylen)
{
	if (err == -ELOOP)
		snprintf(why, whylen, "%s is a symbolic link, expected the file itself", path);
	else if (err == -EISDIR || err == -EINVAL)
		snprintf(why, whylen, "%s is %s, expected a regular file", path,
			 cfg_file_kind(st->st_mode));
	else if (err == -EFBIG)
		snprintf(why, whylen, "%s is over %zu bytes", path, max);
	else
		snprintf(why, whylen, "%s: %s", path, strerror(-err));
}

void cfg_secret_free(char *buf, size_t len)
{
	if (!buf)
		return;
	memset(buf, 0, len);
	free(buf);
}

int cfg_secret_read(const char *path, uid_t trusted, size_t max, char **buf, size_t *len, char *why,
		    size_t whylen)
{
	struct stat st = { 0 };
	int fd, r;

	*buf = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO in its place must not hang the loop. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	r = fd < 0 ? -errno : cfg_read_fd(fd, max, buf, len, &st);
	if (fd >= 0)
		close(fd);
	if (r == 0)
		r = check_stat(path, &st, trusted, why, whylen);
	else
		describe(path, r, &st, max, why, whylen);
	if (r < 0) {
		cfg_secret_free(*buf, *len);
		*buf = NULL;
		*len = 0;
	}
	return r;
}
