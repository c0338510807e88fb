// SPDX-License-Identifier: Apache-2.0
/* test_metrics_render.c - the Prometheus exposition of a hand-built fleet:
 * exact sample lines, one HELP and TYPE per family, cumulative histogram
 * buckets, and text that follows the exposition format line by line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "supervisor/metrics.h"

#define MAX_LINES 4096

struct rendered {
	struct fleet fleet;
	struct server *srv[2];
	char *text;
	size_t len;
	char *lines[MAX_LINES]; /* into a copy of text, split at newlines */
	size_t n;
	char *copy;
};

static const uint64_t hist[RF_TICK_HIST_BUCKETS] = { 100, 200, 0, 5, 0, 0, 0, 0, 0, 0, 2, 1 };

static struct server *new_server(const char *name, enum fsm_state state, pid_t pid)
{
	struct server *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	snprintf(s->cfg.name, sizeof(s->cfg.name), "%s", name);
	s->slot = calloc(1, rf_slot_size(4));
	assert_non_null(s->slot);
	s->slot->max_clients = 4;
	s->fsm.state = state;
	s->pid = pid;
	s->cpu = 0;
	return s;
}

/* eu-1 runs with known counters; lobby-7100 is stopped with stale ones. */
static void build(struct rendered *r)
{
	struct rf_slot_stats *st;

	r->fleet.ticks_per_sec = 100;
	r->srv[0] = new_server("eu-1", FSM_RUNNING, 4242);
	r->srv[1] = new_server("lobby-7100", FSM_STOPPED, 0);
	r->fleet.srv = r->srv;
	r->fleet.n = r->fleet.cap = 2;

	st = &r->srv[0]->slot->stats;
	st->pkts_in = 6000;
	st->pkts_out = 60000;
	st->bytes_in = 6144000;
	st->bytes_out = 61440000;
	st->clients = 10;
	st->ticks = 605;
	st->tick_overruns = 3;
	st->drop_truncated = 1;
	st->drop_max_clients = 2;
	st->drop_no_buffer = 3;
	st->drop_send = 4;
	st->drop_flood = 5;
	st->drop_unadmitted = 6;
	st->adm_challenges = 11;
	st->adm_admitted = 12;
	st->adm_evictions = 13;
	st->adm_refusals = 14;
	st->drop_replies = 15;
	st->tick_ns_sum = 12345678900ull;
	memcpy(st->tick_hist, hist, sizeof(hist));
	r->srv[0]->fsm.restarts = 2;
	r->srv[0]->rss_kb = 2100;
	r->srv[0]->cpu_ticks_total = 150;
	r->srv[0]->cpu_ticks = 50;

	st->drop_output = 21;
	st->sessions_ended = 22;
	/* A game with two good values and one the supervisor must not trust. */
	strcpy(r->srv[0]->slot->game.name, "arena");
	strcpy(r->srv[0]->slot->game.value_name[0], "players");
	r->srv[0]->slot->game.value[0] = 3;
	strcpy(r->srv[0]->slot->game.value_name[1], "Bad name");
	r->srv[0]->slot->game.value[1] = 99;
	strcpy(r->srv[0]->slot->game.value_name[3], "rounds_left");
	r->srv[0]->slot->game.value[3] = -2;

	strcpy(r->srv[1]->slot->game.value_name[0], "stale");
	r->srv[1]->slot->game.value[0] = 5; /* stopped: not shown */
	r->srv[1]->slot->stats.clients = 7; /* left by its last worker */
	r->srv[1]->slot->stats.pkts_in = 9;
	r->srv[1]->rss_kb = 999;
}

