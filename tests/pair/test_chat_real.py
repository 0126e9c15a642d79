"""The real chat(8) (/usr/sbin/chat, Debian's ppp) drives the modem emulator.

Every scenario runs twice on ``python -m hw.lab.modem`` ptys: once with the real
``chat`` program on the caller's tty, once with our ``ChatInterpreter``
through ``ModemSignaling.run_chat`` -- and both must end with the same exit
code, the one chat(8) documents.
"""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hw.lab.modem import ExchangeProcess
from hw.lab.ptys import open_pty
from wanminiport.mcm import (
    ChatInterpreter,
    ChatScriptError,
    ModemSignaling,
    Report,
    parse_chat_file,
)
from wanminiport.mcm.chat import ChatOutput
from wanminiport.sansio import Transmit
from wanminiport.transports.serial_port import SerialTransport

CHAT = shutil.which("chat") or "/usr/sbin/chat"
pytestmark = pytest.mark.skipif(not os.access(CHAT, os.X_OK), reason="chat(8) is not installed")

CALLER, AUTO, MANUAL = "5550001", "5551234", "5555678"
#: S7=50 becomes one second.
TIME_SCALE = 0.02
ABORTS = ["ABORT", "BUSY", "ABORT", "NO CARRIER"]


class Tty:
    """The far side's DTE: a raw, non-blocking fd on a modem's tty."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.heard = bytearray()

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def read_until(self, marker: bytes, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.heard:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {marker!r} on the tty; heard {bytes(self.heard)!r}")
            if select.select([self.fd], [], [], left)[0]:
                self.heard += os.read(self.fd, 4096)
        return bytes(self.heard)

    def close(self) -> None:
        os.close(self.fd)


@dataclass
class Scenario:
    name: str
    script: list[str]
    expected: int
    timeout: float = 10.0
    #: Prepares the far side before the script starts.
    setup: Callable[[Tty], None] = lambda tty: None
    #: Plays the far side while the script runs (in a thread).
    far_side: Callable[[Tty], None] | None = None
    callee: str = AUTO
    reports: list[str] = field(default_factory=list)
    #: When set, the script is this file's text (``chat -f``), not ``script``.
    file_text: str | None = None


def off_hook(tty: Tty) -> None:
    tty.write(b"ATH1\r")
    tty.read_until(b"OK")


def answer_then_abort(tty: Tty) -> None:
    tty.read_until(b"RING")
    tty.write(b"ATA\r")
    time.sleep(0.1)  # inside the handshake: any key aborts it
    tty.write(b"\r")


SCENARIOS = [
    Scenario("connect", ["", "ATZ", "OK", f"ATDT{AUTO}", "CONNECT", ""], 0),
    Scenario(
        "busy",
        [*ABORTS, "", "ATZ", "OK", f"ATDT{MANUAL}", "CONNECT", ""],
        4,
        setup=off_hook,
        callee=MANUAL,
    ),
    Scenario(
        "callee hangs up",
        [*ABORTS, "", "ATZ", "OK", f"ATDT{MANUAL}", "CONNECT", ""],
        5,
        far_side=answer_then_abort,
        callee=MANUAL,
    ),
    Scenario(
        "no answer",
        [*ABORTS, "ABORT", "NO ANSWER", "", "ATZ", "OK", f"ATDT{MANUAL}", "CONNECT", ""],
        6,
        callee=MANUAL,
    ),
    Scenario(
        "timeout",
        ["", "ATZ", "OK", "ATS7=200", "OK", f"ATDT{MANUAL}", "CONNECT", ""],
        3,
        timeout=1.0,
        callee=MANUAL,
    ),
    Scenario("subexpect", ["", "ATZ", "NEVER-ATZ-OK", "ATI3", "modem", ""], 0, timeout=1.0),
    Scenario("clr_abort", [*ABORTS, "CLR_ABORT", "BUSY", "", "ATZ", "OK", "ATDT1", "CONNECT"], 4),
    Scenario("too long abort", ["ABORT", "X" * 60, "", "ATZ"], 1),
    Scenario(
        "script file",
        [],
        0,
        file_text=(
            "# dial the modem that answers by itself\n"
            "ABORT 'NO CARRIER' ABORT BUSY\n"
            "'' \"ATZ\"\n"
            f"OK\tATDT{AUTO}\n"
            "CONNECT ''\n"
        ),
    ),
    Scenario("unterminated quote", [], 1, file_text="'' ATZ\nOK 'ATDT1\n"),
    Scenario(
        "report",
        ["REPORT", "CONNECT", "", "ATZ", "OK", f"ATDT{AUTO}", "CONNECT", ""],
        0,
        reports=["CONNECT 115200"],
    ),
]


@contextmanager
def exchange() -> Iterator[ExchangeProcess]:
    with ExchangeProcess(
        [CALLER, AUTO, MANUAL],
        ring_interval=0.2,
        handshake=0.3,
        time_scale=TIME_SCALE,
        auto_answer=[AUTO],
    ) as process:
        yield process


@contextmanager
def far_side(process: ExchangeProcess, scenario: Scenario) -> Iterator[Tty]:
    tty = Tty(process.tty(scenario.callee))
    thread: threading.Thread | None = None
    errors: list[BaseException] = []
    try:
        scenario.setup(tty)
        if scenario.far_side is not None:
            play = scenario.far_side

            def run() -> None:
                try:
                    play(tty)
                except BaseException as exc:  # reported by the test below
                    errors.append(exc)

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
        yield tty
    finally:
        if thread is not None:
            thread.join(10)
        tty.close()
    if errors:
        raise errors[0]


def run_real_chat(path: str, scenario: Scenario, tmp_path: Path) -> tuple[int, list[str]]:
    report_file = tmp_path / "report"
    argv = [CHAT, "-v", "-s", "-S", "-t", str(int(scenario.timeout)), "-r", str(report_file)]
    if scenario.file_text is None:
        argv += scenario.script
    else:
        script_file = tmp_path / "script.chat"
        script_file.write_text(scenario.file_text)
        argv += ["-f", str(script_file)]
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        done = subprocess.run(argv, stdin=fd, stdout=fd, stderr=subprocess.PIPE, timeout=30)
    finally:
        os.close(fd)
    reports = []
    if report_file.exists():
        for line in report_file.read_text().splitlines():
            # "chat:  Nov 22 01:50:05 CONNECT 115200": drop the time stamp.
            if line.startswith("chat:"):
                reports.append(" ".join(line.split()[4:]))
    print(done.stderr.decode(errors="replace"))
    return done.returncode, reports


def run_our_chat(path: str, scenario: Scenario) -> tuple[int, list[str]]:
    words = scenario.script
    if scenario.file_text is not None:
        try:
            words = parse_chat_file(scenario.file_text)
        except ChatScriptError as error:
            return error.exit_code, []

    async def run() -> tuple[int, list[str]]:
        transport = SerialTransport(path, lock=False)
        signaling = ModemSignaling(transport)
        outputs: list[ChatOutput] = []
        signaling.on_chat_output = outputs.append
        signaling.start()
        try:
            code = await signaling.run_chat(words, timeout=scenario.timeout)
        finally:
            signaling.close()
            transport.close()
        return code, [o.text for o in outputs if isinstance(o, Report)]

    return asyncio.run(asyncio.wait_for(run(), 30))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
@pytest.mark.parametrize("interpreter", ["real chat", "ours"])
def test_chat_exit_code_matches_chat8(scenario: Scenario, interpreter: str, tmp_path: Path) -> None:
    with exchange() as process, far_side(process, scenario):
        path = process.tty(CALLER)
        if interpreter == "real chat":
            code, reports = run_real_chat(path, scenario, tmp_path)
        else:
            code, reports = run_our_chat(path, scenario)
    assert code == scenario.expected
    assert reports == scenario.reports


def test_real_chat_dials_and_the_call_carries_data_until_the_tty_closes() -> None:
    with exchange() as process:
        callee = Tty(process.tty(AUTO))
        fd = os.open(process.tty(CALLER), os.O_RDWR | os.O_NOCTTY)
        try:
            done = subprocess.run(
                [CHAT, "-v", "-s", "-S", "", "ATZ", "OK", f"ATDT{AUTO}", "CONNECT", ""],
                stdin=fd,
                stdout=fd,
                stderr=subprocess.PIPE,
                timeout=30,
            )
            assert done.returncode == 0, done.stderr.decode()
            assert b"RING" in callee.read_until(b"CONNECT 115200\r\n")
            os.write(fd, b"from the caller")
            callee.read_until(b"from the caller")
            callee.write(b"from the callee")
            received = b""
            while b"from the callee" not in received:
                assert select.select([fd], [], [], 5)[0], "no data at the caller"
                received += os.read(fd, 100)
        finally:
            os.close(fd)
        # The caller's DTE closed its tty: DTR drop, the modem hangs up.
        callee.read_until(b"NO CARRIER")
        callee.close()


SEND_WORDS = [
    "ATZ", "hello\\c", "\\c", "a\\cb", "a\\db\\c", "a\\pb", "\\N\\c", "\\r\\n\\s\\t\\\\\\b\\c",
    "^C^Q^@x\\c", "x^", "x\\", "\\101\\0\\c", "\\qsecret", "\\z", "", "EOT", "\\T", "^a^?",
    "\\177\\c", "\\1234", "\\8", "\\c\\c",
]  # fmt: skip


def test_send_escapes_match_what_the_real_chat_sends() -> None:
    pty = open_pty()
    fd = os.open(pty.slave_path, os.O_RDWR | os.O_NOCTTY)
    try:
        script = [part for word in SEND_WORDS for part in ("", word)]
        done = subprocess.run([CHAT, "-S", *script], stdin=fd, stdout=fd, timeout=30)
        assert done.returncode == 0
        sent = b""
        while select.select([pty.master_fd], [], [], 0.2)[0]:
            sent += os.read(pty.master_fd, 4096)
    finally:
        os.close(fd)
        pty.close()
    ours = ChatInterpreter(script)
    ours.start(0.0)
    while ours.get_timer() is not None:  # the \d and \p pauses
        ours.handle_timer(ours.get_timer())
    assert ours.exit_code == 0
    assert b"".join(o.data for o in ours.drain() if isinstance(o, Transmit)) == sent
