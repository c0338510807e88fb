// SPDX-License-Identifier: Apache-2.0
/* cfg_keys.c - the loader's key handlers: a [defaults]/[server]/[pool]
 * key goes through the table of cfg_schema.c (where it may appear, its
 * setter), a [supervisor] key through the table here. A key is checked
 * the moment inih hands it over, so errors come out in file order.
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

/* A setter's failure as "KEY: WHY" on the current line. */
static bool failed(struct parser *p, const char *key, const char *why)
{
	cfg_fail(p, p->lineno, "%s: %s", key, why);
	return false;
}

/* The common `KEY: expected WHAT, got "VALUE"` for the current line. */
static bool bad_value(struct parser *p, const char *key, const char *expected, const char *value)
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

/* ---- [defaults] / [server] / [pool] keys: the table in cfg_schema.c ---- */

#define IN(kind) (1u << (kind))

/* The one section kind a restricted key (port, ports, cpu) belongs to. */
static const char *only_in(unsigned in)
{
	return in == IN(SK_POOL) ? "pool" : "server";
}

void cfg_on_server_key(struct parser *p, const char *name, const char *v)
{
	struct sect *s = p->cur;
	const struct cfg_key *k = cfg_key_find(name);
	int f = k ? (int)(k - cfg_srv_keys) : -1;
	struct cfg_key_ctx ctx = { .ncpus = p->ncpus,
				   .port_hi = &s->port_hi,
				   .check_module = p->check_host ? cfg_host_check_module : NULL,
				   .check_arg = p };
	char title[CFG_NAME_MAX + 16], why[CFG_WHY_MAX];

	if (s->kind == SK_DEFAULTS)
		snprintf(title, sizeof(title), "[defaults]");
	else
		cfg_sect_title(s, title, sizeof(title));
	if (f < 0)
		cfg_fail(p, p->lineno, "%s: unknown key in %s", name, title);
	else if (!(k->in & IN(s->kind)))
		cfg_fail(p, p->lineno, "%s: not allowed in %s, only in [%s NAME]", name, title,
			 only_in(k->in));
	else if (s->key_line[f])
		cfg_fail(p, p->lineno, "%s: duplicate key in %s, first set on line %d", name, title,
			 s->key_line[f]);
	else if (k->set(k, &s->v, v, &ctx, why, sizeof(why)) < 0)
		failed(p, name, why);
	else
		s->key_line[f] = p->lineno;
}

/* ---- [supervisor] keys ---- */

static bool sup_u32(struct parser *p, const struct sup_key *k, const char *v)
{
	char why[CFG_WHY_MAX];

	if (cfg_set_u32_range(v, k->min, k->max, (uint32_t *)((char *)p->sup + k->off), why,
			      sizeof(why)) < 0)
		return failed(p, k->name, why);
	return true;
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
	char why[CFG_WHY_MAX];

	if (cfg_set_account("group", v, p->sup->control_group, why, sizeof(why)) < 0)
		return failed(p, k->name, why);
	return true;
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

/* metrics_listen, api_listen. */
static bool sup_listen(struct parser *p, const struct sup_key *k, const char *v)
{
	/* Empty means off, like leaving the key out. */
	if (*v && (strlen(v) >= CFG_ADDR_MAX || cfg_parse_listen(v) < 0))
		return bad_value(p, k->name, "ADDR:PORT like 127.0.0.1:9750 or [::1]:9750", v);
	strcpy((char *)p->sup + k->off, v);
	return true;
}

/* A file ringfleetd reads: absolute, so a reload from another working
 * directory reads the same one. */
static bool sup_path(struct parser *p, const struct sup_key *k, const char *v)
{
	char want[48];

	if (v[0] != '/' || strlen(v) >= CFG_PATH_MAX) {
		snprintf(want, sizeof(want), "an absolute path of at most %d bytes",
			 CFG_PATH_MAX - 1);
		return bad_value(p, k->name, want, v);
	}
	strcpy((char *)p->sup + k->off, v);
	return true;
}

static bool sup_yes_no(struct parser *p, const struct sup_key *k, const char *v)
{
	bool *b = (bool *)((char *)p->sup + k->off);

	if (strcmp(v, "yes") == 0)
		*b = true;
	else if (strcmp(v, "no") == 0)
		*b = false;
	else
		return bad_value(p, k->name, "yes or no", v);
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

static bool sup_token_key(struct parser *p, const struct sup_key *k, const char *v)
{
	char want[48];

	if (v[0] != '/' || strlen(v) >= sizeof(p->sup->token_key_file)) {
		snprintf(want, sizeof(want), "an absolute path of 1..%zu bytes",
			 sizeof(p->sup->token_key_file) - 1);
		return bad_value(p, k->name, want, v);
	}
	strcpy(p->sup->token_key_file, v);
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
	[S_METRICS] = { "metrics_listen", sup_listen, SUP(metrics_listen), 0, 0 },
	[S_HANG] = { "hang_timeout_ms", sup_u32, SUP(hang_timeout_ms), 100, 600000 },
	[S_STOP] = { "stop_timeout_ms", sup_u32, SUP(stop_timeout_ms), 100, 600000 },
	[S_RESTART] = { "restart_delay_ms", sup_u32, SUP(restart_delay_ms), 1, 600000 },
	[S_RESTART_MAX] = { "restart_delay_max_ms", sup_u32, SUP(restart_delay_max_ms), 1,
			    3600000 },
	[S_STABLE] = { "stable_after_s", sup_u32, SUP(stable_after_s), 1, 86400 },
	[S_CRASH_LIMIT] = { "crash_limit", sup_u32, SUP(crash_limit), 1, 60 },
	[S_CRASH_WINDOW] = { "crash_window_s", sup_u32, SUP(crash_window_s), 1, 86400 },
	[S_LOG_LEVEL] = { "log_level", sup_log_level, 0, 0, 0 },
	[S_TOKEN_KEY_FILE] = { "token_key_file", sup_token_key, 0, 0, 0 },
	[S_TOKEN_TTL] = { "token_ttl_s", sup_u32, SUP(token_ttl_s), 1, 86400 },
	[S_ORPHAN_TIMEOUT] = { "orphan_timeout_s", sup_u32, SUP(orphan_timeout_s), 0, 86400 },
	[S_API_LISTEN] = { "api_listen", sup_listen, SUP(api_listen), 0, 0 },
	[S_API_TOKEN_FILE] = { "api_token_file", sup_path, SUP(api_token_file), 0, 0 },
	[S_API_TLS_CERT] = { "api_tls_cert", sup_path, SUP(api_tls_cert), 0, 0 },
	[S_API_TLS_KEY] = { "api_tls_key", sup_path, SUP(api_tls_key), 0, 0 },
	[S_API_INSECURE] = { "api_insecure", sup_yes_no, SUP(api_insecure), 0, 0 },
	[S_REALTIME] = { "realtime", sup_yes_no, SUP(realtime), 0, 0 },
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
