"""SerialTransport over real ptys and the virtual cable (no mocks)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import termios
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hw.lab.cable import VirtualCable
from hw.lab.ptys import PtyPair, open_pty
from tests.aio import in_loop, until
from wanminiport.transports.base import LineDownReason, ModemLines, TransportError, WriteDone
from wanminiport.transports.lockfile import PortLockedError, format_lock_contents, lock_name
from wanminiport.transports.serial_port import SerialTransport


class Recorder:
    """TransportEvents that remember everything."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.downs: list[LineDownReason] = []
        self.lines: list[ModemLines] = []

    def data_received(self, data: bytes) -> None:
        self.data += data

    def line_down(self, reason: LineDownReason) -> None:
        self.downs.append(reason)

    def modem_lines_changed(self, lines: ModemLines) -> None:
        self.lines.append(lines)


def numbered(log: list[tuple[int, bool]], index: int) -> WriteDone:
    """A write completion that records which write it was."""
    return lambda ok: log.append((index, ok))


async def drain_master(pty: PtyPair, count: int) -> bytes:
    """Read ``count`` bytes from a pty master on the running loop."""
    got = bytearray()

    def readable() -> None:
        got.extend(os.read(pty.master_fd, 65536))

    loop = asyncio.get_running_loop()
    loop.add_reader(pty.master_fd, readable)
    try:
        await until(lambda: len(got) >= count, f"{count} bytes on the master")
    finally:
        loop.remove_reader(pty.master_fd)
    return bytes(got)


@pytest.fixture
def pty() -> Iterator[PtyPair]:
    pair = open_pty()
    yield pair
    pair.close()


@pytest.fixture
def lock_dir(tmp_path: Path) -> str:
    return str(tmp_path)


def open_started(path: str, lock_dir: str, **kwargs: Any) -> tuple[SerialTransport, Recorder]:
    transport = SerialTransport(path, lock_dir=lock_dir, **kwargs)
    events = Recorder()
    transport.start(events)
    return transport, events


@in_loop
async def test_bytes_flow_both_ways_over_a_pty(pty: PtyPair, lock_dir: str) -> None:
    transport, events = open_started(pty.slave_path, lock_dir)
    try:
        done: list[bool] = []
        transport.write(b"ATZ\r", done.append)
        assert await drain_master(pty, 4) == b"ATZ\r"
        await until(lambda: done == [True], "write completion")
        os.write(pty.master_fd, b"OK\r\n")
        await until(lambda: events.data == b"OK\r\n", "received bytes")
    finally:
        transport.close()


@in_loop
async def test_bytes_flow_both_ways_through_the_cable(lock_dir: str) -> None:
    async with VirtualCable(921600) as cable:
        a, a_events = open_started(cable.a_path, lock_dir, baudrate=921600)
        b, b_events = open_started(cable.b_path, lock_dir, baudrate=921600)
        try:
            to_b, to_a = os.urandom(5000), os.urandom(3000)
            a.write(to_b)
            b.write(to_a)
            await until(lambda: len(b_events.data) >= 5000 and len(a_events.data) >= 3000, "data")
            assert bytes(b_events.data) == to_b
            assert bytes(a_events.data) == to_a
        finally:
            a.close()
            b.close()


@in_loop
async def test_large_writes_complete_exactly_once_in_order(pty: PtyPair, lock_dir: str) -> None:
    transport, _ = open_started(pty.slave_path, lock_dir, max_buffered=1 << 20)
    try:
        chunks = [bytes([i]) * 40_000 for i in range(20)]
        completions: list[tuple[int, bool]] = []
        for i, chunk in enumerate(chunks):
            transport.write(chunk, numbered(completions, i))
        assert transport.buffered > 0  # the pty cannot take 800 kB at once
        assert await drain_master(pty, 800_000) == b"".join(chunks)
        await until(lambda: len(completions) == 20, "20 completions")
        await asyncio.sleep(0.05)  # a duplicate completion would show up here
        assert completions == [(i, True) for i in range(20)]
        assert transport.buffered == 0
    finally:
        transport.close()


