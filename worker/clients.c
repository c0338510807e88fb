// SPDX-License-Identifier: Apache-2.0
/* clients.c - see clients.h. */
#include "worker/clients.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Addresses arrive as whatever the kernel filled in; only these checks
 * make the field reads below safe. */
static bool addr_ok(const struct sockaddr *sa, uint32_t salen)
{
	if (sa->sa_family == AF_INET)
		return salen >= sizeof(struct sockaddr_in);
	if (sa->sa_family == AF_INET6)
		return salen >= sizeof(struct sockaddr_in6);
	return false;
}

static bool addr_exact(const struct sockaddr *sa, uint32_t salen)
{
	return addr_ok(sa, salen) &&
	       salen == (sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
						  : sizeof(struct sockaddr_in6));
}

static uint32_t addr_hash(const struct clients *c, const struct sockaddr *sa)
{
	uint64_t k;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		k = (uint64_t)in->sin_addr.s_addr << 16 | in->sin_port;
	} else {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		uint64_t a[2];

		memcpy(a, &in6->sin6_addr, sizeof(a));
		k = mix64(a[0] ^ c->seed) ^ a[1] ^
		    ((uint64_t)in6->sin6_port << 32 | in6->sin6_scope_id);
		k ^= 1ull << 63;
	}
	/* The seed keeps remote peers from choosing colliding addresses. */
	return (uint32_t)mix64(k ^ c->seed);
}

static bool addr_equal(const struct rf_slot_client *e, const struct sockaddr *sa)
{
	if (e->addr.family != sa->sa_family)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		return e->addr.v4.sin_port == in->sin_port &&
		       e->addr.v4.sin_addr.s_addr == in->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *in6 = (const void *)sa;

	return e->addr.v6.sin6_port == in6->sin6_port &&
	       e->addr.v6.sin6_scope_id == in6->sin6_scope_id &&
	       memcmp(&e->addr.v6.sin6_addr, &in6->sin6_addr, 16) == 0;
}

/* Stores only the fields that identify the client, so the slot holds
 * clean addresses that compare and send as-is. */
static void entry_set(struct rf_slot_client *e, const struct sockaddr *sa, uint64_t now)
{
	memset(e, 0, sizeof(*e));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		e->addr.v4.sin_port = in->sin_port;
		e->addr.v4.sin_addr = in->sin_addr;
		e->addrlen = sizeof(struct sockaddr_in);
	} else {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		e->addr.v6.sin6_port = in6->sin6_port;
		e->addr.v6.sin6_addr = in6->sin6_addr;
		e->addr.v6.sin6_scope_id = in6->sin6_scope_id;
		e->addrlen = sizeof(struct sockaddr_in6);
	}
	RF_STORE(e->last_seen_ns, now);
	/* The family marks the entry used; set it last. */
	RF_STORE(e->addr.family, sa->sa_family);
}

static const struct sockaddr *entry_sa(const struct rf_slot_client *e)
{
	return (const struct sockaddr *)&e->addr;
}

static void set_use(struct clients *c, uint32_t idx)
{
	uint32_t p = c->pos[idx], q = c->n, other = c->set[q];

	c->set[p] = other;
	c->pos[other] = p;
	c->set[q] = idx;
	c->pos[idx] = q;
	c->n++;
}

static void set_release(struct clients *c, uint32_t idx)
{
	uint32_t p = c->pos[idx], q = c->n - 1, other = c->set[q];

	c->set[p] = other;
	c->pos[other] = p;
	c->set[q] = idx;
	c->pos[idx] = q;
	c->n--;
}

static void set_reset(struct clients *c)
{
	for (uint32_t i = 0; i < c->max; i++)
		c->set[i] = c->pos[i] = i;
	c->n = 0;
}

