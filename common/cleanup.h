// SPDX-License-Identifier: Apache-2.0
/* cleanup.h - scope-bound release of fds and heap memory (GNU C
 * __attribute__((cleanup)), as systemd's _cleanup_close_), so that error
 * paths need no repeated teardown. A function that hands the resource on
 * takes it out of the variable with TAKE_FD()/TAKE_PTR() first.
 */
#pragma once
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* Keep errno: callers compute -errno before the variable goes out of scope,
 * but some read it after. */
static inline void rf_closep(int *fd)
{
	int saved = errno;

	if (*fd >= 0)
		close(*fd);
	errno = saved;
}

static inline void rf_freep(void *p)
{
	free(*(void **)p);
}

#define _cleanup_close_ __attribute__((cleanup(rf_closep)))
#define _cleanup_free_ __attribute__((cleanup(rf_freep)))

/* The value, leaving -1 / NULL behind so the cleanup does nothing. */
#define TAKE_FD(fd)             \
	({                      \
		int _fd = (fd); \
		(fd) = -1;      \
		_fd;            \
	})
#define TAKE_PTR(p)                     \
	({                              \
		__typeof__(p) _p = (p); \
		(p) = NULL;             \
		_p;                     \
	})
