// SPDX-License-Identifier: Apache-2.0
/* procstat.h - reading a process's CPU time and memory from /proc. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

struct procstat {
	uint64_t utime, stime; /* clock ticks */
	uint64_t rss_kb;
	uint64_t start_time; /* clock ticks after boot: with the pid, names one process */
	pid_t ppid;
	char state; /* R, S, Z (a zombie: exited, not reaped) ... */
};

/* Returns 0, or -errno (-ENOENT once the process is gone). */
int procstat_read(pid_t pid, struct procstat *ps);
