"""Call management in the CoNDIS shape: address families, SAPs, calls on VCs.

* A call manager (or an integrated MCM) registers an address family (AF)
  per adapter (NdisCmRegisterAddressFamilyEx / NdisMCmRegisterAddressFamilyEx).
  Every client bound to that adapter is told (ProtocolCoAfRegisterNotify)
  and may open the AF (NdisClOpenAddressFamilyEx); opening may complete
  asynchronously, so it returns a future.
* Only one call manager serves an AF type on an adapter; an MCM registering
  on its own adapter pre-empts a call manager there (its opens are closed).
* Clients register SAPs (NdisClRegisterSap) to receive incoming calls: any
  number (``*``) or a called-number pattern (shell wildcards).
* VCs: created by the client for an outgoing call, by the call manager for
  an incoming one; activated when the call connects, deactivated when it is
  torn down, then deleted or reused.

This module is the registry and the rules; concrete call managers (the
dial-up MCM for Hayes modems, the PVC manager for direct cables) subclass
``CallManager`` and implement the signaling.
"""

from __future__ import annotations

import asyncio
import enum
import fnmatch
import weakref
from dataclasses import dataclass, field
from typing import Protocol

from wanminiport.adapter import WanMiniport
from wanminiport.transports.base import LineDownReason
from wanminiport.vc import CallParameters, Vc, VcClient, VcInput, VcState


class CallManagerError(RuntimeError):
    """An invalid call-management sequence (the caller did wrong)."""


class AfType(enum.Enum):
    """Address-family types a serial adapter can offer."""

    #: Switched calls through a Hayes modem (ATD/ATA).
    DIALUP = "dialup"
    #: Permanent VCs: a direct null-modem cable or leased line.
    PVC = "pvc"


@dataclass(frozen=True)
class AddressFamily:
    """A registered AF: which manager serves which type on which adapter."""

    af_type: AfType
    adapter: WanMiniport
    manager: CallManager


@dataclass(eq=False)
class AfHandle:
    """An open AF (NdisAfHandle): the client-manager association."""

    af: AddressFamily
    client: CoClient
    open: bool = True
    saps: list[Sap] = field(default_factory=list)


@dataclass(eq=False)
class Sap:
    """A client's registration for incoming calls on an open AF."""

    handle: AfHandle
    pattern: str = "*"

    def matches(self, number: str) -> bool:
        return self.pattern == "*" or fnmatch.fnmatchcase(number, self.pattern)


class CloseReason(enum.Enum):
    LOCAL = "local hang-up"
    REMOTE = "remote hang-up"
    CARRIER_LOST = "carrier lost"
    UNPLUGGED = "device unplugged"


class CoClient(VcClient, Protocol):
    """What a connection-oriented client (NDISWAN) offers to call managers."""

    def af_register_notify(self, af: AddressFamily) -> None:
        """ProtocolCoAfRegisterNotify: an AF appeared on a bound adapter."""

    def af_close_notify(self, handle: AfHandle) -> None:
        """The AF the client had open was withdrawn (pre-empted or deregistered)."""

    def incoming_call(self, vc: Vc, call: CallParameters) -> bool:
        """ProtocolClIncomingCall: accept (True) or reject an offered call."""

    def call_connected(self, vc: Vc) -> None:
        """ProtocolClCallConnected: the VC is active, data may flow."""

    def incoming_close_call(self, vc: Vc, reason: CloseReason) -> None:
        """ProtocolClIncomingCloseCall: the call is gone; the VC is deactivated."""


@dataclass(eq=False)
class AdapterRegistry:
    """What NDIS keeps per adapter: its AFs by type and the clients bound to it."""

    afs: dict[AfType, AddressFamily] = field(default_factory=dict)
    clients: list[CoClient] = field(default_factory=list)


_registries: weakref.WeakKeyDictionary[WanMiniport, AdapterRegistry] = weakref.WeakKeyDictionary()


def registry_for(adapter: WanMiniport) -> AdapterRegistry:
    registry = _registries.get(adapter)
    if registry is None:
        registry = _registries[adapter] = AdapterRegistry()
    return registry


def bind_client(adapter: WanMiniport, client: CoClient) -> None:
    """A client binds to an adapter and hears of every AF already there."""
    registry = registry_for(adapter)
    if client not in registry.clients:
        registry.clients.append(client)
    for af in list(registry.afs.values()):
        client.af_register_notify(af)


def unbind_adapter(adapter: WanMiniport) -> None:
    """Forget an adapter (on halt): its AFs are withdrawn, its bindings dropped."""
    registry = registry_for(adapter)
    for af in list(registry.afs.values()):
        af.manager.deregister_af(af)
    registry.clients.clear()


