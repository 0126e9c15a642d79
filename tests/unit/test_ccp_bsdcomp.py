"""RFC 1977 BSD-Compress: a hand-made vector, code widths, CLEAR, sequence numbers, fuzz."""

from __future__ import annotations

import random

import pytest

from ndiswan.ppp.ccp.bsdcomp import (
    CLEAR,
    FIRST,
    STORED_STRING,
    BsdCompressor,
    BsdDecompressor,
    _Dictionary,
)
from ndiswan.ppp.ccp.methods import Decompressed, DecompressFailed

TEXT = (
    b"From: alice@example.org\r\nSubject: the quick brown fox jumps over the lazy dog\r\n\r\n" * 6
)

#: Protocol 0x21 then "aaaa" by the LZW definition, by hand: codes 0x021, 0x061,
#: 0x102 ("aa", the first string added after "!a"), 0x061, 9 bits each, MSB first,
#: 36 bits padded with four one bits.
HAND_VECTOR = bytes((0x00, 0x00, 0x10, 0x98, 0x60, 0x46, 0x1F))


def send(comp: BsdCompressor, decomp: BsdDecompressor, protocol: int, payload: bytes) -> bool:
    wire = comp.compress(protocol, payload)
    if wire is None:
        decomp.incompressible(protocol, payload)
        return False
    assert decomp.decompress(wire) == Decompressed(protocol, payload)
    return True


def test_known_answer_vector_decodes() -> None:
    assert BsdDecompressor().decompress(HAND_VECTOR) == Decompressed(0x21, b"aaaa")


def test_known_answer_vector_is_what_we_encode() -> None:
    dictionary = _Dictionary(15, strings=False)
    out = bytearray(b"\x00\x00")
    dictionary.encode(0x21, b"aaaa", out)
    assert bytes(out) == HAND_VECTOR
    assert dictionary.max_ent == 259


@pytest.mark.parametrize("bits", [9, 12, 15])
def test_text_and_random_round_trip(bits: int) -> None:
    comp, decomp = BsdCompressor(bits), BsdDecompressor(bits)
    rng = random.Random(bits)
    went: dict[str, list[bool]] = {"text": [], "random": []}
    for index in range(300):
        kind = "text" if index % 2 else "random"
        if kind == "text":
            payload = TEXT[rng.randrange(100) : rng.randrange(200, len(TEXT))]
        else:
            payload = rng.randbytes(rng.randrange(1, 1500))
        went[kind].append(send(comp, decomp, 0x21, payload))
    # Every packet round-tripped (``send`` checks it); random data went as it was, and
    # text shrank -- with the smallest history some of it may not.
    assert not any(went["random"])
    text = went["text"]
    assert sum(text) == len(text) if bits >= 12 else sum(text) >= len(text) // 2


def test_code_size_outside_9_to_15_is_refused() -> None:
    for bits in (8, 16):
        with pytest.raises(ValueError, match="outside"):
            BsdCompressor(bits)


def test_code_width_grows_past_nine_bits_in_step() -> None:
    comp, decomp = BsdCompressor(12), BsdDecompressor(12)
    for index in range(40):
        send(comp, decomp, 0x21, TEXT[index:])
    assert comp._dictionary.n_bits > 9
    assert comp._dictionary.n_bits == decomp._dictionary.n_bits
    assert comp._dictionary.max_ent == decomp._dictionary.max_ent


def test_full_dictionary_is_cleared_when_the_ratio_worsens_and_clear_is_sent() -> None:
    comp, decomp = BsdCompressor(9), BsdDecompressor(9)
    rng = random.Random(77)
    clears = 0
    for index in range(400):
        payload = TEXT if index < 50 else rng.randbytes(300) + TEXT[:200]
        before = comp._dictionary.max_ent
        wire = comp.compress(0x21, payload)
        if comp._dictionary.max_ent < before:
            clears += 1
        if wire is None:
            decomp.incompressible(0x21, payload)
        else:
            assert decomp.decompress(wire) == Decompressed(0x21, payload)
        assert decomp._dictionary.max_ent == comp._dictionary.max_ent
    assert clears > 0


