"""IPCP (RFC 1332, RFC 1877) and IPV6CP (RFC 5072) option handlers."""

from __future__ import annotations

import random
from ipaddress import IPv4Address

from ndiswan.ppp.constants import Code
from ndiswan.ppp.events import Ipv6Up, NetworkUp
from ndiswan.ppp.ipcp import IpcpOptions, IpcpPolicy
from ndiswan.ppp.ipv6cp import Ipv6cpOptions, Ipv6cpPolicy, random_interface_id
from ndiswan.ppp.packet import Option, encode_options, parse_options

ADDR, ADDRS, COMPRESS, DNS1, DNS2, NBNS1 = 3, 1, 2, 129, 131, 130
HUB, BOB = IPv4Address("10.7.0.1"), IPv4Address("10.7.0.2")
DNS_A, DNS_B = IPv4Address("192.0.2.53"), IPv4Address("192.0.2.54")


def addr(kind: int, address: IPv4Address | str) -> Option:
    return Option(kind, IPv4Address(address).packed)


def ipcp(**policy: object) -> IpcpOptions:
    handler = IpcpOptions(IpcpPolicy(**policy))  # type: ignore[arg-type]
    handler.reset()
    return handler


def judge(
    handler: object, *options: Option, reject_if_disagree: bool = False
) -> tuple[Code, list[Option]]:
    reply = handler.judge_request(encode_options(options), reject_if_disagree)  # type: ignore[attr-defined]
    return reply.code, parse_options(reply.data)[0]


def server() -> IpcpOptions:
    return ipcp(
        local=HUB, remote=BOB, accept_local=False, accept_remote=False, give_dns=(DNS_A, DNS_B)
    )


def test_peer_asking_for_0_0_0_0_is_assigned_its_address() -> None:
    assert judge(server(), addr(ADDR, "0.0.0.0")) == (Code.CONFIGURE_NAK, [addr(ADDR, BOB)])


def test_peer_naming_another_address_is_corrected_when_we_insist() -> None:
    assert judge(server(), addr(ADDR, "10.9.9.9")) == (Code.CONFIGURE_NAK, [addr(ADDR, BOB)])


def test_peer_address_accepted_when_we_have_no_opinion() -> None:
    handler = ipcp()
    assert judge(handler, addr(ADDR, "10.9.9.9"))[0] is Code.CONFIGURE_ACK


def test_0_0_0_0_is_rejected_when_nobody_knows_the_address() -> None:
    assert judge(ipcp(), addr(ADDR, "0.0.0.0")) == (Code.CONFIGURE_REJECT, [addr(ADDR, "0.0.0.0")])


def test_vj_compression_and_old_addresses_option_are_rejected() -> None:
    vj = Option(COMPRESS, bytes.fromhex("002d0f01"))
    old = Option(ADDRS, HUB.packed + BOB.packed)
    code, rejected = judge(server(), vj, old, addr(ADDR, BOB))
    assert (code, rejected) == (Code.CONFIGURE_REJECT, [vj, old])


def test_dns_given_to_a_peer_that_asks() -> None:
    code, naks = judge(server(), addr(ADDR, BOB), addr(DNS1, "0.0.0.0"), addr(DNS2, "0.0.0.0"))
    assert (code, naks) == (Code.CONFIGURE_NAK, [addr(DNS1, DNS_A), addr(DNS2, DNS_B)])
    assert (
        judge(server(), addr(ADDR, BOB), addr(DNS1, DNS_A), addr(DNS2, DNS_B))[0]
        is Code.CONFIGURE_ACK
    )


def test_dns_request_rejected_without_servers_and_nbns_always() -> None:
    code, rejected = judge(ipcp(), addr(DNS1, "0.0.0.0"), addr(NBNS1, "0.0.0.0"))
    assert (code, rejected) == (
        Code.CONFIGURE_REJECT,
        [addr(DNS1, "0.0.0.0"), addr(NBNS1, "0.0.0.0")],
    )


def test_peer_leaving_out_its_address_is_asked_once() -> None:
    handler = server()
    assert judge(handler, addr(DNS1, DNS_A)) == (Code.CONFIGURE_NAK, [addr(ADDR, BOB)])
    assert judge(handler, addr(DNS1, DNS_A))[0] is Code.CONFIGURE_ACK


def test_our_request_asks_for_address_and_dns() -> None:
    assert ipcp(request_dns=True).build_request() == [
        addr(ADDR, "0.0.0.0"),
        addr(DNS1, "0.0.0.0"),
        addr(DNS2, "0.0.0.0"),
    ]


