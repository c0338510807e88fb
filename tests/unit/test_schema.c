// SPDX-License-Identifier: Apache-2.0
/* test_schema.c - the per-server key table (config/cfg_schema.h) end to
 * end, walking the table so a new key is covered without a new test:
 * - every key the worker takes, set in an INI file to a value other than
 *   its default, comes out of cfg_load(), spawn.c's argv and the worker's
 *   own parser (worker/args.c) unchanged;
 * - every key formats to what its setter reads back;
 * - a value out of range is refused with the same message by cfg_load(),
 *   `ringfleetd --check` and ringfleet-worker (both binaries are run).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/cfg_schema.h"
#include "config/config.h"
#include "supervisor/spawn.h"
#include "worker/args.h"

static char dir[] = "/tmp/rf-schema-XXXXXX";

/* Keys whose values are not a range or a list of choices. */
static const struct {
	const char *key, *good, *bad;
} samples[] = {
	/* A root-owned file in root-owned directories: what a module path
	 * must be (loading it is --check's business, not the setter's). */
	{ "game", "/usr/bin/true", "relative/game.so" },
	{ "game_args", "map=dust speed=2", "bell\a" },
};

static const char *sample(const struct cfg_key *k, bool good)
{
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		if (strcmp(samples[i].key, k->name) == 0)
			return good ? samples[i].good : samples[i].bad;
	return NULL;
}

/* A value k accepts other than its default: the end of its range, or the
 * first of its choices ("auto|io_uring|mmsg") that is not the default. */
static void other_value(const struct cfg_key *k, char *buf, size_t len)
{
	const char *a = k->arg, *bar;
	size_t n;

	if (sample(k, true)) {
		snprintf(buf, len, "%s", sample(k, true));
		return;
	}
	if (k->max) {
		uint32_t v = k->def && strtoul(k->def, NULL, 10) == k->max ? k->min : k->max;

		snprintf(buf, len, "%u", v);
		return;
	}
	for (;; a = bar + 1) {
		bar = strchr(a, '|');
		n = bar ? (size_t)(bar - a) : strlen(a);
		snprintf(buf, len, "%.*s", (int)n, a);
		if (!k->def || strcmp(buf, k->def) != 0 || !bar)
			return;
	}
}

