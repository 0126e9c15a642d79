"""The WAN miniport adapter: one serial line, its framer, its VCs.

This is the CoNDIS WAN miniport of DESIGN.md for one port: it answers
get-info (OID_WAN_CO_GET_INFO), takes set-link-info, sends frames on the
active VC and completes each send exactly once, indicates received frames,
link parameters (SendWindow, speeds), modem lines and line-down upward.

A serial line carries one call at a time, so at most one VC is active.  A
call manager attaches to the line as its signaling listener: a PVC manager
only to hear of line-down; a modem MCM (through ``signaling_port()``) sees
every received byte first, runs AT commands on them in command mode and,
after CONNECT, passes data-mode bytes back through ``data_sink()`` to the
framer -- so it can still spot the modem's ``NO CARRIER`` on lines without
a CD signal.  The miniport never loops a packet back: that is NDISWAN's
job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from wanminiport.framing import Framer, FramingStats, make_framer
from wanminiport.info import (
    DEFAULT_ACCM,
    DEFAULT_MRU,
    CoInfo,
    FramingBits,
    FramingMode,
    LinkInfo,
    LinkParams,
    SendStatus,
)
from wanminiport.transports.base import (
    LineDownReason,
    ModemLines,
    Transport,
    TransportEvents,
    WriteDone,
)
from wanminiport.vc import CallParameters, Vc, VcClient, VcInput

log = logging.getLogger(__name__)

_FRAMING_BITS = {
    FramingMode.PPP: FramingBits.PPP_FRAMING
    | FramingBits.PPP_COMPRESS_ADDRESS_CONTROL
    | FramingBits.PPP_COMPRESS_PROTOCOL_FIELD
    | FramingBits.PPP_ACCM_SUPPORTED
    | FramingBits.PPP_FCS32,
    FramingMode.SLIP: FramingBits.SLIP_FRAMING,
    FramingMode.RAS: FramingBits.RAS_FRAMING,
}

#: The async HDLC flag sequence (RFC 1662 4.1).
_PPP_FLAG = b"\x7e"

_LINE_DOWN_STATUS = {
    LineDownReason.HANGUP: SendStatus.HANGUP,
    LineDownReason.CARRIER_LOST: SendStatus.HANGUP,
    LineDownReason.UNPLUGGED: SendStatus.UNPLUGGED,
    LineDownReason.CLOSED: SendStatus.CLOSED,
}


class MiniportError(RuntimeError):
    """A request the adapter cannot honour in its current state."""


class WanMiniport(TransportEvents):
    """A CoNDIS WAN miniport adapter bound to one transport."""

    def __init__(
        self,
        transport: Transport,
        *,
        framing: FramingMode = FramingMode.PPP,
        max_frame_size: int = DEFAULT_MRU,
        max_send_window: int = 8,
        desired_accm: int = DEFAULT_ACCM,
    ) -> None:
        self.transport = transport
        self.framing = framing
        self.info = CoInfo(
            max_frame_size=max_frame_size,
            max_send_window=max_send_window,
            framing_bits=_FRAMING_BITS[framing],
            desired_accm=desired_accm,
        )
        self.framer: Framer = make_framer(
            framing,
            LinkInfo(max_send_frame_size=max_frame_size, max_recv_frame_size=max_frame_size),
        )
        self.vcs: list[Vc] = []
        self.active_vc: Vc | None = None
        self.line_up = False
        self._signaling: TransportEvents | None = None
        self._signaling_routes_data = False
        self._stats_seen = FramingStats()
        self._errors_seen = 0
        #: Bytes received while no VC was active and no signaling listener
        #: was attached: counted, never buffered.
        self.unclaimed_bytes = 0

    # -- lifetime --

    def start(self) -> None:
        """Bind to the transport; indications start flowing."""
        self.transport.start(self)
        self.line_up = True

    def close(self) -> None:
        """Halt the adapter: every VC deactivated, every pending send failed."""
        if self.active_vc is not None:
            self.deactivate_vc(self.active_vc, SendStatus.CLOSED)
        self.line_up = False
        self.transport.close()

    # -- OIDs --

    def get_info(self) -> CoInfo:
        """OID_WAN_CO_GET_INFO."""
        return self.info

    def set_link_info(self, vc: Vc, info: LinkInfo) -> None:
        """OID_WAN_CO_SET_LINK_INFO: applied to the framer at once."""
        vc.link_info = info
        if vc is self.active_vc or self.active_vc is None:
            self.framer.set_link_info(info)

    # -- VC lifecycle (driven by the call manager) --

    def create_vc(self, client: VcClient) -> Vc:
        vc = Vc(self, client, send_window=self.info.max_send_window)
        self.vcs.append(vc)
        return vc

    def activate_vc(self, vc: Vc, call: CallParameters) -> None:
        """The call connected: the line goes to data mode on this VC."""
        vc.check(VcInput.ACTIVATE)
        if self.active_vc is not None:
            raise MiniportError(
                f"{self.transport.name}: VC {self.active_vc.id} is already active on this line"
            )
        if not self.line_up:
            raise MiniportError(f"{self.transport.name}: the line is down")
        vc.activate(call)
        self.active_vc = vc
        self.framer.set_link_info(vc.link_info)
        self._indicate_link_params(vc)

    def deactivate_vc(self, vc: Vc, status: SendStatus = SendStatus.HANGUP) -> int:
        """The call is torn down: pending sends fail with ``status``; returns how many."""
        failed = vc.deactivate(status)
        if self.active_vc is vc:
            self.active_vc = None
        return failed

    def delete_vc(self, vc: Vc) -> None:
        vc.delete()
        self.vcs.remove(vc)

    # -- the send path --

    def send(self, vc: Vc, frame: bytes) -> asyncio.Future[SendStatus]:
        """Frame and write on ``vc``; the future completes when the OS has the bytes."""
        return vc.send(frame)

    def write_frame(self, frame: bytes, done: WriteDone) -> int:
        """The VCs' line below: frame, write, and return the octets on the wire."""
        wire = self.framer.encode(frame, asyncio.get_running_loop().time())
        self.transport.write(wire, done)
        return len(wire)

    def set_send_window(self, vc: Vc, window: int) -> None:
        """The miniport changes a VC's SendWindow (0 shuts it) and says so upward."""
        vc.set_send_window(window)
        self._indicate_link_params(vc)

    def _indicate_link_params(self, vc: Vc) -> None:
        speed_tx = vc.call.transmit.bits_per_second if vc.call else self.transport.baudrate
        speed_rx = vc.call.receive.bits_per_second if vc.call else self.transport.baudrate
        vc.client.link_params_indication(vc, LinkParams(speed_tx, speed_rx, vc.send_window))

    # -- signaling (command mode) --

    def signaling_port(self) -> SignalingPort:
        """The line as a Transport for a modem MCM: it sees every byte first."""
        return SignalingPort(self)

    def attach_signaling(self, events: TransportEvents | None, *, route_data: bool) -> None:
        """Attach a call manager's listener (None detaches it)."""
        self._signaling = events
        self._signaling_routes_data = route_data and events is not None

    def data_sink(self) -> TransportEvents:
        """Where a modem MCM hands data-mode bytes (and a carrier loss) back."""
        return _DataSink(self)

    def carrier_lost(self) -> None:
        """The call dropped but the port stays: the VC is deactivated, its sends fail."""
        self._call_dropped(LineDownReason.CARRIER_LOST)

    def _call_dropped(self, reason: LineDownReason) -> None:
        """The line lost the call under the active VC: deactivate it, tell its client."""
        vc = self.active_vc
        if vc is not None:
            self.deactivate_vc(vc, _LINE_DOWN_STATUS[reason])
            vc.client.line_down_indication(vc, reason)

    # -- TransportEvents: indications from below --

    def data_received(self, data: bytes) -> None:
        signaling = self._signaling
        # An MCM sees every byte; a passive listener only what no VC owns.
        if signaling is not None and (self._signaling_routes_data or self.active_vc is None):
            signaling.data_received(data)
        else:
            self.frames_received(data)

    def frames_received(self, data: bytes) -> None:
        """Data-mode bytes for the active VC's framer."""
        vc = self.active_vc
        if vc is None:
            self.unclaimed_bytes += len(data)
            return
        vc.stats.bytes_received += len(data)
        pieces = self._pieces(vc, data)
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            frames = self.framer.decode(piece)
            if self._fold_framing_stats(vc):
                vc.client.fragment_indication(vc)
            if index == last:
                # Read a busy line once per frame; indications below may end
                # the call, but the hint is about the line only.
                remaining = self.framer.octets_to_frame_end()
                if remaining:
                    self.transport.defer_reading(remaining)
            for frame in frames:
                vc.stats.frames_received += 1
                for tap in vc.taps:
                    tap(False, frame)
                vc.client.receive_indication(vc, frame)
                if self.active_vc is not vc:
                    return  # the client tore the call down while handling the frame

    def _pieces(self, vc: Vc, data: bytes) -> list[bytes]:
        """The chunk whole, or a frame at a time while the receive ACCM is not 0.

        Control characters in the receive ACCM are dropped before the FCS
        check (RFC 1662 4.2), and the ACCM changes when LCP opens (and again
        when it goes back to the default): the frames behind the
        Configure-Ack that opened it were sent with the new ACCM, often in
        the same chunk.  Decoded one by one, each sees the link info that the
        frame before it brought (OID_WAN_CO_SET_LINK_INFO is synchronous).
        """
        if self.framing is not FramingMode.PPP or not vc.link_info.recv_accm:
            return [data]
        parts = bytes(data).split(_PPP_FLAG)
        if len(parts) <= 2:
            return [data]
        pieces = [part + _PPP_FLAG for part in parts[:-1]]
        if parts[-1]:
            pieces.append(parts[-1])
        return pieces

    def line_down(self, reason: LineDownReason) -> None:
        self.line_up = False
        self._call_dropped(reason)
        if self._signaling is not None:
            self._signaling.line_down(reason)

    def modem_lines_changed(self, lines: ModemLines) -> None:
        if self.active_vc is not None:
            self.active_vc.client.modem_lines_indication(self.active_vc, lines)
        if self._signaling is not None:
            self._signaling.modem_lines_changed(lines)

    def _fold_framing_stats(self, vc: Vc) -> bool:
        """Add the framer's new receive errors to the VC's; True when there were any."""
        now = self.framer.stats
        errors = now.crc_errors + now.runts + now.aborts + now.oversize
        if errors == self._errors_seen:
            return False  # the common case: nothing new to fold
        self._errors_seen = errors
        seen, stats = self._stats_seen, vc.stats
        stats.crc_errors += now.crc_errors - seen.crc_errors
        stats.alignment_errors += now.runts - seen.runts
        stats.framing_errors += now.aborts - seen.aborts
        stats.buffer_overrun_errors += now.oversize - seen.oversize
        self._stats_seen = FramingStats(**vars(now))
        return True