class CallManager:
    """A call manager (or, with ``integrated=True``, an MCM) for one adapter."""

    af_type: AfType = AfType.PVC
    #: An MCM owns signaling on its own adapter and pre-empts a plain CM.
    integrated: bool = False

    def __init__(self, adapter: WanMiniport) -> None:
        self.adapter = adapter
        self.handles: list[AfHandle] = []
        self.calls: dict[int, Vc] = {}

    # -- registration --

    def register_af(self) -> AddressFamily:
        registry = registry_for(self.adapter)
        current = registry.afs.get(self.af_type)
        if current is not None and current.manager is not self:
            if self.integrated and not current.manager.integrated:
                current.manager.deregister_af(current)
            else:
                raise CallManagerError(
                    f"{self.adapter.transport.name}: the {self.af_type.value} address family "
                    f"is already served by {type(current.manager).__name__}"
                )
        af = AddressFamily(self.af_type, self.adapter, self)
        registry.afs[self.af_type] = af
        for client in list(registry.clients):
            client.af_register_notify(af)
        return af

    def deregister_af(self, af: AddressFamily) -> None:
        for handle in list(self.handles):
            if handle.af is af:
                self._close_handle(handle)
                handle.client.af_close_notify(handle)
        registry = registry_for(self.adapter)
        if registry.afs.get(af.af_type) is af:
            del registry.afs[af.af_type]

    def open_af(self, af: AddressFamily, client: CoClient) -> asyncio.Future[AfHandle]:
        """NdisClOpenAddressFamilyEx; completes (possibly later) with the handle."""
        if registry_for(self.adapter).afs.get(af.af_type) is not af:
            raise CallManagerError(f"the {af.af_type.value} address family is not registered")
        handle = AfHandle(af, client)
        self.handles.append(handle)
        future: asyncio.Future[AfHandle] = asyncio.get_running_loop().create_future()
        future.set_result(handle)
        return future

    def close_af(self, handle: AfHandle) -> None:
        if any(vc.client is handle.client for vc in self.calls.values()):
            raise CallManagerError("close the calls on this address family first")
        self._close_handle(handle)

    def _close_handle(self, handle: AfHandle) -> None:
        handle.open = False
        handle.saps.clear()
        if handle in self.handles:
            self.handles.remove(handle)

    # -- SAPs --

    def register_sap(self, handle: AfHandle, pattern: str = "*") -> Sap:
        self._require_open(handle)
        sap = Sap(handle, pattern)
        handle.saps.append(sap)
        return sap

    def deregister_sap(self, sap: Sap) -> None:
        if sap in sap.handle.saps:
            sap.handle.saps.remove(sap)

    def find_sap(self, number: str) -> Sap | None:
        for handle in self.handles:
            for sap in handle.saps:
                if sap.matches(number):
                    return sap
        return None

    # -- calls --

    def _require_open(self, handle: AfHandle) -> None:
        if not handle.open or handle not in self.handles:
            raise CallManagerError("the address family is not open")

    def _check_outgoing(self, handle: AfHandle, vc: Vc) -> None:
        self._require_open(handle)
        if vc.line is not self.adapter:
            raise CallManagerError(f"VC {vc.id} belongs to another adapter")
        vc.check(VcInput.ACTIVATE, doing="make a call on")
        self._forget_dead_calls()
        if self.calls:
            raise CallManagerError(f"{self.adapter.transport.name}: a call is already up")

    def _forget_dead_calls(self) -> None:
        """Calls whose VC the miniport deactivated (line lost) are over."""
        for vc_id, vc in list(self.calls.items()):
            if vc.state is not VcState.ACTIVE:
                del self.calls[vc_id]

    def _connected(self, vc: Vc, call: CallParameters) -> None:
        self.adapter.activate_vc(vc, call)
        self.calls[vc.id] = vc

    def _torn_down(self, vc: Vc, reason: CloseReason, *, indicate: bool) -> None:
        self.calls.pop(vc.id, None)
        if vc.state is VcState.ACTIVE:
            self.adapter.deactivate_vc(vc)
        if indicate:
            self._client_of(vc).incoming_close_call(vc, reason)

    def _client_of(self, vc: Vc) -> CoClient:
        for handle in self.handles:
            if handle.client is vc.client:
                return handle.client
        raise CallManagerError(f"VC {vc.id} has no client with an open address family")

    def delete_vc(self, vc: Vc) -> None:
        """NdisCoDeleteVc, refused while a call is on it."""
        if vc.id in self.calls:
            raise CallManagerError(f"VC {vc.id} still has a call on it: close the call first")
        self.adapter.delete_vc(vc)


def reason_from_line(reason: LineDownReason) -> CloseReason:
    if reason is LineDownReason.UNPLUGGED:
        return CloseReason.UNPLUGGED
    if reason is LineDownReason.CARRIER_LOST:
        return CloseReason.CARRIER_LOST
    return CloseReason.REMOTE
