/* main.c - ringfleet-worker: one game server. Arguments, the socket and
 * the slot, backend choice, signals and the fixed-rate tick loop.
 *
 * Exit codes: 0 after SIGTERM/SIGINT, 2 bad arguments (the supervisor does
 * not retry those), 1 any runtime failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/slot.h"
#include "common/timeutil.h"
#include "worker/mmsg.h"
#include "worker/ring.h"
#include "worker/worker.h"

#define EXIT_USAGE 2
#define NAME_MAX_LEN 63
#define SOCK_BUF_BYTES (4 << 20)
#define STOP_DRAIN_NS (2 * RF_NSEC_PER_SEC)

enum backend_choice { BE_AUTO, BE_IO_URING, BE_MMSG };

struct opts {
	char name[NAME_MAX_LEN + 1];
	const char *bind;
	unsigned port;
	int fd;
	int slot_fd;
	int ready_fd;
	unsigned tick_hz;
	unsigned max_clients;
	unsigned client_timeout_s;
	unsigned max_packet;
	unsigned max_packets_per_tick;
	unsigned recv_buffers;
	enum backend_choice backend;
	uint64_t tick_phase_ns;
	bool no_gso;
};

struct backend {
	enum rf_backend kind;
	struct ring *ring;
	struct mmsg *mmsg;
};

static volatile sig_atomic_t stop_signal;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ringfleet-worker (--port PORT [--bind ADDR] | --fd N) [OPTION]...\n"
		"One ringfleet game server: relays every datagram it receives to every\n"
		"client, once per tick.\n\n"
		"  --name NAME                 server name for logs (default worker)\n"
		"  --port PORT                 standalone: bind this UDP port\n"
		"  --bind ADDR                 standalone: numeric address (default 0.0.0.0)\n"
		"  --fd N                      supervised: inherited, bound UDP socket\n"
		"  --slot-fd N                 shared-memory slot (memfd) for stats and clients\n"
		"  --ready-fd N                write \"ready\\n\" here once receiving, then close it\n"
		"  --tick-hz N                 ticks per second, 1..1000 (default 50)\n"
		"  --max-clients N             1..%u (default 64)\n"
		"  --client-timeout-s N        silence before a client is dropped, 1..3600 (default 10)\n"
		"  --max-packet N              largest datagram relayed, 1..65507 (default 1400)\n"
		"  --max-packets-per-tick N    per client, 1..1024 (default 64)\n"
		"  --recv-buffers N            power of two, 16..32768 (default 1024)\n"
		"  --backend auto|io_uring|mmsg  (default auto)\n"
		"  --tick-phase-ns N           offset of the tick deadlines in the period\n"
		"  --no-gso                    never use UDP GSO (debugging)\n"
		"  --log-level LEVEL           err|warning|notice|info|debug (default info)\n"
		"  --help, --version\n",
		RF_CLIENTS_LIMIT);
}

static void bad_arg(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "ringfleet-worker: %s: expected %s, got \"%s\"\n", opt, want, val);
	exit(EXIT_USAGE);
}

static uint64_t parse_num(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || *s == '+' || v < min || v > max) {
		char want[64];

		snprintf(want, sizeof(want), "%llu..%llu", (unsigned long long)min,
			 (unsigned long long)max);
		bad_arg(opt, s, want);
	}
	return v;
}

static int parse_fd(const char *opt, const char *s)
{
	int fd = (int)parse_num(opt, s, 0, 1 << 20);

	if (fcntl(fd, F_GETFD) < 0)
		bad_arg(opt, s, "an open file descriptor");
	return fd;
}

static void parse_backend(struct opts *o, const char *s)
{
	if (strcmp(s, "auto") == 0)
		o->backend = BE_AUTO;
	else if (strcmp(s, "io_uring") == 0)
		o->backend = BE_IO_URING;
	else if (strcmp(s, "mmsg") == 0)
		o->backend = BE_MMSG;
	else
		bad_arg("--backend", s, "auto|io_uring|mmsg");
}

static void parse_name(struct opts *o, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_LEN)
		bad_arg("--name", s, "1..63 characters");
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			bad_arg("--name", s, "printable characters without spaces");
	memcpy(o->name, s, n + 1);
}

static void check_opts(struct opts *o)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE,
				  .ai_socktype = SOCK_DGRAM };
	struct addrinfo *ai;

	if ((o->fd >= 0) == (o->port != 0)) {
		fprintf(stderr, "ringfleet-worker: give exactly one of --port and --fd\n");
		exit(EXIT_USAGE);
	}
	if (o->fd >= 0 && o->bind) {
		fprintf(stderr, "ringfleet-worker: --bind goes with --port, not --fd\n");
		exit(EXIT_USAGE);
	}
	if (!o->bind)
		o->bind = "0.0.0.0";
	if (getaddrinfo(o->bind, NULL, &hints, &ai) != 0)
		bad_arg("--bind", o->bind, "a numeric IPv4 or IPv6 address");
	freeaddrinfo(ai);
	if (o->recv_buffers & (o->recv_buffers - 1))
		bad_arg("--recv-buffers", "not a power of two", "a power of two");
	/* Staggering within one period is all the phase can mean. */
	o->tick_phase_ns %= RF_NSEC_PER_SEC / o->tick_hz;
}

