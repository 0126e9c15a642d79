"""RFC 1990 sections 4.1 and 4.2: reassembly, loss by M, and bad input counted."""

from __future__ import annotations

import random
import tracemalloc

from ndiswan.ppp.multilink.fragmenter import Fragmenter, MemberLink
from ndiswan.ppp.multilink.header import Fragment
from ndiswan.ppp.multilink.reassembler import Reassembler

A, B = "ttyUSB0", "ttyUSB1"
LINKS = [MemberLink(A, 115200, 4, 1500), MemberLink(B, 57600, 4, 1500)]


def receiver() -> Reassembler:
    reassembler = Reassembler(mrru=1500)
    reassembler.add_member(A)
    reassembler.add_member(B)
    return reassembler


def test_round_trip_through_fragmenter_across_two_links() -> None:
    fragmenter, reassembler = Fragmenter(), receiver()
    packets = [bytes([n]) * (300 + 50 * n) for n in range(10)]
    out = []
    for packet in packets:
        for member, fragment in fragmenter.fragment(packet, LINKS):
            out += reassembler.receive(member, fragment.encode(short=False))
    assert out == packets
    assert reassembler.buffered() == (0, 0)


def test_reordering_across_links_waits_for_the_slow_member() -> None:
    reassembler = receiver()
    assert reassembler.receive(A, Fragment(1, False, True, b"cd").encode(False)) == []
    assert reassembler.receive(B, Fragment(0, True, False, b"ab").encode(False)) == [b"abcd"]


def test_lost_fragment_is_detected_once_m_passes_it() -> None:
    reassembler = receiver()
    reassembler.receive(A, Fragment(0, True, False, b"ab").encode(False))
    # Fragment 1 was lost; both members have moved past it.
    assert reassembler.receive(A, Fragment(2, True, True, b"x").encode(False)) == []
    assert reassembler.receive(B, Fragment(3, True, True, b"y").encode(False)) == [b"x", b"y"]
    assert reassembler.counters.lost == 1


def test_duplicate_and_wild_fragments_are_counted_and_dropped() -> None:
    reassembler = receiver()
    reassembler.receive(A, Fragment(0, True, False, b"a").encode(False))
    assert reassembler.receive(A, Fragment(0, True, False, b"a").encode(False)) == []
    assert reassembler.receive(B, Fragment(0x800000, True, True, b"w").encode(False)) == []
    assert reassembler.counters.duplicates == 1
    assert reassembler.counters.wild == 1


def test_packet_past_mrru_is_dropped() -> None:
    reassembler = Reassembler(mrru=4)
    reassembler.add_member(A)
    reassembler.receive(A, Fragment(0, True, False, b"\x00\x21abc").encode(False))
    assert reassembler.receive(A, Fragment(1, False, True, b"de").encode(False)) == []
    assert reassembler.counters.over_mrru == 1


def test_mrru_bounds_the_information_field_not_the_protocol() -> None:
    reassembler = Reassembler(mrru=4)
    reassembler.add_member(A)
    reassembler.receive(A, Fragment(0, True, False, b"\x00\x21ab").encode(False))
    assert reassembler.receive(A, Fragment(1, False, True, b"cd").encode(False)) == [
        b"\x00\x21abcd"
    ]
    assert reassembler.receive(A, Fragment(2, True, True, b"\x21abcd").encode(False)) == [
        b"\x21abcd"
    ]


def test_malformed_header_is_counted() -> None:
    reassembler = receiver()
    assert reassembler.receive(A, b"\xc0\x00") == []
    assert reassembler.counters.malformed == 1


def test_a_member_leaving_mid_stream_stops_holding_m_back() -> None:
    reassembler = receiver()
    reassembler.receive(A, Fragment(0, True, False, b"a").encode(False))
    assert reassembler.receive(A, Fragment(2, True, True, b"c").encode(False)) == []
    # B, which carried fragment 1, leaves: nothing can arrive there any more.
    assert reassembler.remove_member(B) == [b"c"]
    assert reassembler.counters.lost == 1


def test_begin_without_end_forever_stays_bounded() -> None:
    reassembler = Reassembler(mrru=1500, max_fragments=64)
    reassembler.add_member(A)
    for sequence in range(10_000):
        reassembler.receive(A, Fragment(sequence, sequence == 0, False, b"x" * 40).encode(False))
        fragments, octets = reassembler.buffered()
        assert fragments <= 65 and octets <= 3000 + 40
    assert reassembler.counters.overflow > 0


def random_fragment(rng: random.Random, base: int) -> bytes:
    """Mostly near the stream's front (reordered, lost, repeated), sometimes garbage."""
    if rng.random() < 0.05:
        return rng.randbytes(rng.randrange(0, 8))
    sequence = (base + rng.randrange(-80, 80)) % (1 << 24)
    payload = rng.randbytes(rng.randrange(0, 400))
    return Fragment(sequence, rng.random() < 0.3, rng.random() < 0.3, payload).encode(False)


def test_fuzz_random_fragments_bounded_memory() -> None:
    rng = random.Random(13)
    reassembler = receiver()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base_memory = tracemalloc.get_traced_memory()[0]
        for count in range(20_000):
            reassembler.receive(rng.choice((A, B)), random_fragment(rng, count // 2))
            fragments, octets = reassembler.buffered()
            assert fragments <= 65 and octets <= 3000 + 400
        peak = tracemalloc.get_traced_memory()[1] - base_memory
    finally:
        tracemalloc.stop()
    assert peak < 512 * 1024
    counters = reassembler.counters
    assert counters.fragments + counters.malformed == 20_000
    assert counters.packets > 0 and counters.duplicates > 0 and counters.lost > 0
