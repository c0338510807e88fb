// SPDX-License-Identifier: Apache-2.0
/* fleet.c - the process table and its event dispatch; see fleet.h.
 * Applying a configuration lives in fleet_apply.c, the 1 Hz samples in
 * fleet_sample.c. */
#include "supervisor/fleet.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/exitcode.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "supervisor/control.h"
#include "supervisor/gameview.h"
#include "supervisor/hang.h"
#include "supervisor/metrics.h"
#include "supervisor/procstat.h"
#include "supervisor/spawn.h"

#define START_TIMEOUT_MIN_MS 5000

int fleet_init(struct fleet *f, int epfd, const char *worker_path)
{
	memset(f, 0, sizeof(*f));
	f->epfd = epfd;
	f->privileged = geteuid() == 0;
	f->ticks_per_sec = (uint64_t)sysconf(_SC_CLK_TCK);
	f->spawn_budget = FLEET_SPAWNS_PER_TURN;
	f->token_key_fd = -1;
	if (strlen(worker_path) >= sizeof(f->worker_path))
		return -ENAMETOOLONG;
	strcpy(f->worker_path, worker_path);
	return 0;
}

void fleet_free(struct fleet *f)
{
	fleet_reap(f);
	for (size_t i = 0; i < f->n; i++)
		server_free(f->srv[i]);
	free(f->srv);
	f->srv = NULL;
	f->n = f->cap = 0;
	if (f->token_key_fd >= 0)
		close(f->token_key_fd);
	f->token_key_fd = -1;
	sodium_memzero(f->token_key, sizeof(f->token_key));
}

