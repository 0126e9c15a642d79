"""Two PppSessions back to back on a simulated clock reach the Network phase."""

from __future__ import annotations

import random
from ipaddress import IPv4Address

from ndiswan.link import link_info_for
from ndiswan.ppp import (
    AuthRequirement,
    AuthRole,
    AuthSucceeded,
    DatagramReceived,
    Ipv6Up,
    LinkInfoNegotiated,
    LogLine,
    NetworkUp,
    Phase,
    PppConfig,
    PppSession,
    Proto,
    SecretsTable,
    Wire,
)
from wanminiport.exitcodes import ExitCode
from wanminiport.info import FramingBits

SECRETS = SecretsTable.from_text(
    """
# client  server  secret      addresses
bob       hub     "s3cret"    *
hub       bob     hubpass     *
"""
)
HUB_IP, BOB_IP = IPv4Address("10.7.0.1"), IPv4Address("10.7.0.2")

#: Refuse to authenticate with CHAP of any algorithm and with EAP: PAP only.
NO_CHAP = {"refuse_chap": True, "refuse_mschap": True, "refuse_mschap_v2": True, "refuse_eap": True}


def seeded(seed: int):  # type: ignore[no-untyped-def]
    generator = random.Random(seed)
    return generator.randbytes


def hub(**overrides: object) -> PppSession:
    config = PppConfig(name="hub", local_ip=HUB_IP, remote_ip=BOB_IP, **overrides)  # type: ignore[arg-type]
    return PppSession(config, secrets=SECRETS, rng=seeded(1))


def bob(**overrides: object) -> PppSession:
    return PppSession(PppConfig(name="bob", **overrides), secrets=SECRETS, rng=seeded(2))  # type: ignore[arg-type]


def both_networks_up(wire: Wire) -> bool:
    return all(end.network is not None for end in wire.ends)


def connect(a: PppSession, b: PppSession, **wire_args: object) -> Wire:
    wire = Wire((a, b), **wire_args)  # type: ignore[arg-type]
    wire.start()
    assert wire.run(both_networks_up, max_time=120), "\n".join(wire.trace)
    return wire


def of_type(events: list[object], kind: type) -> list[object]:
    return [e for e in events if isinstance(e, kind)]


def test_noauth_pair_reaches_network_with_assigned_address() -> None:
    client, server = bob(), hub()
    connect(client, server)
    assert client.phase is Phase.NETWORK and server.phase is Phase.NETWORK
    assert client.network == NetworkUp(BOB_IP, HUB_IP)
    assert server.network == NetworkUp(HUB_IP, BOB_IP)


def test_clean_line_needs_ten_control_packets_and_no_retransmission() -> None:
    client, server = bob(), hub()
    wire = connect(client, server)
    # LCP: 2 requests + 2 acks; IPCP: 2 requests, 1 nak (address), 1 new request, 2 acks.
    assert sum(wire.sent_counts) == 10
    assert wire.now < 3.0  # the Restart timer never fired
    assert not any("timeout" in line for line in wire.trace)


def test_pap_pair_authenticates_then_opens_ipcp() -> None:
    client, server = bob(), hub(require_auth=AuthRequirement.PAP)
    wire = connect(client, server)
    assert AuthSucceeded("PAP", AuthRole.AUTHENTICATOR, "bob") in wire.events[1]
    assert AuthSucceeded("PAP", AuthRole.PEER, "bob") in wire.events[0]
    assert any('sent [PAP AuthReq id=0x1 user="bob" password=<hidden>]' in t for t in wire.trace)
    assert not any("s3cret" in str(e) for e in wire.events[0] + wire.events[1])


def test_chap_pair_authenticates_then_opens_ipcp() -> None:
    client, server = bob(), hub(require_auth=AuthRequirement.CHAP)
    wire = connect(client, server)
    assert AuthSucceeded("CHAP", AuthRole.AUTHENTICATOR, "bob") in wire.events[1]
    assert AuthSucceeded("CHAP", AuthRole.PEER, "bob") in wire.events[0]
    assert any("<auth chap MD5>" in t for t in wire.trace)
    assert any('name = "hub"]' in t and "CHAP Challenge" in t for t in wire.trace)
    assert any("sent [CHAP Success id=" in t and '"Access granted"]' in t for t in wire.trace)


