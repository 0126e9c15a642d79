"""NDISWAN over the miniport: two PPP links on PVCs across the real virtual cable.

Everything but the TUN device is real here: ptys, the paced relay, the
framer, the send path and the PPP engines; the upper edge is the Python API.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from hw.lab.cable import VirtualCable
from ndiswan.edges import ApiEdge
from ndiswan.link import PppLink
from ndiswan.ppp import AuthRequirement, Ipv6Up, NetworkUp, PppConfig, SecretLookup
from ndiswan.ppp.events import Event, NetworkDown
from ndiswan.ppp.secrets_format import SecretsTable
from wanminiport import WanMiniport
from wanminiport.callmgr import PvcCallManager, bind_client, unbind_adapter
from wanminiport.exitcodes import ExitCode
from wanminiport.transports.serial_port import SerialTransport

SECRETS = {("client", "hub"): "s3cret"}


def lookup(client: str, server: str) -> str | None:
    return SECRETS.get((client, server))


def ipv4_packet(src: str, dst: str, payload: bytes) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        0,
        0,
        64,
        17,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    return header + payload


@dataclass
class Pair:
    hub: PppLink
    client: PppLink
    hub_edge: ApiEdge
    client_edge: ApiEdge
    cable: VirtualCable


@asynccontextmanager
async def two_links(
    tmp: str,
    hub: PppConfig,
    client: PppConfig,
    baud: int = 115200,
    *,
    hub_secrets: SecretLookup = lookup,
    client_edge: ApiEdge | None = None,
) -> AsyncIterator[Pair]:
    async with VirtualCable(baud) as cable:
        links, edges, adapters = [], [], []
        for path, config, secrets, edge in (
            (cable.a_path, hub, hub_secrets, ApiEdge()),
            (cable.b_path, client, lookup, client_edge or ApiEdge()),
        ):
            adapter = WanMiniport(SerialTransport(path, baud, lock_dir=tmp))
            adapter.start()
            link = PppLink(config, edge, secrets=secrets)
            bind_client(adapter, link)
            cm = PvcCallManager(adapter)
            af = cm.register_af()
            handle = await cm.open_af(af, link)
            cm.add_pvc(handle)
            links.append(link)
            edges.append(edge)
            adapters.append(adapter)
        try:
            yield Pair(links[0], links[1], edges[0], edges[1], cable)
        finally:
            for adapter in adapters:
                unbind_adapter(adapter)
                adapter.close()


async def network_up(edge: ApiEdge, kinds: tuple[type, ...]) -> dict[type, object]:
    seen: dict[type, object] = {}
    while set(kinds) - set(seen):
        event = await asyncio.wait_for(edge.events.get(), 15)
        seen[type(event)] = event
    return seen


HUB = PppConfig(
    name="hub",
    require_auth=AuthRequirement.CHAP,
    local_ip=ipaddress.IPv4Address("10.7.0.1"),
    remote_ip=ipaddress.IPv4Address("10.7.0.2"),
    ms_dns=(ipaddress.IPv4Address("10.7.0.53"),),
    ipv6=True,
)
CLIENT = PppConfig(user="client", remote_name="hub", usepeerdns=True, ipv6=True)


def test_chap_ipcp_and_ipv6cp_come_up_and_datagrams_cross(tmp_path: object) -> None:
    async def run() -> None:
        async with two_links(str(tmp_path), HUB, CLIENT) as pair:
            up_hub = await network_up(pair.hub_edge, (NetworkUp, Ipv6Up))
            up_client = await network_up(pair.client_edge, (NetworkUp, Ipv6Up))
            net = up_client[NetworkUp]
            assert isinstance(net, NetworkUp)
            assert str(net.local) == "10.7.0.2" and str(net.remote) == "10.7.0.1"
            assert str(net.dns1) == "10.7.0.53"
            assert isinstance(up_hub[Ipv6Up], Ipv6Up)
            packet = ipv4_packet("10.7.0.2", "10.7.0.1", b"hello hub")
            assert pair.client.send_packet(packet)
            assert await asyncio.wait_for(pair.hub_edge.received.get(), 5) == packet
            reply = ipv4_packet("10.7.0.1", "10.7.0.2", b"hello client")
            assert pair.hub.send_packet(reply)
            assert await asyncio.wait_for(pair.client_edge.received.get(), 5) == reply

    asyncio.run(run())


def test_packets_to_our_own_address_are_looped_back_above_the_miniport(
    tmp_path: object,
) -> None:
    async def run() -> None:
        async with two_links(str(tmp_path), HUB, CLIENT) as pair:
            await network_up(pair.client_edge, (NetworkUp,))
            sent_before = pair.client.vc.stats.frames_sent if pair.client.vc else 0
            packet = ipv4_packet("10.7.0.2", "10.7.0.2", b"to myself")
            assert pair.client.send_packet(packet)
            assert await asyncio.wait_for(pair.client_edge.received.get(), 5) == packet
            assert pair.client.vc is not None and pair.client.vc.stats.frames_sent == sent_before
            assert pair.client.counters.looped_back == 1

    asyncio.run(run())


def test_no_datagram_crosses_before_the_network_phase(tmp_path: object) -> None:
    async def run() -> None:
        async with two_links(str(tmp_path), HUB, CLIENT) as pair:
            early = ipv4_packet("10.7.0.2", "10.7.0.1", b"too early")
            assert not pair.client.send_packet(early)
            assert pair.client.counters.sent_before_network_up == 1
            await network_up(pair.hub_edge, (NetworkUp,))
            assert pair.hub_edge.received.empty()

    asyncio.run(run())


def test_wrong_secret_fails_both_sides_with_pppd_exit_codes(tmp_path: object) -> None:
    bad = PppConfig(user="client", remote_name="hub", password="wrong")

    async def run() -> None:
        async with two_links(str(tmp_path), HUB, bad) as pair:
            await asyncio.wait_for(pair.hub.terminated.wait(), 15)
            await asyncio.wait_for(pair.client.terminated.wait(), 15)
            assert pair.hub.exit_code is ExitCode.PEER_AUTH_FAILED
            assert pair.client.exit_code is ExitCode.AUTH_TOPEER_FAILED

    asyncio.run(run())


def test_close_sends_terminate_and_both_sides_end(tmp_path: object) -> None:
    async def run() -> None:
        async with two_links(str(tmp_path), HUB, CLIENT) as pair:
            await network_up(pair.client_edge, (NetworkUp,))
            pair.client.close("User request")
            await asyncio.wait_for(pair.client.terminated.wait(), 10)
            await asyncio.wait_for(pair.hub.terminated.wait(), 10)
            assert pair.client.exit_code is ExitCode.USER_REQUEST
            assert pair.hub.exit_code in (ExitCode.USER_REQUEST, ExitCode.OK)

    asyncio.run(run())


def test_line_cut_ends_the_link_with_hangup(tmp_path: object) -> None:
    async def run() -> None:
        async with two_links(str(tmp_path), HUB, CLIENT) as pair:
            await network_up(pair.client_edge, (NetworkUp,))
            pair.cable.hangup("b")
            await asyncio.wait_for(pair.client.terminated.wait(), 5)
            assert pair.client.exit_code is ExitCode.HANGUP

    asyncio.run(run())


def test_silent_answering_side_waits_for_the_caller_and_needs_no_retransmission(
    tmp_path: object,
) -> None:
    """pppd's ``silent``: nothing is sent before the peer's first LCP packet, so the
    caller's Configure-Request finds us listening and no restart timer fires."""

    async def run() -> None:
        async with VirtualCable(115200) as cable:
            links, adapters = [], []
            sent: dict[str, list[str]] = {"hub": [], "client": []}
            for name, path, config, silent in (
                ("hub", cable.a_path, HUB, True),
                ("client", cable.b_path, CLIENT, False),
            ):
                adapter = WanMiniport(SerialTransport(path, 115200, lock_dir=str(tmp_path)))
                adapter.start()

                def record(event: object, name: str = name) -> None:
                    text = getattr(event, "text", "")
                    if text.startswith("sent [LCP ConfReq"):
                        sent[name].append(text)

                link = PppLink(config, ApiEdge(), secrets=lookup, on_event=record, silent=silent)
                cm = PvcCallManager(adapter)
                cm.add_pvc(await cm.open_af(cm.register_af(), link))
                links.append(link)
                adapters.append(adapter)
                if name == "hub":
                    await asyncio.sleep(0.5)
                    assert adapter.active_vc is not None
                    assert adapter.active_vc.stats.frames_sent == 0
            edge = links[1].upper
            assert isinstance(edge, ApiEdge)
            await network_up(edge, (NetworkUp,))
            # One Configure-Request each: nothing was lost, no restart timer fired.
            assert len(sent["hub"]) == 1 and len(sent["client"]) == 1
            for adapter in adapters:
                unbind_adapter(adapter)
                adapter.close()

    asyncio.run(run())


