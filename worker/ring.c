// SPDX-License-Identifier: Apache-2.0
/* ring.c - see ring.h.
 *
 * Buffer life: the kernel picks a free buffer for each datagram (multishot
 * recvmsg, IOSQE_BUFFER_SELECT). A packet the worker keeps stays in its
 * buffer, referenced by the plan of the tick window it arrived in; that plan
 * becomes a "flight" once its sends are queued, and its buffers go back to
 * the ring when the flight's last send completes. Dropped packets go back
 * at once. A few flights exist because a flight whose sends wait on a full
 * socket buffer must not stop the next tick.
 */
#include "worker/ring.h"

#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/timeutil.h"

#define RING_BGID 0
#define RING_FLIGHTS 4
#define RING_SQ_ENTRIES 1024
#define RING_CQ_MAX 65536

/* user_data: kind (4 bits) | flight (4) | send (24) | item (32): the
 * plan's send index (max_output_per_tick <= 2^20) for UD_SEND and
 * UD_SEND1, item being the datagram's iovec index for UD_SEND1 and the
 * arming generation for UD_RECV. */
enum { UD_RECV = 1, UD_SEND = 2, UD_SEND1 = 3, UD_CANCEL = 4, UD_REPLY = 5, UD_POLL = 6 };

/* Handshake replies in flight: a few ticks' worth, each held (message,
 * address, bytes) until its send completes. */
#define RING_REPLIES (4 * RF_ADM_REPLY_MAX)

/* get_events rounds per tick while a burst keeps the receive busy: the
 * kernel requeues a multishot receive after a few dozen datagrams. */
#define RX_DRAIN_ROUNDS 64

/* Name room in each receive buffer, rounded up so that the control
 * messages after it are aligned for cmsghdr. */
#define RX_NAME_ROOM ((uint32_t)CMSG_ALIGN(sizeof(struct sockaddr_in6)))
/* Control room: the receive timestamp (SO_TIMESTAMPNS), with space to
 * spare should the socket carry another control message. */
#define RX_CTL_ROOM ((uint32_t)(2 * CMSG_SPACE(sizeof(struct timespec))))

static inline uint64_t ud_make(unsigned kind, unsigned f, uint32_t dest, uint32_t item)
{
	return (uint64_t)kind << 60 | (uint64_t)f << 56 | (uint64_t)dest << 32 | item;
}

struct flight {
	struct tick_plan plan;
	uint32_t pending; /* sends not completed yet */
	bool busy;        /* sends queued, buffers held */
};

/* What a send SQE points to until it is submitted; indexed like the SQEs,
 * since an SQE slot is reused only after the kernel consumed it. */
struct sq_slot {
	struct msghdr msg;
	struct sockaddr_in6 name;
};

struct reply_slot {
	struct msghdr msg;
	struct iovec iov;
	struct sockaddr_in6 name;
	uint8_t data[RF_HS_REPLY_MAX];
	bool busy;
};

struct ring {
	struct io_uring uring;
	struct worker *w;
	unsigned flags; /* IORING_SETUP_* the kernel accepted */
	unsigned cq_entries;
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	uint8_t *bufs;
	size_t bufs_bytes;
	uint32_t nbufs;
	uint32_t stride;      /* bytes between buffers */
	uint32_t buf_len;     /* bytes the kernel may fill in each */
	uint32_t in_kernel;   /* buffers the kernel can pick from */
	uint32_t to_return;   /* added to the ring, not yet published */
	struct msghdr rx_msg; /* shape of the multishot receive */
	bool rx_armed;
	uint32_t rx_gen;   /* generation of the armed receive */
	uint64_t rx_count; /* datagrams received, for the drain loop */
	int rx_error;
	bool poll_armed;    /* the idle sleep's poll on the socket is pending */
	bool poll_ready;    /* it completed: the socket is readable */
	struct sq_slot *sq; /* [sq entries] */
	unsigned sq_entries;
	struct flight fl[RING_FLIGHTS];
	int cur;             /* flight taking this window's packets, -1 */
	uint32_t reply_next; /* where the search for a free one starts */
	struct reply_slot reply[RING_REPLIES];
};

