"""What PAP and CHAP share: their outcome record and their outboxes.

Each authentication machine plays one role (authenticator or peer) for one
protocol.  Like the automaton it does no I/O: packets (after the protocol
field, as ``Transmit``), log lines and the one verdict of an authentication
(``AuthOutcome``) come out of one ``drain()``, in order.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from ndiswan.ppp.events import AuthRole, LogLevel, LogLine
from wanminiport.sansio import Transmit


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


#: What ``AuthMachine.drain()`` gives.
AuthOutput = Transmit | LogLine | AuthOutcome


class AuthMachine(abc.ABC):
    protocol_name = ""
    role = AuthRole.PEER

    def __init__(self) -> None:
        self._outputs: list[AuthOutput] = []
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

    def drain(self) -> list[AuthOutput]:
        """Packets, log lines and the verdict since the last call, oldest first."""
        out, self._outputs = self._outputs, []
        return out

    def get_timer(self) -> float | None:
        return self._deadline

    def stop(self) -> None:
        """The lower layer went down: forget everything, wait for nothing."""
        self._deadline = None

    def _transmit(self, packet: bytes) -> None:
        self._outputs.append(Transmit(packet))

    def _log(self, level: LogLevel, text: str) -> None:
        self._outputs.append(LogLine(text, level))

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
        self._outputs.append(outcome)
