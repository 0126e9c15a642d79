"""Permanent VCs: a direct null-modem cable or leased line, no signaling.

OID_CO_ADD_PVC / OID_CO_DELETE_PVC analogs: the operator's configuration
adds a PVC with its QoS (the configured baud), the manager creates the VC
for the client that opened the PVC address family and activates it at once;
deleting it deactivates and deletes the VC.  When the line drops, the PVC's
call closes (the client is told) and the VC stays, ready to be re-activated
by ``reconnect`` when the line is back.
"""

from __future__ import annotations

from wanminiport.adapter import WanMiniport
from wanminiport.callmgr.base import (
    AfHandle,
    AfType,
    CallManager,
    CallManagerError,
    CloseReason,
    reason_from_line,
)
from wanminiport.transports.base import LineDownReason, ModemLines
from wanminiport.vc import CallParameters, FlowSpec, Vc, VcState


class PvcCallManager(CallManager):
    """The call manager of a direct line: PVCs only."""

    af_type = AfType.PVC

    def __init__(self, adapter: WanMiniport) -> None:
        super().__init__(adapter)
        self.pvcs: dict[int, tuple[AfHandle, CallParameters]] = {}
        adapter.attach_signaling(self, route_data=False)

    def add_pvc(self, handle: AfHandle, bits_per_second: int | None = None) -> Vc:
        """Configure a PVC at the operator's speed and bring it up."""
        self._require_open(handle)
        if self.calls:
            raise CallManagerError(f"{self.adapter.transport.name} already carries a PVC")
        speed = bits_per_second or self.adapter.transport.baudrate
        call = CallParameters(FlowSpec(speed), FlowSpec(speed), permanent=True)
        vc = self.adapter.create_vc(handle.client)
        self.pvcs[vc.id] = (handle, call)
        self._connected(vc, call)
        handle.client.call_connected(vc)
        return vc

    def reconnect(self, vc: Vc) -> None:
        """Re-activate a PVC whose line came back."""
        if vc.id not in self.pvcs:
            raise CallManagerError(f"VC {vc.id} is not a configured PVC")
        handle, call = self.pvcs[vc.id]
        self._connected(vc, call)
        handle.client.call_connected(vc)

    def delete_pvc(self, vc: Vc) -> None:
        if vc.id not in self.pvcs:
            raise CallManagerError(f"VC {vc.id} is not a configured PVC")
        self._torn_down(vc, CloseReason.LOCAL, indicate=False)
        del self.pvcs[vc.id]
        if vc.state is not VcState.DELETED:
            self.adapter.delete_vc(vc)

    # -- TransportEvents from the signaling port: only line state matters --

    def data_received(self, data: bytes) -> None:
        """No signaling on a PVC line; stray bytes outside data mode are ignored."""

    def line_down(self, reason: LineDownReason) -> None:
        for vc in list(self.calls.values()):
            self._torn_down(vc, reason_from_line(reason), indicate=True)

    def modem_lines_changed(self, lines: ModemLines) -> None:
        """A PVC ignores modem lines; the VC's client sees them directly."""
