// SPDX-License-Identifier: Apache-2.0
/* fuzz_ctl_request - the control protocol codec on hostile bytes.
 *
 * The supervisor feeds ctl_parse_request() whatever any local peer sends,
 * and builds error replies that quote text it did not choose (a server
 * pattern, a configuration error naming a value from the file). Each input
 * goes through three paths:
 *
 *  1. ctl_parse_request() on the raw bytes, in a buffer of exactly their
 *     size (no terminator, as the daemon's input buffer) so ASan sees any
 *     read past the line. An accepted request must be well formed and
 *     parse back to itself.
 *  2. ctl_reply_error("%s", text): the reply must be one line of JSON,
 *     {"ok":false,"error":TEXT}, TEXT cut to the reply's 511 bytes and
 *     made printable ASCII.
 *  3. ctl_call() reading the input as a reply from a socket: the client's
 *     line reader and reply validation.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ctlproto.h"
#include "tests/fuzz/fuzz_input.h"

#define REPLY_MSG_MAX 511 /* ctl_reply_error's message room, less the NUL */

static const struct {
	const char *name;
	int min_args, max_args;
} verbs[CTL_VERB_COUNT] = {
	[CTL_PING] = { "ping", 0, 0 },
	[CTL_VERSION] = { "version", 0, 0 },
	[CTL_STATUS] = { "status", 0, 1 },
	[CTL_START] = { "start", 1, 1 },
	[CTL_STOP] = { "stop", 1, 1 },
	[CTL_RESTART] = { "restart", 1, 1 },
	[CTL_RELOAD] = { "reload", 0, 0 },
	[CTL_SHUTDOWN] = { "shutdown", 0, 0 },
	/* allocate takes the rest of its line raw (req.raw), no words */
	[CTL_ALLOCATE] = { "allocate", 0, 0 },
	[CTL_RELEASE] = { "release", 1, 1 },
	[CTL_EVENTS] = { "events", 0, 0 },
	[CTL_DRAIN] = { "drain", 0, 1 },
	[CTL_UNDRAIN] = { "undrain", 0, 0 },
	[CTL_UPGRADE] = { "upgrade", 0, 0 },
	[CTL_ROLL] = { "roll", 0, 1 },
};

