# SPDX-License-Identifier: Apache-2.0
"""Abuse end to end, each while legitimate clients (ringfleet-load) must
keep 0% loss: 10,000 distinct source ports against one server (max_clients
holds), one client flooding at 20x the normal rate (the per-client cap
holds), and datagrams of 0 B, max_packet+1 B and 65,507 B."""
import json
import socket
import subprocess
import time

from fleetlib import Daemon, binary, check, free_udp_ports

SPOOFS = 10000
MAX_CLIENTS = 64
LEGIT = 5
CAP = 8                  # max_packets_per_tick on the flooded server
FLOOD_PER_TICK = 40      # 20x a normal client's 2 per 20 ms tick


def spoof(port):
    """One datagram from each of SPOOFS fresh source ports."""
    for i in range(SPOOFS):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.sendto(b"spoof %d" % i, ("127.0.0.1", port))
        s.close()


def flood(port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    sent, end, nxt = 0, time.monotonic() + seconds, time.monotonic()
    while time.monotonic() < end:
        for _ in range(FLOOD_PER_TICK):
            s.sendto(b"flood %d" % sent, ("127.0.0.1", port))
            sent += 1
        try:
            while s.recv(65536):
                pass
        except BlockingIOError:
            pass
        nxt += 0.02
        time.sleep(max(0, nxt - time.monotonic()))
    s.close()
    return sent


def sizes(d, port_default, port_big):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    c.bind(("127.0.0.1", 0))
    c.settimeout(2)
    before = d.servers()["sizes"]["drops"]["truncated"]
    for payload in (b"", b"x" * 1401, b"y" * 65507):
        c.sendto(payload, ("127.0.0.1", port_default))
    check(c.recv(65536) == b"", "zero-length datagram not relayed")
    c.settimeout(0.5)
    try:
        extra = c.recv(65536)
    except socket.timeout:
        extra = None
    check(extra is None, "oversize datagram relayed (%d B)" % len(extra or b""))
    time.sleep(0.3)
    after = d.servers()["sizes"]["drops"]["truncated"]
    check(after - before == 2, "truncated drops +%d, wanted +2" % (after - before))
    c.settimeout(2)
    big = b"z" * 65507
    c.sendto(big, ("127.0.0.1", port_big))
    check(c.recv(65536) == big, "65,507 B datagram not relayed intact by max_packet = 65507")
    c.close()


def main():
    p_spoof, p_flood, p_big, p_sizes = free_udp_ports(4)
    ini = ("[server spoofed]\nport = %d\nmax_clients = %d\n"
           "[server flooded]\nport = %d\nmax_packets_per_tick = %d\n"
           "[server big]\nport = %d\nmax_packet = 65507\n[server sizes]\nport = %d\n"
           % (p_spoof, MAX_CLIENTS, p_flood, CAP, p_big, p_sizes))
    with Daemon(ini) as d:
        d.wait_running()
        load = subprocess.Popen([binary("ringfleet-load"), "--target", "127.0.0.1:%d" % p_spoof,
                                 "--target", "127.0.0.1:%d" % p_flood, "--clients", str(LEGIT),
                                 "--size", "100", "--warmup", "1", "--duration", "9", "--json"],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(1.5)
        t0 = time.monotonic()
        spoof(p_spoof)
        spoof_s = time.monotonic() - t0
        time.sleep(0.3)  # the last datagrams are handled at the next tick
        st = d.servers()["spoofed"]
        check(st["clients"] <= MAX_CLIENTS, "spoofed server has %d clients" % st["clients"])
        # The kernel may hand a closed socket's port to a later one, which
        # is then an already admitted client: most, not all, are dropped.
        check(st["drops"]["max_clients"] >= SPOOFS * 9 // 10,
              "max_clients drops %d: %s" % (st["drops"]["max_clients"], st))
        flooded = flood(p_flood, 3.0)
        st = d.servers()["flooded"]
        check(st["drops"]["flood"] >= flooded // 2, "flood drops %d of %d sent" % (st["drops"]["flood"], flooded))
        out, _ = load.communicate(timeout=60)
        check(load.returncode == 0, "ringfleet-load exited %d" % load.returncode)
        r = json.loads(out)
        for srv in r["servers"]:
            # loss_pct is 0 too when nothing was sent: that must not pass
            check(srv["sent"] > 0 and srv["received"] > 0, "legitimate load did not run: %s" % srv)
            check(srv["loss_pct"] == 0, "legitimate clients of %s lost %.3f%%" % (srv["target"], srv["loss_pct"]))
        sizes(d, p_sizes, p_big)
        check(all(s["state"] == "running" and s["restarts"] == 0 for s in d.servers().values()),
              "a worker was disturbed")
        print("spoofed %d source ports in %.1fs: clients capped at %d, %d dropped" % (
            SPOOFS, spoof_s, MAX_CLIENTS, d.servers()["spoofed"]["drops"]["max_clients"]))
        print("flooded %d datagrams at 20x: %d dropped by the per-client cap" % (
            flooded, d.servers()["flooded"]["drops"]["flood"]))
        print("legitimate clients: sent %d, lost %d, p99 %.1f ms" % (r["sent"], r["lost"], r["latency_ms"]["p99"]))
        check(d.stop() == 0, "exit code")
    print("ok")


if __name__ == "__main__":
    main()
