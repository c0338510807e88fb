// SPDX-License-Identifier: Apache-2.0
/* test_api.c - the pure and file-reading parts of the HTTP allocation
 * API: routing, the bearer header, request bodies (api_parse.c), the
 * secret-file rules (cfg_secret.c) and the api_* keys as cfg_load_host()
 * reads them (cfg_api.c: token digest, TLS files, non-loopback refusal).
 * The server itself is tested end to end (tests/e2e/test_api.py).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "config/cfg_secret.h"
#include "config/config.h"
#include "supervisor/api_parse.h"

static char dir[] = "/tmp/rf-test-api-XXXXXX";
static char err[CFG_ERR_MAX];

static int make_dir(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	static const char *const names[] = { "ok", "group", "bad",   "link", "big",
					     "t",  "c.pem", "k.pem", "r.ini" };
	char path[128];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	return rmdir(dir);
}

/* dir/name holding text, with mode; returns its path (static). */
static const char *put(const char *name, const char *text, mode_t mode)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

/* ---- api_parse.c ---- */

static void test_route(void **state)
{
	struct api_route r;

	(void)state;
	api_route("POST", "/v1/allocate", &r);
	assert_int_equal(r.ep, API_EP_ALLOCATE);
	assert_true(r.method_ok);
	api_route("GET", "/v1/allocate", &r);
	assert_int_equal(r.ep, API_EP_ALLOCATE);
	assert_false(r.method_ok);
	assert_string_equal(r.allow, "POST");
	api_route("GET", "/v1/servers", &r);
	assert_int_equal(r.ep, API_EP_SERVERS);
	assert_true(r.method_ok);
	api_route("POST", "/v1/servers/lobby-7100/release", &r);
	assert_int_equal(r.ep, API_EP_RELEASE);
	assert_true(r.method_ok);
	assert_string_equal(r.name, "lobby-7100");
	for (size_t i = 0; i < 7; i++) {
		static const char *const none[] = {
			"/v1/servers/",
			"/v1/servers//release",
			"/v1/servers/a/b/release",
			"/v1/servers/a b/release",
			"/v1/allocate/",
			"/v2/allocate",
			"",
		};

		api_route("POST", none[i], &r);
		assert_int_equal(r.ep, API_EP_NONE);
	}
}

static void test_bearer(void **state)
{
	const char *tok;
	size_t len;

	(void)state;
	assert_true(api_bearer_token("Bearer abc", &tok, &len));
	assert_int_equal(len, 3);
	assert_memory_equal(tok, "abc", 3);
	assert_true(api_bearer_token("bEaReR \t abc \t", &tok, &len));
	assert_int_equal(len, 3);
	assert_false(api_bearer_token(NULL, &tok, &len));
	assert_false(api_bearer_token("Bearer", &tok, &len));
	assert_false(api_bearer_token("Bearer   ", &tok, &len));
	assert_false(api_bearer_token("Bearerabc", &tok, &len));
	assert_false(api_bearer_token("Basic abc", &tok, &len));
}

