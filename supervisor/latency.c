// SPDX-License-Identifier: Apache-2.0
/* latency.c - see latency.h. */
#include "supervisor/latency.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/resource.h>
#include <time.h>

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

bool latency_want_rt(struct latency *l, uint64_t now_ns, uint64_t cpu_ns, bool bulk)
{
	if (!l->enabled)
		return false;
	if (now_ns - l->win_start >= LATENCY_WINDOW_NS) {
		l->win_start = now_ns;
		l->win_cpu = cpu_ns;
		l->over = false;
	}
	if (!l->over && cpu_ns - l->win_cpu > LATENCY_BUDGET_NS) {
		l->over = true;
		l->throttled++;
	}
	return !l->over && !bulk;
}

static int set_policy(bool rt)
{
	struct sched_param p = { .sched_priority = rt ? 1 : 0 };

	if (sched_setscheduler(0, (rt ? SCHED_FIFO : SCHED_OTHER) | SCHED_RESET_ON_FORK, &p) < 0)
		return -errno;
	return 0;
}

static volatile sig_atomic_t turn_cut;

/* SIGXCPU: a turn ran LATENCY_RUN_US at realtime without blocking. The
 * rest of it runs at normal priority. */
static void on_sigxcpu(int sig)
{
	int e = errno;

	(void)sig;
	set_policy(false);
	turn_cut = 1;
	errno = e;
}

/* The kernel raised the soft limit by a second when it signalled:
 * armed again for the next turn. Not armed when the hard limit (a unit's
 * LimitRTTIME=) is that low, since reaching it is SIGKILL: the window's
 * budget is then the only leash. */
static void arm_run_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_RTTIME, &rl) < 0)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= 2 * LATENCY_RUN_US)
		return;
	rl.rlim_cur = LATENCY_RUN_US;
	setrlimit(RLIMIT_RTTIME, &rl);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void latency_normal(struct latency *l)
{
	if (l->rt)
		set_policy(false);
	l->rt = false;
}

int latency_init(struct latency *l, bool want)
{
	int policy, r;

	latency_normal(l); /* a reload finds it realtime, mid-turn */
	*l = (struct latency){ .cut = l->cut, .throttled = l->throttled };
	/* A policy set from outside (a unit's CPUSchedulingPolicy=, chrt) is
	 * the operator's: left alone. (An upgrade execs at normal priority.) */
	policy = sched_getscheduler(0);
	if (policy < 0)
		return -errno;
	if ((policy & ~SCHED_RESET_ON_FORK) != SCHED_OTHER)
		return want ? -EEXIST : 0;
	if (!want)
		return 0;
	r = set_policy(true);
	if (r < 0)
		return r;
	l->enabled = true;
	sigaction(SIGXCPU, &(struct sigaction){ .sa_handler = on_sigxcpu, .sa_flags = SA_RESTART },
		  NULL);
	arm_run_limit();
	return set_policy(false);
}

int latency_before_wait(struct latency *l, uint64_t now_ns, bool bulk)
{
	bool want;
	int r;

	if (!l->enabled)
		return 0;
	if (turn_cut) {
		turn_cut = 0;
		l->rt = false; /* the handler switched */
		l->cut++;
		arm_run_limit();
	}
	want = latency_want_rt(l, now_ns, thread_cpu_ns(), bulk);
	if (want == l->rt)
		return 0;
	r = set_policy(want);
	if (r < 0) {
		l->enabled = false;
		l->rt = false;
		set_policy(false);
		return r;
	}
	l->rt = want;
	return 0;
}
