# SPDX-License-Identifier: Apache-2.0
"""Out of file descriptors is not a configuration error: with ringfleetd's
RLIMIT_NOFILE lowered to what it already holds, a killed worker cannot be
respawned (EMFILE). The server waits in backoff with the reason in status
and the log, for many more attempts than crash_limit, never goes fatal,
and runs again on its own once the limit is raised."""
import os
import resource
import signal
import time

from fleetlib import Daemon, check, free_udp_ports, wait_for


def limit_with_one_free_fd(pid):
    """The RLIMIT_NOFILE under which pid has exactly one fd number free:
    the limit caps new fd numbers, and closed fds leave holes."""
    used = {int(x) for x in os.listdir("/proc/%d/fd" % pid)}
    holes = [n for n in range(max(used) + 3) if n not in used]
    return holes[1]


def main():
    ports = free_udp_ports(2)
    ini = "".join("[server s%d]\nport = %d\n" % (i, p) for i, p in enumerate(ports))
    sup = ("crash_limit = 2\ncrash_window_s = 60\nrestart_delay_ms = 50\n"
           "restart_delay_max_ms = 200\n")
    with Daemon(ini, sup) as d:
        d.wait_running()
        pid = d.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        # One spare fd: a control connection still fits, a readiness pipe
        # (two fds) does not.
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit_with_one_free_fd(pid), hard))
        victim = d.servers()["s0"]
        os.kill(victim["pid"], signal.SIGKILL)
        wait_for(lambda: "Too many open files" in d.servers()["s0"]["reason"], 10,
                 "the EMFILE reason in status")
        # 50+100+200+200.. ms: well over crash_limit attempts in 2 s.
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.0:
            s = d.servers()["s0"]
            check(s["state"] in ("backoff", "starting"), "state %s: %s" % (s["state"], s["reason"]))
            time.sleep(0.1)
        s = d.servers()["s0"]
        check("spawn failed: Too many open files" in s["reason"], "reason: %s" % s["reason"])
        check(d.servers()["s1"]["state"] == "running", "the other server kept running")
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        wait_for(lambda: d.servers()["s0"]["state"] == "running", 10, "s0 running again")
        log = d.log_text()
        check("spawn failed: Too many open files" in log, "log names the reason")
        check("-> fatal" not in log, "nothing went fatal")
        check(d.stop() == 0, "exit code")
    print("ok: EMFILE at respawn -> backoff, running again once fds were back")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