static void test_parse_alloc(void **state)
{
	static struct alloc_req r;
	const char *full = "{\"selectors\":{\"mode\":\"ctf\"},\"meta\":{\"match\":\"m-1\"},"
			   "\"policy\":\"distributed\",\"players\":[\"alice\",\"bob\"]}";
	static const struct {
		const char *body, *want;
	} bad[] = {
		{ "{\"policy\":", "bad JSON at 1:" },
		{ "[]", "want a JSON object" },
		{ "{\"policy\":3}", "policy" },
		{ "{\"selectors\":[\"a\"]}", "selector" },
		{ "{\"players\":\"a\"}", "players" },
		{ "{\"bogus\":1}", "unknown member \"bogus\"" },
		{ "{\"meta\":{\"k\":\"v\",\"k\":\"w\"}}", "duplicate" },
	};

	(void)state;
	assert_int_equal(api_parse_alloc("", 0, &r, err, sizeof(err)), 0);
	assert_int_equal(r.selectors.n, 0);
	assert_int_equal(r.policy, ALLOC_PACKED);
	assert_int_equal(api_parse_alloc(full, strlen(full), &r, err, sizeof(err)), 0);
	assert_string_equal(kv_get(&r.selectors, "mode"), "ctf");
	assert_string_equal(kv_get(&r.meta, "match"), "m-1");
	assert_int_equal(r.policy, ALLOC_DISTRIBUTED);
	assert_int_equal(r.n_players, 2);
	/* Not NUL-terminated: only len bytes are read. */
	assert_int_equal(api_parse_alloc("{}xx", 2, &r, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(api_parse_alloc(bad[i].body, strlen(bad[i].body), &r, err,
						 sizeof(err)),
				 -EINVAL);
		if (!strstr(err, bad[i].want))
			fail_msg("%s: error \"%s\" lacks \"%s\"", bad[i].body, err, bad[i].want);
	}
}

/* ---- cfg_secret.c ---- */

static void test_secret_rules(void **state)
{
	char why[256], link[160], *buf;
	const char *path;
	size_t len;

	(void)state;
	path = put("ok", "secret\n", 0600);
	assert_int_equal(cfg_secret_read(path, geteuid(), 64, &buf, &len, why, sizeof(why)), 0);
	assert_int_equal(len, 7);
	assert_string_equal(buf, "secret\n");
	cfg_secret_free(buf, len);
	path = put("group", "secret", 0640);
	assert_int_equal(cfg_secret_read(path, geteuid(), 64, &buf, &len, why, sizeof(why)), 0);
	cfg_secret_free(buf, len);
	for (size_t i = 0; i < 4; i++) {
		static const mode_t bad[] = { 0644, 0660, 0700, 0400 };

		path = put("bad", "secret", bad[i]);
		assert_int_equal(cfg_secret_read(path, geteuid(), 64, &buf, &len, why, sizeof(why)),
				 -EPERM);
		assert_null(buf);
		assert_non_null(strstr(why, "expected 0600 or 0640"));
	}
	path = put("ok", "secret", 0600);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(cfg_secret_read(link, geteuid(), 64, &buf, &len, why, sizeof(why)),
			 -ELOOP);
	assert_non_null(strstr(why, "symbolic link"));
	assert_int_equal(cfg_secret_read(dir, geteuid(), 64, &buf, &len, why, sizeof(why)),
			 -EISDIR);
	path = put("big", "0123456789", 0600);
	assert_int_equal(cfg_secret_read(path, geteuid(), 9, &buf, &len, why, sizeof(why)), -EFBIG);
	if (geteuid() != 0) { /* owned by us, trusted is someone else */
		path = put("ok", "secret", 0600);
		assert_int_equal(cfg_secret_read(path, geteuid() + 1, 64, &buf, &len, why,
						 sizeof(why)),
				 -EPERM);
	}
}

/* ---- cfg_api.c through cfg_load_host() ---- */

static int load_sup(const char *sup, struct cfg *cfg)
{
	char text[1024];

	snprintf(text, sizeof(text), "[supervisor]\n%s[server a]\nport = 7100\nbind = 127.0.0.1\n",
		 sup);
	return cfg_load_host(put("r.ini", text, 0644), cfg, err, sizeof(err));
}

static void test_token_loaded(void **state)
{
	unsigned char want[CFG_TOKEN_HASH_LEN];
	const char *token = "0123456789abcdef0123";
	char sup[512];
	struct cfg cfg;

	(void)state;
	put("t", "0123456789abcdef0123\r\n", 0600);
	snprintf(sup, sizeof(sup), "api_listen = 127.0.0.1:9760\napi_token_file = %s/t\n", dir);
	assert_int_equal(load_sup(sup, &cfg), 0);
	assert_true(cfg.api.token_set);
	crypto_generichash(want, sizeof(want), (const unsigned char *)token, strlen(token), NULL,
			   0);
	assert_memory_equal(cfg.api.token_hash, want, sizeof(want));
	assert_null(cfg.api.tls_cert);
	cfg_free(&cfg);

	put("t", "short\n", 0600);
	assert_int_equal(load_sup(sup, &cfg), -EINVAL);
	assert_non_null(strstr(err, "r.ini:3: api_token_file: "));
	assert_non_null(strstr(err, "holds a token of 5 bytes, expected at least 16"));
	put("t", "0123456789abcdef 0123\n", 0600);
	assert_int_equal(load_sup(sup, &cfg), -EINVAL);
	assert_non_null(strstr(err, "printable ASCII without spaces"));
	put("t", "0123456789abcdef0123\n", 0644);
	assert_int_equal(load_sup(sup, &cfg), -EINVAL);
	assert_non_null(strstr(err, "r.ini:3: api_token_file: "));
	assert_non_null(strstr(err, "has mode 0644"));
}

static void test_tls_files(void **state)
{
	char sup[768];
	struct cfg cfg;

	(void)state;
	put("t", "0123456789abcdef0123\n", 0600);
	put("c.pem", "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n", 0644);
	put("k.pem", "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n", 0600);
	snprintf(sup, sizeof(sup),
		 "api_listen = 0.0.0.0:9760\napi_token_file = %s/t\napi_tls_cert = %s/c.pem\n"
		 "api_tls_key = %s/k.pem\n",
		 dir, dir, dir);
	assert_int_equal(load_sup(sup, &cfg), 0);
	assert_non_null(strstr(cfg.api.tls_cert, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(cfg.api.tls_key, "BEGIN PRIVATE KEY"));
	cfg_free(&cfg);
	put("k.pem", "-----BEGIN PRIVATE KEY-----\n", 0644);
	assert_int_equal(load_sup(sup, &cfg), -EINVAL);
	assert_non_null(strstr(err, "r.ini:5: api_tls_key: "));
	assert_non_null(strstr(err, "is open to others"));
	put("k.pem", "not pem", 0600);
	assert_int_equal(load_sup(sup, &cfg), -EINVAL);
	assert_non_null(strstr(err, "not in PEM format"));

	/* Plain HTTP outside loopback only on purpose. */
	snprintf(sup, sizeof(sup), "api_listen = 0.0.0.0:9760\napi_token_file = %s/t\n", dir);
	assert_int_equal(load_sup(sup, &cfg), -EINVAL);
	assert_non_null(strstr(err, "is not a loopback address"));
	snprintf(sup, sizeof(sup),
		 "api_listen = 0.0.0.0:9760\napi_token_file = %s/t\napi_insecure = yes\n", dir);
	assert_int_equal(load_sup(sup, &cfg), 0);
	assert_true(cfg.sup.api_insecure);
	cfg_free(&cfg);
	/* ::1 is loopback (a host without IPv6 fails the address check). */
	snprintf(sup, sizeof(sup), "api_listen = [::1]:9760\napi_token_file = %s/t\n", dir);
	if (load_sup(sup, &cfg) < 0)
		assert_null(strstr(err, "loopback"));
	cfg_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route),        cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_parse_alloc),  cmocka_unit_test(test_secret_rules),
		cmocka_unit_test(test_token_loaded), cmocka_unit_test(test_tls_files),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