def test_clear_code_before_the_end_is_refused() -> None:
    # CLEAR (9 bits), then a whole octet more.
    wire = b"\x00\x00" + bytes(((CLEAR >> 1) & 0xFF, (CLEAR & 1) << 7, 0xFF))
    result = BsdDecompressor().decompress(wire)
    assert isinstance(result, DecompressFailed) and "CLEAR" in result.reason


def test_sequence_gap_asks_for_a_reset_then_waits_for_reset_ack() -> None:
    comp, decomp = BsdCompressor(), BsdDecompressor()
    comp.compress(0x21, TEXT)
    failed = decomp.decompress(comp.compress(0x21, TEXT) or b"")
    assert isinstance(failed, DecompressFailed) and failed.reset and "sequence" in failed.reason
    quiet = decomp.decompress(comp.compress(0x21, TEXT) or b"")
    assert isinstance(quiet, DecompressFailed) and not quiet.reset
    comp.reset()
    decomp.reset()
    assert send(comp, decomp, 0x21, TEXT)


def test_incompressible_datagram_enters_both_dictionaries() -> None:
    comp, decomp = BsdCompressor(), BsdDecompressor()
    noise = random.Random(3).randbytes(40)
    assert comp.compress(0x21, noise) is None
    decomp.incompressible(0x21, noise)
    assert send(comp, decomp, 0x21, noise * 20)


def test_only_protocols_0x21_to_0xf9_are_compressed() -> None:
    comp, decomp = BsdCompressor(), BsdDecompressor()
    assert comp.compress(0x0281, TEXT) is None
    assert comp.compress(0xC021, TEXT) is None
    decomp.incompressible(0x0281, TEXT)
    assert send(comp, decomp, 0x21, TEXT)  # the sequence numbers did not move


def test_first_code_of_a_packet_may_not_be_undefined() -> None:
    # Code 257 (not yet defined) as the first code: 1 0000 0001.
    result = BsdDecompressor().decompress(b"\x00\x00\x80\xbf")
    assert isinstance(result, DecompressFailed) and "bad code" in result.reason


def test_datagram_beyond_the_mru_is_refused() -> None:
    comp = BsdCompressor()
    wire = comp.compress(0x21, bytes(4000))
    assert wire is not None
    result = BsdDecompressor(mru=1500).decompress(wire)
    assert isinstance(result, DecompressFailed) and "longer than 1500" in result.reason


def test_fuzzed_streams_give_a_datagram_or_a_failure_never_an_exception() -> None:
    rng = random.Random(1977)
    comp, decomp = BsdCompressor(10), BsdDecompressor(10)
    outcomes = {"ok": 0, "failed": 0}
    for index in range(1500):
        payload = (
            TEXT[: rng.randrange(1, len(TEXT))]
            if index % 3
            else rng.randbytes(rng.randrange(1, 600))
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
    strings = decomp._dictionary.strings
    assert strings is not None and len(strings) == 1 << 10
    assert max(len(s) for s in strings if s is not None) <= STORED_STRING


def test_strings_longer_than_kept_are_rebuilt_from_their_prefixes() -> None:
    # Zeros grow the dictionary's strings by one octet per code: a receiver
    # keeping each whole would hold 2**15 strings of up to an MRU each.
    comp, decomp = BsdCompressor(15), BsdDecompressor(15)
    for index in range(300):
        payload = bytes(1400) if index % 2 else bytes(700) + TEXT[:700]
        wire = comp.compress(0x21, payload)
        assert wire is not None
        result = decomp.decompress(wire)
        assert not isinstance(result, DecompressFailed), result
        assert (result.protocol, result.payload) == (0x21, payload)
    strings = decomp._dictionary.strings
    assert strings is not None
    rebuilt = [
        code for code in range(FIRST, decomp._dictionary.max_ent + 1) if strings[code] is None
    ]
    assert len(rebuilt) > 100
    assert max(len(s) for s in strings if s is not None) <= STORED_STRING


def test_garbage_never_raises_and_stays_bounded() -> None:
    rng = random.Random(5)
    decomp = BsdDecompressor(15)
    for _ in range(2000):
        decomp.reset()
        result = decomp.decompress(b"\x00\x00" + rng.randbytes(rng.randrange(0, 200)))
        assert isinstance(result, Decompressed | DecompressFailed)
