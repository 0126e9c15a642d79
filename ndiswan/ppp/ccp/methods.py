"""The one small interface every CCP method speaks: compress, decompress, reset.

CCP (RFC 1962) negotiates a method per direction: the peer's Configure-Request
says how we may compress what we send (a ``Compressor``), ours says what we
accept (a ``Decompressor``).  Encryption (MPPE, RFC 3078) is a CCP method too.

A compressed datagram travels as PPP protocol 0x00FD (0x00FB on a multilink
member).  What a method compresses is the datagram *with* its PPP protocol
field (RFC 1962 section 2.3: the protocol field is compressed too), so
``compress`` takes the protocol and the payload apart and the decompressor
gives them back apart.

Both sides are sans-I/O and keep only bounded state (a history window, a
dictionary, a key schedule): no clock, no timers.  Losing a packet is
signalled by the decompressor (``DecompressFailed.reset``); CCP then sends
Reset-Request, the peer's compressor ``reset()``s and answers Reset-Ack,
which ``reset()``s our decompressor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

#: PPP protocol numbers of a compressed datagram: on a link, on a multilink member.
PROTO_COMPRESSED = 0x00FD
PROTO_COMPRESSED_MEMBER = 0x00FB


@dataclass(frozen=True, slots=True)
class Decompressed:
    """One datagram recovered: its PPP protocol and payload."""

    protocol: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class DecompressFailed:
    """A compressed packet that could not be recovered; it is dropped and counted.

    ``reset`` asks CCP to send a Reset-Request (the histories are out of step).
    """

    reason: str
    reset: bool = True


class Compressor(Protocol):
    """The sending half of one method, as the peer's Configure-Request chose it."""

    #: How pppd names the method in its log ("Deflate", "BSD-Compress", "MPPE").
    name: str

    def compress(self, protocol: int, payload: bytes) -> bytes | None:
        """The information field of a 0x00FD packet carrying this datagram, or None
        to send it as it is (the method could not shrink it and allows that)."""
        ...

    def reset(self) -> None:
        """The peer sent Reset-Request: restart the history (CCP answers Reset-Ack)."""
        ...


class Decompressor(Protocol):
    """The receiving half of one method, as our Configure-Request offered it."""

    name: str

    def decompress(self, data: bytes) -> Decompressed | DecompressFailed:
        """The information field of one received 0x00FD packet."""
        ...

    def incompressible(self, protocol: int, payload: bytes) -> None:
        """A datagram the peer sent uncompressed while this method is up: methods whose
        history also holds what was sent uncompressed (Deflate, BSD) take it in."""
        ...

    def reset(self) -> None:
        """Reset-Ack arrived (or CCP restarted): restart the history."""
        ...
