// SPDX-License-Identifier: Apache-2.0
/* ringfleetctl - control and query ringfleetd over its control socket.
 *
 * Exit codes (docs/design.md): 0 ok, 1 the supervisor refused or failed,
 * 2 usage, 3 `status`: a server is not running, 4 cannot reach the
 * supervisor, 5 no reply within --timeout, 6 `allocate`: no ready server
 * matches, 7 `drain`: allocated sessions were left at its timeout. `roll
 * --wait` not done within --timeout exits 5 too.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/ctlproto.h"
#include "config/config.h"
#include "ctl/help.h"
#include "ctl/roll_wait.h"
#include "ctl/stream.h"
#include "ctl/table.h"
#include "supervisor/alloc_req.h"

#define DEFAULT_SOCKET CFG_DEFAULT_CONTROL_SOCKET

enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,
	EXIT_USAGE = 2,
	EXIT_NOT_RUNNING = 3,
	EXIT_UNREACHABLE = 4,
	EXIT_TIMEOUT = 5,
	EXIT_NO_MATCH = 6,
	EXIT_DRAIN_LEFT = 7,
};

/* Verbs that wait for the fleet to settle: ringfleetd answers them after
 * at most stop_timeout_ms + max(hang_timeout_ms, 5 s) + 2 s (12 s with
 * the defaults), so they get a longer default. */
#define TIMEOUT_QUICK_S 5.0
#define TIMEOUT_SETTLE_S 120.0
/* drain --timeout S is the drain's own deadline, which ringfleetd keeps:
 * the client waits that long plus this for the reply. */
#define DRAIN_TIMEOUT_DEFAULT_S 300
#define DRAIN_REPLY_SLACK_S 30.0

struct opts {
	const char *socket;
	const char *config;
	bool json;
	bool help;
	double watch_s;
	double timeout_s; /* < 0: the verb's default; 0: none */
	const char *arg;  /* the verb's argument, if any */
	/* allocate's options (--selector, --meta, --policy, --players) */
	struct alloc_req alloc;
	bool alloc_opts;
	bool wait; /* roll --wait */
};

static void usage(FILE *out)
{
	help_usage(out, DEFAULT_SOCKET);
}

static int socket_from_config(struct opts *o, char *buf, size_t len)
{
	char err[CFG_ERR_MAX];
	struct cfg cfg;

	if (cfg_load(o->config, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfleetctl: %s\n", err);
		return -EINVAL;
	}
	snprintf(buf, len, "%s", cfg.sup.control_socket);
	cfg_free(&cfg);
	return 0;
}

static char timeout_msg[256];

/* A wedged or stopped ringfleetd must not hang scripts and health checks:
 * give up with a status of its own. Only async-signal-safe calls here. */
static void on_alarm(int sig)
{
	ssize_t n = write(STDERR_FILENO, timeout_msg, strlen(timeout_msg));

	(void)sig;
	(void)n;
	_exit(EXIT_TIMEOUT);
}

static void arm_timeout(double s)
{
	struct itimerval it = { 0 };

	it.it_value.tv_sec = (time_t)s;
	it.it_value.tv_usec = (suseconds_t)((s - (double)(time_t)s) * 1e6);
	if (s > 0 && !it.it_value.tv_sec && !it.it_value.tv_usec)
		it.it_value.tv_usec = 1;
	setitimer(ITIMER_REAL, &it, NULL);
}

static double verb_timeout(const struct opts *o, const char *verb)
{
	/* upgrade: the new binary's check may take up to 10 s, then the new
	 * image loads the configuration and applies it. */
	static const char *const settle[] = { "start", "stop", "restart", "reload", "upgrade" };

	if (strcmp(verb, "drain") == 0)
		return (o->timeout_s >= 0 ? o->timeout_s : DRAIN_TIMEOUT_DEFAULT_S) +
		       DRAIN_REPLY_SLACK_S;
	if (o->timeout_s >= 0)
		return o->timeout_s;
	for (size_t i = 0; i < sizeof(settle) / sizeof(settle[0]); i++)
		if (strcmp(verb, settle[i]) == 0)
			return TIMEOUT_SETTLE_S;
	return TIMEOUT_QUICK_S;
}

static void setup_timeout(const char *socket_path, double s)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	snprintf(timeout_msg, sizeof(timeout_msg),
		 "ringfleetctl: no reply from ringfleetd at %s within %g s (--timeout)\n",
		 socket_path, s);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
}

