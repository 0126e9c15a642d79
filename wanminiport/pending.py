"""A VC's sends in flight: each one completed exactly once, with a status.

The miniport owns a frame from the moment it takes the send until it
completes it (CoNDIS: NdisMCoSendNetBufferListsComplete).  ``PendingSends``
is that ownership: a send joins when its frame goes to the line and leaves
exactly once, either when the line reports the write (success or failure)
or when the VC fails everything still in flight (hang-up, unplug, close).
A completion that arrives for a send already failed is ignored, so no
future is ever completed twice.

The send window bounds it: NDISWAN keeps at most ``window`` sends
outstanding.  A send beyond the window is still honoured (the frame is not
lost) but counted as an overrun, so a misbehaving sender shows in the
statistics; the line's own bounded write buffer refuses what it cannot hold.
"""

from __future__ import annotations

import asyncio
from collections import deque

from wanminiport.info import SendStatus


class PendingSends:
    """The outstanding sends of one VC, oldest first, and its SendWindow."""

    def __init__(self, window: int) -> None:
        self._window = _checked_window(window)
        self._futures: deque[asyncio.Future[SendStatus]] = deque()
        #: Sends taken while the window was already full.
        self.overruns = 0

    def __len__(self) -> int:
        return len(self._futures)

    def __contains__(self, future: object) -> bool:
        return future in self._futures

    @property
    def window(self) -> int:
        """How many sends may be outstanding (0 shuts the window)."""
        return self._window

    def set_window(self, window: int) -> None:
        """A new SendWindow; sends already outstanding stay until they complete."""
        self._window = _checked_window(window)

    @property
    def full(self) -> bool:
        return len(self._futures) >= self._window

    def track(self, future: asyncio.Future[SendStatus]) -> None:
        """A send now in flight; an overrun when the window was full."""
        if self.full:
            self.overruns += 1
        self._futures.append(future)

    def forget(self, future: asyncio.Future[SendStatus]) -> None:
        """The line refused the frame at once: the caller completes it itself."""
        self._futures.remove(future)

    def complete(self, future: asyncio.Future[SendStatus], status: SendStatus) -> bool:
        """Complete one send; False (and nothing done) if it is no longer pending."""
        if self._futures and self._futures[0] is future:
            self._futures.popleft()  # the common case: writes finish in order
        elif future in self._futures:
            self._futures.remove(future)
        else:
            return False  # already failed by a deactivation
        _resolve(future, status)
        return True

    def fail_all(self, status: SendStatus) -> int:
        """Complete every outstanding send with ``status``; returns how many."""
        failed = 0
        while self._futures:
            _resolve(self._futures.popleft(), status)
            failed += 1
        return failed


def _checked_window(window: int) -> int:
    if window < 0:
        raise ValueError("SendWindow cannot be negative")
    return window


def _resolve(future: asyncio.Future[SendStatus], status: SendStatus) -> None:
    # A caller may have cancelled its future; the frame is still ours to finish.
    if not future.done():
        future.set_result(status)
