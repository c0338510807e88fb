#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Game modules that fail (issue 12, item 5), each under ringfleetd, with
the modules of tests/games/faults:

  missing    a module path that does not exist: ringfleetd --check and a
             start refuse it at its config line; a module removed while
             its server runs leaves the server fatal at the next restart
  noentry    no ringfleet_game symbol            } fatal, never restarted,
  abi        abi_version = RF_GAME_ABI_VERSION+1 } the reason in status
  initfail   init logs an error, returns -EINVAL } and in the log
  crash      SIGSEGV in input: restarted once by the usual policy; the
             clients stay admitted and what they sent while no worker ran
             (kept by the supervisor's socket) reaches the new worker
  overrun    ticks longer than a period: tick_overruns grows, still running
  hang       a tick that never returns: hang detection replaces the worker
  overflow   a write past the datagram input was given: caught by
             AddressSanitizer in a sanitizer build (--sanitize=address...),
             skipped elsewhere

In a sanitizer build the daemons' sanitizer reports go to a directory of
this test instead of the suite's (tests/fuzz.cmake), since two of them are
expected here; any other report fails this test, printed."""
import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import rftest
from fleetlib import Daemon, binary, check, free_udp_ports, pid_alive, wait_for
from rftest import UdpClient, gather, log

HANG_TIMEOUT_MS = 1000
# A sanitizer build writes a symbolized report before it aborts, which on
# a loaded machine took over a second: hang detection must not cut it off.
HANG_TIMEOUT_MS_SANITIZED = 5000
# The message fault_initfail.c logs before failing.
INITFAIL_MSG = "fault_initfail: map 'nowhere' not found"


def game(name):
    return os.path.realpath(rftest.game_path(name))


def server_ini(name, port, path, extra=""):
    return "[server %s]\nport = %d\ngame = %s\n%s" % (name, port, path, extra)


def sanitizer_env(reports):
    """The environment of a daemon whose sanitizer reports go to reports/,
    with SIGSEGV left to the kernel (fault_segv must die of it in every
    build, not of an ASan report and abort)."""
    env = {}
    for var, tool in (("ASAN_OPTIONS", "asan"), ("UBSAN_OPTIONS", "ubsan")):
        opts = [o for o in os.environ.get(var, "").split(":")
                if o and not o.startswith(("log_path=", "handle_segv="))]
        opts += ["log_path=%s/%s" % (reports, tool), "handle_segv=0"]
        env[var] = ":".join(opts)
    return env


def reports_in(reports):
    out = {}
    for path in sorted(glob.glob(os.path.join(reports, "*"))):
        with open(path, errors="replace") as f:
            out[path] = f.read()
    return out


def wait_state(d, name, pred, timeout, what):
    return wait_for(lambda: (lambda s: s if pred(s) else None)(d.servers()[name]),
                    timeout, "%s: %s" % (name, what))


def fatal_reason(s):
    """Everything status says about why the server is where it is."""
    return " ".join(str(s.get(k, "")) for k in ("reason", "exit_reason", "last_exit"))


def echo(c, payload, timeout=10.0):
    """Sends payload from client c and waits for its echo."""
    c.send(payload)
    got = gather([c], timeout=timeout, done=lambda g: payload in g[0])[0]
    check(payload in got, "%s: no echo of %r within %gs (got %r)" % (c.addr, payload, timeout,
                                                                     got[:5]))


# --- missing module: refused at the config line ---------------------------

def check_missing(tmp):
    path = os.path.join(tmp, "no-such-module.so")
    conf = os.path.join(tmp, "missing.ini")
    (port,) = free_udp_ports(1)
    with open(conf, "w") as f:
        f.write("[defaults]\nbind = 127.0.0.1\n\n[server missing]\nport = %d\ngame = %s\n"
                % (port, path))
    where = "%s:6:" % conf
    p = subprocess.run([binary("ringfleetd"), "--check", conf], capture_output=True,
                       text=True, timeout=30)
    out = p.stdout + p.stderr
    check(p.returncode != 0 and where in out and "no-such-module.so" in out,
          "--check of a missing module: rc %d, want %s ...: %r" % (p.returncode, where, out))
    p = subprocess.run([binary("ringfleetd"), "-c", conf], capture_output=True, text=True,
                       timeout=30)
    out = p.stdout + p.stderr
    check(p.returncode != 0 and where in out,
          "start with a missing module: rc %d, want %s ...: %r" % (p.returncode, where, out))
    log("missing: --check and start refuse it at %s" % where)


# --- modules that cannot run: fatal, not restarted -------------------------

def check_fatal(tmp, env):
    # The vanishing module: a private copy, removed while its server runs.
    # mkdtemp makes a 0700 directory, which the path checks accept.
    private = tempfile.mkdtemp(prefix="faults-", dir=os.path.dirname(game("fault_segv")))
    vanish = os.path.join(private, "fault_vanish.so")
    shutil.copy(game("fault_segv"), vanish)
    os.chmod(vanish, 0o644)
    ports = free_udp_ports(4)
    names = ("noentry", "abi", "initfail", "vanish")
    paths = (game("fault_noentry"), game("fault_abi"), game("fault_initfail"), vanish)
    ini = "".join(server_ini(n, p, g) for n, p, g in zip(names, ports, paths))
    try:
        d = Daemon(ini)
        with d.start(env):
            for n in names[:3]:
                wait_state(d, n, lambda s: s["state"] == "fatal", 30, "fatal")
            s = wait_state(d, "vanish", lambda s: s["state"] == "running", 30, "running")
            pid = s["pid"]
            os.unlink(vanish)
            os.kill(pid, signal.SIGKILL)
            wait_state(d, "vanish", lambda s: s["state"] == "fatal", 30,
                       "fatal once its module is gone")
            # No restart loop: nothing moves for a few seconds.
            time.sleep(3)
            st = d.servers()
            want = {
                "noentry": ("ringfleet_game", 0),
                "abi": ("ABI", 0),
                "initfail": (INITFAIL_MSG, 0),
                "vanish": ("No such file", 1),  # the one restart that found it gone
            }
            text = d.log_text()
            for n, (needle, restarts) in want.items():
                s = st[n]
                why = fatal_reason(s)
                log("%s: %s, restarts %d: %s" % (n, s["state"], s["restarts"], why))
                check(s["state"] == "fatal", "%s: state %s, want fatal" % (n, s["state"]))
                check(s["restarts"] == restarts, "%s: %d restarts, want %d (%s)"
                      % (n, s["restarts"], restarts, why))
                check(needle.lower() in why.lower(), "%s: reason %r does not name %r"
                      % (n, why, needle))
                check(needle in text, "%s: the log does not say %r" % (n, needle))
            rc = d.stop()
            check(rc == 0, "ringfleetd exited %s" % rc)
    finally:
        shutil.rmtree(private, ignore_errors=True)


# --- modules that fail while running ---------------------------------------

def check_crash(d, port):
    """SIGSEGV in input: one restart; the clients stay admitted and what
    they send while no worker runs is echoed by the next one."""
    clients = [UdpClient(port) for _ in range(3)]
    try:
        for c in clients:
            c.admit()
        for i, c in enumerate(clients):
            echo(c, b"hello %d" % i)
        pid = d.servers()["crash"]["pid"]
        clients[0].send(b"CRASH")
        wait_for(lambda: not pid_alive(pid), 10, "the worker to die of CRASH", interval=0.002)
        # The old worker is gone: these wait in the socket for the next.
        sent = [[] for _ in clients]
        for k in range(5):
            for i, c in enumerate(clients):
                payload = b"during %d %d" % (i, k)
                c.send(payload)
                sent[i].append(payload)
        s = d.servers()["crash"]
        log("crash: sent %d datagrams while the server was %s (pid %d)"
            % (sum(map(len, sent)), s["state"], s["pid"]))
        s = wait_state(d, "crash", lambda s: s["state"] == "running" and s["pid"] not in (0, pid),
                       30, "running again")
        check(s["restarts"] == 1, "crash: %d restarts, want 1" % s["restarts"])
        check("SEGV" in s["last_exit"], "crash: last exit %r, want SIGSEGV" % s["last_exit"])
        for i, c in enumerate(clients):
            payload = b"after %d" % i
            c.send(payload)
            sent[i].append(payload)
        got = gather(clients, timeout=15,
                     done=lambda g: all(set(w) <= set(h) for w, h in zip(sent, g)))
        for i, (w, h) in enumerate(zip(sent, got)):
            missing = [p for p in w if p not in h]
            check(not missing, "crash: client %d lost %r (got %r)" % (i, missing, h))
            check(not any(rftest.is_handshake(p) for p in h),
                  "crash: client %d was challenged again: %r" % (i, h))
        log("crash: restarted once, every datagram echoed, clients still admitted")
    finally:
        for c in clients:
            c.close()


def check_overrun_and_hang(d, port):
    with UdpClient(port) as c:
        c.admit()
        echo(c, b"ping")
        before = d.servers()["slow"]
        c.send(b"SLOW 10")
        s = wait_state(d, "slow", lambda s: s["tick_overruns"] >= before["tick_overruns"] + 5,
                       20, "tick_overruns to grow by 5")
        check(s["state"] == "running" and s["restarts"] == 0 and s["pid"] == before["pid"],
              "overrun: %s, %d restarts" % (s["state"], s["restarts"]))
        echo(c, b"still here")
        log("overrun: tick_overruns %d -> %d, same worker"
            % (before["tick_overruns"], s["tick_overruns"]))

        pid = s["pid"]
        c.send(b"HANG")
        s = wait_state(d, "slow", lambda s: s["state"] == "running" and s["pid"] not in (0, pid),
                       30, "replaced after HANG")
        check(s["restarts"] == 1, "hang: %d restarts, want 1" % s["restarts"])
        text = d.log_text()
        check(re.search(r"slow: no tick for \d+ ms", text), "hang: no hang warning in the log")
        check("(hung)" in text, "hang: the log does not say the worker hung")
        echo(c, b"back")
        log("hang: replaced by hang detection (%s), serving again" % s["last_exit"])


def check_overflow(d, port, reports):
    with UdpClient(port) as c:
        c.admit()
        echo(c, b"ping")
        pid = d.servers()["overflow"]["pid"]
        c.send(b"OVERFLOW")
        s = wait_state(d, "overflow",
                       lambda s: s["state"] == "running" and s["pid"] not in (0, pid),
                       60, "replaced after its memory error")
        found = [t for t in reports_in(reports).values() if "fault_overflow" in t]
        check(found, "overflow: no ASan report names fault_overflow (%s); reports:\n%s"
              % (s["last_exit"], "\n".join(reports_in(reports).values())))
        m = [re.search(r"ERROR: AddressSanitizer: (use-after-poison|[a-z-]*buffer-overflow)"
                       r".*", t) for t in found]
        check(any(m), "overflow: the report is not the write past the datagram:\n%s" % found[0])
        echo(c, b"back")
        log("overflow: %s; worker %s, restarted (%d)"
            % (next(x for x in m if x).group(0)[:80], s["last_exit"], s["restarts"]))
        return found


def check_running_faults(env, sanitized, reports):
    names = ("crash", "slow", "overflow")
    ports = free_udp_ports(len(names))
    paths = (game("fault_segv"), game("fault_slow"), game("fault_overflow"))
    ini = "".join(server_ini(n, p, g) for n, p, g in zip(names, ports, paths))
    expected = []
    hang_ms = HANG_TIMEOUT_MS_SANITIZED if sanitized else HANG_TIMEOUT_MS
    d = Daemon(ini, "hang_timeout_ms = %d\n" % hang_ms)
    with d.start(env):
        d.wait_running(timeout=30)
        check_crash(d, ports[0])
        check_overrun_and_hang(d, ports[1])
        if sanitized:
            expected = check_overflow(d, ports[2], reports)
        else:
            print("SKIP: overflow: not a sanitizer build (the write lands in the "
                  "receive buffer, where nothing can see it)", flush=True)
        rc = d.stop()
        check(rc == 0, "ringfleetd exited %s" % rc)
    return expected


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sanitize", default="",
                    help="the build's SANITIZE (empty: a normal build)")
    args = ap.parse_args()
    sanitized = "address" in args.sanitize
    tmp = tempfile.mkdtemp(prefix="rf-faults-")
    reports = os.path.join(tmp, "reports")
    os.mkdir(reports)
    os.chmod(reports, 0o1777)
    env = sanitizer_env(reports) if args.sanitize else {}
    try:
        check_missing(tmp)
        check_fatal(tmp, env)
        expected = check_running_faults(env, sanitized, reports)
        other = {p: t for p, t in reports_in(reports).items() if t not in expected}
        for p, t in other.items():
            print("==== %s ====\n%s" % (p, t), file=sys.stderr)
        check(not other, "%d unexpected sanitizer report(s), above" % len(other))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("OK")


if __name__ == "__main__":
    main()
