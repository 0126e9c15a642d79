"""The tester's end of the line: crafted frames out, every received frame kept.

The probe does its own RFC 1662 framing rather than the miniport's framer,
because the cases need what a framer hides: the escaped octets as they
were on the wire (did the peer escape what the ACCM asked?), whether the
address/control and protocol fields were compressed, frames with a bad FCS
(which the peer must discard), aborts and back-to-back flags.

Every frame either way goes into the pcap, when there is one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ndiswan.ppp.constants import Proto
from ndiswan.ppp.packet import ControlPacket, parse_control_packet
from wanctl.conformance.line import Line
from wanctl.pcap import PcapWriter
from wanminiport.framing.fcs import fcs16_bytes, fcs16_good

FLAG, ESCAPE = 0x7E, 0x7D
ADDRESS_CONTROL = b"\xff\x03"
ALL_CONTROLS = 0xFFFFFFFF
#: Longest run of octets between two flags kept (a 1500-octet frame, all escaped).
MAX_RAW = 2 * (1500 + 8)
#: Received frames remembered for the report's evidence.
HISTORY = 2000


@dataclass(frozen=True)
class Frame:
    """One frame the peer sent, as it was on the wire and decoded."""

    time: float
    #: The octets between the flags, still escaped.
    raw: bytes
    fcs_ok: bool
    aborted: bool = False
    #: Address and control were present (not compressed away by ACFC).
    address_control: bool = True
    #: The protocol field was one octet (PFC).
    short_protocol: bool = False
    protocol: int = 0
    #: What follows the protocol field.
    info: bytes = b""

    @property
    def control(self) -> ControlPacket | None:
        return parse_control_packet(self.info)

    def is_control(self, protocol: int, *codes: int) -> bool:
        if not self.fcs_ok or self.protocol != protocol:
            return False
        packet = self.control
        return packet is not None and (not codes or packet.code in codes)


def decode_frame(raw: bytes, when: float) -> Frame:
    """``raw`` (between two flags, escaped) as a ``Frame``; never raises."""
    if raw.endswith(bytes((ESCAPE,))):
        return Frame(when, raw, fcs_ok=False, aborted=True)
    body = unescape(raw)
    if len(body) < 4 or not fcs16_good(body):
        return Frame(when, raw, fcs_ok=False)
    body = body[:-2]
    address_control = body.startswith(ADDRESS_CONTROL)
    if address_control:
        body = body[2:]
    if not body:
        return Frame(when, raw, fcs_ok=False)
    if body[0] & 1:
        return Frame(when, raw, True, False, address_control, True, body[0], body[1:])
    if len(body) < 2:
        return Frame(when, raw, fcs_ok=False)
    protocol = body[0] << 8 | body[1]
    return Frame(when, raw, True, False, address_control, False, protocol, body[2:])


def unescape(raw: bytes) -> bytes:
    out = bytearray()
    escaped = False
    for octet in raw:
        if escaped:
            out.append(octet ^ 0x20)
            escaped = False
        elif octet == ESCAPE:
            escaped = True
        else:
            out.append(octet)
    return bytes(out)


def escape(body: bytes, accm: int, extra: frozenset[int] = frozenset()) -> bytes:
    out = bytearray()
    for octet in body:
        if octet in (FLAG, ESCAPE) or (octet < 0x20 and accm >> octet & 1) or octet in extra:
            out += bytes((ESCAPE, octet ^ 0x20))
        else:
            out.append(octet)
    return bytes(out)


@dataclass
class Framing:
    """How the probe frames what it sends: what the peer agreed to receive."""

    accm: int = ALL_CONTROLS
    acfc: bool = False
    pfc: bool = False


class CaseTimeout(Exception):
    """The case ran past its own deadline."""


class Probe:
    def __init__(self, line: Line, pcap: PcapWriter | None = None) -> None:
        self.line = line
        self.pcap = pcap
        self.framing = Framing()
        self.history: deque[Frame] = deque(maxlen=HISTORY)
        self._queue: deque[Frame] = deque(maxlen=HISTORY)
        self._partial = bytearray()
        self._overflow = False
        #: The running case's deadline; expectations past it raise CaseTimeout.
        self.deadline: float | None = None

    def now(self) -> float:
        return self.line.now()

    # -- sending ----------------------------------------------------------

    def frame_octets(
        self,
        protocol: int,
        info: bytes,
        *,
        accm: int | None = None,
        acfc: bool | None = None,
        pfc: bool | None = None,
        good_fcs: bool = True,
    ) -> bytes:
        """The escaped octets of one frame, without flags.

        LCP always goes with address/control, a two-octet protocol and every
        control character escaped (RFC 1662 section 7.1, RFC 1661 6.5/6.6),
        unless the caller says otherwise.
        """
        lcp = protocol == Proto.LCP
        framing = self.framing
        if accm is None:
            accm = ALL_CONTROLS if lcp else framing.accm
        if acfc is None:
            acfc = framing.acfc and not lcp
        if pfc is None:
            pfc = framing.pfc and not lcp and protocol < 0x100 and bool(protocol & 1)
        field = bytes((protocol,)) if pfc else protocol.to_bytes(2, "big")
        body = (b"" if acfc else ADDRESS_CONTROL) + field + info
        fcs = fcs16_bytes(body)
        if not good_fcs:
            fcs = bytes((fcs[0] ^ 0x55, fcs[1]))
        return escape(body + fcs, accm)

    def send(self, protocol: int, info: bytes, **framing: bool | int | None) -> None:
        """One frame, flags on both sides; ``framing`` as for ``frame_octets``."""
        octets = self.frame_octets(protocol, info, **framing)  # type: ignore[arg-type]
        self.send_raw(b"\x7e" + octets + b"\x7e")
        if framing.get("good_fcs", True) and self.pcap is not None:
            self.pcap.sent(protocol.to_bytes(2, "big") + info, self.line.wall_time())

    def send_control(self, protocol: int, code: int, identifier: int, data: bytes = b"") -> None:
        self.send(protocol, ControlPacket(code, identifier, data).encode())

    def send_raw(self, octets: bytes) -> None:
        self.line.write(octets)

    # -- receiving --------------------------------------------------------

    def next_frame(self, until: float) -> Frame | None:
        """The next frame the peer sent, waiting until ``until`` at most."""
        while not self._queue:
            if self.deadline is not None and until > self.deadline:
                until = self.deadline
            if self.line.now() >= until:
                if self.deadline is not None and until >= self.deadline:
                    raise CaseTimeout()
                return None
            self._take(self.line.read(until))
        return self._queue.popleft()

    def expect(self, match: Callable[[Frame], bool], timeout: float) -> Frame | None:
        """The first frame ``match`` accepts within ``timeout``; others are passed over."""
        until = self.line.now() + timeout
        while (frame := self.next_frame(until)) is not None:
            if match(frame):
                return frame
        return None

    def collect(self, seconds: float) -> list[Frame]:
        """Every frame that arrives in the next ``seconds``."""
        until = self.line.now() + seconds
        frames = []
        while (frame := self.next_frame(until)) is not None:
            frames.append(frame)
        return frames

    def unread(self, frame: Frame) -> None:
        """Put ``frame`` back: the next ``next_frame`` gives it again."""
        self._queue.appendleft(frame)

    def discard_pending(self) -> None:
        self._queue.clear()

    def _take(self, data: bytes) -> None:
        if not data:
            return
        pieces = data.split(b"\x7e")
        self._hold(pieces[0])
        for piece in pieces[1:]:
            raw = bytes(self._partial)
            overflowed = self._overflow
            self._partial.clear()
            self._overflow = False
            if raw and not overflowed:
                self._arrived(decode_frame(raw, self.line.now()))
            self._hold(piece)

    def _hold(self, piece: bytes) -> None:
        if self._overflow:
            return
        if len(self._partial) + len(piece) > MAX_RAW:
            self._overflow = True
            self._partial.clear()
            return
        self._partial += piece

    def _arrived(self, frame: Frame) -> None:
        self.history.append(frame)
        self._queue.append(frame)
        if frame.fcs_ok and self.pcap is not None:
            packet = frame.protocol.to_bytes(2, "big") + frame.info
            self.pcap.received(packet, self.line.wall_time())
