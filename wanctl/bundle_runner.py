"""A multilink bundle, run to its end: the process behind ``dial --multilink``.

One ``LinkRunner`` per port runs that member's call (its own transport,
miniport and call manager, redialled under ``persist``) with the shared
``Bundler``; this runner owns what there is one of: the TUN interface (given
to each new bundle), the control socket, the pcap and the signals.  The run
ends when every member has ended (without ``persist``: when each one's call
is over); the exit code is the bundle's, else the first member's.

With ``demand-add`` (bandwidth on demand, dialling side) only ``demand-min``
members start; a ``DemandPolicy`` sampling the bundle's traffic each second
brings up the next port when the bundle stays busy and drops the last one
when it stays idle.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ndiswan.bundling import BundleLink, Bundler
from ndiswan.edges import TunEdge
from ndiswan.ppp.compression import NO_COMPRESSION_STATUS
from ndiswan.ppp.events import Event, Ipv6Up, LinkTerminated, NetworkUp, Phase
from ndiswan.ppp.multilink.demand import Decision, DemandPolicy, DemandSettings
from ndiswan.resolv import ResolvConfError
from ndiswan.tun import TunError
from wanctl.config import ppp_config
from wanctl.control import ControlServer
from wanctl.options import LinkOptions
from wanctl.pcap import PcapWriter
from wanctl.progress import Progress
from wanctl.runner import FrameTap, LinkRunner
from wanctl.values import split_member
from wanminiport.exitcodes import ExitCode
from wanminiport.vc import NO_VC_STATUS

log = logging.getLogger("wanctl")
#: How often bandwidth on demand samples the bundle's traffic.
DEMAND_SAMPLE_INTERVAL = 1.0


class _MemberProgress(Progress):
    """A member's progress lines carry its port."""

    def __init__(self, outer: Progress, port: str) -> None:
        self._outer, self._port = outer, port

    def step(self, text: str) -> None:
        self._outer.step(f"[{self._port}] {text}")

    def note(self, text: str) -> None:
        self._outer.note(f"[{self._port}] {text}")


