"""The RFC 1661 automaton: its table, counters, timer and identifier rules."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ndiswan.ppp.automaton import Automaton, LayerFinished, LayerUp, Signal
from ndiswan.ppp.constants import Code
from ndiswan.ppp.events import LogLine, ProtocolError
from ndiswan.ppp.fsm import TIMER_STATES, TRANSITIONS, Action, Input, State, Timing
from ndiswan.ppp.options import ACK, REJECT, OptionHandler, OptionVerdict, nak
from ndiswan.ppp.packet import ControlPacket, Option, parse_control_packet
from tests.drain import frames, take


class OneOption(OptionHandler):
    """Asks for option 1 = ``want``; accepts the peer's option 1 only if == ``accept``."""

    def __init__(self, want: int = 7, accept: int = 7) -> None:
        self.want = want
        self.accept = accept
        self.resets = 0
        self.acked: list[Option] = []

    def reset(self) -> None:
        self.resets += 1

    def build_request(self) -> list[Option]:
        return [Option(1, bytes((self.want,)))]

    def begin_peer_request(self) -> None:
        pass

    def judge_option(self, option: Option) -> OptionVerdict:
        if option.type != 1 or len(option.data) != 1:
            return REJECT
        return ACK if option.data[0] == self.accept else nak(Option(1, bytes((self.accept,))))

    def apply_ack(self, options: list[Option]) -> None:
        self.acked = options

    def apply_nak(self, options: list[Option], treat_as_reject: bool) -> bool:
        for option in options:
            self.want = option.data[0]
        return True

    def apply_reject(self, options: list[Option]) -> bool:
        return True


def automaton(**timing: float) -> Automaton:
    return Automaton(0x8021, "TEST", OneOption(), Timing(**timing))  # type: ignore[arg-type]


def packets(a: Automaton) -> list[ControlPacket]:
    out = []
    for raw in frames(a):
        parsed = parse_control_packet(raw)
        assert parsed is not None
        out.append(parsed)
    return out


def opened_request(a: Automaton) -> ControlPacket:
    a.up(0.0)
    a.open(0.0)
    (request,) = packets(a)
    return request


def test_table_has_the_rfc_rows_for_every_state() -> None:
    # RFC 1661 4.1: Up and Down are impossible in some states, TO only where
    # the timer runs, receive events only once the lower layer is up.
    expected_missing = {(s, Input.UP) for s in State if s not in (State.INITIAL, State.STARTING)}
    expected_missing |= {(s, Input.DOWN) for s in (State.INITIAL, State.STARTING)}
    expected_missing |= {
        (s, i) for s in State if s not in TIMER_STATES for i in (Input.TO_PLUS, Input.TO_MINUS)
    }
    receive = [Input.RCR_PLUS, Input.RCR_MINUS, Input.RCA, Input.RCN, Input.RTR, Input.RTA]
    receive += [Input.RUC, Input.RXJ_PLUS, Input.RXJ_MINUS, Input.RXR]
    expected_missing |= {(s, i) for s in (State.INITIAL, State.STARTING) for i in receive}
    all_pairs = set(itertools.product(State, Input))
    assert set(TRANSITIONS) == all_pairs - expected_missing
    assert len(TRANSITIONS) == 160 - len(expected_missing)


@pytest.mark.parametrize(
    ("state", "inp", "actions", "next_state"),
    [
        (State.STARTING, Input.UP, (Action.IRC, Action.SCR), State.REQ_SENT),
        (State.ACK_RCVD, Input.RCR_PLUS, (Action.SCA, Action.TLU), State.OPENED),
        (State.ACK_SENT, Input.RCA, (Action.IRC, Action.TLU), State.OPENED),
        (State.OPENED, Input.RTR, (Action.TLD, Action.ZRC, Action.STA), State.STOPPING),
        (State.OPENED, Input.RCR_MINUS, (Action.TLD, Action.SCR, Action.SCN), State.REQ_SENT),
        (State.STOPPED, Input.RCR_PLUS, (Action.IRC, Action.SCR, Action.SCA), State.ACK_SENT),
        (State.OPENED, Input.RXR, (Action.SER,), State.OPENED),
        (State.CLOSING, Input.TO_MINUS, (Action.TLF,), State.CLOSED),
        (State.REQ_SENT, Input.TO_MINUS, (Action.TLF,), State.STOPPED),
        (State.OPENED, Input.RXJ_MINUS, (Action.TLD, Action.IRC, Action.STR), State.STOPPING),
    ],
)
def test_table_rows_match_rfc_1661(
    state: State, inp: Input, actions: tuple[Action, ...], next_state: State
) -> None:
    assert TRANSITIONS[state, inp] == (actions, next_state)


