// SPDX-License-Identifier: Apache-2.0
/* table.c - see table.h. */
#include "ctl/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctlproto.h"

bool table_verb_known(const char *verb, int nargs)
{
	struct ctl_request req;
	char line[CTL_LINE_MAX];
	const char *err;
	int n;

	/* Arity is the protocol's: reuse its parser on a stand-in request. */
	n = snprintf(line, sizeof(line), "%s%s", verb,
		     nargs == 0   ? ""
		     : nargs == 1 ? " x"
				  : " x y");
	return n > 0 && ctl_parse_request(line, (size_t)n, &req, &err) == 0;
}

static const char *state_color(const char *state)
{
	if (strcmp(state, "running") == 0 || strcmp(state, "idle") == 0)
		return "\033[32m";
	if (strcmp(state, "fatal") == 0)
		return "\033[31m";
	return "\033[33m";
}

static long long num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void human_uptime(double s, char *buf, size_t len)
{
	long long t = (long long)s;

	if (t >= 86400)
		snprintf(buf, len, "%lldd%02lldh", t / 86400, t % 86400 / 3600);
	else if (t >= 3600)
		snprintf(buf, len, "%lldh%02lldm", t / 3600, t % 3600 / 60);
	else if (t >= 60)
		snprintf(buf, len, "%lldm%02llds", t / 60, t % 60);
	else
		snprintf(buf, len, "%llds", t);
}

/* The GAME column, last since its width varies: the module's name, its
 * values as name=value, then its status text. */
static void game_cell(json_t *s, char *buf, size_t len)
{
	json_t *g = json_object_get(s, "game"), *v;
	const char *name = json_string_value(json_object_get(g, "name"));
	const char *status = json_string_value(json_object_get(g, "status"));
	const char *k;
	size_t at;

	snprintf(buf, len, "%s", name && *name ? name : "-");
	at = strlen(buf);
	json_object_foreach(json_object_get(g, "values"), k, v)
	{
		if (at < len)
			at += (size_t)snprintf(buf + at, len - at, " %s=%lld", k,
					       (long long)json_integer_value(v));
	}
	if (status && *status && at < len)
		snprintf(buf + at, len - at, " (%s)", status);
}

/* "k=v,k2=v2" of a JSON object of strings, "-" when empty. */
static void kv_cell(json_t *o, char *buf, size_t len)
{
	const char *k;
	json_t *v;
	size_t at = 0;

	buf[0] = '\0';
	json_object_foreach(o, k, v)
	{
		if (at < len)
			at += (size_t)snprintf(buf + at, len - at, "%s%s=%s", at ? "," : "", k,
					       json_string_value(v) ?: "");
	}
	if (!buf[0])
		snprintf(buf, len, "-");
}

/* A running worker asleep for want of clients shows as idle: a state of
 * the worker's, not of the supervisor's (JSON keeps "running" and says
 * "idle": true). */
static const char *shown_state(json_t *s)
{
	const char *state = json_string_value(json_object_get(s, "state")) ?: "?";

	if (json_is_true(json_object_get(s, "idle")) && strcmp(state, "running") == 0)
		return "idle";
	return state;
}

static void print_row(json_t *s, bool color)
{
	const char *state = shown_state(s);
	const char *sess =
		json_string_value(json_object_get(json_object_get(s, "session"), "state"));
	char up[32], game[160];

	human_uptime(json_real_value(json_object_get(s, "uptime_s")), up, sizeof(up));
	game_cell(s, game, sizeof(game));
	printf("%-20s %s%-8s%s %7lld %3lld %5lld %7.1f %7lld %8lld %10lld %10lld %5lld %8s %3lld "
	       "%-9s %s\n",
	       json_string_value(json_object_get(s, "name")) ?: "?",
	       color ? state_color(state) : "", state, color ? "\033[0m" : "", num(s, "pid"),
	       num(s, "cpu"), num(s, "port"), json_real_value(json_object_get(s, "cpu_pct")),
	       num(s, "rss_kb"), num(s, "clients"), num(s, "pkts_in"), num(s, "pkts_out"),
	       num(s, "tick_overruns"), up, num(s, "restarts"), sess ?: "-", game);
}

void table_print_status(json_t *reply, bool color)
{
	json_t *sup = json_object_get(reply, "supervisor");
	json_t *servers = json_object_get(reply, "servers"), *s;
	size_t i;

	printf("ringfleetd pid %lld, version %s, up %.0fs, config %s, backend %s\n",
	       num(sup, "pid"), json_string_value(json_object_get(sup, "version")) ?: "?",
	       json_real_value(json_object_get(sup, "uptime_s")),
	       json_string_value(json_object_get(sup, "config")) ?: "?",
	       json_string_value(json_object_get(sup, "backend")) ?: "?");
	printf("%-20s %-8s %7s %3s %5s %7s %7s %8s %10s %10s %5s %8s %3s %-9s %s\n", "NAME",
	       "STATE", "PID", "CPU", "PORT", "CPU%", "RSS_KB", "CLIENTS", "PKTS_IN", "PKTS_OUT",
	       "OVERR", "UPTIME", "RST", "SESSION", "GAME");
	json_array_foreach(servers, i, s) print_row(s, color);
}

