#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpus of fuzz_worker_rx: small programs in the input
format that fuzz_worker_rx.c decodes (see setup() and the op switch there),
one per behaviour worth starting from. Rerun after changing that format:

    python3 tests/fuzz/make_worker_seeds.py tests/fuzz/corpus/fuzz_worker_rx
"""
import os
import struct
import sys

# Header flags (setup()). After the header come, in this order: the
# admission byte (ADMISSION, see admission()), the resumed slot (RESUME),
# the clock offset byte (RTC_BEHIND: real time that many ms behind).
BIG_TABLE, BIG_PPT, BIG_PACKET, RESUME, RESUME_STATS, RESUME_MISMATCH, RTC_BEHIND, ADMISSION = \
    1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80
# Receive times (datagram_stamp()), with datagram flag 0x80.
STAMP_NONE, STAMP_PAST, STAMP_AHEAD, STAMP_RAW = 0, 1, 2, 3
# Ops: value % 8. OP_RESPOND replaces the second pooled op in cookie mode.
OP_RESPOND = 1
OP_POOLED, OP_RAW, OP_RING, OP_TIME, OP_TICK, OP_GSO, OP_BURST = 0, 2, 3, 4, 5, 6, 7
GSO_NONE, GSO_V4, GSO_V6, GSO_U16 = 0, 1, 2, 3
EINVAL, EIO, ENOPROTOOPT, EMSGSIZE = 0, 1, 2, 3   # op_gso_failed's table
SLOT_CLIENT = 48                                   # sizeof(struct rf_slot_client)
SLOT_STATS = 272                                   # sizeof(struct rf_slot_stats)


def u8(v):
    return struct.pack("<B", v)


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v)


def header(flags=0, clients=8, ppt=4, max_packet=1400, timeout_s=1, cap=64,
           gso=GSO_V4, gso_value=None, seed=0x1234567890ABCDEF, now_ms=1000):
    """Parameters as setup() decodes them (each value is taken modulo its
    range there, so pass values inside it)."""
    # Values beyond the compact ranges need the wide encodings.
    flags |= (clients > 16) * BIG_TABLE | (ppt > 4) * BIG_PPT | (max_packet > 2048) * BIG_PACKET
    b = u8(flags)
    b += u16(clients - 1) if flags & BIG_TABLE else u8(clients - 1)
    b += u16(ppt - 1) if flags & BIG_PPT else u8(ppt - 1)
    b += u16(max_packet - 1)
    b += u8(timeout_s - 1)
    b += u8(cap - 1)
    b += u8(gso)
    if gso == GSO_U16:
        b += u16(gso_value)
    return b + struct.pack("<Q", seed) + u32(now_ms)


def v4(i):
    """Pooled source i (0..63) over IPv4."""
    return i & 63


def v6(i):
    return 128 | (i & 63)


def bad(i):
    return 192 | (i & 63)


def stamp(kind, value=0, raw=0):
    """A receive time: none, value ms in the past, value us ahead, or raw."""
    b = u8(kind) + u16(value)
    return b + struct.pack("<Q", raw) if kind == STAMP_RAW else b


def dgram(src, length, flags=0, at=None):
    """flags: 0x07 trunc; 0x60 length taken as is (not modulo). at: a
    stamp(); without it the datagram arrived now."""
    if at is not None:
        flags |= 0x80
    return u8(OP_POOLED) + u8(src) + u8(flags) + u16(length) + (at or b"")


def burst(src, length, copies, flags=0, at=None):
    """copies (1..128) of one pooled datagram."""
    if at is not None:
        flags |= 0x80
    return u8(OP_BURST) + u8(copies - 1) + u8(src) + u8(flags) + u16(length) + (at or b"")


def raw(name, namelen, length, flags=0):
    name = name.ljust(28, b"\0")
    return u8(OP_RAW) + u8(namelen) + u8(flags) + name + u16(length)


def ring(src, length, flags=0, namelen=None, controllen=None, res=None, cmsg=False,
         other_cmsg=False, at=None):
    """cmsg: the buffer carries the receive time (after another control
    message with other_cmsg)."""
    how = (namelen is not None) | (controllen is not None) << 1 | (res is not None) << 2 | \
        cmsg << 3 | other_cmsg << 4
    if at is not None:
        flags |= 0x80
    b = u8(OP_RING) + u8(src) + u8(flags) + u8(how) + u16(length) + (at or b"")
    for v in (namelen, controllen, res):
        if v is not None:
            b += u32(v)
    return b


def admission(cookie=True, per_ip=0):
    """The byte after the header when flags has ADMISSION."""
    return u8((0 if cookie else 1) | per_ip << 1)


def respond(src, windows_ago=0, flip=None, hello=False):
    """Cookie mode: src answers the CHALLENGE of windows_ago windows back
    (2: stale), with bit 0 of byte 4 + flip flipped; or sends a HELLO."""
    how = windows_ago & 3
    if flip is not None:
        how |= 4 | (flip % 16) << 3
    if hello:
        how |= 0x80
    return u8(OP_RESPOND) + u8(src) + u8(how)


def advance(ms):
    return u8(OP_TIME) + u16(ms)


def tick(work_ns=20000):
    return u8(OP_TICK) + u32(work_ns)


def gso_failed(err, seg):
    return u8(OP_GSO) + u8(err) + u16(seg)


def seeds():
    s = {}
    # The original benchmark's shape: 10 clients x 1 KiB per tick.
    body = b""
    for _ in range(3):
        body += b"".join(dgram(v4(i), 1024) for i in range(10)) + advance(20) + tick()
    s["broadcast_10x1k"] = header(clients=16, cap=64) + body
    # One GSO run cut by the 64-segment limit, then a short tail.
    s["gso_64_segments"] = header(clients=2, ppt=128, flags=BIG_PPT, cap=128) + \
        b"".join(dgram(v4(0), 100) for _ in range(70)) + dgram(v4(0), 40) + tick()
    # The same, as bursts: 2 x 100 copies interleaved with a second size.
    s["gso_bursts"] = header(clients=4, ppt=256, cap=255) + burst(v4(0), 200, 100) + \
        burst(v4(1), 200, 30) + burst(v4(2), 64, 128) + tick()
    # 1472-byte segments: 44 fit in 65,507 bytes.
    s["gso_byte_limit"] = header(ppt=64, max_packet=1472, cap=64) + \
        b"".join(dgram(v4(i % 2), 1472) for i in range(60)) + tick()
    # Runs of mixed sizes: equal, shorter (ends a run), empty, larger.
    sizes = [500, 500, 500, 200, 500, 0, 0, 700, 700, 1400, 1400, 1, 1500]
    s["gso_mixed_sizes"] = header(ppt=32, cap=64, max_packet=1500) + \
        b"".join(dgram(v4(0), n) for n in sizes) + tick()
    # The kernel refuses GSO: the cap drops, then GSO ends.
    s["gso_refused"] = header(ppt=16) + b"".join(dgram(v4(0), 1000) for _ in range(8)) + \
        gso_failed(EMSGSIZE, 1001) + tick() + b"".join(dgram(v4(0), 1000) for _ in range(8)) + \
        gso_failed(EIO, 1000) + tick()
    # A stall: 3 ticks' backlog (20 ms ticks: the seed's tick_hz is
    # 1 + seed % 1000 = 50) drained in one tick. Within the cap per arrival
    # tick nothing drops; a flooder still gets the cap of each tick.
    seed50 = 0x1234567890ABCDEF - 0x1234567890ABCDEF % 1000 + 49
    body = b""
    for age in (60, 40, 20):
        body += b"".join(dgram(v4(1), 64, at=stamp(STAMP_PAST, age)) for _ in range(3))
        body += burst(v4(2), 64, 10, at=stamp(STAMP_PAST, age))
    body += dgram(v4(1), 64, at=stamp(STAMP_NONE)) + dgram(v4(1), 64, at=stamp(STAMP_AHEAD, 5)) + \
        dgram(v4(1), 64, at=stamp(STAMP_RAW, raw=(1 << 64) - 1)) + tick()
    s["flood_backlog"] = header(ppt=3, seed=seed50) + body
    # The same with the real-time clock behind the monotonic one.
    s["flood_backlog_rtc_behind"] = header(flags=RTC_BEHIND, ppt=3, seed=seed50) + u8(200) + body
    # Ring buffers with a receive time, alone or after another message.
    s["ring_stamps"] = header(ppt=2, seed=seed50) + \
        ring(v4(0), 100, cmsg=True, at=stamp(STAMP_PAST, 100)) + \
        ring(v4(0), 100, cmsg=True, other_cmsg=True, at=stamp(STAMP_PAST, 100)) + \
        ring(v4(0), 100, cmsg=True, at=stamp(STAMP_PAST, 100)) + \
        ring(v4(0), 100, cmsg=True, at=stamp(STAMP_PAST, 60)) + \
        ring(v4(0), 100, cmsg=True, controllen=8, at=stamp(STAMP_PAST, 40)) + tick()
    # One client over max_packets_per_tick, another within.
    s["flood"] = header(ppt=3) + b"".join(dgram(v4(1), 64) for _ in range(6)) + \
        dgram(v4(2), 64) + tick() + dgram(v4(1), 64) + tick()
    # More sources than max_clients; the table frees up after expiry.
    s["table_full_then_expiry"] = header(clients=4, timeout_s=1) + \
        b"".join(dgram(v4(i), 32) for i in range(6)) + tick() + advance(1500) + \
        dgram(v4(0), 32) + tick() + b"".join(dgram(v4(i + 8), 32) for i in range(4)) + tick()
    # Expiry with a big table: hash clusters and backward-shift deletes.
    body = b"".join(dgram(v4(i), 16) + dgram(v6(i), 16) for i in range(64)) + tick()
    body += advance(900) + b"".join(dgram(v4(i), 16) for i in range(0, 64, 3)) + tick()
    body += advance(900) + tick() + b"".join(dgram(v6(i), 16) for i in range(0, 64, 5)) + tick()
    s["many_clients_expire"] = header(flags=BIG_TABLE, clients=200, cap=255, ppt=2) + body
    # Not clients: oversize, truncated, other families, short names.
    s["drops"] = header(max_packet=1000) + dgram(v4(0), 1001, 0x60) + \
        dgram(v4(0), 10, 0x07) + dgram(bad(0), 10) + dgram(bad(1), 10) + dgram(bad(3), 10) + \
        raw(b"\x02\x00\x1f\x90\x7f\x00\x00\x01", 8, 10) + \
        raw(b"\x0a\x00\x1f\x90", 27, 10) + dgram(v6(9), 10) + tick()
    # Raw addresses: sin_zero and flowinfo must not make a new client.
    s["raw_names"] = header() + \
        raw(b"\x02\x00\x1f\x90\x7f\x00\x00\x01" + b"\xff" * 8, 16, 10) + \
        raw(b"\x02\x00\x1f\x90\x7f\x00\x00\x01", 16, 10) + \
        raw(b"\x0a\x00\x1f\x90\x11\x22\x33\x44" + b"\x00" * 15 + b"\x01" + u32(0), 28, 10) + \
        raw(b"\x0a\x00\x1f\x90\x00\x00\x00\x00" + b"\x00" * 15 + b"\x01" + u32(0), 28, 10) + tick()
    # The ring's buffers: ordinary, truncated, short completion, odd
    # header lengths.
    s["ring_buffers"] = header(max_packet=512) + ring(v4(0), 100) + ring(v4(1), 600, 0x60) + \
        ring(v4(2), 100, res=20) + ring(v4(3), 100, res=50) + \
        ring(v4(4), 100, namelen=1000) + ring(v6(5), 64, namelen=3) + \
        ring(v4(6), 100, controllen=64) + ring(v4(7), 0) + tick()
    # A restarted worker finds its predecessor's clients (and junk).
    entries = b""
    for i in range(6):
        entries += u8(0) + u8(v4(i)) + u32(500 + i)
    entries += u8(0) + u8(v4(2)) + u32(7)           # duplicate: dropped
    entries += u8(1) + (b"\x02\x00" + b"\x00" * 26 + u32(28)).ljust(SLOT_CLIENT, b"\0")
    entries += u8(1) + b"\xee" * SLOT_CLIENT
    s["resume_slot"] = header(flags=RESUME, clients=12, timeout_s=3) + u8(9) + entries + \
        dgram(v4(0), 10) + dgram(v4(9), 10) + advance(2000) + tick()
    s["resume_mismatch"] = header(flags=RESUME | RESUME_MISMATCH, clients=4) + u8(2) + \
        u8(0) + u8(v4(1)) + u32(1) + u8(0) + u8(v4(2)) + u32(1) + dgram(v4(3), 10) + tick()
    s["resume_stats"] = header(flags=RESUME | RESUME_STATS, clients=4) + u8(0) + \
        bytes(i % 256 for i in range(SLOT_STATS)) + dgram(v4(1), 10) + tick()
    # Jumbo datagrams with GSO configured beyond what fits a send.
    s["jumbo"] = header(flags=BIG_PACKET, max_packet=65507, gso=GSO_U16, gso_value=65535,
                        ppt=4) + dgram(v4(0), 40000) + dgram(v4(0), 30000) + \
        dgram(v4(0), 65507) + dgram(v4(0), 2) + tick()
    # Admission, cookie: two handshakes from 127.0.0.1 (pooled 0 and 8)
    # whose game data ends their probation, so that a third (16) is
    # refused by the per-address cap of 2; game data and short datagrams
    # from unknown sources (CHALLENGEs); RESPONSEs for a window before the
    # key was installed, a stale and a forged window; HELLOs from an
    # admitted client and an unknown one. Later the idle one of the two (8, silent past the
    # grace period) makes room for 16, and after the timeout a newcomer
    # answers the challenge of the window before the current one.
    body = respond(v4(0)) + respond(v4(8)) + dgram(v4(0), 100) + dgram(v4(8), 100) + \
        respond(v4(16)) + dgram(v4(1), 100) + dgram(v4(2), 10) + \
        respond(v4(1), windows_ago=1) + respond(v4(3), windows_ago=2) + \
        respond(v4(4), flip=3) + respond(v4(0), hello=True) + respond(v4(5), hello=True) + \
        tick() + advance(1000) + dgram(v4(0), 64) + tick() + advance(700) + \
        respond(v4(16)) + dgram(v4(16), 64) + dgram(v4(0), 64) + tick() + \
        advance(12000) + respond(v4(2), windows_ago=1) + dgram(v4(2), 64) + tick()
    s["cookie_handshake"] = header(flags=ADMISSION, clients=4, timeout_s=3,
                                   now_ms=3600000) + admission(per_ip=2) + body
    # Cookie mode through the ring: an unknown source's game data gets a
    # CHALLENGE, unless the header claims a name longer than any address
    # (the ring's name area is 32 bytes): no reply fits that.
    s["cookie_ring_names"] = header(flags=ADMISSION) + admission() + ring(v6(1), 40) + \
        ring(v6(2), 40, namelen=32) + ring(v4(3), 40, namelen=30) + tick()
    # Squatters: a full table of clients that send every few seconds, a
    # newcomer every tick, and a HELLO flood over the reply budget.
    body = b"".join(respond(v4(i)) for i in range(8)) + tick() + advance(1600)
    body += b"".join(respond(v4(8 + i)) + tick() for i in range(4))
    body += b"".join(respond(v6(i), hello=True) for i in range(60)) + respond(v4(20)) + tick()
    s["cookie_squatters"] = header(flags=ADMISSION, clients=8, now_ms=7200000) + \
        admission() + body
    # Open mode with a per-address cap of 1: refused, then replaced once idle.
    s["open_per_ip"] = header(flags=ADMISSION, clients=4) + admission(False, 1) + \
        dgram(v4(0), 50) + dgram(v4(8), 50) + tick() + advance(1600) + dgram(v4(8), 50) + \
        dgram(v6(1), 50) + dgram(v6(2), 50) + tick()
    # Eviction meets the arrival-tick cap: a client uses its allowance,
    # falls idle past the grace period (not the timeout), and a newcomer
    # takes its entry with a datagram stamped in that same arrival tick
    # (a backlog after a stall; a tick is 20 ms with seed50): the newcomer's allowance is its own.
    # Open mode with a per-address cap of 1 (pooled 0 and 8 share
    # 127.0.0.1), then cookie mode in a full table.
    body = burst(v4(0), 64, 3) + tick() + advance(1600) + \
        burst(v4(8), 64, 3, at=stamp(STAMP_PAST, 1620)) + tick()
    s["evict_flood_open"] = header(flags=ADMISSION, clients=4, ppt=2, timeout_s=3,
                                   seed=seed50) + admission(False, 1) + body
    body = respond(v4(0)) + burst(v4(0), 64, 3) + tick() + advance(1600) + respond(v4(1)) + \
        burst(v4(1), 64, 3, at=stamp(STAMP_PAST, 1620)) + tick()
    s["evict_flood_cookie"] = header(flags=ADMISSION, clients=1, ppt=2, timeout_s=3,
                                     seed=seed50, now_ms=3600000) + admission() + body
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "corpus", "fuzz_worker_rx")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds())} seeds in {out}")


if __name__ == "__main__":
    main()
