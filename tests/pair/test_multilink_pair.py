"""Multilink bundles over the miniport: two members, each on its own real cable.

Ptys, the paced relay, framers, send paths and PPP engines are real; each
side's bundle has the Python API as its upper edge.  LCP and CHAP run per
member, IPCP once per bundle; packets are fragmented over both members.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import pytest

from hw.lab.cable import VirtualCable
from ndiswan import bundling
from ndiswan.bundling import BundleLink, Bundler
from ndiswan.edges import ApiEdge
from ndiswan.link import PppLink
from ndiswan.ppp import AuthRequirement, NetworkUp, PppConfig
from ndiswan.ppp.multilink.endpoint import parse_endpoint
from ndiswan.ppp.multilink.header import Fragment
from ndiswan.ppp.session import PppSession
from tests.pair.test_ppp_link import ipv4_packet, lookup, network_up
from wanminiport import WanMiniport
from wanminiport.callmgr import PvcCallManager, bind_client, unbind_adapter
from wanminiport.exitcodes import ExitCode
from wanminiport.transports.serial_port import SerialTransport

HUB = PppConfig(
    name="hub",
    require_auth=AuthRequirement.CHAP,
    local_ip=ipaddress.IPv4Address("10.8.0.1"),
    remote_ip=ipaddress.IPv4Address("10.8.0.2"),
    multilink=True,
    endpoint=parse_endpoint("magic:1f2e3d4c"),
)
CLIENT = PppConfig(
    user="client",
    remote_name="hub",
    multilink=True,
    endpoint=parse_endpoint("magic:0a0b0c0d"),
)


@dataclass
class Side:
    bundler: Bundler
    edge: ApiEdge
    members: list[PppLink]
    adapters: list[WanMiniport] = field(default_factory=list)
    bundles: list[BundleLink] = field(default_factory=list)

    async def bundle(self) -> BundleLink:
        for _ in range(300):
            if self.bundles:
                return self.bundles[-1]
            await asyncio.sleep(0.05)
        raise AssertionError("no bundle came up")


def _side(config: PppConfig, edge: ApiEdge) -> Side:
    side = Side(Bundler(config), edge, [])

    def on_bundle(link: BundleLink) -> None:
        link.upper = edge
        side.bundles.append(link)

    side.bundler.on_bundle = on_bundle
    return side


async def _member(side: Side, name: str, path: str, config: PppConfig, baud: int, tmp: str) -> None:
    adapter = WanMiniport(SerialTransport(path, baud, lock_dir=tmp))
    adapter.start()
    link = PppLink(config, None, secrets=lookup)
    side.bundler.add_member(name, link)
    bind_client(adapter, link)
    cm = PvcCallManager(adapter)
    handle = await cm.open_af(cm.register_af(), link)
    cm.add_pvc(handle)
    side.members.append(link)
    side.adapters.append(adapter)


@asynccontextmanager
async def bundle_pair(
    tmp: str,
    bauds: tuple[int, ...] = (115200, 115200),
    client: PppConfig = CLIENT,
    hub: PppConfig = HUB,
) -> AsyncIterator[tuple[Side, Side, list[VirtualCable]]]:
    async with AsyncExitStack() as stack:
        cables = [await stack.enter_async_context(VirtualCable(baud)) for baud in bauds]
        hub_side, near = _side(hub, ApiEdge()), _side(client, ApiEdge())
        for n, (cable, baud) in enumerate(zip(cables, bauds, strict=True)):
            await _member(hub_side, f"hub{n}", cable.a_path, hub, baud, tmp)
            await _member(near, f"client{n}", cable.b_path, client, baud, tmp)
        try:
            yield hub_side, near, cables
        finally:
            for adapter in hub_side.adapters + near.adapters:
                unbind_adapter(adapter)
                adapter.close()


def test_two_members_make_one_bundle_and_packets_cross_fragmented(tmp_path: object) -> None:
    async def run() -> None:
        async with bundle_pair(str(tmp_path)) as (hub, client, _):
            up = await network_up(client.edge, (NetworkUp,))
            net = up[NetworkUp]
            assert isinstance(net, NetworkUp) and str(net.local) == "10.8.0.2"
            client_bundle, hub_bundle = await client.bundle(), await hub.bundle()
            for _ in range(100):  # the second member joins a bundle already up
                if len(client_bundle.bundle.active) == 2 == len(hub_bundle.bundle.active):
                    break
                await asyncio.sleep(0.05)
            assert len(hub.bundles) == len(client.bundles) == 1
            assert {m.member_id for m in hub_bundle.bundle.active} == {"hub0", "hub1"}
            assert str(hub_bundle.bundle.key).startswith('"client"/')
            for size in (40, 600, 1400):
                packet = ipv4_packet("10.8.0.2", "10.8.0.1", bytes(range(256)) * (size // 256 + 1))
                packet = packet[:size]
                assert client_bundle.send_packet(packet)
                assert await asyncio.wait_for(hub.edge.received.get(), 5) == packet
            status = client_bundle.status()["bundle"]
            assert {m["member"] for m in status["members"]} == {"client0", "client1"}
            assert all(m["frames_sent"] > 0 for m in status["members"])
            reply = ipv4_packet("10.8.0.1", "10.8.0.2", b"r" * 1000)
            assert hub_bundle.send_packet(reply)
            assert await asyncio.wait_for(client.edge.received.get(), 5) == reply

    asyncio.run(run())


def test_a_member_that_dies_leaves_and_the_bundle_carries_on(tmp_path: object) -> None:
    async def run() -> None:
        async with bundle_pair(str(tmp_path)) as (hub, client, _):
            await network_up(client.edge, (NetworkUp,))
            client_bundle = await client.bundle()
            for _ in range(100):
                if len(client_bundle.bundle.active) == 2:
                    break
                await asyncio.sleep(0.05)
            client.members[1].close("member dropped")
            await asyncio.wait_for(client.members[1].terminated.wait(), 10)
            assert [m.member_id for m in client_bundle.bundle.active] == ["client0"]
            hub_bundle = await hub.bundle()
            for _ in range(100):
                if len(hub_bundle.bundle.active) == 1:
                    break
                await asyncio.sleep(0.05)
            packet = ipv4_packet("10.8.0.2", "10.8.0.1", b"x" * 1200)
            assert client_bundle.send_packet(packet)
            assert await asyncio.wait_for(hub.edge.received.get(), 5) == packet
            assert not client_bundle.terminated.is_set()
            client.members[0].close("last member")
            await asyncio.wait_for(client_bundle.terminated.wait(), 10)
            assert client_bundle.exit_code is ExitCode.USER_REQUEST

    asyncio.run(run())


def test_a_member_with_another_peers_discriminator_is_refused(tmp_path: object) -> None:
    other = dataclasses.replace(CLIENT, endpoint=parse_endpoint("magic:99999999"))

    async def run() -> None:
        async with bundle_pair(str(tmp_path)) as (hub, client, _):
            await network_up(client.edge, (NetworkUp,))
            # A third line from a different system (another discriminator).
            async with VirtualCable(115200) as cable:
                await _member(hub, "hub2", cable.a_path, HUB, 115200, str(tmp_path))
                stranger = _side(other, ApiEdge())
                await _member(stranger, "stranger", cable.b_path, other, 115200, str(tmp_path))
                await asyncio.wait_for(hub.members[2].terminated.wait(), 15)
                hub_bundle = await hub.bundle()
                assert "hub2" not in {m.member_id for m in hub_bundle.bundle.active}
                assert len(hub.bundles) == 1
                for adapter in hub.adapters[2:] + stranger.adapters:
                    unbind_adapter(adapter)
                    adapter.close()
                del hub.adapters[2:]

    asyncio.run(run())


def test_garbage_fragments_are_counted_dropped_and_the_bundle_stays_up(tmp_path: object) -> None:
    """Wild sequence numbers, B without E, duplicates and short headers on a member."""
    rng = random.Random(7)

    async def run() -> None:
        async with bundle_pair(str(tmp_path)) as (hub, client, _):
            await network_up(client.edge, (NetworkUp,))
            client_bundle, hub_bundle = await client.bundle(), await hub.bundle()
            member = client.members[0]
            assert member.sendpath is not None
            for _ in range(400):
                kind = rng.randrange(4)
                if kind == 0:  # short or garbage header
                    body = rng.randbytes(rng.randrange(0, 4))
                elif kind == 1:  # a wild sequence number far from the stream
                    body = Fragment(rng.randrange(1 << 24), True, False, b"w" * 50).encode(False)
                elif kind == 2:  # Begin without End, forever
                    body = Fragment(rng.randrange(1 << 10), True, False, b"b" * 200).encode(False)
                else:  # past the MRRU
                    body = Fragment(rng.randrange(1 << 10), True, True, bytes(1600)).encode(False)
                member.sendpath.send(b"\x00\x3d" + body)
                if rng.random() < 0.1:
                    await asyncio.sleep(0.01)
            await asyncio.sleep(1.0)
            fragments, octets = hub_bundle.bundle.reassembler.buffered()
            assert fragments <= 65 and octets <= 16 * 1500 + 1600
            assert hub_bundle.bundle.status().dropped > 0
            packet = ipv4_packet("10.8.0.2", "10.8.0.1", b"after the garbage" * 50)
            for _ in range(20):  # the fragmenter's sequence moves past what garbage claimed
                assert client_bundle.send_packet(packet)
                try:
                    got = await asyncio.wait_for(hub.edge.received.get(), 1)
                except TimeoutError:
                    continue
                assert got == packet
                break
            else:
                raise AssertionError("no packet crossed after the garbage")
            assert not hub_bundle.terminated.is_set()

    asyncio.run(run())


def test_an_ncp_the_peer_does_not_run_is_protocol_rejected_on_a_member(tmp_path: object) -> None:
    """The hub offers IPV6CP, the client runs no IPV6CP: a client member's LCP sends the
    Protocol-Reject (the bundle has no LCP of its own), a hub member's LCP receives it
    and the hub bundle's IPV6CP stops instead of resending its Configure-Request."""
    hub_config = dataclasses.replace(HUB, ipv6=True)

    async def run() -> None:
        async with bundle_pair(str(tmp_path), hub=hub_config) as (hub, client, _):
            await network_up(client.edge, (NetworkUp,))
            hub_bundle = await hub.bundle()
            for _ in range(100):
                if hub_bundle.network.get_timer() is None:
                    break
                await asyncio.sleep(0.05)
            assert hub_bundle.network.get_timer() is None  # IPV6CP gave up at once
            rejects = sum(
                m.session.stats.protocol_rejects_sent
                for m in client.members
                if isinstance(m.session, PppSession)
            )
            assert rejects >= 1
            assert hub_bundle.network.network is not None  # IPv4 is up all the same

    asyncio.run(run())


