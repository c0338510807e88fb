// SPDX-License-Identifier: Apache-2.0
/* cfg_resolve.c - the loader's second pass: lays [defaults] and then each
 * section over the built-in defaults, expands pools into servers and runs
 * the checks that span sections (duplicates, port collisions, cpu within
 * cpus, backoff and tick limits). Every check is a hash or a sort, never a
 * pairwise scan, so 10,000 servers load in milliseconds.
 */
#include "config/cfg_load.h"
#include "config/cfg_names.h"
#include "config/cfg_value.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Values of one server-to-be, with the line each one came from. */
struct tmpl {
	struct cfg_server v;
	int line[CFG_KEYS_MAX];
};

static void tmpl_apply(struct tmpl *t, const struct sect *s)
{
	for (int f = 0; f < cfg_srv_nkeys; f++) {
		const struct cfg_key *k = &cfg_srv_keys[f];

		if (!s->key_line[f])
			continue;
		memcpy((char *)&t->v + k->off, (const char *)&s->v + k->off, k->size);
		t->line[f] = s->key_line[f];
	}
}

static void check_backoff(struct parser *p)
{
	const struct cfg_supervisor *sup = p->sup;

	if (sup->restart_delay_max_ms >= sup->restart_delay_ms)
		return;
	if (p->sup_key_line[S_RESTART_MAX])
		cfg_fail(
			p, p->sup_key_line[S_RESTART_MAX],
			"restart_delay_max_ms: expected at least restart_delay_ms (%u), got \"%u\"",
			sup->restart_delay_ms, sup->restart_delay_max_ms);
	else
		cfg_fail(p, p->sup_key_line[S_RESTART],
			 "restart_delay_ms: expected at most restart_delay_max_ms (%u), got \"%u\"",
			 sup->restart_delay_max_ms, sup->restart_delay_ms);
}

/* [server x] twice, or [pool x] twice (a server and a pool may share a
 * name: pool members are called x-PORT). */
static void check_sections_unique(struct parser *p)
{
	struct cfg_names names[2] = { 0 };
	char title[CFG_NAME_MAX + 16];
	size_t stride = sizeof(struct sect);
	const char *first;

	if (!p->n_sects)
		return;
	first = p->sects[0].v.name;
	if (cfg_names_init(&names[0], first, stride, p->n_sects) < 0 ||
	    cfg_names_init(&names[1], first, stride, p->n_sects) < 0) {
		cfg_fail_errno(p, ENOMEM);
		goto out;
	}
	for (size_t i = 0; i < p->n_sects && !p->err_code; i++) {
		const struct sect *s = &p->sects[i];
		long j = cfg_names_add(&names[s->kind == SK_POOL], (uint32_t)i);

		if (j >= 0)
			cfg_fail(p, s->line, "%s: duplicate section, first on line %d",
				 cfg_sect_title(s, title, sizeof(title)), p->sects[j].line);
	}
out:
	cfg_names_free(&names[0]);
	cfg_names_free(&names[1]);
}

static size_t sect_servers(const struct sect *s)
{
	if (s->kind == SK_SERVER)
		return 1;
	return s->key_line[F_PORTS] ? (size_t)(s->port_hi - s->v.port) + 1 : 0;
}

static size_t count_servers(struct parser *p)
{
	char title[CFG_NAME_MAX + 16];
	size_t total = 0;

	for (size_t i = 0; i < p->n_sects; i++) {
		total += sect_servers(&p->sects[i]);
		if (total > CFG_MAX_SERVERS) {
			cfg_fail(p, p->sects[i].line,
				 "%s: too many servers, expected at most %d in total",
				 cfg_sect_title(&p->sects[i], title, sizeof(title)),
				 CFG_MAX_SERVERS);
			return 0;
		}
	}
	return total;
}

static bool check_required(struct parser *p, const struct sect *s)
{
	if (s->kind == SK_SERVER && !s->key_line[F_PORT])
		cfg_fail(p, s->line, "port: missing in [server %s], expected 1..65535", s->v.name);
	else if (s->kind == SK_POOL && !s->key_line[F_PORTS])
		cfg_fail(p, s->line, "ports: missing in [pool %s], expected A-B like 7100-7139",
			 s->v.name);
	return !p->err_code;
}

