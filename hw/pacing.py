"""Pacing bytes at a line rate: when may the next bytes go on a virtual wire.

A real UART at 8N1 takes 10 bit times per byte (start, 8 data, stop).  A
``LinePacer`` keeps the time at which the simulated line becomes free and
lets a relay hand out bytes no earlier than the line could carry them, with
a small look-ahead so the receiver always has the next bytes ready and the
line never idles between writes.  No I/O: time is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BITS_PER_8N1_BYTE = 10


@dataclass
class LinePacer:
    """Token schedule for one direction of a paced line."""

    baud: int
    bits_per_byte: int = BITS_PER_8N1_BYTE
    #: How far ahead of the simulated wire bytes may be released, in seconds.
    lookahead: float = 0.002
    _line_free_at: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        if self.baud <= 0:
            raise ValueError(f"baud must be positive, not {self.baud}")

    @property
    def seconds_per_byte(self) -> float:
        return self.bits_per_byte / self.baud

    def allowance(self, now: float) -> int:
        """How many bytes may be released at ``now``."""
        free_at = max(self._line_free_at, now)
        budget = now + self.lookahead - free_at
        if budget <= 0:
            return 0
        # The epsilon keeps wake_time() exact: at that instant one byte fits.
        return int(budget / self.seconds_per_byte + 1e-9)

    def release(self, now: float, count: int) -> None:
        """Record that ``count`` bytes were put on the line at ``now``."""
        self._line_free_at = max(self._line_free_at, now) + count * self.seconds_per_byte

    def wake_time(self, now: float) -> float:
        """When at least one byte may next be released."""
        return max(now, self._line_free_at - self.lookahead + self.seconds_per_byte)

    def idle_since(self, now: float) -> bool:
        """True when everything released so far has left the wire."""
        return now >= self._line_free_at
