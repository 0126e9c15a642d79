"""PPP async HDLC receive as a stream: any split of the bytes, any garbage, bounded memory.

``ModelDecoder`` is RFC 1662 receive written the obvious way, one octet at a
time; the framer's chunked whole-frame decoder must produce the same frames
and the same error counts on every stream Hypothesis builds, however the
stream is cut.  Frames are built by the framer's encoder, which
test_framing_ppp.py checks against an octet model of its own.
"""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wanminiport.framing import PppAsyncFramer, fcs16_good, fcs32_good
from wanminiport.info import FramingBits, LinkInfo

FB = FramingBits
IP = b"\x00\x21"
ACFC = FB.PPP_FRAMING | FB.PPP_COMPRESS_ADDRESS_CONTROL
FCS32 = FB.PPP_FRAMING | FB.PPP_FCS32


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


def encoded(packet: bytes, accm: int = 0, fcs32: bool = False) -> bytes:
    """One frame with both flags, as a fresh sender puts it on the line."""
    return PppAsyncFramer(link(accm, bits_for(False, fcs32))).encode(packet)


class ModelDecoder:
    """RFC 1662 receive, one octet at a time, with the framer's error rules."""

    def __init__(self, accm: int = 0xFFFFFFFF, mru: int = 1500, fcs32: bool = False) -> None:
        self.accm, self.fcs32 = accm, fcs32
        self.fcs_size = 4 if fcs32 else 2
        self.max_frame = max(mru, 1500) + 4 + self.fcs_size
        self.counts = {"crc": 0, "runt": 0, "abort": 0, "oversize": 0, "discarded": 0}
        self.frames: list[bytes] = []
        self._reset()

    def _reset(self) -> None:
        self.buf, self.raw_len, self.escaped, self.discarding = bytearray(), 0, False, False

    def feed(self, data: bytes) -> None:
        for octet in data:
            if octet < 32 and self.accm >> octet & 1:
                self.counts["discarded"] += 1
            elif octet == 0x7E:
                self._end()
            elif not self.discarding:
                self.raw_len += 1
                if self.raw_len > 2 * self.max_frame:
                    self.counts["oversize"] += 1
                    self.discarding = True
                elif octet == 0x7D and not self.escaped:
                    self.escaped = True
                else:
                    self.buf.append(octet ^ 0x20 if self.escaped else octet)
                    self.escaped = False

    def _end(self) -> None:
        frame, raw_len, escaped = bytes(self.buf), self.raw_len, self.escaped
        discarding = self.discarding
        self._reset()
        if discarding or raw_len == 0:
            return
        fcs_ok = fcs32_good(frame) if self.fcs32 else fcs16_good(frame)
        if escaped:
            self.counts["abort"] += 1
        elif len(frame) > self.max_frame:
            self.counts["oversize"] += 1
        elif len(frame) < self.fcs_size + 1:
            self.counts["runt"] += 1
        elif not fcs_ok:
            self.counts["crc"] += 1
        elif frame[0] == 0xFF and frame[1] != 0x03:
            self.counts["abort"] += 1
        else:
            packet = frame[2 if frame[0] == 0xFF else 0 : -self.fcs_size]
            if packet:
                self.frames.append(packet)
            else:
                self.counts["runt"] += 1


def counts_of(framer: PppAsyncFramer) -> dict[str, int]:
    s = framer.stats
    names = ("crc", "runt", "abort", "oversize", "discarded")
    return dict(
        zip(names, (s.crc_errors, s.runts, s.aborts, s.oversize, s.discarded_chars), strict=True)
    )


def feed_in_pieces(framer: PppAsyncFramer, data: bytes, cuts: list[int]) -> list[bytes]:
    out: list[bytes] = []
    start = 0
    for cut in sorted(set(cuts)):
        out += framer.decode(data[start:cut])
        start = cut
    return out + framer.decode(data[start:])


# Valid protocol fields: two octets (first even, second odd) or one odd octet
# (never 0xFF, which reads as the all-stations address).
protocols = st.one_of(
    st.tuples(
        st.integers(0, 127).map(lambda v: 2 * v), st.integers(0, 127).map(lambda v: 2 * v + 1)
    ).map(bytes),
    st.integers(0, 126).map(lambda v: bytes([2 * v + 1])),
    st.just(b"\xc0\x21"),
)
packets = st.builds(lambda p, info: p + info, protocols, st.binary(max_size=200))
accms = st.one_of(st.sampled_from([0, 0xFFFFFFFF, 0x000A0000]), st.integers(0, 0xFFFFFFFF))
# Escaping 0x20-0x3F puts a control character on the line, which a receiver
# drops if it is in its ACCM, and 0x5E cannot be escaped: leave them out here.
extras_for_accm_receiver = st.frozensets(
    st.integers(0, 255).filter(lambda v: v != 0x5E and not 0x20 <= v <= 0x3F), max_size=40
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(packets, min_size=1, max_size=6),
    accms,
    extras_for_accm_receiver,
    st.booleans(),
    st.booleans(),
    st.lists(st.integers(0, 2000), max_size=20),
)
def test_round_trip_under_any_split_of_the_stream(
    frames: list[bytes], accm: int, extra: frozenset[int], acfc: bool, fcs32: bool, cuts: list[int]
) -> None:
    bits = bits_for(acfc, fcs32)
    sender = PppAsyncFramer(link(accm, bits), extra_escape=extra)
    receiver = PppAsyncFramer(link(accm, bits))
    wire = b"".join(sender.encode(frame, now=float(i)) for i, frame in enumerate(frames))
    assert feed_in_pieces(receiver, wire, cuts) == frames
    assert counts_of(receiver) == dict.fromkeys(counts_of(receiver), 0)
    assert receiver.stats.frames_decoded == len(frames)
    assert receiver.stats.bytes_decoded == sum(map(len, frames))


