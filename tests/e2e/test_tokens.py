#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Connect tokens end to end (issue 13): a standalone worker with
admission = token (the host key on --token-key-fd, as ringfleetd hands it)
runs the echo test module; tokens are sealed by tests/token_seal.c with
the same key file. Admitted: a valid token, and the module sees the
player id (rf_client_player). Refused: expired (5), for another server
(4), forged (4), for another allocation than the slot's (4), a player's
second admission (6) -- also after a worker restart, since the used-player
table lives in the slot. Nothing is ever answered with more bytes than the
datagram that caused it, and a source without a token gets nothing.
Then ringfleetd: --gen-token-key, token_key_file refused at --check
(mode, symlink), and a token server started with the key.

    test_tokens.py --backend io_uring|mmsg
"""

import argparse
import base64
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rftest as rt  # noqa: E402
from test_worker import Worker  # noqa: E402

SERVER = "e2e"  # test_worker.Worker's --name
BAD, EXPIRED, REPLAY = 4, 5, 6


def seal(keyfile, player, server=SERVER, alloc_id=0, expiry=None):
    if expiry is None:
        expiry = int(time.time()) + 60
    out = subprocess.run([rt.bin_path("token_seal"), keyfile, server, player, str(alloc_id),
                          str(expiry)], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def raw(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def client():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((rt.loopback_source(), 0))
    return s


def refused(sock, addr, token):
    """The REFUSED reason token earns, failing if it is admitted."""
    try:
        rt.token_handshake(sock, addr, token, timeout=10)
    except rt.Refused as e:
        return e.reason
    rt.fail("admitted, expected a REFUSED")


def ask(sock, addr, msg, prefix, timeout=10.0):
    """Sends msg until an answer starting with prefix comes back."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sock.sendto(msg, addr)
        sock.settimeout(0.3)
        try:
            while True:
                data = sock.recv(65536)
                if data.startswith(prefix):
                    return data
        except socket.timeout:
            pass
    rt.fail(f"no {prefix!r} answer to {msg!r}")


def replies_within(sock, sent_len, quiet=0.5):
    """Everything sock receives until quiet: each must be <= sent_len."""
    got = []
    sock.settimeout(quiet)
    try:
        while True:
            got.append(sock.recv(65536))
    except socket.timeout:
        pass
    for g in got:
        rt.check(len(g) <= sent_len, f"reply of {len(g)} bytes to {sent_len}: amplification")
    return got


def set_session(slot, state, alloc_id):
    """Plays the supervisor: the slot's session area shows state (1 ready,
    2 allocated) and allocation alloc_id (seqlock: odd while writing)."""
    ses = rt.slot_layout()["session"]
    seq = struct.unpack_from("=I", slot.map, ses["seq"])[0] & ~1
    struct.pack_into("=I", slot.map, ses["seq"], seq + 1)
    struct.pack_into("=I", slot.map, ses["state"], state)
    struct.pack_into("=Q", slot.map, ses["alloc_id"], alloc_id)
    struct.pack_into("=I", slot.map, ses["seq"], seq + 2)


def spoofed(keyfile, addr):
    """A raw socket forges TOKENs (expired, flipped, then a valid stolen
    one) and other datagrams in a victim's name: the victim receives fewer
    bytes than were forged in its name, and only 8-byte replies."""
    try:
        from test_attacks import Forger
        forger = Forger()
    except SystemExit:
        rt.log("spoofed source: no raw socket here, skipped")
        return
    rt.log("spoofed source: the victim gets less than was forged in its name")
    victim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    victim.bind(("127.5.9.9", 0))
    src = victim.getsockname()
    msgs = [b"RFT1" + raw(seal(keyfile, "mallory", expiry=int(time.time()) - 1)),
            b"RFT1" + raw(seal(keyfile, "oscar"))[:-1] + b"\0",
            b"g" * 100, b"RFH1" + b"\0" * 40]
    for _ in range(5):
        for m in msgs:
            forger.send(src, addr, m)
    # A stolen valid token, last: it admits the victim's address (tokens
    # are bearer secrets), which still gets only an 8-byte WELCOME.
    forger.send(src, addr, b"RFT1" + raw(seal(keyfile, "stolen")))
    got = replies_within(victim, 8, quiet=1.0)
    forged = forger.bytes.get(src, 0)
    total = sum(len(g) for g in got)
    rt.check(total < forged, f"victim got {total} B for {forged} B forged")
    rt.check(all(len(g) == 8 for g in got), f"victim got {got}")
    rt.log(f"  victim: {len(got)} replies, {total} B for {forged} B forged")
    forger.close()
    victim.close()


