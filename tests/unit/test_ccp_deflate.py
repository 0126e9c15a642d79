"""RFC 1979 Deflate: round trips, the sequence number, incompressible packets, zlib as referee."""

from __future__ import annotations

import random
import zlib

import pytest

from ndiswan.ppp.ccp.deflate import DeflateCompressor, DeflateDecompressor
from ndiswan.ppp.ccp.methods import Decompressed, DecompressFailed

TEXT = b"GET /index.html HTTP/1.1\r\nHost: example.org\r\nAccept: */*\r\n\r\n" * 8


def _random(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def send(
    comp: DeflateCompressor, decomp: DeflateDecompressor, protocol: int, payload: bytes
) -> bool:
    """One datagram across; True when it went compressed."""
    wire = comp.compress(protocol, payload)
    if wire is None:
        decomp.incompressible(protocol, payload)
        return False
    assert decomp.decompress(wire) == Decompressed(protocol, payload)
    return True


@pytest.mark.parametrize("window_bits", [9, 12, 15])
def test_text_and_random_round_trip(window_bits: int) -> None:
    comp, decomp = DeflateCompressor(window_bits), DeflateDecompressor(window_bits)
    rng = random.Random(window_bits)
    went: dict[str, list[bool]] = {"text": [], "random": []}
    for index in range(200):
        kind = "text" if index % 2 else "random"
        payload = (
            TEXT[: rng.randrange(64, len(TEXT))]
            if kind == "text"
            else _random(rng.randrange(1, 1500), index)
        )
        went[kind].append(send(comp, decomp, 0x0021, payload))
    # Every packet round-tripped (``send`` checks it); random data went as it was, and
    # text shrank -- with the smallest history some of it may not.
    assert not any(went["random"])
    text = went["text"]
    assert sum(text) == len(text) if window_bits >= 12 else sum(text) >= len(text) // 2


def test_window_size_8_is_refused_as_linux_does() -> None:
    with pytest.raises(ValueError, match=r"outside 9\.\.15"):
        DeflateCompressor(8)
    with pytest.raises(ValueError, match=r"outside 9\.\.15"):
        DeflateDecompressor(16)


def test_protocol_below_0x100_is_compressed_as_one_octet() -> None:
    comp = DeflateCompressor()
    wire = comp.compress(0x0021, TEXT)
    assert wire is not None
    plain = zlib.decompressobj(-15).decompress(wire[2:] + b"\x00\x00\xff\xff")
    assert plain == b"\x21" + TEXT
    wire = DeflateCompressor().compress(0x0281, TEXT)
    assert wire is not None
    plain = zlib.decompressobj(-15).decompress(wire[2:] + b"\x00\x00\xff\xff")
    assert plain == b"\x02\x81" + TEXT


def test_two_octet_protocol_round_trips() -> None:
    comp, decomp = DeflateCompressor(), DeflateDecompressor()
    assert send(comp, decomp, 0x0281, TEXT)


def test_sync_flush_trailer_is_removed() -> None:
    wire = DeflateCompressor().compress(0x0021, TEXT)
    assert wire is not None and not wire.endswith(b"\x00\x00\xff\xff")


def test_sequence_number_counts_from_zero_and_wraps() -> None:
    comp = DeflateCompressor()
    assert (comp.compress(0x21, TEXT) or b"")[:2] == b"\x00\x00"
    assert (comp.compress(0x21, TEXT) or b"")[:2] == b"\x00\x01"
    comp._seq = 0xFFFF
    assert (comp.compress(0x21, TEXT) or b"")[:2] == b"\xff\xff"
    assert (comp.compress(0x21, TEXT) or b"")[:2] == b"\x00\x00"


def test_sequence_gap_asks_for_a_reset_then_waits_for_reset_ack() -> None:
    comp, decomp = DeflateCompressor(), DeflateDecompressor()
    comp.compress(0x21, TEXT)  # lost on the line
    failed = decomp.decompress(comp.compress(0x21, TEXT) or b"")
    assert isinstance(failed, DecompressFailed) and failed.reset and "sequence" in failed.reason
    quiet = decomp.decompress(comp.compress(0x21, TEXT) or b"")
    assert isinstance(quiet, DecompressFailed) and not quiet.reset
    comp.reset()
    decomp.reset()
    assert send(comp, decomp, 0x21, TEXT)


def test_incompressible_packet_goes_uncompressed_but_enters_both_histories() -> None:
    comp, decomp = DeflateCompressor(), DeflateDecompressor()
    noise = _random(1400)
    assert comp.compress(0x21, noise) is None
    decomp.incompressible(0x21, noise)
    wire = comp.compress(0x21, noise)  # now it is in the history: a back reference
    assert wire is not None and len(wire) < 100
    assert decomp.decompress(wire) == Decompressed(0x21, noise)


def test_missed_incompressible_packet_is_a_sequence_gap() -> None:
    comp, decomp = DeflateCompressor(), DeflateDecompressor()
    assert comp.compress(0x21, _random(600)) is None
    assert isinstance(decomp.decompress(comp.compress(0x21, TEXT) or b""), DecompressFailed)


def test_control_protocols_are_neither_compressed_nor_counted() -> None:
    comp, decomp = DeflateCompressor(), DeflateDecompressor()
    assert comp.compress(0xC021, TEXT) is None
    decomp.incompressible(0xC021, TEXT)
    assert send(comp, decomp, 0x21, TEXT)


def test_zlib_inflates_our_stream() -> None:
    comp = DeflateCompressor(12)
    reference = zlib.decompressobj(-12)
    for index in range(50):
        payload = TEXT[index:] + bytes([index])
        wire = comp.compress(0x21, payload)
        assert wire is not None
        assert reference.decompress(wire[2:] + b"\x00\x00\xff\xff") == b"\x21" + payload


def test_we_inflate_a_zlib_stream() -> None:
    reference = zlib.compressobj(9, zlib.DEFLATED, -10, 9)
    decomp = DeflateDecompressor(10)
    for index in range(50):
        payload = TEXT[: 100 + index]
        deflated = reference.compress(b"\x21" + payload) + reference.flush(zlib.Z_SYNC_FLUSH)
        wire = index.to_bytes(2, "big") + deflated[:-4]
        assert decomp.decompress(wire) == Decompressed(0x21, payload)


def test_datagram_beyond_the_mru_is_refused() -> None:
    reference = zlib.compressobj(9, zlib.DEFLATED, -15)
    wire = (
        b"\x00\x00"
        + (reference.compress(b"\x21" + bytes(5000)) + reference.flush(zlib.Z_SYNC_FLUSH))[:-4]
    )
    result = DeflateDecompressor(mru=1500).decompress(wire)
    assert isinstance(result, DecompressFailed) and "longer than 1500" in result.reason


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x00", b"\x00\x00\xff\xff\xff"])
def test_short_or_garbage_packets_fail_cleanly(data: bytes) -> None:
    assert isinstance(DeflateDecompressor().decompress(data), DecompressFailed)


def test_fuzzed_streams_give_a_datagram_or_a_failure_never_an_exception() -> None:
    rng = random.Random(1979)
    comp, decomp = DeflateCompressor(), DeflateDecompressor()
    outcomes = {"ok": 0, "failed": 0}
    for index in range(1500):
        payload = (
            TEXT[: rng.randrange(1, len(TEXT))]
            if index % 3
            else _random(rng.randrange(1, 1500), index)
        )
        wire = comp.compress(0x21, payload)
        if wire is None:
            decomp.incompressible(0x21, payload)
            continue
        mutated = bytearray(wire)
        if rng.random() < 0.3:
            for _ in range(rng.randrange(1, 4)):
                mutated[rng.randrange(len(mutated))] ^= 1 << rng.randrange(8)
        result = decomp.decompress(bytes(mutated))
        if isinstance(result, DecompressFailed):
            outcomes["failed"] += 1
            comp.reset()
            decomp.reset()
        else:
            assert len(result.payload) <= 1500
            outcomes["ok"] += 1
    assert outcomes["ok"] > 100 and outcomes["failed"] > 10
