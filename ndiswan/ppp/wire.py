"""Two sessions wired back to back on a simulated clock.

A test bench and a demo without hardware: whatever one session transmits
is delivered to the other after ``latency`` seconds, time advances only to
the next timer or delivery (nothing sleeps), and a ``drop`` predicate can
lose frames on the way.  A session may also be wired to itself (a
looped-back line).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from ndiswan.ppp.events import Event
from ndiswan.ppp.log import packet_line
from ndiswan.ppp.session import PppSession
from wanminiport.sansio import Transmit

#: (sender index, frame, count of frames that sender sent so far) -> drop it?
DropRule = Callable[[int, bytes, int], bool]


@dataclass
class Wire:
    """Frames in flight between sessions ``ends[0]`` and ``ends[1]``."""

    ends: tuple[PppSession, PppSession]
    latency: float = 0.01
    drop: DropRule | None = None
    now: float = 0.0
    #: Every event each end produced, in order.
    events: tuple[list[Event], list[Event]] = field(default_factory=lambda: ([], []))
    #: ``sent [...]`` lines of delivered and dropped frames with their time.
    trace: list[str] = field(default_factory=list)
    sent_counts: list[int] = field(default_factory=lambda: [0, 0])
    dropped: int = 0
    _in_flight: list[tuple[float, int, int, bytes]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def looped(cls, session: PppSession, latency: float = 0.01) -> Wire:
        """One session whose transmissions come back to itself."""
        return cls((session, session), latency)

    @property
    def is_loop(self) -> bool:
        return self.ends[0] is self.ends[1]

    def start(self) -> None:
        """Open both ends and bring their lines up at the current time."""
        for end in self._distinct():
            end.open(self.now)
            end.lower_up(self.now)
        self._collect()

    def _distinct(self) -> list[PppSession]:
        return [self.ends[0]] if self.is_loop else list(self.ends)

    def _collect(self) -> None:
        for index, end in enumerate(self._distinct()):
            for output in end.drain():
                if isinstance(output, Transmit):
                    self.send(index, output.data)
                else:
                    self.events[index].append(output)

    def send(self, index: int, frame: bytes) -> None:
        """Put one frame from end ``index`` on the wire (data frames too)."""
        self.sent_counts[index] += 1
        if self.drop is not None and self.drop(index, frame, self.sent_counts[index]):
            self.dropped += 1
            self.trace.append(f"{self.now:8.3f} {index} lost {packet_line('sent', frame)}")
            return
        self.trace.append(f"{self.now:8.3f} {index} {packet_line('sent', frame)}")
        target = 0 if self.is_loop else 1 - index
        heapq.heappush(self._in_flight, (self.now + self.latency, next(self._order), target, frame))

    def step(self) -> bool:
        """Advance to the next delivery or timer; False when nothing is left."""
        timers = [t for t in (end.get_timer() for end in self._distinct()) if t is not None]
        next_delivery = self._in_flight[0][0] if self._in_flight else None
        candidates = [t for t in (*timers, next_delivery) if t is not None]
        if not candidates:
            return False
        self.now = max(self.now, min(candidates))
        while self._in_flight and self._in_flight[0][0] <= self.now:
            _, _, target, frame = heapq.heappop(self._in_flight)
            self.ends[target].receive_frame(frame, self.now)
            self._collect()
        for end in self._distinct():
            timer = end.get_timer()
            if timer is not None and timer <= self.now:
                end.handle_timer(self.now)
        self._collect()
        return True

    def run(self, until: Callable[[Wire], bool] | None = None, max_time: float = 300.0) -> bool:
        """Step until ``until`` holds (True), nothing is left, or ``max_time``."""
        while self.now <= max_time:
            if until is not None and until(self):
                return True
            if not self.step():
                break
        return until(self) if until is not None else True

    def run_for(self, seconds: float) -> None:
        """Step through everything due in the next ``seconds``."""
        end_time = self.now + seconds
        while True:
            timers = [t for t in (e.get_timer() for e in self._distinct()) if t is not None]
            pending = [self._in_flight[0][0]] if self._in_flight else []
            upcoming = [t for t in (*timers, *pending) if t <= end_time]
            if not upcoming:
                break
            self.step()
        self.now = max(self.now, end_time)
