/* SPDX-License-Identifier: Apache-2.0 */
/* ringfleet/game.h - the public C API between ringfleet's engine and a game
 * module. A module is a shared object that exports one function,
 * ringfleet_game(), returning a table of callbacks; ringfleet-worker loads
 * it at start (dlopen, RTLD_NOW | RTLD_LOCAL) and calls those callbacks
 * from its tick loop. The module calls back into the engine only through
 * the services table it is handed (rf_send(), rf_broadcast(), ...), so a
 * module links against nothing of ringfleet's: this header is all it needs.
 *
 *   cc -shared -fPIC mygame.c $(pkg-config --cflags ringfleet-game) -o mygame.so
 *
 * Threading and timing: every callback runs on the worker's one thread,
 * inside a tick, one at a time; none may block. Outputs are queued and sent
 * by the engine at the end of the tick. Full rules: docs/game-api.md and
 * ringfleet-game(3). Modules may carry any license (the header is
 * Apache-2.0, which does not reach a module that includes it).
 *
 * ABI: RF_GAME_ABI_VERSION changes only when a built module would break.
 * Growth happens by appending: new callbacks at the end of struct rf_game
 * (the engine reads only the first rf_game.size bytes a module declares),
 * new services at the end of struct rf_services (a module may test for
 * one with RF_HAS_SERVICE before calling it).
 */
#ifndef RINGFLEET_GAME_H
#define RINGFLEET_GAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RF_GAME_ABI_VERSION 1u
/* The symbol the engine looks up in a module. */
#define RF_GAME_ENTRY "ringfleet_game"

/* A client of this server. 0 is never a client; an id is never reused
 * within a worker's life, so a stale id is refused, not misdelivered. */
typedef uint64_t rf_client_id;
#define RF_NO_CLIENT ((rf_client_id)0)

/* Module-defined values shown by `ringfleetctl status`, its JSON and
 * /metrics (ringfleet_game_value{name=...}). */
#define RF_GAME_VALUES 4
#define RF_GAME_VALUE_NAME_MAX 16 /* [a-z0-9_], first a letter, with NUL */
#define RF_GAME_STATUS_MAX 48     /* status text, with NUL */

/* Why a client left. */
enum rf_leave_reason {
	RF_LEAVE_TIMEOUT = 1,      /* silent longer than client_timeout_s */
	RF_LEAVE_KICKED = 2,       /* the module called rf_kick() */
	RF_LEAVE_SESSION_OVER = 3, /* the session ended (rf_end_session()) */
	RF_LEAVE_EVICTED = 4,      /* admitted, never sent game data, and its
				    * place went to a newcomer */
};

/* Log levels, syslog's numbers. */
enum rf_game_log_level {
	RF_GAME_LOG_ERR = 3,
	RF_GAME_LOG_WARNING = 4,
	RF_GAME_LOG_NOTICE = 5,
	RF_GAME_LOG_INFO = 6,
	RF_GAME_LOG_DEBUG = 7,
};

/* Errors services return, as negative errno values. */
/* -EINVAL  bad argument (length over max_packet, bad name, ...; an
 *          empty datagram is valid UDP, and is sent)
 * -ENOENT  no such client (left, kicked, or never was)
 * -ENOBUFS the tick's output budget (max_output_per_tick) is used up
 * -EPERM   not allowed from this callback (see each service) */

typedef struct rf_engine rf_engine;

/* What the engine offers a module. Call through the inline wrappers below;
 * every pointer up to size is non-NULL. */
struct rf_services {
	uint32_t size; /* sizeof(struct rf_services) of the engine */
	uint32_t pad;
	int (*send)(rf_engine *e, rf_client_id to, const void *data, uint32_t len);
	int (*broadcast)(rf_engine *e, rf_client_id except, const void *data, uint32_t len);
	int (*kick)(rf_engine *e, rf_client_id c);
	int (*end_session)(rf_engine *e);
	void (*log)(rf_engine *e, int level, const char *msg);
	uint64_t (*tick)(const rf_engine *e);
	uint64_t (*now_ns)(const rf_engine *e);
	void *(*client_data)(const rf_engine *e, rf_client_id c);
	int (*set_client_data)(rf_engine *e, rf_client_id c, void *data);
	int (*define_value)(rf_engine *e, unsigned idx, const char *name);
	int (*set_value)(rf_engine *e, unsigned idx, int64_t v);
	int (*set_status)(rf_engine *e, const char *text);
	uint32_t (*clients)(const rf_engine *e, rf_client_id *out, uint32_t cap);
	/* Appended in issue 13 (test with RF_HAS_SERVICE(e, client_player)). */
	const char *(*client_player)(const rf_engine *e, rf_client_id c);
};

