"""Reading chat scripts the way pppd's chat(8) reads them.

* ``parse_chat_file``: a script file -- words separated by blanks, ``'...'``
  or ``"..."`` quoting (a backslash inside quotes protects the next
  character), ``#`` in column 1 starts a comment line.
* ``split_subexpect``: ``ogin:-BREAK-ogin:`` into expect, send, expect, ...
  (``\\-`` does not split).
* ``expect_bytes`` / ``send_pieces``: the escapes ``\\b \\c \\d \\K \\n \\N
  \\p \\q \\r \\s \\t \\T \\U \\\\ \\ddd`` and ``^X`` control characters, with
  chat's rules for which are valid in an expect string.

Protocol core: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: chat's string buffer: longer expect strings are refused (exit code 1).
STR_LEN = 1024
#: ABORT and REPORT strings must be shorter than chat's 50-byte fail buffer.
MAX_ABORT_LEN = 49
MAX_ABORTS = 50
MAX_REPORTS = 50
DEFAULT_TIMEOUT = 45.0
#: ``\d`` sleeps one second.
DELAY_SECONDS = 1.0
#: ``\p``: chat(8) says a tenth of a second, but chat has always slept
#: 10 ms; scripts were tuned against the program, so we follow it.
PAUSE_SECONDS = 0.01

KEYWORDS = frozenset(
    {"ABORT", "CLR_ABORT", "REPORT", "CLR_REPORT", "TIMEOUT", "ECHO", "SAY", "HANGUP"}
)


class ChatScriptError(ValueError):
    """A script chat would refuse; ``exit_code`` is chat's (1 or 2)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Pause:
    """Stop sending for ``seconds`` (``\\d``, ``\\p``)."""

    seconds: float


@dataclass(frozen=True)
class Break:
    """Send a BREAK condition (``\\K``, ``BREAK``)."""


SendPiece = bytes | Pause | Break


def parse_chat_file(text: str) -> list[str]:
    """Split a chat script file into words, as ``chat -f`` does."""
    words: list[str] = []
    for line_number, line in enumerate(text.split("\n"), start=1):
        if line.startswith("#"):
            continue
        index, size = 0, len(line)
        while index < size:
            char = line[index]
            if char in " \t":
                index += 1
                continue
            if char in "'\"":
                quote, index = char, index + 1
                start = index
                while index < size and line[index] != quote:
                    # A backslash keeps the next character (even a quote).
                    index += 2 if line[index] == "\\" and index + 1 < size else 1
                if index >= size:
                    raise ChatScriptError(f"unterminated quote (line {line_number})")
                words.append(line[start:index])
                index += 1
            else:
                start = index
                while index < size and line[index] not in " \t":
                    index += 1
                words.append(line[start:index])
    return words


def parse_chat_argv(args: Sequence[str]) -> list[str]:
    """A script given as arguments: each argument is one word, already unquoted."""
    return [str(arg) for arg in args]


def split_subexpect(word: str) -> list[str]:
    """``expect-send-expect...`` into its parts; ``\\-`` is not a separator.

    An empty part between two dashes (``ogin:--ogin:``) is an empty send,
    which sends a lone carriage return.
    """
    parts: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(word):
        char = word[index]
        if char == "\\" and index + 1 < len(word):
            current.append(word[index : index + 2])
            index += 2
            continue
        if char == "-":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    # A final dash ends the word without starting an empty part:
    # "ogin:-BREAK-" is "ogin:-BREAK".
    if current or not parts:
        parts.append("".join(current))
    return parts


def expect_bytes(word: str) -> bytes:
    """The bytes an expect string matches (escapes valid in expect only)."""
    out = bytearray()
    for piece in _clean(word, sending=False, phone=None, phone2=None)[0]:
        if isinstance(piece, bytes):
            out += piece
    return bytes(out)


def send_pieces(
    word: str, *, phone: str | None = None, phone2: str | None = None
) -> tuple[list[SendPiece], bool]:
    """What a send string sends, pauses and breaks; and its ``\\q`` (quiet) flag.

    A carriage return is appended unless the string ends in ``\\c``.
    """
    pieces, quiet = _clean(word, sending=True, phone=phone, phone2=phone2)
    merged: list[SendPiece] = []
    for piece in pieces:
        if isinstance(piece, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] = merged[-1] + piece
        else:
            merged.append(piece)
    return merged, quiet


def _clean(
    word: str, *, sending: bool, phone: str | None, phone2: str | None
) -> tuple[list[SendPiece], bool]:
    data = word.encode("utf-8", "surrogateescape")
    pieces: list[SendPiece] = []
    add_return = sending
    quiet = False
    index, size = 0, len(data)

    def emit(value: bytes) -> None:
        pieces.append(value)

    while index < size:
        char = data[index]
        index += 1
        if char == 0x5E:  # '^': a control character
            if index >= size:
                emit(b"^")
                break
            control = data[index] & 0x1F
            index += 1
            if control:
                emit(bytes([control]))
            continue
        if char != 0x5C:  # not a backslash
            emit(bytes([char]))
            continue
        if index >= size:
            if sending:  # a trailing backslash is sent as itself
                emit(b"\\")
            break
        escape = chr(data[index])
        index += 1
        if escape == "b":
            emit(b"\b")
        elif escape == "c":
            if sending and index >= size:
                add_return = False
            else:
                emit(b"c")
        elif escape in "dpK":
            if not sending:
                emit(escape.encode())
            elif escape == "K":
                pieces.append(Break())
            else:
                pieces.append(Pause(DELAY_SECONDS if escape == "d" else PAUSE_SECONDS))
        elif escape == "\\":
            emit(b"\\")
        elif escape in "TU":
            number = phone if escape == "T" else phone2
            if sending:
                emit(number.encode("ascii", "replace") if number is not None else escape.encode())
            else:
                emit(b"\\" + escape.encode())
        elif escape == "q":
            quiet = True
        elif escape in "rnst":
            emit({"r": b"\r", "n": b"\n", "s": b" ", "t": b"\t"}[escape])
        elif escape == "N":
            emit(b"\0" if sending else b"N")
        elif "0" <= escape <= "7":
            value = int(escape)
            for _ in range(2):
                if index < size and 0x30 <= data[index] <= 0x37:
                    value = (value << 3) | (data[index] - 0x30)
                    index += 1
            value &= 0xFF
            if value or sending:
                emit(bytes([value]))
        else:
            emit(escape.encode("utf-8", "surrogateescape"))
    if add_return:
        emit(b"\r")
    return pieces, quiet


def visible(data: bytes) -> str:
    """chat's log form of bytes: ``^M`` for CR, ``M-`` for the high bit."""
    out = []
    for byte in data:
        prefix = ""
        if byte >= 0x80:
            prefix, byte = "M-", byte - 0x80
        if byte == 0x09:
            out.append(prefix + "\t")
        elif byte < 0x20 or byte == 0x7F:
            out.append(prefix + "^" + chr(byte ^ 0x40))
        else:
            out.append(prefix + chr(byte))
    return "".join(out)
