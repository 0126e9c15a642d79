"""Test helpers for watching pppd on the wire: a capturing relay and a frame reader.

``CapturingRelay`` joins two host ptys (two guest ttyS lines) byte for byte,
as fast as they go, and keeps a copy of each direction.  It is only the
null-modem cable of the rig's own tests; the paced, configurable cable is
``hw/lab/cable.py``.

``read_frames`` splits a captured byte stream into RFC 1662 async HDLC
frames.  It is written independently of ``wanminiport.framing`` on purpose:
the captures are evidence about pppd, not about our framer.
"""

from __future__ import annotations

import os
import select
import threading
import tty
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from hw.lab.vm import LoggedPacket, packet_numbers

_FLAG = 0x7E
_ESCAPE = 0x7D
_GOOD_FCS = 0xF0B8


#: (direction, bytes read) -> bytes to pass on; direction 0 is first to second.
Tamper = Callable[[int, bytes], bytes]


class CapturingRelay:
    """Copies bytes both ways between two ptys and records each direction.

    An end is a path to open or an open descriptor (a pty master whose slave
    another process uses).  ``tamper`` may change what passes (a noisy line);
    the records keep what was read.
    """

    def __init__(self, first: str | int, second: str | int, tamper: Tamper | None = None) -> None:
        self.paths = (first, second)
        self.tamper = tamper
        #: Bytes that went from ``first`` to ``second``, and the other way.
        self.first_to_second = bytearray()
        self.second_to_first = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fds: list[int] = []
        self.error: BaseException | None = None

    def __enter__(self) -> CapturingRelay:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        for path in self.paths:
            if isinstance(path, int):
                fd = path
                os.set_blocking(fd, False)
            else:
                fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            tty.setraw(fd)
            self._fds.append(fd)
        self._thread = threading.Thread(target=self._pump, name="capturing-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()

    def snapshot(self) -> tuple[bytes, bytes]:
        """(first_to_second, second_to_first) so far."""
        with self._lock:
            return bytes(self.first_to_second), bytes(self.second_to_first)

    def _pump(self) -> None:
        first, second = self._fds
        pending = {first: bytearray(), second: bytearray()}  # bytes waiting to be written to fd
        peer = {first: second, second: first}
        record = {first: self.first_to_second, second: self.second_to_first}
        try:
            while not self._stop.is_set():
                writers = [fd for fd, data in pending.items() if data]
                readable, writable, _ = select.select([first, second], writers, [], 0.05)
                for fd in readable:
                    try:
                        data = os.read(fd, 4096)
                    except BlockingIOError:
                        continue
                    with self._lock:
                        record[fd] += data
                    if self.tamper is not None:
                        data = self.tamper(0 if fd == first else 1, data)
                    pending[peer[fd]] += data
                for fd in writable:
                    written = os.write(fd, pending[fd])
                    del pending[fd][:written]
        except BaseException as error:
            self.error = error


def _fcs16(data: bytes) -> int:
    fcs = 0xFFFF
    for byte in data:
        fcs ^= byte
        for _ in range(8):
            fcs = (fcs >> 1) ^ 0x8408 if fcs & 1 else fcs >> 1
    return fcs


@dataclass(frozen=True)
class WireFrame:
    """A frame with a good FCS: its PPP protocol number and information field."""

    protocol: int
    information: bytes

    @property
    def is_control(self) -> bool:
        """LCP, authentication and NCP packets (protocol 0x8000 and up) -- what pppd logs."""
        return self.protocol >= 0x8000

    @property
    def code(self) -> int | None:
        return self.information[0] if self.information else None


def read_frames(stream: bytes) -> list[WireFrame]:
    """The frames with a good FCS in an async HDLC byte stream, in order."""
    frames: list[WireFrame] = []
    for chunk in stream.split(bytes([_FLAG])):
        raw = bytearray()
        escaped = False
        for byte in chunk:
            if byte == _ESCAPE:
                escaped = True
            elif escaped:
                raw.append(byte ^ 0x20)
                escaped = False
            else:
                raw.append(byte)
        if len(raw) < 4 or _fcs16(bytes(raw)) != _GOOD_FCS:
            continue
        body = bytes(raw[:-2])
        if body[:2] == b"\xff\x03":
            body = body[2:]
        if body and body[0] & 1:  # protocol field compressed to one byte
            frames.append(WireFrame(body[0], body[1:]))
        elif len(body) >= 2:
            frames.append(WireFrame(body[0] << 8 | body[1], body[2:]))
    return frames


def control_packets_on_wire(stream: bytes) -> list[tuple[int, int | None]]:
    """(protocol, code) of each control frame in a captured stream."""
    return [(frame.protocol, frame.code) for frame in read_frames(stream) if frame.is_control]


def sent_packets_in_log(packets: list[LoggedPacket]) -> list[tuple[int | None, int | None]]:
    """(protocol, code) numbers of the packets a pppd log says it sent."""
    return [packet_numbers(packet) for packet in packets if packet.direction == "sent"]
