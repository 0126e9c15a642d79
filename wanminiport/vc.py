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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from wanminiport.info import LinkInfo, LinkParams, SendStatus, VcStats
from wanminiport.pending import PendingSends

if TYPE_CHECKING:
    from wanminiport.transports.base import LineDownReason, ModemLines


class VcState(enum.Enum):
    CREATED = "created"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    DELETED = "deleted"


class VcInput(enum.Enum):
    """The requests that move a VC through its life (creation is the constructor)."""

    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    DELETE = "delete"


class VcStateError(RuntimeError):
    """A VC operation that its current state does not allow (we did wrong)."""


St, In = VcState, VcInput

#: The CoNDIS VC life: (state, input) -> next state.  A created VC is
#: activated when its call connects, deactivated when the call is torn down,
#: then deleted by its creator or reused for another call.  A pair missing
#: here is a local misuse (a driver bug, never a peer's doing): it raises
#: ``VcStateError`` and changes nothing.
TRANSITIONS: Final[Mapping[tuple[VcState, VcInput], VcState]] = {
    (St.CREATED, In.ACTIVATE): St.ACTIVE,
    (St.CREATED, In.DELETE): St.DELETED,
    (St.ACTIVE, In.DEACTIVATE): St.DEACTIVATED,
    (St.DEACTIVATED, In.ACTIVATE): St.ACTIVE,
    (St.DEACTIVATED, In.DELETE): St.DELETED,
}
del St, In


def next_state(state: VcState, request: VcInput, *, vc_id: int = 0, doing: str = "") -> VcState:
    """The table's answer, or a ``VcStateError`` naming the state and the input."""
    try:
        return TRANSITIONS[state, request]
    except KeyError:
        allowed = sorted(s.value for s, i in TRANSITIONS if i is request)
        raise VcStateError(
            f"cannot {doing or request.value} VC {vc_id}: it is {state.value}, and"
            f" {request.value!r} is allowed only when {' or '.join(allowed) or 'never'}"
        ) from None


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

    def fragment_indication(self, vc: Vc) -> None:
        """NDIS_STATUS_WAN_CO_FRAGMENT: a frame was lost to a line error (bad FCS,
        abort, overrun); header compression must not guess at what it carried."""


class LineBelow(Protocol):
    """What a VC needs of the miniport under it to send: the line, framed."""

    @property
    def line_up(self) -> bool:
        """False once the port is gone: sends then fail at once."""

    def write_frame(self, frame: bytes, done: Callable[[bool], None]) -> int:
        """Frame and write; ``done(handed_to_os)`` later; returns the wire octets.

        Raises ``BufferError`` (and never calls ``done``) when the line's
        write buffer is full.
        """

    def set_link_info(self, vc: Vc, info: LinkInfo) -> None:
        """OID_WAN_CO_SET_LINK_INFO reaches the framer."""


_vc_ids = itertools.count(1)


