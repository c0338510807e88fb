// SPDX-License-Identifier: Apache-2.0
/* fleet_apply.c - making the fleet run a (new) configuration, nginx-style
 * all-or-nothing: every socket, slot and CPU the new configuration needs
 * is prepared first; only if all of that succeeds is anything committed.
 * Unchanged servers are not touched at all: same worker, same socket.
 */
#include "supervisor/fleet.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "supervisor/placement.h"
#include "supervisor/spawn.h"

enum plan_kind { PLAN_KEEP, PLAN_CHANGE, PLAN_ADD };

/* What will become of one server of the new configuration. */
struct plan {
	enum plan_kind kind;
	const struct cfg_server *cfg;
	struct server *srv; /* KEEP/CHANGE: the existing one; ADD: new */
	int udp_fd;         /* CHANGE: a new socket, or -1 to keep */
	int slot_fd;        /* CHANGE: a new slot, or -1 to keep */
	struct rf_slot *slot;
	size_t slot_len;
	bool drop_privs;
	uid_t uid;
	gid_t gid;
};

struct apply {
	struct fleet *f;
	const struct cfg *cfg;
	struct plan *plan; /* cfg->n_servers entries */
	long *old_to_new;  /* f->n entries: index in cfg, or -1 */
	int *cpu;
	uint64_t *phase;
	struct server **next; /* the table after commit */
	char *err;
	size_t errlen;
};

static int by_name(const void *a, const void *b, void *ctx)
{
	struct server *const *srv = ctx;

	return strcmp(srv[*(const size_t *)a]->cfg.name, srv[*(const size_t *)b]->cfg.name);
}

/* Index into f->srv of the live server named name, or -1. */
static long find_sorted(const struct fleet *f, const size_t *sorted, const char *name)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(f->srv[sorted[mid]]->cfg.name, name);

		if (c == 0)
			return f->srv[sorted[mid]]->removing ? -1 : (long)sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static bool same_socket(const struct cfg_server *a, const struct cfg_server *b)
{
	return a->port == b->port && strcmp(a->bind, b->bind) == 0;
}

static bool same_slot(const struct cfg_server *a, const struct cfg_server *b)
{
	return a->max_clients == b->max_clients;
}

/* A socket bound to the same address by a server that will let go of it
 * (removed, or changed to another port) is handed over rather than
 * rebound, which would fail with EADDRINUSE while the old one is open. */
static int take_over_socket(struct apply *a, const struct cfg_server *want)
{
	for (size_t i = 0; i < a->f->n; i++) {
		struct server *o = a->f->srv[i];
		int fd;

		if (o->removing || !same_socket(&o->cfg, want))
			continue;
		if (a->old_to_new[i] >= 0 &&
		    same_socket(&a->cfg->servers[a->old_to_new[i]], &o->cfg))
			continue; /* it keeps using it */
		fd = fcntl(o->udp_fd, F_DUPFD_CLOEXEC, 3);
		return fd < 0 ? -errno : fd;
	}
	return -ENOENT;
}

static int open_socket(struct apply *a, const struct cfg_server *c)
{
	int fd = take_over_socket(a, c);

	if (fd == -ENOENT)
		fd = server_bind_udp(c, a->f->privileged);
	if (fd < 0)
		snprintf(a->err, a->errlen, "%s: cannot bind %s:%u: %s", c->name, c->bind, c->port,
			 strerror(-fd));
	return fd;
}

static int prepare_add(struct apply *a, struct plan *p)
{
	int r, fd = open_socket(a, p->cfg);

	if (fd < 0)
		return fd;
	r = server_new_with_socket(p->cfg, fd, &p->srv);
	if (r < 0) {
		close(fd);
		snprintf(a->err, a->errlen, "%s: cannot create its stats slot: %s", p->cfg->name,
			 strerror(-r));
	}
	return r;
}

static int prepare_change(struct apply *a, struct plan *p)
{
	const struct cfg_server *old = &p->srv->cfg;
	int r;

	if (!same_socket(old, p->cfg)) {
		p->udp_fd = open_socket(a, p->cfg);
		if (p->udp_fd < 0)
			return p->udp_fd;
	}
	if (!same_slot(old, p->cfg)) {
		r = server_slot_create(p->cfg->name, p->cfg->max_clients, &p->slot_fd, &p->slot,
				       &p->slot_len);
		if (r < 0) {
			snprintf(a->err, a->errlen, "%s: cannot create its stats slot: %s",
				 p->cfg->name, strerror(-r));
			return r;
		}
	}
	return 0;
}

static void unprepare(struct plan *p)
{
	if (p->kind == PLAN_ADD) {
		server_free(p->srv);
		p->srv = NULL;
		return;
	}
	if (p->udp_fd >= 0)
		close(p->udp_fd);
	server_slot_release(p->slot_fd, p->slot, p->slot_len);
	p->udp_fd = p->slot_fd = -1;
	p->slot = NULL;
}

/* Matches new servers to old ones by name (sorted, so 10,000 servers
 * stay cheap) and decides keep / change / add. */