@in_loop
async def test_write_beyond_max_buffered_raises_buffer_error(pty: PtyPair, lock_dir: str) -> None:
    transport, _ = open_started(pty.slave_path, lock_dir, max_buffered=1000)
    try:
        with pytest.raises(BufferError, match="max_buffered=1000"):
            transport.write(b"x" * 1001)
        transport.write(b"x" * 1000)
        # Fill the pty (nobody reads the master) until bytes stay buffered.
        while transport.buffered == 0:
            transport.write(b"y" * 1000)
        held = transport.buffered
        with pytest.raises(BufferError):
            transport.write(b"z" * (1001 - held))
        assert transport.buffered == held  # the refused write left no trace
        transport.write(b"z" * (1000 - held))
    finally:
        transport.close()


@in_loop
async def test_termios_restored_on_close(pty: PtyPair, lock_dir: str) -> None:
    assert pty.keepalive_fd >= 0
    attrs = termios.tcgetattr(pty.keepalive_fd)
    attrs[2] &= ~termios.CLOCAL  # pyserial sets CLOCAL: its removal must come back
    attrs[4] = attrs[5] = termios.B9600
    termios.tcsetattr(pty.keepalive_fd, termios.TCSANOW, attrs)
    before = termios.tcgetattr(pty.keepalive_fd)

    transport, _ = open_started(pty.slave_path, lock_dir, baudrate=115200, parity="E")
    during = termios.tcgetattr(pty.keepalive_fd)
    transport.close()
    after = termios.tcgetattr(pty.keepalive_fd)

    assert during != before
    assert during[4] == termios.B115200 and during[2] & termios.CLOCAL
    assert after == before


@in_loop
async def test_far_end_close_gives_exactly_one_hangup(pty: PtyPair, lock_dir: str) -> None:
    transport, events = open_started(pty.slave_path, lock_dir)
    try:
        pty.close()  # the master: the slave now reads EIO
        await until(lambda: bool(events.downs), "line down")
        await asyncio.sleep(0.1)
        assert events.downs == [LineDownReason.HANGUP]
        assert not transport.is_open
        late: list[bool] = []
        transport.write(b"too late", late.append)
        await until(lambda: bool(late), "late completion")
        assert late == [False]
        assert events.downs == [LineDownReason.HANGUP]
    finally:
        transport.close()


@in_loop
async def test_pending_writes_complete_false_when_line_goes_down(
    pty: PtyPair, lock_dir: str
) -> None:
    transport, events = open_started(pty.slave_path, lock_dir, max_buffered=1 << 20)
    try:
        completions: list[tuple[int, bool]] = []
        for i in range(30):
            transport.write(b"x" * 10_000, numbered(completions, i))
        assert transport.buffered > 0
        pty.close()
        await until(lambda: len(completions) == 30 and bool(events.downs), "completions")
        await asyncio.sleep(0.05)
        assert [i for i, _ in completions] == list(range(30))
        results = [ok for _, ok in completions]
        assert False in results
        # Every True (handed to the OS before the hangup) precedes every False.
        assert results == sorted(results, reverse=True)
        assert events.downs == [LineDownReason.HANGUP]
        assert transport.buffered == 0
    finally:
        transport.close()


@in_loop
async def test_line_down_removes_the_fd_from_the_loop(pty: PtyPair, lock_dir: str) -> None:
    transport, events = open_started(pty.slave_path, lock_dir)
    fd = transport._fd
    try:
        pty.close()
        await until(lambda: bool(events.downs), "line down")
        loop = asyncio.get_running_loop()
        assert not loop.remove_reader(fd)
        assert not loop.remove_writer(fd)
    finally:
        transport.close()


@in_loop
async def test_close_completes_pending_writes_false_without_line_down(
    pty: PtyPair, lock_dir: str
) -> None:
    transport, events = open_started(pty.slave_path, lock_dir, max_buffered=1 << 20)
    completions: list[bool] = []
    for _ in range(20):
        transport.write(b"x" * 10_000, completions.append)
    transport.close()
    await until(lambda: len(completions) == 20, "completions")
    assert False in completions
    assert events.downs == []


