"""LCP's Multilink options (RFC 1990 5.1): MRRU (17), SSNHF (18), Endpoint Discriminator (19).

Judged as pppd 2.4.9 judges them: MRRU and SSNHF only with multilink on, the
peer's Endpoint Discriminator always when it is well formed; a malformed one
of any of the three is Configure-Rejected alone.  Pair tests run two
PppSessions back to back on a fake clock.
"""

from __future__ import annotations

import random

import pytest

from ndiswan.ppp import LinkInfoNegotiated, LogLine, PppConfig, PppSession, Wire
from ndiswan.ppp.constants import Code
from ndiswan.ppp.lcp import LcpOptions, LcpPolicy
from ndiswan.ppp.multilink import EndpointClass, EndpointDiscriminator, parse_endpoint
from ndiswan.ppp.packet import Option, encode_options, parse_options
from ndiswan.ppp.policies import lcp_policy

MRU, MAGIC, MRRU, SSNHF, ED = 1, 5, 17, 18, 19
HUB_ED = parse_endpoint("local:01.02.03")
BOB_ED = parse_endpoint("MAC:02:11:22:33:44:55")


def mrru(value: int) -> Option:
    return Option(MRRU, value.to_bytes(2, "big"))


def lcp(**policy: object) -> LcpOptions:
    handler = LcpOptions(LcpPolicy(**policy), random.Random(7).randbytes)  # type: ignore[arg-type]
    handler.reset()
    return handler


def judge(handler: LcpOptions, *options: Option) -> tuple[Code, list[Option]]:
    reply = handler.judge_request(encode_options(options), False)
    parsed, tail = parse_options(reply.data)
    assert tail == b""
    return reply.code, parsed


MULTILINK = {"multilink": True, "short_seq": True}


# -- our request ---------------------------------------------------------------


def test_multilink_request_adds_mrru_ssnhf_and_endpoint_after_pppds_options() -> None:
    handler = lcp(multilink=True, mrru=1600, short_seq=True, endpoint=HUB_ED)
    kinds = [o.type for o in handler.build_request()]
    assert kinds[-3:] == [MRRU, SSNHF, ED]
    assert handler.build_request()[-3:] == [
        mrru(1600),
        Option(SSNHF),
        Option(ED, bytes((1, 1, 2, 3))),
    ]


def test_no_multilink_options_without_multilink() -> None:
    handler = lcp(multilink=False, short_seq=True, endpoint=HUB_ED)
    assert not {MRRU, SSNHF, ED} & {o.type for o in handler.build_request()}


def test_ssnhf_only_with_mpshortseq() -> None:
    kinds = [o.type for o in lcp(multilink=True).build_request()]
    assert MRRU in kinds and SSNHF not in kinds


def test_reject_of_our_mrru_drops_it_and_leaves_multilink_off() -> None:
    handler = lcp(**MULTILINK, endpoint=HUB_ED)
    assert handler.apply_reject([mrru(1500)])
    assert MRRU not in {o.type for o in handler.build_request()}
    handler.apply_ack(handler.build_request())
    judge(handler, mrru(1500))
    assert handler.local.mrru is None and handler.peer.mrru == 1500
    assert not handler.multilink


def test_multilink_needs_both_mrrus() -> None:
    handler = lcp(multilink=True)
    handler.apply_ack(handler.build_request())
    judge(handler, Option(MRU, (1500).to_bytes(2, "big")))
    assert handler.local.mrru == 1500 and handler.peer.mrru is None
    assert not handler.multilink
    judge(handler, mrru(1500))
    assert handler.multilink


def test_nak_of_our_mrru_takes_a_smaller_value_never_a_larger_one() -> None:
    handler = lcp(multilink=True, mrru=1500)
    assert handler.apply_nak([mrru(1400)], treat_as_reject=False)
    assert mrru(1400) in handler.build_request()
    assert handler.apply_nak([mrru(4000)], treat_as_reject=False)
    assert mrru(1400) in handler.build_request()


def test_nak_of_our_ssnhf_and_endpoint_stops_sending_them() -> None:
    handler = lcp(**MULTILINK, endpoint=HUB_ED)
    assert handler.apply_nak([Option(SSNHF), Option(ED, b"\x01\x09")], treat_as_reject=False)
    kinds = {o.type for o in handler.build_request()}
    assert SSNHF not in kinds and ED not in kinds and MRRU in kinds


def test_nak_of_mrru_with_a_bad_length_is_discarded() -> None:
    assert not lcp(multilink=True).apply_nak([Option(MRRU, b"\x05")], treat_as_reject=False)


# -- the peer's request ---------------------------------------------------------


