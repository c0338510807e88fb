# SPDX-License-Identifier: Apache-2.0
"""Supervisor lifecycle end to end: crash -> immediate restart, then
growing backoff; a crash loop -> fatal until `ringfleetctl start`; a hung
worker (SIGSTOP) -> killed and restarted within hang_timeout + 1 s; a
graceful stop exits the worker with status 0."""
import os
import signal
import time

from fleetlib import Daemon, check, free_udp_ports, pid_alive, wait_for

HANG_MS = 1000


def server(d, name="w"):
    return d.servers()[name]


def new_running_pid(d, old_pid, timeout=10):
    def ready():
        s = server(d)
        return s["pid"] if s["state"] == "running" and s["pid"] != old_pid else None
    return wait_for(ready, timeout, "a new running worker", interval=0.01)


def kill_and_time(d, pid):
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    new = new_running_pid(d, pid)
    return new, time.monotonic() - t0


def main():
    (port,) = free_udp_ports(1)
    sup = ("restart_delay_ms = 300\nrestart_delay_max_ms = 5000\nstable_after_s = 30\n"
           "crash_limit = 3\ncrash_window_s = 60\nhang_timeout_ms = %d\n" % HANG_MS)
    # idle_sleep off: this is the ticking worker's hang rule (an idle one
    # beats every 30 s and is judged by its socket: test_idle.py).
    with Daemon("[server w]\nport = %d\nidle_sleep = off\n" % port, sup) as d:
        d.wait_running()
        pid = server(d)["pid"]

        # 1st crash: at once. 2nd: 300 ms. 3rd: 600 ms.
        pid, t1 = kill_and_time(d, pid)
        pid, t2 = kill_and_time(d, pid)
        pid, t3 = kill_and_time(d, pid)
        print("restart after crash 1: %.0f ms, 2: %.0f ms, 3: %.0f ms" % (t1 * 1e3, t2 * 1e3, t3 * 1e3))
        check(t1 < t2, "first restart (%.3fs) not faster than the 300 ms backoff" % t1)
        check(t2 >= 0.3, "second restart after %.3fs, wanted >= 300 ms backoff" % t2)
        check(t3 >= 0.6, "third restart after %.3fs, wanted >= 600 ms backoff" % t3)
        check(server(d)["restarts"] == 3, "restarts = %d" % server(d)["restarts"])
        log = d.log_text()
        check("restarting in 0 ms" in log and "restarting in 300 ms" in log
              and "restarting in 600 ms" in log, "backoff decisions not logged:\n" + log)

        # 4th crash within the window: more than crash_limit -> fatal.
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: server(d)["state"] == "fatal", 5, "fatal state")
        rc, _, _ = d.ctl("status")
        check(rc == 3, "status exit code with a fatal server: %d" % rc)
        check("giving up" in d.log_text(), "fatal decision not logged")
        time.sleep(1.0)
        check(server(d)["state"] == "fatal", "fatal server was restarted on its own")
        rc, out, err = d.ctl("start", "w")
        check(rc == 0 and "running" in out, "start after fatal: %d %s %s" % (rc, out, err))
        pid = server(d)["pid"]

        # Hang: a stopped worker stops ticking.
        t0 = time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        new = new_running_pid(d, pid, timeout=HANG_MS / 1000 + 10)
        took = time.monotonic() - t0
        print("hung worker replaced after %.0f ms (hang_timeout_ms %d)" % (took * 1e3, HANG_MS))
        check(took <= HANG_MS / 1000 + 1.0 + 0.5, "hang detected after %.2fs" % took)
        check(not pid_alive(pid), "hung worker %d still alive" % pid)
        check("no heartbeat" in d.log_text() or "no tick" in d.log_text(), "hang not logged")

        # Graceful stop: SIGTERM, the worker exits 0.
        rc, out, err = d.ctl("stop", "w")
        check(rc == 0 and "stopped" in out, "stop: %d %s %s" % (rc, out, err))
        s = server(d)
        check(s["last_exit"] == "exited with status 0", "worker ended: %s" % s["last_exit"])
        check(not pid_alive(new), "stopped worker still alive")
        rc, _, _ = d.ctl("status", "w")
        check(rc == 3, "status of a stopped server exits 3, got %d" % rc)
        rc, out, _ = d.ctl("restart", "w")
        check(rc == 0 and "running" in out, "restart of a stopped server")
        check(d.stop() == 0, "exit code")
    print("ok")


if __name__ == "__main__":
    main()