/* The engine handle every callback gets; what lies behind svc is the
 * engine's own. */
struct rf_engine {
	const struct rf_services *svc;
};

#define RF_HAS_SERVICE(e, field) \
	((e)->svc->size >= offsetof(struct rf_services, field) + sizeof((e)->svc->field))

/* What init is told about the server. */
struct rf_game_info {
	uint32_t size;          /* sizeof(struct rf_game_info) of the engine */
	uint32_t tick_hz;       /* ticks per second */
	const char *server;     /* the server's name in the configuration */
	const char *args;       /* game_args, "" when unset */
	uint32_t max_clients;   /* clients the table holds */
	uint32_t max_packet;    /* largest datagram in either direction */
	uint32_t output_budget; /* max_output_per_tick: datagrams per tick */
	uint32_t pad;
	/* Appended after ABI 1's first release: test with RF_HAS_INFO. */
	uint32_t session_idle_s; /* the operator's session_idle_s (1..86400) */
	uint32_t pad2;
};

/* Whether the engine's rf_game_info has field (an older engine's is
 * shorter). */
#define RF_HAS_INFO(info, field) \
	((info)->size >= offsetof(struct rf_game_info, field) + sizeof((info)->field))

/* The module's callbacks. Any callback but init and tick may be NULL. */
struct rf_game {
	uint32_t abi_version; /* RF_GAME_ABI_VERSION */
	uint32_t size;        /* sizeof(struct rf_game) as the module saw it */
	const char *name;     /* short, for logs and status */
	/* RF_GAME_* flags. */
	uint32_t flags;
	uint32_t pad;
	/* Once, before any other callback. *state is the module's, passed to
	 * every later callback. 0, or a negative errno: the server is then
	 * `fatal` (not restarted) with the message given by rf_log() at
	 * RF_GAME_LOG_ERR, if any. */
	int (*init)(rf_engine *e, const struct rf_game_info *info, void **state);
	/* Once, last; output queued here is not sent. */
	void (*fini)(rf_engine *e, void *state);
	/* A new client, admitted by the engine's handshake. 0 takes it; a
	 * negative value refuses it (it is told so and not added). */
	int (*join)(rf_engine *e, void *state, rf_client_id c);
	/* A client left; its id is dead once this returns. */
	void (*leave)(rf_engine *e, void *state, rf_client_id c, enum rf_leave_reason why);
	/* One datagram of client c, received this tick, in arrival order.
	 * data is valid until the end of this tick; it may be passed to
	 * rf_send()/rf_broadcast() as is (the engine then sends it by
	 * reference, without a copy). */
	void (*input)(rf_engine *e, void *state, rf_client_id c, const void *data, uint32_t len);
	/* After this tick's input: simulate, then queue output. */
	void (*tick)(rf_engine *e, void *state);
	/* The server is stopping: say goodbye before deadline_ns
	 * (CLOCK_MONOTONIC). Ticks go on until the module calls
	 * rf_end_session() or the deadline passes. */
	void (*drain)(rf_engine *e, void *state, uint64_t deadline_ns);
	/* Appended after ABI 1's first release (a module whose size does not
	 * cover it is never called for it): a matchmaker allocated this
	 * server. meta is the allocation's metadata, "key=value" lines each
	 * ending in '\n' ("" when none; printable ASCII, anything else '?';
	 * at most 2048 bytes), valid during the call. The session
	 * lasts until the module calls rf_end_session() or an operator
	 * releases it. Called at the start of a tick, before its input;
	 * rf_send()/rf_broadcast() are refused here (-EPERM): queue a
	 * greeting in the tick callback of the same tick. Once per
	 * allocation and worker: a worker restarted during a session calls
	 * it again for that session, so a fresh module learns it is
	 * allocated. */
	void (*allocated)(rf_engine *e, void *state, const char *meta);
};