static void split(struct rendered *r)
{
	char *save = NULL, *line;

	r->copy = strdup(r->text);
	assert_non_null(r->copy);
	for (line = strtok_r(r->copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		assert_true(r->n < MAX_LINES);
		r->lines[r->n++] = line;
	}
}

static int setup(void **state)
{
	struct rendered *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	build(r);
	r->text = metrics_render(&r->fleet, rf_now_ns() - 5 * RF_NSEC_PER_SEC, &r->len);
	assert_non_null(r->text);
	assert_int_equal(strlen(r->text), r->len);
	split(r);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rendered *r = *state;

	for (int i = 0; i < 2; i++) {
		free(r->srv[i]->slot);
		free(r->srv[i]);
	}
	free(r->text);
	free(r->copy);
	free(r);
	return 0;
}

static bool has_line(const struct rendered *r, const char *want)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->lines[i], want) == 0)
			return true;
	return false;
}

static void expect_line(const struct rendered *r, const char *want)
{
	if (!has_line(r, want))
		fail_msg("missing line: %s\n--- output ---\n%s", want, r->text);
}

/* The value of the one sample line starting with "name{labels} ". */
static double sample(const struct rendered *r, const char *series)
{
	size_t n = strlen(series);

	for (size_t i = 0; i < r->n; i++)
		if (strncmp(r->lines[i], series, n) == 0 && r->lines[i][n] == ' ')
			return strtod(r->lines[i] + n + 1, NULL);
	fail_msg("no sample %s", series);
	return NAN;
}

static void test_counters_and_gauges(void **state)
{
	const struct rendered *r = *state;

	expect_line(r, "ringfleet_server_up{server=\"eu-1\"} 1");
	expect_line(r, "ringfleet_server_up{server=\"lobby-7100\"} 0");
	expect_line(r, "ringfleet_server_packets_received_total{server=\"eu-1\"} 6000");
	expect_line(r, "ringfleet_server_packets_received_total{server=\"lobby-7100\"} 9");
	expect_line(r, "ringfleet_server_packets_sent_total{server=\"eu-1\"} 60000");
	expect_line(r, "ringfleet_server_bytes_received_total{server=\"eu-1\"} 6144000");
	expect_line(r, "ringfleet_server_bytes_sent_total{server=\"eu-1\"} 61440000");
	expect_line(r, "ringfleet_server_clients{server=\"eu-1\"} 10");
	expect_line(r, "ringfleet_server_clients{server=\"lobby-7100\"} 0");
	expect_line(r, "ringfleet_server_restarts_total{server=\"eu-1\"} 2");
	expect_line(r, "ringfleet_server_cpu_seconds_total{server=\"eu-1\"} 2");
	expect_line(r, "ringfleet_server_resident_memory_bytes{server=\"eu-1\"} 2150400");
	expect_line(r, "ringfleet_server_resident_memory_bytes{server=\"lobby-7100\"} 0");
	expect_line(r, "ringfleet_server_ticks_total{server=\"eu-1\"} 605");
	expect_line(r, "ringfleet_server_tick_overruns_total{server=\"eu-1\"} 3");
	expect_line(r, "ringfleet_server_admission_challenges_total{server=\"eu-1\"} 11");
	expect_line(r, "ringfleet_server_admission_admitted_total{server=\"eu-1\"} 12");
	expect_line(r, "ringfleet_server_admission_evictions_total{server=\"eu-1\"} 13");
	expect_line(r, "ringfleet_server_admission_refusals_total{server=\"eu-1\"} 14");
	expect_line(r, "ringfleet_server_admission_replies_dropped_total{server=\"eu-1\"} 15");
	expect_line(r, "ringfleet_server_admission_refusals_total{server=\"lobby-7100\"} 0");
	expect_line(r, "# TYPE ringfleet_server_admission_challenges_total counter");
}

static void test_drops_by_reason(void **state)
{
	const struct rendered *r = *state;
	static const char *const reasons[] = { "truncated", "max_clients", "no_buffer",
					       "send",      "flood",       "unadmitted" };
	char want[160];

	for (int i = 0; i < 6; i++) {
		snprintf(want, sizeof(want),
			 "ringfleet_server_dropped_packets_total{server=\"eu-1\",reason=\"%s\"} %d",
			 reasons[i], i + 1);
		expect_line(r, want);
		snprintf(
			want, sizeof(want),
			"ringfleet_server_dropped_packets_total{server=\"lobby-7100\",reason=\"%s\"} 0",
			reasons[i]);
		expect_line(r, want);
	}
}

