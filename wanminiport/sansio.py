"""The one contract every protocol core speaks.

A *core* is a sans-I/O protocol machine: the framers, the RFC 1661 automaton
and what runs on it (LCP, the NCPs, CCP), the authentication methods, the
multilink reassembler, the compressors, the Hayes dialer, the chat
interpreter and the modem emulator.  It imports no serial, usb, socket,
asyncio or os; the test ``tests/unit/test_sans_io.py`` checks that.

* **In:** method calls carrying bytes, frames or events, and the time as a
  number (``now``: seconds on any monotonic clock, the same clock for every
  call).  A core never reads a clock.
* **Out:** small frozen records from one drain, ``drain()``, in the order
  the core decided them (``PppSession`` gives its frames before its events,
  so a driver sends what was agreed before acting on it).  Two records are
  shared by every core: ``Transmit`` (bytes or a frame for the floor below)
  and ``LogLine``.  A core adds its own records for the rest
  (``Connected``, ``NetworkUp``, the modem engine's ``ToLine``...).
* **Errors:** asking a core for what its state does not allow raises
  ``LocalProtocolError`` (or a ``ValueError`` for a bad argument); whatever
  the peer sends is never raised -- it becomes a record, a count or a Reject.
* **Time:** ``get_timer()`` says when the core next needs waking (``None``:
  never); the driver calls ``handle_timer(now)`` at or after that moment.
  A call before it is harmless, so a driver never has to be exact.

The asyncio side of the contract, one helper that keeps a core's timer
armed, is ``wanminiport.coretimer.CoreTimer``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, TypeVar


class LogLevel(enum.IntEnum):
    """pppd's message levels (dbglog, info, notice, warn, error), as logging numbers."""

    DEBUG = 10
    INFO = 20
    NOTICE = 25
    WARNING = 30
    ERROR = 40


@dataclass(frozen=True, slots=True)
class Transmit:
    """Bytes (or one frame) for the floor below, to be written in this order."""

    data: bytes


@dataclass(frozen=True, slots=True)
class LogLine:
    """A line for the log, worded as pppd, chat or a modem would print it."""

    text: str
    level: LogLevel = LogLevel.DEBUG


class TimedCore(Protocol):
    """A core that may need waking: the timer half of the contract."""

    def get_timer(self) -> float | None:
        """When ``handle_timer`` should next be called (None: no timer)."""
        ...

    def handle_timer(self, now: float) -> None:
        """The time is ``now``: run whatever expired (early calls do nothing)."""
        ...


OutputT = TypeVar("OutputT")


class Core(TimedCore, Protocol[OutputT]):
    """A whole core: its timer and its one drain."""

    def drain(self) -> list[OutputT]:
        """Every output record since the last call, oldest first."""
        ...


class LocalProtocolError(RuntimeError):
    """We asked a core for something its state does not allow (a bug on our side).

    What the *peer* did wrong is never raised: a core reports it as an output
    record (a log line, a counted drop, a Reject), as h11 separates
    ``LocalProtocolError`` from ``RemoteProtocolError``.
    """
