"""Memory stays bounded under a stream of garbage: measured with tracemalloc.

A line can deliver anything for as long as it likes: random bytes, one
frame that never ends, a modem that never ends its line.  Each receiver
here is fed 2 MiB of such input (the modem parsers 1 MiB) in 4 KiB reads
(what a tty read returns) and the peak of the memory traced while it runs
must stay under ``PEAK_LIMIT`` -- a receiver that kept what it cannot use
would grow with the input instead.
"""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Callable, Iterator

import pytest

from ndiswan.ppp import AuthRequirement, PppConfig, PppSession
from ndiswan.ppp.ccp.bsdcomp import FIRST, STORED_STRING, BsdDecompressor
from ndiswan.ppp.ccp.deflate import DeflateDecompressor
from ndiswan.ppp.ccp.methods import DecompressFailed, Decompressor
from ndiswan.ppp.vj import PROTO_VJ_COMPRESSED, PROTO_VJ_UNCOMPRESSED, VjDecompressor, ip_checksum
from tests.fuzz.budget import watchdog
from tests.fuzz.seeds import wire_streams
from wanminiport.framing import PppAsyncFramer
from wanminiport.mcm import ChatInterpreter, HayesDialer
from wanminiport.mcm.results import ResultParser

TOTAL = 2 << 20
READ = 4096
PEAK_LIMIT = 512 * 1024


