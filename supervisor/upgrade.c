// SPDX-License-Identifier: Apache-2.0
/* upgrade.c - see upgrade.h. */
#include "supervisor/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/ctlproto.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "supervisor/control.h"
#include "supervisor/adopt.h"
#include "supervisor/daemon.h"
#include "supervisor/state.h"

#define CHECK_TIMEOUT_MS 10000
#define CHECK_FD 3
#define REASON_MAX 400
/* The state file is rewritten at once (at the end of the loop turn) when
 * a worker started or a process state changed (a crash must find every
 * live worker as it is), else at most this often: a thousand servers'
 * state is ~1 MB of text, and at 500 allocations a second rewriting it
 * per allocation took ringfleetd half a core. The sessions it lags
 * behind are read back from the slots (adopt.c). */
#define STATE_SAVE_EVERY_NS (RF_NSEC_PER_SEC / 2)

/* ---- the check: the new binary, in a child, reads the state ---- */

int upgrade_check(int fd)
{
	char err[512];
	char *text = NULL;
	size_t len = 0;
	struct state st;
	int r = state_fd_load(fd, &text, &len);

	if (r < 0) {
		fprintf(stderr, "cannot read the handed-over state: %s\n", strerror(-r));
		return 1;
	}
	r = state_parse(text, len, &st, err, sizeof(err));
	free(text);
	if (r < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("ringfleetd %s takes over the state of ringfleetd %s (%zu servers)\n", RF_VERSION,
	       st.version, st.n);
	state_free(&st);
	return 0;
}

/* Reads what the child wrote (it has exited: this cannot block long). */
static void read_reason(int fd, char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len - 1 && (n = read(fd, buf + off, len - 1 - off)) > 0)
		off += (size_t)n;
	buf[off] = '\0';
	while (off > 0 && (buf[off - 1] == '\n' || buf[off - 1] == ' '))
		buf[--off] = '\0';
	for (size_t i = 0; i < off; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
}

/* Starts `EXE --upgrade-check=3` with the state on fd 3 and its output on
 * a pipe. 0, or -1 with why. */
static int start_check(struct daemon *d, int memfd, char *why, size_t len)
{
	char *argv[] = { d->exe_path, (char *)"--upgrade-check=3", NULL };
	posix_spawn_file_actions_t fa;
	_cleanup_close_ int rd = -1, wr = -1, pidfd = -1;
	int p[2], r;
	pid_t pid;

	if (access(d->exe_path, X_OK) < 0) {
		snprintf(why, len, "%s: %s", d->exe_path, strerror(errno));
		return -1;
	}
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(why, len, "pipe: %s", strerror(errno));
		return -1;
	}
	rd = p[0];
	wr = p[1];
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, memfd, CHECK_FD);
	posix_spawn_file_actions_adddup2(&fa, wr, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, wr, STDERR_FILENO);
	r = posix_spawn(&pid, d->exe_path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		snprintf(why, len, "%s: %s", d->exe_path, strerror(r));
		return -1;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		snprintf(why, len, "pidfd_open: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	d->upgrade.tag = (struct ev_tag){ EV_UPGRADE, d };
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, pidfd,
		  &(struct epoll_event){ .events = EPOLLIN, .data.ptr = &d->upgrade.tag });
	d->upgrade.pid = pid;
	d->upgrade.pidfd = TAKE_FD(pidfd);
	d->upgrade.out_fd = TAKE_FD(rd);
	d->upgrade.deadline_ns = rf_now_ns() + (uint64_t)CHECK_TIMEOUT_MS * RF_NSEC_PER_MSEC;
	return 0;
}

/* The check is over (or abandoned): its child reaped, its fds closed.
 * Returns its wait status, or -ETIMEDOUT when it had to be killed. */
static int end_check(struct daemon *d, bool kill_it, char *out, size_t len)
{
	int st = 0;

	if (kill_it)
		kill(d->upgrade.pid, SIGKILL);
	while (waitpid(d->upgrade.pid, &st, 0) < 0 && errno == EINTR)
		;
	read_reason(d->upgrade.out_fd, out, len);
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->upgrade.pidfd, NULL);
	close(d->upgrade.pidfd);
	close(d->upgrade.out_fd);
	d->upgrade.pid = 0;
	d->upgrade.pidfd = d->upgrade.out_fd = -1;
	d->upgrade.deadline_ns = 0;
	return kill_it ? -ETIMEDOUT : st;
}

