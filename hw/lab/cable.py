"""A virtual null-modem cable: two real ttys joined by a paced relay.

Each end is a pty pair from ``hw.lab.ptys.open_pty`` (users open the slave path,
``/dev/pts/N``, exactly like a serial port; the relay holds the master), or
an existing tty joined by path -- a qemu VM's ``-serial pty`` for instance --
so the same relay can sit between our stack and a VM.

The relay moves bytes at a chosen baud (``hw.lab.pacing.LinePacer``, 10 bit times
per byte) and reads from an end only as many bytes as the line may carry now,
so a writer that outruns the line fills its own pty buffer and blocks: the
back-pressure of a real UART.  Like a real wire it delivers a byte only once
its last bit has arrived (``hw.lab.pacing.Wire``): a frame of N bytes written to
an idle line is complete at the far end N x 10 bit times later, never
sooner, so round-trip times measured over the cable are honest.  Reads and
writes are chunks sized by the pacer's look-ahead; no Python runs per byte.

With ``follow_termios`` each direction is paced at the speed its sender
last set on its tty (read back through the pty master, which shares its
slave's termios), as a UART sends at the rate its driver programmed: a qemu
USB-serial chip applies the baud its guest driver asks for to its pty, and
the cable then carries that.  The speed is read again at each wake-up (one
tcgetattr); a pty nobody has set up says 38400.  With ``overrun`` bytes an
end's tty has no room for are lost, as in a UART nobody reads, instead of
holding the sender back (qemu stalls its guest while a chardev write waits).

Faults, as on a real line:

* bit errors: each data bit flips independently with probability ``ber``.
  The gap to the next error is drawn from the geometric distribution, so the
  cost is per error, not per bit.
* ``cut()``: the wire is cut; both ways bytes still leave the sender at line
  rate and are lost.  ``restore()`` joins it again.
* ``hangup(end)``: the relay closes that end's master (and the keep-alive
  slave fd).  The kernel then hangs up the slave: whoever has it open sees
  POLLHUP, reads end-of-file and gets EIO on writes -- the pty's way of
  saying carrier lost.  The old ``/dev/pts/N`` is gone for good; ``replug(end)``
  makes a new pty for that end and returns its new path, for a reconnect.
  Hanging up a joined tty only closes the relay's own fd on it.

Two ways to run it: in-process (``VirtualCable`` on the running asyncio
loop) or as a separate process (``python -m hw.lab.cable``, driven through
``CableProcess`` or by hand), so that benchmarks can measure their own
process's CPU without the relay in it.  See ``hw.lab.cable_process``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import termios
import tty
from dataclasses import asdict, dataclass
from typing import Any

from hw.lab.pacing import LinePacer, Wire
from hw.lab.ptys import PtyPair, open_pty

log = logging.getLogger(__name__)

#: Look-ahead of the cable's pacers: how far ahead of the wire the relay takes
#: bytes from the sender (its transmit FIFO).  A wake-up every half of it
#: carries half of it, and the other half covers the event loop's
#: millisecond timer granularity, so the line never idles while data waits.
DEFAULT_LOOKAHEAD = 0.004
_DATA_BITS = 8
END_NAMES = ("a", "b")
#: termios speed constants back to bit/s, for ``follow_termios``.
_SPEEDS = {
    getattr(termios, f"B{rate}"): rate
    for rate in (50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200,
                 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000,
                 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000)
    if hasattr(termios, f"B{rate}")
}  # fmt: skip


class BitErrors:
    """Flips each data bit independently with probability ``ber``."""

    def __init__(self, ber: float, rng: random.Random) -> None:
        if not 0.0 < ber <= 1.0:
            raise ValueError(f"bit-error rate must be in (0, 1], not {ber}")
        self._rng = rng
        # ln(1 - ber); -inf at ber 1 makes every gap 0: every bit flips.
        self._log_keep = math.log1p(-ber) if ber < 1.0 else -math.inf
        self._bits_to_next = self._gap()

    def _gap(self) -> int:
        """Error-free bits before the next error: Geometric(ber), from 0."""
        return int(math.log(1.0 - self._rng.random()) / self._log_keep)

    def apply(self, data: bytes) -> tuple[bytes, int]:
        """The bytes as received, and how many bits were flipped."""
        nbits = len(data) * _DATA_BITS
        if self._bits_to_next >= nbits:
            self._bits_to_next -= nbits
            return data, 0
        damaged = bytearray(data)
        position, flips = self._bits_to_next, 0
        while position < nbits:
            damaged[position >> 3] ^= 1 << (position & 7)
            flips += 1
            position += 1 + self._gap()
        self._bits_to_next = position - nbits
        return bytes(damaged), flips


@dataclass
class DirectionStats:
    """One direction's counters: delivered, damaged and lost."""

    bytes: int = 0
    bits_flipped: int = 0
    dropped: int = 0


