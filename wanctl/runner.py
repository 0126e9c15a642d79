"""One link, run to its end: the process behind ``dial`` and ``answer``.

It stacks the layers of DESIGN.md for one port -- transport, miniport, call
manager (a PVC for a direct cable, the dial-up MCM for a modem), the PPP
link, the TUN interface -- serves the control socket, writes the pcap,
reports progress, and redials under ``persist``.  It returns pppd's exit
code for the way the link ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ndiswan.edges import TunEdge
from ndiswan.hooks import HOOK_TIMEOUT
from ndiswan.link import PppLink
from ndiswan.ppp import AuthSucceeded, Ipv6Up, LinkInfoNegotiated, NetworkUp, Phase, PhaseChanged
from ndiswan.ppp.events import AuthFailed, Event, LinkTerminated
from ndiswan.resolv import ResolvConfError
from ndiswan.tun import TunDevice, TunError
from wanctl.config import ppp_config, secrets_for, tun_options
from wanctl.control import ControlServer, FrameSink
from wanctl.errors import WanctlError
from wanctl.options import LinkOptions
from wanctl.pcap import Direction, PcapWriter
from wanctl.progress import Progress
from wanminiport import WanMiniport
from wanminiport.callmgr import PvcCallManager, bind_client, unbind_adapter
from wanminiport.exitcodes import ExitCode
from wanminiport.mcm.dialup import CallSetupError, DialupCallManager, DialupSettings
from wanminiport.transports.base import Transport, TransportError
from wanminiport.transports.lockfile import PortLockedError, lock_owner
from wanminiport.transports.serial_port import SerialTransport
from wanminiport.transports.usb_cdc import is_usb_spec
from wanminiport.transports.usb_port import UsbCdcTransport
from wanminiport.vc import Vc

log = logging.getLogger("wanctl")


@dataclass
class RunnerState:
    """What ``status`` shows beyond the link's own state."""

    started: float = field(default_factory=time.time)
    connected_at: float = 0.0
    attempts: int = 0


