"""The virtual null-modem cable: pacing, bit errors, cut, hang-up, and its process form."""

from __future__ import annotations

import asyncio
import errno
import os
import random
import select
import termios
import time
from collections.abc import Iterator

import pytest

from hw.lab.cable import BitErrors, VirtualCable
from hw.lab.cable_process import CableProcess, CableProcessError
from hw.lab.ptys import open_pty
from tests.aio import TEST_TIMEOUT, in_loop


def open_end(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)


async def send(fd: int, data: bytes) -> None:
    """Write everything, waiting whenever the tty pushes back."""
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            writable = loop.create_future()
            loop.add_writer(fd, writable.set_result, None)
            try:
                await writable
            finally:
                loop.remove_writer(fd)


async def receive(fd: int, count: int, timeout: float = TEST_TIMEOUT) -> bytes:
    """Read until ``count`` bytes arrived (or ``timeout`` passed)."""
    loop = asyncio.get_running_loop()
    got = bytearray()
    enough = loop.create_future()

    def readable() -> None:
        got.extend(os.read(fd, 65536))
        if len(got) >= count and not enough.done():
            enough.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await asyncio.wait_for(enough, timeout)
    except TimeoutError:
        pass
    finally:
        loop.remove_reader(fd)
    return bytes(got)


def assert_hung_up(fd: int) -> None:
    """A hung-up tty: poll says HUP, reads see end of file, writes fail with EIO."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    assert poller.poll(1000)[0][1] & select.POLLHUP
    assert os.read(fd, 10) == b""
    with pytest.raises(OSError) as info:
        os.write(fd, b"x")
    assert info.value.errno == errno.EIO


def flipped_bits(sent: bytes, received: bytes) -> int:
    return sum((x ^ y).bit_count() for x, y in zip(sent, received, strict=True))


@pytest.fixture
def ends() -> Iterator[list[int]]:
    """Slave fds opened by a test; closed afterwards."""
    fds: list[int] = []
    yield fds
    for fd in fds:
        os.close(fd)


# -- bit errors, without I/O --------------------------------------------------


def test_bit_errors_flip_each_bit_with_probability_ber() -> None:
    errors = BitErrors(1e-3, random.Random(1))
    data = bytes(125_000)  # 10**6 bits
    damaged, flips = errors.apply(data)
    assert flipped_bits(data, damaged) == flips
    # Binomial(10**6, 1e-3): mean 1000, sd ~31.6; 5 sd either side.
    assert 840 <= flips <= 1160


def test_bit_errors_carry_the_gap_across_chunks() -> None:
    whole = BitErrors(1e-2, random.Random(7)).apply(bytes(10_000))[0]
    chunked = BitErrors(1e-2, random.Random(7))
    pieces = b"".join(chunked.apply(bytes(100))[0] for _ in range(100))
    assert pieces == whole


def test_ber_of_one_flips_every_bit() -> None:
    damaged, flips = BitErrors(1.0, random.Random(0)).apply(b"\x00\x0f\xff")
    assert damaged == b"\xff\xf0\x00"
    assert flips == 24


@pytest.mark.parametrize("ber", [0.0, -0.1, 1.5, float("nan")])
def test_bit_errors_refuse_rates_outside_zero_to_one(ber: float) -> None:
    with pytest.raises(ValueError, match="bit-error rate"):
        BitErrors(ber, random.Random(0))


@pytest.mark.parametrize(("baud", "ber"), [(0, 0.0), (-9600, 0.0), (9600, 2.0), (9600, -1e-3)])
def test_cable_refuses_bad_baud_or_ber(baud: int, ber: float) -> None:
    with pytest.raises(ValueError):
        VirtualCable(baud, ber=ber)


# -- the in-process cable ------------------------------------------------------


@in_loop
async def test_line_rate_paces_11520_bytes_at_115200_to_about_a_second(ends: list[int]) -> None:
    async with VirtualCable(115200) as cable:
        ends += [open_end(cable.a_path), open_end(cable.b_path)]
        data = os.urandom(11520)
        start = time.monotonic()
        sending = asyncio.ensure_future(send(ends[0], data))
        got = await receive(ends[1], len(data))
        elapsed = time.monotonic() - start
        await sending
    assert got == data
    # 11520 bytes x 10 bit times / 115200 baud = 1 s; generous bounds for noisy hosts.
    assert 0.9 < elapsed < 3.0


@in_loop
async def test_no_byte_arrives_before_its_last_bit_would_on_a_real_line(ends: list[int]) -> None:
    async with VirtualCable(115200) as cable:
        ends += [open_end(cable.a_path), open_end(cable.b_path)]
        frame = os.urandom(230)  # 230 x 10 bit times at 115200 = 19.97 ms
        seconds_per_byte = 10 / 115200
        loop = asyncio.get_running_loop()
        arrivals: list[tuple[float, int]] = []
        got = 0
        finished = loop.create_future()

        def readable() -> None:
            nonlocal got
            got += len(os.read(ends[1], 65536))
            arrivals.append((time.monotonic(), got))
            if got >= len(frame) and not finished.done():
                finished.set_result(None)

        start = time.monotonic()
        os.write(ends[0], frame)
        loop.add_reader(ends[1], readable)
        try:
            await asyncio.wait_for(finished, TEST_TIMEOUT)
        finally:
            loop.remove_reader(ends[1])
    # Byte k is complete k byte times after the write at the earliest.
    for when, count in arrivals:
        assert count <= (when - start) / seconds_per_byte + 1e-6
    assert arrivals[-1][0] - start >= len(frame) * seconds_per_byte
    # Several deliveries, not the whole frame held until the end.
    assert len(arrivals) > 1


@in_loop
async def test_the_last_byte_on_an_idle_line_is_not_held_back(ends: list[int]) -> None:
    async with VirtualCable(9600) as cable:
        ends += [open_end(cable.a_path), open_end(cable.b_path)]
        start = time.monotonic()
        await send(ends[0], b"ping")  # 4 x 10 bit times at 9600 = 4.2 ms
        got = await receive(ends[1], 4)
        elapsed = time.monotonic() - start
    assert got == b"ping"
    assert elapsed >= 4 * 10 / 9600
    # On time give or take the loop's millisecond timers; generous for busy hosts.
    assert elapsed < 0.2


@in_loop
async def test_zero_ber_delivers_exact_bytes_both_ways(ends: list[int]) -> None:
    async with VirtualCable(3_000_000) as cable:
        ends += [open_end(cable.a_path), open_end(cable.b_path)]
        to_b, to_a = os.urandom(60_000), os.urandom(40_000)
        results = await asyncio.gather(
            send(ends[0], to_b),
            send(ends[1], to_a),
            receive(ends[1], len(to_b)),
            receive(ends[0], len(to_a)),
        )
        stats = cable.stats()
    assert results[2] == to_b
    assert results[3] == to_a
    assert stats["a_to_b"] == {"bytes": 60_000, "bits_flipped": 0, "dropped": 0}
    assert stats["b_to_a"] == {"bytes": 40_000, "bits_flipped": 0, "dropped": 0}


@in_loop
async def test_ber_flips_about_the_expected_number_of_bits(ends: list[int]) -> None:
    async with VirtualCable(3_000_000, ber=1e-3, seed=42) as cable:
        ends += [open_end(cable.a_path), open_end(cable.b_path)]
        data = os.urandom(50_000)
        sending = asyncio.ensure_future(send(ends[0], data))
        got = await receive(ends[1], len(data))
        await sending
        flips = cable.stats()["a_to_b"]["bits_flipped"]
    assert len(got) == len(data)
    assert flipped_bits(data, got) == flips
    # 400,000 data bits at 1e-3: mean 400, sd 20; 5 sd either side.
    assert 300 <= flips <= 500


@in_loop
async def test_cut_drops_both_ways_and_restore_resumes(ends: list[int]) -> None:
    async with VirtualCable(921600) as cable:
        ends += [open_end(cable.a_path), open_end(cable.b_path)]
        cable.cut()
        await send(ends[0], b"lost a->b")
        await send(ends[1], b"lost b->a")
        assert await receive(ends[1], 1, timeout=0.2) == b""
        assert await receive(ends[0], 1, timeout=0.01) == b""
        assert cable.stats()["a_to_b"]["dropped"] == len(b"lost a->b")
        assert cable.stats()["b_to_a"]["dropped"] == len(b"lost b->a")
        cable.restore()
        await send(ends[0], b"back")
        assert await receive(ends[1], 4) == b"back"


@in_loop
async def test_hangup_hangs_up_that_end_and_replug_reconnects(ends: list[int]) -> None:
    async with VirtualCable(921600) as cable:
        ends += [open_end(cable.a_path), open_end(cable.b_path)]
        old_path = cable.a_path
        cable.hangup("a")
        assert_hung_up(ends[0])
        assert not os.path.exists(old_path)
        await send(ends[1], b"nobody there")  # b still writes; the bytes are lost
        await asyncio.sleep(0.05)
        assert cable.stats()["b_to_a"]["dropped"] == len(b"nobody there")
        assert cable.stats()["a_up"] is False

        new_path = cable.replug("a")
        ends.append(open_end(new_path))
        await asyncio.sleep(0)
        await send(ends[1], b"hello again")
        assert await receive(ends[2], 11) == b"hello again"


@in_loop
async def test_stalled_reader_pushes_back_to_the_writer(ends: list[int]) -> None:
    async with VirtualCable(3_000_000) as cable:
        ends += [open_end(cable.a_path), open_end(cable.b_path)]
        accepted = 0
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                accepted += os.write(ends[0], bytes(4096))
            except BlockingIOError:
                await asyncio.sleep(0.1)  # let the relay move what it can
                try:
                    accepted += os.write(ends[0], bytes(4096))
                except BlockingIOError:
                    break
        relayed = cable.stats()["a_to_b"]["bytes"]
    # Nobody reads b: the writer is stopped by full buffers, not by losing bytes.
    assert time.monotonic() < deadline
    assert accepted < 1 << 20
    assert relayed <= accepted
    assert cable.stats()["a_to_b"]["dropped"] == 0


@in_loop
async def test_joined_tty_relays_like_a_pty_end(ends: list[int]) -> None:
    vm = open_pty()  # stands in for qemu: it holds the master, we join the slave
    try:
        async with VirtualCable(921600, join_a=vm.slave_path) as cable:
            assert cable.a_path == vm.slave_path
            ends.append(open_end(cable.b_path))
            os.write(vm.master_fd, b"login: ")
            assert await receive(ends[0], 7) == b"login: "
            await send(ends[0], b"root\n")
            got = bytearray()
            for _ in range(200):
                try:
                    got += os.read(vm.master_fd, 100)
                except BlockingIOError:
                    await asyncio.sleep(0.01)
                if got == b"root\n":
                    break
            assert got == b"root\n"
    finally:
        vm.close()


# -- the separate process ---------------------------------------------------------


def _set_speed(fd: int, speed: int) -> None:
    attrs = termios.tcgetattr(fd)
    attrs[4] = attrs[5] = speed
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


@in_loop
async def test_a_cable_following_termios_paces_each_way_at_its_senders_speed(
    ends: list[int],
) -> None:
    async with VirtualCable(921600, follow_termios=True) as cable:
        ends += [open_end(cable.a_path), open_end(cable.b_path)]
        _set_speed(ends[0], termios.B9600)  # what qemu's FTDI chip does for its guest
        _set_speed(ends[1], termios.B921600)  # (a fresh pty says 38400)
        started = time.monotonic()
        await send(ends[0], b"x" * 480)
        got = await receive(ends[1], 480)
        slow = time.monotonic() - started
        started = time.monotonic()
        await send(ends[1], b"y" * 480)
        back = await receive(ends[0], 480)
        fast = time.monotonic() - started
        stats = cable.stats()
    assert got == b"x" * 480 and back == b"y" * 480
    assert (stats["a_baud"], stats["b_baud"]) == (9600, 921600)
    # 480 octets at 9600 bit/s cannot arrive in under 0.5 s; at 921600 they take 5 ms.
    assert slow >= 0.45
    assert fast < slow / 4


@in_loop
async def test_a_cable_not_following_termios_keeps_its_own_rate(ends: list[int]) -> None:
    async with VirtualCable(921600) as cable:
        ends += [open_end(cable.a_path), open_end(cable.b_path)]
        _set_speed(ends[0], termios.B9600)
        await send(ends[0], b"x" * 100)
        assert await receive(ends[1], 100) == b"x" * 100
        assert cable.stats()["a_baud"] == 921600


def _read_exactly(fd: int, count: int) -> bytes:
    got = b""
    while len(got) < count:
        got += os.read(fd, count - len(got))
    return got


def test_cable_process_prints_paths_and_answers_stats() -> None:
    with CableProcess(115200, seed=1) as cable:
        assert cable.a.startswith("/dev/pts/") and cable.b.startswith("/dev/pts/")
        a = os.open(cable.a, os.O_RDWR | os.O_NOCTTY)
        b = os.open(cable.b, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(a, b"ping")
            assert _read_exactly(b, 4) == b"ping"
            stats = cable.stats()
        finally:
            os.close(a)
            os.close(b)
    assert stats["a_to_b"] == {"bytes": 4, "bits_flipped": 0, "dropped": 0}
    assert stats["cut"] is False


def test_cable_process_cut_and_hangup_commands() -> None:
    with CableProcess(921600) as cable:
        a = os.open(cable.a, os.O_RDWR | os.O_NOCTTY)
        try:
            cable.cut()
            assert cable.stats()["cut"] is True
            cable.restore()
            cable.hangup("a")
            assert_hung_up(a)
            new_a = cable.replug("a")
            assert cable.a == new_a and os.path.exists(new_a)
        finally:
            os.close(a)


@pytest.mark.parametrize("command", ["fly", "hangup c", "hangup", "cut now", "replug b"])
def test_cable_process_refuses_malformed_commands(command: str) -> None:
    with CableProcess(9600) as cable:
        with pytest.raises(CableProcessError, match="cable:"):
            cable.command(command)
        assert cable.stats()["a_up"] is True  # still answering


def test_cable_process_exits_when_its_input_closes() -> None:
    cable = CableProcess(9600).start()
    proc = cable._process()
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(5) == 0
    cable.close()
