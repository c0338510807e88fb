// SPDX-License-Identifier: Apache-2.0
/* probe.c - see probe.h. */
#include "supervisor/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "config/cfg_names.h"
#include "supervisor/fsm.h"
#include "supervisor/server.h"

/* One distinct module: the first server naming it, and its child. */
struct probe {
	size_t first; /* index in cfg->servers */
	pid_t pid;    /* 0: not started or reaped */
	int pidfd, out;
	uint64_t deadline_ns;
	bool timed_out, done, out_eof;
	int status; /* wait status */
	char text[PROBE_OUTPUT_MAX];
	size_t len;
};

static void child(const char *worker, const char *path, int out, bool drop, uid_t uid, gid_t gid)
{
	char *argv[] = { (char *)worker, (char *)"--check-game", (char *)path, NULL };
	sigset_t none;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	/* Its own process group, so a timeout kills whatever it started. */
	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
	    dup2(out, STDERR_FILENO) < 0)
		_exit(127);
	if (drop && (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		     setresuid(uid, uid, uid) < 0)) {
		dprintf(STDERR_FILENO, "%s: cannot switch to uid %u: %s\n", path, (unsigned)uid,
			strerror(errno));
		_exit(2);
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	execv(worker, argv);
	dprintf(STDERR_FILENO, "%s: cannot run %s: %s\n", path, worker, strerror(errno));
	_exit(127);
}

static int start(struct probe *p, const struct cfg_server *srv, const char *worker)
{
	bool privileged = geteuid() == 0, drop = false;
	uid_t uid = 0;
	gid_t gid = 0;
	int fds[2], r;

	r = server_resolve_user(srv, privileged, &drop, &uid, &gid);
	if (r < 0)
		return r;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	p->pid = fork();
	if (p->pid < 0) {
		r = -errno;
		p->pid = 0;
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (p->pid == 0)
		child(worker, srv->game, fds[1], drop, uid, gid);
	close(fds[1]);
	p->out = fds[0];
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (p->pidfd < 0) {
		r = -errno;
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
		close(p->out);
		return r;
	}
	p->deadline_ns = rf_now_ns() + (uint64_t)PROBE_TIMEOUT_MS * RF_NSEC_PER_MSEC;
	return 0;
}

/* Keeps the first PROBE_OUTPUT_MAX - 1 bytes, drops the rest. */
static void drain(struct probe *p)
{
	char sink[512];

	for (;;) {
		size_t room = sizeof(p->text) - 1 - p->len;
		ssize_t n = room ? read(p->out, p->text + p->len, room)
				 : read(p->out, sink, sizeof(sink));

		if (n == 0)
			p->out_eof = true; /* no POLLHUP spin while the child lingers */
		if (n <= 0)
			break;
		if (room)
			p->len += (size_t)n;
	}
	p->text[p->len] = '\0';
}

static void finish(struct probe *p)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED) == 0)
		p->status =
			si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : si.si_status & 0x7f;
	else
		p->status = 0xff << 8;
	drain(p);
	close(p->pidfd);
	close(p->out);
	p->pid = 0;
	p->done = true;
}

/* Waits for any running child to end or pass its deadline. */
static void wait_some(struct probe *run[], size_t n)
{
	struct pollfd pfd[2 * PROBE_PARALLEL];
	uint64_t now = rf_now_ns(), first = UINT64_MAX;
	int timeout;

	for (size_t i = 0; i < n; i++) {
		pfd[2 * i] = (struct pollfd){ .fd = run[i]->pidfd, .events = POLLIN };
		pfd[2 * i + 1] = (struct pollfd){ .fd = run[i]->out_eof ? -1 : run[i]->out,
						  .events = POLLIN };
		if (run[i]->deadline_ns < first)
			first = run[i]->deadline_ns;
	}
	timeout = first <= now ? 0 : (int)((first - now) / RF_NSEC_PER_MSEC + 1);
	/* On an error (EINTR) no event counts, only the deadlines below act:
	 * no error can keep a child past its deadline. */
	if (poll(pfd, (nfds_t)(2 * n), timeout) < 0)
		memset(pfd, 0, sizeof(pfd));
	now = rf_now_ns();
	for (size_t i = 0; i < n; i++) {
		struct probe *p = run[i];

		if (pfd[2 * i + 1].revents)
			drain(p);
		if (pfd[2 * i].revents) {
			finish(p);
		} else if (now >= p->deadline_ns) {
			p->timed_out = true;
			kill(-p->pid, SIGKILL);
			kill(p->pid, SIGKILL);
			finish(p);
		}
	}
}

