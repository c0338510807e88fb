// SPDX-License-Identifier: Apache-2.0
/* ringfleet-load - load generator and benchmark client for UDP relay
 * servers that broadcast every datagram to every client once per tick.
 *
 * Each client is its own UDP socket, connected to its server. Clients send
 * on an absolute schedule; every packet carries (magic, client id, seq,
 * CLOCK_MONOTONIC send time), so a receiver knows one-way latency and which
 * server's window the packet belongs to. Only packets sent inside the
 * measured window count, and receiving continues for a drain period after
 * it, so loss = sent_in_window * clients_of_that_server - received.
 *
 * Before any of that, with --admission cookie (the default), every client
 * completes ringfleet's admission handshake (docs/protocol.md): HELLO,
 * CHALLENGE, RESPONSE, WELCOME, with resends every 250 ms and a bounded
 * give-up. The measured run is planned only once every client is in, so
 * handshake time is neither loss nor latency. A CHALLENGE while playing
 * (the server dropped the client) is answered at once with a RESPONSE.
 *
 * Two threads, an io_uring each. The receiver runs a multishot recv on
 * every socket into one provided buffer ring. The sender wakes on an
 * absolute schedule (clock_nanosleep TIMER_ABSTIME) once per ~1 ms slot and
 * submits that slot's sends with one io_uring_enter. No allocation after
 * start-up.
 *
 * --game arena plays games/arena instead (its protocol, arena_client.c):
 * each player sends INPUTs at --rate, every player gets a SNAPSHOT every
 * tick; loss is the ticks a player got no snapshot for, latency the time
 * from an input to the first snapshot acknowledging it.
 */
#include "bench/arena_client.h"
#include "bench/hist.h"
#include "bench/proccpu.h"
#include "common/handshake.h"
#include "common/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOAD_MAGIC 0x524c4f44u /* "RLOD" */
#define MAX_TARGETS 4096
#define MAX_CLIENTS_PER_TARGET 1024
#define MAX_PIDS 64
#define SOCK_RCVBUF (4 << 20) /* absorbs a whole tick's burst per socket */
#define BUF_POOL_BYTES (32u << 20)
#define LATE_NS RF_NSEC_PER_MSEC
#define HS_RESEND_NS (250 * RF_NSEC_PER_MSEC)

enum { ADM_COOKIE, ADM_OPEN };
enum { GAME_RELAY, GAME_ARENA };
/* a client's handshake: waiting for a CHALLENGE, then for a WELCOME */
enum { HS_HELLO, HS_RESPONSE, HS_DONE };

enum { UD_RECV = 1, UD_SEND = 2, UD_TIMEOUT = 3 };

struct load_hdr {
	uint32_t magic;
	uint32_t client;
	uint64_t seq;
	uint64_t ts_ns;
};

struct opts {
	struct sockaddr_in targets[MAX_TARGETS];
	size_t ntargets;
	unsigned clients;
	unsigned size;
	double interval_ms;
	double warmup_s;
	double duration_s;
	double drain_ms;
	pid_t pids[MAX_PIDS];
	size_t npids;
	bool json;
	int admission; /* ADM_COOKIE or ADM_OPEN */
	double admit_timeout_s;
	int game;         /* GAME_RELAY or GAME_ARENA */
	unsigned tick_hz; /* the server's, for arena's default --rate */
	unsigned rate;    /* arena: inputs per second per player */
};

struct server {
	struct sockaddr_in addr;
	unsigned first;     /* index of its first client */
	unsigned n;         /* its clients */
	uint64_t sent;      /* sent inside the window */
	uint64_t received;  /* deliveries of in-window packets */
	uint64_t *last_seq; /* [receiver * n + sender] = seq + 1 */
};

struct client {
	int fd;
	unsigned server;
	uint64_t seq;
	uint64_t ts; /* timestamp of the send in flight */
	bool inflight;
	uint8_t *buf; /* its payload, reused for every send */
	/* admission, driven by the main thread only */
	uint8_t hs; /* HS_* */
	uint8_t resp[RF_HS_RESPONSE_LEN];
	uint64_t hs_next; /* when to resend */
	uint32_t refused; /* REFUSED reason, 0 = none */
	struct arena_player ap;
};

struct counters {
	uint64_t send_errors;
	uint64_t send_skipped; /* previous send still in flight */
	uint64_t late_sends;   /* sent > 1 ms after their slot */
	uint64_t send_lag_max;
	uint64_t recv_errors; /* multishot ended with an error */
	uint64_t rearms_nobufs;
	uint64_t bad; /* wrong size/magic/id/server */
	uint64_t dup_or_reordered;
	uint64_t outside; /* valid, sent outside the window */
	/* handshake messages while playing, not counted as packets */
	uint64_t challenges; /* CHALLENGEs answered: the server dropped us */
	uint64_t welcomes;
	uint64_t refusals;
	uint64_t resp_errors; /* a RESPONSE that could not be sent */
};

/* The admission phase before the run. */
struct admit {
	uint64_t ns;                /* until the last client was in */
	uint64_t hellos, responses; /* sent, first ones included */
	uint64_t icmp;              /* ECONNREFUSED seen: nothing listens */
	struct pollfd *pfd;         /* [ncl] */
	unsigned *pidx;             /* [ncl] client of each pfd */
};

struct cpu_meas {
	struct proccpu_snap a, b;
	struct rusage ra, rb;
	uint64_t ta, tb; /* when each sample was taken */
	uint64_t ns;
	size_t procs;
	bool lost_root;
	uint64_t udp_errs_a, udp_errs_b;
};

/* The sender thread owns tx, the clients' send state and the send-side
 * counters; the receiving (main) thread owns rx and the rest. They share
 * only read-only set-up and per-server counters that each writes alone. */
struct load {
	struct opts *o;
	struct server *srv;
	size_t nsrv;
	struct client *cl;
	size_t ncl;
	uint64_t t_start, t0, t1, t_end;
	/* receiving side */
	struct io_uring rx;
	bool rx_ok, rx_done;
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	uint8_t *bufs;
	unsigned nbufs, bufsz, br_added;
	struct __kernel_timespec end_ts;
	struct hist lat;
	struct counters c; /* rx fields */
	/* sending side */
	struct io_uring tx;
	bool tx_ok, tx_rt, in_t0, in_t1;
	int tx_err;
	uint64_t slot_ns, slot_no, next_slot;
	unsigned nslots;
	struct counters tc; /* tx fields */
	struct cpu_meas cpu;
	struct admit adm;
	struct arena_totals arena; /* receiving side */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ringfleet-load --target HOST:PORT[-PORT] [options]\n"
		   "  --target HOST:PORT[-PORT]  server(s) to load; repeatable, a range = many\n"
		   "  --clients N      clients (UDP sockets) per server (default 10)\n"
		   "  --size B         datagram size, >= 24 (default 1024)\n"
		   "  --interval-ms MS each client sends every MS (default 10)\n"
		   "  --warmup S       seconds before the measured window (default 1)\n"
		   "  --duration S     measured window in seconds (default 5)\n"
		   "  --drain-ms MS    keep receiving after the window (default 240)\n"
		   "  --pid PID        measure CPU of PID and its descendants; repeatable\n"
		   "  --admission cookie|open  cookie (default): every client completes\n"
		   "                   ringfleet's handshake before the run; open: none,\n"
		   "                   for servers without it (the reference servers)\n"
		   "  --admission-timeout S  give up when a client is not admitted\n"
		   "                   within S seconds (default 5)\n"
		   "  --game relay|arena  relay (default): every datagram comes back to\n"
		   "                   every client; arena: play games/arena (INPUTs at\n"
		   "                   --rate, a SNAPSHOT expected every tick)\n"
		   "  --rate N         arena: inputs per second per player (default the\n"
		   "                   tick rate); replaces --interval-ms\n"
		   "  --tick-hz N      arena: the server's tick rate (default 50)\n"
		   "  --json           print one JSON object instead of a summary\n"
		   "  --help\n"
		   "exit: 0 ran (even with loss), 1 could not run (e.g. not admitted),\n"
		   "2 usage\n");
}

