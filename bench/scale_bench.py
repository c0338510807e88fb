#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What N idle servers under one ringfleetd cost, for N in --counts.

For each N one ringfleetd is started from a temporary directory with a
[pool] of N relay servers on consecutive free 127.0.0.1 ports
(admission = open), its control socket and a /metrics listener on a free
127.0.0.1 port, and these are measured, in this order:

  start      seconds from spawning ringfleetd until `status` (control
             socket, polled every 0.1 s + N/2500 s, at most 0.5 s) lists N
             servers, every one `running`
  idle CPU   CPU time (/proc/PID/task/TID/schedstat) over --idle-s
             seconds, after --settle-s of quiet: the whole tree (ringfleetd
             and every worker thread present at both ends of the window)
             and ringfleetd alone, in % of one core; nothing else talks to
             ringfleetd meanwhile
  status     --requests `status` requests, one after the other, on one
             control connection: send to the whole reply line, p50/p99
  /metrics   --requests GET /metrics on one keep-alive connection: send to
             the whole body, p50/p99
  reload     the INI gets one more [server] (the port after the pool), then
             loses it again; each time `reload` on the control socket,
             timed to its reply (a reload replies once the fleet has
             settled: the added server running, the removed one gone).
             The reply must name exactly that server; a pool server whose
             worker pid changed across a reload counts as disturbed
  memory     ringfleetd's VmRSS; each worker's Pss (/proc/PID/smaps_rollup),
             median and sum; ringfleetd's open fds and its fd soft limit
  first datagram  on --first-servers servers that never had a client: a
             client B sends one datagram and client A right after it; the
             time from A's send until B receives A's datagram (the relay
             broadcasts to every client in the table: B joined first).
             Each pair has its own loopback addresses. Median and max over
             the servers. A server ticking at tick_hz relays within one
             tick (1000/tick_hz ms) plus the work of the tick.
  stop       seconds from SIGTERM until ringfleetd has exited

Prints a markdown table; --json-out FILE writes every figure, --plot
FILE.png draws them against N (needs matplotlib: python3-matplotlib; only
--plot imports it). Only ever uses 127.0.0.0/8.
"""
import argparse
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import run_bench  # the same directory: its port and binary helpers

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def die(msg):
    sys.exit("scale_bench: " + msg)


def pct(vals, p):
    vals = sorted(vals)
    return vals[min(len(vals) - 1, int(round(p / 100.0 * (len(vals) - 1))))]


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ctl:
    """One persistent control connection: a request line, a reply line."""

    def __init__(self, path, timeout=300):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.f = self.s.makefile("rb")

    def call(self, line):
        self.s.sendall(line.encode() + b"\n")
        reply = self.f.readline()
        if not reply:
            raise ConnectionError("control connection closed")
        return json.loads(reply)

    def close(self):
        self.f.close()
        self.s.close()


def proc_stat(pid):
    """(ppid, utime+stime in s) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def task_cpu(pid):
    """{tid: cpu seconds} of pid's threads, from schedstat (ns: finer than
    stat's utime+stime in clock ticks), stat when schedstat is missing."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for t in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                out[int(t)] = int(f.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            st = proc_stat(int(t))
            if st:
                out[int(t)] = st[1]
    return out


def tree_cpu(root):
    """{(pid, tid): cpu seconds} of root and its children (workers are its
    direct children), thread by thread."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and (int(d) == root or st[0] == root):
                for tid, c in task_cpu(int(d)).items():
                    out[(int(d), tid)] = c
    return out


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def fd_soft_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return 0


