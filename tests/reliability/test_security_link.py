"""Security at the link and miniport level, over the real virtual cable.

The unit tests (``tests/unit/test_ppp_*``) check each rule on the sans-I/O
session; these check the whole stack the way an attacker on the line meets
it: a ``PppLink`` on a ``WanMiniport`` on a real tty, the peer injecting
frames through its own VC (so they are framed, escaped and checksummed as
real traffic) or raw bytes through its transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hw.lab.cable import VirtualCable
from ndiswan.ppp import Phase
from tests.reliability.stack import (
    CLIENT_IP,
    HUB_IP,
    SECRETS,
    LinkEnd,
    client_config,
    close_end,
    hub_config,
    ipv4_packet,
    network_up,
    open_pvc_end,
    until,
)
from wanminiport.exitcodes import ExitCode
from wanminiport.framing import fcs16_bytes
from wanminiport.framing.ppp_async import escape_set, make_escaper
from wanminiport.info import SendStatus
from wanminiport.vc import Vc

CHAP, PAP, IP, IPCP = 0xC223, 0xC023, 0x0021, 0x8021


def protocol_of(frame: bytes) -> int:
    return frame[0] if frame[0] & 1 else frame[0] << 8 | frame[1]


def filter_outgoing(end: LinkEnd, drop: Callable[[bytes], bool]) -> list[bytes]:
    """Frames the end's link sends that ``drop`` selects never reach the wire; returns them."""
    assert end.vc is not None
    vc, dropped = end.vc, []
    handed_down = vc.send

    def send(frame: bytes) -> asyncio.Future[SendStatus]:
        if not drop(frame):
            return handed_down(frame)
        dropped.append(frame)  # lost on the way: the sender sees it go out
        lost: asyncio.Future[SendStatus] = asyncio.get_running_loop().create_future()
        lost.set_result(SendStatus.SUCCESS)
        return lost

    vc.send = send  # type: ignore[method-assign]
    return dropped


def inject(end: LinkEnd, frames: list[bytes]) -> None:
    """Frames put on the wire by ``end``'s miniport, bypassing its PPP link."""
    assert end.vc is not None
    for frame in frames:
        Vc.send(end.vc, frame)  # the class's send: past any filter_outgoing on this VC


def ip_frames(payload: bytes) -> list[bytes]:
    packet = ipv4_packet(CLIENT_IP, HUB_IP, payload)
    return [IP.to_bytes(2, "big") + packet, bytes((IP,)) + packet]  # full and PFC forms


def test_network_packets_before_authentication_and_ncp_are_dropped_and_counted() -> None:
    """Expected: IPv4 frames (both protocol-field forms) and IPCP packets injected by
    the peer before the hub's LCP opened, and while it waits for the peer's CHAP
    Response, never reach the hub's upper edge: each is dropped and counted by the
    session; the hub itself refuses to send IP then, and nothing but LCP and CHAP
    leaves it.  Once CHAP succeeds and IPCP opens, the same injection is delivered
    (so the drops were the phase rule, not a broken injection)."""

    async def run() -> None:
        async with VirtualCable(115200) as cable:
            hub = await open_pvc_end(cable.a_path, hub_config())
            hub.tap()
            await asyncio.sleep(0.02)
            client = await open_pvc_end(cable.b_path, client_config())
            inject(client, ip_frames(b"before LCP"))
            held = filter_outgoing(client, lambda frame: protocol_of(frame) == CHAP)
            session = hub.link.session
            assert session is not None
            await until(
                lambda: session.phase is Phase.AUTHENTICATE and bool(held),
                "the hub waiting for a CHAP Response",
            )
            early = ip_frames(b"during authentication")
            inject(
                client,
                [
                    *early,
                    IPCP.to_bytes(2, "big") + b"\x01\x07\x00\x0a\x03\x06" + bytes((10, 7, 0, 2)),
                ],
            )
            await asyncio.sleep(0.2)
            assert not hub.link.send_packet(ipv4_packet(HUB_IP, CLIENT_IP, b"too early"))
            stats = session.stats
            assert stats.dropped_lcp_not_open >= 2
            assert stats.dropped_before_network >= 3 and stats.datagrams_dropped >= 2
            assert hub.link.counters.sent_before_network_up == 1
            assert hub.edge.received.empty() and hub.link.counters.delivered == 0
            assert session.phase is Phase.AUTHENTICATE
            # Let the Response through: the peer authenticates, IPCP opens.
            assert client.vc is not None
            del client.vc.send
            await asyncio.gather(network_up(hub), network_up(client))
            inject(client, ip_frames(b"after IPCP"))
            for _ in range(2):
                packet = await asyncio.wait_for(hub.edge.received.get(), 5)
                assert packet.endswith(b"after IPCP")
            sent = {protocol_of(frame) for outbound, frame in hub.frames if outbound}
            assert IP not in sent, "the hub put an IP frame on the wire"
            print(
                f"\nhub dropped {stats.dropped_lcp_not_open} frames before LCP opened,"
                f" {stats.dropped_before_network} during authentication"
                f" ({stats.datagrams_dropped} of them IP), delivered none of them"
            )
            await close_end(client)
            await close_end(hub)

    asyncio.run(run())


