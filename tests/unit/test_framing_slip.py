"""SLIP (RFC 1055): END C0, ESC DB, ESC_END DC, ESC_ESC DD; streaming and bounded."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wanminiport.framing import FramingStats, SlipFramer
from wanminiport.info import LinkInfo

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD


def model_encode(datagram: bytes) -> bytes:
    out = bytearray([END])
    for octet in datagram:
        if octet == END:
            out += bytes([ESC, ESC_END])
        elif octet == ESC:
            out += bytes([ESC, ESC_ESC])
        else:
            out.append(octet)
    return bytes(out + bytes([END]))


class ModelDecoder:
    """RFC 1055 receive one octet at a time, with the framer's error rules."""

    def __init__(self, mru: int) -> None:
        self.mru = mru
        self.frames: list[bytes] = []
        self.counts = {"bad_escape": 0, "oversize": 0}
        self._reset()

    def _reset(self) -> None:
        self.buf, self.raw_len = bytearray(), 0
        self.escaped = self.bad = self.discarding = False

    def feed(self, data: bytes) -> None:
        for octet in data:
            if octet == END:
                self._end()
            elif not self.discarding:
                self.raw_len += 1
                if self.raw_len > 2 * self.mru:
                    self.counts["oversize"] += 1
                    self.discarding = True
                elif self.escaped:
                    self.escaped = False
                    if octet == ESC_END:
                        self.buf.append(END)
                    elif octet == ESC_ESC:
                        self.buf.append(ESC)
                    else:
                        self.bad = True
                elif octet == ESC:
                    self.escaped = True
                else:
                    self.buf.append(octet)

    def _end(self) -> None:
        frame, raw_len, bad = bytes(self.buf), self.raw_len, self.bad or self.escaped
        discarding = self.discarding
        self._reset()
        if discarding or raw_len == 0:
            return
        if bad:
            self.counts["bad_escape"] += 1
        elif len(frame) > self.mru:
            self.counts["oversize"] += 1
        else:
            self.frames.append(frame)


def feed_in_pieces(framer: SlipFramer, data: bytes, cuts: list[int]) -> list[bytes]:
    out: list[bytes] = []
    start = 0
    for cut in sorted(set(cuts)):
        out += framer.decode(data[start:cut])
        start = cut
    return out + framer.decode(data[start:])


slip_heavy = st.lists(
    st.one_of(st.sampled_from([END, ESC, ESC_END, ESC_ESC]), st.integers(0, 255)), max_size=300
).map(bytes)
datagrams = st.binary(min_size=1, max_size=300) | slip_heavy.filter(bool)


@given(datagrams)
def test_encode_escapes_end_and_esc_between_two_ends(datagram: bytes) -> None:
    assert SlipFramer().encode(datagram) == model_encode(datagram)


def test_encode_wire_form_of_end_and_esc() -> None:
    assert SlipFramer().encode(b"\xc0\xdb\x01") == b"\xc0\xdb\xdc\xdb\xdd\x01\xc0"


def test_empty_datagram_is_refused_on_encode() -> None:
    with pytest.raises(ValueError, match="empty"):
        SlipFramer().encode(b"")


@settings(max_examples=200, deadline=None)
@given(st.lists(datagrams, min_size=1, max_size=8), st.lists(st.integers(0, 3000), max_size=20))
def test_round_trip_under_any_split_of_the_stream(frames: list[bytes], cuts: list[int]) -> None:
    sender, receiver = SlipFramer(), SlipFramer()
    wire = b"".join(sender.encode(frame) for frame in frames)
    assert feed_in_pieces(receiver, wire, cuts) == frames
    assert receiver.stats.aborts == receiver.stats.oversize == 0
    assert receiver.stats.frames_decoded == len(frames)
    assert receiver.stats.bytes_decoded == sum(map(len, frames))


