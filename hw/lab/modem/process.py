"""``python -m hw.lab.modem``: emulated modems on ptys, and ``ExchangeProcess`` to drive it.

``python -m hw.lab.modem --numbers 5551234,5555678 [--rate 115200]`` starts one
emulated Hayes modem per number on a fresh pty, prints one JSON line::

    {"modems": [{"number": "5551234", "tty": "/dev/pts/7", "rate": 115200}, ...]}

then one human line per modem, and runs until SIGINT, SIGTERM or the end of
its standard input.  Open a modem's tty and talk AT to it (``chat``, pppd,
``wanctl``, a terminal program); dial another modem's number.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hw.lab.modem.engine import ModemConfig
from hw.lab.modem.exchange import Exchange, ExchangeConfig

_PROJECT_ROOT = str(Path(__file__).resolve().parents[3])


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m hw.lab.modem",
        description="Emulated Hayes modems on ptys, joined by a virtual exchange.",
    )
    parser.add_argument(
        "--numbers", required=True, help="comma-separated phone numbers, one modem each"
    )
    parser.add_argument("--rate", type=int, default=115200, help="CONNECT rate in bit/s")
    parser.add_argument("--ring-interval", type=float, default=6.0, help="seconds between RINGs")
    parser.add_argument(
        "--handshake", type=float, default=1.0, help="seconds from answer to CONNECT"
    )
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="multiplies S7 and S12 (guard) timings"
    )
    parser.add_argument(
        "--auto-answer",
        default="",
        metavar="NUMBERS",
        help="comma-separated numbers whose stored profile answers on the first ring (S0=1)",
    )
    parser.add_argument(
        "--join",
        action="append",
        default=[],
        metavar="NUMBER=TTY",
        help="put modem NUMBER on an existing tty instead of a new pty",
    )
    parser.add_argument("--connect-suffix", default="", help='e.g. "/ARQ/V34"')
    parser.add_argument("-v", "--verbose", action="store_true", help="log calls to stderr")
    return parser.parse_args(argv)


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


async def _serve(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    joins: dict[str, str] = {}
    for item in args.join:
        number, sep, path = item.partition("=")
        if not sep or not path:
            raise ValueError(f"--join wants NUMBER=TTY, not {item!r}")
        joins[number] = path
    auto = set(_split(args.auto_answer))
    exchange = Exchange(
        ExchangeConfig(ring_interval=args.ring_interval, handshake_time=args.handshake)
    )
    try:
        for number in _split(args.numbers):
            config = ModemConfig(
                registers={0: 1} if number in auto else {},
                rate=args.rate,
                connect_suffix=args.connect_suffix,
                time_scale=args.time_scale,
            )
            exchange.add_modem(number, config=config, join=joins.get(number))
        exchange.start()
        finished: asyncio.Future[None] = loop.create_future()
        # Without a standard input only a signal stops us.
        stdin_fd = sys.stdin.fileno() if sys.stdin is not None else -1

        def finish() -> None:
            if not finished.done():
                finished.set_result(None)

        def on_stdin() -> None:
            try:
                data = os.read(stdin_fd, 4096)
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(stdin_fd)
                finish()

        # Ready for a signal before anyone can know our ttys and send one.
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, finish)
        if stdin_fd >= 0:
            loop.add_reader(stdin_fd, on_stdin)
        modems = [
            {"number": port.number, "tty": port.path, "rate": port.engine.config.rate}
            for port in exchange.modems.values()
        ]
        sys.stdout.write(json.dumps({"modems": modems, "pid": os.getpid()}) + "\n")
        for modem in modems:
            sys.stdout.write(f"modem {modem['number']}: {modem['tty']} ({modem['rate']} bit/s)\n")
        sys.stdout.flush()
        await finished
        if stdin_fd >= 0:
            loop.remove_reader(stdin_fd)
    finally:
        exchange.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="hw.lab.modem: %(message)s",
    )
    try:
        return asyncio.run(_serve(args))
    except (OSError, ValueError) as exc:
        print(f"hw.lab.modem: {exc}", file=sys.stderr)
        return 1


class ExchangeProcessError(RuntimeError):
    """The exchange process did not start or did not answer."""


class ExchangeProcess:
    """``python -m hw.lab.modem`` in a child process; a context manager.

    ``ttys`` maps each number to the tty path to open once started.
    """

    def __init__(
        self,
        numbers: Iterable[str],
        *,
        rate: int = 115200,
        ring_interval: float = 6.0,
        handshake: float = 1.0,
        time_scale: float = 1.0,
        auto_answer: Iterable[str] = (),
        joins: Mapping[str, str] | None = None,
        connect_suffix: str = "",
        verbose: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.timeout = timeout
        self.argv = [
            sys.executable, "-m", "hw.lab.modem",
            "--numbers", ",".join(numbers),
            "--rate", str(rate),
            "--ring-interval", repr(ring_interval),
            "--handshake", repr(handshake),
            "--time-scale", repr(time_scale),
            "--auto-answer", ",".join(auto_answer),
            "--connect-suffix", connect_suffix,
        ]  # fmt: skip
        for number, path in (joins or {}).items():
            self.argv += ["--join", f"{number}={path}"]
        if verbose:
            self.argv.append("--verbose")
        self.ttys: dict[str, str] = {}
        #: The exit status once closed (0: it stopped at the end of its input).
        self.returncode: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise ExchangeProcessError("the exchange process is not running")
        return self._proc.pid

    def tty(self, number: str) -> str:
        return self.ttys[number]

    def start(self) -> ExchangeProcess:
        env = dict(os.environ)
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = _PROJECT_ROOT + (os.pathsep + path if path else "")
        self._proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], self.timeout)
        line = self._proc.stdout.readline() if ready else b""
        if not line:
            self.close()
            raise ExchangeProcessError(f"the exchange did not start ({' '.join(self.argv)})")
        hello: dict[str, Any] = json.loads(line)
        self.ttys = {modem["number"]: modem["tty"] for modem in hello["modems"]}
        return self

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # end of input: the exchange quits
            self.returncode = proc.wait(self.timeout)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            self.returncode = proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()

    def __enter__(self) -> ExchangeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
