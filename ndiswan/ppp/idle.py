"""pppd's ``idle N``: end the link after N seconds without a data packet.

pppd arms the check when the first network protocol comes up and asks the
kernel how long ago the last packet of a network-layer protocol (PPP
protocol numbers below 0x8000) went out or came in; control protocols (LCP
echoes, IPCP, CCP) never count.  When the quieter of the two directions has
been quiet for N seconds it logs "Terminating connection due to lack of
activity.", closes LCP with "Link inactive" and exits with status 12.

``IdleTimer`` keeps that reckoning inside the PPP session, which sees every
datagram: it does no I/O and reads no clock.
"""

from __future__ import annotations

#: PPP protocol numbers below this carry network-layer data (RFC 1661 §2).
_FIRST_CONTROL_PROTOCOL = 0x8000


def counts_as_activity(protocol: int) -> bool:
    """Whether a packet of ``protocol`` resets the idle time, as in Linux's ppp_generic."""
    return protocol < _FIRST_CONTROL_PROTOCOL


class IdleTimer:
    """Seconds since the last data packet, against a limit (0: never idle)."""

    def __init__(self, limit: float) -> None:
        if limit < 0:
            raise ValueError("idle cannot be negative")
        self.limit = limit
        self._last_activity: float | None = None

    @property
    def running(self) -> bool:
        return self._last_activity is not None

    def start(self, now: float) -> None:
        """The first network protocol is up: the idle time counts from now."""
        if self.limit > 0 and self._last_activity is None:
            self._last_activity = now

    def stop(self) -> None:
        self._last_activity = None

    def activity(self, now: float) -> None:
        """A data packet went out or came in at ``now``."""
        if self._last_activity is not None and now > self._last_activity:
            self._last_activity = now

    def get_timer(self) -> float | None:
        if self._last_activity is None:
            return None
        return self._last_activity + self.limit

    def expired(self, now: float) -> bool:
        deadline = self.get_timer()
        return deadline is not None and now >= deadline
