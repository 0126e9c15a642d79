"""Parsers for link option values: text (command line, pppd files) or TOML values.

Each parser takes the raw value and whether it came as text, and returns
the typed value or raises ``BadValue`` with what is wrong and how to fix it.
Text is what a shell or a pppd options file gives (always a string); a TOML
value already has a type, and a wrong type is an error rather than a guess
(``mru = "1500"`` is refused, ``--mru 1500`` is parsed).
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from wanminiport.mcm.chat_script import ChatScriptError, parse_chat_file

Parser = Callable[[object, bool], Any]

#: The speeds a Linux tty accepts without custom-divisor tricks (termios Bxxx).
STANDARD_BAUD_RATES = (
    50,
    75,
    110,
    134,
    150,
    200,
    300,
    600,
    1200,
    1800,
    2400,
    4800,
    9600,
    19200,
    38400,
    57600,
    115200,
    230400,
    460800,
    500000,
    576000,
    921600,
    1000000,
    1152000,
    1500000,
    2000000,
    2500000,
    3000000,
    3500000,
    4000000,
)
#: A pyserial URL (socket://, rfc2217://, loop://, spy://, ...).
URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
#: Hayes dial-string characters: digits, tone/pulse/wait modifiers, and the
#: punctuation people write in phone numbers (modems skip it).
_DIAL_RE = re.compile(r"^[0-9A-Da-d*#+,;!@WwPpTt ()./-]+$")
#: Characters pppd refuses in an escape list (0x20-0x3F and 0x5E).
_UNESCAPABLE = set(range(0x20, 0x40)) | {0x5E}
_MAX_TEXT = 255
MAX_CHAT = 64 * 1024


class BadValue(ValueError):
    """A value that cannot be used: ``message`` says why, ``fix`` what to write."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def toml_type_name(value: object) -> str:
    """The TOML name of a parsed value's type, for wrong-type messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    return type(value).__name__


def _wrong_type(value: object, wanted: str, example: str) -> BadValue:
    return BadValue(f"expected {wanted}, got {toml_type_name(value)} {value!r}", f"write {example}")


def _plain_text(value: str, what: str, max_len: int = _MAX_TEXT) -> str:
    if not value:
        raise BadValue(f"{what} is empty", f"give a {what} or leave the option out")
    if len(value) > max_len:
        raise BadValue(f"{what} is {len(value)} characters long", f"keep it to {max_len}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise BadValue(f"{what} contains a control character", "remove line breaks and tabs")
    return value


def boolean(value: object, textual: bool) -> bool:
    if isinstance(value, bool):
        return value
    if textual and isinstance(value, str):
        low = value.lower()
        if low in ("1", "yes", "true", "on"):
            return True
        if low in ("0", "no", "false", "off"):
            return False
        raise BadValue(f"{value!r} is not yes or no", "use yes or no")
    raise _wrong_type(value, "true or false", "true or false (no quotes)")


def integer(lo: int, hi: int, unit: str = "") -> Parser:
    """Whole numbers from ``lo`` to ``hi``; text must be decimal."""
    suffix = f" {unit}" if unit else ""

    def parse(value: object, textual: bool) -> int:
        if textual and isinstance(value, str):
            try:
                number = int(value.strip(), 10)
            except ValueError:
                raise BadValue(
                    f"{value!r} is not a whole number", f"use a number from {lo} to {hi}{suffix}"
                ) from None
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise _wrong_type(value, "an integer", f"a number from {lo} to {hi} (no quotes)")
        if not lo <= number <= hi:
            raise BadValue(f"{number} is out of range", f"use a number from {lo} to {hi}{suffix}")
        return number

    return parse


def compression_sizes(method: str) -> Parser:
    """pppd's ``deflate R,T`` / ``bsdcomp R,T``: sizes we receive and send with (9..15,
    0 for off); one number is both.  A profile writes ``15``, ``"15,12"``, ``[15, 12]``
    or ``0``."""
    fix = f'write {method} = 15, {method} = "15,12" or [15, 12] (receive, send), or 0 (off)'

    def size(text: str) -> int:
        try:
            number = int(text.strip(), 10)
        except ValueError:
            raise BadValue(f"{text!r} is not a whole number", fix) from None
        if number != 0 and not 9 <= number <= 15:
            raise BadValue(f"{number} is outside 9..15", fix)
        return number

    def parse(value: object, textual: bool) -> tuple[int, int]:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        elif isinstance(value, list | tuple) and all(type(item) is int for item in value):
            value = ",".join(map(str, value))
        if not isinstance(value, str):
            raise _wrong_type(value, "a number or a string", fix)
        parts = value.split(",")
        if len(parts) > 2:
            raise BadValue(f"{value!r} has more than two sizes", fix)
        receive = size(parts[0])
        return receive, size(parts[1]) if len(parts) == 2 else receive

    return parse


def choice(choices: Sequence[str]) -> Parser:
    def parse(value: object, textual: bool) -> str:
        if not isinstance(value, str):
            quoted = ", ".join(f'"{c}"' for c in choices)
            raise _wrong_type(value, "a string", f"one of {quoted}")
        if value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise BadValue(f"{value!r} is not a choice", f"{hint}use one of {', '.join(choices)}")
        return value

    return parse


def text(what: str, max_len: int = _MAX_TEXT) -> Parser:
    """A one-line string (names, passwords, paths, ipparam)."""

    def parse(value: object, textual: bool) -> str:
        if not isinstance(value, str):
            raise _wrong_type(value, "a string", f'"{what}" in double quotes')
        return _plain_text(value, what, max_len)

    return parse


def device(value: object, textual: bool) -> str:
    """A tty path, a bare tty name (``/dev/`` is prepended, as pppd does) or a URL."""
    if not isinstance(value, str):
        raise _wrong_type(
            value, "a string", '"/dev/ttyS0" or a pyserial URL such as "socket://h:p"'
        )
    _plain_text(value, "device")
    if " " in value:
        raise BadValue(f"device {value!r} contains a space", "give one device path or URL")
    if URL_RE.match(value) or value.startswith("/"):
        return value
    return "/dev/" + value


def ipv4(value: object, textual: bool) -> ipaddress.IPv4Address:
    if not isinstance(value, str):
        raise _wrong_type(value, "a string", '"10.0.0.1" in double quotes')
    try:
        addr = ipaddress.IPv4Address(value.strip())
    except ValueError:
        raise BadValue(f"{value!r} is not an IPv4 address", "write it like 10.0.0.1") from None
    if addr.is_unspecified:
        raise BadValue("0.0.0.0 names no address", "leave the option out to let the peer choose")
    if addr.is_multicast or addr == ipaddress.IPv4Address("255.255.255.255"):
        raise BadValue(f"{addr} is not a host address", "use a unicast address such as 10.0.0.1")
    return addr


def ipv4_pair(
    value: object, textual: bool
) -> tuple[ipaddress.IPv4Address | None, ipaddress.IPv4Address | None]:
    """pppd's ``local:remote`` form; either side may be empty."""
    if not isinstance(value, str):
        raise _wrong_type(value, "a string", '"10.0.0.1:10.0.0.2"')
    if value.count(":") != 1:
        raise BadValue(
            f"{value!r} is not local:remote", "write 10.0.0.1:10.0.0.2 (a side may be empty)"
        )
    local_text, remote_text = value.split(":")
    if not local_text.strip() and not remote_text.strip():
        raise BadValue("both sides of ':' are empty", "write 10.0.0.1:10.0.0.2")
    local = ipv4(local_text, textual) if local_text.strip() else None
    remote = ipv4(remote_text, textual) if remote_text.strip() else None
    return local, remote


