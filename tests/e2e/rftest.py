# SPDX-License-Identifier: Apache-2.0
"""rftest - the harness of ringfleet's end-to-end tests: the one place
that says how a test fails, skips, finds binaries and ports, and waits.
Python 3 stdlib only. fleetlib.py adds ringfleetd on top and re-exports
the names below that its users import from it.

Tests run the real binaries on 127.0.0.1 with bounded timeouts:

  * check(), fail()           a failed check raises CheckFailed (an
                              AssertionError): exit 1 with a traceback
  * skip(), SKIP              exit 77 = skipped (CTest SKIP_RETURN_CODE)
  * log()                     a timestamped progress line
  * bin_path(name), binary()  a binary from $RF_BIN_DIR (checked, or not)
  * free_port(kind)           an unused loopback port (UDP by default);
                              free_tcp_port(), free_udp_ports(n),
                              free_port_block(n)
  * wait_until(), wait_for()  polling with a deadline (None, or a failure)
  * UdpClient, gather()       game clients and collecting what they receive
  * handshake(), admit_all()  the admission handshake (docs/protocol.md) on
                              one socket or many at once; token_handshake()
                              the same with a connect token (admission = token)
  * Proc                      a child process with captured output and a
                              stop() that never hangs
  * ready_pipe()              the --ready-fd handshake
  * session_pids(), kill_session()  every process of a session: workers
                              outlive ringfleetd, so whatever starts it
                              (start_new_session=True) kills its session
                              at teardown; pid_alive(), proc_state()
  * Slot                      a shared-memory slot (memfd) and a decoder of
                              common/slot.h's layout
"""

import argparse
import atexit
import base64
import ctypes
import json
import mmap
import os
import select
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
HOST = "127.0.0.1"


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


class CheckFailed(AssertionError):
    """A test's check failed; msg says what went wrong."""


def fail(msg):
    raise CheckFailed(msg)


def check(cond, msg):
    """assert that survives python -O and says what went wrong."""
    if not cond:
        fail(msg)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


