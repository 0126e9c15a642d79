"""PPP in async HDLC-like framing (RFC 1662): the rules, each in its own test.

The encoder is checked against a plain octet-by-octet model of RFC 1662
written here (``model_encode``), so the fast whole-frame code paths must
agree with the slow obvious ones on every input Hypothesis finds.  Streaming
receive is in test_framing_ppp_stream.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wanminiport.framing import PppAsyncFramer, fcs16_bytes
from wanminiport.framing.ppp_async import make_escaper, unescape
from wanminiport.info import FramingBits, LinkInfo

FB = FramingBits
LCP = b"\xc0\x21"
IP = b"\x00\x21"
ACFC = FB.PPP_FRAMING | FB.PPP_COMPRESS_ADDRESS_CONTROL
FCS32 = FB.PPP_FRAMING | FB.PPP_FCS32


# -- an octet-by-octet model of RFC 1662 ------------------------------------------


def model_fcs(data: bytes, fcs32: bool) -> bytes:
    poly, register, size = (0xEDB88320, 0xFFFFFFFF, 4) if fcs32 else (0x8408, 0xFFFF, 2)
    for octet in data:
        register ^= octet
        for _ in range(8):
            register = (register >> 1) ^ poly if register & 1 else register >> 1
    return (register ^ (1 << 8 * size) - 1).to_bytes(size, "little")


def model_escape(data: bytes, accm: int, extra: frozenset[int] = frozenset()) -> bytes:
    out = bytearray()
    for octet in data:
        if octet in (0x7D, 0x7E) or octet in extra or (octet < 32 and accm >> octet & 1):
            out += bytes([0x7D, octet ^ 0x20])
        else:
            out.append(octet)
    return bytes(out)


def model_encode(
    packet: bytes,
    *,
    accm: int = 0xFFFFFFFF,
    extra: frozenset[int] = frozenset(),
    acfc: bool = False,
    fcs32: bool = False,
    opening_flag: bool = True,
) -> bytes:
    if packet[:2] == LCP:
        body, accm = b"\xff\x03" + packet, 0xFFFFFFFF
    else:
        body = packet if acfc else b"\xff\x03" + packet
    wire = model_escape(body + model_fcs(body, fcs32), accm, extra) + b"\x7e"
    return b"\x7e" + wire if opening_flag else wire


def bits_for(acfc: bool, fcs32: bool) -> FB:
    bits = FB.PPP_FRAMING | (FB.PPP_COMPRESS_ADDRESS_CONTROL if acfc else 0)
    return bits | FB.PPP_FCS32 if fcs32 else bits


def link(accm: int = 0xFFFFFFFF, bits: FB = FB.PPP_FRAMING, mru: int = 1500) -> LinkInfo:
    return LinkInfo(
        send_accm=accm,
        recv_accm=accm,
        send_framing_bits=bits,
        recv_framing_bits=bits,
        max_recv_frame_size=mru,
    )


# Valid protocol fields: two octets (first even, second odd) or one odd octet
# (never 0xFF, which reads as the all-stations address).
protocols = st.one_of(
    st.tuples(
        st.integers(0, 127).map(lambda v: 2 * v), st.integers(0, 127).map(lambda v: 2 * v + 1)
    ).map(bytes),
    st.integers(0, 126).map(lambda v: bytes([2 * v + 1])),
    st.just(LCP),
)
packets = st.builds(lambda p, info: p + info, protocols, st.binary(max_size=200))
accms = st.one_of(st.sampled_from([0, 0xFFFFFFFF, 0x000A0000]), st.integers(0, 0xFFFFFFFF))
# Any octet but 0x5E (escaped it would read 7D 7E, the abort sequence).
extras = st.frozensets(st.integers(0, 255).filter(lambda v: v != 0x5E), max_size=40)
# Escaping 0x20-0x3F puts a control character on the line, which a receiver
# drops if it is in its ACCM; round trips through such a receiver leave them out.
extras_for_accm_receiver = st.frozensets(
    st.integers(0, 255).filter(lambda v: v != 0x5E and not 0x20 <= v <= 0x3F), max_size=40
)


# -- transmit ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(packets, min_size=1, max_size=6), accms, extras, st.booleans(), st.booleans())
def test_encode_matches_rfc1662_octet_model(
    frames: list[bytes], accm: int, extra: frozenset[int], acfc: bool, fcs32: bool
) -> None:
    bits = bits_for(acfc, fcs32)
    framer = PppAsyncFramer(link(accm, bits), extra_escape=extra)
    for index, frame in enumerate(frames):
        expected = model_encode(
            frame, accm=accm, extra=extra, acfc=acfc, fcs32=fcs32, opening_flag=index == 0
        )
        assert framer.encode(frame, now=0.0) == expected


@given(
    st.binary(max_size=400),
    st.frozensets(st.integers(0, 255).filter(lambda v: v != 0x5E), max_size=80),
)
def test_every_escaper_strategy_escapes_exactly_its_set(data: bytes, extra: frozenset[int]) -> None:
    octets = extra | {0x7D, 0x7E}
    assert make_escaper(octets)(data) == model_escape(data, 0, octets)


def test_lcp_gets_address_control_and_all_controls_escaped_with_acfc_and_accm_0() -> None:
    framer = PppAsyncFramer(link(0, ACFC))
    lcp = LCP + bytes([1, 1, 0, 8, 0x02, 6, 0, 0, 0, 0])
    wire = framer.encode(lcp)
    assert wire.startswith(b"\x7e\xff\x7d\x23\xc0\x21\x7d\x21\x7d\x21")
    assert not any(octet < 0x20 for octet in wire)
    assert wire == model_encode(lcp, accm=0, acfc=True)
    # A non-LCP packet on the same link: no FF 03, controls sent as they are.
    ip_wire = framer.encode(IP + b"\x00\x01", now=0.0)
    assert ip_wire[:2] == IP
    assert b"\x00\x01" in ip_wire


def test_acfc_omits_address_control_on_non_lcp_frames() -> None:
    with_acfc = PppAsyncFramer(link(0, ACFC)).encode(IP + b"data")
    without = PppAsyncFramer(link(0)).encode(IP + b"data")
    assert with_acfc[1:3] == IP
    assert without[1:5] == b"\xff\x03" + IP


def test_fcs32_framing_bit_sends_a_four_octet_fcs() -> None:
    wire = PppAsyncFramer(link(0, FCS32)).encode(IP + b"abc")
    assert wire == model_encode(IP + b"abc", accm=0, fcs32=True)
    assert len(wire) == 1 + 2 + 2 + 3 + 4 + 1


def test_extra_escape_set_is_escaped_like_pppd_escape_option() -> None:
    framer = PppAsyncFramer(link(0), extra_escape={0xFF, 0x91})
    wire = framer.encode(IP + b"\xff\x91\x41")
    assert b"\x7d\xdf\x7d\xb1\x41" in wire
    assert wire[1:3] == b"\x7d\xdf"  # the address octet FF too


def test_flag_and_escape_are_always_escaped_even_with_accm_0() -> None:
    wire = PppAsyncFramer(link(0)).encode(IP + b"\x7e\x7d")
    assert wire[1:-1].count(0x7E) == 0
    assert b"\x7d\x5e\x7d\x5d" in wire


def test_leading_flag_on_first_frame_and_after_idle_flag_time_only() -> None:
    framer = PppAsyncFramer(link(0), flag_time=1.0)
    assert framer.encode(IP + b"a", now=100.0).startswith(b"\x7e")
    assert not framer.encode(IP + b"b", now=100.5).startswith(b"\x7e")
    assert not framer.encode(IP + b"c", now=101.4).startswith(b"\x7e")
    assert framer.encode(IP + b"d", now=102.4).startswith(b"\x7e")  # idle exactly 1.0 s
    assert framer.encode(IP + b"e", now=107.0).startswith(b"\x7e")
    assert framer.encode(IP + b"f", now=107.0).endswith(b"\x7e")


def test_every_frame_ends_with_a_closing_flag() -> None:
    framer = PppAsyncFramer(link(0))
    frames = [IP + bytes([n]) * n for n in range(1, 20)]
    wires = [framer.encode(frame, now=0.0) for frame in frames]
    assert all(wire.endswith(b"\x7e") for wire in wires)
    assert PppAsyncFramer(link(0)).decode(b"".join(wires)) == frames


def test_empty_packet_is_refused_on_encode() -> None:
    with pytest.raises(ValueError, match="protocol field"):
        PppAsyncFramer().encode(b"")


def test_escape_sets_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValueError, match=r"0\.\.255"):
        PppAsyncFramer(extra_escape={256})
    with pytest.raises(ValueError, match="0x7D and 0x7E"):
        make_escaper(frozenset({0x7D}))
    with pytest.raises(ValueError, match="abort sequence"):  # 0x5E would go out as 7D 7E
        PppAsyncFramer(extra_escape={0x5E})


@given(st.lists(packets, min_size=1, max_size=6), extras)
def test_any_extra_escape_set_round_trips_to_a_receiver_with_accm_0(
    frames: list[bytes], extra: frozenset[int]
) -> None:
    sender = PppAsyncFramer(link(0), extra_escape=extra)
    wire = b"".join(sender.encode(frame) for frame in frames)
    assert PppAsyncFramer(link(0)).decode(wire) == frames


# -- receive -------------------------------------------------------------------------


def test_receiver_accepts_both_address_control_and_compressed_forms() -> None:
    receiver = PppAsyncFramer(link(0))
    stream = model_encode(IP + b"x", accm=0) + model_encode(IP + b"y", accm=0, acfc=True)
    assert receiver.decode(stream) == [IP + b"x", IP + b"y"]


def test_fcs32_frames_decode_when_the_receive_bit_is_set() -> None:
    receiver = PppAsyncFramer(link(0, FCS32))
    assert receiver.decode(model_encode(IP + b"z", accm=0, fcs32=True)) == [IP + b"z"]
    assert PppAsyncFramer(link(0)).decode(model_encode(IP + b"z", accm=0, fcs32=True)) == []


def test_bad_fcs_is_dropped_and_counted_as_crc_error() -> None:
    wire = bytearray(model_encode(IP + b"payload", accm=0))
    wire[6] ^= 0x01
    receiver = PppAsyncFramer(link(0))
    assert receiver.decode(bytes(wire) + model_encode(IP + b"next", accm=0)) == [IP + b"next"]
    assert receiver.stats.crc_errors == 1


def test_runt_frames_are_dropped_and_counted() -> None:
    receiver = PppAsyncFramer(link(0))
    header_only = model_escape(b"\xff\x03" + model_fcs(b"\xff\x03", False), 0)
    assert receiver.decode(b"\x7e\x41\x7e\x41\x42\x7e" + header_only + b"\x7e") == []
    assert receiver.stats.runts == 3
    assert receiver.stats.crc_errors == 0


def test_abort_sequence_discards_frame() -> None:
    receiver = PppAsyncFramer(link(0))
    good = model_encode(IP + b"ok", accm=0)
    aborted = good[:-3] + b"\x7d\x7e"
    assert receiver.decode(aborted + good) == [IP + b"ok"]
    assert receiver.stats.aborts == 1


def test_escaped_7d_just_before_the_flag_is_not_an_abort() -> None:
    # Find a packet whose FCS ends in 0x5D: ACCM 0 does not escape it, but an
    # extra escape of 0x5D makes the frame end "7D 7D 7E", an escaped 0x5D and
    # the flag -- not "7D 7E".
    packet = next(
        IP + n.to_bytes(2, "big")
        for n in range(65536)
        if fcs16_bytes(b"\xff\x03" + IP + n.to_bytes(2, "big"))[1] == 0x5D
    )
    wire = PppAsyncFramer(link(0), extra_escape={0x5D}).encode(packet)
    assert wire.endswith(b"\x7d\x7d\x7e")
    receiver = PppAsyncFramer(link(0))
    assert receiver.decode(wire) == [packet]
    assert receiver.stats.aborts == 0


def test_bad_control_field_after_all_stations_address_is_a_framing_error() -> None:
    body = b"\xff\x05" + IP + b"x"
    receiver = PppAsyncFramer(link(0))
    assert receiver.decode(b"\x7e" + model_escape(body + model_fcs(body, False), 0) + b"\x7e") == []
    assert receiver.stats.aborts == 1


def test_frame_longer_than_mru_plus_header_and_fcs_is_oversize() -> None:
    receiver = PppAsyncFramer(link(0, mru=1500))
    fits = IP + bytes(1500)
    too_long = IP + bytes(1501)
    stream = model_encode(fits, accm=0) + model_encode(too_long, accm=0)
    assert receiver.decode(stream) == [fits]
    assert receiver.stats.oversize == 1


def test_smaller_mru_still_receives_full_1500_octet_information_field() -> None:
    # RFC 1661 section 6.1: needed in case link synchronisation is lost.
    receiver = PppAsyncFramer(link(0, mru=296))
    packet = IP + bytes(1500)
    assert receiver.decode(model_encode(packet, accm=0)) == [packet]


def test_larger_mru_from_link_info_is_honoured() -> None:
    receiver = PppAsyncFramer(link(0, mru=4000))
    packet = IP + bytes(4000)
    assert receiver.decode(model_encode(packet, accm=0)) == [packet]
    receiver.set_link_info(link(0, mru=1500))
    assert receiver.decode(model_encode(packet, accm=0)) == []
    assert receiver.stats.oversize == 1


def test_unescaped_characters_in_receive_accm_are_discarded_and_counted() -> None:
    receiver = PppAsyncFramer(link(0x000A0000))  # XON/XOFF inserted by a modem
    wire = model_encode(IP + b"\x11\x13data", accm=0x000A0000)
    noisy = wire[:4] + b"\x11" + wire[4:9] + b"\x13\x11" + wire[9:]
    assert receiver.decode(noisy) == [IP + b"\x11\x13data"]
    assert receiver.stats.discarded_chars == 3


def test_characters_outside_receive_accm_are_kept() -> None:
    receiver = PppAsyncFramer(link(0))
    assert receiver.decode(model_encode(IP + b"\x00\x01\x1f", accm=0)) == [IP + b"\x00\x01\x1f"]
    assert receiver.stats.discarded_chars == 0


def test_decode_accepts_bytearray_and_memoryview() -> None:
    wire = model_encode(IP + b"buf", accm=0)
    assert PppAsyncFramer(link(0)).decode(bytearray(wire)) == [IP + b"buf"]
    assert PppAsyncFramer(link(0)).decode(memoryview(wire)) == [IP + b"buf"]


@given(st.binary(max_size=300).map(lambda b: b.replace(b"\x7e", b"")))
def test_unescape_inverts_escape_and_reads_7d_7d_as_escaped_0x5d(data: bytes) -> None:
    assert unescape(model_escape(data, 0xFFFFFFFF)) == data
    dense = model_escape(data, 0xFFFFFFFF, frozenset(range(256)))
    assert unescape(dense) == data
    # "7D 7D" is an escaped 7D, octet 0x5D; the octet after it is plain.
    assert unescape(b"a\x7d\x7d\x41b") == b"a\x5d\x41b"
    assert unescape(b"\x7d\x7d\x7d\x41" * 50) == b"\x5d\x61" * 50


def test_fully_escaped_frame_of_maximum_size_is_accepted() -> None:
    every_octet = frozenset(range(256)) - {0x5E}
    packet = IP + bytes(range(256)).replace(b"\x5e", b"") * 6
    packet = packet[: 2 + 1500]
    wire = PppAsyncFramer(link(0), extra_escape=every_octet).encode(packet)
    assert len(wire) >= 2 * 1504 + 2
    assert PppAsyncFramer(link(0)).decode(wire) == [packet]
