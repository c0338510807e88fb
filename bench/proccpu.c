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

/* Parses /proc/PID/stat. The comm field may contain spaces and ')', so
 * fields are counted from the last ')'. /proc/PID/stat (not the per-task
 * files) is used because its utime/stime also include threads that have
 * already exited. */
static int read_stat(pid_t pid, struct proccpu_proc *out)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st, start;
	int fd, ppid;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	/* fields 3 (state) .. 22 (starttime); 14/15 are utime/stime */
	if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu"
		   " %*d %*d %*d %*d %*d %*d %llu", &ppid, &ut, &st, &start) != 4)
		return -EIO;
	out->pid = pid;
	out->ppid = ppid;
	out->ticks = ut + st;
	out->start = start;
	out->mark = 0;
	return 0;
}

static int snap_push(struct proccpu_snap *s, const struct proccpu_proc *p)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct proccpu_proc *np = realloc(s->p, cap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		s->p = np;
		s->cap = cap;
	}
	s->p[s->n++] = *p;
	return 0;
}

static int read_all(struct proccpu_snap *s)
{
	struct proccpu_proc p;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	s->n = 0;
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		/* a process may exit between readdir and open: skip it */
		if (read_stat(atoi(de->d_name), &p) < 0)
			continue;
		ret = snap_push(s, &p);
		if (ret < 0)
			break;
	}
	closedir(d);
	return ret;
}

/* Marks roots, then repeatedly marks children of marked processes until
 * nothing changes; trees are shallow, so this converges in a few passes. */
static int mark_trees(struct proccpu_snap *s, const pid_t *roots, size_t nroots)
{
	size_t found = 0;
	int changed = 1;

	for (size_t r = 0; r < nroots; r++)
		for (size_t i = 0; i < s->n; i++)
			if (s->p[i].pid == roots[r] && !s->p[i].mark) {
				s->p[i].mark = 1;
				found++;
			}
	while (changed) {
		changed = 0;
		for (size_t i = 0; i < s->n; i++) {
			if (s->p[i].mark)
				continue;
			for (size_t j = 0; j < s->n; j++)
				if (s->p[j].mark && s->p[j].pid == s->p[i].ppid) {
					s->p[i].mark = 1;
					changed = 1;
					break;
				}
		}
	}
	return found < nroots ? -ESRCH : 0;
}

int proccpu_snap(const pid_t *roots, size_t nroots, struct proccpu_snap *snap)
{
	size_t k = 0;
	int ret;

	ret = read_all(snap);
	if (ret < 0)
		return ret;
	ret = mark_trees(snap, roots, nroots);
	for (size_t i = 0; i < snap->n; i++)
		if (snap->p[i].mark)
			snap->p[k++] = snap->p[i];
	snap->n = k;
	return ret < 0 ? ret : (int)k;
}

uint64_t proccpu_delta(const struct proccpu_snap *a,
		       const struct proccpu_snap *b, size_t *both)
{
	uint64_t sum = 0;
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < b->n; j++) {
			if (a->p[i].pid != b->p[j].pid ||
			    a->p[i].start != b->p[j].start)
				continue;
			if (b->p[j].ticks >= a->p[i].ticks)
				sum += b->p[j].ticks - a->p[i].ticks;
			n++;
			break;
		}
	if (both)
		*both = n;
	return sum;
}

void proccpu_free(struct proccpu_snap *snap)
{
	free(snap->p);
	snap->p = NULL;
	snap->n = snap->cap = 0;
}
