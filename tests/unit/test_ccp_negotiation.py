"""CCP's options (Deflate 26/24, BSD-Compress 21) and IPCP's VJ option, judged as pppd does."""

from __future__ import annotations

import pytest

from ndiswan.ppp.automaton import CodeReceived
from ndiswan.ppp.ccp.control import RESET_ACK, RESET_REQUEST, RESET_TIMEOUT, CcpControl
from ndiswan.ppp.ccp.negotiation import (
    BSD_COMPRESS,
    DEFLATE,
    DEFLATE_DRAFT,
    MPPE,
    MPPE_C,
    MPPE_H,
    MPPE_L,
    MPPE_M,
    MPPE_S,
    CcpOptions,
    CcpPolicy,
    Method,
    MppeKeys,
    method_option,
)
from ndiswan.ppp.fsm import Timing
from ndiswan.ppp.ipcp import IpcpOptions, IpcpPolicy
from ndiswan.ppp.options import ACK, REJECT, Verdict, nak
from ndiswan.ppp.packet import Option
from wanminiport.sansio import Transmit

BOTH = CcpPolicy(deflate=(15, 15), bsdcomp=(15, 15))


def judged(policy: CcpPolicy, *options: Option) -> list[object]:
    handler = CcpOptions(policy)
    handler.begin_peer_request()
    return [handler.judge_option(option) for option in options]


def test_our_request_offers_what_we_decompress_in_pppd_order() -> None:
    request = CcpOptions(BOTH).build_request()
    assert request == [
        Option(DEFLATE, bytes((0x78, 0))),
        Option(DEFLATE_DRAFT, bytes((0x78, 0))),
        Option(BSD_COMPRESS, bytes((0x2F,))),
    ]
    assert CcpOptions(CcpPolicy(deflate=(15, 15), deflate_draft=False)).build_request() == [
        Option(DEFLATE, bytes((0x78, 0)))
    ]


def test_the_peer_first_acked_method_is_how_we_compress() -> None:
    handler = CcpOptions(BOTH)
    handler.begin_peer_request()
    for option in (method_option(Method(BSD_COMPRESS, 12)), method_option(Method(DEFLATE, 15))):
        assert handler.judge_option(option) == ACK
    assert handler.transmit == Method(BSD_COMPRESS, 12)


def test_pppds_old_deflate_number_alone_is_accepted() -> None:
    assert judged(BOTH, Option(DEFLATE_DRAFT, bytes((0x58, 0)))) == [ACK]
    no_draft = CcpPolicy(deflate=(15, 15), deflate_draft=False)
    assert judged(no_draft, Option(DEFLATE_DRAFT, bytes((0x58, 0)))) == [REJECT]


@pytest.mark.parametrize(
    ("option", "suggested"),
    [
        (Option(DEFLATE, bytes((0x78, 0))), Option(DEFLATE, bytes((0x48, 0)))),  # 15 > 12
        (Option(DEFLATE, bytes((0x07, 0))), Option(DEFLATE, bytes((0x48, 0)))),  # method 7
        (Option(DEFLATE, bytes((0x08, 0))), Option(DEFLATE, bytes((0x48, 0)))),  # window 8
        (Option(DEFLATE, bytes((0x48, 1))), Option(DEFLATE, bytes((0x48, 0)))),  # check method
        (Option(BSD_COMPRESS, bytes((0x4C,))), Option(BSD_COMPRESS, bytes((0x2C,)))),  # v2
        (Option(BSD_COMPRESS, bytes((0x2F,))), Option(BSD_COMPRESS, bytes((0x2C,)))),  # 15 > 12
    ],
)
def test_sizes_and_bodies_we_cannot_take_are_nakd_with_ours(
    option: Option, suggested: Option
) -> None:
    policy = CcpPolicy(deflate=(15, 12), bsdcomp=(15, 12))
    [verdict] = judged(policy, option)
    assert verdict.verdict is Verdict.NAK and verdict.suggestion == suggested  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "option",
    [
        Option(1, b""),  # Predictor type 1
        Option(17, bytes(4)),  # Stac LZS
        Option(18, bytes(4)),  # MPPE without MS-CHAP
        Option(DEFLATE, b"\x78"),  # cut short
        Option(BSD_COMPRESS, b""),
    ],
)
def test_methods_we_do_not_have_are_rejected(option: Option) -> None:
    assert judged(BOTH, option) == [REJECT]


