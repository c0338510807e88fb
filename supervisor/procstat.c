// SPDX-License-Identifier: Apache-2.0
/* procstat.c - see procstat.h. */
#include "supervisor/procstat.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The unsigned decimal field at *p; moves *p past it and its space. */
static bool field(const char **p, unsigned long long *v)
{
	const char *s = *p;
	unsigned long long n = 0;

	if (*s == '-')
		s++; /* rss may in theory be negative: read as 0 below */
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++)
		n = n * 10 + (unsigned long long)(*s - '0');
	*v = **p == '-' ? 0 : n;
	*p = *s == ' ' ? s + 1 : s;
	return true;
}

/* Skips n space-separated fields. */
static const char *skip(const char *p, int n)
{
	while (n-- > 0 && p) {
		p = strchr(p, ' ');
		p = p ? p + 1 : NULL;
	}
	return p;
}

/* Fields after comm, counted from 3 (state) as in proc(5): ppid 4,
 * utime 14, stime 15, starttime 22, rss 24. By hand rather than sscanf, which cost
 * more than the read itself at a thousand workers a second. */
int procstat_read(pid_t pid, struct procstat *ps)
{
	char path[64], buf[1024];
	const char *p;
	unsigned long long ppid, utime, stime, start, rss;
	int fd;
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
	if (!p || p[1] != ' ')
		return -EIO;
	ps->state = p[2];
	p = skip(p + 2, 1); /* state */
	if (!p || !field(&p, &ppid))
		return -EIO;
	p = skip(p, 9); /* 5..13 */
	if (!p || !field(&p, &utime) || !field(&p, &stime))
		return -EIO;
	p = skip(p, 6); /* 16..21 */
	if (!p || !field(&p, &start))
		return -EIO;
	p = skip(p, 1); /* 23 */
	if (!p || !field(&p, &rss))
		return -EIO;
	ps->start_time = start;
	ps->ppid = (pid_t)ppid;
	ps->utime = utime;
	ps->stime = stime;
	ps->rss_kb = rss * (uint64_t)(sysconf(_SC_PAGESIZE) / 1024);
	return 0;
}
