"""The per-VC send window and the bounded queue in front of it (no I/O).

NDISWAN never has more sends outstanding on a VC than its current
SendWindow (WAN_CO_LINKPARAMS.SendWindow); a window of 0 stops the VC until
the miniport reopens it.  Packets that cannot go yet wait in a bounded
queue; past its bound they are dropped and counted, and the queue tells its
producer to pause (high-water mark) and to resume (low-water mark).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


class WindowError(RuntimeError):
    """A completion without a send, or a send beyond the window (we did wrong)."""


@dataclass
class SendWindow:
    """Outstanding sends against the current SendWindow."""

    window: int
    outstanding: int = 0

    def can_send(self) -> bool:
        return self.outstanding < self.window

    def on_send(self) -> None:
        if not self.can_send():
            raise WindowError(f"send beyond the window ({self.outstanding}/{self.window})")
        self.outstanding += 1

    def on_complete(self) -> None:
        if self.outstanding == 0:
            raise WindowError("a send completed that was never outstanding")
        self.outstanding -= 1

    def set_window(self, window: int) -> None:
        """Takes effect at once; sends already out stay out until they complete."""
        if window < 0:
            raise WindowError("SendWindow cannot be negative")
        self.window = window


@dataclass
class SendQueue:
    """A bounded FIFO of frames waiting for the window, with back-pressure."""

    max_frames: int = 64
    high_water: int = 48
    low_water: int = 16
    dropped: int = 0
    paused: bool = False
    _frames: deque[bytes] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if not 0 <= self.low_water <= self.high_water <= self.max_frames:
            raise ValueError("need 0 <= low_water <= high_water <= max_frames")

    def __len__(self) -> int:
        return len(self._frames)

    def push(self, frame: bytes) -> bool:
        """Queue a frame; False (and counted) when the queue is full."""
        if len(self._frames) >= self.max_frames:
            self.dropped += 1
            return False
        self._frames.append(frame)
        if len(self._frames) >= self.high_water:
            self.paused = True
        return True

    def pop(self) -> bytes | None:
        if not self._frames:
            return None
        frame = self._frames.popleft()
        if self.paused and len(self._frames) <= self.low_water:
            self.paused = False
        return frame

    def clear(self) -> int:
        """Drop everything queued (the VC went away); returns how many."""
        count = len(self._frames)
        self._frames.clear()
        self.paused = False
        return count
