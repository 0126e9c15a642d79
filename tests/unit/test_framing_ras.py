"""RAS framing (data portion only) and the make_framer factory."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wanminiport.framing import (
    Framer,
    PppAsyncFramer,
    RasFramer,
    SlipFramer,
    make_framer,
)
from wanminiport.info import FramingBits, FramingMode, LinkInfo


@given(st.binary(min_size=1, max_size=1500))
def test_ras_frame_goes_out_unchanged_and_each_read_is_one_frame(frame: bytes) -> None:
    sender, receiver = RasFramer(), RasFramer()
    wire = sender.encode(frame, now=5.0)
    assert wire == frame
    assert receiver.decode(wire) == [frame]
    assert receiver.stats.frames_decoded == 1
    assert receiver.stats.bytes_decoded == len(frame)


def test_ras_never_looks_inside_a_frame() -> None:
    # Octets that are flags or escapes to PPP and SLIP pass untouched.
    frame = b"\x7e\x7d\xc0\xdb\xff\x03\x00"
    assert RasFramer().encode(frame) == frame
    assert RasFramer().decode(frame) == [frame]


def test_ras_read_longer_than_mru_is_dropped_as_oversize() -> None:
    receiver = RasFramer(LinkInfo(max_recv_frame_size=100))
    assert receiver.decode(bytes(101)) == []
    assert receiver.decode(bytes(100)) == [bytes(100)]
    assert receiver.stats.oversize == 1
    assert receiver.stats.frames_decoded == 1


def test_ras_empty_read_carries_no_frame() -> None:
    receiver = RasFramer()
    assert receiver.decode(b"") == []
    assert receiver.stats.frames_decoded == 0


def test_ras_set_link_info_changes_the_mru() -> None:
    receiver = RasFramer()
    assert receiver.decode(bytes(2000)) == []
    receiver.set_link_info(LinkInfo(max_recv_frame_size=4096))
    assert receiver.decode(bytes(2000)) == [bytes(2000)]
    assert receiver.link_info.max_recv_frame_size == 4096


def test_ras_decode_returns_bytes_for_bytearray_and_memoryview() -> None:
    for buffer in (bytearray(b"abc"), memoryview(b"abc")):
        (frame,) = RasFramer().decode(buffer)
        assert type(frame) is bytes and frame == b"abc"


def test_ras_empty_frame_is_refused_on_encode() -> None:
    with pytest.raises(ValueError, match="empty"):
        RasFramer().encode(b"")


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        (FramingMode.PPP, PppAsyncFramer),
        (FramingMode.SLIP, SlipFramer),
        (FramingMode.RAS, RasFramer),
    ],
)
def test_make_framer_builds_the_framer_for_each_mode(mode: FramingMode, kind: type) -> None:
    framer: Framer = make_framer(mode)
    assert isinstance(framer, kind)
    assert framer.stats.frames_decoded == 0


def test_make_framer_applies_the_link_info() -> None:
    info = LinkInfo(
        send_accm=0,
        recv_accm=0,
        send_framing_bits=FramingBits.PPP_FRAMING | FramingBits.PPP_COMPRESS_ADDRESS_CONTROL,
        max_recv_frame_size=64,
    )
    ppp = make_framer(FramingMode.PPP, info)
    assert ppp.encode(b"\x00\x21\x01")[1:3] == b"\x00\x21"  # ACFC, ACCM 0
    assert b"\x01" in ppp.encode(b"\x00\x21\x01")
    slip = make_framer(FramingMode.SLIP, info)
    assert slip.decode(b"\xc0" + bytes(65) + b"\xc0") == []
    assert slip.stats.oversize == 1
    ras = make_framer(FramingMode.RAS, info)
    assert ras.decode(bytes(65)) == []
    assert ras.stats.oversize == 1


def test_make_framer_refuses_what_is_not_a_framing_mode() -> None:
    with pytest.raises(ValueError, match="unknown framing mode"):
        make_framer("ppp")  # type: ignore[arg-type]