static int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max))
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s == '-' || *s == '\0')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "127.0.0.1:7000" or "127.0.0.1:7000-7019"; numeric IPv4 only, no DNS. */
static int parse_target(struct opts *o, const char *arg)
{
	char host[64], *colon, *dash;
	unsigned long lo, hi;
	struct in_addr ia;

	if (strlen(arg) >= sizeof(host))
		return -EINVAL;
	strcpy(host, arg);
	colon = strrchr(host, ':');
	if (!colon)
		return -EINVAL;
	*colon++ = '\0';
	if (inet_pton(AF_INET, host, &ia) != 1)
		return -EINVAL;
	dash = strchr(colon, '-');
	if (dash)
		*dash++ = '\0';
	if (parse_uint(colon, 1, 65535, &lo) < 0)
		return -EINVAL;
	hi = lo;
	if (dash && parse_uint(dash, lo, 65535, &hi) < 0)
		return -EINVAL;
	if (o->ntargets + (hi - lo + 1) > MAX_TARGETS)
		return -E2BIG;
	for (unsigned long p = lo; p <= hi; p++) {
		struct sockaddr_in *sa = &o->targets[o->ntargets++];

		sa->sin_family = AF_INET;
		sa->sin_addr = ia;
		sa->sin_port = htons((uint16_t)p);
	}
	return 0;
}

static int parse_opt(struct opts *o, int c, const char *arg)
{
	unsigned long v;

	switch (c) {
	case 't':
		return parse_target(o, arg);
	case 'c':
		if (parse_uint(arg, 1, MAX_CLIENTS_PER_TARGET, &v) < 0)
			return -EINVAL;
		o->clients = (unsigned)v;
		return 0;
	case 's':
		if (parse_uint(arg, sizeof(struct load_hdr), 65507, &v) < 0)
			return -EINVAL;
		o->size = (unsigned)v;
		return 0;
	case 'i':
		return parse_double(arg, 0.05, 60000, &o->interval_ms);
	case 'w':
		return parse_double(arg, 0, 3600, &o->warmup_s);
	case 'd':
		return parse_double(arg, 0.01, 86400, &o->duration_s);
	case 'D':
		return parse_double(arg, 0, 60000, &o->drain_ms);
	case 'p':
		if (o->npids == MAX_PIDS || parse_uint(arg, 1, INT32_MAX, &v) < 0)
			return -EINVAL;
		o->pids[o->npids++] = (pid_t)v;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	case 'a':
		if (strcmp(arg, "cookie") == 0)
			o->admission = ADM_COOKIE;
		else if (strcmp(arg, "open") == 0)
			o->admission = ADM_OPEN;
		else
			return -EINVAL;
		return 0;
	case 'A':
		return parse_double(arg, 0.1, 3600, &o->admit_timeout_s);
	case 'g':
		if (strcmp(arg, "relay") != 0 && strcmp(arg, "arena") != 0)
			return -EINVAL;
		o->game = strcmp(arg, "arena") == 0 ? GAME_ARENA : GAME_RELAY;
		return 0;
	case 'r':
		if (parse_uint(arg, 1, 10000, &v) < 0)
			return -EINVAL;
		o->rate = (unsigned)v;
		return 0;
	case 'T':
		if (parse_uint(arg, 1, 1000, &v) < 0)
			return -EINVAL;
		o->tick_hz = (unsigned)v;
		return 0;
	}
	return -EINVAL;
}

/* Returns 0 to run, 1 after --help, -EINVAL on a usage error. */
static int parse_args(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "target", required_argument, NULL, 't' },
		{ "clients", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "duration", required_argument, NULL, 'd' },
		{ "drain-ms", required_argument, NULL, 'D' },
		{ "pid", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "admission", required_argument, NULL, 'a' },
		{ "admission-timeout", required_argument, NULL, 'A' },
		{ "game", required_argument, NULL, 'g' },
		{ "rate", required_argument, NULL, 'r' },
		{ "tick-hz", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, li = 0;

	while ((c = getopt_long(argc, argv, "", lo, &li)) != -1) {
		if (c == 'h')
			return 1;
		if (c == '?')
			return -EINVAL;
		if (parse_opt(o, c, optarg) < 0) {
			fprintf(stderr, "ringfleet-load: invalid --%s '%s'\n", lo[li].name, optarg);
			return -EINVAL;
		}
	}
	if (optind < argc || o->ntargets == 0)
		return -EINVAL;
	if (o->game == GAME_ARENA) {
		/* a player's datagram is an INPUT, sent --rate times a second */
		if (!o->rate)
			o->rate = o->tick_hz;
		o->size = ARENA_INPUT_LEN;
		o->interval_ms = 1000.0 / o->rate;
	}
	return 0;
}

static int raise_nofile(size_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max < need)
		return -EMFILE;
	rl.rlim_cur = need;
	return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0;
}

/* Client k's source address for a loopback target: 127.1.0.1 + k, its
 * own, as every player on the internet has one. A server counts clients
 * per address (max_clients_per_ip, 4 by default): from one address the
 * fifth client would be refused. All of 127/8 is loopback on Linux. */
static in_addr_t loopback_source(unsigned k)
{
	return htonl(0x7f010001u + k);
}