@in_loop
async def test_close_leaves_no_fds_open(lock_dir: str) -> None:
    before = set(os.listdir("/proc/self/fd"))
    pair = open_pty()
    transport, _ = open_started(pair.slave_path, lock_dir)
    transport.write(b"hello")
    transport.close()
    pair.close()
    await asyncio.sleep(0)
    assert set(os.listdir("/proc/self/fd")) == before


@in_loop
async def test_pty_has_no_modem_lines(pty: PtyPair, lock_dir: str) -> None:
    transport, events = open_started(pty.slave_path, lock_dir)
    try:
        assert transport.has_modem_lines is False
        transport.set_dtr(False)
        transport.set_rts(False)
        assert transport.modem_lines() == ModemLines()
        assert events.lines == []
    finally:
        transport.close()


@in_loop
async def test_loop_url_carries_bytes_back(lock_dir: str) -> None:
    transport, events = open_started("loop://", lock_dir, baudrate=9600)
    try:
        done: list[bool] = []
        transport.write(b"looped back", done.append)
        await until(lambda: events.data == b"looped back" and done == [True], "loopback")
        assert transport.buffered == 0
    finally:
        transport.close()
    assert not any(t.is_alive() for t in transport._threads)


@in_loop
async def test_modem_line_changes_are_indicated(lock_dir: str) -> None:
    # pyserial's loop:// wires RTS to CTS and DTR to DSR, like a loopback plug.
    transport, events = open_started("loop://", lock_dir, modem_poll_interval=0.01)
    try:
        assert transport.has_modem_lines
        assert transport.modem_lines().dsr and transport.modem_lines().cts
        transport.set_dtr(False)
        await until(lambda: bool(events.lines), "a modem-line indication")
        assert events.lines[-1] == ModemLines(cd=True, dsr=False, cts=True, ri=False)
        transport.set_rts(False)
        await until(lambda: not events.lines[-1].cts, "CTS to follow RTS")
        await asyncio.sleep(0.05)
        assert len(events.lines) == 2  # one indication per change, not per poll
    finally:
        transport.close()


@in_loop
async def test_port_lock_is_taken_at_open_and_released_at_close(
    pty: PtyPair, lock_dir: str
) -> None:
    lock_path = Path(lock_dir) / lock_name(pty.slave_path)
    transport, _ = open_started(pty.slave_path, lock_dir)
    assert lock_path.read_bytes() == format_lock_contents(os.getpid())
    transport.close()
    assert not lock_path.exists()


def test_locked_port_is_refused_with_exit_code_6(pty: PtyPair, lock_dir: str) -> None:
    owner = subprocess.Popen(["sleep", "30"])
    try:
        (Path(lock_dir) / lock_name(pty.slave_path)).write_bytes(format_lock_contents(owner.pid))
        with pytest.raises(PortLockedError) as info:
            SerialTransport(pty.slave_path, lock_dir=lock_dir)
        assert info.value.exit_code == 6
        # The owner's command line in the message is test_lockfile's concern.
        assert str(info.value).startswith(f"port {pty.slave_path} is locked by PID {owner.pid}")
    finally:
        owner.kill()
        owner.wait()


def test_exclusive_open_refuses_a_second_opener(pty: PtyPair) -> None:
    first = SerialTransport(pty.slave_path, lock=False)
    try:
        with pytest.raises(TransportError, match="in use") as info:
            SerialTransport(pty.slave_path, lock=False)
        assert info.value.exit_code == 6
    finally:
        first.close()


def test_missing_device_is_open_failed_with_a_hint(lock_dir: str) -> None:
    with pytest.raises(TransportError, match="no such device /dev/ttyNOSUCH9") as info:
        SerialTransport("/dev/ttyNOSUCH9", lock_dir=lock_dir)
    assert info.value.exit_code == 7
    assert not os.listdir(lock_dir)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")
def test_permission_denied_suggests_the_devices_group(pty: PtyPair, lock_dir: str) -> None:
    os.chmod(pty.slave_path, 0o660)
    # nobody/nogroup: neither the owner nor in the device's group.
    os.setegid(65534)
    os.seteuid(65534)
    try:
        with pytest.raises(TransportError, match="permission denied") as info:
            SerialTransport(pty.slave_path, lock=False)
    finally:
        os.seteuid(0)
        os.setegid(0)
    assert info.value.exit_code == 7
    assert "group" in str(info.value) and "usermod -aG" in str(info.value)


