// SPDX-License-Identifier: Apache-2.0
/* placement.h - which CPU each worker runs on, and when in its tick
 * period it wakes. Pure functions over arrays: no syscalls, no allocation,
 * so the supervisor can plan a start or a reload and test it without
 * forking.
 */
#pragma once
#include <sched.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* Gives every cpu[i] == -1 a CPU from allowed. cpu[i] >= 0 on input is
 * fixed (an explicit pin, or a running server that keeps its CPU) and
 * counts toward that CPU's load. balance picks the allowed CPU with the
 * fewest workers (lowest number on ties); pack the lowest allowed CPU with
 * fewer than max_per_cpu workers. A chosen CPU never exceeds max_per_cpu
 * (fixed ones may already). Returns 0, -ENOSPC when some server cannot
 * be placed (cpu[] then partly filled), or -EINVAL for an input cpu[i]
 * outside -1..CPU_SETSIZE-1. */
int placement_assign(enum cfg_placement policy, const cpu_set_t *allowed, uint32_t max_per_cpu,
		     int *cpu, size_t n);

/* period_ns * index_on_cpu / count_on_cpu: the tick phase of the
 * index-th of count workers sharing a CPU, so their ticks do not all
 * wake at once. 0 when count_on_cpu is 0. */
uint64_t placement_phase_ns(uint64_t period_ns, unsigned index_on_cpu, unsigned count_on_cpu);

/* phase_ns[i] for each of n servers: the servers on one CPU, ranked in
 * array order, spread evenly over each one's own tick period
 * (1e9 / tick_hz[i]). Servers with cpu[i] < 0 or tick_hz[i] == 0 get 0. */
void placement_phases(const int *cpu, size_t n, const uint32_t *tick_hz, uint64_t *phase_ns);