static void parse_args(struct opts *o, int argc, char **argv)
{
	enum { O_NAME = 256, O_PORT, O_BIND, O_FD, O_SLOT_FD, O_READY_FD, O_TICK_HZ,
	       O_MAX_CLIENTS, O_TIMEOUT, O_MAX_PACKET, O_MAX_PPT, O_RECV_BUFS,
	       O_BACKEND, O_PHASE, O_NO_GSO, O_LOG_LEVEL, O_HELP, O_VERSION };
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, O_NAME },
		{ "port", required_argument, NULL, O_PORT },
		{ "bind", required_argument, NULL, O_BIND },
		{ "fd", required_argument, NULL, O_FD },
		{ "slot-fd", required_argument, NULL, O_SLOT_FD },
		{ "ready-fd", required_argument, NULL, O_READY_FD },
		{ "tick-hz", required_argument, NULL, O_TICK_HZ },
		{ "max-clients", required_argument, NULL, O_MAX_CLIENTS },
		{ "client-timeout-s", required_argument, NULL, O_TIMEOUT },
		{ "max-packet", required_argument, NULL, O_MAX_PACKET },
		{ "max-packets-per-tick", required_argument, NULL, O_MAX_PPT },
		{ "recv-buffers", required_argument, NULL, O_RECV_BUFS },
		{ "backend", required_argument, NULL, O_BACKEND },
		{ "tick-phase-ns", required_argument, NULL, O_PHASE },
		{ "no-gso", no_argument, NULL, O_NO_GSO },
		{ "log-level", required_argument, NULL, O_LOG_LEVEL },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	int c, level;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_NAME: parse_name(o, optarg); break;
		case O_PORT: o->port = (unsigned)parse_num("--port", optarg, 1, 65535); break;
		case O_BIND: o->bind = optarg; break;
		case O_FD: o->fd = parse_fd("--fd", optarg); break;
		case O_SLOT_FD: o->slot_fd = parse_fd("--slot-fd", optarg); break;
		case O_READY_FD: o->ready_fd = parse_fd("--ready-fd", optarg); break;
		case O_TICK_HZ: o->tick_hz = (unsigned)parse_num("--tick-hz", optarg, 1, 1000); break;
		case O_MAX_CLIENTS:
			o->max_clients = (unsigned)parse_num("--max-clients", optarg, 1,
							     RF_CLIENTS_LIMIT);
			break;
		case O_TIMEOUT:
			o->client_timeout_s = (unsigned)parse_num("--client-timeout-s", optarg,
								  1, 3600);
			break;
		case O_MAX_PACKET:
			o->max_packet = (unsigned)parse_num("--max-packet", optarg, 1, 65507);
			break;
		case O_MAX_PPT:
			o->max_packets_per_tick = (unsigned)parse_num("--max-packets-per-tick",
								      optarg, 1, 1024);
			break;
		case O_RECV_BUFS:
			o->recv_buffers = (unsigned)parse_num("--recv-buffers", optarg, 16, 32768);
			break;
		case O_BACKEND: parse_backend(o, optarg); break;
		case O_PHASE:
			o->tick_phase_ns = parse_num("--tick-phase-ns", optarg, 0,
						     RF_NSEC_PER_SEC - 1);
			break;
		case O_NO_GSO: o->no_gso = true; break;
		case O_LOG_LEVEL:
			level = log_level_from_string(optarg);
			if (level < 0)
				bad_arg("--log-level", optarg, "err|warning|notice|info|debug");
			log_set_level(level);
			break;
		case O_HELP: usage(stdout); exit(0);
		case O_VERSION: printf("ringfleet-worker %s\n", RF_VERSION); exit(0);
		default: usage(stderr); exit(EXIT_USAGE);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringfleet-worker: unexpected argument \"%s\"\n", argv[optind]);
		exit(EXIT_USAGE);
	}
	check_opts(o);
}

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

