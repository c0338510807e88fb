# SPDX-License-Identifier: Apache-2.0
"""`drain` and `undrain` end to end. Without allocated sessions drain stops
every server and answers at once; while draining, start and allocate are
refused and status says so; undrain starts what drain stopped. With an
allocated session, drain waits until it is released from another
connection; with one that stays, drain answers at its timeout with exit 7
and lists it, and the server keeps running."""
import json
import socket
import subprocess
import time

from fleetlib import Daemon, binary, check, free_port_block, wait_for

N_SERVERS = 4


def states(d):
    return {n: s["state"] for n, s in d.servers().items()}


def host_events(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(b"events\n")
    f = s.makefile("r")
    check(json.loads(f.readline()).get("ok") is True, "events refused")
    return s, f


def next_host_event(f):
    while True:
        e = json.loads(f.readline())
        if e.get("kind") == "host":
            return e


def drain_idle(d):
    sub, f = host_events(d.sock)
    t0 = time.monotonic()
    rc, out, err = d.ctl("drain", "--timeout", "60", timeout=90)
    took = time.monotonic() - t0
    check(rc == 0 and "drained" in out, "drain: %d %r %r" % (rc, out, err))
    check(took < 10, "drain without sessions took %.1fs" % took)
    e = next_host_event(f)
    check((e["server"], e["from"], e["to"]) == (None, "serving", "draining"), "host event %r" % e)
    wait_for(lambda: set(states(d).values()) == {"stopped"}, 30, "every server stopped")
    st = d.status()
    check(st["draining"] is True, "status: draining %r" % st.get("draining"))
    rc, out, err = d.ctl("status")
    check("draining" in out, "status table does not say draining: %r" % out[:200])
    rc, out, err = d.ctl("start", "all")
    check(rc == 1 and "draining" in err, "start while draining: %d %r" % (rc, err))
    if has_allocate(d):
        rc, out, err = d.ctl("allocate")
        check(rc not in (0, 6) and "draining" in err,
              "allocate while draining: %d %r %r" % (rc, out, err))
    # Draining twice is harmless and answers at once.
    rc, out, err = d.ctl("drain", "--timeout", "0")
    check(rc == 0, "second drain: %d %r" % (rc, err))
    rc, out, err = d.ctl("undrain")
    check(rc == 0 and "%d servers started" % N_SERVERS in out, "undrain: %d %r %r" % (rc, out, err))
    e = next_host_event(f)
    check((e["from"], e["to"]) == ("draining", "serving"), "host event %r" % e)
    d.wait_running(60)
    check(d.status()["draining"] is False, "still draining after undrain")
    sub.close()
    print("drain without sessions: answered in %.1fs, all stopped; undrain restarted them" % took)


def has_allocate(d):
    _, _, err = d.ctl("release", "no-such-server")
    return "unknown verb" not in err and "bad use" not in err


def allocate(d):
    rc, out, err = d.ctl("--json", "allocate")
    check(rc == 0, "allocate: %d %r %r" % (rc, out, err))
    return json.loads(out)["name"]


def session_of(d, name):
    s = d.servers()[name]
    sess = s.get("session")
    return sess.get("state") if isinstance(sess, dict) else sess


def drain_waits_for_release(d):
    held = allocate(d)
    drain = subprocess.Popen([binary("ringfleetctl"), "-s", d.sock, "drain", "--timeout", "120"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    others = [n for n in states(d) if n != held]
    wait_for(lambda: all(states(d)[n] == "stopped" for n in others), 30,
             "the servers without a session stopped")
    time.sleep(1.0)
    check(drain.poll() is None, "drain answered while a session was allocated")
    check(states(d)[held] == "running", "the allocated server was stopped")
    rc, out, err = d.ctl("release", held)
    check(rc == 0, "release: %d %r" % (rc, err))
    out, err = drain.communicate(timeout=30)
    check(drain.returncode == 0, "drain after release: %d %r %r" % (drain.returncode, out, err))
    wait_for(lambda: states(d)[held] == "stopped", 30, "the released server stopped")
    rc, _, err = d.ctl("undrain")
    check(rc == 0, "undrain: %r" % err)
    d.wait_running(60)
    print("drain waited for the allocated session, answered once it was released")


def drain_timeout(d):
    held = allocate(d)
    t0 = time.monotonic()
    rc, out, err = d.ctl("drain", "--timeout", "2", timeout=60)
    took = time.monotonic() - t0
    check(rc == 7, "drain timeout exit %d (want 7): %r %r" % (rc, out, err))
    check(held in out and "allocated" in out and "timed out" in err,
          "drain timeout output: %r %r" % (out, err))
    check(1.5 < took < 20, "drain --timeout 2 answered after %.1fs" % took)
    rc, out, err = d.ctl("--json", "drain", "--timeout", "0")
    body = json.loads(out)
    check(rc == 7 and body["ok"] is False and [s["name"] for s in body["left"]] == [held],
          "drain --json with a session left: %d %r" % (rc, out))
    check(states(d)[held] == "running", "the allocated server stopped at the drain timeout")
    rc, _, err = d.ctl("release", held)
    check(rc == 0, "release: %r" % err)
    rc, _, err = d.ctl("undrain")
    check(rc == 0, "undrain: %r" % err)
    d.wait_running(60)
    print("drain timeout: exit 7 after %.1fs, listing the allocated server" % took)


def main():
    base = free_port_block(N_SERVERS)
    ini = "[pool p]\nports = %d-%d\ntick_hz = 20\nadmission = open\n" % (
        base, base + N_SERVERS - 1)
    with Daemon(ini) as d:
        d.wait_running(60)
        rc, _, err = d.ctl("drain", "--timeout", "0.5")
        check(rc == 2, "drain --timeout 0.5: exit %d %r" % (rc, err))
        drain_idle(d)
        if has_allocate(d):
            drain_waits_for_release(d)
            drain_timeout(d)
        else:
            print("no allocate verb in this build: allocated-session cases not run")
        check(d.stop() == 0, "ringfleetd exit")


if __name__ == "__main__":
    main()
