// SPDX-License-Identifier: Apache-2.0
/* main.c - ringfleet-worker: one game server. Arguments, the socket and
 * the slot, the game module (game_host.c), backend choice and signals; the
 * tick loop is driver.c's. --check-game only loads and checks a module.
 *
 * Exit codes: 0 after SIGTERM/SIGINT or an orphan's stop (orphan.h), 2
 * bad arguments or a game module that cannot load or init (the supervisor
 * does not retry those; the reason is in the slot's exit_reason), 1 any
 * runtime failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/log.h"
#include "common/slot.h"
#include "common/timeutil.h"
#include "common/token.h"
#include "config/cfg_schema.h"
#include "worker/args.h"
#include "worker/driver.h"
#include "worker/game_host.h"
#include "worker/mmsg.h"
#include "worker/ring.h"
#include "worker/worker.h"

#define SOCK_BUF_BYTES (4 << 20)
#define STOP_DRAIN_NS (2 * RF_NSEC_PER_SEC)

static volatile sig_atomic_t stop_signal;

/* Best effort: more room smooths bursts and holds traffic over a restart;
 * the FORCE variant passes the sysctl caps when we may. */
static void grow_buf(int fd, int opt, int force_opt, int bytes)
{
	int cur = 0;
	socklen_t len = sizeof(cur);

	if (getsockopt(fd, SOL_SOCKET, opt, &cur, &len) == 0 && cur >= bytes)
		return;
	if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes));
}

static int open_socket(const struct opts *o)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				  .ai_socktype = SOCK_DGRAM };
	struct addrinfo *ai;
	char port[8];
	int fd, ret;

	snprintf(port, sizeof(port), "%u", o->port);
	ret = getaddrinfo(o->bind, port, &hints, &ai);
	if (ret != 0)
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		freeaddrinfo(ai);
		return ret;
	}
	grow_buf(fd, SO_RCVBUF, SO_RCVBUFFORCE, SOCK_BUF_BYTES);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		ret = -errno;
		close(fd);
		freeaddrinfo(ai);
		return ret;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Every datagram then carries its kernel receive time, so that the flood
 * cap counts it against the tick it arrived in, not the one that drained
 * it after a stall. The option stays on the socket, which the supervisor
 * owns, across workers. Without it the cap counts per draining tick. */
static void enable_stamps(int fd)
{
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
		log_warn("SO_TIMESTAMPNS: %s: the flood cap counts per draining tick",
			 strerror(errno));
}

/* The inherited socket must be a bound UDP socket; returns its family. */
static int check_socket(int fd)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	int type = 0;
	socklen_t tlen = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0)
		return -errno;
	if (type != SOCK_DGRAM)
		return -EPROTOTYPE;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET && ((struct sockaddr_in *)&ss)->sin_port)
		return AF_INET;
	if (ss.ss_family == AF_INET6 && ((struct sockaddr_in6 *)&ss)->sin6_port)
		return AF_INET6;
	return -EDESTADDRREQ;
}

static void describe_socket(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof(ss);
	char host[64], serv[16];

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, len, "fd %d", fd);
		return;
	}
	snprintf(buf, len, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

static struct rf_slot *map_slot(int fd, uint32_t max_clients)
{
	size_t size = rf_slot_size(max_clients);
	struct stat st;
	void *p;

	if (fd < 0) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < size) {
		errno = EINVAL;
		return NULL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* SIGURG only wakes an idle sleep: the supervisor sends it when it
 * allocates the server, which must then tick (driver.h). Its default
 * action is to ignore it, so a worker without this handler is safe. */
static void on_wake(int sig)
{
	(void)sig;
}

/* SIGTERM/SIGINT/SIGURG stay blocked except while sleeping (the wait
 * mask), so they can only cut a sleep short, never a tick. */
static void setup_signals(sigset_t *waitmask)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct sigaction wake = { .sa_handler = on_wake };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&wake.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGURG, &wake, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGURG);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGURG);
}

static uint64_t seed(void)
{
	uint64_t s = rf_now_ns() ^ ((uint64_t)getpid() << 32);
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &s, sizeof(s)) != sizeof(s))
			s ^= (uint64_t)(uintptr_t)&s;
		close(fd);
	}
	return s;
}

