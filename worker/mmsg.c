// SPDX-License-Identifier: Apache-2.0
/* mmsg.c - see mmsg.h. */
#include "worker/mmsg.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "common/timeutil.h"

#define MMSG_RX 64  /* datagrams per recvmmsg */
#define MMSG_TX 256 /* messages per sendmmsg (the kernel takes <= 1024) */
_Static_assert(MMSG_TX >= RF_ADM_REPLY_MAX, "a tick's replies fit one sendmmsg");

/* Control room of one datagram: its receive timestamp (SO_TIMESTAMPNS),
 * with space to spare should the socket carry another control message. */
union rx_ctl {
	char buf[2 * CMSG_SPACE(sizeof(struct timespec))];
	struct cmsghdr align;
};

struct mmsg {
	struct worker *w;
	int fd;
	uint8_t *bufs;
	size_t bufs_bytes;
	uint32_t nbufs;
	uint32_t stride; /* bytes between buffers */
	uint32_t room;   /* max_packet + 1: a longer datagram shows */
	uint32_t *free;  /* [nbufs] stack of free buffer ids */
	uint32_t n_free;
	int rx_error;
	struct tick_plan plan;
	struct mmsghdr rx[MMSG_RX];
	struct iovec rx_iov[MMSG_RX];
	struct sockaddr_in6 rx_name[MMSG_RX];
	union rx_ctl rx_ctl[MMSG_RX];
	uint32_t rx_bid[MMSG_RX];
	struct mmsghdr tx[MMSG_TX];
	uint32_t tx_send[MMSG_TX]; /* the plan's send behind message i */
	uint32_t tx_one[MMSG_TX];  /* its datagram, or TICK_NONE: all of it */
	struct iovec reply_iov[RF_ADM_REPLY_MAX];
};

/* Where send_plan() is: send k, datagram j of it when split. */
struct tx_pos {
	uint32_t k, j;
	bool singles; /* a GSO send failed: the rest goes one by one */
};

static void mmsg_close(struct mmsg *m);

static int mmsg_open(struct mmsg **out, struct worker *w, int fd, uint32_t nbufs,
		     uint32_t max_clients)
{
	struct mmsg *m = calloc(1, sizeof(*m));
	int ret;

	if (!m)
		return -ENOMEM;
	m->w = w;
	m->fd = fd;
	m->nbufs = nbufs;
	m->room = w->max_packet + 1;
	m->stride = (m->room + 63) & ~63u;
	m->bufs_bytes = (size_t)nbufs * m->stride;
	m->bufs = mmap(NULL, m->bufs_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->bufs == MAP_FAILED) {
		m->bufs = NULL;
		mmsg_close(m);
		return -ENOMEM;
	}
	m->free = calloc(nbufs, sizeof(*m->free));
	ret = m->free ? tick_plan_init(&m->plan,
				       &(struct tick_plan_cfg){ .max_in = nbufs,
								.max_out = w->max_output,
								.max_clients = max_clients,
								.max_packet = w->max_packet })
		      : -ENOMEM;
	if (ret < 0) {
		mmsg_close(m);
		return ret;
	}
	tick_plan_rx_region(&m->plan, m->bufs, m->stride);
	for (uint32_t i = 0; i < nbufs; i++)
		m->free[i] = nbufs - 1 - i;
	m->n_free = nbufs;
	*out = m;
	return 0;
}

static void mmsg_close(struct mmsg *m)
{
	if (!m)
		return;
	if (m->bufs)
		munmap(m->bufs, m->bufs_bytes);
	free(m->free);
	tick_plan_free(&m->plan);
	free(m);
}

static int mmsg_rx_error(const struct mmsg *m)
{
	return m->rx_error;
}

/* Points the receive vector at the top n free buffers. */
static void rx_prepare(struct mmsg *m, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t bid = m->free[m->n_free - 1 - i];

		m->rx_bid[i] = bid;
		m->rx_iov[i].iov_base = m->bufs + (size_t)bid * m->stride;
		m->rx_iov[i].iov_len = m->room;
		m->rx[i].msg_hdr = (struct msghdr){
			.msg_name = &m->rx_name[i],
			.msg_namelen = sizeof(m->rx_name[i]),
			.msg_iov = &m->rx_iov[i],
			.msg_iovlen = 1,
			.msg_control = &m->rx_ctl[i],
			.msg_controllen = sizeof(m->rx_ctl[i]),
		};
	}
}

