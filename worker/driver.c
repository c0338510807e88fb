// SPDX-License-Identifier: Apache-2.0
/* driver.c - see driver.h. */
#include "worker/driver.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "worker/game_host.h"
#include "worker/orphan.h"

/* A new handshake key once per epoch (a minute): a getrandom() call, kept
 * out of the pure admission logic. */
void rf_driver_rotate_key(struct worker *w)
{
	uint8_t key[RF_HS_KEY_LEN];

	if (!worker_key_due(w))
		return;
	randombytes_buf(key, sizeof(key));
	worker_key_install(w, key);
	sodium_memzero(key, sizeof(key));
}

int rf_driver_open(struct rf_driver *d, const struct rf_backend_ops *ops, struct worker *w, int fd,
		   uint32_t nbufs, uint32_t max_clients, uint32_t hz, uint64_t phase_ns)
{
	int ret;

	memset(d, 0, sizeof(*d));
	ret = ops->open(&d->be, w, fd, nbufs, max_clients);
	if (ret < 0)
		return ret;
	d->w = w;
	d->ops = ops;
	d->period_ns = RF_NSEC_PER_SEC / hz;
	d->phase_ns = phase_ns;
	return 0;
}

void rf_driver_close(struct rf_driver *d)
{
	if (d->ops)
		d->ops->close(d->be);
	d->ops = NULL;
	d->be = NULL;
}

int rf_driver_drain(struct rf_driver *d, uint64_t until_ns)
{
	return d->ops->drain_on_stop(d->be, until_ns);
}

/* The first deadline after now on the grid k * period + phase. */
static uint64_t grid_after(uint64_t now, uint64_t period, uint64_t phase)
{
	if (now < phase)
		return phase;
	return (now - phase) / period * period + period + phase;
}

static void log_events(struct rf_driver *d)
{
	struct worker *w = d->w;
	int rx = d->ops->rx_error(d->be);

	if (w->gso_events != d->gso_seen) {
		d->gso_seen = w->gso_events;
		if (w->gso_max_seg)
			log_warn("path MTU below a GSO segment: GSO segments now <= %u bytes",
				 w->gso_max_seg);
		else
			log_warn("kernel refused UDP GSO: one datagram per send from now on");
	}
	if (rx != d->rx_seen) {
		d->rx_seen = rx;
		if (rx)
			log_warn("receive error: %s (receiving again)", strerror(-rx));
	}
}

/* The work of one tick, between its deadline and its counters. drain_until
 * (non-zero) asks the game to drain in this tick. Returns true when the
 * worker should stop after it: no drain, or a drained session is over. */
static bool tick_work(struct rf_driver *d, uint64_t drain_until)
{
	const struct rf_backend_ops *ops = d->ops;
	struct worker *w = d->w;
	struct tick_plan *p;
	bool stop = false;

	/* Before the input: a new match is told first. */
	if (w->host && game_host_session(w->host) > 0)
		log_info("allocated: session %llu", (unsigned long long)w->host->alloc_id);
	rf_driver_rotate_key(w);
	p = ops->rx_drain(d->be);
	worker_set_plan(w, p);
	worker_end_window(w);
	/* The goodbye goes out with this tick's output. */
	if (drain_until)
		stop = !w->host || !game_host_drain(w->host, drain_until);
	worker_game_tick(w);
	worker_plan(w);
	if (p)
		ops->send_plan(d->be, p);
	/* After the sends are queued: the session's last output is sent. */
	worker_end_tick(w);
	/* Output between ticks has no plan until the next receive. */
	worker_set_plan(w, NULL);
	ops->send_replies(d->be);
	ops->tick_end(d->be);
	return stop || (w->host && game_host_done(w->host));
}

/* No supervisor to say its hang_timeout_ms (a standalone worker): beat
 * once a second while asleep. */
#define IDLE_BEAT_DEFAULT_NS RF_NSEC_PER_SEC

/* The idle heartbeat interval, which the supervisor writes in the slot
 * (30 s from ringfleetd, whose idle hang rule also watches the socket):
 * the supervisor owns the hang rule, so it alone says how often an idle
 * worker must beat. */
static uint64_t idle_beat_ns(const struct worker *w)
{
	uint32_t ms = RF_LOAD(w->slot->sup.idle_beat_ms);

	return ms ? (uint64_t)ms * RF_NSEC_PER_MSEC : IDLE_BEAT_DEFAULT_NS;
}

/* Whether the worker may sleep now: no client, a game that needs no tick
 * then, and no match on the server (an allocated session keeps ticking:
 * the relay's session_idle_s clock and a module's own timers run on
 * ticks). A session area being written counts as allocated. */
