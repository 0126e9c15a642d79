"""Self-test of serial hardware: a loopback plug on one port, or two ports cabled.

``run_selftest("/dev/ttyUSB0")`` expects a loopback plug (TX to RX, and
ideally DTR to DSR and CD, RTS to CTS); ``run_selftest(a, b)`` expects a
null-modem cable between two ports.  It measures, at each baud rate:

* integrity: a seeded pseudo-random payload, every byte value included, is
  sent and compared byte by byte (wrong, missing and extra bytes counted);
* throughput at the highest rate: bytes per second against the line rate
  (the baud rate divided by the bit times of one 8N1 character);
* the error rate: bad bytes per byte sent in the integrity runs;
* which modem-control inputs follow which outputs (DTR -> DSR/CD, RTS -> CTS).

The verdict is "pass" when every byte came back intact.  Missing wiring and
a throughput far below the line rate are warnings: a three-wire cable is
legitimate, a slow adapter still works.

Blocking pyserial with one writer thread per direction: this measures the
hardware, not the project's transports.  A port that is a device path is
UUCP-locked for the duration, as pppd would.  ``python -m hw.selftest PORT
[PORT2]`` prints the report (``--json`` for a machine).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import serial

from wanminiport.transports.base import TransportError
from wanminiport.transports.lockfile import PortLock, PortLockedError

DEFAULT_BAUDS = (9600, 57600, 115200)
BITS_PER_CHARACTER = 10  # 8N1: start, 8 data, stop
#: Seconds of line time each integrity run aims at (bounded by the payload size).
INTEGRITY_SECONDS = 0.5
THROUGHPUT_SECONDS = 2.0
MIN_PAYLOAD = 256
#: Below this fraction of the line rate the throughput is worth a warning.
SLOW_FRACTION = 0.8
SETTLE_SECONDS = 0.05
OUTPUTS = ("dtr", "rts")
INPUTS = ("cd", "dsr", "cts", "ri")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class IntegrityResult:
    """One payload at one baud in one direction, compared byte by byte."""

    baud: int
    direction: str
    sent: int
    received: int
    wrong: int
    missing: int
    extra: int
    seconds: float

    @property
    def errors(self) -> int:
        return self.wrong + self.missing + self.extra

    @property
    def ok(self) -> bool:
        return self.errors == 0


@dataclass(frozen=True)
class ThroughputResult:
    """Bytes per second through the line against what its baud rate allows."""

    baud: int
    direction: str
    bytes: int
    seconds: float
    intact: bool

    @property
    def bytes_per_second(self) -> float:
        return self.bytes / self.seconds if self.seconds > 0 else 0.0

    @property
    def line_rate(self) -> float:
        return self.baud / BITS_PER_CHARACTER

    @property
    def fraction_of_line_rate(self) -> float:
        return self.bytes_per_second / self.line_rate


@dataclass(frozen=True)
class Wiring:
    """Which inputs follow each output: ``{"dtr": ["cd", "dsr"], "rts": ["cts"]}``."""

    direction: str
    supported: bool
    follows: dict[str, list[str]] = field(default_factory=dict)
    note: str = ""

    def wired(self, output: str, input_line: str) -> bool:
        return input_line in self.follows.get(output, [])


@dataclass
class SelftestReport:
    ports: list[str]
    integrity: list[IntegrityResult] = field(default_factory=list)
    throughput: list[ThroughputResult] = field(default_factory=list)
    wiring: list[Wiring] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def mode(self) -> str:
        return "loopback" if len(self.ports) == 1 else "pair"

    @property
    def byte_errors(self) -> int:
        return sum(r.errors for r in self.integrity)

    @property
    def error_rate(self) -> float:
        """Wrong, missing and extra bytes per byte sent in the integrity runs."""
        sent = sum(r.sent for r in self.integrity)
        return self.byte_errors / sent if sent else 0.0

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def verdict(self) -> str:
        intact = self.integrity and all(r.ok for r in self.integrity)
        return (
            "pass"
            if intact and all(r.intact for r in self.throughput) and not self.problems
            else "fail"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ports": self.ports,
            "mode": self.mode,
            "verdict": self.verdict,
            "error_rate": self.error_rate,
            "integrity": [asdict(r) | {"ok": r.ok} for r in self.integrity],
            "throughput": [
                asdict(r)
                | {
                    "bytes_per_second": r.bytes_per_second,
                    "line_rate": r.line_rate,
                    "fraction_of_line_rate": r.fraction_of_line_rate,
                }
                for r in self.throughput
            ],
            "wiring": [asdict(w) for w in self.wiring],
            "problems": self.problems,
            "warnings": self.warnings,
        }

    def render(self) -> str:
        lines = [f"self-test of {' <-> '.join(self.ports)} ({self.mode}): {self.verdict.upper()}"]
        for r in self.integrity:
            state = "ok" if r.ok else f"{r.wrong} wrong, {r.missing} missing, {r.extra} extra"
            lines.append(f"  {r.baud:>7} baud {r.direction}: {r.sent} bytes {state}")
        for t in self.throughput:
            lines.append(
                f"  throughput {t.direction} at {t.baud}: {t.bytes_per_second:,.0f} B/s = "
                f"{t.fraction_of_line_rate:.0%} of the {t.line_rate:,.0f} B/s line rate"
            )
        lines.append(f"  error rate: {self.error_rate:.2e} ({self.byte_errors} bad bytes)")
        for w in self.wiring:
            if not w.supported:
                lines.append(f"  modem lines {w.direction}: none ({w.note})")
            else:
                pairs = ", ".join(f"{o.upper()}->{'/'.join(i.upper() for i in ins) or 'nothing'}"
                                  for o, ins in w.follows.items())  # fmt: skip
                lines.append(f"  modem lines {w.direction}: {pairs}")
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def payload(size: int, seed: int) -> bytes:
    """Seeded random bytes that start with every byte value once (0x00-0xFF)."""
    head = bytes(range(256))[:size]
    return head + random.Random(seed).randbytes(max(0, size - len(head)))


def compare(sent: bytes, received: bytes) -> tuple[int, int, int]:
    """(wrong, missing, extra) bytes of ``received`` against ``sent``."""
    common = min(len(sent), len(received))
    wrong = sum(a != b for a, b in zip(sent[:common], received[:common], strict=True))
    return wrong, max(0, len(sent) - len(received)), max(0, len(received) - len(sent))


def _receive(port: serial.SerialBase, size: int, deadline: float) -> bytes:
    data = bytearray()
    while len(data) < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        port.timeout = min(remaining, 0.2)
        data += port.read(size - len(data))
    return bytes(data)


def _drain_extra(port: serial.SerialBase, quiet: float = 0.1) -> bytes:
    port.timeout = quiet
    extra = bytearray()
    while chunk := port.read(4096):
        extra += chunk
    return bytes(extra)


def _expected_seconds(size: int, baud: int) -> float:
    return size * BITS_PER_CHARACTER / baud


def transfer(tx: serial.SerialBase, rx: serial.SerialBase, data: bytes, baud: int,
             *, drain: bool = True, slack: float = 2.0) -> tuple[bytes, float]:  # fmt: skip
    """Send ``data`` on ``tx`` from a thread, read it on ``rx``; (received, seconds)."""
    rx.reset_input_buffer()
    failure: list[BaseException] = []

    def write() -> None:
        try:
            tx.write(data)
            tx.flush()
        except (OSError, serial.SerialException) as exc:
            failure.append(exc)

    deadline = time.monotonic() + 2 * _expected_seconds(len(data), baud) + slack
    started = time.monotonic()
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    received = _receive(rx, len(data), deadline)
    seconds = time.monotonic() - started
    writer.join(max(0.0, deadline - time.monotonic()) + 1.0)
    if failure:
        raise failure[0]
    if drain:
        received += _drain_extra(rx)
    return received, seconds


def check_integrity(tx: serial.SerialBase, rx: serial.SerialBase, baud: int, direction: str,
                    size: int, seed: int, slack: float = 2.0) -> IntegrityResult:  # fmt: skip
    data = payload(size, seed)
    received, seconds = transfer(tx, rx, data, baud, slack=slack)
    wrong, missing, extra = compare(data, received)
    return IntegrityResult(baud, direction, len(data), len(received), wrong, missing, extra,
                           seconds)  # fmt: skip


def measure_throughput(tx: serial.SerialBase, rx: serial.SerialBase, baud: int, direction: str,
                       size: int, seed: int, slack: float = 2.0) -> ThroughputResult:  # fmt: skip
    data = payload(size, seed)
    received, seconds = transfer(tx, rx, data, baud, drain=False, slack=slack)
    return ThroughputResult(baud, direction, len(received), seconds, received == data)


def _inputs(port: serial.SerialBase) -> dict[str, bool]:
    return {"cd": port.cd, "dsr": port.dsr, "cts": port.cts, "ri": port.ri}


def probe_wiring(out: serial.SerialBase, into: serial.SerialBase, direction: str) -> Wiring:
    """Raise each output alone and see which inputs on ``into`` follow it."""
    try:
        follows: dict[str, list[str]] = {}
        for output in OUTPUTS:
            out.dtr, out.rts = False, False
            time.sleep(SETTLE_SECONDS)
            low = _inputs(into)
            setattr(out, output, True)
            time.sleep(SETTLE_SECONDS)
            high = _inputs(into)
            setattr(out, output, False)
            time.sleep(SETTLE_SECONDS)
            back = _inputs(into)
            follows[output] = [i for i in INPUTS if not low[i] and high[i] and not back[i]]
        out.dtr, out.rts = True, True
    except (OSError, serial.SerialException) as exc:
        return Wiring(direction, False, note=f"the port has no modem-control lines ({exc})")
    return Wiring(direction, True, follows)


@contextlib.contextmanager
def _opened(path: str, baud: int) -> Iterator[serial.SerialBase]:
    lock = None if "://" in path else PortLock(path)
    if lock is not None:
        lock.acquire()
    try:
        port = serial.serial_for_url(path, baudrate=baud, timeout=0.2, write_timeout=None,
                                     exclusive="://" not in path)  # fmt: skip
    except (OSError, serial.SerialException) as exc:
        if lock is not None:
            lock.release()
        raise TransportError(f"cannot open {path}: {exc}") from exc
    try:
        yield port
    finally:
        port.close()
        if lock is not None:
            lock.release()


def run_selftest(port_a: str, port_b: str | None = None, bauds: Sequence[int] = DEFAULT_BAUDS, *,
                 max_payload: int = 16384, throughput_seconds: float = THROUGHPUT_SECONDS,
                 slack_seconds: float = 2.0, seed: int = 1,
                 progress: Progress | None = None) -> SelftestReport:  # fmt: skip
    """Test a loopback plug (one port) or a cabled pair (two ports); see the module doc.

    Each transfer may take twice its line time plus ``slack_seconds`` before
    what has not arrived counts as missing.
    """
    say = progress or (lambda message: None)
    ports = [port_a] if port_b is None else [port_a, port_b]
    report = SelftestReport(ports)
    bauds = sorted(set(bauds))
    with contextlib.ExitStack() as stack:
        opened = [stack.enter_context(_opened(path, bauds[0])) for path in ports]
        a, b = opened[0], opened[-1]
        directions = [("a->a", a, a)] if port_b is None else [("a->b", a, b), ("b->a", b, a)]
        for baud in bauds:
            try:
                for port in opened:
                    port.baudrate = baud
            except (ValueError, serial.SerialException) as exc:
                report.problems.append(f"{baud} baud cannot be set: {exc}")
                continue
            size = max(
                MIN_PAYLOAD, min(max_payload, int(baud / BITS_PER_CHARACTER * INTEGRITY_SECONDS))
            )
            for name, tx, rx in directions:
                say(f"integrity {name} at {baud} baud, {size} bytes")
                result = check_integrity(tx, rx, baud, name, size, seed + baud, slack_seconds)
                report.integrity.append(result)
                if not result.ok:
                    report.problems.append(
                        f"at {baud} baud {name}: {result.wrong} of {result.sent} bytes wrong, "
                        f"{result.missing} missing, {result.extra} extra"
                    )
        top = max(r.baud for r in report.integrity) if report.integrity else None
        if report.integrity and not any(r.received for r in report.integrity):
            report.problems.append("nothing came back at any baud rate: check the plug or cable")
            top = None  # no point timing a dead line
        if top is not None:
            for port in opened:
                port.baudrate = top
            size = int(top / BITS_PER_CHARACTER * throughput_seconds)
            for name, tx, rx in directions:
                say(f"throughput {name} at {top} baud, {size} bytes")
                result_t = measure_throughput(tx, rx, top, name, size, seed, slack_seconds)
                report.throughput.append(result_t)
                if result_t.fraction_of_line_rate < SLOW_FRACTION:
                    share = result_t.fraction_of_line_rate
                    report.warnings.append(f"throughput {name} is {share:.0%} of the line rate")
        for name, tx, rx in directions:
            say(f"modem lines {name}")
            wiring = probe_wiring(tx, rx, name)
            report.wiring.append(wiring)
            if wiring.supported and not any(wiring.follows.values()):
                report.warnings.append(f"no modem-control line is wired {name} (a 3-wire cable?)")
    return report


def _print_progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="selftest", description=__doc__.split("\n\n")[0])
    parser.add_argument("port", help="the port with a loopback plug, or end A of a cable")
    parser.add_argument("port_b", nargs="?", help="end B of a null-modem cable")
    parser.add_argument(
        "--baud", type=int, action="append", help="a baud rate to test (repeatable)"
    )
    parser.add_argument("--throughput-seconds", type=float, default=THROUGHPUT_SECONDS,
                        help="line time of the throughput run in each direction")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        report = run_selftest(
            args.port, args.port_b, bauds=args.baud or DEFAULT_BAUDS,
            throughput_seconds=args.throughput_seconds,
            progress=None if args.json else _print_progress,
        )  # fmt: skip
    except (PortLockedError, TransportError) as exc:
        print(f"selftest: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.render())
    return 0 if report.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
