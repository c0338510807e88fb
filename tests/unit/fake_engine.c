// SPDX-License-Identifier: Apache-2.0
/* fake_engine.c - see fake_engine.h. Services check their arguments as the
 * engine's contract says (a stale id is -ENOENT, a bad length -EINVAL,
 * define_value outside init -EPERM), so a module that relies on something
 * the contract does not promise fails here too. */
#include "tests/unit/fake_engine.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static struct fake_engine *fe_of(const rf_engine *e)
{
	return (struct fake_engine *)e;
}

static int fe_idx(const struct fake_engine *f, rf_client_id c)
{
	uint32_t idx = (uint32_t)c, gen = (uint32_t)(c >> 32);

	if (idx >= FE_CLIENTS || !f->cl[idx].used || f->cl[idx].gen != gen)
		return -ENOENT;
	return (int)idx;
}

static rf_client_id fe_id(const struct fake_engine *f, int idx)
{
	return (uint64_t)f->cl[idx].gen << 32 | (uint32_t)idx;
}

static int record(struct fake_engine *f, rf_client_id to, rf_client_id except, const void *data,
		  uint32_t len)
{
	struct fe_send *s;

	if (f->phase != FE_CALLBACK)
		return -EPERM;
	if (len == 0 || len > f->max_packet || len > FE_MSG)
		return -EINVAL;
	if (f->nsends == FE_SENDS)
		return -ENOBUFS;
	s = &f->sends[f->nsends++];
	s->to = to;
	s->except = except;
	s->len = len;
	memcpy(s->data, data, len);
	return 0;
}

static int svc_send(rf_engine *e, rf_client_id to, const void *data, uint32_t len)
{
	struct fake_engine *f = fe_of(e);

	if (fe_idx(f, to) < 0)
		return -ENOENT;
	return record(f, to, RF_NO_CLIENT, data, len);
}

static int svc_broadcast(rf_engine *e, rf_client_id except, const void *data, uint32_t len)
{
	return record(fe_of(e), RF_NO_CLIENT, except, data, len);
}

static int svc_kick(rf_engine *e, rf_client_id c)
{
	struct fake_engine *f = fe_of(e);

	if (fe_idx(f, c) < 0)
		return -ENOENT;
	f->kicks++;
	return 0;
}

static int svc_end_session(rf_engine *e)
{
	fe_of(e)->end_sessions++;
	return 0;
}

static void svc_log(rf_engine *e, int level, const char *msg)
{
	struct fake_engine *f = fe_of(e);

	snprintf(f->last_log, sizeof(f->last_log), "%s", msg);
	f->last_log_level = level;
	f->logs++;
}

static uint64_t svc_tick(const rf_engine *e)
{
	return fe_of(e)->tick;
}

static uint64_t svc_now_ns(const rf_engine *e)
{
	return fe_of(e)->now_ns;
}

static void *svc_client_data(const rf_engine *e, rf_client_id c)
{
	const struct fake_engine *f = fe_of(e);
	int i = fe_idx(f, c);

	return i < 0 ? NULL : f->cl[i].data;
}

static int svc_set_client_data(rf_engine *e, rf_client_id c, void *data)
{
	struct fake_engine *f = fe_of(e);
	int i = fe_idx(f, c);

	if (i < 0)
		return -ENOENT;
	f->cl[i].data = data;
	return 0;
}

static int svc_define_value(rf_engine *e, unsigned idx, const char *name)
{
	struct fake_engine *f = fe_of(e);

	if (f->phase != FE_INIT)
		return -EPERM;
	if (idx >= RF_GAME_VALUES || !name || strlen(name) >= RF_GAME_VALUE_NAME_MAX ||
	    !(name[0] >= 'a' && name[0] <= 'z'))
		return -EINVAL;
	snprintf(f->value_name[idx], sizeof(f->value_name[idx]), "%s", name);
	return 0;
}

static int svc_set_value(rf_engine *e, unsigned idx, int64_t v)
{
	struct fake_engine *f = fe_of(e);

	if (idx >= RF_GAME_VALUES)
		return -EINVAL;
	f->value[idx] = v;
	return 0;
}

static int svc_set_status(rf_engine *e, const char *text)
{
	struct fake_engine *f = fe_of(e);

	snprintf(f->status, sizeof(f->status), "%s", text);
	return 0;
}

static uint32_t svc_clients(const rf_engine *e, rf_client_id *out, uint32_t cap)
{
	const struct fake_engine *f = fe_of(e);
	uint32_t n = 0;

	for (int i = 0; i < FE_CLIENTS; i++) {
		if (!f->cl[i].used)
			continue;
		if (n < cap)
			out[n] = fe_id(f, i);
		n++;
	}
	return n;
}