/* The child's verdict as one printable line, without "PATH: " when the
 * worker already named the path (the message names it once). */
static void reason(const struct probe *p, const char *path, char *buf, size_t len)
{
	char what[48], line[PROBE_OUTPUT_MAX];
	size_t n = strcspn(p->text, "\n"), plen = strlen(path);
	const char *text = line;

	memcpy(line, p->text, n);
	line[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (strncmp(line, path, plen) == 0 && strncmp(line + plen, ": ", 2) == 0)
		text = line + plen + 2;
	if (p->timed_out) {
		snprintf(buf, len, "%s: timed out loading (%d ms)", path, PROBE_TIMEOUT_MS);
		return;
	}
	if (*text) {
		snprintf(buf, len, "%s: %s", path, text);
		return;
	}
	fsm_describe_exit(p->status, what, sizeof(what));
	snprintf(buf, len, "%s: checking it, the worker %s", path, what);
}

static int run_all(struct probe *pr, size_t n, const struct cfg *cfg, const char *worker, char *err,
		   size_t errlen)
{
	struct probe *run[PROBE_PARALLEL];
	size_t next = 0, n_run = 0;
	int r = 0;

	while (next < n || n_run) {
		while (r == 0 && next < n && n_run < PROBE_PARALLEL) {
			struct probe *p = &pr[next++];

			r = start(p, &cfg->servers[p->first], worker);
			if (r < 0)
				snprintf(err, errlen, "%s: cannot check game %s: %s", cfg->path,
					 cfg->servers[p->first].game, strerror(-r));
			else
				run[n_run++] = p;
		}
		if (r < 0 && !n_run)
			break;
		wait_some(run, n_run);
		for (size_t i = 0; i < n_run;)
			if (run[i]->done)
				run[i] = run[--n_run];
			else
				i++;
	}
	return r;
}

int probe_modules(const struct cfg *cfg, const char *worker, char *err, size_t errlen)
{
	struct cfg_names seen = { 0 };
	struct probe *pr = NULL;
	size_t n = 0, bad = SIZE_MAX;
	int r = 0;

	if (!cfg->n_servers)
		return 0;
	pr = calloc(cfg->n_servers, sizeof(*pr));
	if (!pr || cfg_names_init(&seen, cfg->servers[0].game, sizeof(cfg->servers[0]),
				  cfg->n_servers) < 0) {
		free(pr);
		snprintf(err, errlen, "%s: %s", cfg->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->n_servers; i++)
		if (strcmp(cfg->servers[i].game, "relay") != 0 &&
		    cfg_names_add(&seen, (uint32_t)i) < 0)
			pr[n++].first = i;
	cfg_names_free(&seen);
	r = run_all(pr, n, cfg, worker, err, errlen);
	/* pr[] is in file order of first use: the first failure is the one. */
	for (size_t i = 0; r == 0 && bad == SIZE_MAX && i < n; i++)
		if (pr[i].done && (pr[i].timed_out || pr[i].status != 0))
			bad = i;
	if (r == 0 && bad != SIZE_MAX) {
		const struct cfg_server *s = &cfg->servers[pr[bad].first];
		char why[PROBE_OUTPUT_MAX + 64];

		reason(&pr[bad], s->game, why, sizeof(why));
		snprintf(err, errlen, "%s:%d: game: %s", cfg->path,
			 s->game_line ? s->game_line : s->line, why);
		r = -EINVAL;
	}
	free(pr);
	return r;
}
