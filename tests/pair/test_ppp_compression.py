"""Two PppSessions compressing to each other on the fake clock: CCP (Deflate,
BSD-Compress) per direction with its reset dialogue, and VJ header compression."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ndiswan.ppp import DatagramReceived, LogLine, PppConfig, PppSession, Proto, Wire
from ndiswan.ppp.ccp.control import RESET_TIMEOUT
from tests.pair.test_ppp_pair_negotiation import bob, connect, hub
from tests.unit.test_vj import ACK, PSH, tcp_packet

#: Debian's base-files ships it on every machine: real English text.
GPL = Path("/usr/share/common-licenses/GPL-3").read_bytes()
DEFLATE = {"noccp": False, "deflate": (15, 15)}
BSD = {"noccp": False, "bsdcomp": (15, 15)}


def text_chunks(count: int, size: int = 1400) -> list[bytes]:
    return [GPL[(i * size) % 30000 :][:size] for i in range(count)]


def compressed_pair(a: dict[str, object], b: dict[str, object]) -> Wire:
    wire = connect(bob(**a), hub(**b))
    wire.run_for(1.0)  # CCP opens after IPCP's first exchange
    return wire


def send(wire: Wire, index: int, payloads: list[bytes], proto: int = Proto.IP) -> list[bytes]:
    """Send payloads from end ``index``; returns the frames that went on the wire."""
    frames = []
    for payload in payloads:
        frame = wire.ends[index].send_datagram(proto, payload, wire.now)
        assert frame is not None
        frames.append(frame)
        wire.send(index, frame)
        wire.run_for(0.02)
    wire.run_for(0.5)
    return frames


def received(wire: Wire, index: int) -> list[bytes]:
    return [e.payload for e in wire.events[index] if isinstance(e, DatagramReceived)]


def notices(wire: Wire, index: int) -> list[str]:
    return [e.text for e in wire.events[index] if isinstance(e, LogLine)]


@pytest.mark.parametrize(
    ("options", "notice"),
    [(DEFLATE, "Deflate (15) compression enabled"), (BSD, "BSD-Compress (15) compression enabled")],
)
def test_each_method_compresses_text_both_ways(options: dict[str, object], notice: str) -> None:
    wire = compressed_pair(options, options)
    assert notice in notices(wire, 0) and notice in notices(wire, 1)
    chunks = text_chunks(20)
    for index in (0, 1):
        frames = send(wire, index, chunks)
        assert received(wire, 1 - index) == chunks
        assert all(frame[0] == 0xFD for frame in frames)  # 0x00FD with PFC
        ratio = sum(map(len, frames)) / sum(map(len, chunks))
        assert ratio < 0.6, ratio
    ccp = wire.ends[0].compression.ccp
    assert ccp is not None and ccp.stats.decompress_failures == 0


@pytest.mark.parametrize("options", [DEFLATE, BSD], ids=["deflate", "bsdcomp"])
def test_random_bytes_go_plain_and_histories_stay_in_step(options: dict[str, object]) -> None:
    wire = compressed_pair(options, options)
    rng = random.Random(7)
    mixed = [rng.randbytes(1400) if i % 3 else chunk for i, chunk in enumerate(text_chunks(30))]
    frames = send(wire, 0, mixed)
    assert received(wire, 1) == mixed
    # What could not shrink went as itself (0x21), at no cost but nothing.
    for frame, payload in zip(frames, mixed, strict=True):
        if frame[0] == 0x21:
            assert frame[1:] == payload
    assert sum(f[0] == 0x21 for f in frames) >= 15
    assert wire.ends[1].stats.decompress_failures == 0


def test_each_direction_negotiates_on_its_own() -> None:
    # bob decompresses Deflate but will not compress; the hub compresses BSD only.
    wire = compressed_pair(
        {"noccp": False, "deflate": (15, 0), "bsdcomp": (15, 0)},
        {"noccp": False, "bsdcomp": (0, 12)},
    )
    assert "BSD-Compress (12) receive compression enabled" in notices(wire, 0)
    assert "BSD-Compress (12) transmit compression enabled" in notices(wire, 1)
    chunks = text_chunks(5)
    assert all(f[0] == 0xFD for f in send(wire, 1, chunks))
    assert all(f[0] == 0x21 for f in send(wire, 0, chunks))
    assert received(wire, 0) == chunks and received(wire, 1) == chunks
    hub_ccp = wire.ends[1].compression.ccp
    assert hub_ccp is not None and hub_ccp.method_names == ("BSD-Compress (12)", "")


def test_a_smaller_window_is_nakd_and_taken() -> None:
    wire = compressed_pair(
        {"noccp": False, "deflate": (15, 15)}, {"noccp": False, "deflate": (10, 10)}
    )
    assert any("rcvd [CCP ConfNak" in line for line in _trace_lines(wire))
    bob_ccp = wire.ends[0].compression.ccp
    assert bob_ccp is not None and bob_ccp.method_names == ("Deflate (10)", "Deflate (10)")
    chunks = text_chunks(8)
    send(wire, 0, chunks)
    assert received(wire, 1) == chunks


def _trace_lines(wire: Wire) -> list[str]:
    return [e.text for events in wire.events for e in events if isinstance(e, LogLine)]


@pytest.mark.parametrize("options", [DEFLATE, BSD], ids=["deflate", "bsdcomp"])
def test_a_lost_frame_is_healed_by_reset_request_and_ack(options: dict[str, object]) -> None:
    wire = compressed_pair(options, options)
    chunks = text_chunks(12)
    lost = {"count": 0}

    def lose_the_fourth_data_frame(index: int, frame: bytes, _: int) -> bool:
        if index == 0 and frame[0] == 0xFD:
            lost["count"] += 1
            return lost["count"] == 4
        return False

    wire.drop = lose_the_fourth_data_frame
    send(wire, 0, chunks[:6])
    wire.drop = None
    wire.run_for(RESET_TIMEOUT * 2)
    send(wire, 0, chunks[6:])
    got = received(wire, 1)
    # The lost one, and those sent before the Reset-Ack came back, are gone;
    # everything after the reset arrives intact.
    assert got[:3] == chunks[:3] and got[-6:] == chunks[6:]
    receiver = wire.ends[1].compression.ccp
    sender = wire.ends[0].compression.ccp
    assert receiver is not None and sender is not None
    assert receiver.stats.resets_requested >= 1 and receiver.stats.resets_acked >= 1
    lines = _trace_lines(wire)
    assert any("sent [CCP ResetReq" in line for line in lines)
    assert any("sent [CCP ResetAck" in line for line in lines)


def test_garbage_compressed_packets_are_dropped_counted_and_reset() -> None:
    wire = compressed_pair(DEFLATE, DEFLATE)
    receiver = wire.ends[1]
    rng = random.Random(3)
    for _ in range(200):
        receiver.receive_frame(b"\xfd" + rng.randbytes(rng.randrange(0, 300)), wire.now)
        receiver.drain()
    assert receiver.stats.decompress_failures == 200
    assert not received(wire, 1)
    ccp = receiver.compression.ccp
    assert ccp is not None and ccp.stats.resets_requested == 1  # one at a time
    wire.run_for(RESET_TIMEOUT * 3)
    chunks = text_chunks(3)
    send(wire, 0, chunks)
    assert received(wire, 1) == chunks


def test_a_decompression_bomb_is_refused() -> None:
    import zlib

    wire = compressed_pair(DEFLATE, DEFLATE)
    stream = zlib.compressobj(6, zlib.DEFLATED, -15)
    bomb = stream.compress(b"\x21" + bytes(200_000)) + stream.flush(zlib.Z_SYNC_FLUSH)
    receiver = wire.ends[1]
    receiver.receive_frame(b"\xfd\x00\x00" + bomb[:-4], wire.now)
    assert receiver.stats.decompress_failures == 1
    assert not [o for o in receiver.drain() if isinstance(o, DatagramReceived)]


def test_compressed_frames_before_ccp_opens_are_dropped() -> None:
    wire = connect(bob(**DEFLATE), hub())  # the hub has no CCP: bob's CCP never opens
    wire.run_for(1.0)
    receiver = wire.ends[0]
    receiver.receive_frame(b"\xfd\x00\x00\x01\x02", wire.now)
    assert receiver.stats.datagrams_dropped == 1
    assert not received(wire, 0)


# -- VJ -------------------------------------------------------------------


def keystrokes(count: int, *, src: bytes, dst: bytes) -> list[bytes]:
    return [
        tcp_packet(
            seq=1000 + i, ack=5000, flags=ACK | PSH, ident=10 + i, data=b"x", src=src, dst=dst
        )
        for i in range(count)
    ]


BOB, HUB = bytes((10, 7, 0, 2)), bytes((10, 7, 0, 1))


def test_vj_compresses_interactive_tcp_both_ways() -> None:
    wire = connect(bob(vj=True), hub(vj=True))
    lines = _trace_lines(wire)
    assert any("<compress VJ 0f 01>" in line for line in lines)
    for index, (src, dst) in enumerate(((BOB, HUB), (HUB, BOB))):
        packets = keystrokes(20, src=src, dst=dst)
        frames = send(wire, index, packets)
        assert received(wire, 1 - index) == packets
        assert frames[0][0] == Proto.VJ_UNCOMPRESSED
        assert all(f[0] == Proto.VJ_COMPRESSED for f in frames[1:])
        # protocol (1, PFC) + change mask + checksum + payload: no slot id after the first
        assert max(len(f) for f in frames[1:]) <= 5


def test_vj_slots_and_comp_slot_id_follow_the_stricter_side() -> None:
    wire = connect(bob(vj=True), hub(vj=True, vj_max_slots=4, vjccomp=False))
    sender = wire.ends[0].compression.vj_send
    receiver = wire.ends[1].compression.vj_receive
    assert sender is not None and receiver is not None
    assert sender.slot_count == 4 and not sender.compress_slot_id
    assert receiver.slot_count == 4
    packets = keystrokes(5, src=BOB, dst=HUB)
    frames = send(wire, 0, packets)
    assert received(wire, 1) == packets
    assert all(len(f) == 6 for f in frames[1:])  # the slot id is always there


def test_vj_refused_by_one_side_sends_plain_ip() -> None:
    wire = connect(bob(vj=True), hub())
    assert wire.ends[0].compression.vj_send is None
    packets = keystrokes(3, src=BOB, dst=HUB)
    frames = send(wire, 0, packets)
    assert all(f[0] == Proto.IP for f in frames) and received(wire, 1) == packets


def test_vj_tosses_after_a_line_error_until_a_slot_is_named() -> None:
    wire = connect(bob(vj=True), hub(vj=True))
    packets = keystrokes(6, src=BOB, dst=HUB)
    send(wire, 0, packets[:3])
    wire.ends[1].line_error()
    send(wire, 0, packets[3:])
    assert received(wire, 1) == packets[:3]  # implicit-slot packets are tossed
    assert wire.ends[1].stats.decompress_failures == 3


def test_vj_garbage_is_dropped_and_counted() -> None:
    wire = connect(bob(vj=True), hub(vj=True))
    receiver = wire.ends[1]
    rng = random.Random(11)
    for _ in range(500):
        proto = rng.choice((Proto.VJ_COMPRESSED, Proto.VJ_UNCOMPRESSED))
        receiver.receive_frame(bytes((proto,)) + rng.randbytes(rng.randrange(0, 80)), wire.now)
    receiver.drain()
    assert receiver.stats.decompress_failures >= 490
    slots = receiver.compression.vj_receive
    assert slots is not None and slots.slot_count == 16  # state never grows past the slots


def test_vj_and_deflate_together_round_trip() -> None:
    options = {**DEFLATE, "vj": True}
    wire = compressed_pair(options, options)
    packets = [
        tcp_packet(seq=1000 + 1400 * i, ident=i, data=chunk, src=BOB, dst=HUB)
        for i, chunk in enumerate(text_chunks(10))
    ]
    frames = send(wire, 0, packets)
    assert received(wire, 1) == packets
    assert all(f[0] == 0xFD for f in frames)


def test_config_refuses_bad_sizes() -> None:
    for bad in ({"deflate": (8, 15)}, {"bsdcomp": (15, 16)}, {"vj_max_slots": 1}):
        with pytest.raises(ValueError):
            PppConfig(**bad)  # type: ignore[arg-type]


def test_session_without_compression_has_no_ccp() -> None:
    session = PppSession(PppConfig())
    assert session.compression.ccp is None and session.compression.vj_send is None