int clients_init(struct clients *c, struct rf_slot_client *tab, uint32_t max, uint64_t seed)
{
	uint32_t buckets = 16;

	memset(c, 0, sizeof(*c));
	if (!max || max > RF_CLIENTS_LIMIT)
		return -EINVAL;
	/* At most half full: probes stay short and always find a hole. */
	while (buckets < 2 * max)
		buckets *= 2;
	c->hash = calloc(buckets, sizeof(*c->hash));
	c->set = calloc(max, sizeof(*c->set));
	c->pos = calloc(max, sizeof(*c->pos));
	c->pfx = calloc(buckets, sizeof(*c->pfx));
	if (!c->hash || !c->set || !c->pos || !c->pfx) {
		clients_free(c);
		return -ENOMEM;
	}
	c->tab = tab;
	c->max = max;
	c->mask = buckets - 1;
	c->seed = seed;
	set_reset(c);
	return 0;
}

void clients_free(struct clients *c)
{
	free(c->hash);
	free(c->set);
	free(c->pos);
	free(c->pfx);
	memset(c, 0, sizeof(*c));
}

void clients_clear(struct clients *c)
{
	memset(c->tab, 0, c->max * sizeof(*c->tab));
	memset(c->hash, 0, (c->mask + 1) * sizeof(*c->hash));
	memset(c->pfx, 0, (c->mask + 1) * sizeof(*c->pfx));
	set_reset(c);
}

/* Bucket holding entry idx + 1, found along the probe path of its key. */
static uint32_t bucket_of(const struct clients *c, uint32_t idx)
{
	uint32_t b = addr_hash(c, entry_sa(&c->tab[idx])) & c->mask;

	while (c->hash[b] != idx + 1)
		b = (b + 1) & c->mask;
	return b;
}

static void hash_insert(struct clients *c, uint32_t idx)
{
	uint32_t b = addr_hash(c, entry_sa(&c->tab[idx])) & c->mask;

	while (c->hash[b])
		b = (b + 1) & c->mask;
	c->hash[b] = idx + 1;
}

/* Backward-shift deletion: later entries of the cluster move into the hole
 * when it lies on their probe path, so lookups never need tombstones. */
static void hash_delete(struct clients *c, uint32_t b)
{
	uint32_t hole = b, j = b;

	for (;;) {
		uint32_t v, home;

		j = (j + 1) & c->mask;
		v = c->hash[j];
		if (!v)
			break;
		home = addr_hash(c, entry_sa(&c->tab[v - 1])) & c->mask;
		if (((j - home) & c->mask) >= ((j - hole) & c->mask)) {
			c->hash[hole] = v;
			hole = j;
		}
	}
	c->hash[hole] = 0;
}

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

struct clients_prefix clients_prefix_of(const struct sockaddr *sa)
{
	struct clients_prefix p = { { 0 } };

