// SPDX-License-Identifier: Apache-2.0
/* proccpu.h - CPU time of process trees, from /proc.
 *
 * A snapshot records every thread of every process descending from (or
 * equal to) one of the root pids, with its CPU time in nanoseconds: the
 * first field of /proc/PID/task/TID/schedstat (exact run time), or, where
 * the kernel lacks it, utime+stime of /proc/PID/task/TID/stat (10 ms
 * ticks, too coarse for a few % over a few seconds). The difference of two
 * snapshots counts only threads present in both (same tid, same process
 * start time, so a recycled id is not mistaken for the old one): a worker
 * restarted in between adds nothing rather than a bogus negative.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proccpu_task {
	pid_t pid;
	pid_t tid;
	uint64_t start; /* process starttime, clock ticks after boot */
	uint64_t ns;    /* CPU time used so far */
};

struct proccpu_proc {
	pid_t pid;
	pid_t ppid;
	uint64_t start;
	int mark;
};

struct proccpu_snap {
	struct proccpu_task *t;
	size_t n, cap;
	struct proccpu_proc *p; /* scratch: every process on the host */
	size_t np, pcap;
};

/* Fills snap with the threads of the trees of roots[0..nroots). Returns
 * the number of processes in the trees, or -errno. -ESRCH means a root
 * does not exist; snap then still holds the trees of the roots that do. */
int proccpu_snap(const pid_t *roots, size_t nroots, struct proccpu_snap *snap);
/* CPU ns used between a and b by threads present in both; *procs gets the
 * number of processes with at least one such thread. */
uint64_t proccpu_delta(const struct proccpu_snap *a, const struct proccpu_snap *b, size_t *procs);
void proccpu_free(struct proccpu_snap *snap);
