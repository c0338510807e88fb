// SPDX-License-Identifier: Apache-2.0
/* token.c - see token.h. */
#include "common/token.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

_Static_assert(RF_TOKEN_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "token key");
_Static_assert(RF_TOKEN_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce");
_Static_assert(RF_TOKEN_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag");

#define AD_MAX (RF_TOKEN_HDR_LEN + RF_TOKEN_SERVER_MAX)

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static bool printable(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

bool token_player_ok(const char *player)
{
	size_t n = strnlen(player, RF_TOKEN_PLAYER_MAX + 1);

	return n >= 1 && n <= RF_TOKEN_PLAYER_MAX && printable((const uint8_t *)player, n);
}

static bool server_ok(const char *server, size_t *n)
{
	*n = strnlen(server, RF_TOKEN_SERVER_MAX + 1);
	return *n >= 1 && *n <= RF_TOKEN_SERVER_MAX;
}

/* header | server: what the seal authenticates besides the body. */
static size_t make_ad(uint8_t *ad, const uint8_t *hdr, const char *server, size_t slen)
{
	memcpy(ad, hdr, RF_TOKEN_HDR_LEN);
	memcpy(ad + RF_TOKEN_HDR_LEN, server, slen);
	return RF_TOKEN_HDR_LEN + slen;
}

int token_seal(const uint8_t key[RF_TOKEN_KEY_LEN], const struct rf_token *t,
	       const uint8_t nonce[RF_TOKEN_NONCE_LEN], uint8_t *out, size_t cap)
{
	uint8_t body[RF_TOKEN_BODY_MAX], ad[AD_MAX];
	size_t plen, slen, blen = 0, adlen;
	unsigned long long clen = 0;

	if (!token_player_ok(t->player) || !server_ok(t->server, &slen))
		return -EINVAL;
	plen = strlen(t->player);
	body[blen++] = (uint8_t)plen;
	memcpy(body + blen, t->player, plen);
	blen += plen;
	put_be64(body + blen, t->alloc_id);
	blen += 8;
	body[blen++] = (uint8_t)slen;
	memcpy(body + blen, t->server, slen);
	blen += slen;
	if (cap < RF_TOKEN_HDR_LEN + blen + RF_TOKEN_TAG_LEN)
		return -ENOSPC;
	out[0] = RF_TOKEN_VERSION;
	put_be64(out + 1, t->expiry_s);
	memcpy(out + 9, nonce, RF_TOKEN_NONCE_LEN);
	adlen = make_ad(ad, out, t->server, slen);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + RF_TOKEN_HDR_LEN, &clen, body, blen, ad,
						   adlen, NULL, out + 9, key);
	sodium_memzero(body, sizeof(body));
	return (int)(RF_TOKEN_HDR_LEN + clen);
}

/* The body's fields into *t: -EINVAL unless they fill it exactly. */
static int parse_body(const uint8_t *b, size_t n, struct rf_token *t)
{
	size_t plen, slen;

	if (n < 1)
		return -EINVAL;
	plen = b[0];
	if (plen < 1 || plen > RF_TOKEN_PLAYER_MAX || n < 1 + plen + 8 + 1)
		return -EINVAL;
	slen = b[1 + plen + 8];
	if (slen < 1 || slen > RF_TOKEN_SERVER_MAX || n != 1 + plen + 8 + 1 + slen ||
	    !printable(b + 1, plen))
		return -EINVAL;
	memcpy(t->player, b + 1, plen);
	t->player[plen] = '\0';
	t->alloc_id = get_be64(b + 1 + plen);
	memcpy(t->server, b + 1 + plen + 9, slen);
	t->server[slen] = '\0';
	return 0;
}

int token_open(const uint8_t key[RF_TOKEN_KEY_LEN], const char *server, uint64_t now_s,
	       const uint8_t *buf, size_t len, struct rf_token *t)
{
	uint8_t body[RF_TOKEN_BODY_MAX], ad[AD_MAX];
	unsigned long long blen = 0;
	size_t slen, adlen;
	int ret;

	memset(t, 0, sizeof(*t));
	if (len < RF_TOKEN_MIN || len > RF_TOKEN_MAX || buf[0] != RF_TOKEN_VERSION ||
	    !server_ok(server, &slen))
		return -EINVAL;
	adlen = make_ad(ad, buf, server, slen);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(body, &blen, NULL, buf + RF_TOKEN_HDR_LEN,
						       len - RF_TOKEN_HDR_LEN, ad, adlen, buf + 9,
						       key) != 0)
		return -EBADMSG;
	ret = parse_body(body, (size_t)blen, t);
	sodium_memzero(body, sizeof(body));
	if (ret < 0)
		return ret;
	/* The additional data already binds the server; the body's copy is
	 * what a reader of an opened token sees, so it must agree. */
	if (strcmp(t->server, server) != 0)
		return -EBADMSG;
	t->expiry_s = get_be64(buf + 1);
	if (now_s >= t->expiry_s)
		return -ETIMEDOUT;
	return 0;
}

int token_to_text(const uint8_t *buf, size_t len, char *text, size_t cap)
{
	const int v = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

	if (cap < sodium_base64_encoded_len(len, v))
		return -ENOSPC;
	sodium_bin2base64(text, cap, buf, len, v);
	return (int)strlen(text);
}

int token_from_text(const char *text, uint8_t *buf, size_t cap)
{
	size_t n = 0;

	if (sodium_base642bin(buf, cap, text, strlen(text), NULL, &n, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return -EINVAL;
	return (int)n;
}

int token_key_parse(const uint8_t *data, size_t len, uint8_t key[RF_TOKEN_KEY_LEN])
{
	size_t n = 0;

	if (len == RF_TOKEN_KEY_LEN) {
		memcpy(key, data, RF_TOKEN_KEY_LEN);
		return 0;
	}
	if (len == RF_TOKEN_KEY_HEX_LEN + 1 && data[len - 1] == '\n')
		len--;
	if (len != RF_TOKEN_KEY_HEX_LEN)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!((data[i] >= '0' && data[i] <= '9') || (data[i] >= 'a' && data[i] <= 'f') ||
		      (data[i] >= 'A' && data[i] <= 'F')))
			return -EINVAL;
	if (sodium_hex2bin(key, RF_TOKEN_KEY_LEN, (const char *)data, len, NULL, &n, NULL) != 0 ||
	    n != RF_TOKEN_KEY_LEN)
		return -EINVAL;
	return 0;
}