def test_peer_mrru_and_ssnhf_are_acked_with_multilink() -> None:
    handler = lcp(**MULTILINK)
    assert judge(handler, mrru(1600), Option(SSNHF)) == (
        Code.CONFIGURE_ACK,
        [mrru(1600), Option(SSNHF)],
    )
    assert handler.peer.mrru == 1600 and handler.peer.ssnhf


def test_peer_mrru_and_ssnhf_are_rejected_without_multilink() -> None:
    handler = lcp()
    ed = Option(ED, BOB_ED.option_data())
    assert judge(handler, mrru(1500), Option(SSNHF), ed) == (
        Code.CONFIGURE_REJECT,
        [mrru(1500), Option(SSNHF)],
    )


def test_peer_ssnhf_is_rejected_without_mpshortseq() -> None:
    assert judge(lcp(multilink=True), mrru(1500), Option(SSNHF)) == (
        Code.CONFIGURE_REJECT,
        [Option(SSNHF)],
    )


def test_well_formed_endpoint_is_acked_even_without_multilink() -> None:
    handler = lcp()
    option = Option(ED, BOB_ED.option_data())
    assert judge(handler, option) == (Code.CONFIGURE_ACK, [option])
    assert handler.peer.endpoint == BOB_ED


@pytest.mark.parametrize(
    ("cls", "address"),
    [
        (0, b""),
        (1, b""),
        (1, bytes(range(20))),
        (2, bytes((192, 0, 2, 1))),
        (3, bytes(6)),
        (4, bytes(4)),
        (4, bytes(20)),
        (5, b"5551234"),
    ],
    ids=["null", "local-empty", "local-20", "ip", "mac", "magic-4", "magic-20", "phone"],
)
def test_each_endpoint_class_of_the_right_length_is_acked(cls: int, address: bytes) -> None:
    handler = lcp()
    option = Option(ED, bytes((cls,)) + address)
    assert judge(handler, option) == (Code.CONFIGURE_ACK, [option])
    assert handler.peer.endpoint == EndpointDiscriminator(cls, address)


MALFORMED = [
    pytest.param(Option(MRRU, b"\x05\xdc\x00"), id="mrru-3-octets"),
    pytest.param(Option(MRRU, b"\x05"), id="mrru-1-octet"),
    pytest.param(mrru(127), id="mrru-too-small"),
    pytest.param(Option(SSNHF, b"\x00"), id="ssnhf-with-data"),
    pytest.param(Option(ED, b""), id="endpoint-no-class"),
    pytest.param(Option(ED, b"\x00\x01"), id="endpoint-null-with-address"),
    pytest.param(Option(ED, b"\x01" + bytes(21)), id="endpoint-local-21"),
    pytest.param(Option(ED, b"\x02" + bytes(3)), id="endpoint-ip-3"),
    pytest.param(Option(ED, b"\x02" + bytes(5)), id="endpoint-ip-5"),
    pytest.param(Option(ED, b"\x03" + bytes(5)), id="endpoint-mac-5"),
    pytest.param(Option(ED, b"\x04" + bytes(6)), id="endpoint-magic-6"),
    pytest.param(Option(ED, b"\x04"), id="endpoint-magic-empty"),
    pytest.param(Option(ED, b"\x05" + bytes(16)), id="endpoint-phone-16"),
    pytest.param(Option(ED, b"\x06\x01\x02"), id="endpoint-class-6"),
]


@pytest.mark.parametrize("bad", MALFORMED)
def test_malformed_multilink_option_is_rejected_alone(bad: Option) -> None:
    # Multilink on, so a well-formed MRRU, SSNHF and ED would all be acked.
    handler = lcp(**MULTILINK)
    good = [mrru(1500), Option(SSNHF), Option(ED, HUB_ED.option_data())]
    request = [o for o in good if o.type != bad.type] + [bad]
    assert judge(handler, Option(MRU, (1500).to_bytes(2, "big")), *request) == (
        Code.CONFIGURE_REJECT,
        [bad],
    )


# -- configuration --------------------------------------------------------------


@pytest.mark.parametrize("value", [127, 16385, 0])
def test_mrru_out_of_range_is_refused(value: int) -> None:
    with pytest.raises(ValueError, match="mrru must be between 128 and 16384"):
        PppConfig(multilink=True, mrru=value)


def test_endpoint_must_be_a_discriminator() -> None:
    with pytest.raises(ValueError, match="parse_endpoint"):
        PppConfig(endpoint="local:01")  # type: ignore[arg-type]


def test_mrru_defaults_to_the_mru_as_pppds() -> None:
    assert PppConfig(multilink=True).our_mrru == 1500
    assert PppConfig(multilink=True, mru=1400).our_mrru == 1400
    assert PppConfig(multilink=True, mru=1400, mrru=4000).our_mrru == 4000