static int client_socket(const struct sockaddr_in *dst, unsigned k)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	int fd, rcv = SOCK_RCVBUF;

	/* A loopback target gets a loopback source, as the brief demands;
	 * any other target lets the kernel pick the route's address. */
	if ((ntohl(dst->sin_addr.s_addr) >> 24) == 127)
		src.sin_addr.s_addr = loopback_source(k);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Root may exceed rmem_max; otherwise take what the kernel allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int setup_clients(struct load *l)
{
	const struct opts *o = l->o;
	unsigned k = 0;

	l->nsrv = o->ntargets;
	l->ncl = o->ntargets * o->clients;
	l->srv = calloc(l->nsrv, sizeof(*l->srv));
	l->cl = calloc(l->ncl, sizeof(*l->cl));
	l->adm.pfd = calloc(l->ncl, sizeof(*l->adm.pfd));
	l->adm.pidx = calloc(l->ncl, sizeof(*l->adm.pidx));
	if (!l->srv || !l->cl || !l->adm.pfd || !l->adm.pidx)
		return -ENOMEM;
	for (size_t s = 0; s < l->nsrv; s++) {
		struct server *sv = &l->srv[s];

		sv->addr = o->targets[s];
		sv->first = k;
		sv->n = o->clients;
		sv->last_seq = calloc((size_t)sv->n * sv->n, sizeof(uint64_t));
		if (!sv->last_seq)
			return -ENOMEM;
		for (unsigned i = 0; i < sv->n; i++, k++) {
			struct client *c = &l->cl[k];

			c->server = (unsigned)s;
			c->buf = malloc(o->size);
			if (!c->buf)
				return -ENOMEM;
			/* a recognisable pattern; the header overwrites the start */
			for (unsigned b = 0; b < o->size; b++)
				c->buf[b] = (uint8_t)(b * 31 + k);
			if (o->game == GAME_ARENA) {
				c->ap.sent_ts = calloc(ARENA_RING, sizeof(uint64_t));
				if (!c->ap.sent_ts)
					return -ENOMEM;
			}
			c->fd = client_socket(&sv->addr, k);
			if (c->fd < 0)
				return c->fd;
		}
	}
	return 0;
}

/* ---- admission (before the run; main thread) ---- */

static bool hs_is(const uint8_t *p, ssize_t len, size_t want, const char *magic)
{
	return len == (ssize_t)want && memcmp(p, magic, 4) == 0;
}

static const char *refused_reason(uint32_t r)
{
	switch (r) {
	case RF_HS_REFUSED_FULL:
		return "table full (max_clients)";
	case RF_HS_REFUSED_PER_IP:
		return "too many clients from this address (max_clients_per_ip)";
	}
	return "unknown reason";
}

/* One datagram on a connected socket; it is a request that a resend
 * repeats, so a full socket buffer only costs a retry. */
static int hs_send(int fd, const void *p, size_t len)
{
	return send(fd, p, len, MSG_DONTWAIT) == (ssize_t)len ? 0 : -errno;
}

static void hs_hello(struct load *l, struct client *c)
{
	uint8_t hello[RF_HS_HELLO_MIN] = { 0 };

	memcpy(hello, RF_HS_HELLO_MAGIC, 4);
	hs_send(c->fd, hello, sizeof(hello));
	l->adm.hellos++;
}

/* RESPONSE = "RFR1" | the CHALLENGE's window and MAC, copied unread. */
static int hs_respond(struct client *c, const uint8_t *challenge)
{
	memcpy(c->resp, RF_HS_RESPONSE_MAGIC, 4);
	memcpy(c->resp + 4, challenge + 4, RF_HS_RESPONSE_LEN - 4);
	return hs_send(c->fd, c->resp, sizeof(c->resp));
}

/* Everything queued on client ci's socket. Relayed game data can arrive
 * already (other servers' clients may be in); only handshake replies
 * matter here. Returns -EACCES when the server refused the client. */
static int hs_recv(struct load *l, unsigned ci, uint64_t now)
{
	struct client *c = &l->cl[ci];
	uint8_t b[64];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == ECONNREFUSED) {
			l->adm.icmp++;
			continue;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (hs_is(b, n, RF_HS_CHALLENGE_LEN, RF_HS_CHALLENGE_MAGIC) && c->hs != HS_DONE) {
			/* a repeated CHALLENGE (a lost RESPONSE, a rotated
			 * secret) replaces the previous one */
			l->adm.responses++;
			hs_respond(c, b);
			c->hs = HS_RESPONSE;
			c->hs_next = now + HS_RESEND_NS;
		} else if (hs_is(b, n, RF_HS_WELCOME_LEN, RF_HS_WELCOME_MAGIC) &&
			   c->hs == HS_RESPONSE) {
			c->hs = HS_DONE;
		} else if (hs_is(b, n, RF_HS_REFUSED_LEN, RF_HS_REFUSED_MAGIC) &&
			   c->hs == HS_RESPONSE) {
			uint32_t r;

			memcpy(&r, b + 4, 4);
			c->refused = ntohl(r);
			return -EACCES;
		}
	}
}

/* Resends what is due and lists the clients still waiting in pfd.
 * Returns how many, and the earliest resend in *next. */
static unsigned hs_step(struct load *l, uint64_t now, uint64_t *next)
{
	unsigned n = 0;

	for (unsigned ci = 0; ci < l->ncl; ci++) {
		struct client *c = &l->cl[ci];

		if (c->hs == HS_DONE)
			continue;
		if (now >= c->hs_next) {
			if (c->hs == HS_HELLO) {
				hs_hello(l, c);
			} else {
				hs_send(c->fd, c->resp, sizeof(c->resp));
				l->adm.responses++;
			}
			c->hs_next = now + HS_RESEND_NS;
		}
		if (c->hs_next < *next)
			*next = c->hs_next;
		l->adm.pfd[n] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
		l->adm.pidx[n++] = ci;
	}
	return n;
}

static void admit_error(const struct load *l, unsigned ci, int err)
{
	const struct client *c = &l->cl[ci];
	const struct sockaddr_in *sa = &l->srv[c->server].addr;
	struct sockaddr_in me = { 0 }; /* port 0 if getsockname fails */
	socklen_t len = sizeof(me);
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN] = "?";
	unsigned waiting = 0;

	for (size_t i = 0; i < l->ncl; i++)
		waiting += l->cl[i].hs != HS_DONE;
	inet_ntop(AF_INET, &sa->sin_addr, a, sizeof(a));
	if (getsockname(c->fd, (struct sockaddr *)&me, &len) == 0)
		inet_ntop(AF_INET, &me.sin_addr, b, sizeof(b));
	fprintf(stderr, "ringfleet-load: admission: %s:%u ", a, ntohs(sa->sin_port));
	if (err == -EACCES)
		fprintf(stderr, "refused client %u (%s:%u): %s\n", ci, b, ntohs(me.sin_port),
			refused_reason(c->refused));
	else if (err == -ETIMEDOUT && c->hs == HS_HELLO)
		fprintf(stderr,
			"sent no CHALLENGE to client %u (%s:%u) within %g s "
			"(%u of %zu clients not admitted)%s\n",
			ci, b, ntohs(me.sin_port), l->o->admit_timeout_s, waiting, l->ncl,
			l->adm.icmp ? ": nothing listens there"
				    : ": not a ringfleet server with admission = cookie? "
				      "(--admission open skips the handshake)");
	else if (err == -ETIMEDOUT)
		fprintf(stderr,
			"sent no WELCOME to client %u (%s:%u) within %g s "
			"(%u of %zu clients not admitted)\n",
			ci, b, ntohs(me.sin_port), l->o->admit_timeout_s, waiting, l->ncl);
	else
		fprintf(stderr, "client %u: %s\n", ci, strerror(-err));
}

