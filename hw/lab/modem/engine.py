"""The modem side of a Hayes modem: an ITU-T V.250 command interpreter.

``ModemEngine`` is what a real modem's firmware does between its serial port
(the DTE: chat, pppd, our stack) and the telephone line (here a virtual
exchange).  It is sans-I/O: the exchange feeds it DTE bytes, line bytes and
call progress with the time, fires its timer at ``get_timer()``, and drains
``drain()``: ``Transmit`` (bytes for the DTE, on the modem's serial port),
``ToLine`` (bytes for the far modem), and requests to the exchange
(``DialRequest``, ``AnswerRequest``, ``HangupRequest``).

Command state: ``AT`` (any case) starts a command line, S3 (CR) ends it, S5
(BS) edits it, ``A/`` repeats the last one.  One line may hold several
commands (``ATE0V1Q0S0=2``); an unknown or malformed one answers ERROR and
the rest of the line is skipped.  Supported: A, D (T/P and a number), E, H,
I, L, M, O, Q, S (``Sn=v``, ``Sn?``), V, X, Z, &C, &D, &F, &K, &W.

Data state: DTE bytes go to the line; ``+++`` (S2) with S12 guard time of
silence before and after goes back to command state ("online command").

Registers: S0 rings to auto-answer, S1 ring count, S2 escape character, S3
CR, S4 LF, S5 BS, S7 seconds to wait for carrier, S12 guard time in 1/50 s.
``ModemConfig.time_scale`` shrinks S7 and S12 for fast tests.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from wanminiport.sansio import Transmit

FACTORY_REGISTERS: dict[int, int] = {
    0: 0,  # rings before auto-answer (0: never)
    1: 0,  # rings counted
    2: 43,  # escape character '+'
    3: 13,  # command line terminator CR
    4: 10,  # response formatting LF
    5: 8,  # command line editing BS
    6: 2,  # pause before blind dialing, s
    7: 50,  # wait for carrier, s
    8: 2,  # comma dial pause, s
    10: 14,  # carrier loss delay, 1/10 s
    12: 50,  # escape guard time, 1/50 s
}
#: Factory settings of the letter commands.
FACTORY_SETTINGS: dict[str, int] = {"E": 1, "V": 1, "Q": 0, "X": 4, "&C": 1, "&D": 2}
#: The highest value each setting command takes.
_SETTING_MAX: dict[str, int] = {
    "E": 1, "V": 1, "Q": 1, "X": 4, "L": 3, "M": 3, "&C": 1, "&D": 3, "&K": 6,
}  # fmt: skip
MAX_COMMAND_LINE = 255
_DIAL_DIGITS = frozenset("0123456789*#ABCD")
_DIAL_IGNORED = frozenset(" -().,W@!+")


class ResultCode(enum.Enum):
    """Result codes the modem sends: (numeric, verbose)."""

    OK = (0, "OK")
    CONNECT = (1, "CONNECT")
    RING = (2, "RING")
    NO_CARRIER = (3, "NO CARRIER")
    ERROR = (4, "ERROR")
    NO_DIALTONE = (6, "NO DIALTONE")
    BUSY = (7, "BUSY")
    NO_ANSWER = (8, "NO ANSWER")


class ModemState(enum.Enum):
    COMMAND = "command"  # on-hook, command state
    OFF_HOOK = "off hook"  # ATH1: command state, line busy
    DIALING = "dialing"
    ANSWERING = "answering"
    ONLINE = "online"  # data state
    ONLINE_COMMAND = "online command"  # command state with a call up


@dataclass(frozen=True)
class ModemConfig:
    #: The stored profile: S-register values that survive ATZ.
    registers: Mapping[int, int] = field(default_factory=dict)
    #: The rate this modem connects at (the call takes the lower of two).
    rate: int = 115200
    #: Appended to the rate: "/ARQ/V34" gives "CONNECT 33600/ARQ/V34".
    connect_suffix: str = ""
    #: Multiplies S7 and S12 timings (0.01 turns S7=50 into half a second).
    time_scale: float = 1.0
    identity: str = "wanctl virtual modem"


@dataclass(frozen=True)
class ToLine:
    """Bytes for the telephone line (the far modem), in data state."""

    data: bytes


@dataclass(frozen=True)
class DialRequest:
    number: str
    pulse: bool


@dataclass(frozen=True)
class AnswerRequest:
    pass


@dataclass(frozen=True)
class HangupRequest:
    pass


EngineOutput = Transmit | ToLine | DialRequest | AnswerRequest | HangupRequest


class _CommandError(Exception):
    pass


class ModemEngine:
    """One emulated modem's firmware."""

    def __init__(self, config: ModemConfig | None = None) -> None:
        self.config = config or ModemConfig()
        self.state = ModemState.COMMAND
        self.registers: dict[int, int] = {}
        self.settings: dict[str, int] = {}
        self.rate = 0
        self.ringing = False
        #: DTR from the DTE; with &D2/&D3 a modem whose DTR is low does not answer.
        self.dtr = True
        self.dropped_line_bytes = 0
        self._outputs: list[EngineOutput] = []
        self._line = bytearray()
        self._in_line = False
        self._prefix_a = False
        self._overflow = False
        self._last_line = ""
        self._deadline: float | None = None
        self._last_dte_byte = float("-inf")
        self._escape_count = 0
        self._escape_at = 0.0
        self._reset_profile()

    # -- properties ----------------------------------------------------------

    def get_timer(self) -> float | None:
        """When ``handle_timer`` should next run (escape guard, S7 carrier wait)."""
        return self._deadline

    @property
    def in_call(self) -> bool:
        return self.state in (ModemState.ONLINE, ModemState.ONLINE_COMMAND)

    @property
    def idle(self) -> bool:
        """On-hook in command state: free to take a call."""
        return self.state is ModemState.COMMAND

    def register(self, number: int) -> int:
        return self.registers.get(number, 0)

    def guard_time(self) -> float:
        return self.register(12) / 50.0 * self.config.time_scale

    def drain(self) -> list[EngineOutput]:
        """Every output since the last call, oldest first."""
        outputs, self._outputs = self._outputs, []
        return outputs

    # -- from the DTE --------------------------------------------------------

    def receive_from_dte(self, data: bytes, now: float) -> None:
        index = 0
        while index < len(data):
            if self.state is ModemState.ONLINE:
                # ATO put us back online: the rest is data.
                self._data_from_dte(data[index:], now)
                return
            if self.state in (ModemState.DIALING, ModemState.ANSWERING):
                # Any character aborts a call attempt (V.250 6.3.1); a line
                # feed after the CR of ATD is the DTE's line end, not a key.
                if any(byte not in (0x00, 0x0A) for byte in data[index:]):
                    self._abort_attempt(ResultCode.NO_CARRIER)
                break
            self._command_byte(data[index] & 0x7F, now)
            index += 1
        self._last_dte_byte = now

    def _data_from_dte(self, data: bytes, now: float) -> None:
        escape_char = self.register(2)
        guard = self.guard_time()
        for byte in data:
            if escape_char > 127 or byte != escape_char:
                self._escape_count = 0
            elif self._escape_count == 0:
                if now - self._last_dte_byte >= guard:
                    self._escape_count, self._escape_at = 1, now
            elif self._escape_count < 3 and now - self._escape_at < guard:
                self._escape_count, self._escape_at = self._escape_count + 1, now
            else:
                self._escape_count = 0
            self._last_dte_byte = now
        # The escape characters go to the line like any data, as on most modems.
        self._emit(ToLine(bytes(data)))
        if self._escape_count == 3:
            self._deadline = self._escape_at + guard
        elif self._deadline is not None:
            self._deadline = None

    def dtr_changed(self, on: bool, now: float) -> None:
        """DTR from the DTE (a pty: its slave opened or closed)."""
        was_on, self.dtr = self.dtr, on
        if on or not was_on:
            return
        behaviour = self.settings["&D"]
        if behaviour == 0:
            return
        if behaviour == 1:
            if self.state is ModemState.ONLINE:
                self._enter_online_command()
            return
        if self.state in (ModemState.DIALING, ModemState.ANSWERING):
            self._abort_attempt(ResultCode.NO_CARRIER)
        elif self.in_call:
            self._hang_up()
            self._result(ResultCode.NO_CARRIER)
        elif self.state is ModemState.OFF_HOOK:
            self.state = ModemState.COMMAND
        if behaviour == 3:
            self._reset_profile()

    # -- from the exchange ---------------------------------------------------

    def incoming_ring(self, now: float) -> None:
        if self.state is not ModemState.COMMAND:
            return
        self.ringing = True
        self.registers[1] = min(255, self.register(1) + 1)
        self._result(ResultCode.RING)
        rings_to_answer = self.register(0)
        dtr_ready = self.dtr or self.settings["&D"] < 2
        if rings_to_answer and self.register(1) >= rings_to_answer and dtr_ready:
            self._answer(now)

    def ringing_stopped(self, now: float) -> None:
        self.ringing = False
        self.registers[1] = 0

    def call_connected(self, rate: int, now: float) -> None:
        if self.state not in (ModemState.DIALING, ModemState.ANSWERING):
            return
        self.rate = rate
        self.ringing = False
        self.registers[1] = 0
        self.state = ModemState.ONLINE
        self._deadline = None
        self._escape_count = 0
        self._last_dte_byte = now
        self._connect_result()

    def call_failed(self, code: ResultCode, now: float) -> None:
        if self.state in (ModemState.DIALING, ModemState.ANSWERING):
            self.state = ModemState.COMMAND
            self._deadline = None
            self._result(code)

    def remote_hangup(self, now: float) -> None:
        if self.in_call or self.state in (ModemState.DIALING, ModemState.ANSWERING):
            self.state = ModemState.COMMAND
            self._deadline = None
            self.rate = 0
            self._result(ResultCode.NO_CARRIER)

    def data_from_line(self, data: bytes, now: float) -> None:
        if self.state is ModemState.ONLINE:
            self._emit(Transmit(data))
        else:
            self.dropped_line_bytes += len(data)

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        self._deadline = None
        if self.state is ModemState.ONLINE and self._escape_count == 3:
            if now - self._last_dte_byte >= self.guard_time():
                self._enter_online_command()
            self._escape_count = 0
        elif self.state is ModemState.DIALING:
            self._abort_attempt(ResultCode.NO_ANSWER)
        elif self.state is ModemState.ANSWERING:
            self._abort_attempt(ResultCode.NO_CARRIER)

    # -- command lines -------------------------------------------------------

    def _command_byte(self, byte: int, now: float) -> None:
        if self.settings["E"]:
            self._emit(Transmit(bytes([byte])))
        if not self._in_line:
            upper = byte & 0xDF  # ASCII upper case
            if self._prefix_a and upper == ord("T"):
                self._in_line, self._prefix_a = True, False
                self._line.clear()
                self._overflow = False
            elif self._prefix_a and byte == ord("/"):
                self._prefix_a = False
                self._execute(self._last_line, now)
            else:
                self._prefix_a = upper == ord("A")
            return
        if byte == self.register(3):
            self._in_line = False
            body = self._line.decode("ascii", "replace")
            self._line.clear()
            if self._overflow:
                self._result(ResultCode.ERROR)
                return
            self._last_line = body
            self._execute(body, now)
        elif byte == self.register(5):
            if self._line:
                self._line.pop()
        elif 0x20 <= byte < 0x7F:
            if len(self._line) >= MAX_COMMAND_LINE:
                self._overflow = True
            else:
                self._line.append(byte)

    def _execute(self, body: str, now: float) -> None:
        try:
            final = self._run_commands(body, now)
        except _CommandError:
            final = ResultCode.ERROR
        if final is not None:
            self._result(final)

    def _run_commands(self, body: str, now: float) -> ResultCode | None:
        """Execute one command line; the final result, or None if one was sent."""
        text = body.upper()
        index = 0
        while index < len(text):
            char = text[index]
            index += 1
            if char == " ":
                continue
            if char == "D":
                return self._dial(text[index:], now)
            if char == "A":
                return self._answer(now)
            if char == "O":
                _, index = _number(text, index)
                return self._online()
            if char == "S":
                index = self._register_command(text, index)
                continue
            name = char
            if char == "&":
                if index >= len(text):
                    raise _CommandError
                name, index = "&" + text[index], index + 1
            value, index = _number(text, index)
            self._setting(name, value)
        return ResultCode.OK

    def _setting(self, name: str, value: int) -> None:
        if name in _SETTING_MAX:
            if value > _SETTING_MAX[name]:
                raise _CommandError
            self.settings[name] = value
        elif name == "H":
            self._hook(value)
        elif name == "Z" and value <= 1:
            if self.in_call:
                self._hang_up()
            self._reset_profile()
        elif name == "&F" and value == 0:
            self._factory()
        elif name == "I" and value <= 9:
            self._info(self.config.identity if value in (0, 3, 4) else str(self.config.rate))
        elif name == "&W" and value <= 1:
            pass  # the stored profile is the configured one
        else:
            raise _CommandError

    def _register_command(self, text: str, index: int) -> int:
        number, index = _number(text, index, required=True)
        if number > 255 or index >= len(text):
            raise _CommandError
        if text[index] == "?":
            self._info(f"{self.register(number):03d}")
            return index + 1
        if text[index] != "=":
            raise _CommandError
        value, index = _number(text, index + 1)
        if value > 255:
            raise _CommandError
        self.registers[number] = value
        return index

    def _hook(self, value: int) -> None:
        if value == 0:
            if self.in_call or self.state is ModemState.OFF_HOOK:
                self._hang_up()
        elif value == 1 and self.state is ModemState.COMMAND:
            self.state = ModemState.OFF_HOOK  # callers now get BUSY
        elif value != 1:
            raise _CommandError

    def _dial(self, dial_string: str, now: float) -> ResultCode | None:
        if self.state is not ModemState.COMMAND and self.state is not ModemState.OFF_HOOK:
            return ResultCode.ERROR
        pulse = False
        digits = []
        for char in dial_string:
            if char in "TP":
                pulse = char == "P"
            elif char in _DIAL_DIGITS:
                digits.append(char)
            elif char == ";" or char not in _DIAL_IGNORED:
                # ";" asks for a voice call: this modem only does data.
                return ResultCode.ERROR
        if not digits:
            return ResultCode.ERROR
        self.state = ModemState.DIALING
        self._deadline = now + self.register(7) * self.config.time_scale
        self._emit(DialRequest("".join(digits), pulse))
        return None

    def _answer(self, now: float) -> ResultCode | None:
        if self.state is not ModemState.COMMAND or not self.ringing:
            return ResultCode.NO_CARRIER
        self.state = ModemState.ANSWERING
        self._deadline = now + self.register(7) * self.config.time_scale
        self._emit(AnswerRequest())
        return None

    def _online(self) -> ResultCode | None:
        if self.state is not ModemState.ONLINE_COMMAND:
            return ResultCode.ERROR
        self.state = ModemState.ONLINE
        self._escape_count = 0
        self._connect_result()
        return None

    # -- helpers -------------------------------------------------------------

    def _enter_online_command(self) -> None:
        self.state = ModemState.ONLINE_COMMAND
        self._in_line = self._prefix_a = False
        self._result(ResultCode.OK)

    def _abort_attempt(self, code: ResultCode) -> None:
        self.state = ModemState.COMMAND
        self._deadline = None
        self._emit(HangupRequest())
        self._result(code)

    def _hang_up(self) -> None:
        self.state = ModemState.COMMAND
        self._deadline = None
        self.rate = 0
        self._emit(HangupRequest())

    def _reset_profile(self) -> None:
        self._factory()
        self.registers.update(self.config.registers)

    def _factory(self) -> None:
        self.registers = dict(FACTORY_REGISTERS)
        self.settings = dict(FACTORY_SETTINGS)

    def _connect_result(self) -> None:
        if self.settings["Q"]:
            return
        if not self.settings["V"]:
            self._emit(Transmit(b"1" + self._cr()))
            return
        text = "CONNECT"
        if self.settings["X"] > 0:
            text += f" {self.rate}{self.config.connect_suffix}"
        self._emit(Transmit(self._framed(text)))

    def _result(self, code: ResultCode) -> None:
        if self.settings["Q"]:
            return
        if self.settings["X"] == 0 and code in (
            ResultCode.BUSY,
            ResultCode.NO_DIALTONE,
            ResultCode.NO_ANSWER,
        ):
            code = ResultCode.NO_CARRIER  # X0: the basic Hayes set only
        number, word = code.value
        if self.settings["V"]:
            self._emit(Transmit(self._framed(word)))
        else:
            self._emit(Transmit(str(number).encode() + self._cr()))

    def _info(self, text: str) -> None:
        if self.settings["V"]:
            self._emit(Transmit(self._framed(text)))
        else:
            self._emit(Transmit(text.encode() + self._cr() + bytes([self.register(4)])))

    def _framed(self, text: str) -> bytes:
        crlf = self._cr() + bytes([self.register(4)])
        return crlf + text.encode("ascii", "replace") + crlf

    def _cr(self) -> bytes:
        return bytes([self.register(3)])

    def _emit(self, output: EngineOutput) -> None:
        self._outputs.append(output)


def _number(text: str, index: int, *, required: bool = False) -> tuple[int, int]:
    """A decimal parameter at ``index`` (0 when absent), and the index after it."""
    start = index
    while index < len(text) and text[index].isdigit():
        index += 1
    if index == start:
        if required:
            raise _CommandError
        return 0, index
    return int(text[start:index]), index
