// SPDX-License-Identifier: Apache-2.0
/* ctlproto.c - see ctlproto.h. */
#include "common/ctlproto.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"

static const struct {
	const char *name;
	int min_args, max_args;
	bool mutates;
	bool raw; /* the rest of the line is one argument (req->raw) */
} verbs[CTL_VERB_COUNT] = {
	[CTL_PING] = { "ping", 0, 0, false, false },
	[CTL_VERSION] = { "version", 0, 0, false, false },
	[CTL_STATUS] = { "status", 0, 1, false, false },
	[CTL_START] = { "start", 1, 1, true, false },
	[CTL_STOP] = { "stop", 1, 1, true, false },
	[CTL_RESTART] = { "restart", 1, 1, true, false },
	[CTL_RELOAD] = { "reload", 0, 0, true, false },
	[CTL_SHUTDOWN] = { "shutdown", 0, 0, true, false },
	[CTL_ALLOCATE] = { "allocate", 0, 0, true, true },
	[CTL_RELEASE] = { "release", 1, 1, true, false },
	[CTL_EVENTS] = { "events", 0, 0, false, false },
	[CTL_DRAIN] = { "drain", 0, 1, true, false },
	[CTL_UNDRAIN] = { "undrain", 0, 0, true, false },
	[CTL_UPGRADE] = { "upgrade", 0, 0, true, false },
	[CTL_ROLL] = { "roll", 0, 1, true, false },
};

const char *ctl_verb_name(enum ctl_verb v)
{
	return v < CTL_VERB_COUNT ? verbs[v].name : "?";
}

bool ctl_verb_mutates(enum ctl_verb v)
{
	return v < CTL_VERB_COUNT && verbs[v].mutates;
}

static int lookup_verb(const char *word)
{
	for (int i = 0; i < CTL_VERB_COUNT; i++)
		if (strcmp(word, verbs[i].name) == 0)
			return i;
	return -1;
}

/* Splits line into words; only printable ASCII is accepted. */
static int split_words(const char *line, size_t len, char words[][CTL_ARG_MAX], int max,
		       const char **err)
{
	int n = 0;
	size_t i = 0;

	while (i < len) {
		size_t start, wlen;

		if (line[i] == ' ' || line[i] == '\t') {
			i++;
			continue;
		}
		for (start = i; i < len && line[i] != ' ' && line[i] != '\t'; i++) {
			unsigned char c = (unsigned char)line[i];

			if (c < 0x21 || c > 0x7e) {
				*err = "request is not printable text";
				return -EINVAL;
			}
		}
		wlen = i - start;
		if (n == max) {
			*err = "too many arguments";
			return -EINVAL;
		}
		if (wlen >= CTL_ARG_MAX) {
			*err = "argument too long";
			return -EINVAL;
		}
		memcpy(words[n], line + start, wlen);
		words[n][wlen] = '\0';
		n++;
	}
	return n;
}

/* A raw verb's rest of line: printable ASCII (blanks included). */
static int parse_raw(const char *line, size_t len, int v, struct ctl_request *req, const char **err)
{
	size_t i = 0, start;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	i += strlen(verbs[v].name);
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	start = i;
	for (; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e) {
			*err = "request is not printable text";
			return -EINVAL;
		}
	if (len - start >= CTL_LINE_MAX) {
		*err = "argument too long";
		return -EINVAL;
	}
	memset(req, 0, offsetof(struct ctl_request, raw));
	req->verb = (enum ctl_verb)v;
	memcpy(req->raw, line + start, len - start);
	req->raw[len - start] = '\0';
	return 0;
}

/* The verb of a line whose verb takes the rest raw, or -1. */
static int raw_verb(const char *line, size_t len)
{
	size_t i = 0, start;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	for (start = i; i < len && line[i] != ' ' && line[i] != '\t'; i++)
		;
	for (int v = 0; v < CTL_VERB_COUNT; v++)
		if (verbs[v].raw && strlen(verbs[v].name) == i - start &&
		    memcmp(line + start, verbs[v].name, i - start) == 0)
			return v;
	return -1;
}