/* The kernel's receive time of the datagram in h, 0 if it has none. */
static uint64_t rx_stamp(struct msghdr *h)
{
	const char *end = (const char *)h->msg_control + h->msg_controllen;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm)) {
		uint64_t ns = tick_stamp_ns(cm, end);

		if (ns)
			return ns;
	}
	return 0;
}

/* Reads until the socket is empty or the buffers run out. Called once per
 * tick with every buffer free; what does not fit waits in the socket. */
static void drain(struct mmsg *m)
{
	for (;;) {
		uint32_t n = m->n_free < MMSG_RX ? m->n_free : MMSG_RX;
		int got;

		if (!n) {
			m->w->st.drop_no_buffer++;
			return;
		}
		rx_prepare(m, n);
		got = recvmmsg(m->fd, m->rx, n, MSG_DONTWAIT, NULL);
		if (got < 0) {
			/* Retried at the next tick, not in a loop. */
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				m->rx_error = -errno;
			return;
		}
		m->n_free -= (uint32_t)got;
		for (int i = 0; i < got; i++) {
			struct msghdr *h = &m->rx[i].msg_hdr;

			if (worker_rx(m->w, h->msg_name, h->msg_namelen, m->rx_iov[i].iov_base,
				      m->rx[i].msg_len, h->msg_flags & MSG_TRUNC, m->rx_bid[i],
				      rx_stamp(h)) < 0)
				m->free[m->n_free++] = m->rx_bid[i];
		}
		if ((uint32_t)got < n)
			return;
	}
}

/* Sleeps until the deadline without watching the socket: datagrams wait
 * in the socket buffer, which the supervisor owns, until the tick drains
 * them. A worker killed in its sleep takes no datagram with it, and the
 * sleep costs one wake-up per tick however many datagrams arrive. */
static int mmsg_wait(struct mmsg *m, uint64_t deadline_ns, const sigset_t *mask)
{
	uint64_t now = rf_now_ns();
	struct timespec ts;

	(void)m;
	if (now >= deadline_ns)
		return 0;
	ts = rf_ns_to_timespec(deadline_ns - now);
	if (ppoll(NULL, 0, &ts, mask) < 0)
		return errno == EINTR ? -EINTR : -errno;
	return 0;
}

/* The idle sleep: the socket watched, nothing received (the datagram
 * waits in the socket for the tick, as in mmsg_wait()). */
static int mmsg_wait_rx(struct mmsg *m, uint64_t deadline_ns, const sigset_t *mask)
{
	struct pollfd pfd = { .fd = m->fd, .events = POLLIN };
	uint64_t now = rf_now_ns();
	struct timespec ts = { 0 };
	int n;

	if (now < deadline_ns)
		ts = rf_ns_to_timespec(deadline_ns - now);
	n = ppoll(&pfd, 1, &ts, mask);
	if (n < 0)
		return errno == EINTR ? -EINTR : -errno;
	/* An error or hangup is the next receive's to report. */
	return n > 0 && pfd.revents ? 1 : 0;
}

/* Whether send s goes one datagram per message: a GSO send failed this
 * tick, or the segment cap fell below its segment since it was cut. */
static bool tx_split(const struct mmsg *m, const struct tx_pos *at, const struct tick_send *s)
{
	return s->seg && (at->singles || s->seg > m->w->gso_max_seg);
}

/* Fills up to MMSG_TX messages from *from on; returns how many. Sends to
 * a client that left are counted and skipped (*from moves past those
 * before the first message; a later one ends the fill). */
