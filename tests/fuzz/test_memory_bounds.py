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
