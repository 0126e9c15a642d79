"""RAS framing: the data portion only, no framing at all (RAS_FRAMING).

There are no flags, escapes or checksum, so nothing on the wire says where a
frame ends.  This framer can therefore only run on a transport that keeps
message boundaries: each read returns exactly one frame and each write
sends exactly one, such as a USB bulk endpoint with one transfer per packet.
On a plain byte stream (a serial port, a pty) reads split and merge frames
arbitrarily; use PPP or SLIP framing there.
"""

from __future__ import annotations

from wanminiport.framing.base import FramingStats
from wanminiport.info import LinkInfo


class RasFramer:
    """No framing: ``encode`` returns the frame, ``decode`` returns each read as one frame.

    A read longer than the MRU (``max_recv_frame_size``) is dropped and
    counted in ``stats.oversize``; an empty read carries no frame.
    """

    def __init__(self, info: LinkInfo | None = None) -> None:
        self.stats = FramingStats()
        self._info = info if info is not None else LinkInfo()
        self._max_frame = self._info.max_recv_frame_size

    def octets_to_frame_end(self) -> int:
        """Unknown for this framing: no length field is read."""
        return 0

    def set_link_info(self, info: LinkInfo) -> None:
        """Only the receive frame size applies to RAS framing."""
        self._info = info
        self._max_frame = info.max_recv_frame_size

    @property
    def link_info(self) -> LinkInfo:
        return self._info

    def encode(self, frame: bytes, now: float = 0.0) -> bytes:
        """The frame itself; the transport must send it as one message."""
        if not frame:
            raise ValueError("RAS framing cannot carry an empty frame")
        return bytes(frame)

    def decode(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """One read from a message-preserving transport: one frame."""
        size = len(data)
        if not size:
            return []
        if size > self._max_frame:
            self.stats.oversize += 1
            return []
        self.stats.frames_decoded += 1
        self.stats.bytes_decoded += size
        return [bytes(data)]