static bool check_cpu(struct parser *p, const struct tmpl *t)
{
	char cpus[256];

	if (t->v.cpu < 0 || !p->sup->cpus_set || CPU_ISSET(t->v.cpu, &p->sup->cpus))
		return true;
	if (cfg_format_cpulist(&p->sup->cpus, cpus, sizeof(cpus)) < 0)
		strcpy(cpus, "...");
	cfg_fail(p, t->line[F_CPU], "cpu: expected a CPU in cpus (%s), got \"%d\"", cpus, t->v.cpu);
	return false;
}

/* A worker heartbeats once per tick; the supervisor must see at least two
 * ticks per hang_timeout_ms or it would kill healthy workers forever. */
static bool check_tick(struct parser *p, const struct tmpl *t)
{
	uint32_t hang = p->sup->hang_timeout_ms;
	uint32_t min_hz = (2000 + hang - 1) / hang;

	if (t->v.tick_hz >= min_hz)
		return true;
	cfg_fail(p, t->line[F_TICK_HZ],
		 "tick_hz: expected %u..1000 with hang_timeout_ms = %u, got \"%u\"", min_hz, hang,
		 t->v.tick_hz);
	return false;
}

/* The supervisor SIGKILLs a stopping worker stop_timeout_ms after its
 * SIGTERM: a drain allowed as long or longer would be cut short. */
static bool check_drain(struct parser *p, const struct tmpl *t)
{
	uint32_t stop = p->sup->stop_timeout_ms, drain = t->v.drain_timeout_ms;

	if (drain < stop)
		return true;
	if (t->line[F_DRAIN_TIMEOUT])
		cfg_fail(p, t->line[F_DRAIN_TIMEOUT],
			 "drain_timeout_ms: expected less than stop_timeout_ms (%u), got \"%u\"",
			 stop, drain);
	else
		cfg_fail(p, p->sup_key_line[S_STOP],
			 "stop_timeout_ms: expected more than drain_timeout_ms (%u by default), "
			 "got \"%u\"",
			 drain, stop);
	return false;
}

static void add_pool(struct parser *p, const struct sect *s, struct tmpl *t, struct cfg *out)
{
	strcpy(t->v.pool, s->v.name);
	for (unsigned port = s->v.port; port <= s->port_hi; port++) {
		if (snprintf(t->v.name, CFG_NAME_MAX, "%s-%u", s->v.name, port) >= CFG_NAME_MAX) {
			cfg_fail(
				p, s->line,
				"[pool %s]: expected a shorter name, \"%s-%u\" is over %d characters",
				s->v.name, s->v.name, port, CFG_NAME_MAX - 1);
			return;
		}
		t->v.port = (uint16_t)port;
		out->servers[out->n_servers++] = t->v;
	}
}

/* A token server admits no one without the host key. */
static bool check_token(struct parser *p, const struct tmpl *t, const struct sect *s)
{
	if (t->v.admission != RF_ADMISSION_TOKEN || p->sup->token_key_file[0])
		return true;
	cfg_fail(p, t->line[F_ADMISSION] ? t->line[F_ADMISSION] : s->line,
		 "admission: token needs token_key_file in [supervisor]");
	return false;
}

static void add_sect_servers(struct parser *p, const struct tmpl *dflt, const struct sect *s,
			     struct cfg *out)
{
	struct tmpl t = *dflt;

	tmpl_apply(&t, s);
	if (!check_required(p, s) || !check_cpu(p, &t) || !check_tick(p, &t) ||
	    !check_drain(p, &t) || !check_token(p, &t, s) ||
	    !cfg_host_check_server(p, &t.v, t.line))
		return;
	t.v.line = s->line;
	t.v.game_line = t.line[F_GAME];
	if (s->kind == SK_POOL) {
		add_pool(p, s, &t, out);
		return;
	}
	strcpy(t.v.name, s->v.name);
	out->servers[out->n_servers++] = t.v;
}

static const char *server_title(const struct cfg_server *s, char *buf, size_t len)
{
	if (s->pool[0])
		snprintf(buf, len, "[pool %s]", s->pool);
	else
		snprintf(buf, len, "[server %s]", s->name);
	return buf;
}

/* Pool members may collide with a [server] or another pool's members.
 * The table built here stays on as out->index for cfg_find_server(). */