class BundleRunner:
    """Runs a bundle over ``options.device`` and ``options.members``."""

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
        assert options.device is not None
        self.options = options
        self.link_name = link_name
        self.answer = answer
        self.progress = progress or Progress()
        self.control_dir = control_dir
        self.on_up = on_up
        members = [split_member(spec, options.baud) for spec in options.members]
        self.ports = (options.device, *(m.port for m in members))
        bauds = (options.baud, *(m.baud for m in members))
        # A modem member dials its own number, or the profile's when it has none.
        numbers = (options.number, *(m.number or options.number for m in members))
        self.bundler = Bundler(
            ppp_config(options),
            on_bundle=self._on_bundle,
            on_event=self._on_bundle_event,
            on_membership=lambda member, what: self.progress.note(f"[{member}] {what}"),
        )
        self.tap = FrameTap()
        self.members = [
            LinkRunner(
                dataclasses.replace(options, device=port, baud=baud, number=number, members=()),
                link_name=port,
                answer=answer,
                progress=_MemberProgress(self.progress, port),
                bundler=self.bundler,
                tap=self.tap,
            )
            for port, baud, number in zip(self.ports, bauds, numbers, strict=True)
        ]
        self.bundle: BundleLink | None = None
        self.edge: TunEdge | None = None
        self.started = time.time()
        self.exit_code: ExitCode | None = None
        self._hangup = False
        self._running: dict[LinkRunner, asyncio.Future[ExitCode]] = {}
        #: Members ended by bandwidth on demand: their exit codes are not the run's.
        self._dropped: set[LinkRunner] = set()
        self._demand: DemandPolicy | None = None
        if options.demand_add is not None and not answer:
            (add_percent, add_seconds), (drop_percent, drop_seconds) = (
                options.demand_add,
                options.demand_drop,
            )
            self._demand = DemandPolicy(
                DemandSettings(
                    add_percent, add_seconds, drop_percent, drop_seconds, options.demand_min
                )
            )

    async def run(self) -> ExitCode:
        for member in self.members:
            member._refuse_if_locked()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self.request_hangup)
        if self.options.pcap:
            self.tap.pcap = PcapWriter(self.options.pcap)
        try:
            self.edge = self.members[0]._tun_edge()
        except (TunError, ResolvConfError) as exc:
            self.progress.note(str(exc))
            return exc.exit_code
        server = ControlServer(
            self.link_name,
            self.status,
            self.request_hangup,
            directory=Path(self.control_dir) if self.control_dir else None,
            capture=self.tap.subscribe,
            drop_member=self.drop_member,
        )
        await server.start()
        try:
            codes = await self._run_members()
        finally:
            await server.close()
            if self.bundle is not None:
                await self.bundle.settle(5.0)
            self.edge.close()
            self.tap.close()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        if self.exit_code is not None:
            return self.exit_code
        return codes[0]

    def request_hangup(self) -> None:
        """SIGINT, SIGTERM, SIGHUP or ``wanctl hangup``: every member ends."""
        self._hangup = True
        for member in self.members:
            member.request_hangup()

    # -- the members, and bandwidth on demand --

    async def _run_members(self) -> list[ExitCode]:
        """Until every member started has ended; the codes of those not dropped on demand."""
        first = self._demand.settings.min_members if self._demand else len(self.members)
        for member in self.members[:first]:
            self._start(member)
        watch = asyncio.ensure_future(self._watch_demand()) if self._demand else None
        codes: list[ExitCode] = []
        try:
            while self._running:
                done, _ = await asyncio.wait(
                    set(self._running.values()), return_when=asyncio.FIRST_COMPLETED
                )
                for member, task in list(self._running.items()):
                    if task in done:
                        del self._running[member]
                        if member not in self._dropped:
                            codes.append(task.result())
                        self._dropped.discard(member)
        finally:
            if watch is not None:
                watch.cancel()
        return codes or [ExitCode.USER_REQUEST]

    def _start(self, member: LinkRunner) -> None:
        member._hangup.clear()
        self._running[member] = asyncio.ensure_future(member._redial_loop())

    async def _watch_demand(self) -> None:
        assert self._demand is not None
        loop = asyncio.get_running_loop()
        while not self._hangup:
            await asyncio.sleep(DEMAND_SAMPLE_INTERVAL)
            bundle = self.bundle
            if bundle is None or bundle.network.phase is not Phase.NETWORK:
                continue
            members = list(bundle.bundle.members.values())
            standby = [m for m in self.members if m not in self._running]
            decision = self._demand.sample(
                loop.time(),
                sum(m.octets_sent for m in members),
                sum(m.octets_received for m in members),
                sum(m.speed_bps for m in bundle.bundle.active),
                active=len(bundle.bundle.active),
                standby=len(standby),
            )
            busy = f"{self._demand.utilisation:.0%} busy"
            if decision is Decision.ADD:
                self.progress.note(
                    f"Bandwidth on demand: {busy}, bringing up {standby[0].link_name}"
                )
                self._start(standby[0])
            elif decision is Decision.DROP:
                extra = [m for m in self.members if m in self._running][-1]
                self.progress.note(f"Bandwidth on demand: {busy}, dropping {extra.link_name}")
                self._dropped.add(extra)
                extra.request_hangup()

    def drop_member(self, port: str) -> str | None:
        """``wanctl hangup LINK --member PORT``: that member ends and is not redialled."""
        for member in self.members:
            if member.link_name == port:
                member.request_hangup()
                return None
        return f"no member {port!r}; the members are {', '.join(self.ports)}"

    # -- the bundle --

    def _on_bundle(self, link: BundleLink) -> None:
        self.bundle = link
        assert self.edge is not None
        link.upper = self.edge
        self.edge.attach(link)
        self.progress.step(f"Bundle {link.bundle.key} up: starting IPCP")

    def _on_bundle_event(self, event: Event) -> None:
        if isinstance(event, NetworkUp):
            iface = self.edge.tun.name if self.edge else "?"
            members = len(self.bundle.bundle.active) if self.bundle else 0
            self.progress.note(
                f"Link up: {iface} local {event.local} remote {event.remote}"
                f" over {members} member{'s' if members != 1 else ''}"
                + (f" dns {event.dns1}" if event.dns1 else "")
            )
            if self.on_up is not None:
                self.on_up()
        elif isinstance(event, Ipv6Up):
            self.progress.note(
                f"IPv6 up: local {event.local_address} remote {event.remote_address}"
            )
        elif isinstance(event, LinkTerminated):
            self.exit_code = event.exit_code
            self.progress.note(f"Bundle down: {event.reason} (exit code {int(event.exit_code)})")

    # -- status --

    def status(self) -> dict[str, Any]:
        """``wanctl status``: the bundle's link, the members' VCs summed, each member."""
        bundle = self.bundle
        vcs = [
            dict(m.vc.status()) if m.vc is not None else dict(NO_VC_STATUS) for m in self.members
        ]
        totals = dict(NO_VC_STATUS)

        def summed(key: str) -> dict[str, int]:
            return {name: sum(vc[key][name] for vc in vcs) for name in totals[key]}

        link_status = bundle.status() if bundle is not None else None
        errors = summed("errors")
        errors["dropped"] = link_status["dropped"] if link_status else 0
        members = {m["member"]: m for m in (link_status or {}).get("bundle", {}).get("members", [])}
        rows = []
        for member in self.members:
            row = members.get(member.link_name)
            if row is None:
                row = _down_member(member)
            rows.append(row)
        connected = [m.state.connected_at for m in self.members if m.vc is not None]
        up = min(connected) if connected else 0.0
        phase = link_status["phase"] if link_status else _member_phase(self.members)
        return {
            "link": self.link_name,
            "pid": os.getpid(),
            "phase": phase,
            "device": "+".join(self.ports),
            "speed": link_status["speed"] if link_status else 0,
            "uptime": round(time.time() - up, 3) if up else 0,
            "interface": self.edge.tun.name if self.edge is not None else None,
            "ipv4": link_status["ipv4"] if link_status else {"local": None, "remote": None},
            "ipv6": (link_status["ipv6"] if link_status else {"local_id": None, "remote_id": None}),
            "bytes": summed("bytes"),
            "frames": summed("frames"),
            "errors": errors,
            "send_window": summed("send_window"),
            "compression": (
                link_status["compression"] if link_status else dict(NO_COMPRESSION_STATUS)
            ),
            "bundle": {
                **{
                    k: v
                    for k, v in (link_status or {}).get("bundle", _NO_BUNDLE).items()
                    if k != "members"
                },
                "members": rows,
            },
        }


_NO_BUNDLE: dict[str, Any] = {
    "key": None,
    "packets_sent": 0,
    "packets_received": 0,
    "lost": 0,
    "dropped": 0,
}


def _down_member(member: LinkRunner) -> dict[str, Any]:
    """A member that is not in the bundle now (dialling, negotiating, or gone)."""
    vc = member.vc
    speed = member.link.state.speed if member.link is not None else 0
    return {
        "member": member.link_name,
        "state": "down",
        "speed": speed,
        "share": 0.0,
        "frames_sent": vc.stats.frames_sent if vc is not None else 0,
        "octets_sent": vc.stats.bytes_sent if vc is not None else 0,
        "frames_received": vc.stats.frames_received if vc is not None else 0,
        "octets_received": vc.stats.bytes_received if vc is not None else 0,
        "errors": 0,
        "probes": 0,
        "suspected": 0,
        "left_because": None,
    }


def _member_phase(members: list[LinkRunner]) -> str:
    """Before the bundle exists: the most advanced member's phase."""
    phases = [m.link.state.phase for m in members if m.link is not None]
    order = ["dead", "establish", "authenticate", "network"]
    return max(phases, key=lambda p: order.index(p) if p in order else 0, default="dead")
