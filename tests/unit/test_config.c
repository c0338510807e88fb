// SPDX-License-Identifier: Apache-2.0
/* test_config.c - the config loader: the shipped examples, a fixture that
 * sets every key, one bad file per kind of error (asserting the exact
 * message), CPU lists, and files of 1,000 and 16,000 servers whose load
 * times must scale linearly.
 * Fixtures live in RF_CONFIG_DATA; the tests chdir there so messages
 * carry the short relative file names they were given.
 */
#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "config/config.h"
#include "config/cfg_file.h"

#include <netinet/in.h>

#ifndef RF_CONFIG_DATA
#error "RF_CONFIG_DATA must name the fixture directory"
#endif

static struct cfg cfg;
static char err[CFG_ERR_MAX];

static int load(const char *path)
{
	return cfg_load(path, &cfg, err, sizeof(err));
}

static int teardown(void **state)
{
	(void)state;
	cfg_free(&cfg);
	return 0;
}

static const struct cfg_server *server(const char *name)
{
	int i = cfg_find_server(&cfg, name);

	assert_true(i >= 0);
	return &cfg.servers[i];
}

/* CPU time of this process: what the loader costs, not how long a loaded
 * machine kept the test waiting for a core. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes text into a new temporary file; returns its path (static). */
static const char *temp_file(FILE **out)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/rf-test-config-XXXXXX");
	fd = mkostemp(path, O_CLOEXEC);
	assert_true(fd >= 0);
	*out = fdopen(fd, "w");
	assert_non_null(*out);
	return path;
}

/* Loads text from a temporary file; its path (for messages) is left in
 * *path until the next call. */
static int load_text(const char *text, const char **path)
{
	FILE *f;
	int ret;

	*path = temp_file(&f);
	fputs(text, f);
	fclose(f);
	ret = load(*path);
	unlink(*path);
	return ret;
}

/* load_text() must fail with "PATH:LINE: " + msg. */
static void assert_text_fails(const char *text, int line, const char *msg)
{
	const char *path;
	char want[CFG_ERR_MAX];

	if (load_text(text, &path) != -EINVAL)
		fail_msg("accepted: %s", text);
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
	assert_string_equal(err, want);
	cfg_free(&cfg);
}

/* ---- good files ---- */

static void test_demo_example(void **state)
{
	const struct cfg_server *s;

	(void)state;
	assert_int_equal(load(RF_CONFIG_EXAMPLES "/demo.ini"), 0);
	assert_string_equal(err, "");
	assert_string_equal(cfg.sup.control_socket, "/run/ringfleet-demo/control.sock");
	assert_int_equal(cfg.n_servers, 4);
	assert_string_equal(cfg.servers[0].name, "demo-1");
	assert_int_equal(cfg.servers[0].port, 27001);
	assert_string_equal(cfg.servers[1].name, "demo-2");
	assert_int_equal(cfg.servers[1].port, 27002);
	assert_string_equal(cfg.servers[2].name, "demo-pool-27010");
	assert_string_equal(cfg.servers[3].name, "demo-pool-27011");
	assert_int_equal(cfg.servers[3].port, 27011);
	for (size_t i = 0; i < cfg.n_servers; i++) {
		s = &cfg.servers[i];
		assert_string_equal(s->bind, "127.0.0.1");
		assert_string_equal(s->user, "");
	}
	assert_string_equal(cfg.servers[2].pool, "demo-pool");
}

static void test_ringfleet_example(void **state)
{
	const struct cfg_server *s;

	(void)state;
	assert_int_equal(load(RF_CONFIG_EXAMPLES "/ringfleet.ini"), 0);
	assert_string_equal(cfg.sup.control_socket, "/run/ringfleet/control.sock");
	assert_false(cfg.sup.cpus_set);
	assert_int_equal(cfg.sup.placement, CFG_PLACE_BALANCE);
	assert_int_equal(cfg.sup.max_per_cpu, 64);
	assert_string_equal(cfg.sup.metrics_listen, "");
	assert_int_equal(cfg.sup.log_level, RF_LOG_INFO);
	assert_int_equal(cfg.n_servers, 2 + 40);
	s = server("eu-1");
	assert_int_equal(s->port, 7001);
	assert_int_equal(s->cpu, -1);
	assert_int_equal(s->tick_hz, 50);
	assert_string_equal(s->user, "ringfleet");
	assert_int_equal(server("eu-2")->max_clients, 32);
	s = server("lobby-7139");
	assert_int_equal(s->port, 7139);
	assert_int_equal(s->tick_hz, 30);
	assert_int_equal(s->cpu, -1);
	assert_string_equal(s->pool, "lobby");
	assert_int_equal(cfg_find_server(&cfg, "lobby-7140"), -1);
}

static void test_every_key(void **state)
{
	const struct cfg_supervisor *sup = &cfg.sup;
	const struct cfg_server *s;

	(void)state;
	assert_int_equal(load("good_full.ini"), 0);
	assert_string_equal(cfg.path, "good_full.ini");
	assert_string_equal(sup->control_socket, "/tmp/rf-test/control.sock");
	assert_string_equal(sup->control_group, "games");
	assert_int_equal(sup->control_mode, 0640);
	assert_true(sup->cpus_set);
	assert_int_equal(CPU_COUNT(&sup->cpus), 1);
	assert_true(CPU_ISSET(0, &sup->cpus));
	assert_int_equal(sup->placement, CFG_PLACE_PACK);
	assert_int_equal(sup->max_per_cpu, 128);
	assert_string_equal(sup->metrics_listen, "[::1]:9750");
	assert_int_equal(sup->hang_timeout_ms, 3000);
	assert_int_equal(sup->stop_timeout_ms, 7000);
	assert_int_equal(sup->restart_delay_ms, 200);
	assert_int_equal(sup->restart_delay_max_ms, 60000);
	assert_int_equal(sup->stable_after_s, 30);
	assert_int_equal(sup->crash_limit, 10);
	assert_int_equal(sup->crash_window_s, 120);
	assert_int_equal(sup->log_level, RF_LOG_DEBUG);
	assert_int_equal(sup->orphan_timeout_s, 60);

	assert_int_equal(cfg.n_servers, 5);
	/* [defaults] is at the end of the file and still applies. */
	s = &cfg.servers[0];
	assert_string_equal(s->name, "eu-1");
	assert_string_equal(s->pool, "");
	assert_int_equal(s->line, 20);
	assert_int_equal(s->port, 7001);
	assert_int_equal(s->cpu, 0);
	assert_int_equal(s->tick_hz, 60);
	assert_string_equal(s->bind, "10.0.0.1");
	assert_int_equal(s->max_clients, 100);
	assert_int_equal(s->client_timeout_s, 30);
	assert_int_equal(s->max_packet, 1200);
	assert_int_equal(s->max_packets_per_tick, 32);
	assert_int_equal(s->recv_buffers, 2048);
	assert_int_equal(s->socket_rcvbuf, 8u << 20);
	assert_int_equal(s->backend, RF_BACKEND_IO_URING);
	assert_int_equal(s->admission, RF_ADMISSION_OPEN);
	assert_int_equal(s->max_clients_per_ip, 0);
	assert_string_equal(s->user, "ringfleet");
	assert_string_equal(s->group, "ringfleet");

	for (int i = 1; i <= 3; i++) {
		s = &cfg.servers[i];
		assert_int_equal(s->port, 7100 + i - 1);
		assert_string_equal(s->pool, "lobby");
		assert_string_equal(s->bind, "::");
		assert_int_equal(s->max_clients, 16);
		assert_int_equal(s->tick_hz, 20);
		assert_int_equal(s->cpu, -1);
		assert_int_equal(s->line, 25);
	}
	assert_string_equal(cfg.servers[1].name, "lobby-7100");
	assert_string_equal(cfg.servers[3].name, "lobby-7102");

	s = server("local");
	assert_string_equal(s->bind, "127.0.0.1");
	assert_int_equal(s->socket_rcvbuf, 512u << 10);
	assert_int_equal(s->backend, RF_BACKEND_MMSG);
	assert_string_equal(s->user, "nobody");
	assert_string_equal(s->group, "nogroup");
	assert_int_equal(s->max_packet, 1200);
}

