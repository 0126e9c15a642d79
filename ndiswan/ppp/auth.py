"""What PAP and CHAP share: their outcome record and their outboxes.

Each authentication machine plays one role (authenticator or peer) for one
protocol.  Like the automaton it does no I/O: packets (after the protocol
field) accumulate in ``take_packets()``, log lines in ``take_events()``,
and the one verdict of an authentication in ``take_signals()``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from ndiswan.ppp.events import AuthRole, LogLevel, LogLine


@dataclass(frozen=True)
class AuthOutcome:
    protocol: str
    role: AuthRole
    success: bool
    #: Authenticator: the peer's name; peer: our name.
    name: str
    message: str = ""
    #: Authenticator, success: the address words of the secrets-file entry
    #: that matched; None when the secret did not come from a file.
    peer_addresses: tuple[str, ...] | None = None


class AuthMachine(abc.ABC):
    protocol_name = ""
    role = AuthRole.PEER

    def __init__(self) -> None:
        self._packets: list[bytes] = []
        self._events: list[LogLine] = []
        self._signals: list[AuthOutcome] = []
        self._deadline: float | None = None
        #: Received packets ignored: malformed, unexpected or stale.
        self.ignored = 0
        #: True once this role's authentication succeeded.
        self.succeeded = False

    @abc.abstractmethod
    def start(self, now: float) -> None:
        """The Authenticate phase began."""

    @abc.abstractmethod
    def receive(self, data: bytes, now: float) -> None:
        """One packet of this protocol (after the protocol field)."""

    @abc.abstractmethod
    def handle_timer(self, now: float) -> None: ...

    def take_packets(self) -> list[bytes]:
        out, self._packets = self._packets, []
        return out

    def take_events(self) -> list[LogLine]:
        out, self._events = self._events, []
        return out

    def take_signals(self) -> list[AuthOutcome]:
        out, self._signals = self._signals, []
        return out

    def get_timer(self) -> float | None:
        return self._deadline

    def stop(self) -> None:
        """The lower layer went down: forget everything, wait for nothing."""
        self._deadline = None

    def _log(self, level: LogLevel, text: str) -> None:
        self._events.append(LogLine(text, level))

    def _finish(
        self,
        success: bool,
        name: str,
        message: str = "",
        peer_addresses: tuple[str, ...] | None = None,
    ) -> None:
        self._deadline = None
        self.succeeded = success
        outcome = AuthOutcome(self.protocol_name, self.role, success, name, message, peer_addresses)
        self._signals.append(outcome)
