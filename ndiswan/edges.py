"""Upper edges of a PPP link: a TUN interface, or a Python API for embedding.

``TunEdge`` lets the operating system route IP over the link: packets read
from the TUN fd go down, packets from the peer are written to it, and the
interface is configured as pppd configures ppp0 when the NCPs open (with
the ip-up/ip-down hooks).  A configuration that fails raises, and the
link ends (``PppLink``); as in pppd, ip-down runs only for a network whose
ip-up ran.  ``ApiEdge`` hands packets and network events to a program
through bounded asyncio queues instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ndiswan.hooks import LinkFacts, run_hook
from ndiswan.ppp.events import Ipv6Up, NetworkUp
from ndiswan.resolv import prepare_resolv_conf, write_resolv
from ndiswan.tun import TunDevice

if TYPE_CHECKING:
    from ndiswan.link import PppLink

log = logging.getLogger("wanctl.link")

#: Packets read from the TUN device per readiness callback, so one busy
#: interface cannot starve the rest of the event loop.
_READ_BURST = 32


@dataclass
class TunOptions:
    default_route: bool = False
    #: usepeerdns: where the peer's DNS servers are written (pppd: /etc/ppp/resolv.conf).
    resolv_path: str | None = None
    hooks_dir: str = "/etc/ppp"
    device: str = ""
    ipparam: str = ""


@dataclass
class TunCounters:
    read: int = 0
    written: int = 0
    write_failures: int = 0
    dropped: int = 0


class TunEdge:
    """A TUN device as the upper edge of one PPP link."""

    def __init__(self, tun: TunDevice, options: TunOptions | None = None) -> None:
        self.tun = tun
        self.options = options or TunOptions()
        if self.options.resolv_path is not None:
            # Before the link comes up, so it never comes up half-configured.
            prepare_resolv_conf(self.options.resolv_path)
        self.counters = TunCounters()
        self.link: PppLink | None = None
        self._reading = False
        self._paused = False
        self._facts: LinkFacts | None = None
        #: IP versions whose up hook ran: only they get a down hook.
        self._hooks_up: set[int] = set()

    def attach(self, link: PppLink) -> None:
        self.link = link
        self._set_reading(True)

    def close(self) -> None:
        self._set_reading(False)
        self.tun.close()

    def _set_reading(self, on: bool) -> None:
        if on == self._reading or self.tun.fd < 0:
            return
        loop = asyncio.get_running_loop()
        if on:
            loop.add_reader(self.tun.fd, self._readable)
        else:
            loop.remove_reader(self.tun.fd)
        self._reading = on

    def _readable(self) -> None:
        for _ in range(_READ_BURST):
            packet = self.tun.read()
            if packet is None:
                return
            self.counters.read += 1
            if self.link is None or not self.link.send_packet(packet):
                self.counters.dropped += 1
            if self._paused:
                return

    # -- UpperEdge --

    def deliver(self, packet: bytes) -> None:
        if self.tun.write(packet):
            self.counters.written += 1
        else:
            self.counters.write_failures += 1

    def set_paused(self, paused: bool) -> None:
        self._paused = paused
        self._set_reading(not paused)

    async def network_up(self, link: PppLink, event: NetworkUp | Ipv6Up) -> None:
        mtu = link.state.mtu
        facts = self._link_facts(link)
        if isinstance(event, NetworkUp):
            await self.tun.configure_ipv4(
                str(event.local),
                str(event.remote),
                mtu,
                default_route=self.options.default_route,
            )
            dns = facts.dns
            if self.options.resolv_path and dns:
                write_resolv(self.options.resolv_path, dns)
            log.info("local  IP address %s", event.local)
            log.info("remote IP address %s", event.remote)
            for n, server in enumerate(dns, start=1):
                log.info("%s DNS address %s", "primary" if n == 1 else "secondary", server)
            self._hooks_up.add(4)
            await run_hook(os.path.join(self.options.hooks_dir, "ip-up"), facts)
        else:
            await self.tun.configure_ipv6(
                int.from_bytes(event.local_id, "big"), int.from_bytes(event.remote_id, "big"), mtu
            )
            log.info("local  LL address %s", event.local_address)
            log.info("remote LL address %s", event.remote_address)
            self._hooks_up.add(6)
            await run_hook(os.path.join(self.options.hooks_dir, "ipv6-up"), facts, ipv6=True)

    def network_down(self, link: PppLink, ip_version: int) -> Awaitable[None]:
        # The addresses are read now: the link forgets them once this returns.  When the
        # whole link is ending, the interface is about to go away with its addresses.
        return self._network_down(self._link_facts(link), ip_version, not link.ending)

    async def _network_down(
        self, facts: LinkFacts, ip_version: int, remove_addresses: bool
    ) -> None:
        # As pppd: the addresses leave the interface, then the down script runs.
        if remove_addresses:
            await self.tun.remove_addresses(ip_version)
        if ip_version not in self._hooks_up:
            return
        self._hooks_up.discard(ip_version)
        name = "ip-down" if ip_version == 4 else "ipv6-down"
        await run_hook(os.path.join(self.options.hooks_dir, name), facts, ipv6=ip_version == 6)

    def _link_facts(self, link: PppLink) -> LinkFacts:
        state = link.state
        vc_stats = link.vc.stats if link.vc is not None else None
        return LinkFacts(
            ifname=self.tun.name,
            device=self.options.device,
            speed=state.speed,
            ipparam=self.options.ipparam,
            peer_name=state.peer_name,
            local=state.local,
            remote=state.remote,
            dns=list(state.dns),
            usepeerdns=self.options.resolv_path is not None,
            ll_local=state.ipv6_local,
            ll_remote=state.ipv6_remote,
            bytes_sent=vc_stats.bytes_sent if vc_stats else 0,
            bytes_received=vc_stats.bytes_received if vc_stats else 0,
        )


@dataclass
class ApiEdge:
    """The upper edge for embedding: received packets and network events in queues."""

    max_packets: int = 256
    received: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(256))
    events: asyncio.Queue[NetworkUp | Ipv6Up | int] = field(
        default_factory=lambda: asyncio.Queue(64)
    )
    dropped: int = 0
    paused: bool = False

    def deliver(self, packet: bytes) -> None:
        try:
            self.received.put_nowait(packet)
        except asyncio.QueueFull:
            self.dropped += 1

    def network_up(self, link: PppLink, event: NetworkUp | Ipv6Up) -> None:
        self._event(event)

    def network_down(self, link: PppLink, ip_version: int) -> None:
        self._event(ip_version)

    def set_paused(self, paused: bool) -> None:
        self.paused = paused

    def _event(self, event: NetworkUp | Ipv6Up | int) -> None:
        try:
            self.events.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
