"""NDISWAN's PPP link on one VC: the session, the send path and the upper edge.

``PppLink`` is the connection-oriented client of a call manager: it is told
when a call connects (``call_connected``), receives frames and link
parameters from the miniport, and runs a sans-I/O ``PppSession`` on them.
It turns the session's events into actions: SET_LINK_INFO on the VC when
LCP opens, addresses on the upper edge when IPCP/IPV6CP open, datagrams up
and down, and the link's end (with pppd's exit code) when it terminates.

Nothing crosses between the upper edge and the wire before the session
says that network protocol is open: ``send_datagram`` refuses it.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from ndiswan.loopback import Loopback
from ndiswan.ppp import Phase, PppConfig, PppSession, SecretLookup
from ndiswan.ppp.compression import NO_COMPRESSION_STATUS, Compression
from ndiswan.ppp.events import (
    DatagramReceived,
    Event,
    Ipv6Up,
    LinkInfoNegotiated,
    LinkTerminated,
    LogLine,
    NetworkDown,
    NetworkUp,
    PhaseChanged,
)
from ndiswan.sendpath import VcSendPath
from ndiswan.tun import ppp_protocol_of
from wanminiport.callmgr import AddressFamily, AfHandle, CloseReason
from wanminiport.coretimer import CoreTimer
from wanminiport.exitcodes import ExitCode
from wanminiport.framing.ppp_async import LCP_PROTOCOL
from wanminiport.info import FramingBits, LinkInfo, LinkParams
from wanminiport.sansio import Transmit
from wanminiport.transports.base import LineDownReason, ModemLines
from wanminiport.vc import CallParameters, Vc

pppd_log = logging.getLogger("wanctl.pppd")

#: The LCP protocol field (never compressed).


class LinkCore(Protocol):
    """What a link drives: a member's ``PppSession``, or a bundle's ``BundleNetwork``."""

    phase: Phase
    compression: Compression

    def drain(self) -> Sequence[Transmit | Event]: ...
    def get_timer(self) -> float | None: ...
    def handle_timer(self, now: float) -> None: ...
    def receive_frame(self, frame: bytes, now: float) -> None: ...
    def send_datagram(
        self, proto: int, payload: bytes, now: float | None = None
    ) -> bytes | None: ...
    def close(self, reason: str, now: float, *, status: ExitCode = ...) -> None: ...
    def lower_down(self, now: float) -> None: ...
    def line_error(self) -> None: ...


class LinkSendPath(Protocol):
    """Where a link's frames go: one VC's ``VcSendPath``, or a bundle's members."""

    def send(self, frame: bytes) -> bool: ...
    def send_control(self, frame: bytes) -> bool: ...
    def close(self) -> int: ...
    @property
    def dropped(self) -> int: ...


class UpperEdge(Protocol):
    """Where IP packets go up to, and who is told of the network's state."""

    def deliver(self, packet: bytes) -> None:
        """An IP packet for the host."""

    def network_up(self, link: PppLink, event: NetworkUp | Ipv6Up) -> Awaitable[None] | None:
        """Addresses were agreed: configure the interface."""

    def network_down(self, link: PppLink, ip_version: int) -> Awaitable[None] | None:
        """An NCP left Opened: deconfigure."""

    def set_paused(self, paused: bool) -> None:
        """Back-pressure: stop (or resume) offering packets to ``send_packet``."""


@dataclass
class LinkCounters:
    """What the link itself drops, beyond the miniport's VC statistics."""

    sent_before_network_up: int = 0
    not_ip: int = 0
    delivered: int = 0
    looped_back: int = 0


@dataclass
class LinkState:
    """What ``status`` reports about the session."""

    phase: str = "dead"
    local: str = ""
    remote: str = ""
    dns: list[str] = field(default_factory=list)
    ipv6_local: str = ""
    ipv6_remote: str = ""
    mtu: int = 1500
    peer_name: str = ""
    up_since: float = 0.0
    speed: int = 0


