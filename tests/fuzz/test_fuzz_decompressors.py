"""Fuzzing the decompressors (Deflate, BSD-Compress, VJ), seeded with what pppd sent.

Seeds: ``tests/fuzz/data/<method>_pppd_to_us.bin``, the bytes pppd 2.4.9 and
the Debian kernel (ppp_deflate, bsd_comp, slhc) sent to our ``wanctl dial``
(``tests/fuzz/record_compressed.py``): Deflate or BSD packets whose payloads
are VJ-compressed TCP carrying a known text.

* Replayed as recorded, every packet decodes and the text comes out: the
  seeds are what the fuzzers think they are.
* Replayed with some packets edited (bits flipped, cut, spliced, garbage
  appended), in order, each failure answered as CCP's Reset-Ack would (both
  histories reset; the recording goes on, so later packets fail too).
* Garbage packets, numbered right, into fresh decompressors.

Expected: no exception; a decompressed datagram never exceeds the MRU; a
failed packet is reported as such, and after one the decompressor refuses
everything until it is reset (a Reset-Request is owed once, not per packet);
VJ rebuilds only packets of the slots it has (at most 16 here).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ndiswan.ppp.ccp.bsdcomp import BsdDecompressor
from ndiswan.ppp.ccp.deflate import DeflateDecompressor
from ndiswan.ppp.ccp.methods import PROTO_COMPRESSED, Decompressed, DecompressFailed, Decompressor
from ndiswan.ppp.vj import (
    PROTO_IP,
    PROTO_VJ_COMPRESSED,
    PROTO_VJ_UNCOMPRESSED,
    VjDecompressFailed,
    VjDecompressor,
)
from tests.fuzz.budget import fuzz_settings, watchdog
from tests.interop.pppd_wire import WireFrame, read_frames
from tests.interop.test_pppd_compression import text_corpus

DATA = Path(__file__).parent / "data"
METHODS = ("deflate", "bsdcomp")
MRU = 1500
#: What record_compressed.py pushed to pppd and fetched back.
TEXT = text_corpus(12 * 1024)
_CCP = 0x80FD
_NETWORK = (PROTO_IP, PROTO_VJ_COMPRESSED, PROTO_VJ_UNCOMPRESSED)
_MAKERS: dict[str, Callable[[], Decompressor]] = {
    "deflate": lambda: DeflateDecompressor(15, mru=MRU),
    "bsdcomp": lambda: BsdDecompressor(15, mru=MRU),
}


@functools.cache
def compressed_run(method: str) -> tuple[WireFrame, ...]:
    """pppd's frames from the one after its last CCP packet before compressing on."""
    frames = read_frames((DATA / f"{method}_pppd_to_us.bin").read_bytes())
    first = next(i for i, f in enumerate(frames) if f.protocol == PROTO_COMPRESSED)
    start = max(i for i in range(first) if frames[i].protocol == _CCP) + 1
    return tuple(f for f in frames[start:] if f.protocol in (PROTO_COMPRESSED, *_NETWORK))


class Receiver:
    """One direction's decompressors, as ``Compression.inbound`` chains them."""

    def __init__(self, method: str) -> None:
        self.ccp = _MAKERS[method]()
        self.vj = VjDecompressor(15, compress_slot_id=True)
        self.packets: list[bytes] = []
        self.ccp_failures = 0
        self.resets_owed = 0
        self.vj_failures = 0

    def receive(self, protocol: int, payload: bytes, *, reset_on_failure: bool = True) -> None:
        if protocol == PROTO_COMPRESSED:
            result = self.ccp.decompress(payload)
            if isinstance(result, DecompressFailed):
                self.ccp_failures += 1
                self.resets_owed += result.reset
                if reset_on_failure:
                    self.ccp.reset()  # the Reset-Ack
                return
            assert isinstance(result, Decompressed)
            assert len(result.payload) <= MRU
            protocol, payload = result.protocol, result.payload
        else:
            self.ccp.incompressible(protocol, payload)
        if protocol not in _NETWORK:
            return
        packet = self.vj.decompress(protocol, payload)
        if isinstance(packet, VjDecompressFailed):
            self.vj_failures += 1
            return
        assert len(packet) <= MRU + 80  # VJ puts back at most the headers it compressed
        self.packets.append(packet)


def tcp_payloads(packets: list[bytes]) -> bytes:
    out = bytearray()
    for packet in packets:
        if packet[9] == 6:
            ihl = (packet[0] & 0x0F) * 4
            out += packet[ihl + (packet[ihl + 12] >> 4) * 4 :]
    return bytes(out)


