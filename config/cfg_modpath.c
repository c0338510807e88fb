// SPDX-License-Identifier: Apache-2.0
/* cfg_modpath.c - see cfg_modpath.h. */
#include "config/cfg_modpath.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What to call obj in a message: the module itself, the module reached
 * through a link, or one of its directories. */
static void describe(const char *path, const char *real, const char *obj, bool is_file, char *buf,
		     size_t len)
{
	if (!is_file)
		snprintf(buf, len, "%s: directory %s", path, obj);
	else if (strcmp(path, real) != 0)
		snprintf(buf, len, "%s -> %s", path, real);
	else
		snprintf(buf, len, "%s", path);
}

/* Owner root or trusted, no write bit for group or others. A sticky
 * world-writable directory (/tmp) is refused too, as sshd does: the rule
 * stays one an operator can check with ls -ld, and a module has no
 * business in a shared scratch directory. */
static int check_one(const struct stat *st, uid_t trusted, const char *what, const char *obj,
		     char *why, size_t len)
{
	if (st->st_uid != 0 && st->st_uid != trusted) {
		if (trusted == 0)
			snprintf(why, len, "%s is owned by uid %u, expected root (chown root %s)",
				 what, (unsigned)st->st_uid, obj);
		else
			snprintf(why, len,
				 "%s is owned by uid %u, expected root or uid %u (ringfleetd's "
				 "user)",
				 what, (unsigned)st->st_uid, (unsigned)trusted);
		return -EPERM;
	}
	if (st->st_mode & S_IWOTH) {
		snprintf(why, len, "%s is writable by anyone (chmod o-w %s)", what, obj);
		return -EPERM;
	}
	if (st->st_mode & S_IWGRP) {
		snprintf(why, len, "%s is writable by group %u (chmod g-w %s)", what,
			 (unsigned)st->st_gid, obj);
		return -EPERM;
	}
	return 0;
}

int cfg_modpath_check(const char *path, uid_t trusted, char *real, size_t reallen, char *why,
		      size_t len)
{
	char buf[PATH_MAX], what[2 * PATH_MAX + 32];
	struct stat st;
	char *slash;
	int r;

	if (path[0] != '/') {
		snprintf(why, len, "%s is not an absolute path", path);
		return -EINVAL;
	}
	if (!realpath(path, buf)) {
		r = -errno;
		snprintf(why, len, "%s: %s", path, strerror(-r));
		return r;
	}
	if (strlen(buf) >= reallen) {
		snprintf(why, len, "%s resolves to a path over %zu bytes", path, reallen - 1);
		return -ENAMETOOLONG;
	}
	/* No link is left in buf, so lstat and stat agree; lstat says so. */
	if (lstat(buf, &st) < 0) {
		r = -errno;
		snprintf(why, len, "%s: %s", path, strerror(-r));
		return r;
	}
	describe(path, buf, buf, true, what, sizeof(what));
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, len, "%s is %s, expected a regular file", what,
			 S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
		return -EINVAL;
	}
	r = check_one(&st, trusted, what, buf, why, len);
	if (r < 0)
		return r;
	strcpy(real, buf);
	/* Every directory up to and including "/". */
	while ((slash = strrchr(buf, '/')) != NULL) {
		if (slash == buf)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (lstat(buf, &st) < 0) {
			r = -errno;
			snprintf(why, len, "%s: %s: %s", path, buf, strerror(-r));
			return r;
		}
		describe(path, real, buf, false, what, sizeof(what));
		if (!S_ISDIR(st.st_mode)) {
			snprintf(why, len, "%s is not a directory", what);
			return -EINVAL;
		}
		r = check_one(&st, trusted, what, buf, why, len);
		if (r < 0)
			return r;
		if (slash == buf)
			break;
	}
	return 0;
}
