"""SLIP framing (RFC 1055), the miniport's SLIP_FRAMING.

Each datagram goes out as END, the datagram with END and ESC escaped, END.
The leading END flushes whatever line noise came before, as RFC 1055
recommends.  There is no checksum and no protocol field: a frame is one IP
datagram.

Escapes: END (C0) -> ESC ESC_END (DB DC), ESC (DB) -> ESC ESC_ESC (DB DD).
An ESC followed by anything else (or by END) is a protocol violation; the
frame is dropped and counted in ``stats.aborts``, as Linux's slip driver
drops it.  Decoding splits each chunk on END once and unescapes each frame
with two ``bytes.replace`` calls: no per-octet Python loop.
"""

from __future__ import annotations

from wanminiport.framing.base import FramingStats
from wanminiport.info import LinkInfo

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD

_END = b"\xc0"
_ESC = b"\xdb"
_ESCAPED_END = b"\xdb\xdc"
_ESCAPED_ESC = b"\xdb\xdd"


class SlipFramer:
    """RFC 1055 SLIP (the Framer protocol); frames longer than the MRU are dropped."""

    def __init__(self, info: LinkInfo | None = None) -> None:
        self.stats = FramingStats()
        self._partial = bytearray()
        self._discarding = False
        self._info = info if info is not None else LinkInfo()
        self._configure()

    def octets_to_frame_end(self) -> int:
        """Unknown for this framing: no length field is read."""
        return 0

    def set_link_info(self, info: LinkInfo) -> None:
        """Only the frame sizes apply to SLIP; ACCMs and PPP framing bits are ignored."""
        self._info = info
        self._configure()

    @property
    def link_info(self) -> LinkInfo:
        return self._info

    def _configure(self) -> None:
        self._max_frame = self._info.max_recv_frame_size
        # The longest a valid frame can be on the wire, every octet escaped.
        self._max_raw = 2 * self._max_frame

    def encode(self, frame: bytes, now: float = 0.0) -> bytes:
        """END, the escaped datagram, END."""
        if not frame:
            raise ValueError("SLIP cannot carry an empty datagram")
        # ESC first: the END replacement inserts an ESC.
        body = frame.replace(_ESC, _ESCAPED_ESC).replace(_END, _ESCAPED_END)
        return b"\xc0" + body + b"\xc0"

    def decode(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Feed received octets; return the datagrams they complete."""
        if type(data) is not bytes:
            data = bytes(data)
        pieces = data.split(_END)
        if len(pieces) == 1:
            self._hold(data)
            return []
        raws = pieces[:-1]
        if self._discarding:
            self._discarding = False
            raws[0] = b""
        elif self._partial:
            self._partial += raws[0]
            raws[0] = bytes(self._partial)
            self._partial.clear()
        self._hold(pieces[-1])

        stats = self.stats
        out: list[bytes] = []
        append = out.append
        max_raw = self._max_raw
        max_frame = self._max_frame
        for raw in raws:
            if not raw:
                continue  # END END: empty frames are line-noise flushes
            if len(raw) > max_raw:
                stats.oversize += 1
                continue
            frame = raw
            if _ESC in raw:
                escapes = raw.count(_ESC)
                ends = raw.count(_ESCAPED_END)
                if escapes != ends + raw.count(_ESCAPED_ESC):
                    # Some ESC is followed by neither ESC_END nor ESC_ESC.
                    stats.aborts += 1
                    continue
                if ends:
                    frame = frame.replace(_ESCAPED_END, _END)
                frame = frame.replace(_ESCAPED_ESC, _ESC)
            if len(frame) > max_frame:
                stats.oversize += 1
                continue
            append(frame)
        if out:
            stats.frames_decoded += len(out)
            stats.bytes_decoded += sum(map(len, out))
        return out

    def _hold(self, piece: bytes) -> None:
        if self._discarding or not piece:
            return
        if len(self._partial) + len(piece) > self._max_raw:
            self.stats.oversize += 1
            self._discarding = True
            self._partial.clear()
            return
        self._partial += piece

    @property
    def buffered(self) -> int:
        """Octets held for the frame in progress (bounded by twice the MRU)."""
        return len(self._partial)

    def reset_receive(self) -> None:
        """Forget any partial frame (e.g. after the line dropped)."""
        self._partial.clear()
        self._discarding = False
