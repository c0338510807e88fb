// SPDX-License-Identifier: Apache-2.0
/* httpd.h - an HTTP server (libmicrohttpd) served from the supervisor's
 * own epoll loop, shared by /metrics (metrics.c) and the allocation API
 * (api.c), which only bring their request handlers. MHD runs in
 * external-epoll mode, so there is no thread and no lock, and a slow
 * client only costs a socket buffer (MHD writes non-blocking), never a
 * stalled loop.
 *
 * MHD alone only drops a connection after HTTPD_IDLE_TIMEOUT_S of
 * silence, so a byte every few seconds held one of its slots forever and
 * 16 such clients locked everyone out. Here every connection also has a
 * whole-request deadline (HTTPD_REQUEST_TIMEOUT_S to deliver a request,
 * HTTPD_RESPONSE_TIMEOUT_S to take the answer) enforced from the loop's
 * timer, and once more than HTTPD_BUSY_CONNS are open a new connection
 * evicts the oldest one still owing its request (for HTTPD_EVICT_AFTER_MS
 * at least, with none of it unread), so a client that sends its request
 * at once (a scraper, a matchmaker) always gets in. A connection cut
 * while it owes its request (request deadline, eviction) runs none, even
 * one MHD had already read: a client whose connection closes before any
 * answer knows its request did nothing (an allocation is not lost with
 * its reply) and may send it again. A
 * per-address limit would not help: local attackers and the local
 * scraper share 127.0.0.1. Past HTTPD_MAX_CONNS with none of them idle
 * (every one is slow to take its answer), up to HTTPD_SPARE_CONNS more
 * are accepted only to be told 429 and closed; beyond those MHD closes
 * new connections at once.
 */
#pragma once
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "supervisor/ev.h"

#define HTTPD_MAX_CONNS 64          /* connections served */
#define HTTPD_SPARE_CONNS 8         /* beyond: answered 429, then closed */
#define HTTPD_BUSY_CONNS 32         /* beyond: a new one evicts the oldest idle one */
#define HTTPD_EVICT_AFTER_MS 1000   /* idle at least this long to be evicted */
#define HTTPD_REQUEST_TIMEOUT_S 5   /* accept (or last response) to a whole request */
#define HTTPD_RESPONSE_TIMEOUT_S 30 /* request to the response's last byte */
#define HTTPD_IDLE_TIMEOUT_S 10     /* MHD's own: silence on a connection */
#define HTTPD_SNDBUF (64 << 10)     /* SO_SNDBUF of a connection (kernel doubles it) */
#define HTTPD_CONN_LIMIT (HTTPD_MAX_CONNS + HTTPD_SPARE_CONNS) /* MHD's hard limit */

/* One accepted connection, between MHD's STARTED and CLOSED notices. */
struct httpd_conn {
	struct MHD_Connection *c; /* NULL: free */
	int fd;
	uint64_t since_ns;    /* waiting for a request since (eviction order) */
	uint64_t deadline_ns; /* shut down when this passes */
	bool requested;       /* its request is in, being answered */
	bool closing;         /* shut down, MHD has yet to notice */
	bool over;            /* accepted with HTTPD_MAX_CONNS all busy: gets a 429 */
};

/* What a user of the server brings: MHD's access handler (which calls
 * httpd_requested() first) and what frees a request's context (*con_cls
 * of the handler), called when the request ends however it ends. */
struct httpd_ops {
	MHD_AccessHandlerCallback handle;
	void (*done)(void *cls, void *req_ctx);
	void *cls;
};

struct httpd {
	struct MHD_Daemon *mhd;
	int epfd;
	int mhd_fd; /* MHD's own epoll fd, watched by ours */
	struct ev_tag tag;
	struct httpd_ops ops;
	const char *what;         /* "metrics", "api": for log lines */
	uint64_t paused_until_ns; /* fds ran out: not watched until then, or 0 */
	bool fd_logged;           /* that was logged this episode */
	char listen[64];
	char *tls_cert, *tls_key; /* PEM copies MHD reads while running, or NULL */
	struct httpd_conn conns[HTTPD_CONN_LIMIT];
	size_t n_conns;
	uint64_t n_cut;         /* connections shut down by a deadline or eviction */
	uint64_t n_evicted;     /* of those, evicted to make room */
	uint64_t n_refused_cut; /* requests MHD still handed over after a cut: not run */
};

/* TLS material in PEM (both or neither), copied by httpd_open. */
struct httpd_tls {
	const char *cert_pem, *key_pem;
};

/* Starts listening on "ADDR:PORT" ("[v6]:PORT" for IPv6), over TLS when
 * tls is not NULL; h must stay at this address while open (MHD calls back
 * with it). what ("metrics", a string constant) prefixes log lines, and
 * with "_listen" names the config key in err. Returns 0 or -errno with a
 * message in err. */
int httpd_open(struct httpd *h, int epfd, const char *what, const char *listen,
	       const struct httpd_tls *tls, const struct httpd_ops *ops, char *err, size_t errlen);
void httpd_close(struct httpd *h);
/* The loop's handler for h->tag (EV_HTTP) and for the timer: shuts down
 * connections past their deadline, then lets MHD run, unless no fd is
 * left: MHD, holding no connection, retries a failing accept at once
 * ("busy waiting"), so serving pauses for a while instead, logged once
 * per episode. */
void httpd_on_event(struct httpd *h);
/* When MHD, a connection deadline or the end of a pause next needs a run,
 * or UINT64_MAX (also when closed). */
uint64_t httpd_next_run(const struct httpd *h, uint64_t now);

/* For the access handler, before it answers: the request is in (with
 * its body, if it takes one: a body trickled in stays under the request
 * deadline), so the response deadline replaces the request deadline.
 * True when the connection is one of the spare ones: answer 429. */
bool httpd_requested(struct MHD_Connection *c);
/* Queues a response with body (malloc'd, freed here, also on failure);
 * on a spare connection with "Connection: close". */
enum MHD_Result httpd_reply(struct MHD_Connection *c, unsigned code, char *body, size_t len,
			    const char *type);
/* The same with one more header (hname: hvalue) unless hname is NULL. */
enum MHD_Result httpd_reply_hdr(struct MHD_Connection *c, unsigned code, char *body, size_t len,
				const char *type, const char *hname, const char *hvalue);

/* "ADDR:PORT" / "[v6]:PORT" -> a socket address. 0 or -EINVAL. */
int httpd_parse_listen(const char *s, struct sockaddr_storage *ss);