BIN = os.environ.get("RF_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))


def binary(name):
    """Path of a binary in BIN, without checking that it is there."""
    return os.path.join(BIN, name)


def bin_path(name):
    d = os.environ.get("RF_BIN_DIR")
    check(d, "RF_BIN_DIR is not set (run through ctest)")
    path = os.path.join(d, name)
    check(os.access(path, os.X_OK), f"{path}: not built")
    return path


def game_path(name):
    """Path of test game module NAME (tests/games: rf_test_game()), built
    next to the binaries, in a place ringfleetd accepts (safe_module())."""
    d = os.environ.get("RF_BIN_DIR")
    check(d, "RF_BIN_DIR is not set (run through ctest)")
    path = os.path.join(os.path.dirname(d), "tests", "games", name + ".so")
    check(os.path.exists(path), f"{path}: not built")
    return safe_module(path)


def run_scenarios(scenarios, mmsg_only=(), default_backend=None):
    """The main() of a worker test script: --backend io_uring|mmsg (skipped
    when io_uring is disabled), --only NAME (repeatable), then each
    scenario t_NAME(backend) with its docstring's first line logged.
    mmsg_only: backend-independent scenarios, run once, in the mmsg run."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["io_uring", "mmsg"], default=default_backend,
                    required=default_backend is None)
    ap.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    args = ap.parse_args()
    if args.backend == "io_uring" and io_uring_disabled() == 2:
        skip("kernel.io_uring_disabled = 2")
    todo = list(scenarios) + (list(mmsg_only) if args.backend == "mmsg" else [])
    chosen = [s for s in todo if not args.only or s.__name__[2:] in args.only]
    for s in chosen:
        t0 = time.monotonic()
        log(f"{s.__name__[2:]}: {s.__doc__.splitlines()[0]}")
        s(args.backend)
        log(f"{s.__name__[2:]}: ok ({time.monotonic() - t0:.1f} s)")
    log(f"all {len(chosen)} scenarios passed ({args.backend})")


def sanitized():
    """True in a sanitizer build (SANITIZE set in the build's CMake cache):
    its processes start, run and exit several times slower."""
    build = os.path.dirname(os.path.abspath(os.environ.get("RF_BIN_DIR", ".")))
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("SANITIZE:"):
                    return bool(line.split("=", 1)[1].strip())
    except OSError:
        pass
    return False


def path_unsafe(path):
    """Why ringfleetd's module path rule (config/cfg_modpath.c) refuses
    path, or None: it and every directory above it must be owned by root
    or us and writable by nobody else."""
    path = os.path.realpath(path)
    while True:
        st = os.stat(path)
        if st.st_uid not in (0, os.geteuid()):
            return f"{path} is owned by uid {st.st_uid}"
        if st.st_mode & 0o022:
            return f"{path} is writable by group or others"
        if path == "/":
            return None
        path = os.path.dirname(path)


_safe_dir = None


def safe_dir():
    """A fresh 0755 directory (removed at exit) that ringfleetd's module
    path rule accepts: under the build tree, else the home directory, else
    (as root) /run. A build tree under /tmp (world-writable) is refused by
    the rule. Skips the test when no place passes."""
    global _safe_dir
    if _safe_dir is None:
        build = os.path.dirname(os.path.abspath(os.environ.get("RF_BIN_DIR", ".")))
        cands = [build, os.path.expanduser("~")] + (["/run"] if os.geteuid() == 0 else [])
        why = []
        for cand in cands:
            bad = path_unsafe(cand) if os.path.isdir(cand) else f"{cand}: missing"
            if not bad:
                _safe_dir = tempfile.mkdtemp(prefix="rf-modules-", dir=cand)
                os.chmod(_safe_dir, 0o755)
                atexit.register(shutil.rmtree, _safe_dir, True)
                break
            why.append(bad)
        else:
            skip("no directory here passes the module path rule: " + "; ".join(why))
    return _safe_dir


def safe_module(path):
    """path when the module path rule accepts it, else a copy of it in
    safe_dir(): modules load from where a real host keeps them."""
    if not path_unsafe(path):
        return path
    copy = os.path.join(safe_dir(), os.path.basename(path))
    if not os.path.exists(copy):
        shutil.copyfile(path, copy)
        os.chmod(copy, 0o644)
    return copy


def free_port(kind=socket.SOCK_DGRAM, host=HOST):
    """A port nobody holds right now. Another process may still take it
    before we bind it again: callers retry on EADDRINUSE."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_tcp_port():
    """A TCP port free on 127.0.0.1 right now (e.g. for metrics_listen)."""
    return free_port(socket.SOCK_STREAM)


def free_udp_ports(n):
    """n distinct UDP ports free on 127.0.0.1 right now."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def free_port_block(n):
    """The first of n consecutive UDP ports free on 127.0.0.1 right now,
    below the ephemeral range so that no other test's client socket (or
    its stale peers) uses them."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    for base in range(low - n, 10000, -n):
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no %d consecutive free UDP ports" % n)


def wait_until(fn, timeout, interval=0.02):
    """Polls fn() until it returns a true value; returns it, or None."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


def wait_for(pred, timeout, what, interval=0.05):
    """Polls pred() until it returns a true value; returns it, or fails
    saying what it waited for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    fail("timed out after %.1fs waiting for %s" % (timeout, what))


def io_uring_disabled():
    """kernel.io_uring_disabled: 0 on, 1 only for io_uring_group/root,
    2 off. 0 when the knob does not exist (kernels before 6.6)."""
    try:
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


# Syscall numbers shared by every architecture (the unified table, 5.1+).
NR_IO_URING_SETUP = 425


def deny_syscalls(nrs, err=1):
    """A preexec_fn for Proc that makes the child's syscalls nrs fail with
    errno err (EPERM by default) through a seccomp filter, the way container
    runtimes block io_uring. Needs no privileges (no_new_privs)."""
    def install():
        libc = ctypes.CDLL(None, use_errno=True)
        code = [struct.pack("=HBBI", 0x20, 0, 0, 0)]  # A = seccomp_data.nr
        for nr in nrs:  # if A == nr: return ERRNO(err), else next check
            code.append(struct.pack("=HBBI", 0x15, 0, 1, nr))
            code.append(struct.pack("=HBBI", 0x06, 0, 0, 0x00050000 | err))
        code.append(struct.pack("=HBBI", 0x06, 0, 0, 0x7FFF0000))  # allow
        insns = ctypes.create_string_buffer(b"".join(code))
        prog = struct.pack("=HxxxxxxQ", len(code), ctypes.addressof(insns))
        prog_buf = ctypes.create_string_buffer(prog)
        ul = ctypes.c_ulong  # prctl is variadic: a bare int would cut the pointer
        if libc.prctl(38, ul(1), ul(0), ul(0), ul(0)) != 0:  # PR_SET_NO_NEW_PRIVS
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
        if libc.prctl(22, ul(2), ul(ctypes.addressof(prog_buf)), ul(0), ul(0)) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")  # SECCOMP_MODE_FILTER
    return install


# --- UDP clients -----------------------------------------------------------

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


def grow_rcvbuf(sock, size):
    """Room so that a briefly descheduled test does not lose datagrams; the
    FORCE variant (root) passes net.core.rmem_max."""
    for opt in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, size)
            return
        except OSError:
            pass