# Streams rich in the octets that matter: flags, escapes, controls, FF 03.
noisy_octets = st.one_of(
    st.sampled_from([0x7E, 0x7D, 0x7D, 0xFF, 0x03, 0x00, 0x11, 0x13, 0x5D, 0x5E, 0x20]),
    st.integers(0, 255),
)
noise = st.binary(max_size=40) | st.lists(noisy_octets, max_size=40).map(bytes)
# Flagless runs around the receive limits (1506 unescaped, 3012 on the wire).
long_runs = st.builds(
    lambda unit, n: unit * (n // len(unit)),
    st.sampled_from([b"\x41", b"\x7d", b"\x7d\x41", b"\x7d\x7d\x41"]),
    st.integers(1490, 3100),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            packets.map(lambda p: ("frame", p)),
            (noise | long_runs).map(lambda n: ("noise", n)),
        ),
        max_size=10,
    ),
    accms,
    st.booleans(),
    st.sampled_from([1, 60, 1500]),
    st.lists(st.integers(0, 3000), max_size=20),
)
def test_decoder_agrees_with_octet_model_on_arbitrary_streams(
    parts: list[tuple[str, bytes]], accm: int, fcs32: bool, mru: int, cuts: list[int]
) -> None:
    stream = b"".join(
        encoded(data, fcs32=fcs32) if kind == "frame" else data for kind, data in parts
    )
    framer = PppAsyncFramer(link(accm, FCS32 if fcs32 else FB.PPP_FRAMING, mru=mru))
    model = ModelDecoder(accm, mru, fcs32)
    model.feed(stream)
    assert feed_in_pieces(framer, stream, cuts) == model.frames
    assert counts_of(framer) == model.counts


def test_same_frames_one_octet_at_a_time_or_64k_at_a_time() -> None:
    sender = PppAsyncFramer(link(0x000A0000))
    frames = [IP + bytes([n % 256]) * (n % 1400 + 1) + b"\x7e\x7d\x11" for n in range(300)]
    junk = b"\x7d\x7e\x41\x7e\x01\x02\x7e" + bytes(range(256)) + b"\x7e"
    stream = junk + b"".join(sender.encode(f, 0.0) for f in frames) + junk
    stream += b"\xaa" * 5000 + b"\x7e"  # an oversize frame too
    slow, fast = PppAsyncFramer(link(0x000A0000)), PppAsyncFramer(link(0x000A0000))
    one_at_a_time = [f for i in range(len(stream)) for f in slow.decode(stream[i : i + 1])]
    chunked = [f for i in range(0, len(stream), 65536) for f in fast.decode(stream[i : i + 65536])]
    assert one_at_a_time == chunked == frames
    assert slow.stats == fast.stats
    assert fast.stats.oversize == 1 and fast.stats.runts >= 1


@pytest.mark.parametrize("accm", [0, 0xFFFFFFFF])
def test_flagless_100_megabytes_cost_bounded_memory_and_count_one_oversize(accm: int) -> None:
    receiver = PppAsyncFramer(link(accm))
    chunks = [
        bytes([(n * 37 + i) % 256 for i in range(256)]).replace(b"\x7e", b"\x41") * 256
        for n in range(8)
    ]
    limit = 2 * (1500 + 4 + 2)
    tracemalloc.start()
    try:
        for index in range(100 * 1024 * 1024 // 65536):
            assert receiver.decode(chunks[index % 8]) == []
            assert receiver.buffered <= limit
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024
    assert receiver.stats.oversize == 1
    good = encoded(IP + b"after", accm)
    assert receiver.decode(good) == [IP + b"after"]
    assert receiver.stats.oversize == 1
    assert receiver.stats.discarded_chars == (100 * 1024 * 1024 // 8 if accm else 0)


def test_partial_frame_survives_set_link_info_and_reset_forgets_it() -> None:
    receiver = PppAsyncFramer(link(0))
    wire = encoded(IP + b"abc")
    assert receiver.decode(wire[:5]) == []
    receiver.set_link_info(link(0, ACFC))
    assert receiver.decode(wire[5:]) == [IP + b"abc"]
    receiver.decode(wire[:5])
    receiver.reset_receive()
    assert receiver.buffered == 0
    assert receiver.decode(wire[5:]) == []  # the tail alone fails its FCS
    assert receiver.stats.crc_errors == 1
