"""Profiles: TOML files holding link options, under the same names as the flags.

A profile ``isp`` is ``~/.config/wanctl/isp.toml`` (``$XDG_CONFIG_HOME`` is
honoured) or else ``/etc/wanctl/isp.toml``; ``--config PATH`` names a file
directly.  The user's own file comes first so a user can override a
system-wide profile without editing it.

Every problem in a file is reported, one line each, as
``FILE:LINE: key 'K': what is wrong; how to fix it`` -- unknown keys (with a
"did you mean"), wrong TOML types, bad values and TOML syntax errors.

Profiles steer a process that usually runs as root, so a profile must be a
regular file owned by root or by the user running wanctl and not writable
by group or others; one that holds a password must not be readable by
others either (``chmod 600``).
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wanctl import values as v
from wanctl.errors import ProfileError, ProfilePermissionError, UsageErrors, one_line
from wanctl.options import KEY_NAMES, OPTIONS, OPTIONS_BY_NAME, OptionLayer

SYSTEM_PROFILE_DIR = Path("/etc/wanctl")
PROFILE_SUFFIX = ".toml"
#: A profile larger than this is not a profile.
MAX_PROFILE_BYTES = 1024 * 1024
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KEY_LINE_RE = re.compile(r"""^\s*(?:\[\s*)?(["']?)([A-Za-z0-9_.-]+)\1\s*(?:=|\])""")
_TOML_POS_RE = re.compile(r"\(at line (\d+), column (\d+)\)")

#: pppd habits that are spelled differently in a profile.
_PPPD_SPELLINGS: dict[str, str] = {
    "speed": "baud = 115200",
    "crtscts": 'flow = "crtscts"',
    "nocrtscts": 'flow = "none"',
    "xonxoff": 'flow = "xonxoff"',
    "+ipv6": "ipv6 = true",
    "noipv6": "ipv6 = false",
    "auth": "noauth = false",
    "tty": 'device = "/dev/ttyS0"',
    "chat": 'connect = "/etc/chatscripts/NAME"',
}


def profile_search_path() -> list[Path]:
    """Where profiles are looked for, in order."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(
        os.path.expanduser("~"), ".config"
    )
    return [Path(config_home) / "wanctl", SYSTEM_PROFILE_DIR]


@dataclass
class Profile:
    """A loaded profile: its parsed options and where each key sits in the file."""

    name: str
    path: Path
    layer: OptionLayer
    lines: dict[str, int] = field(default_factory=dict)


def find_profile(
    name: str | None,
    config: str | os.PathLike[str] | None = None,
    search_path: Sequence[Path] | None = None,
) -> Path:
    """The file for profile ``name``, or ``config`` when given."""
    if config is not None:
        path = Path(config)
        if not path.exists():
            raise ProfileError(str(path), "", "no such file", "check the --config path")
        return path
    if name is None or not _NAME_RE.match(name):
        raise ProfileError(
            str(name),
            "",
            "is not a profile name",
            "use letters, digits, '.', '_' and '-' (or --config PATH for a file)",
        )
    dirs = list(search_path) if search_path is not None else profile_search_path()
    for directory in dirs:
        path = directory / f"{name}{PROFILE_SUFFIX}"
        if path.exists():
            return path
    tried = ", ".join(str(d / f"{name}{PROFILE_SUFFIX}") for d in dirs)
    raise ProfileError(
        name, "", f"no such profile (looked for {tried})", "create one there or give --config PATH"
    )


def open_profile(
    name: str | None,
    config: str | os.PathLike[str] | None = None,
    search_path: Sequence[Path] | None = None,
) -> Profile:
    """Find and load a profile (``find_profile`` then ``load_profile``)."""
    path = find_profile(name, config, search_path)
    return load_profile(path, name=name or path.stem)


def load_profile(path: str | os.PathLike[str], name: str | None = None) -> Profile:
    """Read, check and parse a profile file; raises ``ProfileError`` or ``UsageErrors``."""
    path = Path(path)
    label = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        raise ProfileError(
            label, "", f"cannot be read ({exc.strerror})", "check the path and its permissions"
        ) from None
    try:
        st = os.fstat(fd)
        _check_file_safe(label, st)
        data = b""
        while len(data) <= MAX_PROFILE_BYTES:
            chunk = os.read(fd, MAX_PROFILE_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) > MAX_PROFILE_BYTES:
        raise ProfileError(
            label,
            "",
            f"is larger than {MAX_PROFILE_BYTES} bytes",
            "a profile is a short list of options",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(
            label, "", f"is not UTF-8 text (byte {exc.start})", "save it as UTF-8"
        ) from None
    return parse_profile_text(text, label, name=name or path.stem, mode=st.st_mode)


def _check_file_safe(label: str, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise ProfileError(label, "", "is not a regular file", "point to a .toml file")
    if st.st_uid not in (0, os.geteuid()):
        raise ProfilePermissionError(
            label,
            "",
            f"is owned by uid {st.st_uid}, who could make this process run as root"
            " do anything the profile allows",
            f"run 'chown root {label}'",
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ProfilePermissionError(
            label,
            "",
            f"is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})",
            f"run 'chmod go-w {label}'",
        )


def parse_profile_text(text: str, label: str, name: str = "", mode: int | None = None) -> Profile:
    """Parse profile TOML; ``mode`` (the file's st_mode) enables the password check."""
    lines = _key_lines(text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(label, text, exc) from None
    except RecursionError:
        # tomllib recurses per nested array or inline table; no option needs more than one.
        raise ProfileError(
            label,
            "",
            "TOML syntax error: values nested too deeply",
            "an option's value is text, a number, true/false or a flat list",
        ) from None
    if mode is not None and "password" in data and mode & stat.S_IROTH:
        raise ProfilePermissionError(
            label,
            "password",
            f"is in a file every user can read (mode {stat.S_IMODE(mode):04o})",
            f"run 'chmod 600 {label}' so only its owner can read it",
            lines.get("password"),
        )
    layer = OptionLayer(f"profile {label}")
    errors: list[ProfileError] = []
    for key, value in data.items():
        line = lines.get(key)
        spec = KEY_NAMES.get(key)
        if spec is None:
            errors.append(ProfileError(label, key, "unknown key", _suggest(key), line))
            continue
        try:
            layer.set(spec, value, textual=False, spelled=key)
        except v.BadValue as exc:
            errors.append(ProfileError(label, key, exc.message, exc.fix, line))
    if errors:
        raise UsageErrors(errors)
    return Profile(name=name, path=Path(label), layer=layer, lines=lines)


def _key_lines(text: str) -> dict[str, int]:
    """First line of each top-level key or table header (tomllib gives no positions)."""
    found: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _KEY_LINE_RE.match(line)
        if match:
            key = match.group(2).split(".")[0]
            found.setdefault(key, number)
    return found


def _suggest(key: str) -> str:
    if key in _PPPD_SPELLINGS:
        return f"write {_PPPD_SPELLINGS[key]}"
    for spec in OPTIONS:
        if spec.is_bool and key == spec.negative:
            return f"write {spec.name} = false"
        if key in (name for name, _ in spec.consts):
            const = dict(spec.consts)[key]
            return f'write {spec.name} = "{const}"'
    dashed = key.replace("_", "-").lower()
    if dashed in KEY_NAMES:
        return f"did you mean {dashed!r}? (option names use dashes)"
    close = difflib.get_close_matches(key, list(KEY_NAMES), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "see 'wanctl --help' for the option names"


def _syntax_error(label: str, text: str, exc: tomllib.TOMLDecodeError) -> ProfileError:
    message = str(exc)
    match = _TOML_POS_RE.search(message)
    all_lines = text.splitlines()
    line = int(match.group(1)) if match else max(len(all_lines), 1)
    reason = _TOML_POS_RE.sub("", message).replace("(at end of document)", "").strip()
    source = all_lines[line - 1] if 0 < line <= len(all_lines) else ""
    return ProfileError(
        label, "", f"TOML syntax error: {reason}", _syntax_hint(reason, source), line
    )


def _syntax_hint(reason: str, source: str) -> str:
    value = source.split("=", 1)[1].strip() if "=" in source else ""
    if reason.startswith("Invalid value"):
        if value in ("True", "False", "yes", "no", "on", "off"):
            return "booleans are written true or false, in lower case"
        if value and not value.startswith(("'", '"', "[")):
            return f'put text in double quotes: {source.split("=", 1)[0].strip()} = "{value}"'
        return 'check the value: text in "quotes", numbers bare, lists in [ ]'
    if reason.startswith(("Cannot overwrite", "Cannot declare")):
        return "each key may appear only once; remove the repeated line"
    if reason.startswith("Expected '='"):
        return "write key = value"
    if reason.startswith("Expected newline"):
        return "one key = value per line; put text in double quotes"
    if "Unterminated" in reason or reason.startswith(('Expected "', "Illegal character")):
        return 'close the quote on the same line (use """ for text over several lines)'
    return "see https://toml.io for the syntax"


# --- writing ----------------------------------------------------------------------------


def render_profile(
    values: Mapping[str, Any], header: Sequence[str] = (), footer: Sequence[str] = ()
) -> str:
    """TOML text for option values keyed by option name, in the table's order."""
    out = [f"# {one_line(line)}" if line else "#" for line in header]
    if header:
        out.append("")
    order = {spec.name: i for i, spec in enumerate(OPTIONS)}
    for key in sorted(values, key=lambda k: order.get(k, len(order))):
        if key not in OPTIONS_BY_NAME:
            raise ValueError(f"not an option: {key!r}")
        out.append(f"{key} = {_toml_value(key, values[key])}")
    if footer:
        out.append("")
        out.extend(f"# {one_line(line)}" for line in footer)
    return "\n".join(out) + "\n"


def _toml_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"0x{value:08x}" if key == "asyncmap" else str(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        if key == "escape":
            return "[" + ", ".join(f"0x{int(c):02x}" for c in value) + "]"
        return "[" + ", ".join(_toml_value(key, item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} for {key}")


def _toml_string(value: str) -> str:
    multi = "\n" in value.rstrip("\n")
    printable = all(c in "\n\t" or (ord(c) >= 0x20 and ord(c) != 0x7F) for c in value)
    if multi and printable and "'''" not in value and value.endswith("\n"):
        # A literal block keeps chat scripts readable: backslashes (\T, \d) stay as written.
        return "'''\n" + value + "'''"
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def save_profile(path: str | os.PathLike[str], text: str, overwrite: bool = False) -> None:
    """Write profile text: mode 0600 if it holds a password, else 0644.

    The file is created under a temporary name with its final mode and then
    renamed, so it is never visible with looser permissions.
    """
    path = Path(path)
    mode = 0o600 if "password" in tomllib.loads(text) else 0o644
    if path.exists() and not overwrite:
        raise ProfileError(str(path), "", "already exists", "choose another name or remove it")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
