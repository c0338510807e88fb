// SPDX-License-Identifier: Apache-2.0
/* cfg_keys.c - every key the loader knows: for [defaults]/[server]/[pool]
 * and for [supervisor], where each may appear, its range, and the setter
 * that parses a value into the section being read. A key is checked the
 * moment inih hands it over, so errors come out in file order.
 */
#include "config/cfg_load.h"
#include "config/cfg_value.h"
#include "common/log.h"
#include "common/slot.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* The common `KEY: expected WHAT, got "VALUE"` for the current line. */
static bool bad_value(struct parser *p, const char *key, const char *expected,
		      const char *value)
{
	cfg_fail(p, p->lineno, "%s: expected %s, got \"%s\"", key, expected, value);
	return false;
}

/* This machine's CPUs as a list, e.g. "0-7". */
static void machine_cpus(const struct parser *p, char *buf, size_t len)
{
	if (p->ncpus == 1)
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "0-%d", p->ncpus - 1);
}

static bool cpu_absent(struct parser *p, const char *key, int cpu, const char *value)
{
	char cpus[32];

	machine_cpus(p, cpus, sizeof(cpus));
	cfg_fail(p, p->lineno, "%s: CPU %d does not exist on this machine (CPUs %s), got \"%s\"",
		 key, cpu, cpus, value);
	return false;
}

/* ---- value setters shared by both kinds of key ---- */

static bool parse_u32(struct parser *p, const char *key, const char *v,
		      uint32_t min, uint32_t max, uint32_t *out)
{
	char want[32];
	uint64_t n;

	if (cfg_parse_uint(v, max, &n) < 0 || n < min) {
		snprintf(want, sizeof(want), "%u..%u", min, max);
		return bad_value(p, key, want, v);
	}
	*out = (uint32_t)n;
	return true;
}

/* "" keeps the account unset; else a plausible user/group name. */
static bool parse_account(struct parser *p, const char *key, const char *kind,
			  const char *v, char *out)
{
	char want[80];

	if (*v && !cfg_account_ok(v, CFG_USER_MAX - 1)) {
		snprintf(want, sizeof(want), "a %s name of 1..%d characters [A-Za-z0-9._-]",
			 kind, CFG_USER_MAX - 1);
		return bad_value(p, key, want, v);
	}
	strcpy(out, v);
	return true;
}

/* ---- [defaults] / [server] / [pool] keys ---- */

static void *srv_field(struct sect *s, const struct srv_key *k)
{
	return (char *)&s->v + k->off;
}

static bool set_u32(struct parser *p, const struct srv_key *k, struct sect *s, const char *v)
{
	return parse_u32(p, k->name, v, k->min, k->max, srv_field(s, k));
}

static bool set_pow2(struct parser *p, const struct srv_key *k, struct sect *s, const char *v)
{
	char want[48];
	uint64_t n;

	if (cfg_parse_uint(v, k->max, &n) < 0 || n < k->min || (n & (n - 1))) {
		snprintf(want, sizeof(want), "a power of two %u..%u", k->min, k->max);
		return bad_value(p, k->name, want, v);
	}
	*(uint32_t *)srv_field(s, k) = (uint32_t)n;
	return true;
}

static bool set_bytes(struct parser *p, const struct srv_key *k, struct sect *s, const char *v)
{
	uint64_t n;

	if (cfg_parse_bytes(v, &n) < 0 || n < (4u << 10) || n > (1u << 30))
		return bad_value(p, k->name, "4K..1G (bytes, or with a K, M or G suffix)", v);
	*(uint64_t *)srv_field(s, k) = n;
	return true;
}

static bool set_bind(struct parser *p, const struct srv_key *k, struct sect *s, const char *v)
{
	/* Stored canonical so "::0" and "::" compare equal. */
	if (cfg_parse_addr(v, srv_field(s, k), CFG_ADDR_MAX) < 0)
		return bad_value(p, k->name, "a numeric IPv4 or IPv6 address", v);
	return true;
}