static void test_builtin_defaults(void **state)
{
	struct cfg_server d;
	const struct cfg_supervisor *sup = &cfg.sup;
	const struct cfg_server *s;

	(void)state;
	assert_int_equal(load("good_binds.ini"), 0);
	s = server("a");
	cfg_server_init(&d);
	assert_string_equal(d.bind, "0.0.0.0");
	assert_int_equal(d.cpu, -1);
	assert_int_equal(s->tick_hz, 50);
	assert_int_equal(s->max_clients, 64);
	assert_int_equal(s->client_timeout_s, 10);
	assert_int_equal(s->max_packet, 1400);
	assert_int_equal(s->max_packets_per_tick, 64);
	assert_int_equal(s->recv_buffers, 1024);
	assert_int_equal(s->socket_rcvbuf, 4u << 20);
	assert_int_equal(s->backend, RF_BACKEND_AUTO);
	assert_int_equal(s->admission, RF_ADMISSION_COOKIE);
	assert_int_equal(s->max_clients_per_ip, 4);
	assert_int_equal(s->session_idle_s, 60);
	assert_string_equal(s->user, "");
	assert_string_equal(s->group, "");
	assert_int_equal(s->cpu, -1);
	/* a is the defaults plus its own bind, port, name and line */
	strcpy(d.name, "a");
	strcpy(d.bind, "127.0.0.1");
	d.port = 7001;
	assert_true(cfg_server_equal(&d, s));

	assert_string_equal(sup->control_socket, CFG_DEFAULT_CONTROL_SOCKET);
	assert_string_equal(sup->control_group, "");
	assert_int_equal(sup->control_mode, 0660);
	assert_false(sup->cpus_set);
	assert_int_equal(sup->placement, CFG_PLACE_BALANCE);
	assert_int_equal(sup->max_per_cpu, 64);
	assert_string_equal(sup->metrics_listen, "");
	assert_int_equal(sup->hang_timeout_ms, 2000);
	assert_int_equal(sup->stop_timeout_ms, 5000);
	assert_int_equal(sup->restart_delay_ms, 100);
	assert_int_equal(sup->restart_delay_max_ms, 30000);
	assert_int_equal(sup->stable_after_s, 10);
	assert_int_equal(sup->crash_limit, 5);
	assert_int_equal(sup->crash_window_s, 60);
	assert_int_equal(sup->log_level, RF_LOG_INFO);
	assert_int_equal(sup->orphan_timeout_s, 300);
	assert_int_equal(cfg.n_servers, 4);
}

static void test_empty_is_valid(void **state)
{
	(void)state;
	assert_int_equal(load("empty.ini"), 0);
	assert_int_equal(cfg.n_servers, 0);
	assert_null(cfg.servers);
	assert_int_equal(cfg_find_server(&cfg, "x"), -1);
}

static void test_bom_crlf(void **state)
{
	(void)state;
	assert_int_equal(load("good_bom_crlf.ini"), 0);
	assert_int_equal(cfg.n_servers, 1);
	assert_string_equal(cfg.servers[0].name, "crlf");
	assert_string_equal(cfg.servers[0].bind, "::"); /* canonical form */
}

static void test_server_equal(void **state)
{
	struct cfg_server a, b;

	(void)state;
	cfg_server_init(&a);
	strcpy(a.name, "x");
	a.port = 1;
	b = a;
	b.line = 99;
	strcpy(b.pool, "p");
	assert_true(cfg_server_equal(&a, &b));
	b = a;
	b.tick_hz++;
	assert_false(cfg_server_equal(&a, &b));
	b = a;
	b.cpu = 3;
	assert_false(cfg_server_equal(&a, &b));
	b = a;
	strcpy(b.user, "u");
	assert_false(cfg_server_equal(&a, &b));
	b = a;
	b.socket_rcvbuf *= 2;
	assert_false(cfg_server_equal(&a, &b));
	b = a;
	strcpy(b.name, "y");
	assert_false(cfg_server_equal(&a, &b));
	/* Both admission keys reach the worker's argv: a change restarts it. */
	b = a;
	b.admission = RF_ADMISSION_OPEN;
	assert_false(cfg_server_equal(&a, &b));
	b = a;
	b.max_clients_per_ip = 0;
	assert_false(cfg_server_equal(&a, &b));
}

static void test_find_server_hand_built(void **state)
{
	struct cfg_server s[2];
	struct cfg c = { .servers = s, .n_servers = 2 };

	(void)state;
	cfg_server_init(&s[0]);
	cfg_server_init(&s[1]);
	strcpy(s[0].name, "one");
	strcpy(s[1].name, "two");
	assert_int_equal(cfg_find_server(&c, "two"), 1);
	assert_int_equal(cfg_find_server(&c, "three"), -1);
}

/* The shipped example says "the value shown is the default": every key
 * it sets must load to the built-in default, except user, which the
 * package sets on purpose. */
