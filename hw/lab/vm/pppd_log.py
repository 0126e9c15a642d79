"""Read pppd's ``debug`` log: which control packets each side sent and received.

pppd writes one line per control packet it sends or receives, e.g.
``sent [LCP ConfReq id=0x1 <asyncmap 0x0> <magic 0x5f1d2c3a>]`` or
``rcvd [proto=0x8281 01 02]`` for a protocol it has no printer for.  These
lines appear bare in a ``logfile``, or behind a syslog prefix; both parse.

No I/O here: the functions take the log's text.
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: pppd's names for the protocols it prints, with their PPP protocol numbers.
PROTOCOL_NUMBERS: dict[str, int] = {
    "LCP": 0xC021,
    "PAP": 0xC023,
    "CHAP": 0xC223,
    "EAP": 0xC227,
    "CBCP": 0xC029,
    "IPCP": 0x8021,
    "IPV6CP": 0x8057,
    "CCP": 0x80FD,
    "ECP": 0x8053,
}

_CP_CODES = ("ConfReq", "ConfAck", "ConfNak", "ConfRej", "TermReq", "TermAck", "CodeRej")
_LCP_CODES = (*_CP_CODES, "ProtRej", "EchoReq", "EchoRep", "DiscReq", "Ident", "TimeRem")
_CCP_CODES = (*_CP_CODES, "", "", "", "", "", "", "ResetReq", "ResetAck")
#: Code names pppd prints per protocol; the code number is the index + 1.
CODE_NAMES: dict[str, tuple[str, ...]] = {
    "LCP": _LCP_CODES,
    "IPCP": _CP_CODES,
    "IPV6CP": _CP_CODES,
    "CCP": _CCP_CODES,
    "ECP": _CCP_CODES,
    "PAP": ("AuthReq", "AuthAck", "AuthNak"),
    "CHAP": ("Challenge", "Response", "Success", "Failure"),
    "EAP": ("Request", "Response", "Success", "Failure"),
}

#: A line pppd logs once IPCP has opened (the peer's address is known).
IPCP_UP = "remote IP address"

_PACKET = re.compile(r"\b(sent|rcvd) \[([^\s\]]+)(?: (code=0x[0-9a-fA-F]+|[^\s\]=]+)(?=[\s\]]))?")


class LoggedPacket(NamedTuple):
    """One control packet from a pppd log, as pppd names it."""

    direction: str  # "sent" or "rcvd"
    protocol: str  # "LCP", "IPCP", "CHAP", ... or "proto=0x8281"
    code: str  # "ConfReq", "Challenge", "code=0x9" ... ("" when pppd printed none)


def parse_pppd_log(text: str, *, until: str | None = None) -> list[LoggedPacket]:
    """Every ``sent [...]``/``rcvd [...]`` line of ``text``, in order.

    ``until`` stops at the first line containing that text (e.g.
    ``IPCP_UP``), so only the packets before that event count.
    """
    packets: list[LoggedPacket] = []
    for line in text.splitlines():
        if until is not None and until in line:
            break
        match = _PACKET.search(line)
        if match:
            packets.append(LoggedPacket(match.group(1), match.group(2), match.group(3) or ""))
    return packets


def count_sent(packets: list[LoggedPacket]) -> dict[tuple[str, str], int]:
    """How many packets of each (protocol, code) were sent."""
    counts: dict[tuple[str, str], int] = {}
    for packet in packets:
        if packet.direction == "sent":
            key = (packet.protocol, packet.code)
            counts[key] = counts.get(key, 0) + 1
    return counts


def protocol_number(name: str) -> int | None:
    """The PPP protocol number for pppd's name (``"LCP"`` or ``"proto=0x8281"``)."""
    if name.startswith("proto=0x"):
        return int(name.removeprefix("proto=0x"), 16)
    return PROTOCOL_NUMBERS.get(name)


def code_number(protocol: str, code: str) -> int | None:
    """The code number for pppd's code name (``"ConfReq"`` -> 1, ``"code=0x9"`` -> 9)."""
    if code.startswith("code=0x"):
        return int(code.removeprefix("code=0x"), 16)
    names = CODE_NAMES.get(protocol, ())
    if code in names and code:
        return names.index(code) + 1
    return None


def packet_numbers(packet: LoggedPacket) -> tuple[int | None, int | None]:
    """(protocol number, code number) of a logged packet, None where unknown."""
    return protocol_number(packet.protocol), code_number(packet.protocol, packet.code)