/* A value k's setter refuses: past its range, or no choice of its. */
static void refused_value(const struct cfg_key *k, char *buf, size_t len)
{
	const char *bad = sample(k, false);

	if (bad)
		snprintf(buf, len, "%s", bad);
	else if (k->max)
		snprintf(buf, len, "%llu", (unsigned long long)k->max + 1);
	else
		snprintf(buf, len, "bogus");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* Runs cmd, returns its exit status with the first line of its output
 * (stdout and stderr) in line. cmd runs under timeout(1): a binary that
 * accepted a value it should refuse is killed (137), not waited for. */
static int run(const char *cmd, char *line, size_t len)
{
	/* A shell by design: it runs the binaries under timeout(1). */
	FILE *p = popen(cmd, "r"); // NOLINT(cert-env33-c)
	int st;

	assert_non_null(p);
	line[0] = '\0';
	if (fgets(line, (int)len, p))
		line[strcspn(line, "\n")] = '\0';
	while (fgetc(p) != EOF)
		;
	st = pclose(p);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_ini_to_worker(void **state)
{
	char ini[4096] = "[server s]\nport = 7000\n", path[PATH_MAX], err[CFG_ERR_MAX];
	char val[64], want[CFG_FLAG_MAX + 80];
	struct spawn_argv argv = { .argc = 0 };
	struct cfg cfg;
	struct opts o;
	int n_worker = 0;

	(void)state;
	for (int f = 0; f < cfg_srv_nkeys; f++) {
		const struct cfg_key *k = &cfg_srv_keys[f];

		if (!k->worker)
			continue;
		other_value(k, val, sizeof(val));
		/* Its max would not be below stop_timeout_ms (a cross-key check). */
		if (f == F_DRAIN_TIMEOUT)
			snprintf(val, sizeof(val), "%u", k->min);
		snprintf(ini + strlen(ini), sizeof(ini) - strlen(ini), "%s = %s\n", k->name, val);
		n_worker++;
	}
	assert_true(n_worker > 0);
	snprintf(path, sizeof(path), "%s/all.ini", dir);
	write_file(path, ini);
	assert_int_equal(cfg_load(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_servers, 1);

	struct spawn_args a = { .worker_path = "ringfleet-worker",
				.cfg = &cfg.servers[0],
				.cpu = -1,
				.udp_fd = 0,
				.slot_fd = 1,
				.ready_fd = 2,
				.log_level = 6,
				.parent = getpid() };
	assert_int_equal(spawn_build_argv(&a, &argv), 0);
	optind = 0;
	args_parse(&o, argv.argc, argv.argv);

	for (int f = 0; f < cfg_srv_nkeys; f++) {
		const struct cfg_key *k = &cfg_srv_keys[f];
		struct cfg_server dflt;
		bool found = false;

		if (!k->worker)
			continue;
		cfg_server_init(&dflt);
		assert_int_equal(cfg_key_worker_arg(k, &cfg.servers[0], want, sizeof(want)), 0);
		for (int i = 0; i < argv.argc; i++)
			found |= strcmp(argv.argv[i], want) == 0;
		if (!found)
			fail_msg("%s: no %s in the worker's argv", k->name, want);
		/* Set in the file, not the default, and the worker got it. */
		if (cfg_key_equal(k, &cfg.servers[0], &dflt))
			fail_msg("%s: the file's value is the default", k->name);
		if (!cfg_key_equal(k, &cfg.servers[0], &o.srv))
			fail_msg("%s: the worker parsed %s differently", k->name, want);
	}
	cfg_free(&cfg);
}

/* fmt() writes what set() reads back, for every key. */
static void test_format_parse(void **state)
{
	struct cfg_key_ctx ctx = { .ncpus = 1 };
	struct cfg_server a, b;
	char buf[128], why[CFG_WHY_MAX];
	uint16_t hi;

	(void)state;
	ctx.port_hi = &hi;
	cfg_server_init(&a);
	a.port = 7000;
	a.cpu = 0;
	strcpy(a.user, "nobody");
	strcpy(a.group, "nogroup");
	for (int f = 0; f < cfg_srv_nkeys; f++) {
		const struct cfg_key *k = &cfg_srv_keys[f];

		memset(&b, 0, sizeof(b));
		assert_int_equal(k->fmt(k, &a, buf, sizeof(buf)), 0);
		if (k->set(k, &b, buf, &ctx, why, sizeof(why)) < 0)
			fail_msg("%s: \"%s\": %s", k->name, buf, why);
		if (!cfg_key_equal(k, &a, &b))
			fail_msg("%s: \"%s\" read back differently", k->name, buf);
		assert_non_null(k->doc);
		assert_non_null(k->arg);
	}
}

/* The same refusal from the loader, `ringfleetd --check` and the worker. */
static void test_refused_alike(void **state)
{
	char path[PATH_MAX], ini[256], val[64], err[CFG_ERR_MAX], prefix[PATH_MAX + 64];
	char cmd[2 * PATH_MAX + 128], line[CFG_ERR_MAX + 64], flag[CFG_FLAG_MAX];
	const char *why;
	struct cfg cfg;

	(void)state;
	snprintf(path, sizeof(path), "%s/bad.ini", dir);
	for (int f = 0; f < cfg_srv_nkeys; f++) {
		const struct cfg_key *k = &cfg_srv_keys[f];

		if (!k->worker)
			continue;
		refused_value(k, val, sizeof(val));
		snprintf(ini, sizeof(ini), "[server s]\nport = 7000\n%s = %s\n", k->name, val);
		write_file(path, ini);
		assert_int_equal(cfg_load(path, &cfg, err, sizeof(err)), -EINVAL);
		snprintf(prefix, sizeof(prefix), "%s:3: %s: ", path, k->name);
		if (strncmp(err, prefix, strlen(prefix)) != 0)
			fail_msg("%s = %s: loader said \"%s\"", k->name, val, err);
		why = err + strlen(prefix);

		snprintf(cmd, sizeof(cmd), "timeout -s KILL 10 '%s/ringfleetd' --check '%s' 2>&1",
			 RF_BIN_DIR, path);
		assert_int_equal(run(cmd, line, sizeof(line)), 1);
		assert_string_equal(line, err);

		assert_int_equal(cfg_key_flag(k, flag, sizeof(flag)), 0);
		snprintf(cmd, sizeof(cmd),
			 "timeout -s KILL 10 '%s/ringfleet-worker' --port 1 '--%s=%s' 2>&1",
			 RF_BIN_DIR, flag, val);
		assert_int_equal(run(cmd, line, sizeof(line)), RF_EXIT_CONFIG);
		snprintf(prefix, sizeof(prefix), "ringfleet-worker: --%s: ", flag);
		if (strncmp(line, prefix, strlen(prefix)) != 0 ||
		    strcmp(line + strlen(prefix), why) != 0)
			fail_msg("--%s=%s: worker said \"%s\", loader \"%s\"", flag, val, line,
				 why);
	}
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/all.ini", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/bad.ini", dir);
	unlink(path);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ini_to_worker),
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test(test_refused_alike),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