static bool idle_ok(const struct rf_driver *d)
{
	const struct worker *w = d->w;
	const struct rf_slot_session *a = &w->slot->session;

	if (!d->idle_sleep || !w->host || !(w->host->game.flags & RF_GAME_IDLE_SLEEP) ||
	    w->clients.n)
		return false;
	return !(RF_LOAD(a->seq) & 1) && RF_LOAD(a->state) != RF_SESSION_ALLOCATED;
}

/* Sleeps on the socket while the worker stays idle: until a datagram
 * waits, a signal comes (stop, or the supervisor's wake after an
 * allocation) or the idle conditions end; each wake refreshes the
 * heartbeat. 0 when ticks must resume, or -errno. */
static int idle_sleep(struct rf_driver *d, const sigset_t *waitmask,
		      const volatile sig_atomic_t *stop)
{
	struct worker *w = d->w;
	uint64_t since = rf_now_ns(), now = since;
	int ret = 0;

	w->st.idle = 1;
	worker_publish(w);
	while (!*stop) {
		/* Woken when the supervisor's beat would go stale, too. */
		uint64_t nap =
			rf_orphan_sleep_ns(idle_beat_ns(w), RF_LOAD(w->slot->sup.orphan_timeout_s),
					   RF_LOAD(w->slot->sup.beat_ns), now);

		ret = d->ops->wait_rx(d->be, now + nap, waitmask);
		now = rf_now_ns();
		w->st.idle_wakeups++;
		w->st.idle_ns += now - since;
		since = now;
		w->st.last_tick_ns = now; /* the heartbeat */
		/* Published while still idle: the supervisor must never see
		 * idle = 0 with the old heartbeat, which the ticking rule
		 * would judge hung. */
		worker_publish(w);
		if (ret < 0 && ret != -EINTR)
			break;
		/* The tick loop stops it, as it would a signal. */
		if (ret > 0 || !idle_ok(d) || rf_slot_orphaned(w->slot, now))
			break;
	}
	w->st.idle = 0;
	worker_publish(w);
	return ret < 0 && ret != -EINTR ? ret : 0;
}

/* Once the rule holds: the time in the log is the beat's age. */
static void orphan_stop(struct rf_driver *d, uint64_t now)
{
	uint64_t beat = RF_LOAD(d->w->slot->sup.beat_ns);

	d->orphan_s = beat && beat < now ? (now - beat) / RF_NSEC_PER_SEC : 0;
	if (!d->orphan_s) /* the supervisor beat since: stop anyway, once decided */
		d->orphan_s = 1;
	log_notice("supervisor gone for %llu s: stopping", (unsigned long long)d->orphan_s);
}

int rf_driver_run(struct rf_driver *d, const sigset_t *waitmask, const volatile sig_atomic_t *stop)
{
	struct worker *w = d->w;
	uint64_t period = d->period_ns;
	uint64_t deadline = grid_after(rf_now_ns(), period, d->phase_ns);
	uint64_t drain_until = 0; /* set once stopping */
	bool woke = false;        /* this tick ends an idle sleep */

	for (;;) {
		uint64_t t0, t1;
		int ret = d->ops->wait(d->be, deadline, waitmask);
		bool last, stop_now;

		if (ret < 0 && ret != -EINTR)
			return ret;
		t0 = rf_now_ns();
		if (!drain_until && !d->orphan_s && rf_slot_orphaned(w->slot, t0))
			orphan_stop(d, t0);
		/* A signal ends the sleep early: the next tick runs at once
		 * and starts the stop; draining ticks keep to the grid. An
		 * orphan stops the same way. */
		stop_now = (*stop || d->orphan_s) && !drain_until;
		if (!stop_now && t0 < deadline)
			continue;
		if (stop_now)
			drain_until = t0 + d->drain_ns; /* t0 > 0 */
		worker_tick_start(w, t0, rf_real_ns());
		w->deadline_ns = woke ? grid_after(t0, period, d->phase_ns) : deadline + period;
		last = tick_work(d, stop_now ? drain_until : 0);
		t1 = rf_now_ns();
		worker_tick_done(w, t1 - t0, t1);
		deadline += period;
		if (woke) {
			/* Back on the grid, no catch-up for the ticks slept. */
			deadline = grid_after(t1, period, d->phase_ns);
			woke = false;
		} else if (t1 >= deadline) {
			/* Skip the missed deadlines rather than run them
			 * back to back; the grid itself never drifts. */
			w->st.tick_overruns++;
			deadline = grid_after(t1, period, d->phase_ns);
		}
		worker_publish(w);
		log_events(d);
		if (drain_until && (last || t1 >= drain_until))
			return 0;
		if (!drain_until && idle_ok(d)) {
			ret = idle_sleep(d, waitmask, stop);
			if (ret < 0)
				return ret;
			/* The wake's tick runs at once: the first datagram is
			 * answered now, not at the next grid point. */
			woke = true;
			deadline = rf_now_ns();
		}
	}
}