static int ring_setup(struct ring *r, unsigned cq)
{
	/* Best first; EINVAL means this kernel does not know a flag. */
	static const unsigned modes[] = {
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int ret = -EINVAL;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct io_uring_params p = {
			.flags = modes[i] | IORING_SETUP_CQSIZE,
			.cq_entries = cq,
		};

		ret = io_uring_queue_init_params(RING_SQ_ENTRIES, &r->uring, &p);
		if (ret == 0) {
			r->flags = p.flags;
			r->cq_entries = p.cq_entries;
			r->sq_entries = p.sq_entries;
			return 0;
		}
		if (ret != -EINVAL)
			return ret;
	}
	return ret;
}

static void ring_close(struct ring *r);

static void buf_return(struct ring *r, uint32_t bid)
{
	io_uring_buf_ring_add(r->br, r->bufs + (size_t)bid * r->stride, r->buf_len,
			      (unsigned short)bid, io_uring_buf_ring_mask(r->nbufs),
			      (int)r->to_return++);
}

static void buf_publish(struct ring *r)
{
	if (!r->to_return)
		return;
	io_uring_buf_ring_advance(r->br, (int)r->to_return);
	r->in_kernel += r->to_return;
	r->to_return = 0;
}

static int bufs_setup(struct ring *r, uint32_t nbufs, uint32_t max_packet)
{
	struct io_uring_buf_reg reg = { 0 };
	int ret;

	r->nbufs = nbufs;
	r->buf_len =
		sizeof(struct io_uring_recvmsg_out) + RX_NAME_ROOM + RX_CTL_ROOM + max_packet + 1;
	r->stride = (r->buf_len + 63) & ~63u;
	r->bufs_bytes = (size_t)nbufs * r->stride;
	r->bufs = mmap(NULL, r->bufs_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->bufs == MAP_FAILED) {
		r->bufs = NULL;
		return -errno;
	}
	r->br_bytes = (size_t)nbufs * sizeof(struct io_uring_buf);
	r->br = mmap(NULL, r->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->br == MAP_FAILED) {
		r->br = NULL;
		return -errno;
	}
	io_uring_buf_ring_init(r->br);
	reg.ring_addr = (unsigned long)r->br;
	reg.ring_entries = nbufs;
	reg.bgid = RING_BGID;
	ret = io_uring_register_buf_ring(&r->uring, &reg, 0);
	if (ret < 0)
		return ret;
	for (uint32_t i = 0; i < nbufs; i++)
		buf_return(r, i);
	buf_publish(r);
	/* The multishot receive lays out header, source address, control
	 * messages (the receive timestamp), payload. */
	r->rx_msg.msg_namelen = RX_NAME_ROOM;
	r->rx_msg.msg_controllen = RX_CTL_ROOM;
	return 0;
}

static int flights_setup(struct ring *r, uint32_t max_clients)
{
	const struct tick_plan_cfg cfg = {
		.max_in = r->nbufs,
		.max_out = r->w->max_output,
		.max_clients = max_clients,
		.max_packet = r->w->max_packet,
	};

	r->sq = calloc(r->sq_entries, sizeof(*r->sq));
	if (!r->sq)
		return -ENOMEM;
	/* One plan, so one output arena, per flight: what it copied stays
	 * until its sends complete. */
	for (int i = 0; i < RING_FLIGHTS; i++) {
		int ret = tick_plan_init(&r->fl[i].plan, &cfg);

		if (ret < 0)
			return ret;
		tick_plan_rx_region(&r->fl[i].plan, r->bufs, r->stride);
	}
	r->cur = 0;
	return 0;
}

static int ring_open(struct ring **out, struct worker *w, int fd, uint32_t nbufs,
		     uint32_t max_clients)
{
	struct ring *r;
	unsigned cq = 2 * nbufs + 2 * RING_SQ_ENTRIES;
	int ret;

	if (nbufs < 2 || nbufs > 32768 || (nbufs & (nbufs - 1)))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->w = w;
	r->uring.ring_fd = -1;
	/* Room for every receive plus a tick of sends, so a full CQ (which
	 * wakes the tick early) stays rare. */
	ret = ring_setup(r, cq < RING_CQ_MAX ? cq : RING_CQ_MAX);
	if (ret < 0) {
		free(r);
		return ret;
	}
	ret = io_uring_register_files(&r->uring, &fd, 1);
	if (ret == 0)
		ret = bufs_setup(r, nbufs, w->max_packet);
	if (ret == 0)
		ret = flights_setup(r, max_clients);
	if (ret < 0) {
		ring_close(r);
		return ret;
	}
	/* Saves the fd lookup on every io_uring_enter; optional (5.18+). */
	io_uring_register_ring_fd(&r->uring);
	*out = r;
	return 0;
}

