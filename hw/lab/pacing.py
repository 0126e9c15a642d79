"""Pacing bytes at a line rate: when may the next bytes go on a virtual wire.

A real UART at 8N1 takes 10 bit times per byte (start, 8 data, stop).  A
``LinePacer`` keeps the time at which the simulated line becomes free and
lets a relay take bytes from the sender no earlier than the line could carry
them, with a small look-ahead (the sending UART's FIFO) so the line never
idles between reads.  ``Wire`` holds the bytes in flight and gives each one
to the receiver only once its last bit has arrived, so a receiver never sees
a byte before a real line would have delivered it.  No I/O: time is an
argument.
"""

from __future__ import annotations

from collections import deque
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

    def release(self, now: float, count: int) -> float:
        """Record that ``count`` bytes were put on the line at ``now``.

        Returns when the first of them starts on the wire: ``now``, or later
        if the line is still busy with earlier bytes.
        """
        start = max(self._line_free_at, now)
        self._line_free_at = start + count * self.seconds_per_byte
        return start

    def wake_time(self, now: float) -> float:
        """When at least one byte may next be released."""
        return max(now, self._line_free_at - self.lookahead + self.seconds_per_byte)

    def idle_since(self, now: float) -> bool:
        """True when everything released so far has left the wire."""
        return now >= self._line_free_at


#: Slack for float rounding when comparing a byte's arrival with the clock.
_ARRIVAL_EPSILON = 1e-9


class Wire:
    """Bytes on the simulated wire, each delivered when its last bit arrives.

    Bytes are put on the wire in segments that start at a given time (from
    ``LinePacer.release``); byte ``i`` of a segment arrives at
    ``start + (i + 1) * seconds_per_byte``.
    """

    def __init__(self, seconds_per_byte: float) -> None:
        if seconds_per_byte <= 0:
            raise ValueError(f"seconds per byte must be positive, not {seconds_per_byte}")
        self.seconds_per_byte = seconds_per_byte
        # (start of the segment's first byte, its bytes), oldest first.
        self._segments: deque[tuple[float, bytes]] = deque()
        self._size = 0

    def __len__(self) -> int:
        """Bytes still in flight."""
        return self._size

    def put(self, start: float, data: bytes) -> None:
        """Bytes that start on the wire at ``start``, one after the other."""
        if data:
            self._segments.append((start, data))
            self._size += len(data)

    def take(self, now: float) -> bytes:
        """Every byte that has fully arrived by ``now``, in order."""
        out: list[bytes] = []
        per_byte = self.seconds_per_byte
        while self._segments:
            start, data = self._segments[0]
            arrived = int((now - start) / per_byte + _ARRIVAL_EPSILON)
            if arrived <= 0:
                break
            if arrived >= len(data):
                out.append(data)
                self._segments.popleft()
                continue
            out.append(data[:arrived])
            self._segments[0] = (start + arrived * per_byte, data[arrived:])
            break
        taken = b"".join(out)
        self._size -= len(taken)
        return taken

    def arrival(self, count: int) -> float | None:
        """When the ``count``-th byte in flight (from 1) will have arrived; None if empty.

        A ``count`` beyond what is in flight gives the last byte's arrival.
        """
        if not self._segments:
            return None
        for start, data in self._segments:
            if count <= len(data):
                return start + count * self.seconds_per_byte
            count -= len(data)
        start, data = self._segments[-1]
        return start + len(data) * self.seconds_per_byte

    def clear(self) -> int:
        """Drop everything in flight; returns how many bytes."""
        dropped = self._size
        self._segments.clear()
        self._size = 0
        return dropped
