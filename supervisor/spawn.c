// SPDX-License-Identifier: Apache-2.0
/* spawn.c - see spawn.h. */
#include "supervisor/spawn.h"

#include "common/exitcode.h"
#include "common/log.h"
#include "config/cfg_schema.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARGV_MAX SPAWN_ARGV_MAX
#define ARGBUF_MAX SPAWN_ARGBUF_MAX

static int argv_add(struct spawn_argv *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int argv_add(struct spawn_argv *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->argc >= ARGV_MAX - 1)
		return -E2BIG;
	va_start(ap, fmt);
	n = vsnprintf(b->buf + b->used, ARGBUF_MAX - b->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= ARGBUF_MAX - b->used)
		return -E2BIG;
	b->argv[b->argc++] = b->buf + b->used;
	b->argv[b->argc] = NULL;
	b->used += (size_t)n + 1;
	return 0;
}

/* Every per-server key the worker takes, from the config key table. */
static int add_key_args(const struct cfg_server *c, struct spawn_argv *b)
{
	char arg[CFG_FLAG_MAX + CFG_ADDR_MAX + 4];
	int r = 0;

	for (int f = 0; f < cfg_srv_nkeys; f++) {
		const struct cfg_key *k = &cfg_srv_keys[f];

		if (!k->worker)
			continue;
		if (cfg_key_worker_arg(k, c, arg, sizeof(arg)) < 0)
			return -E2BIG;
		r |= argv_add(b, "%s", arg);
	}
	return r;
}

int spawn_build_argv(const struct spawn_args *a, struct spawn_argv *b)
{
	const struct cfg_server *c = a->cfg;
	int r = 0;

	r |= argv_add(b, "%s", a->worker_path);
	r |= argv_add(b, "--name=%s", c->name);
	r |= argv_add(b, "--fd=%d", a->udp_fd);
	r |= argv_add(b, "--slot-fd=%d", a->slot_fd);
	r |= argv_add(b, "--ready-fd=%d", a->ready_fd);
	if (c->admission == RF_ADMISSION_TOKEN && a->token_key_fd >= 0)
		r |= argv_add(b, "--token-key-fd=%d", a->token_key_fd);
	r |= argv_add(b, "--tick-phase-ns=%llu", (unsigned long long)a->phase_ns);
	r |= add_key_args(c, b);
	r |= argv_add(b, "--log-level=%s", log_level_name(a->log_level));
	r |= argv_add(b, "--supervisor-pid=%d", (int)a->parent);
	return r ? -E2BIG : 0;
}

/* The child shares the supervisor's memory (CLONE_VM | CLONE_VFORK, as
 * posix_spawn does), so forking costs the same however large the fleet:
 * no page tables to copy, no copy-on-write faults in the supervisor
 * afterwards. The supervisor is suspended until the child execs or exits:
 * usually well under a millisecond, but on a host whose CPUs are saturated
 * as long as the scheduler takes to run the child (the pacing in fleet.c
 * bounds how many such waits one loop turn makes). The child therefore makes raw system calls only: no libc state, no
 * sanitizer interceptors, and no glibc set*id broadcast to the
 * supervisor's threads. */
#define CHILD_STACK_BYTES ((size_t)64 * 1024)

struct child_ctx {
	const struct spawn_args *a;
	pid_t parent;
	char *const *argv;
};

/* The kernel's struct sigaction for rt_sigaction. */
struct ksigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

#define NO_ASAN __attribute__((no_sanitize_address, noinline))

extern char **environ;

/* syscall(2) is a plain libc function (no interceptor); -errno on error.
 * errno is the supervisor's (shared memory), which is suspended. The
 * unused arguments are passed as 0: syscall() loads six registers
 * whatever it is given, and prctl(PR_SET_NO_NEW_PRIVS) fails with EINVAL
 * when its fifth is not 0 (it was garbage in sanitizer builds). */
NO_ASAN static long rf_raw_syscall4(long nr, long a, long b, long c, long d)
{
	long r = syscall(nr, a, b, c, d, 0L, 0L);

	return r < 0 ? -errno : r;
}

NO_ASAN static long rf_raw_syscall(long nr, long a, long b, long c)
{
	return rf_raw_syscall4(nr, a, b, c, 0);
}

/* Tells the parent why the child could not exec, on the readiness pipe
 * ("spawn-error ERRNO STEP\n"), then exits 127. */
NO_ASAN static void child_fail(int ready_fd, long ret, const char *step)
{
	char buf[64] = "spawn-error ";
	size_t n = 12;
	int e = ret < 0 && ret > -4096 ? (int)-ret : EIO, digits = 1;

	for (int v = e; v >= 10; v /= 10)
		digits++;
	for (int i = digits - 1, v = e; i >= 0; i--, v /= 10)
		buf[n + (size_t)i] = (char)('0' + v % 10);
	n += (size_t)digits;
	buf[n++] = ' ';
	for (size_t i = 0; step[i] && n < sizeof(buf) - 1; i++)
		buf[n++] = step[i];
	buf[n++] = '\n';
	rf_raw_syscall(SYS_write, ready_fd, (long)buf, (long)n);
	rf_raw_syscall(SYS_exit_group, RF_EXIT_EXEC, 0, 0);
	__builtin_unreachable();
}

