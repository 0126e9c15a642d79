"""The miniport's integrated call manager (MCM) for AT-command modems.

* ``results``, ``commands``, ``hayes``: the Hayes (ITU-T V.250) host side --
  result codes, command lines, and the dial/answer/hang-up state machine.
* ``chat_script``, ``chat``: pppd's chat(8) scripts, parsed and interpreted.
* ``signaling``: the asyncio glue that runs either over a ``Transport``.

The first five are protocol cores (no I/O); only ``signaling`` touches the
event loop.
"""

import importlib
from typing import TYPE_CHECKING, Any

from wanminiport.mcm.chat import (
    EXIT_FIRST_ABORT,
    EXIT_INVALID,
    EXIT_IO_ERROR,
    EXIT_OK,
    EXIT_TIMEOUT,
    ChatInterpreter,
    ChatOutput,
    Echo,
    Finished,
    Report,
    Say,
    SendBreak,
)
from wanminiport.mcm.chat_script import (
    ChatScriptError,
    parse_chat_argv,
    parse_chat_file,
)
from wanminiport.mcm.commands import (
    answer_command,
    auto_answer_command,
    command_line,
    dial_command,
    escape_sequence,
    hangup_command,
    normalize_number,
    reset_command,
    set_register_command,
)
from wanminiport.mcm.hayes import (
    DEFAULT_INIT,
    CallFailed,
    CarrierLost,
    CommandDone,
    Connected,
    HayesDialer,
    HayesStateError,
    HayesTimings,
    HungUp,
    Ring,
    RingingStopped,
    SetDtr,
    Stage,
    Timeout,
)
from wanminiport.mcm.results import (
    EchoLine,
    InfoLine,
    ModemResult,
    ResultCode,
    ResultParser,
    classify_line,
)

if TYPE_CHECKING:
    from wanminiport.mcm.signaling import (
        CallFailedError,
        ConnectResult,
        ModemSignaling,
        SignalingError,
        SignalingTimeout,
    )

#: The asyncio driver's names, loaded on first use so that importing a core
#: (``wanminiport.mcm.hayes``...) never pulls in the event loop.
_SIGNALING = {
    "CallFailedError",
    "ConnectResult",
    "ModemSignaling",
    "SignalingError",
    "SignalingTimeout",
}


def __getattr__(name: str) -> Any:
    if name in _SIGNALING:
        return getattr(importlib.import_module("wanminiport.mcm.signaling"), name)
    raise AttributeError(f"module 'wanminiport.mcm' has no attribute {name!r}")


__all__ = [
    "DEFAULT_INIT",
    "EXIT_FIRST_ABORT",
    "EXIT_INVALID",
    "EXIT_IO_ERROR",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "CallFailed",
    "CallFailedError",
    "CarrierLost",
    "ChatInterpreter",
    "ChatOutput",
    "ChatScriptError",
    "CommandDone",
    "ConnectResult",
    "Connected",
    "Echo",
    "EchoLine",
    "Finished",
    "HayesDialer",
    "HayesStateError",
    "HayesTimings",
    "HungUp",
    "InfoLine",
    "ModemResult",
    "ModemSignaling",
    "Report",
    "ResultCode",
    "ResultParser",
    "Ring",
    "RingingStopped",
    "Say",
    "SendBreak",
    "SetDtr",
    "SignalingError",
    "SignalingTimeout",
    "Stage",
    "Timeout",
    "answer_command",
    "auto_answer_command",
    "classify_line",
    "command_line",
    "dial_command",
    "escape_sequence",
    "hangup_command",
    "normalize_number",
    "parse_chat_argv",
    "parse_chat_file",
    "reset_command",
    "set_register_command",
]
