"""NDISWAN's bundles (RFC 1990): which links belong together, and their traffic.

A bundle is NDISWAN's, above several member links (one ``PppLink`` per VC,
each with its own LCP and authentication): the NCPs and the TUN interface run
once per bundle.  This module is the sans-I/O core of that: links in by
``BundleTable.join`` once LCP (and authentication) is done, packets in and
fragments out by ``Bundle.send``, fragments in and packets out by
``Bundle.receive``, and time passed in as a number.  The fragmenter and the
reassembler of this package do the RFC 1990 section 4 work.

Which bundle a link joins (RFC 1990 section 5.1.3, as pppd's
``mp_join_bundle`` decides it): links whose peer authenticated with the same
name *and* sent the same Endpoint Discriminator come from one system and
share a bundle; a link whose key differs is never put in someone else's
bundle.  A null discriminator (class 0) counts as none, and a link with no
authentication and no discriminator has the empty key, like pppd's
``BUNDLE=""``.  A link on which multilink was not negotiated (both MRRUs
acknowledged) runs alone and never joins.  All members of a bundle use one
header format and one MRRU each way, so a member whose settings differ from
the bundle's is refused.

The send window of each member is its VC's current SendWindow from
WAN_CO_LINKPARAMS (``Bundle.set_link_params``): a member whose window is 0
gets no fragments until it reopens.  A member gone quiet under traffic is
probed and, unanswered, *suspect* (``liveness``): it gets no fragments and no
longer holds back reassembly until it is heard again, so a cut line costs a
fraction of a second instead of the seconds LCP echo needs to call it dead.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

from ndiswan.ppp.multilink.endpoint import EndpointClass, EndpointDiscriminator
from ndiswan.ppp.multilink.fragmenter import Fragmenter, MemberLink
from ndiswan.ppp.multilink.liveness import Liveness
from ndiswan.ppp.multilink.reassembler import Reassembler, information_length
from wanminiport.sansio import LocalProtocolError

if TYPE_CHECKING:  # events imports this package: a run-time import would be a cycle
    from ndiswan.ppp.events import LinkInfoNegotiated

#: Members that left are kept for ``status()`` up to this many per bundle.
MAX_LEFT_MEMBERS = 8
#: Reassembly holds up to this many MRRUs of octets (and 64 fragments): a fast
#: member runs ahead of a slow one by its lead in time times the bundle's
#: speed, several packets, not the reassembler's default of two MRRUs.
BUFFER_MRRUS = 16


@dataclass(frozen=True)
class BundleKey:
    """What names a bundle: the peer's authenticated name and Endpoint Discriminator.

    ``peer_name`` is empty when the peer did not authenticate; ``endpoint`` is
    None when it sent no discriminator (or a null one, which RFC 1990 says is
    the same).
    """

    peer_name: str = ""
    endpoint: EndpointDiscriminator | None = None

    def __post_init__(self) -> None:
        if self.endpoint is not None and self.endpoint.cls == EndpointClass.NULL:
            object.__setattr__(self, "endpoint", None)

    @classmethod
    def for_link(cls, peer_name: str, link_info: LinkInfoNegotiated) -> BundleKey:
        return cls(peer_name, link_info.peer_endpoint)

    def __str__(self) -> str:
        """As pppd's BUNDLE variable: ``"name"`` then ``/`` and the discriminator."""
        text = '"' + self.peer_name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return text if self.endpoint is None else f"{text}/{self.endpoint}"


@dataclass(frozen=True)
class HeaderFormat:
    """What all members of one bundle must agree on (RFC 1990 sections 5.1.1, 5.1.2)."""

    local_mrru: int
    peer_mrru: int
    send_short_seq: bool
    recv_short_seq: bool

    def mismatch(self, other: HeaderFormat) -> str | None:
        """Why ``other`` cannot join a bundle of this format; None when it can."""
        if other.local_mrru != self.local_mrru or other.peer_mrru != self.peer_mrru:
            return (
                f"MRRU {other.local_mrru}/{other.peer_mrru} (ours/peer's) differs from "
                f"the bundle's {self.local_mrru}/{self.peer_mrru}: the MRRU is per bundle"
            )
        if (other.send_short_seq, other.recv_short_seq) != (
            self.send_short_seq,
            self.recv_short_seq,
        ):
            return (
                f"{_seq_text(other)} sequence numbers differ from the bundle's "
                f"{_seq_text(self)}: all members of a bundle use one header format"
            )
        return None


def _seq_text(fmt: HeaderFormat) -> str:
    send = "short" if fmt.send_short_seq else "long"
    recv = "short" if fmt.recv_short_seq else "long"
    return f"{send}/{recv} (sent/received)"


