"""Building the command lines we send to a modem (ITU-T V.250).

Every builder validates what it is given and raises ``ValueError`` for a
mistake of ours (a dial string with letters, a register out of range):
those are caller errors, never something a modem sent.

Protocol core: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

#: S3, the command line terminator.
COMMAND_TERMINATOR = b"\r"
#: The default escape character (S2 = 43).
DEFAULT_ESCAPE_CHAR = ord("+")
#: V.250 6.2.1 guarantees at least 40 characters in a command line body.
MAX_COMMAND_BODY = 40
#: Default escape guard time (S12 = 50 fiftieths of a second).
DEFAULT_GUARD_TIME = 1.0

#: Dial-string characters with a meaning (V.250 6.3.1): digits, the DTMF
#: letters, "," pause, "W" wait for dial tone, "@" wait for quiet answer,
#: "!" hook flash.  "T"/"P" are chosen by the ``pulse`` flag.
_DIAL_CHARS = frozenset("0123456789*#+ABCD,W@!")
#: Formatting a person may type; V.250 has the modem ignore them, so we drop
#: them before the modem sees them.
_DIAL_FORMATTING = frozenset(" -().")


def command_line(*commands: str) -> bytes:
    """``AT`` plus the given commands plus CR: ``command_line("E0", "V1")``.

    Each item may already start with ``AT`` (``"ATZ"``); it is stripped so
    several commands share one prefix.
    """
    body = "".join(_strip_at(command) for command in commands)
    if len(body) > MAX_COMMAND_BODY:
        raise ValueError(f"command line too long ({len(body)} > {MAX_COMMAND_BODY}): {body!r}")
    for char in body:
        if not 0x20 < ord(char) < 0x7F:
            raise ValueError(f"command {body!r} holds a control or non-ASCII character")
    return b"AT" + body.encode("ascii") + COMMAND_TERMINATOR


def _strip_at(command: str) -> str:
    text = command.strip(" ")
    if text[:2].upper() == "AT":
        return text[2:]
    return text


def init_lines(commands: Iterable[str]) -> list[bytes]:
    """One command line per init string (each waits for its own OK)."""
    return [command_line(command) for command in commands]


def normalize_number(number: str) -> str:
    """The dialable characters of ``number``; ``ValueError`` if it has others."""
    digits = []
    for char in number.upper():
        if char in _DIAL_FORMATTING:
            continue
        if char not in _DIAL_CHARS:
            raise ValueError(f"invalid character {char!r} in phone number {number!r}")
        digits.append(char)
    if not any(char.isdigit() or char in "*#ABCD" for char in digits):
        raise ValueError(f"phone number {number!r} has no digits to dial")
    return "".join(digits)


def dial_command(number: str, *, pulse: bool = False) -> bytes:
    """``ATDT<number>`` (tone) or ``ATDP<number>`` (pulse), validated."""
    return command_line(("DP" if pulse else "DT") + normalize_number(number))


def answer_command() -> bytes:
    return command_line("A")


def hangup_command() -> bytes:
    return command_line("H0")


def reset_command(profile: int = 0) -> bytes:
    if profile not in (0, 1):
        raise ValueError(f"ATZ takes profile 0 or 1, not {profile}")
    return command_line("Z" if profile == 0 else "Z1")


def auto_answer_command(rings: int) -> bytes:
    """``ATS0=<rings>``: answer after that many rings (0 = never)."""
    return set_register_command(0, rings)


def set_register_command(register: int, value: int) -> bytes:
    if not 0 <= register <= 255:
        raise ValueError(f"S-register number out of range: {register}")
    if not 0 <= value <= 255:
        raise ValueError(f"S{register} value out of range: {value}")
    return command_line(f"S{register}={value}")


def escape_sequence(escape_char: int = DEFAULT_ESCAPE_CHAR) -> bytes:
    """Three escape characters; the caller keeps the guard time either side."""
    if not 0 <= escape_char <= 127:
        raise ValueError(f"escape character must be 7-bit ASCII, not {escape_char}")
    return bytes([escape_char]) * 3
