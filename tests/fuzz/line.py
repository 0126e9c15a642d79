"""A hostile line into one PPP endpoint: the whole receive path, sans-I/O, on a fake clock.

The endpoint under test is what a miniport and ``PppLink`` run for one call:
an RFC 1662 framer decoding received bytes, each frame handed to a
``PppSession``, the session's link info applied back to the framer when LCP
opens (SET_LINK_INFO), its control frames encoded by the same framer.  Its
peer is another live session, so negotiation really moves through LCP,
authentication and the NCPs; between them sits the fuzzer: each chunk the
peer sends is passed, dropped, damaged, cut or duplicated as the input
plan says, and frames real pppd sent (``seeds.capture_frames``), mutated
and given a good FCS so they reach PPP, are slipped in between.

After every input the endpoint's bounds are checked: the framer holds at
most twice its largest frame, a single input makes it send at most
``MAX_REPLIES`` frames, and handling a timer always moves its next timer
into the future (a timer that stays due would spin the event loop).
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from ndiswan.link import link_info_for
from ndiswan.ppp import (
    AuthRequirement,
    LinkInfoNegotiated,
    Phase,
    PppConfig,
    PppSession,
)
from tests.fuzz.seeds import capture_frames
from wanminiport.framing import PppAsyncFramer
from wanminiport.sansio import Transmit

SECRETS = {("client", "hub"): "s3cret", ("client", "server"): "pap-s3cret"}
#: One received input may make the endpoint answer with at most this many frames
#: (e.g. a Configure-Request in Opened: Configure-Request, -Ack, NCPs going down).
MAX_REPLIES = 16
#: Simulated seconds one example may run, and steps (deliveries and timer firings).
MAX_SECONDS = 40.0
MAX_STEPS = 3000
LATENCY = 0.005
#: Once IPv4 is up each side sends a datagram this often; one side may close midway.
DATA_INTERVAL = 0.25
CLOSE_AT = 20.0


def lookup(client: str, server: str) -> str | None:
    return SECRETS.get((client, server))


@dataclass(frozen=True)
class Scenario:
    """Who is under test and who talks to it."""

    name: str
    under_test: PppConfig
    peer: PppConfig


HUB_IP, CLIENT_IP = IPv4Address("10.7.0.1"), IPv4Address("10.7.0.2")
SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "hub requiring CHAP",
        PppConfig(
            name="hub",
            require_auth=AuthRequirement.CHAP,
            ipv6=True,
            local_ip=HUB_IP,
            remote_ip=CLIENT_IP,
        ),
        PppConfig(user="client", remote_name="hub", ipv6=True),
    ),
    Scenario(
        "client answering CHAP",
        PppConfig(user="client", remote_name="hub", ipv6=True, usepeerdns=True),
        PppConfig(
            name="hub",
            require_auth=AuthRequirement.CHAP,
            ipv6=True,
            ms_dns=(IPv4Address("10.7.0.53"),),
            local_ip=HUB_IP,
            remote_ip=CLIENT_IP,
        ),
    ),
    Scenario(
        "server requiring PAP, echo on",
        PppConfig(
            name="server",
            require_auth=AuthRequirement.PAP,
            mru=296,
            asyncmap=0xA0000,
            lcp_echo_interval=2.0,
            lcp_echo_failure=3,
            noccp=False,
            local_ip=HUB_IP,
            remote_ip=CLIENT_IP,
        ),
        PppConfig(user="client", remote_name="server", refuse_chap=True, noccp=False),
    ),
    Scenario(
        "client sending PAP, no compression",
        PppConfig(user="client", remote_name="server", pcomp=False, accomp=False, magic=True),
        PppConfig(
            name="server",
            require_auth=AuthRequirement.PAP_OR_CHAP,
            lcp_echo_interval=1.0,
            lcp_echo_failure=2,
            local_ip=HUB_IP,
            remote_ip=CLIENT_IP,
        ),
    ),
    Scenario(
        "hub requiring MS-CHAPv2",
        PppConfig(
            name="hub", require_auth=AuthRequirement.MSCHAP_V2, local_ip=HUB_IP, remote_ip=CLIENT_IP
        ),
        PppConfig(user="client", remote_name="hub"),
    ),
    Scenario(
        "client answering MS-CHAPv2",
        PppConfig(user="client", remote_name="hub"),
        PppConfig(
            name="hub", require_auth=AuthRequirement.MSCHAP_V2, local_ip=HUB_IP, remote_ip=CLIENT_IP
        ),
    ),
    Scenario(
        "hub requiring EAP",
        PppConfig(
            name="hub", require_auth=AuthRequirement.EAP, local_ip=HUB_IP, remote_ip=CLIENT_IP
        ),
        PppConfig(user="client", remote_name="hub"),
    ),
    Scenario(
        "client answering EAP",
        PppConfig(user="client", remote_name="hub"),
        PppConfig(
            name="hub", require_auth=AuthRequirement.EAP, local_ip=HUB_IP, remote_ip=CLIENT_IP
        ),
    ),
    Scenario(
        "no authentication, IPv6 only",
        PppConfig(ipv4=False, ipv6=True, mru=1400),
        PppConfig(ipv4=False, ipv6=True),
    ),
)


@dataclass(frozen=True)
class Damage:
    """What happens to one chunk the peer sends, or what is slipped in before it.

    ``kind``: pass, drop, flip (one bit at ``position``), cut (keep the first
    ``position`` octets), duplicate, garbage (``data`` before the chunk),
    seed (capture frame ``position``, with ``data`` XORed into it, given a
    good FCS, before the chunk).
    """

    kind: str
    position: int = 0
    data: bytes = b""


@dataclass
class Endpoint:
    """A session behind its framer, as the miniport and PppLink drive it."""

    session: PppSession
    framer: PppAsyncFramer = field(default_factory=PppAsyncFramer)
    frames_in: int = 0
    max_replies: int = 0
    #: Frames the session sent, waiting for ``outgoing``.
    frames_out: list[bytes] = field(default_factory=list)

    def outgoing(self, now: float) -> bytes:
        self._drain()
        frames, self.frames_out = self.frames_out, []
        self.max_replies = max(self.max_replies, len(frames))
        return b"".join(self.framer.encode(frame, now) for frame in frames)

    def receive(self, data: bytes, now: float) -> None:
        for frame in self.framer.decode(data):
            self.frames_in += 1
            self.session.receive_frame(frame, now)
            self._drain()

    def _drain(self) -> None:
        for output in self.session.drain():
            if isinstance(output, Transmit):
                self.frames_out.append(output.data)
            elif isinstance(output, LinkInfoNegotiated):
                self.framer.set_link_info(link_info_for(output))

    def fire_timer(self, now: float) -> None:
        self.session.handle_timer(now)
        after = self.session.get_timer()
        assert after is None or after > now, f"timer still due after handling it ({after} <= {now})"


class HostileLine:
    """Runs one scenario with a plan of damages; raises AssertionError on a broken bound."""

    def __init__(self, scenario: Scenario, plan: list[Damage], seed: int = 0) -> None:
        rng = random.Random(seed)
        self.target = Endpoint(PppSession(scenario.under_test, secrets=lookup, rng=rng.randbytes))
        self.peer = Endpoint(
            PppSession(scenario.peer, secrets=lookup, rng=random.Random(seed + 1).randbytes)
        )
        self.plan = list(plan)
        self.now = 0.0
        self.steps = 0
        self.next_data = DATA_INTERVAL
        #: 0: the peer closes at CLOSE_AT, 1: the endpoint does, 2: nobody.
        self.closer = seed % 3
        self._flight: list[tuple[float, int, bool, bytes]] = []
        self._order = itertools.count()
        self._seeds = capture_frames()

    def run(self) -> None:
        for end in (self.peer, self.target):
            end.session.open(self.now)
            end.session.lower_up(self.now)
        self._transmit()
        while self.now <= MAX_SECONDS and self.steps < MAX_STEPS:
            if not self._step():
                break
        self.check_bounds()

    # -- the line --

    def _transmit(self) -> None:
        to_target = self.peer.outgoing(self.now)
        if to_target:
            for chunk in self._damage(to_target):
                self._put(True, chunk)
        to_peer = self.target.outgoing(self.now)
        if to_peer:
            self._put(False, to_peer)
        self._offer_data()

    def _damage(self, chunk: bytes) -> list[bytes]:
        damage = self.plan.pop(0) if self.plan else Damage("pass")
        kind = damage.kind
        if kind == "drop":
            return []
        if kind == "flip":
            bit = damage.position % (8 * len(chunk))
            damaged = bytearray(chunk)
            damaged[bit >> 3] ^= 1 << (bit & 7)
            return [bytes(damaged)]
        if kind == "cut":
            return [chunk[: damage.position % (len(chunk) + 1)]]
        if kind == "duplicate":
            return [chunk, chunk]
        if kind == "garbage":
            return [damage.data, chunk]
        if kind == "seed":
            frame = bytearray(self._seeds[damage.position % len(self._seeds)])
            for index, value in enumerate(damage.data):
                frame[index % len(frame)] ^= value
            return [self.peer.framer.encode(bytes(frame), self.now), chunk]
        return [chunk]

    def _put(self, to_target: bool, data: bytes) -> None:
        heapq.heappush(self._flight, (self.now + LATENCY, next(self._order), to_target, data))

    def _offer_data(self) -> None:
        """Once IPv4 is up, each side sends a datagram now and then, as hosts would."""
        if self.now < self.next_data:
            return
        self.next_data = self.now + DATA_INTERVAL
        payload = bytes(20) + self.steps.to_bytes(4, "big")
        for end, to_target in ((self.peer, True), (self.target, False)):
            for protocol, up in ((0x21, end.session.network), (0x57, end.session.ipv6)):
                frame = end.session.send_datagram(protocol, payload) if up else None
                if frame is not None:
                    self._put(to_target, end.framer.encode(frame, self.now))

    def _wants_data(self) -> bool:
        return any(end.session.network or end.session.ipv6 for end in (self.peer, self.target))

    def _step(self) -> bool:
        self.steps += 1
        timers = [
            t
            for t in (self.target.session.get_timer(), self.peer.session.get_timer())
            if t is not None
        ]
        if self._wants_data():
            timers.append(self.next_data)
        if self.closer < 2:
            timers.append(CLOSE_AT)
        due = [*timers, self._flight[0][0]] if self._flight else timers
        if not due:
            return False
        self.now = max(self.now, min(due))
        if self.closer < 2 and self.now >= CLOSE_AT:
            closing = self.peer if self.closer == 0 else self.target
            closing.session.close("User request", self.now)
            self.closer = 2
        while self._flight and self._flight[0][0] <= self.now:
            _, _, to_target, data = heapq.heappop(self._flight)
            if to_target:
                self.target.receive(data, self.now)
                self.check_bounds()
            else:
                self.peer.receive(data, self.now)
            self._transmit()
        for end in (self.target, self.peer):
            timer = end.session.get_timer()
            if timer is not None and timer <= self.now:
                end.fire_timer(self.now)
        self._transmit()
        return True

    def check_bounds(self) -> None:
        target = self.target
        assert isinstance(target.session.phase, Phase)
        assert target.framer.buffered <= 2 * (16384 + 8), target.framer.buffered
        assert target.max_replies <= MAX_REPLIES, target.max_replies
