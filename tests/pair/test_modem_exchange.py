"""Our signaling glue dialing and answering through emulated modems on real ptys.

Each side is a ``ModemSignaling`` over a ``SerialTransport`` on a modem's
``/dev/pts/N``; the modems are joined by an in-process ``Exchange`` whose
timings (RING interval, S7, guard time) are shrunk so nothing sleeps long.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest

from hw.lab.modem import Exchange, ExchangeConfig, ExchangeProcess, ModemConfig
from hw.lab.ptys import open_pty
from tests.aio import in_loop, until
from wanminiport.mcm import (
    CallFailedError,
    HayesTimings,
    ModemSignaling,
    ResultCode,
    SignalingError,
    SignalingTimeout,
)
from wanminiport.transports.base import (
    LineDownReason,
    ModemLines,
    Transport,
    TransportEvents,
    WriteDone,
)
from wanminiport.transports.serial_port import SerialTransport

CALLER, CALLEE, THIRD = "5551234", "5555678", "5550000"
#: S7=50 and S12=50 become 1 s and 20 ms.
TIME_SCALE = 0.02
HOST_TIMINGS = HayesTimings(
    command=2.0, dial=5.0, answer=5.0, ring_gap=1.0, guard=0.04, dtr_hold=0.05
)
INIT = ("ATZ", "ATE0V1Q0")


@dataclass
class Sink:
    """The data owner after ``handover``: records what the line delivers."""

    data: bytearray = field(default_factory=bytearray)
    down: list[LineDownReason] = field(default_factory=list)

    def data_received(self, data: bytes) -> None:
        self.data += data

    def line_down(self, reason: LineDownReason) -> None:
        self.down.append(reason)

    def modem_lines_changed(self, lines: ModemLines) -> None:
        pass


@asynccontextmanager
async def exchange(
    *numbers: str, rates: dict[str, int] | None = None, **config: float
) -> AsyncIterator[Exchange]:
    options = {"ring_interval": 0.05, "handshake_time": 0.0, "dte_poll_interval": 0.01}
    options.update(config)
    switch = Exchange(ExchangeConfig(**options))
    for number in numbers:
        rate = (rates or {}).get(number, 115200)
        switch.add_modem(number, config=ModemConfig(rate=rate, time_scale=TIME_SCALE))
    switch.start()
    try:
        yield switch
    finally:
        switch.close()


@asynccontextmanager
async def dte(switch: Exchange, number: str) -> AsyncIterator[ModemSignaling]:
    """Our stack on modem ``number``'s tty."""
    transport = SerialTransport(switch.modems[number].path, lock=False)
    signaling = ModemSignaling(transport, timings=HOST_TIMINGS, detect_no_carrier_text=True)
    signaling.start()
    try:
        yield signaling
    finally:
        signaling.close()
        transport.close()


@asynccontextmanager
async def two_sides(
    *extra: str, rates: dict[str, int] | None = None, **config: float
) -> AsyncIterator[tuple[Exchange, ModemSignaling, ModemSignaling]]:
    """An exchange with our stack on the caller's and the callee's modems."""
    async with (
        exchange(CALLER, CALLEE, *extra, rates=rates, **config) as switch,
        dte(switch, CALLER) as caller,
        dte(switch, CALLEE) as callee,
    ):
        yield switch, caller, callee


async def connect(caller: ModemSignaling, callee: ModemSignaling) -> tuple[Sink, Sink]:
    answering = asyncio.ensure_future(callee.answer(init=INIT))
    dialed = await caller.dial(CALLEE, init=INIT)
    answered = await answering
    assert dialed.rate == answered.rate
    sinks = Sink(), Sink()
    caller.handover(sinks[0])
    callee.handover(sinks[1])
    return sinks


@in_loop
async def test_dial_and_answer_connect_and_data_passes_both_ways() -> None:
    async with two_sides(rates={CALLEE: 38400}) as (_switch, caller, callee):
        rings: list[int] = []
        callee.on_ring = rings.append
        answering = asyncio.ensure_future(callee.answer(init=INIT))
        result = await caller.dial(CALLEE, init=INIT)
        assert (result.text, result.rate) == ("CONNECT 38400", 38400)
        assert (await answering).rate == 38400 and rings == [1]
        to_caller, to_callee = Sink(), Sink()
        caller.handover(to_caller)
        callee.handover(to_callee)
        frame = bytes(range(256)) * 4
        caller.transport.write(frame)
        callee.transport.write(b"~pong~")
        await until(lambda: len(to_callee.data) >= len(frame), "data at the callee")
        await until(lambda: to_caller.data == b"~pong~", "data at the caller")
        assert to_callee.data == frame