def random_with_flags() -> Iterator[bytes]:
    rng = random.Random(1)
    for _ in range(TOTAL // READ):
        chunk = bytearray(rng.randbytes(READ))
        for _ in range(8):
            chunk[rng.randrange(READ)] = 0x7E
        yield bytes(chunk)


def no_flag_ever() -> Iterator[bytes]:
    block = bytes(value for value in range(256) if value != 0x7E) * 16
    for _ in range(TOTAL // READ):
        yield block[:READ]


def real_streams_with_noise() -> Iterator[bytes]:
    """Real pppd traffic, repeated, with a byte in 200 replaced."""
    rng = random.Random(2)
    source = b"".join(wire_streams().values())
    sent = 0
    while sent < TOTAL:
        chunk = bytearray(source[rng.randrange(len(source)) :][:READ].ljust(READ, b"\x7e"))
        for _ in range(READ // 200):
            chunk[rng.randrange(READ)] = rng.randrange(256)
        sent += READ
        yield bytes(chunk)


def modem_never_ends_a_line() -> Iterator[bytes]:
    # Half as much: three parsers that go octet by octet in Python eat it.
    for _ in range(TOTAL // 2 // READ):
        yield b"RING RING " * (READ // 10) + b"RIN"[: READ % 10]


def peak_while(feed: Callable[[bytes], None], chunks: Iterator[bytes]) -> int:
    """The traced memory peak above the start while ``feed`` eats every chunk."""
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for chunk in chunks:
            feed(chunk)
        return tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()


def ppp_receive_path() -> Callable[[bytes], None]:
    framer = PppAsyncFramer()
    session = PppSession(
        PppConfig(name="hub", require_auth=AuthRequirement.CHAP),
        secrets=lambda c, s: None,
        rng=random.Random(3).randbytes,
    )
    session.open(0.0)
    session.lower_up(0.0)
    clock = [0.0]

    def feed(chunk: bytes) -> None:
        clock[0] += 0.01
        for frame in framer.decode(chunk):
            session.receive_frame(frame, clock[0])
        session.drain()
        timer = session.get_timer()
        if timer is not None and timer <= clock[0]:
            session.handle_timer(clock[0])
        assert framer.buffered <= 2 * (1500 + 8)

    return feed


@pytest.mark.parametrize("stream", [random_with_flags, no_flag_ever, real_streams_with_noise])
def test_ppp_receive_path_memory_is_bounded(stream: Callable[[], Iterator[bytes]]) -> None:
    """Expected: 2 MiB of garbage through framer and session peaks under 512 KiB."""
    with watchdog("memory: 2 MiB into framer + PPP session", 120):
        peak = peak_while(ppp_receive_path(), stream())
    print(f"\n{stream.__name__}: peak {peak / 1024:.0f} KiB over {TOTAL >> 20} MiB")
    assert peak < PEAK_LIMIT


def test_modem_parsers_memory_is_bounded() -> None:
    """Expected: a modem that never ends its line costs at most one line of memory,
    in the result parser, the dialer and a chat script waiting for CONNECT."""
    parser, dialer = ResultParser(), HayesDialer()
    dialer.answer(0.0)
    chat = ChatInterpreter(["", "ATZ", "CONNECT", ""], timeout=0)
    chat.start(0.0)

    def feed(chunk: bytes) -> None:
        parser.feed(chunk)
        dialer.receive_data(chunk, 0.0)
        dialer.drain()
        chat.receive_data(chunk, 0.0)
        chat.drain()

    with watchdog("memory: 1 MiB into the AT parser, dialer and chat", 120):
        peak = peak_while(feed, modem_never_ends_a_line())
    print(f"\nmodem parsers: peak {peak / 1024:.0f} KiB over {TOTAL >> 21} MiB")
    assert peak < PEAK_LIMIT
    assert len(parser.pending) <= parser.max_line and not chat.done


# -- the decompressors ------------------------------------------------------------

#: BSD-Compress at 15 bits: its hash table, 2**15 codes, each kept string up to
#: ``STORED_STRING`` octets (ndiswan/ppp/ccp/bsdcomp.py's stated bound).
BSD_LIMIT = 8 << 20
PACKETS = TOTAL // 1024


def garbage_packets(seed: int) -> Iterator[bytes]:
    """Packets of random octets with the sequence number the receiver expects."""
    rng = random.Random(seed)
    for seq in range(PACKETS):
        yield (seq & 0xFFFF).to_bytes(2, "big") + rng.randbytes(rng.randrange(1, 2048))


def bsd_growing_strings() -> Iterator[bytes]:
    """The worst a peer can do to a BSD receiver's memory: fill every code with a
    string of ``STORED_STRING`` octets (the longest kept whole), and grow one chain
    past it to 600 octets, each link rebuilt when it is sent.  Each packet is one
    (prefix, octet) pair, so it defines one string and no two share a key: the
    hash table stays as a compressor would fill it."""
    full = (1 << 15) - 1
    max_ent, n_bits, seq = FIRST - 1, 9, 0

    def packet(prefix: int, octet: int) -> bytes:
        nonlocal max_ent, n_bits, seq
        bits, count = (prefix << n_bits | octet) << 2, 2 * n_bits + 2
        pad = -count % 8
        bits, count = bits << pad | (1 << (pad + 2)) - 1, count + pad
        data = (seq & 0xFFFF).to_bytes(2, "big") + bits.to_bytes(count // 8, "big")
        seq, max_ent = seq + 1, max_ent + 1
        if max_ent >= (1 << n_bits) - 1 and max_ent < full:
            n_bits += 1
        return data

    chain = ord("a")  # "a" * length
    for _length in range(1, STORED_STRING - 2):
        yield packet(chain, ord("a"))
        chain = max_ent
    # STORED_STRING - 1 octets: "a" * (STORED_STRING - 2) + each other octet.
    prefixes = [chain]
    for octet in range(256):
        if octet != ord("a") and max_ent < full:
            yield packet(chain, octet)
            prefixes.append(max_ent)
    longest, longest_length = prefixes[1], STORED_STRING - 1
    for prefix in prefixes:
        for octet in range(256):
            if max_ent >= full:
                return
            if max_ent % 8 == 0 and longest_length < 600:
                yield packet(longest, ord("z"))
                longest, longest_length = max_ent, longest_length + 1
            else:
                yield packet(prefix, octet)


def decompressor_feed(
    make: Callable[[], Decompressor],
) -> tuple[Callable[[bytes], None], list[int]]:
    """Feed packets into a decompressor made on the first packet (inside the trace);
    after a failure it is reset, as a Reset-Ack would, and numbering starts again."""
    made: list[Decompressor] = []
    counts = [0, 0]  # decoded, failed

    def feed(packet: bytes) -> None:
        if not made:
            made.append(make())
        result = made[0].decompress(packet)
        if isinstance(result, DecompressFailed):
            counts[1] += 1
            made[0].reset()
        else:
            assert len(result.payload) <= 1500
            counts[0] += 1

    return feed, counts


@pytest.mark.parametrize(
    ("name", "make", "limit"),
    [
        ("Deflate 15", lambda: DeflateDecompressor(15), PEAK_LIMIT),
        ("BSD-Compress 15", lambda: BsdDecompressor(15), BSD_LIMIT),
    ],
)
def test_decompressor_memory_is_bounded_under_garbage(
    name: str, make: Callable[[], Decompressor], limit: int
) -> None:
    """Expected: 2 MiB of garbage packets cost a decompressor no more than its bound."""
    feed, counts = decompressor_feed(make)
    with watchdog(f"memory: 2 MiB of garbage into {name}", 120):
        peak = peak_while(feed, garbage_packets(7))
    print(f"\n{name}: peak {peak / 1024:.0f} KiB, {counts[1]} of {sum(counts)} packets dropped")
    assert counts[1] > 0 and peak < limit


def test_bsd_receiver_memory_is_bounded_when_the_peer_grows_strings() -> None:
    """Expected: 2**15 codes of kept strings and one long rebuilt chain stay under
    BSD_LIMIT, and every packet decodes."""
    feed, counts = decompressor_feed(lambda: BsdDecompressor(15))
    with watchdog("memory: BSD-Compress strings grown to the MRU", 120):
        peak = peak_while(feed, bsd_growing_strings())
    print(f"\nBSD-Compress, strings grown: peak {peak / 1024:.0f} KiB, {counts[0]} packets")
    assert counts == [(1 << 15) - FIRST, 0]
    assert peak < BSD_LIMIT


def test_vj_memory_is_bounded_under_garbage() -> None:
    """Expected: 256 slots of headers at most, whatever arrives."""
    made: list[VjDecompressor] = []
    rng = random.Random(8)
    protocols = (PROTO_VJ_COMPRESSED, PROTO_VJ_UNCOMPRESSED)

    def feed(packet: bytes) -> None:
        if not made:
            made.append(VjDecompressor(255))
        # An uncompressed-TCP header that passes the checks, or garbage.
        if packet[0] & 1:
            header = bytearray(packet[2:42].ljust(40, b"\0"))
            header[0], header[9], header[32] = 0x45, packet[1], 0x50
            header[10:12] = b"\0\0"
            header[10:12] = ip_checksum(header[:9] + b"\x06" + header[10:20]).to_bytes(2, "big")
            made[0].decompress(PROTO_VJ_UNCOMPRESSED, bytes(header) + packet[42:])
        else:
            made[0].decompress(rng.choice(protocols), packet[2:])

    with watchdog("memory: 2 MiB of garbage into VJ", 120):
        peak = peak_while(feed, garbage_packets(9))
    print(f"\nVJ, 256 slots: peak {peak / 1024:.0f} KiB")
    assert peak < PEAK_LIMIT
