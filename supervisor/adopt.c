// SPDX-License-Identifier: Apache-2.0
/* adopt.c - see adopt.h. */
#include "supervisor/adopt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "supervisor/procstat.h"
#include "supervisor/server.h"

/* A worker that will not die within this is left to the kernel; its
 * server is started anyway (its port may then be busy: said in the log). */
#define KILL_WAIT_MS 2000

int adopt_verify_pid(pid_t pid, uint64_t start_time)
{
	struct procstat ps;

	if (pid <= 0 || procstat_read(pid, &ps) < 0 || ps.start_time != start_time ||
	    ps.state == 'Z' || ps.state == 'X')
		return -ESRCH;
	return 0;
}

static int pidfd_open_pid(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : (int)fd;
}

/* The fd takes FD_CLOEXEC from pidfd_getfd itself. */
static int take_fd(int pidfd, int fd)
{
	long r = fd < 0 ? (errno = EBADF, -1) : syscall(SYS_pidfd_getfd, pidfd, fd, 0);

	return r < 0 ? -errno : (int)r;
}

/* fd is a UDP socket bound to c's port. */
static int check_socket(int fd, const struct cfg_server *c)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	int type = 0;
	socklen_t tlen = sizeof(type);
	uint16_t port;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_DGRAM)
		return -ENOTSOCK;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		return -EAFNOSUPPORT;
	return port == c->port ? 0 : -EADDRNOTAVAIL;
}

/* SIGKILLs what pidfd names and waits (bounded) until it is gone, so its
 * port is free for the server's next worker. */
static void kill_and_wait(int pidfd, const char *name)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	if (poll(&p, 1, KILL_WAIT_MS) <= 0)
		log_warn("%s: the worker left by the earlier ringfleetd did not die within %d ms",
			 name, KILL_WAIT_MS);
}

/* Takes back the socket and slot of the live worker r names. Returns 0
 * with s built, -ESRCH when that process is gone, or another -errno
 * (the worker was killed). */
static int take_worker(const struct state_server *r, struct server **out)
{
	_cleanup_close_ int pidfd = -1, udp = -1, slot_fd = -1;
	struct rf_slot *slot = NULL;
	size_t len = 0;
	int e;

	if (adopt_verify_pid(r->pid, r->start_time) < 0)
		return -ESRCH;
	pidfd = pidfd_open_pid(r->pid);
	if (pidfd < 0)
		return -ESRCH;
	/* The pidfd pins the pid: checked again, it is that process. */
	if (adopt_verify_pid(r->pid, r->start_time) < 0)
		return -ESRCH;
	e = r->fsm.state == FSM_RUNNING ? 0 : -EINPROGRESS;
	if (e == 0)
		udp = e = take_fd(pidfd, r->worker_udp_fd);
	if (e >= 0)
		e = check_socket(udp, &r->cfg);
	if (e >= 0)
		slot_fd = e = take_fd(pidfd, r->worker_slot_fd);
	if (e >= 0)
		e = server_slot_map(slot_fd, r->cfg.max_clients, true, &slot, &len);
	if (e >= 0)
		e = server_new_adopted(&r->cfg, udp, slot_fd, slot, len, out);
	if (e == -ESRCH)
		return e; /* it exited meanwhile: nothing to kill */
	if (e < 0) {
		if (slot)
			munmap(slot, len);
		log_warn("%s: cannot take over worker pid %d (%s): replacing it", r->cfg.name,
			 (int)r->pid, strerror(-e));
		kill_and_wait(pidfd, r->cfg.name);
		return e;
	}
	(void)TAKE_FD(udp); /* the server owns them now */
	(void)TAKE_FD(slot_fd);
	(*out)->pidfd = TAKE_FD(pidfd);
	return 0;
}

/* After an upgrade every fd of the state is ours at the same number; it
 * was kept across exec, so it gets FD_CLOEXEC back here. */
