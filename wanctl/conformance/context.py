"""What a case works with: the probe, the peer's role, and a way into a phase.

``establish`` brings the link to a phase with the project's own PPP core as
the tester's autopilot: a ``PppSession`` negotiates LCP, authenticates and
runs IPCP/IPV6CP against the peer, fed one frame at a time, and is set
aside the moment the phase is reached, so whatever the peer sends next is
the case's to judge.  A case that tests the negotiation itself crafts its
own packets instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address

from ndiswan.link import link_info_for
from ndiswan.ppp import (
    AuthRequirement,
    LinkInfoNegotiated,
    LinkTerminated,
    Phase,
    PppConfig,
    PppSession,
)
from ndiswan.ppp.constants import Code, Proto
from ndiswan.ppp.fsm import State
from ndiswan.ppp.packet import ControlPacket, Option, parse_options
from wanctl.conformance.case import CaseFailed, NotApplicable, PeerRole
from wanctl.conformance.probe import Frame, Framing, Probe
from wanminiport.info import FramingBits
from wanminiport.sansio import Transmit

#: Identifiers the cases use for their own packets, far from an autopilot's.
CASE_IDENTIFIER = 0xC0
TESTER_IP = IPv4Address("10.64.0.1")
PEER_IP = IPv4Address("10.64.0.2")


def packet_of(frame: object) -> ControlPacket:
    """The control packet a frame carries (the caller matched it as one)."""
    packet = getattr(frame, "control", None)
    assert isinstance(packet, ControlPacket)
    return packet


def option_in(data: bytes, kind: int) -> Option | None:
    """The first option of type ``kind`` in a Configure packet's data."""
    options, _ = parse_options(data)
    return next((option for option in options if option.type == kind), None)


@dataclass(frozen=True)
class Settings:
    """What the user told the tester about the peer."""

    role: PeerRole = PeerRole.ANSWER
    #: Seconds to wait for one expected answer.
    timeout: float = 3.0
    #: The peer's credentials (when it authenticates to us) or ours (to it).
    user: str = ""
    password: str | None = None
    #: When the peer dials: the authentication the tester asks of it.
    require_auth: AuthRequirement = AuthRequirement.NONE
    tester_ip: IPv4Address = TESTER_IP
    peer_ip: IPv4Address = PEER_IP


@dataclass
class Established:
    """What the autopilot negotiated."""

    link: LinkInfoNegotiated
    session: PppSession
    frames: list[Frame] = field(default_factory=list)


