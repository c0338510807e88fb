// SPDX-License-Identifier: Apache-2.0
/* ref-uring-zc - reference design (b) of the original article.
 *
 * One thread, one io_uring: a multishot recvmsg fills a provided buffer
 * ring; each datagram keeps its buffer until the tick. At every tick (an
 * absolute IORING_OP_TIMEOUT) each packet is sent to each client with its
 * own IORING_OP_SEND_ZC. A buffer goes back to the ring only when every
 * send of it has completed and, for sends that report one, its zero-copy
 * notification (IORING_CQE_F_NOTIF) has arrived: until then the kernel may
 * still read it. SIGINT/SIGTERM arrive through a signalfd read; exit 0.
 */
#include "bench/refcommon.h"
#include "common/log.h"
#include "common/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define NBUFS 4096
#define BUFSZ (REF_MAX_PACKET + 64) /* recvmsg header + address + payload */
#define QD 4096

enum { UD_RECV = 1, UD_SEND, UD_TICK, UD_SIGNAL };

struct pkt {
	uint8_t *data;
	unsigned len;
	unsigned refs; /* sends and notifications still outstanding */
};

struct stats {
	uint64_t pkts_in, pkts_out, drop_bad, drop_clients, send_errors;
	uint64_t nobufs, tick_overruns;
};

static struct {
	struct ref_opts o;
	int fd, sfd;
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	struct msghdr mh;           /* recvmsg layout: name only */
	struct pkt pk[NBUFS];       /* indexed by buffer id */
	unsigned short tick[NBUFS]; /* buffers received since the last tick */
	unsigned ntick;
	struct ref_clients clients;
	bool starved; /* recv stopped for lack of buffers */
	uint64_t next_tick;
	struct __kernel_timespec ts;
	struct signalfd_siginfo si;
	bool stop;
	struct stats st;
} srv;

static uint64_t ud(unsigned kind, unsigned idx)
{
	return (uint64_t)kind << 32 | idx;
}

static struct io_uring_sqe *get_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&srv.ring);

	if (!sqe) {
		io_uring_submit(&srv.ring);
		sqe = io_uring_get_sqe(&srv.ring);
	}
	return sqe;
}

static void arm_recv(void)
{
	struct io_uring_sqe *sqe = get_sqe();

	io_uring_prep_recvmsg_multishot(sqe, srv.fd, &srv.mh, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	io_uring_sqe_set_data64(sqe, ud(UD_RECV, 0));
}

static void arm_tick(void)
{
	struct io_uring_sqe *sqe = get_sqe();

	srv.next_tick += ref_period_ns(&srv.o);
	srv.ts.tv_sec = (long long)(srv.next_tick / RF_NSEC_PER_SEC);
	srv.ts.tv_nsec = (long long)(srv.next_tick % RF_NSEC_PER_SEC);
	io_uring_prep_timeout(sqe, &srv.ts, 0, IORING_TIMEOUT_ABS);
	io_uring_sqe_set_data64(sqe, ud(UD_TICK, 0));
}

static void arm_signal(void)
{
	struct io_uring_sqe *sqe = get_sqe();

	io_uring_prep_read(sqe, srv.sfd, &srv.si, sizeof(srv.si), 0);
	io_uring_sqe_set_data64(sqe, ud(UD_SIGNAL, 0));
}

static void buf_return(unsigned bid)
{
	io_uring_buf_ring_add(srv.br, srv.bufs + (size_t)bid * BUFSZ, BUFSZ, (unsigned short)bid,
			      io_uring_buf_ring_mask(NBUFS), 0);
	io_uring_buf_ring_advance(srv.br, 1);
	if (srv.starved) {
		srv.starved = false;
		arm_recv();
	}
}

static void pkt_put(unsigned bid)
{
	if (--srv.pk[bid].refs == 0)
		buf_return(bid);
}

/* Keeps a valid datagram (and its buffer) for the next tick. */
static void on_datagram(unsigned bid, int len)
{
	uint8_t *buf = srv.bufs + (size_t)bid * BUFSZ;
	struct io_uring_recvmsg_out *out;
	struct sockaddr_in from;

	srv.st.pkts_in++;
	out = io_uring_recvmsg_validate(buf, len, &srv.mh);
	if (!out || (out->flags & MSG_TRUNC) || out->namelen != sizeof(from)) {
		srv.st.drop_bad++;
		buf_return(bid);
		return;
	}
	memcpy(&from, io_uring_recvmsg_name(out), sizeof(from));
	if (ref_client_add(&srv.clients, &from) < 0) {
		srv.st.drop_clients++;
		buf_return(bid);
		return;
	}
	srv.pk[bid].data = io_uring_recvmsg_payload(out, &srv.mh);
	srv.pk[bid].len = io_uring_recvmsg_payload_length(out, len, &srv.mh);
	srv.pk[bid].refs = 1; /* the tick's own reference */
	srv.tick[srv.ntick++] = (unsigned short)bid;
}

static void on_recv(const struct io_uring_cqe *cqe)
{
	if (cqe->res >= 0 && (cqe->flags & IORING_CQE_F_BUFFER))
		on_datagram(cqe->flags >> IORING_CQE_BUFFER_SHIFT, cqe->res);
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	/* Out of buffers: they come back as sends complete; re-arm then. */
	if (cqe->res == -ENOBUFS) {
		srv.st.nobufs++;
		srv.starved = true;
		return;
	}
	arm_recv();
}

static void send_pkt(unsigned bid)
{
	struct pkt *p = &srv.pk[bid];

	for (unsigned c = 0; c < srv.clients.n; c++) {
		struct io_uring_sqe *sqe = get_sqe();

		io_uring_prep_send_zc(sqe, srv.fd, p->data, p->len, 0, 0);
		io_uring_prep_send_set_addr(sqe, (const struct sockaddr *)&srv.clients.a[c],
					    sizeof(srv.clients.a[c]));
		io_uring_sqe_set_data64(sqe, ud(UD_SEND, bid));
		p->refs++;
	}
	pkt_put(bid);
}

static void on_tick(void)
{
	for (unsigned i = 0; i < srv.ntick; i++)
		send_pkt(srv.tick[i]);
	srv.ntick = 0;
	if (rf_now_ns() > srv.next_tick + ref_period_ns(&srv.o))
		srv.st.tick_overruns++;
	arm_tick();
}

/* A SEND_ZC yields a completion, then (if F_MORE was set on it) a
 * notification once the kernel no longer needs the buffer. */
static void on_send(unsigned bid, const struct io_uring_cqe *cqe)
{
	if (cqe->flags & IORING_CQE_F_NOTIF) {
		pkt_put(bid);
		return;
	}
	if (cqe->res < 0)
		srv.st.send_errors++;
	else
		srv.st.pkts_out++;
	if (!(cqe->flags & IORING_CQE_F_MORE))
		pkt_put(bid);
}

static void reap(void)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe (&srv.ring, head, cqe) {
		uint64_t d = io_uring_cqe_get_data64(cqe);

		switch (d >> 32) {
		case UD_RECV:
			on_recv(cqe);
			break;
		case UD_SEND:
			on_send((unsigned)d, cqe);
			break;
		case UD_TICK:
			on_tick();
			break;
		case UD_SIGNAL:
			if (cqe->res == sizeof(srv.si))
				srv.stop = true;
			else
				arm_signal();
			break;
		}
		n++;
	}
	io_uring_cq_advance(&srv.ring, n);
}

