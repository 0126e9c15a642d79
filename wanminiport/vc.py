"""Virtual connections: the four steps of a VC's life and its send completions.

A VC (CoNDIS: NdisCoCreateVc / NdisMCmActivateVc / NdisMCmDeactivateVc /
NdisCoDeleteVc) hosts one call.  It is created by a client for an outgoing
call or by the call manager for an incoming one, activated when the call
connects, deactivated when it is torn down, then deleted or reused.

Every send is completed exactly once with a ``SendStatus``: the miniport
owns the frame until then.  Completion uses asyncio futures everywhere in
this project; a completed future is never completed again.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from wanminiport.info import LinkInfo, LinkParams, SendStatus, VcStats

if TYPE_CHECKING:
    from wanminiport.adapter import WanMiniport
    from wanminiport.transports.base import LineDownReason, ModemLines


class VcState(enum.Enum):
    CREATED = "created"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    DELETED = "deleted"


class VcStateError(RuntimeError):
    """A VC operation that its current state does not allow (we did wrong)."""


@dataclass(frozen=True)
class FlowSpec:
    """QoS of one direction: the bandwidth in bits per second."""

    bits_per_second: int


@dataclass(frozen=True)
class CallParameters:
    """What a call was set up with (CO_CALL_PARAMETERS analog)."""

    transmit: FlowSpec
    receive: FlowSpec
    #: The called or calling number for SVCs; empty for a PVC.
    number: str = ""
    #: True for a permanent VC (a direct cable, no signaling).
    permanent: bool = False


class VcClient(Protocol):
    """Upward indications a VC's owner (NDISWAN) receives."""

    def receive_indication(self, vc: Vc, frame: bytes) -> None:
        """A frame arrived (PPP: from its protocol field)."""

    def link_params_indication(self, vc: Vc, params: LinkParams) -> None:
        """WAN_CO_LINKPARAMS: speeds or SendWindow changed (0 shuts the window)."""

    def line_down_indication(self, vc: Vc, reason: LineDownReason) -> None:
        """The line under an active VC went down; pending sends have failed."""

    def modem_lines_indication(self, vc: Vc, lines: ModemLines) -> None:
        """CD/DSR/CTS/RI changed."""


_vc_ids = itertools.count(1)


class Vc:
    """One virtual connection on a miniport adapter."""

    def __init__(self, adapter: WanMiniport, client: VcClient, send_window: int) -> None:
        self.id = next(_vc_ids)
        self.adapter = adapter
        self.client = client
        self.state = VcState.CREATED
        self.call: CallParameters | None = None
        self.link_info = LinkInfo()
        self.stats = VcStats()
        self._send_window = send_window
        self._pending: deque[asyncio.Future[SendStatus]] = deque()
        #: Hooks that see every frame both ways (capture to pcap), outermost last.
        self.taps: list[Callable[[bool, bytes], None]] = []

    def __repr__(self) -> str:
        return f"<Vc {self.id} {self.state.value} window={self._send_window}>"

    # -- the CoNDIS requests, delegated to the adapter that owns the line --

    @property
    def send_window(self) -> int:
        """The current SendWindow: how many sends may be outstanding."""
        return self._send_window

    @property
    def outstanding(self) -> int:
        """Sends handed to the miniport and not yet completed."""
        return len(self._pending)

    def send(self, frame: bytes) -> asyncio.Future[SendStatus]:
        """MiniportCoSendNetBufferLists: hand one frame down; completes once."""
        return self.adapter.send(self, frame)

    def set_link_info(self, info: LinkInfo) -> None:
        """OID_WAN_CO_SET_LINK_INFO: the link as LCP negotiated it."""
        self.adapter.set_link_info(self, info)

    # -- used by the adapter --

    def _require(self, *states: VcState, action: str) -> None:
        if self.state not in states:
            allowed = " or ".join(s.value for s in states)
            raise VcStateError(
                f"cannot {action} VC {self.id}: it is {self.state.value}, must be {allowed}"
            )

    def _track(self, future: asyncio.Future[SendStatus]) -> None:
        self._pending.append(future)

    def _complete_oldest(self, status: SendStatus) -> None:
        if self._pending:
            _complete(self._pending.popleft(), status)

    def _fail_all(self, status: SendStatus) -> int:
        failed = 0
        while self._pending:
            _complete(self._pending.popleft(), status)
            failed += 1
        self.stats.sends_failed += failed
        return failed

    def _set_window(self, window: int) -> None:
        self._send_window = window


def _complete(future: asyncio.Future[SendStatus], status: SendStatus) -> None:
    # A caller may have cancelled its future; the frame is still ours to finish.
    if not future.done():
        future.set_result(status)