class CaseContext:
    def __init__(self, probe: Probe, settings: Settings) -> None:
        self.probe = probe
        self.settings = settings
        self._identifier = CASE_IDENTIFIER

    @property
    def role(self) -> PeerRole:
        return self.settings.role

    @property
    def timeout(self) -> float:
        return self.settings.timeout

    def identifier(self) -> int:
        """A fresh identifier for a crafted packet."""
        self._identifier = (self._identifier + 1) & 0xFF
        return self._identifier

    # -- the autopilot ----------------------------------------------------

    def tester_config(self, **overrides: object) -> PppConfig:
        s = self.settings
        if s.role is PeerRole.DIAL:
            # The peer calls us: we are the server, assign its address and
            # may ask it to authenticate.
            base = PppConfig(
                name="conformance",
                local_ip=s.tester_ip,
                remote_ip=s.peer_ip,
                require_auth=s.require_auth,
                restart_time=min(3.0, s.timeout),
            )
        else:
            base = PppConfig(
                user=s.user,
                password=s.password,
                restart_time=min(3.0, s.timeout),
                refuse_eap=True,
            )
        return replace(base, **overrides)  # type: ignore[arg-type]

    def secrets(self, client: str, server: str) -> str | None:
        return self.settings.password if client == self.settings.user else None

    def establish(
        self,
        until: str = "lcp",
        *,
        config: PppConfig | None = None,
        timeout: float | None = None,
    ) -> Established:
        """Run the autopilot until ``until``: "lcp" (Opened), "auth" (done) or "network".

        Raises ``NotApplicable`` when the peer cannot be brought there, with
        what went wrong: a case cannot judge a phase it never reached.
        """
        probe = self.probe
        session = PppSession(config or self.tester_config(), secrets=self.secrets)
        allowed = timeout if timeout is not None else 8 * self.timeout
        limit = probe.now() + allowed
        frames: list[Frame] = []
        link: LinkInfoNegotiated | None = None
        session.lower_up(probe.now())
        session.open(probe.now())
        while True:
            for output in session.drain():
                if isinstance(output, Transmit):
                    protocol = output.data[0] << 8 | output.data[1]
                    probe.send(protocol, output.data[2:])
                elif isinstance(output, LinkInfoNegotiated):
                    link = output
                    self.adopt(output)
                elif isinstance(output, LinkTerminated):
                    raise NotApplicable(f"could not reach {until}: {output.reason}")
            if link is not None and self._reached(session, until):
                return Established(link, session, frames)
            now = probe.now()
            if now >= limit:
                raise NotApplicable(f"could not reach {until} in {allowed:.0f} s")
            timer = session.get_timer()
            if timer is not None and timer <= now:
                session.handle_timer(now)
                continue
            wait_until = limit if timer is None else min(limit, timer)
            frame = probe.next_frame(wait_until)
            if frame is None:
                continue
            frames.append(frame)
            if frame.fcs_ok:
                packet = frame.protocol.to_bytes(2, "big") + frame.info
                session.receive_frame(packet, probe.now())

    @staticmethod
    def _reached(session: PppSession, until: str) -> bool:
        if until == "lcp":
            return session.state_of(Proto.LCP) is State.OPENED
        if until == "auth":
            return session.phase is Phase.NETWORK
        return session.network is not None or session.ipv6 is not None

    def adopt(self, link: LinkInfoNegotiated) -> None:
        """Frame what we send as LCP agreed."""
        info = link_info_for(link)
        bits = FramingBits(info.send_framing_bits)
        self.probe.framing = Framing(
            accm=info.send_accm,
            acfc=bool(bits & FramingBits.PPP_COMPRESS_ADDRESS_CONTROL),
            pfc=bool(bits & FramingBits.PPP_COMPRESS_PROTOCOL_FIELD),
        )

    # -- small helpers the cases share ------------------------------------

    def expect_control(
        self,
        protocol: int,
        codes: tuple[int, ...],
        *,
        identifier: int | None = None,
        timeout: float | None = None,
        also: Callable[[Frame], bool] = lambda frame: True,
    ) -> Frame | None:
        """The peer's next control packet of ``protocol`` with one of ``codes``."""

        def match(frame: Frame) -> bool:
            if not frame.is_control(protocol, *codes):
                return False
            packet = frame.control
            assert packet is not None
            return (identifier is None or packet.identifier == identifier) and also(frame)

        return self.probe.expect(match, self.timeout if timeout is None else timeout)

    def require_control(
        self,
        protocol: int,
        codes: tuple[int, ...],
        failure: str,
        *,
        identifier: int | None = None,
        timeout: float | None = None,
        also: Callable[[Frame], bool] = lambda frame: True,
    ) -> Frame:
        """As ``expect_control``, but no such packet fails the case with ``failure``."""
        frame = self.expect_control(
            protocol, codes, identifier=identifier, timeout=timeout, also=also
        )
        if frame is None:
            raise CaseFailed(failure)
        return frame

    def wait_for_configure_request(self, protocol: int = Proto.LCP) -> Frame:
        return self.require_control(
            protocol,
            (Code.CONFIGURE_REQUEST,),
            f"no Configure-Request from the peer in {2 * self.timeout:.0f} s",
            timeout=2 * self.timeout,
        )

    def terminate(self) -> None:
        """End the link cleanly so the next case starts from a fresh one."""
        identifier = self.identifier()
        self.probe.send_control(Proto.LCP, Code.TERMINATE_REQUEST, identifier, b"conformance")
        self.expect_control(Proto.LCP, (Code.TERMINATE_ACK,), timeout=self.timeout)
        self.probe.framing = Framing()