static void check_failed(const char *exe, int st, const char *out, char *why, size_t len)
{
	if (st == -ETIMEDOUT)
		snprintf(why, len, "%s --upgrade-check did not answer within %d ms", exe,
			 CHECK_TIMEOUT_MS);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
		snprintf(why, len, "%s does not know --upgrade-check (too old to take over)", exe);
	else
		snprintf(why, len, "%s refuses to take over: %s", exe,
			 out[0] ? out : "no reason given");
}

/* ---- the exec ---- */

static void set_cloexec(int fd, bool on)
{
	int fl = fd >= 0 ? fcntl(fd, F_GETFD) : -1;

	if (fl >= 0)
		fcntl(fd, F_SETFD, on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC));
}

/* Every fd the state names, kept across exec (cloexec false) or not. */
static void keep_fds(struct daemon *d, int memfd, int conn_fd, bool cloexec)
{
	set_cloexec(memfd, cloexec);
	set_cloexec(conn_fd, cloexec);
	set_cloexec(d->ctl.listen_fd, cloexec);
	for (size_t i = 0; i < d->fleet.n; i++) {
		struct server *s = d->fleet.srv[i];

		set_cloexec(s->udp_fd, cloexec);
		set_cloexec(s->slot_fd, cloexec);
		set_cloexec(s->pidfd, cloexec);
		set_cloexec(s->ready_fd, cloexec);
	}
}

/* argv for the new image: ours, without an earlier --upgrade-from. */
static char **exec_argv(const struct daemon *d, int memfd, char *arg, size_t len)
{
	char **argv = calloc((size_t)d->argc + 2, sizeof(*argv));
	int n = 0;

	if (!argv)
		return NULL;
	argv[n++] = (char *)d->exe_path;
	for (int i = 1; i < d->argc; i++)
		if (strncmp(d->argv[i], "--upgrade-from=", 15) != 0)
			argv[n++] = d->argv[i];
	snprintf(arg, len, "--upgrade-from=%d", memfd);
	argv[n++] = arg;
	argv[n] = NULL;
	return argv;
}

static int state_memfd(struct daemon *d, int conn_fd, char *why, size_t len)
{
	size_t n = 0, off = 0;
	_cleanup_free_ char *text = state_format(d, conn_fd, &n);
	_cleanup_close_ int fd = memfd_create("ringfleetd-state", MFD_CLOEXEC);

	if (!text || fd < 0) {
		snprintf(why, len, "cannot write the state: %s", strerror(text ? errno : ENOMEM));
		return -1;
	}
	while (off < n) {
		ssize_t w = write(fd, text + off, n - off);

		if (w <= 0) {
			snprintf(why, len, "cannot write the state: %s", strerror(errno));
			return -1;
		}
		off += (size_t)w;
	}
	return TAKE_FD(fd);
}

static char *refused(const char *why)
{
	log_warn("upgrade refused: %s", why);
	return ctl_reply_error("upgrade refused, ringfleetd %s goes on running: %s", RF_VERSION,
			       why);
}

/* Deferred requests would have their connections closed at the exec,
 * unanswered. */
static bool busy(const struct daemon *d, char *why, size_t len)
{
	if (d->shutting_down)
		snprintf(why, len, "shutting down");
	else if (d->n_waiters > 0)
		snprintf(why, len,
			 "%zu requests are waiting for the fleet to settle (start, stop, "
			 "restart, reload, drain): upgrade once they are answered",
			 d->n_waiters);
	else
		return false;
	return true;
}

/* The check said yes: the state as it is now (the fleet may have moved
 * while the check ran) goes to the new image. Returns only on failure. */
