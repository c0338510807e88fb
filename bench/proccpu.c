// SPDX-License-Identifier: Apache-2.0
/* proccpu.c - see proccpu.h. */
#include "bench/proccpu.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return n;
}

/* Parses a stat file. The comm field may contain spaces and ')', so
 * fields are counted from the last ')'. Gets ppid (field 4), utime +
 * stime (14, 15) and starttime (22). */
static int parse_stat(const char *path, pid_t *ppid, uint64_t *ticks, uint64_t *start)
{
	unsigned long long ut, st, s;
	char buf[1024], *p;
	int pp;

	if (read_small(path, buf, sizeof(buf)) < 0)
		return -ESRCH;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2,
			 "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu"
			 " %llu %*d %*d %*d %*d %*d %*d %llu",
			 &pp, &ut, &st, &s) != 4)
		return -EIO;
	*ppid = pp;
	*ticks = ut + st;
	*start = s;
	return 0;
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t c;
	void *na;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 256;
	na = realloc(*arr, c * size);
	if (!na)
		return -ENOMEM;
	*arr = na;
	*cap = c;
	return 0;
}

static int read_procs(struct proccpu_snap *s)
{
	struct proccpu_proc p = { 0 };
	struct dirent *de;
	char path[64];
	uint64_t ticks;
	int ret = 0;
	DIR *d;

	s->np = 0;
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		p.pid = atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)p.pid);
		/* a process may exit between readdir and open: skip it */
		if (parse_stat(path, &p.ppid, &ticks, &p.start) < 0)
			continue;
		ret = grow((void **)&s->p, &s->pcap, s->np, sizeof(p));
		if (ret < 0)
			break;
		s->p[s->np++] = p;
	}
	closedir(d);
	return ret;
}

/* Marks roots, then repeatedly marks children of marked processes until
 * nothing changes; trees are shallow, so this converges in a few passes.
 * Returns the number of roots found. */
static size_t mark_trees(struct proccpu_snap *s, const pid_t *roots, size_t nroots)
{
	size_t found = 0;
	int changed = 1;

	for (size_t r = 0; r < nroots; r++)
		for (size_t i = 0; i < s->np; i++)
			if (s->p[i].pid == roots[r] && !s->p[i].mark) {
				s->p[i].mark = 1;
				found++;
			}
	while (changed) {
		changed = 0;
		for (size_t i = 0; i < s->np; i++) {
			if (s->p[i].mark)
				continue;
			for (size_t j = 0; j < s->np; j++)
				if (s->p[j].mark && s->p[j].pid == s->p[i].ppid) {
					s->p[i].mark = 1;
					changed = 1;
					break;
				}
		}
	}
	return found;
}

static int task_ns(pid_t pid, pid_t tid, uint64_t *ns)
{
	static long hz;
	char path[96], buf[256];
	unsigned long long v;
	uint64_t ticks, start;
	pid_t ppid;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
	if (read_small(path, buf, sizeof(buf)) > 0 && sscanf(buf, "%llu", &v) == 1) {
		*ns = v;
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	if (parse_stat(path, &ppid, &ticks, &start) < 0)
		return -ESRCH;
	if (!hz)
		hz = sysconf(_SC_CLK_TCK);
	*ns = ticks * (1000000000ull / (uint64_t)hz);
	return 0;
}

static int read_tasks(struct proccpu_snap *s, const struct proccpu_proc *p)
{
	struct proccpu_task t = { .pid = p->pid, .start = p->start };
	struct dirent *de;
	char path[64];
	int ret = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)p->pid);
	d = opendir(path);
	if (!d)
		return 0; /* exited since read_procs */
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		t.tid = atoi(de->d_name);
		if (task_ns(p->pid, t.tid, &t.ns) < 0)
			continue;
		ret = grow((void **)&s->t, &s->cap, s->n, sizeof(t));
		if (ret < 0)
			break;
		s->t[s->n++] = t;
	}
	closedir(d);
	return ret;
}

int proccpu_snap(const pid_t *roots, size_t nroots, struct proccpu_snap *snap)
{
	size_t found;
	int ret, procs = 0;

	snap->n = 0;
	ret = read_procs(snap);
	if (ret < 0)
		return ret;
	found = mark_trees(snap, roots, nroots);
	for (size_t i = 0; i < snap->np; i++) {
		if (!snap->p[i].mark)
			continue;
		ret = read_tasks(snap, &snap->p[i]);
		if (ret < 0)
			return ret;
		procs++;
	}
	return found < nroots ? -ESRCH : procs;
}

uint64_t proccpu_delta(const struct proccpu_snap *a, const struct proccpu_snap *b, size_t *procs)
{
	uint64_t sum = 0;
	size_t n = 0;
	pid_t last = 0;

	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < b->n; j++) {
			const struct proccpu_task *x = &a->t[i], *y = &b->t[j];

			if (x->tid != y->tid || x->pid != y->pid || x->start != y->start)
				continue;
			if (y->ns >= x->ns)
				sum += y->ns - x->ns;
			/* tasks of one process are listed together */
			if (x->pid != last) {
				n++;
				last = x->pid;
			}
			break;
		}
	if (procs)
		*procs = n;
	return sum;
}

void proccpu_free(struct proccpu_snap *snap)
{
	free(snap->t);
	free(snap->p);
	memset(snap, 0, sizeof(*snap));
}