static int call(const char *socket_path, const char *request, json_t **reply)
{
	int fd = ctl_connect(socket_path), r;

	if (fd < 0) {
		fprintf(stderr, "ringfleetctl: cannot reach ringfleetd at %s: %s\n", socket_path,
			strerror(-fd));
		return EXIT_UNREACHABLE;
	}
	r = ctl_call(fd, request, reply);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "ringfleetctl: %s: %s\n", socket_path,
			r == -EPROTO ? "malformed reply" : strerror(-r));
		return EXIT_UNREACHABLE;
	}
	return EXIT_OK;
}

/* What drain stopped, or what it left running. */
static int print_drain(json_t *reply, bool ok)
{
	json_t *left = json_object_get(reply, "left"), *s;
	json_t *stopped = json_object_get(reply, "stopped");
	size_t i;

	if (ok) {
		printf("drained: no allocated session left; %zu server%s stopped by drain\n",
		       json_array_size(stopped), json_array_size(stopped) == 1 ? "" : "s");
		return EXIT_OK;
	}
	fprintf(stderr, "ringfleetctl: %s\n",
		json_string_value(json_object_get(reply, "error")) ?: "failed");
	if (!left)
		return EXIT_REFUSED;
	json_array_foreach(left, i, s) printf("%s: session %s, process %s\n",
					      json_string_value(json_object_get(s, "name")),
					      json_string_value(json_object_get(s, "session")),
					      json_string_value(json_object_get(s, "state")));
	return EXIT_DRAIN_LEFT;
}

