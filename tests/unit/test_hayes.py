"""Hayes host side: V.250 result codes, command lines, dial/answer/hang-up machine."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wanminiport.mcm import (
    CallFailed,
    CarrierLost,
    CommandDone,
    Connected,
    EchoLine,
    HayesDialer,
    HayesStateError,
    HayesTimings,
    HungUp,
    InfoLine,
    ModemResult,
    ResultCode,
    ResultParser,
    Ring,
    RingingStopped,
    SetDtr,
    Stage,
    Timeout,
    answer_command,
    auto_answer_command,
    classify_line,
    command_line,
    dial_command,
    escape_sequence,
    hangup_command,
    normalize_number,
    reset_command,
    set_register_command,
)
from wanminiport.mcm.hayes import Output
from wanminiport.sansio import Transmit

WORDS = {
    "OK": ResultCode.OK,
    "CONNECT": ResultCode.CONNECT,
    "RING": ResultCode.RING,
    "NO CARRIER": ResultCode.NO_CARRIER,
    "ERROR": ResultCode.ERROR,
    "NO DIALTONE": ResultCode.NO_DIALTONE,
    "BUSY": ResultCode.BUSY,
    "NO ANSWER": ResultCode.NO_ANSWER,
}
DIGITS = {"0": ResultCode.OK, "1": ResultCode.CONNECT, "2": ResultCode.RING}
DIGITS.update({"3": ResultCode.NO_CARRIER, "4": ResultCode.ERROR, "6": ResultCode.NO_DIALTONE})
DIGITS.update({"7": ResultCode.BUSY, "8": ResultCode.NO_ANSWER})


def results(lines: Sequence[object]) -> list[ResultCode]:
    return [line.code for line in lines if isinstance(line, ModemResult)]


# -- result codes -------------------------------------------------------------


@pytest.mark.parametrize(("word", "code"), list(WORDS.items()))
def test_verbose_result_code_is_recognised(word: str, code: ResultCode) -> None:
    assert results(ResultParser().feed(f"\r\n{word}\r\n".encode())) == [code]
    assert code.word in (word, "NO DIALTONE")


@pytest.mark.parametrize(("digit", "code"), list(DIGITS.items()))
def test_numeric_result_code_is_recognised(digit: str, code: ResultCode) -> None:
    # V0: the digits followed by CR alone.
    assert results(ResultParser().feed(f"{digit}\r".encode())) == [code]


def test_no_dial_tone_with_a_space_is_the_same_code() -> None:
    assert results(ResultParser().feed(b"\r\nNO DIAL TONE\r\n")) == [ResultCode.NO_DIALTONE]


def test_unknown_digits_and_leading_zero_are_info_not_codes() -> None:
    lines = ResultParser().feed(b"5\r9\r000\r")
    assert isinstance(lines[0], ModemResult) and lines[0].rate == 1200  # Hayes "CONNECT 1200"
    assert lines[1:] == [InfoLine("9"), InfoLine("000")]


@pytest.mark.parametrize(
    ("line", "rate", "details"),
    [
        ("CONNECT", None, ()),
        ("CONNECT 115200", 115200, ()),
        ("CONNECT 33600/ARQ/V34", 33600, ("ARQ", "V34")),
        ("CONNECT 57600/ARQ/V90/LAPM/V42BIS", 57600, ("ARQ", "V90", "LAPM", "V42BIS")),
        ("CONNECT 2400 REL", 2400, ("REL",)),
        ("connect 9600", 9600, ()),
        ("CONNECT /ARQ", None, ("ARQ",)),
    ],
)
def test_connect_rate_and_extended_forms_are_parsed(
    line: str, rate: int | None, details: tuple[str, ...]
) -> None:
    result = classify_line(line)
    assert isinstance(result, ModemResult)
    assert (result.code, result.rate, result.details) == (ResultCode.CONNECT, rate, details)


def test_connected_as_a_word_is_not_a_connect_result() -> None:
    assert classify_line("CONNECTED TO HOST") == InfoLine("CONNECTED TO HOST")


def test_echo_of_our_command_is_an_echo_line() -> None:
    lines = ResultParser().feed(b"ATDT5551234\r\r\nBUSY\r\n")
    assert lines == [EchoLine("ATDT5551234"), ModemResult(ResultCode.BUSY, "BUSY")]
    assert classify_line("at&f") == EchoLine("at&f")
    assert classify_line("A/") == EchoLine("A/")


def test_line_split_across_reads_is_joined() -> None:
    parser = ResultParser()
    assert parser.feed(b"\r\nCONN") == []
    assert parser.pending == b"CONN"
    assert parser.feed(b"ECT 3360") == []
    lines = parser.feed(b"0/V34\r\n")
    assert isinstance(lines[0], ModemResult) and lines[0].rate == 33600


@pytest.mark.parametrize("ending", [b"\r\n", b"\n", b"\r", b"\n\r", b"\r\r\n"])
def test_every_line_ending_variant_ends_a_line(ending: bytes) -> None:
    assert results(ResultParser().feed(b"OK" + ending + b"ERROR" + ending)) == [
        ResultCode.OK,
        ResultCode.ERROR,
    ]


def test_binary_noise_is_dropped_and_counted() -> None:
    parser = ResultParser()
    lines = parser.feed(b"\x00\xff\x7e\x7dO\x80K\r\n")
    # 0x7E/0x7D are printable and stay; the rest is noise.
    assert lines == [InfoLine("~}OK")]
    assert parser.stats.noise_bytes == 3
    assert results(parser.feed(b"\x00\x13O\x11K\r\n")) == [ResultCode.OK]


def test_overlong_line_is_cut_and_the_next_line_still_parses() -> None:
    parser = ResultParser(max_line=32)
    lines = parser.feed(b"X" * 1000 + b"\r\nOK\r\n")
    assert results(lines) == [ResultCode.OK]
    assert parser.stats.overlong_lines == 1
    assert len(parser.pending) == 0


def test_connect_stop_returns_the_bytes_after_the_result_line() -> None:
    parser = ResultParser()
    lines, rest = parser.feed_until_connect(b"\r\nCONNECT 9600\r\n~\x7d\x23\xc0\x21")
    assert results(lines) == [ResultCode.CONNECT]
    assert rest == b"~\x7d\x23\xc0\x21"
    assert parser.feed_until_connect(b"\r\nOK\r\n") == ([ModemResult(ResultCode.OK, "OK")], None)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_parser_never_raises_and_stays_bounded(chunks: list[bytes]) -> None:
    parser = ResultParser(max_line=64)
    for chunk in chunks:
        parser.feed(chunk)
        assert len(parser.pending) <= 64


# -- command lines ------------------------------------------------------------


def test_command_builders_produce_v250_lines() -> None:
    assert command_line("E0", "V1", "Q0") == b"ATE0V1Q0\r"
    assert command_line("ATZ") == b"ATZ\r"
    assert dial_command("555-1234") == b"ATDT5551234\r"
    assert dial_command("(0) 555 1234", pulse=True) == b"ATDP05551234\r"
    assert dial_command("9,5551234") == b"ATDT9,5551234\r"
    assert answer_command() == b"ATA\r"
    assert hangup_command() == b"ATH0\r"
    assert reset_command() == b"ATZ\r"
    assert auto_answer_command(2) == b"ATS0=2\r"
    assert set_register_command(7, 60) == b"ATS7=60\r"
    assert escape_sequence() == b"+++"


@pytest.mark.parametrize("number", ["", "   ", "555x1234", "5551234;", "5551234\r", "---", "ATH"])
def test_invalid_dial_number_is_refused(number: str) -> None:
    with pytest.raises(ValueError, match=r"number|character"):
        normalize_number(number)


def test_command_line_refuses_control_characters_and_overlong_bodies() -> None:
    with pytest.raises(ValueError, match="control"):
        command_line("Z\r")
    with pytest.raises(ValueError, match="too long"):
        command_line("S7=50" * 10)
    with pytest.raises(ValueError, match="range"):
        set_register_command(0, 256)
    with pytest.raises(ValueError, match="profile"):
        reset_command(2)


# -- the dialer ---------------------------------------------------------------


class Harness:
    """The dialer, a fake clock, and everything it produced."""

    def __init__(self, **timings: float) -> None:
        self.now = 0.0
        self.dialer = HayesDialer(HayesTimings(**timings))
        self.outputs: list[Output] = []

    def take(self) -> list[Output]:
        out = self.dialer.drain()
        self.outputs += out
        return out

    def sent(self) -> list[bytes]:
        return [o.data for o in self.take() if isinstance(o, Transmit)]

    def modem(self, data: bytes) -> list[Output]:
        self.dialer.receive_data(data, self.now)
        return self.take()

    def advance(self, seconds: float) -> list[Output]:
        self.now += seconds
        self.dialer.handle_timer(self.now)
        return self.take()

    def events(self, outputs: list[Output]) -> list[Output]:
        return [o for o in outputs if not isinstance(o, Transmit | SetDtr)]


def dial_to_dialing(h: Harness, echo: bool = True) -> None:
    h.dialer.dial("5551234", h.now, init=("ATZ", "ATE1V1"))
    assert h.sent() == [b"ATZ\r"]
    assert h.modem(b"ATZ\r\r\nOK\r\n" if echo else b"\r\nOK\r\n") == [Transmit(b"ATE1V1\r")]
    assert h.dialer.get_timer() == h.now + h.dialer.timings.command
    assert h.sent() == []
    h.dialer.receive_data(b"ATE1V1\r\r\nOK\r\n" if echo else b"0\r", h.now)
    assert h.sent() == [b"ATDT5551234\r"]
    assert h.dialer.stage is Stage.DIALING


@pytest.mark.parametrize("echo", [True, False])
def test_dial_sends_each_init_line_after_the_previous_ok(echo: bool) -> None:
    h = Harness()
    dial_to_dialing(h, echo)
    out = h.modem(b"ATDT5551234\r\r\nCONNECT 33600/ARQ/V34\r\n")
    connected = h.events(out)
    assert len(connected) == 1 and isinstance(connected[0], Connected)
    assert connected[0].rate == 33600
    assert h.dialer.online


def test_numeric_connect_puts_the_line_online() -> None:
    h = Harness()
    dial_to_dialing(h, echo=False)
    assert [type(e) for e in h.events(h.modem(b"1\r"))] == [Connected]


def test_bytes_after_connect_are_early_data_not_parsed() -> None:
    h = Harness()
    dial_to_dialing(h)
    (event,) = h.events(h.modem(b"\r\nCONNECT 115200\r\n~\xff\x03\xc0\x21OK\r\n"))
    assert isinstance(event, Connected)
    assert event.early_data == b"~\xff\x03\xc0\x21OK\r\n"
    # Online, later bytes are not ours to parse.
    assert h.modem(b"\r\nNO CARRIER\r\n") == []


@pytest.mark.parametrize("word", ["BUSY", "NO CARRIER", "NO DIALTONE", "NO ANSWER", "ERROR"])
def test_dial_failure_result_ends_the_call(word: str) -> None:
    h = Harness()
    dial_to_dialing(h)
    (event,) = h.events(h.modem(f"\r\n{word}\r\n".encode()))
    assert isinstance(event, CallFailed) and event.result.code is WORDS[word]
    assert h.dialer.stage is Stage.IDLE


def test_init_error_fails_the_dial_before_dialing() -> None:
    h = Harness()
    h.dialer.dial("5551234", 0.0, init=("AT&Q9",))
    h.take()
    (event,) = h.events(h.modem(b"\r\nERROR\r\n"))
    assert isinstance(event, CallFailed) and event.result.code is ResultCode.ERROR
    assert b"ATDT5551234\r" not in [o.data for o in h.outputs if isinstance(o, Transmit)]


def test_garbage_and_ring_while_dialing_are_ignored() -> None:
    h = Harness()
    dial_to_dialing(h)
    assert h.events(h.modem(b"\x00\xfe\xfdgarbage\r\n\r\nRING\r\n\r\nCONN")) == []
    assert [type(e) for e in h.events(h.modem(b"ECT\r\n"))] == [Connected]


def test_init_without_answer_times_out() -> None:
    h = Harness(command=2.0)
    h.dialer.dial("5551234", 0.0)
    h.take()
    assert h.advance(1.9) == []
    assert h.events(h.advance(0.2)) == [Timeout(Stage.INIT)]
    assert h.dialer.stage is Stage.IDLE


def test_dial_timeout_aborts_with_a_character() -> None:
    h = Harness(dial=30.0)
    dial_to_dialing(h)
    out = h.advance(30.0)
    assert Transmit(b"\r") in out
    assert h.events(out) == [Timeout(Stage.DIALING)]


def test_stale_timer_does_nothing() -> None:
    h = Harness(command=2.0)
    dial_to_dialing(h)
    h.now = 3.0
    h.dialer.handle_timer(1.0)
    assert h.take() == []
    assert h.dialer.stage is Stage.DIALING


def test_a_second_request_while_busy_is_our_error() -> None:
    h = Harness()
    dial_to_dialing(h)
    with pytest.raises(HayesStateError):
        h.dialer.dial("5555678", 0.0)
    with pytest.raises(HayesStateError):
        h.dialer.accept(0.0)
    with pytest.raises(ValueError):
        Harness().dialer.dial("not a number", 0.0)


def answer_to_awaiting(h: Harness, auto_rings: int = 0, ring_timeout: float | None = None) -> None:
    h.dialer.answer(h.now, init=("ATZ",), auto_rings=auto_rings, ring_timeout=ring_timeout)
    assert h.sent() == [b"ATZ\r"]
    assert h.modem(b"\r\nOK\r\n")[0] == Transmit(f"ATS0={auto_rings}\r".encode())
    h.modem(b"\r\nOK\r\n")
    assert h.dialer.stage is Stage.AWAIT_RING


def test_answer_counts_rings_and_answers_when_accepted() -> None:
    h = Harness()
    answer_to_awaiting(h)
    rings = h.events(h.modem(b"\r\nRING\r\n"))
    assert [(type(r), r.count) for r in rings if isinstance(r, Ring)] == [(Ring, 1)]
    assert h.dialer.stage is Stage.RINGING
    h.now += 6
    assert [r.count for r in h.events(h.modem(b"2\r")) if isinstance(r, Ring)] == [2]
    h.dialer.accept(h.now)
    assert h.sent() == [b"ATA\r"]
    assert [type(e) for e in h.events(h.modem(b"\r\nCONNECT 115200\r\n"))] == [Connected]


def test_caller_giving_up_stops_the_ringing() -> None:
    h = Harness(ring_gap=10.0)
    answer_to_awaiting(h)
    h.modem(b"\r\nRING\r\n")
    assert h.events(h.advance(10.0)) == [RingingStopped()]
    assert h.dialer.stage is Stage.AWAIT_RING and h.dialer.rings == 0


def test_auto_answer_waits_for_the_modems_own_connect() -> None:
    h = Harness(ring_gap=10.0, answer=60.0)
    answer_to_awaiting(h, auto_rings=2)
    h.modem(b"\r\nRING\r\n")
    assert h.dialer.stage is Stage.AWAIT_RING  # no ATA from us
    h.now += 6
    h.modem(b"\r\nRING\r\n")
    assert h.advance(30.0) == []  # the handshake may take long
    assert [type(e) for e in h.events(h.modem(b"\r\nCONNECT 33600\r\n"))] == [Connected]


def test_listening_ignores_stray_results_and_times_out_when_bounded() -> None:
    h = Harness()
    answer_to_awaiting(h, ring_timeout=100.0)
    assert h.events(h.modem(b"\r\nNO CARRIER\r\n\r\nOK\r\n")) == []
    assert h.events(h.advance(100.0)) == [Timeout(Stage.AWAIT_RING)]


def test_answer_failure_after_ata() -> None:
    h = Harness()
    answer_to_awaiting(h)
    h.modem(b"RING\r")
    h.dialer.accept(h.now)
    h.take()
    (event,) = h.events(h.modem(b"3\r"))
    assert isinstance(event, CallFailed) and event.result.code is ResultCode.NO_CARRIER


def online(h: Harness) -> None:
    dial_to_dialing(h)
    h.modem(b"\r\nCONNECT 115200\r\n")
    assert h.dialer.online


def test_hangup_with_dtr_drops_dtr_then_sends_ath() -> None:
    h = Harness(dtr_hold=0.5)
    online(h)
    h.dialer.hangup(h.now, use_dtr=True)
    assert h.take()[0] == SetDtr(False)
    out = h.advance(0.5)
    assert out[:2] == [SetDtr(True), Transmit(b"ATH0\r")]
    assert h.events(h.modem(b"\r\nNO CARRIER\r\n\r\nOK\r\n")) == [HungUp()]
    assert h.dialer.stage is Stage.IDLE


def test_hangup_with_dtr_ignored_falls_back_to_escape() -> None:
    h = Harness(dtr_hold=0.5, command=2.0, guard=1.0)
    online(h)
    h.dialer.hangup(h.now, use_dtr=True)
    h.advance(0.5)
    assert h.advance(2.0) == []
    assert h.dialer.get_timer() == h.now + 1.0  # guard silence before +++
    assert h.sent() == []
    assert Transmit(b"+++") in h.advance(1.0)


def test_hangup_without_dtr_keeps_guard_times_around_the_escape() -> None:
    h = Harness(guard=1.0, command=3.0)
    online(h)
    h.dialer.hangup(h.now, use_dtr=False)
    assert h.take() == []
    assert h.dialer.get_timer() == h.now + 1.0
    assert h.advance(0.99) == []
    assert h.sent() == []
    assert Transmit(b"+++") in h.advance(0.01)
    # The modem only answers after the guard time; we wait for its OK.
    h.now += 1.0
    assert h.modem(b"\r\nOK\r\n")[0] == Transmit(b"ATH0\r")
    assert h.events(h.modem(b"ATH0\r\r\nOK\r\n")) == [HungUp()]


def test_hangup_escape_without_ok_still_sends_ath() -> None:
    h = Harness(guard=1.0, command=3.0)
    online(h)
    h.dialer.hangup(h.now, use_dtr=False)
    h.advance(1.0)
    assert Transmit(b"ATH0\r") in h.advance(4.0)
    assert h.events(h.advance(3.0)) == [Timeout(Stage.HANGUP_ATH)]


def test_hangup_while_dialing_aborts_then_sends_ath() -> None:
    h = Harness()
    dial_to_dialing(h)
    h.dialer.hangup(h.now, use_dtr=False)
    assert h.sent() == [b"\r"]
    assert h.modem(b"\r\nNO CARRIER\r\n")[0] == Transmit(b"ATH0\r")
    assert h.events(h.modem(b"\r\nOK\r\n")) == [HungUp()]


def test_hangup_after_auto_answer_clears_s0() -> None:
    h = Harness()
    answer_to_awaiting(h, auto_rings=1)
    h.dialer.hangup(h.now, use_dtr=False)
    assert h.sent() == [b"ATH0S0=0\r"]


def test_carrier_loss_while_online_is_reported_once() -> None:
    h = Harness()
    online(h)
    h.dialer.carrier_lost(h.now)
    h.dialer.carrier_lost(h.now)
    assert h.events(h.take()) == [CarrierLost()]
    assert h.dialer.stage is Stage.IDLE


def test_command_collects_information_text() -> None:
    h = Harness()
    h.dialer.command("ATI3", 0.0)
    assert h.sent() == [b"ATI3\r"]
    (done,) = h.events(h.modem(b"ATI3\r\r\nwanctl virtual modem\r\n\r\nOK\r\n"))
    assert isinstance(done, CommandDone)
    assert done.result.code is ResultCode.OK and done.info == ("wanctl virtual modem",)