def test_default_endpoint_is_local_class_from_our_name() -> None:
    assert PppConfig(name="hub").our_endpoint == EndpointDiscriminator(1, b"hub")
    long_name = PppConfig(name="a-rather-long-host.example.net").our_endpoint
    assert long_name is not None and long_name.cls == EndpointClass.LOCAL
    assert len(long_name.address) == 20
    assert PppConfig().our_endpoint is None
    assert PppConfig(name="hub", endpoint=BOB_ED).our_endpoint == BOB_ED


def test_policy_sends_the_endpoint_only_with_multilink() -> None:
    off = lcp_policy(PppConfig(name="hub", mpshortseq=True), None)
    on = lcp_policy(PppConfig(name="hub", multilink=True, mpshortseq=True, mrru=2000), None)
    assert (off.multilink, on.multilink) == (False, True)
    assert on.mrru == 2000 and on.short_seq and on.endpoint == EndpointDiscriminator(1, b"hub")


# -- two sessions back to back ---------------------------------------------------


def session(seed: int, **config: object) -> PppSession:
    return PppSession(PppConfig(**config), rng=random.Random(seed).randbytes)  # type: ignore[arg-type]


def lcp_up(a: PppSession, b: PppSession) -> tuple[Wire, LinkInfoNegotiated, LinkInfoNegotiated]:
    wire = Wire((a, b))
    wire.start()
    assert wire.run(lambda w: all(end.link is not None for end in w.ends), max_time=60), "\n".join(
        wire.trace
    )
    assert a.link is not None and b.link is not None
    return wire, a.link, b.link


def test_both_multilink_negotiate_mrru_short_sequence_and_endpoints() -> None:
    hub = session(1, name="hub", multilink=True, mrru=1600, mpshortseq=True, endpoint=HUB_ED)
    bob = session(2, name="bob", multilink=True, mpshortseq=True, endpoint=BOB_ED)
    _, hub_link, bob_link = lcp_up(hub, bob)
    assert hub_link.multilink and bob_link.multilink
    assert (hub_link.local_mrru, hub_link.peer_mrru) == (1600, 1500)
    assert (bob_link.local_mrru, bob_link.peer_mrru) == (1500, 1600)
    assert hub_link.send_short_seq and hub_link.recv_short_seq
    assert bob_link.send_short_seq and bob_link.recv_short_seq
    assert hub_link.peer_endpoint == BOB_ED and bob_link.peer_endpoint == HUB_ED


def test_long_sequence_numbers_when_only_one_side_asks_for_short() -> None:
    hub = session(1, name="hub", multilink=True, mpshortseq=True)
    bob = session(2, name="bob", multilink=True)
    wire, hub_link, bob_link = lcp_up(hub, bob)
    assert hub_link.multilink and bob_link.multilink
    assert not (hub_link.recv_short_seq or hub_link.send_short_seq)
    assert not (bob_link.recv_short_seq or bob_link.send_short_seq)
    assert any("sent [LCP ConfRej" in t and "<ssnhf>" in t for t in wire.trace)
    # The default endpoint: class 1 from the name.
    assert bob_link.peer_endpoint == EndpointDiscriminator(1, b"hub")


def test_one_side_without_multilink_rejects_mrru_and_ssnhf_but_acks_endpoint() -> None:
    hub = session(1, name="hub", multilink=True, mpshortseq=True, endpoint=HUB_ED)
    bob = session(2, name="bob")
    wire, hub_link, bob_link = lcp_up(hub, bob)
    rejects = [t for t in wire.trace if "sent [LCP ConfRej" in t]
    assert len(rejects) == 1
    assert "<mrru 1500> <ssnhf>]" in rejects[0] and "endpoint" not in rejects[0]
    assert not hub_link.multilink and not bob_link.multilink
    assert hub_link.local_mrru is None and not hub_link.recv_short_seq
    assert bob_link.peer_endpoint == HUB_ED
    assert hub_link.peer_endpoint is None  # bob without multilink sends none
    assert any("sent [LCP ConfAck" in t and "<endpoint [local:01.02.03]>" in t for t in wire.trace)


def test_confreq_debug_line_shows_multilink_options_as_pppd_prints_them() -> None:
    hub = session(1, name="hub", multilink=True, mpshortseq=True, endpoint=HUB_ED)
    wire, _, _ = lcp_up(hub, session(2, name="bob", multilink=True, mpshortseq=True))
    sent = [
        e.text
        for e in wire.events[0]
        if isinstance(e, LogLine) and e.text.startswith("sent [LCP ConfReq id=0x1 ")
    ]
    assert len(sent) == 1
    assert sent[0].endswith(" <pcomp> <accomp> <mrru 1500> <ssnhf> <endpoint [local:01.02.03]>]"), (
        sent[0]
    )
    assert " <magic 0x" in sent[0]
