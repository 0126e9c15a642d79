"""Errors a user can act on: one line each, naming what is wrong and the fix.

Every error derives from ``WanctlError`` (defined at the bottom layer, in
``wanminiport.exitcodes``, so the miniport's and NDISWAN's errors share it)
and carries the pppd exit code the command line ends with (``exit_code``).
``UsageError`` and its family are option and profile mistakes (exit code 2,
as pppd's EXIT_OPTION_ERROR); their ``str()`` is a single line, whatever the
offending value contains, so a log or a terminal never shows half an error.
"""

from __future__ import annotations

from collections.abc import Iterable

from wanminiport.exitcodes import ExitCode
from wanminiport.exitcodes import WanctlError as WanctlError
from wanminiport.exitcodes import one_line as one_line

#: Values quoted in messages are cut to this many characters.
_MAX_SHOWN = 60


def show(value: object) -> str:
    """A value quoted for a message: repr-like, one line, bounded in length."""
    text = repr(value) if isinstance(value, str) else one_line(str(value))
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    return one_line(text)


class UsageError(WanctlError):
    """A wrong option value: ``option: message; fix``, on one line.

    ``option`` is what the user wrote: ``--mru`` on the command line, the
    key ``mru`` in a profile, or a pppd option name.
    """

    exit_code = ExitCode.OPTION_ERROR

    def __init__(self, option: str, message: str, fix: str = "") -> None:
        super().__init__(option, message, fix)
        self.option = option
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        text = f"{self.option}: {self.message}"
        if self.fix:
            text += f"; {self.fix}"
        return one_line(text)


class ProfileError(UsageError):
    """A bad line in a profile: ``FILE:LINE: key 'K': message; fix``.

    ``line`` is None when the place is not known (a key added by an include,
    or a problem with the file as a whole).
    """

    def __init__(
        self, path: str, key: str, message: str, fix: str = "", line: int | None = None
    ) -> None:
        super().__init__(key, message, fix)
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        what = f"key {self.option!r}: " if self.option else ""
        text = f"{where}: {what}{self.message}"
        if self.fix:
            text += f"; {self.fix}"
        return one_line(text)


class ProfilePermissionError(ProfileError):
    """A profile holding a password that other users could read."""


class PppdImportError(ProfileError):
    """A pppd options file or chat script that cannot be read or parsed."""


class UsageErrors(WanctlError):
    """Several usage errors found in one pass; ``str()`` has one line per error."""

    exit_code = ExitCode.OPTION_ERROR

    def __init__(self, errors: Iterable[UsageError]) -> None:
        self.errors = list(errors)
        super().__init__(*self.errors)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class ControlError(WanctlError):
    """The control socket of a link could not be used."""


class LinkNotRunningError(ControlError):
    """No process answers on the link's control socket."""


class ControlPermissionError(ControlError):
    """The caller may not control the link (not root, not in the socket's group)."""

    exit_code = ExitCode.NOT_ROOT


class ControlProtocolError(ControlError):
    """A request or response on the control socket was malformed."""