/* The ring's teardown after exit is asynchronous and would keep the socket
 * (a registered file) bound for a while: a worker restarted at once could
 * not bind its port again. Let go of it here, synchronously. */
static void release_socket(struct ring *r)
{
	struct io_uring_sync_cancel_reg reg = {
		.flags = IORING_ASYNC_CANCEL_ANY,
		.timeout = { .tv_sec = 1 },
	};

	io_uring_register_sync_cancel(&r->uring, &reg);
	io_uring_get_events(&r->uring);
	io_uring_cq_advance(&r->uring, io_uring_cq_ready(&r->uring));
	io_uring_unregister_files(&r->uring);
}

static void ring_close(struct ring *r)
{
	if (!r)
		return;
	if (r->uring.ring_fd >= 0) {
		release_socket(r);
		io_uring_queue_exit(&r->uring);
	}
	if (r->bufs)
		munmap(r->bufs, r->bufs_bytes);
	if (r->br)
		munmap(r->br, r->br_bytes);
	for (int i = 0; i < RING_FLIGHTS; i++)
		tick_plan_free(&r->fl[i].plan);
	free(r->sq);
	free(r);
}

static const char *ring_mode(const struct ring *r)
{
	if (r->flags & IORING_SETUP_DEFER_TASKRUN)
		return "single_issuer+defer_taskrun";
	if (r->flags & IORING_SETUP_SINGLE_ISSUER)
		return "single_issuer+coop_taskrun";
	if (r->flags & IORING_SETUP_COOP_TASKRUN)
		return "coop_taskrun";
	return "plain";
}

static int ring_rx_error(const struct ring *r)
{
	return r->rx_error;
}

/* An SQE, submitting the queue first when it is full. */
static struct io_uring_sqe *get_sqe(struct ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);

	if (!sqe && io_uring_submit(&r->uring) >= 0)
		sqe = io_uring_get_sqe(&r->uring);
	return sqe;
}

static void rx_disarm(struct ring *r);