/* The inherited socket must be a bound UDP socket; returns its family. */
static int check_socket(int fd)
{
	struct sockaddr_storage ss;
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
	struct sockaddr_storage ss;
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

/* SIGTERM/SIGINT stay blocked except while sleeping (the wait mask), so
 * they can only cut a sleep short, never a tick. */
static void setup_signals(sigset_t *waitmask)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
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

static int backend_open(struct backend *b, const struct opts *o, struct worker *w, int fd)
{
	int ret = -ENOSYS;

	memset(b, 0, sizeof(*b));
	if (o->backend != BE_MMSG) {
		ret = ring_open(&b->ring, w, fd, o->recv_buffers, o->max_clients);
		if (ret == 0) {
			ret = ring_arm(b->ring);
			if (ret < 0) {
				ring_close(b->ring);
				b->ring = NULL;
			}
		}
		if (ret == 0) {
			b->kind = RF_BACKEND_IO_URING;
			log_info("io_uring backend, %s", ring_mode(b->ring));
			return 0;
		}
		if (o->backend == BE_IO_URING) {
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
	ret = mmsg_open(&b->mmsg, w, fd, o->recv_buffers, o->max_clients);
	if (ret < 0) {
		log_err("mmsg backend: %s", strerror(-ret));
		return ret;
	}
	b->kind = RF_BACKEND_MMSG;
	if (o->backend == BE_MMSG)
		log_info("mmsg backend (forced)");
	return 0;
}

static int be_wait(struct backend *b, uint64_t deadline, const sigset_t *mask)
{
	return b->ring ? ring_wait(b->ring, deadline, mask) : mmsg_wait(b->mmsg, deadline, mask);
}

static int be_tick(struct backend *b)
{
	return b->ring ? ring_tick(b->ring) : mmsg_tick(b->mmsg);
}

static int be_rx_error(struct backend *b)
{
	return b->ring ? ring_rx_error(b->ring) : mmsg_rx_error(b->mmsg);
}

static void be_close(struct backend *b)
{
	ring_close(b->ring);
	mmsg_close(b->mmsg);
}

/* The first deadline after now on the grid k * period + phase. */
static uint64_t grid_after(uint64_t now, uint64_t period, uint64_t phase)
{
	if (now < phase)
		return phase;
	return (now - phase) / period * period + period + phase;
}

static void log_events(struct worker *w, struct backend *b, uint32_t *gso_seen, int *rx_seen)
{
	int rx = be_rx_error(b);

	if (w->gso_events != *gso_seen) {
		*gso_seen = w->gso_events;
		if (w->gso_max_seg)
			log_warn("path MTU below a GSO segment: GSO segments now <= %u bytes",
				 w->gso_max_seg);
		else
			log_warn("kernel refused UDP GSO: one datagram per send from now on");
	}
	if (rx != *rx_seen) {
		*rx_seen = rx;
		if (rx)
			log_warn("receive error: %s (receiving again)", strerror(-rx));
	}
}

/* Runs ticks until a stop signal; returns 0, or -errno on a fatal error. */
static int tick_loop(struct worker *w, struct backend *b, const struct opts *o,
		     const sigset_t *waitmask)
{
	uint64_t period = RF_NSEC_PER_SEC / o->tick_hz;
	uint64_t deadline = grid_after(rf_now_ns(), period, o->tick_phase_ns);
	uint32_t gso_seen = 0;
	int rx_seen = 0;

	for (;;) {
		uint64_t t0, t1;
		int ret = be_wait(b, deadline, waitmask);

		if (ret < 0 && ret != -EINTR)
			return ret;
		t0 = rf_now_ns();
		/* A signal ends the sleep early: this tick is the last. */
		if (!stop_signal && t0 < deadline)
			continue;
		w->now_ns = t0;
		w->deadline_ns = deadline + period;
		ret = be_tick(b);
		if (ret < 0)
			return ret;
		t1 = rf_now_ns();
		worker_tick_done(w, t1 - t0, t1);
		deadline += period;
		if (t1 >= deadline) {
			/* Skip the missed deadlines rather than run them
			 * back to back; the grid itself never drifts. */
			w->st.tick_overruns++;
			deadline = grid_after(t1, period, o->tick_phase_ns);
		}
		worker_publish(w);
		log_events(w, b, &gso_seen, &rx_seen);
		if (stop_signal)
			return 0;
	}
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

static int run(struct opts *o)
{
	struct worker w;
	struct backend b;
	struct worker_params wp;
	struct rf_slot *slot;
	sigset_t waitmask;
	char where[96];
	int fd = o->fd, family, ret;

	setup_signals(&waitmask);
	if (fd < 0) {
		fd = open_socket(o);
		if (fd < 0) {
			log_err("cannot bind %s port %u: %s", o->bind, o->port, strerror(-fd));
			return 1;
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
	slot = map_slot(o->slot_fd, o->max_clients);
	if (!slot) {
		log_err("--slot-fd %d: cannot map a slot for %u clients: %s", o->slot_fd,
			o->max_clients, strerror(errno));
		return o->slot_fd >= 0 ? EXIT_USAGE : 1;
	}
	wp = (struct worker_params){
		.max_clients = o->max_clients,
		.client_timeout_s = o->client_timeout_s,
		.max_packet = o->max_packet,
		.max_packets_per_tick = o->max_packets_per_tick,
		/* Segment plus IP/UDP headers must fit an Ethernet MTU. */
		.gso_max_seg = o->no_gso ? 0 : family == AF_INET ? 1472 : 1452,
		.seed = seed(),
	};
	ret = worker_init(&w, slot, &wp);
	if (ret < 0) {
		log_err("worker setup: %s", strerror(-ret));
		return 1;
	}
	if (ret == 1)
		log_info("resuming from the slot: %u clients, %llu ticks before", w.clients.n,
			 (unsigned long long)w.st.ticks);
	w.now_ns = rf_now_ns();
	if (backend_open(&b, o, &w, fd) < 0)
		return 1;
	w.st.backend = b.kind;
	w.st.worker_pid = (uint32_t)getpid();
	w.st.ready = 1;
	worker_publish(&w);
	describe_socket(fd, where, sizeof(where));
	log_info("relaying on %s: tick %u Hz, max_clients %u, max_packet %u, gso %s",
		 where, o->tick_hz, o->max_clients, o->max_packet, w.st.gso ? "on" : "off");
	signal_ready(o->ready_fd);

	ret = tick_loop(&w, &b, o, &waitmask);
	if (ret < 0) {
		log_err("tick loop: %s", strerror(-ret));
		return 1;
	}
	if (b.ring && ring_drain(b.ring, rf_now_ns() + STOP_DRAIN_NS) < 0)
		log_warn("stopping with sends still in flight");
	w.st.ready = 0;
	worker_publish(&w);
	log_info("stopped by %s", strsignal(stop_signal));
	be_close(&b);
	worker_free(&w);
	/* Ours in standalone mode: free the port now for a quick restart. */
	if (o->fd < 0)
		close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.name = "worker",
		.fd = -1,
		.slot_fd = -1,
		.ready_fd = -1,
		.tick_hz = 50,
		.max_clients = 64,
		.client_timeout_s = 10,
		.max_packet = 1400,
		.max_packets_per_tick = 64,
		.recv_buffers = 1024,
		.backend = BE_AUTO,
	};

	parse_args(&o, argc, argv);
	log_set_ident(o.name);
	return run(&o);
}