def test_lock_is_released_when_open_fails(tmp_path: Path, lock_dir: str) -> None:
    not_a_tty = tmp_path / "plain-file"
    not_a_tty.write_bytes(b"")
    with pytest.raises(TransportError, match="not a serial port") as info:
        SerialTransport(str(not_a_tty), lock_dir=lock_dir)
    assert info.value.exit_code == 7
    assert not (Path(lock_dir) / lock_name(str(not_a_tty))).exists()


@pytest.mark.parametrize(
    ("port", "settings", "pattern"),
    [
        ("loop://", {"bytesize": 9}, "byte size"),
        ("loop://", {"parity": "Q"}, "parity"),
        ("loop://", {"baudrate": -5}, "baud"),
        ("nosuchscheme://x", {}, "protocol"),
    ],
)
def test_invalid_settings_are_option_errors(
    port: str, settings: dict[str, Any], pattern: str
) -> None:
    with pytest.raises(TransportError, match=f"(?i){pattern}") as info:
        SerialTransport(port, **settings)
    assert info.value.exit_code == 2


def test_write_before_start_is_refused(pty: PtyPair, lock_dir: str) -> None:
    transport = SerialTransport(pty.slave_path, lock_dir=lock_dir)
    try:
        with pytest.raises(RuntimeError, match="start"):
            transport.write(b"x")
    finally:
        transport.close()


def test_errno_of_a_vanished_device_is_no_such_device() -> None:
    # Opening a pty slave whose master is gone: the node no longer exists.
    pair = open_pty(keep_slave_open=False)
    path = pair.slave_path
    pair.close()
    with pytest.raises(TransportError) as info:
        SerialTransport(path, lock=False)
    assert info.value.exit_code == 7
    assert "no such device" in str(info.value)


# -- deferred reading: a framer that knows a frame's length skips reads ---------


@in_loop
async def test_defer_reading_holds_bytes_in_the_tty_until_they_are_due(
    pty: PtyPair, lock_dir: str
) -> None:
    transport, events = open_started(pty.slave_path, lock_dir, baudrate=9600)
    try:
        transport.defer_reading(192)  # 192 characters at 9600 8N1: 200 ms
        os.write(pty.master_fd, b"early")
        await asyncio.sleep(0.08)
        assert events.data == b""  # still in the tty: nobody read it
        await until(lambda: events.data == b"early", "the deferred read")
    finally:
        transport.close()


@in_loop
async def test_a_deferral_shorter_than_two_milliseconds_is_ignored(
    pty: PtyPair, lock_dir: str
) -> None:
    transport, events = open_started(pty.slave_path, lock_dir, baudrate=115200)
    try:
        transport.defer_reading(20)  # 1.7 ms at 115200: not worth a timer
        os.write(pty.master_fd, b"now")
        await until(lambda: events.data == b"now", "the immediate read", timeout=0.05)
    finally:
        transport.close()


@in_loop
async def test_defer_reading_never_waits_longer_than_a_quarter_second(
    pty: PtyPair, lock_dir: str
) -> None:
    transport, events = open_started(pty.slave_path, lock_dir, baudrate=300)
    try:
        transport.defer_reading(1500)  # 50 s at 300 baud
        os.write(pty.master_fd, b"capped")
        await until(lambda: events.data == b"capped", "the capped deferral", timeout=1.0)
    finally:
        transport.close()


@in_loop
async def test_close_during_a_deferral_reads_nothing_more(pty: PtyPair, lock_dir: str) -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    transport, events = open_started(pty.slave_path, lock_dir, baudrate=9600)
    transport.defer_reading(48)  # 50 ms
    os.write(pty.master_fd, b"too late")
    transport.close()
    await asyncio.sleep(0.1)
    assert events.data == b""
    assert events.downs == []
    assert errors == []  # the resume timer did not fire on the closed fd
