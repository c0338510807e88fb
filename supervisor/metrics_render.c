// SPDX-License-Identifier: Apache-2.0
/* metrics_render.c - the Prometheus text exposition of the fleet; see
 * metrics.h. Names follow Prometheus conventions: base units (seconds,
 * bytes), _total for counters, one family per quantity with labels. */
#include "supervisor/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/slot.h"
#include "common/timeutil.h"
#include "supervisor/gameview.h"

#define TICK_HIST_BASE_S (RF_TICK_HIST_BASE_NS / 1e9) /* bucket i: ticks < base * 2^i */

struct family {
	const char *name, *type, *help;
};

static void header(FILE *o, const struct family *f)
{
	fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
}

/* v as "%.17g" prints it. Most samples are counters, whole numbers,
 * which print as their digits: those skip printf's floating-point path,
 * the bulk of a render's cost at a thousand servers. */
static void put_g17(FILE *o, double v)
{
	char digits[24], *p = digits + sizeof(digits);
	unsigned long long n;

	if (!(v >= 1 && v < 1e15) && !(v == 0 && !signbit(v))) {
		fprintf(o, "%.17g", v);
		return;
	}
	n = (unsigned long long)v;
	if ((double)n != v) {
		fprintf(o, "%.17g", v);
		return;
	}
	*--p = '\0';
	do
		*--p = (char)('0' + n % 10);
	while (n /= 10);
	fputs(p, o);
}

/* One counter or gauge per server, read by getter. */
static void per_server(FILE *o, const struct fleet *fl, const struct family *f,
		       double (*get)(const struct fleet *, const struct server *))
{
	header(o, f);
	for (size_t i = 0; i < fl->n; i++) {
		fputs(f->name, o);
		fputs("{server=\"", o);
		fputs(fl->srv[i]->cfg.name, o);
		fputs("\"} ", o);
		put_g17(o, get(fl, fl->srv[i]));
		fputc('\n', o);
	}
}

#define STAT_GETTER(fn, field)                                          \
	static double fn(const struct fleet *f, const struct server *s) \
	{                                                               \
		(void)f;                                                \
		return (double)RF_LOAD(s->slot->stats.field);           \
	}
STAT_GETTER(get_pkts_in, pkts_in)
STAT_GETTER(get_pkts_out, pkts_out)
STAT_GETTER(get_bytes_in, bytes_in)
STAT_GETTER(get_bytes_out, bytes_out)
STAT_GETTER(get_overruns, tick_overruns)
STAT_GETTER(get_ticks, ticks)
STAT_GETTER(get_adm_challenges, adm_challenges)
STAT_GETTER(get_adm_admitted, adm_admitted)
STAT_GETTER(get_adm_evictions, adm_evictions)
STAT_GETTER(get_adm_refusals, adm_refusals)
STAT_GETTER(get_adm_replies_dropped, drop_replies)
STAT_GETTER(get_drop_output, drop_output)
STAT_GETTER(get_sessions_ended, sessions_ended)
STAT_GETTER(get_idle_wakeups, idle_wakeups)

static double get_idle(const struct fleet *f, const struct server *s)
{
	(void)f;
	return s->pid > 0 && s->fsm.state == FSM_RUNNING && RF_LOAD(s->slot->stats.idle);
}

static double get_idle_seconds(const struct fleet *f, const struct server *s)
{
	(void)f;
	return (double)RF_LOAD(s->slot->stats.idle_ns) / 1e9;
}

static double get_clients(const struct fleet *f, const struct server *s)
{
	(void)f;
	return s->pid > 0 ? (double)RF_LOAD(s->slot->stats.clients) : 0;
}

static double get_up(const struct fleet *f, const struct server *s)
{
	(void)f;
	return s->fsm.state == FSM_RUNNING;
}

static double get_restarts(const struct fleet *f, const struct server *s)
{
	(void)f;
	return s->fsm.restarts;
}

static double get_cpu(const struct fleet *f, const struct server *s)
{
	return fleet_server_cpu_seconds(f, s);
}

static double get_rss(const struct fleet *f, const struct server *s)
{
	(void)f;
	return s->pid > 0 ? (double)s->rss_kb * 1024.0 : 0;
}

static void put_u64(FILE *o, unsigned long long n)
{
	char digits[24], *p = digits + sizeof(digits);

	*--p = '\0';
	do
		*--p = (char)('0' + n % 10);
	while (n /= 10);
	fputs(p, o);
}

/* name{server="server",reason="reason"} v: by pieces, as per_server(). */
static void drop(FILE *o, const char *name, const char *server, const char *reason,
		 unsigned long long v)
{
	fputs(name, o);
	fputs("{server=\"", o);
	fputs(server, o);
	fputs("\",reason=\"", o);
	fputs(reason, o);
	fputs("\"} ", o);
	put_u64(o, v);
	fputc('\n', o);
}

