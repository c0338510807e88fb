#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ringfleet-load against the two reference servers (ref-blocking and
ref-uring-zc) on 127.0.0.1: 5 clients for 2 s must see every broadcast
(0 loss), latencies bounded by the 50 Hz tick, a complete JSON report, and
each server must exit 0 on SIGTERM."""
import signal
import subprocess
import sys
import time

import rftest
from fleetlib import binary, run_load

FIELDS = [
    "servers_n", "clients", "clients_per_server", "size", "interval_ms",
    "warmup_s", "duration_s", "window_s", "drain_ms", "sent", "expected",
    "received", "lost", "loss_pct", "worst_server_loss_pct", "latency_ms",
    "self_cpu_pct", "sender_realtime", "cpu_pct", "cpu_procs", "cpu_root_exited", "send_errors",
    "send_skipped", "late_sends", "send_lag_max_ms", "recv_errors",
    "recv_nobufs", "bad_packets", "dup_or_reordered",
    "host_udp_rcvbuf_errors", "admission", "servers",
]
LAT_FIELDS = ["avg", "p50", "p99", "p999", "max"]
CLIENTS = 5
DURATION = 2.0
INTERVAL_MS = 10


def wait_bound(port, proc, timeout=5.0):
    """Waits until something has bound 127.0.0.1:port (per /proc/net/udp)."""
    want = "0100007F:%04X" % port
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit("server exited early with %d" % proc.returncode)
        with open("/proc/net/udp") as f:
            if any(line.split()[1] == want for line in f.readlines()[1:]):
                return
        time.sleep(0.05)
    sys.exit("server did not bind port %d" % port)


def check(name, rep):
    missing = [f for f in FIELDS if f not in rep]
    assert not missing, "%s: missing fields %s" % (name, missing)
    missing = [f for f in LAT_FIELDS if f not in rep["latency_ms"]]
    assert not missing, "%s: missing latency fields %s" % (name, missing)
    want = CLIENTS * DURATION * 1000 / INTERVAL_MS
    # The schedule is absolute, so the count is exact up to window edges.
    assert abs(rep["sent"] - want) <= want * 0.05, "%s: sent %d, want ~%d" % (
        name, rep["sent"], want)
    assert rep["expected"] == rep["sent"] * CLIENTS, name
    assert rep["received"] == rep["expected"], "%s: received %d of %d" % (
        name, rep["received"], rep["expected"])
    assert rep["lost"] == 0 and rep["loss_pct"] == 0, name
    assert rep["bad_packets"] == 0 and rep["dup_or_reordered"] == 0, name
    assert rep["send_errors"] == 0, name
    lat = rep["latency_ms"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["p999"] <= lat["max"], (name, lat)
    # Packets wait for the next 20 ms tick: about 10 ms on average.
    assert 2 < lat["avg"] < 40, (name, lat)
    assert lat["max"] < 1000, (name, lat)
    assert rep["cpu_procs"] == 1 and 0 <= rep["cpu_pct"] < 200, name
    assert 0 < rep["self_cpu_pct"] < 100, name
    srv = rep["servers"]
    assert len(srv) == 1 and srv[0]["received"] == rep["received"], name


def main():
    for name in ("ref-blocking", "ref-uring-zc"):
        port = rftest.free_port()
        proc = subprocess.Popen([binary(name), "--port", str(port),
                                 "--bind", "127.0.0.1", "--tick-hz", "50"],
                                stderr=subprocess.PIPE, text=True)
        try:
            wait_bound(port, proc)
            rep = run_load(port, "--clients", CLIENTS, "--duration", DURATION,
                           "--warmup", 0.5, "--interval-ms", INTERVAL_MS,
                           "--admission", "open",  # no handshake in these
                           "--pid", proc.pid)
            check(name, rep)
            print("%s: sent %d received %d avg %.2f ms p99 %.2f ms cpu %.1f%%"
                  % (name, rep["sent"], rep["received"],
                     rep["latency_ms"]["avg"], rep["latency_ms"]["p99"],
                     rep["cpu_pct"]))
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=5)
            assert rc == 0, "%s exited %d on SIGTERM: %s" % (
                name, rc, proc.stderr.read())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    print("ok")


if __name__ == "__main__":
    main()