def test_a_direction_turned_off_rejects_the_peers_offer() -> None:
    receive_only = CcpPolicy(deflate=(15, 0))
    assert judged(receive_only, Option(DEFLATE, bytes((0x78, 0)))) == [REJECT]


def test_a_nak_lowers_our_window_a_reject_drops_the_method() -> None:
    handler = CcpOptions(BOTH)
    assert handler.apply_nak([Option(DEFLATE, bytes((0x28, 0)))], treat_as_reject=False)
    assert handler.wanted[0] == Method(DEFLATE, 10)
    assert handler.apply_nak([Option(DEFLATE, bytes((0x78, 0)))], treat_as_reject=False)
    assert handler.wanted[0] == Method(DEFLATE, 10)  # a larger one is not taken
    assert handler.apply_reject([Option(DEFLATE, bytes((0x28, 0)))])
    assert [m.kind for m in handler.wanted] == [DEFLATE_DRAFT, BSD_COMPRESS]
    handler.apply_ack(handler.build_request())
    assert handler.receive == Method(DEFLATE_DRAFT, 15)


def test_policy_sizes_are_checked() -> None:
    with pytest.raises(ValueError):
        CcpPolicy(deflate=(16, 15))


# -- the reset dialogue -----------------------------------------------------


def opened_control() -> CcpControl:
    control = CcpControl(BOTH, Timing(3.0, 10, 2, 5), 1500)
    control.options.peer_offered = [Method(DEFLATE, 15)]
    control.options.receive = Method(DEFLATE, 15)
    control.up()
    return control


def sent_codes(control: CcpControl) -> list[tuple[int, int]]:
    return [(o.data[0], o.data[1]) for o in control.automaton.drain() if isinstance(o, Transmit)]


def test_a_failure_asks_once_and_repeats_after_the_wait() -> None:
    control = opened_control()
    control.automaton.state = control.automaton.state.OPENED
    control.decompress(b"\x00\x05garbage", now=0.0)
    control.decompress(b"\x00\x06garbage", now=0.1)
    codes = sent_codes(control)
    assert [code for code, _ in codes] == [RESET_REQUEST]
    assert control.get_timer() == pytest.approx(RESET_TIMEOUT)
    control.handle_timer(RESET_TIMEOUT)
    assert [code for code, _ in sent_codes(control)] == [RESET_REQUEST]  # the repeat
    control.code_received(CodeReceived(RESET_ACK, codes[0][1], b""))
    assert control.get_timer() is None and control.stats.resets_acked == 1


def test_a_peers_reset_request_resets_our_compressor_and_is_acked() -> None:
    control = opened_control()
    assert control.compressor is not None
    before = control.compress(0x21, b"hello hello hello hello hello hello")
    control.code_received(CodeReceived(RESET_REQUEST, 9, b""))
    assert sent_codes(control) == [(RESET_ACK, 9)]
    again = control.compress(0x21, b"hello hello hello hello hello hello")
    assert again == before  # sequence 0 and a fresh history


# -- IPCP's VJ option -------------------------------------------------------


def vj_option(proto: int, max_slot: int, cflag: int) -> Option:
    return Option(2, proto.to_bytes(2, "big") + bytes((max_slot, cflag)))


@pytest.mark.parametrize(
    ("option", "verdict", "suggested"),
    [
        (vj_option(0x2D, 15, 1), Verdict.ACK, None),
        (vj_option(0x2D, 3, 0), Verdict.ACK, None),
        (vj_option(0x2D, 40, 1), Verdict.NAK, vj_option(0x2D, 15, 1)),
        (Option(2, bytes((0x00, 0x37))), Verdict.REJECT, None),  # RFC 1172's old VJ
        (vj_option(0x3D, 15, 1), Verdict.REJECT, None),
        (Option(2, bytes((0x00, 0x2D, 0x0F))), Verdict.REJECT, None),
    ],
)
def test_ipcp_judges_vj_as_pppd(option: Option, verdict: Verdict, suggested: Option | None) -> None:
    handler = IpcpOptions(IpcpPolicy(vj=(15, True)))
    handler.begin_peer_request()
    result = handler.judge_option(option)
    assert result.verdict is verdict and result.suggestion == suggested


