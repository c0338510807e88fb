// SPDX-License-Identifier: Apache-2.0
/* stream.c - see stream.h. */
#include "ctl/stream.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ctlproto.h"

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* No SA_RESTART: the blocking read returns EINTR and the loop ends. */
static void catch_interrupts(void)
{
	struct sigaction sa = { .sa_handler = on_interrupt };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static const char *str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v && *v ? v : "-";
}

int stream_format_event(const char *line, char *out, unsigned outlen)
{
	json_t *ev = json_loads(line, 0, NULL);
	int r = -1;

	if (json_is_object(ev) && json_object_get(ev, "kind")) {
		snprintf(out, outlen, "%s %-16s %-8s %s -> %s %s", str(ev, "time"),
			 str(ev, "server"), str(ev, "kind"), str(ev, "from"), str(ev, "to"),
			 str(ev, "reason"));
		r = 0;
	}
	json_decref(ev);
	return r;
}

/* The first line is the answer to `events`: ok, or why not. */
static int check_ack(const char *line)
{
	json_t *ack = json_loads(line, 0, NULL);
	int rc = 0;

	if (!json_is_true(json_object_get(ack, "ok"))) {
		fprintf(stderr, "ringfleetctl: %s\n",
			json_string_value(json_object_get(ack, "error")) ?: "malformed reply");
		rc = 1;
	}
	json_decref(ack);
	return rc;
}

static bool is_dropped(const char *line)
{
	json_t *v = json_loads(line, 0, NULL);
	bool dropped = json_is_true(json_object_get(v, "dropped"));

	json_decref(v);
	return dropped;
}

static int read_events(FILE *in, const char *socket_path, bool json)
{
	char *line = NULL, out[1024];
	size_t cap = 0;
	bool first = true;
	int rc;

	for (;;) {
		ssize_t n;

		errno = 0;
		n = getline(&line, &cap, in);
		if (n < 0) {
			if (interrupted) {
				rc = 0;
				break;
			}
			if (errno == EINTR) {
				clearerr(in);
				continue;
			}
			fprintf(stderr, "ringfleetctl: ringfleetd at %s closed the event stream\n",
				socket_path);
			rc = 1;
			break;
		}
		if (first) {
			first = false;
			rc = check_ack(line);
			if (rc)
				break;
			continue;
		}
		if (is_dropped(line)) {
			fprintf(stderr,
				"ringfleetctl: ringfleetd dropped this subscriber: it did not read "
				"events fast enough\n");
			rc = 1;
			break;
		}
		if (json)
			fputs(line, stdout);
		else if (stream_format_event(line, out, sizeof(out)) == 0)
			puts(out);
		fflush(stdout);
	}
	free(line);
	return rc;
}

int stream_events(const char *socket_path, bool json)
{
	static const char req[] = "events\n";
	int fd = ctl_connect(socket_path), rc;
	FILE *in;

	if (fd < 0) {
		fprintf(stderr, "ringfleetctl: cannot reach ringfleetd at %s: %s\n", socket_path,
			strerror(-fd));
		return 4;
	}
	catch_interrupts();
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		fprintf(stderr, "ringfleetctl: %s: %s\n", socket_path, strerror(errno));
		close(fd);
		return 4;
	}
	in = fdopen(fd, "r");
	if (!in) {
		close(fd);
		return 1;
	}
	rc = read_events(in, socket_path, json);
	fclose(in);
	return rc;
}
