/* SPDX-License-Identifier: Apache-2.0 */
/* cfg_host.c - the checks a configuration must pass on this host, not
 * only on paper: users and groups exist, bind, metrics_listen and
 * api_listen addresses are this host's, game modules are files only root or
 * ringfleetd's user can write (cfg_modpath.h). Run by cfg_load_host() (--check, start and
 * reload alike), never by plain cfg_load(), which ringfleetctl and the
 * unit tests use on files meant for other hosts.
 *
 * Nothing here has a side effect: an address is tried by binding a
 * throwaway socket to it with port 0, closed at once. Whether the port
 * itself is free is deliberately not checked: during `--check` before a
 * reload the running daemon holds it.
 *
 * Values repeat across sections ([defaults], pools), so each check
 * remembers the last value that passed and 10,000 sections cost a few
 * lookups, not 10,000.
 */
#include "config/cfg_load.h"
#include "config/cfg_modpath.h"
#include "config/cfg_value.h"
#include "common/token.h"
#include "config/cfg_secret.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* 0 if addr (canonical text) can be bound on this host, else -errno. */
static int addr_is_local(const char *addr, int type)
{
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	struct sockaddr *sa = (struct sockaddr *)&v4;
	socklen_t len = sizeof(v4);
	int fd, r = 0;

	if (inet_pton(AF_INET, addr, &v4.sin_addr) != 1) {
		if (inet_pton(AF_INET6, addr, &v6.sin6_addr) != 1)
			return -EINVAL;
		sa = (struct sockaddr *)&v6;
		len = sizeof(v6);
	}
	fd = socket(sa->sa_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, sa, len) < 0)
		r = -errno;
	close(fd);
	return r;
}

static bool check_addr(struct parser *p, int line, const char *key, const char *addr,
		       const char *shown, int type)
{
	int r;

	if (cfg_addr_is_any(addr) || strcmp(p->host_ok_addr, addr) == 0)
		return true;
	r = addr_is_local(addr, type);
	if (r < 0) {
		cfg_fail(p, line, "%s: expected an address of this host, got \"%s\" (%s)", key,
			 shown, strerror(-r));
		return false;
	}
	strcpy(p->host_ok_addr, addr);
	return true;
}

static bool check_user(struct parser *p, int line, const char *name)
{
	if (!*name || strcmp(p->host_ok_user, name) == 0)
		return true;
	if (!getpwnam(name)) {
		cfg_fail(p, line, "user: expected a user that exists on this host, got \"%s\"",
			 name);
		return false;
	}
	strcpy(p->host_ok_user, name);
	return true;
}

static bool check_group(struct parser *p, int line, const char *key, const char *name)
{
	if (!*name || strcmp(p->host_ok_group, name) == 0)
		return true;
	if (!getgrnam(name)) {
		cfg_fail(p, line, "%s: expected a group that exists on this host, got \"%s\"", key,
			 name);
		return false;
	}
	strcpy(p->host_ok_group, name);
	return true;
}

bool cfg_host_check_server(struct parser *p, const struct cfg_server *v, const int *line)
{
	if (!p->check_host)
		return true;
	return check_addr(p, line[F_BIND], "bind", v->bind, v->bind, SOCK_DGRAM) &&
	       check_user(p, line[F_USER], v->user) &&
	       check_group(p, line[F_GROUP], "group", v->group);
}

/* "127.0.0.1:9750" or "[::1]:9750" -> its canonical address. */
static int listen_addr(const char *listen, char *addr, size_t len)
{
	const char *start = listen, *end = strrchr(listen, ':');
	char tmp[CFG_ADDR_MAX];
	size_t n;

	if (!end)
		return -EINVAL;
	if (*start == '[') {
		start++;
		end--;
	}
	n = (size_t)(end - start);
	if (end < start || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, start, n);
	tmp[n] = '\0';
	return cfg_parse_addr(tmp, addr, len) < 0 ? -EINVAL : 0;
}

/* metrics_listen, api_listen. */
static bool check_listen(struct parser *p, int key)
{
	const char *listen = (const char *)p->sup + cfg_sup_keys[key].off;
	char addr[CFG_ADDR_MAX];
	bool ok;

	/* cfg_keys.c already vetted the syntax. */
	if (!listen[0] || listen_addr(listen, addr, sizeof(addr)) < 0)
		return true;
	ok = check_addr(p, p->sup_key_line[key], cfg_sup_keys[key].name, addr, listen, SOCK_STREAM);
	p->host_ok_addr[0] = '\0'; /* checked for TCP; UDP is another question */
	return ok;
}

int token_key_read(const char *path, uid_t euid, uint8_t key[RF_TOKEN_KEY_LEN], char *why,
		   size_t len)
{
	char *buf = NULL;
	size_t n = 0;
	int r = cfg_secret_read(path, euid, RF_TOKEN_KEY_HEX_LEN + 1, &buf, &n, why, len);

	if (r == -EFBIG || (r == 0 && token_key_parse((const uint8_t *)buf, n, key) < 0)) {
		snprintf(why, len,
			 "%s: expected 32 bytes or 64 hex digits (ringfleetd --gen-token-key "
			 "makes one)",
			 path);
		r = -EINVAL;
	}
	cfg_secret_free(buf, n);
	return r;
}

bool cfg_host_check_sup(struct parser *p)
{
	const struct cfg_supervisor *sup = p->sup;

	if (!p->check_host)
		return true;
	if (!check_group(p, p->sup_key_line[S_CONTROL_GROUP], "control_group", sup->control_group))
		return false;
	if (sup->token_key_file[0]) {
		uint8_t key[RF_TOKEN_KEY_LEN];
		char why[CFG_PATH_MAX + 256];

		if (token_key_read(sup->token_key_file, geteuid(), key, why, sizeof(why)) < 0) {
			cfg_fail(p, p->sup_key_line[S_TOKEN_KEY_FILE], "token_key_file: %s", why);
			return false;
		}
		sodium_memzero(key, sizeof(key));
	}
	return check_listen(p, S_METRICS) && check_listen(p, S_API_LISTEN);
}

int cfg_host_check_module(void *arg, const char *path, char *real, size_t reallen, char *why,
			  size_t len)
{
	struct parser *p = arg;
	int r;

	if (strcmp(p->host_ok_game, path) == 0 && strlen(p->host_ok_game_real) < reallen) {
		strcpy(real, p->host_ok_game_real);
		return 0;
	}
	r = cfg_modpath_check(path, geteuid(), real, reallen, why, len);
	if (r < 0)
		return r;
	if (strlen(path) < sizeof(p->host_ok_game) && strlen(real) < sizeof(p->host_ok_game_real)) {
		strcpy(p->host_ok_game, path);
		strcpy(p->host_ok_game_real, real);
	}
	return 0;
}
