"""How a call comes up and goes down, one strategy per kind of line.

A direct cable needs no call: a PVC is added and PPP starts (``DirectLine``).
A modem is dialed or answered by the dial-up call manager (``ModemLine``).
The runner holds one ``CallSetup`` and never asks which it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ndiswan.link import PppLink
from wanctl.options import LinkOptions
from wanctl.progress import Progress
from wanminiport import WanMiniport
from wanminiport.callmgr import PvcCallManager
from wanminiport.mcm.dialup import DialupCallManager, DialupSettings
from wanminiport.vc import Vc

#: Awaits a call-setup request; None when the user hung up first.
UnlessHangup = Callable[[Awaitable[Any]], Awaitable[Any]]


class CallSetup(Protocol):
    """Brings one call up on a miniport and takes it down again."""

    async def connect(self, link: PppLink, unless_hangup: UnlessHangup) -> Vc | None:
        """The VC of the connected call, or None when the user hung up first.

        Raises ``CallSetupError`` (with pppd's exit code) when the call fails.
        """
        ...

    async def teardown(self, vc: Vc) -> None:
        """End the call on ``vc`` (hang up, or delete the PVC)."""
        ...

    def close(self) -> None:
        """Release what the strategy holds (timers, the modem dialog)."""
        ...


def uses_modem(options: LinkOptions, *, answer: bool) -> bool:
    """A modem is dialed with a number or a connect script, answered with init, a script
    or auto-answer; anything else is a direct line."""
    if answer:
        return options.init is not None or options.connect is not None or options.auto_answer > 0
    return options.number is not None or options.connect is not None


def call_setup_for(
    adapter: WanMiniport, options: LinkOptions, *, answer: bool, progress: Progress
) -> CallSetup:
    """The strategy for this line: a modem when ``uses_modem``, else a direct line."""
    if uses_modem(options, answer=answer):
        return ModemLine(adapter, options, answer=answer, progress=progress)
    return DirectLine(adapter, options, progress=progress)


class DirectLine:
    """A null-modem cable or two USB dongles: one PVC, PPP starts at once."""

    def __init__(self, adapter: WanMiniport, options: LinkOptions, *, progress: Progress) -> None:
        self.cm = PvcCallManager(adapter)
        self.options = options
        self.progress = progress

    async def connect(self, link: PppLink, unless_hangup: UnlessHangup) -> Vc | None:
        handle = await self.cm.open_af(self.cm.register_af(), link)
        self.progress.step(f"Direct line {self.options.device}: starting PPP")
        return self.cm.add_pvc(handle, self.options.baud)

    async def teardown(self, vc: Vc) -> None:
        self.cm.delete_pvc(vc)

    def close(self) -> None:
        """A PVC holds nothing beyond its VC."""


class ModemLine:
    """A Hayes modem: dialed (number or connect script) or answered (init, script, rings)."""

    def __init__(
        self, adapter: WanMiniport, options: LinkOptions, *, answer: bool, progress: Progress
    ) -> None:
        self.adapter = adapter
        self.options = options
        self.answer = answer
        self.progress = progress
        self.cm = DialupCallManager(adapter, dialup_settings(options, answer=answer))
        self.cm.signaling.on_message = progress.note

    async def connect(self, link: PppLink, unless_hangup: UnlessHangup) -> Vc | None:
        o = self.options
        handle = await self.cm.open_af(self.cm.register_af(), link)
        vc: Vc | None
        if self.answer:
            self.progress.step(f"Waiting for a call on {o.device}")
            self.cm.register_sap(handle, "*")
            vc = await unless_hangup(self.cm.accept_call(handle))
        else:
            self.progress.step(f"Dialing {o.number or '(connect script)'}")
            new_vc = self.adapter.create_vc(link)
            call = await unless_hangup(self.cm.make_call(handle, new_vc, o.number or ""))
            vc = new_vc if call is not None else None
        if vc is not None:
            connect = self.cm.last_connect
            self.progress.step(f"CONNECT {(connect.rate if connect else None) or o.baud}")
        return vc

    async def teardown(self, vc: Vc) -> None:
        self.progress.step("Hanging up")
        await self.cm.close_call(vc)

    def close(self) -> None:
        self.cm.close()


def dialup_settings(options: LinkOptions, *, answer: bool) -> DialupSettings:
    """The MCM's settings from the link's options: init, pulse, auto-answer, the chat."""
    settings = DialupSettings(pulse=options.pulse, auto_answer_rings=options.auto_answer)
    if options.init is not None:
        settings.init = ("ATZ", options.init)
    if answer:
        settings.answer_chat = options.chat_words()
    else:
        settings.connect_chat = options.chat_words()
    return settings
