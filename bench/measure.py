"""Measuring tools shared by the end-to-end and scale benchmarks.

* ``cpu_seconds(pid)``: a process's CPU time (all threads), in nanosecond
  resolution from /proc/PID/task/*/schedstat.
* ``tun_counters(namespace)``: the kernel's byte and packet counters of
  every interface in a namespace (``ip -s -j link``).  A TUN interface's
  ``rx`` counters count the IP packets the link daemon wrote into it, that
  is the IP packets the link delivered, headers included.
* ``read_pcap(path)``: the frames of a LINKTYPE_PPP_WITH_DIR capture, as
  ``wanctl --pcap`` writes it.
* ``TimedProcess``: a ``wanctl`` process whose output lines are kept with
  the time each arrived.
* ``TcpSink``: a TCP receiver in a namespace that answers "how many bytes
  so far" on demand, so a measurement window needs no guessing.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import select
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from wanctl.lab import in_netns, python_env

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PCAP_HEADER = struct.Struct("<IHHiIII")
_PCAP_RECORD = struct.Struct("<IIII")


def cpu_seconds(pid: int) -> float:
    """CPU time of all the process's threads, user and system."""
    total = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0]) / 1e9
        except FileNotFoundError:  # a thread that just ended, or no schedstat
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return total


@dataclass(frozen=True)
class IfCounters:
    rx_bytes: int
    rx_packets: int
    tx_bytes: int
    tx_packets: int