class MemberState(enum.Enum):
    ACTIVE = "active"
    LEFT = "left"


@dataclass(frozen=True)
class LivenessResult:
    """``Bundle.check_liveness``: members to probe now, and the packets that
    suspecting a member completed (deliver them like ``receive``'s)."""

    probe: tuple[str, ...] = ()
    suspect: tuple[str, ...] = ()
    packets: tuple[bytes, ...] = ()


@dataclass
class Member:
    """One member link of a bundle, with its counters."""

    member_id: str
    speed_bps: int
    send_window: int
    mru: int
    joined_at: float
    state: MemberState = MemberState.ACTIVE
    left_at: float | None = None
    leave_reason: str | None = None
    frames_sent: int = 0
    octets_sent: int = 0
    frames_received: int = 0
    octets_received: int = 0
    errors: int = 0
    last_received_at: float | None = None
    probes: int = 0  # Echo-Requests out of turn (``liveness``)
    suspected: int = 0


@dataclass
class BundleCounters:
    """The bundle's own drops (the reassembler counts its own in ``reassembly``)."""

    packets_sent: int = 0
    packets_received: int = 0
    unsent: int = 0  # no member, or every window shut
    over_mrru: int = 0  # a packet we were asked to send is larger than the peer's MRRU
    not_member: int = 0  # a fragment from a link that is not an active member


@dataclass(frozen=True)
class MemberStatus:
    member_id: str
    state: str
    speed_bps: int
    send_window: int
    share: float  # fraction of the bundle's sent octets that went on this member
    frames_sent: int
    octets_sent: int
    frames_received: int
    octets_received: int
    errors: int
    leave_reason: str | None
    probes: int
    suspected: int


@dataclass(frozen=True)
class BundleStatus:
    """For ``wanctl status``: ``dataclasses.asdict`` of it is plain JSON."""

    key: str
    ended: bool
    members: tuple[MemberStatus, ...]
    packets_sent: int
    packets_received: int
    lost: int
    dropped: int


@dataclass(frozen=True)
class JoinResult:
    """What ``BundleTable.join`` decided.

    ``new_bundle`` means the caller must start IPCP/IPV6CP (and CCP) for the
    bundle; a later member joins NCPs already running.  ``refused`` says why
    the link was not admitted (then ``bundle`` is None).
    """

    member_id: str
    bundle: Bundle | None
    new_bundle: bool = False
    rejoined: bool = False
    refused: str | None = None

    @property
    def accepted(self) -> bool:
        return self.refused is None


@dataclass(frozen=True)
class LeaveResult:
    """A member left.  ``ended``: the bundle is over, close its NCPs and its TUN.

    ``packets`` are those the member held back (its M) and that its leaving
    completed: deliver them like ``receive``'s.
    """

    member_id: str
    reason: str
    ended: bool
    packets: tuple[bytes, ...] = ()