static bool set_port(struct parser *p, const struct srv_key *k, struct sect *s, const char *v)
{
	uint32_t port;

	if (!parse_u32(p, k->name, v, 1, 65535, &port))
		return false;
	s->v.port = (uint16_t)port;
	return true;
}

static bool set_ports(struct parser *p, const struct srv_key *k, struct sect *s, const char *v)
{
	char want[48];
	int ret = cfg_parse_port_range(v, &s->v.port, &s->port_hi);

	if (ret == -ERANGE)
		return bad_value(p, k->name, "A-B with A <= B", v);
	if (ret < 0)
		return bad_value(p, k->name, "A-B with ports 1..65535", v);
	if (s->port_hi - s->v.port + 1 > CFG_POOL_MAX_PORTS) {
		snprintf(want, sizeof(want), "at most %d ports", CFG_POOL_MAX_PORTS);
		return bad_value(p, k->name, want, v);
	}
	return true;
}

static bool set_cpu(struct parser *p, const struct srv_key *k, struct sect *s, const char *v)
{
	uint64_t n;

	if (cfg_parse_uint(v, INT32_MAX, &n) < 0)
		return bad_value(p, k->name, "a CPU number", v);
	if (n >= (uint64_t)p->ncpus)
		return cpu_absent(p, k->name, (int)n, v);
	s->v.cpu = (int)n;
	return true;
}

static bool set_backend(struct parser *p, const struct srv_key *k, struct sect *s, const char *v)
{
	int b = rf_backend_parse(v);

	if (b < 0)
		return bad_value(p, k->name, "auto, io_uring or mmsg", v);
	s->v.backend = (enum rf_backend)b;
	return true;
}

/* token (connect tokens issued at allocation) is planned, not built:
 * refuse it by name rather than run a server that would admit no one. */
static bool set_admission(struct parser *p, const struct srv_key *k, struct sect *s,
			  const char *v)
{
	if (strcmp(v, "cookie") == 0) {
		s->v.admission = RF_ADMISSION_COOKIE;
	} else if (strcmp(v, "open") == 0) {
		s->v.admission = RF_ADMISSION_OPEN;
	} else if (strcmp(v, "token") == 0) {
		cfg_fail(p, p->lineno, "%s: \"token\" is not available yet, use cookie or open",
			 k->name);
		return false;
	} else {
		return bad_value(p, k->name, "cookie or open", v);
	}
	return true;
}

static bool set_account(struct parser *p, const struct srv_key *k, struct sect *s, const char *v)
{
	return parse_account(p, k->name, k->name, v, srv_field(s, k));
}

#define IN(kind) (1u << (kind))
#define IN_ALL (IN(SK_DEFAULTS) | IN(SK_SERVER) | IN(SK_POOL))
#define FIELD(m) offsetof(struct cfg_server, m), sizeof(((struct cfg_server *)0)->m)

const struct srv_key cfg_srv_keys[F_COUNT] = {
	[F_BIND] = { "bind", IN_ALL, set_bind, FIELD(bind), 0, 0 },
	[F_PORT] = { "port", IN(SK_SERVER), set_port, FIELD(port), 0, 0 },
	/* ports = A-B keeps A in v.port and B in port_hi */
	[F_PORTS] = { "ports", IN(SK_POOL), set_ports, FIELD(port), 0, 0 },
	[F_CPU] = { "cpu", IN(SK_SERVER), set_cpu, FIELD(cpu), 0, 0 },
	[F_TICK_HZ] = { "tick_hz", IN_ALL, set_u32, FIELD(tick_hz), 1, 1000 },
	[F_MAX_CLIENTS] = { "max_clients", IN_ALL, set_u32, FIELD(max_clients),
			    1, RF_CLIENTS_LIMIT },
	[F_CLIENT_TIMEOUT] = { "client_timeout_s", IN_ALL, set_u32,
			       FIELD(client_timeout_s), 1, 3600 },
	[F_MAX_PACKET] = { "max_packet", IN_ALL, set_u32, FIELD(max_packet), 1, 65507 },
	[F_MAX_PPT] = { "max_packets_per_tick", IN_ALL, set_u32,
			FIELD(max_packets_per_tick), 1, 1024 },
	[F_RECV_BUFFERS] = { "recv_buffers", IN_ALL, set_pow2, FIELD(recv_buffers),
			     16, 32768 },
	[F_RCVBUF] = { "socket_rcvbuf", IN_ALL, set_bytes, FIELD(socket_rcvbuf), 0, 0 },
	[F_BACKEND] = { "backend", IN_ALL, set_backend, FIELD(backend), 0, 0 },
	[F_USER] = { "user", IN_ALL, set_account, FIELD(user), 0, 0 },
	[F_GROUP] = { "group", IN_ALL, set_account, FIELD(group), 0, 0 },
	[F_ADMISSION] = { "admission", IN_ALL, set_admission, FIELD(admission), 0, 0 },
	[F_PER_IP] = { "max_clients_per_ip", IN_ALL, set_u32, FIELD(max_clients_per_ip),
		       0, RF_CLIENTS_LIMIT },
};

