"""Which members of a bundle have gone quiet: a probe, then suspicion.

LCP echo finds a dead link in ``lcp-echo-interval`` times ``lcp-echo-failure``
seconds, and until then half of every packet goes down a cut line and the
receiver's M (RFC 1990 section 4.2) waits on a member that will never speak.
A member is watched while its bundle carries traffic (the caller reports
every fragment sent or received as ``activity`` and calls ``check`` then and
at ``next_check``): one that has heard nothing for ``silence`` seconds while
the bundle was busy (traffic in the last ``BUSY`` seconds) gets a probe (an
Echo-Request out of turn), and one whose probe goes unanswered for
``deadline`` seconds (more for a member that answers slowly) is *suspect*.
A suspect member gets no fragments and does not hold back reassembly;
anything it hears makes it a full member again.  It is probed again at once
and every ``silence`` seconds while the bundle is busy, so that a line that
comes back is found even when neither end sends on it.  It leaves the
bundle only when LCP echo says it is dead, as before: suspicion is cheap to
take back, leaving is not.

Silence alone is not suspicion: a healthy member may carry nothing towards
us (a peer may send its TCP acknowledgements on one member), so it costs one
probe, answered in a round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Seconds without a frame before a member of a busy bundle is probed.
SILENCE = 0.3
#: Seconds a probe may go unanswered before its member is suspect, at least:
#: a member whose answers have come slowly gets twice its usual answer time
#: (a peer starved of CPU answers late, and a wrongly suspected member costs
#: the packets whose fragments were on it), up to ``MAX_DEADLINE``.
DEADLINE = 0.4
MAX_DEADLINE = 2.0
#: The bundle counts as busy this long after its last fragment: long enough
#: for a sender whose acknowledgements stopped to run out of window first.
BUSY = 1.0


@dataclass
class _Watch:
    heard_at: float
    probed_at: float | None = None  # the latest probe still unanswered
    first_probe_at: float | None = None  # the first of them
    suspect: bool = False
    answer_time: float = 0.0  # how long probes take to be answered, recently

    def answered(self, now: float) -> None:
        if self.first_probe_at is None:
            return
        sample = now - self.first_probe_at
        if sample <= MAX_DEADLINE:  # longer: a line that was down, not a slow one
            fast = 0.875 * self.answer_time + 0.125 * sample
            self.answer_time = sample if sample > self.answer_time else fast


@dataclass(frozen=True)
class LivenessActions:
    """What one ``check`` decided: members to probe, members now suspect."""

    probe: tuple[str, ...] = ()
    suspect: tuple[str, ...] = ()


class Liveness:
    """Silence, probe and suspicion of each member; time is passed in."""

    def __init__(
        self, silence: float = SILENCE, deadline: float = DEADLINE, busy: float = BUSY
    ) -> None:
        self.silence = silence
        self.deadline = deadline
        self.busy = busy
        self.probes_sent = 0
        self.suspicions = 0
        self._watches: dict[str, _Watch] = {}
        self._active_at: float | None = None

    def activity(self, now: float) -> None:
        """A fragment was sent or received: the bundle is busy."""
        self._active_at = now

    def _busy(self, now: float) -> bool:
        return self._active_at is not None and now - self._active_at < self.busy

    def add(self, member: str, now: float) -> None:
        self._watches[member] = _Watch(now)

    def remove(self, member: str) -> None:
        self._watches.pop(member, None)

    def is_suspect(self, member: str) -> bool:
        watch = self._watches.get(member)
        return watch is not None and watch.suspect

    def heard(self, member: str, now: float) -> bool:
        """A frame came in on ``member``; True when that ends its suspicion."""
        watch = self._watches.get(member)
        if watch is None:
            return False
        cleared = watch.suspect
        watch.answered(now)
        watch.heard_at, watch.probed_at, watch.suspect = now, None, False
        watch.first_probe_at = None
        return cleared

    def deadline_of(self, member: str) -> float:
        """How long a probe of ``member`` may go unanswered (see ``DEADLINE``)."""
        watch = self._watches.get(member)
        answer = 0.0 if watch is None else watch.answer_time
        return min(MAX_DEADLINE, max(self.deadline, 2 * answer))

    def check(self, now: float, *, decide: bool = True) -> LivenessActions:
        """Probe the members silent too long; suspect those whose probe is overdue.

        ``decide=False`` only probes: the caller is in the middle of one member's
        input, and another member's answer may be waiting unread.
        """
        probe: list[str] = []
        suspect: list[str] = []
        busy = self._busy(now)
        for member, watch in self._watches.items():
            if watch.suspect:
                if busy and (watch.probed_at is None or now - watch.probed_at >= self.silence):
                    watch.probed_at = now
                    probe.append(member)
                continue
            if watch.probed_at is None:
                if busy and now - watch.heard_at >= self.silence:
                    watch.probed_at = watch.first_probe_at = now
                    probe.append(member)
            elif decide and now - watch.probed_at >= self.deadline_of(member):
                watch.suspect, watch.probed_at = True, now
                suspect.append(member)
                probe.append(member)
        self.probes_sent += len(probe)
        self.suspicions += len(suspect)
        return LivenessActions(tuple(probe), tuple(suspect))

    def next_check(self) -> float | None:
        """When ``check`` may next have something to do (None: only on traffic)."""
        times: list[float] = []
        busy_until = None if self._active_at is None else self._active_at + self.busy
        for member, watch in self._watches.items():
            if watch.probed_at is not None and not watch.suspect:
                times.append(watch.probed_at + self.deadline_of(member))
                continue
            start = watch.heard_at if watch.probed_at is None else watch.probed_at
            due = start + self.silence
            if busy_until is not None and due < busy_until:
                times.append(due)
        return min(times, default=None)
