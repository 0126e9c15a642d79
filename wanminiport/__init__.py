"""The WAN miniport: framing, transports, VCs, send completion, link info, call managers.

Public names are re-exported here and loaded on first use, so importing a
small module such as ``wanminiport.exitcodes`` does not pull in the framers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "MiniportError": "wanminiport.adapter",
    "WanMiniport": "wanminiport.adapter",
    "CoInfo": "wanminiport.info",
    "FramingBits": "wanminiport.info",
    "FramingMode": "wanminiport.info",
    "LinkInfo": "wanminiport.info",
    "LinkParams": "wanminiport.info",
    "SendStatus": "wanminiport.info",
    "VcStats": "wanminiport.info",
    "LineDownReason": "wanminiport.transports.base",
    "ModemLines": "wanminiport.transports.base",
    "Transport": "wanminiport.transports.base",
    "TransportError": "wanminiport.transports.base",
    "CallParameters": "wanminiport.vc",
    "FlowSpec": "wanminiport.vc",
    "Vc": "wanminiport.vc",
    "VcClient": "wanminiport.vc",
    "VcState": "wanminiport.vc",
    "VcStateError": "wanminiport.vc",
    "ExitCode": "wanminiport.exitcodes",
}

__all__ = [
    "CallParameters",
    "CoInfo",
    "ExitCode",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wanminiport' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:
    from wanminiport.adapter import MiniportError, WanMiniport
    from wanminiport.exitcodes import ExitCode
    from wanminiport.info import (
        CoInfo,
        FramingBits,
        FramingMode,
        LinkInfo,
        LinkParams,
        SendStatus,
        VcStats,
    )
    from wanminiport.transports.base import LineDownReason, ModemLines, Transport, TransportError
    from wanminiport.vc import CallParameters, FlowSpec, Vc, VcClient, VcState, VcStateError