static void test_ringfleet_example_shows_defaults(void **state)
{
	struct cfg_supervisor want;
	struct cfg_server d;
	const struct cfg_server *s;

	(void)state;
	assert_int_equal(load(RF_CONFIG_EXAMPLES "/ringfleet.ini"), 0);
	cfg_supervisor_init(&want);
	assert_string_equal(cfg.sup.control_socket, want.control_socket);
	assert_string_equal(cfg.sup.control_group, want.control_group);
	assert_int_equal(cfg.sup.control_mode, want.control_mode);
	assert_int_equal(cfg.sup.placement, want.placement);
	assert_int_equal(cfg.sup.max_per_cpu, want.max_per_cpu);
	assert_int_equal(cfg.sup.hang_timeout_ms, want.hang_timeout_ms);
	assert_int_equal(cfg.sup.stop_timeout_ms, want.stop_timeout_ms);
	assert_int_equal(cfg.sup.restart_delay_ms, want.restart_delay_ms);
	assert_int_equal(cfg.sup.restart_delay_max_ms, want.restart_delay_max_ms);
	assert_int_equal(cfg.sup.stable_after_s, want.stable_after_s);
	assert_int_equal(cfg.sup.crash_limit, want.crash_limit);
	assert_int_equal(cfg.sup.crash_window_s, want.crash_window_s);
	assert_int_equal(cfg.sup.log_level, want.log_level);
	assert_int_equal(cfg.sup.orphan_timeout_s, want.orphan_timeout_s);
	assert_memory_equal(&cfg.sup, &want, sizeof(want)); /* and nothing else */

	s = server("eu-1");
	cfg_server_init(&d);
	strcpy(d.name, "eu-1");
	d.port = 7001;
	strcpy(d.user, "ringfleet");
	assert_true(cfg_server_equal(&d, s));
}

static void test_control_mode(void **state)
{
	static const char *const bad[] = {
		"0400",  "0200",
		"0060",  "999",
		"0680",  "rw",
		"0660x", "+0660",
		"-0660", "01660",
		"04770", "0x1b0",
		"",      "01234567012345670123456701234567660",
	};
	char text[64], msg[128];
	const char *path;

	(void)state;
	assert_int_equal(load_text("[supervisor]\ncontrol_mode = 0600\n", &path), 0);
	assert_int_equal(cfg.sup.control_mode, 0600);
	cfg_free(&cfg);
	assert_int_equal(load_text("[supervisor]\ncontrol_mode = 000666\n", &path), 0);
	assert_int_equal(cfg.sup.control_mode, 0666);
	cfg_free(&cfg);
	assert_int_equal(load_text("[supervisor]\ncontrol_mode = 0777\n", &path), 0);
	assert_int_equal(cfg.sup.control_mode, 0777);
	cfg_free(&cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[supervisor]\ncontrol_mode = %s\n", bad[i]);
		snprintf(msg, sizeof(msg),
			 "control_mode: expected an octal mode 0600..0777 like 0660, got \"%s\"",
			 bad[i]);
		assert_text_fails(text, 2, msg);
	}
	assert_text_fails("[supervisor]\ncontrol_mode = 0660\ncontrol_mode = 0666\n", 3,
			  "control_mode: duplicate key in [supervisor], first set on line 2");
}

/* admission and max_clients_per_ip: values, ranges, and token refused by
 * name (it is planned, not built). */
static void test_admission_keys(void **state)
{
	const char *path;

	(void)state;
	assert_int_equal(load_text("[defaults]\nadmission = open\n[server a]\nport = 7001\n"
				   "max_clients_per_ip = 4096\n[server b]\nport = 7002\n"
				   "admission = cookie\nmax_clients_per_ip = 0\n",
				   &path),
			 0);
	assert_int_equal(server("a")->admission, RF_ADMISSION_OPEN);
	assert_int_equal(server("a")->max_clients_per_ip, 4096);
	assert_int_equal(server("b")->admission, RF_ADMISSION_COOKIE);
	assert_int_equal(server("b")->max_clients_per_ip, 0);
	cfg_free(&cfg);
	/* token needs the host key: refused on the admission line. */
	assert_text_fails("[server a]\nport = 7001\nadmission = token\n", 3,
			  "admission: token needs token_key_file in [supervisor]");
	assert_text_fails("[defaults]\nadmission = token\n[server a]\nport = 7001\n", 2,
			  "admission: token needs token_key_file in [supervisor]");
	assert_int_equal(load_text("[server a]\nport = 7001\nadmission = token\n"
				   "[supervisor]\ntoken_key_file = /etc/ringfleet/token.key\n"
				   "token_ttl_s = 30\n",
				   &path),
			 0);
	assert_int_equal(server("a")->admission, RF_ADMISSION_TOKEN);
	assert_string_equal(cfg.sup.token_key_file, "/etc/ringfleet/token.key");
	assert_int_equal(cfg.sup.token_ttl_s, 30);
	cfg_free(&cfg);
	assert_text_fails(
		"[supervisor]\ntoken_key_file = token.key\n", 2,
		"token_key_file: expected an absolute path of 1..255 bytes, got \"token.key\"");
	assert_text_fails("[supervisor]\ntoken_ttl_s = 0\n", 2,
			  "token_ttl_s: expected 1..86400, got \"0\"");
	assert_text_fails("[defaults]\nadmission = Cookie\n", 2,
			  "admission: expected cookie, open or token, got \"Cookie\"");
	assert_text_fails("[defaults]\nadmission =\n", 2,
			  "admission: expected cookie, open or token, got \"\"");
	assert_text_fails("[defaults]\nmax_clients_per_ip = 4097\n", 2,
			  "max_clients_per_ip: expected 0..4096, got \"4097\"");
	assert_text_fails("[defaults]\nmax_clients_per_ip = -1\n", 2,
			  "max_clients_per_ip: expected 0..4096, got \"-1\"");
}

static void test_crash_limit_range(void **state)
{
	const char *path;

	(void)state;
	assert_int_equal(load_text("[supervisor]\ncrash_limit = 60\n", &path), 0);
	assert_int_equal(cfg.sup.crash_limit, 60);
	cfg_free(&cfg);
	assert_int_equal(load_text("[supervisor]\ncrash_limit = 1\n", &path), 0);
	assert_int_equal(cfg.sup.crash_limit, 1);
	cfg_free(&cfg);
	assert_text_fails("[supervisor]\ncrash_limit = 61\n", 2,
			  "crash_limit: expected 1..60, got \"61\"");
	assert_text_fails("[supervisor]\ncrash_limit = 0\n", 2,
			  "crash_limit: expected 1..60, got \"0\"");
}