static void arm_rx(struct ring *r)
{
	struct io_uring_sqe *sqe;

	/* Without buffers it would only end at once with ENOBUFS; without a
	 * free flight the datagrams are better left in the socket. */
	if (r->rx_armed || !r->in_kernel || r->cur < 0)
		return;
	sqe = get_sqe(r);
	if (!sqe)
		return;
	io_uring_prep_recvmsg_multishot(sqe, 0, &r->rx_msg, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = RING_BGID;
	io_uring_sqe_set_data64(sqe, ud_make(UD_RECV, 0, 0, ++r->rx_gen));
	r->rx_armed = true;
}

static bool queue_send(struct ring *r, unsigned f, uint32_t k, uint32_t first, uint32_t count,
		       union tick_cmsg *cmsg, uint64_t ud)
{
	const struct tick_plan *p = &r->fl[f].plan;
	const struct tick_send *ts = &p->send[k];
	const struct rf_slot_client *e = &r->w->clients.tab[ts->idx];
	struct io_uring_sqe *sqe;
	struct sq_slot *s;

	/* A late resend may find its client gone, its entry another's. */
	if (!worker_client_live(r->w, ts->idx, ts->gen) || e->addrlen > sizeof(s->name))
		return false;
	sqe = get_sqe(r);
	if (!sqe)
		return false;
	s = &r->sq[sqe - r->uring.sq.sqes];
	/* A copy: the client's entry may change before the kernel reads it. */
	memcpy(&s->name, &e->addr, e->addrlen);
	s->msg = (struct msghdr){
		.msg_name = &s->name,
		.msg_namelen = e->addrlen,
		.msg_iov = &p->iov[first],
		.msg_iovlen = count,
		.msg_control = cmsg,
		.msg_controllen = cmsg ? sizeof(*cmsg) : 0,
	};
	io_uring_prep_sendmsg(sqe, 0, &s->msg, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, ud);
	return true;
}

static void flight_done(struct ring *r, unsigned f)
{
	struct flight *fl = &r->fl[f];

	for (uint32_t i = 0; i < fl->plan.n_in; i++)
		buf_return(r, fl->plan.cookie[i]);
	tick_plan_reset(&fl->plan);
	fl->busy = false;
	fl->pending = 0;
	if (r->cur < 0)
		r->cur = (int)f;
}

static void flight_send(struct ring *r, unsigned f)
{
	struct flight *fl = &r->fl[f];
	struct tick_plan *p = &fl->plan;

	/* The extra count keeps the flight open while it is being queued. */
	fl->pending = 1;
	fl->busy = true;
	for (uint32_t k = 0; k < p->n_sends; k++) {
		const struct tick_send *s = &p->send[k];

		if (queue_send(r, f, k, s->first, s->count, s->seg ? &p->cmsg[k] : NULL,
			       ud_make(UD_SEND, f, 0, k)))
			fl->pending++;
		else
			r->w->st.drop_send += s->count;
	}
	if (--fl->pending == 0)
		flight_done(r, f);
}

/* Resends send k one datagram per send, after the kernel refused it as
 * one GSO send. */
static void resend_singles(struct ring *r, unsigned f, uint32_t k)
{
	struct flight *fl = &r->fl[f];
	const struct tick_send *s = &fl->plan.send[k];

	for (uint32_t i = s->first; i < s->first + s->count; i++) {
		if (queue_send(r, f, k, i, 1, NULL, ud_make(UD_SEND1, f, k, i)))
			fl->pending++;
		else
			r->w->st.drop_send++;
	}
}

static void on_send(struct ring *r, const struct io_uring_cqe *cqe, unsigned kind)
{
	unsigned f = (cqe->user_data >> 56) & 0xf;
	uint32_t item = (uint32_t)cqe->user_data;
	struct flight *fl;
	const struct tick_send *s;
	struct worker *w = r->w;

	if (f >= RING_FLIGHTS || !r->fl[f].busy)
		return;
	fl = &r->fl[f];
	s = kind == UD_SEND && item < fl->plan.n_sends ? &fl->plan.send[item] : NULL;
	if (cqe->res >= 0) {
		w->st.pkts_out += s ? s->count : 1;
		w->st.bytes_out += (uint64_t)cqe->res;
	} else if (s && s->seg && worker_gso_error(cqe->res)) {
		worker_gso_failed(w, cqe->res, s->seg);
		resend_singles(r, f, item);
	} else {
		w->st.drop_send += s ? s->count : 1;
	}
	if (--fl->pending == 0)
		flight_done(r, f);
}

/* The kernel's receive time of the datagram in out, 0 if it has none. A
 * control length over the template's is no kernel's: ignored. */
static uint64_t rx_stamp(struct io_uring_recvmsg_out *out, struct msghdr *msg)
{
	struct cmsghdr *cm;
	const uint8_t *end;

	if (out->controllen > msg->msg_controllen)
		return 0;
	end = (const uint8_t *)io_uring_recvmsg_name(out) + msg->msg_namelen + out->controllen;
	for (cm = io_uring_recvmsg_cmsg_firsthdr(out, msg); cm;
	     cm = io_uring_recvmsg_cmsg_nexthdr(out, msg, cm)) {
		uint64_t ns = tick_stamp_ns(cm, end);

		if (ns)
			return ns;
	}
	return 0;
}

static void on_recv(struct ring *r, const struct io_uring_cqe *cqe)
{
	struct worker *w = r->w;
	struct io_uring_recvmsg_out *out;
	uint32_t bid, len, room, namelen;
	uint8_t *buf;
	int ret = -ENOBUFS;

	/* A cancelled generation may still hand in a datagram it took just
	 * before the cancel: keep it, but its end says nothing of the next. */
	if (!(cqe->flags & IORING_CQE_F_MORE) && (uint32_t)cqe->user_data == r->rx_gen)
		r->rx_armed = false;
	if (cqe->res == -ECANCELED)
		return;
	if (cqe->res < 0) {
		if (cqe->res == -ENOBUFS)
			w->st.drop_no_buffer++;
		else
			r->rx_error = cqe->res;
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return;
	bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	r->in_kernel--;
	r->rx_count++;
	buf = r->bufs + (size_t)bid * r->stride;
	out = io_uring_recvmsg_validate(buf, cqe->res, &r->rx_msg);
	if (!out) {
		buf_return(r, bid);
		return;
	}
	room = io_uring_recvmsg_payload_length(out, cqe->res, &r->rx_msg);
	len = out->payloadlen < room ? out->payloadlen : room;
	namelen = out->namelen < r->rx_msg.msg_namelen ? out->namelen : r->rx_msg.msg_namelen;
	if (r->cur >= 0) {
		/* Also between ticks: a datagram taken just before a cancel. */
		worker_set_plan(w, &r->fl[r->cur].plan);
		ret = worker_rx(w, io_uring_recvmsg_name(out), namelen,
				io_uring_recvmsg_payload(out, &r->rx_msg), len,
				out->flags & MSG_TRUNC, bid, rx_stamp(out, &r->rx_msg));
	} else
		w->st.drop_no_buffer++; /* every flight is still sending */
	if (ret < 0)
		buf_return(r, bid);
}

static void on_reply(struct ring *r, const struct io_uring_cqe *cqe)
{
	uint32_t i = (uint32_t)cqe->user_data;

	if (i >= RING_REPLIES)
		return;
	r->reply[i].busy = false;
	/* Not relay output: counted by the admission counters. */
	if (cqe->res < 0)
		r->w->st.drop_replies++;
}

static struct reply_slot *reply_slot_get(struct ring *r, uint32_t *idx)
{
	for (uint32_t k = 0; k < RING_REPLIES; k++) {
		uint32_t i = (r->reply_next + k) % RING_REPLIES;

		if (!r->reply[i].busy) {
			r->reply_next = (i + 1) % RING_REPLIES;
			*idx = i;
			return &r->reply[i];
		}
	}
	return NULL;
}

/* Queues the tick's handshake replies (submitted with its sends). */
static void send_replies(struct ring *r)
{
	struct worker *w = r->w;
	uint32_t failed = 0;

	for (uint32_t i = 0; i < w->n_replies; i++) {
		const struct worker_reply *q = &w->reply[i];
		struct reply_slot *s;
		struct io_uring_sqe *sqe;
		uint32_t idx;

		s = reply_slot_get(r, &idx);
		sqe = s ? get_sqe(r) : NULL;
		if (!sqe) {
			failed++;
			continue;
		}
		memcpy(&s->name, &q->name, q->namelen);
		memcpy(s->data, q->data, q->len);
		s->iov = (struct iovec){ .iov_base = s->data, .iov_len = q->len };
		s->msg = (struct msghdr){
			.msg_name = &s->name,
			.msg_namelen = q->namelen,
			.msg_iov = &s->iov,
			.msg_iovlen = 1,
		};
		s->busy = true;
		io_uring_prep_sendmsg(sqe, 0, &s->msg, 0);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, ud_make(UD_REPLY, 0, 0, idx));
	}
	worker_replies_sent(w, failed);
}

static void handle(struct ring *r, const struct io_uring_cqe *cqe)
{
	unsigned kind = cqe->user_data >> 60;

	if (kind == UD_RECV)
		on_recv(r, cqe);
	else if (kind == UD_REPLY)
		on_reply(r, cqe);
	else if (kind == UD_SEND || kind == UD_SEND1)
		on_send(r, cqe, kind);
	else if (kind == UD_POLL) {
		/* Readable, or an error the next receive will see: either way
		 * a tick must look. */
		r->poll_armed = false;
		r->poll_ready = true;
	}
}

static void reap_cq(struct ring *r)
{
	struct io_uring *u = &r->uring;

	for (;;) {
		unsigned head = *u->cq.khead;
		struct io_uring_cqe cqe;

		if (head == io_uring_smp_load_acquire(u->cq.ktail))
			break;
		/* Copied and released first: handling may queue and submit
		 * sends whose completions need the room. */
		cqe = u->cq.cqes[head & u->cq.ring_mask];
		io_uring_cq_advance(u, 1);
		handle(r, &cqe);
	}
}

static void reap(struct ring *r)
{
	/* Overflowed completions come back only through the kernel. The
	 * rounds are bounded: receives need buffers, which only we return. */
	for (int i = 0; i < 8; i++) {
		reap_cq(r);
		if (!io_uring_cq_has_overflow(&r->uring))
			break;
		io_uring_get_events(&r->uring);
	}
	buf_publish(r);
}

static int ring_arm(struct ring *r)
{
	int ret;

	arm_rx(r);
	ret = io_uring_submit_and_get_events(&r->uring);
	if (ret < 0)
		return ret;
	/* A kernel without multishot recvmsg fails it right away. */
	reap(r);
	if (!r->rx_armed && r->rx_error)
		return r->rx_error;
	rx_disarm(r);
	return 0;
}

static int ring_wait(struct ring *r, uint64_t deadline_ns, const sigset_t *mask)
{
	uint64_t now = rf_now_ns();
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	int ret;

	if (now >= deadline_ns) {
		ret = io_uring_submit(&r->uring);
		return ret < 0 && ret != -EAGAIN && ret != -EBUSY ? ret : 0;
	}
	ts.tv_sec = (long long)((deadline_ns - now) / RF_NSEC_PER_SEC);
	ts.tv_nsec = (long long)((deadline_ns - now) % RF_NSEC_PER_SEC);
	/* Waiting for a full CQ means: sleep until the deadline. Nothing
	 * receives meanwhile (rx_disarm): only send completions arrive. */
	ret = io_uring_submit_and_wait_timeout(&r->uring, &cqe, r->cq_entries, &ts,
					       (sigset_t *)mask);
	if (ret == -EINTR)
		return -EINTR;
	if (ret < 0 && ret != -ETIME && ret != -EAGAIN && ret != -EBUSY && ret != -EBADR)
		return ret;
	/* Woken early by a CQ full of a big tick's send completions: make
	 * room before sleeping again. */
	if (rf_now_ns() < deadline_ns)
		reap(r);
	return 0;
}

/* The idle sleep: a one-shot poll on the socket, which receives nothing,
 * so that datagrams stay in the socket (owned by the supervisor) until a
 * tick takes them, as in ring_wait(). Send completions of the last ticks
 * may wake it too: they are reaped and 0 returned, the caller sleeps on.
 * A poll still pending when ticking resumes stays armed for the next
 * sleep; its completion meanwhile only wakes that sleep at once. */
static int ring_wait_rx(struct ring *r, uint64_t deadline_ns, const sigset_t *mask)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	uint64_t now;
	int ret;

	if (!r->poll_armed) {
		struct io_uring_sqe *sqe = get_sqe(r);

		if (!sqe)
			return ring_wait(r, deadline_ns, mask);
		io_uring_prep_poll_add(sqe, 0, POLLIN);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, ud_make(UD_POLL, 0, 0, 0));
		r->poll_armed = true;
		r->poll_ready = false;
	}
	now = rf_now_ns();
	if (now >= deadline_ns)
		deadline_ns = now; /* still submit, and look once */
	ts.tv_sec = (long long)((deadline_ns - now) / RF_NSEC_PER_SEC);
	ts.tv_nsec = (long long)((deadline_ns - now) % RF_NSEC_PER_SEC);
	ret = io_uring_submit_and_wait_timeout(&r->uring, &cqe, 1, &ts, (sigset_t *)mask);
	if (ret < 0 && ret != -EINTR && ret != -ETIME && ret != -EAGAIN && ret != -EBUSY &&
	    ret != -EBADR)
		return ret;
	reap(r);
	if (r->poll_ready) {
		r->poll_ready = false;
		return 1;
	}
	return ret == -EINTR ? -EINTR : 0;
}

