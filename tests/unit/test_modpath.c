// SPDX-License-Identifier: Apache-2.0
/* test_modpath.c - the game module path checks (config/cfg_modpath.h),
 * alone and through cfg_load_host() with the file:line message, in a
 * temporary directory under the build tree (whose ancestors must be safe:
 * /tmp, world-writable, would refuse everything; the test skips then).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/cfg_modpath.h"
#include "config/config.h"

#ifndef RF_TEST_TMP
#error "RF_TEST_TMP must name a directory for temporary files"
#endif

#define PATH_LEN 512
static char dir[PATH_LEN / 2]; /* mode 0755, ours */
static char module[PATH_LEN];  /* dir/g.so, mode 0644, ours */
static char real[CFG_GAME_MAX];
static char why[512];

static void touch(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/rf-modpath-XXXXXX", RF_TEST_TMP);
	if (!mkdtemp(dir))
		return -1;
	if (chmod(dir, 0755) < 0)
		return -1;
	snprintf(module, sizeof(module), "%s/g.so", dir);
	touch(module, 0644);
	return 0;
}

/* Every name a test creates in dir, then dir. */
static int teardown(void **state)
{
	static const char *const names[] = { "g.so", "current.so", "t.ini" };
	char p[PATH_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	return rmdir(dir);
}

static int check(const char *path)
{
	real[0] = why[0] = '\0';
	return cfg_modpath_check(path, geteuid(), real, sizeof(real), why, sizeof(why));
}

/* The directories above the build tree may be unsafe on some machine. */
static void need_safe_base(void)
{
	if (check(module) < 0) {
		print_message("build tree not a safe place for modules here: %s\n", why);
		skip();
	}
}

static void assert_why(const char *want)
{
	if (!strstr(why, want))
		fail_msg("message \"%s\" lacks \"%s\"", why, want);
}

static void test_safe_file(void **state)
{
	(void)state;
	need_safe_base();
	assert_string_equal(real, module);
}

static void test_relative(void **state)
{
	(void)state;
	assert_int_equal(check("g.so"), -EINVAL);
	assert_why("not an absolute path");
}

static void test_missing(void **state)
{
	char p[PATH_LEN];

	(void)state;
	snprintf(p, sizeof(p), "%s/nope.so", dir);
	assert_int_equal(check(p), -ENOENT);
	assert_why("No such file or directory");
}

static void test_directory(void **state)
{
	(void)state;
	need_safe_base();
	assert_int_equal(check(dir), -EINVAL);
	assert_why("is a directory, expected a regular file");
}

/* A link is followed; the target is what is checked and stored, so the
 * worker never opens the link, which could change after the check. */
static void test_symlink_to_safe(void **state)
{
	char link[PATH_LEN];

	(void)state;
	need_safe_base();
	snprintf(link, sizeof(link), "%s/current.so", dir);
	assert_int_equal(symlink(module, link), 0);
	assert_int_equal(check(link), 0);
	assert_string_equal(real, module);
	/* ... and a link to an unsafe file names both. */
	assert_int_equal(chmod(module, 0664), 0);
	assert_int_equal(check(link), -EPERM);
	assert_why(" -> ");
	assert_why("is writable by group");
}

static void test_group_writable(void **state)
{
	char want[4 * PATH_LEN];

	(void)state;
	need_safe_base();
	assert_int_equal(chmod(module, 0664), 0);
	assert_int_equal(check(module), -EPERM);
	snprintf(want, sizeof(want), "%s is writable by group", module);
	assert_why(want);
	assert_why("(chmod g-w ");
}

static void test_other_writable_file(void **state)
{
	(void)state;
	need_safe_base();
	assert_int_equal(chmod(module, 0646), 0);
	assert_int_equal(check(module), -EPERM);
	assert_why("is writable by anyone (chmod o-w");
}

static void test_other_writable_dir(void **state)
{
	char want[4 * PATH_LEN];

	(void)state;
	need_safe_base();
	assert_int_equal(chmod(dir, 0757), 0);
	assert_int_equal(check(module), -EPERM);
	snprintf(want, sizeof(want), "%s: directory %s is writable by anyone (chmod o-w %s)",
		 module, dir, dir);
	assert_why(want);
}

/* Sticky (/tmp-like) changes nothing: still refused. */
static void test_sticky_dir(void **state)
{
	(void)state;
	need_safe_base();
	assert_int_equal(chmod(dir, 01777), 0);
	assert_int_equal(check(module), -EPERM);
	assert_why("is writable by anyone");
}

/* As root: chown the module away. Otherwise: trust a uid that is not
 * ours, so our own file counts as someone else's. */
static void test_other_owner(void **state)
{
	uid_t trusted = geteuid();

	(void)state;
	need_safe_base();
	if (geteuid() == 0)
		assert_int_equal(chown(module, 54321, (gid_t)-1), 0);
	else
		trusted = geteuid() + 1;
	assert_int_equal(cfg_modpath_check(module, trusted, real, sizeof(real), why, sizeof(why)),
			 -EPERM);
	assert_why("is owned by uid ");
}

static void test_resolves_too_long(void **state)
{
	char small[8];

	(void)state;
	need_safe_base();
	assert_int_equal(cfg_modpath_check(module, geteuid(), small, sizeof(small), why,
					   sizeof(why)),
			 -ENAMETOOLONG);
}

/* Writes an ini naming game = module on line 4 and loads it with the
 * host checks; returns cfg_load_host()'s result, message in why. */
static int load_ini(const char *game, struct cfg *cfg, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/t.ini", dir);
	f = fopen(path, "we");
	assert_non_null(f);
	fprintf(f,
		"[server a]\nport = 7001\nbind = 127.0.0.1\ngame = %s\n"
		"[server b]\nport = 7002\nbind = 127.0.0.1\ngame = %s\n",
		game, game);
	fclose(f);
	return cfg_load_host(path, cfg, why, sizeof(why));
}

static void test_load_host_line(void **state)
{
	char path[PATH_LEN], want[4 * PATH_LEN];
	struct cfg cfg;

	(void)state;
	need_safe_base();
	assert_int_equal(chmod(module, 0664), 0);
	assert_int_equal(load_ini(module, &cfg, path, sizeof(path)), -EINVAL);
	snprintf(want, sizeof(want), "%s:4: game: %s is writable by group", path, module);
	assert_why(want);
	cfg_free(&cfg);
	/* A plain load (ringfleetctl, another host's file) does not look. */
	assert_int_equal(cfg_load(path, &cfg, why, sizeof(why)), 0);
	cfg_free(&cfg);
}

static void test_load_host_resolves(void **state)
{
	char path[PATH_LEN], link[PATH_LEN];
	struct cfg cfg;

	(void)state;
	need_safe_base();
	snprintf(link, sizeof(link), "%s/current.so", dir);
	assert_int_equal(symlink(module, link), 0);
	assert_int_equal(load_ini(link, &cfg, path, sizeof(path)), 0);
	assert_int_equal(cfg.n_servers, 2);
	assert_string_equal(cfg.servers[0].game, module);
	assert_string_equal(cfg.servers[1].game, module);
	cfg_free(&cfg);
	assert_int_equal(load_ini("relay", &cfg, path, sizeof(path)), 0);
	assert_string_equal(cfg.servers[0].game, "relay");
	cfg_free(&cfg);
}

static void test_load_host_missing(void **state)
{
	char path[PATH_LEN], mod[PATH_LEN], want[4 * PATH_LEN];
	struct cfg cfg;

	(void)state;
	snprintf(mod, sizeof(mod), "%s/missing.so", dir);
	assert_int_equal(load_ini(mod, &cfg, path, sizeof(path)), -EINVAL);
	snprintf(want, sizeof(want), "%s:4: game: %s: No such file or directory", path, mod);
	assert_why(want);
	cfg_free(&cfg);
	assert_int_equal(load_ini("rel/g.so", &cfg, path, sizeof(path)), -EINVAL);
	assert_why(":4: game: expected relay, or an absolute path to a game module");
	cfg_free(&cfg);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_safe_file),           T(test_relative),           T(test_missing),
		T(test_directory),           T(test_symlink_to_safe),    T(test_group_writable),
		T(test_other_writable_file), T(test_other_writable_dir), T(test_sticky_dir),
		T(test_other_owner),         T(test_resolves_too_long),  T(test_load_host_line),
		T(test_load_host_resolves),  T(test_load_host_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
