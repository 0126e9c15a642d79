"""Control packet and configuration option codecs (RFC 1661 sections 5 and 6).

A control packet is ``code, identifier, length (16 bits), data``; LCP, the
NCPs, PAP and CHAP share that header.  Octets past ``length`` are padding
and are ignored, as the RFC requires.  Parsers return ``None`` (or an
unparsed tail) for malformed input and never raise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ndiswan.ppp.constants import HEADER_LEN

#: An option's length octet counts type and length too, so data is at most 253.
MAX_OPTION_DATA = 253


@dataclass(frozen=True)
class ControlPacket:
    """One control packet: what follows the PPP protocol field."""

    code: int
    identifier: int
    data: bytes = b""

    def encode(self) -> bytes:
        length = HEADER_LEN + len(self.data)
        return bytes((self.code & 0xFF, self.identifier & 0xFF, length >> 8, length & 0xFF)) + (
            self.data
        )


def parse_control_packet(packet: bytes) -> ControlPacket | None:
    """Header and data of ``packet``; None when the length field lies."""
    if len(packet) < HEADER_LEN:
        return None
    length = (packet[2] << 8) | packet[3]
    if length < HEADER_LEN or length > len(packet):
        return None
    return ControlPacket(packet[0], packet[1], bytes(packet[HEADER_LEN:length]))


@dataclass(frozen=True)
class Option:
    """One configuration option: type and the data after its length octet."""

    type: int
    data: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.type <= 0xFF:
            raise ValueError(f"option type {self.type} out of range")
        if len(self.data) > MAX_OPTION_DATA:
            raise ValueError(f"option data of {len(self.data)} octets does not fit")

    def encode(self) -> bytes:
        return bytes((self.type, 2 + len(self.data))) + self.data

    @property
    def uint(self) -> int:
        """The data read as a big-endian unsigned number (0 when empty)."""
        return int.from_bytes(self.data, "big")


def parse_options(data: bytes) -> tuple[list[Option], bytes]:
    """Split an option list; the second item is a malformed tail (usually empty).

    An option whose length octet is below 2 or runs past the end makes the
    rest of the list unparsable: it is returned whole so a Configure-Request
    handler can reject it, as pppd does.
    """
    options: list[Option] = []
    offset = 0
    while offset < len(data):
        remaining = len(data) - offset
        if remaining < 2:
            break
        length = data[offset + 1]
        if length < 2 or length > remaining:
            break
        options.append(Option(data[offset], bytes(data[offset + 2 : offset + length])))
        offset += length
    return options, bytes(data[offset:])


def encode_options(options: Iterable[Option]) -> bytes:
    return b"".join(option.encode() for option in options)


def uint_option(option_type: int, value: int, size: int) -> Option:
    """An option carrying one big-endian number of ``size`` octets."""
    return Option(option_type, value.to_bytes(size, "big"))