/* orphan_timeout_s: 0 (never) is allowed, a day at most. */
static void test_orphan_timeout_range(void **state)
{
	const char *path;

	(void)state;
	assert_int_equal(load_text("[supervisor]\norphan_timeout_s = 0\n", &path), 0);
	assert_int_equal(cfg.sup.orphan_timeout_s, 0);
	cfg_free(&cfg);
	assert_int_equal(load_text("[supervisor]\norphan_timeout_s = 86400\n", &path), 0);
	assert_int_equal(cfg.sup.orphan_timeout_s, 86400);
	cfg_free(&cfg);
	assert_int_equal(load_text("[supervisor]\n", &path), 0);
	assert_int_equal(cfg.sup.orphan_timeout_s, 300);
	cfg_free(&cfg);
	assert_text_fails("[supervisor]\norphan_timeout_s = 86401\n", 2,
			  "orphan_timeout_s: expected 0..86400, got \"86401\"");
	assert_text_fails("[supervisor]\norphan_timeout_s = -1\n", 2,
			  "orphan_timeout_s: expected 0..86400, got \"-1\"");
	assert_text_fails("[supervisor]\norphan_timeout_s = 5m\n", 2,
			  "orphan_timeout_s: expected 0..86400, got \"5m\"");
	/* A server section cannot set it: the supervisor owns the beat. */
	assert_text_fails("[server a]\nport = 7001\norphan_timeout_s = 3\n", 3,
			  "orphan_timeout_s: unknown key in [server a]");
}

/* The supervisor SIGKILLs at stop_timeout_ms, so a drain must end first;
 * the error names both keys, at the line of whichever was written. */
static void test_drain_below_stop(void **state)
{
	const char *path;

	(void)state;
	assert_int_equal(load_text("[supervisor]\nstop_timeout_ms = 3000\n[defaults]\n"
				   "drain_timeout_ms = 2999\n[server a]\nport = 7001\n",
				   &path),
			 0);
	assert_int_equal(server("a")->drain_timeout_ms, 2999);
	cfg_free(&cfg);
	assert_text_fails(
		"[server a]\nport = 7001\ndrain_timeout_ms = 5000\n", 3,
		"drain_timeout_ms: expected less than stop_timeout_ms (5000), got \"5000\"");
	assert_text_fails("[server a]\nport = 7001\n[supervisor]\nstop_timeout_ms = 1000\n", 4,
			  "stop_timeout_ms: expected more than drain_timeout_ms (1000 by default), "
			  "got \"1000\"");
}

/* session_idle_s: 1..86400 s, from [defaults] or the server. */
static void test_session_idle(void **state)
{
	const char *path;

	(void)state;
	assert_int_equal(load_text("[defaults]\nsession_idle_s = 86400\n[server a]\nport = 7001\n"
				   "[server b]\nport = 7002\nsession_idle_s = 1\n",
				   &path),
			 0);
	assert_int_equal(server("a")->session_idle_s, 86400);
	assert_int_equal(server("b")->session_idle_s, 1);
	cfg_free(&cfg);
	assert_text_fails("[server a]\nport = 7001\nsession_idle_s = 0\n", 3,
			  "session_idle_s: expected 1..86400, got \"0\"");
	assert_text_fails("[server a]\nport = 7001\nsession_idle_s = 86401\n", 3,
			  "session_idle_s: expected 1..86400, got \"86401\"");
}

/* Syntax only here (plain cfg_load); the file checks: test_modpath.c. */
static void test_game_keys(void **state)
{
	const char *path;

	(void)state;
	assert_int_equal(load_text("[defaults]\ngame = /opt/g/arena.so\ngame_args = mode=ffa x\n"
				   "[server a]\nport = 7001\n[server b]\nport = 7002\n"
				   "game = relay\n",
				   &path),
			 0);
	assert_string_equal(server("a")->game, "/opt/g/arena.so");
	assert_string_equal(server("a")->game_args, "mode=ffa x");
	assert_string_equal(server("b")->game, "relay");
	cfg_free(&cfg);
	assert_text_fails("[defaults]\ngame = arena.so\n", 2,
			  "game: expected relay, or an absolute path to a game module, got "
			  "\"arena.so\"");
	assert_text_fails("[defaults]\ngame = /a\tb.so\n", 2,
			  "game: expected a path without control characters, got \"/a\tb.so\"");
}

/* ---- bad files: one per kind of error ---- */

