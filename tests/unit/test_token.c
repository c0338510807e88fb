/* SPDX-License-Identifier: Apache-2.0 */
/* test_token.c - connect tokens (issue 13): seal and open, expiry, another
 * server, another key, forged bytes, malformed lengths, the text form and
 * the host key file's content. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <sodium.h>

#include "common/token.h"

#define NOW 1800000000ull

static const uint8_t key[RF_TOKEN_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t nonce[RF_TOKEN_NONCE_LEN] = { 9, 9, 9 };

static int seal(const char *player, const char *server, uint64_t expiry, uint8_t *out)
{
	struct rf_token t = { .expiry_s = expiry, .alloc_id = 42 };

	strcpy(t.player, player);
	strcpy(t.server, server);
	return token_seal(key, &t, nonce, out, RF_TOKEN_MAX);
}

static void test_roundtrip(void **state)
{
	uint8_t buf[RF_TOKEN_MAX];
	struct rf_token t;
	int n = seal("alice", "eu-1", NOW + 60, buf);

	(void)state;
	assert_int_equal(n, RF_TOKEN_HDR_LEN + 1 + 5 + 8 + 1 + 4 + RF_TOKEN_TAG_LEN);
	assert_int_equal(buf[0], RF_TOKEN_VERSION);
	assert_int_equal(token_open(key, "eu-1", NOW, buf, (size_t)n, &t), 0);
	assert_string_equal(t.player, "alice");
	assert_string_equal(t.server, "eu-1");
	assert_int_equal(t.alloc_id, 42);
	assert_int_equal(t.expiry_s, NOW + 60);
	/* The largest token fits one TOKEN message with room to spare. */
	char p64[65], s63[64];

	memset(p64, '~', 64);
	p64[64] = '\0';
	memset(s63, 's', 63);
	s63[63] = '\0';
	n = seal(p64, s63, NOW + 1, buf);
	assert_int_equal(n, RF_TOKEN_MAX);
	assert_int_equal(token_open(key, s63, NOW, buf, (size_t)n, &t), 0);
	assert_string_equal(t.player, p64);
}

static void test_expired(void **state)
{
	uint8_t buf[RF_TOKEN_MAX];
	struct rf_token t;
	int n = seal("alice", "eu-1", NOW, buf);

	(void)state;
	assert_int_equal(token_open(key, "eu-1", NOW - 1, buf, (size_t)n, &t), 0);
	assert_int_equal(token_open(key, "eu-1", NOW, buf, (size_t)n, &t), -ETIMEDOUT);
	assert_int_equal(token_open(key, "eu-1", NOW + 3600, buf, (size_t)n, &t), -ETIMEDOUT);
}

static void test_other_server_and_key(void **state)
{
	uint8_t buf[RF_TOKEN_MAX], other[RF_TOKEN_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 9 };
	struct rf_token t;
	int n = seal("alice", "eu-1", NOW + 60, buf);

	(void)state;
	assert_int_equal(token_open(key, "eu-2", NOW, buf, (size_t)n, &t), -EBADMSG);
	assert_int_equal(token_open(key, "eu-1x", NOW, buf, (size_t)n, &t), -EBADMSG);
	assert_int_equal(token_open(other, "eu-1", NOW, buf, (size_t)n, &t), -EBADMSG);
	/* An expired token for another server is "another server", never
	 * "expired": nothing unauthenticated is reported. */
	assert_int_equal(token_open(key, "eu-2", NOW + 3600, buf, (size_t)n, &t), -EBADMSG);
}