static void epoll_watch(struct fleet *f, int fd, struct ev_tag *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void close_watched(struct fleet *f, int *fd)
{
	if (*fd < 0)
		return;
	epoll_ctl(f->epfd, EPOLL_CTL_DEL, *fd, NULL);
	close(*fd);
	*fd = -1;
}

/* An idle worker's heartbeat interval. Each wake costs a context switch
 * (~250 us of CPU on a small VM): at 30 s a thousand sleeping servers wake
 * ~33 times a second in all. A hung idle worker is still caught within
 * hang_timeout_ms of the first datagram it does not take (hang.h), so the
 * beat need not follow the hang timeout. */
#define IDLE_BEAT_MS 30000u

static int do_spawn(struct fleet *f, struct server *s)
{
	struct procstat ps;
	int pipefd[2], r;
	struct spawn_args a = {
		.worker_path = f->worker_path,
		.cfg = &s->cfg,
		.cpu = s->cpu,
		.phase_ns = s->phase_ns,
		.udp_fd = s->udp_fd,
		.slot_fd = s->slot_fd,
		.token_key_fd = s->cfg.admission == RF_ADMISSION_TOKEN ? f->token_key_fd : -1,
		.log_level = log_get_level(),
		.drop_privs = s->drop_privs,
		.uid = s->uid,
		.gid = s->gid,
		.parent = getpid(),
	};

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	/* The one byte of the slot the supervisor writes, while no worker
	 * runs: a reason left by an earlier worker must not be read as this
	 * one's if it exits RF_EXIT_CONFIG without writing its own. */
	RF_STORE(s->slot->game.exit_reason[0], '\0');
	/* How often an idle worker must beat, when it may stop as an
	 * orphan, and a fresh beat so it does not (common/slot.h). */
	RF_STORE(s->slot->sup.idle_beat_ms, IDLE_BEAT_MS);
	RF_STORE(s->slot->sup.orphan_timeout_s, f->sup.orphan_timeout_s);
	RF_STORE(s->slot->sup.beat_ns, rf_now_ns());
	s->hang = (struct hang_watch){ 0 };
	sessions_before_spawn(s);
	a.ready_fd = pipefd[1];
	r = spawn_worker(&a, &s->pid, &s->pidfd);
	close(pipefd[1]);
	if (r < 0) {
		close(pipefd[0]);
		return r;
	}
	s->ready_fd = pipefd[0];
	s->worker_udp_fd = s->udp_fd;
	s->worker_slot_fd = s->slot_fd;
	f->state_urgent = true; /* a crash now must find this worker */
	s->start_time = 0;
	if (procstat_read(s->pid, &ps) == 0)
		s->start_time = ps.start_time;
	s->spawn_err = 0;
	s->cpu_ticks = 0;
	s->cpu_ticks_prev = 0;
	s->cpu_sample_ns = rf_now_ns();
	s->cpu_pct = 0;
	s->rss_kb = 0; /* not read yet: fleet_sample reads it first thing */
	epoll_watch(f, s->pidfd, &s->pid_tag);
	epoll_watch(f, s->ready_fd, &s->ready_tag);
	return 0;
}

static void log_transition(const struct server *s, enum fsm_state from, pid_t pid)
{
	char who[32] = "";
	int level = s->fsm.state == FSM_FATAL ? RF_LOG_ERR : RF_LOG_NOTICE;

	if (pid > 0)
		snprintf(who, sizeof(who), " (pid %d)", (int)pid);
	if (from == s->fsm.state)
		log_msg(RF_LOG_INFO, "%s: %s%s", s->cfg.name, s->fsm.reason, who);
	else
		log_msg(level, "%s: %s -> %s: %s%s", s->cfg.name, fsm_state_name(from),
			fsm_state_name(s->fsm.state), s->fsm.reason, who);
}

static bool spawn_slot_free(const struct fleet *f)
{
	return f->spawn_budget > 0 && f->n_inflight < FLEET_STARTING_MAX &&
	       (!f->turn_ns || rf_now_ns() - f->turn_ns < FLEET_SPAWN_TURN_NS);
}

static void set_queued(struct fleet *f, struct server *s, bool on)
{
	if (s->spawn_queued == on)
		return;
	s->spawn_queued = on;
	if (on)
		f->n_queued++;
	else
		f->n_queued--;
}

static void set_inflight(struct fleet *f, struct server *s, bool on)
{
	if (s->spawn_inflight == on)
		return;
	s->spawn_inflight = on;
	if (on)
		f->n_inflight++;
	else
		f->n_inflight--;
}

/* Forks s's worker if pacing allows, else queues it. Returns 0 (spawned
 * or queued) or the -errno of a failed spawn. */
static int try_spawn(struct fleet *f, struct server *s)
{
	int e;

	if (!spawn_slot_free(f)) {
		char why[96];

		snprintf(why, sizeof(why),
			 "queued to start (at most %d per loop turn, %d not "
			 "ready at once)",
			 FLEET_SPAWNS_PER_TURN, FLEET_STARTING_MAX);
		set_queued(f, s, true);
		fsm_spawn_queued(&s->fsm, why);
		return 0;
	}
	f->spawn_budget--;
	if (!f->turn_ns)
		f->turn_ns = rf_now_ns();
	e = do_spawn(f, s);
	if (e < 0) {
		log_err("%s: cannot start worker: %s", s->cfg.name, strerror(-e));
		return e;
	}
	set_inflight(f, s, true);
	log_info("%s: started worker pid %d on cpu %d", s->cfg.name, (int)s->pid, s->cpu);
	return 0;
}

/* Feeds ev to the machine and carries out what it asks. A failed spawn is
 * fed back as FSM_EV_SPAWN_FAILED, which the machine classifies; a signal
 * for a worker still queued (never forked) ends it at once. */
static void dispatch(struct fleet *f, struct server *s, struct fsm_event ev)
{
	for (;;) {
		enum fsm_state from = s->fsm.state;
		pid_t pid = s->pid;
		struct fsm_result r = fsm_step(&s->fsm, &f->policy, &ev, rf_now_ns());
		int e;

		/* The state file follows (upgrade.h); a process state change
		 * at once: a worker the file still calls starting would be
		 * replaced, not adopted, after a crash. */
		f->state_gen++;
		if (from != s->fsm.state)
			f->state_urgent = true;
		if (r.changed || r.action != FSM_ACT_NONE)
			log_transition(s, from, pid);
		/* Every process state change passes here, and only here. */
		if (from != s->fsm.state)
			events_emit(f->events, EVENT_PROCESS, s->cfg.name, fsm_state_name(from),
				    fsm_state_name(s->fsm.state), s->fsm.reason);
		if (r.changed)
			sessions_on_process(f, s);
		if ((r.action == FSM_ACT_TERM || r.action == FSM_ACT_KILL) && s->spawn_queued) {
			set_queued(f, s, false);
			ev = (struct fsm_event){ .type = FSM_EV_EXIT,
						 .wait_status =
							 r.action == FSM_ACT_TERM ? 0 : SIGKILL };
			continue;
		}
		if (r.action == FSM_ACT_TERM || r.action == FSM_ACT_KILL) {
			if (s->pidfd >= 0)
				spawn_signal(s->pidfd,
					     r.action == FSM_ACT_TERM ? SIGTERM : SIGKILL);
			return;
		}
		if (r.action != FSM_ACT_SPAWN)
			return;
		e = try_spawn(f, s);
		if (e == 0)
			return;
		ev = (struct fsm_event){ .type = FSM_EV_SPAWN_FAILED, .err = -e };
	}
}

void fleet_run_spawn_queue(struct fleet *f, uint64_t now)
{
	f->spawn_budget = FLEET_SPAWNS_PER_TURN;
	f->turn_ns = 0;
	for (size_t i = 0; i < f->n && f->n_queued && spawn_slot_free(f); i++) {
		struct server *s = f->srv[i];
		int e;

		if (!s->spawn_queued)
			continue;
		set_queued(f, s, false);
		fsm_spawn_dequeued(&s->fsm, &f->policy, now);
		e = try_spawn(f, s);
		if (e < 0)
			dispatch(f, s,
				 (struct fsm_event){ .type = FSM_EV_SPAWN_FAILED, .err = -e });
	}
}

bool fleet_spawns_waiting(const struct fleet *f)
{
	return f->n_queued > 0 && f->n_inflight < FLEET_STARTING_MAX;
}

int fleet_adopt(struct fleet *f, struct server *s, bool queued, bool inflight)
{
	/* an array of pointers: sizeof a pointer is meant */
	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	struct server **srv = realloc(f->srv, (f->n + 1) * sizeof(*srv));

	if (!srv) {
		server_free(s);
		return -ENOMEM;
	}
	f->srv = srv;
	f->srv[f->n++] = s;
	f->table_gen++;
	f->cap = f->n;
	f->state_urgent = true;
	if (s->pidfd >= 0)
		epoll_watch(f, s->pidfd, &s->pid_tag);
	if (s->ready_fd >= 0)
		epoll_watch(f, s->ready_fd, &s->ready_tag);
	set_queued(f, s, queued);
	set_inflight(f, s, inflight);
	sessions_adopt(f, s);
	f->state_gen++;
	return 0;
}

void fleet_request(struct fleet *f, struct server *s, enum fsm_event_type type)
{
	dispatch(f, s, (struct fsm_event){ .type = type });
}

void fleet_forget(struct fleet *f, struct server *s)
{
	set_queued(f, s, false);
	set_inflight(f, s, false);
	sessions_forget(f, s);
	for (size_t i = 0; i < f->n; i++) {
		if (f->srv[i] != s)
			continue;
		/* moves pointers: sizeof a pointer is meant */
		/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
		memmove(&f->srv[i], &f->srv[i + 1], (f->n - i - 1) * sizeof(f->srv[0]));
		f->n--;
		f->table_gen++;
		break;
	}
	log_info("%s: removed", s->cfg.name);
	s->pid_tag.kind = s->ready_tag.kind = EV_DEAD;
	s->next_dead = f->dead;
	f->dead = s;
}

void fleet_reap(struct fleet *f)
{
	while (f->dead) {
		struct server *s = f->dead;

		f->dead = s->next_dead;
		server_free(s);
	}
}

/* A child that failed before exec leaves "spawn-error ERRNO STEP" on the
 * readiness pipe: kept in s->spawn_err until its exit is handled. */
static void note_spawn_error(struct server *s, char *buf, ssize_t n)
{
	int e;

	if (n <= 0)
		return;
	buf[n] = '\0';
	e = spawn_parse_error(buf, (size_t)n);
	if (e <= 0)
		return;
	s->spawn_err = e;
	buf[strcspn(buf, "\n")] = '\0';
	log_err("%s: worker could not start: %s: %s", s->cfg.name, strchr(buf + 12, ' ') + 1,
		strerror(e));
}

/* The child has exited, so this read cannot block. */
static void read_spawn_error(struct server *s)
{
	char buf[64];

	if (s->ready_fd >= 0 && !s->spawn_err)
		note_spawn_error(s, buf, read(s->ready_fd, buf, sizeof(buf) - 1));
}

void fleet_on_pidfd(struct fleet *f, struct server *s)
{
	uint64_t final_ticks = 0;
	int st = spawn_reap(s->pidfd, &final_ticks), err;
	char why[RF_SLOT_EXIT_REASON_MAX] = "";

	if (st == -EAGAIN)
		return;
	/* The exit reports CPU time to the end, past the last 1 Hz sample. */
	if (final_ticks > s->cpu_ticks)
		s->cpu_ticks = final_ticks;
	if (st == -ECHILD) {
		/* Taken over after a crash (adopt.c): not our child, so no
		 * status; a stop we asked for went as asked. */
		st = s->fsm.state == FSM_STOPPING ? 0 : 0xff << 8;
		snprintf(s->last_exit, sizeof(s->last_exit), "ended (adopted: status unknown)");
	} else {
		if (st < 0)
			st = 0xff << 8; /* cannot tell; treat as a failure */
		fsm_describe_exit(st, s->last_exit, sizeof(s->last_exit));
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == RF_EXIT_CONFIG)
		gameview_exit_reason(s->slot, why, sizeof(why));
	s->cpu_ticks_total += s->cpu_ticks;
	s->cpu_ticks = 0;
	read_spawn_error(s);
	set_inflight(f, s, false);
	err = s->spawn_err;
	s->spawn_err = 0;
	close_watched(f, &s->pidfd);
	close_watched(f, &s->ready_fd);
	if (err > 0 && s->fsm.state == FSM_STARTING)
		dispatch(f, s, (struct fsm_event){ .type = FSM_EV_SPAWN_FAILED, .err = err });
	else
		dispatch(f, s,
			 (struct fsm_event){
				 .type = FSM_EV_EXIT, .wait_status = st, .detail = why });
	s->pid = s->pidfd >= 0 ? s->pid : 0;
	if (s->removing && !fsm_has_process(s->fsm.state))
		fleet_forget(f, s);
}

void fleet_on_ready(struct fleet *f, struct server *s)
{
	char buf[64];
	ssize_t n = read(s->ready_fd, buf, sizeof(buf) - 1);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	note_spawn_error(s, buf, n);
	set_inflight(f, s, false);
	/* One line, then the worker closes its end: either way we are done. */
	close_watched(f, &s->ready_fd);
	if (n >= 5 && memcmp(buf, "ready", 5) == 0)
		dispatch(f, s, (struct fsm_event){ .type = FSM_EV_READY });
}

static uint64_t hang_ns(const struct fleet *f)
{
	return (uint64_t)f->sup.hang_timeout_ms * RF_NSEC_PER_MSEC;
}

/* Input waiting on a server's socket, in bytes (UDP: the next datagram's
 * size); 0 when none or the ask fails (no verdict from an unknown). */
static uint64_t socket_pending(const struct server *s)
{
	int n = 0;

	if (s->udp_fd < 0 || ioctl(s->udp_fd, SIOCINQ, &n) < 0 || n < 0)
		return 0;
	return (uint64_t)n;
}

/* The heartbeat is the end of the last tick or, while the worker sleeps
 * idle, its last wake; the rule for each is in hang.h. */
static void check_hang(struct fleet *f, struct server *s, uint64_t now)
{
	/* The idle flag first, with acquire: a worker publishes its wake's
	 * heartbeat before it clears the flag, so a cleared flag comes with
	 * a fresh heartbeat. */
	struct hang_in in = {
		.idle = __atomic_load_n(&s->slot->stats.idle, __ATOMIC_ACQUIRE) != 0,
		.now_ns = now,
		.hang_ns = hang_ns(f),
		.beat_every_ns = (uint64_t)IDLE_BEAT_MS * RF_NSEC_PER_MSEC,
	};
	uint64_t ms;

	in.beat_ns = RF_LOAD(s->slot->stats.last_tick_ns);
	if (in.beat_ns < s->fsm.ready_ns)
		in.beat_ns = s->fsm.ready_ns;
	if (s->fsm.hung)
		return;
	if (in.idle)
		in.pending = socket_pending(s);
	switch (hang_judge(&in, &s->hang, &ms)) {
	case HANG_OK:
		return;
	case HANG_NO_TICK:
		log_warn("%s: no tick for %llu ms (hang_timeout_ms %u)", s->cfg.name,
			 (unsigned long long)ms, f->sup.hang_timeout_ms);
		break;
	case HANG_IDLE_SILENT:
		log_warn(
			"%s: idle and no heartbeat for %llu ms (idle beat %u ms, hang_timeout_ms %u)",
			s->cfg.name, (unsigned long long)ms, IDLE_BEAT_MS, f->sup.hang_timeout_ms);
		break;
	case HANG_IDLE_DEAF:
		log_warn("%s: idle and not taking input for %llu ms (hang_timeout_ms %u)",
			 s->cfg.name, (unsigned long long)ms, f->sup.hang_timeout_ms);
		break;
	}
	s->hang = (struct hang_watch){ 0 };
	dispatch(f, s, (struct fsm_event){ .type = FSM_EV_HANG });
}

void fleet_on_deadlines(struct fleet *f, uint64_t now)
{
	for (size_t i = 0; i < f->n; i++) {
		struct server *s = f->srv[i];

		if (s->fsm.deadline_ns && now >= s->fsm.deadline_ns)
			dispatch(f, s, (struct fsm_event){ .type = FSM_EV_TIMER });
	}
}

/* A slot of another layout (a worker from before an upgrade) has other
 * bytes where ours has the sup area: never write there. */
static bool slot_layout_ours(const struct rf_slot *slot)
{
	return !RF_LOAD(slot->magic) || RF_LOAD(slot->version) == RF_SLOT_VERSION;
}

void fleet_beat(struct fleet *f, uint64_t now)
{
	for (size_t i = 0; i < f->n; i++) {
		struct rf_slot *slot = f->srv[i]->slot;

		if (!slot || !slot_layout_ours(slot))
			continue;
		RF_STORE(slot->sup.orphan_timeout_s, f->sup.orphan_timeout_s);
		RF_STORE(slot->sup.beat_ns, now);
	}
}

void fleet_housekeeping(struct fleet *f, uint64_t now)
{
	fleet_beat(f, now);
	for (size_t i = 0; i < f->n; i++)
		if (f->srv[i]->fsm.state == FSM_RUNNING)
			check_hang(f, f->srv[i], now);
	fleet_sample_begin(f, now);
}

uint64_t fleet_next_deadline(const struct fleet *f)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < f->n; i++) {
		uint64_t d = f->srv[i]->fsm.deadline_ns;

		if (d && d < next)
			next = d;
	}
	return next;
}

