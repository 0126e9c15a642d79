"""chat(8) scripts: parsing, keywords, escapes and exit codes, against transcripts."""

from __future__ import annotations

from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wanminiport.mcm import (
    ChatInterpreter,
    ChatOutput,
    ChatScriptError,
    Echo,
    Finished,
    Report,
    Say,
    SendBreak,
    parse_chat_argv,
    parse_chat_file,
)
from wanminiport.mcm.chat_script import (
    Break,
    Pause,
    expect_bytes,
    send_pieces,
    split_subexpect,
    visible,
)
from wanminiport.sansio import LogLine, Transmit

T = TypeVar("T")


class Run:
    """A chat interpreter on a fake clock, recording what it did."""

    def __init__(self, words: list[str], **options: object) -> None:
        self.now = 0.0
        self.chat = ChatInterpreter(words, **options)  # type: ignore[arg-type]
        self.outputs: list[ChatOutput] = []
        self.chat.start(self.now)
        self._take()

    def _take(self) -> list[ChatOutput]:
        out = self.chat.drain()
        self.outputs += out
        return out

    def modem(self, data: bytes) -> list[ChatOutput]:
        self.chat.receive_data(data, self.now)
        return self._take()

    def advance(self, seconds: float) -> list[ChatOutput]:
        """Move the clock, firing every deadline on the way."""
        end = self.now + seconds
        while self.chat.get_timer() is not None and self.chat.get_timer() <= end:
            self.now = self.chat.get_timer()
            self.chat.handle_timer(self.now)
        self.now = end
        return self._take()

    @property
    def sent(self) -> bytes:
        return b"".join(o.data for o in self.outputs if isinstance(o, Transmit))

    @property
    def exit_code(self) -> int | None:
        return self.chat.exit_code

    def of(self, kind: type[T]) -> list[T]:
        return [o for o in self.outputs if isinstance(o, kind)]


# -- parsing --------------------------------------------------------------------


def test_file_words_are_split_on_blanks_with_quotes_and_comments() -> None:
    text = (
        "# a comment line\n"
        "ABORT 'NO CARRIER'  ABORT\tBUSY\n"
        "'' ATZ\n"
        'OK\\r\\n "AT D T"\n'
        "  # not a comment: not in column 1\n"
        "'it\\'s' x\n"
    )
    assert parse_chat_file(text) == [
        "ABORT", "NO CARRIER", "ABORT", "BUSY", "", "ATZ", "OK\\r\\n", "AT D T",
        "#", "not", "a", "comment:", "not", "in", "column", "1", "it\\'s", "x",
    ]  # fmt: skip


def test_unterminated_quote_is_an_invalid_script() -> None:
    with pytest.raises(ChatScriptError, match="unterminated quote \\(line 2\\)") as info:
        parse_chat_file("'' ATZ\nOK 'ATDT555\n")
    assert info.value.exit_code == 1


def test_argv_words_are_taken_as_given() -> None:
    assert parse_chat_argv(["", "ATZ", "OK", "AT D"]) == ["", "ATZ", "OK", "AT D"]


@pytest.mark.parametrize(
    ("word", "parts"),
    [
        ("ogin:-BREAK-ogin:", ["ogin:", "BREAK", "ogin:"]),
        ("ogin:--ogin:", ["ogin:", "", "ogin:"]),
        ("ogin:-BREAK", ["ogin:", "BREAK"]),
        ("ogin:-BREAK-", ["ogin:", "BREAK"]),
        ("a\\-b", ["a\\-b"]),
        ("", [""]),
        ("-x", ["", "x"]),
    ],
)
def test_subexpect_splits_on_unescaped_dashes(word: str, parts: list[str]) -> None:
    assert split_subexpect(word) == parts


# -- escapes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "pieces"),
    [
        ("ATZ", [b"ATZ\r"]),
        ("hello\\c", [b"hello"]),
        ("\\c", []),
        ("a\\cb", [b"acb\r"]),  # \c only counts at the end
        ("a\\db", [b"a", Pause(1.0), b"b\r"]),
        ("a\\pb", [b"a", Pause(0.01), b"b\r"]),
        ("a\\Kb\\c", [b"a", Break(), b"b"]),
        ("\\N\\c", [b"\0"]),
        ("\\r\\n\\s\\t\\\\\\b\\c", [b"\r\n \t\\\b"]),
        ("^C^Q^@x\\c", [b"\x03\x11x"]),
        ("x^", [b"x^\r"]),
        ("x\\", [b"x\\\r"]),
        ("\\101\\0\\c", [b"A\0"]),
        ("\\q secret", [b" secret\r"]),
        ("\\z", [b"z\r"]),
        ("", [b"\r"]),
    ],
)
def test_send_escapes(word: str, pieces: list[object]) -> None:
    assert send_pieces(word)[0] == pieces


