"""The send path of one VC: frames go down under the SendWindow, completions come back.

This is the glue between the pure ``SendWindow``/``SendQueue`` and a
miniport VC: it hands a frame to ``Vc.send`` only while the window allows,
pumps the queue when a send completes or the window reopens, and tells the
upper edge to pause or resume reading (back-pressure).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from ndiswan.window import SendQueue, SendWindow
from wanminiport.info import SendStatus
from wanminiport.vc import Vc, VcState


class VcSendPath:
    """Per-VC sender: bounded, windowed, every completion accounted for."""

    def __init__(
        self,
        vc: Vc,
        *,
        queue: SendQueue | None = None,
        on_backpressure: Callable[[bool], None] | None = None,
    ) -> None:
        self.vc = vc
        self.window = SendWindow(vc.send_window)
        self.queue = queue or SendQueue()
        self.on_backpressure = on_backpressure
        self.completed: dict[SendStatus, int] = {}
        self.closed = False
        #: PPP control frames go ahead of data and are never dropped for a
        #: full data queue; their own bound only stops a flood.
        self._control: deque[bytes] = deque()
        self.max_control = 256

    @property
    def dropped(self) -> int:
        """Frames dropped: queue full, or queued when the VC went away."""
        return self.queue.dropped

    def send(self, frame: bytes) -> bool:
        """Queue a frame for the VC; False when it was dropped (queue full or closed)."""
        if self.closed:
            self.queue.dropped += 1
            return False
        was_paused = self.queue.paused
        accepted = self.queue.push(frame)
        self._pump()
        if self.queue.paused != was_paused and self.on_backpressure:
            self.on_backpressure(self.queue.paused)
        return accepted

    def send_control(self, frame: bytes) -> bool:
        """Queue a control frame (LCP, authentication, NCP) ahead of data."""
        if self.closed or len(self._control) >= self.max_control:
            self.queue.dropped += 1
            return False
        self._control.append(frame)
        self._pump()
        return True

    def set_window(self, window: int) -> None:
        """WAN_CO_LINKPARAMS arrived: the new window applies at once."""
        self.window.set_window(window)
        self._pump()

    def close(self) -> int:
        """The VC is going away: queued frames are dropped; returns how many."""
        self.closed = True
        dropped = self.queue.clear() + len(self._control)
        self._control.clear()
        self.queue.dropped += dropped
        if self.on_backpressure:
            self.on_backpressure(False)
        return dropped

    def _pump(self) -> None:
        was_paused = self.queue.paused
        # A VC whose call is gone keeps its queue until close() drops it.
        while self.window.can_send() and self.vc.state is VcState.ACTIVE:
            frame = self._control.popleft() if self._control else self.queue.pop()
            if frame is None:
                break
            self.window.on_send()
            self.vc.send(frame).add_done_callback(self._completed)
        if was_paused and not self.queue.paused and self.on_backpressure:
            self.on_backpressure(False)

    def _completed(self, future: asyncio.Future[SendStatus]) -> None:
        status = future.result() if not future.cancelled() else SendStatus.CLOSED
        self.completed[status] = self.completed.get(status, 0) + 1
        self.window.on_complete()
        if not self.closed:
            self._pump()
