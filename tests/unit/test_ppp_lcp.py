"""LCP options: how we judge the peer's and how ours converge (RFC 1661 section 6)."""

from __future__ import annotations

import random

from ndiswan.ppp.config import AuthProtocol
from ndiswan.ppp.constants import Code
from ndiswan.ppp.lcp import LOOPBACK_REASON, LcpOptions, LcpPolicy
from ndiswan.ppp.packet import Option, encode_options, parse_options

MRU, ACCM, AUTH, MAGIC, PFC, ACFC = 1, 2, 3, 5, 7, 8
PAP_OPT = Option(AUTH, b"\xc0\x23")
CHAP_OPT = Option(AUTH, b"\xc2\x23\x05")
MSCHAP_V1_OPT = Option(AUTH, b"\xc2\x23\x80")
MSCHAP_V2_OPT = Option(AUTH, b"\xc2\x23\x81")
EAP_OPT = Option(AUTH, b"\xc2\x27")


def lcp(**policy: object) -> LcpOptions:
    handler = LcpOptions(LcpPolicy(**policy), random.Random(7).randbytes)  # type: ignore[arg-type]
    handler.reset()
    return handler


def judge(
    handler: LcpOptions, *options: Option, reject_if_disagree: bool = False
) -> tuple[Code, list[Option]]:
    reply = handler.judge_request(encode_options(options), reject_if_disagree)
    parsed, tail = parse_options(reply.data)
    assert tail == b""
    return reply.code, parsed


def test_default_request_is_pppds() -> None:
    handler = lcp()
    kinds = [o.type for o in handler.build_request()]
    assert kinds == [ACCM, MAGIC, PFC, ACFC]
    assert handler.build_request()[0] == Option(ACCM, bytes(4))


def test_mru_below_128_is_nakd_up_to_128() -> None:
    assert judge(lcp(), Option(MRU, (64).to_bytes(2, "big"))) == (
        Code.CONFIGURE_NAK,
        [Option(MRU, (128).to_bytes(2, "big"))],
    )


def test_small_and_large_mru_are_accepted() -> None:
    handler = lcp()
    assert judge(handler, Option(MRU, (296).to_bytes(2, "big")))[0] is Code.CONFIGURE_ACK
    assert handler.peer.mru == 296
    assert judge(handler, Option(MRU, (9000).to_bytes(2, "big")))[0] is Code.CONFIGURE_ACK


def test_peer_accm_is_remembered_for_sending() -> None:
    handler = lcp()
    judge(handler, Option(ACCM, bytes.fromhex("000a0000")))
    assert handler.peer.effective_accm == 0x000A0000


def test_auth_we_refuse_is_nakd_with_one_we_accept_in_pppds_order() -> None:
    # pppd: EAP, else CHAP (CHAP_DIGEST: MD5, MS-CHAPv2, MS-CHAP), else PAP.
    assert judge(lcp(allow_pap=False), PAP_OPT) == (Code.CONFIGURE_NAK, [EAP_OPT])
    assert judge(lcp(allow_pap=False, allow_eap=False), PAP_OPT) == (
        Code.CONFIGURE_NAK, [CHAP_OPT],
    )  # fmt: skip
    assert judge(lcp(allow_pap=False, allow_chap=False, allow_eap=False), PAP_OPT) == (
        Code.CONFIGURE_NAK, [MSCHAP_V2_OPT],
    )  # fmt: skip
    only_pap = {"allow_chap": False, "allow_mschap": False, "allow_mschap_v2": False,
                "allow_eap": False}  # fmt: skip
    assert judge(lcp(**only_pap), CHAP_OPT) == (Code.CONFIGURE_NAK, [PAP_OPT])
    no_chap = {"allow_chap": False, "allow_mschap": False, "allow_mschap_v2": False}
    assert judge(lcp(**no_chap), CHAP_OPT) == (Code.CONFIGURE_NAK, [EAP_OPT])
    # A CHAP algorithm we refuse: the CHAP we prefer, even when EAP is allowed.
    no_md5_no_v2 = lcp(allow_chap=False, allow_mschap_v2=False)
    assert judge(no_md5_no_v2, MSCHAP_V2_OPT) == (Code.CONFIGURE_NAK, [MSCHAP_V1_OPT])