static int srv_key_index(const char *name)
{
	for (int f = 0; f < F_COUNT; f++)
		if (strcmp(cfg_srv_keys[f].name, name) == 0)
			return f;
	return -1;
}

/* The one section kind a restricted key (port, ports, cpu) belongs to. */
static const char *only_in(unsigned in)
{
	return in == IN(SK_POOL) ? "pool" : "server";
}

void cfg_on_server_key(struct parser *p, const char *name, const char *v)
{
	struct sect *s = p->cur;
	int f = srv_key_index(name);
	char title[CFG_NAME_MAX + 16];

	if (s->kind == SK_DEFAULTS)
		snprintf(title, sizeof(title), "[defaults]");
	else
		cfg_sect_title(s, title, sizeof(title));
	if (f < 0)
		cfg_fail(p, p->lineno, "%s: unknown key in %s", name, title);
	else if (!(cfg_srv_keys[f].in & IN(s->kind)))
		cfg_fail(p, p->lineno, "%s: not allowed in %s, only in [%s NAME]", name,
			 title, only_in(cfg_srv_keys[f].in));
	else if (s->key_line[f])
		cfg_fail(p, p->lineno, "%s: duplicate key in %s, first set on line %d",
			 name, title, s->key_line[f]);
	else if (cfg_srv_keys[f].set(p, &cfg_srv_keys[f], s, v))
		s->key_line[f] = p->lineno;
}

/* ---- [supervisor] keys ---- */

static bool sup_u32(struct parser *p, const struct sup_key *k, const char *v)
{
	return parse_u32(p, k->name, v, k->min, k->max,
			 (uint32_t *)((char *)p->sup + k->off));
}

static bool sup_socket(struct parser *p, const struct sup_key *k, const char *v)
{
	char want[48];

	if (!*v || strlen(v) >= sizeof(p->sup->control_socket)) {
		snprintf(want, sizeof(want), "a socket path of 1..%zu bytes",
			 sizeof(p->sup->control_socket) - 1);
		return bad_value(p, k->name, want, v);
	}
	strcpy(p->sup->control_socket, v);
	return true;
}

static bool sup_group(struct parser *p, const struct sup_key *k, const char *v)
{
	return parse_account(p, k->name, "group", v, p->sup->control_group);
}

/* Octal file mode, digits 0-7 only (strtoul alone would take "+660" or
 * " -0"); the owner must keep read and write. */
static bool sup_mode(struct parser *p, const struct sup_key *k, const char *v)
{
	size_t n = strspn(v, "01234567");
	unsigned long m = n && !v[n] ? strtoul(v, NULL, 8) : ULONG_MAX;

	if (m > 0777 || (m & 0600) != 0600)
		return bad_value(p, k->name, "an octal mode 0600..0777 like 0660", v);
	p->sup->control_mode = (uint32_t)m;
	return true;
}