# --- admission handshake (common/handshake.h, docs/protocol.md) ------------

HS_HELLO_MIN = 32
HS_CHALLENGE_LEN = 24
HS_RESPONSE_LEN = 24
HS_WELCOME_LEN = 8
HS_REFUSED_LEN = 8
HELLO = b"RFH1" + bytes(HS_HELLO_MIN - 4)
REFUSED_REASONS = {1: "table full (max_clients)", 2: "max_clients_per_ip",
                   3: "refused by the game", 4: "bad token", 5: "token expired",
                   6: "token's player already admitted"}
HS_RESEND = 0.25


def is_challenge(data):
    return len(data) == HS_CHALLENGE_LEN and data[:4] == b"RFC1"


def is_welcome(data):
    return len(data) == HS_WELCOME_LEN and data[:4] == b"RFW1"


def refused_reason(data):
    """The reason of a REFUSED (1 table full, 2 per IP, 3 the game), else
    None."""
    if len(data) == HS_REFUSED_LEN and data[:4] == b"RFX1":
        return struct.unpack_from("!I", data, 4)[0]
    return None


def is_handshake(data):
    return is_challenge(data) or is_welcome(data) or refused_reason(data) is not None


def response_for(challenge):
    """The RESPONSE to a CHALLENGE: its window and MAC, copied unread."""
    return b"RFR1" + challenge[4:HS_CHALLENGE_LEN]


class Refused(AssertionError):
    def __init__(self, addr, reason):
        self.reason = reason
        super().__init__(f"{addr[0]}:{addr[1]} refused: "
                         f"{REFUSED_REASONS.get(reason, reason)}")