@in_loop
@pytest.mark.parametrize("who_hangs_up", ["caller", "callee"])
async def test_hangup_gives_no_carrier_on_the_other_side_and_both_can_call_again(
    who_hangs_up: str,
) -> None:
    async with two_sides() as (_switch, caller, callee):
        sinks = await connect(caller, callee)
        quitter = caller if who_hangs_up == "caller" else callee
        other_sink = sinks[1] if who_hangs_up == "caller" else sinks[0]
        await quitter.hangup()
        await until(lambda: other_sink.down == [LineDownReason.CARRIER_LOST], "carrier loss")
        assert b"\r\nNO CARRIER\r\n" in other_sink.data
        assert not caller.online and not callee.online
        # Both modems are back in command state: a second call works.
        again = await connect(caller, callee)
        caller.transport.write(b"second call")
        await until(lambda: again[1].data == b"second call", "data on the second call")
        await caller.hangup()


@in_loop
async def test_busy_when_the_callee_is_in_a_call() -> None:
    async with two_sides(THIRD) as (switch, caller, callee):
        await connect(caller, callee)
        async with dte(switch, THIRD) as third:
            with pytest.raises(CallFailedError) as failed:
                await third.dial(CALLEE, init=INIT)
            assert failed.value.result.code is ResultCode.BUSY


@in_loop
async def test_unknown_number_gives_no_carrier() -> None:
    async with exchange(CALLER) as switch, dte(switch, CALLER) as caller:
        with pytest.raises(CallFailedError) as failed:
            await caller.dial("5559999", init=INIT)
        assert failed.value.result.code is ResultCode.NO_CARRIER