def test_phone_number_escapes_use_the_given_numbers() -> None:
    assert send_pieces("ATDT\\T", phone="5551234")[0] == [b"ATDT5551234\r"]
    assert send_pieces("\\U\\c", phone2="42")[0] == [b"42"]
    assert send_pieces("\\T\\c")[0] == [b"T"]  # no -T: the letter


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("OK\\r\\n", b"OK\r\n"),
        ("a\\sb", b"a b"),
        ("\\d\\p\\K\\N\\c", b"dpKNc"),  # send-only escapes are letters here
        ("^M", b"\r"),
        ("\\0x", b"x"),  # a NUL cannot be expected
        ("\\T", b"\\T"),
    ],
)
def test_expect_escapes(word: str, expected: bytes) -> None:
    assert expect_bytes(word) == expected


def test_visible_form_matches_chat_logs() -> None:
    assert visible(b"ATZ\r\n\tx\x7f\xc1") == "ATZ^M^J\tx^?M-A"


# -- running --------------------------------------------------------------------


def test_expect_send_pairs_run_in_order_and_exit_0() -> None:
    run = Run(["", "ATZ", "OK", "ATDT5551234", "CONNECT", ""])
    assert run.sent == b"ATZ\r"
    run.modem(b"ATZ\r\r\nO")
    assert run.sent == b"ATZ\r"
    run.modem(b"K\r\n")
    assert run.sent == b"ATZ\rATDT5551234\r"
    run.modem(b"ATDT5551234\r\r\nCONNECT 33600\r\n~\x7d")
    assert run.sent == b"ATZ\rATDT5551234\r\r"
    assert run.exit_code == 0 and run.chat.done
    assert run.chat.leftover == b" 33600\r\n~\x7d"


def test_bytes_received_while_not_expecting_wait_for_the_next_expect() -> None:
    run = Run(["", "AT\\dZ", "OK", ""])
    run.modem(b"\r\nOK\r\n")  # arrives during the \d pause
    assert run.exit_code is None
    run.advance(1.0)
    assert run.exit_code == 0
    assert run.sent == b"ATZ\r\r"


def test_timeout_without_subsend_exits_3() -> None:
    run = Run(["", "ATZ", "OK", ""], timeout=5)
    run.advance(4.9)
    assert run.exit_code is None
    run.advance(0.1)
    assert run.exit_code == 3
    assert run.of(Finished) == [Finished(3, "timeout")]


def test_subexpect_sends_the_subsend_only_after_a_timeout() -> None:
    run = Run(["ogin:-BREAK-ogin:", "ppp"], timeout=3)
    run.advance(3)
    assert run.of(SendBreak) == [SendBreak()]
    run.modem(b"login:")
    assert run.sent == b"ppp\r" and run.exit_code == 0

    quick = Run(["ogin:-BREAK-ogin:", "ppp"], timeout=3)
    quick.modem(b"login:")
    assert quick.of(SendBreak) == [] and quick.exit_code == 0


def test_empty_subsend_sends_a_lone_return() -> None:
    run = Run(["ogin:--ogin:", "ppp"], timeout=2)
    run.advance(2)
    assert run.sent == b"\r"
    run.advance(2)
    assert run.exit_code == 3


def test_subsend_as_last_part_counts_as_success() -> None:
    run = Run(["ogin:-\\c", "x\\c"], timeout=1)
    run.advance(1)
    assert run.exit_code == 0 and run.sent == b"x"


@pytest.mark.parametrize(("seen", "code"), [(b"BUSY", 4), (b"NO CARRIER", 5), (b"ERROR", 6)])
def test_abort_strings_exit_with_4_plus_their_index(seen: bytes, code: int) -> None:
    words = ["ABORT", "BUSY", "ABORT", "NO CARRIER", "ABORT", "ERROR"]
    run = Run([*words, "", "ATDT1", "CONNECT", ""])
    run.modem(b"\r\n" + seen + b"\r\n")
    assert run.exit_code == code
    assert run.of(Finished)[0].reason == seen.decode()
    assert LogLine(f"Failed ({seen.decode()})") in run.outputs


def test_clr_abort_removes_the_string_and_renumbers_the_rest() -> None:
    run = Run(["ABORT", "BUSY", "ABORT", "NO CARRIER", "CLR_ABORT", "BUSY", "", "x", "OK", ""])
    run.modem(b"BUSY\r\n")
    assert run.exit_code is None
    run.modem(b"NO CARRIER")
    assert run.exit_code == 4


def test_abort_is_checked_after_the_expect_on_each_character() -> None:
    run = Run(["ABORT", "OK", "", "x", "OK", ""])
    run.modem(b"OK")
    assert run.exit_code == 0


def test_timeout_keyword_sets_following_expects_and_bad_values_mean_45() -> None:
    run = Run(["TIMEOUT", "2", "OK", ""])
    run.advance(2)
    assert run.exit_code == 3
    assert LogLine("timeout set to 2 seconds") in run.outputs
    bad = Run(["TIMEOUT", "soon", "OK", ""])
    bad.advance(44)
    assert bad.exit_code is None
    bad.advance(1)
    assert bad.exit_code == 3


def test_zero_timeout_option_waits_without_an_alarm_as_chat_does() -> None:
    run = Run(["OK", ""], timeout=0)
    assert run.chat.get_timer() is None