void fe_reset(struct fake_engine *f)
{
	void *dl = f->dl;
	const struct rf_game *g = f->game;

	memset(f, 0, sizeof(*f));
	f->dl = dl;
	f->game = g;
	f->svc = (struct rf_services){
		.size = sizeof(struct rf_services),
		.send = svc_send,
		.broadcast = svc_broadcast,
		.kick = svc_kick,
		.end_session = svc_end_session,
		.log = svc_log,
		.tick = svc_tick,
		.now_ns = svc_now_ns,
		.client_data = svc_client_data,
		.set_client_data = svc_set_client_data,
		.define_value = svc_define_value,
		.set_value = svc_set_value,
		.set_status = svc_set_status,
		.clients = svc_clients,
	};
	f->e.svc = &f->svc;
	f->tick = 1;
	f->now_ns = 1000000000ull;
	f->max_packet = 1400;
	for (int i = 0; i < FE_CLIENTS; i++)
		f->cl[i].gen = 1;
}

void fe_load(struct fake_engine *f, const char *path)
{
	rf_game_entry_fn entry;

	f->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!f->dl) {
		fail_msg("dlopen %s: %s", path, dlerror());
		return;
	}
	*(void **)&entry = dlsym(f->dl, RF_GAME_ENTRY);
	if (!entry) {
		fail_msg("%s: no %s", path, RF_GAME_ENTRY);
		return;
	}
	f->game = entry();
	assert_non_null(f->game);
	fe_reset(f);
}

void fe_unload(struct fake_engine *f)
{
	if (f->dl)
		dlclose(f->dl);
	f->dl = NULL;
	f->game = NULL;
}

int fe_init(struct fake_engine *f, const char *args, uint32_t max_clients)
{
	struct rf_game_info info = {
		.size = sizeof(info),
		.tick_hz = 50,
		.server = "test",
		.args = args,
		.max_clients = max_clients,
		.max_packet = f->max_packet,
		.output_budget = FE_SENDS,
	};
	int ret;

	f->phase = FE_INIT;
	ret = f->game->init(&f->e, &info, &f->state);
	f->phase = FE_OUTSIDE;
	return ret;
}

void fe_fini(struct fake_engine *f)
{
	f->phase = FE_CALLBACK;
	if (f->game->fini)
		f->game->fini(&f->e, f->state);
	f->phase = FE_OUTSIDE;
	f->state = NULL;
}

rf_client_id fe_join(struct fake_engine *f)
{
	rf_client_id c;
	int i, ret;

	for (i = 0; i < FE_CLIENTS && f->cl[i].used; i++)
		;
	assert_true(i < FE_CLIENTS);
	f->cl[i].used = true;
	f->cl[i].gen++; /* a new id for every client, as the engine does */
	f->cl[i].data = NULL;
	c = fe_id(f, i);
	f->phase = FE_CALLBACK;
	ret = f->game->join ? f->game->join(&f->e, f->state, c) : 0;
	f->phase = FE_OUTSIDE;
	if (ret < 0) {
		f->cl[i].used = false;
		return RF_NO_CLIENT;
	}
	return c;
}

void fe_leave(struct fake_engine *f, rf_client_id c, enum rf_leave_reason why)
{
	int i = fe_idx(f, c);

	assert_true(i >= 0);
	f->phase = FE_CALLBACK;
	if (f->game->leave)
		f->game->leave(&f->e, f->state, c, why);
	f->phase = FE_OUTSIDE;
	f->cl[i].used = false;
}

void fe_input(struct fake_engine *f, rf_client_id c, const void *data, uint32_t len)
{
	f->phase = FE_CALLBACK;
	if (f->game->input)
		f->game->input(&f->e, f->state, c, data, len);
	f->phase = FE_OUTSIDE;
}

void fe_tick(struct fake_engine *f, uint64_t ns)
{
	f->tick++;
	f->now_ns += ns;
	f->nsends = 0;
	f->phase = FE_CALLBACK;
	f->game->tick(&f->e, f->state);
	f->phase = FE_OUTSIDE;
}

void fe_drain(struct fake_engine *f)
{
	f->nsends = 0;
	f->phase = FE_CALLBACK;
	f->game->drain(&f->e, f->state, f->now_ns + 1000000000ull);
	f->phase = FE_OUTSIDE;
}

const struct fe_send *fe_last_to(const struct fake_engine *f, rf_client_id c)
{
	for (unsigned i = f->nsends; i-- > 0;)
		if (f->sends[i].to == c)
			return &f->sends[i];
	return NULL;
}