@pytest.mark.parametrize("method", METHODS)
def test_pppd_stream_replayed_decodes_every_packet_and_the_text(method: str) -> None:
    run = compressed_run(method)
    assert sum(f.protocol == PROTO_COMPRESSED for f in run) >= 10
    receiver = Receiver(method)
    for frame in run:
        receiver.receive(frame.protocol, frame.information)
    assert (receiver.ccp_failures, receiver.vj_failures) == (0, 0)
    assert TEXT[:4096] in tcp_payloads(receiver.packets)


frame_edits = st.lists(
    st.tuples(
        st.integers(0, 10_000),  # which frame
        st.sampled_from(["flip", "cut", "splice", "append", "sequence"]),
        st.integers(0, 1 << 16),
        st.binary(max_size=24),
    ),
    min_size=1,
    max_size=6,
)


def edited_run(method: str, edits: list[tuple[int, str, int, bytes]]) -> list[WireFrame]:
    run = list(compressed_run(method))
    for which, kind, position, extra in edits:
        index = which % len(run)
        frame = run[index]
        data = bytearray(frame.information)
        at = position % (len(data) + 1)
        if kind == "flip" and data:
            data[at % len(data)] ^= 1 << (position % 8)
        elif kind == "cut":
            del data[at:]
        elif kind == "splice":
            other = run[position % len(run)].information
            data[at:at] = other[: 4 + len(extra) * 8]
        elif kind == "append":  # garbage after a valid stream
            data += extra or b"\x00"
        elif len(data) >= 2:  # a wrong sequence number
            data[0:2] = (position & 0xFFFF).to_bytes(2, "big")
        run[index] = WireFrame(frame.protocol, bytes(data))
    return run


@fuzz_settings(300)
@given(st.sampled_from(METHODS), frame_edits)
@example("deflate", [(5, "append", 0, b"\xff" * 20)])
@example("bsdcomp", [(5, "sequence", 77, b"")])
@example("deflate", [(3, "cut", 3, b"")])
def test_edited_pppd_streams_are_dropped_or_decoded_within_the_mru(
    method: str, edits: list[tuple[int, str, int, bytes]]
) -> None:
    with watchdog(f"decompressors: edited pppd {method} streams"):
        receiver = Receiver(method)
        for frame in edited_run(method, edits):
            receiver.receive(frame.protocol, frame.information)
        assert receiver.resets_owed <= receiver.ccp_failures


@fuzz_settings(300)
@given(st.sampled_from(METHODS), st.lists(st.binary(max_size=1600), min_size=1, max_size=30))
@example("deflate", [zlib.compress(bytes(200_000))[2:]])  # a bomb: far more than an MRU
def test_garbage_numbered_right_is_dropped_and_then_refused_until_reset(
    method: str, payloads: list[bytes]
) -> None:
    with watchdog(f"decompressors: garbage into {method}"):
        receiver = Receiver(method)
        for seq, payload in enumerate(payloads):
            packet = seq.to_bytes(2, "big") + payload
            before = receiver.ccp_failures
            receiver.receive(PROTO_COMPRESSED, packet, reset_on_failure=False)
            if receiver.ccp_failures > before:
                # Broken now: everything is refused, and no second Reset-Request is asked.
                owed = receiver.resets_owed
                receiver.receive(PROTO_COMPRESSED, (seq + 1).to_bytes(2, "big") + payload)
                assert receiver.resets_owed == owed
                break


@fuzz_settings(500)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([PROTO_VJ_COMPRESSED, PROTO_VJ_UNCOMPRESSED, PROTO_IP]),
            st.binary(max_size=120),
        ),
        max_size=40,
    ),
    st.integers(0, 10_000),
)
def test_vj_garbage_after_pppd_packets_never_breaks_the_decompressor(
    garbage: list[tuple[int, bytes]], cut: int
) -> None:
    """Expected: slots learnt from pppd's real packets, then anything: each packet
    rebuilt or refused, never more than 16 slots."""
    with watchdog("decompressors: VJ garbage"):
        receiver = Receiver("deflate")
        run = compressed_run("deflate")
        for frame in run[: cut % len(run)]:
            receiver.receive(frame.protocol, frame.information)
        for protocol, payload in garbage:
            before = receiver.vj_failures + len(receiver.packets)
            receiver.receive(protocol, payload)
            assert receiver.vj_failures + len(receiver.packets) == before + 1
        assert len(receiver.vj._ip) == 16
