"""An emulated Hayes modem and a virtual exchange joining such modems by number.

* ``engine``: the modem's V.250 command interpreter (sans-I/O).
* ``exchange``: modems on real ttys joined by number, on asyncio.
* ``process``: ``python -m hw.lab.modem`` and ``ExchangeProcess``, its handle.
"""

from hw.lab.modem.engine import (
    ModemConfig,
    ModemEngine,
    ModemState,
    ResultCode,
)
from hw.lab.modem.exchange import Exchange, ExchangeConfig, ModemPort
from hw.lab.modem.process import ExchangeProcess, ExchangeProcessError

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