/* io_uring unless told otherwise, falling back to mmsg when allowed. */
static int backend_open(struct rf_driver *d, const struct opts *o, struct worker *w, int fd)
{
	int ret;

	if (o->srv.backend != RF_BACKEND_MMSG) {
		ret = rf_driver_open(d, &ring_backend_ops, w, fd, o->srv.recv_buffers,
				     o->srv.max_clients, o->srv.tick_hz, o->tick_phase_ns);
		if (ret == 0) {
			log_info("io_uring backend, %s", d->ops->mode(d->be));
			return 0;
		}
		if (o->srv.backend == RF_BACKEND_IO_URING) {
			log_err("io_uring unavailable: %s", strerror(-ret));
			return ret;
		}
		if (ret == -EPERM || ret == -ENOSYS)
			log_notice("io_uring unavailable (%s): using recvmmsg/sendmmsg",
				   strerror(-ret));
		else
			log_warn("io_uring setup failed (%s): using recvmmsg/sendmmsg",
				 strerror(-ret));
	}
	ret = rf_driver_open(d, &mmsg_backend_ops, w, fd, o->srv.recv_buffers, o->srv.max_clients,
			     o->srv.tick_hz, o->tick_phase_ns);
	if (ret < 0) {
		log_err("mmsg backend: %s", strerror(-ret));
		return ret;
	}
	if (o->srv.backend == RF_BACKEND_MMSG)
		log_info("mmsg backend (forced)");
	return 0;
}

static void game_log(int level, const char *line)
{
	log_msg(level, "%s", line);
}

/* A game that cannot run: the reason goes to the log and into the slot,
 * where the supervisor shows it as the server's fatal reason. */
static int game_fatal(struct rf_slot *slot, const char *why)
{
	log_err("%s", why);
	snprintf(slot->game.exit_reason, RF_SLOT_EXIT_REASON_MAX, "%.*s",
		 RF_SLOT_EXIT_REASON_MAX - 1, why);
	return RF_EXIT_CONFIG;
}

/* --check-game: what the worker would refuse at start, without init. */
static int check_game(const char *path)
{
	struct game_host h;
	char why[GAME_HOST_WHY_MAX];

	if (game_host_load(&h, path, why, sizeof(why)) < 0) {
		fprintf(stderr, "%s: %s\n", path, why);
		return RF_EXIT_CONFIG;
	}
	game_host_unload(&h);
	return 0;
}

static void signal_ready(int fd)
{
	static const char msg[] = "ready\n";

	if (fd < 0)
		return;
	if (write(fd, msg, sizeof(msg) - 1) < 0)
		log_warn("ready fd: %s", strerror(errno));
	close(fd);
}

/* The host key of admission = token from --token-key-fd: the supervisor
 * hands it in a memfd, never in argv (which any local user can read). */
static int read_token_key(const struct opts *o, uint8_t key[RF_TOKEN_KEY_LEN])
{
	uint8_t buf[RF_TOKEN_KEY_HEX_LEN + 2];
	ssize_t n;
	int ret;

	if (o->token_key_fd < 0) {
		log_err("admission = token needs the host key (--token-key-fd)");
		return -EINVAL;
	}
	n = pread(o->token_key_fd, buf, sizeof(buf), 0);
	ret = n < 0 ? -errno : token_key_parse(buf, (size_t)n, key);
	sodium_memzero(buf, sizeof(buf));
	close(o->token_key_fd);
	if (ret < 0)
		log_err("--token-key-fd %d: %s", o->token_key_fd,
			ret == -EINVAL ? "not 32 bytes or 64 hex digits" : strerror(-ret));
	return ret;
}