struct bad_case {
	const char *file;
	int ret;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	{ "bad_int.ini", -EINVAL, "bad_int.ini:3: tick_hz: expected 1..1000, got \"fast\"" },
	{ "bad_range.ini", -EINVAL,
	  "bad_range.ini:2: max_clients: expected 1..4096, got \"5000\"" },
	{ "bad_empty_value.ini", -EINVAL,
	  "bad_empty_value.ini:2: port: expected 1..65535, got \"\"" },
	{ "bad_enum.ini", -EINVAL,
	  "bad_enum.ini:3: backend: expected auto, io_uring or mmsg, got \"uring\"" },
	{ "bad_placement.ini", -EINVAL,
	  "bad_placement.ini:2: placement: expected balance or pack, got \"spread\"" },
	{ "bad_log_level.ini", -EINVAL,
	  "bad_log_level.ini:2: log_level: expected err, warning, notice, info or debug, got \"verbose\"" },
	{ "bad_pow2.ini", -EINVAL,
	  "bad_pow2.ini:2: recv_buffers: expected a power of two 16..32768, got \"1000\"" },
	{ "bad_rcvbuf.ini", -EINVAL,
	  "bad_rcvbuf.ini:2: socket_rcvbuf: expected 4K..1G (bytes, or with a K, M or G suffix), got \"2K\"" },
	{ "bad_unknown_key.ini", -EINVAL,
	  "bad_unknown_key.ini:3: tck_hz: unknown key in [server a]" },
	{ "bad_unknown_sup_key.ini", -EINVAL,
	  "bad_unknown_sup_key.ini:2: tick_hz: unknown key in [supervisor]" },
	{ "bad_key_section.ini", -EINVAL,
	  "bad_key_section.ini:2: cpu: not allowed in [defaults], only in [server NAME]" },
	{ "bad_ports_in_server.ini", -EINVAL,
	  "bad_ports_in_server.ini:2: ports: not allowed in [server a], only in [pool NAME]" },
	{ "bad_unknown_section.ini", -EINVAL,
	  "bad_unknown_section.ini:3: [servr a]: unknown section, expected [supervisor], [defaults], [server NAME] or [pool NAME]" },
	{ "bad_section_noname.ini", -EINVAL,
	  "bad_section_noname.ini:1: [server]: expected a name, as in [server NAME]" },
	{ "bad_singleton_name.ini", -EINVAL,
	  "bad_singleton_name.ini:1: [defaults x]: expected [defaults] without a name" },
	{ "bad_dup_key.ini", -EINVAL,
	  "bad_dup_key.ini:4: port: duplicate key in [server a], first set on line 2" },
	{ "bad_dup_server_name.ini", -EINVAL,
	  "bad_dup_server_name.ini:5: [pool lobby]: server name \"lobby-7101\" already used by [server lobby-7101] on line 1" },
	{ "bad_dup_section.ini", -EINVAL,
	  "bad_dup_section.ini:7: [server a]: duplicate section, first on line 1" },
	{ "bad_dup_defaults.ini", -EINVAL,
	  "bad_dup_defaults.ini:4: [defaults]: duplicate section, first on line 1" },
	{ "bad_port_collision.ini", -EINVAL,
	  "bad_port_collision.ini:5: port: server \"p-7001\" on 0.0.0.0 port 7001 collides with server \"a\" on 127.0.0.1 from line 1" },
	{ "bad_port_same_bind.ini", -EINVAL,
	  "bad_port_same_bind.ini:8: port: server \"c\" on 10.1.2.3 port 7001 collides with server \"a\" on 10.1.2.3 from line 3" },
	{ "bad_bind.ini", -EINVAL,
	  "bad_bind.ini:3: bind: expected a numeric IPv4 or IPv6 address, got \"localhost\"" },
	{ "bad_cpus_syntax.ini", -EINVAL,
	  "bad_cpus_syntax.ini:2: cpus: expected a CPU list like 0-3,6, got \"0-3,\"" },
	{ "bad_pool_reversed.ini", -EINVAL,
	  "bad_pool_reversed.ini:2: ports: expected A-B with A <= B, got \"7200-7100\"" },
	{ "bad_pool_too_big.ini", -EINVAL,
	  "bad_pool_too_big.ini:2: ports: expected at most 4096 ports, got \"10000-14096\"" },
	{ "bad_name.ini", -EINVAL,
	  "bad_name.ini:1: [server b@d]: expected a name of 1..63 characters [A-Za-z0-9._-], got \"b@d\"" },
	{ "bad_name_long.ini", -EINVAL,
	  "bad_name_long.ini:1: [server a234567890123456789012345678901234567890123456789012345678901234]: "
	  "expected a name of 1..63 characters [A-Za-z0-9._-], got \"a234567890123456789012345678901234567890123456789012345678901234\"" },
	{ "bad_pool_name_long.ini", -EINVAL,
	  "bad_pool_name_long.ini:1: [pool a2345678901234567890123456789012345678901234567890123456789]: "
	  "expected a shorter name, \"a2345678901234567890123456789012345678901234567890123456789-7100\" is over 63 characters" },
	{ "bad_missing_port.ini", -EINVAL,
	  "bad_missing_port.ini:5: port: missing in [server b], expected 1..65535" },
	{ "bad_missing_ports.ini", -EINVAL,
	  "bad_missing_ports.ini:1: ports: missing in [pool empty], expected A-B like 7100-7139" },
	{ "bad_syntax.ini", -EINVAL,
	  "bad_syntax.ini:3: expected [SECTION] or KEY = VALUE, got \"hello world\"" },
	{ "bad_header_syntax.ini", -EINVAL,
	  "bad_header_syntax.ini:1: expected [SECTION] or KEY = VALUE, got \"[server a\"" },
	{ "bad_key_outside.ini", -EINVAL,
	  "bad_key_outside.ini:1: port: key outside any section, expected a [section] line before it" },
	{ "bad_socket_long.ini", -EINVAL,
	  "bad_socket_long.ini:2: control_socket: expected a socket path of 1..107 bytes, got "
	  "\"/run/ringfleet/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\"" },
	{ "bad_backoff.ini", -EINVAL,
	  "bad_backoff.ini:3: restart_delay_max_ms: expected at least restart_delay_ms (100), got \"50\"" },
	{ "bad_tick_hang.ini", -EINVAL,
	  "bad_tick_hang.ini:4: tick_hz: expected 20..1000 with hang_timeout_ms = 100, got \"10\"" },
	{ "bad_metrics.ini", -EINVAL,
	  "bad_metrics.ini:2: metrics_listen: expected ADDR:PORT like 127.0.0.1:9750 or [::1]:9750, got \"localhost:9750\"" },
	{ "bad_api_no_token.ini", -EINVAL,
	  "bad_api_no_token.ini:2: api_listen: needs api_token_file, the bearer token clients must send" },
	{ "bad_api_open.ini", -EINVAL,
	  "bad_api_open.ini:3: api_listen: 0.0.0.0:9760 is not a loopback address and the API has no TLS: "
	  "set api_tls_cert and api_tls_key, or api_insecure = yes for plain HTTP there on purpose" },
	{ "bad_api_tls_half.ini", -EINVAL,
	  "bad_api_tls_half.ini:4: api_tls_key: needs api_tls_cert as well" },
	{ "bad_api_path.ini", -EINVAL,
	  "bad_api_path.ini:2: api_token_file: expected an absolute path of at most 255 bytes, got \"api.token\"" },
	{ "bad_user.ini", -EINVAL,
	  "bad_user.ini:2: user: expected a user name of 1..32 characters [A-Za-z0-9._-], got \"-root\"" },
	{ "bad_long_line.ini", -EINVAL,
	  "bad_long_line.ini:2: line too long, expected at most 199 characters besides comments" },
	{ "bad_raw_line.ini", -EINVAL,
	  "bad_raw_line.ini:2: line too long, expected at most 1022 characters" },
	{ "bad_nul.ini", -EINVAL, "bad_nul.ini:2: NUL byte in column 12, expected text" },
	{ "no-such-file.ini", -ENOENT, "no-such-file.ini: No such file or directory" },
	{ ".", -EISDIR, ".: a directory, expected a regular file" },
};

static void test_bad_file(void **state)
{
	const struct bad_case *c = *state;

	assert_int_equal(load(c->file), c->ret);
	assert_string_equal(err, c->msg);
	/* On failure *out is empty and safe to free (twice, even). */
	assert_null(cfg.servers);
	assert_int_equal(cfg.n_servers, 0);
	cfg_free(&cfg);
}

/* Messages that depend on this machine's CPU count. */
static void test_cpu_absent(void **state)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);
	char want[CFG_ERR_MAX], cpus[32];

	(void)state;
	if (n >= 1000)
		skip();
	if (n == 1)
		snprintf(cpus, sizeof(cpus), "0");
	else
		snprintf(cpus, sizeof(cpus), "0-%ld", n - 1);
	assert_int_equal(load("bad_cpus.ini"), -EINVAL);
	snprintf(
		want, sizeof(want),
		"bad_cpus.ini:2: cpus: CPU 1000 does not exist on this machine (CPUs %s), got \"0,1000\"",
		cpus);
	assert_string_equal(err, want);
	assert_int_equal(load("bad_cpu_absent.ini"), -EINVAL);
	snprintf(
		want, sizeof(want),
		"bad_cpu_absent.ini:3: cpu: CPU 1000 does not exist on this machine (CPUs %s), got \"1000\"",
		cpus);
	assert_string_equal(err, want);
}

