/* proccpu.h - CPU time of process trees, from /proc.
 *
 * A snapshot records, for every process descending from (or equal to) one
 * of the root pids, its utime+stime in clock ticks. The difference of two
 * snapshots counts only processes present in both (same pid and same start
 * time, so a recycled pid is not mistaken for the old process): a worker
 * restarted in between contributes nothing rather than a bogus negative.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proccpu_proc {
	pid_t pid;
	pid_t ppid;
	uint64_t start;  /* starttime, clock ticks after boot */
	uint64_t ticks;  /* utime + stime of the whole thread group */
	int mark;
};

struct proccpu_snap {
	struct proccpu_proc *p;
	size_t n;
	size_t cap;
};

/* Fills snap with the trees of roots[0..nroots). Returns the number of
 * processes kept, or -errno. -ESRCH means a root does not exist; snap then
 * still holds the trees of the roots that do. */
int proccpu_snap(const pid_t *roots, size_t nroots, struct proccpu_snap *snap);
/* Ticks used between a and b by processes present in both; *both gets
 * their count. */
uint64_t proccpu_delta(const struct proccpu_snap *a,
		       const struct proccpu_snap *b, size_t *both);
void proccpu_free(struct proccpu_snap *snap);