static int next_free(const struct ring *r)
{
	for (int i = 0; i < RING_FLIGHTS; i++)
		if (!r->fl[i].busy)
			return i;
	return -1;
}

static bool any_busy(const struct ring *r)
{
	for (int i = 0; i < RING_FLIGHTS; i++)
		if (r->fl[i].busy)
			return true;
	return false;
}

/* Receives what queued in the socket since the last tick. The kernel runs
 * the multishot receive inline until the socket is empty, handing it back
 * after a burst, so rounds repeat while they still bring datagrams. */
static void rx_drain(struct ring *r)
{
	reap(r);
	arm_rx(r);
	for (int i = 0; i < RX_DRAIN_ROUNDS && r->rx_armed; i++) {
		uint64_t before = r->rx_count;

		if (io_uring_submit_and_get_events(&r->uring) < 0)
			break;
		reap(r);
		if (r->rx_count == before)
			break;
		arm_rx(r); /* ended on ENOBUFS and buffers came back */
	}
}

/* Nothing may receive while the worker sleeps: datagrams then wait in the
 * socket, which the supervisor owns, so a worker killed in its sleep (when
 * the kernel would otherwise run the pending receive for a dying task)
 * takes no datagram with it. The cancel goes out with the tick's sends. */
static void rx_disarm(struct ring *r)
{
	struct io_uring_sqe *sqe;

	if (!r->rx_armed)
		return;
	sqe = get_sqe(r);
	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, ud_make(UD_RECV, 0, 0, r->rx_gen), 0);
	io_uring_sqe_set_data64(sqe, ud_make(UD_CANCEL, 0, 0, 0));
	r->rx_armed = false;
}