static int setup_bufring(void)
{
	struct io_uring_buf_reg reg = { 0 };
	size_t bytes = NBUFS * sizeof(struct io_uring_buf);
	int ret;

	srv.br = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (srv.br == MAP_FAILED)
		return -errno;
	srv.bufs = malloc((size_t)NBUFS * BUFSZ);
	if (!srv.bufs)
		return -ENOMEM;
	reg.ring_addr = (unsigned long)srv.br;
	reg.ring_entries = NBUFS;
	ret = io_uring_register_buf_ring(&srv.ring, &reg, 0);
	if (ret < 0)
		return ret;
	io_uring_buf_ring_init(srv.br);
	for (unsigned i = 0; i < NBUFS; i++)
		io_uring_buf_ring_add(srv.br, srv.bufs + (size_t)i * BUFSZ, BUFSZ,
				      (unsigned short)i, io_uring_buf_ring_mask(NBUFS), (int)i);
	io_uring_buf_ring_advance(srv.br, NBUFS);
	return 0;
}

static int setup(void)
{
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE, .cq_entries = 8 * QD };
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	srv.sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (srv.sfd < 0)
		return -errno;
	srv.fd = ref_socket(&srv.o);
	if (srv.fd < 0)
		return srv.fd;
	ret = io_uring_queue_init_params(QD, &srv.ring, &p);
	if (ret < 0)
		return ret;
	srv.mh.msg_namelen = sizeof(struct sockaddr_in);
	return setup_bufring();
}

int main(int argc, char **argv)
{
	int ret;

	log_set_ident("ref-uring-zc");
	ret = ref_parse_args(argc, argv, "ref-uring-zc", &srv.o);
	if (ret)
		return ret > 0 ? 0 : 2;
	ret = setup();
	if (ret < 0) {
		log_err("setup (port %u): %s", srv.o.port, strerror(-ret));
		return 1;
	}
	srv.next_tick = rf_now_ns();
	arm_recv();
	arm_tick();
	arm_signal();
	log_info("serving %s:%u at %u Hz", inet_ntoa(srv.o.bind), srv.o.port, srv.o.tick_hz);
	while (!srv.stop) {
		ret = io_uring_submit_and_wait(&srv.ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EBUSY && ret != -ETIME) {
			log_err("io_uring: %s", strerror(-ret));
			return 1;
		}
		reap();
	}
	log_info("in %llu out %llu drops: bad %llu clients %llu send %llu; "
		 "nobufs %llu tick overruns %llu",
		 (unsigned long long)srv.st.pkts_in, (unsigned long long)srv.st.pkts_out,
		 (unsigned long long)srv.st.drop_bad, (unsigned long long)srv.st.drop_clients,
		 (unsigned long long)srv.st.send_errors, (unsigned long long)srv.st.nobufs,
		 (unsigned long long)srv.st.tick_overruns);
	return 0;
}