static uint32_t tx_fill(struct mmsg *m, struct tx_pos *from)
{
	const struct tick_plan *p = &m->plan;
	struct worker *w = m->w;
	struct tx_pos at = *from;
	uint32_t n = 0;

	while (n < MMSG_TX && at.k < p->n_sends) {
		const struct tick_send *s = &p->send[at.k];
		const struct rf_slot_client *e = &w->clients.tab[s->idx];
		struct msghdr *h = &m->tx[n].msg_hdr;

		if (at.j == 0 && !worker_client_live(w, s->idx, s->gen)) {
			if (n)
				break;
			w->st.drop_send += s->count;
			from->k = ++at.k;
			continue;
		}
		/* Synchronous: the slot entry and the plan outlive the call. */
		*h = (struct msghdr){
			.msg_name = (void *)&e->addr,
			.msg_namelen = e->addrlen,
		};
		m->tx[n].msg_len = 0;
		m->tx_send[n] = at.k;
		if (tx_split(m, &at, s)) {
			h->msg_iov = &p->iov[s->first + at.j];
			h->msg_iovlen = 1;
			m->tx_one[n] = at.j;
			if (++at.j == s->count) {
				at.j = 0;
				at.k++;
			}
		} else {
			h->msg_iov = &p->iov[s->first];
			h->msg_iovlen = s->count;
			h->msg_control = s->seg ? (void *)&p->cmsg[at.k] : NULL;
			h->msg_controllen = s->seg ? sizeof(p->cmsg[at.k]) : 0;
			m->tx_one[n] = TICK_NONE;
			at.k++;
		}
		n++;
	}
	return n;
}

static uint32_t tx_datagrams(const struct mmsg *m, uint32_t i)
{
	return m->tx_one[i] == TICK_NONE ? m->plan.send[m->tx_send[i]].count : 1;
}

/* Moves at to message i of the last fill. */
static void tx_seek(const struct mmsg *m, struct tx_pos *at, uint32_t i)
{
	at->k = m->tx_send[i];
	at->j = m->tx_one[i] == TICK_NONE ? 0 : m->tx_one[i];
}

/* Moves at past message i of the last fill. */
static void tx_skip(const struct mmsg *m, struct tx_pos *at, uint32_t i)
{
	tx_seek(m, at, i);
	if (m->tx_one[i] != TICK_NONE && at->j + 1 < m->plan.send[at->k].count) {
		at->j++;
		return;
	}
	at->k++;
	at->j = 0;
}

static void tx_drop(struct mmsg *m, const struct tx_pos *at)
{
	const struct tick_plan *p = &m->plan;

	m->w->st.drop_send += p->send[at->k].count - at->j;
	for (uint32_t k = at->k + 1; k < p->n_sends; k++)
		m->w->st.drop_send += p->send[k].count;
}

/* Waits for send buffer room, at most until the next tick is due. */
static bool tx_wait(struct mmsg *m)
{
	uint64_t now = rf_now_ns(), until = m->w->deadline_ns;
	struct pollfd pfd = { .fd = m->fd, .events = POLLOUT };
	struct timespec ts;

	if (until < now + RF_NSEC_PER_MSEC)
		until = now + RF_NSEC_PER_MSEC;
	ts = rf_ns_to_timespec(until - now);
	return ppoll(&pfd, 1, &ts, NULL) > 0 && (pfd.revents & POLLOUT);
}

static void send_plan(struct mmsg *m)
{
	struct worker *w = m->w;
	struct tx_pos at = { 0 };

	while (at.k < m->plan.n_sends) {
		uint32_t n = tx_fill(m, &at);
		const struct tick_send *s;
		int sent, err;

		if (!n)
			break;
		sent = sendmmsg(m->fd, m->tx, n, MSG_DONTWAIT);
		if (sent > 0) {
			for (uint32_t i = 0; i < (uint32_t)sent; i++) {
				w->st.pkts_out += tx_datagrams(m, i);
				w->st.bytes_out += m->tx[i].msg_len;
			}
			tx_skip(m, &at, (uint32_t)sent - 1);
			continue;
		}
		/* Message 0 failed. */
		err = sent < 0 ? errno : EAGAIN;
		tx_seek(m, &at, 0);
		s = &m->plan.send[at.k];
		if (err == EAGAIN || err == EWOULDBLOCK) {
			if (tx_wait(m))
				continue;
			tx_drop(m, &at);
			return;
		}
		if (m->tx_one[0] == TICK_NONE && s->seg && worker_gso_error(-err)) {
			worker_gso_failed(w, -err, s->seg);
			/* This send again, and the rest of the tick, one
			 * datagram per message. */
			at.singles = true;
			continue;
		}
		w->st.drop_send += tx_datagrams(m, 0);
		tx_skip(m, &at, 0);
	}
}

