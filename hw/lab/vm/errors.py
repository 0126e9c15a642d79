"""Errors of the VM rig, each saying what to do about it."""

from __future__ import annotations


def shorten(text: str, limit: int = 200) -> str:
    """``repr`` of ``text``, cut in the middle when longer than ``limit`` characters."""
    if len(text) <= limit:
        return repr(text)
    half = limit // 2
    return f"{text[:half]!r} ... ({len(text) - limit} characters) ... {text[-half:]!r}"


class VmError(Exception):
    """Anything that went wrong building, booting or driving the VM."""


class VmUnavailable(VmError):
    """A host part the VM needs is not installed.

    ``package`` names the Debian package that provides it, so a test can
    skip (or CI fail) with a message a person can act on.
    """

    def __init__(self, what: str, package: str) -> None:
        super().__init__(
            f"{what}; install the Debian package {package!r} (apt-get install {package})"
        )
        self.what = what
        self.package = package


class VmBootError(VmError):
    """qemu did not start or the guest did not reach its command agent."""


class GuestTimeout(VmError):
    """A guest command outlived its timeout (the guest killed it)."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


class GuestCommandError(VmError):
    """A guest command run with ``check=True`` exited non-zero."""

    def __init__(self, command: str, status: int, output: str) -> None:
        tail = output[-2000:]
        super().__init__(f"guest command failed with status {status}: {shorten(command)}\n{tail}")
        self.command = command
        self.status = status
        self.output = output