	if (sa->sa_family == AF_INET) {
		p.b[0] = 4;
		memcpy(p.b + 1, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else {
		const uint8_t *a =
			((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;

		if (memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0) {
			p.b[0] = 4;
			memcpy(p.b + 1, a + 12, 4);
		} else {
			p.b[0] = 6;
			memcpy(p.b + 1, a, 8);
		}
	}
	return p;
}

static uint32_t prefix_hash(const struct clients *c, const struct clients_prefix *p)
{
	uint64_t k = 0;

	memcpy(&k, p->b + 1, 8);
	return (uint32_t)mix64(mix64(k ^ c->seed) ^ p->b[0]);
}

/* Linear probing like the address hash; as there are at most max
 * prefixes and 2 * max buckets, a probe always ends at an empty one. */
static uint32_t prefix_bucket(const struct clients *c, const struct clients_prefix *p)
{
	uint32_t b = prefix_hash(c, p) & c->mask;

	while (c->pfx[b].count && memcmp(&c->pfx[b].key, p, sizeof(*p)) != 0)
		b = (b + 1) & c->mask;
	return b;
}

static void prefix_add(struct clients *c, const struct sockaddr *sa)
{
	struct clients_prefix p = clients_prefix_of(sa);
	uint32_t b = prefix_bucket(c, &p);

	c->pfx[b].key = p;
	c->pfx[b].count++;
}

/* Backward-shift deletion when a prefix's last entry goes. */
static void prefix_del(struct clients *c, const struct sockaddr *sa)
{
	struct clients_prefix p = clients_prefix_of(sa);
	uint32_t hole = prefix_bucket(c, &p), j = hole;

	if (!c->pfx[hole].count || --c->pfx[hole].count)
		return;
	for (;;) {
		uint32_t home;

		j = (j + 1) & c->mask;
		if (!c->pfx[j].count)
			break;
		home = prefix_hash(c, &c->pfx[j].key) & c->mask;
		if (((j - home) & c->mask) >= ((j - hole) & c->mask)) {
			c->pfx[hole] = c->pfx[j];
			hole = j;
		}
	}
	memset(&c->pfx[hole], 0, sizeof(c->pfx[hole]));
}

uint32_t clients_per_prefix(const struct clients *c, const struct sockaddr *sa)
{
	struct clients_prefix p = clients_prefix_of(sa);

	return c->pfx[prefix_bucket(c, &p)].count;
}

int clients_find(const struct clients *c, const struct sockaddr *sa, uint32_t salen)
{
	uint32_t b, v;

	if (!addr_ok(sa, salen))
		return -EAFNOSUPPORT;
	b = addr_hash(c, sa) & c->mask;
	while ((v = c->hash[b]) != 0) {
		if (addr_equal(&c->tab[v - 1], sa))
			return (int)(v - 1);
		b = (b + 1) & c->mask;
	}
	return -ENOENT;
}

int clients_touch(struct clients *c, const struct sockaddr *sa, uint32_t salen, uint64_t now)
{
	int idx = clients_find(c, sa, salen);

	if (idx >= 0) {
		RF_STORE(c->tab[idx].last_seen_ns, now);
		return idx;
	}
	if (idx != -ENOENT)
		return idx;
	if (c->n >= c->max)
		return -ENOSPC;
	idx = (int)c->set[c->n];
	entry_set(&c->tab[idx], sa, now);
	set_use(c, (uint32_t)idx);
	hash_insert(c, (uint32_t)idx);
	prefix_add(c, sa);
	return idx;
}

void clients_remove(struct clients *c, uint32_t idx)
{
	if (idx >= c->max || c->pos[idx] >= c->n)
		return;
	hash_delete(c, bucket_of(c, idx));
	prefix_del(c, entry_sa(&c->tab[idx]));
	set_release(c, idx);
	RF_STORE(c->tab[idx].addr.family, 0);
	memset(&c->tab[idx], 0, sizeof(c->tab[idx]));
}

uint32_t clients_expire(struct clients *c, uint64_t now, uint64_t timeout_ns)
{
	uint32_t removed = 0;

	/* Walking down keeps the swap in set_release() from skipping an
	 * entry: what moves into place i was already checked. */
	for (uint32_t i = c->n; i-- > 0;) {
		uint32_t idx = c->set[i];
		uint64_t seen = c->tab[idx].last_seen_ns;

		if (now > seen && now - seen > timeout_ns) {
			clients_remove(c, idx);
			removed++;
		}
	}
	return removed;
}

uint32_t clients_silent(const struct clients *c, uint64_t now, uint64_t timeout_ns, uint32_t *out,
			uint32_t cap)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->n && n < cap; i++) {
		uint32_t idx = c->set[i];
		uint64_t seen = c->tab[idx].last_seen_ns;

		if (now > seen && now - seen > timeout_ns)
			out[n++] = idx;
	}
	return n;
}

uint32_t clients_rebuild(struct clients *c)
{
	memset(c->hash, 0, (c->mask + 1) * sizeof(*c->hash));
	memset(c->pfx, 0, (c->mask + 1) * sizeof(*c->pfx));
	set_reset(c);
	for (uint32_t i = 0; i < c->max; i++) {
		struct rf_slot_client *e = &c->tab[i];
		const struct sockaddr *sa = entry_sa(e);

		struct rf_slot_client copy = *e;

		if (e->addr.family == 0)
			continue;
		if (!addr_exact(sa, e->addrlen) || clients_find(c, sa, e->addrlen) >= 0) {
			memset(e, 0, sizeof(*e));
			continue;
		}
		/* Rewrite it clean: whatever was in the padding goes. */
		entry_set(e, (const struct sockaddr *)&copy.addr, copy.last_seen_ns);
		e->flags = copy.flags & RF_CLIENT_FLAGS_KNOWN;
		set_use(c, i);
		hash_insert(c, i);
		prefix_add(c, entry_sa(e));
	}
	return c->n;
}
