// SPDX-License-Identifier: Apache-2.0
/* fsm.c - see fsm.h. */
#include "supervisor/fsm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "common/exitcode.h"
#include "common/timeutil.h"

static const char *const state_names[] = {
	[FSM_STOPPED] = "stopped", [FSM_STARTING] = "starting", [FSM_RUNNING] = "running",
	[FSM_BACKOFF] = "backoff", [FSM_STOPPING] = "stopping", [FSM_FATAL] = "fatal",
};

const char *fsm_state_name(enum fsm_state s)
{
	return state_names[s];
}

bool fsm_has_process(enum fsm_state s)
{
	return s == FSM_STARTING || s == FSM_RUNNING || s == FSM_STOPPING;
}

void fsm_init(struct fsm *m)
{
	memset(m, 0, sizeof(*m));
	m->state = FSM_STOPPED;
}

void fsm_describe_exit(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by SIG%s", sigabbrev_np(WTERMSIG(st)) ?: "?");
	else
		snprintf(buf, len, "ended (wait status %#x)", (unsigned)st);
}

static void enter(struct fsm *m, enum fsm_state s, uint64_t now, uint64_t deadline)
{
	m->state = s;
	m->since_ns = now;
	m->deadline_ns = deadline;
}

static struct fsm_result spawn(struct fsm *m, const struct fsm_policy *p, uint64_t now)
{
	if (m->spawned_once)
		m->restarts++;
	m->spawned_once = true;
	m->hung = false;
	enter(m, FSM_STARTING, now, now + p->start_timeout_ns);
	return (struct fsm_result){ FSM_ACT_SPAWN, true };
}

void fsm_spawn_queued(struct fsm *m, const char *why)
{
	if (m->state != FSM_STARTING)
		return;
	m->deadline_ns = 0;
	snprintf(m->reason, sizeof(m->reason), "%s", why);
}

void fsm_spawn_dequeued(struct fsm *m, const struct fsm_policy *p, uint64_t now)
{
	if (m->state != FSM_STARTING)
		return;
	m->since_ns = now;
	m->deadline_ns = now + p->start_timeout_ns;
}

static struct fsm_result stop(struct fsm *m, const struct fsm_policy *p, uint64_t now)
{
	enter(m, FSM_STOPPING, now, now + p->stop_timeout_ns);
	return (struct fsm_result){ FSM_ACT_TERM, true };
}

/* Crashes older than the window no longer count toward the limit. */
static uint32_t crashes_in_window(const struct fsm *m, const struct fsm_policy *p, uint64_t now)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < m->n_crashes; i++)
		if (now - m->crashes[i] < p->window_ns)
			n++;
	return n;
}

static void record_crash(struct fsm *m, uint64_t now)
{
	m->crashes[m->crash_head] = now;
	m->crash_head = (m->crash_head + 1) % FSM_CRASH_HISTORY;
	if (m->n_crashes < FSM_CRASH_HISTORY)
		m->n_crashes++;
}

static uint64_t backoff_delay(const struct fsm *m, const struct fsm_policy *p)
{
	uint64_t d = p->delay_ns;

	if (m->consecutive <= 1)
		return 0; /* the first crash restarts at once */
	for (uint32_t i = 2; i < m->consecutive && d < p->delay_max_ns; i++)
		d *= 2;
	return d < p->delay_max_ns ? d : p->delay_max_ns;
}

/* what: how it ended, for the reason ("exited with status 1"); detail:
 * the worker's words for a configuration error, or NULL. */
static struct fsm_result on_crash(struct fsm *m, const struct fsm_policy *p, int st,
				  const char *what, const char *detail, uint64_t now)
{
	uint32_t limit =
		p->crash_limit < FSM_CRASH_HISTORY ? p->crash_limit : FSM_CRASH_HISTORY - 1;
	uint64_t delay;

	if (WIFEXITED(st) && WEXITSTATUS(st) == RF_EXIT_CONFIG) {
		if (detail && *detail)
			snprintf(m->reason, sizeof(m->reason),
				 "%s (configuration error: %s): not restarting", what, detail);
		else
			snprintf(m->reason, sizeof(m->reason),
				 "%s (configuration error): not restarting", what);
		enter(m, FSM_FATAL, now, 0);
		return (struct fsm_result){ FSM_ACT_NONE, true };
	}
	if (m->state == FSM_RUNNING && now - m->ready_ns >= p->stable_ns)
		m->consecutive = 0;
	m->consecutive++;
	record_crash(m, now);
	if (crashes_in_window(m, p, now) > limit) {
		snprintf(m->reason, sizeof(m->reason), "%s%s: %u crashes within %llus, giving up",
			 what, m->hung ? " (hung)" : "", crashes_in_window(m, p, now),
			 (unsigned long long)(p->window_ns / RF_NSEC_PER_SEC));
		enter(m, FSM_FATAL, now, 0);
		return (struct fsm_result){ FSM_ACT_NONE, true };
	}
	delay = backoff_delay(m, p);
	snprintf(m->reason, sizeof(m->reason), "%s%s: restarting in %llu ms", what,
		 m->hung ? " (hung)" : "", (unsigned long long)(delay / RF_NSEC_PER_MSEC));
	if (delay == 0)
		return spawn(m, p, now);
	enter(m, FSM_BACKOFF, now, now + delay);
	return (struct fsm_result){ FSM_ACT_NONE, true };
}

