// SPDX-License-Identifier: Apache-2.0
/* cfg_load.h - private to the config loader: the state shared by its
 * parse pass (config.c reads lines and headers, cfg_keys.c checks keys)
 * and resolve pass (cfg_resolve.c). */
#pragma once
#include "config/cfg_schema.h"
#include "config/config.h"

#include <stdbool.h>
#include <stdio.h>

/* Keys of [defaults], [server] and [pool]: cfg_schema.h. */

/* Keys of [supervisor]. */
enum sup_field {
	S_CONTROL_SOCKET,
	S_CONTROL_GROUP,
	S_CONTROL_MODE,
	S_CPUS,
	S_PLACEMENT,
	S_MAX_PER_CPU,
	S_METRICS,
	S_HANG,
	S_STOP,
	S_RESTART,
	S_RESTART_MAX,
	S_STABLE,
	S_CRASH_LIMIT,
	S_CRASH_WINDOW,
	S_LOG_LEVEL,
	S_TOKEN_KEY_FILE,
	S_TOKEN_TTL,
	S_ORPHAN_TIMEOUT,
	S_API_LISTEN,
	S_API_TOKEN_FILE,
	S_API_TLS_CERT,
	S_API_TLS_KEY,
	S_API_INSECURE,
	S_REALTIME,
	S_COUNT
};

/* A [defaults], [server] or [pool] section as written: the keys it sets,
 * to be laid over the defaults by the resolve pass. */
struct sect {
	enum sect_kind kind;
	int line;                   /* of its header */
	int key_line[CFG_KEYS_MAX]; /* line of each key set here, 0 = not set */
	struct cfg_server v;        /* v.name = section name; values of set keys */
	uint16_t port_hi;           /* [pool]: ports v.port..port_hi */
};

struct parser {
	const char *path;
	const char *buf; /* the whole file (cfg_file.h) */
	size_t len, pos; /* its size; where the next line starts */
	int lineno;
	int ncpus;                       /* CPUs 0..ncpus-1 exist on this machine */
	bool check_host;                 /* also run the checks of cfg_host.c */
	char host_ok_addr[CFG_ADDR_MAX]; /* the last value each check passed */
	char host_ok_user[CFG_USER_MAX];
	char host_ok_group[CFG_USER_MAX];
	char host_ok_game[CFG_GAME_MAX];      /* a module path that passed, as written */
	char host_ok_game_real[CFG_GAME_MAX]; /* and what it resolved to */
	int err_code;                         /* first error (-errno), 0 = none */
	char *err;
	size_t errlen;
	struct cfg_supervisor *sup; /* [supervisor] values go straight here */
	int sup_line;               /* header line, 0 = no [supervisor] yet */
	int sup_key_line[S_COUNT];
	struct sect dflt;   /* dflt.line 0 = no [defaults] yet */
	struct sect *sects; /* [server] and [pool] sections in file order */
	size_t n_sects, cap_sects;
	bool in_section; /* false before the first good header */
	enum sect_kind cur_kind;
	struct sect *cur; /* the section keys go to; NULL in [supervisor] */
};

struct sup_key {
	const char *name;
	bool (*set)(struct parser *p, const struct sup_key *k, const char *v);
	size_t off; /* numeric, listen, path, yes/no keys: the field in cfg_supervisor */
	uint32_t min, max;
};

extern const struct sup_key cfg_sup_keys[S_COUNT];

/* Records the first error as "PATH:LINE: message"; later ones are dropped. */
void cfg_fail(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Records a failure about the file rather than its content (-err,
 * "PATH: strerror"), unless an error is already recorded. */
void cfg_fail_errno(struct parser *p, int err);
/* "[server NAME]" / "[pool NAME]" into buf. */
const char *cfg_sect_title(const struct sect *s, char *buf, size_t len);

extern const char *const cfg_sect_kinds[]; /* "supervisor", ... by sect_kind */

/* Key handlers of the parse pass (cfg_keys.c) for the current line. */
void cfg_on_server_key(struct parser *p, const char *name, const char *value);
void cfg_on_sup_key(struct parser *p, const char *name, const char *value);

/* Checks against this host (cfg_host.c), no-ops unless p->check_host:
 * a server's bind, user and group (line[] = the line of each key), and
 * [supervisor]'s control_group, metrics_listen and api_listen. False
 * after a failure. */
bool cfg_host_check_server(struct parser *p, const struct cfg_server *v, const int *line);
bool cfg_host_check_sup(struct parser *p);
/* cfg_key_ctx.check_module for game (arg: the parser): cfg_modpath_check()
 * against ringfleetd's effective uid, the last path that passed cached. */
int cfg_host_check_module(void *arg, const char *path, char *real, size_t reallen, char *why,
			  size_t len);

/* The HTTP API's keys together (cfg_api.c): api_listen needs a token
 * file, TLS needs cert and key, plain HTTP beyond loopback needs
 * api_insecure; with p->check_host also reads the token and PEM files
 * into out->api. False after a failure. */
bool cfg_api_check(struct parser *p, struct cfg *out);

/* The resolve pass: fills out->servers and out->index or fails via p. */
void cfg_resolve(struct parser *p, struct cfg *out);
