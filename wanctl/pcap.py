"""A pcap writer for PPP links, readable by Wireshark and tshark while it grows.

The file is classic pcap (microsecond timestamps) with link type
LINKTYPE_PPP_WITH_DIR (204): each packet starts with one direction byte,
0 for a frame this host received and 1 for one it sent, followed by the
PPP frame as RFC 1662 puts it in HDLC-like framing without flags, FCS or
byte stuffing.  Frames are normalised so every decoder parses them the same
way: address and control ``FF 03`` are added when the frame has them
compressed away (ACFC), and a one-byte protocol field (PFC) is widened to
two bytes.

Each packet is written and flushed at once, so ``tshark -r`` on a live
capture sees every frame handed to ``write`` so far.  The file is bounded:
packets are cut at ``snaplen`` and, past ``max_bytes``, packets are counted
in ``dropped`` instead of written.
"""

from __future__ import annotations

import enum
import os
import struct
import time
from typing import BinaryIO

LINKTYPE_PPP_WITH_DIR = 204
PCAP_MAGIC = 0xA1B2C3D4
DEFAULT_SNAPLEN = 65535
_GLOBAL_HEADER = struct.Struct("<IHHiIII")
_RECORD_HEADER = struct.Struct("<IIII")
_ADDRESS_CONTROL = b"\xff\x03"


class Direction(enum.IntEnum):
    """The LINKTYPE_PPP_WITH_DIR direction byte."""

    RECEIVED = 0
    SENT = 1


def normalize_frame(frame: bytes) -> bytes:
    """``frame`` with address/control present and a two-byte protocol field.

    A protocol field's first byte is even for two-byte protocols (RFC 1661
    section 2), so an odd first byte after the address/control field is a
    compressed one-byte protocol.
    """
    body = frame[2:] if frame.startswith(_ADDRESS_CONTROL) else frame
    if body and body[0] & 1:
        body = b"\x00" + body
    return _ADDRESS_CONTROL + body


class PcapWriter:
    """Writes PPP frames to a pcap file (LINKTYPE_PPP_WITH_DIR), flushed per packet."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        snaplen: int = DEFAULT_SNAPLEN,
        max_bytes: int | None = None,
    ) -> None:
        if snaplen < 8:
            raise ValueError("snaplen must leave room for the PPP header")
        self.path = os.fspath(path)
        self.snaplen = snaplen
        self.max_bytes = max_bytes
        self.packets = 0
        self.dropped = 0
        self._file: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 (kept open)
        header = _GLOBAL_HEADER.pack(PCAP_MAGIC, 2, 4, 0, 0, snaplen, LINKTYPE_PPP_WITH_DIR)
        self._file.write(header)
        self._file.flush()
        self.size = len(header)

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, frame: bytes, direction: Direction, timestamp: float | None = None) -> bool:
        """Record one PPP frame; False when the size bound dropped it."""
        if self._file is None:
            raise ValueError("pcap file is closed")
        packet = bytes([int(direction)]) + normalize_frame(frame)
        captured = packet[: self.snaplen]
        record_size = _RECORD_HEADER.size + len(captured)
        if self.max_bytes is not None and self.size + record_size > self.max_bytes:
            self.dropped += 1
            return False
        when = time.time() if timestamp is None else timestamp
        seconds = int(when)
        micros = min(round((when - seconds) * 1_000_000), 999_999)
        self._file.write(
            _RECORD_HEADER.pack(seconds, micros, len(captured), len(packet)) + captured
        )
        self._file.flush()
        self.size += record_size
        self.packets += 1
        return True

    def sent(self, frame: bytes, timestamp: float | None = None) -> bool:
        return self.write(frame, Direction.SENT, timestamp)

    def received(self, frame: bytes, timestamp: float | None = None) -> bool:
        return self.write(frame, Direction.RECEIVED, timestamp)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def closed(self) -> bool:
        return self._file is None