static void test_cpu_not_in_cpus(void **state)
{
	(void)state;
	if (sysconf(_SC_NPROCESSORS_CONF) < 2)
		skip();
	assert_int_equal(load("bad_cpu_not_in_cpus.ini"), -EINVAL);
	assert_string_equal(
		err, "bad_cpu_not_in_cpus.ini:3: cpu: expected a CPU in cpus (0), got \"1\"");
}

static void test_unreadable(void **state)
{
	FILE *f;
	const char *path = temp_file(&f);
	char want[CFG_ERR_MAX];

	(void)state;
	fclose(f);
	chmod(path, 0);
	if (geteuid() == 0 || access(path, R_OK) == 0) {
		unlink(path);
		skip(); /* root reads anything */
	}
	assert_int_equal(load(path), -EACCES);
	snprintf(want, sizeof(want), "%s: Permission denied", path);
	assert_string_equal(err, want);
	unlink(path);
}

static void test_no_err_buffer(void **state)
{
	(void)state;
	assert_int_equal(cfg_load("bad_int.ini", &cfg, NULL, 0), -EINVAL);
	assert_int_equal(cfg_load("no-such-file.ini", &cfg, NULL, 0), -ENOENT);
}

static void test_too_many_servers(void **state)
{
	FILE *f;
	const char *path = temp_file(&f);
	char want[CFG_ERR_MAX];

	(void)state;
	/* 4 pools of 4096 = 16384 = CFG_MAX_SERVERS, then one more server. */
	for (int i = 0; i < 4; i++)
		fprintf(f, "[pool p%d]\nports = %d-%d\n", i, 1000 + i * 4096,
			1000 + i * 4096 + 4095);
	fprintf(f, "[server one-too-many]\nport = 60000\n");
	fclose(f);
	assert_int_equal(load(path), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:9: [server one-too-many]: too many servers, expected at most 16384 in total",
		 path);
	assert_string_equal(err, want);
	unlink(path);
}

static void test_max_servers_ok(void **state)
{
	FILE *f;
	const char *path = temp_file(&f);

	(void)state;
	for (int i = 0; i < 4; i++)
		fprintf(f, "[pool p%d]\nports = %d-%d\n", i, 1000 + i * 4096,
			1000 + i * 4096 + 4095);
	fclose(f);
	assert_int_equal(load(path), 0);
	assert_int_equal(cfg.n_servers, CFG_MAX_SERVERS);
	assert_int_equal(cfg_find_server(&cfg, "p3-17383"), CFG_MAX_SERVERS - 1);
	unlink(path);
}

/* ---- scaling: linear in servers, not quadratic ---- */

/* A loader linear in servers costs ~16x as much for 16x the servers; one
 * quadratic in names or ports ~256x. Comparing two sizes, not one size
 * with a fixed bound, holds on a loaded machine and under sanitizers,
 * which slow both sizes alike. A spread of 16, not 4: the loader's linear
 * work (parsing) is large, and at 4x a linear name lookup stayed under
 * the bound in the ASan build. A quadratic of cheap integer compares (the
 * port check) shows in the normal build only: ASan slows the parsing far
 * more. The least of a few interleaved runs drops the runs a busy
 * neighbour inflated. */
#define SCALE_SMALL 1000
#define SCALE_BIG 16000 /* CFG_MAX_SERVERS is 16384 */
#define SCALE_RUNS 3
/* Linear measures 15-21 here (the big file outgrows the caches). The
 * mutations tried measured 120-265 in the normal build (a linear lookup
 * by name, a linear duplicate check, a quadratic port check) and 53-105
 * under ASan (the first two; the port check stayed at 30). */
#define SCALE_RATIO_MAX (3.0 * SCALE_BIG / SCALE_SMALL)

/* Writes a file of n servers. */
typedef void scale_write_fn(FILE *f, unsigned n);
/* Loads path, asserts what it must hold for n servers; the work timed. */
typedef void scale_run_fn(const char *path, unsigned n);

/* CPU time of one run over path, the file of n servers. */
static double scale_time(scale_run_fn *run, const char *path, unsigned n)
{
	double t0 = now_s(), dt;

	run(path, n);
	dt = now_s() - t0;
	cfg_free(&cfg);
	return dt;
}

static void assert_linear(const char *what, scale_write_fn *write, scale_run_fn *run)
{
	char small_path[64], big_path[64];
	double small = 0.0, big = 0.0, ratio;
	FILE *f;

	snprintf(small_path, sizeof(small_path), "%s", temp_file(&f));
	write(f, SCALE_SMALL);
	assert_int_equal(fclose(f), 0);
	snprintf(big_path, sizeof(big_path), "%s", temp_file(&f));
	write(f, SCALE_BIG);
	assert_int_equal(fclose(f), 0);
	/* Interleaved, so a busy spell of the machine hits both sizes. */
	for (int k = 0; k < SCALE_RUNS; k++) {
		double ts = scale_time(run, small_path, SCALE_SMALL);
		double tb = scale_time(run, big_path, SCALE_BIG);

		small = k == 0 || ts < small ? ts : small;
		big = k == 0 || tb < big ? tb : big;
	}
	unlink(small_path);
	unlink(big_path);
	ratio = big / (small > 1e-6 ? small : 1e-6);
	print_message("%s: %u servers in %.1f ms, %u in %.1f ms: x%.1f for x%.0f the servers "
		      "(want < %.0f)\n",
		      what, SCALE_SMALL, small * 1e3, SCALE_BIG, big * 1e3, ratio,
		      (double)SCALE_BIG / SCALE_SMALL, SCALE_RATIO_MAX);
	assert_true(ratio < SCALE_RATIO_MAX);
}

/* [server] sections with [defaults] last. */
static void write_servers(FILE *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "[server game-%05u]\nport = %u\n", i, 20000 + i);
	fprintf(f, "[defaults]\ntick_hz = 30\n");
}

static void load_and_find(const char *path, unsigned n)
{
	assert_int_equal(load(path), 0);
	for (unsigned i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "game-%05u", i);
		assert_int_equal(cfg_find_server(&cfg, name), (int)i);
	}
	assert_int_equal(cfg.n_servers, n);
	assert_int_equal(cfg.servers[n - 1].port, 20000 + n - 1);
	assert_int_equal(cfg.servers[n - 1].tick_hz, 30);
}

/* Loading and looking up every server is not quadratic in names or ports. */
static void test_servers_linear(void **state)
{
	(void)state;
	assert_linear("loaded and looked up", write_servers, load_and_find);
}

/* n servers, then one that collides with the first. */
static void write_collision(FILE *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "[server s%u]\nport = %u\n", i, 20000 + i);
	fprintf(f, "[server late]\nport = 20000\n");
}

