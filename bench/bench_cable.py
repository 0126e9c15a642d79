"""Cost and throughput of the virtual cable's relay (medians).

Run as ``python -m bench.bench_cable``.  For each baud the cable runs as a
separate process (``hw.lab.cable_process.CableProcess``); this process saturates
it with a writer thread on one end and a reader thread on the other (in
"duplex" mode, both ways at once).  Each of ``--runs`` windows of
``--seconds`` reports the relay process's CPU seconds per wall second (from
/proc/PID/stat) and the bytes received per second as a percentage of the
line rate (baud / 10 bytes per second at 8N1).  The figures are medians over
the windows; the bytes are checked to arrive intact and in order, so a
broken relay cannot post a figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from dataclasses import dataclass, field

from hw.lab.cable_process import CableProcess
from hw.lab.pacing import BITS_PER_8N1_BYTE

BAUDS = (115200, 921600, 3_000_000)
CHUNK = 4096
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """CPU time of all the process's threads."""
    total = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            # Nanoseconds on the CPU: far finer than stat's clock ticks.
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0]) / 1e9
        except FileNotFoundError:  # no schedstat in this kernel: utime + stime
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return total


@dataclass
class _Stream:
    """A saturating writer on one end and a checking reader on the other."""

    src_fd: int
    dst_fd: int
    received: int = 0
    intact: bool = True
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._write, daemon=True),
            threading.Thread(target=self._read, daemon=True),
        ]
        for thread in threads:
            thread.start()
        return threads

    def _write(self) -> None:
        # A repeating 0..255 ramp: any lost, added or reordered byte breaks it.
        pattern = bytes(range(256)) * (CHUNK // 256)
        try:
            while not self.stop.is_set():
                os.write(self.src_fd, pattern)
        except OSError:
            pass

    def _read(self) -> None:
        expected = 0
        try:
            while not self.stop.is_set():
                data = os.read(self.dst_fd, 65536)
                if data[:1] != bytes([expected]) or any(
                    data[i] != (expected + i) & 0xFF for i in (len(data) // 2, len(data) - 1)
                ):
                    self.intact = False
                expected = (expected + len(data)) & 0xFF
                self.received += len(data)
        except OSError:
            pass


def measure(baud: int, duplex: bool, runs: int, seconds: float) -> tuple[float, float, bool]:
    """(median relay CPU s/s, median % of line rate per direction, intact)."""
    with CableProcess(baud) as cable:
        fa = os.open(cable.a, os.O_RDWR | os.O_NOCTTY)
        fb = os.open(cable.b, os.O_RDWR | os.O_NOCTTY)
        streams = [_Stream(fa, fb)] + ([_Stream(fb, fa)] if duplex else [])
        threads = [t for s in streams for t in s.start()]
        time.sleep(0.5)  # let the buffers fill: measure the steady state
        cpu, rate = [], []
        line_bytes_per_s = baud / BITS_PER_8N1_BYTE
        for _ in range(runs):
            c0, t0, r0 = _cpu_seconds(cable.pid), time.monotonic(), sum(s.received for s in streams)
            time.sleep(seconds)
            c1, t1, r1 = _cpu_seconds(cable.pid), time.monotonic(), sum(s.received for s in streams)
            cpu.append((c1 - c0) / (t1 - t0))
            rate.append(100.0 * (r1 - r0) / len(streams) / (t1 - t0) / line_bytes_per_s)
        for stream in streams:
            stream.stop.set()
        cable.close()  # the ends hang up, which wakes the blocked threads
        for thread in threads:
            thread.join(2.0)
        os.close(fa)
        os.close(fb)
        return statistics.median(cpu), statistics.median(rate), all(s.intact for s in streams)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--baud", type=int, action="append", help="repeatable; default: 3 speeds")
    args = parser.parse_args()
    print(f"{'baud':>9} {'mode':>7} {'relay CPU s/s':>14} {'% of line rate':>15} {'intact':>7}")
    for baud in args.baud or BAUDS:
        for duplex in (False, True):
            cpu, rate, intact = measure(baud, duplex, args.runs, args.seconds)
            mode = "duplex" if duplex else "one-way"
            print(f"{baud:>9} {mode:>7} {cpu:>14.3f} {rate:>14.1f}% {intact!s:>7}")


if __name__ == "__main__":
    main()