def worker_tests(backend, keyfile):
    kfd = os.open(keyfile, os.O_RDONLY)
    slot = rt.Slot(8)
    try:
        w = Worker(backend, max_clients=8, slot=slot, pass_fds=[kfd],
                   extra=["--game", rt.game_path("echo"), "--admission", "token",
                          "--token-key-fd", kfd])
        addr = (rt.HOST, w.port)
        a, b, c = client(), client(), client()

        rt.log("valid token: admitted, the module sees the player id")
        tok = seal(keyfile, "alice")
        rt.token_handshake(a, addr, tok)
        rt.check(ask(a, addr, b"player", b"player ") == b"player alice", "player id")
        # A lost WELCOME: the same TOKEN from the admitted source is
        # answered again, not counted as a replay.
        rt.token_handshake(a, addr, tok)

        rt.log("replay: the same player from another address")
        rt.check(refused(b, addr, tok) == REPLAY, "same token replayed")
        rt.check(refused(b, addr, seal(keyfile, "alice")) == REPLAY, "fresh token, same player")

        rt.log("expired, another server, forged")
        rt.check(refused(b, addr, seal(keyfile, "bob", expiry=int(time.time()) - 1)) == EXPIRED,
                 "expired")
        rt.check(refused(b, addr, seal(keyfile, "bob", server="e2e-2")) == BAD, "other server")
        forged = bytearray(raw(seal(keyfile, "bob")))
        forged[40] ^= 1
        rt.check(refused(b, addr, bytes(forged)) == BAD, "flipped byte")
        forged = bytearray(raw(seal(keyfile, "bob")))
        forged[8] ^= 1  # a later (or earlier) expiry in the public header
        rt.check(refused(b, addr, bytes(forged)) == BAD, "changed expiry")

        rt.log("no amplification: replies never exceed what was sent")
        expired = b"RFT1" + raw(seal(keyfile, "carol", expiry=int(time.time()) - 5))
        c.sendto(expired, addr)
        got = replies_within(c, len(expired))
        rt.check(got and all(rt.refused_reason(g) == EXPIRED for g in got), f"expired: {got}")
        # Not a token (too short), game data, a HELLO: nothing at all.
        for msg in (b"RFT1" + b"\0" * 60, b"x" * 64, b"player", b"RFH1" + b"\0" * 60):
            c.sendto(msg, addr)
            got = replies_within(c, len(msg))
            rt.check(got == [], f"{msg[:6]!r}... from a stranger got {got}")

        spoofed(keyfile, addr)

        rt.log("allocation: a token of another allocation is refused; a new one starts fresh")
        set_session(slot, 1, 0)  # ready: waiting for a match, no token is of it
        rt.check(refused(b, addr, seal(keyfile, "dave", alloc_id=3)) == BAD, "token while ready")
        set_session(slot, 2, 7)
        rt.check(refused(b, addr, seal(keyfile, "dave", alloc_id=3)) == BAD, "other allocation")
        rt.token_handshake(b, addr, seal(keyfile, "alice", alloc_id=7))
        rt.check(ask(b, addr, b"player", b"player ") == b"player alice", "player id, alloc 7")

        rt.log("docs/examples/token_client.py connects with a token")
        ex = os.path.join(os.environ.get("RF_SRC_DIR", "."), "docs/examples/token_client.py")
        r = subprocess.run([sys.executable, ex, rt.HOST, str(w.port),
                            seal(keyfile, "frank", alloc_id=7)],
                           capture_output=True, text=True, timeout=30)
        rt.check(r.returncode == 0 and "admitted" in r.stdout and "hello" in r.stdout,
                 f"example client: rc {r.returncode} {r.stdout} {r.stderr}")

        rt.log("crash and restart: the used-player table and player ids survive in the slot")
        w.proc.stop(signal.SIGKILL)  # a graceful stop would end the session
        w = Worker(backend, max_clients=8, slot=slot, port=w.port, pass_fds=[kfd],
                   extra=["--game", rt.game_path("echo"), "--admission", "token",
                          "--token-key-fd", kfd])
        rt.check(refused(c, addr, seal(keyfile, "alice", alloc_id=7)) == REPLAY,
                 "replay after a restart")
        rt.check(ask(b, addr, b"player", b"player ") == b"player alice", "resumed player id")
        w.stop()
        for s in (a, b, c):
            s.close()
    finally:
        os.close(kfd)
        slot.close()


