"""The WAN miniport: framing, transports, VCs, send completion, link info, call managers."""

from wanminiport.adapter import MiniportError, WanMiniport
from wanminiport.info import (
    CoInfo,
    FramingBits,
    FramingMode,
    LinkInfo,
    LinkParams,
    SendStatus,
    VcStats,
)
from wanminiport.transport import LineDownReason, ModemLines, Transport, TransportError
from wanminiport.vc import CallParameters, FlowSpec, Vc, VcClient, VcState, VcStateError

__all__ = [
    "CallParameters",
    "CoInfo",
    "FlowSpec",
    "FramingBits",
    "FramingMode",
    "LineDownReason",
    "LinkInfo",
    "LinkParams",
    "MiniportError",
    "ModemLines",
    "SendStatus",
    "Transport",
    "TransportError",
    "Vc",
    "VcClient",
    "VcState",
    "VcStateError",
    "VcStats",
    "WanMiniport",
]
