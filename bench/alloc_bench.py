#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Allocation latency of ringfleetd over the control socket and over the
HTTP API, at a fixed request rate, with a fleet of servers running.

One ringfleetd with --servers relay servers (a [pool]) and api_listen on
127.0.0.1 is started from a temporary directory; optionally
ringfleet-load keeps --load-clients clients sending to them throughout.
Then, for each front end (ctl: `allocate JSON` lines on one persistent
control connection, as ringfleetctl sends them; http: POST /v1/allocate
on one keep-alive connection with the bearer token), allocations are sent
paced at --rate per second in rounds of --per-round (a released server is
recycled, its worker restarted fresh, so a round stops short of the
fleet); after a round every allocated server is released and the fleet
waits until all are ready again, outside the measurement. Latency is from
sending the request to its whole reply, in the client.

Beside the allocations a thread asks `status` over another control
connection every --status-ms; its p99 during the allocation rounds is
compared with its p99 while idle (the same thread before the rounds).
ringfleetd's CPU is its utime+stime over the rounds' wall time.

Prints one markdown table. Standard library only; 127.0.0.1 only.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import run_bench  # the same directory: its port and binary helpers

HERE = os.path.dirname(os.path.abspath(__file__))


def find_bin(dirs, name):
    p = run_bench.find_bin(dirs, name)
    if not p:
        sys.exit("alloc_bench: %s not found in %s (build first, or --bin-dir)" % (name, dirs))
    return p


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Ctl:
    """One persistent control connection: a request line, a reply line.
    ringfleetd closes a control connection idle for 10 s (CONTROL_IDLE_MS),
    which the allocation connection is while a loaded host recycles a
    round's servers: a request that finds it closed reconnects once (a
    request is never sent twice: a closed connection took none)."""

    def __init__(self, path):
        self.path = path
        self.connect()

    def connect(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(self.path)
        self.f = self.s.makefile("rb")

    def call(self, line):
        for attempt in range(2):
            try:
                self.s.sendall(line.encode() + b"\n")
                reply = self.f.readline()
                if not reply:
                    raise ConnectionError("control connection closed")
                return json.loads(reply)
            except (BrokenPipeError, ConnectionResetError):
                if attempt:
                    raise
                self.s.close()
                self.connect()


class Http:
    def __init__(self, port, token):
        self.port, self.token = port, token
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def call(self, method, path, body=None):
        h = {"Authorization": "Bearer " + self.token}
        for attempt in range(2):
            try:
                self.c.request(method, path, body=body, headers=h)
                r = self.c.getresponse()
                return r.status, json.loads(r.read() or b"null")
            except (ConnectionError, http.client.HTTPException):
                if attempt:
                    raise
                self.c.close()   # closed by the server (deadline): reconnect
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)


def pct(vals, p):
    if not vals:
        return float("nan")
    vals = sorted(vals)
    return vals[min(len(vals) - 1, int(round(p / 100.0 * (len(vals) - 1))))]


def client_sched(policy):
    """The measuring processes' own scheduling. fifo: SCHED_FIFO 1 (with
    reset-on-fork, so nothing they start inherits it), as ringfleetd waits
    with realtime = yes: a client at normal priority on a 2-core host
    carrying 200 ticking workers waits for the CPU itself, ~1 ms at a
    time, and that is the client's latency, not ringfleetd's. Returns what
    was set."""
    if policy == "fifo":
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(1))
            return "SCHED_FIFO 1"
        except OSError as e:
            print("alloc_bench: client stays SCHED_OTHER: %s" % e, file=sys.stderr)
    return "SCHED_OTHER"


def probe_main(sock, period, stop, out, sched):
    """`status` every period seconds until stop is set; sends back
    (monotonic start, latency) pairs. A process of its own: in a thread
    of the allocating process, parsing a 190 KB reply held the GIL for
    milliseconds and showed up as allocation latency. The reply is parsed
    after the clock stops: latency is to its last byte."""
    client_sched(sched)
    ctl = Ctl(sock)
    samples = []
    while not stop.is_set():
        t0 = time.monotonic()
        ctl.s.sendall(b"status\n")
        line = ctl.f.readline()
        dt = time.monotonic() - t0
        if not json.loads(line).get("ok"):
            out.send(("error", line.decode(errors="replace")))
            return
        samples.append((t0, dt))
        stop.wait(max(0.0, period - dt))
    out.send(("ok", samples))


