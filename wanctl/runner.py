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
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ndiswan.bundling import Bundler
from ndiswan.edges import TunEdge
from ndiswan.hooks import HOOK_TIMEOUT
from ndiswan.link import NO_LINK_STATUS, PppLink
from ndiswan.ppp import AuthSucceeded, Ipv6Up, LinkInfoNegotiated, NetworkUp, Phase, PhaseChanged
from ndiswan.ppp.events import AuthFailed, Event, LinkTerminated
from ndiswan.resolv import ResolvConfError
from ndiswan.tun import TunDevice, TunError
from wanctl.callsetup import CallSetup, call_setup_for, uses_modem
from wanctl.config import ppp_config, secrets_for, tun_options
from wanctl.control import ControlServer, FrameSink
from wanctl.errors import WanctlError
from wanctl.options import LinkOptions
from wanctl.pcap import Direction, PcapWriter
from wanctl.progress import Progress
from wanminiport import WanMiniport
from wanminiport.callmgr import bind_client, unbind_adapter
from wanminiport.exitcodes import ExitCode
from wanminiport.mcm.dialup import CallSetupError
from wanminiport.transports.base import Transport, TransportError
from wanminiport.transports.lockfile import PortLockedError, lock_owner
from wanminiport.transports.serial_port import SerialTransport
from wanminiport.transports.usb_cdc import is_usb_spec
from wanminiport.transports.usb_port import UsbCdcTransport
from wanminiport.vc import NO_VC_STATUS, Vc

log = logging.getLogger("wanctl")
#: How often a persisting link looks for its missing tty (an unplugged adapter).
DEVICE_POLL_INTERVAL = 0.2


