// SPDX-License-Identifier: Apache-2.0
/* cfg_value.h - syntax of single config values: numbers, byte sizes,
 * addresses, port ranges, names and CPU lists. Knows nothing about
 * sections or files; config.c turns a failure into a file:line message.
 * Every parser takes the whole (already trimmed) value and rejects
 * trailing garbage.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Plain decimal digits only (no sign, no spaces) up to max.
 * Returns 0, or -EINVAL (syntax) / -ERANGE (> max). */
int cfg_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* Bytes with an optional binary K/M/G suffix (either case): "4M" = 4 MiB.
 * Returns 0 or -EINVAL (syntax or overflow). */
int cfg_parse_bytes(const char *s, uint64_t *out);

/* Numeric IPv4 or IPv6 address; writes its canonical text (inet_ntop)
 * to canon. Returns the address family or -EINVAL. */
int cfg_parse_addr(const char *s, char *canon, size_t len);

/* True for the IPv4/IPv6 wildcard address in canonical text. */
bool cfg_addr_is_any(const char *canon);

/* "ADDR:PORT" or "[IPV6]:PORT" with a numeric address and port 1..65535.
 * Returns 0 or -EINVAL. */
int cfg_parse_listen(const char *s);

/* "A-B" or "A" with ports 1..65535. Returns 0, -EINVAL (syntax or a port
 * out of range) or -ERANGE (A > B). */
int cfg_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi);

/* 1..max characters of [A-Za-z0-9._-]. */
bool cfg_name_ok(const char *s, size_t max);

/* A user or group name: 1..max characters of [A-Za-z0-9._-], not
 * starting with '-' (it would read as an option to tools). */
bool cfg_account_ok(const char *s, size_t max);
