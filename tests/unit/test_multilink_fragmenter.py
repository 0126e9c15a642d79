"""RFC 1990 section 4: fragmentation on send, shared by speed and send window."""

from __future__ import annotations

from ndiswan.ppp.multilink.fragmenter import MIN_FRAGMENT, Fragmenter, MemberLink
from ndiswan.ppp.multilink.header import SHORT_BITS

FAST = MemberLink("ttyUSB0", 115200, send_window=4, mru=1500)
SLOW = MemberLink("ttyUSB1", 57600, send_window=4, mru=1500)


def test_shares_at_115200_and_57600_are_in_proportion_to_speed() -> None:
    fragments = Fragmenter().fragment(bytes(1500), [FAST, SLOW])
    octets = {name: len(f.payload) for name, f in fragments}
    assert octets == {"ttyUSB0": 1000, "ttyUSB1": 500}


def test_fragments_carry_the_packet_in_order_with_b_and_e() -> None:
    packet = bytes(range(256)) * 4
    fragments = [f for _, f in Fragmenter().fragment(packet, [FAST, SLOW])]
    assert b"".join(f.payload for f in fragments) == packet
    assert [(f.begin, f.end) for f in fragments] == [(True, False), (False, True)]
    assert [f.sequence for f in fragments] == [0, 1]


def test_a_closed_send_window_gets_nothing() -> None:
    shut = MemberLink("ttyUSB1", 57600, send_window=0, mru=1500)
    fragments = Fragmenter().fragment(bytes(1000), [FAST, shut])
    assert {name for name, _ in fragments} == {"ttyUSB0"}
    assert Fragmenter().fragment(bytes(1000), [shut]) == []


def test_small_packets_go_whole_to_the_fastest_member() -> None:
    fragments = Fragmenter().fragment(bytes(2 * MIN_FRAGMENT - 1), [SLOW, FAST])
    assert [(name, f.begin, f.end) for name, f in fragments] == [("ttyUSB0", True, True)]


def test_no_fragment_exceeds_its_members_mru() -> None:
    small = MemberLink("ttyS0", 115200, send_window=4, mru=300)
    fragments = Fragmenter().fragment(bytes(1500), [small])
    assert all(len(f.encode(short=False)) <= 300 for _, f in fragments)
    assert sum(len(f.payload) for _, f in fragments) == 1500


def test_one_sequence_space_per_bundle_wraps() -> None:
    fragmenter = Fragmenter(short=True, first_sequence=(1 << SHORT_BITS) - 1)
    first = fragmenter.fragment(b"a", [FAST])
    second = fragmenter.fragment(b"b", [SLOW])
    assert [f.sequence for _, f in first + second] == [0xFFF, 0]


def test_small_packets_take_turns_by_load_for_speed() -> None:
    fragmenter = Fragmenter()
    twin = MemberLink("ttyUSB2", 115200, send_window=4, mru=1500)
    names = [fragmenter.fragment(bytes(60), [FAST, twin])[0][0] for _ in range(6)]
    assert names == ["ttyUSB0", "ttyUSB2"] * 3
    # Unequal speeds: the member twice as fast carries about twice as many.
    uneven = [fragmenter.fragment(bytes(60), [FAST, SLOW])[0][0] for _ in range(300)]
    assert uneven.count("ttyUSB0") == 200 and uneven.count("ttyUSB1") == 100
