"""What every framer offers: bytes in, frames out; frames in, bytes out.

A framer is a protocol core: it does no I/O, owns no clock (time is an
argument) and never raises on received bytes -- a bad frame is dropped and
counted in ``FramingStats``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from wanminiport.info import LinkInfo


@dataclass
class FramingStats:
    """Receive-side error counters (the miniport folds them into VcStats)."""

    frames_decoded: int = 0
    bytes_decoded: int = 0
    #: Bad FCS (CRC) -- VcStats.crc_errors.
    crc_errors: int = 0
    #: Frames shorter than address/control/protocol + FCS -- alignment errors.
    runts: int = 0
    #: 0x7D 0x7E abort sequences and other escape errors -- framing errors.
    aborts: int = 0
    #: Frames longer than the MRU, or unflagged data beyond the bound --
    #: buffer overruns.
    oversize: int = 0
    #: Received control characters in the receive ACCM that were discarded.
    discarded_chars: int = 0


class Framer(Protocol):
    """The interface the miniport drives; PPP, SLIP and RAS framers implement it."""

    stats: FramingStats

    def encode(self, frame: bytes, now: float = 0.0) -> bytes:
        """Wire bytes for one frame (for PPP: the packet from its protocol field)."""
        ...

    def decode(self, data: bytes) -> list[bytes]:
        """Feed received bytes; return the complete, valid frames they finish."""
        ...

    def set_link_info(self, info: LinkInfo) -> None:
        """Apply negotiated ACCMs, framing bits and frame sizes."""
        ...

    def octets_to_frame_end(self) -> int:
        """At least how many octets the frame in progress still needs (0: unknown)."""
        ...