long_runs = st.builds(
    lambda unit, n: unit * (n // len(unit)),
    st.sampled_from([b"\x41", b"\xdb\xdc", b"\xdb\xdd\x41"]),
    st.integers(50, 700),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(datagrams.map(model_encode), slip_heavy, long_runs),
        max_size=10,
    ),
    st.sampled_from([64, 296, 1500]),
    st.lists(st.integers(0, 4000), max_size=20),
)
def test_decoder_agrees_with_octet_model_on_arbitrary_streams(
    parts: list[bytes], mru: int, cuts: list[int]
) -> None:
    stream = b"".join(parts)
    framer = SlipFramer(LinkInfo(max_recv_frame_size=mru))
    model = ModelDecoder(mru)
    model.feed(stream)
    assert feed_in_pieces(framer, stream, cuts) == model.frames
    assert framer.stats.aborts == model.counts["bad_escape"]
    assert framer.stats.oversize == model.counts["oversize"]


def test_back_to_back_ends_carry_no_empty_frames() -> None:
    receiver = SlipFramer()
    assert receiver.decode(b"\xc0\xc0\xc0abc\xc0\xc0") == [b"abc"]
    assert receiver.stats == FramingStats(frames_decoded=1, bytes_decoded=3)


def test_bad_escape_drops_frame_and_is_counted() -> None:
    receiver = SlipFramer()
    stream = b"\xc0a\xdbxb\xc0" + b"\xc0c\xdb\xc0" + b"\xc0\xdb\xdb\xdd\xc0" + b"\xc0ok\xc0"
    assert receiver.decode(stream) == [b"ok"]
    assert receiver.stats.aborts == 3


def test_datagram_longer_than_mru_is_dropped_as_oversize() -> None:
    receiver = SlipFramer(LinkInfo(max_recv_frame_size=100))
    stream = model_encode(bytes(100)) + model_encode(bytes(101)) + model_encode(b"\xc0" * 100)
    assert receiver.decode(stream) == [bytes(100), b"\xc0" * 100]
    assert receiver.stats.oversize == 1


def test_set_link_info_changes_the_mru() -> None:
    receiver = SlipFramer(LinkInfo(max_recv_frame_size=100))
    receiver.set_link_info(LinkInfo(max_recv_frame_size=1006))
    assert receiver.decode(model_encode(bytes(1006))) == [bytes(1006)]


def test_same_frames_one_octet_at_a_time_or_64k_at_a_time() -> None:
    frames = [bytes([n % 256, END, ESC]) * (n % 400 + 1) for n in range(300)]
    stream = b"\xdb\x41\xc0" + b"".join(map(model_encode, frames)) + b"\x41" * 4000 + b"\xc0"
    slow, fast = SlipFramer(), SlipFramer()
    one_at_a_time = [f for i in range(len(stream)) for f in slow.decode(stream[i : i + 1])]
    chunked = [f for i in range(0, len(stream), 65536) for f in fast.decode(stream[i : i + 65536])]
    assert one_at_a_time == chunked == frames
    assert slow.stats == fast.stats
    assert (fast.stats.aborts, fast.stats.oversize) == (1, 1)


def test_endless_100_megabytes_cost_bounded_memory_and_count_one_oversize() -> None:
    receiver = SlipFramer()
    chunks = [
        bytes([(n * 31 + i) % 256 for i in range(256)]).replace(b"\xc0", b"") * 256
        for n in range(8)
    ]
    tracemalloc.start()
    try:
        fed = 0
        while fed < 100 * 1024 * 1024:
            chunk = chunks[fed % 8]
            assert receiver.decode(chunk) == []
            assert receiver.buffered <= 2 * 1500
            fed += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024
    assert receiver.stats.oversize == 1
    assert receiver.decode(b"\xc0hello\xc0") == [b"hello"]


def test_reset_receive_forgets_partial_datagram() -> None:
    receiver = SlipFramer()
    assert receiver.decode(b"\xc0partial") == []
    receiver.reset_receive()
    assert receiver.buffered == 0
    assert receiver.decode(b"\xc0whole\xc0") == [b"whole"]


def test_decode_accepts_bytearray_and_memoryview() -> None:
    assert SlipFramer().decode(bytearray(b"\xc0ab\xc0")) == [b"ab"]
    assert SlipFramer().decode(memoryview(b"\xc0ab\xc0")) == [b"ab"]
