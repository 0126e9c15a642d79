"""LCP Echo keepalive (pppd's lcp-echo-interval / lcp-echo-failure).

While LCP is Opened an Echo-Request goes out every ``interval`` seconds.
Each counts as pending until any Echo-Reply that does not carry our own
magic number arrives.  When ``failures`` requests are pending at the next
tick, the peer is declared dead, which pppd reports with exit status 15.
"""

from __future__ import annotations

import enum


class EchoTick(enum.Enum):
    NOTHING = "nothing"
    SEND_REQUEST = "send-request"
    PEER_DEAD = "peer-dead"


class EchoKeepalive:
    def __init__(self, interval: float, failures: int) -> None:
        self.interval = interval
        self.failures = failures
        self.pending = 0
        self._next_id = 0
        self._deadline: float | None = None

    @property
    def enabled(self) -> bool:
        return self.interval > 0

    def start(self, now: float) -> None:
        self.pending = 0
        self._deadline = now + self.interval if self.enabled else None

    def stop(self) -> None:
        self._deadline = None
        self.pending = 0

    def get_timer(self) -> float | None:
        return self._deadline

    def handle_timer(self, now: float) -> EchoTick:
        if self._deadline is None or now < self._deadline:
            return EchoTick.NOTHING
        if self.failures and self.pending >= self.failures:
            self.stop()
            return EchoTick.PEER_DEAD
        self.pending += 1
        self._deadline = now + self.interval
        return EchoTick.SEND_REQUEST

    def next_identifier(self) -> int:
        ident = self._next_id
        self._next_id = (self._next_id + 1) & 0xFF
        return ident

    def reply_received(self, data: bytes, our_magic: int) -> str | None:
        """Count a reply as proof of life; returns a warning for odd replies."""
        if len(data) < 4:
            return f"lcp: received short Echo-Reply, length {len(data)}"
        if our_magic and int.from_bytes(data[:4], "big") == our_magic:
            return "appear to have received our own echo-reply!"
        self.pending = 0
        return None