def daemon_tests(tmp):
    d_bin = rt.bin_path("ringfleetd")
    key = os.path.join(tmp, "token.key")
    rt.log("--gen-token-key: mode 0600, never overwrites")
    r = subprocess.run([d_bin, "--gen-token-key", key], capture_output=True, text=True)
    rt.check(r.returncode == 0, f"--gen-token-key: {r.stderr}")
    rt.check(os.stat(key).st_mode & 0o777 == 0o600, "key file mode")
    rt.check(len(open(key).read()) == 65, "64 hex digits and a newline")
    r = subprocess.run([d_bin, "--gen-token-key", key], capture_output=True, text=True)
    rt.check(r.returncode != 0 and "exists" in r.stderr, f"overwrote: {r.stderr}")

    port, api_port = rt.free_port(), rt.free_tcp_port()
    cfg = os.path.join(tmp, "rf.ini")
    api_token = "t" * 40
    api_file = os.path.join(tmp, "api.token")
    fd = os.open(api_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, api_token.encode())
    os.close(fd)

    def write_cfg(keypath):
        with open(cfg, "w") as f:
            f.write(f"[supervisor]\ncontrol_socket = {tmp}/ctl.sock\n"
                    f"token_key_file = {keypath}\ntoken_ttl_s = 30\n"
                    f"api_listen = 127.0.0.1:{api_port}\napi_token_file = {api_file}\n\n"
                    f"[server tok]\nbind = {rt.HOST}\nport = {port}\nadmission = token\n"
                    f"game = {rt.game_path('echo')}\n")

    rt.log("--check: token_key_file mode, symlink")
    write_cfg(key)
    r = subprocess.run([d_bin, "--check", cfg], capture_output=True, text=True)
    rt.check(r.returncode == 0, f"--check: {r.stdout}{r.stderr}")
    os.chmod(key, 0o644)
    r = subprocess.run([d_bin, "--check", cfg], capture_output=True, text=True)
    rt.check(r.returncode == 1 and f"{cfg}:3: token_key_file" in r.stderr and "mode 0644" in
             r.stderr, f"--check with mode 0644: {r.stderr}")
    os.chmod(key, 0o600)
    link = os.path.join(tmp, "link.key")
    os.symlink(key, link)
    write_cfg(link)
    r = subprocess.run([d_bin, "--check", cfg], capture_output=True, text=True)
    rt.check(r.returncode == 1 and "symbolic link" in r.stderr, f"--check with a symlink: {r.stderr}")
    write_cfg(key)

    rt.log("ringfleetd hands the key to a token server without argv")
    with rt.Proc([d_bin, "-c", cfg, "--worker", rt.bin_path("ringfleet-worker")]) as d:
        def worker_pid():
            for pid in os.listdir("/proc"):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        argv = f.read().split(b"\0")
                except OSError:
                    continue
                if argv and argv[0].endswith(b"ringfleet-worker") and b"--name=tok" in argv:
                    return pid, argv
            return None
        found = rt.wait_for(worker_pid, 20, "the token server's worker")
        argv = b" ".join(found[1])
        rt.check(open(key).read().strip().encode() not in argv, "key in argv")
        rt.check(b"--token-key-fd=" in argv, f"no --token-key-fd: {argv}")
        rt.log("allocate --players: one token per player, valid for the allocation only")
        ctl = [rt.bin_path("ringfleetctl"), "--socket", f"{tmp}/ctl.sock"]

        def allocated():
            r = subprocess.run(ctl + ["allocate", "--players", "gina,hank", "--json"],
                               capture_output=True, text=True, timeout=30)
            return json.loads(r.stdout) if r.returncode == 0 else None
        alloc = rt.wait_for(allocated, 20, "an allocation of the token server")
        toks = alloc.get("tokens", {})
        rt.check(set(toks) == {"gina", "hank"}, f"tokens: {alloc}")
        rt.check(abs(alloc["tokens_expiry"] - time.time() - 30) < 10, f"expiry: {alloc}")
        g, h, x = client(), client(), client()
        rt.token_handshake(g, (rt.HOST, port), toks["gina"], timeout=10)
        rt.check(ask(g, (rt.HOST, port), b"player", b"player ") == b"player gina",
                 "allocated player id")
        rt.check(refused(x, (rt.HOST, port), toks["gina"]) == REPLAY, "allocated token replay")
        # The self-sealed token of no allocation is not one for this match.
        rt.check(refused(x, (rt.HOST, port), seal(key, "ivan", server="tok")) == BAD,
                 "a token of another allocation")
        rt.token_handshake(h, (rt.HOST, port), toks["hank"], timeout=10)
        r = subprocess.run(ctl + ["allocate", "--players", "gina"], capture_output=True,
                           text=True, timeout=30)
        rt.check(r.returncode != 0, "a second allocation of the only server")
        for c in (g, h, x):
            c.close()

        rt.log("HTTP: POST /v1/allocate with players returns tokens too")
        r = subprocess.run(ctl + ["release", "tok"], capture_output=True, text=True, timeout=30)
        rt.check(r.returncode == 0, f"release: {r.stdout}{r.stderr}")

        def http_alloc():
            c = http.client.HTTPConnection("127.0.0.1", api_port, timeout=10)
            try:
                c.request("POST", "/v1/allocate", body=json.dumps({"players": ["jill"]}),
                          headers={"Authorization": "Bearer " + api_token})
                resp = c.getresponse()
                body = resp.read()
            except OSError:
                return None
            finally:
                c.close()
            return json.loads(body) if resp.status == 200 else None
        alloc = rt.wait_for(http_alloc, 30, "an HTTP allocation after the release")
        j = client()
        rt.token_handshake(j, (rt.HOST, port), alloc["tokens"]["jill"], timeout=10)
        rt.check(ask(j, (rt.HOST, port), b"player", b"player ") == b"player jill",
                 "player id of an HTTP allocation")
        j.close()
        d.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="mmsg")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o700)
        key = os.path.join(tmp, "w.key")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, os.urandom(32))  # the raw form: 32 bytes
        os.close(fd)
        worker_tests(args.backend, key)
        daemon_tests(tmp)
    rt.log("ok")


if __name__ == "__main__":
    main()