static bool sup_cpus(struct parser *p, const struct sup_key *k, const char *v)
{
	cpu_set_t set;

	if (cfg_parse_cpulist(v, &set) < 0)
		return bad_value(p, k->name, "a CPU list like 0-3,6", v);
	for (int c = p->ncpus; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			return cpu_absent(p, k->name, c, v);
	p->sup->cpus = set;
	p->sup->cpus_set = true;
	return true;
}

static bool sup_placement(struct parser *p, const struct sup_key *k, const char *v)
{
	if (strcmp(v, "balance") == 0)
		p->sup->placement = CFG_PLACE_BALANCE;
	else if (strcmp(v, "pack") == 0)
		p->sup->placement = CFG_PLACE_PACK;
	else
		return bad_value(p, k->name, "balance or pack", v);
	return true;
}

static bool sup_listen(struct parser *p, const struct sup_key *k, const char *v)
{
	/* Empty means off, like leaving the key out. */
	if (*v && (strlen(v) >= CFG_ADDR_MAX || cfg_parse_listen(v) < 0))
		return bad_value(p, k->name, "ADDR:PORT like 127.0.0.1:9750 or [::1]:9750", v);
	strcpy(p->sup->metrics_listen, v);
	return true;
}

static bool sup_log_level(struct parser *p, const struct sup_key *k, const char *v)
{
	int level = log_level_from_string(v);

	if (level < 0)
		return bad_value(p, k->name, "err, warning, notice, info or debug", v);
	p->sup->log_level = level;
	return true;
}

#define SUP(m) offsetof(struct cfg_supervisor, m)

const struct sup_key cfg_sup_keys[S_COUNT] = {
	[S_CONTROL_SOCKET] = { "control_socket", sup_socket, 0, 0, 0 },
	[S_CONTROL_GROUP] = { "control_group", sup_group, 0, 0, 0 },
	[S_CONTROL_MODE] = { "control_mode", sup_mode, 0, 0, 0 },
	[S_CPUS] = { "cpus", sup_cpus, 0, 0, 0 },
	[S_PLACEMENT] = { "placement", sup_placement, 0, 0, 0 },
	[S_MAX_PER_CPU] = { "max_per_cpu", sup_u32, SUP(max_per_cpu), 1, 4096 },
	[S_METRICS] = { "metrics_listen", sup_listen, 0, 0, 0 },
	[S_HANG] = { "hang_timeout_ms", sup_u32, SUP(hang_timeout_ms), 100, 600000 },
	[S_STOP] = { "stop_timeout_ms", sup_u32, SUP(stop_timeout_ms), 100, 600000 },
	[S_RESTART] = { "restart_delay_ms", sup_u32, SUP(restart_delay_ms), 1, 600000 },
	[S_RESTART_MAX] = { "restart_delay_max_ms", sup_u32, SUP(restart_delay_max_ms),
			    1, 3600000 },
	[S_STABLE] = { "stable_after_s", sup_u32, SUP(stable_after_s), 1, 86400 },
	[S_CRASH_LIMIT] = { "crash_limit", sup_u32, SUP(crash_limit), 1, 60 },
	[S_CRASH_WINDOW] = { "crash_window_s", sup_u32, SUP(crash_window_s), 1, 86400 },
	[S_LOG_LEVEL] = { "log_level", sup_log_level, 0, 0, 0 },
};

void cfg_on_sup_key(struct parser *p, const char *name, const char *v)
{
	int k;

	for (k = 0; k < S_COUNT; k++)
		if (strcmp(cfg_sup_keys[k].name, name) == 0)
			break;
	if (k == S_COUNT)
		cfg_fail(p, p->lineno, "%s: unknown key in [supervisor]", name);
	else if (p->sup_key_line[k])
		cfg_fail(p, p->lineno, "%s: duplicate key in [supervisor], first set on line %d",
			 name, p->sup_key_line[k]);
	else if (cfg_sup_keys[k].set(p, &cfg_sup_keys[k], v))
		p->sup_key_line[k] = p->lineno;
}
