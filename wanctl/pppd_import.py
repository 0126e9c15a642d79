"""``import-pppd``: turn a pppd peers file and its chat script into a wanctl profile.

    wanctl import-pppd /etc/ppp/peers/isp  ->  TOML text for /etc/wanctl/isp.toml

Options are read as pppd reads them (see ``pppd_words``), ``file`` and
``call`` included, later options overriding earlier ones.  A ``connect``
that runs chat becomes the profile's ``connect`` script: the chat file's
text, or the inline expect-send words, with ``-t`` turned into ``TIMEOUT``
and ``-T`` into ``number`` (the script's ``\\T`` is then dialled as that
number).  Everything that cannot be translated is listed in ``warnings``,
one line each, and also written as a comment at the end of the profile;
nothing is dropped silently.

``root`` treats absolute paths in the files as relative to another tree, to
import from a mounted old system (``--root /mnt/old``) or from test data.
"""

from __future__ import annotations

import getopt
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wanctl import values as v
from wanctl.errors import PppdImportError, UsageErrors
from wanctl.options import OPTIONS_BY_NAME, OptionLayer, merge_options, to_profile_value
from wanctl.pppd_words import PPPD_OPTIONS, Word, split_words
from wanctl.profiles import render_profile

PEERS_DIR = "/etc/ppp/peers"
#: Options files and chat scripts larger than this are not read.
MAX_FILE_BYTES = 256 * 1024
_MAX_DEPTH = 8
_NO_OP_COMMANDS = ("true", "/bin/true", "/usr/bin/true", ":")
_SHELL_OPERATORS = set("();<>|&")
_TTY_NAME_RE = re.compile(r"^(tty|cua|rfcomm|ircomm)[\w.-]*$")


@dataclass
class ImportResult:
    """What an import produced: profile values, and everything it could not translate."""

    source: Path
    #: Profile key -> value as TOML holds it, in the order pppd set them.
    values: dict[str, Any] = field(default_factory=dict)
    #: One line each: ``FILE:LINE: option: why it was not translated``.
    warnings: list[str] = field(default_factory=list)
    #: Options whose effect wanctl has anyway, kept as profile comments.
    notes: list[str] = field(default_factory=list)
    #: Every file read, in order.
    files: list[Path] = field(default_factory=list)

    @property
    def has_password(self) -> bool:
        return "password" in self.values

    def to_toml(self) -> str:
        header = [f"Imported from {self.source} by wanctl import-pppd."]
        if len(self.files) > 1:
            header.append("Read: " + ", ".join(str(f) for f in self.files))
        if self.has_password:
            header.append("Holds a password: keep this file mode 600 (chmod 600 FILE).")
        footer: list[str] = []
        if self.notes:
            footer.append("pppd options wanctl needs no setting for:")
            footer.extend(f"  {note}" for note in self.notes)
        if self.warnings:
            footer.append("NOT TRANSLATED (check these by hand):")
            footer.extend(f"  {warning}" for warning in self.warnings)
        return render_profile(self.values, header, footer)


