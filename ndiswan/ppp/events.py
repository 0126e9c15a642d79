"""What a PPP session reports: small frozen records, read with ``drain()``.

The driver turns them into actions: ``LinkInfoNegotiated`` into
OID_WAN_CO_SET_LINK_INFO on the miniport, ``NetworkUp`` into addresses on the
TUN interface, ``DatagramReceived`` into a write to it, ``LinkTerminated``
into a hang-up and pppd's exit status, ``LogLine`` (the contract's, from
``wanminiport.sansio``) into the log.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from ndiswan.ppp.multilink.endpoint import EndpointDiscriminator
from wanminiport.exitcodes import ExitCode

# The contract's log record and levels, re-exported: every PPP part logs with them.
from wanminiport.sansio import LogLevel as LogLevel
from wanminiport.sansio import LogLine as LogLine


class Phase(enum.Enum):
    """RFC 1661 section 3.2 link phases."""

    DEAD = "dead"
    ESTABLISH = "establish"
    AUTHENTICATE = "authenticate"
    NETWORK = "network"
    TERMINATE = "terminate"


class AuthRole(enum.Enum):
    #: We check the peer's credentials.
    AUTHENTICATOR = "authenticator"
    #: We prove ours to the peer.
    PEER = "peer"


@dataclass(frozen=True)
class PhaseChanged:
    phase: Phase


@dataclass(frozen=True)
class LinkInfoNegotiated:
    """LCP reached Opened: what the miniport must apply (SET_LINK_INFO).

    ``send_*`` describe frames we transmit (the peer's wishes: its MRU and
    receive ACCM, whether it accepts PFC/ACFC); ``recv_*`` frames we receive.

    Multilink (RFC 1990): ``multilink`` is True when both MRRUs were
    acknowledged, as pppd joins a bundle only then; ``peer_mrru`` bounds the
    reassembled packets we send, ``local_mrru`` those we receive (each None
    when not negotiated); ``send_short_seq`` / ``recv_short_seq`` say whether
    fragments we send / receive carry 12-bit sequence numbers (the peer's
    SSNHF / ours); ``peer_endpoint`` is the peer's Endpoint Discriminator.
    """

    send_mru: int
    recv_mru: int
    send_accm: int
    recv_accm: int
    send_pfc: bool
    send_acfc: bool
    recv_pfc: bool
    recv_acfc: bool
    local_magic: int
    peer_magic: int
    multilink: bool = False
    peer_mrru: int | None = None
    local_mrru: int | None = None
    send_short_seq: bool = False
    recv_short_seq: bool = False
    peer_endpoint: EndpointDiscriminator | None = None

    @property
    def mtu(self) -> int:
        """The largest datagram worth sending: the smaller of the two MRUs."""
        return min(self.send_mru, self.recv_mru)


@dataclass(frozen=True)
class AuthSucceeded:
    protocol: str
    role: AuthRole
    #: The name the peer authenticated as (authenticator role) or ours (peer role).
    name: str


@dataclass(frozen=True)
class AuthFailed:
    protocol: str
    role: AuthRole
    message: str


@dataclass(frozen=True)
class NetworkUp:
    """IPCP reached Opened: IPv4 datagrams may flow."""

    local: ipaddress.IPv4Address
    remote: ipaddress.IPv4Address
    dns1: ipaddress.IPv4Address | None = None
    dns2: ipaddress.IPv4Address | None = None


@dataclass(frozen=True)
class Ipv6Up:
    """IPV6CP reached Opened: the two 64-bit interface identifiers."""

    local_id: bytes
    remote_id: bytes

    @property
    def local_address(self) -> ipaddress.IPv6Address:
        return link_local(self.local_id)

    @property
    def remote_address(self) -> ipaddress.IPv6Address:
        return link_local(self.remote_id)


def link_local(interface_id: bytes) -> ipaddress.IPv6Address:
    """fe80::/64 with ``interface_id`` as the low 64 bits."""
    return ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + interface_id[:8].rjust(8, b"\0"))


@dataclass(frozen=True)
class NetworkDown:
    """IPCP (``ip_version`` 4) or IPV6CP (6) left Opened."""

    ip_version: int


@dataclass(frozen=True)
class DatagramReceived:
    protocol: int
    payload: bytes


@dataclass(frozen=True)
class LinkTerminated:
    """The link is back in the Dead phase; ``exit_code`` is what pppd would exit with."""

    reason: str
    exit_code: ExitCode


@dataclass(frozen=True)
class MemberReady:
    """Multilink: LCP (with both MRRUs) and authentication are done on this link.

    The link does not run NCPs of its own: it is ready to join the bundle of
    ``peer_name`` (the name the peer authenticated as, empty without
    authentication) and ``link.peer_endpoint`` (RFC 1990 section 5.1.3).
    """

    peer_name: str
    link: LinkInfoNegotiated


@dataclass(frozen=True)
class BundleFrameReceived:
    """Multilink: a frame for the bundle arrived on this member link.

    Protocol 0x003d (a fragment) or a bundle protocol sent whole on a member
    (an NCP or a datagram, RFC 1990 section 3); ``info`` follows the protocol
    field.
    """

    protocol: int
    info: bytes


@dataclass(frozen=True)
class BundleProtocolUnsupported:
    """Multilink: the bundle received a packet of a protocol it does not run.

    LCP runs per member, so the driver has a member's LCP send the
    Protocol-Reject, as pppd does for its bundle (otherwise the peer keeps
    sending, e.g. CCP and IPV6CP Configure-Requests until it gives up).
    ``info`` follows the protocol field.
    """

    protocol: int
    info: bytes


@dataclass(frozen=True)
class BundleProtocolRejected:
    """Multilink: the peer Protocol-Rejected a bundle protocol (an NCP) on a
    member's LCP; the driver tells the bundle, whose NCP then stops (RXJ-)."""

    protocol: int


@dataclass(frozen=True)
class CloseRequested:
    """Multilink: the bundle's NCPs want the link closed (IPCP failed, no network
    protocol left): the driver terminates every member with ``reason``."""

    reason: str
    exit_code: ExitCode


@dataclass(frozen=True)
class ProtocolError:
    """An input the RFC 1661 automaton has no rule for (nothing changed).

    ``by_peer`` is True when a received packet caused it, False when a call
    by the driver did (e.g. ``lower_up`` twice).
    """

    protocol: str
    state: str
    input: str
    by_peer: bool


Event = (
    PhaseChanged
    | LinkInfoNegotiated
    | AuthSucceeded
    | AuthFailed
    | NetworkUp
    | Ipv6Up
    | NetworkDown
    | DatagramReceived
    | LinkTerminated
    | LogLine
    | MemberReady
    | BundleFrameReceived
    | BundleProtocolUnsupported
    | BundleProtocolRejected
    | CloseRequested
    | ProtocolError
)