def test_each_side_may_require_its_own_protocol() -> None:
    client = bob(require_auth=AuthRequirement.PAP)
    server = hub(require_auth=AuthRequirement.CHAP)
    wire = connect(client, server)
    assert AuthSucceeded("CHAP", AuthRole.AUTHENTICATOR, "bob") in wire.events[1]
    assert AuthSucceeded("PAP", AuthRole.AUTHENTICATOR, "hub") in wire.events[0]


def test_pap_or_chap_requirement_prefers_chap() -> None:
    client, server = bob(), hub(require_auth=AuthRequirement.PAP_OR_CHAP)
    wire = connect(client, server)
    assert AuthSucceeded("CHAP", AuthRole.AUTHENTICATOR, "bob") in wire.events[1]


def test_pap_or_chap_falls_back_to_pap_when_peer_naks_chap() -> None:
    client, server = bob(**NO_CHAP), hub(require_auth=AuthRequirement.PAP_OR_CHAP)
    wire = connect(client, server)
    assert any("ConfNak" in t and "<auth pap>" in t for t in wire.trace)
    assert AuthSucceeded("PAP", AuthRole.AUTHENTICATOR, "bob") in wire.events[1]


def test_ipv6cp_pair_agrees_on_distinct_interface_ids() -> None:
    client, server = bob(ipv6=True), hub(ipv6=True)
    wire = connect(client, server)
    wire.run(lambda w: all(of_type(w.events[i], Ipv6Up) for i in (0, 1)), max_time=10)
    (up_a,) = of_type(wire.events[0], Ipv6Up)
    (up_b,) = of_type(wire.events[1], Ipv6Up)
    assert isinstance(up_a, Ipv6Up) and isinstance(up_b, Ipv6Up)
    assert up_a.local_id == up_b.remote_id and up_a.remote_id == up_b.local_id
    assert up_a.local_id != up_a.remote_id
    assert str(up_a.local_address).startswith("fe80::")


def test_ipv6_only_link_comes_up_without_ipcp() -> None:
    client, server = bob(ipv4=False, ipv6=True), hub(ipv4=False, ipv6=True)
    wire = Wire((client, server))
    wire.start()
    assert wire.run(lambda w: all(of_type(w.events[i], Ipv6Up) for i in (0, 1)), max_time=10)
    assert client.network is None and client.phase is Phase.NETWORK


def test_ipv6_colliding_random_ids_are_resolved_by_nak() -> None:
    same = bytes.fromhex("0211223344556677")

    def rng_with_first_id(seed: int):  # type: ignore[no-untyped-def]
        rest = random.Random(seed)
        handed = {"ids": 0}

        def draw(n: int) -> bytes:
            if n == 8 and handed["ids"] == 0:
                handed["ids"] += 1
                return same
            return rest.randbytes(n)

        return draw

    client = PppSession(PppConfig(name="bob", ipv6=True), secrets=SECRETS, rng=rng_with_first_id(3))
    server = PppSession(
        PppConfig(name="hub", ipv6=True, local_ip=HUB_IP, remote_ip=BOB_IP),
        secrets=SECRETS,
        rng=rng_with_first_id(4),
    )
    wire = Wire((client, server))
    wire.start()
    assert wire.run(lambda w: all(of_type(w.events[i], Ipv6Up) for i in (0, 1)), max_time=10)
    assert any("IPV6CP ConfNak" in t for t in wire.trace)
    (up,) = of_type(wire.events[0], Ipv6Up)
    assert isinstance(up, Ipv6Up) and up.local_id != up.remote_id


def test_mru_296_against_1500_sets_each_direction() -> None:
    client, server = bob(mru=296), hub()
    wire = connect(client, server)
    assert any("<mru 296>" in t for t in wire.trace)
    link_a, link_b = client.link, server.link
    assert link_a is not None and link_b is not None
    assert (link_a.recv_mru, link_a.send_mru) == (296, 1500)
    assert (link_b.recv_mru, link_b.send_mru) == (1500, 296)
    assert link_a.mtu == link_b.mtu == 296
    assert server.send_datagram(Proto.IP, bytes(296)) is not None
    assert server.send_datagram(Proto.IP, bytes(297)) is None


def test_accm_is_negotiated_per_direction() -> None:
    client, server = bob(asyncmap=0x000A0000), hub()
    wire = connect(client, server)
    assert any("<asyncmap 0xa0000>" in t for t in wire.trace)
    assert client.link is not None and server.link is not None
    assert client.link.recv_accm == 0x000A0000 and client.link.send_accm == 0
    assert server.link.send_accm == 0x000A0000 and server.link.recv_accm == 0
    info = link_info_for(server.link)
    assert info.send_accm == 0x000A0000
    assert info.send_framing_bits & FramingBits.PPP_COMPRESS_PROTOCOL_FIELD