static void check_names(struct parser *p, struct cfg *out)
{
	char t1[CFG_NAME_MAX + 16], t2[CFG_NAME_MAX + 16];
	const struct cfg_server *s = out->servers;
	struct cfg_names *idx;

	if (!out->n_servers)
		return;
	idx = calloc(1, sizeof(*idx));
	if (!idx || cfg_names_init(idx, s[0].name, sizeof(*s), out->n_servers) < 0) {
		free(idx);
		cfg_fail_errno(p, ENOMEM);
		return;
	}
	out->index = idx;
	for (size_t i = 0; i < out->n_servers && !p->err_code; i++) {
		long j = cfg_names_add(idx, (uint32_t)i);

		if (j >= 0)
			cfg_fail(p, s[i].line,
				 "%s: server name \"%s\" already used by %s on line %d",
				 server_title(&s[i], t1, sizeof(t1)), s[i].name,
				 server_title(&s[j], t2, sizeof(t2)), s[j].line);
	}
}

/* One server's socket address, sortable: by port, wildcards first. */
struct port_key {
	uint16_t port;
	uint8_t any;
	uint8_t family;
	unsigned char addr[16];
	uint32_t idx;
};

static int port_key_cmp(const void *a, const void *b)
{
	const struct port_key *x = a, *y = b;
	int d;

	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->any != y->any)
		return x->any ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	d = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (d)
		return d;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void port_key_init(struct port_key *k, const struct cfg_server *s, uint32_t idx)
{
	memset(k, 0, sizeof(*k));
	k->port = s->port;
	k->idx = idx;
	k->any = cfg_addr_is_any(s->bind);
	k->family = AF_INET;
	if (inet_pton(AF_INET, s->bind, k->addr) != 1) {
		k->family = AF_INET6;
		inet_pton(AF_INET6, s->bind, k->addr);
	}
}

static bool same_addr(const struct port_key *a, const struct port_key *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static void collide(struct parser *p, const struct cfg *out, uint32_t i, uint32_t j)
{
	const struct cfg_server *a, *b;

	if (i > j) {
		uint32_t tmp = i;

		i = j;
		j = tmp;
	}
	a = &out->servers[i];
	b = &out->servers[j];
	cfg_fail(p, b->line,
		 "port: server \"%s\" on %s port %u collides with server \"%s\" on %s from line %d",
		 b->name, b->bind, b->port, a->name, a->bind, a->line);
}

/* Within one port, a wildcard bind (sorted first) overlaps every other
 * server; otherwise only equal addresses (then adjacent) overlap. */
static void check_port_group(struct parser *p, const struct cfg *out, const struct port_key *k,
			     size_t n)
{
	if (n > 1 && k[0].any) {
		collide(p, out, k[0].idx, k[1].idx);
		return;
	}
	for (size_t i = 0; i + 1 < n; i++) {
		if (same_addr(&k[i], &k[i + 1])) {
			collide(p, out, k[i].idx, k[i + 1].idx);
			return;
		}
	}
}

static void check_ports(struct parser *p, const struct cfg *out)
{
	size_t n = out->n_servers, a, b;
	struct port_key *keys;

	if (n < 2)
		return;
	keys = malloc(n * sizeof(*keys));
	if (!keys) {
		cfg_fail_errno(p, ENOMEM);
		return;
	}
	for (size_t i = 0; i < n; i++)
		port_key_init(&keys[i], &out->servers[i], (uint32_t)i);
	qsort(keys, n, sizeof(*keys), port_key_cmp);
	for (a = 0; a < n && !p->err_code; a = b) {
		for (b = a + 1; b < n && keys[b].port == keys[a].port; b++)
			;
		check_port_group(p, out, &keys[a], b - a);
	}
	free(keys);
}

void cfg_resolve(struct parser *p, struct cfg *out)
{
	struct tmpl dflt = { 0 };
	size_t total;

	check_backoff(p);
	if (!p->err_code)
		cfg_host_check_sup(p);
	if (!p->err_code)
		cfg_api_check(p, out);
	if (!p->err_code)
		check_sections_unique(p);
	if (p->err_code)
		return;
	total = count_servers(p);
	if (p->err_code)
		return;
	cfg_server_init(&dflt.v);
	tmpl_apply(&dflt, &p->dflt);
	if (total) {
		out->servers = calloc(total, sizeof(*out->servers));
		if (!out->servers) {
			cfg_fail_errno(p, ENOMEM);
			return;
		}
	}
	for (size_t i = 0; i < p->n_sects && !p->err_code; i++)
		add_sect_servers(p, &dflt, &p->sects[i], out);
	if (!p->err_code)
		check_names(p, out);
	if (!p->err_code)
		check_ports(p, out);
}