static int plan_servers(struct apply *a)
{
	struct fleet *f = a->f;
	size_t *sorted = malloc((f->n + 1) * sizeof(*sorted));

	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < f->n; i++) {
		sorted[i] = i;
		a->old_to_new[i] = -1;
	}
	qsort_r(sorted, f->n, sizeof(*sorted), by_name, f->srv);
	for (size_t i = 0; i < a->cfg->n_servers; i++) {
		struct plan *p = &a->plan[i];
		long old = find_sorted(f, sorted, a->cfg->servers[i].name);

		p->cfg = &a->cfg->servers[i];
		p->udp_fd = p->slot_fd = -1;
		p->kind = PLAN_ADD;
		if (old < 0)
			continue;
		a->old_to_new[old] = (long)i;
		p->srv = f->srv[old];
		p->kind = cfg_server_equal(&p->srv->cfg, p->cfg) ? PLAN_KEEP : PLAN_CHANGE;
	}
	free(sorted);
	return 0;
}

static int compute_allowed(struct apply *a, cpu_set_t *allowed)
{
	cpu_set_t mine;

	if (sched_getaffinity(0, sizeof(mine), &mine) < 0)
		return -errno;
	if (a->cfg->sup.cpus_set)
		CPU_AND(allowed, &mine, &a->cfg->sup.cpus);
	else
		*allowed = mine;
	return 0;
}

static int place(struct apply *a, cpu_set_t *allowed)
{
	size_t n = a->cfg->n_servers;
	uint32_t *hz = malloc((n + 1) * sizeof(*hz));
	int r;

	if (!hz)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct plan *p = &a->plan[i];

		a->cpu[i] = p->cfg->cpu;
		if (a->cpu[i] < 0 && p->kind != PLAN_ADD)
			a->cpu[i] = p->srv->cpu; /* running servers stay put */
		hz[i] = p->cfg->tick_hz;
	}
	r = placement_assign(a->cfg->sup.placement, allowed, a->cfg->sup.max_per_cpu, a->cpu, n);
	if (r < 0)
		snprintf(a->err, a->errlen,
			 "cannot place %zu servers on the allowed CPUs "
			 "with max_per_cpu = %u",
			 n, a->cfg->sup.max_per_cpu);
	else
		placement_phases(a->cpu, n, hz, a->phase);
	free(hz);
	return r;
}

static int resolve_user(struct apply *a, struct plan *p)
{
	int r = server_resolve_user(p->cfg, a->f->privileged, &p->drop_privs, &p->uid, &p->gid);

	if (r < 0)
		snprintf(a->err, a->errlen, "%s: no such user \"%s\" or group \"%s\"", p->cfg->name,
			 p->cfg->user, p->cfg->group);
	return r;
}

/* New servers plus old ones a reload removes, which hold their fds until
 * their workers have stopped. */
static int check_fds(struct apply *a)
{
	size_t n = a->cfg->n_servers;

	for (size_t i = 0; i < a->f->n; i++)
		if (a->old_to_new[i] < 0)
			n++;
	return fleet_reserve_fds(n, a->err, a->errlen);
}

static int prepare(struct apply *a)
{
	int r = 0;
	size_t i;

	for (i = 0; i < a->cfg->n_servers && r == 0; i++) {
		struct plan *p = &a->plan[i];

		r = resolve_user(a, p);
		if (r < 0)
			break;
		if (p->kind == PLAN_ADD)
			r = prepare_add(a, p);
		else if (p->kind == PLAN_CHANGE)
			r = prepare_change(a, p);
	}
	if (r < 0)
		while (i-- > 0)
			unprepare(&a->plan[i]);
	return r;
}

static void list_add(struct fleet_names *list, const char *name)
{
	char(*n)[CFG_NAME_MAX] = realloc(list->name, (list->n + 1) * sizeof(*n));

	if (!n)
		return; /* the summary is informational; the change is done */
	snprintf(n[list->n], sizeof(n[list->n]), "%s", name);
	list->name = n;
	list->n++;
}

static void swap_resources(struct server *s, struct plan *p, bool privileged)
{
	if (p->udp_fd >= 0) {
		close(s->udp_fd); /* the old worker holds its own copy */
		s->udp_fd = p->udp_fd;
	} else if (s->cfg.socket_rcvbuf != p->cfg->socket_rcvbuf) {
		server_set_rcvbuf(s->udp_fd, p->cfg->socket_rcvbuf, privileged);
	}
	if (p->slot_fd >= 0) {
		server_slot_release(s->slot_fd, s->slot, s->slot_len);
		s->slot_fd = p->slot_fd;
		s->slot = p->slot;
		s->slot_len = p->slot_len;
	}
	s->cfg = *p->cfg;
}

/* Old servers the new configuration no longer names stop and go. */
static void retire_removed(struct apply *a, struct server **next, size_t *n, struct fleet_diff *d)
{
	struct fleet *f = a->f;

	for (size_t i = 0; i < f->n; i++) {
		struct server *s = f->srv[i];

		if (a->old_to_new[i] >= 0)
			continue;
		if (!s->removing) {
			s->removing = true;
			list_add(&d->removed, s->cfg.name);
			d->n_removed++;
		}
		next[(*n)++] = s;
	}
}

