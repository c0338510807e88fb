// SPDX-License-Identifier: Apache-2.0
/* fleet_sample.c - the once-a-second samples of the fleet (part of the
 * fleet module, see fleet.h): each worker's CPU and RSS from
 * /proc/PID/stat, its tick percentiles from the slot histogram, and the
 * start-progress log line.
 *
 * A /proc read costs ~10-40 us (the kernel formats the whole line), so at
 * 1,000 servers one sweep took ringfleetd 20-40 ms, all in one loop turn,
 * during which no allocation or status was answered. The sweep is spread
 * over loop turns instead: FLEET_SAMPLE_BATCH reads per turn, requests
 * served in between (the daemon polls while a sweep is under way). Each
 * server's CPU % uses its own sample times, so a sweep that spans a few
 * milliseconds changes nothing. */
#include <sched.h>
#include <stdio.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "supervisor/fleet.h"
#include "supervisor/procstat.h"

#define FLEET_SAMPLE_IDLE_NS (10 * RF_NSEC_PER_SEC)

static void sample_cpu(struct fleet *f, struct server *s, uint64_t now)
{
	struct procstat ps;
	uint64_t dt = now - s->cpu_sample_ns;

	if (s->pid <= 0 || procstat_read(s->pid, &ps) < 0)
		return;
	s->cpu_ticks = ps.utime + ps.stime;
	s->rss_kb = ps.rss_kb;
	/* Clock ticks are 10 ms samples: over the few ms since a worker was
	 * forked one tick read as hundreds of percent ("workers use 8626%"
	 * at a 1,000-server start). The next sweep measures from the same
	 * start instead. */
	if (dt < RF_NSEC_PER_SEC / 2)
		return;
	s->cpu_pct = (double)(s->cpu_ticks - s->cpu_ticks_prev) * 100.0 * (double)RF_NSEC_PER_SEC /
		     ((double)f->ticks_per_sec * (double)dt);
	s->cpu_ticks_prev = s->cpu_ticks;
	s->cpu_sample_ns = now;
}

/* Upper bound in ms of histogram bucket b (the last is open-ended: its
 * lower bound is the best we know). */
static double bucket_ms(int b)
{
	if (b == RF_TICK_HIST_BUCKETS - 1)
		b--;
	return RF_TICK_HIST_BASE_NS / 1e6 * (double)(1u << b);
}

static void sample_ticks(struct server *s)
{
	uint64_t d[RF_TICK_HIST_BUCKETS], total = 0, cum = 0;
	int b;

	for (b = 0; b < RF_TICK_HIST_BUCKETS; b++) {
		uint64_t v = RF_LOAD(s->slot->stats.tick_hist[b]);

		d[b] = v >= s->hist_prev[b] ? v - s->hist_prev[b]
					    : v; /* a fresh slot restarts at 0 */
		s->hist_prev[b] = v;
		total += d[b];
	}
	s->tick_p50_ms = s->tick_p99_ms = s->tick_max_ms = 0;
	if (total == 0)
		return;
	for (b = 0; b < RF_TICK_HIST_BUCKETS; b++) {
		cum += d[b];
		if (!s->tick_p50_ms && cum * 2 >= total)
			s->tick_p50_ms = bucket_ms(b);
		if (!s->tick_p99_ms && cum * 100 >= total * 99)
			s->tick_p99_ms = bucket_ms(b);
		if (d[b])
			s->tick_max_ms = bucket_ms(b);
	}
}

/* A start that takes long says how far it got and how busy the CPUs are,
 * every PROGRESS_NS while workers wait: a fleet the host cannot carry
 * (workers' ticks using up their CPUs, or tasks waiting for a CPU most of
 * the time: PSI) shows why it does not come up. */
#define PROGRESS_NS (10 * RF_NSEC_PER_SEC)
#define CPU_BUSY_PCT 75.0
#define CPU_PRESSURE_BUSY 50.0

/* "some avg10" of /proc/pressure/cpu: the share of the last 10 s in which
 * some task waited for a CPU; -1 without PSI. */
static double cpu_pressure(void)
{
	FILE *fp = fopen("/proc/pressure/cpu", "re");
	double v = -1;

	if (!fp)
		return -1;
	if (fscanf(fp, "some avg10=%lf", &v) != 1)
		v = -1;
	fclose(fp);
	return v;
}

static void log_progress(struct fleet *f, double pct, const cpu_set_t *used, uint64_t now)
{
	int ncpu = CPU_COUNT(used);
	size_t counts[FSM_FATAL + 1];
	double psi;
	bool busy;

	if (!f->n_queued && !f->n_inflight) {
		f->progress_ns = 0;
		return;
	}
	if (!f->progress_ns)
		f->progress_ns = now;
	if (now - f->progress_ns < PROGRESS_NS)
		return;
	f->progress_ns = now;
	fleet_count_states(f, counts);
	psi = cpu_pressure();
	busy = (ncpu && pct >= CPU_BUSY_PCT * ncpu) || psi >= CPU_PRESSURE_BUSY;
	log_warn("start in progress: %zu running, %zu forked and not ready yet, %zu queued; "
		 "workers use %.0f%% of the %d CPUs they run on, CPU pressure %.0f%%%s",
		 counts[FSM_RUNNING], f->n_inflight, f->n_queued, pct, ncpu, psi < 0 ? 0 : psi,
		 busy ? ": the CPUs are saturated, the host may not carry this fleet (fewer "
			"servers, lower tick_hz or more cpus)"
		      : "");
}

void fleet_sample_begin(struct fleet *f, uint64_t now)
{
	/* Tick percentiles: memory only, cheap for the whole fleet at once. */
	for (size_t i = 0; i < f->n; i++)
		sample_ticks(f->srv[i]);
	f->sample.next = 0;
	f->sample.active = true;
	f->sample.pct = 0;
	CPU_ZERO(&f->sample.used);
	fleet_sample_step(f, now);
}

void fleet_sample_step(struct fleet *f, uint64_t now)
{
	unsigned reads = 0;

	if (!f->sample.active)
		return;
	/* The table may have changed since the last step (a reload): an index
	 * past the end ends the sweep, a moved server is sampled twice or
	 * not at all this second, which its own sample times absorb. */
	for (; f->sample.next < f->n && reads < FLEET_SAMPLE_BATCH; f->sample.next++) {
		struct server *s = f->srv[f->sample.next];

		if (s->pid <= 0)
			continue;
		/* A sleeping worker's CPU and memory barely move: one read per
		 * FLEET_SAMPLE_IDLE_NS once it has been read at all, so a
		 * thousand idle servers do not cost ringfleetd a thousand /proc
		 * reads a second. */
		if (s->rss_kb && RF_LOAD(s->slot->stats.idle) &&
		    now - s->cpu_sample_ns < FLEET_SAMPLE_IDLE_NS) {
			/* Asleep between beats: no CPU, not the last read's
			 * figure (its start, for a worker idle from birth). */
			s->cpu_pct = 0;
			continue;
		}
		sample_cpu(f, s, now);
		reads++;
		f->sample.pct += s->cpu_pct;
		if (s->cpu >= 0 && s->cpu < CPU_SETSIZE)
			CPU_SET(s->cpu, &f->sample.used);
	}
	if (f->sample.next < f->n)
		return;
	f->sample.active = false;
	log_progress(f, f->sample.pct, &f->sample.used, now);
}

bool fleet_sampling(const struct fleet *f)
{
	return f->sample.active;
}