/* Every client completes the handshake, or the run does not start:
 * measuring a server that admits only some clients would report its
 * refusals as loss. */
static int admit_all(struct load *l)
{
	uint64_t start = rf_now_ns(), now = start;
	uint64_t deadline = start + (uint64_t)(l->o->admit_timeout_s * RF_NSEC_PER_SEC);

	for (;;) {
		uint64_t next = deadline;
		unsigned n = hs_step(l, now, &next);
		int ret, wait_ms;

		if (n == 0)
			break;
		if (now >= deadline) {
			admit_error(l, l->adm.pidx[0], -ETIMEDOUT);
			return -ETIMEDOUT;
		}
		wait_ms = (int)((next - now + RF_NSEC_PER_MSEC - 1) / RF_NSEC_PER_MSEC);
		ret = poll(l->adm.pfd, n, wait_ms);
		if (ret < 0 && errno != EINTR)
			return -errno;
		now = rf_now_ns();
		for (unsigned i = 0; ret > 0 && i < n; i++) {
			int err;

			if (!l->adm.pfd[i].revents)
				continue;
			err = hs_recv(l, l->adm.pidx[i], now);
			if (err < 0) {
				admit_error(l, l->adm.pidx[i], err);
				return err;
			}
		}
	}
	l->adm.ns = rf_now_ns() - start;
	return 0;
}

static unsigned pow2_floor(unsigned v)
{
	unsigned p = 1;

	while (p * 2 <= v)
		p *= 2;
	return p;
}

static unsigned sq_size(const struct load *l)
{
	unsigned sq = pow2_floor((unsigned)l->ncl + 64) * 2;

	return sq > 4096 ? 4096 : sq;
}

/* The largest datagram a client expects: arena's snapshot of every player,
 * or the relayed datagrams of --size. */
static unsigned rx_size(const struct opts *o)
{
	if (o->game == GAME_ARENA)
		return ARENA_SNAP_HDR + o->clients * ARENA_SNAP_PLAYER;
	return o->size;
}

/* The receive ring is only ever entered by the main thread: task work is
 * deferred to its waits, where completions are reaped anyway. */
static int setup_rx(struct load *l)
{
	struct io_uring_params p = { 0 };
	int ret;

	/* Buffers are returned as soon as a CQE is read, so the pool only
	 * needs to hold what arrives between two waits; bigger is safer. */
	l->bufsz = (rx_size(l->o) + 64 + 63) & ~63u;
	l->nbufs = pow2_floor(BUF_POOL_BYTES / l->bufsz);
	if (l->nbufs > 32768)
		l->nbufs = 32768;
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = l->nbufs * 2;
	ret = io_uring_queue_init_params(sq_size(l), &l->rx, &p);
	if (ret == -EINVAL) {
		/* pre-6.1 kernels: same loop, without the task-work deferral */
		p = (struct io_uring_params){ .flags = IORING_SETUP_CQSIZE,
					      .cq_entries = l->nbufs * 2 };
		ret = io_uring_queue_init_params(sq_size(l), &l->rx, &p);
	}
	l->rx_ok = ret == 0;
	return ret;
}

/* Created here but submitted to by the sender thread only, hence no
 * SINGLE_ISSUER (it would bind the ring to this thread). */
static int setup_tx(struct load *l)
{
	struct io_uring_params p = { .flags = IORING_SETUP_COOP_TASKRUN };
	int ret;

	ret = io_uring_queue_init_params(sq_size(l), &l->tx, &p);
	if (ret == -EINVAL) {
		p.flags = 0;
		ret = io_uring_queue_init_params(sq_size(l), &l->tx, &p);
	}
	l->tx_ok = ret == 0;
	return ret;
}

static int setup_bufring(struct load *l)
{
	struct io_uring_buf_reg reg = { 0 };
	int mask, ret;

	l->br_bytes = l->nbufs * sizeof(struct io_uring_buf);
	l->br = mmap(NULL, l->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l->br == MAP_FAILED)
		return -errno;
	l->bufs = malloc((size_t)l->nbufs * l->bufsz);
	if (!l->bufs)
		return -ENOMEM;
	reg.ring_addr = (unsigned long)l->br;
	reg.ring_entries = l->nbufs;
	reg.bgid = 0;
	ret = io_uring_register_buf_ring(&l->rx, &reg, 0);
	if (ret < 0)
		return ret;
	io_uring_buf_ring_init(l->br);
	mask = io_uring_buf_ring_mask(l->nbufs);
	for (unsigned i = 0; i < l->nbufs; i++)
		io_uring_buf_ring_add(l->br, l->bufs + (size_t)i * l->bufsz, l->bufsz,
				      (unsigned short)i, mask, (int)i);
	io_uring_buf_ring_advance(l->br, (int)l->nbufs);
	return 0;
}

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

static inline uint64_t ud(unsigned kind, unsigned idx)
{
	return (uint64_t)kind << 32 | idx;
}

static bool in_window(const struct load *l, uint64_t ts)
{
	return ts >= l->t0 && ts < l->t1;
}

/* ---- sending thread ---- */

static void send_one(struct load *l, unsigned ci, uint64_t due, uint64_t now)
{
	struct client *c = &l->cl[ci];
	struct load_hdr h = { LOAD_MAGIC, ci, c->seq, now };
	struct io_uring_sqe *sqe;

	if (c->inflight) {
		l->tc.send_skipped += in_window(l, now);
		return;
	}
	sqe = get_sqe(&l->tx);
	if (!sqe)
		return;
	if (l->o->game == GAME_ARENA) {
		/* seq counts from 1: 0 means "no input" to the arena */
		arena_input(c->buf, (uint32_t)c->seq + 1, ci, l->o->rate);
		arena_sent(&c->ap, (uint32_t)c->seq + 1, now, in_window(l, now));
	} else {
		memcpy(c->buf, &h, sizeof(h));
	}
	c->seq++;
	c->ts = now;
	c->inflight = true;
	io_uring_prep_send(sqe, c->fd, c->buf, l->o->size, 0);
	io_uring_sqe_set_data64(sqe, ud(UD_SEND, ci));
	if (in_window(l, now)) {
		uint64_t lag = now - due;

		l->tc.late_sends += lag > LATE_NS;
		if (lag > l->tc.send_lag_max)
			l->tc.send_lag_max = lag;
	}
}

/* Client i sends in slot i % nslots of every interval, which spreads each
 * server's clients over the interval like independent players. */
static void send_slot(struct load *l, uint64_t due, uint64_t now)
{
	unsigned s = (unsigned)(l->slot_no % l->nslots);

	for (size_t ci = s; ci < l->ncl; ci += l->nslots)
		send_one(l, (unsigned)ci, due, now);
}

static void on_send(struct load *l, unsigned ci, int res)
{
	struct client *c = &l->cl[ci];

	c->inflight = false;
	if (res != (int)l->o->size) {
		/* e.g. ECONNREFUSED: an ICMP error from an earlier datagram */
		l->tc.send_errors += in_window(l, c->ts);
		return;
	}
	if (in_window(l, c->ts))
		l->srv[c->server].sent++;
}

