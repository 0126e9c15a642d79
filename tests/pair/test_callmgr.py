"""The CoNDIS call-management shape on a real tty: AFs, SAPs, PVCs, invalid sequences."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from hw.lab.cable import VirtualCable
from wanminiport import (
    CallParameters,
    LineDownReason,
    LinkParams,
    ModemLines,
    Vc,
    VcState,
    VcStateError,
    WanMiniport,
)
from wanminiport.callmgr import (
    AddressFamily,
    AfHandle,
    AfType,
    CallManager,
    CallManagerError,
    CloseReason,
    PvcCallManager,
    bind_client,
    unbind_adapter,
)
from wanminiport.transports.serial_port import SerialTransport


class Client:
    """A connection-oriented client that records every indication."""

    def __init__(self, name: str = "client") -> None:
        self.name = name
        self.afs: list[AddressFamily] = []
        self.closed_afs: list[AfHandle] = []
        self.connected: list[Vc] = []
        self.closed_calls: list[tuple[Vc, CloseReason]] = []
        self.params: list[LinkParams] = []
        self.down: list[LineDownReason] = []

    def af_register_notify(self, af: AddressFamily) -> None:
        self.afs.append(af)

    def af_close_notify(self, handle: AfHandle) -> None:
        self.closed_afs.append(handle)

    def incoming_call(self, vc: Vc, call: CallParameters) -> bool:
        return True

    def call_connected(self, vc: Vc) -> None:
        self.connected.append(vc)

    def incoming_close_call(self, vc: Vc, reason: CloseReason) -> None:
        self.closed_calls.append((vc, reason))

    def receive_indication(self, vc: Vc, frame: bytes) -> None:
        pass

    def link_params_indication(self, vc: Vc, params: LinkParams) -> None:
        self.params.append(params)

    def line_down_indication(self, vc: Vc, reason: LineDownReason) -> None:
        self.down.append(reason)

    def fragment_indication(self, vc: Vc) -> None:
        pass

    def modem_lines_indication(self, vc: Vc, lines: ModemLines) -> None:
        pass


class DialupStandIn(CallManager):
    """A second manager type for the registry rules (no signaling needed here)."""

    af_type = AfType.PVC


class IntegratedStandIn(CallManager):
    af_type = AfType.PVC
    integrated = True


@asynccontextmanager
async def adapter_on_cable(tmp_path: str) -> AsyncIterator[tuple[WanMiniport, VirtualCable]]:
    async with VirtualCable(115200) as cable:
        adapter = WanMiniport(SerialTransport(cable.a_path, 115200, lock_dir=tmp_path))
        adapter.start()
        try:
            yield adapter, cable
        finally:
            unbind_adapter(adapter)
            adapter.close()


def test_registering_an_af_notifies_every_bound_client(tmp_path: object) -> None:
    async def run() -> None:
        async with adapter_on_cable(str(tmp_path)) as (adapter, _):
            first, second = Client("first"), Client("second")
            bind_client(adapter, first)
            cm = PvcCallManager(adapter)
            af = cm.register_af()
            bind_client(adapter, second)  # binds later: still hears of the AF
            assert first.afs == [af] and second.afs == [af]

    asyncio.run(run())


def test_only_one_call_manager_per_af_type_per_adapter(tmp_path: object) -> None:
    async def run() -> None:
        async with adapter_on_cable(str(tmp_path)) as (adapter, _):
            PvcCallManager(adapter).register_af()
            with pytest.raises(CallManagerError, match="already served by PvcCallManager"):
                DialupStandIn(adapter).register_af()

    asyncio.run(run())


def test_an_mcm_preempts_a_call_manager_on_its_adapter(tmp_path: object) -> None:
    async def run() -> None:
        async with adapter_on_cable(str(tmp_path)) as (adapter, _):
            client = Client()
            bind_client(adapter, client)
            cm = DialupStandIn(adapter)
            af = cm.register_af()
            handle = await cm.open_af(af, client)
            mcm = IntegratedStandIn(adapter)
            mcm_af = mcm.register_af()
            assert client.closed_afs == [handle] and not handle.open
            assert client.afs[-1] is mcm_af
            with pytest.raises(CallManagerError, match="not open"):
                cm.register_sap(handle)

    asyncio.run(run())


def test_saps_match_any_number_or_a_called_number_pattern(tmp_path: object) -> None:
    async def run() -> None:
        async with adapter_on_cable(str(tmp_path)) as (adapter, _):
            client = Client()
            cm = PvcCallManager(adapter)
            handle = await cm.open_af(cm.register_af(), client)
            office = cm.register_sap(handle, "555*")
            assert cm.find_sap("5551234") is office
            assert cm.find_sap("6661234") is None
            anything = cm.register_sap(handle, "*")
            assert cm.find_sap("6661234") is anything
            cm.deregister_sap(office)
            assert cm.find_sap("5551234") is anything

    asyncio.run(run())


def test_pvc_is_activated_at_once_with_the_configured_qos(tmp_path: object) -> None:
    async def run() -> None:
        async with adapter_on_cable(str(tmp_path)) as (adapter, _):
            client = Client()
            cm = PvcCallManager(adapter)
            handle = await cm.open_af(cm.register_af(), client)
            vc = cm.add_pvc(handle, 57600)
            assert vc.state is VcState.ACTIVE and client.connected == [vc]
            assert vc.call is not None and vc.call.permanent
            assert client.params[-1] == LinkParams(57600, 57600, adapter.info.max_send_window)
            with pytest.raises(CallManagerError, match="still has a call"):
                cm.delete_vc(vc)
            with pytest.raises(CallManagerError, match="close the calls"):
                cm.close_af(handle)
            cm.delete_pvc(vc)
            assert vc.state is VcState.DELETED and vc not in adapter.vcs

    asyncio.run(run())


def test_line_loss_closes_the_pvc_call_and_reconnect_reactivates(tmp_path: object) -> None:
    async def run() -> None:
        async with adapter_on_cable(str(tmp_path)) as (adapter, cable):
            client = Client()
            cm = PvcCallManager(adapter)
            handle = await cm.open_af(cm.register_af(), client)
            vc = cm.add_pvc(handle)
            cable.hangup("a")
            await asyncio.sleep(0.3)
            assert client.down == [LineDownReason.HANGUP]
            assert client.closed_calls == [(vc, CloseReason.REMOTE)]
            assert vc.state is VcState.DEACTIVATED and not cm.calls
            with pytest.raises(Exception, match="line is down"):
                cm.reconnect(vc)  # the line has not come back

    asyncio.run(run())


def test_invalid_sequences_get_clear_errors(tmp_path: object) -> None:
    async def run() -> None:
        async with adapter_on_cable(str(tmp_path)) as (adapter, _):
            client = Client()
            cm = PvcCallManager(adapter)
            af = cm.register_af()
            handle = await cm.open_af(af, client)
            cm.close_af(handle)
            with pytest.raises(CallManagerError, match="not open"):
                cm.add_pvc(handle)
            handle = await cm.open_af(af, client)
            vc = cm.add_pvc(handle)
            with pytest.raises(CallManagerError, match="already carries"):
                cm.add_pvc(handle)
            with pytest.raises(VcStateError, match="cannot activate"):
                adapter.activate_vc(vc, vc.call)  # type: ignore[arg-type]
            with pytest.raises(CallManagerError, match="not a configured PVC"):
                cm.delete_pvc(adapter.create_vc(client))
            assert vc.state is VcState.ACTIVE  # nothing was corrupted

    asyncio.run(run())