@in_loop
async def test_unanswered_call_rings_repeatedly_then_no_answer_after_s7() -> None:
    async with exchange(CALLER, CALLEE, ring_interval=0.2) as switch:
        callee_fd = os.open(switch.modems[CALLEE].path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            async with dte(switch, CALLER) as caller:
                loop = asyncio.get_running_loop()
                start = loop.time()
                with pytest.raises(CallFailedError) as failed:
                    await caller.dial(CALLEE, init=INIT)
                assert failed.value.result.code is ResultCode.NO_ANSWER
                assert loop.time() - start >= 50 * TIME_SCALE
            heard = os.read(callee_fd, 4096)
            assert heard.count(b"RING") >= 3
            # The caller gave up: the callee is free for the next call.
            assert not switch.modems[CALLEE].busy
        finally:
            os.close(callee_fd)


@in_loop
async def test_auto_answer_after_s0_rings() -> None:
    async with two_sides() as (switch, caller, callee):
        rings: list[int] = []
        callee.on_ring = rings.append
        answering = asyncio.ensure_future(callee.answer(init=INIT, auto_rings=3))
        await until(lambda: switch.modems[CALLEE].engine.register(0) == 3, "ATS0=3")
        result = await caller.dial(CALLEE, init=INIT)
        assert result.rate == 115200
        assert (await answering).rate == 115200
        assert rings == [1, 2, 3]


@in_loop
async def test_answer_waits_for_the_requested_ring_count() -> None:
    async with two_sides() as (_switch, caller, callee):
        rings: list[int] = []
        callee.on_ring = rings.append
        answering = asyncio.ensure_future(callee.answer(init=INIT, rings=3))
        await caller.dial(CALLEE, init=INIT)
        await answering
        assert rings == [1, 2, 3]


@in_loop
async def test_callee_declining_lets_the_caller_time_out() -> None:
    async with two_sides() as (_switch, caller, callee):
        answering = asyncio.ensure_future(callee.answer(init=INIT, accept=lambda n: False))
        with pytest.raises(CallFailedError):
            await caller.dial(CALLEE, init=INIT)
        answering.cancel()
        with pytest.raises(asyncio.CancelledError):
            await answering


@in_loop
async def test_dte_closing_its_tty_is_dtr_drop_and_hangs_up() -> None:
    async with exchange(CALLER, CALLEE) as switch, dte(switch, CALLEE) as callee:
        async with dte(switch, CALLER) as caller:
            sinks = await connect(caller, callee)
            callee.transport.write(b"unread by the caller")
            await asyncio.sleep(0.05)
        # The caller's tty is closed: the modem hangs up (&D2).
        await until(lambda: sinks[1].down == [LineDownReason.CARRIER_LOST], "NO CARRIER")
        assert not switch.modems[CALLER].busy
        fd = os.open(switch.modems[CALLER].path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            await until(lambda: switch.modems[CALLER].dte_present, "the new DTE seen")
            with pytest.raises(BlockingIOError):
                os.read(fd, 100)  # nothing stale from the last user
            os.write(fd, b"AT\r")
            await asyncio.sleep(0.05)
            assert os.read(fd, 100) == b"\r\nOK\r\n"  # E0 from our init stays (&D2)
        finally:
            os.close(fd)


@in_loop
async def test_line_is_paced_at_the_connect_rate() -> None:
    rate = 19200
    async with two_sides(rates={CALLER: rate}) as (_switch, caller, callee):
        sinks = await connect(caller, callee)
        payload = b"\x55" * (rate // 10)  # one second of line time
        loop = asyncio.get_running_loop()
        start = loop.time()
        caller.transport.write(payload)
        await until(lambda: len(sinks[1].data) >= len(payload), "the payload")
        elapsed = loop.time() - start
        # It cannot arrive faster than the line carries it.
        assert elapsed >= 0.9
        print(f"\n{len(payload)} bytes at {rate} bit/s took {elapsed:.3f} s")


@in_loop
async def test_a_byte_reaches_the_far_dte_only_once_its_last_bit_has_arrived() -> None:
    rate = 9600
    async with two_sides(rates={CALLER: rate}) as (_switch, caller, callee):
        sinks = await connect(caller, callee)
        loop = asyncio.get_running_loop()
        arrivals: list[tuple[float, int]] = []
        record = sinks[1].data_received

        def timed(data: bytes) -> None:
            record(data)
            arrivals.append((loop.time(), len(sinks[1].data)))

        sinks[1].data_received = timed  # type: ignore[method-assign]
        start = loop.time()
        caller.transport.write(b"\x55" * 48)  # 50 ms of line time
        await until(lambda: len(sinks[1].data) >= 48, "the bytes")
    seconds_per_byte = 10 / rate
    for when, count in arrivals:
        assert count <= (when - start) / seconds_per_byte + 1e-6


@in_loop
async def test_a_busy_line_keeps_one_pump_timer_per_modem() -> None:
    async with two_sides() as (switch, caller, callee):
        sinks = await connect(caller, callee)
        pumps = 0
        pump = switch._pump

        def counting(port: object) -> None:
            nonlocal pumps
            pumps += 1
            pump(port)  # type: ignore[arg-type]

        switch._pump = counting  # type: ignore[method-assign]
        payload = os.urandom(11520)  # one second at 115200
        caller.transport.write(payload)
        await until(lambda: len(sinks[1].data) >= len(payload), "the payload", timeout=5)
        assert sinks[1].data == payload
    # A wake-up per 2 ms of line time and one per DTE write: a few hundred.
    # Timers that multiplied (each pump leaving one more behind) made it
    # tens of thousands and kept a core busy.
    assert pumps < 2000


class ClaimsModemLines(Transport):
    """A pty transport that claims DTR and CD: DTR requests are recorded, CD is the test's."""

    def __init__(self, path: str) -> None:
        self.inner = SerialTransport(path, lock=False)
        self.name = path
        self.has_modem_lines = True
        self.cd = True
        self.dtr: list[bool] = []

    def start(self, events: TransportEvents) -> None:
        self.inner.start(events)

    def write(self, data: bytes, done: WriteDone | None = None) -> None:
        self.inner.write(data, done)

    @property
    def buffered(self) -> int:
        return self.inner.buffered

    def set_dtr(self, on: bool) -> None:
        self.dtr.append(on)

    def set_rts(self, on: bool) -> None:
        pass

    def modem_lines(self) -> ModemLines:
        return ModemLines(cd=self.cd, dsr=True, cts=True)

    def close(self) -> None:
        self.inner.close()

    @property
    def is_open(self) -> bool:
        return self.inner.is_open


@in_loop
async def test_cd_drop_in_data_mode_is_carrier_loss() -> None:
    async with exchange(CALLER, CALLEE) as switch:
        transport = ClaimsModemLines(switch.modems[CALLER].path)
        caller = ModemSignaling(transport, timings=HOST_TIMINGS)
        caller.start()
        lost: list[bool] = []
        caller.on_carrier_lost = lambda: lost.append(True)
        try:
            async with dte(switch, CALLEE) as callee:
                sink, _ = await connect(caller, callee)
                caller.modem_lines_changed(ModemLines(cd=True))
                assert not lost
                transport.cd = False
                caller.modem_lines_changed(ModemLines(cd=False))
                assert lost == [True] and sink.down == [LineDownReason.CARRIER_LOST]
                assert not caller.online
        finally:
            caller.close()
            transport.close()


@in_loop
async def test_dtr_hangup_that_the_modem_ignores_falls_back_to_the_escape() -> None:
    # A pty has no DTR: the drop goes nowhere, ATH goes out as data, and the
    # +++ escape has to do it.
    async with exchange(CALLER, CALLEE) as switch:
        transport = ClaimsModemLines(switch.modems[CALLER].path)
        caller = ModemSignaling(transport, timings=HOST_TIMINGS)
        caller.start()
        try:
            async with dte(switch, CALLEE) as callee:
                sinks = await connect(caller, callee)
                await caller.hangup()
                assert transport.dtr == [False, True]
                assert b"ATH0\r" in sinks[1].data
                await until(lambda: sinks[1].down == [LineDownReason.CARRIER_LOST], "NO CARRIER")
        finally:
            caller.close()
            transport.close()


@in_loop
async def test_chat_script_dials_and_hands_over_to_data_mode() -> None:
    async with two_sides() as (switch, caller, callee):
        answering = asyncio.ensure_future(callee.answer(init=INIT, auto_rings=1))
        await until(lambda: switch.modems[CALLEE].engine.register(0) == 1, "ATS0=1")
        script = ["ABORT", "BUSY", "", "ATZ", "OK", "ATDT\\T", "CONNECT", "\\c"]
        assert await caller.run_chat(script, phone=CALLEE, timeout=5) == 0
        await answering
        sink, far = Sink(), Sink()
        caller.handover(sink)
        callee.handover(far)
        caller.transport.write(b"after chat")
        await until(lambda: far.data == b"after chat", "data after the chat script")
        await caller.hangup()
        await until(lambda: far.down == [LineDownReason.CARRIER_LOST], "NO CARRIER")


@in_loop
async def test_chat_script_abort_and_timeout_codes_through_the_glue() -> None:
    async with exchange(CALLER, CALLEE) as switch, dte(switch, CALLER) as caller:
        busy = ["ABORT", "BUSY", "ABORT", "NO CARRIER", "", "ATZ", "OK", "ATDT5559999", "CONNECT"]
        assert await caller.run_chat(busy, timeout=5) == 5  # no such number: NO CARRIER
        assert await caller.run_chat(["", "ATZ", "NEVER", ""], timeout=0.2) == 3


@in_loop
async def test_chat_at_file_sends_the_file_and_a_missing_one_is_exit_code_1(tmp_path: Path) -> None:
    init = tmp_path / "init"
    init.write_text("ATS0=3\n")
    async with exchange(CALLER) as switch, dte(switch, CALLER) as caller:
        assert await caller.run_chat(["", f"@{tmp_path}/absent", "OK", ""], timeout=5) == 1
        assert await caller.run_chat(["", f"@{init}", "OK", ""], timeout=5) == 0
        assert switch.modems[CALLER].engine.register(0) == 3


@in_loop
async def test_command_reads_information_text() -> None:
    async with exchange(CALLER) as switch, dte(switch, CALLER) as caller:
        result, info = await caller.command("ATE0I3")
        assert result.code is ResultCode.OK and info == ("wanctl virtual modem",)
        result, _ = await caller.command("ATJ")
        assert result.code is ResultCode.ERROR


@in_loop
async def test_modem_that_never_answers_times_out() -> None:
    # A tty whose far end never says anything: a modem that is switched off.
    silent = open_pty()
    transport = SerialTransport(silent.slave_path, lock=False)
    signaling = ModemSignaling(transport, timings=HayesTimings(command=0.2))
    signaling.start()
    try:
        with pytest.raises(SignalingTimeout):
            await signaling.dial(CALLEE, init=INIT)
        assert os.read(silent.master_fd, 100) == b"ATZ\r"
    finally:
        signaling.close()
        transport.close()
        silent.close()


def _holds(sink: Sink, data: bytes) -> bool:
    return sink.data == data


def _went_down(sink: Sink) -> bool:
    return bool(sink.down)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_hundred_dial_hangup_cycles_leak_no_fds_or_tasks() -> None:
    async def cycles() -> tuple[int, int, int, int]:
        async with two_sides() as (_switch, caller, callee):
            await connect(caller, callee)
            await caller.hangup()
            await asyncio.sleep(0.05)
            fds_before, tasks_before = _open_fds(), len(asyncio.all_tasks())
            for cycle in range(100):
                sinks = await connect(caller, callee)
                caller.transport.write(b"x")
                await until(partial(_holds, sinks[1], b"x"), "a byte across")
                quitter, other = (caller, sinks[1]) if cycle % 2 else (callee, sinks[0])
                await quitter.hangup()
                await until(partial(_went_down, other), "the far side's NO CARRIER")
            await asyncio.sleep(0.05)
            return fds_before, _open_fds(), tasks_before, len(asyncio.all_tasks())

    loop = asyncio.new_event_loop()
    try:
        start = loop.time()
        fds_before, fds_after, tasks_before, tasks_after = loop.run_until_complete(
            asyncio.wait_for(cycles(), 120)
        )
        print(f"\n100 dial/hang-up cycles: {loop.time() - start:.2f} s")
    finally:
        loop.close()
    assert fds_after == fds_before
    assert tasks_after == tasks_before


@in_loop
async def test_requests_in_data_mode_are_refused_until_hang_up() -> None:
    async with two_sides() as (_switch, caller, callee):
        await connect(caller, callee)
        with pytest.raises(SignalingError, match="data mode"):
            await caller.dial(CALLEE, init=INIT)
        with pytest.raises(SignalingError, match="data mode"):
            await caller.run_chat(["", "AT"])
        await caller.hangup()
        result, _ = await caller.command("AT")
        assert result.code is ResultCode.OK


@in_loop
async def test_cancelled_dial_hangs_up_in_the_background() -> None:
    async with two_sides() as (switch, caller, _callee):
        dialing = asyncio.ensure_future(caller.dial(CALLEE, init=INIT))
        await until(lambda: switch.modems[CALLEE].call is not None, "the callee ringing")
        dialing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await dialing
        with pytest.raises(SignalingError, match="busy"):
            await caller.dial(CALLEE, init=INIT)
        await caller.hangup()  # waits for the background hang-up to finish
        assert switch.modems[CALLER].engine.idle
        assert not switch.modems[CALLEE].busy


@pytest.mark.parametrize("number", ["", "555-1234", "12 34", "x"])
def test_exchange_refuses_invalid_numbers(number: str) -> None:
    switch = Exchange()
    try:
        with pytest.raises(ValueError, match="invalid modem number"):
            switch.add_modem(number)
    finally:
        switch.close()


def test_exchange_refuses_a_number_twice() -> None:
    switch = Exchange()
    try:
        switch.add_modem(CALLER)
        with pytest.raises(ValueError, match="already taken"):
            switch.add_modem(CALLER)
    finally:
        switch.close()


def _modem_cli(*args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return subprocess.Popen(
        [sys.executable, "-m", "hw.lab.modem", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def test_cli_prints_json_then_human_lines_and_stops_on_sigterm() -> None:
    proc = _modem_cli("--numbers", f"{CALLER},{CALLEE}", "--rate", "9600")
    try:
        assert proc.stdout is not None
        hello = json.loads(proc.stdout.readline())
        modems = {m["number"]: m for m in hello["modems"]}
        assert set(modems) == {CALLER, CALLEE} and modems[CALLER]["rate"] == 9600
        for number in (CALLER, CALLEE):
            line = proc.stdout.readline().decode()
            assert line.startswith(f"modem {number}: {modems[number]['tty']}")
            assert os.path.exists(modems[number]["tty"])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert not os.path.exists(modems[CALLER]["tty"])
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_exchange_process_stops_at_the_end_of_its_input() -> None:
    with ExchangeProcess([CALLER], handshake=0.0) as process:
        path = process.tty(CALLER)
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"ATI3\r")
            reply = b""
            while b"OK" not in reply:
                assert select.select([fd], [], [], 5)[0]
                reply += os.read(fd, 100)
            assert b"wanctl virtual modem" in reply
        finally:
            os.close(fd)
    assert process.returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--numbers", "55x"], "invalid modem number"),
        (["--numbers", "1,1"], "already taken"),
        (["--numbers", "1", "--join", "1"], "NUMBER=TTY"),
        (["--numbers", "1", "--join", "1=/nonexistent/tty"], "No such file"),
    ],
)
def test_cli_refuses_bad_arguments_with_a_message(args: list[str], message: str) -> None:
    proc = _modem_cli(*args)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 1
    assert message in err.decode()


@in_loop
async def test_auto_answer_modem_without_a_dte_does_not_answer() -> None:
    async with exchange(CALLER, CALLEE) as switch:
        callee = switch.modems[CALLEE]
        callee.engine.registers[0] = 1  # auto-answer, but nobody has the tty open
        async with dte(switch, CALLER) as caller:
            with pytest.raises(CallFailedError) as failed:
                await caller.dial(CALLEE, init=INIT)
            assert failed.value.result.code is ResultCode.NO_ANSWER
            assert callee.stats.calls == 0