def tun_counters(namespace: str) -> dict[str, IfCounters]:
    """Interface name -> counters, for every interface of ``namespace``."""
    out = subprocess.run(
        ["ip", "-n", namespace, "-s", "-j", "link", "show"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counters = {}
    for link in json.loads(out):
        stats = link.get("stats64") or link.get("stats") or {}
        rx, tx = stats.get("rx", {}), stats.get("tx", {})
        counters[link["ifname"]] = IfCounters(
            rx.get("bytes", 0), rx.get("packets", 0), tx.get("bytes", 0), tx.get("packets", 0)
        )
    return counters


@dataclass(frozen=True)
class PcapFrame:
    time: float
    sent: bool
    protocol: int
    #: The PPP information field (after the two-byte protocol).
    info: bytes

    @property
    def code(self) -> int:
        return self.info[0] if self.info else -1

    @property
    def ident(self) -> int:
        return self.info[1] if len(self.info) > 1 else -1


def read_pcap(path: str) -> list[PcapFrame]:
    """Frames of a LINKTYPE_PPP_WITH_DIR pcap (address/control and a 2-byte protocol)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < _PCAP_HEADER.size:
        return []
    frames, offset = [], _PCAP_HEADER.size
    while offset + _PCAP_RECORD.size <= len(data):
        seconds, micros, captured, _ = _PCAP_RECORD.unpack_from(data, offset)
        offset += _PCAP_RECORD.size
        record = data[offset : offset + captured]
        offset += captured
        if len(record) < 5:
            continue
        direction, body = record[0], record[1:]
        if body[:2] == b"\xff\x03":
            body = body[2:]
        frames.append(
            PcapFrame(
                seconds + micros / 1e6, direction == 1, int.from_bytes(body[:2], "big"), body[2:]
            )
        )
    return frames


class TimedProcess:
    """A ``wanctl`` process (in a namespace); every output line with its arrival time."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        namespace: str | None = None,
        env: dict[str, str] | None = None,
        name: str = "",
    ) -> None:
        command = [sys.executable, "-m", "wanctl", *argv]
        if namespace is not None:
            command = in_netns(namespace, command)
        self.name = name or argv[0]
        self.lines: list[tuple[float, str]] = []
        self.started = time.monotonic()
        self._queue: queue.Queue[tuple[float, str] | None] = queue.Queue()
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=python_env(env),
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put((time.monotonic(), line.rstrip("\n")))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> tuple[float, re.Match[str]]:
        """The arrival time and match of the first new line matching ``pattern``."""
        regex = re.compile(pattern)
        for when, line in self.lines:
            if (match := regex.search(line)) is not None:
                return when, match
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(
                    f"{self.name}: no line matching {pattern!r} in {timeout:g} s;"
                    f" output: {self.output()}"
                ) from None
            if item is None:
                self._queue.put(None)
                raise RuntimeError(f"{self.name} exited before {pattern!r}: {self.output()}")
            self.lines.append(item)
            if (match := regex.search(item[1])) is not None:
                return item[0], match

    def output(self) -> str:
        return " | ".join(line for _, line in self.lines[-20:])

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


class TcpSink:
    """``python -m bench.measure sink PORT`` in a namespace: counts TCP bytes received."""

    def __init__(self, namespace: str, port: int) -> None:
        self.proc = subprocess.Popen(
            in_netns(namespace, [sys.executable, "-m", "bench.measure", "sink", str(port)]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=python_env(),
        )
        if self._line() != "listening":
            raise RuntimeError("the TCP sink did not start")

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def received(self) -> list[int]:
        """Bytes received so far on each accepted connection, in accept order."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("count\n")
        counts: list[int] = json.loads(self._line())
        return counts

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def tcp_source(
    namespace: str,
    address: str,
    port: int,
    seconds: float,
    connections: int = 1,
    payload: str = "random",
) -> subprocess.Popen[str]:
    """Data to ``address:port`` for ``seconds`` on ``connections`` connections each.

    ``address`` may list several hosts, comma-separated; ``payload`` is
    "random" or "text" (``text_corpus()``, in order).
    """
    argv = [
        sys.executable,
        "-m",
        "bench.measure",
        "source",
        address,
        str(port),
        str(seconds),
        str(connections),
        payload,
    ]
    return subprocess.Popen(
        in_netns(namespace, argv),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=python_env(),
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- the child programs --------------------------------------------------------


def _sink(port: int) -> None:
    listener = socket.create_server(("", port), family=socket.AF_INET, backlog=64)
    listener.setblocking(False)
    print("listening", flush=True)
    open_conns: dict[socket.socket, int] = {}  # connection -> its index in counts
    counts: list[int] = []
    stdin = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([listener, stdin, *open_conns], [], [])
        for item in ready:
            if item is listener:
                conn, _ = listener.accept()
                conn.setblocking(False)
                open_conns[conn] = len(counts)
                counts.append(0)
            elif item == stdin:
                if not os.read(stdin, 4096):
                    return
                print(json.dumps(counts), flush=True)
            else:
                assert isinstance(item, socket.socket)
                try:
                    data = item.recv(1 << 16)
                except BlockingIOError:
                    continue
                except ConnectionError:
                    data = b""
                if data:
                    counts[open_conns[item]] += len(data)
                else:
                    del open_conns[item]
                    item.close()


#: The text corpus: Debian's license texts (base-files), one after the other.
LICENSES = Path("/usr/share/common-licenses")


def text_corpus() -> bytes:
    return b"".join(p.read_bytes() for p in sorted(LICENSES.iterdir()) if p.is_file())


def _source(hosts: str, port: int, seconds: float, connections: int, payload: str) -> None:
    conns = [
        socket.create_connection((host, port), timeout=30)
        for host in hosts.split(",")
        for _ in range(connections)
    ]
    for conn in conns:
        conn.setblocking(False)
    if payload == "text":
        corpus = text_corpus()
        block = corpus * ((1 << 17) // len(corpus) + 2)  # the text in order, cyclically
    else:
        corpus = block = os.urandom(1 << 17)  # random data: escapes as real traffic would
    offsets = dict.fromkeys(conns, 0)
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        _, writable, _ = select.select([], conns, [], left)
        for conn in writable:
            with contextlib.suppress(BlockingIOError, ConnectionError):
                start = offsets[conn]
                sent = conn.send(block[start : start + (1 << 16)])
                offsets[conn] = (start + sent) % len(corpus)
    for conn in conns:
        conn.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["sink"]:
        _sink(int(sys.argv[2]))
    elif sys.argv[1:2] == ["source"]:
        payload = sys.argv[6] if len(sys.argv) > 6 else "random"
        _source(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), payload)
    else:
        print(
            "usage: python -m bench.measure sink PORT | source HOST PORT SECONDS N", file=sys.stderr
        )
        sys.exit(2)
