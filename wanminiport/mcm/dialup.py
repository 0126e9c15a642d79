"""The dial-up MCM: a Hayes modem's AT signaling as an integrated call manager.

The modem's signaling lives on the device, so the miniport registers itself
as an MCM for the DIALUP address family (pre-empting any other call manager
of that type on its adapter).  Outgoing calls: the client creates a VC and
calls ``make_call``; we dial (ATD, or the user's chat script), and on
CONNECT activate the VC with the CONNECT rate as its QoS.  Incoming calls:
on RING we look for a SAP matching this line's number, create a VC for that
client and offer it the call; if it accepts we answer (ATA).  Hang-up drops
DTR where the port has it, otherwise ``+++`` and ATH.  A carrier loss during
a call closes it: the VC is deactivated and its pending sends fail.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from wanminiport.adapter import WanMiniport
from wanminiport.callmgr.base import (
    AfHandle,
    AfType,
    CallManager,
    CallManagerError,
    CloseReason,
)
from wanminiport.exitcodes import ExitCode, WanctlError
from wanminiport.mcm.hayes import DEFAULT_INIT, HayesTimings
from wanminiport.mcm.signaling import (
    CallFailedError,
    ConnectResult,
    ModemSignaling,
    SignalingError,
)
from wanminiport.vc import CallParameters, FlowSpec, Vc, VcState

log = logging.getLogger(__name__)


class CallSetupError(WanctlError, CallManagerError):
    """A call could not be set up; ``exit_code`` is what pppd would exit with."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.CONNECT_FAILED) -> None:
        super().__init__(message, exit_code=exit_code)


@dataclass
class DialupSettings:
    """How calls are placed and answered on this modem."""

    init: Sequence[str] = DEFAULT_INIT
    pulse: bool = False
    #: A pppd connect script (chat words) used instead of the built-in dialer.
    connect_chat: Sequence[str] | None = None
    #: A chat script for the answering side (e.g. ``'' RING ATA CONNECT``).
    answer_chat: Sequence[str] | None = None
    #: Let the modem pick up by itself after this many rings (ATS0=n); 0: we answer.
    auto_answer_rings: int = 0
    #: This line's own number, matched against the clients' SAPs.
    line_number: str = ""
    timings: HayesTimings = field(default_factory=HayesTimings)


class DialupCallManager(CallManager):
    """An integrated MCM for one Hayes-compatible modem."""

    af_type = AfType.DIALUP
    integrated = True

    def __init__(self, adapter: WanMiniport, settings: DialupSettings | None = None) -> None:
        super().__init__(adapter)
        self.settings = settings or DialupSettings()
        self.signaling = ModemSignaling(
            adapter.signaling_port(),
            timings=self.settings.timings,
            # Without a CD line the modem's NO CARRIER text is all we get.
            detect_no_carrier_text=not adapter.transport.has_modem_lines,
        )
        self.signaling.on_carrier_lost = self._carrier_lost
        self.signaling.start()
        self.last_connect: ConnectResult | None = None

    # -- outgoing --

    async def make_call(self, handle: AfHandle, vc: Vc, number: str) -> CallParameters:
        """Dial ``number`` and activate ``vc`` on CONNECT; raises CallSetupError."""
        self._check_outgoing(handle, vc)
        settings = self.settings
        try:
            if settings.connect_chat is not None:
                code = await self.signaling.run_chat(settings.connect_chat, phone=number)
                if code != 0:
                    raise CallSetupError(f"Connect script failed (chat exit code {code})")
                result = ConnectResult(text="CONNECT")
            else:
                result = await self.signaling.dial(number, init=settings.init, pulse=settings.pulse)
        except CallFailedError as exc:
            raise CallSetupError(f"dialing {number}: {exc.result.text}") from exc
        except SignalingError as exc:
            raise CallSetupError(f"dialing {number}: {exc}") from exc
        return self._call_up(handle, vc, result, number)

    # -- incoming --

    async def accept_call(self, handle: AfHandle) -> Vc:
        """Wait for a call the client's SAP matches, answer it; the VC is active."""
        self._require_open(handle)
        if not handle.saps:
            raise CallManagerError("register a SAP before waiting for calls")
        self._forget_dead_calls()
        if self.calls:
            raise CallManagerError(f"{self.adapter.transport.name}: a call is already up")
        offered: list[Vc] = []

        def accept(rings: int) -> bool:
            sap = self.find_sap(self.settings.line_number)
            if sap is None:
                log.info(
                    "RING %d: no SAP matches line %r; not answering",
                    rings,
                    self.settings.line_number,
                )
                return False
            vc = offered[0] if offered else self.adapter.create_vc(sap.handle.client)
            if not offered:
                offered.append(vc)
            speed = FlowSpec(self.adapter.transport.baudrate)
            return sap.handle.client.incoming_call(vc, CallParameters(speed, speed))

        settings = self.settings
        try:
            if settings.answer_chat is not None:
                code = await self.signaling.run_chat(settings.answer_chat)
                if code != 0:
                    raise CallSetupError(f"Answer script failed (chat exit code {code})")
                result = ConnectResult(text="CONNECT")
            else:
                result = await self.signaling.answer(
                    init=settings.init, auto_rings=settings.auto_answer_rings, accept=accept
                )
        except (CallFailedError, SignalingError) as exc:
            for vc in offered:
                self.adapter.delete_vc(vc)
            raise CallSetupError(f"answering: {exc}") from exc
        vc = offered[0] if offered else self.adapter.create_vc(handle.client)
        self._call_up(handle, vc, result, "")
        return vc

    # -- teardown --

    async def close_call(self, vc: Vc) -> None:
        """Hang up our side: the VC is deactivated first, then the modem goes on-hook."""
        self.calls.pop(vc.id, None)
        if vc.state is VcState.ACTIVE:
            self.adapter.deactivate_vc(vc)
        try:
            await self.signaling.hangup()
        except SignalingError as exc:
            log.info("hang-up: %s", exc)

    def close(self) -> None:
        self.signaling.close()

    # -- internals --

    def _call_up(
        self, handle: AfHandle, vc: Vc, result: ConnectResult, number: str
    ) -> CallParameters:
        self.last_connect = result
        rate = result.rate or self.adapter.transport.baudrate
        call = CallParameters(FlowSpec(rate), FlowSpec(rate), number=number)
        self._connected(vc, call)
        self.signaling.handover(self.adapter.data_sink())
        handle.client.call_connected(vc)
        return call

    def _carrier_lost(self) -> None:
        for vc in list(self.calls.values()):
            self._torn_down(vc, CloseReason.CARRIER_LOST, indicate=True)
