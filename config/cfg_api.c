// SPDX-License-Identifier: Apache-2.0
/* cfg_api.c - the [supervisor] keys of the HTTP allocation API checked
 * together, and (for cfg_load_host) its token and TLS files read into
 * struct cfg, so that start, --check and reload judge the same bytes and
 * a reload with a bad file changes nothing. See cfg_load.h.
 */
#include "config/cfg_load.h"
#include "config/cfg_file.h"
#include "config/cfg_secret.h"
#include "config/cfg_value.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define API_TOKEN_MIN 16
#define API_TOKEN_MAX 4096
#define API_PEM_MAX (256u << 10) /* a long chain is a few KiB */

_Static_assert(CFG_TOKEN_HASH_LEN == crypto_generichash_BYTES, "token hash size");

/* 127.0.0.0/8 or ::1, from api_listen's already vetted text. */
static bool listen_is_loopback(const char *listen)
{
	char host[CFG_ADDR_MAX];
	const char *colon = strrchr(listen, ':');
	size_t n = colon ? (size_t)(colon - listen) : 0;
	struct in6_addr a6;
	struct in_addr a4;

	if (!n || n >= sizeof(host))
		return false;
	memcpy(host, listen, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
		host[n - 1] = '\0';
		return inet_pton(AF_INET6, host + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return false;
}

static bool check_keys(struct parser *p)
{
	const struct cfg_supervisor *sup = p->sup;
	const int *line = p->sup_key_line;
	bool cert = sup->api_tls_cert[0], key = sup->api_tls_key[0];

	if (!sup->api_token_file[0]) {
		cfg_fail(p, line[S_API_LISTEN],
			 "api_listen: needs api_token_file, the bearer token clients must send");
		return false;
	}
	if (cert != key) {
		cfg_fail(p, line[cert ? S_API_TLS_CERT : S_API_TLS_KEY], "%s: needs %s as well",
			 cert ? "api_tls_cert" : "api_tls_key",
			 cert ? "api_tls_key" : "api_tls_cert");
		return false;
	}
	if (!cert && !sup->api_insecure && !listen_is_loopback(sup->api_listen)) {
		cfg_fail(p, line[S_API_LISTEN],
			 "api_listen: %s is not a loopback address and the API has no TLS: set "
			 "api_tls_cert and api_tls_key, or api_insecure = yes for plain HTTP "
			 "there on purpose",
			 sup->api_listen);
		return false;
	}
	return true;
}

/* The token travels in an HTTP header: printable ASCII, no spaces. */
static bool token_ok(const char *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
			return false;
	return true;
}

static bool read_token(struct parser *p, struct cfg *out)
{
	const char *path = p->sup->api_token_file;
	int line = p->sup_key_line[S_API_TOKEN_FILE];
	char why[CFG_ERR_MAX - 64];
	char *buf;
	size_t len, n;

	if (cfg_secret_read(path, geteuid(), API_TOKEN_MAX, &buf, &len, why, sizeof(why)) < 0) {
		cfg_fail(p, line, "api_token_file: %s", why);
		return false;
	}
	n = len;
	if (n && buf[n - 1] == '\n')
		n--;
	if (n && buf[n - 1] == '\r')
		n--;
	if (n < API_TOKEN_MIN)
		cfg_fail(p, line,
			 "api_token_file: %s holds a token of %zu bytes, expected at least %d "
			 "(e.g. openssl rand -hex 32)",
			 path, n, API_TOKEN_MIN);
	else if (!token_ok(buf, n))
		cfg_fail(p, line,
			 "api_token_file: %s: expected a token of printable ASCII without spaces "
			 "on one line",
			 path);
	else
		crypto_generichash(out->api.token_hash, sizeof(out->api.token_hash),
				   (const unsigned char *)buf, n, NULL, 0);
	out->api.token_set = !p->err_code;
	cfg_secret_free(buf, len);
	return out->api.token_set;
}

/* A PEM file; the private key readable by no one but its owner and
 * group, owned by root or ringfleetd's user. Links are fine here
 * (certbot's live/ directory is made of them). */
static char *read_pem(struct parser *p, int key, bool private)
{
	const char *name = cfg_sup_keys[key].name;
	const char *path = (const char *)p->sup + cfg_sup_keys[key].off;
	int line = p->sup_key_line[key];
	struct stat st = { 0 };
	char *buf = NULL;
	size_t len = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	r = fd < 0 ? -errno : cfg_read_fd(fd, API_PEM_MAX, &buf, &len, &st);
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		cfg_fail(p, line, "%s: %s: %s", name, path,
			 r == -EFBIG ? "over 256 KiB" : strerror(-r));
		return NULL;
	}
	if (private && (st.st_mode & 0007)) {
		cfg_fail(p, line, "%s: %s is open to others (mode %04o; chmod o-rwx %s)", name,
			 path, (unsigned)(st.st_mode & 07777), path);
	} else if (private && st.st_uid != 0 && st.st_uid != geteuid()) {
		cfg_fail(p, line, "%s: %s is owned by uid %u, expected root or uid %u", name, path,
			 (unsigned)st.st_uid, (unsigned)geteuid());
	} else if (!buf || !strstr(buf, "-----BEGIN ")) {
		cfg_fail(p, line, "%s: %s is not in PEM format (no -----BEGIN line)", name, path);
	}
	if (p->err_code) {
		cfg_secret_free(buf, len);
		return NULL;
	}
	return buf;
}

bool cfg_api_check(struct parser *p, struct cfg *out)
{
	if (!p->sup->api_listen[0])
		return true;
	if (!check_keys(p))
		return false;
	if (!p->check_host)
		return true;
	if (sodium_init() < 0) {
		cfg_fail(p, p->sup_key_line[S_API_LISTEN], "api_listen: libsodium failed to start");
		return false;
	}
	if (!read_token(p, out))
		return false;
	if (!p->sup->api_tls_cert[0])
		return true;
	out->api.tls_cert = read_pem(p, S_API_TLS_CERT, false);
	if (out->api.tls_cert)
		out->api.tls_key = read_pem(p, S_API_TLS_KEY, true);
	return !p->err_code;
}