static char *exec_new_image(struct daemon *d, int conn_fd)
{
	char why[REASON_MAX + PATH_MAX + 128], arg[32];
	_cleanup_close_ int memfd = -1;
	char **argv;

	if (busy(d, why, sizeof(why)))
		return refused(why);
	memfd = state_memfd(d, conn_fd, why, sizeof(why));
	if (memfd < 0)
		return refused(why);
	argv = exec_argv(d, memfd, arg, sizeof(arg));
	if (!argv)
		return refused("out of memory");
	log_notice("upgrading in place: exec %s (%zu servers handed over)", d->exe_path,
		   d->fleet.n);
	keep_fds(d, memfd, conn_fd, false);
	sessions_send_wakes(&d->fleet); /* the new image would not know to */
	latency_normal(&d->lat);        /* its start-up is not urgent */
	execv(d->exe_path, argv);
	snprintf(why, sizeof(why), "exec %s: %s", d->exe_path, strerror(errno));
	free(argv);
	keep_fds(d, memfd, conn_fd, true);
	log_err("upgrade failed: %s", why);
	return ctl_reply_error("upgrade failed, ringfleetd %s goes on running: %s", RF_VERSION,
			       why);
}

char *upgrade_start(struct daemon *d, uint64_t conn_id)
{
	char why[REASON_MAX + PATH_MAX + 128];
	_cleanup_close_ int memfd = -1;

	if (d->upgrade.pid)
		return ctl_reply_error("an upgrade is already under way");
	if (busy(d, why, sizeof(why)))
		return refused(why);
	memfd = state_memfd(d, -1, why, sizeof(why));
	if (memfd < 0 || start_check(d, memfd, why, sizeof(why)) < 0)
		return refused(why);
	/* The loop goes on serving while the new binary reads the state. */
	d->upgrade.conn_id = conn_id;
	return CONTROL_DEFER;
}

void upgrade_on_check(struct daemon *d, bool timed_out)
{
	char out[REASON_MAX], why[REASON_MAX + PATH_MAX + 128];
	int st, conn_fd;

	if (!d->upgrade.pid ||
	    (!timed_out && waitid(P_PIDFD, (id_t)d->upgrade.pidfd, &(siginfo_t){ 0 },
				  WEXITED | WNOHANG | WNOWAIT) < 0))
		return;
	st = end_check(d, timed_out, out, sizeof(out));
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		check_failed(d->exe_path, st, out, why, sizeof(why));
		control_reply(&d->ctl, d->upgrade.conn_id, refused(why));
		return;
	}
	log_info("upgrade check: %s", out);
	conn_fd = control_conn_fd(&d->ctl, d->upgrade.conn_id);
	if (conn_fd < 0) {
		log_warn("upgrade abandoned: the requester is gone");
		return;
	}
	control_reply(&d->ctl, d->upgrade.conn_id, exec_new_image(d, conn_fd));
}

uint64_t upgrade_deadline(const struct daemon *d)
{
	return d->upgrade.pid ? d->upgrade.deadline_ns : UINT64_MAX;
}

/* ---- the new image ---- */

static int load_state(int fd, const char *what, struct state *st, char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = state_fd_load(fd, &text, &len);

	if (r < 0) {
		snprintf(err, errlen, "%.256s: %s", what, strerror(-r));
		return r;
	}
	return state_parse(text, len, st, err, errlen);
}

static int resume_upgrade(struct daemon *d, int fd, char *err, size_t errlen)
{
	struct adopt_result res;
	struct state st;
	int r = load_state(fd, "handed-over state", &st, err, errlen);

	close(fd);
	if (r < 0)
		return r;
	r = control_inherit(&d->ctl, d->epfd, d->cfg.sup.control_socket, st.control_fd);
	if (r < 0) {
		snprintf(err, errlen, "control socket fd %d: %s", st.control_fd, strerror(-r));
		state_free(&st);
		return r;
	}
	d->started_ns = st.started_ns;
	d->upgrades = st.upgrades + 1;
	snprintf(d->upgraded_from, sizeof(d->upgraded_from), "%s", st.version);
	d->reply_fd = st.reply_fd;
	if (d->reply_fd >= 0)
		fcntl(d->reply_fd, F_SETFD, FD_CLOEXEC);
	r = adopt_fleet(&d->fleet, &st, ADOPT_UPGRADE, &res);
	d->adopted = res.adopted;
	log_notice("upgraded in place from ringfleetd %s to %s: %zu workers kept, %zu servers "
		   "without one",
		   st.version, RF_VERSION, res.adopted, res.stopped);
	state_free(&st);
	if (r < 0)
		snprintf(err, errlen, "taking over the fleet: %s", strerror(-r));
	return r;
}

