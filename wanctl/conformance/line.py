"""The line under test: octets in and out, and the time.

``Line`` is all the tester needs from the far end: write octets, read what
arrived before a deadline, and a clock.  ``SerialLine`` is a real port (a
tty, a pty, or any pyserial URL), locked with a UUCP lock file while the
tester holds it; the tests also drive the tester over a simulated line on a
fake clock, which is why time is the line's and not ``time.monotonic``'s.
"""

from __future__ import annotations

import os
import select
import time
from typing import Protocol

from wanminiport.exitcodes import WanctlError
from wanminiport.transports.lockfile import PortLock
from wanminiport.transports.serial_open import open_serial, uses_fd

#: Octets read from the port at once.
READ_SIZE = 4096


class Line(Protocol):
    def now(self) -> float:
        """Seconds on the line's clock."""

    def write(self, data: bytes) -> None:
        """Send ``data`` to the implementation under test."""

    def read(self, until: float) -> bytes:
        """Octets that arrive before ``until`` (``b""`` once it has passed)."""

    def wall_time(self) -> float:
        """The Unix time for the pcap's timestamps."""

    def close(self) -> None: ...


class LineError(WanctlError):
    """The port cannot be used (missing, locked, not a tty, closed by the peer)."""


class SerialLine:
    """A serial port at ``baud`` 8N1, raw, no flow control, held under a UUCP lock."""

    def __init__(self, port: str, baud: int = 115200) -> None:
        self.port = port
        self._lock: PortLock | None = None
        if "://" not in port:
            self._lock = PortLock(port)
            try:
                self._lock.acquire()
            except WanctlError as exc:
                raise LineError(str(exc), exit_code=exc.exit_code) from exc
        try:
            settings = {"baudrate": baud, "xonxoff": False, "rtscts": False}
            self._serial, _ = open_serial(port, settings, dtr=True, rts=True, read_timeout=0.05)
        except WanctlError as exc:
            self._release()
            raise LineError(str(exc), exit_code=exc.exit_code) from exc
        self._fd = self._serial.fileno() if uses_fd(self._serial) else None

    def now(self) -> float:
        return time.monotonic()

    def wall_time(self) -> float:
        return time.time()

    def write(self, data: bytes) -> None:
        try:
            self._serial.write(data)
            self._serial.flush()
        except OSError as exc:
            raise LineError(f"{self.port}: write failed: {exc}") from exc

    def read(self, until: float) -> bytes:
        wait = until - time.monotonic()
        if self._fd is None:
            data = self._serial.read(READ_SIZE) if wait > 0 else b""
            return bytes(data)
        if wait <= 0:
            wait = 0.0
        ready, _, _ = select.select([self._fd], [], [], wait)
        if not ready:
            return b""
        try:
            data = os.read(self._fd, READ_SIZE)
        except BlockingIOError:
            return b""
        except OSError as exc:
            # EIO: the other side of a pty closed, the nearest thing to a hang-up.
            raise LineError(f"{self.port}: the line went down ({exc.strerror})") from exc
        if not data:
            raise LineError(f"{self.port}: the line went down (end of file)")
        return data

    def close(self) -> None:
        try:
            self._serial.close()
        finally:
            self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
