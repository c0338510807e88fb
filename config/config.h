// SPDX-License-Identifier: Apache-2.0
/* config.h - the ringfleet INI schema: loading, validation, comparison.
 *
 * cfg_load() parses a whole file with inih into a struct cfg, applying
 * [defaults] to every [server] and expanding every [pool] into one server
 * per port, then validates everything. It either returns a complete,
 * valid configuration or fails with one message naming file:line and key,
 * e.g. `ringfleet.ini:14: tick_hz: expected 1..1000, got "fast"`.
 */
#pragma once
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/backend.h"
#include "common/handshake.h"

#define CFG_NAME_MAX 64       /* server/pool name incl. NUL */
#define CFG_USER_MAX 33       /* user/group name incl. NUL */
#define CFG_ADDR_MAX 64       /* textual address incl. NUL */
#define CFG_GAME_MAX 256      /* game: "relay" or a module path, incl. NUL */
#define CFG_GAME_ARGS_MAX 256 /* game_args incl. NUL */
#define CFG_LABELS_MAX 256    /* labels, normalised, incl. NUL */
#define CFG_MAX_SERVERS 16384 /* servers per file, pools expanded */
#define CFG_ERR_MAX 512       /* room for one error message */
#define CFG_PATH_MAX 256      /* a file named in [supervisor], incl. NUL */
#define CFG_TOKEN_HASH_LEN 32 /* crypto_generichash_BYTES */
#define CFG_DEFAULT_CONTROL_SOCKET "/run/ringfleet/control.sock"

enum cfg_placement { CFG_PLACE_BALANCE = 0, CFG_PLACE_PACK = 1 };

struct cfg_server {
	char name[CFG_NAME_MAX]; /* "eu-1", or "lobby-7100" for a pool */
	char pool[CFG_NAME_MAX]; /* pool it came from, "" for [server] */
	char bind[CFG_ADDR_MAX]; /* numeric IPv4/IPv6 address */
	uint16_t port;
	int cpu;                       /* explicit pin, or -1 */
	uint32_t tick_hz;              /* 1..1000 */
	uint32_t max_clients;          /* 1..RF_CLIENTS_LIMIT */
	uint32_t client_timeout_s;     /* 1..3600 */
	uint32_t max_packet;           /* 1..65507 */
	uint32_t max_packets_per_tick; /* 1..1024 */
	uint32_t recv_buffers;         /* power of two 16..32768 */
	uint64_t socket_rcvbuf;        /* bytes, suffixes K/M/G accepted */
	enum rf_backend backend;
	enum rf_admission admission;       /* cookie (default) or open */
	uint32_t max_clients_per_ip;       /* 0 = unlimited, ..RF_CLIENTS_LIMIT */
	char game[CFG_GAME_MAX];           /* "relay" or an absolute module path */
	char game_args[CFG_GAME_ARGS_MAX]; /* handed to the module's init */
	uint32_t max_output_per_tick;      /* datagrams a tick may queue */
	uint32_t drain_timeout_ms;         /* a stopping module's goodbye time */
	uint32_t session_idle_s;           /* an allocated relay with no client ends it */
	uint32_t idle_sleep;               /* 1: an idle worker sleeps (worker/driver.h) */
	char user[CFG_USER_MAX];           /* "" = do not switch user */
	char group[CFG_USER_MAX];          /* "" = user's primary group */
	/* Matched by allocation selectors, as "k=v,k2=v2" (common/kv.h
	 * rules, normalised); not the worker's: a reload that changes only
	 * these updates the running server in place. Text, not a kv_list,
	 * to keep this struct (copied per server) small. */
	char labels[CFG_LABELS_MAX];
	int line;      /* line of its [server]/[pool] header */
	int game_line; /* line game was set on (its section or [defaults]), 0 = not set */
};