/* The tick's handshake replies: one sendmmsg, no waiting (a client
 * retries its handshake message). */
static void send_replies(struct mmsg *m)
{
	struct worker *w = m->w;
	uint32_t n = w->n_replies, sent = 0;
	int ret;

	if (!n)
		return;
	for (uint32_t i = 0; i < n; i++) {
		struct worker_reply *r = &w->reply[i];

		m->reply_iov[i] = (struct iovec){ .iov_base = r->data, .iov_len = r->len };
		m->tx[i].msg_hdr = (struct msghdr){
			.msg_name = &r->name,
			.msg_namelen = r->namelen,
			.msg_iov = &m->reply_iov[i],
			.msg_iovlen = 1,
		};
		m->tx[i].msg_len = 0;
	}
	while (sent < n) {
		ret = sendmmsg(m->fd, m->tx + sent, n - sent, MSG_DONTWAIT);
		/* Not relay output: counted by the admission counters. */
		if (ret > 0) {
			sent += (uint32_t)ret;
			continue;
		}
		if (ret < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* This one failed (a bad destination): skip it. */
		w->st.drop_replies++;
		sent++;
	}
	worker_replies_sent(w, n - sent);
}

/* The driver's rx_drain: one plan, taking every window. */
static struct tick_plan *mmsg_rx_drain(struct mmsg *m)
{
	worker_set_plan(m->w, &m->plan);
	drain(m);
	return &m->plan;
}

/* Sends are synchronous: every buffer is free again at the tick's end. */
static void mmsg_tick_end(struct mmsg *m)
{
	for (uint32_t i = 0; i < m->plan.n_in; i++)
		m->free[m->n_free++] = m->plan.cookie[i];
	tick_plan_reset(&m->plan);
}

/* The operations table. */
static int ops_open(void **be, struct worker *w, int fd, uint32_t nbufs, uint32_t max_clients)
{
	return mmsg_open((struct mmsg **)be, w, fd, nbufs, max_clients);
}

static void ops_close(void *be)
{
	mmsg_close(be);
}

static const char *ops_mode(const void *be)
{
	(void)be;
	return "recvmmsg/sendmmsg";
}

static int ops_wait(void *be, uint64_t deadline_ns, const sigset_t *mask)
{
	return mmsg_wait(be, deadline_ns, mask);
}

static int ops_wait_rx(void *be, uint64_t deadline_ns, const sigset_t *mask)
{
	return mmsg_wait_rx(be, deadline_ns, mask);
}

static struct tick_plan *ops_rx_drain(void *be)
{
	return mmsg_rx_drain(be);
}

static void ops_send_plan(void *be, struct tick_plan *p)
{
	(void)p; /* always the one plan */
	send_plan(be);
}

static void ops_send_replies(void *be)
{
	send_replies(be);
}

static void ops_tick_end(void *be)
{
	mmsg_tick_end(be);
}

static int ops_rx_error(const void *be)
{
	return mmsg_rx_error(be);
}

/* Sends complete within their tick: nothing is in flight at a stop. */
static int ops_drain_on_stop(void *be, uint64_t until_ns)
{
	(void)be;
	(void)until_ns;
	return 0;
}

const struct rf_backend_ops mmsg_backend_ops = {
	.name = "mmsg",
	.kind = RF_BACKEND_MMSG,
	.open = ops_open,
	.close = ops_close,
	.mode = ops_mode,
	.wait = ops_wait,
	.wait_rx = ops_wait_rx,
	.rx_drain = ops_rx_drain,
	.send_plan = ops_send_plan,
	.send_replies = ops_send_replies,
	.tick_end = ops_tick_end,
	.rx_error = ops_rx_error,
	.drain_on_stop = ops_drain_on_stop,
};