static int own_fd(int fd)
{
	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

static int inherit_server(const struct state_server *r, struct server **out)
{
	struct rf_slot *slot = NULL;
	size_t len = 0;
	/* A slot no worker has written yet (spawn queued) has no header:
	 * this is the same build's slot either way. */
	int e = server_slot_map(own_fd(r->slot_fd), r->cfg.max_clients, false, &slot, &len);

	if (e < 0)
		return e;
	e = server_new_adopted(&r->cfg, own_fd(r->udp_fd), r->slot_fd, slot, len, out);
	if (e < 0) {
		munmap(slot, len);
		return e;
	}
	(*out)->pidfd = own_fd(r->pidfd);
	(*out)->ready_fd = own_fd(r->ready_fd);
	return 0;
}

/* A server whose worker is gone (or was never running) after a crash: a
 * fresh socket and slot, its process and session history kept. */
static bool has_arg(const char *args, size_t len, const char *want)
{
	for (size_t i = 0; i < len; i += strlen(args + i) + 1)
		if (strcmp(args + i, want) == 0)
			return true;
	return false;
}

/* pid's command line names it a worker of server name started by the
 * ringfleetd with pid sup (spawn.c's --name= and --supervisor-pid=). */
static bool stray_of(pid_t pid, pid_t sup, const char *name)
{
	char path[64], args[4096], want_name[CFG_NAME_MAX + 8], want_sup[40];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, args, sizeof(args) - 1);
	if (n <= 0)
		return false;
	args[n] = '\0';
	snprintf(want_name, sizeof(want_name), "--name=%s", name);
	snprintf(want_sup, sizeof(want_sup), "--supervisor-pid=%d", (int)sup);
	return has_arg(args, (size_t)n, want_name) && has_arg(args, (size_t)n, want_sup);
}

/* A worker the crashed ringfleetd forked in the loop turn it died in is
 * not in the state file, and holds its server's port: found by its
 * command line, it is killed so that the server can start again. */
static void kill_strays(pid_t sup, const char *name)
{
	DIR *dir = opendir("/proc");
	struct dirent *e;

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		_cleanup_close_ int pidfd = -1;

		if (*end || pid <= 0 || !stray_of((pid_t)pid, sup, name))
			continue;
		pidfd = pidfd_open_pid((pid_t)pid);
		/* The pidfd pins the pid: checked again, it is that process. */
		if (pidfd < 0 || !stray_of((pid_t)pid, sup, name))
			continue;
		log_warn("%s: worker pid %d, unknown to the state file, holds its port: killing it",
			 name, (int)pid);
		kill_and_wait(pidfd, name);
	}
	closedir(dir);
}

static int fresh_server(const struct state *st, const struct state_server *r, bool privileged,
			struct server **out)
{
	int fd = server_bind_udp(&r->cfg, privileged), e;

	if (fd == -EADDRINUSE && st->pid > 0) {
		kill_strays(st->pid, r->cfg.name);
		fd = server_bind_udp(&r->cfg, privileged);
	}
	if (fd < 0)
		return fd;
	e = server_new_with_socket(&r->cfg, fd, out);
	if (e < 0)
		close(fd);
	return e;
}

/* The process state a server resumes in when its worker is gone: what
 * the configuration and the state machine will carry on from. */
static void resume_without_worker(struct server *s)
{
	switch (s->fsm.state) {
	case FSM_STARTING:
	case FSM_RUNNING:
	case FSM_STOPPING:
		/* Its worker died with (or after) the old ringfleetd, or was
		 * killed above: started again by the backoff timer, at once. */
		s->fsm.state = FSM_BACKOFF;
		s->fsm.deadline_ns = 1; /* at once: the next deadline check */
		snprintf(s->fsm.reason, sizeof(s->fsm.reason),
			 "its worker did not survive the earlier ringfleetd");
		break;
	default:
		break; /* stopped, backoff, fatal: as they were */
	}
	s->pid = 0;
	s->start_time = 0;
}

/* The 1 Hz samples go on from now, not from the worker's start: its CPU
 * so far is not this second's, nor its tick histogram. */
static void sample_base(struct server *s)
{
	struct procstat ps;

	s->cpu_sample_ns = rf_now_ns();
	if (s->pid > 0 && procstat_read(s->pid, &ps) == 0) {
		s->cpu_ticks = s->cpu_ticks_prev = ps.utime + ps.stime;
		s->rss_kb = ps.rss_kb;
	}
	for (int b = 0; b < RF_TICK_HIST_BUCKETS; b++)
		s->hist_prev[b] = RF_LOAD(s->slot->stats.tick_hist[b]);
}

static void restore(struct server *s, const struct state_server *r)
{
	s->pid = r->pid;
	s->start_time = r->start_time;
	s->worker_udp_fd = r->worker_udp_fd;
	s->worker_slot_fd = r->worker_slot_fd;
	s->cpu = r->cpu;
	s->phase_ns = r->phase_ns;
	s->drained = r->drained;
	snprintf(s->last_exit, sizeof(s->last_exit), "%s", r->last_exit);
	s->cpu_ticks_total = r->cpu_ticks_total;
	s->fsm = r->fsm;
	s->sess = r->sess;
	s->sess.prev = s->sess.next = NULL;
	s->roll = r->roll;
	server_parse_labels(s);
	sample_base(s);
}

