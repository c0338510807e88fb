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
#include "config/cfg_schema.h"

/* Prints text after a 30-column margin, wrapped before column 80. */
static void usage_wrap(FILE *f, const char *text)
{
	size_t n = strlen(text), cut;

	while (n > 49) {
		for (cut = 49; cut > 0 && text[cut] != ' '; cut--)
			;
		if (!cut)
			break;
		fprintf(f, "%.*s\n%30s", (int)cut, text, "");
		text += cut + 1;
		n -= cut + 1;
	}
	fprintf(f, "%s\n", text);
}

/* One --help entry per config key the worker takes, from the key table. */
static void usage_keys(FILE *f)
{
	char flag[CFG_FLAG_MAX + 24], text[256];
	int n;

	for (int i = 0; i < cfg_srv_nkeys; i++) {
		const struct cfg_key *k = &cfg_srv_keys[i];

		if (!k->worker || cfg_key_flag(k, flag, CFG_FLAG_MAX) < 0)
			continue;
		snprintf(flag + strlen(flag), sizeof(flag) - strlen(flag), " %s", k->arg);
		n = snprintf(text, sizeof(text), "%s", k->doc);
		if (k->max && n >= 0 && (size_t)n < sizeof(text))
			n += snprintf(text + n, sizeof(text) - (size_t)n, ", %u..%u", k->min,
				      k->max);
		if (n >= 0 && (size_t)n < sizeof(text))
			snprintf(text + n, sizeof(text) - (size_t)n, " (default %s)",
				 k->def ? k->def : "none");
		if (strlen(flag) > 25)
			fprintf(f, "  --%s\n%30s", flag, "");
		else
			fprintf(f, "  --%-25s ", flag);
		usage_wrap(f, text);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ringfleet-worker (--port PORT [--bind ADDR] | --fd N) [OPTION]...\n"
		"       ringfleet-worker --check-game PATH [--game-args TEXT]\n"
		"One ringfleet game server: runs a game module (--game; the built-in relay\n"
		"sends every datagram it receives to every client), once per tick.\n\n"
		"  --name NAME                 server name for logs (default worker)\n"
		"  --port PORT                 standalone: bind this UDP port\n"
		"  --bind ADDR                 standalone: numeric address (default 0.0.0.0)\n"
		"  --fd N                      supervised: inherited, bound UDP socket\n"
		"  --slot-fd N                 shared-memory slot (memfd) for stats and clients\n"
		"  --ready-fd N                write \"ready\\n\" once set up to relay, then close it\n"
		"  --token-key-fd N            admission = token: read the host key (32 bytes, or\n"
		"                              64 hex digits) from fd N, then close it\n");
	usage_keys(f);
	fprintf(f, "  --tick-phase-ns N           offset of the tick deadlines in the period\n"
		   "  --supervisor-pid N          supervised by process N, our parent: exit at\n"
		   "                              once if it is already gone (later, the slot's\n"
		   "                              orphan_timeout_s decides)\n"
		   "  --no-gso                    never use UDP GSO (debugging)\n"
		   "  --check-game PATH           load game module PATH and check its entry\n"
		   "                              and ABI (init is not called); exit 0, or 2\n"
		   "                              with \"PATH: reason\" on stderr\n"
		   "  --log-level LEVEL           err|warning|notice|info|debug (default info)\n"
		   "  --help, --version\n");
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

/* A config key's flag: the table's setter, and its message on failure,
 * the same as ringfleetd --check gives for the key in a file. */
static void parse_key(struct opts *o, const struct cfg_key *k, const char *flag, const char *s)
{
	struct cfg_key_ctx ctx = { .ncpus = 0 };
	char why[CFG_WHY_MAX];

	if (k->set(k, &o->srv, s, &ctx, why, sizeof(why)) < 0) {
		fprintf(stderr, "ringfleet-worker: --%s: %s\n", flag, why);
		exit(EXIT_USAGE);
	}
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
	/* Staggering within one period is all the phase can mean. */
	o->tick_phase_ns %= RF_NSEC_PER_SEC / o->srv.tick_hz;
}

static void set_defaults(struct opts *o)
{
	*o = (struct opts){
		.name = "worker", .fd = -1, .slot_fd = -1, .ready_fd = -1, .token_key_fd = -1
	};
	cfg_server_init(&o->srv);
}

/* The worker's own options, then one per config key it takes (val
 * O_KEY + row of the table), named from the table into names. */
static void build_longopts(struct option *opts, size_t n_own,
			   char names[CFG_KEYS_MAX][CFG_FLAG_MAX], int key_base)
{
	size_t n = n_own;

	for (int f = 0; f < cfg_srv_nkeys; f++) {
		const struct cfg_key *k = &cfg_srv_keys[f];

		if (!k->worker || cfg_key_flag(k, names[f], CFG_FLAG_MAX) < 0)
			continue;
		opts[n++] = (struct option){ names[f], required_argument, NULL, key_base + f };
	}
	opts[n] = (struct option){ 0 };
}

void args_parse(struct opts *o, int argc, char **argv)
{
	enum {
		O_NAME = 256,
		O_PORT,
		O_BIND,
		O_FD,
		O_SLOT_FD,
		O_READY_FD,
		O_TOKEN_KEY_FD,
		O_PHASE,
		O_SUP_PID,
		O_NO_GSO,
		O_LOG_LEVEL,
		O_CHECK_GAME,
		O_HELP,
		O_VERSION,
		O_KEY = 512
	};
	static const struct option own[] = {
		{ "name", required_argument, NULL, O_NAME },
		{ "port", required_argument, NULL, O_PORT },
		{ "bind", required_argument, NULL, O_BIND },
		{ "fd", required_argument, NULL, O_FD },
		{ "slot-fd", required_argument, NULL, O_SLOT_FD },
		{ "ready-fd", required_argument, NULL, O_READY_FD },
		{ "token-key-fd", required_argument, NULL, O_TOKEN_KEY_FD },
		{ "tick-phase-ns", required_argument, NULL, O_PHASE },
		{ "supervisor-pid", required_argument, NULL, O_SUP_PID },
		{ "no-gso", no_argument, NULL, O_NO_GSO },
		{ "log-level", required_argument, NULL, O_LOG_LEVEL },
		{ "check-game", required_argument, NULL, O_CHECK_GAME },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
	};
	static char names[CFG_KEYS_MAX][CFG_FLAG_MAX];
	struct option longopts[sizeof(own) / sizeof(own[0]) + CFG_KEYS_MAX + 1];
	int c, level;

	memcpy(longopts, own, sizeof(own));
	build_longopts(longopts, sizeof(own) / sizeof(own[0]), names, O_KEY);
	set_defaults(o);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c >= O_KEY && c < O_KEY + cfg_srv_nkeys) {
			parse_key(o, &cfg_srv_keys[c - O_KEY], names[c - O_KEY], optarg);
			continue;
		}
		switch (c) {
		case O_NAME:
			parse_name(o, optarg);
			break;
		case O_PORT:
			o->port = (unsigned)parse_num("--port", optarg, 1, 65535);
			break;
		case O_BIND:
			o->bind = optarg;
			break;
		case O_FD:
			o->fd = parse_fd("--fd", optarg);
			break;
		case O_SLOT_FD:
			o->slot_fd = parse_fd("--slot-fd", optarg);
			break;
		case O_READY_FD:
			o->ready_fd = parse_fd("--ready-fd", optarg);
			break;
		case O_TOKEN_KEY_FD:
			o->token_key_fd = parse_fd("--token-key-fd", optarg);
			break;
		case O_PHASE:
			o->tick_phase_ns =
				parse_num("--tick-phase-ns", optarg, 0, RF_NSEC_PER_SEC - 1);
			break;
		case O_SUP_PID:
			o->supervisor_pid =
				(int)parse_num("--supervisor-pid", optarg, 1, INT32_MAX);
			break;
		case O_NO_GSO:
			o->no_gso = true;
			break;
		case O_LOG_LEVEL:
			level = log_level_from_string(optarg);
			if (level < 0)
				bad_arg("--log-level", optarg, "err|warning|notice|info|debug");
			log_set_level(level);
			break;
		case O_CHECK_GAME:
			o->check_game = optarg;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		case O_VERSION:
			printf("ringfleet-worker %s\n", RF_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringfleet-worker: unexpected argument \"%s\"\n", argv[optind]);
		exit(EXIT_USAGE);
	}
	if (!o->check_game)
		check_opts(o);
}