static void test_forged(void **state)
{
	uint8_t buf[RF_TOKEN_MAX];
	struct rf_token t;
	int n = seal("alice", "eu-1", NOW + 60, buf);

	(void)state;
	/* Every byte but the version (a flip there is malformed) matters,
	 * the public expiry and nonce included. */
	for (int i = 1; i < n; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			buf[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(token_open(key, "eu-1", NOW, buf, (size_t)n, &t),
					 -EBADMSG);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	buf[0] ^= 1;
	assert_int_equal(token_open(key, "eu-1", NOW, buf, (size_t)n, &t), -EINVAL);
	buf[0] ^= 1;
	assert_int_equal(token_open(key, "eu-1", NOW, buf, (size_t)n, &t), 0);
	/* A later expiry on an old token does not open. */
	buf[8]++;
	assert_int_equal(token_open(key, "eu-1", NOW, buf, (size_t)n, &t), -EBADMSG);
}

static void test_malformed(void **state)
{
	uint8_t buf[RF_TOKEN_MAX + 8];
	struct rf_token t = { .expiry_s = NOW + 60 };
	int n = seal("alice", "eu-1", NOW + 60, buf);

	(void)state;
	/* Truncated or extended: the tag no longer verifies, or too short
	 * or long to be a token at all. */
	assert_int_equal(token_open(key, "eu-1", NOW, buf, 0, &t), -EINVAL);
	assert_int_equal(token_open(key, "eu-1", NOW, buf, RF_TOKEN_MIN - 1, &t), -EINVAL);
	assert_int_equal(token_open(key, "eu-1", NOW, buf, (size_t)n - 1, &t), -EBADMSG);
	assert_int_equal(token_open(key, "eu-1", NOW, buf, RF_TOKEN_MAX + 1, &t), -EINVAL);
	assert_int_equal(token_open(key, "", NOW, buf, (size_t)n, &t), -EINVAL);
	/* Bad fields are refused at sealing. */
	strcpy(t.server, "eu-1");
	t.player[0] = '\0';
	assert_int_equal(token_seal(key, &t, nonce, buf, sizeof(buf)), -EINVAL);
	strcpy(t.player, "a b");
	assert_int_equal(token_seal(key, &t, nonce, buf, sizeof(buf)), -EINVAL);
	strcpy(t.player, "\x7f");
	assert_int_equal(token_seal(key, &t, nonce, buf, sizeof(buf)), -EINVAL);
	memset(t.player, 'p', RF_TOKEN_PLAYER_MAX + 1);
	assert_false(token_player_ok(t.player) && t.player[RF_TOKEN_PLAYER_MAX] == '\0');
	strcpy(t.player, "ok");
	assert_int_equal(token_seal(key, &t, nonce, buf, 20), -ENOSPC);
	/* A body whose lengths disagree, sealed properly, is malformed. */
	{
		uint8_t body[] = {
			3, 'a', 'b', 'c', 0, 0, 0, 0, 0, 0, 0, 1, 9, 'e', 'u', '-', '1'
		};
		uint8_t ad[RF_TOKEN_HDR_LEN + 4];
		unsigned long long clen;

		buf[0] = RF_TOKEN_VERSION;
		memset(buf + 1, 0, 8);
		buf[8] = 0xff; /* expiry far ahead */
		buf[7] = 0xff;
		memcpy(buf + 9, nonce, RF_TOKEN_NONCE_LEN);
		memcpy(ad, buf, RF_TOKEN_HDR_LEN);
		memcpy(ad + RF_TOKEN_HDR_LEN, "eu-1", 4);
		crypto_aead_xchacha20poly1305_ietf_encrypt(buf + RF_TOKEN_HDR_LEN, &clen, body,
							   sizeof(body), ad, sizeof(ad), NULL,
							   nonce, key);
		assert_int_equal(token_open(key, "eu-1", NOW, buf, RF_TOKEN_HDR_LEN + clen, &t),
				 -EINVAL);
	}
}

static void test_text(void **state)
{
	uint8_t buf[RF_TOKEN_MAX], back[RF_TOKEN_MAX];
	char text[RF_TOKEN_TEXT_MAX];
	int n = seal("bob", "eu-1", NOW + 60, buf), tn;

	(void)state;
	tn = token_to_text(buf, (size_t)n, text, sizeof(text));
	assert_true(tn > 0);
	assert_null(strpbrk(text, "+/="));
	assert_int_equal(token_from_text(text, back, sizeof(back)), n);
	assert_memory_equal(buf, back, (size_t)n);
	assert_int_equal(token_from_text("not base64!", back, sizeof(back)), -EINVAL);
	assert_int_equal(token_to_text(buf, (size_t)n, text, 10), -ENOSPC);
}

static void test_key_parse(void **state)
{
	uint8_t k[RF_TOKEN_KEY_LEN], raw[RF_TOKEN_KEY_LEN];
	char hex[RF_TOKEN_KEY_HEX_LEN + 2];

	(void)state;
	for (unsigned i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(token_key_parse(raw, sizeof(raw), k), 0);
	assert_memory_equal(k, raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	memset(k, 0, sizeof(k));
	assert_int_equal(token_key_parse((const uint8_t *)hex, 64, k), 0);
	assert_memory_equal(k, raw, sizeof(raw));
	strcat(hex, "\n");
	assert_int_equal(token_key_parse((const uint8_t *)hex, 65, k), 0);
	hex[3] = 'g';
	assert_int_equal(token_key_parse((const uint8_t *)hex, 65, k), -EINVAL);
	assert_int_equal(token_key_parse(raw, 31, k), -EINVAL);
	assert_int_equal(token_key_parse(raw, 33, k), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_other_server_and_key),
		cmocka_unit_test(test_forged),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_key_parse),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
