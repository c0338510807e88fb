// SPDX-License-Identifier: Apache-2.0
/* fuzz_input.h - reads structured values out of a libFuzzer input.
 *
 * Reads past the end yield zeros instead of failing, so every input is a
 * valid program for a harness: libFuzzer's mutations (truncation, byte
 * flips) then always change behaviour a little instead of being rejected.
 *
 * FUZZ_CHECK is the harnesses' assert: it survives NDEBUG (CMake's Release
 * and RelWithDebInfo define it) and aborts, which libFuzzer reports as a
 * crash with the input saved.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                                    \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                            \
			fputc('\n', stderr);                                                     \
			abort();                                                                 \
		}                                                                                \
	} while (0)

struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline bool fuzz_more(const struct fuzz_in *in)
{
	return in->left > 0;
}

static inline void fuzz_bytes(struct fuzz_in *in, void *out, size_t n)
{
	size_t k = n < in->left ? n : in->left;

	memcpy(out, in->p, k);
	memset((uint8_t *)out + k, 0, n - k);
	in->p += k;
	in->left -= k;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v;

	fuzz_bytes(in, &v, 1);
	return v;
}

/* Little endian, so that seeds written by hand read naturally. */
static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint8_t b[2];

	fuzz_bytes(in, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	return fuzz_u16(in) | (uint32_t)fuzz_u16(in) << 16;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	return fuzz_u32(in) | (uint64_t)fuzz_u32(in) << 32;
}