int ctl_parse_request(const char *line, size_t len, struct ctl_request *req, const char **err)
{
	char words[CTL_ARGS_MAX + 1][CTL_ARG_MAX];
	int n, v;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	v = raw_verb(line, len);
	if (v >= 0)
		return parse_raw(line, len, v, req, err);
	n = split_words(line, len, words, CTL_ARGS_MAX + 1, err);
	if (n < 0)
		return n;
	if (n == 0) {
		*err = "empty request";
		return -EINVAL;
	}
	v = lookup_verb(words[0]);
	if (v < 0) {
		*err = "unknown verb";
		return -EINVAL;
	}
	if (n - 1 < verbs[v].min_args) {
		*err = "missing argument";
		return -EINVAL;
	}
	if (n - 1 > verbs[v].max_args) {
		*err = "too many arguments";
		return -EINVAL;
	}
	memset(req, 0, offsetof(struct ctl_request, raw));
	req->raw[0] = '\0';
	req->verb = (enum ctl_verb)v;
	req->argc = n - 1;
	for (int i = 1; i < n; i++)
		memcpy(req->argv[i - 1], words[i], CTL_ARG_MAX);
	return 0;
}

static char *dump_line(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *line;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}

char *ctl_reply_ok(json_t *body)
{
	json_t *obj = json_object();
	char *line = NULL;

	if (!obj)
		goto out;
	json_object_set_new(obj, "ok", json_true());
	if (body && json_object_update(obj, body) < 0)
		goto out;
	line = dump_line(obj);
out:
	json_decref(obj);
	json_decref(body);
	return line;
}

static char *reply_error(const char *code, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static char *reply_error(const char *code, const char *fmt, va_list ap)
{
	char msg[512];
	json_t *obj;
	char *line;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Messages quote input (a config value, a request word) that may not
	 * be UTF-8, which JSON strings must be: keep them printable ASCII. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	obj = json_pack("{s:b,s:s}", "ok", 0, "error", msg);
	if (obj && code)
		json_object_set_new(obj, "code", json_string(code));
	if (!obj)
		return NULL;
	line = dump_line(obj);
	json_decref(obj);
	return line;
}

char *ctl_reply_error(const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	line = reply_error(NULL, fmt, ap);
	va_end(ap);
	return line;
}

char *ctl_reply_error_code(const char *code, const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	line = reply_error(code, fmt, ap);
	va_end(ap);
	return line;
}

int ctl_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return TAKE_FD(fd);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads up to the first newline; bytes after it are not expected since
 * the protocol is strictly request/reply. */
static int read_line(int fd, char **out)
{
	size_t cap = 4096, len = 0;
	_cleanup_free_ char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;
		char *nl;

		if (len + 1 >= cap) {
			char *nb = cap >= CTL_REPLY_MAX ? NULL : realloc(buf, cap * 2);

			if (!nb)
				return cap >= CTL_REPLY_MAX ? -EMSGSIZE : -ENOMEM;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			*nl = '\0';
			*out = TAKE_PTR(buf);
			return 0;
		}
	}
}

int ctl_call(int fd, const char *request, json_t **reply)
{
	char *line = NULL;
	json_t *obj;
	int r, rr;
	size_t len = strlen(request);

	r = write_all(fd, request, len);
	if (r == 0 && (len == 0 || request[len - 1] != '\n'))
		r = write_all(fd, "\n", 1);
	/* A server that refuses a connection (too many) writes why and
	 * closes without reading: the reason may wait behind a broken pipe. */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET)
		return r;
	rr = read_line(fd, &line);
	if (rr < 0)
		return r < 0 ? r : rr;
	obj = json_loads(line, 0, NULL);
	free(line);
	if (!obj || !json_is_object(obj) || !json_is_boolean(json_object_get(obj, "ok"))) {
		json_decref(obj);
		return -EPROTO;
	}
	*reply = obj;
	return 0;
}