def test_ipcp_nak_of_our_vj_takes_fewer_slots_and_drops_comp_slot_id() -> None:
    handler = IpcpOptions(IpcpPolicy(vj=(15, True)))
    assert handler.build_request()[0] == vj_option(0x2D, 15, 1)
    handler.apply_nak([vj_option(0x2D, 7, 0)], treat_as_reject=False)
    assert handler.build_request()[0] == vj_option(0x2D, 7, 0)
    handler.apply_nak([vj_option(0x2D, 9, 1)], treat_as_reject=False)  # more: stop asking
    assert all(o.type != 2 for o in handler.build_request())
    handler.reset()
    handler.apply_reject([vj_option(0x2D, 15, 1)])
    assert all(o.type != 2 for o in handler.build_request())


def test_ipcp_without_vj_rejects_it() -> None:
    handler = IpcpOptions(IpcpPolicy())
    handler.begin_peer_request()
    assert handler.judge_option(vj_option(0x2D, 15, 1)) == REJECT


# -- MPPE (option 18) ----------------------------------------------------------------

MPPE_POLICY = CcpPolicy(mppe=(128, 40))
KEYS = MppeKeys(bytes(16), server=True)


def mppe_option(bits: int) -> Option:
    return Option(MPPE, bits.to_bytes(4, "big"))


def mppe_handler(policy: CcpPolicy = MPPE_POLICY, keys: MppeKeys | None = KEYS) -> CcpOptions:
    handler = CcpOptions(policy)
    handler.mppe_keys = keys
    handler.reset()
    handler.begin_peer_request()
    return handler


def test_mppe_is_offered_alone_and_only_with_keys() -> None:
    policy = CcpPolicy(deflate=(15, 15), mppe=(128,))
    assert mppe_handler(policy).build_request() == [mppe_option(MPPE_H | MPPE_S)]
    assert mppe_handler(policy, keys=None).build_request() == []


def test_mppe_requests_are_judged_as_pppd_does() -> None:
    handler = mppe_handler()
    assert handler.judge_option(mppe_option(MPPE_H | MPPE_S)) == ACK
    assert handler.transmit == Method(MPPE, 128)
    # Several strengths: Nak'd with the strongest we allow; MPPC and stateful dropped.
    for asked in (MPPE_H | MPPE_S | MPPE_L, MPPE_H | MPPE_S | MPPE_C, MPPE_S):
        verdict = mppe_handler().judge_option(mppe_option(asked))
        assert verdict == nak(mppe_option(MPPE_H | MPPE_S))
    only_40 = mppe_handler(CcpPolicy(mppe=(40,)))
    assert only_40.judge_option(mppe_option(MPPE_H | MPPE_S)) == nak(mppe_option(MPPE_H | MPPE_L))
    stateful = mppe_handler(CcpPolicy(mppe=(128,), mppe_stateful=True))
    assert stateful.judge_option(mppe_option(MPPE_S)) == ACK
    assert stateful.transmit == Method(MPPE, 128, stateful=True)


def test_mppe_without_keys_or_policy_and_malformed_mppe_are_rejected() -> None:
    assert mppe_handler(keys=None).judge_option(mppe_option(MPPE_H | MPPE_S)) == REJECT
    assert judged(BOTH, mppe_option(MPPE_H | MPPE_S)) == [REJECT]
    assert mppe_handler().judge_option(Option(MPPE, b"\x01\x00\x00")) == REJECT
    # Beside MPPE nothing else is accepted.
    assert mppe_handler().judge_option(method_option(Method(DEFLATE, 15))) == REJECT


def test_a_nak_moves_our_mppe_request_to_a_strength_we_allow() -> None:
    handler = mppe_handler()
    handler.apply_nak([mppe_option(MPPE_H | MPPE_L)], treat_as_reject=False)
    assert handler.build_request() == [mppe_option(MPPE_H | MPPE_L)]
    handler.apply_nak([mppe_option(MPPE_H | MPPE_M)], treat_as_reject=False)  # 56: not ours
    assert handler.build_request() == []
