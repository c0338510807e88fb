"""GET /metrics straight from ringfleetd, without Prometheus: status code,
content type and values that match `ringfleetctl --json status`; other
paths and methods refused; and idle, half-sent and unread HTTP clients never
stall the supervisor's loop (the control socket keeps answering, the loop
does not spin, MHD drops idle clients after its timeout)."""
import os
import socket
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

    # MHD's connection timeout (10 s) closes idle clients: driven by the
    # daemon's timer, not by the next request.
    idle.settimeout(20)
    t0 = time.monotonic()
    try:
        data = idle.recv(100)
    except ConnectionResetError:
        data = b""
    took = time.monotonic() - t0
    check(data == b"", "idle HTTP client got %r" % data)
    check(took < 14, "idle HTTP client closed after %.1f s" % took)
    print("27 idle HTTP clients: %.2f s CPU in 2 s; first idle one closed %.1f s later" % (spent, took))
    for c in crowd + [idle, half, unread]:
        c.close()
    wait_for(lambda: get(base + "/metrics")[0] == 200, 15, "/metrics after the crowd left", 0.5)


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
        check(all(s["state"] == "running" for s in d.servers().values()), "servers disturbed")
        check(d.stop() == 0, "ringfleetd exit code")
    print("ok")


if __name__ == "__main__":
    main()