static void drops(FILE *o, const struct fleet *fl)
{
	static const struct family f = { "ringfleet_server_dropped_packets_total", "counter",
					 "Datagrams dropped, by reason." };

	header(o, &f);
	for (size_t i = 0; i < fl->n; i++) {
		const struct rf_slot_stats *st = &fl->srv[i]->slot->stats;
		const char *n = fl->srv[i]->cfg.name;

		drop(o, f.name, n, "truncated", RF_LOAD(st->drop_truncated));
		drop(o, f.name, n, "max_clients", RF_LOAD(st->drop_max_clients));
		drop(o, f.name, n, "no_buffer", RF_LOAD(st->drop_no_buffer));
		drop(o, f.name, n, "send", RF_LOAD(st->drop_send));
		drop(o, f.name, n, "flood", RF_LOAD(st->drop_flood));
		drop(o, f.name, n, "unadmitted", RF_LOAD(st->drop_unadmitted));
	}
}

/* A label value as the exposition format wants it: \\, \" and \n escaped.
 * Server and value names cannot hold them today; the format must not
 * depend on that. */
static void label(FILE *o, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', o);
		if (*v == '\n')
			fputs("\\n", o);
		else
			fputc(*v, o);
	}
}

/* The values a game module defines (gameview.h), while its worker runs:
 * a stopped server's last values would read as current. */
static void game_values(FILE *o, const struct fleet *fl)
{
	static const struct family f = { "ringfleet_game_value", "gauge",
					 "Values a game module defines, by name." };

	header(o, &f);
	for (size_t i = 0; i < fl->n; i++) {
		struct gameview v;

		if (fl->srv[i]->pid <= 0)
			continue;
		gameview_read(fl->srv[i]->slot, &v);
		for (unsigned j = 0; j < v.n_values; j++) {
			fprintf(o, "%s{server=\"", f.name);
			label(o, fl->srv[i]->cfg.name);
			fputs("\",name=\"", o);
			label(o, v.value_name[j]);
			fprintf(o, "\"} %lld\n", (long long)v.value[j]);
		}
	}
}

static void tick_histogram(FILE *o, const struct fleet *fl)
{
	static const struct family f = { "ringfleet_server_tick_duration_seconds", "histogram",
					 "Time a worker spent working per tick." };

	char le[RF_TICK_HIST_BUCKETS - 1][32];
	double bound = TICK_HIST_BASE_S;

	/* The same bounds for every server: formatted once. */
	for (int b = 0; b < RF_TICK_HIST_BUCKETS - 1; b++, bound *= 2)
		snprintf(le[b], sizeof(le[b]), "%g", bound);
	header(o, &f);
	for (size_t i = 0; i < fl->n; i++) {
		const struct rf_slot_stats *st = &fl->srv[i]->slot->stats;
		const char *n = fl->srv[i]->cfg.name;
		unsigned long long cum = 0;

		for (int b = 0; b < RF_TICK_HIST_BUCKETS - 1; b++) {
			cum += RF_LOAD(st->tick_hist[b]);
			fputs(f.name, o);
			fputs("_bucket{server=\"", o);
			fputs(n, o);
			fputs("\",le=\"", o);
			fputs(le[b], o);
			fputs("\"} ", o);
			put_u64(o, cum);
			fputc('\n', o);
		}
		cum += RF_LOAD(st->tick_hist[RF_TICK_HIST_BUCKETS - 1]);
		fprintf(o, "%s_bucket{server=\"%s\",le=\"+Inf\"} %llu\n", f.name, n, cum);
		fprintf(o, "%s_sum{server=\"%s\"} %.9f\n", f.name, n,
			(double)RF_LOAD(st->tick_ns_sum) / 1e9);
		fprintf(o, "%s_count{server=\"%s\"} %llu\n", f.name, n, cum);
	}
}

static double get_allocated(const struct fleet *f, const struct server *s)
{
	(void)f;
	return s->sess.state == SESSION_ALLOCATED;
}

/* Sessions (supervisor/session.h): servers per session state, and the
 * allocations asked of the fleet. */
static void session_metrics(FILE *o, const struct fleet *fl)
{
	size_t n[SESSION_STATE_COUNT] = { 0 };

	for (size_t i = 0; i < fl->n; i++)
		if (fl->srv[i]->sess.state < SESSION_STATE_COUNT)
			n[fl->srv[i]->sess.state]++;
	fprintf(o, "# HELP ringfleet_servers_sessions Servers by session state.\n"
		   "# TYPE ringfleet_servers_sessions gauge\n");
	for (int st = 0; st < SESSION_STATE_COUNT; st++)
		fprintf(o, "ringfleet_servers_sessions{state=\"%s\"} %zu\n",
			session_state_name((enum session_state)st), n[st]);
	fprintf(o,
		"# HELP ringfleet_allocations_total Servers allocated to a match.\n"
		"# TYPE ringfleet_allocations_total counter\n"
		"ringfleet_allocations_total %llu\n"
		"# HELP ringfleet_allocation_failures_total Allocations refused, by reason.\n"
		"# TYPE ringfleet_allocation_failures_total counter\n",
		(unsigned long long)fl->sess.allocations);
	for (int r = 0; r < ALLOC_FAIL_COUNT; r++)
		fprintf(o, "ringfleet_allocation_failures_total{reason=\"%s\"} %llu\n",
			alloc_failure_name((enum alloc_failure)r),
			(unsigned long long)fl->sess.failures[r]);
}

