/* ringfleetctl - control and query ringfleetd over its control socket.
 *
 * Exit codes (DESIGN.md): 0 ok, 1 the supervisor refused or failed,
 * 2 usage, 3 `status`: a server is not running, 4 cannot reach the
 * supervisor.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ctlproto.h"
#include "config/config.h"
#include "ctl/table.h"

#define DEFAULT_SOCKET CFG_DEFAULT_CONTROL_SOCKET

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_NOT_RUNNING = 3, EXIT_UNREACHABLE = 4 };

struct opts {
	const char *socket;
	const char *config;
	bool json;
	double watch_s;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ringfleetctl [-s SOCKET | -c CONFIG] [--json] VERB [NAME|GLOB|all]\n"
		"\n"
		"Verbs:\n"
		"  status [NAME|GLOB]      servers with health, CPU and traffic (exit 3 if one is not running)\n"
		"  start|stop|restart NAME|GLOB|all\n"
		"                          change servers; returns once they settled\n"
		"  reload                  re-read the configuration; returns once applied\n"
		"  shutdown                stop every server and the supervisor\n"
		"  ping | version\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH   control socket (default %s)\n"
		"  -c, --config FILE   take the control socket from this configuration\n"
		"  -j, --json          print the supervisor's JSON reply as is\n"
		"  -w, --watch SECS    repeat status every SECS seconds\n"
		"  -h, --help          this text\n"
		"\n"
		"Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 a server is not running,\n"
		"4 cannot reach the supervisor.\n",
		DEFAULT_SOCKET);
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

static int print_reply(const struct opts *o, const char *verb, json_t *reply)
{
	bool ok = json_is_true(json_object_get(reply, "ok"));

	if (o->json) {
		json_dumpf(reply, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else if (!ok) {
		fprintf(stderr, "ringfleetctl: %s\n",
			json_string_value(json_object_get(reply, "error")) ?: "failed");
	} else if (strcmp(verb, "status") == 0) {
		table_print_status(reply, isatty(STDOUT_FILENO));
	} else {
		table_print_result(verb, reply);
	}
	if (!ok)
		return EXIT_REFUSED;
	if (strcmp(verb, "status") == 0 && !table_all_running(reply))
		return EXIT_NOT_RUNNING;
	return EXIT_OK;
}

static int run(const struct opts *o, const char *socket_path, const char *verb, const char *request)
{
	for (;;) {
		json_t *reply = NULL;
		int rc = call(socket_path, request, &reply);

		if (rc == EXIT_OK) {
			if (o->watch_s > 0 && !o->json)
				fputs("\033[H\033[2J", stdout);
			rc = print_reply(o, verb, reply);
			json_decref(reply);
		}
		if (o->watch_s <= 0)
			return rc;
		fflush(stdout);
		usleep((useconds_t)(o->watch_s * 1e6));
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

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "socket", required_argument, NULL, 's' }, { "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },         { "watch", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	struct opts o = { .socket = DEFAULT_SOCKET };
	char request[CTL_LINE_MAX], socket_path[108];
	const char *env = getenv("RINGFLEET_SOCKET");
	int c;

	if (env && *env)
		o.socket = env;
	while ((c = getopt_long(argc, argv, "s:c:jw:h", lopts, NULL)) != -1) {
		switch (c) {
		case 's': o.socket = optarg; break;
		case 'c': o.config = optarg; break;
		case 'j': o.json = true; break;
		case 'w': o.watch_s = atof(optarg); if (o.watch_s <= 0) { usage(stderr); return EXIT_USAGE; } break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!table_verb_known(argv[optind], argc - optind - 1)) {
		fprintf(stderr, "ringfleetctl: bad use of \"%s\"\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (build_request(argc - optind, argv + optind, request, sizeof(request)) < 0) {
		fprintf(stderr, "ringfleetctl: request too long\n");
		return EXIT_USAGE;
	}
	snprintf(socket_path, sizeof(socket_path), "%s", o.socket);
	if (o.config && socket_from_config(&o, socket_path, sizeof(socket_path)) < 0)
		return EXIT_USAGE;
	return run(&o, socket_path, argv[optind], request);
}