static int run(struct opts *o)
{
	static uint8_t token_key[RF_TOKEN_KEY_LEN];
	static struct game_host host;
	struct worker w;
	struct rf_driver d;
	struct worker_params wp;
	struct rf_slot *slot;
	sigset_t waitmask;
	char where[96], why[GAME_HOST_WHY_MAX], reason[GAME_HOST_WHY_MAX + 300];
	struct game_host_params gp = {
		.server = o->name,
		.args = o->srv.game_args,
		.tick_hz = o->srv.tick_hz,
		.output_budget = o->srv.max_output_per_tick,
		.session_idle_s = o->srv.session_idle_s,
		.log = game_log,
	};
	int fd = o->fd, family, ret;

	setup_signals(&waitmask);
	if (sodium_init() < 0) {
		log_err("libsodium initialisation failed");
		return RF_EXIT_FAILURE;
	}
	if (o->srv.admission == RF_ADMISSION_TOKEN) {
		if (read_token_key(o, token_key) < 0)
			return EXIT_USAGE;
	} else if (o->token_key_fd >= 0) {
		close(o->token_key_fd);
	}
	if (fd < 0) {
		fd = open_socket(o);
		if (fd < 0) {
			log_err("cannot bind %s port %u: %s", o->bind, o->port, strerror(-fd));
			return RF_EXIT_FAILURE;
		}
	}
	family = check_socket(fd);
	if (family < 0) {
		log_err("--fd %d is not a bound UDP socket: %s", fd, strerror(-family));
		return EXIT_USAGE;
	}
	/* Sends of one tick go out in a burst; room for it avoids waiting
	 * on (and reordering around) a full send buffer. */
	grow_buf(fd, SO_SNDBUF, SO_SNDBUFFORCE, SOCK_BUF_BYTES);
	enable_stamps(fd);
	slot = map_slot(o->slot_fd, o->srv.max_clients);
	if (!slot) {
		log_err("--slot-fd %d: cannot map a slot for %u clients: %s", o->slot_fd,
			o->srv.max_clients, strerror(errno));
		return o->slot_fd >= 0 ? EXIT_USAGE : RF_EXIT_FAILURE;
	}
	/* Before the data path: a module that cannot load stops here. */
	if (game_host_load(&host, o->srv.game, why, sizeof(why)) < 0) {
		snprintf(reason, sizeof(reason), "game %s: %s", o->srv.game, why);
		return game_fatal(slot, reason);
	}
	wp = (struct worker_params){
		.max_clients = o->srv.max_clients,
		.client_timeout_s = o->srv.client_timeout_s,
		.max_packet = o->srv.max_packet,
		.max_packets_per_tick = o->srv.max_packets_per_tick,
		.gso_max_seg = o->no_gso           ? 0
			       : family == AF_INET ? RF_GSO_SEG_IPV4
						   : RF_GSO_SEG_IPV6,
		.tick_hz = o->srv.tick_hz,
		.tick_phase_ns = o->tick_phase_ns,
		.seed = seed(),
		.admission = o->srv.admission,
		.max_clients_per_ip = o->srv.max_clients_per_ip,
		.max_output_per_tick = o->srv.max_output_per_tick,
		.token_key = o->srv.admission == RF_ADMISSION_TOKEN ? token_key : NULL,
		.server = o->name,
	};
	ret = worker_init(&w, slot, &wp);
	if (ret < 0) {
		log_err("worker setup: %s", strerror(-ret));
		game_host_unload(&host);
		return RF_EXIT_FAILURE;
	}
	if (ret == 1)
		log_info("resuming from the slot: %u clients, %llu ticks before", w.clients.n,
			 (unsigned long long)w.st.ticks);
	/* A backend may already receive while it opens (io_uring checks its
	 * receive). */
	worker_tick_start(&w, rf_now_ns(), rf_real_ns());
	rf_driver_rotate_key(&w);
	/* init, then the resumed clients join. */
	if (game_host_start(&host, &w, &gp, why, sizeof(why)) < 0) {
		game_host_unload(&host);
		worker_free(&w);
		return game_fatal(slot, why);
	}
	if (backend_open(&d, o, &w, fd) < 0) {
		game_host_unload(&host);
		worker_free(&w);
		return RF_EXIT_FAILURE;
	}
	d.drain_ns = (uint64_t)o->srv.drain_timeout_ms * RF_NSEC_PER_MSEC;
	d.idle_sleep = o->srv.idle_sleep != 0;
	w.st.backend = d.ops->kind;
	w.st.worker_pid = (uint32_t)getpid();
	w.st.ready = 1;
	worker_publish(&w);
	describe_socket(fd, where, sizeof(where));
	log_info("game %s on %s: tick %u Hz, max_clients %u, max_packet %u, gso %s, "
		 "admission %s, max_clients_per_ip %u",
		 slot->game.name, where, o->srv.tick_hz, o->srv.max_clients, o->srv.max_packet,
		 w.st.gso ? "on" : "off", cfg_admission_name(o->srv.admission),
		 o->srv.max_clients_per_ip);
	signal_ready(o->ready_fd);

	ret = rf_driver_run(&d, &waitmask, &stop_signal);
	if (ret < 0) {
		log_err("tick loop: %s", strerror(-ret));
		rf_driver_close(&d);
		game_host_unload(&host);
		worker_free(&w);
		return RF_EXIT_FAILURE;
	}
	if (rf_driver_drain(&d, rf_now_ns() + STOP_DRAIN_NS) < 0)
		log_warn("stopping with sends still in flight");
	/* fini last: nothing it queues is sent. */
	game_host_unload(&host);
	w.st.ready = 0;
	worker_publish(&w);
	if (stop_signal)
		log_info("stopped by %s", strsignal(stop_signal));
	else
		log_info("stopped: supervisor gone for %llu s", (unsigned long long)d.orphan_s);
	rf_driver_close(&d);
	worker_free(&w);
	/* Ours in standalone mode: free the port now for a quick restart. */
	if (o->fd < 0)
		close(fd);
	return 0;
}

/* Workers outlive their supervisor on purpose (a crash of ringfleetd
 * leaves the matches running for the next one to adopt, and the slot's
 * beat stops an orphan after orphan_timeout_s, orphan.h). But a worker
 * whose supervisor died before it even got going has no match to keep and
 * nobody who will ever talk to it: the spawn checks getppid() before exec,
 * and this closes the window between that check and now. */
static void check_supervisor_alive(pid_t supervisor)
{
	if (supervisor <= 0)
		return;
	if (getppid() != supervisor) {
		log_err("supervisor pid %d is gone before we started: exiting", (int)supervisor);
		exit(RF_EXIT_FAILURE);
	}
}

int main(int argc, char **argv)
{
	struct opts o;

	args_parse(&o, argc, argv);
	if (o.check_game)
		return check_game(o.check_game);
	log_set_ident(o.name);
	check_supervisor_alive(o.supervisor_pid);
	return run(&o);
}