def test_the_bundle_ncps_go_whole_on_a_member_not_in_fragments(tmp_path: object) -> None:
    """pppd drops fragments that reach a link it has not yet put in its kernel bundle
    (it Protocol-Rejects 0x003d), so IPCP packets go whole, without the MP header."""

    async def run() -> None:
        async with bundle_pair(str(tmp_path)) as (hub, client, _):
            await network_up(client.edge, (NetworkUp,))
            client_bundle, hub_bundle = await client.bundle(), await hub.bundle()
            for _ in range(100):  # the hub's IPCP may open a moment after the client's
                if hub_bundle.network.network is not None:
                    break
                await asyncio.sleep(0.05)
            for link in (client_bundle, hub_bundle):
                assert link.network.network is not None  # IPCP is Opened
                assert link.bundle.reassembler.counters.fragments == 0
                assert link.bundle.counters.packets_sent == 0
            packet = ipv4_packet("10.8.0.2", "10.8.0.1", b"d" * 1000)  # data: fragmented
            assert client_bundle.send_packet(packet)
            assert await asyncio.wait_for(hub.edge.received.get(), 5) == packet
            assert hub_bundle.bundle.reassembler.counters.fragments >= 2

    asyncio.run(run())


def test_a_member_whose_peer_rejects_its_fragments_leaves_but_stays_up(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pppd 2.4.9 with ``persist`` brings a bundle's second link back up without
    attaching it: it Protocol-Rejects 0x003d there.  Within the grace after the join
    that is a late attach and changes nothing; after it the member leaves the bundle
    (every packet split over it would lose half) while its link stays up."""

    def reject_fragments(side: Side, index: int) -> None:
        member = side.members[index]
        assert isinstance(member.session, PppSession)
        member.session.reject_protocol(0x003D, b"\xc0\x00\x00\x07", member.loop.time())
        member._service()

    async def run() -> None:
        async with bundle_pair(str(tmp_path)) as (hub, client, _):
            await network_up(client.edge, (NetworkUp,))
            client_bundle = await client.bundle()
            for _ in range(100):
                if len(client_bundle.bundle.active) == 2:
                    break
                await asyncio.sleep(0.05)
            monkeypatch.setattr(bundling, "FRAGMENT_REJECT_GRACE", 1000.0)
            reject_fragments(hub, 1)
            await asyncio.sleep(0.5)
            assert len(client_bundle.bundle.active) == 2  # a late attach: forgiven
            monkeypatch.setattr(bundling, "FRAGMENT_REJECT_GRACE", 0.0)
            reject_fragments(hub, 1)
            for _ in range(100):
                if len(client_bundle.bundle.active) == 1:
                    break
                await asyncio.sleep(0.05)
            assert [m.member_id for m in client_bundle.bundle.active] == ["client0"]
            left = client_bundle.bundle.members["client1"]
            assert left.leave_reason is not None and "Protocol-Rejected" in left.leave_reason
            assert not client.members[1].terminated.is_set()  # the link stays up
            packet = ipv4_packet("10.8.0.2", "10.8.0.1", b"y" * 1200)
            assert client_bundle.send_packet(packet)
            assert await asyncio.wait_for(hub.edge.received.get(), 5) == packet

    asyncio.run(run())