static int print_reply(const struct opts *o, const char *verb, json_t *reply)
{
	bool ok = json_is_true(json_object_get(reply, "ok"));

	if (strcmp(verb, "drain") == 0) {
		if (!o->json)
			return print_drain(reply, ok);
		json_dumpf(reply, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		putchar('\n');
		return ok                               ? EXIT_OK
		       : json_object_get(reply, "left") ? EXIT_DRAIN_LEFT
							: EXIT_REFUSED;
	}
	if (o->json) {
		json_dumpf(reply, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else if (!ok) {
		fprintf(stderr, "ringfleetctl: %s\n",
			json_string_value(json_object_get(reply, "error")) ?: "failed");
	} else if (strcmp(verb, "undrain") == 0) {
		printf("undrained: %lld server%s started\n",
		       (long long)json_integer_value(json_object_get(reply, "started")),
		       json_integer_value(json_object_get(reply, "started")) == 1 ? "" : "s");
	} else if (strcmp(verb, "upgrade") == 0) {
		printf("upgraded in place: ringfleetd %s -> %s, pid %lld, %lld workers kept\n",
		       json_string_value(json_object_get(reply, "upgraded_from")) ?: "?",
		       json_string_value(json_object_get(reply, "version")) ?: "?",
		       (long long)json_integer_value(json_object_get(reply, "pid")),
		       (long long)json_integer_value(json_object_get(reply, "workers_kept")));
	} else if (strcmp(verb, "allocate") == 0 || strcmp(verb, "release") == 0) {
		table_print_allocation(reply);
	} else if (strcmp(verb, "status") == 0) {
		json_t *one = table_detail_server(o->arg, reply);

		if (json_is_true(json_object_get(reply, "draining")))
			printf("host is draining (ringfleetctl undrain resumes)\n");
		roll_print_summary(reply);

		if (one)
			table_print_detail(one, isatty(STDOUT_FILENO));
		else
			table_print_status(reply, isatty(STDOUT_FILENO));
	} else {
		table_print_result(verb, reply);
	}
	if (!ok) {
		const char *code = json_string_value(json_object_get(reply, "code"));

		return code && strcmp(code, "no_match") == 0 ? EXIT_NO_MATCH : EXIT_REFUSED;
	}
	if (strcmp(verb, "status") == 0 && !table_all_running(reply))
		return EXIT_NOT_RUNNING;
	return EXIT_OK;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Each refresh of --watch starts a new screen on a terminal; anywhere
 * else (a pipe, a log) refreshes are separated by a blank line so that
 * none is lost. */
static void watch_separator(const struct opts *o, bool first)
{
	if (o->json)
		return;
	if (isatty(STDOUT_FILENO))
		fputs("\033[H\033[2J", stdout);
	else if (!first)
		putchar('\n');
}

static int run(const struct opts *o, const char *socket_path, const char *verb, const char *request)
{
	double timeout_s = verb_timeout(o, verb);

	setup_timeout(socket_path, timeout_s);
	for (bool first = true;; first = false) {
		json_t *reply = NULL;
		int rc;

		arm_timeout(timeout_s);
		rc = call(socket_path, request, &reply);
		arm_timeout(0);

		if (rc == EXIT_OK) {
			if (o->watch_s > 0)
				watch_separator(o, first);
			rc = print_reply(o, verb, reply);
			json_decref(reply);
		}
		if (o->watch_s <= 0)
			return rc;
		fflush(stdout);
		sleep_s(o->watch_s);
	}
}

static int build_request(int argc, char **argv, char *buf, size_t len)
{
	size_t used = 0;

	for (int i = 0; i < argc; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? " " : "", argv[i]);

		if (n < 0 || (size_t)n >= len - used)
			return -E2BIG;
		used += (size_t)n;
	}
	return 0;
}

/* `help [VERB]`, `VERB --help` (`help --help` included) and `--help`. */
static int print_help(bool flag, int argc, char **argv)
{
	const char *verb = argc > 0 ? argv[0] : NULL;

	if (!flag && verb && strcmp(verb, "help") == 0)
		verb = argc > 1 ? argv[1] : NULL;
	if (!verb) {
		usage(stdout);
		return EXIT_OK;
	}
	if (help_verb(stdout, verb) < 0) {
		fprintf(stderr, "ringfleetctl: no verb \"%s\"; ringfleetctl help lists them\n",
			verb);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int parse_options(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "watch", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "timeout", required_argument, NULL, 't' },
		{ "selector", required_argument, NULL, 'S' },
		{ "meta", required_argument, NULL, 'M' },
		{ "policy", required_argument, NULL, 'P' },
		{ "players", required_argument, NULL, 'p' },
		{ "wait", no_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	char *end, err[256];
	int c, rc;

	alloc_req_init(&o->alloc);
	while ((c = getopt_long(argc, argv, "s:c:jw:ht:", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			o->help = true;
			break;
		case 'W':
			o->wait = true;
			break;
		case 'w':
			o->watch_s = strtod(optarg, &end);
			if (*end || !(o->watch_s > 0 && o->watch_s <= 86400))
				return -EINVAL;
			break;
		case 't':
			o->timeout_s = strtod(optarg, &end);
			if (*end || !*optarg || !(o->timeout_s >= 0 && o->timeout_s <= 86400)) {
				fprintf(stderr,
					"ringfleetctl: --timeout: expected 0..86400 seconds, "
					"got \"%s\"\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'S':
		case 'M':
			rc = kv_add_pair(c == 'S' ? &o->alloc.selectors : &o->alloc.meta, optarg,
					 c == 'S' ? "selector" : "meta", err, sizeof(err));
			goto alloc_opt;
		case 'P':
			rc = alloc_policy_parse(optarg, &o->alloc.policy);
			snprintf(err, sizeof(err),
				 "--policy: want packed or distributed, got \"%s\"", optarg);
			goto alloc_opt;
		case 'p':
			rc = alloc_req_add_players(&o->alloc, optarg, err, sizeof(err));
alloc_opt:
			if (rc < 0) {
				fprintf(stderr, "ringfleetctl: %s\n", err);
				return -EINVAL;
			}
			o->alloc_opts = true;
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

/* allocate's request: the verb, then its options as one JSON object
 * (supervisor/alloc_req.h), which must fit the line. */
static int build_allocate(const struct opts *o, char *buf, size_t len)
{
	char err[256];
	json_t *j;
	char *text;
	int n;

	if (alloc_req_validate(&o->alloc, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfleetctl: %s\n", err);
		return -EINVAL;
	}
	j = alloc_req_to_json(&o->alloc);
	text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
	json_decref(j);
	if (!text) {
		fprintf(stderr, "ringfleetctl: out of memory\n");
		return -ENOMEM;
	}
	n = snprintf(buf, len, "allocate %s", text);
	free(text);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr,
			"ringfleetctl: allocate: options too long (the request line holds "
			"%d bytes)\n",
			CTL_LINE_MAX - 1);
		return -E2BIG;
	}
	return 0;
}

/* Checks the verb and its arguments before anything is sent. */
static int check_verb(const struct opts *o, int argc, char **argv)
{
	if (argc < 1) {
		usage(stderr);
		return -EINVAL;
	}
	if (!table_verb_known(argv[0], argc - 1)) {
		fprintf(stderr, "ringfleetctl: bad use of \"%s\"\n", argv[0]);
		if (help_verb(stderr, argv[0]) < 0)
			usage(stderr);
		return -EINVAL;
	}
	if (strcmp(argv[0], "allocate") == 0 && argc > 1) {
		fprintf(stderr,
			"ringfleetctl: allocate takes options only (see allocate --help)\n");
		return -EINVAL;
	}
	if (o->alloc_opts && strcmp(argv[0], "allocate") != 0) {
		fprintf(stderr, "ringfleetctl: --selector, --meta, --policy and --players are "
				"options of allocate\n");
		return -EINVAL;
	}
	if (o->wait && strcmp(argv[0], "roll") != 0) {
		fprintf(stderr, "ringfleetctl: --wait is an option of roll\n");
		return -EINVAL;
	}
	/* Repeating a mutating verb every few seconds is never what was meant. */
	if (o->watch_s > 0 && strcmp(argv[0], "status") != 0) {
		fprintf(stderr, "ringfleetctl: --watch only repeats status\n");
		return -EINVAL;
	}
	return 0;
}

static const char *socket_path_of(const struct opts *o, char *buf, size_t len)
{
	snprintf(buf, len, "%s", o->socket);
	if (o->config && socket_from_config((struct opts *)o, buf, len) < 0)
		return NULL;
	return buf;
}

/* drain takes its deadline from --timeout (whole seconds), not an ARG. */
static int run_drain(const struct opts *o, const char *socket_path, int nargs)
{
	char request[64];
	double t = o->timeout_s >= 0 ? o->timeout_s : DRAIN_TIMEOUT_DEFAULT_S;

	if (!socket_path)
		return EXIT_USAGE;
	if (nargs != 1 || t != (double)(unsigned)t) {
		fprintf(stderr, "ringfleetctl: usage: drain [--timeout SECONDS] (whole seconds)\n");
		return EXIT_USAGE;
	}
	snprintf(request, sizeof(request), "drain %u", (unsigned)t);
	return run(o, socket_path, "drain", request);
}

int main(int argc, char **argv)
{
	static struct opts o = { .socket = DEFAULT_SOCKET, .timeout_s = -1 };
	char request[CTL_LINE_MAX], socket_path[108];
	const char *env = getenv("RINGFLEET_SOCKET");
	int nargs;

	if (env && *env)
		o.socket = env;
	if (parse_options(argc, argv, &o) < 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	argv += optind;
	nargs = argc - optind;
	if (o.help || (nargs > 0 && strcmp(argv[0], "help") == 0))
		return print_help(o.help, nargs, argv);
	if (check_verb(&o, nargs, argv) < 0)
		return EXIT_USAGE;
	o.arg = nargs > 1 ? argv[1] : NULL;
	if (strcmp(argv[0], "drain") == 0)
		return run_drain(&o, socket_path_of(&o, socket_path, sizeof(socket_path)), nargs);
	if (strcmp(argv[0], "roll") == 0) {
		if (!socket_path_of(&o, socket_path, sizeof(socket_path)))
			return EXIT_USAGE;
		/* --timeout bounds the whole wait; without it the wait lasts as
		 * long as the matches the roll waits for. */
		return roll_command(socket_path, o.arg, o.json, o.wait,
				    o.timeout_s > 0 ? o.timeout_s : 0);
	}
	if (strcmp(argv[0], "events") == 0) {
		if (!socket_path_of(&o, socket_path, sizeof(socket_path)))
			return EXIT_USAGE;
		return stream_events(socket_path, o.json);
	}
	if (strcmp(argv[0], "allocate") == 0) {
		if (build_allocate(&o, request, sizeof(request)) < 0)
			return EXIT_USAGE;
	} else if (build_request(nargs, argv, request, sizeof(request)) < 0) {
		fprintf(stderr, "ringfleetctl: request too long\n");
		return EXIT_USAGE;
	}
	snprintf(socket_path, sizeof(socket_path), "%s", o.socket);
	if (o.config && socket_from_config(&o, socket_path, sizeof(socket_path)) < 0)
		return EXIT_USAGE;
	return run(&o, socket_path, argv[0], request);
}
