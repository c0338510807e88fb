# SPDX-License-Identifier: Apache-2.0
"""GET /metrics straight from ringfleetd, without Prometheus: status code,
content type and values that match `ringfleetctl --json status`; other
paths and methods refused; idle, half-sent and unread HTTP clients never
stall the supervisor's loop (the control socket keeps answering, the loop
does not spin, idle clients are dropped); and under a slowloris attack
(connections that send a byte every second and never finish a request)
every scrape still succeeds within 2 s, each attacking connection is cut
within its request deadline, and ringfleetd's CPU stays low: with as
many attackers as the old connection limit (16; now each is cut by the
deadline) and with more than the busy threshold (48; the oldest is
evicted for every new connection)."""
import os
import select
import socket
import threading
import time
import urllib.error
import urllib.request

from fleetlib import Daemon, check, free_tcp_port, free_udp_ports, send_udp, wait_for


def get(url, method="GET"):
    """(status, content type, body) of one request."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def samples(text):
    """{series: value} of an exposition, comments left out."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def ping_time(d):
    t0 = time.monotonic()
    rc, out, err = d.ctl("ping", timeout=10)
    took = time.monotonic() - t0
    check(rc == 0, "ping failed while HTTP clients hang: %d %s" % (rc, err))
    return took


def values_match(d, base):
    want = [send_udp(d.ports[0], 5), send_udp(d.ports[1], 12)]  # handshake included
    wait_for(lambda: [d.servers()[n]["pkts_in"] for n in ("h1", "h2")] == want, 10,
             "%d and %d datagrams counted" % tuple(want))
    status, ctype, body = get(base + "/metrics")
    check(status == 200, "GET /metrics: %d" % status)
    check(ctype and ctype.startswith("text/plain; version=0.0.4"), "Content-Type %r" % ctype)
    s = samples(body)
    st = d.servers()
    for name in ("h1", "h2"):
        lbl = '{server="%s"}' % name
        check(s["ringfleet_server_up" + lbl] == 1, name + " not up")
        for metric, key in (("packets_received_total", "pkts_in"), ("bytes_received_total", "bytes_in"),
                            ("clients", "clients"), ("restarts_total", "restarts")):
            got = s["ringfleet_server_%s%s" % (metric, lbl)]
            check(got == st[name][key], "%s %s = %s, status says %s" % (name, metric, got, st[name][key]))
    check(s['ringfleet_servers{state="running"}'] == 2, "ringfleet_servers running")

    status, _, body = get(base + "/other")
    check(status == 404, "GET /other: %d" % status)
    status, _, _ = get(base + "/metrics", "POST")
    check(status == 405, "POST /metrics: %d" % status)
    status, _, body = get(base + "/metrics", "HEAD")
    check(status == 200 and body == "", "HEAD /metrics: %d %r" % (status, body))


def connect(port):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    return c


def hanging_clients(d, base, port):
    idle = connect(port)                      # says nothing at all
    half = connect(port)                      # stops mid-request
    half.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    unread = connect(port)                    # asks, never reads
    unread.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    unread.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 50)
    time.sleep(0.3)
    check(ping_time(d) < 2, "ping slow with an idle, a half-sent and an unread HTTP client")
    status, _, _ = get(base + "/metrics")
    check(status == 200, "GET /metrics next to hanging clients: %d" % status)

    # More idle clients than MHD's connection limit (16): the loop must
    # neither block nor spin on a listen socket it cannot accept from.
    crowd = [connect(port) for _ in range(24)]
    ticks0 = cpu_ticks(d.proc.pid)
    time.sleep(2)
    spent = (cpu_ticks(d.proc.pid) - ticks0) / os.sysconf("SC_CLK_TCK")
    check(spent < 0.5, "ringfleetd used %.2f s of CPU in 2 s with 27 idle HTTP clients" % spent)
    check(ping_time(d) < 2, "ping slow with 27 idle HTTP clients")

    # The request deadline (5 s from accept) closes idle clients: driven
    # by the daemon's timer, not by the next request.
    idle.settimeout(20)
    t0 = time.monotonic()
    try:
        data = idle.recv(100)
    except ConnectionResetError:
        data = b""
    took = time.monotonic() - t0
    check(data == b"", "idle HTTP client got %r" % data)
    check(took < 8, "idle HTTP client closed after %.1f s" % took)
    print("27 idle HTTP clients: %.2f s CPU in 2 s; first idle one closed %.1f s later" % (spent, took))
    for c in crowd + [idle, half, unread]:
        c.close()
    wait_for(lambda: get(base + "/metrics")[0] == 200, 15, "/metrics after the crowd left", 0.5)


