"""A link's data compression: CCP's method per direction and VJ header compression.

The session hands every datagram through here once its NCP is open.  The
order is Linux's ``ppp_generic``: on send, VJ first (an IPv4/TCP datagram
may become 0x002d or 0x002f) and then CCP (any network protocol may become
0x00FD); on receive, CCP first, then VJ.  A datagram received plain while a
CCP decompressor is up still enters its history (``received_plain``), so
both ends' histories stay in step.

Sans-I/O: CCP's packets leave through its automaton; the only timer is the
Reset-Request wait (``get_timer`` / ``handle_timer``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ndiswan.ppp.ccp.control import CcpControl, CcpStats
from ndiswan.ppp.ccp.methods import PROTO_COMPRESSED, DecompressFailed
from ndiswan.ppp.ccp.negotiation import CcpPolicy
from ndiswan.ppp.config import PppConfig
from ndiswan.ppp.constants import Proto
from ndiswan.ppp.fsm import Timing
from ndiswan.ppp.vj import VjCompressor, VjDecompressFailed, VjDecompressor

#: The protocols that carry a compressed datagram: CCP's, and VJ's two.
COMPRESSED_PROTOCOLS = frozenset((PROTO_COMPRESSED, Proto.VJ_COMPRESSED, Proto.VJ_UNCOMPRESSED))
_VJ_PROTOCOLS = (Proto.VJ_COMPRESSED, Proto.VJ_UNCOMPRESSED)


def ccp_policy(config: PppConfig) -> CcpPolicy:
    return CcpPolicy(
        config.deflate, config.deflate_draft, config.bsdcomp, config.mppe, config.mppe_stateful
    )


@dataclass
class VjStats:
    compressed_sent: int = 0
    uncompressed_tcp_sent: int = 0
    #: Header octets VJ saved on what we sent.
    bytes_saved: int = 0
    received: int = 0
    errors: int = 0
    #: Received VJ packets while VJ was not negotiated for receiving.
    dropped_not_negotiated: int = 0


@dataclass(frozen=True)
class Inbound:
    """One received datagram after decompression, or why it was dropped."""

    protocol: int
    payload: bytes
    error: str = ""


class Compression:
    """CCP (when configured) and VJ state for one link."""

    def __init__(self, config: PppConfig, timing: Timing) -> None:
        self.ccp = None if config.noccp else CcpControl(ccp_policy(config), timing, config.mru)
        self.vj_send: VjCompressor | None = None
        self.vj_receive: VjDecompressor | None = None
        self.vj_stats = VjStats()
        #: pppd's require-mppe (the kernel's SC_MUST_COMP): nothing passes in the clear.
        self.must_encrypt = config.require_mppe
        #: Datagrams dropped because they would have crossed unencrypted.
        self.dropped_unencrypted = 0

    # -- VJ's life (IPCP) --------------------------------------------------

    def vj_up(self, send: tuple[int, bool] | None, receive: tuple[int, bool] | None) -> None:
        """IPCP opened: (max slot id, compressed slot id) per direction, None when off."""
        self.vj_send = VjCompressor(*send) if send is not None else None
        self.vj_receive = VjDecompressor(*receive) if receive is not None else None

    def vj_down(self) -> None:
        self.vj_send = self.vj_receive = None

    def line_error(self) -> None:
        """A frame was lost on the line (bad FCS, overrun): VJ tosses until a slot is named."""
        if self.vj_receive is not None:
            self.vj_receive.toss()

    # -- the data path -----------------------------------------------------

    def outbound(self, protocol: int, payload: bytes) -> tuple[int, bytes] | None:
        """The protocol and information field to send one datagram as; None: drop it
        (MPPE is required and not up)."""
        if self.must_encrypt and (self.ccp is None or not self.ccp.encrypting):
            self.dropped_unencrypted += 1
            return None
        vj = self.vj_send
        if vj is not None and protocol == Proto.IP:
            before = len(payload)
            protocol, payload = vj.compress(payload)
            if protocol == Proto.VJ_COMPRESSED:
                self.vj_stats.compressed_sent += 1
                self.vj_stats.bytes_saved += before - len(payload)
            elif protocol == Proto.VJ_UNCOMPRESSED:
                self.vj_stats.uncompressed_tcp_sent += 1
        if self.ccp is not None:
            return self.ccp.compress(protocol, payload)
        return protocol, payload

    def inbound(self, protocol: int, payload: bytes, now: float) -> Inbound:
        """One received frame of a network or compressed protocol, decompressed."""
        ccp = self.ccp
        if self.must_encrypt and (
            protocol != PROTO_COMPRESSED or ccp is None or not ccp.encrypting
        ):
            self.dropped_unencrypted += 1
            return Inbound(protocol, b"", "unencrypted datagram while MPPE is required")
        if protocol == PROTO_COMPRESSED:
            if ccp is None:
                return Inbound(protocol, b"", "compressed packet without CCP")
            result = ccp.decompress(payload, now)
            if isinstance(result, DecompressFailed):
                return Inbound(protocol, b"", result.reason)
            protocol, payload = result.protocol, result.payload
        elif ccp is not None:
            ccp.received_plain(protocol, payload)
        if protocol in _VJ_PROTOCOLS:
            vj = self.vj_receive
            if vj is None:
                self.vj_stats.dropped_not_negotiated += 1
                return Inbound(protocol, b"", "VJ packet, but VJ was not negotiated")
            packet = vj.decompress(protocol, payload)
            if isinstance(packet, VjDecompressFailed):
                self.vj_stats.errors += 1
                return Inbound(protocol, b"", packet.reason)
            self.vj_stats.received += 1
            return Inbound(Proto.IP, packet)
        return Inbound(protocol, payload)

    # -- CCP's timer -------------------------------------------------------

    def get_timer(self) -> float | None:
        return self.ccp.get_timer() if self.ccp is not None else None

    def handle_timer(self, now: float) -> None:
        if self.ccp is not None:
            self.ccp.handle_timer(now)

    def status(self) -> dict[str, object]:
        """Methods per direction and the octets before and after (``wanctl status``)."""
        ccp = self.ccp
        sending, receiving = ccp.method_names if ccp is not None else ("", "")
        stats = ccp.stats if ccp is not None else CcpStats()
        return {
            "send": sending or None,
            "receive": receiving or None,
            "sent": {"before": stats.bytes_before, "after": stats.bytes_after},
            "received": {"before": stats.received_after, "after": stats.received_before},
            "failures": stats.decompress_failures + self.vj_stats.errors,
            "resets": stats.resets_requested,
            "vj": {"send": self.vj_send is not None, "receive": self.vj_receive is not None},
        }


#: ``Compression.status()`` of a link that has none yet.
NO_COMPRESSION_STATUS: dict[str, object] = Compression(PppConfig(), Timing()).status()