/* Runs in the child before exec. No PR_SET_PDEATHSIG: a worker outlives
 * ringfleetd (its crash must not end the matches; the slot's beat stops
 * an orphan after orphan_timeout_s, worker/orphan.h). A worker whose
 * parent died before it even started has nobody to report to, though:
 * getppid() here, and once more in the worker after exec. */
NO_ASAN static int child_main(void *arg)
{
	const struct child_ctx *c = arg;
	const struct spawn_args *a = c->a;
	struct ksigaction dfl = { .handler = SIG_DFL };
	uint64_t none = 0, set[16] = { 0 };
	struct rlimit no_rt = { 0, 0 };
	int fds[] = { a->udp_fd, a->slot_fd, a->ready_fd, a->token_key_fd };
	long r;

	/* Own process group: a terminal's Ctrl-C reaches the supervisor only,
	 * which then stops the workers in order. */
	rf_raw_syscall(SYS_setpgid, 0, 0, 0);
	rf_raw_syscall4(SYS_rt_sigaction, SIGPIPE, (long)&dfl, 0, 8);
	rf_raw_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8);
	if (a->cpu >= 0 && a->cpu < 1024) {
		set[a->cpu / 64] = 1ull << (a->cpu % 64);
		r = rf_raw_syscall(SYS_sched_setaffinity, 0, sizeof(set), (long)set);
		if (r < 0)
			child_fail(a->ready_fd, r, "sched_setaffinity");
	}
	/* ringfleetd may hold RLIMIT_RTPRIO for itself (latency.h); a worker,
	 * game module code included, must not make itself realtime. */
	r = rf_raw_syscall4(SYS_prlimit64, 0, RLIMIT_RTPRIO, (long)&no_rt, 0);
	if (r < 0)
		child_fail(a->ready_fd, r, "prlimit");
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (fds[i] < 0) /* no token key */
			continue;
		r = rf_raw_syscall(SYS_fcntl, fds[i], F_SETFD, 0);
		if (r < 0)
			child_fail(a->ready_fd, r, "fcntl");
	}
	if (a->drop_privs) {
		r = rf_raw_syscall(SYS_setgroups, 0, 0, 0);
		if (r == 0)
			r = rf_raw_syscall(SYS_setresgid, a->gid, a->gid, a->gid);
		if (r == 0)
			r = rf_raw_syscall(SYS_setresuid, a->uid, a->uid, a->uid);
		if (r < 0)
			child_fail(a->ready_fd, r, "setresuid");
	}
	if (rf_raw_syscall(SYS_getppid, 0, 0, 0) != c->parent)
		rf_raw_syscall(SYS_exit_group, RF_EXIT_EXEC, 0, 0); /* nobody to report to */
	r = rf_raw_syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0);
	if (r < 0)
		child_fail(a->ready_fd, r, "prctl");
	r = rf_raw_syscall(SYS_execve, (long)c->argv[0], (long)c->argv, (long)environ);
	child_fail(a->ready_fd, r, "exec");
	return RF_EXIT_EXEC;
}

int spawn_worker(const struct spawn_args *a, pid_t *pid, int *pidfd)
{
	struct spawn_argv b = { .argc = 0 };
	static char child_stack[CHILD_STACK_BYTES] __attribute__((aligned(64)));
	struct child_ctx ctx;
	pid_t parent = a->parent, child;
	int fd, r;

	r = spawn_build_argv(a, &b);
	if (r < 0)
		return r;
	ctx = (struct child_ctx){ .a = a, .parent = parent, .argv = b.argv };
	child = clone(child_main, child_stack + CHILD_STACK_BYTES, CLONE_VM | CLONE_VFORK | SIGCHLD,
		      &ctx);
	if (child < 0)
		return -errno;
	/* The pid cannot be reused before we reap it, so this is race-free. */
	fd = (int)syscall(SYS_pidfd_open, child, 0);
	if (fd < 0) {
		r = -errno;
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		return r;
	}
	*pid = child;
	*pidfd = fd;
	return 0;
}

int spawn_reap(int pidfd, uint64_t *cpu_ticks)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0)
		return -errno;
	if (si.si_pid == 0)
		return -EAGAIN;
	*cpu_ticks = (uint64_t)si.si_utime + (uint64_t)si.si_stime;
	if (si.si_code == CLD_EXITED)
		return (si.si_status & 0xff) << 8;
	return si.si_status & 0x7f; /* killed or dumped: the signal */
}

int spawn_signal(int pidfd, int sig)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
		return -errno;
	return 0;
}

int spawn_parse_error(const char *line, size_t len)
{
	static const char tag[] = "spawn-error ";
	int e = 0;

	if (len <= sizeof(tag) - 1 || memcmp(line, tag, sizeof(tag) - 1) != 0)
		return 0;
	for (size_t i = sizeof(tag) - 1; i < len && line[i] >= '0' && line[i] <= '9'; i++)
		if (e < 100000)
			e = e * 10 + (line[i] - '0');
	return e;
}
