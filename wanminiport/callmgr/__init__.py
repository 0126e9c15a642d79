"""Call managers: the CoNDIS AF/SAP/VC shape, PVCs and the dial-up MCM."""

from wanminiport.callmgr.base import (
    AddressFamily,
    AfHandle,
    AfType,
    CallManager,
    CallManagerError,
    CloseReason,
    CoClient,
    Sap,
    bind_client,
    registry_for,
    unbind_adapter,
)
from wanminiport.callmgr.pvc import PvcCallManager

__all__ = [
    "AddressFamily",
    "AfHandle",
    "AfType",
    "CallManager",
    "CallManagerError",
    "CloseReason",
    "CoClient",
    "PvcCallManager",
    "Sap",
    "bind_client",
    "registry_for",
    "unbind_adapter",
]
