// SPDX-License-Identifier: Apache-2.0
/* main.c - ringfleetd: command line, then the daemon loop. Always runs in
 * the foreground, as service managers expect. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sodium.h>

#include "common/log.h"
#include "common/token_key.h"
#include "config/config.h"
#include "supervisor/daemon.h"
#include "supervisor/upgrade.h"
#include "supervisor/probe.h"

#define DEFAULT_CONFIG "/etc/ringfleet/ringfleet.ini"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ringfleetd [-c CONFIG] [--worker PATH]\n"
		"       ringfleetd --check [--worker PATH] [CONFIG]\n"
		"       ringfleetd --gen-token-key PATH\n"
		"       ringfleetd --upgrade-check=FD\n"
		"\n"
		"Supervises one ringfleet-worker per game server of CONFIG (default %s).\n"
		"Runs in the foreground; SIGTERM/SIGINT stop every worker and exit,\n"
		"SIGHUP reloads the configuration.\n"
		"\n"
		"  -c, --config FILE   configuration file\n"
		"      --check         validate the configuration, its users, groups,\n"
		"                      addresses and game modules on this host, and exit\n"
		"                      0 (valid) or 1\n"
		"      --gen-token-key PATH\n"
		"                      create PATH (mode 0600, never overwritten) holding a\n"
		"                      fresh connect-token host key for token_key_file\n"
		"      --worker PATH   worker binary (default: ringfleet-worker next to ringfleetd)\n"
		"      --upgrade-check=FD\n"
		"                      exit 0 if this binary can take over the fleet state\n"
		"                      in FD (what `ringfleetctl upgrade` asks first), else 1\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n",
		DEFAULT_CONFIG);
}

/* The limits --check runs under may not be the service's: a warning. */
static void warn_fds(size_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max < fleet_fds_needed(n))
		fprintf(stderr,
			"warning: RLIMIT_NOFILE here (hard %llu) is below the about %zu "
			"file descriptors ringfleetd needs for %zu servers\n",
			(unsigned long long)rl.rlim_max, fleet_fds_needed(n), n);
}

/* Each distinct module is loaded once by the worker binary in a child
 * (probe.h): ringfleetd itself never runs game code. */
static int check_config(const char *path, const char *worker)
{
	char err[CFG_ERR_MAX];
	struct cfg cfg;

	if (cfg_load_host(path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (probe_modules(&cfg, worker, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		cfg_free(&cfg);
		return 1;
	}
	printf("%s: OK (%zu servers)\n", path, cfg.n_servers);
	warn_fds(cfg.n_servers);
	cfg_free(&cfg);
	return 0;
}

static int gen_token_key(const char *path)
{
	int r;

	if (sodium_init() < 0) {
		fprintf(stderr, "ringfleetd: libsodium initialisation failed\n");
		return 1;
	}
	r = token_key_generate(path);
	if (r < 0) {
		fprintf(stderr, "ringfleetd: --gen-token-key %s: %s\n", path, strerror(-r));
		return 1;
	}
	printf("%s: new token key (mode 0600); set token_key_file = %s in [supervisor]\n", path,
	       path);
	return 0;
}

static int default_worker(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return -errno;
	self[n] = '\0';
	if ((size_t)snprintf(buf, len, "%s/ringfleet-worker", dirname(self)) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* An fd number from --upgrade-from / --upgrade-check, or -1. */
static int parse_fd(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s && !*end && v >= 0 && v < 1 << 20 ? (int)v : -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "worker", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "gen-token-key", required_argument, NULL, 'G' },
		{ "upgrade-from", required_argument, NULL, 'U' },
		{ "upgrade-check", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = DEFAULT_CONFIG;
	char worker[PATH_MAX] = "", err[CFG_ERR_MAX];
	struct daemon d;
	int c, check = 0, rc, upgrade_fd = -1;

	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			check = 1;
			break;
		case 'w':
			snprintf(worker, sizeof(worker), "%s", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("ringfleetd %s\n", RF_VERSION);
			return 0;
		case 'G':
			return gen_token_key(optarg);
		case 'U':
			upgrade_fd = parse_fd(optarg);
			if (upgrade_fd < 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'C':
			return parse_fd(optarg) < 0 ? 2 : upgrade_check(parse_fd(optarg));
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc && check)
		config = argv[optind++];
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (!*worker && default_worker(worker, sizeof(worker)) < 0) {
		fprintf(stderr, "ringfleetd: cannot find the worker binary; use --worker PATH\n");
		return 1;
	}
	if (check)
		return check_config(config, worker);
	log_set_ident("ringfleetd");
	if (daemon_init(&d,
			&(struct daemon_start){ .config_path = config,
						.worker_path = worker,
						.upgrade_fd = upgrade_fd,
						.argc = argc,
						.argv = argv },
			err, sizeof(err)) < 0) {
		log_err("%s", err);
		daemon_free(&d);
		return 1;
	}
	rc = daemon_run(&d);
	daemon_free(&d);
	return rc;
}