class Bundle:
    """One bundle: its members, one fragmenter and one reassembler."""

    def __init__(self, key: BundleKey, fmt: HeaderFormat, now: float) -> None:
        self.key = key
        self.format = fmt
        self.created_at = now
        self.ended = False
        self.counters = BundleCounters()
        self.members: OrderedDict[str, Member] = OrderedDict()
        self.fragmenter = Fragmenter(short=fmt.send_short_seq)
        self.reassembler = Reassembler(
            mrru=fmt.local_mrru,
            short=fmt.recv_short_seq,
            max_octets=BUFFER_MRRUS * fmt.local_mrru,
        )
        self.liveness = Liveness()

    @property
    def active(self) -> list[Member]:
        return [m for m in self.members.values() if m.state is MemberState.ACTIVE]

    def add(self, member_id: str, speed_bps: int, send_window: int, mru: int, now: float) -> bool:
        """Admit a member (True when it had been a member before: a rejoin)."""
        if self.ended:
            raise LocalProtocolError(f"bundle {self.key} has ended; make a new one")
        old = self.members.pop(member_id, None)
        if old is not None and old.state is MemberState.ACTIVE:
            raise LocalProtocolError(f"{member_id} is already a member of bundle {self.key}")
        member = Member(member_id, speed_bps, send_window, mru, now)
        if old is not None:  # a rejoin keeps the counters of the same line
            member = replace(old, speed_bps=speed_bps, send_window=send_window, mru=mru)
            member.joined_at, member.state, member.left_at = now, MemberState.ACTIVE, None
        self.members[member_id] = member
        self.reassembler.add_member(member_id)
        self.liveness.add(member_id, now)
        return old is not None

    def leave(self, member_id: str, reason: str, now: float) -> LeaveResult:
        """A member died (line cut, carrier lost, LCP echo failure, hang-up)."""
        member = self._active(member_id)
        member.state, member.left_at, member.leave_reason = MemberState.LEFT, now, reason
        self.members.move_to_end(member_id)
        left = [m for m in self.members.values() if m.state is MemberState.LEFT]
        for stale in left[: max(0, len(left) - MAX_LEFT_MEMBERS)]:
            del self.members[stale.member_id]
        packets = self.reassembler.remove_member(member_id)
        self.liveness.remove(member_id)
        self.counters.packets_received += len(packets)
        if not self.active:
            self.ended = True
        return LeaveResult(member_id, reason, self.ended, tuple(packets))

    def set_link_params(
        self,
        member_id: str,
        now: float,
        send_window: int | None = None,
        speed_bps: int | None = None,
    ) -> None:
        """WAN_CO_LINKPARAMS for a member's VC: a new SendWindow and/or speed."""
        member = self._active(member_id)
        if send_window is not None:
            if send_window < 0:
                raise LocalProtocolError("SendWindow cannot be negative")
            member.send_window = send_window
        if speed_bps is not None:
            member.speed_bps = speed_bps

    def send(self, packet: bytes, now: float) -> list[tuple[str, bytes]]:
        """(member id, 0x003d information field) pairs; empty when nothing can go."""
        if information_length(packet) > self.format.peer_mrru:
            self.counters.over_mrru += 1
            return []
        active = self.active
        trusted = [m for m in active if not self.liveness.is_suspect(m.member_id)] or active
        links = [MemberLink(m.member_id, m.speed_bps, m.send_window, m.mru) for m in trusted]
        pieces = self.fragmenter.fragment(packet, links)
        self.liveness.activity(now)
        if not pieces:
            self.counters.unsent += 1
            return []
        out: list[tuple[str, bytes]] = []
        for member_id, fragment in pieces:
            data = fragment.encode(self.format.send_short_seq)
            member = self.members[member_id]
            member.frames_sent += 1
            member.octets_sent += len(data)
            out.append((member_id, data))
        self.counters.packets_sent += 1
        return out

    def sole_member(self, packet: bytes) -> str | None:
        """The member a bundle of one sends ``packet`` on whole, without the multilink
        header (RFC 1990 lets a member carry a packet so, and one link keeps its
        order), so that the header does not cut a full-size packet in two; None
        when the bundle has several members or the packet is over the member's MRU."""
        active = self.active
        if len(active) != 1 or information_length(packet) > active[0].mru:
            return None
        return active[0].member_id

    def sent_whole(self, member_id: str, octets: int) -> None:
        """Count a packet ``sole_member`` sent whole: in the member's octets (its
        share), not in its fragments."""
        member = self._active(member_id)
        member.octets_sent += octets
        self.counters.packets_sent += 1

    def receive(self, member_id: str, fragment: bytes, now: float) -> list[bytes]:
        """The packets that a member's 0x003d information field completes."""
        member = self.members.get(member_id)
        if member is None or member.state is not MemberState.ACTIVE:
            self.counters.not_member += 1
            return []
        member.frames_received += 1
        member.octets_received += len(fragment)
        member.last_received_at = now
        self.heard(member_id, now)
        self.liveness.activity(now)
        before = self._peer_errors()
        packets = self.reassembler.receive(member_id, fragment)
        member.errors += self._peer_errors() - before
        self.counters.packets_received += len(packets)
        return packets

    def heard(self, member_id: str, now: float) -> None:
        """Any frame came in on a member: it is alive; a suspect one counts in M again."""
        member = self.members.get(member_id)
        if member is None or member.state is not MemberState.ACTIVE:
            return
        if self.liveness.heard(member_id, now):
            self.reassembler.add_member(member_id)

    def check_liveness(self, now: float, *, decide: bool = True) -> LivenessResult:
        """Which members to probe, and which are suspect now.  Call on traffic with
        ``decide=False`` (only probes), and at ``next_liveness_check`` once every
        member's input has been read.

        A bundle of one has nowhere else to send, so it is not watched.
        """
        if len(self.active) < 2:
            return LivenessResult()
        actions = self.liveness.check(now, decide=decide)
        for member_id in actions.probe:
            self.members[member_id].probes += 1
        packets: list[bytes] = []
        for member_id in actions.suspect:
            self.members[member_id].suspected += 1
            packets.extend(self.reassembler.remove_member(member_id))
        self.counters.packets_received += len(packets)
        return LivenessResult(actions.probe, actions.suspect, tuple(packets))

    def is_suspect(self, member_id: str) -> bool:
        return self.liveness.is_suspect(member_id)

    def next_liveness_check(self) -> float | None:
        """When to call ``check_liveness`` again without traffic (None: on traffic)."""
        return self.liveness.next_check() if len(self.active) > 1 else None

    def status(self) -> BundleStatus:
        total = sum(m.octets_sent for m in self.members.values())
        copied = [f.name for f in fields(MemberStatus) if f.name not in ("state", "share")]
        members = tuple(
            MemberStatus(
                state="suspect" if self.liveness.is_suspect(m.member_id) else m.state.value,
                share=m.octets_sent / total if total else 0.0,
                **{name: getattr(m, name) for name in copied},
            )
            for m in self.members.values()
        )
        c, r = self.counters, self.reassembler.counters
        dropped = c.unsent + c.over_mrru + c.not_member
        dropped += r.malformed + r.duplicates + r.wild + r.over_mrru + r.overflow
        return BundleStatus(
            str(self.key), self.ended, members, c.packets_sent, c.packets_received, r.lost, dropped
        )

    def _active(self, member_id: str) -> Member:
        member = self.members.get(member_id)
        if member is None or member.state is not MemberState.ACTIVE:
            raise LocalProtocolError(f"{member_id} is not a member of bundle {self.key}")
        return member

    def _peer_errors(self) -> int:
        r = self.reassembler.counters
        return r.malformed + r.duplicates + r.wild