static void tx_reap(struct load *l)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe (&l->tx, head, cqe) {
		on_send(l, (unsigned)io_uring_cqe_get_data64(cqe), cqe->res);
		n++;
	}
	io_uring_cq_advance(&l->tx, n);
}

/* Host-wide UDP receive-buffer overflows (/proc/net/snmp RcvbufErrors):
 * tells whether lost packets were dropped by a full socket buffer, ours
 * or the server's. */
static uint64_t udp_rcvbuf_errors(void)
{
	char hdr[1024], val[1024], *hs, *vs, *h, *v;
	unsigned long long n = 0;
	FILE *f = fopen("/proc/net/snmp", "re");

	if (!f)
		return 0;
	while (fgets(hdr, sizeof(hdr), f) && fgets(val, sizeof(val), f)) {
		if (strncmp(hdr, "Udp:", 4) != 0)
			continue;
		h = strtok_r(hdr, " \n", &hs);
		v = strtok_r(val, " \n", &vs);
		while (h && v) {
			if (strcmp(h, "RcvbufErrors") == 0)
				n = strtoull(v, NULL, 10);
			h = strtok_r(NULL, " \n", &hs);
			v = strtok_r(NULL, " \n", &vs);
		}
		break;
	}
	fclose(f);
	return n;
}

static void sample_start(struct load *l)
{
	struct cpu_meas *m = &l->cpu;

	if (l->o->npids)
		proccpu_snap(l->o->pids, l->o->npids, &m->a);
	getrusage(RUSAGE_SELF, &m->ra);
	m->udp_errs_a = udp_rcvbuf_errors();
	m->ta = rf_now_ns();
}

static void sample_end(struct load *l)
{
	struct cpu_meas *m = &l->cpu;

	m->tb = rf_now_ns();
	if (l->o->npids) {
		if (proccpu_snap(l->o->pids, l->o->npids, &m->b) == -ESRCH)
			m->lost_root = true;
		m->ns = proccpu_delta(&m->a, &m->b, &m->procs);
	}
	getrusage(RUSAGE_SELF, &m->rb);
	m->udp_errs_b = udp_rcvbuf_errors();
}

static uint64_t tx_wake(const struct load *l)
{
	uint64_t t = l->next_slot;

	if (!l->in_t0 && l->t0 < t)
		t = l->t0;
	if (!l->in_t1 && l->t1 < t)
		t = l->t1;
	return l->t_end < t ? l->t_end : t;
}

/* Sends every due slot (catching up, never skipping: the schedule is
 * absolute) with one io_uring_enter, then takes the window samples, whose
 * /proc reads (about 1 ms) thus delay no send. */
static int tx_step(struct load *l, uint64_t now)
{
	int ret;

	while (now >= l->next_slot) {
		send_slot(l, l->next_slot, now);
		l->slot_no++;
		l->next_slot = l->t_start + l->slot_no * l->slot_ns;
	}
	ret = io_uring_submit(&l->tx);
	if (ret < 0 && ret != -EINTR && ret != -EBUSY)
		return ret;
	tx_reap(l);
	if (!l->in_t0 && now >= l->t0) {
		sample_start(l);
		l->in_t0 = true;
	}
	if (!l->in_t1 && now >= l->t1) {
		sample_end(l);
		l->in_t1 = true;
	}
	return 0;
}

static void *tx_main(void *arg)
{
	struct sched_param sp = { .sched_priority = 1 };
	struct load *l = arg;
	struct timespec ts;
	uint64_t now;

	/* The sender runs for microseconds per slot, but at a normal
	 * priority it waits out the time slice of whatever occupies the
	 * CPU (the receiver, the server's tick) and sends ms late. Real-time
	 * priority, where permitted, makes the schedule hold. */
	l->tx_rt = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
	for (;;) {
		ts = rf_ns_to_timespec(tx_wake(l));
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		now = rf_now_ns();
		/* clients keep sending through the drain: the load stays
		 * steady while the window's last packets are delivered */
		if (now >= l->t_end)
			return NULL;
		l->tx_err = tx_step(l, now);
		if (l->tx_err < 0)
			return NULL;
	}
}

/* ---- receiving (main) thread ---- */

static int arm_recv(struct load *l, unsigned ci)
{
	struct io_uring_sqe *sqe = get_sqe(&l->rx);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv_multishot(sqe, l->cl[ci].fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	io_uring_sqe_set_data64(sqe, ud(UD_RECV, ci));
	return 0;
}

static int arm_end(struct load *l)
{
	struct io_uring_sqe *sqe = get_sqe(&l->rx);

	if (!sqe)
		return -EBUSY;
	l->end_ts.tv_sec = (long long)(l->t_end / RF_NSEC_PER_SEC);
	l->end_ts.tv_nsec = (long long)(l->t_end % RF_NSEC_PER_SEC);
	io_uring_prep_timeout(sqe, &l->end_ts, 0, IORING_TIMEOUT_ABS);
	io_uring_sqe_set_data64(sqe, ud(UD_TIMEOUT, 0));
	return 0;
}

/* A handshake message while playing is no packet: a CHALLENGE means the
 * server dropped this client (expired, evicted, restarted without its
 * table), and a RESPONSE re-admits it; if that RESPONSE is lost, the next
 * game datagram draws another CHALLENGE. --admission open answers none:
 * its counters show a server that wants the handshake. */
static bool on_handshake(struct load *l, unsigned ri, const uint8_t *p, int len)
{
	if (hs_is(p, len, RF_HS_CHALLENGE_LEN, RF_HS_CHALLENGE_MAGIC)) {
		l->c.challenges++;
		if (l->o->admission == ADM_COOKIE && hs_respond(&l->cl[ri], p) < 0)
			l->c.resp_errors++;
		return true;
	}
	if (hs_is(p, len, RF_HS_WELCOME_LEN, RF_HS_WELCOME_MAGIC)) {
		l->c.welcomes++;
		return true;
	}
	if (hs_is(p, len, RF_HS_REFUSED_LEN, RF_HS_REFUSED_MAGIC)) {
		l->c.refusals++;
		return true;
	}
	return false;
}

static void on_packet(struct load *l, unsigned ri, const uint8_t *p, int len, uint64_t now)
{
	const struct client *r = &l->cl[ri];
	struct server *sv = &l->srv[r->server];
	struct load_hdr h;
	uint64_t *last;

	if (on_handshake(l, ri, p, len))
		return;
	if (l->o->game == GAME_ARENA) {
		if (!arena_received(&l->cl[ri].ap, &l->arena, p, (size_t)len, now, l->t0, l->t1,
				    sv->n))
			l->c.bad++;
		return;
	}
	if (len < (int)sizeof(h)) {
		l->c.bad++;
		return;
	}
	memcpy(&h, p, sizeof(h));
	if (len != (int)l->o->size || h.magic != LOAD_MAGIC || h.client >= l->ncl ||
	    l->cl[h.client].server != r->server) {
		l->c.bad++;
		return;
	}
	if (!in_window(l, h.ts_ns)) {
		l->c.outside++;
		return;
	}
	last = &sv->last_seq[(ri - sv->first) * sv->n + (h.client - sv->first)];
	if (h.seq + 1 <= *last)
		l->c.dup_or_reordered++;
	else
		*last = h.seq + 1;
	sv->received++;
	hist_add(&l->lat, now > h.ts_ns ? now - h.ts_ns : 0);
}

static void on_recv(struct load *l, unsigned ci, const struct io_uring_cqe *cqe)
{
	if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *b = l->bufs + (size_t)bid * l->bufsz;

		on_packet(l, ci, b, cqe->res, rf_now_ns());
		io_uring_buf_ring_add(l->br, b, l->bufsz, (unsigned short)bid,
				      io_uring_buf_ring_mask(l->nbufs), (int)l->br_added++);
	} else if (cqe->res == -ENOBUFS) {
		l->c.rearms_nobufs++;
	} else if (cqe->res < 0) {
		/* ECONNREFUSED when nothing listens: keep listening anyway */
		l->c.recv_errors++;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE))
		arm_recv(l, ci);
}

