"""UsbCdcTransport: a USB CDC-ACM device driven directly through pyusb (libusb).

The kernel's cdc_acm driver would make the device a tty (``/dev/ttyACM0``)
and ``SerialTransport`` could open that; this transport talks to the device
itself instead, for systems without cdc_acm, for devices cdc_acm mishandles,
and to see the SERIAL_STATE notifications and line coding first-hand.  The
constructor opens the device (``AcmDevice``: lock, detach cdc_acm, claim),
sets the line coding and DTR/RTS; ``close`` gives the device back to cdc_acm.

pyusb blocks, so three threads do the I/O and hand results to the event
loop with ``call_soon_threadsafe``: a reader on the bulk IN endpoint, a
notifier on the interrupt IN endpoint (SERIAL_STATE gives CD, DSR and RI),
and a writer that drains the write queue into bulk OUT transfers, adding a
zero-length packet when a transfer ends on a full packet.  Every buffer is
bounded: ``write`` raises BufferError beyond ``max_buffered``, and the
reader stops reading (the device is then NAKed, which is USB's flow
control) while ``max_backlog`` bytes wait for the loop.

A device that goes away -- LIBUSB_ERROR_NO_DEVICE, a stall that cannot be
cleared, any other failed transfer -- gives exactly one
``line_down(UNPLUGGED)``, after every pending write has completed with
False.  Each write's completion runs on the loop exactly once.
"""

from __future__ import annotations

import array
import collections
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import usb.core

from wanminiport.exitcodes import ExitCode
from wanminiport.transports.base import (
    LineDownReason,
    ModemLines,
    TransportBase,
    TransportError,
    TransportEvents,
    WriteDone,
)
from wanminiport.transports.usb_cdc import (
    SERIAL_STATE,
    LineCoding,
    NotificationReassembler,
    SerialState,
    UsbPortSpec,
    needs_zero_length_packet,
)
from wanminiport.transports.usb_device import AcmDevice, UsbIoError, is_interrupted, is_stall

log = logging.getLogger(__name__)

DEFAULT_MAX_BUFFERED = 64 * 1024
DEFAULT_MAX_BACKLOG = 256 * 1024
#: Threads wake this often to notice close(); pyusb returns the bytes that
#: moved before a timeout, so a short timeout loses nothing.
IO_TIMEOUT_MS = 100
_TRANSFER_SIZE = 16 * 1024
_MAX_RETRIES = 3
_JOIN_TIMEOUT = 2.0


class _PendingWrite:
    __slots__ = ("data", "done", "sent")

    def __init__(self, data: bytes, done: WriteDone | None) -> None:
        self.data = data
        self.done = done
        self.sent = 0


