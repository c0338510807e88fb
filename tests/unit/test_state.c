// SPDX-License-Identifier: Apache-2.0
/* test_state.c - the handover state (supervisor/state.h): what a fleet
 * writes is what the next ringfleetd reads back, field for field; another
 * format, a malformed record or an unknown config key is refused with a
 * message naming it; the state file is replaced atomically. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfg_schema.h"
#include "supervisor/daemon.h"
#include "supervisor/state.h"

static struct server *new_server(const char *name, uint16_t port)
{
	struct server *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	cfg_server_init(&s->cfg);
	snprintf(s->cfg.name, sizeof(s->cfg.name), "%s", name);
	snprintf(s->cfg.bind, sizeof(s->cfg.bind), "%s", "127.0.0.1");
	s->cfg.port = port;
	s->udp_fd = 10;
	s->slot_fd = 11;
	s->pidfd = 12;
	s->ready_fd = -1;
	s->worker_udp_fd = 5;
	s->worker_slot_fd = 6;
	return s;
}

static struct daemon *new_daemon(void)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct server *a, *b;

	assert_non_null(d);
	d->fleet.srv = calloc(2, sizeof(struct server *));
	assert_non_null(d->fleet.srv);
	d->fleet.n = 2;
	d->ctl.listen_fd = 4;
	d->started_ns = 123456789;
	d->upgrades = 2;
	d->fleet.sess.draining = true;
	d->fleet.sess.last_id = 77;
	d->fleet.sess.allocations = 70;
	d->fleet.sess.failures[ALLOC_FAIL_NO_MATCH] = 3;
	d->fleet.srv[0] = a = new_server("eu-1", 7000);
	d->fleet.srv[1] = b = new_server("lobby-7100", 7100);
	a->cfg.tick_hz = 30;
	a->cfg.cpu = 1;
	snprintf(a->cfg.labels, sizeof(a->cfg.labels), "%s", "mode=ctf,region=eu");
	snprintf(a->cfg.game_args, sizeof(a->cfg.game_args), "%s", "map=\"dust\" \\ 2");
	a->pid = 4242;
	a->start_time = 987654;
	a->cpu = 1;
	a->phase_ns = 5000000;
	a->fsm.state = FSM_RUNNING;
	a->fsm.restarts = 5;
	a->fsm.ready_ns = 1000;
	a->fsm.consecutive = 1;
	for (int i = 0; i < 70; i++) { /* wraps the ring */
		a->fsm.crashes[a->fsm.crash_head] = 100 + (uint64_t)i;
		a->fsm.crash_head = (a->fsm.crash_head + 1) % FSM_CRASH_HISTORY;
		if (a->fsm.n_crashes < FSM_CRASH_HISTORY)
			a->fsm.n_crashes++;
	}
	snprintf(a->fsm.reason, sizeof(a->fsm.reason), "%s", "ready");
	a->sess.state = SESSION_ALLOCATED;
	a->sess.alloc_id = 77;
	a->sess.since_unix_ns = 1796000000000000000ull;
	snprintf(a->sess.meta.kv[0].key, sizeof(a->sess.meta.kv[0].key), "%s", "match");
	snprintf(a->sess.meta.kv[0].value, sizeof(a->sess.meta.kv[0].value), "%s", "m-1");
	a->sess.meta.n = 1;
	d->fleet.roll.active = true;
	d->fleet.roll.id = 3;
	d->fleet.roll.total = 2;
	d->fleet.roll.n[ROLL_ROLLED] = 1;
	d->fleet.roll.pending = 1;
	snprintf(d->fleet.roll.current, sizeof(d->fleet.roll.current), "%s", "eu-1");
	snprintf(d->fleet.roll.pattern, sizeof(d->fleet.roll.pattern), "%s", "*");
	a->roll.phase = ROLL_RESTARTING;
	a->roll.since_ns = 555;
	a->roll.old_pid = 4000;
	snprintf(b->cfg.pool, sizeof(b->cfg.pool), "%s", "lobby");
	b->fsm.state = FSM_STOPPED;
	b->drained = true;
	b->udp_fd = b->slot_fd = b->pidfd = -1;
	snprintf(b->last_exit, sizeof(b->last_exit), "%s", "killed by SIGKILL");
	b->cpu_ticks_total = 40;
	b->cpu_ticks = 2;
	return d;
}

static void free_daemon(struct daemon *d)
{
	for (size_t i = 0; i < d->fleet.n; i++)
		free(d->fleet.srv[i]);
	free(d->fleet.srv);
	free(d);
}