static void rx_reap(struct load *l)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe (&l->rx, head, cqe) {
		uint64_t d = io_uring_cqe_get_data64(cqe);

		if (d >> 32 == UD_RECV)
			on_recv(l, (unsigned)d, cqe);
		else if (d >> 32 == UD_TIMEOUT)
			l->rx_done = true;
		n++;
	}
	io_uring_cq_advance(&l->rx, n);
	if (l->br_added) {
		io_uring_buf_ring_advance(l->br, (int)l->br_added);
		l->br_added = 0;
	}
}

static int rx_loop(struct load *l)
{
	int ret;

	for (unsigned i = 0; i < l->ncl; i++) {
		ret = arm_recv(l, i);
		if (ret < 0)
			return ret;
	}
	ret = arm_end(l);
	while (ret == 0 && !l->rx_done) {
		ret = io_uring_submit_and_wait(&l->rx, 1);
		if (ret == -EINTR || ret == -ETIME || ret == -EBUSY || ret > 0)
			ret = 0;
		rx_reap(l);
	}
	return ret;
}

static void plan(struct load *l)
{
	const struct opts *o = l->o;
	uint64_t interval = (uint64_t)(o->interval_ms * RF_NSEC_PER_MSEC);

	/* about 1 ms between wake-ups: each batches that slot's sends */
	l->nslots = (unsigned)(interval / RF_NSEC_PER_MSEC);
	if (l->nslots < 1)
		l->nslots = 1;
	if (l->nslots > l->ncl && l->ncl > 0)
		l->nslots = (unsigned)l->ncl;
	l->slot_ns = interval / l->nslots;
	l->t_start = rf_now_ns() + 10 * RF_NSEC_PER_MSEC;
	l->next_slot = l->t_start;
	l->t0 = l->t_start + (uint64_t)(o->warmup_s * RF_NSEC_PER_SEC);
	l->t1 = l->t0 + (uint64_t)(o->duration_s * RF_NSEC_PER_SEC);
	l->t_end = l->t1 + (uint64_t)(o->drain_ms * RF_NSEC_PER_MSEC);
}

/* Two threads: a sender woken by clock_nanosleep(TIMER_ABSTIME) at each
 * send slot, so a burst of arriving broadcasts never delays the schedule,
 * and this thread, which receives until the drain ends. */
