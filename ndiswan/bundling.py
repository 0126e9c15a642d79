"""NDISWAN's bundles at run time: member links below, one link with the NCPs above.

Each member is an ordinary ``PppLink`` on its own VC (its own miniport and
call manager: a cable and a modem may share a bundle), running LCP and
authentication.  When its session says ``MemberReady``, the ``Bundler`` puts
it in the bundle of its peer (``BundleTable``: authenticated name and
Endpoint Discriminator); the first member of a bundle creates its
``BundleLink``, which runs IPCP/IPV6CP once (``BundleNetwork``) and owns the
upper edge (the TUN interface).  Fragments a member receives go to the
bundle's reassembler and whole packets up to the ``BundleLink``; packets the
``BundleLink`` sends are fragmented over the members whose send paths have
room, by speed (its NCP packets but CCP's go whole on one member).  A member
whose link goes down leaves; the bundle ends with its last member.  On every
fragment sent or received the bundle's ``liveness`` is checked: a member
quiet too long gets an Echo-Request out of turn (``PppSession.probe``), and
one that does not answer in time (decided on a timer) is suspect, skipped
by the fragmenter and by the reassembler's M until it is heard from again.

The member's upper edge is the bundle (``_MemberEdge``): its back-pressure
tells the bundle that this member is full, and the bundle pauses its own
upper edge only when every member is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ndiswan.link import PppLink, UpperEdge
from ndiswan.ppp.config import PppConfig
from ndiswan.ppp.constants import Proto
from ndiswan.ppp.events import (
    BundleFrameReceived,
    BundleProtocolRejected,
    BundleProtocolUnsupported,
    CloseRequested,
    Event,
    Ipv6Up,
    LinkTerminated,
    MemberReady,
    NetworkUp,
    Phase,
    PhaseChanged,
)
from ndiswan.ppp.multilink.bundle import Bundle, BundleKey, BundleTable
from ndiswan.ppp.multilink.header import PROTOCOL_MULTILINK
from ndiswan.ppp.multilink.network import BundleNetwork
from ndiswan.ppp.session import PppSession
from ndiswan.sendpath import VcSendPath
from wanminiport.coretimer import CoreTimer
from wanminiport.exitcodes import ExitCode

pppd_log = logging.getLogger("wanctl.pppd")

_MP_FULL = PROTOCOL_MULTILINK.to_bytes(2, "big")
_MP_COMPRESSED = bytes((PROTOCOL_MULTILINK,))
_CCP = Proto.CCP.to_bytes(2, "big")
#: Seconds after a member joins during which the peer's Protocol-Reject of
#: fragments on it is taken for a link it has not attached yet.
FRAGMENT_REJECT_GRACE = 2.0


class BundleSendPath:
    """The bundle's send path: every packet fragmented over the members' own."""

    def __init__(self, bundler: Bundler, bundle: Bundle) -> None:
        self._bundler = bundler
        self._bundle = bundle
        self._dropped = 0
        self.closed = False

    @property
    def dropped(self) -> int:
        return self._dropped

    def send(self, frame: bytes) -> bool:
        if self.closed:
            self._dropped += 1
            return False
        sent = self._bundler.send_fragments(self._bundle, frame)
        if not sent:
            self._dropped += 1
        return sent

    def send_control(self, frame: bytes) -> bool:
        # An NCP packet goes whole on a member (RFC 1990 lets a member carry any
        # protocol without the multilink header): a peer whose link is not in
        # its bundle yet drops fragments -- pppd Protocol-Rejects 0x003d until
        # ppp_generic has put the channel in the unit, and our first IPCP
        # Configure-Request went with them.  CCP stays in sequence with the
        # data (as fragments): a Reset-Ack must not overtake compressed packets.
        if self.closed or frame[:2] == _CCP or not self._bundler.send_whole(self._bundle, frame):
            return self.send(frame)
        return True

    def close(self) -> int:
        self.closed = True
        return 0


class BundleLink(PppLink):
    """The link above a bundle: its NCPs, its upper edge, and its status."""

    def __init__(
        self,
        config: PppConfig,
        bundler: Bundler,
        bundle: Bundle,
        upper: UpperEdge | None = None,
        *,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        super().__init__(config, upper, on_event=on_event)
        self.bundler = bundler
        self.bundle = bundle
        fmt = bundle.format
        self.network = BundleNetwork(config, mrru=fmt.local_mrru, peer_mrru=fmt.peer_mrru)
        self.session = self.network
        self.sendpath = BundleSendPath(bundler, bundle)
        self._opened = True
        self.state.mtu = min(fmt.local_mrru, fmt.peer_mrru)
        self.state.speed = sum(m.speed_bps for m in bundle.active)
        self._timer = CoreTimer(self.network, self._service, self.loop)

    def start(self) -> None:
        """The bundle's first member joined: IPCP and IPV6CP start."""
        self.network.start(self.loop.time())
        self._service()

    def _handle(self, event: Event) -> None:
        if isinstance(event, CloseRequested):
            self.bundler.close_members(self.bundle, event.reason)
            return
        if isinstance(event, BundleProtocolUnsupported):
            self.bundler.reject_protocol(self.bundle, event.protocol, event.info)
            return
        super()._handle(event)

    def close(self, reason: str = "User request") -> None:
        """Hang up the bundle: every member sends its Terminate-Request."""
        if self.network.phase is Phase.DEAD:
            self._terminated(ExitCode.USER_REQUEST)
            return
        self.network.close(reason, self.loop.time())
        self._service()

    def status(self) -> dict[str, Any]:
        status = super().status()
        self.state.speed = sum(m.speed_bps for m in self.bundle.active)
        status["speed"] = self.state.speed
        bundle = self.bundle.status()
        status["bundle"] = {
            "key": bundle.key,
            "packets_sent": bundle.packets_sent,
            "packets_received": bundle.packets_received,
            "lost": bundle.lost,
            "dropped": bundle.dropped,
            "members": [
                {
                    "member": m.member_id,
                    "state": m.state,
                    "speed": m.speed_bps,
                    "share": round(m.share, 3),
                    "frames_sent": m.frames_sent,
                    "octets_sent": m.octets_sent,
                    "frames_received": m.frames_received,
                    "octets_received": m.octets_received,
                    "errors": m.errors,
                    "probes": m.probes,
                    "suspected": m.suspected,
                    "left_because": m.leave_reason,
                }
                for m in bundle.members
            ],
        }
        return status