def ipv4_list(max_items: int) -> Parser:
    def parse(value: object, textual: bool) -> tuple[ipaddress.IPv4Address, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise _wrong_type(value, "a list of addresses", '["10.0.0.53", "10.0.0.54"]')
        if len(items) > max_items:
            raise BadValue(f"{len(items)} addresses given", f"give at most {max_items}")
        return tuple(ipv4(item, textual) for item in items)

    return parse


def _hex_text(value: str) -> int:
    digits = value.strip().lower().removeprefix("0x")
    if not digits or not re.fullmatch(r"[0-9a-f]+", digits):
        raise BadValue(f"{value!r} is not a hex number", "write it like 0x000a0000 or a0000")
    return int(digits, 16)


def accm(value: object, textual: bool) -> int:
    """An async control character map: 32 bits, hex text (as pppd) or a TOML integer."""
    if isinstance(value, str):
        number = _hex_text(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise _wrong_type(value, "a hex integer", "0x00000000 (TOML hex integer)")
    if not 0 <= number <= 0xFFFFFFFF:
        raise BadValue(f"{number:#x} does not fit in 32 bits", "use 0x0 to 0xffffffff")
    return number


def escape_set(value: object, textual: bool) -> tuple[int, ...]:
    """Characters to escape on send: ``"11,13,ff"`` (pppd) or ``[0x11, 0x13, 0xff]``."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
        chars = [_hex_text(p) for p in parts]
    elif isinstance(value, list):
        chars = []
        for item in value:
            if not isinstance(item, int) or isinstance(item, bool):
                raise _wrong_type(item, "an integer in the list", "[0x11, 0x13]")
            chars.append(item)
    else:
        raise _wrong_type(value, "a list of characters", '[0x11, 0x13] or "11,13"')
    if not chars:
        raise BadValue("the escape list is empty", "leave the option out instead")
    for ch in chars:
        if not 0 <= ch <= 0xFF:
            raise BadValue(f"{ch:#x} is not a byte", "use values from 0x00 to 0xff")
        if ch in _UNESCAPABLE:
            raise BadValue(
                f"{ch:#04x} cannot be escaped (0x20-0x3f and 0x5e never are)",
                "remove it from the list",
            )
    return tuple(sorted(set(chars)))


def phone_number(value: object, textual: bool) -> str:
    if not isinstance(value, str):
        raise _wrong_type(value, "a string", '"5551234" in double quotes')
    _plain_text(value, "number", 60)
    if not _DIAL_RE.match(value):
        bad = sorted({c for c in value if not _DIAL_RE.match(c)})
        raise BadValue(
            f"{value!r} has characters a modem cannot dial: {''.join(bad)!r}",
            "use digits, * # + , W P T and spaces",
        )
    return value


def at_command(value: object, textual: bool) -> str:
    if not isinstance(value, str):
        raise _wrong_type(value, "a string", '"ATZ" in double quotes')
    _plain_text(value, "init string", 250)
    if not value[:2].upper() == "AT" or not value.isascii():
        raise BadValue(f"{value!r} is not an AT command", "start it with AT, e.g. ATZ or AT&F E1")
    return value


def chat_script(value: object, textual: bool) -> str:
    """A chat script file path, or the script itself (chat's expect-send words)."""
    if not isinstance(value, str):
        raise _wrong_type(value, "a string", "a chat script path or its text in quotes")
    if not value.strip():
        raise BadValue("the connect script is empty", "give a chat script or leave it out")
    if len(value) > MAX_CHAT:
        raise BadValue(f"the script is {len(value)} characters", f"keep it under {MAX_CHAT}")
    if "\0" in value:
        raise BadValue("the script contains a NUL character", "remove it")
    if is_chat_path(value):
        if "\n" in value:
            raise BadValue("a script path cannot span lines", "give one path")
        return value
    try:
        parse_chat_file(value)
    except ChatScriptError as exc:
        raise BadValue(f"chat script: {exc}", "close each quote on the line it opens") from None
    return value


def is_chat_path(value: str) -> bool:
    """Whether a ``connect`` value names a file rather than holding the script."""
    return value.startswith(("/", "./", "../", "~/"))


def nearest_baud(rate: int) -> int:
    return min(STANDARD_BAUD_RATES, key=lambda std: abs(std - rate))


def device_list(max_items: int) -> Parser:
    """More ports (multilink members): a list of devices, or one comma-separated text."""

    def parse(value: object, textual: bool) -> tuple[str, ...]:
        if isinstance(value, str):
            items: object = [item.strip() for item in value.split(",") if item.strip()]
        else:
            items = value
        if not isinstance(items, list | tuple):
            raise _wrong_type(value, "a list of ports", '["/dev/ttyUSB1", "/dev/ttyUSB2"]')
        if len(items) > max_items:
            raise BadValue(f"{len(items)} ports given", f"give at most {max_items}")
        return tuple(_member_port(item, textual) for item in items)

    return parse


def _member_port(value: object, textual: bool) -> str:
    """A member's port, optionally at its own speed and with its own number:
    ``/dev/ttyUSB1@57600``, ``/dev/ttyACM1=5551235`` (a modem member dials it), or in
    a profile ``{port = "/dev/ttyACM1", baud = 57600, number = "5551235"}``."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"port", "baud", "number"})
        if unknown or "port" not in value:
            raise BadValue(
                f"member {value!r} " + (f"has {unknown[0]!r}" if unknown else "has no port"),
                'write it like {port = "/dev/ttyACM1", baud = 57600, number = "5551235"}',
            )
        port = device(value["port"], textual)
        baud = value.get("baud")
        number = value.get("number")
        text = port if baud is None else f"{port}@{_member_baud(baud, textual)}"
        return text if number is None else f"{text}={phone_number(number, textual)}"
    if isinstance(value, str) and "://" not in value and "=" in value:
        port, _, number = value.partition("=")
        return f"{_member_port(port, textual)}={phone_number(number, textual)}"
    if isinstance(value, str) and "@" in value and "://" not in value:
        port, _, speed = value.rpartition("@")
        return f"{device(port, textual)}@{_member_baud(speed, textual)}"
    return device(value, textual)


def _member_baud(value: object, textual: bool) -> int:
    baud: int = integer(50, 4_000_000, "bps")(value, textual)
    if baud not in STANDARD_BAUD_RATES:
        raise BadValue(f"{baud} is not a standard tty speed", f"use {nearest_baud(baud)}")
    return baud


class MemberSpec(NamedTuple):
    """One more port of a bundle: its speed, and the number its modem dials (None:
    the profile's own ``number``)."""

    port: str
    baud: int
    number: str | None


def split_member(spec: str, default_baud: int) -> MemberSpec:
    """``/dev/ttyUSB1@57600=5551235`` -> (port, speed, number); without ``@`` the link's
    own speed, without ``=`` no number of its own."""
    number = None
    if "://" not in spec and "=" in spec:
        spec, _, number = spec.partition("=")
    if "@" in spec and "://" not in spec:
        port, _, speed = spec.rpartition("@")
        return MemberSpec(port, int(speed), number)
    return MemberSpec(spec, default_baud, number)


def endpoint(value: object, textual: bool) -> str:
    """pppd's ``endpoint`` syntax (``magic:0102``, ``IP:10.0.0.1``, ``MAC:...``)."""
    from ndiswan.ppp.multilink.endpoint import MalformedEndpoint, parse_endpoint

    if not isinstance(value, str):
        raise _wrong_type(value, "a string", '"magic:0a0b0c0d"')
    _plain_text(value, "endpoint")
    try:
        parse_endpoint(value)
    except MalformedEndpoint as exc:
        raise BadValue(
            str(exc), "use pppd's form: local:HEX, IP:A.B.C.D, MAC:XX:..., magic:HEX, phone:DIGITS"
        ) from None
    return value


def percent_seconds(value: object, textual: bool) -> tuple[int, int]:
    """``"75,10"``: a utilisation in percent and how many seconds it must hold."""
    if not isinstance(value, str):
        raise _wrong_type(value, "a string", '"75,10" (percent, seconds)')
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 2:
        raise BadValue(f"{value!r} is not PERCENT,SECONDS", 'write it like "75,10"')
    percent = integer(0, 100, "%")(parts[0], True)
    seconds = integer(1, 86400, "seconds")(parts[1], True)
    return percent, seconds