/* A sleeping idle worker reads orphan_timeout_s only when it wakes,
 * which may be its 30 s beat away: when the timeout got shorter, SIGURG
 * (which only cuts the sleep short) makes it take the new one now. */
static void orphan_timeout_changed(struct fleet *f, uint32_t was)
{
	uint32_t now = f->sup.orphan_timeout_s;

	if (!now || (was && now >= was))
		return;
	for (size_t i = 0; i < f->n; i++) {
		struct server *s = f->srv[i];

		if (s->pidfd >= 0 && s->slot && RF_LOAD(s->slot->stats.idle))
			spawn_signal(s->pidfd, SIGURG);
	}
}

static void commit(struct apply *a, struct fleet_diff *d)
{
	struct fleet *f = a->f;
	size_t nc = a->cfg->n_servers, n = 0;
	struct server **next = a->next;
	uint32_t was;

	for (size_t i = 0; i < nc; i++) {
		struct plan *p = &a->plan[i];
		struct server *s = p->srv;

		if (p->kind == PLAN_CHANGE) {
			swap_resources(s, p, f->privileged);
			list_add(&d->changed, s->cfg.name);
			d->n_changed++;
		} else if (p->kind == PLAN_ADD) {
			list_add(&d->added, s->cfg.name);
			d->n_added++;
		} else {
			/* The one thing a kept server may differ in: its
			 * labels, which take effect with no restart. */
			if (strcmp(s->cfg.labels, p->cfg->labels) != 0) {
				memcpy(s->cfg.labels, p->cfg->labels, sizeof(s->cfg.labels));
				log_info("%s: labels now \"%s\"", s->cfg.name, s->cfg.labels);
			}
			d->n_unchanged++;
		}
		server_parse_labels(s);
		s->cpu = a->cpu[i];
		s->phase_ns = a->phase[i];
		s->drop_privs = p->drop_privs;
		s->uid = p->uid;
		s->gid = p->gid;
		next[n++] = s;
	}
	retire_removed(a, next, &n, d);
	free(f->srv);
	f->srv = next;
	f->table_gen++;
	f->n = f->cap = n;
	a->next = NULL;
	was = f->sup.orphan_timeout_s;
	f->sup = a->cfg->sup;
	fleet_policy_from(&f->policy, &f->sup);
	/* orphan_timeout_s applies to running workers too: no restart. */
	fleet_beat(f, rf_now_ns());
	orphan_timeout_changed(f, was);
}

/* Carries out the lifecycle side once the table is consistent. */
static void act(struct apply *a)
{
	struct fleet *f = a->f;

	for (size_t i = 0; i < f->n; i++) {
		struct server *s = f->srv[i];

		if (s->removing) {
			fleet_request(f, s, FSM_EV_STOP);
			continue;
		}
		if (i >= a->cfg->n_servers)
			continue;
		if (a->plan[i].kind == PLAN_ADD)
			fleet_request(f, s, FSM_EV_START);
		else if (a->plan[i].kind == PLAN_CHANGE && s->fsm.state != FSM_STOPPED)
			fleet_request(f, s, FSM_EV_RESTART);
	}
	/* Removed servers that had no process can go now. */
	for (size_t i = f->n; i-- > 0;)
		if (f->srv[i]->removing && !fsm_has_process(f->srv[i]->fsm.state))
			fleet_forget(f, f->srv[i]);
}

static void apply_free(struct apply *a)
{
	free(a->plan);
	free(a->old_to_new);
	free(a->cpu);
	free(a->phase);
	free(a->next);
}

int fleet_apply(struct fleet *f, const struct cfg *cfg, struct fleet_diff *diff, char *err,
		size_t errlen)
{
	size_t n = cfg->n_servers;
	struct apply a = {
		.f = f,
		.cfg = cfg,
		.err = err,
		.errlen = errlen,
		.plan = calloc(n + 1, sizeof(struct plan)),
		.old_to_new = calloc(f->n + 1, sizeof(long)),
		.cpu = calloc(n + 1, sizeof(int)),
		.phase = calloc(n + 1, sizeof(uint64_t)),
		.next = calloc(n + f->n + 1, sizeof(struct server *)),
	};
	cpu_set_t allowed;
	int r = -ENOMEM;

	memset(diff, 0, sizeof(*diff));
	snprintf(err, errlen, "out of memory");
	if (!a.plan || !a.old_to_new || !a.cpu || !a.phase || !a.next)
		goto out;
	r = plan_servers(&a);
	if (r == 0)
		r = compute_allowed(&a, &allowed);
	if (r == 0)
		r = place(&a, &allowed);
	if (r == 0)
		r = check_fds(&a);
	if (r == 0)
		r = prepare(&a);
	if (r != 0)
		goto out;
	commit(&a, diff);
	act(&a);
	err[0] = '\0';
out:
	apply_free(&a);
	return r;
}

void fleet_diff_free(struct fleet_diff *d)
{
	free(d->added.name);
	free(d->removed.name);
	free(d->changed.name);
	memset(d, 0, sizeof(*d));
}