void fleet_stop_all(struct fleet *f)
{
	for (size_t i = 0; i < f->n; i++)
		fleet_request(f, f->srv[i], FSM_EV_STOP);
}

bool fleet_settled(const struct fleet *f)
{
	for (size_t i = 0; i < f->n; i++) {
		const struct fsm *m = &f->srv[i]->fsm;

		if (m->state == FSM_STARTING || m->state == FSM_STOPPING || f->srv[i]->removing)
			return false;
	}
	return true;
}

bool fleet_idle(const struct fleet *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->srv[i]->pidfd >= 0)
			return false;
	return true;
}

void fleet_count_states(const struct fleet *f, size_t *counts)
{
	memset(counts, 0, sizeof(size_t) * (FSM_FATAL + 1));
	for (size_t i = 0; i < f->n; i++)
		counts[f->srv[i]->fsm.state]++;
}

double fleet_server_cpu_seconds(const struct fleet *f, const struct server *s)
{
	return (double)(s->cpu_ticks_total + s->cpu_ticks) / (double)f->ticks_per_sec;
}

/* The loop (3), stdio (3), the control listener and its connections, the
 * two HTTP listeners (metrics, API) and their connections, and room (40) for a log file,
 * /proc reads and the like: from the limits themselves, so raising one
 * cannot outgrow the budget. */
