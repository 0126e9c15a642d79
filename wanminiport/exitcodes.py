"""pppd's exit codes, and the one error type that ends the program with one.

The codes are shared by every layer so scripts written around pppd read ours
the same way.  Every error that ends the program derives from
``WanctlError`` and carries its ``exit_code``; the command line catches that
one type, prints its one-line ``str()`` and exits with the code.

The numbers follow pppd(8), section EXIT STATUS (0-19), and pppd.h for the
two the manual leaves out: 20 (traffic limit reached, built with MAXOCTETS)
and 21 (calling number not authorised).
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The exit status of a wanctl process, numbered as pppd numbers it."""

    OK = 0
    FATAL_ERROR = 1
    OPTION_ERROR = 2
    NOT_ROOT = 3
    NO_KERNEL_SUPPORT = 4
    USER_REQUEST = 5
    LOCK_FAILED = 6
    OPEN_FAILED = 7
    CONNECT_FAILED = 8
    PTYCMD_FAILED = 9
    NEGOTIATION_FAILED = 10
    PEER_AUTH_FAILED = 11
    IDLE_TIMEOUT = 12
    CONNECT_TIME = 13
    CALLBACK = 14
    PEER_DEAD = 15
    HANGUP = 16
    LOOPBACK = 17
    INIT_FAILED = 18
    AUTH_TOPEER_FAILED = 19
    TRAFFIC_LIMIT = 20
    CNID_AUTH_FAILED = 21

    @property
    def description(self) -> str:
        """What the status means, in a sentence a log line can carry."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS: dict[ExitCode, str] = {
    ExitCode.OK: "detached, or the link came up and the peer ended it",
    ExitCode.FATAL_ERROR: "a fatal error (a system call failed, out of memory, ...)",
    ExitCode.OPTION_ERROR: "an option or profile value is wrong",
    ExitCode.NOT_ROOT: "not permitted: needs root or membership of the link's group",
    ExitCode.NO_KERNEL_SUPPORT: "the kernel lacks what the link needs (TUN, PPP)",
    ExitCode.USER_REQUEST: "ended on request (SIGINT, SIGTERM, SIGHUP or hangup)",
    ExitCode.LOCK_FAILED: "the serial port could not be locked",
    ExitCode.OPEN_FAILED: "the serial port could not be opened",
    ExitCode.CONNECT_FAILED: "the connect (chat) script failed",
    ExitCode.PTYCMD_FAILED: "the pty command could not be run",
    ExitCode.NEGOTIATION_FAILED: "PPP negotiation failed before any network protocol ran",
    ExitCode.PEER_AUTH_FAILED: "the peer failed or refused to authenticate itself",
    ExitCode.IDLE_TIMEOUT: "the link was up and ended because it was idle",
    ExitCode.CONNECT_TIME: "the link was up and ended at the connect-time limit",
    ExitCode.CALLBACK: "callback negotiated; an incoming call should follow",
    ExitCode.PEER_DEAD: "the peer stopped answering LCP echo requests",
    ExitCode.HANGUP: "the modem hung up (carrier lost)",
    ExitCode.LOOPBACK: "negotiation failed because the line is looped back",
    ExitCode.INIT_FAILED: "the modem init script failed",
    ExitCode.AUTH_TOPEER_FAILED: "we failed to authenticate ourselves to the peer",
    ExitCode.TRAFFIC_LIMIT: "the link ended at its traffic limit",
    ExitCode.CNID_AUTH_FAILED: "the calling number is not authorised",
}


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters made visible."""
    out = []
    for ch in text:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append(" ")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


class WanctlError(Exception):
    """Base of every error that ends the program: a one-line message and an exit code.

    A subclass sets ``exit_code`` as a class attribute, or passes one when a
    single class covers several codes (a port that is missing or locked).
    """

    exit_code: ExitCode = ExitCode.FATAL_ERROR

    def __init__(self, *args: object, exit_code: ExitCode | None = None) -> None:
        super().__init__(*args)
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return one_line(super().__str__())