static struct fsm_result on_exit_event(struct fsm *m, const struct fsm_policy *p, int st,
				       const char *detail, uint64_t now)
{
	char what[48];

	if (m->state == FSM_STOPPING) {
		fsm_describe_exit(st, what, sizeof(what));
		snprintf(m->reason, sizeof(m->reason), "%s", what);
		enter(m, FSM_STOPPED, now, 0);
		if (m->restart_pending) {
			m->restart_pending = false;
			m->consecutive = 0;
			return spawn(m, p, now);
		}
		return (struct fsm_result){ FSM_ACT_NONE, true };
	}
	if (m->state == FSM_STARTING || m->state == FSM_RUNNING) {
		fsm_describe_exit(st, what, sizeof(what));
		return on_crash(m, p, st, what, detail, now);
	}
	return (struct fsm_result){ FSM_ACT_NONE, false };
}

enum fsm_spawn_err fsm_spawn_err_class(int err)
{
	switch (err) {
	/* ETXTBSY: the binary is being written, as by a copying upgrade. */
	case EMFILE:
	case ENFILE:
	case EAGAIN:
	case ENOMEM:
	case ENOBUFS:
	case ENOSPC:
	case ETXTBSY:
		return FSM_SPAWN_TRANSIENT;
	case ENOENT:
	case EACCES:
	case ENOEXEC:
	case ENOTDIR:
	case ELOOP:
	case EISDIR:
	case ENAMETOOLONG:
	case ELIBBAD:
	case E2BIG:
		return FSM_SPAWN_CONFIG;
	default:
		return FSM_SPAWN_CRASH;
	}
}

/* Retrying at once would fail again: the first retry already waits
 * delay_ns, doubling up to delay_max_ns. */
static uint64_t spawn_retry_delay(const struct fsm *m, const struct fsm_policy *p)
{
	uint64_t d = p->delay_ns ? p->delay_ns : 1;

	for (uint32_t i = 1; i < m->spawn_failures && d < p->delay_max_ns; i++)
		d *= 2;
	return d < p->delay_max_ns ? d : p->delay_max_ns;
}

static struct fsm_result on_spawn_failed(struct fsm *m, const struct fsm_policy *p, int err,
					 uint64_t now)
{
	char what[64];
	uint64_t delay;

	if (m->state != FSM_STARTING)
		return (struct fsm_result){ FSM_ACT_NONE, false };
	snprintf(what, sizeof(what), "spawn failed: %s", strerror(err));
	switch (fsm_spawn_err_class(err)) {
	case FSM_SPAWN_CONFIG:
		snprintf(m->reason, sizeof(m->reason), "%s (worker binary): not restarting", what);
		enter(m, FSM_FATAL, now, 0);
		return (struct fsm_result){ FSM_ACT_NONE, true };
	case FSM_SPAWN_CRASH:
		return on_crash(m, p, RF_EXIT_EXEC << 8, what, NULL, now);
	case FSM_SPAWN_TRANSIENT:
		break;
	}
	m->spawn_failures++;
	delay = spawn_retry_delay(m, p);
	snprintf(m->reason, sizeof(m->reason), "%s: retrying in %llu ms", what,
		 (unsigned long long)(delay / RF_NSEC_PER_MSEC));
	enter(m, FSM_BACKOFF, now, now + delay);
	return (struct fsm_result){ FSM_ACT_NONE, true };
}