static void load_collision(const char *path, unsigned n)
{
	char want[CFG_ERR_MAX];

	assert_int_equal(load(path), -EINVAL);
	snprintf(
		want, sizeof(want),
		"%s:%u: port: server \"late\" on 0.0.0.0 port 20000 collides with server \"s0\" on 0.0.0.0 from line 1",
		path, 2 * n + 1);
	assert_string_equal(err, want);
}

/* The last server collides with the first: still found, still linear. */
static void test_collision_linear(void **state)
{
	(void)state;
	assert_linear("collision found", write_collision, load_collision);
}

/* ---- files that are not configuration files ---- */

/* The old reader blocked on a FIFO and never finished /dev/zero: a hang
 * must fail the test, not stall the suite. */
static void arm_hang_alarm(void)
{
	signal(SIGALRM, SIG_DFL);
	alarm(10);
}

static void test_dev_zero(void **state)
{
	(void)state;
	arm_hang_alarm();
	assert_int_equal(load("/dev/zero"), -EINVAL);
	alarm(0);
	assert_string_equal(err, "/dev/zero: a character device, expected a regular file");
}

static void test_fifo(void **state)
{
	char path[64], want[CFG_ERR_MAX];

	(void)state;
	snprintf(path, sizeof(path), "/tmp/rf-test-fifo-%d", (int)getpid());
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	arm_hang_alarm();
	assert_int_equal(load(path), -EINVAL);
	alarm(0);
	unlink(path);
	snprintf(want, sizeof(want), "%s: a FIFO, expected a regular file", path);
	assert_string_equal(err, want);
}

/* A valid file padded with comment lines to exactly size bytes. */
static const char *padded_file(size_t size)
{
	static const char head[] = "[server a]\nport = 7001\n";
	char line[1001];
	size_t n = sizeof(head) - 1;
	FILE *f;
	const char *path = temp_file(&f);

	fputs(head, f);
	memset(line, '#', sizeof(line) - 2);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	for (; n + sizeof(line) - 1 <= size; n += sizeof(line) - 1)
		fputs(line, f);
	for (; n < size; n++)
		fputc('\n', f);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void test_size_limit(void **state)
{
	const char *path = padded_file(CFG_FILE_MAX);
	char want[CFG_ERR_MAX];

	(void)state;
	assert_int_equal(load(path), 0);
	assert_int_equal(cfg.n_servers, 1);
	cfg_free(&cfg);
	unlink(path);
	path = padded_file(CFG_FILE_MAX + 1);
	assert_int_equal(load(path), -EFBIG);
	snprintf(want, sizeof(want), "%s: file too large, expected at most 16 MiB", path);
	assert_string_equal(err, want);
	unlink(path);
}

/* ---- checks against this host (cfg_load_host) ---- */

struct host_case {
	const char *file;
	const char *msg; /* the whole message, or its start if prefix */
	bool prefix;
};

static const struct host_case host_cases[] = {
	{ "host_bind.ini",
	  "host_bind.ini:3: bind: expected an address of this host, got \"192.0.2.1\" "
	  "(Cannot assign requested address)",
	  false },
	{ "host_bind6.ini",
	  "host_bind6.ini:3: bind: expected an address of this host, got \"2001:db8::1\" (",
	  true }, /* the reason differs where IPv6 is off */
	{ "host_user.ini",
	  "host_user.ini:3: user: expected a user that exists on this host, got "
	  "\"rf-no-such-user\"",
	  false },
	{ "host_group.ini",
	  "host_group.ini:4: group: expected a group that exists on this host, got "
	  "\"rf-no-such-group\"",
	  false },
	{ "host_control_group.ini",
	  "host_control_group.ini:2: control_group: expected a group that "
	  "exists on this host, got \"rf-no-such-group\"",
	  false },
	{ "host_metrics.ini",
	  "host_metrics.ini:2: metrics_listen: expected an address of this host, got "
	  "\"192.0.2.1:9750\" (Cannot assign requested address)",
	  false },
};

/* Each file is fine on paper (cfg_load) and wrong for this host. */
static void test_host_checks(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++) {
		const struct host_case *c = &host_cases[i];

		assert_int_equal(load(c->file), 0);
		cfg_free(&cfg);
		assert_int_equal(cfg_load_host(c->file, &cfg, err, sizeof(err)), -EINVAL);
		if (c->prefix)
			assert_true(strncmp(err, c->msg, strlen(c->msg)) == 0);
		else
			assert_string_equal(err, c->msg);
		assert_int_equal(cfg.n_servers, 0);
	}
}

