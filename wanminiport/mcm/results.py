"""Reading a modem's answers: ITU-T V.250 result codes from a byte stream.

A modem answers in words (``V1``: ``<CR><LF>OK<CR><LF>``) or digits (``V0``:
``0<CR>``), may echo our own command line back (``E1``), and a line may be
cut anywhere between two reads.  ``ResultParser`` turns such a stream into
``ModemResult``, ``EchoLine`` and ``InfoLine`` records.  It never raises on
received bytes: noise is dropped and counted, and no line grows beyond
``max_line`` characters.

Protocol core: no I/O.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

CR = 0x0D
LF = 0x0A

#: V.250 guarantees command lines of at least 40 characters; replies are
#: short too.  Anything longer is noise and is cut off.
DEFAULT_MAX_LINE = 256


class ResultCode(enum.Enum):
    """The basic result codes of V.250 section 5.7.1, by their numeric form."""

    OK = 0
    CONNECT = 1
    RING = 2
    NO_CARRIER = 3
    ERROR = 4
    NO_DIALTONE = 6
    BUSY = 7
    NO_ANSWER = 8

    @property
    def word(self) -> str:
        """The verbose form a modem sends with ``ATV1``."""
        return _WORDS[self]

    @property
    def is_final(self) -> bool:
        """Whether the code ends a command (every code but RING does)."""
        return self is not ResultCode.RING


_WORDS: dict[ResultCode, str] = {
    ResultCode.OK: "OK",
    ResultCode.CONNECT: "CONNECT",
    ResultCode.RING: "RING",
    ResultCode.NO_CARRIER: "NO CARRIER",
    ResultCode.ERROR: "ERROR",
    ResultCode.NO_DIALTONE: "NO DIALTONE",
    ResultCode.BUSY: "BUSY",
    ResultCode.NO_ANSWER: "NO ANSWER",
}

_BY_WORD: dict[str, ResultCode] = {word: code for code, word in _WORDS.items()}
# Several modem families spell it with a space.
_BY_WORD["NO DIAL TONE"] = ResultCode.NO_DIALTONE

#: Numeric CONNECT codes with a rate.  Above 2400 bit/s every vendor numbered
#: them differently, so only the two the original Hayes set fixed are known.
_NUMERIC_CONNECT_RATES: dict[int, int] = {5: 1200, 10: 2400}

_CONNECT_RE = re.compile(r"CONNECT(?:\s+(\d+))?(.*)", re.IGNORECASE)


@dataclass(frozen=True)
class ModemResult:
    """One result code line: ``code`` plus, for CONNECT, the rate and details.

    ``details`` holds what followed the rate, e.g. ``("ARQ", "V34")`` for
    ``CONNECT 33600/ARQ/V34``.
    """

    code: ResultCode
    text: str
    rate: int | None = None
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class EchoLine:
    """Our own command line, echoed back by a modem in ``ATE1``."""

    text: str


@dataclass(frozen=True)
class InfoLine:
    """Any other line: ATI output, S-register values, caller ID, text."""

    text: str


ParsedLine = ModemResult | EchoLine | InfoLine


def classify_line(text: str) -> ParsedLine:
    """Name one received line (already stripped of CR/LF and noise)."""
    line = text.strip()
    upper = line.upper()
    if upper.startswith("AT") or upper.startswith("A/"):
        return EchoLine(line)
    code = _BY_WORD.get(upper)
    if code is not None:
        return ModemResult(code, line)
    match = _CONNECT_RE.fullmatch(line)
    if match is not None:
        return _connect_result(line, match)
    if line.isdigit() and str(int(line)) == line:
        # Digits with a leading zero ("000") are S-register values, not codes.
        number = int(line)
        if number in _NUMERIC_CONNECT_RATES:
            return ModemResult(ResultCode.CONNECT, line, _NUMERIC_CONNECT_RATES[number])
        try:
            return ModemResult(ResultCode(number), line)
        except ValueError:
            return InfoLine(line)
    return InfoLine(line)


def _connect_result(line: str, match: re.Match[str]) -> ParsedLine:
    rate_text, rest = match.group(1), match.group(2)
    if rest and not rate_text and rest[0] not in " /":
        # "CONNECTED" or "CONNECTION" is text, not a result.
        return InfoLine(line)
    rate = int(rate_text) if rate_text else None
    details = tuple(part for part in re.split(r"[/\s,]+", rest) if part)
    return ModemResult(ResultCode.CONNECT, line, rate, details)


@dataclass
class ParserStats:
    """What the parser had to throw away."""

    noise_bytes: int = 0
    overlong_lines: int = 0
    lines: int = 0


@dataclass
class ResultParser:
    """Streaming line splitter and classifier for a modem's command-mode output."""

    max_line: int = DEFAULT_MAX_LINE
    stats: ParserStats = field(default_factory=ParserStats)
    _line: bytearray = field(default_factory=bytearray, init=False)
    _overflowed: bool = field(default=False, init=False)

    def feed(self, data: bytes) -> list[ParsedLine]:
        """Every complete line in ``data`` (plus what was buffered before)."""
        lines, _ = self._scan(data, stop_at_connect=False)
        return lines

    def feed_until_connect(self, data: bytes) -> tuple[list[ParsedLine], bytes | None]:
        """Like ``feed`` but stop after a CONNECT line.

        Returns the lines and, when a CONNECT was seen, the bytes that
        followed its line end: they belong to the data phase and must reach
        the framer, not this parser.  ``None`` when no CONNECT was seen.
        """
        return self._scan(data, stop_at_connect=True)

    def reset(self) -> None:
        """Forget a partial line (e.g. when the line enters data mode)."""
        self._line.clear()
        self._overflowed = False

    @property
    def pending(self) -> bytes:
        """The unterminated line collected so far."""
        return bytes(self._line)

    def _scan(self, data: bytes, *, stop_at_connect: bool) -> tuple[list[ParsedLine], bytes | None]:
        lines: list[ParsedLine] = []
        index = 0
        size = len(data)
        while index < size:
            byte = data[index]
            index += 1
            if byte in (CR, LF):
                parsed = self._end_line()
                if parsed is None:
                    continue
                lines.append(parsed)
                if (
                    stop_at_connect
                    and isinstance(parsed, ModemResult)
                    and parsed.code is ResultCode.CONNECT
                ):
                    # The CR LF pair belongs to the result line.
                    if byte == CR and index < size and data[index] == LF:
                        index += 1
                    return lines, bytes(data[index:])
            elif 0x20 <= byte <= 0x7E:
                if self._overflowed:
                    continue
                if len(self._line) >= self.max_line:
                    self._overflowed = True
                    self._line.clear()
                    self.stats.overlong_lines += 1
                    continue
                self._line.append(byte)
            else:
                self.stats.noise_bytes += 1
        return lines, None

    def _end_line(self) -> ParsedLine | None:
        if self._overflowed:
            self._overflowed = False
            return None
        if not self._line.strip():
            self._line.clear()
            return None
        text = self._line.decode("ascii")
        self._line.clear()
        self.stats.lines += 1
        return classify_line(text)
