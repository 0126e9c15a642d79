"""PPP in asynchronous HDLC-like framing (RFC 1662), the miniport's PPP framer.

Wire format of one frame::

    [7E] FF 03 <protocol> <information> <FCS> 7E

with every octet of the escape set sent as 7D followed by the octet XOR 0x20.
NDISWAN hands the framer the packet from its protocol field (protocol-field
compression already applied); the framer adds address/control unless ACFC is
on for sending, the FCS (16 bits, or 32 with ``FramingBits.PPP_FCS32``), the
escapes and the flags.  LCP packets always carry FF 03 (RFC 1661 section
6.6) and have every control character escaped whatever was negotiated, as
Linux ppp_async does for its configuration packets, so that LCP stays
readable before and after the negotiated options take effect.

Speed comes from whole-frame passes instead of per-octet Python loops:

* encode escapes with a chain of ``bytes.replace`` calls when few octets are
  escaped, and with two translates interleaved into octet pairs when many
  are (see ``make_escaper``);
* decode splits each received chunk on the flag once, drops ACCM characters
  from the whole chunk with one ``bytes.translate``, and removes escapes per
  frame either piece by piece (few escapes) or with a big-integer XOR mask
  (many escapes);
* both FCS flavours run in C (crcmod's extension, zlib).

The framer is a protocol core: no I/O, time passed in, and received garbage
is counted in ``stats`` and dropped, never raised.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable

from wanminiport.framing.base import FramingStats
from wanminiport.framing.fcs import TABLE16, ZLIB_FCS32_GOOD, crc16_raw
from wanminiport.info import DEFAULT_MRU, FramingBits, LinkInfo

FLAG = 0x7E
ESCAPE = 0x7D
ADDRESS_CONTROL = b"\xff\x03"
LCP_PROTOCOL = b"\xc0\x21"
#: The 32 control characters that every LCP packet escapes.
ALL_CONTROLS = 0xFFFFFFFF
#: Address/control (2) and an uncompressed protocol field (2).
MAX_HEADER = 4
#: Seconds of idle line after which a frame opens with its own flag; the
#: value Linux ppp_async uses (``flag_time``, one second).
DEFAULT_FLAG_TIME = 1.0

_FLAG_BYTE = b"\x7e"
_ESCAPE_BYTE = b"\x7d"
_FCS16_GOOD = 0xF0B8
#: Unescaping by XOR mask pays off once escapes are denser than one in this many octets.
_MASK_UNESCAPE_DENSITY = 32
#: Maps an escape octet to 1 and everything else to 0 (the XOR mask's seed).
_ESCAPE_MARKS = bytes(1 if value == ESCAPE else 0 for value in range(256))
#: XOR 0x20 on every octet: the value an escaped octet stands for.
_XOR20 = bytes(value ^ 0x20 for value in range(256))
#: Escape sets up to this size use a chain of replace calls; larger ones the
#: interleave (measured crossover on CPython 3.11, about 12 octets).
_MAX_REPLACE_CHAIN = 8

Escaper = Callable[[bytes], bytes]


def escape_set(accm: int, extra: Iterable[int] = ()) -> frozenset[int]:
    """The octets to escape for a transmit ACCM plus an extra set; 7D and 7E always."""
    controls = {value for value in range(32) if accm >> value & 1}
    return frozenset(controls | set(extra) | {ESCAPE, FLAG})


def make_escaper(octets: frozenset[int]) -> Escaper:
    """A function that escapes ``octets`` (which must include 7D and 7E) in a frame.

    Two strategies, chosen once per escape set:

    * a few octets (ACCM 0, XON/XOFF): a chain of ``bytes.replace``, 7D first
      since every replacement inserts one.  Correct only when no replacement
      yields an octet a later step escapes again (the escaped form of ``c``
      is 7D, c^0x20), i.e. when the set never holds both ``c`` and ``c^0x20``;
    * many octets (ACCM 0xFFFFFFFF), or a set where replace is not safe:
      every octet becomes a pair -- 7D, c^0x20 when escaped, c and a 7E
      sentinel otherwise -- built as two translates interleaved by strided
      slice assignment, then the sentinels are deleted.  7E can appear
      neither unescaped nor as the second octet of a pair (that would need
      0x5E in the set, which is refused), and the cost does not depend on how
      many octets need escaping.
    """
    if ESCAPE not in octets or FLAG not in octets:
        raise ValueError("the escape set must contain 0x7D and 0x7E")
    if FLAG ^ 0x20 in octets:
        raise ValueError("0x5E cannot be escaped: its escaped form 7D 7E is the abort sequence")
    for value in octets:
        if not 0 <= value <= 255:
            raise ValueError(f"escape octet {value!r} is not in 0..255")
    replace_safe = not any(value ^ 0x20 in octets for value in octets)
    if replace_safe and len(octets) <= _MAX_REPLACE_CHAIN:
        return _replace_escaper(octets)
    return _interleave_escaper(octets)


def _replace_escaper(octets: frozenset[int]) -> Escaper:
    others = sorted(octets - {ESCAPE, FLAG})
    chain = tuple((bytes([value]), bytes([ESCAPE, value ^ 0x20])) for value in others)

    def escape_by_replace(data: bytes) -> bytes:
        data = data.replace(b"\x7d", b"\x7d\x5d").replace(b"\x7e", b"\x7d\x5e")
        for octet, escaped in chain:
            data = data.replace(octet, escaped)
        return data

    return escape_by_replace


def _interleave_escaper(octets: frozenset[int]) -> Escaper:
    first = bytes(ESCAPE if value in octets else value for value in range(256))
    second = bytes(value ^ 0x20 if value in octets else FLAG for value in range(256))

    def escape_by_interleave(data: bytes) -> bytes:
        pairs = bytearray(2 * len(data))
        pairs[0::2] = data.translate(first)
        pairs[1::2] = data.translate(second)
        return bytes(pairs).translate(None, _FLAG_BYTE)

    return escape_by_interleave


def unescape(raw: bytes) -> bytes:
    """Remove the 7D escapes from a frame's octets (no flags, no pending escape at the end).

    A 7D escapes the next octet, whatever it is: "7D 7D" is an escaped 7D,
    octet 0x5D (RFC 1662 section 4.2; Linux ppp_async does the same).
    """
    count = raw.count(_ESCAPE_BYTE)
    if not count:
        return raw
    if b"\x7d\x7d" in raw:
        # A run of 7Ds always starts on an octet boundary (only 7D escapes),
        # so pairing left to right, as replace scans, is exact; what is left
        # has no escaped 7D and the cheap methods below apply.
        raw = raw.replace(b"\x7d\x7d", b"\x5d")
        count = raw.count(_ESCAPE_BYTE)
        if not count:
            return raw
    if count * _MASK_UNESCAPE_DENSITY > len(raw):
        return _unescape_by_mask(raw)
    return _unescape_by_pieces(raw)


def ends_in_pending_escape(raw: bytes) -> bool:
    """True when the octets end with an unfinished escape (7D 7E is an abort)."""
    return (len(raw) - len(raw.rstrip(_ESCAPE_BYTE))) % 2 == 1


def _unescape_by_pieces(raw: bytes) -> bytes:
    pieces = raw.split(_ESCAPE_BYTE)
    out = [pieces[0]]
    append = out.append
    xor20 = _XOR20
    for piece in pieces[1:]:
        append(piece[:1].translate(xor20))
        append(piece[1:])
    return b"".join(out)


def _unescape_by_mask(raw: bytes) -> bytes:
    """Unescape with big-integer arithmetic: a few C passes however many escapes.

    Needs ``raw`` without "7D 7D".  In ``raw``'s coordinates, mark escapes
    with 1 (``marks``); shifted one octet later they mark the escaped octets.
    The mask holds 0x20 on escaped octets and 0x7D on escape octets, which
    are then deleted from mask and data alike, leaving a plain XOR.
    """
    size = len(raw)
    marks = int.from_bytes(raw.translate(_ESCAPE_MARKS), "big")
    mask = ((marks >> 8) * 0x20 + marks * ESCAPE).to_bytes(size, "big")
    mask = mask.translate(None, _ESCAPE_BYTE)
    data = raw.translate(None, _ESCAPE_BYTE)
    return (int.from_bytes(data, "big") ^ int.from_bytes(mask, "big")).to_bytes(len(data), "big")


def _control_octets(accm: int) -> bytes:
    return bytes(value for value in range(32) if accm >> value & 1)


class PppAsyncFramer:
    """RFC 1662 asynchronous HDLC-like framing for PPP (the Framer protocol).

    ``extra_escape`` is a set of octets escaped on transmit in addition to the
    ACCM, like pppd's ``escape`` option.  Any octet but 0x5E may be given
    (its escaped form, 7D 7E, is the abort sequence); mind that escaping
    0x20-0x3F sends a control character, which a peer discards if it is in
    the peer's receive ACCM -- pppd refuses that range for this reason.
    ``flag_time`` is the idle time after which a frame gets an opening flag.

    Receive limits: a frame longer than MRU + 4 (address, control, protocol)
    + FCS is dropped as oversize, where the MRU is ``max_recv_frame_size`` but
    never less than 1500 (RFC 1661 section 6.1).  Octets of an unfinished
    frame are held up to twice that (every octet escaped); beyond, the frame
    is counted once as oversize and dropped up to the next flag.
    """

    def __init__(
        self,
        info: LinkInfo | None = None,
        *,
        extra_escape: Iterable[int] = (),
        flag_time: float = DEFAULT_FLAG_TIME,
    ) -> None:
        self.stats = FramingStats()
        self.flag_time = flag_time
        self._last_transmit: float | None = None
        self._extra_escape = frozenset(extra_escape)
        # Receive side: escaped octets of the frame in progress, and whether
        # it already overflowed (then it is dropped up to the next flag).
        self._partial = bytearray()
        self._discarding = False
        self._info = info if info is not None else LinkInfo()
        self._configure()

    # -- configuration ------------------------------------------------------

    def set_link_info(self, info: LinkInfo) -> None:
        """OID_WAN_CO_SET_LINK_INFO: apply ACCMs, ACFC and FCS-32 bits, and the MRU."""
        self._info = info
        self._configure()

    def set_extra_escape(self, octets: Iterable[int]) -> None:
        """Escape these octets on transmit as well (pppd's ``escape`` option)."""
        self._extra_escape = frozenset(octets)
        self._configure()

    @property
    def link_info(self) -> LinkInfo:
        return self._info

    def _configure(self) -> None:
        info = self._info
        send_bits = FramingBits(info.send_framing_bits)
        recv_bits = FramingBits(info.recv_framing_bits)
        self._escape = make_escaper(escape_set(info.send_accm, self._extra_escape))
        self._escape_lcp = make_escaper(escape_set(ALL_CONTROLS, self._extra_escape))
        compress = bool(send_bits & FramingBits.PPP_COMPRESS_ADDRESS_CONTROL)
        self._tx_header = b"" if compress else ADDRESS_CONTROL
        self._tx_fcs32 = bool(send_bits & FramingBits.PPP_FCS32)
        self._rx_fcs32 = bool(recv_bits & FramingBits.PPP_FCS32)
        self._rx_fcs_size = 4 if self._rx_fcs32 else 2
        self._rx_discard = _control_octets(info.recv_accm)
        # RFC 1661 section 6.1: even with a smaller MRU negotiated, a full
        # 1500-octet information field must still be received, in case the
        # peer lost link synchronisation.
        mru = max(info.max_recv_frame_size, DEFAULT_MRU)
        self._max_frame = mru + MAX_HEADER + self._rx_fcs_size
        # The longest a valid frame can be on the wire, every octet escaped.
        self._max_raw = 2 * self._max_frame

    # -- transmit -------------------------------------------------------------

    def encode(self, frame: bytes, now: float = 0.0) -> bytes:
        """The wire octets for one PPP packet (protocol field onward).

        An opening flag is sent only on the first frame or when the line has
        been idle for ``flag_time``; back-to-back frames share one flag.
        """
        if not frame:
            raise ValueError("a PPP frame needs at least a protocol field")
        if frame[:2] == LCP_PROTOCOL:
            body = ADDRESS_CONTROL + frame
            escape = self._escape_lcp
        else:
            body = self._tx_header + frame
            escape = self._escape
        if self._tx_fcs32:
            body += zlib.crc32(body).to_bytes(4, "little")
        else:
            body += (crc16_raw(body, 0xFFFF, TABLE16) ^ 0xFFFF).to_bytes(2, "little")
        body = escape(body)
        last = self._last_transmit
        self._last_transmit = now
        if last is None or now - last >= self.flag_time:
            return b"\x7e" + body + b"\x7e"
        return body + b"\x7e"

    # -- receive --------------------------------------------------------------

    def decode(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Feed received octets; return the valid packets they complete.

        Each packet starts at the protocol field: address/control (FF 03) is
        removed when present and the FCS is checked and removed.
        """
        if type(data) is not bytes:
            data = bytes(data)
        stats = self.stats
        if self._rx_discard:
            size = len(data)
            data = data.translate(None, self._rx_discard)
            stats.discarded_chars += size - len(data)
        pieces = data.split(_FLAG_BYTE)
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

        out: list[bytes] = []
        append = out.append
        max_raw = self._max_raw
        max_frame = self._max_frame
        fcs32 = self._rx_fcs32
        fcs_size = self._rx_fcs_size
        min_frame = fcs_size + 1
        crc16 = crc16_raw
        table16 = TABLE16
        crc32 = zlib.crc32
        for raw in raws:
            if not raw:
                continue  # back-to-back flags (or the first flag ever)
            if len(raw) > max_raw:
                stats.oversize += 1
                continue
            if raw[-1] == ESCAPE and ends_in_pending_escape(raw):
                stats.aborts += 1  # 7D 7E: the sender aborted this frame
                continue
            frame = unescape(raw) if _ESCAPE_BYTE in raw else raw
            size = len(frame)
            if size > max_frame:
                stats.oversize += 1
                continue
            if size < min_frame:
                stats.runts += 1
                continue
            if fcs32:
                if crc32(frame) != ZLIB_FCS32_GOOD:
                    stats.crc_errors += 1
                    continue
            elif crc16(frame, 0xFFFF, table16) != _FCS16_GOOD:
                stats.crc_errors += 1
                continue
            if frame[0] == 0xFF:
                if frame[1] != 0x03:
                    stats.aborts += 1  # all-stations address with a bad control field
                    continue
                packet = frame[2:-fcs_size]
            else:
                packet = frame[:-fcs_size]
            if not packet:
                stats.runts += 1
                continue
            append(packet)
        if out:
            stats.frames_decoded += len(out)
            stats.bytes_decoded += sum(map(len, out))
        return out

    def _hold(self, piece: bytes) -> None:
        """Keep the start of an unfinished frame, dropping it once it cannot be valid."""
        if self._discarding or not piece:
            return
        if len(self._partial) + len(piece) > self._max_raw:
            # Counted once; the rest of this frame is dropped up to the next flag.
            self.stats.oversize += 1
            self._discarding = True
            self._partial.clear()
            return
        self._partial += piece

    @property
    def buffered(self) -> int:
        """Octets held for the frame in progress (bounded by twice the largest frame)."""
        return len(self._partial)

    def octets_to_frame_end(self) -> int:
        """At least how many more octets must arrive before the frame in progress can end.

        Known only for an IPv4 or IPv6 datagram whose length field has
        arrived: the frame then needs its whole datagram, its FCS and the
        closing flag, and every escape only adds octets.  Progress is the
        octets held less their escapes (each 7D stands for one octet with
        the next), so the estimate stays tight at any ACCM.  0 when nothing
        is known: no frame in progress, too little of it, another protocol,
        or a length beyond the MRU (a damaged header must not make the
        reader wait long).  A driver may use it to read a busy line once per
        frame instead of once per chunk the device delivers.
        """
        partial = self._partial
        held = len(partial)
        if held < 8 or self._discarding:
            return 0
        head = bytes(partial[:24])
        if ends_in_pending_escape(head):
            head = head[:-1]
        if _ESCAPE_BYTE in head:
            head = unescape(head)
        start = 2 if head[:2] == ADDRESS_CONTROL else 0
        if head[start] & 1:  # a compressed, one-octet protocol field
            protocol, start = head[start], start + 1
        else:
            protocol, start = head[start] << 8 | head[start + 1], start + 2
        if protocol == 0x21 and len(head) >= start + 4:
            datagram = head[start + 2] << 8 | head[start + 3]
        elif protocol == 0x57 and len(head) >= start + 6:
            datagram = 40 + (head[start + 4] << 8 | head[start + 5])
        else:
            return 0
        frame = start + datagram + self._rx_fcs_size
        if frame > self._max_frame:
            return 0
        return max(0, frame + 1 - (held - partial.count(ESCAPE)))

    def reset_receive(self) -> None:
        """Forget any partial frame (e.g. after the line dropped)."""
        self._partial.clear()
        self._discarding = False
