"""CCP on one link: the automaton, the methods in force, and the reset dialogue.

When CCP opens, the compressor and decompressor of the negotiated methods
are made; when it goes down they are dropped and datagrams go plain.
A compressed packet that cannot be recovered sends a Reset-Request (one at a
time, repeated after ``RESET_TIMEOUT`` if more packets failed meanwhile, as
pppd's RACK_PENDING/RREQ_REPEAT); the peer resets its compressor and answers
Reset-Ack, which resets our decompressor.  A Reset-Request from the peer
resets our compressor before we acknowledge it, so nothing compressed after
the reset refers to the old history.

Sans-I/O: packets leave through the automaton's ``drain()``; the reset timer
is ``get_timer()`` / ``handle_timer(now)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ndiswan.ppp.automaton import Automaton, CodeReceived
from ndiswan.ppp.ccp.methods import (
    PROTO_COMPRESSED,
    Compressor,
    Decompressed,
    DecompressFailed,
    Decompressor,
)
from ndiswan.ppp.ccp.negotiation import MPPE, CcpOptions, CcpPolicy
from ndiswan.ppp.constants import Proto
from ndiswan.ppp.events import LogLevel, LogLine
from ndiswan.ppp.fsm import Timing

RESET_REQUEST, RESET_ACK = 14, 15
#: pppd's RACKTIMEOUT: how long a Reset-Request waits for its Reset-Ack.
RESET_TIMEOUT = 1.0


@dataclass
class CcpStats:
    """What compression did on this link (``status`` shows the ratios)."""

    compressed_sent: int = 0
    #: Datagrams sent as they were (the method could not shrink them).
    uncompressed_sent: int = 0
    #: Payload octets offered to the compressor, and octets it put on the wire.
    bytes_before: int = 0
    bytes_after: int = 0
    compressed_received: int = 0
    #: Octets of datagrams received while a method was up (compressed or not), and
    #: what they were once decompressed.
    received_before: int = 0
    received_after: int = 0
    decompress_failures: int = 0
    resets_requested: int = 0
    resets_acked: int = 0
    #: Compressed packets that arrived while CCP was not open.
    dropped_not_open: int = 0


class CcpControl:
    """CCP's automaton and the per-direction methods it negotiated."""

    def __init__(self, policy: CcpPolicy, timing: Timing, mru: int) -> None:
        self.options = CcpOptions(policy)
        self.automaton = Automaton(
            Proto.CCP, "CCP", self.options, timing, extra_codes=(RESET_REQUEST, RESET_ACK)
        )
        self.mru = mru
        self.stats = CcpStats()
        self.compressor: Compressor | None = None
        self.decompressor: Decompressor | None = None
        self._reset_id: int | None = None
        self._reset_deadline: float | None = None
        self._repeat_reset = False

    # -- CCP's life --------------------------------------------------------

    def up(self) -> LogLine:
        """CCP opened: make the methods; pppd's notice saying what is enabled."""
        sending, receiving = self.options.transmit, self.options.receive
        keys = self.options.mppe_keys
        self.compressor = sending.compressor(keys) if sending else None
        self.decompressor = receiving.decompressor(self.mru, keys) if receiving else None
        self._reset_id, self._reset_deadline, self._repeat_reset = None, None, False
        if sending and receiving:
            if sending == receiving:
                text = f"{sending.description} compression enabled"
            else:
                text = f"{receiving.description} / {sending.description} compression enabled"
        elif receiving:
            text = f"{receiving.description} receive compression enabled"
        elif sending:
            text = f"{sending.description} transmit compression enabled"
        else:
            text = "CCP is up with no compression method"
        return LogLine(text, LogLevel.NOTICE)

    @property
    def encrypting(self) -> bool:
        """MPPE is up both ways."""
        sending, receiving = self.options.transmit, self.options.receive
        return (
            self.compressor is not None
            and self.decompressor is not None
            and sending is not None
            and receiving is not None
            and sending.kind == receiving.kind == MPPE
        )

    def down(self) -> None:
        """CCP left Opened: datagrams go uncompressed both ways."""
        self.compressor = self.decompressor = None
        self._reset_id, self._reset_deadline, self._repeat_reset = None, None, False

    @property
    def method_names(self) -> tuple[str, str]:
        """(sending, receiving) as pppd names them; "" when that direction is plain."""
        sending = self.options.transmit if self.compressor else None
        receiving = self.options.receive if self.decompressor else None
        return (
            sending.description if sending else "",
            receiving.description if receiving else "",
        )

    # -- the data path -----------------------------------------------------

    def compress(self, protocol: int, payload: bytes) -> tuple[int, bytes]:
        """The protocol and information field to send this datagram as."""
        compressor = self.compressor
        if compressor is None:
            return protocol, payload
        packed = compressor.compress(protocol, payload)
        self.stats.bytes_before += len(payload)
        if packed is None:
            self.stats.uncompressed_sent += 1
            self.stats.bytes_after += len(payload)
            return protocol, payload
        self.stats.compressed_sent += 1
        self.stats.bytes_after += len(packed)
        return PROTO_COMPRESSED, packed

    def received_plain(self, protocol: int, payload: bytes) -> None:
        """An uncompressed datagram arrived: the decompressor's history takes it in."""
        if self.decompressor is not None:
            self.decompressor.incompressible(protocol, payload)
            self.stats.received_before += len(payload)
            self.stats.received_after += len(payload)

    def decompress(self, data: bytes, now: float) -> Decompressed | DecompressFailed:
        """One 0x00FD packet; a failure asks the peer for a reset where it must."""
        decompressor = self.decompressor
        if decompressor is None:
            self.stats.dropped_not_open += 1
            return DecompressFailed("CCP is not open for receiving", reset=False)
        result = decompressor.decompress(data)
        if isinstance(result, DecompressFailed):
            self.stats.decompress_failures += 1
            # Every failure asks (or marks the pending request for repeating): a
            # decompressor waiting for its Reset-Ack stays stuck until one comes.
            self._request_reset(now)
            return result
        self.stats.compressed_received += 1
        self.stats.received_before += len(data)
        self.stats.received_after += len(result.payload)
        return result

    # -- the reset dialogue ------------------------------------------------

    def _request_reset(self, now: float) -> None:
        if self._reset_id is not None:
            self._repeat_reset = True  # pppd's RREQ_REPEAT: ask again when the wait ends
            return
        self._reset_id = self.automaton.send_code(RESET_REQUEST, b"")
        self._reset_deadline = now + RESET_TIMEOUT
        self.stats.resets_requested += 1

    def code_received(self, packet: CodeReceived) -> None:
        """A Reset-Request or Reset-Ack from the peer (CCP is Opened)."""
        if packet.code == RESET_REQUEST:
            if self.compressor is not None:
                self.compressor.reset()
            self.automaton.send_code(RESET_ACK, b"", packet.identifier)
        elif packet.code == RESET_ACK and packet.identifier == self._reset_id:
            if self.decompressor is not None:
                self.decompressor.reset()
            self.stats.resets_acked += 1
            self._reset_id, self._reset_deadline, self._repeat_reset = None, None, False

    def get_timer(self) -> float | None:
        return self._reset_deadline

    def handle_timer(self, now: float) -> None:
        if self._reset_deadline is None or now < self._reset_deadline:
            return
        if self._repeat_reset and self._reset_id is not None:
            self.automaton.send_code(RESET_REQUEST, b"", self._reset_id)
            self._reset_deadline = now + RESET_TIMEOUT
            self._repeat_reset = False
            self.stats.resets_requested += 1
        else:
            # The Reset-Ack was lost: the next failure may ask again.
            self._reset_id, self._reset_deadline = None, None