REQUEST_DEADLINE = 5   # HTTPD_REQUEST_TIMEOUT_S


class Tricklers(threading.Thread):
    """Slowloris: n connections that start a request and then send one
    byte a second forever, reconnecting (at the next second) when cut."""

    def __init__(self, port, n):
        super().__init__(daemon=True)
        self.port, self.n = port, n
        self.done = threading.Event()
        self.born = {}          # socket -> when it connected
        self.lifetimes = []     # seconds each cut connection lived
        self.oldest_alive = 0.0

    def open_one(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        s.setblocking(False)
        self.born[s] = time.monotonic()

    def cut(self, s):
        self.lifetimes.append(time.monotonic() - self.born.pop(s))
        s.close()

    def tick(self):
        for s in list(self.born):
            try:
                s.send(b"a")
            except OSError:
                self.cut(s)
        while len(self.born) < self.n:
            self.open_one()

    def run(self):
        next_tick = 0.0
        while not self.done.is_set():
            now = time.monotonic()
            if now >= next_tick:
                self.tick()
                next_tick = now + 1.0
            ready, _, _ = select.select(list(self.born), [], [], max(0.0, next_tick - now))
            for s in ready:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    self.cut(s)
            if self.born:
                self.oldest_alive = max(self.oldest_alive, time.monotonic() - min(self.born.values()))

    def stop(self):
        self.done.set()
        self.join(5)
        for s in self.born:
            s.close()


def slowloris(d, base, port, attackers):
    t = Tricklers(port, attackers)
    t.start()
    time.sleep(1.5)
    ticks0 = cpu_ticks(d.proc.pid)
    t0 = time.monotonic()
    scrapes, worst = 0, 0.0
    try:
        while time.monotonic() - t0 < 10:
            s0 = time.monotonic()
            try:
                status, _, body = get_within(base + "/metrics", 2)
            except OSError as e:
                check(False, "scrape %d under %d trickling connections failed after %.1f s: %s"
                      % (scrapes + 1, attackers, time.monotonic() - s0, e))
            took = time.monotonic() - s0
            check(status == 200 and 'ringfleet_server_up{server="h1"} 1' in body,
                  "scrape under attack: %d" % status)
            check(took < 2, "scrape took %.1f s under attack" % took)
            worst = max(worst, took)
            scrapes += 1
            check(ping_time(d) < 2, "ping slow under a slowloris attack")
            time.sleep(0.5)
        spent = (cpu_ticks(d.proc.pid) - ticks0) / os.sysconf("SC_CLK_TCK")
        elapsed = time.monotonic() - t0
    finally:
        t.stop()
    longest = max(t.lifetimes + [t.oldest_alive])
    print("slowloris: %d trickling connections, %d scrapes in %.1f s, slowest %.2f s; %d attacking "
          "connections cut, longest lived %.1f s; ringfleetd CPU %.2f s"
          % (attackers, scrapes, elapsed, worst, len(t.lifetimes), longest, spent))
    check(longest < REQUEST_DEADLINE + 3, "a trickling connection lived %.1f s" % longest)
    check(len(t.lifetimes) >= attackers, "only %d of %d trickling connections were cut in %.0f s"
          % (len(t.lifetimes), attackers, elapsed))
    check(spent < 0.15 * elapsed, "ringfleetd used %.2f s of CPU in %.1f s under attack" % (spent, elapsed))


def get_within(url, timeout):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def main():
    ports = free_udp_ports(2)
    mport = free_tcp_port()
    ini = "".join("[server h%d]\nport = %d\n" % (i + 1, p) for i, p in enumerate(ports))
    base = "http://127.0.0.1:%d" % mport
    with Daemon(ini, "metrics_listen = 127.0.0.1:%d\n" % mport) as d:
        d.ports = ports
        d.wait_running()
        values_match(d, base)
        hanging_clients(d, base, mport)
        slowloris(d, base, mport, 16)   # the deadline alone
        slowloris(d, base, mport, 48)   # > HTTPD_BUSY_CONNS: eviction too
        check(all(s["state"] == "running" for s in d.servers().values()), "servers disturbed")
        check(d.stop() == 0, "ringfleetd exit code")
    print("ok")


if __name__ == "__main__":
    main()