class SignalingPort(Transport):
    """The adapter's line seen by a call manager: a Transport in command mode.

    Writes go straight to the line; received bytes reach the listener only
    while no VC is active (in data mode they belong to the framer).
    """

    def __init__(self, adapter: WanMiniport) -> None:
        self._adapter = adapter
        self.name = adapter.transport.name
        self.baudrate = adapter.transport.baudrate
        self.has_modem_lines = adapter.transport.has_modem_lines

    def start(self, events: TransportEvents) -> None:
        self._adapter.attach_signaling(events, route_data=True)

    def write(self, data: bytes, done: WriteDone | None = None) -> None:
        self._adapter.transport.write(data, done)

    @property
    def buffered(self) -> int:
        return self._adapter.transport.buffered

    def set_dtr(self, on: bool) -> None:
        self._adapter.transport.set_dtr(on)

    def set_rts(self, on: bool) -> None:
        self._adapter.transport.set_rts(on)

    def modem_lines(self) -> ModemLines:
        return self._adapter.transport.modem_lines()

    def close(self) -> None:
        """Detach the listener; the line itself belongs to the adapter."""
        self._adapter.attach_signaling(None, route_data=False)

    @property
    def is_open(self) -> bool:
        return self._adapter.transport.is_open


class _DataSink(TransportEvents):
    """The framer side of the line, as the modem MCM's handover target."""

    def __init__(self, adapter: WanMiniport) -> None:
        self._adapter = adapter

    def data_received(self, data: bytes) -> None:
        self._adapter.frames_received(data)

    def line_down(self, reason: LineDownReason) -> None:
        # The port going away reaches the adapter directly; only a carrier
        # loss seen by the MCM (CD drop, NO CARRIER) needs passing on.
        if reason is LineDownReason.CARRIER_LOST:
            self._adapter.carrier_lost()

    def modem_lines_changed(self, lines: ModemLines) -> None:
        """The adapter indicates modem lines to the VC itself."""


TapFunction = Callable[[bool, bytes], None]
