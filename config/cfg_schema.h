// SPDX-License-Identifier: Apache-2.0
/* cfg_schema.h - the one table of per-server keys ([defaults], [server],
 * [pool]): each key's name, where it may appear, its type, range, default,
 * documentation line, and the setter that parses a value into a struct
 * cfg_server. The config loader, the supervisor (the worker's argv, the
 * reload's "changed?") and the worker (its flags, defaults, checks and
 * --help) all walk this table, so a per-server key is known here only.
 *
 * A key the worker takes (worker = true) is the worker flag --NAME, '_'
 * written '-' (tick_hz: --tick-hz), parsed by the same setter: a bad value
 * gets the same "expected ..., got ..." in the file and on the command line.
 *
 * Library rf_schema (this and cfg_value.c): no I/O, no allocation.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* Kinds of sections, for cfg_key.in (bit 1 << kind). */
enum sect_kind { SK_SUPERVISOR, SK_DEFAULTS, SK_SERVER, SK_POOL };

/* Rows of the table that code names (the loader's own checks, tests). A
 * key no code names needs no id: its row alone, after these, is enough. */
enum srv_field {
	F_BIND,
	F_PORT,
	F_PORTS,
	F_CPU,
	F_TICK_HZ,
	F_MAX_CLIENTS,
	F_CLIENT_TIMEOUT,
	F_MAX_PACKET,
	F_MAX_PPT,
	F_RECV_BUFFERS,
	F_RCVBUF,
	F_BACKEND,
	F_USER,
	F_GROUP,
	F_ADMISSION,
	F_PER_IP,
	F_GAME,
	F_GAME_ARGS,
	F_MAX_OUTPUT,
	F_DRAIN_TIMEOUT,
	F_LABELS,
	F_NAMED
};

#define CFG_KEYS_MAX 32 /* rows the table may grow to (arrays per key) */

#define CFG_POOL_MAX_PORTS 4096
#define CFG_WHY_MAX 480 /* room for a setter's "expected ...", or two module paths */
#define CFG_FLAG_MAX 32 /* room for a worker flag name, "max-packets-per-tick" */

/* How a field is stored, for comparing and copying it. */
enum cfg_key_type { CFG_T_NUM, CFG_T_STR };

/* What a setter may need besides the value. */
struct cfg_key_ctx {
	int ncpus;         /* cpu: CPUs 0..ncpus-1 exist */
	uint16_t *port_hi; /* ports: the pool's last port goes here */
	/* game: when set (ringfleetd's loads, not the worker's flags nor a
	 * plain cfg_load()), a module path must pass this file-system check
	 * (cfg_modpath.h); it writes the resolved path, which is what gets
	 * stored. Returns 0 or -errno with why set, as cfg_key.set. */
	int (*check_module)(void *arg, const char *path, char *real, size_t reallen, char *why,
			    size_t len);
	void *check_arg;
};

struct cfg_key {
	const char *name;
	unsigned in; /* bit (1 << sect_kind) per section allowing it */
	bool worker; /* a flag of ringfleet-worker, sent by spawn.c */
	/* Parses v into s. Returns 0, or -EINVAL with why set to the message
	 * after "KEY: ", e.g. `expected 1..1000, got "0"`. */
	int (*set)(const struct cfg_key *k, struct cfg_server *s, const char *v,
		   const struct cfg_key_ctx *ctx, char *why, size_t len);
	/* Writes s's value as set() reads it. Returns 0 or -ENOSPC. */
	int (*fmt)(const struct cfg_key *k, const struct cfg_server *s, char *buf, size_t len);
	enum cfg_key_type type;
	size_t off, size;  /* the field in struct cfg_server */
	uint32_t min, max; /* numeric keys */
	const char *def;   /* default as set() reads it; NULL: none */
	const char *arg;   /* the value in --help: N, auto|io_uring|mmsg ... */
	const char *doc;   /* one line of documentation */
};

extern const struct cfg_key cfg_srv_keys[];
extern const int cfg_srv_nkeys; /* rows in cfg_srv_keys */

/* The key named name, or NULL. */
const struct cfg_key *cfg_key_find(const char *name);
/* "cookie", "open" or "token", as the admission key spells it; "?" for
 * anything else. */
const char *cfg_admission_name(enum rf_admission a);
/* k's worker flag without the dashes ("tick-hz"). Returns 0 or -ENOSPC. */
int cfg_key_flag(const struct cfg_key *k, char *buf, size_t len);
/* k's field equal in a and b. */
bool cfg_key_equal(const struct cfg_key *k, const struct cfg_server *a, const struct cfg_server *b);
/* "--tick-hz=50": k as a worker argument with s's value. 0 or -ENOSPC. */
int cfg_key_worker_arg(const struct cfg_key *k, const struct cfg_server *s, char *buf, size_t len);

/* Setter pieces the [supervisor] keys share: a number min..max, and ""
 * or a plausible user/group name (kind "user" or "group"). 0 or -EINVAL
 * with why set, as cfg_key.set. */
int cfg_set_u32_range(const char *v, uint32_t min, uint32_t max, uint32_t *out, char *why,
		      size_t len);
int cfg_set_account(const char *kind, const char *v, char *out, char *why, size_t len);
