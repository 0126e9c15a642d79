"""SerialTransport: a serial port (or any pyserial URL) as a Transport.

Opening a device path follows pppd: take the UUCP lock, open the tty
exclusively (TIOCEXCL, and pyserial's ``exclusive=True``, which is a
``flock``), save its termios so ``close`` can put it back exactly as found
(CLOCAL included), then configure speed, framing and flow control (see
``wanminiport.transports.serial_open``).

I/O on a tty runs on the event loop with no thread: ``add_reader`` on the
fd, writes handed eagerly to ``os.write`` and the remainder flushed with
``os.writev`` from ``add_writer``.  pyserial URLs without a file descriptor
(``loop://``, ``rfc2217://``, ``spy://``) are driven through pyserial's own
``read``/``write`` by a reader and a writer thread that hand their results to
the loop.

A framer that knows how much of a frame is still to come may say so through
``defer_reading``: the reader is then suspended for that many bytes' line
time, so a busy line costs a few reads per frame rather than one per chunk
the UART or USB adapter delivers (the tty buffers the bytes meanwhile; the
wait is a lower bound on their arrival, so no frame completes later).

Modem-status inputs are polled with TIOCMGET every ``modem_poll_interval``
seconds when the port has them; a pty has none, which is detected at open
(``has_modem_lines`` is then False and DTR/RTS requests do nothing).

A read of EOF or EIO means the line is gone.  On a pty that is the far end
closing (HANGUP).  pyserial always sets CLOCAL, so a real tty only reads
EOF/EIO once the kernel has hung it up, which for a USB adapter means it was
unplugged (UNPLUGGED, as is ENODEV anywhere).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import fcntl
import itertools
import logging
import os
import queue
import struct
import termios
import threading
from typing import Any

import serial

from wanminiport.transports.base import (
    LineDownReason,
    ModemLines,
    TransportBase,
    TransportEvents,
    WriteDone,
)
from wanminiport.transports.lockfile import PortLock
from wanminiport.transports.serial_open import open_error, open_serial, uses_fd

log = logging.getLogger(__name__)

DEFAULT_MAX_BUFFERED = 64 * 1024
DEFAULT_MODEM_POLL_INTERVAL = 0.1
_READ_SIZE = 64 * 1024
#: Buffers gathered into one writev; well under Linux's IOV_MAX of 1024.
_WRITEV_BATCH = 64
#: UNIX98_PTY_SLAVE_MAJOR .. +7: /dev/pts/N.
_PTY_SLAVE_MAJORS = range(136, 144)
_THREAD_READ_TIMEOUT = 0.1
#: ``defer_reading`` wakes this much before the bytes are due (timer lateness).
_READ_DEFER_MARGIN = 0.001
#: Shorter deferrals are not worth a timer: the next chunk comes as soon.
_MIN_READ_DEFER = 0.002
#: The longest the reader is suspended, which bounds how late a line drop is seen.
_MAX_READ_DEFER = 0.25
_THREAD_JOIN_TIMEOUT = 1.0


class SerialTransport(TransportBase):
    """A pyserial port driven by the running asyncio loop.

    The port is open once the constructor returns (or it raised
    ``TransportError``); ``start`` begins delivering indications.  After a
    line-down indication ``is_open`` is False, but ``close`` is still needed
    to restore the port and release its lock.  ``close`` does not itself
    indicate ``line_down``: the owner knows.
    """

    def __init__(
        self,
        port: str,
        baudrate: int = 115200,
        *,
        bytesize: int = 8,
        parity: str = serial.PARITY_NONE,
        stopbits: float = serial.STOPBITS_ONE,
        rtscts: bool = False,
        xonxoff: bool = False,
        dtr: bool = True,
        rts: bool = True,
        lock: bool = True,
        lock_dir: str | None = None,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
        modem_poll_interval: float = DEFAULT_MODEM_POLL_INTERVAL,
    ) -> None:
        super().__init__()
        self.name = port
        self.baudrate = baudrate
        self.max_buffered = max_buffered
        self.modem_poll_interval = modem_poll_interval
        self._is_url = "://" in port
        self._lock: PortLock | None = None
        self._saved_termios: list[Any] | None = None
        # Writes not yet handed over: [remaining bytes, done] (fd path) and
        # (length, done) awaiting the writer thread (threaded path).
        self._queue: collections.deque[list[Any]] = collections.deque()
        self._thread_pending: collections.deque[tuple[int, WriteDone | None]] = collections.deque()
        self._buffered = 0
        self._lines = ModemLines()
        self._poll_handle: asyncio.TimerHandle | None = None
        self._read_resume: asyncio.TimerHandle | None = None
        bits = 1 + bytesize + (parity != serial.PARITY_NONE) + stopbits
        #: Line time of one character: start bit, data, parity and stop bits.
        self.seconds_per_byte = bits / baudrate if baudrate > 0 else 0.0
        self._threads: list[threading.Thread] = []
        self._tx_queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._stop_threads = threading.Event()

        settings = dict(
            baudrate=baudrate, bytesize=bytesize, parity=parity, stopbits=stopbits,
            rtscts=rtscts, xonxoff=xonxoff,
        )  # fmt: skip
        if not self._is_url:
            if not os.path.exists(port):
                raise open_error(port, FileNotFoundError(errno.ENOENT, "No such file", port))
            if lock:
                self._lock = PortLock(port, lock_dir)
                self._lock.acquire()
        try:
            self._serial, self._saved_termios = open_serial(
                port, settings, dtr=dtr, rts=rts, read_timeout=_THREAD_READ_TIMEOUT
            )
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        self._fd = self._serial.fileno() if uses_fd(self._serial) else -1
        self._is_pty = False
        if self._fd >= 0:
            self._is_pty = os.major(os.fstat(self._fd).st_rdev) in _PTY_SLAVE_MAJORS
            try:
                fcntl.ioctl(self._fd, termios.TIOCEXCL)
            except OSError as exc:
                log.debug("%s: TIOCEXCL refused: %s", port, exc)
        self.has_modem_lines = self._probe_modem_lines()

    # -- opening -------------------------------------------------------------

    def _probe_modem_lines(self) -> bool:
        try:
            self._lines = self._read_modem_lines()
        except (OSError, serial.SerialException):
            return False
        return True

    def _read_modem_lines(self) -> ModemLines:
        if self._fd < 0:
            s = self._serial
            return ModemLines(cd=s.cd, dsr=s.dsr, cts=s.cts, ri=s.ri)
        raw = fcntl.ioctl(self._fd, termios.TIOCMGET, struct.pack("i", 0))
        bits = struct.unpack("i", raw)[0]
        return ModemLines(
            cd=bool(bits & termios.TIOCM_CAR),
            dsr=bool(bits & termios.TIOCM_DSR),
            cts=bool(bits & termios.TIOCM_CTS),
            ri=bool(bits & termios.TIOCM_RNG),
        )

    # -- Transport -------------------------------------------------------------

    @property
    def buffered(self) -> int:
        return self._buffered

    def start(self, events: TransportEvents) -> None:
        self._begin(events)
        assert self._loop is not None
        if self._fd >= 0:
            self._loop.add_reader(self._fd, self._on_readable)
        else:
            for target in (self._reader_thread, self._writer_thread):
                thread = threading.Thread(target=target, name=f"serial {self.name}", daemon=True)
                thread.start()
                self._threads.append(thread)
        if self.has_modem_lines:
            self._poll_handle = self._loop.call_later(
                self.modem_poll_interval, self._poll_modem_lines
            )

    def write(self, data: bytes, done: WriteDone | None = None) -> None:
        loop = self._started_loop()
        if not self.is_open:
            self._complete_soon([done], False)
            return
        if self._buffered + len(data) > self.max_buffered:
            raise BufferError(
                f"{self.name}: writing {len(data)} bytes would exceed max_buffered="
                f"{self.max_buffered} ({self._buffered} buffered); wait for `buffered` to drop"
            )
        data = bytes(data)  # the caller may reuse its buffer once write returns
        if self._fd < 0:
            self._thread_pending.append((len(data), done))
            self._buffered += len(data)
            self._tx_queue.put(data)
            return
        if self._queue:
            self._queue.append([memoryview(data), done])
            self._buffered += len(data)
            return
        try:
            sent = os.write(self._fd, data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._queue.append([memoryview(data), done])
            self._line_went_down(self._reason_for(exc.errno), deferred=True)
            return
        if sent == len(data):
            self._complete_soon([done], True)
            return
        self._queue.append([memoryview(data)[sent:], done])
        self._buffered += len(data) - sent
        loop.add_writer(self._fd, self._flush)

    def defer_reading(self, octets: int) -> None:
        """Nothing useful can arrive before ``octets`` more bytes: stop reading till then.

        Only on the fd path (a tty's bytes cannot arrive faster than its
        line rate); the tty keeps what arrives meanwhile.  The wait ends a
        little before the bytes are due and never lasts over a quarter second.
        """
        loop = self._loop
        if (
            self._fd < 0
            or loop is None
            or self._read_resume is not None
            or not self.is_open
            or octets <= 0
        ):
            return
        delay = octets * self.seconds_per_byte - _READ_DEFER_MARGIN
        if delay < _MIN_READ_DEFER:
            return
        loop.remove_reader(self._fd)
        self._read_resume = loop.call_later(min(delay, _MAX_READ_DEFER), self._resume_reading)

    def _resume_reading(self) -> None:
        self._read_resume = None
        if self.is_open and self._loop is not None:
            self._loop.add_reader(self._fd, self._on_readable)

    def set_dtr(self, on: bool) -> None:
        if self.has_modem_lines and self.is_open:
            # A port that fails here is going away: the reader reports that.
            with contextlib.suppress(OSError, serial.SerialException):
                self._serial.dtr = on

    def set_rts(self, on: bool) -> None:
        if self.has_modem_lines and self.is_open:
            with contextlib.suppress(OSError, serial.SerialException):
                self._serial.rts = on

    def modem_lines(self) -> ModemLines:
        if self.has_modem_lines and self.is_open:
            # A failure here is left to the reader or the poll to report.
            with contextlib.suppress(OSError, serial.SerialException):
                self._lines = self._read_modem_lines()
        return self._lines

    def close(self) -> None:
        """Release the port: writes complete False, termios restored, lock removed.

        The original termios is put back at once (TCSANOW, since waiting for
        the output to drain could wait forever on a flow-controlled line):
        bytes still in the kernel's output queue leave at the restored
        settings, so a caller that cares lets ``buffered`` reach 0 and the
        line drain first.
        """
        if self._closed:
            return
        self._closed = True
        self._stop_io()
        self._fail_pending(deferred=True)
        self._stop_threads.set()
        if self._threads:
            self._tx_queue.put(None)
            with contextlib.suppress(AttributeError, NotImplementedError, OSError):
                self._serial.cancel_read()
            for thread in self._threads:
                thread.join(_THREAD_JOIN_TIMEOUT)
        if self._fd >= 0:
            if self._saved_termios is not None:
                try:
                    termios.tcsetattr(self._fd, termios.TCSANOW, self._saved_termios)
                except (termios.error, OSError) as exc:
                    log.debug("%s: could not restore termios: %s", self.name, exc)
            with contextlib.suppress(OSError):
                fcntl.ioctl(self._fd, termios.TIOCNXCL)
        try:
            self._serial.close()
        except (OSError, serial.SerialException) as exc:
            log.debug("%s: close: %s", self.name, exc)
        if self._lock is not None:
            self._lock.release()

    # -- the fd path -----------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._line_went_down(self._reason_for(exc.errno))
            return
        if not data:
            self._line_went_down(self._reason_for(None))
            return
        assert self._events is not None
        self._events.data_received(data)

    def _flush(self) -> None:
        finished: list[WriteDone | None] = []
        failed: int | None = None
        while self._queue:
            batch = [item[0] for item in itertools.islice(self._queue, _WRITEV_BATCH)]
            try:
                sent = os.writev(self._fd, batch)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                failed = exc.errno
                break
            self._buffered -= sent
            partial = sent < sum(map(len, batch))
            while sent:
                item = self._queue[0]
                if len(item[0]) > sent:
                    item[0] = item[0][sent:]
                    break
                sent -= len(item[0])
                finished.append(self._queue.popleft()[1])
            if partial:
                break  # the OS buffer is full: wait until writable again
        if not self._queue and failed is None and self.is_open and self._loop is not None:
            self._loop.remove_writer(self._fd)
        # Completions keep write order: these went out before any failure.
        for done in finished:
            if done is not None:
                self._complete([done], True)
        if failed is not None:
            self._line_went_down(self._reason_for(failed))

    # -- the threaded path (pyserial URLs without an fd) ---------------------

    def _reader_thread(self) -> None:
        ser, loop = self._serial, self._loop
        assert loop is not None
        try:
            while not self._stop_threads.is_set():
                data = ser.read(max(1, ser.in_waiting))
                if data and not self._stop_threads.is_set():
                    loop.call_soon_threadsafe(self._deliver, data)
        except Exception as exc:  # any pyserial backend's failure ends the line
            if not self._stop_threads.is_set():
                log.debug("%s: read failed: %s", self.name, exc)
                self._thread_failed(loop)

    def _writer_thread(self) -> None:
        ser, loop = self._serial, self._loop
        assert loop is not None
        while (data := self._tx_queue.get()) is not None:
            try:
                ser.write(data)
            except Exception as exc:  # any pyserial backend's failure ends the line
                if not self._stop_threads.is_set():
                    log.debug("%s: write failed: %s", self.name, exc)
                    self._thread_failed(loop)
                return
            try:
                loop.call_soon_threadsafe(self._thread_wrote)
            except RuntimeError:
                return  # the loop is closed

    def _thread_failed(self, loop: asyncio.AbstractEventLoop) -> None:
        with contextlib.suppress(RuntimeError):  # the loop may be closed already
            loop.call_soon_threadsafe(self._line_went_down, LineDownReason.HANGUP)

    def _deliver(self, data: bytes) -> None:
        if self.is_open and self._events is not None:
            self._events.data_received(data)

    def _thread_wrote(self) -> None:
        if not self.is_open or not self._thread_pending:
            return  # already completed with False
        length, done = self._thread_pending.popleft()
        self._buffered -= length
        if done is not None:
            self._complete([done], True)

    # -- modem lines, line down, completion ----------------------------------

    def _poll_modem_lines(self) -> None:
        self._poll_handle = None
        try:
            lines = self._read_modem_lines()
        except (OSError, serial.SerialException) as exc:
            self._line_went_down(self._reason_for(getattr(exc, "errno", None)))
            return
        if lines != self._lines:
            self._lines = lines
            assert self._events is not None
            self._events.modem_lines_changed(lines)
        if self.is_open and self._loop is not None:
            self._poll_handle = self._loop.call_later(
                self.modem_poll_interval, self._poll_modem_lines
            )

    def _reason_for(self, err: int | None) -> LineDownReason:
        if err == errno.ENODEV or (self._fd >= 0 and not self._is_pty):
            return LineDownReason.UNPLUGGED
        return LineDownReason.HANGUP

    def _line_went_down(self, reason: LineDownReason, *, deferred: bool = False) -> None:
        """The one place a line goes down: stop I/O, fail writes, indicate once."""
        if not self._mark_down():
            return
        log.info("%s: line down (%s)", self.name, reason.value)
        self._stop_io()
        self._fail_pending(deferred=deferred)
        events = self._events
        assert events is not None
        if deferred:
            self._soon(events.line_down, reason)
        else:
            events.line_down(reason)

    def _stop_io(self) -> None:
        loop = self._loop
        if self._poll_handle is not None:
            self._poll_handle.cancel()
            self._poll_handle = None
        if self._read_resume is not None:
            self._read_resume.cancel()
            self._read_resume = None
        if loop is not None and self._fd >= 0 and not loop.is_closed():
            loop.remove_reader(self._fd)
            loop.remove_writer(self._fd)

    def _fail_pending(self, *, deferred: bool) -> None:
        dones = [item[1] for item in self._queue] + [item[1] for item in self._thread_pending]
        self._queue.clear()
        self._thread_pending.clear()
        self._buffered = 0
        if deferred:
            self._complete_soon(dones, False)
        else:
            self._complete(dones, False)