json_t *table_detail_server(const char *arg, json_t *reply)
{
	json_t *servers = json_object_get(reply, "servers"), *s;
	const char *name;

	/* A glob or "all" asks for a list, even when it matches one server. */
	if (!arg || strcmp(arg, "all") == 0 || strpbrk(arg, "*?[\\"))
		return NULL;
	if (json_array_size(servers) != 1)
		return NULL;
	s = json_array_get(servers, 0);
	name = json_string_value(json_object_get(s, "name"));
	return name && strcmp(name, arg) == 0 ? s : NULL;
}

static void print_scalar(const char *key, json_t *v, bool color)
{
	char up[32];

	printf("%-24s ", key);
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (color && strcmp(key, "state:") == 0)
			printf("%s%s\033[0m\n", state_color(json_string_value(v)),
			       json_string_value(v));
		else
			printf("%s\n", *json_string_value(v) ? json_string_value(v) : "-");
		break;
	case JSON_INTEGER:
		printf("%lld\n", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		if (strcmp(key, "uptime_s:") == 0) {
			human_uptime(json_real_value(v), up, sizeof(up));
			printf("%.1f (%s)\n", json_real_value(v), up);
		} else {
			printf("%.6g\n", json_real_value(v));
		}
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		printf("%s\n", json_is_true(v) ? "yes" : "no");
		break;
	case JSON_ARRAY: {
		char *a = json_dumps(v, JSON_COMPACT);

		printf("%s\n", a ?: "-");
		free(a);
		break;
	}
	default:
		printf("-\n");
	}
}

/* Every field, in the reply's order, so fields added to the protocol show
 * up without a change here; nested objects become "outer.inner". */
static void print_fields(const char *prefix, json_t *obj, bool color)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v)
	{
		char key[96];

		if (json_is_object(v)) {
			snprintf(key, sizeof(key), "%s%s.", prefix, k);
			print_fields(key, v, color);
		} else {
			snprintf(key, sizeof(key), "%s%s:", prefix, k);
			print_scalar(key, v, color);
		}
	}
}

void table_print_detail(json_t *server, bool color)
{
	print_fields("", server, color);
}

void table_print_result(const char *verb, json_t *reply)
{
	json_t *servers = json_object_get(reply, "servers"), *s;
	size_t i;

	if (strcmp(verb, "reload") == 0) {
		const char *keys[] = { "added", "removed", "changed" };

		for (size_t k = 0; k < 3; k++) {
			json_t *a = json_object_get(reply, keys[k]), *n;

			printf("%s:", keys[k]);
			json_array_foreach(a, i, n) printf(" %s", json_string_value(n));
			printf("%s\n", json_array_size(a) ? "" : " (none)");
		}
		printf("unchanged: %lld\n", num(reply, "unchanged"));
		return;
	}
	if (strcmp(verb, "version") == 0) {
		printf("%s\n", json_string_value(json_object_get(reply, "version")) ?: "?");
		return;
	}
	if (!servers) {
		printf("ok\n");
		return;
	}
	json_array_foreach(servers, i, s)
		printf("%s: %s\n", json_string_value(json_object_get(s, "name")),
		       json_string_value(json_object_get(s, "state")));
}

void table_print_allocation(json_t *reply)
{
	static const char *const first[] = { "name", "address", "port", "labels", "meta" };
	char cell[4096];
	const char *k;
	json_t *v;

	for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		char key[32];

		v = json_object_get(reply, first[i]);
		snprintf(key, sizeof(key), "%s:", first[i]);
		if (json_is_object(v)) {
			kv_cell(v, cell, sizeof(cell));
			printf("%-24s %s\n", key, cell);
		} else if (v) {
			print_scalar(key, v, false);
		}
	}
	json_object_foreach(reply, k, v)
	{
		bool shown = strcmp(k, "ok") == 0;
		char key[96];

		for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++)
			shown |= strcmp(k, first[i]) == 0;
		if (shown)
			continue;
		if (json_is_object(v)) {
			snprintf(key, sizeof(key), "%s.", k);
			print_fields(key, v, false);
		} else {
			snprintf(key, sizeof(key), "%s:", k);
			print_scalar(key, v, false);
		}
	}
}

bool table_all_running(json_t *reply)
{
	json_t *servers = json_object_get(reply, "servers"), *s;
	size_t i;

	json_array_foreach(servers, i, s)
	{
		const char *state = json_string_value(json_object_get(s, "state"));

		if (!state || strcmp(state, "running") != 0)
			return false;
	}
	return true;
}
