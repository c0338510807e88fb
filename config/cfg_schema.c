// SPDX-License-Identifier: Apache-2.0
/* cfg_schema.c - see cfg_schema.h: the per-server key table, its setters
 * and formatters, cfg_server_init() and cfg_server_equal(). */
#include "config/cfg_schema.h"
#include "config/cfg_value.h"
#include "common/kv.h"
#include "common/slot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The common `expected WHAT, got "VALUE"`. */
static int bad_value(char *why, size_t len, const char *expected, const char *value)
{
	snprintf(why, len, "expected %s, got \"%s\"", expected, value);
	return -EINVAL;
}

static int put(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int put(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

int cfg_set_u32_range(const char *v, uint32_t min, uint32_t max, uint32_t *out, char *why,
		      size_t len)
{
	char want[32];
	uint64_t n;

	if (cfg_parse_uint(v, max, &n) < 0 || n < min) {
		snprintf(want, sizeof(want), "%u..%u", min, max);
		return bad_value(why, len, want, v);
	}
	*out = (uint32_t)n;
	return 0;
}

int cfg_set_account(const char *kind, const char *v, char *out, char *why, size_t len)
{
	char want[80];

	if (*v && !cfg_account_ok(v, CFG_USER_MAX - 1)) {
		snprintf(want, sizeof(want), "a %s name of 1..%d characters [A-Za-z0-9._-]", kind,
			 CFG_USER_MAX - 1);
		return bad_value(why, len, want, v);
	}
	strcpy(out, v);
	return 0;
}

static void *field(struct cfg_server *s, const struct cfg_key *k)
{
	return (char *)s + k->off;
}

static const void *cfield(const struct cfg_server *s, const struct cfg_key *k)
{
	return (const char *)s + k->off;
}

/* ---- setters ---- */

static int set_u32(const struct cfg_key *k, struct cfg_server *s, const char *v,
		   const struct cfg_key_ctx *ctx, char *why, size_t len)
{
	(void)ctx;
	return cfg_set_u32_range(v, k->min, k->max, field(s, k), why, len);
}

static int set_pow2(const struct cfg_key *k, struct cfg_server *s, const char *v,
		    const struct cfg_key_ctx *ctx, char *why, size_t len)
{
	char want[48];
	uint64_t n;

	(void)ctx;
	if (cfg_parse_uint(v, k->max, &n) < 0 || n < k->min || (n & (n - 1))) {
		snprintf(want, sizeof(want), "a power of two %u..%u", k->min, k->max);
		return bad_value(why, len, want, v);
	}
	*(uint32_t *)field(s, k) = (uint32_t)n;
	return 0;
}

static int set_bytes(const struct cfg_key *k, struct cfg_server *s, const char *v,
		     const struct cfg_key_ctx *ctx, char *why, size_t len)
{
	uint64_t n;

	(void)ctx;
	if (cfg_parse_bytes(v, &n) < 0 || n < (4u << 10) || n > (1u << 30))
		return bad_value(why, len, "4K..1G (bytes, or with a K, M or G suffix)", v);
	*(uint64_t *)field(s, k) = n;
	return 0;
}

static int set_bind(const struct cfg_key *k, struct cfg_server *s, const char *v,
		    const struct cfg_key_ctx *ctx, char *why, size_t len)
{
	(void)ctx;
	/* Stored canonical so "::0" and "::" compare equal. */
	if (cfg_parse_addr(v, field(s, k), CFG_ADDR_MAX) < 0)
		return bad_value(why, len, "a numeric IPv4 or IPv6 address", v);
	return 0;
}

static int set_port(const struct cfg_key *k, struct cfg_server *s, const char *v,
		    const struct cfg_key_ctx *ctx, char *why, size_t len)
{
	uint32_t port;
	int ret = cfg_set_u32_range(v, k->min, k->max, &port, why, len);

	(void)ctx;
	if (ret == 0)
		s->port = (uint16_t)port;
	return ret;
}

static int set_ports(const struct cfg_key *k, struct cfg_server *s, const char *v,
		     const struct cfg_key_ctx *ctx, char *why, size_t len)
{
	char want[48];
	uint16_t hi;
	int ret = cfg_parse_port_range(v, &s->port, &hi);

	(void)k;
	if (ret == -ERANGE)
		return bad_value(why, len, "A-B with A <= B", v);
	if (ret < 0)
		return bad_value(why, len, "A-B with ports 1..65535", v);
	if (hi - s->port + 1 > CFG_POOL_MAX_PORTS) {
		snprintf(want, sizeof(want), "at most %d ports", CFG_POOL_MAX_PORTS);
		return bad_value(why, len, want, v);
	}
	if (ctx->port_hi)
		*ctx->port_hi = hi;
	return 0;
}

static int set_cpu(const struct cfg_key *k, struct cfg_server *s, const char *v,
		   const struct cfg_key_ctx *ctx, char *why, size_t len)
{
	uint64_t n;

	(void)k;
	if (cfg_parse_uint(v, INT32_MAX, &n) < 0)
		return bad_value(why, len, "a CPU number", v);
	if (n >= (uint64_t)ctx->ncpus) {
		char cpus[32];

		if (ctx->ncpus == 1)
			snprintf(cpus, sizeof(cpus), "0");
		else
			snprintf(cpus, sizeof(cpus), "0-%d", ctx->ncpus - 1);
		snprintf(why, len, "CPU %d does not exist on this machine (CPUs %s), got \"%s\"",
			 (int)n, cpus, v);
		return -EINVAL;
	}
	s->cpu = (int)n;
	return 0;
}

static int set_backend(const struct cfg_key *k, struct cfg_server *s, const char *v,
		       const struct cfg_key_ctx *ctx, char *why, size_t len)
{
	int b = rf_backend_parse(v);

	(void)k, (void)ctx;
	if (b < 0)
		return bad_value(why, len, "auto, io_uring or mmsg", v);
	s->backend = (enum rf_backend)b;
	return 0;
}

static const char *const admission_names[] = {
	[RF_ADMISSION_COOKIE] = "cookie",
	[RF_ADMISSION_OPEN] = "open",
	[RF_ADMISSION_TOKEN] = "token",
};

/* token needs the host key ([supervisor] token_key_file): the whole-file
 * check refuses a token server without one. */
static int set_admission(const struct cfg_key *k, struct cfg_server *s, const char *v,
			 const struct cfg_key_ctx *ctx, char *why, size_t len)
{
	(void)k, (void)ctx;
	if (strcmp(v, "cookie") == 0) {
		s->admission = RF_ADMISSION_COOKIE;
	} else if (strcmp(v, "open") == 0) {
		s->admission = RF_ADMISSION_OPEN;
	} else if (strcmp(v, "token") == 0) {
		s->admission = RF_ADMISSION_TOKEN;
	} else {
		return bad_value(why, len, "cookie, open or token", v);
	}
	return 0;
}

static int set_onoff(const struct cfg_key *k, struct cfg_server *s, const char *v,
		     const struct cfg_key_ctx *ctx, char *why, size_t len)
{
	uint32_t *f = field(s, k);

	(void)ctx;
	if (strcmp(v, "on") == 0)
		*f = 1;
	else if (strcmp(v, "off") == 0)
		*f = 0;
	else
		return bad_value(why, len, "on or off", v);
	return 0;
}

static int set_account(const struct cfg_key *k, struct cfg_server *s, const char *v,
		       const struct cfg_key_ctx *ctx, char *why, size_t len)
{
	(void)ctx;
	return cfg_set_account(k->name, v, field(s, k), why, len);
}

/* "relay" (built in) or an absolute path to a module: one argv element
 * of the worker, so printable; safe on this host when ctx can tell. */
static int set_game(const struct cfg_key *k, struct cfg_server *s, const char *v,
		    const struct cfg_key_ctx *ctx, char *why, size_t len)
{
	char real[CFG_GAME_MAX];
	size_t n = strlen(v);

	if (strcmp(v, "relay") == 0) {
		memcpy(field(s, k), v, n + 1);
		return 0;
	}
	if (v[0] != '/')
		return bad_value(why, len, "relay, or an absolute path to a game module", v);
	if (n >= k->size)
		return bad_value(why, len, "a path of at most 255 bytes", v);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return bad_value(why, len, "a path without control characters", v);
	if (!ctx->check_module) {
		memcpy(field(s, k), v, n + 1);
		return 0;
	}
	if (ctx->check_module(ctx->check_arg, v, real, sizeof(real), why, len) < 0)
		return -EINVAL;
	memcpy(field(s, k), real, strlen(real) + 1);
	return 0;
}

/* Free text, one argv element of the worker: printable, bounded. */
static int set_text(const struct cfg_key *k, struct cfg_server *s, const char *v,
		    const struct cfg_key_ctx *ctx, char *why, size_t len)
{
	size_t n = strlen(v);

	(void)ctx;
	if (n >= k->size)
		return bad_value(why, len, "at most 255 bytes", v);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return bad_value(why, len, "printable text, no control characters", v);
	memcpy(field(s, k), v, n + 1);
	return 0;
}

/* "k=v, k2=v2" (common/kv.h rules), kept as "k=v,k2=v2". */
static int set_labels(const struct cfg_key *k, struct cfg_server *s, const char *v,
		      const struct cfg_key_ctx *ctx, char *why, size_t len)
{
	struct kv_list l;
	char *out = field(s, k);
	int rc;

	(void)ctx;
	rc = kv_parse_list(&l, v, "label", why, len);
	if (rc < 0)
		return rc;
	if (kv_format_list(&l, out, k->size, ",") < 0) {
		snprintf(why, len, "at most %zu bytes written as k=v,k2=v2", k->size - 1);
		out[0] = '\0';
		return -EINVAL;
	}
	return 0;
}

/* ---- formatters: each writes what its setter reads ---- */

static int fmt_u32(const struct cfg_key *k, const struct cfg_server *s, char *buf, size_t len)
{
	return put(buf, len, "%u", *(const uint32_t *)cfield(s, k));
}

static int fmt_u64(const struct cfg_key *k, const struct cfg_server *s, char *buf, size_t len)
{
	return put(buf, len, "%llu", (unsigned long long)*(const uint64_t *)cfield(s, k));
}

static int fmt_port(const struct cfg_key *k, const struct cfg_server *s, char *buf, size_t len)
{
	(void)k;
	return put(buf, len, "%u", s->port);
}

static int fmt_cpu(const struct cfg_key *k, const struct cfg_server *s, char *buf, size_t len)
{
	(void)k;
	return put(buf, len, "%d", s->cpu);
}

static int fmt_str(const struct cfg_key *k, const struct cfg_server *s, char *buf, size_t len)
{
	return put(buf, len, "%s", (const char *)cfield(s, k));
}

static int fmt_onoff(const struct cfg_key *k, const struct cfg_server *s, char *buf, size_t len)
{
	return put(buf, len, "%s", *(const uint32_t *)cfield(s, k) ? "on" : "off");
}

static int fmt_backend(const struct cfg_key *k, const struct cfg_server *s, char *buf, size_t len)
{
	(void)k;
	return put(buf, len, "%s",
		   s->backend < RF_BACKEND_COUNT ? rf_backend_names[s->backend] : "?");
}

const char *cfg_admission_name(enum rf_admission a)
{
	return a <= RF_ADMISSION_TOKEN ? admission_names[a] : "?";
}

static int fmt_admission(const struct cfg_key *k, const struct cfg_server *s, char *buf, size_t len)
{
	(void)k;
	return put(buf, len, "%s", cfg_admission_name(s->admission));
}

/* ---- the table ---- */

#define IN(kind) (1u << (kind))
#define IN_ALL (IN(SK_DEFAULTS) | IN(SK_SERVER) | IN(SK_POOL))
#define FIELD(m) offsetof(struct cfg_server, m), sizeof(((struct cfg_server *)0)->m)
#define NUM(m) CFG_T_NUM, FIELD(m)
#define STR(m) CFG_T_STR, FIELD(m)

const struct cfg_key cfg_srv_keys[] = {
	[F_BIND] = { "bind", IN_ALL, false, set_bind, fmt_str, STR(bind), 0, 0, "0.0.0.0", "ADDR",
		     "numeric address the socket binds" },
	[F_PORT] = { "port", IN(SK_SERVER), false, set_port, fmt_port, NUM(port), 1, 65535, NULL,
		     "PORT", "UDP port" },
	/* ports = A-B keeps A in port and B in the context's port_hi */
	[F_PORTS] = { "ports", IN(SK_POOL), false, set_ports, fmt_port, NUM(port), 0, 0, NULL,
		      "A-B", "UDP ports, one server each" },
	[F_CPU] = { "cpu", IN(SK_SERVER), false, set_cpu, fmt_cpu, NUM(cpu), 0, 0, NULL, "N",
		    "pin to this CPU" },
	[F_TICK_HZ] = { "tick_hz", IN_ALL, true, set_u32, fmt_u32, NUM(tick_hz), 1, 1000, "50", "N",
			"ticks per second" },
	[F_MAX_CLIENTS] = { "max_clients", IN_ALL, true, set_u32, fmt_u32, NUM(max_clients), 1,
			    RF_CLIENTS_LIMIT, "64", "N", "clients in the table" },
	[F_CLIENT_TIMEOUT] = { "client_timeout_s", IN_ALL, true, set_u32, fmt_u32,
			       NUM(client_timeout_s), 1, 3600, "10", "N",
			       "silence before a client is dropped" },
	[F_MAX_PACKET] = { "max_packet", IN_ALL, true, set_u32, fmt_u32, NUM(max_packet), 1, 65507,
			   "1400", "N", "largest datagram relayed" },
	[F_MAX_PPT] = { "max_packets_per_tick", IN_ALL, true, set_u32, fmt_u32,
			NUM(max_packets_per_tick), 1, 1024, "64", "N", "per client" },
	[F_RECV_BUFFERS] = { "recv_buffers", IN_ALL, true, set_pow2, fmt_u32, NUM(recv_buffers), 16,
			     32768, "1024", "N", "power of two" },
	[F_RCVBUF] = { "socket_rcvbuf", IN_ALL, false, set_bytes, fmt_u64, NUM(socket_rcvbuf), 0, 0,
		       "4M", "BYTES", "SO_RCVBUF of the socket, 4K..1G" },
	[F_BACKEND] = { "backend", IN_ALL, true, set_backend, fmt_backend, NUM(backend), 0, 0,
			"auto", "auto|io_uring|mmsg", "I/O backend" },
	[F_USER] = { "user", IN_ALL, false, set_account, fmt_str, STR(user), 0, 0, NULL, "USER",
		     "run the worker as this user" },
	[F_GROUP] = { "group", IN_ALL, false, set_account, fmt_str, STR(group), 0, 0, NULL, "GROUP",
		      "and group (default: the user's)" },
	[F_ADMISSION] = { "admission", IN_ALL, true, set_admission, fmt_admission, NUM(admission),
			  0, 0, "cookie", "cookie|open",
			  "cookie: a source must answer a challenge before it is relayed "
			  "to; open: any source (trusted networks only)" },
	[F_PER_IP] = { "max_clients_per_ip", IN_ALL, true, set_u32, fmt_u32,
		       NUM(max_clients_per_ip), 0, RF_CLIENTS_LIMIT, "4", "N",
		       "table entries one IPv4 address or IPv6 /64 may hold, 0 = unlimited" },
	[F_GAME] = { "game", IN_ALL, true, set_game, fmt_str, STR(game), 0, 0, "relay",
		     "relay|PATH", "the built-in relay, or an absolute path to a game module" },
	[F_GAME_ARGS] = { "game_args", IN_ALL, true, set_text, fmt_str, STR(game_args), 0, 0, "",
			  "TEXT", "handed to the game module's init" },
	[F_MAX_OUTPUT] = { "max_output_per_tick", IN_ALL, true, set_u32, fmt_u32,
			   NUM(max_output_per_tick), 1, 1048576, "65536", "N",
			   "datagrams a tick may send, each destination counted" },
	[F_DRAIN_TIMEOUT] = { "drain_timeout_ms", IN_ALL, true, set_u32, fmt_u32,
			      NUM(drain_timeout_ms), 0, 600000, "1000", "MS",
			      "time a stopping game module has to say goodbye" },
	[F_LABELS] = { "labels", IN_ALL, false, set_labels, fmt_str, STR(labels), 0, 0, "",
		       "K=V,...",
		       "what allocation selectors match (at most 16; keys a-z 0-9 _ . -)" },
	{ "session_idle_s", IN_ALL, true, set_u32, fmt_u32, NUM(session_idle_s), 1, 86400, "60",
	  "S",
	  "an allocated session with no client this long ends (the relay; "
	  "modules read it at init)" },
	{ "idle_sleep", IN_ALL, true, set_onoff, fmt_onoff, NUM(idle_sleep), 0, 0, "on", "on|off",
	  "with no client and no match, a game that allows it sleeps on its socket instead of "
	  "ticking" },
};

#define N_KEYS (sizeof(cfg_srv_keys) / sizeof(cfg_srv_keys[0]))
_Static_assert(N_KEYS >= F_NAMED && N_KEYS <= CFG_KEYS_MAX, "raise CFG_KEYS_MAX");
const int cfg_srv_nkeys = (int)N_KEYS;

/* ---- walking the table ---- */

const struct cfg_key *cfg_key_find(const char *name)
{
	for (int f = 0; f < cfg_srv_nkeys; f++)
		if (strcmp(cfg_srv_keys[f].name, name) == 0)
			return &cfg_srv_keys[f];
	return NULL;
}

int cfg_key_flag(const struct cfg_key *k, char *buf, size_t len)
{
	size_t n = strlen(k->name);

	if (n >= len)
		return -ENOSPC;
	for (size_t i = 0; i <= n; i++)
		buf[i] = (char)(k->name[i] == '_' ? '-' : k->name[i]);
	return 0;
}

bool cfg_key_equal(const struct cfg_key *k, const struct cfg_server *a, const struct cfg_server *b)
{
	if (k->type == CFG_T_STR)
		return strncmp(cfield(a, k), cfield(b, k), k->size) == 0;
	return memcmp(cfield(a, k), cfield(b, k), k->size) == 0;
}

int cfg_key_worker_arg(const struct cfg_key *k, const struct cfg_server *s, char *buf, size_t len)
{
	char flag[CFG_FLAG_MAX];
	int n;

	if (cfg_key_flag(k, flag, sizeof(flag)) < 0)
		return -ENOSPC;
	n = snprintf(buf, len, "--%s=", flag);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return k->fmt(k, s, buf + n, len - (size_t)n);
}

void cfg_server_init(struct cfg_server *s)
{
	struct cfg_key_ctx ctx = { .ncpus = 0 };
	char why[CFG_WHY_MAX];

	memset(s, 0, sizeof(*s));
	s->cpu = -1; /* no pin: not a value a file can write */
	for (int f = 0; f < cfg_srv_nkeys; f++) {
		const struct cfg_key *k = &cfg_srv_keys[f];

		if (k->def)
			k->set(k, s, k->def, &ctx, why, sizeof(why));
	}
}

bool cfg_server_equal(const struct cfg_server *a, const struct cfg_server *b)
{
	if (strcmp(a->name, b->name) != 0)
		return false;
	for (int f = 0; f < cfg_srv_nkeys; f++)
		if (f != F_LABELS && !cfg_key_equal(&cfg_srv_keys[f], a, b))
			return false; /* labels: applied in place (fleet_apply) */
	return true;
}