static bool printable_word(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static void check_parse(const uint8_t *data, size_t size)
{
	char *line = malloc(size ? size : 1);
	struct ctl_request req, again;
	const char *err = NULL;
	char text[CTL_LINE_MAX + 8 * CTL_ARG_MAX];
	int ret, n;

	FUZZ_CHECK(line, "malloc");
	memcpy(line, data, size);
	memset(&req, 0xa5, sizeof(req));
	ret = ctl_parse_request(line, size, &req, &err);
	if (ret < 0) {
		FUZZ_CHECK(ret == -EINVAL, "ctl_parse_request = %d", ret);
		FUZZ_CHECK(err && *err, "no error message");
		free(line);
		return;
	}
	FUZZ_CHECK(ret == 0, "ctl_parse_request = %d", ret);
	FUZZ_CHECK((unsigned)req.verb < CTL_VERB_COUNT, "verb %d", (int)req.verb);
	FUZZ_CHECK(req.argc >= verbs[req.verb].min_args && req.argc <= verbs[req.verb].max_args,
		   "%s with %d arguments", verbs[req.verb].name, req.argc);
	FUZZ_CHECK(strcmp(ctl_verb_name(req.verb), verbs[req.verb].name) == 0, "verb name");
	/* Only printable words separated by blanks, and an optional \r. */
	for (size_t i = 0; i < size; i++) {
		unsigned char c = data[i];

		FUZZ_CHECK((c >= 0x21 && c <= 0x7e) || c == ' ' || c == '\t' ||
				   (c == '\r' && i == size - 1),
			   "accepted byte 0x%02x at %zu", c, i);
	}
	n = snprintf(text, sizeof(text), "%s", verbs[req.verb].name);
	for (int i = 0; i < req.argc; i++) {
		FUZZ_CHECK(memchr(req.argv[i], '\0', CTL_ARG_MAX), "argument %d not terminated", i);
		FUZZ_CHECK(printable_word(req.argv[i]), "argument %d \"%s\"", i, req.argv[i]);
		n += snprintf(text + n, sizeof(text) - (size_t)n, " %s", req.argv[i]);
	}
	if (req.verb == CTL_ALLOCATE) {
		FUZZ_CHECK(memchr(req.raw, '\0', sizeof(req.raw)), "raw not terminated");
		for (const char *p = req.raw; *p; p++)
			FUZZ_CHECK((*p >= 0x20 && *p <= 0x7e) || *p == '\t', "raw byte 0x%02x",
				   (unsigned char)*p);
		if (req.raw[0])
			n += snprintf(text + n, sizeof(text) - (size_t)n, " %s", req.raw);
	}
	/* What ringfleetctl would send for this request parses the same. */
	memset(&again, 0, sizeof(again));
	FUZZ_CHECK(ctl_parse_request(text, (size_t)n, &again, &err) == 0, "\"%s\" rejected", text);
	FUZZ_CHECK(again.verb == req.verb && again.argc == req.argc, "\"%s\" reparsed", text);
	FUZZ_CHECK(req.verb != CTL_ALLOCATE || strcmp(again.raw, req.raw) == 0, "raw reparsed");
	for (int i = 0; i < req.argc; i++)
		FUZZ_CHECK(strcmp(again.argv[i], req.argv[i]) == 0, "argument %d reparsed", i);
	free(line);
}

/* ctl_reply_error() can only fail for want of memory (a NULL reply makes
 * the daemon answer "out of memory" instead of the real error), and its
 * message comes back cut to 511 bytes with every byte that is not
 * printable ASCII replaced by '?', so any quoted input makes valid JSON. */
static void check_reply_error(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *reply;
	char want[REPLY_MSG_MAX + 1];
	json_t *obj, *msg;
	size_t len;

	FUZZ_CHECK(text, "malloc");
	memcpy(text, data, size);
	text[size] = '\0';
	snprintf(want, sizeof(want), "%s", text);
	for (char *p = want; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	reply = ctl_reply_error("%s", text);
	FUZZ_CHECK(reply, "ctl_reply_error returned NULL for %zu bytes of text", size);
	len = strlen(reply);
	FUZZ_CHECK(len >= 2 && reply[len - 1] == '\n', "reply is not a line");
	FUZZ_CHECK(!memchr(reply, '\n', len - 1), "reply spans lines");
	obj = json_loadb(reply, len - 1, 0, NULL);
	FUZZ_CHECK(json_is_object(obj), "reply is not a JSON object: %s", reply);
	FUZZ_CHECK(json_is_false(json_object_get(obj, "ok")), "ok is not false");
	msg = json_object_get(obj, "error");
	FUZZ_CHECK(json_is_string(msg), "error is not a string");
	FUZZ_CHECK(strcmp(json_string_value(msg), want) == 0, "error \"%s\", expected \"%s\"",
		   json_string_value(msg), want);
	json_decref(obj);
	free(reply);
	free(text);
}

/* The client's side: the input arrives as the daemon's reply. */
static void check_call(const uint8_t *data, size_t size)
{
	json_t *reply = NULL;
	int sv[2], ret;

	/* A socket buffer holds far more than libFuzzer's default max_len. */
	if (size > 65536)
		return;
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	FUZZ_CHECK(size == 0 || write(sv[1], data, size) == (ssize_t)size, "write");
	shutdown(sv[1], SHUT_WR);
	ret = ctl_call(sv[0], "status", &reply);
	if (ret == 0) {
		FUZZ_CHECK(memchr(data, '\n', size), "a reply without a newline accepted");
		FUZZ_CHECK(json_is_object(reply) && json_is_boolean(json_object_get(reply, "ok")),
			   "accepted reply without ok");
		json_decref(reply);
	} else {
		FUZZ_CHECK(ret == -EPROTO || ret == -ECONNRESET, "ctl_call = %d", ret);
	}
	close(sv[0]);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_parse(data, size);
	check_reply_error(data, size);
	check_call(data, size);
	return 0;
}