def test_eap_is_acked_when_allowed_and_nakd_to_chap_when_refused() -> None:
    handler = lcp()
    assert judge(handler, EAP_OPT) == (Code.CONFIGURE_ACK, [EAP_OPT])
    assert handler.peer.auth is AuthProtocol.EAP
    assert judge(lcp(allow_eap=False), EAP_OPT) == (Code.CONFIGURE_NAK, [CHAP_OPT])
    assert judge(lcp(), Option(AUTH, b"\xc2\x27\x00"))[0] == Code.CONFIGURE_REJECT


def test_each_chap_algorithm_we_allow_is_acked() -> None:
    for option, kind in ((CHAP_OPT, AuthProtocol.CHAP), (MSCHAP_V1_OPT, AuthProtocol.MSCHAP),
                         (MSCHAP_V2_OPT, AuthProtocol.MSCHAP_V2)):  # fmt: skip
        handler = lcp()
        assert judge(handler, option) == (Code.CONFIGURE_ACK, [option])
        assert handler.peer.auth is kind


def test_chap_with_an_algorithm_we_do_not_know_or_refuse_is_nakd_to_md5() -> None:
    assert judge(lcp(), Option(AUTH, b"\xc2\x23\x06")) == (Code.CONFIGURE_NAK, [CHAP_OPT])
    assert judge(lcp(allow_mschap_v2=False), MSCHAP_V2_OPT) == (Code.CONFIGURE_NAK, [CHAP_OPT])


def test_unknown_auth_protocol_is_nakd_with_eap_then_chap() -> None:
    unknown = Option(AUTH, b"\xc2\x81")
    assert judge(lcp(), unknown) == (Code.CONFIGURE_NAK, [EAP_OPT])
    assert judge(lcp(allow_eap=False), unknown) == (Code.CONFIGURE_NAK, [CHAP_OPT])


def test_auth_is_rejected_when_we_can_do_none() -> None:
    none = {"allow_pap": False, "allow_chap": False, "allow_mschap": False,
            "allow_mschap_v2": False, "allow_eap": False}  # fmt: skip
    assert judge(lcp(**none), CHAP_OPT) == (Code.CONFIGURE_REJECT, [CHAP_OPT])


def test_auth_with_bad_length_is_rejected() -> None:
    bad = Option(AUTH, b"\xc0\x23\x00")
    assert judge(lcp(), bad) == (Code.CONFIGURE_REJECT, [bad])


def test_magic_equal_to_ours_is_nakd_with_a_fresh_one() -> None:
    handler = lcp()
    ours = handler.our_magic
    code, (suggestion,) = judge(handler, Option(MAGIC, ours.to_bytes(4, "big")))
    assert code is Code.CONFIGURE_NAK and suggestion.type == MAGIC
    assert suggestion.uint not in (0, ours)


def test_magic_nak_survives_max_failure() -> None:
    handler = lcp()
    ours = Option(MAGIC, handler.our_magic.to_bytes(4, "big"))
    assert judge(handler, ours, reject_if_disagree=True)[0] is Code.CONFIGURE_NAK


def test_zero_magic_is_nakd() -> None:
    assert judge(lcp(), Option(MAGIC, bytes(4)))[0] is Code.CONFIGURE_NAK


def test_disagreement_becomes_reject_after_max_failure() -> None:
    small = Option(MRU, (64).to_bytes(2, "big"))
    assert judge(lcp(), small, reject_if_disagree=True) == (Code.CONFIGURE_REJECT, [small])


def test_unsupported_options_are_rejected_unchanged() -> None:
    quality, callback, mrru = (
        Option(4, b"\xc0\x25\0\0\0\x64"),
        Option(13, b"\x06"),
        Option(17, b"\x05\xdc"),
    )
    pfc_with_data = Option(PFC, b"\x01")
    code, rejected = judge(lcp(), Option(ACCM, bytes(4)), quality, callback, mrru, pfc_with_data)
    assert (code, rejected) == (Code.CONFIGURE_REJECT, [quality, callback, mrru, pfc_with_data])


def test_repeated_option_is_rejected() -> None:
    first, again = Option(MRU, b"\x05\xdc"), Option(MRU, b"\x01\x28")
    assert judge(lcp(), first, again) == (Code.CONFIGURE_REJECT, [again])