/* A state file no ringfleetd serves any more: the one before us crashed
 * (or was killed) without stopping its fleet. */
static void resume_crash(struct daemon *d)
{
	_cleanup_close_ int fd = -1;
	struct adopt_result res;
	struct state st;
	char err[512];

	fd = open(d->state_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("state file %s: %s: starting every server afresh", d->state_path,
				 strerror(errno));
		return;
	}
	if (load_state(fd, d->state_path, &st, err, sizeof(err)) < 0) {
		log_warn("%s: starting every server afresh", err);
		return;
	}
	if (adopt_fleet(&d->fleet, &st, ADOPT_CRASH, &res) < 0)
		log_err("taking over the fleet of ringfleetd pid %d: out of memory", (int)st.pid);
	d->adopted = res.adopted;
	d->upgraded_from[0] = '\0';
	snprintf(d->recovered_from, sizeof(d->recovered_from), "%s", st.version);
	d->started_ns = rf_now_ns();
	log_notice("took over from ringfleetd %s (pid %d), which ended without stopping its "
		   "servers: %zu live workers adopted, %zu replaced, %zu gone, %zu without one",
		   st.version, (int)st.pid, res.adopted, res.replaced, res.gone, res.stopped);
	state_free(&st);
}

int upgrade_resume(struct daemon *d, int upgrade_fd, char *err, size_t errlen)
{
	int r = state_file_path(d->cfg.sup.control_socket, d->state_path, sizeof(d->state_path));

	if (r < 0) {
		snprintf(err, errlen, "state file path: %s", strerror(-r));
		return r;
	}
	d->reply_fd = -1;
	if (upgrade_fd >= 0)
		return resume_upgrade(d, upgrade_fd, err, errlen);
	r = control_open(&d->ctl, d->epfd, d->cfg.sup.control_socket, d->cfg.sup.control_group,
			 d->cfg.sup.control_mode, err, errlen);
	if (r < 0)
		return r;
	resume_crash(d);
	return 0;
}

void upgrade_finish(struct daemon *d)
{
	char *line;
	json_t *body;

	if (d->reply_fd < 0)
		return;
	body = json_pack("{s:s, s:s, s:i, s:I, s:I}", "upgraded_from", d->upgraded_from, "version",
			 RF_VERSION, "pid", (int)getpid(), "workers_kept", (json_int_t)d->adopted,
			 "servers", (json_int_t)d->fleet.n);
	line = ctl_reply_ok(body);
	if (line) {
		/* A short line into an empty socket buffer: one send. */
		if (send(d->reply_fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_warn("upgrade: the requester is gone: %s", strerror(errno));
		free(line);
	}
	close(d->reply_fd);
	d->reply_fd = -1;
}

uint64_t upgrade_state_deadline(const struct daemon *d)
{
	if (d->fleet.state_gen == d->state_saved_gen || !d->state_path[0])
		return UINT64_MAX;
	return d->fleet.state_urgent ? 0 : d->state_saved_ns + STATE_SAVE_EVERY_NS;
}

void upgrade_save_state(struct daemon *d, uint64_t now)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	if (now < upgrade_state_deadline(d))
		return;
	text = state_format(d, -1, &len);
	r = text ? state_file_save(d->state_path, text, len) : -ENOMEM;
	d->state_saved_ns = now;
	if (r < 0) {
		if (!d->state_save_failed)
			log_err("state file %s: %s: a crash of ringfleetd now loses its servers",
				d->state_path, strerror(-r));
		d->state_save_failed = true;
		return;
	}
	if (d->state_save_failed)
		log_notice("state file %s written again", d->state_path);
	d->state_save_failed = false;
	d->state_saved_gen = d->fleet.state_gen;
	d->fleet.state_urgent = false;
}

void upgrade_remove_state(struct daemon *d)
{
	if (d->state_path[0] && unlink(d->state_path) < 0 && errno != ENOENT)
		log_warn("state file %s: %s", d->state_path, strerror(errno));
}