static int run(struct load *l)
{
	pthread_t tx;
	int ret;

	/* planned after admission: handshake time is neither loss nor latency */
	plan(l);
	ret = pthread_create(&tx, NULL, tx_main, l);
	if (ret)
		return -ret;
	ret = rx_loop(l);
	pthread_join(tx, NULL);
	if (ret == 0 && l->tx_err < 0)
		ret = l->tx_err;
	return ret;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static double rusage_s(const struct rusage *r)
{
	return (double)(r->ru_utime.tv_sec + r->ru_stime.tv_sec) +
	       (double)(r->ru_utime.tv_usec + r->ru_stime.tv_usec) / 1e6;
}

struct totals {
	uint64_t sent, expected, received, lost;
	double loss_pct, worst_loss_pct;
	double self_cpu_pct, cpu_pct;
	double window_s;
};

static double loss_of(uint64_t expected, uint64_t received)
{
	if (expected == 0)
		return 0;
	if (received >= expected)
		return 0;
	return 100.0 * (double)(expected - received) / (double)expected;
}

/* Server s's arena figures, summed over its players. */
static struct arena_sum arena_of(const struct load *l, size_t s)
{
	const struct server *sv = &l->srv[s];
	struct arena_sum a = { 0 };

	for (unsigned i = 0; i < sv->n; i++)
		arena_sum_add(&a, &l->cl[sv->first + i].ap);
	return a;
}

/* What server s should have delivered, and did: relay, every in-window
 * datagram to each of its clients; arena, a snapshot per tick to each. */
static void server_counts(const struct load *l, size_t s, uint64_t *exp, uint64_t *rcv)
{
	const struct server *sv = &l->srv[s];

	if (l->o->game == GAME_ARENA) {
		struct arena_sum a = arena_of(l, s);

		*exp = a.snaps_expected;
		*rcv = a.snaps_received;
		return;
	}
	*exp = sv->sent * sv->n;
	*rcv = sv->received;
}

static void totals(const struct load *l, struct totals *t)
{
	const struct cpu_meas *m = &l->cpu;

	memset(t, 0, sizeof(*t));
	for (size_t s = 0; s < l->nsrv; s++) {
		const struct server *sv = &l->srv[s];
		uint64_t exp, rcv;
		double lp;

		server_counts(l, s, &exp, &rcv);
		lp = loss_of(exp, rcv);

		t->sent += sv->sent;
		t->expected += exp;
		t->received += rcv;
		if (lp > t->worst_loss_pct)
			t->worst_loss_pct = lp;
	}
	t->lost = t->received < t->expected ? t->expected - t->received : 0;
	t->loss_pct = loss_of(t->expected, t->received);
	t->window_s = (double)(m->tb - m->ta) / 1e9;
	if (t->window_s > 0) {
		t->self_cpu_pct = 100.0 * (rusage_s(&m->rb) - rusage_s(&m->ra)) / t->window_s;
		t->cpu_pct = 100.0 * (double)m->ns / 1e9 / t->window_s;
	}
}

static void print_lat_json(const struct hist *h)
{
	if (h->n == 0) {
		printf("\"latency_ms\":{\"avg\":null,\"p50\":null,\"p99\":null,"
		       "\"p999\":null,\"max\":null}");
		return;
	}
	printf("\"latency_ms\":{\"avg\":%.3f,\"p50\":%.3f,\"p99\":%.3f,"
	       "\"p999\":%.3f,\"max\":%.3f}",
	       hist_mean(h) / 1e6, ms(hist_quantile(h, 0.5)), ms(hist_quantile(h, 0.99)),
	       ms(hist_quantile(h, 0.999)), ms(h->max));
}

/* The receiver's counters with the sender's send-side fields. */
static struct counters merged(const struct load *l)
{
	struct counters c = l->c;

	c.send_errors = l->tc.send_errors;
	c.send_skipped = l->tc.send_skipped;
	c.late_sends = l->tc.late_sends;
	c.send_lag_max = l->tc.send_lag_max;
	return c;
}

static void print_admission_json(const struct load *l)
{
	const struct admit *a = &l->adm;
	const struct counters *c = &l->c;

	if (l->o->admission == ADM_COOKIE)
		printf("\"admission\":{\"mode\":\"cookie\",\"admit_ms\":%.3f,"
		       "\"hellos\":%llu,\"responses\":%llu,",
		       ms(a->ns), (unsigned long long)a->hellos, (unsigned long long)a->responses);
	else
		printf("\"admission\":{\"mode\":\"open\",\"admit_ms\":null,"
		       "\"hellos\":0,\"responses\":0,");
	printf("\"challenges_in_run\":%llu,\"welcomes_in_run\":%llu,"
	       "\"refusals_in_run\":%llu,\"response_errors\":%llu}",
	       (unsigned long long)c->challenges, (unsigned long long)c->welcomes,
	       (unsigned long long)c->refusals, (unsigned long long)c->resp_errors);
}

static struct arena_sum arena_total(const struct load *l)
{
	struct arena_sum a = { 0 };

	for (size_t i = 0; i < l->ncl; i++)
		arena_sum_add(&a, &l->cl[i].ap);
	return a;
}

static void print_ms_hist(const char *name, const struct hist *h)
{
	if (h->n == 0)
		printf("\"%s\":{\"p50\":null,\"p99\":null,\"max\":null}", name);
	else
		printf("\"%s\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}", name,
		       ms(hist_quantile(h, 0.5)), ms(hist_quantile(h, 0.99)), ms(h->max));
}

static void print_arena_json(const struct load *l)
{
	const struct arena_totals *t = &l->arena;
	struct arena_sum a = arena_total(l);

	printf(",\"game\":\"arena\",\"arena\":{\"tick_hz\":%u,\"rate\":%u,"
	       "\"snapshots_expected\":%llu,\"snapshots_received\":%llu,"
	       "\"inputs_sent\":%llu,\"inputs_unacked\":%llu,\"bad_snapshots\":%llu,"
	       "\"stale_snapshots\":%llu,\"wrong_player_count\":%llu,\"byes\":%llu,",
	       l->o->tick_hz, l->o->rate, (unsigned long long)a.snaps_expected,
	       (unsigned long long)a.snaps_received, (unsigned long long)a.inputs,
	       (unsigned long long)a.unacked, (unsigned long long)t->bad,
	       (unsigned long long)t->stale, (unsigned long long)t->wrong_n,
	       (unsigned long long)t->byes);
	print_ms_hist("snapshot_interval_ms", &t->interval);
	printf(",");
	print_ms_hist("ack_ms", &t->ack);
	printf("}");
}

static void print_json(const struct load *l, const struct totals *t)
{
	const struct opts *o = l->o;
	const struct counters m = merged(l), *c = &m;
	char a[INET_ADDRSTRLEN];

	printf("{\"servers_n\":%zu,\"clients\":%zu,\"clients_per_server\":%u,"
	       "\"size\":%u,\"interval_ms\":%g,\"warmup_s\":%g,\"duration_s\":%g,"
	       "\"window_s\":%.3f,\"drain_ms\":%g,",
	       l->nsrv, l->ncl, o->clients, o->size, o->interval_ms, o->warmup_s, o->duration_s,
	       t->window_s, o->drain_ms);
	printf("\"sent\":%llu,\"expected\":%llu,\"received\":%llu,\"lost\":%llu,"
	       "\"loss_pct\":%.4f,\"worst_server_loss_pct\":%.4f,",
	       (unsigned long long)t->sent, (unsigned long long)t->expected,
	       (unsigned long long)t->received, (unsigned long long)t->lost, t->loss_pct,
	       t->worst_loss_pct);
	print_lat_json(o->game == GAME_ARENA ? &l->arena.ack : &l->lat);
	printf(",\"self_cpu_pct\":%.2f,\"sender_realtime\":%s,", t->self_cpu_pct,
	       l->tx_rt ? "true" : "false");
	if (o->npids)
		printf("\"cpu_pct\":%.2f,\"cpu_procs\":%zu,\"cpu_root_exited\":%s,", t->cpu_pct,
		       l->cpu.procs, l->cpu.lost_root ? "true" : "false");
	else
		printf("\"cpu_pct\":null,\"cpu_procs\":0,\"cpu_root_exited\":false,");
	printf("\"send_errors\":%llu,\"send_skipped\":%llu,\"late_sends\":%llu,"
	       "\"send_lag_max_ms\":%.3f,\"recv_errors\":%llu,\"recv_nobufs\":%llu,"
	       "\"bad_packets\":%llu,\"dup_or_reordered\":%llu,"
	       "\"host_udp_rcvbuf_errors\":%llu,",
	       (unsigned long long)c->send_errors, (unsigned long long)c->send_skipped,
	       (unsigned long long)c->late_sends, ms(c->send_lag_max),
	       (unsigned long long)c->recv_errors, (unsigned long long)c->rearms_nobufs,
	       (unsigned long long)c->bad, (unsigned long long)c->dup_or_reordered,
	       (unsigned long long)(l->cpu.udp_errs_b - l->cpu.udp_errs_a));
	print_admission_json(l);
	printf(",\"servers\":[");
	for (size_t s = 0; s < l->nsrv; s++) {
		const struct server *sv = &l->srv[s];
		uint64_t exp, rcv;

		server_counts(l, s, &exp, &rcv);
		inet_ntop(AF_INET, &sv->addr.sin_addr, a, sizeof(a));
		printf("%s{\"target\":\"%s:%u\",\"sent\":%llu,\"expected\":%llu,"
		       "\"received\":%llu,\"loss_pct\":%.4f}",
		       s ? "," : "", a, ntohs(sv->addr.sin_port), (unsigned long long)sv->sent,
		       (unsigned long long)exp, (unsigned long long)rcv, loss_of(exp, rcv));
	}
	printf("]");
	if (o->game == GAME_ARENA)
		print_arena_json(l);
	printf("}\n");
}

static void print_arena_human(const struct load *l)
{
	const struct arena_totals *t = &l->arena;
	struct arena_sum a = arena_total(l);

	printf("ringfleet-load: arena, %zu server(s) x %u players, %u inputs/s each, "
	       "%u Hz ticks\n",
	       l->nsrv, l->o->clients, l->o->rate, l->o->tick_hz);
	printf("  snapshots: expected %llu  received %llu (loss %.3f%%)",
	       (unsigned long long)a.snaps_expected, (unsigned long long)a.snaps_received,
	       loss_of(a.snaps_expected, a.snaps_received));
	if (t->interval.n)
		printf("  interval ms: p50 %.3f  p99 %.3f  max %.3f",
		       ms(hist_quantile(&t->interval, 0.5)), ms(hist_quantile(&t->interval, 0.99)),
		       ms(t->interval.max));
	printf("\n  inputs: sent %llu  never acknowledged %llu; bad snapshots %llu, stale %llu, "
	       "wrong player count %llu\n",
	       (unsigned long long)a.inputs, (unsigned long long)a.unacked,
	       (unsigned long long)t->bad, (unsigned long long)t->stale,
	       (unsigned long long)t->wrong_n);
	printf("  (below: sent = inputs, expected/received = snapshots, latency = input to ack)\n");
}

static void print_human(const struct load *l, const struct totals *t)
{
	const struct opts *o = l->o;
	const struct hist *h = o->game == GAME_ARENA ? &l->arena.ack : &l->lat;
	const struct counters m = merged(l), *c = &m;

	if (o->game == GAME_ARENA)
		print_arena_human(l);
	else
		printf("ringfleet-load: %zu server(s) x %u clients, %u B every %g ms, "
		       "%.2f s window\n",
		       l->nsrv, o->clients, o->size, o->interval_ms, t->window_s);
	printf("  sent %llu  expected %llu  received %llu  lost %llu (%.3f%%)",
	       (unsigned long long)t->sent, (unsigned long long)t->expected,
	       (unsigned long long)t->received, (unsigned long long)t->lost, t->loss_pct);
	if (l->nsrv > 1)
		printf("  worst server %.3f%%", t->worst_loss_pct);
	printf("\n");
	if (h->n)
		printf("  latency ms: avg %.3f  p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
		       hist_mean(h) / 1e6, ms(hist_quantile(h, 0.5)), ms(hist_quantile(h, 0.99)),
		       ms(hist_quantile(h, 0.999)), ms(h->max));
	else
		printf("  latency ms: no packets received\n");
	if (o->npids)
		printf("  cpu: %.2f%% of a core (%zu processes%s);", t->cpu_pct, l->cpu.procs,
		       l->cpu.lost_root ? ", a root exited" : "");
	else
		printf("  cpu:");
	printf(" load generator itself %.2f%%\n", t->self_cpu_pct);
	if (c->send_errors || c->recv_errors || c->bad || c->dup_or_reordered)
		printf("  errors: send %llu  recv %llu  bad packets %llu  dup/reordered %llu\n",
		       (unsigned long long)c->send_errors, (unsigned long long)c->recv_errors,
		       (unsigned long long)c->bad, (unsigned long long)c->dup_or_reordered);
	if (o->admission == ADM_COOKIE)
		printf("  admission: %zu clients admitted in %.1f ms (%llu HELLOs, "
		       "%llu RESPONSEs)\n",
		       l->ncl, ms(l->adm.ns), (unsigned long long)l->adm.hellos,
		       (unsigned long long)l->adm.responses);
	if (c->challenges || c->refusals)
		printf("  %s: %llu CHALLENGEs%s, %llu REFUSEDs during the run\n",
		       o->admission == ADM_COOKIE
			       ? "re-admission"
			       : "warning: the server wants the handshake (--admission cookie)",
		       (unsigned long long)c->challenges,
		       o->admission == ADM_COOKIE ? " answered" : "",
		       (unsigned long long)c->refusals);
	if (c->send_skipped || c->late_sends * 100 > t->sent)
		printf("  warning: the load generator fell behind (%llu sends skipped, "
		       "%llu > 1 ms late, max lag %.3f ms)\n",
		       (unsigned long long)c->send_skipped, (unsigned long long)c->late_sends,
		       ms(c->send_lag_max));
}

static void cleanup(struct load *l)
{
	if (l->rx_ok)
		io_uring_queue_exit(&l->rx);
	if (l->tx_ok)
		io_uring_queue_exit(&l->tx);
	for (size_t i = 0; i < l->ncl; i++) {
		if (l->cl[i].fd > 0)
			close(l->cl[i].fd);
		free(l->cl[i].buf);
		free(l->cl[i].ap.sent_ts);
	}
	for (size_t s = 0; s < l->nsrv; s++)
		free(l->srv[s].last_seq);
	free(l->cl);
	free(l->srv);
	free(l->adm.pfd);
	free(l->adm.pidx);
	free(l->bufs);
	if (l->br && l->br != MAP_FAILED)
		munmap(l->br, l->br_bytes);
	proccpu_free(&l->cpu.a);
	proccpu_free(&l->cpu.b);
}

static int setup(struct load *l)
{
	struct proccpu_snap probe = { 0 };
	int ret;

	if (l->o->npids) {
		ret = proccpu_snap(l->o->pids, l->o->npids, &probe);
		proccpu_free(&probe);
		if (ret < 0) {
			fprintf(stderr, "ringfleet-load: --pid: %s\n", strerror(-ret));
			return ret;
		}
	}
	ret = raise_nofile(l->o->ntargets * l->o->clients + 64);
	if (ret < 0) {
		fprintf(stderr, "ringfleet-load: need %zu file descriptors: %s\n",
			l->o->ntargets * l->o->clients + 64, strerror(-ret));
		return ret;
	}
	ret = setup_clients(l);
	if (ret < 0) {
		fprintf(stderr, "ringfleet-load: client sockets: %s\n", strerror(-ret));
		return ret;
	}
	ret = setup_rx(l);
	if (ret == 0)
		ret = setup_tx(l);
	if (ret < 0) {
		fprintf(stderr, "ringfleet-load: io_uring unavailable: %s\n", strerror(-ret));
		return ret;
	}
	ret = setup_bufring(l);
	if (ret < 0)
		fprintf(stderr, "ringfleet-load: buffer ring: %s\n", strerror(-ret));
	return ret;
}

int main(int argc, char **argv)
{
	static struct opts o = { .clients = 10,
				 .size = 1024,
				 .interval_ms = 10,
				 .warmup_s = 1,
				 .duration_s = 5,
				 .drain_ms = 240,
				 .admission = ADM_COOKIE,
				 .admit_timeout_s = 5,
				 .tick_hz = 50 };
	static struct load l;
	struct totals t;
	int ret;

	ret = parse_args(&o, argc, argv);
	if (ret == 1) {
		usage(stdout);
		return 0;
	}
	if (ret < 0) {
		usage(stderr);
		return 2;
	}
	l.o = &o;
	ret = setup(&l);
	if (ret == 0 && o.admission == ADM_COOKIE)
		ret = admit_all(&l); /* says why it failed */
	if (ret == 0) {
		ret = run(&l);
		if (ret < 0)
			fprintf(stderr, "ringfleet-load: io_uring: %s\n", strerror(-ret));
	}
	if (ret == 0) {
		totals(&l, &t);
		if (o.json)
			print_json(&l, &t);
		else
			print_human(&l, &t);
	}
	cleanup(&l);
	return ret == 0 ? 0 : 1;
}