struct cfg_supervisor {
	char control_socket[108]; /* fits sockaddr_un.sun_path */
	char control_group[CFG_USER_MAX];
	uint32_t control_mode; /* socket file mode, default 0660 */
	cpu_set_t cpus;        /* CPUs workers may use */
	bool cpus_set;         /* false: all the daemon may use */
	enum cfg_placement placement;
	uint32_t max_per_cpu;              /* 1..4096 */
	char metrics_listen[CFG_ADDR_MAX]; /* "" = off, else ADDR:PORT */
	char api_listen[CFG_ADDR_MAX];     /* HTTP allocation API: "" = off */
	char api_token_file[CFG_PATH_MAX]; /* its bearer token (cfg_secret.h) */
	char api_tls_cert[CFG_PATH_MAX];   /* PEM; both or neither: "" = plain HTTP */
	char api_tls_key[CFG_PATH_MAX];
	bool api_insecure;             /* plain HTTP beyond loopback, on purpose */
	uint32_t hang_timeout_ms;      /* 100..600000 */
	uint32_t stop_timeout_ms;      /* 100..600000 */
	uint32_t restart_delay_ms;     /* first backoff delay */
	uint32_t restart_delay_max_ms; /* backoff cap */
	uint32_t stable_after_s;       /* healthy this long resets backoff */
	uint32_t crash_limit;          /* crashes within window -> fatal */
	uint32_t crash_window_s;
	int log_level; /* RF_LOG_* from common/log.h */
	/* Connect tokens (admission = token, common/token.h): the host key
	 * file ("" = none) and how long an issued token stays valid. */
	char token_key_file[CFG_PATH_MAX];
	uint32_t token_ttl_s; /* 1..86400, default 60 */
	/* A worker whose supervisor has not beaten for this long stops
	 * gracefully (worker/orphan.h); 0..86400, 0 = never, default 300. */
	uint32_t orphan_timeout_s;
	/* ringfleetd waits for requests as SCHED_FIFO 1, on a CPU budget
	 * (supervisor/latency.h); default yes. */
	bool realtime;
};

struct cfg_names;

/* What cfg_load_host() read from the api_* files of [supervisor], so that
 * a reload takes them all or nothing; cfg_load() leaves it empty. */
struct cfg_api_files {
	unsigned char token_hash[CFG_TOKEN_HASH_LEN]; /* of the bearer token */
	bool token_set;
	char *tls_cert, *tls_key; /* PEM text (malloc'd), NULL: no TLS */
};

struct cfg {
	char path[PATH_MAX];
	struct cfg_supervisor sup;
	struct cfg_server *servers; /* n_servers entries, in file order */
	struct cfg_api_files api;
	size_t n_servers;
	/* Private: name hash built by cfg_load() so cfg_find_server() is O(1).
	 * NULL (e.g. a hand-built cfg) means a linear scan. */
	struct cfg_names *index;
};

/* Loads and validates path into *out (which the caller then cfg_free()s).
 * Returns 0, or -errno with a message in err: -ENOENT/-EACCES etc. when the
 * file cannot be read, -EINVAL for any content error and for a path that
 * is not a regular file (a FIFO, a device; -EISDIR: a directory), -EFBIG for a file
 * over CFG_FILE_MAX (16 MiB). On failure *out is left empty (safe to
 * cfg_free). */
int cfg_load(const char *path, struct cfg *out, char *err, size_t errlen);
/* cfg_load() plus what only this host can tell, with the same
 * "PATH:LINE: key: ..." messages: every user, group and control_group
 * exists, every bind and metrics_listen address is one of this host's.
 * Free of side effects; a port already in use is not an error (the
 * running daemon may hold it). ringfleetd uses this for --check, start
 * and reload alike. */
int cfg_load_host(const char *path, struct cfg *out, char *err, size_t errlen);
void cfg_free(struct cfg *cfg);

/* The built-in defaults that [defaults] starts from (name "", port 0,
 * cpu -1), e.g. for a standalone worker run without a config file. */
void cfg_server_init(struct cfg_server *s);
/* The built-in [supervisor] defaults. */
void cfg_supervisor_init(struct cfg_supervisor *sup);

/* Index of the server named name, or -1. */
int cfg_find_server(const struct cfg *cfg, const char *name);

/* True when a running worker of a would need no restart to become b
 * (every field that affects the worker or its socket is equal; labels
 * are not compared: they change in place). */
bool cfg_server_equal(const struct cfg_server *a, const struct cfg_server *b);

/* Parses a CPU list like "0-3,6" into set. Returns 0 or -EINVAL. */
int cfg_parse_cpulist(const char *s, cpu_set_t *set);
/* Formats set as a CPU list ("0-3,6") into buf. Returns 0 or -ENOSPC. */
int cfg_format_cpulist(const cpu_set_t *set, char *buf, size_t len);

/* The connect-token host key in path (token_key_file): the rules of
 * cfg_secret.h (regular file, no link, mode 0600/0640, owner root or
 * euid), content 32 raw bytes or 64 hex digits. 0, or -errno with a
 * sentence naming path in why. */
int token_key_read(const char *path, uid_t euid, uint8_t key[32], char *why, size_t len);
