# SPDX-License-Identifier: Apache-2.0
"""ringfleetd --check: exit 0 and a summary for a valid file, exit 1 and a
file:line: key message for an invalid one. Paths that are not
configuration files (/dev/zero, a FIFO, a directory, a file over 16 MiB)
are refused at once instead of hanging; a NUL byte is an error, not the
end of its line; and what only this host can tell (a bind address that is
not local, an unknown user or group) fails --check, start and reload
alike, with the same message."""
import os
import pwd
import subprocess
import tempfile

from fleetlib import Daemon, binary, check, free_udp_ports

FILE_MAX = 16 << 20


def run_path(path, timeout=10):
    """(exit code, output) of --check on path; a hang fails the test."""
    try:
        p = subprocess.run([binary("ringfleetd"), "--check", path], capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        check(False, "ringfleetd --check %s still running after %ds" % (path, timeout))
    return p.returncode, p.stdout + p.stderr


def run_check(text, mode="w"):
    with tempfile.NamedTemporaryFile(mode, suffix=".ini", delete=False) as f:
        f.write(text)
    rc, out = run_path(f.name)
    os.unlink(f.name)
    return rc, out, f.name


def line_of(path, text):
    with open(path) as f:
        return next(i + 1 for i, line in enumerate(f) if line.startswith(text))


def examples(src):
    for ex in ("demo.ini", "ringfleet.ini"):
        path = os.path.join(src, "config/examples", ex)
        rc, out = run_path(path)
        try:
            pwd.getpwnam("ringfleet")
        except KeyError:
            if ex == "ringfleet.ini":
                # The packaged file names the package's user, which only
                # the package creates: without it a start as root fails.
                want = '%s:%d: user: expected a user that exists on this host, got "ringfleet"\n' % (
                    path, line_of(path, "user = ringfleet"))
                check(rc == 1 and out == want, "%s without a ringfleet user: %r" % (ex, out))
                continue
        check(rc == 0 and "OK" in out, "%s: %s" % (ex, out))


def content_errors(src):
    rc, out, name = run_check("[server a]\nport = 7001\ntick_hz = fast\n")
    check(rc == 1, "invalid config exit code %d" % rc)
    check("%s:3: tick_hz" % name in out, "error names file:line and key: " + out)
    rc, out, _ = run_check("[server a]\nport = 7001\n[server b]\nport = 7001\n")
    check(rc == 1 and "7001" in out, "port collision: " + out)
    # A NUL byte used to end the line silently, hiding the rest of it.
    rc, out, name = run_check(b"[server a]\nport = 7001\0 tick_hz = fast\n", "wb")
    check(rc == 1 and out == "%s:2: NUL byte in column 12, expected text\n" % name, "NUL byte: %r" % out)
    # --check without an operand checks -c's file; an operand without
    # --check is a usage error (exit 2), not a file to run.
    demo = os.path.join(src, "config/examples/demo.ini")
    p = subprocess.run([binary("ringfleetd"), "-c", demo, "--check"], capture_output=True, text=True, timeout=10)
    check(p.returncode == 0 and p.stdout == "%s: OK (4 servers)\n" % demo, "-c FILE --check: %r" % (p.stdout + p.stderr))
    p = subprocess.run([binary("ringfleetd"), demo], capture_output=True, text=True, timeout=10)
    check(p.returncode == 2 and "Usage" in p.stderr, "stray operand: exit %d %s" % (p.returncode, p.stderr))


def not_config_files():
    """Each used to hang (/dev/zero forever, a FIFO until a writer came) or
    to be read whole whatever its size."""
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "fifo.ini")
        os.mkfifo(fifo)
        big = os.path.join(tmp, "big.ini")
        with open(big, "w") as f:
            f.write("[server a]\nport = 7001\n")
            f.write(("#" * 99 + "\n") * (FILE_MAX // 100))
        for path, want in (("/dev/zero", "a character device, expected a regular file"),
                           (fifo, "a FIFO, expected a regular file"),
                           (tmp, "a directory, expected a regular file"),
                           (big, "file too large, expected at most 16 MiB")):
            rc, out = run_path(path)
            check(rc == 1 and out == "%s: %s\n" % (path, want), "--check %s: %d %r" % (path, rc, out))
        # That exactly 16 MiB loads is test_config's business (test_size_limit).


# Fine on paper, wrong on this host. TEST-NET-1 (192.0.2.0/24) is never
# contacted: binding a throwaway socket to it fails with EADDRNOTAVAIL.
HOST_CASES = (
    ("bind = 192.0.2.1\n", "", 'bind: expected an address of this host, got "192.0.2.1" '
     "(Cannot assign requested address)"),
    ("user = rf-no-such-user\n", "", 'user: expected a user that exists on this host, got "rf-no-such-user"'),
    ("group = rf-no-such-group\n", "", 'group: expected a group that exists on this host, got "rf-no-such-group"'),
    ("", "control_group = rf-no-such-group\n",
     'control_group: expected a group that exists on this host, got "rf-no-such-group"'),
    ("", "metrics_listen = 192.0.2.1:9750\n", 'metrics_listen: expected an address of this host, got '
     '"192.0.2.1:9750" (Cannot assign requested address)'),
)


def host_ini(port, server_extra, sup_extra):
    return "[supervisor]\n%s[defaults]\nbind = 127.0.0.1\n[server a]\nport = %d\n%s" % (
        sup_extra, port, server_extra)


def host_checks():
    port = free_udp_ports(1)[0]
    for server_extra, sup_extra, msg in HOST_CASES:
        text = host_ini(port, server_extra, sup_extra)
        rc, out, name = run_check(text)
        line = 2 if sup_extra else 6
        check(rc == 1 and out == "%s:%d: %s\n" % (name, line, msg), "--check with %r: %d %r"
              % (server_extra + sup_extra, rc, out))


def start_and_reload():
    """The checks of --check run at start and reload, with its messages."""
    ports = free_udp_ports(2)
    d = Daemon("[server a]\nport = %d\nbind = 192.0.2.1\n" % ports[0])
    p = subprocess.run([binary("ringfleetd"), "-c", d.config], capture_output=True, text=True, timeout=20)
    line = line_of(d.config, "bind = 192.0.2.1")
    want = '%s:%d: bind: expected an address of this host, got "192.0.2.1"' % (d.config, line)
    check(p.returncode == 1 and want in p.stderr, "start with a foreign bind: %d %r" % (p.returncode, p.stderr))
    with Daemon("[server a]\nport = %d\n" % ports[0]) as d:
        d.wait_running()
        before = d.servers()["a"]["pid"]
        for extra in ("user = rf-no-such-user\n", "bind = 192.0.2.1\n"):
            d.write_config("[server a]\nport = %d\n%s[server b]\nport = %d\n" % (ports[0], extra, ports[1]))
            rc, out = run_path(d.config)
            key = extra.split(" ")[0]
            want = "%s:%d: %s: " % (d.config, line_of(d.config, extra.strip()), key)
            check(rc == 1 and out.startswith(want), "--check before reload: %r" % out)
            rc, _, err = d.ctl("reload")
            check(rc == 1 and out.strip() in err, "reload with %r: %d %r, --check said %r" % (extra, rc, err, out))
            check(set(d.servers()) == {"a"} and d.servers()["a"]["pid"] == before, "failed reload changed servers")
        # The port the running daemon holds is no reason to fail --check.
        d.write_config("[server a]\nport = %d\n" % ports[0])
        rc, out = run_path(d.config)
        check(rc == 0, "--check of the running configuration: %r" % out)
        check(d.stop() == 0, "ringfleetd exit code")


def main():
    src = os.environ.get("RF_SRC_DIR", os.path.join(os.path.dirname(__file__), "../.."))
    examples(src)
    content_errors(src)
    not_config_files()
    host_checks()
    start_and_reload()
    print("ok")


if __name__ == "__main__":
    main()
