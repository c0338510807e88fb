// SPDX-License-Identifier: Apache-2.0
/* latency.h - ringfleetd answers requests at realtime priority, on a leash.
 *
 * On a dense host ringfleetd shares every core with hundreds of ticking
 * workers. At normal priority a control or API request waited for the CPU
 * far longer than for ringfleetd's own work (~0.05 ms an allocation): the
 * scheduler woke ringfleetd behind a worker or kept it queued while the
 * other core idled, ~1 ms at a time (bench/alloc_bench.py, 200 servers).
 * As SCHED_FIFO priority 1 it runs as soon as it wakes.
 *
 * Realtime must not cost the workers on its core their ticks, so:
 * - only waiting is realtime: a loop turn that will poll again at once
 *   for bulk work (spawn queue, /proc sweep) switches to SCHED_OTHER
 *   first, so that work is shared fairly (a status reply being built, 32
 *   servers a turn, is an answer: it stays realtime); so does a turn
 *   with events not yet written to a subscriber, which ringfleetd at
 *   realtime would outrun and drop;
 * - a turn that runs long (a reload of 16,000 servers, /metrics of
 *   1,000) is cut: RLIMIT_RTTIME's soft limit (LATENCY_RUN_US of CPU
 *   without blocking) raises SIGXCPU, whose handler switches to
 *   SCHED_OTHER on the spot (the kernel checks it at its tick: a few ms);
 * - a budget: over LATENCY_BUDGET_NS of CPU in a LATENCY_WINDOW_NS window
 *   (a flood of requests, say) it stays SCHED_OTHER until the window ends;
 * - SCHED_RESET_ON_FORK: workers and other children start SCHED_OTHER.
 *
 * It needs CAP_SYS_NICE or RLIMIT_RTPRIO >= 1 (the unit: LimitRTPRIO=1);
 * without either, ringfleetd runs at normal priority and says so once.
 * `realtime = no` in [supervisor] turns it off.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define LATENCY_WINDOW_NS 100000000ull /* 100 ms */
#define LATENCY_BUDGET_NS 25000000ull  /* 25% of one CPU */
#define LATENCY_RUN_US 2000ull         /* realtime CPU without blocking */

struct latency {
	bool enabled;       /* realtime = yes, and the kernel allowed it */
	bool rt;            /* SCHED_FIFO right now */
	bool over;          /* the window's budget is spent */
	uint64_t win_start; /* CLOCK_MONOTONIC ns: the current window */
	uint64_t win_cpu;   /* thread CPU ns at the window's start */
	uint64_t cut;       /* turns cut short by LATENCY_RUN_US */
	uint64_t throttled; /* windows whose budget ran out */
};

/* Pure: whether the next wait should be realtime, given the time, the
 * thread's CPU time and whether bulk work makes the loop poll. */
bool latency_want_rt(struct latency *l, uint64_t now_ns, uint64_t cpu_ns, bool bulk);

/* Tries SCHED_FIFO once to learn whether it is allowed, then goes back to
 * SCHED_OTHER (start-up work is not urgent). Returns 0 (l->enabled says
 * whether realtime will be used), -EEXIST when the thread already runs
 * under another policy than SCHED_OTHER (set from outside: left alone),
 * or -errno when it is not permitted. Called again on a reload; the
 * counters are kept. */
int latency_init(struct latency *l, bool want);

/* Before each wait: sets the policy latency_want_rt() asks for. Returns
 * 0, or -errno when the policy could not be changed (l->enabled is then
 * cleared: ringfleetd stays SCHED_OTHER). */
int latency_before_wait(struct latency *l, uint64_t now_ns, bool bulk);

/* SCHED_OTHER until the next latency_before_wait() (before an exec). */
void latency_normal(struct latency *l);