class _MemberEdge:
    """A member link's upper edge is the bundle: only its back-pressure matters."""

    def __init__(self, bundler: Bundler, member_id: str) -> None:
        self._bundler = bundler
        self._member_id = member_id

    def deliver(self, packet: bytes) -> None:
        return None  # a member's session delivers nothing: its datagrams are the bundle's

    def network_up(self, link: PppLink, event: NetworkUp | Ipv6Up) -> None:
        return None

    def network_down(self, link: PppLink, ip_version: int) -> None:
        return None

    def set_paused(self, paused: bool) -> None:
        self._bundler.member_paused(self._member_id, paused)


class Bundler:
    """Puts member links into bundles and carries each bundle's traffic over them.

    ``on_bundle`` is told of each new ``BundleLink`` (to give it its upper
    edge); ``refuse_foreign``: a member of another peer is refused instead of
    starting a second bundle (one TUN interface per process).
    """

    def __init__(
        self,
        config: PppConfig,
        *,
        on_bundle: Callable[[BundleLink], None] | None = None,
        on_event: Callable[[Event], None] | None = None,
        on_membership: Callable[[str, str], None] | None = None,
        refuse_foreign: bool = True,
    ) -> None:
        self.config = config
        #: Told (member, what happened) when a member joins, is refused or leaves.
        self.on_membership = on_membership
        self.table = BundleTable(refuse_foreign=refuse_foreign)
        self.on_bundle = on_bundle
        self.on_event = on_event
        self.members: dict[str, PppLink] = {}
        self.links: dict[int, BundleLink] = {}
        self._paused: set[str] = set()
        #: Each member's count of received frames when the bundle last looked.
        self._frames_seen: dict[str, int] = {}
        self._liveness_timers: dict[int, asyncio.TimerHandle] = {}

    # -- members --

    def add_member(self, member_id: str, link: PppLink) -> None:
        """A member link of this process (one per port); call before its call connects."""
        self.members[member_id] = link
        link.upper = _MemberEdge(self, member_id)
        own = link.on_event

        def on_event(event: Event) -> None:
            self._member_event(member_id, link, event)
            if own is not None:
                own(event)

        link.on_event = on_event

    def _member_event(self, member_id: str, link: PppLink, event: Event) -> None:
        if isinstance(event, BundleFrameReceived):
            self._receive(member_id, event)
        elif isinstance(event, BundleProtocolRejected):
            self._protocol_rejected(member_id, event.protocol)
        elif isinstance(event, MemberReady):
            self._join(member_id, link, event)
        elif isinstance(event, PhaseChanged) and event.phase is not Phase.NETWORK:
            # The member's status says why (pppd's exit code: hang-up, echo failure...).
            status = link.session.status if isinstance(link.session, PppSession) else None
            self._leave(member_id, f"link {event.phase.value}", status)
        elif isinstance(event, LinkTerminated):
            self._leave(member_id, event.reason, event.exit_code)

    def _join(self, member_id: str, link: PppLink, event: MemberReady) -> None:
        now = link.loop.time()
        key = BundleKey.for_link(event.peer_name, event.link)
        window = link.sendpath.window.window if isinstance(link.sendpath, VcSendPath) else 1
        result = self.table.join(member_id, key, event.link, link.state.speed, now, window)
        if result.bundle is None:
            pppd_log.warning("%s not joined to a bundle: %s", member_id, result.refused)
            self._tell(member_id, f"refused: {result.refused}")
            link.close(f"multilink: {result.refused}")
            return
        bundle = result.bundle
        if result.new_bundle:
            pppd_log.info("New bundle %s created on %s", key, member_id)
            bundle_link = BundleLink(self.config, self, bundle, on_event=self.on_event)
            self.links[id(bundle)] = bundle_link
            if self.on_bundle is not None:
                self.on_bundle(bundle_link)
            bundle_link.start()
        else:
            pppd_log.info("Link %s attached to bundle %s", member_id, key)
            bundle_link = self.links[id(bundle)]
            bundle_link.state.speed = sum(m.speed_bps for m in bundle.active)
        count = len(bundle.active)
        self._tell(member_id, f"joined bundle {key} ({count} member{'s' if count > 1 else ''})")

    def _leave(self, member_id: str, reason: str, exit_code: ExitCode | None = None) -> None:
        bundle = self.table.bundle_of(member_id)
        if bundle is None:
            return
        bundle_link = self.links.get(id(bundle))
        link = self.members[member_id]
        now = link.loop.time()
        result = self.table.leave(member_id, reason, now)
        self._paused.discard(member_id)
        self._frames_seen.pop(member_id, None)
        pppd_log.info("Link %s left bundle %s: %s", member_id, bundle.key, reason)
        self._tell(member_id, f"left bundle {bundle.key}: {reason}")
        if bundle_link is None:
            return
        for packet in result.packets:
            bundle_link.network.receive_frame(packet, now)
        if result.ended:
            del self.links[id(bundle)]
            timer = self._liveness_timers.pop(id(bundle), None)
            if timer is not None:
                timer.cancel()
            bundle_link.network.end(reason, now, exit_code)
        bundle_link._service()
        self._update_pause(bundle)

    def reject_protocol(self, bundle: Bundle, protocol: int, info: bytes) -> None:
        """The bundle does not run ``protocol``: its first member's LCP rejects it."""
        for member in bundle.active:
            link = self.members[member.member_id]
            if isinstance(link.session, PppSession):
                link.session.reject_protocol(protocol, info, link.loop.time())
                link._service()
                return

    def _protocol_rejected(self, member_id: str, protocol: int) -> None:
        bundle = self.table.bundle_of(member_id)
        bundle_link = self.links.get(id(bundle)) if bundle is not None else None
        if bundle is not None and protocol == PROTOCOL_MULTILINK:
            self._fragments_rejected(member_id, bundle)
        elif bundle_link is not None:
            bundle_link.network.protocol_rejected(protocol, bundle_link.loop.time())
            bundle_link._service()

    def _fragments_rejected(self, member_id: str, bundle: Bundle) -> None:
        """The peer Protocol-Rejected our fragments on a member: that link is not in
        its bundle.  Just after the join that is a peer slow to attach the link
        (pppd reads a fragment that came before ppp_generic had the channel in
        the unit), forgiven for ``FRAGMENT_REJECT_GRACE`` seconds.  Later it is
        for good -- pppd 2.4.9 under ``persist`` brings a bundle's second link
        back up but never attaches it again -- and half of every packet would be
        lost: the member leaves the bundle (its link stays up, idle), or, the
        last one, hangs up to be dialled again."""
        link = self.members[member_id]
        if link.loop.time() - bundle.members[member_id].joined_at < FRAGMENT_REJECT_GRACE:
            return
        reason = "peer Protocol-Rejected multilink fragments on this link"
        if len(bundle.active) > 1:
            self._leave(member_id, reason)
        else:
            link.close(f"multilink: {reason}")

    def _tell(self, member_id: str, what: str) -> None:
        if self.on_membership is not None:
            self.on_membership(member_id, what)

    def close_members(self, bundle: Bundle, reason: str) -> None:
        """Terminate every member of ``bundle`` (its leaving ends the bundle)."""
        for member in bundle.active:
            self.members[member.member_id].close(reason)

    # -- traffic --

    def _receive(self, member_id: str, event: BundleFrameReceived) -> None:
        bundle = self.table.bundle_of(member_id)
        bundle_link = self.links.get(id(bundle)) if bundle is not None else None
        if bundle is None or bundle_link is None:
            return
        now = bundle_link.loop.time()
        self._watch(bundle, bundle_link, now, decide=False)
        if event.protocol == PROTOCOL_MULTILINK:
            lost = bundle.reassembler.counters.lost
            packets = bundle.receive(member_id, event.info, now)
            if bundle.reassembler.counters.lost != lost:
                bundle_link.network.line_error()
        else:  # a bundle protocol sent whole on a member
            packets = [event.protocol.to_bytes(2, "big") + event.info]
        for packet in packets:
            bundle_link.network.receive_frame(packet, now)
        bundle_link._service()

    def _watch(
        self, bundle: Bundle, bundle_link: BundleLink, now: float, *, decide: bool = True
    ) -> None:
        """Liveness: note which members heard anything since the last look, probe
        the quiet ones, and deliver what a suspicion completes.  Suspicion is
        decided on the timer alone (``decide``), which runs after the loop has
        read every line that was ready, never while a packet or a member's input
        is being handled: another member's answer may be unread behind it."""
        cleared = False
        for member in bundle.active:
            session = self.members[member.member_id].session
            count = session.stats.frames_received if isinstance(session, PppSession) else 0
            if self._frames_seen.get(member.member_id) != count:
                self._frames_seen[member.member_id] = count
                if bundle.is_suspect(member.member_id):
                    cleared = True
                    pppd_log.info("Link %s is heard again", member.member_id)
                    self._tell(member.member_id, "heard again: fragments go on it again")
                bundle.heard(member.member_id, now)
        result = bundle.check_liveness(now, decide=decide)
        for member_id in result.probe:
            link = self.members[member_id]
            if isinstance(link.session, PppSession):
                link.session.probe(now)
                link._service()
        for member_id in result.suspect:
            pppd_log.info("Link %s is quiet: no fragments on it until it is heard", member_id)
            self._tell(member_id, "quiet and its probe unanswered: no fragments until it is heard")
        for packet in result.packets:
            bundle_link.network.receive_frame(packet, now)
        if result.suspect or cleared:
            self._update_pause(bundle)
        self._arm_liveness(bundle, bundle_link)

    def _arm_liveness(self, bundle: Bundle, bundle_link: BundleLink) -> None:
        """Wake for the next probe or deadline even when no traffic comes: a sender
        whose acknowledgements stopped sends nothing until TCP's timer fires."""
        when = None if bundle.ended else bundle.next_liveness_check()
        old = self._liveness_timers.get(id(bundle))
        if old is not None and when is not None and old.when() == when:
            return  # armed already: no new handle per fragment
        self._liveness_timers.pop(id(bundle), None)
        if old is not None:
            old.cancel()
        if when is not None:
            self._liveness_timers[id(bundle)] = bundle_link.loop.call_at(
                when, self._liveness_timer, bundle
            )

    def _liveness_timer(self, bundle: Bundle) -> None:
        self._liveness_timers.pop(id(bundle), None)
        bundle_link = self.links.get(id(bundle))
        if bundle_link is not None and not bundle.ended:
            self._watch(bundle, bundle_link, bundle_link.loop.time())
            bundle_link._service()

    def send_whole(self, bundle: Bundle, packet: bytes) -> bool:
        """``packet`` without the multilink header, ahead of the data on the first
        member whose send path is open; False when none is."""
        trusted = [m for m in bundle.active if not bundle.is_suspect(m.member_id)]
        for member in trusted or bundle.active:
            path = self.members[member.member_id].sendpath
            if isinstance(path, VcSendPath) and not path.closed:
                return path.send_control(packet)
        return False

    def send_fragments(self, bundle: Bundle, packet: bytes) -> bool:
        """Fragment ``packet`` over the members with room; False when none had any."""
        bundle_link = self.links.get(id(bundle))
        if bundle_link is not None:
            self._watch(bundle, bundle_link, bundle_link.loop.time(), decide=False)
        sole = bundle.sole_member(packet)
        if sole is not None:
            path = self.members[sole].sendpath
            if path is None or not path.send(packet):
                bundle.counters.unsent += 1
                return False
            bundle.sent_whole(sole, len(packet))
            return True
        now = 0.0
        for member in bundle.active:
            link = self.members[member.member_id]
            path = link.sendpath
            room = 0
            if isinstance(path, VcSendPath) and not path.closed and not path.queue.paused:
                room = max(1, path.window.window)
            member.send_window = room
            now = link.loop.time()
        pieces = bundle.send(packet, now)
        for member_id, data in pieces:
            link = self.members[member_id]
            session = link.session
            pfc = (
                isinstance(session, PppSession)
                and session.link is not None
                and session.link.send_pfc
            )
            protocol = _MP_COMPRESSED if pfc else _MP_FULL
            if link.sendpath is not None:
                link.sendpath.send(protocol + data)
        return bool(pieces)

    def member_paused(self, member_id: str, paused: bool) -> None:
        if paused:
            self._paused.add(member_id)
        else:
            self._paused.discard(member_id)
        bundle = self.table.bundle_of(member_id)
        if bundle is not None:
            self._update_pause(bundle)

    def _update_pause(self, bundle: Bundle) -> None:
        bundle_link = self.links.get(id(bundle))
        if bundle_link is None or bundle_link.upper is None:
            return
        active = {m.member_id for m in bundle.active}
        trusted = {m for m in active if not bundle.is_suspect(m)} or active
        bundle_link.upper.set_paused(bool(trusted) and trusted <= self._paused)
