"""The emulated modem's V.250 command interpreter, escape detection and call states."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hw.lab.modem.engine import (
    AnswerRequest,
    DialRequest,
    EngineOutput,
    HangupRequest,
    ModemConfig,
    ModemEngine,
    ModemState,
    ResultCode,
    ToLine,
)
from wanminiport.sansio import Transmit


class Modem:
    """An engine on a fake clock; ``dte`` says what the DTE would read."""

    def __init__(self, **config: object) -> None:
        self.now = 100.0
        self.engine = ModemEngine(ModemConfig(**config))  # type: ignore[arg-type]
        self.outputs: list[EngineOutput] = []

    def type(self, text: bytes | str) -> bytes:
        data = text.encode() if isinstance(text, str) else text
        self.engine.receive_from_dte(data, self.now)
        return self.dte()

    def dte(self) -> bytes:
        out = self.engine.drain()
        self.outputs += out
        return b"".join(o.data for o in out if isinstance(o, Transmit))

    def requests(self) -> list[EngineOutput]:
        self.dte()
        data_kinds = Transmit | ToLine
        found: list[EngineOutput] = [o for o in self.outputs if not isinstance(o, data_kinds)]
        self.outputs.clear()
        return found

    def line(self) -> bytes:
        self.dte()
        data = b"".join(o.data for o in self.outputs if isinstance(o, ToLine))
        self.outputs.clear()
        return data

    def state(self) -> ModemState:
        return self.engine.state

    def advance(self, seconds: float) -> bytes:
        self.now += seconds
        self.engine.handle_timer(self.now)
        return self.dte()

    def online(self, rate: int = 115200) -> None:
        self.type("ATE0\r")
        self.type("ATDT5551234\r")
        self.engine.call_connected(rate, self.now)
        assert self.dte() == f"\r\nCONNECT {rate}\r\n".encode()
        self.outputs.clear()


# -- command lines ---------------------------------------------------------------


def test_at_prefix_in_any_case_runs_the_line_and_echo_repeats_every_character() -> None:
    modem = Modem()
    assert modem.type("AT\r") == b"AT\r\r\nOK\r\n"
    assert modem.type("at\r") == b"at\r\r\nOK\r\n"
    assert modem.type("aT\r") == b"aT\r\r\nOK\r\n"


def test_characters_before_the_prefix_are_ignored() -> None:
    modem = Modem()
    assert modem.type("xyz\r\nfoo ATE0\r") == b"xyz\r\nfoo ATE0\r\r\nOK\r\n"
    assert modem.type("garbage\r") == b""


def test_echo_off_and_numeric_results() -> None:
    modem = Modem()
    modem.type("ATE0V0\r")
    assert modem.type("AT\r") == b"0\r"
    assert modem.type("ATX9\r") == b"4\r"
    assert modem.type("ATV1\r") == b"\r\nOK\r\n"


def test_quiet_mode_sends_no_result_codes() -> None:
    modem = Modem()
    modem.type("ATE0Q1\r")
    assert modem.type("AT\r") == b""
    assert modem.type("ATQ0\r") == b"\r\nOK\r\n"


def test_several_commands_on_one_line_all_take_effect() -> None:
    modem = Modem()
    assert modem.type("ATE0V1Q0S0=2\r").endswith(b"\r\nOK\r\n")
    assert (modem.engine.settings["E"], modem.engine.register(0)) == (0, 2)
    assert modem.type("AT S7=30 S12 = 25\r") == b"\r\nERROR\r\n"  # a space inside "S12 ="
    assert modem.type("AT S7=30 S12=25\r") == b"\r\nOK\r\n"
    assert (modem.engine.register(7), modem.engine.register(12)) == (30, 25)


def test_register_query_answers_three_digits() -> None:
    modem = Modem()
    modem.type("ATE0\r")
    assert modem.type("ATS7?\r") == b"\r\n050\r\n\r\nOK\r\n"
    assert modem.type("ATS2?S3?\r") == b"\r\n043\r\n\r\n013\r\n\r\nOK\r\n"


@pytest.mark.parametrize(
    "line",
    [
        "ATS256=1",
        "ATS0=256",
        "ATS",
        "ATS0",
        "ATS0!",
        "ATE2",
        "AT&D4",
        "ATJ",
        "AT+GMI",
        "AT&",
        "ATI10",
    ],
)
def test_malformed_or_unknown_command_answers_error(line: str) -> None:
    modem = Modem()
    modem.type("ATE0\r")
    assert modem.type(line + "\r") == b"\r\nERROR\r\n"


def test_error_skips_the_rest_of_the_line() -> None:
    modem = Modem()
    modem.type("ATE0\r")
    modem.type("ATS0=3JS0=5\r")
    assert modem.engine.register(0) == 3


def test_a_slash_repeats_the_last_line_without_a_return() -> None:
    modem = Modem()
    modem.type("ATE0S0=4\r")
    modem.type("ATS0=1\r")
    assert modem.type("A/") == b"\r\nOK\r\n"
    assert modem.engine.register(0) == 1


def test_backspace_edits_the_line() -> None:
    modem = Modem()
    modem.type("ATE0\r")
    assert modem.type("ATS0=9\b2\r") == b"\r\nOK\r\n"
    assert modem.engine.register(0) == 2


def test_overlong_command_line_is_an_error() -> None:
    modem = Modem()
    modem.type("ATE0\r")
    assert modem.type("AT" + "E0" * 200 + "\r") == b"\r\nERROR\r\n"


def test_z_restores_the_stored_profile_and_f_the_factory_one() -> None:
    modem = Modem(registers={0: 2, 7: 5})
    modem.type("ATE0S0=0S7=90\r")
    assert modem.type("ATZ\r") == b"\r\nOK\r\n"  # echo back on after the reset
    assert (modem.engine.register(0), modem.engine.register(7)) == (2, 5)
    modem.type("AT&F\r")
    assert (modem.engine.register(0), modem.engine.register(7)) == (0, 50)


def test_identity_is_information_text() -> None:
    modem = Modem(identity="Test modem")
    modem.type("ATE0\r")
    assert modem.type("ATI3\r") == b"\r\nTest modem\r\n\r\nOK\r\n"
    modem.type("ATV0\r")
    assert modem.type("ATI\r") == b"Test modem\r\n0\r"


def test_online_only_commands_outside_a_call() -> None:
    modem = Modem()
    modem.type("ATE0\r")
    assert modem.type("ATO\r") == b"\r\nERROR\r\n"
    assert modem.type("ATA\r") == b"\r\nNO CARRIER\r\n"
    assert modem.type("ATH\r") == b"\r\nOK\r\n"


# -- dialing and answering --------------------------------------------------------


def test_dial_with_tone_or_pulse_asks_the_exchange() -> None:
    modem = Modem()
    modem.type("ATE0\r")
    assert modem.type("ATDT 555-1234\r") == b""
    assert modem.requests() == [DialRequest("5551234", pulse=False)]
    assert modem.state() is ModemState.DIALING
    modem.engine.call_failed(ResultCode.BUSY, modem.now)
    assert modem.dte() == b"\r\nBUSY\r\n"
    modem.type("ATDP5551234\r")
    assert modem.requests() == [DialRequest("5551234", pulse=True)]


@pytest.mark.parametrize("line", ["ATD", "ATDT", "ATDT555;", "ATDTx12"])
def test_bad_dial_string_is_an_error(line: str) -> None:
    modem = Modem()
    modem.type("ATE0\r")
    assert modem.type(line + "\r") == b"\r\nERROR\r\n"
    assert modem.requests() == []


def test_any_key_while_dialing_aborts_with_no_carrier() -> None:
    modem = Modem()
    modem.type("ATE0\r")
    modem.type("ATDT1\r\n")  # the LF after CR is not a key press
    assert modem.state() is ModemState.DIALING
    assert modem.type("x") == b"\r\nNO CARRIER\r\n"
    assert HangupRequest() in modem.requests()
    assert modem.state() is ModemState.COMMAND


def test_no_carrier_within_s7_gives_no_answer() -> None:
    modem = Modem(time_scale=0.1)
    modem.type("ATE0S7=20\r")
    modem.type("ATDT1\r")
    assert modem.advance(1.9) == b""
    assert modem.advance(0.1) == b"\r\nNO ANSWER\r\n"
    assert HangupRequest() in modem.requests()


def test_ring_is_reported_and_counted_in_s1() -> None:
    modem = Modem()
    modem.type("ATE0\r")
    modem.engine.incoming_ring(modem.now)
    assert modem.dte() == b"\r\nRING\r\n"
    modem.engine.incoming_ring(modem.now)
    assert modem.dte() == b"\r\nRING\r\n"
    assert modem.engine.register(1) == 2
    assert modem.type("ATA\r") == b""
    assert modem.requests() == [AnswerRequest()]
    modem.engine.call_connected(9600, modem.now)
    assert modem.dte() == b"\r\nCONNECT 9600\r\n"


def test_auto_answer_after_s0_rings() -> None:
    modem = Modem()
    modem.type("ATE0S0=2\r")
    modem.engine.incoming_ring(modem.now)
    assert modem.requests() == []
    modem.engine.incoming_ring(modem.now)
    assert modem.requests() == [AnswerRequest()]


def test_ring_count_resets_when_the_caller_gives_up() -> None:
    modem = Modem()
    modem.type("ATE0S0=2\r")
    modem.engine.incoming_ring(modem.now)
    modem.engine.ringing_stopped(modem.now)
    modem.dte()
    assert modem.type("ATA\r") == b"\r\nNO CARRIER\r\n"
    modem.engine.incoming_ring(modem.now)
    assert modem.requests() == []


def test_connect_text_follows_x_and_v_and_the_suffix() -> None:
    modem = Modem(connect_suffix="/ARQ/V34")
    modem.type("ATE0\r")
    modem.type("ATD1\r")
    modem.engine.call_connected(33600, modem.now)
    assert modem.dte() == b"\r\nCONNECT 33600/ARQ/V34\r\n"

    basic = Modem()
    basic.type("ATE0X0\r")
    basic.type("ATD1\r")
    basic.engine.call_failed(ResultCode.BUSY, basic.now)
    assert basic.dte() == b"\r\nNO CARRIER\r\n"
    basic.type("ATD1\r")
    basic.engine.call_connected(2400, basic.now)
    assert basic.dte() == b"\r\nCONNECT\r\n"

    numeric = Modem()
    numeric.type("ATE0V0\r")
    numeric.type("ATD1\r")
    numeric.engine.call_connected(2400, numeric.now)
    assert numeric.dte() == b"1\r"


def test_off_hook_line_is_busy_until_hung_up() -> None:
    modem = Modem()
    modem.type("ATE0H1\r")
    assert not modem.engine.idle
    modem.type("ATH0\r")
    assert modem.engine.idle


# -- data state and the escape ------------------------------------------------------


def test_data_state_passes_bytes_both_ways() -> None:
    modem = Modem()
    modem.online()
    modem.type(b"\x7e\xff\x03AT\r")
    assert modem.line() == b"\x7e\xff\x03AT\r"
    modem.engine.data_from_line(b"hello", modem.now)
    assert modem.dte() == b"hello"


def test_escape_with_guard_times_enters_online_command_state() -> None:
    modem = Modem()
    modem.online()
    modem.now += 1.0
    modem.type("+++")
    assert modem.line() == b"+++"  # pluses go out like data
    assert modem.advance(0.99) == b""
    assert modem.advance(0.01) == b"\r\nOK\r\n"
    assert modem.state() is ModemState.ONLINE_COMMAND
    modem.engine.data_from_line(b"lost", modem.now)
    assert modem.dte() == b"" and modem.engine.dropped_line_bytes == 4
    assert modem.type("ATO\r") == b"\r\nCONNECT 115200\r\n"
    assert modem.state() is ModemState.ONLINE


def test_escape_without_silence_before_is_data() -> None:
    modem = Modem()
    modem.online()
    modem.now += 0.5
    modem.type("+++")
    assert modem.advance(2.0) == b""
    assert modem.state() is ModemState.ONLINE


def test_escape_followed_by_data_within_the_guard_is_data() -> None:
    modem = Modem()
    modem.online()
    modem.now += 1.0
    modem.type("+++")
    modem.now += 0.5
    modem.type("x")
    assert modem.advance(2.0) == b""
    assert modem.state() is ModemState.ONLINE


def test_four_pluses_or_slow_pluses_are_data() -> None:
    modem = Modem()
    modem.online()
    modem.now += 1.0
    modem.type("++++")
    assert modem.advance(2.0) == b""
    for _ in range(3):
        modem.now += 1.0
        modem.type("+")
    assert modem.advance(2.0) == b""
    assert modem.state() is ModemState.ONLINE


def test_escape_character_and_guard_time_follow_s2_and_s12() -> None:
    modem = Modem()
    modem.type("ATE0S2=45S12=10\r")
    modem.type("ATD1\r")
    modem.engine.call_connected(9600, modem.now)
    modem.dte()
    modem.now += 0.2
    modem.type("+++")
    assert modem.advance(0.3) == b""
    modem.type("---")
    assert modem.advance(0.2) == b"\r\nOK\r\n"


def test_hang_up_from_online_command_state() -> None:
    modem = Modem()
    modem.online()
    modem.now += 1.0
    modem.type("+++")
    modem.advance(1.0)
    assert modem.type("ATH\r") == b"\r\nOK\r\n"
    assert HangupRequest() in modem.requests()
    assert modem.engine.idle


def test_remote_hangup_gives_no_carrier_in_either_state() -> None:
    modem = Modem()
    modem.online()
    modem.engine.remote_hangup(modem.now)
    assert modem.dte() == b"\r\nNO CARRIER\r\n"
    assert modem.engine.idle
    modem.engine.remote_hangup(modem.now)
    assert modem.dte() == b""


@pytest.mark.parametrize(
    ("behaviour", "state", "said"),
    [
        (0, ModemState.ONLINE, b""),
        (1, ModemState.ONLINE_COMMAND, b"\r\nOK\r\n"),
        (2, ModemState.COMMAND, b"\r\nNO CARRIER\r\n"),
        (3, ModemState.COMMAND, b"\r\nNO CARRIER\r\n"),
    ],
)
def test_dtr_drop_follows_and_d(behaviour: int, state: ModemState, said: bytes) -> None:
    modem = Modem()
    modem.type(f"ATE0&D{behaviour}S0=3\r")
    modem.type("ATD1\r")
    modem.engine.call_connected(9600, modem.now)
    modem.dte()
    modem.engine.dtr_changed(False, modem.now)
    assert modem.dte() == said
    assert modem.state() is state
    # &D3 also resets the profile.
    assert modem.engine.register(0) == (0 if behaviour == 3 else 3)


def test_dtr_drop_while_dialing_aborts() -> None:
    modem = Modem()
    modem.type("ATE0\r")
    modem.type("ATD1\r")
    modem.engine.dtr_changed(False, modem.now)
    assert modem.dte() == b"\r\nNO CARRIER\r\n"
    assert HangupRequest() in modem.requests()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=48), max_size=12))
def test_engine_never_raises_on_any_dte_input(chunks: list[bytes]) -> None:
    modem = Modem(time_scale=0.01)
    for chunk in chunks:
        modem.type(chunk)
        modem.advance(0.5)
        if modem.state() is ModemState.DIALING:
            modem.engine.call_connected(9600, modem.now)
    assert len(modem.engine._line) <= 255


@pytest.mark.parametrize(("behaviour", "answers"), [(0, True), (1, True), (2, False), (3, False)])
def test_auto_answer_needs_dtr_under_and_d2(behaviour: int, answers: bool) -> None:
    modem = Modem()
    modem.type(f"ATE0&D{behaviour}S0=1\r")
    modem.engine.dtr_changed(False, modem.now)
    modem.dte()
    modem.engine.incoming_ring(modem.now)
    assert (AnswerRequest() in modem.requests()) is answers


def test_auto_answer_resumes_when_dtr_rises_again() -> None:
    modem = Modem()
    modem.type("ATE0S0=2\r")
    modem.engine.dtr_changed(False, modem.now)
    modem.engine.incoming_ring(modem.now)
    modem.engine.incoming_ring(modem.now)
    assert modem.requests() == []
    modem.engine.dtr_changed(True, modem.now)
    modem.engine.incoming_ring(modem.now)
    assert modem.requests() == [AnswerRequest()]
