"""The far end and the observers of the USB VM's scenarios (``hw.lab.vm.usb_guest``).

``GadgetPeer`` is the device's end of the line, ``/dev/ttyGS0``, read by a
thread; ``Streamer`` keeps it sending; ``Recorder`` collects a transport's
indications; ``UsbMonitor`` reads usbmon, the host controller's own record
of every URB.  They run inside the guest only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import subprocess
import termios
import threading
import time
import tty
from collections.abc import Callable
from typing import Any

from wanminiport.transports.base import LineDownReason, ModemLines
from wanminiport.transports.usb_port import UsbCdcTransport

GADGET_TTY = "/dev/ttyGS0"


def completions(results: dict[int, list[bool]]) -> dict[str, Any]:
    """How the writes numbered in ``results`` completed: each exactly once, True first."""
    flat = [r[0] for _, r in sorted(results.items()) if r]
    return {
        "completion_counts": sorted({len(r) for r in results.values()}),
        "completed_true": sum(flat),
        "completed_false": len(flat) - sum(flat),
        "true_before_false": flat == sorted(flat, reverse=True),
    }


class Recorder:
    """TransportEvents that keep everything, for the scenario to inspect."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.downs: list[str] = []
        self.lines: list[ModemLines] = []
        self.changed = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.changed.set()

    def line_down(self, reason: LineDownReason) -> None:
        self.downs.append(reason.value)
        self.changed.set()

    def modem_lines_changed(self, lines: ModemLines) -> None:
        self.lines.append(lines)
        self.changed.set()

    async def until(self, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.05))
        return True


class GadgetPeer:
    """The device's end of the line: /dev/ttyGS0 in raw mode, read by a thread."""

    def __init__(self, *, read: bool = True) -> None:
        self.fd = os.open(GADGET_TTY, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd, termios.TCSANOW)  # before any byte arrives: no echo
        self.received = bytearray()
        self._cond = threading.Condition()
        self._closed = False
        self._reader: threading.Thread | None = None
        if read:
            self._reader = threading.Thread(target=self._read_main, daemon=True)
            self._reader.start()

    def _read_main(self) -> None:
        # select with a timeout: a thread blocked in read() would keep the tty
        # open past close(), and the gadget would never see its port closed.
        while not self._closed:
            if not select.select([self.fd], [], [], 0.05)[0]:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                data = b""
            with self._cond:
                if not data or self._closed:
                    return
                self.received += data
                self._cond.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.received) >= count, timeout)

    def take(self) -> bytes:
        with self._cond:
            data = bytes(self.received)
            self.received.clear()
            return data

    def write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def close(self) -> None:
        with self._cond:
            self._closed = True
        if self._reader is not None:
            self._reader.join(2)
        os.close(self.fd)


async def write_all(transport: UsbCdcTransport, chunks: list[bytes],
                    results: list[bool] | None = None) -> None:  # fmt: skip
    """Write every chunk, waiting for room under ``max_buffered``; record completions."""
    for chunk in chunks:
        while transport.is_open and transport.buffered + len(chunk) > transport.max_buffered:
            await asyncio.sleep(0.001)
        transport.write(chunk, results.append if results is not None else None)


def chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    chunks, offset, index = [], 0, 0
    while offset < len(data):
        size = sizes[index % len(sizes)]
        chunks.append(data[offset : offset + size])
        offset += size
        index += 1
    return chunks


async def path_gone(path: str, present: bool, timeout: float) -> bool:
    """Wait until ``path`` exists (present) or does not; True if it happened."""
    deadline = time.monotonic() + timeout
    while os.path.exists(path) != present:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


class Streamer:
    """Sends from the gadget to the host without pause until stopped."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        block = bytes(range(256)) * 16
        os.set_blocking(self.fd, False)
        while not self.stop.is_set():
            if not select.select([], [self.fd], [], 0.05)[1]:
                continue
            try:
                os.write(self.fd, block)
            except BlockingIOError:
                continue
            except OSError:
                return

    def join(self) -> None:
        self.stop.set()
        self.thread.join(2)


class UsbMonitor:
    """The kernel's own record of every URB on bus 1 (usbmon's text interface)."""

    def __init__(self, bus: int = 1) -> None:
        subprocess.run(["modprobe", "usbmon"], check=True)
        self.lines: list[str] = []
        self._lock = threading.Lock()
        # Opened here so no URB of the scenario is missed; the reader thread
        # blocks in read() and dies with the process.
        self._file = open(f"/sys/kernel/debug/usb/usbmon/{bus}u")  # noqa: SIM115
        threading.Thread(target=self._read_main, daemon=True).start()

    def _read_main(self) -> None:
        for line in self._file:
            with self._lock:
                self.lines.append(line.strip())

    def submissions(self, kind: str) -> list[list[str]]:
        """The fields of every submission ("S") on endpoints of ``kind`` (Co, Bo, Bi, Ii)."""
        with self._lock:
            lines = list(self.lines)
        found = []
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[2] == "S" and fields[3].startswith(kind + ":"):
                found.append(fields[4:])
        return found
