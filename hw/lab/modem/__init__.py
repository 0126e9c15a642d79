"""An emulated Hayes modem and a virtual exchange joining such modems by number.

* ``engine``: the modem's V.250 command interpreter (sans-I/O).
* ``exchange``: modems on real ttys joined by number, on asyncio.
* ``process``: ``python -m hw.lab.modem`` and ``ExchangeProcess``, its handle.

The names are loaded on first use, so importing the engine alone never pulls
in the event loop.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ModemConfig": "hw.lab.modem.engine",
    "ModemEngine": "hw.lab.modem.engine",
    "ModemState": "hw.lab.modem.engine",
    "ResultCode": "hw.lab.modem.engine",
    "Exchange": "hw.lab.modem.exchange",
    "ExchangeConfig": "hw.lab.modem.exchange",
    "ModemPort": "hw.lab.modem.exchange",
    "ExchangeProcess": "hw.lab.modem.process",
    "ExchangeProcessError": "hw.lab.modem.process",
}

__all__ = [
    "Exchange",
    "ExchangeConfig",
    "ExchangeProcess",
    "ExchangeProcessError",
    "ModemConfig",
    "ModemEngine",
    "ModemPort",
    "ModemState",
    "ResultCode",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hw.lab.modem' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:
    from hw.lab.modem.engine import ModemConfig, ModemEngine, ModemState, ResultCode
    from hw.lab.modem.exchange import Exchange, ExchangeConfig, ModemPort
    from hw.lab.modem.process import ExchangeProcess, ExchangeProcessError
