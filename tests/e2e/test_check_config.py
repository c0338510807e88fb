# SPDX-License-Identifier: Apache-2.0
"""ringfleetd --check: exit 0 and a summary for a valid file, exit 1 and a
file:line: key message for an invalid one."""
import os
import subprocess
import tempfile

from fleetlib import binary, check


def run_check(text):
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
        f.write(text)
    p = subprocess.run([binary("ringfleetd"), "--check", f.name], capture_output=True, text=True, timeout=10)
    os.unlink(f.name)
    return p.returncode, p.stdout + p.stderr, f.name


def main():
    src = os.environ.get("RF_SRC_DIR", os.path.join(os.path.dirname(__file__), "../.."))
    for ex in ("demo.ini", "ringfleet.ini"):
        path = os.path.join(src, "config/examples", ex)
        p = subprocess.run([binary("ringfleetd"), "--check", path], capture_output=True, text=True, timeout=10)
        check(p.returncode == 0 and "OK" in p.stdout, "%s: %s%s" % (ex, p.stdout, p.stderr))
    rc, out, name = run_check("[server a]\nport = 7001\ntick_hz = fast\n")
    check(rc == 1, "invalid config exit code %d" % rc)
    check("%s:3: tick_hz" % name in out, "error names file:line and key: " + out)
    rc, out, _ = run_check("[server a]\nport = 7001\n[server b]\nport = 7001\n")
    check(rc == 1 and "7001" in out, "port collision: " + out)
    # --check without an operand checks -c's file; an operand without
    # --check is a usage error (exit 2), not a file to run.
    demo = os.path.join(src, "config/examples/demo.ini")
    p = subprocess.run([binary("ringfleetd"), "-c", demo, "--check"], capture_output=True, text=True, timeout=10)
    check(p.returncode == 0 and p.stdout == "%s: OK (4 servers)\n" % demo, "-c FILE --check: %r" % (p.stdout + p.stderr))
    p = subprocess.run([binary("ringfleetd"), demo], capture_output=True, text=True, timeout=10)
    check(p.returncode == 2 and "Usage" in p.stderr, "stray operand: exit %d %s" % (p.returncode, p.stderr))
    print("ok")


if __name__ == "__main__":
    main()
