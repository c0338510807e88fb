# SPDX-License-Identifier: Apache-2.0
"""A real Prometheus (Debian's /usr/bin/prometheus) scrapes ringfleetd's
/metrics every second: the target is healthy (the exposition parsed), every
server's ringfleet_server_packets_received_total equals its pkts_in from
`ringfleetctl --json status`, ringfleet_server_up is 1, and the tick
histogram works with histogram_quantile(). An idle HTTP client connected
to /metrics neither stops the control socket answering nor the scrapes.
Skipped (77) where prometheus is not installed (scripts/deps.sh installs it).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from fleetlib import Daemon, check, fail, free_tcp_port, free_udp_ports, send_udp, skip, wait_for
from test_metrics_http import get

PROMETHEUS = os.environ.get("RF_PROMETHEUS", "/usr/bin/prometheus")
SERVERS = ("p1", "p2", "p3")

CONFIG = """global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: ringfleet
    static_configs:
      - targets: ['127.0.0.1:%d']
"""


class Prometheus:
    def __init__(self, metrics_port):
        self.dir = tempfile.mkdtemp(prefix="rf-prom-")
        self.port = free_tcp_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.log = os.path.join(self.dir, "prometheus.log")
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(CONFIG % metrics_port)
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdout=self.logf, stderr=subprocess.STDOUT)

    def api(self, path, **params):
        url = "%s/api/v1/%s?%s" % (self.base, path, urllib.parse.urlencode(params))
        with urllib.request.urlopen(url, timeout=5) as r:
            reply = json.load(r)
        check(reply["status"] == "success", "%s: %s" % (url, reply))
        return reply["data"]

    def query(self, expr):
        """{server: value} of an instant query."""
        return {r["metric"].get("server"): float(r["value"][1])
                for r in self.api("query", query=expr)["result"]}

    def ready(self):
        if self.proc.poll() is not None:
            fail("prometheus exited with %d:\n%s" % (self.proc.returncode, self.log_text()))
        try:
            return get(self.base + "/-/ready")[0] == 200
        except OSError:
            return False

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def traffic(d, ports):
    """Different counts per server from two clients each, then silence."""
    want = {}
    for i, (name, port) in enumerate(zip(SERVERS, ports)):
        # pkts_in counts the handshake's datagrams too
        want[name] = sum(send_udp(port, 10 * (i + 1)) for _ in range(2))
    wait_for(lambda: {n: s["pkts_in"] for n, s in d.servers().items()} == want, 10,
             "pkts_in %s in status" % want)
    return want


def scraped_equal_status(d, prom):
    def equal():
        got = prom.query("ringfleet_server_packets_received_total")
        st = {n: s["pkts_in"] for n, s in d.servers().items()}
        equal.last = (got, st)
        return set(got) == set(SERVERS) and all(got[n] == st[n] for n in SERVERS)
    deadline = time.monotonic() + 20
    while not equal():
        if time.monotonic() > deadline:
            fail("Prometheus and status disagree after 20 s: %s vs %s" % equal.last)
        time.sleep(0.5)
    return equal.last[0]


def check_series(prom):
    up = prom.query("ringfleet_server_up")
    check(up == {n: 1.0 for n in SERVERS}, "ringfleet_server_up: %s" % up)
    count = prom.query("ringfleet_server_tick_duration_seconds_count")
    inf = prom.query('ringfleet_server_tick_duration_seconds_bucket{le="+Inf"}')
    check(set(count) == set(SERVERS) and all(v > 0 for v in count.values()),
          "tick histogram _count: %s" % count)
    check(set(inf) == set(SERVERS), "tick histogram +Inf buckets: %s" % inf)
    # histogram_quantile() needs le labels Prometheus can parse as numbers
    # and two scrapes in the window; p99 of an idle relay is well under 1 s.
    q = wait_for(lambda: (lambda r: set(r) == set(SERVERS) and r)(prom.query(
        "histogram_quantile(0.99, rate(ringfleet_server_tick_duration_seconds_bucket[5s]))")),
        15, "histogram_quantile of the tick histogram", 0.5)
    check(all(0 < v < 1 for v in q.values()), "tick p99 seconds: %s" % q)
    targets = prom.api("targets")["activeTargets"]
    check(len(targets) == 1 and targets[0]["health"] == "up" and targets[0]["lastError"] == "",
          "scrape target: %s" % targets)


def main():
    if not os.access(PROMETHEUS, os.X_OK):
        skip("%s not installed (scripts/deps.sh installs it)" % PROMETHEUS)
    ports = free_udp_ports(len(SERVERS))
    mport = free_tcp_port()
    ini = "".join("[server %s]\nport = %d\n" % (n, p) for n, p in zip(SERVERS, ports))
    with Daemon(ini, "metrics_listen = 127.0.0.1:%d\n" % mport) as d:
        d.wait_running()
        want = traffic(d, ports)
        status, ctype, _ = get("http://127.0.0.1:%d/metrics" % mport)
        check(status == 200 and ctype.startswith("text/plain; version=0.0.4"),
              "GET /metrics: %d %s" % (status, ctype))
        check(get("http://127.0.0.1:%d/other" % mport)[0] == 404, "GET /other not 404")
        idle = socket.create_connection(("127.0.0.1", mport), timeout=5)
        rc, _, err = d.ctl("ping", timeout=5)
        check(rc == 0, "ping with an idle HTTP client open: %d %s" % (rc, err))
        prom = Prometheus(mport)
        try:
            wait_for(prom.ready, 30, "prometheus ready", 0.2)
            got = scraped_equal_status(d, prom)
            check(got == {n: float(v) for n, v in want.items()}, "scraped %s, sent %s" % (got, want))
            check_series(prom)
        except BaseException:
            print(prom.log_text(), file=sys.stderr)
            raise
        finally:
            prom.close()
            idle.close()
        check(d.stop() == 0, "ringfleetd exit code")
    print("ok: Prometheus scraped %s" % got)


if __name__ == "__main__":
    main()