class UsbCdcTransport(TransportBase):
    """A CDC-ACM device through pyusb, driven by the running asyncio loop.

    The device is open once the constructor returns (or it raised
    ``TransportError``); ``start`` starts the I/O threads.  As with
    ``SerialTransport``, ``close`` does not indicate ``line_down`` itself.
    """

    def __init__(
        self,
        port: str | UsbPortSpec,
        baudrate: int = 115200,
        *,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        dtr: bool = True,
        rts: bool = True,
        acm_function: int = 0,
        lock: bool = True,
        lock_dir: str | None = None,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
        max_backlog: int = DEFAULT_MAX_BACKLOG,
        backend: Any = None,
    ) -> None:
        super().__init__()
        self.spec = port if isinstance(port, UsbPortSpec) else UsbPortSpec.parse(port)
        self.name = str(self.spec)
        try:
            self._coding = LineCoding(baudrate, bytesize, parity, stopbits)
        except ValueError as exc:
            raise TransportError(f"{self.name}: {exc}", ExitCode.OPTION_ERROR) from exc
        self.baudrate = baudrate
        self.max_buffered = max_buffered
        self.max_backlog = max_backlog
        self._dtr, self._rts = dtr, rts
        self._cond = threading.Condition()
        self._queue: collections.deque[_PendingWrite] = collections.deque()
        self._buffered = 0
        self._backlog = bytearray()
        self._deliver_scheduled = False
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._lines = ModemLines(cts=True)
        self._pending_state: SerialState | None = None
        #: Why the line went down, for messages (None while it is up).
        self.failure: str | None = None
        #: Counters for ``status`` and tests.
        self.counters: dict[str, int] = collections.defaultdict(int)

        self.acm = AcmDevice(self.spec, acm_function=acm_function, lock=lock,
                             lock_dir=lock_dir, backend=backend)  # fmt: skip
        self.function = self.acm.function
        self.max_packet = self.function.bulk_out_max_packet or 64
        self.has_modem_lines = self.function.notify_in is not None
        try:
            try:
                self.set_line_coding(self._coding)
            except UsbIoError as exc:
                if exc.unplugged:
                    raise
                # Some modems refuse line coding (it means nothing to them); go on.
                log.info("%s: %s", self.name, exc)
            self._send_control_lines()
        except BaseException:
            self.acm.release()
            raise

    # -- class requests (on the caller's thread; short and bounded) ----------

    def set_line_coding(self, coding: LineCoding) -> None:
        """SET_LINE_CODING; its baud rate becomes the line's nominal speed."""
        self._request(self.acm.set_line_coding, coding)
        self._coding = coding
        self.baudrate = coding.baudrate

    def get_line_coding(self) -> LineCoding:
        """GET_LINE_CODING: what the device says it runs at."""
        coding: LineCoding = self._request(self.acm.get_line_coding)
        return coding

    def send_break(self, milliseconds: int = 250) -> None:
        self._request(self.acm.send_break, milliseconds)

    def _send_control_lines(self) -> None:
        try:
            self._request(self.acm.set_control_lines, self._dtr, self._rts)
        except UsbIoError as exc:
            if exc.unplugged and self._events is None:
                raise  # still opening: the caller learns it from the exception
            if not exc.unplugged:
                log.info("%s: SET_CONTROL_LINE_STATE refused: %s", self.name, exc)

    def _request(self, request: Callable[..., Any], *args: Any) -> Any:
        try:
            return request(*args)
        except UsbIoError as exc:
            if exc.unplugged and self._events is not None:
                self._fail(str(exc))
            raise

    def describe(self) -> str:
        return self.acm.describe()

    # -- Transport -------------------------------------------------------------

    @property
    def buffered(self) -> int:
        return self._buffered

    @property
    def line_coding(self) -> LineCoding:
        """The line coding last set (``get_line_coding`` asks the device)."""
        return self._coding

    def start(self, events: TransportEvents) -> None:
        self._begin(events)
        targets: list[Callable[[], None]] = [self._reader_main, self._writer_main]
        if self.function.notify_in is not None:
            targets.append(self._notifier_main)
        for target in targets:
            thread = threading.Thread(target=target, name=f"{self.name} {target.__name__}",
                                      daemon=True)  # fmt: skip
            thread.start()
            self._threads.append(thread)

    def write(self, data: bytes, done: WriteDone | None = None) -> None:
        self._started_loop()
        if not data and self.is_open:
            self._complete_soon([done], True)
            return
        with self._cond:
            if self._stopping:  # checked under the lock: a thread may be failing the queue
                self._complete_soon([done], False)
                return
            if self._buffered + len(data) > self.max_buffered:
                raise BufferError(
                    f"{self.name}: writing {len(data)} bytes would exceed max_buffered="
                    f"{self.max_buffered} ({self._buffered} buffered); wait for `buffered` to drop"
                )
            self._queue.append(_PendingWrite(bytes(data), done))
            self._buffered += len(data)
            self._cond.notify_all()

    def set_dtr(self, on: bool) -> None:
        self._dtr = on
        if self.is_open:
            self._send_control_lines()

    def set_rts(self, on: bool) -> None:
        self._rts = on
        if self.is_open:
            self._send_control_lines()

    def modem_lines(self) -> ModemLines:
        return self._lines

    def close(self) -> None:
        if self._closed:
            return
        with self._cond:
            self._closed = True
            self._stopping = True
            failed = self._take_pending()
            self._cond.notify_all()
        self._complete_soon(failed, False)
        for thread in self._threads:
            thread.join(_JOIN_TIMEOUT)
            if thread.is_alive():
                log.warning("%s: %s did not stop in time", self.name, thread.name)
        self.acm.release()

    # -- the I/O threads -------------------------------------------------------

    def _reader_main(self) -> None:
        endpoint = self.function.bulk_in
        packet = self.function.bulk_in_max_packet or 64
        buffer = array.array("B", bytes(max(packet, _TRANSFER_SIZE // packet * packet)))
        view = memoryview(buffer)
        stalls = 0
        while True:
            with self._cond:
                while len(self._backlog) >= self.max_backlog and not self._stopping:
                    self._cond.wait(IO_TIMEOUT_MS / 1000)
                if self._stopping:
                    return
            try:
                count = self.acm.read(endpoint, buffer, IO_TIMEOUT_MS)
            except usb.core.USBTimeoutError:
                continue
            except usb.core.USBError as exc:
                stalls += 1
                if not self._recover(exc, endpoint, stalls, "bulk IN"):
                    return
                continue
            stalls = 0
            if not count:
                continue
            self.counters["bytes_in"] += count
            self.counters["transfers_in"] += 1
            with self._cond:
                self._backlog += view[:count]
                schedule = not self._deliver_scheduled
                self._deliver_scheduled = True
            if schedule:
                self._post(self._deliver)

    def _notifier_main(self) -> None:
        endpoint = self.function.notify_in
        assert endpoint is not None
        size = max(64, self.function.notify_max_packet)
        buffer = array.array("B", bytes(size))
        reassembler = NotificationReassembler()
        stalls = 0
        while not self._stopping:
            try:
                count = self.acm.read(endpoint, buffer, IO_TIMEOUT_MS)
            except usb.core.USBTimeoutError:
                continue
            except usb.core.USBError as exc:
                stalls += 1
                if not self._recover(exc, endpoint, stalls, "interrupt IN"):
                    return
                continue
            stalls = 0
            for notification in reassembler.feed(bytes(buffer[:count])):
                self.counters["notifications"] += 1
                if notification.code == SERIAL_STATE:
                    try:
                        state = SerialState.from_notification(notification)
                    except ValueError:
                        self.counters["notifications_malformed"] += 1
                        continue
                    self._count_line_errors(state)
                    # Only the latest state waits for the loop: a device that
                    # floods notifications costs one pending callback, not a queue.
                    with self._cond:
                        schedule = self._pending_state is None
                        self._pending_state = state
                    if schedule:
                        self._post(self._serial_state)
            self.counters["notifications_discarded"] = reassembler.discarded

    def _writer_main(self) -> None:
        endpoint = self.function.bulk_out
        stalls = 0
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                transfer = bytearray()
                for item in self._queue:
                    transfer += memoryview(item.data)[item.sent : item.sent + _TRANSFER_SIZE
                                                      - len(transfer)]  # fmt: skip
                    if len(transfer) >= _TRANSFER_SIZE:
                        break
            try:
                sent = self.acm.write(endpoint, transfer, IO_TIMEOUT_MS)
            except usb.core.USBTimeoutError:
                continue  # the device is flow-controlling us: nothing went
            except usb.core.USBError as exc:
                stalls += 1
                if not self._recover(exc, endpoint, stalls, "bulk OUT"):
                    return
                continue
            stalls = 0
            if sent == len(transfer) and needs_zero_length_packet(sent, self.max_packet):
                # Without it a device waiting for a short packet would sit on this data.
                try:
                    self.acm.write(endpoint, b"", IO_TIMEOUT_MS)
                    self.counters["zero_length_packets"] += 1
                except usb.core.USBTimeoutError:
                    pass  # the data itself went; the next transfer ends it
                except usb.core.USBError as exc:
                    if not self._recover(exc, endpoint, 1, "bulk OUT"):
                        return
            self.counters["bytes_out"] += sent
            self.counters["transfers_out"] += 1
            completed: list[WriteDone] = []
            with self._cond:
                if self._stopping:
                    return  # close() or a failure has completed every write already
                self._buffered -= sent
                while sent and self._queue:
                    head = self._queue[0]
                    step = min(sent, len(head.data) - head.sent)
                    head.sent += step
                    sent -= step
                    if head.sent == len(head.data):
                        self._queue.popleft()
                        if head.done is not None:
                            completed.append(head.done)
                if completed:
                    # Posted under the lock, so a failure that follows is indicated after.
                    self._post(self._complete, completed, True)

    def _recover(self, exc: usb.core.USBError, endpoint: int, attempts: int, where: str) -> bool:
        """After a failed transfer: True to retry, False when the line is down."""
        if self._stopping:
            return False
        if is_interrupted(exc) and attempts <= _MAX_RETRIES:
            return True
        if is_stall(exc) and attempts <= _MAX_RETRIES:
            try:
                self.acm.clear_halt(endpoint)
                self.counters["stalls_cleared"] += 1
                return True
            except usb.core.USBError as clear_exc:
                exc = clear_exc
        self._fail(f"{where}: {exc}")
        return False

    def _take_pending(self) -> list[WriteDone]:
        """Every queued write's callback, removed from the queue (call with the lock held)."""
        dones = [item.done for item in self._queue if item.done is not None]
        self._queue.clear()
        self._buffered = 0
        return dones

    def _fail(self, detail: str) -> None:
        """The one way down: from any thread, at most once, completions first."""
        with self._cond:
            if not self._mark_down():
                return
            self._stopping = True
            self.failure = detail
            failed = self._take_pending()
            self._cond.notify_all()
            self._post(self._indicate_down, failed)
        log.info("%s: line down (unplugged): %s", self.name, detail)

    # -- on the loop -----------------------------------------------------------

    def _post(self, callback: Callable[..., object], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            loop.call_soon_threadsafe(callback, *args)

    def _deliver(self) -> None:
        with self._cond:
            data = bytes(self._backlog)
            self._backlog.clear()
            self._deliver_scheduled = False
            self._cond.notify_all()
        if data and not self._closed and self._events is not None:
            self._events.data_received(data)

    def _count_line_errors(self, state: SerialState) -> None:
        errors = {"breaks": state.break_detected, "framing_errors": state.framing_error,
                  "parity_errors": state.parity_error, "overruns": state.overrun}  # fmt: skip
        for counter, flag in errors.items():
            if flag:
                self.counters[counter] += 1

    def _serial_state(self) -> None:
        with self._cond:
            state, self._pending_state = self._pending_state, None
        if state is None or not self.is_open:
            return
        lines = state.modem_lines()
        if lines == self._lines:
            return
        self._lines = lines
        assert self._events is not None
        self._events.modem_lines_changed(lines)

    def _indicate_down(self, failed: list[WriteDone]) -> None:
        # Bytes that arrived before the failure still belong to the caller.
        self._deliver()
        self._complete(failed, False)
        if not self._closed and self._events is not None:
            self._events.line_down(LineDownReason.UNPLUGGED)