def chap_responses(end: LinkEnd) -> list[bytes]:
    return [
        frame
        for outbound, frame in end.frames
        if outbound and protocol_of(frame) == CHAP and frame[2] == 2
    ]


def chap_challenges(end: LinkEnd) -> list[bytes]:
    """The Value fields of the CHAP Challenges ``end`` sent."""
    return [
        frame[7 : 7 + frame[6]]
        for outbound, frame in end.frames
        if outbound and protocol_of(frame) == CHAP and frame[2] == 1
    ]


def test_challenges_are_fresh_and_a_replayed_response_fails() -> None:
    """Expected: over 20 calls the hub's CHAP challenges are 16..24 random octets,
    never repeated; then a peer that replays a Response recorded from an earlier
    call (its identifier set to the new challenge's, as a replay must) is refused:
    the hub's link ends with exit code 11 (peer failed to authenticate) and never
    reaches the network phase."""

    async def run() -> None:
        async with VirtualCable(115200) as cable:
            challenges: list[bytes] = []
            recorded = b""
            for _ in range(20):
                hub = await open_pvc_end(cable.a_path, hub_config())
                client = await open_pvc_end(cable.b_path, client_config())
                hub.tap()
                client.tap()
                await asyncio.gather(network_up(hub), network_up(client))
                challenges += chap_challenges(hub)
                recorded = chap_responses(client)[-1]
                await close_end(client)
                await close_end(hub)
            assert len(challenges) >= 20 and len(set(challenges)) == len(challenges)
            assert all(16 <= len(value) <= 24 for value in challenges)
            # The replay: a peer without the secret sends the recorded Response.
            hub = await open_pvc_end(cable.a_path, hub_config())
            hub.tap()
            thief = await open_pvc_end(cable.b_path, client_config(password="not the secret"))
            replayed = filter_outgoing(thief, lambda frame: protocol_of(frame) == CHAP)
            session = hub.link.session
            assert session is not None
            await until(lambda: bool(replayed), "the thief's own CHAP Response")
            identifier = replayed[0][3]
            inject(thief, [recorded[:3] + bytes((identifier,)) + recorded[4:]])
            await asyncio.wait_for(hub.link.terminated.wait(), 10)
            assert hub.link.exit_code is ExitCode.PEER_AUTH_FAILED
            assert hub.link.state.local == "" and hub.edge.events.empty()
            assert chap_challenges(hub)[-1] not in challenges
            await close_end(thief)
            await close_end(hub)

    asyncio.run(run())


