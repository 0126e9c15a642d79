"""The project's own PPP as the implementation under test, on a fake clock.

``SimulatedLine`` is a ``Line`` whose far end is what ``wanctl answer`` or
``dial`` runs for a call -- an RFC 1662 framer and a ``PppSession``, the
session's link info applied to the framer when LCP opens -- without any
I/O: time moves only when the tester waits, straight to the peer's next
timer.  When a link ends the peer starts a new one, as with ``persist``
and ``holdoff 0``.

A ``Mutant`` breaks one thing in that peer (for the tests that prove each
case can fail): it is applied to every new session and framer and may
also rewrite the octets either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ndiswan.link import link_info_for
from ndiswan.ppp import LinkInfoNegotiated, LinkTerminated, PppConfig, PppSession
from wanminiport.framing import PppAsyncFramer
from wanminiport.sansio import Transmit

#: One-way delay of the simulated line.
LATENCY = 0.002
#: Simulated seconds between the end of a link and the next (pppd's holdoff).
HOLDOFF = 0.2


@dataclass(frozen=True)
class Mutant:
    """One deliberate defect."""

    name: str
    #: Changes a fresh session and its framer (monkeypatching their methods).
    patch: Callable[[PppSession, PppAsyncFramer], None] = lambda session, framer: None
    #: Rewrites what the peer sends (a list of frames, protocol field onward).
    outgoing: Callable[[list[bytes]], list[bytes]] = lambda frames: frames
    #: Rewrites the octets that reach the peer.
    incoming: Callable[[bytes], bytes] = lambda data: data
    #: Rewrites the octets the peer's framer produced.
    wire: Callable[[bytes], bytes] = lambda data: data


NO_MUTANT = Mutant("none")


@dataclass
class SimulatedPeer:
    make_config: Callable[[], PppConfig]
    secrets: Callable[[str, str], str | None] | None = None
    mutant: Mutant = NO_MUTANT
    links: int = 0
    #: Everything the peer's sessions reported, for the tests to look at.
    events: list[object] = field(default_factory=list)

    def start(self, now: float) -> None:
        self.links += 1
        self.framer = PppAsyncFramer()
        self.session = PppSession(self.make_config(), secrets=self.secrets)
        self.mutant.patch(self.session, self.framer)
        self.restart_at: float | None = None
        self.session.lower_up(now)
        self.session.open(now)

    def output(self, now: float) -> bytes:
        frames: list[bytes] = []
        for item in self.session.drain():
            if isinstance(item, Transmit):
                frames.append(item.data)
            else:
                self.events.append(item)
                if isinstance(item, LinkInfoNegotiated):
                    self.framer.set_link_info(link_info_for(item))
                elif isinstance(item, LinkTerminated):
                    self.restart_at = now + HOLDOFF
        frames = self.mutant.outgoing(frames)
        return self.mutant.wire(b"".join(self.framer.encode(f, now) for f in frames))


class SimulatedLine:
    """A ``Line`` to a ``SimulatedPeer``; the clock advances only in ``read``."""

    def __init__(self, peer: SimulatedPeer) -> None:
        self.peer = peer
        self._now = 0.0
        #: (time it arrives at the tester, octets)
        self._to_tester: list[tuple[float, bytes]] = []
        peer.start(self._now)
        self._collect()

    def now(self) -> float:
        return self._now

    def wall_time(self) -> float:
        return 1_700_000_000.0 + self._now

    def write(self, data: bytes) -> None:
        peer = self.peer
        data = peer.mutant.incoming(data)
        if peer.restart_at is None:
            for frame in peer.framer.decode(data):
                peer.session.receive_frame(frame, self._now + LATENCY)
        self._collect()

    def read(self, until: float) -> bytes:
        while True:
            if self._to_tester and self._to_tester[0][0] <= until:
                arrival, data = self._to_tester.pop(0)
                self._now = max(self._now, arrival)
                return data
            due = self._next_event()
            if due is None or due > until:
                self._now = max(self._now, until)
                return b""
            self._now = max(self._now, due)
            self._fire()

    def close(self) -> None:
        pass

    def _next_event(self) -> float | None:
        peer = self.peer
        if peer.restart_at is not None:
            return peer.restart_at
        return peer.session.get_timer()

    def _fire(self) -> None:
        peer = self.peer
        if peer.restart_at is not None:
            peer.start(self._now)
        else:
            peer.session.handle_timer(self._now)
        self._collect()

    def _collect(self) -> None:
        data = self.peer.output(self._now)
        if data:
            self._to_tester.append((self._now + LATENCY, data))
