"""The Multilink header (RFC 1990 section 3): protocol 0x003d's information field.

Long format (the default): ``B E 0 0 0 0 0 0`` then a 24-bit sequence number.
Short format (negotiated with LCP option 18): ``B E 0 0`` and a 12-bit
sequence number in two octets.  B marks a packet's first fragment, E its last.
The reserved bits are sent as zero and ignored on receipt, as Linux's
ppp_generic does.  Sequence numbers wrap, so they are compared with serial
number arithmetic (RFC 1982 style): the signed distance from one to another is
taken modulo the space and lies in ``(-space/2, space/2]``.

As everywhere in ``ndiswan.ppp``, the parser returns ``None`` for what the
peer got wrong and never raises; ``ValueError`` means we asked for something
impossible (a sequence number that does not fit its format).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The PPP protocol number of a Multilink fragment.
PROTOCOL_MULTILINK = 0x003D
#: Bits of a sequence number in each format.
LONG_BITS = 24
SHORT_BITS = 12
#: Header length in octets in each format.
LONG_HEADER = 4
SHORT_HEADER = 2

_BEGIN = 0x80
_END = 0x40


def header_length(short: bool) -> int:
    return SHORT_HEADER if short else LONG_HEADER


def sequence_bits(short: bool) -> int:
    return SHORT_BITS if short else LONG_BITS


def sequence_add(sequence: int, count: int, bits: int) -> int:
    """``sequence + count`` in a space of ``bits`` bits (wraps around)."""
    return (sequence + count) & ((1 << bits) - 1)


def sequence_distance(later: int, earlier: int, bits: int) -> int:
    """Signed steps from ``earlier`` to ``later``, in ``(-2**(bits-1), 2**(bits-1)]``."""
    space = 1 << bits
    distance = (later - earlier) & (space - 1)
    return distance - space if distance > space // 2 else distance


def sequence_before(first: int, second: int, bits: int) -> bool:
    """Whether ``first`` comes strictly before ``second`` across the wrap."""
    return sequence_distance(second, first, bits) > 0


@dataclass(frozen=True)
class Fragment:
    """One fragment: its header bits, its sequence number and its octets."""

    sequence: int
    begin: bool
    end: bool
    payload: bytes = b""

    def encode(self, short: bool) -> bytes:
        """Header and payload, the information field of a 0x003d frame."""
        bits = sequence_bits(short)
        if not 0 <= self.sequence < 1 << bits:
            raise ValueError(f"sequence number {self.sequence} does not fit in {bits} bits")
        flags = (_BEGIN if self.begin else 0) | (_END if self.end else 0)
        if short:
            return bytes((flags | self.sequence >> 8, self.sequence & 0xFF)) + self.payload
        return bytes((flags,)) + self.sequence.to_bytes(3, "big") + self.payload


def parse_fragment(data: bytes, short: bool) -> Fragment | None:
    """The fragment in a 0x003d information field; None when shorter than its header.

    An empty payload is accepted: a fragment that carries nothing still moves
    its link's sequence number, which some senders use on idle links.
    """
    need = header_length(short)
    if len(data) < need:
        return None
    flags = data[0]
    begin, end = bool(flags & _BEGIN), bool(flags & _END)
    sequence = ((flags & 0x0F) << 8 | data[1]) if short else int.from_bytes(data[1:4], "big")
    return Fragment(sequence, begin, end, bytes(data[need:]))
