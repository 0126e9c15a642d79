"""The RFC 1661 option negotiation automaton: its one transition table.

Every rule that changes a control protocol's state lives in ``TRANSITIONS``
below, transcribed from RFC 1661 section 4.1: (state, input) -> (actions,
next state).  ``automaton.py`` runs this table and nothing else decides a
state.  A pair missing from the table is an input the RFC says cannot
happen; the runner reports it as a ``ProtocolError`` event and changes
nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


class State(enum.Enum):
    INITIAL = 0
    STARTING = 1
    CLOSED = 2
    STOPPED = 3
    CLOSING = 4
    STOPPING = 5
    REQ_SENT = 6
    ACK_RCVD = 7
    ACK_SENT = 8
    OPENED = 9


class Input(enum.Enum):
    """RFC 1661 events (called inputs here so they are not confused with ours)."""

    UP = "Up"
    DOWN = "Down"
    OPEN = "Open"
    CLOSE = "Close"
    TO_PLUS = "TO+"
    TO_MINUS = "TO-"
    RCR_PLUS = "RCR+"
    RCR_MINUS = "RCR-"
    RCA = "RCA"
    RCN = "RCN"
    RTR = "RTR"
    RTA = "RTA"
    RUC = "RUC"
    RXJ_PLUS = "RXJ+"
    RXJ_MINUS = "RXJ-"
    RXR = "RXR"


class Action(enum.Enum):
    TLU = "this-layer-up"
    TLD = "this-layer-down"
    TLS = "this-layer-started"
    TLF = "this-layer-finished"
    IRC = "initialize-restart-count"
    ZRC = "zero-restart-count"
    SCR = "send-configure-request"
    SCA = "send-configure-ack"
    SCN = "send-configure-nak/rej"
    STR = "send-terminate-request"
    STA = "send-terminate-ack"
    SCJ = "send-code-reject"
    SER = "send-echo-reply"


St, In, Ac = State, Input, Action
Transition = tuple[tuple[Action, ...], State]

#: RFC 1661 section 4.1.  The 'r' (restart) and 'p' (passive) options are not
#: taken; 'x' (crossed connection) needs no special action.
TRANSITIONS: Final[Mapping[tuple[State, Input], Transition]] = {
    # 0 Initial: the lower layer is down and nobody asked to open.
    (St.INITIAL, In.UP): ((), St.CLOSED),
    (St.INITIAL, In.OPEN): ((Ac.TLS,), St.STARTING),
    (St.INITIAL, In.CLOSE): ((), St.INITIAL),
    # 1 Starting: opened, waiting for the lower layer.
    (St.STARTING, In.UP): ((Ac.IRC, Ac.SCR), St.REQ_SENT),
    (St.STARTING, In.OPEN): ((), St.STARTING),
    (St.STARTING, In.CLOSE): ((Ac.TLF,), St.INITIAL),
    # 2 Closed: lower layer up, administratively closed.
    (St.CLOSED, In.DOWN): ((), St.INITIAL),
    (St.CLOSED, In.OPEN): ((Ac.IRC, Ac.SCR), St.REQ_SENT),
    (St.CLOSED, In.CLOSE): ((), St.CLOSED),
    (St.CLOSED, In.RCR_PLUS): ((Ac.STA,), St.CLOSED),
    (St.CLOSED, In.RCR_MINUS): ((Ac.STA,), St.CLOSED),
    (St.CLOSED, In.RCA): ((Ac.STA,), St.CLOSED),
    (St.CLOSED, In.RCN): ((Ac.STA,), St.CLOSED),
    (St.CLOSED, In.RTR): ((Ac.STA,), St.CLOSED),
    (St.CLOSED, In.RTA): ((), St.CLOSED),
    (St.CLOSED, In.RUC): ((Ac.SCJ,), St.CLOSED),
    (St.CLOSED, In.RXJ_PLUS): ((), St.CLOSED),
    (St.CLOSED, In.RXJ_MINUS): ((Ac.TLF,), St.CLOSED),
    (St.CLOSED, In.RXR): ((), St.CLOSED),
    # 3 Stopped: waiting for the peer after a finished or failed attempt.
    (St.STOPPED, In.DOWN): ((Ac.TLS,), St.STARTING),
    (St.STOPPED, In.OPEN): ((), St.STOPPED),
    (St.STOPPED, In.CLOSE): ((), St.CLOSED),
    (St.STOPPED, In.RCR_PLUS): ((Ac.IRC, Ac.SCR, Ac.SCA), St.ACK_SENT),
    (St.STOPPED, In.RCR_MINUS): ((Ac.IRC, Ac.SCR, Ac.SCN), St.REQ_SENT),
    (St.STOPPED, In.RCA): ((Ac.STA,), St.STOPPED),
    (St.STOPPED, In.RCN): ((Ac.STA,), St.STOPPED),
    (St.STOPPED, In.RTR): ((Ac.STA,), St.STOPPED),
    (St.STOPPED, In.RTA): ((), St.STOPPED),
    (St.STOPPED, In.RUC): ((Ac.SCJ,), St.STOPPED),
    (St.STOPPED, In.RXJ_PLUS): ((), St.STOPPED),
    (St.STOPPED, In.RXJ_MINUS): ((Ac.TLF,), St.STOPPED),
    (St.STOPPED, In.RXR): ((), St.STOPPED),
    # 4 Closing: Terminate-Request sent after Close.
    (St.CLOSING, In.DOWN): ((), St.INITIAL),
    (St.CLOSING, In.OPEN): ((), St.STOPPING),
    (St.CLOSING, In.CLOSE): ((), St.CLOSING),
    (St.CLOSING, In.TO_PLUS): ((Ac.STR,), St.CLOSING),
    (St.CLOSING, In.TO_MINUS): ((Ac.TLF,), St.CLOSED),
    (St.CLOSING, In.RCR_PLUS): ((), St.CLOSING),
    (St.CLOSING, In.RCR_MINUS): ((), St.CLOSING),
    (St.CLOSING, In.RCA): ((), St.CLOSING),
    (St.CLOSING, In.RCN): ((), St.CLOSING),
    (St.CLOSING, In.RTR): ((Ac.STA,), St.CLOSING),
    (St.CLOSING, In.RTA): ((Ac.TLF,), St.CLOSED),
    (St.CLOSING, In.RUC): ((Ac.SCJ,), St.CLOSING),
    (St.CLOSING, In.RXJ_PLUS): ((), St.CLOSING),
    (St.CLOSING, In.RXJ_MINUS): ((Ac.TLF,), St.CLOSED),
    (St.CLOSING, In.RXR): ((), St.CLOSING),
    # 5 Stopping: Terminate-Request sent without Close (or peer terminated).
    (St.STOPPING, In.DOWN): ((), St.STARTING),
    (St.STOPPING, In.OPEN): ((), St.STOPPING),
    (St.STOPPING, In.CLOSE): ((), St.CLOSING),
    (St.STOPPING, In.TO_PLUS): ((Ac.STR,), St.STOPPING),
    (St.STOPPING, In.TO_MINUS): ((Ac.TLF,), St.STOPPED),
    (St.STOPPING, In.RCR_PLUS): ((), St.STOPPING),
    (St.STOPPING, In.RCR_MINUS): ((), St.STOPPING),
    (St.STOPPING, In.RCA): ((), St.STOPPING),
    (St.STOPPING, In.RCN): ((), St.STOPPING),
    (St.STOPPING, In.RTR): ((Ac.STA,), St.STOPPING),
    (St.STOPPING, In.RTA): ((Ac.TLF,), St.STOPPED),
    (St.STOPPING, In.RUC): ((Ac.SCJ,), St.STOPPING),
    (St.STOPPING, In.RXJ_PLUS): ((), St.STOPPING),
    (St.STOPPING, In.RXJ_MINUS): ((Ac.TLF,), St.STOPPED),
    (St.STOPPING, In.RXR): ((), St.STOPPING),
    # 6 Req-Sent: our Configure-Request is out, nothing acknowledged.
    (St.REQ_SENT, In.DOWN): ((), St.STARTING),
    (St.REQ_SENT, In.OPEN): ((), St.REQ_SENT),
    (St.REQ_SENT, In.CLOSE): ((Ac.IRC, Ac.STR), St.CLOSING),
    (St.REQ_SENT, In.TO_PLUS): ((Ac.SCR,), St.REQ_SENT),
    (St.REQ_SENT, In.TO_MINUS): ((Ac.TLF,), St.STOPPED),
    (St.REQ_SENT, In.RCR_PLUS): ((Ac.SCA,), St.ACK_SENT),
    (St.REQ_SENT, In.RCR_MINUS): ((Ac.SCN,), St.REQ_SENT),
    (St.REQ_SENT, In.RCA): ((Ac.IRC,), St.ACK_RCVD),
    (St.REQ_SENT, In.RCN): ((Ac.IRC, Ac.SCR), St.REQ_SENT),
    (St.REQ_SENT, In.RTR): ((Ac.STA,), St.REQ_SENT),
    (St.REQ_SENT, In.RTA): ((), St.REQ_SENT),
    (St.REQ_SENT, In.RUC): ((Ac.SCJ,), St.REQ_SENT),
    (St.REQ_SENT, In.RXJ_PLUS): ((), St.REQ_SENT),
    (St.REQ_SENT, In.RXJ_MINUS): ((Ac.TLF,), St.STOPPED),
    (St.REQ_SENT, In.RXR): ((), St.REQ_SENT),
    # 7 Ack-Rcvd: the peer acknowledged ours, we have not acknowledged theirs.
    (St.ACK_RCVD, In.DOWN): ((), St.STARTING),
    (St.ACK_RCVD, In.OPEN): ((), St.ACK_RCVD),
    (St.ACK_RCVD, In.CLOSE): ((Ac.IRC, Ac.STR), St.CLOSING),
    (St.ACK_RCVD, In.TO_PLUS): ((Ac.SCR,), St.REQ_SENT),
    (St.ACK_RCVD, In.TO_MINUS): ((Ac.TLF,), St.STOPPED),
    (St.ACK_RCVD, In.RCR_PLUS): ((Ac.SCA, Ac.TLU), St.OPENED),
    (St.ACK_RCVD, In.RCR_MINUS): ((Ac.SCN,), St.ACK_RCVD),
    (St.ACK_RCVD, In.RCA): ((Ac.SCR,), St.REQ_SENT),
    (St.ACK_RCVD, In.RCN): ((Ac.SCR,), St.REQ_SENT),
    (St.ACK_RCVD, In.RTR): ((Ac.STA,), St.REQ_SENT),
    (St.ACK_RCVD, In.RTA): ((), St.REQ_SENT),
    (St.ACK_RCVD, In.RUC): ((Ac.SCJ,), St.ACK_RCVD),
    (St.ACK_RCVD, In.RXJ_PLUS): ((), St.REQ_SENT),
    (St.ACK_RCVD, In.RXJ_MINUS): ((Ac.TLF,), St.STOPPED),
    (St.ACK_RCVD, In.RXR): ((), St.ACK_RCVD),
    # 8 Ack-Sent: we acknowledged theirs, ours is not acknowledged yet.
    (St.ACK_SENT, In.DOWN): ((), St.STARTING),
    (St.ACK_SENT, In.OPEN): ((), St.ACK_SENT),
    (St.ACK_SENT, In.CLOSE): ((Ac.IRC, Ac.STR), St.CLOSING),
    (St.ACK_SENT, In.TO_PLUS): ((Ac.SCR,), St.ACK_SENT),
    (St.ACK_SENT, In.TO_MINUS): ((Ac.TLF,), St.STOPPED),
    (St.ACK_SENT, In.RCR_PLUS): ((Ac.SCA,), St.ACK_SENT),
    (St.ACK_SENT, In.RCR_MINUS): ((Ac.SCN,), St.REQ_SENT),
    (St.ACK_SENT, In.RCA): ((Ac.IRC, Ac.TLU), St.OPENED),
    (St.ACK_SENT, In.RCN): ((Ac.IRC, Ac.SCR), St.ACK_SENT),
    (St.ACK_SENT, In.RTR): ((Ac.STA,), St.REQ_SENT),
    (St.ACK_SENT, In.RTA): ((), St.ACK_SENT),
    (St.ACK_SENT, In.RUC): ((Ac.SCJ,), St.ACK_SENT),
    (St.ACK_SENT, In.RXJ_PLUS): ((), St.ACK_SENT),
    (St.ACK_SENT, In.RXJ_MINUS): ((Ac.TLF,), St.STOPPED),
    (St.ACK_SENT, In.RXR): ((), St.ACK_SENT),
    # 9 Opened: both requests acknowledged; the layer above may run.
    (St.OPENED, In.DOWN): ((Ac.TLD,), St.STARTING),
    (St.OPENED, In.OPEN): ((), St.OPENED),
    (St.OPENED, In.CLOSE): ((Ac.TLD, Ac.IRC, Ac.STR), St.CLOSING),
    (St.OPENED, In.RCR_PLUS): ((Ac.TLD, Ac.SCR, Ac.SCA), St.ACK_SENT),
    (St.OPENED, In.RCR_MINUS): ((Ac.TLD, Ac.SCR, Ac.SCN), St.REQ_SENT),
    (St.OPENED, In.RCA): ((Ac.TLD, Ac.SCR), St.REQ_SENT),
    (St.OPENED, In.RCN): ((Ac.TLD, Ac.SCR), St.REQ_SENT),
    (St.OPENED, In.RTR): ((Ac.TLD, Ac.ZRC, Ac.STA), St.STOPPING),
    (St.OPENED, In.RTA): ((Ac.TLD, Ac.SCR), St.REQ_SENT),
    (St.OPENED, In.RUC): ((Ac.SCJ,), St.OPENED),
    (St.OPENED, In.RXJ_PLUS): ((), St.OPENED),
    (St.OPENED, In.RXJ_MINUS): ((Ac.TLD, Ac.IRC, Ac.STR), St.STOPPING),
    (St.OPENED, In.RXR): ((Ac.SER,), St.OPENED),
}
del St, In, Ac

#: States in which the Restart timer runs.
TIMER_STATES: Final = frozenset(
    {State.CLOSING, State.STOPPING, State.REQ_SENT, State.ACK_RCVD, State.ACK_SENT}
)
#: States in which a Configure-Request of ours is outstanding.
NEGOTIATING_STATES: Final = frozenset({State.REQ_SENT, State.ACK_RCVD, State.ACK_SENT})


@dataclass(frozen=True)
class Timing:
    """RFC 1661 section 4.6 counters and timer."""

    restart_time: float = 3.0
    max_configure: int = 10
    max_terminate: int = 2
    max_failure: int = 5
