"""The transport interface: one byte pipe to the hardware, driven by asyncio.

A transport is the lowest floor of the miniport: a serial port through
pyserial, a USB CDC-ACM device through pyusb, or anything else that moves
bytes.  It reports upward through ``TransportEvents`` and never parses what
it carries.

Writes are eager: ``write`` hands as much as the OS takes at once, keeps the
rest (bounded by ``max_buffered``) and flushes it when the fd is writable.
Each write may carry a callback that runs once with ``True`` when its last
byte was handed to the OS, or with ``False`` when the line went down first --
this is what "send completion" means in CoNDIS: handed to the device, not
necessarily on the wire.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from wanminiport.exitcodes import ExitCode, WanctlError

WriteDone = Callable[[bool], None]

log = logging.getLogger(__name__)


class LineDownReason(enum.Enum):
    """Why a line went down (the miniport maps these to SendStatus)."""

    #: The far end closed (pty peer closed, EIO/HUP): the nearest thing to
    #: a carrier loss on a line without modem-control signals.
    HANGUP = "hangup"
    #: Carrier Detect dropped on a port that has it.
    CARRIER_LOST = "carrier lost"
    #: The device went away (USB unplug, ENODEV).
    UNPLUGGED = "unplugged"
    #: Closed by its owner.
    CLOSED = "closed"


@dataclass(frozen=True)
class ModemLines:
    """Modem-status inputs: Carrier Detect, Data Set Ready, Clear To Send, Ring."""

    cd: bool = False
    dsr: bool = False
    cts: bool = False
    ri: bool = False


class TransportEvents(Protocol):
    """Upward indications from a transport."""

    def data_received(self, data: bytes) -> None: ...

    def line_down(self, reason: LineDownReason) -> None: ...

    def modem_lines_changed(self, lines: ModemLines) -> None: ...


class TransportError(WanctlError):
    """A port could not be opened or configured; ``exit_code`` follows pppd."""

    exit_code = ExitCode.OPEN_FAILED

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.OPEN_FAILED) -> None:
        super().__init__(message, exit_code=exit_code)


class Transport(abc.ABC):
    """A byte pipe owned by one miniport adapter."""

    #: A human name for logs: the device path or URL.
    name: str = ""
    #: The line speed in bits per second (0 when not meaningful).
    baudrate: int = 0
    #: Whether DTR/RTS out and CD/DSR/CTS/RI in are real on this port.
    has_modem_lines: bool = False

    @abc.abstractmethod
    def start(self, events: TransportEvents) -> None:
        """Begin delivering indications on the running event loop."""

    @abc.abstractmethod
    def write(self, data: bytes, done: WriteDone | None = None) -> None:
        """Queue bytes; ``done`` runs once (True: handed to the OS)."""

    @property
    @abc.abstractmethod
    def buffered(self) -> int:
        """Bytes accepted by ``write`` but not yet handed to the OS."""

    @abc.abstractmethod
    def set_dtr(self, on: bool) -> None: ...

    @abc.abstractmethod
    def set_rts(self, on: bool) -> None: ...

    @abc.abstractmethod
    def modem_lines(self) -> ModemLines: ...

    def defer_reading(self, octets: int) -> None:  # noqa: B027 - an optional hint
        """A hint: nothing useful arrives before ``octets`` more bytes (may be ignored)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the port; pending write callbacks run with False."""

    @property
    @abc.abstractmethod
    def is_open(self) -> bool: ...


class TransportBase(Transport):
    """What every transport does the same way.

    Started once, on the running loop, and never after ``close``; open until
    closed or until the line goes down, which is marked once whichever thread
    notices first; upward calls run from the loop, never inside the caller's
    own call; write completions run once each, and one failing callback does
    not cost the others theirs.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: TransportEvents | None = None
        self._closed = False
        self._down = False

    @property
    def is_open(self) -> bool:
        return not (self._closed or self._down)

    def _begin(self, events: TransportEvents) -> asyncio.AbstractEventLoop:
        """The start guards; returns the loop every indication will run on."""
        if self._closed:
            raise RuntimeError(f"{self.name} is closed")
        if self._events is not None:
            raise RuntimeError(f"{self.name} is already started")
        self._loop = asyncio.get_running_loop()
        self._events = events
        return self._loop

    def _started_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError(f"start() {self.name} before writing to it")
        return self._loop

    def _mark_down(self) -> bool:
        """Mark the line down; True only the first time (and never after close)."""
        if self._down or self._closed:
            return False
        self._down = True
        return True

    def _soon(self, callback: Callable[..., object], *args: object) -> None:
        """Run an upward call from the loop, not inside the caller's own call
        (from another thread too); at once when the loop has gone."""
        loop = self._loop
        if loop is None or loop.is_closed():
            callback(*args)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.call_soon(callback, *args)
        else:
            loop.call_soon_threadsafe(callback, *args)

    def _complete(self, dones: Iterable[WriteDone | None], ok: bool) -> None:
        """Run write completions now, each once, each isolated from the others."""
        for done in dones:
            if done is None:
                continue
            try:
                done(ok)
            except Exception:
                log.exception("%s: write completion callback failed", self.name)

    def _complete_soon(self, dones: Iterable[WriteDone | None], ok: bool) -> None:
        self._soon(self._complete, list(dones), ok)
