"""Fuzzing what parses text from outside: the modem's AT output, chat scripts, profiles,
pppd options files, and control-socket requests.

Seeds are real: result lines as modems send them, the chat scripts and
pppd peers files kept as test data, profiles in the documented format.
Each input is a seed edited at random (bytes flipped, cut, spliced,
repeated) or plain random text.

Expected: a parser returns its result or raises its own documented error
(``ChatScriptError``, ``ProfileError``/``UsageErrors``, ``PppdImportError``;
a bad control request gets an error answer); the Hayes dialer and the chat
interpreter always end a request (a result, a failure or a timeout) and
their timers always move on; buffers stay bounded.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.budget import fuzz_settings, watchdog
from tests.fuzz.seeds import MODEM_OUTPUT, PROFILES, chat_scripts, peers_files
from wanctl.control import MAX_REQUEST_BYTES, ControlServer
from wanctl.errors import PppdImportError, UsageError, UsageErrors, WanctlError
from wanctl.options import merge_options
from wanctl.pppd_import import import_pppd
from wanctl.pppd_words import split_words
from wanctl.profiles import parse_profile_text
from wanminiport.mcm import ChatInterpreter, ChatScriptError, HayesDialer, parse_chat_file
from wanminiport.mcm.hayes import Stage
from wanminiport.mcm.results import ResultParser

edits = st.lists(
    st.tuples(
        st.sampled_from(["flip", "cut", "dup", "insert"]),
        st.integers(0, 1 << 16),
        st.binary(max_size=12),
    ),
    max_size=8,
)


def edit(data: bytes, changes: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, position, extra in changes:
        at = position % (len(out) + 1)
        if kind == "flip" and out:
            out[at % len(out)] ^= 1 << (position % 8)
        elif kind == "cut":
            del out[at : at + 1 + position % 32]
        elif kind == "dup":
            out[at:at] = out[at : at + 1 + position % 64]
        else:
            out[at:at] = extra
    return bytes(out)


def edited_text(seeds: tuple[str, ...] | tuple[bytes, ...]) -> st.SearchStrategy[str]:
    encoded = [s.encode() if isinstance(s, str) else s for s in seeds]
    return st.one_of(
        st.builds(
            lambda i, e: edit(encoded[i % len(encoded)], e).decode("utf-8", "replace"),
            st.integers(0, 100),
            edits,
        ),
        st.text(max_size=300),
    )


modem_chunks = st.lists(
    st.one_of(
        st.builds(edit, st.sampled_from(MODEM_OUTPUT), edits),
        st.binary(max_size=64),
    ),
    max_size=12,
)


# -- the Hayes dialer (AT result parser and the dial/answer/hang-up machine) --------


@fuzz_settings(1500)
@given(
    st.sampled_from(["dial", "answer", "hangup", "command"]),
    modem_chunks,
    st.lists(st.floats(0, 3), max_size=12),
)
def test_hayes_dialer_always_ends_what_it_started(
    request: str, chunks: list[bytes], gaps: list[float]
) -> None:
    """Expected: whatever the modem says, each request ends in a bounded time."""
    with watchdog("AT: Hayes dialer on mutated modem output"):
        dialer, now = HayesDialer(), 0.0
        if request == "dial":
            dialer.dial("5551234", now)
        elif request == "answer":
            dialer.answer(now, ring_timeout=30.0)
        elif request == "command":
            dialer.command("ATI3", now)
        else:
            dialer.dial("5551234", now)
            dialer.receive_data(b"\r\nOK\r\n\r\nOK\r\n\r\nCONNECT 9600\r\n", now)
            dialer.hangup(now, use_dtr=False)
        for index, chunk in enumerate(chunks):
            if dialer.stage is Stage.RINGING:
                dialer.accept(now)
            dialer.receive_data(chunk, now)
            dialer.drain()
            now += gaps[index] if index < len(gaps) else 0.1
            deadline = dialer.get_timer()
            if deadline is not None and deadline <= now:
                dialer.handle_timer(now)
                assert dialer.get_timer() is None or dialer.get_timer() > now
        for _ in range(20):  # silence: every stage must time out
            if dialer.get_timer() is None:
                break
            now = dialer.get_timer()
            dialer.handle_timer(now)
            dialer.drain()
        assert dialer.stage in (Stage.IDLE, Stage.ONLINE) or dialer.get_timer() is None
        assert len(dialer.parser.pending) <= dialer.parser.max_line


@fuzz_settings(500)
@given(modem_chunks)
def test_result_parser_keeps_at_most_one_line(chunks: list[bytes]) -> None:
    """Expected: lines come out, noise is counted, and never more than a line is held."""
    with watchdog("AT: result line parser"):
        parser = ResultParser()
        for chunk in chunks:
            parser.feed_until_connect(chunk)
            assert len(parser.pending) <= parser.max_line


# -- chat scripts ------------------------------------------------------------------


@fuzz_settings(1500)
@given(edited_text(chat_scripts()), modem_chunks)
@example(chat_scripts()[0], [b"\r\nOK\r\n", b"\r\nCONNECT 57600\r\n"])
def test_chat_scripts_parse_or_fail_cleanly_and_always_finish(
    text: str, chunks: list[bytes]
) -> None:
    """Expected: a script parses or raises ChatScriptError; run against any modem
    output it ends with one of chat's exit codes once its timeouts expire."""
    with watchdog("chat: script parser and interpreter"):
        try:
            words = parse_chat_file(text)
        except ChatScriptError:
            return
        chat, now = ChatInterpreter(words, timeout=2.0, phone="5551234"), 0.0
        chat.start(now)
        for chunk in chunks:
            chat.receive_data(chunk, now)
            chat.drain()
            now += 0.5
            if chat.get_timer() is not None and chat.get_timer() <= now:
                chat.handle_timer(now)
        for _ in range(len(words) + 10):
            if chat.done or chat.get_timer() is None:
                break
            now = max(now, chat.get_timer())
            chat.handle_timer(now)
            chat.drain()
        assert chat.done or chat.get_timer() is None
        assert chat.exit_code is None or 0 <= chat.exit_code <= 54