def test_report_writes_the_string_and_the_rest_of_its_line() -> None:
    run = Run(["REPORT", "CONNECT", "", "ATD1", "CONNECT", ""])
    run.modem(b"\r\nCONNECT 33600/ARQ\r\n")
    assert run.exit_code == 0
    assert run.of(Report) == [Report("CONNECT 33600/ARQ")]


def test_report_at_the_end_reads_on_through_what_was_received() -> None:
    run = Run(["REPORT", "CARRIER", "CARRIER", ""])
    run.modem(b"CARRIER 28800")
    assert run.exit_code == 0
    assert run.of(Report) == [Report("CARRIER 28800")]
    assert run.chat.leftover == b""


def test_clr_report_stops_reporting() -> None:
    run = Run(["REPORT", "CONNECT", "CLR_REPORT", "CONNECT", "CONNECT", ""])
    run.modem(b"CONNECT 9600\r")
    assert run.of(Report) == [] and run.exit_code == 0


def test_say_goes_to_the_user_with_escapes() -> None:
    run = Run(["SAY", "Dialling...\\n", "", "ATZ\\c"])
    assert run.of(Say) == [Say("Dialling...\n")]
    assert run.sent == b"ATZ"


def test_echo_on_shows_modem_output_and_off_hides_it() -> None:
    run = Run(["ECHO", "ON", "OK", "", "ECHO", "OFF", "OK", ""])
    run.modem(b"OK\r\nOK")
    assert run.of(Echo) == [Echo(b"OK")]
    assert run.exit_code == 0


def test_hangup_on_is_an_io_error_and_off_keeps_waiting() -> None:
    fatal = Run(["OK", ""])
    fatal.chat.hangup(fatal.now)
    fatal.chat.drain()
    assert fatal.exit_code == 2

    callback = Run(["HANGUP", "OFF", "OK", "", "HANGUP", "ON", "OK", ""])
    callback.chat.hangup(callback.now)
    assert callback.exit_code is None
    callback.modem(b"OK")
    callback.chat.hangup(callback.now)
    assert callback.exit_code == 2


def test_io_error_exits_2() -> None:
    run = Run(["OK", ""])
    run.chat.io_error(0.0)
    assert run.exit_code == 2


def test_eot_and_break_are_special_sends() -> None:
    run = Run(["", "EOT", "", "BREAK"])
    assert run.sent == b"\x04"
    assert run.of(SendBreak) == [SendBreak()]


def test_too_long_abort_string_exits_1() -> None:
    run = Run(["ABORT", "X" * 50, "", "ATZ"])
    assert run.exit_code == 1 and run.sent == b""


def test_too_many_abort_strings_exits_2() -> None:
    words: list[str] = []
    for number in range(51):
        words += ["ABORT", f"A{number}"]
    assert Run(words).exit_code == 2


def test_too_long_expect_string_exits_1() -> None:
    assert Run(["X" * 1100, ""]).exit_code == 1


def test_quiet_send_is_not_logged() -> None:
    run = Run(["", "\\qsecret"])
    assert LogLine("send (??????)") in run.outputs
    assert not any(isinstance(o, LogLine) and "secret" in o.text for o in run.outputs)


def test_at_file_sends_the_file_contents_without_its_newline() -> None:
    run = Run(["", "@/pw"], read_file=lambda path: {"/pw": "hunter2\n"}[path])
    assert run.sent == b"hunter2\r"

    def missing(path: str) -> str:
        raise FileNotFoundError(2, "No such file or directory", path)

    assert Run(["", "@/nope"], read_file=missing).exit_code == 1


def test_char_delay_types_slowly_like_chat() -> None:
    run = Run(["", "AT\\c"], char_delay=0.01)
    assert run.sent == b""
    run.advance(0.01)
    assert run.sent == b"A"
    run.advance(0.01)
    assert run.sent == b"AT" and run.exit_code == 0


def test_parity_bit_is_stripped_before_matching() -> None:
    run = Run(["OK", ""])
    run.modem(bytes([ord("O") | 0x80, ord("K") | 0x80]))
    assert run.exit_code == 0


def test_a_long_stream_without_match_keeps_bounded_memory() -> None:
    run = Run(["NEVER", ""], timeout=10)
    for _ in range(200):
        run.modem(b"noise " * 100)
    assert len(run.chat._window) <= 1024 + 1
    run.modem(b"NEVER")
    assert run.exit_code == 0


def test_script_ending_with_a_keyword_is_success() -> None:
    assert Run(["ABORT"]).exit_code == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["", "OK", "ABORT", "BUSY", "TIMEOUT", "1", "a-b-c", "^", "\\"])),
    st.lists(st.binary(max_size=32), max_size=10),
)
def test_interpreter_never_raises_on_any_script_and_input(
    words: list[str], chunks: list[bytes]
) -> None:
    run = Run(words, timeout=1)
    for chunk in chunks:
        run.modem(chunk)
        run.advance(0.5)
    run.advance(100)
    assert run.chat.done
    assert run.exit_code is not None and 0 <= run.exit_code <= 54