/* The driver's rx_drain: the window's datagrams into the current flight's
 * plan, none of them into a plan while every flight is still sending. */
static struct tick_plan *ring_rx_drain(struct ring *r)
{
	worker_set_plan(r->w, r->cur >= 0 ? &r->fl[r->cur].plan : NULL);
	rx_drain(r);
	/* Disarmed before anything below can run task work and receive. */
	rx_disarm(r);
	return r->cur >= 0 ? &r->fl[r->cur].plan : NULL;
}

/* p is the current flight's plan: its sends become a flight in the air,
 * and the next free flight takes the next window. */
static void ring_send_plan(struct ring *r, struct tick_plan *p)
{
	unsigned f = (unsigned)r->cur;

	if (tick_plan_sends(p)) {
		flight_send(r, f);
		if (r->cur == (int)f)
			r->cur = next_free(r);
	} else {
		flight_done(r, f); /* its buffers and its arena back */
	}
}

static void ring_tick_end(struct ring *r)
{
	/* Short of buffers: complete this tick's sends now rather than at
	 * the next deadline, so their buffers can take the next window. */
	if (r->in_kernel + r->to_return < r->nbufs / 4 && any_busy(r)) {
		if (io_uring_submit_and_get_events(&r->uring) >= 0)
			reap(r);
	}
	buf_publish(r);
}