class LinkRunner:
    """Runs one link (``answer=True``: waits for the call or the peer)."""

    def __init__(
        self,
        options: LinkOptions,
        *,
        link_name: str,
        answer: bool = False,
        progress: Progress | None = None,
        control_dir: str | None = None,
        on_up: Callable[[], None] | None = None,
    ) -> None:
        if options.device is None:
            raise WanctlError("no device: give a port (e.g. /dev/ttyUSB0) or a profile with one")
        self.options = options
        self.link_name = link_name
        self.answer = answer
        self.progress = progress or Progress()
        self.control_dir = control_dir
        self.on_up = on_up
        self.state = RunnerState()
        self.link: PppLink | None = None
        self.vc: Vc | None = None
        self.edge: TunEdge | None = None
        self._hangup = asyncio.Event()
        self._pcap: PcapWriter | None = None
        self._capture_sinks: list[FrameSink] = []

    @property
    def uses_modem(self) -> bool:
        """A modem is dialed with a number or a connect script, answered with init, a
        script or auto-answer."""
        o = self.options
        if self.answer:
            return o.init is not None or o.connect is not None or o.auto_answer > 0
        return o.number is not None or o.connect is not None

    # -- the whole run, with redial --

    async def run(self) -> ExitCode:
        self._refuse_if_locked()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self.request_hangup)
        if self.options.pcap:
            self._pcap = PcapWriter(self.options.pcap)
        server = ControlServer(
            self.link_name,
            self.status,
            self.request_hangup,
            directory=Path(self.control_dir) if self.control_dir else None,
            capture=self._subscribe,
        )
        await server.start()
        try:
            return await self._redial_loop()
        finally:
            await server.close()
            if self._pcap is not None:
                self._pcap.close()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)

    def _refuse_if_locked(self) -> None:
        """A port in use is reported with its owner before anything else is claimed."""
        device = self.options.device
        if not self.options.lock or device is None or "://" in device or is_usb_spec(device):
            return
        owner = lock_owner(device)
        if owner is not None and owner.pid != os.getpid():
            who = f" ({owner.cmdline})" if owner.cmdline else ""
            raise PortLockedError(f"port {device} is locked by PID {owner.pid}{who}")

    async def _redial_loop(self) -> ExitCode:
        failures = 0
        while True:
            self.state.attempts += 1
            code, was_up = await self._one_call()
            if self._hangup.is_set():
                return ExitCode.USER_REQUEST
            waiting_for_peer = self.answer and not self.uses_modem and not was_up
            if not (self.options.persist or waiting_for_peer):
                return code
            if code in (ExitCode.OPTION_ERROR, ExitCode.NOT_ROOT, ExitCode.LOCK_FAILED):
                return code
            failures = 0 if was_up else failures + 1
            if self.options.maxfail and failures >= self.options.maxfail:
                self.progress.note(f"Giving up after {failures} failed attempts")
                return code
            holdoff = self.options.holdoff if was_up else min(self.options.holdoff, 5)
            self.progress.step(f"Waiting {holdoff} s before the next attempt")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hangup.wait(), holdoff)
            if self._hangup.is_set():
                return ExitCode.USER_REQUEST

    def request_hangup(self) -> None:
        """SIGINT, SIGTERM, SIGHUP or the control socket's hangup."""
        self._hangup.set()

    # -- one call --

    async def _one_call(self) -> tuple[ExitCode, bool]:
        o = self.options
        try:
            transport = self._open_transport()
        except TransportError as exc:
            self.progress.note(str(exc))
            return exc.exit_code, False
        adapter = WanMiniport(transport, framing=o.framing, max_frame_size=max(o.mru, 1500))
        adapter.start()
        try:
            return await self._call_on(adapter, transport)
        finally:
            unbind_adapter(adapter)
            adapter.close()

    def _open_transport(self) -> Transport:
        o = self.options
        assert o.device is not None
        self.progress.step(f"Opening {o.device} at {o.baud} bps")
        if is_usb_spec(o.device):
            # A CDC-ACM device through pyusb: its flow control is the USB bus's own.
            return UsbCdcTransport(o.device, o.baud, lock=o.lock)
        return SerialTransport(
            o.device, o.baud, rtscts=o.flow == "crtscts", xonxoff=o.flow == "xonxoff", lock=o.lock
        )

    async def _call_on(self, adapter: WanMiniport, transport: Transport) -> tuple[ExitCode, bool]:
        o = self.options
        modem = self.uses_modem
        text_cd = modem and not transport.has_modem_lines
        # On a direct line the answering side waits for the caller's first LCP packet.
        link = PppLink(
            ppp_config(o, text_carrier_detect=text_cd),
            None,
            secrets=secrets_for(o),
            on_event=self._on_event,
            silent=self.answer and not modem,
        )
        link.taps.append(self._capture)
        self.link = link
        try:
            tun = TunDevice()
        except TunError as exc:
            self.progress.note(str(exc))
            return exc.exit_code, False
        try:
            edge = TunEdge(tun, tun_options(o))
        except ResolvConfError as exc:
            tun.close()
            self.progress.note(str(exc))
            return exc.exit_code, False
        link.upper = edge
        self.edge = edge
        edge.attach(link)
        bind_client(adapter, link)
        cm: DialupCallManager | PvcCallManager = (
            DialupCallManager(adapter, self._dialup_settings())
            if modem
            else PvcCallManager(adapter)
        )
        if isinstance(cm, DialupCallManager):
            cm.signaling.on_message = self.progress.note
        try:
            handle = await cm.open_af(cm.register_af(), link)
            vc = await self._connect(cm, handle, adapter, link)
            if vc is None:
                return ExitCode.USER_REQUEST, False
            self.vc = vc
            code = await self._until_end(link)
            was_up = link.state.up_since > 0
            await self._teardown(cm, vc, link)
            return code, was_up
        except CallSetupError as exc:
            self.progress.note(str(exc))
            return exc.exit_code, False
        finally:
            edge.close()
            self.edge = None
            if isinstance(cm, DialupCallManager):
                cm.close()

    def _dialup_settings(self) -> DialupSettings:
        o = self.options
        words = o.chat_words()
        settings = DialupSettings(pulse=o.pulse, auto_answer_rings=o.auto_answer)
        if o.init is not None:
            settings.init = ("ATZ", o.init)
        if self.answer:
            settings.answer_chat = words
        else:
            settings.connect_chat = words
        return settings

    async def _connect(
        self,
        cm: DialupCallManager | PvcCallManager,
        handle: Any,
        adapter: WanMiniport,
        link: PppLink,
    ) -> Vc | None:
        o = self.options
        vc: Vc | None
        if isinstance(cm, PvcCallManager):
            self.progress.step(f"Direct line {o.device}: starting PPP")
            vc = cm.add_pvc(handle, o.baud)
        elif self.answer:
            self.progress.step(f"Waiting for a call on {o.device}")
            cm.register_sap(handle, "*")
            vc = await self._unless_hangup(cm.accept_call(handle))
        else:
            assert o.number is not None or o.connect is not None
            self.progress.step(f"Dialing {o.number or '(connect script)'}")
            new_vc = adapter.create_vc(link)
            call = await self._unless_hangup(cm.make_call(handle, new_vc, o.number or ""))
            vc = new_vc if call is not None else None
        return self._connected(cm, vc)

    def _connected(self, cm: DialupCallManager | PvcCallManager, vc: Vc | None) -> Vc | None:
        if vc is not None and isinstance(cm, DialupCallManager):
            rate = cm.last_connect.rate if cm.last_connect else None
            self.progress.step(f"CONNECT {rate or self.options.baud}")
        if vc is not None:
            self.state.connected_at = time.time()
        return vc

    async def _unless_hangup(self, request: Any) -> Any:
        """Await a call-setup request, abandoned when the user hangs up."""
        task = asyncio.ensure_future(request)
        stop = asyncio.ensure_future(self._hangup.wait())
        done, _ = await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return None

    async def _until_end(self, link: PppLink) -> ExitCode:
        """Until the link ends (its own status: idle, echo failure, hang-up...) or the
        user hangs up."""
        stop = asyncio.ensure_future(self._hangup.wait())
        ended = asyncio.ensure_future(link.terminated.wait())
        try:
            done, _ = await asyncio.wait({stop, ended}, return_when=asyncio.FIRST_COMPLETED)
            if ended in done:
                if link.exit_code is ExitCode.IDLE_TIMEOUT:
                    self.progress.note(
                        f"Terminating connection due to lack of activity ({self.options.idle} s)"
                    )
                return link.exit_code or ExitCode.OK
            link.close("User request")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(link.terminated.wait(), 3.0)
            return ExitCode.USER_REQUEST
        finally:
            stop.cancel()
            ended.cancel()

    async def _teardown(
        self, cm: DialupCallManager | PvcCallManager, vc: Vc, link: PppLink
    ) -> None:
        if not await link.settle(HOOK_TIMEOUT):
            log.warning("the interface's down work did not finish within %.0f s", HOOK_TIMEOUT)
        link.detach()
        if isinstance(cm, DialupCallManager):
            self.progress.step("Hanging up")
            await cm.close_call(vc)
        else:
            cm.delete_pvc(vc)
        self.vc = None
        if link.state.up_since:  # as pppd: only a link that carried IP had a connect time
            self.progress.note(
                f"Connect time {(time.time() - link.state.up_since) / 60:.1f} minutes."
            )

    # -- indications for the user --

    def _on_event(self, event: Event) -> None:
        p = self.progress
        if isinstance(event, LinkInfoNegotiated):
            p.step(f"LCP up: mru {event.send_mru}, asyncmap {event.send_accm:#x}")
        elif isinstance(event, AuthSucceeded):
            p.step(f"Authenticated ({event.protocol}, {event.role.value}: {event.name})")
            if self.link is not None and event.role.value == "authenticator":
                self.link.state.peer_name = event.name
        elif isinstance(event, AuthFailed):
            p.note(f"Authentication failed ({event.protocol}): {event.message}")
        elif isinstance(event, NetworkUp):
            iface = self.edge.tun.name if self.edge else "?"
            p.note(
                f"Link up: {iface} local {event.local} remote {event.remote}"
                + (f" dns {event.dns1}" if event.dns1 else "")
            )
            if self.on_up is not None:
                self.on_up()
        elif isinstance(event, Ipv6Up):
            p.note(f"IPv6 up: local {event.local_address} remote {event.remote_address}")
        elif isinstance(event, PhaseChanged) and event.phase is Phase.AUTHENTICATE:
            p.step("Authenticating")
        elif isinstance(event, LinkTerminated):
            p.note(f"Link down: {event.reason} (exit code {int(event.exit_code)})")

    def _capture(self, outbound: bool, frame: bytes) -> None:
        if self._pcap is not None:
            self._pcap.write(frame, Direction.SENT if outbound else Direction.RECEIVED)
        if self._capture_sinks:
            now = time.time()
            for sink in list(self._capture_sinks):
                sink(now, outbound, frame)

    def _subscribe(self, sink: FrameSink) -> Callable[[], None]:
        """``wanctl capture``: frames both ways go to ``sink`` until unsubscribed."""
        self._capture_sinks.append(sink)
        return lambda: self._capture_sinks.remove(sink) if sink in self._capture_sinks else None

    # -- status for the control socket --

    def status(self) -> dict[str, Any]:
        link, vc, edge = self.link, self.vc, self.edge
        state = link.state if link is not None else None
        stats = vc.stats if vc is not None else None
        up = self.state.connected_at if vc is not None else 0.0
        dropped = 0
        if link is not None:
            dropped += link.counters.sent_before_network_up + link.counters.not_ip
            if link.sendpath is not None:
                dropped += link.sendpath.queue.dropped
        return {
            "link": self.link_name,
            "pid": os.getpid(),
            "phase": state.phase if state else "dead",
            "device": self.options.device or "?",
            "speed": state.speed if state else 0,
            "uptime": round(time.time() - up, 3) if up else 0,
            "interface": edge.tun.name if edge is not None else None,
            "ipv4": {
                "local": (state.local or None) if state else None,
                "remote": (state.remote or None) if state else None,
            },
            "ipv6": {
                "local_id": _ifid(state.ipv6_local) if state else None,
                "remote_id": _ifid(state.ipv6_remote) if state else None,
            },
            "bytes": {
                "sent": stats.bytes_sent if stats else 0,
                "received": stats.bytes_received if stats else 0,
            },
            "frames": {
                "sent": stats.frames_sent if stats else 0,
                "received": stats.frames_received if stats else 0,
            },
            "errors": {
                "crc": stats.crc_errors if stats else 0,
                "framing": (stats.framing_errors + stats.alignment_errors) if stats else 0,
                "overruns": (stats.buffer_overrun_errors + stats.serial_overrun_errors)
                if stats
                else 0,
                "dropped": dropped,
            },
            "send_window": {
                "size": vc.send_window if vc else 0,
                "outstanding": vc.outstanding if vc else 0,
            },
        }


def _ifid(address: str) -> str | None:
    """The low 64 bits of a link-local address as four hex groups."""
    if not address:
        return None
    value = int(ipaddress.IPv6Address(address)) & (2**64 - 1)
    return ":".join(f"{(value >> s) & 0xFFFF:x}" for s in (48, 32, 16, 0))