static struct fsm_result on_timer(struct fsm *m, const struct fsm_policy *p, uint64_t now)
{
	if (m->deadline_ns == 0 || now < m->deadline_ns)
		return (struct fsm_result){ FSM_ACT_NONE, false };
	switch (m->state) {
	case FSM_BACKOFF:
		snprintf(m->reason, sizeof(m->reason), "backoff over: restarting");
		return spawn(m, p, now);
	case FSM_STOPPING:
		snprintf(m->reason, sizeof(m->reason), "did not stop within %llu ms: killing",
			 (unsigned long long)(p->stop_timeout_ns / RF_NSEC_PER_MSEC));
		m->deadline_ns = 0;
		return (struct fsm_result){ FSM_ACT_KILL, false };
	case FSM_STARTING:
		snprintf(m->reason, sizeof(m->reason), "not ready within %llu ms: killing",
			 (unsigned long long)(p->start_timeout_ns / RF_NSEC_PER_MSEC));
		m->deadline_ns = 0;
		m->hung = true;
		return (struct fsm_result){ FSM_ACT_KILL, false };
	default:
		m->deadline_ns = 0;
		return (struct fsm_result){ FSM_ACT_NONE, false };
	}
}

static struct fsm_result on_start(struct fsm *m, const struct fsm_policy *p, uint64_t now)
{
	switch (m->state) {
	case FSM_FATAL:
		m->n_crashes = 0;
		m->consecutive = 0;
		m->spawn_failures = 0;
		/* fall through */
	case FSM_STOPPED:
	case FSM_BACKOFF:
		snprintf(m->reason, sizeof(m->reason), "start requested");
		return spawn(m, p, now);
	case FSM_STOPPING:
		m->restart_pending = true;
		return (struct fsm_result){ FSM_ACT_NONE, false };
	default:
		return (struct fsm_result){ FSM_ACT_NONE, false };
	}
}

static struct fsm_result on_stop(struct fsm *m, const struct fsm_policy *p, uint64_t now)
{
	m->restart_pending = false;
	switch (m->state) {
	case FSM_STARTING:
	case FSM_RUNNING:
		snprintf(m->reason, sizeof(m->reason), "stop requested");
		return stop(m, p, now);
	case FSM_BACKOFF:
	case FSM_FATAL:
		snprintf(m->reason, sizeof(m->reason), "stop requested");
		enter(m, FSM_STOPPED, now, 0);
		return (struct fsm_result){ FSM_ACT_NONE, true };
	default:
		return (struct fsm_result){ FSM_ACT_NONE, false };
	}
}

static struct fsm_result on_restart(struct fsm *m, const struct fsm_policy *p, uint64_t now)
{
	if (m->state == FSM_STARTING || m->state == FSM_RUNNING) {
		struct fsm_result r = stop(m, p, now);

		snprintf(m->reason, sizeof(m->reason), "restart requested");
		m->restart_pending = true;
		return r;
	}
	if (m->state == FSM_STOPPING) {
		m->restart_pending = true;
		return (struct fsm_result){ FSM_ACT_NONE, false };
	}
	return on_start(m, p, now);
}

struct fsm_result fsm_step(struct fsm *m, const struct fsm_policy *p, const struct fsm_event *ev,
			   uint64_t now)
{
	switch (ev->type) {
	case FSM_EV_START:
		return on_start(m, p, now);
	case FSM_EV_STOP:
		return on_stop(m, p, now);
	case FSM_EV_RESTART:
		return on_restart(m, p, now);
	case FSM_EV_READY:
		/* Killed for its start timeout: a readiness already on its way
		 * does not make a dying worker running. */
		if (m->state != FSM_STARTING || m->hung)
			return (struct fsm_result){ FSM_ACT_NONE, false };
		m->ready_ns = now;
		m->spawn_failures = 0;
		snprintf(m->reason, sizeof(m->reason), "ready");
		enter(m, FSM_RUNNING, now, 0);
		return (struct fsm_result){ FSM_ACT_NONE, true };
	case FSM_EV_EXIT:
		return on_exit_event(m, p, ev->wait_status, ev->detail, now);
	case FSM_EV_HANG:
		if (m->state != FSM_RUNNING && m->state != FSM_STARTING)
			return (struct fsm_result){ FSM_ACT_NONE, false };
		m->hung = true;
		snprintf(m->reason, sizeof(m->reason), "no heartbeat: killing");
		return (struct fsm_result){ FSM_ACT_KILL, false };
	case FSM_EV_TIMER:
		return on_timer(m, p, now);
	case FSM_EV_SPAWN_FAILED:
		return on_spawn_failed(m, p, ev->err, now);
	}
	return (struct fsm_result){ FSM_ACT_NONE, false };
}
