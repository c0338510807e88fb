# SPDX-License-Identifier: Apache-2.0
"""Attacks on ringfleetd's control socket (issue 10), one per argument:

uaf      idle connections expire in the same epoll batch as their own
         pending events, while pipelined status requests keep the loop busy:
         ringfleetd must not touch a freed connection (it crashed, or ASan
         reported a heap-use-after-free).
flood    connections pipelining status without reading the replies: RSS
         stays bounded and another peer is still answered promptly.
sockdir  a socket directory (or an ancestor) writable by another user is
         refused with a clear error; a regular file at the socket path is
         refused and left alone.
lockout  throwaway uids holding every connection they can get: root still
         gets in; a request trickled a byte at a time is closed after 10 s.
timeout  ringfleetctl against a SIGSTOPped ringfleetd exits 5 within its
         --timeout (also with --watch and with the default).
emfile   with fds exhausted, pending connections do not make ringfleetd
         spin; it serves again once fds are free.
"""
import os
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import rftest
from fleetlib import SKIP, Daemon, binary, check, fail, free_tcp_port, free_udp_ports

STATUS_CHUNK = b"status\n" * 585  # 4095 bytes: one full read of the daemon's line buffer
THROWAWAY_UID = 61000


def raw(path, timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def servers_ini(n):
    return "".join("[server a%d]\nport = %d\n" % (i, p) for i, p in enumerate(free_udp_ports(n)))


rss_kb = rftest.rss_kb


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def alive_and_serving(d, what):
    check(d.proc.poll() is None, "%s: ringfleetd died (exit %s):\n%s"
          % (what, d.proc.returncode, d.log_text()[-3000:]))
    # Generous: the old code, slow under ASan, had minutes of queued
    # requests left to crash on.
    rc, out, err = d.ctl("--json", "--timeout", "60", "ping", timeout=90)
    check(rc == 0, "%s: ping exited %d: %s%s" % (what, rc, out, err))


def pipeline(s, stop, n):
    """n status requests at a time, the next n once all are answered: each
    read of ringfleetd's then finds n requests, however slow the build."""
    s.settimeout(60)
    while not stop.is_set():
        try:
            s.sendall(b"status\n" * n)
            got = 0
            while got < n:
                data = s.recv(1 << 20)
                if not data:
                    return
                got += data.count(b"\n")
        except OSError:
            return


def test_uaf():
    """Idle connections are due to expire at the first 1 Hz housekeeping
    past 10 s. Pipelined status requests keep each epoll batch busy for
    about a second; the idle connections send one byte each at staggered
    times around their expiry, so some byte arrives after the timer fired
    but before the busy batch ends: the next batch then holds the timer
    first and those connections' events after it. Three groups, opened
    1.5 s apart, make three such chances."""
    # A long stop_timeout_ms: 20 ASan workers on a loaded machine may need
    # more than the default 5 s for LeakSanitizer's exit scan, and one
    # killed in the middle of it leaves a report.
    with Daemon(servers_ini(20), "stop_timeout_ms = 30000\n") as d:
        d.wait_running(120)
        # About a second of work per batch, on this build and machine.
        n = min(585, max(10, int(1.0 / (8 * status_cost(d.sock)))))
        t0 = time.monotonic()
        sends = []
        for g in range(3):
            time.sleep(max(0, t0 + 1.5 * g - time.monotonic()))
            sends += [(t0 + 1.5 * g + 9.8 + 0.1 * k, raw(d.sock)) for k in range(16)]
        time.sleep(max(0, t0 + 9.2 - time.monotonic()))
        stop = threading.Event()
        threads = []
        for _ in range(8):
            threads.append(threading.Thread(target=pipeline, args=(raw(d.sock), stop, n)))
        for t in threads:
            t.start()
        for when, s in sorted(sends, key=lambda x: x[0]):
            time.sleep(max(0, when - time.monotonic()))
            try:
                s.send(b"p")
            except OSError:
                pass  # already expired and closed
        time.sleep(max(0, t0 + 3 + 11.5 - time.monotonic()))
        stop.set()
        for t in threads:
            t.join(90)
        for _, s in sends:
            s.close()
        print("uaf: 8 pipelines of %d status requests" % n)
        alive_and_serving(d, "after the expiry storm")
        check(d.stop(timeout=90) == 0, "ringfleetd exit code after the storm")
    print("ok uaf")


def status_cost(path, n=20):
    """Seconds ringfleetd takes per status request, pipelined."""
    s = raw(path, timeout=30)
    t = time.monotonic()
    s.sendall(b"status\n" * n)
    got = 0
    while got < n:
        got += s.recv(1 << 20).count(b"\n")
    s.close()
    return (time.monotonic() - t) / n


def test_flood():
    d = Daemon(servers_ini(20))
    # ASan's quarantine of freed blocks (256 MB by default) would count as
    # growth; a small one still catches use-after-free.
    asan = os.environ.get("ASAN_OPTIONS", "")
    with d.start({"ASAN_OPTIONS": (asan + ":" if asan else "") + "quarantine_size_mb=4"}):
        d.wait_running(60)
        pid = d.proc.pid
        # "Promptly" in units of this build's speed (ASan is ~5x slower):
        # a ping waits for at most a turn or two, in which each flooding
        # connection gets one status; before the fix it waited for all of
        # them, 48 x 585.
        cost = status_cost(d.sock)
        before = rss_kb(pid)
        floods = []
        for _ in range(48):
            s = raw(d.sock)
            s.setblocking(False)
            floods.append(s)
        worst, peak = 0.0, before
        t_end = time.monotonic() + 6
        while time.monotonic() < t_end:
            for s in floods:
                try:
                    s.send(STATUS_CHUNK)
                except (BlockingIOError, OSError):
                    pass
            t = time.monotonic()
            rc, out, err = d.ctl("--json", "--timeout", "30", "ping", timeout=60)
            worst = max(worst, time.monotonic() - t)
            if os.environ.get("RF_TEST_VERBOSE"):
                print("ping %.3f s" % (time.monotonic() - t))
            check(rc == 0, "ping during the flood: %d %s%s" % (rc, out, err))
            peak = max(peak, rss_kb(pid))
            time.sleep(0.2)
        limit = max(1.0, 48 * 4 * cost)
        print("flood: ringfleetd RSS %d -> peak %d kB; slowest ping %.3f s (limit %.2f s, "
              "a status takes %.1f ms)" % (before, peak, worst, limit, cost * 1000))
        check(peak - before < 48 * 1024, "RSS grew by %d kB under 48 unread pipelines"
              % (peak - before))
        check(worst < limit, "a ping took %.2f s during the flood" % worst)
        for s in floods:
            s.close()
        alive_and_serving(d, "after the flood")
    print("ok flood")


def expect_refused(d, want, what):
    d.logf = open(d.log, "w")
    p = subprocess.Popen([binary("ringfleetd"), "-c", d.config], stdout=d.logf,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        d.adopt(p).kill_all()  # and any worker it started
        fail("%s: ringfleetd started anyway:\n%s" % (what, d.log_text()))
    check(rc != 0 and want in d.log_text(), "%s: exit %d, log:\n%s" % (what, rc, d.log_text()))


def test_sockdir():
    ini = servers_ini(1)
    d = Daemon(ini)
    sub = os.path.join(d.dir, "sub")
    os.mkdir(sub)
    d.sock = os.path.join(sub, "control.sock")
    d.write_config(ini)
    cases = ((THROWAWAY_UID, 0o755, "another user's directory"),
             (0, 0o777, "a world-writable directory"),
             (0, 0o775, "a group-writable directory"))
    for uid, mode, what in cases:
        os.chown(sub, uid, uid)
        os.chmod(sub, mode)
        expect_refused(d, "control socket directory %s" % sub, what)
        check(not os.path.exists(d.sock), "%s: a socket was created" % what)
    # An ancestor others could rename the directory in.
    os.chown(sub, 0, 0)
    os.chmod(sub, 0o700)
    os.chmod(d.dir, 0o777)
    expect_refused(d, "control socket directory %s " % d.dir, "a world-writable ancestor")
    # Sticky and ours (like /tmp): others cannot rename or remove our socket.
    os.chmod(d.dir, 0o1777)
    with d:
        alive_and_serving(d, "sticky ancestor")
        check(d.stop() == 0, "exit code")
    d.proc = None
    os.chmod(d.dir, 0o700)

    # A regular file where the socket would go is someone's: never deleted.
    with open(d.sock, "w") as f:
        f.write("precious\n")
    expect_refused(d, "exists and is not a socket", "a regular file at the path")
    with open(d.sock) as f:
        check(f.read() == "precious\n", "the regular file was changed")
    os.unlink(d.sock)
    # A stale socket (nobody answers) is still cleared.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(d.sock)
    stale.close()
    with d:
        d.wait_running()  # the stale file satisfied start()'s wait for the socket
        alive_and_serving(d, "over a stale socket")
    print("ok sockdir")


HOLDER = r"""
import select, socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
conns = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    conns.append(s)
time.sleep(0.5)
held = 0
for s in conns:
    s.settimeout(0.05)
    try:
        data = s.recv(200)
        if data:
            s.close()  # refused with a reason
            continue
    except socket.timeout:
        pass
    held += 1
print(held, flush=True)
kept = [s for s in conns if s.fileno() >= 0]
while not select.select([sys.stdin], [], [], 2)[0]:  # until the test closes stdin
    for s in kept:  # a request every 2 s: never idle long enough to be closed
        try:
            s.settimeout(1)
            s.sendall(b"ping\n")
            s.recv(200)
        except OSError:
            pass
"""


def hold_as(uid, path, n):
    p = subprocess.Popen(["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups",
                          sys.executable, "-c", HOLDER, path, str(n)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    check(line.strip().isdigit(), "holder uid %d: %r" % (uid, line))
    return p, int(line)


def test_lockout():
    with Daemon(servers_ini(1), "control_mode = 0666\n") as d:
        d.wait_running()
        os.chmod(d.dir, 0o755)
        holders, counts = [], []
        p, held = hold_as(THROWAWAY_UID, d.sock, 64)
        holders.append(p)
        counts.append(held)
        check(held == 16, "one uid holds %d connections, wanted 16" % held)
        for i in range(1, 5):
            p, held = hold_as(THROWAWAY_UID + i, d.sock, 20)
            holders.append(p)
            counts.append(held)
        check(sum(counts) == 56, "other uids hold %r connections, wanted 56 in all" % counts)
        rc, out, err = d.ctl("--json", "ping")
        check(rc == 0, "root locked out by other uids: %d %s%s" % (rc, out, err))
        rc, out, err = d.ctl("--json", "ping", user="nobody")
        check(rc != 0, "the reserve went to an unprivileged peer: %d %s" % (rc, out))

        # A request trickled a byte every 3 s never completes: closed at 10 s.
        s = raw(d.sock)
        t0 = time.monotonic()
        closed = None
        while time.monotonic() - t0 < 16 and closed is None:
            try:
                s.send(b"s")
            except OSError:
                closed = time.monotonic() - t0
                break
            s.settimeout(3)
            try:
                if s.recv(100) == b"":
                    closed = time.monotonic() - t0
            except socket.timeout:
                pass
            except OSError:
                closed = time.monotonic() - t0
        print("lockout: 5 uids hold %d connections; a trickled request closed after %.1f s"
              % (sum(counts), closed or -1))
        check(closed is not None and 9 <= closed <= 13.5,
              "trickled request closed after %s s, wanted ~10" % closed)
        for p in holders:
            p.kill()
            p.wait(10)
        alive_and_serving(d, "after the lockout")
    print("ok lockout")


def timed_ctl(d, *args, limit):
    t = time.monotonic()
    p = subprocess.run([binary("ringfleetctl"), "-s", d.sock] + list(args), capture_output=True,
                       text=True, timeout=limit + 10)
    return p.returncode, time.monotonic() - t, p.stderr


def test_timeout():
    with Daemon(servers_ini(1)) as d:
        d.wait_running()
        d.proc.send_signal(19)  # SIGSTOP
        try:
            for args, limit in ((["--timeout", "1", "ping"], 1),
                                (["-t", "0.5", "-w", "1", "status"], 0.5),
                                (["status"], 5),
                                (["--timeout", "2", "stop", "a0"], 2)):
                rc, took, err = timed_ctl(d, *args, limit=limit)
                print("timeout: %s -> exit %d after %.2f s" % (" ".join(args), rc, took))
                check(rc == 5 and limit - 0.1 <= took <= limit + 2.5 and "within" in err,
                      "%s against a stopped ringfleetd: exit %d after %.2f s: %s"
                      % (" ".join(args), rc, took, err))
        finally:
            d.proc.send_signal(18)  # SIGCONT
        rc, _, err = timed_ctl(d, "--timeout", "soon", "ping", limit=5)
        check(rc == 2 and "--timeout" in err, "bad --timeout: %d %s" % (rc, err))
        alive_and_serving(d, "after SIGCONT")
    print("ok timeout")


def test_emfile():
    """Both listeners: the control socket's, and libmicrohttpd's for
    /metrics, which retries a failing accept at once while it holds no
    connection."""
    mport = free_tcp_port()
    d = Daemon(servers_ini(2), "metrics_listen = 127.0.0.1:%d\n" % mport)
    with d:
        d.wait_running()
        # Lowered once running: at start ringfleetd checks its fd budget
        # and refuses a limit this low. A few fds stay free, so the first
        # connections are accepted and the rest hit EMFILE.
        nfds = len(os.listdir("/proc/%d/fd" % d.proc.pid))
        resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, (nfds + 4, nfds + 4))
        conns = []
        for _ in range(40):  # more than the fds left: the rest wait in the backlog
            conns.append(raw(d.sock))
        for _ in range(3):
            conns.append(socket.create_connection(("127.0.0.1", mport), timeout=5))
        time.sleep(0.5)
        c0 = cpu_s(d.proc.pid)
        time.sleep(2)
        pct = (cpu_s(d.proc.pid) - c0) / 2 * 100
        print("emfile: ringfleetd CPU %.1f%% of a core over 2 s with fds exhausted" % pct)
        check(pct < 3, "ringfleetd used %.0f%% CPU with fds exhausted" % pct)
        for what in ("control socket: cannot accept", "metrics: out of file descriptors"):
            check(d.log_text().count(what) == 1,
                  "%r not logged exactly once:\n%s" % (what, d.log_text()[-2000:]))
        for s in conns:
            s.close()
        alive_and_serving(d, "after fds were freed")
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10).read()
        check(b"ringfleet_server_up" in body, "metrics after fds were freed")
    print("ok emfile")


TESTS = {"uaf": test_uaf, "flood": test_flood, "sockdir": test_sockdir, "lockout": test_lockout,
         "timeout": test_timeout, "emfile": test_emfile}


def main():
    if os.geteuid() != 0:
        sys.exit(SKIP)  # other uids, chown and setpriv need root
    for name in sys.argv[1:] or TESTS:
        TESTS[name]()


if __name__ == "__main__":
    main()
