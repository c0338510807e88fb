# SPDX-License-Identifier: Apache-2.0
"""ringfleetd checks its file-descriptor budget (about 3 per server plus a
fixed reserve) before it binds anything: under a soft RLIMIT_NOFILE too
low for the fleet it raises the soft limit up to the hard one and runs;
when even the hard limit is too low it refuses to start with a message
naming RLIMIT_NOFILE and what it needs, instead of failing on some
socket; --check warns about the same."""
import resource
import subprocess

from fleetlib import Daemon, binary, check, free_port_block

SERVERS = 40


def run(d, soft, hard, out=subprocess.PIPE):
    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    # A session of its own, as Daemon.start() does: its teardown kills it.
    return subprocess.Popen([binary("ringfleetd"), "-c", d.config], stdout=out,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=limit,
                            start_new_session=True)


def main():
    base = free_port_block(SERVERS)
    ini = "[pool p]\nports = %d-%d\nrecv_buffers = 16\n" % (base, base + SERVERS - 1)
    d = Daemon(ini, "max_per_cpu = %d\n" % SERVERS)
    p = run(d, 64, 64)
    out, _ = p.communicate(timeout=30)
    check(p.returncode == 1, "started under a hard limit of 64: rc %s\n%s" % (p.returncode, out))
    check("RLIMIT_NOFILE is 64 (hard 64), too low for %d servers" % SERVERS in out, out)
    check("cannot bind" not in out, "failed on a socket instead: " + out)
    chk = subprocess.run([binary("ringfleetd"), "--check", d.config], capture_output=True, text=True,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)))
    check(chk.returncode == 0 and "RLIMIT_NOFILE" in chk.stderr, "--check: %s" % chk.stderr)

    d.logf = open(d.log, "w")
    d.adopt(run(d, 64, 4096, d.logf))
    with d:
        st = d.wait_running(timeout=60)
        check(len(st["servers"]) == SERVERS, "%d servers" % len(st["servers"]))
        soft = resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE)[0]
        check(64 < soft <= 4096, "soft limit %d not raised" % soft)
        check(d.stop() == 0, "exit code")
    print("ok: refused under 64/64, raised the soft limit to %d under 64/4096" % soft)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
