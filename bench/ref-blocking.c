// SPDX-License-Identifier: Apache-2.0
/* ref-blocking - reference design (a) of the original article.
 *
 * A receiver thread blocks in recvfrom(), records new source addresses as
 * clients and appends each datagram to a mutex-protected queue. A tick
 * thread wakes tick_hz times a second, takes the queue and sendto()s every
 * queued packet to every client: one syscall per packet per client.
 * The main thread only waits for SIGINT/SIGTERM and exits 0.
 */
#include "bench/refcommon.h"
#include "common/log.h"
#include "common/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The queue grows as needed, up to this many packets (~130 MB); beyond it
 * packets are dropped rather than letting a stalled tick eat all memory. */
#define QUEUE_MAX 65536

struct pkt {
	uint16_t len;
	uint8_t data[REF_MAX_PACKET];
};

struct queue {
	struct pkt *p;
	size_t n;
	size_t cap;
};

struct stats {
	uint64_t pkts_in;
	uint64_t pkts_out;
	uint64_t drop_queue;
	uint64_t drop_clients;
	uint64_t drop_truncated;
	uint64_t send_errors;
	uint64_t tick_overruns;
};

static struct {
	struct ref_opts o;
	int fd;
	pthread_mutex_t lock; /* guards in and clients */
	struct queue in;
	struct ref_clients clients;
	struct stats st; /* each field written by one thread */
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void count(uint64_t *c)
{
	__atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

static int queue_push(struct queue *q, const void *data, size_t len)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		struct pkt *p;

		if (cap > QUEUE_MAX)
			return -ENOSPC;
		p = realloc(q->p, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		q->p = p;
		q->cap = cap;
	}
	q->p[q->n].len = (uint16_t)len;
	memcpy(q->p[q->n].data, data, len);
	q->n++;
	return 0;
}

static void *recv_thread(void *arg)
{
	uint8_t buf[REF_MAX_PACKET];
	struct sockaddr_in from = { 0 };
	socklen_t fl;
	ssize_t n;

	(void)arg;
	for (;;) {
		fl = sizeof(from);
		n = recvfrom(srv.fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &fl);
		if (n < 0)
			continue; /* EINTR, or an ICMP error from a sendto */
		count(&srv.st.pkts_in);
		if ((size_t)n > sizeof(buf) || from.sin_family != AF_INET) {
			count(&srv.st.drop_truncated);
			continue;
		}
		pthread_mutex_lock(&srv.lock);
		if (ref_client_add(&srv.clients, &from) < 0)
			count(&srv.st.drop_clients);
		else if (queue_push(&srv.in, buf, (size_t)n) < 0)
			count(&srv.st.drop_queue);
		pthread_mutex_unlock(&srv.lock);
	}
	return NULL;
}

/* Takes the queued packets (by swapping queues, so the receiver is only
 * blocked for a pointer swap) and the current client list. */
static void take_tick(struct queue *out, struct ref_clients *cl)
{
	struct queue t;

	pthread_mutex_lock(&srv.lock);
	t = srv.in;
	srv.in = *out;
	*out = t;
	cl->n = srv.clients.n;
	memcpy(cl->a, srv.clients.a, cl->n * sizeof(cl->a[0]));
	pthread_mutex_unlock(&srv.lock);
}

static void send_tick(struct queue *q, const struct ref_clients *cl)
{
	for (size_t i = 0; i < q->n; i++)
		for (unsigned c = 0; c < cl->n; c++) {
			if (sendto(srv.fd, q->p[i].data, q->p[i].len, 0,
				   (const struct sockaddr *)&cl->a[c], sizeof(cl->a[c])) < 0)
				count(&srv.st.send_errors);
			else
				count(&srv.st.pkts_out);
		}
	q->n = 0;
}

static void *tick_thread(void *arg)
{
	static struct ref_clients cl;
	struct queue out = { 0 };
	uint64_t period = ref_period_ns(&srv.o), next = rf_now_ns();
	struct timespec ts;

	(void)arg;
	for (;;) {
		next += period;
		ts = rf_ns_to_timespec(next);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		take_tick(&out, &cl);
		send_tick(&out, &cl);
		if (rf_now_ns() > next + period)
			count(&srv.st.tick_overruns);
	}
	return NULL;
}

static void log_stats(void)
{
	struct stats *s = &srv.st;

	log_info("in %llu out %llu drops: queue %llu clients %llu truncated %llu "
		 "send %llu; tick overruns %llu",
		 (unsigned long long)__atomic_load_n(&s->pkts_in, __ATOMIC_RELAXED),
		 (unsigned long long)__atomic_load_n(&s->pkts_out, __ATOMIC_RELAXED),
		 (unsigned long long)__atomic_load_n(&s->drop_queue, __ATOMIC_RELAXED),
		 (unsigned long long)__atomic_load_n(&s->drop_clients, __ATOMIC_RELAXED),
		 (unsigned long long)__atomic_load_n(&s->drop_truncated, __ATOMIC_RELAXED),
		 (unsigned long long)__atomic_load_n(&s->send_errors, __ATOMIC_RELAXED),
		 (unsigned long long)__atomic_load_n(&s->tick_overruns, __ATOMIC_RELAXED));
}

int main(int argc, char **argv)
{
	pthread_t rt, tt;
	sigset_t set;
	int ret, sig;

	log_set_ident("ref-blocking");
	ret = ref_parse_args(argc, argv, "ref-blocking", &srv.o);
	if (ret)
		return ret > 0 ? 0 : 2;
	/* Block the signals in every thread; main takes them with sigwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	srv.fd = ref_socket(&srv.o);
	if (srv.fd < 0) {
		log_err("bind port %u: %s", srv.o.port, strerror(-srv.fd));
		return 1;
	}
	if ((ret = pthread_create(&rt, NULL, recv_thread, NULL)) ||
	    (ret = pthread_create(&tt, NULL, tick_thread, NULL))) {
		log_err("pthread_create: %s", strerror(ret));
		return 1;
	}
	log_info("serving %s:%u at %u Hz", inet_ntoa(srv.o.bind), srv.o.port, srv.o.tick_hz);
	while (sigwait(&set, &sig) != 0)
		;
	log_stats();
	/* The threads hold no state worth unwinding: exit ends them. */
	exit(0);
}
