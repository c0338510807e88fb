// SPDX-License-Identifier: Apache-2.0
/* arena - an example game module for ringfleet: a small authoritative game.
 *
 * Clients send INPUT (a direction and a sequence number); every tick the
 * server moves each player one step in the direction of its latest input,
 * keeps it inside a square arena, and sends each client a SNAPSHOT of every
 * player together with the last input sequence it applied for that client
 * (so a client can drop the inputs the server has already seen, as client
 * prediction needs). Wire protocol: README.md next to this file.
 *
 * It uses nothing of ringfleet's but <ringfleet/game.h>: copy this file to
 * start a game. Everything is allocated in init; the tick path allocates
 * nothing and makes no syscall (the engine sends the queued output).
 *
 * Sessions: a session starts with the first player and ends
 * (rf_end_session) once the arena has been empty for empty_end_s seconds.
 * A player who goes silent is removed by the engine (client_timeout_s), so
 * the game needs no timeout of its own. A matchmaker's allocation (the
 * allocated callback) is logged with its metadata and shown in the status
 * until the session ends.
 */
#include <ringfleet/game.h>

#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_VERSION 1
enum { MSG_INPUT = 1, MSG_SNAPSHOT = 2, MSG_BYE = 3 };
enum { BYE_SHUTDOWN = 1 };
#define INPUT_LEN 8
#define SNAP_HDR 20
#define SNAP_PLAYER 8
#define BYE_LEN 4
#define MAX_PLAYERS 1024

enum { VAL_PLAYERS, VAL_SESSIONS };

struct player {
	bool used;
	rf_client_id client;
	uint32_t id;      /* per-session player number, shown to clients */
	int16_t x, y;     /* position, 0..size */
	int8_t dx, dy;    /* direction of the latest input, -1..1 */
	uint32_t seq;     /* latest input received (0: none yet) */
	uint32_t applied; /* latest input applied by a tick */
};

struct arena {
	/* game_args */
	int size;        /* the arena is [0, size] x [0, size] */
	int speed;       /* units per tick */
	int empty_end_s; /* end a session empty this long */

	struct player *players; /* [max_players], slots reused */
	uint32_t max_players, n;
	uint32_t next_id;        /* the next player number of this session */
	bool in_session;         /* a player joined since the last end */
	bool allocated;          /* a matchmaker gave this session a match */
	uint64_t empty_since_ns; /* when the arena last became empty */
	int64_t sessions;        /* sessions ended */
	uint8_t *snap;           /* the snapshot, built once per tick */
};

/* ---- little-endian encoding, independent of the host's byte order ---- */

static void put(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- game_args: "size=1000 speed=10 empty_end_s=30", strictly ---- */

/* Every key, its range, and where it goes: an unknown key or a bad value
 * fails init, so a typo in the configuration is a fatal server with the
 * reason in its status, not a game that silently runs with defaults. */
static const struct arena_arg {
	const char *key;
	long min, max;
	size_t off; /* of an int in struct arena */
} arena_args[] = {
	{ "size", 1, INT16_MAX, offsetof(struct arena, size) },
	{ "speed", 1, INT16_MAX, offsetof(struct arena, speed) },
	{ "empty_end_s", 0, 86400, offsetof(struct arena, empty_end_s) },
};

static int arg_error(rf_engine *e, const char *tok, const char *why)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "game_args: '%.80s': %s", tok, why);
	rf_log(e, RF_GAME_LOG_ERR, msg);
	return -EINVAL;
}

static int parse_arg(rf_engine *e, struct arena *a, const char *tok)
{
	const char *eq = strchr(tok, '=');
	char *end;
	long v;

	if (!eq)
		return arg_error(e, tok, "expected key=value");
	for (size_t i = 0; i < sizeof(arena_args) / sizeof(arena_args[0]); i++) {
		const struct arena_arg *d = &arena_args[i];
		char why[64];

		if (strlen(d->key) != (size_t)(eq - tok) ||
		    strncmp(tok, d->key, strlen(d->key)) != 0)
			continue;
		errno = 0;
		v = strtol(eq + 1, &end, 10);
		if (errno || end == eq + 1 || *end || v < d->min || v > d->max) {
			snprintf(why, sizeof(why), "expected an integer %ld..%ld", d->min, d->max);
			return arg_error(e, tok, why);
		}
		*(int *)((char *)a + d->off) = (int)v;
		return 0;
	}
	return arg_error(e, tok, "unknown key (size, speed, empty_end_s)");
}