/* The server needs no tick while it has no client (an idle server then
 * sleeps on its socket). */
#define RF_GAME_IDLE_SLEEP 1u
/* The module resets itself when its session ends: the server goes back to
 * ready as it is, instead of being recycled (a fresh worker, an empty
 * client table). */
#define RF_GAME_SELF_RESET 2u

/* The entry point: returns the module's table, which must stay valid until
 * the module is unloaded. */
typedef const struct rf_game *(*rf_game_entry_fn)(void);

/* Queues data for client to. 0, or -ENOENT, -EINVAL, -ENOBUFS. */
static inline int rf_send(rf_engine *e, rf_client_id to, const void *data, uint32_t len)
{
	return e->svc->send(e, to, data, len);
}

/* Queues data for every client, but except (RF_NO_CLIENT: nobody left
 * out). Clients that join later in the same tick do not get it. 0, or
 * -EINVAL, -ENOBUFS (then nobody gets it). */
static inline int rf_broadcast(rf_engine *e, rf_client_id except, const void *data, uint32_t len)
{
	return e->svc->broadcast(e, except, data, len);
}

/* Removes client c after this callback (leave with RF_LEAVE_KICKED);
 * output queued for it is dropped. 0 or -ENOENT. */
static inline int rf_kick(rf_engine *e, rf_client_id c)
{
	return e->svc->kick(e, c);
}

/* Ends the session: at the end of this tick every client leaves with
 * RF_LEAVE_SESSION_OVER, after this tick's output is sent. While
 * draining, the server then stops. 0. */
static inline int rf_end_session(rf_engine *e)
{
	return e->svc->end_session(e);
}

/* One line to the worker's log (journal), tagged with the server. */
static inline void rf_log(rf_engine *e, int level, const char *msg)
{
	e->svc->log(e, level, msg);
}

/* The number of the current tick (counts from 1 over the server's life,
 * across worker restarts) and its start time (CLOCK_MONOTONIC ns). */
static inline uint64_t rf_tick(const rf_engine *e)
{
	return e->svc->tick(e);
}

static inline uint64_t rf_tick_ns(const rf_engine *e)
{
	return e->svc->now_ns(e);
}

/* The module's pointer for client c (NULL until set, or for no client). */
static inline void *rf_client_data(const rf_engine *e, rf_client_id c)
{
	return e->svc->client_data(e, c);
}

static inline int rf_set_client_data(rf_engine *e, rf_client_id c, void *data)
{
	return e->svc->set_client_data(e, c, data);
}

/* Names value idx (0..RF_GAME_VALUES-1); from init only (-EPERM later). */
static inline int rf_define_value(rf_engine *e, unsigned idx, const char *name)
{
	return e->svc->define_value(e, idx, name);
}

static inline int rf_set_value(rf_engine *e, unsigned idx, int64_t v)
{
	return e->svc->set_value(e, idx, v);
}

/* A short status text (truncated to RF_GAME_STATUS_MAX - 1 bytes;
 * printable ASCII, anything else becomes '?'). */
static inline int rf_set_status(rf_engine *e, const char *text)
{
	return e->svc->set_status(e, text);
}

/* Writes up to cap ids of the clients now in the table; returns how many
 * there are (which may exceed cap). */
static inline uint32_t rf_clients(const rf_engine *e, rf_client_id *out, uint32_t cap)
{
	return e->svc->clients(e, out, cap);
}

/* The player id client c was admitted with by its connect token
 * (admission = token): 1..64 printable ASCII bytes, valid while c is in
 * the table (join included). NULL when c came in by cookie or open, is
 * not a client, or the engine predates the service. */
static inline const char *rf_client_player(const rf_engine *e, rf_client_id c)
{
	if (!RF_HAS_SERVICE(e, client_player))
		return NULL;
	return e->svc->client_player(e, c);
}

#ifdef __cplusplus
}
#endif

#endif /* RINGFLEET_GAME_H */