def test_default_accm_when_peer_does_not_negotiate_it() -> None:
    client, server = bob(asyncmap=0xFFFFFFFF), hub()
    connect(client, server)
    assert server.link is not None and server.link.send_accm == 0xFFFFFFFF


def test_no_compression_when_disabled() -> None:
    client, server = bob(pcomp=False, accomp=False), hub()
    connect(client, server)
    assert server.link is not None and client.link is not None
    assert not server.link.send_pfc and not server.link.send_acfc
    assert not server.link.recv_pfc and not client.link.recv_pfc
    assert server.send_datagram(Proto.IP, b"\x45") == b"\x00\x21\x45"


def test_usepeerdns_receives_ms_dns() -> None:
    dns = (IPv4Address("192.0.2.53"), IPv4Address("192.0.2.54"))
    client, server = bob(usepeerdns=True), hub(ms_dns=dns)
    wire = connect(client, server)
    assert client.network == NetworkUp(BOB_IP, HUB_IP, *dns)
    assert any("<ms-dns1 0.0.0.0> <ms-dns2 0.0.0.0>" in t for t in wire.trace)
    assert any(
        e.text == "primary   DNS address 192.0.2.53" for e in of_type(wire.events[0], LogLine)
    )  # type: ignore[attr-defined]


def test_dns_request_without_servers_is_rejected() -> None:
    client, server = bob(usepeerdns=True), hub()
    wire = connect(client, server)
    assert any("IPCP ConfRej" in t and "<ms-dns1 0.0.0.0>" in t for t in wire.trace)
    assert client.network == NetworkUp(BOB_IP, HUB_IP)


def test_datagrams_cross_with_compressed_protocol_field() -> None:
    client, server = bob(), hub()
    wire = connect(client, server)
    packet = bytes.fromhex("450000140000400040010000") + HUB_IP.packed + BOB_IP.packed
    frame = client.send_datagram(Proto.IP, packet)
    assert frame == b"\x21" + packet
    wire.send(0, frame)
    wire.run(lambda w: bool(of_type(w.events[1], DatagramReceived)), max_time=wire.now + 1)
    assert DatagramReceived(Proto.IP, packet) in wire.events[1]


def test_link_info_event_comes_before_network_up() -> None:
    client, server = bob(), hub()
    wire = connect(client, server)
    kinds = [type(e) for e in wire.events[0] if not isinstance(e, LogLine)]
    assert kinds.index(LinkInfoNegotiated) < kinds.index(NetworkUp)


def test_ccp_is_refused_with_protocol_reject() -> None:
    # The hub runs CCP (as pppd does by default); bob has none and rejects it.
    client, server = bob(), hub(noccp=False)
    wire = connect(client, server)
    assert any("sent [CCP ConfReq id=0x1]" in t for t in wire.trace)
    assert any("sent [LCP ProtRej id=" in t and " 80 fd 01 01 00 04]" in t for t in wire.trace)
    assert client.network is not None and server.network is not None


def test_ccp_negotiates_no_method_when_both_run_it() -> None:
    client, server = bob(noccp=False), hub(noccp=False)
    wire = connect(client, server)
    wire.run_for(1.0)
    assert client.state_of(Proto.CCP) is not None
    assert client.state_of(Proto.CCP).name == "OPENED"  # type: ignore[union-attr]


def test_user_close_terminates_both_ends() -> None:
    client, server = bob(), hub()
    wire = connect(client, server)
    client.close("User request", wire.now)
    wire.run(lambda w: all(e.phase is Phase.DEAD for e in w.ends), max_time=wire.now + 10)
    assert any('sent [LCP TermReq id=0x2 "User request"]' in t for t in wire.trace)
    ends = [
        [e for e in events if e.__class__.__name__ == "LinkTerminated"] for events in wire.events
    ]
    assert ends[0][0].exit_code is ExitCode.USER_REQUEST  # type: ignore[attr-defined]
    assert ends[1][0].exit_code is ExitCode.OK  # type: ignore[attr-defined]
    assert ends[1][0].reason == "LCP terminated by peer (User request)"  # type: ignore[attr-defined]