class Fleet:
    """One ringfleetd with a pool of n servers from a temporary directory."""

    def __init__(self, n, args, ringfleetd):
        self.n, self.args = n, args
        self.tmp = tempfile.mkdtemp(prefix="rf-scale-bench-")
        self.sock = os.path.join(self.tmp, "control.sock")
        self.conf = os.path.join(self.tmp, "ringfleet.ini")
        self.base = run_bench.free_ports(n + 1)  # + the server a reload adds
        self.metrics_port = free_tcp_port()
        self.write_conf(extra=False)
        self.log = open(os.path.join(self.tmp, "ringfleetd.log"), "w")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([ringfleetd, "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.ctl = None
        self.ctl_lost = 0

    def write_conf(self, extra):
        a = self.args
        with open(self.conf + ".tmp", "w") as f:
            f.write("[supervisor]\ncontrol_socket = %s\nmax_per_cpu = %d\n"
                    "metrics_listen = 127.0.0.1:%d\nlog_level = warning\n"
                    "[defaults]\nbind = 127.0.0.1\nadmission = open\ntick_hz = %d\n"
                    "[pool b]\nports = %d-%d\n"
                    % (self.sock, self.n + 1, self.metrics_port, a.tick_hz, self.base,
                       self.base + self.n - 1))
            if extra:
                f.write("[server extra]\nport = %d\n" % (self.base + self.n))
        os.rename(self.conf + ".tmp", self.conf)

    def alive(self):
        if self.proc.poll() is not None:
            die("ringfleetd exited %d (log %s)" % (self.proc.returncode, self.log.name))

    def connect(self, timeout):
        deadline = self.t0 + timeout
        while time.monotonic() < deadline:
            self.alive()
            try:
                self.ctl = Ctl(self.sock)
                return
            except OSError:
                time.sleep(0.05)
        die("no control socket within %d s" % timeout)

    def fresh(self):
        """A new control connection: ringfleetd closes one left without a
        request for 10 s (the idle window is longer)."""
        self.ctl.close()
        self.ctl = Ctl(self.sock)

    def status(self, retries=0):
        """status on the control connection; with retries, a connection
        lost mid-reply is opened again (ringfleetd closes one that has not
        taken its reply within 10 s of the request, which a saturated host
        can make happen to a status of a megabyte)."""
        for attempt in range(retries + 1):
            try:
                r = self.ctl.call("status")
                break
            except (OSError, ValueError) as e:
                self.alive()
                if attempt == retries:
                    die("status failed: %s" % e)
                self.ctl_lost += 1
                self.ctl.close()
                self.ctl = Ctl(self.sock)
        if not r.get("ok"):
            die("status failed: %s" % r)
        return r

    def wait_running(self, timeout):
        """(seconds from spawning ringfleetd until all n servers run, or
        None at the timeout; the last status)."""
        self.connect(timeout)
        deadline = self.t0 + timeout
        while True:
            st = self.status(retries=5)
            states = [s["state"] for s in st["servers"]]
            if len(states) == self.n and all(s == "running" for s in states):
                return time.monotonic() - self.t0, st
            if time.monotonic() > deadline:
                return None, st
            self.alive()
            # A status of 1,000 servers is a megabyte to build and parse:
            # polled less often the larger the fleet (0.5 s at 1,000).
            time.sleep(min(0.5, 0.1 + self.n / 2500.0))

    def stop(self):
        t = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            die("ringfleetd did not exit within 120 s of SIGTERM")
        return time.monotonic() - t


def measure_idle_cpu(pid, secs):
    """(% tree, % ringfleetd, processes seen): threads present at both ends
    of the window count, so a worker that restarted meanwhile adds nothing."""
    c0 = tree_cpu(pid)
    t0 = time.monotonic()
    time.sleep(secs)
    c1 = tree_cpu(pid)
    wall = time.monotonic() - t0
    both = set(c0) & set(c1)
    tree = sum(c1[k] - c0[k] for k in both)
    daemon = sum(c1[k] - c0[k] for k in both if k[0] == pid)
    return 100.0 * tree / wall, 100.0 * daemon / wall, len({k[0] for k in both}) - 1


def measure_status(fleet, k):
    lat = []
    for _ in range(k):
        t = time.perf_counter()
        st = fleet.status()
        lat.append(time.perf_counter() - t)
        if len(st["servers"]) != fleet.n:
            die("status listed %d servers of %d" % (len(st["servers"]), fleet.n))
    return lat


def measure_metrics(port, k, n):
    lat = []
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(k):
        t = time.perf_counter()
        for attempt in range(2):
            try:
                c.request("GET", "/metrics")
                r = c.getresponse()
                body = r.read()
                break
            except (ConnectionError, http.client.HTTPException):
                if attempt:
                    raise
                c.close()  # closed by the server between requests: reconnect
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        lat.append(time.perf_counter() - t)
        up = body.count(b"ringfleet_server_up{")
        if r.status != 200 or up < n:
            die("/metrics: HTTP %d, %d servers up of %d" % (r.status, up, n))
    c.close()
    return lat


def pids_of(st):
    return {s["name"]: s["pid"] for s in st["servers"]}


def measure_reload(fleet):
    """(add s, remove s, servers disturbed): a worker pid that changed
    across a reload; dies when a reply names other servers. The pids are
    taken just before each reload, so a worker a loaded host saw hung
    earlier (its restarts are a column of their own) is not counted."""
    out, disturbed = [], 0
    for extra, key in ((True, "added"), (False, "removed")):
        before = {n: p for n, p in pids_of(fleet.status(retries=5)).items() if n != "extra"}
        fleet.write_conf(extra)
        t = time.perf_counter()
        r = fleet.ctl.call("reload")
        out.append(time.perf_counter() - t)
        if not r.get("ok") or r.get(key) != ["extra"] or r.get("changed"):
            die("reload (%s extra): %s" % (key, json.dumps(r)[:400]))
        now = pids_of(fleet.status(retries=5))
        if extra and (now.get("extra") or 0) <= 0:
            die("reload: the added server has no worker")
        moved = [n for n, p in before.items() if now.get(n) != p]
        if moved:
            print("scale_bench: reload (%s extra): %d other servers have a new worker, e.g. %s"
                  % (key, len(moved), moved[:5]), file=sys.stderr)
        disturbed += len(moved)
    return out[0], out[1], disturbed


_src = [0]


def loopback_source():
    """A loopback address of its own per client, 127.3.0.1 and up: a server
    admits at most max_clients_per_ip per address."""
    _src[0] += 1
    return socket.inet_ntoa(struct.pack("!I", 0x7F030000 + _src[0]))


def first_datagram(port, timeout=2.0):
    """Seconds from A's send until B has A's datagram, on a server with no
    client: B's datagram goes first so that B is in the table when A's is
    broadcast (both are read in the same tick)."""
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        a.bind((loopback_source(), 0))
        b.bind((loopback_source(), 0))
        b.settimeout(timeout)
        dst = ("127.0.0.1", port)
        b.sendto(b"scale-bench join B", dst)
        t = time.perf_counter()
        a.sendto(b"scale-bench from A", dst)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                data, _ = b.recvfrom(2048)
            except socket.timeout:
                break
            if data == b"scale-bench from A":
                return time.perf_counter() - t
        return None
    finally:
        a.close()
        b.close()


def measure_first(fleet, k):
    """Over k servers spread over the pool, 0.3 s apart (a different phase
    of each server's tick)."""
    lat, lost = [], 0
    k = min(k, fleet.n)
    for i in range(k):
        dt = first_datagram(fleet.base + i * fleet.n // k)
        if dt is None:
            lost += 1
        else:
            lat.append(dt)
        time.sleep(0.3)
    return lat, lost


def restarts(st):
    return sum(s["restarts"] for s in st["servers"])


def run_one(n, args, ringfleetd):
    ms = 1000.0
    fleet = Fleet(n, args, ringfleetd)
    row = {"servers": n}
    try:
        row["start_s"], st = fleet.wait_running(args.start_timeout)
        if row["start_s"] is None:
            running = sum(1 for s in st["servers"] if s["state"] == "running")
            row["start_timeout_s"] = args.start_timeout
            row["failed"] = ("%d of %d running after %.0f s, %d restarts, %d status replies cut"
                             % (running, n, args.start_timeout, restarts(st), fleet.ctl_lost))
            print("scale_bench: %d servers: %s (log %s)" % (n, row["failed"], fleet.log.name),
                  file=sys.stderr)
            row["stop_s"] = fleet.stop()
            return row
        before = pids_of(st)
        time.sleep(args.settle_s)
        row["idle_cpu_tree_pct"], row["idle_cpu_daemon_pct"], row["idle_workers_seen"] = \
            measure_idle_cpu(fleet.proc.pid, args.idle_s)
        fleet.fresh()
        lat = measure_status(fleet, args.requests)
        row["status_p50_ms"], row["status_p99_ms"] = statistics.median(lat) * ms, pct(lat, 99) * ms
        row["status_bytes"] = len(json.dumps(fleet.status()))
        lat = measure_metrics(fleet.metrics_port, args.requests, n)
        row["metrics_p50_ms"], row["metrics_p99_ms"] = statistics.median(lat) * ms, pct(lat, 99) * ms
        fleet.fresh()
        add, rm, row["reload_disturbed"] = measure_reload(fleet)
        row["reload_add_ms"], row["reload_remove_ms"] = add * ms, rm * ms
        pid = fleet.proc.pid
        row["daemon_rss_mb"] = status_kb(pid, "VmRSS") / 1024.0
        pss = [v for v in (pss_kb(p) for p in before.values()) if v is not None]
        row["worker_pss_median_kb"] = statistics.median(pss) if pss else float("nan")
        row["workers_pss_total_mb"] = sum(pss) / 1024.0
        row["daemon_fds"] = len(os.listdir("/proc/%d/fd" % pid))
        row["daemon_fd_limit"] = fd_soft_limit(pid)
        lat, lost = measure_first(fleet, args.first_servers)
        row["first_dgram_p50_ms"] = statistics.median(lat) * ms if lat else float("nan")
        row["first_dgram_max_ms"] = max(lat) * ms if lat else float("nan")
        row["first_dgram_lost"] = lost
        row["tick_ms"] = 1000.0 / args.tick_hz
        fleet.fresh()
        row["restarts"] = restarts(fleet.status(retries=5))
        row["status_cut"] = fleet.ctl_lost
        fleet.ctl.close()
        row["stop_s"] = fleet.stop()
    finally:
        if fleet.proc.poll() is None:
            fleet.proc.kill()
            fleet.proc.wait()
    shutil.rmtree(fleet.tmp, ignore_errors=True)  # kept (with its log) when it failed
    return row


COLUMNS = [
    ("servers", "N", "%d"),
    ("start_s", "all running s", "%.2f"),
    ("idle_cpu_tree_pct", "idle CPU tree %", "%.1f"),
    ("idle_cpu_daemon_pct", "idle CPU ringfleetd %", "%.2f"),
    ("status_p50_ms", "status p50 ms", "%.1f"),
    ("status_p99_ms", "status p99 ms", "%.1f"),
    ("metrics_p50_ms", "/metrics p50 ms", "%.1f"),
    ("metrics_p99_ms", "/metrics p99 ms", "%.1f"),
    ("reload_add_ms", "reload +1 ms", "%.0f"),
    ("reload_remove_ms", "reload -1 ms", "%.0f"),
    ("daemon_rss_mb", "ringfleetd RSS MB", "%.1f"),
    ("worker_pss_median_kb", "worker PSS kB", "%.0f"),
    ("daemon_fds", "ringfleetd fds", "%d"),
    ("first_dgram_p50_ms", "1st datagram p50 ms", "%.1f"),
    ("first_dgram_max_ms", "1st datagram max ms", "%.1f"),
    ("reload_disturbed", "disturbed by reload", "%d"),
    ("restarts", "restarts", "%d"),
    ("stop_s", "stop s", "%.1f"),
]


def table(rows):
    out = ["| " + " | ".join(c[1] for c in COLUMNS) + " |",
           "|" + "---|" * len(COLUMNS)]
    for r in rows:
        out.append("| " + " | ".join(fmt % r[k] if r.get(k) is not None else "-"
                                     for k, _, fmt in COLUMNS) + " |")
    for r in rows:
        if "failed" in r:
            out.append("")
            out.append("%d servers did not all start: %s." % (r["servers"], r["failed"]))
    return "\n".join(out)


def nan_if_none(v):
    return float("nan") if v is None else v


def plot(rows, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["servers"] for r in rows]
    panels = [
        ("all running (s)", [("start_s", "start")]),
        ("idle CPU (% of one core)", [("idle_cpu_tree_pct", "whole tree"),
                                      ("idle_cpu_daemon_pct", "ringfleetd")]),
        ("request latency (ms)", [("status_p50_ms", "status p50"), ("status_p99_ms", "status p99"),
                                  ("metrics_p50_ms", "/metrics p50"),
                                  ("metrics_p99_ms", "/metrics p99")]),
        ("reload latency (ms)", [("reload_add_ms", "add one server"),
                                 ("reload_remove_ms", "remove one server")]),
        ("memory", [("daemon_rss_mb", "ringfleetd RSS (MB)"),
                    ("workers_pss_total_mb", "all workers' PSS (MB)"),
                    ("worker_pss_median_kb", "one worker's PSS (kB, median)")]),
        ("first datagram to an idle server (ms)", [("first_dgram_p50_ms", "median"),
                                                   ("first_dgram_max_ms", "max"),
                                                   ("tick_ms", "one tick")]),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, (ttl, series) in zip(axes.flat, panels):
        for key, label in series:
            ax.plot(n, [nan_if_none(r.get(key)) for r in rows], marker="o", label=label,
                    linestyle="--" if key == "tick_ms" else "-")
        if ttl.startswith("all running"):
            failed = [r for r in rows if "failed" in r]
            if failed:
                ax.plot([r["servers"] for r in failed], [r["start_timeout_s"] for r in failed],
                        "rx", markersize=10, label="not all running by then")
                ax.legend(fontsize=8)
        ax.set_title(ttl)
        ax.set_xlabel("servers")
        ax.set_ylim(bottom=0)
        ax.set_xlim(0, max(n) * 1.05)  # the same N axis on every panel
        ax.grid(True, alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--counts", default="1000",
                    help="comma-separated numbers of servers, e.g. 100,250,500,1000")
    ap.add_argument("--idle-s", type=float, default=10, help="idle CPU window")
    ap.add_argument("--settle-s", type=float, default=3,
                    help="quiet before the idle window (the last spawns settle)")
    ap.add_argument("--requests", type=int, default=20, help="status and /metrics requests")
    ap.add_argument("--first-servers", type=int, default=10,
                    help="idle servers that get a first datagram")
    ap.add_argument("--tick-hz", type=int, default=50)
    ap.add_argument("--start-timeout", type=float, default=120,
                    help="a fleet not all running by then is reported as failed")
    ap.add_argument("--bin-dir", action="append", default=None)
    ap.add_argument("--json-out", help="write the figures as JSON")
    ap.add_argument("--plot", help="draw the figures against N into this image (matplotlib)")
    args = ap.parse_args()
    try:
        args.counts = [int(c) for c in args.counts.split(",")]
    except ValueError:
        ap.error("--counts: comma-separated integers")
    if any(c < 1 for c in args.counts) or args.requests < 1:
        ap.error("counts and --requests must be positive")
    return args


def main():
    args = parse_args()
    dirs = args.bin_dir or [os.path.join(HERE, "..", "build", "bin")]
    ringfleetd = run_bench.find_bin(dirs, "ringfleetd")
    if not ringfleetd:
        die("ringfleetd not found in %s (build first, or --bin-dir)" % dirs)
    if args.plot:
        try:
            import matplotlib  # noqa: F401  (fail before an hour of runs)
        except ImportError:
            die("--plot needs matplotlib (Debian: python3-matplotlib)")
    # ringfleetd raises its own soft limit to what it needs (3 fds per
    # server + fixed); raising ours too lets it, and us, go up to the hard
    # limit without depending on the shell's soft limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    machine = "%s; tick_hz %d" % (run_bench.machine_info(), args.tick_hz)
    info = "%s; %s" % (machine, ringfleetd)
    rows = []
    for n in args.counts:
        print("scale_bench: %d servers ..." % n, file=sys.stderr, flush=True)
        rows.append(run_one(n, args, ringfleetd))
        print("scale_bench: %s" % json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(info)
    print()
    print(table(rows))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"machine": info, "rows": rows}, f, indent=1)
            f.write("\n")
    if args.plot:
        plot(rows, args.plot, "%s idle servers under one ringfleetd: %s" % (
            "/".join(str(c) for c in args.counts), machine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
