"""A chat(8) interpreter without I/O, so pppd users keep their scripts.

``ChatInterpreter`` runs a list of words (from ``parse_chat_file`` or an
argv-like list) with chat's semantics: expect/send pairs, sub-expects
(``ogin:-BREAK-ogin:``), the keywords ABORT, CLR_ABORT, REPORT, CLR_REPORT,
TIMEOUT, ECHO, SAY and HANGUP (recognised in an expect position, their
argument taking the send position), EOT and BREAK as sends, and chat's exit
codes:

==== ========================================================
0    the script ran to its end
1    invalid parameters (too-long ABORT/REPORT/expect strings)
2    I/O error, or a hang-up while HANGUP is ON; too many ABORTs
3    an expect timed out with no sub-send left
4+n  the (n+1)-th ABORT string (counted after CLR_ABORT) was seen
==== ========================================================

Feed received bytes with ``receive_data(data, now)``, fire ``handle_timer``
at ``get_timer()``, drain ``drain()`` (``Transmit``, ``SendBreak``, ``Say``,
``Report``, ``Echo``, ``LogLine``, ``Finished``).  Bytes that arrive while
sending or pausing wait for the next expect, as they would in the tty's
buffer; bytes after the last match are ``leftover`` (the data phase's).

Protocol core: no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from wanminiport.mcm.chat_script import (
    DEFAULT_TIMEOUT,
    KEYWORDS,
    MAX_ABORT_LEN,
    MAX_ABORTS,
    MAX_REPORTS,
    STR_LEN,
    Break,
    ChatScriptError,
    Pause,
    SendPiece,
    expect_bytes,
    send_pieces,
    split_subexpect,
    visible,
)
from wanminiport.sansio import LogLine, Transmit

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_IO_ERROR = 2
EXIT_TIMEOUT = 3
EXIT_FIRST_ABORT = 4

#: Bytes kept while nobody expects (the tty buffer's stand-in).
MAX_PENDING_INPUT = 65536


@dataclass(frozen=True)
class SendBreak:
    pass


@dataclass(frozen=True)
class Say:
    """Text for the user (chat writes it to stderr)."""

    text: str


@dataclass(frozen=True)
class Report:
    """A REPORT string and what followed it up to a control character."""

    text: str


@dataclass(frozen=True)
class Echo:
    """Modem output to show the user while ECHO is ON."""

    data: bytes


@dataclass(frozen=True)
class Finished:
    exit_code: int
    reason: str = ""


#: ``Transmit``: bytes for the modem; ``LogLine``: a line of chat's ``-v`` log.
ChatOutput = Transmit | SendBreak | Say | Report | Echo | LogLine | Finished


class _State(enum.Enum):
    RUNNING = "running"
    EXPECTING = "expecting"
    PAUSED = "paused"
    DONE = "done"


class ChatInterpreter:
    """One run of a chat script."""

    def __init__(
        self,
        words: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        phone: str | None = None,
        phone2: str | None = None,
        echo: bool = False,
        char_delay: float = 0.0,
        read_file: Callable[[str], str] | None = None,
    ) -> None:
        """``timeout``: chat's ``-t`` (0 waits forever, as chat's alarm(0) does).

        ``char_delay`` spaces the characters of each send (chat types at
        10 ms per character; most modems do not need it).  ``read_file``
        resolves ``@file`` sends; without it they are sent literally.
        """
        self.words = list(words)
        self.timeout = timeout
        self.phone = phone
        self.phone2 = phone2
        self.echo = echo
        self.char_delay = char_delay
        self.read_file = read_file
        self.aborts: list[bytes] = []
        self.reports: list[bytes | None] = []
        self.hangup_is_fatal = True
        self.exit_code: int | None = None
        self._state = _State.RUNNING
        self._index = 0
        self._keyword: str | None = None
        self._outputs: list[ChatOutput] = []
        self._deadline: float | None = None
        self._input = bytearray()
        self._window = bytearray()
        self._logged = bytearray()
        self._alternatives: list[str] = []
        self._expect = b""
        self._send_queue: list[SendPiece] = []
        self._gathering: bytearray | None = None
        self._started = False

    # -- driving -----------------------------------------------------------

    def start(self, now: float) -> None:
        if not self._started:
            self._started = True
            self._run(now)

    def receive_data(self, data: bytes, now: float) -> None:
        if len(self._input) + len(data) > MAX_PENDING_INPUT:
            # Keep the newest bytes: an expect looks at the end of the stream.
            del self._input[: max(0, len(self._input) + len(data) - MAX_PENDING_INPUT)]
        self._input += data[-MAX_PENDING_INPUT:]
        if self._state is _State.EXPECTING:
            self._scan(now)
            self._run(now)

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        self._deadline = None
        if self._state is _State.PAUSED:
            self._state = _State.RUNNING
            self._flush_send(now)
        elif self._state is _State.EXPECTING:
            self._log("alarm")
            self._expect_failed(now, EXIT_TIMEOUT, "")
        self._run(now)

    def hangup(self, now: float) -> None:
        """The line hung up (chat's SIGHUP); fatal unless ``HANGUP OFF``."""
        if self.hangup_is_fatal and self._state is not _State.DONE:
            self._finish(EXIT_IO_ERROR, "SIGHUP")

    def io_error(self, now: float, reason: str = "I/O error") -> None:
        if self._state is not _State.DONE:
            self._finish(EXIT_IO_ERROR, reason)

    def drain(self) -> list[ChatOutput]:
        """Every output since the last call, oldest first."""
        outputs, self._outputs = self._outputs, []
        return outputs

    def get_timer(self) -> float | None:
        """When ``handle_timer`` should next run (a pause or an expect's timeout)."""
        return self._deadline

    @property
    def done(self) -> bool:
        return self._state is _State.DONE

    @property
    def leftover(self) -> bytes:
        """Received bytes no expect consumed (after the end: data-phase bytes)."""
        return bytes(self._input)

    # -- the word loop -----------------------------------------------------

    def _run(self, now: float) -> None:
        """Work through the words until one waits (for bytes or time) or the end."""
        if not self._started:
            return
        while self._state is _State.RUNNING:
            if self._index >= len(self.words):
                self._finish(EXIT_OK, "")
                return
            word = self.words[self._index]
            expect_slot = self._index % 2 == 0
            self._index += 1
            try:
                if expect_slot:
                    self._expect_word(word, now)
                else:
                    self._send_word(word, now)
            except ChatScriptError as error:
                self._log(str(error))
                self._finish(error.exit_code, str(error))

    def _expect_word(self, word: str, now: float) -> None:
        if word in KEYWORDS:
            self._keyword = word
            return
        self._alternatives = split_subexpect(word)
        self._next_expect(now)

    def _next_expect(self, now: float) -> None:
        if not self._alternatives:
            return  # the sub-send was the last part: success
        expect_text = self._alternatives.pop(0)
        expected = expect_bytes(expect_text)
        if len(expected) > STR_LEN:
            self._alternatives = []
            self._expect_failed(now, EXIT_INVALID, "expect string is too long")
            return
        self._log(f"expect ({visible(expected)})")
        if not expected:
            self._log("got it")
            self._alternatives = []
            return
        self._expect = expected
        self._window.clear()
        self._logged.clear()
        self._state = _State.EXPECTING
        self._set_deadline(now + self.timeout if self.timeout > 0 else None)
        self._scan(now)

    def _send_word(self, word: str, now: float) -> None:
        keyword, self._keyword = self._keyword, None
        if keyword is not None:
            self._keyword_argument(keyword, word)
            return
        self._queue_send(word, now)

    def _queue_send(self, word: str, now: float) -> None:
        if word == "EOT":
            word = "^D\\c"
        elif word == "BREAK":
            word = "\\K\\c"
        elif word.startswith("@") and self.read_file is not None:
            contents = self._file_contents(word[1:])
            if contents is None:
                return
            word = contents
        pieces, quiet = send_pieces(word, phone=self.phone, phone2=self.phone2)
        shown = b"".join(piece for piece in pieces if isinstance(piece, bytes))
        self._log("send (??????)" if quiet else f"send ({visible(shown)})")
        if self.char_delay > 0:
            pieces = _spaced(pieces, self.char_delay)
        self._send_queue = pieces
        self._flush_send(now)

    def _file_contents(self, path: str) -> str | None:
        assert self.read_file is not None
        try:
            text = self.read_file(path)
        except OSError as error:
            self._log(f"{path} -- open failed: {error.strerror}")
            self._finish(EXIT_INVALID, f"{path} -- open failed")
            return None
        return text[:-1] if text.endswith("\n") else text

    def _flush_send(self, now: float) -> None:
        while self._send_queue:
            piece = self._send_queue.pop(0)
            if isinstance(piece, bytes):
                self._emit(Transmit(piece))
            elif isinstance(piece, Break):
                self._emit(SendBreak())
            elif isinstance(piece, Pause):
                self._state = _State.PAUSED
                self._set_deadline(now + piece.seconds)
                return
        if self._state is _State.RUNNING and self._alternatives:
            # A sub-send finished: on to the next sub-expect.
            self._next_expect(now)

    def _keyword_argument(self, keyword: str, word: str) -> None:
        if keyword == "SAY":
            self._emit(Say(expect_bytes(word).decode("utf-8", "replace")))
        elif keyword == "HANGUP":
            self.hangup_is_fatal = word != "OFF"
        elif keyword == "ECHO":
            self.echo = word == "ON"
        elif keyword == "TIMEOUT":
            seconds = _atoi(word)
            self.timeout = float(seconds) if seconds > 0 else DEFAULT_TIMEOUT
            self._log(f"timeout set to {int(self.timeout)} seconds")
        elif keyword == "ABORT":
            if len(self.aborts) >= MAX_ABORTS:
                raise ChatScriptError("Too many ABORT strings", exit_code=EXIT_IO_ERROR)
            self.aborts.append(_short_string(word, "ABORT"))
            self._log(f"abort on ({word})")
        elif keyword == "CLR_ABORT":
            target = _short_string(word, "CLR_ABORT")
            # Later ABORT strings move up: their exit codes change, as in chat.
            self.aborts = [text for text in self.aborts if text != target]
            self._log(f"clear abort on ({word})")
        elif keyword == "REPORT":
            if len(self.reports) >= MAX_REPORTS:
                raise ChatScriptError("Too many REPORT strings", exit_code=EXIT_IO_ERROR)
            self.reports.append(_short_string(word, "REPORT"))
            self._log(f"report ({word})")
        elif keyword == "CLR_REPORT":
            target = _short_string(word, "REPORT")
            self.reports = [text for text in self.reports if text != target]
            self._log(f"clear report ({word})")

    # -- expecting ---------------------------------------------------------

    def _scan(self, now: float) -> None:
        expected = self._expect
        consumed = 0
        echoed = bytearray()
        for byte in self._input:
            consumed += 1
            char = byte & 0x7F  # chat strips parity
            if self.echo:
                echoed.append(char)
            self._window.append(char)
            self._log_received(char)
            self._check_reports(char)
            if self._window.endswith(expected):
                self._log(f"{visible(bytes(self._logged))} -- got it")
                self._state = _State.RUNNING
                self._deadline = None
                self._alternatives = []
                break
            abort = self._matching_abort()
            if abort is not None:
                del self._input[:consumed]
                self._flush_echo(echoed)
                self._log(f"{visible(bytes(self._logged))} -- failed")
                self._expect_failed(now, EXIT_FIRST_ABORT + abort, visible(self.aborts[abort]))
                return
            if len(self._window) > STR_LEN:
                # Keep what the longest string could still need, as chat does.
                del self._window[: len(self._window) - max(len(expected), MAX_ABORT_LEN + 1)]
        del self._input[:consumed]
        self._flush_echo(echoed)

    def _matching_abort(self) -> int | None:
        for number, text in enumerate(self.aborts):
            if text and self._window.endswith(text):
                return number
        return None

    def _check_reports(self, char: int) -> None:
        if self._gathering is not None:
            if char < 0x20 or char == 0x7F:
                self._emit(Report(self._gathering.decode("ascii", "replace")))
                self._gathering = None
            elif len(self._gathering) < 2 * MAX_ABORT_LEN:
                self._gathering.append(char)
            return
        for number, text in enumerate(self.reports):
            if text and self._window.endswith(text):
                # Each REPORT string reports once, as in chat.
                self.reports[number] = None
                self._gathering = bytearray(text)
                return

    def _expect_failed(self, now: float, code: int, reason: str) -> None:
        """chat's rule: a timeout moves on to a sub-send; anything else is fatal."""
        self._deadline = None
        if code == EXIT_TIMEOUT and len(self._alternatives) >= 1:
            send_text = self._alternatives.pop(0)
            self._state = _State.RUNNING
            self._queue_send(send_text, now)
            return
        self._log(f"Failed ({reason})" if reason else "Failed")
        self._finish(code, reason or "timeout")

    def _finish(self, code: int, reason: str) -> None:
        if self._gathering is not None:
            # chat reads on to the end of the report line before it exits.
            taken = 0
            for byte in self._input:
                if byte & 0x7F < 0x20 or byte & 0x7F == 0x7F:
                    break
                taken += 1
                self._gathering.append(byte & 0x7F)
            del self._input[:taken]
            self._emit(Report(self._gathering.decode("ascii", "replace")))
            self._gathering = None
        self._state = _State.DONE
        self._deadline = None
        self._send_queue = []
        self.exit_code = code
        self._emit(Finished(code, reason))

    # -- helpers -----------------------------------------------------------

    def _log_received(self, char: int) -> None:
        if char == 0x0A:
            self._log(visible(bytes(self._logged)))
            self._logged.clear()
        elif len(self._logged) < 80:
            self._logged.append(char)

    def _flush_echo(self, echoed: bytearray) -> None:
        if echoed:
            self._emit(Echo(bytes(echoed)))

    def _set_deadline(self, deadline: float | None) -> None:
        self._deadline = deadline

    def _log(self, text: str) -> None:
        self._emit(LogLine(text))

    def _emit(self, output: ChatOutput) -> None:
        self._outputs.append(output)


def _short_string(word: str, what: str) -> bytes:
    text = expect_bytes(word)
    if len(text) > MAX_ABORT_LEN:
        raise ChatScriptError(f"Illegal or too-long {what} string ('{word}')")
    return text


def _atoi(text: str) -> int:
    digits = ""
    for char in text.strip():
        if not char.isdigit() or not char.isascii():
            break
        digits += char
    return int(digits) if digits else 0


def _spaced(pieces: list[SendPiece], delay: float) -> list[SendPiece]:
    spaced: list[SendPiece] = []
    for piece in pieces:
        if isinstance(piece, bytes):
            for byte in piece:
                spaced += [Pause(delay), bytes([byte])]
        else:
            spaced.append(piece)
    return spaced
