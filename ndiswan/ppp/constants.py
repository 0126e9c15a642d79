"""PPP numbers: protocol field values, packet codes, option types, pppd exit codes.

Values come from RFC 1661 (LCP), RFC 1334 (PAP), RFC 1994 (CHAP), RFC 1332 and
RFC 1877 (IPCP), RFC 5072 (IPV6CP), RFC 1962 (CCP) and pppd's ``pppd.h``.
"""

from __future__ import annotations

import enum

# pppd's exit codes are defined once, at the bottom layer (pure data, no I/O).


class Proto(enum.IntEnum):
    """PPP protocol field values this core knows by name."""

    IP = 0x0021
    VJ_COMPRESSED = 0x002D
    VJ_UNCOMPRESSED = 0x002F
    IPV6 = 0x0057
    COMPRESSED_DATAGRAM = 0x00FD
    IPCP = 0x8021
    IPV6CP = 0x8057
    CCP = 0x80FD
    LCP = 0xC021
    PAP = 0xC023
    LQR = 0xC025
    CHAP = 0xC223
    EAP = 0xC227


class Code(enum.IntEnum):
    """Control packet codes (RFC 1661 section 5); LCP uses them all, NCPs 1-7."""

    CONFIGURE_REQUEST = 1
    CONFIGURE_ACK = 2
    CONFIGURE_NAK = 3
    CONFIGURE_REJECT = 4
    TERMINATE_REQUEST = 5
    TERMINATE_ACK = 6
    CODE_REJECT = 7
    PROTOCOL_REJECT = 8
    ECHO_REQUEST = 9
    ECHO_REPLY = 10
    DISCARD_REQUEST = 11
    IDENTIFICATION = 12
    TIME_REMAINING = 13


class LcpOpt(enum.IntEnum):
    """LCP configuration option types."""

    MRU = 1
    ACCM = 2
    AUTH_PROTOCOL = 3
    QUALITY_PROTOCOL = 4
    MAGIC_NUMBER = 5
    PFC = 7
    ACFC = 8
    CALLBACK = 13
    MRRU = 17
    SSNHF = 18
    ENDPOINT_DISCRIMINATOR = 19


class IpcpOpt(enum.IntEnum):
    """IPCP configuration option types (RFC 1332, RFC 1877)."""

    IP_ADDRESSES = 1
    IP_COMPRESSION = 2
    IP_ADDRESS = 3
    PRIMARY_DNS = 129
    PRIMARY_NBNS = 130
    SECONDARY_DNS = 131
    SECONDARY_NBNS = 132


class Ipv6cpOpt(enum.IntEnum):
    """IPV6CP configuration option types (RFC 5072)."""

    INTERFACE_IDENTIFIER = 1
    IPV6_COMPRESSION = 2


#: CHAP algorithm number for MD5 (RFC 1994).
CHAP_MD5 = 5
#: Algorithms pppd prints by name in ``<auth chap ...>``.
CHAP_MSCHAP = 0x80
CHAP_MSCHAP_V2 = 0x81

#: pppd's smallest MRU it lets a peer ask for (``MINMRU``).
MIN_MRU = 128
#: RFC 1661 default MRU.
DEFAULT_MRU = 1500
#: RFC 1662 default ACCM: every control character escaped.
DEFAULT_ACCM = 0xFFFFFFFF
#: Control packet header: code, identifier, 16-bit length.
HEADER_LEN = 4


#: Names pppd uses for protocols in its warnings ("Unsupported protocol ...").
PROTOCOL_NAMES: dict[int, str] = {
    0x0021: "IP",
    0x002B: "Novell IPX",
    0x002D: "VJ compressed TCP/IP",
    0x002F: "VJ uncompressed TCP/IP",
    0x003D: "Multi-Link",
    0x0057: "IPv6",
    0x00FB: "single-link compression",
    0x00FD: "Compressed Datagram",
    0x8021: "Internet Protocol Control Protocol",
    0x802B: "Novell IPX Control Protocol",
    0x803D: "Multi-Link Control Protocol",
    0x8053: "Encryption Control Protocol",
    0x8057: "IPv6 Control Protocol",
    0x80FB: "Single Link Compression Control Protocol",
    0x80FD: "Compression Control Protocol",
    0xC021: "Link Control Protocol",
    0xC023: "Password Authentication Protocol",
    0xC025: "Link Quality Report",
    0xC029: "CallBack Control Protocol (CBCP)",
    0xC223: "Challenge Handshake Authentication Protocol",
    0xC227: "Extensible Authentication Protocol",
}


def protocol_description(proto: int) -> str:
    """``'Compression Control Protocol' (0x80fd)`` or ``0x80fd``, as pppd words it."""
    name = PROTOCOL_NAMES.get(proto)
    return f"'{name}' (0x{proto:x})" if name is not None else f"0x{proto:x}"