static void test_host_good(void **state)
{
	(void)state;
	assert_int_equal(cfg_load_host("host_good.ini", &cfg, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(cfg.n_servers, 42);
}

/* Ports held by someone else (the running daemon, during --check before a
 * reload) are not the check's business. */
static void test_host_ports_in_use(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned tport, uport;
	const char *path;
	char text[256];
	FILE *f;

	(void)state;
	assert_true(tcp >= 0 && udp >= 0);
	assert_int_equal(bind(tcp, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(tcp, 1), 0);
	assert_int_equal(getsockname(tcp, (struct sockaddr *)&sa, &len), 0);
	tport = ntohs(sa.sin_port);
	sa.sin_port = 0;
	assert_int_equal(bind(udp, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(udp, (struct sockaddr *)&sa, &len), 0);
	uport = ntohs(sa.sin_port);
	snprintf(text, sizeof(text),
		 "[supervisor]\nmetrics_listen = 127.0.0.1:%u\n"
		 "[server a]\nport = %u\nbind = 127.0.0.1\n",
		 tport, uport);
	path = temp_file(&f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(cfg_load_host(path, &cfg, err, sizeof(err)), 0);
	unlink(path);
	close(tcp);
	close(udp);
}

/* The lookups the host checks make, counted by wrapping libc's: these
 * definitions take precedence over libc's (and a sanitizer runtime's)
 * for the loader linked into this program. */
static unsigned n_getpwnam, n_getgrnam, n_socket;

static void *next_symbol(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	assert_non_null(f);
	return f;
}

struct passwd *getpwnam(const char *name)
{
	static struct passwd *(*next)(const char *);

	if (!next)
		next = (struct passwd * (*)(const char *)) next_symbol("getpwnam");
	n_getpwnam++;
	return next(name);
}

struct group *getgrnam(const char *name)
{
	static struct group *(*next)(const char *);

	if (!next)
		next = (struct group * (*)(const char *)) next_symbol("getgrnam");
	n_getgrnam++;
	return next(name);
}

int socket(int domain, int type, int protocol)
{
	static int (*next)(int, int, int);

	if (!next)
		next = (int (*)(int, int, int))next_symbol("socket");
	n_socket++;
	return next(domain, type, protocol);
}

/* 10,000 servers sharing [defaults] cost one lookup of each kind, not
 * 10,000: each check remembers the last value that passed. Counted, not
 * timed: 10,000 lookups of /etc/passwd are linear too, and fast enough
 * to pass any time bound a loaded machine allows. */
static void test_host_10k_cached(void **state)
{
	FILE *f;
	const char *path = temp_file(&f);

	(void)state;
	fprintf(f, "[defaults]\nbind = 127.0.0.1\nuser = root\ngroup = root\n");
	for (int i = 0; i < 10000; i++)
		fprintf(f, "[server game-%05d]\nport = %d\n", i, 20000 + i);
	fclose(f);
	n_getpwnam = n_getgrnam = n_socket = 0;
	assert_int_equal(cfg_load_host(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_servers, 10000);
	print_message("10,000 servers checked against this host: getpwnam x%u, getgrnam x%u, "
		      "socket x%u\n",
		      n_getpwnam, n_getgrnam, n_socket);
	assert_int_equal(n_getpwnam, 1); /* user = root */
	assert_int_equal(n_getgrnam, 1); /* group = root */
	assert_int_equal(n_socket, 1);   /* bind = 127.0.0.1 */
	unlink(path);
}

/* ---- CPU lists ---- */

static void roundtrip(const char *in, const char *canon)
{
	cpu_set_t set;
	char buf[256];

	assert_int_equal(cfg_parse_cpulist(in, &set), 0);
	assert_int_equal(cfg_format_cpulist(&set, buf, sizeof(buf)), 0);
	assert_string_equal(buf, canon);
}

static void test_cpulist_roundtrip(void **state)
{
	cpu_set_t set;

	(void)state;
	roundtrip("0-3,6", "0-3,6");
	roundtrip(" 0 - 3 , 6 ", "0-3,6");
	roundtrip("5", "5");
	roundtrip("3,1,2", "1-3");
	roundtrip("0,2,4", "0,2,4");
	roundtrip("1-1", "1");
	roundtrip("0-1,1-2", "0-2");
	roundtrip("1023", "1023");
	roundtrip("0-1023", "0-1023");
	assert_int_equal(cfg_parse_cpulist("0-3,6", &set), 0);
	assert_int_equal(CPU_COUNT(&set), 5);
	CPU_ZERO(&set);
	{
		char buf[8] = "x";

		assert_int_equal(cfg_format_cpulist(&set, buf, sizeof(buf)), 0);
		assert_string_equal(buf, "");
	}
}

static void test_cpulist_rejects(void **state)
{
	static const char *const bad[] = {
		"",   " ",     ",",    "1,",     ",1",          "1,,2", "3-1", "a",  "1-",
		"-1", "1-2-3", "1024", "0-1024", "99999999999", "1 2",  "0x1", "+1", "1;2",
	};
	cpu_set_t set;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cfg_parse_cpulist(bad[i], &set) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

static void test_cpulist_format_nospace(void **state)
{
	cpu_set_t set;
	char buf[6];

	(void)state;
	assert_int_equal(cfg_parse_cpulist("0-3,6", &set), 0);
	assert_int_equal(cfg_format_cpulist(&set, buf, 5), -ENOSPC);
	assert_int_equal(cfg_format_cpulist(&set, buf, 6), 0);
	assert_string_equal(buf, "0-3,6");
	assert_int_equal(cfg_format_cpulist(&set, buf, 0), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest good[] = {
		cmocka_unit_test_teardown(test_demo_example, teardown),
		cmocka_unit_test_teardown(test_ringfleet_example, teardown),
		cmocka_unit_test_teardown(test_ringfleet_example_shows_defaults, teardown),
		cmocka_unit_test_teardown(test_control_mode, teardown),
		cmocka_unit_test_teardown(test_crash_limit_range, teardown),
		cmocka_unit_test_teardown(test_orphan_timeout_range, teardown),
		cmocka_unit_test_teardown(test_admission_keys, teardown),
		cmocka_unit_test_teardown(test_drain_below_stop, teardown),
		cmocka_unit_test_teardown(test_session_idle, teardown),
		cmocka_unit_test_teardown(test_game_keys, teardown),
		cmocka_unit_test_teardown(test_every_key, teardown),
		cmocka_unit_test_teardown(test_builtin_defaults, teardown),
		cmocka_unit_test_teardown(test_empty_is_valid, teardown),
		cmocka_unit_test_teardown(test_bom_crlf, teardown),
		cmocka_unit_test(test_server_equal),
		cmocka_unit_test(test_find_server_hand_built),
		cmocka_unit_test_teardown(test_cpu_absent, teardown),
		cmocka_unit_test_teardown(test_cpu_not_in_cpus, teardown),
		cmocka_unit_test_teardown(test_unreadable, teardown),
		cmocka_unit_test_teardown(test_no_err_buffer, teardown),
		cmocka_unit_test_teardown(test_too_many_servers, teardown),
		cmocka_unit_test_teardown(test_max_servers_ok, teardown),
		cmocka_unit_test_teardown(test_servers_linear, teardown),
		cmocka_unit_test_teardown(test_collision_linear, teardown),
		cmocka_unit_test_teardown(test_dev_zero, teardown),
		cmocka_unit_test_teardown(test_fifo, teardown),
		cmocka_unit_test_teardown(test_size_limit, teardown),
		cmocka_unit_test_teardown(test_host_checks, teardown),
		cmocka_unit_test_teardown(test_host_good, teardown),
		cmocka_unit_test_teardown(test_host_ports_in_use, teardown),
		cmocka_unit_test_teardown(test_host_10k_cached, teardown),
		cmocka_unit_test(test_cpulist_roundtrip),
		cmocka_unit_test(test_cpulist_rejects),
		cmocka_unit_test(test_cpulist_format_nospace),
	};
	size_t n_bad = sizeof(bad_cases) / sizeof(bad_cases[0]);
	struct CMUnitTest bad[sizeof(bad_cases) / sizeof(bad_cases[0])];
	int failed;

	if (chdir(RF_CONFIG_DATA) < 0) {
		perror(RF_CONFIG_DATA);
		return 1;
	}
	for (size_t i = 0; i < n_bad; i++)
		bad[i] = (struct CMUnitTest){ .name = bad_cases[i].file,
					      .test_func = test_bad_file,
					      .teardown_func = teardown,
					      .initial_state = (void *)&bad_cases[i] };
	failed = cmocka_run_group_tests_name("config", good, NULL, NULL);
	failed += _cmocka_run_group_tests("config_bad_files", bad, n_bad, NULL, NULL);
	return failed ? 1 : 0;
}
