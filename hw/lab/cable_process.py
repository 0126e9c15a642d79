"""The virtual cable as a separate process, and a handle to drive it.

``python -m hw.lab.cable --baud 115200 [--ber 1e-5] [--seed N] [--join-a PATH]``
prints one JSON line, ``{"a": "/dev/pts/X", "b": "/dev/pts/Y", "baud": ...}``,
then reads commands from stdin, one a line, and answers each with one JSON
line:

    cut | restore               -> {"ok": "cut"}
    hangup a | hangup b         -> {"ok": "hangup", "end": "a"}
    replug a | replug b         -> {"ok": "replug", "end": "a", "path": "/dev/pts/Z"}
    stats                       -> {"a_to_b": {"bytes":..,"bits_flipped":..,"dropped":..},
                                    "b_to_a": {...}, "cut": false, "a_up": true, "b_up": true}
    quit                        -> {"ok": "quit"}, then exit

End of input (the parent went away) quits too.  A separate process keeps the
relay's CPU out of the measurements of the process under test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from hw.lab.cable import END_NAMES, VirtualCable

_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m hw.lab.cable", description="A virtual null-modem cable between two ttys."
    )
    parser.add_argument("--baud", type=int, default=115200, help="line rate (8N1)")
    parser.add_argument("--ber", type=float, default=0.0, help="bit-error rate, 0..1")
    parser.add_argument("--seed", type=int, default=None, help="seed for the bit errors")
    parser.add_argument("--join-a", metavar="TTY", help="use this tty as end a instead of a pty")
    parser.add_argument("--join-b", metavar="TTY", help="use this tty as end b instead of a pty")
    parser.add_argument(
        "--follow-termios",
        action="store_true",
        help="pace each direction at the speed its sender sets on its tty",
    )
    parser.add_argument(
        "--overrun",
        action="store_true",
        help="drop what an end's full tty cannot take instead of holding the sender back",
    )
    return parser.parse_args(argv)


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _run_command(cable: VirtualCable, line: str) -> tuple[dict[str, Any], bool]:
    """The answer to one command line, and whether to quit."""
    words = line.split()
    if not words:
        return {"error": "empty command"}, False
    verb, args = words[0], words[1:]
    try:
        if verb in ("cut", "restore") and not args:
            if verb == "cut":
                cable.cut()
            else:
                cable.restore()
            return {"ok": verb}, False
        if verb in ("hangup", "replug") and len(args) == 1 and args[0] in END_NAMES:
            if verb == "hangup":
                cable.hangup(args[0])
                return {"ok": verb, "end": args[0]}, False
            return {"ok": verb, "end": args[0], "path": cable.replug(args[0])}, False
        if verb == "stats" and not args:
            return cable.stats(), False
        if verb == "quit" and not args:
            return {"ok": "quit"}, True
    except (OSError, RuntimeError) as exc:
        return {"error": str(exc)}, False
    return {"error": f"unknown command {line.strip()!r}"}, False


async def _serve(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    cable = VirtualCable(
        args.baud,
        ber=args.ber,
        seed=args.seed,
        join_a=args.join_a,
        join_b=args.join_b,
        follow_termios=args.follow_termios,
        overrun=args.overrun,
    )
    finished = loop.create_future()
    pending = bytearray()
    stdin_fd = sys.stdin.fileno()

    def finish() -> None:
        loop.remove_reader(stdin_fd)
        if not finished.done():
            finished.set_result(None)

    def on_stdin() -> None:
        data = os.read(stdin_fd, 4096)
        if not data:
            finish()
            return
        pending.extend(data)
        while b"\n" in pending:
            raw, _, rest = bytes(pending).partition(b"\n")
            pending[:] = rest
            answer, quit_now = _run_command(cable, raw.decode(errors="replace"))
            _reply(answer)
            if quit_now:
                finish()
                return

    cable.start()
    try:
        _reply({"a": cable.a_path, "b": cable.b_path, "baud": args.baud, "ber": args.ber})
        loop.add_reader(stdin_fd, on_stdin)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, finish)
        await finished
    finally:
        cable.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        return asyncio.run(_serve(args))
    except (OSError, ValueError) as exc:
        print(f"hw.lab.cable: {exc}", file=sys.stderr)
        return 1


class CableProcessError(RuntimeError):
    """The cable process did not start or did not answer."""


class CableProcess:
    """``python -m hw.lab.cable`` in a child process; a context manager.

    ``a`` and ``b`` are the tty paths to open; the methods send the line
    commands and return the parsed answers.
    """

    def __init__(
        self,
        baud: int = 115200,
        *,
        ber: float = 0.0,
        seed: int | None = None,
        join_a: str | None = None,
        join_b: str | None = None,
        follow_termios: bool = False,
        overrun: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.baud = baud
        self.timeout = timeout
        self.argv = [sys.executable, "-m", "hw.lab.cable", "--baud", str(baud), "--ber", repr(ber)]
        if seed is not None:
            self.argv += ["--seed", str(seed)]
        if join_a is not None:
            self.argv += ["--join-a", join_a]
        if join_b is not None:
            self.argv += ["--join-b", join_b]
        if follow_termios:
            self.argv.append("--follow-termios")
        if overrun:
            self.argv.append("--overrun")
        self.a = ""
        self.b = ""
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        return self._process().pid

    def start(self) -> CableProcess:
        env = dict(os.environ)
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = _PROJECT_ROOT + (os.pathsep + path if path else "")
        self._proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        hello = self._read_answer()
        self.a, self.b = hello["a"], hello["b"]
        return self

    def command(self, line: str) -> dict[str, Any]:
        proc = self._process()
        assert proc.stdin is not None
        proc.stdin.write(line.encode() + b"\n")
        proc.stdin.flush()
        answer = self._read_answer()
        if "error" in answer:
            raise CableProcessError(f"cable: {answer['error']}")
        return answer

    def cut(self) -> None:
        self.command("cut")

    def restore(self) -> None:
        self.command("restore")

    def hangup(self, end: str) -> None:
        self.command(f"hangup {end}")

    def replug(self, end: str) -> str:
        path: str = self.command(f"replug {end}")["path"]
        setattr(self, end, path)
        return path

    def stats(self) -> dict[str, Any]:
        return self.command("stats")

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None and proc.stdin is not None:
                proc.stdin.write(b"quit\n")
                proc.stdin.close()
            proc.wait(self.timeout)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()

    def __enter__(self) -> CableProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _process(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise CableProcessError("the cable process is not running")
        return self._proc

    def _read_answer(self) -> dict[str, Any]:
        proc = self._process()
        assert proc.stdout is not None
        # Each command gets exactly one line back, so nothing is left in the
        # file object's buffer between answers and select() sees all there is.
        ready, _, _ = select.select([proc.stdout], [], [], self.timeout)
        line = proc.stdout.readline() if ready else b""
        if not line:
            self.close()
            raise CableProcessError(f"no answer from the cable process ({' '.join(self.argv)})")
        answer: dict[str, Any] = json.loads(line)
        return answer
