// SPDX-License-Identifier: Apache-2.0
/* daemon.c - see daemon.h. Verbs live in daemon_verbs.c; this file calls
 * them, they never call back into it. */
#include "supervisor/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "supervisor/daemon_verbs.h"
#include "supervisor/latency.h"
#include "supervisor/notify.h"
#include "supervisor/tokens.h"
#include "supervisor/status_run.h"
#include "supervisor/upgrade.h"

#define EVENTS_MAX 64
#define HOUSEKEEPING_NS RF_NSEC_PER_SEC

static int setup_signals(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return d->sigfd < 0 ? -errno : 0;
}

static int watch(struct daemon *d, int fd, struct ev_tag *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int setup_loop(struct daemon *d)
{
	int r;

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return -errno;
	r = setup_signals(d);
	if (r < 0)
		return r;
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->timerfd < 0)
		return -errno;
	d->sig_tag = (struct ev_tag){ EV_SIGNAL, d };
	d->timer_tag = (struct ev_tag){ EV_TIMER, d };
	r = watch(d, d->sigfd, &d->sig_tag);
	return r < 0 ? r : watch(d, d->timerfd, &d->timer_tag);
}

static void find_exe(struct daemon *d)
{
	ssize_t n = readlink("/proc/self/exe", d->exe_path, sizeof(d->exe_path) - 1);

	d->exe_path[n > 0 ? n : 0] = '\0';
}

int daemon_init(struct daemon *d, const struct daemon_start *a, char *err, size_t errlen)
{
	const char *config_path = a->config_path;
	struct fleet_diff diff;
	int r;

	memset(d, 0, sizeof(*d));
	d->epfd = d->sigfd = d->timerfd = -1;
	d->ctl.listen_fd = -1;
	d->reply_fd = -1;
	d->upgrade.pidfd = d->upgrade.out_fd = -1;
	d->started_ns = rf_now_ns();
	d->argc = a->argc;
	d->argv = a->argv;
	d->state_saved_gen = UINT64_MAX; /* the first loop turn writes it */
	find_exe(d);
	snprintf(d->config_path, sizeof(d->config_path), "%s", config_path);
	r = cfg_load_host(config_path, &d->cfg, err, errlen);
	if (r < 0)
		return r;
	log_set_level(d->cfg.sup.log_level);
	r = setup_loop(d);
	if (r < 0) {
		snprintf(err, errlen, "event loop setup: %s", strerror(-r));
		return r;
	}
	r = fleet_init(&d->fleet, d->epfd, a->worker_path);
	if (r < 0) {
		snprintf(err, errlen, "worker path %s: %s", a->worker_path, strerror(-r));
		return r;
	}
	r = tokens_key_setup(&d->fleet, &d->cfg.sup, err, errlen);
	if (r < 0)
		return r;
	daemon_realtime(d);
	/* The control socket, and the fleet an earlier ringfleetd left. */
	r = upgrade_resume(d, a->upgrade_fd, err, errlen);
	if (r < 0)
		return r;
	d->ctl.handle = daemon_handle_request;
	d->ctl.ctx = d;
	events_init(&d->events, &d->ctl);
	d->fleet.events = &d->events;
	r = fleet_apply(&d->fleet, &d->cfg, &diff, err, errlen);
	if (r < 0)
		return r;
	log_notice("started %zu servers from %s, control socket %s", diff.n_added, config_path,
		   d->cfg.sup.control_socket);
	if (d->fleet.n > diff.n_added)
		log_notice("%zu servers taken over (%zu unchanged, %zu changed, %zu removed)",
			   d->fleet.n - diff.n_added, diff.n_unchanged, diff.n_changed,
			   diff.n_removed);
	fleet_diff_free(&diff);
	upgrade_finish(d);
	if (d->cfg.sup.metrics_listen[0]) {
		r = metrics_open(&d->metrics, d->epfd, d->cfg.sup.metrics_listen, &d->fleet,
				 d->started_ns, err, errlen);
		if (r < 0)
			return r;
		log_notice("metrics on http://%s/metrics", d->cfg.sup.metrics_listen);
	}
	if (d->cfg.sup.api_listen[0]) {
		r = api_open(&d->api, d, &d->cfg, err, errlen);
		if (r < 0)
			return r;
		log_notice("HTTP API on %s://%s/v1/", d->cfg.api.tls_cert ? "https" : "http",
			   d->cfg.sup.api_listen);
	}
	d->watchdog_ns = notify_watchdog_ns();
	return 0;
}

