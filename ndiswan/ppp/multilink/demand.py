"""Bandwidth on demand: when to bring up another member, and when to drop one.

Windows RAS's rule ("dial another line when activity is at least X % for Y
seconds; hang up a line when it is below X % for Y seconds"), decided on our
side alone: no BACP/BAP (RFC 2125) on the wire, so any multilink peer, pppd
included, takes the extra member as it takes any member that joins.

``DemandPolicy`` is sans-I/O: the driver feeds it, about once a second, the
octets the bundle carried so far each way and the line capacity of the
members up; it answers ADD, DROP or nothing.  Utilisation is the busier
direction's octets per second over the capacity in 8N1 octets per second
(bits / 10).  After each decision it waits a whole ``add_seconds`` (the new
member needs time to come up and carry traffic) before deciding again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Decision(enum.Enum):
    ADD = "add"
    DROP = "drop"


@dataclass(frozen=True)
class DemandSettings:
    """Thresholds in percent of the members' capacity and how long they must hold."""

    add_percent: int = 75
    add_seconds: float = 10.0
    drop_percent: int = 25
    drop_seconds: float = 30.0
    #: Members kept up however idle the bundle is.
    min_members: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.add_percent <= 100 or not 0 <= self.drop_percent < 100:
            raise ValueError("percentages must be within 1..100 (add) and 0..99 (drop)")
        if self.drop_percent >= self.add_percent:
            raise ValueError(
                f"drop threshold {self.drop_percent} % must be below the add threshold"
                f" {self.add_percent} %, or members would come and go for ever"
            )
        if self.add_seconds <= 0 or self.drop_seconds <= 0:
            raise ValueError("the times must be positive")
        if self.min_members < 1:
            raise ValueError("at least one member stays up")


class DemandPolicy:
    def __init__(self, settings: DemandSettings) -> None:
        self.settings = settings
        self._last: tuple[float, int, int] | None = None
        self._above_since: float | None = None
        self._below_since: float | None = None
        self._quiet_until = 0.0
        #: The last utilisation measured, 0..1 (for status).
        self.utilisation = 0.0

    def sample(
        self,
        now: float,
        octets_sent: int,
        octets_received: int,
        capacity_bps: int,
        *,
        active: int,
        standby: int,
    ) -> Decision | None:
        """One sample; ``active`` members are up, ``standby`` more could be brought up."""
        last, self._last = self._last, (now, octets_sent, octets_received)
        if last is None or now <= last[0] or capacity_bps <= 0:
            return None
        seconds = now - last[0]
        busiest = max(octets_sent - last[1], octets_received - last[2], 0)
        self.utilisation = busiest / seconds / (capacity_bps / 10)
        s = self.settings
        percent = 100 * self.utilisation
        self._above_since = (self._above_since or now) if percent >= s.add_percent else None
        self._below_since = (self._below_since or now) if percent < s.drop_percent else None
        if now < self._quiet_until:
            return None
        if standby and self._above_since is not None and now - self._above_since >= s.add_seconds:
            return self._decided(now, Decision.ADD)
        if (
            active > s.min_members
            and self._below_since is not None
            and now - self._below_since >= s.drop_seconds
        ):
            return self._decided(now, Decision.DROP)
        return None

    def _decided(self, now: float, decision: Decision) -> Decision:
        self._above_since = self._below_since = None
        self._quiet_until = now + self.settings.add_seconds
        return decision
