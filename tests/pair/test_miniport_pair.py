"""Two miniports over the virtual null-modem cable: real ptys, paced relay.

Frames carry a sequence number and a digest of their body, so the receiver
can tell lost, duplicated, reordered and corrupted frames apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import struct

import pytest

from hw.lab.cable import VirtualCable
from ndiswan.sendpath import VcSendPath
from wanminiport import (
    CallParameters,
    FlowSpec,
    LineDownReason,
    LinkParams,
    ModemLines,
    SendStatus,
    Vc,
    WanMiniport,
)
from wanminiport.transports.serial_port import SerialTransport

PPP_IP = b"\x00\x21"


def make_frame(seq: int, rng: random.Random, max_body: int) -> bytes:
    body = rng.randbytes(rng.randint(1, max_body))
    return PPP_IP + struct.pack("!I", seq) + hashlib.sha256(body).digest()[:8] + body


def check_frame(frame: bytes) -> int:
    """The frame's sequence number; raises if the body does not match its digest."""
    seq, digest, body = struct.unpack("!I", frame[2:6])[0], frame[6:14], frame[14:]
    assert hashlib.sha256(body).digest()[:8] == digest, f"frame {seq} arrived corrupted"
    return int(seq)


class Recorder:
    """A VcClient that keeps what the miniport indicates upward."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.params: list[LinkParams] = []
        self.down: list[LineDownReason] = []
        self.arrived = asyncio.Event()
        self.expect = 0

    def receive_indication(self, vc: Vc, frame: bytes) -> None:
        self.frames.append(frame)
        if len(self.frames) >= self.expect:
            self.arrived.set()

    def link_params_indication(self, vc: Vc, params: LinkParams) -> None:
        self.params.append(params)

    def line_down_indication(self, vc: Vc, reason: LineDownReason) -> None:
        self.down.append(reason)
        self.arrived.set()

    def fragment_indication(self, vc: Vc) -> None:
        pass

    def modem_lines_indication(self, vc: Vc, lines: ModemLines) -> None:
        pass


def _open_pair(
    cable: VirtualCable, tmp_lock_dir: str
) -> tuple[WanMiniport, WanMiniport, Vc, Vc, Recorder, Recorder]:
    ends = []
    for path in (cable.a_path, cable.b_path):
        adapter = WanMiniport(
            SerialTransport(path, cable.baud, lock_dir=tmp_lock_dir), max_frame_size=1600
        )
        adapter.start()
        client = Recorder()
        vc = adapter.create_vc(client)
        speed = FlowSpec(cable.baud)
        adapter.activate_vc(vc, CallParameters(speed, speed, permanent=True))
        ends.append((adapter, vc, client))
    (a, vc_a, rec_a), (b, vc_b, rec_b) = ends
    return a, b, vc_a, vc_b, rec_a, rec_b


async def _exchange(
    count: int, *, ber: float, baud: int, tmp_path: str, max_body: int, seed: int = 7
) -> tuple[list[bytes], WanMiniport, Vc]:
    rng = random.Random(seed)
    async with VirtualCable(baud, ber=ber, seed=seed) as cable:
        a, b, vc_a, vc_b, _, rec_b = _open_pair(cable, tmp_path)
        sender = VcSendPath(vc_a)
        sender.queue.max_frames = count  # the test queues everything up front
        sender.queue.high_water = sender.queue.low_water = count
        frames = [make_frame(i, rng, max_body) for i in range(count)]
        for frame in frames:
            assert sender.send(frame)
        rec_b.expect = count
        total = sum(len(f) for f in frames)
        deadline = 3 + 2 * total * 10 / baud
        # With bit errors some frames never arrive; the counters say why.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rec_b.arrived.wait(), deadline)
        await asyncio.sleep(0.2)
        assert sum(sender.completed.values()) == count
        assert sender.completed.get(SendStatus.SUCCESS) == count
        assert vc_a.stats.extra.get("window_overruns", 0) == 0
        a.close()
        b.close()
        return rec_b.frames, b, vc_b


def test_ten_thousand_frames_arrive_in_order_at_zero_bit_errors(tmp_path: object) -> None:
    frames, _, vc_b = asyncio.run(
        _exchange(10_000, ber=0.0, baud=4_000_000, tmp_path=str(tmp_path), max_body=200)
    )
    assert [check_frame(f) for f in frames] == list(range(10_000))
    assert vc_b.stats.crc_errors == 0 and vc_b.stats.frames_received == 10_000


def test_bit_errors_never_deliver_a_corrupt_frame_and_every_loss_is_counted(
    tmp_path: object,
) -> None:
    count = 3000
    frames, _, vc_b = asyncio.run(
        _exchange(count, ber=1e-5, baud=4_000_000, tmp_path=str(tmp_path), max_body=400)
    )
    seqs = [check_frame(f) for f in frames]  # raises on any corrupt delivery
    assert seqs == sorted(set(seqs)), "duplicated or reordered frames"
    lost = count - len(seqs)
    stats = vc_b.stats
    errors = (
        stats.crc_errors
        + stats.alignment_errors
        + stats.framing_errors
        + stats.buffer_overrun_errors
    )
    # ~2.4 Mbit at 1e-5 flips ~24 bits; each flip loses one frame, or two when
    # it destroys the flag between them (two frames merge and fail one check).
    assert lost > 0
    assert errors <= lost <= 2 * errors


def test_send_window_changes_take_effect_and_hangup_fails_pending_sends(
    tmp_path: object,
) -> None:
    async def run() -> None:
        async with VirtualCable(9600) as cable:
            a, b, vc_a, _, rec_a, _ = _open_pair(cable, str(tmp_path))
            sender = VcSendPath(vc_a, on_backpressure=lambda paused: None)
            seen_outstanding: list[tuple[int, int]] = []
            original_send = vc_a.send

            def watched_send(frame: bytes) -> asyncio.Future[SendStatus]:
                seen_outstanding.append((vc_a.outstanding + 1, sender.window.window))
                return original_send(frame)

            vc_a.send = watched_send  # type: ignore[method-assign]
            rng = random.Random(1)
            for i in range(40):  # ~60 KB: several seconds at 9600 baud
                sender.send(make_frame(i, rng, 1500))
            for window in (3, 0, 1, 0, 5):
                a.set_send_window(vc_a, window)
                sender.set_window(window)
                await asyncio.sleep(0.15)
            assert rec_a.params[-1].send_window == 5
            assert all(out <= win for out, win in seen_outstanding)
            assert seen_outstanding, "nothing was sent"
            in_flight = vc_a.outstanding
            assert in_flight > 0, "the line should still be busy"
            successes_before = sender.completed.get(SendStatus.SUCCESS, 0)
            cable.hangup("a")  # our own end: the port reads EIO, like a carrier loss
            await asyncio.sleep(0.3)
            assert rec_a.down == [LineDownReason.HANGUP]
            queued = len(sender.queue)
            assert sender.close() == queued
            await asyncio.sleep(0.05)
            # Every send handed down completed exactly once; those in flight failed.
            assert sum(sender.completed.values()) == len(seen_outstanding)
            assert sender.window.outstanding == 0 and vc_a.outstanding == 0
            assert sender.completed.get(SendStatus.SUCCESS, 0) == successes_before
            assert sender.completed.get(SendStatus.HANGUP, 0) == in_flight
            a.close()
            b.close()

    asyncio.run(run())


def test_send_on_deactivated_vc_completes_with_hangup(tmp_path: object) -> None:
    async def run() -> None:
        async with VirtualCable(115200) as cable:
            a, b, vc_a, _, _, _ = _open_pair(cable, str(tmp_path))
            a.deactivate_vc(vc_a)
            assert await vc_a.send(PPP_IP + b"x") is SendStatus.HANGUP
            a.close()
            b.close()

    asyncio.run(run())


def test_oversize_frame_completes_invalid(tmp_path: object) -> None:
    async def run() -> None:
        async with VirtualCable(115200) as cable:
            a, b, vc_a, _, _, _ = _open_pair(cable, str(tmp_path))
            assert await vc_a.send(PPP_IP + os.urandom(4000)) is SendStatus.INVALID
            assert await vc_a.send(b"") is SendStatus.INVALID
            a.close()
            b.close()

    asyncio.run(run())


@pytest.mark.parametrize("action", ["activate twice", "delete active"])
def test_invalid_vc_sequences_are_refused(tmp_path: object, action: str) -> None:
    from wanminiport import MiniportError, VcStateError

    async def run() -> None:
        async with VirtualCable(115200) as cable:
            a, b, vc_a, _, _, _ = _open_pair(cable, str(tmp_path))
            speed = FlowSpec(115200)
            with pytest.raises((VcStateError, MiniportError)):
                if action == "activate twice":
                    a.activate_vc(vc_a, CallParameters(speed, speed))
                else:
                    a.delete_vc(vc_a)
            assert vc_a.state.value == "active"
            a.close()
            b.close()

    asyncio.run(run())


def test_a_busy_line_is_read_a_few_times_per_frame_not_once_per_chunk(tmp_path: object) -> None:
    """The framer's frame-end estimate lets the tty hold a frame's middle unread."""
    count = 6

    async def run() -> tuple[int, list[bytes], list[bytes]]:
        async with VirtualCable(115200) as cable:
            a, b, vc_a, _, _, rec_b = _open_pair(cable, str(tmp_path))
            reads = 0
            indicate = b.data_received

            def counting(data: bytes) -> None:
                nonlocal reads
                reads += 1
                indicate(data)

            b.data_received = counting  # type: ignore[method-assign]
            rng = random.Random(3)
            packets = [ipv4_packet(rng.randbytes(1480)) for _ in range(count)]
            sender = VcSendPath(vc_a)
            for packet in packets:
                assert sender.send(PPP_IP + packet)
            rec_b.expect = count
            await asyncio.wait_for(rec_b.arrived.wait(), 10)
            a.close()
            b.close()
            return reads, rec_b.frames, [PPP_IP + p for p in packets]

    reads, got, sent = asyncio.run(run())
    assert got == sent
    # The cable hands over a chunk every 2 ms: about 65 per 1500-byte frame
    # at 115200.  Reading once the frame can be complete takes a handful.
    assert reads <= 6 * count


def ipv4_packet(payload: bytes) -> bytes:
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