@pytest.mark.parametrize(("state", "inp"), list(itertools.product(State, Input)))
def test_every_state_input_pair_is_handled_without_exception(state: State, inp: Input) -> None:
    a = automaton()
    a.state = state
    a.process_input(inp, 1.0)
    assert isinstance(a.state, State)
    errors = [e for e in take(a, LogLine | ProtocolError) if isinstance(e, ProtocolError)]
    if (state, inp) in TRANSITIONS:
        assert a.state is TRANSITIONS[state, inp][1] and not errors
    else:
        assert a.state is state and errors == [ProtocolError("TEST", state.name, inp.value, True)]


@given(st.data())
def test_timer_runs_exactly_in_the_rfc_timer_states(data: st.DataObject) -> None:
    a = automaton()
    now = 0.0
    for _ in range(40):
        allowed = sorted((i for (s, i) in TRANSITIONS if s is a.state), key=lambda i: i.value)
        a.process_input(data.draw(st.sampled_from(allowed)), now)
        now += data.draw(st.floats(0.0, 4.0))
        a.handle_timer(now)
        assert (a.get_timer() is not None) == (a.state in TIMER_STATES)
        assert not [e for e in take(a, LogLine | ProtocolError) if isinstance(e, ProtocolError)]


def test_driver_misuse_is_reported_as_local_protocol_error() -> None:
    a = automaton()
    a.up(0.0)
    a.up(0.0)
    assert take(a, LogLine | ProtocolError) == [ProtocolError("TEST", "CLOSED", "Up", False)]
    assert a.state is State.CLOSED


def test_max_configure_requests_then_this_layer_finished() -> None:
    a = automaton(max_configure=10)
    first = opened_request(a)
    sent = [first]
    now = 0.0
    while a.get_timer() is not None:
        now = a.get_timer()  # type: ignore[assignment]
        a.handle_timer(now)
        sent += packets(a)
    assert len(sent) == 10
    assert {p.identifier for p in sent} == {first.identifier}  # retransmissions keep the id
    assert a.state is State.STOPPED and LayerFinished() in take(a, Signal)
    assert now == pytest.approx(30.0)


def test_max_terminate_requests_then_closed() -> None:
    a = automaton(max_terminate=2)
    opened_request(a)
    a.close("bye", 0.0)
    sent = packets(a)
    while a.get_timer() is not None:
        a.handle_timer(a.get_timer())  # type: ignore[arg-type]
        sent += packets(a)
    assert [p.code for p in sent] == [Code.TERMINATE_REQUEST] * 2
    assert sent[0].data == b"bye" and sent[0].identifier != sent[1].identifier
    assert a.state is State.CLOSED


def test_configure_ack_must_match_id_and_options() -> None:
    a = automaton()
    request = opened_request(a)
    a.receive(ControlPacket(Code.CONFIGURE_ACK, request.identifier + 1, request.data).encode(), 0.1)
    assert a.state is State.REQ_SENT
    a.receive(ControlPacket(Code.CONFIGURE_ACK, request.identifier, b"\x01\x03\x08").encode(), 0.1)
    assert a.state is State.REQ_SENT
    assert a.stats.stale_replies == 1 and a.stats.bad_replies == 1
    a.receive(ControlPacket(Code.CONFIGURE_ACK, request.identifier, request.data).encode(), 0.1)
    assert a.state is State.ACK_RCVD