static void test_roundtrip(void **state)
{
	struct daemon *d = new_daemon();
	struct server *a = d->fleet.srv[0], *b = d->fleet.srv[1];
	char err[512];
	size_t len;
	char *text = state_format(d, 9, &len);
	struct state st;

	(void)state;
	assert_non_null(text);
	assert_int_equal(state_parse(text, len, &st, err, sizeof(err)), 0);
	assert_int_equal(st.format, STATE_FORMAT);
	assert_string_equal(st.version, RF_VERSION);
	assert_int_equal(st.pid, getpid());
	assert_int_equal(st.started_ns, 123456789);
	assert_int_equal(st.upgrades, 2);
	assert_int_equal(st.control_fd, 4);
	assert_int_equal(st.reply_fd, 9);
	assert_true(st.draining);
	assert_int_equal(st.last_id, 77);
	assert_int_equal(st.allocations, 70);
	assert_int_equal(st.failures[ALLOC_FAIL_NO_MATCH], 3);
	assert_int_equal(st.n, 2);
	assert_true(cfg_server_equal(&st.srv[0].cfg, &a->cfg));
	assert_string_equal(st.srv[0].cfg.labels, a->cfg.labels);
	assert_true(cfg_server_equal(&st.srv[1].cfg, &b->cfg));
	assert_string_equal(st.srv[1].cfg.pool, "lobby");
	assert_int_equal(st.srv[0].pid, 4242);
	assert_int_equal(st.srv[0].start_time, 987654);
	assert_int_equal(st.srv[0].udp_fd, 10);
	assert_int_equal(st.srv[0].slot_fd, 11);
	assert_int_equal(st.srv[0].pidfd, 12);
	assert_int_equal(st.srv[0].ready_fd, -1);
	assert_int_equal(st.srv[0].worker_udp_fd, 5);
	assert_int_equal(st.srv[0].worker_slot_fd, 6);
	assert_int_equal(st.srv[0].cpu, 1);
	assert_int_equal(st.srv[0].phase_ns, 5000000);
	assert_int_equal(st.srv[0].fsm.state, FSM_RUNNING);
	assert_int_equal(st.srv[0].fsm.restarts, 5);
	assert_int_equal(st.srv[0].fsm.consecutive, 1);
	assert_int_equal(st.srv[0].fsm.ready_ns, 1000);
	assert_int_equal(st.srv[0].fsm.n_crashes, FSM_CRASH_HISTORY);
	/* The same crash times, whatever the ring's rotation. */
	for (uint32_t i = 0; i < FSM_CRASH_HISTORY; i++) {
		uint32_t k = FSM_CRASH_HISTORY - 1 - i;
		uint64_t want = a->fsm.crashes[(a->fsm.crash_head + k) % FSM_CRASH_HISTORY];
		uint64_t got =
			st.srv[0].fsm.crashes[(st.srv[0].fsm.crash_head + k) % FSM_CRASH_HISTORY];

		assert_int_equal(got, want);
	}
	assert_string_equal(st.srv[0].fsm.reason, "ready");
	assert_int_equal(st.srv[0].sess.state, SESSION_ALLOCATED);
	assert_int_equal(st.srv[0].sess.alloc_id, 77);
	assert_int_equal(st.srv[0].sess.since_unix_ns, 1796000000000000000ull);
	assert_string_equal(kv_get(&st.srv[0].sess.meta, "match"), "m-1");
	assert_int_equal(st.srv[1].fsm.state, FSM_STOPPED);
	assert_true(st.srv[1].drained);
	assert_string_equal(st.srv[1].last_exit, "killed by SIGKILL");
	assert_int_equal(st.srv[1].cpu_ticks_total, 40);
	assert_true(st.roll.active);
	assert_int_equal(st.roll.id, 3);
	assert_int_equal(st.roll.total, 2);
	assert_int_equal(st.roll.n[ROLL_ROLLED], 1);
	assert_int_equal(st.roll.pending, 1);
	assert_string_equal(st.roll.current, "eu-1");
	assert_string_equal(st.roll.pattern, "*");
	assert_int_equal(st.srv[0].roll.phase, ROLL_RESTARTING);
	assert_int_equal(st.srv[0].roll.since_ns, 555);
	assert_int_equal(st.srv[0].roll.old_pid, 4000);
	assert_int_equal(st.srv[1].roll.phase, ROLL_NONE);
	state_free(&st);
	free(text);
	free_daemon(d);
}

static void expect_refused(const char *text, int want, const char *msg)
{
	struct state st;
	char err[512] = "";

	assert_int_equal(state_parse(text, strlen(text), &st, err, sizeof(err)), want);
	if (!strstr(err, msg))
		fail_msg("error \"%s\" does not name \"%s\"", err, msg);
}

static void test_refusals(void **state)
{
	struct daemon *d = new_daemon();
	size_t len;
	char *text = state_format(d, -1, &len), *bad;

	(void)state;
	expect_refused("", -EINVAL, "not JSON");
	expect_refused("[]", -EINVAL, "no format");
	expect_refused("{\"format\":2}", -EPROTO, "state format 2");
	expect_refused("{\"format\":1}", -EINVAL, "\"version\"");
	bad = strdup(text);
	assert_non_null(bad);
	memcpy(strstr(bad, "\"tick_hz\""), "\"tick_hX\"", 9);
	expect_refused(bad, -EINVAL, "tick_hX");
	strcpy(bad, text);
	memcpy(strstr(bad, "\"running\""), "\"runnin?\"", 9);
	expect_refused(bad, -EINVAL, "runnin?");
	strcpy(bad, text);
	memcpy(strstr(bad, "\"tick_hz\":\"30\""), "\"tick_hz\":\"0 \"", 14);
	expect_refused(bad, -EINVAL, "tick_hz");
	free(bad);
	free(text);
	free_daemon(d);
}

static void test_file(void **state)
{
	char dir[] = "/tmp/rf-state-XXXXXX", path[128], *text = NULL;
	size_t len = 0;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(state_file_path("/run/x/ringfleetd.sock", path, sizeof(path)), 0);
	assert_string_equal(path, "/run/x/" STATE_FILE_NAME);
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(state_file_load(path, &text, &len), -ENOENT);
	assert_int_equal(state_file_save(path, "one\n", 4), 0);
	assert_int_equal(state_file_save(path, "two!\n", 5), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(state_file_load(path, &text, &len), 0);
	assert_int_equal(len, 5);
	assert_string_equal(text, "two!\n");
	free(text);
	assert_int_equal(state_file_load(dir, &text, &len), -EINVAL); /* not a file */
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