static void supervisor_metrics(FILE *o, const struct fleet *fl, uint64_t started_ns)
{
	size_t c[FSM_FATAL + 1];

	fleet_count_states(fl, c);
	fprintf(o, "# HELP ringfleet_servers Servers by lifecycle state.\n"
		   "# TYPE ringfleet_servers gauge\n");
	for (int s = 0; s <= FSM_FATAL; s++)
		fprintf(o, "ringfleet_servers{state=\"%s\"} %zu\n", fsm_state_name(s), c[s]);
	fprintf(o,
		"# HELP ringfleet_supervisor_uptime_seconds Time since ringfleetd started.\n"
		"# TYPE ringfleet_supervisor_uptime_seconds gauge\n"
		"ringfleet_supervisor_uptime_seconds %.3f\n",
		(double)(rf_now_ns() - started_ns) / 1e9);
	fprintf(o,
		"# HELP ringfleet_roll_pending Servers a roll has still to move onto the "
		"worker and module on disk.\n"
		"# TYPE ringfleet_roll_pending gauge\n"
		"ringfleet_roll_pending %zu\n",
		fl->roll.active ? fl->roll.pending : 0);
}

char *metrics_render(const struct fleet *fl, uint64_t started_ns, size_t *len)
{
	static const struct family fams[] = {
		{ "ringfleet_server_up", "gauge", "1 while the server's worker is running." },
		{ "ringfleet_server_packets_received_total", "counter", "Datagrams received." },
		{ "ringfleet_server_packets_sent_total", "counter",
		  "Datagrams sent (GSO segments counted one by one)." },
		{ "ringfleet_server_bytes_received_total", "counter", "Payload bytes received." },
		{ "ringfleet_server_bytes_sent_total", "counter", "Payload bytes sent." },
		{ "ringfleet_server_clients", "gauge", "Clients in the server's table." },
		{ "ringfleet_server_restarts_total", "counter", "Worker restarts." },
		{ "ringfleet_server_cpu_seconds_total", "counter",
		  "CPU time used by the server's workers." },
		{ "ringfleet_server_resident_memory_bytes", "gauge",
		  "Resident memory of the worker." },
		{ "ringfleet_server_ticks_total", "counter", "Ticks run." },
		{ "ringfleet_server_tick_overruns_total", "counter",
		  "Ticks whose work outlasted the period." },
		{ "ringfleet_server_admission_challenges_total", "counter",
		  "Handshake CHALLENGEs sent to sources not in the table." },
		{ "ringfleet_server_admission_admitted_total", "counter",
		  "Sources admitted to the client table." },
		{ "ringfleet_server_admission_evictions_total", "counter",
		  "Idle clients evicted to make room for a newcomer." },
		{ "ringfleet_server_admission_refusals_total", "counter",
		  "Admissions refused: table full of active clients, or max_clients_per_ip." },
		{ "ringfleet_server_admission_replies_dropped_total", "counter",
		  "Handshake replies not sent: over the per-tick budget, or the send failed." },
		{ "ringfleet_drop_output_total", "counter",
		  "Game sends refused: the tick's max_output_per_tick was reached." },
		{ "ringfleet_sessions_ended_total", "counter",
		  "Game sessions ended by the module." },
		{ "ringfleet_server_allocated", "gauge",
		  "1 while a match is allocated on the server." },
		{ "ringfleet_server_idle", "gauge",
		  "1 while the running worker sleeps idle (no client, no match): no ticks." },
		{ "ringfleet_server_idle_wakeups_total", "counter",
		  "Wakeups of the idle sleep (heartbeats, datagrams, signals)." },
		{ "ringfleet_server_idle_seconds_total", "counter", "Time the worker slept idle." },
	};
	static double (*const get[])(const struct fleet *, const struct server *) = {
		get_up,           get_pkts_in,        get_pkts_out,     get_bytes_in,
		get_bytes_out,    get_clients,        get_restarts,     get_cpu,
		get_rss,          get_ticks,          get_overruns,     get_adm_challenges,
		get_adm_admitted, get_adm_evictions,  get_adm_refusals, get_adm_replies_dropped,
		get_drop_output,  get_sessions_ended, get_allocated,    get_idle,
		get_idle_wakeups, get_idle_seconds,
	};
	_Static_assert(sizeof(fams) / sizeof(fams[0]) == sizeof(get) / sizeof(get[0]),
		       "one getter per family");
	char *buf = NULL;
	FILE *o = open_memstream(&buf, len);

	if (!o)
		return NULL;
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++)
		per_server(o, fl, &fams[i], get[i]);
	drops(o, fl);
	game_values(o, fl);
	tick_histogram(o, fl);
	supervisor_metrics(o, fl, started_ns);
	session_metrics(o, fl);
	if (fclose(o) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