# -- profiles and pppd options files ---------------------------------------------------


@fuzz_settings(1500)
@given(edited_text(PROFILES))
@example("connect = '''\n'' 'ATZ\n'''\n")
@example("ms-dns = " + "[" * 5000)
def test_profiles_parse_or_fail_with_a_usage_error(text: str) -> None:
    """Expected: a profile gives options or errors naming file, line and fix."""
    with watchdog("profiles: TOML profile parser"):
        try:
            profile = parse_profile_text(text, "fuzz.toml", mode=0o600)
            options = merge_options(profile.layer)
            options.chat_words()
        except (UsageError, UsageErrors) as error:
            assert str(error).strip()


@fuzz_settings(300)
@given(edited_text(peers_files()), edited_text(chat_scripts()))
def test_pppd_options_files_import_or_fail_with_a_usage_error(peers: str, chat: str) -> None:
    """Expected: ``import-pppd`` translates a peers file (and its chat script) or says
    which line it cannot read; its words never exceed pppd's MAXWORDLEN."""
    with watchdog("profiles: pppd options file importer"), tempfile.TemporaryDirectory() as root:
        try:
            for word in split_words(peers, "peers"):
                assert len(word.text) <= 1024
        except PppdImportError:
            pass
        etc = Path(root, "etc")
        (etc / "ppp" / "peers").mkdir(parents=True)
        (etc / "chatscripts").mkdir()
        (etc / "chatscripts" / "isp").write_text(chat, errors="replace")
        peers_file = etc / "ppp" / "peers" / "isp"
        peers_file.write_text(peers, errors="replace")
        try:
            result = import_pppd(peers_file, root=root)
            result.to_toml()
        except (WanctlError, ValueError) as error:
            assert isinstance(error, WanctlError), f"not a usage error: {error!r}"


# -- control-socket requests ----------------------------------------------------------


requests = st.one_of(
    st.binary(max_size=MAX_REQUEST_BYTES),
    st.builds(
        lambda depth, kind: (kind * depth).encode(),
        st.integers(1, 4000),
        st.sampled_from(["[", '{"cmd":', '[{"a":']),
    ),
    st.sampled_from(
        [
            b'{"cmd": "status"}',
            b'{"cmd": "hangup"}',
            b'{"cmd": 1}',
            b"null",
            b'{"cmd": "status", "x": 1}',
            b'"\\ud800"',
            b"1e999999",
        ]
    ),
)


@fuzz_settings(1000)
@given(requests)
@example(b"[" * 3000)
def test_control_requests_always_get_an_answer(line: bytes) -> None:
    """Expected: every request line gets a JSON answer, ``ok`` or an error code."""
    server = ControlServer(
        "fuzz", lambda: {"phase": "dead"}, lambda: None, directory=Path(tempfile.gettempdir())
    )
    with watchdog("control socket: request parser"):
        answer = asyncio.run(server.handle_request(line))
    assert isinstance(answer, dict) and isinstance(answer.get("ok"), bool)
    if not answer["ok"]:
        assert answer["code"] in ("bad-request", "internal") and answer["error"]