def test_nak_gives_us_address_and_dns() -> None:
    handler = ipcp(request_dns=True)
    assert handler.apply_nak([addr(ADDR, BOB), addr(DNS1, DNS_A)], treat_as_reject=False)
    request = handler.build_request()
    assert request == [addr(ADDR, BOB), addr(DNS1, DNS_A), addr(DNS2, "0.0.0.0")]
    handler.apply_ack(request)
    result = handler.result()
    assert result.up == NetworkUp(BOB, IPv4Address("10.64.64.64"), DNS_A, None)
    assert any("defaulting to 10.64.64.64" in n.text for n in result.notes)


def test_configured_address_is_kept_against_a_nak() -> None:
    handler = ipcp(local=HUB, accept_local=False)
    handler.apply_nak([addr(ADDR, "10.9.9.9")], treat_as_reject=False)
    assert handler.build_request() == [addr(ADDR, HUB)]


def test_unrequested_dns_nak_is_ignored_without_usepeerdns() -> None:
    handler = ipcp()
    handler.apply_nak([addr(DNS1, DNS_A)], treat_as_reject=False)
    assert handler.build_request() == [addr(ADDR, "0.0.0.0")]


def test_nak_with_short_address_is_bad() -> None:
    assert not ipcp().apply_nak([Option(ADDR, b"\x0a\x00")], treat_as_reject=False)


def test_no_local_address_fails_at_up() -> None:
    handler = ipcp()
    handler.apply_ack(handler.build_request())
    assert handler.result().error == "Could not determine local IP address"


def test_rejected_configured_address_fails_at_up() -> None:
    handler = ipcp(local=HUB)
    handler.apply_reject([addr(ADDR, HUB)])
    handler.apply_ack(handler.build_request())
    assert handler.result().error == "Peer refused to agree to our IP address"


def ipv6(seed: int = 1, **policy: object) -> Ipv6cpOptions:
    handler = Ipv6cpOptions(Ipv6cpPolicy(**policy), random.Random(seed).randbytes)  # type: ignore[arg-type]
    handler.reset()
    return handler


def ifid(hex_id: str) -> Option:
    return Option(1, bytes.fromhex(hex_id))


def test_random_interface_ids_are_nonzero_and_locally_administered() -> None:
    rng = random.Random(3).randbytes
    for _ in range(200):
        value = random_interface_id(rng)
        assert value != bytes(8) and not value[0] & 0x02


def test_peer_using_our_id_is_nakd_with_another() -> None:
    handler = ipv6()
    ours = handler.build_request()[0]
    code, (suggestion,) = judge(handler, ours)
    assert code is Code.CONFIGURE_NAK and suggestion.data not in (ours.data, bytes(8))


def test_peer_zero_id_is_nakd_with_a_random_one() -> None:
    code, (suggestion,) = judge(ipv6(), ifid("0000000000000000"))
    assert code is Code.CONFIGURE_NAK and suggestion.data != bytes(8)


def test_configured_remote_id_is_suggested() -> None:
    wanted = bytes.fromhex("0000000000000002")
    assert judge(ipv6(remote_id=wanted), ifid("1111111111111111")) == (
        Code.CONFIGURE_NAK,
        [Option(1, wanted)],
    )


def test_nak_of_our_id_takes_the_suggestion_unless_it_is_the_peers() -> None:
    handler = ipv6()
    judge(handler, ifid("0a0b0c0d0e0f0001"))
    handler.apply_nak([ifid("0200000000000042")], treat_as_reject=False)
    assert handler.build_request() == [ifid("0200000000000042")]
    handler.apply_nak([ifid("0a0b0c0d0e0f0001")], treat_as_reject=False)
    assert handler.build_request()[0].data not in (bytes.fromhex("0a0b0c0d0e0f0001"), bytes(8))


def test_ipv6_compression_is_rejected() -> None:
    comp = Option(2, b"\x00\x4f")
    assert judge(ipv6(), comp, ifid("0a0b0c0d0e0f0001")) == (Code.CONFIGURE_REJECT, [comp])


def test_ipv6_result_carries_both_ids() -> None:
    handler = ipv6(local_id=bytes.fromhex("0000000000000001"))
    judge(handler, ifid("0000000000000002"))
    up = handler.result().up
    assert up == Ipv6Up(bytes.fromhex("0000000000000001"), bytes.fromhex("0000000000000002"))
    assert isinstance(up, Ipv6Up) and str(up.remote_address) == "fe80::2"
