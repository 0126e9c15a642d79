"""PppAsyncFramer.octets_to_frame_end: a lower bound on the octets a partial frame still needs.

A driver suspends reading for that many octets' line time, so the figure
must never exceed what is really still to come (the closing flag included),
whatever the escapes and wherever the stream was cut.
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from wanminiport.framing import PppAsyncFramer
from wanminiport.info import FramingBits, LinkInfo

FB = FramingBits
COMPRESSED = FB.PPP_FRAMING | FB.PPP_COMPRESS_ADDRESS_CONTROL | FB.PPP_COMPRESS_PROTOCOL_FIELD


def ipv4(payload: bytes) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        0,
        0,
        64,
        17,
        0,
        b"\x0a\x00\x00\x01",
        b"\x0a\x00\x00\x02",
    )
    return header + payload


def ipv6(payload: bytes) -> bytes:
    return struct.pack("!IHBB", 6 << 28, len(payload), 17, 64) + bytes(32) + payload


def pair(
    accm: int = 0, bits: FB = COMPRESSED, mru: int = 1500
) -> tuple[PppAsyncFramer, PppAsyncFramer]:
    info = LinkInfo(
        send_accm=accm,
        recv_accm=accm,
        send_framing_bits=bits,
        recv_framing_bits=bits,
        max_recv_frame_size=mru,
    )
    return PppAsyncFramer(info), PppAsyncFramer(info)


def plain(size: int) -> bytes:
    """Payload octets that need no escape at any ACCM."""
    return bytes(0x41 + i % 26 for i in range(size))


def test_ipv4_frame_end_counts_the_datagram_fcs_and_closing_flag() -> None:
    sender, receiver = pair()
    wire = sender.encode(b"\x21" + ipv4(plain(980)))
    assert receiver.decode(wire[:40]) == []
    # Without escapes the bound is exact: every octet still to come.
    assert receiver.octets_to_frame_end() == len(wire) - 40


def test_ipv6_frame_end_adds_the_fixed_header_to_the_payload_length() -> None:
    sender, receiver = pair()
    wire = sender.encode(b"\x57" + ipv6(plain(500)))
    receiver.decode(wire[:60])
    assert receiver.octets_to_frame_end() == len(wire) - 60


def test_frame_end_with_address_control_and_fcs32_is_exact_without_escapes() -> None:
    sender, receiver = pair(bits=FB.PPP_FRAMING | FB.PPP_FCS32)
    wire = sender.encode(b"\x00\x21" + ipv4(plain(300)))
    receiver.decode(wire[:25])
    assert receiver.octets_to_frame_end() == len(wire) - 25


def test_frame_end_is_zero_with_no_frame_in_progress() -> None:
    sender, receiver = pair()
    receiver.decode(sender.encode(b"\x21" + ipv4(plain(100))))
    assert receiver.octets_to_frame_end() == 0


def test_frame_end_is_unknown_before_the_length_field_arrives() -> None:
    sender, receiver = pair()
    wire = sender.encode(b"\x21" + ipv4(plain(100)))
    receiver.decode(wire[:4])
    assert receiver.octets_to_frame_end() == 0


def test_frame_end_is_unknown_for_control_protocols() -> None:
    sender, receiver = pair()
    wire = sender.encode(b"\xc0\x21\x01\x01\x00\x40" + plain(60))
    receiver.decode(wire[:30])
    assert receiver.octets_to_frame_end() == 0


def test_a_length_beyond_the_mru_is_not_trusted() -> None:
    sender, receiver = pair()
    damaged = bytearray(ipv4(plain(100)))
    damaged[2:4] = (60000).to_bytes(2, "big")  # a bit error in the length field
    wire = sender.encode(b"\x21" + bytes(damaged))
    receiver.decode(wire[:30])
    assert receiver.octets_to_frame_end() == 0


def test_frame_end_is_unknown_while_an_oversize_frame_is_discarded() -> None:
    _, receiver = pair()
    receiver.decode(b"\x7e" + b"\x21" + ipv4(b"")[:4] + bytes(7000))
    assert receiver.octets_to_frame_end() == 0


@settings(max_examples=300, deadline=None)
@given(
    payload=st.binary(min_size=0, max_size=1400),
    v6=st.booleans(),
    accm=st.sampled_from([0, 0xFFFFFFFF, 0x000A0000]),
    bits=st.sampled_from([COMPRESSED, FB.PPP_FRAMING, FB.PPP_FRAMING | FB.PPP_FCS32]),
    cut=st.floats(min_value=0.0, max_value=1.0),
)
def test_frame_end_never_exceeds_the_octets_still_to_come(
    payload: bytes, v6: bool, accm: int, bits: FB, cut: float
) -> None:
    sender, receiver = pair(accm, bits)
    packet = b"\x57" + ipv6(payload) if v6 else b"\x21" + ipv4(payload)
    if not bits & FB.PPP_COMPRESS_PROTOCOL_FIELD:
        packet = b"\x00" + packet
    wire = sender.encode(packet)
    split = int(cut * (len(wire) - 1))
    assert receiver.decode(wire[:split]) == []
    assert 0 <= receiver.octets_to_frame_end() <= len(wire) - split
    assert len(receiver.decode(wire[split:])) == 1