class _Admission:
    """One socket's side of the handshake, as a client must run it: HELLO
    every 250 ms until a CHALLENGE, then RESPONSE every 250 ms until a
    WELCOME (or a REFUSED). A new CHALLENGE replaces the previous one."""

    def __init__(self, sock, server):
        self.sock, self.server = sock, server
        self.response = None
        self.result = None          # "welcome" or ("refused", reason)
        self.next = 0.0
        self.sent = 0               # datagrams sent, resends included

    def due(self, now):
        if self.result is None and now >= self.next:
            try:
                self.sock.sendto(self.response or HELLO, self.server)
                self.sent += 1
            except (BlockingIOError, ConnectionRefusedError):
                pass  # a resend follows
            self.next = now + HS_RESEND
        return self.next

    def receive(self):
        while self.result is None:
            try:
                data = self.sock.recv(65536, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                continue  # ICMP from an earlier datagram: nothing listened
            if is_challenge(data):
                self.response = response_for(data)
                self.next = 0.0  # answer at once
                self.due(time.monotonic())
            elif is_welcome(data) and self.response:
                self.result = "welcome"
            elif refused_reason(data) is not None and self.response:
                self.result = ("refused", refused_reason(data))
            # anything else (relayed game data) is not for the handshake


def admit_all(socks, server, timeout=5.0):
    """Runs the handshake on every socket at once (non-blocking, one
    selector), each with its own 250 ms resends, with server (host, port)
    or a list of one server per socket. Returns one result per
    socket: "welcome", ("refused", reason), or None (no answer within
    timeout seconds)."""
    return [a.result for a in admissions(socks, server, timeout)]


def admissions(socks, server, timeout=5.0):
    """admit_all(), returning each socket's _Admission: .result, and .sent
    (datagrams sent, resends included: a server counts them in pkts_in)."""
    servers = server if isinstance(server, list) else [server] * len(socks)
    adms = [_Admission(s, srv) for s, srv in zip(socks, servers)]
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    end = time.monotonic() + timeout
    try:
        while True:
            now = time.monotonic()
            waiting = [a for a in adms if a.result is None]
            if not waiting or now >= end:
                break
            nxt = min(a.due(now) for a in waiting)
            for key, _ in sel.select(max(0.0, min(nxt, end) - time.monotonic())):
                adms[key.data].receive()
    finally:
        sel.close()
    return adms


def handshake(sock, server, timeout=5.0):
    """Admits sock's address at server (host, port) or raises: Refused
    with the server's reason, AssertionError after timeout seconds.
    Returns how many datagrams it sent (servers count them in pkts_in)."""
    adm = admissions([sock], server, timeout)[0]
    res = adm.result
    if res is None:
        raise AssertionError(f"no WELCOME from {server[0]}:{server[1]} within "
                             f"{timeout:g} s for {sock.getsockname()}")
    if res != "welcome":
        raise Refused(server, res[1])
    return adm.sent


def token_handshake(sock, server, token, timeout=5.0):
    """Admits sock's address at server (host, port) with a connect token
    (admission = token): token is its text form (base64url, as ringfleetctl
    allocate --players prints it) or its bytes. Sends "RFT1" | token every
    250 ms until a WELCOME (returned: how many TOKENs it sent) or a REFUSED
    (raises Refused: 4 bad token, 5 expired, 6 player already admitted);
    AssertionError after timeout seconds."""
    if isinstance(token, str):
        token = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    msg = b"RFT1" + token
    end = time.monotonic() + timeout
    sent = 0
    while time.monotonic() < end:
        sock.sendto(msg, server)
        sent += 1
        r, _, _ = select.select([sock], [], [], HS_RESEND)
        while r:
            try:
                data = sock.recv(65536, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except ConnectionRefusedError:
                continue
            if is_welcome(data):
                return sent
            if refused_reason(data) is not None:
                raise Refused(server, refused_reason(data))
    raise AssertionError(f"no WELCOME from {server[0]}:{server[1]} within {timeout:g} s "
                         f"for the token of {sock.getsockname()}")


_sources = [0]


def loopback_source():
    """A loopback address of its own for each client, 127.2.0.1 and up, as
    players have one each: a server admits at most max_clients_per_ip (4
    by default) per address. All of 127/8 is loopback on Linux."""
    _sources[0] += 1
    n = 0x7F020000 + _sources[0]
    return socket.inet_ntoa(struct.pack("!I", n))


class UdpClient:
    """One game client: a non-blocking UDP socket bound to a loopback
    address of its own (src, or the next loopback_source())."""

    def __init__(self, server_port, host=HOST, rcvbuf=4 << 20, src=None):
        self.server = (host, server_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        grow_rcvbuf(self.sock, rcvbuf)
        self.sock.bind((src or loopback_source(), 0))
        self.sock.setblocking(False)
        self.addr = self.sock.getsockname()

    def fileno(self):
        return self.sock.fileno()

    def send(self, data):
        self.sock.sendto(data, self.server)

    def admit(self, timeout=5.0):
        """The admission handshake (a server with admission = cookie).
        Returns how many datagrams it took."""
        return handshake(self.sock, self.server, timeout)

    def recv_ready(self):
        """Every datagram queued right now, as (payload, source) pairs."""
        out = []
        while True:
            try:
                out.append(self.sock.recvfrom(65536))
            except BlockingIOError:
                return out

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def gather(clients, timeout=10.0, quiet=None, done=None, got=None):
    """Receives on all clients into got (a list of payload lists, one per
    client) until done(got) is true, timeout seconds pass, or (with quiet)
    no datagram arrived for quiet seconds. Returns got."""
    if got is None:
        got = [[] for _ in clients]
    sel = selectors.DefaultSelector()
    for i, c in enumerate(clients):
        sel.register(c.sock, selectors.EVENT_READ, i)
    end = time.monotonic() + timeout
    last = time.monotonic()
    try:
        while not (done and done(got)):
            now = time.monotonic()
            if now >= end or (quiet is not None and now - last >= quiet):
                break
            for key, _ in sel.select(min(0.05, end - now)):
                pkts = clients[key.data].recv_ready()
                if pkts:
                    got[key.data].extend(p for p, _ in pkts)
                    last = time.monotonic()
    finally:
        sel.close()
    return got


def drain(clients, quiet=0.2, timeout=5.0):
    """Throws away whatever the clients receive until quiet."""
    gather(clients, timeout=timeout, quiet=quiet)


# --- processes -------------------------------------------------------------

def ready_pipe():
    """(read end, write end) for a --ready-fd handshake. Pass the write end
    with pass_fds, then call Proc.wait_ready(read end)."""
    return os.pipe()


class Proc:
    """A child process whose stdout+stderr go to a temporary file, so that a
    chatty child can never block on a full pipe."""

    def __init__(self, argv, pass_fds=(), env=None, preexec_fn=None):
        self.argv = [str(a) for a in argv]
        self.out = tempfile.TemporaryFile()
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.out,
                                  stderr=subprocess.STDOUT, pass_fds=tuple(pass_fds),
                                  env=env, preexec_fn=preexec_fn)
        self.pid = self.p.pid

    def output(self):
        self.out.seek(0)
        return self.out.read().decode(errors="replace")

    def poll(self):
        return self.p.poll()

    def wait(self, timeout):
        """Exit code, or None if still running after timeout seconds."""
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def wait_ready(self, rfd, timeout=10.0):
        """Reads the readiness line from rfd (and closes it). Returns the
        line, or None if the process exited or timed out first."""
        sel = selectors.DefaultSelector()
        sel.register(rfd, selectors.EVENT_READ)
        data = b""
        end = time.monotonic() + timeout
        try:
            while b"\n" not in data and time.monotonic() < end:
                if sel.select(0.05):
                    chunk = os.read(rfd, 64)
                    if not chunk:
                        break
                    data += chunk
        finally:
            sel.close()
            os.close(rfd)
        return data.decode(errors="replace") if b"\n" in data else None

    def send_signal(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Sends sig and waits; SIGKILLs after timeout. Returns the exit
        code (negative: killed by that signal), and None if it had to kill."""
        self.send_signal(sig)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
        return rc

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        self.out.close()


def read_line(sock, bufsize=1 << 20):
    """Bytes from a stream socket up to and including a newline (or until
    the peer closes): one control-socket reply."""
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(bufsize)
        if not chunk:
            break
        buf += chunk
    return buf


def rss_kb(pid):
    """VmRSS of pid in kB (0 when it has none, e.g. a zombie)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def proc_state(pid):
    """The state letter of /proc/PID/stat (R, S, Z, ...), or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    return proc_state(pid) not in (None, "Z")


def session_pids(sid):
    """Live (non-zombie) processes whose session id is sid, but never this
    one. A session id is not reused while any member lives."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        # state ppid pgrp session ...
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(name))
    return out


def kill_session(sid, timeout=5.0):
    """SIGKILLs every process of session sid (a ringfleetd started with
    start_new_session=True, and its workers: they have process groups of
    their own but stay in its session, and outlive it by design) and waits
    until none is left. Returns the pids it had to kill."""
    killed = []
    end = time.monotonic() + timeout
    while True:
        pids = session_pids(sid)
        if not pids or time.monotonic() > end:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                if pid not in killed:
                    killed.append(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    return killed


# --- shared-memory slot (common/slot.h) ------------------------------------

# The layout comes from the compiler (tests/slot_layout.c, built next to the
# binaries), so this file holds no offsets that could drift from slot.h.
_layout = None


def slot_layout():
    global _layout
    if _layout is None:
        out = subprocess.run([bin_path("slot_layout")], check=True,
                             capture_output=True, text=True).stdout
        _layout = json.loads(out)
    return _layout


BACKENDS = {0: "none", 1: "io_uring", 2: "mmsg"}
# common/slot.h RF_SESSION_*, RF_GAME_* flags (include/ringfleet/game.h).
SESSION_NONE, SESSION_READY, SESSION_ALLOCATED = 0, 1, 2
GAME_IDLE_SLEEP, GAME_SELF_RESET = 1, 2
_UINT = {4: "=I", 8: "=Q"}


def slot_size(max_clients):
    lay = slot_layout()
    return lay["clients"] + max_clients * lay["per_client"] + lay["tail"]


class Slot:
    """A memfd sized for max_clients, as ringfleetd hands to a worker. Pass
    slot.fd with pass_fds and --slot-fd; read it any time."""

    def __init__(self, max_clients, size=None):
        self.max_clients = max_clients
        self.size = size if size is not None else slot_size(max_clients)
        self.fd = os.memfd_create("rf-test-slot", 0)
        os.ftruncate(self.fd, self.size)
        self.map = mmap.mmap(self.fd, self.size, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE)

    def header(self):
        return {k: struct.unpack_from("=I", self.map, off)[0]
                for k, off in slot_layout()["header"].items()}

    def _stats_once(self):
        lay = slot_layout()
        st = {name: struct.unpack_from(_UINT[size], self.map, off)[0]
              for name, off, size in lay["stats"]}
        off, n = lay["tick_hist"]
        st["tick_hist"] = list(struct.unpack_from("=%dQ" % n, self.map, off))
        return st

    def stats(self):
        """A consistent snapshot: the worker publishes field by field, so
        read until two reads in a row agree (a tick is milliseconds, a
        read microseconds) rather than mix two ticks' counters."""
        st = self._stats_once()
        for _ in range(100):
            again = self._stats_once()
            if again == st:
                break
            st = again
        st["backend_name"] = BACKENDS.get(st["backend"], str(st["backend"]))
        return st

    def game(self):
        """The game area: {"name", "values": {name: value} for the defined
        ones, "status", "exit_reason"}."""
        g = slot_layout()["game"]

        def text(off, size):
            raw = bytes(self.map[off:off + size])
            return raw.split(b"\0", 1)[0].decode(errors="replace")

        off, n = g["value"]
        vals = struct.unpack_from("=%dq" % n, self.map, off)
        noff, nsize = g["value_name"]
        values = {}
        for i in range(n):
            name = text(noff + i * nsize, nsize)
            if name:
                values[name] = vals[i]
        return {"name": text(*g["name"]), "values": values,
                "status": text(*g["status"]), "exit_reason": text(*g["exit_reason"])}

    def sup(self):
        """The supervisor's area: {"idle_beat_ms", "orphan_timeout_s", "beat_ns"}."""
        return {k: struct.unpack_from(_UINT[8 if k == "beat_ns" else 4], self.map, off)[0]
                for k, off in slot_layout()["sup"].items()}

    def set_sup(self, **fields):
        """Writes fields of the supervisor's area as ringfleetd does, e.g.
        set_sup(orphan_timeout_s=2, beat_ns=time.monotonic_ns())."""
        lay = slot_layout()["sup"]
        for k, v in fields.items():
            struct.pack_into(_UINT[8 if k == "beat_ns" else 4], self.map, lay[k], v)

    def game_flags(self):
        """The game's RF_GAME_* flags, as the worker published them."""
        return struct.unpack_from("=I", self.map, slot_layout()["game_flags"])[0]

    def set_session(self, state, alloc_id, meta="", hold=False):
        """Writes the session area as ringfleetd does: seq odd while it
        writes, even again after (a seqlock). hold=True leaves it odd, a
        writer caught mid-write, until session_commit()."""
        s = slot_layout()["session"]
        off, size = s["meta"]
        raw = meta.encode("latin-1") if isinstance(meta, str) else bytes(meta)
        raw = raw[:size - 1]
        seq = struct.unpack_from("=I", self.map, s["seq"])[0]
        if seq % 2 == 0:
            struct.pack_into("=I", self.map, s["seq"], seq + 1)
        struct.pack_into("=I", self.map, s["state"], state)
        struct.pack_into("=Q", self.map, s["alloc_id"], alloc_id)
        struct.pack_into("=Q", self.map, s["since_unix_ns"], time.time_ns())
        self.map[off:off + size] = raw + b"\0" * (size - len(raw))
        if not hold:
            self.session_commit()

    def session_commit(self):
        s = slot_layout()["session"]
        seq = struct.unpack_from("=I", self.map, s["seq"])[0]
        if seq % 2:
            struct.pack_into("=I", self.map, s["seq"], seq + 1)

    def clients(self):
        """Used entries as (host, port, last_seen_ns)."""
        lay = slot_layout()
        size, field = lay["client_size"], lay["client"]
        out = []
        for i in range(self.header()["max_clients"]):
            off = lay["clients"] + i * size
            if off + size > self.size:
                break
            addr = off + field["addr"]
            seen = struct.unpack_from("=Q", self.map, off + field["last_seen_ns"])[0]
            family = struct.unpack_from("=H", self.map, addr)[0]
            if family == socket.AF_INET:
                port, ip = struct.unpack_from("!H4s", self.map, addr + 2)
                out.append((socket.inet_ntop(socket.AF_INET, ip), port, seen))
            elif family == socket.AF_INET6:
                port, _, ip = struct.unpack_from("!HI16s", self.map, addr + 2)
                out.append((socket.inet_ntop(socket.AF_INET6, ip), port, seen))
        return out

    def close(self):
        self.map.close()
        os.close(self.fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
