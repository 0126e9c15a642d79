"""Modem signaling on the event loop: the Hayes machine or a chat script over a Transport.

``ModemSignaling`` is the ``TransportEvents`` receiver of one port while the
call is being set up or torn down.  It feeds received bytes to the
``HayesDialer`` (``dial``, ``answer``, ``hangup``, ``command``) or to a
``ChatInterpreter`` (``run_chat``), performs their actions and arms their
timers with the loop's clock.

After CONNECT (or a chat script that succeeded) the line is in data mode:
signaling stops consuming bytes and ``handover(events)`` passes them, the
bytes that came right after the CONNECT line first, to the data owner
(the framer).  In data mode it watches for carrier loss: CD dropping on a
port that has modem lines, the transport going down, and -- only when
``detect_no_carrier_text`` is set, for ports without CD such as ptys -- the
modem's ``NO CARRIER`` line in the data stream.

Every request that waits completes exactly once, through the awaited
coroutine: a result, ``CallFailedError`` or ``SignalingTimeout``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from wanminiport.coretimer import CoreTimer
from wanminiport.mcm.chat import (
    ChatInterpreter,
    ChatOutput,
    Finished,
    Report,
    Say,
    SendBreak,
)
from wanminiport.mcm.chat_script import DEFAULT_TIMEOUT as CHAT_DEFAULT_TIMEOUT
from wanminiport.mcm.chat_script import visible
from wanminiport.mcm.hayes import (
    DEFAULT_INIT,
    CallFailed,
    CarrierLost,
    CommandDone,
    Connected,
    HayesDialer,
    HayesTimings,
    HungUp,
    Output,
    Ring,
    SetDtr,
    Stage,
    Timeout,
)
from wanminiport.mcm.results import ModemResult
from wanminiport.sansio import LogLine, Transmit
from wanminiport.transports.base import LineDownReason, ModemLines, Transport, TransportEvents

log = logging.getLogger(__name__)

#: Data-mode bytes kept until the owner takes the line with ``handover``.
MAX_BACKLOG = 65536
_NO_CARRIER_LINE = b"\nNO CARRIER\r"


@dataclass(frozen=True)
class ConnectResult:
    """A call in data mode: the CONNECT line and what it said."""

    text: str
    rate: int | None = None
    details: tuple[str, ...] = ()


class SignalingError(Exception):
    """A request could not complete (line down, closed, or busy with another)."""


class CallFailedError(SignalingError):
    """The modem answered a dial or answer with a failure result (BUSY, NO CARRIER, ...)."""

    def __init__(self, result: ModemResult) -> None:
        super().__init__(f"call failed: {result.text}")
        self.result = result


class SignalingTimeout(SignalingError):
    def __init__(self, stage: Stage) -> None:
        super().__init__(f"modem did not answer in time ({stage.value})")
        self.stage = stage


#: The most of a chat ``@file`` send string that is read (a password, a long init).
MAX_SEND_FILE = 4096


def read_send_file(path: str) -> str:
    """chat's ``@/path`` send string: the file's text, read when it is sent."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read(MAX_SEND_FILE)


