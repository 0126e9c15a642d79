"""A virtual telephone exchange joining emulated Hayes modems by number.

Each ``ModemPort`` is one emulated modem (a ``ModemEngine``) sitting on a
real tty: a pty it creates (users open ``/dev/pts/N`` like a serial port) or
an existing tty joined by path (a VM's serial line, for instance).

The exchange does what the telephone network does for the engines:

* ``ATD`` of a number nobody has: NO CARRIER; of a line that is off-hook,
  ringing or in a call (or of oneself): BUSY.
* otherwise the callee gets RING at once and every ``ring_interval``
  seconds until it answers (ATA, or auto-answer after S0 rings), or the
  caller gives up (its S7 expires: NO ANSWER).
* after the answer a ``handshake_time`` passes (modems train), then both get
  ``CONNECT <rate>``, the lower of the two modems' rates; data then flows
  paced at that rate (``hw.lab.pacing.LinePacer``), with back-pressure: a DTE
  that outruns the line is not read until the line catches up.
* a hang-up on one side (ATH, ``+++`` then ATH, DTR drop) gives NO CARRIER
  on the other; both return to command state for the next call.

A pty has no DTR line: the DTE closing its tty (the master reads EIO and
polls HUP) counts as DTR dropping, and the DTE opening it again as DTR
rising.  While no DTE has the tty open, output to it is dropped (and stale
bytes flushed) so the next user starts clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import errno
import logging
import os
import select
import termios
import tty
from dataclasses import dataclass, field

from hw.lab.modem.engine import (
    AnswerRequest,
    DialRequest,
    HangupRequest,
    ModemConfig,
    ModemEngine,
    ResultCode,
    ToLine,
)
from hw.lab.pacing import LinePacer, Wire
from hw.lab.ptys import PtyPair, open_pty
from wanminiport.coretimer import CoreTimer
from wanminiport.sansio import Transmit

log = logging.getLogger(__name__)

_READ_SIZE = 4096
#: Bytes queued toward a DTE (or on the line) before the sender is paused.
_HIGH_WATER = 8192
_PACER_LOOKAHEAD = 0.004


@dataclass(frozen=True)
class ExchangeConfig:
    #: Seconds between two RINGs (6 s on most exchanges).
    ring_interval: float = 6.0
    #: Seconds from the answer to CONNECT (modem training).
    handshake_time: float = 1.0
    #: How often a tty without a DTE is checked for a new opener.
    dte_poll_interval: float = 0.05


class CallState(enum.Enum):
    RINGING = "ringing"
    HANDSHAKE = "handshake"
    CONNECTED = "connected"


@dataclass
class Call:
    caller: ModemPort
    callee: ModemPort
    state: CallState = CallState.RINGING
    rate: int = 0
    timer: asyncio.TimerHandle | None = None

    def peer(self, port: ModemPort) -> ModemPort:
        return self.callee if port is self.caller else self.caller


@dataclass
class PortStats:
    from_dte: int = 0
    to_dte: int = 0
    dropped_to_dte: int = 0
    calls: int = 0


@dataclass
class ModemPort:
    """One emulated modem on one tty."""

    number: str
    engine: ModemEngine
    path: str
    fd: int
    pty: PtyPair | None = None
    dte_present: bool = False
    call: Call | None = None
    stats: PortStats = field(default_factory=PortStats)
    #: Bytes from the far end waiting for line time toward this DTE.
    line_queue: bytearray = field(default_factory=bytearray)
    pacer: LinePacer | None = None
    #: Bytes on the line toward this modem, handed over once they have arrived.
    wire: Wire | None = None
    #: Inside ``_pump``: what it sets off (a DTE write) must not pump again.
    pumping: bool = False
    out_buffer: bytearray = field(default_factory=bytearray)
    reading: bool = False
    writing: bool = False
    #: Keeps the engine's timer armed (made on first use, on the exchange's loop).
    timer: CoreTimer | None = None
    pump_timer: asyncio.TimerHandle | None = None
    poll_timer: asyncio.TimerHandle | None = None

    @property
    def busy(self) -> bool:
        return self.call is not None or not self.engine.idle


class Exchange:
    """Emulated modems joined by number, on the running asyncio loop."""

    def __init__(self, config: ExchangeConfig | None = None) -> None:
        self.config = config or ExchangeConfig()
        self.modems: dict[str, ModemPort] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    # -- setup -----------------------------------------------------------------

    def add_modem(
        self, number: str, *, config: ModemConfig | None = None, join: str | None = None
    ) -> ModemPort:
        """A new modem answering to ``number``, on a fresh pty or the tty ``join``."""
        if not number or not all(char in "0123456789*#ABCD" for char in number):
            raise ValueError(f"invalid modem number {number!r}")
        if number in self.modems:
            raise ValueError(f"number {number} is already taken")
        engine = ModemEngine(config)
        # DTR is low until a DTE is seen on the tty.
        engine.dtr_changed(False, 0.0)
        if join is None:
            # No keep-alive slave fd: the master must see the DTE's last close.
            pair = open_pty(keep_slave_open=False)
            port = ModemPort(number, engine, pair.slave_path, pair.master_fd, pty=pair)
        else:
            port = ModemPort(number, engine, join, _open_joined(join))
        self.modems[number] = port
        if self._loop is not None:
            self._watch_dte(port)
        return port

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for port in self.modems.values():
            self._watch_dte(port)

    def close(self) -> None:
        self._closed = True
        for port in self.modems.values():
            if port.timer is not None:
                port.timer.cancel()
            for handle in (port.pump_timer, port.poll_timer):
                if handle is not None:
                    handle.cancel()
            if port.call is not None and port.call.timer is not None:
                port.call.timer.cancel()
            self._stop_reading(port)
            self._stop_writing(port)
            if port.pty is not None:
                port.pty.close()
            elif port.fd >= 0:
                os.close(port.fd)
            port.fd = -1
        self.modems.clear()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "Exchange.start() was not called"
        return self._loop

    # -- the DTE side ------------------------------------------------------------

    def _watch_dte(self, port: ModemPort) -> None:
        """Start reading if a DTE has the tty open, else poll until one does."""
        port.poll_timer = None
        if self._closed or port.fd < 0:
            return
        poller = select.poll()
        poller.register(port.fd, select.POLLIN)
        hung_up = any(events & select.POLLHUP for _, events in poller.poll(0))
        if hung_up:
            port.poll_timer = self.loop.call_later(
                self.config.dte_poll_interval, self._watch_dte, port
            )
            return
        port.dte_present = True
        self._start_reading(port)
        port.engine.dtr_changed(True, self.loop.time())
        self._process(port)

    def _dte_gone(self, port: ModemPort) -> None:
        port.dte_present = False
        self._stop_reading(port)
        self._stop_writing(port)
        port.stats.dropped_to_dte += len(port.out_buffer)
        port.out_buffer.clear()
        with contextlib.suppress(termios.error):
            # What the DTE left unread must not greet the next user.
            termios.tcflush(port.fd, termios.TCIOFLUSH)
        port.engine.dtr_changed(False, self.loop.time())
        self._process(port)
        self._watch_dte(port)

    def _on_readable(self, port: ModemPort) -> None:
        try:
            data = os.read(port.fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                log.warning("modem %s: read from %s: %s", port.number, port.path, exc)
            self._dte_gone(port)
            return
        if not data:
            self._dte_gone(port)
            return
        port.stats.from_dte += len(data)
        port.engine.receive_from_dte(data, self.loop.time())
        self._process(port)

    def _write_dte(self, port: ModemPort, data: bytes) -> None:
        if not port.dte_present:
            port.stats.dropped_to_dte += len(data)
            return
        port.out_buffer += data
        self._flush(port)

    def _flush(self, port: ModemPort) -> None:
        while port.out_buffer and port.dte_present:
            try:
                written = os.write(port.fd, port.out_buffer)
            except BlockingIOError:
                break
            except OSError:
                self._dte_gone(port)
                return
            port.stats.to_dte += written
            del port.out_buffer[:written]
        if port.out_buffer:
            if not port.writing:
                self.loop.add_writer(port.fd, self._flush, port)
                port.writing = True
        else:
            self._stop_writing(port)
            if port.line_queue and port.pump_timer is None and not port.pumping:
                self._pump(port)

    def _start_reading(self, port: ModemPort) -> None:
        if not port.reading and port.dte_present and port.fd >= 0:
            self.loop.add_reader(port.fd, self._on_readable, port)
            port.reading = True

    def _stop_reading(self, port: ModemPort) -> None:
        if port.reading:
            self.loop.remove_reader(port.fd)
            port.reading = False

    def _stop_writing(self, port: ModemPort) -> None:
        if port.writing:
            self.loop.remove_writer(port.fd)
            port.writing = False

    # -- the engine's requests ---------------------------------------------------

    def _process(self, port: ModemPort) -> None:
        if self._closed:
            return
        while outputs := port.engine.drain():
            for output in outputs:
                if isinstance(output, Transmit):
                    self._write_dte(port, output.data)
                elif isinstance(output, ToLine):
                    self._to_line(port, output.data)
                elif isinstance(output, DialRequest):
                    self._dial(port, output.number)
                elif isinstance(output, AnswerRequest):
                    self._answer(port)
                elif isinstance(output, HangupRequest):
                    self._hang_up(port)
        self._arm(port)

    def _arm(self, port: ModemPort) -> None:
        if self._closed:
            return
        if port.timer is None:
            port.timer = CoreTimer(port.engine, lambda: self._process(port), self.loop)
        port.timer.rearm()

    def _fail_soon(self, port: ModemPort, code: ResultCode) -> None:
        """Report a failed call attempt, outside the engine call that made it."""

        def report() -> None:
            if not self._closed:
                port.engine.call_failed(code, self.loop.time())
                self._process(port)

        self.loop.call_soon(report)

    def _dial(self, caller: ModemPort, number: str) -> None:
        callee = self.modems.get(number)
        if callee is None:
            log.info("modem %s dials %s: no such number", caller.number, number)
            self._fail_soon(caller, ResultCode.NO_CARRIER)
            return
        if callee is caller or callee.busy:
            self._fail_soon(caller, ResultCode.BUSY)
            return
        call = Call(caller, callee)
        caller.call = callee.call = call
        log.info("modem %s calls %s", caller.number, callee.number)
        call.timer = self.loop.call_later(0.0, self._ring, call)

    def _ring(self, call: Call) -> None:
        if call.state is not CallState.RINGING or call.callee.call is not call:
            return
        callee = call.callee
        callee.engine.incoming_ring(self.loop.time())
        call.timer = self.loop.call_later(self.config.ring_interval, self._ring, call)
        self._process(callee)

    def _answer(self, port: ModemPort) -> None:
        call = port.call
        if call is None or call.callee is not port or call.state is not CallState.RINGING:
            self._fail_soon(port, ResultCode.NO_CARRIER)
            return
        if call.timer is not None:
            call.timer.cancel()
        call.state = CallState.HANDSHAKE
        call.rate = min(call.caller.engine.config.rate, call.callee.engine.config.rate)
        call.timer = self.loop.call_later(self.config.handshake_time, self._connect, call)

    def _connect(self, call: Call) -> None:
        call.timer = None
        if call.state is not CallState.HANDSHAKE:
            return
        call.state = CallState.CONNECTED
        now = self.loop.time()
        for port in (call.caller, call.callee):
            port.stats.calls += 1
            port.pacer = LinePacer(call.rate, lookahead=_PACER_LOOKAHEAD)
            port.wire = Wire(port.pacer.seconds_per_byte)
            port.line_queue.clear()
            port.engine.call_connected(call.rate, now)
        log.info("%s and %s connected at %d", call.caller.number, call.callee.number, call.rate)
        self._process(call.caller)
        self._process(call.callee)

    def _hang_up(self, port: ModemPort) -> None:
        call = port.call
        if call is None:
            return
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None
        peer = call.peer(port)
        previous = call.state
        port.call = peer.call = None
        for side in (port, peer):
            side.line_queue.clear()
            side.pacer = None
            side.wire = None
            if side.pump_timer is not None:
                side.pump_timer.cancel()
                side.pump_timer = None
        now = self.loop.time()
        if previous is CallState.RINGING:
            call.callee.engine.ringing_stopped(now)
        else:
            peer.engine.remote_hangup(now)
        log.info("modem %s hung up (%s)", port.number, previous.value)
        self._start_reading(port)
        self._start_reading(peer)
        self.loop.call_soon(self._process, peer)

    # -- the line ------------------------------------------------------------------

    def _to_line(self, port: ModemPort, data: bytes) -> None:
        call = port.call
        if call is None or call.state is not CallState.CONNECTED:
            return
        peer = call.peer(port)
        peer.line_queue += data
        if len(peer.line_queue) > _HIGH_WATER:
            # Back-pressure: the DTE's own tty buffer fills, as on a real UART.
            self._stop_reading(port)
        if peer.pump_timer is None:
            self._pump(peer)

    def _pump(self, port: ModemPort) -> None:
        """Move line bytes toward ``port``'s DTE no faster than the line rate.

        Bytes leave the line queue as the pacer allows, travel on a ``Wire``
        and reach the engine (and so the DTE) once their last bit has
        arrived: in chunks of half the look-ahead, the last byte in flight
        exactly on time.  One timer per port at most.
        """
        if port.pump_timer is not None:
            port.pump_timer.cancel()
            port.pump_timer = None
        pacer, wire = port.pacer, port.wire
        if pacer is None or wire is None:
            return
        now = self.loop.time()
        port.pumping = True
        try:
            arrived = wire.take(now) if len(wire) else b""
            if arrived:
                port.engine.data_from_line(arrived, now)
                self._process(port)
        finally:
            port.pumping = False
        if port.pacer is not pacer:
            return  # the call ended while the engine handled the bytes
        # The DTE not reading holds the line back, as a full UART buffer would.
        line_open = len(port.out_buffer) <= _HIGH_WATER
        allowance = pacer.allowance(now) if line_open and port.line_queue else 0
        if allowance:
            chunk = bytes(port.line_queue[:allowance])
            del port.line_queue[:allowance]
            wire.put(pacer.release(now, len(chunk)), chunk)
        call = port.call
        if call is not None and len(port.line_queue) <= _HIGH_WATER // 2:
            self._start_reading(call.peer(port))
        wakes = []
        if len(wire):
            wakes.append(wire.arrival(max(1, int(_PACER_LOOKAHEAD / 2 / wire.seconds_per_byte))))
        if port.line_queue and line_open:
            wakes.append(pacer.wake_time(now) + _PACER_LOOKAHEAD / 2)
        times = [when for when in wakes if when is not None]
        if times:
            port.pump_timer = self.loop.call_at(min(times), self._pump, port)


def _open_joined(path: str) -> int:
    """Open an existing tty raw, without modem control, non-blocking."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        tty.setraw(fd, termios.TCSANOW)
        attrs = termios.tcgetattr(fd)
        attrs[2] |= termios.CLOCAL
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    except termios.error:
        os.close(fd)
        raise
    return fd
