"""The asyncio side of the core contract: one helper that keeps a core's timer armed.

Every driver of a sans-I/O core (``wanminiport.sansio``) does the same three
things after each call into the core: read ``get_timer()``, (re)arm one
``loop.call_at`` for it, and when it fires call ``handle_timer(loop.time())``
and service the core's outputs.  ``CoreTimer`` is that, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from wanminiport.sansio import TimedCore


class CoreTimer:
    """Arms ``loop.call_at`` for ``core.get_timer()``; on expiry runs the core, then ``after``.

    Call ``rearm()`` after every call into the core (the deadline may have
    moved); ``cancel()`` when the core is done.  ``after`` is the driver's
    service routine (drain the outputs, perform them); it runs after each
    expiry, and the timer is re-armed once it returns.
    """

    def __init__(
        self,
        core: TimedCore,
        after: Callable[[], None],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.core = core
        self._after = after
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self._when: float | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    @property
    def when(self) -> float | None:
        """The loop time the timer is armed for (None: not armed)."""
        return self._when

    def rearm(self) -> None:
        """Follow the core's current deadline (no work when it did not move)."""
        when = self.core.get_timer()
        if when == self._when and (self._handle is not None or when is None):
            return
        self.cancel()
        if when is not None:
            self._when = when
            self._handle = self.loop.call_at(when, self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._when = None

    def _fire(self) -> None:
        self._handle = None
        self._when = None
        self.core.handle_timer(self.loop.time())
        self._after()
        self.rearm()