static void test_game(void **state)
{
	const struct rendered *r = *state;

	expect_line(r, "ringfleet_game_value{server=\"eu-1\",name=\"players\"} 3");
	expect_line(r, "ringfleet_game_value{server=\"eu-1\",name=\"rounds_left\"} -2");
	assert_null(strstr(r->text, "Bad name"));
	assert_null(strstr(r->text, "stale"));
	expect_line(r, "ringfleet_drop_output_total{server=\"eu-1\"} 21");
	expect_line(r, "ringfleet_sessions_ended_total{server=\"eu-1\"} 22");
	expect_line(r, "ringfleet_drop_output_total{server=\"lobby-7100\"} 0");
	expect_line(r, "# TYPE ringfleet_game_value gauge");
}

/* Label values escaped as the exposition format says, whatever a name
 * holds (config names cannot hold these today). */
static void test_label_escaping(void **state)
{
	struct server *srv = calloc(1, sizeof(*srv));
	struct server *list[1] = { srv };
	struct fleet f = { .ticks_per_sec = 100, .srv = list, .n = 1, .cap = 1 };
	size_t len;
	char *text;

	(void)state;
	assert_non_null(srv);
	strcpy(srv->cfg.name, "a\"b\\c\nd");
	srv->slot = calloc(1, rf_slot_size(1));
	assert_non_null(srv->slot);
	srv->pid = 1;
	srv->fsm.state = FSM_RUNNING;
	strcpy(srv->slot->game.value_name[0], "players");
	srv->slot->game.value[0] = 1;
	text = metrics_render(&f, rf_now_ns(), &len);
	assert_non_null(text);
	assert_non_null(
		strstr(text,
		       "ringfleet_game_value{server=\"a\\\"b\\\\c\\nd\",name=\"players\"} 1\n"));
	free(text);
	free(srv->slot);
	free(srv);
}

static void test_supervisor(void **state)
{
	const struct rendered *r = *state;
	double up = sample(r, "ringfleet_supervisor_uptime_seconds");

	expect_line(r, "ringfleet_servers{state=\"running\"} 1");
	expect_line(r, "ringfleet_servers{state=\"stopped\"} 1");
	expect_line(r, "ringfleet_servers{state=\"fatal\"} 0");
	expect_line(r, "ringfleet_roll_pending 0"); /* no roll under way */
	assert_true(up >= 5.0 && up < 60.0);
}

/* Buckets of one server in order: le bounds rise, counts are cumulative
 * sums of the slot histogram, +Inf equals _count, _sum is in seconds. */
static void check_histogram(const struct rendered *r, const char *server, const uint64_t *h,
			    double sum_s)
{
	const char *fam = "ringfleet_server_tick_duration_seconds";
	char prefix[160], series[160];
	double prev_le = 0;
	uint64_t cum = 0;
	int b = 0;

	snprintf(prefix, sizeof(prefix), "%s_bucket{server=\"%s\",le=\"", fam, server);
	for (size_t i = 0; i < r->n; i++) {
		const char *l = r->lines[i], *le;
		char *end;
		double bound;

		if (strncmp(l, prefix, strlen(prefix)) != 0)
			continue;
		le = l + strlen(prefix);
		assert_true(b < RF_TICK_HIST_BUCKETS);
		cum += h[b];
		if (b == RF_TICK_HIST_BUCKETS - 1) {
			assert_true(strncmp(le, "+Inf\"} ", 7) == 0);
			end = (char *)le + 4;
		} else {
			bound = strtod(le, &end);
			assert_true(bound > prev_le);
			/* bucket b holds ticks shorter than 16 us * 2^b */
			assert_float_equal(bound, 16e-6 * (double)(1u << b), 1e-12);
			prev_le = bound;
		}
		assert_true(strncmp(end, "\"} ", 3) == 0);
		assert_int_equal(strtoull(end + 3, NULL, 10), cum);
		b++;
	}
	assert_int_equal(b, RF_TICK_HIST_BUCKETS);
	snprintf(series, sizeof(series), "%s_count{server=\"%s\"}", fam, server);
	assert_float_equal(sample(r, series), (double)cum, 0);
	snprintf(series, sizeof(series), "%s_sum{server=\"%s\"}", fam, server);
	assert_float_equal(sample(r, series), sum_s, 1e-9);
}