@dataclass
class BundleTable:
    """NDISWAN's bundles, by key.

    ``refuse_foreign``: the configuration allows one bundle (one per port or
    profile), so a link whose key differs from that bundle's is refused
    instead of starting a second one.  ``max_bundles`` bounds the table.
    """

    refuse_foreign: bool = False
    max_bundles: int = 16
    _bundles: dict[BundleKey, Bundle] = field(default_factory=dict)
    _member_of: dict[str, Bundle] = field(default_factory=dict)

    @property
    def bundles(self) -> list[Bundle]:
        return [b for b in self._bundles.values() if not b.ended]

    def bundle_of(self, member_id: str) -> Bundle | None:
        """The bundle a member is active in, if any."""
        bundle = self._member_of.get(member_id)
        if bundle is None or bundle.ended:
            return None
        member = bundle.members.get(member_id)
        return bundle if member is not None and member.state is MemberState.ACTIVE else None

    def join(
        self,
        member_id: str,
        key: BundleKey,
        link_info: LinkInfoNegotiated,
        speed_bps: int,
        now: float,
        send_window: int = 1,
    ) -> JoinResult:
        """Put a member link whose LCP (and authentication) is done into its bundle."""
        self._forget_ended()
        info = link_info
        if not info.multilink or info.local_mrru is None or info.peer_mrru is None:
            return JoinResult(
                member_id, None, refused=f"multilink was not negotiated on {member_id}"
            )
        fmt = HeaderFormat(
            info.local_mrru, info.peer_mrru, info.send_short_seq, info.recv_short_seq
        )
        bundle = self._bundles.get(key)
        refused = self._refusal(member_id, key, fmt, bundle)
        if refused is not None:
            return JoinResult(member_id, None, refused=refused)
        new_bundle = bundle is None
        bundle = Bundle(key, fmt, now) if bundle is None else bundle
        rejoined = bundle.add(member_id, speed_bps, send_window, info.send_mru, now)
        self._bundles[key] = bundle
        self._member_of[member_id] = bundle
        return JoinResult(member_id, bundle, new_bundle=new_bundle, rejoined=rejoined)

    def _refusal(
        self, member_id: str, key: BundleKey, fmt: HeaderFormat, bundle: Bundle | None
    ) -> str | None:
        current = self.bundle_of(member_id)
        if current is not None:
            return f"{member_id} is already in bundle {current.key}"
        if bundle is not None:
            problem = bundle.format.mismatch(fmt)
            return None if problem is None else f"{member_id} cannot join bundle {key}: {problem}"
        if self.refuse_foreign and self._bundles:
            (other,) = self._bundles.values()
            return (
                f"peer {key} on {member_id} is not the peer of bundle {other.key}, "
                "and this profile allows one bundle"
            )
        if len(self._bundles) >= self.max_bundles:
            return f"{member_id} refused: already {self.max_bundles} bundles"
        return None

    def leave(self, member_id: str, reason: str, now: float) -> LeaveResult:
        """``Bundle.leave`` for the member's bundle; an ended bundle leaves the table."""
        bundle = self.bundle_of(member_id)
        if bundle is None:
            raise LocalProtocolError(f"{member_id} is in no bundle")
        result = bundle.leave(member_id, reason, now)
        del self._member_of[member_id]
        self._forget_ended()
        return result

    def _forget_ended(self) -> None:
        for key in [k for k, b in self._bundles.items() if b.ended]:
            del self._bundles[key]
        for member_id in [m for m, b in self._member_of.items() if b.ended]:
            del self._member_of[member_id]
