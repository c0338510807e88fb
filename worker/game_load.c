// SPDX-License-Identifier: Apache-2.0
/* game_load.c - finding a game (built in by name, or dlopen()) and checking its table. See game_host.h. */
#include "worker/game_host.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The relay, games/relay/relay.c: built in, found by name. */
const struct rf_game *rf_relay_game(void);

static const struct {
	const char *name;
	rf_game_entry_fn entry;
} builtin[] = {
	{ "relay", rf_relay_game },
};

rf_game_entry_fn game_host_builtin(const char *name)
{
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strcmp(builtin[i].name, name) == 0)
			return builtin[i].entry;
	return NULL;
}

int game_host_check_table(const struct rf_game *t, struct rf_game *out, char *why, size_t len)
{
	const size_t need = offsetof(struct rf_game, drain) + sizeof(t->drain);

	memset(out, 0, sizeof(*out));
	if (!t) {
		snprintf(why, len, "%s() returned NULL", RF_GAME_ENTRY);
		return -EINVAL;
	}
	if (t->abi_version != RF_GAME_ABI_VERSION) {
		snprintf(why, len, "game ABI version %u, this worker runs %u", t->abi_version,
			 RF_GAME_ABI_VERSION);
		return -EPROTO;
	}
	if (t->size < need) {
		snprintf(why, len, "game table of %u bytes, ABI %u needs at least %zu", t->size,
			 RF_GAME_ABI_VERSION, need);
		return -EPROTO;
	}
	/* A newer module's table may be longer: what we know of it only. */
	memcpy(out, t, t->size < sizeof(*out) ? t->size : sizeof(*out));
	out->size = (uint32_t)sizeof(*out);
	if (!out->init || !out->tick) {
		snprintf(why, len, "game table without %s callback",
			 out->init ? "a tick" : "an init");
		return -EINVAL;
	}
	return 0;
}

int game_host_load_table(struct game_host *h, const struct rf_game *t, const char *what, char *why,
			 size_t len)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->what, sizeof(h->what), "%s", what);
	return game_host_check_table(t, &h->game, why, len);
}

/* dlerror() names the path first, which the caller's reason already does. */
static void dl_reason(const char *path, char *why, size_t len)
{
	const char *e = dlerror();
	size_t n = strlen(path);

	if (!e)
		e = "cannot load";
	if (strncmp(e, path, n) == 0 && e[n] == ':' && e[n + 1] == ' ')
		e += n + 2;
	snprintf(why, len, "%s", e);
}

int game_host_load(struct game_host *h, const char *game, char *why, size_t len)
{
	rf_game_entry_fn entry = game_host_builtin(game);
	void *dl = NULL;
	int ret;

	if (!entry) {
		dl = dlopen(game, RTLD_NOW | RTLD_LOCAL);
		if (!dl) {
			dl_reason(game, why, len);
			return -ENOENT;
		}
		void *sym = dlsym(dl, RF_GAME_ENTRY);

		/* An object pointer into a function pointer, as POSIX allows. */
		memcpy(&entry, &sym, sizeof(entry));
		if (!entry) {
			snprintf(why, len, "undefined symbol %s", RF_GAME_ENTRY);
			dlclose(dl);
			return -ENOENT;
		}
	}
	ret = game_host_load_table(h, entry(), game, why, len);
	if (ret < 0) {
		if (dl)
			dlclose(dl);
		return ret;
	}
	h->dl = dl;
	return 0;
}