def test_pap_is_refused_when_chap_is_required_and_a_nak_cannot_downgrade_it() -> None:
    """Expected: a peer that refuses CHAP (it would do PAP) Naks the hub's CHAP
    request with PAP; the hub, which requires CHAP, does not take PAP, and a PAP
    Authenticate-Request with the right password injected anyway is ignored.  The
    hub ends the link with exit code 11 and never delivers or opens anything."""

    async def run() -> None:
        async with VirtualCable(115200) as cable:
            hub = await open_pvc_end(cable.a_path, hub_config())
            hub.tap()
            client = await open_pvc_end(cable.b_path, client_config(refuse_chap=True))
            client.tap()
            secret = SECRETS[("client", "hub")].encode()
            user = b"client"
            body = bytes((len(user),)) + user + bytes((len(secret),)) + secret
            auth_request = PAP.to_bytes(2, "big") + bytes((1, 1, 0, 4 + len(body))) + body
            session = hub.link.session
            assert session is not None
            inject(client, [auth_request])  # during LCP negotiation
            await until(lambda: session.phase is not Phase.ESTABLISH, "LCP to open", 10)
            inject(client, [auth_request])  # and once LCP is open
            await asyncio.wait_for(hub.link.terminated.wait(), 10)
            assert hub.link.exit_code is ExitCode.PEER_AUTH_FAILED
            naks = [
                frame
                for outbound, frame in client.frames
                if outbound and protocol_of(frame) == 0xC021 and frame[2] == 3
            ]
            assert naks, "the peer never Nak'd CHAP"
            assert not any(
                protocol_of(frame) == PAP for outbound, frame in hub.frames if outbound
            ), "the hub answered PAP"
            assert hub.edge.events.empty() and hub.link.counters.delivered == 0
            await close_end(client)
            await close_end(hub)

    asyncio.run(run())


def long_name_secrets(client: str, server: str) -> str | None:
    return "long-name secret" if (len(client), len(server)) == (255, 255) else None


def test_255_octet_chap_names_authenticate_both_ways() -> None:
    """Expected: a hub named with 255 octets challenges a peer whose user name is 255
    octets (the longest a PPP name field carries); both authenticate, IPCP opens."""

    async def run() -> None:
        hub_name, user = "h" * 255, "c" * 255
        async with VirtualCable(115200) as cable:
            hub = await open_pvc_end(
                cable.a_path, hub_config(name=hub_name), secrets=long_name_secrets
            )
            client = await open_pvc_end(
                cable.b_path,
                client_config(user=user, remote_name=hub_name, password="long-name secret"),
            )
            await asyncio.gather(network_up(hub), network_up(client))
            await close_end(client)
            await close_end(hub)

    asyncio.run(run())


# -- hostile frames on an established link: each must be counted or ignored, harmlessly --

LCP = 0xC021
ECHO_REQUEST, ECHO_REPLY = 9, 10


def on_the_wire(content: bytes) -> bytes:
    """``content`` (address/control onward) with its FCS, escaped and flagged, as any
    sender puts it on the line -- whatever it claims to be."""
    body = content + fcs16_bytes(content)
    return b"\x7e" + make_escaper(escape_set(0xFFFFFFFF))(body) + b"\x7e"


def lcp(code: int, ident: int, data: bytes, length: int | None = None) -> bytes:
    size = 4 + len(data) if length is None else length
    return LCP.to_bytes(2, "big") + bytes((code, ident)) + size.to_bytes(2, "big") + data


def sent_by(end: LinkEnd, protocol: int, code: int, ident: int) -> int:
    """How many packets ``end`` sent with this protocol, code and identifier."""
    return sum(
        1
        for outbound, frame in end.frames
        if outbound and protocol_of(frame) == protocol and frame[2:4] == bytes((code, ident))
    )


async def established() -> tuple[VirtualCable, LinkEnd, LinkEnd]:
    cable = VirtualCable(115200)
    cable.start()
    hub = await open_pvc_end(cable.a_path, hub_config())
    client = await open_pvc_end(cable.b_path, client_config())
    await asyncio.gather(network_up(hub), network_up(client))
    hub.tap()
    return cable, hub, client


async def still_carries_data(hub: LinkEnd, client: LinkEnd) -> None:
    packet = ipv4_packet(CLIENT_IP, HUB_IP, b"still here")
    assert client.link.send_packet(packet)
    assert await asyncio.wait_for(hub.edge.received.get(), 5) == packet
    assert hub.link.session is not None and hub.link.session.phase is Phase.NETWORK


async def finish(cable: VirtualCable, *ends: LinkEnd) -> None:
    for end in ends:
        await close_end(end)
    cable.stop()