class Vc:
    """One virtual connection on a miniport adapter."""

    def __init__(self, line: LineBelow, client: VcClient, send_window: int) -> None:
        self.id = next(_vc_ids)
        self.line = line
        self.client = client
        self.state = VcState.CREATED
        self.call: CallParameters | None = None
        self.link_info = LinkInfo()
        self.stats = VcStats()
        #: The SendWindow an activation opens (the adapter's MaxSendWindow).
        self._full_window = send_window
        self._pending = PendingSends(send_window)
        #: Hooks that see every frame both ways (capture to pcap), outermost last.
        self.taps: list[Callable[[bool, bytes], None]] = []

    def __repr__(self) -> str:
        return f"<Vc {self.id} {self.state.value} window={self.send_window}>"

    @property
    def send_window(self) -> int:
        """The current SendWindow: how many sends may be outstanding."""
        return self._pending.window

    @property
    def outstanding(self) -> int:
        """Sends handed to the miniport and not yet completed."""
        return len(self._pending)

    # -- the life of the VC: every state change goes through TRANSITIONS --

    def check(self, request: VcInput, *, doing: str = "") -> None:
        """Raise ``VcStateError`` unless ``request`` is allowed in the current state."""
        next_state(self.state, request, vc_id=self.id, doing=doing)

    def activate(self, call: CallParameters) -> None:
        """NdisMCmActivateVc: the call connected; the window opens in full."""
        self.state = next_state(self.state, VcInput.ACTIVATE, vc_id=self.id)
        self.call = call
        self._pending.set_window(self._full_window)

    def deactivate(self, status: SendStatus = SendStatus.HANGUP) -> int:
        """NdisMCmDeactivateVc: pending sends fail with ``status``; returns how many."""
        self.state = next_state(self.state, VcInput.DEACTIVATE, vc_id=self.id)
        failed = self._pending.fail_all(status)
        self.stats.sends_failed += failed
        return failed

    def delete(self) -> None:
        """NdisCoDeleteVc: the VC is gone; nothing can be in flight any more."""
        self.state = next_state(self.state, VcInput.DELETE, vc_id=self.id)
        self.stats.sends_failed += self._pending.fail_all(SendStatus.CLOSED)

    # -- the CoNDIS requests on an active VC --

    def set_send_window(self, window: int) -> None:
        """The miniport changes the SendWindow (0 shuts it); ValueError if negative."""
        self._pending.set_window(window)

    def set_link_info(self, info: LinkInfo) -> None:
        """OID_WAN_CO_SET_LINK_INFO: the link as LCP negotiated it."""
        self.line.set_link_info(self, info)

    def send(self, frame: bytes) -> asyncio.Future[SendStatus]:
        """MiniportCoSendNetBufferLists: hand one frame down; completes exactly once."""
        future: asyncio.Future[SendStatus] = asyncio.get_running_loop().create_future()
        if self.state is not VcState.ACTIVE or not self.line.line_up:
            self.stats.sends_failed += 1
            future.set_result(
                SendStatus.HANGUP if self.state is VcState.DEACTIVATED else SendStatus.CLOSED
            )
            return future
        if len(frame) > self.link_info.max_send_frame_size + 4 or not frame:
            self.stats.sends_failed += 1
            future.set_result(SendStatus.INVALID)
            return future
        for tap in self.taps:
            tap(True, frame)
        # NDISWAN should never overrun the window; the frame is still honoured.
        self._pending.track(future)
        if self._pending.overruns:
            self.stats.extra["window_overruns"] = self._pending.overruns
        self.stats.frames_sent += 1
        try:
            self.stats.bytes_sent += self.line.write_frame(frame, self._write_done(future))
        except BufferError:
            self._pending.forget(future)
            self.stats.buffer_overrun_errors += 1
            self.stats.sends_failed += 1
            future.set_result(SendStatus.INVALID)
        return future

    def status(self) -> dict[str, dict[str, int]]:
        """The VC's figures as ``wanctl status`` shows them (the shape of ``NO_VC_STATUS``)."""
        stats = self.stats
        return {
            "bytes": {"sent": stats.bytes_sent, "received": stats.bytes_received},
            "frames": {"sent": stats.frames_sent, "received": stats.frames_received},
            "errors": {
                "crc": stats.crc_errors,
                "framing": stats.framing_errors + stats.alignment_errors,
                "overruns": stats.buffer_overrun_errors + stats.serial_overrun_errors,
            },
            "send_window": {"size": self.send_window, "outstanding": self.outstanding},
        }

    def _write_done(self, future: asyncio.Future[SendStatus]) -> Callable[[bool], None]:
        def done(handed_to_os: bool) -> None:
            status = SendStatus.SUCCESS if handed_to_os else SendStatus.HANGUP
            if self._pending.complete(future, status) and not handed_to_os:
                self.stats.sends_failed += 1

        return done


#: ``Vc.status()`` when there is no VC (no call up): every figure zero.
NO_VC_STATUS: Final[Mapping[str, Mapping[str, int]]] = {
    "bytes": {"sent": 0, "received": 0},
    "frames": {"sent": 0, "received": 0},
    "errors": {"crc": 0, "framing": 0, "overruns": 0},
    "send_window": {"size": 0, "outstanding": 0},
}
