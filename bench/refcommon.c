// SPDX-License-Identifier: Apache-2.0
/* refcommon.c - see refcommon.h. */
#include "bench/refcommon.h"
#include "common/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void ref_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --port P [--bind ADDR] [--tick-hz N]\n"
		"  --port P      UDP port to serve\n"
		"  --bind ADDR   IPv4 address to bind (default 127.0.0.1)\n"
		"  --tick-hz N   broadcast ticks per second (default 50)\n",
		prog);
}

static int parse_ul(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || *end || *out < min || *out > max)
		return -EINVAL;
	return 0;
}

static int ref_opt(struct ref_opts *o, int c, const char *arg)
{
	unsigned long v;

	switch (c) {
	case 'p':
		if (parse_ul(arg, 1, 65535, &v) < 0)
			return -EINVAL;
		o->port = (uint16_t)v;
		return 0;
	case 'b':
		return inet_pton(AF_INET, arg, &o->bind) == 1 ? 0 : -EINVAL;
	case 't':
		if (parse_ul(arg, 1, 1000, &v) < 0)
			return -EINVAL;
		o->tick_hz = (unsigned)v;
		return 0;
	}
	return -EINVAL;
}

int ref_parse_args(int argc, char **argv, const char *prog, struct ref_opts *o)
{
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, 'b' },
		{ "tick-hz", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	o->port = 0;
	o->bind.s_addr = htonl(INADDR_LOOPBACK);
	o->tick_hz = 50;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'h') {
			ref_usage(stdout, prog);
			return 1;
		}
		if (c == '?' || ref_opt(o, c, optarg) < 0)
			goto bad;
	}
	if (optind == argc && o->port)
		return 0;
bad:
	ref_usage(stderr, prog);
	return -EINVAL;
}

int ref_socket(const struct ref_opts *o)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(o->port),
				  .sin_addr = o->bind };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int ref_client_add(struct ref_clients *c, const struct sockaddr_in *sa)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->a[i].sin_port == sa->sin_port &&
		    c->a[i].sin_addr.s_addr == sa->sin_addr.s_addr)
			return (int)i;
	if (c->n == REF_MAX_CLIENTS)
		return -ENOSPC;
	c->a[c->n] = *sa;
	return (int)c->n++;
}

uint64_t ref_period_ns(const struct ref_opts *o)
{
	return RF_NSEC_PER_SEC / o->tick_hz;
}