class PppLink:
    """The PPP client of one call: CoNDIS client indications in, PPP out."""

    def __init__(
        self,
        config: PppConfig,
        upper: UpperEdge | None = None,
        *,
        secrets: SecretLookup | None = None,
        on_event: Callable[[Event], None] | None = None,
        silent: bool = False,
    ) -> None:
        self.config = config
        self.secrets = secrets
        #: pppd's ``silent``: send nothing until the peer's first LCP packet, so an
        #: answering side never loses its opening Configure-Request to a port the
        #: caller has not opened yet (and never waits out the restart timer).
        self.silent = silent
        #: Frame taps (capture) put on every VC of this link before its first frame.
        self.taps: list[Callable[[bool, bytes], None]] = []
        self._opened = False
        self.upper = upper
        self.on_event = on_event
        self.loopback = Loopback()
        self.counters = LinkCounters()
        self.state = LinkState()
        self.afs: list[AddressFamily] = []
        self.vc: Vc | None = None
        self.session: LinkCore | None = None
        self.sendpath: LinkSendPath | None = None
        self.exit_code: ExitCode | None = None
        self.terminated: asyncio.Event = asyncio.Event()
        #: Keeps the current session's timer armed (one per session).
        self._timer: CoreTimer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: The last upper-edge call still running: the next one waits for it, so an
        #: interface is never deconfigured before its configuration finished.
        self._upper_tail: asyncio.Task[None] | None = None
        #: Bumped on every NCP up and down, per IP version: a configuration that
        #: finishes after its NCP went down again is not announced.
        self._ncp_epoch = {4: 0, 6: 0}

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    # -- CoNDIS client indications --

    def af_register_notify(self, af: AddressFamily) -> None:
        self.afs.append(af)

    def af_close_notify(self, handle: AfHandle) -> None:
        if handle.af in self.afs:
            self.afs.remove(handle.af)

    def incoming_call(self, vc: Vc, call: CallParameters) -> bool:
        """Accept an offered call only while no call is up on this link."""
        return self.vc is None

    def call_connected(self, vc: Vc) -> None:
        """The VC is active: start PPP on it (LCP Configure-Request goes out)."""
        self.vc = vc
        self.exit_code = None
        self.terminated.clear()
        self.sendpath = VcSendPath(vc, on_backpressure=self._backpressure)
        if self._timer is not None:
            self._timer.cancel()
        self.session = session = PppSession(self.config, secrets=self.secrets)
        self._timer = CoreTimer(session, self._service, self.loop)
        self.state = LinkState(speed=vc.call.transmit.bits_per_second if vc.call else 0)
        for tap in self.taps:
            if tap not in vc.taps:
                vc.taps.append(tap)
        now = self.loop.time()
        session.lower_up(now)
        self._opened = False
        if not self.silent:
            self._open(now)
        self._service()

    def _open(self, now: float) -> None:
        assert isinstance(self.session, PppSession)
        self._opened = True
        self.session.open(now)

    def receive_indication(self, vc: Vc, frame: bytes) -> None:
        if self.session is None or vc is not self.vc:
            return
        now = self.loop.time()
        if not self._opened and frame[:2] == LCP_PROTOCOL:
            self._open(now)
        self.session.receive_frame(frame, now)
        self._service()

    def link_params_indication(self, vc: Vc, params: LinkParams) -> None:
        self.state.speed = params.transmit_speed
        if isinstance(self.sendpath, VcSendPath) and vc is self.vc:
            self.sendpath.set_window(params.send_window)

    def line_down_indication(self, vc: Vc, reason: LineDownReason) -> None:
        self._lower_down(vc, ExitCode.HANGUP, f"Modem hangup ({reason.value})")

    def incoming_close_call(self, vc: Vc, reason: CloseReason) -> None:
        self._lower_down(vc, ExitCode.HANGUP, f"Connection terminated ({reason.value})")

    def fragment_indication(self, vc: Vc) -> None:
        if self.session is not None and vc is self.vc:
            self.session.line_error()

    def modem_lines_indication(self, vc: Vc, lines: ModemLines) -> None:
        pppd_log.debug(
            "modem lines: CD=%d DSR=%d CTS=%d RI=%d", lines.cd, lines.dsr, lines.cts, lines.ri
        )

    # -- requests from above --

    def send_packet(self, packet: bytes) -> bool:
        """An IP packet from the upper edge; False if it was dropped."""
        protocol = ppp_protocol_of(packet)
        if protocol is None:
            self.counters.not_ip += 1
            return False
        if self.loopback.is_for_us(packet):
            self.counters.looped_back += 1
            self.loop.call_soon(self._deliver, packet)
            return True
        if self.session is None or self.sendpath is None:
            self.counters.sent_before_network_up += 1
            return False
        frame = self.session.send_datagram(protocol, packet, self.loop.time())
        if frame is None:
            self.counters.sent_before_network_up += 1
            return False
        copy = self.loopback.copy_for_promiscuous(packet)
        if copy is not None:
            self.loop.call_soon(self._deliver, copy)
        return self.sendpath.send(frame)

    def close(self, reason: str = "User request") -> None:
        """Terminate the link (LCP Terminate-Request); ``terminated`` is set when done."""
        if self.session is None or not self._opened:
            self._terminated(ExitCode.USER_REQUEST)
            return
        self.session.close(reason, self.loop.time())
        self._service()

    # -- the session's output --

    def _service(self) -> None:
        # Acting on an event may feed the session again: drain until it is quiet.
        while (session := self.session) is not None and (outputs := session.drain()):
            for output in outputs:
                if not isinstance(output, Transmit):
                    self._handle(output)
                elif self.sendpath is not None:
                    self.sendpath.send_control(output.data)
        if self.session is not None and self._timer is not None:
            self._timer.rearm()

    def _handle(self, event: Event) -> None:
        if isinstance(event, LogLine):
            pppd_log.log(int(event.level), "%s", event.text)
        elif isinstance(event, DatagramReceived):
            self._deliver(event.payload)
        elif isinstance(event, PhaseChanged):
            self.state.phase = event.phase.value
        elif isinstance(event, LinkInfoNegotiated):
            self.state.mtu = event.mtu
            if self.vc is not None:
                self.vc.set_link_info(link_info_for(event))
        elif isinstance(event, NetworkUp):
            self.state.local, self.state.remote = str(event.local), str(event.remote)
            self.state.dns = [str(d) for d in (event.dns1, event.dns2) if d is not None]
            self.state.up_since = time.time()
            self.loopback.own_addresses.add(event.local)
            self._ncp_epoch[4] += 1
            if self._upper_call("network_up", event, announce=event, ip_version=4):
                return
        elif isinstance(event, Ipv6Up):
            self.state.ipv6_local = str(event.local_address)
            self.state.ipv6_remote = str(event.remote_address)
            self.loopback.own_addresses.add(event.local_address)
            self._ncp_epoch[6] += 1
            if self._upper_call("network_up", event, announce=event, ip_version=6):
                return
        elif isinstance(event, NetworkDown):
            self._ncp_epoch[event.ip_version] += 1
            # The edge reads the addresses for ip-down now, before they are forgotten.
            self._upper_call("network_down", event.ip_version, ip_version=event.ip_version)
            self._forget_network(event.ip_version)
        elif isinstance(event, LinkTerminated):
            self._terminated(event.exit_code)
        if self.on_event is not None:
            self.on_event(event)

    def _deliver(self, packet: bytes) -> None:
        if self.upper is not None:
            self.counters.delivered += 1
            self.upper.deliver(packet)

    def _upper_call(
        self, name: str, argument: object, announce: Event | None = None, ip_version: int = 4
    ) -> bool:
        """Call the upper edge; True when it works on in a task, which then announces
        ``announce`` -- so "network up" is told only once the interface is ready, and
        not at all if that NCP went down meanwhile."""
        if self.upper is None:
            return False
        result = getattr(self.upper, name)(self, argument)
        if not inspect.isawaitable(result):
            return False
        task = self.loop.create_task(self._after_previous(self._upper_tail, result))
        self._upper_tail = task
        self._tasks.add(task)
        epoch = self._ncp_epoch[ip_version]
        task.add_done_callback(lambda done: self._task_done(done, announce, ip_version, epoch))
        return True

    @staticmethod
    async def _after_previous(previous: asyncio.Task[None] | None, work: Awaitable[None]) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait({previous})
        await work

    def _task_done(
        self, task: asyncio.Task[None], announce: Event | None, ip_version: int, epoch: int
    ) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        current = self._ncp_epoch[ip_version] == epoch
        if task.exception() is not None:
            pppd_log.error("configuring the interface failed: %s", task.exception())
            if announce is not None and current:
                self._configuration_failed()
        elif announce is not None and self.on_event is not None and current:
            self.on_event(announce)

    def _configuration_failed(self) -> None:
        """The upper edge could not configure the interface for an NCP that opened.
        No half-configured link stays up: it ends, with the Terminate-Request reason
        pppd gives and pppd's status for a link whose network never came up (10)."""
        if self.session is None or self.ending:
            return
        self.session.close(
            "Interface configuration failed",
            self.loop.time(),
            status=ExitCode.NEGOTIATION_FAILED,
        )
        self._service()

    @property
    def ending(self) -> bool:
        """The whole link is going down (not just one NCP): its interface goes with it."""
        return self.session is None or self.session.phase in (Phase.TERMINATE, Phase.DEAD)

    async def settle(self, timeout: float) -> bool:
        """Wait for the upper edge's work still running (interface changes, ip-down
        scripts), as pppd waits for its scripts before it exits; False on timeout."""
        if not self._tasks:
            return True
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        return not pending

    def _forget_network(self, ip_version: int) -> None:
        """An NCP went down: its addresses are no longer ours (status, loopback)."""
        state = self.state
        if ip_version == 4:
            addresses = [state.local]
            state.local, state.remote, state.dns = "", "", []
        else:
            addresses = [state.ipv6_local]
            state.ipv6_local, state.ipv6_remote = "", ""
        for address in addresses:
            if address:
                self.loopback.own_addresses.discard(ipaddress.ip_address(address))

    def _backpressure(self, paused: bool) -> None:
        if self.upper is not None:
            self.upper.set_paused(paused)

    def _lower_down(self, vc: Vc, exit_code: ExitCode, reason: str) -> None:
        if vc is not self.vc or self.session is None:
            return
        if self.sendpath is not None:
            self.sendpath.close()
        self.session.lower_down(self.loop.time())
        self._service()
        if self.exit_code is None:
            pppd_log.info("%s", reason)
            self._terminated(exit_code)

    def _terminated(self, exit_code: ExitCode) -> None:
        if self.exit_code is None:
            self.exit_code = exit_code
        if self._timer is not None:
            self._timer.cancel()
        self.terminated.set()

    def status(self) -> dict[str, Any]:
        """The session's figures as ``wanctl status`` shows them (shape: ``NO_LINK_STATUS``)."""
        state = self.state
        dropped = self.counters.sent_before_network_up + self.counters.not_ip
        if self.sendpath is not None:
            dropped += self.sendpath.dropped
        return {
            "phase": state.phase,
            "speed": state.speed,
            "ipv4": {"local": state.local or None, "remote": state.remote or None},
            "ipv6": {
                "local_id": interface_id(state.ipv6_local),
                "remote_id": interface_id(state.ipv6_remote),
            },
            "dropped": dropped,
            "compression": (
                self.session.compression.status()
                if self.session is not None
                else NO_COMPRESSION_STATUS
            ),
        }

    def detach(self) -> None:
        """Forget the call (after the call manager tore it down)."""
        if self._timer is not None:
            # A session torn down before it terminated still had a timer on the
            # loop, which would keep this link (and its call) alive until it fired.
            self._timer.cancel()
            self._timer = None
        if self.sendpath is not None:
            self.sendpath.close()
        self.vc = None
        self.sendpath = None
        self.session = None
        self.state.phase = "dead"


