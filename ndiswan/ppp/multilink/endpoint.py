"""The Endpoint Discriminator (RFC 1990 section 5.1.3, LCP option 19).

It names the system at the far end of a link, so links from one system can
be told from links from another: together with the authenticated name it
decides which bundle a link joins.  The option carries a class octet and an
address whose length the class fixes:

===== ======================================= ==================
class what                                    address length
===== ======================================= ==================
0     null (same as no option)                0
1     locally assigned                        up to 20 octets
2     IPv4 address                            4
3     IEEE 802.1 MAC address                  6
4     PPP Magic-Number block                  4, 8, ... 20
5     public switched network number (E.164)  up to 15
===== ======================================= ==================

Classes 6 and up are reserved.  RFC 1990 gives classes 1 and 5 only a
maximum, so an empty address is allowed there (pppd accepts ``local`` alone
too).  ``EndpointDiscriminator.from_option_data`` returns ``None`` for a
peer's malformed option, as the other wire parsers of ``ndiswan.ppp`` do;
constructing one against the rules raises ``MalformedEndpoint``, and so does
``parse_endpoint`` for a configuration a user must fix.

``parse_endpoint`` reads pppd's ``endpoint`` option (pppd's ``str_to_epdisc``)
and ``str()`` prints one as pppd's debug log does (``epdisc_to_str``):
``MAC:02:11:22:33:44:55``, ``IP:192.0.2.1``, ``magic:5f1d2c3a``, ``local:01.02.03``, ``null``.
"""

from __future__ import annotations

import enum
import ipaddress
import string
from collections.abc import Callable
from dataclasses import dataclass

#: The longest address any class allows (pppd's MAX_ENDP_LEN).
MAX_ADDRESS = 20
#: The longest directory number class 5 allows.
MAX_PHONE = 15


class EndpointClass(enum.IntEnum):
    """The classes RFC 1990 defines; pppd's EPD_* numbers."""

    NULL = 0
    LOCAL = 1
    IP = 2
    MAC = 3
    MAGIC = 4
    PHONE = 5


#: pppd's class names, in its order (used for parsing and printing).
_CLASS_NAMES = ("null", "local", "IP", "MAC", "magic", "phone")


class MalformedEndpoint(ValueError):
    """An endpoint discriminator that breaks RFC 1990's rules or pppd's syntax."""


def _length_error(cls: int, length: int) -> str | None:
    """Why ``length`` octets do not suit class ``cls``; None when they do."""
    if cls == EndpointClass.NULL:
        return None if length == 0 else "a null endpoint discriminator has no address"
    if cls in (EndpointClass.IP, EndpointClass.MAC):
        want = 4 if cls == EndpointClass.IP else 6
        return None if length == want else f"class {cls} needs {want} octets, not {length}"
    if cls == EndpointClass.MAGIC:
        if length % 4 == 0 and 4 <= length <= MAX_ADDRESS:
            return None
        return f"a magic-number block is 1 to 5 numbers of 4 octets, not {length} octets"
    if cls in (EndpointClass.LOCAL, EndpointClass.PHONE):
        most = MAX_ADDRESS if cls == EndpointClass.LOCAL else MAX_PHONE
        return None if length <= most else f"class {cls} allows at most {most} octets"
    return f"endpoint class {cls} is reserved"


@dataclass(frozen=True)
class EndpointDiscriminator:
    """One endpoint discriminator; construction checks RFC 1990's length rules."""

    cls: int
    address: bytes = b""

    def __post_init__(self) -> None:
        problem = _length_error(self.cls, len(self.address))
        if problem is not None:
            raise MalformedEndpoint(problem)

    @classmethod
    def from_option_data(cls, data: bytes) -> EndpointDiscriminator | None:
        """From option 19's data (class octet and address); None when it breaks the rules."""
        if not data or _length_error(data[0], len(data) - 1) is not None:
            return None
        return cls(data[0], bytes(data[1:]))

    def option_data(self) -> bytes:
        return bytes((self.cls,)) + self.address

    def __str__(self) -> str:
        return endpoint_text(self.cls, self.address)


def endpoint_text(cls: int, address: bytes) -> str:
    """pppd's ``epdisc_to_str`` of any class and address, well formed or not."""
    if cls == EndpointClass.NULL and not address:
        return "null"
    if cls == EndpointClass.IP and len(address) == 4:
        return "IP:" + str(ipaddress.IPv4Address(address))
    text = _CLASS_NAMES[cls] if cls < len(_CLASS_NAMES) else str(cls)
    # pppd: MAC octets joined by ':', a magic block in groups of 4, else '.'.
    group, separator = 1, "."
    if cls == EndpointClass.MAC and len(address) == 6:
        separator = ":"
    elif cls == EndpointClass.MAGIC and len(address) % 4 == 0:
        group = 4
    parts = [address[i : i + group].hex() for i in range(0, min(len(address), MAX_ADDRESS), group)]
    return text + (":" + separator.join(parts) if parts else "")


#: Looks up a network interface's MAC address by name (pppd's get_if_hwaddr);
#: the caller supplies it, as the core does no I/O.
InterfaceAddress = Callable[[str], "bytes | None"]


def parse_endpoint(
    text: str, interface_address: InterfaceAddress | None = None
) -> EndpointDiscriminator:
    """pppd's ``endpoint`` syntax: a class name or number, then ``:`` or ``.`` and the address.

    The address is a dotted IPv4 address for ``IP``, an interface name (when
    ``interface_address`` is given) or six hex octets for ``MAC``, and hex
    octets otherwise: groups of hex digits optionally separated by ``:`` or
    ``.``, a group of odd length giving its first digit an octet of its own
    (``1a2b3`` is ``01 a2 b3``), as pppd reads it.
    """
    bad = MalformedEndpoint(f"Can't parse '{text}' as an endpoint discriminator")
    rest = text
    cls: int | None = None
    for number, name in enumerate(_CLASS_NAMES):
        if rest[: len(name)].lower() == name.lower():
            cls, rest = number, rest[len(name) :]
            break
    if cls is None:
        digits = len(rest) - len(rest.lstrip(string.digits))
        if digits == 0:
            raise bad
        cls, rest = int(rest[:digits]), rest[digits:]
    if cls > 0xFF:
        raise bad
    try:
        if not rest:
            return EndpointDiscriminator(cls)
        if rest[0] not in ":.":
            raise bad
        rest = rest[1:]
        if cls == EndpointClass.IP:
            try:
                return EndpointDiscriminator(cls, ipaddress.IPv4Address(rest).packed)
            except ipaddress.AddressValueError:
                raise bad from None
        if cls == EndpointClass.MAC and interface_address is not None:
            found = interface_address(rest)
            if found is not None:
                return EndpointDiscriminator(cls, found)
        return EndpointDiscriminator(cls, _hex_octets(rest, bad))
    except MalformedEndpoint as problem:
        if problem is bad:
            raise
        raise MalformedEndpoint(f"{bad}: {problem}") from None


def _hex_octets(text: str, bad: MalformedEndpoint) -> bytes:
    out = bytearray()
    if not text:
        return bytes(out)  # pppd reads "local:" as an empty address
    groups = text.replace(".", ":").split(":")
    # pppd skips one separator after each octet, so one trailing separator is harmless.
    if len(groups) > 1 and groups[-1] == "":
        groups.pop()
    for group in groups:
        if not group or any(ch not in string.hexdigits for ch in group):
            raise bad
        if len(group) % 2:
            group = "0" + group
        out += bytes.fromhex(group)
        if len(out) > MAX_ADDRESS:
            raise bad
    return bytes(out)
