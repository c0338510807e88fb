// SPDX-License-Identifier: Apache-2.0
/* args.c - see args.h. */
#include "worker/args.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/slot.h"
#include "common/timeutil.h"

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
		"  --ready-fd N                write \"ready\\n\" once set up to relay, then close it\n"
		"  --tick-hz N                 ticks per second, 1..1000 (default 50)\n"
		"  --max-clients N             1..%u (default 64)\n"
		"  --client-timeout-s N        silence before a client is dropped, 1..3600 (default 10)\n"
		"  --max-packet N              largest datagram relayed, 1..65507 (default 1400)\n"
		"  --max-packets-per-tick N    per client, 1..1024 (default 64)\n"
		"  --recv-buffers N            power of two, 16..32768 (default 1024)\n"
		"  --backend auto|io_uring|mmsg  (default auto)\n"
		"  --tick-phase-ns N           offset of the tick deadlines in the period\n"
		"  --supervisor-pid N          supervised: die (SIGKILL) when process N, our\n"
		"                              parent, exits; exit at once if it already has\n"
		"  --no-gso                    never use UDP GSO (debugging)\n"
		"  --admission cookie|open     cookie: a source must answer a challenge\n"
		"                              before it is relayed to; open: any source\n"
		"                              (trusted networks only) (default cookie)\n"
		"  --max-clients-per-ip N      table entries one IPv4 address or IPv6 /64\n"
		"                              may hold, 0 = unlimited, 0..%u (default 4)\n"
		"  --log-level LEVEL           err|warning|notice|info|debug (default info)\n"
		"  --help, --version\n",
		RF_CLIENTS_LIMIT, RF_CLIENTS_LIMIT);
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
	int b = rf_backend_parse(s);

	if (b < 0)
		bad_arg("--backend", s, "auto|io_uring|mmsg");
	o->backend = (enum rf_backend)b;
}

static void parse_admission(struct opts *o, const char *s)
{
	if (strcmp(s, "cookie") == 0)
		o->admission = RF_ADMISSION_COOKIE;
	else if (strcmp(s, "open") == 0)
		o->admission = RF_ADMISSION_OPEN;
	else if (strcmp(s, "token") == 0)
		bad_arg("--admission", s, "cookie|open (token is not available yet)");
	else
		bad_arg("--admission", s, "cookie|open");
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

static const struct opts defaults = {
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
	.backend = RF_BACKEND_AUTO,
	.admission = RF_ADMISSION_COOKIE,
	.max_clients_per_ip = 4,
};

void args_parse(struct opts *o, int argc, char **argv)
{
	enum { O_NAME = 256, O_PORT, O_BIND, O_FD, O_SLOT_FD, O_READY_FD, O_TICK_HZ,
	       O_MAX_CLIENTS, O_TIMEOUT, O_MAX_PACKET, O_MAX_PPT, O_RECV_BUFS,
	       O_BACKEND, O_PHASE, O_SUP_PID, O_NO_GSO, O_LOG_LEVEL, O_HELP, O_VERSION, O_ADMISSION,
	       O_PER_IP };
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
		{ "supervisor-pid", required_argument, NULL, O_SUP_PID },
		{ "no-gso", no_argument, NULL, O_NO_GSO },
		{ "admission", required_argument, NULL, O_ADMISSION },
		{ "max-clients-per-ip", required_argument, NULL, O_PER_IP },
		{ "log-level", required_argument, NULL, O_LOG_LEVEL },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	int c, level;

	*o = defaults;
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
		case O_SUP_PID:
			o->supervisor_pid = (int)parse_num("--supervisor-pid", optarg, 1, INT32_MAX);
			break;
		case O_NO_GSO: o->no_gso = true; break;
		case O_ADMISSION: parse_admission(o, optarg); break;
		case O_PER_IP:
			o->max_clients_per_ip = (unsigned)parse_num("--max-clients-per-ip", optarg,
								    0, RF_CLIENTS_LIMIT);
			break;
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