void daemon_free(struct daemon *d)
{
	upgrade_on_check(d, true); /* a check still running is killed */
	status_run_free(d);
	for (size_t i = 0; i < d->n_waiters; i++)
		json_decref(d->waiters[i].body);
	control_close(&d->ctl);
	metrics_close(&d->metrics);
	api_close(&d->api);
	fleet_free(&d->fleet);
	cfg_free(&d->cfg);
	if (d->timerfd >= 0)
		close(d->timerfd);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->epfd >= 0)
		close(d->epfd);
}

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (!d->shutting_down)
				free(daemon_reload(d, 0));
			continue;
		}
		daemon_begin_shutdown(d, strsignal((int)si.ssi_signo));
	}
}

static void arm_timer(struct daemon *d, uint64_t now)
{
	uint64_t next = fleet_next_deadline(&d->fleet);
	struct itimerspec its = { 0 };

	if (d->housekeeping_ns < next)
		next = d->housekeeping_ns;
	if (httpd_next_run(&d->metrics.http, now) < next)
		next = httpd_next_run(&d->metrics.http, now);
	if (httpd_next_run(&d->api.http, now) < next)
		next = httpd_next_run(&d->api.http, now);
	if (control_next_deadline(&d->ctl) < next)
		next = control_next_deadline(&d->ctl);
	if (d->watchdog_ns && d->watchdog_next_ns < next)
		next = d->watchdog_next_ns;
	for (size_t i = 0; i < d->n_waiters; i++)
		if (d->waiters[i].deadline_ns < next)
			next = d->waiters[i].deadline_ns;
	if (upgrade_deadline(d) < next)
		next = upgrade_deadline(d);
	if (upgrade_state_deadline(d) < next)
		next = upgrade_state_deadline(d);
	its.it_value = rf_ns_to_timespec(next > now ? next : now + 1);
	timerfd_settime(d->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void on_timer(struct daemon *d, uint64_t now)
{
	uint64_t expirations;

	if (read(d->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("timerfd read: %s", strerror(errno));
	fleet_on_deadlines(&d->fleet, now);
	httpd_on_event(&d->metrics.http); /* their connection timeouts */
	httpd_on_event(&d->api.http);
	control_on_timer(&d->ctl, now);
	if (now >= upgrade_deadline(d))
		upgrade_on_check(d, true);
	if (now >= d->housekeeping_ns) {
		/* Fixed 1 Hz, however busy the control socket is. */
		fleet_housekeeping(&d->fleet, now);
		sessions_poll(&d->fleet);
		control_expire(&d->ctl, now);
		d->housekeeping_ns = now + HOUSEKEEPING_NS;
	}
	if (d->watchdog_ns && now >= d->watchdog_next_ns) {
		notify_watchdog();
		d->watchdog_next_ns = now + d->watchdog_ns / 2;
	}
}

static void dispatch(struct daemon *d, struct ev_tag *tag, uint32_t events)
{
	switch (tag->kind) {
	case EV_SIGNAL:
		on_signal(d);
		break;
	case EV_TIMER:
		on_timer(d, rf_now_ns());
		break;
	case EV_LISTEN:
		control_on_listen(&d->ctl);
		break;
	case EV_CONN:
		control_on_conn(&d->ctl, tag->owner, events);
		break;
	case EV_PIDFD:
		fleet_on_pidfd(&d->fleet, tag->owner);
		break;
	case EV_READY:
		fleet_on_ready(&d->fleet, tag->owner);
		break;
	case EV_HTTP:
		httpd_on_event(tag->owner);
		break;
	case EV_UPGRADE:
		upgrade_on_check(d, false);
		break;
	case EV_DEAD:
		break; /* retired by an earlier event of this batch */
	}
}

/* Handlers never free what an event names while the batch runs: they
 * retire it (its tag turns EV_DEAD, dispatch skips it) and the memory goes
 * once the whole batch is dispatched (control_reap, fleet_reap). Pidfd
 * events still come after every other event of the batch, so a worker's
 * ready line is read before its exit is handled. */
static int wait_events(struct daemon *d, struct epoll_event *evs, int timeout_ms)
{
	enum ev_kind kind[EVENTS_MAX];
	int n;

	/* The last batch's replies are out: now the workers it allocated. */
	sessions_send_wakes(&d->fleet);
	n = epoll_wait(d->epfd, evs, EVENTS_MAX, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++)
		kind[i] = ((struct ev_tag *)evs[i].data.ptr)->kind;
	for (int i = 0; i < n; i++)
		if (kind[i] != EV_PIDFD)
			dispatch(d, evs[i].data.ptr, evs[i].events);
	for (int i = 0; i < n; i++)
		if (kind[i] == EV_PIDFD)
			dispatch(d, evs[i].data.ptr, evs[i].events);
	control_reap(&d->ctl);
	fleet_reap(&d->fleet);
	return n;
}

void daemon_realtime(struct daemon *d)
{
	int r = latency_init(&d->lat, d->cfg.sup.realtime);

	if (r == -EEXIST)
		log_notice("realtime = yes, but the scheduling policy was set from outside "
			   "(CPUSchedulingPolicy=, chrt): left as it is");
	else if (r < 0)
		log_notice("realtime = yes, but SCHED_FIFO is not permitted (%s): requests are "
			   "answered at normal priority (it needs CAP_SYS_NICE or LimitRTPRIO=1)",
			   strerror(-r));
}

int daemon_run(struct daemon *d)
{
	struct epoll_event evs[EVENTS_MAX];

	d->watchdog_next_ns = rf_now_ns();
	d->housekeeping_ns = rf_now_ns() + HOUSEKEEPING_NS;
	for (;;) {
		uint64_t now = rf_now_ns();
		bool bulk;
		int r;

		/* A bounded number of queued spawns per turn; while more wait,
		 * poll instead of blocking, so signals, the control socket and
		 * worker events are served between batches. */
		fleet_run_spawn_queue(&d->fleet, now);
		/* Likewise the 1 Hz /proc sweep, a batch per turn, and the
		 * status replies being built. */
		fleet_sample_step(&d->fleet, now);
		status_run_step(d);
		/* Matches the games ended: cheap (allocated servers only),
		 * so every turn, besides the 1 Hz round that bounds the wait. */
		sessions_poll(&d->fleet);
		daemon_after_events(d);
		upgrade_save_state(d, rf_now_ns());
		if (d->shutting_down && fleet_idle(&d->fleet))
			break;
		arm_timer(d, now);
		/* Status jobs are answers (32 servers a turn): realtime. */
		bulk = fleet_spawns_waiting(&d->fleet) || fleet_sampling(&d->fleet) ||
		       control_subs_behind(&d->ctl);
		r = latency_before_wait(&d->lat, rf_now_ns(), bulk);
		if (r < 0)
			log_warn("realtime priority dropped: %s", strerror(-r));
		r = wait_events(d, evs, bulk || status_run_busy(d) ? 0 : -1);
		if (r < 0) {
			log_err("epoll_wait: %s", strerror(-r));
			return 1;
		}
	}
	latency_normal(&d->lat); /* exit-time work (sanitizer reports) is not urgent */
	upgrade_remove_state(d);
	log_notice("all workers stopped; exiting");
	return 0;
}