class FrameTap:
    """Every frame of a run, both ways: to the pcap (``--pcap``) and to the
    subscribers of ``wanctl capture``.  A bundle's members share one."""

    def __init__(self) -> None:
        self.pcap: PcapWriter | None = None
        self._sinks: list[FrameSink] = []

    def __call__(self, outbound: bool, frame: bytes) -> None:
        if self.pcap is not None:
            self.pcap.write(frame, Direction.SENT if outbound else Direction.RECEIVED)
        if self._sinks:
            now = time.time()
            for sink in list(self._sinks):
                sink(now, outbound, frame)

    def subscribe(self, sink: FrameSink) -> Callable[[], None]:
        """``wanctl capture``: frames both ways go to ``sink`` until unsubscribed."""
        self._sinks.append(sink)
        return lambda: self._sinks.remove(sink) if sink in self._sinks else None

    def close(self) -> None:
        if self.pcap is not None:
            self.pcap.close()


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
        bundler: Bundler | None = None,
        tap: FrameTap | None = None,
    ) -> None:
        if options.device is None:
            raise WanctlError("no device: give a port (e.g. /dev/ttyUSB0) or a profile with one")
        self.options = options
        self.link_name = link_name
        self.answer = answer
        self.progress = progress or Progress()
        self.control_dir = control_dir
        self.on_up = on_up
        #: Multilink: this runner's link is a member of ``bundler``'s bundle, whose
        #: ``BundleRunner`` owns the TUN interface, the control socket and the pcap.
        self.bundler = bundler
        self.state = RunnerState()
        self.link: PppLink | None = None
        self.vc: Vc | None = None
        self.edge: TunEdge | None = None
        self._hangup = asyncio.Event()
        #: A bundle's member gets its bundle's tap (one pcap for every member).
        self.tap = tap or FrameTap()

    # -- the whole run, with redial --

    async def run(self) -> ExitCode:
        self._refuse_if_locked()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self.request_hangup)
        if self.options.pcap:
            self.tap.pcap = PcapWriter(self.options.pcap)
        server = ControlServer(
            self.link_name,
            self.status,
            self.request_hangup,
            directory=Path(self.control_dir) if self.control_dir else None,
            capture=self.tap.subscribe,
        )
        await server.start()
        try:
            return await self._redial_loop()
        finally:
            await server.close()
            self.tap.close()
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
            waiting_for_peer = (
                self.answer and not uses_modem(self.options, answer=True) and not was_up
            )
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
            await self._wait_for_device()
            if self._hangup.is_set():
                return ExitCode.USER_REQUEST

    async def _wait_for_device(self) -> None:
        """An unplugged adapter's tty (or its stable name) is waited for, not retried blind."""
        device = self.options.device
        if device is None or "://" in device or is_usb_spec(device) or os.path.exists(device):
            return
        self.progress.step(f"Waiting for {device} to come back")
        while not os.path.exists(device):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hangup.wait(), DEVICE_POLL_INTERVAL)
            if self._hangup.is_set():
                return
        self.progress.note(f"{device} is back")

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
        modem = uses_modem(o, answer=self.answer)
        text_cd = modem and not transport.has_modem_lines
        # On a direct line the answering side waits for the caller's first LCP packet.
        link = PppLink(
            ppp_config(o, text_carrier_detect=text_cd),
            None,
            secrets=secrets_for(o),
            on_event=self._on_event,
            silent=self.answer and not modem,
        )
        link.taps.append(self.tap)
        self.link = link
        edge: TunEdge | None = None
        if self.bundler is not None:
            self.bundler.add_member(self.link_name, link)
        else:
            try:
                edge = self._tun_edge()
            except (TunError, ResolvConfError) as exc:
                self.progress.note(str(exc))
                return exc.exit_code, False
            link.upper = edge
            self.edge = edge
            edge.attach(link)
        bind_client(adapter, link)
        call = call_setup_for(adapter, o, answer=self.answer, progress=self.progress)
        try:
            vc = await call.connect(link, self._unless_hangup)
            if vc is None:
                return ExitCode.USER_REQUEST, False
            self.vc = vc
            self.state.connected_at = time.time()
            code = await self._until_end(link)
            was_up = link.state.up_since > 0
            await self._teardown(call, vc, link)
            return code, was_up
        except CallSetupError as exc:
            self.progress.note(str(exc))
            return exc.exit_code, False
        finally:
            if edge is not None:
                edge.close()
            self.edge = None
            call.close()

    def _tun_edge(self) -> TunEdge:
        """The link's TUN interface (raises TunError, ResolvConfError)."""
        tun = TunDevice()
        try:
            return TunEdge(tun, tun_options(self.options))
        except ResolvConfError:
            tun.close()
            raise

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

    async def _teardown(self, call: CallSetup, vc: Vc, link: PppLink) -> None:
        if not await link.settle(HOOK_TIMEOUT):
            log.warning("the interface's down work did not finish within %.0f s", HOOK_TIMEOUT)
        link.detach()
        await call.teardown(vc)
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

    # -- status for the control socket --

    def status(self) -> dict[str, Any]:
        """``wanctl status``: the run's own figures, then the link's and the VC's."""
        link, vc, edge = self.link, self.vc, self.edge
        link_status = dict(link.status() if link is not None else NO_LINK_STATUS)
        vc_status = dict(vc.status() if vc is not None else NO_VC_STATUS)
        up = self.state.connected_at if vc is not None else 0.0
        return {
            "link": self.link_name,
            "pid": os.getpid(),
            "phase": link_status["phase"],
            "device": self.options.device or "?",
            "speed": link_status["speed"],
            "uptime": round(time.time() - up, 3) if up else 0,
            "interface": edge.tun.name if edge is not None else None,
            "ipv4": link_status["ipv4"],
            "ipv6": link_status["ipv6"],
            "bytes": vc_status["bytes"],
            "frames": vc_status["frames"],
            "errors": {**vc_status["errors"], "dropped": link_status["dropped"]},
            "send_window": vc_status["send_window"],
            "compression": link_status["compression"],
        }