static void test_tick_histogram(void **state)
{
	static const uint64_t zero[RF_TICK_HIST_BUCKETS];
	const struct rendered *r = *state;

	check_histogram(r, "eu-1", hist, 12.3456789);
	check_histogram(r, "lobby-7100", zero, 0);
	expect_line(
		r,
		"ringfleet_server_tick_duration_seconds_bucket{server=\"eu-1\",le=\"+Inf\"} 308");
	expect_line(r, "ringfleet_server_tick_duration_seconds_count{server=\"eu-1\"} 308");
	expect_line(r, "ringfleet_server_tick_duration_seconds_sum{server=\"eu-1\"} 12.345678900");
}

/* One HELP and one TYPE per family, both before its first sample. */
static void test_help_and_type(void **state)
{
	static const char *const families[][2] = {
		{ "ringfleet_server_up", "gauge" },
		{ "ringfleet_server_packets_received_total", "counter" },
		{ "ringfleet_server_packets_sent_total", "counter" },
		{ "ringfleet_server_bytes_received_total", "counter" },
		{ "ringfleet_server_bytes_sent_total", "counter" },
		{ "ringfleet_server_clients", "gauge" },
		{ "ringfleet_server_restarts_total", "counter" },
		{ "ringfleet_server_cpu_seconds_total", "counter" },
		{ "ringfleet_server_resident_memory_bytes", "gauge" },
		{ "ringfleet_server_ticks_total", "counter" },
		{ "ringfleet_server_tick_overruns_total", "counter" },
		{ "ringfleet_server_dropped_packets_total", "counter" },
		{ "ringfleet_game_value", "gauge" },
		{ "ringfleet_drop_output_total", "counter" },
		{ "ringfleet_sessions_ended_total", "counter" },
		{ "ringfleet_server_tick_duration_seconds", "histogram" },
		{ "ringfleet_servers", "gauge" },
		{ "ringfleet_supervisor_uptime_seconds", "gauge" },
	};
	const struct rendered *r = *state;

	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		char help[128], type[128];
		size_t nh = 0, nt = 0, first_help = SIZE_MAX, first_type = SIZE_MAX;

		snprintf(help, sizeof(help), "# HELP %s ", families[f][0]);
		snprintf(type, sizeof(type), "# TYPE %s %s", families[f][0], families[f][1]);
		for (size_t i = 0; i < r->n; i++) {
			if (strncmp(r->lines[i], help, strlen(help)) == 0 && nh++ == 0)
				first_help = i;
			if (strcmp(r->lines[i], type) == 0 && nt++ == 0)
				first_type = i;
		}
		if (nh != 1 || nt != 1)
			fail_msg("%s: %zu HELP and %zu TYPE lines", families[f][0], nh, nt);
		assert_true(first_help + 1 == first_type);
		/* the next line is a sample of this family */
		assert_true(first_type + 1 < r->n);
		assert_true(strncmp(r->lines[first_type + 1], families[f][0],
				    strlen(families[f][0])) == 0);
	}
}

static bool is_value(const char *s)
{
	char *end;

	if (!strcmp(s, "+Inf") || !strcmp(s, "-Inf") || !strcmp(s, "NaN"))
		return true;
	strtod(s, &end);
	return end != s && *end == '\0';
}

/* A sample name belongs to a family declared by an earlier TYPE line; a
 * histogram's samples are its _bucket, _sum and _count, never its bare
 * name. */