static int ring_drain(struct ring *r, uint64_t until_ns)
{
	while (any_busy(r)) {
		uint64_t now = rf_now_ns(), left;
		struct __kernel_timespec ts;
		struct io_uring_cqe *cqe;

		if (now >= until_ns)
			return -ETIMEDOUT;
		left = until_ns - now;
		if (left > 50 * RF_NSEC_PER_MSEC)
			left = 50 * RF_NSEC_PER_MSEC;
		ts.tv_sec = 0;
		ts.tv_nsec = (long long)left;
		io_uring_submit_and_wait_timeout(&r->uring, &cqe, 1, &ts, NULL);
		reap(r);
	}
	return 0;
}

/* The operations table: ring_open() with the check that the kernel takes
 * the multishot receive (ring_arm()). */
static int ops_open(void **be, struct worker *w, int fd, uint32_t nbufs, uint32_t max_clients)
{
	struct ring *r;
	int ret = ring_open(&r, w, fd, nbufs, max_clients);

	if (ret < 0)
		return ret;
	ret = ring_arm(r);
	if (ret < 0) {
		ring_close(r);
		return ret;
	}
	*be = r;
	return 0;
}

static void ops_close(void *be)
{
	ring_close(be);
}

static const char *ops_mode(const void *be)
{
	return ring_mode(be);
}

static int ops_wait(void *be, uint64_t deadline_ns, const sigset_t *mask)
{
	return ring_wait(be, deadline_ns, mask);
}

static int ops_wait_rx(void *be, uint64_t deadline_ns, const sigset_t *mask)
{
	return ring_wait_rx(be, deadline_ns, mask);
}

static struct tick_plan *ops_rx_drain(void *be)
{
	return ring_rx_drain(be);
}

static void ops_send_plan(void *be, struct tick_plan *p)
{
	ring_send_plan(be, p);
}

static void ops_send_replies(void *be)
{
	send_replies(be);
}

static void ops_tick_end(void *be)
{
	ring_tick_end(be);
}

static int ops_rx_error(const void *be)
{
	return ring_rx_error(be);
}

static int ops_drain_on_stop(void *be, uint64_t until_ns)
{
	return ring_drain(be, until_ns);
}

const struct rf_backend_ops ring_backend_ops = {
	.name = "io_uring",
	.kind = RF_BACKEND_IO_URING,
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