def test_second_reply_to_the_same_request_is_ignored() -> None:
    a = automaton()
    request = opened_request(a)
    ack = ControlPacket(Code.CONFIGURE_ACK, request.identifier, request.data).encode()
    a.receive(ack, 0.1)
    a.receive(ack, 0.2)  # e.g. the answer to a retransmission
    assert a.state is State.ACK_RCVD and a.stats.stale_replies == 1


def test_configure_reject_must_not_invent_options() -> None:
    a = automaton()
    request = opened_request(a)
    a.receive(ControlPacket(Code.CONFIGURE_REJECT, request.identifier, b"\x05\x02").encode(), 0.1)
    assert a.stats.bad_replies == 1 and packets(a) == []


def test_nak_changes_the_request_and_its_identifier() -> None:
    a = automaton()
    request = opened_request(a)
    a.receive(ControlPacket(Code.CONFIGURE_NAK, request.identifier, b"\x01\x03\x09").encode(), 0.1)
    (again,) = packets(a)
    assert again.code == Code.CONFIGURE_REQUEST and again.data == b"\x01\x03\x09"
    assert again.identifier == request.identifier + 1


def test_max_failure_turns_naks_into_rejects() -> None:
    a = automaton(max_failure=3)
    opened_request(a)
    replies = []
    for ident in range(5):
        a.receive(ControlPacket(Code.CONFIGURE_REQUEST, ident, b"\x01\x03\x09").encode(), 0.1)
        replies += [p.code for p in packets(a)]
    assert replies == [Code.CONFIGURE_NAK] * 3 + [Code.CONFIGURE_REJECT] * 2


def test_acceptable_request_then_ack_opens() -> None:
    a = automaton()
    request = opened_request(a)
    a.receive(ControlPacket(Code.CONFIGURE_REQUEST, 9, b"\x01\x03\x07").encode(), 0.1)
    assert [p.code for p in packets(a)] == [Code.CONFIGURE_ACK]
    a.receive(ControlPacket(Code.CONFIGURE_ACK, request.identifier, request.data).encode(), 0.2)
    assert a.state is State.OPENED and a.get_timer() is None
    assert LayerUp() in take(a, Signal)


def test_code_reject_of_configure_request_is_catastrophic() -> None:
    a = automaton()
    request = opened_request(a)
    a.receive(ControlPacket(Code.CODE_REJECT, 3, request.encode()).encode(), 0.1)
    assert a.state is State.STOPPED


def test_unknown_code_gets_code_reject_with_the_packet() -> None:
    a = automaton()
    opened_request(a)
    unknown = ControlPacket(42, 5, b"hello").encode()
    a.receive(unknown + b"padding", 0.1)
    (reject,) = packets(a)
    assert reject.code == Code.CODE_REJECT and reject.data == unknown


def test_ncp_treats_echo_request_as_unknown_code() -> None:
    a = automaton()
    opened_request(a)
    a.receive(ControlPacket(Code.ECHO_REQUEST, 1, b"\0\0\0\0").encode(), 0.1)
    assert [p.code for p in packets(a)] == [Code.CODE_REJECT]


def test_packets_before_lower_layer_up_change_nothing() -> None:
    a = automaton()
    a.receive(ControlPacket(Code.CONFIGURE_REQUEST, 1, b"").encode(), 0.0)
    assert a.state is State.INITIAL and packets(a) == []
    assert [type(e) for e in take(a, LogLine | ProtocolError)] == [ProtocolError]


def test_terminate_request_in_opened_waits_one_restart_period() -> None:
    a = automaton()
    request = opened_request(a)
    a.receive(ControlPacket(Code.CONFIGURE_REQUEST, 9, b"\x01\x03\x07").encode(), 0.1)
    a.receive(ControlPacket(Code.CONFIGURE_ACK, request.identifier, request.data).encode(), 0.2)
    packets(a)
    a.receive(ControlPacket(Code.TERMINATE_REQUEST, 4, b"bye").encode(), 1.0)
    assert [p.code for p in packets(a)] == [Code.TERMINATE_ACK]
    assert a.state is State.STOPPING and a.get_timer() == pytest.approx(4.0)
    a.handle_timer(4.0)
    assert a.state is State.STOPPED and a.finished_reason == "TEST terminated by peer (bye)"