static bool declared(const char *name, const char *const *types, size_t ntypes)
{
	for (size_t i = 0; i < ntypes; i++) {
		size_t n = strcspn(types[i], " ");
		bool hist = strcmp(types[i] + n + 1, "histogram") == 0;

		if (strncmp(name, types[i], n) != 0)
			continue;
		if (name[n] == '\0' && !hist)
			return true;
		if (hist && (!strcmp(name + n, "_bucket") || !strcmp(name + n, "_sum") ||
			     !strcmp(name + n, "_count")))
			return true;
	}
	return false;
}

/* Every line is a HELP, a TYPE or `name{label="value",...} value`, every
 * sample's family was declared before it, and no series repeats. */
static void test_exposition_format(void **state)
{
	const struct rendered *r = *state;
	const char *types[64];
	char *series[MAX_LINES];
	size_t ntypes = 0, nseries = 0;
	regex_t sample_re, comment_re;

	assert_int_equal(r->text[r->len - 1], '\n');
	assert_null(strstr(r->text, "\n\n"));
	assert_int_equal(regcomp(&sample_re,
				 "^([a-zA-Z_:][a-zA-Z0-9_:]*)"
				 "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
				 "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\")*\\})? ([^ ]+)$",
				 REG_EXTENDED),
			 0);
	assert_int_equal(
		regcomp(&comment_re,
			"^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+"
			"|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$",
			REG_EXTENDED),
		0);
	for (size_t i = 0; i < r->n; i++) {
		const char *l = r->lines[i];
		regmatch_t m[7];
		char name[128];

		if (l[0] == '#') {
			if (regexec(&comment_re, l, 0, NULL, 0) != 0)
				fail_msg("bad comment line %zu: %s", i, l);
			if (strncmp(l, "# TYPE ", 7) == 0)
				types[ntypes++] = l + 7;
			continue;
		}
		if (regexec(&sample_re, l, 7, m, 0) != 0)
			fail_msg("bad sample line %zu: %s", i, l);
		if (!is_value(l + m[6].rm_so))
			fail_msg("bad value on line %zu: %s", i, l);
		snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), l);
		if (!declared(name, types, ntypes))
			fail_msg("sample of an undeclared family on line %zu: %s", i, l);
		for (size_t j = 0; j < nseries; j++)
			if (strncmp(series[j], l, (size_t)m[6].rm_so) == 0 &&
			    series[j][m[6].rm_so] == ' ')
				fail_msg("series repeated on line %zu: %s", i, l);
		series[nseries++] = r->lines[i];
	}
	assert_true(ntypes >= 15);
	/* 22 one-sample families, 6 drop reasons, the histogram, per server;
	 * eu-1's 2 game values; 6 states and the uptime for the supervisor;
	 * 4 session states, allocations and 3 failure reasons; roll pending */
	assert_int_equal(nseries,
			 2 * (22 + 6 + RF_TICK_HIST_BUCKETS + 2) + 2 + 6 + 1 + 4 + 1 + 3 + 1);
	regfree(&sample_re);
	regfree(&comment_re);
}

static void test_empty_fleet(void **state)
{
	struct fleet f = { .ticks_per_sec = 100 };
	size_t len;
	char *text = metrics_render(&f, rf_now_ns(), &len);

	(void)state;
	assert_non_null(text);
	assert_non_null(strstr(text, "# TYPE ringfleet_server_up gauge\n"));
	assert_null(strstr(text, "server=\""));
	assert_non_null(strstr(text, "ringfleet_servers{state=\"running\"} 0\n"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters_and_gauges),
		cmocka_unit_test(test_drops_by_reason),
		cmocka_unit_test(test_game),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_supervisor),
		cmocka_unit_test(test_tick_histogram),
		cmocka_unit_test(test_help_and_type),
		cmocka_unit_test(test_exposition_format),
		cmocka_unit_test(test_empty_fleet),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