def test_hundreds_of_options_get_one_bounded_reject() -> None:
    options = [Option(200 + (i % 50), bytes(i % 5)) for i in range(400)]
    code, rejected = judge(lcp(), *options)
    assert code is Code.CONFIGURE_REJECT
    assert len(encode_options(rejected)) <= len(encode_options(options))


def test_malformed_option_tail_is_rejected_as_received() -> None:
    reply = lcp().judge_request(bytes.fromhex("0702 01ff"), False)
    assert reply.code is Code.CONFIGURE_REJECT and reply.data == bytes.fromhex("01ff")


def test_nak_of_required_chap_suggesting_pap_drops_auth_request() -> None:
    handler = lcp(require=(AuthProtocol.CHAP,))
    assert CHAP_OPT in handler.build_request()
    assert handler.apply_nak([PAP_OPT], treat_as_reject=False)
    assert handler.requested_auth is None
    assert PAP_OPT not in handler.build_request()


def test_nak_moves_to_the_next_required_protocol() -> None:
    handler = lcp(require=(AuthProtocol.CHAP, AuthProtocol.PAP))
    assert handler.apply_nak([PAP_OPT], treat_as_reject=False)
    assert handler.requested_auth is AuthProtocol.PAP


def test_nak_suggesting_our_own_protocol_is_bad() -> None:
    handler = lcp(require=(AuthProtocol.CHAP,))
    assert not handler.apply_nak([CHAP_OPT], treat_as_reject=False)


def test_reject_of_auth_stops_asking() -> None:
    handler = lcp(require=(AuthProtocol.PAP,))
    assert handler.apply_reject([PAP_OPT])
    assert handler.requested_auth is None


def test_accm_nak_adds_characters() -> None:
    handler = lcp(asyncmap=0x000A0000)
    handler.apply_nak([Option(ACCM, bytes.fromhex("00000001"))], treat_as_reject=False)
    assert handler.build_request()[0] == Option(ACCM, bytes.fromhex("000a0001"))


def test_mru_nak_above_both_limits_is_ignored() -> None:
    handler = lcp(mru=296)
    handler.apply_nak([Option(MRU, (4000).to_bytes(2, "big"))], treat_as_reject=False)
    assert handler.build_request()[0] == Option(MRU, (296).to_bytes(2, "big"))
    handler.apply_nak([Option(MRU, (256).to_bytes(2, "big"))], treat_as_reject=False)
    assert handler.build_request()[0] == Option(MRU, (256).to_bytes(2, "big"))


def test_nak_with_wrong_lengths_is_bad() -> None:
    assert not lcp().apply_nak([Option(MRU, b"\x05")], treat_as_reject=False)
    assert not lcp().apply_nak([Option(MAGIC, b"\0\0\0")], treat_as_reject=False)


def test_repeated_magic_naks_mean_a_looped_line() -> None:
    handler = lcp(loopback_fail=3)
    for _ in range(2):
        handler.apply_nak([Option(MAGIC, b"\x01\x02\x03\x04")], treat_as_reject=False)
        assert handler.abort_reason is None
    handler.apply_nak([Option(MAGIC, b"\x01\x02\x03\x04")], treat_as_reject=False)
    assert handler.abort_reason == LOOPBACK_REASON


def test_one_magic_collision_is_not_a_loop() -> None:
    handler = lcp(loopback_fail=2)
    before = handler.our_magic
    handler.apply_nak([Option(MAGIC, before.to_bytes(4, "big"))], treat_as_reject=False)
    handler.apply_nak([Option(MRU, b"\x05\xdc")], treat_as_reject=False)
    handler.apply_nak([Option(MAGIC, b"\0\0\0\1")], treat_as_reject=False)
    assert handler.abort_reason is None and handler.our_magic != before


def test_ack_records_what_the_peer_agreed() -> None:
    handler = lcp(mru=296, require=(AuthProtocol.CHAP,))
    handler.apply_ack(handler.build_request())
    assert handler.local.mru == 296 and handler.local.auth is AuthProtocol.CHAP
    assert handler.local.pfc and handler.local.effective_accm == 0