/* The state file may lag the sessions by up to half a second; the slot's
 * session area, which ringfleetd wrote with each allocation and release
 * before answering it, does not: a live worker's match is read back from
 * there, so an allocation made just before a crash is neither lost nor
 * given out twice. */
static void session_from_slot(struct fleet *f, struct server *s)
{
	const struct rf_slot_session *a = &s->slot->session;
	uint32_t seq = RF_LOAD(a->seq), st = RF_LOAD(a->state);
	uint64_t id = RF_LOAD(a->alloc_id);
	char lines[RF_SLOT_META_MAX], why[128];

	if (seq & 1)
		return; /* the old ringfleetd died writing it: the file's is whole */
	if (id > f->sess.last_id)
		f->sess.last_id = id;
	if (st == RF_SESSION_ALLOCATED &&
	    (s->sess.state != SESSION_ALLOCATED || s->sess.alloc_id != id)) {
		s->sess.state = SESSION_ALLOCATED;
		s->sess.alloc_id = id;
		s->sess.since_ns = rf_now_ns();
		s->sess.since_unix_ns = RF_LOAD(a->since_unix_ns);
		s->sess.ended_base = RF_LOAD(s->slot->stats.sessions_ended);
		memcpy(lines, a->meta, sizeof(lines));
		lines[sizeof(lines) - 1] = '\0';
		memset(&s->sess.meta, 0, sizeof(s->sess.meta));
		for (char *save = NULL, *l = strtok_r(lines, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save))
			kv_add_pair(&s->sess.meta, l, "meta", why, sizeof(why));
	} else if (st == RF_SESSION_READY && s->sess.state == SESSION_ALLOCATED) {
		s->sess.state = SESSION_READY; /* released, and the game reset itself */
		s->sess.alloc_id = 0;
		s->sess.since_ns = rf_now_ns();
		s->sess.since_unix_ns = RF_LOAD(a->since_unix_ns);
		memset(&s->sess.meta, 0, sizeof(s->sess.meta));
	}
}

static int adopt_one(struct fleet *f, const struct state *st, const struct state_server *r,
		     enum adopt_mode mode, struct adopt_result *res)
{
	struct server *s = NULL;
	bool live = r->pid > 0 && fsm_has_process(r->fsm.state);
	int e;

	if (mode == ADOPT_UPGRADE) {
		e = inherit_server(r, &s);
		if (e < 0) {
			/* Cannot happen short of ENOMEM: fleet_apply() adds it
			 * anew and says why if that fails too. */
			log_err("%s: cannot take over its resources: %s", r->cfg.name,
				strerror(-e));
			return e == -ENOMEM ? e : 0;
		}
		restore(s, r);
		res->adopted += live;
		res->stopped += !live;
		return fleet_adopt(f, s, r->queued, r->inflight);
	}
	e = live ? take_worker(r, &s) : -ESRCH;
	if (e == 0) {
		restore(s, r);
		session_from_slot(f, s);
		res->adopted++;
		return fleet_adopt(f, s, false, false);
	}
	if (live && e == -ESRCH)
		res->gone++;
	else if (live)
		res->replaced++;
	else
		res->stopped++;
	e = fresh_server(st, r, f->privileged, &s);
	if (e < 0) {
		/* Left to fleet_apply(), which binds again and says why. */
		log_warn("%s: cannot bind %s:%u again: %s", r->cfg.name, r->cfg.bind, r->cfg.port,
			 strerror(-e));
		return 0;
	}
	restore(s, r);
	resume_without_worker(s);
	return fleet_adopt(f, s, false, false);
}

int adopt_fleet(struct fleet *f, const struct state *st, enum adopt_mode mode,
		struct adopt_result *res)
{
	memset(res, 0, sizeof(*res));
	f->sess.draining = st->draining;
	f->sess.last_id = st->last_id;
	f->sess.allocations = st->allocations;
	memcpy(f->sess.failures, st->failures, sizeof(f->sess.failures));
	f->roll = st->roll;
	for (size_t i = 0; i < st->n; i++) {
		int e = adopt_one(f, st, &st->srv[i], mode, res);

		if (e < 0)
			return e;
	}
	return 0;
}
