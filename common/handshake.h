/* SPDX-License-Identifier: Apache-2.0 */
/* handshake.h - the admission handshake of a game server (issue 10): the
 * wire format shared by the worker (server side) and every client.
 *
 * With admission = cookie (the default) a source enters the client table
 * only after proving it receives at its address:
 *
 *   HELLO      client -> server  "RFH1", zero padding; >= RF_HS_HELLO_MIN bytes
 *   CHALLENGE  server -> client  "RFC1" | u32 window | 16-byte MAC  (24 bytes)
 *   RESPONSE   client -> server  "RFR1" | u32 window | 16-byte MAC  (24 bytes),
 *                                window and MAC copied from the CHALLENGE
 *   WELCOME    server -> client  "RFW1" | u32 0 (reserved)          (8 bytes)
 *   REFUSED    server -> client  "RFX1" | u32 reason                (8 bytes)
 *
 * Integers are big-endian. MAC = BLAKE2b (crypto_generichash) with 16-byte
 * output, keyed with a 32-byte server secret, over
 *   u32 window | u16 family (AF_INET 2, AF_INET6 10) | address (4 or 16) | u16 port,
 * window = CLOCK_MONOTONIC seconds / RF_HS_WINDOW_S. A RESPONSE verifies for
 * the current and the previous window.
 *
 * Server rules: from a source not in the table, a RESPONSE that verifies is
 * admitted (WELCOME) or refused (REFUSED); any other datagram of at least
 * RF_HS_CHALLENGE_LEN bytes gets one CHALLENGE; shorter ones get nothing. No
 * reply is larger than the datagram that caused it. From an admitted
 * source, exactly a RESPONSE gets WELCOME again and a HELLO gets a
 * CHALLENGE, neither relayed; everything else is game data.
 *
 * With admission = open there is no handshake: any source is admitted on
 * its first datagram.
 *
 * A client admitted by the handshake should send game data at once: until
 * its first game datagram it is on probation, and a newcomer may take its
 * place when the table is full (README, Admission).
 */
#pragma once
#include <stdint.h>

#define RF_HS_MAGIC_LEN 4
#define RF_HS_HELLO_MAGIC "RFH1"
#define RF_HS_CHALLENGE_MAGIC "RFC1"
#define RF_HS_RESPONSE_MAGIC "RFR1"
#define RF_HS_WELCOME_MAGIC "RFW1"
#define RF_HS_REFUSED_MAGIC "RFX1"

#define RF_HS_HELLO_MIN 32 /* a HELLO is at least this long */
#define RF_HS_CHALLENGE_LEN 24
#define RF_HS_RESPONSE_LEN 24
#define RF_HS_WELCOME_LEN 8
#define RF_HS_REFUSED_LEN 8
#define RF_HS_REPLY_MAX 24 /* the longest server reply */

#define RF_HS_WINDOW_OFF 4 /* u32 window in CHALLENGE and RESPONSE */
#define RF_HS_MAC_OFF 8    /* MAC in CHALLENGE and RESPONSE */
#define RF_HS_MAC_LEN 16
#define RF_HS_KEY_LEN 32 /* the server secret */
#define RF_HS_WINDOW_S 5 /* seconds per window */

/* REFUSED reasons. */
#define RF_HS_REFUSED_FULL 1    /* table full of clients active recently */
#define RF_HS_REFUSED_PER_IP 2  /* max_clients_per_ip reached */
#define RF_HS_REFUSED_GAME 3    /* the game module's join refused it */
#define RF_HS_REFUSED_TOKEN 4   /* token forged, malformed or for another server */
#define RF_HS_REFUSED_EXPIRED 5 /* token expired */
#define RF_HS_REFUSED_REPLAY 6  /* token's player already admitted this session */

/* With admission = token (connect tokens, common/token.h) a source enters
 * the table with one datagram, no CHALLENGE:
 *
 *   TOKEN      client -> server  "RFT1" | token (RF_TOKEN_MIN..RF_TOKEN_MAX bytes)
 *
 * answered by WELCOME or REFUSED (8 bytes, always smaller than the TOKEN).
 * Any other datagram from a source not in the table gets nothing. From an
 * admitted source, a TOKEN gets WELCOME again (its WELCOME was lost). */
#define RF_HS_TOKEN_MAGIC "RFT1"
#define RF_HS_TOKEN_MAX 1200 /* a TOKEN datagram, at most */

/* The per-server admission mode (config key `admission`); each mode is
 * one decision function in worker/admission.c. */
enum rf_admission {
	RF_ADMISSION_COOKIE = 0,
	RF_ADMISSION_OPEN = 1,
	RF_ADMISSION_TOKEN = 2,
};
