"""The host side of a Hayes modem: dial, answer, hang up (ITU-T V.250).

``HayesDialer`` is a sans-I/O state machine in the style of aioquic: the
caller feeds it received bytes and the time (``receive_data``), fires its
timer (``handle_timer``), asks it to act (``dial``, ``answer``, ``accept``,
``hangup``, ``command``) and drains ``drain()``: *actions* to perform
(``Transmit``, ``SetDtr``) and *events* that happened
(``Connected``, ``Ring``, ``CallFailed``, ``CarrierLost``, ``Timeout``, ...).

Every wait has a deadline: per command, for the dial, for the answer, for
the gap between two rings.  Only ``answer`` without a ``ring_timeout`` waits
open-ended for the first ring, as a listening port must.

Stages and what moves them::

    IDLE --dial--> INIT --OK...--> DIALING --CONNECT--> ONLINE
    IDLE --answer--> INIT --OK...--> AWAIT_RING --RING--> RINGING
        --accept--> ANSWERING --CONNECT--> ONLINE
    (auto-answer: AWAIT_RING --RING x S0 ... CONNECT--> ONLINE)
    ONLINE --hangup, DTR--> HANGUP_DTR --> HANGUP_ATH --OK--> IDLE
    ONLINE --hangup, no DTR--> HANGUP_GUARD --+++--> HANGUP_ESCAPE
        --OK--> HANGUP_ATH --OK--> IDLE
    DIALING/ANSWERING --hangup--> HANGUP_ABORT --result--> HANGUP_ATH

Protocol core: no I/O; it speaks ``wanminiport.sansio``'s contract.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import wanminiport.mcm.commands as commands
from wanminiport.mcm.results import (
    InfoLine,
    ModemResult,
    ParsedLine,
    ResultCode,
    ResultParser,
)
from wanminiport.sansio import LocalProtocolError, Transmit

#: What ``dial`` and ``answer`` send first: reset, then words, results on,
#: CD follows the carrier, DTR drop hangs up.
DEFAULT_INIT: tuple[str, ...] = ("ATZ", "ATQ0V1E1&C1&D2")


class Stage(enum.Enum):
    IDLE = "idle"
    INIT = "init"
    DIALING = "dialing"
    AWAIT_RING = "await ring"
    RINGING = "ringing"
    ANSWERING = "answering"
    ONLINE = "online"
    COMMAND = "command"
    HANGUP_ABORT = "hangup abort"
    HANGUP_DTR = "hangup dtr"
    HANGUP_GUARD = "hangup guard"
    HANGUP_ESCAPE = "hangup escape"
    HANGUP_ATH = "hangup ath"


_HANGUP_STAGES = frozenset(
    {
        Stage.HANGUP_ABORT,
        Stage.HANGUP_DTR,
        Stage.HANGUP_GUARD,
        Stage.HANGUP_ESCAPE,
        Stage.HANGUP_ATH,
    }
)


@dataclass(frozen=True)
class HayesTimings:
    """Deadlines, in seconds."""

    command: float = 5.0
    dial: float = 90.0
    answer: float = 60.0
    #: A caller who stopped ringing for this long has given up (rings come
    #: every 6 s on most exchanges).
    ring_gap: float = 10.0
    #: The escape guard time: silence before and after ``+++`` (S12).
    guard: float = commands.DEFAULT_GUARD_TIME
    #: How long DTR stays low to make the modem hang up.
    dtr_hold: float = 0.5


# -- actions ---------------------------------------------------------------


@dataclass(frozen=True)
class SetDtr:
    on: bool


# -- events ----------------------------------------------------------------


@dataclass(frozen=True)
class Connected:
    """CONNECT: the line is in data mode.  ``early_data`` followed the result."""

    result: ModemResult
    early_data: bytes = b""

    @property
    def rate(self) -> int | None:
        return self.result.rate


@dataclass(frozen=True)
class Ring:
    count: int
    result: ModemResult


@dataclass(frozen=True)
class RingingStopped:
    """The caller gave up before we answered."""


@dataclass(frozen=True)
class CallFailed:
    """A dial, answer or init step ended with a result other than CONNECT/OK."""

    result: ModemResult


@dataclass(frozen=True)
class CarrierLost:
    pass


@dataclass(frozen=True)
class Timeout:
    stage: Stage


@dataclass(frozen=True)
class HungUp:
    pass


@dataclass(frozen=True)
class CommandDone:
    result: ModemResult
    info: tuple[str, ...] = ()


Action = Transmit | SetDtr
Event = (
    Connected | Ring | RingingStopped | CallFailed | CarrierLost | Timeout | HungUp | CommandDone
)
Output = Action | Event


class HayesStateError(LocalProtocolError):
    """An operation was asked for in a stage that cannot take it (our mistake).

    What the modem answers is never raised: an unexpected result is an event
    (``CallFailed``, ``Timeout``) or an ignored line.
    """


class HayesDialer:
    """Dialer/answerer for one modem in command mode."""

    def __init__(self, timings: HayesTimings | None = None) -> None:
        self.timings = timings or HayesTimings()
        self.parser = ResultParser()
        self.stage = Stage.IDLE
        self.rings = 0
        self._outputs: list[Output] = []
        self._deadline: float | None = None
        self._pending_init: list[bytes] = []
        self._after_init: Callable[[float], None] | None = None
        self._stage_timeout = 0.0
        self._auto_rings = 0
        self._ring_deadline: float | None = None
        self._info: list[str] = []
        self._use_dtr = False
        self._escape_tried = False

    # -- requests ----------------------------------------------------------

    def dial(
        self,
        number: str,
        now: float,
        *,
        init: Sequence[str] = DEFAULT_INIT,
        pulse: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Init the modem, then ``ATDT``/``ATDP`` ``number``."""
        line = commands.dial_command(number, pulse=pulse)
        dial_timeout = self.timings.dial if timeout is None else timeout

        def start_dial(at: float) -> None:
            self._send(line)
            self._enter(Stage.DIALING, at, dial_timeout)

        self._start(init, [], start_dial, now)

    def answer(
        self,
        now: float,
        *,
        init: Sequence[str] = DEFAULT_INIT,
        auto_rings: int = 0,
        ring_timeout: float | None = None,
    ) -> None:
        """Init the modem, then wait for RING (``auto_rings`` > 0: the modem answers)."""
        self._require_idle("answer")
        extra = [commands.auto_answer_command(auto_rings)]
        self._auto_rings = auto_rings

        def await_ring(at: float) -> None:
            self.rings = 0
            self._ring_deadline = None if ring_timeout is None else at + ring_timeout
            self.stage = Stage.AWAIT_RING
            self._set_deadline(self._ring_deadline)

        self._start(init, extra, await_ring, now)

    def accept(self, now: float) -> None:
        """Answer the ringing call (``ATA``)."""
        if self.stage is not Stage.RINGING:
            raise HayesStateError(f"cannot accept a call in stage {self.stage.value}")
        self._send(commands.answer_command())
        self._enter(Stage.ANSWERING, now, self.timings.answer)

    def command(self, text: str, now: float, *, timeout: float | None = None) -> None:
        """Send one command line; ``CommandDone`` carries its result and info lines."""
        self._require_idle("send a command")
        line = commands.command_line(text)
        self._info = []
        self._send(line)
        self._enter(Stage.COMMAND, now, self.timings.command if timeout is None else timeout)

    def hangup(self, now: float, *, use_dtr: bool) -> None:
        """Go on-hook from any stage; ``HungUp`` (or ``Timeout``) ends it.

        ``use_dtr``: the port really has a DTR line the modem obeys (&D2);
        otherwise the ``+++`` escape with its guard times is used.
        """
        self._use_dtr = use_dtr
        self._escape_tried = False
        self._pending_init = []
        self._after_init = None
        if self.stage in _HANGUP_STAGES:
            return
        if self.stage is Stage.ONLINE:
            self._hangup_online(now)
        elif self.stage in (Stage.DIALING, Stage.ANSWERING):
            # Any character aborts a dial or answer in progress (V.250 6.3.1).
            self._send(b"\r")
            self._enter(Stage.HANGUP_ABORT, now, self.timings.command)
        elif self.stage in (Stage.INIT, Stage.COMMAND):
            # Let the command in progress finish before ATH.
            self._enter(Stage.HANGUP_ABORT, now, self.timings.command)
        else:
            self._send_ath(now)

    def assume_online(self) -> None:
        """The line reached data mode without us (a chat script dialed)."""
        self._go_idle()
        self.parser.reset()
        self.stage = Stage.ONLINE

    def carrier_lost(self, now: float) -> None:
        """CD dropped (or the glue saw the line go down) while online."""
        if self.stage is Stage.ONLINE:
            self.parser.reset()
            self._go_idle()
            self._emit(CarrierLost())

    # -- inputs ------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from the modem while in command mode (never in ONLINE)."""
        if self.stage is Stage.ONLINE:
            return
        while True:
            lines, rest = self.parser.feed_until_connect(data)
            for index, line in enumerate(lines):
                is_last = index == len(lines) - 1
                self._on_line(line, now, rest if is_last else None)
                if self.online:
                    return
            if rest is None:
                return
            # A CONNECT that did not put us online (a stray one): read on.
            data = rest

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        self._deadline = None
        stage = self.stage
        if stage is Stage.HANGUP_DTR:
            self._emit(SetDtr(True))
            self._send_ath(now)
        elif stage is Stage.HANGUP_GUARD:
            self._send(commands.escape_sequence())
            self._enter(Stage.HANGUP_ESCAPE, now, self.timings.guard + self.timings.command)
        elif stage is Stage.HANGUP_ESCAPE or stage is Stage.HANGUP_ABORT:
            # No answer to the escape or abort: the modem may already be in
            # command mode; ATH settles it either way.
            self._send_ath(now)
        elif stage is Stage.HANGUP_ATH and self._use_dtr and not self._escape_tried:
            self._start_escape(now)
        elif stage is Stage.RINGING or (stage is Stage.AWAIT_RING and self.rings):
            self.rings = 0
            self.stage = Stage.AWAIT_RING
            self._set_deadline(self._ring_deadline)
            self._emit(RingingStopped())
        else:
            if stage in (Stage.DIALING, Stage.ANSWERING):
                self._send(b"\r")
            self._go_idle()
            self._emit(Timeout(stage))

    def drain(self) -> list[Output]:
        """Every action and event since the last call, oldest first."""
        outputs, self._outputs = self._outputs, []
        return outputs

    def get_timer(self) -> float | None:
        """When ``handle_timer`` should next run: the current wait's deadline."""
        return self._deadline

    @property
    def online(self) -> bool:
        return self.stage is Stage.ONLINE

    # -- internals ---------------------------------------------------------

    def _on_line(self, line: ParsedLine, now: float, early: bytes | None) -> None:
        stage = self.stage
        if isinstance(line, InfoLine):
            if stage is Stage.COMMAND:
                self._info.append(line.text)
            return
        if not isinstance(line, ModemResult):
            return  # our own echo
        code = line.code
        if code is ResultCode.RING:
            self._on_ring(line, now)
            return
        if stage is Stage.INIT:
            if code is ResultCode.OK:
                self._next_init(now)
            else:
                self._fail(line)
        elif stage in (Stage.DIALING, Stage.ANSWERING, Stage.AWAIT_RING, Stage.RINGING):
            if code is ResultCode.CONNECT:
                self.stage = Stage.ONLINE
                self._deadline = None
                self.parser.reset()
                self._emit(Connected(line, early or b""))
            elif stage in (Stage.DIALING, Stage.ANSWERING) or (
                self.rings and code is not ResultCode.OK
            ):
                # While no call rings, a stray result is not about a call.
                self._fail(line)
        elif stage is Stage.COMMAND:
            info, self._info = tuple(self._info), []
            self._go_idle()
            self._emit(CommandDone(line, info))
        elif stage is Stage.HANGUP_ABORT:
            if code is ResultCode.CONNECT:
                # The call came up just as we aborted it.
                self.stage = Stage.ONLINE
                self._hangup_online(now)
            else:
                self._send_ath(now)
        elif stage is Stage.HANGUP_ESCAPE or (
            stage is Stage.HANGUP_GUARD and code is ResultCode.NO_CARRIER
        ):
            # NO CARRIER during the guard time: the far end hung up first and
            # the modem is back in command state, where "+++" gets no answer.
            if code in (ResultCode.OK, ResultCode.NO_CARRIER):
                self._send_ath(now)
        elif stage is Stage.HANGUP_ATH and code in (ResultCode.OK, ResultCode.ERROR):
            self._go_idle()
            self._emit(HungUp())

    def _on_ring(self, line: ModemResult, now: float) -> None:
        if self.stage not in (Stage.AWAIT_RING, Stage.RINGING):
            return
        self.rings += 1
        if self._auto_rings and self.rings >= self._auto_rings:
            # The modem answers by itself now; the handshake may take long.
            self._set_deadline(now + self.timings.answer)
        else:
            self._set_deadline(now + self.timings.ring_gap)
            if not self._auto_rings:
                self.stage = Stage.RINGING
        self._emit(Ring(self.rings, line))

    def _start(
        self,
        init: Sequence[str],
        extra: list[bytes],
        then: Callable[[float], None],
        now: float,
    ) -> None:
        self._require_idle("start a call")
        self._pending_init = commands.init_lines(init) + extra
        self._after_init = then
        self._next_init(now)

    def _next_init(self, now: float) -> None:
        if self._pending_init:
            self._send(self._pending_init.pop(0))
            self._enter(Stage.INIT, now, self.timings.command)
            return
        then, self._after_init = self._after_init, None
        self.stage = Stage.IDLE
        self._deadline = None
        if then is not None:
            then(now)

    def _hangup_online(self, now: float) -> None:
        if self._use_dtr:
            self._emit(SetDtr(False))
            self._enter(Stage.HANGUP_DTR, now, self.timings.dtr_hold)
        else:
            self._start_escape(now)

    def _start_escape(self, now: float) -> None:
        # The guard time counts from the last byte sent; the data owner has
        # stopped sending when it asked for the hang-up.
        self._escape_tried = True
        self._enter(Stage.HANGUP_GUARD, now, self.timings.guard)

    def _send_ath(self, now: float) -> None:
        if self._auto_rings:
            # Nobody listens any more: the modem must not answer by itself.
            self._auto_rings = 0
            self._send(commands.command_line("H0", "S0=0"))
        else:
            self._send(commands.hangup_command())
        self._enter(Stage.HANGUP_ATH, now, self.timings.command)

    def _fail(self, result: ModemResult) -> None:
        self._go_idle()
        self._emit(CallFailed(result))

    def _require_idle(self, what: str) -> None:
        if self.stage is not Stage.IDLE:
            raise HayesStateError(f"cannot {what} in stage {self.stage.value}")

    def _go_idle(self) -> None:
        self.stage = Stage.IDLE
        self._deadline = None
        self._pending_init = []
        self._after_init = None
        self.rings = 0

    def _enter(self, stage: Stage, now: float, timeout: float) -> None:
        self.stage = stage
        self._set_deadline(now + timeout)

    def _set_deadline(self, deadline: float | None) -> None:
        self._deadline = deadline

    def _send(self, data: bytes) -> None:
        self._emit(Transmit(data))

    def _emit(self, output: Output) -> None:
        self._outputs.append(output)