#define FLEET_FDS_FIXED (3 + 3 + 1 + CONTROL_MAX_CONNS + 2 * (1 + HTTPD_CONN_LIMIT) + 40)
#define FLEET_FDS_PER_SERVER 3

size_t fleet_fds_needed(size_t n)
{
	return FLEET_FDS_PER_SERVER * n + FLEET_STARTING_MAX + FLEET_FDS_FIXED;
}

int fleet_reserve_fds(size_t n, char *err, size_t errlen)
{
	rlim_t need = (rlim_t)fleet_fds_needed(n);
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0; /* cannot tell: let the first failure speak */
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max >= need) {
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
			log_info("raised RLIMIT_NOFILE to %llu for %zu servers",
				 (unsigned long long)need, n);
			return 0;
		}
	}
	snprintf(err, errlen,
		 "RLIMIT_NOFILE is %llu (hard %llu), too low for %zu servers: "
		 "ringfleetd needs about %llu file descriptors (%d per server + %d); raise "
		 "LimitNOFILE= or ulimit -n",
		 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, n,
		 (unsigned long long)need, FLEET_FDS_PER_SERVER,
		 FLEET_STARTING_MAX + FLEET_FDS_FIXED);
	return -EMFILE;
}

void fleet_policy_from(struct fsm_policy *p, const struct cfg_supervisor *sup)
{
	uint64_t start_ms = sup->hang_timeout_ms > START_TIMEOUT_MIN_MS ? sup->hang_timeout_ms
									: START_TIMEOUT_MIN_MS;

	p->delay_ns = (uint64_t)sup->restart_delay_ms * RF_NSEC_PER_MSEC;
	p->delay_max_ns = (uint64_t)sup->restart_delay_max_ms * RF_NSEC_PER_MSEC;
	p->stable_ns = (uint64_t)sup->stable_after_s * RF_NSEC_PER_SEC;
	p->window_ns = (uint64_t)sup->crash_window_s * RF_NSEC_PER_SEC;
	p->stop_timeout_ns = (uint64_t)sup->stop_timeout_ms * RF_NSEC_PER_MSEC;
	p->start_timeout_ns = start_ms * RF_NSEC_PER_MSEC;
	p->crash_limit = sup->crash_limit;
}
