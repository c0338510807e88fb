// SPDX-License-Identifier: Apache-2.0
/* procstat.c - see procstat.h. */
#include "supervisor/procstat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int procstat_read(pid_t pid, struct procstat *ps)
{
	char path[64], buf[1024], *p;
	unsigned long long utime, stime;
	long long rss;
	int ppid, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: parse after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	if (sscanf(p + 2,
		   "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
		   "%*d %*d %*d %*d %*d %*d %*u %*u %lld",
		   &ppid, &utime, &stime, &rss) != 4)
		return -EIO;
	ps->ppid = ppid;
	ps->utime = utime;
	ps->stime = stime;
	ps->rss_kb = rss > 0 ? (uint64_t)rss * (uint64_t)(sysconf(_SC_PAGESIZE) / 1024) : 0;
	return 0;
}