static int parse_args(rf_engine *e, struct arena *a, const char *args)
{
	char buf[256], *save = NULL;

	if (strlen(args) >= sizeof(buf))
		return arg_error(e, "...", "too long");
	strcpy(buf, args);
	for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		int ret = parse_arg(e, a, tok);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- callbacks ---- */

static void publish(rf_engine *e, const struct arena *a)
{
	char status[RF_GAME_STATUS_MAX];

	snprintf(status, sizeof(status), "%s%u player%s", a->allocated ? "allocated, " : "", a->n,
		 a->n == 1 ? "" : "s");
	rf_set_status(e, status);
	rf_set_value(e, VAL_PLAYERS, a->n);
	rf_set_value(e, VAL_SESSIONS, a->sessions);
}

/* Has the arena been empty for empty_end_s since its session started? */
static bool session_expired(const rf_engine *e, const struct arena *a)
{
	return a->in_session && a->n == 0 &&
	       rf_tick_ns(e) - a->empty_since_ns >= (uint64_t)a->empty_end_s * 1000000000u;
}

static void session_reset(rf_engine *e, struct arena *a)
{
	a->in_session = false;
	a->allocated = false;
	a->next_id = 1;
	a->sessions++;
	publish(e, a);
}

static int arena_init(rf_engine *e, const struct rf_game_info *info, void **state)
{
	struct arena *a = calloc(1, sizeof(*a));
	int ret;

	if (!a)
		return -ENOMEM;
	a->size = 1000;
	a->speed = 10;
	a->empty_end_s = 30;
	a->next_id = 1;
	ret = parse_args(e, a, info->args ? info->args : "");
	/* one snapshot datagram holds every player */
	a->max_players = info->max_clients;
	if (a->max_players > MAX_PLAYERS)
		a->max_players = MAX_PLAYERS;
	if (ret == 0 && info->max_packet < SNAP_HDR + SNAP_PLAYER) {
		rf_log(e, RF_GAME_LOG_ERR, "max_packet is too small for a snapshot");
		ret = -EINVAL;
	}
	if (ret == 0 && a->max_players > (info->max_packet - SNAP_HDR) / SNAP_PLAYER)
		a->max_players = (info->max_packet - SNAP_HDR) / SNAP_PLAYER;
	if (ret == 0) {
		a->players = calloc(a->max_players, sizeof(*a->players));
		a->snap = malloc(SNAP_HDR + (size_t)a->max_players * SNAP_PLAYER);
		ret = a->players && a->snap ? 0 : -ENOMEM;
	}
	if (ret == 0 && (rf_define_value(e, VAL_PLAYERS, "players") < 0 ||
			 rf_define_value(e, VAL_SESSIONS, "sessions") < 0))
		ret = -EINVAL;
	if (ret < 0) {
		free(a->players);
		free(a->snap);
		free(a);
		return ret;
	}
	publish(e, a);
	*state = a;
	return 0;
}

static void arena_fini(rf_engine *e, void *state)
{
	struct arena *a = state;

	(void)e;
	free(a->players);
	free(a->snap);
	free(a);
}

static int arena_join(rf_engine *e, void *state, rf_client_id c)
{
	struct arena *a = state;
	struct player *p = NULL;

	for (uint32_t i = 0; i < a->max_players && !p; i++)
		if (!a->players[i].used)
			p = &a->players[i];
	if (!p)
		return -ENOSPC; /* the arena is full: refused */
	/* An engine that sleeps while nobody is here (RF_GAME_IDLE_SLEEP)
	 * may not have ticked when the empty arena's time ran out: that
	 * session is over all the same, and this player starts the next. */
	if (session_expired(e, a))
		session_reset(e, a);
	*p = (struct player){ .used = true, .client = c, .id = a->next_id++ };
	p->x = p->y = (int16_t)(a->size / 2); /* everyone spawns in the middle */
	rf_set_client_data(e, c, p);
	a->n++;
	a->in_session = true;
	publish(e, a);
	return 0;
}

static void arena_leave(rf_engine *e, void *state, rf_client_id c, enum rf_leave_reason why)
{
	struct arena *a = state;
	struct player *p = rf_client_data(e, c);

	(void)why; /* timeout, kick, session over: the player is gone alike */
	if (!p)
		return;
	p->used = false;
	a->n--;
	if (a->n == 0)
		a->empty_since_ns = rf_tick_ns(e);
	publish(e, a);
}

/* Keeps the newest input only: a tick applies the latest direction, and an
 * older datagram that arrives late must not undo a newer one. */
static void arena_input(rf_engine *e, void *state, rf_client_id c, const void *data, uint32_t len)
{
	const uint8_t *m = data;
	struct player *p = rf_client_data(e, c);
	int8_t dx, dy;
	uint32_t seq;

	(void)state;
	if (!p || len != INPUT_LEN || m[0] != ARENA_VERSION || m[1] != MSG_INPUT)
		return; /* not ours: ignored */
	seq = get32(m + 2);
	dx = (int8_t)m[6];
	dy = (int8_t)m[7];
	if (seq == 0 || seq <= p->seq || dx < -1 || dx > 1 || dy < -1 || dy > 1)
		return;
	p->seq = seq;
	p->dx = dx;
	p->dy = dy;
}

static int16_t clamp(int v, int size)
{
	return (int16_t)(v < 0 ? 0 : v > size ? size : v);
}

static void arena_tick(rf_engine *e, void *state)
{
	struct arena *a = state;
	uint8_t *s = a->snap;
	uint32_t n = 0;

	/* simulate: one step per tick in the latest direction */
	for (uint32_t i = 0; i < a->max_players; i++) {
		struct player *p = &a->players[i];
		uint8_t *q = s + SNAP_HDR + (size_t)n * SNAP_PLAYER;

		if (!p->used)
			continue;
		p->x = clamp(p->x + p->dx * a->speed, a->size);
		p->y = clamp(p->y + p->dy * a->speed, a->size);
		p->applied = p->seq;
		put(q, p->id, 4);
		put(q + 4, (uint16_t)p->x, 2);
		put(q + 6, (uint16_t)p->y, 2);
		n++;
	}
	/* one snapshot for all; only the "you" fields differ per client (the
	 * engine copies what it is given, so the buffer may change after) */
	s[0] = ARENA_VERSION;
	s[1] = MSG_SNAPSHOT;
	put(s + 2, n, 2);
	put(s + 8, rf_tick(e), 8);
	for (uint32_t i = 0; i < a->max_players; i++) {
		const struct player *p = &a->players[i];

		if (!p->used)
			continue;
		put(s + 4, p->applied, 4);
		put(s + 16, p->id, 4);
		/* -ENOBUFS (budget spent) loses one snapshot; the next
		 * tick's replaces it, so there is nothing to retry */
		rf_send(e, p->client, s, SNAP_HDR + n * SNAP_PLAYER);
	}
	/* the session is over once the arena has stayed empty long enough */
	if (session_expired(e, a)) {
		rf_end_session(e);
		session_reset(e, a);
	}
}

/* A matchmaker allocated this server: one log line with the metadata
 * ("key=value" lines, shown space-separated). */
static void arena_allocated(rf_engine *e, void *state, const char *meta)
{
	struct arena *a = state;
	char line[200];
	int n = snprintf(line, sizeof(line), "allocated: ");

	for (const char *m = meta; *m && n + 2 < (int)sizeof(line); m++, n++) {
		line[n] = *m;
		if (line[n] == '\n')
			line[n] = ' ';
	}
	while (line[n - 1] == ' ')
		n--;
	line[n] = '\0';
	rf_log(e, RF_GAME_LOG_INFO, line);
	a->allocated = true;
	publish(e, a);
}

/* The server is stopping: tell every player, then end the session (the
 * engine sends this tick's output, then stops). */
static void arena_drain(rf_engine *e, void *state, uint64_t deadline_ns)
{
	struct arena *a = state;
	const uint8_t bye[BYE_LEN] = { ARENA_VERSION, MSG_BYE, BYE_SHUTDOWN, 0 };

	(void)deadline_ns;
	for (uint32_t i = 0; i < a->max_players; i++)
		if (a->players[i].used)
			rf_send(e, a->players[i].client, bye, sizeof(bye));
	rf_end_session(e);
}

static const struct rf_game arena_game = {
	.abi_version = RF_GAME_ABI_VERSION,
	.size = sizeof(struct rf_game),
	.name = "arena",
	.flags = RF_GAME_IDLE_SLEEP,
	.init = arena_init,
	.fini = arena_fini,
	.join = arena_join,
	.leave = arena_leave,
	.input = arena_input,
	.tick = arena_tick,
	.drain = arena_drain,
	.allocated = arena_allocated,
};

/* The entry point the engine looks up (RF_GAME_ENTRY). */
__attribute__((visibility("default"))) const struct rf_game *ringfleet_game(void)
{
	return &arena_game;
}