class CableEnd:
    """One end: the fd the relay reads and writes, and the path a user opens."""

    def __init__(self, name: str, join: str | None = None) -> None:
        self.name = name
        self.joined = join
        self.fd = -1
        self.path = ""
        self._pty: PtyPair | None = None
        self.open()

    @property
    def up(self) -> bool:
        return self.fd >= 0

    def open(self) -> None:
        if self.joined is None:
            self._pty = open_pty()
            self.fd, self.path = self._pty.master_fd, self._pty.slave_path
            return
        fd = os.open(self.joined, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            tty.setraw(fd, termios.TCSANOW)
            attrs = termios.tcgetattr(fd)
            attrs[2] |= termios.CLOCAL
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except termios.error:
            os.close(fd)
            raise
        self.fd, self.path = fd, self.joined

    def close(self) -> None:
        if self._pty is not None:
            self._pty.close()
            self._pty = None
        elif self.fd >= 0:
            os.close(self.fd)
        self.fd = -1


class _Direction:
    """The paced relay from one end to the other.

    Bytes are taken from the source no faster than the line carries them
    (``LinePacer``; the look-ahead plays the sending UART's FIFO), travel on
    a ``Wire`` and reach the destination only once their last bit has
    arrived.  Arrived bytes are handed over in chunks of ``_wake_chunk``
    (half the look-ahead's worth, like a receiving UART's FIFO trigger
    level), and the last byte in flight always exactly when it arrives, so a
    frame's closing flag is never held back on an idle line.
    """

    def __init__(
        self, cable: VirtualCable, src: CableEnd, dst: CableEnd, errors: BitErrors | None
    ) -> None:
        self.cable, self.src, self.dst, self.errors = cable, src, dst, errors
        self.pacer = LinePacer(cable.baud, lookahead=cable.lookahead)
        self.wire = Wire(self.pacer.seconds_per_byte)
        self.stats = DirectionStats()
        self._pending = b""
        self._reading = -1  # the fd we have a reader on
        self._writing = -1  # the fd we have a writer on
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        # A timer wake-up waits for this many bytes' worth of line time.
        self._wake_chunk = max(1, int(cable.lookahead / 2 / self.pacer.seconds_per_byte))

    @property
    def baud(self) -> int:
        return self.pacer.baud

    def retime(self, baud: int) -> None:
        """Carry bytes at ``baud`` from now on (bytes already on the wire take the new rate)."""
        if baud == self.pacer.baud:
            return
        log.info("cable %s->%s: %d bit/s", self.src.name, self.dst.name, baud)
        self.pacer.baud = baud
        self.wire.seconds_per_byte = self.pacer.seconds_per_byte
        self._wake_chunk = max(1, int(self.cable.lookahead / 2 / self.pacer.seconds_per_byte))

    def _follow_sender(self) -> None:
        """The sender's tty speed (a pty master reads its slave's termios) paces its bytes."""
        if not self.src.up:
            return
        try:
            speed = termios.tcgetattr(self.src.fd)[5]
        except termios.error:
            return
        if speed in _SPEEDS:
            self.retime(_SPEEDS[speed])

    def pump(self) -> None:
        loop = self.cable.loop
        now = loop.time()
        if self.cable.follow_termios:
            self._follow_sender()
        while True:
            if len(self.wire):
                arrived = self.wire.take(now)
                if arrived:
                    self._pending += arrived
            if self._pending:
                if self.cable.is_cut or not self.dst.up:
                    self.stats.dropped += len(self._pending)
                    self._pending = b""
                else:
                    try:
                        written = os.write(self.dst.fd, self._pending)
                    except BlockingIOError:
                        written = 0
                        if not self.cable.overrun:
                            self._wait(write=self.dst.fd)
                            return
                    except OSError as exc:
                        self.cable.end_lost(self.dst, exc)
                        return
                    self.stats.bytes += written
                    self._pending = self._pending[written:]
                    if self._pending and self.cable.overrun:
                        # Nobody reads that end: its UART overruns, the sender goes on.
                        self.stats.dropped += len(self._pending)
                        self._pending = b""
                    if self._pending:
                        self._wait(write=self.dst.fd)
                        return
            deliver_at = self.wire.arrival(self._wake_chunk)
            if not self.src.up:
                self._wait(at=deliver_at)
                return
            allowance = self.pacer.allowance(now)
            if allowance == 0:
                wake = self.pacer.wake_time(now)
                read_at = wake + (self._wake_chunk - 1) * self.pacer.seconds_per_byte
                self._wait(at=read_at if deliver_at is None else min(read_at, deliver_at))
                return
            try:
                data = os.read(self.src.fd, allowance)
            except BlockingIOError:
                self._wait(read=self.src.fd, at=deliver_at)
                return
            except OSError as exc:
                self.cable.end_lost(self.src, exc)
                return
            if not data:
                self.cable.end_lost(self.src, None)
                return
            start = self.pacer.release(now, len(data))
            if self.cable.is_cut or not self.dst.up:
                self.stats.dropped += len(data)
                continue
            if self.errors is not None:
                data, flips = self.errors.apply(data)
                self.stats.bits_flipped += flips
            self.wire.put(start, data)

    def _wait(self, *, read: int = -1, write: int = -1, at: float | None = None) -> None:
        """Wait on these (or nothing); registrations already in place stay."""
        loop = self.cable.loop
        if self._reading != read:
            if self._reading >= 0:
                loop.remove_reader(self._reading)
            if read >= 0:
                loop.add_reader(read, self.pump)
            self._reading = read
        if self._writing != write:
            if self._writing >= 0:
                loop.remove_writer(self._writing)
            if write >= 0:
                loop.add_writer(write, self.pump)
            self._writing = write
        if self._timer is not None and self._timer_at != at:
            self._timer.cancel()
            self._timer = None
        if at is not None and self._timer is None:
            self._timer = loop.call_at(at, self._on_timer)
            self._timer_at = at

    def _on_timer(self) -> None:
        self._timer = None
        self.pump()

    def stop(self) -> None:
        """Unregister everything; bytes in flight wait for the next ``pump``."""
        self._wait()


class VirtualCable:
    """A paced null-modem cable between ends ``a`` and ``b``, on asyncio.

    The ttys exist from construction (``a_path``/``b_path``); ``start`` begins
    relaying on the running loop and ``stop`` closes everything.
    """

    def __init__(
        self,
        baud: int,
        *,
        ber: float = 0.0,
        seed: int | None = None,
        join_a: str | None = None,
        join_b: str | None = None,
        lookahead: float = DEFAULT_LOOKAHEAD,
        follow_termios: bool = False,
        overrun: bool = False,
    ) -> None:
        if baud <= 0:
            raise ValueError(f"baud must be positive, not {baud}")
        if not 0.0 <= ber <= 1.0:
            raise ValueError(f"bit-error rate must be within [0, 1], not {ber}")
        self.baud, self.ber, self.lookahead = baud, ber, lookahead
        #: Pace each direction at the speed its sender set on its tty (``baud``
        #: until it sets one): what a UART does with the rate its driver chose.
        self.follow_termios = follow_termios
        #: Drop what an end's full tty cannot take (counted as dropped) instead of
        #: holding the sender back: a receiving UART that nobody reads overruns.
        self.overrun = overrun
        self.is_cut = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False
        rng = random.Random(seed)
        self.ends = {"a": CableEnd("a", join_a)}
        try:
            self.ends["b"] = CableEnd("b", join_b)
        except BaseException:
            self.ends["a"].close()
            raise
        a, b = self.ends["a"], self.ends["b"]

        def errors() -> BitErrors | None:
            return BitErrors(ber, random.Random(rng.getrandbits(64))) if ber > 0 else None

        self.a_to_b = _Direction(self, a, b, errors())
        self.b_to_a = _Direction(self, b, a, errors())

    @property
    def a_path(self) -> str:
        return self.ends["a"].path

    @property
    def b_path(self) -> str:
        return self.ends["b"].path

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the cable is not started")
        return self._loop

    @property
    def _directions(self) -> tuple[_Direction, _Direction]:
        return self.a_to_b, self.b_to_a

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for direction in self._directions:
            direction.pump()

    def stop(self) -> None:
        self._stopped = True
        if self._loop is not None:
            for direction in self._directions:
                direction.stop()
        for end in self.ends.values():
            end.close()

    async def __aenter__(self) -> VirtualCable:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def cut(self) -> None:
        """Cut the wire: from now on bytes leave at line rate and are lost."""
        self.is_cut = True

    def restore(self) -> None:
        self.is_cut = False

    def hangup(self, name: str) -> None:
        """Close end ``name``: its user reads EIO/HUP.  ``replug`` makes a new one."""
        end = self._end(name)
        if not end.up:
            return
        for direction in self._directions:
            direction.stop()  # unregister the fd before it is closed
        end.close()
        self._resume_soon()

    def replug(self, name: str) -> str:
        """A fresh tty for a hung-up end; returns the path to open now."""
        end = self._end(name)
        if end.up:
            raise RuntimeError(f"end {name} is still connected; hang it up first")
        end.open()
        self._resume_soon()
        return end.path

    def end_lost(self, end: CableEnd, exc: OSError | None) -> None:
        """An end failed under the relay (a joined tty's far side closed)."""
        log.info("cable end %s (%s) lost: %s", end.name, end.path, exc or "end of file")
        self.hangup(end.name)

    def stats(self) -> dict[str, Any]:
        return {
            "a_to_b": asdict(self.a_to_b.stats),
            "b_to_a": asdict(self.b_to_a.stats),
            "cut": self.is_cut,
            "a_up": self.ends["a"].up,
            "b_up": self.ends["b"].up,
            "a_baud": self.a_to_b.baud,
            "b_baud": self.b_to_a.baud,
        }

    def _end(self, name: str) -> CableEnd:
        try:
            return self.ends[name]
        except KeyError:
            raise ValueError(f"no cable end {name!r}; the ends are 'a' and 'b'") from None

    def _resume_soon(self) -> None:
        # From the loop, not here: hangup may be called from inside a pump.
        if self._loop is not None and not self._stopped:
            self._loop.call_soon(self._resume)

    def _resume(self) -> None:
        if not self._stopped:
            for direction in self._directions:
                direction.pump()


if __name__ == "__main__":
    from hw.lab.cable_process import main

    raise SystemExit(main())
