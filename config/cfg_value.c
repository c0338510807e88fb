// SPDX-License-Identifier: Apache-2.0
/* cfg_value.c - see cfg_value.h; also cfg_parse_cpulist and
 * cfg_format_cpulist from config.h. Pure string work, no I/O. */
#include "config/cfg_value.h"
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

int cfg_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	bool big = false;

	if (*s == '\0')
		return -EINVAL;
	for (; *s; s++) {
		if (!is_digit(*s))
			return -EINVAL;
		/* Keep scanning after an overflow so "99999999999999999999x"
		 * still reports a syntax error. */
		if (v > (UINT64_MAX - 9) / 10)
			big = true;
		else
			v = v * 10 + (uint64_t)(*s - '0');
	}
	if (big || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int suffix_shift(const char *suffix)
{
	if (suffix[0] == '\0')
		return 0;
	if (suffix[1] != '\0')
		return -EINVAL;
	switch (suffix[0]) {
	case 'k':
	case 'K':
		return 10;
	case 'm':
	case 'M':
		return 20;
	case 'g':
	case 'G':
		return 30;
	}
	return -EINVAL;
}

int cfg_parse_bytes(const char *s, uint64_t *out)
{
	char digits[24];
	size_t n = 0;
	uint64_t v;
	int shift;

	while (is_digit(s[n]))
		n++;
	if (n == 0 || n >= sizeof(digits))
		return -EINVAL;
	memcpy(digits, s, n);
	digits[n] = '\0';
	shift = suffix_shift(s + n);
	if (shift < 0 || cfg_parse_uint(digits, UINT64_MAX >> shift, &v) < 0)
		return -EINVAL;
	*out = v << shift;
	return 0;
}

int cfg_parse_addr(const char *s, char *canon, size_t len)
{
	unsigned char bin[sizeof(struct in6_addr)];
	int af = AF_INET;

	if (inet_pton(AF_INET, s, bin) != 1) {
		af = AF_INET6;
		if (inet_pton(AF_INET6, s, bin) != 1)
			return -EINVAL;
	}
	if (!inet_ntop(af, bin, canon, (socklen_t)len))
		return -EINVAL;
	return af;
}

bool cfg_addr_is_any(const char *canon)
{
	return strcmp(canon, "0.0.0.0") == 0 || strcmp(canon, "::") == 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;

	if (cfg_parse_uint(s, 65535, &v) < 0 || v == 0)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int cfg_parse_listen(const char *s)
{
	char addr[CFG_ADDR_MAX], canon[CFG_ADDR_MAX];
	const char *colon, *start = s;
	int want = AF_INET;
	uint16_t port;
	size_t n;

	if (*s == '[') {
		/* IPv6 needs brackets: "::1:9750" would be ambiguous. */
		colon = strstr(s, "]:");
		if (!colon)
			return -EINVAL;
		start = s + 1;
		n = (size_t)(colon - start);
		colon++;
		want = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - s);
	}
	if (n >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, start, n);
	addr[n] = '\0';
	if (cfg_parse_addr(addr, canon, sizeof(canon)) != want)
		return -EINVAL;
	return parse_port(colon + 1, &port);
}

/* Copies the number at s (blanks around it allowed) up to end into buf. */
static int range_part(const char *s, const char *end, uint16_t *port)
{
	char buf[16];
	size_t n;

	s = skip_blanks(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	n = (size_t)(end - s);
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return parse_port(buf, port);
}

int cfg_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	const char *dash = strchr(s, '-');

	if (!dash) {
		if (range_part(s, s + strlen(s), lo) < 0)
			return -EINVAL;
		*hi = *lo;
		return 0;
	}
	if (range_part(s, dash, lo) < 0 ||
	    range_part(dash + 1, dash + 1 + strlen(dash + 1), hi) < 0)
		return -EINVAL;
	return *lo <= *hi ? 0 : -ERANGE;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
	       c == '_' || c == '-';
}

bool cfg_name_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (n >= max || !name_char(s[n]))
			return false;
	return n > 0;
}

bool cfg_account_ok(const char *s, size_t max)
{
	return s[0] != '-' && cfg_name_ok(s, max);
}

/* One CPU number at *s, blanks around it allowed; advances *s. */
static int cpu_number(const char **s, unsigned *cpu)
{
	const char *p = skip_blanks(*s);
	unsigned v = 0;

	if (!is_digit(*p))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v >= CPU_SETSIZE)
			return -EINVAL;
	}
	*s = skip_blanks(p);
	*cpu = v;
	return 0;
}

int cfg_parse_cpulist(const char *s, cpu_set_t *set)
{
	cpu_set_t tmp;
	unsigned lo, hi;

	CPU_ZERO(&tmp);
	for (;;) {
		if (cpu_number(&s, &lo) < 0)
			return -EINVAL;
		hi = lo;
		if (*s == '-') {
			s++;
			if (cpu_number(&s, &hi) < 0 || hi < lo)
				return -EINVAL;
		}
		for (unsigned c = lo; c <= hi; c++)
			CPU_SET(c, &tmp);
		if (*s == '\0')
			break;
		if (*s++ != ',')
			return -EINVAL;
	}
	*set = tmp;
	return 0;
}

int cfg_format_cpulist(const cpu_set_t *set, char *buf, size_t len)
{
	size_t pos = 0;
	int lo, hi, n;

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (lo = 0; lo < CPU_SETSIZE; lo = hi + 1) {
		hi = lo;
		if (!CPU_ISSET(lo, set))
			continue;
		while (hi + 1 < CPU_SETSIZE && CPU_ISSET(hi + 1, set))
			hi++;
		if (hi == lo)
			n = snprintf(buf + pos, len - pos, "%s%d", pos ? "," : "", lo);
		else
			n = snprintf(buf + pos, len - pos, "%s%d-%d", pos ? "," : "", lo, hi);
		if (n < 0 || (size_t)n >= len - pos) {
			buf[0] = '\0';
			return -ENOSPC;
		}
		pos += (size_t)n;
	}
	return 0;
}
