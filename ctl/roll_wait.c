// SPDX-License-Identifier: Apache-2.0
/* roll_wait.c - see roll_wait.h. */
#include "ctl/roll_wait.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/ctlproto.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_UNREACHABLE = 4, EXIT_TIMEOUT = 5 };

/* Each request of the wait gets this long: a wedged supervisor must not
 * hang the caller whatever --timeout says. */
#define CALL_TIMEOUT_S 5
#define POLL_S 0.2

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int call(const char *socket_path, const char *request, json_t **reply)
{
	struct timeval tv = { CALL_TIMEOUT_S, 0 };
	int fd = ctl_connect(socket_path), r;

	if (fd < 0) {
		fprintf(stderr, "ringfleetctl: cannot reach ringfleetd at %s: %s\n", socket_path,
			strerror(-fd));
		return EXIT_UNREACHABLE;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	r = ctl_call(fd, request, reply);
	close(fd);
	if (r == -EAGAIN) {
		fprintf(stderr, "ringfleetctl: no reply from ringfleetd at %s within %d s\n",
			socket_path, CALL_TIMEOUT_S);
		return EXIT_TIMEOUT;
	}
	if (r < 0) {
		fprintf(stderr, "ringfleetctl: %s: %s\n", socket_path,
			r == -EPROTO ? "malformed reply" : strerror(-r));
		return EXIT_UNREACHABLE;
	}
	return EXIT_OK;
}

static long long num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)) ?: "";
}

void roll_print_summary(json_t *status_reply)
{
	json_t *r = json_object_get(status_reply, "roll");

	if (strcmp(str(r, "state"), "rolling") != 0)
		return;
	printf("roll %lld of \"%s\": %lld of %lld rolled, %lld left (%lld waiting for a match)%s%s\n",
	       num(r, "id"), str(r, "pattern"), num(r, "done"), num(r, "total"), num(r, "pending"),
	       num(r, "waiting_for_match"),
	       json_string_value(json_object_get(r, "current")) ? ", restarting " : "",
	       str(r, "current"));
}

static json_t *find_server(json_t *servers, const char *name)
{
	json_t *s;
	size_t i;

	json_array_foreach(servers, i, s) if (strcmp(str(s, "name"), name) == 0) return s;
	return NULL;
}

/* Prints a line for each queued server that has left the roll since the
 * last look; marks it printed (its "pid" becomes -1). Returns how many
 * failed. */
static int report(json_t *queued, json_t *status, bool roll_over)
{
	json_t *servers = json_object_get(status, "servers"), *q;
	size_t i;
	int failed = 0;

	json_array_foreach(queued, i, q)
	{
		const char *name = str(q, "name");
		long long old = num(q, "pid");
		json_t *s;

		if (old < 0)
			continue;
		s = find_server(servers, name);
		if (!s)
			printf("dropped %s (removed from the configuration)\n", name);
		else if (json_is_true(json_object_get(s, "roll_pending")) && !roll_over)
			continue;
		else if (strcmp(str(s, "state"), "running") == 0 && num(s, "pid") != old)
			printf("rolled %s (pid %lld -> %lld)\n", name, old, num(s, "pid"));
		else if (strcmp(str(s, "state"), "fatal") == 0) {
			printf("failed %s (fatal: %s)\n", name, str(s, "reason"));
			failed++;
		} else
			printf("skipped %s (%s)\n", name, str(s, "state"));
		json_object_set_new(q, "pid", json_integer(-1));
	}
	fflush(stdout);
	return failed;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Follows roll id through status until it is over or timeout_s passes. */
static int follow(const char *socket_path, json_t *queued, long long id, double timeout_s)
{
	double deadline = now_s() + timeout_s;
	int failed = 0;

	for (;;) {
		json_t *st = NULL, *r;
		bool over;
		int rc = call(socket_path, "status", &st);

		if (rc != EXIT_OK)
			return rc;
		r = json_object_get(st, "roll");
		over = num(r, "id") != id || strcmp(str(r, "state"), "rolling") != 0;
		failed += report(queued, st, over);
		if (over) {
			if (num(r, "id") == id)
				printf("roll %lld done: %lld rolled, %lld failed, %lld skipped, %lld "
				       "dropped of %lld\n",
				       id, num(r, "done"), num(r, "failed"), num(r, "skipped"),
				       num(r, "dropped"), num(r, "total"));
			json_decref(st);
			return failed || num(r, "failed") ? EXIT_REFUSED : EXIT_OK;
		}
		if (timeout_s > 0 && now_s() >= deadline) {
			fprintf(stderr,
				"ringfleetctl: roll %lld not done within %g s: %lld of %lld left "
				"(%lld waiting for a match); it goes on\n",
				id, timeout_s, num(r, "pending"), num(r, "total"),
				num(r, "waiting_for_match"));
			json_decref(st);
			return EXIT_TIMEOUT;
		}
		json_decref(st);
		sleep_s(POLL_S);
	}
}

int roll_command(const char *socket_path, const char *pattern, bool json, bool wait,
		 double timeout_s)
{
	char request[CTL_ARG_MAX + 8];
	json_t *reply = NULL, *queued, *skipped, *s;
	size_t i;
	int rc;

	snprintf(request, sizeof(request), "roll %s", pattern ? pattern : "all");
	rc = call(socket_path, request, &reply);
	if (rc != EXIT_OK)
		return rc;
	if (!json_is_true(json_object_get(reply, "ok"))) {
		if (json) {
			json_dumpf(reply, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
			putchar('\n');
		} else {
			fprintf(stderr, "ringfleetctl: %s\n", str(reply, "error"));
		}
		json_decref(reply);
		return EXIT_REFUSED;
	}
	queued = json_object_get(reply, "queued");
	skipped = json_object_get(reply, "skipped");
	if (json) {
		json_dumpf(reply, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		printf("roll %lld: %zu server%s queued, %zu skipped\n", num(reply, "roll"),
		       json_array_size(queued), json_array_size(queued) == 1 ? "" : "s",
		       json_array_size(skipped));
		json_array_foreach(skipped, i, s)
			printf("skipped %s (%s)\n", str(s, "name"), str(s, "state"));
	}
	fflush(stdout);
	rc = wait ? follow(socket_path, queued, num(reply, "roll"), timeout_s) : EXIT_OK;
	json_decref(reply);
	return rc;
}