class StatusProbe:
    """The probe process; its samples are sorted into the time windows
    marked by mark(), by their start."""

    def __init__(self, sock, period, sched):
        ctx = multiprocessing.get_context("fork")
        self.stop = ctx.Event()
        self.rx, tx = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=probe_main, args=(sock, period, self.stop, tx, sched),
                                daemon=True)
        self.windows = []  # (bucket, start, end)
        self.open = None

    def start(self):
        self.proc.start()

    def mark(self, bucket):
        now = time.monotonic()
        if self.open:
            self.windows.append((self.open[0], self.open[1], now))
        self.open = (bucket, now) if bucket else None

    def finish(self):
        self.mark(None)
        self.stop.set()
        if not self.rx.poll(30):
            sys.exit("alloc_bench: the status probe did not report")
        what, samples = self.rx.recv()
        self.proc.join(5)
        if what != "ok":
            sys.exit("alloc_bench: status failed: %s" % samples)
        out = {}
        for t0, dt in samples:
            for bucket, a, b in self.windows:
                if a <= t0 < b:
                    out.setdefault(bucket, []).append(dt)
        return out


def wait_all_ready(api, n, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = api.call("GET", "/v1/servers")
        if status == 200 and sum(1 for s in body if s["state"] == "ready") == n:
            return
        time.sleep(0.2)
    sys.exit("alloc_bench: servers not all ready again within %d s" % timeout)


def run_front(front, ctl, api, args, probe, pid):
    """Rounds of paced allocations; returns (latencies, failures, cpu, wall)."""
    lat, failures, allocated = [], 0, []
    cpu = wall = 0.0
    interval = 1.0 / args.rate
    while len(lat) < args.samples:
        wait_all_ready(api, args.servers)
        n = min(args.per_round, args.samples - len(lat))
        probe.mark("busy")
        c0, w0 = cpu_seconds(pid), time.monotonic()
        t0 = time.perf_counter()
        for i in range(n):
            delay = t0 + i * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            s0 = time.perf_counter()
            if front == "ctl":
                r = ctl.call("allocate {}")
                ok, name = r.get("ok"), (r.get("name") or "")
            else:
                status, r = api.call("POST", "/v1/allocate", "{}")
                ok, name = status == 200, (r or {}).get("name", "")
            lat.append(time.perf_counter() - s0)
            if ok:
                allocated.append(name)
            else:
                failures += 1
        cpu += cpu_seconds(pid) - c0
        wall += time.monotonic() - w0
        probe.mark(None)
        for name in allocated:
            ctl.call("release %s" % name)
        allocated = []
    return lat, failures, cpu, wall


def start_daemon(args, tmp, bins):
    base = run_bench.free_ports(args.servers)
    port = free_tcp_port()
    token = "%032x" % random.getrandbits(128)
    tfile = os.path.join(tmp, "api.token")
    fd = os.open(tfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (token + "\n").encode())
    os.close(fd)
    sock = os.path.join(tmp, "control.sock")
    conf = os.path.join(tmp, "ringfleet.ini")
    with open(conf, "w") as f:
        f.write("[supervisor]\ncontrol_socket = %s\nmax_per_cpu = %d\napi_listen = 127.0.0.1:%d\n"
                "api_token_file = %s\nlog_level = warning\n[defaults]\nbind = 127.0.0.1\n"
                "admission = open\n[pool b]\nports = %d-%d\ntick_hz = %d\n"
                % (sock, args.servers, port, tfile, base, base + args.servers - 1, args.tick_hz))
    log = open(os.path.join(tmp, "ringfleetd.log"), "w")
    proc = subprocess.Popen([bins["ringfleetd"], "-c", conf], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            api = Http(port, token)
            api.call("GET", "/v1/servers")
            break
        except OSError:
            if proc.poll() is not None:
                sys.exit("alloc_bench: ringfleetd exited %d (log %s)" % (proc.returncode, log.name))
            time.sleep(0.2)
    return proc, sock, api, base


def start_load(args, bins, base):
    if args.load_clients <= 0:
        return None
    cmd = [bins["ringfleet-load"], "--target", "127.0.0.1:%d-%d" % (base, base + args.servers - 1),
           "--clients", str(args.load_clients), "--interval-ms", "20", "--admission", "open",
           "--duration", "3600", "--json"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", type=int, default=200)
    ap.add_argument("--rate", type=float, default=500, help="allocations per second")
    ap.add_argument("--samples", type=int, default=1000, help="allocations per front end")
    ap.add_argument("--per-round", type=int, default=150,
                    help="allocations between two releases of everything")
    ap.add_argument("--status-ms", type=float, default=50, help="period of the status probe")
    ap.add_argument("--idle-s", type=float, default=10, help="idle status probing")
    ap.add_argument("--load-clients", type=int, default=200,
                    help="ringfleet-load clients sending to the servers (0: none)")
    ap.add_argument("--tick-hz", type=int, default=50)
    ap.add_argument("--bin-dir", action="append", default=None)
    ap.add_argument("--client-sched", choices=("fifo", "other"), default="fifo",
                    help="scheduling of the allocating client and the status probe (default "
                    "fifo, when permitted: SCHED_FIFO 1, not inherited)")
    ap.add_argument("--tmp-dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                    help="where the control socket and ringfleetd's state file go (default "
                    "/dev/shm: a tmpfs, as /run/ringfleet is in production)")
    args = ap.parse_args()
    if args.per_round >= args.servers:
        ap.error("--per-round must be below --servers")
    return args


def main():
    args = parse_args()
    dirs = args.bin_dir or [os.path.join(HERE, "..", "build", "bin")]
    bins = {n: find_bin(dirs, n) for n in ("ringfleetd", "ringfleet-load")}
    tmp = tempfile.mkdtemp(prefix="rf-alloc-bench-", dir=args.tmp_dir)
    proc, sock, api, base = start_daemon(args, tmp, bins)
    load = None
    try:
        wait_all_ready(api, args.servers)
        load = start_load(args, bins, base)
        time.sleep(2 if load else 0)
        probe = StatusProbe(sock, args.status_ms / 1000.0, args.client_sched)
        sched = client_sched(args.client_sched)  # after ringfleetd and the load started
        probe.start()
        probe.mark("idle")
        time.sleep(args.idle_s)
        probe.mark(None)
        ctl = Ctl(sock)
        rows = []
        for front in ("ctl", "http"):
            lat, failures, cpu, wall = run_front(front, ctl, api, args, probe, proc.pid)
            rows.append((front, lat, failures, cpu, wall))
        samples = probe.finish()
    finally:
        if load:
            load.kill()
            load.wait()
        proc.terminate()
        proc.wait(60)
    shutil.rmtree(tmp, ignore_errors=True)  # kept (with ringfleetd.log) if the run failed
    idle, busy = samples.get("idle", []), samples.get("busy", [])
    ms = 1000.0
    print("ringfleetd: %d servers%s; %d allocations per front end at %g/s in rounds of %d; "
          "clients %s" % (args.servers, ", %d load clients" % args.load_clients if load else "",
                          args.samples, args.rate, args.per_round, sched))
    print()
    print("| front end | p50 ms | p99 ms | max ms | failed | ringfleetd CPU |")
    print("|---|---|---|---|---|---|")
    for front, lat, failures, cpu, wall in rows:
        print("| %s | %.3f | %.3f | %.3f | %d | %.0f%% |"
              % (front, statistics.median(lat) * ms, pct(lat, 99) * ms, max(lat) * ms, failures,
                 100.0 * cpu / wall if wall else 0.0))
    print()
    print("| status | n | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    for what, v in (("idle", idle), ("during allocations", busy)):
        print("| %s | %d | %.3f | %.3f |" % (what, len(v), statistics.median(v) * ms if v else 0,
                                              pct(v, 99) * ms))
    if idle and busy:
        print()
        print("status p99 during / idle: %.2fx" % (pct(busy, 99) / pct(idle, 99)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