def test_zero_length_frames_and_packets_are_counted_and_change_nothing() -> None:
    """Expected: empty frames between flags are skipped; a frame holding only address,
    control and FCS is a runt, counted as an alignment error of the VC; a frame of
    one octet and an LCP frame with no packet are malformed for the session (counted,
    or ignored by LCP); the link stays up and carries data."""

    async def run() -> None:
        cable, hub, client = await established()
        assert hub.vc is not None and hub.link.session is not None
        stats, session = hub.vc.stats, hub.link.session.stats
        runts, malformed = stats.alignment_errors, session.malformed_frames
        client.transport.write(b"\x7e\x7e\x7e" + on_the_wire(b"\xff\x03"))
        client.transport.write(on_the_wire(b"\xff\x03\x02") + on_the_wire(b"\xff\x03\xc0\x21"))
        await until(lambda: stats.alignment_errors == runts + 1, "the runt counted", 5)
        await until(lambda: session.malformed_frames == malformed + 1, "the 1-octet frame", 5)
        await still_carries_data(hub, client)
        await finish(cable, client, hub)

    asyncio.run(run())


def test_lying_length_fields_are_dropped_and_honest_ones_answered() -> None:
    """Expected: an LCP Echo-Request whose length field claims more than the frame
    holds, or less than a header, gets no reply; the same request with an honest
    length is answered (and octets beyond an honest length are padding, ignored)."""

    async def run() -> None:
        cable, hub, client = await established()
        assert client.link.session is not None
        magic = (client.link.session.link.local_magic if client.link.session.link else 0).to_bytes(
            4, "big"
        )
        inject(
            client,
            [
                lcp(ECHO_REQUEST, 0x51, magic, length=1000),
                lcp(ECHO_REQUEST, 0x52, magic, length=2),
                lcp(ECHO_REQUEST, 0x53, magic) + b"padding",
            ],
        )
        await until(lambda: sent_by(hub, LCP, ECHO_REPLY, 0x53) == 1, "the honest echo", 5)
        assert sent_by(hub, LCP, ECHO_REPLY, 0x51) == sent_by(hub, LCP, ECHO_REPLY, 0x52) == 0
        await still_carries_data(hub, client)
        await finish(cable, client, hub)

    asyncio.run(run())


def test_oversize_frames_are_counted_as_overruns_and_dropped() -> None:
    """Expected: frames longer than the largest the hub accepts (an MRU of 1500 plus
    header and FCS) -- 5000 octets, and 12 kB without a closing flag, four times what
    the framer may hold -- are dropped, each counted once as a buffer overrun, and
    the framer's buffer stays bounded."""

    async def run() -> None:
        cable, hub, client = await established()
        assert hub.vc is not None
        stats = hub.vc.stats
        overruns = stats.buffer_overrun_errors
        big = b"\xff\x03\x00\x21" + ipv4_packet(CLIENT_IP, HUB_IP, bytes(5000))
        client.transport.write(on_the_wire(big))
        await until(lambda: stats.buffer_overrun_errors == overruns + 1, "the 5000", 5)
        endless = bytes(range(1, 126)) * 100  # no flag, no escape: one unfinished frame
        client.transport.write(endless + b"\x7e")
        await until(lambda: stats.buffer_overrun_errors == overruns + 2, "the endless one", 10)
        assert hub.adapter.framer.buffered == 0  # type: ignore[attr-defined]
        assert hub.edge.received.empty()
        await still_carries_data(hub, client)
        await finish(cable, client, hub)

    asyncio.run(run())


def test_configure_request_with_hundreds_of_options_gets_one_bounded_reject() -> None:
    """Expected: an IPCP Configure-Request holding 300 unknown options restarts IPCP
    (as any new request in Opened does): the hub answers with one Configure-Reject
    no larger than the peer's MRU, IPCP comes up again, data crosses."""

    async def run() -> None:
        cable, hub, client = await established()
        flood = b"".join(bytes((200 + i % 50, 2)) for i in range(300))
        inject(
            client,
            [
                IPCP.to_bytes(2, "big")
                + bytes((1, 0x77))
                + (4 + len(flood)).to_bytes(2, "big")
                + flood
            ],
        )
        await until(lambda: sent_by(hub, IPCP, 4, 0x77) == 1, "the Configure-Reject", 5)
        reject = next(
            frame
            for outbound, frame in hub.frames
            if outbound and protocol_of(frame) == IPCP and frame[2:4] == b"\x04\x77"
        )
        assert len(reject) <= 2 + 1500
        await asyncio.gather(network_up(hub, 10), network_up(client, 10))
        await still_carries_data(hub, client)
        await finish(cable, client, hub)

    asyncio.run(run())
