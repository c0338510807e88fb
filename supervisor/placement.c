// SPDX-License-Identifier: Apache-2.0
/* placement.c - see placement.h. Per-CPU loads live in fixed arrays of
 * CPU_SETSIZE entries on the stack; nothing here can fail for lack of
 * memory. */
#include "supervisor/placement.h"

#include <errno.h>
#include <string.h>

#define NSEC_PER_SEC 1000000000ull

/* Loads from the fixed entries; -EINVAL for an invalid cpu value. */
static int count_fixed(const int *cpu, size_t n, uint32_t *load)
{
	memset(load, 0, CPU_SETSIZE * sizeof(*load));
	for (size_t i = 0; i < n; i++) {
		if (cpu[i] < -1 || cpu[i] >= CPU_SETSIZE)
			return -EINVAL;
		if (cpu[i] >= 0)
			load[cpu[i]]++;
	}
	return 0;
}

/* The allowed CPU with the fewest workers, below max; -1 if none. */
static int least_loaded(const int *cpus, int n_cpus, const uint32_t *load, uint32_t max)
{
	int best = -1;

	for (int i = 0; i < n_cpus; i++) {
		int c = cpus[i];

		if (load[c] < max && (best < 0 || load[c] < load[best]))
			best = c;
	}
	return best;
}

int placement_assign(enum cfg_placement policy, const cpu_set_t *allowed, uint32_t max_per_cpu,
		     int *cpu, size_t n)
{
	uint32_t load[CPU_SETSIZE];
	int cpus[CPU_SETSIZE], n_cpus = 0, next = 0, r;

	r = count_fixed(cpu, n, load);
	if (r < 0)
		return r;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, allowed))
			cpus[n_cpus++] = c; /* ascending, so ties go to the lowest */
	for (size_t i = 0; i < n; i++) {
		int c;

		if (cpu[i] >= 0)
			continue;
		if (policy == CFG_PLACE_PACK) {
			/* Loads only grow, so a full CPU stays full: the
			 * cursor never moves back and pack is O(n + CPUs). */
			while (next < n_cpus && load[cpus[next]] >= max_per_cpu)
				next++;
			c = next < n_cpus ? cpus[next] : -1;
		} else {
			c = least_loaded(cpus, n_cpus, load, max_per_cpu);
		}
		if (c < 0)
			return -ENOSPC;
		cpu[i] = c;
		load[c]++;
	}
	return 0;
}

uint64_t placement_phase_ns(uint64_t period_ns, unsigned index_on_cpu, unsigned count_on_cpu)
{
	if (!count_on_cpu)
		return 0;
	/* 128-bit so a long period times a large index cannot overflow. */
	return (uint64_t)((unsigned __int128)period_ns * index_on_cpu / count_on_cpu);
}

void placement_phases(const int *cpu, size_t n, const uint32_t *tick_hz, uint64_t *phase_ns)
{
	unsigned count[CPU_SETSIZE] = { 0 }, rank[CPU_SETSIZE] = { 0 };

	for (size_t i = 0; i < n; i++)
		if (cpu[i] >= 0 && cpu[i] < CPU_SETSIZE)
			count[cpu[i]]++;
	for (size_t i = 0; i < n; i++) {
		int c = cpu[i];
		unsigned index;

		phase_ns[i] = 0;
		if (c < 0 || c >= CPU_SETSIZE)
			continue;
		index = rank[c]++;
		if (tick_hz[i])
			phase_ns[i] =
				placement_phase_ns(NSEC_PER_SEC / tick_hz[i], index, count[c]);
	}
}