class ModemSignaling:
    """Call set-up and tear-down on one transport."""

    def __init__(
        self,
        transport: Transport,
        *,
        timings: HayesTimings | None = None,
        detect_no_carrier_text: bool = False,
    ) -> None:
        self.transport = transport
        self.dialer = HayesDialer(timings)
        self.detect_no_carrier_text = detect_no_carrier_text
        #: Called with the ring count on every RING while answering.
        self.on_ring: Callable[[int], None] | None = None
        #: Called once when a data-mode call loses its carrier.
        self.on_carrier_lost: Callable[[], None] | None = None
        #: Called with every chat output (logs, SAY, REPORT, echo).
        self.on_chat_output: Callable[[ChatOutput], None] | None = None
        #: Called with what a chat script says to the user (SAY) and reports (REPORT),
        #: which chat writes to its stderr whether or not it is verbose.
        self.on_message: Callable[[str], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: The dialer's timer; a running chat script has its own (``_chat_timer``).
        self._dialer_timer = CoreTimer(self.dialer, self._drain)
        self._chat_timer: CoreTimer | None = None
        self._waiter: asyncio.Future[object] | None = None
        self._chat: ChatInterpreter | None = None
        self._data_mode = False
        self._sink: TransportEvents | None = None
        self._backlog = bytearray()
        self._tail = b""
        self._cd_seen = False
        self._accept: Callable[[int], bool] | None = None
        self._min_rings = 1
        self._down = False

    # -- setup -------------------------------------------------------------

    def start(self) -> None:
        """Take the transport's indications (call once, on the running loop)."""
        self._loop = asyncio.get_running_loop()
        self._dialer_timer = CoreTimer(self.dialer, self._drain, self._loop)
        self.transport.start(self)

    def close(self) -> None:
        """Stop timers and fail a pending request; the transport stays open."""
        self._cancel_timer()
        self._fail(SignalingError("signaling closed"))
        self._down = True

    @property
    def online(self) -> bool:
        return self._data_mode

    # -- requests ----------------------------------------------------------

    async def dial(
        self,
        number: str,
        *,
        init: Sequence[str] = DEFAULT_INIT,
        pulse: bool = False,
        timeout: float | None = None,
    ) -> ConnectResult:
        """Dial ``number``; returns once the line is in data mode."""
        waiter = self._begin()
        self.dialer.dial(number, self._now(), init=init, pulse=pulse, timeout=timeout)
        return await self._connect_wait(waiter)

    async def answer(
        self,
        *,
        init: Sequence[str] = DEFAULT_INIT,
        auto_rings: int = 0,
        rings: int = 1,
        accept: Callable[[int], bool] | None = None,
        timeout: float | None = None,
    ) -> ConnectResult:
        """Wait for a call and answer it.

        ``auto_rings`` > 0 lets the modem answer by itself (ATS0=n).
        Otherwise we answer (ATA) once ``rings`` rings were counted and
        ``accept(count)`` (if given) agrees.  ``timeout`` bounds the wait
        for the first ring; ``None`` listens until cancelled.
        """
        waiter = self._begin()
        self._accept = accept
        self._min_rings = max(1, rings)
        self.dialer.answer(self._now(), init=init, auto_rings=auto_rings, ring_timeout=timeout)
        return await self._connect_wait(waiter)

    async def command(
        self, text: str, *, timeout: float | None = None
    ) -> tuple[ModemResult, tuple[str, ...]]:
        """Send one AT command; its final result and information lines."""
        waiter = self._begin()
        self.dialer.command(text, self._now(), timeout=timeout)
        self._drain()
        result = await waiter
        assert isinstance(result, CommandDone)
        return result.result, result.info

    async def hangup(self) -> None:
        """Go on-hook: DTR drop where the port has DTR, else ``+++`` and ATH."""
        if self._waiter is not None and not self._waiter.done():
            self._fail(SignalingError("hung up"))
            self._waiter = None
        self._leave_data_mode()
        waiter = self._begin(need_idle=False)
        self.dialer.hangup(self._now(), use_dtr=self.transport.has_modem_lines)
        self._drain()
        await waiter

    async def run_chat(
        self,
        words: Sequence[str],
        *,
        timeout: float = CHAT_DEFAULT_TIMEOUT,
        phone: str | None = None,
        phone2: str | None = None,
        echo: bool = False,
        char_delay: float = 0.0,
    ) -> int:
        """Run a chat script; chat's exit code.  0 puts the line in data mode."""
        waiter = self._begin()
        chat = ChatInterpreter(
            words,
            timeout=timeout,
            phone=phone,
            phone2=phone2,
            echo=echo,
            char_delay=char_delay,
            read_file=read_send_file,
        )
        self._chat = chat
        self._chat_timer = CoreTimer(chat, self._drain_chat, self._loop)
        chat.start(self._now())
        self._drain_chat()
        try:
            code = await waiter
        finally:
            self._chat_timer.cancel()
            self._chat, self._chat_timer = None, None
        assert isinstance(code, int)
        return code

    def handover(self, events: TransportEvents) -> None:
        """Give the data-mode line to ``events`` (the framer's receiver)."""
        if not self._data_mode:
            raise SignalingError("the line is not in data mode")
        self._sink = events
        backlog, self._backlog = bytes(self._backlog), bytearray()
        if backlog:
            events.data_received(backlog)

    # -- TransportEvents ---------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._data_mode:
            self._data_bytes(data)
        elif self._chat is not None:
            self._chat.receive_data(data, self._now())
            self._drain_chat()
        else:
            # The modem's side of the dialogue, for --debug (chat -v shows the same).
            log.info("%s: rcvd (%s)", self.transport.name, visible(data))
            self.dialer.receive_data(data, self._now())
            self._drain()

    def line_down(self, reason: LineDownReason) -> None:
        self._down = True
        self._cancel_timer()
        sink, was_online = self._sink, self._data_mode
        self._leave_data_mode()
        if self._chat is not None:
            self._chat.hangup(self._now())
            if not self._chat.done:
                self._chat.io_error(self._now(), f"line down: {reason.value}")
            self._drain_chat()
        self.dialer.carrier_lost(self._now())
        self._drain()
        self._fail(SignalingError(f"line down: {reason.value}"))
        if was_online and sink is not None:
            sink.line_down(reason)

    def modem_lines_changed(self, lines: ModemLines) -> None:
        if self._data_mode and self._sink is not None:
            self._sink.modem_lines_changed(lines)
        if not (self._data_mode and self.transport.has_modem_lines):
            return
        if lines.cd:
            self._cd_seen = True
        elif self._cd_seen:
            self._carrier_lost()

    # -- internals ---------------------------------------------------------

    def _begin(self, *, need_idle: bool = True) -> asyncio.Future[object]:
        if self._down:
            raise SignalingError("line is down")
        if self._waiter is not None and not self._waiter.done():
            raise SignalingError("another modem request is in progress")
        if need_idle and self._data_mode:
            raise SignalingError("the line is in data mode: hang up first")
        if need_idle and self.dialer.stage is not Stage.IDLE:
            raise SignalingError(f"the modem is busy ({self.dialer.stage.value}): hang up first")
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._waiter = self._loop.create_future()
        return self._waiter

    async def _connect_wait(self, waiter: asyncio.Future[object]) -> ConnectResult:
        self._drain()
        try:
            result = await waiter
        except asyncio.CancelledError:
            # The caller gave up: put the modem back on-hook in the background.
            if not self._down:
                self._leave_data_mode()
                self.dialer.hangup(self._now(), use_dtr=self.transport.has_modem_lines)
                self._drain()
            raise
        assert isinstance(result, ConnectResult)
        return result

    def _drain(self) -> None:
        while outputs := self.dialer.drain():
            for output in outputs:
                self._perform(output)
        if not self._down:
            self._dialer_timer.rearm()

    def _perform(self, output: Output) -> None:
        if isinstance(output, Transmit):
            log.info("%s: send (%s)", self.transport.name, visible(output.data))
            self.transport.write(output.data)
        elif isinstance(output, SetDtr):
            self.transport.set_dtr(output.on)
        elif isinstance(output, Connected):
            self._enter_data_mode(output.early_data)
            self._resolve(ConnectResult(output.result.text, output.rate, output.result.details))
        elif isinstance(output, Ring):
            self._on_ring(output.count)
        elif isinstance(output, CallFailed):
            self._fail(CallFailedError(output.result))
        elif isinstance(output, Timeout):
            self._fail(SignalingTimeout(output.stage))
        elif isinstance(output, HungUp | CommandDone):
            self._resolve(output)
        elif isinstance(output, CarrierLost) and self.on_carrier_lost is not None:
            self.on_carrier_lost()

    def _on_ring(self, count: int) -> None:
        if self.on_ring is not None:
            self.on_ring(count)
        if self.dialer.stage is not Stage.RINGING or count < self._min_rings:
            return
        if self._accept is None or self._accept(count):
            self.dialer.accept(self._now())

    def _drain_chat(self) -> None:
        chat = self._chat
        if chat is None:
            return
        for output in chat.drain():
            if isinstance(output, Transmit):
                self.transport.write(output.data)
            elif isinstance(output, SendBreak):
                send_break = getattr(self.transport, "send_break", None)
                if callable(send_break):
                    send_break()
                else:
                    log.info(
                        "%s: BREAK requested; the transport cannot send one", self.transport.name
                    )
            elif isinstance(output, LogLine):
                log.info("%s: chat: %s", self.transport.name, output.text)
            elif isinstance(output, Say | Report):
                text = output.text.strip()
                if self.on_message is not None and text:
                    # chat prefixes what it reports, not what it says.
                    self.on_message(f"chat: {text}" if isinstance(output, Report) else text)
            elif isinstance(output, Finished):
                if output.exit_code == 0:
                    self.dialer.assume_online()
                    self._enter_data_mode(chat.leftover)
                self._resolve(output.exit_code)
            if self.on_chat_output is not None:
                self.on_chat_output(output)
        if self._chat_timer is not None and not chat.done and not self._down:
            self._chat_timer.rearm()

    def _enter_data_mode(self, early: bytes) -> None:
        self._data_mode = True
        self._sink = None
        self._backlog = bytearray()
        self._tail = b""
        self._cd_seen = self.transport.has_modem_lines and self.transport.modem_lines().cd
        if early:
            self._data_bytes(early)

    def _leave_data_mode(self) -> None:
        self._data_mode = False
        self._sink = None
        self._backlog = bytearray()

    def _data_bytes(self, data: bytes) -> None:
        if self._sink is not None:
            self._sink.data_received(data)
        elif len(self._backlog) + len(data) <= MAX_BACKLOG:
            self._backlog += data
        else:
            log.debug("%s: data before handover dropped (%d bytes)", self.transport.name, len(data))
        if self.detect_no_carrier_text and self._data_mode:
            window = self._tail + data
            if _NO_CARRIER_LINE in window:
                self._carrier_lost()
                return
            self._tail = window[-len(_NO_CARRIER_LINE) :]

    def _carrier_lost(self) -> None:
        sink = self._sink
        self._leave_data_mode()
        self.dialer.carrier_lost(self._now())
        self._drain()
        if sink is not None:
            sink.line_down(LineDownReason.CARRIER_LOST)

    def _cancel_timer(self) -> None:
        self._dialer_timer.cancel()
        if self._chat_timer is not None:
            self._chat_timer.cancel()

    def _resolve(self, value: object) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(value)

    def _fail(self, error: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _now(self) -> float:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop.time()