#: ``PppLink.status()`` before any link exists.
NO_LINK_STATUS: Final[Mapping[str, Any]] = {
    "phase": "dead",
    "speed": 0,
    "ipv4": {"local": None, "remote": None},
    "ipv6": {"local_id": None, "remote_id": None},
    "dropped": 0,
    "compression": NO_COMPRESSION_STATUS,
}


def interface_id(address: str) -> str | None:
    """The low 64 bits of a link-local address as four hex groups (None: no address)."""
    if not address:
        return None
    value = int(ipaddress.IPv6Address(address)) & (2**64 - 1)
    return ":".join(f"{(value >> s) & 0xFFFF:x}" for s in (48, 32, 16, 0))


def link_info_for(event: LinkInfoNegotiated) -> LinkInfo:
    """What LCP negotiated, as the miniport's NDIS_WAN_CO_SET_LINK_INFO record."""
    return LinkInfo(
        max_send_frame_size=event.send_mru,
        max_recv_frame_size=event.recv_mru,
        send_framing_bits=_framing_bits(pfc=event.send_pfc, acfc=event.send_acfc),
        recv_framing_bits=_framing_bits(pfc=event.recv_pfc, acfc=event.recv_acfc),
        send_accm=event.send_accm,
        recv_accm=event.recv_accm,
    )


def _framing_bits(*, pfc: bool, acfc: bool) -> FramingBits:
    bits = FramingBits.PPP_FRAMING | FramingBits.PPP_ACCM_SUPPORTED
    if pfc:
        bits |= FramingBits.PPP_COMPRESS_PROTOCOL_FIELD
    if acfc:
        bits |= FramingBits.PPP_COMPRESS_ADDRESS_CONTROL
    return bits