@dataclass
class SlowEdge(ApiEdge):
    """An edge whose interface configuration takes a while, as netlink and ip-up can."""

    delay: float = 2.0
    calls: list[str] = field(default_factory=list)

    async def network_up(
        self,
        link: PppLink,  # type: ignore[override]
        event: NetworkUp | Ipv6Up,
    ) -> None:
        version = 4 if isinstance(event, NetworkUp) else 6
        self.calls.append(f"configure {version}")
        await asyncio.sleep(self.delay)
        self.calls.append(f"configured {version}")
        super().network_up(link, event)

    async def network_down(
        self,
        link: PppLink,  # type: ignore[override]
        ip_version: int,
    ) -> None:
        self.calls.append(f"deconfigure {ip_version} (local {link.state.local or '-'})")
        super().network_down(link, ip_version)


def test_an_ncp_that_goes_down_while_its_interface_is_configured_is_never_announced(
    tmp_path: object,
) -> None:
    """The hub's secrets entry allows the client no IPv4 address: the client's IPCP
    opens, then the hub closes it while the client's interface is still being
    configured.  Expected: the client never announces IPv4 up, deconfigures only after
    configuring finished, forgets the address, and IPv6 stays up."""

    async def run() -> None:
        edge = SlowEdge()
        no_ipv4 = SecretsTable.from_text("client hub s3cret\n")
        async with two_links(
            str(tmp_path), HUB, CLIENT, hub_secrets=no_ipv4, client_edge=edge
        ) as pair:
            announced: list[Event] = []
            pair.client.on_event = announced.append
            await asyncio.wait_for(
                _until(lambda: any(c.startswith("deconfigure 4") for c in edge.calls)), 20
            )
            await asyncio.wait_for(
                _until(lambda: any(isinstance(e, Ipv6Up) for e in announced)), 20
            )
            assert edge.calls.index("configured 4") < next(
                i for i, c in enumerate(edge.calls) if c.startswith("deconfigure 4")
            )
            assert any(isinstance(e, NetworkDown) and e.ip_version == 4 for e in announced)
            assert not any(isinstance(e, NetworkUp) for e in announced), announced
            assert pair.client.state.local == "" and pair.client.state.remote == ""
            assert pair.client.state.ipv6_local != ""
            assert ipaddress.IPv4Address("10.7.0.2") not in pair.client.loopback.own_addresses

    asyncio.run(run())


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


@dataclass
class FailingEdge(ApiEdge):
    """An edge whose interface configuration fails, as a refused netlink request does."""

    async def network_up(
        self,
        link: PppLink,  # type: ignore[override]
        event: NetworkUp | Ipv6Up,
    ) -> None:
        raise OSError("cannot add address 10.7.0.2 peer 10.7.0.1 on wan0: Permission denied")


def test_an_interface_that_cannot_be_configured_ends_the_link_never_half_up(
    tmp_path: object,
) -> None:
    """No half-configured link: the NCP opened but the interface could not be
    configured, so the link ends (Terminate-Request, pppd's status 10) and the
    network is never announced."""

    async def run() -> None:
        async with two_links(str(tmp_path), HUB, CLIENT, client_edge=FailingEdge()) as pair:
            announced: list[Event] = []
            pair.client.on_event = announced.append
            await asyncio.wait_for(pair.client.terminated.wait(), 20)
            await asyncio.wait_for(pair.hub.terminated.wait(), 20)
            assert pair.client.exit_code is ExitCode.NEGOTIATION_FAILED
            assert not any(isinstance(e, NetworkUp | Ipv6Up) for e in announced), announced

    asyncio.run(run())