class _Importer:
    def __init__(self, source: Path, root: Path | None, peers_dir: str) -> None:
        self.root = root
        self.peers_dir = peers_dir
        self.result = ImportResult(source=source)
        self.layer = OptionLayer(f"pppd {source}")
        self.set_at: dict[str, str] = {}
        self.stack: list[Path] = []

    # paths: absolute names inside the files are resolved under ``root``
    def resolve(self, name: str, relative_to: Path) -> Path:
        path = Path(name)
        if path.is_absolute():
            # lstrip, not relative_to("/"): pathlib keeps POSIX's leading "//".
            return self.root / str(path).lstrip("/") if self.root is not None else path
        return relative_to.parent / path

    def read(self, path: Path, what: str, origin: str, line: int) -> str | None:
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            self.warn(origin, line, what, f"{path} cannot be read ({exc.strerror})")
            return None
        except ValueError:  # a NUL in the name: no such file can exist
            self.warn(origin, line, what, f"{str(path)!r} is not a file name (it holds a NUL)")
            return None
        if len(data) > MAX_FILE_BYTES:
            self.warn(origin, line, what, f"{path} is larger than {MAX_FILE_BYTES} bytes")
            return None
        self.result.files.append(path)
        return data.decode("utf-8", errors="replace")

    def warn(self, origin: str, line: int, option: str, why: str) -> None:
        self.result.warnings.append(f"{origin}:{line}: {option}: {why}")

    def note(self, origin: str, line: int, option: str, why: str) -> None:
        self.result.notes.append(f"{origin}:{line}: {option}: {why}")

    def run_file(self, path: Path, origin_line: tuple[str, int] | None = None) -> None:
        if "\0" in str(path):
            origin, line = origin_line or (str(path), 0)
            self.warn(origin, line, "file", f"{str(path)!r} is not a file name (it holds a NUL)")
            return
        if path.resolve() in (p.resolve() for p in self.stack) or len(self.stack) >= _MAX_DEPTH:
            origin, line = origin_line or (str(path), 0)
            self.warn(
                origin,
                line,
                "file",
                f"{path} is already being read (an include loop); not read again",
            )
            return
        if origin_line is None:
            try:
                text = path.read_bytes()[: MAX_FILE_BYTES + 1].decode("utf-8", errors="replace")
            except OSError as exc:
                raise PppdImportError(
                    str(path),
                    "",
                    f"cannot be read ({exc.strerror})",
                    "check the path (e.g. /etc/ppp/peers/NAME)",
                ) from None
            self.result.files.append(path)
        else:
            maybe = self.read(path, "file", *origin_line)
            if maybe is None:
                return
            text = maybe
        self.stack.append(path)
        try:
            self.run_words(split_words(text, str(path)), path)
        finally:
            self.stack.pop()

    def run_words(self, words: list[Word], path: Path) -> None:
        origin = str(path)
        i = 0
        while i < len(words):
            word = words[i]
            i += 1
            entry = PPPD_OPTIONS.get(word.text)
            if entry is None:
                self.positional(word, origin)
                continue
            arity, action = entry
            if i + arity > len(words):
                raise PppdImportError(
                    origin,
                    word.text,
                    "needs an argument but the file ends",
                    f"give it a value: {word.text} VALUE",
                    word.line,
                )
            arg = words[i].text if arity else None
            i += arity
            self.apply(word, arg, action, path)

    def positional(self, word: Word, origin: str) -> None:
        text = word.text
        if text.startswith("/") or _TTY_NAME_RE.match(text):
            self.set_value("device", text, word, origin)
        elif text.isdigit():
            self.set_value("baud", text, word, origin)
        elif ":" in text and not text.startswith("-"):
            self.set_value("ip", text, word, origin)
        else:
            self.warn(origin, word.line, text, "unknown pppd option; not translated")

    def apply(self, word: Word, arg: str | None, action: tuple[Any, ...], path: Path) -> None:
        origin = str(path)
        kind = action[0]
        if kind == "set":
            _, key, const = action
            shown = f"{word.text} {arg}" if arg is not None else word.text
            self.set_value(key, const if const is not None else arg, word, origin, shown)
        elif kind == "note":
            self.note(origin, word.line, word.text, action[1])
        elif kind == "warn":
            shown = f"{word.text} {arg}" if arg is not None else word.text
            self.warn(origin, word.line, shown, action[1])
        elif kind in ("file", "call"):
            assert arg is not None
            target = (
                self.resolve(f"{self.peers_dir}/{arg}", path)
                if kind == "call"
                else self.resolve(arg, path)
            )
            if kind == "call" and ("/" in arg or arg.startswith(".")):
                self.warn(origin, word.line, f"call {arg}", "not a peer name; not read")
                return
            self.run_file(target, (origin, word.line))
        elif kind == "connect":
            assert arg is not None
            self.connect(arg, word, path)
        elif kind == "init":
            self.warn(
                origin,
                word.line,
                f"init {arg}",
                "init scripts are not translated; put"
                ' the modem\'s command in init = "AT..." or in the connect script',
            )

    def set_value(
        self, key: str, raw: object, word: Word, origin: str, shown: str | None = None
    ) -> None:
        spec = OPTIONS_BY_NAME[key]
        if key == "ms-dns":
            earlier = self.layer.values.get("ms_dns", ())
            raw = [*(str(a) for a in earlier), raw]
        # pppd lets a later option override an earlier one; forget the earlier spelling.
        for name in ("local_ip", "remote_ip") if key == "ip" else (spec.field,):
            self.layer.spelled.pop(name, None)
        try:
            self.layer.set(spec, raw, textual=True, spelled=f"{word.text} ({origin}:{word.line})")
        except v.BadValue as exc:
            fix = f"; {exc.fix}" if exc.fix else ""
            self.warn(origin, word.line, shown or word.text, f"{exc.message}{fix}; not translated")

    # connect "chat ..." -----------------------------------------------------------------
    def connect(self, command: str, word: Word, path: Path) -> None:
        origin = str(path)
        shown = f"connect {command!r}"
        try:
            lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            argv = list(lexer)
        except ValueError as exc:
            self.warn(origin, word.line, shown, f"cannot be split as a command ({exc})")
            return
        if not argv or argv[0] in _NO_OP_COMMANDS:
            self.note(origin, word.line, shown, "a direct line needs no connect script")
            return
        if os.path.basename(argv[0]) != "chat":
            self.warn(
                origin,
                word.line,
                shown,
                "runs a program other than chat; write its dialogue as a chat script in connect",
            )
            return
        if (
            "`" in command
            or "$(" in command
            or any(tok and set(tok) <= _SHELL_OPERATORS for tok in argv)
        ):
            self.warn(
                origin,
                word.line,
                shown,
                "uses shell syntax around chat; write the dialogue as a chat script in connect",
            )
            return
        try:
            flags, script_words = getopt.getopt(argv[1:], "eEf:r:sSt:T:U:vV")
        except getopt.GetoptError as exc:
            self.warn(origin, word.line, shown, f"chat option error: {exc}")
            return
        prefix: list[str] = []
        chat_file: str | None = None
        for flag, value in flags:
            if flag == "-f":
                chat_file = value
            elif flag == "-t":
                prefix.append(f"TIMEOUT {value}")
            elif flag == "-e":
                prefix.append("ECHO ON")
            elif flag == "-T":
                self.set_value(
                    "number", value, Word("chat -T", word.line), origin, f"chat -T {value}"
                )
            elif flag == "-E":
                self.warn(
                    origin,
                    word.line,
                    "chat -E",
                    "environment variables are not substituted; write their values into the script",
                )
            elif flag in ("-v", "-V", "-s", "-S"):
                self.note(origin, word.line, f"chat {flag}", "logging: use wanctl's debug")
            else:
                self.warn(origin, word.line, f"chat {flag} {value}".strip(), "no wanctl equivalent")
        if chat_file is not None and script_words:
            self.warn(
                origin,
                word.line,
                shown,
                "chat was given both -f and a script; only"
                " the file is used, as chat itself would refuse it",
            )
        if chat_file is not None:
            body = self.read(self.resolve(chat_file, path), "chat -f", origin, word.line)
            if body is None:
                self.result.warnings[-1] += "; the profile names the script by path instead"
                if prefix:
                    self.warn(
                        origin,
                        word.line,
                        "chat " + " ".join(prefix),
                        "add it to the chat script by hand",
                    )
                self.set_value("connect", chat_file, Word("connect", word.line), origin)
                return
        else:
            body = " ".join(_chat_quote(w) for w in script_words) + "\n"
        script = "".join(p + "\n" for p in prefix) + body
        if v.is_chat_path(script):
            script = "\n" + script
        if "\\U" in script:
            self.warn(origin, word.line, "chat \\U", "a second phone number is not supported")
        if "\\T" in script and not self.layer.values.get("number"):
            self.warn(
                origin,
                word.line,
                "chat \\T",
                "the script dials \\T but no number was given (chat -T); set number",
            )
        self.set_value("connect", script, Word("connect", word.line), origin)

    def finish(self) -> ImportResult:
        for name, value in self.layer.values.items():
            key = name.replace("_", "-")
            self.result.values[key] = to_profile_value(value)
        try:
            merge_options(self.layer)
        except UsageErrors as exc:
            for err in exc.errors:
                self.result.warnings.append(f"{self.result.source}: {err}")
        return self.result


def _chat_quote(word: str) -> str:
    """A chat expect/send string written back as chat reads it."""
    if word and not any(ch.isspace() or ch in "'\"" for ch in word):
        return word
    if "'" not in word:
        return f"'{word}'"
    return '"' + word.replace('"', '\\"') + '"'


def import_pppd(
    path: str | os.PathLike[str],
    root: str | os.PathLike[str] | None = None,
    peers_dir: str = PEERS_DIR,
) -> ImportResult:
    """Translate the pppd options file ``path`` (and what it includes) into profile values.

    Raises ``PppdImportError`` when the file itself cannot be read or parsed
    (an unclosed quote, an option whose argument is missing); everything
    else that cannot be carried over becomes a warning line.
    """
    source = Path(path)
    importer = _Importer(source, Path(root) if root is not None else None, peers_dir)
    importer.run_file(source)
    return importer.finish()
